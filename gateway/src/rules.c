#include "rules.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

_Static_assert(MSG_Q_COUNT <= 16, "fault_qualities is a 16-bit mask of msg qualities");
_Static_assert(3 * RULES_COND_COUNT <= 32, "a point step reports 3 bits per condition");
_Static_assert(RULES_ROC_SLOTS >= 3 && RULES_ROC_SLOTS <= 255, "ROC ring size");

static const struct {
    const char *name;
    bool high;
    uint8_t level;
} limit_info[] = {
#define RULES_LIMIT_INFO(name, text, high, level) {text, high, level},
    RULES_LIMIT_MAP(RULES_LIMIT_INFO)
#undef RULES_LIMIT_INFO
};

static const char *const point_kind_names[] = {
#define RULES_POINT_KIND_NAME(name, text) text,
    RULES_POINT_KIND_MAP(RULES_POINT_KIND_NAME)
#undef RULES_POINT_KIND_NAME
};

static const struct {
    const char *name;
    bool overridable;
} check_info[] = {
#define RULES_CHECK_INFO(name, text, ovr) {text, ovr},
    RULES_CHECK_MAP(RULES_CHECK_INFO)
#undef RULES_CHECK_INFO
};

const char *rules_limit_name(unsigned kind)
{
    return kind < RULES_LIMIT_COUNT ? limit_info[kind].name : "invalid";
}

const char *rules_point_kind_name(unsigned kind)
{
    return kind < RULES_POINT_KIND_COUNT ? point_kind_names[kind] : "invalid";
}

const char *rules_check_name(enum rules_check c)
{
    return (unsigned)c < RULES_CHECK_COUNT ? check_info[c].name : "invalid";
}

bool rules_check_overridable(enum rules_check c)
{
    return (unsigned)c < RULES_CHECK_COUNT && check_info[c].overridable;
}

/*
 * An unknown kind is evaluated as a high limit rather than read out of bounds; the checks
 * refuse such a config, so this only matters if a caller skipped them.
 */
static inline bool kind_is_high(uint8_t kind)
{
    return kind >= RULES_LIMIT_COUNT || limit_info[kind].high;
}

static inline int64_t add_sat(int64_t t, int64_t d)
{
    if (d <= 0)
        return t;
    return t > RULES_NEVER - d ? RULES_NEVER : t + d;
}

/* ---- limits ---- */

struct rules_limit_cfg rules_limit(enum rules_limit_kind kind, double setpoint,
                                   double deadband)
{
    struct rules_limit_cfg cfg = {
        .kind = (uint8_t)kind,
        .setpoint = setpoint,
        .deadband = deadband,
    };

    return cfg;
}

void rules_limit_init(struct rules_limit_state *st)
{
    st->pend_ns = RULES_NEVER;
    st->realarm_ns = RULES_NEVER;
    st->changed_ns = 0;
    st->active = false;
    st->unknown = false;
}

static inline void limit_set(const struct rules_limit_cfg *cfg,
                             struct rules_limit_state *st, bool active, int64_t at)
{
    st->active = active;
    st->changed_ns = at;
    st->pend_ns = RULES_NEVER;
    st->realarm_ns =
        active && cfg->realarm_ns > 0 ? add_sat(at, cfg->realarm_ns) : RULES_NEVER;
}

/*
 * Let time pass up to now with the last value held, firing what falls due in the order it
 * falls due. A re-alarm and a clear due at the same instant resolve as the clear: the
 * condition is no longer active to be re-announced. At most three rounds: a transition,
 * then a re-alarm, after which nothing is due by now.
 */
static inline unsigned limit_advance(const struct rules_limit_cfg *cfg,
                                     struct rules_limit_state *st, int64_t now)
{
    unsigned ev = 0;

    /* While the value is unknown an activation cannot complete, and re-alarm needs an
     * active limit: an inactive unknown limit has nothing that time can do. */
    if (!st->active && st->unknown)
        return 0;
    for (;;) {
        int64_t p = st->pend_ns;
        int64_t r = st->realarm_ns;

        if (p <= r) {
            if (p == RULES_NEVER || p > now)
                break;
            limit_set(cfg, st, !st->active, p);
            ev |= st->active ? RULES_EV_ACTIVATED : RULES_EV_CLEARED;
        } else {
            int64_t period = cfg->realarm_ns;

            if (r > now)
                break;
            ev |= RULES_EV_REALARM;
            /*
             * One indication however late the caller is, and the next one stays on the
             * grid activation + n * period, so a late timer does not shift every later
             * re-alarm.
             */
            st->realarm_ns =
                period > 0 ? add_sat(r, ((now - r) / period + 1) * period) : RULES_NEVER;
        }
    }
    return ev;
}

static inline unsigned limit_good(const struct rules_limit_cfg *cfg,
                                  struct rules_limit_state *st, double v, int64_t now)
{
    bool high = kind_is_high(cfg->kind);
    bool toward; /* the value is on the side that would change the state */
    int64_t delay;

    st->unknown = false;
    if (!st->active) {
        toward = high ? v >= cfg->setpoint : v <= cfg->setpoint;
        delay = cfg->on_delay_ns;
    } else {
        toward =
            high ? v < cfg->setpoint - cfg->deadband : v > cfg->setpoint + cfg->deadband;
        delay = cfg->off_delay_ns;
    }
    if (!toward) {
        st->pend_ns = RULES_NEVER;
        return 0;
    }
    if (st->pend_ns == RULES_NEVER) {
        if (delay > 0) {
            st->pend_ns = add_sat(now, delay);
            return 0;
        }
    } else if (st->pend_ns > now) {
        return 0;
    }
    /*
     * Either no delay, or an activation whose deadline passed while the value was
     * unknown: the run survived the gap, and this sample, still beyond, completes it now.
     */
    limit_set(cfg, st, !st->active, now);
    return st->active ? RULES_EV_ACTIVATED : RULES_EV_CLEARED;
}

static inline void limit_bad(struct rules_limit_state *st)
{
    /*
     * No value: no activation and no clear. A pending clear is dropped because an unknown
     * value is no evidence that the condition has gone; a pending activation is kept
     * (suspended) because a detector that drops out while reading high must not restart
     * its on-delay every time the line hiccups.
     */
    if (st->active)
        st->pend_ns = RULES_NEVER;
    st->unknown = true;
}

static inline unsigned limit_step(const struct rules_limit_cfg *cfg,
                                  struct rules_limit_state *st, enum rules_input in,
                                  double value, int64_t now)
{
    unsigned ev = limit_advance(cfg, st, now);

    if (in == RULES_IN_GOOD && !isnan(value))
        ev |= limit_good(cfg, st, value, now);
    else if (in != RULES_IN_TICK)
        limit_bad(st);
    return ev;
}

unsigned rules_limit_step(const struct rules_limit_cfg *cfg, struct rules_limit_state *st,
                          enum rules_input in, double value, int64_t now_ns)
{
    return limit_step(cfg, st, in, value, now_ns);
}

int64_t rules_limit_due(const struct rules_limit_state *st)
{
    if (!st->active)
        return st->unknown ? RULES_NEVER : st->pend_ns;
    return st->pend_ns < st->realarm_ns ? st->pend_ns : st->realarm_ns;
}

bool rules_high(double setpoint, double deadband, bool active, double value)
{
    struct rules_limit_cfg cfg = rules_limit(RULES_LIMIT_H, setpoint, deadband);
    struct rules_limit_state st;

    rules_limit_init(&st);
    st.active = active;
    (void)limit_step(&cfg, &st, RULES_IN_GOOD, value, 0);
    return st.active;
}

/* ---- rate of change ---- */

void rules_roc_init(struct rules_roc_state *st)
{
    memset(st, 0, sizeof(*st));
    st->rate = (double)NAN;
    st->head = RULES_ROC_SLOTS - 1;
}

unsigned rules_roc_step(const struct rules_roc_cfg *cfg, struct rules_roc_state *st,
                        double value, int64_t t_ns)
{
    const unsigned n = RULES_ROC_SLOTS;
    int64_t w = cfg->window_ns;
    int64_t slot, start, tb, tn;
    unsigned oldest, lo, hi, ev = 0;
    double vb, vn, vs, rate;

    if ((!cfg->rising && !cfg->falling) || w <= 0 || !isfinite(value))
        return 0;

    /*
     * Store the sample if it is at least a slot after the last one stored. With slots of
     * ceil(w / (n - 1)), n stored samples always span at least w, so the ring reaches
     * back a whole window whatever the sampling rate; faster samples are still evaluated,
     * just not kept.
     */
    slot = w / (int64_t)(n - 1) + (w % (int64_t)(n - 1) != 0);
    if (st->count == 0 || t_ns - st->t[st->head] >= slot) {
        st->head = (uint8_t)((st->head + 1u) % n);
        st->t[st->head] = t_ns;
        st->v[st->head] = value;
        if (st->count < n)
            st->count++;
    }

    start = t_ns - w;
    oldest = (st->head + n + 1u - st->count) % n;
    if (st->t[oldest] > start) {
        /* The history does not reach back a window yet: the rate is unknown, hold. */
        st->rate = (double)NAN;
        return 0;
    }

    /* The newest stored sample at or before the window's start (logical index lo). */
    lo = 0;
    hi = st->count - 1u;
    while (lo < hi) {
        unsigned mid = (lo + hi + 1u) / 2u;

        if (st->t[(oldest + mid) % n] <= start)
            lo = mid;
        else
            hi = mid - 1u;
    }
    tb = st->t[(oldest + lo) % n];
    vb = st->v[(oldest + lo) % n];
    if (tb == start) {
        vs = vb;
    } else {
        /* The next stored sample, or this one when the base is the newest stored. */
        if (lo + 1u < st->count) {
            tn = st->t[(oldest + lo + 1u) % n];
            vn = st->v[(oldest + lo + 1u) % n];
        } else {
            tn = t_ns;
            vn = value;
        }
        /* Differences of nanosecond times are small enough to be exact as doubles. */
        vs = vb + (vn - vb) * ((double)(start - tb) / (double)(tn - tb));
    }
    rate = (value - vs) / ((double)w / (double)RULES_NS_PER_MIN);
    st->rate = rate;

    if (cfg->rising && (rate >= cfg->limit) != st->rise_active) {
        st->rise_active = !st->rise_active;
        ev |= st->rise_active ? RULES_EV_ACTIVATED : RULES_EV_CLEARED;
    }
    if (cfg->falling && (rate <= -cfg->limit) != st->fall_active) {
        st->fall_active = !st->fall_active;
        ev |= (st->fall_active ? RULES_EV_ACTIVATED : RULES_EV_CLEARED)
              << RULES_ROC_FALL_SHIFT;
    }
    return ev;
}

/* ---- points ---- */

void rules_point_defaults(struct rules_point_cfg *cfg, enum rules_point_kind kind)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->kind = (uint8_t)kind;
    cfg->fault_qualities = RULES_FAULT_DEFAULT;
    /* Two or three missed polls at the usual 1-5 s, well inside GB 16808's 100 s. */
    cfg->fault_delay_ns = 10 * RULES_NS_PER_S;
    cfg->reference = 100.0;
    cfg->roc.window_ns = RULES_NS_PER_MIN;
    if (kind == RULES_POINT_OXYGEN) {
        (void)rules_point_add_limit(cfg, RULES_LIMIT_O2_LOW, RULES_O2_DEFICIENCY,
                                    RULES_O2_DEADBAND);
        (void)rules_point_add_limit(cfg, RULES_LIMIT_O2_HIGH, RULES_O2_ENRICHMENT,
                                    RULES_O2_DEADBAND);
    }
}

int rules_point_add_limit(struct rules_point_cfg *cfg, enum rules_limit_kind kind,
                          double setpoint, double deadband)
{
    if ((unsigned)kind >= RULES_LIMIT_COUNT)
        return -EINVAL;
    for (unsigned i = 0; i < cfg->n_limits && i < RULES_MAX_LIMITS; i++) {
        if (cfg->limits[i].kind == kind)
            return -EEXIST;
    }
    if (cfg->n_limits >= RULES_MAX_LIMITS)
        return -ENOSPC;
    cfg->limits[cfg->n_limits] = rules_limit(kind, setpoint, deadband);
    return cfg->n_limits++;
}

void rules_point_init(struct rules_point_state *st)
{
    memset(st, 0, sizeof(*st));
    st->last_ns = INT64_MIN;
    st->due_ns = RULES_NEVER;
    st->value = (double)NAN;
    st->quality = MSG_Q_COUNT;
    st->fault_pend_ns = RULES_NEVER;
    for (unsigned i = 0; i < RULES_MAX_LIMITS; i++)
        rules_limit_init(&st->limits[i]);
    rules_roc_init(&st->roc);
}

static inline unsigned n_limits(const struct rules_point_cfg *cfg)
{
    return cfg->n_limits < RULES_MAX_LIMITS ? cfg->n_limits : RULES_MAX_LIMITS;
}

static inline int64_t point_due(const struct rules_point_cfg *cfg,
                                const struct rules_point_state *st)
{
    int64_t due = st->fault_pend_ns;

    for (unsigned i = 0; i < n_limits(cfg); i++) {
        int64_t d = rules_limit_due(&st->limits[i]);

        if (d < due)
            due = d;
    }
    return due;
}

/* A step never runs time backwards: an earlier time is taken as the latest one seen. */
static inline int64_t point_now(struct rules_point_state *st, int64_t t)
{
    if (t < st->last_ns)
        return st->last_ns;
    st->last_ns = t;
    return t;
}

static inline uint32_t fault_advance(struct rules_point_state *st, int64_t now)
{
    if (st->fault_pend_ns > now)
        return 0;
    st->fault = true;
    st->fault_pend_ns = RULES_NEVER;
    return (uint32_t)RULES_EV_ACTIVATED << (3 * RULES_COND_FAULT);
}

/*
 * The fault follows runs of fault-class samples. Good and maintenance end a run and clear
 * the fault (maintenance explains the bad readings and is reported on its own); a bad
 * quality left out of fault_qualities is neutral, neither starting nor ending a run.
 */
static inline uint32_t fault_sample(const struct rules_point_cfg *cfg,
                                    struct rules_point_state *st, uint8_t q, int64_t now)
{
    uint32_t ev = 0;
    bool is_maint = q == MSG_Q_MAINTENANCE;

    if (q == MSG_Q_GOOD || is_maint) {
        st->fault_pend_ns = RULES_NEVER;
        if (st->fault) {
            st->fault = false;
            ev = (uint32_t)RULES_EV_CLEARED << (3 * RULES_COND_FAULT);
        }
    } else if (q >= MSG_Q_COUNT || ((cfg->fault_qualities >> q) & 1u) != 0) {
        /* A quality this build does not know is a fault: the safe reading of nonsense. */
        if (!st->fault && st->fault_pend_ns == RULES_NEVER) {
            if (cfg->fault_delay_ns > 0) {
                st->fault_pend_ns = add_sat(now, cfg->fault_delay_ns);
            } else {
                st->fault = true;
                ev = (uint32_t)RULES_EV_ACTIVATED << (3 * RULES_COND_FAULT);
            }
        }
    }
    if (is_maint != st->maintenance) {
        st->maintenance = is_maint;
        ev |= (uint32_t)(is_maint ? RULES_EV_ACTIVATED : RULES_EV_CLEARED)
              << (3 * RULES_COND_MAINT);
    }
    return ev;
}

uint32_t rules_point_sample(const struct rules_point_cfg *cfg,
                            struct rules_point_state *st, uint8_t quality, double value,
                            int64_t t_ns)
{
    int64_t now = point_now(st, t_ns);
    unsigned n = n_limits(cfg);
    uint32_t out = fault_advance(st, now);

    /* A good NaN is not a measurement; the codec calls such readings sentinels. */
    if (quality == MSG_Q_GOOD && isnan(value))
        quality = MSG_Q_SENTINEL;
    st->quality = quality;

    if (quality == MSG_Q_GOOD) {
        st->value = value;
        for (unsigned i = 0; i < n; i++)
            out |= (uint32_t)limit_step(&cfg->limits[i], &st->limits[i], RULES_IN_GOOD,
                                        value, now)
                   << (3 * i);
        if (cfg->roc.rising || cfg->roc.falling)
            out |= (uint32_t)rules_roc_step(&cfg->roc, &st->roc, value, now)
                   << (3 * RULES_COND_ROC_RISE);
    } else if (quality == MSG_Q_OVER_RANGE && cfg->over_range_high) {
        for (unsigned i = 0; i < n; i++) {
            enum rules_input in =
                kind_is_high(cfg->limits[i].kind) ? RULES_IN_GOOD : RULES_IN_BAD;

            out |= (uint32_t)limit_step(&cfg->limits[i], &st->limits[i], in,
                                        (double)INFINITY, now)
                   << (3 * i);
        }
    } else {
        for (unsigned i = 0; i < n; i++)
            out |= (uint32_t)limit_step(&cfg->limits[i], &st->limits[i], RULES_IN_BAD,
                                        0.0, now)
                   << (3 * i);
    }
    out |= fault_sample(cfg, st, quality, now);
    st->due_ns = point_due(cfg, st);
    return out;
}

uint32_t rules_point_tick(const struct rules_point_cfg *cfg, struct rules_point_state *st,
                          int64_t now_ns)
{
    int64_t now = point_now(st, now_ns);
    uint32_t out;

    if (now < st->due_ns)
        return 0;
    out = fault_advance(st, now);
    for (unsigned i = 0; i < n_limits(cfg); i++)
        out |= (uint32_t)limit_advance(&cfg->limits[i], &st->limits[i], now) << (3 * i);
    st->due_ns = point_due(cfg, st);
    return out;
}

void rules_point_assume(const struct rules_point_cfg *cfg, struct rules_point_state *st,
                        unsigned cond, int64_t now_ns)
{
    if (cond < n_limits(cfg))
        limit_set(&cfg->limits[cond], &st->limits[cond], true, now_ns);
    else if (cond == RULES_COND_ROC_RISE && cfg->roc.rising)
        st->roc.rise_active = true;
    else if (cond == RULES_COND_ROC_FALL && cfg->roc.falling)
        st->roc.fall_active = true;
    else if (cond == RULES_COND_FAULT) {
        st->fault = true;
        st->fault_pend_ns = RULES_NEVER;
    }
    st->due_ns = point_due(cfg, st);
}

unsigned rules_point_level(const struct rules_point_cfg *cfg,
                           const struct rules_point_state *st)
{
    unsigned level = 0;

    for (unsigned i = 0; i < n_limits(cfg); i++) {
        uint8_t kind = cfg->limits[i].kind;

        if (st->limits[i].active && kind < RULES_LIMIT_COUNT &&
            limit_info[kind].level > level)
            level = limit_info[kind].level;
    }
    return level;
}

/* ---- area voting ---- */

struct rules_member rules_point_member(const struct rules_point_cfg *cfg,
                                       const struct rules_point_state *st)
{
    struct rules_member m = {
        .alarm = rules_point_level(cfg, st) >= 1,
        .fault = st->fault,
    };

    return m;
}

bool rules_vote(const struct rules_vote_cfg *cfg, const struct rules_member *members,
                size_t n)
{
    size_t k = cfg->k != 0 ? cfg->k : 1;
    size_t alarms = 0, dead = 0;

    for (size_t i = 0; i < n; i++) {
        if (members[i].alarm)
            alarms++;
        else if (members[i].fault)
            dead++;
    }
    if (cfg->fault_degrades)
        k = dead >= k ? 1 : k - dead;
    return alarms >= k;
}

/* ---- configuration checks ---- */

__attribute__((format(printf, 4, 5))) static enum rules_check
fail(char *err, size_t err_len, enum rules_check c, const char *fmt, ...)
{
    va_list ap;

    if (err != NULL && err_len > 0) {
        va_start(ap, fmt);
        (void)vsnprintf(err, err_len, fmt, ap);
        va_end(ap);
    }
    return c;
}

/* Which limit kinds a point kind takes. */
static bool kind_fits(uint8_t point, uint8_t limit)
{
    switch (limit) {
    case RULES_LIMIT_HH:
    case RULES_LIMIT_H:
    case RULES_LIMIT_L:
    case RULES_LIMIT_LL:
        return point == RULES_POINT_PROCESS;
    case RULES_LIMIT_GAS_L1:
    case RULES_LIMIT_GAS_L2:
        return point == RULES_POINT_COMBUSTIBLE || point == RULES_POINT_TOXIC_OEL ||
               point == RULES_POINT_TOXIC_IDLH;
    default:
        return point == RULES_POINT_OXYGEN;
    }
}

static const char *kind_takes(uint8_t point)
{
    switch (point) {
    case RULES_POINT_PROCESS:
        return "HH, H, L and LL";
    case RULES_POINT_OXYGEN:
        return "O2-deficiency and O2-enrichment";
    default:
        return "L1 and L2";
    }
}

static bool is_gas(uint8_t point)
{
    return point == RULES_POINT_COMBUSTIBLE || point == RULES_POINT_TOXIC_OEL ||
           point == RULES_POINT_TOXIC_IDLH;
}

static bool delay_ok(int64_t d)
{
    return d >= 0 && d <= RULES_MAX_DELAY_NS;
}

/*
 * A set-point within a billionth of a percentage point of a ceiling counts as at it, so
 * that a decimal set-point such as 0.035 ppm against an IDLH of 0.7 ppm
 * (5.000000000000001 % in doubles) is not refused for binary rounding. 25.01 %LEL is
 * refused; 25 %LEL is not.
 */
#define PCT_SLACK 1e-9

static enum rules_check check_structure(const struct rules_point_cfg *cfg, char *err,
                                        size_t len)
{
    unsigned n = cfg->n_limits;

    if (cfg->kind >= RULES_POINT_KIND_COUNT)
        return fail(err, len, RULES_CHECK_POINT_KIND,
                    "point kind %u is not process, combustible, toxic-oel, toxic-idlh or "
                    "oxygen",
                    cfg->kind);
    if (n > RULES_MAX_LIMITS)
        return fail(err, len, RULES_CHECK_LIMIT_COUNT,
                    "%u limits: a point has at most %d", n, RULES_MAX_LIMITS);

    for (unsigned i = 0; i < n; i++) {
        const struct rules_limit_cfg *l = &cfg->limits[i];
        const char *name = rules_limit_name(l->kind);

        if (l->kind >= RULES_LIMIT_COUNT)
            return fail(err, len, RULES_CHECK_LIMIT_KIND,
                        "limits[%u]: limit kind %u is unknown", i, l->kind);
        if (!kind_fits(cfg->kind, l->kind))
            return fail(err, len, RULES_CHECK_LIMIT_NOT_FOR_POINT,
                        "limits[%u] %s: a %s point takes only %s limits", i, name,
                        rules_point_kind_name(cfg->kind), kind_takes(cfg->kind));
        for (unsigned j = 0; j < i; j++) {
            if (cfg->limits[j].kind == l->kind)
                return fail(
                    err, len, RULES_CHECK_LIMIT_DUPLICATE,
                    "limits[%u] %s: the point already has a %s limit (limits[%u])", i,
                    name, name, j);
        }
        if (!isfinite(l->setpoint) || !isfinite(l->deadband))
            return fail(err, len, RULES_CHECK_NOT_FINITE,
                        "limits[%u] %s: set-point %g and deadband %g must be finite", i,
                        name, l->setpoint, l->deadband);
        if (l->deadband < 0)
            return fail(err, len, RULES_CHECK_DEADBAND_NEGATIVE,
                        "limits[%u] %s: deadband %g is negative", i, name, l->deadband);
        if (!delay_ok(l->on_delay_ns) || !delay_ok(l->off_delay_ns) ||
            !delay_ok(l->realarm_ns))
            return fail(err, len, RULES_CHECK_DELAY_RANGE,
                        "limits[%u] %s: on-delay %lld ns, off-delay %lld ns and re-alarm "
                        "%lld ns must each be 0..%lld ns (a day)",
                        i, name, (long long)l->on_delay_ns, (long long)l->off_delay_ns,
                        (long long)l->realarm_ns, (long long)RULES_MAX_DELAY_NS);
    }

    /*
     * Order: every low limit below every high limit, and within a direction the level-2
     * limit further out than the level-1 one (HH above H, LL below L, L2 above L1).
     */
    for (unsigned i = 0; i < n; i++) {
        for (unsigned j = 0; j < n; j++) {
            const struct rules_limit_cfg *a = &cfg->limits[i], *b = &cfg->limits[j];
            bool ok;

            if (i == j)
                continue;
            if (!limit_info[a->kind].high && limit_info[b->kind].high)
                ok = a->setpoint < b->setpoint;
            else if (limit_info[a->kind].high != limit_info[b->kind].high)
                continue;
            else if (limit_info[a->kind].level < limit_info[b->kind].level)
                ok = limit_info[a->kind].high ? a->setpoint < b->setpoint
                                              : a->setpoint > b->setpoint;
            else
                continue;
            if (!ok)
                return fail(err, len, RULES_CHECK_LIMIT_ORDER,
                            "limits[%u] %s at %g must be %s limits[%u] %s at %g", i,
                            limit_info[a->kind].name, a->setpoint,
                            limit_info[a->kind].high || limit_info[b->kind].high
                                ? "below"
                                : "above",
                            j, limit_info[b->kind].name, b->setpoint);
        }
    }

    /*
     * A limit must clear before the value reaches the next set-point on its clearing
     * side: an HH whose deadband reaches down to H would still be active when H is about
     * to clear, and an H whose deadband reaches L would be active together with L.
     */
    for (unsigned i = 0; i < n; i++) {
        const struct rules_limit_cfg *a = &cfg->limits[i];
        bool high = limit_info[a->kind].high;
        int near = -1;

        for (unsigned j = 0; j < n; j++) {
            double s = cfg->limits[j].setpoint;

            if (j == i || (high ? s >= a->setpoint : s <= a->setpoint))
                continue;
            if (near < 0 ||
                (high ? s > cfg->limits[near].setpoint : s < cfg->limits[near].setpoint))
                near = (int)j;
        }
        if (near >= 0 && !(a->deadband < fabs(a->setpoint - cfg->limits[near].setpoint)))
            return fail(err, len, RULES_CHECK_DEADBAND_WIDE,
                        "limits[%u] %s: deadband %g must be smaller than the %g between "
                        "its set-point %g and limits[%d] %s at %g",
                        i, limit_info[a->kind].name, a->deadband,
                        fabs(a->setpoint - cfg->limits[near].setpoint), a->setpoint, near,
                        rules_limit_name(cfg->limits[near].kind),
                        cfg->limits[near].setpoint);
    }

    if ((cfg->fault_qualities & 1u) != 0 || (cfg->fault_qualities >> MSG_Q_COUNT) != 0)
        return fail(err, len, RULES_CHECK_FAULT_QUALITIES,
                    "fault qualities 0x%04x: good cannot be a fault, and only bits below "
                    "%d name qualities",
                    (unsigned)cfg->fault_qualities, MSG_Q_COUNT);
    if (!delay_ok(cfg->fault_delay_ns))
        return fail(err, len, RULES_CHECK_DELAY_RANGE,
                    "fault delay %lld ns must be 0..%lld ns (a day)",
                    (long long)cfg->fault_delay_ns, (long long)RULES_MAX_DELAY_NS);
    if (cfg->roc.rising || cfg->roc.falling) {
        if (cfg->roc.window_ns <= 0 || cfg->roc.window_ns > RULES_MAX_DELAY_NS)
            return fail(err, len, RULES_CHECK_ROC,
                        "rate-of-change window %lld ns must be 1..%lld ns (a day)",
                        (long long)cfg->roc.window_ns, (long long)RULES_MAX_DELAY_NS);
        if (!isfinite(cfg->roc.limit) || !(cfg->roc.limit > 0))
            return fail(err, len, RULES_CHECK_ROC,
                        "rate-of-change limit %g per minute must be finite and above 0",
                        cfg->roc.limit);
    }
    if (is_gas(cfg->kind) && (!isfinite(cfg->reference) || !(cfg->reference > 0)))
        return fail(err, len, RULES_CHECK_REFERENCE,
                    "reference %g (100 %% of the LEL, OEL or IDLH in the point's units) "
                    "must be finite and above 0",
                    cfg->reference);
    return RULES_CHECK_OK;
}

static enum rules_check check_standards(const struct rules_point_cfg *cfg, char *err,
                                        size_t len)
{
    static const struct {
        uint8_t point;
        const char *unit;
        double l1, l2;
        enum rules_check c1, c2;
    } ceilings[] = {
        {RULES_POINT_COMBUSTIBLE, "%LEL", RULES_LEL_L1_MAX_PCT, RULES_LEL_L2_MAX_PCT,
         RULES_CHECK_LEL_L1, RULES_CHECK_LEL_L2},
        {RULES_POINT_TOXIC_OEL, "%OEL", RULES_OEL_L1_MAX_PCT, RULES_OEL_L2_MAX_PCT,
         RULES_CHECK_OEL_L1, RULES_CHECK_OEL_L2},
        {RULES_POINT_TOXIC_IDLH, "%IDLH", RULES_IDLH_L1_MAX_PCT, RULES_IDLH_L2_MAX_PCT,
         RULES_CHECK_IDLH_L1, RULES_CHECK_IDLH_L2},
    };
    unsigned n = cfg->n_limits;
    bool has_l1 = false, has_l2 = false;

    for (unsigned i = 0; i < n; i++) {
        has_l1 |= cfg->limits[i].kind == RULES_LIMIT_GAS_L1;
        has_l2 |= cfg->limits[i].kind == RULES_LIMIT_GAS_L2;
    }
    if (is_gas(cfg->kind) && !(has_l1 && has_l2))
        return fail(err, len, RULES_CHECK_GAS_TWO_LEVELS,
                    "a %s point needs both a level-1 (L1) and a level-2 (L2) alarm "
                    "(GB/T 50493-2019 two-level alarm)",
                    rules_point_kind_name(cfg->kind));

    for (unsigned i = 0; i < n; i++) {
        const struct rules_limit_cfg *l = &cfg->limits[i];
        const char *name = limit_info[l->kind].name;

        for (size_t c = 0; c < sizeof(ceilings) / sizeof(ceilings[0]); c++) {
            bool l2 = l->kind == RULES_LIMIT_GAS_L2;
            double max = l2 ? ceilings[c].l2 : ceilings[c].l1;
            double pct = l->setpoint / cfg->reference * 100.0;

            if (ceilings[c].point != cfg->kind || !(pct > max + PCT_SLACK))
                continue;
            return fail(
                err, len, l2 ? ceilings[c].c2 : ceilings[c].c1,
                "limits[%u] %s: set-point %g is %g %s, above the level-%d ceiling "
                "of %g %s (GB/T 50493-2019)",
                i, name, l->setpoint, pct, ceilings[c].unit, l2 ? 2 : 1, max,
                ceilings[c].unit);
        }
        if (l->kind == RULES_LIMIT_O2_LOW &&
            l->setpoint < RULES_O2_DEFICIENCY - PCT_SLACK)
            return fail(err, len, RULES_CHECK_O2_DEFICIENCY,
                        "limits[%u] %s: set-point %g %%VOL alarms later than the "
                        "deficiency alarm at %g %%VOL (GB/T 50493-2019)",
                        i, name, l->setpoint, RULES_O2_DEFICIENCY);
        if (l->kind == RULES_LIMIT_O2_HIGH &&
            l->setpoint > RULES_O2_ENRICHMENT + PCT_SLACK)
            return fail(err, len, RULES_CHECK_O2_ENRICHMENT,
                        "limits[%u] %s: set-point %g %%VOL alarms later than the "
                        "enrichment alarm at %g %%VOL (GB/T 50493-2019)",
                        i, name, l->setpoint, RULES_O2_ENRICHMENT);
        if (!kind_fits(RULES_POINT_PROCESS, l->kind) &&
            l->on_delay_ns > RULES_GAS_DELAY_MAX_NS)
            return fail(err, len, RULES_CHECK_GAS_DELAY,
                        "limits[%u] %s: on-delay %lld ns is longer than the 60 s a gas "
                        "alarm may be delayed (GB 16808-2025 5.5.1.3)",
                        i, name, (long long)l->on_delay_ns);
    }
    if (cfg->kind != RULES_POINT_PROCESS && cfg->fault_delay_ns > RULES_GAS_FAULT_MAX_NS)
        return fail(err, len, RULES_CHECK_GAS_FAULT_DELAY,
                    "fault delay %lld ns is longer than the 100 s within which a gas "
                    "detector fault must be signalled (GB 16808 acceptance)",
                    (long long)cfg->fault_delay_ns);
    return RULES_CHECK_OK;
}

enum rules_check rules_check_point(const struct rules_point_cfg *cfg, char *err,
                                   size_t err_len)
{
    enum rules_check c = check_structure(cfg, err, err_len);

    if (c == RULES_CHECK_OK)
        c = check_standards(cfg, err, err_len);
    if (c == RULES_CHECK_OK && err != NULL && err_len > 0)
        err[0] = '\0';
    return c;
}

enum rules_check rules_check_vote(const struct rules_vote_cfg *cfg, size_t n, char *err,
                                  size_t err_len)
{
    if (n == 0)
        return fail(err, err_len, RULES_CHECK_VOTE, "a voting area needs members");
    if (cfg->k == 0)
        return fail(err, err_len, RULES_CHECK_VOTE,
                    "k is 0: at least one member must be in alarm");
    if (cfg->k > n)
        return fail(err, err_len, RULES_CHECK_VOTE,
                    "k is %u but only %zu members vote: the area could never alarm",
                    (unsigned)cfg->k, n);
    if (err != NULL && err_len > 0)
        err[0] = '\0';
    return RULES_CHECK_OK;
}
