/*
 * startup: the vector table and the reset handler of the STM32F205.
 *
 * The reset handler copies .data from flash, clears .bss and calls main(). Every
 * exception without a handler of its own, and every fault, resets the MCU: a detector
 * that has lost track of its state must come back through a clean start (and its
 * warm-up), not keep answering from a corrupted one.
 */
#include <stdint.h>

#include "stm32f2.h"

extern uint32_t _estack, _sidata, _sdata, _edata, _sbss, _ebss;

int main(void);
void reset_handler(void);
void fault_handler(void);

void SysTick_Handler(void) __attribute__((weak, alias("fault_handler")));
void TIM2_IRQHandler(void) __attribute__((weak, alias("fault_handler")));
void USART1_IRQHandler(void) __attribute__((weak, alias("fault_handler")));

typedef void (*vector_fn)(void);

/*
 * 16 system exceptions and the STM32F20x's 81 interrupts (RM0033 Table 20). The empty
 * slots are interrupts the node never enables; should one fire anyway, the null vector
 * faults, and the fault resets.
 */
__attribute__((section(".isr_vector"), used)) static const vector_fn vectors[16 + 81] = {
    [0] = (vector_fn)(uintptr_t)&_estack,
    [1] = reset_handler,
    [2] = fault_handler,  /* NMI */
    [3] = fault_handler,  /* HardFault */
    [4] = fault_handler,  /* MemManage */
    [5] = fault_handler,  /* BusFault */
    [6] = fault_handler,  /* UsageFault */
    [11] = fault_handler, /* SVCall */
    [12] = fault_handler, /* DebugMonitor */
    [14] = fault_handler, /* PendSV */
    [15] = SysTick_Handler,
    [16 + IRQ_TIM2] = TIM2_IRQHandler,
    [16 + IRQ_USART1] = USART1_IRQHandler,
};

void fault_handler(void)
{
    SCB_AIRCR = SCB_AIRCR_RESET;
    for (;;)
        ;
}

void reset_handler(void)
{
    const uint32_t *src = &_sidata;

    for (uint32_t *dst = &_sdata; dst < &_edata;)
        *dst++ = *src++;
    for (uint32_t *dst = &_sbss; dst < &_ebss;)
        *dst++ = 0;
    (void)main();
    fault_handler();
}
