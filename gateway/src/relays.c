/*
 * relays: GPIO or simulated relay outputs, driven from the relay word by one thread.
 * See relays.h for the contract and docs/outputs.md for the wiring.
 */
#include "relays.h"

#include <gpiod.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "log.h"
#include "pgtime.h"

/* What the kernel shows as the owner of our lines (gpioinfo). */
#define RELAYS_CONSUMER "parkguard"

/* One sim line: a timestamp, an event and every output as "id=o/l". */
#define SIM_LINE_MAX (32 + CONFIG_MAX_OUTPUTS * (CONFIG_ID_LEN + 6))

struct relays {
    const struct config *cfg;
    size_t n;
    uint32_t all; /* the configured outputs as a mask */
    uint8_t backend;

    /* gpio: one handle per distinct chip string, one requested line per output. */
    size_t n_chips;
    struct gpiod_chip *chips[CONFIG_MAX_OUTPUTS];
    struct gpiod_line *lines[CONFIG_MAX_OUTPUTS];

    /* sim */
    int sim_fd;
    bool stop_recorded;

    uint32_t (*read_word)(void *arg);
    void *arg;
    int wake_fd;
    int stop_fd; /* eventfd: readable once stop is requested */
    pthread_t thread;
    bool started;
    atomic_bool stop;

    /* Owned by the thread while it runs, by the caller otherwise. */
    uint32_t applied; /* the logical word the outputs are known to show */
    bool failing;     /* inside a streak of write errors, which is logged once */
    uint64_t streak;

    _Atomic uint32_t word;
    _Atomic uint64_t changes, errors;
};

static int level(const struct config_output *o, bool on)
{
    return (on ? 1 : 0) ^ (o->active_low ? 1 : 0);
}

static void set_err(char *err, size_t err_len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t err_len, const char *fmt, ...)
{
    va_list ap;

    if (!err || err_len == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, err_len, fmt, ap);
    va_end(ap);
}

/* ---- sim backend ------------------------------------------------------------------ */

/*
 * One line per event, in one write(2) with O_APPEND, so that a reader polling the file
 * never sees half a line from us and a crash loses at most the line being written. No
 * fsync: the file is a test and demo device, not a record.
 */
static int sim_write(struct relays *r, const char *event, uint32_t word)
{
    char line[SIM_LINE_MAX];
    size_t len, off = 0;
    int n;

    n = snprintf(line, sizeof(line), "%" PRId64 " %s", pgtime_utc_ms(), event);
    len = n > 0 ? (size_t)n : 0;
    for (size_t i = 0; i < r->n && len < sizeof(line); i++) {
        const struct config_output *o = &r->cfg->outputs.out[i];
        bool on = word >> i & 1u;

        n = snprintf(line + len, sizeof(line) - len, " %s=%d/%d", o->id, on ? 1 : 0,
                     level(o, on));
        len += n > 0 ? (size_t)n : 0;
    }
    if (len >= sizeof(line) - 1)
        len = sizeof(line) - 2;
    line[len++] = '\n';

    while (off < len) {
        ssize_t w = write(r->sim_fd, line + off, len - off);

        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -errno;
        off += (size_t)w;
    }
    return 0;
}

static int sim_open(struct relays *r, char *err, size_t err_len)
{
    const char *path = r->cfg->outputs.sim_path;
    int rc;

    r->sim_fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (r->sim_fd < 0) {
        rc = -errno;
        set_err(err, err_len, "outputs: cannot open %s: %s", path, strerror(-rc));
        return rc;
    }
    rc = sim_write(r, "open", 0);
    if (rc)
        set_err(err, err_len, "outputs: cannot write %s: %s", path, strerror(-rc));
    return rc;
}

/* ---- gpio backend ----------------------------------------------------------------- */

/* Outputs that name their chip the same way share one handle. */
static struct gpiod_chip *gpio_chip(struct relays *r, size_t i)
{
    const char *name = r->cfg->outputs.out[i].chip;
    struct gpiod_chip *chip;

    for (size_t k = 0; k < i; k++) {
        if (strcmp(r->cfg->outputs.out[k].chip, name) == 0)
            return gpiod_line_get_chip(r->lines[k]);
    }
    chip = gpiod_chip_open_lookup(name);
    if (chip)
        r->chips[r->n_chips++] = chip;
    return chip;
}

static int gpio_open(struct relays *r, char *err, size_t err_len)
{
    for (size_t i = 0; i < r->n; i++) {
        const struct config_output *o = &r->cfg->outputs.out[i];
        struct gpiod_chip *chip = gpio_chip(r, i);
        int rc;

        if (!chip) {
            rc = errno ? -errno : -ENODEV;
            set_err(err, err_len, "outputs: %s: cannot open GPIO chip \"%s\": %s", o->id,
                    o->chip, strerror(-rc));
            return rc;
        }
        r->lines[i] = gpiod_chip_get_line(chip, o->line);
        if (!r->lines[i]) {
            rc = errno ? -errno : -EINVAL;
            set_err(err, err_len,
                    "outputs: %s: no line %" PRIu32 " on GPIO chip \"%s\": %s", o->id,
                    o->line, o->chip, strerror(-rc));
            return rc;
        }
        /* Requested at the off level, so that the line never shows a stale "on". */
        if (gpiod_line_request_output(r->lines[i], RELAYS_CONSUMER, level(o, false)) <
            0) {
            rc = errno ? -errno : -EIO;
            r->lines[i] = NULL;
            set_err(err, err_len,
                    "outputs: %s: cannot request line %" PRIu32 " of \"%s\": %s", o->id,
                    o->line, o->chip, strerror(-rc));
            return rc;
        }
    }
    return 0;
}

/* ---- applying the word ------------------------------------------------------------ */

static void write_failed(struct relays *r, const char *what, int rc)
{
    atomic_fetch_add(&r->errors, 1);
    r->streak++;
    if (r->failing)
        return;
    r->failing = true;
    log_warn("outputs: %s: %s; retrying every %d ms", what, strerror(-rc),
             RELAYS_REASSERT_MS);
}

static void write_succeeded(struct relays *r)
{
    if (!r->failing)
        return;
    log_info("outputs: written again after %" PRIu64 " failed attempts", r->streak);
    r->failing = false;
    r->streak = 0;
}

/*
 * Drives word onto the outputs: on a change only what changed, on reassert every GPIO
 * line. A failed write leaves the bit of r->applied as it was, so the next pass (at the
 * latest a reassert) tries again.
 */
static void apply(struct relays *r, uint32_t word, bool reassert)
{
    uint32_t before = r->applied;
    bool ok = true;

    if (r->backend == CONFIG_OUTPUTS_SIM) {
        int rc;

        if (word == r->applied)
            return;
        rc = sim_write(r, "set", word);
        if (rc) {
            write_failed(r, r->cfg->outputs.sim_path, rc);
            return;
        }
        r->applied = word;
    } else {
        if (word == r->applied && !reassert)
            return;
        for (size_t i = 0; i < r->n; i++) {
            const struct config_output *o = &r->cfg->outputs.out[i];
            uint32_t bit = UINT32_C(1) << i;
            bool on = (word & bit) != 0;

            if (!reassert && !((word ^ r->applied) & bit))
                continue;
            if (gpiod_line_set_value(r->lines[i], level(o, on)) < 0) {
                write_failed(r, o->id, errno ? -errno : -EIO);
                ok = false;
                continue;
            }
            r->applied = (r->applied & ~bit) | (word & bit);
        }
    }
    if (ok)
        write_succeeded(r);
    if (r->applied != before)
        atomic_fetch_add(&r->changes, 1);
    atomic_store(&r->word, r->applied);
}

static void drain(int fd)
{
    uint64_t count;

    while (read(fd, &count, sizeof(count)) < 0 && errno == EINTR)
        ;
}

static void *relays_main(void *arg)
{
    struct relays *r = arg;
    struct pollfd pfd[2] = {
        {.fd = r->stop_fd, .events = POLLIN},
        {.fd = r->wake_fd, .events = POLLIN},
    };
    bool reassert = false;

    for (;;) {
        int n;

        apply(r, r->read_word(r->arg) & r->all, reassert);
        n = poll(pfd, 2, RELAYS_REASSERT_MS);
        if (atomic_load(&r->stop))
            break;
        reassert = n == 0;
        if (n > 0 && (pfd[1].revents & POLLIN))
            drain(pfd[1].fd);
        /*
         * A wake fd that was closed or broke would make poll() return at once forever;
         * fall back to the once-a-second re-read rather than spin.
         */
        if (n > 0 && (pfd[1].revents & (POLLERR | POLLHUP | POLLNVAL))) {
            log_warn("outputs: wake-up descriptor %d failed; reading the relay word "
                     "every %d ms instead",
                     pfd[1].fd, RELAYS_REASSERT_MS);
            pfd[1].fd = -1;
        }
    }
    return NULL;
}

/* ---- entry points ----------------------------------------------------------------- */

int relays_open(const struct config *cfg, struct relays **out, char *err, size_t err_len)
{
    struct relays *r;
    int rc = 0;

    *out = NULL;
    r = calloc(1, sizeof(*r));
    if (!r) {
        set_err(err, err_len, "outputs: out of memory");
        return -ENOMEM;
    }
    r->cfg = cfg;
    r->n = cfg->outputs.n < CONFIG_MAX_OUTPUTS ? cfg->outputs.n : CONFIG_MAX_OUTPUTS;
    r->all = r->n >= 32 ? UINT32_MAX : (UINT32_C(1) << r->n) - 1;
    r->backend = cfg->outputs.backend;
    r->sim_fd = -1;
    r->wake_fd = -1;
    atomic_init(&r->stop, false);
    atomic_init(&r->word, 0);
    atomic_init(&r->changes, 0);
    atomic_init(&r->errors, 0);

    r->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (r->stop_fd < 0) {
        rc = -errno;
        set_err(err, err_len, "outputs: eventfd: %s", strerror(-rc));
        goto fail;
    }
    if (r->n == 0)
        goto done;
    errno = 0;
    if (r->backend == CONFIG_OUTPUTS_SIM)
        rc = sim_open(r, err, err_len);
    else
        rc = gpio_open(r, err, err_len);
    if (rc)
        goto fail;
done:
    *out = r;
    return 0;
fail:
    r->stop_recorded = true; /* an output that never opened has no final state */
    relays_close(r);
    return rc;
}

int relays_start(struct relays *r, uint32_t (*read_word)(void *arg), void *arg,
                 int wake_fd)
{
    pthread_attr_t attr;
    int rc;

    if (r->started)
        return -EALREADY;
    if (r->n == 0)
        return 0;
    r->read_word = read_word;
    r->arg = arg;
    r->wake_fd = wake_fd;
    atomic_store(&r->stop, false);
    (void)pthread_attr_init(&attr);
    (void)pthread_attr_setstacksize(&attr, 128 * 1024);
    rc = pthread_create(&r->thread, &attr, relays_main, r);
    (void)pthread_attr_destroy(&attr);
    if (rc != 0)
        return -rc;
    r->started = true;
    return 0;
}

void relays_stop(struct relays *r)
{
    uint64_t one = 1;
    int rc;

    if (r->started) {
        atomic_store(&r->stop, true);
        (void)!write(r->stop_fd, &one, sizeof(one));
        (void)pthread_join(r->thread, NULL);
        r->started = false;
    }
    /* The last word on what the outputs were left showing, for whoever reads the file. */
    if (r->sim_fd >= 0 && !r->stop_recorded) {
        rc = sim_write(r, "stop", r->applied);
        if (rc)
            log_warn("outputs: %s: %s", r->cfg->outputs.sim_path, strerror(-rc));
        r->stop_recorded = true;
    }
}

void relays_close(struct relays *r)
{
    if (!r)
        return;
    relays_stop(r);
    /*
     * Closing a chip releases its requested lines without driving them: the outputs keep
     * what relays_stop() left them with, for as long as the GPIO driver keeps a released
     * line's level.
     */
    for (size_t k = 0; k < r->n_chips; k++)
        gpiod_chip_close(r->chips[k]);
    if (r->sim_fd >= 0)
        close(r->sim_fd);
    if (r->stop_fd >= 0)
        close(r->stop_fd);
    free(r);
}

void relays_stats(struct relays *r, struct relays_stats *out)
{
    out->word = atomic_load(&r->word);
    out->changes = atomic_load(&r->changes);
    out->errors = atomic_load(&r->errors);
}
