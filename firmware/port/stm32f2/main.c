/*
 * The parkguard field node on the STM32F205: bring up the board, then serve Modbus RTU
 * and sample the sensor, forever, in one loop.
 *
 * Everything that touches the node's state runs in this loop: the UART interrupt only
 * queues stamped characters, and the timer interrupts only wake the loop. So the register
 * image, the framer and the sensor model need no locks, and a request is always answered
 * from a consistent image. The loop sleeps in WFI whenever there is nothing to do; every
 * interrupt wakes it, at least once a millisecond (SysTick) and once per character-timing
 * tick (TIM2).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "board.h"
#include "clock.h"
#include "mbrtu.h"
#include "node.h"
#include "stm32f2.h"
#include "tick.h"
#include "uart.h"

#ifndef PG_NODE_UNIT_ID
#define PG_NODE_UNIT_ID 1
#endif
#ifndef PG_NODE_BAUD
#define PG_NODE_BAUD 19200
#endif

#define SAMPLE_MS 100u
#define TICK_US   250u

static uint8_t node_address(void *ctx)
{
    return node_unit_id(ctx);
}

static void line_send(void *ctx, const uint8_t *frame, size_t len)
{
    (void)ctx;
    uart_write(frame, len);
}

int main(void)
{
    struct board_info board;
    struct node_config cfg;
    struct mbrtu_config rtu_cfg;
    struct node *node;
    struct mbrtu *rtu;
    uint32_t last_sample;

    board_init(&board);
    clock_init(board.hclk_hz);

    node_default_config(&cfg);
    cfg.unit_id = PG_NODE_UNIT_ID;
    cfg.warmup_s = board.warmup_s;
    node = node_new(&cfg, clock_ms());
    rtu_cfg.baud = PG_NODE_BAUD;
    rtu_cfg.slave = node != NULL ? node_slave(node) : NULL;
    rtu_cfg.address = node_address;
    rtu_cfg.send = line_send;
    rtu_cfg.send_ctx = NULL;
    rtu = mbrtu_new(&rtu_cfg, clock_us());
    /* Only a build whose configuration the core refuses lacks either; it resets over
     * and over, which the first bench test shows. */
    if (node == NULL || rtu == NULL)
        return 1;

    uart_init(board.pclk2_hz, PG_NODE_BAUD);
    tick_init(board.timclk_hz, TICK_US);
    irq_enable();

    last_sample = clock_ms();
    node_update(node, last_sample, board_sample(last_sample));
    board_watchdog_start();

    for (;;) {
        uint8_t byte;
        uint32_t at_us, now_ms;
        bool error;

        while (uart_read(&byte, &at_us, &error)) {
            if (error)
                mbrtu_rx_error(rtu, at_us);
            else
                mbrtu_rx_byte(rtu, byte, at_us);
        }
        mbrtu_tick(rtu, clock_us());

        now_ms = clock_ms();
        if (now_ms - last_sample >= SAMPLE_MS) {
            last_sample += SAMPLE_MS;
            /* After a long stall, resume from now rather than sampling to catch up. */
            if (now_ms - last_sample >= SAMPLE_MS)
                last_sample = now_ms;
            node_update(node, now_ms, board_sample(now_ms));
        }
        board_watchdog_kick();

        /* Sleep unless a character arrived since the check above: WFI wakes on an
         * interrupt that is pending even while interrupts are masked. */
        irq_disable();
        if (!uart_pending())
            wait_for_interrupt();
        irq_enable();
    }
}
