#include "clock.h"

#include "stm32f2.h"

static volatile uint32_t ticks_ms;
static uint32_t cycles_per_us, reload;

void SysTick_Handler(void);

void SysTick_Handler(void)
{
    ticks_ms++;
}

void clock_init(uint32_t hclk_hz)
{
    cycles_per_us = hclk_hz / 1000000u;
    reload = hclk_hz / 1000u - 1u;
    SYST_RVR = reload;
    SYST_CVR = 0;
    /* Highest priority: SysTick preempts the UART interrupt, so the millisecond count
     * is current whenever the UART handler stamps a character. */
    SCB_SHPR3 = (SCB_SHPR3 & 0x00FFFFFFu) | (0x00u << 24);
    SYST_CSR = SYST_CSR_ENABLE | SYST_CSR_TICKINT | SYST_CSR_CLKSRC;
}

uint32_t clock_us(void)
{
    uint32_t ms, val, pending;

    /* Read the count and the counter as one: retry if the interrupt ran in between. */
    do {
        ms = ticks_ms;
        val = SYST_CVR;
        pending = SCB_ICSR & SCB_ICSR_PENDSTSET;
    } while (ms != ticks_ms);
    /* The counter has wrapped but the interrupt is still pending (interrupts are
     * masked, or a handler of equal priority runs): that millisecond has passed. A
     * counter in its upper half was read after the wrap. */
    if (pending && val > reload / 2)
        ms++;
    return ms * 1000u + (reload - val) / cycles_per_us;
}

uint32_t clock_ms(void)
{
    return ticks_ms;
}
