/*
 * sensor: the analog model of the node's gas sensor, in fixed point.
 *
 * The sensing head drives a 4-20 mA current through a 120 ohm shunt into a 12-bit ADC
 * with a 3.3 V reference (about 6.7 uA per count; 20 mA is 2.4 V, leaving headroom up to
 * 27.5 mA). The node reads counts, converts them to loop current in microamps, classifies
 * the current by the NAMUR NE 43 bands and scales the valid band to a concentration in
 * thousandths of the engineering unit ("milli"): 4 mA is zero, 20 mA is full scale.
 *
 * NE 43: 3.8..20.5 mA carries measurement information; <= 3.6 mA or >= 21.0 mA is a
 * failure. This model reports 3.6..3.8 mA as under-range and 20.0..21.0 mA as over-range
 * (beyond full scale, still a measurement, so it still raises the local alarms).
 *
 * Pure integer arithmetic: no state, no floating point, safe on the frame path.
 */
#ifndef PG_SENSOR_H
#define PG_SENSOR_H

#include <stdbool.h>
#include <stdint.h>

#define SENSOR_ADC_MAX 4095

/* The NE 43 thresholds, in microamps. */
#define SENSOR_UA_FAULT_LOW  3600
#define SENSOR_UA_UNDER      3800
#define SENSOR_UA_ZERO       4000
#define SENSOR_UA_FULL       20000
#define SENSOR_UA_FAULT_HIGH 21000

enum sensor_band {
    SENSOR_FAULT_LOW,  /* <= 3.6 mA */
    SENSOR_UNDER,      /* 3.6 .. 3.8 mA */
    SENSOR_VALID,      /* 3.8 .. 20.0 mA */
    SENSOR_OVER,       /* 20.0 .. 21.0 mA */
    SENSOR_FAULT_HIGH, /* >= 21.0 mA */
};

/* Loop current in microamps for ADC counts (0..4095), rounded to nearest. */
int32_t sensor_counts_to_ua(uint16_t counts);

/* The ADC counts a loop current produces, clamped to 0..4095 (for simulated front ends
 * and tests). */
uint16_t sensor_ua_to_counts(int32_t ua);

enum sensor_band sensor_band_of(int32_t ua);

/* Concentration in milli-units for a loop current, on a range whose full scale is
 * range_x10 / 10 units (range_x10 >= 1). Below 4 mA the result is 0, never negative. */
int32_t sensor_ua_to_milli(int32_t ua, uint16_t range_x10);

/* The loop current that represents a concentration (the inverse of the above). */
int32_t sensor_milli_to_ua(int32_t milli, uint16_t range_x10);

/* A high alarm with hysteresis: it activates at value >= setpoint and clears below
 * setpoint - deadband. */
bool sensor_alarm(bool active, int32_t value, int32_t setpoint, int32_t deadband);

#endif
