/*
 * outputs: which local relays (beacon, siren) are on, as a pure function of the alarms.
 *
 * The real-time loop keeps one struct outputs_state and calls outputs_step() every time
 * an alarm changes state, outputs_silence() for an operator's silence command, and
 * outputs_word() to get the relay word it hands to the relays thread (relays.h). The
 * state is two counters per relay: how many of the alarms that drive it are on the
 * active list, and how many of them are unacknowledged. A beacon is on while its active
 * count is non-zero; a siren is on while its unacknowledged count is non-zero and it has
 * not been silenced since the last new alarm (GB 16808 5.5.1.6: silencing stops the
 * audible signal, a new alarm sounds it again; the visual signal stays until the alarms
 * are gone). Counting, rather than scanning every alarm, keeps each call O(relays) with
 * no knowledge of the alarm table.
 *
 * The module owns nothing: no globals, no clock, no I/O, no logging, no allocation. Every
 * call runs in time proportional to cfg->outputs.n (at most CONFIG_MAX_OUTPUTS).
 *
 * What it must never do: let a counter wrap. A step out of a state that was never
 * counted (a caller that missed a step, a restored record) must not turn a relay on for
 * 4 billion alarms or off for good; the counter stays at zero instead. When in doubt a
 * relay errs on the side of on: an unknown target state counts as active and
 * unacknowledged.
 */
#ifndef PG_OUTPUTS_H
#define PG_OUTPUTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

/*
 * Caller-owned, zeroed by outputs_init(). Bit i of every mask and word stands for
 * cfg->outputs.out[i]. Silence is not persisted: after a restart every siren with an
 * unacknowledged alarm sounds again, which is the safe way round.
 */
struct outputs_state {
    uint32_t active[CONFIG_MAX_OUTPUTS]; /* alarms on the active list, per relay */
    uint32_t unack[CONFIG_MAX_OUTPUTS];  /* unacknowledged alarms, per relay */
    uint32_t silenced;                   /* bitmask of sirens */
};

void outputs_init(struct outputs_state *s);

/*
 * Which relays an alarm drives (bit i = cfg->outputs.out[i]): those whose priorities
 * include priority, whose areas include area (an index into cfg->areas) and, for an
 * alarm flagged test, those configured with "test": true. A priority outside 1..4 is
 * taken as 1, the most urgent; an area outside the table matches only relays that serve
 * all areas. The caller computes the mask once per alarm and must pass the same mask for
 * every step of that alarm while it is counted (active or unacknowledged): a mask that
 * changes under a counted alarm leaves the counts wrong, never negative.
 */
uint32_t outputs_mask(const struct config *cfg, unsigned priority, size_t area,
                      bool test);

/*
 * One alarm moved from state `from` to `to` (enum alarm_state). "Active" is
 * alarm_state_active(); "unacknowledged" is ALARM_UNACK, ALARM_RTN_UNACK or
 * ALARM_LATCHED_UNACK. annunciate is true when the step entered unack as a new alarm
 * (MSG_F_ANNUNCIATE): it clears the silence of every siren in mask, so a new alarm
 * sounds a silenced siren again. When a siren's last unacknowledged alarm is
 * acknowledged or clears, its silence ends with it, so that the next alarm sounds it
 * whether or not the caller flags it. At start-up, restored alarms are counted by
 * stepping each from ALARM_NORMAL to its restored state.
 */
void outputs_step(struct outputs_state *s, const struct config *cfg, uint32_t mask,
                  unsigned from, unsigned to, bool annunciate);

/*
 * Silence the sirens serving area (an index into cfg->areas), or every siren for
 * MSG_POINT_ALL. Only a sounding siren is silenced: silence is an answer to a sound,
 * not a standing order for alarms still to come. Returns the bitmask of the sirens it
 * silenced; 0 when none was sounding there. Beacons are never affected.
 */
uint32_t outputs_silence(struct outputs_state *s, const struct config *cfg,
                         uint32_t area);

/*
 * The relay word, bit i = cfg->outputs.out[i] energised: a beacon while active[i] > 0,
 * a siren while unack[i] > 0 and it is not silenced.
 */
uint32_t outputs_word(const struct outputs_state *s, const struct config *cfg);

#endif
