/*
 * Unit tests for f32: the integer-only float encoder against the host's IEEE arithmetic.
 * The reference is (float)((double)num / den): the double quotient is correctly rounded,
 * and rounding a double quotient once more to float is innocuous (53 >= 2 * 24 + 2), so
 * the reference is the correctly rounded float32 of num/den, as f32_from_ratio must be.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "f32.h"

static uint32_t reference(int32_t num, uint32_t den)
{
    float f = (float)((double)num / (double)den);
    uint32_t bits;

    memcpy(&bits, &f, sizeof(bits));
    return bits;
}

static void check(int32_t num, uint32_t den)
{
    uint32_t got = f32_from_ratio(num, den), want = reference(num, den);

    if (got != want)
        fail_msg("f32_from_ratio(%d, %u) = 0x%08X, want 0x%08X", num, den, got, want);
}

static void test_exact_values(void **state)
{
    (void)state;
    assert_int_equal(f32_from_ratio(0, 1000), 0x00000000);
    assert_int_equal(f32_from_ratio(1000, 1000), 0x3F800000);   /* 1.0 */
    assert_int_equal(f32_from_ratio(-2000, 1000), 0xC0000000);  /* -2.0 */
    assert_int_equal(f32_from_ratio(12500, 1000), 0x41480000);  /* 12.5 */
    assert_int_equal(f32_from_ratio(100000, 1000), 0x42C80000); /* 100.0 */
}

static void test_rounding_matches_host(void **state)
{
    static const int32_t nums[] = {1,        3,         7,         100,      333,
                                   1001,     12345,     99999,     16777215, 16777217,
                                   33554431, INT32_MAX, INT32_MIN, -1,       -12345};
    static const uint32_t dens[] = {1,    3,      7,        10,        1000,
                                    1024, 999983, 16777216, UINT32_MAX};

    (void)state;
    for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
        for (size_t j = 0; j < sizeof(dens) / sizeof(dens[0]); j++)
            check(nums[i], dens[j]);
    }
}

static void test_concentration_range(void **state)
{
    (void)state;
    /* Every milli-unit value a node can report, up to 6553.5 units, over 1000. */
    for (int32_t milli = 0; milli <= 6553500; milli += 7)
        check(milli, 1000);
}

static void test_pseudo_random(void **state)
{
    uint64_t x = 0x9E3779B97F4A7C15u;

    (void)state;
    for (int i = 0; i < 200000; i++) {
        uint32_t den;

        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        den = (uint32_t)(x >> 32);
        check((int32_t)(uint32_t)x, den != 0 ? den : 1);
    }
}

static void test_zero_denominator_is_nan(void **state)
{
    (void)state;
    assert_int_equal(f32_from_ratio(1, 0), F32_NAN);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exact_values),
        cmocka_unit_test(test_rounding_matches_host),
        cmocka_unit_test(test_concentration_range),
        cmocka_unit_test(test_pseudo_random),
        cmocka_unit_test(test_zero_denominator_is_nan),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
