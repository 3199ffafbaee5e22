/*
 * Unit tests for codec, as tables: every type in every byte order against known byte
 * patterns (and against an independent layout written from the order's name), sentinels,
 * the NE 43 band edges and vendor status currents, decimal-places registers 0..6 and the
 * invalid ones, every bit of a status word, status rules and heartbeats. The decimal
 * scale property is checked exhaustively: a scale of 0.1 (0.01, ...) or a decimals
 * register must give the double nearest the decimal value for every raw register value.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"

/* Exact comparison, with both values in the message when it fails. */
#define assert_double_exact(got, want)                                                   \
    do {                                                                                 \
        double got_ = (got), want_ = (want);                                             \
        if (!(got_ == want_))                                                            \
            fail_msg("%s = %.17g, want %.17g", #got, got_, want_);                       \
    } while (0)

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

static const enum codec_order orders[] = {CODEC_ORDER_ABCD, CODEC_ORDER_CDAB,
                                          CODEC_ORDER_BADC, CODEC_ORDER_DCBA};

static struct codec_point point(enum codec_type type, enum codec_order order)
{
    struct codec_point cp;

    codec_point_init(&cp);
    cp.type = type;
    cp.order = order;
    return cp;
}

static struct codec_result convert(const struct codec_point *cp, const uint16_t *regs,
                                   int decimals)
{
    struct codec_result r;

    memset(&r, 0xa5, sizeof(r));
    codec_convert(cp, regs, decimals, &r);
    /* The contract that matters most: a bad quality never carries a number. */
    if (r.quality != MSG_Q_GOOD && !isnan(r.value))
        fail_msg("quality %s with value %.17g", msg_quality_name(r.quality), r.value);
    if (r.quality == MSG_Q_GOOD && isnan(r.value))
        fail_msg("quality good with NaN");
    return r;
}

/* A 16-bit point with scale and offset, read from one register, as the first release. */
static double decode1(enum codec_type type, double scale, double offset, uint16_t raw)
{
    struct codec_point cp = point(type, CODEC_ORDER_ABCD);
    struct codec_result r;

    cp.scale = scale;
    cp.offset = offset;
    r = convert(&cp, &raw, 0);
    assert_int_equal(r.quality, MSG_Q_GOOD);
    return r.value;
}

/*
 * The registers of a big-endian pattern laid out in a named order, written independently
 * of the codec: the name lists, register by register and high byte first, which byte of
 * ABCD (A most significant) arrives in each position.
 */
static void lay_out(uint32_t pattern, size_t width, const char *order, uint16_t *regs)
{
    uint8_t byte[4];
    size_t n = 2 * width;

    for (size_t i = 0; i < n; i++)
        byte[i] = (uint8_t)(pattern >> (8 * (n - 1 - i)));
    for (size_t r = 0; r < width; r++) {
        /* A 16-bit value uses the first half of the name's letters that name A and B. */
        char hi = order[2 * r], lo = order[2 * r + 1];

        if (width == 1) {
            hi = (order[0] == 'A' || order[0] == 'C') ? 'A' : 'B';
            lo = hi == 'A' ? 'B' : 'A';
        }
        regs[r] = (uint16_t)(byte[hi - 'A'] << 8 | byte[lo - 'A']);
    }
}

/* ---- widths and names ------------------------------------------------------------- */

static void test_width_and_names(void **state)
{
    (void)state;
    assert_int_equal(codec_width(CODEC_UINT16), 1);
    assert_int_equal(codec_width(CODEC_INT16), 1);
    assert_int_equal(codec_width(CODEC_UINT32), 2);
    assert_int_equal(codec_width(CODEC_INT32), 2);
    assert_int_equal(codec_width(CODEC_FLOAT32), 2);
    assert_int_equal(codec_width(CODEC_BIT), 1);
    assert_int_equal(codec_width(CODEC_TYPE_COUNT), 1);
    assert_string_equal(codec_type_name(CODEC_UINT16), "uint16");
    assert_string_equal(codec_type_name(CODEC_INT16), "int16");
    assert_string_equal(codec_type_name(CODEC_UINT32), "uint32");
    assert_string_equal(codec_type_name(CODEC_INT32), "int32");
    assert_string_equal(codec_type_name(CODEC_FLOAT32), "float32");
    assert_string_equal(codec_type_name(CODEC_BIT), "bit");
    assert_string_equal(codec_type_name(CODEC_TYPE_COUNT), "?");
    assert_string_equal(codec_order_name(CODEC_ORDER_ABCD), "ABCD");
    assert_string_equal(codec_order_name(CODEC_ORDER_CDAB), "CDAB");
    assert_string_equal(codec_order_name(CODEC_ORDER_BADC), "BADC");
    assert_string_equal(codec_order_name(CODEC_ORDER_DCBA), "DCBA");
    assert_string_equal(codec_order_name(CODEC_ORDER_COUNT), "?");
}

static void test_defaults(void **state)
{
    struct codec_point cp;
    struct codec_ma ma;

    (void)state;
    memset(&cp, 0x5a, sizeof(cp));
    codec_point_init(&cp);
    assert_int_equal(cp.type, CODEC_UINT16);
    assert_int_equal(cp.order, CODEC_ORDER_ABCD);
    assert_int_equal(cp.bit, 0);
    assert_false(cp.decimals_reg);
    assert_double_exact(cp.scale, 1.0);
    assert_double_exact(cp.offset, 0.0);
    assert_true(isinf(cp.min) && cp.min < 0);
    assert_true(isinf(cp.max) && cp.max > 0);
    assert_int_equal(cp.n_sentinels, 0);
    assert_false(cp.ma.enabled);

    codec_ma_init(&ma, 0, 100);
    assert_true(ma.enabled);
    assert_double_exact(ma.fault_low, 3.6);
    assert_double_exact(ma.valid_low, 3.8);
    assert_double_exact(ma.valid_high, 20.5);
    assert_double_exact(ma.fault_high, 21.0);
    assert_int_equal(ma.n_currents, 0);
}

/* ---- every type in every order ---------------------------------------------------- */

struct order_case {
    enum codec_type type;
    enum codec_order order;
    uint16_t regs[2];
    double want;
};

/*
 * Hand-written layouts of known patterns: float32 123.456 = 0x42F6E979, float32 -123.45 =
 * 0xC2F6E666 (the constant a Vaisala transmitter exposes for this check), uint32
 * 0xDEADBEEF, int32 -123456789 = 0xF8A432EB, uint16 0x1234 and int16 -123 = 0xFF85.
 */
static const struct order_case order_cases[] = {
    {CODEC_FLOAT32, CODEC_ORDER_ABCD, {0x42F6, 0xE979}, 123.456},
    {CODEC_FLOAT32, CODEC_ORDER_CDAB, {0xE979, 0x42F6}, 123.456},
    {CODEC_FLOAT32, CODEC_ORDER_BADC, {0xF642, 0x79E9}, 123.456},
    {CODEC_FLOAT32, CODEC_ORDER_DCBA, {0x79E9, 0xF642}, 123.456},
    {CODEC_FLOAT32, CODEC_ORDER_ABCD, {0xC2F6, 0xE666}, -123.45},
    {CODEC_FLOAT32, CODEC_ORDER_CDAB, {0xE666, 0xC2F6}, -123.45},
    {CODEC_FLOAT32, CODEC_ORDER_BADC, {0xF6C2, 0x66E6}, -123.45},
    {CODEC_FLOAT32, CODEC_ORDER_DCBA, {0x66E6, 0xF6C2}, -123.45},
    {CODEC_UINT32, CODEC_ORDER_ABCD, {0xDEAD, 0xBEEF}, 3735928559.0},
    {CODEC_UINT32, CODEC_ORDER_CDAB, {0xBEEF, 0xDEAD}, 3735928559.0},
    {CODEC_UINT32, CODEC_ORDER_BADC, {0xADDE, 0xEFBE}, 3735928559.0},
    {CODEC_UINT32, CODEC_ORDER_DCBA, {0xEFBE, 0xADDE}, 3735928559.0},
    {CODEC_INT32, CODEC_ORDER_ABCD, {0xF8A4, 0x32EB}, -123456789.0},
    {CODEC_INT32, CODEC_ORDER_CDAB, {0x32EB, 0xF8A4}, -123456789.0},
    {CODEC_INT32, CODEC_ORDER_BADC, {0xA4F8, 0xEB32}, -123456789.0},
    {CODEC_INT32, CODEC_ORDER_DCBA, {0xEB32, 0xA4F8}, -123456789.0},
    {CODEC_UINT16, CODEC_ORDER_ABCD, {0x1234, 0xFFFF}, 4660.0},
    {CODEC_UINT16, CODEC_ORDER_CDAB, {0x1234, 0xFFFF}, 4660.0},
    {CODEC_UINT16, CODEC_ORDER_BADC, {0x3412, 0xFFFF}, 4660.0},
    {CODEC_UINT16, CODEC_ORDER_DCBA, {0x3412, 0xFFFF}, 4660.0},
    {CODEC_INT16, CODEC_ORDER_ABCD, {0xFF85, 0x0000}, -123.0},
    {CODEC_INT16, CODEC_ORDER_CDAB, {0xFF85, 0x0000}, -123.0},
    {CODEC_INT16, CODEC_ORDER_BADC, {0x85FF, 0x0000}, -123.0},
    {CODEC_INT16, CODEC_ORDER_DCBA, {0x85FF, 0x0000}, -123.0},
    /* The edges of each integer range. */
    {CODEC_UINT32, CODEC_ORDER_ABCD, {0xFFFF, 0xFFFF}, 4294967295.0},
    {CODEC_UINT32, CODEC_ORDER_ABCD, {0x0000, 0x0000}, 0.0},
    {CODEC_UINT32, CODEC_ORDER_CDAB, {0x0001, 0x0000}, 1.0},
    {CODEC_UINT32, CODEC_ORDER_ABCD, {0x0001, 0x0000}, 65536.0},
    {CODEC_INT32, CODEC_ORDER_ABCD, {0x8000, 0x0000}, -2147483648.0},
    {CODEC_INT32, CODEC_ORDER_ABCD, {0x7FFF, 0xFFFF}, 2147483647.0},
    {CODEC_INT32, CODEC_ORDER_ABCD, {0xFFFF, 0xFFFF}, -1.0},
    {CODEC_INT32, CODEC_ORDER_CDAB, {0xFFFE, 0xFFFF}, -2.0},
    {CODEC_INT32, CODEC_ORDER_DCBA, {0x0000, 0x0080}, -2147483648.0},
    {CODEC_INT16, CODEC_ORDER_ABCD, {0x8000, 0x0000}, -32768.0},
    {CODEC_INT16, CODEC_ORDER_ABCD, {0x7FFF, 0x0000}, 32767.0},
    {CODEC_UINT16, CODEC_ORDER_ABCD, {0xFFFF, 0x0000}, 65535.0},
    /* Floats come out as the decimal the instrument meant, not the float's exact value.
     */
    {CODEC_FLOAT32, CODEC_ORDER_ABCD, {0x3DCC, 0xCCCD}, 0.1},
    {CODEC_FLOAT32, CODEC_ORDER_ABCD, {0x41DA, 0x6666}, 27.3},
    {CODEC_FLOAT32, CODEC_ORDER_ABCD, {0x0000, 0x0000}, 0.0},
    {CODEC_FLOAT32, CODEC_ORDER_ABCD, {0x3F80, 0x0000}, 1.0},
    {CODEC_FLOAT32, CODEC_ORDER_ABCD, {0x4B80, 0x0001}, 16777218.0},
    {CODEC_FLOAT32, CODEC_ORDER_ABCD, {0x7F77, 0xFFFF}, 3.2964852e38},
};

static void test_types_and_orders(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_ELEMS(order_cases); i++) {
        const struct order_case *c = &order_cases[i];
        struct codec_point cp = point(c->type, c->order);
        struct codec_result r = convert(&cp, c->regs, 0);

        if (r.quality != MSG_Q_GOOD || !(r.value == c->want))
            fail_msg("case %zu (%s %s %04X %04X): quality %s value %.17g, want %.17g", i,
                     codec_type_name(c->type), codec_order_name(c->order), c->regs[0],
                     c->regs[1], msg_quality_name(r.quality), r.value, c->want);
    }
}

/* The raw pattern comes back the same whatever the order, for every type and pattern. */
static void test_orders_against_layout(void **state)
{
    static const uint32_t patterns[] = {0x00000000, 0x00000001, 0x12345678, 0x42F6E979,
                                        0x80000000, 0x7FFFFFFF, 0xFFFFFFFF, 0xDEADBEEF,
                                        0x0000FFFF, 0xFFFF0000, 0x00FF00FF, 0xA5C3E17F};
    static const enum codec_type types[] = {CODEC_UINT16, CODEC_INT16, CODEC_UINT32,
                                            CODEC_INT32};

    (void)state;
    for (size_t t = 0; t < N_ELEMS(types); t++) {
        size_t width = codec_width(types[t]);

        for (size_t o = 0; o < N_ELEMS(orders); o++) {
            for (size_t k = 0; k < N_ELEMS(patterns); k++) {
                uint32_t pattern = width == 1 ? patterns[k] & 0xFFFF : patterns[k];
                struct codec_point cp = point(types[t], orders[o]);
                uint16_t regs[2] = {0xEEEE, 0xEEEE};
                struct codec_result r;
                double want = (double)pattern;

                lay_out(pattern, width, codec_order_name(orders[o]), regs);
                r = convert(&cp, regs, 0);
                if (types[t] == CODEC_INT16 && pattern >= 0x8000)
                    want -= 65536.0;
                if (types[t] == CODEC_INT32 && pattern >= 0x80000000u)
                    want -= 4294967296.0;
                if (r.raw != pattern || r.quality != MSG_Q_GOOD || !(r.value == want))
                    fail_msg("%s %s 0x%08X: raw 0x%08X value %.17g quality %s",
                             codec_type_name(types[t]), codec_order_name(orders[o]),
                             (unsigned)pattern, (unsigned)r.raw, r.value,
                             msg_quality_name(r.quality));
            }
        }
    }
}

/* Every float32 order, against a float assembled by memcpy of the layout's pattern. */
static void test_float_orders_against_layout(void **state)
{
    static const float values[] = {123.456f, -123.45f, 0.1f,    1e-7f,    -0.0f,
                                   1.5f,     65535.0f, 3.3e38f, -3.3e38f, 1e-38f};

    (void)state;
    for (size_t o = 0; o < N_ELEMS(orders); o++) {
        for (size_t k = 0; k < N_ELEMS(values); k++) {
            struct codec_point cp = point(CODEC_FLOAT32, orders[o]);
            uint16_t regs[2];
            uint32_t pattern;
            struct codec_result r;

            memcpy(&pattern, &values[k], sizeof(pattern));
            lay_out(pattern, 2, codec_order_name(orders[o]), regs);
            r = convert(&cp, regs, 0);
            assert_int_equal(r.quality, MSG_Q_GOOD);
            assert_int_equal(r.raw, pattern);
            /* The widened double reads back as the very same float. */
            if ((float)r.value != values[k])
                fail_msg("%s %.9g: got %.17g", codec_order_name(orders[o]),
                         (double)values[k], r.value);
        }
    }
}

/* A 1-register type ignores the word after it. */
static void test_only_own_registers_read(void **state)
{
    const uint16_t regs[2] = {1234, 0xFFFF};
    struct codec_point cp = point(CODEC_UINT16, CODEC_ORDER_ABCD);

    (void)state;
    assert_double_exact(convert(&cp, regs, 0).value, 1234.0);
    cp.type = CODEC_INT16;
    assert_double_exact(convert(&cp, regs, 0).value, 1234.0);
    cp.type = CODEC_BIT;
    cp.bit = 1;
    assert_double_exact(convert(&cp, regs, 0).value, 1.0);
}

/* ---- scale and offset ------------------------------------------------------------- */

static void test_uint16_int16_identity(void **state)
{
    (void)state;
    assert_double_exact(decode1(CODEC_UINT16, 1.0, 0.0, 0), 0.0);
    assert_double_exact(decode1(CODEC_UINT16, 1.0, 0.0, 32768), 32768.0);
    assert_double_exact(decode1(CODEC_UINT16, 1.0, 0.0, 65535), 65535.0);
    assert_double_exact(decode1(CODEC_INT16, 1.0, 0.0, 32767), 32767.0);
    /* Two's complement: the top bit is the sign. */
    assert_double_exact(decode1(CODEC_INT16, 1.0, 0.0, 32768), -32768.0);
    assert_double_exact(decode1(CODEC_INT16, 1.0, 0.0, 32769), -32767.0);
    assert_double_exact(decode1(CODEC_INT16, 1.0, 0.0, 65534), -2.0);
    assert_double_exact(decode1(CODEC_INT16, 1.0, 0.0, 65535), -1.0);
}

static void test_scale_tenth(void **state)
{
    (void)state;
    /* 273 * 0.1 must read 27.3, the literal, not 27.300000000000001. */
    assert_double_exact(decode1(CODEC_UINT16, 0.1, 0.0, 273), 27.3);
    /* 3 * 0.1 is 0.30000000000000004 in binary; the codec must give 0.3. */
    assert_double_exact(decode1(CODEC_UINT16, 0.1, 0.0, 3), 0.3);
    assert_double_exact(decode1(CODEC_UINT16, 0.1, 0.0, 7), 0.7);
    assert_double_exact(decode1(CODEC_UINT16, 0.1, 0.0, 65535), 6553.5);
    assert_double_exact(decode1(CODEC_INT16, 0.1, 0.0, 65535), -0.1);
    assert_double_exact(decode1(CODEC_INT16, 0.1, 0.0, 65533), -0.3);
    assert_double_exact(decode1(CODEC_INT16, 0.1, 0.0, 32768), -3276.8);
    assert_double_exact(decode1(CODEC_UINT16, 0.01, 0.0, 2731), 27.31);
    assert_double_exact(decode1(CODEC_INT16, 0.01, 0.0, 65535), -0.01);
}

/*
 * Every raw value against an independent oracle: strtod() of the decimal text, which is
 * by definition the double nearest the decimal value.
 */
static double oracle(long v, unsigned digits)
{
    unsigned long div = 1, mag = (unsigned long)(v < 0 ? -v : v);
    char text[48];

    for (unsigned d = 0; d < digits; d++)
        div *= 10;
    if (digits == 0)
        (void)snprintf(text, sizeof(text), "%s%lu", v < 0 ? "-" : "", mag);
    else
        (void)snprintf(text, sizeof(text), "%s%lu.%0*lu", v < 0 ? "-" : "", mag / div,
                       (int)digits, mag % div);
    return strtod(text, NULL);
}

static void exhaustive_scale(enum codec_type type, double scale, unsigned digits)
{
    for (uint32_t r = 0; r <= 0xffff; r++) {
        uint16_t raw = (uint16_t)r;
        long v = type == CODEC_INT16 ? (long)(int16_t)raw : (long)raw;
        double want = oracle(v, digits), got = decode1(type, scale, 0.0, raw);

        if (!(got == want))
            fail_msg("scale %.17g raw %u: got %.17g, want %.17g", scale, (unsigned)raw,
                     got, want);
    }
}

static void test_scale_decimal_exhaustive(void **state)
{
    (void)state;
    exhaustive_scale(CODEC_UINT16, 0.1, 1);
    exhaustive_scale(CODEC_INT16, 0.1, 1);
    exhaustive_scale(CODEC_UINT16, 0.01, 2);
    exhaustive_scale(CODEC_INT16, 0.01, 2);
    exhaustive_scale(CODEC_UINT16, 0.001, 3);
    exhaustive_scale(CODEC_INT16, 0.0001, 4);
}

static void test_scale_offset_table(void **state)
{
    static const struct {
        enum codec_type type;
        double scale, offset;
        uint16_t raw;
        double want;
    } cases[] = {
        {CODEC_UINT16, 2.0, 0.0, 65535, 131070.0},
        {CODEC_INT16, 2.0, 0.0, 32768, -65536.0},
        {CODEC_UINT16, 0.5, 0.0, 3, 1.5},
        {CODEC_UINT16, 0.25, 0.0, 273, 68.25},
        {CODEC_INT16, 0.25, 0.0, 65535, -0.25},
        /* 0.2 and 0.05 are 1/5 and 1/20: the same exact-division path as 0.1. */
        {CODEC_UINT16, 0.2, 0.0, 3, 0.6},
        {CODEC_UINT16, 0.05, 0.0, 7, 0.35},
        {CODEC_UINT16, -1.0, 0.0, 5, -5.0},
        {CODEC_UINT16, -0.1, 0.0, 273, -27.3},
        {CODEC_INT16, -0.1, 0.0, 65535, 0.1},
        /* A temperature transmitter: raw 0.1 degC steps from -40 degC. */
        {CODEC_UINT16, 0.1, -40.0, 0, -40.0},
        {CODEC_UINT16, 0.1, -40.0, 650, 25.0},
        {CODEC_INT16, 1.0, -40.0, 65535, -41.0},
        /* Offset is added after scaling: (273 / 10) + 1000, not (273 + 1000) / 10. */
        {CODEC_UINT16, 0.1, 1000.0, 273, 27.3 + 1000.0},
        /* config rejects scale 0, but the codec must still not divide by it. */
        {CODEC_UINT16, 0.0, 7.0, 123, 7.0},
    };

    (void)state;
    for (size_t i = 0; i < N_ELEMS(cases); i++)
        assert_double_exact(
            decode1(cases[i].type, cases[i].scale, cases[i].offset, cases[i].raw),
            cases[i].want);
}

static void test_scale_32bit(void **state)
{
    struct codec_point cp = point(CODEC_INT32, CODEC_ORDER_ABCD);
    const uint16_t regs[2] = {0xFFFF, 0xFEED}; /* -275 */

    (void)state;
    cp.scale = 0.1;
    assert_double_exact(convert(&cp, regs, 0).value, -27.5);
    cp.type = CODEC_UINT32;
    cp.scale = 0.001;
    cp.offset = -1.0;
    assert_double_exact(convert(&cp, regs, 0).value, 4294967.021 - 1.0);
    cp.type = CODEC_FLOAT32;
    cp.scale = 1000.0;
    cp.offset = 0.0;
    {
        const uint16_t f[2] = {0x42F6, 0xE979};

        assert_double_exact(convert(&cp, f, 0).value, 123456.0);
    }
}

/* ---- sentinels -------------------------------------------------------------------- */

struct sentinel_case {
    enum codec_type type;
    enum codec_order order;
    uint16_t regs[2];
    uint8_t want;
};

static void test_float_sentinels(void **state)
{
    static const struct sentinel_case cases[] = {
        {CODEC_FLOAT32,
         CODEC_ORDER_ABCD,
         {0x7FC0, 0x0000},
         MSG_Q_SENTINEL}, /* quiet NaN */
        {CODEC_FLOAT32, CODEC_ORDER_ABCD, {0xFFC0, 0x0001}, MSG_Q_SENTINEL}, /* -NaN */
        {CODEC_FLOAT32, CODEC_ORDER_ABCD, {0x7F80, 0x0001}, MSG_Q_SENTINEL}, /* sNaN */
        {CODEC_FLOAT32, CODEC_ORDER_ABCD, {0x7F80, 0x0000}, MSG_Q_SENTINEL}, /* +inf */
        {CODEC_FLOAT32, CODEC_ORDER_ABCD, {0xFF80, 0x0000}, MSG_Q_SENTINEL}, /* -inf */
        {CODEC_FLOAT32, CODEC_ORDER_ABCD, {0x7F7F, 0xFFFF}, MSG_Q_SENTINEL}, /* FLT_MAX */
        {CODEC_FLOAT32,
         CODEC_ORDER_ABCD,
         {0xFF7F, 0xFFFF},
         MSG_Q_SENTINEL}, /* -FLT_MAX */
        {CODEC_FLOAT32, CODEC_ORDER_ABCD, {0x7F7F, 0xC99E}, MSG_Q_SENTINEL}, /* 3.4e38 */
        {CODEC_FLOAT32, CODEC_ORDER_ABCD, {0xFF7F, 0xC99E}, MSG_Q_SENTINEL}, /* -3.4e38 */
        {CODEC_FLOAT32, CODEC_ORDER_CDAB, {0xC99E, 0xFF7F}, MSG_Q_SENTINEL}, /* -3.4e38 */
        {CODEC_FLOAT32, CODEC_ORDER_BADC, {0xC07F, 0x0000}, MSG_Q_SENTINEL}, /* NaN */
        {CODEC_FLOAT32, CODEC_ORDER_DCBA, {0x0000, 0xC07F}, MSG_Q_SENTINEL}, /* NaN */
        /* One step below 3.4e38 is still a (huge) value. */
        {CODEC_FLOAT32, CODEC_ORDER_ABCD, {0x7F7F, 0xC99D}, MSG_Q_GOOD},
        {CODEC_FLOAT32, CODEC_ORDER_ABCD, {0xFF7F, 0xC99D}, MSG_Q_GOOD},
        /* Read as integers, the same patterns are ordinary values. */
        {CODEC_UINT32, CODEC_ORDER_ABCD, {0x7FC0, 0x0000}, MSG_Q_GOOD},
        {CODEC_INT32, CODEC_ORDER_ABCD, {0xFF7F, 0xFFFF}, MSG_Q_GOOD},
    };

    (void)state;
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        struct codec_point cp = point(cases[i].type, cases[i].order);
        struct codec_result r = convert(&cp, cases[i].regs, 0);

        if (r.quality != cases[i].want)
            fail_msg("case %zu: quality %s, want %s", i, msg_quality_name(r.quality),
                     msg_quality_name(cases[i].want));
    }
}

static void test_integer_sentinels(void **state)
{
    struct codec_point cp = point(CODEC_UINT16, CODEC_ORDER_ABCD);
    struct codec_result r;
    uint16_t reg;

    (void)state;
    /* Without a sentinel list, 0xFFFF is a number like any other. */
    reg = 0xFFFF;
    assert_int_equal(convert(&cp, &reg, 0).quality, MSG_Q_GOOD);

    cp.n_sentinels = 2;
    cp.sentinels[0] = 0xFFFF;
    cp.sentinels[1] = 0x7FFF;
    for (uint32_t raw = 0; raw <= 0xFFFF; raw++) {
        reg = (uint16_t)raw;
        r = convert(&cp, &reg, 0);
        assert_int_equal(r.quality,
                         raw == 0xFFFF || raw == 0x7FFF ? MSG_Q_SENTINEL : MSG_Q_GOOD);
    }

    /* Patterns are compared as assembled: 0x8000 is -32768 for an int16, in any order. */
    cp.type = CODEC_INT16;
    cp.order = CODEC_ORDER_BADC;
    cp.n_sentinels = 1;
    cp.sentinels[0] = 0x8000;
    reg = 0x0080;
    assert_int_equal(convert(&cp, &reg, 0).quality, MSG_Q_SENTINEL);
    reg = 0x8000;
    assert_int_equal(convert(&cp, &reg, 0).quality, MSG_Q_GOOD);

    cp.type = CODEC_UINT32;
    cp.order = CODEC_ORDER_CDAB;
    cp.sentinels[0] = 0xFFFF0000;
    {
        const uint16_t hit[2] = {0x0000, 0xFFFF}, miss[2] = {0xFFFF, 0x0000};

        assert_int_equal(convert(&cp, hit, 0).quality, MSG_Q_SENTINEL);
        assert_int_equal(convert(&cp, miss, 0).quality, MSG_Q_GOOD);
    }

    /* A sentinel wins over a decimals register, a range and a 4-20 mA band. */
    cp = point(CODEC_UINT16, CODEC_ORDER_ABCD);
    cp.n_sentinels = 1;
    cp.sentinels[0] = 0xFFFF;
    cp.decimals_reg = true;
    cp.min = 0;
    cp.max = 10;
    reg = 0xFFFF;
    assert_int_equal(convert(&cp, &reg, 0xFFFF).quality, MSG_Q_SENTINEL);
}

/* ---- decimal places --------------------------------------------------------------- */

static void test_decimals_table(void **state)
{
    static const struct {
        enum codec_type type;
        uint16_t regs[2];
        int decimals;
        uint8_t quality;
        double want;
    } cases[] = {
        {CODEC_UINT16, {1256, 0}, 0, MSG_Q_GOOD, 1256.0},
        {CODEC_UINT16, {1256, 0}, 1, MSG_Q_GOOD, 125.6},
        {CODEC_UINT16, {1256, 0}, 2, MSG_Q_GOOD, 12.56},
        {CODEC_UINT16, {1256, 0}, 3, MSG_Q_GOOD, 1.256},
        {CODEC_UINT16, {1256, 0}, 4, MSG_Q_GOOD, 0.1256},
        {CODEC_UINT16, {1256, 0}, 5, MSG_Q_GOOD, 0.01256},
        {CODEC_UINT16, {1256, 0}, 6, MSG_Q_GOOD, 0.001256},
        {CODEC_UINT16, {1256, 0}, 7, MSG_Q_SENSOR_FAULT, 0},
        {CODEC_UINT16, {1256, 0}, 0xFFFF, MSG_Q_SENSOR_FAULT, 0},
        {CODEC_UINT16, {1256, 0}, -1, MSG_Q_SENSOR_FAULT, 0},
        {CODEC_UINT16, {1256, 0}, 65536, MSG_Q_SENSOR_FAULT, 0},
        {CODEC_INT16, {0xFB18, 0}, 2, MSG_Q_GOOD, -12.56},
        {CODEC_INT16, {0x8000, 0}, 3, MSG_Q_GOOD, -32.768},
        {CODEC_INT16, {0x7FFF, 0}, 6, MSG_Q_GOOD, 0.032767},
        {CODEC_UINT32, {0x0001, 0xE240}, 3, MSG_Q_GOOD, 123.456},
        {CODEC_INT32, {0xFFFE, 0x1DC0}, 3, MSG_Q_GOOD, -123.456},
        {CODEC_UINT32, {0xFFFF, 0xFFFF}, 6, MSG_Q_GOOD, 4294.967295},
    };

    (void)state;
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        struct codec_point cp = point(cases[i].type, CODEC_ORDER_ABCD);
        struct codec_result r;

        cp.decimals_reg = true;
        r = convert(&cp, cases[i].regs, cases[i].decimals);
        if (r.quality != cases[i].quality ||
            (r.quality == MSG_Q_GOOD && !(r.value == cases[i].want)))
            fail_msg("case %zu: quality %s value %.17g, want %s %.17g", i,
                     msg_quality_name(r.quality), r.value,
                     msg_quality_name(cases[i].quality), cases[i].want);
    }
}

/* raw / 10^d is the double nearest the decimal, for every register and every d. */
static void test_decimals_exhaustive(void **state)
{
    struct codec_point u = point(CODEC_UINT16, CODEC_ORDER_ABCD);
    struct codec_point s = point(CODEC_INT16, CODEC_ORDER_ABCD);

    (void)state;
    u.decimals_reg = true;
    s.decimals_reg = true;
    for (int d = 0; d <= CODEC_MAX_DECIMALS; d++) {
        for (uint32_t r = 0; r <= 0xffff; r++) {
            uint16_t raw = (uint16_t)r;
            double gu = convert(&u, &raw, d).value, gs = convert(&s, &raw, d).value;

            if (!(gu == oracle((long)raw, (unsigned)d)) ||
                !(gs == oracle((long)(int16_t)raw, (unsigned)d)))
                fail_msg("decimals %d raw %u: got %.17g / %.17g", d, (unsigned)raw, gu,
                         gs);
        }
    }
}

static void test_decimals_only_when_asked(void **state)
{
    struct codec_point cp = point(CODEC_UINT16, CODEC_ORDER_ABCD);
    uint16_t reg = 1256;

    (void)state;
    /* Without decimals_reg, the argument is ignored, even an invalid one. */
    assert_double_exact(convert(&cp, &reg, 3).value, 1256.0);
    assert_int_equal(convert(&cp, &reg, 0xFFFF).quality, MSG_Q_GOOD);
    /* With it, scale and offset apply after the division. */
    cp.decimals_reg = true;
    cp.scale = 1000.0;
    cp.offset = -1.0;
    assert_double_exact(convert(&cp, &reg, 3).value, 1255.0);
}

/* ---- bits ------------------------------------------------------------------------- */

static void test_every_bit(void **state)
{
    (void)state;
    for (unsigned b = 0; b < 16; b++) {
        for (unsigned o = 0; o < N_ELEMS(orders); o++) {
            struct codec_point cp = point(CODEC_BIT, orders[o]);
            bool swapped = orders[o] == CODEC_ORDER_BADC || orders[o] == CODEC_ORDER_DCBA;
            uint16_t one = (uint16_t)(1u << b), all_but = (uint16_t)~one;
            struct codec_result r;

            /* In a byte-swapped order, bit b of the value arrives in the other byte. */
            if (swapped) {
                one = (uint16_t)(one << 8 | one >> 8);
                all_but = (uint16_t)~one;
            }
            cp.bit = (uint8_t)b;
            for (unsigned other = 0; other < 16; other++) {
                struct codec_point cq = cp;
                uint16_t reg = one;

                cq.bit = (uint8_t)other;
                r = convert(&cq, &reg, 0);
                assert_int_equal(r.quality, MSG_Q_GOOD);
                assert_double_exact(r.value, other == b ? 1.0 : 0.0);
            }
            r = convert(&cp, &all_but, 0);
            assert_double_exact(r.value, 0.0);
            r = convert(&cp, &(uint16_t){0xFFFF}, 0);
            assert_double_exact(r.value, 1.0);
            r = convert(&cp, &(uint16_t){0x0000}, 0);
            assert_double_exact(r.value, 0.0);
        }
    }
}

static void test_coil_word(void **state)
{
    /* Coils and discrete inputs arrive as words of 0 or 1 and are read with bit 0. */
    struct codec_point cp = point(CODEC_BIT, CODEC_ORDER_ABCD);

    (void)state;
    assert_double_exact(convert(&cp, &(uint16_t){1}, 0).value, 1.0);
    assert_double_exact(convert(&cp, &(uint16_t){0}, 0).value, 0.0);
    /* A bit point ignores scale, offset, range and sentinels: it is 0 or 1. */
    cp.scale = 10.0;
    cp.offset = 5.0;
    cp.min = 3.0;
    cp.n_sentinels = 1;
    cp.sentinels[0] = 1;
    assert_double_exact(convert(&cp, &(uint16_t){1}, 0).value, 1.0);
}

/* ---- 4-20 mA ---------------------------------------------------------------------- */

struct ma_case {
    uint16_t raw; /* loop current x 100 */
    uint8_t quality;
    double want;
};

static void check_ma(const struct codec_point *cp, const struct ma_case *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct codec_result r = convert(cp, &cases[i].raw, 0);

        if (r.quality != cases[i].quality ||
            (r.quality == MSG_Q_GOOD && !(r.value == cases[i].want)))
            fail_msg("%.2f mA: quality %s value %.17g, want %s %.17g",
                     cases[i].raw / 100.0, msg_quality_name(r.quality), r.value,
                     msg_quality_name(cases[i].quality), cases[i].want);
    }
}

static struct codec_point ma_point(double eu_low, double eu_high)
{
    struct codec_point cp = point(CODEC_UINT16, CODEC_ORDER_ABCD);

    cp.scale = 0.01;
    codec_ma_init(&cp.ma, eu_low, eu_high);
    return cp;
}

static void test_ma_ne43_edges(void **state)
{
    static const struct ma_case cases[] = {
        {0, MSG_Q_SENSOR_FAULT, 0},    {100, MSG_Q_SENSOR_FAULT, 0},
        {359, MSG_Q_SENSOR_FAULT, 0},  {360, MSG_Q_SENSOR_FAULT, 0},
        {361, MSG_Q_UNDER_RANGE, 0},   {370, MSG_Q_UNDER_RANGE, 0},
        {379, MSG_Q_UNDER_RANGE, 0},   {380, MSG_Q_GOOD, (3.8 - 4.0) * 100.0 / 16.0},
        {400, MSG_Q_GOOD, 0.0},        {1200, MSG_Q_GOOD, 50.0},
        {2000, MSG_Q_GOOD, 100.0},     {2050, MSG_Q_GOOD, 103.125},
        {2051, MSG_Q_OVER_RANGE, 0},   {2060, MSG_Q_OVER_RANGE, 0},
        {2099, MSG_Q_OVER_RANGE, 0},   {2100, MSG_Q_SENSOR_FAULT, 0},
        {2110, MSG_Q_SENSOR_FAULT, 0}, {65535, MSG_Q_SENSOR_FAULT, 0},
    };
    struct codec_point cp = ma_point(0.0, 100.0);

    (void)state;
    check_ma(&cp, cases, N_ELEMS(cases));
}

static void test_ma_float_currents(void **state)
{
    /* The same edges from a float32 current, as the brief lists them. */
    static const struct {
        uint16_t regs[2];
        uint8_t quality;
    } cases[] = {
        {{0x4065, 0xC28F}, MSG_Q_SENSOR_FAULT}, /* 3.59 */
        {{0x4066, 0x6666}, MSG_Q_SENSOR_FAULT}, /* 3.6 */
        {{0x406C, 0xCCCD}, MSG_Q_UNDER_RANGE},  /* 3.7 */
        {{0x4073, 0x3333}, MSG_Q_GOOD},         /* 3.8 */
        {{0x4140, 0x0000}, MSG_Q_GOOD},         /* 12 */
        {{0x41A4, 0x0000}, MSG_Q_GOOD},         /* 20.5 */
        {{0x41A4, 0xCCCD}, MSG_Q_OVER_RANGE},   /* 20.6 */
        {{0x41A8, 0x0000}, MSG_Q_SENSOR_FAULT}, /* 21 */
        {{0x41A8, 0xCCCD}, MSG_Q_SENSOR_FAULT}, /* 21.1 */
    };
    struct codec_point cp = point(CODEC_FLOAT32, CODEC_ORDER_ABCD);

    (void)state;
    codec_ma_init(&cp.ma, 0.0, 100.0);
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        struct codec_result r = convert(&cp, cases[i].regs, 0);

        if (r.quality != cases[i].quality)
            fail_msg("case %zu: quality %s, want %s", i, msg_quality_name(r.quality),
                     msg_quality_name(cases[i].quality));
    }
    assert_double_exact(convert(&cp, cases[4].regs, 0).value, 50.0);
}

static void test_ma_spans(void **state)
{
    /* A reversed span (an oxygen-deficiency transmitter wired 20..4) and an offset one.
     */
    static const struct ma_case reversed[] = {
        {400, MSG_Q_GOOD, 100.0},
        {1200, MSG_Q_GOOD, 50.0},
        {2000, MSG_Q_GOOD, 0.0},
    };
    static const struct ma_case offset[] = {
        {400, MSG_Q_GOOD, -40.0},
        {1200, MSG_Q_GOOD, 60.0},
        {2000, MSG_Q_GOOD, 160.0},
    };
    struct codec_point cp = ma_point(100.0, 0.0);

    (void)state;
    check_ma(&cp, reversed, N_ELEMS(reversed));
    cp = ma_point(-40.0, 160.0);
    check_ma(&cp, offset, N_ELEMS(offset));
}

static void test_ma_status_currents(void **state)
{
    /* Vendor status currents: 1 mA fault, 2 mA inhibit, checked before the bands. */
    static const struct ma_case cases[] = {
        {80, MSG_Q_SENSOR_FAULT, 0},  {100, MSG_Q_SENSOR_FAULT, 0},
        {120, MSG_Q_SENSOR_FAULT, 0}, {121, MSG_Q_SENSOR_FAULT, 0}, /* the NE 43 band */
        {179, MSG_Q_SENSOR_FAULT, 0}, {180, MSG_Q_MAINTENANCE, 0},
        {200, MSG_Q_MAINTENANCE, 0},  {220, MSG_Q_MAINTENANCE, 0},
        {221, MSG_Q_SENSOR_FAULT, 0}, {380, MSG_Q_GOOD, (3.8 - 4.0) * 100.0 / 16.0},
        {1200, MSG_Q_GOOD, 50.0},     {2100, MSG_Q_SENSOR_FAULT, 0},
    };
    struct codec_point cp = ma_point(0.0, 100.0);

    (void)state;
    cp.ma.n_currents = 2;
    cp.ma.currents[0] = (struct codec_current){1.0, 0.2, MSG_Q_SENSOR_FAULT};
    cp.ma.currents[1] = (struct codec_current){2.0, 0.2, MSG_Q_MAINTENANCE};
    check_ma(&cp, cases, N_ELEMS(cases));
}

static void test_ma_custom_bands(void **state)
{
    /* An MSA-style transmitter: fault at 3.0 mA, warm-up at 3.75, over-range at 21.0. */
    static const struct ma_case cases[] = {
        {300, MSG_Q_SENSOR_FAULT, 0},
        {301, MSG_Q_UNDER_RANGE, 0},
        {375, MSG_Q_MAINTENANCE, 0},
        {390, MSG_Q_UNDER_RANGE, 0},
        {395, MSG_Q_GOOD, (3.95 - 4.0) * 100.0 / 16.0},
        {2000, MSG_Q_GOOD, 100.0},
        {2001, MSG_Q_OVER_RANGE, 0},
        {2099, MSG_Q_OVER_RANGE, 0},
        {2100, MSG_Q_OVER_RANGE, 0},
        {2101, MSG_Q_SENSOR_FAULT, 0},
    };
    struct codec_point cp = ma_point(0.0, 100.0);

    (void)state;
    cp.ma.fault_low = 3.0;
    cp.ma.valid_low = 3.95;
    cp.ma.valid_high = 20.0;
    cp.ma.fault_high = 21.01;
    cp.ma.n_currents = 1;
    cp.ma.currents[0] = (struct codec_current){3.75, 0.0, MSG_Q_MAINTENANCE};
    check_ma(&cp, cases, N_ELEMS(cases));
}

/* ---- range ------------------------------------------------------------------------ */

static void test_range(void **state)
{
    struct codec_point cp = point(CODEC_INT16, CODEC_ORDER_ABCD);
    uint16_t reg;

    (void)state;
    cp.scale = 0.1;
    cp.min = -50.0;
    cp.max = 550.0;
    reg = (uint16_t)-500;
    assert_double_exact(convert(&cp, &reg, 0).value, -50.0);
    reg = (uint16_t)-501;
    assert_int_equal(convert(&cp, &reg, 0).quality, MSG_Q_UNDER_RANGE);
    reg = 5500;
    assert_double_exact(convert(&cp, &reg, 0).value, 550.0);
    reg = 5501;
    assert_int_equal(convert(&cp, &reg, 0).quality, MSG_Q_OVER_RANGE);
    /* The range applies to the engineering value of a 4-20 mA point too. */
    cp = ma_point(0.0, 100.0);
    cp.max = 100.0;
    reg = 2000;
    assert_int_equal(convert(&cp, &reg, 0).quality, MSG_Q_GOOD);
    reg = 2010;
    assert_int_equal(convert(&cp, &reg, 0).quality, MSG_Q_OVER_RANGE);
    /* A scale that overflows a double is no reading either. */
    cp = point(CODEC_FLOAT32, CODEC_ORDER_ABCD);
    cp.scale = 1e300;
    assert_int_equal(convert(&cp, (const uint16_t[2]){0x7F77, 0xFFFF}, 0).quality,
                     MSG_Q_SENTINEL);
}

/* ---- status rules ----------------------------------------------------------------- */

static void test_status_rules(void **state)
{
    /* A Midas-style status word: low nibble the state, bits 4-5 the fault class. */
    static const struct codec_status_rule rules[] = {
        {0x0030, 0x0020, 0x0030, MSG_Q_SENSOR_FAULT}, /* instrument fault */
        {0x000F, 1, 1, MSG_Q_GOOD},                   /* monitoring */
        {0x000F, 0, 0, MSG_Q_MAINTENANCE},            /* warm-up */
        {0x000F, 2, 8, MSG_Q_MAINTENANCE},            /* inhibit, test, calibration */
        {0x0000, 0, 0, MSG_Q_SENSOR_FAULT},           /* default */
    };
    static const struct {
        uint16_t reg;
        uint8_t want;
    } cases[] = {
        {0x0001, MSG_Q_GOOD},         {0x0801, MSG_Q_GOOD}, /* heartbeat bit set */
        {0x00C1, MSG_Q_GOOD},                               /* alarms do not matter */
        {0x0011, MSG_Q_GOOD}, /* maintenance fault: warning */
        {0x0021, MSG_Q_SENSOR_FAULT}, {0x0031, MSG_Q_SENSOR_FAULT},
        {0x0020, MSG_Q_SENSOR_FAULT}, /* first match wins over the state */
        {0x0000, MSG_Q_MAINTENANCE},  {0x0002, MSG_Q_MAINTENANCE},
        {0x0008, MSG_Q_MAINTENANCE},  {0x0009, MSG_Q_SENSOR_FAULT},
        {0x000F, MSG_Q_SENSOR_FAULT},
    };

    (void)state;
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        uint8_t q = codec_status(rules, N_ELEMS(rules), cases[i].reg);

        if (q != cases[i].want)
            fail_msg("0x%04X: %s, want %s", cases[i].reg, msg_quality_name(q),
                     msg_quality_name(cases[i].want));
    }
    /* No rule matching, or no rules at all: good. */
    assert_int_equal(codec_status(rules, 1, 0x0001), MSG_Q_GOOD);
    assert_int_equal(codec_status(NULL, 0, 0xFFFF), MSG_Q_GOOD);
}

static void test_status_first_match(void **state)
{
    /* Two rules matching the same value: order decides, in both orders. */
    struct codec_status_rule rules[2] = {
        {0xFFFF, 5, 5, MSG_Q_MAINTENANCE},
        {0xFFFF, 0, 9, MSG_Q_SENSOR_FAULT},
    };

    (void)state;
    assert_int_equal(codec_status(rules, 2, 5), MSG_Q_MAINTENANCE);
    assert_int_equal(codec_status(rules, 2, 4), MSG_Q_SENSOR_FAULT);
    assert_int_equal(codec_status(rules, 2, 10), MSG_Q_GOOD);
    rules[0].quality = MSG_Q_SENSOR_FAULT;
    rules[1].quality = MSG_Q_MAINTENANCE;
    assert_int_equal(codec_status(rules, 2, 5), MSG_Q_SENSOR_FAULT);
    assert_int_equal(codec_status(rules, 2, 4), MSG_Q_MAINTENANCE);
}

static void test_status_every_bit(void **state)
{
    /* The PT100 transmitter: open (0xA0) and short (0x60) before the single bits. */
    static const struct codec_status_rule rules[] = {
        {0x00E0, 0x00A0, 0x00A0, MSG_Q_SENSOR_FAULT},
        {0x00E0, 0x0060, 0x0060, MSG_Q_SENSOR_FAULT},
        {0x0020, 0x0020, 0x0020, MSG_Q_SENSOR_FAULT},
        {0x0040, 0x0040, 0x0040, MSG_Q_UNDER_RANGE},
        {0x0080, 0x0080, 0x0080, MSG_Q_OVER_RANGE},
        {0x0010, 0x0010, 0x0010, MSG_Q_SENSOR_FAULT},
    };
    static const uint8_t want[16] = {
        MSG_Q_GOOD,         MSG_Q_GOOD,         MSG_Q_GOOD,        MSG_Q_GOOD,
        MSG_Q_SENSOR_FAULT, MSG_Q_SENSOR_FAULT, MSG_Q_UNDER_RANGE, MSG_Q_OVER_RANGE,
        MSG_Q_GOOD,         MSG_Q_GOOD,         MSG_Q_GOOD,        MSG_Q_GOOD,
        MSG_Q_GOOD,         MSG_Q_GOOD,         MSG_Q_GOOD,        MSG_Q_GOOD,
    };

    (void)state;
    for (unsigned b = 0; b < 16; b++)
        assert_int_equal(codec_status(rules, N_ELEMS(rules), (uint16_t)(1u << b)),
                         want[b]);
    assert_int_equal(codec_status(rules, N_ELEMS(rules), 0x00A0), MSG_Q_SENSOR_FAULT);
    assert_int_equal(codec_status(rules, N_ELEMS(rules), 0x0060), MSG_Q_SENSOR_FAULT);
    assert_int_equal(codec_status(rules, N_ELEMS(rules), 0x00C0), MSG_Q_UNDER_RANGE);
    assert_int_equal(codec_status(rules, N_ELEMS(rules), 0x0000), MSG_Q_GOOD);
}

/* ---- heartbeat -------------------------------------------------------------------- */

#define MS(x) ((int64_t)(x)*INT64_C(1000000))

static void test_heartbeat_counter(void **state)
{
    struct codec_heartbeat hb = {0};

    (void)state;
    /* The first reading only starts the clock, however old the counter is. */
    assert_int_equal(codec_heartbeat(&hb, 7, 0xFFFF, MS(100000), 5000), MSG_Q_GOOD);
    assert_int_equal(codec_heartbeat(&hb, 7, 0xFFFF, MS(104999), 5000), MSG_Q_GOOD);
    assert_int_equal(codec_heartbeat(&hb, 7, 0xFFFF, MS(105000), 5000), MSG_Q_STALE);
    assert_int_equal(codec_heartbeat(&hb, 7, 0xFFFF, MS(106000), 5000), MSG_Q_STALE);
    /* Any change, including a wrap, restarts it. */
    assert_int_equal(codec_heartbeat(&hb, 8, 0xFFFF, MS(106001), 5000), MSG_Q_GOOD);
    assert_int_equal(codec_heartbeat(&hb, 8, 0xFFFF, MS(111000), 5000), MSG_Q_GOOD);
    assert_int_equal(codec_heartbeat(&hb, 8, 0xFFFF, MS(111001), 5000), MSG_Q_STALE);
    assert_int_equal(codec_heartbeat(&hb, 0xFFFF, 0xFFFF, MS(112000), 5000), MSG_Q_GOOD);
    assert_int_equal(codec_heartbeat(&hb, 0, 0xFFFF, MS(113000), 5000), MSG_Q_GOOD);
    assert_int_equal(hb.last, 0);
    assert_true(hb.changed_ns == MS(113000));
}

static void test_heartbeat_bit(void **state)
{
    /* Bit 11 toggles every 2 s; the other bits change all the time and must not count. */
    struct codec_heartbeat hb = {0};
    const uint16_t mask = 1u << 11;

    (void)state;
    assert_int_equal(codec_heartbeat(&hb, 0x0001, mask, MS(0), 6000), MSG_Q_GOOD);
    assert_int_equal(codec_heartbeat(&hb, 0x00C1, mask, MS(1000), 6000), MSG_Q_GOOD);
    assert_int_equal(codec_heartbeat(&hb, 0x0801, mask, MS(2000), 6000), MSG_Q_GOOD);
    assert_int_equal(codec_heartbeat(&hb, 0x0802, mask, MS(7000), 6000), MSG_Q_GOOD);
    assert_int_equal(codec_heartbeat(&hb, 0x0803, mask, MS(8000), 6000), MSG_Q_STALE);
    assert_int_equal(codec_heartbeat(&hb, 0x0003, mask, MS(9000), 6000), MSG_Q_GOOD);
    /* Zeroed state after a comm loss: the next reading starts afresh. */
    memset(&hb, 0, sizeof(hb));
    assert_int_equal(codec_heartbeat(&hb, 0x0003, mask, MS(60000), 6000), MSG_Q_GOOD);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_width_and_names),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_types_and_orders),
        cmocka_unit_test(test_orders_against_layout),
        cmocka_unit_test(test_float_orders_against_layout),
        cmocka_unit_test(test_only_own_registers_read),
        cmocka_unit_test(test_uint16_int16_identity),
        cmocka_unit_test(test_scale_tenth),
        cmocka_unit_test(test_scale_decimal_exhaustive),
        cmocka_unit_test(test_scale_offset_table),
        cmocka_unit_test(test_scale_32bit),
        cmocka_unit_test(test_float_sentinels),
        cmocka_unit_test(test_integer_sentinels),
        cmocka_unit_test(test_decimals_table),
        cmocka_unit_test(test_decimals_exhaustive),
        cmocka_unit_test(test_decimals_only_when_asked),
        cmocka_unit_test(test_every_bit),
        cmocka_unit_test(test_coil_word),
        cmocka_unit_test(test_ma_ne43_edges),
        cmocka_unit_test(test_ma_float_currents),
        cmocka_unit_test(test_ma_spans),
        cmocka_unit_test(test_ma_status_currents),
        cmocka_unit_test(test_ma_custom_bands),
        cmocka_unit_test(test_range),
        cmocka_unit_test(test_status_rules),
        cmocka_unit_test(test_status_first_match),
        cmocka_unit_test(test_status_every_bit),
        cmocka_unit_test(test_heartbeat_counter),
        cmocka_unit_test(test_heartbeat_bit),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
