/*
 * bench_rtloop: wake-up lateness of the real RT loop at a 10 ms period, 10,000 points.
 *
 * usage: bench_rtloop [--seconds N] [--storm DIR]
 *
 * The config is parsed from generated JSON: 2 Modbus TCP buses of 10 devices each, 500
 * inline points per device (10,000 in all), each with a high limit at 100 (deadband 1).
 * Nothing is ever polled: the config only shapes the loop. Memory is set up the way the
 * daemon does it (mallopt, a 512 KiB default stack, mlockall), then the real rtloop is
 * started with rtloop_new()/rtloop_start() at a 10 ms period and priority 49, with the
 * daemon's ring sizes: one sample ring per bus, a 4,096-slot event ring and a reading
 * ring of 8 slots per point.
 *
 * Around it, threads of normal priority stand in for the rest of the gateway:
 * - a feeder plays the pollers: every 10 ms it pushes one sample for a tenth of the
 *   points, so every point gets a new value every 100 ms (100,000 samples/s). A value
 *   sits at 40-60 and crosses the limit (110) once every 20 s per point, spread over the
 *   points, so about 1,000 alarm events a second flow.
 * - a consumer plays the recorder: it waits on the loop's eventfd (2 ms at most) and
 *   drains the event and reading rings.
 * - with --storm DIR, a writer uses the real store module on DIR/storm.db and commits
 *   batches of 500 readings as fast as it can, every transaction synchronous=FULL
 *   (store_begin(st, true)). The CPU, I/O and MQTT load of the storm run come from the
 *   companions bench_rtloop.sh starts.
 *
 * The loop keeps only a log2 histogram of lateness, so the percentiles printed are bucket
 * upper bounds: "p99 <= 64 us" means at least 99 % of the wake-ups were less than 64 us
 * late. The last bucket is open-ended; there the bound given is the measured maximum.
 */
#include <errno.h>
#include <malloc.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "msg.h"
#include "pgtime.h"
#include "ring.h"
#include "rtloop.h"
#include "store.h"

#define BENCH_BUSES        2
#define BENCH_DEVS_PER_BUS 10
#define BENCH_PTS_PER_DEV  500
#define BENCH_POINTS       (BENCH_BUSES * BENCH_DEVS_PER_BUS * BENCH_PTS_PER_DEV)
#define BENCH_SETPOINT     100.0
#define BENCH_SLICE_NS     (10 * PGTIME_NS_PER_MS) /* the feeder's own period */
#define BENCH_SLICES       10                      /* slices per point update */
#define BENCH_CROSS_EVERY  200 /* updates (20 s) between limit crossings of a point */
#define BENCH_STORE_BATCH  500

static atomic_bool stopping;      /* feeder and store writer */
static atomic_bool consumer_stop; /* set only once the loop has made its final drain */

static struct ring *sample_rings[BENCH_BUSES];
static struct ring *events_ring;
static struct ring *readings_ring;
static int wake_fd = -1;

static _Atomic uint64_t fed, feed_full, feeder_overruns;
static _Atomic uint64_t consumed_events, consumed_readings;
static _Atomic uint64_t store_commits, store_rows, store_errors;
static _Atomic int64_t store_max_commit_ns;

static size_t pow2_at_least(size_t n, size_t min)
{
    size_t p = min;

    while (p < n)
        p <<= 1;
    return p;
}

static struct config *make_config(void)
{
    /* About 110 bytes a point: 10,000 points fit well inside this and the 4 MiB cap. */
    static char json[1 << 22];
    char err[CONFIG_ERR_LEN];
    struct config *cfg = NULL;
    size_t n;

    n = (size_t)snprintf(json, sizeof(json),
                         "{\"gateway\":{\"id\":\"bench\",\"site\":\"bench\"},"
                         "\"rt\":{\"period_ms\":10,\"priority\":49},"
                         "\"store\":{\"path\":\"/dev/null\"},"
                         "\"mqtt\":{\"uri\":\"tcp://127.0.0.1:1\"},"
                         "\"areas\":[{\"id\":\"a\"}],\"buses\":[");
    for (int b = 0; b < BENCH_BUSES; b++)
        n += (size_t)snprintf(json + n, sizeof(json) - n,
                              "%s{\"id\":\"b%d\",\"type\":\"tcp\",\"host\":\"127.0.0.1\","
                              "\"port\":%d}",
                              b == 0 ? "" : ",", b, 1502 + b);
    n += (size_t)snprintf(json + n, sizeof(json) - n, "],\"devices\":[");
    for (int d = 0; d < BENCH_BUSES * BENCH_DEVS_PER_BUS; d++) {
        n += (size_t)snprintf(json + n, sizeof(json) - n,
                              "%s{\"id\":\"d%d\",\"bus\":\"b%d\",\"unit_id\":%d,"
                              "\"poll_ms\":100,\"points\":[",
                              d == 0 ? "" : ",", d, d / BENCH_DEVS_PER_BUS,
                              d % BENCH_DEVS_PER_BUS + 1);
        for (int p = 0; p < BENCH_PTS_PER_DEV; p++)
            n += (size_t)snprintf(json + n, sizeof(json) - n,
                                  "%s{\"id\":\"d%d.p%d\",\"area\":\"a\",\"address\":%d,"
                                  "\"high\":{\"setpoint\":%.1f,\"deadband\":1.0}}",
                                  p == 0 ? "" : ",", d, p, p, BENCH_SETPOINT);
        n += (size_t)snprintf(json + n, sizeof(json) - n, "]}");
    }
    n += (size_t)snprintf(json + n, sizeof(json) - n, "]}");
    if (n >= sizeof(json)) {
        fprintf(stderr, "bench_rtloop: generated config too long\n");
        exit(1);
    }
    if (config_parse("bench.json", json, n, &cfg, err, sizeof(err)) < 0) {
        fprintf(stderr, "bench_rtloop: %s\n", err);
        exit(1);
    }
    if (cfg->n_points != BENCH_POINTS) {
        fprintf(stderr, "bench_rtloop: config has %zu points\n", cfg->n_points);
        exit(1);
    }
    return cfg;
}

/*
 * The same memory setup as the daemon's lock_memory(), so the loop sees what it sees in
 * production. Returns whether mlockall() was granted.
 */
static bool lock_memory(void)
{
    pthread_attr_t attr;

    (void)mallopt(M_TRIM_THRESHOLD, -1);
    (void)mallopt(M_MMAP_MAX, 0);
    (void)mallopt(M_ARENA_MAX, 2);
    if (pthread_attr_init(&attr) == 0) {
        (void)pthread_attr_setstacksize(&attr, 512 * 1024);
        (void)pthread_setattr_default_np(&attr);
        (void)pthread_attr_destroy(&attr);
    }
    return mlockall(MCL_CURRENT | MCL_FUTURE) == 0;
}

/* A point's value at its update k: a slow wave in 40..60, and 110 once every 20 s. */
static double value_of(uint32_t point, uint64_t k)
{
    uint64_t phase = (k + (uint64_t)point * 7) % BENCH_CROSS_EVERY;

    if (phase == 0)
        return 110.0;
    return 40.0 + 20.0 * (double)((k + point) % 50) / 50.0;
}

/*
 * The pollers' stand-in. Each 10 ms slice carries a tenth of the points, so the samples
 * arrive spread over the period the way several pollers would deliver them. It runs at
 * normal priority on an absolute clock so it keeps its rate under load if it can.
 */
static void *feeder_main(void *arg)
{
    int64_t next = pgtime_mono_ns();
    uint64_t slice = 0;
    const uint32_t per_slice = BENCH_POINTS / BENCH_SLICES;

    (void)arg;
    while (!atomic_load(&stopping)) {
        struct timespec ts = pgtime_ns_to_ts(next);
        uint32_t first = (uint32_t)(slice % BENCH_SLICES) * per_slice;
        uint64_t k = slice / BENCH_SLICES;
        int64_t mono = pgtime_mono_ns();
        int64_t utc = pgtime_utc_ms();

        for (uint32_t p = first; p < first + per_slice; p++) {
            struct msg_sample s = {
                .point = p,
                .quality = MSG_Q_GOOD,
                .raw = (uint16_t)k,
                .value = value_of(p, k),
                .mono_ns = mono,
                .utc_ms = utc,
            };
            /* Points are grouped by device and devices by bus, in config order. */
            struct ring *r = sample_rings[p / (BENCH_POINTS / BENCH_BUSES)];

            if (ring_push(r, &s))
                atomic_fetch_add_explicit(&fed, 1, memory_order_relaxed);
            else
                atomic_fetch_add_explicit(&feed_full, 1, memory_order_relaxed);
        }
        slice++;
        next += BENCH_SLICE_NS;
        if (pgtime_mono_ns() > next)
            atomic_fetch_add_explicit(&feeder_overruns, 1, memory_order_relaxed);
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
            ;
    }
    return NULL;
}

/*
 * The recorder's stand-in: wakes on the loop's eventfd, or every 2 ms for the readings
 * the loop forwards without waking anyone, and empties both rings.
 */
static void *consumer_main(void *arg)
{
    struct msg_event ev;
    struct msg_sample s;

    (void)arg;
    for (;;) {
        struct pollfd pfd = {.fd = wake_fd, .events = POLLIN};
        uint64_t ev_n = 0, rd_n = 0, cnt;
        bool stop = atomic_load(&consumer_stop);

        if (poll(&pfd, 1, 2) > 0)
            (void)!read(wake_fd, &cnt, sizeof(cnt));
        while (ring_pop(events_ring, &ev))
            ev_n++;
        while (ring_pop(readings_ring, &s))
            rd_n++;
        atomic_fetch_add_explicit(&consumed_events, ev_n, memory_order_relaxed);
        atomic_fetch_add_explicit(&consumed_readings, rd_n, memory_order_relaxed);
        /* One last pass after the loop stopped, so nothing it emitted is left behind. */
        if (stop)
            break;
    }
    return NULL;
}

/*
 * The SQLite write storm: the real store, durable transactions back to back, so the
 * disk sees an fsync stream while the loop runs. Its readings are synthetic; what
 * matters is the I/O and CPU it costs the machine. The store is opened (and its 10,000
 * points registered) before the measured window, so the window is all commits.
 */
static void *storm_main(void *arg)
{
    struct store *st = arg;
    uint64_t k = 0;
    int rc;

    while (!atomic_load(&stopping)) {
        int64_t t0 = pgtime_mono_ns(), dt;
        int64_t utc = pgtime_utc_ms();

        rc = store_begin(st, true);
        for (int i = 0; rc == 0 && i < BENCH_STORE_BATCH; i++, k++) {
            struct msg_sample s = {
                .point = (uint32_t)(k % BENCH_POINTS),
                .quality = MSG_Q_GOOD,
                .raw = (uint16_t)k,
                .value = value_of((uint32_t)(k % BENCH_POINTS), k / BENCH_POINTS),
                .utc_ms = utc,
            };

            rc = store_add_reading(st, &s);
        }
        if (rc == 0)
            rc = store_commit(st);
        if (rc < 0) {
            store_rollback(st);
            atomic_fetch_add(&store_errors, 1);
            break;
        }
        dt = pgtime_mono_ns() - t0;
        if (dt > atomic_load_explicit(&store_max_commit_ns, memory_order_relaxed))
            atomic_store_explicit(&store_max_commit_ns, dt, memory_order_relaxed);
        atomic_fetch_add_explicit(&store_commits, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&store_rows, BENCH_STORE_BATCH, memory_order_relaxed);
    }
    store_close(st);
    return NULL;
}

/* Lateness bucket b holds [2^(b-1), 2^b) us, bucket 0 [0, 1) us; the last is open. */
static double bucket_bound_us(unsigned b, int64_t max_late_ns)
{
    if (b == RTLOOP_HIST_BUCKETS - 1)
        return (double)max_late_ns / 1e3;
    return (double)(UINT64_C(1) << b);
}

/* The smallest bucket bound below which at least q of all wake-ups fall. */
static double percentile_us(const struct rtloop_stats *st, double q)
{
    uint64_t total = 0, need, run = 0;

    for (unsigned b = 0; b < RTLOOP_HIST_BUCKETS; b++)
        total += st->late_hist[b];
    if (total == 0)
        return 0.0;
    need = (uint64_t)((double)total * q);
    if ((double)need < (double)total * q)
        need++;
    for (unsigned b = 0; b < RTLOOP_HIST_BUCKETS; b++) {
        run += st->late_hist[b];
        if (run >= need)
            return bucket_bound_us(b, st->max_late_ns);
    }
    return bucket_bound_us(RTLOOP_HIST_BUCKETS - 1, st->max_late_ns);
}

static void usage(void)
{
    fprintf(stderr, "usage: bench_rtloop [--seconds N (1..86400, default 60)] [--storm "
                    "DIR]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    long seconds = 60;
    const char *storm_dir = NULL;
    struct config *cfg;
    struct rtloop *rt;
    struct rtloop_stats st;
    struct store *store = NULL;
    pthread_t feeder, consumer, storm;
    bool fifo = false, pinned = false, locked;
    struct rusage ru0, ru1;
    int64_t t0, t1;
    int rc;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc)
            seconds = strtol(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--storm") == 0 && i + 1 < argc)
            storm_dir = argv[++i];
        else
            usage();
    }
    if (seconds < 1 || seconds > 86400)
        usage();

    cfg = make_config();
    locked = lock_memory();
    wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    for (int b = 0; b < BENCH_BUSES; b++)
        sample_rings[b] =
            ring_new(sizeof(struct msg_sample), pow2_at_least(4 * cfg->n_points, 1024));
    events_ring = ring_new(sizeof(struct msg_event), 4096);
    readings_ring =
        ring_new(sizeof(struct msg_sample), pow2_at_least(8 * cfg->n_points, 4096));
    {
        struct rtloop_params prm = {
            .cfg = cfg,
            .sample_rings = sample_rings,
            .n_rings = BENCH_BUSES,
            .events = events_ring,
            .readings = readings_ring,
            .first_seq = 1,
            .wake_fd = wake_fd,
            .outputs_fd = -1,
        };

        rt = rtloop_new(&prm);
    }
    if (wake_fd < 0 || sample_rings[0] == NULL || sample_rings[1] == NULL ||
        events_ring == NULL || readings_ring == NULL || rt == NULL) {
        fprintf(stderr, "bench_rtloop: setup failed\n");
        return 1;
    }

    printf("bench_rtloop: %d points on %d buses, period %u ms, priority %d, %ld s%s\n",
           BENCH_POINTS, BENCH_BUSES, cfg->rt.period_ms, cfg->rt.priority, seconds,
           storm_dir != NULL ? ", storm" : ", idle");
    if (pthread_create(&consumer, NULL, consumer_main, NULL) != 0) {
        fprintf(stderr, "bench_rtloop: cannot start the consumer\n");
        return 1;
    }
    if (storm_dir != NULL) {
        char path[4096];
        int64_t o0 = pgtime_mono_ns();

        (void)snprintf(path, sizeof(path), "%s/storm.db", storm_dir);
        rc = store_open(path, cfg, &store);
        if (rc < 0) {
            fprintf(stderr, "bench_rtloop: store_open %s: %s\n", path, strerror(-rc));
            return 1;
        }
        printf("store %s opened in %.1f ms\n", path,
               (double)(pgtime_mono_ns() - o0) / 1e6);
    }
    if (storm_dir != NULL && pthread_create(&storm, NULL, storm_main, store) != 0) {
        fprintf(stderr, "bench_rtloop: cannot start the store writer\n");
        return 1;
    }
    (void)getrusage(RUSAGE_SELF, &ru0);
    t0 = pgtime_mono_ns();
    rc = rtloop_start(rt, &fifo, &pinned);
    if (rc < 0) {
        fprintf(stderr, "bench_rtloop: rtloop_start: %s\n", strerror(-rc));
        return 1;
    }
    if (pthread_create(&feeder, NULL, feeder_main, NULL) != 0) {
        fprintf(stderr, "bench_rtloop: cannot start the feeder\n");
        return 1;
    }

    {
        struct timespec end = pgtime_ns_to_ts(t0 + seconds * PGTIME_NS_PER_S);

        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &end, NULL) == EINTR)
            ;
    }

    /* Stop the producer first, as the daemon stops its pollers before the loop. */
    atomic_store(&stopping, true);
    (void)pthread_join(feeder, NULL);
    rtloop_stats(rt, &st);
    t1 = pgtime_mono_ns();
    (void)getrusage(RUSAGE_SELF, &ru1);
    rtloop_stop(rt);
    atomic_store(&consumer_stop, true);
    (void)pthread_join(consumer, NULL);
    if (storm_dir != NULL)
        (void)pthread_join(storm, NULL);

    printf("SCHED_FIFO granted: %s\n", st.fifo ? "yes" : "no");
    printf("mlockall granted: %s\n", locked ? "yes" : "no");
    printf("elapsed: %.1f s (%.0f periods)\n", (double)(t1 - t0) / 1e9,
           (double)(t1 - t0) / (double)(cfg->rt.period_ms * PGTIME_NS_PER_MS));
    printf("cycles: %llu\n", (unsigned long long)st.cycles);
    printf("overruns: %llu\n", (unsigned long long)st.overruns);
    printf("missed: %llu\n", (unsigned long long)st.missed);
    printf("max lateness: %.1f us\n", (double)st.max_late_ns / 1e3);
    printf("max cycle time: %.1f us\n", (double)st.max_exec_ns / 1e3);
    printf("lateness p50 <= %.0f us, p99 <= %.0f us, p99.9 <= %.0f us (log2 bucket upper "
           "bounds)\n",
           percentile_us(&st, 0.50), percentile_us(&st, 0.99), percentile_us(&st, 0.999));
    printf("samples: %llu evaluated, %llu fed, %llu refused by a full ring, %llu feeder "
           "overruns\n",
           (unsigned long long)st.samples, (unsigned long long)atomic_load(&fed),
           (unsigned long long)atomic_load(&feed_full),
           (unsigned long long)atomic_load(&feeder_overruns));
    printf("events: %llu emitted, %llu consumed; readings: %llu consumed, %llu dropped; "
           "event backpressure cycles: %llu\n",
           (unsigned long long)st.events,
           (unsigned long long)atomic_load(&consumed_events),
           (unsigned long long)atomic_load(&consumed_readings),
           (unsigned long long)st.readings_dropped,
           (unsigned long long)st.event_backpressure);
    printf("page faults during the run (whole process): %ld minor, %ld major\n",
           ru1.ru_minflt - ru0.ru_minflt, ru1.ru_majflt - ru0.ru_majflt);
    if (storm_dir != NULL)
        printf("store storm: %llu durable commits of %d readings (%.0f commits/s), max "
               "commit %.1f ms, %llu errors\n",
               (unsigned long long)atomic_load(&store_commits), BENCH_STORE_BATCH,
               (double)atomic_load(&store_commits) / ((double)(t1 - t0) / 1e9),
               (double)atomic_load(&store_max_commit_ns) / 1e6,
               (unsigned long long)atomic_load(&store_errors));
    printf("lateness histogram (wake-ups per log2 bucket):\n");
    for (unsigned b = 0; b < RTLOOP_HIST_BUCKETS; b++) {
        unsigned long long lo = b == 0 ? 0 : (unsigned long long)(UINT64_C(1) << (b - 1));

        if (st.late_hist[b] == 0)
            continue;
        if (b == RTLOOP_HIST_BUCKETS - 1)
            printf("  [%8llu,      inf) us %10llu\n", lo,
                   (unsigned long long)st.late_hist[b]);
        else
            printf("  [%8llu, %8llu) us %10llu\n", lo,
                   (unsigned long long)(UINT64_C(1) << b),
                   (unsigned long long)st.late_hist[b]);
    }

    rtloop_free(rt);
    for (int b = 0; b < BENCH_BUSES; b++)
        ring_free(sample_rings[b]);
    ring_free(events_ring);
    ring_free(readings_ring);
    (void)close(wake_fd);
    config_free(cfg);
    return atomic_load(&store_errors) != 0 ? 1 : 0;
}
