/*
 * parkguard: the gateway daemon's entry point.
 *
 * main() is the only place that starts and stops modules. It loads and validates the
 * whole config before anything starts (no half-configured start), brings the threads up
 * in dependency order (recorder, uplink, real-time loop, pollers), waits for
 * SIGTERM/SIGINT, and takes them down in the reverse order so that every sample already
 * read becomes a stored reading, every event a stored and (if the broker is reachable)
 * published alarm.
 */
#include <errno.h>
#include <getopt.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "alarm.h"
#include "config.h"
#include "control.h"
#include "log.h"
#include "payload.h"
#include "pgtime.h"
#include "msg.h"
#include "poller.h"
#include "recorder.h"
#include "relays.h"
#include "ring.h"
#include "rules.h"
#include "rtloop.h"
#include "store.h"
#include "uplink.h"

#ifndef PG_VERSION
#define PG_VERSION "unknown"
#endif

#if defined(__SANITIZE_ADDRESS__)
#define PG_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define PG_ASAN 1
#endif
#endif

#define METRICS_PERIOD_S 10

struct daemon {
    struct config *cfg;
    int64_t started_ns;
    uint64_t overruns_seen; /* RT loop overruns already reported */
    uint64_t gaps_seen;     /* journal gaps already reported */
    struct store *store;
    int wake_fd;
    struct ring **sample_rings;
    struct ring *events, *readings, *outbox, *acks;
    struct ring *commands, *results; /* the control socket's command source */
    int results_fd, outputs_fd;
    struct rtloop_source source;
    struct poller **pollers;
    struct rtloop *rt;
    struct recorder *rec;
    struct uplink *up;
    struct control *ctl;
    struct relays *relays;
};

static void usage(FILE *f)
{
    fprintf(f, "usage: parkguard -c FILE [-n] [-d]\n"
               "       parkguard --version | --help\n"
               "\n"
               "  -c, --config FILE  site configuration (JSON)\n"
               "  -n, --check        validate the configuration, print a summary, exit\n"
               "  -d, --debug        log debug detail\n"
               "  -V, --version      print the version\n"
               "  -h, --help         this text\n");
}

static size_t pow2_at_least(size_t n, size_t min)
{
    size_t p = min;

    while (p < n)
        p <<= 1;
    return p;
}

/*
 * Lock memory so no page of the real-time path can be swapped out, and keep freed memory
 * mapped so later frees cannot return pages the loop would fault back in. Refusal is not
 * fatal: the loop still runs, with page-fault jitter possible, and the log says so.
 */
static void lock_memory(void)
{
    (void)mallopt(M_TRIM_THRESHOLD, -1);
    (void)mallopt(M_MMAP_MAX, 0);
    /* One arena per thread would lock 64 MiB of reservation each under MCL_FUTURE. */
    (void)mallopt(M_ARENA_MAX, 2);
    /*
     * Threads we do not create ourselves (Paho's) inherit this default; glibc's 8 MiB
     * would be locked resident under MCL_FUTURE for each of them.
     */
    {
        pthread_attr_t attr;

        if (pthread_attr_init(&attr) == 0) {
            (void)pthread_attr_setstacksize(&attr, 512 * 1024);
            (void)pthread_setattr_default_np(&attr);
            (void)pthread_attr_destroy(&attr);
        }
    }
#ifdef PG_ASAN
    log_warn(
        "memory locking skipped: AddressSanitizer build (its shadow memory cannot be "
        "locked)");
#else
    if (mlockall(MCL_CURRENT | MCL_FUTURE) != 0)
        log_warn(
            "mlockall refused (%s): memory is not locked; the real-time loop may see "
            "page-fault latency",
            strerror(errno));
#endif
}

/* Put one saved alarm back into the loop (store_load_alarms() callback). */
static int restore_one(void *arg, const struct store_alarm *a)
{
    struct daemon *d = arg;
    const struct config *cfg = d->cfg;
    /*
     * Out-of-range values must not be narrowed into valid-looking ones: 263 would become
     * 7. Anything that does not fit is passed on as an impossible state, which the loop
     * restores in the safe state.
     */
    struct rtloop_alarm saved = {
        .state = a->state >= 0 && a->state < ALARM_STATE_COUNT
                     ? (uint8_t)a->state
                     : (uint8_t)ALARM_STATE_COUNT,
        .shelve =
            a->shelve >= 0 && a->shelve <= UINT8_MAX ? (uint8_t)a->shelve : UINT8_MAX,
        .flags = (uint8_t)(a->flags & 0xff),
        .seq = a->seq,
        .since_utc_ms = a->since_ms,
        .active_utc_ms = a->active_ms,
        .shelve_until_utc_ms = a->shelve_until_ms,
    };
    long idx = -ENOENT;
    int rc;

    saved.limit = MSG_LIMIT_COUNT;
    for (unsigned l = 0; l < MSG_LIMIT_COUNT; l++) {
        if (strcmp(a->limit, msg_limit_name(l)) == 0)
            saved.limit = (uint8_t)l;
    }
    if (saved.limit == MSG_LIMIT_VOTE) {
        for (size_t i = 0; i < cfg->n_areas; i++) {
            if (strcmp(cfg->areas[i].id, a->target) == 0)
                idx = (long)i;
        }
    } else if (saved.limit != MSG_LIMIT_COUNT) {
        idx = config_point_index(cfg, a->target);
    }
    rc = idx < 0 ? -ENOENT : 0;
    if (rc == 0) {
        saved.point = (uint32_t)idx;
        rc = rtloop_restore(d->rt, &saved, pgtime_utc_ms());
    }
    /*
     * A saved alarm the config no longer has cannot be shown or acted on. Dropping it is
     * the only choice, and it must not happen silently: the log says what was lost.
     */
    if (rc == -ENOENT)
        log_warn("saved alarm %s/%s (%s, seq %llu) is not in this configuration: dropped",
                 a->target, a->limit, alarm_state_name((unsigned)a->state),
                 (unsigned long long)a->seq);
    else if (rc == 1)
        log_warn(
            "saved alarm %s/%s was inconsistent (%s): restored as unacknowledged and "
            "active",
            a->target, a->limit, alarm_state_name((unsigned)a->state));
    else if (a->state != ALARM_NORMAL)
        log_info("restored alarm %s/%s: %s", a->target, a->limit,
                 alarm_state_name((unsigned)a->state));
    return 0;
}

/* Standards waivers go on the audit trail at every start, as they go in the log. */
static int audit_overrides(struct daemon *d)
{
    const struct config *cfg = d->cfg;
    int64_t now = pgtime_utc_ms();
    bool any = false;
    int rc = 0;

    for (size_t i = 0; i < cfg->n_points; i++)
        any |= cfg->points[i].override_reason[0] != '\0';
    if (!any)
        return 0;
    rc = store_begin(d->store, true);
    for (size_t i = 0; rc == 0 && i < cfg->n_points; i++) {
        const struct config_point *pt = &cfg->points[i];

        if (pt->override_reason[0] != '\0')
            rc = store_add_audit(d->store, now, cfg->path, "standards_override", pt->id,
                                 rules_check_name(pt->override_check),
                                 pt->override_reason);
    }
    if (rc == 0)
        rc = store_commit(d->store);
    else
        store_rollback(d->store);
    return rc;
}

static uint64_t read_committed(void *arg)
{
    return recorder_committed_seq(arg);
}

static uint32_t read_outputs(void *arg)
{
    return rtloop_outputs(arg);
}

static int daemon_start(struct daemon *d)
{
    const struct config *cfg = d->cfg;
    uint64_t last_seq = 0;
    bool fifo, pinned;
    int rc;

    rc = store_open(cfg->store.path, cfg, &d->store);
    if (rc < 0) {
        log_error("cannot open the store %s: %s", cfg->store.path, strerror(-rc));
        return rc;
    }
    rc = store_last_seq(d->store, &last_seq);
    if (rc == 0)
        rc = audit_overrides(d);
    if (rc < 0)
        return rc;

    d->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (d->wake_fd < 0)
        return -errno;
    d->sample_rings = calloc(cfg->n_buses, sizeof(*d->sample_rings));
    d->pollers = calloc(cfg->n_buses, sizeof(*d->pollers));
    if (d->sample_rings == NULL || d->pollers == NULL)
        return -ENOMEM;
    for (size_t b = 0; b < cfg->n_buses; b++) {
        d->sample_rings[b] =
            ring_new(sizeof(struct msg_sample), pow2_at_least(4 * cfg->n_points, 1024));
        if (d->sample_rings[b] == NULL)
            return -ENOMEM;
    }
    /*
     * The event ring is sized so that it never fills in practice; if the recorder falls
     * behind, the loop holds samples back instead of dropping an event (see rtloop.h).
     */
    d->events = ring_new(sizeof(struct msg_event), 4096);
    d->readings =
        ring_new(sizeof(struct msg_sample), pow2_at_least(8 * cfg->n_points, 4096));
    d->outbox = ring_new(sizeof(struct msg_outbox), 64);
    d->acks = ring_new(sizeof(int64_t), 256);
    /* One result slot per command slot: the loop answers every command it takes. */
    d->commands = ring_new(sizeof(struct msg_command), 64);
    d->results = ring_new(sizeof(struct msg_cmd_result), 64);
    if (d->events == NULL || d->readings == NULL || d->outbox == NULL ||
        d->acks == NULL || d->commands == NULL || d->results == NULL)
        return -ENOMEM;
    d->results_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    d->outputs_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (d->results_fd < 0 || d->outputs_fd < 0)
        return -errno;
    d->source = (struct rtloop_source){d->commands, d->results, d->results_fd};

    d->up = uplink_new(cfg, d->outbox, d->acks, d->wake_fd);
    if (d->up == NULL)
        return -EINVAL;
    d->rec = recorder_new(cfg, d->store, d->events, d->readings, d->outbox, d->acks,
                          d->wake_fd, uplink_wake, d->up);
    {
        struct rtloop_params prm = {
            .cfg = cfg,
            .sample_rings = d->sample_rings,
            .n_rings = cfg->n_buses,
            .sources = &d->source,
            .n_sources = 1,
            .events = d->events,
            .readings = d->readings,
            .first_seq = last_seq + 1,
            .wake_fd = d->wake_fd,
            .outputs_fd = d->outputs_fd,
        };

        d->rt = rtloop_new(&prm);
    }
    if (d->rec == NULL || d->rt == NULL)
        return -ENOMEM;
    /* Resume every alarm where it was before the loop sees its first sample. */
    rc = store_load_alarms(d->store, restore_one, d);
    if (rc == 0)
        rc = recorder_track_alarms(d->rec, rtloop_alarm_count(d->rt));
    for (size_t i = 0; rc == 0 && i < rtloop_alarm_count(d->rt); i++) {
        struct rtloop_alarm a;

        /* Statistics never stop a safety gateway from starting: say so and go on. */
        if (rtloop_alarm_get(d->rt, i, &a) == 0 && a.state != ALARM_NORMAL &&
            recorder_restore_alarm(d->rec, (uint32_t)i, a.priority, a.state,
                                   (a.flags & MSG_F_CONDITION) != 0, a.since_utc_ms) < 0)
            log_warn("alarm KPIs: restored alarm %zu has an unusable time (%lld ms); its "
                     "durations start now",
                     i, (long long)a.since_utc_ms);
    }
    if (rc < 0)
        return rc;
    if (cfg->outputs.n != 0) {
        char err[256];

        rc = relays_open(cfg, &d->relays, err, sizeof(err));
        if (rc < 0) {
            log_error("local outputs: %s", err);
            return rc;
        }
    }
    if (cfg->control.socket[0] != '\0') {
        rc = control_open(cfg, d->rt, &d->source, &d->ctl);
        if (rc < 0) {
            log_error("control socket %s: %s", cfg->control.socket, strerror(-rc));
            return rc;
        }
        control_set_journal(d->ctl, read_committed, d->rec);
    }
    for (size_t b = 0; b < cfg->n_buses; b++) {
        d->pollers[b] = poller_new(cfg, b, d->sample_rings[b]);
        if (d->pollers[b] == NULL)
            return -ENOMEM;
    }

    rc = recorder_start(d->rec);
    if (rc == 0)
        rc = uplink_start(d->up);
    if (rc == 0)
        rc = rtloop_start(d->rt, &fifo, &pinned);
    if (rc == 0 && d->relays != NULL)
        rc = relays_start(d->relays, read_outputs, d->rt, d->outputs_fd);
    if (rc == 0 && d->ctl != NULL)
        rc = control_start(d->ctl);
    if (rc < 0) {
        log_error("cannot start threads: %s", strerror(-rc));
        return rc;
    }
    if (!fifo)
        log_warn(
            "SCHED_FIFO priority %d refused: the real-time loop runs at normal "
            "priority (grant CAP_SYS_NICE or an rtprio limit for real-time guarantees)",
            cfg->rt.priority);
    if (cfg->rt.cpu >= 0 && !pinned)
        log_warn("could not pin the real-time loop to CPU %d", cfg->rt.cpu);
    for (size_t b = 0; b < cfg->n_buses; b++) {
        rc = poller_start(d->pollers[b]);
        if (rc < 0) {
            log_error("cannot start the poller of bus %s: %s", cfg->buses[b].id,
                      strerror(-rc));
            return rc;
        }
    }
    log_info("ready: gateway %s, %zu points on %zu buses, rt period %u ms%s, next event "
             "seq %llu, store %s, broker %s",
             cfg->gateway.id, cfg->n_points, cfg->n_buses, cfg->rt.period_ms,
             fifo ? " (SCHED_FIFO)" : "", (unsigned long long)(last_seq + 1),
             cfg->store.path, cfg->mqtt.uri);
    return 0;
}

/* Snapshot every thread's counters and hand the metrics document to the uplink. */
static void publish_metrics(struct daemon *d)
{
    const struct config *cfg = d->cfg;
    struct payload_metrics m = {0};
    struct poller_stats *bus = calloc(cfg->n_buses, sizeof(*bus));
    struct poller_device_stats *dev =
        calloc(cfg->n_devices ? cfg->n_devices : 1, sizeof(*dev));
    size_t n = 0;
    char *json;

    if (bus == NULL || dev == NULL)
        goto out;
    m.utc_ms = pgtime_utc_ms();
    m.uptime_s = (pgtime_mono_ns() - d->started_ns) / PGTIME_NS_PER_S;
    rtloop_stats(d->rt, &m.rt);
    /*
     * The loop only counts its overruns: logging is I/O and belongs out here. Say it
     * once per metrics period, with the figures that explain it.
     */
    if (m.rt.overruns > d->overruns_seen) {
        log_warn("rt loop: %llu overrun(s) in the last %d s (%llu in all; max lateness "
                 "%lld us, max cycle %lld us)",
                 (unsigned long long)(m.rt.overruns - d->overruns_seen), METRICS_PERIOD_S,
                 (unsigned long long)m.rt.overruns, (long long)(m.rt.max_late_ns / 1000),
                 (long long)(m.rt.max_exec_ns / 1000));
        d->overruns_seen = m.rt.overruns;
    }
    /*
     * A journal gap means the recorder could not keep up for longer than the loop may
     * wait; the alarms went on, and were resynchronised. It is rare and it matters.
     */
    if (m.rt.journal_gaps > d->gaps_seen) {
        log_error(
            "journal: %llu alarm event(s) could not be recorded in the last %d s; the "
            "alarms and relays went on, and each alarm concerned is journalled again "
            "as it stands once the store accepts writes",
            (unsigned long long)(m.rt.journal_gaps - d->gaps_seen), METRICS_PERIOD_S);
        d->gaps_seen = m.rt.journal_gaps;
    }
    recorder_stats(d->rec, &m.rec);
    m.has_kpi = recorder_kpi(d->rec, m.utc_ms, &m.kpi) == 0;
    uplink_stats(d->up, &m.up);
    for (size_t b = 0; b < cfg->n_buses; b++) {
        poller_stats(d->pollers[b], &bus[b]);
        for (size_t i = 0; i < poller_device_count(d->pollers[b]); i++)
            poller_device_stats(d->pollers[b], i, &dev[n++]);
    }
    m.n_buses = cfg->n_buses;
    m.bus = bus;
    m.n_devices = n;
    m.dev = dev;
    json = payload_metrics_json(cfg, &m);
    if (json != NULL)
        uplink_set_metrics(d->up, json);
out:
    free(bus);
    free(dev);
}

/*
 * Stop in the reverse order of the data flow: sources first, so each stage drains what
 * the previous one left before it stops itself. Copes with a half-started daemon.
 */
static void daemon_stop(struct daemon *d)
{
    const struct config *cfg = d->cfg;
    struct rtloop_stats rs;
    struct recorder_stats rcs;
    struct uplink_stats us;

    /* Commands first: nobody should be told "accepted" by a loop about to stop. */
    if (d->ctl != NULL)
        control_stop(d->ctl);
    for (size_t b = 0; d->pollers != NULL && b < cfg->n_buses; b++)
        if (d->pollers[b] != NULL)
            poller_stop(d->pollers[b]);
    if (d->rt != NULL)
        rtloop_stop(d->rt);
    if (d->relays != NULL)
        relays_stop(d->relays);
    if (d->rec != NULL && recorder_flush(d->rec, 5000) < 0)
        log_warn("recorder did not finish its last pass in time");
    if (d->up != NULL)
        uplink_stop(d->up, 3000);
    if (d->rec != NULL)
        recorder_stop(d->rec);

    if (d->rt != NULL && d->rec != NULL && d->up != NULL) {
        rtloop_stats(d->rt, &rs);
        recorder_stats(d->rec, &rcs);
        uplink_stats(d->up, &us);
        log_info(
            "rt loop: %llu cycles, %llu overruns, max lateness %lld us, max cycle %lld "
            "us, %llu samples, %llu events, %llu readings dropped",
            (unsigned long long)rs.cycles, (unsigned long long)rs.overruns,
            (long long)(rs.max_late_ns / 1000), (long long)(rs.max_exec_ns / 1000),
            (unsigned long long)rs.samples, (unsigned long long)rs.events,
            (unsigned long long)rs.readings_dropped);
        log_info(
            "recorder: %llu events, %llu readings, %llu delivered, %llu write errors",
            (unsigned long long)rcs.events, (unsigned long long)rcs.readings,
            (unsigned long long)rcs.delivered, (unsigned long long)rcs.write_errors);
        log_info("uplink: %llu connects, %llu published, %llu resent",
                 (unsigned long long)us.connects, (unsigned long long)us.published,
                 (unsigned long long)us.resent);
    }

    for (size_t b = 0; d->pollers != NULL && b < cfg->n_buses; b++)
        poller_free(d->pollers[b]);
    control_close(d->ctl);
    relays_close(d->relays);
    rtloop_free(d->rt);
    recorder_free(d->rec);
    uplink_free(d->up);
    for (size_t b = 0; d->sample_rings != NULL && b < cfg->n_buses; b++)
        ring_free(d->sample_rings[b]);
    free(d->sample_rings);
    free(d->pollers);
    ring_free(d->events);
    ring_free(d->readings);
    ring_free(d->outbox);
    ring_free(d->acks);
    ring_free(d->commands);
    ring_free(d->results);
    if (d->wake_fd >= 0)
        (void)close(d->wake_fd);
    if (d->results_fd >= 0)
        (void)close(d->results_fd);
    if (d->outputs_fd >= 0)
        (void)close(d->outputs_fd);
    store_close(d->store);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'}, {"check", no_argument, NULL, 'n'},
        {"debug", no_argument, NULL, 'd'},        {"version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
    };
    struct daemon d = {.wake_fd = -1, .results_fd = -1, .outputs_fd = -1};
    const char *path = NULL;
    char err[CONFIG_ERR_LEN];
    bool check = false, debug = false;
    sigset_t sigs;
    int opt, rc, sig;

    while ((opt = getopt_long(argc, argv, "c:ndVh", opts, NULL)) != -1) {
        switch (opt) {
        case 'c':
            path = optarg;
            break;
        case 'n':
            check = true;
            break;
        case 'd':
            debug = true;
            break;
        case 'V':
            printf("parkguard %s\n", PG_VERSION);
            return 0;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (path == NULL || optind != argc) {
        usage(stderr);
        return 2;
    }
    log_init("parkguard", debug ? LOG_LEVEL_DEBUG : LOG_LEVEL_INFO);

    rc = config_load(path, &d.cfg, err, sizeof(err));
    if (rc < 0) {
        fprintf(stderr, "parkguard: %s\n", err);
        return 1;
    }
    if (check) {
        printf("%s: configuration OK: gateway %s, %zu areas, %zu buses, %zu devices, "
               "%zu points\n",
               path, d.cfg->gateway.id, d.cfg->n_areas, d.cfg->n_buses, d.cfg->n_devices,
               d.cfg->n_points);
        config_free(d.cfg);
        return 0;
    }

    log_info("parkguard %s starting with %s", PG_VERSION, path);
    /*
     * A set-point outside the standards runs only with a signed-off reason; say so at
     * every start, so that nobody forgets a waiver is in force.
     */
    for (size_t i = 0; i < d.cfg->n_points; i++) {
        const struct config_point *pt = &d.cfg->points[i];

        if (pt->override_reason[0] != '\0')
            log_warn("%s: standards override (%s): %s", pt->id,
                     rules_check_name(pt->override_check), pt->override_reason);
    }
    lock_memory();
    /*
     * Block the stop signals before any thread exists, so every thread inherits the mask
     * and only main() ever receives them, synchronously, through sigwait().
     */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGHUP);
    (void)pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    (void)signal(SIGPIPE, SIG_IGN);

    d.started_ns = pgtime_mono_ns();
    rc = daemon_start(&d);
    if (rc == 0) {
        struct timespec period = {.tv_sec = METRICS_PERIOD_S};

        for (;;) {
            sig = sigtimedwait(&sigs, NULL, &period);
            if (sig < 0) {
                if (errno == EAGAIN)
                    publish_metrics(&d);
                continue;
            }
            if (sig == SIGHUP) {
                log_warn(
                    "SIGHUP: configuration reload is not supported; restart to apply a "
                    "changed configuration");
                continue;
            }
            log_info("%s received: stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
            break;
        }
    } else {
        log_error("start-up failed; stopping");
    }
    daemon_stop(&d);
    config_free(d.cfg);
    log_info("stopped");
    return rc == 0 ? 0 : 1;
}
