#include "alarm.h"

#include <stddef.h>

/*
 * NEVER(x): x cannot be true while every caller and the storage behave, but it is
 * handled anyway, by going to the safe state (SQLite's NEVER() idiom). Unlike SQLite's
 * it does not assert in debug builds, because the tests drive these paths on purpose.
 */
#define NEVER(x) __builtin_expect(!!(x), 0)

/* ================================================================================== */
/* Names and per-entry properties, expanded from the X-macro tables in alarm.h.        */

static const char *const state_names[] = {
#define STATE_NAME(name, text, active, unack) text,
    ALARM_STATE_MAP(STATE_NAME)
#undef STATE_NAME
};

static const bool state_active[] = {
#define STATE_ACTIVE(name, text, active, unack) active,
    ALARM_STATE_MAP(STATE_ACTIVE)
#undef STATE_ACTIVE
};

static const bool state_unack[] = {
#define STATE_UNACK(name, text, active, unack) unack,
    ALARM_STATE_MAP(STATE_UNACK)
#undef STATE_UNACK
};

static const char *const event_names[] = {
#define EVENT_NAME(name, text, right) text,
    ALARM_EVENT_MAP(EVENT_NAME)
#undef EVENT_NAME
};

static const unsigned event_right[] = {
#define EVENT_RIGHT(name, text, right) right,
    ALARM_EVENT_MAP(EVENT_RIGHT)
#undef EVENT_RIGHT
};

/* Reasons start at 1; slot 0 is the "none" of a success. */
static const char *const reason_names[] = {
#define REASON_NAME(name, text) [ALARM_R_##name] = text,
    ALARM_REASON_MAP(REASON_NAME)
#undef REASON_NAME
        [ALARM_R_NONE] = "none",
};

/* Priorities are numbered from 1, as on the wire; slot 0 is no priority. */
static const char *const priority_names[] = {
#define PRIORITY_NAME(name, num, text) [num] = text,
    ALARM_PRIORITY_MAP(PRIORITY_NAME)
#undef PRIORITY_NAME
        [0] = "invalid",
};

struct kind_info {
    const char *name;
    uint8_t priority;
    bool latching;
    bool one_shot;
    int64_t max_shelve_s;
    uint8_t gas_level;
    uint8_t gas_class;
};

static const struct kind_info kinds[] = {
#define KIND_INFO(name, text, prio, latching, max_s, one_shot, level, cls)               \
    {text, ALARM_##prio, latching, one_shot, max_s, level, cls},
    ALARM_KIND_MAP(KIND_INFO)
#undef KIND_INFO
};

#define NS_PER_S INT64_C(1000000000)

/* ================================================================================== */
/* The transition table.                                                               */

/*
 * What a (state, event) cell does. The guards of the table in docs/alarms.md live in the
 * actions, so that the table itself stays one line per cell.
 */
enum act {
    ACT_REJECT,       /* refuse the command with reason arg */
    ACT_NOP,          /* accepted, the state stays (the condition is still tracked) */
    ACT_GO,           /* move to state arg */
    ACT_LATCH,        /* move to arg, or to alt when the config latches */
    ACT_BACK,         /* back into service: unack if the condition is true, else normal */
    ACT_RESET,        /* to normal if the condition is false, else refuse */
    ACT_SHELVE,       /* to shelved if the config and the command allow it */
    ACT_EXPIRE,       /* like BACK, but only once the shelve deadline has passed */
    ACT_ONE_SHOT_RTN, /* a one-shot shelve ends (to normal) when the condition returns */
};

struct cell {
    uint8_t act; /* enum act */
    uint8_t arg; /* a state, or for ACT_REJECT a reason */
    uint8_t alt; /* ACT_LATCH: the state when the config latches */
};

/* clang-format off */
#define GO(s)       {ACT_GO, ALARM_##s, 0}
#define LATCH(s, l) {ACT_LATCH, ALARM_##s, ALARM_##l}
#define REJECT(r)   {ACT_REJECT, ALARM_R_##r, 0}
#define NOP()       {ACT_NOP, 0, 0}
#define BACK()      {ACT_BACK, 0, 0}
#define RESET()     {ACT_RESET, 0, 0}
#define SHELVE()    {ACT_SHELVE, 0, 0}
#define EXPIRE()    {ACT_EXPIRE, 0, 0}
#define ONE_SHOT()  {ACT_ONE_SHOT_RTN, 0, 0}

/*
 * Every cell of the 9 x 12 table, spelled out. The numbers are rows 1 to 19 of the
 * ISA-18.2 transition table as docs/alarms.md numbers them. Cells without a number are
 * the refusals and accepted no-ops the 19 rows leave implicit; docs/alarms.md gives the
 * reasons.
 * XX(from, event, what happens)
 */
#define ALARM_CELLS(XX)                                                                  \
    XX(NORMAL, ALM, GO(UNACK))                          /* 1 */                          \
    XX(NORMAL, RTN, NOP())                                                               \
    XX(NORMAL, ACK, REJECT(NOT_ACTIVE))                                                  \
    XX(NORMAL, RESET, REJECT(NOT_LATCHED))                                               \
    XX(NORMAL, REALARM, NOP())                                                           \
    XX(NORMAL, SHELVE, SHELVE())                        /* 14 */                         \
    XX(NORMAL, UNSHELVE, REJECT(NOT_SHELVED))                                            \
    XX(NORMAL, SHELVE_EXPIRED, NOP())                                                    \
    XX(NORMAL, SUPPRESS, GO(SUPPRESSED))                /* 16 */                         \
    XX(NORMAL, UNSUPPRESS, NOP())                                                        \
    XX(NORMAL, OOS, GO(OUT_OF_SERVICE))                 /* 18 */                         \
    XX(NORMAL, RTS, REJECT(NOT_OUT_OF_SERVICE))                                          \
                                                                                         \
    XX(UNACK, ALM, NOP())                                                                \
    XX(UNACK, RTN, LATCH(RTN_UNACK, LATCHED_UNACK))     /* 3, 4 */                       \
    XX(UNACK, ACK, GO(ACKED))                           /* 2 */                          \
    XX(UNACK, RESET, REJECT(NOT_LATCHED))                                                \
    XX(UNACK, REALARM, NOP())                                                            \
    XX(UNACK, SHELVE, SHELVE())                         /* 14 */                         \
    XX(UNACK, UNSHELVE, REJECT(NOT_SHELVED))                                             \
    XX(UNACK, SHELVE_EXPIRED, NOP())                                                     \
    XX(UNACK, SUPPRESS, GO(SUPPRESSED))                 /* 16 */                         \
    XX(UNACK, UNSUPPRESS, NOP())                                                         \
    XX(UNACK, OOS, GO(OUT_OF_SERVICE))                  /* 18 */                         \
    XX(UNACK, RTS, REJECT(NOT_OUT_OF_SERVICE))                                           \
                                                                                         \
    XX(ACKED, ALM, NOP())                                                                \
    XX(ACKED, RTN, LATCH(NORMAL, LATCHED_ACK))          /* 5, 6 */                       \
    XX(ACKED, ACK, REJECT(ALREADY_ACKED))                                                \
    XX(ACKED, RESET, REJECT(NOT_LATCHED))                                                \
    XX(ACKED, REALARM, GO(UNACK))                       /* 7 */                          \
    XX(ACKED, SHELVE, SHELVE())                         /* 14 */                         \
    XX(ACKED, UNSHELVE, REJECT(NOT_SHELVED))                                             \
    XX(ACKED, SHELVE_EXPIRED, NOP())                                                     \
    XX(ACKED, SUPPRESS, GO(SUPPRESSED))                 /* 16 */                         \
    XX(ACKED, UNSUPPRESS, NOP())                                                         \
    XX(ACKED, OOS, GO(OUT_OF_SERVICE))                  /* 18 */                         \
    XX(ACKED, RTS, REJECT(NOT_OUT_OF_SERVICE))                                           \
                                                                                         \
    XX(RTN_UNACK, ALM, GO(UNACK))                       /* 9 */                          \
    XX(RTN_UNACK, RTN, NOP())                                                            \
    XX(RTN_UNACK, ACK, GO(NORMAL))                      /* 8 */                          \
    XX(RTN_UNACK, RESET, REJECT(NOT_LATCHED))                                            \
    XX(RTN_UNACK, REALARM, NOP())                                                        \
    XX(RTN_UNACK, SHELVE, SHELVE())                     /* 14 */                         \
    XX(RTN_UNACK, UNSHELVE, REJECT(NOT_SHELVED))                                         \
    XX(RTN_UNACK, SHELVE_EXPIRED, NOP())                                                 \
    XX(RTN_UNACK, SUPPRESS, GO(SUPPRESSED))             /* 16 */                         \
    XX(RTN_UNACK, UNSUPPRESS, NOP())                                                     \
    XX(RTN_UNACK, OOS, GO(OUT_OF_SERVICE))              /* 18 */                         \
    XX(RTN_UNACK, RTS, REJECT(NOT_OUT_OF_SERVICE))                                       \
                                                                                         \
    XX(LATCHED_UNACK, ALM, GO(UNACK))                   /* 13 */                         \
    XX(LATCHED_UNACK, RTN, NOP())                                                        \
    XX(LATCHED_UNACK, ACK, GO(LATCHED_ACK))             /* 10 */                         \
    XX(LATCHED_UNACK, RESET, REJECT(NOT_ACKED_YET))     /* 12: reset needs an ack */     \
    XX(LATCHED_UNACK, REALARM, NOP())                                                    \
    XX(LATCHED_UNACK, SHELVE, SHELVE())                 /* 14 */                         \
    XX(LATCHED_UNACK, UNSHELVE, REJECT(NOT_SHELVED))                                     \
    XX(LATCHED_UNACK, SHELVE_EXPIRED, NOP())                                             \
    XX(LATCHED_UNACK, SUPPRESS, GO(SUPPRESSED))         /* 16 */                         \
    XX(LATCHED_UNACK, UNSUPPRESS, NOP())                                                 \
    XX(LATCHED_UNACK, OOS, GO(OUT_OF_SERVICE))          /* 18 */                         \
    XX(LATCHED_UNACK, RTS, REJECT(NOT_OUT_OF_SERVICE))                                   \
                                                                                         \
    XX(LATCHED_ACK, ALM, GO(UNACK))                     /* 13 */                         \
    XX(LATCHED_ACK, RTN, NOP())                                                          \
    XX(LATCHED_ACK, ACK, REJECT(ALREADY_ACKED))                                          \
    XX(LATCHED_ACK, RESET, RESET())                     /* 11 */                         \
    XX(LATCHED_ACK, REALARM, NOP())                                                      \
    XX(LATCHED_ACK, SHELVE, SHELVE())                   /* 14 */                         \
    XX(LATCHED_ACK, UNSHELVE, REJECT(NOT_SHELVED))                                       \
    XX(LATCHED_ACK, SHELVE_EXPIRED, NOP())                                               \
    XX(LATCHED_ACK, SUPPRESS, GO(SUPPRESSED))           /* 16 */                         \
    XX(LATCHED_ACK, UNSUPPRESS, NOP())                                                   \
    XX(LATCHED_ACK, OOS, GO(OUT_OF_SERVICE))            /* 18 */                         \
    XX(LATCHED_ACK, RTS, REJECT(NOT_OUT_OF_SERVICE))                                     \
                                                                                         \
    XX(SHELVED, ALM, NOP())                                                              \
    XX(SHELVED, RTN, ONE_SHOT())                                                         \
    XX(SHELVED, ACK, REJECT(INHIBITED))                                                  \
    XX(SHELVED, RESET, REJECT(INHIBITED))                                                \
    XX(SHELVED, REALARM, NOP())                                                          \
    XX(SHELVED, SHELVE, REJECT(ALREADY_IN_STATE))                                        \
    XX(SHELVED, UNSHELVE, BACK())                       /* 15 */                         \
    XX(SHELVED, SHELVE_EXPIRED, EXPIRE())               /* 15 */                         \
    XX(SHELVED, SUPPRESS, GO(SUPPRESSED))               /* 16 */                         \
    XX(SHELVED, UNSUPPRESS, NOP())                                                       \
    XX(SHELVED, OOS, GO(OUT_OF_SERVICE))                /* 18 */                         \
    XX(SHELVED, RTS, REJECT(NOT_OUT_OF_SERVICE))                                         \
                                                                                         \
    XX(SUPPRESSED, ALM, NOP())                                                           \
    XX(SUPPRESSED, RTN, NOP())                                                           \
    XX(SUPPRESSED, ACK, REJECT(INHIBITED))                                               \
    XX(SUPPRESSED, RESET, REJECT(INHIBITED))                                             \
    XX(SUPPRESSED, REALARM, NOP())                                                       \
    XX(SUPPRESSED, SHELVE, REJECT(INHIBITED))                                            \
    XX(SUPPRESSED, UNSHELVE, REJECT(NOT_SHELVED))                                        \
    XX(SUPPRESSED, SHELVE_EXPIRED, NOP())                                                \
    XX(SUPPRESSED, SUPPRESS, NOP())                                                      \
    XX(SUPPRESSED, UNSUPPRESS, BACK())                  /* 17 */                         \
    XX(SUPPRESSED, OOS, GO(OUT_OF_SERVICE))             /* 18 */                         \
    XX(SUPPRESSED, RTS, REJECT(NOT_OUT_OF_SERVICE))                                      \
                                                                                         \
    XX(OUT_OF_SERVICE, ALM, NOP())                                                       \
    XX(OUT_OF_SERVICE, RTN, NOP())                                                       \
    XX(OUT_OF_SERVICE, ACK, REJECT(INHIBITED))                                           \
    XX(OUT_OF_SERVICE, RESET, REJECT(INHIBITED))                                         \
    XX(OUT_OF_SERVICE, REALARM, NOP())                                                   \
    XX(OUT_OF_SERVICE, SHELVE, REJECT(INHIBITED))                                        \
    XX(OUT_OF_SERVICE, UNSHELVE, REJECT(NOT_SHELVED))                                    \
    XX(OUT_OF_SERVICE, SHELVE_EXPIRED, NOP())                                            \
    XX(OUT_OF_SERVICE, SUPPRESS, NOP())                 /* 16: service is removed */     \
    XX(OUT_OF_SERVICE, UNSUPPRESS, NOP())                                                \
    XX(OUT_OF_SERVICE, OOS, REJECT(ALREADY_IN_STATE))                                    \
    XX(OUT_OF_SERVICE, RTS, BACK())                     /* 19 */
/* clang-format on */

/*
 * A missing cell would be a silent {ACT_REJECT, 0}. The count below and -Woverride-init
 * (in -Wextra, an error under -Werror) against a repeated cell together prove that every
 * cell is written exactly once.
 */
#define CELL_INIT(from, ev, what) [ALARM_##from][ALARM_EV_##ev] = what,
static const struct cell cells[ALARM_STATE_COUNT][ALARM_EVENT_COUNT] = {
    ALARM_CELLS(CELL_INIT)};
#undef CELL_INIT

#define CELL_ONE(from, ev, what) +1
_Static_assert((0 ALARM_CELLS(CELL_ONE)) == ALARM_STATE_COUNT * ALARM_EVENT_COUNT,
               "the transition table must have exactly one cell per state and event");
#undef CELL_ONE

#undef GO
#undef LATCH
#undef REJECT
#undef NOP
#undef BACK
#undef RESET
#undef SHELVE
#undef EXPIRE
#undef ONE_SHOT

/* ================================================================================== */

const char *alarm_state_name(unsigned state)
{
    return state < ALARM_STATE_COUNT ? state_names[state] : "invalid";
}

const char *alarm_event_name(unsigned event)
{
    return event < ALARM_EVENT_COUNT ? event_names[event] : "invalid";
}

const char *alarm_reason_name(unsigned reason)
{
    return reason < ALARM_R_COUNT ? reason_names[reason] : "invalid";
}

const char *alarm_kind_name(unsigned kind)
{
    return kind < ALARM_KIND_COUNT ? kinds[kind].name : "invalid";
}

const char *alarm_priority_name(unsigned priority)
{
    return priority <= ALARM_P4 ? priority_names[priority] : "invalid";
}

bool alarm_state_active(unsigned state)
{
    return state < ALARM_STATE_COUNT ? state_active[state] : true;
}

bool alarm_state_unack(unsigned state)
{
    return state < ALARM_STATE_COUNT ? state_unack[state] : true;
}

struct alarm_config alarm_config_default(unsigned kind)
{
    /* A kind nobody knows gets everything a life-safety gas alarm gets. */
    struct alarm_config c = {.kind = ALARM_KIND_COUNT,
                             .priority = ALARM_P1,
                             .latching = true,
                             .one_shot_shelve = false,
                             .max_shelve_ns = 0};

    if (kind < ALARM_KIND_COUNT) {
        c.kind = (uint8_t)kind;
        c.priority = kinds[kind].priority;
        c.latching = kinds[kind].latching;
        c.one_shot_shelve = kinds[kind].one_shot;
        c.max_shelve_ns = kinds[kind].max_shelve_s * NS_PER_S;
    }
    return c;
}

void alarm_init(struct alarm *a, int64_t now_ns)
{
    *a = (struct alarm){.state = ALARM_NORMAL,
                        .shelve = ALARM_SHELVE_NONE,
                        .condition = false,
                        .first_out = false,
                        .shelve_deadline_ns = 0,
                        .since_ns = now_ns,
                        .condition_ns = now_ns};
}

/* ================================================================================== */
/* The step.                                                                           */

/*
 * Whether the record is one the step function can have produced, as far as it matters
 * for safety: a record that is wrong in a way that could hide an active condition is
 * corrupt. Normal with the condition true hides it now; rtn_unack with the condition
 * true hides it after one acknowledgement; shelved without a valid shelve kind never
 * ends. Other odd combinations (latched with the condition true, say) still show the
 * alarm, and the guards of the table deal with them.
 */
static bool record_sane(const struct alarm *a)
{
    switch (a->state) {
    case ALARM_NORMAL:
    case ALARM_RTN_UNACK:
        return !a->condition;
    case ALARM_SHELVED:
        return a->shelve == ALARM_SHELVE_TIMED || a->shelve == ALARM_SHELVE_ONE_SHOT;
    default:
        return a->state < ALARM_STATE_COUNT;
    }
}

/* An operator command needs a named user holding the event's right. */
static bool authorised(const struct alarm_cmd *cmd, unsigned right)
{
    return cmd != NULL && cmd->user != NULL && cmd->user[0] != '\0' &&
           (cmd->rights & right) == right;
}

/* Where an alarm goes when it comes back into service: the plant decides. */
static uint8_t back_into_service(const struct alarm *a)
{
    return a->condition ? ALARM_UNACK : ALARM_NORMAL;
}

/*
 * The checks of a SHELVE the state allows. A one-shot shelve is bounded by the maximum
 * too: a condition that never returns would otherwise keep the alarm hidden for good.
 */
static int shelve_check(const struct alarm *a, const struct alarm_config *c,
                        const struct alarm_cmd *cmd, int64_t now_ns, uint8_t *kind,
                        int64_t *deadline)
{
    int64_t len;

    if (c->max_shelve_ns <= 0)
        return -ALARM_R_NOT_SHELVABLE;
    if (cmd->one_shot) {
        if (!c->one_shot_shelve)
            return -ALARM_R_ONE_SHOT_NOT_ALLOWED;
        /* One-shot means "until it clears"; on a clear condition that is already over. */
        if (!a->condition)
            return -ALARM_R_NOT_ACTIVE;
        *kind = ALARM_SHELVE_ONE_SHOT;
        len = c->max_shelve_ns;
    } else {
        if (cmd->shelve_ns <= 0)
            return -ALARM_R_BAD_DURATION;
        if (cmd->shelve_ns > c->max_shelve_ns)
            return -ALARM_R_SHELVE_TOO_LONG;
        *kind = ALARM_SHELVE_TIMED;
        len = cmd->shelve_ns;
    }
    /* A deadline past INT64_MAX cannot be represented; such a now_ns is not a clock. */
    if (now_ns > INT64_MAX - len)
        return -ALARM_R_INVALID;
    *deadline = now_ns + len;
    return 0;
}

/* The move the cell asks for, or a negative reason. Writes nothing but *to, *kind and
 * *deadline. */
static int decide(const struct alarm *a, const struct alarm_config *c,
                  enum alarm_event ev, const struct alarm_cmd *cmd, int64_t now_ns,
                  uint8_t *to, uint8_t *kind, int64_t *deadline)
{
    const struct cell *cell = &cells[a->state][ev];

    switch (cell->act) {
    case ACT_NOP:
        *to = a->state;
        return 0;
    case ACT_GO:
        *to = cell->arg;
        return 0;
    case ACT_LATCH:
        *to = c->latching ? cell->alt : cell->arg;
        return 0;
    case ACT_BACK:
        *to = back_into_service(a);
        return 0;
    case ACT_RESET:
        /* GB 16808 holds the alarm until a manual reset, but a reset cannot clear gas. */
        if (a->condition)
            return -ALARM_R_CONDITION_STILL_TRUE;
        *to = ALARM_NORMAL;
        return 0;
    case ACT_SHELVE:
        *to = ALARM_SHELVED;
        return shelve_check(a, c, cmd, now_ns, kind, deadline);
    case ACT_EXPIRE:
        /*
         * A timer armed for an earlier shelve may fire after the alarm was unshelved and
         * shelved again; only the current deadline ends the current shelve.
         */
        *to = now_ns >= a->shelve_deadline_ns ? back_into_service(a) : a->state;
        return 0;
    case ACT_ONE_SHOT_RTN:
        *to = a->shelve == ALARM_SHELVE_ONE_SHOT ? ALARM_NORMAL : a->state;
        return 0;
    default: /* ACT_REJECT */
        return -(int)cell->arg;
    }
}

static void fill(struct alarm_transition *out, uint8_t from, int64_t from_since,
                 const struct alarm *a, enum alarm_event ev, bool recovered,
                 int64_t now_ns)
{
    if (out == NULL)
        return;
    *out = (struct alarm_transition){.from = from,
                                     .to = a->state,
                                     .event = (uint8_t)ev,
                                     .annunciate =
                                         a->state == ALARM_UNACK && from != ALARM_UNACK,
                                     .condition = a->condition,
                                     .recovered = recovered,
                                     .at_ns = now_ns,
                                     .from_since_ns = from_since};
}

int alarm_step(struct alarm *a, const struct alarm_config *c, enum alarm_event ev,
               const struct alarm_cmd *cmd, int64_t now_ns, struct alarm_transition *out)
{
    uint8_t from, to, kind = ALARM_SHELVE_NONE;
    int64_t from_since, deadline = 0;
    int rc;

    if (a == NULL || c == NULL || (unsigned)ev >= ALARM_EVENT_COUNT)
        return -ALARM_R_INVALID;

    from = to = a->state;
    from_since = a->since_ns;
    if (NEVER(!record_sane(a))) {
        /* The safe state: active and annunciated, never normal (rule 13). */
        a->state = ALARM_UNACK;
        a->shelve = ALARM_SHELVE_NONE;
        a->shelve_deadline_ns = 0;
        a->condition = true;
        a->condition_ns = now_ns;
        a->since_ns = now_ns;
        fill(out, from, from_since, a, ev, true, now_ns);
        return ALARM_STEP_TRANSITION;
    }

    if (event_right[ev] != 0 && !authorised(cmd, event_right[ev]))
        return -ALARM_R_NOT_AUTHORISED;
    rc = decide(a, c, ev, cmd, now_ns, &to, &kind, &deadline);
    if (rc < 0)
        return rc;

    /* Accepted: from here on the record changes. */
    if (ev == ALARM_EV_ALM || ev == ALARM_EV_RTN) {
        bool cond = ev == ALARM_EV_ALM;

        if (cond != a->condition) {
            a->condition = cond;
            a->condition_ns = now_ns;
        }
    }
    if (to != from) {
        /* Only a SHELVE enters shelved, and leaving it in any way ends the shelve. */
        a->state = to;
        a->shelve = kind;
        a->shelve_deadline_ns = deadline;
        a->since_ns = now_ns;
    }
    fill(out, from, from_since, a, ev, false, now_ns);
    return to != from ? ALARM_STEP_TRANSITION : ALARM_STEP_NO_CHANGE;
}

bool alarm_due(const struct alarm *a, int64_t now_ns)
{
    return a->state == ALARM_SHELVED && now_ns >= a->shelve_deadline_ns;
}

/* ================================================================================== */
/* Ranking.                                                                            */

/* An unknown priority ranks as P1: an alarm nobody can classify is not filed as low. */
static unsigned priority_rank(uint8_t p)
{
    return p >= ALARM_P1 && p <= ALARM_P4 ? p : ALARM_P1;
}

static unsigned gas_level(uint8_t kind)
{
    return kind < ALARM_KIND_COUNT ? kinds[kind].gas_level : 0;
}

static unsigned gas_class(uint8_t kind)
{
    return kind < ALARM_KIND_COUNT ? kinds[kind].gas_class : 0;
}

bool alarm_outranks(const struct alarm_config *a, const struct alarm_config *b)
{
    unsigned pa = priority_rank(a->priority), pb = priority_rank(b->priority);

    if (pa != pb)
        return pa < pb;
    /* GB/T 50493: level 2 before level 1, then toxic before combustible at one level. */
    if (gas_level(a->kind) != gas_level(b->kind))
        return gas_level(a->kind) > gas_level(b->kind);
    return gas_class(a->kind) > gas_class(b->kind);
}

/* ================================================================================== */
/* First-out.                                                                          */

void alarm_area_init(struct alarm_area *ar)
{
    *ar = (struct alarm_area){
        .first_out = 0, .active = 0, .has_first = false, .first_ns = 0};
}

bool alarm_area_activate(struct alarm_area *ar, uint32_t id, int64_t at_ns)
{
    /*
     * A new series starts when nothing in the area is active. Within a series an
     * activation stamped earlier than the current first-out was first in the plant,
     * whatever order the real-time loop saw the two in.
     */
    bool first = ar->active == 0 || at_ns < ar->first_ns;

    if (first) {
        ar->first_out = id;
        ar->first_ns = at_ns;
        ar->has_first = true;
    }
    ar->active++;
    return first;
}

void alarm_area_deactivate(struct alarm_area *ar)
{
    if (ar->active > 0)
        ar->active--;
}

bool alarm_area_apply(struct alarm_area *ar, uint32_t id,
                      const struct alarm_transition *t)
{
    bool was = alarm_state_active(t->from), is = alarm_state_active(t->to);

    if (!was && is)
        return alarm_area_activate(ar, id, t->at_ns);
    if (was && !is)
        alarm_area_deactivate(ar);
    return false;
}
