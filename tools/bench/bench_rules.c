/*
 * bench_rules: the cost of evaluating rules for a full cycle of 10,000 points.
 *
 * usage: bench_rules [PASSES]
 *
 * Each point is a process point with HH, H, L and LL (deadband, 2 s on- and off-delays,
 * re-alarm every 60 s) and a rate-of-change rule rising and falling over a 60 s window.
 * Every point has its own config and state, allocated the way the RT loop would, and gets
 * one good sample per pass, 100 ms of monotonic time apart (so one pass is one full
 * 10,000-point cycle of a 10 Hz scan). Values are computed before each pass is timed.
 *
 * Two scenarios: "quiet" keeps every value inside its normal band (the steady state: no
 * transitions), "busy" sweeps every point through all four limits every 10-20 s, so that
 * delays start, complete and are interrupted and the rates alarm and clear all the time.
 * A third line times a timer scan: rules_point_tick() over all points at a time when
 * nothing is due. Warm-up passes fill the rate histories first. Figures are the median,
 * minimum and 90th percentile over the timed passes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "msg.h"
#include "pgtime.h"
#include "rules.h"

#define BENCH_POINTS 10000
#define BENCH_WARMUP 700 /* 70 s of samples: the 60 s rate window is full */
#define BENCH_STEP   (100 * PGTIME_NS_PER_MS)

static struct rules_point_cfg *cfgs;
static struct rules_point_state *states;
static double *values;
static int64_t now_ns;

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

    return (x > y) - (x < y);
}

static void setup(void)
{
    for (size_t p = 0; p < BENCH_POINTS; p++) {
        struct rules_point_cfg *c = &cfgs[p];

        rules_point_defaults(c, RULES_POINT_PROCESS);
        (void)rules_point_add_limit(c, RULES_LIMIT_HH, 90.0, 1.0);
        (void)rules_point_add_limit(c, RULES_LIMIT_H, 80.0, 1.0);
        (void)rules_point_add_limit(c, RULES_LIMIT_L, 20.0, 1.0);
        (void)rules_point_add_limit(c, RULES_LIMIT_LL, 10.0, 1.0);
        for (int i = 0; i < 4; i++) {
            c->limits[i].on_delay_ns = 2 * PGTIME_NS_PER_S;
            c->limits[i].off_delay_ns = 2 * PGTIME_NS_PER_S;
            c->limits[i].realarm_ns = 60 * PGTIME_NS_PER_S;
        }
        c->roc = (struct rules_roc_cfg){.rising = true,
                                        .falling = true,
                                        .limit = 30.0,
                                        .window_ns = RULES_NS_PER_MIN};
        if (rules_check_point(c, NULL, 0) != RULES_CHECK_OK) {
            fprintf(stderr, "bench_rules: point config refused\n");
            exit(1);
        }
        rules_point_init(&states[p]);
    }
    now_ns = 1000 * PGTIME_NS_PER_S;
}

/* A triangle wave per point, different periods and phases so transitions are spread. */
static void make_values(long pass, bool busy)
{
    for (long p = 0; p < BENCH_POINTS; p++) {
        long period = 100 + p % 97; /* passes */
        long phase = (pass + p * 7) % period;
        double x = 2.0 * (double)phase / (double)period;
        double tri = x < 1.0 ? x : 2.0 - x; /* 0..1..0 */

        values[p] = busy ? 100.0 * tri : 40.0 + 20.0 * tri;
    }
}

static uint64_t sample_pass(void)
{
    uint64_t events = 0;

    for (size_t p = 0; p < BENCH_POINTS; p++) {
        uint32_t out =
            rules_point_sample(&cfgs[p], &states[p], MSG_Q_GOOD, values[p], now_ns);

        events += (uint64_t)__builtin_popcount(out);
    }
    return events;
}

static uint64_t tick_pass(void)
{
    uint64_t events = 0;

    for (size_t p = 0; p < BENCH_POINTS; p++)
        events +=
            (uint64_t)__builtin_popcount(rules_point_tick(&cfgs[p], &states[p], now_ns));
    return events;
}

static void report(const char *name, int64_t *ns, long n, uint64_t events)
{
    double median, p90;

    qsort(ns, (size_t)n, sizeof(ns[0]), cmp_i64);
    median = (double)ns[n / 2];
    p90 = (double)ns[(n * 9) / 10];
    printf("%-9s %7ld %15.0f %10lld %10.0f %9.1f %15.0f %11.1f\n", name, n, median,
           (long long)ns[0], p90, median / BENCH_POINTS, BENCH_POINTS / (median * 1e-9),
           (double)events / (double)n);
}

static void scenario(const char *name, bool busy, long passes, int64_t *ns)
{
    uint64_t events = 0;

    setup();
    for (long k = 0; k < BENCH_WARMUP; k++) {
        make_values(k, busy);
        now_ns += BENCH_STEP;
        (void)sample_pass();
    }
    for (long k = 0; k < passes; k++) {
        int64_t t0;

        make_values(BENCH_WARMUP + k, busy);
        now_ns += BENCH_STEP;
        t0 = pgtime_mono_ns();
        events += sample_pass();
        ns[k] = pgtime_mono_ns() - t0;
    }
    report(name, ns, passes, events);
}

int main(int argc, char **argv)
{
    long passes = argc > 1 ? strtol(argv[1], NULL, 10) : 300;
    int64_t *ns;

    if (passes < 1 || passes > 1000000) {
        fprintf(stderr, "usage: bench_rules [PASSES 1..1000000]\n");
        return 2;
    }
    cfgs = calloc(BENCH_POINTS, sizeof(*cfgs));
    states = calloc(BENCH_POINTS, sizeof(*states));
    values = calloc(BENCH_POINTS, sizeof(*values));
    ns = calloc((size_t)passes, sizeof(*ns));
    if (cfgs == NULL || states == NULL || values == NULL || ns == NULL) {
        fprintf(stderr, "bench_rules: out of memory\n");
        return 1;
    }

    printf("bench_rules: %d points, each HH/H/L/LL + ROC rising/falling (60 s window, %d "
           "slots); config %zu B, state %zu B per point\n",
           BENCH_POINTS, RULES_ROC_SLOTS, sizeof(struct rules_point_cfg),
           sizeof(struct rules_point_state));
    printf("%-9s %7s %15s %10s %10s %9s %15s %11s\n", "scenario", "passes",
           "median ns/pass", "min", "p90", "ns/point", "evaluations/s", "events/pass");
    scenario("quiet", false, passes, ns);
    scenario("busy", true, passes, ns);

    /* Timer scan with nothing due: the cost of asking every point "anything now?". */
    {
        uint64_t events = 0;

        for (long k = 0; k < passes; k++) {
            int64_t t0 = pgtime_mono_ns();

            events += tick_pass();
            ns[k] = pgtime_mono_ns() - t0;
        }
        report("tick-scan", ns, passes, events);
    }

    free(ns);
    free(values);
    free(states);
    free(cfgs);
    return 0;
}
