/*
 * alarm: the ISA-18.2 alarm state machine of one alarm (one limit of one point), as a
 * pure step function.
 *
 * The real-time loop keeps one struct alarm per alarm in a preallocated table and calls
 * alarm_step() for every process event (a rule's condition became true or false, a timer
 * fired, design suppression changed) and every operator command (acknowledge, reset,
 * shelve, remove from service). The module owns nothing: no globals, no clock reads, no
 * I/O, no logging and no allocation, and every call runs in constant time. The caller
 * passes the time, journals the transitions and persists the record.
 *
 * What it must never do: leave an alarm looking normal while its condition is true,
 * unless a person or the design logic has deliberately inhibited it (shelved, suppressed,
 * out of service). A record that is corrupt goes to the safe state, an active and
 * annunciated alarm (unack with the condition true), never to normal.
 *
 * The state model and the transition table are those of docs/alarms.md, which follows
 * ISA-18.2 / IEC 62682 as reconstructed from OPC UA Part 9, with the gas-alarm rules of
 * GB/T 50493-2019 and GB 16808.
 */
#ifndef PG_ALARM_H
#define PG_ALARM_H

#include <stdbool.h>
#include <stdint.h>

/*
 * The states. "Active" is the alarm-list sense of ISA-18.2: the alarm is shown to the
 * operator (it is unacknowledged, or its condition is true, or it is latched). "Unack"
 * is the part of that which still wants an operator's acknowledgement: what sounds.
 * XX(enum suffix, wire name, active, unack)
 */
#define ALARM_STATE_MAP(XX)                                                              \
    XX(NORMAL, "normal", false, false)                                                   \
    XX(UNACK, "unack", true, true)                                                       \
    XX(ACKED, "acked", true, false)                                                      \
    XX(RTN_UNACK, "rtn_unack", true, true)                                               \
    XX(LATCHED_UNACK, "latched_unack", true, true)                                       \
    XX(LATCHED_ACK, "latched_ack", true, false)                                          \
    XX(SHELVED, "shelved", false, false)                                                 \
    XX(SUPPRESSED, "suppressed", false, false)                                           \
    XX(OUT_OF_SERVICE, "out_of_service", false, false)

enum alarm_state {
#define ALARM_STATE_ENUM(name, text, active, unack) ALARM_##name,
    ALARM_STATE_MAP(ALARM_STATE_ENUM)
#undef ALARM_STATE_ENUM
        ALARM_STATE_COUNT
};

/*
 * The rights an operator command needs. The caller's authentication decides which rights
 * a user holds and passes them in struct alarm_cmd; this module only checks them.
 */
#define ALARM_RIGHT_ACK     0x01u /* acknowledge and reset */
#define ALARM_RIGHT_SHELVE  0x02u /* shelve and unshelve */
#define ALARM_RIGHT_SERVICE 0x04u /* remove from service and return to service */

/*
 * The events. A right of 0 marks a process event: it comes from the rules, a timer or
 * the design-suppression logic, carries no command and is never rejected. The others are
 * operator commands.
 * XX(enum suffix, wire name, right needed)
 */
#define ALARM_EVENT_MAP(XX)                                                              \
    XX(ALM, "alm", 0)                                                                    \
    XX(RTN, "rtn", 0)                                                                    \
    XX(ACK, "ack", ALARM_RIGHT_ACK)                                                      \
    XX(RESET, "reset", ALARM_RIGHT_ACK)                                                  \
    XX(REALARM, "realarm", 0)                                                            \
    XX(SHELVE, "shelve", ALARM_RIGHT_SHELVE)                                             \
    XX(UNSHELVE, "unshelve", ALARM_RIGHT_SHELVE)                                         \
    XX(SHELVE_EXPIRED, "shelve_expired", 0)                                              \
    XX(SUPPRESS, "suppress", 0)                                                          \
    XX(UNSUPPRESS, "unsuppress", 0)                                                      \
    XX(OOS, "oos", ALARM_RIGHT_SERVICE)                                                  \
    XX(RTS, "rts", ALARM_RIGHT_SERVICE)

enum alarm_event {
#define ALARM_EVENT_ENUM(name, text, right) ALARM_EV_##name,
    ALARM_EVENT_MAP(ALARM_EVENT_ENUM)
#undef ALARM_EVENT_ENUM
        ALARM_EVENT_COUNT
};

/*
 * Why a command was rejected. alarm_step() returns the negated value, so every code is
 * at least 1.
 * XX(enum suffix, wire name)
 */
#define ALARM_REASON_MAP(XX)                                                             \
    XX(INVALID, "invalid_argument")                                                      \
    XX(NOT_AUTHORISED, "not_authorised")                                                 \
    XX(NOT_ACTIVE, "not_active")                                                         \
    XX(ALREADY_ACKED, "already_acked")                                                   \
    XX(NOT_ACKED_YET, "not_acked_yet")                                                   \
    XX(NOT_LATCHED, "not_latched")                                                       \
    XX(CONDITION_STILL_TRUE, "condition_still_true")                                     \
    XX(NOT_SHELVABLE, "not_shelvable")                                                   \
    XX(ONE_SHOT_NOT_ALLOWED, "one_shot_not_allowed")                                     \
    XX(BAD_DURATION, "bad_duration")                                                     \
    XX(SHELVE_TOO_LONG, "shelve_too_long")                                               \
    XX(ALREADY_IN_STATE, "already_in_state")                                             \
    XX(NOT_SHELVED, "not_shelved")                                                       \
    XX(NOT_OUT_OF_SERVICE, "not_out_of_service")                                         \
    XX(INHIBITED, "inhibited")                                                           \
    XX(NO_SUCH_ALARM, "no_such_alarm")                                                   \
    XX(EXPIRED, "expired")

enum alarm_reason {
    ALARM_R_NONE = 0, /* not a reason (0 is success); keeps every code at 1 or more */
#define ALARM_REASON_ENUM(name, text) ALARM_R_##name,
    ALARM_REASON_MAP(ALARM_REASON_ENUM)
#undef ALARM_REASON_ENUM
        ALARM_R_COUNT
};

/*
 * Priorities, P1 the most urgent (docs/alarms.md). The numbers are the wire values.
 * XX(enum suffix, number, wire name)
 */
#define ALARM_PRIORITY_MAP(XX)                                                           \
    XX(P1, 1, "urgent")                                                                  \
    XX(P2, 2, "high")                                                                    \
    XX(P3, 3, "medium")                                                                  \
    XX(P4, 4, "low")

enum alarm_priority {
#define ALARM_PRIORITY_ENUM(name, num, text) ALARM_##name = num,
    ALARM_PRIORITY_MAP(ALARM_PRIORITY_ENUM)
#undef ALARM_PRIORITY_ENUM
};

/*
 * What an alarm is about, which decides its defaults (alarm_config_default()) and its
 * rank among alarms of the same priority (alarm_outranks()). gas_level and gas_class
 * carry the GB/T 50493 ranking: level 2 before level 1, toxic (2) before combustible (1)
 * at the same level; 0 means the rule does not apply. max_shelve_s 0 means not
 * shelvable. Why each default is what it is: docs/alarms.md.
 * XX(enum suffix, wire name, priority, latching, max_shelve_s, one-shot allowed,
 *    gas_level, gas_class)
 */
#define ALARM_KIND_MAP(XX)                                                               \
    XX(COMBUSTIBLE_L1, "combustible_l1", P2, false, 3600, true, 1, 1)                    \
    XX(COMBUSTIBLE_L2, "combustible_l2", P1, true, 0, false, 2, 1)                       \
    XX(TOXIC_L1, "toxic_l1", P2, false, 3600, true, 1, 2)                                \
    XX(TOXIC_L2, "toxic_l2", P1, true, 0, false, 2, 2)                                   \
    XX(OXYGEN_LOW, "oxygen_low", P1, true, 0, false, 0, 0)                               \
    XX(OXYGEN_HIGH, "oxygen_high", P1, true, 0, false, 0, 0)                             \
    XX(PROCESS_HH, "process_hh", P2, false, 28800, true, 0, 0)                           \
    XX(PROCESS_H, "process_h", P3, false, 28800, true, 0, 0)                             \
    XX(PROCESS_L, "process_l", P3, false, 28800, true, 0, 0)                             \
    XX(PROCESS_LL, "process_ll", P2, false, 28800, true, 0, 0)                           \
    XX(RATE_OF_CHANGE, "rate_of_change", P2, false, 28800, true, 0, 0)                   \
    XX(INSTRUMENT_FAULT, "instrument_fault", P3, true, 0, false, 0, 0)                   \
    XX(ADVISORY, "advisory", P4, false, 86400, true, 0, 0)

enum alarm_kind {
#define ALARM_KIND_ENUM(name, text, prio, latching, max_s, one_shot, level, cls)         \
    ALARM_KIND_##name,
    ALARM_KIND_MAP(ALARM_KIND_ENUM)
#undef ALARM_KIND_ENUM
        ALARM_KIND_COUNT
};

/* How a shelved alarm is shelved. Meaningful only in ALARM_SHELVED. */
enum alarm_shelve {
    ALARM_SHELVE_NONE,
    ALARM_SHELVE_TIMED,    /* ends at the deadline */
    ALARM_SHELVE_ONE_SHOT, /* ends when the condition returns, or at the deadline */
};

/* Per-alarm configuration. Start from alarm_config_default() and override. */
struct alarm_config {
    uint8_t kind;          /* enum alarm_kind */
    uint8_t priority;      /* enum alarm_priority */
    bool latching;         /* a returned condition holds until an operator resets it */
    bool one_shot_shelve;  /* one-shot shelving is permitted (needs max_shelve_ns > 0) */
    int64_t max_shelve_ns; /* longest shelve, timed or one-shot; 0 = not shelvable */
};

/*
 * The runtime record of one alarm. The caller allocates it (one per alarm, in a table
 * sized at start-up), initialises it with alarm_init(), passes it to every alarm_step()
 * and persists it so that a restart resumes where it left off. Only alarm_step() writes
 * it, except first_out.
 */
struct alarm {
    uint8_t state;  /* enum alarm_state */
    uint8_t shelve; /* enum alarm_shelve; ALARM_SHELVE_NONE unless shelved */
    /*
     * The latest process condition seen (ALM: true, RTN: false). It is tracked in every
     * state, shelved, suppressed and out of service included, so that leaving those
     * states goes to unack or normal according to the plant as it is now.
     */
    bool condition;
    bool first_out; /* the caller's slot (see struct alarm_area); never touched */
    int64_t shelve_deadline_ns; /* CLOCK_MONOTONIC; when a shelve ends at the latest */
    int64_t since_ns;           /* when the current state was entered */
    int64_t condition_ns;       /* when condition last changed */
};

/*
 * An operator command: who, why, with which rights, and for SHELVE how. The strings are
 * not copied; they need to live only for the call.
 */
struct alarm_cmd {
    const char *user;   /* required, non-empty: every command is audited */
    const char *reason; /* free text for the journal; not interpreted here */
    unsigned rights;    /* ALARM_RIGHT_* granted to user by the caller's authentication */
    bool one_shot;      /* SHELVE: one-shot instead of timed */
    int64_t shelve_ns;  /* SHELVE, timed: how long, 1 .. the config's max_shelve_ns */
};

/* What one step did. */
struct alarm_transition {
    uint8_t from;          /* enum alarm_state; out of range when recovered is set */
    uint8_t to;            /* enum alarm_state */
    uint8_t event;         /* enum alarm_event */
    bool annunciate;       /* the step entered unack: sound and flash for the operator */
    bool condition;        /* the condition after the step */
    bool recovered;        /* the record was corrupt; the event was not applied (below) */
    int64_t at_ns;         /* now_ns of the step */
    int64_t from_since_ns; /* when `from` was entered: the time spent in it is known */
};

/* alarm_step()'s non-negative results. */
enum alarm_step_result {
    ALARM_STEP_TRANSITION = 0, /* the state changed; *out describes the move */
    ALARM_STEP_NO_CHANGE = 1,  /* accepted, the state is unchanged; *out has from == to */
};

/* Names for logs and the wire. Out-of-range values give "invalid". */
const char *alarm_state_name(unsigned state);
const char *alarm_event_name(unsigned event);
const char *alarm_reason_name(unsigned reason);
const char *alarm_kind_name(unsigned kind);
const char *alarm_priority_name(unsigned priority);

/*
 * Whether a state puts the alarm on the active list (ALARM_STATE_MAP). An out-of-range
 * value counts as active: something unknown is never reported as quiet.
 */
bool alarm_state_active(unsigned state);

/*
 * Whether a state waits for an acknowledgement (ALARM_STATE_MAP): unack, rtn_unack,
 * latched_unack. An out-of-range value counts as unacknowledged, for the same reason.
 */
bool alarm_state_unack(unsigned state);

/*
 * The defaults for a kind (ALARM_KIND_MAP). An out-of-range kind gets the strictest
 * configuration there is: P1, latching, not shelvable.
 */
struct alarm_config alarm_config_default(unsigned kind);

/* A fresh record: normal, condition false, not shelved, entered at now_ns. */
void alarm_init(struct alarm *a, int64_t now_ns);

/*
 * Apply one event to one alarm.
 *
 * cmd is required for operator commands (ACK, RESET, SHELVE, UNSHELVE, OOS, RTS) and
 * ignored, and may be NULL, for process events. now_ns is CLOCK_MONOTONIC; for process
 * events, pass the acquisition time of the deciding sample. out may be NULL.
 *
 * Returns:
 *   ALARM_STEP_TRANSITION (0)  the state changed; *out is filled.
 *   ALARM_STEP_NO_CHANGE (1)   accepted, and the state is the same: ALM on an active
 *                              alarm, a stale timer, RTN while shelved... The condition
 *                              and its timestamp may have changed. *out is filled, with
 *                              from == to.
 *   -ALARM_R_* (< 0)           a refused command; nothing in *a or *out was written.
 *                              Process events are never refused.
 *   -ALARM_R_INVALID           a or c is NULL, or ev is out of range (also refused).
 *
 * Operator commands are checked in this order: cmd present with a non-empty user holding
 * the event's right (else NOT_AUTHORISED); then the state, per docs/alarms.md; then, for
 * SHELVE, the configuration and the command (NOT_SHELVABLE, ONE_SHOT_NOT_ALLOWED,
 * NOT_ACTIVE for a one-shot on a false condition, BAD_DURATION, SHELVE_TOO_LONG, and
 * INVALID when now_ns plus the length would overflow int64_t).
 *
 * A corrupt record (state out of range; shelved without a valid shelve kind; normal or
 * rtn_unack with the condition true, which would hide an active condition now or after
 * one acknowledgement) is first moved to the safe state, unack with the condition true.
 * That step returns ALARM_STEP_TRANSITION with out->recovered and out->annunciate set and
 * does not apply ev: the caller journals it, re-sends the point's current condition (ALM
 * or RTN) and asks the operator to repeat the command.
 */
int alarm_step(struct alarm *a, const struct alarm_config *c, enum alarm_event ev,
               const struct alarm_cmd *cmd, int64_t now_ns, struct alarm_transition *out);

/*
 * Whether a shelve timer is due: the alarm is shelved and now_ns has reached its
 * deadline. The caller then steps ALARM_EV_SHELVE_EXPIRED.
 */
bool alarm_due(const struct alarm *a, int64_t now_ns);

/*
 * Strict ordering of two alarms for the alarm list and for relays: true when a ranks
 * above b. Priority first (P1 above P4; an out-of-range priority ranks as P1); at the
 * same priority, level 2 above level 1 and then toxic above combustible (GB/T 50493,
 * docs/alarms.md). Equal ranks give false both ways.
 */
bool alarm_outranks(const struct alarm_config *a, const struct alarm_config *b);

/*
 * First-out for one area (ISA-18.1; GB 16808 §5.5.1.7 "first alarm" display). The
 * caller keeps one per area and reports every alarm of the area that becomes active or
 * inactive. The first-out is the alarm that became active while nothing else in the area
 * was, or, within one series, the one with the earliest activation time (two buses'
 * samples can reach the real-time loop out of order). It persists until the next series
 * starts. After a restart, rebuild the area by activating every alarm whose restored
 * state is active.
 */
struct alarm_area {
    uint32_t first_out; /* the caller's alarm id; meaningful when has_first */
    uint32_t active;    /* active alarms in the area */
    bool has_first;
    int64_t first_ns; /* activation time of first_out */
};

void alarm_area_init(struct alarm_area *ar);

/*
 * Alarm id became active at at_ns. Returns true when it is now the area's first-out; the
 * caller then clears first_out on the alarm that held it before (ar->first_out before
 * the call, when ar->has_first was set) and sets it on this one.
 */
bool alarm_area_activate(struct alarm_area *ar, uint32_t id, int64_t at_ns);

/* An alarm of the area became inactive. A count already at 0 stays at 0. */
void alarm_area_deactivate(struct alarm_area *ar);

/*
 * Feed one transition of alarm id: activates or deactivates as t moves the alarm on to
 * or off the active list. Returns alarm_area_activate()'s result, or false.
 */
bool alarm_area_apply(struct alarm_area *ar, uint32_t id,
                      const struct alarm_transition *t);

#endif
