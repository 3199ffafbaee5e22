/*
 * fx: fixtures for the fieldbus tests. Real serial lines and real peers, no mocks.
 *
 *  - fx_pty: a pseudo-terminal pair. The gateway opens the slave side by its path, as it
 *    would /dev/ttyS1, and libmodbus sets real termios on it; the fixture holds the
 *    master side, so real RTU frames flow between the two.
 *  - fx_slave: a Modbus slave in a thread of the test, RTU on a pty master or TCP on a
 *    loopback port, written from the spec rather than with libmodbus so that it can
 *    misbehave byte by byte: per unit id it answers normally, late, never, with an
 *    exception, a bad CRC, a cut-off or short frame, another function code, another unit
 *    id, noise, or (TCP) by hanging up. It timestamps frames on its side of the line.
 *  - fx_proc: child processes (socat, pymodbus) started with posix_spawn, awaited by
 *    their own readiness line on a pipe, never by a fixed sleep, and killed by pid.
 */
#ifndef FX_H
#define FX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* ---- pty pair ---------------------------------------------------------------------- */

struct fx_pty {
    int master;     /* the fixture's end */
    int slave;      /* held open so the line never hangs up while the gateway reopens */
    char path[128]; /* the gateway's end, e.g. /dev/pts/3 */
};

/* Open a raw pty pair, both ends close-on-exec. Returns 0 or a negative errno. */
int fx_pty_open(struct fx_pty *p);
void fx_pty_close(struct fx_pty *p);

/* ---- fixture slave ----------------------------------------------------------------- */

enum fx_mode {
    FX_NORMAL,       /* the unit's values (see fx_reg_value(), fx_bit_value()) */
    FX_SILENT,       /* no answer at all */
    FX_LATE,         /* FX_LATE_MARK values, after fx_slave_set_late_ms() */
    FX_SLOW,         /* the unit's values, after fx_slave_set_late_ms() */
    FX_EXCEPTION,    /* exception 02, illegal data address */
    FX_BAD_CRC,      /* RTU: a correct reply with one CRC byte flipped */
    FX_BAD_TID,      /* TCP: a correct reply under another transaction id */
    FX_TRUNCATE,     /* the first half of a correct reply, then silence */
    FX_SHORT,        /* a well-formed reply (good CRC) carrying one value too few */
    FX_BAD_FUNCTION, /* a well-formed reply under another read function code */
    FX_WRONG_UNIT,   /* a well-formed reply (good CRC) from unit + 1 */
    FX_GARBAGE,      /* FX_GARBAGE_LEN bytes of noise instead of a reply */
    FX_HANGUP,       /* TCP: close the connection instead of answering */
};

#define FX_LATE_MARK   0xDEADu
#define FX_GARBAGE_LEN 11
#define FX_BAD_ADDR    1000 /* addresses from here on get exception 02 in FX_NORMAL */

struct fx_slave;

/* Serve Modbus RTU on fd (a pty master, not taken over). NULL on failure. */
struct fx_slave *fx_slave_rtu(int fd);

/* Serve Modbus TCP on 127.0.0.1, an ephemeral port stored in *port. NULL on failure. */
struct fx_slave *fx_slave_tcp(uint16_t *port);

/* Stop the thread, close the TCP sockets, free. fx_slave_stop(NULL) does nothing. */
void fx_slave_stop(struct fx_slave *fx);

/* Mode of one unit id; all start in FX_NORMAL. Takes effect at the next request. */
void fx_slave_set_mode(struct fx_slave *fx, uint8_t unit, enum fx_mode mode);
void fx_slave_set_late_ms(struct fx_slave *fx, uint32_t ms);

/* Requests received (with a good CRC on RTU), and replies of any kind written. */
uint64_t fx_slave_requests(struct fx_slave *fx);
uint64_t fx_slave_replies(struct fx_slave *fx);

/*
 * Line gaps seen by the slave: for each request that followed one of its replies, the
 * time from just before that reply was written to the moment the request's first byte
 * was readable, in ns. Since the reply's timestamp is taken before it is written and the
 * request's after it arrived, each gap is at least what the master left on its side.
 * Copies up to max gaps into out and returns how many there are; fx_slave_clear_gaps()
 * forgets them (a request right after it still measures from the reply before it).
 */
size_t fx_slave_gaps(struct fx_slave *fx, int64_t *out, size_t max);
void fx_slave_clear_gaps(struct fx_slave *fx);

/* What FX_NORMAL answers: fc 3 or 4 registers, fc 1 or 2 bits. */
uint16_t fx_reg_value(uint8_t unit, int fc, uint16_t addr);
uint8_t fx_bit_value(uint8_t unit, int fc, uint16_t addr);

/* Modbus RTU CRC-16 (poly 0xA001, init 0xFFFF), low byte first on the wire. */
uint16_t fx_crc16(const uint8_t *p, size_t len);

/* ---- child processes --------------------------------------------------------------- */

struct fx_proc {
    pid_t pid; /* 0 when not running */
    int out;   /* read end of the child's stdout or stderr */
    char buf[4096];
    size_t len;
};

/*
 * Start argv[0] (a full path) with its stdout (fd 1) or stderr (fd 2) on a pipe we read.
 * Returns 0 or a negative errno.
 */
int fx_proc_start(struct fx_proc *p, char *const argv[], int fd);

/*
 * Wait up to timeout_ms for a line of the child's output containing needle; copy it
 * into line. Returns 0, -ETIMEDOUT, or -EPIPE if the child closed its output first.
 */
int fx_proc_wait_line(struct fx_proc *p, const char *needle, char *line, size_t len,
                      int timeout_ms);

/* Send sig, reap the child, close the pipe. Safe on a stopped or never-started proc. */
void fx_proc_kill(struct fx_proc *p, int sig);

/* Monotonic now, in ns. */
int64_t fx_now_ns(void);

#endif
