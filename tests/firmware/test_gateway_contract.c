/*
 * The firmware-gateway contract, end to end in one process: the node firmware core
 * encodes its register image for a sweep of loop currents and modes, and the gateway
 * decodes that image exactly as it does in the field: hw/profiles/parkguard-node.json
 * loaded by the gateway's own config loader, each point through the gateway's codec,
 * each status rule set through codec_status(), the test-mode indicator as the poller
 * reads it. Every decoded value must be the physical value the node was given, every
 * quality the one the node's state calls for, and every register of the node's
 * measurement block (hw/regmap, addresses 0..9) must be decoded by some profile point.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "codec.h"
#include "config.h"
#include "msg.h"
#include "node.h"
#include "regmap.h"
#include "sensor.h"

#define RANGE 100.0

static const char *const points[] = {
    "map_version", "node_type", "status",     "warmup",    "fault", "inhibit",
    "test",        "l1",        "l2",         "heartbeat", "gas",   "gas_x10",
    "loop_ma",     "gas_loop",  "fault_code", "units",
};
#define N_POINTS (sizeof(points) / sizeof(points[0]))

static struct config *cfg;
static struct node *node;
static uint16_t image[REGMAP_HOLDING_COUNT];
static uint32_t now_ms;

static int setup(void **state)
{
    char json[8192], err[CONFIG_ERR_LEN];
    size_t n;
    struct node_config nc;

    (void)state;
    n = (size_t)snprintf(
        json, sizeof(json),
        "{\"gateway\":{\"id\":\"c\",\"site\":\"c\"},"
        "\"profiles_dir\":\"%s\",\"store\":{\"path\":\"/dev/null\"},"
        "\"mqtt\":{\"uri\":\"tcp://127.0.0.1:1\"},\"areas\":[{\"id\":\"a\"}],"
        "\"buses\":[{\"id\":\"b\",\"type\":\"tcp\",\"host\":\"h\",\"port\":502}],"
        "\"devices\":[{\"id\":\"n\",\"bus\":\"b\",\"unit_id\":3,"
        "\"profile\":\"parkguard-node\",\"poll_ms\":1000,\"points\":[",
        PG_PROFILES_DIR);
    for (size_t i = 0; i < N_POINTS; i++)
        n += (size_t)snprintf(json + n, sizeof(json) - n,
                              "%s{\"id\":\"n.%s\",\"use\":\"%s\",\"area\":\"a\"}",
                              i ? "," : "", points[i], points[i]);
    n += (size_t)snprintf(json + n, sizeof(json) - n, "]}]}");
    if (config_parse("contract.json", json, n, &cfg, err, sizeof(err)) != 0)
        fail_msg("%s", err);
    node_default_config(&nc);
    nc.unit_id = 3;
    nc.units = REGMAP_UNIT_LEL;
    nc.range_x10 = (uint16_t)lround(RANGE * 10.0);
    nc.warmup_s = 0;
    now_ms = 0;
    node = node_new(&nc, now_ms);
    return node == NULL;
}

static int teardown(void **state)
{
    (void)state;
    node_free(node);
    config_free(cfg);
    return 0;
}

static void read_image(void)
{
    const struct mbpdu_slave *s = node_slave(node);

    assert_int_equal(s->read(s->ctx, MBPDU_TABLE_HOLDING, 0, REGMAP_HOLDING_COUNT, image),
                     0);
}

static void feed_ma(double ma)
{
    now_ms += 100;
    node_update(node, now_ms, sensor_ua_to_counts((int32_t)lround(ma * 1000.0)));
    read_image();
}

static void write_reg(uint16_t address, uint16_t raw)
{
    const struct mbpdu_slave *s = node_slave(node);

    assert_int_equal(s->write(s->ctx, address, 1, &raw, false), 0);
}

/* Decode one point the way the poller does: status sets first, then its own words. */
static struct codec_result gateway_decode(const char *use)
{
    const struct config_device *dev = &cfg->devices[0];
    struct codec_result r = {.quality = MSG_Q_SENSOR_FAULT};

    for (size_t i = 0; i < cfg->n_points; i++) {
        const struct config_point *pt = &cfg->points[i];

        if (strcmp(pt->use, use) != 0)
            continue;
        assert_true(pt->address + codec_width(pt->codec.type) <= REGMAP_HOLDING_COUNT);
        codec_convert(&pt->codec, image + pt->address, -1, &r);
        for (unsigned k = 0; k < dev->n_status; k++) {
            uint8_t q;

            if ((pt->status_sets & (1u << k)) == 0)
                continue;
            q = codec_status(dev->status[k].rules, dev->status[k].n_rules,
                             image[dev->status[k].reg.address]);
            if (q != MSG_Q_GOOD) {
                r.quality = q;
                break;
            }
        }
        return r;
    }
    fail_msg("no point uses %s", use);
    return r;
}

static bool gateway_sees_test_mode(void)
{
    const struct config_device *dev = &cfg->devices[0];

    assert_true(dev->test_mode.enabled);
    return (image[dev->test_mode.reg.address] & dev->test_mode.mask) != 0;
}

/* Every register of the measurement block is some profile point's, of the same width. */
static void test_profile_covers_the_map(void **state)
{
    bool covered[REGMAP_HOLDING_COUNT] = {false};

    (void)state;
    for (size_t i = 0; i < cfg->n_points; i++) {
        const struct config_point *pt = &cfg->points[i];
        const struct regmap_reg *r = regmap_at(pt->address);

        assert_non_null(r);
        assert_int_equal(r->address, pt->address);
        /* A bit point reads one bit of a 16-bit register; otherwise widths must agree. */
        if (pt->codec.type != CODEC_BIT)
            assert_int_equal(codec_width(pt->codec.type), r->width);
        if (r->type == REGMAP_TYPE_F32)
            assert_int_equal(pt->codec.type, CODEC_FLOAT32);
        for (unsigned w = 0; w < r->width; w++)
            covered[r->address + w] = true;
    }
    for (unsigned a = 0; a < REGMAP_ADDR_UNITS + 1u; a++)
        if (!covered[a])
            fail_msg("register %u of the node's map is decoded by no profile point", a);
}

static void test_sweep_of_loop_currents(void **state)
{
    (void)state;
    for (double ma = 4.0; ma <= 20.0; ma += 0.0731) {
        double want = (ma - 4.0) / 16.0 * RANGE;
        struct codec_result gas, x10, loop, from_loop;

        feed_ma(ma);
        gas = gateway_decode("gas");
        x10 = gateway_decode("gas_x10");
        loop = gateway_decode("loop_ma");
        from_loop = gateway_decode("gas_loop");
        assert_int_equal(gas.quality, MSG_Q_GOOD);
        assert_int_equal(x10.quality, MSG_Q_GOOD);
        assert_int_equal(from_loop.quality, MSG_Q_GOOD);
        /* One ADC count is 0.042 % of span. */
        if (fabs(gas.value - want) > RANGE * 0.00042 + 1e-9)
            fail_msg("%.4f mA: gateway reads %.5f %%LEL, node was given %.5f", ma,
                     gas.value, want);
        assert_true(fabs(x10.value - gas.value) <= 0.05 + 1e-9);
        assert_true(fabs(loop.value - ma) <= 0.0095);
        /* The gateway's own 4-20 mA conversion of the loop register agrees. */
        assert_true(fabs(from_loop.value - gas.value) <= 0.1);
        assert_true(gateway_decode("map_version").value == 1.0);
        assert_true(gateway_decode("node_type").value == 1.0);
        assert_true(gateway_decode("units").value == REGMAP_UNIT_LEL);
        assert_true(gateway_decode("fault_code").value == 0.0);
        assert_false(gateway_sees_test_mode());
    }
}

static void test_states_and_qualities(void **state)
{
    struct codec_result r;

    (void)state;
    /* A loop failed low (NE 43: <= 3.6 mA): a sensor fault, never a number. */
    feed_ma(2.0);
    r = gateway_decode("gas");
    assert_int_equal(r.quality, MSG_Q_SENSOR_FAULT);
    assert_true(gateway_decode("fault").value == 1.0);
    assert_int_equal(gateway_decode("gas_loop").quality, MSG_Q_SENSOR_FAULT);

    /* Over the top of the range: the status word says so, and so does the gateway. */
    feed_ma(20.8);
    assert_int_equal(gateway_decode("gas").quality, MSG_Q_OVER_RANGE);

    /* Inhibit (maintenance): the value is not a measurement to alarm on. */
    feed_ma(12.0);
    write_reg(REGMAP_ADDR_INHIBIT, 1);
    feed_ma(12.0);
    assert_true(gateway_decode("inhibit").value == 1.0);
    assert_int_equal(gateway_decode("gas").quality, MSG_Q_MAINTENANCE);
    write_reg(REGMAP_ADDR_INHIBIT, 0);

    /*
     * Test mode with an injected 40 %LEL: a good value, evaluated, and the test-mode
     * indicator set, so that every sample is flagged test.
     */
    write_reg(REGMAP_ADDR_TEST_CONC_X10, 400);
    write_reg(REGMAP_ADDR_TEST_MODE, REGMAP_TEST_KEY);
    feed_ma(8.0);
    r = gateway_decode("gas");
    assert_int_equal(r.quality, MSG_Q_GOOD);
    assert_true(fabs(r.value - 40.0) < 1e-3);
    assert_true(gateway_sees_test_mode());
    assert_true(gateway_decode("test").value == 1.0);
    write_reg(REGMAP_ADDR_TEST_MODE, 0);
    feed_ma(8.0);
    assert_false(gateway_sees_test_mode());
    assert_true(fabs(gateway_decode("gas").value - 25.0) <= RANGE * 0.00042);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_profile_covers_the_map),
        cmocka_unit_test(test_sweep_of_loop_currents),
        cmocka_unit_test(test_states_and_qualities),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
