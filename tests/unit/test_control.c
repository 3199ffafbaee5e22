/*
 * Unit tests for control: the request decoder and line handler with exact replies, then
 * the whole command path against the real RT loop (commands through the ring, the alarm
 * state machine, the journal), then the socket itself: framing, mode, stale sockets and
 * who may connect.
 *
 * The tests run as root, as the CI container does. The credential tests fork children
 * that drop to nobody (65534) before connecting; they are skipped when not root.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <grp.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "alarm.h"
#include "config.h"
#include "control.h"
#include "log.h"
#include "msg.h"
#include "pgtime.h"
#include "ring.h"
#include "rtloop.h"

#define NOBODY 65534

/*
 * Two combustible detectors and a temperature in two areas; zone-a votes 2 out of 2.
 * gd-1.ch4 level1 is P2 and shelvable, level2 P1, latching and not shelvable.
 */
static const char site[] =
    "{\"gateway\": {\"id\": \"gw-test\", \"site\": \"lab\"},\n"
    "\"store\": {\"path\": \"x.db\"},\n"
    "\"mqtt\": {\"uri\": \"tcp://localhost:1883\"},\n"
    "\"areas\": [{\"id\": \"zone-a\", \"vote\": {\"k\": 2}}, {\"id\": \"zone-b\"}],\n"
    "\"buses\": [{\"id\": \"b\", \"type\": \"tcp\", \"host\": \"h\", \"port\": 502}],\n"
    "\"devices\": [{\"id\": \"d\", \"bus\": \"b\", \"unit_id\": 1, \"poll_ms\": 100,\n"
    "  \"points\": [\n"
    "    {\"id\": \"gd-1.ch4\", \"area\": \"zone-a\", \"address\": 0, \"unit\": "
    "\"%LEL\",\n"
    "     \"gas\": {\"class\": \"combustible\"},\n"
    "     \"limits\": {\"level1\": {\"setpoint\": 20}, \"level2\": {\"setpoint\": "
    "40}}},\n"
    "    {\"id\": \"gd-2.ch4\", \"area\": \"zone-a\", \"address\": 1, \"unit\": "
    "\"%LEL\",\n"
    "     \"gas\": {\"class\": \"combustible\"},\n"
    "     \"limits\": {\"level1\": {\"setpoint\": 20}, \"level2\": {\"setpoint\": "
    "40}}},\n"
    "    {\"id\": \"pt-1.temp\", \"area\": \"zone-b\", \"address\": 2, \"unit\": "
    "\"degC\",\n"
    "     \"high\": {\"setpoint\": 80}}]}],\n"
    "\"control\": {\"socket\": \"ctl.sock\", \"officers\": [\n"
    "  {\"id\": \"zhang.wei\", \"rights\": [\"ack\", \"shelve\", \"service\"]},\n"
    "  {\"id\": \"li.na\", \"rights\": [\"ack\"]},\n"
    "  {\"id\": \"visitor\", \"rights\": []}]}}\n";

/* ---- fixture: a config, the rings, a real RT loop and a control source ------------ */

struct fx {
    char dir[64];
    struct config *cfg;
    struct ring *samples, *commands, *results, *events, *readings;
    int wake_fd;
    struct ring *rings[1];    /* the RT loop keeps pointers to this array */
    struct rtloop_source src; /* and to this */
    struct rtloop *rt;
    struct control *ctl;
    bool rt_started;
    uint64_t last_seq;
};

static void fx_start_rt(struct fx *f)
{
    bool fifo, pinned;

    assert_int_equal(rtloop_start(f->rt, &fifo, &pinned), 0);
    f->rt_started = true;
}

/* A fixture with a command ring of cmd_cap slots; the loop starts when start_rt. */
static struct fx *fx_new(size_t cmd_cap, bool start_rt, const char *group)
{
    struct fx *f = calloc(1, sizeof(*f));
    char name[128], err[CONFIG_ERR_LEN] = "";
    char *text;
    struct rtloop_params p;
    int rc;

    assert_non_null(f);
    snprintf(f->dir, sizeof(f->dir), "/tmp/pgctl-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(name, sizeof(name), "%s/site.json", f->dir);
    if (group == NULL) {
        text = strdup(site);
    } else {
        text = malloc(sizeof(site) + 64);
        assert_non_null(text);
        snprintf(text, sizeof(site) + 64, "%.*s\"group\": \"%s\", %s",
                 (int)(strstr(site, "\"officers\"") - site), site, group,
                 strstr(site, "\"officers\""));
    }
    assert_non_null(text);
    rc = config_parse(name, text, strlen(text), &f->cfg, err, sizeof(err));
    /* On disk as well, for parkguardctl -c. */
    {
        FILE *file = fopen(name, "w");

        assert_non_null(file);
        assert_int_equal(fputs(text, file) >= 0, 1);
        assert_int_equal(fclose(file), 0);
    }
    free(text);
    if (rc != 0)
        fail_msg("config: %s", err);
    f->samples = ring_new(sizeof(struct msg_sample), 1024);
    f->commands = ring_new(sizeof(struct msg_command), cmd_cap);
    f->results = ring_new(sizeof(struct msg_cmd_result), 64);
    f->events = ring_new(sizeof(struct msg_event), 4096);
    f->readings = ring_new(sizeof(struct msg_sample), 4096);
    f->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    assert_true(f->samples && f->commands && f->results && f->events && f->readings);
    assert_true(f->wake_fd >= 0);
    f->src = (struct rtloop_source){f->commands, f->results, f->wake_fd};
    f->rings[0] = f->samples;
    p = (struct rtloop_params){
        .cfg = f->cfg,
        .sample_rings = f->rings,
        .n_rings = 1,
        .sources = &f->src,
        .n_sources = 1,
        .events = f->events,
        .readings = f->readings,
        .first_seq = 1,
        .wake_fd = -1,
        .outputs_fd = -1,
    };
    f->rt = rtloop_new(&p);
    assert_non_null(f->rt);
    if (start_rt)
        fx_start_rt(f);
    return f;
}

static void fx_free(struct fx *f)
{
    char path[128];

    control_close(f->ctl);
    rtloop_free(f->rt);
    ring_free(f->samples);
    ring_free(f->commands);
    ring_free(f->results);
    ring_free(f->events);
    ring_free(f->readings);
    close(f->wake_fd);
    snprintf(path, sizeof(path), "%s/ctl.sock", f->dir);
    /* control_stop() unlinks its socket: nothing may be left but the config. */
    assert_int_equal(access(path, F_OK), -1);
    snprintf(path, sizeof(path), "%s/site.json", f->dir);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(rmdir(f->dir), 0);
    config_free(f->cfg);
    free(f);
}

static void fx_open(struct fx *f)
{
    assert_int_equal(control_open(f->cfg, f->rt, &f->src, &f->ctl), 0);
}

static void push_sample(struct fx *f, const char *point, double value)
{
    long i = config_point_index(f->cfg, point);
    struct msg_sample s = {
        .point = (uint32_t)i,
        .quality = MSG_Q_GOOD,
        .value = value,
        .mono_ns = pgtime_mono_ns(),
        .utc_ms = pgtime_utc_ms(),
    };

    assert_true(i >= 0);
    assert_true(ring_push(f->samples, &s));
}

/* The record of one alarm, found by point (or area for VOTE) and limit. */
static bool find_alarm(struct fx *f, uint32_t point, uint8_t limit,
                       struct rtloop_alarm *out)
{
    for (size_t i = 0; i < rtloop_alarm_count(f->rt); i++) {
        int rc;

        do
            rc = rtloop_alarm_get(f->rt, i, out);
        while (rc == -EAGAIN);
        assert_int_equal(rc, 0);
        if (out->point == point && out->limit == limit)
            return true;
    }
    return false;
}

static void wait_state(struct fx *f, const char *point, uint8_t limit, uint8_t state)
{
    long p = config_point_index(f->cfg, point);
    struct rtloop_alarm a = {0};

    for (int i = 0; i < 500; i++) {
        if (find_alarm(f, (uint32_t)p, limit, &a) && a.state == state)
            return;
        usleep(10000);
    }
    fail_msg("%s %s: state %s, wanted %s", point, msg_limit_name(limit),
             alarm_state_name(a.state), alarm_state_name(state));
}

/* Replace every "seq":N by "seq":# so that replies compare exactly; return the last N. */
static uint64_t mask_seq(char *s)
{
    uint64_t seq = 0;

    for (char *p = strstr(s, "\"seq\":"); p != NULL; p = strstr(p + 1, "\"seq\":")) {
        char *d = p + 6, *e = d;

        seq = strtoull(d, &e, 10);
        assert_true(e > d);
        *d = '#';
        memmove(d + 1, e, strlen(e) + 1);
    }
    return seq;
}

/* Serve one line and compare the reply exactly (seq masked). Returns the seq. */
static uint64_t expect_line(struct fx *f, const char *req, const char *want)
{
    char *reply = control_handle_line(f->ctl, req, strlen(req));
    char got[4096];
    uint64_t seq;

    assert_non_null(reply);
    seq = mask_seq(reply);
    snprintf(got, sizeof(got), "%s", reply);
    free(reply);
    if (strcmp(got, want) != 0)
        fail_msg("request %s\n  got    %s\n  wanted %s", req, got, want);
    return seq;
}

/* The journal event with this seq: the RT loop records every command. */
static struct msg_event journal(struct fx *f, uint64_t seq)
{
    struct msg_event ev;

    for (int i = 0; i < 500; i++) {
        while (ring_pop(f->events, &ev)) {
            if (ev.seq == seq)
                return ev;
        }
        usleep(10000);
    }
    fail_msg("no event with seq %llu", (unsigned long long)seq);
    memset(&ev, 0, sizeof(ev));
    return ev;
}

/* ---- the decoder and line handler: refusals before the ring ----------------------- */

struct refusal {
    const char *request;
    const char *reply;
};

static const struct refusal refusals[] = {
    {"not json",
     "{\"id\":null,\"ok\":false,\"error\":\"bad_request\",\"detail\":\"not valid "
     "JSON\"}"},
    {"{\"id\": 1, \"cmd\": \"status\"} x", "{\"id\":null,\"ok\":false,\"error\":\"bad_"
                                           "request\",\"detail\":\"not valid JSON\"}"},
    {"[1, 2]",
     "{\"id\":null,\"ok\":false,\"error\":\"bad_request\",\"detail\":\"expected a "
     "JSON object\"}"},
    {"{\"id\": -1, \"cmd\": \"status\"}", "{\"id\":null,\"ok\":false,\"error\":\"bad_"
                                          "request\",\"detail\":\"\\\"id\\\" must be an "
                                          "integer 0..2^53\"}"},
    {"{\"id\": 1}",
     "{\"id\":1,\"ok\":false,\"error\":\"bad_request\",\"detail\":\"\\\"cmd\\\" "
     "must be a string naming the request\"}"},
    {"{\"id\": 2, \"cmd\": \"fly\"}",
     "{\"id\":2,\"ok\":false,\"error\":\"unknown_command\",\"detail\":\"no command "
     "\\\"fly\\\" "
     "(alarms, status, ack, reset, silence, shelve, unshelve, oos, rts)\"}"},
    {"{\"id\": 3, \"cmd\": \"ack\", \"officer\": \"zhang.wei\", \"point\": \"gd-9.ch4\", "
     "\"limit\": \"level1\"}",
     "{\"id\":3,\"ok\":false,\"error\":\"unknown_point\",\"detail\":\"no point "
     "\\\"gd-9.ch4\\\"\"}"},
    {"{\"id\": 4, \"cmd\": \"ack\", \"officer\": \"zhang.wei\", \"point\": \"gd-1.ch4\", "
     "\"limit\": \"level3\"}",
     "{\"id\":4,\"ok\":false,\"error\":\"unknown_limit\",\"detail\":\"no limit "
     "\\\"level3\\\" (high, hh, l, ll, level1, level2, o2-low, o2-high, roc-rise, "
     "roc-fall, "
     "fault, vote)\"}"},
    {"{\"id\": 5, \"cmd\": \"ack\", \"officer\": \"zhang.wei\", \"point\": \"gd-1.ch4\", "
     "\"limit\": \"maintenance\"}",
     "{\"id\":5,\"ok\":false,\"error\":\"unknown_limit\",\"detail\":\"no limit "
     "\\\"maintenance\\\" (high, hh, l, ll, level1, level2, o2-low, o2-high, roc-rise, "
     "roc-fall, fault, vote)\"}"},
    {"{\"id\": 6, \"cmd\": \"ack\", \"officer\": \"zhang.wei\", \"area\": \"zone-z\", "
     "\"limit\": \"vote\"}",
     "{\"id\":6,\"ok\":false,\"error\":\"unknown_area\",\"detail\":\"no area "
     "\\\"zone-z\\\"\"}"},
    {"{\"id\": 7, \"cmd\": \"silence\", \"officer\": \"li.na\", \"area\": \"zone-z\"}",
     "{\"id\":7,\"ok\":false,\"error\":\"unknown_area\",\"detail\":\"no area "
     "\\\"zone-z\\\"\"}"},
    {"{\"id\": 8, \"cmd\": \"ack\", \"officer\": \"zhang.wei\", \"point\": \"gd-1.ch4\", "
     "\"limit\": \"vote\"}",
     "{\"id\":8,\"ok\":false,\"error\":\"bad_request\",\"detail\":\"a vote alarm belongs "
     "to "
     "an area: give \\\"area\\\", not \\\"point\\\"\"}"},
    {"{\"id\": 9, \"cmd\": \"ack\", \"point\": \"gd-1.ch4\", \"limit\": \"level1\"}",
     "{\"id\":9,\"ok\":false,\"error\":\"not_authorised\",\"detail\":\"a command needs "
     "an "
     "officer id\"}"},
    {"{\"id\": 11, \"cmd\": \"ack\", \"officer\": \"zhang wei\", \"point\": "
     "\"gd-1.ch4\", "
     "\"limit\": \"level1\"}",
     "{\"id\":11,\"ok\":false,\"error\":\"not_authorised\",\"detail\":\"officer "
     "\\\"zhang "
     "wei\\\" is not configured on this gateway\"}"},
    {"{\"id\": 12, \"cmd\": \"shelve\", \"officer\": \"zhang.wei\", \"point\": "
     "\"gd-1.ch4\", "
     "\"limit\": \"level1\", \"duration_s\": 600}",
     "{\"id\":12,\"ok\":false,\"error\":\"reason_required\",\"detail\":\"shelve needs a "
     "reason\"}"},
    {"{\"id\": 13, \"cmd\": \"oos\", \"officer\": \"zhang.wei\", \"point\": "
     "\"gd-1.ch4\", "
     "\"limit\": \"level1\", \"reason\": \"   \"}",
     "{\"id\":13,\"ok\":false,\"error\":\"reason_required\",\"detail\":\"oos needs a "
     "reason\"}"},
    {"{\"id\": 14, \"cmd\": \"rts\", \"officer\": \"zhang.wei\", \"point\": "
     "\"gd-1.ch4\", "
     "\"limit\": \"level1\"}",
     "{\"id\":14,\"ok\":false,\"error\":\"reason_required\",\"detail\":\"rts needs a "
     "reason\"}"},
    {"{\"id\": 15, \"cmd\": \"shelve\", \"officer\": \"zhang.wei\", \"point\": "
     "\"gd-1.ch4\", "
     "\"limit\": \"level1\", \"reason\": \"calibration\", \"duration_s\": 0}",
     "{\"id\":15,\"ok\":false,\"error\":\"bad_duration\",\"detail\":\"\\\"duration_s\\\" "
     "must be an integer 1..604800\"}"},
    {"{\"id\": 16, \"cmd\": \"shelve\", \"officer\": \"zhang.wei\", \"point\": "
     "\"gd-1.ch4\", "
     "\"limit\": \"level1\", \"reason\": \"calibration\", \"duration_s\": 604801}",
     "{\"id\":16,\"ok\":false,\"error\":\"bad_duration\",\"detail\":\"\\\"duration_s\\\" "
     "must be an integer 1..604800\"}"},
    {"{\"id\": 17, \"cmd\": \"shelve\", \"officer\": \"zhang.wei\", \"point\": "
     "\"gd-1.ch4\", "
     "\"limit\": \"level1\", \"reason\": \"calibration\", \"duration_s\": 1.5}",
     "{\"id\":17,\"ok\":false,\"error\":\"bad_duration\",\"detail\":\"\\\"duration_s\\\" "
     "must be an integer 1..604800\"}"},
    {"{\"id\": 18, \"cmd\": \"shelve\", \"officer\": \"zhang.wei\", \"point\": "
     "\"gd-1.ch4\", "
     "\"limit\": \"level1\", \"reason\": \"calibration\"}",
     "{\"id\":18,\"ok\":false,\"error\":\"bad_duration\",\"detail\":\"a timed shelve "
     "needs "
     "\\\"duration_s\\\" (1..604800 seconds), or \\\"one_shot\\\": true\"}"},
    {"{\"id\": 19, \"cmd\": \"shelve\", \"officer\": \"zhang.wei\", \"point\": "
     "\"gd-1.ch4\", "
     "\"limit\": \"level1\", \"reason\": \"calibration\", \"duration_s\": 60, "
     "\"one_shot\": "
     "true}",
     "{\"id\":19,\"ok\":false,\"error\":\"bad_request\",\"detail\":\"a one-shot shelve "
     "takes "
     "no \\\"duration_s\\\"\"}"},
    {"{\"id\": 20, \"cmd\": \"ack\", \"officer\": \"zhang.wei\", \"point\": "
     "\"gd-1.ch4\", "
     "\"limit\": \"level1\", \"duration_s\": 60}",
     "{\"id\":20,\"ok\":false,\"error\":\"bad_request\",\"detail\":\"\\\"duration_s\\\" "
     "does "
     "not apply to ack\"}"},
    {"{\"id\": 21, \"cmd\": \"status\", \"colour\": \"red\"}",
     "{\"id\":21,\"ok\":false,\"error\":\"bad_request\",\"detail\":\"unknown key "
     "\\\"colour\\\"\"}"},
    {"{\"id\": 22, \"cmd\": \"ack\", \"officer\": \"zhang.wei\", \"officer\": \"li.na\", "
     "\"point\": \"gd-1.ch4\", \"limit\": \"level1\"}",
     "{\"id\":22,\"ok\":false,\"error\":\"bad_request\",\"detail\":\"duplicate key "
     "\\\"officer\\\"\"}"},
    {"{\"id\": 23, \"cmd\": \"ack\", \"officer\": \"zhang.wei\", \"point\": "
     "\"gd-1.ch4\\u0000x\", \"limit\": \"level1\"}",
     "{\"id\":null,\"ok\":false,\"error\":\"bad_request\",\"detail\":\"NUL characters "
     "are "
     "not allowed\"}"},
    {"{\"id\": 24, \"cmd\": \"ack\", \"officer\": \"zhang.wei\", \"point\": "
     "\"gd-1.ch4\", "
     "\"limit\": \"level1\", \"reason\": \"a\\nb\"}",
     "{\"id\":24,\"ok\":false,\"error\":\"bad_request\",\"detail\":\"\\\"reason\\\" must "
     "not "
     "contain control characters\"}"},
    {"{\"id\": 30, \"cmd\": \"ack\", \"officer\": \"zhang.wei\", \"point\": "
     "\"gd-1.ch4\", "
     "\"limit\": \"level1\", \"reason\": \"\xc3\x28\"}",
     "{\"id\":30,\"ok\":false,\"error\":\"bad_request\",\"detail\":\"\\\"reason\\\" is "
     "not "
     "valid UTF-8\"}"},
    {"{\"id\": 31, \"cmd\": \"ack\", \"officer\": \"zhang.wei\", \"point\": "
     "\"\xe6\xb0\xaf"
     "\\u0001aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\", \"limit\": \"level1\"}",
     "{\"id\":31,\"ok\":false,\"error\":\"unknown_point\",\"detail\":\"no point "
     "\\\"????aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...\\\"\"}"},
    {"{\"id\": 25, \"cmd\": \"ack\", \"officer\": \"zhang.wei\", \"point\": "
     "\"gd-1.ch4\"}",
     "{\"id\":25,\"ok\":false,\"error\":\"bad_request\",\"detail\":\"missing "
     "\\\"limit\\\"\"}"},
    {"{\"id\": 26, \"cmd\": \"ack\", \"officer\": \"zhang.wei\", \"limit\": \"level1\"}",
     "{\"id\":26,\"ok\":false,\"error\":\"bad_request\",\"detail\":\"missing "
     "\\\"point\\\"\"}"},
    {"{\"id\": 27, \"cmd\": \"ack\", \"officer\": \"zhang.wei\", \"point\": "
     "\"gd-1.ch4\", "
     "\"limit\": \"level1\", \"area\": \"zone-a\"}",
     "{\"id\":27,\"ok\":false,\"error\":\"bad_request\",\"detail\":\"\\\"area\\\" names "
     "only "
     "a vote alarm: give \\\"point\\\"\"}"},
    {"{\"id\": 28, \"cmd\": \"silence\", \"officer\": \"zhang.wei\", \"point\": "
     "\"gd-1.ch4\"}",
     "{\"id\":28,\"ok\":false,\"error\":\"bad_request\",\"detail\":\"\\\"point\\\" does "
     "not "
     "apply to silence\"}"},
    {"{\"id\": 29, \"cmd\": \"shelve\", \"officer\": \"zhang.wei\", \"point\": "
     "\"gd-1.ch4\", "
     "\"limit\": \"level1\", \"reason\": \"calibration\", \"one_shot\": \"yes\"}",
     "{\"id\":29,\"ok\":false,\"error\":\"bad_request\",\"detail\":\"\\\"one_shot\\\" "
     "must "
     "be true or false\"}"},
};

/* Every refusal, exactly, through control_handle_line(); nothing reaches the ring. */
static void test_refusals(void **state)
{
    struct fx *f = fx_new(4, false, NULL);

    (void)state;
    fx_open(f);
    for (size_t i = 0; i < sizeof(refusals) / sizeof(refusals[0]); i++)
        expect_line(f, refusals[i].request, refusals[i].reply);
    assert_int_equal(ring_count(f->commands), 0);
    fx_free(f);
}

static void test_oversized_and_long_reason(void **state)
{
    struct fx *f = fx_new(4, false, NULL);
    char *big = malloc(CONTROL_LINE_MAX + 100);
    char reason[MSG_REASON_LEN + 1], req[512];

    (void)state;
    assert_non_null(big);
    fx_open(f);
    memset(big, ' ', CONTROL_LINE_MAX + 100);
    memcpy(big, "{\"id\": 1, \"cmd\": \"status\"}", 26);
    big[CONTROL_LINE_MAX + 99] = '\0';
    expect_line(f, big,
                "{\"id\":null,\"ok\":false,\"error\":\"line_too_long\",\"detail\":\"a "
                "request is at most 4095 bytes\"}");
    /* 4095 bytes is still a request: the status reply proves it was parsed. */
    big[CONTROL_LINE_MAX - 1] = '\0';
    {
        char *reply = control_handle_line(f->ctl, big, strlen(big));

        assert_non_null(strstr(reply, "\"id\":1,\"ok\":true,\"gateway\":\"gw-test\""));
        free(reply);
    }
    memset(reason, 'r', MSG_REASON_LEN);
    reason[MSG_REASON_LEN] = '\0';
    snprintf(req, sizeof(req),
             "{\"id\": 2, \"cmd\": \"oos\", \"officer\": \"zhang.wei\", \"point\": "
             "\"gd-1.ch4\", \"limit\": \"level1\", \"reason\": \"%s\"}",
             reason);
    expect_line(
        f, req,
        "{\"id\":2,\"ok\":false,\"error\":\"bad_request\",\"detail\":\"\\\"reason\\\" "
        "is 128 bytes, at most 127\"}");
    free(big);
    fx_free(f);
}

/* What the decoder builds, field by field: the contract other command sources reuse. */
static void test_decode(void **state)
{
    struct fx *f = fx_new(4, false, NULL);
    struct control_request r;
    char detail[CONTROL_DETAIL_LEN];
    const char *req;

    (void)state;
    req = "{\"id\": 9007199254740992, \"cmd\": \"shelve\", \"officer\": \"zhang.wei\", "
          "\"point\": \"gd-2.ch4\", \"limit\": \"level1\", \"reason\": \"calibration\", "
          "\"duration_s\": 600}";
    assert_int_equal(control_decode(f->cfg, MSG_SRC_MQTT, 1234, req, strlen(req), &r,
                                    detail, sizeof(detail)),
                     0);
    assert_true(r.has_id);
    assert_true(r.id == UINT64_C(9007199254740992));
    assert_int_equal(r.verb, CONTROL_VERB_COMMAND);
    assert_int_equal(r.cmd.op, MSG_CMD_SHELVE);
    assert_int_equal(r.cmd.point, 1);
    assert_int_equal(r.cmd.limit, MSG_LIMIT_LEVEL1);
    assert_int_equal(r.cmd.rights,
                     ALARM_RIGHT_ACK | ALARM_RIGHT_SHELVE | ALARM_RIGHT_SERVICE);
    assert_int_equal(r.cmd.source, MSG_SRC_MQTT);
    assert_false(r.cmd.one_shot);
    assert_true(r.cmd.shelve_ms == 600000);
    assert_true(r.cmd.utc_ms == 1234);
    assert_string_equal(r.cmd.user, "zhang.wei");
    assert_string_equal(r.cmd.reason, "calibration");

    req = "{\"cmd\": \"shelve\", \"officer\": \"zhang.wei\", \"point\": \"gd-1.ch4\", "
          "\"limit\": \"level1\", \"reason\": \"x\", \"one_shot\": true}";
    assert_int_equal(control_decode(f->cfg, MSG_SRC_LOCAL, 0, req, strlen(req), &r,
                                    detail, sizeof(detail)),
                     0);
    assert_false(r.has_id);
    assert_true(r.cmd.one_shot);
    assert_true(r.cmd.shelve_ms == 0);

    req = "{\"cmd\": \"silence\", \"officer\": \"li.na\"}";
    assert_int_equal(control_decode(f->cfg, MSG_SRC_LOCAL, 0, req, strlen(req), &r,
                                    detail, sizeof(detail)),
                     0);
    assert_int_equal(r.cmd.op, MSG_CMD_SILENCE);
    assert_true(r.cmd.point == MSG_POINT_ALL);
    assert_int_equal(r.cmd.rights, ALARM_RIGHT_ACK);
    assert_string_equal(r.cmd.reason, "");

    req = "{\"cmd\": \"silence\", \"officer\": \"li.na\", \"area\": \"zone-b\"}";
    assert_int_equal(control_decode(f->cfg, MSG_SRC_LOCAL, 0, req, strlen(req), &r,
                                    detail, sizeof(detail)),
                     0);
    assert_int_equal(r.cmd.point, 1);

    req = "{\"cmd\": \"reset\", \"officer\": \"visitor\", \"area\": \"zone-a\", "
          "\"limit\": \"vote\"}";
    assert_int_equal(control_decode(f->cfg, MSG_SRC_LOCAL, 0, req, strlen(req), &r,
                                    detail, sizeof(detail)),
                     0);
    assert_int_equal(r.cmd.op, MSG_CMD_RESET);
    assert_int_equal(r.cmd.point, 0);
    assert_int_equal(r.cmd.limit, MSG_LIMIT_VOTE);
    assert_int_equal(r.cmd.rights, 0);

    req = "{\"id\": 5, \"cmd\": \"alarms\"}";
    assert_int_equal(control_decode(f->cfg, MSG_SRC_LOCAL, 0, req, strlen(req), &r,
                                    detail, sizeof(detail)),
                     0);
    assert_int_equal(r.verb, CONTROL_VERB_ALARMS);

    req = "{\"id\": 6, \"cmd\": \"fly\"}";
    assert_int_equal(control_decode(f->cfg, MSG_SRC_LOCAL, 0, req, strlen(req), &r,
                                    detail, sizeof(detail)),
                     -CONTROL_E_UNKNOWN_COMMAND);
    assert_true(r.has_id);
    assert_true(r.id == 6);
    assert_string_equal(control_error_name(CONTROL_E_UNKNOWN_COMMAND), "unknown_command");
    assert_string_equal(control_error_name(CONTROL_E_COUNT), "invalid");
    fx_free(f);
}

/* ---- the command path against the real RT loop ------------------------------------ */

static cJSON *line_json(struct fx *f, const char *req)
{
    char *reply = control_handle_line(f->ctl, req, strlen(req));
    cJSON *j = cJSON_Parse(reply);

    if (j == NULL)
        fail_msg("not JSON: %s", reply);
    free(reply);
    return j;
}

static const char *str_of(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

    return cJSON_IsString(v) ? v->valuestring : "(none)";
}

static double num_of(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

    return cJSON_IsNumber(v) ? v->valuedouble : (double)NAN;
}

static bool bool_of(const cJSON *o, const char *k)
{
    return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, k));
}

static void test_commands(void **state)
{
    struct fx *f = fx_new(16, true, NULL);
    struct msg_event ev;
    uint64_t seq;
    cJSON *j, *arr, *e;

    (void)state;
    fx_open(f);
    push_sample(f, "gd-1.ch4", 30);
    wait_state(f, "gd-1.ch4", MSG_LIMIT_LEVEL1, ALARM_UNACK);

    /* Not an officer's right: refused by the state machine, and journalled. */
    seq = expect_line(
        f,
        "{\"id\": 1, \"cmd\": \"ack\", \"officer\": \"visitor\", \"point\": "
        "\"gd-1.ch4\", \"limit\": \"level1\"}",
        "{\"id\":1,\"ok\":false,\"error\":\"not_authorised\",\"detail\":\"officer "
        "visitor lacks the \\\"ack\\\" right\",\"state\":\"unack\",\"seq\":#}");
    ev = journal(f, seq);
    assert_int_equal(ev.type, MSG_EV_REJECTED);
    assert_int_equal(ev.status, -ALARM_R_NOT_AUTHORISED);
    assert_string_equal(ev.user, "visitor");
    assert_int_equal(ev.source, MSG_SRC_LOCAL);

    /*
     * An officer the config does not know: refused too, and journalled under the id the
     * attempt used, so the audit trail shows it.
     */
    seq = expect_line(
        f,
        "{\"id\": 10, \"cmd\": \"ack\", \"officer\": \"wang.fang\", \"point\": "
        "\"gd-1.ch4\", \"limit\": \"level1\"}",
        "{\"id\":10,\"ok\":false,\"error\":\"not_authorised\",\"detail\":\"officer "
        "\\\"wang.fang\\\" is not configured on this gateway\",\"state\":\"unack\","
        "\"seq\":#}");
    ev = journal(f, seq);
    assert_int_equal(ev.type, MSG_EV_REJECTED);
    assert_int_equal(ev.status, -ALARM_R_NOT_AUTHORISED);
    assert_string_equal(ev.user, "wang.fang");

    seq =
        expect_line(f,
                    "{\"id\": 2, \"cmd\": \"ack\", \"officer\": \"li.na\", \"point\": "
                    "\"gd-1.ch4\", \"limit\": \"level1\", \"reason\": \"seen on CCTV\"}",
                    "{\"id\":2,\"ok\":true,\"result\":\"accepted\",\"from\":\"unack\","
                    "\"to\":\"acked\",\"seq\":#}");
    ev = journal(f, seq);
    assert_int_equal(ev.type, MSG_EV_ALARM);
    assert_int_equal(ev.event, ALARM_EV_ACK);
    assert_string_equal(ev.user, "li.na");
    assert_string_equal(ev.reason, "seen on CCTV");
    assert_int_equal(ev.from, ALARM_UNACK);
    assert_int_equal(ev.to, ALARM_ACKED);

    expect_line(
        f,
        "{\"id\": 3, \"cmd\": \"ack\", \"officer\": \"li.na\", \"point\": "
        "\"gd-1.ch4\", \"limit\": \"level1\"}",
        "{\"id\":3,\"ok\":false,\"error\":\"already_acked\",\"detail\":\"gd-1.ch4 "
        "level1 is acked: already acknowledged\",\"state\":\"acked\",\"seq\":#}");
    expect_line(f,
                "{\"id\": 4, \"cmd\": \"reset\", \"officer\": \"li.na\", \"point\": "
                "\"gd-1.ch4\", \"limit\": \"level1\"}",
                "{\"id\":4,\"ok\":false,\"error\":\"not_latched\",\"detail\":\"gd-1.ch4 "
                "level1 is acked: not latched: nothing to reset\",\"state\":\"acked\","
                "\"seq\":#}");
    /* The temperature point has only a high limit. */
    expect_line(
        f,
        "{\"id\": 5, \"cmd\": \"ack\", \"officer\": \"li.na\", \"point\": "
        "\"pt-1.temp\", \"limit\": \"level1\"}",
        "{\"id\":5,\"ok\":false,\"error\":\"no_such_alarm\",\"detail\":\"there is no "
        "alarm pt-1.temp level1\",\"seq\":#}");
    expect_line(
        f,
        "{\"id\": 6, \"cmd\": \"shelve\", \"officer\": \"li.na\", \"point\": "
        "\"gd-1.ch4\", \"limit\": \"level1\", \"reason\": \"sensor check\", "
        "\"duration_s\": 600}",
        "{\"id\":6,\"ok\":false,\"error\":\"not_authorised\",\"detail\":\"officer "
        "li.na lacks the \\\"shelve\\\" right\",\"state\":\"acked\",\"seq\":#}");
    seq = expect_line(
        f,
        "{\"id\": 7, \"cmd\": \"shelve\", \"officer\": \"zhang.wei\", "
        "\"point\": \"gd-1.ch4\", \"limit\": \"level1\", \"reason\": \"sensor "
        "check\", \"duration_s\": 600}",
        "{\"id\":7,\"ok\":true,\"result\":\"accepted\",\"from\":\"acked\","
        "\"to\":\"shelved\",\"seq\":#}");
    ev = journal(f, seq);
    assert_string_equal(ev.user, "zhang.wei");
    assert_string_equal(ev.reason, "sensor check");
    assert_int_equal(ev.shelve, ALARM_SHELVE_TIMED);

    /* The listing shows the shelved alarm, with its deadline, after the active ones. */
    push_sample(f, "gd-2.ch4", 45);
    wait_state(f, "gd-2.ch4", MSG_LIMIT_LEVEL2, ALARM_UNACK);
    j = line_json(f, "{\"id\": 8, \"cmd\": \"alarms\"}");
    assert_true(num_of(j, "id") == 8);
    assert_true(bool_of(j, "ok"));
    arr = cJSON_GetObjectItemCaseSensitive(j, "alarms");
    assert_true(cJSON_IsArray(arr));
    {
        /*
         * Active first, P1 before P2, oldest first; then the hidden ones. gd-1 still
         * reads 30 though shelved, so with gd-2 zone-a has 2 of 2 in alarm: the vote.
         */
        static const char *const want[][3] = {
            {"gd-2.ch4", "level2", "unack"},
            {"(none)", "vote", "unack"},
            {"gd-2.ch4", "level1", "unack"},
            {"gd-1.ch4", "level1", "shelved"},
        };
        size_t n = 0;

        cJSON_ArrayForEach(e, arr)
        {
            assert_true(n < 4);
            if (strcmp(str_of(e, "point"), want[n][0]) != 0 ||
                strcmp(str_of(e, "limit"), want[n][1]) != 0 ||
                strcmp(str_of(e, "state"), want[n][2]) != 0)
                fail_msg("row %zu: %s %s %s", n, str_of(e, "point"), str_of(e, "limit"),
                         str_of(e, "state"));
            n++;
        }
        assert_int_equal(n, 4);
    }
    e = cJSON_GetArrayItem(arr, 0);
    assert_true(num_of(e, "priority") == 1);
    assert_true(num_of(e, "value") == 45);
    assert_true(num_of(e, "setpoint") == 40);
    assert_string_equal(str_of(e, "unit"), "%LEL");
    assert_string_equal(str_of(e, "area"), "zone-a");
    assert_true(bool_of(e, "active"));
    assert_true(bool_of(e, "condition"));
    assert_true(bool_of(e, "latching"));
    assert_false(bool_of(e, "test"));
    assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(e, "shelve_until")));
    assert_true(strlen(str_of(e, "since")) == 24); /* 2026-11-28T12:00:00.000Z */
    assert_true(strlen(str_of(e, "active_since")) == 24);
    assert_true(num_of(e, "active_since_ms") > 0);
    e = cJSON_GetArrayItem(arr, 1);
    assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(e, "point")));
    assert_string_equal(str_of(e, "area"), "zone-a");
    assert_string_equal(str_of(e, "unit"), "");
    /* A new series began with gd-2 (the shelve ended gd-1's): its first alarm leads. */
    assert_false(bool_of(cJSON_GetArrayItem(arr, 0), "first_out"));
    assert_false(bool_of(e, "first_out"));
    assert_true(bool_of(cJSON_GetArrayItem(arr, 2), "first_out"));
    e = cJSON_GetArrayItem(arr, 3);
    assert_true(num_of(e, "priority") == 2);
    assert_false(bool_of(e, "active"));
    assert_false(bool_of(e, "first_out"));
    assert_true(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(e, "shelve_until")));
    cJSON_Delete(j);

    /* Level 2 gas is not shelvable; its latch needs ack, then a clear condition. */
    expect_line(
        f,
        "{\"id\": 9, \"cmd\": \"shelve\", \"officer\": \"zhang.wei\", \"point\": "
        "\"gd-2.ch4\", \"limit\": \"level2\", \"reason\": \"nuisance\", "
        "\"one_shot\": true}",
        "{\"id\":9,\"ok\":false,\"error\":\"not_shelvable\",\"detail\":\"gd-2.ch4 "
        "level2 is unack: this alarm may not be shelved\",\"state\":\"unack\","
        "\"seq\":#}");
    push_sample(f, "gd-2.ch4", 0);
    wait_state(f, "gd-2.ch4", MSG_LIMIT_LEVEL2, ALARM_LATCHED_UNACK);
    expect_line(
        f,
        "{\"id\": 10, \"cmd\": \"reset\", \"officer\": \"li.na\", \"point\": "
        "\"gd-2.ch4\", \"limit\": \"level2\"}",
        "{\"id\":10,\"ok\":false,\"error\":\"not_acked_yet\",\"detail\":\"gd-2.ch4 "
        "level2 is latched_unack: acknowledge it before resetting it\",\"state\":"
        "\"latched_unack\",\"seq\":#}");
    expect_line(
        f,
        "{\"id\": 11, \"cmd\": \"ack\", \"officer\": \"li.na\", \"point\": "
        "\"gd-2.ch4\", \"limit\": \"level2\"}",
        "{\"id\":11,\"ok\":true,\"result\":\"accepted\",\"from\":\"latched_unack\","
        "\"to\":\"latched_ack\",\"seq\":#}");
    expect_line(f,
                "{\"id\": 12, \"cmd\": \"reset\", \"officer\": \"li.na\", \"point\": "
                "\"gd-2.ch4\", \"limit\": \"level2\"}",
                "{\"id\":12,\"ok\":true,\"result\":\"accepted\",\"from\":\"latched_ack\","
                "\"to\":\"normal\",\"seq\":#}");

    /* Unshelve returns to the plant as it is: gd-1 still reads 30. */
    expect_line(
        f,
        "{\"id\": 13, \"cmd\": \"unshelve\", \"officer\": \"zhang.wei\", \"point\": "
        "\"gd-1.ch4\", \"limit\": \"level1\"}",
        "{\"id\":13,\"ok\":true,\"result\":\"accepted\",\"from\":\"shelved\","
        "\"to\":\"unack\",\"seq\":#}");
    seq = expect_line(
        f,
        "{\"id\": 14, \"cmd\": \"oos\", \"officer\": \"zhang.wei\", \"point\": "
        "\"gd-1.ch4\", \"limit\": \"level1\", \"reason\": \"detector "
        "replaced\"}",
        "{\"id\":14,\"ok\":true,\"result\":\"accepted\",\"from\":\"unack\","
        "\"to\":\"out_of_service\",\"seq\":#}");
    ev = journal(f, seq);
    assert_string_equal(ev.reason, "detector replaced");
    expect_line(
        f,
        "{\"id\": 15, \"cmd\": \"oos\", \"officer\": \"zhang.wei\", \"point\": "
        "\"gd-1.ch4\", \"limit\": \"level1\", \"reason\": \"again\"}",
        "{\"id\":15,\"ok\":false,\"error\":\"already_in_state\",\"detail\":\"gd-1.ch4 "
        "level1 is out_of_service: already in that state\",\"state\":"
        "\"out_of_service\",\"seq\":#}");
    expect_line(
        f,
        "{\"id\": 16, \"cmd\": \"rts\", \"officer\": \"zhang.wei\", \"point\": "
        "\"gd-1.ch4\", \"limit\": \"level1\", \"reason\": \"commissioned\"}",
        "{\"id\":16,\"ok\":true,\"result\":\"accepted\",\"from\":\"out_of_service\","
        "\"to\":\"unack\",\"seq\":#}");

    /* The vote latched when gd-2 cleared; it is addressed by its area. */
    expect_line(
        f,
        "{\"id\": 17, \"cmd\": \"reset\", \"officer\": \"zhang.wei\", \"area\": "
        "\"zone-a\", \"limit\": \"vote\"}",
        "{\"id\":17,\"ok\":false,\"error\":\"not_acked_yet\",\"detail\":\"area zone-a "
        "vote is latched_unack: acknowledge it before resetting it\",\"state\":"
        "\"latched_unack\",\"seq\":#}");
    expect_line(
        f,
        "{\"id\": 18, \"cmd\": \"ack\", \"officer\": \"zhang.wei\", \"area\": "
        "\"zone-a\", \"limit\": \"vote\"}",
        "{\"id\":18,\"ok\":true,\"result\":\"accepted\",\"from\":\"latched_unack\","
        "\"to\":\"latched_ack\",\"seq\":#}");

    /*
     * Silence: journalled with the officer even when, as here with no relays configured,
     * there is no siren to stop. A visitor holds no right at all.
     */
    seq = expect_line(f, "{\"id\": 19, \"cmd\": \"silence\", \"officer\": \"li.na\"}",
                      "{\"id\":19,\"ok\":true,\"result\":\"no_change\",\"seq\":#}");
    ev = journal(f, seq);
    assert_int_equal(ev.type, MSG_EV_SILENCE);
    assert_string_equal(ev.user, "li.na");
    assert_true(ev.point == MSG_POINT_ALL);
    expect_line(
        f,
        "{\"id\": 20, \"cmd\": \"silence\", \"officer\": \"visitor\", \"area\": "
        "\"zone-b\"}",
        "{\"id\":20,\"ok\":false,\"error\":\"not_authorised\",\"detail\":\"officer "
        "visitor holds no rights\",\"seq\":#}");

    j = line_json(f, "{\"id\": 21, \"cmd\": \"status\"}");
    assert_string_equal(str_of(j, "gateway"), "gw-test");
    assert_string_equal(str_of(j, "site"), "lab");
    assert_true(num_of(j, "points") == 3);
    e = cJSON_GetObjectItemCaseSensitive(j, "alarms");
    /* Each gas point has level1, level2 and fault, the temperature high and fault, and
     * zone-a its vote. */
    assert_true(num_of(e, "records") == 9);
    /* gd-1 level1 unack, gd-2 level1 rtn_unack, the vote latched_ack. */
    assert_true(num_of(e, "active") == 3);
    assert_true(num_of(e, "unack") == 2);
    assert_true(num_of(e, "shelved") == 0);
    /*
     * Every command that reached the ring: all but the alarm listing, 11 of them refused
     * (the unknown officer's among them).
     */
    assert_true(num_of(j, "commands") == 20);
    assert_true(num_of(j, "commands_rejected") == 11);
    cJSON_Delete(j);
    fx_free(f);
}

/*
 * A command the RT loop does not answer in time is reported as such, never lost: the
 * officer is told "timeout", and the late answer is taken (and logged) before the next
 * command's own. A command ring that stays full is "busy": that command was not taken.
 */
static void test_timeout_and_busy(void **state)
{
    static const char ack[] = "{\"id\": %d, \"cmd\": \"ack\", \"officer\": \"li.na\", "
                              "\"point\": \"gd-1.ch4\", \"limit\": \"level1\"}";
    struct fx *f = fx_new(2, false, NULL);
    char req[256];
    struct rtloop_alarm a;
    int64_t t0;

    (void)state;
    fx_open(f);
    t0 = pgtime_mono_ns();
    snprintf(req, sizeof(req), ack, 1);
    expect_line(
        f, req,
        "{\"id\":1,\"ok\":false,\"error\":\"timeout\",\"detail\":\"no answer within "
        "2000 ms: if the real-time loop took it in time it took effect, if not it "
        "never will (it expires); check the alarm list\"}");
    assert_true(pgtime_mono_ns() - t0 >= 2 * PGTIME_NS_PER_S);
    snprintf(req, sizeof(req), ack, 2);
    expect_line(
        f, req,
        "{\"id\":2,\"ok\":false,\"error\":\"timeout\",\"detail\":\"no answer within "
        "2000 ms: if the real-time loop took it in time it took effect, if not it "
        "never will (it expires); check the alarm list\"}");
    snprintf(req, sizeof(req), ack, 3);
    expect_line(
        f, req,
        "{\"id\":3,\"ok\":false,\"error\":\"busy\",\"detail\":\"the real-time loop took "
        "no command within 2000 ms; nothing was done\"}");

    /*
     * The loop comes back: it refuses the two commands it finds past their deadline
     * (expired, journalled), their late answers are consumed, then ours.
     */
    fx_start_rt(f);
    snprintf(req, sizeof(req), ack, 4);
    expect_line(
        f, req,
        "{\"id\":4,\"ok\":false,\"error\":\"not_active\",\"detail\":\"gd-1.ch4 level1 "
        "is normal: nothing to acknowledge\",\"state\":\"normal\",\"seq\":#}");
    assert_int_equal(ring_count(f->results), 0);
    assert_true(find_alarm(f, 0, MSG_LIMIT_LEVEL1, &a));
    assert_int_equal(a.state, ALARM_NORMAL);
    fx_free(f);
}

/* ---- the socket ------------------------------------------------------------------- */

static int connect_to(const char *path)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    assert_true(fd >= 0);
    snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path);
    if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0) {
        int e = errno;

        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

static void send_text(int fd, const char *text, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, text, len, MSG_NOSIGNAL);

        assert_true(n > 0);
        text += n;
        len -= (size_t)n;
    }
}

/* Read one line (without its newline) into buf, waiting up to 5 s; false on EOF. */
static bool read_line(int fd, char *buf, size_t size)
{
    size_t len = 0;

    while (len + 1 < size) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        ssize_t n;

        if (poll(&pfd, 1, 5000) != 1)
            fail_msg("no reply within 5 s");
        n = recv(fd, buf + len, 1, 0);
        if (n <= 0)
            break;
        if (buf[len] == '\n') {
            buf[len] = '\0';
            return true;
        }
        len++;
    }
    buf[len] = '\0';
    return false;
}

static void send_str(int fd, const char *text)
{
    send_text(fd, text, strlen(text));
}

static void sock_path(const struct fx *f, char *buf, size_t size)
{
    snprintf(buf, size, "%s/ctl.sock", f->dir);
}

static void test_socket(void **state)
{
    struct fx *f = fx_new(16, true, NULL);
    char path[128], line[8192], *big;
    struct stat st;
    int fd;

    (void)state;
    fx_open(f);
    sock_path(f, path, sizeof(path));
    assert_string_equal(f->cfg->control.socket, path);
    assert_int_equal(lstat(path, &st), 0);
    assert_true(S_ISSOCK(st.st_mode));
    assert_int_equal(st.st_mode & 07777, 0660);
    assert_int_equal(control_start(f->ctl), 0);

    fd = connect_to(path);
    assert_true(fd >= 0);
    /* Two requests in one write, one with CRLF: two replies, in order. */
    send_str(fd, "{\"id\": 1, \"cmd\": \"status\"}\r\n{\"id\": 2, \"cmd\": \"nope\"}\n");
    assert_true(read_line(fd, line, sizeof(line)));
    assert_non_null(strstr(line, "{\"id\":1,\"ok\":true,\"gateway\":\"gw-test\""));
    assert_true(read_line(fd, line, sizeof(line)));
    assert_string_equal(line,
                        "{\"id\":2,\"ok\":false,\"error\":\"unknown_command\",\"detail\":"
                        "\"no command \\\"nope\\\" (alarms, status, ack, reset, "
                        "silence, shelve, unshelve, oos, rts)\"}");
    /* Malformed JSON costs a reply, not the connection. */
    send_str(fd, "{oops\n");
    assert_true(read_line(fd, line, sizeof(line)));
    assert_string_equal(line,
                        "{\"id\":null,\"ok\":false,\"error\":\"bad_request\",\"detail\":"
                        "\"not valid JSON\"}");
    /* An overlong line: one refusal, the rest of it skipped, and the next line served. */
    big = malloc(3 * CONTROL_LINE_MAX);
    assert_non_null(big);
    memset(big, 'x', 3 * CONTROL_LINE_MAX);
    big[3 * CONTROL_LINE_MAX - 1] = '\n';
    send_text(fd, big, 3 * CONTROL_LINE_MAX);
    free(big);
    send_str(fd, "{\"id\": 3, \"cmd\": \"alarms\"}\n");
    assert_true(read_line(fd, line, sizeof(line)));
    assert_string_equal(
        line, "{\"id\":null,\"ok\":false,\"error\":\"line_too_long\",\"detail\":"
              "\"a request is at most 4095 bytes\"}");
    assert_true(read_line(fd, line, sizeof(line)));
    assert_string_equal(line, "{\"id\":3,\"ok\":true,\"alarms\":[]}");
    /* A command over the socket, answered by the RT loop. */
    send_str(
        fd,
        "{\"id\": 4, \"cmd\": \"ack\", \"officer\": \"li.na\", \"point\": \"gd-1.ch4\", "
        "\"limit\": \"level1\"}\n");
    assert_true(read_line(fd, line, sizeof(line)));
    mask_seq(line);
    assert_string_equal(line,
                        "{\"id\":4,\"ok\":false,\"error\":\"not_active\",\"detail\":"
                        "\"gd-1.ch4 level1 is normal: nothing to acknowledge\","
                        "\"state\":\"normal\",\"seq\":#}");
    close(fd);

    /* Clients past the limit are told so and closed; the others keep working. */
    {
        int fds[CONTROL_MAX_CLIENTS], extra;

        for (int i = 0; i < CONTROL_MAX_CLIENTS; i++) {
            fds[i] = connect_to(path);
            assert_true(fds[i] >= 0);
        }
        /* The server accepts in its own time: make sure each one is in. */
        for (int i = 0; i < CONTROL_MAX_CLIENTS; i++) {
            send_str(fds[i], "{\"cmd\": \"status\"}\n");
            assert_true(read_line(fds[i], line, sizeof(line)));
        }
        extra = connect_to(path);
        assert_true(extra >= 0);
        assert_true(read_line(extra, line, sizeof(line)));
        assert_string_equal(line,
                            "{\"id\":null,\"ok\":false,\"error\":\"too_many_clients\","
                            "\"detail\":\"too many connections; try again\"}");
        assert_false(read_line(extra, line, sizeof(line)));
        close(extra);
        for (int i = 0; i < CONTROL_MAX_CLIENTS; i++)
            close(fds[i]);
    }

    control_stop(f->ctl);
    assert_int_equal(access(path, F_OK), -1);
    assert_true(connect_to(path) < 0);
    fx_free(f);
}

/* A dead daemon's socket is replaced; a live one's and a file that is no socket are not.
 */
static void test_stale_socket(void **state)
{
    struct fx *f = fx_new(4, false, NULL);
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    struct control *other = NULL;
    char path[sizeof(addr.sun_path)];
    FILE *file;
    int fd;

    (void)state;
    sock_path(f, path, sizeof(path));
    snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path);
    fd = socket(AF_UNIX, SOCK_STREAM, 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
    close(fd); /* bound, never listened to, never unlinked: what a crash leaves */
    fx_open(f);
    assert_int_equal(control_open(f->cfg, f->rt, &f->src, &other), -EADDRINUSE);
    assert_null(other);
    control_close(f->ctl);
    f->ctl = NULL;

    file = fopen(path, "w");
    assert_non_null(file);
    fputs("not a socket\n", file);
    fclose(file);
    assert_int_equal(control_open(f->cfg, f->rt, &f->src, &other), -EEXIST);
    assert_int_equal(access(path, F_OK), 0);
    assert_int_equal(unlink(path), 0);
    fx_free(f);
}

static void test_group(void **state)
{
    struct fx *f = fx_new(4, false, "no-such-group-pg");
    struct control *c = NULL;
    struct group *gr;
    struct stat st;
    char path[128];

    (void)state;
    assert_int_equal(control_open(f->cfg, f->rt, &f->src, &c), -ENOENT);
    assert_null(c);
    fx_free(f);

    /* A real group other than ours: the socket is handed to it. */
    gr = getgrgid(NOBODY);
    if (gr == NULL || geteuid() != 0) {
        print_message("skipped: no group %d, or not root\n", NOBODY);
        return;
    }
    f = fx_new(4, false, gr->gr_name);
    fx_open(f);
    sock_path(f, path, sizeof(path));
    assert_int_equal(lstat(path, &st), 0);
    assert_int_equal(st.st_gid, NOBODY);
    assert_int_equal(st.st_mode & 07777, 0660);
    fx_free(f);
}

/*
 * Connect as another user in a child: uid, gid and supplementary groups as given. Writes
 * a status request and returns what came back (connect's errno as "errno N", or the reply
 * line, or "EOF").
 */
static void connect_as(const char *path, uid_t uid, gid_t gid, const gid_t *groups,
                       size_t n_groups, char *out, size_t out_len)
{
    int pfd[2], status;
    pid_t pid;
    ssize_t n;
    size_t len = 0;

    assert_int_equal(pipe(pfd), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        char line[1024];
        int fd;

        close(pfd[0]);
        if (setgroups(n_groups, groups) != 0 || setresgid(gid, gid, gid) != 0 ||
            setresuid(uid, uid, uid) != 0)
            _exit(3);
        fd = connect_to(path);
        if (fd < 0) {
            snprintf(line, sizeof(line), "errno %d", errno);
        } else {
            (void)send(fd, "{\"cmd\": \"status\"}\n", 18, MSG_NOSIGNAL);
            if (!read_line(fd, line, sizeof(line)))
                snprintf(line, sizeof(line), "EOF");
        }
        (void)!write(pfd[1], line, strlen(line));
        _exit(0);
    }
    close(pfd[1]);
    while (len + 1 < out_len && (n = read(pfd[0], out + len, out_len - len - 1)) > 0)
        len += (size_t)n;
    out[len] = '\0';
    close(pfd[0]);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/*
 * Who may connect. Two layers are checked separately. The file mode 0660: nobody, in no
 * group of the socket, gets EACCES from connect(). The peer-credential check behind it:
 * with the mode opened to 0666 by the test (as a misconfigured system might), nobody
 * reaches the daemon and is refused by SO_PEERCRED with a permission_denied line, while a
 * member of the socket's group, by primary or (SO_PEERGROUPS) supplementary group, is
 * served.
 */
static void test_peer_credentials(void **state)
{
    struct fx *f;
    char path[128], out[2048];
    struct stat st;
    gid_t none[1] = {NOBODY}, member[2];

    (void)state;
    if (geteuid() != 0) {
        print_message("skipped: the credential tests need root to become nobody\n");
        return;
    }
    f = fx_new(4, true, NULL);
    fx_open(f);
    assert_int_equal(control_start(f->ctl), 0);
    sock_path(f, path, sizeof(path));
    assert_int_equal(chmod(f->dir, 0755), 0); /* mkdtemp's 0700 would stop nobody first */
    assert_int_equal(lstat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0660);

    connect_as(path, NOBODY, NOBODY, none, 1, out, sizeof(out));
    {
        char want[32];

        snprintf(want, sizeof(want), "errno %d", EACCES);
        assert_string_equal(out, want);
    }

    assert_int_equal(chmod(path, 0666), 0);
    connect_as(path, NOBODY, NOBODY, none, 1, out, sizeof(out));
    assert_string_equal(out, "{\"id\":null,\"ok\":false,\"error\":\"permission_denied\","
                             "\"detail\":\"not allowed to use this socket\"}");

    /* Primary group is the socket's group. */
    connect_as(path, NOBODY, st.st_gid, none, 1, out, sizeof(out));
    assert_non_null(strstr(out, "{\"id\":null,\"ok\":true,\"gateway\":\"gw-test\""));

    /* Supplementary group is the socket's group. */
    member[0] = NOBODY;
    member[1] = st.st_gid;
    connect_as(path, NOBODY, NOBODY, member, 2, out, sizeof(out));
#ifdef SO_PEERGROUPS
    assert_non_null(strstr(out, "{\"id\":null,\"ok\":true,\"gateway\":\"gw-test\""));
#else
    assert_string_equal(out, "{\"id\":null,\"ok\":false,\"error\":\"permission_denied\","
                             "\"detail\":\"not allowed to use this socket\"}");
#endif
    fx_free(f);
}

/* ---- parkguardctl against the real control thread --------------------------------- */

#ifdef PG_CTL_BIN
/*
 * Run parkguardctl with args (NULL-terminated) and the officer variables unset. Returns
 * its exit status; its stdout and stderr are left in out and err.
 */
static int run_ctl(struct fx *f, char *out, size_t out_len, char *err, size_t err_len,
                   ...)
{
    char out_path[128], err_path[128];
    const char *argv[24] = {PG_CTL_BIN};
    int argc = 1, status;
    va_list ap;
    pid_t pid;
    FILE *file;
    size_t n;

    va_start(ap, err_len);
    while (argc < 23 && (argv[argc] = va_arg(ap, const char *)) != NULL)
        argc++;
    va_end(ap);
    argv[argc] = NULL;
    snprintf(out_path, sizeof(out_path), "%s/out.txt", f->dir);
    snprintf(err_path, sizeof(err_path), "%s/err.txt", f->dir);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (freopen(out_path, "w", stdout) == NULL ||
            freopen(err_path, "w", stderr) == NULL)
            _exit(99);
        unsetenv("PARKGUARD_OFFICER");
        unsetenv("PARKGUARD_SOCKET");
        execv(PG_CTL_BIN, (char *const *)(uintptr_t)argv);
        _exit(98);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    file = fopen(out_path, "r");
    assert_non_null(file);
    n = fread(out, 1, out_len - 1, file);
    out[n] = '\0';
    fclose(file);
    file = fopen(err_path, "r");
    assert_non_null(file);
    n = fread(err, 1, err_len - 1, file);
    err[n] = '\0';
    fclose(file);
    unlink(out_path);
    unlink(err_path);
    return WEXITSTATUS(status);
}

static void test_parkguardctl(void **state)
{
    struct fx *f = fx_new(16, true, NULL);
    char sock[128], conf[128], out[8192], err[4096];
    int rc;

    (void)state;
    fx_open(f);
    assert_int_equal(control_start(f->ctl), 0);
    sock_path(f, sock, sizeof(sock));
    snprintf(conf, sizeof(conf), "%s/site.json", f->dir);
    push_sample(f, "gd-1.ch4", 30);
    wait_state(f, "gd-1.ch4", MSG_LIMIT_LEVEL1, ALARM_UNACK);

    rc = run_ctl(f, out, sizeof(out), err, sizeof(err), "-c", conf, "alarms", NULL);
    if (rc != 0)
        fail_msg("rc %d: %s", rc, err);
    print_message("%s", out);
    assert_non_null(
        strstr(out, "PRI STATE          POINT                    LIMIT     VALUE"));
    assert_non_null(
        strstr(out, "\n2*  unack          gd-1.ch4                 level1    30 %LEL"));

    rc = run_ctl(f, out, sizeof(out), err, sizeof(err), "-s", sock, "-o", "li.na", "ack",
                 "gd-1.ch4", "level1", NULL);
    assert_int_equal(rc, 0);
    mask_seq(out);
    assert_true(
        strncmp(out, "ack gd-1.ch4 level1: accepted (unack -> acked), event ", 53) == 0);

    /* Refused by the gateway: 1, and the reason on stderr. */
    rc = run_ctl(f, out, sizeof(out), err, sizeof(err), "-s", sock, "ack", "gd-1.ch4",
                 "level1", "--officer", "li.na", NULL);
    assert_int_equal(rc, 1);
    assert_string_equal(out, "");
    assert_string_equal(err, "parkguardctl: ack gd-1.ch4 level1: refused: already_acked: "
                             "gd-1.ch4 level1 is acked: already acknowledged\n");
    rc = run_ctl(f, out, sizeof(out), err, sizeof(err), "-s", sock, "-o", "wang.fang",
                 "reset", "gd-1.ch4", "level1", NULL);
    assert_int_equal(rc, 1);
    assert_string_equal(err,
                        "parkguardctl: reset gd-1.ch4 level1: refused: not_authorised: "
                        "officer \"wang.fang\" is not configured on this gateway\n");

    /* Longer than a combustible level-1 alarm's longest shelve, 3600 s. */
    rc = run_ctl(f, out, sizeof(out), err, sizeof(err), "-s", sock, "-o", "zhang.wei",
                 "shelve", "gd-1.ch4", "level1", "--for", "1h30m", "--reason",
                 "recalibration, permit 4711", NULL);
    assert_int_equal(rc, 1);
    assert_string_equal(err,
                        "parkguardctl: shelve gd-1.ch4 level1: refused: shelve_too_long: "
                        "gd-1.ch4 level1 is acked: longer than this alarm's longest "
                        "shelve\n");
    rc = run_ctl(f, out, sizeof(out), err, sizeof(err), "-s", sock, "-o", "zhang.wei",
                 "shelve", "gd-1.ch4", "level1", "--for", "30m", "--reason",
                 "recalibration, permit 4711", NULL);
    if (rc != 0)
        fail_msg("rc %d: %s", rc, err);
    assert_true(strncmp(out, "shelve gd-1.ch4 level1: accepted (acked -> shelved)", 51) ==
                0);
    rc = run_ctl(f, out, sizeof(out), err, sizeof(err), "-s", sock, "alarms", NULL);
    assert_int_equal(rc, 0);
    print_message("%s", out);
    /* Still its area's first-out: no new series has begun. */
    assert_non_null(strstr(
        out, "-- shelved, suppressed, out of service --\n2*  shelved        gd-1.ch4"));
    assert_non_null(strstr(out, "  until 20"));

    /* Usage errors and an unreachable gateway: 2. */
    rc = run_ctl(f, out, sizeof(out), err, sizeof(err), "-s", sock, "ack", "gd-1.ch4",
                 "level1", NULL);
    assert_int_equal(rc, 2);
    assert_non_null(strstr(err, "ack needs an officer: give -o OFFICER or set "
                                "PARKGUARD_OFFICER"));
    rc = run_ctl(f, out, sizeof(out), err, sizeof(err), "-s", sock, "-o", "zhang.wei",
                 "oos", "gd-1.ch4", "level1", NULL);
    assert_int_equal(rc, 2);
    assert_non_null(strstr(err, "oos needs --reason TEXT"));
    rc = run_ctl(f, out, sizeof(out), err, sizeof(err), "-s", "/nonexistent/ctl.sock",
                 "status", NULL);
    assert_int_equal(rc, 2);
    assert_non_null(strstr(err, "cannot connect to /nonexistent/ctl.sock"));

    /* -j: the reply as it came. */
    rc = run_ctl(f, out, sizeof(out), err, sizeof(err), "-j", "-s", sock, "status", NULL);
    assert_int_equal(rc, 0);
    assert_true(strncmp(out, "{\"id\":1,\"ok\":true,\"gateway\":\"gw-test\"", 37) == 0);
    rc = run_ctl(f, out, sizeof(out), err, sizeof(err), "-s", sock, "-j", "-o", "visitor",
                 "silence", "zone-b", NULL);
    assert_int_equal(rc, 1);
    mask_seq(out);
    assert_string_equal(out,
                        "{\"id\":1,\"ok\":false,\"error\":\"not_authorised\",\"detail\":"
                        "\"officer visitor holds no rights\",\"seq\":#}\n");
    fx_free(f);
}
#endif

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_oversized_and_long_reason),
        cmocka_unit_test(test_decode),
        cmocka_unit_test(test_commands),
        cmocka_unit_test(test_timeout_and_busy),
        cmocka_unit_test(test_socket),
        cmocka_unit_test(test_stale_socket),
        cmocka_unit_test(test_group),
        cmocka_unit_test(test_peer_credentials),
#ifdef PG_CTL_BIN
        cmocka_unit_test(test_parkguardctl),
#endif
    };

    /* Refusals log at info; warnings and errors are what a reader of this output needs.
     */
    log_init("test_control", LOG_LEVEL_WARN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
