/*
 * The poller against a misbehaving RTU line: one healthy unit among units that corrupt
 * the CRC, cut frames short, answer late, answer with an exception, answer as another
 * unit, send noise, or never answer, all on one real pty carrying real RTU frames.
 *
 * The poller must survive every case, give each unit's points the quality that names
 * what went wrong (never a number), quarantine the failing units, and keep polling the
 * healthy one at its configured rate.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "config.h"
#include "fx.h"
#include "log.h"
#include "msg.h"
#include "pgtime.h"
#include "poller.h"
#include "ring.h"

#define UNITS   8
#define POLL_MS 200

/*
 * The late unit is polled last in each round: its reply arrives after the master gave up
 * and lands in the next transaction, which on a real line is exactly what a late slave
 * does to its neighbour. Placed last, that neighbour is the next round's first poll.
 */
static const enum fx_mode unit_mode[UNITS + 1] = {
    [1] = FX_NORMAL,     [2] = FX_BAD_CRC, [3] = FX_TRUNCATE, [4] = FX_EXCEPTION,
    [5] = FX_WRONG_UNIT, [6] = FX_GARBAGE, [7] = FX_SILENT,   [8] = FX_LATE,
};

/* The quality that names each unit's fault. */
static const uint8_t unit_quality[UNITS + 1] = {
    [1] = MSG_Q_GOOD,      [2] = MSG_Q_BAD_FRAME, [3] = MSG_Q_TIMEOUT,
    [4] = MSG_Q_EXCEPTION, [5] = MSG_Q_BAD_FRAME, [6] = MSG_Q_BAD_FRAME,
    [7] = MSG_Q_TIMEOUT,   [8] = MSG_Q_TIMEOUT,
};

static struct config *rtu_config(const char *tty)
{
    char json[8192], err[CONFIG_ERR_LEN];
    struct config *cfg = NULL;
    size_t n;

    n = (size_t)snprintf(json, sizeof(json),
                         "{\"gateway\":{\"id\":\"t\",\"site\":\"t\"},"
                         "\"store\":{\"path\":\"/dev/null\"},"
                         "\"mqtt\":{\"uri\":\"tcp://127.0.0.1:1\"},"
                         "\"areas\":[{\"id\":\"a\"}],"
                         "\"buses\":[{\"id\":\"line\",\"type\":\"rtu\",\"device\":\"%s\","
                         "\"baud\":115200,\"parity\":\"none\",\"stop_bits\":2,"
                         "\"response_timeout_ms\":60,\"comm_loss_after_ms\":1000,"
                         "\"quarantine\":{\"failures\":3,\"backoff_min_ms\":2000,"
                         "\"backoff_max_ms\":4000}}],\"devices\":[",
                         tty);
    for (int u = 1; u <= UNITS; u++)
        n += (size_t)snprintf(
            json + n, sizeof(json) - n,
            "%s{\"id\":\"u%d\",\"bus\":\"line\",\"unit_id\":%d,"
            "\"poll_ms\":%d,\"points\":[{\"id\":\"u%d.v\",\"area\":\"a\","
            "\"address\":4}]}",
            u == 1 ? "" : ",", u, u, POLL_MS, u);
    n += (size_t)snprintf(json + n, sizeof(json) - n, "]}");
    assert_int_equal(config_parse("faults.json", json, n, &cfg, err, sizeof(err)), 0);
    return cfg;
}

static void every_fault_classified_and_healthy_unit_keeps_its_rate(void **state)
{
    struct fx_pty pty;
    struct fx_slave *fx;
    struct config *cfg;
    struct ring *samples = ring_new(sizeof(struct msg_sample), 4096);
    struct poller *p;
    struct msg_sample s;
    unsigned seen[UNITS + 1] = {0}; /* bit q: a sample of quality q arrived */
    uint8_t exc4 = 0;
    unsigned good[UNITS + 1] = {0}, good_window = 0, late_accepted = 0;
    int64_t start, window_from, end;
    struct poller_device_stats ds;

    (void)state;
    log_init("test_poller_faults", LOG_LEVEL_ERROR);
    assert_non_null(samples);
    assert_int_equal(fx_pty_open(&pty), 0);
    fx = fx_slave_rtu(pty.master);
    assert_non_null(fx);
    /*
     * 10 ms later than the 60 ms response timeout: within the quarter-timeout hold that
     * follows a timeout, so the straggler is dropped instead of poisoning the next unit.
     */
    fx_slave_set_late_ms(fx, 70);
    for (uint8_t u = 1; u <= UNITS; u++)
        fx_slave_set_mode(fx, u, unit_mode[u]);
    cfg = rtu_config(pty.path);
    p = poller_new(cfg, 0, samples);
    assert_non_null(p);
    assert_int_equal(poller_start(p), 0);

    /*
     * Quarantine settles within the first three rounds; the healthy unit's rate is then
     * measured over a window of its own polls.
     */
    start = pgtime_mono_ns();
    window_from = start + 2 * PGTIME_NS_PER_S;
    end = start + 6 * PGTIME_NS_PER_S;
    while (pgtime_mono_ns() < end) {
        struct timespec ts = {0, 5 * 1000 * 1000};

        while (ring_pop(samples, &s)) {
            unsigned u = s.point + 1; /* one point per unit, in unit order */

            assert_true(u >= 1 && u <= UNITS);
            if (s.quality == MSG_Q_GOOD && u == 8) {
                /*
                 * On a loaded host the master can be scheduled after the late reply
                 * arrived and take it as on time. That is the device's own value: what
                 * must never happen is a value credited to the wrong unit.
                 */
                assert_true(s.value == (double)FX_LATE_MARK);
                late_accepted++;
            } else if (s.quality == MSG_Q_GOOD) {
                /* Only the healthy unit may ever produce a number, and its own. */
                assert_int_equal(u, 1);
                assert_true(s.value == (double)fx_reg_value(1, 3, 4));
                good[u]++;
                if (s.mono_ns >= window_from)
                    good_window++;
            }
            seen[u] |= 1u << s.quality;
            if (u == 4 && s.quality == MSG_Q_EXCEPTION)
                exc4 = s.exc_code;
        }
        (void)nanosleep(&ts, NULL);
    }

    for (unsigned u = 2; u <= UNITS; u++) {
        print_message("unit %u: qualities seen 0x%03x, expected %s\n", u, seen[u],
                      msg_quality_name(unit_quality[u]));
        assert_true(seen[u] & (1u << unit_quality[u]));
        assert_int_equal(good[u], 0);
    }
    assert_int_equal(exc4, 2); /* illegal data address, carried with the sample */
    print_message("late replies taken as on time under load: %u\n", late_accepted);
    /* Past the 1 s deadline a unit that never answers is comm-loss. */
    assert_true(seen[7] & (1u << MSG_Q_COMM_LOSS));
    /* 4 s window at 200 ms: 20 polls; at least 90 % must have happened. */
    print_message("healthy unit: %u good samples in the 4 s window (20 due), %u in all, "
                  "qualities 0x%03x\n",
                  good_window, good[1], seen[1]);
    assert_true(good_window >= 18);

    for (size_t i = 0; i < poller_device_count(p); i++) {
        poller_device_stats(p, i, &ds);
        if (ds.device == 0) {
            assert_false(ds.quarantined);
        } else {
            assert_true(ds.quarantined);
            assert_true(ds.skipped > 0);
        }
    }
    poller_free(p);
    fx_slave_stop(fx);
    fx_pty_close(&pty);
    config_free(cfg);
    ring_free(samples);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_fault_classified_and_healthy_unit_keeps_its_rate),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
