/*
 * uart: USART1 as the node's RS-485 port (8 data bits, even parity, 1 stop bit: the
 * Modbus serial default of 11 bits per character).
 *
 * Receiving is interrupt-driven: the handler stamps each character with clock_us() the
 * moment it is complete and queues it, with its parity, framing and overrun errors, for
 * the main loop, which owns the framer. Sending is a blocking loop in the main loop:
 * the node is a slave on a half-duplex line, so while it answers there is nothing else
 * to do. The transceiver's driver (DE, and /RE tied to it) is switched on before the
 * first character and off only once the last stop bit has left the shift register
 * (TC), never after TXE alone, which would cut the last character short.
 */
#ifndef PG_UART_H
#define PG_UART_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Configure USART1 on pins PA9/PA10 for baud from its bus clock pclk2_hz. */
void uart_init(uint32_t pclk2_hz, uint32_t baud);

/* Take the oldest received character. Returns false when none is waiting. *error is set
 * for a character received with a parity, framing or overrun error, or when characters
 * were lost because the main loop fell behind. */
bool uart_read(uint8_t *byte, uint32_t *at_us, bool *error);

/* Whether a character is waiting (call with interrupts masked before sleeping). */
bool uart_pending(void);

/* Send len bytes, driving the RS-485 transceiver around them and feeding the watchdog
 * as it goes. */
void uart_write(const uint8_t *p, size_t len);

#endif
