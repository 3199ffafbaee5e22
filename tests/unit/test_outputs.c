/*
 * Unit tests for outputs: which relays an alarm drives (priority, area and test
 * filtering), scenario tables for beacons and sirens (silence stops the siren but not
 * the beacon, a new alarm sounds it again, the ack of the last unacknowledged alarm
 * stops it), odd step sequences that must not wrap a counter, and 200,000 random steps
 * over random alarms checked against a brute-force recount.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "alarm.h"
#include "msg.h"
#include "outputs.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

#define B0 0x1u
#define B1 0x2u
#define B2 0x4u
#define B3 0x8u

#define PRIOS(...) prio_bits((const unsigned[]){__VA_ARGS__, 0})

static uint8_t prio_bits(const unsigned *p)
{
    uint8_t bits = 0;

    for (; *p; p++)
        bits |= (uint8_t)(1u << *p);
    return bits;
}

static void add_relay(struct config *cfg, const char *id, unsigned role, uint8_t prios,
                      int area, bool test)
{
    struct config_output *o = &cfg->outputs.out[cfg->outputs.n++];

    snprintf(o->id, sizeof(o->id), "%s", id);
    o->role = (uint8_t)role;
    o->priorities = prios;
    o->all_areas = area < 0;
    if (area >= 0)
        o->areas[area / 64] |= UINT64_C(1) << (area % 64);
    o->test = test;
}

/*
 * The site of the scenario tables:
 *   relay 0: beacon, P1 and P2, every area
 *   relay 1: siren,  P1, every area
 *   relay 2: beacon, P1..P4, area 1 only
 *   relay 3: siren,  P1..P4, area 1 only, test alarms too
 */
static struct config site;

static int setup_site(void **state)
{
    (void)state;
    memset(&site, 0, sizeof(site));
    site.n_areas = 2;
    add_relay(&site, "beacon-all", CONFIG_OUTPUT_BEACON, PRIOS(1, 2), -1, false);
    add_relay(&site, "siren-all", CONFIG_OUTPUT_SIREN, PRIOS(1), -1, false);
    add_relay(&site, "beacon-a1", CONFIG_OUTPUT_BEACON, PRIOS(1, 2, 3, 4), 1, false);
    add_relay(&site, "siren-a1", CONFIG_OUTPUT_SIREN, PRIOS(1, 2, 3, 4), 1, true);
    return 0;
}

/* ---- outputs_mask ----------------------------------------------------------------- */

static void test_mask(void **state)
{
    static const struct {
        unsigned prio;
        size_t area;
        bool test;
        uint32_t want;
        const char *what;
    } rows[] = {
        {1, 0, false, B0 | B1, "P1 in area 0: the site-wide beacon and siren"},
        {1, 1, false, B0 | B1 | B2 | B3, "P1 in area 1: all four"},
        {2, 0, false, B0, "P2 in area 0: the site-wide beacon only"},
        {2, 1, false, B0 | B2 | B3, "P2 in area 1"},
        {3, 0, false, 0, "P3 in area 0: nothing"},
        {4, 1, false, B2 | B3, "P4 in area 1: the area's relays"},
        {1, 0, true, 0, "a test alarm in area 0: no relay takes test alarms there"},
        {1, 1, true, B3, "a test alarm in area 1: only the relay configured for tests"},
        {3, 1, true, B3, "a P3 test alarm in area 1"},
        {0, 0, false, B0 | B1, "priority 0 is taken as P1"},
        {5, 0, false, B0 | B1, "priority 5 is taken as P1"},
        {1, 300, false, B0 | B1, "an area past the table: only the site-wide relays"},
        {1, 64, false, B0 | B1, "an area in the second word of the bitmask"},
    };

    (void)state;
    for (size_t i = 0; i < N_ELEMS(rows); i++) {
        uint32_t got = outputs_mask(&site, rows[i].prio, rows[i].area, rows[i].test);

        if (got != rows[i].want)
            fail_msg("%s: mask 0x%x, wanted 0x%x", rows[i].what, got, rows[i].want);
    }
}

static void test_mask_no_outputs(void **state)
{
    struct config none;

    (void)state;
    memset(&none, 0, sizeof(none));
    assert_int_equal(outputs_mask(&none, 1, 0, false), 0);
}

/* ---- scenario tables -------------------------------------------------------------- */

enum op_kind { OP_STEP, OP_SILENCE, OP_END };

struct op {
    enum op_kind kind;
    int alarm;       /* OP_STEP: which of the scenario's alarms */
    unsigned from;   /* OP_STEP */
    unsigned to;     /* OP_STEP */
    bool annunciate; /* OP_STEP */
    uint32_t area;   /* OP_SILENCE: area index or MSG_POINT_ALL */
    uint32_t ret;    /* OP_SILENCE: the sirens it must report */
    uint32_t word;   /* the relay word after the operation */
};

/* An alarm of a scenario: priority, area, test flag. */
struct scen_alarm {
    unsigned prio;
    size_t area;
    bool test;
};

struct scenario {
    const char *name;
    struct scen_alarm alarms[3];
    struct op ops[12];
};

#define STEP(a, f, t, ann, w)                                                            \
    {                                                                                    \
        OP_STEP, a, ALARM_##f, ALARM_##t, ann, 0, 0, w                                   \
    }
#define SILENCE(ar, r, w)                                                                \
    {                                                                                    \
        OP_SILENCE, 0, 0, 0, false, ar, r, w                                             \
    }
#define END                                                                              \
    {                                                                                    \
        OP_END, 0, 0, 0, false, 0, 0, 0                                                  \
    }
#define ALL MSG_POINT_ALL

static const struct scenario scenarios[] = {
    {"beacon on while active, siren on while unacknowledged",
     {{1, 0, false}},
     {STEP(0, NORMAL, UNACK, true, B0 | B1), STEP(0, UNACK, ACKED, false, B0),
      STEP(0, ACKED, NORMAL, false, 0), END}},
    {"silence stops the siren, not the beacon",
     {{1, 0, false}},
     {STEP(0, NORMAL, UNACK, true, B0 | B1), SILENCE(ALL, B1, B0), SILENCE(ALL, 0, B0),
      STEP(0, UNACK, ACKED, false, B0), STEP(0, ACKED, NORMAL, false, 0), END}},
    {"a new alarm sounds a silenced siren again (GB 16808 5.5.1.6)",
     {{1, 0, false}, {1, 0, false}},
     {STEP(0, NORMAL, UNACK, true, B0 | B1), SILENCE(ALL, B1, B0),
      STEP(1, NORMAL, UNACK, true, B0 | B1), STEP(0, UNACK, ACKED, false, B0 | B1),
      STEP(1, UNACK, ACKED, false, B0), END}},
    {"the ack of the last unacknowledged alarm stops the siren",
     {{1, 0, false}, {1, 0, false}},
     {STEP(0, NORMAL, UNACK, true, B0 | B1), STEP(1, NORMAL, UNACK, true, B0 | B1),
      STEP(1, UNACK, ACKED, false, B0 | B1), STEP(0, UNACK, ACKED, false, B0),
      STEP(0, ACKED, NORMAL, false, B0), STEP(1, ACKED, NORMAL, false, 0), END}},
    {"returned but unacknowledged still sounds; its ack clears everything",
     {{1, 0, false}},
     {STEP(0, NORMAL, UNACK, true, B0 | B1), STEP(0, UNACK, RTN_UNACK, false, B0 | B1),
      STEP(0, RTN_UNACK, NORMAL, false, 0), END}},
    {"latched: the beacon stays until reset",
     {{1, 0, false}},
     {STEP(0, NORMAL, UNACK, true, B0 | B1),
      STEP(0, UNACK, LATCHED_UNACK, false, B0 | B1),
      STEP(0, LATCHED_UNACK, LATCHED_ACK, false, B0),
      STEP(0, LATCHED_ACK, NORMAL, false, 0), END}},
    {"shelving or suppressing an alarm takes it off both relays",
     {{1, 0, false}, {1, 0, false}},
     {STEP(0, NORMAL, UNACK, true, B0 | B1), STEP(0, UNACK, SHELVED, false, 0),
      STEP(1, NORMAL, UNACK, true, B0 | B1), STEP(1, UNACK, SUPPRESSED, false, 0),
      STEP(1, SUPPRESSED, UNACK, true, B0 | B1), STEP(1, UNACK, OUT_OF_SERVICE, false, 0),
      END}},
    {"silence by area: only the sirens serving that area alone",
     {{1, 1, false}},
     {STEP(0, NORMAL, UNACK, true, B0 | B1 | B2 | B3), SILENCE(0, 0, B0 | B1 | B2 | B3),
      SILENCE(1, B3, B0 | B1 | B2), STEP(0, UNACK, ACKED, false, B0 | B2), END}},
    {"an area's silence leaves a shared siren to a silence of every area",
     {{1, 1, false}},
     {STEP(0, NORMAL, UNACK, true, B0 | B1 | B2 | B3), SILENCE(1, B3, B0 | B1 | B2),
      SILENCE(ALL, B1, B0 | B2), END}},
    {"silencing an area whose sirens are quiet does nothing",
     {{2, 1, false}},
     {STEP(0, NORMAL, UNACK, true, B0 | B2 | B3), SILENCE(0, 0, B0 | B2 | B3), END}},
    {"a silence before any alarm is no standing order",
     {{1, 0, false}},
     {SILENCE(ALL, 0, 0), STEP(0, NORMAL, UNACK, true, B0 | B1), END}},
    {"silence ends with the last unacknowledged alarm, flagged new or not",
     {{1, 0, false}},
     {STEP(0, NORMAL, UNACK, true, B0 | B1), SILENCE(ALL, B1, B0),
      STEP(0, UNACK, ACKED, false, B0), STEP(0, ACKED, UNACK, false, B0 | B1), END}},
    {"a re-alarm of an unacknowledged alarm re-sounds",
     {{1, 0, false}},
     {STEP(0, NORMAL, UNACK, true, B0 | B1), SILENCE(ALL, B1, B0),
      STEP(0, UNACK, UNACK, true, B0 | B1), END}},
    {"a silenced siren stays silent for an old alarm's changes",
     {{1, 0, false}, {1, 0, false}},
     {STEP(0, NORMAL, UNACK, true, B0 | B1), STEP(1, NORMAL, UNACK, true, B0 | B1),
      SILENCE(ALL, B1, B0), STEP(0, UNACK, RTN_UNACK, false, B0),
      STEP(0, RTN_UNACK, NORMAL, false, B0), END}},
    {"a P3 alarm: the area's relays only",
     {{3, 1, false}},
     {STEP(0, NORMAL, UNACK, true, B2 | B3), STEP(0, UNACK, ACKED, false, B2), END}},
    {"a test alarm drives only the relay configured for tests",
     {{1, 1, true}},
     {STEP(0, NORMAL, UNACK, true, B3), SILENCE(ALL, B3, 0),
      STEP(0, UNACK, ACKED, false, 0), END}},
};

static void run_scenario(const struct scenario *sc)
{
    struct outputs_state s;
    uint32_t masks[3];

    outputs_init(&s);
    for (size_t a = 0; a < N_ELEMS(masks); a++)
        masks[a] = outputs_mask(&site, sc->alarms[a].prio, sc->alarms[a].area,
                                sc->alarms[a].test);
    for (size_t k = 0; sc->ops[k].kind != OP_END; k++) {
        const struct op *op = &sc->ops[k];
        uint32_t word;

        if (op->kind == OP_STEP) {
            outputs_step(&s, &site, masks[op->alarm], op->from, op->to, op->annunciate);
        } else {
            uint32_t ret = outputs_silence(&s, &site, op->area);

            if (ret != op->ret)
                fail_msg("%s: op %zu: silence returned 0x%x, wanted 0x%x", sc->name, k,
                         ret, op->ret);
        }
        word = outputs_word(&s, &site);
        if (word != op->word)
            fail_msg("%s: op %zu: word 0x%x, wanted 0x%x", sc->name, k, word, op->word);
    }
}

static void test_scenarios(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_ELEMS(scenarios); i++)
        run_scenario(&scenarios[i]);
    print_message("%zu scenarios\n", N_ELEMS(scenarios));
}

/* ---- odd sequences ---------------------------------------------------------------- */

static void assert_zero(const struct outputs_state *s)
{
    for (size_t i = 0; i < CONFIG_MAX_OUTPUTS; i++) {
        assert_int_equal(s->active[i], 0);
        assert_int_equal(s->unack[i], 0);
    }
}

static void test_no_underflow(void **state)
{
    struct outputs_state s;
    uint32_t m = B0 | B1 | B2 | B3;

    (void)state;
    outputs_init(&s);
    /* Steps out of states that were never counted (a missed step, a restored record). */
    outputs_step(&s, &site, m, ALARM_ACKED, ALARM_NORMAL, false);
    outputs_step(&s, &site, m, ALARM_UNACK, ALARM_SHELVED, false);
    outputs_step(&s, &site, m, ALARM_LATCHED_UNACK, ALARM_OUT_OF_SERVICE, false);
    outputs_step(&s, &site, m, ALARM_RTN_UNACK, ALARM_ACKED, false);
    /* RTN_UNACK to ACKED stays on the active list: nothing to count either way. */
    assert_int_equal(s.unack[0], 0);
    assert_int_equal(s.active[0], 0);
    outputs_step(&s, &site, m, ALARM_ACKED, ALARM_NORMAL, false);
    outputs_step(&s, &site, m, ALARM_ACKED, ALARM_NORMAL, false);
    assert_zero(&s);
    assert_int_equal(outputs_word(&s, &site), 0);

    /* The counters still work after all that. */
    outputs_step(&s, &site, m, ALARM_NORMAL, ALARM_UNACK, true);
    assert_int_equal(outputs_word(&s, &site), B0 | B1 | B2 | B3);
    outputs_step(&s, &site, m, ALARM_UNACK, ALARM_NORMAL, false);
    assert_zero(&s);

    /* A from-state nobody knows was never counted: no decrement. */
    outputs_step(&s, &site, m, 99, ALARM_NORMAL, false);
    assert_zero(&s);
    /* A to-state nobody knows counts as active and unacknowledged: relays on. */
    outputs_step(&s, &site, m, ALARM_NORMAL, 99, false);
    assert_int_equal(outputs_word(&s, &site), B0 | B1 | B2 | B3);
    /* Unknown to unknown counts again: a corrupt record holds relays on, never off. */
    outputs_step(&s, &site, m, 99, 99, false);
    assert_int_equal(s.active[0], 2);
    outputs_step(&s, &site, m, 99, ALARM_NORMAL, false);
    assert_int_equal(outputs_word(&s, &site), B0 | B1 | B2 | B3);

    /* Steps within counted states move nothing. */
    outputs_init(&s);
    outputs_step(&s, &site, m, ALARM_NORMAL, ALARM_UNACK, true);
    outputs_step(&s, &site, m, ALARM_UNACK, ALARM_RTN_UNACK, false);
    outputs_step(&s, &site, m, ALARM_RTN_UNACK, ALARM_UNACK, false);
    outputs_step(&s, &site, m, ALARM_UNACK, ALARM_LATCHED_UNACK, false);
    assert_int_equal(s.active[1], 1);
    assert_int_equal(s.unack[1], 1);
}

static void test_counter_saturates(void **state)
{
    struct outputs_state s;

    (void)state;
    outputs_init(&s);
    s.active[0] = UINT32_MAX;
    s.unack[0] = UINT32_MAX;
    outputs_step(&s, &site, B0, ALARM_NORMAL, ALARM_UNACK, true);
    assert_int_equal(s.active[0], UINT32_MAX);
    assert_int_equal(s.unack[0], UINT32_MAX);
}

static void test_mask_bits_past_relays(void **state)
{
    struct outputs_state s;

    (void)state;
    outputs_init(&s);
    outputs_step(&s, &site, UINT32_MAX, ALARM_NORMAL, ALARM_UNACK, true);
    for (size_t i = site.outputs.n; i < CONFIG_MAX_OUTPUTS; i++) {
        assert_int_equal(s.active[i], 0);
        assert_int_equal(s.unack[i], 0);
    }
    assert_int_equal(outputs_word(&s, &site), B0 | B1 | B2 | B3);
}

static void test_beacons_never_silenced(void **state)
{
    struct outputs_state s;

    (void)state;
    outputs_init(&s);
    outputs_step(&s, &site, B0 | B2, ALARM_NORMAL, ALARM_UNACK, true);
    assert_int_equal(outputs_silence(&s, &site, MSG_POINT_ALL), 0);
    assert_int_equal(outputs_silence(&s, &site, 1), 0);
    assert_int_equal(s.silenced, 0);
    assert_int_equal(outputs_word(&s, &site), B0 | B2);
}

/* ---- random sequences against a recount ------------------------------------------- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng(void)
{
    uint64_t x = rng_state;

    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rng_state = x;
    return x * 0x2545f4914f6cdd1dull;
}

static uint64_t rng_below(uint64_t n)
{
    return rng() % n;
}

#define N_RANDOM_RELAYS CONFIG_MAX_OUTPUTS
#define N_RANDOM_ALARMS 12
#define N_RANDOM_AREAS  5
#define N_RANDOM_STEPS  200000

static bool is_unack(unsigned st)
{
    return st == ALARM_UNACK || st == ALARM_RTN_UNACK || st == ALARM_LATCHED_UNACK;
}

static void test_random_vs_recount(void **state)
{
    static struct config cfg;
    struct outputs_state s;
    unsigned st[N_RANDOM_ALARMS];
    uint32_t mask[N_RANDOM_ALARMS];
    size_t area[N_RANDOM_ALARMS];
    uint32_t silenced = 0; /* the model's own silence bits */
    uint64_t silences = 0, resounds = 0, sounding_steps = 0;

    (void)state;
    memset(&cfg, 0, sizeof(cfg));
    for (size_t i = 0; i < N_RANDOM_RELAYS; i++) {
        char id[16];
        uint8_t prios = (uint8_t)((rng_below(15) + 1) << 1);

        snprintf(id, sizeof(id), "r%zu", i);
        add_relay(&cfg, id, (unsigned)rng_below(2), prios,
                  rng_below(3) == 0 ? -1 : (int)rng_below(N_RANDOM_AREAS),
                  rng_below(4) == 0);
        /* Some relays serve two areas. */
        if (!cfg.outputs.out[i].all_areas && rng_below(3) == 0)
            cfg.outputs.out[i].areas[0] |= UINT64_C(1) << rng_below(N_RANDOM_AREAS);
    }
    outputs_init(&s);
    for (size_t a = 0; a < N_RANDOM_ALARMS; a++) {
        st[a] = ALARM_NORMAL;
        area[a] = (size_t)rng_below(N_RANDOM_AREAS);
        mask[a] =
            outputs_mask(&cfg, (unsigned)rng_below(4) + 1, area[a], rng_below(5) == 0);
    }

    for (long step = 0; step < N_RANDOM_STEPS; step++) {
        uint32_t want_word = 0;

        if (rng_below(20) == 0) {
            uint32_t ar =
                rng_below(4) == 0 ? MSG_POINT_ALL : (uint32_t)rng_below(N_RANDOM_AREAS);
            uint32_t want = 0, got;

            for (size_t i = 0; i < N_RANDOM_RELAYS; i++) {
                const struct config_output *o = &cfg.outputs.out[i];
                /* An area's silence stops only the sirens of that area alone. */
                bool serves =
                    ar == MSG_POINT_ALL ||
                    (o->all_areas ? cfg.n_areas <= 1 : o->areas[0] == UINT64_C(1) << ar);

                if (o->role == CONFIG_OUTPUT_SIREN && serves && s.unack[i] > 0 &&
                    !(silenced >> i & 1u))
                    want |= UINT32_C(1) << i;
            }
            got = outputs_silence(&s, &cfg, ar);
            if (got != want)
                fail_msg("step %ld: silence(%u) = 0x%x, wanted 0x%x", step, ar, got,
                         want);
            silenced |= want;
            silences += want != 0;
        } else {
            size_t a = (size_t)rng_below(N_RANDOM_ALARMS);
            /* Half the steps go back to normal, so relays also go off now and then. */
            unsigned to =
                rng_below(2) ? ALARM_NORMAL : (unsigned)rng_below(ALARM_STATE_COUNT);
            bool ann = is_unack(to) && (!is_unack(st[a]) || rng_below(4) == 0);

            outputs_step(&s, &cfg, mask[a], st[a], to, ann);
            st[a] = to;
            if (ann && (silenced & mask[a]))
                resounds++;
            if (ann)
                silenced &= ~mask[a];
        }

        /* Brute force: recount every relay from every alarm's state. */
        for (size_t i = 0; i < N_RANDOM_RELAYS; i++) {
            const struct config_output *o = &cfg.outputs.out[i];
            uint32_t active = 0, unack = 0;

            for (size_t a = 0; a < N_RANDOM_ALARMS; a++) {
                if (!(mask[a] >> i & 1u))
                    continue;
                active += alarm_state_active(st[a]);
                unack += is_unack(st[a]);
            }
            if (s.active[i] != active || s.unack[i] != unack)
                fail_msg("step %ld relay %zu: counts %u/%u, recount %u/%u", step, i,
                         s.active[i], s.unack[i], active, unack);
            if (unack == 0)
                silenced &= ~(UINT32_C(1) << i);
            if (o->role == CONFIG_OUTPUT_SIREN ? unack > 0 && !(silenced >> i & 1u)
                                               : active > 0)
                want_word |= UINT32_C(1) << i;
        }
        if (outputs_word(&s, &cfg) != want_word)
            fail_msg("step %ld: word 0x%x, wanted 0x%x", step, outputs_word(&s, &cfg),
                     want_word);
        sounding_steps += want_word != 0;
    }
    print_message("%d random steps: %llu silences, %llu silenced sirens sounded again, "
                  "%llu steps with a relay on\n",
                  N_RANDOM_STEPS, (unsigned long long)silences,
                  (unsigned long long)resounds, (unsigned long long)sounding_steps);
    /* The sequence must actually have exercised silence and re-sounding. */
    assert_true(silences > 100);
    assert_true(resounds > 100);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_mask, setup_site),
        cmocka_unit_test(test_mask_no_outputs),
        cmocka_unit_test_setup(test_scenarios, setup_site),
        cmocka_unit_test_setup(test_no_underflow, setup_site),
        cmocka_unit_test_setup(test_counter_saturates, setup_site),
        cmocka_unit_test_setup(test_mask_bits_past_relays, setup_site),
        cmocka_unit_test_setup(test_beacons_never_silenced, setup_site),
        cmocka_unit_test(test_random_vs_recount),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
