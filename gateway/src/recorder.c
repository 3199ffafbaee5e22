#include "recorder.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "msg.h"
#include "payload.h"
#include "pgtime.h"

#define REC_MAX_EVENTS     1024 /* events taken per transaction */
#define REC_MAX_READINGS   8192 /* readings buffered in memory */
#define REC_MAX_ACKS       1024
#define REC_FLUSH_READINGS 2048
/* Group commit: readings wait at most this long, so a power cut loses at most ~1 s. */
#define REC_READINGS_PERIOD_NS PGTIME_NS_PER_S
#define REC_RETRY_NS           (PGTIME_NS_PER_S)

struct recorder {
    const struct config *cfg;
    struct store *st;
    struct ring *events, *readings, *outbox, *acks;
    int wake_fd;
    void (*notify)(void *);
    void *notify_arg;

    /* Taken from the rings but not yet committed; kept until a commit succeeds. */
    struct msg_event ev[REC_MAX_EVENTS];
    size_t n_ev;
    struct msg_sample rd[REC_MAX_READINGS];
    size_t n_rd;
    int64_t ack[REC_MAX_ACKS];
    size_t n_ack;

    int64_t outbox_cursor; /* highest outbox id handed to the uplink */
    int64_t last_readings_flush;
    int64_t retry_at;
    bool failing;

    pthread_t thread;
    bool started;
    atomic_bool stop;

    /*
     * The alarm KPIs, fed here because the recorder sees every event exactly once, in
     * journal order, after it is safely stored. kpi_lock guards them against the
     * metrics reader; the RT loop never comes near.
     */
    struct kpi *kpi;
    pthread_mutex_t kpi_lock;

    pthread_mutex_t lock; /* guards the flush handshake only */
    pthread_cond_t cond;
    uint64_t flush_req, flush_done;

    _Atomic uint64_t n_events, n_readings, n_dropped, n_delivered, n_errors;
    _Atomic uint64_t committed_seq; /* the highest event seq durably committed */
};

struct recorder *recorder_new(const struct config *cfg, struct store *st,
                              struct ring *events, struct ring *readings,
                              struct ring *outbox, struct ring *acks, int wake_fd,
                              void (*notify)(void *), void *notify_arg)
{
    struct recorder *rec = calloc(1, sizeof(*rec));

    if (rec == NULL)
        return NULL;
    rec->cfg = cfg;
    rec->st = st;
    rec->events = events;
    rec->readings = readings;
    rec->outbox = outbox;
    rec->acks = acks;
    rec->wake_fd = wake_fd;
    rec->notify = notify;
    rec->notify_arg = notify_arg;
    (void)pthread_mutex_init(&rec->lock, NULL);
    (void)pthread_mutex_init(&rec->kpi_lock, NULL);
    pgtime_cond_init(&rec->cond);
    return rec;
}

void recorder_free(struct recorder *rec)
{
    if (rec == NULL)
        return;
    recorder_stop(rec);
    (void)pthread_cond_destroy(&rec->cond);
    (void)pthread_mutex_destroy(&rec->lock);
    (void)pthread_mutex_destroy(&rec->kpi_lock);
    kpi_free(rec->kpi);
    free(rec);
}

/* Move what the rings hold into the recorder's uncommitted batch, as far as it has room.
 */
static void collect(struct recorder *rec)
{
    struct msg_sample s;

    while (rec->n_ev < REC_MAX_EVENTS && ring_pop(rec->events, &rec->ev[rec->n_ev]))
        rec->n_ev++;
    while (rec->n_ack < REC_MAX_ACKS && ring_pop(rec->acks, &rec->ack[rec->n_ack]))
        rec->n_ack++;
    while (ring_pop(rec->readings, &s)) {
        if (rec->n_rd == REC_MAX_READINGS) {
            /* Only while writes fail: keep the newest readings, drop the oldest. */
            memmove(rec->rd, rec->rd + 1, (REC_MAX_READINGS - 1) * sizeof(rec->rd[0]));
            rec->n_rd--;
            atomic_fetch_add(&rec->n_dropped, 1);
        }
        rec->rd[rec->n_rd++] = s;
    }
}

static int write_event(struct recorder *rec, const struct msg_event *ev)
{
    char topic[MSG_TOPIC_LEN];
    char payload[MSG_PAYLOAD_LEN];
    int tlen, plen;

    tlen = payload_event_topic(rec->cfg, ev, topic, sizeof(topic));
    if (tlen < 0)
        return tlen;
    if (tlen == 0) /* audited only */
        return store_add_event(rec->st, ev, NULL, NULL, 0, 1);
    plen = payload_alarm_event(rec->cfg, ev, payload, sizeof(payload));
    if (plen < 0)
        return plen;
    return store_add_event(rec->st, ev, topic, payload, (size_t)plen, 1);
}

/* Count the committed batch's alarm steps in the KPIs. */
static void feed_kpi(struct recorder *rec)
{
    if (rec->kpi == NULL)
        return;
    (void)pthread_mutex_lock(&rec->kpi_lock);
    for (size_t i = 0; i < rec->n_ev; i++) {
        const struct msg_event *ev = &rec->ev[i];
        struct kpi_step st = {
            .id = ev->alarm,
            .priority = ev->priority,
            .event = ev->event,
            .from = ev->from,
            .to = ev->to,
            .annunciate = (ev->flags & MSG_F_ANNUNCIATE) != 0,
            .condition = (ev->flags & MSG_F_CONDITION) != 0,
            .t_ms = ev->utc_ms,
        };

        /*
         * A resync brings the KPIs' view of the alarm up to date without counting an
         * annunciation. A step the KPIs refuse (a clock before 1970) is not worth failing
         * a commit.
         */
        if (ev->type == MSG_EV_RESYNC) {
            st.event = ALARM_EV_ALM;
            st.annunciate = false;
        }
        if (ev->type == MSG_EV_ALARM || ev->type == MSG_EV_RESYNC)
            (void)kpi_feed(rec->kpi, &st);
    }
    (void)pthread_mutex_unlock(&rec->kpi_lock);
}

/* Commit the batch if it is due. Returns 0, or a negative errno (the batch is kept). */
static int commit(struct recorder *rec, bool force)
{
    int64_t now = pgtime_mono_ns();
    bool durable = rec->n_ev != 0 || rec->n_ack != 0;
    bool readings_due = rec->n_rd >= REC_FLUSH_READINGS ||
                        (rec->n_rd != 0 && (force || now - rec->last_readings_flush >=
                                                         REC_READINGS_PERIOD_NS));
    int64_t utc = pgtime_utc_ms();
    int rc;

    if (!durable && !readings_due)
        return 0;
    rc = store_begin(rec->st, durable);
    for (size_t i = 0; rc == 0 && i < rec->n_ev; i++)
        rc = write_event(rec, &rec->ev[i]);
    for (size_t i = 0; rc == 0 && i < rec->n_ack; i++)
        rc = store_mark_delivered(rec->st, rec->ack[i], utc);
    /* Readings ride along with any durable commit: one fsync covers both. */
    for (size_t i = 0; rc == 0 && i < rec->n_rd; i++)
        rc = store_add_reading(rec->st, &rec->rd[i]);
    if (rc == 0)
        rc = store_commit(rec->st);
    if (rc < 0) {
        store_rollback(rec->st);
        return rc;
    }
    feed_kpi(rec);
    for (size_t i = 0; i < rec->n_ev; i++) {
        if (rec->ev[i].seq >
            atomic_load_explicit(&rec->committed_seq, memory_order_relaxed))
            atomic_store_explicit(&rec->committed_seq, rec->ev[i].seq,
                                  memory_order_release);
    }
    atomic_fetch_add(&rec->n_events, rec->n_ev);
    atomic_fetch_add(&rec->n_delivered, rec->n_ack);
    atomic_fetch_add(&rec->n_readings, rec->n_rd);
    rec->n_ev = rec->n_ack = rec->n_rd = 0;
    rec->last_readings_flush = now;
    return 0;
}

/* Hand the uplink as many undelivered outbox rows as its ring has room for. */
static void pump_outbox(struct recorder *rec)
{
    struct msg_outbox m;
    bool pushed = false;

    while (ring_space(rec->outbox) > 0) {
        int rc = store_outbox_next(rec->st, rec->outbox_cursor, &m);

        if (rc <= 0)
            break;
        if (!ring_push(rec->outbox, &m))
            break;
        rec->outbox_cursor = m.id;
        pushed = true;
    }
    if (pushed && rec->notify != NULL)
        rec->notify(rec->notify_arg);
}

static void pass(struct recorder *rec, bool force)
{
    int64_t now = pgtime_mono_ns();
    int rc;

    collect(rec);
    if (rec->failing && now < rec->retry_at && !force)
        return;
    rc = commit(rec, force);
    if (rc < 0) {
        atomic_fetch_add(&rec->n_errors, 1);
        if (!rec->failing)
            log_error(
                "recorder: write failed: %s; keeping %zu events and %zu readings in "
                "memory and retrying every second",
                strerror(-rc), rec->n_ev, rec->n_rd);
        rec->failing = true;
        rec->retry_at = now + REC_RETRY_NS;
        return;
    }
    if (rec->failing) {
        log_info("recorder: writes succeed again");
        rec->failing = false;
    }
    pump_outbox(rec);
}

static void *recorder_main(void *arg)
{
    struct recorder *rec = arg;
    struct pollfd pfd = {.fd = rec->wake_fd, .events = POLLIN};
    uint64_t flush_target = 0;
    int64_t give_up_at = 0;

    rec->last_readings_flush = pgtime_mono_ns();
    for (;;) {
        uint64_t v;
        bool stopping = atomic_load(&rec->stop);

        (void)pthread_mutex_lock(&rec->lock);
        flush_target = rec->flush_req;
        (void)pthread_mutex_unlock(&rec->lock);

        pass(rec, stopping);

        (void)pthread_mutex_lock(&rec->lock);
        if (rec->n_ev == 0 && flush_target > rec->flush_done) {
            rec->flush_done = flush_target;
            (void)pthread_cond_broadcast(&rec->cond);
        }
        (void)pthread_mutex_unlock(&rec->lock);

        if (stopping && rec->n_ev == 0 && ring_count(rec->events) == 0)
            break;
        /*
         * A disk that stays full must not hold shutdown hostage: after a few seconds of
         * failed retries we stop and say what was not written. The events are the ones
         * the real-time loop would recreate from the live values after a restart.
         */
        if (stopping && give_up_at == 0)
            give_up_at = pgtime_mono_ns() + 5 * PGTIME_NS_PER_S;
        if (stopping && pgtime_mono_ns() > give_up_at)
            break;
        /* Events wake us at once through the eventfd; readings are group-committed. */
        (void)poll(&pfd, 1, 200);
        (void)!read(rec->wake_fd, &v, sizeof(v));
    }
    if (rec->n_ev != 0 || rec->n_rd != 0)
        log_error("recorder: stopping with %zu events and %zu readings unwritten",
                  rec->n_ev, rec->n_rd);
    return NULL;
}

int recorder_start(struct recorder *rec)
{
    int rc = pthread_create(&rec->thread, NULL, recorder_main, rec);

    if (rc != 0)
        return -rc;
    rec->started = true;
    return 0;
}

static void wake(struct recorder *rec)
{
    uint64_t one = 1;

    (void)!write(rec->wake_fd, &one, sizeof(one));
}

int recorder_flush(struct recorder *rec, int timeout_ms)
{
    struct timespec deadline;
    uint64_t target;
    int rc = 0;

    deadline = pgtime_mono_after_ms(timeout_ms);
    (void)pthread_mutex_lock(&rec->lock);
    target = ++rec->flush_req;
    wake(rec);
    while (rec->flush_done < target && rc == 0)
        rc = pthread_cond_timedwait(&rec->cond, &rec->lock, &deadline);
    (void)pthread_mutex_unlock(&rec->lock);
    return rc == 0 ? 0 : -ETIMEDOUT;
}

void recorder_stop(struct recorder *rec)
{
    if (!rec->started)
        return;
    atomic_store(&rec->stop, true);
    wake(rec);
    (void)pthread_join(rec->thread, NULL);
    rec->started = false;
}

void recorder_stats(struct recorder *rec, struct recorder_stats *out)
{
    out->events = atomic_load(&rec->n_events);
    out->readings = atomic_load(&rec->n_readings);
    out->readings_dropped = atomic_load(&rec->n_dropped);
    out->delivered = atomic_load(&rec->n_delivered);
    out->write_errors = atomic_load(&rec->n_errors);
}

int recorder_track_alarms(struct recorder *rec, size_t n_alarms)
{
    rec->kpi = kpi_new(n_alarms);
    return rec->kpi != NULL ? 0 : -ENOMEM;
}

int recorder_restore_alarm(struct recorder *rec, uint32_t id, uint8_t priority,
                           uint8_t state, bool condition, int64_t since_ms)
{
    if (rec->kpi == NULL)
        return -ENOENT;
    return kpi_restore(rec->kpi, id, priority, state, condition, since_ms);
}

int recorder_kpi(struct recorder *rec, int64_t now_ms, struct kpi_figures *out)
{
    if (rec->kpi == NULL)
        return -ENOENT;
    (void)pthread_mutex_lock(&rec->kpi_lock);
    kpi_snapshot(rec->kpi, now_ms, out);
    (void)pthread_mutex_unlock(&rec->kpi_lock);
    return 0;
}

uint64_t recorder_committed_seq(struct recorder *rec)
{
    return atomic_load_explicit(&rec->committed_seq, memory_order_acquire);
}
