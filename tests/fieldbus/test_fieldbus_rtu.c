/*
 * fieldbus over Modbus RTU, on a real tty: the gateway opens the slave side of a pty by
 * its path and libmodbus sets real termios on it, while the fixture slave (fx.c) answers
 * on the master side with frames built byte by byte. Every misbehaviour of the slave must
 * come back classified, and the next request to a healthy unit on the same line must
 * work. The inter-frame silence t3.5 is measured on the fixture's side of the line: a pty
 * imposes no baud-rate timing, so the gap it sees is exactly what fieldbus enforced.
 *
 * The line runs 8N2: 11-bit characters as the spec wants, and the only framing a Linux
 * pty accepts on kernels that refuse PARENB on ptys with EINVAL.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "fieldbus.h"
#include "fx.h"

/* Short timeouts keep the suite fast; every fault that times out costs one of these. */
#define RESPONSE_MS 100
#define NS_PER_MS   INT64_C(1000000)
#define LATE_R_MS   400 /* the response timeout for the late-reply tests */

struct rig {
    struct fx_pty pty;
    struct fx_slave *fx;
    struct config_bus bus;
    struct fieldbus *fb;
};

static void bus_rtu(struct config_bus *b, const char *path, uint32_t baud)
{
    memset(b, 0, sizeof(*b));
    (void)snprintf(b->id, sizeof(b->id), "rtu-test");
    b->kind = CONFIG_BUS_RTU;
    (void)snprintf(b->device, sizeof(b->device), "%s", path);
    b->baud = baud;
    b->parity = CONFIG_PARITY_NONE;
    b->data_bits = 8;
    b->stop_bits = 2;
    b->response_timeout_ms = RESPONSE_MS;
    b->byte_timeout_ms = 0;
    b->connect_timeout_ms = 1000;
    b->watchdog_ms = 0;
}

static int rig_up(void **state, uint32_t baud)
{
    struct rig *r = calloc(1, sizeof(*r));

    if (r == NULL || fx_pty_open(&r->pty) != 0)
        return -1;
    r->fx = fx_slave_rtu(r->pty.master);
    bus_rtu(&r->bus, r->pty.path, baud);
    r->fb = fieldbus_new(&r->bus);
    if (r->fx == NULL || r->fb == NULL || fieldbus_connect(r->fb) != 0)
        return -1;
    *state = r;
    return 0;
}

static int setup_115200(void **state)
{
    return rig_up(state, 115200);
}

static int setup_19200(void **state)
{
    return rig_up(state, 19200);
}

static int setup_9600(void **state)
{
    return rig_up(state, 9600);
}

static int setup_1200(void **state)
{
    return rig_up(state, 1200);
}

static int teardown(void **state)
{
    struct rig *r = *state;

    if (r == NULL)
        return 0;
    fieldbus_free(r->fb);
    fx_slave_stop(r->fx);
    fx_pty_close(&r->pty);
    free(r);
    return 0;
}

static void expect_unit_regs(struct rig *r, uint8_t unit, uint16_t addr, uint16_t count)
{
    uint16_t regs[FIELDBUS_MAX_READ];
    uint8_t exc = 0xEE;

    memset(regs, 0, sizeof(regs));
    assert_int_equal(
        fieldbus_read(r->fb, unit, CONFIG_TABLE_HOLDING, addr, count, regs, &exc), 0);
    assert_int_equal(exc, 0);
    for (uint16_t i = 0; i < count; i++)
        assert_int_equal(regs[i], fx_reg_value(unit, 3, (uint16_t)(addr + i)));
}

static int64_t ms_since(int64_t t0)
{
    return (fx_now_ns() - t0) / NS_PER_MS;
}

/*
 * Wait (bounded, polling) until bytes are waiting in the tty's input queue, which the
 * fixture's own descriptor of the gateway's end shares: the condition the gateway's
 * stale-input check will see, not just the fixture's intent to write.
 */
static void wait_line_input(struct rig *r)
{
    int64_t t0 = fx_now_ns();
    struct timespec ts = {.tv_nsec = 1000000};
    int pending = 0;

    while (ioctl(r->pty.slave, FIONREAD, &pending) == 0 && pending == 0 &&
           ms_since(t0) < 2000)
        (void)nanosleep(&ts, NULL);
    assert_true(pending > 0);
}

/* ---- reading ----------------------------------------------------------------------- */

static void rtu_reads_all_four_tables(void **state)
{
    struct rig *r = *state;
    uint16_t regs[FIELDBUS_MAX_READ];
    uint8_t bits[64], exc;
    int64_t before = fieldbus_last_success_ns(r->fb);

    assert_true(fieldbus_connected(r->fb));
    assert_int_equal(fieldbus_warnings(r->fb), 0);
    expect_unit_regs(r, 1, 0, 10);
    assert_true(fieldbus_last_success_ns(r->fb) > before);
    /* The largest read the protocol allows. */
    expect_unit_regs(r, 7, 200, FIELDBUS_MAX_READ);

    assert_int_equal(fieldbus_read(r->fb, 1, CONFIG_TABLE_INPUT, 5, 4, regs, &exc), 0);
    for (uint16_t i = 0; i < 4; i++)
        assert_int_equal(regs[i], fx_reg_value(1, 4, (uint16_t)(5 + i)));

    assert_int_equal(fieldbus_read_bits(r->fb, 2, CONFIG_TABLE_COIL, 3, 37, bits, &exc),
                     0);
    for (uint16_t i = 0; i < 37; i++)
        assert_int_equal(bits[i], fx_bit_value(2, 1, (uint16_t)(3 + i)));
    assert_int_equal(
        fieldbus_read_bits(r->fb, 2, CONFIG_TABLE_DISCRETE, 0, 9, bits, &exc), 0);
    for (uint16_t i = 0; i < 9; i++)
        assert_int_equal(bits[i], fx_bit_value(2, 2, i));

    /* Bit tables through fieldbus_read(): a word of 0 or 1 per bit, as the poller wants.
     */
    assert_int_equal(fieldbus_read(r->fb, 3, CONFIG_TABLE_COIL, 10, 12, regs, &exc), 0);
    for (uint16_t i = 0; i < 12; i++)
        assert_int_equal(regs[i], fx_bit_value(3, 1, (uint16_t)(10 + i)));
    assert_int_equal(fieldbus_read(r->fb, 3, CONFIG_TABLE_DISCRETE, 1, 5, regs, &exc), 0);
    for (uint16_t i = 0; i < 5; i++)
        assert_int_equal(regs[i], fx_bit_value(3, 2, (uint16_t)(1 + i)));
}

static void rtu_rejects_bad_arguments_without_io(void **state)
{
    struct rig *r = *state;
    uint16_t regs[FIELDBUS_MAX_READ];
    uint8_t bits[8], exc = 0xEE;
    uint64_t seen = fx_slave_requests(r->fx);

    assert_int_equal(fieldbus_read(r->fb, 1, CONFIG_TABLE_HOLDING, 0, 0, regs, &exc),
                     -EINVAL);
    assert_int_equal(exc, 0);
    assert_int_equal(fieldbus_read(r->fb, 1, CONFIG_TABLE_HOLDING, 0, 126, regs, &exc),
                     -EINVAL);
    assert_int_equal(fieldbus_read(r->fb, 1, (enum config_table)99, 0, 1, regs, &exc),
                     -EINVAL);
    assert_int_equal(fieldbus_read_bits(r->fb, 1, CONFIG_TABLE_HOLDING, 0, 1, bits, &exc),
                     -EINVAL);
    assert_int_equal(fieldbus_read_bits(r->fb, 1, CONFIG_TABLE_COIL, 0, 2001, bits, &exc),
                     -EINVAL);
    /* Broadcast cannot be read, and 248..255 are reserved on a serial line. */
    assert_int_equal(fieldbus_read(r->fb, 0, CONFIG_TABLE_HOLDING, 0, 1, regs, &exc),
                     -EINVAL);
    assert_int_equal(fieldbus_read(r->fb, 248, CONFIG_TABLE_HOLDING, 0, 1, regs, &exc),
                     -EINVAL);
    assert_true(fieldbus_connected(r->fb));
    assert_int_equal(fx_slave_requests(r->fx), seen);

    fieldbus_close(r->fb);
    assert_false(fieldbus_connected(r->fb));
    assert_int_equal(fieldbus_read(r->fb, 1, CONFIG_TABLE_HOLDING, 0, 1, regs, &exc),
                     -ENOTCONN);
    fieldbus_close(r->fb); /* twice is fine */
    assert_int_equal(fieldbus_connect(r->fb), 0);
    expect_unit_regs(r, 1, 0, 2);
}

/* ---- every misbehaviour, classified, then a healthy unit on the same line ---------- */

struct fault_case {
    enum fx_mode mode;
    int rc;
    const char *what;
};

static void rtu_classifies_every_fault(void **state)
{
    static const struct fault_case cases[] = {
        {FX_EXCEPTION, -EREMOTEIO, "exception 02"},
        {FX_BAD_CRC, -EILSEQ, "bad CRC"},
        {FX_TRUNCATE, -ETIMEDOUT, "frame cut off mid-way"},
        {FX_SHORT, -EBADMSG, "one register short, good CRC"},
        {FX_BAD_FUNCTION, -EBADMSG, "FC 04 reply to FC 03"},
        {FX_WRONG_UNIT, -EPROTO, "reply from unit 3 to unit 2"},
        {FX_GARBAGE, -EPROTO, "noise (address byte 0x55)"},
        {FX_SILENT, -ETIMEDOUT, "no reply"},
    };
    struct rig *r = *state;
    struct fieldbus_stats st;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint16_t regs[8];
        uint8_t exc = 0xEE;
        int64_t t0 = fx_now_ns();
        int rc;

        fx_slave_set_mode(r->fx, 2, cases[i].mode);
        rc = fieldbus_read(r->fb, 2, CONFIG_TABLE_HOLDING, 0, 4, regs, &exc);
        print_message("%-32s -> %-12s %s (%lld ms)\n", cases[i].what,
                      rc == 0 ? "0" : fieldbus_strerror(rc), rc == -EREMOTEIO ? "" : "",
                      (long long)ms_since(t0));
        assert_int_equal(rc, cases[i].rc);
        assert_int_equal(exc, cases[i].rc == -EREMOTEIO ? 2 : 0);
        assert_true(fieldbus_connected(r->fb));
        /* Nothing takes longer than the response timeout plus the late-reply hold. */
        /* Bounded by the timeout; wide, because a loaded host delays wake-ups. */
        assert_true(ms_since(t0) < 10 * RESPONSE_MS);

        fx_slave_set_mode(r->fx, 2, FX_NORMAL);
        expect_unit_regs(r, 1, 0, 4);
        expect_unit_regs(r, 2, 0, 4);
    }
    /* An exception for a real reason, in normal mode. */
    {
        uint16_t regs[4];
        uint8_t exc = 0;

        assert_int_equal(
            fieldbus_read(r->fb, 1, CONFIG_TABLE_HOLDING, FX_BAD_ADDR - 1, 2, regs, &exc),
            -EREMOTEIO);
        assert_int_equal(exc, 2);
    }
    fieldbus_get_stats(r->fb, &st);
    assert_int_equal(st.exceptions, 2);
    assert_int_equal(st.crc_errors, 1);
    assert_int_equal(st.timeouts, 2);
    assert_int_equal(st.bad_frames, 2);
    assert_int_equal(st.wrong_unit, 2);
    assert_int_equal(st.link_errors, 0);
}

/*
 * A slave that answers after the master gave up: its reply must never be taken for the
 * answer to a later request, whether that goes to another unit or to the same one.
 */
static void rtu_late_reply_is_dropped(void **state)
{
    struct rig *r = *state;
    uint16_t regs[4];
    uint8_t exc;
    struct fieldbus_stats st;

    /*
     * The reply must land after the timeout and within the hold that follows it,
     * (R, 1.25 R); a 400 ms timeout leaves 50 ms of scheduling slack on either side.
     */
    assert_int_equal(fieldbus_set_timeouts(r->fb, LATE_R_MS, FIELDBUS_BUS_DEFAULT), 0);
    fx_slave_set_late_ms(r->fx, LATE_R_MS + LATE_R_MS / 8);

    fx_slave_set_mode(r->fx, 2, FX_LATE);
    assert_int_equal(fieldbus_read(r->fb, 2, CONFIG_TABLE_HOLDING, 0, 4, regs, &exc),
                     -ETIMEDOUT);
    expect_unit_regs(r, 1, 0, 4); /* another unit, at once */

    assert_int_equal(fieldbus_read(r->fb, 2, CONFIG_TABLE_HOLDING, 0, 4, regs, &exc),
                     -ETIMEDOUT);
    fx_slave_set_mode(r->fx, 2, FX_NORMAL);
    expect_unit_regs(r, 2, 0, 4); /* the same unit: fresh values, not FX_LATE_MARK */

    fieldbus_get_stats(r->fb, &st);
    assert_int_equal(st.stale_drops, 2);
    assert_int_equal(st.timeouts, 2);
}

/* Bytes that turn up on an idle line (noise, another master) are not taken as a reply. */
static void rtu_stale_input_before_a_request_is_dropped(void **state)
{
    static const uint8_t noise[] = {0x01, 0x03, 0x04, 0x00, 0x2A, 0x00, 0x2B, 0x99, 0x99};
    struct rig *r = *state;
    struct fieldbus_stats st;

    expect_unit_regs(r, 1, 0, 2);
    assert_int_equal(write(r->pty.master, noise, sizeof(noise)), (ssize_t)sizeof(noise));
    expect_unit_regs(r, 1, 0, 2);
    fieldbus_get_stats(r->fb, &st);
    assert_int_equal(st.stale_drops, 1);
}

struct jabber {
    int fd;
    atomic_bool stop;
};

static void *jabber_main(void *arg)
{
    struct jabber *j = arg;
    const uint8_t b = 0xA5;
    struct timespec ts = {.tv_nsec = 500000};

    while (!atomic_load(&j->stop)) {
        (void)write(j->fd, &b, 1);
        (void)nanosleep(&ts, NULL);
    }
    return NULL;
}

/*
 * A line that never falls silent: give up after a response timeout, send nothing. At
 * 1200 baud t3.5 is 32 ms, so the jabbering thread would have to be kept off the CPU for
 * that long before the line really was quiet; at 115200 a loaded machine manages that.
 */
static void rtu_jabbering_line_is_busy(void **state)
{
    struct rig *r = *state;
    struct jabber j = {.fd = r->pty.master};
    pthread_t t;
    uint16_t regs[2];
    uint8_t exc;
    uint64_t seen = fx_slave_requests(r->fx);
    int64_t t0, took;
    int rc;

    atomic_init(&j.stop, false);
    assert_int_equal(pthread_create(&t, NULL, jabber_main, &j), 0);
    t0 = fx_now_ns();
    rc = fieldbus_read(r->fb, 1, CONFIG_TABLE_HOLDING, 0, 2, regs, &exc);
    took = ms_since(t0);
    /* Stop the writer before any assertion can leave it writing to a recycled fd. */
    atomic_store(&j.stop, true);
    pthread_join(t, NULL);
    print_message("jabbering line: %s after %lld ms\n", fieldbus_strerror(rc),
                  (long long)took);
    assert_int_equal(rc, -EBUSY);
    assert_true(took >= RESPONSE_MS);
    assert_true(fieldbus_connected(r->fb));
    assert_int_equal(fx_slave_requests(r->fx), seen);
    expect_unit_regs(r, 1, 0, 2);
}

/* ---- timeouts ---------------------------------------------------------------------- */

static void rtu_per_device_timeouts(void **state)
{
    struct rig *r = *state;
    uint16_t regs[4];
    uint8_t exc;
    int64_t t0;
    struct fieldbus_stats st;

    /* A slow but healthy device: 150 ms to answer, beyond the bus's 100 ms. */
    fx_slave_set_late_ms(r->fx, 150);
    fx_slave_set_mode(r->fx, 5, FX_SLOW);
    assert_int_equal(fieldbus_read(r->fb, 5, CONFIG_TABLE_HOLDING, 0, 4, regs, &exc),
                     -ETIMEDOUT);
    /*
     * Its reply comes 25 ms after the late-reply hold: let it land, so that the next
     * request is not answered by it (the stale-input check must drop it instead).
     */
    wait_line_input(r);
    assert_int_equal(fieldbus_set_timeouts(r->fb, 400, FIELDBUS_BUS_DEFAULT), 0);
    expect_unit_regs(r, 5, 0, 4);
    /* The override survives a reconnect. */
    assert_int_equal(fieldbus_connect(r->fb), 0);
    expect_unit_regs(r, 5, 0, 4);
    /* Back to the bus's value for the next device. */
    assert_int_equal(
        fieldbus_set_timeouts(r->fb, FIELDBUS_BUS_DEFAULT, FIELDBUS_BUS_DEFAULT), 0);
    t0 = fx_now_ns();
    assert_int_equal(fieldbus_read(r->fb, 5, CONFIG_TABLE_HOLDING, 0, 4, regs, &exc),
                     -ETIMEDOUT);
    /* The bus's timeout again, not the 400 ms override; wide of both for a loaded host.
     */
    assert_true(ms_since(t0) < 300);
    wait_line_input(r);

    assert_int_equal(fieldbus_set_timeouts(r->fb, 0, 0), -EINVAL);
    assert_int_equal(fieldbus_set_timeouts(r->fb, 60001, 0), -EINVAL);
    assert_int_equal(fieldbus_set_timeouts(r->fb, 100, 60001), -EINVAL);
    fx_slave_set_mode(r->fx, 5, FX_NORMAL);
    expect_unit_regs(r, 5, 0, 4);
    fieldbus_get_stats(r->fb, &st);
    assert_int_equal(st.stale_drops, 2);
}

/*
 * A reply cut off mid-frame: with a byte timeout the master notices the silence after
 * the first bytes and gives up early; without one it waits out the response timeout.
 */
static void rtu_byte_timeout_cuts_a_truncated_frame_short(void **state)
{
    struct rig *r = *state;
    uint16_t regs[20];
    uint8_t exc;
    int64_t t0, with_bt, without_bt;

    fx_slave_set_mode(r->fx, 4, FX_TRUNCATE);
    assert_int_equal(fieldbus_set_timeouts(r->fb, 300, 0), 0);
    t0 = fx_now_ns();
    assert_int_equal(fieldbus_read(r->fb, 4, CONFIG_TABLE_HOLDING, 0, 20, regs, &exc),
                     -ETIMEDOUT);
    without_bt = ms_since(t0);
    assert_int_equal(fieldbus_set_timeouts(r->fb, 300, 20), 0);
    t0 = fx_now_ns();
    assert_int_equal(fieldbus_read(r->fb, 4, CONFIG_TABLE_HOLDING, 0, 20, regs, &exc),
                     -ETIMEDOUT);
    with_bt = ms_since(t0);
    print_message("truncated frame: %lld ms without a byte timeout, %lld ms with 20 ms "
                  "(response timeout 300 ms)\n",
                  (long long)without_bt, (long long)with_bt);
    /* The first wait is the timeout alone; the second includes the prior hold (75). */
    assert_true(without_bt >= 300);
    assert_true(with_bt < 200);
    fx_slave_set_mode(r->fx, 4, FX_NORMAL);
    expect_unit_regs(r, 4, 0, 20);
}

/* ---- t3.5 -------------------------------------------------------------------------- */

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

    return (x > y) - (x < y);
}

static void check_gaps(struct rig *r, int64_t expect_ns)
{
    enum { N = 40 };
    int64_t gaps[N];
    size_t n;

    assert_int_equal(fieldbus_frame_gap_ns(&r->bus), expect_ns);
    expect_unit_regs(r, 1, 0, 2);
    fx_slave_clear_gaps(r->fx);
    for (int i = 0; i < N; i++)
        expect_unit_regs(r, (uint8_t)(1 + i % 3), 0, 2);
    n = fx_slave_gaps(r->fx, gaps, N);
    assert_int_equal(n, N);
    qsort(gaps, n, sizeof(gaps[0]), cmp_i64);
    print_message("%u baud: t3.5 %.3f ms; gaps over %zu requests: min %.3f, median %.3f, "
                  "max %.3f ms\n",
                  (unsigned)r->bus.baud, (double)expect_ns / 1e6, n,
                  (double)gaps[0] / 1e6, (double)gaps[n / 2] / 1e6,
                  (double)gaps[n - 1] / 1e6);
    assert_true(gaps[0] >= expect_ns);
}

static void rtu_t35_at_9600(void **state)
{
    /* 3.5 x 11 bits / 9600 baud = 4.0104 ms. */
    check_gaps(*state, 4010417);
}

static void rtu_t35_at_19200(void **state)
{
    /* At 19200 the gap still scales: 3.5 x 11 / 19200 = 2.0052 ms. */
    check_gaps(*state, 2005209);
}

static void rtu_t35_at_115200(void **state)
{
    /* Above 19200 baud: a fixed 1.75 ms. */
    check_gaps(*state, 1750000);
}

static void frame_gap_table(void **state)
{
    static const struct {
        uint32_t baud;
        enum config_parity parity;
        uint8_t data, stop;
        int64_t gap_ns;
    } rows[] = {
        {1200, CONFIG_PARITY_EVEN, 8, 1, 32083334}, /* 3.5 x 11 / 1200 */
        {9600, CONFIG_PARITY_EVEN, 8, 1, 4010417},
        {9600, CONFIG_PARITY_NONE, 8, 2, 4010417},
        {9600, CONFIG_PARITY_NONE, 8, 1, 4010417}, /* 10-bit chars still get 11 */
        {9600, CONFIG_PARITY_EVEN, 8, 2, 4375000}, /* 12-bit chars get 12 */
        {19200, CONFIG_PARITY_EVEN, 8, 1, 2005209},
        {38400, CONFIG_PARITY_EVEN, 8, 1, 1750000},
        {57600, CONFIG_PARITY_NONE, 8, 2, 1750000},
        {115200, CONFIG_PARITY_EVEN, 8, 1, 1750000},
        {14400, CONFIG_PARITY_EVEN, 8, 1, 0}, /* not a rate the port can be set to */
        {0, CONFIG_PARITY_EVEN, 8, 1, 0},
    };
    struct config_bus b;

    (void)state;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        bus_rtu(&b, "/dev/null", rows[i].baud);
        b.parity = rows[i].parity;
        b.data_bits = rows[i].data;
        b.stop_bits = rows[i].stop;
        assert_int_equal(fieldbus_frame_gap_ns(&b), rows[i].gap_ns);
    }
    b.kind = CONFIG_BUS_TCP;
    assert_int_equal(fieldbus_frame_gap_ns(&b), 0);
}

/* ---- the port ---------------------------------------------------------------------- */

static void rtu_rs485_on_a_pty_is_a_warning(void **state)
{
    struct rig *r = *state;

    r->bus.rs485 = true;
    r->bus.rts_delay_before_us = 1500;
    r->bus.rts_delay_after_us = 0;
    assert_int_equal(fieldbus_connect(r->fb), 0);
    assert_int_equal(fieldbus_warnings(r->fb),
                     FIELDBUS_WARN_RS485 | FIELDBUS_WARN_RTS_DELAY);
    expect_unit_regs(r, 1, 0, 4);
    /* Without delays only the mode is missing. */
    r->bus.rts_delay_before_us = 0;
    assert_int_equal(fieldbus_connect(r->fb), 0);
    assert_int_equal(fieldbus_warnings(r->fb), FIELDBUS_WARN_RS485);
    r->bus.rs485 = false;
    assert_int_equal(fieldbus_connect(r->fb), 0);
    assert_int_equal(fieldbus_warnings(r->fb), 0);
}

static void rtu_bad_settings_fail_to_connect(void **state)
{
    struct rig *r = *state;
    char path[] = "/tmp/pg-fieldbus-notatty-XXXXXX";
    int fd;

    r->bus.baud = 14400; /* libmodbus would quietly run this at 9600 */
    assert_int_equal(fieldbus_connect(r->fb), -EINVAL);
    assert_false(fieldbus_connected(r->fb));
    r->bus.baud = 115200;
    r->bus.data_bits = 9;
    assert_int_equal(fieldbus_connect(r->fb), -EINVAL);
    r->bus.data_bits = 8;
    r->bus.stop_bits = 3;
    assert_int_equal(fieldbus_connect(r->fb), -EINVAL);
    r->bus.stop_bits = 2;

    (void)snprintf(r->bus.device, sizeof(r->bus.device), "/dev/pg-no-such-tty");
    assert_int_equal(fieldbus_connect(r->fb), -ENOENT);
    fd = mkstemp(path);
    assert_true(fd >= 0);
    (void)snprintf(r->bus.device, sizeof(r->bus.device), "%s", path);
    assert_int_equal(fieldbus_connect(r->fb), -ENOTTY);
    (void)close(fd);
    (void)unlink(path);
    assert_false(fieldbus_connected(r->fb));

    (void)snprintf(r->bus.device, sizeof(r->bus.device), "%s", r->pty.path);
    assert_int_equal(fieldbus_connect(r->fb), 0);
    expect_unit_regs(r, 1, 0, 1);
}

/* The port is close-on-exec, and claimed (TIOCEXCL) while open and only then. */
static void rtu_port_is_claimed_and_close_on_exec(void **state)
{
    struct rig *r = *state;
    int found = 0, excl = -1;

    assert_int_equal(ioctl(r->pty.slave, TIOCGEXCL, &excl), 0);
    assert_int_equal(excl, 1);
    fieldbus_close(r->fb);
    assert_int_equal(ioctl(r->pty.slave, TIOCGEXCL, &excl), 0);
    assert_int_equal(excl, 0);
    assert_int_equal(fieldbus_connect(r->fb), 0);

    for (int fd = 3; fd < 1024; fd++) {
        char link[64], target[256];
        ssize_t n;

        (void)snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
        n = readlink(link, target, sizeof(target) - 1);
        if (n <= 0 || fd == r->pty.slave)
            continue;
        target[n] = '\0';
        if (strcmp(target, r->pty.path) == 0) {
            assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
            found++;
        }
    }
    assert_int_equal(found, 1);
}

/* The adapter is unplugged: the link is closed, and reopening fails until it is back. */
static void rtu_port_gone_closes_the_link(void **state)
{
    struct rig *r = *state;
    uint16_t regs[2];
    uint8_t exc;
    int rc;
    struct fieldbus_stats st;

    expect_unit_regs(r, 1, 0, 2);
    fx_slave_stop(r->fx);
    r->fx = NULL;
    fx_pty_close(&r->pty); /* hangs up the gateway's end */
    rc = fieldbus_read(r->fb, 1, CONFIG_TABLE_HOLDING, 0, 2, regs, &exc);
    print_message("pty hung up: %s (%d)\n", fieldbus_strerror(rc), rc);
    assert_true(rc < 0);
    assert_false(fieldbus_connected(r->fb));
    fieldbus_get_stats(r->fb, &st);
    assert_int_equal(st.link_errors, 1);
    rc = fieldbus_connect(r->fb);
    print_message("reopen after hang-up: %s (%d)\n", fieldbus_strerror(rc), rc);
    assert_true(rc < 0);
    assert_false(fieldbus_connected(r->fb));
}

static void strings(void **state)
{
    (void)state;
    assert_string_equal(fieldbus_strerror(-EILSEQ), "CRC error");
    assert_string_equal(fieldbus_strerror(-EPROTO), "reply from another unit id");
    assert_string_equal(fieldbus_strerror(-ECONNRESET), "Connection reset by peer");
    assert_string_equal(fieldbus_strerror(-99999), "unknown error");
    assert_string_equal(fieldbus_exception_text(2), "illegal data address");
    assert_string_equal(fieldbus_exception_text(11),
                        "gateway target device failed to respond");
    assert_string_equal(fieldbus_exception_text(9), "unknown exception");
    assert_string_equal(fieldbus_exception_text(0), "unknown exception");
    assert_string_equal(fieldbus_exception_text(200), "unknown exception");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(rtu_reads_all_four_tables, setup_115200,
                                        teardown),
        cmocka_unit_test_setup_teardown(rtu_rejects_bad_arguments_without_io,
                                        setup_115200, teardown),
        cmocka_unit_test_setup_teardown(rtu_classifies_every_fault, setup_115200,
                                        teardown),
        cmocka_unit_test_setup_teardown(rtu_late_reply_is_dropped, setup_115200,
                                        teardown),
        cmocka_unit_test_setup_teardown(rtu_stale_input_before_a_request_is_dropped,
                                        setup_115200, teardown),
        cmocka_unit_test_setup_teardown(rtu_jabbering_line_is_busy, setup_1200, teardown),
        cmocka_unit_test_setup_teardown(rtu_per_device_timeouts, setup_115200, teardown),
        cmocka_unit_test_setup_teardown(rtu_byte_timeout_cuts_a_truncated_frame_short,
                                        setup_115200, teardown),
        cmocka_unit_test_setup_teardown(rtu_t35_at_9600, setup_9600, teardown),
        cmocka_unit_test_setup_teardown(rtu_t35_at_19200, setup_19200, teardown),
        cmocka_unit_test_setup_teardown(rtu_t35_at_115200, setup_115200, teardown),
        cmocka_unit_test(frame_gap_table),
        cmocka_unit_test_setup_teardown(rtu_rs485_on_a_pty_is_a_warning, setup_115200,
                                        teardown),
        cmocka_unit_test_setup_teardown(rtu_bad_settings_fail_to_connect, setup_115200,
                                        teardown),
        cmocka_unit_test_setup_teardown(rtu_port_is_claimed_and_close_on_exec,
                                        setup_115200, teardown),
        cmocka_unit_test_setup_teardown(rtu_port_gone_closes_the_link, setup_115200,
                                        teardown),
        cmocka_unit_test(strings),
    };

    return cmocka_run_group_tests_name("fieldbus_rtu", tests, NULL, NULL);
}
