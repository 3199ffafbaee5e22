#include "kpi.h"

#include <errno.h>
#include <stdlib.h>

#include "alarm.h"

_Static_assert(ALARM_NORMAL == 0, "calloc must leave every alarm normal");
_Static_assert(ALARM_P1 == 1 && ALARM_P4 == KPI_PRIORITIES,
               "priorities index the per-priority arrays as priority - 1");

#define MS_PER_S INT64_C(1000)

/* What the module keeps of one alarm. */
struct kpi_alarm {
    uint8_t state;    /* enum alarm_state after the latest step */
    uint8_t priority; /* 0 until the first step or restore */
    bool condition;
    bool chattering;         /* in a chattering episode as of the latest activation */
    uint8_t n_act;           /* activations held in act_ms */
    int64_t since_ms;        /* when state was entered */
    int64_t active_since_ms; /* when the alarm last joined the active list */
    /*
     * The latest activations, newest first: enough to tell whether the next one makes
     * KPI_CHATTER_COUNT within KPI_CHATTER_MS.
     */
    int64_t act_ms[KPI_CHATTER_COUNT - 1];
};

/*
 * The 10-minute window is one counter per second and priority, not a list of
 * timestamps: the number of annunciations in 10 minutes has no legal bound (a chattering
 * alarm, a storm), but 600 seconds are always 600 counters. The price is resolution: the
 * window is whole seconds, the current one and the 599 before it, so an annunciation
 * leaves it at the start of the second 600 s after its own, up to 999 ms earlier than an
 * exact 600,000 ms window would let it go. Slot s % KPI_WINDOW_S holds second s.
 */
struct kpi {
    size_t n_alarms;
    int64_t clock_ms; /* the latest time given; never goes back */
    int64_t win_sec;  /* the window's current second; slots of later seconds are 0 */
    uint64_t win_total;
    uint64_t win_prio[KPI_PRIORITIES];
    uint32_t slot[KPI_WINDOW_S][KPI_PRIORITIES];
    uint64_t peak;
    uint64_t annunciations;
    uint64_t ann_prio[KPI_PRIORITIES];

    bool in_flood;
    uint64_t floods;
    int64_t flood_start_ms;
    int64_t flood_closed_ms; /* the time of floods that have ended */

    uint64_t chatter_episodes;
    uint64_t shelve_entries;
    int64_t shelved_closed_ms; /* the time of shelves that have ended */
    uint64_t oos_entries;
    int64_t oos_closed_ms;
    uint64_t resyncs;

    struct kpi_alarm alarms[]; /* n_alarms */
};

/* The length of [from, to], 0 when the interval is empty or reversed. */
static int64_t span(int64_t from, int64_t to)
{
    return to > from ? to - from : 0;
}

/*
 * Sums of durations over many alarms and a long run can in principle pass INT64_MAX
 * (n_alarms times the longest legal time); they stop there instead of wrapping.
 */
static int64_t sat_add(int64_t a, int64_t b)
{
    return a > INT64_MAX - b ? INT64_MAX : a + b;
}

static bool time_valid(int64_t t_ms)
{
    return t_ms >= 0 && t_ms <= KPI_TIME_MAX_MS;
}

struct kpi *kpi_new(size_t n_alarms)
{
    struct kpi *k;

    if (n_alarms > (SIZE_MAX - sizeof *k) / sizeof k->alarms[0]) {
        errno = ENOMEM;
        return NULL;
    }
    /* calloc leaves every alarm normal, condition false, nothing counted. */
    k = calloc(1, sizeof *k + n_alarms * sizeof k->alarms[0]);
    if (k == NULL) {
        errno = ENOMEM;
        return NULL;
    }
    k->n_alarms = n_alarms;
    return k;
}

void kpi_free(struct kpi *k)
{
    free(k);
}

/*
 * Moves the window to second sec, expiring every slot that falls out on the way, one
 * second at a time so that a flood ends at the exact second its window held fewer than
 * KPI_FLOOD_END. At most KPI_WINDOW_S slots are visited, however far time jumps.
 */
static void window_advance(struct kpi *k, int64_t sec)
{
    int64_t s, last;

    if (sec <= k->win_sec)
        return;
    last = sec - k->win_sec > KPI_WINDOW_S ? k->win_sec + KPI_WINDOW_S : sec;
    for (s = k->win_sec + 1; s <= last && k->win_total > 0; s++) {
        /* Slot s % KPI_WINDOW_S held second s - KPI_WINDOW_S, which leaves now. */
        uint32_t *slot = k->slot[s % KPI_WINDOW_S];

        for (int p = 0; p < KPI_PRIORITIES; p++) {
            k->win_prio[p] -= slot[p];
            k->win_total -= slot[p];
            slot[p] = 0;
        }
        if (k->in_flood && k->win_total < KPI_FLOOD_END) {
            k->in_flood = false;
            k->flood_closed_ms =
                sat_add(k->flood_closed_ms, span(k->flood_start_ms, s * MS_PER_S));
            k->flood_start_ms = 0;
        }
    }
    /* An empty window has nothing left to expire: every slot is already 0. */
    k->win_sec = sec;
}

/* Takes t_ms as the module's time: no earlier than the clock, which moves up to it. */
static int64_t clock_to(struct kpi *k, int64_t t_ms)
{
    if (t_ms > k->clock_ms)
        k->clock_ms = t_ms;
    window_advance(k, k->clock_ms / MS_PER_S);
    return k->clock_ms;
}

static void annunciation(struct kpi *k, unsigned p, int64_t t)
{
    uint32_t *slot = &k->slot[k->win_sec % KPI_WINDOW_S][p - 1];

    /*
     * 2^32 annunciations in one second cannot come from a plant. Should a runaway feed
     * get there, the extra ones are not counted at all, so that the window's totals stay
     * the sums of its slots and expire back to 0.
     */
    if (*slot == UINT32_MAX)
        return;
    (*slot)++;
    k->win_prio[p - 1]++;
    k->win_total++;
    k->annunciations++;
    k->ann_prio[p - 1]++;
    if (k->win_total > k->peak)
        k->peak = k->win_total;
    if (!k->in_flood && k->win_total > KPI_FLOOD_START) {
        k->in_flood = true;
        k->floods++;
        k->flood_start_ms = t;
    }
}

_Static_assert(KPI_CHATTER_COUNT >= 2, "chattering needs at least two activations");

/*
 * A new activation at t. An episode goes on while activations come no more than
 * KPI_CHATTER_MS apart; otherwise a new one begins when this activation and the
 * KPI_CHATTER_COUNT - 1 before it lie within KPI_CHATTER_MS. Ending an episode as soon
 * as the last 60 s hold fewer than three would make an alarm that comes back every 30 s
 * start a new episode at every activation, since its window briefly holds only two.
 */
static void activation(struct kpi *k, struct kpi_alarm *a, int64_t t)
{
    enum { KEEP = KPI_CHATTER_COUNT - 1 };

    if (!(a->chattering && a->act_ms[0] >= t - KPI_CHATTER_MS)) {
        a->chattering = a->n_act == KEEP && a->act_ms[KEEP - 1] >= t - KPI_CHATTER_MS;
        if (a->chattering)
            k->chatter_episodes++;
    }
    for (int i = KEEP - 1; i > 0; i--)
        a->act_ms[i] = a->act_ms[i - 1];
    a->act_ms[0] = t;
    if (a->n_act < KEEP)
        a->n_act++;
}

int kpi_feed(struct kpi *k, const struct kpi_step *s)
{
    struct kpi_alarm *a;
    int64_t t;
    uint8_t from;

    if (k == NULL || s == NULL || s->id >= k->n_alarms || s->priority < ALARM_P1 ||
        s->priority > ALARM_P4 || s->event >= ALARM_EVENT_COUNT ||
        s->to >= ALARM_STATE_COUNT || (s->annunciate && s->to != ALARM_UNACK) ||
        !time_valid(s->t_ms))
        return -EINVAL;

    a = &k->alarms[s->id];
    t = clock_to(k, s->t_ms);
    /* The journal's to is the truth; the state held here only tells how we got there. */
    from = a->state;
    if (s->from != from)
        k->resyncs++;

    if (s->to != from) {
        if (from == ALARM_SHELVED)
            k->shelved_closed_ms = sat_add(k->shelved_closed_ms, span(a->since_ms, t));
        else if (from == ALARM_OUT_OF_SERVICE)
            k->oos_closed_ms = sat_add(k->oos_closed_ms, span(a->since_ms, t));
        if (s->to == ALARM_SHELVED)
            k->shelve_entries++;
        else if (s->to == ALARM_OUT_OF_SERVICE)
            k->oos_entries++;
        /* Moving between active states (ack, re-alarm) does not restart stale. */
        if (alarm_state_active(s->to) && !alarm_state_active(from))
            a->active_since_ms = t;
        a->since_ms = t;
        a->state = s->to;
    }

    if (s->annunciate) {
        annunciation(k, s->priority, t);
        /* Re-alarms and returns from shelving or service never cleared: no activation. */
        if (!a->condition && s->condition)
            activation(k, a, t);
    }
    a->condition = s->condition;
    a->priority = s->priority;
    return 0;
}

int kpi_restore(struct kpi *k, uint32_t id, uint8_t priority, uint8_t state,
                bool condition, int64_t since_ms)
{
    struct kpi_alarm *a;

    if (k == NULL || id >= k->n_alarms || priority < ALARM_P1 || priority > ALARM_P4 ||
        state >= ALARM_STATE_COUNT || !time_valid(since_ms))
        return -EINVAL;

    a = &k->alarms[id];
    *a = (struct kpi_alarm){.state = state,
                            .priority = priority,
                            .condition = condition,
                            .chattering = false,
                            .n_act = 0,
                            .since_ms = since_ms,
                            /*
                             * Only the current state's entry is persisted, so an alarm
                             * that moved between active states before the restart is
                             * stale by this time at the latest.
                             */
                            .active_since_ms = since_ms};
    return 0;
}

void kpi_snapshot(struct kpi *k, int64_t now_ms, struct kpi_figures *out)
{
    int64_t now;

    if (k == NULL || out == NULL)
        return;
    now = clock_to(k, now_ms > KPI_TIME_MAX_MS ? KPI_TIME_MAX_MS : now_ms);

    *out = (struct kpi_figures){.now_ms = now,
                                .rate_10min = k->win_total,
                                .peak_10min = k->peak,
                                .annunciations = k->annunciations,
                                .in_flood = k->in_flood,
                                .floods = k->floods,
                                .flood_start_ms = k->flood_start_ms,
                                .flood_ms = k->flood_closed_ms,
                                .chatter_episodes = k->chatter_episodes,
                                .shelve_entries = k->shelve_entries,
                                .shelved_ms = k->shelved_closed_ms,
                                .oos_entries = k->oos_entries,
                                .oos_ms = k->oos_closed_ms,
                                .resyncs = k->resyncs};
    for (int p = 0; p < KPI_PRIORITIES; p++) {
        out->rate_10min_by_priority[p] = k->win_prio[p];
        out->annunciations_by_priority[p] = k->ann_prio[p];
    }
    if (k->in_flood)
        out->flood_ms = sat_add(out->flood_ms, span(k->flood_start_ms, now));

    for (size_t i = 0; i < k->n_alarms; i++) {
        const struct kpi_alarm *a = &k->alarms[i];

        if (a->chattering && a->act_ms[0] >= now - KPI_CHATTER_MS)
            out->chattering++;
        if (alarm_state_active(a->state)) {
            /* A restored or stepped alarm has a priority; keep the index safe anyway. */
            if (a->priority >= ALARM_P1 && a->priority <= ALARM_P4)
                out->active_by_priority[a->priority - 1]++;
            if (span(a->active_since_ms, now) >= KPI_STALE_MS)
                out->stale++;
        } else if (a->state == ALARM_SHELVED) {
            out->shelved++;
            out->shelved_ms = sat_add(out->shelved_ms, span(a->since_ms, now));
        } else if (a->state == ALARM_OUT_OF_SERVICE) {
            out->out_of_service++;
            out->oos_ms = sat_add(out->oos_ms, span(a->since_ms, now));
        }
    }
}
