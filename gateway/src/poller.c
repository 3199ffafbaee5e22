#include "poller.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "codec.h"
#include "fieldbus.h"
#include "log.h"
#include "msg.h"
#include "pgtime.h"

/* Registers we are willing to read and throw away to save a request. */
#define POLLER_MAX_GAP     8
#define POLLER_BACKOFF_MIN INT64_C(100000000) /* 100 ms */

/* Which point sits at which offset of a block's reply. */
struct poll_ref {
    uint32_t point;
    uint16_t offset;
};

/* One read request: a run of registers of one table of one device. */
struct poll_block {
    enum config_table table;
    uint16_t start;
    uint16_t count;
    size_t first_ref;
    size_t n_refs;
};

struct poll_dev {
    const struct config_device *cfg;
    size_t first_block;
    size_t n_blocks;
    int64_t next_due_ns;
    bool failing; /* for logging state changes only, never per failure */
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

    pthread_t thread;
    bool started;
    int stop_fd; /* eventfd: readable once stop is requested */
    atomic_bool stop;

    int64_t backoff_ns;
    int64_t reconnect_at_ns;

    _Atomic uint64_t requests, failures, reconnects, samples_dropped;
};

static int cmp_point_addr(const void *a, const void *b, void *arg)
{
    const struct config *cfg = arg;
    const struct config_point *pa = &cfg->points[*(const uint32_t *)a];
    const struct config_point *pb = &cfg->points[*(const uint32_t *)b];

    if (pa->table != pb->table)
        return pa->table < pb->table ? -1 : 1;
    return pa->address < pb->address ? -1 : pa->address > pb->address;
}

/*
 * Coalesce one device's points into blocks: sorted by table and address, a point joins
 * the current block when it is in the same table, the gap from the block's end is at most
 * POLLER_MAX_GAP and the block stays within FIELDBUS_MAX_READ registers.
 */
static void plan_device(struct poller *p, struct poll_dev *d, uint32_t *order)
{
    const struct config_device *dev = d->cfg;
    struct poll_block *blk = NULL;

    for (size_t i = 0; i < dev->n_points; i++)
        order[i] = (uint32_t)(dev->first_point + i);
    qsort_r(order, dev->n_points, sizeof(*order), cmp_point_addr,
            (void *)(uintptr_t)p->cfg);

    d->first_block = p->n_blocks;
    for (size_t i = 0; i < dev->n_points; i++) {
        const struct config_point *pt = &p->cfg->points[order[i]];
        uint32_t end = (uint32_t)pt->address + (uint32_t)codec_width(pt->type);
        bool joins = blk != NULL && blk->table == pt->table &&
                     pt->address <= (uint32_t)blk->start + blk->count + POLLER_MAX_GAP &&
                     end - blk->start <= FIELDBUS_MAX_READ;

        if (!joins) {
            blk = &p->blocks[p->n_blocks++];
            blk->table = pt->table;
            blk->start = pt->address;
            blk->count = 0;
            blk->first_ref = p->n_refs;
            blk->n_refs = 0;
        }
        if (end - blk->start > blk->count)
            blk->count = (uint16_t)(end - blk->start);
        p->refs[p->n_refs].point = order[i];
        p->refs[p->n_refs].offset = (uint16_t)(pt->address - blk->start);
        p->n_refs++;
        blk->n_refs++;
    }
    d->n_blocks = p->n_blocks - d->first_block;
}

struct poller *poller_new(const struct config *cfg, size_t bus, struct ring *samples)
{
    struct poller *p = calloc(1, sizeof(*p));
    uint32_t *order = NULL;
    size_t n_points = 0, k = 0;
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
            n_points += cfg->devices[i].n_points;
        }
    }
    /* At worst every point is its own block. */
    p->devs = calloc(p->n_devs ? p->n_devs : 1, sizeof(*p->devs));
    p->blocks = calloc(n_points ? n_points : 1, sizeof(*p->blocks));
    p->refs = calloc(n_points ? n_points : 1, sizeof(*p->refs));
    order = calloc(n_points ? n_points : 1, sizeof(*order));
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
        /*
         * Spread first polls across each device's interval so that devices with equal
         * intervals do not all fire in the same instant and make the bus bursty.
         */
        d->next_due_ns = now + (int64_t)d->cfg->poll_ms * PGTIME_NS_PER_MS * (int64_t)k /
                                   (int64_t)p->n_devs;
        plan_device(p, d, order);
        k++;
    }
    free(order);
    p->backoff_ns = POLLER_BACKOFF_MIN;
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
    free(p);
}

static void push_sample(struct poller *p, const struct msg_sample *s)
{
    if (!ring_push(p->samples, s))
        atomic_fetch_add_explicit(&p->samples_dropped, 1, memory_order_relaxed);
}

static enum msg_quality quality_of(int rc)
{
    switch (rc) {
    case -ETIMEDOUT:
        return MSG_Q_TIMEOUT;
    case -EREMOTEIO:
        return MSG_Q_EXCEPTION;
    case -EBADMSG:
        return MSG_Q_BAD_FRAME;
    default:
        return MSG_Q_COMM_LOSS;
    }
}

/* Every point of a device gets a sample of bad quality: silence is a fault, not a value.
 */
static void push_bad_block(struct poller *p, const struct poll_block *b,
                           enum msg_quality q, uint8_t exc, int64_t mono, int64_t utc)
{
    for (size_t r = 0; r < b->n_refs; r++) {
        struct msg_sample s = {
            .point = p->refs[b->first_ref + r].point,
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

/* Read one device. Returns 0, or a negative errno when the link itself was lost. */
static int poll_device(struct poller *p, struct poll_dev *d)
{
    uint16_t regs[FIELDBUS_MAX_READ];
    int last_err = 0;

    for (size_t i = 0; i < d->n_blocks; i++) {
        const struct poll_block *b = &p->blocks[d->first_block + i];
        uint8_t exc = 0;
        int64_t mono, utc;
        int rc;

        atomic_fetch_add_explicit(&p->requests, 1, memory_order_relaxed);
        rc = fieldbus_read(p->fb, d->cfg->unit_id, b->table, b->start, b->count, regs,
                           &exc);
        mono = pgtime_mono_ns();
        utc = pgtime_utc_ms();
        if (rc < 0) {
            atomic_fetch_add_explicit(&p->failures, 1, memory_order_relaxed);
            push_bad_block(p, b, quality_of(rc), exc, mono, utc);
            last_err = rc;
            if (!fieldbus_connected(p->fb)) {
                /* The remaining blocks cannot be read either; say so now. */
                for (size_t j = i + 1; j < d->n_blocks; j++)
                    push_bad_block(p, &p->blocks[d->first_block + j], MSG_Q_COMM_LOSS, 0,
                                   mono, utc);
                break;
            }
            continue;
        }
        for (size_t r = 0; r < b->n_refs; r++) {
            const struct poll_ref *ref = &p->refs[b->first_ref + r];
            const struct config_point *pt = &p->cfg->points[ref->point];
            struct msg_sample s = {
                .point = ref->point,
                .quality = MSG_Q_GOOD,
                .raw = regs[ref->offset],
                .value = codec_decode(pt, &regs[ref->offset]),
                .mono_ns = mono,
                .utc_ms = utc,
            };
            push_sample(p, &s);
        }
    }

    if (last_err != 0 && !d->failing) {
        d->failing = true;
        log_warn(
            "bus %s: device %s (unit %u): read failed: %s; its points are marked bad "
            "until it answers again",
            p->bus->id, d->cfg->id, (unsigned)d->cfg->unit_id, strerror(-last_err));
    } else if (last_err == 0 && d->failing) {
        d->failing = false;
        log_info("bus %s: device %s (unit %u) answers again", p->bus->id, d->cfg->id,
                 (unsigned)d->cfg->unit_id);
    }
    return fieldbus_connected(p->fb) ? 0 : (last_err != 0 ? last_err : -ENOTCONN);
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

static void try_connect(struct poller *p)
{
    int rc = fieldbus_connect(p->fb);
    int64_t now = pgtime_mono_ns();
    int64_t cap = (int64_t)p->bus->reconnect_max_ms * PGTIME_NS_PER_MS;

    if (rc == 0) {
        log_info("bus %s: connected to %s:%u", p->bus->id, p->bus->host,
                 (unsigned)p->bus->port);
        p->backoff_ns = POLLER_BACKOFF_MIN;
        return;
    }
    atomic_fetch_add_explicit(&p->reconnects, 1, memory_order_relaxed);
    /* Log the first failure and then only as the backoff grows, not every attempt. */
    if (p->backoff_ns < cap || p->backoff_ns == POLLER_BACKOFF_MIN)
        log_warn("bus %s: cannot connect to %s:%u: %s; retrying in %lld ms", p->bus->id,
                 p->bus->host, (unsigned)p->bus->port, strerror(-rc),
                 (long long)(p->backoff_ns / PGTIME_NS_PER_MS));
    for (size_t i = 0; i < p->n_devs; i++)
        push_bad_device(p, &p->devs[i], MSG_Q_COMM_LOSS);
    p->reconnect_at_ns = now + p->backoff_ns;
    p->backoff_ns = p->backoff_ns * 2 > cap ? cap : p->backoff_ns * 2;
}

static void *poller_main(void *arg)
{
    struct poller *p = arg;

    while (!atomic_load(&p->stop)) {
        struct poll_dev *next = NULL;
        int64_t now;

        if (!fieldbus_connected(p->fb)) {
            if (!sleep_until(p, p->reconnect_at_ns))
                break;
            try_connect(p);
            continue;
        }
        for (size_t i = 0; i < p->n_devs; i++)
            if (next == NULL || p->devs[i].next_due_ns < next->next_due_ns)
                next = &p->devs[i];
        if (next == NULL) {
            (void)sleep_until(p, INT64_MAX / 2);
            break;
        }
        if (!sleep_until(p, next->next_due_ns))
            break;
        if (poll_device(p, next) < 0) {
            log_warn("bus %s: link lost; reconnecting", p->bus->id);
            p->reconnect_at_ns = pgtime_mono_ns();
        }
        /*
         * Keep the schedule's phase: advance by whole intervals, skipping any that were
         * missed (a slow device) instead of firing a burst of catch-up reads.
         */
        now = pgtime_mono_ns();
        do
            next->next_due_ns += (int64_t)next->cfg->poll_ms * PGTIME_NS_PER_MS;
        while (next->next_due_ns <= now);
    }
    fieldbus_close(p->fb);
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
    out->requests = atomic_load(&p->requests);
    out->failures = atomic_load(&p->failures);
    out->reconnects = atomic_load(&p->reconnects);
    out->samples_dropped = atomic_load(&p->samples_dropped);
}
