/*
 * poller: one thread per bus that reads its devices on schedule and turns every read into
 * samples with a quality.
 *
 * The poller owns its bus's fieldbus link outright; no other thread touches it. It reads
 * each device every poll_ms, in as few requests as the read plan allows, and pushes one
 * struct msg_sample per point into its own sample ring for the real-time loop. A failed
 * read never produces a number: it produces samples whose quality says what went wrong.
 * A lost link is reconnected with exponential backoff, capped by the bus's
 * reconnect_max_ms, without ever blocking another bus.
 *
 * Full-policy of the sample ring: a sample that does not fit is dropped and counted. The
 * loop drains the ring every cycle, so this only happens if the loop stalls; the next
 * poll brings a fresher value anyway.
 */
#ifndef PG_POLLER_H
#define PG_POLLER_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "ring.h"

struct poller;

struct poller_stats {
    uint64_t requests;
    uint64_t failures;
    uint64_t reconnects;
    uint64_t samples_dropped;
};

/*
 * Create the poller for cfg->buses[bus], pushing into samples (which it does not own).
 * Builds the read plan. Returns NULL with errno ENOMEM.
 */
struct poller *poller_new(const struct config *cfg, size_t bus, struct ring *samples);

/* Start the thread. Returns 0 or a negative errno from pthread_create. */
int poller_start(struct poller *p);

/* Ask the thread to stop and wait for it. Safe to call on a poller that never started. */
void poller_stop(struct poller *p);

void poller_free(struct poller *p);

/* A snapshot of the counters; may be called from any thread. */
void poller_stats(struct poller *p, struct poller_stats *out);

#endif
