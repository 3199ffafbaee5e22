/*
 * Unit tests for rules, all driven by an invented CLOCK_MONOTONIC: nothing here sleeps.
 *
 *  - rules_high(), the wrapper the RT loop calls today, as a truth table around its edges
 *    (exactly at the setpoint, exactly at setpoint - deadband, one ulp either side), NaN
 *    and infinities, and ramps driven through it.
 *  - Every limit kind through one table of scripted steps (samples, bad samples and timer
 *    ticks at chosen nanoseconds), each step checking the events, the state and the next
 *    deadline: delays completing exactly at the deadline and not 1 ns before, interrupted
 *    delays, re-alarm timing, and the hold on bad quality. Low kinds run the same script
 *    mirrored about the set-point.
 *  - Rate of change: rising, falling, window scaling, interpolation, fast and slow
 *    sampling, a wall-clock step under monotonic times, bad samples.
 *  - Point level: instrument fault per quality, maintenance, the over-range option,
 *    oxygen defaults, time clamping, deadlines; K-of-N voting; config checks at the exact
 *    boundaries of every standard ceiling.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "msg.h"
#include "rules.h"

#define N_ROWS(a) (sizeof(a) / sizeof((a)[0]))
#define NEVER     RULES_NEVER
#define SEC(x)    ((int64_t)(x)*RULES_NS_PER_S)
#define MS(x)     ((int64_t)(x)*INT64_C(1000000))

#define ACT RULES_EV_ACTIVATED
#define CLR RULES_EV_CLEARED
#define RE  RULES_EV_REALARM

/* ==== rules_high(): the RT loop's entry point, unchanged semantics ====================
 */

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
        {25.0, 2.0, false, (double)NAN, false, "NaN keeps inactive"},
        {25.0, 2.0, true, (double)NAN, true, "NaN keeps active"},
        {25.0, 2.0, false, -(double)NAN, false, "negative NaN keeps inactive"},
        {25.0, 2.0, true, -(double)NAN, true, "negative NaN keeps active"},
        {0.0, 0.0, true, (double)NAN, true, "NaN with zero deadband keeps active"},
        {-5.0, 1.5, false, (double)NAN, false, "NaN, negative setpoint keeps inactive"},
        {25.0, 2.0, false, (double)INFINITY, true, "+inf activates"},
        {25.0, 2.0, true, (double)INFINITY, true, "+inf keeps active"},
        {25.0, 2.0, true, -(double)INFINITY, false, "-inf clears"},
        {25.0, 2.0, false, -(double)INFINITY, false, "-inf does not activate"},
        {-1e308, 0.0, false, -(double)INFINITY, false, "-inf is below even -1e308"},
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
    const double v[] = {24.0, 24.9, 25.0,  24.9,        25.1,    23.5,
                        25.0, 23.0, 24.99, 26.0,        23.0001, (double)NAN,
                        24.0, 25.0, 23.0,  (double)NAN, 22.9999, 25.0};
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
    const double v[] = {20.0,        (double)NAN, 30.0,       (double)NAN,
                        (double)NAN, 10.0,        (double)NAN};
    size_t act[8], clr[8], n_act, n_clr;

    (void)state;
    drive(25.0, 2.0, v, sizeof(v) / sizeof(v[0]), act, clr, &n_act, &n_clr);
    assert_int_equal(n_act, 1);
    assert_int_equal(n_clr, 1);
    assert_int_equal(act[0], 2);
    assert_int_equal(clr[0], 5);
}

/* ==== limits: one script, every kind =================================================
 */

/*
 * One step of a limit script. Values are written for a high limit at 50 with deadband 2
 * (active at >= 50, clears below 48); a low kind runs them mirrored about 50 (v -> 100 -
 * v, exact for every value used), so it activates at <= 50 and clears above 52.
 */
struct lstep {
    int64_t t;
    enum rules_input in;
    double v;
    unsigned ev;     /* RULES_EV_* wanted from this step */
    bool active;     /* state wanted after it */
    int64_t due;     /* rules_limit_due() wanted after it */
    int64_t changed; /* changed_ns wanted after it, or -1 not to check */
};

struct lcase {
    const char *why;
    int64_t on, off, realarm;
    size_t n;
    const struct lstep *steps;
};

#define STEPS(...)                                                                       \
    sizeof((const struct lstep[]){__VA_ARGS__}) / sizeof(struct lstep),                  \
        (const struct lstep[])                                                           \
    {                                                                                    \
        __VA_ARGS__                                                                      \
    }

#define G RULES_IN_GOOD
#define B RULES_IN_BAD
#define T RULES_IN_TICK

static bool kind_high(unsigned kind)
{
    return kind == RULES_LIMIT_HH || kind == RULES_LIMIT_H ||
           kind == RULES_LIMIT_GAS_L1 || kind == RULES_LIMIT_GAS_L2 ||
           kind == RULES_LIMIT_O2_HIGH;
}

static void run_lcase(const struct lcase *c, unsigned kind)
{
    struct rules_limit_cfg cfg = rules_limit(kind, 50.0, 2.0);
    struct rules_limit_state st;

    cfg.on_delay_ns = c->on;
    cfg.off_delay_ns = c->off;
    cfg.realarm_ns = c->realarm;
    rules_limit_init(&st);
    for (size_t i = 0; i < c->n; i++) {
        const struct lstep *s = &c->steps[i];
        double v = kind_high(kind) ? s->v : 100.0 - s->v;
        unsigned ev = rules_limit_step(&cfg, &st, s->in, v, s->t);
        int64_t due = rules_limit_due(&st);

        if (ev != s->ev || st.active != s->active || due != s->due ||
            (s->changed >= 0 && st.changed_ns != s->changed))
            fail_msg("%s, kind %s, step %zu (t=%lld ns, in=%d, v=%.17g): events 0x%x "
                     "active %d due %lld changed %lld; want 0x%x, %d, %lld, %lld",
                     c->why, rules_limit_name(kind), i, (long long)s->t, (int)s->in, v,
                     ev, st.active, (long long)due, (long long)st.changed_ns, s->ev,
                     s->active, (long long)s->due, (long long)s->changed);
    }
}

static void test_limit_scripts(void **state)
{
    const double below50 = nextafter(50.0, 0.0), below48 = nextafter(48.0, 0.0);
    const struct lcase cases[] = {
        {"no delays: edges of activation and clear", 0, 0, 0,
         STEPS({0, G, below50, 0, false, NEVER, -1},
               {SEC(1), G, 50.0, ACT, true, NEVER, SEC(1)},
               {SEC(2), G, 48.0, 0, true, NEVER, SEC(1)},
               {SEC(3), G, below48, CLR, false, NEVER, SEC(3)},
               {SEC(4), G, 49.0, 0, false, NEVER, -1},
               {SEC(5), G, (double)INFINITY, ACT, true, NEVER, -1},
               {SEC(6), G, -(double)INFINITY, CLR, false, NEVER, -1})},
        {"on-delay completes exactly at its deadline, not 1 ns before", SEC(5), 0, 0,
         STEPS({0, G, 50.0, 0, false, SEC(5), -1},
               {SEC(5) - 1, T, 0, 0, false, SEC(5), -1},
               {SEC(5), T, 0, ACT, true, NEVER, SEC(5)})},
        {"on-delay interrupted by one sample below restarts from the next one", SEC(5), 0,
         0,
         STEPS({0, G, 60.0, 0, false, SEC(5), -1},
               {SEC(3), G, below50, 0, false, NEVER, -1},
               {SEC(4), G, 50.0, 0, false, SEC(9), -1},
               {SEC(5), T, 0, 0, false, SEC(9), -1},
               {SEC(9) - 1, T, 0, 0, false, SEC(9), -1},
               {SEC(9), T, 0, ACT, true, NEVER, SEC(9)})},
        {"samples that stay beyond continue the run without restarting it", SEC(5), 0, 0,
         STEPS({0, G, 55.0, 0, false, SEC(5), -1},
               {SEC(2), G, 51.0, 0, false, SEC(5), -1},
               {SEC(4), G, 50.0, 0, false, SEC(5), -1},
               {SEC(5), G, 50.0, ACT, true, NEVER, SEC(5)})},
        {"a late sample below still finds the completed on-delay: activated, then "
         "cleared",
         SEC(5), 0, 0,
         STEPS({0, G, 55.0, 0, false, SEC(5), -1},
               {SEC(7), G, 40.0, ACT | CLR, false, NEVER, SEC(7)})},
        {"off-delay: exactly at the deadline, not 1 ns before; interrupted at the clear "
         "level",
         0, SEC(3), 0,
         STEPS({0, G, 50.0, ACT, true, NEVER, 0},
               {SEC(10), G, 47.0, 0, true, SEC(13), -1},
               {SEC(11), G, 48.0, 0, true, NEVER, -1},
               {SEC(12), G, 47.0, 0, true, SEC(15), -1},
               {SEC(15) - 1, T, 0, 0, true, SEC(15), -1},
               {SEC(15), T, 0, CLR, false, NEVER, SEC(15)})},
        {"off-delay does not let a brief dip clear the alarm", 0, SEC(3), 0,
         STEPS({0, G, 60.0, ACT, true, NEVER, 0}, {SEC(1), G, 30.0, 0, true, SEC(4), -1},
               {SEC(2), G, 55.0, 0, true, NEVER, -1}, {SEC(9), T, 0, 0, true, NEVER, 0})},
        {"re-alarm every 10 s, once for a late timer, staying on the activation grid", 0,
         0, SEC(10),
         STEPS({0, G, 60.0, ACT, true, SEC(10), 0},
               {SEC(10) - 1, T, 0, 0, true, SEC(10), -1},
               {SEC(10), T, 0, RE, true, SEC(20), 0},
               {SEC(35), T, 0, RE, true, SEC(40), 0},
               {SEC(36), G, 40.0, CLR, false, NEVER, SEC(36)},
               {SEC(60), T, 0, 0, false, NEVER, -1},
               {SEC(61), G, 50.0, ACT, true, SEC(71), SEC(61)})},
        {"a clear and a re-alarm due at the same instant: the clear wins", 0, SEC(3),
         SEC(10),
         STEPS({0, G, 60.0, ACT, true, SEC(10), 0},
               {SEC(7), G, 40.0, 0, true, SEC(10), -1},
               {SEC(10), T, 0, CLR, false, NEVER, SEC(10)})},
        {"one late tick reports the activation and the re-alarm after it", SEC(5), 0,
         SEC(10),
         STEPS({0, G, 60.0, 0, false, SEC(5), -1},
               {SEC(16), T, 0, ACT | RE, true, SEC(25), SEC(5)})},
        {"bad quality holds an inactive limit and suspends its on-delay", SEC(5), 0, 0,
         STEPS({0, G, 55.0, 0, false, SEC(5), -1}, {SEC(2), B, 0, 0, false, NEVER, -1},
               {SEC(10), T, 0, 0, false, NEVER, -1},
               {SEC(11), G, 55.0, ACT, true, NEVER, SEC(11)})},
        {"a bad sample inside the on-delay does not restart it", SEC(5), 0, 0,
         STEPS({0, G, 55.0, 0, false, SEC(5), -1}, {SEC(2), B, 0, 0, false, NEVER, -1},
               {SEC(3), G, 55.0, 0, false, SEC(5), -1},
               {SEC(5), T, 0, ACT, true, NEVER, SEC(5)})},
        {"after a bad gap a value below ends the suspended run", SEC(5), 0, 0,
         STEPS({0, G, 55.0, 0, false, SEC(5), -1}, {SEC(2), B, 0, 0, false, NEVER, -1},
               {SEC(10), G, 49.0, 0, false, NEVER, -1},
               {SEC(11), G, 55.0, 0, false, SEC(16), -1})},
        {"bad quality holds an active limit and drops its pending clear", 0, SEC(3), 0,
         STEPS({0, G, 60.0, ACT, true, NEVER, 0},
               {SEC(10), G, 40.0, 0, true, SEC(13), -1},
               {SEC(11), B, 0, 0, true, NEVER, -1}, {SEC(20), T, 0, 0, true, NEVER, -1},
               {SEC(21), G, 40.0, 0, true, SEC(24), -1},
               {SEC(24), T, 0, CLR, false, NEVER, SEC(24)})},
        {"bad quality without delays: nothing activates, nothing clears", 0, 0, 0,
         STEPS({0, B, 0, 0, false, NEVER, -1},
               {SEC(1), G, 60.0, ACT, true, NEVER, SEC(1)},
               {SEC(2), B, 0, 0, true, NEVER, -1},
               {SEC(3), G, 40.0, CLR, false, NEVER, SEC(3)})},
        {"a good NaN is a bad sample", 0, 0, 0,
         STEPS({0, G, 60.0, ACT, true, NEVER, 0},
               {SEC(1), G, (double)NAN, 0, true, NEVER, 0},
               {SEC(2), G, 40.0, CLR, false, NEVER, SEC(2)},
               {SEC(3), G, (double)NAN, 0, false, NEVER, SEC(2)})},
        {"re-alarm goes on while the value is unknown", 0, 0, SEC(10),
         STEPS({0, G, 60.0, ACT, true, SEC(10), 0}, {SEC(1), B, 0, 0, true, SEC(10), -1},
               {SEC(10), T, 0, RE, true, SEC(20), -1})},
        {"a bad sample after a missed deadline completes the delay first", SEC(5), 0, 0,
         STEPS({0, G, 55.0, 0, false, SEC(5), -1},
               {SEC(6), B, 0, ACT, true, NEVER, SEC(5)})},
        {"ticks without a pending delay do nothing", SEC(5), SEC(5), 0,
         STEPS({0, T, 0, 0, false, NEVER, -1}, {SEC(100), T, 0, 0, false, NEVER, -1},
               {SEC(101), G, 10.0, 0, false, NEVER, -1})},
    };

    (void)state;
    for (size_t i = 0; i < N_ROWS(cases); i++) {
        for (unsigned kind = 0; kind < RULES_LIMIT_COUNT; kind++)
            run_lcase(&cases[i], kind);
    }
}

#undef G
#undef B
#undef T

/* A low limit written out directly (not mirrored), to pin the direction of each edge. */
static void test_low_limit_edges(void **state)
{
    struct rules_limit_cfg cfg = rules_limit(RULES_LIMIT_LL, 10.0, 1.5);
    struct rules_limit_state st;
    const struct {
        double v;
        bool active;
    } rows[] = {
        {nextafter(10.0, 100.0), false}, {10.0, true},  {11.5, true},
        {nextafter(11.5, 100.0), false}, {11.0, false}, {-(double)INFINITY, true},
        {(double)INFINITY, false},
    };

    (void)state;
    rules_limit_init(&st);
    for (size_t i = 0; i < N_ROWS(rows); i++) {
        (void)rules_limit_step(&cfg, &st, RULES_IN_GOOD, rows[i].v, SEC(i));
        if (st.active != rows[i].active)
            fail_msg("row %zu: LL at 10 db 1.5, value %.17g: active %d, want %d", i,
                     rows[i].v, st.active, rows[i].active);
    }
}

/* rules_high() is the zero-delay high limit: the two agree on a dense grid. */
static void test_high_is_limit_without_delays(void **state)
{
    const double sps[] = {25.0, -5.0, 0.3};
    const double dbs[] = {0.0, 2.0, 0.1};

    (void)state;
    for (size_t a = 0; a < N_ROWS(sps); a++) {
        for (size_t b = 0; b < N_ROWS(dbs); b++) {
            struct rules_limit_cfg cfg = rules_limit(RULES_LIMIT_H, sps[a], dbs[b]);
            struct rules_limit_state st;
            bool active = false;

            rules_limit_init(&st);
            /* Up from set-point - 4 to set-point + 4 and back, in steps of 0.01. */
            for (int k = 0; k <= 1600; k++) {
                int i = k <= 800 ? k - 400 : 1200 - k;
                double v = sps[a] + i * 0.01;

                active = rules_high(sps[a], dbs[b], active, v);
                (void)rules_limit_step(&cfg, &st, RULES_IN_GOOD, v, SEC(k));
                assert_int_equal(active, st.active);
            }
        }
    }
}

/* ==== rate of change =================================================================
 */

static void roc_feed(const struct rules_roc_cfg *cfg, struct rules_roc_state *st,
                     const int64_t *t, const double *v, size_t n, unsigned *ev)
{
    for (size_t i = 0; i < n; i++)
        ev[i] = rules_roc_step(cfg, st, v[i], t[i]);
}

/* Each index in want gets exactly that event; every other index gets none. */
struct roc_want {
    size_t at;
    unsigned ev;
};

static void roc_expect(const char *why, const unsigned *ev, size_t n,
                       const struct roc_want *want, size_t n_want)
{
    for (size_t i = 0; i < n; i++) {
        unsigned w = 0;

        for (size_t j = 0; j < n_want; j++) {
            if (want[j].at == i)
                w = want[j].ev;
        }
        if (ev[i] != w)
            fail_msg("%s: sample %zu: events 0x%x, want 0x%x", why, i, ev[i], w);
    }
}

#define FALL(ev) ((ev) << RULES_ROC_FALL_SHIFT)

/*
 * Samples every 10 s. Up one unit per sample (6 per minute) to 12, then flat: over a 60 s
 * window the rate is exactly 6 from t = 60 s (the first time the history reaches back a
 * window) until the ramp stops, and 5 at t = 130 s.
 */
static void test_roc_rising(void **state)
{
    struct rules_roc_cfg cfg = {.rising = true, .limit = 6.0, .window_ns = SEC(60)};
    struct rules_roc_state st;
    int64_t t[21];
    double v[21];
    unsigned ev[21];
    const struct roc_want want[] = {{6, ACT}, {13, CLR}};

    (void)state;
    for (int i = 0; i < 21; i++) {
        t[i] = SEC(10 * i);
        v[i] = i <= 12 ? i : 12;
    }
    rules_roc_init(&st);
    for (size_t i = 0; i < 21; i++) {
        ev[i] = rules_roc_step(&cfg, &st, v[i], t[i]);
        if (i < 6)
            assert_true(isnan(st.rate)); /* not a window of history yet: unknown */
        else if (i <= 12)
            assert_true(st.rate == 6.0);
    }
    roc_expect("rising 6/min, limit 6", ev, 21, want, N_ROWS(want));

    /* Just above the rate: never active. */
    cfg.limit = nextafter(6.0, 100.0);
    rules_roc_init(&st);
    roc_feed(&cfg, &st, t, v, 21, ev);
    roc_expect("rising 6/min, limit one ulp above 6", ev, 21, NULL, 0);

    /* A 30 s window: 3 units in half a minute is still 6 per minute. */
    {
        const struct roc_want want30[] = {{3, ACT}, {13, CLR}};

        cfg.limit = 6.0;
        cfg.window_ns = SEC(30);
        rules_roc_init(&st);
        roc_feed(&cfg, &st, t, v, 21, ev);
        roc_expect("rising 6/min over a 30 s window", ev, 21, want30, N_ROWS(want30));
    }

    /* Falling is not enabled: a fall reports nothing. */
    cfg.window_ns = SEC(60);
    for (int i = 0; i < 21; i++)
        v[i] = -v[i];
    rules_roc_init(&st);
    roc_feed(&cfg, &st, t, v, 21, ev);
    roc_expect("rising only, fed a fall", ev, 21, NULL, 0);
}

static void test_roc_falling_and_both(void **state)
{
    struct rules_roc_cfg cfg = {.falling = true, .limit = 6.0, .window_ns = SEC(60)};
    struct rules_roc_state st;
    int64_t t[31];
    double v[31];
    unsigned ev[31];

    (void)state;
    /* The rising series mirrored: same indices, falling bits. */
    for (int i = 0; i < 21; i++) {
        t[i] = SEC(10 * i);
        v[i] = -(i <= 12 ? i : 12);
    }
    {
        const struct roc_want want[] = {{6, FALL(ACT)}, {13, FALL(CLR)}};

        rules_roc_init(&st);
        roc_feed(&cfg, &st, t, v, 21, ev);
        roc_expect("falling 6/min, limit 6", ev, 21, want, N_ROWS(want));
        assert_false(st.fall_active);
    }

    /*
     * Both directions on one series: up 1 per 10 s to 12, down at the same slope to 0,
     * then flat. Rising: active at 60 s (rate 6), clear at 130 s (11 - 7 = 4). Falling:
     * active at 180 s (6 - 12 = -6), clear at 250 s (0 - 5 = -5).
     */
    for (int i = 0; i < 31; i++) {
        t[i] = SEC(10 * i);
        v[i] = i <= 12 ? i : i <= 24 ? 24 - i : 0;
    }
    {
        const struct roc_want want[] = {
            {6, ACT}, {13, CLR}, {18, FALL(ACT)}, {25, FALL(CLR)}};

        cfg.rising = true;
        rules_roc_init(&st);
        roc_feed(&cfg, &st, t, v, 31, ev);
        roc_expect("up then down, both directions", ev, 31, want, N_ROWS(want));
    }
}

/*
 * The value at the start of the window is interpolated between the stored samples around
 * it, so a rate does not depend on where the samples fall.
 */
static void test_roc_interpolates(void **state)
{
    struct rules_roc_cfg cfg = {.rising = true, .limit = 11.999, .window_ns = SEC(60)};
    struct rules_roc_state st;
    unsigned ev;

    (void)state;
    /* Every 25 s, slope 12 per minute: at 75 s the window starts at 15 s, between 0 and
     * 25 s, where the value was 3. */
    rules_roc_init(&st);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(rules_roc_step(&cfg, &st, 5.0 * i, SEC(25 * i)), 0);
        assert_true(isnan(st.rate));
    }
    ev = rules_roc_step(&cfg, &st, 15.0, SEC(75));
    assert_int_equal(ev, ACT);
    assert_true(fabs(st.rate - 12.0) < 1e-12);

    /*
     * Sampling slower than the window: every 90 s against a 60 s window. The window's
     * start lies between the previous sample and this one, so the rate is the chord's.
     */
    cfg.limit = 5.999;
    rules_roc_init(&st);
    assert_int_equal(rules_roc_step(&cfg, &st, 0.0, 0), 0);
    assert_int_equal(rules_roc_step(&cfg, &st, 9.0, SEC(90)), ACT);
    assert_true(fabs(st.rate - 6.0) < 1e-12);
    assert_int_equal(rules_roc_step(&cfg, &st, 18.0, SEC(180)), 0);
    assert_true(fabs(st.rate - 6.0) < 1e-12);
    assert_int_equal(rules_roc_step(&cfg, &st, 18.0, SEC(270)), CLR);
    assert_true(st.rate == 0.0);
}

/*
 * Sampling much faster than window / (RULES_ROC_SLOTS - 1): every 100 ms against a 60 s
 * window is 600 samples per window for 16 slots. Only one sample per 4 s slot is stored,
 * yet the ring always reaches back a whole window and a ramp reads at its true rate.
 */
static void test_roc_fast_sampling(void **state)
{
    struct rules_roc_cfg cfg = {.rising = true, .limit = 60.0, .window_ns = SEC(60)};
    struct rules_roc_state st;

    (void)state;
    rules_roc_init(&st);
    for (int i = 0; i <= 1800; i++) {
        /* 0.125 per 100 ms is 75 per minute, and every value is exact in binary. */
        unsigned ev = rules_roc_step(&cfg, &st, i * 0.125, MS(100 * i));

        if (i < 600) {
            assert_true(isnan(st.rate));
            assert_int_equal(ev, 0);
        } else {
            if (fabs(st.rate - 75.0) > 1e-9)
                fail_msg("sample %d: rate %.17g, want 75", i, st.rate);
            assert_int_equal(ev, i == 600 ? ACT : 0);
        }
    }
    assert_int_equal(st.count, RULES_ROC_SLOTS);
    for (unsigned k = 1; k < RULES_ROC_SLOTS; k++) {
        unsigned a = (st.head + RULES_ROC_SLOTS - k) % RULES_ROC_SLOTS;
        unsigned b = (a + 1) % RULES_ROC_SLOTS;

        assert_true(st.t[b] - st.t[a] >= SEC(4));
    }
}

/*
 * A window that is not a whole number of slots: 15 s + 14 ns over 15 gaps needs slots of
 * 1 s + 1 ns (rounded up). Samples exactly 1 s apart are then stored every other one, and
 * the ring reaches back the whole window; slots rounded down to 1 s would store all of
 * them, span only 15 s, and leave the rate unknown for ever.
 */
static void test_roc_ring_spans_window(void **state)
{
    struct rules_roc_cfg cfg = {.rising = true, .limit = 1e9, .window_ns = SEC(15) + 14};
    struct rules_roc_state st;

    (void)state;
    rules_roc_init(&st);
    for (int i = 0; i < 200; i++) {
        (void)rules_roc_step(&cfg, &st, 2.0 * i, SEC(i));
        if (i >= 16 && !(fabs(st.rate - 120.0) < 1e-9))
            fail_msg("sample %d: rate %.17g, want 120 per minute", i, st.rate);
    }
}

/*
 * Irregular sampling, from 1 ms to 10 s apart, on a straight ramp: once a window has
 * passed the rate is always known and always the ramp's slope, however the samples fall
 * between the ring's slots.
 */
static void test_roc_irregular_sampling(void **state)
{
    const int64_t windows[] = {SEC(1), SEC(15), SEC(60), SEC(600)};

    (void)state;
    for (size_t w = 0; w < N_ROWS(windows); w++) {
        struct rules_roc_cfg cfg = {
            .rising = true, .limit = 1e9, .window_ns = windows[w]};
        struct rules_roc_state st;
        uint32_t seed = 12345;
        int64_t t = SEC(1000);

        rules_roc_init(&st);
        for (int i = 0; i < 20000; i++) {
            double v;

            seed = seed * 1664525u + 1013904223u;
            t += MS(1) + (int64_t)(seed >> 8) % MS(10000);
            v = 3.0 * (double)(t - SEC(1000)) / (double)RULES_NS_PER_MIN; /* 3 per min */
            (void)rules_roc_step(&cfg, &st, v, t);
            if (t >= SEC(1000) + windows[w] + SEC(10)) {
                if (!(fabs(st.rate - 3.0) < 1e-6))
                    fail_msg("window %lld ns, sample %d: rate %.17g, want 3",
                             (long long)windows[w], i, st.rate);
            }
        }
    }
}

/*
 * The module only ever sees CLOCK_MONOTONIC times. Here the samples' wall-clock stamps
 * step (back 9.5 s, then forward an hour) while their monotonic stamps run on smoothly:
 * a slow rise must not fire, and a steep one must not be hidden. Each scenario also works
 * out what a rate on the wall clock would have said, to show the step would matter.
 */
static void test_roc_wall_clock_step(void **state)
{
    struct rules_point_cfg cfg;
    struct msg_sample s[30];

    (void)state;
    rules_point_defaults(&cfg, RULES_POINT_PROCESS);
    cfg.roc = (struct rules_roc_cfg){
        .rising = true, .falling = true, .limit = 6.0, .window_ns = SEC(60)};

    /* 1. 3 per minute with the wall clock stepping back 9.5 s at sample 10. */
    for (int i = 0; i < 30; i++) {
        s[i] = (struct msg_sample){.quality = MSG_Q_GOOD, .value = 0.5 * i};
        s[i].mono_ns = SEC(5000) + SEC(10 * i);
        s[i].utc_ms = INT64_C(1767225600000) + 10000 * i - (i >= 10 ? 9500 : 0);
    }
    {
        double wall_rate =
            (s[10].value - s[9].value) / ((double)(s[10].utc_ms - s[9].utc_ms) / 60000.0);
        struct rules_point_state st;

        assert_true(wall_rate >= cfg.roc.limit); /* 60 per minute on the wall clock */
        rules_point_init(&st);
        for (int i = 0; i < 30; i++) {
            uint32_t out =
                rules_point_sample(&cfg, &st, s[i].quality, s[i].value, s[i].mono_ns);

            assert_int_equal(rules_events(out, RULES_COND_ROC_RISE), 0);
            assert_int_equal(rules_events(out, RULES_COND_ROC_FALL), 0);
            if (i >= 6)
                assert_true(fabs(st.roc.rate - 3.0) < 1e-12);
        }
    }

    /* 2. 6 per minute with the wall clock stepping forward an hour at sample 10. */
    for (int i = 0; i < 30; i++) {
        s[i].value = i;
        s[i].utc_ms = INT64_C(1767225600000) + 10000 * i + (i >= 10 ? 3600000 : 0);
    }
    {
        double wall_rate =
            (s[10].value - s[9].value) / ((double)(s[10].utc_ms - s[9].utc_ms) / 60000.0);
        struct rules_point_state st;

        assert_true(wall_rate < 0.02); /* the hour would have hidden it */
        rules_point_init(&st);
        for (int i = 0; i < 30; i++) {
            uint32_t out =
                rules_point_sample(&cfg, &st, s[i].quality, s[i].value, s[i].mono_ns);

            assert_int_equal(rules_events(out, RULES_COND_ROC_RISE), i == 6 ? ACT : 0);
            assert_int_equal(rules_events(out, RULES_COND_ROC_FALL), 0);
        }
        assert_true(st.roc.rise_active);
    }
}

/*
 * Bad-quality samples are not points of the rate: interleaved with a ramp, carrying
 * absurd values, they change nothing; the ring holds the same samples with or without
 * them. A long outage does not pile its change into one window either: the start of the
 * window is interpolated across the gap.
 */
static void test_roc_ignores_bad_samples(void **state)
{
    static const uint8_t bad[] = {MSG_Q_TIMEOUT,     MSG_Q_COMM_LOSS,  MSG_Q_SENSOR_FAULT,
                                  MSG_Q_MAINTENANCE, MSG_Q_OVER_RANGE, MSG_Q_UNDER_RANGE,
                                  MSG_Q_STALE,       MSG_Q_SENTINEL,   MSG_Q_BAD_FRAME};
    struct rules_point_cfg cfg;
    struct rules_point_state clean, dirty;

    (void)state;
    rules_point_defaults(&cfg, RULES_POINT_PROCESS);
    cfg.over_range_high = true; /* even then, over-range is no rate sample */
    cfg.roc = (struct rules_roc_cfg){
        .rising = true, .falling = true, .limit = 6.0, .window_ns = SEC(60)};
    rules_point_init(&clean);
    rules_point_init(&dirty);
    for (int i = 0; i < 40; i++) {
        double v = i <= 12 ? i : i <= 24 ? 24 - i : 0;
        uint32_t a = rules_point_sample(&cfg, &clean, MSG_Q_GOOD, v, SEC(10 * i));
        uint32_t b, junk;

        junk = rules_point_sample(&cfg, &dirty, bad[i % N_ROWS(bad)],
                                  1000.0 * (i % 3 - 1), SEC(10 * i) - SEC(5));
        assert_int_equal(rules_events(junk, RULES_COND_ROC_RISE), 0);
        assert_int_equal(rules_events(junk, RULES_COND_ROC_FALL), 0);
        b = rules_point_sample(&cfg, &dirty, MSG_Q_GOOD, v, SEC(10 * i));
        assert_int_equal(rules_events(a, RULES_COND_ROC_RISE),
                         rules_events(b, RULES_COND_ROC_RISE));
        assert_int_equal(rules_events(a, RULES_COND_ROC_FALL),
                         rules_events(b, RULES_COND_ROC_FALL));
        assert_true(clean.roc.rate == dirty.roc.rate ||
                    (isnan(clean.roc.rate) && isnan(dirty.roc.rate)));
    }
    assert_int_equal(clean.roc.count, dirty.roc.count);
    assert_memory_equal(clean.roc.t, dirty.roc.t, sizeof(clean.roc.t));
    assert_memory_equal(clean.roc.v, dirty.roc.v, sizeof(clean.roc.v));

    /*
     * Steady at 10 for two minutes, ten minutes of comm-loss, then 20. The window's start
     * (670 s) falls inside the gap, between 10 at 120 s and 20 at 730 s: the rate is the
     * gap's 10 in 610 s, under 1 per minute, not 10 in one window.
     */
    cfg.roc.limit = 5.0;
    rules_point_init(&dirty);
    for (int i = 0; i <= 12; i++)
        assert_int_equal(rules_point_sample(&cfg, &dirty, MSG_Q_GOOD, 10.0, SEC(10 * i)) &
                             (077u << (3 * RULES_COND_ROC_RISE)),
                         0);
    for (int i = 13; i < 73; i++)
        (void)rules_point_sample(&cfg, &dirty, MSG_Q_COMM_LOSS, 0.0, SEC(10 * i));
    {
        uint32_t out = rules_point_sample(&cfg, &dirty, MSG_Q_GOOD, 20.0, SEC(730));
        double start = 10.0 + 10.0 * (550.0 / 610.0);

        assert_int_equal(out & (077u << (3 * RULES_COND_ROC_RISE)), 0);
        assert_true(fabs(dirty.roc.rate - (20.0 - start)) < 1e-12);
        assert_true(dirty.roc.rate < 1.0);
    }
}

/* ==== points: fault, maintenance, over-range, oxygen, time ========================== */

#define EV(out, cond) rules_events((out), (cond))

/*
 * Every quality through the fault rule with a 5 s delay: a fault-class quality raises the
 * fault exactly 5 s after the run began and not 1 ns before; good and maintenance never
 * do, and maintenance is reported on its own. A good sample then clears whatever is up.
 */
static void test_fault_per_quality(void **state)
{
    static const struct {
        uint8_t q;
        bool fault;
    } rows[] = {
        {MSG_Q_GOOD, false},
        {MSG_Q_COMM_LOSS, true},
        {MSG_Q_TIMEOUT, true},
        {MSG_Q_BAD_FRAME, true},
        {MSG_Q_EXCEPTION, true},
        {MSG_Q_UNDER_RANGE, true},
        {MSG_Q_OVER_RANGE, true},
        {MSG_Q_MAINTENANCE, false},
        {MSG_Q_SENSOR_FAULT, true},
        {MSG_Q_STALE, true},
        {MSG_Q_SENTINEL, true},
        {MSG_Q_COUNT, true},
        {200, true},
    };
    struct rules_point_cfg cfg;

    (void)state;
    assert_int_equal(N_ROWS(rows), MSG_Q_COUNT + 2); /* every quality has a row */
    rules_point_defaults(&cfg, RULES_POINT_COMBUSTIBLE);
    cfg.fault_delay_ns = SEC(5);
    for (size_t i = 0; i < N_ROWS(rows); i++) {
        struct rules_point_state st;
        uint8_t q = rows[i].q;
        bool maint = q == MSG_Q_MAINTENANCE;
        uint32_t out;

        rules_point_init(&st);
        out = rules_point_sample(&cfg, &st, q, 1.0, SEC(100));
        assert_int_equal(EV(out, RULES_COND_FAULT), 0);
        assert_int_equal(EV(out, RULES_COND_MAINT), maint ? ACT : 0);
        assert_int_equal(rules_point_due(&st), rows[i].fault ? SEC(105) : NEVER);
        out = rules_point_sample(&cfg, &st, q, 1.0, SEC(103));
        assert_int_equal(out, 0); /* the run goes on; its start does not move */
        assert_int_equal(rules_point_tick(&cfg, &st, SEC(105) - 1), 0);
        assert_false(st.fault);
        out = rules_point_tick(&cfg, &st, SEC(105));
        if (out != (rows[i].fault ? (uint32_t)ACT << (3 * RULES_COND_FAULT) : 0u) ||
            st.fault != rows[i].fault || st.maintenance != maint)
            fail_msg("quality %u (%s): tick at the deadline gave 0x%x, fault %d maint %d",
                     q, msg_quality_name(q), out, st.fault, st.maintenance);
        assert_int_equal(rules_point_due(&st), NEVER);
        out = rules_point_sample(&cfg, &st, MSG_Q_GOOD, 1.0, SEC(106));
        assert_int_equal(EV(out, RULES_COND_FAULT), rows[i].fault ? CLR : 0);
        assert_int_equal(EV(out, RULES_COND_MAINT), maint ? CLR : 0);
        assert_false(st.fault);
        assert_false(st.maintenance);
    }
}

static void test_fault_runs(void **state)
{
    struct rules_point_cfg cfg;
    struct rules_point_state st;
    const uint32_t f_act = (uint32_t)ACT << (3 * RULES_COND_FAULT);
    const uint32_t f_clr = (uint32_t)CLR << (3 * RULES_COND_FAULT);

    (void)state;
    rules_point_defaults(&cfg, RULES_POINT_PROCESS);
    cfg.fault_delay_ns = SEC(5);

    /* One run through several fault qualities. */
    rules_point_init(&st);
    assert_int_equal(rules_point_sample(&cfg, &st, MSG_Q_COMM_LOSS, 0, 0), 0);
    assert_int_equal(rules_point_sample(&cfg, &st, MSG_Q_TIMEOUT, 0, SEC(2)), 0);
    assert_int_equal(rules_point_sample(&cfg, &st, MSG_Q_STALE, 0, SEC(4)), 0);
    assert_int_equal(rules_point_tick(&cfg, &st, SEC(5)), f_act);

    /* Maintenance ends a run (and clears a fault): the next run starts afresh. */
    rules_point_init(&st);
    (void)rules_point_sample(&cfg, &st, MSG_Q_COMM_LOSS, 0, 0);
    assert_int_equal(rules_point_sample(&cfg, &st, MSG_Q_MAINTENANCE, 0, SEC(3)),
                     (uint32_t)ACT << (3 * RULES_COND_MAINT));
    assert_int_equal(rules_point_due(&st), NEVER);
    assert_int_equal(rules_point_sample(&cfg, &st, MSG_Q_COMM_LOSS, 0, SEC(4)),
                     (uint32_t)CLR << (3 * RULES_COND_MAINT));
    assert_int_equal(rules_point_due(&st), SEC(9));

    /* A quality left out of the mask is neutral: it neither starts nor ends a run. */
    cfg.fault_qualities = RULES_FAULT_DEFAULT & ~(1u << MSG_Q_TIMEOUT);
    rules_point_init(&st);
    assert_int_equal(rules_point_sample(&cfg, &st, MSG_Q_TIMEOUT, 0, 0), 0);
    assert_int_equal(rules_point_due(&st), NEVER);
    (void)rules_point_sample(&cfg, &st, MSG_Q_COMM_LOSS, 0, SEC(1));
    (void)rules_point_sample(&cfg, &st, MSG_Q_TIMEOUT, 0, SEC(3));
    assert_int_equal(rules_point_due(&st), SEC(6));
    assert_int_equal(rules_point_tick(&cfg, &st, SEC(6)), f_act);
    assert_int_equal(rules_point_sample(&cfg, &st, MSG_Q_TIMEOUT, 0, SEC(7)), 0);
    assert_true(st.fault);
    cfg.fault_qualities = RULES_FAULT_DEFAULT;

    /* No delay: the first fault-class sample raises it. */
    cfg.fault_delay_ns = 0;
    rules_point_init(&st);
    assert_int_equal(rules_point_sample(&cfg, &st, MSG_Q_SENSOR_FAULT, 0, SEC(1)), f_act);
    cfg.fault_delay_ns = SEC(5);

    /* A good sample after a missed deadline: raised at the deadline, then cleared. */
    rules_point_init(&st);
    (void)rules_point_sample(&cfg, &st, MSG_Q_COMM_LOSS, 0, 0);
    assert_int_equal(rules_point_sample(&cfg, &st, MSG_Q_GOOD, 1.0, SEC(7)),
                     f_act | f_clr);
    assert_false(st.fault);

    /* A short dropout shorter than the delay raises nothing. */
    rules_point_init(&st);
    (void)rules_point_sample(&cfg, &st, MSG_Q_TIMEOUT, 0, 0);
    assert_int_equal(rules_point_sample(&cfg, &st, MSG_Q_GOOD, 1.0, SEC(5) - 1), 0);
    assert_int_equal(rules_point_tick(&cfg, &st, SEC(60)), 0);
    assert_false(st.fault);
}

/*
 * The fault is its own condition: a gas point in alarm that loses its link keeps its
 * alarms (held) and, after the delay, adds a fault; the two never share an event bit.
 */
static void test_fault_distinct_from_gas_alarms(void **state)
{
    struct rules_point_cfg cfg;
    struct rules_point_state st;
    struct rules_member m;
    uint32_t out;

    (void)state;
    rules_point_defaults(&cfg, RULES_POINT_COMBUSTIBLE);
    assert_int_equal(rules_point_add_limit(&cfg, RULES_LIMIT_GAS_L1, 20.0, 2.0), 0);
    assert_int_equal(rules_point_add_limit(&cfg, RULES_LIMIT_GAS_L2, 40.0, 2.0), 1);
    assert_int_equal(rules_check_point(&cfg, NULL, 0), RULES_CHECK_OK);

    rules_point_init(&st);
    out = rules_point_sample(&cfg, &st, MSG_Q_GOOD, 45.0, 0);
    assert_int_equal(out, ACT | ACT << 3);
    assert_int_equal(rules_point_level(&cfg, &st), 2);
    out = rules_point_sample(&cfg, &st, MSG_Q_COMM_LOSS, 0.0, SEC(1));
    assert_int_equal(out, 0);
    assert_int_equal(rules_point_due(&st), SEC(11));
    out = rules_point_tick(&cfg, &st, SEC(11));
    assert_int_equal(out, (uint32_t)ACT << (3 * RULES_COND_FAULT));
    assert_true(st.limits[0].active && st.limits[1].active && st.fault);
    m = rules_point_member(&cfg, &st);
    assert_true(m.alarm);
    assert_true(m.fault);
    out = rules_point_sample(&cfg, &st, MSG_Q_GOOD, 10.0, SEC(12));
    assert_int_equal(out, CLR | CLR << 3 | (uint32_t)CLR << (3 * RULES_COND_FAULT));
    assert_int_equal(rules_point_level(&cfg, &st), 0);
    assert_true(st.value == 10.0);
}

/*
 * Over-range on a gas point: without the option it is only a bad sample (limits hold, the
 * fault follows); with it, the high limits see +inf, through their on-delays.
 */
static void test_over_range_option(void **state)
{
    struct rules_point_cfg cfg;
    struct rules_point_state st;
    uint32_t out;

    (void)state;
    rules_point_defaults(&cfg, RULES_POINT_COMBUSTIBLE);
    (void)rules_point_add_limit(&cfg, RULES_LIMIT_GAS_L1, 20.0, 2.0);
    (void)rules_point_add_limit(&cfg, RULES_LIMIT_GAS_L2, 40.0, 2.0);
    cfg.limits[0].on_delay_ns = SEC(5);

    rules_point_init(&st);
    assert_int_equal(rules_point_sample(&cfg, &st, MSG_Q_OVER_RANGE, (double)NAN, 0), 0);
    assert_int_equal(rules_point_due(&st), SEC(10));
    assert_int_equal(rules_point_tick(&cfg, &st, SEC(10)),
                     (uint32_t)ACT << (3 * RULES_COND_FAULT));
    assert_int_equal(rules_point_level(&cfg, &st), 0);

    cfg.over_range_high = true;
    rules_point_init(&st);
    out = rules_point_sample(&cfg, &st, MSG_Q_OVER_RANGE, (double)NAN, 0);
    assert_int_equal(out, ACT << 3); /* L2, no delay */
    assert_int_equal(rules_point_due(&st), SEC(5));
    assert_int_equal(rules_point_tick(&cfg, &st, SEC(5) - 1), 0);
    assert_int_equal(rules_point_tick(&cfg, &st, SEC(5)), ACT); /* L1 after its delay */
    assert_int_equal(rules_point_sample(&cfg, &st, MSG_Q_OVER_RANGE, (double)NAN, SEC(6)),
                     0);
    assert_int_equal(rules_point_tick(&cfg, &st, SEC(10)),
                     (uint32_t)ACT << (3 * RULES_COND_FAULT));
    assert_true(isnan(st.value)); /* no number was ever stored */
    out = rules_point_sample(&cfg, &st, MSG_Q_GOOD, 0.0, SEC(11));
    assert_int_equal(out, CLR | CLR << 3 | (uint32_t)CLR << (3 * RULES_COND_FAULT));

    /* Interrupted by a reading back in range below the set-point: the on-delay restarts.
     */
    rules_point_init(&st);
    (void)rules_point_sample(&cfg, &st, MSG_Q_OVER_RANGE, (double)NAN, 0);
    (void)rules_point_sample(&cfg, &st, MSG_Q_GOOD, 30.0,
                             SEC(2)); /* L2 clears, L1 runs */
    (void)rules_point_sample(&cfg, &st, MSG_Q_GOOD, 10.0, SEC(3)); /* L1 run broken */
    assert_int_equal(rules_point_sample(&cfg, &st, MSG_Q_OVER_RANGE, (double)NAN, SEC(4)),
                     ACT << 3);
    assert_int_equal(rules_limit_due(&st.limits[0]), SEC(9));

    /*
     * Low limits hold on over-range even with the option: an oxygen point in deficiency
     * whose reading goes over range raises enrichment and keeps the deficiency alarm.
     */
    rules_point_defaults(&cfg, RULES_POINT_OXYGEN);
    cfg.over_range_high = true;
    rules_point_init(&st);
    assert_int_equal(rules_point_sample(&cfg, &st, MSG_Q_GOOD, 18.0, 0), ACT);
    out = rules_point_sample(&cfg, &st, MSG_Q_OVER_RANGE, (double)NAN, SEC(1));
    assert_int_equal(out, ACT << 3);
    assert_true(st.limits[0].active && st.limits[1].active);
}

static void test_oxygen_defaults(void **state)
{
    struct rules_point_cfg cfg;
    struct rules_point_state st;
    const struct {
        double v;
        uint32_t out;
        bool low, high;
    } rows[] = {
        {20.9, 0, false, false},
        {nextafter(19.5, 100.0), 0, false, false},
        {19.5, ACT, true, false},
        {19.6, 0, true, false},
        {19.8, CLR, false, false},
        {nextafter(23.5, 0.0), 0, false, false},
        {23.5, ACT << 3, false, true},
        {23.4, 0, false, true},
        {23.2, CLR << 3, false, false},
        {10.0, ACT, true, false},
        {30.0, CLR | ACT << 3, false, true},
    };

    (void)state;
    rules_point_defaults(&cfg, RULES_POINT_OXYGEN);
    assert_int_equal(cfg.kind, RULES_POINT_OXYGEN);
    assert_int_equal(cfg.n_limits, 2);
    assert_int_equal(cfg.limits[0].kind, RULES_LIMIT_O2_LOW);
    assert_true(cfg.limits[0].setpoint == 19.5 && cfg.limits[0].deadband == 0.2);
    assert_int_equal(cfg.limits[1].kind, RULES_LIMIT_O2_HIGH);
    assert_true(cfg.limits[1].setpoint == 23.5 && cfg.limits[1].deadband == 0.2);
    assert_true(cfg.limits[0].on_delay_ns == 0 && cfg.limits[1].on_delay_ns == 0);
    assert_int_equal(cfg.fault_qualities, RULES_FAULT_DEFAULT);
    assert_int_equal(rules_check_point(&cfg, NULL, 0), RULES_CHECK_OK);
    assert_string_equal(rules_limit_name(cfg.limits[0].kind), "O2-deficiency");
    assert_string_equal(rules_limit_name(cfg.limits[1].kind), "O2-enrichment");

    rules_point_init(&st);
    for (size_t i = 0; i < N_ROWS(rows); i++) {
        uint32_t out = rules_point_sample(&cfg, &st, MSG_Q_GOOD, rows[i].v, SEC(i));

        if (out != rows[i].out || st.limits[0].active != rows[i].low ||
            st.limits[1].active != rows[i].high)
            fail_msg("row %zu: O2 %.17g %%VOL gave 0x%x (%d, %d), want 0x%x (%d, %d)", i,
                     rows[i].v, out, st.limits[0].active, st.limits[1].active,
                     rows[i].out, rows[i].low, rows[i].high);
    }
}

/*
 * A step never runs time backwards. The RT loop can handle a timer at 5.006 s before it
 * drains a sample stamped 5.003 s; that sample is then taken at 5.006 s.
 */
static void test_point_time_never_goes_back(void **state)
{
    struct rules_point_cfg cfg;
    struct rules_point_state st;

    (void)state;
    rules_point_defaults(&cfg, RULES_POINT_PROCESS);
    (void)rules_point_add_limit(&cfg, RULES_LIMIT_H, 50.0, 1.0);
    cfg.limits[0].on_delay_ns = SEC(5);
    rules_point_init(&st);
    assert_int_equal(rules_point_tick(&cfg, &st, MS(5006)), 0);
    assert_int_equal(rules_point_sample(&cfg, &st, MSG_Q_GOOD, 60.0, MS(5003)), 0);
    assert_int_equal(rules_point_due(&st), MS(10006));
    assert_int_equal(st.last_ns, MS(5006));
    assert_int_equal(rules_point_tick(&cfg, &st, MS(10006)), ACT);
    assert_int_equal(st.limits[0].changed_ns, MS(10006));
}

/* The point's deadline is the earliest of its limits' and its fault's. */
static void test_point_due(void **state)
{
    struct rules_point_cfg cfg;
    struct rules_point_state st;
    uint32_t out;

    (void)state;
    rules_point_defaults(&cfg, RULES_POINT_PROCESS);
    (void)rules_point_add_limit(&cfg, RULES_LIMIT_HH, 90.0, 1.0);
    (void)rules_point_add_limit(&cfg, RULES_LIMIT_H, 80.0, 1.0);
    (void)rules_point_add_limit(&cfg, RULES_LIMIT_L, 20.0, 1.0);
    (void)rules_point_add_limit(&cfg, RULES_LIMIT_LL, 10.0, 1.0);
    for (int i = 0; i < 4; i++) {
        cfg.limits[i].on_delay_ns = SEC(10 + i);
        cfg.limits[i].off_delay_ns = SEC(20 + i);
        cfg.limits[i].realarm_ns = SEC(100);
    }
    cfg.fault_delay_ns = SEC(30);
    assert_int_equal(rules_check_point(&cfg, NULL, 0), RULES_CHECK_OK);

    rules_point_init(&st);
    assert_int_equal(rules_point_due(&st), NEVER);
    (void)rules_point_sample(&cfg, &st, MSG_Q_GOOD, 85.0, 0); /* H on-delay */
    assert_int_equal(rules_point_due(&st), SEC(11));
    (void)rules_point_sample(&cfg, &st, MSG_Q_GOOD, 95.0, SEC(1)); /* and HH's */
    assert_int_equal(rules_point_due(&st), SEC(11));
    assert_int_equal(rules_point_tick(&cfg, &st, SEC(10)), 0);
    assert_int_equal(rules_point_tick(&cfg, &st, SEC(11)), ACT << 3 | ACT); /* H, HH */
    assert_int_equal(rules_point_due(&st), SEC(111));               /* H's re-alarm */
    (void)rules_point_sample(&cfg, &st, MSG_Q_GOOD, 50.0, SEC(12)); /* both off-delays */
    assert_int_equal(rules_point_due(&st), SEC(32));
    (void)rules_point_sample(&cfg, &st, MSG_Q_TIMEOUT, 0, SEC(13)); /* fault at 43 */
    assert_int_equal(rules_point_due(&st), SEC(43));
    out = rules_point_tick(&cfg, &st, SEC(111));
    assert_int_equal(out, (uint32_t)ACT << (3 * RULES_COND_FAULT) | RE << 3 | RE);
    assert_int_equal(rules_point_due(&st), SEC(211));
}

static void test_add_limit_and_names(void **state)
{
    struct rules_point_cfg cfg;

    (void)state;
    rules_point_defaults(&cfg, RULES_POINT_PROCESS);
    assert_int_equal(cfg.n_limits, 0);
    assert_int_equal(rules_point_add_limit(&cfg, RULES_LIMIT_H, 1.0, 0.0), 0);
    assert_int_equal(rules_point_add_limit(&cfg, RULES_LIMIT_H, 2.0, 0.0), -EEXIST);
    assert_int_equal(rules_point_add_limit(&cfg, RULES_LIMIT_COUNT, 2.0, 0.0), -EINVAL);
    assert_int_equal(rules_point_add_limit(&cfg, RULES_LIMIT_HH, 2.0, 0.0), 1);
    assert_int_equal(rules_point_add_limit(&cfg, RULES_LIMIT_L, 0.0, 0.0), 2);
    assert_int_equal(rules_point_add_limit(&cfg, RULES_LIMIT_LL, -1.0, 0.0), 3);
    assert_int_equal(rules_point_add_limit(&cfg, RULES_LIMIT_GAS_L1, 0.0, 0.0), -ENOSPC);
    assert_int_equal(cfg.n_limits, RULES_MAX_LIMITS);

    assert_string_equal(rules_limit_name(RULES_LIMIT_HH), "HH");
    assert_string_equal(rules_limit_name(RULES_LIMIT_GAS_L2), "L2");
    assert_string_equal(rules_limit_name(RULES_LIMIT_COUNT), "invalid");
    assert_string_equal(rules_point_kind_name(RULES_POINT_TOXIC_IDLH), "toxic-idlh");
    assert_string_equal(rules_point_kind_name(99), "invalid");
    assert_string_equal(rules_check_name(RULES_CHECK_LEL_L1), "lel-level-1");
    assert_string_equal(rules_check_name(RULES_CHECK_COUNT), "invalid");
    /* One event slot per possible report, as the RT loop reserves ring room by it. */
    assert_true(RULES_MAX_EVENTS >= 3 * RULES_MAX_LIMITS + 2 + 2 + 1);
}

/* ==== area voting ====================================================================
 */

static void test_vote(void **state)
{
    /* Members as strings: 'a' alarm, 'f' fault, 'b' both (a held alarm), '.' neither. */
    static const struct {
        uint16_t k;
        bool degrade;
        const char *members;
        bool want;
        const char *why;
    } rows[] = {
        {2, false, "...", false, "2oo3, none"},
        {2, false, "a..", false, "2oo3, one is not a confirmation"},
        {2, false, "a.a", true, "2oo3, two"},
        {2, false, "aaa", true, "2oo3, three"},
        {3, false, "aa.", false, "3oo3, two"},
        {3, false, "aaa", true, "3oo3, all"},
        {1, false, "..a", true, "1oo3, one"},
        {1, false, "...", false, "1oo3, none"},
        {0, false, "...", false, "k 0 acts as 1: none is not an alarm"},
        {0, false, ".a.", true, "k 0 acts as 1: one"},
        {1, false, "", false, "no members"},
        {4, false, "aaa", false, "k above n can never be reached without degrading"},
        {2, false, "fa.", false, "2oo3, a dead member does not vote without degrading"},
        {2, true, "fa.", true, "2oo3 degraded to 1oo2 by a dead member"},
        {2, true, "ff.", false, "degraded, but still one real alarm needed"},
        {2, true, "fff", false, "all dead: nothing to confirm"},
        {2, true, "b..", false,
         "a held alarm of a faulty member counts, but does not degrade"},
        {2, true, "ba.", true, "a held alarm and a live one"},
        {3, true, "faa.", true, "3oo4 with one dead member is 2oo3"},
        {3, true, "fa..", false, "3oo4 with one dead member needs two"},
        {2, false, "aa", true, "2oo2"},
        {2, true, "f.", false, "2oo2 with a dead member: 1oo1, not in alarm"},
        {2, true, "fa", true, "2oo2 with a dead member: 1oo1, in alarm"},
    };

    (void)state;
    for (size_t i = 0; i < N_ROWS(rows); i++) {
        struct rules_vote_cfg cfg = {.k = rows[i].k, .fault_degrades = rows[i].degrade};
        struct rules_member m[8];
        size_t n = strlen(rows[i].members);

        for (size_t j = 0; j < n; j++) {
            char c = rows[i].members[j];

            m[j] = (struct rules_member){.alarm = c == 'a' || c == 'b',
                                         .fault = c == 'f' || c == 'b'};
        }
        if (rules_vote(&cfg, m, n) != rows[i].want)
            fail_msg("row %zu (%s): k=%u degrade=%d members \"%s\": got %d", i,
                     rows[i].why, rows[i].k, rows[i].degrade, rows[i].members,
                     !rows[i].want);
    }
}

/* Voting over real point states: level-1 (or level-2) is an alarm, the fault is a fault.
 */
static void test_vote_over_points(void **state)
{
    struct rules_point_cfg cfg;
    struct rules_point_state st[3];
    struct rules_member m[3];
    struct rules_vote_cfg vote = {.k = 2};

    (void)state;
    rules_point_defaults(&cfg, RULES_POINT_COMBUSTIBLE);
    (void)rules_point_add_limit(&cfg, RULES_LIMIT_GAS_L1, 20.0, 2.0);
    (void)rules_point_add_limit(&cfg, RULES_LIMIT_GAS_L2, 40.0, 2.0);
    for (int i = 0; i < 3; i++)
        rules_point_init(&st[i]);
    (void)rules_point_sample(&cfg, &st[0], MSG_Q_GOOD, 25.0, 0);
    (void)rules_point_sample(&cfg, &st[1], MSG_Q_GOOD, 5.0, 0);
    (void)rules_point_sample(&cfg, &st[2], MSG_Q_GOOD, 19.9, 0);
    for (int i = 0; i < 3; i++)
        m[i] = rules_point_member(&cfg, &st[i]);
    assert_false(rules_vote(&vote, m, 3));
    (void)rules_point_sample(&cfg, &st[2], MSG_Q_GOOD, 45.0, SEC(1)); /* level 2 counts */
    m[2] = rules_point_member(&cfg, &st[2]);
    assert_true(rules_vote(&vote, m, 3));
}

/* ==== config checks ==================================================================
 */

/*
 * Base configs that pass, each at the standards' ceilings where it has one:
 *   process      HH 90, H 80, L 20, LL 10, deadbands 2
 *   combustible  L1 20, L2 40 %LEL, deadbands 1, reference 100
 *   toxic-oel    L1 10, L2 20 ppm against an OEL of 10 ppm: exactly 100 and 200 %OEL
 *   toxic-idlh   L1 5, L2 10 ppm against an IDLH of 100 ppm: exactly 5 and 10 %IDLH
 *   oxygen       the defaults, 19.5 and 23.5 %VOL
 */
static void base_cfg(struct rules_point_cfg *cfg, uint8_t kind)
{
    rules_point_defaults(cfg, kind);
    switch (kind) {
    case RULES_POINT_PROCESS:
        (void)rules_point_add_limit(cfg, RULES_LIMIT_HH, 90.0, 2.0);
        (void)rules_point_add_limit(cfg, RULES_LIMIT_H, 80.0, 2.0);
        (void)rules_point_add_limit(cfg, RULES_LIMIT_L, 20.0, 2.0);
        (void)rules_point_add_limit(cfg, RULES_LIMIT_LL, 10.0, 2.0);
        break;
    case RULES_POINT_COMBUSTIBLE:
        (void)rules_point_add_limit(cfg, RULES_LIMIT_GAS_L1, 20.0, 1.0);
        (void)rules_point_add_limit(cfg, RULES_LIMIT_GAS_L2, 40.0, 1.0);
        break;
    case RULES_POINT_TOXIC_OEL:
        cfg->reference = 10.0;
        (void)rules_point_add_limit(cfg, RULES_LIMIT_GAS_L1, 10.0, 1.0);
        (void)rules_point_add_limit(cfg, RULES_LIMIT_GAS_L2, 20.0, 1.0);
        break;
    case RULES_POINT_TOXIC_IDLH:
        (void)rules_point_add_limit(cfg, RULES_LIMIT_GAS_L1, 5.0, 1.0);
        (void)rules_point_add_limit(cfg, RULES_LIMIT_GAS_L2, 10.0, 1.0);
        break;
    default:
        break;
    }
}

enum field {
    F_NONE,
    F_SP,      /* limits[limit].setpoint */
    F_DB,      /* limits[limit].deadband */
    F_ON,      /* limits[limit].on_delay_ns */
    F_OFF,     /* limits[limit].off_delay_ns */
    F_RE,      /* limits[limit].realarm_ns */
    F_KIND,    /* limits[limit].kind */
    F_NLIM,    /* n_limits */
    F_PKIND,   /* kind */
    F_FDELAY,  /* fault_delay_ns */
    F_FQUAL,   /* fault_qualities */
    F_REF,     /* reference */
    F_ROC_W,   /* roc.window_ns, with rising on */
    F_ROC_LIM, /* roc.limit, with rising on */
};

struct edit {
    int limit;
    enum field f;
    double x;
};

static void apply(struct rules_point_cfg *cfg, const struct edit *e)
{
    struct rules_limit_cfg *l = &cfg->limits[e->limit >= 0 ? e->limit : 0];

    switch (e->f) {
    case F_NONE:
        break;
    case F_SP:
        l->setpoint = e->x;
        break;
    case F_DB:
        l->deadband = e->x;
        break;
    case F_ON:
        l->on_delay_ns = (int64_t)e->x;
        break;
    case F_OFF:
        l->off_delay_ns = (int64_t)e->x;
        break;
    case F_RE:
        l->realarm_ns = (int64_t)e->x;
        break;
    case F_KIND:
        l->kind = (uint8_t)e->x;
        break;
    case F_NLIM:
        cfg->n_limits = (uint8_t)e->x;
        break;
    case F_PKIND:
        cfg->kind = (uint8_t)e->x;
        break;
    case F_FDELAY:
        cfg->fault_delay_ns = (int64_t)e->x;
        break;
    case F_FQUAL:
        cfg->fault_qualities = (uint16_t)e->x;
        break;
    case F_REF:
        cfg->reference = e->x;
        break;
    case F_ROC_W:
        cfg->roc.rising = true;
        cfg->roc.limit = 1.0;
        cfg->roc.window_ns = (int64_t)e->x;
        break;
    case F_ROC_LIM:
        cfg->roc.rising = true;
        cfg->roc.limit = e->x;
        break;
    }
}

/* Nanoseconds as a double: every value used is an integer below 2^53, so exact. */
#define DNS(ns) ((double)(ns))
#define DS(s)   DNS(SEC(s))

static void test_check_points(void **state)
{
    enum {
        P = RULES_POINT_PROCESS,
        C = RULES_POINT_COMBUSTIBLE,
        TO = RULES_POINT_TOXIC_OEL
    };
    enum { TI = RULES_POINT_TOXIC_IDLH, O = RULES_POINT_OXYGEN };
    static const struct {
        uint8_t kind;
        struct edit e[2];
        enum rules_check want;
        const char *why;
    } rows[] = {
        {P, {{0}}, RULES_CHECK_OK, "process base"},
        {C, {{0}}, RULES_CHECK_OK, "combustible base"},
        {TO, {{0}}, RULES_CHECK_OK, "toxic OEL base, at 100 and 200 %OEL"},
        {TI, {{0}}, RULES_CHECK_OK, "toxic IDLH base, at 5 and 10 %IDLH"},
        {O, {{0}}, RULES_CHECK_OK, "oxygen defaults"},

        /* GB/T 50493-2019 set-point ceilings, exactly at them and just past. */
        {C, {{0, F_SP, 25.0}}, RULES_CHECK_OK, "L1 25 %LEL"},
        {C, {{0, F_SP, 25.01}}, RULES_CHECK_LEL_L1, "L1 25.01 %LEL"},
        {C, {{1, F_SP, 50.0}}, RULES_CHECK_OK, "L2 50 %LEL"},
        {C, {{1, F_SP, 50.01}}, RULES_CHECK_LEL_L2, "L2 50.01 %LEL"},
        {TO, {{0, F_SP, 10.01}}, RULES_CHECK_OEL_L1, "L1 100.1 %OEL"},
        {TO, {{1, F_SP, 20.01}}, RULES_CHECK_OEL_L2, "L2 200.1 %OEL"},
        {TI, {{0, F_SP, 5.01}}, RULES_CHECK_IDLH_L1, "L1 5.01 %IDLH"},
        {TI, {{1, F_SP, 10.01}}, RULES_CHECK_IDLH_L2, "L2 10.01 %IDLH"},
        {TI,
         {{-1, F_REF, 7.0}, {0, F_SP, 0.35}},
         RULES_CHECK_IDLH_L2,
         "0.35 ppm of an IDLH of 7 is 5 %; L2 at 10 ppm is then far above"},
        {O, {{0, F_SP, 19.5}}, RULES_CHECK_OK, "deficiency at 19.5 %VOL"},
        {O, {{0, F_SP, 20.0}}, RULES_CHECK_OK, "deficiency at 20 %VOL alarms earlier"},
        {O, {{0, F_SP, 19.49}}, RULES_CHECK_O2_DEFICIENCY, "deficiency at 19.49 %VOL"},
        {O, {{1, F_SP, 23.5}}, RULES_CHECK_OK, "enrichment at 23.5 %VOL"},
        {O, {{1, F_SP, 23.51}}, RULES_CHECK_O2_ENRICHMENT, "enrichment at 23.51 %VOL"},

        /* GB 16808-2025 5.5.1.3: a gas alarm may be delayed by at most 60 s. */
        {C, {{0, F_ON, DS(60)}}, RULES_CHECK_OK, "L1 on-delay 60 s"},
        {C,
         {{0, F_ON, DNS(SEC(60) + MS(1))}},
         RULES_CHECK_GAS_DELAY,
         "L1 on-delay 60.001 s"},
        {C, {{1, F_ON, DS(60) + 1}}, RULES_CHECK_GAS_DELAY, "L2 on-delay 60 s + 1 ns"},
        {TO,
         {{1, F_ON, DNS(SEC(60) + MS(1))}},
         RULES_CHECK_GAS_DELAY,
         "toxic L2 on-delay 60.001 s"},
        {O,
         {{1, F_ON, DNS(SEC(60) + MS(1))}},
         RULES_CHECK_GAS_DELAY,
         "enrichment on-delay 60.001 s"},
        {O, {{0, F_ON, DS(60)}}, RULES_CHECK_OK, "deficiency on-delay 60 s"},
        {C, {{0, F_OFF, DS(600)}}, RULES_CHECK_OK, "an off-delay is not limited"},
        {C, {{0, F_RE, DS(600)}}, RULES_CHECK_OK, "a re-alarm time is not limited"},
        {P, {{1, F_ON, DS(600)}}, RULES_CHECK_OK, "a process on-delay may exceed 60 s"},
        {C, {{-1, F_FDELAY, DS(100)}}, RULES_CHECK_OK, "gas fault delay 100 s"},
        {C,
         {{-1, F_FDELAY, DS(100) + 1}},
         RULES_CHECK_GAS_FAULT_DELAY,
         "gas fault 100 s+1ns"},
        {O, {{-1, F_FDELAY, DS(101)}}, RULES_CHECK_GAS_FAULT_DELAY, "oxygen fault 101 s"},
        {P, {{-1, F_FDELAY, DS(1000)}}, RULES_CHECK_OK, "process fault delay 1000 s"},

        /* Two levels, in order, with deadbands inside the gap between them. */
        {C, {{-1, F_NLIM, 1}}, RULES_CHECK_GAS_TWO_LEVELS, "L1 alone"},
        {TI,
         {{0, F_KIND, RULES_LIMIT_GAS_L2}, {-1, F_NLIM, 1}},
         RULES_CHECK_GAS_TWO_LEVELS,
         "L2 alone"},
        {O, {{-1, F_NLIM, 1}}, RULES_CHECK_OK, "oxygen with deficiency only"},
        {C, {{0, F_SP, 40.0}}, RULES_CHECK_LIMIT_ORDER, "L1 equal to L2"},
        {C, {{0, F_SP, 45.0}}, RULES_CHECK_LIMIT_ORDER, "L1 above L2"},
        {C, {{1, F_DB, 20.0}}, RULES_CHECK_DEADBAND_WIDE, "L2 deadband equal to L2 - L1"},
        {C, {{1, F_DB, 19.99}}, RULES_CHECK_OK, "L2 deadband just inside L2 - L1"},
        {C, {{0, F_DB, 30.0}}, RULES_CHECK_OK, "nothing below L1 to reach"},
        {P, {{0, F_SP, 80.0}}, RULES_CHECK_LIMIT_ORDER, "HH equal to H"},
        {P, {{3, F_SP, 25.0}}, RULES_CHECK_LIMIT_ORDER, "LL above L"},
        {P, {{2, F_SP, 85.0}}, RULES_CHECK_LIMIT_ORDER, "L above H"},
        {P, {{2, F_SP, 80.0}}, RULES_CHECK_LIMIT_ORDER, "L equal to H"},
        {P, {{0, F_DB, 10.0}}, RULES_CHECK_DEADBAND_WIDE, "HH deadband reaches H"},
        {P, {{0, F_DB, 9.5}}, RULES_CHECK_OK, "HH deadband short of H"},
        {P, {{1, F_DB, 60.0}}, RULES_CHECK_DEADBAND_WIDE, "H deadband reaches L"},
        {P, {{2, F_DB, 60.0}}, RULES_CHECK_DEADBAND_WIDE, "L deadband reaches H"},
        {P, {{3, F_DB, 10.0}}, RULES_CHECK_DEADBAND_WIDE, "LL deadband reaches L"},
        {P, {{3, F_DB, 0.0}}, RULES_CHECK_OK, "zero deadband"},
        {O, {{0, F_SP, 24.0}}, RULES_CHECK_LIMIT_ORDER, "deficiency above enrichment"},
        {O,
         {{0, F_DB, 4.0}},
         RULES_CHECK_DEADBAND_WIDE,
         "deficiency deadband reaches 23.5"},

        /* Shapes that make the rules meaningless. */
        {P, {{-1, F_PKIND, 9}}, RULES_CHECK_POINT_KIND, "unknown point kind"},
        {P, {{-1, F_NLIM, 5}}, RULES_CHECK_LIMIT_COUNT, "five limits"},
        {P, {{0, F_KIND, 99}}, RULES_CHECK_LIMIT_KIND, "unknown limit kind"},
        {C, {{0, F_KIND, RULES_LIMIT_H}}, RULES_CHECK_LIMIT_NOT_FOR_POINT, "H on gas"},
        {P,
         {{0, F_KIND, RULES_LIMIT_GAS_L2}},
         RULES_CHECK_LIMIT_NOT_FOR_POINT,
         "L2 on process"},
        {O, {{0, F_KIND, RULES_LIMIT_L}}, RULES_CHECK_LIMIT_NOT_FOR_POINT, "L on oxygen"},
        {C, {{1, F_KIND, RULES_LIMIT_GAS_L1}}, RULES_CHECK_LIMIT_DUPLICATE, "two L1"},
        {C, {{0, F_SP, (double)NAN}}, RULES_CHECK_NOT_FINITE, "NaN set-point"},
        {C, {{0, F_DB, (double)INFINITY}}, RULES_CHECK_NOT_FINITE, "infinite deadband"},
        {C, {{0, F_DB, -0.1}}, RULES_CHECK_DEADBAND_NEGATIVE, "negative deadband"},
        {C, {{0, F_ON, -1}}, RULES_CHECK_DELAY_RANGE, "negative on-delay"},
        {P, {{1, F_OFF, DS(86401)}}, RULES_CHECK_DELAY_RANGE, "off-delay above a day"},
        {P, {{1, F_RE, -1}}, RULES_CHECK_DELAY_RANGE, "negative re-alarm"},
        {P, {{-1, F_FDELAY, -1}}, RULES_CHECK_DELAY_RANGE, "negative fault delay"},
        {P,
         {{-1, F_FQUAL, RULES_FAULT_DEFAULT | 1}},
         RULES_CHECK_FAULT_QUALITIES,
         "good as a fault"},
        {P, {{-1, F_FQUAL, 1u << 12}}, RULES_CHECK_FAULT_QUALITIES, "no such quality"},
        {P, {{-1, F_FQUAL, 0}}, RULES_CHECK_OK, "no fault qualities: never a fault"},
        {P, {{-1, F_ROC_W, 0}}, RULES_CHECK_ROC, "ROC window 0"},
        {P, {{-1, F_ROC_W, DS(86401)}}, RULES_CHECK_ROC, "ROC window above a day"},
        {P, {{-1, F_ROC_W, 1}}, RULES_CHECK_OK, "ROC window 1 ns"},
        {P, {{-1, F_ROC_LIM, 0.0}}, RULES_CHECK_ROC, "ROC limit 0"},
        {P, {{-1, F_ROC_LIM, (double)NAN}}, RULES_CHECK_ROC, "ROC limit NaN"},
        {P, {{-1, F_ROC_LIM, 0.5}}, RULES_CHECK_OK, "ROC limit 0.5 per minute"},
        {C, {{-1, F_REF, 0.0}}, RULES_CHECK_REFERENCE, "reference 0"},
        {TO, {{-1, F_REF, (double)NAN}}, RULES_CHECK_REFERENCE, "reference NaN"},
        {P, {{-1, F_REF, 0.0}}, RULES_CHECK_OK, "a process point has no reference"},

        /* Structure is reported before standards, so an override cannot hide it. */
        {C,
         {{0, F_SP, 30.0}, {1, F_DB, -1.0}},
         RULES_CHECK_DEADBAND_NEGATIVE,
         "over the ceiling and a negative deadband"},
        {C,
         {{0, F_ON, DS(61)}, {1, F_SP, 10.0}},
         RULES_CHECK_LIMIT_ORDER,
         "too long a delay and L2 below L1"},
    };

    (void)state;
    for (size_t i = 0; i < N_ROWS(rows); i++) {
        struct rules_point_cfg cfg;
        char err[256] = "unset";
        enum rules_check got;

        base_cfg(&cfg, rows[i].kind);
        for (size_t j = 0; j < 2; j++)
            apply(&cfg, &rows[i].e[j]);
        got = rules_check_point(&cfg, err, sizeof(err));
        if (got != rows[i].want)
            fail_msg("row %zu (%s): %s (%s), want %s", i, rows[i].why,
                     rules_check_name(got), err, rules_check_name(rows[i].want));
        /* Every refusal explains itself; a pass leaves the message empty. */
        assert_true(got == RULES_CHECK_OK ? err[0] == '\0' : strlen(err) > 10);
        assert_int_equal(rules_check_point(&cfg, NULL, 0), got);
    }
}

/* A set-point given in another unit: the reference says what 100 % is. */
static void test_check_reference(void **state)
{
    struct rules_point_cfg cfg;

    (void)state;
    /* Methane read in %VOL: the LEL is 5 %VOL, so 25 %LEL is 1.25 %VOL. */
    base_cfg(&cfg, RULES_POINT_COMBUSTIBLE);
    cfg.reference = 5.0;
    cfg.limits[0].setpoint = 1.25;
    cfg.limits[1].setpoint = 2.5;
    cfg.limits[0].deadband = cfg.limits[1].deadband = 0.05;
    assert_int_equal(rules_check_point(&cfg, NULL, 0), RULES_CHECK_OK);
    cfg.limits[0].setpoint = 1.26;
    assert_int_equal(rules_check_point(&cfg, NULL, 0), RULES_CHECK_LEL_L1);
    cfg.limits[0].setpoint = 1.25;
    cfg.limits[1].setpoint = 2.51;
    assert_int_equal(rules_check_point(&cfg, NULL, 0), RULES_CHECK_LEL_L2);

    /*
     * Decimal set-points at an IDLH-based ceiling are not refused for binary rounding:
     * 0.035 / 0.7 * 100 is 5.000000000000001 in doubles, yet 0.035 ppm is 5 % of 0.7 ppm.
     */
    base_cfg(&cfg, RULES_POINT_TOXIC_IDLH);
    cfg.reference = 0.7;
    cfg.limits[0].setpoint = 0.035;
    cfg.limits[1].setpoint = 0.07;
    cfg.limits[0].deadband = cfg.limits[1].deadband = 0.001;
    assert_true(0.035 / 0.7 * 100.0 > 5.0 && 0.07 / 0.7 * 100.0 > 10.0);
    assert_int_equal(rules_check_point(&cfg, NULL, 0), RULES_CHECK_OK);
    cfg.limits[0].setpoint = 0.03501;
    assert_int_equal(rules_check_point(&cfg, NULL, 0), RULES_CHECK_IDLH_L1);
}

static void test_check_messages(void **state)
{
    struct rules_point_cfg cfg;
    char err[256], small[16];

    (void)state;
    base_cfg(&cfg, RULES_POINT_COMBUSTIBLE);
    cfg.limits[0].setpoint = 25.01;
    assert_int_equal(rules_check_point(&cfg, err, sizeof(err)), RULES_CHECK_LEL_L1);
    assert_string_equal(err, "limits[0] L1: set-point 25.01 is 25.01 %LEL, above the "
                             "level-1 ceiling of 25 %LEL (GB/T 50493-2019)");
    /* A short buffer is truncated, never overrun. */
    assert_int_equal(rules_check_point(&cfg, small, sizeof(small)), RULES_CHECK_LEL_L1);
    assert_int_equal(strlen(small), sizeof(small) - 1);

    base_cfg(&cfg, RULES_POINT_COMBUSTIBLE);
    cfg.limits[1].on_delay_ns = SEC(60) + MS(1);
    assert_int_equal(rules_check_point(&cfg, err, sizeof(err)), RULES_CHECK_GAS_DELAY);
    assert_string_equal(err,
                        "limits[1] L2: on-delay 60001000000 ns is longer than the 60 s "
                        "a gas alarm may be delayed (GB 16808-2025 5.5.1.3)");

    base_cfg(&cfg, RULES_POINT_PROCESS);
    cfg.limits[0].deadband = 10.0;
    assert_int_equal(rules_check_point(&cfg, err, sizeof(err)),
                     RULES_CHECK_DEADBAND_WIDE);
    assert_string_equal(err,
                        "limits[0] HH: deadband 10 must be smaller than the 10 between "
                        "its set-point 90 and limits[1] H at 80");
}

/* Standards may be waived with an override_reason; structure never. */
static void test_check_overridable(void **state)
{
    static const enum rules_check waivable[] = {
        RULES_CHECK_GAS_TWO_LEVELS,  RULES_CHECK_LEL_L1,
        RULES_CHECK_LEL_L2,          RULES_CHECK_OEL_L1,
        RULES_CHECK_OEL_L2,          RULES_CHECK_IDLH_L1,
        RULES_CHECK_IDLH_L2,         RULES_CHECK_O2_DEFICIENCY,
        RULES_CHECK_O2_ENRICHMENT,   RULES_CHECK_GAS_DELAY,
        RULES_CHECK_GAS_FAULT_DELAY,
    };

    (void)state;
    for (unsigned c = 0; c < RULES_CHECK_COUNT; c++) {
        bool want = false;

        for (size_t j = 0; j < N_ROWS(waivable); j++)
            want |= waivable[j] == c;
        if (rules_check_overridable(c) != want)
            fail_msg("%s: overridable %d, want %d", rules_check_name(c),
                     rules_check_overridable(c), want);
        assert_true(strlen(rules_check_name(c)) > 1);
        for (unsigned d = 0; d < c; d++)
            assert_true(strcmp(rules_check_name(c), rules_check_name(d)) != 0);
    }
    assert_false(rules_check_overridable(RULES_CHECK_COUNT));
}

static void test_check_vote(void **state)
{
    char err[128];
    struct rules_vote_cfg v = {.k = 2};

    (void)state;
    assert_int_equal(rules_check_vote(&v, 3, err, sizeof(err)), RULES_CHECK_OK);
    assert_string_equal(err, "");
    assert_int_equal(rules_check_vote(&v, 2, NULL, 0), RULES_CHECK_OK);
    assert_int_equal(rules_check_vote(&v, 1, err, sizeof(err)), RULES_CHECK_VOTE);
    assert_string_equal(err,
                        "k is 2 but only 1 members vote: the area could never alarm");
    assert_int_equal(rules_check_vote(&v, 0, NULL, 0), RULES_CHECK_VOTE);
    v.k = 0;
    assert_int_equal(rules_check_vote(&v, 3, NULL, 0), RULES_CHECK_VOTE);
    assert_false(rules_check_overridable(RULES_CHECK_VOTE));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        /* rules_high(), as the RT loop calls it */
        cmocka_unit_test(test_activation_edge),
        cmocka_unit_test(test_clear_edge),
        cmocka_unit_test(test_zero_deadband),
        cmocka_unit_test(test_negative_setpoint),
        cmocka_unit_test(test_nan_and_infinity),
        cmocka_unit_test(test_ramp_up_and_down),
        cmocka_unit_test(test_hovering_does_not_chatter),
        cmocka_unit_test(test_nan_in_ramp_changes_nothing),
        /* limits */
        cmocka_unit_test(test_limit_scripts),
        cmocka_unit_test(test_low_limit_edges),
        cmocka_unit_test(test_high_is_limit_without_delays),
        /* rate of change */
        cmocka_unit_test(test_roc_rising),
        cmocka_unit_test(test_roc_falling_and_both),
        cmocka_unit_test(test_roc_interpolates),
        cmocka_unit_test(test_roc_fast_sampling),
        cmocka_unit_test(test_roc_ring_spans_window),
        cmocka_unit_test(test_roc_irregular_sampling),
        cmocka_unit_test(test_roc_wall_clock_step),
        cmocka_unit_test(test_roc_ignores_bad_samples),
        /* points */
        cmocka_unit_test(test_fault_per_quality),
        cmocka_unit_test(test_fault_runs),
        cmocka_unit_test(test_fault_distinct_from_gas_alarms),
        cmocka_unit_test(test_over_range_option),
        cmocka_unit_test(test_oxygen_defaults),
        cmocka_unit_test(test_point_time_never_goes_back),
        cmocka_unit_test(test_point_due),
        cmocka_unit_test(test_add_limit_and_names),
        /* voting */
        cmocka_unit_test(test_vote),
        cmocka_unit_test(test_vote_over_points),
        /* checks */
        cmocka_unit_test(test_check_points),
        cmocka_unit_test(test_check_reference),
        cmocka_unit_test(test_check_messages),
        cmocka_unit_test(test_check_overridable),
        cmocka_unit_test(test_check_vote),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
