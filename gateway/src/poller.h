/*
 * poller: one thread per bus that reads its devices on schedule and turns every read into
 * samples with a quality.
 *
 * The poller owns its bus's fieldbus link outright; no other thread touches it. It reads
 * each device every poll_ms, in as few requests as the read plan allows, and pushes one
 * struct msg_sample per point into its own sample ring for the real-time loop. A failed
 * read never produces a number: it produces samples whose quality says what went wrong.
 *
 * One dead device must not stall its bus. After the bus's quarantine.failures consecutive
 * failed polls a device is quarantined: it is skipped and probed once per backoff period
 * (doubling from backoff_min_ms to backoff_max_ms), so it costs the bus at most one
 * timeout per period. Once a device has had no good read for comm_loss_after_ms, all its
 * points are reported as comm-loss, and the rule engine turns that into an instrument
 * fault. A lost link is reconnected with exponential backoff; on TCP a link watchdog
 * treats a connection with no successful transaction for watchdog_ms as half-open and
 * reconnects it.
 *
 * Full-policy of the sample ring: a sample that does not fit is dropped and counted. The
 * loop drains the ring every cycle, so this only happens if the loop stalls; the next
 * poll brings a fresher value anyway.
 */
#ifndef PG_POLLER_H
#define PG_POLLER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "ring.h"

struct poller;

/* Per-device counters, for status and metrics. */
struct poller_device_stats {
    size_t device; /* index into config.devices */
    uint64_t requests;
    uint64_t successes;
    uint64_t timeouts;
    uint64_t bad_frames; /* CRC, length, function or transaction mismatch */
    uint64_t exceptions; /* Modbus exception replies */
    uint64_t link_errors;
    uint64_t skipped; /* polls not made while quarantined */
    bool quarantined;
    bool comm_lost;
    int64_t last_success_utc_ms; /* 0: never */
    int64_t rtt_last_us;         /* round trip of the last successful request */
    int64_t rtt_max_us;
    int64_t rtt_avg_us; /* exponentially weighted, 1/8 per request */
};

/* Per-bus counters. */
struct poller_stats {
    bool connected;
    uint64_t requests;
    uint64_t failures;
    uint64_t reconnects;
    uint64_t watchdog_resets;
    uint64_t samples_dropped;
    uint32_t utilisation_permille; /* share of wall time spent in transactions */
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

/* Snapshots of the counters; any thread may call these. */
void poller_stats(struct poller *p, struct poller_stats *out);
size_t poller_device_count(const struct poller *p);
void poller_device_stats(struct poller *p, size_t i, struct poller_device_stats *out);

#endif
