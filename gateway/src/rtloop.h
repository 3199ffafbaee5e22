/*
 * rtloop: the real-time loop. One thread, a fixed period, no I/O.
 *
 * Every period it drains the pollers' sample rings, evaluates each point's rules, and
 * pushes alarm events to the recorder. It wakes on an absolute CLOCK_MONOTONIC deadline
 * (clock_nanosleep with TIMER_ABSTIME), so its period does not drift with its own run
 * time, and it asks for SCHED_FIFO; where the system refuses, it runs anyway at normal
 * priority and rtloop_start() reports that so the caller can warn.
 *
 * Inside the loop there is no malloc, no logging, no SQLite, no MQTT and no call that can
 * block: all its tables are allocated in rtloop_new(), and it talks to the world only
 * through rings, plus one non-blocking eventfd write to wake the recorder when it emitted
 * an event.
 *
 * Full-policies. Events are never dropped: before taking a sample off a ring the loop
 * makes sure the event ring has room for every event that sample could cause, and if it
 * has not, the sample stays where it is until the recorder catches up (counted as
 * backpressure). Readings forwarded for the record are telemetry: one that does not fit
 * is dropped and counted.
 */
#ifndef PG_RTLOOP_H
#define PG_RTLOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "ring.h"

#define RTLOOP_HIST_BUCKETS                                                              \
    24 /* lateness in log2 microseconds: [0,1), [1,2), [2,4) ... */

struct rtloop;

struct rtloop_stats {
    uint64_t cycles;
    uint64_t overruns;   /* cycles that ran past their period */
    uint64_t missed;     /* whole periods skipped after an overrun */
    int64_t max_late_ns; /* worst wake-up lateness */
    int64_t max_exec_ns; /* worst cycle execution time */
    uint64_t late_hist[RTLOOP_HIST_BUCKETS];
    uint64_t samples;
    uint64_t events;
    uint64_t commands;          /* operator commands taken */
    uint64_t commands_rejected; /* of which refused */
    uint64_t readings_dropped;
    uint64_t event_backpressure; /* cycles that left samples waiting for event room */
    uint64_t journal_gaps;       /* events not journalled: the recorder was stuck for
                                    longer than the loop may wait (their alarms were
                                    resynchronised when room returned) */
    uint32_t alarms_active;      /* alarms on the active list now */
    uint32_t alarms_unack;       /* of which unacknowledged */
    uint32_t outputs;            /* the relay word: bit i is config.outputs.out[i] */
    bool fifo;                   /* SCHED_FIFO was granted */
};

/*
 * One command source (parkguardctl's control thread, later an MQTT uplink): it produces
 * struct msg_command into commands; the loop answers each with one struct
 * msg_cmd_result in results, in order, and then writes wake_fd (an eventfd, or -1).
 * The loop takes a command only when the source's result ring and the event ring have
 * room for its answer, so neither is ever dropped.
 */
struct rtloop_source {
    struct ring *commands;
    struct ring *results;
    int wake_fd;
};

struct rtloop_params {
    const struct config *cfg;
    struct ring *const *sample_rings; /* one per poller; the loop consumes them */
    size_t n_rings;
    const struct rtloop_source *sources;
    size_t n_sources;
    struct ring *events;   /* to the recorder; never dropped */
    struct ring *readings; /* to the recorder; telemetry, dropped and counted when full */
    uint64_t first_seq;    /* the sequence number of the first event */
    int wake_fd;           /* eventfd written after emitting events, or -1 */
    int outputs_fd;        /* eventfd written when the relay word changes, or -1 */
};

/*
 * Create the loop: every table it will use is allocated here, one alarm record per
 * configured limit, rate direction and fault of every point and one per voting area.
 */
struct rtloop *rtloop_new(const struct rtloop_params *p);

/*
 * The public view of one alarm, for the alarm list, the store and the restart. Times are
 * wall-clock ms, since monotonic time does not survive a reboot.
 */
struct rtloop_alarm {
    uint32_t point;   /* point index; area index when limit is MSG_LIMIT_VOTE */
    uint8_t limit;    /* enum msg_limit */
    uint8_t state;    /* enum alarm_state */
    uint8_t shelve;   /* enum alarm_shelve */
    uint8_t priority; /* enum alarm_priority */
    uint8_t kind;     /* enum alarm_kind */
    uint8_t flags;    /* MSG_F_CONDITION, MSG_F_FIRST_OUT, MSG_F_LATCHING, MSG_F_TEST */
    uint32_t area;    /* area index */
    uint64_t seq;     /* the last event of this alarm, 0 if none since start */
    double value;     /* the point's latest good value, NaN if none */
    double setpoint;  /* NaN when none */
    int64_t since_utc_ms;        /* when it entered its state */
    int64_t active_utc_ms;       /* when it last went on the active list; 0 never */
    int64_t shelve_until_utc_ms; /* shelved: the deadline; else 0 */
};

/* How many alarm records the loop keeps; indexes 0 .. count - 1. */
size_t rtloop_alarm_count(const struct rtloop *rt);

/*
 * A consistent copy of alarm i, from any thread, without disturbing the loop (each record
 * is published under a sequence lock). Returns 0, -ENOENT past the end, or -EAGAIN when
 * the record kept changing under the reader (try again).
 */
int rtloop_alarm_get(struct rtloop *rt, size_t i, struct rtloop_alarm *out);

/*
 * Before rtloop_start(): put back an alarm's state saved by the store (matched by point
 * and limit). A saved condition is taken as still true until a sample says otherwise, a
 * shelve resumes with what was left of it at now_utc_ms, and the area's first-out is
 * rebuilt. An alarm is never restored to a quieter state than its record says. Returns 0,
 * or -ENOENT when this config has no such alarm (a point or limit was removed).
 */
int rtloop_restore(struct rtloop *rt, const struct rtloop_alarm *saved,
                   int64_t now_utc_ms);

/*
 * Start the thread, with SCHED_FIFO at cfg->rt.priority and pinned to cfg->rt.cpu where
 * allowed. Returns 0, or a negative errno if no thread could be started at all. Whether
 * FIFO scheduling and pinning were granted is reported through *fifo and *pinned.
 */
int rtloop_start(struct rtloop *rt, bool *fifo, bool *pinned);

/*
 * Stop: the loop drains what the (already stopped) pollers left in the sample rings,
 * emits the resulting events, and exits; this waits for it.
 */
void rtloop_stop(struct rtloop *rt);

void rtloop_free(struct rtloop *rt);

/* The relay word the loop wants now: bit i drives config.outputs.out[i]. Any thread. */
uint32_t rtloop_outputs(struct rtloop *rt);

/* A snapshot of the loop's own measurements; any thread may call it. */
void rtloop_stats(struct rtloop *rt, struct rtloop_stats *out);

#endif
