#include "sensor.h"

/*
 * counts * 3.3 V / 4095 / 120 ohm = counts * 5500 / 819 uA, exactly: 3300000 / (4095 *
 * 120) reduces to 5500 / 819. counts * 5500 stays below 2^25.
 */
int32_t sensor_counts_to_ua(uint16_t counts)
{
    uint32_t c = counts > SENSOR_ADC_MAX ? SENSOR_ADC_MAX : counts;

    return (int32_t)((c * 5500u + 819u / 2) / 819u);
}

uint16_t sensor_ua_to_counts(int32_t ua)
{
    int32_t counts;

    if (ua <= 0)
        return 0;
    if (ua > 30000)
        return SENSOR_ADC_MAX;
    counts = (ua * 819 + 5500 / 2) / 5500;
    return (uint16_t)(counts > SENSOR_ADC_MAX ? SENSOR_ADC_MAX : counts);
}

enum sensor_band sensor_band_of(int32_t ua)
{
    if (ua <= SENSOR_UA_FAULT_LOW)
        return SENSOR_FAULT_LOW;
    if (ua < SENSOR_UA_UNDER)
        return SENSOR_UNDER;
    if (ua <= SENSOR_UA_FULL)
        return SENSOR_VALID;
    if (ua < SENSOR_UA_FAULT_HIGH)
        return SENSOR_OVER;
    return SENSOR_FAULT_HIGH;
}

/* milli = (ua - 4000) / 16000 * range_x10 * 100 = (ua - 4000) * range_x10 / 160. */
int32_t sensor_ua_to_milli(int32_t ua, uint16_t range_x10)
{
    int64_t span = (int64_t)ua - SENSOR_UA_ZERO;

    if (span <= 0 || range_x10 == 0)
        return 0;
    return (int32_t)((span * range_x10 + 80) / 160);
}

int32_t sensor_milli_to_ua(int32_t milli, uint16_t range_x10)
{
    int64_t ua;

    if (range_x10 == 0)
        return SENSOR_UA_ZERO;
    ua = SENSOR_UA_ZERO + ((int64_t)milli * 160 + range_x10 / 2) / range_x10;
    if (ua > INT32_MAX)
        return INT32_MAX;
    if (ua < 0)
        return 0;
    return (int32_t)ua;
}

bool sensor_alarm(bool active, int32_t value, int32_t setpoint, int32_t deadband)
{
    if (active)
        return value >= setpoint - deadband;
    return value >= setpoint;
}
