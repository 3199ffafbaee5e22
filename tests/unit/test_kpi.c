/*
 * Unit tests for kpi. The directed tests drive real alarm state machines (alarm_step())
 * and feed their transitions, as the recorder feeds the journal, on an invented clock:
 * flood start and end at the thresholds, the 10-minute window's edges, chattering at
 * exactly 60 s and at 61 s, stale at exactly 24 h, shelved and out-of-service durations,
 * the priority split, restored alarms, invalid input and time running backwards. Then
 * random sequences, over many seeds, are checked figure by figure against a brute-force
 * reference that recomputes everything from the raw list of steps, restores and
 * snapshots, with counting written from the definitions in docs/alarms.md rather than
 * from kpi.c's incremental bookkeeping.
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

#include "alarm.h"
#include "kpi.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

#define NS_PER_MS INT64_C(1000000)
#define S         INT64_C(1000) /* one second in ms */
#define MIN       (60 * S)
#define HOUR      (60 * MIN)
#define T0        INT64_C(1700000000000) /* 2023-11-14T22:13:20Z: a plausible utc_ms */

#define FX_ALARMS  16
#define ALL_RIGHTS (ALARM_RIGHT_ACK | ALARM_RIGHT_SHELVE | ALARM_RIGHT_SERVICE)

/* ---- the fixture: real alarms whose transitions feed one kpi --------------------------
 */

struct fx {
    struct kpi *k;
    struct alarm a[FX_ALARMS];
    struct alarm_config c[FX_ALARMS];
};

static int fx_setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);

    assert_non_null(f);
    f->k = kpi_new(FX_ALARMS);
    assert_non_null(f->k);
    for (size_t i = 0; i < FX_ALARMS; i++) {
        /* P3, not latching, shelvable for 8 h, one-shot allowed. */
        f->c[i] = alarm_config_default(ALARM_KIND_PROCESS_H);
        alarm_init(&f->a[i], 0);
    }
    *state = f;
    return 0;
}

static int fx_teardown(void **state)
{
    struct fx *f = *state;

    kpi_free(f->k);
    free(f);
    return 0;
}

static struct kpi_step step_of(uint32_t id, uint8_t priority,
                               const struct alarm_transition *tr, int64_t t_ms)
{
    return (struct kpi_step){.id = id,
                             .priority = priority,
                             .event = tr->event,
                             .from = tr->from,
                             .to = tr->to,
                             .annunciate = tr->annunciate,
                             .condition = tr->condition,
                             .t_ms = t_ms};
}

/* One accepted event of alarm id at t_ms, through the state machine into the kpi. */
static struct alarm_transition drive(struct fx *f, uint32_t id, enum alarm_event ev,
                                     int64_t t_ms)
{
    struct alarm_cmd cmd = {.user = "op",
                            .reason = "test",
                            .rights = ALL_RIGHTS,
                            .one_shot = false,
                            .shelve_ns = HOUR * NS_PER_MS};
    struct alarm_transition tr;
    struct kpi_step s;
    int rc;

    rc = alarm_step(&f->a[id], &f->c[id], ev, &cmd, t_ms * NS_PER_MS, &tr);
    if (rc < 0)
        fail_msg("alarm %u: %s refused (%s)", id, alarm_event_name(ev),
                 alarm_reason_name((unsigned)-rc));
    s = step_of(id, f->c[id].priority, &tr, t_ms);
    assert_int_equal(kpi_feed(f->k, &s), 0);
    return tr;
}

/* One annunciation with a rising edge (an activation): ALM, then RTN at the same time. */
static void pulse(struct fx *f, uint32_t id, int64_t t_ms)
{
    struct alarm_transition tr = drive(f, id, ALARM_EV_ALM, t_ms);

    assert_true(tr.annunciate);
    drive(f, id, ALARM_EV_RTN, t_ms);
}

static struct kpi_figures snap(struct fx *f, int64_t now_ms)
{
    struct kpi_figures g;

    memset(&g, 0xa5, sizeof g);
    kpi_snapshot(f->k, now_ms, &g);
    return g;
}

static void expect_nothing_counted(const struct kpi_figures *g)
{
    assert_int_equal(g->rate_10min, 0);
    assert_int_equal(g->peak_10min, 0);
    assert_int_equal(g->annunciations, 0);
    for (int p = 0; p < KPI_PRIORITIES; p++) {
        assert_int_equal(g->rate_10min_by_priority[p], 0);
        assert_int_equal(g->annunciations_by_priority[p], 0);
        assert_int_equal(g->active_by_priority[p], 0);
    }
    assert_false(g->in_flood);
    assert_int_equal(g->floods, 0);
    assert_int_equal(g->flood_start_ms, 0);
    assert_int_equal(g->flood_ms, 0);
    assert_int_equal(g->chattering, 0);
    assert_int_equal(g->chatter_episodes, 0);
    assert_int_equal(g->stale, 0);
    assert_int_equal(g->shelved, 0);
    assert_int_equal(g->shelve_entries, 0);
    assert_int_equal(g->shelved_ms, 0);
    assert_int_equal(g->out_of_service, 0);
    assert_int_equal(g->oos_entries, 0);
    assert_int_equal(g->oos_ms, 0);
    assert_int_equal(g->resyncs, 0);
}

/* ---- lifetime and invalid input ------------------------------------------------------
 */

static void test_new_and_free(void **state)
{
    struct kpi *k = kpi_new(0);
    struct kpi_step s = {.id = 0,
                         .priority = ALARM_P1,
                         .event = ALARM_EV_ALM,
                         .from = ALARM_NORMAL,
                         .to = ALARM_UNACK,
                         .annunciate = true,
                         .condition = true,
                         .t_ms = T0};
    struct kpi_figures g;

    (void)state;
    kpi_free(NULL);

    /* A site without alarms is legal; every id is then out of range. */
    assert_non_null(k);
    assert_int_equal(kpi_feed(k, &s), -EINVAL);
    assert_int_equal(kpi_restore(k, 0, ALARM_P1, ALARM_UNACK, true, T0), -EINVAL);
    memset(&g, 0xa5, sizeof g);
    kpi_snapshot(k, T0, &g);
    assert_int_equal(g.now_ms, T0);
    expect_nothing_counted(&g);
    kpi_free(k);

    /* So large that the size cannot be computed: ENOMEM, not a wrapped small block. */
    errno = 0;
    assert_null(kpi_new(SIZE_MAX / 2));
    assert_int_equal(errno, ENOMEM);
}

#define STEP(id_, prio_, ev_, from_, to_, ann_, cond_, t_)                               \
    {                                                                                    \
        .id = (id_), .priority = (prio_), .event = (ev_), .from = (from_), .to = (to_),  \
        .annunciate = (ann_), .condition = (cond_), .t_ms = (t_)                         \
    }

static void test_invalid_input(void **state)
{
    struct fx *f = *state;
    static const struct {
        const char *what;
        struct kpi_step s;
    } bad[] = {
        {"id = n_alarms", STEP(FX_ALARMS, 3, ALARM_EV_ALM, 0, ALARM_UNACK, 1, 1, T0)},
        {"id max", STEP(UINT32_MAX, 3, ALARM_EV_ALM, 0, ALARM_UNACK, 1, 1, T0)},
        {"priority 0", STEP(0, 0, ALARM_EV_ALM, 0, ALARM_UNACK, 1, 1, T0)},
        {"priority 5", STEP(0, 5, ALARM_EV_ALM, 0, ALARM_UNACK, 1, 1, T0)},
        {"event out of range", STEP(0, 3, ALARM_EVENT_COUNT, 0, ALARM_UNACK, 1, 1, T0)},
        {"to out of range", STEP(0, 3, ALARM_EV_ALM, 0, ALARM_STATE_COUNT, 0, 1, T0)},
        {"annunciate into acked", STEP(0, 3, ALARM_EV_ALM, 0, ALARM_ACKED, 1, 1, T0)},
        {"annunciate into normal", STEP(0, 3, ALARM_EV_RTN, 0, ALARM_NORMAL, 1, 0, T0)},
        {"negative time", STEP(0, 3, ALARM_EV_ALM, 0, ALARM_UNACK, 1, 1, -1)},
        {"time past 9999",
         STEP(0, 3, ALARM_EV_ALM, 0, ALARM_UNACK, 1, 1, KPI_TIME_MAX_MS + 1)},
        {"time INT64_MAX", STEP(0, 3, ALARM_EV_ALM, 0, ALARM_UNACK, 1, 1, INT64_MAX)},
        {"time INT64_MIN", STEP(0, 3, ALARM_EV_ALM, 0, ALARM_UNACK, 1, 1, INT64_MIN)},
    };
    static const struct {
        const char *what;
        uint32_t id;
        uint8_t priority, state;
        int64_t since;
    } bad_restores[] = {
        {"id = n_alarms", FX_ALARMS, 1, ALARM_UNACK, T0},
        {"priority 0", 0, 0, ALARM_UNACK, T0},
        {"priority 5", 0, 5, ALARM_UNACK, T0},
        {"state out of range", 0, 1, ALARM_STATE_COUNT, T0},
        {"state 255", 0, 1, 255, T0},
        {"negative since", 0, 1, ALARM_UNACK, -1},
        {"since past 9999", 0, 1, ALARM_UNACK, KPI_TIME_MAX_MS + 1},
    };
    struct kpi_step good = STEP(0, 3, ALARM_EV_ALM, 0, ALARM_UNACK, 1, 1, T0);
    struct kpi_figures g;

    for (size_t i = 0; i < N_ELEMS(bad); i++) {
        if (kpi_feed(f->k, &bad[i].s) != -EINVAL)
            fail_msg("step %s accepted", bad[i].what);
    }
    for (size_t i = 0; i < N_ELEMS(bad_restores); i++) {
        if (kpi_restore(f->k, bad_restores[i].id, bad_restores[i].priority,
                        bad_restores[i].state, true, bad_restores[i].since) != -EINVAL)
            fail_msg("restore %s accepted", bad_restores[i].what);
    }
    assert_int_equal(kpi_feed(NULL, &good), -EINVAL);
    assert_int_equal(kpi_feed(f->k, NULL), -EINVAL);
    assert_int_equal(kpi_restore(NULL, 0, 1, ALARM_UNACK, true, T0), -EINVAL);
    kpi_snapshot(NULL, T0, &g);
    kpi_snapshot(f->k, T0, NULL);

    /* Nothing was counted, and no refused time moved the clock. */
    g = snap(f, 0);
    assert_int_equal(g.now_ms, 0);
    expect_nothing_counted(&g);

    /* The edges of the accepted range. */
    good.t_ms = 0;
    assert_int_equal(kpi_feed(f->k, &good), 0);
    g = snap(f, 0);
    assert_int_equal(g.annunciations, 1);
    assert_int_equal(g.active_by_priority[2], 1);
    good = (struct kpi_step)STEP(0, 3, ALARM_EV_ACK, ALARM_UNACK, ALARM_ACKED, 0, 1,
                                 KPI_TIME_MAX_MS);
    assert_int_equal(kpi_feed(f->k, &good), 0);
    g = snap(f, INT64_MAX);
    assert_int_equal(g.now_ms, KPI_TIME_MAX_MS);
    assert_int_equal(g.stale, 1);
    assert_int_equal(g.rate_10min, 0);
    assert_int_equal(g.annunciations, 1);
    assert_int_equal(g.resyncs, 0);
}

/* A from that is not the state held (a recovered record, a gap) is counted, not refused.
 */
static void test_resync(void **state)
{
    struct fx *f = *state;
    static const struct {
        struct kpi_step s;
        uint64_t resyncs;
        size_t active_p2, shelved;
    } rows[] = {
        /* Recovered: from is out of range, to is the safe state. */
        {STEP(1, 2, ALARM_EV_ACK, 200, ALARM_UNACK, 1, 1, T0), 1, 1, 0},
        /* In step with the state held: no resync. */
        {STEP(1, 2, ALARM_EV_ACK, ALARM_UNACK, ALARM_ACKED, 0, 1, T0 + S), 1, 1, 0},
        /* A gap in the journal: the alarm was shelved meanwhile; to wins. */
        {STEP(1, 2, ALARM_EV_UNSHELVE, ALARM_SHELVED, ALARM_NORMAL, 0, 0, T0 + 2 * S), 2,
         0, 0},
        {STEP(1, 2, ALARM_EV_SHELVE, ALARM_NORMAL, ALARM_SHELVED, 0, 0, T0 + 3 * S), 2, 0,
         1},
    };

    for (size_t i = 0; i < N_ELEMS(rows); i++) {
        struct kpi_figures g;

        assert_int_equal(kpi_feed(f->k, &rows[i].s), 0);
        g = snap(f, rows[i].s.t_ms);
        assert_int_equal(g.resyncs, rows[i].resyncs);
        assert_int_equal(g.active_by_priority[1], rows[i].active_p2);
        assert_int_equal(g.shelved, rows[i].shelved);
    }
    assert_int_equal(snap(f, T0 + 3 * S).shelve_entries, 1);
    assert_int_equal(snap(f, T0 + 3 * S).annunciations, 1);
}

/* ---- the 10-minute window and floods --------------------------------------------------
 */

#define MAX_TIMES 16

static void test_flood_start(void **state)
{
    static const struct {
        const char *what;
        size_t n;
        int64_t t[MAX_TIMES]; /* annunciation times, ms after T0 */
        int flood_at;         /* index of the annunciation that starts it; -1 none */
    } rows[] = {
        {"10 in 10 s", 10, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, -1},
        {"11 in 11 s",
         11,
         {0, S, 2 * S, 3 * S, 4 * S, 5 * S, 6 * S, 7 * S, 8 * S, 9 * S, 10 * S},
         10},
        {"11 in one ms", 11, {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, 10},
        {"11th at 599.999 s",
         11,
         {0, S, 2 * S, 3 * S, 4 * S, 5 * S, 6 * S, 7 * S, 8 * S, 9 * S, 599 * S + 999},
         10},
        {"11th at 600 s: the first has left",
         11,
         {0, S, 2 * S, 3 * S, 4 * S, 5 * S, 6 * S, 7 * S, 8 * S, 9 * S, 600 * S},
         -1},
        {"12th at 600 s",
         12,
         {0, S, 2 * S, 3 * S, 4 * S, 5 * S, 6 * S, 7 * S, 8 * S, 9 * S, 600 * S, 600 * S},
         11},
        {"spread over 20 min",
         12,
         {0, 2 * MIN, 4 * MIN, 6 * MIN, 8 * MIN, 10 * MIN, 12 * MIN, 14 * MIN, 16 * MIN,
          18 * MIN, 20 * MIN, 20 * MIN},
         -1},
    };

    (void)state;
    for (size_t r = 0; r < N_ELEMS(rows); r++) {
        void *fs;
        struct fx *f;

        fx_setup(&fs);
        f = fs;
        for (size_t i = 0; i < rows[r].n; i++) {
            int64_t t = T0 + rows[r].t[i];
            bool want = rows[r].flood_at >= 0 && (int)i >= rows[r].flood_at;
            struct kpi_figures g;

            pulse(f, (uint32_t)(i % FX_ALARMS), t);
            g = snap(f, t);
            if (g.in_flood != want)
                fail_msg("%s: after annunciation %zu in_flood %d, want %d", rows[r].what,
                         i + 1, g.in_flood, want);
            assert_int_equal(g.floods, want ? 1 : 0);
            assert_int_equal(g.flood_start_ms,
                             want ? T0 + rows[r].t[rows[r].flood_at] : 0);
            assert_int_equal(g.flood_ms,
                             want ? t - (T0 + rows[r].t[rows[r].flood_at]) : 0);
            assert_int_equal(g.annunciations, i + 1);
        }
        fx_teardown(&fs);
    }
}

/*
 * Hysteresis: 11 annunciations at seconds 0 .. 10 start a flood at 10 s. Second j leaves
 * the window at j + 600 s, so the window holds 10 at 600 s (still a flood), 5 at 605 s
 * (still: 5 is not fewer than 5) and 4 at 606 s, when the flood ends. A second flood
 * 800 s later ends the same way at 1406 s, found at the right second even by a snapshot
 * taken days later.
 */
static void test_flood_end(void **state)
{
    struct fx *f = *state;
    static const struct {
        int64_t at; /* ms after T0 */
        uint64_t rate;
        bool in_flood;
        uint64_t floods;
        int64_t flood_ms;
    } rows[] = {
        {10 * S, 11, true, 1, 0},
        {300 * S, 11, true, 1, 290 * S},
        {599 * S + 999, 11, true, 1, 589 * S + 999},
        {600 * S, 10, true, 1, 590 * S},
        {604 * S + 999, 6, true, 1, 594 * S + 999},
        {605 * S, 5, true, 1, 595 * S},
        {605 * S + 999, 5, true, 1, 595 * S + 999},
        {606 * S, 4, false, 1, 596 * S},
        {700 * S, 0, false, 1, 596 * S},
    };
    struct kpi_figures g;

    for (int64_t j = 0; j <= 10; j++)
        pulse(f, (uint32_t)j, T0 + j * S);
    for (size_t i = 0; i < N_ELEMS(rows); i++) {
        g = snap(f, T0 + rows[i].at);
        if (g.rate_10min != rows[i].rate || g.in_flood != rows[i].in_flood ||
            g.floods != rows[i].floods || g.flood_ms != rows[i].flood_ms)
            fail_msg("at %lld ms: rate %llu flood %d floods %llu flood_ms %lld",
                     (long long)rows[i].at, (unsigned long long)g.rate_10min, g.in_flood,
                     (unsigned long long)g.floods, (long long)g.flood_ms);
        assert_int_equal(g.flood_start_ms, g.in_flood ? T0 + 10 * S : 0);
        assert_int_equal(g.peak_10min, 11);
    }

    /* The second flood: 12 annunciations at 800 .. 810 s, two in the last second. */
    for (int64_t j = 0; j <= 10; j++)
        pulse(f, (uint32_t)j, T0 + (800 + j) * S);
    pulse(f, 11, T0 + 810 * S + 500);
    g = snap(f, T0 + 810 * S + 500);
    assert_true(g.in_flood);
    assert_int_equal(g.floods, 2);
    assert_int_equal(g.flood_start_ms, T0 + 810 * S);
    assert_int_equal(g.peak_10min, 12);
    /* 12 in the window; it ends when seconds 800 .. 806 have left it (5 left): 1407 s. */
    g = snap(f, T0 + 5 * 24 * HOUR);
    assert_false(g.in_flood);
    assert_int_equal(g.floods, 2);
    assert_int_equal(g.flood_start_ms, 0);
    assert_int_equal(g.flood_ms, 596 * S + (1407 - 810) * S);
    assert_int_equal(g.rate_10min, 0);
    assert_int_equal(g.annunciations, 23);
}

/* The window is whole seconds: the current one and the 599 before it. */
static void test_window_edges(void **state)
{
    struct fx *f = *state;
    static const struct {
        int64_t at;
        uint64_t rate;
    } rows[] = {
        {2999, 2},          {600 * S + 999, 2}, {601 * S, 1},
        {601 * S + 999, 1}, {602 * S, 0},       {10 * HOUR, 0},
    };

    /* Seconds 1 and 2: in the window up to 600.999 s and 601.999 s. */
    pulse(f, 0, T0 + 1500);
    assert_int_equal(snap(f, T0 + 1500).rate_10min, 1);
    pulse(f, 1, T0 + 2999);
    for (size_t i = 0; i < N_ELEMS(rows); i++) {
        struct kpi_figures g = snap(f, T0 + rows[i].at);

        if (g.rate_10min != rows[i].rate)
            fail_msg("at %lld ms: rate %llu, want %llu", (long long)rows[i].at,
                     (unsigned long long)g.rate_10min, (unsigned long long)rows[i].rate);
        assert_int_equal(g.rate_10min_by_priority[2], rows[i].rate);
        assert_int_equal(g.annunciations, 2);
        assert_int_equal(g.peak_10min, 2);
    }
}

/* ---- priorities ----------------------------------------------------------------------
 */

static void test_priority_split(void **state)
{
    struct fx *f = *state;
    /* Alarm i has priority prio[i]: one P1, two P2, three P3, four P4. */
    static const uint8_t prio[] = {1, 2, 2, 3, 3, 3, 4, 4, 4, 4};
    static const struct {
        uint32_t id;
        uint8_t ev; /* enum alarm_event */
    } script[] = {
        /* Every alarm annunciates once; alarm 0 (P1) twice. */
        {0, ALARM_EV_ALM},
        {1, ALARM_EV_ALM},
        {2, ALARM_EV_ALM},
        {3, ALARM_EV_ALM},
        {4, ALARM_EV_ALM},
        {5, ALARM_EV_ALM},
        {6, ALARM_EV_ALM},
        {7, ALARM_EV_ALM},
        {8, ALARM_EV_ALM},
        {9, ALARM_EV_ALM},
        {0, ALARM_EV_RTN},
        {0, ALARM_EV_ALM},
        /* Acknowledging keeps an alarm active; ack after return clears it. */
        {1, ALARM_EV_ACK},
        {3, ALARM_EV_RTN},
        {3, ALARM_EV_ACK},
        /* Shelving and removing from service take alarms off the active list. */
        {6, ALARM_EV_SHELVE},
        {7, ALARM_EV_OOS},
    };
    struct kpi_figures g;

    for (size_t i = 0; i < N_ELEMS(prio); i++)
        f->c[i].priority = prio[i];
    for (size_t i = 0; i < N_ELEMS(script); i++)
        drive(f, script[i].id, (enum alarm_event)script[i].ev, T0 + (int64_t)i * S);

    g = snap(f, T0 + 20 * S);
    assert_int_equal(g.rate_10min, 11);
    assert_int_equal(g.rate_10min_by_priority[0], 2);
    assert_int_equal(g.rate_10min_by_priority[1], 2);
    assert_int_equal(g.rate_10min_by_priority[2], 3);
    assert_int_equal(g.rate_10min_by_priority[3], 4);
    assert_int_equal(g.annunciations, 11);
    assert_int_equal(g.active_by_priority[0], 1);
    assert_int_equal(g.active_by_priority[1], 2);
    assert_int_equal(g.active_by_priority[2], 2); /* alarm 3 returned and was acked */
    assert_int_equal(g.active_by_priority[3], 2); /* 6 shelved, 7 out of service */
    assert_true(g.in_flood);                      /* 11 in 10 minutes */
    assert_int_equal(g.shelved, 1);
    assert_int_equal(g.out_of_service, 1);

    /* An hour later the window is empty; the totals and the active list remain. */
    g = snap(f, T0 + HOUR);
    assert_int_equal(g.rate_10min, 0);
    for (int p = 0; p < KPI_PRIORITIES; p++)
        assert_int_equal(g.rate_10min_by_priority[p], 0);
    assert_int_equal(g.annunciations_by_priority[0], 2);
    assert_int_equal(g.annunciations_by_priority[1], 2);
    assert_int_equal(g.annunciations_by_priority[2], 3);
    assert_int_equal(g.annunciations_by_priority[3], 4);
    assert_int_equal(g.active_by_priority[0], 1);
    assert_int_equal(g.active_by_priority[3], 2);
    assert_false(g.in_flood);

    /* A priority changed by a reload follows the alarm. */
    f->c[0].priority = ALARM_P4;
    drive(f, 0, ALARM_EV_ACK, T0 + HOUR);
    g = snap(f, T0 + HOUR);
    assert_int_equal(g.active_by_priority[0], 0);
    assert_int_equal(g.active_by_priority[3], 3);
}

/* ---- chattering ----------------------------------------------------------------------
 */

static void test_chattering(void **state)
{
    static const struct {
        const char *what;
        size_t n;
        int64_t t[MAX_TIMES]; /* activation times, ms after T0 */
        size_t chattering;    /* at the last activation */
        uint64_t episodes;
    } rows[] = {
        {"3 in 60 s", 3, {0, 30 * S, 60 * S}, 1, 1},
        {"3 in 61 s", 3, {0, 30 * S, 61 * S}, 0, 0},
        {"3 in 60.001 s", 3, {0, 30 * S, 60 * S + 1}, 0, 0},
        {"2 in 1 s", 2, {0, S}, 0, 0},
        {"3 in one ms", 3, {0, 0, 0}, 1, 1},
        {"every 60 s: never 3 in 60 s", 4, {0, 60 * S, 120 * S, 180 * S}, 0, 0},
        {"one long episode", 6, {0, 10 * S, 20 * S, 30 * S, 40 * S, 50 * S}, 1, 1},
        {"every 30 s is one episode", 5, {0, 30 * S, 60 * S, 90 * S, 120 * S}, 1, 1},
        {"a burst, then every 60 s", 6, {0, 0, 0, 60 * S, 120 * S, 180 * S}, 1, 1},
        {"two episodes", 6, {0, 10 * S, 20 * S, 200 * S, 210 * S, 220 * S}, 1, 2},
        {"a 4th 60 s later continues it", 4, {0, 10 * S, 20 * S, 80 * S}, 1, 1},
        {"a 4th 60.001 s later does not", 4, {0, 10 * S, 20 * S, 80 * S + 1}, 0, 1},
        {"quiet, then a new burst",
         7,
         {0, 10 * S, 20 * S, 81 * S, 90 * S, 100 * S, 110 * S},
         1,
         2},
    };

    (void)state;
    for (size_t r = 0; r < N_ELEMS(rows); r++) {
        void *fs;
        struct fx *f;
        struct kpi_figures g;
        int64_t last;

        fx_setup(&fs);
        f = fs;
        for (size_t i = 0; i < rows[r].n; i++)
            pulse(f, 5, T0 + rows[r].t[i]);
        last = T0 + rows[r].t[rows[r].n - 1];
        g = snap(f, last);
        if (g.chattering != rows[r].chattering || g.chatter_episodes != rows[r].episodes)
            fail_msg("%s: chattering %zu episodes %llu, want %zu %llu", rows[r].what,
                     g.chattering, (unsigned long long)g.chatter_episodes,
                     rows[r].chattering, (unsigned long long)rows[r].episodes);
        assert_int_equal(g.annunciations, rows[r].n);
        /* Chattering ends once 60 s pass without an activation. */
        g = snap(f, last + KPI_CHATTER_MS);
        assert_int_equal(g.chattering, rows[r].chattering);
        g = snap(f, last + KPI_CHATTER_MS + 1);
        assert_int_equal(g.chattering, 0);
        assert_int_equal(g.chatter_episodes, rows[r].episodes);
        fx_teardown(&fs);
    }
}

/*
 * An activation is an annunciation on a rising edge. Re-alarms, returns from shelving
 * and condition changes while shelved annunciate again or not at all, and are not
 * activations.
 */
static void test_chattering_needs_rising_edges(void **state)
{
    struct fx *f = *state;
    struct kpi_figures g;

    drive(f, 0, ALARM_EV_ALM, T0); /* activation */
    drive(f, 0, ALARM_EV_ACK, T0 + S);
    drive(f, 0, ALARM_EV_REALARM, T0 + 2 * S); /* annunciates, no edge */
    drive(f, 0, ALARM_EV_ACK, T0 + 3 * S);
    drive(f, 0, ALARM_EV_REALARM, T0 + 4 * S);
    drive(f, 0, ALARM_EV_SHELVE, T0 + 5 * S);
    for (int64_t i = 0; i < 5; i++) {
        drive(f, 0, ALARM_EV_RTN, T0 + (6 + 2 * i) * S);
        drive(f, 0, ALARM_EV_ALM, T0 + (7 + 2 * i) * S); /* shelved: no annunciation */
    }
    drive(f, 0, ALARM_EV_UNSHELVE, T0 + 20 * S); /* condition true: annunciates */
    g = snap(f, T0 + 20 * S);
    assert_int_equal(g.annunciations, 4);
    assert_int_equal(g.chattering, 0);
    assert_int_equal(g.chatter_episodes, 0);

    /* Real activations: two, 104 s after the first, do not chatter; a third does. */
    drive(f, 0, ALARM_EV_RTN, T0 + 100 * S);
    drive(f, 0, ALARM_EV_ALM, T0 + 102 * S);
    drive(f, 0, ALARM_EV_RTN, T0 + 103 * S);
    drive(f, 0, ALARM_EV_ALM, T0 + 104 * S);
    g = snap(f, T0 + 104 * S);
    assert_int_equal(g.chattering, 0);
    drive(f, 0, ALARM_EV_RTN, T0 + 105 * S);
    drive(f, 0, ALARM_EV_ALM, T0 + 106 * S);
    g = snap(f, T0 + 106 * S);
    assert_int_equal(g.chattering, 1);
    assert_int_equal(g.chatter_episodes, 1);
    assert_int_equal(g.annunciations, 7);
}

/* ---- stale
 * ----------------------------------------------------------------------------- */

static void test_stale(void **state)
{
    struct fx *f = *state;
    static const struct {
        int64_t at; /* ms after T0 */
        size_t stale;
    } rows[] = {
        {24 * HOUR - 1, 0}, {24 * HOUR, 1}, /* alarm 0 */
        {27 * HOUR - 1, 1}, {27 * HOUR, 2}, /* alarm 1, active again since 3 h */
        {37 * HOUR - 1, 2}, {37 * HOUR, 3}, /* alarm 2, back from shelving at 13 h */
        {48 * HOUR, 3},
    };

    /* Alarm 0: active from T0; acknowledging does not end its time on the list. */
    drive(f, 0, ALARM_EV_ALM, T0);
    drive(f, 0, ALARM_EV_ACK, T0 + HOUR);
    /* Alarm 1: active, then normal at 2 h, active again at 3 h. */
    drive(f, 1, ALARM_EV_ALM, T0);
    drive(f, 1, ALARM_EV_RTN, T0 + HOUR);
    drive(f, 1, ALARM_EV_ACK, T0 + 2 * HOUR);
    drive(f, 1, ALARM_EV_ALM, T0 + 3 * HOUR);
    /* Alarm 2: shelved from 12 h to 13 h, which is a break. */
    drive(f, 2, ALARM_EV_ALM, T0);
    drive(f, 2, ALARM_EV_SHELVE, T0 + 12 * HOUR);
    drive(f, 2, ALARM_EV_UNSHELVE, T0 + 13 * HOUR);
    /* Alarm 3: active for 30 h in rtn_unack, then acknowledged away. */
    drive(f, 3, ALARM_EV_ALM, T0);
    drive(f, 3, ALARM_EV_RTN, T0 + S);
    drive(f, 3, ALARM_EV_ACK, T0 + 23 * HOUR);

    for (size_t i = 0; i < N_ELEMS(rows); i++) {
        struct kpi_figures g = snap(f, T0 + rows[i].at);

        if (g.stale != rows[i].stale)
            fail_msg("at %lld ms: stale %zu, want %zu", (long long)rows[i].at, g.stale,
                     rows[i].stale);
        assert_int_equal(g.active_by_priority[2], 3);
    }
}

/* ---- shelved and out of service
 * --------------------------------------------------------- */

static void test_shelved_and_oos(void **state)
{
    struct fx *f = *state;
    static const struct {
        uint32_t id;
        uint8_t ev;
        int64_t at;
    } script[] = {
        /* Alarm 0 shelved 60 s, then again from 100 s; alarm 1 out of service from
         * 20 s; alarm 2 shelved 20 s, then out of service 30 s. */
        {2, ALARM_EV_ALM, 0},      {0, ALARM_EV_SHELVE, 10 * S},
        {1, ALARM_EV_OOS, 20 * S}, {2, ALARM_EV_SHELVE, 30 * S},
        {2, ALARM_EV_OOS, 50 * S}, {0, ALARM_EV_UNSHELVE, 70 * S},
        {2, ALARM_EV_RTS, 80 * S}, {0, ALARM_EV_SHELVE, 100 * S},
    };
    static const struct {
        int64_t at;
        size_t shelved;
        uint64_t shelve_entries;
        int64_t shelved_ms;
        size_t oos;
        uint64_t oos_entries;
        int64_t oos_ms;
    } rows[] = {
        {100 * S, 1, 3, 80 * S, 1, 2, 110 * S},
        {130 * S, 1, 3, 110 * S, 1, 2, 140 * S},
        {HOUR, 1, 3, HOUR - 20 * S, 1, 2, HOUR + 10 * S},
    };

    for (size_t i = 0; i < N_ELEMS(script); i++)
        drive(f, script[i].id, (enum alarm_event)script[i].ev, T0 + script[i].at);
    for (size_t i = 0; i < N_ELEMS(rows); i++) {
        struct kpi_figures g = snap(f, T0 + rows[i].at);

        if (g.shelved != rows[i].shelved || g.shelve_entries != rows[i].shelve_entries ||
            g.shelved_ms != rows[i].shelved_ms || g.out_of_service != rows[i].oos ||
            g.oos_entries != rows[i].oos_entries || g.oos_ms != rows[i].oos_ms)
            fail_msg(
                "at %lld: shelved %zu/%llu/%lld oos %zu/%llu/%lld", (long long)rows[i].at,
                g.shelved, (unsigned long long)g.shelve_entries, (long long)g.shelved_ms,
                g.out_of_service, (unsigned long long)g.oos_entries, (long long)g.oos_ms);
    }

    /* Ending both: the totals freeze. */
    drive(f, 1, ALARM_EV_RTS, T0 + HOUR + 20 * S);
    drive(f, 0, ALARM_EV_UNSHELVE, T0 + HOUR + 100 * S);
    for (int64_t later = 0; later < 2; later++) {
        struct kpi_figures g = snap(f, T0 + (2 + later) * HOUR);

        assert_int_equal(g.shelved, 0);
        assert_int_equal(g.out_of_service, 0);
        assert_int_equal(g.shelved_ms, 60 * S + 20 * S + HOUR);
        assert_int_equal(g.oos_ms, 30 * S + HOUR);
        assert_int_equal(g.shelve_entries, 3);
        assert_int_equal(g.oos_entries, 2);
        assert_int_equal(g.resyncs, 0);
    }
}

/* ---- restore
 * --------------------------------------------------------------------------- */

/* Puts fixture alarm id in state, as a store would restore it, and tells the kpi. */
static void restore(struct fx *f, uint32_t id, uint8_t st, bool cond, int64_t since)
{
    f->a[id].state = st;
    f->a[id].condition = cond;
    f->a[id].since_ns = since * NS_PER_MS;
    if (st == ALARM_SHELVED) {
        f->a[id].shelve = ALARM_SHELVE_TIMED;
        f->a[id].shelve_deadline_ns = (since + 8 * HOUR) * NS_PER_MS;
    }
    assert_int_equal(kpi_restore(f->k, id, f->c[id].priority, st, cond, since), 0);
}

static void test_restore(void **state)
{
    struct fx *f = *state;
    struct kpi_figures g;

    restore(f, 0, ALARM_ACKED, true, T0 - 23 * HOUR);
    restore(f, 1, ALARM_SHELVED, true, T0 - 2 * HOUR);
    restore(f, 2, ALARM_OUT_OF_SERVICE, false, T0 - 3 * HOUR);
    restore(f, 3, ALARM_NORMAL, false, T0 - 100 * HOUR);
    restore(f, 4, ALARM_LATCHED_UNACK, false, T0 - 24 * HOUR);

    g = snap(f, T0);
    assert_int_equal(g.stale, 1); /* alarm 4, at exactly 24 h */
    assert_int_equal(g.active_by_priority[2], 2);
    assert_int_equal(g.shelved, 1);
    assert_int_equal(g.shelve_entries, 0); /* entered before the start */
    assert_int_equal(g.shelved_ms, 2 * HOUR);
    assert_int_equal(g.out_of_service, 1);
    assert_int_equal(g.oos_entries, 0);
    assert_int_equal(g.oos_ms, 3 * HOUR);
    assert_int_equal(g.annunciations, 0);

    g = snap(f, T0 + HOUR - 1);
    assert_int_equal(g.stale, 1);
    g = snap(f, T0 + HOUR);
    assert_int_equal(g.stale, 2); /* alarm 0 too */

    /* The restored condition is true: a re-alarm is no activation. */
    drive(f, 0, ALARM_EV_REALARM, T0 + HOUR);
    drive(f, 1, ALARM_EV_UNSHELVE, T0 + HOUR); /* condition true: unack */
    drive(f, 2, ALARM_EV_RTS, T0 + HOUR);      /* condition false: normal */
    g = snap(f, T0 + HOUR);
    assert_int_equal(g.annunciations, 2);
    assert_int_equal(g.chatter_episodes, 0);
    assert_int_equal(g.resyncs, 0);
    assert_int_equal(g.stale, 2); /* the re-alarm kept alarm 0 on the list */
    assert_int_equal(g.active_by_priority[2], 3);
    assert_int_equal(g.shelved_ms, 3 * HOUR);
    assert_int_equal(g.oos_ms, 4 * HOUR);
    assert_int_equal(g.shelved + g.out_of_service, 0);

    /* A second restore replaces the first, activations included. */
    pulse(f, 5, T0 + HOUR);
    pulse(f, 5, T0 + HOUR);
    restore(f, 5, ALARM_NORMAL, false, T0 + HOUR);
    pulse(f, 5, T0 + HOUR);
    g = snap(f, T0 + HOUR);
    assert_int_equal(g.chattering, 0);
    assert_int_equal(g.annunciations, 5);

    /* Restores come in any order and neither move nor are clamped to the clock. */
    restore(f, 6, ALARM_OUT_OF_SERVICE, false, T0 + 3 * HOUR);
    restore(f, 7, ALARM_UNACK, true, T0 - 30 * HOUR);
    g = snap(f, T0);
    assert_int_equal(g.now_ms, T0 + HOUR);
    assert_int_equal(g.out_of_service, 1);
    assert_int_equal(g.oos_ms, 4 * HOUR); /* alarm 6 adds 0, not -2 h */
    assert_int_equal(g.stale, 3);         /* alarm 7 too */
    g = snap(f, T0 + 4 * HOUR);
    assert_int_equal(g.oos_ms, 5 * HOUR);
}

/* ---- time running backwards
 * -------------------------------------------------------------- */

static void expect_sane(const struct kpi_figures *g)
{
    assert_true(g->flood_ms >= 0);
    assert_true(g->shelved_ms >= 0);
    assert_true(g->oos_ms >= 0);
    assert_true(g->flood_start_ms >= 0);
    assert_true(g->rate_10min <= g->annunciations);
    assert_true(g->rate_10min <= g->peak_10min);
}

static void test_time_backwards(void **state)
{
    struct fx *f = *state;
    struct kpi_figures g;

    /* A shelve that "ends" before it began lasts 0, not a negative time. */
    drive(f, 0, ALARM_EV_SHELVE, T0 + 10 * S);
    drive(f, 0, ALARM_EV_UNSHELVE, T0 + 5 * S);
    g = snap(f, T0);
    expect_sane(&g);
    assert_int_equal(g.now_ms, T0 + 10 * S); /* the clock stays at its latest */
    assert_int_equal(g.shelved_ms, 0);
    assert_int_equal(g.shelve_entries, 1);

    /* An out-of-service period stamped across a backward step: clamped, not negative. */
    drive(f, 1, ALARM_EV_OOS, T0 + 20 * S);
    drive(f, 1, ALARM_EV_RTS, T0 + 19 * S);
    g = snap(f, T0 + 20 * S);
    expect_sane(&g);
    assert_int_equal(g.oos_ms, 0);

    /* Eleven annunciations stamped further and further back all count at the clock. */
    for (int64_t i = 0; i < 11; i++)
        pulse(f, (uint32_t)(2 + i), T0 + 30 * S - i * MIN);
    g = snap(f, 0);
    expect_sane(&g);
    assert_int_equal(g.now_ms, T0 + 30 * S);
    assert_true(g.in_flood);
    assert_int_equal(g.flood_start_ms, T0 + 30 * S);
    assert_int_equal(g.flood_ms, 0);
    assert_int_equal(g.rate_10min, 11);
    /* Three activations of one alarm at "decreasing" times are three at one instant. */
    pulse(f, 14, T0 + 30 * S);
    pulse(f, 14, T0 + 20 * S);
    pulse(f, 14, T0);
    g = snap(f, T0 - HOUR);
    expect_sane(&g);
    assert_int_equal(g.chattering, 1);
    assert_int_equal(g.chatter_episodes, 1);

    /*
     * A stale alarm does not stop being stale when a snapshot asks about the past. Every
     * alarm pulsed at T0 + 30 s is still in rtn_unack, on the active list: 12 of them,
     * and alarm 15.
     */
    drive(f, 15, ALARM_EV_ALM, T0 + 30 * S);
    g = snap(f, T0 + 30 * S + 24 * HOUR);
    assert_int_equal(g.stale, 13);
    g = snap(f, T0);
    expect_sane(&g);
    assert_int_equal(g.stale, 13);
    assert_int_equal(g.now_ms, T0 + 30 * S + 24 * HOUR);
    assert_false(g.in_flood);
    assert_int_equal(g.flood_ms, 600 * S); /* all 15 left at once, 600 s later */
}

/* ---- random sequences against a brute-force reference
 * ------------------------------------ */

enum { L_STEP, L_RESTORE, L_SNAP };

/* One entry of the raw list: a step, a restore (id, priority, to, condition, t = since)
 * or a snapshot's time. */
struct entry {
    int kind;
    struct kpi_step s;
};

#define MAX_LOG 4000

static struct entry log_[MAX_LOG];
static int64_t ref_t[MAX_LOG]; /* each entry's time on the module's clock */

/* splitmix64, so that a failing seed can be replayed anywhere. */
static uint64_t rng_state;

static uint64_t rnd(void)
{
    uint64_t z = (rng_state += UINT64_C(0x9e3779b97f4a7c15));

    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

static int64_t rnd_in(int64_t lo, int64_t hi)
{
    return lo + (int64_t)(rnd() % (uint64_t)(hi - lo + 1));
}

static int64_t sec_of(int64_t t)
{
    return t / S;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

    return (x > y) - (x < y);
}

/*
 * Annunciations and instants of the reference, rebuilt for every snapshot.
 * ann_t: the times of the annunciations, in order; inst: the instants at which the
 * window's count changes.
 */
static int64_t ann_t[MAX_LOG];
static uint8_t ann_p[MAX_LOG];
static int64_t inst[2 * MAX_LOG];
static int64_t acts[MAX_LOG];

/*
 * Annunciations among the first n whose second is in the window of second sec. The
 * times only grow, so those are the last ones: count back until one is too old.
 */
static uint64_t in_window(size_t n, int64_t sec)
{
    uint64_t c = 0;

    for (size_t j = n; j > 0 && sec_of(ann_t[j - 1]) > sec - KPI_WINDOW_S; j--)
        c++;
    return c;
}

/*
 * The figures, recomputed from the raw list log_[0 .. n) for a snapshot at now_raw,
 * straight from the definitions: every count is a count over the list.
 */
static void reference(size_t n, size_t n_alarms, int64_t now_raw, struct kpi_figures *w)
{
    int64_t clock = 0, now;
    size_t n_ann = 0, n_inst = 0;

    memset(w, 0, sizeof *w);

    /*
     * The module's clock: the latest time of a step or a snapshot so far. A restore's
     * time is its alarm's past, taken as it is.
     */
    for (size_t i = 0; i < n; i++) {
        if (log_[i].kind == L_RESTORE) {
            ref_t[i] = log_[i].s.t_ms;
            continue;
        }
        if (log_[i].s.t_ms > clock)
            clock = log_[i].s.t_ms;
        ref_t[i] = clock;
    }
    now = now_raw > clock ? now_raw : clock;
    if (now > KPI_TIME_MAX_MS)
        now = KPI_TIME_MAX_MS;
    w->now_ms = now;

    /* Annunciations, their totals and the window now. */
    for (size_t i = 0; i < n; i++) {
        if (log_[i].kind == L_STEP && log_[i].s.annunciate) {
            ann_t[n_ann] = ref_t[i];
            ann_p[n_ann] = log_[i].s.priority;
            n_ann++;
        }
    }
    for (size_t j = 0; j < n_ann; j++) {
        w->annunciations++;
        w->annunciations_by_priority[ann_p[j] - 1]++;
        if (sec_of(ann_t[j]) > sec_of(now) - KPI_WINDOW_S) {
            w->rate_10min++;
            w->rate_10min_by_priority[ann_p[j] - 1]++;
        }
    }

    /*
     * Floods, by walking every instant at which the window's count changes: each
     * annunciation, and the start of the second in which each one leaves the window. At
     * one instant the leaving comes first, since it happened at the start of the second.
     */
    for (size_t j = 0; j < n_ann; j++) {
        int64_t leave = (sec_of(ann_t[j]) + KPI_WINDOW_S) * S;

        inst[n_inst++] = ann_t[j];
        if (leave <= now)
            inst[n_inst++] = leave;
    }
    qsort(inst, n_inst, sizeof inst[0], cmp_i64);
    {
        size_t before = 0; /* annunciations stamped before the current instant */
        bool flood = false;
        int64_t start = 0;

        for (size_t x = 0; x < n_inst; x++) {
            int64_t at = inst[x];

            if (x > 0 && inst[x - 1] == at)
                continue;
            while (before < n_ann && ann_t[before] < at)
                before++;
            if (flood && in_window(before, sec_of(at)) < KPI_FLOOD_END) {
                flood = false;
                w->flood_ms += at - start;
            }
            for (size_t j = before; j < n_ann && ann_t[j] == at; j++) {
                uint64_t c = in_window(j + 1, sec_of(at));

                if (c > w->peak_10min)
                    w->peak_10min = c;
                if (!flood && c > KPI_FLOOD_START) {
                    flood = true;
                    start = at;
                    w->floods++;
                }
            }
        }
        w->in_flood = flood;
        if (flood) {
            w->flood_start_ms = start;
            w->flood_ms += now - start;
        }
    }

    /* Alarm by alarm: states, durations and activations. */
    for (uint32_t id = 0; id < n_alarms; id++) {
        uint8_t st = ALARM_NORMAL, prio = 0;
        bool cond = false;
        int64_t entered = 0, active_from = 0;
        size_t n_act = 0;

        for (size_t i = 0; i < n; i++) {
            const struct kpi_step *s = &log_[i].s;
            int64_t t = ref_t[i];

            if (log_[i].kind == L_SNAP || s->id != id)
                continue;
            if (log_[i].kind == L_RESTORE) {
                st = s->to;
                prio = s->priority;
                cond = s->condition;
                entered = active_from = t;
                n_act = 0;
                continue;
            }
            if (s->from != st)
                w->resyncs++;
            if (s->to != st) {
                if (st == ALARM_SHELVED && t > entered)
                    w->shelved_ms += t - entered;
                if (st == ALARM_OUT_OF_SERVICE && t > entered)
                    w->oos_ms += t - entered;
                w->shelve_entries += s->to == ALARM_SHELVED;
                w->oos_entries += s->to == ALARM_OUT_OF_SERVICE;
                if (alarm_state_active(s->to) && !alarm_state_active(st))
                    active_from = t;
                entered = t;
                st = s->to;
            }
            if (s->annunciate && !cond && s->condition)
                acts[n_act++] = t;
            cond = s->condition;
            prio = s->priority;
        }
        if (alarm_state_active(st)) {
            w->active_by_priority[prio - 1]++;
            w->stale += now - active_from >= KPI_STALE_MS;
        } else if (st == ALARM_SHELVED) {
            w->shelved++;
            w->shelved_ms += now > entered ? now - entered : 0;
        } else if (st == ALARM_OUT_OF_SERVICE) {
            w->out_of_service++;
            w->oos_ms += now > entered ? now - entered : 0;
        }

        /*
         * Chattering, by bursts: runs of activations no more than 60 s apart. A burst is
         * an episode when some 3 of its activations lie within 60 s; the alarm chatters
         * now when its last burst is one and is not over (60 s since its last).
         */
        for (size_t b = 0; b < n_act;) {
            size_t e = b + 1;
            bool triple = false;

            while (e < n_act && acts[e] - acts[e - 1] <= KPI_CHATTER_MS)
                e++;
            for (size_t x = b; x + KPI_CHATTER_COUNT - 1 < e; x++)
                triple |= acts[x + KPI_CHATTER_COUNT - 1] - acts[x] <= KPI_CHATTER_MS;
            w->chatter_episodes += triple;
            if (e == n_act)
                w->chattering += triple && now - acts[e - 1] <= KPI_CHATTER_MS;
            b = e;
        }
    }
}

#define CHECK(field)                                                                     \
    do {                                                                                 \
        if ((long long)got.field != (long long)want.field)                               \
            fail_msg("seed %u, entry %zu: %s = %lld, reference %lld", seed, n, #field,   \
                     (long long)got.field, (long long)want.field);                       \
    } while (0)

static void compare(unsigned seed, size_t n, const struct kpi_figures *g,
                    const struct kpi_figures *w)
{
    struct kpi_figures got = *g, want = *w;

    CHECK(now_ms);
    CHECK(rate_10min);
    CHECK(peak_10min);
    CHECK(annunciations);
    for (int p = 0; p < KPI_PRIORITIES; p++) {
        CHECK(rate_10min_by_priority[p]);
        CHECK(annunciations_by_priority[p]);
        CHECK(active_by_priority[p]);
    }
    CHECK(in_flood);
    CHECK(floods);
    CHECK(flood_start_ms);
    CHECK(flood_ms);
    CHECK(chattering);
    CHECK(chatter_episodes);
    CHECK(stale);
    CHECK(shelved);
    CHECK(shelve_entries);
    CHECK(shelved_ms);
    CHECK(out_of_service);
    CHECK(oos_entries);
    CHECK(oos_ms);
    CHECK(resyncs);
}

/* What a run met, so that the test knows it exercised every figure. */
struct seen {
    uint64_t floods, ended_floods, episodes, chattering, stale, shelves, oos, resyncs;
    uint64_t backwards, snaps;
};

/* How far the clock moves before a step: mostly seconds, sometimes hours or days. */
static int64_t random_gap(void)
{
    uint64_t r = rnd() % 1000;

    /*
     * Bursts of steps a few seconds apart, so that floods start and alarms chatter,
     * broken by quiet minutes that end floods and by days that make alarms stale.
     */
    if (r < 30)
        return -rnd_in(0, 3 * S); /* a slightly earlier stamp */
    if (r < 780)
        return rnd_in(0, 3 * S);
    if (r < 950)
        return rnd_in(3 * S, MIN);
    if (r < 992)
        return rnd_in(MIN, HOUR);
    return rnd_in(20 * HOUR, 30 * HOUR);
}

static enum alarm_event random_event(void)
{
    static const struct {
        uint8_t ev;
        unsigned weight;
    } w[] = {
        {ALARM_EV_ALM, 40},     {ALARM_EV_RTN, 40},
        {ALARM_EV_ACK, 12},     {ALARM_EV_RESET, 4},
        {ALARM_EV_REALARM, 4},  {ALARM_EV_SHELVE, 4},
        {ALARM_EV_UNSHELVE, 3}, {ALARM_EV_SHELVE_EXPIRED, 2},
        {ALARM_EV_SUPPRESS, 1}, {ALARM_EV_UNSUPPRESS, 3},
        {ALARM_EV_OOS, 1},      {ALARM_EV_RTS, 4},
    };
    unsigned total = 0, r;

    for (size_t i = 0; i < N_ELEMS(w); i++)
        total += w[i].weight;
    r = (unsigned)(rnd() % total);
    for (size_t i = 0; i < N_ELEMS(w); i++) {
        if (r < w[i].weight)
            return (enum alarm_event)w[i].ev;
        r -= w[i].weight;
    }
    return ALARM_EV_ALM;
}

static void random_restore(struct fx *f, uint32_t id, int64_t t, size_t *n)
{
    static const struct {
        uint8_t state;
        bool cond;
    } ok[] = {
        {ALARM_NORMAL, false},        {ALARM_UNACK, true},
        {ALARM_ACKED, true},          {ALARM_RTN_UNACK, false},
        {ALARM_LATCHED_UNACK, false}, {ALARM_LATCHED_ACK, false},
        {ALARM_SHELVED, true},        {ALARM_SHELVED, false},
        {ALARM_SUPPRESSED, true},     {ALARM_OUT_OF_SERVICE, false},
    };
    size_t i = (size_t)(rnd() % N_ELEMS(ok));
    int64_t since = t - rnd_in(0, 30 * HOUR);

    restore(f, id, ok[i].state, ok[i].cond, since);
    log_[*n] = (struct entry){.kind = L_RESTORE,
                              .s = {.id = id,
                                    .priority = f->c[id].priority,
                                    .to = ok[i].state,
                                    .condition = ok[i].cond,
                                    .t_ms = since}};
    (*n)++;
}

static void run_seed(unsigned seed, size_t n_steps, struct seen *seen)
{
    void *fs;
    struct fx *f;
    size_t n = 0;
    int64_t t = T0;
    struct kpi_figures got, want;

    rng_state = seed;
    fx_setup(&fs);
    f = fs;
    for (uint32_t id = 0; id < FX_ALARMS; id++) {
        /* Every kind: every priority, latching or not, shelvable or not. */
        f->c[id] = alarm_config_default((unsigned)(rnd() % ALARM_KIND_COUNT));
        if (rnd() % 3 == 0)
            random_restore(f, id, t, &n);
    }

    for (size_t i = 0; i < n_steps && n + 2 < MAX_LOG; i++) {
        /* Two steps in five go to alarm 0, which then chatters now and then. */
        uint32_t id = (uint32_t)(rnd() % 5 < 2 ? 0 : rnd() % FX_ALARMS);
        enum alarm_event ev = random_event();
        struct alarm_cmd cmd = {.user = "op",
                                .reason = "random",
                                .rights = ALL_RIGHTS,
                                .one_shot = rnd() % 3 == 0,
                                .shelve_ns = rnd_in(1, 2 * HOUR) * NS_PER_MS};
        struct alarm_transition tr;
        int64_t gap = random_gap();
        int rc;

        if (gap < 0)
            seen->backwards++;
        t += gap;
        rc = alarm_step(&f->a[id], &f->c[id], ev, &cmd, t * NS_PER_MS, &tr);
        if (rc >= 0) {
            struct kpi_step s = step_of(id, f->c[id].priority, &tr, t);

            /* Now and then a step whose from the module cannot have: a journal gap. */
            if (rnd() % 200 == 0)
                s.from = (uint8_t)(rnd() % 2 ? 200 : (s.from + 1) % ALARM_STATE_COUNT);
            assert_int_equal(kpi_feed(f->k, &s), 0);
            log_[n++] = (struct entry){.kind = L_STEP, .s = s};
        }

        if (rnd() % 10 == 0 || i + 1 == n_steps) {
            /* Sometimes ahead of the steps, sometimes behind: the clock decides. */
            int64_t at =
                t + (rnd() % 8 == 0 ? rnd_in(0, 30 * HOUR) : rnd_in(-5 * S, 30 * S));

            kpi_snapshot(f->k, at, &got);
            reference(n, FX_ALARMS, at, &want);
            compare(seed, n, &got, &want);
            log_[n++] = (struct entry){.kind = L_SNAP, .s = {.t_ms = at}};
            seen->snaps++;
            seen->floods += got.floods;
            seen->ended_floods += got.floods - got.in_flood;
            seen->episodes += got.chatter_episodes;
            seen->chattering += got.chattering;
            seen->stale += got.stale;
            seen->shelves += got.shelve_entries;
            seen->oos += got.oos_entries;
            seen->resyncs += got.resyncs;
            /* The next steps are stamped around the snapshot, a little behind at times.
             */
            if (at > t)
                t = at - rnd_in(0, 2 * S);
        }
    }
    fx_teardown(&fs);
}

static void test_random_against_reference(void **state)
{
    struct seen seen = {0};

    (void)state;
    for (unsigned seed = 1; seed <= 12; seed++)
        run_seed(seed, 3000, &seen);

    /* The runs met every figure, or the comparison proved little. */
    assert_true(seen.snaps > 100);
    assert_true(seen.floods > 0);
    assert_true(seen.ended_floods > 0);
    assert_true(seen.episodes > 0);
    assert_true(seen.chattering > 0);
    assert_true(seen.stale > 0);
    assert_true(seen.shelves > 0);
    assert_true(seen.oos > 0);
    assert_true(seen.resyncs > 0);
    assert_true(seen.backwards > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_and_free),
        cmocka_unit_test_setup_teardown(test_invalid_input, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_resync, fx_setup, fx_teardown),
        cmocka_unit_test(test_flood_start),
        cmocka_unit_test_setup_teardown(test_flood_end, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_window_edges, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_priority_split, fx_setup, fx_teardown),
        cmocka_unit_test(test_chattering),
        cmocka_unit_test_setup_teardown(test_chattering_needs_rising_edges, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_stale, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_shelved_and_oos, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_restore, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_time_backwards, fx_setup, fx_teardown),
        cmocka_unit_test(test_random_against_reference),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
