/*
 * mbrtu: the Modbus RTU slave framer, as in the Modbus over Serial Line specification
 * V1.02, §2.5.1.1 (framing and character timing) and §2.4 (addressing).
 *
 * The port feeds it every received character with the time it was received, and calls
 * mbrtu_tick() often enough to notice the end of a frame; it needs no timer of its own.
 * The port owns the line: it passes a send function that puts a reply on the wire,
 * driving the RS-485 transceiver's DE/RE as it must.
 *
 * Timing, with t_c the time of one 11-bit character at the configured baud rate: silence
 * of more than t1.5 (1.5 t_c) inside a frame makes the frame incomplete, and it is
 * discarded; silence of t3.5 (3.5 t_c) ends a frame. Above 19200 baud the two are fixed
 * at 750 us and 1750 us. Times are the instants a character has been completely
 * received (the UART's receive interrupt), in microseconds, and may wrap around 2^32.
 *
 * A complete frame is checked for length (at least 4 bytes, at most 256), CRC and
 * address. Frames for another address are ignored; frames for this address are served
 * through mbpdu; frames for address 0 (broadcast) are served without a reply. Nothing a
 * frame contains can make the framer write outside its buffers or reply to a frame that
 * failed a check.
 *
 * No allocation: instances come from a static pool of PG_FW_MAX_NODES (1 unless the build
 * says otherwise), so that one host process can put many nodes on one simulated bus. Not
 * reentrant per instance: call rx_byte and tick from one context (the main loop).
 */
#ifndef PG_MBRTU_H
#define PG_MBRTU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mbpdu.h"

/* The largest RTU frame: address, a PDU of up to 253 bytes, and the CRC. */
#define MBRTU_MAX_FRAME 256

struct mbrtu;

struct mbrtu_config {
    uint32_t baud;                   /* sets t1.5 and t3.5; 1200..1000000 */
    const struct mbpdu_slave *slave; /* serves the PDUs; must outlive the framer */
    /* This slave's address (1..247), asked afresh for every frame so that a write to
     * the unit-id register takes effect with the next request. */
    uint8_t (*address)(void *slave_ctx);
    /* Put a complete frame (address, PDU, CRC) on the line. Called from inside
     * mbrtu_rx_byte() or mbrtu_tick(). */
    void (*send)(void *send_ctx, const uint8_t *frame, size_t len);
    void *send_ctx;
};

struct mbrtu_stats {
    uint32_t frames;      /* complete frames seen on the line, for any address */
    uint32_t crc_errors;  /* frames discarded for a bad CRC */
    uint32_t gap_errors;  /* frames discarded for a gap longer than t1.5 */
    uint32_t overruns;    /* frames discarded for being longer than 256 bytes */
    uint32_t runts;       /* frames discarded for being shorter than 4 bytes */
    uint32_t line_errors; /* frames discarded for a parity, framing or overrun error */
    uint32_t served;      /* frames for this address or broadcast, served */
    uint32_t replies;     /* replies sent (normal and exception) */
    uint32_t exceptions;  /* of which exception replies */
};

/* A framer from the static pool, started at now_us. It accepts no frame until t3.5 of
 * silence has passed (§2.5.1.1, "initial state"), so that switching on in the middle of
 * somebody else's frame cannot produce a reply. Returns NULL when cfg is invalid or the
 * pool is exhausted. */
struct mbrtu *mbrtu_new(const struct mbrtu_config *cfg, uint32_t now_us);

/* Return a framer to the pool. mbrtu_free(NULL) does nothing. */
void mbrtu_free(struct mbrtu *m);

/* One character, received completely at now_us. */
void mbrtu_rx_byte(struct mbrtu *m, uint8_t byte, uint32_t now_us);

/* A character received with a parity, framing or overrun error at now_us. It is line
 * activity like any other, and the frame it belongs to is discarded (§2.5.1.1). */
void mbrtu_rx_error(struct mbrtu *m, uint32_t now_us);

/* Let time pass: ends and serves a frame once t3.5 of silence has elapsed. */
void mbrtu_tick(struct mbrtu *m, uint32_t now_us);

/* Whether the framer is inside a frame (or the initial silence) and needs mbrtu_tick()
 * by *deadline_us at the latest. */
bool mbrtu_busy(const struct mbrtu *m, uint32_t *deadline_us);

/* t1.5 and t3.5 in microseconds for a baud rate (exposed for tests and ports). */
uint32_t mbrtu_t15_us(uint32_t baud);
uint32_t mbrtu_t35_us(uint32_t baud);

void mbrtu_get_stats(const struct mbrtu *m, struct mbrtu_stats *out);

#endif
