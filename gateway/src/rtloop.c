#include "rtloop.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "msg.h"
#include "pgtime.h"
#include "rules.h"

#define RTLOOP_STACK_SIZE  (256 * 1024)
#define RTLOOP_STACK_TOUCH (64 * 1024)
/* The most events one sample or one timer can cause: every condition of its point. */
#define RTLOOP_EVENTS_PER_SAMPLE RULES_MAX_EVENTS
/* Bound one cycle's work so a flood of samples cannot stretch a cycle without limit. */
#define RTLOOP_MAX_SAMPLES_PER_CYCLE 32768

/*
 * The loop's private view of one point: its rule configuration, built once from the site
 * config, the rules' state, and what the last sample said, for events that a timer
 * decides (an on-delay or a fault delay running out) rather than a sample.
 */
struct rt_point {
    struct rules_point_cfg cfg;
    struct rules_point_state st;
    enum msg_limit limit_of[RULES_MAX_LIMITS]; /* what each configured limit is called */
    uint8_t last_quality;
    uint8_t last_flags;
};

struct rtloop {
    const struct config *cfg;
    struct ring *const *sample_rings;
    size_t n_rings;
    struct ring *events;
    struct ring *readings;
    int wake_fd;
    uint64_t next_seq;
    int64_t period_ns;

    struct rt_point *points;

    pthread_t thread;
    bool started;
    atomic_bool stop;

    /*
     * Statistics are written only by the loop thread and read by others; relaxed atomics
     * make each counter tear-free without ordering cost on the RT path.
     */
    _Atomic uint64_t cycles, overruns, missed, samples, events_out, readings_dropped,
        backpressure;
    _Atomic int64_t max_late_ns, max_exec_ns;
    _Atomic uint64_t late_hist[RTLOOP_HIST_BUCKETS];
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

struct rtloop *rtloop_new(const struct config *cfg, struct ring *const *sample_rings,
                          size_t n_rings, struct ring *events, struct ring *readings,
                          uint64_t first_seq, int wake_fd)
{
    struct rtloop *rt = calloc(1, sizeof(*rt));

    if (rt == NULL)
        return NULL;
    rt->points = calloc(cfg->n_points ? cfg->n_points : 1, sizeof(*rt->points));
    if (rt->points == NULL) {
        free(rt);
        errno = ENOMEM;
        return NULL;
    }
    for (size_t i = 0; i < cfg->n_points; i++) {
        const struct config_point *pt = &cfg->points[i];
        struct rt_point *p = &rt->points[i];

        /* The config resolved and checked the rules when it was loaded. */
        p->cfg = pt->rules;
        for (unsigned k = 0; k < p->cfg.n_limits && k < RULES_MAX_LIMITS; k++)
            p->limit_of[k] = limit_code(p->cfg.limits[k].kind);
        rules_point_init(&p->st);
        p->last_quality = MSG_Q_COUNT;
    }
    rt->cfg = cfg;
    rt->sample_rings = sample_rings;
    rt->n_rings = n_rings;
    rt->events = events;
    rt->readings = readings;
    rt->wake_fd = wake_fd;
    rt->next_seq = first_seq;
    rt->period_ns = (int64_t)cfg->rt.period_ms * PGTIME_NS_PER_MS;
    return rt;
}

void rtloop_free(struct rtloop *rt)
{
    if (rt == NULL)
        return;
    rtloop_stop(rt);
    free(rt->points);
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

/* ---- the real-time path: everything below until rtloop_main() must stay allocation-,
 * ---- log- and syscall-free (except the eventfd wake). */

static bool emit(struct rtloop *rt, uint32_t point, enum msg_event_kind kind,
                 enum msg_limit limit, const struct rules_limit_cfg *lim, int64_t mono_ns,
                 int64_t utc_ms)
{
    const struct rt_point *p = &rt->points[point];
    struct msg_event ev = {
        .seq = rt->next_seq,
        .point = point,
        .kind = (uint8_t)kind,
        .limit = (uint8_t)limit,
        .flags = p->last_flags,
        .quality = p->last_quality,
        /* The last good value: a fault, or a timer, has no value of its own. */
        .value = p->st.value,
        .setpoint = lim != NULL ? lim->setpoint : 0.0,
        .deadband = lim != NULL ? lim->deadband : 0.0,
        .mono_ns = mono_ns,
        .utc_ms = utc_ms,
    };

    /* Room was reserved before the sample or timer was taken, so this cannot fail. */
    if (!ring_push(rt->events, &ev))
        return false;
    rt->next_seq++;
    count(&rt->events_out, 1);
    return true;
}

/*
 * Emit one condition's activation and clear in the order they happened: a condition
 * that is active after the step was cleared first if both were reported (see
 * RULES_EV_ACTIVATED). Re-alarms are not events on the wire yet.
 */
static bool emit_cond(struct rtloop *rt, uint32_t point, unsigned ev, bool active_now,
                      enum msg_limit limit, const struct rules_limit_cfg *lim,
                      int64_t mono_ns, int64_t utc_ms)
{
    bool emitted = false;

    if ((ev & RULES_EV_CLEARED) && active_now)
        emitted |= emit(rt, point, MSG_EVENT_CLEARED, limit, lim, mono_ns, utc_ms);
    if (ev & RULES_EV_ACTIVATED)
        emitted |= emit(rt, point, MSG_EVENT_ACTIVATED, limit, lim, mono_ns, utc_ms);
    if ((ev & RULES_EV_CLEARED) && !active_now)
        emitted |= emit(rt, point, MSG_EVENT_CLEARED, limit, lim, mono_ns, utc_ms);
    return emitted;
}

/*
 * Turn one rules step's event bits into events: limits first, then the rate of change,
 * then the fault. At most RULES_MAX_EVENTS, which is what the caller reserved.
 */
static bool emit_all(struct rtloop *rt, uint32_t point, uint32_t out, int64_t mono_ns,
                     int64_t utc_ms)
{
    const struct rt_point *p = &rt->points[point];
    bool emitted = false;
    unsigned ev;

    if (out == 0)
        return false;
    for (unsigned i = 0; i < p->cfg.n_limits; i++)
        emitted |= emit_cond(rt, point, rules_events(out, i), p->st.limits[i].active,
                             p->limit_of[i], &p->cfg.limits[i], mono_ns, utc_ms);
    ev = rules_events(out, RULES_COND_ROC_RISE) | rules_events(out, RULES_COND_ROC_FALL);
    if (ev != 0) {
        /* A rate condition reports its configured rate as the set-point, no deadband. */
        struct rules_limit_cfg rate = {.setpoint = p->cfg.roc.limit};

        emitted |=
            emit_cond(rt, point, rules_events(out, RULES_COND_ROC_RISE),
                      p->st.roc.rise_active, MSG_LIMIT_ROC_RISE, &rate, mono_ns, utc_ms);
        emitted |=
            emit_cond(rt, point, rules_events(out, RULES_COND_ROC_FALL),
                      p->st.roc.fall_active, MSG_LIMIT_ROC_FALL, &rate, mono_ns, utc_ms);
    }
    ev = rules_events(out, RULES_COND_FAULT);
    if (ev & RULES_EV_ACTIVATED)
        emitted |=
            emit(rt, point, MSG_EVENT_ACTIVATED, MSG_LIMIT_FAULT, NULL, mono_ns, utc_ms);
    if (ev & RULES_EV_CLEARED)
        emitted |=
            emit(rt, point, MSG_EVENT_CLEARED, MSG_LIMIT_FAULT, NULL, mono_ns, utc_ms);
    return emitted;
}

static bool evaluate(struct rtloop *rt, const struct msg_sample *s)
{
    struct rt_point *p;
    uint32_t out;

    if (s->point >= rt->cfg->n_points)
        return false;
    p = &rt->points[s->point];
    /*
     * A sample of bad quality is not a number: the rules neither raise nor clear a limit
     * on it, they time it towards the instrument fault instead.
     */
    out = rules_point_sample(&p->cfg, &p->st, s->quality, s->value, s->mono_ns);
    p->last_quality = s->quality;
    p->last_flags = s->flags;
    if (!ring_push(rt->readings, s))
        count(&rt->readings_dropped, 1);
    return emit_all(rt, s->point, out, s->mono_ns, s->utc_ms);
}

/*
 * Run the points whose delays are due. A plain scan is cheap (a few ns per point with
 * nothing due), and it needs no timer structure that could overflow.
 */
static bool run_timers(struct rtloop *rt, int64_t now)
{
    bool emitted = false;
    int64_t utc = 0;

    for (uint32_t i = 0; i < rt->cfg->n_points; i++) {
        struct rt_point *p = &rt->points[i];
        uint32_t out;

        if (rules_point_due(&p->st) > now)
            continue;
        if (ring_space(rt->events) < RTLOOP_EVENTS_PER_SAMPLE) {
            count(&rt->backpressure, 1);
            break; /* the rest next cycle: a timer is late, an event is never lost */
        }
        out = rules_point_tick(&p->cfg, &p->st, now);
        if (out != 0 && utc == 0)
            utc = pgtime_utc_ms();
        emitted |= emit_all(rt, i, out, now, utc);
    }
    return emitted;
}

/* Drain the sample rings. Returns true if any event was emitted. */
static bool drain(struct rtloop *rt)
{
    struct msg_sample s;
    size_t taken = 0;
    bool emitted = false;

    for (size_t i = 0; i < rt->n_rings; i++) {
        struct ring *in = rt->sample_rings[i];

        while (taken < RTLOOP_MAX_SAMPLES_PER_CYCLE) {
            if (ring_space(rt->events) < RTLOOP_EVENTS_PER_SAMPLE) {
                if (ring_count(in) != 0)
                    count(&rt->backpressure, 1);
                break;
            }
            if (!ring_pop(in, &s))
                break;
            taken++;
            emitted |= evaluate(rt, &s);
        }
    }
    count(&rt->samples, taken);
    return emitted;
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

        if (drain(rt) | run_timers(rt, wake))
            wake_recorder(rt);

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
        bool more = false;

        if (drain(rt))
            wake_recorder(rt);
        for (size_t i = 0; i < rt->n_rings; i++)
            more |= ring_count(rt->sample_rings[i]) != 0;
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
    out->readings_dropped = atomic_load(&rt->readings_dropped);
    out->event_backpressure = atomic_load(&rt->backpressure);
    out->fifo = atomic_load(&rt->fifo);
}
