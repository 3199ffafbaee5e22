/*
 * scenario: what a simulated node's sensor and line do over time, deterministically.
 *
 * The host node simulator and the QEMU board use it in place of a real sensing head. A
 * scenario has a value profile (what gas the head sees, in thousandths of the engineering
 * unit, and the loop current that produces) and optional line faults (silence, corrupted
 * replies). Every random choice is a hash of the seed and the time step or the reply
 * number, never a sequence, so a run with the same seed gives the same values at the same
 * instants however the caller's loop jitters.
 *
 * Kinds and their keys (numbers are decimal, times in seconds, values in the node's
 * engineering unit):
 *   steady   base=0 noise=0.2                 a constant value with uniform noise
 *   leak     + start=10 rate=0.5 peak=FS      a slow leak: ramp from base at rate/s;
 *                                             with for=S it stops after S s and
 *                                             disperses at the same rate
 *   fast     + start=10 rate=20 peak=FS       a fast leak (rate-of-change case)
 *   stuck    + start=10                       the value freezes at its value at start
 *   fault    + start=10 for=0 mode=low        loop at 2.0 mA (low) or 22.0 mA (high)
 *   commloss + start=10 for=0                 the node stops answering
 *   crc      + p=0.2                          each reply is corrupted with probability p
 * Any kind also takes loss=START, loss_for=S (0 = for ever) and corrupt=P, so that line
 * faults combine with any profile. for=0 means for ever. FS is the node's full scale.
 *
 * Pure: no I/O, no allocation, no floating point; it builds for the Cortex-M as well.
 */
#ifndef PG_SCENARIO_H
#define PG_SCENARIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum scenario_kind {
    SCENARIO_STEADY,
    SCENARIO_LEAK,
    SCENARIO_FAST,
    SCENARIO_STUCK,
    SCENARIO_FAULT,
    SCENARIO_COMMLOSS,
    SCENARIO_CRC,
};

struct scenario {
    enum scenario_kind kind;
    uint32_t seed;
    int32_t base_milli;
    int32_t noise_milli;
    uint32_t start_ms;
    int32_t rate_milli_s; /* milli-units per second */
    int32_t peak_milli;   /* < 0: the node's full scale */
    uint32_t for_ms;      /* duration of a fault; 0 = for ever */
    int32_t fault_ua;
    bool loss;
    uint32_t loss_start_ms, loss_for_ms;
    uint32_t corrupt_ppm; /* probability of corrupting a reply, per million */
};

/* Set s to the defaults of kind ("leak", ...). Returns 0, or -ENOENT for an unknown kind.
 */
int scenario_init(struct scenario *s, const char *kind, uint32_t seed);

/* Set one key (see above) from its text. Returns 0, -ENOENT for an unknown key or
 * -EINVAL for a value that is not a number in range. */
int scenario_set(struct scenario *s, const char *key, const char *value);

/* Parse "KIND[,key=value]...", e.g. "leak,start=30,rate=1.5". Returns 0 or the first
 * error of scenario_init()/scenario_set(). */
int scenario_parse(struct scenario *s, const char *spec, uint32_t seed);

/* The concentration the head sees at t_ms after start, in milli-units (>= 0). */
int32_t scenario_milli(const struct scenario *s, uint32_t t_ms, uint16_t range_x10);

/* The loop current the head drives at t_ms, in microamps: the concentration scaled to
 * 4-20 mA, or the fault current while a fault lasts. */
int32_t scenario_loop_ua(const struct scenario *s, uint32_t t_ms, uint16_t range_x10);

/* Whether the node is silent (does not answer) at t_ms. */
bool scenario_silent(const struct scenario *s, uint32_t t_ms);

/* Whether reply number n (counting from 0) goes out corrupted. */
bool scenario_corrupt(const struct scenario *s, uint32_t n);

/* A hash of (seed, a, b) to 32 well-mixed bits; also used by the ports for jitter-free
 * randomness. */
uint32_t scenario_hash(uint32_t seed, uint32_t a, uint32_t b);

/* Parse a non-negative decimal ("12", "0.25") scaled by 10^decimals into *out, rounding
 * away the digits beyond. Returns 0 or -EINVAL (not a number, negative, or too large). */
int scenario_parse_fixed(const char *text, unsigned decimals, uint32_t *out);

#endif
