/*
 * Unit tests for sensor and node: the 4-20 mA model at every NE 43 band edge, and the
 * node's registers through warm-up, measurement, faults, local alarms with hysteresis,
 * maintenance, test mode (start, expiry, refusal in fault), write validation and
 * atomicity, and the heartbeat.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "node.h"
#include "regmap.h"
#include "sensor.h"

static struct node *node;
static uint32_t now;

static void set_loop(int32_t ua)
{
    node_update(node, now, sensor_ua_to_counts(ua));
}

static void advance(uint32_t ms, int32_t ua)
{
    /* Ten samples a second, as the ports take them. */
    for (uint32_t t = 0; t < ms; t += 100) {
        now += 100;
        set_loop(ua);
    }
}

static uint16_t reg(uint16_t address)
{
    return node_reg(node, address);
}

static uint32_t conc_bits(void)
{
    return ((uint32_t)reg(REGMAP_ADDR_CONC) << 16) | reg(REGMAP_ADDR_CONC + 1);
}

static int wr(uint16_t address, uint16_t count, const uint16_t *values, bool broadcast)
{
    const struct mbpdu_slave *s = node_slave(node);

    return s->write(s->ctx, address, count, values, broadcast);
}

static int wr1(uint16_t address, uint16_t value)
{
    return wr(address, 1, &value, false);
}

static int setup_warm(void **state)
{
    struct node_config cfg;

    (void)state;
    node_default_config(&cfg);
    cfg.unit_id = 7;
    cfg.warmup_s = 0;
    now = 1000;
    node = node_new(&cfg, now);
    assert_non_null(node);
    set_loop(4000);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    node_free(node);
    return 0;
}

static void test_sensor_conversions(void **state)
{
    (void)state;
    assert_int_equal(sensor_counts_to_ua(0), 0);
    assert_int_equal(sensor_counts_to_ua(4095), 27500);
    for (int32_t ua = 0; ua <= 27500; ua += 13) {
        int32_t back = sensor_counts_to_ua(sensor_ua_to_counts(ua));

        /* Within half a count (3.4 uA) of the input. */
        assert_true(abs(back - ua) <= 4);
    }
    assert_int_equal(sensor_ua_to_counts(-5), 0);
    assert_int_equal(sensor_ua_to_counts(40000), 4095);
    assert_int_equal(sensor_ua_to_milli(4000, 1000), 0);
    assert_int_equal(sensor_ua_to_milli(3000, 1000), 0);
    assert_int_equal(sensor_ua_to_milli(12000, 1000), 50000);
    assert_int_equal(sensor_ua_to_milli(20000, 1000), 100000);
    assert_int_equal(sensor_ua_to_milli(20000, 50), 5000);
    assert_int_equal(sensor_milli_to_ua(50000, 1000), 12000);
    assert_int_equal(sensor_milli_to_ua(0, 1000), 4000);
}

static void test_sensor_bands(void **state)
{
    static const struct {
        int32_t ua;
        enum sensor_band band;
    } rows[] = {
        {0, SENSOR_FAULT_LOW}, {3600, SENSOR_FAULT_LOW},   {3601, SENSOR_UNDER},
        {3799, SENSOR_UNDER},  {3800, SENSOR_VALID},       {4000, SENSOR_VALID},
        {20000, SENSOR_VALID}, {20001, SENSOR_OVER},       {20500, SENSOR_OVER},
        {20999, SENSOR_OVER},  {21000, SENSOR_FAULT_HIGH}, {27500, SENSOR_FAULT_HIGH},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        if (sensor_band_of(rows[i].ua) != rows[i].band)
            fail_msg("sensor_band_of(%d) = %d, want %d", rows[i].ua,
                     sensor_band_of(rows[i].ua), rows[i].band);
    }
}

static void test_sensor_alarm_hysteresis(void **state)
{
    (void)state;
    assert_false(sensor_alarm(false, 19999, 20000, 1000));
    assert_true(sensor_alarm(false, 20000, 20000, 1000));
    assert_true(sensor_alarm(true, 19000, 20000, 1000));
    assert_false(sensor_alarm(true, 18999, 20000, 1000));
}

static void test_identity_and_defaults(void **state)
{
    (void)state;
    assert_int_equal(reg(REGMAP_ADDR_MAP_VERSION), REGMAP_VERSION);
    assert_int_equal(reg(REGMAP_ADDR_NODE_TYPE), REGMAP_NODE_TYPE_GAS);
    assert_int_equal(reg(REGMAP_ADDR_UNITS), REGMAP_UNIT_LEL);
    assert_int_equal(reg(REGMAP_ADDR_RANGE_X10), 1000);
    assert_int_equal(reg(REGMAP_ADDR_L1_X10), 200);
    assert_int_equal(reg(REGMAP_ADDR_L2_X10), 400);
    assert_int_equal(reg(REGMAP_ADDR_TEST_TIMEOUT_S), 300);
    assert_int_equal(reg(REGMAP_ADDR_UNIT_ID), 7);
    assert_int_equal(node_unit_id(node), 7);
    for (uint16_t a = 10; a < 16; a++)
        assert_int_equal(reg(a), 0);
    assert_int_equal(node_reg(node, 999), 0);
}

static void test_measurement(void **state)
{
    (void)state;
    set_loop(12000); /* 50.0 units: above L1 (20) and L2 (40) */
    assert_int_equal(reg(REGMAP_ADDR_STATUS), REGMAP_STATUS_L1 | REGMAP_STATUS_L2);
    assert_int_equal(reg(REGMAP_ADDR_FAULT_CODE), REGMAP_FAULT_NONE);
    assert_int_equal(reg(REGMAP_ADDR_LOOP_X100), 1200);
    assert_int_equal(reg(REGMAP_ADDR_CONC_X10), 500);
    /* 50.0 within the ADC's resolution: 0x4248xxxx is 50.0 .. 50.05. */
    assert_int_equal(conc_bits() >> 16, 0x4248);
    /* 4.00 mA reads back as 4.002 mA through the ADC: a few thousandths of a unit. */
    set_loop(4000);
    assert_int_equal(reg(REGMAP_ADDR_CONC_X10), 0);
    assert_true(conc_bits() < 0x3D4CCCCDu); /* < 0.05 */
}

static void test_warmup(void **state)
{
    struct node_config cfg;

    (void)state;
    node_free(node);
    node_default_config(&cfg);
    cfg.warmup_s = 5;
    node = node_new(&cfg, now);
    assert_non_null(node);
    set_loop(19000); /* far above L2 */
    assert_int_equal(reg(REGMAP_ADDR_STATUS), REGMAP_STATUS_WARMUP);
    advance(4900, 19000);
    assert_int_equal(reg(REGMAP_ADDR_STATUS), REGMAP_STATUS_WARMUP);
    advance(100, 19000);
    assert_int_equal(reg(REGMAP_ADDR_STATUS), REGMAP_STATUS_L1 | REGMAP_STATUS_L2);
}

static void test_faults(void **state)
{
    (void)state;
    set_loop(12000);
    set_loop(3000);
    assert_int_equal(reg(REGMAP_ADDR_STATUS), REGMAP_STATUS_FAULT);
    assert_int_equal(reg(REGMAP_ADDR_FAULT_CODE), REGMAP_FAULT_LOOP_LOW);
    assert_int_equal(conc_bits(), 0x7FC00000);
    assert_int_equal(reg(REGMAP_ADDR_CONC_X10), 0);
    assert_int_equal(reg(REGMAP_ADDR_LOOP_X100), 300);

    set_loop(19000); /* alarms up, then a high fault clears them */
    assert_int_equal(reg(REGMAP_ADDR_STATUS), REGMAP_STATUS_L1 | REGMAP_STATUS_L2);
    set_loop(22000);
    assert_int_equal(reg(REGMAP_ADDR_STATUS), REGMAP_STATUS_FAULT);
    assert_int_equal(reg(REGMAP_ADDR_FAULT_CODE), REGMAP_FAULT_LOOP_HIGH);

    now += 100;
    node_update(node, now, -ETIMEDOUT);
    assert_int_equal(reg(REGMAP_ADDR_FAULT_CODE), REGMAP_FAULT_ADC);
    assert_int_equal(reg(REGMAP_ADDR_LOOP_X100), 0);

    set_loop(4000);
    assert_int_equal(reg(REGMAP_ADDR_STATUS), 0);
    assert_int_equal(reg(REGMAP_ADDR_FAULT_CODE), REGMAP_FAULT_NONE);
}

static void test_range_bits(void **state)
{
    (void)state;
    set_loop(3700);
    assert_int_equal(reg(REGMAP_ADDR_STATUS), REGMAP_STATUS_UNDER_RANGE);
    assert_int_equal(reg(REGMAP_ADDR_CONC_X10), 0);
    set_loop(3900);
    assert_int_equal(reg(REGMAP_ADDR_STATUS), 0);
    set_loop(20600);
    assert_int_equal(reg(REGMAP_ADDR_STATUS),
                     REGMAP_STATUS_OVER_RANGE | REGMAP_STATUS_L1 | REGMAP_STATUS_L2);
    assert_true(reg(REGMAP_ADDR_CONC_X10) > 1000);
}

static int32_t ua_for_x10(uint16_t x10)
{
    return sensor_milli_to_ua((int32_t)x10 * 100, 1000);
}

static void test_alarm_hysteresis(void **state)
{
    (void)state;
    /* L1 20.0, deadband 1 % of 100.0 = 1.0. The ADC's 6.7 uA steps are 0.04 units. */
    set_loop(ua_for_x10(198));
    assert_int_equal(reg(REGMAP_ADDR_STATUS), 0);
    set_loop(ua_for_x10(201));
    assert_int_equal(reg(REGMAP_ADDR_STATUS), REGMAP_STATUS_L1);
    set_loop(ua_for_x10(192));
    assert_int_equal(reg(REGMAP_ADDR_STATUS), REGMAP_STATUS_L1);
    set_loop(ua_for_x10(188));
    assert_int_equal(reg(REGMAP_ADDR_STATUS), 0);
    set_loop(ua_for_x10(401));
    assert_int_equal(reg(REGMAP_ADDR_STATUS), REGMAP_STATUS_L1 | REGMAP_STATUS_L2);
}

static void test_inhibit(void **state)
{
    (void)state;
    set_loop(19000);
    assert_int_equal(wr1(REGMAP_ADDR_INHIBIT, 1), 0);
    assert_int_equal(reg(REGMAP_ADDR_STATUS), REGMAP_STATUS_INHIBIT);
    /* 19 mA is 93.75 units; the ADC's steps put it a little lower. */
    assert_in_range(reg(REGMAP_ADDR_CONC_X10), 936, 938);
    assert_int_equal(wr1(REGMAP_ADDR_INHIBIT, 0), 0);
    assert_int_equal(reg(REGMAP_ADDR_STATUS), REGMAP_STATUS_L1 | REGMAP_STATUS_L2);
    assert_int_equal(wr1(REGMAP_ADDR_INHIBIT, 2), -ERANGE);
}

static void test_test_mode(void **state)
{
    (void)state;
    set_loop(4000);
    assert_int_equal(wr1(REGMAP_ADDR_TEST_CONC_X10, 450), 0);
    assert_int_equal(reg(REGMAP_ADDR_STATUS), 0); /* not in test mode yet */
    assert_int_equal(wr1(REGMAP_ADDR_TEST_MODE, REGMAP_TEST_KEY), 0);
    assert_int_equal(reg(REGMAP_ADDR_STATUS),
                     REGMAP_STATUS_TEST | REGMAP_STATUS_L1 | REGMAP_STATUS_L2);
    assert_int_equal(reg(REGMAP_ADDR_TEST_MODE), 1);
    assert_int_equal(reg(REGMAP_ADDR_CONC_X10), 450);
    assert_int_equal(conc_bits(), 0x42340000); /* 45.0 exactly */
    assert_int_equal(reg(REGMAP_ADDR_LOOP_X100), 1120);
    assert_int_equal(reg(REGMAP_ADDR_TEST_LEFT_S), 300);

    advance(299000, 4000);
    assert_int_equal(reg(REGMAP_ADDR_TEST_LEFT_S), 1);
    assert_true(reg(REGMAP_ADDR_STATUS) & REGMAP_STATUS_TEST);
    advance(1000, 4000);
    assert_int_equal(reg(REGMAP_ADDR_STATUS), 0);
    assert_int_equal(reg(REGMAP_ADDR_TEST_MODE), 0);
    assert_int_equal(reg(REGMAP_ADDR_TEST_LEFT_S), 0);
    assert_int_equal(reg(REGMAP_ADDR_CONC_X10), 0);
}

static void test_test_mode_end_and_refusals(void **state)
{
    const uint16_t start[] = {REGMAP_TEST_KEY, 1234, 10};

    (void)state;
    /* Key, value and timeout in one request: the timeout applies to this start. */
    assert_int_equal(wr(REGMAP_ADDR_TEST_MODE, 3, start, false), 0);
    assert_int_equal(reg(REGMAP_ADDR_TEST_LEFT_S), 10);
    assert_int_equal(reg(REGMAP_ADDR_STATUS), REGMAP_STATUS_TEST | REGMAP_STATUS_L1 |
                                                  REGMAP_STATUS_L2 |
                                                  REGMAP_STATUS_OVER_RANGE);
    assert_int_equal(wr1(REGMAP_ADDR_TEST_MODE, 0), 0);
    assert_int_equal(reg(REGMAP_ADDR_STATUS), 0);

    assert_int_equal(wr1(REGMAP_ADDR_TEST_MODE, 1), -ERANGE);
    assert_int_equal(wr1(REGMAP_ADDR_TEST_MODE, 0xFFFF), -ERANGE);
    assert_int_equal(wr1(REGMAP_ADDR_TEST_TIMEOUT_S, 0), -ERANGE);
    assert_int_equal(wr1(REGMAP_ADDR_TEST_TIMEOUT_S, 3601), -ERANGE);

    /* A node in fault refuses to start a proof test: a device failure. */
    set_loop(2000);
    assert_int_equal(wr1(REGMAP_ADDR_TEST_MODE, REGMAP_TEST_KEY), -EIO);
    assert_int_equal(reg(REGMAP_ADDR_STATUS), REGMAP_STATUS_FAULT);
    /* Ending a test is always allowed. */
    assert_int_equal(wr1(REGMAP_ADDR_TEST_MODE, 0), 0);
}

static void test_write_validation(void **state)
{
    const uint16_t two[] = {100, 300};
    const uint16_t three_bad[] = {150, 350, 248};

    (void)state;
    assert_int_equal(wr1(REGMAP_ADDR_STATUS, 0), -ENXIO);
    assert_int_equal(wr1(REGMAP_ADDR_MAP_VERSION, 2), -ENXIO);
    assert_int_equal(wr1(REGMAP_ADDR_TEST_LEFT_S, 5), -ENXIO);
    assert_int_equal(wr1(12, 0), -ENXIO);
    assert_int_equal(wr1(25, 0), -ENXIO);
    assert_int_equal(wr1(0xFFFF, 0), -ENXIO);
    assert_int_equal(wr1(REGMAP_ADDR_UNIT_ID, 0), -ERANGE);
    assert_int_equal(wr1(REGMAP_ADDR_UNIT_ID, 248), -ERANGE);
    assert_int_equal(wr1(REGMAP_ADDR_L1_X10, 0), -ERANGE);
    assert_int_equal(wr1(REGMAP_ADDR_RANGE_X10, 0), -ERANGE);

    assert_int_equal(wr(REGMAP_ADDR_L1_X10, 2, two, false), 0);
    assert_int_equal(reg(REGMAP_ADDR_L1_X10), 100);
    assert_int_equal(reg(REGMAP_ADDR_L2_X10), 300);
    /* One bad value refuses the whole request. */
    assert_int_equal(wr(REGMAP_ADDR_L1_X10, 3, three_bad, false), -ERANGE);
    assert_int_equal(reg(REGMAP_ADDR_L1_X10), 100);
    assert_int_equal(reg(REGMAP_ADDR_L2_X10), 300);
    assert_int_equal(reg(REGMAP_ADDR_UNIT_ID), 7);
    /* So does a read-only register in the middle of a range. */
    assert_int_equal(wr(REGMAP_ADDR_TEST_TIMEOUT_S, 2, two, false), -ENXIO);
    assert_int_equal(reg(REGMAP_ADDR_TEST_TIMEOUT_S), 300);
}

static void test_unit_id(void **state)
{
    const uint16_t id = 42;

    (void)state;
    /* A broadcast may not give every node on the line the same address. */
    assert_int_equal(wr(REGMAP_ADDR_UNIT_ID, 1, &id, true), -EPERM);
    assert_int_equal(node_unit_id(node), 7);
    assert_int_equal(wr(REGMAP_ADDR_UNIT_ID, 1, &id, false), 0);
    assert_int_equal(node_unit_id(node), 42);
    /* Other broadcast writes apply. */
    assert_int_equal(wr(REGMAP_ADDR_INHIBIT, 1, (const uint16_t[]){1}, true), 0);
    assert_int_equal(reg(REGMAP_ADDR_INHIBIT), 1);
}

static void test_reads(void **state)
{
    const struct mbpdu_slave *s = node_slave(node);
    uint16_t out[REGMAP_HOLDING_COUNT];

    (void)state;
    assert_int_equal(s->read(s->ctx, MBPDU_TABLE_HOLDING, 0, REGMAP_HOLDING_COUNT, out),
                     0);
    assert_int_equal(out[REGMAP_ADDR_UNIT_ID], 7);
    assert_int_equal(s->read(s->ctx, MBPDU_TABLE_INPUT, 0, REGMAP_HOLDING_COUNT, out), 0);
    assert_int_equal(out[REGMAP_ADDR_MAP_VERSION], REGMAP_VERSION);
    assert_int_equal(
        s->read(s->ctx, MBPDU_TABLE_HOLDING, REGMAP_HOLDING_COUNT - 1, 2, out), -ENXIO);
    assert_int_equal(s->read(s->ctx, MBPDU_TABLE_INPUT, 100, 1, out), -ENXIO);
}

static void test_heartbeat(void **state)
{
    (void)state;
    assert_int_equal(reg(REGMAP_ADDR_HEARTBEAT), 0);
    advance(900, 4000);
    assert_int_equal(reg(REGMAP_ADDR_HEARTBEAT), 0);
    advance(100, 4000);
    assert_int_equal(reg(REGMAP_ADDR_HEARTBEAT), 1);
    /* Irregular updates lose no second. */
    for (int i = 0; i < 33; i++) {
        now += 300;
        set_loop(4000);
    }
    assert_int_equal(reg(REGMAP_ADDR_HEARTBEAT), 10);
    /* It wraps at 65536 seconds, and survives the millisecond clock wrapping. */
    now = 0xFFFFFC18u;
    set_loop(4000);
    {
        uint16_t before = reg(REGMAP_ADDR_HEARTBEAT);

        now += 65537u * 1000u;
        set_loop(4000);
        assert_int_equal(reg(REGMAP_ADDR_HEARTBEAT), (uint16_t)(before + 1u));
    }
}

static void test_bad_config_and_pool(void **state)
{
    struct node_config cfg;
    struct node *all[PG_FW_MAX_NODES];
    size_t i;

    (void)state;
    node_default_config(&cfg);
    cfg.unit_id = 0;
    assert_null(node_new(&cfg, 0));
    cfg.unit_id = 248;
    assert_null(node_new(&cfg, 0));
    cfg.unit_id = 1;
    cfg.units = 9;
    assert_null(node_new(&cfg, 0));
    cfg.units = REGMAP_UNIT_PPM;
    cfg.range_x10 = 0;
    assert_null(node_new(&cfg, 0));
    assert_null(node_new(NULL, 0));
    node_free(NULL);

    cfg.range_x10 = 1000;
    for (i = 0; i + 1 < PG_FW_MAX_NODES; i++) {
        all[i] = node_new(&cfg, 0);
        assert_non_null(all[i]);
    }
    assert_null(node_new(&cfg, 0));
    for (size_t k = 0; k < i; k++)
        node_free(all[k]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sensor_conversions),
        cmocka_unit_test(test_sensor_bands),
        cmocka_unit_test(test_sensor_alarm_hysteresis),
        cmocka_unit_test_setup_teardown(test_identity_and_defaults, setup_warm, teardown),
        cmocka_unit_test_setup_teardown(test_measurement, setup_warm, teardown),
        cmocka_unit_test_setup_teardown(test_warmup, setup_warm, teardown),
        cmocka_unit_test_setup_teardown(test_faults, setup_warm, teardown),
        cmocka_unit_test_setup_teardown(test_range_bits, setup_warm, teardown),
        cmocka_unit_test_setup_teardown(test_alarm_hysteresis, setup_warm, teardown),
        cmocka_unit_test_setup_teardown(test_inhibit, setup_warm, teardown),
        cmocka_unit_test_setup_teardown(test_test_mode, setup_warm, teardown),
        cmocka_unit_test_setup_teardown(test_test_mode_end_and_refusals, setup_warm,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_write_validation, setup_warm, teardown),
        cmocka_unit_test_setup_teardown(test_unit_id, setup_warm, teardown),
        cmocka_unit_test_setup_teardown(test_reads, setup_warm, teardown),
        cmocka_unit_test_setup_teardown(test_heartbeat, setup_warm, teardown),
        cmocka_unit_test_setup_teardown(test_bad_config_and_pool, setup_warm, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
