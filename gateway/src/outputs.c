/*
 * outputs: relay counts and the relay word. See outputs.h for the contract.
 */
#include "outputs.h"

#include <string.h>

#include "alarm.h"
#include "msg.h"

/* The relays the config has, as a mask: bits past them are ignored wherever they come. */
static uint32_t all_relays(const struct config *cfg)
{
    size_t n = cfg->outputs.n < CONFIG_MAX_OUTPUTS ? cfg->outputs.n : CONFIG_MAX_OUTPUTS;

    return n >= 32 ? UINT32_MAX : (UINT32_C(1) << n) - 1;
}

static bool serves_area(const struct config_output *o, size_t area)
{
    if (o->all_areas)
        return true;
    return area < CONFIG_MAX_AREAS && (o->areas[area / 64] >> (area % 64) & 1u);
}

/*
 * Whether a siren serves this area and no other. A siren shared with other areas may be
 * sounding for their alarms, which an officer silencing one area has not seen: only a
 * silence of every area stops it.
 */
static bool serves_only(const struct config *cfg, const struct config_output *o,
                        size_t area)
{
    if (area >= CONFIG_MAX_AREAS || !serves_area(o, area))
        return false;
    if (o->all_areas)
        return cfg->n_areas <= 1;
    for (size_t w = 0; w < CONFIG_MAX_AREAS / 64; w++) {
        uint64_t others =
            o->areas[w] & ~(w == area / 64 ? UINT64_C(1) << (area % 64) : 0);

        if (others != 0)
            return false;
    }
    return true;
}

void outputs_init(struct outputs_state *s)
{
    memset(s, 0, sizeof(*s));
}

uint32_t outputs_mask(const struct config *cfg, unsigned priority, size_t area, bool test)
{
    uint32_t mask = 0;

    if (priority < ALARM_P1 || priority > ALARM_P4)
        priority = ALARM_P1;
    for (size_t i = 0; i < cfg->outputs.n && i < CONFIG_MAX_OUTPUTS; i++) {
        const struct config_output *o = &cfg->outputs.out[i];

        if (!(o->priorities & (1u << priority)))
            continue;
        /* A drill must not sound the plant's siren unless the site asked for it. */
        if (test && !o->test)
            continue;
        if (serves_area(o, area))
            mask |= UINT32_C(1) << i;
    }
    return mask;
}

/* Moves one counter by the change of one predicate, saturating at both ends. */
static void count(uint32_t *c, bool was, bool is)
{
    if (was && !is && *c > 0)
        (*c)--;
    else if (!was && is && *c < UINT32_MAX)
        (*c)++;
}

void outputs_step(struct outputs_state *s, const struct config *cfg, uint32_t mask,
                  unsigned from, unsigned to, bool annunciate)
{
    /*
     * A from-state nobody knows was never counted: reading it as "not counted" means
     * the step cannot decrement, so a corrupt record can hold a relay on but never drive
     * a counter below zero.
     */
    bool was_active = from < ALARM_STATE_COUNT && alarm_state_active(from);
    bool was_unack = from < ALARM_STATE_COUNT && alarm_state_unack(from);
    bool is_active = alarm_state_active(to);
    bool is_unack = alarm_state_unack(to);

    mask &= all_relays(cfg);
    for (size_t i = 0; i < CONFIG_MAX_OUTPUTS && mask >> i; i++) {
        uint32_t bit = UINT32_C(1) << i;

        if (!(mask & bit))
            continue;
        count(&s->active[i], was_active, is_active);
        count(&s->unack[i], was_unack, is_unack);
        if (cfg->outputs.out[i].role != CONFIG_OUTPUT_SIREN)
            continue;
        if (annunciate || s->unack[i] == 0)
            s->silenced &= ~bit;
    }
}

uint32_t outputs_silence(struct outputs_state *s, const struct config *cfg, uint32_t area)
{
    uint32_t done = 0;

    for (size_t i = 0; i < cfg->outputs.n && i < CONFIG_MAX_OUTPUTS; i++) {
        const struct config_output *o = &cfg->outputs.out[i];
        uint32_t bit = UINT32_C(1) << i;

        if (o->role != CONFIG_OUTPUT_SIREN || s->unack[i] == 0 || (s->silenced & bit))
            continue;
        if (area == MSG_POINT_ALL || serves_only(cfg, o, area))
            done |= bit;
    }
    s->silenced |= done;
    return done;
}

uint32_t outputs_word(const struct outputs_state *s, const struct config *cfg)
{
    uint32_t word = 0;

    for (size_t i = 0; i < cfg->outputs.n && i < CONFIG_MAX_OUTPUTS; i++) {
        uint32_t bit = UINT32_C(1) << i;
        bool on;

        if (cfg->outputs.out[i].role == CONFIG_OUTPUT_SIREN)
            on = s->unack[i] > 0 && !(s->silenced & bit);
        else
            on = s->active[i] > 0;
        if (on)
            word |= bit;
    }
    return word;
}
