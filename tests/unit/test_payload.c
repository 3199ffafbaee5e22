/*
 * Unit tests for payload: the MQTT topics and the schema-1 alarm event, checked by
 * parsing the produced JSON back with cJSON and asserting every field, plus the -ENOSPC
 * paths for buffers that are too small (each buffer allocated to its exact size, so that
 * ASan sees any write past it).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <math.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "payload.h"

/* The shape of config/demo.json, trimmed to what the payload reads. */
static const char demo_json[] =
    "{\n"
    "  \"gateway\": { \"id\": \"demo-gw-01\", \"site\": \"vanadium-titanium\" },\n"
    "  \"store\": { \"path\": \"parkguard-demo.db\" },\n"
    "  \"mqtt\": { \"uri\": \"tcp://127.0.0.1:1883\" },\n"
    "  \"areas\": [\n"
    "    { \"id\": \"vt-unit3-chlorination\", \"name\": \"Unit 3 chlorination bay\" },\n"
    "    { \"id\": \"vt-tankfarm-b\", \"name\": \"Tank farm B\" }\n"
    "  ],\n"
    "  \"buses\": [\n"
    "    { \"id\": \"field-tcp-a\", \"type\": \"tcp\", \"host\": \"127.0.0.1\",\n"
    "      \"port\": 1502 }\n"
    "  ],\n"
    "  \"devices\": [\n"
    "    { \"id\": \"gd-301\", \"bus\": \"field-tcp-a\", \"unit_id\": 1,\n"
    "      \"poll_ms\": 250,\n"
    "      \"points\": [\n"
    "        { \"id\": \"gd-301.ch4\", \"area\": \"vt-unit3-chlorination\",\n"
    "          \"table\": \"holding\", \"address\": 0, \"type\": \"uint16\",\n"
    "          \"scale\": 0.1, \"unit\": \"%LEL\",\n"
    "          \"high\": { \"setpoint\": 25.0, \"deadband\": 2.0 } }\n"
    "      ] },\n"
    "    { \"id\": \"pt-b12\", \"bus\": \"field-tcp-a\", \"unit_id\": 2,\n"
    "      \"poll_ms\": 500,\n"
    "      \"points\": [\n"
    "        { \"id\": \"pt-b12.pressure\", \"area\": \"vt-tankfarm-b\",\n"
    "          \"table\": \"input\", \"address\": 0, \"type\": \"uint16\",\n"
    "          \"scale\": 0.1, \"unit\": \"kPa\",\n"
    "          \"high\": { \"setpoint\": 1600.0, \"deadband\": 20.0 } },\n"
    "        { \"id\": \"pt-b12.temp\", \"area\": \"vt-tankfarm-b\",\n"
    "          \"table\": \"input\", \"address\": 1, \"type\": \"int16\",\n"
    "          \"scale\": 0.1, \"unit\": \"degC\" }\n"
    "      ] }\n"
    "  ]\n"
    "}\n";

/* ---- helpers ---------------------------------------------------------------------- */

static struct config *parse_ok(const char *text)
{
    struct config *cfg = NULL;
    char err[CONFIG_ERR_LEN] = "";
    int rc = config_parse("mem.json", text, strlen(text), &cfg, err, sizeof(err));

    if (rc != 0)
        fail_msg("config_parse: rc %d: %s", rc, err);
    assert_non_null(cfg);
    return cfg;
}

static size_t point_index(const struct config *cfg, const char *id)
{
    long i = config_point_index(cfg, id);

    if (i < 0)
        fail_msg("no point %s", id);
    return (size_t)i;
}

static int setup_demo(void **state)
{
    *state = parse_ok(demo_json);
    return 0;
}

static int teardown_cfg(void **state)
{
    config_free(*state);
    return 0;
}

/* The two condition changes of the old tests, as alarm steps. */
enum { ACTIVATED, CLEARED };

/*
 * An alarm event: ACTIVATED is alm from normal to unack, CLEARED is rtn from acked to
 * normal (an acknowledged alarm whose condition went away).
 */
static struct msg_event event(uint32_t point, int kind, uint64_t seq, double value,
                              int64_t utc_ms)
{
    struct msg_event ev;

    memset(&ev, 0, sizeof(ev));
    ev.seq = seq;
    ev.point = point;
    ev.type = MSG_EV_ALARM;
    ev.event = kind == ACTIVATED ? ALARM_EV_ALM : ALARM_EV_RTN;
    ev.from = kind == ACTIVATED ? ALARM_NORMAL : ALARM_ACKED;
    ev.to = kind == ACTIVATED ? ALARM_UNACK : ALARM_NORMAL;
    ev.flags = kind == ACTIVATED ? MSG_F_CONDITION | MSG_F_ANNUNCIATE : 0;
    ev.priority = 3;
    ev.since_utc_ms = utc_ms;
    ev.limit = MSG_LIMIT_HIGH;
    ev.value = value;
    ev.setpoint = 25.0;
    ev.deadband = 2.0;
    ev.mono_ns = 123456789;
    ev.utc_ms = utc_ms;
    return ev;
}

/* The topic of an alarm event of point. */
static int topic_of(const struct config *cfg, long point, char *buf, size_t len)
{
    struct msg_event ev = event((uint32_t)point, ACTIVATED, 1, 1.0, 0);

    return payload_event_topic(cfg, &ev, buf, len);
}

/* Encode ev into a large buffer and parse it back; the caller frees the tree. */
static cJSON *encode_parse(const struct config *cfg, const struct msg_event *ev,
                           char *buf, size_t len)
{
    int n = payload_alarm_event(cfg, ev, buf, len);
    cJSON *o;

    if (n < 0)
        fail_msg("payload_alarm_event: %d", n);
    assert_int_equal((size_t)n, strlen(buf));
    o = cJSON_ParseWithLength(buf, (size_t)n);
    if (o == NULL)
        fail_msg("not JSON: %s", buf);
    assert_true(cJSON_IsObject(o));
    return o;
}

static void json_string(const cJSON *o, const char *key, const char *want)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

    if (!cJSON_IsString(v))
        fail_msg("\"%s\" is missing or not a string", key);
    assert_string_equal(v->valuestring, want);
}

static void json_number(const cJSON *o, const char *key, double want)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

    if (!cJSON_IsNumber(v))
        fail_msg("\"%s\" is missing or not a number", key);
    if (!(v->valuedouble == want))
        fail_msg("\"%s\" = %.17g, want %.17g", key, v->valuedouble, want);
}

static void json_bool(const cJSON *o, const char *key, bool want)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

    if (!cJSON_IsBool(v))
        fail_msg("\"%s\" is missing or not a boolean", key);
    assert_int_equal(cJSON_IsTrue(v), want);
}

/* ---- topics ----------------------------------------------------------------------- */

static void test_alarm_topic(void **state)
{
    const struct config *cfg = *state;
    char buf[MSG_TOPIC_LEN];
    const char *want = "parkguard/vanadium-titanium/demo-gw-01/alarm/gd-301.ch4";
    int n;

    n = topic_of(cfg, point_index(cfg, "gd-301.ch4"), buf, sizeof(buf));
    assert_int_equal(n, (int)strlen(want));
    assert_string_equal(buf, want);

    n = topic_of(cfg, point_index(cfg, "pt-b12.temp"), buf, sizeof(buf));
    assert_string_equal(buf, "parkguard/vanadium-titanium/demo-gw-01/alarm/pt-b12.temp");
    assert_int_equal(n, (int)strlen(buf));
}

static void test_status_topic(void **state)
{
    const struct config *cfg = *state;
    char buf[MSG_TOPIC_LEN];
    const char *want = "parkguard/vanadium-titanium/demo-gw-01/status";

    assert_int_equal(payload_status_topic(cfg, buf, sizeof(buf)), (int)strlen(want));
    assert_string_equal(buf, want);
}

static void test_topics_with_custom_prefix(void **state)
{
    char json[sizeof(demo_json) + 64];
    const char *from = "\"mqtt\": { \"uri\": \"tcp://127.0.0.1:1883\" }";
    const char *at = strstr(demo_json, from);
    struct config *cfg;
    char buf[MSG_TOPIC_LEN];
    int n;

    (void)state;
    assert_non_null(at);
    n = snprintf(json, sizeof(json),
                 "%.*s\"mqtt\": { \"uri\": \"tcp://h:1883\", "
                 "\"topic_prefix\": \"plant7/gas\" }%s",
                 (int)(at - demo_json), demo_json, at + strlen(from));
    assert_true(n > 0 && (size_t)n < sizeof(json));
    cfg = parse_ok(json);
    assert_int_equal(topic_of(cfg, 0, buf, sizeof(buf)), 27);
    assert_string_equal(buf, "plant7/gas/alarm/gd-301.ch4");
    assert_int_equal(payload_status_topic(cfg, buf, sizeof(buf)), 17);
    assert_string_equal(buf, "plant7/gas/status");
    config_free(cfg);
}

/* Every buffer length around the exact size: len must be > the length, for the NUL. */
static void test_topic_enospc_boundary(void **state)
{
    const struct config *cfg = *state;
    const char *want = "parkguard/vanadium-titanium/demo-gw-01/alarm/gd-301.ch4";
    const char *want_st = "parkguard/vanadium-titanium/demo-gw-01/status";
    size_t tlen = strlen(want), slen = strlen(want_st);

    for (size_t len = 1; len <= tlen + 1; len++) {
        char *buf = malloc(len);
        int n;

        assert_non_null(buf);
        n = topic_of(cfg, 0, buf, len);
        if (len <= tlen)
            assert_int_equal(n, -ENOSPC);
        else
            assert_string_equal(buf, want);
        free(buf);
    }
    for (size_t len = 1; len <= slen + 1; len++) {
        char *buf = malloc(len);
        int n;

        assert_non_null(buf);
        n = payload_status_topic(cfg, buf, len);
        assert_int_equal(n, len <= slen ? -ENOSPC : (int)slen);
        free(buf);
    }
}

/*
 * The longest topic a valid config allows: a 127-character topic_prefix and a
 * 63-character point id give 197 characters. It must fit a struct msg_outbox topic, and a
 * buffer too small must get -ENOSPC, never a truncated topic, which would publish the
 * alarm on some other point's topic.
 */
static void test_longest_topic_fits_outbox(void **state)
{
    char prefix[128], id[64], json[4096];
    struct config *cfg;
    char buf[MSG_TOPIC_LEN], small[197];
    int n;

    (void)state;
    memset(prefix, 'p', 127);
    prefix[127] = '\0';
    memset(id, 'x', 63);
    id[63] = '\0';
    n = snprintf(
        json, sizeof(json),
        "{\"gateway\": {\"id\": \"gw\", \"site\": \"s\"},"
        "\"store\": {\"path\": \"x.db\"},"
        "\"mqtt\": {\"uri\": \"tcp://localhost:1883\", \"topic_prefix\": \"%s\"},"
        "\"areas\": [{\"id\": \"a\"}],"
        "\"buses\": [{\"id\": \"b\", \"type\": \"tcp\", \"host\": \"h\","
        " \"port\": 502}],"
        "\"devices\": [{\"id\": \"d\", \"bus\": \"b\", \"unit_id\": 1,"
        " \"poll_ms\": 100, \"points\": [{\"id\": \"%s\", \"area\": \"a\","
        " \"address\": 3}]}]}",
        prefix, id);
    assert_true(n > 0 && (size_t)n < sizeof(json));
    cfg = parse_ok(json);

    /*
     * The longest topic a valid config allows (197 bytes) must fit an outbox slot, or the
     * recorder could never store that point's events.
     */
    assert_int_equal(topic_of(cfg, 0, buf, sizeof(buf)), 127 + 7 + 63);
    assert_int_equal(strncmp(buf, prefix, 127), 0);
    assert_int_equal(strncmp(buf + 127, "/alarm/", 7), 0);
    assert_string_equal(buf + 134, id);
    /* One byte short of room for the terminator is refused, not truncated. */
    assert_int_equal(topic_of(cfg, 0, small, sizeof(small)), -ENOSPC);
    /* The status topic (134 characters) still fits. */
    assert_int_equal(payload_status_topic(cfg, buf, sizeof(buf)), 127 + 7);
    config_free(cfg);
}

/* ---- alarm event ------------------------------------------------------------------ */

static void test_event_activated_all_fields(void **state)
{
    const struct config *cfg = *state;
    uint32_t p = (uint32_t)point_index(cfg, "gd-301.ch4");
    struct msg_event ev = event(p, ACTIVATED, 42, 27.3, INT64_C(1795862302460));
    char buf[MSG_PAYLOAD_LEN];
    cJSON *o = encode_parse(cfg, &ev, buf, sizeof(buf));

    json_number(o, "schema", 2);
    json_string(o, "type", "alarm");
    json_string(o, "gateway", "demo-gw-01");
    json_string(o, "site", "vanadium-titanium");
    json_number(o, "seq", 42);
    json_string(o, "point", "gd-301.ch4");
    json_string(o, "device", "gd-301");
    json_string(o, "area", "vt-unit3-chlorination");
    json_string(o, "limit", "high");
    json_string(o, "event", "alm");
    json_string(o, "from", "normal");
    json_string(o, "to", "unack");
    json_bool(o, "active", true);
    json_bool(o, "condition", true);
    json_number(o, "priority", 3);
    json_bool(o, "first_out", false);
    json_bool(o, "annunciate", true);
    json_bool(o, "latching", false);
    json_number(o, "since_ms", 1795862302460.0);
    json_bool(o, "test", false);
    json_string(o, "quality", "good");
    json_number(o, "value", 27.3);
    json_number(o, "setpoint", 25.0);
    json_number(o, "deadband", 2.0);
    json_string(o, "unit", "%LEL");
    json_string(o, "ts", "2026-11-28T10:38:22.460Z");
    json_number(o, "ts_ms", 1795862302460.0);
    /* The monotonic time of the step, in whole ms (the fixture's 123456789 ns). */
    json_number(o, "mono_ms", 123.0);
    /* Exactly these 28 fields: a new one is a schema change (docs/mqtt.md). */
    assert_int_equal(cJSON_GetArraySize(o), 28);
    /* Compact: no pretty-printing whitespace on the wire. */
    assert_null(strchr(buf, '\n'));
    assert_null(strchr(buf, ' '));
    /* The value travels as 27.3, not 27.300000000000001. */
    assert_non_null(strstr(buf, "\"value\":27.3,"));
    cJSON_Delete(o);
}

static void test_event_cleared(void **state)
{
    const struct config *cfg = *state;
    uint32_t p = (uint32_t)point_index(cfg, "pt-b12.temp");
    struct msg_event ev = event(p, CLEARED, 7, -3.5, INT64_C(1700000000000));
    char buf[MSG_PAYLOAD_LEN];
    cJSON *o;

    ev.setpoint = -2.0;
    ev.deadband = 0.5;
    ev.flags =
        MSG_F_TEST; /* decided by a sample taken while the device was in test mode */
    o = encode_parse(cfg, &ev, buf, sizeof(buf));
    json_string(o, "event", "rtn");
    json_string(o, "from", "acked");
    json_string(o, "to", "normal");
    json_bool(o, "active", false);
    json_bool(o, "condition", false);
    json_bool(o, "test", true);
    json_string(o, "point", "pt-b12.temp");
    json_string(o, "device", "pt-b12");
    json_string(o, "area", "vt-tankfarm-b");
    json_string(o, "unit", "degC");
    json_number(o, "seq", 7);
    json_number(o, "value", -3.5);
    json_number(o, "setpoint", -2.0);
    json_number(o, "deadband", 0.5);
    json_string(o, "ts", "2023-11-14T22:13:20.000Z");
    json_number(o, "ts_ms", 1700000000000.0);
    cJSON_Delete(o);
}

/* An instrument fault: its own limit, the bad quality, no value yet and no setpoint. */
static void test_event_fault(void **state)
{
    const struct config *cfg = *state;
    uint32_t p = (uint32_t)point_index(cfg, "gd-301.ch4");
    struct msg_event ev = event(p, ACTIVATED, 9, NAN, INT64_C(1700000000000));
    char buf[MSG_PAYLOAD_LEN];
    cJSON *o;

    ev.limit = MSG_LIMIT_FAULT;
    ev.quality = MSG_Q_COMM_LOSS;
    ev.setpoint = NAN;
    ev.deadband = NAN;
    o = encode_parse(cfg, &ev, buf, sizeof(buf));
    json_string(o, "limit", "fault");
    json_string(o, "event", "alm");
    json_string(o, "quality", "comm-loss");
    assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(o, "value")));
    assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(o, "setpoint")));
    assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(o, "deadband")));
    assert_int_equal(cJSON_GetArraySize(o), 28);
    cJSON_Delete(o);
}

static void test_event_timestamps(void **state)
{
    const struct config *cfg = *state;
    static const struct {
        int64_t ms;
        const char *iso;
    } cases[] = {
        {0, "1970-01-01T00:00:00.000Z"},
        {1, "1970-01-01T00:00:00.001Z"},
        {999, "1970-01-01T00:00:00.999Z"},
        {1000, "1970-01-01T00:00:01.000Z"},
        {INT64_C(951782400005), "2000-02-29T00:00:00.005Z"}, /* leap day */
        {INT64_C(1795862302460), "2026-11-28T10:38:22.460Z"},
        {INT64_C(1798761599999), "2026-12-31T23:59:59.999Z"},
        {INT64_C(4102444800000), "2100-01-01T00:00:00.000Z"}, /* past 2038 */
    };
    char buf[MSG_PAYLOAD_LEN];

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct msg_event ev = event(0, ACTIVATED, 1, 30.0, cases[i].ms);
        cJSON *o = encode_parse(cfg, &ev, buf, sizeof(buf));

        json_string(o, "ts", cases[i].iso);
        json_number(o, "ts_ms", (double)cases[i].ms);
        cJSON_Delete(o);
    }
    (void)state;
}

/*
 * A wall clock before 1970 (a gateway whose clock was set back by hand) must still give a
 * well-formed ISO 8601 time: -1 ms is 1969-12-31T23:59:59.999Z. Exposes a bug in
 * payload.c iso8601(): C division truncates toward zero, so -1 gives second 0 and
 * millisecond -1, printed as "1970-01-01T00:00:00.-01Z".
 */
static void test_event_timestamp_before_epoch(void **state)
{
    const struct config *cfg = *state;
    static const struct {
        int64_t ms;
        const char *iso;
    } cases[] = {
        {-1, "1969-12-31T23:59:59.999Z"},
        {-1000, "1969-12-31T23:59:59.000Z"},
        {-1500, "1969-12-31T23:59:58.500Z"},
    };
    char buf[MSG_PAYLOAD_LEN];

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct msg_event ev = event(0, ACTIVATED, 1, 30.0, cases[i].ms);
        cJSON *o = encode_parse(cfg, &ev, buf, sizeof(buf));
        const cJSON *ts = cJSON_GetObjectItemCaseSensitive(o, "ts");
        char got[64] = "(missing)";

        /* Copy out and free first, so that a failure does not leak the tree. */
        if (cJSON_IsString(ts))
            (void)snprintf(got, sizeof(got), "%s", ts->valuestring);
        cJSON_Delete(o);
        if (strcmp(got, cases[i].iso) != 0)
            fail_msg("ts_ms %lld: ts \"%s\", want \"%s\"", (long long)cases[i].ms, got,
                     cases[i].iso);
    }
}

/*
 * Integers above 2^31 must survive the double round trip exactly. cJSON prints a number
 * with 15 significant digits whenever that reads back within DBL_EPSILON of it, so
 * integers are exact up to 10^15 - 1 only (not 2^53): a 16-digit seq would be rounded.
 * That is still about 30,000 years of events at one per millisecond.
 */
static void test_event_large_integers(void **state)
{
    const struct config *cfg = *state;
    char buf[MSG_PAYLOAD_LEN];
    struct msg_event ev =
        event(0, ACTIVATED, UINT64_C(123456789012345), 30.0, INT64_C(1795862302460));
    cJSON *o = encode_parse(cfg, &ev, buf, sizeof(buf));

    json_number(o, "seq", 123456789012345.0);
    assert_non_null(strstr(buf, "\"seq\":123456789012345,"));
    assert_non_null(strstr(buf, "\"ts_ms\":1795862302460,"));
    cJSON_Delete(o);

    ev.seq = UINT64_C(999999999999999);
    o = encode_parse(cfg, &ev, buf, sizeof(buf));
    json_number(o, "seq", 999999999999999.0);
    cJSON_Delete(o);

    ev.seq = UINT64_C(2147483648); /* INT_MAX + 1: past cJSON's valueint */
    o = encode_parse(cfg, &ev, buf, sizeof(buf));
    json_number(o, "seq", 2147483648.0);
    assert_non_null(strstr(buf, "\"seq\":2147483648,"));
    cJSON_Delete(o);
}

/*
 * The largest event a valid config can produce must still fit a struct msg_outbox
 * payload: 63-character ids everywhere, a 15-character unit, long numbers.
 */
static void test_event_worst_case_fits_outbox(void **state)
{
    char ids[5][64], json[4096];
    struct config *cfg;
    char buf[MSG_PAYLOAD_LEN];
    struct msg_event ev;
    cJSON *o;
    int n;

    (void)state;
    for (int i = 0; i < 5; i++) {
        memset(ids[i], 'a' + i, 63);
        ids[i][63] = '\0';
    }
    n = snprintf(json, sizeof(json),
                 "{\"gateway\": {\"id\": \"%s\", \"site\": \"%s\"},"
                 "\"store\": {\"path\": \"x.db\"},"
                 "\"mqtt\": {\"uri\": \"tcp://localhost:1883\", \"topic_prefix\": \"t\"},"
                 "\"areas\": [{\"id\": \"%s\"}],"
                 "\"buses\": [{\"id\": \"b\", \"type\": \"tcp\", \"host\": \"h\","
                 " \"port\": 502}],"
                 "\"devices\": [{\"id\": \"%s\", \"bus\": \"b\", \"unit_id\": 1,"
                 " \"poll_ms\": 100, \"points\": [{\"id\": \"%s\", \"area\": \"%s\","
                 " \"address\": 3, \"unit\": \"uuuuuuuuuuuuuuu\"}]}]}",
                 ids[0], ids[1], ids[2], ids[3], ids[4], ids[2]);
    assert_true(n > 0 && (size_t)n < sizeof(json));
    cfg = parse_ok(json);

    ev = event(0, ACTIVATED, UINT64_MAX, -1.2345678901234567e-300,
               INT64_C(253402300799999)); /* 9999-12-31T23:59:59.999Z */
    ev.setpoint = -1.2345678901234567e+300;
    ev.deadband = 9.8765432109876543e-299;
    o = encode_parse(cfg, &ev, buf, sizeof(buf));
    json_string(o, "gateway", ids[0]);
    json_string(o, "site", ids[1]);
    json_string(o, "area", ids[2]);
    json_string(o, "device", ids[3]);
    json_string(o, "point", ids[4]);
    json_string(o, "unit", "uuuuuuuuuuuuuuu");
    json_number(o, "value", -1.2345678901234567e-300);
    json_number(o, "setpoint", -1.2345678901234567e+300);
    json_number(o, "deadband", 9.8765432109876543e-299);
    json_string(o, "ts", "9999-12-31T23:59:59.999Z");
    cJSON_Delete(o);
    config_free(cfg);
}

/*
 * Every buffer too small for the text plus its NUL is refused with -ENOSPC, and no length
 * makes the encoder write past the buffer (each one is malloc'd to exactly len bytes).
 * Between the exact size and the encoder's reserve (payload.c keeps cJSON's 5 spare bytes
 * out of the buffer, and cJSON itself asks for one more than it writes) either answer is
 * acceptable, but a success must be the whole text.
 */
static void test_event_enospc(void **state)
{
    const struct config *cfg = *state;
    struct msg_event ev = event(0, ACTIVATED, 42, 27.3, INT64_C(1795862302460));
    char full[MSG_PAYLOAD_LEN];
    int n = payload_alarm_event(cfg, &ev, full, sizeof(full));
    size_t len_ok = 0;

    assert_true(n > 100);
    assert_int_equal(payload_alarm_event(cfg, &ev, full, 0), -ENOSPC);
    for (size_t len = 1; len <= (size_t)n + 16; len++) {
        char *buf = malloc(len);
        int m;

        assert_non_null(buf);
        m = payload_alarm_event(cfg, &ev, buf, len);
        if (len <= (size_t)n) {
            if (m != -ENOSPC)
                fail_msg("len %zu: got %d, want -ENOSPC", len, m);
        } else if (m >= 0) {
            assert_int_equal(m, n);
            assert_memory_equal(buf, full, (size_t)n + 1);
            if (len_ok == 0)
                len_ok = len;
        } else {
            assert_int_equal(m, -ENOSPC);
        }
        free(buf);
    }
    /* Some length up to n + 16 must work, or the reserve has grown unnoticed. */
    assert_true(len_ok != 0);
}

/*
 * The limit names are wire format: subscribers and stored events key on them, and HIGH
 * and FAULT keep the codes they had before the other limits were appended.
 */
static void test_limit_names(void **state)
{
    static const char *const wire[] = {
        "high",   "fault",   "hh",       "l",        "ll",   "level1",     "level2",
        "o2-low", "o2-high", "roc-rise", "roc-fall", "vote", "maintenance"};

    (void)state;
    assert_int_equal(MSG_LIMIT_HIGH, 0);
    assert_int_equal(MSG_LIMIT_FAULT, 1);
    assert_int_equal(MSG_LIMIT_COUNT, sizeof(wire) / sizeof(wire[0]));
    for (unsigned i = 0; i < MSG_LIMIT_COUNT; i++)
        assert_string_equal(msg_limit_name(i), wire[i]);
    assert_string_equal(msg_limit_name(MSG_LIMIT_COUNT), "invalid");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_alarm_topic, setup_demo, teardown_cfg),
        cmocka_unit_test_setup_teardown(test_status_topic, setup_demo, teardown_cfg),
        cmocka_unit_test(test_topics_with_custom_prefix),
        cmocka_unit_test_setup_teardown(test_topic_enospc_boundary, setup_demo,
                                        teardown_cfg),
        cmocka_unit_test(test_longest_topic_fits_outbox),
        cmocka_unit_test_setup_teardown(test_event_activated_all_fields, setup_demo,
                                        teardown_cfg),
        cmocka_unit_test_setup_teardown(test_event_cleared, setup_demo, teardown_cfg),
        cmocka_unit_test_setup_teardown(test_event_fault, setup_demo, teardown_cfg),
        cmocka_unit_test_setup_teardown(test_event_timestamps, setup_demo, teardown_cfg),
        cmocka_unit_test_setup_teardown(test_event_timestamp_before_epoch, setup_demo,
                                        teardown_cfg),
        cmocka_unit_test_setup_teardown(test_event_large_integers, setup_demo,
                                        teardown_cfg),
        cmocka_unit_test(test_event_worst_case_fits_outbox),
        cmocka_unit_test(test_limit_names),
        cmocka_unit_test_setup_teardown(test_event_enospc, setup_demo, teardown_cfg),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
