#include "fieldbus.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/serial.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <modbus/modbus.h>

#include "pgtime.h"

/* Used when a hand-built struct config_bus leaves a timeout at 0. */
#define FIELDBUS_DEFAULT_RESPONSE_MS 500u
#define FIELDBUS_DEFAULT_CONNECT_MS  2000u
#define FIELDBUS_MAX_TIMEOUT_MS      60000u

/* Highest unicast address on a serial line; 248..255 are reserved (Serial Line §2.2). */
#define RTU_MAX_UNIT 247
/* Every FC 01..04 request is 8 bytes on the wire: address, function, 2 x 2, CRC. */
#define RTU_READ_REQ_BYTES 8
/* Above this rate t3.5 stops scaling with the baud rate (Serial Line §2.5.1.1). */
#define RTU_FIXED_GAP_BAUD 19200u
#define RTU_FIXED_GAP_NS   INT64_C(1750000)

/* One read request, whatever its function code. */
struct fieldbus_req {
    int fc; /* MODBUS_FC_READ_COILS .. MODBUS_FC_READ_INPUT_REGISTERS */
    uint8_t unit;
    uint16_t addr;
    uint16_t count;
    uint16_t *regs; /* FC 03, 04 */
    uint8_t *bits;  /* FC 01, 02 */
};

/*
 * A transport. open() creates and opens the libmodbus context and configures the port or
 * socket; transact() runs one request and returns 0 or a classified negative errno, after
 * doing whatever the medium needs around it (line silence, stale input); close() closes
 * and frees the context. The core above never asks which transport it has.
 */
struct fieldbus_ops {
    int (*open)(struct fieldbus *fb);
    int (*transact)(struct fieldbus *fb, const struct fieldbus_req *req, uint8_t *exc);
    void (*close)(struct fieldbus *fb);
};

struct fieldbus {
    const struct config_bus *bus;
    const struct fieldbus_ops *ops;
    modbus_t *ctx;
    bool connected;
    unsigned warnings;

    /* Per-device overrides, or FIELDBUS_BUS_DEFAULT. */
    uint32_t response_ms;
    uint32_t byte_ms;

    int64_t last_success_ns;
    int64_t hold_until_ns; /* after a timeout: no request before this */
    struct fieldbus_stats stats;

    /* RTU line discipline, all CLOCK_MONOTONIC nanoseconds. */
    int64_t gap_ns;       /* t3.5 */
    int64_t char_ns;      /* one character on the wire */
    int64_t wire_idle_ns; /* when the last frame on the wire ended */
};

static const struct fieldbus_ops fieldbus_tcp_ops;
static const struct fieldbus_ops fieldbus_rtu_ops;

/* ---- time and timeouts ------------------------------------------------------------- */

static void sleep_until(int64_t deadline_ns)
{
    struct timespec ts = pgtime_ns_to_ts(deadline_ns);

    /* Absolute deadlines on CLOCK_MONOTONIC: an interrupted sleep resumes to the same
     * instant instead of drifting by the time already slept. */
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
        continue;
}

static uint32_t response_ms(const struct fieldbus *fb)
{
    if (fb->response_ms != FIELDBUS_BUS_DEFAULT)
        return fb->response_ms;
    return fb->bus->response_timeout_ms != 0 ? fb->bus->response_timeout_ms
                                             : FIELDBUS_DEFAULT_RESPONSE_MS;
}

static uint32_t byte_ms(const struct fieldbus *fb)
{
    return fb->byte_ms != FIELDBUS_BUS_DEFAULT ? fb->byte_ms : fb->bus->byte_timeout_ms;
}

static void set_ms(int (*setter)(modbus_t *, uint32_t, uint32_t), modbus_t *ctx,
                   uint32_t ms)
{
    (void)setter(ctx, ms / 1000, (ms % 1000) * 1000);
}

static void apply_timeouts(struct fieldbus *fb)
{
    set_ms(modbus_set_response_timeout, fb->ctx, response_ms(fb));
    /*
     * A zero byte timeout makes the response timeout cover the whole reply, so a device
     * that trickles bytes cannot hold the bus for longer than one response timeout.
     */
    set_ms(modbus_set_byte_timeout, fb->ctx, byte_ms(fb));
}

/* ---- the libmodbus call site and its error conversion ------------------------------ */

/* Errors after which the link is still open but bytes of a bad reply may be in flight. */
static bool needs_resync(int rc)
{
    return rc == -ETIMEDOUT || rc == -EILSEQ || rc == -EBADMSG || rc == -EPROTO ||
           rc == -EINTR;
}

/*
 * libmodbus's errno, after a failed call, into this module's negative errno and
 * exception code. Codes that name a classification here (EILSEQ, EBADMSG, ...) but came
 * from the operating system instead become -EIO, so that a caller can tell "a bad frame
 * on a working link" from "the link failed" by the value alone.
 */
static int classify(int err, uint8_t *exc)
{
    if (err > MODBUS_ENOBASE && err < MODBUS_ENOBASE + MODBUS_EXCEPTION_MAX) {
        *exc = (uint8_t)(err - MODBUS_ENOBASE);
        return -EREMOTEIO;
    }
    switch (err) {
    case ETIMEDOUT:
        return -ETIMEDOUT;
    case EMBBADCRC:
        return -EILSEQ;
    case EMBBADSLAVE:
        return -EPROTO;
    case EMBBADDATA:
    case EMBBADEXC:
    case EMBUNKEXC:
    case EMBMDATA:
        return -EBADMSG;
    case EINTR:
        return -EINTR;
    case EINVAL:
        return -EINVAL;
    case 0:
    case EILSEQ:
    case EBADMSG:
    case EPROTO:
    case EREMOTEIO:
    case EBUSY:
        return -EIO;
    default:
        /* A libmodbus code newer than this file is still a protocol-level failure. */
        return err >= MODBUS_ENOBASE ? -EBADMSG : -err;
    }
}

/* Run one request through libmodbus. This is the only place that reads its errno. */
static int mb_transact(struct fieldbus *fb, const struct fieldbus_req *req, uint8_t *exc)
{
    int n;

    if (modbus_set_slave(fb->ctx, req->unit) == -1)
        return -EINVAL;
    errno = 0;
    switch (req->fc) {
    case MODBUS_FC_READ_COILS:
        n = modbus_read_bits(fb->ctx, req->addr, req->count, req->bits);
        break;
    case MODBUS_FC_READ_DISCRETE_INPUTS:
        n = modbus_read_input_bits(fb->ctx, req->addr, req->count, req->bits);
        break;
    case MODBUS_FC_READ_HOLDING_REGISTERS:
        n = modbus_read_registers(fb->ctx, req->addr, req->count, req->regs);
        break;
    case MODBUS_FC_READ_INPUT_REGISTERS:
        n = modbus_read_input_registers(fb->ctx, req->addr, req->count, req->regs);
        break;
    default:
        return -EINVAL;
    }
    if (n == (int)req->count)
        return 0;
    /* libmodbus checks the count against the request; a mismatch is a bad frame. */
    return classify(n == -1 ? errno : EMBMDATA, exc);
}

/*
 * After a timeout, hold the link for a quarter of a response timeout (at least t3.5 on
 * RTU) before the next request. A slave that misses the timeout usually misses it by a
 * little, its turnaround straddling the timeout; its reply would then land in the middle
 * of the next transaction and be taken for that answer (RTU) or fail it on the
 * transaction id (TCP), or collide with the next request on a half-duplex line. During
 * the hold a straggler arrives and is dropped before the next request goes out. That
 * costs a quarter of what libmodbus's own LINK recovery costs (a whole timeout), and only
 * when another request is already waiting.
 */
static void hold_for_late_reply(struct fieldbus *fb, int64_t now)
{
    int64_t hold = (int64_t)response_ms(fb) * PGTIME_NS_PER_MS / 4;

    fb->hold_until_ns = now + (hold > fb->gap_ns ? hold : fb->gap_ns);
}

static void mb_close(struct fieldbus *fb)
{
    if (fb->ctx == NULL)
        return;
    modbus_close(fb->ctx);
    modbus_free(fb->ctx);
    fb->ctx = NULL;
}

/*
 * libmodbus opens its descriptors close-on-exec where the platform has the flag; check,
 * so that a child process (a helper the daemon might ever spawn) cannot inherit a bus.
 */
static int ensure_cloexec(modbus_t *ctx)
{
    int fd = modbus_get_socket(ctx);
    int flags = fd >= 0 ? fcntl(fd, F_GETFD) : -1;

    if (flags == -1)
        return -EBADF;
    if ((flags & FD_CLOEXEC) == 0 && fcntl(fd, F_SETFD, flags | FD_CLOEXEC) == -1)
        return -errno;
    return 0;
}

/* ---- Modbus TCP -------------------------------------------------------------------- */

static int gai_to_errno(int gai)
{
    switch (gai) {
    case EAI_AGAIN:
        return -EAGAIN; /* the resolver is unreachable: try again later */
    case EAI_MEMORY:
        return -ENOMEM;
    case EAI_SYSTEM:
        return errno != 0 ? -errno : -EIO;
    case EAI_NONAME:
    case EAI_NODATA:
    case EAI_ADDRFAMILY:
    case EAI_FAIL:
        return -ENOENT;
    default:
        return -EINVAL;
    }
}

/* Connect to one numeric address. */
static int tcp_try(struct fieldbus *fb, const char *numeric, const char *service)
{
    fb->ctx = modbus_new_tcp_pi(numeric, service);
    if (fb->ctx == NULL)
        return errno != 0 ? -errno : -ENOMEM;
    /* libmodbus bounds its non-blocking connect with the response timeout. */
    set_ms(modbus_set_response_timeout, fb->ctx,
           fb->bus->connect_timeout_ms != 0 ? fb->bus->connect_timeout_ms
                                            : FIELDBUS_DEFAULT_CONNECT_MS);
    if (modbus_connect(fb->ctx) == -1)
        return errno != 0 ? -errno : -ECONNREFUSED;
    apply_timeouts(fb);
    return ensure_cloexec(fb->ctx);
}

/*
 * Resolve here rather than in libmodbus: 3.1.6 reports a name that does not resolve as
 * ECONNREFUSED, and an operator who mistyped a host name should read "unknown host", not
 * "refused". Each address is then tried in resolver order, as libmodbus itself would,
 * each within the connect timeout; the last address's error is returned.
 */
static int tcp_open(struct fieldbus *fb)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_NUMERICSERV | AI_ADDRCONFIG};
    struct addrinfo *res = NULL;
    char service[8], numeric[NI_MAXHOST];
    int rc;

    (void)snprintf(service, sizeof(service), "%u", (unsigned)fb->bus->port);
    errno = 0;
    rc = getaddrinfo(fb->bus->host, service, &hints, &res);
    if (rc != 0)
        return gai_to_errno(rc);
    rc = -ENOENT;
    for (const struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
        if (getnameinfo(ai->ai_addr, ai->ai_addrlen, numeric, sizeof(numeric), NULL, 0,
                        NI_NUMERICHOST) != 0)
            continue;
        rc = tcp_try(fb, numeric, service);
        if (rc == 0)
            break;
        mb_close(fb);
    }
    freeaddrinfo(res);
    return rc;
}

/* Drop whatever is waiting on the socket; returns true if there was anything. */
static bool tcp_drop_input(struct fieldbus *fb)
{
    return modbus_flush(fb->ctx) > 0;
}

static int tcp_transact(struct fieldbus *fb, const struct fieldbus_req *req, uint8_t *exc)
{
    int rc;

    if (fb->hold_until_ns != 0) {
        sleep_until(fb->hold_until_ns);
        fb->hold_until_ns = 0;
    }
    /*
     * A reply that arrives after its request timed out would otherwise be read as the
     * answer to this one and fail it on the transaction id. Dropping it costs one
     * non-blocking recv().
     */
    if (tcp_drop_input(fb))
        fb->stats.stale_drops++;
    rc = mb_transact(fb, req, exc);
    if (rc == -ETIMEDOUT)
        hold_for_late_reply(fb, pgtime_mono_ns());
    if (needs_resync(rc))
        (void)tcp_drop_input(fb);
    return rc;
}

static const struct fieldbus_ops fieldbus_tcp_ops = {
    .open = tcp_open,
    .transact = tcp_transact,
    .close = mb_close,
};

/* ---- Modbus RTU -------------------------------------------------------------------- */

static const struct {
    uint32_t baud;
    speed_t speed;
} rtu_speeds[] = {
    {1200, B1200},   {2400, B2400},   {4800, B4800},   {9600, B9600},
    {19200, B19200}, {38400, B38400}, {57600, B57600}, {115200, B115200},
};

static bool rtu_speed(uint32_t baud, speed_t *speed)
{
    for (size_t i = 0; i < sizeof(rtu_speeds) / sizeof(rtu_speeds[0]); i++) {
        if (rtu_speeds[i].baud == baud) {
            *speed = rtu_speeds[i].speed;
            return true;
        }
    }
    return false;
}

/*
 * Bits per character on the wire. The spec's RTU character is 11 bits (start, 8 data,
 * parity or a second stop, stop); a port set up with fewer still gets 11, because the
 * silence is owed to the slowest device on the line, and one set up with more (8E2) gets
 * what it really sends.
 */
static int64_t rtu_char_bits(const struct config_bus *bus)
{
    int64_t bits = 1 + (int64_t)bus->data_bits + (bus->parity != CONFIG_PARITY_NONE) +
                   (int64_t)bus->stop_bits;

    return bits < 11 ? 11 : bits;
}

/* The termios framing bits the bus asks for. */
static tcflag_t rtu_cflag(const struct config_bus *bus)
{
    tcflag_t f = bus->data_bits == 7 ? CS7 : CS8;

    if (bus->parity != CONFIG_PARITY_NONE)
        f |= PARENB;
    if (bus->parity == CONFIG_PARITY_ODD)
        f |= PARODD;
    if (bus->stop_bits == 2)
        f |= CSTOPB;
    return f;
}

/* Which of them to compare: PARODD means nothing, and may linger, without PARENB. */
static tcflag_t rtu_cflag_mask(const struct config_bus *bus)
{
    return CSIZE | PARENB | CSTOPB | (bus->parity != CONFIG_PARITY_NONE ? PARODD : 0);
}

static int64_t rtu_char_ns(const struct config_bus *bus)
{
    return (rtu_char_bits(bus) * PGTIME_NS_PER_S + bus->baud - 1) / bus->baud;
}

/*
 * Kernel RS-485 mode: the UART driver raises RTS (driver enable) for exactly the time it
 * transmits, plus the configured lead and hold times. libmodbus's alternative, toggling
 * RTS from user space around write() with usleep(), overshoots by a varying 0.1 ms and
 * has missed fast replies (libmodbus issues #606, #367), so it is not used; that is also
 * why modbus_rtu_set_rts_delay() is not called: it only times that user-space toggling.
 * A port without the mode (a pty, most USB adapters, which switch direction in hardware)
 * keeps working as a plain serial port and says so in fieldbus_warnings().
 */
static void rtu_set_rs485(struct fieldbus *fb)
{
    const struct config_bus *bus = fb->bus;
    int fd = modbus_get_socket(fb->ctx);
    bool want_delays = bus->rts_delay_before_us != 0 || bus->rts_delay_after_us != 0;
    struct serial_rs485 rs;
    uint32_t before_ms, after_ms;

    if (modbus_rtu_set_serial_mode(fb->ctx, MODBUS_RTU_RS485) == -1) {
        fb->warnings |= FIELDBUS_WARN_RS485 | (want_delays ? FIELDBUS_WARN_RTS_DELAY : 0);
        return;
    }
    /* The kernel counts these delays in whole milliseconds: round up, never cut short. */
    before_ms = (bus->rts_delay_before_us + 999) / 1000;
    after_ms = (bus->rts_delay_after_us + 999) / 1000;
    memset(&rs, 0, sizeof(rs));
    if (ioctl(fd, TIOCGRS485, &rs) == -1)
        goto no_delays;
    rs.flags |= SER_RS485_ENABLED | SER_RS485_RTS_ON_SEND;
    rs.flags &= ~(uint32_t)SER_RS485_RTS_AFTER_SEND;
    rs.delay_rts_before_send = before_ms;
    rs.delay_rts_after_send = after_ms;
    if (ioctl(fd, TIOCSRS485, &rs) == -1)
        goto no_delays;
    /* Drivers clamp the delays to what they support; read back what was taken. */
    if (ioctl(fd, TIOCGRS485, &rs) == -1 || rs.delay_rts_before_send < before_ms ||
        rs.delay_rts_after_send < after_ms)
        goto no_delays;
    return;

no_delays:
    if (want_delays)
        fb->warnings |= FIELDBUS_WARN_RTS_DELAY;
}

static int rtu_open(struct fieldbus *fb)
{
    const struct config_bus *bus = fb->bus;
    char parity = bus->parity == CONFIG_PARITY_EVEN  ? 'E'
                  : bus->parity == CONFIG_PARITY_ODD ? 'O'
                                                     : 'N';
    struct termios tio;
    speed_t speed;
    int fd, rc;

    if (!rtu_speed(bus->baud, &speed) || (bus->data_bits != 7 && bus->data_bits != 8) ||
        (bus->stop_bits != 1 && bus->stop_bits != 2) || bus->device[0] == '\0')
        return -EINVAL;
    fb->ctx = modbus_new_rtu(bus->device, (int)bus->baud, parity, bus->data_bits,
                             bus->stop_bits);
    if (fb->ctx == NULL)
        return errno != 0 ? -errno : -ENOMEM;
    if (modbus_connect(fb->ctx) == -1)
        return errno != 0 ? -errno : -EIO;
    fd = modbus_get_socket(fb->ctx);
    rc = ensure_cloexec(fb->ctx);
    if (rc < 0)
        return rc;
    /*
     * Two masters on one line garble each other's frames. Claim the port, so that a
     * second instance or a technician's mbpoll gets EBUSY instead (root excepted).
     */
    if (ioctl(fd, TIOCEXCL) == -1)
        return -errno;
    /*
     * libmodbus quietly falls back to 9600 baud for a rate it does not know, and a
     * driver may drop a setting it cannot do while taking the rest; a port with the wrong
     * framing only ever yields CRC errors, so make sure every setting took.
     */
    if (tcgetattr(fd, &tio) == -1)
        return -errno;
    if (cfgetospeed(&tio) != speed || cfgetispeed(&tio) != speed ||
        (tio.c_cflag & rtu_cflag_mask(bus)) != rtu_cflag(bus))
        return -EINVAL;
    if (bus->rs485)
        rtu_set_rs485(fb);
    apply_timeouts(fb);

    fb->gap_ns = fieldbus_frame_gap_ns(bus);
    fb->char_ns = rtu_char_ns(bus);
    /*
     * Whatever was on the line before we opened it (another master's traffic, a slave
     * still answering one) is not ours: drop it and owe the line a full t3.5 from now.
     */
    (void)tcflush(fd, TCIFLUSH);
    fb->wire_idle_ns = pgtime_mono_ns();
    return 0;
}

static void rtu_close(struct fieldbus *fb)
{
    /*
     * Give up the claim explicitly: the kernel drops it only when the last descriptor of
     * the tty closes, which is not this one when something else holds it open.
     */
    if (fb->ctx != NULL && modbus_get_socket(fb->ctx) >= 0)
        (void)ioctl(modbus_get_socket(fb->ctx), TIOCNXCL);
    mb_close(fb);
}

/* Drop unread input; returns 1 if there was some, 0 if none, or a negative errno. */
static int rtu_drop_input(struct fieldbus *fb)
{
    int fd = modbus_get_socket(fb->ctx);
    int pending = 0;
    uint8_t no_exc;

    if (ioctl(fd, FIONREAD, &pending) == -1)
        return classify(errno, &no_exc);
    if (pending == 0)
        return 0;
    /* Input only: TCIOFLUSH would also cut off a request still leaving a slow UART. */
    (void)tcflush(fd, TCIFLUSH);
    return 1;
}

/*
 * Wait until the line may carry a request: t3.5 of silence since the last frame ended,
 * and past the late-reply hold after a timeout. Anything that arrived meanwhile is stale
 * (a late reply, the tail of a bad frame, noise): it is dropped and the line owes a new
 * t3.5 from the moment it was seen. Gives up with -EBUSY when the line has not been
 * silent for a whole response timeout.
 */
static int rtu_quiesce(struct fieldbus *fb)
{
    int64_t give_up = pgtime_mono_ns() + (int64_t)response_ms(fb) * PGTIME_NS_PER_MS;

    for (;;) {
        int64_t due = fb->wire_idle_ns + fb->gap_ns;
        int rc;

        if (fb->hold_until_ns > due)
            due = fb->hold_until_ns;
        sleep_until(due);
        rc = rtu_drop_input(fb);
        if (rc <= 0) {
            if (rc == 0)
                fb->hold_until_ns = 0;
            return rc;
        }
        fb->stats.stale_drops++;
        fb->hold_until_ns = 0;
        fb->wire_idle_ns = pgtime_mono_ns();
        if (fb->wire_idle_ns >= give_up)
            return -EBUSY;
    }
}

static int rtu_transact(struct fieldbus *fb, const struct fieldbus_req *req, uint8_t *exc)
{
    int64_t start, now, sent;
    int rc;

    if (req->unit == 0 || req->unit > RTU_MAX_UNIT)
        return -EINVAL;
    rc = rtu_quiesce(fb);
    if (rc < 0)
        return rc;
    start = pgtime_mono_ns();
    rc = mb_transact(fb, req, exc);
    now = pgtime_mono_ns();
    /*
     * The last frame on the wire ended when libmodbus returned: with the reply's last
     * byte, which also proves the request had left. After a timeout nothing proves that:
     * write() returns once the bytes are queued, and at 1200 baud an 8-byte request is
     * on the wire for 73 ms, longer than the shortest response timeout. So the request's
     * own end is the floor then.
     */
    fb->wire_idle_ns = now;
    if (rc == -ETIMEDOUT) {
        sent = start + RTU_READ_REQ_BYTES * fb->char_ns;
        if (sent > now)
            fb->wire_idle_ns = sent;
        hold_for_late_reply(fb, now);
    }
    if (needs_resync(rc) && rtu_drop_input(fb) > 0)
        fb->wire_idle_ns = pgtime_mono_ns();
    return rc;
}

static const struct fieldbus_ops fieldbus_rtu_ops = {
    .open = rtu_open,
    .transact = rtu_transact,
    .close = rtu_close,
};

/* ---- public API -------------------------------------------------------------------- */

struct fieldbus *fieldbus_new(const struct config_bus *bus)
{
    struct fieldbus *fb = calloc(1, sizeof(*fb));

    if (fb == NULL)
        return NULL;
    fb->bus = bus;
    fb->ops = bus->kind == CONFIG_BUS_RTU ? &fieldbus_rtu_ops : &fieldbus_tcp_ops;
    fb->response_ms = FIELDBUS_BUS_DEFAULT;
    fb->byte_ms = FIELDBUS_BUS_DEFAULT;
    return fb;
}

void fieldbus_close(struct fieldbus *fb)
{
    fb->ops->close(fb);
    fb->connected = false;
}

void fieldbus_free(struct fieldbus *fb)
{
    if (fb == NULL)
        return;
    fieldbus_close(fb);
    free(fb);
}

bool fieldbus_connected(const struct fieldbus *fb)
{
    return fb->connected;
}

unsigned fieldbus_warnings(const struct fieldbus *fb)
{
    return fb->warnings;
}

int fieldbus_connect(struct fieldbus *fb)
{
    int rc;

    fieldbus_close(fb);
    fb->warnings = 0;
    fb->hold_until_ns = 0;
    rc = fb->ops->open(fb);
    if (rc < 0) {
        fb->ops->close(fb);
        fb->warnings = 0;
        return rc;
    }
    fb->connected = true;
    fb->last_success_ns = pgtime_mono_ns();
    return 0;
}

/* Count the outcome, note a sign of life, and close the link if it is gone. */
static int finish(struct fieldbus *fb, int rc)
{
    struct fieldbus_stats *st = &fb->stats;

    switch (rc) {
    case 0:
        st->ok++;
        fb->last_success_ns = pgtime_mono_ns();
        break;
    case -EREMOTEIO:
        st->exceptions++;
        fb->last_success_ns = pgtime_mono_ns();
        break;
    case -ETIMEDOUT:
        st->timeouts++;
        break;
    case -EILSEQ:
        st->crc_errors++;
        break;
    case -EBADMSG:
        st->bad_frames++;
        break;
    case -EPROTO:
        st->wrong_unit++;
        break;
    case -EINVAL:
    case -EBUSY:
    case -EINTR:
        break;
    default:
        st->link_errors++;
        fieldbus_close(fb);
        break;
    }
    return rc;
}

static int run(struct fieldbus *fb, const struct fieldbus_req *req, uint8_t *exc)
{
    *exc = 0;
    if (!fb->connected)
        return -ENOTCONN;
    fb->stats.requests++;
    return finish(fb, fb->ops->transact(fb, req, exc));
}

static int bit_fc(enum config_table table)
{
    switch (table) {
    case CONFIG_TABLE_COIL:
        return MODBUS_FC_READ_COILS;
    case CONFIG_TABLE_DISCRETE:
        return MODBUS_FC_READ_DISCRETE_INPUTS;
    default:
        return -1;
    }
}

int fieldbus_read_bits(struct fieldbus *fb, uint8_t unit, enum config_table table,
                       uint16_t addr, uint16_t count, uint8_t *dest, uint8_t *exc)
{
    struct fieldbus_req req = {
        .fc = bit_fc(table), .unit = unit, .addr = addr, .count = count, .bits = dest};

    *exc = 0;
    if (req.fc < 0 || count == 0 || count > FIELDBUS_MAX_READ_BITS)
        return -EINVAL;
    return run(fb, &req, exc);
}

int fieldbus_read(struct fieldbus *fb, uint8_t unit, enum config_table table,
                  uint16_t addr, uint16_t count, uint16_t *dest, uint8_t *exc)
{
    struct fieldbus_req req = {.unit = unit, .addr = addr, .count = count, .regs = dest};
    uint8_t bits[FIELDBUS_MAX_READ_BITS];
    int rc;

    *exc = 0;
    switch (table) {
    case CONFIG_TABLE_HOLDING:
        req.fc = MODBUS_FC_READ_HOLDING_REGISTERS;
        break;
    case CONFIG_TABLE_INPUT:
        req.fc = MODBUS_FC_READ_INPUT_REGISTERS;
        break;
    default:
        /* Bits travel packed; the poller wants one word per value, like a register. */
        rc = fieldbus_read_bits(fb, unit, table, addr, count, bits, exc);
        for (uint16_t i = 0; rc == 0 && i < count; i++)
            dest[i] = bits[i];
        return rc;
    }
    if (count == 0 || count > FIELDBUS_MAX_READ)
        return -EINVAL;
    return run(fb, &req, exc);
}

int fieldbus_set_timeouts(struct fieldbus *fb, uint32_t response_ms, uint32_t byte_ms)
{
    if (response_ms != FIELDBUS_BUS_DEFAULT &&
        (response_ms == 0 || response_ms > FIELDBUS_MAX_TIMEOUT_MS))
        return -EINVAL;
    if (byte_ms != FIELDBUS_BUS_DEFAULT && byte_ms > FIELDBUS_MAX_TIMEOUT_MS)
        return -EINVAL;
    fb->response_ms = response_ms;
    fb->byte_ms = byte_ms;
    if (fb->ctx != NULL)
        apply_timeouts(fb);
    return 0;
}

int64_t fieldbus_last_success_ns(const struct fieldbus *fb)
{
    return fb->last_success_ns;
}

void fieldbus_get_stats(const struct fieldbus *fb, struct fieldbus_stats *out)
{
    *out = fb->stats;
}

/* ---- pure functions ---------------------------------------------------------------- */

int64_t fieldbus_frame_gap_ns(const struct config_bus *bus)
{
    speed_t speed;

    if (bus->kind != CONFIG_BUS_RTU || !rtu_speed(bus->baud, &speed))
        return 0;
    if (bus->baud > RTU_FIXED_GAP_BAUD)
        return RTU_FIXED_GAP_NS;
    /* 3.5 characters = 7/2 x bits / baud seconds, rounded up to the next nanosecond. */
    return (7 * rtu_char_bits(bus) * PGTIME_NS_PER_S + 2 * (int64_t)bus->baud - 1) /
           (2 * (int64_t)bus->baud);
}

const char *fieldbus_strerror(int rc)
{
    const char *text;

    switch (rc) {
    case 0:
        return "success";
    case -ETIMEDOUT:
        return "no reply within the response timeout";
    case -EREMOTEIO:
        return "Modbus exception";
    case -EILSEQ:
        return "CRC error";
    case -EBADMSG:
        return "malformed reply";
    case -EPROTO:
        return "reply from another unit id";
    case -EBUSY:
        return "busy: the line never fell silent, or the port is in use";
    case -ENOTCONN:
        return "link not open";
    case -EINVAL:
        return "invalid argument or setting";
    default:
        break;
    }
    /* strerrordesc_np(), unlike strerror(), is thread-safe and never allocates. */
    text = rc < 0 ? strerrordesc_np(-rc) : NULL;
    return text != NULL ? text : "unknown error";
}

const char *fieldbus_exception_text(uint8_t exc)
{
    static const char *const names[] = {
        [MODBUS_EXCEPTION_ILLEGAL_FUNCTION] = "illegal function",
        [MODBUS_EXCEPTION_ILLEGAL_DATA_ADDRESS] = "illegal data address",
        [MODBUS_EXCEPTION_ILLEGAL_DATA_VALUE] = "illegal data value",
        [MODBUS_EXCEPTION_SLAVE_OR_SERVER_FAILURE] = "server device failure",
        [MODBUS_EXCEPTION_ACKNOWLEDGE] = "acknowledge",
        [MODBUS_EXCEPTION_SLAVE_OR_SERVER_BUSY] = "server device busy",
        [MODBUS_EXCEPTION_NEGATIVE_ACKNOWLEDGE] = "negative acknowledge",
        [MODBUS_EXCEPTION_MEMORY_PARITY] = "memory parity error",
        [MODBUS_EXCEPTION_GATEWAY_PATH] = "gateway path unavailable",
        [MODBUS_EXCEPTION_GATEWAY_TARGET] = "gateway target device failed to respond",
    };

    if (exc < sizeof(names) / sizeof(names[0]) && names[exc] != NULL)
        return names[exc];
    return "unknown exception";
}
