#include "scenario.h"

#include <errno.h>
#include <string.h>

#include "sensor.h"

/* Noise and stuck values change every sample step, a tenth of a second. */
#define STEP_MS 100

static const struct {
    const char *name;
    enum scenario_kind kind;
} kinds[] = {
    {"steady", SCENARIO_STEADY}, {"leak", SCENARIO_LEAK},
    {"fast", SCENARIO_FAST},     {"stuck", SCENARIO_STUCK},
    {"fault", SCENARIO_FAULT},   {"commloss", SCENARIO_COMMLOSS},
    {"crc", SCENARIO_CRC},
};

uint32_t scenario_hash(uint32_t seed, uint32_t a, uint32_t b)
{
    /* The murmur3 finaliser over a simple combination: cheap, and every input bit
     * reaches every output bit. */
    uint32_t h = seed ^ (a * 0x9E3779B9u) ^ (b * 0x85EBCA77u);

    h ^= h >> 16;
    h *= 0x85EBCA6Bu;
    h ^= h >> 13;
    h *= 0xC2B2AE35u;
    h ^= h >> 16;
    return h;
}

int scenario_parse_fixed(const char *text, unsigned decimals, uint32_t *out)
{
    uint64_t v = 0;
    unsigned frac = 0;
    bool dot = false, digits = false;
    bool round_up = false;

    if (text == NULL || decimals > 6)
        return -EINVAL;
    for (const char *p = text; *p != '\0'; p++) {
        if (*p == '.' && !dot) {
            dot = true;
            continue;
        }
        if (*p < '0' || *p > '9')
            return -EINVAL;
        digits = true;
        if (dot && frac >= decimals) {
            /* Round half up on the first digit beyond the kept ones. */
            if (frac == decimals)
                round_up = *p >= '5';
            frac++;
            continue;
        }
        v = v * 10 + (uint64_t)(*p - '0');
        if (dot)
            frac++;
        if (v > 0xFFFFFFFFu)
            return -EINVAL;
    }
    if (!digits)
        return -EINVAL;
    for (unsigned i = frac < decimals ? frac : decimals; i < decimals; i++)
        v *= 10;
    if (round_up)
        v++;
    if (v > 0x7FFFFFFFu)
        return -EINVAL;
    *out = (uint32_t)v;
    return 0;
}

int scenario_init(struct scenario *s, const char *kind, uint32_t seed)
{
    size_t i;

    for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        if (strcmp(kinds[i].name, kind) == 0)
            break;
    }
    if (i == sizeof(kinds) / sizeof(kinds[0]))
        return -ENOENT;

    memset(s, 0, sizeof(*s));
    s->kind = kinds[i].kind;
    s->seed = seed;
    s->noise_milli = 200;
    s->start_ms = 10000;
    s->peak_milli = -1;
    s->fault_ua = 2000;
    switch (s->kind) {
    case SCENARIO_LEAK:
        s->rate_milli_s = 500;
        break;
    case SCENARIO_FAST:
        s->rate_milli_s = 20000;
        break;
    case SCENARIO_COMMLOSS:
        s->loss = true;
        s->loss_start_ms = s->start_ms;
        break;
    case SCENARIO_CRC:
        s->corrupt_ppm = 200000;
        break;
    case SCENARIO_STEADY:
    case SCENARIO_STUCK:
    case SCENARIO_FAULT:
        break;
    }
    return 0;
}

int scenario_set(struct scenario *s, const char *key, const char *value)
{
    uint32_t v;

    if (strcmp(key, "mode") == 0) {
        if (strcmp(value, "low") == 0)
            s->fault_ua = 2000;
        else if (strcmp(value, "high") == 0)
            s->fault_ua = 22000;
        else
            return -EINVAL;
        return 0;
    }

    if (strcmp(key, "p") == 0 || strcmp(key, "corrupt") == 0) {
        if (scenario_parse_fixed(value, 6, &v) < 0 || v > 1000000)
            return -EINVAL;
        s->corrupt_ppm = v;
        return 0;
    }

    /* Every other key is a number: values and rates in thousandths, times in ms. An
     * unknown key is reported as such, whatever its value. */
    if (strcmp(key, "base") != 0 && strcmp(key, "noise") != 0 &&
        strcmp(key, "rate") != 0 && strcmp(key, "peak") != 0 &&
        strcmp(key, "start") != 0 && strcmp(key, "for") != 0 &&
        strcmp(key, "loss") != 0 && strcmp(key, "loss_for") != 0)
        return -ENOENT;
    if (scenario_parse_fixed(value, 3, &v) < 0)
        return -EINVAL;
    if (strcmp(key, "base") == 0) {
        s->base_milli = (int32_t)v;
    } else if (strcmp(key, "noise") == 0) {
        s->noise_milli = (int32_t)v;
    } else if (strcmp(key, "rate") == 0) {
        s->rate_milli_s = (int32_t)v;
    } else if (strcmp(key, "peak") == 0) {
        s->peak_milli = (int32_t)v;
    } else if (strcmp(key, "start") == 0) {
        s->start_ms = v;
        if (s->kind == SCENARIO_COMMLOSS)
            s->loss_start_ms = v;
    } else if (strcmp(key, "for") == 0) {
        s->for_ms = v;
        if (s->kind == SCENARIO_COMMLOSS)
            s->loss_for_ms = v;
    } else if (strcmp(key, "loss") == 0) {
        s->loss = true;
        s->loss_start_ms = v;
    } else {
        s->loss_for_ms = v;
    }
    return 0;
}

int scenario_parse(struct scenario *s, const char *spec, uint32_t seed)
{
    char buf[160], *item, *next, *eq;
    int rc;

    if (strlen(spec) >= sizeof(buf))
        return -EINVAL;
    strcpy(buf, spec);
    next = strchr(buf, ',');
    if (next != NULL)
        *next++ = '\0';
    rc = scenario_init(s, buf, seed);
    while (rc == 0 && next != NULL) {
        item = next;
        next = strchr(item, ',');
        if (next != NULL)
            *next++ = '\0';
        eq = strchr(item, '=');
        if (eq == NULL)
            return -EINVAL;
        *eq = '\0';
        rc = scenario_set(s, item, eq + 1);
    }
    return rc;
}

static bool within(uint32_t t, uint32_t start, uint32_t len)
{
    return t >= start && (len == 0 || t - start < len);
}

/* The value without the kind's event: base plus noise, fixed within a sample step. */
static int32_t background(const struct scenario *s, uint32_t t_ms)
{
    uint32_t h;
    int32_t v;

    if (s->noise_milli <= 0)
        return s->base_milli;
    h = scenario_hash(s->seed, t_ms / STEP_MS, 0x5EED);
    v = s->base_milli - s->noise_milli +
        (int32_t)(h % (2u * (uint32_t)s->noise_milli + 1u));
    return v < 0 ? 0 : v;
}

int32_t scenario_milli(const struct scenario *s, uint32_t t_ms, uint16_t range_x10)
{
    int32_t peak = s->peak_milli >= 0 ? s->peak_milli : (int32_t)range_x10 * 100;
    int64_t ramp;

    switch (s->kind) {
    case SCENARIO_LEAK:
    case SCENARIO_FAST:
        if (t_ms < s->start_ms)
            return background(s, t_ms);
        ramp = s->base_milli + (int64_t)(t_ms - s->start_ms) * s->rate_milli_s / 1000;
        if (ramp > peak)
            ramp = peak;
        /*
         * A leak that is stopped (for=S) disperses at the rate it built up, down to the
         * background: the gas clears, as an alarm's whole life needs.
         */
        if (s->for_ms != 0 && t_ms - s->start_ms > s->for_ms) {
            int64_t top = s->base_milli + (int64_t)s->for_ms * s->rate_milli_s / 1000;

            if (top > peak)
                top = peak;
            ramp =
                top - (int64_t)(t_ms - s->start_ms - s->for_ms) * s->rate_milli_s / 1000;
            if (ramp < s->base_milli)
                ramp = s->base_milli;
        }
        /* The noise rides on the ramp, as it would on a real sensor. */
        return (int32_t)ramp + background(s, t_ms) - s->base_milli;
    case SCENARIO_STUCK:
        return background(s, t_ms < s->start_ms ? t_ms : s->start_ms);
    case SCENARIO_STEADY:
    case SCENARIO_FAULT:
    case SCENARIO_COMMLOSS:
    case SCENARIO_CRC:
        break;
    }
    return background(s, t_ms);
}

int32_t scenario_loop_ua(const struct scenario *s, uint32_t t_ms, uint16_t range_x10)
{
    int32_t milli;

    if (s->kind == SCENARIO_FAULT && within(t_ms, s->start_ms, s->for_ms))
        return s->fault_ua;
    milli = scenario_milli(s, t_ms, range_x10);
    if (milli < 0)
        milli = 0;
    return sensor_milli_to_ua(milli, range_x10);
}

bool scenario_silent(const struct scenario *s, uint32_t t_ms)
{
    return s->loss && within(t_ms, s->loss_start_ms, s->loss_for_ms);
}

bool scenario_corrupt(const struct scenario *s, uint32_t n)
{
    if (s->corrupt_ppm == 0)
        return false;
    return scenario_hash(s->seed, n, 0xC4C) % 1000000u < s->corrupt_ppm;
}
