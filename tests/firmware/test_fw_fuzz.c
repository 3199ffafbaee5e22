/*
 * A fuzz-style soak of the RTU framer and the node behind it: tens of thousands of
 * bursts (well-formed requests of every function code with random fields, requests for
 * other addresses and for broadcast, requests with a flipped bit, and plain garbage)
 * with random gaps inside and between them, at 19200 baud.
 *
 * An independent model of the specification's framing (t1.5, t3.5, length, CRC,
 * address) predicts, at every frame's end, whether the node must answer. The test fails
 * if the node answers when it must not, stays silent when it must answer, sends a reply
 * with a bad CRC or another address, or if any register leaves its documented range.
 * Run under AddressSanitizer, it also fails on any out-of-bounds access.
 *
 * FW_FUZZ_SEED and FW_FUZZ_BURSTS in the environment change the run.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crc16.h"
#include "mbrtu.h"
#include "node.h"
#include "regmap.h"
#include "sensor.h"

#define BAUD 19200u
#define TC   573u /* 11 bits at 19200 baud, rounded up */
#define T15  860u
#define T35  2006u

static uint64_t rng;

static uint32_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 16);
}

static uint32_t below(uint32_t n)
{
    return n == 0 ? 0 : rnd() % n;
}

static struct node *node;
static struct mbrtu *rtu;
static uint8_t reply[MBRTU_MAX_FRAME];
static size_t reply_len;
static unsigned replies;

static void capture(void *ctx, const uint8_t *frame, size_t len)
{
    (void)ctx;
    assert_true(len >= 5 && len <= MBRTU_MAX_FRAME);
    memcpy(reply, frame, len);
    reply_len = len;
    replies++;
}

static uint8_t address_of(void *ctx)
{
    return node_unit_id(ctx);
}

/* The model: the frame being received, as the specification describes it. */
static struct {
    bool idle;
    bool nok;
    uint32_t last;
    size_t len;
    uint8_t buf[MBRTU_MAX_FRAME + 64];
} model;

static unsigned expected_replies, frames_checked;

/* The model's frame has ended: check the node did (not) answer it. Called just before
 * the framer is given the event that ends the frame. */
static void model_end(void (*deliver)(uint32_t), uint32_t arg)
{
    bool answer = false;
    unsigned before = replies;

    if (!model.nok && model.len >= 4 && model.len <= MBRTU_MAX_FRAME &&
        crc16_modbus(model.buf, model.len) == 0 && model.buf[0] == node_unit_id(node))
        answer = true;
    deliver(arg);
    frames_checked++;
    if (answer) {
        expected_replies++;
        if (replies != before + 1)
            fail_msg("frame %u: no reply to a valid frame of %zu bytes", frames_checked,
                     model.len);
        if (crc16_modbus(reply, reply_len) != 0)
            fail_msg("frame %u: reply with a bad CRC", frames_checked);
        if (reply[0] != model.buf[0])
            fail_msg("frame %u: reply from address %u to a request for %u",
                     frames_checked, reply[0], model.buf[0]);
    } else if (replies != before) {
        fail_msg("frame %u: a reply to a frame that must be ignored (%zu bytes, nok %d)",
                 frames_checked, model.len, model.nok);
    }
}

static uint8_t pending_byte;

static void deliver_byte(uint32_t t)
{
    mbrtu_rx_byte(rtu, pending_byte, t);
}

static void deliver_tick(uint32_t t)
{
    mbrtu_tick(rtu, t);
}

static void send_byte(uint8_t b, uint32_t t)
{
    if (!model.idle) {
        uint32_t delta = t - model.last;
        uint32_t silence = delta > TC ? delta - TC : 0;

        if (silence >= T35) {
            pending_byte = b;
            model_end(deliver_byte, t);
            model.idle = true;
            /* The framer has taken the byte as the first of a new frame. */
            model.idle = false;
            model.nok = false;
            model.len = 0;
            model.buf[model.len++] = b;
            model.last = t;
            return;
        }
        if (silence > T15)
            model.nok = true;
    } else {
        model.idle = false;
        model.nok = false;
        model.len = 0;
    }
    if (model.len < sizeof(model.buf))
        model.buf[model.len++] = b;
    else
        model.nok = true;
    model.last = t;
    mbrtu_rx_byte(rtu, b, t);
}

static void send_tick(uint32_t t)
{
    if (!model.idle && t - model.last >= T35) {
        model_end(deliver_tick, t);
        model.idle = true;
        return;
    }
    mbrtu_tick(rtu, t);
}

static size_t put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
    return 2;
}

/* A request body (address and PDU) with random but mostly meaningful fields. */
static size_t make_pdu(uint8_t *p, uint8_t address)
{
    static const uint8_t fcs[] = {0x03, 0x04, 0x06, 0x08, 0x10, 0x01, 0x2B, 0x83};
    uint8_t fc = below(10) < 8 ? fcs[below(5)] : fcs[5 + below(3)];
    size_t n = 0;
    uint16_t count;

    p[n++] = address;
    p[n++] = fc;
    switch (fc) {
    case 0x03:
    case 0x04:
        n += put16(p + n, (uint16_t)below(32));
        n += put16(p + n, (uint16_t)(below(20) == 0 ? below(200) : 1 + below(25)));
        break;
    case 0x06:
        n += put16(p + n, (uint16_t)(14 + below(12)));
        n += put16(p + n, (uint16_t)(below(4) == 0 ? REGMAP_TEST_KEY : below(300)));
        break;
    case 0x10:
        count = (uint16_t)(below(30) == 0 ? below(130) : 1 + below(6));
        n += put16(p + n, (uint16_t)(14 + below(12)));
        n += put16(p + n, count);
        p[n++] = (uint8_t)(below(10) == 0 ? below(256) : 2 * count);
        for (uint16_t i = 0; i < count && n < 250; i++)
            n += put16(p + n, (uint16_t)(below(3) == 0 ? REGMAP_TEST_KEY : below(400)));
        break;
    case 0x08:
        n += put16(p + n, (uint16_t)(below(4) == 0 ? below(3) : 0));
        for (uint32_t i = below(40); i > 0; i--)
            p[n++] = (uint8_t)rnd();
        break;
    default:
        for (uint32_t i = below(8); i > 0; i--)
            p[n++] = (uint8_t)rnd();
        break;
    }
    /* Now and then a length that disagrees with the fields. */
    if (below(15) == 0 && n > 2)
        n -= 1 + below(2);
    return n;
}

static size_t make_burst(uint8_t *buf)
{
    uint8_t own = node_unit_id(node);
    uint32_t kind = below(10);
    size_t n;
    uint16_t crc;

    if (kind == 0) {
        n = 1 + below(300);
        for (size_t i = 0; i < n; i++)
            buf[i] = (uint8_t)rnd();
        return n;
    }
    n = make_pdu(buf, kind <= 6 ? own : kind == 7 ? 0 : (uint8_t)below(256));
    crc = crc16_modbus(buf, n);
    buf[n++] = (uint8_t)crc;
    buf[n++] = (uint8_t)(crc >> 8);
    if (kind == 6)
        buf[below((uint32_t)n)] ^= (uint8_t)(1u << below(8));
    return n;
}

static void check_registers(void)
{
    for (size_t i = 0; i < REGMAP_ID_COUNT; i++) {
        const struct regmap_reg *r = &regmap_regs[i];
        uint16_t v = node_reg(node, r->address);

        if (r->type == REGMAP_TYPE_F32 || r->address == REGMAP_ADDR_HEARTBEAT)
            continue;
        if (r->address == REGMAP_ADDR_TEST_MODE) {
            assert_true(v <= 1);
            continue;
        }
        if (v < r->min || v > r->max)
            fail_msg("%s = %u, outside %u..%u", r->name, v, r->min, r->max);
    }
    for (uint16_t a = 0; a < REGMAP_HOLDING_COUNT; a++) {
        if (regmap_at(a) == NULL)
            assert_int_equal(node_reg(node, a), 0);
    }
}

static void test_fuzz(void **state)
{
    const char *env_seed = getenv("FW_FUZZ_SEED"), *env_bursts = getenv("FW_FUZZ_BURSTS");
    unsigned long bursts = env_bursts != NULL ? strtoul(env_bursts, NULL, 0) : 60000;
    struct node_config cfg;
    struct mbrtu_config rc;
    uint8_t buf[512];
    uint32_t t = 0, now_ms = 0;

    (void)state;
    rng = env_seed != NULL ? strtoull(env_seed, NULL, 0) : 0x5EED1234ABCDull;
    if (rng == 0)
        rng = 1;
    node_default_config(&cfg);
    cfg.unit_id = 17;
    cfg.warmup_s = 0;
    node = node_new(&cfg, 0);
    assert_non_null(node);
    node_update(node, 0, sensor_ua_to_counts(8000));
    rc.baud = BAUD;
    rc.slave = node_slave(node);
    rc.address = address_of;
    rc.send = capture;
    rc.send_ctx = NULL;
    rtu = mbrtu_new(&rc, 0);
    assert_non_null(rtu);
    mbrtu_tick(rtu, T35);
    model.idle = true;
    t = T35;

    for (unsigned long b = 0; b < bursts; b++) {
        size_t n = make_burst(buf);

        /* Silence before the burst: usually a proper t3.5, sometimes less. */
        t += below(4) == 0 ? below(3 * T35) : T35 + below(3000);
        for (size_t i = 0; i < n; i++) {
            /* Inside a burst: back to back, with an occasional gap of any length. */
            t += TC + (below(40) == 0 ? below(2 * T35) : 0);
            send_byte(buf[i], t);
        }
        if (below(3) != 0) {
            t += below(2 * T35);
            send_tick(t);
        }
        if (t / 1000u - now_ms >= 100) {
            now_ms = t / 1000u;
            node_update(node, now_ms, (int32_t)below(4096));
        }
        check_registers();
    }
    send_tick(t + T35);

    print_message("fuzz: %lu bursts, %u frames, %u answered\n", bursts, frames_checked,
                  expected_replies);
    /* The generator must actually reach the interesting cases. */
    assert_true(expected_replies > bursts / 4);
    assert_true(frames_checked > bursts / 2);
    mbrtu_free(rtu);
    node_free(node);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fuzz),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
