/*
 * recorder: the one thread that writes the SQLite store.
 *
 * It takes alarm events and readings from the real-time loop and delivery reports from
 * the uplink, writes them in batched transactions, and feeds the uplink from the outbox
 * table. The outbox, not any in-memory queue, is the truth about what still has to reach
 * the broker: the recorder hands the uplink a window of undelivered rows through a ring
 * and marks a row delivered only when the uplink reports the broker's PUBACK. After a
 * restart every undelivered row is sent again, oldest first.
 *
 * Nothing is dropped on a write error (a full disk, an I/O error): events stay in the
 * recorder's memory and in the event ring, and the real-time loop holds back new samples
 * rather than lose an event, until a retry succeeds. Readings are telemetry; past the
 * in-memory buffer they are dropped and counted.
 */
#ifndef PG_RECORDER_H
#define PG_RECORDER_H

#include <stdint.h>

#include "config.h"
#include "kpi.h"
#include "ring.h"
#include "store.h"

struct recorder;

struct recorder_stats {
    uint64_t events;           /* events committed */
    uint64_t readings;         /* readings committed */
    uint64_t readings_dropped; /* readings lost to a full buffer during write errors */
    uint64_t delivered;        /* outbox rows marked delivered */
    uint64_t write_errors;     /* failed transactions (each retried) */
};

/*
 * Create the recorder. It borrows every argument: st (it becomes the store's only user),
 * the event and reading rings it consumes, the outbox ring it produces, the ack ring of
 * delivered outbox ids it consumes. wake_fd is an eventfd others write to wake it.
 * notify(arg) is called after it pushed outbox rows (to wake the uplink).
 */
struct recorder *recorder_new(const struct config *cfg, struct store *st,
                              struct ring *events, struct ring *readings,
                              struct ring *outbox, struct ring *acks, int wake_fd,
                              void (*notify)(void *), void *notify_arg);

int recorder_start(struct recorder *rec);

/*
 * Wait until the recorder has completed a full pass that began after this call:
 * everything pushed to its rings before the call is then committed and handed to the
 * uplink. Returns 0 or -ETIMEDOUT.
 */
int recorder_flush(struct recorder *rec, int timeout_ms);

/* Final pass (events, readings, acks), then stop the thread and wait for it. */
void recorder_stop(struct recorder *rec);

void recorder_free(struct recorder *rec);

void recorder_stats(struct recorder *rec, struct recorder_stats *out);

/*
 * The highest event sequence number committed to the store (synchronous=FULL), from
 * any thread: an event at or below it survives a power cut. 0 before the first commit.
 */
uint64_t recorder_committed_seq(struct recorder *rec);

/*
 * Before recorder_start(): keep the alarm KPIs (kpi.h) of n_alarms alarms, fed with every
 * alarm event once it is committed. Returns 0 or -ENOMEM.
 */
int recorder_track_alarms(struct recorder *rec, size_t n_alarms);

/* Before recorder_start(): an alarm restored at start-up (kpi_restore()). */
int recorder_restore_alarm(struct recorder *rec, uint32_t id, uint8_t priority,
                           uint8_t state, bool condition, int64_t since_ms);

/*
 * The KPIs as of now_ms (kpi_snapshot()), from any thread. Returns 0, or -ENOENT when
 * recorder_track_alarms() was not called.
 */
int recorder_kpi(struct recorder *rec, int64_t now_ms, struct kpi_figures *out);

#endif
