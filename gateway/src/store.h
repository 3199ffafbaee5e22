/*
 * store: parkguard's SQLite file: the schema, its migrations and every statement.
 *
 * Only the recorder thread uses a struct store, so the database has exactly one writer
 * connection. That rules out the WAL-reset race that needs two connections writing or
 * checkpointing the same file, and means no statement ever waits on a lock.
 *
 * The file runs in WAL mode. Transactions that carry alarm events or delivery marks
 * commit with synchronous=FULL and survive a power cut; readings-only transactions commit
 * with NORMAL, which stays consistent but may lose the last batch on power loss. Because
 * both share one WAL, a FULL commit also makes every earlier NORMAL commit durable.
 *
 * Errors are negative errno values: -ENOSPC for a full disk, -EIO for I/O errors and
 * corruption, -EBUSY, -ENOMEM, -EINVAL for misuse. The store logs what SQLite said.
 */
#ifndef PG_STORE_H
#define PG_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "msg.h"

#define STORE_SCHEMA_VERSION 4

struct store;

/*
 * Open (creating if needed) and migrate the database at path, and register the config's
 * points. Returns 0 and the store in *out, or a negative errno.
 */
int store_open(const char *path, const struct config *cfg, struct store **out);

/* Close the database. store_close(NULL) does nothing. */
void store_close(struct store *st);

/* The highest alarm event sequence number ever stored, or 0 for a new file. */
int store_last_seq(struct store *st, uint64_t *seq);

/* Begin a write transaction; durable selects synchronous=FULL for its commit. */
int store_begin(struct store *st, bool durable);
int store_commit(struct store *st);
void store_rollback(struct store *st);

/* Inside a transaction: record one reading. */
int store_add_reading(struct store *st, const struct msg_sample *s);

/*
 * Inside a transaction: record a journal event and queue its MQTT message in the outbox
 * (none when topic is NULL). An alarm event also updates the alarm's saved state, and an
 * operator action (an event with a user) adds an audit record. Every row lands in the
 * same transaction, so an event is never stored without its message, state or audit.
 */
int store_add_event(struct store *st, const struct msg_event *ev, const char *topic,
                    const char *payload, size_t payload_len, int qos);

/*
 * Inside a transaction: an audit record that is not an operator command, such as a
 * standards override in the config at start-up (source "config").
 */
int store_add_audit(struct store *st, int64_t utc_ms, const char *user,
                    const char *action, const char *target, const char *result,
                    const char *reason);

/* The saved state of one alarm that was not plain normal. */
struct store_alarm {
    char target[CONFIG_ID_LEN]; /* the point id, or the area id for a vote */
    char limit[32];             /* msg_limit_name() */
    int state;                  /* enum alarm_state */
    int shelve;                 /* enum alarm_shelve */
    int priority;
    int flags; /* MSG_F_* of its last event */
    uint64_t seq;
    double value;
    double setpoint;
    int64_t since_ms;
    int64_t active_ms;
    int64_t shelve_until_ms;
};

/*
 * Call fn for every saved alarm state, in a stable order. A non-zero return from fn
 * stops the walk and is returned. Returns 0 or a negative errno.
 */
int store_load_alarms(struct store *st, int (*fn)(void *arg, const struct store_alarm *a),
                      void *arg);

/* Inside a transaction: the broker has the outbox row id. */
int store_mark_delivered(struct store *st, int64_t id, int64_t utc_ms);

/*
 * The first undelivered outbox row with an id above after_id. Returns 1 and fills *out,
 * 0 when there is none, or a negative errno.
 */
int store_outbox_next(struct store *st, int64_t after_id, struct msg_outbox *out);

#endif
