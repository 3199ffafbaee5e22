/*
 * codec: see codec.h. Every function here is a pure function of its arguments (and of
 * the heartbeat state the caller owns), so the unit tests can pin every type, order,
 * band edge and rule with tables.
 */
#include "codec.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

/* The magnitude from which a float32 is a device's "no value" (FLT_MAX is 3.4028e38). */
#define CODEC_FLOAT_SENTINEL 3.4e38f

static const double pow10_table[CODEC_MAX_DECIMALS + 1] = {1e0, 1e1, 1e2, 1e3,
                                                           1e4, 1e5, 1e6};

size_t codec_width(enum codec_type type)
{
    switch (type) {
#define CODEC_TYPE_WIDTH(name, text, width)                                              \
    case CODEC_##name:                                                                   \
        return width;
        CODEC_TYPE_MAP(CODEC_TYPE_WIDTH)
#undef CODEC_TYPE_WIDTH
    case CODEC_TYPE_COUNT:
        break;
    }
    return 1;
}

const char *codec_type_name(enum codec_type type)
{
    static const char *const names[] = {
#define CODEC_TYPE_NAME(name, text, width) text,
        CODEC_TYPE_MAP(CODEC_TYPE_NAME)
#undef CODEC_TYPE_NAME
    };

    return (unsigned)type < CODEC_TYPE_COUNT ? names[type] : "?";
}

const char *codec_order_name(enum codec_order order)
{
    static const char *const names[] = {
#define CODEC_ORDER_NAME(name, text) text,
        CODEC_ORDER_MAP(CODEC_ORDER_NAME)
#undef CODEC_ORDER_NAME
    };

    return (unsigned)order < CODEC_ORDER_COUNT ? names[order] : "?";
}

void codec_point_init(struct codec_point *cp)
{
    *cp = (struct codec_point){
        .type = CODEC_UINT16,
        .order = CODEC_ORDER_ABCD,
        .scale = 1.0,
        .offset = 0.0,
        .min = -HUGE_VAL,
        .max = HUGE_VAL,
    };
}

void codec_ma_init(struct codec_ma *ma, double eu_low, double eu_high)
{
    *ma = (struct codec_ma){
        .enabled = true,
        .eu_low = eu_low,
        .eu_high = eu_high,
        .fault_low = 3.6,
        .valid_low = 3.8,
        .valid_high = 20.5,
        .fault_high = 21.0,
    };
}

static uint16_t swap16(uint16_t w)
{
    return (uint16_t)((w << 8) | (w >> 8));
}

static bool byte_swapped(enum codec_order order)
{
    return order == CODEC_ORDER_BADC || order == CODEC_ORDER_DCBA;
}

/* The big-endian raw pattern ABCD (or AB) of the words as they arrived. */
static uint32_t assemble(const struct codec_point *cp, const uint16_t *regs)
{
    uint16_t hi, lo;

    if (codec_width(cp->type) == 1)
        return byte_swapped(cp->order) ? swap16(regs[0]) : regs[0];
    switch (cp->order) {
    case CODEC_ORDER_CDAB:
        hi = regs[1];
        lo = regs[0];
        break;
    case CODEC_ORDER_BADC:
        hi = swap16(regs[0]);
        lo = swap16(regs[1]);
        break;
    case CODEC_ORDER_DCBA:
        hi = swap16(regs[1]);
        lo = swap16(regs[0]);
        break;
    case CODEC_ORDER_ABCD:
    default:
        hi = regs[0];
        lo = regs[1];
        break;
    }
    return (uint32_t)hi << 16 | lo;
}

/*
 * A float32 cannot hold 123.456; the instrument sent the nearest float, whose exact value
 * is 123.45600128173828. Publishing that would put noise digits into every message, so
 * the float is widened to the double nearest its shortest decimal form, the number the
 * instrument meant. Nine significant digits always identify a float; six always suffice
 * to reproduce a decimal of six digits or fewer, so the search is short.
 */
static double widen_float(float f)
{
    char text[32];

    for (int digits = 6; digits <= 9; digits++) {
        (void)snprintf(text, sizeof(text), "%.*g", digits, (double)f);
        if (strtof(text, NULL) == f)
            return strtod(text, NULL);
    }
    return (double)f;
}

static float float_of(uint32_t raw)
{
    union {
        uint32_t u;
        float f;
    } pun = {.u = raw};

    return pun.f;
}

/* The raw pattern as the number the type means; the conversions are exact. */
static double number_of(enum codec_type type, uint32_t raw)
{
    switch (type) {
    case CODEC_INT16:
        return raw >= 0x8000u ? (double)raw - 65536.0 : (double)raw;
    case CODEC_INT32:
        return raw >= 0x80000000u ? (double)raw - 4294967296.0 : (double)raw;
    case CODEC_FLOAT32:
        return widen_float(float_of(raw));
    case CODEC_UINT16:
    case CODEC_UINT32:
    case CODEC_BIT:
    case CODEC_TYPE_COUNT:
        break;
    }
    return (double)raw;
}

/*
 * Scales such as 0.1 or 0.01 are not exact in binary, so raw * 0.1 can land one ulp away
 * from the double nearest the decimal value (27.300000000000001 instead of 27.3), and
 * that ulp would show in every published value. Dividing by the exact integer 10 gives
 * the correctly rounded result.
 */
static double apply_scale(double raw, double s)
{
    if (s != 0.0 && fabs(s) < 1.0) {
        double inv = 1.0 / s;
        double k = nearbyint(inv);

        if (fabs(inv - k) < 1e-9 * fabs(k))
            return raw / k;
    }
    return raw * s;
}

static bool is_sentinel(const struct codec_point *cp, uint32_t raw)
{
    for (size_t i = 0; i < cp->n_sentinels && i < CODEC_MAX_SENTINELS; i++) {
        if (cp->sentinels[i] == raw)
            return true;
    }
    if (cp->type == CODEC_FLOAT32) {
        float f = float_of(raw);

        /* NaN fails every comparison, so it is tested by name. */
        return isnan(f) || isinf(f) || fabsf(f) >= CODEC_FLOAT_SENTINEL;
    }
    return false;
}

/* Classifies a loop current; on GOOD, *eu is the engineering value. */
static uint8_t convert_ma(const struct codec_ma *ma, double current, double *eu)
{
    /*
     * 2.2 mA from a register of 220 x 0.01 is 0.20000000000000018 away from 2.0: a
     * nanoamp of slack keeps a tolerance of 0.2 meaning what it says.
     */
    for (size_t i = 0; i < ma->n_currents && i < CODEC_MAX_CURRENTS; i++) {
        if (fabs(current - ma->currents[i].ma) <= ma->currents[i].tolerance + 1e-9)
            return ma->currents[i].quality;
    }
    if (current <= ma->fault_low || current >= ma->fault_high)
        return MSG_Q_SENSOR_FAULT;
    if (current < ma->valid_low)
        return MSG_Q_UNDER_RANGE;
    if (current > ma->valid_high)
        return MSG_Q_OVER_RANGE;
    /* Multiply before dividing by 16, which is exact: 12 mA on 0..100 gives 50,
     * not 50.000...1. */
    *eu = ma->eu_low + (current - 4.0) * (ma->eu_high - ma->eu_low) / 16.0;
    return MSG_Q_GOOD;
}

static uint8_t convert(const struct codec_point *cp, uint32_t raw, int decimals,
                       double *value)
{
    double x;

    if (cp->type == CODEC_BIT) {
        *value = (double)((raw >> (cp->bit & 15u)) & 1u);
        return MSG_Q_GOOD;
    }
    if (is_sentinel(cp, raw))
        return MSG_Q_SENTINEL;
    x = number_of(cp->type, raw);
    if (cp->decimals_reg) {
        /* A decimals register of 0xFFFF or 7 is a device that lost its configuration. */
        if (decimals < 0 || decimals > CODEC_MAX_DECIMALS)
            return MSG_Q_SENSOR_FAULT;
        x /= pow10_table[decimals];
    }
    x = apply_scale(x, cp->scale) + cp->offset;
    if (cp->ma.enabled) {
        uint8_t q = convert_ma(&cp->ma, x, &x);

        if (q != MSG_Q_GOOD)
            return q;
    }
    if (!isfinite(x))
        return MSG_Q_SENTINEL;
    if (x < cp->min)
        return MSG_Q_UNDER_RANGE;
    if (x > cp->max)
        return MSG_Q_OVER_RANGE;
    *value = x;
    return MSG_Q_GOOD;
}

void codec_convert(const struct codec_point *cp, const uint16_t *regs, int decimals,
                   struct codec_result *out)
{
    double value = (double)NAN;

    out->raw = assemble(cp, regs);
    out->quality = convert(cp, out->raw, decimals, &value);
    out->value = out->quality == MSG_Q_GOOD ? value : (double)NAN;
}

uint8_t codec_status(const struct codec_status_rule *rules, size_t n, uint16_t reg)
{
    for (size_t i = 0; i < n; i++) {
        uint16_t v = reg & rules[i].mask;

        if (v >= rules[i].min && v <= rules[i].max)
            return rules[i].quality;
    }
    return MSG_Q_GOOD;
}

uint8_t codec_heartbeat(struct codec_heartbeat *hb, uint16_t reg, uint16_t mask,
                        int64_t now_ns, uint32_t stale_after_ms)
{
    uint16_t v = reg & mask;

    if (!hb->seen || v != hb->last) {
        hb->seen = true;
        hb->last = v;
        hb->changed_ns = now_ns;
        return MSG_Q_GOOD;
    }
    if (now_ns - hb->changed_ns >= (int64_t)stale_after_ms * INT64_C(1000000))
        return MSG_Q_STALE;
    return MSG_Q_GOOD;
}
