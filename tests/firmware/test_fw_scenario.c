/*
 * Unit tests for scenario: parsing (kinds, keys, decimal numbers, errors), each value
 * profile at the instants that define it, line faults, and determinism: the same seed
 * gives the same values, another seed other noise.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdbool.h>

#include "scenario.h"

#define FS 1000 /* range_x10 of 100.0 units */

static void test_parse_fixed(void **state)
{
    uint32_t v;

    (void)state;
    assert_int_equal(scenario_parse_fixed("12", 3, &v), 0);
    assert_int_equal(v, 12000);
    assert_int_equal(scenario_parse_fixed("0.5", 3, &v), 0);
    assert_int_equal(v, 500);
    assert_int_equal(scenario_parse_fixed(".25", 3, &v), 0);
    assert_int_equal(v, 250);
    assert_int_equal(scenario_parse_fixed("1.23456", 3, &v), 0);
    assert_int_equal(v, 1235);
    assert_int_equal(scenario_parse_fixed("7.", 1, &v), 0);
    assert_int_equal(v, 70);
    assert_int_equal(scenario_parse_fixed("", 3, &v), -EINVAL);
    assert_int_equal(scenario_parse_fixed(".", 3, &v), -EINVAL);
    assert_int_equal(scenario_parse_fixed("-1", 3, &v), -EINVAL);
    assert_int_equal(scenario_parse_fixed("1.2.3", 3, &v), -EINVAL);
    assert_int_equal(scenario_parse_fixed("1e3", 3, &v), -EINVAL);
    assert_int_equal(scenario_parse_fixed("99999999999", 3, &v), -EINVAL);
    assert_int_equal(scenario_parse_fixed("3000000", 3, &v), -EINVAL);
}

static void test_parse_specs(void **state)
{
    struct scenario s;

    (void)state;
    assert_int_equal(scenario_parse(&s, "leak,start=30,rate=1.5,peak=60,noise=0", 1), 0);
    assert_int_equal(s.kind, SCENARIO_LEAK);
    assert_int_equal(s.start_ms, 30000);
    assert_int_equal(s.rate_milli_s, 1500);
    assert_int_equal(s.peak_milli, 60000);
    assert_int_equal(scenario_parse(&s, "fault,mode=high,for=5", 1), 0);
    assert_int_equal(s.fault_ua, 22000);
    assert_int_equal(s.for_ms, 5000);
    assert_int_equal(scenario_parse(&s, "commloss,start=2,for=3", 1), 0);
    assert_true(s.loss);
    assert_int_equal(s.loss_start_ms, 2000);
    assert_int_equal(s.loss_for_ms, 3000);
    assert_int_equal(scenario_parse(&s, "steady,corrupt=0.25,loss=1", 1), 0);
    assert_int_equal(s.corrupt_ppm, 250000);
    assert_true(s.loss);

    assert_int_equal(scenario_parse(&s, "nonsense", 1), -ENOENT);
    assert_int_equal(scenario_parse(&s, "leak,colour=red", 1), -ENOENT);
    assert_int_equal(scenario_parse(&s, "leak,rate=fast", 1), -EINVAL);
    assert_int_equal(scenario_parse(&s, "leak,rate", 1), -EINVAL);
    assert_int_equal(scenario_parse(&s, "fault,mode=sideways", 1), -EINVAL);
    assert_int_equal(scenario_parse(&s, "crc,p=1.5", 1), -EINVAL);
}

static void test_steady_noise_bounded_and_deterministic(void **state)
{
    struct scenario a, b, c;
    bool differs = false;

    (void)state;
    assert_int_equal(scenario_parse(&a, "steady,base=10,noise=0.5", 42), 0);
    assert_int_equal(scenario_parse(&b, "steady,base=10,noise=0.5", 42), 0);
    assert_int_equal(scenario_parse(&c, "steady,base=10,noise=0.5", 43), 0);
    for (uint32_t t = 0; t < 60000; t += 37) {
        int32_t v = scenario_milli(&a, t, FS);

        assert_in_range(v, 9500, 10500);
        assert_int_equal(v, scenario_milli(&b, t, FS));
        /* Constant within one 100 ms sample step. */
        assert_int_equal(v, scenario_milli(&a, t - t % 100, FS));
        if (v != scenario_milli(&c, t, FS))
            differs = true;
    }
    assert_true(differs);
}

static void test_leak_ramps(void **state)
{
    struct scenario s;

    (void)state;
    assert_int_equal(
        scenario_parse(&s, "leak,base=2,noise=0,start=10,rate=0.5,peak=40", 1), 0);
    assert_int_equal(scenario_milli(&s, 9999, FS), 2000);
    assert_int_equal(scenario_milli(&s, 10000, FS), 2000);
    assert_int_equal(scenario_milli(&s, 20000, FS), 7000);
    assert_int_equal(scenario_milli(&s, 86000, FS), 40000);
    assert_int_equal(scenario_milli(&s, 500000, FS), 40000);
    /* Stopped after 20 s at 12 %: it disperses at 0.5 %/s back to the background. */
    assert_int_equal(
        scenario_parse(&s, "leak,base=2,noise=0,start=10,rate=0.5,peak=40,for=20", 1), 0);
    assert_int_equal(scenario_milli(&s, 30000, FS), 12000);
    assert_int_equal(scenario_milli(&s, 34000, FS), 10000);
    assert_int_equal(scenario_milli(&s, 50000, FS), 2000);
    assert_int_equal(scenario_milli(&s, 500000, FS), 2000);
    /* Stopped after the peak: it leaves the peak, not the ramp's imagined top. */
    assert_int_equal(
        scenario_parse(&s, "leak,base=2,noise=0,start=0,rate=1,peak=10,for=30", 1), 0);
    assert_int_equal(scenario_milli(&s, 30000, FS), 10000);
    assert_int_equal(scenario_milli(&s, 33000, FS), 7000);
    /* A fast leak reaches full scale (20 mA) in five seconds by default. */
    assert_int_equal(scenario_parse(&s, "fast,noise=0,start=1", 1), 0);
    assert_int_equal(scenario_milli(&s, 3500, FS), 50000);
    assert_int_equal(scenario_milli(&s, 6000, FS), 100000);
    assert_int_equal(scenario_loop_ua(&s, 60000, FS), 20000);
}

static void test_stuck_freezes(void **state)
{
    struct scenario s;
    int32_t frozen;

    (void)state;
    assert_int_equal(scenario_parse(&s, "stuck,base=20,noise=2,start=5", 7), 0);
    frozen = scenario_milli(&s, 5000, FS);
    for (uint32_t t = 5000; t < 100000; t += 250)
        assert_int_equal(scenario_milli(&s, t, FS), frozen);
}

static void test_fault_window(void **state)
{
    struct scenario s;

    (void)state;
    assert_int_equal(scenario_parse(&s, "fault,noise=0,start=2,for=3", 1), 0);
    assert_int_equal(scenario_loop_ua(&s, 1999, FS), 4000);
    assert_int_equal(scenario_loop_ua(&s, 2000, FS), 2000);
    assert_int_equal(scenario_loop_ua(&s, 4999, FS), 2000);
    assert_int_equal(scenario_loop_ua(&s, 5000, FS), 4000);
    assert_int_equal(scenario_parse(&s, "fault,mode=high,start=0", 1), 0);
    assert_int_equal(scenario_loop_ua(&s, 999999, FS), 22000);
}

static void test_line_faults(void **state)
{
    struct scenario s;
    unsigned corrupted = 0;

    (void)state;
    assert_int_equal(scenario_parse(&s, "commloss,start=1,for=2", 1), 0);
    assert_false(scenario_silent(&s, 999));
    assert_true(scenario_silent(&s, 1000));
    assert_true(scenario_silent(&s, 2999));
    assert_false(scenario_silent(&s, 3000));
    assert_false(scenario_corrupt(&s, 0));

    assert_int_equal(scenario_parse(&s, "crc,p=0.2", 9), 0);
    for (uint32_t n = 0; n < 10000; n++)
        corrupted += scenario_corrupt(&s, n);
    assert_in_range(corrupted, 1800, 2200);
    assert_false(scenario_silent(&s, 5000));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_fixed),
        cmocka_unit_test(test_parse_specs),
        cmocka_unit_test(test_steady_noise_bounded_and_deterministic),
        cmocka_unit_test(test_leak_ramps),
        cmocka_unit_test(test_stuck_freezes),
        cmocka_unit_test(test_fault_window),
        cmocka_unit_test(test_line_faults),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
