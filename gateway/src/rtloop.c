#include "rtloop.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "alarm.h"
#include "msg.h"
#include "outputs.h"
#include "pgtime.h"
#include "rules.h"

#define RTLOOP_STACK_SIZE  (256 * 1024)
#define RTLOOP_STACK_TOUCH (64 * 1024)
/*
 * The most events one sample, timer or command can cause: every condition of its point,
 * each of which could also need a recovery event (an alarm record found corrupt), and its
 * area's vote.
 */
#define RTLOOP_EVENTS_PER_SAMPLE (2 * RULES_MAX_EVENTS + 2)
/*
 * Bound one cycle's work so a flood of samples cannot stretch a cycle past its period: a
 * sample costs well under 0.5 us here (docs/benchmarks.md), so 8192 of them stay under
 * about 4 ms, within a 10 ms period even on a slower core. The rest wait a cycle.
 */
#define RTLOOP_MAX_SAMPLES_PER_CYCLE  8192
#define RTLOOP_MAX_COMMANDS_PER_CYCLE 64
/*
 * How long samples, timers and commands may wait for room in the event ring. A recorder
 * that falls behind for a moment (a slow fsync) loses nothing: the work waits. One that
 * cannot write at all (a full or read-only disk) must not stop the alarms and the relays
 * with it: past this wait the loop goes on, and an alarm whose steps found no room is
 * journalled once more, as it stands, when room returns (MSG_EV_RESYNC).
 */
#define RTLOOP_HOLD_MAX_NS (1000 * PGTIME_NS_PER_MS)

#define RT_NONE  UINT32_MAX
#define RT_CONDS (RULES_COND_FAULT + 1) /* the conditions an alarm can be on */
#define RT_VOTE  RT_CONDS               /* rt_alarm.cond of an area's vote alarm */

/*
 * One alarm: the state machine's record and what the loop knows about it. The view is a
 * copy for other threads, published under a sequence lock after every step: gen is odd
 * while the loop writes it.
 */
struct rt_alarm {
    struct alarm a;
    const struct alarm_config *cfg; /* in the site config, which outlives the loop */
    uint32_t point;                 /* point index, or area index for a vote */
    uint32_t area;
    uint32_t outputs;      /* the relays it drives (outputs_mask()) */
    uint32_t outputs_test; /* ... when it is flagged test */
    uint32_t driving;      /* the mask it is counted under while active */
    uint8_t limit;         /* enum msg_limit */
    uint8_t cond;          /* RULES_COND_* index, or RT_VOTE */
    double setpoint;
    double deadband;
    uint64_t seq;
    int64_t since_utc_ms;
    int64_t active_utc_ms;
    int64_t shelve_until_utc_ms;
    uint8_t journalled; /* enum alarm_state the journal last recorded for it */
    bool unjournalled;  /* a step of it could not be journalled: resync it */
    bool recovered;     /* restored from a damaged record: its resync says so */
};

struct rt_view {
    _Atomic uint32_t gen;
    struct rtloop_alarm v;
};

/*
 * The loop's private view of one point: its rule configuration, built once from the site
 * config, the rules' state, its alarms, and what the last sample said, for events that a
 * timer decides (an on-delay or a fault delay running out) rather than a sample.
 */
struct rt_point {
    struct rules_point_cfg cfg;
    struct rules_point_state st;
    uint32_t alarm_of[RT_CONDS]; /* alarm index per condition, or RT_NONE */
    uint8_t last_quality;
    uint8_t last_flags;
    bool maint_unjournalled; /* a maintenance change found no room: resync it */
};

/* One area: its first-out and, when it votes, its vote alarm and members. */
struct rt_area {
    struct alarm_area fo;
    uint32_t vote_alarm; /* or RT_NONE */
    uint32_t *members;   /* point indexes */
    struct rules_member *scratch;
    size_t n_members;
    bool dirty; /* a member's conditions changed: count the vote again */
    /* rtloop_restore(): the saved first-out taken so far, by its activation time. */
    bool restored_first;
    int64_t restored_first_ms;
};

/* When and on what evidence a step happens. */
struct rt_when {
    int64_t mono_ns;
    int64_t utc_ms;
    uint8_t quality;
    uint8_t flags;
};

struct rtloop {
    const struct config *cfg;
    struct ring *const *sample_rings;
    size_t n_rings;
    const struct rtloop_source *sources;
    size_t n_sources;
    struct ring *events;
    struct ring *readings;
    int wake_fd;
    int outputs_fd;
    uint64_t next_seq;
    int64_t period_ns;

    struct rt_point *points;
    struct rt_area *areas;
    struct rt_alarm *alarms;
    struct rt_view *views;
    size_t n_alarms;
    int64_t shelve_next_ns; /* the earliest shelve deadline, or RULES_NEVER */
    int64_t held_since_ns;  /* since when work waits for event room; 0 when not */
    bool resync_pending;    /* some alarm has unjournalled set */
    bool restoring;  /* inside rtloop_restore(): the records decide the first-out */
    bool hold_spent; /* a hold ran out: no new one until the ring is half empty */
    struct outputs_state out;
    uint32_t word;

    pthread_t thread;
    bool started;
    atomic_bool stop;

    /*
     * Statistics are written only by the loop thread and read by others; relaxed atomics
     * make each counter tear-free without ordering cost on the RT path.
     */
    _Atomic uint64_t cycles, overruns, missed, samples, events_out, readings_dropped,
        backpressure, commands, rejected, journal_gaps;
    _Atomic int64_t max_late_ns, max_exec_ns;
    _Atomic uint64_t late_hist[RTLOOP_HIST_BUCKETS];
    _Atomic uint32_t n_active, n_unack, out_word;
    atomic_bool fifo;
};

/* The message code of each rules limit kind, in the order of enum rules_limit_kind. */
static enum msg_limit limit_code(uint8_t kind)
{
    static const enum msg_limit codes[] = {
        MSG_LIMIT_HH,     MSG_LIMIT_HIGH,   MSG_LIMIT_L,      MSG_LIMIT_LL,
        MSG_LIMIT_LEVEL1, MSG_LIMIT_LEVEL2, MSG_LIMIT_O2_LOW, MSG_LIMIT_O2_HIGH,
    };
    _Static_assert(sizeof(codes) / sizeof(codes[0]) == RULES_LIMIT_COUNT,
                   "every rules limit kind needs a message code");

    return kind < RULES_LIMIT_COUNT ? codes[kind] : MSG_LIMIT_HIGH;
}

static size_t count_alarms(const struct config *cfg)
{
    size_t n = 0;

    for (size_t i = 0; i < cfg->n_points; i++) {
        const struct rules_point_cfg *r = &cfg->points[i].rules;

        n += r->n_limits + (r->roc.rising ? 1 : 0) + (r->roc.falling ? 1 : 0) + 1;
    }
    for (size_t a = 0; a < cfg->n_areas; a++)
        n += cfg->areas[a].voting ? 1 : 0;
    return n;
}

static void add_alarm(struct rtloop *rt, uint32_t point, uint32_t area, uint8_t cond,
                      uint8_t limit, const struct alarm_config *ac, double setpoint,
                      double deadband)
{
    struct rt_alarm *al = &rt->alarms[rt->n_alarms];

    alarm_init(&al->a, pgtime_mono_ns());
    al->cfg = ac;
    al->point = point;
    al->area = area;
    al->cond = cond;
    al->limit = limit;
    al->setpoint = setpoint;
    al->deadband = deadband;
    /* Test alarms drive the relays only where the config asks for it (outputs_mask()). */
    al->outputs = outputs_mask(rt->cfg, ac->priority, area, false);
    al->outputs_test = outputs_mask(rt->cfg, ac->priority, area, true);
    if (cond < RT_CONDS)
        rt->points[point].alarm_of[cond] = (uint32_t)rt->n_alarms;
    else
        rt->areas[area].vote_alarm = (uint32_t)rt->n_alarms;
    rt->n_alarms++;
}

static void publish(struct rtloop *rt, uint32_t i);

static int build_tables(struct rtloop *rt)
{
    const struct config *cfg = rt->cfg;
    size_t n = count_alarms(cfg);

    rt->points = calloc(cfg->n_points ? cfg->n_points : 1, sizeof(*rt->points));
    rt->areas = calloc(cfg->n_areas ? cfg->n_areas : 1, sizeof(*rt->areas));
    rt->alarms = calloc(n ? n : 1, sizeof(*rt->alarms));
    rt->views = calloc(n ? n : 1, sizeof(*rt->views));
    if (!rt->points || !rt->areas || !rt->alarms || !rt->views)
        return -ENOMEM;
    for (size_t a = 0; a < cfg->n_areas; a++) {
        struct rt_area *ar = &rt->areas[a];

        alarm_area_init(&ar->fo);
        ar->vote_alarm = RT_NONE;
        if (!cfg->areas[a].voting)
            continue;
        for (size_t i = 0; i < cfg->n_points; i++)
            ar->n_members +=
                cfg->points[i].area == a && rules_votes(&cfg->points[i].rules);
        ar->members = calloc(ar->n_members ? ar->n_members : 1, sizeof(*ar->members));
        ar->scratch = calloc(ar->n_members ? ar->n_members : 1, sizeof(*ar->scratch));
        if (!ar->members || !ar->scratch)
            return -ENOMEM;
        ar->n_members = 0;
        for (size_t i = 0; i < cfg->n_points; i++) {
            if (cfg->points[i].area == a && rules_votes(&cfg->points[i].rules))
                ar->members[ar->n_members++] = (uint32_t)i;
        }
        ar->dirty = true;
    }
    for (size_t i = 0; i < cfg->n_points; i++) {
        const struct config_point *pt = &cfg->points[i];
        struct rt_point *p = &rt->points[i];
        uint32_t pi = (uint32_t)i, ai = (uint32_t)pt->area;

        /* The config resolved and checked the rules when it was loaded. */
        p->cfg = pt->rules;
        rules_point_init(&p->st);
        p->last_quality = MSG_Q_COUNT;
        for (unsigned c = 0; c < RT_CONDS; c++)
            p->alarm_of[c] = RT_NONE;
        for (unsigned k = 0; k < p->cfg.n_limits && k < RULES_MAX_LIMITS; k++)
            add_alarm(rt, pi, ai, (uint8_t)k, (uint8_t)limit_code(p->cfg.limits[k].kind),
                      &pt->alarm[k], p->cfg.limits[k].setpoint,
                      p->cfg.limits[k].deadband);
        /* A rate condition reports its configured rate as the set-point, no deadband. */
        if (p->cfg.roc.rising)
            add_alarm(rt, pi, ai, RULES_COND_ROC_RISE, MSG_LIMIT_ROC_RISE,
                      &pt->alarm[RULES_COND_ROC_RISE], p->cfg.roc.limit, 0.0);
        if (p->cfg.roc.falling)
            add_alarm(rt, pi, ai, RULES_COND_ROC_FALL, MSG_LIMIT_ROC_FALL,
                      &pt->alarm[RULES_COND_ROC_FALL], p->cfg.roc.limit, 0.0);
        add_alarm(rt, pi, ai, RULES_COND_FAULT, MSG_LIMIT_FAULT,
                  &pt->alarm[RULES_COND_FAULT], (double)NAN, (double)NAN);
    }
    for (size_t a = 0; a < cfg->n_areas; a++) {
        if (cfg->areas[a].voting)
            add_alarm(rt, (uint32_t)a, (uint32_t)a, RT_VOTE, MSG_LIMIT_VOTE,
                      &cfg->areas[a].vote_alarm, (double)cfg->areas[a].vote.k,
                      (double)NAN);
    }
    for (uint32_t i = 0; i < rt->n_alarms; i++)
        publish(rt, i);
    return 0;
}

struct rtloop *rtloop_new(const struct rtloop_params *prm)
{
    struct rtloop *rt = calloc(1, sizeof(*rt));

    if (rt == NULL)
        return NULL;
    rt->cfg = prm->cfg;
    rt->sample_rings = prm->sample_rings;
    rt->n_rings = prm->n_rings;
    rt->sources = prm->sources;
    rt->n_sources = prm->n_sources;
    rt->events = prm->events;
    rt->readings = prm->readings;
    rt->wake_fd = prm->wake_fd;
    rt->outputs_fd = prm->outputs_fd;
    rt->next_seq = prm->first_seq;
    rt->period_ns = (int64_t)prm->cfg->rt.period_ms * PGTIME_NS_PER_MS;
    rt->shelve_next_ns = RULES_NEVER;
    outputs_init(&rt->out);
    if (build_tables(rt) != 0) {
        rtloop_free(rt);
        errno = ENOMEM;
        return NULL;
    }
    return rt;
}

void rtloop_free(struct rtloop *rt)
{
    if (rt == NULL)
        return;
    rtloop_stop(rt);
    for (size_t a = 0; rt->areas && a < rt->cfg->n_areas; a++) {
        free(rt->areas[a].members);
        free(rt->areas[a].scratch);
    }
    free(rt->areas);
    free(rt->points);
    free(rt->alarms);
    free(rt->views);
    free(rt);
}

static inline void count(_Atomic uint64_t *c, uint64_t n)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
                          memory_order_relaxed);
}

static inline void keep_max(_Atomic int64_t *m, int64_t v)
{
    if (v > atomic_load_explicit(m, memory_order_relaxed))
        atomic_store_explicit(m, v, memory_order_relaxed);
}

static inline unsigned hist_bucket(int64_t late_ns)
{
    uint64_t us = late_ns > 0 ? (uint64_t)late_ns / 1000 : 0;
    unsigned b = 0;

    while (us != 0 && b < RTLOOP_HIST_BUCKETS - 1) {
        us >>= 1;
        b++;
    }
    return b;
}

/* The alarm an operator names by point (or area) and limit, or RT_NONE. */
static uint32_t find_alarm(const struct rtloop *rt, uint32_t point, uint8_t limit)
{
    if (limit == MSG_LIMIT_VOTE)
        return point < rt->cfg->n_areas ? rt->areas[point].vote_alarm : RT_NONE;
    if (point >= rt->cfg->n_points)
        return RT_NONE;
    for (unsigned c = 0; c < RT_CONDS; c++) {
        uint32_t i = rt->points[point].alarm_of[c];

        if (i != RT_NONE && rt->alarms[i].limit == limit)
            return i;
    }
    return RT_NONE;
}

/* ---- the real-time path: everything below until rtloop_main() must stay allocation-,
 * ---- log- and syscall-free (except the eventfd writes). */

static inline int64_t ns_to_ms(int64_t ns)
{
    return ns / PGTIME_NS_PER_MS;
}

/*
 * Copy alarm i for other threads. The sequence lock makes a torn copy detectable: a
 * reader that saw an odd generation, or a different one after copying, retries.
 */
static void publish(struct rtloop *rt, uint32_t i)
{
    const struct rt_alarm *al = &rt->alarms[i];
    struct rt_view *v = &rt->views[i];
    uint32_t g = atomic_load_explicit(&v->gen, memory_order_relaxed);
    double value = al->cond < RT_CONDS ? rt->points[al->point].st.value : (double)NAN;
    uint8_t flags = (uint8_t)((al->a.condition ? MSG_F_CONDITION : 0) |
                              (al->a.first_out ? MSG_F_FIRST_OUT : 0) |
                              (al->cfg->latching ? MSG_F_LATCHING : 0));

    if (al->cond < RT_CONDS)
        flags |= rt->points[al->point].last_flags & MSG_F_TEST;
    atomic_store_explicit(&v->gen, g + 1, memory_order_relaxed);
    atomic_thread_fence(memory_order_release);
    v->v = (struct rtloop_alarm){
        .point = al->point,
        .limit = al->limit,
        .state = al->a.state,
        .shelve = al->a.shelve,
        .priority = al->cfg->priority,
        .kind = al->cfg->kind,
        .flags = flags,
        .area = al->area,
        .seq = al->seq,
        .value = value,
        .setpoint = al->setpoint,
        .since_utc_ms = al->since_utc_ms,
        .active_utc_ms = al->active_utc_ms,
        .shelve_until_utc_ms = al->shelve_until_utc_ms,
    };
    atomic_store_explicit(&v->gen, g + 2, memory_order_release);
}

/*
 * Room was reserved before the sample, timer or command was taken, so this fails only
 * when the recorder has been stuck for longer than RTLOOP_HOLD_MAX_NS. The event then
 * takes no sequence number (the journal has no holes), is counted, and its alarm is
 * marked for a resync event once room returns.
 */
static bool push_event(struct rtloop *rt, struct msg_event *ev)
{
    ev->seq = rt->next_seq;
    if (!ring_push(rt->events, ev)) {
        count(&rt->journal_gaps, 1);
        if ((ev->type == MSG_EV_ALARM || ev->type == MSG_EV_RESYNC) &&
            ev->alarm < rt->n_alarms) {
            rt->alarms[ev->alarm].unjournalled = true;
            rt->resync_pending = true;
        } else if (ev->type == MSG_EV_MAINT && ev->point < rt->cfg->n_points) {
            rt->points[ev->point].maint_unjournalled = true;
            rt->resync_pending = true;
        }
        return false;
    }
    rt->next_seq++;
    count(&rt->events_out, 1);
    return true;
}

static void copy_text(char *dst, size_t size, const char *src)
{
    size_t n = 0;

    if (src != NULL) {
        while (n + 1 < size && src[n] != '\0') {
            dst[n] = src[n];
            n++;
        }
    }
    dst[n] = '\0';
}

/* Journal one step of alarm i. */
/*
 * The event of alarm i as it stands: what every event about an alarm carries, whether a
 * step (emit_step()) or a resync (resync()). w gives the time, the quality and the test
 * flag of the evidence.
 */
static struct msg_event alarm_event(const struct rtloop *rt, uint32_t i, uint8_t type,
                                    const struct rt_when *w)
{
    const struct rt_alarm *al = &rt->alarms[i];

    return (struct msg_event){
        .point = al->point,
        .alarm = i,
        .type = type,
        .limit = al->limit,
        .priority = al->cfg->priority,
        .flags =
            (uint8_t)((w->flags & MSG_F_TEST) | (al->a.condition ? MSG_F_CONDITION : 0) |
                      (al->a.first_out ? MSG_F_FIRST_OUT : 0) |
                      (al->cfg->latching ? MSG_F_LATCHING : 0)),
        .quality = w->quality,
        .shelve = al->a.shelve,
        .value = al->cond < RT_CONDS ? rt->points[al->point].st.value : (double)NAN,
        .setpoint = al->setpoint,
        .deadband = al->deadband,
        .mono_ns = w->mono_ns,
        .utc_ms = w->utc_ms,
        .since_utc_ms = al->since_utc_ms,
        .active_utc_ms = al->active_utc_ms,
        .shelve_until_utc_ms = al->shelve_until_utc_ms,
    };
}

static void emit_step(struct rtloop *rt, uint32_t i, const struct alarm_transition *t,
                      const struct rt_when *w, const struct msg_command *c)
{
    struct rt_alarm *al = &rt->alarms[i];
    struct msg_event ev = alarm_event(rt, i, MSG_EV_ALARM, w);

    ev.req = c != NULL ? c->req : 0;
    ev.source = c != NULL ? c->source : 0;
    ev.event = t->event;
    ev.from = t->recovered ? ALARM_STATE_COUNT : t->from;
    ev.to = t->to;
    ev.flags |= (uint8_t)((t->annunciate ? MSG_F_ANNUNCIATE : 0) |
                          (t->recovered ? MSG_F_RECOVERED : 0));
    if (c != NULL) {
        copy_text(ev.user, sizeof(ev.user), c->user);
        copy_text(ev.reason, sizeof(ev.reason), c->reason);
    }
    if (push_event(rt, &ev)) {
        al->seq = ev.seq;
        al->journalled = t->to;
    }
}

/*
 * What a step changes around the alarm: the counters, the times, the area's first-out,
 * the relays and the next shelve deadline.
 */
static void account(struct rtloop *rt, uint32_t i, const struct alarm_transition *t,
                    const struct rt_when *w)
{
    struct rt_alarm *al = &rt->alarms[i];
    struct rt_area *ar = &rt->areas[al->area];
    bool was_active = t->recovered ? false : alarm_state_active(t->from);
    bool was_unack = t->recovered ? false : alarm_state_unack(t->from);
    uint32_t prev_first = ar->fo.has_first ? ar->fo.first_out : RT_NONE;
    unsigned from = t->recovered ? ALARM_NORMAL : t->from;

    if (from != t->to || t->recovered)
        al->since_utc_ms = w->utc_ms;
    if (!was_active && alarm_state_active(t->to))
        al->active_utc_ms = w->utc_ms;
    if (was_active != alarm_state_active(t->to))
        atomic_store_explicit(&rt->n_active,
                              atomic_load_explicit(&rt->n_active, memory_order_relaxed) +
                                  (was_active ? UINT32_MAX : 1u),
                              memory_order_relaxed);
    if (was_unack != alarm_state_unack(t->to))
        atomic_store_explicit(&rt->n_unack,
                              atomic_load_explicit(&rt->n_unack, memory_order_relaxed) +
                                  (was_unack ? UINT32_MAX : 1u),
                              memory_order_relaxed);
    if (t->to == ALARM_SHELVED) {
        int64_t left = al->a.shelve_deadline_ns - w->mono_ns;

        al->shelve_until_utc_ms = w->utc_ms + ns_to_ms(left > 0 ? left : 0);
        if (al->a.shelve_deadline_ns < rt->shelve_next_ns)
            rt->shelve_next_ns = al->a.shelve_deadline_ns;
    } else {
        al->shelve_until_utc_ms = 0;
    }
    if (alarm_area_apply(&ar->fo, i, t)) {
        if (prev_first != RT_NONE && prev_first != i) {
            rt->alarms[prev_first].a.first_out = false;
            /*
             * Its saved record still says first-out: journal it again as it stands, so
             * that a restart finds one first-out per area, the right one.
             */
            if (!rt->restoring) {
                rt->alarms[prev_first].unjournalled = true;
                rt->resync_pending = true;
            }
            publish(rt, prev_first);
        }
        al->a.first_out = true;
    }
    /* outputs.h: one mask for as long as the alarm is counted; a drill's is the test one.
     */
    if (!was_active)
        al->driving = (w->flags & MSG_F_TEST) ? al->outputs_test : al->outputs;
    outputs_step(&rt->out, rt->cfg, al->driving, from, t->to, t->annunciate);
}

/*
 * An alarm counted as a drill whose evidence is now real (its device left test mode
 * with the condition still true, or a real detector joined a vote) moves to the plant's
 * relays, and sounds them if it is unacknowledged: a drill must never hide a leak.
 */
static void promote(struct rtloop *rt, uint32_t i)
{
    struct rt_alarm *al = &rt->alarms[i];
    unsigned st = al->a.state;

    if (!alarm_state_active(st) || al->driving == al->outputs)
        return;
    outputs_step(&rt->out, rt->cfg, al->driving, st, ALARM_NORMAL, false);
    al->driving = al->outputs;
    outputs_step(&rt->out, rt->cfg, al->driving, ALARM_NORMAL, st, alarm_state_unack(st));
}

/*
 * Apply one event to alarm i, journal it and account for it. c is the operator command
 * behind it, or NULL for a process event. Returns alarm_step()'s result.
 */
static int step(struct rtloop *rt, uint32_t i, enum alarm_event ev,
                const struct msg_command *c, const struct rt_when *w)
{
    struct rt_alarm *al = &rt->alarms[i];
    struct alarm_cmd cmd, *cmdp = NULL;
    struct alarm_transition t;
    int rc;

    if (c != NULL) {
        cmd = (struct alarm_cmd){
            .user = c->user,
            .reason = c->reason,
            .rights = c->rights,
            .one_shot = c->one_shot,
            .shelve_ns = c->shelve_ms > 0 && c->shelve_ms < INT64_MAX / PGTIME_NS_PER_MS
                             ? c->shelve_ms * PGTIME_NS_PER_MS
                             : (c->shelve_ms > 0 ? INT64_MAX : 0),
        };
        cmdp = &cmd;
    }
    for (int round = 0; round < 2; round++) {
        bool was_cond = al->a.condition;

        rc = alarm_step(&al->a, al->cfg, ev, cmdp, w->mono_ns, &t);
        if (rc < 0)
            return rc;
        if (rc == ALARM_STEP_NO_CHANGE && c == NULL && t.condition == was_cond)
            return rc; /* a re-alarm of an alarm already unacknowledged, a stale timer */
        account(rt, i, &t, w);
        /* Real evidence of a true condition makes a drill real (promote()). */
        if (c == NULL && !(w->flags & MSG_F_TEST) && t.condition)
            promote(rt, i);
        emit_step(rt, i, &t, w, t.recovered ? NULL : c);
        publish(rt, i);
        /* A corrupt record was made safe first; the event itself still has to apply. */
        if (!t.recovered)
            break;
    }
    return rc;
}

/* The alarm events of one condition's rules bits, in the order they happened. */
static void cond_steps(struct rtloop *rt, uint32_t point, unsigned cond, unsigned bits,
                       bool active_now, const struct rt_when *w)
{
    uint32_t i = rt->points[point].alarm_of[cond];
    unsigned toggles =
        ((bits & RULES_EV_ACTIVATED) ? 1 : 0) + ((bits & RULES_EV_CLEARED) ? 1 : 0);
    bool was_active = active_now != (toggles == 1);

    if (bits == 0 || i == RT_NONE)
        return;
    if (was_active) {
        if (bits & RULES_EV_REALARM)
            (void)step(rt, i, ALARM_EV_REALARM, NULL, w);
        if (bits & RULES_EV_CLEARED)
            (void)step(rt, i, ALARM_EV_RTN, NULL, w);
        if (bits & RULES_EV_ACTIVATED)
            (void)step(rt, i, ALARM_EV_ALM, NULL, w);
    } else {
        if (bits & RULES_EV_ACTIVATED)
            (void)step(rt, i, ALARM_EV_ALM, NULL, w);
        if (bits & RULES_EV_REALARM)
            (void)step(rt, i, ALARM_EV_REALARM, NULL, w);
        if (bits & RULES_EV_CLEARED)
            (void)step(rt, i, ALARM_EV_RTN, NULL, w);
    }
}

/* Journal whether a point is in maintenance now (a change, or a resync of one). */
static void emit_maint(struct rtloop *rt, uint32_t point, const struct rt_when *w)
{
    const struct rt_point *p = &rt->points[point];
    struct msg_event ev = {
        .point = point,
        .type = MSG_EV_MAINT,
        .limit = MSG_LIMIT_MAINT,
        .flags = (uint8_t)((w->flags & MSG_F_TEST) |
                           (p->st.maintenance ? MSG_F_CONDITION : 0)),
        .quality = w->quality,
        .value = p->st.value,
        .setpoint = (double)NAN,
        .deadband = (double)NAN,
        .mono_ns = w->mono_ns,
        .utc_ms = w->utc_ms,
        .since_utc_ms = w->utc_ms,
    };

    (void)push_event(rt, &ev);
}

/* Turn one rules step's event bits into alarm steps and events. */
static void apply_rules(struct rtloop *rt, uint32_t point, uint32_t out,
                        const struct rt_when *w)
{
    const struct rt_point *p = &rt->points[point];
    unsigned maint;

    if (out == 0)
        return;
    for (unsigned k = 0; k < p->cfg.n_limits; k++)
        cond_steps(rt, point, k, rules_events(out, k), p->st.limits[k].active, w);
    cond_steps(rt, point, RULES_COND_ROC_RISE, rules_events(out, RULES_COND_ROC_RISE),
               p->st.roc.rise_active, w);
    cond_steps(rt, point, RULES_COND_ROC_FALL, rules_events(out, RULES_COND_ROC_FALL),
               p->st.roc.fall_active, w);
    cond_steps(rt, point, RULES_COND_FAULT, rules_events(out, RULES_COND_FAULT),
               p->st.fault, w);
    maint = rules_events(out, RULES_COND_MAINT);
    if (maint != 0)
        emit_maint(rt, point, w);
    if (rt->cfg->points[point].area < rt->cfg->n_areas)
        rt->areas[rt->cfg->points[point].area].dirty = true;
}

static void evaluate(struct rtloop *rt, const struct msg_sample *s)
{
    struct rt_point *p;
    struct rt_when w;
    uint32_t out;

    if (s->point >= rt->cfg->n_points)
        return;
    p = &rt->points[s->point];
    /*
     * A sample of bad quality is not a number: the rules neither raise nor clear a limit
     * on it, they time it towards the instrument fault instead.
     */
    out = rules_point_sample(&p->cfg, &p->st, s->quality, s->value, s->mono_ns);
    bool left_test = (p->last_flags & MSG_F_TEST) && !(s->flags & MSG_F_TEST);

    /* A member going in or out of test mode changes what its area's vote rests on. */
    if (((p->last_flags ^ s->flags) & MSG_F_TEST) &&
        rt->cfg->points[s->point].area < rt->cfg->n_areas)
        rt->areas[rt->cfg->points[s->point].area].dirty = true;
    p->last_quality = s->quality;
    p->last_flags = s->flags;
    if (!ring_push(rt->readings, s))
        count(&rt->readings_dropped, 1);
    w = (struct rt_when){s->mono_ns, s->utc_ms, s->quality, s->flags};
    apply_rules(rt, s->point, out, &w);
    /*
     * The device left test mode: an alarm whose condition is still true on this real
     * sample is real now. One whose condition has gone (a drill that was not reset) stays
     * a drill: it must not sound the plant's siren in clean air.
     */
    if (left_test) {
        for (unsigned c = 0; c < RT_CONDS; c++) {
            uint32_t i = p->alarm_of[c];

            if (i != RT_NONE && rt->alarms[i].a.condition)
                promote(rt, i);
        }
    }
}

/* Lazily read the wall clock once per cycle, only when something needs it. */
static int64_t cycle_utc(int64_t *utc)
{
    if (*utc == 0)
        *utc = pgtime_utc_ms();
    return *utc;
}

/*
 * Whether to take more work: yes when the event ring has room for everything it could
 * cause; no while the recorder catches up, for at most RTLOOP_HOLD_MAX_NS; yes again
 * after that, so that a dead disk delays no alarm and no relay by more than that.
 */
static bool event_room(struct rtloop *rt, int64_t now)
{
    size_t space = ring_space(rt->events);

    /*
     * After a hold has run out, a recorder that frees a few slots at a time must not buy
     * a new full hold each time: the loop waits again only once the ring is half empty,
     * which is when the recorder has shown it is really back.
     */
    if (rt->hold_spent && space >= ring_capacity(rt->events) / 2)
        rt->hold_spent = false;
    if (space >= RTLOOP_EVENTS_PER_SAMPLE && !rt->hold_spent) {
        rt->held_since_ns = 0;
        return true;
    }
    if (rt->hold_spent)
        return true;
    count(&rt->backpressure, 1);
    if (rt->held_since_ns == 0)
        rt->held_since_ns = now;
    if (now - rt->held_since_ns < RTLOOP_HOLD_MAX_NS)
        return false;
    rt->hold_spent = true;
    return true;
}

/*
 * Journal every alarm whose steps found no room, as it stands now: one MSG_EV_RESYNC
 * event each, from the state the journal last recorded to the current one, so that the
 * store's saved states and the receivers catch up. Runs only while some alarm waits
 * and the ring has room to spare.
 */
static void resync(struct rtloop *rt, int64_t now, int64_t *utc)
{
    if (!rt->resync_pending)
        return;
    for (uint32_t i = 0; i < rt->n_alarms; i++) {
        struct rt_alarm *al = &rt->alarms[i];
        struct msg_event ev;
        struct rt_when w;

        if (!al->unjournalled)
            continue;
        if (ring_space(rt->events) < RTLOOP_EVENTS_PER_SAMPLE)
            return; /* the rest when there is room */
        w = (struct rt_when){now, cycle_utc(utc), MSG_Q_GOOD, 0};
        if (al->cond < RT_CONDS) {
            w.quality = rt->points[al->point].last_quality;
            w.flags = rt->points[al->point].last_flags;
        }
        ev = alarm_event(rt, i, MSG_EV_RESYNC, &w);
        ev.event = ALARM_EVENT_COUNT;
        ev.from = al->journalled;
        ev.to = al->a.state;
        /*
         * A receiver that pops up alarms on annunciate must see one raised while the
         * journal was stuck: the resync annunciates when the alarm is unacknowledged now
         * and was not as the journal last had it.
         */
        if (alarm_state_unack(al->a.state) &&
            (al->journalled >= ALARM_STATE_COUNT || !alarm_state_unack(al->journalled)))
            ev.flags |= MSG_F_ANNUNCIATE;
        if (al->recovered)
            ev.flags |= MSG_F_RECOVERED;
        al->unjournalled = false;
        if (push_event(rt, &ev)) {
            al->seq = ev.seq;
            al->journalled = al->a.state;
            al->recovered = false;
            publish(rt, i);
        }
    }
    for (uint32_t i = 0; i < rt->cfg->n_points; i++) {
        struct rt_point *p = &rt->points[i];
        struct rt_when w;

        if (!p->maint_unjournalled)
            continue;
        if (ring_space(rt->events) < RTLOOP_EVENTS_PER_SAMPLE)
            return;
        w = (struct rt_when){now, cycle_utc(utc), p->last_quality, p->last_flags};
        p->maint_unjournalled = false;
        emit_maint(rt, i, &w);
    }
    rt->resync_pending = false;
}

/*
 * Run the points whose delays are due. A plain scan is cheap (a few ns per point with
 * nothing due), and it needs no timer structure that could overflow.
 */
static void run_timers(struct rtloop *rt, int64_t now, int64_t *utc)
{
    for (uint32_t i = 0; i < rt->cfg->n_points; i++) {
        struct rt_point *p = &rt->points[i];
        struct rt_when w;
        uint32_t out;

        if (rules_point_due(&p->st) > now)
            continue;
        if (!event_room(rt, now))
            return; /* the rest next cycle: a timer is late, an event is never lost */
        out = rules_point_tick(&p->cfg, &p->st, now);
        if (out == 0)
            continue;
        w = (struct rt_when){now, cycle_utc(utc), p->last_quality, p->last_flags};
        apply_rules(rt, i, out, &w);
    }
}

/* End the shelves that are due. Scans only when the earliest deadline has come. */
static void run_shelves(struct rtloop *rt, int64_t now, int64_t *utc)
{
    int64_t next = RULES_NEVER;

    if (now < rt->shelve_next_ns)
        return;
    for (uint32_t i = 0; i < rt->n_alarms; i++) {
        struct rt_alarm *al = &rt->alarms[i];

        if (al->a.state != ALARM_SHELVED)
            continue;
        if (alarm_due(&al->a, now)) {
            if (!event_room(rt, now)) {
                next = now; /* the rest next cycle */
                continue;
            }
            struct rt_when w = {now, cycle_utc(utc), MSG_Q_GOOD, 0};

            if (al->cond < RT_CONDS) {
                w.quality = rt->points[al->point].last_quality;
                w.flags = rt->points[al->point].last_flags;
            }
            (void)step(rt, i, ALARM_EV_SHELVE_EXPIRED, NULL, &w);
        }
        if (al->a.state == ALARM_SHELVED && al->a.shelve_deadline_ns < next)
            next = al->a.shelve_deadline_ns;
    }
    rt->shelve_next_ns = next;
}

/* Count the votes of the areas whose members changed. */
static void run_votes(struct rtloop *rt, int64_t now, int64_t *utc)
{
    for (size_t a = 0; a < rt->cfg->n_areas; a++) {
        struct rt_area *ar = &rt->areas[a];
        bool cond, real = false;

        if (!ar->dirty || ar->vote_alarm == RT_NONE) {
            ar->dirty = false;
            continue;
        }
        if (!event_room(rt, now))
            return;
        ar->dirty = false;
        for (size_t m = 0; m < ar->n_members; m++) {
            const struct rt_point *p = &rt->points[ar->members[m]];

            ar->scratch[m] = rules_point_member(&p->cfg, &p->st);
            if (ar->scratch[m].alarm)
                real |= !(p->last_flags & MSG_F_TEST);
        }
        cond = rules_vote(&rt->cfg->areas[a].vote, ar->scratch, ar->n_members);
        if (cond != rt->alarms[ar->vote_alarm].a.condition) {
            /* A vote carried by drills alone is a drill: it drives the test relays. */
            struct rt_when w = {now, cycle_utc(utc), MSG_Q_GOOD,
                                (uint8_t)(cond && !real ? MSG_F_TEST : 0)};

            (void)step(rt, ar->vote_alarm, cond ? ALARM_EV_ALM : ALARM_EV_RTN, NULL, &w);
        }
        if (cond && real)
            promote(rt, ar->vote_alarm);
    }
}

static enum alarm_event command_event(uint8_t op)
{
    switch (op) {
    case MSG_CMD_ACK:
        return ALARM_EV_ACK;
    case MSG_CMD_RESET:
        return ALARM_EV_RESET;
    case MSG_CMD_SHELVE:
        return ALARM_EV_SHELVE;
    case MSG_CMD_UNSHELVE:
        return ALARM_EV_UNSHELVE;
    case MSG_CMD_OOS:
        return ALARM_EV_OOS;
    case MSG_CMD_RTS:
        return ALARM_EV_RTS;
    default:
        return ALARM_EVENT_COUNT;
    }
}

/* Carry out one operator command and answer it. Every command leaves one event. */
static void run_command(struct rtloop *rt, const struct rtloop_source *src,
                        struct msg_command *c, int64_t now, int64_t *utc)
{
    struct msg_cmd_result res = {.req = c->req};
    struct rt_when w = {now, cycle_utc(utc), MSG_Q_GOOD, 0};
    uint64_t gaps = atomic_load_explicit(&rt->journal_gaps, memory_order_relaxed);
    uint32_t i = RT_NONE;
    int rc;

    /* A source's strings are not trusted to be terminated. */
    c->user[sizeof(c->user) - 1] = '\0';
    c->reason[sizeof(c->reason) - 1] = '\0';
    count(&rt->commands, 1);
    if (c->op == MSG_CMD_SILENCE) {
        struct msg_event ev = {
            .req = c->req,
            .point = c->point,
            .type = MSG_EV_SILENCE,
            .limit = MSG_LIMIT_COUNT,
            .event = c->op,
            .source = c->source,
            .value = (double)NAN,
            .setpoint = (double)NAN,
            .deadband = (double)NAN,
            .mono_ns = now,
            .utc_ms = w.utc_ms,
            .since_utc_ms = w.utc_ms,
        };

        copy_text(ev.user, sizeof(ev.user), c->user);
        copy_text(ev.reason, sizeof(ev.reason), c->reason);
        if (c->deadline_ns != 0 && now > c->deadline_ns) {
            ev.type = MSG_EV_REJECTED;
            ev.status = -ALARM_R_EXPIRED;
        } else if (c->user[0] == '\0' || c->rights == 0) {
            ev.type = MSG_EV_REJECTED;
            ev.status = -ALARM_R_NOT_AUTHORISED;
        } else if (c->point != MSG_POINT_ALL && c->point >= rt->cfg->n_areas) {
            ev.type = MSG_EV_REJECTED;
            ev.status = -ALARM_R_INVALID;
        } else if (outputs_silence(&rt->out, rt->cfg, c->point) == 0) {
            ev.status = ALARM_STEP_NO_CHANGE; /* nothing was sounding */
        }
        if (ev.type == MSG_EV_REJECTED)
            count(&rt->rejected, 1);
        (void)push_event(rt, &ev);
        res.status = ev.status;
        res.seq = ev.seq;
        res.journalled =
            atomic_load_explicit(&rt->journal_gaps, memory_order_relaxed) == gaps;
        (void)ring_push(src->results, &res);
        return;
    }
    if (command_event(c->op) != ALARM_EVENT_COUNT)
        i = find_alarm(rt, c->point, c->limit);
    if (i != RT_NONE)
        res.from = rt->alarms[i].a.state;
    if (command_event(c->op) == ALARM_EVENT_COUNT)
        rc = -ALARM_R_INVALID;
    else if (i == RT_NONE)
        rc = -ALARM_R_NO_SUCH_ALARM;
    else if (c->deadline_ns != 0 && now > c->deadline_ns)
        rc = -ALARM_R_EXPIRED;
    else {
        if (rt->alarms[i].cond < RT_CONDS)
            w.flags = rt->points[rt->alarms[i].point].last_flags;
        rc = step(rt, i, command_event(c->op), c, &w);
    }
    if (rc < 0) {
        struct msg_event ev = {
            .req = c->req,
            .point = c->point,
            .type = MSG_EV_REJECTED,
            .limit = c->limit,
            .event = c->op,
            .from = res.from,
            .to = res.from,
            .source = c->source,
            .status = (int16_t)rc,
            .value = (double)NAN,
            .setpoint = (double)NAN,
            .deadband = (double)NAN,
            .mono_ns = now,
            .utc_ms = w.utc_ms,
        };

        if (i != RT_NONE) {
            ev.priority = rt->alarms[i].cfg->priority;
            ev.since_utc_ms = rt->alarms[i].since_utc_ms;
        }
        copy_text(ev.user, sizeof(ev.user), c->user);
        copy_text(ev.reason, sizeof(ev.reason), c->reason);
        count(&rt->rejected, 1);
        (void)push_event(rt, &ev);
        res.seq = ev.seq;
        res.to = res.from;
    } else {
        res.seq = rt->alarms[i].seq;
        res.to = rt->alarms[i].a.state;
    }
    res.status = (int16_t)rc;
    /* A step that found no room in the journal left seq naming an older event. */
    res.journalled =
        atomic_load_explicit(&rt->journal_gaps, memory_order_relaxed) == gaps;
    (void)ring_push(src->results, &res);
}

/* Take the sources' commands, as far as their answers and events have room. */
static bool drain_commands(struct rtloop *rt, int64_t now, int64_t *utc)
{
    bool answered = false;

    for (size_t s = 0; s < rt->n_sources; s++) {
        const struct rtloop_source *src = &rt->sources[s];
        bool any = false;

        for (int n = 0; n < RTLOOP_MAX_COMMANDS_PER_CYCLE; n++) {
            struct msg_command c;

            if (ring_space(src->results) == 0 || !event_room(rt, now))
                break;
            if (!ring_pop(src->commands, &c))
                break;
            /* The expiry is judged on the clock now, not at the cycle's wake-up. */
            run_command(rt, src, &c, pgtime_mono_ns(), utc);
            any = true;
        }
        if (any && src->wake_fd >= 0) {
            uint64_t one = 1;

            (void)!write(src->wake_fd, &one, sizeof(one));
        }
        answered |= any;
    }
    return answered;
}

/* Drain the sample rings. */
static void drain(struct rtloop *rt, int64_t now)
{
    struct msg_sample s;
    size_t taken = 0;

    for (size_t i = 0; i < rt->n_rings; i++) {
        struct ring *in = rt->sample_rings[i];

        while (taken < RTLOOP_MAX_SAMPLES_PER_CYCLE) {
            if (ring_count(in) == 0 || !event_room(rt, now))
                break;
            if (!ring_pop(in, &s))
                break;
            taken++;
            evaluate(rt, &s);
        }
    }
    count(&rt->samples, taken);
}

/* Hand the relay word to the output thread when it changed. */
static void drive_outputs(struct rtloop *rt)
{
    uint32_t word = outputs_word(&rt->out, rt->cfg);

    if (word == rt->word)
        return;
    rt->word = word;
    atomic_store_explicit(&rt->out_word, word, memory_order_release);
    if (rt->outputs_fd >= 0) {
        uint64_t one = 1;

        (void)!write(rt->outputs_fd, &one, sizeof(one));
    }
}

static void wake_recorder(struct rtloop *rt)
{
    uint64_t one = 1;

    /* Non-blocking eventfd: at worst EAGAIN when the counter is saturated, never a wait.
     */
    if (rt->wake_fd >= 0)
        (void)!write(rt->wake_fd, &one, sizeof(one));
}

static void *rtloop_main(void *arg)
{
    struct rtloop *rt = arg;
    volatile unsigned char stack_touch[RTLOOP_STACK_TOUCH];
    struct timespec next_ts;
    int64_t next;

    /* Fault the stack in now so the first cycles do not take page faults. */
    for (size_t i = 0; i < sizeof(stack_touch); i += 4096)
        stack_touch[i] = 0;

    next = pgtime_mono_ns() + rt->period_ns;
    while (!atomic_load_explicit(&rt->stop, memory_order_acquire)) {
        int64_t wake, end, late;

        next_ts = pgtime_ns_to_ts(next);
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next_ts, NULL) == EINTR)
            ;
        wake = pgtime_mono_ns();
        late = wake - next;
        keep_max(&rt->max_late_ns, late);
        count(&rt->late_hist[hist_bucket(late)], 1);

        {
            uint64_t before = rt->next_seq;
            int64_t utc = 0;

            /* The cycle's five steps, in the order the issue lists them. */
            resync(rt, wake, &utc);
            (void)drain_commands(rt, wake, &utc);
            drain(rt, wake);
            run_timers(rt, wake, &utc);
            run_shelves(rt, wake, &utc);
            run_votes(rt, wake, &utc);
            drive_outputs(rt);
            if (rt->next_seq != before)
                wake_recorder(rt);
        }

        end = pgtime_mono_ns();
        keep_max(&rt->max_exec_ns, end - wake);
        count(&rt->cycles, 1);
        next += rt->period_ns;
        if (end > next) {
            /* Overran: skip the periods already lost instead of running back to back. */
            count(&rt->overruns, 1);
            while (next <= end) {
                next += rt->period_ns;
                count(&rt->missed, 1);
            }
        }
    }

    /*
     * Final drain. The pollers have stopped, so whatever is in the rings is all there is.
     * The recorder is still running; if the event ring is full, give it time to empty
     * rather than lose an event.
     */
    for (int tries = 0; tries < 1000; tries++) {
        uint64_t before = rt->next_seq;
        int64_t utc = 0;
        bool more = false;

        resync(rt, pgtime_mono_ns(), &utc);
        drain(rt, pgtime_mono_ns());
        run_votes(rt, pgtime_mono_ns(), &utc);
        drive_outputs(rt);
        if (rt->next_seq != before)
            wake_recorder(rt);
        for (size_t i = 0; i < rt->n_rings; i++)
            more |= ring_count(rt->sample_rings[i]) != 0;
        more |= rt->resync_pending;
        if (!more)
            break;
        next_ts = pgtime_ns_to_ts(rt->period_ns);
        (void)clock_nanosleep(CLOCK_MONOTONIC, 0, &next_ts, NULL);
    }
    return NULL;
}

/* ---- end of the real-time path ---- */

int rtloop_start(struct rtloop *rt, bool *fifo, bool *pinned)
{
    pthread_attr_t attr;
    struct sched_param sp = {.sched_priority = rt->cfg->rt.priority};
    int rc;

    *fifo = false;
    *pinned = false;
    (void)pthread_attr_init(&attr);
    (void)pthread_attr_setstacksize(&attr, RTLOOP_STACK_SIZE);
    (void)pthread_attr_setinheritsched(&attr, PTHREAD_EXPLICIT_SCHED);
    (void)pthread_attr_setschedpolicy(&attr, SCHED_FIFO);
    (void)pthread_attr_setschedparam(&attr, &sp);
    if (rt->cfg->rt.cpu >= 0) {
        cpu_set_t set;

        CPU_ZERO(&set);
        CPU_SET(rt->cfg->rt.cpu, &set);
        *pinned = pthread_attr_setaffinity_np(&attr, sizeof(set), &set) == 0;
    }
    rc = pthread_create(&rt->thread, &attr, rtloop_main, rt);
    if (rc == EPERM || rc == EINVAL) {
        /* No right to real-time scheduling (or no such CPU): run normally instead. */
        (void)pthread_attr_destroy(&attr);
        (void)pthread_attr_init(&attr);
        (void)pthread_attr_setstacksize(&attr, RTLOOP_STACK_SIZE);
        *pinned = false;
        if (rt->cfg->rt.cpu >= 0) {
            cpu_set_t set;

            CPU_ZERO(&set);
            CPU_SET(rt->cfg->rt.cpu, &set);
            *pinned = pthread_attr_setaffinity_np(&attr, sizeof(set), &set) == 0;
        }
        rc = pthread_create(&rt->thread, &attr, rtloop_main, rt);
        if (rc == EINVAL && *pinned) {
            *pinned = false;
            (void)pthread_attr_destroy(&attr);
            (void)pthread_attr_init(&attr);
            (void)pthread_attr_setstacksize(&attr, RTLOOP_STACK_SIZE);
            rc = pthread_create(&rt->thread, &attr, rtloop_main, rt);
        }
    } else if (rc == 0) {
        *fifo = true;
    }
    (void)pthread_attr_destroy(&attr);
    if (rc != 0)
        return -rc;
    atomic_store(&rt->fifo, *fifo);
    rt->started = true;
    return 0;
}

void rtloop_stop(struct rtloop *rt)
{
    if (!rt->started)
        return;
    atomic_store_explicit(&rt->stop, true, memory_order_release);
    (void)pthread_join(rt->thread, NULL);
    rt->started = false;
}

void rtloop_stats(struct rtloop *rt, struct rtloop_stats *out)
{
    out->cycles = atomic_load(&rt->cycles);
    out->overruns = atomic_load(&rt->overruns);
    out->missed = atomic_load(&rt->missed);
    out->max_late_ns = atomic_load(&rt->max_late_ns);
    out->max_exec_ns = atomic_load(&rt->max_exec_ns);
    for (size_t i = 0; i < RTLOOP_HIST_BUCKETS; i++)
        out->late_hist[i] = atomic_load(&rt->late_hist[i]);
    out->samples = atomic_load(&rt->samples);
    out->events = atomic_load(&rt->events_out);
    out->commands = atomic_load(&rt->commands);
    out->commands_rejected = atomic_load(&rt->rejected);
    out->journal_gaps = atomic_load(&rt->journal_gaps);
    out->alarms_active = atomic_load(&rt->n_active);
    out->alarms_unack = atomic_load(&rt->n_unack);
    out->outputs = atomic_load(&rt->out_word);
    out->readings_dropped = atomic_load(&rt->readings_dropped);
    out->event_backpressure = atomic_load(&rt->backpressure);
    out->fifo = atomic_load(&rt->fifo);
}

uint32_t rtloop_outputs(struct rtloop *rt)
{
    return atomic_load_explicit(&rt->out_word, memory_order_acquire);
}

size_t rtloop_alarm_count(const struct rtloop *rt)
{
    return rt->n_alarms;
}

int rtloop_alarm_get(struct rtloop *rt, size_t i, struct rtloop_alarm *out)
{
    const struct rt_view *v;

    if (i >= rt->n_alarms)
        return -ENOENT;
    v = &rt->views[i];
    for (int tries = 0; tries < 1000; tries++) {
        uint32_t g1 = atomic_load_explicit(&v->gen, memory_order_acquire);
        uint32_t g2;

        if (g1 & 1u)
            continue;
        *out = v->v;
        atomic_thread_fence(memory_order_acquire);
        g2 = atomic_load_explicit(&v->gen, memory_order_relaxed);
        if (g1 == g2)
            return 0;
    }
    return -EAGAIN;
}

/* The longest past a restored time may reach back: a century, far from overflow. */
#define RT_RESTORE_MAX_AGE_NS (INT64_C(100) * 366 * 86400 * PGTIME_NS_PER_S)

/*
 * to_ms - from_ms in ns, clamped to 0 .. max_ns, for times read back from the store: a
 * damaged record or a wall clock set back can neither overflow nor stretch a shelve.
 */
static int64_t span_ns(int64_t from_ms, int64_t to_ms, int64_t max_ns)
{
    uint64_t d;

    if (to_ms <= from_ms || max_ns <= 0)
        return 0;
    d = (uint64_t)to_ms - (uint64_t)from_ms;
    return d >= (uint64_t)(max_ns / PGTIME_NS_PER_MS) ? max_ns
                                                      : (int64_t)d * PGTIME_NS_PER_MS;
}

/* Whether a saved record could have come from alarm_step(); see alarm.h. */
static bool sane(const struct rtloop_alarm *s, bool cond)
{
    /*
     * Nothing in this gateway suppresses an alarm (there is no design suppression
     * logic yet), so a saved "suppressed" is damage: nothing would ever lift it.
     */
    if (s->state >= ALARM_STATE_COUNT || s->state == ALARM_SUPPRESSED)
        return false;
    if (s->state == ALARM_SHELVED && s->shelve != ALARM_SHELVE_TIMED &&
        s->shelve != ALARM_SHELVE_ONE_SHOT)
        return false;
    return !((s->state == ALARM_NORMAL || s->state == ALARM_RTN_UNACK) && cond);
}

int rtloop_restore(struct rtloop *rt, const struct rtloop_alarm *saved,
                   int64_t now_utc_ms)
{
    uint32_t i = find_alarm(rt, saved->point, saved->limit);
    int64_t now = pgtime_mono_ns();
    struct rt_alarm *al;
    struct rt_area *ar;
    bool cond = (saved->flags & MSG_F_CONDITION) != 0;
    int recovered = 0;

    if (i == RT_NONE)
        return -ENOENT;
    al = &rt->alarms[i];
    ar = &rt->areas[al->area];
    al->a.state = saved->state;
    al->a.shelve = saved->state == ALARM_SHELVED ? saved->shelve : ALARM_SHELVE_NONE;
    if (!sane(saved, cond)) {
        /* The safe state: active and annunciated, never quieter than the record. */
        al->a.state = ALARM_UNACK;
        al->a.shelve = ALARM_SHELVE_NONE;
        cond = true;
        recovered = 1;
    }
    al->a.condition = cond;
    al->a.since_ns =
        now - span_ns(saved->since_utc_ms, now_utc_ms, RT_RESTORE_MAX_AGE_NS);
    al->a.condition_ns = al->a.since_ns;
    al->since_utc_ms = saved->since_utc_ms;
    al->active_utc_ms = saved->active_utc_ms;
    al->seq = saved->seq;
    /*
     * The journal and the store hold the record as saved. One made safe is journalled
     * again as it now stands in the first cycle (a resync event, flagged recovered), so
     * that the store and the receivers stop showing the damaged state.
     */
    al->journalled = saved->state;
    if (recovered) {
        al->unjournalled = true;
        al->recovered = true;
        rt->resync_pending = true;
    }
    al->shelve_until_utc_ms = 0;
    if (al->a.state == ALARM_SHELVED) {
        /*
         * The shelve goes on with what was left of it, never more than the alarm's
         * maximum (none if it is not shelvable now); a past deadline ends it at once.
         */
        int64_t left_ns =
            span_ns(now_utc_ms, saved->shelve_until_utc_ms, al->cfg->max_shelve_ns);

        al->a.shelve_deadline_ns = now + left_ns;
        al->shelve_until_utc_ms = now_utc_ms + left_ns / PGTIME_NS_PER_MS;
        if (al->a.shelve_deadline_ns < rt->shelve_next_ns)
            rt->shelve_next_ns = al->a.shelve_deadline_ns;
    }
    if (cond && al->cond < RT_CONDS)
        rules_point_assume(&rt->points[al->point].cfg, &rt->points[al->point].st,
                           al->cond, now);
    ar->dirty = true;
    if (alarm_state_active(al->a.state)) {
        struct alarm_transition t = {
            .from = ALARM_NORMAL,
            .to = al->a.state,
            .event = ALARM_EV_ALM,
            .annunciate = alarm_state_unack(al->a.state),
            .condition = cond,
        };
        /*
         * The plant's relays, even for a record flagged test: the flag says only that
         * the alarm's last event came from a device in test mode (an ack during a
         * proof test, say), not that the condition is a drill. When unsure, sound.
         */
        struct rt_when w = {now, now_utc_ms, MSG_Q_GOOD, 0};
        int64_t since = al->since_utc_ms, active = al->active_utc_ms;

        t.at_ns = now - span_ns(saved->active_utc_ms, now_utc_ms, RT_RESTORE_MAX_AGE_NS);
        struct alarm_area keep = ar->fo;
        bool kept_flag = keep.has_first && keep.first_out < rt->n_alarms &&
                         rt->alarms[keep.first_out].a.first_out;
        uint32_t active_now;

        /*
         * account() counts the alarm in its area and drives the relays; the times stay
         * saved, and the first-out is the records' (below), not the order of restoring.
         */
        rt->restoring = true;
        account(rt, i, &t, &w);
        rt->restoring = false;
        active_now = ar->fo.active;
        ar->fo = keep;
        ar->fo.active = active_now;
        if (keep.has_first && keep.first_out < rt->n_alarms && keep.first_out != i) {
            rt->alarms[keep.first_out].a.first_out = kept_flag;
            publish(rt, keep.first_out);
        }
        al->since_utc_ms = since;
        al->active_utc_ms = active;
    }
    /*
     * The first-out is what the record says, not what the order of restoring makes of
     * it: the holder may be shelved or out of service by now, and still be the alarm
     * that started the series the officers are working through.
     */
    al->a.first_out = false;
    /*
     * A holder's flag is cleared in memory when a new series starts, without an event of
     * its own, so an old series' first-out can still carry the flag in the store. The
     * newest activation among the flagged records is the current series'.
     */
    if ((saved->flags & MSG_F_FIRST_OUT) &&
        (!ar->restored_first || saved->active_utc_ms > ar->restored_first_ms)) {
        ar->restored_first = true;
        ar->restored_first_ms = saved->active_utc_ms;
        if (ar->fo.has_first && ar->fo.first_out != i &&
            ar->fo.first_out < rt->n_alarms) {
            rt->alarms[ar->fo.first_out].a.first_out = false;
            publish(rt, ar->fo.first_out);
        }
        ar->fo.has_first = true;
        ar->fo.first_out = i;
        ar->fo.first_ns =
            now - span_ns(saved->active_utc_ms, now_utc_ms, RT_RESTORE_MAX_AGE_NS);
        al->a.first_out = true;
    }
    publish(rt, i);
    return recovered;
}
