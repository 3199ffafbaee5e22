#include "board.h"

#include "scenario.h"
#include "sensor.h"

/* The scenario the emulated sensor follows; the build can replace it (PG_QEMU_SCENARIO).
 */
#ifndef PG_QEMU_SCENARIO
#define PG_QEMU_SCENARIO "steady,base=2"
#endif
#ifndef PG_QEMU_SEED
#define PG_QEMU_SEED 1
#endif
/* An emulated head is ready at once, so tests need not wait out a warm-up. */
#ifndef PG_QEMU_WARMUP_S
#define PG_QEMU_WARMUP_S 0
#endif

/* Full scale of the emulated head: it matches the node's default range, 100.0 units. */
#define QEMU_RANGE_X10 1000

static struct scenario scenario;

/*
 * QEMU 7.2's netduino2 runs the core at a fixed 120 MHz (SysTick included) with no clock
 * controller to program: its RCC reads as zero and ignores writes. The USART ignores
 * the baud rate, and TIM2 counts at a fixed 1 GHz.
 */
void board_init(struct board_info *info)
{
    info->hclk_hz = 120000000u;
    info->pclk2_hz = 60000000u;
    info->timclk_hz = 1000000000u;
    info->warmup_s = PG_QEMU_WARMUP_S;
    if (scenario_parse(&scenario, PG_QEMU_SCENARIO, PG_QEMU_SEED) < 0)
        (void)scenario_init(&scenario, "steady", PG_QEMU_SEED);
}

/* No GPIO model: the pty carries the bytes, there is no transceiver to switch. */
void board_rs485_drive(bool drive)
{
    (void)drive;
}

/*
 * QEMU's ADC never sets end-of-conversion and returns a sawtooth, so the sample comes
 * from the scenario, through the same counts the real front end would give.
 */
int32_t board_sample(uint32_t now_ms)
{
    return sensor_ua_to_counts(scenario_loop_ua(&scenario, now_ms, QEMU_RANGE_X10));
}

/* No watchdog model either. */
void board_watchdog_start(void)
{
}

void board_watchdog_kick(void)
{
}
