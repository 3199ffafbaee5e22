/*
 * Unit tests for rules: rules_high() as a truth table around its edges (exactly at the
 * setpoint, exactly at setpoint - deadband, one ulp either side), NaN and infinities, and
 * ramps driven through a rule to check that a transition happens once, at the right
 * sample.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdbool.h>

#include "rules.h"

struct row {
    double setpoint, deadband;
    bool active;
    double value;
    bool want;
    const char *why;
};

static void run_table(const struct row *rows, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const struct row *r = &rows[i];
        bool got = rules_high(r->setpoint, r->deadband, r->active, r->value);

        if (got != r->want)
            fail_msg("row %zu (%s): rules_high(%.17g, %.17g, %s, %.17g) = %s, want %s", i,
                     r->why, r->setpoint, r->deadband, r->active ? "active" : "inactive",
                     r->value, got ? "active" : "inactive",
                     r->want ? "active" : "inactive");
    }
}

#define N_ROWS(a) (sizeof(a) / sizeof((a)[0]))

static void test_activation_edge(void **state)
{
    const struct row rows[] = {
        {25.0, 2.0, false, 25.0, true, "exactly at setpoint activates (>=)"},
        {25.0, 2.0, false, nextafter(25.0, 0.0), false, "one ulp below does not"},
        {25.0, 2.0, false, nextafter(25.0, 100.0), true, "one ulp above activates"},
        {25.0, 2.0, false, 24.9, false, "below setpoint"},
        {25.0, 2.0, false, 23.0, false, "in the deadband, inactive stays inactive"},
        {25.0, 2.0, false, 1000.0, true, "far above"},
        {25.0, 2.0, false, 0.0, false, "zero"},
        {25.0, 2.0, false, -25.0, false, "negative value"},
    };

    (void)state;
    run_table(rows, N_ROWS(rows));
}

static void test_clear_edge(void **state)
{
    const struct row rows[] = {
        {25.0, 2.0, true, 25.0, true, "at setpoint stays active"},
        {25.0, 2.0, true, 24.0, true, "inside deadband stays active"},
        {25.0, 2.0, true, 23.0, true, "exactly setpoint - deadband stays active"},
        {25.0, 2.0, true, nextafter(23.0, 100.0), true, "one ulp above the clear level"},
        {25.0, 2.0, true, nextafter(23.0, 0.0), false, "one ulp below clears (<)"},
        {25.0, 2.0, true, 22.0, false, "well below clears"},
        {25.0, 2.0, true, 1000.0, true, "far above stays active"},
        /* The clear level is the double setpoint - deadband, whatever it rounds to. */
        {0.3, 0.1, true, 0.3 - 0.1, true, "inexact clear level, exactly at it"},
        {0.3, 0.1, true, nextafter(0.3 - 0.1, 0.0), false, "inexact clear level, below"},
        {0.3, 0.1, true, 0.2, true, "0.2 is above 0.3 - 0.1 == 0.19999999999999998"},
    };

    (void)state;
    run_table(rows, N_ROWS(rows));
}

static void test_zero_deadband(void **state)
{
    const struct row rows[] = {
        {10.0, 0.0, false, 10.0, true, "activates at setpoint"},
        {10.0, 0.0, true, 10.0, true, "at setpoint stays active"},
        {10.0, 0.0, true, nextafter(10.0, 0.0), false, "one ulp below clears"},
        {10.0, 0.0, false, nextafter(10.0, 0.0), false,
         "one ulp below does not activate"},
        {0.0, 0.0, false, 0.0, true, "setpoint 0, value 0"},
        {0.0, 0.0, false, -0.0, true, "-0.0 == 0.0, so it is at the setpoint"},
        {0.0, 0.0, true, -0.0, true, "-0.0 is not below 0.0"},
        {0.0, 0.0, true, -1e-300, false, "tiny negative clears"},
    };

    (void)state;
    run_table(rows, N_ROWS(rows));
}

static void test_negative_setpoint(void **state)
{
    const struct row rows[] = {
        {-5.0, 1.5, false, -5.0, true, "at a negative setpoint activates"},
        {-5.0, 1.5, false, -5.25, false, "below a negative setpoint"},
        {-5.0, 1.5, false, 3.0, true, "positive value above a negative setpoint"},
        {-5.0, 1.5, true, -6.5, true, "exactly at -6.5 stays active"},
        {-5.0, 1.5, true, -6.0, true, "inside the deadband"},
        {-5.0, 1.5, true, nextafter(-6.5, -100.0), false, "one ulp below -6.5 clears"},
        {-5.0, 1.5, true, -7.0, false, "below clears"},
    };

    (void)state;
    run_table(rows, N_ROWS(rows));
}

/*
 * NaN is "no measurement": the state is kept whatever it was. Infinities are ordinary
 * ordered values to the rule: +inf is >= any finite setpoint, so it activates (and keeps
 * an active condition); -inf is below any finite clear level, so it clears and never
 * activates. A codec cannot produce either from 16-bit registers, but a rule must still
 * give a defined answer.
 */
static void test_nan_and_infinity(void **state)
{
    const struct row rows[] = {
        {25.0, 2.0, false, NAN, false, "NaN keeps inactive"},
        {25.0, 2.0, true, NAN, true, "NaN keeps active"},
        {25.0, 2.0, false, -NAN, false, "negative NaN keeps inactive"},
        {25.0, 2.0, true, -NAN, true, "negative NaN keeps active"},
        {0.0, 0.0, true, NAN, true, "NaN with zero deadband keeps active"},
        {-5.0, 1.5, false, NAN, false, "NaN, negative setpoint keeps inactive"},
        {25.0, 2.0, false, INFINITY, true, "+inf activates"},
        {25.0, 2.0, true, INFINITY, true, "+inf keeps active"},
        {25.0, 2.0, true, -INFINITY, false, "-inf clears"},
        {25.0, 2.0, false, -INFINITY, false, "-inf does not activate"},
        {-1e308, 0.0, false, -INFINITY, false, "-inf is below even -1e308"},
    };

    (void)state;
    run_table(rows, N_ROWS(rows));
}

/*
 * Feed values through one rule the way the RT loop does (state carried between calls) and
 * record where it changes state. Returns the number of transitions.
 */
static size_t drive(double setpoint, double deadband, const double *values, size_t n,
                    size_t *act_at, size_t *clr_at, size_t *n_act, size_t *n_clr)
{
    bool active = false;

    *n_act = *n_clr = 0;
    for (size_t i = 0; i < n; i++) {
        bool next = rules_high(setpoint, deadband, active, values[i]);

        if (next && !active)
            act_at[(*n_act)++] = i;
        else if (!next && active)
            clr_at[(*n_clr)++] = i;
        active = next;
    }
    return *n_act + *n_clr;
}

static void test_ramp_up_and_down(void **state)
{
    /* 0.0, 0.5, ... 40.0 and back down to 0.0: steps of 0.5 are exact in binary. */
    double v[161];
    size_t act[161], clr[161], n_act, n_clr, n = 0;

    (void)state;
    for (int i = 0; i <= 80; i++)
        v[n++] = i * 0.5;
    for (int i = 79; i >= 0; i--)
        v[n++] = i * 0.5;
    assert_int_equal(n, 161);

    assert_int_equal(drive(25.0, 2.0, v, n, act, clr, &n_act, &n_clr), 2);
    assert_int_equal(n_act, 1);
    assert_int_equal(n_clr, 1);
    /* Up: index 50 is 25.0, the first value >= the setpoint. */
    assert_int_equal(act[0], 50);
    assert_true(v[act[0]] == 25.0);
    /*
     * Down: index 80 + k holds 40 - 0.5 k. 23.0 (k = 34) is exactly the clear level and
     * keeps the alarm; 22.5 (k = 35, index 115) is the first value strictly below it.
     */
    assert_true(v[114] == 23.0);
    assert_int_equal(clr[0], 115);
    assert_true(v[clr[0]] == 22.5);
}

static void test_hovering_does_not_chatter(void **state)
{
    /* Noise around the setpoint, all above the clear level of 23: one activation only. */
    const double v[] = {24.0, 24.9,    25.0, 24.9, 25.1, 23.5, 25.0, 23.0,    24.99,
                        26.0, 23.0001, NAN,  24.0, 25.0, 23.0, NAN,  22.9999, 25.0};
    size_t act[32], clr[32], n_act, n_clr;

    (void)state;
    drive(25.0, 2.0, v, sizeof(v) / sizeof(v[0]), act, clr, &n_act, &n_clr);
    assert_int_equal(n_act, 2);
    assert_int_equal(n_clr, 1);
    assert_int_equal(act[0], 2);  /* first 25.0 */
    assert_int_equal(clr[0], 16); /* 22.9999: the only value below 23 */
    assert_int_equal(act[1], 17); /* 25.0 again */
}

static void test_nan_in_ramp_changes_nothing(void **state)
{
    /* NaN right where a transition would be: the transition waits for a real value. */
    const double v[] = {20.0, NAN, 30.0, NAN, NAN, 10.0, NAN};
    size_t act[8], clr[8], n_act, n_clr;

    (void)state;
    drive(25.0, 2.0, v, sizeof(v) / sizeof(v[0]), act, clr, &n_act, &n_clr);
    assert_int_equal(n_act, 1);
    assert_int_equal(n_clr, 1);
    assert_int_equal(act[0], 2);
    assert_int_equal(clr[0], 5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_activation_edge),
        cmocka_unit_test(test_clear_edge),
        cmocka_unit_test(test_zero_deadband),
        cmocka_unit_test(test_negative_setpoint),
        cmocka_unit_test(test_nan_and_infinity),
        cmocka_unit_test(test_ramp_up_and_down),
        cmocka_unit_test(test_hovering_does_not_chatter),
        cmocka_unit_test(test_nan_in_ramp_changes_nothing),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
