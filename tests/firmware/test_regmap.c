/*
 * Contract tests of hw/regmap, in two parts.
 *
 * The table: the properties a gateway relies on when it plans reads from regmap.def
 * alone. Addresses sorted and disjoint, registers 0 and 1 where they must stay, the whole
 * map readable in one request, widths that match types, sane write ranges, unique names,
 * bits, fault codes and units.
 *
 * The encoding: the firmware's node core encodes registers for many loop currents,
 * ranges, units and modes; a decoder that knows nothing but the regmap table (type,
 * scale, word order, the status-bit, fault and units lists) decodes them, and the result
 * must be the physical value the node was given. Every register of the map is exercised;
 * a register added to the .def without being covered here fails the test.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "node.h"
#include "regmap.h"
#include "sensor.h"

#define MAX_READ 125

/* ---- the table ---- */

static void test_table_layout(void **state)
{
    unsigned end = 0;

    (void)state;
    assert_int_equal(REGMAP_VERSION, 1);
    assert_int_equal(regmap_regs[0].address, 0);
    assert_string_equal(regmap_regs[0].name, "MAP_VERSION");
    assert_int_equal(regmap_regs[1].address, 1);
    assert_string_equal(regmap_regs[1].name, "NODE_TYPE");
    for (size_t i = 0; i < REGMAP_ID_COUNT; i++) {
        const struct regmap_reg *r = &regmap_regs[i];
        unsigned want_width = r->type == REGMAP_TYPE_F32 ? 2 : 1;

        if (r->address < end)
            fail_msg("%s at %u overlaps or is out of order", r->name, r->address);
        assert_int_equal(r->width, want_width);
        assert_int_equal(r->table, REGMAP_TABLE_HOLDING);
        assert_true(r->scale > 0.0);
        assert_non_null(r->doc);
        assert_true(r->doc[0] != '\0');
        if (r->type != REGMAP_TYPE_F32)
            assert_true(r->min <= r->max);
        if (r->access == REGMAP_ACCESS_RW)
            assert_int_not_equal(r->type, REGMAP_TYPE_F32); /* no torn float writes */
        end = (unsigned)r->address + r->width;
    }
    assert_int_equal(end, REGMAP_HOLDING_COUNT);
    /* A gateway reads the whole map in one FC 03 request. */
    assert_true(REGMAP_HOLDING_COUNT <= MAX_READ);
}

static void test_table_names_and_lookups(void **state)
{
    (void)state;
    for (size_t i = 0; i < REGMAP_ID_COUNT; i++) {
        const struct regmap_reg *r = &regmap_regs[i];

        for (const char *c = r->name; *c != '\0'; c++)
            assert_true((*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
                        *c == '_');
        assert_ptr_equal(regmap_by_name(r->name), r);
        for (unsigned w = 0; w < r->width; w++)
            assert_ptr_equal(regmap_at((uint16_t)(r->address + w)), r);
    }
    assert_null(regmap_by_name("NO_SUCH_REGISTER"));
    assert_null(regmap_at(REGMAP_HOLDING_COUNT));
    for (uint16_t a = 10; a < 16; a++)
        assert_null(regmap_at(a)); /* reserved */
    assert_int_equal(REGMAP_ADDR_CONC, 4);
    assert_int_equal(REGMAP_ADDR_CONC_X10, 6);
    assert_int_equal(REGMAP_ADDR_LOOP_X100, 7);
    assert_int_equal(REGMAP_ADDR_UNITS, 9);
    assert_int_equal(REGMAP_ADDR_TEST_MODE, 16);
}

static void check_unique(const struct regmap_named *list, size_t n, unsigned limit)
{
    for (size_t i = 0; i < n; i++) {
        assert_true(list[i].value < limit);
        for (size_t k = i + 1; k < n; k++) {
            assert_int_not_equal(list[i].value, list[k].value);
            assert_string_not_equal(list[i].name, list[k].name);
        }
    }
}

static void test_table_lists(void **state)
{
    (void)state;
    check_unique(regmap_status_bits, regmap_status_bit_count, 16);
    check_unique(regmap_faults, regmap_fault_count, 65536);
    check_unique(regmap_units, regmap_unit_count, 65536);
    assert_int_equal(regmap_faults[0].value, 0);
    assert_string_equal(regmap_faults[0].name, "NONE");
    /* The contract's bit numbers. */
    assert_int_equal(REGMAP_STATUS_WARMUP, 1 << 0);
    assert_int_equal(REGMAP_STATUS_FAULT, 1 << 1);
    assert_int_equal(REGMAP_STATUS_INHIBIT, 1 << 2);
    assert_int_equal(REGMAP_STATUS_TEST, 1 << 3);
    assert_int_equal(REGMAP_STATUS_L1, 1 << 4);
    assert_int_equal(REGMAP_STATUS_L2, 1 << 5);
    assert_int_equal(REGMAP_STATUS_OVER_RANGE, 1 << 6);
    assert_int_equal(REGMAP_STATUS_UNDER_RANGE, 1 << 7);
    assert_string_equal(regmap_unit_label(REGMAP_UNIT_LEL), "%LEL");
    assert_string_equal(regmap_unit_label(REGMAP_UNIT_PPM), "ppm");
    assert_string_equal(regmap_unit_label(REGMAP_UNIT_VOL), "%VOL");
    assert_null(regmap_unit_label(0));
}

/* ---- the encoding, decoded the way a gateway would ---- */

static bool covered[REGMAP_ID_COUNT];

/* Decode one register from an image read over the wire, knowing only the table. */
static double decode(const uint16_t *image, const char *name)
{
    const struct regmap_reg *r = regmap_by_name(name);
    uint32_t bits;
    float f;

    assert_non_null(r);
    covered[r - regmap_regs] = true;
    switch (r->type) {
    case REGMAP_TYPE_U16:
    case REGMAP_TYPE_BITS16:
        return image[r->address] * r->scale;
    case REGMAP_TYPE_F32:
        /* ABCD: the first register carries the high half. */
        bits = ((uint32_t)image[r->address] << 16) | image[r->address + 1];
        memcpy(&f, &bits, sizeof(f));
        return (double)f * r->scale;
    }
    fail_msg("%s: unknown type", name);
    return NAN;
}

/* The raw value a gateway writes for an engineering value. */
static uint16_t encode(const char *name, double value)
{
    const struct regmap_reg *r = regmap_by_name(name);

    assert_non_null(r);
    return (uint16_t)lround(value / r->scale);
}

static bool status_has(const uint16_t *image, const char *bit)
{
    unsigned status = (unsigned)decode(image, "STATUS");

    for (size_t i = 0; i < regmap_status_bit_count; i++) {
        if (strcmp(regmap_status_bits[i].name, bit) == 0)
            return (status >> regmap_status_bits[i].value) & 1u;
    }
    fail_msg("no status bit %s", bit);
    return false;
}

static const char *fault_name(const uint16_t *image)
{
    unsigned code = (unsigned)decode(image, "FAULT_CODE");

    for (size_t i = 0; i < regmap_fault_count; i++) {
        if (regmap_faults[i].value == code)
            return regmap_faults[i].name;
    }
    return "?";
}

static struct node *node;
static uint16_t image[REGMAP_HOLDING_COUNT];
static uint32_t now_ms;

/* Read the whole map the way a gateway does: one request from address 0. */
static void read_image(void)
{
    const struct mbpdu_slave *s = node_slave(node);

    assert_int_equal(s->read(s->ctx, MBPDU_TABLE_HOLDING, 0, REGMAP_HOLDING_COUNT, image),
                     0);
}

static void write_reg(const char *name, uint16_t raw)
{
    const struct mbpdu_slave *s = node_slave(node);

    assert_int_equal(s->write(s->ctx, regmap_by_name(name)->address, 1, &raw, false), 0);
}

static void feed_ma(double ma)
{
    now_ms += 100;
    node_update(node, now_ms, sensor_ua_to_counts((int32_t)lround(ma * 1000.0)));
    read_image();
}

static void start_node(uint16_t units, double range, uint16_t warmup_s)
{
    struct node_config cfg;

    node_default_config(&cfg);
    cfg.unit_id = 3;
    cfg.units = units;
    cfg.range_x10 = (uint16_t)lround(range * 10.0);
    cfg.warmup_s = warmup_s;
    now_ms = 0;
    node = node_new(&cfg, now_ms);
    assert_non_null(node);
}

/* One ADC count is 6.7 uA, 0.042 % of span; the x10 register adds 0.05 units. */
static double span_tolerance(double range)
{
    return range * 0.00042 + 1e-9;
}

static void test_encoding_sweep(void **state)
{
    static const struct {
        uint16_t units;
        double range;
        const char *label;
    } setups[] = {
        {REGMAP_UNIT_LEL, 100.0, "%LEL"},
        {REGMAP_UNIT_PPM, 100.0, "ppm"},
        {REGMAP_UNIT_PPM, 1000.0, "ppm"},
        {REGMAP_UNIT_VOL, 5.0, "%VOL"},
    };

    (void)state;
    for (size_t s = 0; s < sizeof(setups) / sizeof(setups[0]); s++) {
        double range = setups[s].range;

        start_node(setups[s].units, range, 0);
        for (double ma = 3.85; ma <= 20.5; ma += 0.0137) {
            double want = ma < 4.0 ? 0.0 : (ma - 4.0) / 16.0 * range;
            double conc, conc10, loop;

            feed_ma(ma);
            conc = decode(image, "CONC");
            conc10 = decode(image, "CONC_X10");
            loop = decode(image, "LOOP_X100");
            if (fabs(conc - want) > span_tolerance(range))
                fail_msg("%.4f mA on 0..%g: CONC %.5f, want %.5f", ma, range, conc, want);
            if (fabs(conc10 - conc) > 0.05 + 1e-6 * (1.0 + fabs(conc)))
                fail_msg("%.4f mA: CONC_X10 %.2f disagrees with CONC %.5f", ma, conc10,
                         conc);
            /* Half a count (3.4 uA) plus the register's rounding (5 uA). */
            assert_true(fabs(loop - ma) <= 0.0095);
            assert_string_equal(fault_name(image), "NONE");
            assert_false(status_has(image, "FAULT"));
            /* Within half a count of 20 mA either answer is right. */
            if (fabs(ma - 20.0) > 0.004)
                assert_int_equal(status_has(image, "OVER_RANGE"), ma > 20.0);
            assert_string_equal(regmap_unit_label((unsigned)decode(image, "UNITS")),
                                setups[s].label);
            assert_true(fabs(decode(image, "RANGE_X10") - range) < 1e-9);
        }
        node_free(node);
    }
}

static void test_encoding_identity_and_faults(void **state)
{
    (void)state;
    start_node(REGMAP_UNIT_LEL, 100.0, 2);
    feed_ma(12.0);
    assert_true(decode(image, "MAP_VERSION") == REGMAP_VERSION);
    assert_true(decode(image, "NODE_TYPE") == REGMAP_NODE_TYPE_GAS);
    assert_true(status_has(image, "WARMUP"));
    for (int i = 0; i < 20; i++)
        feed_ma(12.0);
    assert_false(status_has(image, "WARMUP"));
    assert_true(decode(image, "HEARTBEAT") == 2.0);

    feed_ma(3.0);
    assert_true(status_has(image, "FAULT"));
    assert_string_equal(fault_name(image), "LOOP_LOW");
    assert_true(isnan(decode(image, "CONC")));
    assert_true(decode(image, "CONC_X10") == 0.0);
    feed_ma(22.0);
    assert_string_equal(fault_name(image), "LOOP_HIGH");
    now_ms += 100;
    node_update(node, now_ms, -5);
    read_image();
    assert_string_equal(fault_name(image), "ADC");
    feed_ma(3.7);
    assert_true(status_has(image, "UNDER_RANGE"));
    assert_string_equal(fault_name(image), "NONE");
    node_free(node);
}

static void test_encoding_configuration(void **state)
{
    (void)state;
    start_node(REGMAP_UNIT_PPM, 100.0, 0);
    feed_ma(4.0);
    assert_true(decode(image, "UNIT_ID") == 3.0);

    /* The gateway writes engineering values through the table's scale. */
    write_reg("L1_X10", encode("L1_X10", 10.5));
    write_reg("L2_X10", encode("L2_X10", 25.0));
    write_reg("INHIBIT", 1);
    write_reg("UNIT_ID", 9);
    feed_ma(4.0 + 16.0 * 0.12); /* 12 ppm: above L1 but inhibited */
    assert_true(fabs(decode(image, "L1_X10") - 10.5) < 1e-9);
    assert_true(fabs(decode(image, "L2_X10") - 25.0) < 1e-9);
    assert_true(status_has(image, "INHIBIT"));
    assert_true(decode(image, "INHIBIT") == 1.0);
    assert_false(status_has(image, "L1"));
    assert_true(decode(image, "UNIT_ID") == 9.0);
    assert_int_equal(node_unit_id(node), 9);
    write_reg("INHIBIT", 0);
    read_image();
    assert_true(status_has(image, "L1"));
    assert_false(status_has(image, "L2"));

    /* Proof test: inject 30.0 ppm for 60 s. */
    write_reg("TEST_CONC_X10", encode("TEST_CONC_X10", 30.0));
    write_reg("TEST_TIMEOUT_S", encode("TEST_TIMEOUT_S", 60));
    write_reg("TEST_MODE", REGMAP_TEST_KEY);
    read_image();
    assert_true(decode(image, "TEST_MODE") == 1.0);
    assert_true(fabs(decode(image, "TEST_CONC_X10") - 30.0) < 1e-9);
    assert_true(decode(image, "TEST_TIMEOUT_S") == 60.0);
    assert_true(decode(image, "TEST_LEFT_S") == 60.0);
    assert_true(status_has(image, "TEST"));
    assert_true(status_has(image, "L2"));
    assert_true(decode(image, "CONC") == 30.0);
    assert_true(fabs(decode(image, "CONC_X10") - 30.0) < 1e-9);
    assert_true(fabs(decode(image, "LOOP_X100") - 8.8) < 1e-9);
    node_free(node);
}

static void test_every_register_covered(void **state)
{
    (void)state;
    for (size_t i = 0; i < REGMAP_ID_COUNT; i++) {
        if (!covered[i])
            fail_msg("register %s is not decoded by any contract test",
                     regmap_regs[i].name);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_layout),
        cmocka_unit_test(test_table_names_and_lookups),
        cmocka_unit_test(test_table_lists),
        cmocka_unit_test(test_encoding_sweep),
        cmocka_unit_test(test_encoding_identity_and_faults),
        cmocka_unit_test(test_encoding_configuration),
        cmocka_unit_test(test_every_register_covered),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
