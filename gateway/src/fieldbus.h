/*
 * fieldbus: one Modbus link, a Modbus TCP endpoint or a Modbus RTU serial line, owned by
 * exactly one thread.
 *
 * This is the only module that calls libmodbus. libmodbus reports errors as -1 plus
 * errno, and Modbus exceptions as errno values above MODBUS_ENOBASE; both are converted
 * here, at the one call site, into a negative errno value and an exception code, so
 * nothing above this module ever reads errno. The transport (TCP or RTU) sits behind an
 * ops table chosen once in fieldbus_new(): callers never ask which one they have.
 *
 * Threading: a struct fieldbus and the libmodbus context inside it are not thread-safe.
 * Exactly one thread (the bus's poller) may call any function on a given struct
 * fieldbus, from fieldbus_new() to fieldbus_free(); the only exceptions are the pure
 * functions at the end of this header. The struct config_bus passed to fieldbus_new()
 * must outlive the link and must not change while it exists.
 *
 * Nothing here logs. Failures come back as negative errno values, and conditions worth
 * a log line that are not failures (a port without kernel RS-485 support) come back as
 * warning flags; the caller decides what to log and when.
 *
 * Every request is bounded in time: by the response timeout in force (the bus's, or a
 * per-device override from fieldbus_set_timeouts()), plus, on RTU, the inter-frame
 * silence the line owes before a request may start (see fieldbus_frame_gap_ns()). See
 * docs/fieldbus.md for the error classification and the RTU line discipline.
 */
#ifndef PG_FIELDBUS_H
#define PG_FIELDBUS_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"

#define FIELDBUS_MAX_READ      125 /* registers per read: Modbus Application Protocol §6.3 */
#define FIELDBUS_MAX_READ_BITS 2000 /* coils or discrete inputs per read: §6.1, §6.2 */

/* fieldbus_set_timeouts(): keep, or go back to, the bus's configured value. */
#define FIELDBUS_BUS_DEFAULT UINT32_MAX

/*
 * Warnings from the last fieldbus_connect(): the link works, but not quite as
 * configured. Each is worth one log line per connect, never a failure.
 */
#define FIELDBUS_WARN_RS485     (1u << 0) /* rs485 set: no kernel RS-485 on the port */
#define FIELDBUS_WARN_RTS_DELAY (1u << 1) /* RTS delays set: the driver refused them */

/* Per-link counters since fieldbus_new(), for a shutdown or status line. */
struct fieldbus_stats {
    uint64_t requests;    /* transactions attempted on an open link */
    uint64_t ok;          /* answered with data */
    uint64_t exceptions;  /* answered with a Modbus exception (-EREMOTEIO) */
    uint64_t timeouts;    /* -ETIMEDOUT */
    uint64_t crc_errors;  /* -EILSEQ */
    uint64_t bad_frames;  /* -EBADMSG */
    uint64_t wrong_unit;  /* -EPROTO */
    uint64_t link_errors; /* the link was closed */
    uint64_t stale_drops; /* RTU: input found on a line that should have been idle */
};

struct fieldbus;

/*
 * Create an unconnected link for a bus; bus->kind picks the transport. Nothing is
 * opened and nothing is validated yet: fieldbus_connect() reports a bad setting.
 * Returns NULL only when out of memory.
 */
struct fieldbus *fieldbus_new(const struct config_bus *bus);

/* Release a link, closing it first. fieldbus_free(NULL) does nothing. */
void fieldbus_free(struct fieldbus *fb);

/*
 * Open the link, closing it first if it was open. TCP connects within the bus's connect
 * timeout; RTU opens bus->device and sets baud, parity, data and stop bits, RS-485 mode
 * and RTS delays. Returns 0, possibly with fieldbus_warnings() set, or:
 *   TCP: -ECONNREFUSED, -ETIMEDOUT, -EHOSTUNREACH, -ENOENT (the name does not resolve),
 *        -EAGAIN (the resolver did not answer) or another negative errno;
 *   RTU: -ENOENT (no such device), -EACCES, -EBUSY (another process holds the port
 *        exclusively), -ENOTTY (not a terminal), -EINVAL (baud outside 1200..115200 or
 *        not a standard rate, data bits not 7 or 8, stop bits not 1 or 2, or the port
 *        refused or dropped a setting) or another negative errno. The port is claimed
 *        with TIOCEXCL while open.
 * Reconnecting, and backing off between attempts, is the caller's job.
 */
int fieldbus_connect(struct fieldbus *fb);

/* Close the link. The timeouts set with fieldbus_set_timeouts() are kept. */
void fieldbus_close(struct fieldbus *fb);

bool fieldbus_connected(const struct fieldbus *fb);

/* FIELDBUS_WARN_* flags from the last successful fieldbus_connect(), 0 if none. */
unsigned fieldbus_warnings(const struct fieldbus *fb);

/*
 * Read count values from one table of one unit into dest: 1..125 registers with FC 03
 * (CONFIG_TABLE_HOLDING) or FC 04 (CONFIG_TABLE_INPUT), or 1..2000 bits with FC 01
 * (CONFIG_TABLE_COIL) or FC 02 (CONFIG_TABLE_DISCRETE), each bit stored as a word of 0 or
 * 1. unit is sent as is: 1..247 on RTU (0 is broadcast, which cannot be read); 0..247 or
 * 255 on TCP, where several units may share one endpoint (libmodbus refuses 248..254).
 * On success returns 0 and fills dest[0..count). Otherwise dest is unspecified and the
 * return value is one of:
 *
 *   -ETIMEDOUT  no complete reply within the response timeout. On RTU a reply cut off
 *               mid-frame also ends here: framing is by length, and a frame that stops
 *               short looks like one still on its way.
 *   -EREMOTEIO  the unit answered with a Modbus exception; its code is in *exc
 *               (e.g. 2, illegal data address; 11, gateway target failed to respond).
 *   -EILSEQ     RTU: a frame arrived for this unit whose CRC is wrong (line noise,
 *               wrong baud or parity).
 *   -EBADMSG    a reply arrived but is malformed: wrong length, function code, byte
 *               count or exception frame, or (TCP) a transaction id that is not ours.
 *   -EPROTO     RTU: a frame arrived whose address byte is not the unit asked (another
 *               slave answering late, two slaves with one address, or noise).
 *   -EBUSY      RTU: the line never fell silent for a whole response timeout (another
 *               master, a jabbering slave); no request was sent.
 *   -EINVAL     bad arguments (count, table, unit); nothing was sent.
 *   -ENOTCONN   the link is not open.
 *   -EINTR      interrupted by a signal; the link stays open.
 *   any other negative errno (-ECONNRESET, -EPIPE, -EIO, -ENODEV, ...): the link is
 *               gone and has been closed; reconnect before the next read.
 *
 * Only the last group closes the link; fieldbus_connected() tells which case it was.
 * After a timeout or a bad frame, stale input is dropped before the next request so that
 * a late reply is never taken for the answer to a later one. *exc is 0 unless the
 * return is -EREMOTEIO.
 */
int fieldbus_read(struct fieldbus *fb, uint8_t unit, enum config_table table,
                  uint16_t addr, uint16_t count, uint16_t *dest, uint8_t *exc);

/*
 * Read count (1..2000) coils (FC 01, CONFIG_TABLE_COIL) or discrete inputs (FC 02,
 * CONFIG_TABLE_DISCRETE) into dest, one byte per bit, 0 or 1. Same units, return values
 * and link handling as fieldbus_read(); a register table is -EINVAL.
 */
int fieldbus_read_bits(struct fieldbus *fb, uint8_t unit, enum config_table table,
                       uint16_t addr, uint16_t count, uint8_t *dest, uint8_t *exc);

/*
 * Set the response and byte timeouts for the requests that follow, typically before
 * each device's requests so that one slow device gets a longer timeout without slowing
 * down the detection of a dead one elsewhere on the bus. response_ms is 1..60000, byte_ms
 * 0..60000 (0: the whole reply must arrive within the response timeout; n: after the
 * first byte, each next byte must follow within n ms); FIELDBUS_BUS_DEFAULT restores the
 * bus's value. The setting survives reconnects. Returns 0 or -EINVAL (nothing changed).
 */
int fieldbus_set_timeouts(struct fieldbus *fb, uint32_t response_ms, uint32_t byte_ms);

/*
 * CLOCK_MONOTONIC nanoseconds of the last time this link was known good: the last
 * transaction that got a well-formed reply (data or a Modbus exception: either proves the
 * path to the device works) or the last successful fieldbus_connect(), whichever is
 * later; 0 before the first connect. A link watchdog closes the link when
 * now - fieldbus_last_success_ns() exceeds bus->watchdog_ms, which catches a half-open
 * TCP connection (a cable pulled behind a switch) that would otherwise time out forever.
 */
int64_t fieldbus_last_success_ns(const struct fieldbus *fb);

/* Copy the link's counters into *out. */
void fieldbus_get_stats(const struct fieldbus *fb, struct fieldbus_stats *out);

/* ---- pure functions: no I/O, callable from any thread ------------------------------ */

/*
 * The silence an RTU line owes between two frames, t3.5, in nanoseconds: 3.5 character
 * times below or at 19200 baud, with a character of max(11, 1 + data + parity + stop)
 * bits; a fixed 1.75 ms above 19200 baud (Modbus over Serial Line V1.02 §2.5.1.1). 0 for
 * TCP or an invalid baud rate.
 */
int64_t fieldbus_frame_gap_ns(const struct config_bus *bus);

/*
 * A short English description of a return value of this module, for log lines:
 * "CRC error" rather than strerror(EILSEQ)'s "Invalid or incomplete multibyte or wide
 * character". Never NULL.
 */
const char *fieldbus_strerror(int rc);

/* The name of a Modbus exception code ("illegal data address"). Never NULL. */
const char *fieldbus_exception_text(uint8_t exc);

#endif
