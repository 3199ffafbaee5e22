/*
 * Unit tests for mbrtu: RTU framing and character timing with explicit timestamps, at
 * 9600 baud (t_c 1146 us, t1.5 1719 us, t3.5 4011 us) unless a test says otherwise.
 * Times are the instants characters are complete; "silence" is the gap between one
 * character's end and the next one's start, i.e. the difference of two stamps less t_c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "crc16.h"
#include "mbrtu.h"

#define OWN      5
#define TC       1146u
#define T15      1719u
#define T35      4011u
#define MAX_SENT 8

static uint16_t regs[16];
static int writes;
static uint8_t own_address = OWN;
static uint8_t sent[MAX_SENT][MBRTU_MAX_FRAME];
static size_t sent_len[MAX_SENT];
static size_t n_sent;
static struct mbrtu *rtu;

static int slave_read(void *ctx, enum mbpdu_table table, uint16_t address, uint16_t count,
                      uint16_t *out)
{
    (void)ctx;
    (void)table;
    if ((uint32_t)address + count > 16)
        return -ENXIO;
    memcpy(out, &regs[address], count * sizeof(uint16_t));
    return 0;
}

static int slave_write(void *ctx, uint16_t address, uint16_t count,
                       const uint16_t *values, bool broadcast)
{
    (void)ctx;
    (void)broadcast;
    if ((uint32_t)address + count > 16)
        return -ENXIO;
    memcpy(&regs[address], values, count * sizeof(uint16_t));
    writes++;
    return 0;
}

static uint8_t slave_address(void *ctx)
{
    (void)ctx;
    return own_address;
}

static void capture(void *ctx, const uint8_t *frame, size_t len)
{
    (void)ctx;
    assert_true(n_sent < MAX_SENT);
    memcpy(sent[n_sent], frame, len);
    sent_len[n_sent++] = len;
}

static const struct mbpdu_slave slave = {slave_read, slave_write, NULL};

static struct mbrtu *make(uint32_t baud, uint32_t now)
{
    struct mbrtu_config cfg = {baud, &slave, slave_address, capture, NULL};

    return mbrtu_new(&cfg, now);
}

/* Start a framer at 0 and let the start-up silence pass. */
static int setup(void **state)
{
    (void)state;
    memset(regs, 0, sizeof(regs));
    regs[1] = 0xBEEF;
    writes = 0;
    own_address = OWN;
    n_sent = 0;
    rtu = make(9600, 0);
    assert_non_null(rtu);
    mbrtu_tick(rtu, T35);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    mbrtu_free(rtu);
    return 0;
}

/* A frame with its CRC appended; returns its length. */
static size_t frame(uint8_t *out, const uint8_t *body, size_t len)
{
    uint16_t crc = crc16_modbus(body, len);

    memcpy(out, body, len);
    out[len] = (uint8_t)(crc & 0xFF);
    out[len + 1] = (uint8_t)(crc >> 8);
    return len + 2;
}

/* Feed bytes back to back from t; returns the time the last one was complete. */
static uint32_t feed(const uint8_t *p, size_t len, uint32_t t)
{
    for (size_t i = 0; i < len; i++) {
        t += TC;
        mbrtu_rx_byte(rtu, p[i], t);
    }
    return t;
}

static size_t read_req(uint8_t *out, uint8_t address)
{
    const uint8_t body[] = {address, 0x03, 0x00, 0x01, 0x00, 0x01};

    return frame(out, body, sizeof(body));
}

static void assert_reply_valid(size_t i)
{
    assert_true(sent_len[i] >= 5);
    assert_int_equal(sent[i][0], OWN);
    assert_int_equal(crc16_modbus(sent[i], sent_len[i]), 0);
}

static void test_timing_constants(void **state)
{
    (void)state;
    assert_int_equal(mbrtu_t15_us(9600), 1719);
    assert_int_equal(mbrtu_t35_us(9600), 4011);
    assert_int_equal(mbrtu_t15_us(19200), 860);
    assert_int_equal(mbrtu_t35_us(19200), 2006);
    assert_int_equal(mbrtu_t15_us(38400), 750);
    assert_int_equal(mbrtu_t35_us(38400), 1750);
    assert_int_equal(mbrtu_t15_us(115200), 750);
    assert_int_equal(mbrtu_t35_us(115200), 1750);
    assert_int_equal(mbrtu_t35_us(1200), 32084);
}

static void test_frame_ends_after_t35(void **state)
{
    uint8_t req[8];
    uint32_t end, deadline;

    (void)state;
    end = feed(req, read_req(req, OWN), 10000);
    assert_true(mbrtu_busy(rtu, &deadline));
    assert_int_equal(deadline, end + T35);
    mbrtu_tick(rtu, end + T35 - 1);
    assert_int_equal(n_sent, 0);
    mbrtu_tick(rtu, end + T35);
    assert_int_equal(n_sent, 1);
    assert_reply_valid(0);
    assert_int_equal(sent[0][1], 0x03);
    assert_int_equal(sent[0][3], 0xBE);
    assert_int_equal(sent[0][4], 0xEF);
    assert_false(mbrtu_busy(rtu, NULL));
}

static void test_startup_waits_for_silence(void **state)
{
    uint8_t req[8];
    size_t n = read_req(req, OWN);
    uint32_t end;

    (void)state;
    mbrtu_free(rtu);
    rtu = make(9600, 0);
    /* A complete, valid frame heard before the first t3.5 of silence: the node may have
     * been switched on in the middle of it, so it is not served. */
    end = feed(req, n, 100);
    mbrtu_tick(rtu, end + T35 + 10);
    assert_int_equal(n_sent, 0);
    end = feed(req, n, end + T35 + 20);
    mbrtu_tick(rtu, end + T35);
    assert_int_equal(n_sent, 1);
}

static void test_gap_over_t15_discards(void **state)
{
    uint8_t req[8];
    size_t n = read_req(req, OWN);
    struct mbrtu_stats st;
    uint32_t t;

    (void)state;
    t = feed(req, 3, 10000);
    t = feed(req + 3, n - 3, t + T15 + 1); /* one microsecond more than t1.5 */
    mbrtu_tick(rtu, t + T35);
    assert_int_equal(n_sent, 0);
    mbrtu_get_stats(rtu, &st);
    assert_int_equal(st.gap_errors, 1);

    /* Exactly t1.5 is still inside the frame. */
    t = feed(req, 3, t + T35 + 1000);
    t = feed(req + 3, n - 3, t + T15);
    mbrtu_tick(rtu, t + T35);
    assert_int_equal(n_sent, 1);
}

static void test_frames_closer_than_t15_merge(void **state)
{
    uint8_t req[8];
    size_t n = read_req(req, OWN);
    struct mbrtu_stats st;
    uint32_t t;

    (void)state;
    t = feed(req, n, 10000);
    t = feed(req, n, t + T15 / 2);
    mbrtu_tick(rtu, t + T35);
    assert_int_equal(n_sent, 0);
    mbrtu_get_stats(rtu, &st);
    assert_int_equal(st.crc_errors, 1);
}

static void test_frames_between_t15_and_t35_discarded(void **state)
{
    uint8_t req[8];
    size_t n = read_req(req, OWN);
    struct mbrtu_stats st;
    uint32_t t;

    (void)state;
    /* §2.5.1.1: a character after t1.5 but before t3.5 marks the frame not OK, and the
     * whole of it, both requests, is dropped at the next t3.5. */
    t = feed(req, n, 10000);
    t = feed(req, n, t + (T15 + T35) / 2);
    mbrtu_tick(rtu, t + T35);
    assert_int_equal(n_sent, 0);
    mbrtu_get_stats(rtu, &st);
    assert_int_equal(st.gap_errors, 1);
    assert_int_equal(st.frames, 1);
}

static void test_frames_t35_apart_both_served(void **state)
{
    uint8_t req[8];
    size_t n = read_req(req, OWN);
    uint32_t t;

    (void)state;
    /* No tick in between: the first frame ends when the next character shows that t3.5
     * of silence has passed. */
    t = feed(req, n, 10000);
    t = feed(req, n, t + T35);
    assert_int_equal(n_sent, 1);
    mbrtu_tick(rtu, t + T35);
    assert_int_equal(n_sent, 2);
    assert_reply_valid(0);
    assert_reply_valid(1);
}

static void test_other_address_ignored(void **state)
{
    uint8_t req[8];
    struct mbrtu_stats st;
    uint32_t t;

    (void)state;
    t = feed(req, read_req(req, OWN + 1), 10000);
    mbrtu_tick(rtu, t + T35);
    assert_int_equal(n_sent, 0);
    mbrtu_get_stats(rtu, &st);
    assert_int_equal(st.frames, 1);
    assert_int_equal(st.served, 0);
}

static void test_broadcast_executes_without_reply(void **state)
{
    const uint8_t body[] = {0x00, 0x06, 0x00, 0x02, 0x12, 0x34};
    uint8_t req[8];
    uint32_t t;

    (void)state;
    t = feed(req, frame(req, body, sizeof(body)), 10000);
    mbrtu_tick(rtu, t + T35);
    assert_int_equal(n_sent, 0);
    assert_int_equal(writes, 1);
    assert_int_equal(regs[2], 0x1234);
}

static void test_bad_crc_runt_and_overrun(void **state)
{
    uint8_t req[300];
    size_t n = read_req(req, OWN);
    struct mbrtu_stats st;
    uint32_t t;

    (void)state;
    req[n - 1] ^= 0x01;
    t = feed(req, n, 10000);
    mbrtu_tick(rtu, t + T35);
    t = feed(req, 3, t + T35 + 10);
    mbrtu_tick(rtu, t + T35);
    memset(req, 0x55, sizeof(req));
    t = feed(req, sizeof(req), t + T35 + 10);
    mbrtu_tick(rtu, t + T35);
    assert_int_equal(n_sent, 0);
    mbrtu_get_stats(rtu, &st);
    assert_int_equal(st.crc_errors, 1);
    assert_int_equal(st.runts, 1);
    assert_int_equal(st.overruns, 1);

    /* The framer is back to normal afterwards. */
    t = feed(req, read_req(req, OWN), t + T35 + 10);
    mbrtu_tick(rtu, t + T35);
    assert_int_equal(n_sent, 1);
}

static void test_longest_frame_accepted(void **state)
{
    uint8_t body[254] = {OWN, 0x08, 0x00, 0x00};
    uint8_t req[256];
    uint32_t t;

    (void)state;
    for (size_t i = 4; i < sizeof(body); i++)
        body[i] = (uint8_t)i;
    t = feed(req, frame(req, body, sizeof(body)), 10000);
    mbrtu_tick(rtu, t + T35);
    assert_int_equal(n_sent, 1);
    assert_int_equal(sent_len[0], 256);
    assert_memory_equal(sent[0], req, 256);
}

static void test_line_error_discards(void **state)
{
    uint8_t req[8];
    size_t n = read_req(req, OWN);
    struct mbrtu_stats st;
    uint32_t t;

    (void)state;
    t = feed(req, 4, 10000);
    mbrtu_rx_error(rtu, t + TC);
    t = feed(req + 4, n - 4, t + TC);
    mbrtu_tick(rtu, t + T35);
    assert_int_equal(n_sent, 0);
    mbrtu_get_stats(rtu, &st);
    assert_int_equal(st.line_errors, 1);
}

static void test_clock_wrap(void **state)
{
    uint8_t req[8];
    uint32_t t;

    (void)state;
    mbrtu_tick(rtu, 0xFFFF0000u);
    t = feed(req, read_req(req, OWN), 0xFFFFF000u); /* ends after the wrap */
    assert_true(t < 0x10000u);
    mbrtu_tick(rtu, t + T35 - 1);
    assert_int_equal(n_sent, 0);
    mbrtu_tick(rtu, t + T35);
    assert_int_equal(n_sent, 1);
}

static void test_address_change_next_frame(void **state)
{
    uint8_t req[8];
    uint32_t t;

    (void)state;
    own_address = 9;
    t = feed(req, read_req(req, OWN), 10000);
    mbrtu_tick(rtu, t + T35);
    assert_int_equal(n_sent, 0);
    t = feed(req, read_req(req, 9), t + T35);
    mbrtu_tick(rtu, t + T35);
    assert_int_equal(n_sent, 1);
    assert_int_equal(sent[0][0], 9);
}

static void test_fast_baud_fixed_timing(void **state)
{
    uint8_t req[8];
    size_t n = read_req(req, OWN);
    uint32_t t = 1000000, tc = 96; /* 115200 baud */

    (void)state;
    mbrtu_free(rtu);
    rtu = make(115200, 0);
    mbrtu_tick(rtu, 1750);
    for (size_t i = 0; i < n; i++) {
        t += tc;
        mbrtu_rx_byte(rtu, req[i], t);
    }
    mbrtu_tick(rtu, t + 1749);
    assert_int_equal(n_sent, 0);
    mbrtu_tick(rtu, t + 1750);
    assert_int_equal(n_sent, 1);
}

static void test_pool_and_config(void **state)
{
    struct mbrtu_config bad = {9600, &slave, slave_address, capture, NULL};
    struct mbrtu *all[PG_FW_MAX_NODES];
    size_t i;

    (void)state;
    bad.baud = 300;
    assert_null(mbrtu_new(&bad, 0));
    bad.baud = 9600;
    bad.send = NULL;
    assert_null(mbrtu_new(&bad, 0));
    assert_null(mbrtu_new(NULL, 0));
    mbrtu_free(NULL);

    for (i = 0; i + 1 < PG_FW_MAX_NODES; i++) {
        all[i] = make(9600, 0);
        assert_non_null(all[i]);
    }
    assert_null(make(9600, 0));
    for (size_t k = 0; k < i; k++)
        mbrtu_free(all[k]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_timing_constants),
        cmocka_unit_test_setup_teardown(test_frame_ends_after_t35, setup, teardown),
        cmocka_unit_test_setup_teardown(test_startup_waits_for_silence, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gap_over_t15_discards, setup, teardown),
        cmocka_unit_test_setup_teardown(test_frames_closer_than_t15_merge, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_frames_between_t15_and_t35_discarded, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_frames_t35_apart_both_served, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_other_address_ignored, setup, teardown),
        cmocka_unit_test_setup_teardown(test_broadcast_executes_without_reply, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_bad_crc_runt_and_overrun, setup, teardown),
        cmocka_unit_test_setup_teardown(test_longest_frame_accepted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_line_error_discards, setup, teardown),
        cmocka_unit_test_setup_teardown(test_clock_wrap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_address_change_next_frame, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fast_baud_fixed_timing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pool_and_config, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
