/*
 * pgtime: the two clocks parkguard uses, in one integer unit each.
 *
 * Every interval, deadline and rate is measured on CLOCK_MONOTONIC in nanoseconds, so a
 * wall-clock step (NTP, an operator fixing the date) can neither fire nor hide an alarm.
 * Wall-clock UTC in milliseconds is read only for timestamps that leave the box.
 */
#ifndef PG_PGTIME_H
#define PG_PGTIME_H

#include <pthread.h>
#include <stdint.h>
#include <time.h>

#define PGTIME_NS_PER_MS INT64_C(1000000)
#define PGTIME_NS_PER_S  INT64_C(1000000000)

static inline int64_t pgtime_ts_to_ns(const struct timespec *ts)
{
    return (int64_t)ts->tv_sec * PGTIME_NS_PER_S + ts->tv_nsec;
}

static inline struct timespec pgtime_ns_to_ts(int64_t ns)
{
    struct timespec ts = {.tv_sec = (time_t)(ns / PGTIME_NS_PER_S),
                          .tv_nsec = (long)(ns % PGTIME_NS_PER_S)};
    return ts;
}

/* CLOCK_MONOTONIC now, in nanoseconds. Safe on the real-time path (vDSO, no syscall). */
static inline int64_t pgtime_mono_ns(void)
{
    struct timespec ts;

    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return pgtime_ts_to_ns(&ts);
}

/* CLOCK_REALTIME now, in milliseconds since the Unix epoch (UTC). */
static inline int64_t pgtime_utc_ms(void)
{
    struct timespec ts;

    (void)clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The CLOCK_MONOTONIC instant ms milliseconds from now, for timed waits. */
static inline struct timespec pgtime_mono_after_ms(int64_t ms)
{
    return pgtime_ns_to_ts(pgtime_mono_ns() + ms * PGTIME_NS_PER_MS);
}

/*
 * Condition variables time out on CLOCK_MONOTONIC, like everything else, so that a wall
 * clock step cannot stretch or cut short a wait.
 */
static inline void pgtime_cond_init(pthread_cond_t *c)
{
    pthread_condattr_t a;

    (void)pthread_condattr_init(&a);
    (void)pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    (void)pthread_cond_init(c, &a);
    (void)pthread_condattr_destroy(&a);
}

#endif
