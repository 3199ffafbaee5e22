#include "adc.h"

#include <errno.h>

#include "stm32f2.h"

/* A conversion at ADCCLK 15 MHz with 480 cycles of sampling takes about 33 us; this bound
 * is several times that at 120 MHz, and finite on any clock. */
#define ADC_WAIT_LOOPS 20000u

void adc_init(void)
{
    RCC_APB2ENR |= RCC_APB2_ADC1;
    ADC_CCR = (ADC_CCR & ~(3u << 16)) | (1u << 16); /* ADCPRE: PCLK2 / 4 */
    ADC1_CR1 = 0;                                   /* 12-bit resolution */
    ADC1_SMPR2 = 7u;                                /* channel 0: 480 cycles */
    ADC1_SQR1 = 0;                                  /* one conversion in the sequence */
    ADC1_SQR3 = 0;                                  /* ... of channel 0 */
    ADC1_CR2 = ADC_CR2_ADON;
}

int32_t adc_read(void)
{
    ADC1_SR = 0;
    ADC1_CR2 = ADC_CR2_ADON | ADC_CR2_SWSTART;
    for (uint32_t i = 0; i < ADC_WAIT_LOOPS; i++) {
        if (ADC1_SR & ADC_SR_EOC)
            return (int32_t)(ADC1_DR & 0xFFFu);
    }
    return -ETIMEDOUT;
}
