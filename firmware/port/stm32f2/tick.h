/*
 * tick: the character-timing tick, from TIM2.
 *
 * The framer ends a frame after t3.5 of silence, which nothing on the line announces: the
 * main loop must look at the clock again while the line is quiet. TIM2 interrupts every
 * period_us to wake the main loop from its wait-for-interrupt, so a frame's end is seen
 * within one period (250 us against a t3.5 of 1.75 ms and more). The handler only clears
 * the flag; the waking is the point.
 *
 * The prescaler stays 0 and the period is counted in timer-clock cycles (TIM2 is 32 bits
 * wide), because QEMU's TIM2 model mistimes its update event with any other prescaler.
 */
#ifndef PG_TICK_H
#define PG_TICK_H

#include <stdint.h>

/* Start TIM2 from its input clock (timclk_hz) with an update interrupt every period_us.
 */
void tick_init(uint32_t timclk_hz, uint32_t period_us);

#endif
