/*
 * relays: the thread that drives the board's relay outputs from the relay word.
 *
 * The real-time loop computes the word (outputs.h) and must never block on hardware, so
 * it only publishes the word where read_word() can fetch it and writes the eventfd
 * wake_fd. This thread owns the outputs: it waits on wake_fd, reads the word and drives
 * what changed. It also wakes once a second without being asked, re-reads the word and
 * writes every GPIO line again, so that a lost wake-up or a line disturbed behind our
 * back is corrected within a second.
 *
 * Two backends, chosen by cfg->outputs.backend:
 *
 *  - gpio: the Linux GPIO character device through libgpiod 1.6. Each output is a line
 *    requested for output with the consumer name "parkguard". active_low is applied here
 *    (level = on XOR active_low), so bit i of the word always means "relay i energised".
 *  - sim: a text file, opened for appending, that stands in for the lines in tests and
 *    demos. One line is written, with a single write(2) and no fsync, per event:
 *
 *        <utc_ms> <event> <id>=<on>/<level> <id>=<on>/<level> ...
 *
 *    event is "open" (all off, written by relays_open), "set" (the word changed) or
 *    "stop" (written by relays_stop, the state the outputs are left in); every output is
 *    listed in config order with its logical state (1 = energised) and the physical
 *    level the GPIO line would carry after active_low.
 *
 * Start and stop (docs/outputs.md): relays_open drives every output off, because nothing
 * is known yet; the real-time loop's first word, computed from the restored alarms,
 * turns back on within one cycle what should be on. relays_stop and relays_close leave
 * the outputs as they are: a daemon that is restarted or stopped must not cut a sounding
 * siren or a lit beacon without anyone deciding so. After relays_close the lines are
 * released and their level is up to the GPIO driver; most keep it, none promises to.
 *
 * This is an I/O module: it logs output errors (once per streak, and when they stop) and
 * counts them; it never stops the daemon.
 */
#ifndef PG_RELAYS_H
#define PG_RELAYS_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"

/* How often the thread re-reads the word and re-writes the lines without a wake-up. */
#define RELAYS_REASSERT_MS 1000

struct relays;

/*
 * Open the outputs of cfg (borrowed; it must outlive the handle) and drive them all
 * off. With cfg->outputs.n == 0 this succeeds with a handle that does nothing, so that
 * callers need no special case. Returns 0 and stores the handle in *out, or a negative
 * errno with one line of text in err: -ENOENT (no such chip or sim_path directory),
 * -EINVAL (no such line on the chip), -EBUSY (the line is held by another consumer),
 * -EACCES, -EIO, -ENOMEM.
 */
int relays_open(const struct config *cfg, struct relays **out, char *err, size_t err_len);

/*
 * Start the thread. read_word(arg) is called on that thread and must be safe to call
 * concurrently with whoever computes the word (an atomic load); bits past the
 * configured outputs are ignored. wake_fd is an eventfd the caller writes after the
 * word changed; it should be non-blocking, and -1 means no wake-ups (the word is then
 * re-read once a second). Returns 0 or a negative errno from pthread_create().
 */
int relays_start(struct relays *r, uint32_t (*read_word)(void *arg), void *arg,
                 int wake_fd);

/*
 * Stop and join the thread, leaving every output as it is (see above), and record the
 * final state in the sim file. Safe to call when the thread never started.
 */
void relays_stop(struct relays *r);

/* Release the lines or the file without driving them; relays_close(NULL) does nothing.
 * Calls relays_stop() first if needed. */
void relays_close(struct relays *r);

struct relays_stats {
    uint32_t word;    /* the logical word last applied */
    uint64_t changes; /* words applied because they differed from the last one */
    uint64_t errors;  /* failed line writes or sim writes (each retried) */
};

/* A snapshot, safe to take from any thread while the relays thread runs. */
void relays_stats(struct relays *r, struct relays_stats *out);

#endif
