#include "uart.h"

#include "board.h"
#include "clock.h"
#include "stm32f2.h"

/* Characters in flight between the interrupt and the main loop: two full frames, so a
 * main loop busy with one reply never loses the next request. */
#define RX_RING 512

struct rx_char {
    uint32_t at_us;
    uint8_t byte;
    uint8_t error;
};

static struct rx_char ring[RX_RING];
static volatile uint32_t head, tail; /* head: written by the interrupt only */
static volatile uint8_t lost;

void USART1_IRQHandler(void);

void USART1_IRQHandler(void)
{
    uint32_t sr = USART1_SR;
    uint32_t now, h;
    uint8_t byte;

    if (!(sr & (USART_SR_RXNE | USART_SR_ORE)))
        return;
    now = clock_us();
    /* Reading DR after SR clears RXNE and the error flags (RM0033 §24.6.1). With
     * parity the ninth bit is the parity bit, so the data is the low byte. */
    byte = (uint8_t)(USART1_DR & 0xFFu);
    h = head;
    if (h - tail == RX_RING) {
        lost = 1;
        return;
    }
    ring[h % RX_RING].at_us = now;
    ring[h % RX_RING].byte = byte;
    ring[h % RX_RING].error =
        (sr & (USART_SR_PE | USART_SR_FE | USART_SR_NF | USART_SR_ORE)) != 0 || lost;
    lost = 0;
    head = h + 1;
}

void uart_init(uint32_t pclk2_hz, uint32_t baud)
{
    RCC_APB2ENR |= RCC_APB2_USART1;
    USART1_CR1 = 0;
    /* Oversampling by 16: BRR is pclk / baud in 12.4 fixed point, rounded. */
    USART1_BRR = (pclk2_hz + baud / 2u) / baud;
    USART1_CR2 = 0;
    USART1_CR3 = 0;
    /* M = 9 bits including parity, PCE with PS = 0: even parity. */
    USART1_CR1 = USART_CR1_UE | USART_CR1_M | USART_CR1_PCE | USART_CR1_TE |
                 USART_CR1_RE | USART_CR1_RXNEIE;
    board_rs485_drive(false);
    nvic_enable(IRQ_USART1, 0x40);
}

bool uart_read(uint8_t *byte, uint32_t *at_us, bool *error)
{
    uint32_t t = tail;
    const struct rx_char *c;

    if (t == head)
        return false;
    c = &ring[t % RX_RING];
    *byte = c->byte;
    *at_us = c->at_us;
    *error = c->error != 0;
    tail = t + 1;
    return true;
}

bool uart_pending(void)
{
    return head != tail;
}

void uart_write(const uint8_t *p, size_t len)
{
    board_rs485_drive(true);
    for (size_t i = 0; i < len; i++) {
        while (!(USART1_SR & USART_SR_TXE))
            ;
        USART1_DR = p[i];
        /* A full frame takes 2.4 s at 1200 baud, longer than the watchdog waits. */
        board_watchdog_kick();
    }
    while (!(USART1_SR & USART_SR_TC))
        ;
    board_rs485_drive(false);
}
