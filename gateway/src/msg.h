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

enum msg_event_kind {
    MSG_EVENT_ACTIVATED,
    MSG_EVENT_CLEARED,
};

/*
 * Which condition of a point an event is about. XX(enum suffix, wire name)
 * FAULT is the instrument fault: bad quality (comm-loss, sensor-fault, stale...) for
 * longer than the point's fault delay. It is separate from, and never shares an event
 * with, the point's process or gas limits. HIGH is the H limit; it keeps the wire name
 * "high" it had when it was the only limit, and the codes of HIGH and FAULT never change,
 * so new conditions are appended after them. ROC_RISE and ROC_FALL are the two
 * directions of the rate-of-change rule.
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
    XX(ROC_FALL, "roc-fall")

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

/* An alarm transition: RT loop -> recorder. Never dropped (see rtloop.h). */
struct msg_event {
    uint64_t seq;    /* per-gateway, strictly increasing, survives restarts */
    uint32_t point;  /* index into config.points */
    uint8_t kind;    /* enum msg_event_kind */
    uint8_t limit;   /* enum msg_limit */
    uint8_t flags;   /* MSG_F_* of the deciding sample */
    uint8_t quality; /* the deciding sample's quality (the bad one, for a fault) */
    double value;    /* the value that caused the transition */
    double setpoint;
    double deadband;
    int64_t mono_ns; /* CLOCK_MONOTONIC of the deciding sample */
    int64_t utc_ms;  /* wall clock of the deciding sample */
};

/*
 * The longest topic a valid config can produce is a 127-byte prefix, "/alarm/" and a
 * 63-byte point id: 197 bytes. The longest alarm payload, with every id at 63 bytes, is
 * under 800. Both limits leave room, so encoding an event can never fail for length.
 */
#define MSG_TOPIC_LEN   256
#define MSG_PAYLOAD_LEN 1024

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
