/*
 * Unit tests for rtloop: the REAL loop thread (rtloop_new() + rtloop_start(), SCHED_FIFO
 * granted or not) fed through real rings. Samples and operator commands go in, journal
 * events, command results, alarm views and the relay word come out; every wait polls
 * against a deadline, never a fixed sleep.
 *
 * Directed cases: level-1 activation and first-out, acknowledgement and its refusals
 * (all journalled), level-2 latching and reset, first-out across a series and across
 * out-of-order timestamps, K-out-of-N area votes, timed shelving ended by the loop's own
 * timer, silence and the relay word, on-delay and re-alarm timers, restoring saved
 * alarms before the start (including corrupt records), and alarm counting.
 *
 * Then a randomised run (fixed seeds): random good and bad samples on the three points
 * of a voting area and random operator commands, with and without rights, checked
 * against the journal's invariants (gap-free sequence numbers, one result per command in
 * order, each with its journal event, every state change chained from the previous one,
 * never normal with a true condition), against an independent model of the conditions,
 * and against a replay of the journal for the active and unacknowledged counts and the
 * relay word.
 *
 * Some tests guard against bugs these tests once found in rtloop.c:
 *   - a refused SILENCE silenced the sirens (test_silence_relays, and every
 *     test_random_N through its silence check);
 *   - a test-flagged alarm drove relays not configured for tests
 *     (test_test_flagged_alarm_drives_no_relay);
 *   - rtloop_restore() did not bound restored times: a shelve could outlast the alarm's
 *     maximum, and damaged times overflowed (test_restore_shelve_bounded,
 *     test_restore_extreme_times).
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
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "alarm.h"
#include "config.h"
#include "msg.h"
#include "pgtime.h"
#include "ring.h"
#include "rtloop.h"

/* Generous: a sanitized build on a loaded host (stress-ng) may be slow. */
#define DEADLINE_MS 20000

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

#define BEACON 0x1u /* relay-1, out[0] */
#define SIREN  0x2u /* relay-2, out[1] */

#define ALL_RIGHTS (ALARM_RIGHT_ACK | ALARM_RIGHT_SHELVE | ALARM_RIGHT_SERVICE)

/* ---- configs ---------------------------------------------------------------------- */

#define CFG_HEAD(period_ms)                                                              \
    "{\"gateway\": {\"id\": \"gw\", \"site\": \"s\"},\n"                                 \
    "\"rt\": {\"period_ms\": " #period_ms "},\n"                                         \
    "\"store\": {\"path\": \"x.db\"},\n"                                                 \
    "\"mqtt\": {\"uri\": \"tcp://localhost:1883\"},\n"                                   \
    "\"outputs\": {\"board\": \"arm-2x485-r2\", \"boards_dir\": \"" PG_SOURCE_DIR        \
    "/hw/boards\",\n"                                                                    \
    "  \"backend\": \"sim\", \"sim_path\": \"/tmp/pg-test-rtloop-relays\",\n"            \
    "  \"relays\": [{\"output\": \"relay-1\", \"role\": \"beacon\", \"priorities\": "    \
    "[1, 2, 3]},\n"                                                                      \
    "             {\"output\": \"relay-2\", \"role\": \"siren\", \"priorities\": [1, "   \
    "2]}]},\n"                                                                           \
    "\"buses\": [{\"id\": \"b\", \"type\": \"tcp\", \"host\": \"h\", \"port\": 502}],\n"

#define GAS_LIMITS                                                                       \
    "\"gas\": {\"class\": \"combustible\"}, \"unit\": \"%LEL\",\n"                       \
    "   \"limits\": {\"level1\": {\"setpoint\": 20, \"deadband\": 2},\n"                 \
    "              \"level2\": {\"setpoint\": 40, \"deadband\": 3}}"

/* clang-format off */
/*
 * The main site. Area a1 (index 0) does not vote: p0, p1 (gas) and p5 (a process point
 * with an H limit and a rate rule both ways). Area a2 (index 1) votes 2 out of its three
 * gas points p2, p3, p4.
 */
static const char main_cfg[] = CFG_HEAD(2)
    "\"areas\": [{\"id\": \"a1\"}, {\"id\": \"a2\", \"vote\": {\"k\": 2}}],\n"
    "\"devices\": [{\"id\": \"d\", \"bus\": \"b\", \"unit_id\": 1, \"poll_ms\": 100,\n"
    " \"points\": [\n"
    "  {\"id\": \"p0\", \"area\": \"a1\", \"address\": 0, " GAS_LIMITS "},\n"
    "  {\"id\": \"p1\", \"area\": \"a1\", \"address\": 1, " GAS_LIMITS "},\n"
    "  {\"id\": \"p2\", \"area\": \"a2\", \"address\": 2, " GAS_LIMITS "},\n"
    "  {\"id\": \"p3\", \"area\": \"a2\", \"address\": 3, " GAS_LIMITS "},\n"
    "  {\"id\": \"p4\", \"area\": \"a2\", \"address\": 4, " GAS_LIMITS "},\n"
    "  {\"id\": \"p5\", \"area\": \"a1\", \"address\": 5,\n"
    "   \"limits\": {\"h\": {\"setpoint\": 100, \"deadband\": 1}},\n"
    "   \"roc\": {\"rise_per_min\": 50, \"fall_per_min\": 50, \"window_ms\": 60000}}\n"
    " ]}]}\n";

/* Timers: p0's level-1 has a 150 ms on-delay and re-alarms 300 ms after activation. */
static const char timer_cfg[] = CFG_HEAD(2)
    "\"areas\": [{\"id\": \"a1\"}],\n"
    "\"devices\": [{\"id\": \"d\", \"bus\": \"b\", \"unit_id\": 1, \"poll_ms\": 100,\n"
    " \"points\": [\n"
    "  {\"id\": \"p0\", \"area\": \"a1\", \"address\": 0,\n"
    "   \"gas\": {\"class\": \"combustible\"}, \"unit\": \"%LEL\",\n"
    "   \"limits\": {\"level1\": {\"setpoint\": 20, \"deadband\": 2,\n"
    "                           \"on_delay_ms\": 150, \"realarm_ms\": 300},\n"
    "              \"level2\": {\"setpoint\": 40, \"deadband\": 3}}}\n"
    " ]}]}\n";

/*
 * The randomised run: three gas points voting 2 out of 3 in one area, instrument faults
 * raised by the first bad sample (fault_delay_ms 0), no delays and no re-alarm so that
 * the loop goes quiet once it has answered everything.
 */
#define RND_POINT(id, addr)                                                              \
    "  {\"id\": \"" id "\", \"area\": \"a1\", \"address\": " addr                        \
    ", \"fault_delay_ms\": 0, " GAS_LIMITS "}"
static const char random_cfg[] = CFG_HEAD(1)
    "\"areas\": [{\"id\": \"a1\", \"vote\": {\"k\": 2}}],\n"
    "\"devices\": [{\"id\": \"d\", \"bus\": \"b\", \"unit_id\": 1, \"poll_ms\": 100,\n"
    " \"points\": [\n"
    RND_POINT("r0", "0") ",\n"
    RND_POINT("r1", "1") ",\n"
    RND_POINT("r2", "2") "\n"
    " ]}]}\n";
/* clang-format on */

enum { P0, P1, P2, P3, P4, P5 };
enum { A1, A2 };

/* ---- the fixture ------------------------------------------------------------------ */

struct fx {
    struct config *cfg;
    struct ring *samples[2];
    struct ring *cmds, *results, *events, *readings;
    struct rtloop_source src;
    struct rtloop *rt;
    uint64_t first_seq;
    bool started;
    bool fifo;

    /* Everything taken off the rings, in order; next_*: the first not yet looked at. */
    struct msg_event *ev;
    size_t n_ev, cap_ev, next_ev;
    struct msg_cmd_result *res;
    size_t n_res, cap_res, next_res;

    uint64_t next_req;
    uint64_t n_samples; /* pushed */
    void *scratch[4];   /* a test's own tables, freed with the fixture */
};

static void *grow(void *p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return p;
    *cap = *cap ? *cap * 2 : 256;
    if (*cap < need)
        *cap = need;
    p = realloc(p, *cap * elem);
    assert_non_null(p);
    return p;
}

static void fx_init(struct fx *f, const char *text, uint64_t first_seq)
{
    char err[CONFIG_ERR_LEN];
    int rc;

    memset(f, 0, sizeof(*f));
    rc = config_parse(PG_SOURCE_DIR "/tests/unit/rtloop.json", text, strlen(text),
                      &f->cfg, err, sizeof(err));
    if (rc != 0)
        fail_msg("config: %s", err);
    for (size_t i = 0; i < N_ELEMS(f->samples); i++) {
        f->samples[i] = ring_new(sizeof(struct msg_sample), 1024);
        assert_non_null(f->samples[i]);
    }
    f->cmds = ring_new(sizeof(struct msg_command), 64);
    f->results = ring_new(sizeof(struct msg_cmd_result), 64);
    f->events = ring_new(sizeof(struct msg_event), 4096);
    f->readings = ring_new(sizeof(struct msg_sample), 1024);
    assert_non_null(f->cmds);
    assert_non_null(f->results);
    assert_non_null(f->events);
    assert_non_null(f->readings);
    f->src =
        (struct rtloop_source){.commands = f->cmds, .results = f->results, .wake_fd = -1};
    f->first_seq = first_seq;
    f->next_req = 1;

    struct rtloop_params p = {
        .cfg = f->cfg,
        .sample_rings = f->samples,
        .n_rings = N_ELEMS(f->samples),
        .sources = &f->src,
        .n_sources = 1,
        .events = f->events,
        .readings = f->readings,
        .first_seq = first_seq,
        .wake_fd = -1,
        .outputs_fd = -1,
    };
    f->rt = rtloop_new(&p);
    assert_non_null(f->rt);
}

static void fx_start(struct fx *f)
{
    bool pinned = true;

    assert_int_equal(rtloop_start(f->rt, &f->fifo, &pinned), 0);
    assert_false(pinned); /* rt.cpu is -1: no pinning asked for */
    f->started = true;
}

static void fx_fini(struct fx *f)
{
    rtloop_free(f->rt);
    for (size_t i = 0; i < N_ELEMS(f->samples); i++)
        ring_free(f->samples[i]);
    ring_free(f->cmds);
    ring_free(f->results);
    ring_free(f->events);
    ring_free(f->readings);
    config_free(f->cfg);
    free(f->ev);
    free(f->res);
    for (size_t i = 0; i < N_ELEMS(f->scratch); i++)
        free(f->scratch[i]);
    memset(f, 0, sizeof(*f));
}

static void nap(void)
{
    struct timespec ts = {0, 100 * 1000};

    (void)nanosleep(&ts, NULL);
}

static int64_t deadline(void)
{
    return pgtime_mono_ns() + (int64_t)DEADLINE_MS * PGTIME_NS_PER_MS;
}

/* Take everything the loop produced; readings are only drained. */
static void pump(struct fx *f)
{
    struct msg_sample s;

    for (;;) {
        f->ev = grow(f->ev, &f->cap_ev, f->n_ev + 1, sizeof(*f->ev));
        if (!ring_pop(f->events, &f->ev[f->n_ev]))
            break;
        f->n_ev++;
    }
    for (;;) {
        f->res = grow(f->res, &f->cap_res, f->n_res + 1, sizeof(*f->res));
        if (!ring_pop(f->results, &f->res[f->n_res]))
            break;
        f->n_res++;
    }
    while (ring_pop(f->readings, &s))
        ;
}

static struct msg_event next_event(struct fx *f)
{
    int64_t end = deadline();

    for (;;) {
        pump(f);
        if (f->next_ev < f->n_ev)
            return f->ev[f->next_ev++];
        if (pgtime_mono_ns() > end)
            fail_msg("no event within %d ms (%zu taken so far)", DEADLINE_MS, f->n_ev);
        nap();
    }
}

static struct msg_cmd_result next_result(struct fx *f)
{
    int64_t end = deadline();

    for (;;) {
        pump(f);
        if (f->next_res < f->n_res)
            return f->res[f->next_res++];
        if (pgtime_mono_ns() > end)
            fail_msg("no command result within %d ms", DEADLINE_MS);
        nap();
    }
}

static void push_sample_at(struct fx *f, size_t ring, uint32_t point, uint8_t quality,
                           double value, uint8_t flags, int64_t mono_ns)
{
    struct msg_sample s = {
        .point = point,
        .quality = quality,
        .flags = flags,
        .value = value,
        .mono_ns = mono_ns,
        .utc_ms = pgtime_utc_ms(),
    };
    int64_t end = deadline();

    while (!ring_push(f->samples[ring], &s)) {
        pump(f);
        if (pgtime_mono_ns() > end)
            fail_msg("the sample ring stayed full for %d ms", DEADLINE_MS);
        nap();
    }
    f->n_samples++;
}

static void push_sample(struct fx *f, uint32_t point, double value)
{
    push_sample_at(f, 0, point, MSG_Q_GOOD, value, 0, pgtime_mono_ns());
}

struct cmd_args {
    uint8_t op;
    uint32_t point;
    uint8_t limit;
    uint8_t rights;
    const char *user; /* NULL: "zhang.wei" */
    const char *reason;
    int64_t shelve_ms;
    bool one_shot;
    uint8_t source;
    int64_t deadline_ns; /* 0: none */
};

static void push_cmd(struct fx *f, const struct msg_command *c)
{
    int64_t end = deadline();

    while (!ring_push(f->cmds, c)) {
        pump(f);
        if (pgtime_mono_ns() > end)
            fail_msg("the command ring stayed full for %d ms", DEADLINE_MS);
        nap();
    }
}

/* Wait until n results in all have come back. */
static void wait_results(struct fx *f, size_t n)
{
    int64_t end = deadline();

    for (;;) {
        pump(f);
        if (f->n_res >= n)
            return;
        if (pgtime_mono_ns() > end)
            fail_msg("%zu of %zu commands answered within %d ms", f->n_res, n,
                     DEADLINE_MS);
        nap();
    }
}

/* Push one command; returns its req. */
static uint64_t send_cmd(struct fx *f, const struct cmd_args *a)
{
    struct msg_command c;

    memset(&c, 0, sizeof(c));
    c.req = f->next_req++;
    c.point = a->point;
    c.op = a->op;
    c.limit = a->limit;
    c.rights = a->rights;
    c.source = a->source;
    c.one_shot = a->one_shot;
    c.shelve_ms = a->shelve_ms;
    c.utc_ms = pgtime_utc_ms();
    c.deadline_ns = a->deadline_ns;
    snprintf(c.user, sizeof(c.user), "%s", a->user ? a->user : "zhang.wei");
    snprintf(c.reason, sizeof(c.reason), "%s", a->reason ? a->reason : "");
    push_cmd(f, &c);
    return c.req;
}

/* Send one command and wait for its result, which must be the next one. */
static struct msg_cmd_result do_cmd(struct fx *f, const struct cmd_args *a)
{
    uint64_t req = send_cmd(f, a);
    struct msg_cmd_result r = next_result(f);

    assert_int_equal(r.req, req);
    return r;
}

#define CMD(f, ...) do_cmd((f), &(const struct cmd_args){__VA_ARGS__})

static struct rtloop_alarm view(struct fx *f, size_t i)
{
    struct rtloop_alarm v;
    int64_t end = deadline();
    int rc;

    while ((rc = rtloop_alarm_get(f->rt, i, &v)) == -EAGAIN) {
        if (pgtime_mono_ns() > end)
            fail_msg("alarm %zu: the view kept changing for %d ms", i, DEADLINE_MS);
        nap();
    }
    assert_int_equal(rc, 0);
    return v;
}

/* The view once it shows the event seq (views are published just after the event). */
static struct rtloop_alarm view_at(struct fx *f, size_t i, uint64_t seq)
{
    int64_t end = deadline();

    for (;;) {
        struct rtloop_alarm v = view(f, i);

        if (v.seq >= seq)
            return v;
        if (pgtime_mono_ns() > end)
            fail_msg("alarm %zu: view seq %llu never reached %llu", i,
                     (unsigned long long)v.seq, (unsigned long long)seq);
        nap();
    }
}

static size_t alarm_of(struct fx *f, uint32_t point, uint8_t limit)
{
    size_t n = rtloop_alarm_count(f->rt);

    for (size_t i = 0; i < n; i++) {
        struct rtloop_alarm v = view(f, i);

        if (v.point == point && v.limit == limit)
            return i;
    }
    fail_msg("no alarm for point %u limit %s", point, msg_limit_name(limit));
    return SIZE_MAX; /* not reached */
}

static void wait_word(struct fx *f, uint32_t want)
{
    int64_t end = deadline();

    for (;;) {
        uint32_t w = rtloop_outputs(f->rt);

        pump(f);
        if (w == want)
            return;
        if (pgtime_mono_ns() > end)
            fail_msg("relay word 0x%x, wanted 0x%x", w, want);
        nap();
    }
}

static struct rtloop_stats stats(struct fx *f)
{
    struct rtloop_stats s;

    rtloop_stats(f->rt, &s);
    return s;
}

/* Wait for n more whole cycles: whatever the loop was doing when called is finished. */
static void wait_cycles(struct fx *f, uint64_t n)
{
    uint64_t until = stats(f).cycles + n;
    int64_t end = deadline();

    while (stats(f).cycles < until) {
        pump(f);
        if (pgtime_mono_ns() > end)
            fail_msg("the loop did not cycle for %d ms", DEADLINE_MS);
        nap();
    }
}

/* Wait until the loop has taken (and evaluated) every sample pushed so far. */
static void wait_samples(struct fx *f)
{
    int64_t end = deadline();

    for (;;) {
        pump(f);
        if (stats(f).samples >= f->n_samples)
            return;
        if (pgtime_mono_ns() > end)
            fail_msg("the loop took %llu of %llu samples",
                     (unsigned long long)stats(f).samples,
                     (unsigned long long)f->n_samples);
        nap();
    }
}

/*
 * A refused command as a barrier: once its result is back, every event of the cycles
 * before it is in the ring, and its own REJECTED event must be the next one. Returns
 * that event.
 */
static struct msg_event barrier(struct fx *f)
{
    struct msg_cmd_result r;
    struct msg_event e;

    wait_samples(f);
    r = CMD(f, .op = MSG_CMD_ACK, .point = UINT32_MAX - 1, .limit = MSG_LIMIT_LEVEL1,
            .rights = ALL_RIGHTS, .user = "barrier");
    assert_int_equal(r.status, -ALARM_R_NO_SUCH_ALARM);
    e = next_event(f);
    if (e.req != r.req)
        fail_msg("expected the barrier's event, got seq %llu type %u point %u limit %s "
                 "event %u",
                 (unsigned long long)e.seq, e.type, e.point, msg_limit_name(e.limit),
                 e.event);
    assert_int_equal(e.type, MSG_EV_REJECTED);
    assert_int_equal(e.seq, r.seq);
    return e;
}

/* The next event must be an ALARM step of alarm i with this event, from and to. */
static struct msg_event expect_step(struct fx *f, size_t i, unsigned event, unsigned from,
                                    unsigned to)
{
    struct msg_event e = next_event(f);

    if (e.type != MSG_EV_ALARM || e.alarm != i || e.event != event || e.from != from ||
        e.to != to)
        fail_msg("expected alarm %zu %s %s -> %s; got type %u alarm %u (point %u %s) %s "
                 "%s -> %s",
                 i, alarm_event_name(event), alarm_state_name(from), alarm_state_name(to),
                 e.type, e.alarm, e.point, msg_limit_name(e.limit),
                 alarm_event_name(e.event), alarm_state_name(e.from),
                 alarm_state_name(e.to));
    return e;
}

static int setup_main(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    fx_init(f, main_cfg, 1000);
    *state = f;
    return 0;
}

static int setup_main_started(void **state)
{
    setup_main(state);
    fx_start(*state);
    return 0;
}

static int teardown_fx(void **state)
{
    struct fx *f = *state;

    fx_fini(f);
    free(f);
    return 0;
}

/* ---- counting, and a loop that never ran ------------------------------------------ */

static void test_count_and_free_unstarted(void **state)
{
    struct fx *f = *state;
    size_t want = 0, n = rtloop_alarm_count(f->rt);
    struct rtloop_alarm v;

    for (size_t i = 0; i < f->cfg->n_points; i++) {
        const struct rules_point_cfg *r = &f->cfg->points[i].rules;

        want += r->n_limits + r->roc.rising + r->roc.falling + 1;
    }
    for (size_t a = 0; a < f->cfg->n_areas; a++)
        want += f->cfg->areas[a].voting;
    assert_int_equal(n, want);
    /* By hand: 5 gas points x (L1, L2, fault) + p5 (H, rise, fall, fault) + 1 vote. */
    assert_int_equal(n, 5 * 3 + 4 + 1);

    for (size_t i = 0; i < n; i++) {
        v = view(f, i);
        assert_int_equal(v.state, ALARM_NORMAL);
        assert_int_equal(v.shelve, ALARM_SHELVE_NONE);
        assert_int_equal(v.seq, 0);
        assert_int_equal(v.flags & (MSG_F_CONDITION | MSG_F_FIRST_OUT), 0);
        assert_true(isnan(v.value));
        assert_int_equal(v.active_utc_ms, 0);
    }
    assert_int_equal(rtloop_alarm_get(f->rt, n, &v), -ENOENT);
    assert_int_equal(rtloop_alarm_get(f->rt, SIZE_MAX, &v), -ENOENT);
    /* The vote alarm is indexed by area, and defaults to P1 latching. */
    v = view(f, alarm_of(f, A2, MSG_LIMIT_VOTE));
    assert_int_equal(v.area, A2);
    assert_int_equal(v.priority, 1);
    assert_true(v.flags & MSG_F_LATCHING);
    assert_true(v.setpoint == 2.0);
    /* The rate alarms of p5 exist, both directions. */
    (void)alarm_of(f, P5, MSG_LIMIT_ROC_RISE);
    (void)alarm_of(f, P5, MSG_LIMIT_ROC_FALL);
    (void)alarm_of(f, P5, MSG_LIMIT_HIGH);
    assert_int_equal(rtloop_outputs(f->rt), 0);
    /* Teardown frees the loop that was never started. */
}

static void test_free_null_and_unstarted(void **state)
{
    struct fx f;

    (void)state;
    rtloop_free(NULL);
    fx_init(&f, main_cfg, 1);
    /* Stop on a loop that never started is a no-op too. */
    rtloop_stop(f.rt);
    fx_fini(&f);
}

/* ---- 1. level-1 activation --------------------------------------------------------- */

static void test_level1_activation(void **state)
{
    struct fx *f = *state;
    size_t l1 = alarm_of(f, P0, MSG_LIMIT_LEVEL1);
    int64_t mono = pgtime_mono_ns();
    struct msg_event e;
    struct rtloop_alarm v;
    struct rtloop_stats st;

    push_sample_at(f, 0, P0, MSG_Q_GOOD, 25.0, 0, mono);
    e = expect_step(f, l1, ALARM_EV_ALM, ALARM_NORMAL, ALARM_UNACK);
    assert_int_equal(e.seq, f->first_seq);
    assert_int_equal(e.point, P0);
    assert_int_equal(e.limit, MSG_LIMIT_LEVEL1);
    assert_int_equal(e.priority, 2);
    assert_int_equal(e.flags, MSG_F_CONDITION | MSG_F_ANNUNCIATE | MSG_F_FIRST_OUT);
    assert_true(e.value == 25.0);
    assert_true(e.setpoint == 20.0);
    assert_true(e.deadband == 2.0);
    assert_int_equal(e.quality, MSG_Q_GOOD);
    assert_int_equal(e.shelve, ALARM_SHELVE_NONE);
    assert_int_equal(e.req, 0);
    assert_string_equal(e.user, "");
    assert_int_equal(e.mono_ns, mono);
    assert_int_equal(e.since_utc_ms, e.utc_ms);
    assert_int_equal(e.active_utc_ms, e.utc_ms);
    assert_int_equal(e.shelve_until_utc_ms, 0);

    v = view_at(f, l1, e.seq);
    assert_int_equal(v.state, ALARM_UNACK);
    assert_int_equal(v.seq, e.seq);
    assert_int_equal(v.priority, 2);
    assert_int_equal(v.kind, ALARM_KIND_COMBUSTIBLE_L1);
    assert_int_equal(v.area, A1);
    assert_true(v.flags & MSG_F_FIRST_OUT);
    assert_true(v.flags & MSG_F_CONDITION);
    assert_false(v.flags & MSG_F_LATCHING);
    assert_true(v.value == 25.0);
    assert_true(v.setpoint == 20.0);
    assert_int_equal(v.active_utc_ms, e.utc_ms);

    st = stats(f);
    assert_int_equal(st.alarms_active, 1);
    assert_int_equal(st.alarms_unack, 1);
    assert_int_equal(st.events, 1);
    assert_true(st.samples >= 1);
    assert_true(st.cycles > 0);
    assert_int_equal(st.fifo, f->fifo);
    /* Nothing else happened: level-2 and the fault stayed quiet. */
    barrier(f);
    assert_int_equal(view(f, alarm_of(f, P0, MSG_LIMIT_LEVEL2)).state, ALARM_NORMAL);
    assert_int_equal(view(f, alarm_of(f, P0, MSG_LIMIT_FAULT)).state, ALARM_NORMAL);
}

/* ---- 2. acknowledgement and refusals ----------------------------------------------- */

static void test_ack_and_refusals(void **state)
{
    struct fx *f = *state;
    size_t l1 = alarm_of(f, P0, MSG_LIMIT_LEVEL1);
    struct msg_event alm, e;
    struct msg_cmd_result r;
    struct rtloop_stats st;
    char long_user[MSG_USER_LEN + 1];

    push_sample(f, P0, 25.0);
    alm = expect_step(f, l1, ALARM_EV_ALM, ALARM_NORMAL, ALARM_UNACK);

    /* Refused first: no rights. Nothing changes, and the refusal is journalled. */
    r = CMD(f, .op = MSG_CMD_ACK, .point = P0, .limit = MSG_LIMIT_LEVEL1, .rights = 0,
            .reason = "no rights");
    assert_int_equal(r.status, -ALARM_R_NOT_AUTHORISED);
    assert_int_equal(r.from, ALARM_UNACK);
    assert_int_equal(r.to, ALARM_UNACK);
    e = next_event(f);
    assert_int_equal(e.type, MSG_EV_REJECTED);
    assert_int_equal(e.seq, r.seq);
    assert_int_equal(e.seq, alm.seq + 1);
    assert_int_equal(e.req, r.req);
    assert_int_equal(e.status, -ALARM_R_NOT_AUTHORISED);
    assert_int_equal(e.event, MSG_CMD_ACK);
    assert_string_equal(e.user, "zhang.wei");
    assert_string_equal(e.reason, "no rights");
    assert_int_equal(e.from, ALARM_UNACK);
    assert_int_equal(e.to, ALARM_UNACK);

    /* A right other than ack does not do either. */
    r = CMD(f, .op = MSG_CMD_ACK, .point = P0, .limit = MSG_LIMIT_LEVEL1,
            .rights = ALARM_RIGHT_SHELVE | ALARM_RIGHT_SERVICE);
    assert_int_equal(r.status, -ALARM_R_NOT_AUTHORISED);
    assert_int_equal(next_event(f).seq, r.seq);

    /* An empty user is never authorised. */
    r = CMD(f, .op = MSG_CMD_ACK, .point = P0, .limit = MSG_LIMIT_LEVEL1,
            .rights = ALL_RIGHTS, .user = "");
    assert_int_equal(r.status, -ALARM_R_NOT_AUTHORISED);
    assert_int_equal(next_event(f).seq, r.seq);

    /* The acknowledgement. */
    r = CMD(f, .op = MSG_CMD_ACK, .point = P0, .limit = MSG_LIMIT_LEVEL1,
            .rights = ALARM_RIGHT_ACK, .reason = "seen it", .source = MSG_SRC_MQTT);
    assert_int_equal(r.status, 0);
    assert_int_equal(r.from, ALARM_UNACK);
    assert_int_equal(r.to, ALARM_ACKED);
    e = expect_step(f, l1, ALARM_EV_ACK, ALARM_UNACK, ALARM_ACKED);
    assert_int_equal(r.seq, e.seq);
    assert_int_equal(e.req, r.req);
    assert_string_equal(e.user, "zhang.wei");
    assert_string_equal(e.reason, "seen it");
    assert_int_equal(e.source, MSG_SRC_MQTT);
    assert_int_equal(e.flags & (MSG_F_CONDITION | MSG_F_ANNUNCIATE | MSG_F_FIRST_OUT),
                     MSG_F_CONDITION | MSG_F_FIRST_OUT);
    assert_int_equal(e.active_utc_ms, alm.active_utc_ms);
    assert_int_equal(view_at(f, l1, e.seq).state, ALARM_ACKED);
    st = stats(f);
    assert_int_equal(st.alarms_active, 1);
    assert_int_equal(st.alarms_unack, 0);

    /* Again: already acked, refused and journalled. */
    r = CMD(f, .op = MSG_CMD_ACK, .point = P0, .limit = MSG_LIMIT_LEVEL1,
            .rights = ALARM_RIGHT_ACK, .reason = "twice");
    assert_int_equal(r.status, -ALARM_R_ALREADY_ACKED);
    assert_int_equal(r.from, ALARM_ACKED);
    assert_int_equal(r.to, ALARM_ACKED);
    e = next_event(f);
    assert_int_equal(e.type, MSG_EV_REJECTED);
    assert_int_equal(e.status, -ALARM_R_ALREADY_ACKED);
    assert_int_equal(e.seq, r.seq);
    assert_int_equal(e.req, r.req);
    assert_int_equal(e.point, P0);
    assert_int_equal(e.limit, MSG_LIMIT_LEVEL1);
    assert_int_equal(e.priority, 2);
    assert_string_equal(e.reason, "twice");
    /* A refusal leaves the alarm's last event where it was. */
    assert_int_equal(view(f, l1).seq, r.seq - 1);

    /* A limit the point does not have, a point that does not exist, a bad op. */
    r = CMD(f, .op = MSG_CMD_ACK, .point = P0, .limit = MSG_LIMIT_HH,
            .rights = ALL_RIGHTS);
    assert_int_equal(r.status, -ALARM_R_NO_SUCH_ALARM);
    e = next_event(f);
    assert_int_equal(e.type, MSG_EV_REJECTED);
    assert_int_equal(e.status, -ALARM_R_NO_SUCH_ALARM);
    assert_int_equal(e.seq, r.seq);
    assert_int_equal(e.limit, MSG_LIMIT_HH);
    r = CMD(f, .op = MSG_CMD_ACK, .point = 999, .limit = MSG_LIMIT_LEVEL1,
            .rights = ALL_RIGHTS);
    assert_int_equal(r.status, -ALARM_R_NO_SUCH_ALARM);
    assert_int_equal(next_event(f).seq, r.seq);
    r = CMD(f, .op = MSG_CMD_ACK, .point = A1, .limit = MSG_LIMIT_VOTE,
            .rights = ALL_RIGHTS);
    assert_int_equal(r.status, -ALARM_R_NO_SUCH_ALARM); /* a1 does not vote */
    assert_int_equal(next_event(f).seq, r.seq);
    r = CMD(f, .op = MSG_CMD_COUNT + 3, .point = P0, .limit = MSG_LIMIT_LEVEL1,
            .rights = ALL_RIGHTS);
    assert_int_equal(r.status, -ALARM_R_INVALID);
    assert_int_equal(next_event(f).seq, r.seq);

    /*
     * An unterminated user and reason (every byte set, no NUL): the loop must not read
     * past them (ASan) and journals them cut to fit.
     */
    {
        struct msg_command c;

        memset(&c, 0, sizeof(c));
        c.req = f->next_req++;
        c.op = MSG_CMD_ACK;
        c.point = P0;
        c.limit = MSG_LIMIT_LEVEL1;
        c.rights = ALARM_RIGHT_ACK;
        memset(c.user, 'u', sizeof(c.user));
        memset(c.reason, 'r', sizeof(c.reason));
        assert_true(ring_push(f->cmds, &c));
        r = next_result(f);
        assert_int_equal(r.req, c.req);
        assert_int_equal(r.status, -ALARM_R_ALREADY_ACKED);
        e = next_event(f);
        assert_int_equal(e.seq, r.seq);
        assert_int_equal(e.req, c.req);
        memset(long_user, 'u', sizeof(long_user));
        long_user[MSG_USER_LEN - 1] = '\0';
        assert_string_equal(e.user, long_user);
        assert_int_equal(strnlen(e.reason, sizeof(e.reason)), MSG_REASON_LEN - 1);
    }

    st = stats(f);
    assert_int_equal(st.commands, 10);
    assert_int_equal(st.commands_rejected, 9);
    assert_int_equal(st.alarms_active, 1);
    assert_int_equal(st.alarms_unack, 0);
}

/* ---- 3. level-2 latching ------------------------------------------------------------
 */

static void test_level2_latching(void **state)
{
    struct fx *f = *state;
    size_t l1 = alarm_of(f, P0, MSG_LIMIT_LEVEL1), l2 = alarm_of(f, P0, MSG_LIMIT_LEVEL2);
    struct msg_event e;
    struct msg_cmd_result r;
    struct rtloop_alarm v;

    push_sample(f, P0, 45.0);
    /* Both limits in one sample: level-1 first (limits in config order), then level-2. */
    e = expect_step(f, l1, ALARM_EV_ALM, ALARM_NORMAL, ALARM_UNACK);
    assert_true(e.flags & MSG_F_FIRST_OUT);
    e = expect_step(f, l2, ALARM_EV_ALM, ALARM_NORMAL, ALARM_UNACK);
    assert_int_equal(e.priority, 1);
    assert_int_equal(e.flags, MSG_F_CONDITION | MSG_F_ANNUNCIATE | MSG_F_LATCHING);
    assert_true(e.setpoint == 40.0);
    assert_true(e.deadband == 3.0);
    v = view_at(f, l2, e.seq);
    assert_int_equal(v.kind, ALARM_KIND_COMBUSTIBLE_L2);
    assert_true(v.flags & MSG_F_LATCHING);
    assert_false(v.flags & MSG_F_FIRST_OUT);

    /* A reset while active is refused: not latched. */
    r = CMD(f, .op = MSG_CMD_RESET, .point = P0, .limit = MSG_LIMIT_LEVEL2,
            .rights = ALARM_RIGHT_ACK);
    assert_int_equal(r.status, -ALARM_R_NOT_LATCHED);
    assert_int_equal(next_event(f).seq, r.seq);

    r = CMD(f, .op = MSG_CMD_ACK, .point = P0, .limit = MSG_LIMIT_LEVEL2,
            .rights = ALARM_RIGHT_ACK);
    assert_int_equal(r.status, 0);
    e = expect_step(f, l2, ALARM_EV_ACK, ALARM_UNACK, ALARM_ACKED);
    assert_int_equal(r.seq, e.seq);

    /* Down to 38: inside level-2's deadband (37), nothing; then 5: both return. */
    push_sample(f, P0, 38.0);
    barrier(f);
    push_sample(f, P0, 5.0);
    e = expect_step(f, l1, ALARM_EV_RTN, ALARM_UNACK, ALARM_RTN_UNACK);
    assert_int_equal(e.flags & MSG_F_CONDITION, 0);
    e = expect_step(f, l2, ALARM_EV_RTN, ALARM_ACKED, ALARM_LATCHED_ACK);
    assert_int_equal(e.flags & (MSG_F_CONDITION | MSG_F_LATCHING), MSG_F_LATCHING);
    assert_true(e.value == 5.0);
    assert_int_equal(view_at(f, l2, e.seq).state, ALARM_LATCHED_ACK);
    assert_int_equal(stats(f).alarms_active, 2);
    assert_int_equal(stats(f).alarms_unack, 1);

    /* Level-1 rtn_unack: ack goes to normal. Level-2: reset goes to normal. */
    r = CMD(f, .op = MSG_CMD_ACK, .point = P0, .limit = MSG_LIMIT_LEVEL1,
            .rights = ALARM_RIGHT_ACK);
    assert_int_equal(r.status, 0);
    assert_int_equal(r.to, ALARM_NORMAL);
    expect_step(f, l1, ALARM_EV_ACK, ALARM_RTN_UNACK, ALARM_NORMAL);
    r = CMD(f, .op = MSG_CMD_RESET, .point = P0, .limit = MSG_LIMIT_LEVEL2, .rights = 0);
    assert_int_equal(r.status, -ALARM_R_NOT_AUTHORISED);
    assert_int_equal(next_event(f).seq, r.seq);
    r = CMD(f, .op = MSG_CMD_RESET, .point = P0, .limit = MSG_LIMIT_LEVEL2,
            .rights = ALARM_RIGHT_ACK, .reason = "gas gone");
    assert_int_equal(r.status, 0);
    assert_int_equal(r.from, ALARM_LATCHED_ACK);
    assert_int_equal(r.to, ALARM_NORMAL);
    e = expect_step(f, l2, ALARM_EV_RESET, ALARM_LATCHED_ACK, ALARM_NORMAL);
    assert_int_equal(e.seq, r.seq);
    assert_string_equal(e.reason, "gas gone");
    assert_int_equal(view_at(f, l2, e.seq).state, ALARM_NORMAL);
    assert_int_equal(stats(f).alarms_active, 0);
    assert_int_equal(stats(f).alarms_unack, 0);
    wait_word(f, 0);
}

/*
 * Level-2 clears while level-1 holds, comes back (a latched alarm re-annunciates as a new
 * unack), and a reset is refused while the gas is there.
 */
static void test_level2_relatch(void **state)
{
    struct fx *f = *state;
    size_t l1 = alarm_of(f, P1, MSG_LIMIT_LEVEL1), l2 = alarm_of(f, P1, MSG_LIMIT_LEVEL2);
    struct msg_cmd_result r;

    push_sample(f, P1, 45.0);
    expect_step(f, l1, ALARM_EV_ALM, ALARM_NORMAL, ALARM_UNACK);
    expect_step(f, l2, ALARM_EV_ALM, ALARM_NORMAL, ALARM_UNACK);
    for (int k = 0; k < 2; k++) {
        r = CMD(f, .op = MSG_CMD_ACK, .point = P1,
                .limit = k ? MSG_LIMIT_LEVEL2 : MSG_LIMIT_LEVEL1,
                .rights = ALARM_RIGHT_ACK);
        assert_int_equal(r.status, 0);
        expect_step(f, k ? l2 : l1, ALARM_EV_ACK, ALARM_UNACK, ALARM_ACKED);
    }
    /* 30: level-2 clears (below 37), level-1 still holds. */
    push_sample(f, P1, 30.0);
    expect_step(f, l2, ALARM_EV_RTN, ALARM_ACKED, ALARM_LATCHED_ACK);
    /* Back up to 42: the latched alarm re-annunciates as a new unack. */
    push_sample(f, P1, 42.0);
    expect_step(f, l2, ALARM_EV_ALM, ALARM_LATCHED_ACK, ALARM_UNACK);
    r = CMD(f, .op = MSG_CMD_ACK, .point = P1, .limit = MSG_LIMIT_LEVEL2,
            .rights = ALARM_RIGHT_ACK);
    assert_int_equal(r.status, 0);
    expect_step(f, l2, ALARM_EV_ACK, ALARM_UNACK, ALARM_ACKED);
    push_sample(f, P1, 5.0);
    expect_step(f, l1, ALARM_EV_RTN, ALARM_ACKED, ALARM_NORMAL);
    expect_step(f, l2, ALARM_EV_RTN, ALARM_ACKED, ALARM_LATCHED_ACK);
    /* Gas again on a latched alarm: unack again, and a reset is refused (not latched). */
    push_sample(f, P1, 45.0);
    expect_step(f, l1, ALARM_EV_ALM, ALARM_NORMAL, ALARM_UNACK);
    expect_step(f, l2, ALARM_EV_ALM, ALARM_LATCHED_ACK, ALARM_UNACK);
    r = CMD(f, .op = MSG_CMD_RESET, .point = P1, .limit = MSG_LIMIT_LEVEL2,
            .rights = ALARM_RIGHT_ACK);
    assert_int_equal(r.status, -ALARM_R_NOT_LATCHED);
    assert_int_equal(next_event(f).status, -ALARM_R_NOT_LATCHED);
}

/* ---- 4. first-out -------------------------------------------------------------------
 */

static void test_first_out(void **state)
{
    struct fx *f = *state;
    size_t a = alarm_of(f, P0, MSG_LIMIT_LEVEL1), b = alarm_of(f, P1, MSG_LIMIT_LEVEL1);
    struct msg_event e;

    push_sample(f, P0, 25.0);
    e = expect_step(f, a, ALARM_EV_ALM, ALARM_NORMAL, ALARM_UNACK);
    assert_true(e.flags & MSG_F_FIRST_OUT);
    push_sample(f, P1, 25.0);
    e = expect_step(f, b, ALARM_EV_ALM, ALARM_NORMAL, ALARM_UNACK);
    assert_false(e.flags & MSG_F_FIRST_OUT);
    assert_true(view_at(f, a, 0).flags & MSG_F_FIRST_OUT);
    assert_false(view_at(f, b, e.seq).flags & MSG_F_FIRST_OUT);

    /* All inactive: both return and are acknowledged. */
    push_sample(f, P0, 5.0);
    expect_step(f, a, ALARM_EV_RTN, ALARM_UNACK, ALARM_RTN_UNACK);
    push_sample(f, P1, 5.0);
    expect_step(f, b, ALARM_EV_RTN, ALARM_UNACK, ALARM_RTN_UNACK);
    CMD(f, .op = MSG_CMD_ACK, .point = P0, .limit = MSG_LIMIT_LEVEL1,
        .rights = ALARM_RIGHT_ACK);
    expect_step(f, a, ALARM_EV_ACK, ALARM_RTN_UNACK, ALARM_NORMAL);
    CMD(f, .op = MSG_CMD_ACK, .point = P1, .limit = MSG_LIMIT_LEVEL1,
        .rights = ALARM_RIGHT_ACK);
    e = expect_step(f, b, ALARM_EV_ACK, ALARM_RTN_UNACK, ALARM_NORMAL);
    assert_int_equal(stats(f).alarms_active, 0);
    /* The first-out stays marked after the area went quiet, until a new series. */
    assert_true(view(f, a).flags & MSG_F_FIRST_OUT);
    assert_false(view_at(f, b, e.seq).flags & MSG_F_FIRST_OUT);

    /*
     * A new series, started by p1 this time: it takes the first-out from p0, and p0 is
     * journalled again as it stands, without the flag, so that its saved record does
     * not keep claiming the first-out across a restart.
     */
    push_sample(f, P1, 25.0);
    e = expect_step(f, b, ALARM_EV_ALM, ALARM_NORMAL, ALARM_UNACK);
    assert_true(e.flags & MSG_F_FIRST_OUT);
    assert_true(view_at(f, b, e.seq).flags & MSG_F_FIRST_OUT);
    e = next_event(f);
    assert_int_equal(e.type, MSG_EV_RESYNC);
    assert_int_equal(e.alarm, a);
    assert_int_equal(e.from, ALARM_NORMAL);
    assert_int_equal(e.to, ALARM_NORMAL);
    assert_false(e.flags & MSG_F_FIRST_OUT);
    assert_false(view_at(f, a, e.seq).flags & MSG_F_FIRST_OUT);
    push_sample(f, P0, 25.0);
    e = expect_step(f, a, ALARM_EV_ALM, ALARM_NORMAL, ALARM_UNACK);
    assert_false(e.flags & MSG_F_FIRST_OUT);
    assert_false(view_at(f, a, e.seq).flags & MSG_F_FIRST_OUT);
    assert_true(view(f, b).flags & MSG_F_FIRST_OUT);
}

/*
 * Two buses: p1's sample, taken later, reaches the loop first through ring 0; p0's,
 * taken 5 ms earlier, comes through ring 1 afterwards. Within the series the earlier
 * activation is the first-out.
 */
static void test_first_out_out_of_order(void **state)
{
    struct fx *f = *state;
    size_t a = alarm_of(f, P0, MSG_LIMIT_LEVEL1), b = alarm_of(f, P1, MSG_LIMIT_LEVEL1);
    int64_t t = pgtime_mono_ns();
    struct msg_event e;

    push_sample_at(f, 0, P1, MSG_Q_GOOD, 25.0, 0, t);
    e = expect_step(f, b, ALARM_EV_ALM, ALARM_NORMAL, ALARM_UNACK);
    assert_true(e.flags & MSG_F_FIRST_OUT);
    push_sample_at(f, 1, P0, MSG_Q_GOOD, 25.0, 0, t - 5 * PGTIME_NS_PER_MS);
    e = expect_step(f, a, ALARM_EV_ALM, ALARM_NORMAL, ALARM_UNACK);
    assert_true(e.flags & MSG_F_FIRST_OUT);
    assert_true(view_at(f, a, e.seq).flags & MSG_F_FIRST_OUT);
    assert_false(view(f, b).flags & MSG_F_FIRST_OUT);
}

/* ---- 5. K-out-of-N vote -------------------------------------------------------------
 */

static void test_vote(void **state)
{
    struct fx *f = *state;
    size_t vote = alarm_of(f, A2, MSG_LIMIT_VOTE);
    size_t a = alarm_of(f, P2, MSG_LIMIT_LEVEL1), b = alarm_of(f, P3, MSG_LIMIT_LEVEL1);
    struct msg_event e;
    struct rtloop_alarm v;

    push_sample(f, P2, 25.0);
    expect_step(f, a, ALARM_EV_ALM, ALARM_NORMAL, ALARM_UNACK);
    /* One of three: no vote. The barrier proves no vote event came after it. */
    barrier(f);
    assert_int_equal(view(f, vote).state, ALARM_NORMAL);

    push_sample(f, P3, 25.0);
    expect_step(f, b, ALARM_EV_ALM, ALARM_NORMAL, ALARM_UNACK);
    e = expect_step(f, vote, ALARM_EV_ALM, ALARM_NORMAL, ALARM_UNACK);
    assert_int_equal(e.limit, MSG_LIMIT_VOTE);
    assert_int_equal(e.point, A2);
    assert_int_equal(e.priority, 1);
    assert_true(e.flags & MSG_F_CONDITION);
    assert_true(e.flags & MSG_F_ANNUNCIATE);
    assert_true(e.flags & MSG_F_LATCHING);
    assert_true(e.setpoint == 2.0);
    assert_true(isnan(e.value));
    v = view_at(f, vote, e.seq);
    assert_int_equal(v.state, ALARM_UNACK);
    assert_int_equal(v.point, A2);
    assert_int_equal(v.area, A2);
    /* The first member to activate is the area's first-out, not the vote. */
    assert_false(v.flags & MSG_F_FIRST_OUT);
    assert_true(view(f, a).flags & MSG_F_FIRST_OUT);

    /* A third member changes nothing for the vote. */
    push_sample(f, P4, 25.0);
    expect_step(f, alarm_of(f, P4, MSG_LIMIT_LEVEL1), ALARM_EV_ALM, ALARM_NORMAL,
                ALARM_UNACK);
    barrier(f);
    push_sample(f, P4, 5.0);
    expect_step(f, alarm_of(f, P4, MSG_LIMIT_LEVEL1), ALARM_EV_RTN, ALARM_UNACK,
                ALARM_RTN_UNACK);
    barrier(f);

    /* Both below: the members return, then the vote (latching: latched_unack). */
    push_sample(f, P2, 5.0);
    expect_step(f, a, ALARM_EV_RTN, ALARM_UNACK, ALARM_RTN_UNACK);
    e = expect_step(f, vote, ALARM_EV_RTN, ALARM_UNACK, ALARM_LATCHED_UNACK);
    assert_int_equal(e.flags & MSG_F_CONDITION, 0);
    push_sample(f, P3, 5.0);
    expect_step(f, b, ALARM_EV_RTN, ALARM_UNACK, ALARM_RTN_UNACK);
    barrier(f);

    /* The vote is commanded by area index. */
    CMD(f, .op = MSG_CMD_ACK, .point = A2, .limit = MSG_LIMIT_VOTE,
        .rights = ALARM_RIGHT_ACK);
    expect_step(f, vote, ALARM_EV_ACK, ALARM_LATCHED_UNACK, ALARM_LATCHED_ACK);
    CMD(f, .op = MSG_CMD_RESET, .point = A2, .limit = MSG_LIMIT_VOTE,
        .rights = ALARM_RIGHT_ACK);
    expect_step(f, vote, ALARM_EV_RESET, ALARM_LATCHED_ACK, ALARM_NORMAL);
}

/* ---- 6. shelving --------------------------------------------------------------------
 */

static void test_shelve(void **state)
{
    struct fx *f = *state;
    size_t l1 = alarm_of(f, P0, MSG_LIMIT_LEVEL1);
    struct msg_event e, sh;
    struct msg_cmd_result r;
    struct rtloop_alarm v;
    int64_t before, after;

    push_sample(f, P0, 25.0);
    expect_step(f, l1, ALARM_EV_ALM, ALARM_NORMAL, ALARM_UNACK);
    wait_word(f, BEACON | SIREN);

    /* The shelve checks: rights, length. */
    r = CMD(f, .op = MSG_CMD_SHELVE, .point = P0, .limit = MSG_LIMIT_LEVEL1,
            .rights = ALARM_RIGHT_ACK, .shelve_ms = 1000);
    assert_int_equal(r.status, -ALARM_R_NOT_AUTHORISED);
    next_event(f);
    r = CMD(f, .op = MSG_CMD_SHELVE, .point = P0, .limit = MSG_LIMIT_LEVEL1,
            .rights = ALARM_RIGHT_SHELVE, .shelve_ms = 0);
    assert_int_equal(r.status, -ALARM_R_BAD_DURATION);
    next_event(f);
    r = CMD(f, .op = MSG_CMD_SHELVE, .point = P0, .limit = MSG_LIMIT_LEVEL1,
            .rights = ALARM_RIGHT_SHELVE, .shelve_ms = 3600 * 1000 + 1);
    assert_int_equal(r.status, -ALARM_R_SHELVE_TOO_LONG);
    next_event(f);
    r = CMD(f, .op = MSG_CMD_SHELVE, .point = P0, .limit = MSG_LIMIT_LEVEL1,
            .rights = ALARM_RIGHT_SHELVE, .shelve_ms = INT64_MAX);
    assert_int_equal(r.status, -ALARM_R_SHELVE_TOO_LONG);
    next_event(f);
    /* Level-2 is not shelvable, whatever the rights. */
    r = CMD(f, .op = MSG_CMD_SHELVE, .point = P0, .limit = MSG_LIMIT_LEVEL2,
            .rights = ALL_RIGHTS, .shelve_ms = 1000);
    assert_int_equal(r.status, -ALARM_R_NOT_SHELVABLE);
    e = next_event(f);
    assert_int_equal(e.type, MSG_EV_REJECTED);
    assert_int_equal(e.status, -ALARM_R_NOT_SHELVABLE);
    assert_int_equal(e.event, MSG_CMD_SHELVE);
    /* Nor is the fault. */
    r = CMD(f, .op = MSG_CMD_SHELVE, .point = P0, .limit = MSG_LIMIT_FAULT,
            .rights = ALL_RIGHTS, .shelve_ms = 1000);
    assert_int_equal(r.status, -ALARM_R_NOT_SHELVABLE);
    next_event(f);

    /* A timed shelve of 1 s. */
    before = pgtime_utc_ms();
    r = CMD(f, .op = MSG_CMD_SHELVE, .point = P0, .limit = MSG_LIMIT_LEVEL1,
            .rights = ALARM_RIGHT_SHELVE, .shelve_ms = 1000, .reason = "calibration");
    after = pgtime_utc_ms();
    assert_int_equal(r.status, 0);
    assert_int_equal(r.from, ALARM_UNACK);
    assert_int_equal(r.to, ALARM_SHELVED);
    sh = expect_step(f, l1, ALARM_EV_SHELVE, ALARM_UNACK, ALARM_SHELVED);
    assert_int_equal(sh.seq, r.seq);
    assert_int_equal(sh.shelve, ALARM_SHELVE_TIMED);
    assert_true(sh.shelve_until_utc_ms >= before + 1000 - 5);
    assert_true(sh.shelve_until_utc_ms <= after + 1000 + 5);
    assert_true(sh.flags & MSG_F_CONDITION);
    assert_string_equal(sh.reason, "calibration");
    v = view_at(f, l1, sh.seq);
    assert_int_equal(v.state, ALARM_SHELVED);
    assert_int_equal(v.shelve, ALARM_SHELVE_TIMED);
    assert_int_equal(v.shelve_until_utc_ms, sh.shelve_until_utc_ms);
    assert_int_equal(stats(f).alarms_active, 0);
    assert_int_equal(stats(f).alarms_unack, 0);
    wait_word(f, 0); /* a shelved alarm drives nothing */

    /* The loop's own timer ends it; the gas is still there, so back to unack. */
    e = expect_step(f, l1, ALARM_EV_SHELVE_EXPIRED, ALARM_SHELVED, ALARM_UNACK);
    assert_true(e.mono_ns - sh.mono_ns >= 1000 * PGTIME_NS_PER_MS);
    assert_true(e.flags & MSG_F_ANNUNCIATE);
    assert_true(e.flags & MSG_F_CONDITION);
    assert_int_equal(e.shelve, ALARM_SHELVE_NONE);
    assert_int_equal(e.shelve_until_utc_ms, 0);
    assert_int_equal(e.req, 0);
    v = view_at(f, l1, e.seq);
    assert_int_equal(v.state, ALARM_UNACK);
    assert_int_equal(v.shelve_until_utc_ms, 0);
    wait_word(f, BEACON | SIREN);

    /* Shelve again, unshelve by hand (with the shelve right), after the gas went. */
    r = CMD(f, .op = MSG_CMD_SHELVE, .point = P0, .limit = MSG_LIMIT_LEVEL1,
            .rights = ALARM_RIGHT_SHELVE, .shelve_ms = 3600 * 1000);
    assert_int_equal(r.status, 0);
    expect_step(f, l1, ALARM_EV_SHELVE, ALARM_UNACK, ALARM_SHELVED);
    /* Shelved: ack and a second shelve are refused. */
    r = CMD(f, .op = MSG_CMD_ACK, .point = P0, .limit = MSG_LIMIT_LEVEL1,
            .rights = ALL_RIGHTS);
    assert_int_equal(r.status, -ALARM_R_INHIBITED);
    assert_int_equal(r.from, ALARM_SHELVED);
    assert_int_equal(next_event(f).status, -ALARM_R_INHIBITED);
    r = CMD(f, .op = MSG_CMD_SHELVE, .point = P0, .limit = MSG_LIMIT_LEVEL1,
            .rights = ALL_RIGHTS, .shelve_ms = 1000);
    assert_int_equal(r.status, -ALARM_R_ALREADY_IN_STATE);
    assert_int_equal(next_event(f).status, -ALARM_R_ALREADY_IN_STATE);
    push_sample(f, P0, 5.0);
    /* The condition changes in place while shelved: journalled, state unchanged. */
    e = expect_step(f, l1, ALARM_EV_RTN, ALARM_SHELVED, ALARM_SHELVED);
    assert_int_equal(e.flags & MSG_F_CONDITION, 0);
    r = CMD(f, .op = MSG_CMD_UNSHELVE, .point = P0, .limit = MSG_LIMIT_LEVEL1,
            .rights = ALARM_RIGHT_ACK);
    assert_int_equal(r.status, -ALARM_R_NOT_AUTHORISED);
    next_event(f);
    r = CMD(f, .op = MSG_CMD_UNSHELVE, .point = P0, .limit = MSG_LIMIT_LEVEL1,
            .rights = ALARM_RIGHT_SHELVE);
    assert_int_equal(r.status, 0);
    expect_step(f, l1, ALARM_EV_UNSHELVE, ALARM_SHELVED, ALARM_NORMAL);

    /* One-shot: refused on a clear condition; on a true one it ends when the gas goes. */
    r = CMD(f, .op = MSG_CMD_SHELVE, .point = P0, .limit = MSG_LIMIT_LEVEL1,
            .rights = ALARM_RIGHT_SHELVE, .one_shot = true);
    assert_int_equal(r.status, -ALARM_R_NOT_ACTIVE);
    next_event(f);
    push_sample(f, P0, 25.0);
    expect_step(f, l1, ALARM_EV_ALM, ALARM_NORMAL, ALARM_UNACK);
    r = CMD(f, .op = MSG_CMD_SHELVE, .point = P0, .limit = MSG_LIMIT_LEVEL1,
            .rights = ALARM_RIGHT_SHELVE, .one_shot = true);
    assert_int_equal(r.status, 0);
    e = expect_step(f, l1, ALARM_EV_SHELVE, ALARM_UNACK, ALARM_SHELVED);
    assert_int_equal(e.shelve, ALARM_SHELVE_ONE_SHOT);
    push_sample(f, P0, 5.0);
    expect_step(f, l1, ALARM_EV_RTN, ALARM_SHELVED, ALARM_NORMAL);
    wait_word(f, 0);
}

/* ---- 7. silence and the relay word ---------------------------------------------------
 */

static void test_silence_relays(void **state)
{
    struct fx *f = *state;
    size_t l1 = alarm_of(f, P0, MSG_LIMIT_LEVEL1), l2 = alarm_of(f, P0, MSG_LIMIT_LEVEL2);
    struct msg_cmd_result r;
    struct msg_event e;

    wait_word(f, 0);
    /* Nothing sounding: the silence is accepted and changes nothing (status 1). */
    r = CMD(f, .op = MSG_CMD_SILENCE, .point = MSG_POINT_ALL, .rights = ALARM_RIGHT_ACK);
    assert_int_equal(r.status, ALARM_STEP_NO_CHANGE);
    e = next_event(f);
    assert_int_equal(e.type, MSG_EV_SILENCE);
    assert_int_equal(e.status, ALARM_STEP_NO_CHANGE);

    push_sample(f, P0, 25.0);
    expect_step(f, l1, ALARM_EV_ALM, ALARM_NORMAL, ALARM_UNACK);
    wait_word(f, BEACON | SIREN);
    assert_int_equal(stats(f).outputs, BEACON | SIREN);

    /* Refused silences: no rights, an area that does not exist. */
    r = CMD(f, .op = MSG_CMD_SILENCE, .point = MSG_POINT_ALL, .rights = 0);
    assert_int_equal(r.status, -ALARM_R_NOT_AUTHORISED);
    e = next_event(f);
    assert_int_equal(e.type, MSG_EV_REJECTED);
    assert_int_equal(e.event, MSG_CMD_SILENCE);
    assert_int_equal(e.seq, r.seq);
    r = CMD(f, .op = MSG_CMD_SILENCE, .point = 7, .rights = ALARM_RIGHT_ACK);
    assert_int_equal(r.status, -ALARM_R_INVALID);
    assert_int_equal(next_event(f).seq, r.seq);
    /*
     * A refused silence (journalled as REJECTED) must not silence anything: the siren
     * still sounds, and the authorised silence after it answers 0 (it silenced one), not
     * 1 (nothing to silence). run_command() once silenced before checking.
     */
    wait_cycles(f, 2);
    assert_int_equal(rtloop_outputs(f->rt), BEACON | SIREN);

    r = CMD(f, .op = MSG_CMD_SILENCE, .point = MSG_POINT_ALL, .rights = ALARM_RIGHT_ACK,
            .reason = "heard");
    assert_int_equal(r.status, 0);
    e = next_event(f);
    assert_int_equal(e.type, MSG_EV_SILENCE);
    assert_int_equal(e.event, MSG_CMD_SILENCE);
    assert_int_equal(e.point, MSG_POINT_ALL);
    assert_int_equal(e.seq, r.seq);
    assert_int_equal(e.req, r.req);
    assert_int_equal(e.status, 0);
    assert_string_equal(e.user, "zhang.wei");
    assert_string_equal(e.reason, "heard");
    wait_word(f, BEACON);
    /* The alarm itself is untouched. */
    assert_int_equal(view(f, l1).state, ALARM_UNACK);

    /* A new alarm sounds the siren again. */
    push_sample(f, P0, 45.0);
    e = expect_step(f, l2, ALARM_EV_ALM, ALARM_NORMAL, ALARM_UNACK);
    assert_true(e.flags & MSG_F_ANNUNCIATE);
    wait_word(f, BEACON | SIREN);

    /*
     * Silence one area (a1, index 0): the siren serves a2 as well, where an officer of
     * a1 has seen nothing, so only a silence of every area stops it. Acknowledging both
     * alarms does.
     */
    r = CMD(f, .op = MSG_CMD_SILENCE, .point = A1, .rights = ALARM_RIGHT_ACK);
    assert_int_equal(r.status, ALARM_STEP_NO_CHANGE);
    assert_int_equal(next_event(f).type, MSG_EV_SILENCE);
    wait_word(f, BEACON | SIREN);
    CMD(f, .op = MSG_CMD_ACK, .point = P0, .limit = MSG_LIMIT_LEVEL1,
        .rights = ALARM_RIGHT_ACK);
    expect_step(f, l1, ALARM_EV_ACK, ALARM_UNACK, ALARM_ACKED);
    wait_word(f, BEACON | SIREN);
    CMD(f, .op = MSG_CMD_ACK, .point = P0, .limit = MSG_LIMIT_LEVEL2,
        .rights = ALARM_RIGHT_ACK);
    expect_step(f, l2, ALARM_EV_ACK, ALARM_UNACK, ALARM_ACKED);
    wait_word(f, BEACON);
    /* Acknowledged and gone: level-1 to normal, level-2 latched: beacon still on. */
    push_sample(f, P0, 5.0);
    expect_step(f, l1, ALARM_EV_RTN, ALARM_ACKED, ALARM_NORMAL);
    expect_step(f, l2, ALARM_EV_RTN, ALARM_ACKED, ALARM_LATCHED_ACK);
    wait_word(f, BEACON);
    CMD(f, .op = MSG_CMD_RESET, .point = P0, .limit = MSG_LIMIT_LEVEL2,
        .rights = ALARM_RIGHT_ACK);
    expect_step(f, l2, ALARM_EV_RESET, ALARM_LATCHED_ACK, ALARM_NORMAL);
    wait_word(f, 0);

    /* After the last unack went, the silence ended with it: a new alarm sounds. */
    push_sample(f, P1, 25.0);
    expect_step(f, alarm_of(f, P1, MSG_LIMIT_LEVEL1), ALARM_EV_ALM, ALARM_NORMAL,
                ALARM_UNACK);
    wait_word(f, BEACON | SIREN);
}

/*
 * Regression (add_alarm() once ignored the flag): a sample flagged MSG_F_TEST (the device
 * is in test mode, a proof test) must drive only relays configured with "test": true
 * (docs/outputs.md "What drives a relay"; outputs.h outputs_mask()). add_alarm() computes
 * every alarm's mask with test = false, so a drill sounded the plant's siren and lit
 * its beacon. Neither relay of this site has "test": true, so the word must stay 0.
 */
static void test_test_flagged_alarm_drives_no_relay(void **state)
{
    struct fx *f = *state;
    size_t l1 = alarm_of(f, P0, MSG_LIMIT_LEVEL1);
    struct msg_event e;

    push_sample_at(f, 0, P0, MSG_Q_GOOD, 25.0, MSG_F_TEST, pgtime_mono_ns());
    e = expect_step(f, l1, ALARM_EV_ALM, ALARM_NORMAL, ALARM_UNACK);
    assert_true(e.flags & MSG_F_TEST);
    assert_true(view_at(f, l1, e.seq).flags & MSG_F_TEST);
    barrier(f);
    wait_cycles(f, 2); /* drive_outputs() has run since */
    assert_int_equal(rtloop_outputs(f->rt), 0);

    /*
     * The device leaves test mode and the gas is still there: no new step, but the alarm
     * is real now, and it must sound on the plant's relays at once.
     */
    push_sample(f, P0, 25.0);
    wait_word(f, BEACON | SIREN);
    assert_int_equal(view(f, l1).state, ALARM_UNACK);
}

/*
 * A vote carried by detectors in test mode alone is a drill; a real detector joining it
 * makes it real, and the plant's relays sound.
 */
static void test_vote_drill(void **state)
{
    struct fx *f = *state;
    size_t vote = alarm_of(f, A2, MSG_LIMIT_VOTE);
    struct rtloop_alarm v;
    int64_t end = deadline();

    push_sample_at(f, 0, P2, MSG_Q_GOOD, 25.0, MSG_F_TEST, pgtime_mono_ns());
    push_sample_at(f, 0, P3, MSG_Q_GOOD, 25.0, MSG_F_TEST, pgtime_mono_ns());
    while ((v = view(f, vote)).state != ALARM_UNACK) {
        pump(f);
        if (pgtime_mono_ns() > end)
            fail_msg("the drill vote never went unack (%s)", alarm_state_name(v.state));
        nap();
    }
    wait_cycles(f, 2); /* drive_outputs() has run since */
    assert_int_equal(rtloop_outputs(f->rt), 0);
    pump(f);
    for (size_t k = 0; k < f->n_ev; k++) {
        if (f->ev[k].limit == MSG_LIMIT_VOTE)
            assert_true(f->ev[k].flags & MSG_F_TEST);
    }
    f->next_ev = f->n_ev;
    /* A real detector of the area goes into alarm: the vote is real. */
    push_sample(f, P4, 25.0);
    wait_word(f, BEACON | SIREN);
}

/* ---- timers: on-delay and re-alarm ---------------------------------------------------
 */

static int setup_timers(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    fx_init(f, timer_cfg, 1);
    fx_start(f);
    *state = f;
    return 0;
}

static void test_timers(void **state)
{
    struct fx *fp = *state;
#define f (*fp)
    size_t l1;
    struct msg_event e;
    struct msg_cmd_result r;
    int64_t t0;

    l1 = alarm_of(&f, 0, MSG_LIMIT_LEVEL1);
    t0 = pgtime_mono_ns();
    push_sample_at(&f, 0, 0, MSG_Q_GOOD, 25.0, 0, t0);
    /* No new sample: the on-delay completes on the loop's timer scan. */
    e = expect_step(&f, l1, ALARM_EV_ALM, ALARM_NORMAL, ALARM_UNACK);
    assert_true(e.mono_ns >= t0 + 150 * PGTIME_NS_PER_MS);
    r = CMD(&f, .op = MSG_CMD_ACK, .point = 0, .limit = MSG_LIMIT_LEVEL1,
            .rights = ALARM_RIGHT_ACK);
    assert_int_equal(r.status, 0);
    expect_step(&f, l1, ALARM_EV_ACK, ALARM_UNACK, ALARM_ACKED);
    /* Still there 300 ms after activation: the re-alarm annunciates it again. */
    e = expect_step(&f, l1, ALARM_EV_REALARM, ALARM_ACKED, ALARM_UNACK);
    assert_true(e.flags & MSG_F_ANNUNCIATE);
    assert_true(e.flags & MSG_F_CONDITION);
    assert_true(e.mono_ns >= t0 + 450 * PGTIME_NS_PER_MS);
    push_sample(&f, 0, 5.0);
    expect_step(&f, l1, ALARM_EV_RTN, ALARM_UNACK, ALARM_RTN_UNACK);
    barrier(&f);
#undef f
}

/* ---- 8. restore ----------------------------------------------------------------------
 */

static struct rtloop_alarm saved_of(struct fx *f, uint32_t point, uint8_t limit,
                                    uint8_t state_, uint8_t flags, int64_t now_utc)
{
    struct rtloop_alarm s = view(f, alarm_of(f, point, limit));

    s.state = state_;
    s.shelve = ALARM_SHELVE_NONE;
    s.flags = flags;
    s.seq = 77;
    s.since_utc_ms = now_utc - 60000;
    s.active_utc_ms = now_utc - 120000;
    s.shelve_until_utc_ms = 0;
    return s;
}

static void test_restore_acked_latching(void **state)
{
    struct fx *f = *state;
    int64_t now = pgtime_utc_ms();
    size_t l1 = alarm_of(f, P0, MSG_LIMIT_LEVEL1), l2 = alarm_of(f, P0, MSG_LIMIT_LEVEL2);
    struct rtloop_alarm s1 = saved_of(f, P0, MSG_LIMIT_LEVEL1, ALARM_ACKED,
                                      MSG_F_CONDITION | MSG_F_FIRST_OUT, now);
    struct rtloop_alarm s2 =
        saved_of(f, P0, MSG_LIMIT_LEVEL2, ALARM_ACKED, MSG_F_CONDITION, now);
    struct rtloop_alarm v;
    struct msg_event e;

    /*
     * As the store saves them: level-1 came first and was the area's first-out, level-2
     * followed a minute later. Restored in the opposite order, level-1 is still the
     * first-out (by its record and by its earlier activation alike).
     */
    s2.active_utc_ms = now - 60000;
    assert_int_equal(rtloop_restore(f->rt, &s2, now), 0);
    assert_int_equal(rtloop_restore(f->rt, &s1, now), 0);
    v = view(f, l2);
    assert_int_equal(v.state, ALARM_ACKED);
    assert_int_equal(v.seq, 77);
    assert_int_equal(v.since_utc_ms, now - 60000);
    assert_int_equal(v.active_utc_ms, now - 60000);
    assert_true(v.flags & MSG_F_CONDITION);
    assert_false(v.flags & MSG_F_FIRST_OUT);
    v = view(f, l1);
    assert_int_equal(v.active_utc_ms, now - 120000);
    assert_true(v.flags & MSG_F_FIRST_OUT);
    assert_int_equal(stats(f).alarms_active, 2);
    assert_int_equal(stats(f).alarms_unack, 0);

    fx_start(f);
    /* Acknowledged, still active: beacon, no siren, within the first cycles. */
    wait_word(f, BEACON);
    /* The first sample still above both limits: nothing to say. */
    push_sample(f, P0, 45.0);
    barrier(f);
    /* Gone: level-1 back to normal, level-2 holds latched. */
    push_sample(f, P0, 5.0);
    e = expect_step(f, l1, ALARM_EV_RTN, ALARM_ACKED, ALARM_NORMAL);
    assert_int_equal(e.seq, f->first_seq + 1); /* after the barrier's */
    e = expect_step(f, l2, ALARM_EV_RTN, ALARM_ACKED, ALARM_LATCHED_ACK);
    v = view_at(f, l2, e.seq);
    assert_int_equal(v.state, ALARM_LATCHED_ACK);
    /* It entered latched_ack now; it has been active since the saved time. */
    assert_int_equal(v.active_utc_ms, now - 60000);
    assert_true(v.since_utc_ms >= now);
    CMD(f, .op = MSG_CMD_RESET, .point = P0, .limit = MSG_LIMIT_LEVEL2,
        .rights = ALARM_RIGHT_ACK);
    expect_step(f, l2, ALARM_EV_RESET, ALARM_LATCHED_ACK, ALARM_NORMAL);
    wait_word(f, 0);
    assert_int_equal(stats(f).alarms_active, 0);
}

/* An unacknowledged restore sounds the siren again (silence is not persisted). */
static void test_restore_unack_sounds(void **state)
{
    struct fx *f = *state;
    int64_t now = pgtime_utc_ms();
    struct rtloop_alarm s =
        saved_of(f, P1, MSG_LIMIT_LEVEL2, ALARM_LATCHED_UNACK, 0, now);

    assert_int_equal(rtloop_restore(f->rt, &s, now), 0);
    assert_int_equal(stats(f).alarms_unack, 1);
    fx_start(f);
    wait_word(f, BEACON | SIREN);
    /* Its condition was saved false: a clear sample says nothing new. */
    push_sample(f, P1, 5.0);
    barrier(f);
    CMD(f, .op = MSG_CMD_ACK, .point = P1, .limit = MSG_LIMIT_LEVEL2,
        .rights = ALARM_RIGHT_ACK);
    expect_step(f, alarm_of(f, P1, MSG_LIMIT_LEVEL2), ALARM_EV_ACK, ALARM_LATCHED_UNACK,
                ALARM_LATCHED_ACK);
    wait_word(f, BEACON);
}

static void test_restore_shelve_expired(void **state)
{
    struct fx *f = *state;
    int64_t now = pgtime_utc_ms();
    size_t l1 = alarm_of(f, P1, MSG_LIMIT_LEVEL1);
    struct rtloop_alarm s =
        saved_of(f, P1, MSG_LIMIT_LEVEL1, ALARM_SHELVED, MSG_F_CONDITION, now);
    struct rtloop_alarm v;
    struct msg_event e;

    s.shelve = ALARM_SHELVE_TIMED;
    s.shelve_until_utc_ms = now - 1000;
    assert_int_equal(rtloop_restore(f->rt, &s, now), 0);
    v = view(f, l1);
    assert_int_equal(v.state, ALARM_SHELVED);
    assert_int_equal(v.shelve, ALARM_SHELVE_TIMED);
    assert_int_equal(stats(f).alarms_active, 0);
    fx_start(f);
    e = expect_step(f, l1, ALARM_EV_SHELVE_EXPIRED, ALARM_SHELVED, ALARM_UNACK);
    assert_true(e.flags & MSG_F_CONDITION);
    assert_true(e.flags & MSG_F_ANNUNCIATE);
    assert_int_equal(e.seq, f->first_seq);
    wait_word(f, BEACON | SIREN);
    /* The saved condition holds until a sample clears it. */
    push_sample(f, P1, 5.0);
    expect_step(f, l1, ALARM_EV_RTN, ALARM_UNACK, ALARM_RTN_UNACK);
}

/*
 * The store can hold the first-out flag of an old series next to the current one's: a
 * holder's flag is cleared in memory, without an event, when a new series starts. The
 * restored first-out is the newest flagged activation, whatever the order of restoring,
 * and an unflagged alarm restored with an earlier activation does not take it.
 */
static void test_restore_first_out(void **state)
{
    struct fx *f = *state;
    int64_t now = pgtime_utc_ms();
    size_t p0 = alarm_of(f, P0, MSG_LIMIT_LEVEL1), p1 = alarm_of(f, P1, MSG_LIMIT_LEVEL1);
    size_t p0l2 = alarm_of(f, P0, MSG_LIMIT_LEVEL2);
    /* Series 1: p1, now shelved. Series 2: p0, unack; its level-2 came earlier in time
     * by its record but carries no flag. */
    struct rtloop_alarm old = saved_of(f, P1, MSG_LIMIT_LEVEL1, ALARM_SHELVED,
                                       MSG_F_FIRST_OUT | MSG_F_CONDITION, now);
    struct rtloop_alarm cur = saved_of(f, P0, MSG_LIMIT_LEVEL1, ALARM_UNACK,
                                       MSG_F_FIRST_OUT | MSG_F_CONDITION, now);
    struct rtloop_alarm other =
        saved_of(f, P0, MSG_LIMIT_LEVEL2, ALARM_UNACK, MSG_F_CONDITION, now);

    old.shelve = ALARM_SHELVE_TIMED;
    old.shelve_until_utc_ms = now + 600000;
    old.active_utc_ms = now - 3600000;
    cur.active_utc_ms = now - 60000;
    other.active_utc_ms = now - 90000;
    assert_int_equal(rtloop_restore(f->rt, &cur, now), 0);
    assert_int_equal(rtloop_restore(f->rt, &other, now), 0);
    assert_int_equal(rtloop_restore(f->rt, &old, now), 0);
    assert_true(view(f, p0).flags & MSG_F_FIRST_OUT);
    assert_false(view(f, p1).flags & MSG_F_FIRST_OUT);
    assert_false(view(f, p0l2).flags & MSG_F_FIRST_OUT);
}

/* A shelve with time left resumes with what is left of it, not the whole length again. */
static void test_restore_shelve_resumes(void **state)
{
    struct fx *f = *state;
    int64_t now = pgtime_utc_ms();
    size_t l1 = alarm_of(f, P1, MSG_LIMIT_LEVEL1);
    struct rtloop_alarm s = saved_of(f, P1, MSG_LIMIT_LEVEL1, ALARM_SHELVED, 0, now);
    int64_t t0 = pgtime_mono_ns();
    struct msg_event e;

    s.shelve = ALARM_SHELVE_TIMED;
    s.shelve_until_utc_ms = now + 300;
    assert_int_equal(rtloop_restore(f->rt, &s, now), 0);
    assert_int_equal(view(f, l1).shelve_until_utc_ms, now + 300);
    fx_start(f);
    e = expect_step(f, l1, ALARM_EV_SHELVE_EXPIRED, ALARM_SHELVED, ALARM_NORMAL);
    assert_true(e.mono_ns >= t0 + 300 * PGTIME_NS_PER_MS - 2 * PGTIME_NS_PER_MS);
    assert_int_equal(e.flags & MSG_F_CONDITION, 0);
    wait_word(f, 0);
}

static void test_restore_corrupt(void **state)
{
    struct fx *f = *state;
    int64_t now = pgtime_utc_ms();
    static const struct {
        uint32_t point;
        uint8_t limit;
        uint8_t state;
        uint8_t shelve;
        uint8_t flags;
        const char *what;
    } rows[] = {
        {P0, MSG_LIMIT_LEVEL1, 99, 0, 0, "state out of range"},
        {P0, MSG_LIMIT_LEVEL2, ALARM_NORMAL, 0, MSG_F_CONDITION,
         "normal, condition true"},
        {P1, MSG_LIMIT_LEVEL1, ALARM_RTN_UNACK, 0, MSG_F_CONDITION,
         "rtn_unack, condition"},
        {P1, MSG_LIMIT_LEVEL2, ALARM_SHELVED, ALARM_SHELVE_NONE, 0, "shelved, no kind"},
        {P2, MSG_LIMIT_FAULT, ALARM_SHELVED, 7, MSG_F_CONDITION, "shelved, bad kind"},
        {A2, MSG_LIMIT_VOTE, ALARM_STATE_COUNT, 0, 0, "vote, state out of range"},
    };
    size_t i;

    for (i = 0; i < N_ELEMS(rows); i++) {
        struct rtloop_alarm s =
            saved_of(f, rows[i].point, rows[i].limit, rows[i].state, rows[i].flags, now);
        struct rtloop_alarm v;
        int rc;

        s.shelve = rows[i].shelve;
        s.shelve_until_utc_ms = now + 60000;
        rc = rtloop_restore(f->rt, &s, now);
        if (rc != 1)
            fail_msg("%s: restore returned %d, wanted 1", rows[i].what, rc);
        v = view(f, alarm_of(f, rows[i].point, rows[i].limit));
        if (v.state != ALARM_UNACK || !(v.flags & MSG_F_CONDITION) ||
            v.shelve != ALARM_SHELVE_NONE || v.shelve_until_utc_ms != 0)
            fail_msg("%s: restored as %s shelve %u flags 0x%x, wanted unack with the "
                     "condition",
                     rows[i].what, alarm_state_name(v.state), v.shelve, v.flags);
    }
    assert_int_equal(stats(f).alarms_active, N_ELEMS(rows));
    assert_int_equal(stats(f).alarms_unack, N_ELEMS(rows));
    /* Unknown point or limit. */
    {
        struct rtloop_alarm s = saved_of(f, P0, MSG_LIMIT_LEVEL1, ALARM_ACKED, 0, now);

        s.point = 99;
        assert_int_equal(rtloop_restore(f->rt, &s, now), -ENOENT);
        s.point = P0;
        s.limit = MSG_LIMIT_HH;
        assert_int_equal(rtloop_restore(f->rt, &s, now), -ENOENT);
        s.limit = MSG_LIMIT_COUNT + 5;
        assert_int_equal(rtloop_restore(f->rt, &s, now), -ENOENT);
        s.point = A1; /* a1 does not vote */
        s.limit = MSG_LIMIT_VOTE;
        assert_int_equal(rtloop_restore(f->rt, &s, now), -ENOENT);
        s.point = 5;
        assert_int_equal(rtloop_restore(f->rt, &s, now), -ENOENT);
        s.point = MSG_POINT_ALL;
        assert_int_equal(rtloop_restore(f->rt, &s, now), -ENOENT);
    }
    assert_int_equal(stats(f).alarms_active, N_ELEMS(rows));

    /*
     * Running: the recovered alarms sound, and can be worked normally. The vote was
     * restored with its condition but no member is in alarm: the first count returns it.
     */
    fx_start(f);
    /*
     * First, each record made safe is journalled again as it stands, flagged recovered,
     * with the damaged saved state as its from (no name for one out of range).
     */
    for (i = 0; i < N_ELEMS(rows); i++) {
        struct msg_event e = next_event(f);

        assert_int_equal(e.type, MSG_EV_RESYNC);
        assert_true(e.flags & MSG_F_RECOVERED);
        assert_true(e.flags & MSG_F_CONDITION);
        assert_int_equal(e.to, ALARM_UNACK);
        assert_int_equal(e.alarm, alarm_of(f, rows[i].point, rows[i].limit));
        assert_int_equal(e.from, rows[i].state);
        assert_int_equal(e.seq, f->first_seq + i);
    }
    expect_step(f, alarm_of(f, A2, MSG_LIMIT_VOTE), ALARM_EV_RTN, ALARM_UNACK,
                ALARM_LATCHED_UNACK);
    wait_word(f, BEACON | SIREN);
    push_sample(f, P0, 5.0);
    expect_step(f, alarm_of(f, P0, MSG_LIMIT_LEVEL1), ALARM_EV_RTN, ALARM_UNACK,
                ALARM_RTN_UNACK);
    expect_step(f, alarm_of(f, P0, MSG_LIMIT_LEVEL2), ALARM_EV_RTN, ALARM_UNACK,
                ALARM_LATCHED_UNACK);
}

/*
 * Regression (rtloop_restore()): a restored timed shelve "resumes with what was left of
 * it", and what is left is taken from the wall clock, so it needs a bound. A gateway that
 * boots with its clock behind (no RTC battery, NTP not yet synchronised) or a damaged
 * record then hides the alarm for as long as the difference says: here 10 days for a
 * level-1 alarm whose longest shelve is one hour (docs/alarms.md: the maximum exists
 * "so that a condition that never clears cannot keep the alarm hidden for good"). The
 * remaining time must be capped at the alarm's max_shelve_ns, and an alarm that is not
 * shelvable (any more) must not resume a shelve at all.
 */
static void test_restore_shelve_bounded(void **state)
{
    struct fx *f = *state;
    int64_t now = pgtime_utc_ms();
    size_t l1 = alarm_of(f, P1, MSG_LIMIT_LEVEL1);
    struct rtloop_alarm s =
        saved_of(f, P1, MSG_LIMIT_LEVEL1, ALARM_SHELVED, MSG_F_CONDITION, now);
    struct rtloop_alarm v;

    s.shelve = ALARM_SHELVE_TIMED;
    s.shelve_until_utc_ms = now + 10LL * 86400 * 1000;
    assert_int_equal(rtloop_restore(f->rt, &s, now), 0);
    v = view(f, l1);
    assert_int_equal(v.state, ALARM_SHELVED);
    if (v.shelve_until_utc_ms > now + 3600 * 1000)
        fail_msg("restored shelve ends %lld s from now, beyond the alarm's "
                 "maximum of 3600 s",
                 (long long)((v.shelve_until_utc_ms - now) / 1000));
}

/*
 * Regression (rtloop_restore()): times from a damaged store record once overflowed
 * int64_t (signed overflow, undefined behaviour; UBSan aborts the process). A restore
 * must survive any record, so it runs in a child process here and the child must exit
 * cleanly.
 */
static void restore_extreme(const struct rtloop_alarm *tmpl, int64_t now, int which)
{
    struct fx f;
    struct rtloop_alarm s = *tmpl;

    fx_init(&f, main_cfg, 1);
    switch (which) {
    case 0:
        s.state = ALARM_SHELVED;
        s.shelve = ALARM_SHELVE_TIMED;
        s.shelve_until_utc_ms = INT64_MAX;
        break;
    case 1:
        s.since_utc_ms = INT64_MIN;
        break;
    default:
        s.active_utc_ms = -INT64_MAX / 2;
        break;
    }
    (void)rtloop_restore(f.rt, &s, now);
    fx_fini(&f);
}

static void test_restore_extreme_times(void **state)
{
    struct fx *f = *state;
    int64_t now = pgtime_utc_ms();
    struct rtloop_alarm tmpl =
        saved_of(f, P1, MSG_LIMIT_LEVEL1, ALARM_ACKED, MSG_F_CONDITION, now);
    static const char *const what[] = {"shelve_until_utc_ms = INT64_MAX",
                                       "since_utc_ms = INT64_MIN",
                                       "active_utc_ms = -INT64_MAX / 2"};
    int failed = 0;

    for (int which = 0; which < 3; which++) {
        int status = 0;
        pid_t pid;

        fflush(NULL);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            restore_extreme(&tmpl, now, which);
            _exit(0);
        }
        assert_int_equal(waitpid(pid, &status, 0), pid);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            print_error("restore with %s: the child %s %d\n", what[which],
                        WIFEXITED(status) ? "exited with" : "died of signal",
                        WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
            failed++;
        }
    }
    if (failed)
        fail_msg("%d of 3 extreme restores did not survive", failed);
}

/*
 * A command taken after its source's deadline (its officer was told "timeout") is never
 * carried out: it is refused as expired, journalled, and the alarm is left as it was.
 * One within its deadline is carried out as usual.
 */
static void test_expired_command(void **state)
{
    struct fx *f = *state;
    size_t l1 = alarm_of(f, P0, MSG_LIMIT_LEVEL1);
    struct msg_cmd_result r;
    struct msg_event e;

    push_sample(f, P0, 25.0);
    (void)expect_step(f, l1, ALARM_EV_ALM, ALARM_NORMAL, ALARM_UNACK);
    r = CMD(f, .op = MSG_CMD_ACK, .point = P0, .limit = MSG_LIMIT_LEVEL1,
            .rights = ALARM_RIGHT_ACK, .deadline_ns = pgtime_mono_ns() - 1);
    assert_int_equal(r.status, -ALARM_R_EXPIRED);
    assert_int_equal(r.from, ALARM_UNACK);
    assert_int_equal(r.to, ALARM_UNACK);
    e = next_event(f);
    assert_int_equal(e.type, MSG_EV_REJECTED);
    assert_int_equal(e.status, -ALARM_R_EXPIRED);
    assert_int_equal(e.seq, r.seq);
    assert_string_equal(e.user, "zhang.wei");
    assert_int_equal(view(f, l1).state, ALARM_UNACK);
    r = CMD(f, .op = MSG_CMD_SILENCE, .point = MSG_POINT_ALL, .rights = ALARM_RIGHT_ACK,
            .deadline_ns = pgtime_mono_ns() - 1);
    assert_int_equal(r.status, -ALARM_R_EXPIRED);
    (void)next_event(f);
    assert_int_equal(rtloop_outputs(f->rt), BEACON | SIREN);
    r = CMD(f, .op = MSG_CMD_ACK, .point = P0, .limit = MSG_LIMIT_LEVEL1,
            .rights = ALARM_RIGHT_ACK,
            .deadline_ns = pgtime_mono_ns() + 60 * PGTIME_NS_PER_S);
    assert_int_equal(r.status, 0);
    assert_int_equal(r.to, ALARM_ACKED);
}

/* ---- a recorder that cannot write -------------------------------------------------- */

/*
 * The event ring is full and nobody drains it (a full or read-only disk). The alarms and
 * the relays must not wait on the journal for more than the loop's short hold: a release
 * still raises both gas levels and sounds the siren. The steps that found no room take
 * no sequence number and are counted as journal gaps; once the ring drains, each alarm
 * concerned is journalled once, as it stands (MSG_EV_RESYNC), with no hole in the
 * sequence.
 */
static void test_stuck_recorder(void **state)
{
    struct fx *f = *state;
    size_t l1 = alarm_of(f, P0, MSG_LIMIT_LEVEL1), l2 = alarm_of(f, P0, MSG_LIMIT_LEVEL2);
    struct msg_event filler = {.type = MSG_EV_MAINT}, e;
    size_t fillers = 0, resyncs = 0;
    struct rtloop_stats st;
    int64_t end;

    /* Fill the ring before the loop exists as its producer. */
    while (ring_push(f->events, &filler))
        fillers++;
    fx_start(f);
    push_sample(f, P0, 45.0);
    push_sample_at(f, 0, P1, MSG_Q_MAINTENANCE, 0.0, 0, pgtime_mono_ns());
    end = deadline();
    while (view(f, l1).state != ALARM_UNACK || view(f, l2).state != ALARM_UNACK ||
           rtloop_outputs(f->rt) != (BEACON | SIREN)) {
        if (pgtime_mono_ns() > end)
            fail_msg("with the journal stuck: level1 %s, level2 %s, relays 0x%x",
                     alarm_state_name(view(f, l1).state),
                     alarm_state_name(view(f, l2).state), rtloop_outputs(f->rt));
        nap();
    }
    /* P1's maintenance sample has been taken too (its gap is counted below). */
    end = deadline();
    while (stats(f).journal_gaps < 3) {
        if (pgtime_mono_ns() > end)
            fail_msg("journal gaps %llu, wanted 3",
                     (unsigned long long)stats(f).journal_gaps);
        nap();
    }
    st = stats(f);
    assert_int_equal(st.journal_gaps, 3);
    assert_true(st.event_backpressure > 0);
    assert_int_equal(st.events, 0);

    /* The recorder recovers: the fillers, then one resync per alarm, from seq first_seq.
     */
    for (size_t i = 0; i < fillers; i++) {
        e = next_event(f);
        assert_int_equal(e.type, MSG_EV_MAINT);
    }
    for (int k = 0; k < 2; k++) {
        e = next_event(f);
        assert_int_equal(e.type, MSG_EV_RESYNC);
        assert_int_equal(e.seq, f->first_seq + (uint64_t)k);
        assert_int_equal(e.from, ALARM_NORMAL);
        assert_int_equal(e.to, ALARM_UNACK);
        assert_true(e.flags & MSG_F_CONDITION);
        assert_true(e.alarm == l1 || e.alarm == l2);
        resyncs += e.alarm == l1 ? 1 : 10;
        assert_int_equal(view_at(f, e.alarm, e.seq).seq, e.seq);
    }
    assert_int_equal(resyncs, 11); /* each alarm once */
    /* And the maintenance change that found no room, as the point stands now. */
    e = next_event(f);
    assert_int_equal(e.type, MSG_EV_MAINT);
    assert_int_equal(e.point, P1);
    assert_true(e.flags & MSG_F_CONDITION);
    assert_int_equal(e.seq, f->first_seq + 2);
    /* The journal is whole again: the next step is journalled as usual. */
    push_sample(f, P0, 5.0);
    e = expect_step(f, l1, ALARM_EV_RTN, ALARM_UNACK, ALARM_RTN_UNACK);
    assert_int_equal(e.seq, f->first_seq + 3);
    e = expect_step(f, l2, ALARM_EV_RTN, ALARM_UNACK, ALARM_LATCHED_UNACK);
    assert_int_equal(e.seq, f->first_seq + 4);
    assert_int_equal(stats(f).journal_gaps, 3);
}

/* ---- 9. randomised -------------------------------------------------------------------
 */

#define RND_POINTS 3
#define RND_STEPS  2000

/* xorshift64*: fixed seeds, same sequence on every host. */
static uint64_t rnd_state;

static uint64_t rnd(void)
{
    rnd_state ^= rnd_state >> 12;
    rnd_state ^= rnd_state << 25;
    rnd_state ^= rnd_state >> 27;
    return rnd_state * UINT64_C(2685821657736338717);
}

static unsigned rnd_below(unsigned n)
{
    return (unsigned)(rnd() % n);
}

/* The conditions as the rules should see them, modelled independently. */
struct model_point {
    bool l1, l2, fault;
};

static void model_sample(struct model_point *m, uint8_t q, double v)
{
    if (q == MSG_Q_GOOD) {
        m->l1 = m->l1 ? !(v < 20.0 - 2.0) : v >= 20.0;
        m->l2 = m->l2 ? !(v < 40.0 - 3.0) : v >= 40.0;
        m->fault = false;
    } else if (q == MSG_Q_MAINTENANCE) {
        m->fault = false; /* maintenance explains bad readings; limits hold */
    } else {
        m->fault = true; /* fault_delay_ms 0; limits hold on a bad sample */
    }
}

static bool model_vote(const struct model_point *m)
{
    size_t alarms = 0, dead = 0, k = 2;

    for (size_t i = 0; i < RND_POINTS; i++) {
        if (m[i].l1 || m[i].l2)
            alarms++;
        else if (m[i].fault)
            dead++;
    }
    k = dead >= k ? 1 : k - dead; /* fault_degrades defaults to true */
    return alarms >= k;
}

struct sent_cmd {
    uint64_t req;
    uint8_t op;
    uint32_t point;
    uint8_t limit;
    char user[MSG_USER_LEN]; /* as it must be journalled */
};

static bool state_unack(unsigned s)
{
    return s == ALARM_UNACK || s == ALARM_RTN_UNACK || s == ALARM_LATCHED_UNACK;
}

/*
 * The condition each state implies in this loop, with no restore: unack and acked hold a
 * true condition, normal, rtn_unack and both latched states a false one. -1: either.
 */
static int state_condition(unsigned s)
{
    switch (s) {
    case ALARM_UNACK:
    case ALARM_ACKED:
        return 1;
    case ALARM_NORMAL:
    case ALARM_RTN_UNACK:
    case ALARM_LATCHED_UNACK:
    case ALARM_LATCHED_ACK:
        return 0;
    default:
        return -1;
    }
}

struct alarm_id {
    uint32_t point;
    uint8_t limit;
};

static size_t find_alarm(const struct alarm_id *ids, size_t n, uint32_t point,
                         uint8_t limit)
{
    for (size_t i = 0; i < n; i++) {
        if (ids[i].point == point && ids[i].limit == limit)
            return i;
    }
    return SIZE_MAX;
}

static int setup_random(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    *state = f;
    return 0;
}

static int teardown_random(void **state)
{
    struct fx *f = *state;

    if (f->rt != NULL)
        fx_fini(f);
    free(f);
    return 0;
}

/*
 * One seed. Runs in a fixture so that a failed check still stops the loop thread
 * (teardown).
 */
static void random_run(struct fx *fp, uint64_t seed)
{
#define f (*fp)
    static const double values[] = {0,    5,  17.9, 18,   18.1, 19.9, 20, 21,
                                    36.9, 37, 37.1, 39.9, 40,   45,   60, 100};
    static const uint8_t limits[] = {MSG_LIMIT_LEVEL1, MSG_LIMIT_LEVEL2, MSG_LIMIT_FAULT};
    static const uint8_t bad[] = {MSG_Q_COMM_LOSS, MSG_Q_SENSOR_FAULT, MSG_Q_STALE,
                                  MSG_Q_MAINTENANCE, MSG_Q_TIMEOUT};
    struct model_point model[RND_POINTS];
    struct sent_cmd *sent;
    size_t n_sent = 0, n_alarms;
    uint8_t *cur;    /* each alarm's state, replayed from the journal */
    bool *seen_cond; /* ... and its condition */
    struct alarm_id *ids;
    int64_t shelve_end = 0; /* the latest short shelve's deadline, mono */
    uint64_t rejected = 0;
    uint32_t siren_unack = 0, active = 0, unack = 0;
    bool silenced = false, refused_silence = false;
    size_t step = 0;

    memset(model, 0, sizeof(model));
    rnd_state = seed * UINT64_C(0x9E3779B97F4A7C15) + 1;
    fx_init(&f, random_cfg, 1 + seed * 1000000);
    n_alarms = rtloop_alarm_count(f.rt);
    assert_int_equal(n_alarms, RND_POINTS * 3 + 1);
    f.scratch[0] = sent = calloc(RND_STEPS + 8, sizeof(*sent));
    f.scratch[1] = ids = calloc(n_alarms, sizeof(*ids));
    f.scratch[2] = cur = calloc(n_alarms, 1);
    f.scratch[3] = seen_cond = calloc(n_alarms, sizeof(*seen_cond));
    assert_non_null(sent);
    assert_non_null(ids);
    assert_non_null(cur);
    assert_non_null(seen_cond);
    for (size_t i = 0; i < n_alarms; i++) {
        struct rtloop_alarm v = view(&f, i);

        ids[i] = (struct alarm_id){v.point, v.limit};
    }
    fx_start(&f);

    while (step < RND_STEPS) {
        size_t batch = 1 + rnd_below(40);
        size_t first_cmd = n_sent;

        for (size_t k = 0; k < batch && step < RND_STEPS; k++, step++) {
            if (rnd_below(100) < 55) {
                uint32_t p = rnd_below(RND_POINTS);
                uint8_t q = MSG_Q_GOOD;
                double v = values[rnd_below(N_ELEMS(values))];

                if (rnd_below(100) < 20)
                    q = bad[rnd_below(N_ELEMS(bad))];
                else if (rnd_below(4) == 0)
                    v = (double)rnd_below(6000) / 100.0;
                model_sample(&model[p], q, v);
                /* One bus per point, as in the daemon: a point's samples stay in order.
                 */
                push_sample_at(&f, p % 2, p, q, v, 0, pgtime_mono_ns());
            } else {
                static const uint8_t ops[] = {
                    MSG_CMD_ACK,    MSG_CMD_ACK,    MSG_CMD_RESET,    MSG_CMD_RESET,
                    MSG_CMD_SHELVE, MSG_CMD_SHELVE, MSG_CMD_UNSHELVE, MSG_CMD_OOS,
                    MSG_CMD_RTS,    MSG_CMD_SILENCE};
                static const int64_t lens[] = {-5, 0, 1, 3, 10, 25, 3600000, 3600001};
                struct msg_command c;
                struct sent_cmd *sc = &sent[n_sent++];
                unsigned u = rnd_below(10);

                memset(&c, 0, sizeof(c));
                c.req = f.next_req++;
                c.op = rnd_below(50) == 0 ? MSG_CMD_COUNT : ops[rnd_below(N_ELEMS(ops))];
                if (rnd_below(8) == 0) {
                    c.point = 0; /* the area */
                    c.limit = MSG_LIMIT_VOTE;
                } else {
                    c.point = rnd_below(RND_POINTS + (rnd_below(20) == 0));
                    c.limit = rnd_below(30) == 0 ? MSG_LIMIT_HH : limits[rnd_below(3)];
                }
                if (c.op == MSG_CMD_SILENCE) /* area 0 exists, 1 and 2 do not */
                    c.point = rnd_below(4) == 0 ? rnd_below(3) : MSG_POINT_ALL;
                c.rights = (uint8_t)(rnd_below(2) == 0 ? ALL_RIGHTS : rnd_below(8));
                c.one_shot = rnd_below(5) == 0;
                c.shelve_ms = lens[rnd_below(N_ELEMS(lens))];
                c.source = (uint8_t)rnd_below(MSG_SRC_COUNT);
                c.utc_ms = pgtime_utc_ms();
                if (u == 0) {
                    memset(c.user, 'x', sizeof(c.user)); /* unterminated */
                    memset(sc->user, 'x', sizeof(sc->user) - 1);
                } else if (u == 1) {
                    /* empty: never authorised */
                } else {
                    snprintf(c.user, sizeof(c.user), "op%u", u);
                    snprintf(sc->user, sizeof(sc->user), "op%u", u);
                }
                snprintf(c.reason, sizeof(c.reason), "r%llu", (unsigned long long)c.req);
                sc->req = c.req;
                sc->op = c.op;
                sc->point = c.point;
                sc->limit = c.limit;
                push_cmd(&f, &c);
            }
        }
        /* Wait until the loop answered every command of the batch and took every sample.
         */
        wait_results(&f, n_sent);
        wait_samples(&f);
        /* A short shelve accepted in this batch ends at most its length after now. */
        for (size_t i = first_cmd; i < n_sent; i++) {
            if (sent[i].op == MSG_CMD_SHELVE && f.res[i].status == 0)
                shelve_end = pgtime_mono_ns() + 30 * PGTIME_NS_PER_MS;
        }
    }

    /* Quiesce: let every short shelve run out, then two barriers (a full cycle). */
    while (pgtime_mono_ns() < shelve_end) {
        pump(&f);
        nap();
    }
    for (int b = 0; b < 2; b++) {
        struct sent_cmd *sc = &sent[n_sent++];

        sc->req = send_cmd(&f, &(const struct cmd_args){.op = MSG_CMD_ACK,
                                                        .point = 99,
                                                        .limit = MSG_LIMIT_LEVEL1,
                                                        .user = "barrier"});
        sc->op = MSG_CMD_ACK;
        sc->point = 99;
        sc->limit = MSG_LIMIT_LEVEL1;
        snprintf(sc->user, sizeof(sc->user), "barrier");
        wait_results(&f, n_sent);
    }
    wait_cycles(&f, 2); /* the last cycle's relay word is out */
    pump(&f);

    /* ---- the journal ---- */
    assert_true(f.n_ev > 0);
    for (size_t i = 0; i < f.n_ev; i++) {
        const struct msg_event *e = &f.ev[i];

        if (e->seq != f.first_seq + i)
            fail_msg("seed %llu: event %zu has seq %llu, wanted %llu",
                     (unsigned long long)seed, i, (unsigned long long)e->seq,
                     (unsigned long long)(f.first_seq + i));
        if (e->type == MSG_EV_ALARM) {
            assert_true(e->alarm < n_alarms);
            if (e->from != cur[e->alarm])
                fail_msg(
                    "seed %llu: seq %llu: alarm %u steps from %s, but its last event "
                    "left it %s",
                    (unsigned long long)seed, (unsigned long long)e->seq, e->alarm,
                    alarm_state_name(e->from), alarm_state_name(cur[e->alarm]));
            if (e->to == ALARM_NORMAL && (e->flags & MSG_F_CONDITION))
                fail_msg("seed %llu: seq %llu: alarm %u normal with its condition true",
                         (unsigned long long)seed, (unsigned long long)e->seq, e->alarm);
            if (state_condition(e->to) >= 0 &&
                state_condition(e->to) != !!(e->flags & MSG_F_CONDITION))
                fail_msg("seed %llu: seq %llu: alarm %u %s with condition %d",
                         (unsigned long long)seed, (unsigned long long)e->seq, e->alarm,
                         alarm_state_name(e->to), !!(e->flags & MSG_F_CONDITION));
            if ((e->flags & MSG_F_ANNUNCIATE) &&
                !(e->to == ALARM_UNACK && e->from != ALARM_UNACK))
                fail_msg("seed %llu: seq %llu: annunciate without entering unack",
                         (unsigned long long)seed, (unsigned long long)e->seq);
            if (e->to == ALARM_SHELVED) {
                assert_true(e->shelve == ALARM_SHELVE_TIMED ||
                            e->shelve == ALARM_SHELVE_ONE_SHOT);
                assert_true(e->shelve_until_utc_ms > 0);
            } else {
                assert_int_equal(e->shelve, ALARM_SHELVE_NONE);
                assert_int_equal(e->shelve_until_utc_ms, 0);
            }
            /* The replay: active and unack counts, and the siren (every alarm is P1..P3;
             * the siren takes P1 and P2). */
            active += alarm_state_active(e->to) - alarm_state_active(e->from);
            unack += state_unack(e->to) - state_unack(e->from);
            if (e->priority <= 2) {
                siren_unack += state_unack(e->to) - state_unack(e->from);
                if ((e->flags & MSG_F_ANNUNCIATE) || siren_unack == 0)
                    silenced = refused_silence = false;
            }
            cur[e->alarm] = e->to;
            seen_cond[e->alarm] = (e->flags & MSG_F_CONDITION) != 0;
            if (e->req == 0)
                assert_string_equal(e->user, "");
        } else if (e->type == MSG_EV_SILENCE) {
            /* An accepted silence silences exactly when the siren is sounding. */
            bool sounding = siren_unack > 0 && !silenced;

            if ((e->status == 0) != sounding)
                fail_msg(
                    "seed %llu: seq %llu: silence status %d with the siren %s by the "
                    "journal%s",
                    (unsigned long long)seed, (unsigned long long)e->seq, e->status,
                    sounding ? "sounding" : "quiet",
                    refused_silence ? " (a refused silence before it silenced the "
                                      "siren, see test_silence_relays)"
                                    : "");
            silenced = silenced || sounding;
        } else if (e->type == MSG_EV_REJECTED) {
            assert_true(e->status < 0);
            assert_true(e->req != 0);
            if (e->event == MSG_CMD_SILENCE && siren_unack > 0 && !silenced)
                refused_silence = true; /* it must have changed nothing */
            /* A refusal names the state it left the alarm in, unchanged. */
            if (e->event != MSG_CMD_SILENCE && e->status != -ALARM_R_NO_SUCH_ALARM &&
                e->status != -ALARM_R_INVALID) {
                size_t a = find_alarm(ids, n_alarms, e->point, e->limit);

                assert_true(a < n_alarms);
                assert_int_equal(e->from, cur[a]);
                assert_int_equal(e->to, cur[a]);
            }
        } else if (e->type == MSG_EV_RESYNC) {
            /*
             * With the journal never stuck here, a resync only rewrites an alarm that
             * lost its area's first-out: the same state, the flag gone.
             */
            assert_true(e->alarm < n_alarms);
            assert_int_equal(e->from, cur[e->alarm]);
            assert_int_equal(e->to, cur[e->alarm]);
            assert_false(e->flags & MSG_F_FIRST_OUT);
            assert_int_equal(e->req, 0);
        } else {
            assert_int_equal(e->type, MSG_EV_MAINT);
            assert_int_equal(e->req, 0);
        }
    }

    /* ---- every command: one result, in order, with its own event ---- */
    assert_int_equal(f.n_res, n_sent);
    for (size_t i = 0; i < n_sent; i++) {
        const struct msg_cmd_result *r = &f.res[i];
        const struct msg_event *e;
        size_t n_req = 0;

        if (r->req != sent[i].req)
            fail_msg("seed %llu: result %zu is for req %llu, wanted %llu",
                     (unsigned long long)seed, i, (unsigned long long)r->req,
                     (unsigned long long)sent[i].req);
        if (r->seq < f.first_seq || r->seq >= f.first_seq + f.n_ev)
            fail_msg("seed %llu: req %llu: result seq %llu has no event",
                     (unsigned long long)seed, (unsigned long long)r->req,
                     (unsigned long long)r->seq);
        e = &f.ev[r->seq - f.first_seq];
        if (e->req != r->req || strcmp(e->user, sent[i].user) != 0)
            fail_msg("seed %llu: req %llu (%s, status %d): event %llu has req %llu user "
                     "\"%s\", wanted user \"%s\"",
                     (unsigned long long)seed, (unsigned long long)r->req,
                     msg_cmd_name(sent[i].op), r->status, (unsigned long long)e->seq,
                     (unsigned long long)e->req, e->user, sent[i].user);
        if (i > 0)
            assert_true(r->seq > f.res[i - 1].seq);
        if (r->status < 0) {
            rejected++;
            if (e->type != MSG_EV_REJECTED || e->status != r->status)
                fail_msg(
                    "seed %llu: req %llu %s point %u limit %s rights: result status %d, "
                    "event seq %llu type %u status %d",
                    (unsigned long long)seed, (unsigned long long)r->req,
                    msg_cmd_name(sent[i].op), sent[i].point,
                    msg_limit_name(sent[i].limit), r->status, (unsigned long long)e->seq,
                    e->type, e->status);
            assert_int_equal(r->from, r->to);
            assert_int_equal(e->event, sent[i].op);
            /* No user: refused for that, unless the command made no sense at all. */
            if (sent[i].user[0] == '\0')
                assert_true(r->status == -ALARM_R_NOT_AUTHORISED ||
                            r->status == -ALARM_R_INVALID ||
                            r->status == -ALARM_R_NO_SUCH_ALARM);
        } else if (sent[i].op == MSG_CMD_SILENCE) {
            assert_int_equal(e->type, MSG_EV_SILENCE);
            assert_int_equal(e->status, r->status);
        } else {
            assert_int_equal(r->status,
                             0); /* a command never leaves an alarm as it was */
            assert_int_equal(e->type, MSG_EV_ALARM);
            assert_int_equal(e->from, r->from);
            assert_int_equal(e->to, r->to);
            assert_int_equal(e->point, sent[i].point);
            assert_int_equal(e->limit, sent[i].limit);
        }
        /* Exactly one event per command. */
        for (size_t j = 0; j < f.n_ev; j++)
            n_req += f.ev[j].req == r->req;
        assert_int_equal(n_req, 1);
    }

    /* ---- the loop's own view, against the journal replay and the model ---- */
    {
        struct rtloop_stats st = stats(&f);
        uint32_t word_want =
            (active ? BEACON : 0) | (siren_unack && !silenced ? SIREN : 0);

        assert_int_equal(st.commands, n_sent);
        assert_int_equal(st.commands_rejected, rejected);
        assert_int_equal(st.events, f.n_ev);
        assert_int_equal(st.samples, f.n_samples);
        assert_int_equal(st.alarms_active, active);
        assert_int_equal(st.alarms_unack, unack);
        assert_int_equal(st.event_backpressure, 0);
        if (rtloop_outputs(f.rt) != word_want)
            fail_msg("seed %llu: relay word 0x%x, the journal says 0x%x",
                     (unsigned long long)seed, rtloop_outputs(f.rt), word_want);
    }
    for (size_t i = 0; i < n_alarms; i++) {
        struct rtloop_alarm v = view(&f, i);
        bool cond = (v.flags & MSG_F_CONDITION) != 0, want;

        assert_int_equal(v.state, cur[i]);
        if (v.seq != 0)
            assert_int_equal(seen_cond[i], cond);
        /* alarm.h: only shelved, suppressed and out of service may hide a condition. */
        if ((v.state == ALARM_NORMAL || v.state == ALARM_RTN_UNACK) && cond)
            fail_msg("seed %llu: alarm %zu %s with its condition true",
                     (unsigned long long)seed, i, alarm_state_name(v.state));
        if (state_condition(v.state) >= 0 && state_condition(v.state) != cond)
            fail_msg("seed %llu: alarm %zu %s with condition %d",
                     (unsigned long long)seed, i, alarm_state_name(v.state), cond);
        if (v.limit == MSG_LIMIT_VOTE)
            want = model_vote(model);
        else if (v.limit == MSG_LIMIT_LEVEL1)
            want = model[v.point].l1;
        else if (v.limit == MSG_LIMIT_LEVEL2)
            want = model[v.point].l2;
        else
            want = model[v.point].fault;
        if (cond != want)
            fail_msg("seed %llu: alarm %zu (point %u %s) condition %d, the model says %d",
                     (unsigned long long)seed, i, v.point, msg_limit_name(v.limit), cond,
                     want);
        if (v.state == ALARM_SHELVED)
            assert_true(v.shelve == ALARM_SHELVE_TIMED ||
                        v.shelve == ALARM_SHELVE_ONE_SHOT);
    }
    print_message("seed %llu: %zu events, %zu commands (%llu refused), %llu samples, "
                  "fifo %d\n",
                  (unsigned long long)seed, f.n_ev, n_sent, (unsigned long long)rejected,
                  (unsigned long long)f.n_samples, f.fifo);
#undef f
}

static void test_random_1(void **state)
{
    random_run(*state, 1);
}

static void test_random_2(void **state)
{
    random_run(*state, 2);
}

static void test_random_3(void **state)
{
    random_run(*state, 3);
}

static void test_random_4(void **state)
{
    random_run(*state, 4);
}

static void test_random_5(void **state)
{
    random_run(*state, 5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_count_and_free_unstarted, setup_main,
                                        teardown_fx),
        cmocka_unit_test(test_free_null_and_unstarted),
        cmocka_unit_test_setup_teardown(test_level1_activation, setup_main_started,
                                        teardown_fx),
        cmocka_unit_test_setup_teardown(test_ack_and_refusals, setup_main_started,
                                        teardown_fx),
        cmocka_unit_test_setup_teardown(test_level2_latching, setup_main_started,
                                        teardown_fx),
        cmocka_unit_test_setup_teardown(test_level2_relatch, setup_main_started,
                                        teardown_fx),
        cmocka_unit_test_setup_teardown(test_first_out, setup_main_started, teardown_fx),
        cmocka_unit_test_setup_teardown(test_first_out_out_of_order, setup_main_started,
                                        teardown_fx),
        cmocka_unit_test_setup_teardown(test_vote, setup_main_started, teardown_fx),
        cmocka_unit_test_setup_teardown(test_shelve, setup_main_started, teardown_fx),
        cmocka_unit_test_setup_teardown(test_stuck_recorder, setup_main, teardown_fx),
        cmocka_unit_test_setup_teardown(test_expired_command, setup_main_started,
                                        teardown_fx),
        cmocka_unit_test_setup_teardown(test_silence_relays, setup_main_started,
                                        teardown_fx),
        cmocka_unit_test_setup_teardown(test_test_flagged_alarm_drives_no_relay,
                                        setup_main_started, teardown_fx),
        cmocka_unit_test_setup_teardown(test_vote_drill, setup_main_started, teardown_fx),
        cmocka_unit_test_setup_teardown(test_timers, setup_timers, teardown_fx),
        cmocka_unit_test_setup_teardown(test_restore_acked_latching, setup_main,
                                        teardown_fx),
        cmocka_unit_test_setup_teardown(test_restore_unack_sounds, setup_main,
                                        teardown_fx),
        cmocka_unit_test_setup_teardown(test_restore_shelve_expired, setup_main,
                                        teardown_fx),
        cmocka_unit_test_setup_teardown(test_restore_shelve_resumes, setup_main,
                                        teardown_fx),
        cmocka_unit_test_setup_teardown(test_restore_corrupt, setup_main, teardown_fx),
        cmocka_unit_test_setup_teardown(test_restore_first_out, setup_main, teardown_fx),
        cmocka_unit_test_setup_teardown(test_restore_shelve_bounded, setup_main,
                                        teardown_fx),
        cmocka_unit_test_setup_teardown(test_restore_extreme_times, setup_main,
                                        teardown_fx),
        cmocka_unit_test_setup_teardown(test_random_1, setup_random, teardown_random),
        cmocka_unit_test_setup_teardown(test_random_2, setup_random, teardown_random),
        cmocka_unit_test_setup_teardown(test_random_3, setup_random, teardown_random),
        cmocka_unit_test_setup_teardown(test_random_4, setup_random, teardown_random),
        cmocka_unit_test_setup_teardown(test_random_5, setup_random, teardown_random),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
