#include "tick.h"

#include "stm32f2.h"

void TIM2_IRQHandler(void);

void TIM2_IRQHandler(void)
{
    TIM2_SR = ~TIM_SR_UIF;
}

void tick_init(uint32_t timclk_hz, uint32_t period_us)
{
    RCC_APB1ENR |= RCC_APB1_TIM2;
    TIM2_CR1 = 0;
    TIM2_PSC = 0;
    TIM2_ARR = (timclk_hz / 1000000u) * period_us - 1u;
    TIM2_CNT = 0;
    TIM2_EGR = TIM_EGR_UG;
    TIM2_SR = 0;
    TIM2_DIER = TIM_DIER_UIE;
    nvic_enable(IRQ_TIM2, 0x80);
    TIM2_CR1 = TIM_CR1_CEN;
}
