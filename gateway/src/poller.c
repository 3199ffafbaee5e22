#include "poller.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "codec.h"
#include "fieldbus.h"
#include "log.h"
#include "msg.h"
#include "pgtime.h"

#define POLLER_BACKOFF_MIN INT64_C(100000000)     /* 100 ms: first reconnect delay */
#define POLLER_WINDOW_NS   (10 * PGTIME_NS_PER_S) /* utilisation window */

/* What a word of a reply is for: a point, or one of the device's diagnostic registers. */
enum ref_kind {
    REF_POINT,  /* index: into config.points */
    REF_STATUS, /* index: status set of the device */
    REF_HEARTBEAT,
    REF_DECIMALS,
    REF_TEST, /* the device's test-mode indicator */
};

/* Which item sits at which offset of a block's reply. */
struct poll_ref {
    uint32_t index;
    uint16_t offset;
    uint8_t kind; /* enum ref_kind */
};

/* One read request: a run of registers (or bits) of one table of one device. */
struct poll_block {
    enum config_table table;
    uint16_t start;
    uint16_t count;
    size_t first_ref;
    size_t n_refs;
};

/* Counters other threads read: each is a relaxed atomic, written only by the poller. */
struct dev_counters {
    _Atomic uint64_t requests, successes, timeouts, bad_frames, exceptions, link_errors,
        skipped;
    _Atomic bool quarantined, comm_lost;
    _Atomic int64_t last_success_utc_ms, rtt_last_us, rtt_max_us, rtt_avg_us;
};

struct poll_dev {
    const struct config_device *cfg;
    size_t index; /* into config.devices */
    size_t first_block;
    size_t n_blocks;
    int64_t next_due_ns;
    uint32_t failures; /* consecutive failed polls */
    bool quarantined;
    int64_t backoff_ns;   /* current probe period while quarantined */
    int64_t last_good_ns; /* last successful poll, or when polling began */
    bool comm_lost;
    bool failing; /* for logging state changes only, never per failure */
    struct codec_heartbeat hb;
    struct dev_counters c;
};

/* What one poll of a device came to. */
enum poll_outcome {
    POLL_OK,
    POLL_FAILED, /* the device did not answer properly; the link is fine */
    POLL_LINK,   /* the link itself is gone */
};

struct poller {
    const struct config *cfg;
    const struct config_bus *bus;
    struct ring *samples;
    struct fieldbus *fb;

    struct poll_dev *devs;
    size_t n_devs;
    struct poll_block *blocks;
    size_t n_blocks;
    struct poll_ref *refs;
    size_t n_refs;
    uint16_t *scratch; /* one reply buffer per block of the largest device */
    int *block_rc;     /* and each block's outcome */
    uint8_t *block_exc;
    size_t max_dev_blocks;

    pthread_t thread;
    bool started;
    int stop_fd; /* eventfd: readable once stop is requested */
    atomic_bool stop;

    int64_t backoff_ns;
    int64_t reconnect_at_ns;

    /* Utilisation: time inside transactions over a sliding 10 s window. */
    int64_t window_start_ns;
    int64_t window_busy_ns;

    _Atomic bool connected;
    _Atomic uint64_t requests, failures, reconnects, watchdog_resets, samples_dropped;
    _Atomic uint32_t utilisation_permille;
};

/* An item to read: a point's words or a diagnostic register, before coalescing. */
struct plan_item {
    enum config_table table;
    uint16_t address;
    uint16_t width;
    struct poll_ref ref;
};

static int cmp_item(const void *a, const void *b)
{
    const struct plan_item *x = a, *y = b;

    if (x->table != y->table)
        return x->table < y->table ? -1 : 1;
    return x->address < y->address ? -1 : x->address > y->address;
}

static size_t device_items(const struct config *cfg, const struct config_device *dev,
                           struct plan_item *it)
{
    size_t n = 0;

    for (size_t i = 0; i < dev->n_points; i++) {
        const struct config_point *pt = &cfg->points[dev->first_point + i];

        it[n++] = (struct plan_item){pt->table,
                                     pt->address,
                                     (uint16_t)codec_width(pt->codec.type),
                                     {(uint32_t)(dev->first_point + i), 0, REF_POINT}};
    }
    for (size_t k = 0; k < dev->n_status; k++)
        it[n++] = (struct plan_item){dev->status[k].reg.table,
                                     dev->status[k].reg.address,
                                     1,
                                     {(uint32_t)k, 0, REF_STATUS}};
    if (dev->heartbeat.enabled)
        it[n++] = (struct plan_item){dev->heartbeat.reg.table,
                                     dev->heartbeat.reg.address,
                                     1,
                                     {0, 0, REF_HEARTBEAT}};
    if (dev->has_decimals)
        it[n++] = (struct plan_item){
            dev->decimals.table, dev->decimals.address, 1, {0, 0, REF_DECIMALS}};
    if (dev->test_mode.enabled)
        it[n++] = (struct plan_item){
            dev->test_mode.reg.table, dev->test_mode.reg.address, 1, {0, 0, REF_TEST}};
    return n;
}

static size_t max_items(const struct config_device *dev)
{
    return dev->n_points + CONFIG_MAX_STATUS_SETS + 3;
}

/*
 * Coalesce one device's points and diagnostic registers into blocks: sorted by table and
 * address, an item joins the current block when it is in the same table, the gap from
 * the block's end is at most the bus's max_gap and the block stays within
 * FIELDBUS_MAX_READ words. Items may overlap (a bit point inside a status word).
 */
static void plan_device(struct poller *p, struct poll_dev *d, struct plan_item *it)
{
    size_t n = device_items(p->cfg, d->cfg, it);
    struct poll_block *blk = NULL;

    qsort(it, n, sizeof(*it), cmp_item);
    d->first_block = p->n_blocks;
    for (size_t i = 0; i < n; i++) {
        uint32_t end = (uint32_t)it[i].address + it[i].width;
        bool joins =
            blk != NULL && blk->table == it[i].table &&
            it[i].address <= (uint32_t)blk->start + blk->count + p->bus->max_gap &&
            end - blk->start <= FIELDBUS_MAX_READ;

        if (!joins) {
            blk = &p->blocks[p->n_blocks++];
            blk->table = it[i].table;
            blk->start = it[i].address;
            blk->count = 0;
            blk->first_ref = p->n_refs;
            blk->n_refs = 0;
        }
        if (end - blk->start > blk->count)
            blk->count = (uint16_t)(end - blk->start);
        p->refs[p->n_refs] = it[i].ref;
        p->refs[p->n_refs].offset = (uint16_t)(it[i].address - blk->start);
        p->n_refs++;
        blk->n_refs++;
    }
    d->n_blocks = p->n_blocks - d->first_block;
    if (d->n_blocks > p->max_dev_blocks)
        p->max_dev_blocks = d->n_blocks;
}

struct poller *poller_new(const struct config *cfg, size_t bus, struct ring *samples)
{
    struct poller *p = calloc(1, sizeof(*p));
    struct plan_item *order = NULL;
    size_t n_items = 0, max_dev = 1, k = 0;
    int64_t now = pgtime_mono_ns();

    if (p == NULL)
        return NULL;
    p->cfg = cfg;
    p->bus = &cfg->buses[bus];
    p->samples = samples;
    p->stop_fd = -1;
    for (size_t i = 0; i < cfg->n_devices; i++) {
        if (cfg->devices[i].bus == bus) {
            p->n_devs++;
            n_items += max_items(&cfg->devices[i]);
            if (max_items(&cfg->devices[i]) > max_dev)
                max_dev = max_items(&cfg->devices[i]);
        }
    }
    /* At worst every item is its own block. */
    p->devs = calloc(p->n_devs ? p->n_devs : 1, sizeof(*p->devs));
    p->blocks = calloc(n_items ? n_items : 1, sizeof(*p->blocks));
    p->refs = calloc(n_items ? n_items : 1, sizeof(*p->refs));
    order = calloc(max_dev, sizeof(*order));
    p->fb = fieldbus_new(p->bus);
    p->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (p->devs == NULL || p->blocks == NULL || p->refs == NULL || order == NULL ||
        p->fb == NULL || p->stop_fd < 0)
        goto fail;

    for (size_t i = 0; i < cfg->n_devices; i++) {
        struct poll_dev *d;

        if (cfg->devices[i].bus != bus)
            continue;
        d = &p->devs[k];
        d->cfg = &cfg->devices[i];
        d->index = i;
        /*
         * Spread first polls across each device's interval so that devices with equal
         * intervals do not all fire in the same instant and make the bus bursty.
         */
        d->next_due_ns = now + (int64_t)d->cfg->poll_ms * PGTIME_NS_PER_MS * (int64_t)k /
                                   (int64_t)p->n_devs;
        d->last_good_ns = now;
        plan_device(p, d, order);
        k++;
    }
    free(order);
    order = NULL;
    p->scratch = calloc(p->max_dev_blocks ? p->max_dev_blocks : 1,
                        FIELDBUS_MAX_READ * sizeof(*p->scratch));
    p->block_rc = calloc(p->max_dev_blocks ? p->max_dev_blocks : 1, sizeof(*p->block_rc));
    p->block_exc =
        calloc(p->max_dev_blocks ? p->max_dev_blocks : 1, sizeof(*p->block_exc));
    if (p->scratch == NULL || p->block_rc == NULL || p->block_exc == NULL)
        goto fail;
    p->backoff_ns = POLLER_BACKOFF_MIN;
    p->window_start_ns = now;
    return p;

fail:
    free(order);
    poller_free(p);
    errno = ENOMEM;
    return NULL;
}

void poller_free(struct poller *p)
{
    if (p == NULL)
        return;
    poller_stop(p);
    fieldbus_free(p->fb);
    if (p->stop_fd >= 0)
        (void)close(p->stop_fd);
    free(p->devs);
    free(p->blocks);
    free(p->refs);
    free(p->scratch);
    free(p->block_rc);
    free(p->block_exc);
    free(p);
}

static inline void bump(_Atomic uint64_t *c)
{
    atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}

static inline void put64(_Atomic int64_t *c, int64_t v)
{
    atomic_store_explicit(c, v, memory_order_relaxed);
}

static void push_sample(struct poller *p, const struct msg_sample *s)
{
    if (!ring_push(p->samples, s))
        bump(&p->samples_dropped);
}

static enum msg_quality quality_of(int rc)
{
    switch (rc) {
    case -ETIMEDOUT:
        return MSG_Q_TIMEOUT;
    case -EREMOTEIO:
        return MSG_Q_EXCEPTION;
    case -EBADMSG:
    case -EILSEQ:
    case -EPROTO:
        return MSG_Q_BAD_FRAME;
    default:
        return MSG_Q_COMM_LOSS;
    }
}

static void count_failure(struct poller *p, struct poll_dev *d, int rc)
{
    if (!fieldbus_connected(p->fb)) {
        bump(&d->c.link_errors);
        return;
    }
    switch (quality_of(rc)) {
    case MSG_Q_TIMEOUT:
        bump(&d->c.timeouts);
        break;
    case MSG_Q_EXCEPTION:
        bump(&d->c.exceptions);
        break;
    case MSG_Q_BAD_FRAME:
        bump(&d->c.bad_frames);
        break;
    default:
        /* The line was busy, or a signal interrupted the request: the link stays open. */
        bump(&d->c.timeouts);
        break;
    }
}

/* Every point of a block gets a sample of bad quality: silence is a fault, not a value.
 */
static void push_bad_block(struct poller *p, const struct poll_block *b,
                           enum msg_quality q, uint8_t exc, int64_t mono, int64_t utc)
{
    for (size_t r = 0; r < b->n_refs; r++) {
        if (p->refs[b->first_ref + r].kind != REF_POINT)
            continue;
        struct msg_sample s = {
            .point = p->refs[b->first_ref + r].index,
            .quality = (uint8_t)q,
            .exc_code = exc,
            .value = 0.0,
            .mono_ns = mono,
            .utc_ms = utc,
        };
        push_sample(p, &s);
    }
}

static void push_bad_device(struct poller *p, const struct poll_dev *d,
                            enum msg_quality q)
{
    int64_t mono = pgtime_mono_ns(), utc = pgtime_utc_ms();

    for (size_t i = 0; i < d->n_blocks; i++)
        push_bad_block(p, &p->blocks[d->first_block + i], q, 0, mono, utc);
}

/* Account the time a transaction held the bus, for the utilisation figure. */
static void account_busy(struct poller *p, int64_t t0, int64_t t1)
{
    p->window_busy_ns += t1 - t0;
    if (t1 - p->window_start_ns >= POLLER_WINDOW_NS) {
        int64_t span = t1 - p->window_start_ns;

        atomic_store_explicit(&p->utilisation_permille,
                              (uint32_t)(p->window_busy_ns * 1000 / span),
                              memory_order_relaxed);
        p->window_start_ns = t1;
        p->window_busy_ns = 0;
    }
}

/* The words of block i of the device being polled. */
static inline const uint16_t *block_words(const struct poller *p, size_t i)
{
    return p->scratch + i * FIELDBUS_MAX_READ;
}

/* A sample for a point whose reply arrived: the value, unless a diagnosis says otherwise.
 */
static void push_point(struct poller *p, const struct poll_ref *ref,
                       const uint16_t *words, int decimals, uint8_t diag_q,
                       const uint8_t *status_q, uint8_t flags, int64_t mono, int64_t utc)
{
    const struct config_point *pt = &p->cfg->points[ref->index];
    struct codec_result r;
    struct msg_sample s = {
        .point = ref->index, .flags = flags, .mono_ns = mono, .utc_ms = utc};
    uint8_t q = diag_q;

    codec_convert(&pt->codec, words + ref->offset, decimals, &r);
    /*
     * The explanation an instrument gives outranks its symptom: a stale heartbeat first,
     * then each status set that governs the point, then what the point's own words say.
     */
    for (unsigned k = 0; q == MSG_Q_GOOD && k < CONFIG_MAX_STATUS_SETS; k++)
        if ((pt->status_sets & (1u << k)) != 0)
            q = status_q[k];
    if (q == MSG_Q_GOOD)
        q = r.quality;
    s.quality = q;
    s.raw = (uint16_t)r.raw;
    s.value = q == MSG_Q_GOOD ? r.value : 0.0;
    push_sample(p, &s);
}

/*
 * Read one device: every block first, then its diagnostic registers (status sets,
 * heartbeat, decimal places), then its points. Good blocks become good samples even when
 * another block of the same device fails; a failed block's points get the failure's
 * quality, or comm-loss once the device is past its comm-loss deadline. A diagnostic
 * register that could not be read makes the points it governs take that failure too:
 * an unknown status is not a good one.
 */
static enum poll_outcome poll_device(struct poller *p, struct poll_dev *d, int *err)
{
    const struct config_device *dev = d->cfg;
    int64_t deadline = (int64_t)p->bus->comm_loss_after_ms * PGTIME_NS_PER_MS;
    uint8_t status_q[CONFIG_MAX_STATUS_SETS];
    uint8_t hb_q = MSG_Q_GOOD, dec_q = MSG_Q_GOOD;
    int decimals = -1;
    uint8_t flags = 0;
    bool any_bad = false, link_lost = false;
    int64_t t1 = 0, utc = 0;

    *err = 0;
    (void)fieldbus_set_timeouts(p->fb, dev->response_timeout_ms, FIELDBUS_BUS_DEFAULT);
    for (size_t i = 0; i < d->n_blocks; i++) {
        const struct poll_block *b = &p->blocks[d->first_block + i];
        int64_t t0;
        int rc;

        if (link_lost) {
            p->block_rc[i] = -ENOTCONN;
            continue;
        }
        bump(&p->requests);
        bump(&d->c.requests);
        t0 = pgtime_mono_ns();
        rc = fieldbus_read(p->fb, dev->unit_id, b->table, b->start, b->count,
                           p->scratch + i * FIELDBUS_MAX_READ, &p->block_exc[i]);
        t1 = pgtime_mono_ns();
        account_busy(p, t0, t1);
        p->block_rc[i] = rc;
        if (rc < 0) {
            bump(&p->failures);
            count_failure(p, d, rc);
            any_bad = true;
            *err = rc;
            link_lost = !fieldbus_connected(p->fb);
            continue;
        }
        {
            int64_t rtt_us = (t1 - t0) / 1000;
            int64_t avg = atomic_load_explicit(&d->c.rtt_avg_us, memory_order_relaxed);

            put64(&d->c.rtt_last_us, rtt_us);
            if (rtt_us > atomic_load_explicit(&d->c.rtt_max_us, memory_order_relaxed))
                put64(&d->c.rtt_max_us, rtt_us);
            put64(&d->c.rtt_avg_us, avg == 0 ? rtt_us : avg + (rtt_us - avg) / 8);
        }
    }
    utc = pgtime_utc_ms();

    /* Diagnostics first: they decide how the points' words are to be taken. */
    for (size_t k = 0; k < CONFIG_MAX_STATUS_SETS; k++)
        status_q[k] = MSG_Q_GOOD;
    for (size_t i = 0; i < d->n_blocks; i++) {
        const struct poll_block *b = &p->blocks[d->first_block + i];
        uint8_t fail_q = p->block_rc[i] < 0 ? (uint8_t)quality_of(p->block_rc[i]) : 0;

        for (size_t r = 0; r < b->n_refs; r++) {
            const struct poll_ref *ref = &p->refs[b->first_ref + r];
            uint16_t w = p->block_rc[i] == 0 ? block_words(p, i)[ref->offset] : 0;

            switch (ref->kind) {
            case REF_STATUS:
                status_q[ref->index] =
                    p->block_rc[i] < 0 ? fail_q
                                       : codec_status(dev->status[ref->index].rules,
                                                      dev->status[ref->index].n_rules, w);
                break;
            case REF_HEARTBEAT:
                hb_q = p->block_rc[i] < 0
                           ? fail_q
                           : codec_heartbeat(&d->hb, w, dev->heartbeat.mask, t1,
                                             dev->heartbeat.stale_after_ms);
                break;
            case REF_DECIMALS:
                if (p->block_rc[i] < 0)
                    dec_q = fail_q;
                else
                    decimals = w;
                break;
            case REF_TEST:
                /* Unknown counts as test: a drill must never pass for a real reading. */
                if (p->block_rc[i] < 0 || (w & dev->test_mode.mask) != 0)
                    flags |= MSG_F_TEST;
                break;
            default:
                break;
            }
        }
    }

    for (size_t i = 0; i < d->n_blocks; i++) {
        const struct poll_block *b = &p->blocks[d->first_block + i];

        if (p->block_rc[i] < 0) {
            enum msg_quality q = quality_of(p->block_rc[i]);

            if (t1 - d->last_good_ns >= deadline || p->block_rc[i] == -ENOTCONN)
                q = MSG_Q_COMM_LOSS;
            push_bad_block(p, b, q, p->block_exc[i], t1, utc);
            continue;
        }
        for (size_t r = 0; r < b->n_refs; r++) {
            const struct poll_ref *ref = &p->refs[b->first_ref + r];
            const struct config_point *pt;

            if (ref->kind != REF_POINT)
                continue;
            pt = &p->cfg->points[ref->index];
            push_point(p, ref, block_words(p, i), decimals,
                       pt->codec.decimals_reg && dec_q != MSG_Q_GOOD ? dec_q : hb_q,
                       status_q, flags, t1, utc);
        }
    }
    if (link_lost)
        return POLL_LINK;
    return any_bad ? POLL_FAILED : POLL_OK;
}

static void device_ok(struct poller *p, struct poll_dev *d)
{
    if (d->quarantined || d->failing || d->comm_lost)
        log_info("bus %s: device %s (unit %u) answers again%s", p->bus->id, d->cfg->id,
                 (unsigned)d->cfg->unit_id, d->quarantined ? "; out of quarantine" : "");
    d->failures = 0;
    d->failing = false;
    d->quarantined = false;
    d->comm_lost = false;
    d->last_good_ns = pgtime_mono_ns();
    atomic_store_explicit(&d->c.quarantined, false, memory_order_relaxed);
    atomic_store_explicit(&d->c.comm_lost, false, memory_order_relaxed);
    put64(&d->c.last_success_utc_ms, pgtime_utc_ms());
    bump(&d->c.successes);
}

static void mark_comm_lost(struct poller *p, struct poll_dev *d)
{
    if (d->comm_lost)
        return;
    d->comm_lost = true;
    atomic_store_explicit(&d->c.comm_lost, true, memory_order_relaxed);
    log_warn("bus %s: device %s (unit %u): no good read for %u ms; its points are "
             "comm-loss",
             p->bus->id, d->cfg->id, (unsigned)d->cfg->unit_id,
             p->bus->comm_loss_after_ms);
}

static void device_failed(struct poller *p, struct poll_dev *d, int err)
{
    const struct config_quarantine *q = &p->bus->quarantine;
    int64_t now = pgtime_mono_ns();
    int64_t min = (int64_t)q->backoff_min_ms * PGTIME_NS_PER_MS;
    int64_t max = (int64_t)q->backoff_max_ms * PGTIME_NS_PER_MS;

    d->failures++;
    /* After a gap, a counter showing the same value again is not evidence of a freeze. */
    d->hb = (struct codec_heartbeat){0};
    if (!d->failing) {
        d->failing = true;
        log_warn("bus %s: device %s (unit %u): read failed: %s", p->bus->id, d->cfg->id,
                 (unsigned)d->cfg->unit_id, fieldbus_strerror(err));
    }
    if (now - d->last_good_ns >= (int64_t)p->bus->comm_loss_after_ms * PGTIME_NS_PER_MS)
        mark_comm_lost(p, d);
    if (d->quarantined) {
        d->backoff_ns = d->backoff_ns * 2 > max ? max : d->backoff_ns * 2;
    } else if (d->failures >= q->failures) {
        d->quarantined = true;
        d->backoff_ns = min;
        atomic_store_explicit(&d->c.quarantined, true, memory_order_relaxed);
        log_warn("bus %s: device %s (unit %u): %u failed polls in a row; quarantined, "
                 "probing every %u ms and backing off to %u ms",
                 p->bus->id, d->cfg->id, (unsigned)d->cfg->unit_id, d->failures,
                 q->backoff_min_ms, q->backoff_max_ms);
    }
}

/* When a device next needs attention: its poll, or its comm-loss deadline if sooner. */
static int64_t next_event(const struct poller *p, const struct poll_dev *d)
{
    int64_t t = d->next_due_ns;

    if (d->failing && !d->comm_lost) {
        int64_t cl =
            d->last_good_ns + (int64_t)p->bus->comm_loss_after_ms * PGTIME_NS_PER_MS;

        if (cl < t)
            t = cl;
    }
    return t;
}

/* Sleep until the monotonic deadline or until stop is requested. Returns false on stop.
 */
static bool sleep_until(struct poller *p, int64_t deadline_ns)
{
    struct pollfd pfd = {.fd = p->stop_fd, .events = POLLIN};
    int64_t now = pgtime_mono_ns();
    struct timespec ts;

    if (atomic_load(&p->stop))
        return false;
    if (deadline_ns <= now)
        return true;
    ts = pgtime_ns_to_ts(deadline_ns - now);
    (void)ppoll(&pfd, 1, &ts, NULL);
    return !atomic_load(&p->stop);
}

/* Reconnect attempts are never further apart than the cap, nor than the watchdog time. */
static int64_t reconnect_cap(const struct poller *p)
{
    int64_t cap = (int64_t)p->bus->reconnect_max_ms * PGTIME_NS_PER_MS;

    if (p->bus->kind == CONFIG_BUS_TCP && p->bus->watchdog_ms != 0 &&
        (int64_t)p->bus->watchdog_ms * PGTIME_NS_PER_MS < cap)
        cap = (int64_t)p->bus->watchdog_ms * PGTIME_NS_PER_MS;
    if (cap < POLLER_BACKOFF_MIN)
        cap = POLLER_BACKOFF_MIN;
    return cap;
}

static const char *bus_where(const struct poller *p, char *buf, size_t len)
{
    if (p->bus->kind == CONFIG_BUS_RTU)
        (void)snprintf(buf, len, "%s", p->bus->device);
    else
        (void)snprintf(buf, len, "%s:%u", p->bus->host, (unsigned)p->bus->port);
    return buf;
}

static void try_connect(struct poller *p)
{
    char where[CONFIG_PATH_LEN + 8];
    int rc = fieldbus_connect(p->fb);
    int64_t now = pgtime_mono_ns();
    int64_t cap = reconnect_cap(p);

    if (rc == 0) {
        log_info("bus %s: connected to %s", p->bus->id,
                 bus_where(p, where, sizeof(where)));
        p->backoff_ns = POLLER_BACKOFF_MIN;
        atomic_store(&p->connected, true);
        return;
    }
    bump(&p->reconnects);
    /* Log the first failure and then only as the backoff grows, not every attempt. */
    if (p->backoff_ns < cap || p->backoff_ns == POLLER_BACKOFF_MIN)
        log_warn("bus %s: cannot connect to %s: %s; retrying in %lld ms", p->bus->id,
                 bus_where(p, where, sizeof(where)), fieldbus_strerror(rc),
                 (long long)(p->backoff_ns / PGTIME_NS_PER_MS));
    /* No link means no communication with any device on it: comm-loss at once. */
    for (size_t i = 0; i < p->n_devs; i++) {
        push_bad_device(p, &p->devs[i], MSG_Q_COMM_LOSS);
        if (!p->devs[i].comm_lost) {
            p->devs[i].failing = true;
            p->devs[i].comm_lost = true;
            atomic_store_explicit(&p->devs[i].c.comm_lost, true, memory_order_relaxed);
        }
    }
    p->reconnect_at_ns = now + p->backoff_ns;
    p->backoff_ns = p->backoff_ns * 2 > cap ? cap : p->backoff_ns * 2;
}

/*
 * A TCP connection can be dead without either end knowing (a cable pulled behind a
 * switch, a NAT that forgot us). If nothing has succeeded on it for the watchdog time,
 * close it; the normal reconnect path takes over.
 */
static void watchdog(struct poller *p)
{
    int64_t now = pgtime_mono_ns(), limit, last;

    if (p->bus->kind != CONFIG_BUS_TCP || p->bus->watchdog_ms == 0 ||
        !fieldbus_connected(p->fb))
        return;
    limit = (int64_t)p->bus->watchdog_ms * PGTIME_NS_PER_MS;
    /* A well-formed reply of any kind, exceptions included, proves the path works. */
    last = fieldbus_last_success_ns(p->fb);
    if (now - last < limit)
        return;
    log_warn("bus %s: no successful transaction for %u ms; reconnecting (link watchdog)",
             p->bus->id, p->bus->watchdog_ms);
    bump(&p->watchdog_resets);
    fieldbus_close(p->fb);
    atomic_store(&p->connected, false);
    p->reconnect_at_ns = now;
}

static void *poller_main(void *arg)
{
    struct poller *p = arg;

    while (!atomic_load(&p->stop)) {
        struct poll_dev *next = NULL;
        enum poll_outcome out;
        int64_t now, due = 0;
        int err;

        if (!fieldbus_connected(p->fb)) {
            atomic_store(&p->connected, false);
            if (!sleep_until(p, p->reconnect_at_ns))
                break;
            try_connect(p);
            continue;
        }
        for (size_t i = 0; i < p->n_devs; i++) {
            int64_t t = next_event(p, &p->devs[i]);

            if (next == NULL || t < due) {
                next = &p->devs[i];
                due = t;
            }
        }
        if (next == NULL) {
            (void)sleep_until(p, INT64_MAX / 2);
            break;
        }
        if (!sleep_until(p, due))
            break;
        now = pgtime_mono_ns();
        if (now < next->next_due_ns) {
            /* Woken for the comm-loss deadline of a failing device, not for its poll. */
            mark_comm_lost(p, next);
            push_bad_device(p, next, MSG_Q_COMM_LOSS);
            continue;
        }

        out = poll_device(p, next, &err);
        if (out == POLL_OK)
            device_ok(p, next);
        else
            device_failed(p, next, err);
        if (out == POLL_LINK) {
            log_warn("bus %s: link lost (%s); reconnecting", p->bus->id,
                     fieldbus_strerror(err));
            atomic_store(&p->connected, false);
            p->reconnect_at_ns = pgtime_mono_ns();
        }

        now = pgtime_mono_ns();
        if (next->quarantined) {
            /* A quarantined device is probed once per backoff period, never sooner. */
            int64_t poll = (int64_t)next->cfg->poll_ms * PGTIME_NS_PER_MS;

            atomic_fetch_add_explicit(&next->c.skipped,
                                      (uint64_t)(next->backoff_ns / poll),
                                      memory_order_relaxed);
            next->next_due_ns = now + next->backoff_ns;
        } else {
            /*
             * Keep the schedule's phase: advance by whole intervals, skipping any that
             * were missed (a slow device) instead of firing a burst of catch-up reads.
             */
            do
                next->next_due_ns += (int64_t)next->cfg->poll_ms * PGTIME_NS_PER_MS;
            while (next->next_due_ns <= now);
        }
        watchdog(p);
    }
    fieldbus_close(p->fb);
    atomic_store(&p->connected, false);
    return NULL;
}

int poller_start(struct poller *p)
{
    pthread_attr_t attr;
    int rc;

    (void)pthread_attr_init(&attr);
    (void)pthread_attr_setstacksize(&attr, 256 * 1024);
    rc = pthread_create(&p->thread, &attr, poller_main, p);
    (void)pthread_attr_destroy(&attr);
    if (rc != 0)
        return -rc;
    p->started = true;
    return 0;
}

void poller_stop(struct poller *p)
{
    uint64_t one = 1;

    if (!p->started)
        return;
    atomic_store(&p->stop, true);
    (void)!write(p->stop_fd, &one, sizeof(one));
    (void)pthread_join(p->thread, NULL);
    p->started = false;
}

void poller_stats(struct poller *p, struct poller_stats *out)
{
    out->connected = atomic_load(&p->connected);
    out->requests = atomic_load(&p->requests);
    out->failures = atomic_load(&p->failures);
    out->reconnects = atomic_load(&p->reconnects);
    out->watchdog_resets = atomic_load(&p->watchdog_resets);
    out->samples_dropped = atomic_load(&p->samples_dropped);
    out->utilisation_permille = atomic_load(&p->utilisation_permille);
}

size_t poller_device_count(const struct poller *p)
{
    return p->n_devs;
}

void poller_device_stats(struct poller *p, size_t i, struct poller_device_stats *out)
{
    struct dev_counters *c = &p->devs[i].c;

    out->device = p->devs[i].index;
    out->requests = atomic_load(&c->requests);
    out->successes = atomic_load(&c->successes);
    out->timeouts = atomic_load(&c->timeouts);
    out->bad_frames = atomic_load(&c->bad_frames);
    out->exceptions = atomic_load(&c->exceptions);
    out->link_errors = atomic_load(&c->link_errors);
    out->skipped = atomic_load(&c->skipped);
    out->quarantined = atomic_load(&c->quarantined);
    out->comm_lost = atomic_load(&c->comm_lost);
    out->last_success_utc_ms = atomic_load(&c->last_success_utc_ms);
    out->rtt_last_us = atomic_load(&c->rtt_last_us);
    out->rtt_max_us = atomic_load(&c->rtt_max_us);
    out->rtt_avg_us = atomic_load(&c->rtt_avg_us);
}
