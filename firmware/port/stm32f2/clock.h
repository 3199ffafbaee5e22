/*
 * clock: the node's time base, from the Cortex-M3 SysTick.
 *
 * SysTick interrupts once a millisecond; between interrupts its down-counter gives the
 * microseconds. The character timing of the Modbus framer needs microseconds that never
 * run backwards, also when read from the UART's interrupt, so clock_us() accounts for a
 * SysTick wrap whose interrupt has not run yet. SysTick is part of the core, so it
 * behaves the same on the STM32F205 and under QEMU.
 */
#ifndef PG_CLOCK_H
#define PG_CLOCK_H

#include <stdint.h>

/* Start SysTick from the core clock (HCLK, a multiple of 1 MHz). */
void clock_init(uint32_t hclk_hz);

/* Microseconds since clock_init(), wrapping at 2^32 (about 71 minutes). Callable from
 * interrupts. */
uint32_t clock_us(void);

/* Milliseconds since clock_init(), wrapping at 2^32 (about 49 days). */
uint32_t clock_ms(void);

#endif
