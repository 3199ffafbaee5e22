/*
 * uplink: the connection to the park's MQTT broker, on a thread of its own.
 *
 * It publishes the outbox rows the recorder hands it at QoS 1 and reports each row's id
 * back once the broker has acknowledged it (PUBACK), so the row can be marked delivered.
 * Rows in flight when the link drops are sent again after reconnecting: delivery is
 * at-least-once, and every alarm carries its sequence number so receivers can discard a
 * duplicate. The gateway's status topic is retained: "online" after each connect, and
 * "offline" both as the MQTT Last Will (a crash or a cut cable) and on a clean stop.
 *
 * Paho's callbacks run on Paho's threads while it holds its own lock. They only record
 * what happened under a small mutex of ours and signal this thread; they never call Paho
 * back, which is how the known callback deadlocks are avoided.
 */
#ifndef PG_UPLINK_H
#define PG_UPLINK_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "ring.h"

struct uplink;

struct uplink_stats {
    bool connected;
    uint64_t connects;
    uint64_t published; /* PUBACKs received */
    uint64_t resent;    /* messages sent again after a failure or reconnect */
};

/*
 * Create the uplink for cfg->mqtt. It consumes outbox (struct msg_outbox) and produces
 * acks (int64_t outbox ids). ack_wake_fd is written after pushing acks (the recorder's
 * eventfd). Returns NULL with errno set.
 */
struct uplink *uplink_new(const struct config *cfg, struct ring *outbox,
                          struct ring *acks, int ack_wake_fd);

int uplink_start(struct uplink *up);

/*
 * Hand the uplink a metrics document (NUL-terminated JSON, allocated with malloc) to
 * publish, retained, at QoS 0 on "<prefix>/metrics". The uplink takes ownership. Metrics
 * are a snapshot: a newer document replaces one not yet sent, and none is kept while the
 * broker is unreachable. Callable from any thread.
 */
void uplink_set_metrics(struct uplink *up, char *json);

/* Tell the uplink that the outbox ring has new rows. Callable from any thread. */
void uplink_wake(void *up);

/*
 * Stop: wait up to drain_ms for the messages in flight and in the outbox ring to be
 * acknowledged, publish the retained "offline" status, disconnect, and join the thread.
 */
void uplink_stop(struct uplink *up, int drain_ms);

void uplink_free(struct uplink *up);

void uplink_stats(struct uplink *up, struct uplink_stats *out);

#endif
