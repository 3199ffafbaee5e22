/*
 * adc: one 12-bit conversion of the loop-current input on ADC1 channel 0 (pin PA0).
 *
 * Software-started single conversions with the longest sample time: the input is a slow
 * 4-20 mA signal across a shunt, and a long sample time tolerates the source impedance
 * of the input filter. A conversion that does not finish within a bounded wait is a
 * failure of the analog front end, reported as such rather than waited for.
 */
#ifndef PG_ADC_H
#define PG_ADC_H

#include <stdint.h>

/* Power up ADC1 (ADCCLK = PCLK2 / 4). PA0 must already be an analog input. */
void adc_init(void);

/* One conversion: counts 0..4095, or -ETIMEDOUT when it never finished. */
int32_t adc_read(void);

#endif
