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
    uint64_t readings_dropped;
    uint64_t event_backpressure; /* cycles that left samples waiting for event room */
    bool fifo;                   /* SCHED_FIFO was granted */
};

/*
 * Create the loop. It reads the n_rings sample rings and writes events and readings
 * (rings it does not own); first_seq is the sequence number of the first event it will
 * emit; wake_fd is an eventfd it writes to after emitting events (or -1).
 */
struct rtloop *rtloop_new(const struct config *cfg, struct ring *const *sample_rings,
                          size_t n_rings, struct ring *events, struct ring *readings,
                          uint64_t first_seq, int wake_fd);

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

/* A snapshot of the loop's own measurements; any thread may call it. */
void rtloop_stats(struct rtloop *rt, struct rtloop_stats *out);

#endif
