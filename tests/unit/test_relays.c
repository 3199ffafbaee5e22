/*
 * Unit tests for relays: the sim backend end to end (a real file in a temporary
 * directory, words handed over through a real eventfd, each change waited for by
 * polling the file against a deadline), the once-a-second re-read without a wake-up,
 * a failed write retried, open errors, a config without outputs, and the GPIO backend
 * against the kernel's gpio-sim when configfs offers it (skipped otherwise).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "pgtime.h"
#include "relays.h"

/* Generous: a loaded CI host may be slow, and the re-read period alone is 1 s. */
#define DEADLINE_MS 10000

#define FMT(array, ...)                                                                  \
    assert_true((size_t)snprintf(array, sizeof(array), __VA_ARGS__) < sizeof(array))

struct fixture {
    char dir[64];
    char path[128];
    struct config cfg;
    _Atomic uint32_t word;
    atomic_uint reads; /* calls of read_word, counted after the load */
};

static uint32_t read_word(void *arg)
{
    struct fixture *f = arg;
    uint32_t word = atomic_load(&f->word);

    atomic_fetch_add(&f->reads, 1);
    return word;
}

static void add_output(struct config *cfg, const char *id, bool active_low)
{
    struct config_output *o = &cfg->outputs.out[cfg->outputs.n];

    snprintf(o->id, sizeof(o->id), "%s", id);
    o->role = CONFIG_OUTPUT_BEACON;
    o->priorities = 0x1e;
    o->all_areas = true;
    o->line = (uint32_t)cfg->outputs.n;
    o->active_low = active_low;
    cfg->outputs.n++;
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    FMT(f->dir, "/tmp/pg-relays-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    FMT(f->path, "%s/relays.log", f->dir);
    f->cfg.outputs.backend = CONFIG_OUTPUTS_SIM;
    snprintf(f->cfg.outputs.sim_path, sizeof(f->cfg.outputs.sim_path), "%s", f->path);
    add_output(&f->cfg, "beacon-1", false);
    add_output(&f->cfg, "siren-1", true);
    add_output(&f->cfg, "aux", false);
    atomic_init(&f->word, 0);
    atomic_init(&f->reads, 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    (void)unlink(f->path);
    (void)rmdir(f->dir);
    free(f);
    return 0;
}

/* ---- reading the sim file --------------------------------------------------------- */

struct lines {
    char *text;
    size_t n;
    char *line[64];
};

static void read_lines(const char *path, struct lines *l)
{
    FILE *fp = fopen(path, "r");
    size_t cap = 0, len = 0;
    char chunk[1024];
    size_t got;

    free(l->text);
    memset(l, 0, sizeof(*l));
    if (!fp)
        return;
    while ((got = fread(chunk, 1, sizeof(chunk), fp)) > 0) {
        if (len + got + 1 > cap) {
            cap = (len + got + 1) * 2;
            l->text = realloc(l->text, cap);
            assert_non_null(l->text);
        }
        memcpy(l->text + len, chunk, got);
        len += got;
    }
    fclose(fp);
    if (!l->text)
        return;
    l->text[len] = '\0';
    /* Only complete lines count: a reader must never act on half a line. */
    for (char *p = l->text, *nl; (nl = strchr(p, '\n')) != NULL && l->n < 64;
         p = nl + 1) {
        *nl = '\0';
        l->line[l->n++] = p;
    }
}

/* Waits, by polling the file against a deadline, until it has at least n lines. */
static void wait_lines(const char *path, size_t n, struct lines *l)
{
    int64_t deadline = pgtime_mono_ns() + DEADLINE_MS * PGTIME_NS_PER_MS;
    struct timespec nap = {.tv_sec = 0, .tv_nsec = 2 * 1000 * 1000};

    for (;;) {
        read_lines(path, l);
        if (l->n >= n)
            return;
        if (pgtime_mono_ns() > deadline)
            fail_msg("%s: %zu lines after %d ms, wanted %zu", path, l->n, DEADLINE_MS, n);
        (void)nanosleep(&nap, NULL);
    }
}

/* Checks one line: a plausible UTC timestamp, then exactly want. */
static void expect_line(const char *line, const char *want, int64_t *last_ms)
{
    char *end;
    long long ms = strtoll(line, &end, 10);

    if (end == line || *end != ' ' || ms < INT64_C(1600000000000))
        fail_msg("bad timestamp in \"%s\"", line);
    if (ms < *last_ms)
        fail_msg("timestamp went back in \"%s\"", line);
    *last_ms = ms;
    if (strcmp(end + 1, want) != 0)
        fail_msg("line \"%s\", wanted \"<ms> %s\"", line, want);
}

/*
 * The statistics follow a write, so a reader of the file can see a line a moment before
 * the counters that go with it: wait for them, against the same deadline.
 */
static void wait_changes(struct relays *r, uint64_t changes, struct relays_stats *st)
{
    int64_t deadline = pgtime_mono_ns() + DEADLINE_MS * PGTIME_NS_PER_MS;
    struct timespec nap = {.tv_sec = 0, .tv_nsec = 1000 * 1000};

    for (;;) {
        relays_stats(r, st);
        if (st->changes >= changes)
            return;
        if (pgtime_mono_ns() > deadline)
            fail_msg("%llu changes counted, wanted %llu", (unsigned long long)st->changes,
                     (unsigned long long)changes);
        (void)nanosleep(&nap, NULL);
    }
}

static void wake(int fd)
{
    uint64_t one = 1;

    assert_int_equal(write(fd, &one, sizeof(one)), (ssize_t)sizeof(one));
}

/* ---- the sim backend -------------------------------------------------------------- */

static void test_sim_end_to_end(void **state)
{
    struct fixture *f = *state;
    struct relays *r = NULL;
    struct relays_stats st;
    struct lines l = {0};
    char err[256] = "";
    int64_t last = 0;
    int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

    assert_true(efd >= 0);
    assert_int_equal(relays_open(&f->cfg, &r, err, sizeof(err)), 0);
    /* Opened all off; the active-low siren's line is high while it is off. */
    read_lines(f->path, &l);
    assert_int_equal(l.n, 1);
    expect_line(l.line[0], "open beacon-1=0/0 siren-1=0/1 aux=0/0", &last);

    assert_int_equal(relays_start(r, read_word, f, efd), 0);
    atomic_store(&f->word, 0x1);
    wake(efd);
    wait_lines(f->path, 2, &l);
    expect_line(l.line[1], "set beacon-1=1/1 siren-1=0/1 aux=0/0", &last);

    atomic_store(&f->word, 0x3);
    wake(efd);
    wait_lines(f->path, 3, &l);
    expect_line(l.line[2], "set beacon-1=1/1 siren-1=1/0 aux=0/0", &last);

    /*
     * A wake-up with the same word writes nothing: the next line is the next change.
     * Bits past the configured outputs are ignored.
     */
    wake(efd);
    atomic_store(&f->word, 0x2 | 0x80);
    wake(efd);
    wait_lines(f->path, 4, &l);
    assert_int_equal(l.n, 4);
    expect_line(l.line[3], "set beacon-1=0/0 siren-1=1/0 aux=0/0", &last);

    wait_changes(r, 3, &st);
    assert_int_equal(st.word, 0x2);
    assert_int_equal(st.changes, 3);
    assert_int_equal(st.errors, 0);

    /* Stop leaves the outputs as they are and says so, synchronously. */
    relays_stop(r);
    read_lines(f->path, &l);
    assert_int_equal(l.n, 5);
    expect_line(l.line[4], "stop beacon-1=0/0 siren-1=1/0 aux=0/0", &last);
    relays_close(r);
    read_lines(f->path, &l);
    assert_int_equal(l.n, 5);
    free(l.text);
    close(efd);
}

static void test_sim_reread_without_wake(void **state)
{
    struct fixture *f = *state;
    struct relays *r = NULL;
    struct lines l = {0};
    char err[256] = "";
    int64_t last = 0, t0, waited;

    assert_int_equal(relays_open(&f->cfg, &r, err, sizeof(err)), 0);
    assert_int_equal(relays_start(r, read_word, f, -1), 0);
    /*
     * Once the thread has read the word at start, nothing but its periodic re-read can
     * pick up a new one: there is no wake-up descriptor.
     */
    t0 = pgtime_mono_ns();
    while (atomic_load(&f->reads) == 0) {
        struct timespec nap = {.tv_sec = 0, .tv_nsec = 1000 * 1000};

        if (pgtime_mono_ns() - t0 > DEADLINE_MS * PGTIME_NS_PER_MS)
            fail_msg("the thread never read the word");
        (void)nanosleep(&nap, NULL);
    }
    t0 = pgtime_mono_ns();
    atomic_store(&f->word, 0x4);
    wait_lines(f->path, 2, &l);
    waited = (pgtime_mono_ns() - t0) / PGTIME_NS_PER_MS;
    print_message("picked up without a wake-up after %lld ms\n", (long long)waited);
    assert_true(waited >= RELAYS_REASSERT_MS / 2);
    expect_line(l.line[0], "open beacon-1=0/0 siren-1=0/1 aux=0/0", &last);
    expect_line(l.line[1], "set beacon-1=0/0 siren-1=0/1 aux=1/1", &last);
    relays_close(r);
    read_lines(f->path, &l);
    assert_int_equal(l.n, 3);
    expect_line(l.line[2], "stop beacon-1=0/0 siren-1=0/1 aux=1/1", &last);
    free(l.text);
}

/* A restart appends: the file keeps every run's history. */
static void test_sim_appends(void **state)
{
    struct fixture *f = *state;
    struct relays *r = NULL;
    struct lines l = {0};
    char err[256] = "";

    for (int run = 0; run < 2; run++) {
        assert_int_equal(relays_open(&f->cfg, &r, err, sizeof(err)), 0);
        relays_close(r);
    }
    read_lines(f->path, &l);
    assert_int_equal(l.n, 4);
    assert_non_null(strstr(l.line[2], " open "));
    assert_non_null(strstr(l.line[3], " stop "));
    free(l.text);
}

/*
 * A write that fails (here: the file size limit, standing in for a full disk) is counted
 * and retried by the periodic re-read until it succeeds; the word is never lost.
 */
static void test_sim_write_error_retried(void **state)
{
    struct fixture *f = *state;
    struct relays *r = NULL;
    struct relays_stats st;
    struct lines l = {0};
    struct rlimit old, tight;
    struct stat sb;
    char err[256] = "";
    int64_t last = 0, deadline;
    int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

    assert_true(efd >= 0);
    assert_int_equal(relays_open(&f->cfg, &r, err, sizeof(err)), 0);
    assert_int_equal(stat(f->path, &sb), 0);
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    (void)signal(SIGXFSZ, SIG_IGN);
    tight = old;
    tight.rlim_cur = (rlim_t)sb.st_size;
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &tight), 0);

    assert_int_equal(relays_start(r, read_word, f, efd), 0);
    atomic_store(&f->word, 0x5);
    wake(efd);
    deadline = pgtime_mono_ns() + DEADLINE_MS * PGTIME_NS_PER_MS;
    do {
        struct timespec nap = {.tv_sec = 0, .tv_nsec = 2 * 1000 * 1000};

        relays_stats(r, &st);
        if (pgtime_mono_ns() > deadline) {
            (void)setrlimit(RLIMIT_FSIZE, &old);
            fail_msg("no write error counted");
        }
        (void)nanosleep(&nap, NULL);
    } while (st.errors == 0);
    assert_int_equal(st.changes, 0);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);

    wait_lines(f->path, 2, &l);
    expect_line(l.line[0], "open beacon-1=0/0 siren-1=0/1 aux=0/0", &last);
    expect_line(l.line[1], "set beacon-1=1/1 siren-1=0/1 aux=1/1", &last);
    wait_changes(r, 1, &st);
    assert_int_equal(st.word, 0x5);
    assert_int_equal(st.changes, 1);
    print_message("%llu failed writes before the retry went through\n",
                  (unsigned long long)st.errors);
    relays_close(r);
    (void)signal(SIGXFSZ, SIG_DFL);
    free(l.text);
    close(efd);
}

static void test_sim_open_error(void **state)
{
    struct fixture *f = *state;
    struct relays *r = (struct relays *)(uintptr_t)1;
    char err[256] = "";
    int rc;

    FMT(f->cfg.outputs.sim_path, "%s/no-such-dir/relays.log", f->dir);
    rc = relays_open(&f->cfg, &r, err, sizeof(err));
    assert_int_equal(rc, -ENOENT);
    assert_null(r);
    assert_non_null(strstr(err, "no-such-dir/relays.log"));
    print_message("%s\n", err);
}

static void test_no_outputs(void **state)
{
    struct fixture *f = *state;
    struct relays *r = NULL;
    struct relays_stats st;
    char err[256] = "";

    f->cfg.outputs.n = 0;
    assert_int_equal(relays_open(&f->cfg, &r, err, sizeof(err)), 0);
    assert_non_null(r);
    assert_int_equal(relays_start(r, read_word, f, -1), 0);
    relays_stop(r);
    relays_stats(r, &st);
    assert_int_equal(st.word, 0);
    relays_close(r);
    relays_close(NULL);
    assert_int_equal(access(f->path, F_OK), -1);
}

/* ---- the gpio backend ------------------------------------------------------------- */

static void test_gpio_no_chip(void **state)
{
    struct fixture *f = *state;
    struct relays *r = NULL;
    char err[256] = "";
    int rc;

    f->cfg.outputs.backend = CONFIG_OUTPUTS_GPIO;
    for (size_t i = 0; i < f->cfg.outputs.n; i++)
        snprintf(f->cfg.outputs.out[i].chip, sizeof(f->cfg.outputs.out[i].chip), "%s",
                 "parkguard-no-such-chip");
    rc = relays_open(&f->cfg, &r, err, sizeof(err));
    assert_true(rc < 0);
    assert_null(r);
    assert_non_null(
        strstr(err, "beacon-1: cannot open GPIO chip \"parkguard-no-such-chip\""));
    print_message("%s (rc %d)\n", err, rc);
}

#define GPIO_SIM "/sys/kernel/config/gpio-sim"

struct gpiosim {
    char dev[128];  /* the configfs device directory */
    char bank[160]; /* its bank */
    char dev_name[64];
    char chip_name[64];
    bool live;
};

static int write_text(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    ssize_t n;

    if (fd < 0)
        return -errno;
    n = write(fd, text, strlen(text));
    close(fd);
    return n == (ssize_t)strlen(text) ? 0 : -EIO;
}

static int read_text(const char *path, char *buf, size_t size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n;

    if (fd < 0)
        return -errno;
    n = read(fd, buf, size - 1);
    close(fd);
    if (n <= 0)
        return -EIO;
    buf[n] = '\0';
    buf[strcspn(buf, "\n")] = '\0';
    return 0;
}

static void gpiosim_teardown(struct gpiosim *g)
{
    char path[256];

    if (g->live) {
        FMT(path, "%s/live", g->dev);
        (void)write_text(path, "0");
    }
    (void)rmdir(g->bank);
    (void)rmdir(g->dev);
}

/* A 4-line simulated chip (Documentation/admin-guide/gpio/gpio-sim.rst); false: none. */
static bool gpiosim_setup(struct gpiosim *g)
{
    char path[256];

    memset(g, 0, sizeof(*g));
    if (access(GPIO_SIM, W_OK) != 0)
        return false;
    FMT(g->dev, "%s/parkguard-test-%ld", GPIO_SIM, (long)getpid());
    FMT(g->bank, "%s/bank0", g->dev);
    if (mkdir(g->dev, 0755) != 0)
        return false;
    if (mkdir(g->bank, 0755) != 0)
        goto fail;
    FMT(path, "%s/num_lines", g->bank);
    if (write_text(path, "4") != 0)
        goto fail;
    FMT(path, "%s/live", g->dev);
    if (write_text(path, "1") != 0)
        goto fail;
    g->live = true;
    FMT(path, "%s/dev_name", g->dev);
    if (read_text(path, g->dev_name, sizeof(g->dev_name)) != 0)
        goto fail;
    FMT(path, "%s/chip_name", g->bank);
    if (read_text(path, g->chip_name, sizeof(g->chip_name)) != 0)
        goto fail;
    return true;
fail:
    gpiosim_teardown(g);
    return false;
}

/* The level the simulated line is driven to, or -1. */
static int gpiosim_value(const struct gpiosim *g, unsigned line)
{
    char path[256], buf[16];

    FMT(path, "/sys/devices/platform/%s/%s/sim_gpio%u/value", g->dev_name, g->chip_name,
        line);
    if (read_text(path, buf, sizeof(buf)) != 0)
        return -1;
    return atoi(buf);
}

static void gpiosim_wait(const struct gpiosim *g, unsigned line, int want)
{
    int64_t deadline = pgtime_mono_ns() + DEADLINE_MS * PGTIME_NS_PER_MS;
    struct timespec nap = {.tv_sec = 0, .tv_nsec = 2 * 1000 * 1000};
    int got;

    while ((got = gpiosim_value(g, line)) != want) {
        if (pgtime_mono_ns() > deadline)
            fail_msg("gpio-sim line %u: level %d, wanted %d", line, got, want);
        (void)nanosleep(&nap, NULL);
    }
}

static void test_gpio_sim(void **state)
{
    struct fixture *f = *state;
    struct relays *r = NULL;
    struct relays_stats st;
    struct gpiosim g;
    char err[256] = "";
    int efd;

    if (!gpiosim_setup(&g)) {
        print_message("no writable " GPIO_SIM " (needs root and the gpio-sim module)\n");
        skip();
    }
    f->cfg.outputs.backend = CONFIG_OUTPUTS_GPIO;
    for (size_t i = 0; i < f->cfg.outputs.n; i++)
        snprintf(f->cfg.outputs.out[i].chip, sizeof(f->cfg.outputs.out[i].chip), "%s",
                 g.chip_name);
    efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    assert_true(efd >= 0);
    if (relays_open(&f->cfg, &r, err, sizeof(err)) != 0) {
        gpiosim_teardown(&g);
        fail_msg("%s", err);
    }
    /* All off: the active-low line (1) is high. */
    assert_int_equal(gpiosim_value(&g, 0), 0);
    assert_int_equal(gpiosim_value(&g, 1), 1);
    assert_int_equal(gpiosim_value(&g, 2), 0);
    assert_int_equal(relays_start(r, read_word, f, efd), 0);
    atomic_store(&f->word, 0x3);
    wake(efd);
    gpiosim_wait(&g, 0, 1);
    gpiosim_wait(&g, 1, 0);
    assert_int_equal(gpiosim_value(&g, 2), 0);
    relays_stop(r);
    relays_stats(r, &st);
    assert_int_equal(st.word, 0x3);
    assert_int_equal(st.errors, 0);
    /* Stopped, the lines are still held as they were. */
    assert_int_equal(gpiosim_value(&g, 0), 1);
    assert_int_equal(gpiosim_value(&g, 1), 0);
    relays_close(r);
    close(efd);
    gpiosim_teardown(&g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_sim_end_to_end, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sim_reread_without_wake, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sim_appends, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sim_write_error_retried, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sim_open_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_outputs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gpio_no_chip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gpio_sim, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
