/*
 * Unit tests for codec: register widths, uint16/int16 decoding at the edges of the
 * 16-bit range, and the decimal-scale property: a scale of 0.1 (0.01, 0.001, ...) must
 * give the double nearest the decimal value, for every raw register value, not just for
 * the lucky ones where raw * 0.1 happens to round right.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"

static struct config_point point(enum config_regtype type, double scale, double offset)
{
    struct config_point pt;

    memset(&pt, 0, sizeof(pt));
    (void)snprintf(pt.id, sizeof(pt.id), "test.point");
    pt.type = type;
    pt.scale = scale;
    pt.offset = offset;
    return pt;
}

static double decode1(enum config_regtype type, double scale, double offset, uint16_t raw)
{
    struct config_point pt = point(type, scale, offset);

    return codec_decode(&pt, &raw);
}

/* Exact comparison, with both values in the message when it fails. */
#define assert_double_exact(got, want)                                                   \
    do {                                                                                 \
        double got_ = (got), want_ = (want);                                             \
        if (!(got_ == want_))                                                            \
            fail_msg("%s = %.17g, want %.17g", #got, got_, want_);                       \
    } while (0)

static void test_width(void **state)
{
    (void)state;
    assert_int_equal(codec_width(CONFIG_REG_UINT16), 1);
    assert_int_equal(codec_width(CONFIG_REG_INT16), 1);
}

static void test_uint16_identity(void **state)
{
    (void)state;
    assert_double_exact(decode1(CONFIG_REG_UINT16, 1.0, 0.0, 0), 0.0);
    assert_double_exact(decode1(CONFIG_REG_UINT16, 1.0, 0.0, 1), 1.0);
    assert_double_exact(decode1(CONFIG_REG_UINT16, 1.0, 0.0, 32767), 32767.0);
    assert_double_exact(decode1(CONFIG_REG_UINT16, 1.0, 0.0, 32768), 32768.0);
    assert_double_exact(decode1(CONFIG_REG_UINT16, 1.0, 0.0, 65535), 65535.0);
}

static void test_int16_identity(void **state)
{
    (void)state;
    assert_double_exact(decode1(CONFIG_REG_INT16, 1.0, 0.0, 0), 0.0);
    assert_double_exact(decode1(CONFIG_REG_INT16, 1.0, 0.0, 1), 1.0);
    assert_double_exact(decode1(CONFIG_REG_INT16, 1.0, 0.0, 32767), 32767.0);
    /* Two's complement: the top bit is the sign. */
    assert_double_exact(decode1(CONFIG_REG_INT16, 1.0, 0.0, 32768), -32768.0);
    assert_double_exact(decode1(CONFIG_REG_INT16, 1.0, 0.0, 32769), -32767.0);
    assert_double_exact(decode1(CONFIG_REG_INT16, 1.0, 0.0, 65534), -2.0);
    assert_double_exact(decode1(CONFIG_REG_INT16, 1.0, 0.0, 65535), -1.0);
}

static void test_scale_tenth(void **state)
{
    (void)state;
    /* The case in the codec's comment: 273 * 0.1 must read 27.3, the literal. */
    assert_double_exact(decode1(CONFIG_REG_UINT16, 0.1, 0.0, 273), 27.3);
    /* 3 * 0.1 is 0.30000000000000004 in binary; the codec must give 0.3. */
    assert_double_exact(decode1(CONFIG_REG_UINT16, 0.1, 0.0, 3), 0.3);
    assert_double_exact(decode1(CONFIG_REG_UINT16, 0.1, 0.0, 7), 0.7);
    assert_double_exact(decode1(CONFIG_REG_UINT16, 0.1, 0.0, 0), 0.0);
    assert_double_exact(decode1(CONFIG_REG_UINT16, 0.1, 0.0, 65535), 6553.5);
    assert_double_exact(decode1(CONFIG_REG_INT16, 0.1, 0.0, 273), 27.3);
    assert_double_exact(decode1(CONFIG_REG_INT16, 0.1, 0.0, 65535), -0.1);
    assert_double_exact(decode1(CONFIG_REG_INT16, 0.1, 0.0, 65533), -0.3);
    assert_double_exact(decode1(CONFIG_REG_INT16, 0.1, 0.0, 32767), 3276.7);
    assert_double_exact(decode1(CONFIG_REG_INT16, 0.1, 0.0, 32768), -3276.8);
}

static void test_scale_hundredth(void **state)
{
    (void)state;
    assert_double_exact(decode1(CONFIG_REG_UINT16, 0.01, 0.0, 2731), 27.31);
    assert_double_exact(decode1(CONFIG_REG_UINT16, 0.01, 0.0, 65535), 655.35);
    assert_double_exact(decode1(CONFIG_REG_UINT16, 0.01, 0.0, 7), 0.07);
    assert_double_exact(decode1(CONFIG_REG_INT16, 0.01, 0.0, 32768), -327.68);
    assert_double_exact(decode1(CONFIG_REG_INT16, 0.01, 0.0, 65535), -0.01);
}

/*
 * Every raw value against an independent oracle: strtod() of the decimal text, which is
 * by definition the double nearest the decimal value.
 */
static void exhaustive_decimal(enum config_regtype type, double scale, unsigned digits)
{
    unsigned div = 1;

    for (unsigned d = 0; d < digits; d++)
        div *= 10;
    for (uint32_t r = 0; r <= 0xffff; r++) {
        uint16_t raw = (uint16_t)r;
        long v = type == CONFIG_REG_INT16 ? (long)(int16_t)raw : (long)raw;
        unsigned long mag = (unsigned long)(v < 0 ? -v : v);
        char text[32];
        double want, got;

        (void)snprintf(text, sizeof(text), "%s%lu.%0*lu", v < 0 ? "-" : "", mag / div,
                       (int)digits, mag % div);
        want = strtod(text, NULL);
        got = decode1(type, scale, 0.0, raw);
        if (!(got == want))
            fail_msg("scale %.17g raw %u: got %.17g, want %s", scale, (unsigned)raw, got,
                     text);
    }
}

static void test_scale_decimal_exhaustive(void **state)
{
    (void)state;
    exhaustive_decimal(CONFIG_REG_UINT16, 0.1, 1);
    exhaustive_decimal(CONFIG_REG_INT16, 0.1, 1);
    exhaustive_decimal(CONFIG_REG_UINT16, 0.01, 2);
    exhaustive_decimal(CONFIG_REG_INT16, 0.01, 2);
    exhaustive_decimal(CONFIG_REG_UINT16, 0.001, 3);
    exhaustive_decimal(CONFIG_REG_INT16, 0.0001, 4);
}

static void test_scale_integer_and_binary_fractions(void **state)
{
    (void)state;
    assert_double_exact(decode1(CONFIG_REG_UINT16, 2.0, 0.0, 65535), 131070.0);
    assert_double_exact(decode1(CONFIG_REG_INT16, 2.0, 0.0, 32768), -65536.0);
    assert_double_exact(decode1(CONFIG_REG_UINT16, 10.0, 0.0, 6553), 65530.0);
    assert_double_exact(decode1(CONFIG_REG_UINT16, 0.5, 0.0, 3), 1.5);
    assert_double_exact(decode1(CONFIG_REG_UINT16, 0.25, 0.0, 273), 68.25);
    assert_double_exact(decode1(CONFIG_REG_INT16, 0.25, 0.0, 65535), -0.25);
    /* 0.2 and 0.05 are 1/5 and 1/20: the same exact-division path as 0.1. */
    assert_double_exact(decode1(CONFIG_REG_UINT16, 0.2, 0.0, 3), 0.6);
    assert_double_exact(decode1(CONFIG_REG_UINT16, 0.05, 0.0, 7), 0.35);
}

static void test_negative_scale(void **state)
{
    (void)state;
    assert_double_exact(decode1(CONFIG_REG_UINT16, -1.0, 0.0, 5), -5.0);
    assert_double_exact(decode1(CONFIG_REG_UINT16, -0.1, 0.0, 273), -27.3);
    assert_double_exact(decode1(CONFIG_REG_UINT16, -0.1, 0.0, 3), -0.3);
    assert_double_exact(decode1(CONFIG_REG_INT16, -0.1, 0.0, 65535), 0.1);
}

static void test_offset(void **state)
{
    (void)state;
    /* A common temperature transmitter mapping: raw 0.1 degC steps from -40 degC. */
    assert_double_exact(decode1(CONFIG_REG_UINT16, 0.1, -40.0, 0), -40.0);
    assert_double_exact(decode1(CONFIG_REG_UINT16, 0.1, -40.0, 400), 0.0);
    assert_double_exact(decode1(CONFIG_REG_UINT16, 0.1, -40.0, 650), 25.0);
    assert_double_exact(decode1(CONFIG_REG_UINT16, 0.1, -40.0, 1650), 125.0);
    assert_double_exact(decode1(CONFIG_REG_UINT16, 1.0, -40.0, 65535), 65495.0);
    assert_double_exact(decode1(CONFIG_REG_INT16, 1.0, -40.0, 65535), -41.0);
    assert_double_exact(decode1(CONFIG_REG_INT16, 2.0, 100.0, 32768), -65436.0);
    assert_double_exact(decode1(CONFIG_REG_UINT16, 1.0, 0.5, 1), 1.5);
    /* Offset is added after scaling: (273 / 10) + 1000, not (273 + 1000) / 10. */
    assert_double_exact(decode1(CONFIG_REG_UINT16, 0.1, 1000.0, 273), 27.3 + 1000.0);
}

static void test_scale_zero(void **state)
{
    (void)state;
    /* config rejects scale 0, but the codec must still not divide by it. */
    assert_double_exact(decode1(CONFIG_REG_UINT16, 0.0, 0.0, 65535), 0.0);
    assert_double_exact(decode1(CONFIG_REG_UINT16, 0.0, 7.0, 123), 7.0);
}

static void test_only_first_register_read(void **state)
{
    /* A 1-register type must ignore the words after it. */
    struct config_point pt = point(CONFIG_REG_UINT16, 1.0, 0.0);
    const uint16_t regs[2] = {1234, 0xffff};

    (void)state;
    assert_double_exact(codec_decode(&pt, regs), 1234.0);
    pt.type = CONFIG_REG_INT16;
    assert_double_exact(codec_decode(&pt, regs), 1234.0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_width),
        cmocka_unit_test(test_uint16_identity),
        cmocka_unit_test(test_int16_identity),
        cmocka_unit_test(test_scale_tenth),
        cmocka_unit_test(test_scale_hundredth),
        cmocka_unit_test(test_scale_decimal_exhaustive),
        cmocka_unit_test(test_scale_integer_and_binary_fractions),
        cmocka_unit_test(test_negative_scale),
        cmocka_unit_test(test_offset),
        cmocka_unit_test(test_scale_zero),
        cmocka_unit_test(test_only_first_register_read),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
