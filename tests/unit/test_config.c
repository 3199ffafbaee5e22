/*
 * Unit tests for config: the malformed corpus in data/bad, the valid configs in data/good
 * and config/demo.json, and in-memory cases for what a file cannot easily express.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "config.h"

#define DATA_DIR   PG_TEST_DATA
#define CONFIG_DIR PG_TEST_DATA "/../../../config"
/* The first demo config: two Modbus TCP buses with inline registers, kept as a fixture.
 */
#define DEMO         DATA_DIR "/good/04-tcp-inline-demo.json"
#define PROFILES_DIR PG_TEST_DATA "/../../../hw/profiles"

/* The corpus must not shrink unnoticed: fewer cases than this fails the test. */
#define MIN_BAD_CASES 35

/* A valid config, small enough to edit by string concatenation in the tests below. */
#define MINIMAL_HEAD                                                                     \
    "{\"gateway\": {\"id\": \"gw\", \"site\": \"s\"},\n"                                 \
    "\"store\": {\"path\": \"x.db\"},\n"                                                 \
    "\"mqtt\": {\"uri\": \"tcp://localhost:1883\"},\n"                                   \
    "\"areas\": [{\"id\": \"a\"}],\n"                                                    \
    "\"buses\": [{\"id\": \"b\", \"type\": \"tcp\", \"host\": \"h\", \"port\": 502}],\n"
#define MINIMAL_DEVICES                                                                  \
    "\"devices\": [{\"id\": \"d\", \"bus\": \"b\", \"unit_id\": 1, \"poll_ms\": 100,\n"  \
    "  \"points\": [{\"id\": \"p\", \"area\": \"a\", \"address\": 3}]}]"
#define MINIMAL MINIMAL_HEAD MINIMAL_DEVICES "}\n"

/* ---- helpers ---------------------------------------------------------------------- */

/* snprintf into an array, failing the test rather than truncating a path. */
#define FMT(array, ...)                                                                  \
    assert_true((size_t)snprintf(array, sizeof(array), __VA_ARGS__) < sizeof(array))

struct buf {
    char *data;
    size_t len, cap;
};

static void buf_printf(struct buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void buf_printf(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    assert_true(n >= 0);
    if (b->len + (size_t)n + 1 > b->cap) {
        b->cap = (b->len + (size_t)n + 1) * 2;
        b->data = realloc(b->data, b->cap);
        assert_non_null(b->data);
    }
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

static char *read_text(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    struct buf b = {0};
    char chunk[4096];
    size_t n;

    if (!f)
        return NULL;
    buf_printf(&b, "%s", "");
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        if (b.len + n + 1 > b.cap) {
            b.cap = (b.len + n + 1) * 2;
            b.data = realloc(b.data, b.cap);
            assert_non_null(b.data);
        }
        memcpy(b.data + b.len, chunk, n);
        b.len += n;
        b.data[b.len] = '\0';
    }
    fclose(f);
    if (len)
        *len = b.len;
    return b.data;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The sorted names of the .json files in dir. */
static char **list_json(const char *dir, size_t *n)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char **names = NULL;

    *n = 0;
    if (!d)
        fail_msg("cannot open %s: %s", dir, strerror(errno));
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);

        if (len <= 5 || strcmp(e->d_name + len - 5, ".json") != 0)
            continue;
        names = realloc(names, (*n + 1) * sizeof(*names));
        assert_non_null(names);
        names[*n] = strdup(e->d_name);
        assert_non_null(names[*n]);
        (*n)++;
    }
    closedir(d);
    if (names)
        qsort(names, *n, sizeof(*names), by_name);
    return names;
}

static void free_names(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

/* Parses text from memory and expects failure with a message containing expect. */
static void expect_parse_error(const char *text, const char *expect)
{
    struct config *cfg = NULL;
    char err[CONFIG_ERR_LEN] = "";
    int rc = config_parse("mem.json", text, strlen(text), &cfg, err, sizeof(err));

    if (rc != -EINVAL || cfg != NULL || strstr(err, expect) == NULL)
        fail_msg("rc %d, message \"%s\", wanted \"%s\"", rc, err, expect);
    assert_int_equal(strncmp(err, "mem.json: ", 10), 0);
}

static struct config *parse_ok(const char *text)
{
    struct config *cfg = NULL;
    char err[CONFIG_ERR_LEN] = "";
    int rc = config_parse("mem.json", text, strlen(text), &cfg, err, sizeof(err));

    if (rc != 0)
        fail_msg("rc %d: %s", rc, err);
    assert_non_null(cfg);
    return cfg;
}

/* ---- the corpora ------------------------------------------------------------------ */

/* Checks one bad case; returns whether it passed, printing why not. */
static bool check_bad_case(const char *name)
{
    char path[1024], expect_path[1024], err[CONFIG_ERR_LEN] = "",
                                        err2[CONFIG_ERR_LEN] = "";
    char prefix[300];
    struct config *sentinel = (struct config *)(uintptr_t)1;
    struct config *cfg = sentinel, *cfg2 = sentinel;
    char *expect, *text, *nl;
    size_t len = 0;
    bool ok = true;
    int rc, rc2;

    FMT(path, "%s/bad/%s", DATA_DIR, name);
    FMT(expect_path, "%.*s.expect", (int)(strlen(path) - 5), path);
    expect = read_text(expect_path, NULL);
    if (!expect) {
        print_message("FAIL %s: no sidecar %s\n", name, expect_path);
        return false;
    }
    nl = strpbrk(expect, "\r\n");
    if (nl)
        *nl = '\0';
    if (expect[0] == '\0') {
        print_message("FAIL %s: empty .expect\n", name);
        free(expect);
        return false;
    }

    rc = config_load(path, &cfg, err, sizeof(err));
    /*
     * The message names the file at fault: the config, or for a broken profile the
     * profile's file, which the .expect then starts with.
     */
    FMT(prefix, "%s: ", name);
    if (strstr(expect, ".json: ") != NULL &&
        strstr(expect, ".json: ") < strchr(expect, ' '))
        FMT(prefix, "%.*s", (int)(strstr(expect, ".json: ") - expect + 7), expect);
    if (rc != -EINVAL || cfg != NULL) {
        print_message("FAIL %s: rc %d, out %p (%s)\n", name, rc, (void *)cfg, err);
        ok = false;
    } else if (strncmp(err, prefix, strlen(prefix)) != 0 || strchr(err, '\n')) {
        print_message("FAIL %s: malformed message \"%s\"\n", name, err);
        ok = false;
    } else if (!strstr(err, expect)) {
        print_message("FAIL %s:\n  got    \"%s\"\n  wanted \"%s\"\n", name, err, expect);
        ok = false;
    }

    /*
     * The in-memory entry point must say exactly the same. It is given the path, as the
     * directory that relative profile directories are resolved from.
     */
    text = read_text(path, &len);
    assert_non_null(text);
    rc2 = config_parse(path, text, len, &cfg2, err2, sizeof(err2));
    if (ok && (rc2 != rc || cfg2 != NULL || strcmp(err, err2) != 0)) {
        print_message("FAIL %s: config_parse said %d \"%s\"\n", name, rc2, err2);
        ok = false;
    }
    free(text);
    free(expect);
    return ok;
}

static void test_bad_corpus(void **state)
{
    char dir[1024], path[1024];
    size_t n, failed = 0;
    char **names;
    DIR *d;
    struct dirent *e;

    (void)state;
    FMT(dir, "%s/bad", DATA_DIR);
    names = list_json(dir, &n);
    for (size_t i = 0; i < n; i++) {
        if (!check_bad_case(names[i]))
            failed++;
    }

    /* An .expect without its .json would be a case silently not run. */
    d = opendir(dir);
    assert_non_null(d);
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);

        if (len > 7 && strcmp(e->d_name + len - 7, ".expect") == 0) {
            FMT(path, "%s/%.*s.json", dir, (int)(len - 7), e->d_name);
            if (access(path, R_OK) != 0) {
                print_message("FAIL %s: no matching .json\n", e->d_name);
                failed++;
            }
        }
    }
    closedir(d);

    print_message("%zu bad configs, %zu failed\n", n, failed);
    free_names(names, n);
    assert_int_equal(failed, 0);
    assert_true(n >= MIN_BAD_CASES);
}

static void test_good_corpus(void **state)
{
    char dir[1024], path[1024], err[CONFIG_ERR_LEN];
    size_t n;
    char **names;

    (void)state;
    FMT(dir, "%s/good", DATA_DIR);
    names = list_json(dir, &n);
    assert_true(n >= 1);
    for (size_t i = 0; i < n; i++) {
        struct config *cfg = NULL;
        int rc;

        FMT(path, "%s/%s", dir, names[i]);
        err[0] = '\0';
        rc = config_load(path, &cfg, err, sizeof(err));
        if (rc != 0)
            fail_msg("%s: rc %d: %s", names[i], rc, err);
        assert_non_null(cfg);
        assert_string_equal(cfg->path, path);
        config_free(cfg);
    }
    free_names(names, n);
}

/* ---- valid configs in detail ------------------------------------------------------ */

static void test_demo(void **state)
{
    struct config *cfg = NULL;
    char err[CONFIG_ERR_LEN] = "";
    const struct config_point *pt;
    const struct config_device *dev;

    (void)state;
    if (config_load(DEMO, &cfg, err, sizeof(err)) != 0)
        fail_msg("%s", err);
    assert_string_equal(cfg->path, DEMO);
    assert_string_equal(cfg->gateway.id, "demo-gw-01");
    assert_string_equal(cfg->gateway.site, "vanadium-titanium");
    assert_int_equal(cfg->rt.period_ms, 10);
    assert_int_equal(cfg->rt.priority, 49);
    assert_int_equal(cfg->rt.cpu, -1);
    assert_string_equal(cfg->store.path, "parkguard-demo.db");
    assert_string_equal(cfg->mqtt.uri, "tcp://127.0.0.1:1883");
    assert_string_equal(cfg->mqtt.client_id, "demo-gw-01");
    assert_string_equal(cfg->mqtt.topic_prefix, "parkguard/vanadium-titanium/demo-gw-01");
    assert_int_equal(cfg->mqtt.keepalive_s, 30);
    assert_int_equal(cfg->mqtt.connect_timeout_s, 10);

    assert_int_equal(cfg->n_areas, 2);
    assert_string_equal(cfg->areas[1].id, "vt-tankfarm-b");
    assert_string_equal(cfg->areas[1].name, "Tank farm B (ammonia and LPG)");

    assert_int_equal(cfg->n_buses, 2);
    assert_string_equal(cfg->buses[1].id, "field-tcp-b");
    assert_int_equal(cfg->buses[1].kind, CONFIG_BUS_TCP);
    assert_string_equal(cfg->buses[1].host, "127.0.0.1");
    assert_int_equal(cfg->buses[1].port, 1503);
    assert_int_equal(cfg->buses[1].connect_timeout_ms, 2000);
    assert_int_equal(cfg->buses[1].response_timeout_ms, 500);
    assert_int_equal(cfg->buses[1].reconnect_max_ms, 10000);

    assert_int_equal(cfg->n_devices, 4);
    assert_int_equal(cfg->n_points, 5);
    for (size_t i = 0; i < cfg->n_devices; i++) {
        dev = &cfg->devices[i];
        assert_int_equal(dev->first_point, i);
        assert_int_equal(dev->n_points, i == 3 ? 2 : 1);
        for (size_t j = 0; j < dev->n_points; j++)
            assert_int_equal(cfg->points[dev->first_point + j].device, i);
    }
    dev = &cfg->devices[1];
    assert_string_equal(dev->id, "gd-302");
    assert_int_equal(dev->bus, 0);
    assert_int_equal(dev->unit_id, 2);
    assert_int_equal(dev->poll_ms, 250);
    dev = &cfg->devices[3];
    assert_string_equal(dev->id, "pt-b12");
    assert_int_equal(dev->bus, 1);
    assert_int_equal(dev->unit_id, 2);
    assert_int_equal(dev->poll_ms, 500);

    pt = &cfg->points[0];
    assert_string_equal(pt->id, "gd-301.ch4");
    assert_int_equal(pt->device, 0);
    assert_int_equal(pt->area, 0);
    assert_int_equal(pt->table, CONFIG_TABLE_HOLDING);
    assert_int_equal(pt->address, 0);
    assert_int_equal(pt->codec.type, CODEC_UINT16);
    assert_float_equal(pt->codec.scale, 0.1, 1e-12);
    assert_float_equal(pt->codec.offset, 0.0, 0.0);
    assert_string_equal(pt->unit, "%LEL");
    assert_true(pt->high.enabled);
    assert_float_equal(pt->high.setpoint, 25.0, 0.0);
    assert_float_equal(pt->high.deadband, 2.0, 0.0);

    pt = &cfg->points[4];
    assert_string_equal(pt->id, "pt-b12.temp");
    assert_int_equal(pt->device, 3);
    assert_int_equal(pt->area, 1);
    assert_int_equal(pt->table, CONFIG_TABLE_INPUT);
    assert_int_equal(pt->address, 1);
    assert_int_equal(pt->codec.type, CODEC_INT16);
    assert_string_equal(pt->unit, "degC");
    assert_false(pt->high.enabled);

    assert_int_equal(config_point_index(cfg, "gd-b11.nh3"), 2);
    assert_int_equal(config_point_index(cfg, "pt-b12.temp"), 4);
    assert_int_equal(config_point_index(cfg, "gd-b11"), -ENOENT);
    assert_int_equal(config_point_index(cfg, ""), -ENOENT);
    assert_int_equal(config_point_index(NULL, "gd-b11.nh3"), -ENOENT);
    config_free(cfg);
}

static void test_defaults(void **state)
{
    struct config *cfg = NULL;
    char err[CONFIG_ERR_LEN] = "";
    const struct config_point *pt;

    (void)state;
    if (config_load(DATA_DIR "/good/01-minimal-defaults.json", &cfg, err, sizeof(err)) !=
        0)
        fail_msg("%s", err);
    assert_int_equal(cfg->rt.period_ms, 10);
    assert_int_equal(cfg->rt.priority, 49);
    assert_int_equal(cfg->rt.cpu, -1);
    assert_string_equal(cfg->mqtt.client_id, "gw-min");
    assert_string_equal(cfg->mqtt.topic_prefix, "parkguard/plant-7/gw-min");
    assert_int_equal(cfg->mqtt.keepalive_s, 30);
    assert_int_equal(cfg->mqtt.connect_timeout_s, 10);
    assert_string_equal(cfg->areas[0].name, "");
    assert_int_equal(cfg->buses[0].kind, CONFIG_BUS_TCP);
    assert_int_equal(cfg->buses[0].port, 502);
    assert_int_equal(cfg->buses[0].connect_timeout_ms, 2000);
    assert_int_equal(cfg->buses[0].response_timeout_ms, 500);
    assert_int_equal(cfg->buses[0].reconnect_max_ms, 30000);
    assert_int_equal(cfg->devices[0].first_point, 0);
    assert_int_equal(cfg->devices[0].n_points, 1);
    assert_int_equal(cfg->devices[0].poll_ms, 1000);
    pt = &cfg->points[0];
    assert_int_equal(pt->address, 7);
    assert_int_equal(pt->table, CONFIG_TABLE_HOLDING);
    assert_int_equal(pt->codec.type, CODEC_UINT16);
    assert_float_equal(pt->codec.scale, 1.0, 0.0);
    assert_float_equal(pt->codec.offset, 0.0, 0.0);
    assert_string_equal(pt->unit, "");
    assert_false(pt->high.enabled);
    config_free(cfg);
}

static void test_explicit_values(void **state)
{
    struct config *cfg = NULL;
    char err[CONFIG_ERR_LEN] = "";
    const struct config_point *pt;

    (void)state;
    if (config_load(DATA_DIR "/good/02-explicit-values.json", &cfg, err, sizeof(err)) !=
        0)
        fail_msg("%s", err);
    assert_int_equal(cfg->rt.period_ms, 1000);
    assert_int_equal(cfg->rt.priority, 98);
    assert_int_equal(cfg->rt.cpu, 3);
    assert_string_equal(cfg->mqtt.uri, "mqtts://[::1]:8883");
    assert_string_equal(cfg->mqtt.client_id, "gw2-client");
    assert_string_equal(cfg->mqtt.topic_prefix, "plants/north/gw2");
    assert_int_equal(cfg->mqtt.keepalive_s, 3600);
    assert_int_equal(cfg->mqtt.connect_timeout_s, 120);
    assert_string_equal(cfg->areas[0].name, "Nordhalle, Reaktor 2");
    assert_int_equal(cfg->buses[0].port, 65535);
    assert_int_equal(cfg->buses[0].connect_timeout_ms, 100);
    assert_int_equal(cfg->buses[0].response_timeout_ms, 10000);
    assert_int_equal(cfg->buses[0].reconnect_max_ms, 600000);
    assert_int_equal(cfg->buses[0].watchdog_ms, 0);
    assert_int_equal(cfg->buses[0].byte_timeout_ms, 1000);
    assert_int_equal(cfg->buses[0].max_gap, 64);
    assert_int_equal(cfg->buses[0].comm_loss_after_ms, 3600000);
    assert_int_equal(cfg->buses[0].quarantine.failures, 100);
    assert_int_equal(cfg->buses[0].quarantine.backoff_min_ms, 3600000);
    assert_int_equal(cfg->buses[0].quarantine.backoff_max_ms, 3600000);

    assert_int_equal(cfg->n_devices, 4);
    assert_int_equal(cfg->n_points, 6);
    assert_int_equal(cfg->devices[0].bus, 1);
    assert_int_equal(cfg->devices[0].unit_id, 0);
    assert_int_equal(cfg->devices[1].bus, 0);
    assert_int_equal(cfg->devices[1].unit_id, 255);
    assert_int_equal(cfg->devices[1].poll_ms, 3599999);
    assert_int_equal(cfg->devices[2].first_point, 3);
    assert_int_equal(cfg->devices[2].n_points, 2);
    assert_int_equal(cfg->devices[3].first_point, 5);

    pt = &cfg->points[0];
    assert_int_equal(pt->area, 1);
    assert_int_equal(pt->table, CONFIG_TABLE_INPUT);
    assert_int_equal(pt->address, 65535);
    assert_int_equal(pt->codec.type, CODEC_INT16);
    assert_float_equal(pt->codec.scale, -0.5, 0.0);
    assert_float_equal(pt->codec.offset, -273.15, 1e-12);
    assert_true(pt->high.enabled);
    assert_float_equal(pt->high.setpoint, 80.0, 0.0);
    assert_float_equal(pt->high.deadband, 0.0, 0.0);
    pt = &cfg->points[1];
    assert_string_equal(pt->unit, "123456789012345");
    assert_float_equal(pt->high.setpoint, -10.5, 0.0);
    pt = &cfg->points[2];
    assert_string_equal(pt->id, "t-2.flow");
    assert_int_equal(pt->device, 1);
    assert_float_equal(pt->codec.scale, 0.001, 1e-15);
    assert_int_equal(config_point_index(cfg, "t-4.x"), 5);
    config_free(cfg);
}

/* ---- site configs and profiles ---------------------------------------------------- */

static struct config *load_ok(const char *path)
{
    struct config *cfg = NULL;
    char err[CONFIG_ERR_LEN] = "";

    if (config_load(path, &cfg, err, sizeof(err)) != 0)
        fail_msg("%s", err);
    assert_non_null(cfg);
    return cfg;
}

static const struct config_point *point_named(const struct config *cfg, const char *id)
{
    long i = config_point_index(cfg, id);

    if (i < 0)
        fail_msg("no point %s", id);
    return &cfg->points[i < 0 ? 0 : i];
}

static const struct config_device *device_named(const struct config *cfg, const char *id)
{
    size_t i = 0;

    while (i < cfg->n_devices && strcmp(cfg->devices[i].id, id) != 0)
        i++;
    if (i == cfg->n_devices)
        fail_msg("no device %s", id);
    return &cfg->devices[i < cfg->n_devices ? i : 0];
}

static const struct config_bus *bus_named(const struct config *cfg, const char *id)
{
    size_t i = 0;

    while (i < cfg->n_buses && strcmp(cfg->buses[i].id, id) != 0)
        i++;
    if (i == cfg->n_buses)
        fail_msg("no bus %s", id);
    return &cfg->buses[i < cfg->n_buses ? i : 0];
}

/* The quality a device's status set k gives for a register value. */
static uint8_t status_of(const struct config_device *dev, size_t k, uint16_t reg)
{
    assert_true(k < dev->n_status);
    return codec_status(dev->status[k].rules, dev->status[k].n_rules, reg);
}

static struct codec_result convert2(const struct config_point *pt, uint16_t r0,
                                    uint16_t r1, int decimals)
{
    const uint16_t regs[2] = {r0, r1};
    struct codec_result r;

    codec_convert(&pt->codec, regs, decimals, &r);
    return r;
}

static void test_vanadium_titanium(void **state)
{
    struct config *cfg = load_ok(CONFIG_DIR "/vanadium-titanium.json");
    const struct config_bus *b;
    const struct config_device *dev;
    const struct config_point *pt;
    size_t rtu = 0, tcp = 0, with_profile = 0;

    (void)state;
    assert_true(cfg->n_points >= 40);
    assert_string_equal(cfg->profiles_dir, CONFIG_DIR "/../hw/profiles");
    for (size_t i = 0; i < cfg->n_buses; i++) {
        if (cfg->buses[i].kind == CONFIG_BUS_RTU)
            rtu++;
        else
            tcp++;
    }
    for (size_t i = 0; i < cfg->n_devices; i++)
        with_profile += cfg->devices[i].profile[0] != '\0';
    assert_true(rtu >= 2 && tcp >= 2);
    assert_int_equal(with_profile, cfg->n_devices - 1);

    b = bus_named(cfg, "rs485-chl");
    assert_int_equal(b->kind, CONFIG_BUS_RTU);
    assert_string_equal(b->device, "/dev/ttymxc1");
    assert_int_equal(b->baud, 9600);
    assert_int_equal(b->parity, CONFIG_PARITY_NONE);
    assert_int_equal(b->data_bits, 8);
    assert_int_equal(b->stop_bits, 1);
    assert_true(b->rs485);
    assert_int_equal(b->response_timeout_ms, 300);
    assert_int_equal(b->byte_timeout_ms, 20);
    assert_int_equal(b->max_gap, 8);
    assert_int_equal(b->quarantine.failures, 3);
    assert_int_equal(b->quarantine.backoff_min_ms, 2000);
    assert_int_equal(b->quarantine.backoff_max_ms, 60000);
    assert_int_equal(b->comm_loss_after_ms, 5000);
    b = bus_named(cfg, "rs485-tank");
    assert_false(b->rs485);
    assert_int_equal(b->parity, CONFIG_PARITY_EVEN);
    assert_int_equal(b->comm_loss_after_ms, 6000);
    b = bus_named(cfg, "tcp-xnx-gw");
    assert_int_equal(b->kind, CONFIG_BUS_TCP);
    assert_string_equal(b->host, "10.20.1.11");
    assert_int_equal(b->watchdog_ms, 10000);
    assert_int_equal(b->comm_loss_after_ms, 8000);
    assert_int_equal(bus_named(cfg, "tcp-dcs")->watchdog_ms, 0);

    /* The parkguard node: identity, status word, fault code, heartbeat. */
    dev = device_named(cfg, "gn-o201");
    assert_string_equal(dev->profile, "parkguard-node");
    assert_int_equal(dev->n_status, 4);
    assert_int_equal(dev->status[0].reg.table, CONFIG_TABLE_HOLDING);
    assert_int_equal(dev->status[0].reg.address, 0);
    assert_int_equal(status_of(dev, 0, 1), MSG_Q_GOOD);
    assert_int_equal(status_of(dev, 0, 2), MSG_Q_SENSOR_FAULT);
    assert_int_equal(dev->status[2].reg.address, 2);
    assert_int_equal(status_of(dev, 2, 0x0000), MSG_Q_GOOD);
    assert_int_equal(status_of(dev, 2, 0x0030), MSG_Q_GOOD); /* local alarms */
    assert_int_equal(status_of(dev, 2, 0x0003), MSG_Q_SENSOR_FAULT);
    assert_int_equal(status_of(dev, 2, 0x0001), MSG_Q_MAINTENANCE);
    assert_int_equal(status_of(dev, 2, 0x0004), MSG_Q_MAINTENANCE);
    /* Test mode is not a bad quality: the injected value is evaluated, flagged test. */
    assert_int_equal(status_of(dev, 2, 0x0008), MSG_Q_GOOD);
    assert_true(dev->test_mode.enabled);
    assert_int_equal(dev->test_mode.reg.table, CONFIG_TABLE_HOLDING);
    assert_int_equal(dev->test_mode.reg.address, 2);
    assert_int_equal(dev->test_mode.mask, 0x0008);
    assert_int_equal(status_of(dev, 2, 0x0040), MSG_Q_OVER_RANGE);
    assert_int_equal(status_of(dev, 2, 0x0080), MSG_Q_UNDER_RANGE);
    assert_int_equal(status_of(dev, 3, 0), MSG_Q_GOOD);
    assert_int_equal(status_of(dev, 3, 2), MSG_Q_SENSOR_FAULT);
    assert_true(dev->heartbeat.enabled);
    assert_int_equal(dev->heartbeat.reg.address, 3);
    assert_int_equal(dev->heartbeat.mask, 0xFFFF);
    assert_int_equal(dev->heartbeat.stale_after_ms, 5000);
    assert_false(dev->has_decimals);
    assert_int_equal(dev->response_timeout_ms, 200);

    pt = point_named(cfg, "gn-o201.o2");
    assert_string_equal(pt->use, "gas");
    assert_int_equal(pt->table, CONFIG_TABLE_HOLDING);
    assert_int_equal(pt->address, 4);
    assert_int_equal(pt->codec.type, CODEC_FLOAT32);
    assert_int_equal(pt->codec.type, CODEC_FLOAT32);
    assert_int_equal(pt->codec.order, CODEC_ORDER_ABCD);
    assert_string_equal(pt->unit, "%VOL");
    assert_int_equal(pt->status_sets, 0x0F);
    /* An oxygen point: the default deficiency and enrichment limits, no "high". */
    assert_false(pt->high.enabled);
    assert_int_equal(pt->rules.kind, RULES_POINT_OXYGEN);
    assert_int_equal(pt->rules.n_limits, 2);
    assert_int_equal(pt->rules.limits[0].kind, RULES_LIMIT_O2_LOW);
    assert_float_equal(pt->rules.limits[0].setpoint, 19.5, 0.0);
    assert_int_equal(pt->rules.limits[1].kind, RULES_LIMIT_O2_HIGH);
    assert_float_equal(pt->rules.limits[1].setpoint, 23.5, 0.0);
    assert_float_equal(convert2(pt, 0x41A8, 0x0000, 0).value, 21.0, 0.0);
    pt = point_named(cfg, "gn-o201.o2-loop");
    assert_true(pt->codec.ma.enabled);
    assert_float_equal(pt->codec.ma.eu_high, 25.0, 0.0);
    assert_float_equal(convert2(pt, 1200, 0, 0).value, 12.5, 0.0);
    assert_int_equal(convert2(pt, 350, 0, 0).quality, MSG_Q_SENSOR_FAULT);
    /* A fault code is governed by the identity sets, not by itself or the status word. */
    assert_int_equal(point_named(cfg, "gn-o201.fault-code")->status_sets, 0x03);
    assert_int_equal(point_named(cfg, "gn-o202.l2")->codec.type, CODEC_BIT);
    assert_int_equal(point_named(cfg, "gn-o202.l2")->codec.bit, 5);
    assert_int_equal(point_named(cfg, "gn-o202.l2")->status_sets, 0x03);

    /* XNX: identity word, monitoring state, fault number, heartbeat; inhibit's 0. */
    dev = device_named(cfg, "gd-r503");
    assert_int_equal(dev->response_timeout_ms, 800);
    assert_int_equal(device_named(cfg, "gd-r501")->response_timeout_ms, 500);
    assert_int_equal(dev->n_status, 3);
    assert_int_equal(status_of(dev, 0, 0x2403), MSG_Q_GOOD);
    assert_int_equal(status_of(dev, 0, 0x2603), MSG_Q_SENSOR_FAULT);
    assert_int_equal(status_of(dev, 1, 1), MSG_Q_GOOD);
    assert_int_equal(status_of(dev, 1, 0x0301), MSG_Q_GOOD); /* high byte ignored */
    assert_int_equal(status_of(dev, 1, 3), MSG_Q_MAINTENANCE);
    assert_int_equal(status_of(dev, 1, 7), MSG_Q_GOOD);
    assert_int_equal(status_of(dev, 1, 8), MSG_Q_SENSOR_FAULT);
    assert_int_equal(status_of(dev, 1, 15), MSG_Q_MAINTENANCE);
    assert_int_equal(status_of(dev, 1, 21), MSG_Q_SENSOR_FAULT);
    assert_int_equal(status_of(dev, 2, 999), MSG_Q_GOOD);
    assert_int_equal(status_of(dev, 2, 1103), MSG_Q_SENSOR_FAULT);
    assert_int_equal(dev->heartbeat.stale_after_ms, 15000);
    pt = point_named(cfg, "gd-r503.co");
    assert_int_equal(pt->status_sets, 0x07);
    assert_float_equal(convert2(pt, 0x42F6, 0xE979, 0).value, 123.456, 0.0);
    pt = point_named(cfg, "gd-r503.co-loop");
    assert_float_equal(pt->codec.ma.eu_high, 300.0, 0.0);
    assert_int_equal(pt->codec.ma.n_currents, 2);
    assert_int_equal(convert2(pt, 0x4000, 0x0000, 0).quality,
                     MSG_Q_MAINTENANCE); /* 2 mA */
    assert_int_equal(convert2(pt, 0x3F80, 0x0000, 0).quality, MSG_Q_SENSOR_FAULT);

    /* The Chinese detector's decimals register, and the PT100's open sensor. */
    dev = device_named(cfg, "gd-c101");
    assert_true(dev->has_decimals);
    assert_int_equal(dev->decimals.address, 4);
    pt = point_named(cfg, "gd-c101.cl2");
    assert_true(pt->codec.decimals_reg);
    assert_int_equal(pt->codec.n_sentinels, 2);
    assert_int_equal(pt->codec.sentinels[0], 0xFFFF);
    assert_float_equal(convert2(pt, 1256, 0, 2).value, 12.56, 0.0);
    assert_int_equal(convert2(pt, 1256, 0, 0xFFFF).quality, MSG_Q_SENSOR_FAULT);
    assert_int_equal(convert2(pt, 0xFFFF, 0, 1).quality, MSG_Q_SENTINEL);
    dev = device_named(cfg, "tt-c104");
    assert_int_equal(status_of(dev, 0, 0xA0), MSG_Q_SENSOR_FAULT);
    assert_int_equal(status_of(dev, 0, 0x60), MSG_Q_SENSOR_FAULT);
    assert_int_equal(status_of(dev, 0, 0x80), MSG_Q_OVER_RANGE);
    assert_int_equal(status_of(dev, 0, 0x00), MSG_Q_GOOD);
    assert_int_equal(point_named(cfg, "tt-c104.offgas")->status_sets, 0x01);

    /* The Midas heartbeat is one bit of the status word. */
    dev = device_named(cfg, "gd-m601");
    assert_int_equal(dev->heartbeat.reg.address, 0);
    assert_int_equal(dev->heartbeat.mask, 0x0800);
    assert_int_equal(status_of(dev, 0, 0x0801), MSG_Q_GOOD);
    assert_int_equal(status_of(dev, 0, 0x0802), MSG_Q_MAINTENANCE);
    assert_int_equal(status_of(dev, 0, 0x0821), MSG_Q_SENSOR_FAULT);

    /* A 4-20 mA channel with the site's span, and the inline points of the DCS. */
    pt = point_named(cfg, "ai-g701.co");
    assert_int_equal(pt->table, CONFIG_TABLE_INPUT);
    assert_float_equal(convert2(pt, 12000, 0, 0).value, 250.0, 0.0);
    pt = point_named(cfg, "dcs-1.chlorinator-bed-temp");
    assert_string_equal(pt->use, "");
    assert_int_equal(pt->codec.order, CODEC_ORDER_CDAB);
    assert_float_equal(convert2(pt, 0xE979, 0x42F6, 0).value, 123.456, 0.0);
    assert_int_equal(convert2(pt, 0x0000, 0x7FC0, 0).quality, MSG_Q_SENTINEL);
    pt = point_named(cfg, "dcs-1.cl2-flow");
    assert_float_equal(pt->codec.scale, 0.01, 0.0);
    assert_float_equal(convert2(pt, 0x0001, 0x0000, 0).value, 655.36, 0.0);
    pt = point_named(cfg, "dcs-1.scrubber-trip");
    assert_int_equal(pt->codec.type, CODEC_BIT);
    assert_int_equal(pt->codec.bit, 3);
    assert_int_equal(pt->status_sets, 0);
    config_free(cfg);
}

static void test_geliping(void **state)
{
    struct config *cfg = load_ok(CONFIG_DIR "/geliping.json");
    const struct config_bus *b;
    const struct config_device *dev;

    (void)state;
    assert_true(cfg->n_points >= 40);
    assert_int_equal(cfg->n_areas, 10);
    b = bus_named(cfg, "rs485-sulfur");
    assert_int_equal(b->baud, 9600);
    assert_int_equal(b->stop_bits, 2);
    assert_int_equal(b->rts_delay_before_us, 500);
    assert_int_equal(b->rts_delay_after_us, 500);
    assert_int_equal(b->quarantine.failures, 5);
    assert_int_equal(bus_named(cfg, "rs485-gasif")->baud, 38400);
    assert_int_equal(bus_named(cfg, "rs485-gasif")->max_gap, 16);
    assert_string_equal(bus_named(cfg, "tcp-ai-urea")->host, "urea-ai-01.glp.local");
    dev = device_named(cfg, "pt-t404");
    assert_true(dev->has_decimals);
    assert_int_equal(dev->decimals.address, 3);
    assert_int_equal(status_of(dev, 0, 1), MSG_Q_GOOD);
    assert_int_equal(status_of(dev, 0, 0), MSG_Q_SENSOR_FAULT); /* MPa: refused */
    assert_float_equal(
        convert2(point_named(cfg, "pt-t404.lpg-sphere"), 0xFB18, 0, 1).value, -125.6,
        0.0);
    assert_float_equal(
        convert2(point_named(cfg, "ai-u701.stripper-p"), 20000, 0, 0).value, 25.0, 0.0);
    config_free(cfg);
}

/*
 * Every profile in hw/profiles, every one of its points selected: each file must load,
 * and a profile that stops loading is caught here rather than at a site.
 */
static void test_every_profile(void **state)
{
    char dir[1024], path[1024];
    struct buf b = {0};
    struct config *cfg;
    size_t n, total = 0;
    char **names;

    (void)state;
    FMT(dir, "%s", PROFILES_DIR);
    names = list_json(dir, &n);
    assert_true(n >= 6);
    buf_printf(
        &b,
        "{\"gateway\": {\"id\": \"gw\", \"site\": \"s\"},\n"
        "\"store\": {\"path\": \"x.db\"},\n"
        "\"mqtt\": {\"uri\": \"tcp://localhost:1883\"},\n"
        "\"profiles_dir\": \"%s\",\n"
        "\"areas\": [{\"id\": \"a\"}],\n"
        "\"buses\": [{\"id\": \"b\", \"type\": \"rtu\", \"device\": \"/dev/x\"}],\n"
        "\"devices\": [",
        dir);
    for (size_t i = 0; i < n; i++) {
        char *text;
        cJSON *root, *pts, *p;

        FMT(path, "%s/%s", dir, names[i]);
        text = read_text(path, NULL);
        assert_non_null(text);
        root = cJSON_Parse(text);
        assert_non_null(root);
        pts = cJSON_GetObjectItemCaseSensitive(root, "points");
        assert_non_null(pts);
        buf_printf(
            &b,
            "%s\n{\"id\": \"d%zu\", \"bus\": \"b\", \"unit_id\": %zu, \"poll_ms\": 100,"
            " \"profile\": \"%.*s\", \"points\": [",
            i ? "," : "", i, i + 1, (int)strlen(names[i]) - 5, names[i]);
        cJSON_ArrayForEach(p, pts)
        {
            buf_printf(&b, "%s{\"id\": \"d%zu.%s\", \"use\": \"%s\", \"area\": \"a\"}",
                       p == pts->child ? "" : ",", i, p->string, p->string);
            total++;
        }
        buf_printf(&b, "]}");
        cJSON_Delete(root);
        free(text);
    }
    buf_printf(&b, "]}\n");
    cfg = parse_ok(b.data);
    assert_int_equal(cfg->n_devices, n);
    assert_int_equal(cfg->n_points, total);
    config_free(cfg);
    free(b.data);
    free_names(names, n);
}

static void test_profile_resolution(void **state)
{
    static const char head[] =
        "{\"gateway\": {\"id\": \"gw\", \"site\": \"s\"},\n"
        "\"store\": {\"path\": \"x.db\"},\n"
        "\"mqtt\": {\"uri\": \"tcp://localhost:1883\"},\n%s"
        "\"areas\": [{\"id\": \"a\"}],\n"
        "\"buses\": [{\"id\": \"b\", \"type\": \"tcp\", \"host\": \"h\", \"port\": "
        "502}],\n"
        "\"devices\": [{\"id\": \"d\", \"bus\": \"b\", \"unit_id\": 1, \"poll_ms\": 100,"
        " \"profile\": \"xnx\", \"points\": [{\"id\": \"p\", \"use\": \"gas\", \"area\": "
        "\"a\"}]}]}";
    struct config *cfg = NULL;
    char text[2048], err[CONFIG_ERR_LEN], want[CONFIG_ERR_LEN];
    int rc;

    (void)state;
    /* The default is ../hw/profiles beside the config file, whatever the working
     * directory. */
    FMT(text, head, "");
    rc =
        config_parse(CONFIG_DIR "/site.json", text, strlen(text), &cfg, err, sizeof(err));
    if (rc != 0)
        fail_msg("%s", err);
    assert_string_equal(cfg->profiles_dir, CONFIG_DIR "/../hw/profiles");
    assert_string_equal(cfg->devices[0].profile, "xnx");
    config_free(cfg);

    /* Not found: the device's path and the file searched are named. */
    rc = config_parse(DATA_DIR "/good/site.json", text, strlen(text), &cfg, err,
                      sizeof(err));
    assert_int_equal(rc, -EINVAL);
    assert_null(cfg);
    FMT(want,
        "site.json: devices[0].profile: no profile \"xnx\" (no file "
        "%s/good/../hw/profiles/"
        "xnx.json)",
        DATA_DIR);
    assert_string_equal(err, want);

    /* A relative profiles_dir is resolved against the config's directory... */
    FMT(text, head, "\"profiles_dir\": \"../../../../hw/profiles\",\n");
    cfg = NULL;
    rc = config_parse(DATA_DIR "/good/site.json", text, strlen(text), &cfg, err,
                      sizeof(err));
    if (rc != 0)
        fail_msg("%s", err);
    assert_string_equal(cfg->profiles_dir, DATA_DIR "/good/../../../../hw/profiles");
    config_free(cfg);

    /* ... an absolute one taken as it is, and a bare file name resolves from ".". */
    FMT(text, head, "\"profiles_dir\": \"" PROFILES_DIR "\",\n");
    cfg = parse_ok(text);
    assert_string_equal(cfg->profiles_dir, PROFILES_DIR);
    config_free(cfg);
    FMT(text, head, "\"profiles_dir\": \"/nonexistent\",\n");
    expect_parse_error(text, "mem.json: devices[0].profile: no profile \"xnx\" (no file "
                             "/nonexistent/xnx.json)");

    /* A profile error names the profile's file, not the config. */
    FMT(text, head, "\"profiles_dir\": \"" DATA_DIR "/profiles-bad\",\n");
    rc = config_parse("mem.json", text, strlen(text), &cfg, err, sizeof(err));
    assert_int_equal(rc, -EINVAL);
    assert_string_equal(err,
                        "xnx.json: points.gas.order: expected one of \"ABCD\", \"CDAB\", "
                        "\"BADC\", \"DCBA\", got \"XYZW\"");
}

static void test_bus_defaults(void **state)
{
    struct config *cfg;
    const struct config_bus *b;

    (void)state;
    cfg = parse_ok(MINIMAL);
    b = &cfg->buses[0];
    assert_int_equal(b->kind, CONFIG_BUS_TCP);
    assert_int_equal(b->connect_timeout_ms, 2000);
    assert_int_equal(b->reconnect_max_ms, 30000);
    assert_int_equal(b->watchdog_ms, 10000);
    assert_int_equal(b->response_timeout_ms, 500);
    assert_int_equal(b->byte_timeout_ms, 0);
    assert_int_equal(b->max_gap, 8);
    assert_int_equal(b->quarantine.failures, 3);
    assert_int_equal(b->quarantine.backoff_min_ms, 2000);
    assert_int_equal(b->quarantine.backoff_max_ms, 60000);
    assert_int_equal(b->comm_loss_after_ms, 5000);
    assert_string_equal(b->device, "");
    assert_int_equal(b->baud, 9600);
    assert_int_equal(cfg->devices[0].response_timeout_ms, 500);
    assert_string_equal(cfg->devices[0].profile, "");
    assert_int_equal(cfg->devices[0].n_status, 0);
    assert_false(cfg->devices[0].heartbeat.enabled);
    assert_false(cfg->devices[0].has_decimals);
    config_free(cfg);

    cfg = parse_ok(
        "{\"gateway\": {\"id\": \"gw\", \"site\": \"s\"},\n"
        "\"store\": {\"path\": \"x.db\"},\n"
        "\"mqtt\": {\"uri\": \"tcp://localhost:1883\"},\n"
        "\"areas\": [{\"id\": \"a\"}],\n"
        "\"buses\": [{\"id\": \"r\", \"type\": \"rtu\", \"device\": \"/dev/ttyS0\","
        " \"quarantine\": {\"backoff_min_ms\": 120000}}],\n"
        "\"devices\": [{\"id\": \"d\", \"bus\": \"r\", \"unit_id\": 247,"
        " \"poll_ms\": 100, \"response_timeout_ms\": 10,"
        " \"points\": [{\"id\": \"p\", \"area\": \"a\", \"address\": 3}]}]}");
    b = &cfg->buses[0];
    assert_int_equal(b->kind, CONFIG_BUS_RTU);
    assert_string_equal(b->device, "/dev/ttyS0");
    assert_int_equal(b->baud, 9600);
    assert_int_equal(b->parity, CONFIG_PARITY_EVEN);
    assert_int_equal(b->data_bits, 8);
    assert_int_equal(b->stop_bits, 1);
    assert_false(b->rs485);
    assert_int_equal(b->rts_delay_before_us, 0);
    assert_int_equal(b->rts_delay_after_us, 0);
    assert_string_equal(b->host, "");
    assert_int_equal(b->port, 0);
    assert_int_equal(b->connect_timeout_ms, 2000);
    assert_int_equal(b->reconnect_max_ms, 30000);
    assert_int_equal(b->watchdog_ms, 10000);
    /* The backoff cap follows a floor set above its default. */
    assert_int_equal(b->quarantine.backoff_min_ms, 120000);
    assert_int_equal(b->quarantine.backoff_max_ms, 120000);
    assert_int_equal(cfg->devices[0].unit_id, 247);
    assert_int_equal(cfg->devices[0].response_timeout_ms, 10);
    config_free(cfg);
}

static void test_inline_codec(void **state)
{
    struct config *cfg;
    const struct config_point *pt;

    (void)state;
    cfg = parse_ok(
        MINIMAL_HEAD
        "\"devices\": [{\"id\": \"d\", \"bus\": \"b\", \"unit_id\": 1, \"poll_ms\": 100,"
        " \"points\": ["
        "{\"id\": \"f\", \"area\": \"a\", \"address\": 10, \"type\": \"float32\","
        " \"order\": \"DCBA\", \"range\": [-1.5, 99]},"
        "{\"id\": \"i\", \"area\": \"a\", \"address\": 12, \"type\": \"int32\","
        " \"decimals\": 2, \"offset\": -3, \"sentinels\": [2147483647, \"0x80000000\"]},"
        "{\"id\": \"c\", \"area\": \"a\", \"table\": \"coil\", \"address\": 5},"
        "{\"id\": \"di\", \"area\": \"a\", \"table\": \"discrete\", \"address\": 6,"
        " \"type\": \"bit\"},"
        "{\"id\": \"s\", \"area\": \"a\", \"address\": 65535, \"type\": \"bit\", "
        "\"bit\": 15},"
        "{\"id\": \"m\", \"area\": \"a\", \"table\": \"input\", \"address\": 20,"
        " \"scale\": 0.01, \"unit\": \"%LEL\", \"ma\": {\"span\": [0, 100],"
        " \"bands\": {\"fault_low\": 3.0, \"fault_high\": 22},"
        " \"currents\": [{\"ma\": 2, \"tolerance\": 0.1, \"quality\": \"maintenance\"}]}}"
        "]}]}");
    pt = &cfg->points[0];
    assert_int_equal(pt->codec.type, CODEC_FLOAT32);
    assert_int_equal(pt->codec.order, CODEC_ORDER_DCBA);
    assert_float_equal(pt->codec.min, -1.5, 0.0);
    assert_float_equal(pt->codec.max, 99.0, 0.0);
    pt = &cfg->points[1];
    assert_int_equal(pt->codec.type, CODEC_INT32);
    assert_true(pt->codec.scale == 0.01);
    assert_float_equal(pt->codec.offset, -3.0, 0.0);
    assert_int_equal(pt->codec.n_sentinels, 2);
    assert_int_equal(pt->codec.sentinels[1], 0x80000000u);
    assert_false(pt->codec.decimals_reg);
    pt = &cfg->points[2];
    assert_int_equal(pt->table, CONFIG_TABLE_COIL);
    assert_int_equal(pt->codec.type, CODEC_BIT);
    assert_int_equal(pt->codec.bit, 0);
    assert_int_equal(cfg->points[3].table, CONFIG_TABLE_DISCRETE);
    assert_int_equal(cfg->points[4].codec.bit, 15);
    pt = &cfg->points[5];
    assert_true(pt->codec.ma.enabled);
    assert_float_equal(pt->codec.ma.fault_low, 3.0, 0.0);
    assert_float_equal(pt->codec.ma.valid_low, 3.8, 0.0);
    assert_float_equal(pt->codec.ma.valid_high, 20.5, 0.0);
    assert_float_equal(pt->codec.ma.fault_high, 22.0, 0.0);
    assert_int_equal(pt->codec.ma.n_currents, 1);
    assert_int_equal(pt->codec.ma.currents[0].quality, MSG_Q_MAINTENANCE);
    assert_float_equal(pt->codec.ma.currents[0].tolerance, 0.1, 0.0);
    config_free(cfg);
}

/* ---- in-memory cases -------------------------------------------------------------- */

static void test_parse_memory(void **state)
{
    struct config *cfg;
    char err[CONFIG_ERR_LEN];
    char small[12];
    int rc;

    (void)state;
    cfg = parse_ok(MINIMAL);
    assert_string_equal(cfg->path, "mem.json");
    assert_int_equal(cfg->n_points, 1);
    assert_string_equal(cfg->mqtt.topic_prefix, "parkguard/s/gw");
    config_free(cfg);

    /* Messages name the base name of whatever stands in for the file. */
    cfg = (struct config *)(uintptr_t)1;
    rc = config_parse("some/dir/site.json", "[1]", 3, &cfg, err, sizeof(err));
    assert_int_equal(rc, -EINVAL);
    assert_null(cfg);
    assert_string_equal(err, "site.json: expected object at top level, got [1]");

    expect_parse_error("{\n  \"gateway\": {\n    \"id\" \"x\"\n",
                       "mem.json: line 3, column 10: JSON syntax error");
    expect_parse_error(
        "{\"gateway\": {\"id\": \"x\", \"site\": \"y\"},\n \"store\": nul}",
        "mem.json: line 2, column 11: JSON syntax error");
    expect_parse_error("42", "mem.json: expected object at top level, got 42");
    expect_parse_error(" \n\t\r\n", "mem.json: empty file");
    expect_parse_error("{}", "mem.json: gateway: missing required key");

    /* A leading byte order mark is tolerated. */
    cfg = parse_ok("\xef\xbb\xbf" MINIMAL);
    config_free(cfg);

    /* Keys that are not plain words are quoted, so the path stays unambiguous. */
    expect_parse_error("{\"a b\": 1}", "mem.json: [\"a b\"]: unknown key");
    expect_parse_error("{\"\": 1}", "mem.json: [\"\"]: unknown key");
    expect_parse_error("{\"gatway\": 1}",
                       "mem.json: gatway: unknown key (did you mean \"gateway\"?)");

    /* Long values are shown truncated and the message stays on one line. */
    expect_parse_error(
        MINIMAL_HEAD "\"devices\": \""
                     "0123456789012345678901234567890123456789"
                     "0123456789\n\"}",
        "devices: expected array, got \"012345678901234567890123456789012345678...");
    expect_parse_error(MINIMAL_HEAD "\"devices\": \"\\n\"}",
                       "devices: expected array, got \"\\u000a\"");

    /* A NUL byte would make cJSON stop early and ignore the rest. */
    rc = config_parse("mem.json", "{}\n\0{}", 6, &cfg, err, sizeof(err));
    assert_int_equal(rc, -EINVAL);
    assert_string_equal(err, "mem.json: line 2, column 1: NUL byte in JSON text");

    /* \u0000 would end the C string early; an escaped backslash before u0000 is fine. */
    expect_parse_error(
        "{\"gateway\": {\"id\": \"gw\\u0000x\"}}",
        "mem.json: line 1, column 23: \"\\u0000\" is not allowed in strings");
    cfg = parse_ok(MINIMAL_HEAD MINIMAL_DEVICES ", \"rt\": {}}");
    config_free(cfg);
    expect_parse_error(MINIMAL_HEAD MINIMAL_DEVICES ", \"rt\": {\"\\\\u0000\": 1}}",
                       "mem.json: rt[\"\\\\u0000\"]: unknown key");

    /* A reference typo gets a hint. */
    expect_parse_error(MINIMAL_HEAD
                       "\"devices\": [{\"id\": \"d\", \"bus\": \"bb\", \"unit_id\": 1,"
                       " \"poll_ms\": 100, \"points\": []}]}",
                       "devices[0].bus: unknown bus \"bb\"");

    /* Integers written with an exponent are still integers. */
    cfg = parse_ok(MINIMAL_HEAD
                   "\"devices\": [{\"id\": \"d\", \"bus\": \"b\", \"unit_id\": 1,"
                   " \"poll_ms\": 1e3, \"points\": [{\"id\": \"p\", \"area\": \"a\","
                   " \"address\": 300.0}]}]}");
    assert_int_equal(cfg->devices[0].poll_ms, 1000);
    assert_int_equal(cfg->points[0].address, 300);
    config_free(cfg);

    /* The error buffer is honoured, whatever its size. */
    rc = config_parse("mem.json", "[]", 2, &cfg, small, sizeof(small));
    assert_int_equal(rc, -EINVAL);
    assert_string_equal(small, "mem.json: e");
    rc = config_parse("mem.json", "[]", 2, &cfg, NULL, 0);
    assert_int_equal(rc, -EINVAL);
    assert_null(cfg);
    rc = config_parse("mem.json", MINIMAL, strlen(MINIMAL), NULL, err, sizeof(err));
    assert_int_equal(rc, -EINVAL);
    rc = config_parse(NULL, "", 0, &cfg, err, sizeof(err));
    assert_int_equal(rc, -EINVAL);
    assert_null(cfg);
    assert_string_equal(err, "(config): empty file");

    config_free(NULL);
}

static void test_topic_prefix_default_too_long(void **state)
{
    char id[64];
    struct buf b = {0};
    struct config *cfg;

    (void)state;
    memset(id, 'x', 63);
    id[63] = '\0';
    buf_printf(&b,
               "{\"gateway\": {\"id\": \"%s\", \"site\": \"%s\"},\n"
               "\"store\": {\"path\": \"x.db\"},\n"
               "\"mqtt\": {\"uri\": \"tcp://localhost:1883\"%s},\n"
               "\"areas\": [{\"id\": \"a\"}],\n"
               "\"buses\": [{\"id\": \"b\", \"type\": \"tcp\", \"host\": \"h\", "
               "\"port\": 502}],\n" MINIMAL_DEVICES "}",
               id, id, "");
    expect_parse_error(b.data,
                       "mqtt.topic_prefix: the default \"parkguard/<site>/<gateway id>\" "
                       "would be 137 characters, at most 127");
    b.len = 0;
    buf_printf(&b,
               "{\"gateway\": {\"id\": \"%s\", \"site\": \"%s\"},\n"
               "\"store\": {\"path\": \"x.db\"},\n"
               "\"mqtt\": {\"uri\": \"tcp://localhost:1883\"%s},\n"
               "\"areas\": [{\"id\": \"a\"}],\n"
               "\"buses\": [{\"id\": \"b\", \"type\": \"tcp\", \"host\": \"h\", "
               "\"port\": 502}],\n" MINIMAL_DEVICES "}",
               id, id, ", \"topic_prefix\": \"pg/site\"");
    cfg = parse_ok(b.data);
    assert_string_equal(cfg->mqtt.client_id, id);
    assert_string_equal(cfg->mqtt.topic_prefix, "pg/site");
    config_free(cfg);
    free(b.data);
}

/* Builds a config with the given number of areas, and devices of points_per_device. */
static char *build_big(size_t n_areas, size_t n_devices, size_t points_per_device)
{
    struct buf b = {0};

    buf_printf(&b, "{\"gateway\": {\"id\": \"gw\", \"site\": \"s\"},\n"
                   "\"store\": {\"path\": \"x.db\"},\n"
                   "\"mqtt\": {\"uri\": \"tcp://localhost:1883\"},\n\"areas\": [");
    for (size_t i = 0; i < n_areas; i++)
        buf_printf(&b, "%s{\"id\": \"a%zu\"}", i ? "," : "", i);
    buf_printf(&b, "],\n\"buses\": [");
    for (size_t i = 0; i < CONFIG_MAX_BUSES; i++)
        /* One endpoint per bus: two buses may not share one. */
        buf_printf(&b,
                   "%s{\"id\": \"b%zu\", \"type\": \"tcp\", \"host\": \"h\", "
                   "\"port\": %zu}",
                   i ? "," : "", i, 502 + i);
    buf_printf(&b, "],\n\"devices\": [");
    for (size_t d = 0; d < n_devices; d++) {
        buf_printf(&b,
                   "%s\n{\"id\": \"d%zu\", \"bus\": \"b%zu\", \"unit_id\": %zu, "
                   "\"poll_ms\": 100, "
                   "\"points\": [",
                   d ? "," : "", d, d / 256, d % 256);
        for (size_t j = 0; j < points_per_device; j++)
            buf_printf(&b,
                       "%s{\"id\": \"d%zu.p%zu\", \"area\": \"a%zu\", \"address\": %zu}",
                       j ? "," : "", d, j, (d + j) % n_areas, j);
        buf_printf(&b, "]}");
    }
    buf_printf(&b, "]}\n");
    return b.data;
}

static void test_limits(void **state)
{
    size_t per = CONFIG_MAX_POINTS / CONFIG_MAX_DEVICES;
    struct config *cfg;
    char *text;
    char id[64];

    (void)state;
    text = build_big(CONFIG_MAX_AREAS, CONFIG_MAX_DEVICES, per);
    cfg = parse_ok(text);
    assert_int_equal(cfg->n_areas, CONFIG_MAX_AREAS);
    assert_int_equal(cfg->n_devices, CONFIG_MAX_DEVICES);
    assert_int_equal(cfg->n_points, CONFIG_MAX_POINTS);
    assert_int_equal(cfg->devices[CONFIG_MAX_DEVICES - 1].first_point,
                     CONFIG_MAX_POINTS - per);
    FMT(id, "d%d.p%zu", CONFIG_MAX_DEVICES - 1, per - 1);
    assert_int_equal(config_point_index(cfg, id), CONFIG_MAX_POINTS - 1);
    assert_int_equal(cfg->points[CONFIG_MAX_POINTS - 1].device, CONFIG_MAX_DEVICES - 1);
    assert_int_equal(cfg->points[CONFIG_MAX_POINTS - 1].area,
                     (CONFIG_MAX_DEVICES - 1 + per - 1) % CONFIG_MAX_AREAS);
    config_free(cfg);
    free(text);

    text = build_big(CONFIG_MAX_AREAS + 1, 1, 1);
    expect_parse_error(text, "mem.json: areas: expected at most 256 entries, got 257");
    free(text);

    text = build_big(1, CONFIG_MAX_DEVICES + 1, 1);
    expect_parse_error(text,
                       "mem.json: devices: expected at most 1024 entries, got 1025");
    free(text);

    text = build_big(4, 2, CONFIG_MAX_POINTS / 2 + 1);
    expect_parse_error(
        text, "mem.json: devices[1].points[8191]: too many points: at most 16384");
    free(text);
}

/*
 * Every key of a point's alarm rules in one valid config: the resolved rules_point_cfg
 * must hold what the file says, in file order, with the oxygen defaults filled in and
 * the accepted standards waiver remembered.
 */
static void test_point_rules(void **state)
{
    struct config *cfg;
    const struct config_point *pt;
    const struct rules_point_cfg *r;
    char err[CONFIG_ERR_LEN] = "";

    (void)state;
    if (config_load(DATA_DIR "/good/05-limits.json", &cfg, err, sizeof(err)) != 0)
        fail_msg("%s", err);
    assert_int_equal(cfg->n_points, 4);

    /* Combustible: level-1 at 30 %LEL is over the standard, waived by its reason. */
    pt = &cfg->points[0];
    r = &pt->rules;
    assert_int_equal(r->kind, RULES_POINT_COMBUSTIBLE);
    assert_float_equal(r->reference, 100.0, 0.0);
    assert_int_equal(r->n_limits, 2);
    assert_int_equal(r->limits[0].kind, RULES_LIMIT_GAS_L1);
    assert_float_equal(r->limits[0].setpoint, 30.0, 0.0);
    assert_float_equal(r->limits[0].deadband, 2.0, 0.0);
    assert_true(r->limits[0].on_delay_ns == INT64_C(1000000000));
    assert_true(r->limits[0].off_delay_ns == INT64_C(2000000000));
    assert_true(r->limits[0].realarm_ns == INT64_C(600000000000));
    assert_int_equal(r->limits[1].kind, RULES_LIMIT_GAS_L2);
    assert_float_equal(r->limits[1].setpoint, 50.0, 0.0);
    assert_true(r->limits[1].on_delay_ns == 0);
    assert_true(r->roc.rising);
    assert_false(r->roc.falling);
    assert_float_equal(r->roc.limit, 10.0, 0.0);
    assert_true(r->roc.window_ns == INT64_C(60000000000));
    assert_true(r->over_range_high);
    assert_true(r->fault_delay_ns == INT64_C(10000000000));
    assert_false(pt->high.enabled);
    assert_int_equal(pt->override_check, RULES_CHECK_LEL_L1);
    assert_string_equal(
        pt->override_reason,
        "HSE-2026-031: level-1 at 30 %LEL signed off for the flare header");

    /* Oxygen: the configured enrichment replaces its default, deficiency stays. */
    pt = &cfg->points[1];
    r = &pt->rules;
    assert_int_equal(r->kind, RULES_POINT_OXYGEN);
    assert_int_equal(r->n_limits, 2);
    assert_int_equal(r->limits[0].kind, RULES_LIMIT_O2_LOW);
    assert_float_equal(r->limits[0].setpoint, 19.5, 0.0);
    assert_float_equal(r->limits[0].deadband, 0.2, 0.0);
    assert_int_equal(r->limits[1].kind, RULES_LIMIT_O2_HIGH);
    assert_float_equal(r->limits[1].setpoint, 23.0, 0.0);
    assert_float_equal(r->limits[1].deadband, 0.3, 0.0);
    assert_true(r->limits[1].on_delay_ns == INT64_C(5000000000));
    assert_true(r->fault_delay_ns == INT64_C(30000000000));
    assert_false(r->over_range_high);
    assert_string_equal(pt->override_reason, "");
    assert_int_equal(pt->override_check, RULES_CHECK_OK);

    /* Toxic with a reference of 10 ppm: 20 ppm is 200 %OEL, exactly the ceiling. */
    r = &cfg->points[2].rules;
    assert_int_equal(r->kind, RULES_POINT_TOXIC_OEL);
    assert_float_equal(r->reference, 10.0, 0.0);
    assert_int_equal(r->n_limits, 2);

    /* Process: "high" comes first, then the limits in file order. */
    pt = &cfg->points[3];
    r = &pt->rules;
    assert_int_equal(r->kind, RULES_POINT_PROCESS);
    assert_int_equal(r->n_limits, 4);
    assert_int_equal(r->limits[0].kind, RULES_LIMIT_H);
    assert_float_equal(r->limits[0].setpoint, 80.0, 0.0);
    assert_int_equal(r->limits[1].kind, RULES_LIMIT_HH);
    assert_true(r->limits[1].realarm_ns == INT64_C(300000000000));
    assert_int_equal(r->limits[2].kind, RULES_LIMIT_L);
    assert_int_equal(r->limits[3].kind, RULES_LIMIT_LL);
    assert_float_equal(r->limits[3].setpoint, -10.0, 0.0);
    assert_true(r->limits[3].off_delay_ns == INT64_C(3000000000));
    assert_true(r->roc.rising && r->roc.falling);
    assert_true(r->roc.window_ns == INT64_C(120000000000));
    assert_true(pt->high.enabled);
    assert_float_equal(pt->high.setpoint, 80.0, 0.0);
    assert_float_equal(pt->high.deadband, 2.0, 0.0);
    config_free(cfg);
}

/* "limits.h" alone fills config_point.high as "high" does, and a point without rules
 * keys is a process point with none. */
static void test_limits_h_mirrors_high(void **state)
{
    static const char text[] =
        MINIMAL_HEAD "\"devices\": [{\"id\": \"d\", \"bus\": \"b\", \"unit_id\": 1, "
                     "\"poll_ms\": 100,\n"
                     "  \"points\": [{\"id\": \"p\", \"area\": \"a\", \"address\": 3,\n"
                     "    \"limits\": {\"h\": {\"setpoint\": 7.5, \"deadband\": 0.5}}},\n"
                     "   {\"id\": \"q\", \"area\": \"a\", \"address\": 4}]}]}\n";
    struct config *cfg = NULL;
    char err[CONFIG_ERR_LEN] = "";

    (void)state;
    if (config_parse("mem.json", text, strlen(text), &cfg, err, sizeof(err)) != 0)
        fail_msg("%s", err);
    assert_true(cfg->points[0].high.enabled);
    assert_float_equal(cfg->points[0].high.setpoint, 7.5, 0.0);
    assert_float_equal(cfg->points[0].high.deadband, 0.5, 0.0);
    assert_int_equal(cfg->points[0].rules.n_limits, 1);
    assert_int_equal(cfg->points[0].rules.limits[0].kind, RULES_LIMIT_H);
    assert_false(cfg->points[1].high.enabled);
    assert_int_equal(cfg->points[1].rules.kind, RULES_POINT_PROCESS);
    assert_int_equal(cfg->points[1].rules.n_limits, 0);
    assert_false(cfg->points[1].rules.roc.rising || cfg->points[1].rules.roc.falling);
    config_free(cfg);
}

static void test_dup_point_far_apart(void **state)
{
    char *text = build_big(8, 40, 20);
    char *at = strstr(text, "\"d37.p11\"");

    (void)state;
    assert_non_null(at);
    memcpy(at, "\"d2.p5\"  ", 9);
    expect_parse_error(text,
                       "mem.json: devices[37].points[11].id: duplicate id \"d2.p5\" "
                       "(first at devices[2].points[5].id)");
    free(text);
}

/* ---- files ------------------------------------------------------------------------ */

/* The control section: defaults, rights, and a relative socket resolved like
 * profiles_dir. */
static void test_control_section(void **state)
{
    static const char *const text = MINIMAL_HEAD MINIMAL_DEVICES
        ",\n"
        "\"control\": {\"socket\": \"run/ctl.sock\", \"officers\": [\n"
        "  {\"id\": \"zhang.wei\", \"rights\": [\"ack\", \"shelve\", \"service\"]},\n"
        "  {\"id\": \"li.na@site-7\", \"rights\": [\"ack\"]},\n"
        "  {\"id\": \"visitor\", \"rights\": []}]}}\n";
    struct config *cfg = NULL;
    char err[CONFIG_ERR_LEN] = "";

    (void)state;
    cfg = parse_ok(MINIMAL);
    assert_string_equal(cfg->control.socket, "");
    assert_int_equal(cfg->control.n_officers, 0);
    assert_null(cfg->control.officers);
    config_free(cfg);

    assert_int_equal(config_parse("/etc/parkguard/site.json", text, strlen(text), &cfg,
                                  err, sizeof(err)),
                     0);
    assert_string_equal(cfg->control.socket, "/etc/parkguard/run/ctl.sock");
    assert_string_equal(cfg->control.group, "");
    assert_int_equal(cfg->control.n_officers, 3);
    assert_string_equal(cfg->control.officers[0].id, "zhang.wei");
    assert_int_equal(cfg->control.officers[0].rights,
                     ALARM_RIGHT_ACK | ALARM_RIGHT_SHELVE | ALARM_RIGHT_SERVICE);
    assert_string_equal(cfg->control.officers[1].id, "li.na@site-7");
    assert_int_equal(cfg->control.officers[1].rights, ALARM_RIGHT_ACK);
    assert_int_equal(cfg->control.officers[2].rights, 0);
    config_free(cfg);

    cfg = parse_ok(MINIMAL_HEAD MINIMAL_DEVICES
                   ",\n\"control\": {\"group\": \"parkguard\", "
                   "\"officers\": [{\"id\": \"a\", "
                   "\"rights\": [\"service\"]}]}}\n");
    assert_string_equal(cfg->control.socket, "/run/parkguard/control.sock");
    assert_string_equal(cfg->control.group, "parkguard");
    assert_int_equal(cfg->control.officers[0].rights, ALARM_RIGHT_SERVICE);
    config_free(cfg);

    expect_parse_error(MINIMAL_HEAD MINIMAL_DEVICES
                       ",\n\"control\": {\"officers\": [{\"id\": "
                       "\"a\", \"rights\": [7]}]}}\n",
                       "mem.json: control.officers[0].rights[0]: expected string, got 7");
}

static void test_missing_file(void **state)
{
    struct config *cfg = (struct config *)(uintptr_t)1;
    char err[CONFIG_ERR_LEN] = "";
    int rc;

    (void)state;
    rc = config_load(DATA_DIR "/no/such/x.json", &cfg, err, sizeof(err));
    assert_int_equal(rc, -ENOENT);
    assert_null(cfg);
    assert_string_equal(err, "x.json: cannot read: No such file or directory");

    cfg = (struct config *)(uintptr_t)1;
    rc = config_load(DATA_DIR "/good", &cfg, err, sizeof(err));
    assert_int_equal(rc, -EISDIR);
    assert_null(cfg);
    assert_string_equal(err, "good: cannot read: Is a directory");

    rc = config_load(NULL, &cfg, err, sizeof(err));
    assert_int_equal(rc, -EINVAL);
    assert_null(cfg);
}

static void test_too_large(void **state)
{
    char path[] = "/tmp/pg-test-config-XXXXXX";
    size_t size = CONFIG_MAX_FILE_BYTES + 1;
    struct config *cfg = NULL;
    char err[CONFIG_ERR_LEN] = "";
    char *text = malloc(size);
    FILE *f;
    int fd, rc;

    (void)state;
    assert_non_null(text);
    memset(text, ' ', size);
    text[0] = '{';
    text[size - 1] = '}';

    rc = config_parse("big.json", text, size, &cfg, err, sizeof(err));
    assert_int_equal(rc, -EFBIG);
    assert_null(cfg);
    assert_non_null(strstr(err, "big.json: too large"));

    fd = mkstemp(path);
    assert_true(fd >= 0);
    f = fdopen(fd, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, size, f), size);
    fclose(f);
    rc = config_load(path, &cfg, err, sizeof(err));
    unlink(path);
    free(text);
    assert_int_equal(rc, -EFBIG);
    assert_null(cfg);
    assert_non_null(strstr(err, "too large: 4194305 bytes, at most 4194304"));
}

/* ---- local outputs ---------------------------------------------------------------- */

#define BOARDS_DIR PG_TEST_DATA "/../../../hw/boards"

static void test_outputs(void **state)
{
    static const char text[] = MINIMAL_HEAD MINIMAL_DEVICES
        ",\n\"outputs\": {\"board\": \"x86-4r\", \"relays\": "
        "[{\"output\": \"do-2\", \"role\": \"siren\", \"priorities\": [1]}]}}\n";
    char err[CONFIG_ERR_LEN] = "";
    struct config *cfg = NULL;
    const struct config_output *o;

    (void)state;
    if (config_load(DATA_DIR "/good/06-outputs-gpio.json", &cfg, err, sizeof(err)) != 0)
        fail_msg("%s", err);
    assert_string_equal(cfg->outputs.board, "arm-2x485-r2");
    assert_string_equal(cfg->outputs.boards_dir, DATA_DIR "/good/../../../../hw/boards");
    assert_int_equal(cfg->outputs.backend, CONFIG_OUTPUTS_GPIO);
    assert_string_equal(cfg->outputs.sim_path, "");
    assert_int_equal(cfg->outputs.n, 2);
    o = &cfg->outputs.out[0];
    assert_string_equal(o->id, "relay-1");
    assert_int_equal(o->role, CONFIG_OUTPUT_BEACON);
    assert_int_equal(o->priorities, 1u << 1 | 1u << 2);
    assert_true(o->all_areas);
    assert_false(o->test);
    assert_string_equal(o->chip, "gpiochip0");
    assert_int_equal(o->line, 18);
    assert_false(o->active_low);
    o = &cfg->outputs.out[1];
    assert_string_equal(o->id, "relay-2");
    assert_int_equal(o->role, CONFIG_OUTPUT_SIREN);
    assert_int_equal(o->priorities, 1u << 1);
    assert_false(o->all_areas);
    assert_int_equal(o->areas[0], 1); /* zone-a is area 0 */
    assert_true(o->test);
    assert_int_equal(o->line, 19);
    config_free(cfg);

    if (config_load(DATA_DIR "/good/07-outputs-sim.json", &cfg, err, sizeof(err)) != 0)
        fail_msg("%s", err);
    assert_int_equal(cfg->outputs.backend, CONFIG_OUTPUTS_SIM);
    assert_string_equal(cfg->outputs.sim_path, "/tmp/parkguard-relays.log");
    assert_int_equal(cfg->outputs.n, 4);
    o = &cfg->outputs.out[3];
    assert_string_equal(o->id, "do-4");
    assert_string_equal(o->chip, "/dev/gpiochip1");
    assert_int_equal(o->line, 3);
    assert_true(o->active_low);
    assert_int_equal(o->areas[0], 3); /* zone-b and zone-a */
    assert_int_equal(o->areas[1], 0);
    config_free(cfg);

    /* No section, no relays. */
    if (config_load(DATA_DIR "/good/01-minimal-defaults.json", &cfg, err, sizeof(err)) !=
        0)
        fail_msg("%s", err);
    assert_int_equal(cfg->outputs.n, 0);
    config_free(cfg);

    /* The default boards_dir is ../hw/boards from the config's own directory. */
    cfg = NULL;
    if (config_parse(CONFIG_DIR "/site.json", text, strlen(text), &cfg, err,
                     sizeof(err)) != 0)
        fail_msg("%s", err);
    assert_string_equal(cfg->outputs.boards_dir, CONFIG_DIR "/../hw/boards");
    assert_int_equal(cfg->outputs.out[0].line, 1);
    config_free(cfg);
}

/* Every board in hw/boards, every one of its outputs used: each file must load. */
static void test_every_board(void **state)
{
    char path[1024];
    size_t n, boards = 0;
    char **names;

    (void)state;
    names = list_json(BOARDS_DIR, &n);
    for (size_t i = 0; i < n; i++) {
        struct buf b = {0};
        struct config *cfg;
        cJSON *root, *outs, *o;
        size_t k = 0;
        char *text;

        if (strcmp(names[i], "board.schema.json") == 0)
            continue;
        FMT(path, "%s/%s", BOARDS_DIR, names[i]);
        text = read_text(path, NULL);
        assert_non_null(text);
        root = cJSON_Parse(text);
        assert_non_null(root);
        outs = cJSON_GetObjectItemCaseSensitive(root, "outputs");
        assert_non_null(outs);
        buf_printf(&b,
                   "%s,\n\"outputs\": {\"board\": \"%.*s\", \"boards_dir\": \"%s\", "
                   "\"relays\": [",
                   MINIMAL_HEAD MINIMAL_DEVICES, (int)strlen(names[i]) - 5, names[i],
                   BOARDS_DIR);
        cJSON_ArrayForEach(o, outs)
        {
            buf_printf(
                &b, "%s{\"output\": \"%s\", \"role\": \"%s\", \"priorities\": [1]}",
                k ? ", " : "", cJSON_GetObjectItemCaseSensitive(o, "id")->valuestring,
                k % 2 ? "siren" : "beacon");
            k++;
        }
        buf_printf(&b, "]}}\n");
        cfg = parse_ok(b.data);
        assert_int_equal(cfg->outputs.n, k);
        config_free(cfg);
        cJSON_Delete(root);
        free(text);
        free(b.data);
        boards++;
    }
    free_names(names, n);
    print_message("%zu boards\n", boards);
    assert_true(boards >= 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_corpus),
        cmocka_unit_test(test_good_corpus),
        cmocka_unit_test(test_demo),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_explicit_values),
        cmocka_unit_test(test_vanadium_titanium),
        cmocka_unit_test(test_geliping),
        cmocka_unit_test(test_every_profile),
        cmocka_unit_test(test_profile_resolution),
        cmocka_unit_test(test_bus_defaults),
        cmocka_unit_test(test_inline_codec),
        cmocka_unit_test(test_parse_memory),
        cmocka_unit_test(test_topic_prefix_default_too_long),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_point_rules),
        cmocka_unit_test(test_limits_h_mirrors_high),
        cmocka_unit_test(test_dup_point_far_apart),
        cmocka_unit_test(test_control_section),
        cmocka_unit_test(test_missing_file),
        cmocka_unit_test(test_too_large),
        cmocka_unit_test(test_outputs),
        cmocka_unit_test(test_every_board),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
