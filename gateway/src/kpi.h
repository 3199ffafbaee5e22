/*
 * kpi: the alarm-system performance figures of ISA-18.2 / IEC 62682 and EEMUA 191
 * (alarms per 10 minutes and their priority split, floods, chattering and stale alarms,
 * shelved and out-of-service alarms), computed from the journal's alarm transitions.
 *
 * The recorder feeds every alarm transition of the journal, in journal order, and asks
 * for a snapshot whenever it publishes the figures; at start-up it first restores each
 * alarm's persisted state. The module is pure: it reads no clock (every time is the
 * caller's), does no I/O and never logs. kpi_new() allocates everything once; kpi_feed(),
 * kpi_restore() and kpi_snapshot() never allocate and run in bounded time (kpi_snapshot()
 * in time linear in the number of alarms), so the recorder can call them for every event.
 *
 * What it must never do: crash, or report a negative duration, whatever it is fed. The
 * journal's wall-clock times can step backwards (a restart, an NTP correction), so the
 * module keeps its own clock: the latest step or snapshot time it has been given. A step
 * or snapshot time earlier than that is taken as that latest time, so the clock never
 * runs backwards, and a duration whose end would come before its start counts as 0. A
 * few milliseconds of disorder then cost nothing; after a large backward step the
 * figures stand still until the wall clock catches up (durations under-count, never go
 * negative, and the annunciations of that interval share one second of the window).
 *
 * Definitions, thresholds and the reasoning behind them: docs/alarms.md, "Alarm KPIs".
 */
#ifndef PG_KPI_H
#define PG_KPI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The thresholds. A flood starts when the 10-minute window holds more than
 * KPI_FLOOD_START annunciations and ends when it holds fewer than KPI_FLOOD_END
 * (ISA-18.2). An alarm starts chattering when KPI_CHATTER_COUNT activations fall within
 * KPI_CHATTER_MS, both ends included (the starting criterion PAS gives), and goes on
 * chattering until KPI_CHATTER_MS pass without an activation. An alarm is stale once it
 * has been on the active list for KPI_STALE_MS.
 */
#define KPI_WINDOW_S      600 /* the rate window, in whole seconds */
#define KPI_FLOOD_START   10
#define KPI_FLOOD_END     5
#define KPI_CHATTER_COUNT 3
#define KPI_CHATTER_MS    INT64_C(60000)
#define KPI_STALE_MS      INT64_C(86400000)
#define KPI_PRIORITIES    4 /* P1..P4; arrays below are indexed by priority - 1 */

/*
 * The latest time accepted: 9999-12-31T23:59:59.999Z in ms since the Unix epoch. The
 * bound keeps every sum of durations far from int64_t overflow; a later time is not
 * from a working clock.
 */
#define KPI_TIME_MAX_MS INT64_C(253402300799999)

struct kpi;

/*
 * A tracker for n_alarms alarms with the dense ids 0 .. n_alarms - 1 the caller chose,
 * every one normal with its condition false until a step or a restore says otherwise.
 * n_alarms may be 0. Returns NULL with errno ENOMEM when memory runs out. Free with
 * kpi_free().
 */
struct kpi *kpi_new(size_t n_alarms);

/* Frees k. kpi_free(NULL) does nothing. */
void kpi_free(struct kpi *k);

/*
 * One alarm transition, as the journal records it (struct msg_event with type
 * MSG_EV_ALARM): a change of state, or a change of condition within a state.
 */
struct kpi_step {
    uint32_t id;      /* 0 .. n_alarms - 1 */
    uint8_t priority; /* enum alarm_priority, 1 .. 4 */
    uint8_t event;    /* enum alarm_event */
    uint8_t from;     /* enum alarm_state before; out of range for a recovered record */
    uint8_t to;       /* enum alarm_state after */
    bool annunciate;  /* the step entered unack (MSG_F_ANNUNCIATE) */
    bool condition;   /* the condition after the step (MSG_F_CONDITION) */
    int64_t t_ms;     /* the event's utc_ms */
};

/*
 * Counts one step. An annunciation (annunciate set) is one "alarm" of the rate figures;
 * it is also an activation, for chattering, when the alarm's condition rose in the step
 * (it was false before and is true after). The alarm's state becomes s->to whatever
 * s->from says; a from that is not the state the module holds for the alarm (a gap in
 * the journal, a recovered record) is counted in kpi_figures.resyncs. s->t_ms earlier
 * than the module's clock is taken as the clock (see the top of this file).
 *
 * Returns 0, or -EINVAL, with nothing counted, when k or s is NULL, s->id is not below
 * n_alarms, the priority is not 1 .. 4, the event or s->to is out of range, annunciate
 * is set with s->to other than unack, or t_ms is outside 0 .. KPI_TIME_MAX_MS.
 */
int kpi_feed(struct kpi *k, const struct kpi_step *s);

/*
 * At start-up, before the alarm's first kpi_feed(): alarm id has been in state since
 * since_ms, with the given priority and condition, so that its time on the active list
 * (for stale) and its time shelved or out of service keep counting from since_ms. The
 * restored state is not counted as a new entry into shelved or out of service. A second
 * restore of the same alarm replaces the first, and forgets the alarm's activations.
 * since_ms is a time in the past, and restores come in any order, so it neither moves
 * nor is clamped to the module's clock; a since_ms later than the clock counts as 0
 * until the clock passes it.
 *
 * Returns 0, or -EINVAL, with nothing changed, when k is NULL, id is not below
 * n_alarms, priority is not 1 .. 4, state is out of range, or since_ms is outside
 * 0 .. KPI_TIME_MAX_MS.
 */
int kpi_restore(struct kpi *k, uint32_t id, uint8_t priority, uint8_t state,
                bool condition, int64_t since_ms);

/*
 * The figures. "Now" is the snapshot's time; "since start" is since kpi_new(). Times are
 * ms UTC, durations ms. Counts of alarms are size_t, counts of events uint64_t.
 */
struct kpi_figures {
    int64_t now_ms; /* the time the figures are for: now_ms clamped to the clock */

    /* Annunciations ("alarms") in the window: the current second and the 599 before. */
    uint64_t rate_10min;
    uint64_t rate_10min_by_priority[KPI_PRIORITIES];
    uint64_t peak_10min;    /* the highest rate_10min since start */
    uint64_t annunciations; /* since start */
    uint64_t annunciations_by_priority[KPI_PRIORITIES];

    /* Floods. */
    bool in_flood;
    uint64_t floods;        /* floods started since start, the current one included */
    int64_t flood_start_ms; /* the current flood's start; 0 when not in_flood */
    int64_t flood_ms;       /* time in flood since start, the current flood included */

    /* Chattering. */
    size_t chattering;         /* alarms chattering now (see KPI_CHATTER_COUNT) */
    uint64_t chatter_episodes; /* times an alarm began chattering, since start */

    /* The active list. */
    size_t active_by_priority[KPI_PRIORITIES];
    size_t stale; /* alarms active for 24 h or more without a break */

    /* Shelved and out of service: how many now, entries since start, total time. */
    size_t shelved;
    uint64_t shelve_entries;
    int64_t shelved_ms; /* every shelve's time, the ongoing ones up to now included */
    size_t out_of_service;
    uint64_t oos_entries;
    int64_t oos_ms;

    uint64_t resyncs; /* steps whose from was not the state the module held */
};

/*
 * The figures as of now_ms, taken no earlier than the module's clock and no later than
 * KPI_TIME_MAX_MS; the clock then moves up to it. Expires annunciations that have left
 * the window, ends a flood whose window fell below KPI_FLOOD_END at the second it did
 * (however long ago), and finds the alarms that are chattering and stale now. Writes
 * every field of *out. Does nothing when k or out is NULL. Never allocates; runs in time
 * linear in n_alarms.
 */
void kpi_snapshot(struct kpi *k, int64_t now_ms, struct kpi_figures *out);

#endif
