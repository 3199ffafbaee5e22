/*
 * Unit tests for alarm: every state x every event under every guard against a reference
 * table written here from docs/alarms.md (not derived from alarm.c's table), 100,000
 * random steps over alarms with random configurations checked against that reference and
 * against invariants, then the features one at a time: shelve timers, one-shot shelving,
 * shelve limits, latching, re-alarm, authorisation, the safe state for corrupt records,
 * the defaults per kind, priority ordering and first-out.
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

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

#define S_NS   INT64_C(1000000000)
#define MAX_NS (3600 * S_NS) /* the shelvable configs' maximum in the table tests */
#define NOW    (INT64_C(1000) * S_NS)

/* ---- the reference table ---------------------------------------------------------- */

/*
 * One situation: the record's state and condition, the config's guards, the command and
 * the timer. os is the one-shot flag of the SHELVE command and, in the shelved state,
 * whether the record's shelve is one-shot. dur classifies a timed SHELVE's duration:
 * 0 fits, 1 is zero or negative, 2 is longer than the maximum. auth is whether the
 * command's user is named and holds the right the event needs.
 */
struct sit {
    int state, event, cond, latching, max, osok, os, dur, due, auth;
};

#define W (-1) /* wildcard in a reference row */

/* The outcome a row predicts: a state to move to, STAY, RECOVER or a refusal. */
#define STAY    100
#define RECOVER 200
#define TO(s)   (ALARM_##s)
#define REJ(r)  (-ALARM_R_##r)

struct ref_row {
    int state, event, cond, latching, max, osok, os, dur, due, auth;
    int want;
};

/*
 * Rows are tried top to bottom; the first that matches decides. Fields are in struct sit
 * order; W matches anything. Written event by event, with the table row numbers of
 * docs/alarms.md, and with the choices recorded there: reset needs an ack, a latched
 * alarm whose condition returns re-annunciates, ack only in the three unacknowledged
 * states.
 */
#define E(ev) ALARM_EV_##ev
#define S(st) ALARM_##st
static const struct ref_row ref_rows[] = {
    /* Corrupt records go to the safe state whatever the event. */
    {S(NORMAL), W, 1, W, W, W, W, W, W, W, RECOVER},
    {S(RTN_UNACK), W, 1, W, W, W, W, W, W, W, RECOVER},

    /* Operator commands need an authorised, named user before anything else. */
    {W, E(ACK), W, W, W, W, W, W, W, 0, REJ(NOT_AUTHORISED)},
    {W, E(RESET), W, W, W, W, W, W, W, 0, REJ(NOT_AUTHORISED)},
    {W, E(SHELVE), W, W, W, W, W, W, W, 0, REJ(NOT_AUTHORISED)},
    {W, E(UNSHELVE), W, W, W, W, W, W, W, 0, REJ(NOT_AUTHORISED)},
    {W, E(OOS), W, W, W, W, W, W, W, 0, REJ(NOT_AUTHORISED)},
    {W, E(RTS), W, W, W, W, W, W, W, 0, REJ(NOT_AUTHORISED)},

    /* ALM */
    {S(NORMAL), E(ALM), W, W, W, W, W, W, W, W, TO(UNACK)},        /* 1 */
    {S(RTN_UNACK), E(ALM), W, W, W, W, W, W, W, W, TO(UNACK)},     /* 9 */
    {S(LATCHED_UNACK), E(ALM), W, W, W, W, W, W, W, W, TO(UNACK)}, /* 13 */
    {S(LATCHED_ACK), E(ALM), W, W, W, W, W, W, W, W, TO(UNACK)},   /* 13 */
    {W, E(ALM), W, W, W, W, W, W, W, W, STAY},

    /* RTN */
    {S(UNACK), E(RTN), W, 0, W, W, W, W, W, W, TO(RTN_UNACK)},     /* 3 */
    {S(UNACK), E(RTN), W, 1, W, W, W, W, W, W, TO(LATCHED_UNACK)}, /* 4 */
    {S(ACKED), E(RTN), W, 0, W, W, W, W, W, W, TO(NORMAL)},        /* 5 */
    {S(ACKED), E(RTN), W, 1, W, W, W, W, W, W, TO(LATCHED_ACK)},   /* 6 */
    {S(SHELVED), E(RTN), W, W, W, W, 1, W, W, W, TO(NORMAL)},      /* one-shot ends */
    {W, E(RTN), W, W, W, W, W, W, W, W, STAY},

    /* ACK */
    {S(UNACK), E(ACK), W, W, W, W, W, W, W, W, TO(ACKED)},               /* 2 */
    {S(RTN_UNACK), E(ACK), W, W, W, W, W, W, W, W, TO(NORMAL)},          /* 8 */
    {S(LATCHED_UNACK), E(ACK), W, W, W, W, W, W, W, W, TO(LATCHED_ACK)}, /* 10 */
    {S(NORMAL), E(ACK), W, W, W, W, W, W, W, W, REJ(NOT_ACTIVE)},
    {S(ACKED), E(ACK), W, W, W, W, W, W, W, W, REJ(ALREADY_ACKED)},
    {S(LATCHED_ACK), E(ACK), W, W, W, W, W, W, W, W, REJ(ALREADY_ACKED)},
    {W, E(ACK), W, W, W, W, W, W, W, W, REJ(INHIBITED)},

    /* RESET */
    {S(LATCHED_ACK), E(RESET), 0, W, W, W, W, W, W, W, TO(NORMAL)}, /* 11 */
    {S(LATCHED_ACK), E(RESET), 1, W, W, W, W, W, W, W, REJ(CONDITION_STILL_TRUE)},
    {S(LATCHED_UNACK), E(RESET), W, W, W, W, W, W, W, W, REJ(NOT_ACKED_YET)}, /* 12 */
    {S(SHELVED), E(RESET), W, W, W, W, W, W, W, W, REJ(INHIBITED)},
    {S(SUPPRESSED), E(RESET), W, W, W, W, W, W, W, W, REJ(INHIBITED)},
    {S(OUT_OF_SERVICE), E(RESET), W, W, W, W, W, W, W, W, REJ(INHIBITED)},
    {W, E(RESET), W, W, W, W, W, W, W, W, REJ(NOT_LATCHED)},

    /* REALARM */
    {S(ACKED), E(REALARM), W, W, W, W, W, W, W, W, TO(UNACK)}, /* 7 */
    {W, E(REALARM), W, W, W, W, W, W, W, W, STAY},

    /* SHELVE (14): the state first, then the configuration, then the command. */
    {S(SHELVED), E(SHELVE), W, W, W, W, W, W, W, W, REJ(ALREADY_IN_STATE)},
    {S(SUPPRESSED), E(SHELVE), W, W, W, W, W, W, W, W, REJ(INHIBITED)},
    {S(OUT_OF_SERVICE), E(SHELVE), W, W, W, W, W, W, W, W, REJ(INHIBITED)},
    {W, E(SHELVE), W, W, 0, W, W, W, W, W, REJ(NOT_SHELVABLE)},
    {W, E(SHELVE), W, W, W, 0, 1, W, W, W, REJ(ONE_SHOT_NOT_ALLOWED)},
    {W, E(SHELVE), 0, W, W, W, 1, W, W, W, REJ(NOT_ACTIVE)},
    {W, E(SHELVE), W, W, W, W, 0, 1, W, W, REJ(BAD_DURATION)},
    {W, E(SHELVE), W, W, W, W, 0, 2, W, W, REJ(SHELVE_TOO_LONG)},
    {W, E(SHELVE), W, W, W, W, W, W, W, W, TO(SHELVED)},

    /* UNSHELVE and the shelve timer (15) */
    {S(SHELVED), E(UNSHELVE), 1, W, W, W, W, W, W, W, TO(UNACK)},
    {S(SHELVED), E(UNSHELVE), 0, W, W, W, W, W, W, W, TO(NORMAL)},
    {W, E(UNSHELVE), W, W, W, W, W, W, W, W, REJ(NOT_SHELVED)},
    {S(SHELVED), E(SHELVE_EXPIRED), 1, W, W, W, W, W, 1, W, TO(UNACK)},
    {S(SHELVED), E(SHELVE_EXPIRED), 0, W, W, W, W, W, 1, W, TO(NORMAL)},
    {W, E(SHELVE_EXPIRED), W, W, W, W, W, W, W, W, STAY},

    /* SUPPRESS (16), UNSUPPRESS (17): out of service is not overridden by design. */
    {S(SUPPRESSED), E(SUPPRESS), W, W, W, W, W, W, W, W, STAY},
    {S(OUT_OF_SERVICE), E(SUPPRESS), W, W, W, W, W, W, W, W, STAY},
    {W, E(SUPPRESS), W, W, W, W, W, W, W, W, TO(SUPPRESSED)},
    {S(SUPPRESSED), E(UNSUPPRESS), 1, W, W, W, W, W, W, W, TO(UNACK)},
    {S(SUPPRESSED), E(UNSUPPRESS), 0, W, W, W, W, W, W, W, TO(NORMAL)},
    {W, E(UNSUPPRESS), W, W, W, W, W, W, W, W, STAY},

    /* OOS (18), RTS (19) */
    {S(OUT_OF_SERVICE), E(OOS), W, W, W, W, W, W, W, W, REJ(ALREADY_IN_STATE)},
    {W, E(OOS), W, W, W, W, W, W, W, W, TO(OUT_OF_SERVICE)},
    {S(OUT_OF_SERVICE), E(RTS), 1, W, W, W, W, W, W, W, TO(UNACK)},
    {S(OUT_OF_SERVICE), E(RTS), 0, W, W, W, W, W, W, W, TO(NORMAL)},
    {W, E(RTS), W, W, W, W, W, W, W, W, REJ(NOT_OUT_OF_SERVICE)},
};
#undef E
#undef S

static bool field_matches(int row, int v)
{
    return row == W || row == v;
}

static int ref_outcome(const struct sit *s)
{
    for (size_t i = 0; i < N_ELEMS(ref_rows); i++) {
        const struct ref_row *r = &ref_rows[i];

        if (field_matches(r->state, s->state) && field_matches(r->event, s->event) &&
            field_matches(r->cond, s->cond) && field_matches(r->latching, s->latching) &&
            field_matches(r->max, s->max) && field_matches(r->osok, s->osok) &&
            field_matches(r->os, s->os) && field_matches(r->dur, s->dur) &&
            field_matches(r->due, s->due) && field_matches(r->auth, s->auth))
            return r->want;
    }
    fail_msg("no reference row for state %d event %d", s->state, s->event);
    return 0;
}

/* The right each operator command needs, written out here rather than read from alarm.h.
 */
static unsigned right_needed(int ev)
{
    switch (ev) {
    case ALARM_EV_ACK:
    case ALARM_EV_RESET:
        return ALARM_RIGHT_ACK;
    case ALARM_EV_SHELVE:
    case ALARM_EV_UNSHELVE:
        return ALARM_RIGHT_SHELVE;
    case ALARM_EV_OOS:
    case ALARM_EV_RTS:
        return ALARM_RIGHT_SERVICE;
    default:
        return 0;
    }
}

static bool cmd_authorised(const struct alarm_cmd *cmd, int ev)
{
    unsigned need = right_needed(ev);

    if (need == 0)
        return true;
    return cmd != NULL && cmd->user != NULL && cmd->user[0] != '\0' &&
           (cmd->rights & need) == need;
}

/* ---- checking one step ------------------------------------------------------------ */

static char ctx_buf[256];

static const char *ctx(const struct sit *s)
{
    snprintf(ctx_buf, sizeof ctx_buf,
             "state %s event %s cond %d latching %d max %d osok %d os %d dur %d due %d "
             "auth %d",
             alarm_state_name((unsigned)s->state), alarm_event_name((unsigned)s->event),
             s->cond, s->latching, s->max, s->osok, s->os, s->dur, s->due, s->auth);
    return ctx_buf;
}

/*
 * Step once and check everything the reference predicts: the return code, the new
 * record field by field, the transition record, and for a refusal that neither the
 * record nor *out was touched. Returns the step's return code.
 */
static int step_and_check(struct alarm *a, const struct alarm_config *c,
                          const struct sit *s, const struct alarm_cmd *cmd, int64_t now)
{
    struct alarm before = *a;
    struct alarm_transition out, out_before;
    int want = ref_outcome(s);
    int rc;

    memset(&out, 0xa5, sizeof out);
    out_before = out;
    rc = alarm_step(a, c, (enum alarm_event)s->event, cmd, now, &out);

    if (want == RECOVER) {
        /* *out is only valid once rc says it was written. */
        if (rc != ALARM_STEP_TRANSITION)
            fail_msg("%s: want recovery, rc %d", ctx(s), rc);
        if (!out.recovered || !out.annunciate)
            fail_msg("%s: recovery not flagged in the transition record", ctx(s));
        if (a->state != ALARM_UNACK || !a->condition || a->shelve != ALARM_SHELVE_NONE)
            fail_msg("%s: recovery must end in unack with the condition true", ctx(s));
        if (out.from != before.state || out.to != ALARM_UNACK || a->since_ns != now)
            fail_msg("%s: recovery transition record wrong", ctx(s));
        return rc;
    }

    if (want < 0) {
        if (rc != want)
            fail_msg("%s: rc %d (%s), want %d (%s)", ctx(s), rc,
                     alarm_reason_name((unsigned)-rc), want,
                     alarm_reason_name((unsigned)-want));
        if (memcmp(&before, a, sizeof before) != 0)
            fail_msg("%s: a refused command changed the record", ctx(s));
        if (memcmp(&out_before, &out, sizeof out) != 0)
            fail_msg("%s: a refused command wrote *out", ctx(s));
        return rc;
    }

    {
        int want_state = want == STAY ? before.state : want;
        int want_rc = want == STAY ? ALARM_STEP_NO_CHANGE : ALARM_STEP_TRANSITION;
        bool want_cond = s->event == ALARM_EV_ALM   ? true
                         : s->event == ALARM_EV_RTN ? false
                                                    : before.condition;

        if (rc != want_rc || a->state != want_state)
            fail_msg("%s: rc %d state %s, want rc %d state %s", ctx(s), rc,
                     alarm_state_name(a->state), want_rc,
                     alarm_state_name((unsigned)want_state));
        if (a->condition != want_cond)
            fail_msg("%s: condition %d, want %d", ctx(s), a->condition, want_cond);
        if (a->condition_ns !=
            (want_cond != before.condition ? now : before.condition_ns))
            fail_msg("%s: condition_ns wrong", ctx(s));
        if (a->since_ns != (want == STAY ? before.since_ns : now))
            fail_msg("%s: since_ns wrong", ctx(s));
        if (a->first_out != before.first_out)
            fail_msg("%s: the step touched first_out", ctx(s));

        /* The shelve fields. */
        if (want_state == ALARM_SHELVED && want != STAY && cmd == NULL) {
            fail_msg("%s: only a command can shelve", ctx(s));
        } else if (want_state == ALARM_SHELVED && want != STAY) {
            uint8_t kind = cmd->one_shot ? ALARM_SHELVE_ONE_SHOT : ALARM_SHELVE_TIMED;
            int64_t len = cmd->one_shot ? c->max_shelve_ns : cmd->shelve_ns;

            if (a->shelve != kind || a->shelve_deadline_ns != now + len)
                fail_msg("%s: shelve kind %u deadline %lld, want %u %lld", ctx(s),
                         a->shelve, (long long)a->shelve_deadline_ns, kind,
                         (long long)(now + len));
        } else if (want_state == ALARM_SHELVED) {
            if (a->shelve != before.shelve ||
                a->shelve_deadline_ns != before.shelve_deadline_ns)
                fail_msg("%s: staying shelved changed the shelve", ctx(s));
        } else if (a->shelve != ALARM_SHELVE_NONE || a->shelve_deadline_ns != 0) {
            fail_msg("%s: shelve fields left set outside shelved", ctx(s));
        }

        /* The transition record. */
        if (out.from != before.state || out.to != a->state || out.event != s->event ||
            out.condition != a->condition || out.recovered || out.at_ns != now ||
            out.from_since_ns != before.since_ns)
            fail_msg("%s: transition record wrong", ctx(s));
        if (out.annunciate != (a->state == ALARM_UNACK && before.state != ALARM_UNACK))
            fail_msg("%s: annunciate %d wrong", ctx(s), out.annunciate);
    }
    return rc;
}

/* ---- every state x every event x every guard -------------------------------------- */

static void make_record(struct alarm *a, const struct sit *s)
{
    memset(a, 0, sizeof *a);
    a->state = (uint8_t)s->state;
    a->condition = s->cond;
    a->first_out = (s->state + s->event) % 2 == 0;
    a->since_ns = NOW - 50 * S_NS;
    a->condition_ns = NOW - 70 * S_NS;
    if (s->state == ALARM_SHELVED) {
        a->shelve = s->os ? ALARM_SHELVE_ONE_SHOT : ALARM_SHELVE_TIMED;
        a->shelve_deadline_ns = s->due ? NOW - 1 : NOW + 1;
    }
}

static void make_config(struct alarm_config *c, const struct sit *s)
{
    *c = alarm_config_default(ALARM_KIND_PROCESS_H);
    c->latching = s->latching;
    c->max_shelve_ns = s->max ? MAX_NS : 0;
    c->one_shot_shelve = s->osok;
}

static void make_cmd(struct alarm_cmd *cmd, const struct sit *s)
{
    static const int64_t durs[] = {MAX_NS / 2, 0, MAX_NS + 1};

    cmd->user = "op-zhang";
    cmd->reason = "table test";
    /* Unauthorised: every right except the one needed. */
    cmd->rights = s->auth ? ALARM_RIGHT_ACK | ALARM_RIGHT_SHELVE | ALARM_RIGHT_SERVICE
                          : ~right_needed(s->event);
    cmd->one_shot = s->os;
    cmd->shelve_ns = durs[s->dur];
}

static void test_every_state_event_guard(void **state)
{
    /* Mixed radix over every field of struct sit. */
    const int radix[] = {ALARM_STATE_COUNT, ALARM_EVENT_COUNT, 2, 2, 2, 2, 2, 3, 2, 2};
    size_t total = 1, n = 0, n_moves = 0, n_stays = 0, n_refusals = 0, n_recoveries = 0;

    (void)state;
    for (size_t i = 0; i < N_ELEMS(radix); i++)
        total *= (size_t)radix[i];

    for (size_t idx = 0; idx < total; idx++) {
        int f[N_ELEMS(radix)];
        size_t rest = idx;
        struct alarm a;
        struct alarm_config c;
        struct alarm_cmd cmd;
        struct sit s;
        int want, rc;

        for (size_t i = 0; i < N_ELEMS(radix); i++) {
            f[i] = (int)(rest % (size_t)radix[i]);
            rest /= (size_t)radix[i];
        }
        s = (struct sit){.state = f[0],
                         .event = f[1],
                         .cond = f[2],
                         .latching = f[3],
                         .max = f[4],
                         .osok = f[5],
                         .os = f[6],
                         .dur = f[7],
                         .due = f[8],
                         .auth = f[9]};
        /* Process events carry no command, so there is nothing to be refused. */
        if (right_needed(s.event) == 0 && s.auth == 0)
            continue;
        make_record(&a, &s);
        make_config(&c, &s);
        make_cmd(&cmd, &s);
        want = ref_outcome(&s);
        rc = step_and_check(&a, &c, &s, right_needed(s.event) ? &cmd : NULL, NOW);
        n++;
        n_recoveries += want == RECOVER;
        n_refusals += rc < 0;
        n_stays += rc == ALARM_STEP_NO_CHANGE;
        n_moves += want != RECOVER && rc == ALARM_STEP_TRANSITION;
    }
    /* 9 states; 6 commands x 384 situations and 6 process events x 192. */
    assert_int_equal(n, 9 * (6 * 384 + 6 * 192));
    assert_true(n_moves > 0 && n_stays > 0 && n_refusals > 0 && n_recoveries > 0);
}

/*
 * The table's numbered rows one by one, with a consistent record, so that a reader can
 * tick them off against docs/alarms.md without reading the reference machinery.
 */
static void test_the_19_rows(void **state)
{
    const struct {
        int row, from, event;
        bool cond, latching;
        int to;
    } rows[] = {
        {1, ALARM_NORMAL, ALARM_EV_ALM, false, false, ALARM_UNACK},
        {2, ALARM_UNACK, ALARM_EV_ACK, true, false, ALARM_ACKED},
        {3, ALARM_UNACK, ALARM_EV_RTN, true, false, ALARM_RTN_UNACK},
        {4, ALARM_UNACK, ALARM_EV_RTN, true, true, ALARM_LATCHED_UNACK},
        {5, ALARM_ACKED, ALARM_EV_RTN, true, false, ALARM_NORMAL},
        {6, ALARM_ACKED, ALARM_EV_RTN, true, true, ALARM_LATCHED_ACK},
        {7, ALARM_ACKED, ALARM_EV_REALARM, true, false, ALARM_UNACK},
        {8, ALARM_RTN_UNACK, ALARM_EV_ACK, false, false, ALARM_NORMAL},
        {9, ALARM_RTN_UNACK, ALARM_EV_ALM, false, false, ALARM_UNACK},
        {10, ALARM_LATCHED_UNACK, ALARM_EV_ACK, false, true, ALARM_LATCHED_ACK},
        {11, ALARM_LATCHED_ACK, ALARM_EV_RESET, false, true, ALARM_NORMAL},
        {12, ALARM_LATCHED_UNACK, ALARM_EV_RESET, false, true, -ALARM_R_NOT_ACKED_YET},
        {13, ALARM_LATCHED_UNACK, ALARM_EV_ALM, false, true, ALARM_UNACK},
        {13, ALARM_LATCHED_ACK, ALARM_EV_ALM, false, true, ALARM_UNACK},
        {14, ALARM_NORMAL, ALARM_EV_SHELVE, false, false, ALARM_SHELVED},
        {14, ALARM_UNACK, ALARM_EV_SHELVE, true, false, ALARM_SHELVED},
        {14, ALARM_ACKED, ALARM_EV_SHELVE, true, false, ALARM_SHELVED},
        {14, ALARM_RTN_UNACK, ALARM_EV_SHELVE, false, false, ALARM_SHELVED},
        {14, ALARM_LATCHED_UNACK, ALARM_EV_SHELVE, false, true, ALARM_SHELVED},
        {14, ALARM_LATCHED_ACK, ALARM_EV_SHELVE, false, true, ALARM_SHELVED},
        {15, ALARM_SHELVED, ALARM_EV_UNSHELVE, false, false, ALARM_NORMAL},
        {15, ALARM_SHELVED, ALARM_EV_UNSHELVE, true, false, ALARM_UNACK},
        {15, ALARM_SHELVED, ALARM_EV_SHELVE_EXPIRED, false, false, ALARM_NORMAL},
        {15, ALARM_SHELVED, ALARM_EV_SHELVE_EXPIRED, true, false, ALARM_UNACK},
        {16, ALARM_NORMAL, ALARM_EV_SUPPRESS, false, false, ALARM_SUPPRESSED},
        {16, ALARM_UNACK, ALARM_EV_SUPPRESS, true, false, ALARM_SUPPRESSED},
        {16, ALARM_LATCHED_ACK, ALARM_EV_SUPPRESS, false, true, ALARM_SUPPRESSED},
        {16, ALARM_SHELVED, ALARM_EV_SUPPRESS, true, false, ALARM_SUPPRESSED},
        {17, ALARM_SUPPRESSED, ALARM_EV_UNSUPPRESS, false, false, ALARM_NORMAL},
        {17, ALARM_SUPPRESSED, ALARM_EV_UNSUPPRESS, true, false, ALARM_UNACK},
        {18, ALARM_NORMAL, ALARM_EV_OOS, false, false, ALARM_OUT_OF_SERVICE},
        {18, ALARM_ACKED, ALARM_EV_OOS, true, false, ALARM_OUT_OF_SERVICE},
        {18, ALARM_SHELVED, ALARM_EV_OOS, true, false, ALARM_OUT_OF_SERVICE},
        {18, ALARM_SUPPRESSED, ALARM_EV_OOS, true, false, ALARM_OUT_OF_SERVICE},
        {19, ALARM_OUT_OF_SERVICE, ALARM_EV_RTS, false, false, ALARM_NORMAL},
        {19, ALARM_OUT_OF_SERVICE, ALARM_EV_RTS, true, false, ALARM_UNACK},
    };
    const struct alarm_cmd cmd = {.user = "op-li",
                                  .reason = "row test",
                                  .rights = ALARM_RIGHT_ACK | ALARM_RIGHT_SHELVE |
                                            ALARM_RIGHT_SERVICE,
                                  .shelve_ns = 60 * S_NS};

    (void)state;
    for (size_t i = 0; i < N_ELEMS(rows); i++) {
        struct alarm a;
        struct alarm_config c = alarm_config_default(ALARM_KIND_PROCESS_HH);
        struct alarm_transition t;
        int rc;

        alarm_init(&a, 0);
        a.state = (uint8_t)rows[i].from;
        a.condition = rows[i].cond;
        if (a.state == ALARM_SHELVED) {
            a.shelve = ALARM_SHELVE_TIMED;
            a.shelve_deadline_ns = NOW;
        }
        c.latching = rows[i].latching;
        rc = alarm_step(&a, &c, (enum alarm_event)rows[i].event, &cmd, NOW, &t);
        if (rows[i].to < 0) {
            if (rc != rows[i].to)
                fail_msg("row %d: rc %d, want %d", rows[i].row, rc, rows[i].to);
            continue;
        }
        if (rc != ALARM_STEP_TRANSITION || a.state != rows[i].to || t.to != rows[i].to)
            fail_msg("row %d (%s --%s-->): rc %d, got %s, want %s", rows[i].row,
                     alarm_state_name((unsigned)rows[i].from),
                     alarm_event_name((unsigned)rows[i].event), rc,
                     alarm_state_name(a.state), alarm_state_name((unsigned)rows[i].to));
        assert_int_equal(t.annunciate, rows[i].to == ALARM_UNACK);
    }
}

/* ---- random sequences ------------------------------------------------------------- */

static uint64_t rng_state = 0x2545f4914f6cdd1dull;

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

#define N_RANDOM_ALARMS 6
#define N_RANDOM_STEPS  100000

static void random_config(struct alarm_config *c)
{
    static const int64_t maxes[] = {0, 60 * S_NS, 3600 * S_NS};

    *c = alarm_config_default((unsigned)rng_below(ALARM_KIND_COUNT));
    if (rng_below(2)) {
        c->latching = rng_below(2);
        c->max_shelve_ns = maxes[rng_below(N_ELEMS(maxes))];
        c->one_shot_shelve = rng_below(2);
    }
}

static int random_event(void)
{
    uint64_t r = rng_below(100);

    /* The process makes most of the traffic, so that alarms spend time active. */
    if (r < 20)
        return ALARM_EV_ALM;
    if (r < 40)
        return ALARM_EV_RTN;
    return (int)rng_below(ALARM_EVENT_COUNT);
}

static void random_cmd(struct alarm_cmd *cmd, const struct alarm_config *c)
{
    static const char *const users[] = {"op-wang", "op-chen", "", NULL};
    int64_t max = c->max_shelve_ns > 0 ? c->max_shelve_ns : 600 * S_NS;
    uint64_t r = rng_below(100);

    cmd->user = r < 90 ? users[rng_below(2)] : users[2 + rng_below(2)];
    cmd->reason = "random";
    cmd->rights = rng_below(10) < 9 ? 7u : (unsigned)rng_below(8);
    cmd->one_shot = rng_below(10) < 3;
    switch (rng_below(10)) {
    case 0:
        cmd->shelve_ns = -S_NS;
        break;
    case 1:
        cmd->shelve_ns = 0;
        break;
    case 2:
        cmd->shelve_ns = max;
        break;
    case 3:
        cmd->shelve_ns = max + 1;
        break;
    case 4:
        cmd->shelve_ns = 1 + (int64_t)rng_below((uint64_t)max);
        break;
    default:
        /* Short shelves, so that plenty of them run out before anyone unshelves them. */
        cmd->shelve_ns =
            1 + (int64_t)rng_below((uint64_t)(max < 120 * S_NS ? max : 120 * S_NS));
        break;
    }
}

static void situation_of(struct sit *s, const struct alarm *a,
                         const struct alarm_config *c, int ev,
                         const struct alarm_cmd *cmd, int64_t now)
{
    s->state = a->state;
    s->event = ev;
    s->cond = a->condition;
    s->latching = c->latching;
    s->max = c->max_shelve_ns > 0;
    s->osok = c->one_shot_shelve;
    s->os = ev == ALARM_EV_SHELVE ? cmd->one_shot : a->shelve == ALARM_SHELVE_ONE_SHOT;
    s->dur = cmd->shelve_ns <= 0 ? 1 : cmd->shelve_ns > c->max_shelve_ns ? 2 : 0;
    s->due = a->shelve_deadline_ns <= now;
    s->auth = cmd_authorised(cmd, ev);
}

/* The invariants that must hold after every step of a record that started sane. */
static void check_invariants(const struct alarm *a, const struct alarm_config *c,
                             bool model_cond, int64_t now, size_t step)
{
    if (a->state >= ALARM_STATE_COUNT)
        fail_msg("step %zu: invalid state %u", step, a->state);
    if (a->condition != model_cond)
        fail_msg("step %zu: condition %d but the last process event said %d", step,
                 a->condition, model_cond);
    switch (a->state) {
    case ALARM_UNACK:
    case ALARM_ACKED:
        if (!a->condition)
            fail_msg("step %zu: %s with the condition false", step,
                     alarm_state_name(a->state));
        break;
    case ALARM_NORMAL:
    case ALARM_RTN_UNACK:
    case ALARM_LATCHED_UNACK:
    case ALARM_LATCHED_ACK:
        /* Never looking normal (or returned) while the condition is true. */
        if (a->condition)
            fail_msg("step %zu: %s with the condition true", step,
                     alarm_state_name(a->state));
        break;
    case ALARM_SHELVED:
        if (a->shelve != ALARM_SHELVE_TIMED && a->shelve != ALARM_SHELVE_ONE_SHOT)
            fail_msg("step %zu: shelved without a shelve kind", step);
        if (a->shelve_deadline_ns - a->since_ns > c->max_shelve_ns)
            fail_msg("step %zu: shelved for longer than the maximum", step);
        if (a->shelve_deadline_ns < now)
            fail_msg("step %zu: a shelve outlived its deadline", step);
        break;
    default:
        break;
    }
    if (a->state != ALARM_SHELVED && a->shelve != ALARM_SHELVE_NONE)
        fail_msg("step %zu: shelve kind set outside shelved", step);
    if (a->since_ns > now || a->condition_ns > now)
        fail_msg("step %zu: a timestamp from the future", step);
}

static void test_random_sequences(void **state)
{
    struct alarm al[N_RANDOM_ALARMS];
    struct alarm_config cf[N_RANDOM_ALARMS];
    bool cond[N_RANDOM_ALARMS];
    size_t accepted[ALARM_EVENT_COUNT] = {0}, refused[ALARM_EVENT_COUNT] = {0};
    size_t visits[ALARM_STATE_COUNT] = {0}, expiries = 0;
    int64_t now = 5 * S_NS;

    (void)state;
    for (int i = 0; i < N_RANDOM_ALARMS; i++) {
        random_config(&cf[i]);
        alarm_init(&al[i], now);
        cond[i] = false;
    }

    for (size_t step = 0; step < N_RANDOM_STEPS; step++) {
        int i = (int)rng_below(N_RANDOM_ALARMS), ev = random_event(), rc;
        struct alarm_cmd cmd;
        struct sit s;

        /* Time moves on, and the caller's shelve timers fire as they fall due. */
        now += (int64_t)rng_below(90 * S_NS);
        for (int k = 0; k < N_RANDOM_ALARMS; k++) {
            if (alarm_due(&al[k], now)) {
                struct alarm_cmd none = {0};

                situation_of(&s, &al[k], &cf[k], ALARM_EV_SHELVE_EXPIRED, &none, now);
                rc = step_and_check(&al[k], &cf[k], &s, NULL, now);
                assert_int_equal(rc, ALARM_STEP_TRANSITION);
                expiries++;
            }
        }

        random_cmd(&cmd, &cf[i]);
        situation_of(&s, &al[i], &cf[i], ev, &cmd, now);
        rc = step_and_check(&al[i], &cf[i], &s, right_needed(ev) ? &cmd : NULL, now);
        if (ev == ALARM_EV_ALM)
            cond[i] = true;
        else if (ev == ALARM_EV_RTN)
            cond[i] = false;

        /* An accepted acknowledgement or reset always moves, so it is always journaled.
         */
        if ((ev == ALARM_EV_ACK || ev == ALARM_EV_RESET) && rc >= 0)
            assert_int_equal(rc, ALARM_STEP_TRANSITION);
        if (rc < 0)
            refused[ev]++;
        else
            accepted[ev]++;

        for (int k = 0; k < N_RANDOM_ALARMS; k++)
            check_invariants(&al[k], &cf[k], cond[k], now, step);
        visits[al[i].state]++;
    }

    /* The generator must have explored: every state visited, every event taken. */
    for (int st = 0; st < ALARM_STATE_COUNT; st++)
        if (visits[st] < 100)
            fail_msg("state %s visited only %zu times", alarm_state_name((unsigned)st),
                     visits[st]);
    for (int ev = 0; ev < ALARM_EVENT_COUNT; ev++) {
        if (accepted[ev] == 0)
            fail_msg("event %s never accepted", alarm_event_name((unsigned)ev));
        if (right_needed(ev) != 0 && refused[ev] == 0)
            fail_msg("command %s never refused", alarm_event_name((unsigned)ev));
    }
    assert_true(expiries > 100);
}

/* ---- features one at a time ------------------------------------------------------- */

static const struct alarm_cmd operator_cmd = {
    .user = "op-zhao",
    .reason = "test",
    .rights = ALARM_RIGHT_ACK | ALARM_RIGHT_SHELVE | ALARM_RIGHT_SERVICE,
};

static int step(struct alarm *a, const struct alarm_config *c, enum alarm_event ev,
                int64_t now, struct alarm_transition *t)
{
    return alarm_step(a, c, ev,
                      ALARM_EV_ALM == ev || ALARM_EV_RTN == ev ? NULL : &operator_cmd,
                      now, t);
}

static int shelve(struct alarm *a, const struct alarm_config *c, bool one_shot,
                  int64_t len, int64_t now)
{
    struct alarm_cmd cmd = operator_cmd;

    cmd.one_shot = one_shot;
    cmd.shelve_ns = len;
    return alarm_step(a, c, ALARM_EV_SHELVE, &cmd, now, NULL);
}

static void test_shelve_timer(void **state)
{
    struct alarm_config c = alarm_config_default(ALARM_KIND_PROCESS_H);
    struct alarm a;
    struct alarm_transition t;
    int64_t t0 = 100 * S_NS, len = 600 * S_NS;

    (void)state;
    alarm_init(&a, 0);
    assert_int_equal(step(&a, &c, ALARM_EV_ALM, t0 - S_NS, NULL), 0);
    assert_int_equal(shelve(&a, &c, false, len, t0), 0);
    assert_int_equal(a.state, ALARM_SHELVED);
    assert_int_equal(a.shelve, ALARM_SHELVE_TIMED);
    assert_true(a.shelve_deadline_ns == t0 + len);

    /* Due exactly at the deadline, not a nanosecond before. */
    assert_false(alarm_due(&a, t0 + len - 1));
    assert_true(alarm_due(&a, t0 + len));
    assert_true(alarm_due(&a, t0 + len + 1));

    /* An early timer changes nothing. */
    assert_int_equal(step(&a, &c, ALARM_EV_SHELVE_EXPIRED, t0 + len - 1, &t), 1);
    assert_int_equal(t.from, ALARM_SHELVED);
    assert_int_equal(t.to, ALARM_SHELVED);
    assert_false(t.annunciate);

    /* At the deadline, with the condition still true, the alarm annunciates. */
    assert_int_equal(step(&a, &c, ALARM_EV_SHELVE_EXPIRED, t0 + len, &t), 0);
    assert_int_equal(a.state, ALARM_UNACK);
    assert_true(t.annunciate);
    assert_true(t.from_since_ns == t0);
    assert_false(alarm_due(&a, t0 + len + 1));

    /* The condition cleared while shelved: expiry goes to normal, silently. */
    assert_int_equal(step(&a, &c, ALARM_EV_ACK, t0 + len + 1, NULL), 0);
    assert_int_equal(shelve(&a, &c, false, len, 2 * t0 + len), 0);
    assert_int_equal(step(&a, &c, ALARM_EV_RTN, 2 * t0 + len + 1, &t), 1);
    assert_int_equal(a.state, ALARM_SHELVED);
    assert_false(a.condition);
    assert_int_equal(step(&a, &c, ALARM_EV_SHELVE_EXPIRED, 2 * t0 + 2 * len, &t), 0);
    assert_int_equal(a.state, ALARM_NORMAL);
    assert_false(t.annunciate);
    assert_int_equal(a.shelve, ALARM_SHELVE_NONE);

    /* Timers on a record that is not shelved are stale and harmless. */
    assert_false(alarm_due(&a, INT64_MAX));
    assert_int_equal(step(&a, &c, ALARM_EV_SHELVE_EXPIRED, INT64_MAX, NULL), 1);
}

static void test_stale_timer_cannot_cut_a_new_shelve(void **state)
{
    struct alarm_config c = alarm_config_default(ALARM_KIND_PROCESS_H);
    struct alarm a;

    (void)state;
    alarm_init(&a, 0);
    assert_int_equal(step(&a, &c, ALARM_EV_ALM, S_NS, NULL), 0);
    assert_int_equal(shelve(&a, &c, false, 60 * S_NS, 10 * S_NS), 0); /* due at 70 s */
    assert_int_equal(step(&a, &c, ALARM_EV_UNSHELVE, 20 * S_NS, NULL), 0);
    assert_int_equal(a.state, ALARM_UNACK);
    assert_int_equal(shelve(&a, &c, false, 600 * S_NS, 30 * S_NS), 0); /* due at 630 s */
    /* The first shelve's timer fires at 70 s: the second shelve goes on. */
    assert_int_equal(step(&a, &c, ALARM_EV_SHELVE_EXPIRED, 70 * S_NS, NULL), 1);
    assert_int_equal(a.state, ALARM_SHELVED);
    assert_int_equal(step(&a, &c, ALARM_EV_SHELVE_EXPIRED, 630 * S_NS, NULL), 0);
    assert_int_equal(a.state, ALARM_UNACK);
}

static void test_one_shot_shelve(void **state)
{
    struct alarm_config c = alarm_config_default(ALARM_KIND_PROCESS_HH);
    struct alarm a;
    struct alarm_transition t;

    (void)state;
    assert_true(c.one_shot_shelve);
    alarm_init(&a, 0);

    /* On a clear condition there is nothing for a one-shot to wait for. */
    assert_int_equal(shelve(&a, &c, true, 0, S_NS), -ALARM_R_NOT_ACTIVE);
    assert_int_equal(a.state, ALARM_NORMAL);

    assert_int_equal(step(&a, &c, ALARM_EV_ALM, 2 * S_NS, NULL), 0);
    /* The duration of a one-shot command is ignored: it ends with the condition. */
    assert_int_equal(shelve(&a, &c, true, -5, 3 * S_NS), 0);
    assert_int_equal(a.shelve, ALARM_SHELVE_ONE_SHOT);
    assert_true(a.shelve_deadline_ns == 3 * S_NS + c.max_shelve_ns);

    /* Repeated activations keep it shelved; the return to normal ends it. */
    assert_int_equal(step(&a, &c, ALARM_EV_ALM, 4 * S_NS, NULL), 1);
    assert_int_equal(step(&a, &c, ALARM_EV_RTN, 5 * S_NS, &t), 0);
    assert_int_equal(t.from, ALARM_SHELVED);
    assert_int_equal(t.to, ALARM_NORMAL);
    assert_false(t.annunciate);
    assert_int_equal(a.shelve, ALARM_SHELVE_NONE);

    /* The next occurrence annunciates again. */
    assert_int_equal(step(&a, &c, ALARM_EV_ALM, 6 * S_NS, &t), 0);
    assert_true(t.annunciate);

    /* A timed shelve does not end on a return to normal. */
    assert_int_equal(shelve(&a, &c, false, 60 * S_NS, 7 * S_NS), 0);
    assert_int_equal(step(&a, &c, ALARM_EV_RTN, 8 * S_NS, NULL), 1);
    assert_int_equal(a.state, ALARM_SHELVED);
    assert_int_equal(step(&a, &c, ALARM_EV_UNSHELVE, 9 * S_NS, NULL), 0);
    assert_int_equal(a.state, ALARM_NORMAL);

    /* A one-shot on a condition that never clears still ends at the maximum. */
    assert_int_equal(step(&a, &c, ALARM_EV_ALM, 10 * S_NS, NULL), 0);
    assert_int_equal(shelve(&a, &c, true, 0, 11 * S_NS), 0);
    assert_false(alarm_due(&a, 11 * S_NS + c.max_shelve_ns - 1));
    assert_true(alarm_due(&a, 11 * S_NS + c.max_shelve_ns));
    assert_int_equal(
        step(&a, &c, ALARM_EV_SHELVE_EXPIRED, 11 * S_NS + c.max_shelve_ns, &t), 0);
    assert_int_equal(a.state, ALARM_UNACK);
    assert_true(t.annunciate);

    /* Not permitted by the config. */
    c.one_shot_shelve = false;
    assert_int_equal(shelve(&a, &c, true, 0, 12 * S_NS + c.max_shelve_ns),
                     -ALARM_R_ONE_SHOT_NOT_ALLOWED);
}

static void test_shelve_limits(void **state)
{
    struct alarm_config c = alarm_config_default(ALARM_KIND_PROCESS_H);
    struct alarm a, before;

    (void)state;
    c.max_shelve_ns = 3600 * S_NS;
    alarm_init(&a, 0);
    assert_int_equal(step(&a, &c, ALARM_EV_ALM, S_NS, NULL), 0);
    before = a;

    assert_int_equal(shelve(&a, &c, false, 3600 * S_NS + 1, 2 * S_NS),
                     -ALARM_R_SHELVE_TOO_LONG);
    assert_int_equal(shelve(&a, &c, false, INT64_MAX, 2 * S_NS),
                     -ALARM_R_SHELVE_TOO_LONG);
    assert_int_equal(shelve(&a, &c, false, 0, 2 * S_NS), -ALARM_R_BAD_DURATION);
    assert_int_equal(shelve(&a, &c, false, -1, 2 * S_NS), -ALARM_R_BAD_DURATION);
    assert_int_equal(shelve(&a, &c, false, INT64_MIN, 2 * S_NS), -ALARM_R_BAD_DURATION);
    /* A deadline past INT64_MAX is not representable: such a clock is not a clock. */
    assert_int_equal(shelve(&a, &c, false, 10, INT64_MAX - 5), -ALARM_R_INVALID);
    assert_int_equal(shelve(&a, &c, true, 0, INT64_MAX - 5), -ALARM_R_INVALID);
    assert_memory_equal(&a, &before, sizeof a);

    /* Exactly the maximum is allowed, and so is one nanosecond. */
    assert_int_equal(shelve(&a, &c, false, 3600 * S_NS, 2 * S_NS), 0);
    assert_int_equal(step(&a, &c, ALARM_EV_UNSHELVE, 3 * S_NS, NULL), 0);
    assert_int_equal(shelve(&a, &c, false, 1, 4 * S_NS), 0);
    assert_true(a.shelve_deadline_ns == 4 * S_NS + 1);
    assert_int_equal(shelve(&a, &c, false, 1, 4 * S_NS), -ALARM_R_ALREADY_IN_STATE);

    /* A negative maximum is as good as zero. */
    c.max_shelve_ns = -1;
    assert_int_equal(step(&a, &c, ALARM_EV_UNSHELVE, 5 * S_NS, NULL), 0);
    assert_int_equal(shelve(&a, &c, false, 1, 6 * S_NS), -ALARM_R_NOT_SHELVABLE);
}

static void test_not_shelvable_by_default(void **state)
{
    /* GB 16808 (docs/alarms.md): level-2 gas and fault alarms may not be shelved. */
    const unsigned kinds[] = {ALARM_KIND_COMBUSTIBLE_L2,   ALARM_KIND_TOXIC_L2,
                              ALARM_KIND_INSTRUMENT_FAULT, ALARM_KIND_OXYGEN_LOW,
                              ALARM_KIND_OXYGEN_HIGH,      ALARM_KIND_COUNT};

    (void)state;
    for (size_t i = 0; i < N_ELEMS(kinds); i++) {
        struct alarm_config c = alarm_config_default(kinds[i]);
        struct alarm a;

        alarm_init(&a, 0);
        assert_int_equal(step(&a, &c, ALARM_EV_ALM, S_NS, NULL), 0);
        assert_int_equal(shelve(&a, &c, false, S_NS, 2 * S_NS), -ALARM_R_NOT_SHELVABLE);
        assert_int_equal(shelve(&a, &c, true, 0, 2 * S_NS), -ALARM_R_NOT_SHELVABLE);
        assert_int_equal(a.state, ALARM_UNACK);
    }
}

static void test_latched_gas_alarm(void **state)
{
    struct alarm_config c = alarm_config_default(ALARM_KIND_COMBUSTIBLE_L2);
    struct alarm a;
    struct alarm_transition t;

    (void)state;
    assert_true(c.latching);
    alarm_init(&a, 0);
    assert_int_equal(step(&a, &c, ALARM_EV_ALM, 1, &t), 0);
    assert_true(t.annunciate);
    /* Gas clears before anyone looked: held, unacknowledged. */
    assert_int_equal(step(&a, &c, ALARM_EV_RTN, 2, &t), 0);
    assert_int_equal(a.state, ALARM_LATCHED_UNACK);
    assert_false(t.annunciate);
    /* Reset needs an acknowledgement first. */
    assert_int_equal(step(&a, &c, ALARM_EV_RESET, 3, NULL), -ALARM_R_NOT_ACKED_YET);
    assert_int_equal(step(&a, &c, ALARM_EV_ACK, 4, NULL), 0);
    assert_int_equal(a.state, ALARM_LATCHED_ACK);
    /* Gas back while latched: annunciated again as a new occurrence. */
    assert_int_equal(step(&a, &c, ALARM_EV_ALM, 5, &t), 0);
    assert_int_equal(a.state, ALARM_UNACK);
    assert_true(t.annunciate);
    /* An active alarm is not latched: there is nothing to reset. */
    assert_int_equal(step(&a, &c, ALARM_EV_ACK, 6, NULL), 0);
    assert_int_equal(step(&a, &c, ALARM_EV_RESET, 7, NULL), -ALARM_R_NOT_LATCHED);
    assert_int_equal(step(&a, &c, ALARM_EV_RTN, 8, NULL), 0);
    assert_int_equal(a.state, ALARM_LATCHED_ACK);
    /* The latch holds through time and repeated returns until the operator resets. */
    assert_int_equal(step(&a, &c, ALARM_EV_RTN, 9, NULL), 1);
    assert_int_equal(step(&a, &c, ALARM_EV_REALARM, 10, NULL), 1);
    assert_int_equal(step(&a, &c, ALARM_EV_RESET, 11, &t), 0);
    assert_int_equal(a.state, ALARM_NORMAL);
    assert_int_equal(t.from, ALARM_LATCHED_ACK);
    assert_int_equal(t.event, ALARM_EV_RESET);

    /* The same alarm, not latching, is never held. */
    c.latching = false;
    assert_int_equal(step(&a, &c, ALARM_EV_ALM, 12, NULL), 0);
    assert_int_equal(step(&a, &c, ALARM_EV_RTN, 13, NULL), 0);
    assert_int_equal(a.state, ALARM_RTN_UNACK);
    assert_int_equal(step(&a, &c, ALARM_EV_ACK, 14, NULL), 0);
    assert_int_equal(a.state, ALARM_NORMAL);
}

static void test_realarm(void **state)
{
    struct alarm_config c = alarm_config_default(ALARM_KIND_PROCESS_HH);
    struct alarm a;
    struct alarm_transition t;

    (void)state;
    alarm_init(&a, 0);
    /* Before it is acknowledged a re-alarm has nothing to do. */
    assert_int_equal(step(&a, &c, ALARM_EV_REALARM, 1, NULL), 1);
    assert_int_equal(a.state, ALARM_NORMAL);
    assert_int_equal(step(&a, &c, ALARM_EV_ALM, 2, NULL), 0);
    assert_int_equal(step(&a, &c, ALARM_EV_REALARM, 3, NULL), 1);
    assert_int_equal(step(&a, &c, ALARM_EV_ACK, 4, NULL), 0);
    /* Acknowledged and still standing: the re-alarm timer brings it back. */
    assert_int_equal(step(&a, &c, ALARM_EV_REALARM, 5, &t), 0);
    assert_int_equal(a.state, ALARM_UNACK);
    assert_true(t.annunciate);
    assert_int_equal(t.from, ALARM_ACKED);
    assert_true(t.from_since_ns == 4);
}

static void test_authorisation(void **state)
{
    const int evs[] = {ALARM_EV_ACK,      ALARM_EV_RESET, ALARM_EV_SHELVE,
                       ALARM_EV_UNSHELVE, ALARM_EV_OOS,   ALARM_EV_RTS};
    struct alarm_config c = alarm_config_default(ALARM_KIND_PROCESS_H);

    (void)state;
    c.latching = true;
    for (size_t i = 0; i < N_ELEMS(evs); i++) {
        for (unsigned st = 0; st < ALARM_STATE_COUNT; st++) {
            struct alarm a, before;
            struct alarm_cmd cmd = operator_cmd;
            unsigned need = right_needed(evs[i]);

            alarm_init(&a, 0);
            a.state = (uint8_t)st;
            a.condition = st == ALARM_UNACK || st == ALARM_ACKED;
            a.shelve = st == ALARM_SHELVED ? ALARM_SHELVE_TIMED : ALARM_SHELVE_NONE;
            before = a;
            cmd.shelve_ns = S_NS;

            assert_int_equal(alarm_step(&a, &c, (enum alarm_event)evs[i], NULL, 1, NULL),
                             -ALARM_R_NOT_AUTHORISED);
            cmd.user = NULL;
            assert_int_equal(alarm_step(&a, &c, (enum alarm_event)evs[i], &cmd, 1, NULL),
                             -ALARM_R_NOT_AUTHORISED);
            cmd.user = "";
            assert_int_equal(alarm_step(&a, &c, (enum alarm_event)evs[i], &cmd, 1, NULL),
                             -ALARM_R_NOT_AUTHORISED);
            cmd.user = "op-sun";
            cmd.rights = 0;
            assert_int_equal(alarm_step(&a, &c, (enum alarm_event)evs[i], &cmd, 1, NULL),
                             -ALARM_R_NOT_AUTHORISED);
            cmd.rights = ~need;
            assert_int_equal(alarm_step(&a, &c, (enum alarm_event)evs[i], &cmd, 1, NULL),
                             -ALARM_R_NOT_AUTHORISED);
            assert_memory_equal(&a, &before, sizeof a);
            /* The one right needed is enough to get past authorisation. */
            cmd.rights = need;
            assert_int_not_equal(
                alarm_step(&a, &c, (enum alarm_event)evs[i], &cmd, 1, NULL),
                -ALARM_R_NOT_AUTHORISED);
        }
    }
}

static void test_invalid_arguments(void **state)
{
    struct alarm_config c = alarm_config_default(ALARM_KIND_PROCESS_H);
    struct alarm a, before;
    struct alarm_transition t, t_before;

    (void)state;
    alarm_init(&a, 0);
    before = a;
    memset(&t, 0x5a, sizeof t);
    t_before = t;
    assert_int_equal(alarm_step(NULL, &c, ALARM_EV_ALM, NULL, 1, &t), -ALARM_R_INVALID);
    assert_int_equal(alarm_step(&a, NULL, ALARM_EV_ALM, NULL, 1, &t), -ALARM_R_INVALID);
    assert_int_equal(alarm_step(&a, &c, ALARM_EVENT_COUNT, NULL, 1, &t),
                     -ALARM_R_INVALID);
    assert_int_equal(alarm_step(&a, &c, (enum alarm_event) - 1, NULL, 1, &t),
                     -ALARM_R_INVALID);
    assert_memory_equal(&a, &before, sizeof a);
    assert_memory_equal(&t, &t_before, sizeof t);
    /* out is optional. */
    assert_int_equal(alarm_step(&a, &c, ALARM_EV_ALM, NULL, 1, NULL), 0);
    assert_int_equal(a.state, ALARM_UNACK);
    /* Process events ignore a command that comes with them. */
    assert_int_equal(alarm_step(&a, &c, ALARM_EV_RTN, &operator_cmd, 2, NULL), 0);
}

/*
 * Corrupt records: a state byte out of range, a shelve that could never end, and the
 * combinations that would hide a true condition. Every event on them lands in unack with
 * the condition true, never in normal, and the event itself is not applied.
 */
static void test_safe_state(void **state)
{
    struct {
        uint8_t st, shelve;
        bool cond;
    } bad[] = {
        {ALARM_STATE_COUNT, ALARM_SHELVE_NONE, false},
        {42, ALARM_SHELVE_NONE, true},
        {255, ALARM_SHELVE_TIMED, false},
        {ALARM_NORMAL, ALARM_SHELVE_NONE, true},
        {ALARM_RTN_UNACK, ALARM_SHELVE_NONE, true},
        {ALARM_SHELVED, ALARM_SHELVE_NONE, false},
        {ALARM_SHELVED, 7, true},
    };
    struct alarm_config c = alarm_config_default(ALARM_KIND_PROCESS_H);
    size_t n = 0;

    (void)state;
    for (size_t i = 0; i < N_ELEMS(bad); i++) {
        for (int ev = 0; ev < ALARM_EVENT_COUNT; ev++) {
            struct alarm a;
            struct alarm_transition t;
            struct alarm_area ar;
            int rc;

            alarm_init(&a, 0);
            a.state = bad[i].st;
            a.shelve = bad[i].shelve;
            a.condition = bad[i].cond;
            a.shelve_deadline_ns = 99;
            a.since_ns = 3;
            rc = alarm_step(&a, &c, (enum alarm_event)ev, &operator_cmd, 1000, &t);
            assert_int_equal(rc, ALARM_STEP_TRANSITION);
            assert_int_equal(a.state, ALARM_UNACK);
            assert_true(a.condition);
            assert_int_equal(a.shelve, ALARM_SHELVE_NONE);
            assert_true(a.shelve_deadline_ns == 0);
            assert_true(a.since_ns == 1000 && a.condition_ns == 1000);
            assert_true(t.recovered);
            assert_true(t.annunciate);
            assert_true(t.condition);
            assert_int_equal(t.from, bad[i].st);
            assert_int_equal(t.to, ALARM_UNACK);
            assert_int_equal(t.event, ev);
            assert_true(t.from_since_ns == 3);

            /* The recovered record is sane: the next RTN is an ordinary one. */
            assert_int_equal(alarm_step(&a, &c, ALARM_EV_RTN, NULL, 1001, &t), 0);
            assert_int_equal(a.state, ALARM_RTN_UNACK);
            assert_false(t.recovered);

            /* An unknown state counts as active, so first-out never sees it as quiet. */
            alarm_area_init(&ar);
            t.from = bad[i].st;
            t.to = ALARM_UNACK;
            t.at_ns = 5;
            assert_int_equal(alarm_area_apply(&ar, 1, &t),
                             bad[i].st == ALARM_NORMAL || bad[i].st == ALARM_SHELVED);
            n++;
        }
    }
    assert_int_equal(n, N_ELEMS(bad) * ALARM_EVENT_COUNT);

    /* Without out the recovery still happens. */
    {
        struct alarm a;

        alarm_init(&a, 0);
        a.state = 200;
        assert_int_equal(alarm_step(&a, &c, ALARM_EV_ACK, &operator_cmd, 5, NULL), 0);
        assert_int_equal(a.state, ALARM_UNACK);
    }
    assert_true(alarm_state_active(ALARM_STATE_COUNT));
    assert_true(alarm_state_active(255));
    assert_true(alarm_state_active(~0u));
}

static void test_inconsistent_but_visible_records(void **state)
{
    /*
     * Latched with the condition true cannot come out of the step function, but a
     * restored record might say so. It is still visible, so it is not "corrupt"; the
     * reset guard keeps it from being reset while the condition holds.
     */
    struct alarm_config c = alarm_config_default(ALARM_KIND_TOXIC_L2);
    struct alarm a;

    (void)state;
    alarm_init(&a, 0);
    a.state = ALARM_LATCHED_ACK;
    a.condition = true;
    assert_int_equal(step(&a, &c, ALARM_EV_RESET, 1, NULL),
                     -ALARM_R_CONDITION_STILL_TRUE);
    assert_int_equal(a.state, ALARM_LATCHED_ACK);
    assert_int_equal(step(&a, &c, ALARM_EV_RTN, 2, NULL), 1);
    assert_int_equal(step(&a, &c, ALARM_EV_RESET, 3, NULL), 0);
    assert_int_equal(a.state, ALARM_NORMAL);
}

static void test_timestamps(void **state)
{
    struct alarm_config c = alarm_config_default(ALARM_KIND_PROCESS_H);
    struct alarm a;
    struct alarm_transition t;

    (void)state;
    alarm_init(&a, 10);
    assert_true(a.since_ns == 10 && a.condition_ns == 10);
    assert_int_equal(a.state, ALARM_NORMAL);
    assert_false(a.condition || a.first_out);
    assert_int_equal(step(&a, &c, ALARM_EV_ALM, 20, &t), 0);
    assert_true(a.since_ns == 20 && a.condition_ns == 20);
    assert_true(t.at_ns == 20 && t.from_since_ns == 10);
    /* A repeated ALM changes neither timestamp. */
    assert_int_equal(step(&a, &c, ALARM_EV_ALM, 30, &t), 1);
    assert_true(a.since_ns == 20 && a.condition_ns == 20);
    assert_true(t.at_ns == 30 && t.from_since_ns == 20);
    /* A condition change while suppressed moves condition_ns only. */
    assert_int_equal(step(&a, &c, ALARM_EV_SUPPRESS, 40, NULL), 0);
    assert_int_equal(step(&a, &c, ALARM_EV_RTN, 50, &t), 1);
    assert_true(a.since_ns == 40 && a.condition_ns == 50);
    assert_false(t.condition);
    /* Back in service with the condition false: normal, no annunciation. */
    assert_int_equal(step(&a, &c, ALARM_EV_UNSUPPRESS, 60, &t), 0);
    assert_int_equal(a.state, ALARM_NORMAL);
    assert_false(t.annunciate);
    /* Suppressed while active, unsuppressed while still active: annunciates. */
    assert_int_equal(step(&a, &c, ALARM_EV_ALM, 70, NULL), 0);
    assert_int_equal(step(&a, &c, ALARM_EV_SUPPRESS, 80, NULL), 0);
    assert_int_equal(step(&a, &c, ALARM_EV_UNSUPPRESS, 90, &t), 0);
    assert_int_equal(a.state, ALARM_UNACK);
    assert_true(t.annunciate);
}

/* ---- configuration, names, ranking ------------------------------------------------ */

static void test_defaults(void **state)
{
    /* Written from the tables of docs/alarms.md, not from alarm.h. */
    const struct {
        unsigned kind;
        uint8_t prio;
        bool latching;
        int64_t max_s;
        bool one_shot;
    } want[] = {
        {ALARM_KIND_COMBUSTIBLE_L1, ALARM_P2, false, 3600, true},
        {ALARM_KIND_COMBUSTIBLE_L2, ALARM_P1, true, 0, false},
        {ALARM_KIND_TOXIC_L1, ALARM_P2, false, 3600, true},
        {ALARM_KIND_TOXIC_L2, ALARM_P1, true, 0, false},
        {ALARM_KIND_OXYGEN_LOW, ALARM_P1, true, 0, false},
        {ALARM_KIND_OXYGEN_HIGH, ALARM_P1, true, 0, false},
        {ALARM_KIND_PROCESS_HH, ALARM_P2, false, 28800, true},
        {ALARM_KIND_PROCESS_H, ALARM_P3, false, 28800, true},
        {ALARM_KIND_PROCESS_L, ALARM_P3, false, 28800, true},
        {ALARM_KIND_PROCESS_LL, ALARM_P2, false, 28800, true},
        {ALARM_KIND_RATE_OF_CHANGE, ALARM_P2, false, 28800, true},
        {ALARM_KIND_INSTRUMENT_FAULT, ALARM_P3, true, 0, false},
        {ALARM_KIND_ADVISORY, ALARM_P4, false, 86400, true},
        /* Unknown kinds get the strictest settings. */
        {ALARM_KIND_COUNT, ALARM_P1, true, 0, false},
        {1000, ALARM_P1, true, 0, false},
    };

    (void)state;
    assert_int_equal(N_ELEMS(want), ALARM_KIND_COUNT + 2);
    for (size_t i = 0; i < N_ELEMS(want); i++) {
        struct alarm_config c = alarm_config_default(want[i].kind);

        if (c.priority != want[i].prio || c.latching != want[i].latching ||
            c.max_shelve_ns != want[i].max_s * S_NS ||
            c.one_shot_shelve != want[i].one_shot)
            fail_msg("kind %s: defaults differ", alarm_kind_name(want[i].kind));
        if (want[i].kind < ALARM_KIND_COUNT)
            assert_int_equal(c.kind, want[i].kind);
        else
            assert_int_equal(c.kind, ALARM_KIND_COUNT);
    }
}

static void check_names(const char *(*name)(unsigned), unsigned lo, unsigned n)
{
    for (unsigned i = lo; i < n; i++) {
        const char *s = name(i);

        assert_non_null(s);
        assert_string_not_equal(s, "invalid");
        assert_true(s[0] != '\0');
        for (unsigned j = lo; j < i; j++)
            assert_string_not_equal(s, name(j));
    }
    assert_string_equal(name(n), "invalid");
    assert_string_equal(name(~0u), "invalid");
}

static void test_names(void **state)
{
    (void)state;
    check_names(alarm_state_name, 0, ALARM_STATE_COUNT);
    check_names(alarm_event_name, 0, ALARM_EVENT_COUNT);
    check_names(alarm_reason_name, 1, ALARM_R_COUNT);
    check_names(alarm_kind_name, 0, ALARM_KIND_COUNT);
    check_names(alarm_priority_name, ALARM_P1, ALARM_P4 + 1);
    assert_string_equal(alarm_reason_name(ALARM_R_NONE), "none");
    assert_string_equal(alarm_priority_name(0), "invalid");

    /* The wire names the MQTT alarm payload uses, in lower case. */
    assert_string_equal(alarm_state_name(ALARM_RTN_UNACK), "rtn_unack");
    assert_string_equal(alarm_state_name(ALARM_OUT_OF_SERVICE), "out_of_service");
    assert_string_equal(alarm_event_name(ALARM_EV_SHELVE_EXPIRED), "shelve_expired");
    assert_string_equal(alarm_reason_name(ALARM_R_NOT_ACKED_YET), "not_acked_yet");
    assert_string_equal(alarm_priority_name(ALARM_P1), "urgent");
    assert_int_equal(ALARM_P1, 1);
    assert_int_equal(ALARM_P4, 4);

    /* Reason values are on the wire and in docs/alarms.md: they must not move. */
    assert_int_equal(ALARM_R_INVALID, 1);
    assert_int_equal(ALARM_R_NOT_AUTHORISED, 2);
    assert_int_equal(ALARM_R_NOT_ACTIVE, 3);
    assert_int_equal(ALARM_R_ALREADY_ACKED, 4);
    assert_int_equal(ALARM_R_NOT_ACKED_YET, 5);
    assert_int_equal(ALARM_R_NOT_LATCHED, 6);
    assert_int_equal(ALARM_R_CONDITION_STILL_TRUE, 7);
    assert_int_equal(ALARM_R_NOT_SHELVABLE, 8);
    assert_int_equal(ALARM_R_ONE_SHOT_NOT_ALLOWED, 9);
    assert_int_equal(ALARM_R_BAD_DURATION, 10);
    assert_int_equal(ALARM_R_SHELVE_TOO_LONG, 11);
    assert_int_equal(ALARM_R_ALREADY_IN_STATE, 12);
    assert_int_equal(ALARM_R_NOT_SHELVED, 13);
    assert_int_equal(ALARM_R_NOT_OUT_OF_SERVICE, 14);
    assert_int_equal(ALARM_R_INHIBITED, 15);
    assert_int_equal(ALARM_R_NO_SUCH_ALARM, 16);
    assert_int_equal(ALARM_R_EXPIRED, 17);
    assert_int_equal(ALARM_R_COUNT, 18);
    assert_string_equal(alarm_reason_name(ALARM_R_NO_SUCH_ALARM), "no_such_alarm");

    /* Active list membership, from ISA-18.2 as alerta groups it. */
    assert_false(alarm_state_active(ALARM_NORMAL));
    assert_true(alarm_state_active(ALARM_UNACK));
    assert_true(alarm_state_active(ALARM_ACKED));
    assert_true(alarm_state_active(ALARM_RTN_UNACK));
    assert_true(alarm_state_active(ALARM_LATCHED_UNACK));
    assert_true(alarm_state_active(ALARM_LATCHED_ACK));
    assert_false(alarm_state_active(ALARM_SHELVED));
    assert_false(alarm_state_active(ALARM_SUPPRESSED));
    assert_false(alarm_state_active(ALARM_OUT_OF_SERVICE));
}

static struct alarm_config cfg(unsigned kind, uint8_t prio)
{
    struct alarm_config c = alarm_config_default(kind);

    c.priority = prio;
    return c;
}

static void test_priority_ordering(void **state)
{
    struct alarm_config comb1 = alarm_config_default(ALARM_KIND_COMBUSTIBLE_L1);
    struct alarm_config comb2 = alarm_config_default(ALARM_KIND_COMBUSTIBLE_L2);
    struct alarm_config tox1 = alarm_config_default(ALARM_KIND_TOXIC_L1);
    struct alarm_config tox2 = alarm_config_default(ALARM_KIND_TOXIC_L2);
    struct alarm_config fault = alarm_config_default(ALARM_KIND_INSTRUMENT_FAULT);
    struct alarm_config adv = alarm_config_default(ALARM_KIND_ADVISORY);
    struct alarm_config hh = alarm_config_default(ALARM_KIND_PROCESS_HH);

    (void)state;
    /* GB/T 50493: toxic before combustible at the same level. */
    assert_true(alarm_outranks(&tox1, &comb1));
    assert_false(alarm_outranks(&comb1, &tox1));
    assert_true(alarm_outranks(&tox2, &comb2));
    assert_false(alarm_outranks(&comb2, &tox2));
    /* Level 2 before level 1, whatever the gas. */
    assert_true(alarm_outranks(&comb2, &tox1));
    assert_false(alarm_outranks(&tox1, &comb2));
    assert_true(alarm_outranks(&comb2, &comb1));
    /* ... also when both were configured at the same priority. */
    {
        struct alarm_config c2 = cfg(ALARM_KIND_COMBUSTIBLE_L2, ALARM_P2);
        struct alarm_config t1 = cfg(ALARM_KIND_TOXIC_L1, ALARM_P2);

        assert_true(alarm_outranks(&c2, &t1));
        assert_false(alarm_outranks(&t1, &c2));
    }
    /* Priority comes first. */
    assert_true(alarm_outranks(&comb1, &fault));
    assert_true(alarm_outranks(&fault, &adv));
    assert_false(alarm_outranks(&adv, &fault));
    {
        struct alarm_config p1 = cfg(ALARM_KIND_PROCESS_H, ALARM_P1);

        assert_true(alarm_outranks(&p1, &tox1));
        /* Same priority, a gas level-2 alarm before a process alarm. */
        assert_true(alarm_outranks(&tox2, &p1));
        assert_false(alarm_outranks(&p1, &tox2));
    }
    /* Equal ranks: false both ways. */
    assert_false(alarm_outranks(&comb1, &comb1));
    {
        struct alarm_config roc = alarm_config_default(ALARM_KIND_RATE_OF_CHANGE);

        assert_false(alarm_outranks(&hh, &roc));
        assert_false(alarm_outranks(&roc, &hh));
    }
    /* An unknown priority ranks as P1, never below. */
    {
        struct alarm_config bad0 = cfg(ALARM_KIND_ADVISORY, 0);
        struct alarm_config bad9 = cfg(ALARM_KIND_ADVISORY, 9);
        struct alarm_config p1 = cfg(ALARM_KIND_ADVISORY, ALARM_P1);

        assert_true(alarm_outranks(&bad0, &hh));
        assert_true(alarm_outranks(&bad9, &hh));
        assert_false(alarm_outranks(&bad9, &p1));
        assert_false(alarm_outranks(&p1, &bad0));
        /* An unknown kind has no gas rank. */
        p1.kind = 200;
        assert_false(alarm_outranks(&p1, &bad0));
    }
}

/* A strict weak order, so that it can sort: irreflexive, asymmetric, transitive. */
static void test_ordering_is_a_strict_weak_order(void **state)
{
    struct alarm_config all[(ALARM_KIND_COUNT + 1) * 6];
    size_t n = 0;

    (void)state;
    for (unsigned k = 0; k <= ALARM_KIND_COUNT; k++)
        for (uint8_t p = 0; p <= 5; p++)
            all[n++] = cfg(k, p);
    for (size_t i = 0; i < n; i++) {
        assert_false(alarm_outranks(&all[i], &all[i]));
        for (size_t j = 0; j < n; j++) {
            bool ij = alarm_outranks(&all[i], &all[j]);

            if (ij && alarm_outranks(&all[j], &all[i]))
                fail_msg("%zu and %zu outrank each other", i, j);
            for (size_t k = 0; k < n; k++) {
                bool jk = alarm_outranks(&all[j], &all[k]);
                bool ik = alarm_outranks(&all[i], &all[k]);
                /* Incomparability must be transitive too. */
                bool inc_ij = !ij && !alarm_outranks(&all[j], &all[i]);
                bool inc_jk = !jk && !alarm_outranks(&all[k], &all[j]);
                bool inc_ik = !ik && !alarm_outranks(&all[k], &all[i]);

                if (ij && jk && !ik)
                    fail_msg("not transitive: %zu > %zu > %zu", i, j, k);
                if (inc_ij && inc_jk && !inc_ik)
                    fail_msg("incomparability not transitive: %zu, %zu, %zu", i, j, k);
            }
        }
    }
}

/* ---- first-out -------------------------------------------------------------------- */

static void test_first_out(void **state)
{
    struct alarm_area ar;

    (void)state;
    alarm_area_init(&ar);
    assert_false(ar.has_first);
    assert_int_equal(ar.active, 0);

    /* First activation in a quiet area is the first-out. */
    assert_true(alarm_area_activate(&ar, 7, 100));
    assert_true(ar.has_first);
    assert_int_equal(ar.first_out, 7);
    /* Later ones are not. */
    assert_false(alarm_area_activate(&ar, 8, 110));
    assert_false(alarm_area_activate(&ar, 9, 100)); /* same instant: the first stays */
    assert_int_equal(ar.first_out, 7);
    assert_int_equal(ar.active, 3);
    /* One seen late but stamped earlier was first in the plant. */
    assert_true(alarm_area_activate(&ar, 10, 95));
    assert_int_equal(ar.first_out, 10);
    assert_true(ar.first_ns == 95);

    /* The first-out stays while the series lasts, even after it clears itself. */
    alarm_area_deactivate(&ar);
    alarm_area_deactivate(&ar);
    alarm_area_deactivate(&ar);
    assert_int_equal(ar.first_out, 10);
    assert_false(alarm_area_activate(&ar, 11, 200));
    alarm_area_deactivate(&ar);
    alarm_area_deactivate(&ar);
    assert_int_equal(ar.active, 0);
    /* It is still on display after the area is quiet... */
    assert_int_equal(ar.first_out, 10);
    /* ...until a new series starts, even with an older time stamp. */
    assert_true(alarm_area_activate(&ar, 12, 50));
    assert_int_equal(ar.first_out, 12);
    /* A count never goes below zero. */
    alarm_area_deactivate(&ar);
    alarm_area_deactivate(&ar);
    assert_int_equal(ar.active, 0);
}

static void test_first_out_from_transitions(void **state)
{
    struct alarm_config c = alarm_config_default(ALARM_KIND_TOXIC_L1);
    struct alarm a[3];
    struct alarm_transition t;
    struct alarm_area ar;

    (void)state;
    alarm_area_init(&ar);
    for (int i = 0; i < 3; i++)
        alarm_init(&a[i], 0);

    /* Alarm 1 trips first, then 0 and 2: 1 is the first-out. */
    assert_int_equal(step(&a[1], &c, ALARM_EV_ALM, 10, &t), 0);
    assert_true(alarm_area_apply(&ar, 1, &t));
    a[1].first_out = true;
    assert_int_equal(step(&a[0], &c, ALARM_EV_ALM, 11, &t), 0);
    assert_false(alarm_area_apply(&ar, 0, &t));
    assert_int_equal(step(&a[2], &c, ALARM_EV_ALM, 12, &t), 0);
    assert_false(alarm_area_apply(&ar, 2, &t));
    assert_int_equal(ar.active, 3);

    /* Moves within the active list neither add nor remove. */
    assert_int_equal(step(&a[1], &c, ALARM_EV_ACK, 13, &t), 0);
    assert_false(alarm_area_apply(&ar, 1, &t));
    assert_int_equal(step(&a[1], &c, ALARM_EV_RTN, 14, &t), 0);
    assert_false(alarm_area_apply(&ar, 1, &t)); /* acked -> normal: off the list */
    assert_int_equal(ar.active, 2);
    assert_true(a[1].first_out); /* the step never touches the caller's slot */
    assert_int_equal(step(&a[0], &c, ALARM_EV_RTN, 15, &t), 0);
    assert_false(alarm_area_apply(&ar, 0, &t)); /* unack -> rtn_unack: still listed */
    assert_int_equal(ar.active, 2);

    /* Shelving takes an alarm off the list; the area clears. */
    assert_int_equal(step(&a[0], &c, ALARM_EV_ACK, 16, &t), 0);
    assert_false(alarm_area_apply(&ar, 0, &t));
    {
        struct alarm_cmd cmd = operator_cmd;

        cmd.shelve_ns = S_NS;
        assert_int_equal(alarm_step(&a[2], &c, ALARM_EV_SHELVE, &cmd, 17, &t), 0);
        assert_int_equal(t.to, ALARM_SHELVED);
        assert_false(alarm_area_apply(&ar, 2, &t));
    }
    assert_int_equal(ar.active, 0);
    assert_int_equal(ar.first_out, 1);

    /* The next alarm starts a new series. */
    assert_int_equal(step(&a[0], &c, ALARM_EV_ALM, 20, &t), 0);
    assert_true(alarm_area_apply(&ar, 0, &t));
    assert_int_equal(ar.first_out, 0);
    /* Off the list to off the list (normal to out of service) is neither. */
    assert_int_equal(step(&a[1], &c, ALARM_EV_OOS, 22, &t), 0);
    assert_false(alarm_area_apply(&ar, 1, &t));
    assert_int_equal(ar.active, 1);
    /* A no-change step is neither. */
    assert_int_equal(step(&a[0], &c, ALARM_EV_ALM, 21, &t), 1);
    assert_false(alarm_area_apply(&ar, 0, &t));
    assert_int_equal(ar.active, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_state_event_guard),
        cmocka_unit_test(test_the_19_rows),
        cmocka_unit_test(test_random_sequences),
        cmocka_unit_test(test_shelve_timer),
        cmocka_unit_test(test_stale_timer_cannot_cut_a_new_shelve),
        cmocka_unit_test(test_one_shot_shelve),
        cmocka_unit_test(test_shelve_limits),
        cmocka_unit_test(test_not_shelvable_by_default),
        cmocka_unit_test(test_latched_gas_alarm),
        cmocka_unit_test(test_realarm),
        cmocka_unit_test(test_authorisation),
        cmocka_unit_test(test_invalid_arguments),
        cmocka_unit_test(test_safe_state),
        cmocka_unit_test(test_inconsistent_but_visible_records),
        cmocka_unit_test(test_timestamps),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_priority_ordering),
        cmocka_unit_test(test_ordering_is_a_strict_weak_order),
        cmocka_unit_test(test_first_out),
        cmocka_unit_test(test_first_out_from_transitions),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
