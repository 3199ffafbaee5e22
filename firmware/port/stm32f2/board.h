/*
 * board: what differs between the boards the node image runs on.
 *
 * Two implementations share this header, and each image links exactly one:
 * - board_f205.c: the parkguard node board, an STM32F205 with a 25 MHz crystal, the
 *   RS-485 transceiver's DE/RE on PA8, the loop-current shunt on PA0 (ADC1 channel 0)
 *   and the independent watchdog.
 * - board_qemu.c: QEMU's netduino2 machine (an emulated STM32F205), which models the
 *   core, SysTick, USART1 and TIM2, but no clock controller, GPIO, watchdog or usable
 *   ADC. It reports the clocks QEMU fixes, and takes its "loop current" from the
 *   scenario generator the host simulator uses. docs/firmware.md lists what is emulated.
 * Everything else (drivers, framer, node model) is the same object code in both images.
 */
#ifndef PG_BOARD_H
#define PG_BOARD_H

#include <stdbool.h>
#include <stdint.h>

struct board_info {
    uint32_t hclk_hz;   /* core and SysTick */
    uint32_t pclk2_hz;  /* USART1, ADC1 */
    uint32_t timclk_hz; /* TIM2 input */
    uint16_t warmup_s;  /* how long the sensing head needs after power-up */
};

/* Bring up the clock tree and the pins; report the resulting clocks and the sensor's
 * warm-up time. */
void board_init(struct board_info *info);

/* Drive the RS-485 line (true) or listen (false). */
void board_rs485_drive(bool drive);

/* One sample of the loop-current input at now_ms: ADC counts 0..4095, or a negative
 * errno value when the front end failed. */
int32_t board_sample(uint32_t now_ms);

/* Start the watchdog (it cannot be stopped again), and feed it. */
void board_watchdog_start(void);
void board_watchdog_kick(void);

#endif
