/*
 * msg: the fixed-size messages that travel through parkguard's rings.
 *
 * Each struct is copied by value into a ring slot, so none holds a pointer: a message
 * must mean the same thing after its producer has moved on. Sizes are fixed at compile
 * time because the rings preallocate their slots.
 */
#ifndef PG_MSG_H
#define PG_MSG_H

#include <stdbool.h>
#include <stdint.h>

/*
 * The quality of a sample. A sample whose quality is not GOOD carries no usable number:
 * rules never evaluate it as one, and it is never published as one.
 * XX(enum suffix, wire name)
 */
#define MSG_QUALITY_MAP(XX)                                                              \
    XX(GOOD, "good")                                                                     \
    XX(COMM_LOSS, "comm-loss")                                                           \
    XX(TIMEOUT, "timeout")                                                               \
    XX(BAD_FRAME, "bad-frame")                                                           \
    XX(EXCEPTION, "modbus-exception")                                                    \
    XX(UNDER_RANGE, "under-range")                                                       \
    XX(OVER_RANGE, "over-range")                                                         \
    XX(MAINTENANCE, "maintenance")                                                       \
    XX(SENSOR_FAULT, "sensor-fault")                                                     \
    XX(STALE, "stale")                                                                   \
    XX(SENTINEL, "sentinel")

enum msg_quality {
#define MSG_QUALITY_ENUM(name, text) MSG_Q_##name,
    MSG_QUALITY_MAP(MSG_QUALITY_ENUM)
#undef MSG_QUALITY_ENUM
        MSG_Q_COUNT
};

static inline const char *msg_quality_name(unsigned q)
{
    static const char *const names[] = {
#define MSG_QUALITY_NAME(name, text) text,
        MSG_QUALITY_MAP(MSG_QUALITY_NAME)
#undef MSG_QUALITY_NAME
    };
    return q < MSG_Q_COUNT ? names[q] : "invalid";
}

/* Sample and event flags. */
#define MSG_F_TEST 0x01 /* the device is in test mode: the value is injected */

/* One acquired value of one point: poller -> RT loop, and RT loop -> recorder. */
struct msg_sample {
    uint32_t point;   /* index into config.points */
    uint8_t quality;  /* enum msg_quality */
    uint8_t exc_code; /* Modbus exception code when quality is EXCEPTION */
    uint8_t flags;    /* MSG_F_* */
    uint16_t raw;     /* the register as read, for diagnosis */
    double value;     /* engineering units; meaningful only when quality is GOOD */
    int64_t mono_ns;  /* CLOCK_MONOTONIC at acquisition */
    int64_t utc_ms;   /* wall clock at acquisition, for the record */
};

/*
 * Which condition of a point an event is about. XX(enum suffix, wire name)
 * FAULT is the instrument fault: bad quality (comm-loss, sensor-fault, stale...) for
 * longer than the point's fault delay. It is separate from, and never shares an event
 * with, the point's process or gas limits. HIGH is the H limit; it keeps the wire name
 * "high" it had when it was the only limit, and the codes of HIGH and FAULT never change,
 * so new conditions are appended after them. ROC_RISE and ROC_FALL are the two
 * directions of the rate-of-change rule. VOTE is an area's K-out-of-N alarm: its
 * "point" is the area's index, not a point's. MAINT is not an alarm: it marks a point
 * whose instrument reports maintenance (MSG_EV_MAINT).
 */
#define MSG_LIMIT_MAP(XX)                                                                \
    XX(HIGH, "high")                                                                     \
    XX(FAULT, "fault")                                                                   \
    XX(HH, "hh")                                                                         \
    XX(L, "l")                                                                           \
    XX(LL, "ll")                                                                         \
    XX(LEVEL1, "level1")                                                                 \
    XX(LEVEL2, "level2")                                                                 \
    XX(O2_LOW, "o2-low")                                                                 \
    XX(O2_HIGH, "o2-high")                                                               \
    XX(ROC_RISE, "roc-rise")                                                             \
    XX(ROC_FALL, "roc-fall")                                                             \
    XX(VOTE, "vote")                                                                     \
    XX(MAINT, "maintenance")

enum msg_limit {
#define MSG_LIMIT_ENUM(name, text) MSG_LIMIT_##name,
    MSG_LIMIT_MAP(MSG_LIMIT_ENUM)
#undef MSG_LIMIT_ENUM
        MSG_LIMIT_COUNT
};

static inline const char *msg_limit_name(unsigned l)
{
    static const char *const names[] = {
#define MSG_LIMIT_NAME(name, text) text,
        MSG_LIMIT_MAP(MSG_LIMIT_NAME)
#undef MSG_LIMIT_NAME
    };
    return l < MSG_LIMIT_COUNT ? names[l] : "invalid";
}

/* Event flags, besides MSG_F_TEST. */
#define MSG_F_CONDITION  0x02 /* the alarm's condition is true after the step */
#define MSG_F_FIRST_OUT  0x04 /* the alarm is its area's first-out after the step */
#define MSG_F_ANNUNCIATE 0x08 /* the step entered unack: sound and flash */
#define MSG_F_RECOVERED  0x10 /* a corrupt record was moved to the safe state */
#define MSG_F_RESTORED   0x20 /* the state was restored from the store at start-up */
#define MSG_F_LATCHING   0x40 /* the alarm latches */

/* Officer ids and free-text reasons carried by commands and events, NUL included. */
#define MSG_USER_LEN   32 /* [A-Za-z0-9_.@-], 1..31 bytes */
#define MSG_REASON_LEN 128

/* A command's point for "every area" (silence). */
#define MSG_POINT_ALL UINT32_MAX

/*
 * Operator commands, from any command source (parkguardctl, later MQTT). All but
 * SILENCE are alarm_step() events of one alarm; SILENCE stops the sirens of one area, or
 * of all, until the next new alarm. XX(enum suffix, wire name)
 */
#define MSG_CMD_MAP(XX)                                                                  \
    XX(ACK, "ack")                                                                       \
    XX(RESET, "reset")                                                                   \
    XX(SILENCE, "silence")                                                               \
    XX(SHELVE, "shelve")                                                                 \
    XX(UNSHELVE, "unshelve")                                                             \
    XX(OOS, "oos")                                                                       \
    XX(RTS, "rts")

enum msg_cmd_op {
#define MSG_CMD_ENUM(name, text) MSG_CMD_##name,
    MSG_CMD_MAP(MSG_CMD_ENUM)
#undef MSG_CMD_ENUM
        MSG_CMD_COUNT
};

static inline const char *msg_cmd_name(unsigned op)
{
    static const char *const names[] = {
#define MSG_CMD_NAME(name, text) text,
        MSG_CMD_MAP(MSG_CMD_NAME)
#undef MSG_CMD_NAME
    };
    return op < MSG_CMD_COUNT ? names[op] : "invalid";
}

/* Where a command came from, for the audit trail. */
enum msg_source {
    MSG_SRC_LOCAL, /* parkguardctl over the unix socket */
    MSG_SRC_MQTT,  /* the command platform over MQTT */
    MSG_SRC_COUNT,
};

/*
 * One operator command: a command source -> RT loop, through that source's own command
 * ring. The source has authenticated user and grants rights (ALARM_RIGHT_*); the RT loop
 * checks them against the command through the alarm state machine.
 */
struct msg_command {
    uint64_t req;        /* the source's own id, echoed in the result */
    uint32_t point;      /* point index; area index for MSG_LIMIT_VOTE and for SILENCE
                            (or MSG_POINT_ALL) */
    uint8_t op;          /* enum msg_cmd_op */
    uint8_t limit;       /* enum msg_limit: which alarm of the point; unused by SILENCE */
    uint8_t rights;      /* ALARM_RIGHT_* granted to user */
    uint8_t source;      /* enum msg_source */
    bool one_shot;       /* SHELVE: one-shot instead of timed */
    int64_t shelve_ms;   /* SHELVE, timed: how long */
    int64_t utc_ms;      /* when the source received it */
    int64_t deadline_ns; /* CLOCK_MONOTONIC: refused as expired if taken later; 0 none */
    char user[MSG_USER_LEN];     /* NUL-terminated, non-empty */
    char reason[MSG_REASON_LEN]; /* NUL-terminated, may be empty */
};

/*
 * The answer to one command: RT loop -> the command's source, through that source's
 * result ring. status is 0 when the alarm changed state, 1 when the command was accepted
 * without a change, or a negated enum alarm_reason when it was refused (nothing
 * changed). seq is the event recording it: every command, refused ones included, is
 * journalled.
 */
struct msg_cmd_result {
    uint64_t req;
    uint64_t seq;
    int16_t status;
    uint8_t from;    /* enum alarm_state before (refused: the unchanged state) */
    uint8_t to;      /* enum alarm_state after */
    bool journalled; /* the command's event went to the recorder; false only while the
                        store is stuck (seq then names no event of this command) */
};

/* What a journal event records. */
enum msg_event_type {
    MSG_EV_ALARM,    /* an alarm stepped: a transition, or a condition change in place */
    MSG_EV_REJECTED, /* an operator command was refused; status says why */
    MSG_EV_SILENCE,  /* sirens were silenced */
    MSG_EV_MAINT,    /* a point entered (condition) or left maintenance */
    MSG_EV_RESYNC,   /* an alarm as it stands, after steps the journal had no room for */
    MSG_EV_TYPE_COUNT,
};

/*
 * One journal event: RT loop -> recorder. Never dropped (see rtloop.h). Every alarm
 * transition, every condition change, every operator command (accepted or not) and every
 * maintenance change is one event, with a per-gateway sequence number that survives
 * restarts.
 */
struct msg_event {
    uint64_t seq;   /* per-gateway, strictly increasing, survives restarts */
    uint64_t req;   /* the command's req for operator actions, else 0 */
    uint32_t point; /* index into config.points; area index for VOTE; MSG_POINT_ALL */
    uint32_t alarm; /* ALARM: the loop's dense alarm index (rtloop_alarm_get()) */
    uint8_t type;   /* enum msg_event_type */
    uint8_t limit;  /* enum msg_limit */
    uint8_t event; /* enum alarm_event for ALARM; enum msg_cmd_op for REJECTED, SILENCE */
    uint8_t from;  /* enum alarm_state before the step */
    uint8_t to;    /* enum alarm_state after the step */
    uint8_t priority; /* enum alarm_priority of the alarm */
    uint8_t flags;    /* MSG_F_* */
    uint8_t quality;  /* the deciding sample's quality (the bad one, for a fault) */
    uint8_t shelve;   /* enum alarm_shelve after the step */
    uint8_t source;   /* enum msg_source of an operator action */
    int16_t status;   /* REJECTED: the negated enum alarm_reason */
    double value;     /* the point's latest good value (NaN when none) */
    double setpoint;  /* NaN when the alarm has none (fault, maintenance) */
    double deadband;
    int64_t mono_ns;       /* CLOCK_MONOTONIC of the deciding sample or command */
    int64_t utc_ms;        /* wall clock of the same */
    int64_t since_utc_ms;  /* when the alarm entered its state `to` */
    int64_t active_utc_ms; /* when the alarm last went on the active list; 0 never */
    int64_t shelve_until_utc_ms; /* shelved: when the shelve ends at the latest; else 0 */
    char user[MSG_USER_LEN];     /* operator actions; "" for process events */
    char reason[MSG_REASON_LEN];
};

/*
 * The longest topic a valid config can produce is a 127-byte prefix, "/maintenance/" and
 * a 63-byte point id: 203 bytes. The longest alarm payload, with every id at 63 bytes and
 * a reason of 127 characters that all need escaping, is under 1,400. Both limits leave
 * room, so encoding an event can never fail for length.
 */
#define MSG_TOPIC_LEN   256
#define MSG_PAYLOAD_LEN 2048

/* One stored outbox row to publish: recorder -> uplink. */
struct msg_outbox {
    int64_t id; /* outbox row id; the uplink reports it back once the broker has it */
    uint8_t qos;
    bool retained;
    uint16_t payload_len;
    char topic[MSG_TOPIC_LEN];
    char payload[MSG_PAYLOAD_LEN];
};

#endif
