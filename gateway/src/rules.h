/*
 * rules: alarm conditions as pure functions of a point's samples, the time, and state the
 * caller owns.
 *
 * No I/O, no clock, no logging and no allocation: the real-time loop calls these for
 * every changed point and every due timer, and the tests drive them with tables and an
 * invented clock. All times are CLOCK_MONOTONIC nanoseconds handed in by the caller, so a
 * wall-clock step can neither fire nor hide a condition: the module never sees wall time.
 *
 * A point has up to RULES_MAX_LIMITS limits (HH, H, L, LL for process values; level-1 and
 * level-2 for combustible and toxic gas, GB/T 50493-2019; deficiency and enrichment for
 * oxygen), a rate-of-change rule rising and/or falling, and an instrument-fault rule on
 * its sample qualities. The caller owns one struct rules_point_cfg (read-only) and one
 * struct rules_point_state per point, both preallocated; nothing here keeps hidden state.
 *
 * What a step reports is a set of condition changes. The alarm state machine, elsewhere,
 * turns them into ISA-18.2 states; this module only says "this condition became active",
 * "it cleared", "it has been active for its re-alarm time". docs/rules.md gives the
 * semantics with examples.
 */
#ifndef PG_RULES_H
#define PG_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "msg.h"

/* A deadline that never comes. Every time passed in must be below it. */
#define RULES_NEVER INT64_MAX

#define RULES_NS_PER_S   INT64_C(1000000000)
#define RULES_NS_PER_MIN (60 * RULES_NS_PER_S)

/* Limits per point: a process point uses HH, H, L and LL; a gas point two of them. */
#define RULES_MAX_LIMITS 4

/*
 * Stored samples per rate-of-change history. A good sample is stored only if it is at
 * least window / (RULES_ROC_SLOTS - 1) after the last one stored, so that the ring always
 * reaches back one window whatever the sampling rate; see rules_roc_step().
 */
#define RULES_ROC_SLOTS 16

/* The longest delay, re-alarm time, fault delay or ROC window the checks accept: a day.
 */
#define RULES_MAX_DELAY_NS (86400 * RULES_NS_PER_S)

/*
 * Standard ceilings (GB/T 50493-2019 set-points, GB 16808-2025 delay). Set-points of gas
 * points are checked in percent of the point's reference (see rules_point_cfg.reference).
 */
#define RULES_LEL_L1_MAX_PCT 25.0  /* combustible level-1: <= 25 %LEL */
#define RULES_LEL_L2_MAX_PCT 50.0  /* combustible level-2: <= 50 %LEL */
#define RULES_OEL_L1_MAX_PCT 100.0 /* toxic level-1: <= 100 %OEL */
#define RULES_OEL_L2_MAX_PCT 200.0 /* toxic level-2: <= 200 %OEL */
#define RULES_IDLH_L1_MAX_PCT                                                            \
    5.0                            /* toxic level-1 when the range cannot cover the OEL  \
                                    */
#define RULES_IDLH_L2_MAX_PCT 10.0 /* toxic level-2, same case */
#define RULES_O2_DEFICIENCY   19.5 /* %VOL: the oxygen deficiency alarm, and its floor */
#define RULES_O2_ENRICHMENT                                                              \
    23.5                           /* %VOL: the oxygen enrichment alarm, and its ceiling \
                                    */
#define RULES_O2_DEADBAND      0.2 /* %VOL: default deadband of both oxygen limits */
#define RULES_GAS_DELAY_MAX_NS (60 * RULES_NS_PER_S)  /* GB 16808-2025 5.5.1.3 */
#define RULES_GAS_FAULT_MAX_NS (100 * RULES_NS_PER_S) /* fault signal within 100 s */

/* ---- limits ---- */

/*
 * The limit kinds: XX(enum suffix, name, high, level). high is 1 for a limit that is
 * active at or above its set-point and 0 for one active at or below it. level is 2 for
 * the more severe limit of a pair; a level of 1 or 2 counts as "in alarm" for area
 * voting.
 */
#define RULES_LIMIT_MAP(XX)                                                              \
    XX(HH, "HH", 1, 2)                                                                   \
    XX(H, "H", 1, 1)                                                                     \
    XX(L, "L", 0, 1)                                                                     \
    XX(LL, "LL", 0, 2)                                                                   \
    XX(GAS_L1, "L1", 1, 1)                                                               \
    XX(GAS_L2, "L2", 1, 2)                                                               \
    XX(O2_LOW, "O2-deficiency", 0, 1)                                                    \
    XX(O2_HIGH, "O2-enrichment", 1, 1)

enum rules_limit_kind {
#define RULES_LIMIT_ENUM(name, text, high, level) RULES_LIMIT_##name,
    RULES_LIMIT_MAP(RULES_LIMIT_ENUM)
#undef RULES_LIMIT_ENUM
        RULES_LIMIT_COUNT
};

/*
 * One limit. A high limit becomes active when the value has been >= setpoint for
 * on_delay_ns without interruption and clears when it has been < setpoint - deadband for
 * off_delay_ns; a low limit is the mirror image (<= setpoint, > setpoint + deadband). A
 * delay of 0 acts on the sample itself. While active, a re-alarm is reported every
 * realarm_ns after activation (0: never).
 */
struct rules_limit_cfg {
    uint8_t kind; /* enum rules_limit_kind */
    double setpoint;
    double deadband; /* >= 0 */
    int64_t on_delay_ns;
    int64_t off_delay_ns;
    int64_t realarm_ns;
};

/* A limit's state. Set it up with rules_limit_init(); the fields are for reading. */
struct rules_limit_state {
    int64_t pend_ns;    /* when the pending activation or clear takes effect, or NEVER */
    int64_t realarm_ns; /* when the next re-alarm is due, or NEVER */
    int64_t changed_ns; /* when the last activation or clear took effect */
    bool active;
    bool unknown; /* the latest sample had no value: the condition is on hold */
};

/* What a limit step is given. */
enum rules_input {
    RULES_IN_TICK, /* no new sample: only time has passed, the last value still stands */
    RULES_IN_GOOD, /* a sample with a value (a NaN value is taken as RULES_IN_BAD) */
    RULES_IN_BAD,  /* a sample without a usable value: any quality but good */
};

/*
 * What a step reports, per condition. When one step reports more than one, they happened
 * in this order if the condition was inactive before the step: ACTIVATED, REALARM,
 * CLEARED; and in this one if it was active: REALARM, CLEARED, ACTIVATED. (A step first
 * lets time pass up to now, which can complete a delay, and then applies the sample.)
 */
#define RULES_EV_ACTIVATED 0x1u
#define RULES_EV_CLEARED   0x2u
#define RULES_EV_REALARM   0x4u

/* Make a limit config with no delays and no re-alarm. */
struct rules_limit_cfg rules_limit(enum rules_limit_kind kind, double setpoint,
                                   double deadband);

/* Reset a limit's state: inactive, nothing pending. */
void rules_limit_init(struct rules_limit_state *st);

/*
 * Advance one limit to now_ns and apply one input. First, time passes up to now_ns with
 * the last value held: a delay whose deadline is <= now_ns completes, exactly at its
 * deadline (st->changed_ns), and a due re-alarm is reported. Then the input applies:
 *
 *  - GOOD: starts, continues or interrupts an on-delay or off-delay, or acts at once
 *    when the delay is 0.
 *  - BAD: the value is unknown, so nothing activates and nothing clears. A pending
 *    clear is cancelled: an unknown value is no evidence that the condition has gone.
 *    A pending activation is suspended: its deadline cannot pass while the value is
 *    unknown, but if the next good value is still beyond the set-point the run goes on,
 *    and if the deadline has passed by then the limit activates on that sample.
 *    Re-alarm goes on.
 *  - TICK: nothing more.
 *
 * Times given to one state must not go backwards (rules_point_* clamp them). Returns the
 * RULES_EV_* bits; st->active is the new state. value is read only for GOOD.
 */
unsigned rules_limit_step(const struct rules_limit_cfg *cfg, struct rules_limit_state *st,
                          enum rules_input in, double value, int64_t now_ns);

/*
 * The next time at which rules_limit_step() with RULES_IN_TICK would report something by
 * the passage of time alone (a delay completing, a re-alarm), or RULES_NEVER.
 */
int64_t rules_limit_due(const struct rules_limit_state *st);

/*
 * A high limit with a deadband and no delays. An inactive condition becomes active when
 * value reaches the setpoint (value >= setpoint); an active one clears only once value
 * falls below setpoint - deadband, so a value hovering at the limit cannot chatter.
 * Returns the new state. A NaN value leaves the state as it was: it is not a measurement.
 * (rules_limit_step() on a fresh state with RULES_LIMIT_H and zero delays.)
 */
bool rules_high(double setpoint, double deadband, bool active, double value);

/* ---- rate of change ---- */

/*
 * Rate of change in units per minute over a sliding window (the Logix ALMA rule):
 *   ROC = (value now - value at the start of the window) / window.
 * Rising is active while ROC >= limit, falling while ROC <= -limit; each clears as soon
 * as the rate is back under (no deadband, no delay).
 */
struct rules_roc_cfg {
    bool rising;
    bool falling;
    double limit;      /* units per minute, > 0 */
    int64_t window_ns; /* > 0 */
};

/* The history ring and the two conditions. Set up with rules_roc_init(). */
struct rules_roc_state {
    int64_t t[RULES_ROC_SLOTS]; /* sample times, oldest at head - count + 1 */
    double v[RULES_ROC_SLOTS];
    double rate;   /* the latest computed rate, NaN until the history spans a window */
    uint8_t head;  /* slot of the newest stored sample */
    uint8_t count; /* stored samples, 0..RULES_ROC_SLOTS */
    bool rise_active;
    bool fall_active;
};

void rules_roc_init(struct rules_roc_state *st);

/*
 * Apply one good sample taken at t_ns (non-decreasing). The value at the start of the
 * window, t_ns - window_ns, is interpolated linearly between the stored samples on either
 * side of it (or between the newest stored one and this sample), so a gap in the history
 * spreads its change over the gap instead of piling it into one window. Until the history
 * reaches back a whole window, the rate is unknown and both conditions hold.
 *
 * Only good samples belong here: a bad one is simply not given, so it neither counts as a
 * point nor resets the history. Returns the events in the low bits for rising and shifted
 * by RULES_ROC_FALL_SHIFT for falling.
 */
#define RULES_ROC_FALL_SHIFT 3
unsigned rules_roc_step(const struct rules_roc_cfg *cfg, struct rules_roc_state *st,
                        double value, int64_t t_ns);

/* ---- points ---- */

/*
 * What a point measures, which decides which limits it may have and which standards
 * rules_check_point() applies. XX(enum suffix, name).
 */
#define RULES_POINT_KIND_MAP(XX)                                                         \
    XX(PROCESS, "process")                                                               \
    XX(COMBUSTIBLE, "combustible")                                                       \
    XX(TOXIC_OEL, "toxic-oel")                                                           \
    XX(TOXIC_IDLH, "toxic-idlh")                                                         \
    XX(OXYGEN, "oxygen")

enum rules_point_kind {
#define RULES_POINT_KIND_ENUM(name, text) RULES_POINT_##name,
    RULES_POINT_KIND_MAP(RULES_POINT_KIND_ENUM)
#undef RULES_POINT_KIND_ENUM
        RULES_POINT_KIND_COUNT
};

/*
 * The qualities (bit 1 << enum msg_quality) that count towards an instrument fault by
 * default: every bad quality except maintenance, which is reported on its own.
 */
#define RULES_FAULT_DEFAULT                                                              \
    ((uint16_t)((1u << MSG_Q_COMM_LOSS) | (1u << MSG_Q_TIMEOUT) |                        \
                (1u << MSG_Q_BAD_FRAME) | (1u << MSG_Q_EXCEPTION) |                      \
                (1u << MSG_Q_UNDER_RANGE) | (1u << MSG_Q_OVER_RANGE) |                   \
                (1u << MSG_Q_SENSOR_FAULT) | (1u << MSG_Q_STALE) |                       \
                (1u << MSG_Q_SENTINEL)))

struct rules_point_cfg {
    uint8_t kind;     /* enum rules_point_kind */
    uint8_t n_limits; /* 0..RULES_MAX_LIMITS, limits[0 .. n_limits) are evaluated */
    /*
     * An over-range sample drives this point's high limits as if its value were +inf
     * (beyond any set-point, so after their on-delays they activate); its low limits hold
     * as for any bad sample. For gas points: a reading beyond full scale is certainly
     * above the alarm. It still counts towards the fault if over-range is in
     * fault_qualities.
     */
    bool over_range_high;
    uint16_t fault_qualities; /* RULES_FAULT_DEFAULT unless configured */
    int64_t fault_delay_ns;   /* a fault-class run this long raises the fault */
    /*
     * Gas points: 100 % of the reference in the point's units (the LEL for combustible,
     * the OEL or the IDLH for toxic), for rules_check_point() only. 100 when the unit is
     * already %LEL, %OEL or %IDLH; 5 for methane read in %VOL (LEL 5 %VOL).
     */
    double reference;
    struct rules_limit_cfg limits[RULES_MAX_LIMITS];
    struct rules_roc_cfg roc;
};

struct rules_point_state {
    int64_t last_ns;       /* latest time seen; earlier times are taken as this one */
    int64_t due_ns;        /* rules_point_due() */
    int64_t fault_pend_ns; /* when a fault-class run raises the fault, or NEVER */
    double value;          /* latest good value, NaN before the first */
    uint8_t quality;  /* of the latest sample (enum msg_quality), MSG_Q_COUNT before */
    bool fault;       /* instrument fault active */
    bool maintenance; /* the latest sample's quality is maintenance */
    struct rules_limit_state limits[RULES_MAX_LIMITS];
    struct rules_roc_state roc;
};

/*
 * A point step reports the RULES_EV_* bits of each condition in one word: condition c's
 * bits are (out >> (3 * c)) & 7, see rules_events(). Conditions 0 .. n_limits - 1 are the
 * limits, in cfg->limits order; then come the two rate conditions, the instrument fault
 * and maintenance (ACTIVATED when a maintenance sample arrives, CLEARED when a sample of
 * another quality does).
 */
#define RULES_COND_ROC_RISE (RULES_MAX_LIMITS + 0)
#define RULES_COND_ROC_FALL (RULES_MAX_LIMITS + 1)
#define RULES_COND_FAULT    (RULES_MAX_LIMITS + 2)
#define RULES_COND_MAINT    (RULES_MAX_LIMITS + 3)
#define RULES_COND_COUNT    (RULES_MAX_LIMITS + 4)

/* The most events one point step can report: 3 per limit, 2 for the fault, 1 others. */
#define RULES_MAX_EVENTS (3 * RULES_MAX_LIMITS + 5)

static inline unsigned rules_events(uint32_t out, unsigned cond)
{
    return (out >> (3 * cond)) & 7u;
}

/*
 * Set cfg up for a point of this kind: no limits, no rate rule, the default fault
 * qualities, a fault delay of 10 s and a reference of 100. For RULES_POINT_OXYGEN it also
 * adds the two oxygen limits: deficiency at 19.5 %VOL and enrichment at 23.5 %VOL, each
 * with a 0.2 %VOL deadband and no delays.
 */
void rules_point_defaults(struct rules_point_cfg *cfg, enum rules_point_kind kind);

/*
 * Append a limit made with rules_limit(). Returns its index, -ENOSPC when the point has
 * RULES_MAX_LIMITS already, -EEXIST when it has one of this kind, -EINVAL for an unknown
 * kind.
 */
int rules_point_add_limit(struct rules_point_cfg *cfg, enum rules_limit_kind kind,
                          double setpoint, double deadband);

/* Reset a point's state: nothing active, no history. */
void rules_point_init(struct rules_point_state *st);

/*
 * Evaluate one sample of the point, taken at t_ns (msg_sample.mono_ns): the limits, the
 * rate of change on good samples only, the fault and maintenance conditions. quality is
 * an enum msg_quality; value is read only when it is good (a good NaN is taken as a
 * sentinel). Returns the events, see RULES_COND_*.
 */
uint32_t rules_point_sample(const struct rules_point_cfg *cfg,
                            struct rules_point_state *st, uint8_t quality, double value,
                            int64_t t_ns);

/*
 * Let time pass up to now_ns with no new sample: completes the delays, fault delays and
 * re-alarms due by then. Cheap when nothing is due. Returns the events.
 */
uint32_t rules_point_tick(const struct rules_point_cfg *cfg, struct rules_point_state *st,
                          int64_t now_ns);

/*
 * Take condition cond (a limit index, RULES_COND_ROC_RISE, RULES_COND_ROC_FALL or
 * RULES_COND_FAULT) as active since now_ns without a sample saying so. A restart uses it
 * for the conditions its saved alarms held: the first samples then clear them through the
 * normal deadband and off-delay, instead of the alarm being forgotten. A re-alarm
 * restarts its period. Other values of cond do nothing.
 */
void rules_point_assume(const struct rules_point_cfg *cfg, struct rules_point_state *st,
                        unsigned cond, int64_t now_ns);

/* The next time rules_point_tick() has something to do, or RULES_NEVER. */
static inline int64_t rules_point_due(const struct rules_point_state *st)
{
    return st->due_ns;
}

/* The highest level (0, 1 or 2, see RULES_LIMIT_MAP) among the point's active limits. */
unsigned rules_point_level(const struct rules_point_cfg *cfg,
                           const struct rules_point_state *st);

/* ---- area voting (GB 16808-2025 5.5.1.8: two-out-of-N confirmation) ---- */

struct rules_vote_cfg {
    uint16_t k; /* members in alarm needed, 1..n; 0 acts as 1 */
    /*
     * A member in instrument fault that is not in alarm lowers k by one, down to 1, so a
     * 2-out-of-3 area with a dead detector becomes 1-out-of-2 instead of going blind.
     */
    bool fault_degrades;
};

/* One member of an area, as rules_point_member() reads it. */
struct rules_member {
    bool alarm; /* level >= 1; a held alarm of a faulty member still counts */
    bool fault;
};

/*
 * Whether a point takes part in its area's vote: a combustible or toxic gas point, which
 * has level limits. Oxygen and process points never vote.
 */
static inline bool rules_votes(const struct rules_point_cfg *cfg)
{
    return cfg->kind == RULES_POINT_COMBUSTIBLE || cfg->kind == RULES_POINT_TOXIC_OEL ||
           cfg->kind == RULES_POINT_TOXIC_IDLH;
}

struct rules_member rules_point_member(const struct rules_point_cfg *cfg,
                                       const struct rules_point_state *st);

/* Whether the area is in alarm: at least k of the n members are (k as lowered above). */
bool rules_vote(const struct rules_vote_cfg *cfg, const struct rules_member *members,
                size_t n);

/* ---- configuration checks ---- */

/*
 * Why a config is refused: XX(enum suffix, name, overridable). An overridable reason is a
 * standard's requirement that a signed-off config may waive (the loader accepts it only
 * with an "override_reason"); the others make the rules meaningless and can never be
 * waived. rules_check_point() reports every non-overridable problem before any
 * overridable one, so an overridable answer means nothing else is wrong but standards.
 */
#define RULES_CHECK_MAP(XX)                                                              \
    XX(OK, "ok", 0)                                                                      \
    XX(POINT_KIND, "point-kind", 0)                                                      \
    XX(LIMIT_COUNT, "limit-count", 0)                                                    \
    XX(LIMIT_KIND, "limit-kind", 0)                                                      \
    XX(LIMIT_NOT_FOR_POINT, "limit-not-for-point", 0)                                    \
    XX(LIMIT_DUPLICATE, "limit-duplicate", 0)                                            \
    XX(NOT_FINITE, "not-finite", 0)                                                      \
    XX(DEADBAND_NEGATIVE, "deadband-negative", 0)                                        \
    XX(DELAY_RANGE, "delay-range", 0)                                                    \
    XX(LIMIT_ORDER, "limit-order", 0)                                                    \
    XX(DEADBAND_WIDE, "deadband-wide", 0)                                                \
    XX(FAULT_QUALITIES, "fault-qualities", 0)                                            \
    XX(ROC, "roc", 0)                                                                    \
    XX(REFERENCE, "reference", 0)                                                        \
    XX(VOTE, "vote", 0)                                                                  \
    XX(GAS_TWO_LEVELS, "gas-two-levels", 1)                                              \
    XX(LEL_L1, "lel-level-1", 1)                                                         \
    XX(LEL_L2, "lel-level-2", 1)                                                         \
    XX(OEL_L1, "oel-level-1", 1)                                                         \
    XX(OEL_L2, "oel-level-2", 1)                                                         \
    XX(IDLH_L1, "idlh-level-1", 1)                                                       \
    XX(IDLH_L2, "idlh-level-2", 1)                                                       \
    XX(O2_DEFICIENCY, "o2-deficiency", 1)                                                \
    XX(O2_ENRICHMENT, "o2-enrichment", 1)                                                \
    XX(GAS_DELAY, "gas-delay", 1)                                                        \
    XX(GAS_FAULT_DELAY, "gas-fault-delay", 1)

enum rules_check {
#define RULES_CHECK_ENUM(name, text, ovr) RULES_CHECK_##name,
    RULES_CHECK_MAP(RULES_CHECK_ENUM)
#undef RULES_CHECK_ENUM
        RULES_CHECK_COUNT
};

/*
 * Check a point's rules against this module's needs and the standards (see docs/rules.md
 * for the list). Returns RULES_CHECK_OK, or the first reason found; in that case err
 * (unless NULL) receives one line without a trailing newline naming the limit, the value
 * and the rule, e.g.
 *   limits[0] L1: set-point 25.01 is 25.01 %LEL, above the level-1 ceiling of 25 %LEL
 *   (GB/T 50493-2019)
 */
enum rules_check rules_check_point(const struct rules_point_cfg *cfg, char *err,
                                   size_t err_len);

/* Check an area's voting for n members: 1 <= k <= n. */
enum rules_check rules_check_vote(const struct rules_vote_cfg *cfg, size_t n, char *err,
                                  size_t err_len);

/* Whether an "override_reason" may waive this reason. */
bool rules_check_overridable(enum rules_check c);

/* Stable names for logs, messages and config: "lel-level-1", "L1", "oxygen". */
const char *rules_check_name(enum rules_check c);
const char *rules_limit_name(unsigned kind);
const char *rules_point_kind_name(unsigned kind);

#endif
