#include "control.h"

#include <cjson/cJSON.h>

#include <errno.h>
#include <grp.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "alarm.h"
#include "log.h"
#include "payload.h"
#include "pgtime.h"

#ifndef PG_VERSION
#define PG_VERSION "unknown"
#endif

/* Timed-out commands remembered so that their late answers can be logged by name. */
#define CONTROL_LATE_MAX 16
/* Reads of one alarm record before the listing gives up (each retry is a few ns). */
#define CONTROL_SNAPSHOT_TRIES 1000
/* The largest integer a JSON number carries exactly, and so the largest request id. */
#define CONTROL_MAX_ID 9007199254740992.0

/* ---- the request table ------------------------------------------------------------ */

/* What a request may and must carry, beyond "id" and "cmd". */
#define REQ_OFFICER 0x01u /* "officer", required */
#define REQ_TARGET  0x02u /* "point" + "limit", or "area" + limit "vote"; required */
#define REQ_AREA    0x04u /* "area", optional (silence: absent means every area) */
#define REQ_REASON  0x08u /* "reason", optional */
#define REQ_WHY     0x10u /* "reason", required and not blank */
#define REQ_SHELVE  0x20u /* "duration_s" or "one_shot" */

/*
 * Every request the protocol knows. A new command is one line here (and, when it is an
 * alarm command, one in MSG_CMD_MAP). Reasons are required where a command hides an
 * alarm or brings a hidden one back, so that the journal says why; acknowledging,
 * resetting, silencing and unshelving make the plant more visible and are never held up
 * for want of words. XX(wire name, verb, op, flags)
 */
#define CONTROL_REQUEST_MAP(XX)                                                          \
    XX("alarms", CONTROL_VERB_ALARMS, 0, 0u)                                             \
    XX("status", CONTROL_VERB_STATUS, 0, 0u)                                             \
    XX("ack", CONTROL_VERB_COMMAND, MSG_CMD_ACK, REQ_OFFICER | REQ_TARGET | REQ_REASON)  \
    XX("reset", CONTROL_VERB_COMMAND, MSG_CMD_RESET,                                     \
       REQ_OFFICER | REQ_TARGET | REQ_REASON)                                            \
    XX("silence", CONTROL_VERB_COMMAND, MSG_CMD_SILENCE,                                 \
       REQ_OFFICER | REQ_AREA | REQ_REASON)                                              \
    XX("shelve", CONTROL_VERB_COMMAND, MSG_CMD_SHELVE,                                   \
       REQ_OFFICER | REQ_TARGET | REQ_WHY | REQ_SHELVE)                                  \
    XX("unshelve", CONTROL_VERB_COMMAND, MSG_CMD_UNSHELVE,                               \
       REQ_OFFICER | REQ_TARGET | REQ_REASON)                                            \
    XX("oos", CONTROL_VERB_COMMAND, MSG_CMD_OOS, REQ_OFFICER | REQ_TARGET | REQ_WHY)     \
    XX("rts", CONTROL_VERB_COMMAND, MSG_CMD_RTS, REQ_OFFICER | REQ_TARGET | REQ_WHY)

struct request_kind {
    const char *name;
    uint8_t verb;
    uint8_t op;
    unsigned flags;
};

static const struct request_kind request_kinds[] = {
#define CONTROL_REQUEST_ROW(name, verb, op, flags) {name, verb, op, flags},
    CONTROL_REQUEST_MAP(CONTROL_REQUEST_ROW)
#undef CONTROL_REQUEST_ROW
};

#define N_REQUEST_KINDS (sizeof(request_kinds) / sizeof(request_kinds[0]))

const char *control_error_name(unsigned e)
{
    static const char *const names[] = {"none",
#define CONTROL_ERROR_NAME(name, text) text,
                                        CONTROL_ERROR_MAP(CONTROL_ERROR_NAME)
#undef CONTROL_ERROR_NAME
    };
    return e < CONTROL_E_COUNT ? names[e] : "invalid";
}

/* ---- decoding --------------------------------------------------------------------- */

static int refuse(int code, char *detail, size_t detail_len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int refuse(int code, char *detail, size_t detail_len, const char *fmt, ...)
{
    va_list ap;

    if (detail_len > 0) {
        va_start(ap, fmt);
        (void)vsnprintf(detail, detail_len, fmt, ap);
        va_end(ap);
    }
    return -code;
}

/*
 * cJSON decodes "\u0000" into a string that simply ends there, so "gd-1.ch4\u0000x"
 * would name gd-1.ch4. A request must mean exactly what it says: such text is refused
 * before parsing. A backslash outside a string is a syntax error anyway.
 */
static bool has_nul_escape(const char *s, size_t len)
{
    for (size_t i = 0; i + 1 < len; i++) {
        if (s[i] != '\\')
            continue;
        if (s[i + 1] == 'u' && i + 5 < len && memcmp(s + i + 2, "0000", 4) == 0)
            return true;
        i++; /* the escaped character, which may itself be a backslash */
    }
    return false;
}

static bool has_control_char(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p < 0x20 || *p == 0x7f)
            return true;
    }
    return false;
}

static bool blank(const char *s)
{
    for (; *s; s++) {
        if (*s != ' ')
            return false;
    }
    return true;
}

/* Well-formed UTF-8 (no overlongs, surrogates or code points past U+10FFFF): the reason
 * goes into the journal and into MQTT payloads that other systems parse. */
static bool valid_utf8(const char *str)
{
    const unsigned char *s = (const unsigned char *)str;

    while (*s != '\0') {
        unsigned char c = *s;
        size_t n = c < 0x80             ? 0
                   : (c & 0xe0) == 0xc0 ? 1
                   : (c & 0xf0) == 0xe0 ? 2
                   : (c & 0xf8) == 0xf0 ? 3
                                        : 4;
        uint32_t cp = n == 0 ? c : n == 1 ? c & 0x1fu : n == 2 ? c & 0x0fu : c & 0x07u;

        if (n == 4)
            return false;
        for (size_t i = 1; i <= n; i++) {
            if ((s[i] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i] & 0x3fu);
        }
        if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
            cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        s += n + 1;
    }
    return true;
}

/*
 * A name from the request, quoted back in a refusal: printable ASCII only and cut short,
 * so that whatever a client sent, the reply stays one readable line of valid JSON.
 */
struct echo {
    char text[44];
};

static struct echo echo(const char *s)
{
    struct echo e;
    size_t i = 0;

    for (; s[i] != '\0' && i < 40; i++)
        e.text[i] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
    if (s[i] != '\0')
        e.text[i++] = '.', e.text[i++] = '.', e.text[i++] = '.';
    e.text[i] = '\0';
    return e;
}

static bool allowed_key(const char *key, unsigned flags)
{
    static const struct {
        const char *key;
        unsigned flags;
    } keys[] = {
        {"id", 0},
        {"cmd", 0},
        {"officer", REQ_OFFICER},
        {"point", REQ_TARGET},
        {"limit", REQ_TARGET},
        {"area", REQ_TARGET | REQ_AREA},
        {"reason", REQ_REASON | REQ_WHY},
        {"duration_s", REQ_SHELVE},
        {"one_shot", REQ_SHELVE},
    };

    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        if (strcmp(key, keys[i].key) == 0)
            return keys[i].flags == 0 || (keys[i].flags & flags) != 0;
    }
    return false;
}

static int decode_id(const cJSON *root, struct control_request *req, char *detail,
                     size_t dlen)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, "id");

    if (v == NULL)
        return 0;
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble < 0 ||
        v->valuedouble > CONTROL_MAX_ID || v->valuedouble != floor(v->valuedouble))
        return refuse(CONTROL_E_BAD_REQUEST, detail, dlen,
                      "\"id\" must be an integer 0..2^53");
    req->has_id = true;
    req->id = (uint64_t)v->valuedouble;
    return 0;
}

/* Unknown and repeated keys, then keys that do not apply to this request. */
static int decode_keys(const cJSON *root, const struct request_kind *k, char *detail,
                       size_t dlen)
{
    const cJSON *c;

    cJSON_ArrayForEach(c, root)
    {
        const char *key = c->string != NULL ? c->string : "";

        if (!allowed_key(key, 0xffu))
            return refuse(CONTROL_E_BAD_REQUEST, detail, dlen, "unknown key \"%s\"",
                          echo(key).text);
        if (!allowed_key(key, k->flags))
            return refuse(CONTROL_E_BAD_REQUEST, detail, dlen,
                          "\"%s\" does not apply to %s", key, k->name);
        for (const cJSON *e = root->child; e != c; e = e->next) {
            if (e->string != NULL && strcmp(e->string, key) == 0)
                return refuse(CONTROL_E_BAD_REQUEST, detail, dlen, "duplicate key \"%s\"",
                              key);
        }
    }
    return 0;
}

/*
 * The officer must be configured: the socket's permissions say who may connect, the
 * officer list says who may command. A well-formed id the list does not know still goes
 * to the RT loop, with no rights, so that the attempt is refused there and journalled
 * with the id it used: an audit trail that only shows permitted officers would hide
 * exactly the attempts a safety review wants to see.
 */
/* The configured officer with this id, or NULL. */
static const struct config_officer *find_officer(const struct config *cfg, const char *id)
{
    for (size_t i = 0; i < cfg->control.n_officers; i++) {
        if (strcmp(cfg->control.officers[i].id, id) == 0)
            return &cfg->control.officers[i];
    }
    return NULL;
}

static int decode_officer(const struct config *cfg, const cJSON *root,
                          struct msg_command *cmd, char *detail, size_t dlen)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, "officer");
    const struct config_officer *o;

    if (v == NULL)
        return refuse(CONTROL_E_NOT_AUTHORISED, detail, dlen,
                      "a command needs an officer id");
    if (!cJSON_IsString(v))
        return refuse(CONTROL_E_BAD_REQUEST, detail, dlen,
                      "\"officer\" must be a string");
    if (!config_officer_id_valid(v->valuestring))
        return refuse(CONTROL_E_NOT_AUTHORISED, detail, dlen,
                      "officer \"%s\" is not configured on this gateway",
                      echo(v->valuestring).text);
    o = find_officer(cfg, v->valuestring);
    (void)snprintf(cmd->user, sizeof(cmd->user), "%s", v->valuestring);
    cmd->rights = o != NULL ? (uint8_t)o->rights : 0;
    return 0;
}

static int find_area(const struct config *cfg, const char *id)
{
    for (size_t i = 0; i < cfg->n_areas; i++) {
        if (strcmp(cfg->areas[i].id, id) == 0)
            return (int)i;
    }
    return -1;
}

static int decode_area(const struct config *cfg, const cJSON *v, uint32_t *area,
                       char *detail, size_t dlen)
{
    int a;

    if (!cJSON_IsString(v))
        return refuse(CONTROL_E_BAD_REQUEST, detail, dlen, "\"area\" must be a string");
    a = find_area(cfg, v->valuestring);
    if (a < 0)
        return refuse(CONTROL_E_UNKNOWN_AREA, detail, dlen, "no area \"%s\"",
                      echo(v->valuestring).text);
    *area = (uint32_t)a;
    return 0;
}

/*
 * Which alarm: a point and one of its limits, or an area's vote alarm. Whether the point
 * has that limit at all is the RT loop's to say (no_such_alarm), since it alone holds
 * the alarm records; the refusal is then journalled like any other.
 */
static int decode_target(const struct config *cfg, const cJSON *root,
                         struct msg_command *cmd, char *detail, size_t dlen)
{
    const cJSON *lim = cJSON_GetObjectItemCaseSensitive(root, "limit");
    const cJSON *pt = cJSON_GetObjectItemCaseSensitive(root, "point");
    const cJSON *ar = cJSON_GetObjectItemCaseSensitive(root, "area");
    unsigned l = 0;
    long p;

    if (lim == NULL)
        return refuse(CONTROL_E_BAD_REQUEST, detail, dlen, "missing \"limit\"");
    if (!cJSON_IsString(lim))
        return refuse(CONTROL_E_BAD_REQUEST, detail, dlen, "\"limit\" must be a string");
    /* MAINT is a marker, not an alarm: nothing to command. */
    while (l < MSG_LIMIT_COUNT &&
           (l == MSG_LIMIT_MAINT || strcmp(lim->valuestring, msg_limit_name(l)) != 0))
        l++;
    if (l == MSG_LIMIT_COUNT)
        return refuse(CONTROL_E_UNKNOWN_LIMIT, detail, dlen,
                      "no limit \"%s\" (high, hh, l, ll, level1, level2, o2-low, "
                      "o2-high, roc-rise, roc-fall, fault, vote)",
                      echo(lim->valuestring).text);
    cmd->limit = (uint8_t)l;
    if (l == MSG_LIMIT_VOTE) {
        if (pt != NULL)
            return refuse(
                CONTROL_E_BAD_REQUEST, detail, dlen,
                "a vote alarm belongs to an area: give \"area\", not \"point\"");
        if (ar == NULL)
            return refuse(CONTROL_E_BAD_REQUEST, detail, dlen,
                          "a vote alarm needs \"area\"");
        return decode_area(cfg, ar, &cmd->point, detail, dlen);
    }
    if (ar != NULL)
        return refuse(CONTROL_E_BAD_REQUEST, detail, dlen,
                      "\"area\" names only a vote alarm: give \"point\"");
    if (pt == NULL)
        return refuse(CONTROL_E_BAD_REQUEST, detail, dlen, "missing \"point\"");
    if (!cJSON_IsString(pt))
        return refuse(CONTROL_E_BAD_REQUEST, detail, dlen, "\"point\" must be a string");
    p = config_point_index(cfg, pt->valuestring);
    if (p < 0)
        return refuse(CONTROL_E_UNKNOWN_POINT, detail, dlen, "no point \"%s\"",
                      echo(pt->valuestring).text);
    cmd->point = (uint32_t)p;
    return 0;
}

static int decode_reason(const cJSON *root, unsigned flags, const char *name,
                         struct msg_command *cmd, char *detail, size_t dlen)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, "reason");

    if (v != NULL) {
        if (!cJSON_IsString(v))
            return refuse(CONTROL_E_BAD_REQUEST, detail, dlen,
                          "\"reason\" must be a string");
        if (strlen(v->valuestring) >= MSG_REASON_LEN)
            return refuse(CONTROL_E_BAD_REQUEST, detail, dlen,
                          "\"reason\" is %zu bytes, at most %d", strlen(v->valuestring),
                          MSG_REASON_LEN - 1);
        if (has_control_char(v->valuestring))
            return refuse(CONTROL_E_BAD_REQUEST, detail, dlen,
                          "\"reason\" must not contain control characters");
        if (!valid_utf8(v->valuestring))
            return refuse(CONTROL_E_BAD_REQUEST, detail, dlen,
                          "\"reason\" is not valid UTF-8");
        (void)snprintf(cmd->reason, sizeof(cmd->reason), "%s", v->valuestring);
    }
    if ((flags & REQ_WHY) && blank(cmd->reason))
        return refuse(CONTROL_E_REASON_REQUIRED, detail, dlen, "%s needs a reason", name);
    return 0;
}

static int decode_shelve(const cJSON *root, struct msg_command *cmd, char *detail,
                         size_t dlen)
{
    const cJSON *os = cJSON_GetObjectItemCaseSensitive(root, "one_shot");
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(root, "duration_s");

    if (os != NULL && !cJSON_IsBool(os))
        return refuse(CONTROL_E_BAD_REQUEST, detail, dlen,
                      "\"one_shot\" must be true or false");
    cmd->one_shot = cJSON_IsTrue(os);
    if (cmd->one_shot) {
        if (d != NULL)
            return refuse(CONTROL_E_BAD_REQUEST, detail, dlen,
                          "a one-shot shelve takes no \"duration_s\"");
        return 0;
    }
    if (d == NULL)
        return refuse(CONTROL_E_BAD_DURATION, detail, dlen,
                      "a timed shelve needs \"duration_s\" (1..%d seconds), or "
                      "\"one_shot\": true",
                      CONTROL_MAX_SHELVE_S);
    if (!cJSON_IsNumber(d) || !isfinite(d->valuedouble) || d->valuedouble < 1 ||
        d->valuedouble > CONTROL_MAX_SHELVE_S || d->valuedouble != floor(d->valuedouble))
        return refuse(CONTROL_E_BAD_DURATION, detail, dlen,
                      "\"duration_s\" must be an integer 1..%d", CONTROL_MAX_SHELVE_S);
    cmd->shelve_ms = (int64_t)d->valuedouble * 1000;
    return 0;
}

int control_decode(const struct config *cfg, uint8_t source, int64_t now_utc_ms,
                   const char *line, size_t len, struct control_request *req,
                   char *detail, size_t detail_len)
{
    const struct request_kind *k = NULL;
    const cJSON *v;
    cJSON *root = NULL;
    const char *end = NULL;
    int rc;

    memset(req, 0, sizeof(*req));
    if (detail_len > 0)
        detail[0] = '\0';
    if (len >= CONTROL_LINE_MAX)
        return refuse(CONTROL_E_LINE_TOO_LONG, detail, detail_len,
                      "a request is at most %d bytes", CONTROL_LINE_MAX - 1);
    if (memchr(line, '\0', len) != NULL || has_nul_escape(line, len))
        return refuse(CONTROL_E_BAD_REQUEST, detail, detail_len,
                      "NUL characters are not allowed");
    root = cJSON_ParseWithLengthOpts(line, len, &end, false);
    if (root != NULL) {
        /* cJSON stops after the first value; anything but blanks after it is an error. */
        while (end < line + len && (*end == ' ' || *end == '\t' || *end == '\r'))
            end++;
    }
    if (root == NULL || end != line + len) {
        rc = refuse(CONTROL_E_BAD_REQUEST, detail, detail_len, "not valid JSON");
        goto out;
    }
    if (!cJSON_IsObject(root)) {
        rc = refuse(CONTROL_E_BAD_REQUEST, detail, detail_len, "expected a JSON object");
        goto out;
    }
    rc = decode_id(root, req, detail, detail_len);
    if (rc)
        goto out;

    v = cJSON_GetObjectItemCaseSensitive(root, "cmd");
    if (v == NULL || !cJSON_IsString(v)) {
        rc = refuse(CONTROL_E_BAD_REQUEST, detail, detail_len,
                    "\"cmd\" must be a string naming the request");
        goto out;
    }
    for (size_t i = 0; i < N_REQUEST_KINDS && k == NULL; i++) {
        if (strcmp(v->valuestring, request_kinds[i].name) == 0)
            k = &request_kinds[i];
    }
    if (k == NULL) {
        rc = refuse(CONTROL_E_UNKNOWN_COMMAND, detail, detail_len,
                    "no command \"%s\" (alarms, status, ack, reset, silence, shelve, "
                    "unshelve, oos, rts)",
                    echo(v->valuestring).text);
        goto out;
    }
    rc = decode_keys(root, k, detail, detail_len);
    if (rc)
        goto out;
    req->verb = k->verb;
    if (k->verb != CONTROL_VERB_COMMAND)
        goto out;

    req->cmd.op = k->op;
    req->cmd.source = source;
    req->cmd.utc_ms = now_utc_ms;
    rc = decode_officer(cfg, root, &req->cmd, detail, detail_len);
    if (rc == 0 && (k->flags & REQ_TARGET))
        rc = decode_target(cfg, root, &req->cmd, detail, detail_len);
    if (rc == 0 && (k->flags & REQ_AREA)) {
        v = cJSON_GetObjectItemCaseSensitive(root, "area");
        req->cmd.point = MSG_POINT_ALL;
        if (v != NULL)
            rc = decode_area(cfg, v, &req->cmd.point, detail, detail_len);
    }
    if (rc == 0)
        rc = decode_reason(root, k->flags, k->name, &req->cmd, detail, detail_len);
    if (rc == 0 && (k->flags & REQ_SHELVE))
        rc = decode_shelve(root, &req->cmd, detail, detail_len);
out:
    cJSON_Delete(root);
    return rc;
}

/* ---- the control object ----------------------------------------------------------- */

struct client {
    int fd; /* -1: free slot */
    uid_t uid;
    pid_t pid;
    int64_t idle_since_ns;
    bool discarding; /* a line overflowed: drop bytes up to its newline */
    size_t len;
    char buf[CONTROL_LINE_MAX];
};

/* A command whose client was told "timeout"; its answer may still come. */
struct late {
    uint64_t req;
    struct msg_command cmd;
};

struct control {
    const struct config *cfg;
    struct rtloop *rt;
    struct rtloop_source src;
    int listen_fd;
    int stop_fd;
    gid_t sock_gid;
    dev_t sock_dev; /* the socket file we created, unlinked only if still ours */
    ino_t sock_ino;
    bool bound;
    uint64_t next_req;
    struct late late[CONTROL_LATE_MAX];
    size_t n_late;
    struct client clients[CONTROL_MAX_CLIENTS];
    uint64_t (*committed)(void *arg); /* control_set_journal() */
    void *committed_arg;
    pthread_t thread;
    bool started;
};

/* ---- replies ---------------------------------------------------------------------- */

/*
 * cJSON reports each failed allocation through a NULL return; ok collects them, so that
 * a reply is either complete or replaced by a fixed out-of-memory line.
 */
static void add_num(cJSON *o, const char *k, double v, bool *ok)
{
    if (cJSON_AddNumberToObject(o, k, v) == NULL)
        *ok = false;
}

static void add_str(cJSON *o, const char *k, const char *v, bool *ok)
{
    if (cJSON_AddStringToObject(o, k, v) == NULL)
        *ok = false;
}

static void add_bool(cJSON *o, const char *k, bool v, bool *ok)
{
    if (cJSON_AddBoolToObject(o, k, v) == NULL)
        *ok = false;
}

static void add_null(cJSON *o, const char *k, bool *ok)
{
    if (cJSON_AddNullToObject(o, k) == NULL)
        *ok = false;
}

static void add_time(cJSON *o, const char *k, int64_t utc_ms, bool *ok)
{
    char ts[40];

    if (utc_ms == 0) {
        add_null(o, k, ok);
        return;
    }
    payload_iso8601(utc_ms, ts, sizeof(ts));
    add_str(o, k, ts, ok);
}

static cJSON *reply_new(const struct control_request *req, bool success, bool *ok)
{
    cJSON *o = cJSON_CreateObject();

    if (o == NULL) {
        *ok = false;
        return NULL;
    }
    if (req->has_id)
        add_num(o, "id", (double)req->id, ok);
    else
        add_null(o, "id", ok);
    add_bool(o, "ok", success, ok);
    return o;
}

/* Print and free o. Out of memory still yields a valid, if terse, reply. */
static char *reply_print(cJSON *o, bool ok)
{
    static const char oom[] = "{\"id\":null,\"ok\":false,\"error\":\"internal_error\","
                              "\"detail\":\"out of memory\"}";
    char *s = ok && o != NULL ? cJSON_PrintUnformatted(o) : NULL;

    cJSON_Delete(o);
    return s != NULL ? s : strdup(oom);
}

static char *reply_error(const struct control_request *req, const char *error,
                         const char *detail)
{
    bool ok = true;
    cJSON *o = reply_new(req, false, &ok);

    if (o != NULL) {
        add_str(o, "error", error, &ok);
        add_str(o, "detail", detail, &ok);
    }
    return reply_print(o, ok);
}

/* ---- commands --------------------------------------------------------------------- */

/* The right a command needs, for the refusal text. */
static const char *right_of(uint8_t op)
{
    switch (op) {
    case MSG_CMD_SHELVE:
    case MSG_CMD_UNSHELVE:
        return "shelve";
    case MSG_CMD_OOS:
    case MSG_CMD_RTS:
        return "service";
    default:
        return "ack";
    }
}

/* "gd-301.ch4 level1", "area zone-a vote", "every area" */
static void target_name(const struct config *cfg, const struct msg_command *cmd,
                        char *buf, size_t len)
{
    if (cmd->op == MSG_CMD_SILENCE && cmd->point == MSG_POINT_ALL)
        (void)snprintf(buf, len, "every area");
    else if (cmd->op == MSG_CMD_SILENCE)
        (void)snprintf(buf, len, "area %s",
                       cmd->point < cfg->n_areas ? cfg->areas[cmd->point].id : "?");
    else if (cmd->limit == MSG_LIMIT_VOTE)
        (void)snprintf(buf, len, "area %s vote",
                       cmd->point < cfg->n_areas ? cfg->areas[cmd->point].id : "?");
    else
        (void)snprintf(buf, len, "%s %s",
                       cmd->point < cfg->n_points ? cfg->points[cmd->point].id : "?",
                       msg_limit_name(cmd->limit));
}

/* Why the alarm state machine refused, in words for the officer at the terminal. */
static void refusal_text(const struct config *cfg, const struct msg_command *cmd,
                         const struct msg_cmd_result *r, char *buf, size_t len)
{
    char what[2 * CONFIG_ID_LEN + 16];
    const char *why;

    target_name(cfg, cmd, what, sizeof(what));
    switch (-r->status) {
    case ALARM_R_NOT_AUTHORISED:
        /* Silencing asks for any right: everyone who may act may stop a siren. */
        if (find_officer(cfg, cmd->user) == NULL)
            (void)snprintf(buf, len, "officer \"%s\" is not configured on this gateway",
                           cmd->user);
        else if (cmd->op == MSG_CMD_SILENCE)
            (void)snprintf(buf, len, "officer %s holds no rights", cmd->user);
        else
            (void)snprintf(buf, len, "officer %s lacks the \"%s\" right", cmd->user,
                           right_of(cmd->op));
        return;
    case ALARM_R_NO_SUCH_ALARM:
        (void)snprintf(buf, len, "there is no alarm %s", what);
        return;
    case ALARM_R_EXPIRED:
        (void)snprintf(buf, len,
                       "not carried out: it waited longer than %d ms for the "
                       "real-time loop; look at the alarm again and repeat it",
                       CONTROL_RESULT_TIMEOUT_MS);
        return;
    case ALARM_R_NOT_ACTIVE:
        why = cmd->op == MSG_CMD_SHELVE ? "a one-shot shelve needs a true condition"
                                        : "nothing to acknowledge";
        break;
    case ALARM_R_ALREADY_ACKED:
        why = "already acknowledged";
        break;
    case ALARM_R_NOT_ACKED_YET:
        why = "acknowledge it before resetting it";
        break;
    case ALARM_R_NOT_LATCHED:
        why = "not latched: nothing to reset";
        break;
    case ALARM_R_CONDITION_STILL_TRUE:
        why = "the condition is still true";
        break;
    case ALARM_R_NOT_SHELVABLE:
        why = "this alarm may not be shelved";
        break;
    case ALARM_R_ONE_SHOT_NOT_ALLOWED:
        why = "this alarm may not be shelved one-shot";
        break;
    case ALARM_R_BAD_DURATION:
        why = "the shelve length must be positive";
        break;
    case ALARM_R_SHELVE_TOO_LONG:
        why = "longer than this alarm's longest shelve";
        break;
    case ALARM_R_ALREADY_IN_STATE:
        why = "already in that state";
        break;
    case ALARM_R_NOT_SHELVED:
        why = "not shelved";
        break;
    case ALARM_R_NOT_OUT_OF_SERVICE:
        why = "not out of service";
        break;
    case ALARM_R_INHIBITED:
        why = "shelved, suppressed or out of service";
        break;
    default:
        why = "refused by the alarm state machine";
        break;
    }
    if (cmd->op == MSG_CMD_SILENCE)
        (void)snprintf(buf, len, "%s: %s", what, why);
    else
        (void)snprintf(buf, len, "%s is %s: %s", what, alarm_state_name(r->from), why);
}

static void note_late(struct control *c, const struct msg_command *cmd)
{
    if (c->n_late == CONTROL_LATE_MAX) {
        memmove(c->late, c->late + 1, (CONTROL_LATE_MAX - 1) * sizeof(c->late[0]));
        c->n_late--;
    }
    c->late[c->n_late].req = cmd->req;
    c->late[c->n_late].cmd = *cmd;
    c->n_late++;
}

/*
 * An answer to a command whose client was already told "timeout". The RT loop did take
 * it, so it is in the journal; the log says so too, since the officer was told otherwise.
 */
static void log_late(struct control *c, const struct msg_cmd_result *r)
{
    char what[2 * CONFIG_ID_LEN + 16];

    for (size_t i = 0; i < c->n_late; i++) {
        const struct msg_command *cmd = &c->late[i].cmd;

        if (c->late[i].req != r->req)
            continue;
        target_name(c->cfg, cmd, what, sizeof(what));
        log_warn("control: %s %s by %s, reported to the officer as timed out, was "
                 "answered late: %s (seq %llu)",
                 msg_cmd_name(cmd->op), what, cmd->user,
                 r->status >= 0 ? "accepted" : alarm_reason_name((unsigned)-r->status),
                 (unsigned long long)r->seq);
        memmove(&c->late[i], &c->late[i + 1], (c->n_late - i - 1) * sizeof(c->late[0]));
        c->n_late--;
        return;
    }
    log_warn("control: unexpected result for request %llu (seq %llu) discarded",
             (unsigned long long)r->req, (unsigned long long)r->seq);
}

/* Wait for the RT loop's wake-up, until deadline at the latest. Returns false past it. */
static bool wait_wake(struct control *c, int64_t deadline)
{
    struct pollfd pfd = {.fd = c->src.wake_fd, .events = POLLIN};
    int64_t left = deadline - pgtime_mono_ns();
    uint64_t v;

    if (left <= 0)
        return false;
    /* Without an eventfd, look again every few milliseconds. */
    if (c->src.wake_fd < 0) {
        struct timespec ts = {.tv_nsec = 2 * 1000000};

        (void)nanosleep(&ts, NULL);
        return true;
    }
    (void)poll(&pfd, 1, (int)((left + PGTIME_NS_PER_MS - 1) / PGTIME_NS_PER_MS));
    (void)!read(c->src.wake_fd, &v, sizeof(v));
    return true;
}

/*
 * Push the command and wait for its answer, CONTROL_RESULT_TIMEOUT_MS in all. Answers
 * come in order, so anything older than ours is the late answer of a command that timed
 * out. Returns 0, -EBUSY (the ring stayed full: the command was not taken) or -ETIMEDOUT
 * (taken, not answered in time: the loop refuses it as expired when it comes to it).
 */
static int round_trip(struct control *c, struct msg_command *cmd,
                      struct msg_cmd_result *r)
{
    int64_t deadline = pgtime_mono_ns() + CONTROL_RESULT_TIMEOUT_MS * PGTIME_NS_PER_MS;
    bool pushed = false;

    cmd->req = ++c->next_req;
    /*
     * A command the loop cannot take before the officer is told "timeout" must never be
     * carried out later: the officer may act again, and an ack could meet an alarm that
     * sounded after the officer last looked. The loop refuses it past this deadline.
     */
    /*
     * A margin for the answer's trip back: a command the loop decides right at the
     * deadline could otherwise take effect while its officer is told "timeout".
     */
    cmd->deadline_ns = deadline - 100 * PGTIME_NS_PER_MS;
    for (;;) {
        pushed = pushed || ring_push(c->src.commands, cmd);
        while (ring_pop(c->src.results, r)) {
            if (pushed && r->req == cmd->req)
                return 0;
            log_late(c, r);
        }
        if (!wait_wake(c, deadline))
            break;
    }
    if (!pushed)
        return -EBUSY;
    note_late(c, cmd);
    return -ETIMEDOUT;
}

/*
 * Wait, CONTROL_RESULT_TIMEOUT_MS at most, until the journal event seq is durably
 * stored. The recorder commits an event within milliseconds unless its disk is failing;
 * a short poll is plenty for an officer's command and costs the RT loop nothing.
 */
static bool wait_recorded(struct control *c, uint64_t seq)
{
    int64_t deadline = pgtime_mono_ns() + CONTROL_RESULT_TIMEOUT_MS * PGTIME_NS_PER_MS;
    struct timespec nap = {0, 2 * 1000 * 1000};

    if (c->committed == NULL)
        return true;
    while (c->committed(c->committed_arg) < seq) {
        if (pgtime_mono_ns() > deadline)
            return false;
        (void)nanosleep(&nap, NULL);
    }
    return true;
}

static char *serve_command(struct control *c, struct control_request *req,
                           const struct client *peer)
{
    struct msg_command *cmd = &req->cmd;
    struct msg_cmd_result r;
    bool recorded;
    char what[2 * CONFIG_ID_LEN + 16], detail[CONTROL_DETAIL_LEN], uid[32] = "";
    bool ok = true;
    cJSON *o;
    int rc;

    target_name(c->cfg, cmd, what, sizeof(what));
    if (peer != NULL)
        (void)snprintf(uid, sizeof(uid), " (uid %u)", (unsigned)peer->uid);
    rc = round_trip(c, cmd, &r);
    if (rc == -EBUSY) {
        log_error(
            "control: %s %s by %s%s not taken: the command ring stayed full for %d ms",
            msg_cmd_name(cmd->op), what, cmd->user, uid, CONTROL_RESULT_TIMEOUT_MS);
        (void)snprintf(
            detail, sizeof(detail),
            "the real-time loop took no command within %d ms; nothing was done",
            CONTROL_RESULT_TIMEOUT_MS);
        return reply_error(req, control_error_name(CONTROL_E_BUSY), detail);
    }
    if (rc == -ETIMEDOUT) {
        log_error(
            "control: %s %s by %s%s: no answer from the real-time loop within %d ms",
            msg_cmd_name(cmd->op), what, cmd->user, uid, CONTROL_RESULT_TIMEOUT_MS);
        (void)snprintf(detail, sizeof(detail),
                       "no answer within %d ms: if the real-time loop took it in time it "
                       "took effect, if not it never will (it expires); check the alarm "
                       "list",
                       CONTROL_RESULT_TIMEOUT_MS);
        return reply_error(req, control_error_name(CONTROL_E_TIMEOUT), detail);
    }

    if (r.status < 0) {
        refusal_text(c->cfg, cmd, &r, detail, sizeof(detail));
        log_info("control: %s %s by %s%s refused: %s: %s (seq %llu)",
                 msg_cmd_name(cmd->op), what, cmd->user, uid,
                 alarm_reason_name((unsigned)-r.status), detail,
                 (unsigned long long)r.seq);
        o = reply_new(req, false, &ok);
        if (o != NULL) {
            add_str(o, "error", alarm_reason_name((unsigned)-r.status), &ok);
            add_str(o, "detail", detail, &ok);
            /* A command on no alarm, or on no alarm at all (silence), has no state. */
            if (cmd->op != MSG_CMD_SILENCE && r.status != -ALARM_R_NO_SUCH_ALARM)
                add_str(o, "state", alarm_state_name(r.from), &ok);
            add_num(o, "seq", (double)r.seq, &ok);
        }
        return reply_print(o, ok);
    }

    /* A command whose event found no room in the journal is not recorded: don't wait. */
    recorded = r.journalled && wait_recorded(c, r.seq);
    if (c->committed != NULL && !recorded)
        log_warn(
            "control: %s %s by %s%s (seq %llu) is done but not yet in the store after "
            "%d ms",
            msg_cmd_name(cmd->op), what, cmd->user, uid, (unsigned long long)r.seq,
            CONTROL_RESULT_TIMEOUT_MS);
    log_info("control: %s %s by %s%s: %s %s -> %s (seq %llu)%s%s", msg_cmd_name(cmd->op),
             what, cmd->user, uid, r.status == 0 ? "accepted" : "no change",
             alarm_state_name(r.from), alarm_state_name(r.to), (unsigned long long)r.seq,
             cmd->reason[0] ? ": " : "", cmd->reason);
    o = reply_new(req, true, &ok);
    if (o != NULL) {
        add_str(o, "result", r.status == 0 ? "accepted" : "no_change", &ok);
        if (cmd->op != MSG_CMD_SILENCE) {
            add_str(o, "from", alarm_state_name(r.from), &ok);
            add_str(o, "to", alarm_state_name(r.to), &ok);
        }
        add_num(o, "seq", (double)r.seq, &ok);
        if (c->committed != NULL)
            add_bool(o, "recorded", recorded, &ok);
    }
    return reply_print(o, ok);
}

/* ---- alarms and status ------------------------------------------------------------ */

struct row {
    struct rtloop_alarm a;
    size_t index;
};

static unsigned rank_priority(uint8_t p)
{
    /* An out-of-range priority ranks as P1, as in alarm_outranks(). */
    return p >= ALARM_P1 && p <= ALARM_P4 ? p : ALARM_P1;
}

static int64_t rank_time(const struct rtloop_alarm *a)
{
    return a->active_utc_ms != 0 ? a->active_utc_ms : a->since_utc_ms;
}

/* The active list first, then the hidden alarms; each by priority, then oldest first. */
static int by_rank(const void *pa, const void *pb)
{
    const struct row *a = pa, *b = pb;
    bool ia = !alarm_state_active(a->a.state), ib = !alarm_state_active(b->a.state);
    unsigned xa = rank_priority(a->a.priority), xb = rank_priority(b->a.priority);
    int64_t ta = rank_time(&a->a), tb = rank_time(&b->a);

    if (ia != ib)
        return ia ? 1 : -1;
    if (xa != xb)
        return xa < xb ? -1 : 1;
    if (ta != tb)
        return ta < tb ? -1 : 1;
    return a->index < b->index ? -1 : a->index > b->index;
}

/*
 * Copy every alarm that is not normal. A record that keeps changing under the reader
 * fails the whole listing: an officer must never be shown a partial list as complete.
 * *rows is allocated with malloc.
 */
static int snapshot(struct control *c, struct row **rows, size_t *n, size_t *records)
{
    size_t count = rtloop_alarm_count(c->rt);
    struct row *out = calloc(count ? count : 1, sizeof(*out));

    *rows = NULL;
    *n = 0;
    *records = count;
    if (out == NULL)
        return -ENOMEM;
    for (size_t i = 0; i < count; i++) {
        struct rtloop_alarm a;
        int rc = -EAGAIN;

        for (int t = 0; t < CONTROL_SNAPSHOT_TRIES && rc == -EAGAIN; t++) {
            rc = rtloop_alarm_get(c->rt, i, &a);
            if (rc == -EAGAIN)
                (void)sched_yield();
        }
        if (rc == -ENOENT)
            break;
        if (rc < 0) {
            free(out);
            return rc;
        }
        if (a.state == ALARM_NORMAL)
            continue;
        out[*n].a = a;
        out[*n].index = i;
        (*n)++;
    }
    *rows = out;
    return 0;
}

static cJSON *alarm_json(const struct config *cfg, const struct rtloop_alarm *a, bool *ok)
{
    cJSON *o = cJSON_CreateObject();
    bool vote = a->limit == MSG_LIMIT_VOTE;
    const char *unit = "";

    if (o == NULL) {
        *ok = false;
        return NULL;
    }
    if (!vote && a->point < cfg->n_points) {
        add_str(o, "point", cfg->points[a->point].id, ok);
        unit = cfg->points[a->point].unit;
    } else {
        add_null(o, "point", ok);
    }
    add_str(o, "area", a->area < cfg->n_areas ? cfg->areas[a->area].id : "?", ok);
    add_str(o, "limit", msg_limit_name(a->limit), ok);
    add_str(o, "state", alarm_state_name(a->state), ok);
    add_bool(o, "active", alarm_state_active(a->state), ok);
    add_num(o, "priority", a->priority, ok);
    add_time(o, "since", a->since_utc_ms, ok);
    add_num(o, "since_ms", (double)a->since_utc_ms, ok);
    /* When it last went on the active list: what an officer means by "how long". */
    add_time(o, "active_since", a->active_utc_ms, ok);
    if (a->active_utc_ms != 0)
        add_num(o, "active_since_ms", (double)a->active_utc_ms, ok);
    else
        add_null(o, "active_since_ms", ok);
    /* cJSON writes NaN (no good value yet, no setpoint) as null. */
    add_num(o, "value", a->value, ok);
    add_num(o, "setpoint", a->setpoint, ok);
    add_str(o, "unit", unit, ok);
    add_bool(o, "condition", (a->flags & MSG_F_CONDITION) != 0, ok);
    add_bool(o, "first_out", (a->flags & MSG_F_FIRST_OUT) != 0, ok);
    add_bool(o, "latching", (a->flags & MSG_F_LATCHING) != 0, ok);
    add_bool(o, "test", (a->flags & MSG_F_TEST) != 0, ok);
    if (a->state == ALARM_SHELVED && a->shelve_until_utc_ms != 0) {
        add_time(o, "shelve_until", a->shelve_until_utc_ms, ok);
        add_num(o, "shelve_until_ms", (double)a->shelve_until_utc_ms, ok);
    } else {
        add_null(o, "shelve_until", ok);
        add_null(o, "shelve_until_ms", ok);
    }
    add_num(o, "seq", (double)a->seq, ok);
    return o;
}

static char *serve_alarms(struct control *c, const struct control_request *req)
{
    struct row *rows = NULL;
    size_t n = 0, records = 0;
    bool ok = true;
    cJSON *o, *arr;
    int rc = snapshot(c, &rows, &n, &records);

    if (rc < 0) {
        log_error("control: cannot list the alarms: %s",
                  rc == -EAGAIN ? "a record kept changing" : strerror(-rc));
        return reply_error(req, control_error_name(CONTROL_E_INTERNAL),
                           "the alarm list could not be read consistently; try again");
    }
    qsort(rows, n, sizeof(*rows), by_rank);
    o = reply_new(req, true, &ok);
    arr = cJSON_AddArrayToObject(o, "alarms");
    if (arr == NULL)
        ok = false;
    for (size_t i = 0; ok && i < n; i++) {
        cJSON *e = alarm_json(c->cfg, &rows[i].a, &ok);

        if (e != NULL && !cJSON_AddItemToArray(arr, e)) {
            cJSON_Delete(e);
            ok = false;
        }
    }
    free(rows);
    return reply_print(o, ok);
}

static char *serve_status(struct control *c, const struct control_request *req)
{
    struct row *rows = NULL;
    size_t n = 0, records = 0, active = 0, unack = 0, shelved = 0, suppressed = 0,
           oos = 0;
    struct rtloop_stats st;
    bool ok = true;
    cJSON *o, *al;
    int rc = snapshot(c, &rows, &n, &records);

    if (rc < 0)
        return reply_error(req, control_error_name(CONTROL_E_INTERNAL),
                           "the alarm records could not be read consistently; try again");
    for (size_t i = 0; i < n; i++) {
        uint8_t s = rows[i].a.state;

        active += alarm_state_active(s);
        unack += alarm_state_unack(s);
        shelved += s == ALARM_SHELVED;
        suppressed += s == ALARM_SUPPRESSED;
        oos += s == ALARM_OUT_OF_SERVICE;
    }
    free(rows);
    rtloop_stats(c->rt, &st);
    o = reply_new(req, true, &ok);
    add_str(o, "gateway", c->cfg->gateway.id, &ok);
    add_str(o, "site", c->cfg->gateway.site, &ok);
    add_str(o, "version", PG_VERSION, &ok);
    add_num(o, "points", (double)c->cfg->n_points, &ok);
    al = cJSON_AddObjectToObject(o, "alarms");
    if (al == NULL)
        ok = false;
    else {
        add_num(al, "records", (double)records, &ok);
        add_num(al, "active", (double)active, &ok);
        add_num(al, "unack", (double)unack, &ok);
        add_num(al, "shelved", (double)shelved, &ok);
        add_num(al, "suppressed", (double)suppressed, &ok);
        add_num(al, "out_of_service", (double)oos, &ok);
    }
    add_num(o, "commands", (double)st.commands, &ok);
    add_num(o, "commands_rejected", (double)st.commands_rejected, &ok);
    add_num(o, "rt_cycles", (double)st.cycles, &ok);
    add_bool(o, "rt_fifo", st.fifo, &ok);
    /* The loop's own timing, as in the metrics: what an officer's "is it healthy" needs.
     */
    add_num(o, "rt_period_ms", (double)c->cfg->rt.period_ms, &ok);
    add_num(o, "rt_overruns", (double)st.overruns, &ok);
    add_num(o, "rt_max_late_us", (double)(st.max_late_ns / 1000), &ok);
    add_num(o, "rt_max_cycle_us", (double)(st.max_exec_ns / 1000), &ok);
    return reply_print(o, ok);
}

static char *serve(struct control *c, const char *line, size_t len,
                   const struct client *peer)
{
    struct control_request req;
    char detail[CONTROL_DETAIL_LEN];
    int rc = control_decode(c->cfg, MSG_SRC_LOCAL, pgtime_utc_ms(), line, len, &req,
                            detail, sizeof(detail));

    if (rc < 0) {
        char who[32] = "";

        /*
         * Refused before the ring, so not in the journal: the log is its record. Someone
         * who may connect but is no officer is worth a warning.
         */
        if (peer != NULL)
            (void)snprintf(who, sizeof(who), " from uid %u", (unsigned)peer->uid);
        if (rc == -CONTROL_E_NOT_AUTHORISED)
            log_warn("control: request%s refused: %s: %s", who,
                     control_error_name((unsigned)-rc), detail);
        else
            log_info("control: request%s refused: %s: %s", who,
                     control_error_name((unsigned)-rc), detail);
        return reply_error(&req, control_error_name((unsigned)-rc), detail);
    }
    switch (req.verb) {
    case CONTROL_VERB_ALARMS:
        return serve_alarms(c, &req);
    case CONTROL_VERB_STATUS:
        return serve_status(c, &req);
    default:
        return serve_command(c, &req, peer);
    }
}

char *control_handle_line(struct control *c, const char *line, size_t len)
{
    return serve(c, line, len, NULL);
}

/* ---- the socket ------------------------------------------------------------------- */

/*
 * Write all of buf, waiting for room at most CONTROL_WRITE_TIMEOUT_MS in all: a client
 * that stops reading its reply must not stall everyone else. Returns 0 or -errno.
 */
static int send_all(int fd, const char *buf, size_t len)
{
    int64_t deadline = pgtime_mono_ns() + CONTROL_WRITE_TIMEOUT_MS * PGTIME_NS_PER_MS;

    while (len > 0) {
        ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
        struct pollfd pfd = {.fd = fd, .events = POLLOUT};
        int64_t left;

        if (n > 0) {
            buf += n;
            len -= (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
            return -errno;
        left = deadline - pgtime_mono_ns();
        if (left <= 0)
            return -ETIMEDOUT;
        (void)poll(&pfd, 1, (int)((left + PGTIME_NS_PER_MS - 1) / PGTIME_NS_PER_MS));
    }
    return 0;
}

/* Send one reply line and free it. NULL (out of memory) sends a fixed line. */
static int send_reply(int fd, char *reply)
{
    static const char oom[] = "{\"id\":null,\"ok\":false,\"error\":\"internal_error\","
                              "\"detail\":\"out of memory\"}\n";
    size_t len = reply != NULL ? strlen(reply) : 0;
    char *line = reply != NULL ? realloc(reply, len + 2) : NULL;
    int rc;

    if (line == NULL) {
        free(reply);
        return send_all(fd, oom, sizeof(oom) - 1);
    }
    line[len] = '\n';
    line[len + 1] = '\0';
    rc = send_all(fd, line, len + 1);
    free(line);
    return rc;
}

static char *error_line(enum control_error e, const char *detail)
{
    struct control_request none = {.has_id = false};

    return reply_error(&none, control_error_name(e), detail);
}

static void drop_client(struct client *cl)
{
    if (cl->fd >= 0)
        (void)close(cl->fd);
    cl->fd = -1;
    cl->len = 0;
    cl->discarding = false;
}

/*
 * Whether the peer may use the socket: root, the daemon's own user, or a member of the
 * socket's group, by primary or supplementary group. The file mode already keeps others
 * from connecting; this check holds even if the mode is loosened or the socket is
 * reached through a descriptor passed on. Fills why on refusal.
 */
static bool peer_allowed(const struct control *c, int fd, struct ucred *cr, char *why,
                         size_t why_len)
{
    socklen_t len = sizeof(*cr);

    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, cr, &len) != 0 || len != sizeof(*cr)) {
        (void)snprintf(why, why_len, "peer credentials unavailable: %s", strerror(errno));
        return false;
    }
    if (cr->uid == 0 || cr->uid == geteuid() || cr->gid == c->sock_gid)
        return true;
#ifdef SO_PEERGROUPS
    {
        gid_t few[64], *groups = few;
        bool member = false;

        len = sizeof(few);
        if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) != 0) {
            /*
             * Only ERANGE says how much room the list needs; any other failure (a kernel
             * before 4.13 has no SO_PEERGROUPS) leaves no list to read.
             */
            if (errno == ERANGE && (groups = malloc(len)) != NULL &&
                getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) == 0)
                ;
            else
                len = 0;
        }
        for (size_t i = 0; groups != NULL && i < len / sizeof(gid_t); i++)
            member = member || groups[i] == c->sock_gid;
        if (groups != few)
            free(groups);
        if (member)
            return true;
    }
#endif
    (void)snprintf(why, why_len,
                   "uid %u is not root, not the daemon's user and not in group %u",
                   (unsigned)cr->uid, (unsigned)c->sock_gid);
    return false;
}

static void accept_clients(struct control *c)
{
    for (;;) {
        int fd = accept4(c->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        struct client *slot = NULL;
        struct ucred cr = {0};
        char why[160];

        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE) {
                /* The connection stays queued and poll() would report it at once again:
                 * pause instead of spinning until a descriptor is free. */
                struct timespec pause = {.tv_nsec = 100 * 1000000};

                log_warn("control: cannot accept a connection: %s; retrying",
                         strerror(errno));
                (void)nanosleep(&pause, NULL);
            } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
                       errno != ECONNABORTED) {
                log_warn("control: accept failed: %s", strerror(errno));
            }
            return;
        }
        if (!peer_allowed(c, fd, &cr, why, sizeof(why))) {
            log_warn("control: connection from pid %d refused: %s", (int)cr.pid, why);
            (void)send_reply(fd, error_line(CONTROL_E_PERMISSION_DENIED,
                                            "not allowed to use this socket"));
            (void)close(fd);
            continue;
        }
        for (size_t i = 0; i < CONTROL_MAX_CLIENTS && slot == NULL; i++) {
            if (c->clients[i].fd < 0)
                slot = &c->clients[i];
        }
        if (slot == NULL) {
            log_warn("control: connection from uid %u refused: %d clients already",
                     (unsigned)cr.uid, CONTROL_MAX_CLIENTS);
            (void)send_reply(fd, error_line(CONTROL_E_TOO_MANY_CLIENTS,
                                            "too many connections; try again"));
            (void)close(fd);
            continue;
        }
        slot->fd = fd;
        slot->uid = cr.uid;
        slot->pid = cr.pid;
        slot->len = 0;
        slot->discarding = false;
        slot->idle_since_ns = pgtime_mono_ns();
        log_debug("control: connection from uid %u pid %d", (unsigned)cr.uid,
                  (int)cr.pid);
    }
}

/* Serve every complete line in the client's buffer. Returns false to drop the client. */
static bool serve_lines(struct control *c, struct client *cl)
{
    for (;;) {
        char *nl = memchr(cl->buf, '\n', cl->len);
        size_t used, n;

        if (cl->discarding) {
            if (nl == NULL) {
                cl->len = 0;
                return true;
            }
            cl->discarding = false;
        } else if (nl != NULL) {
            n = (size_t)(nl - cl->buf);
            if (n > 0 && cl->buf[n - 1] == '\r')
                n--;
            if (n > 0 && send_reply(cl->fd, serve(c, cl->buf, n, cl)) != 0)
                return false;
        } else if (cl->len == sizeof(cl->buf)) {
            /* Framing is lost: say so once, then skip to the end of this line. */
            char detail[64];

            (void)snprintf(detail, sizeof(detail), "a request is at most %d bytes",
                           CONTROL_LINE_MAX - 1);
            cl->discarding = true;
            cl->len = 0;
            return send_reply(cl->fd, error_line(CONTROL_E_LINE_TOO_LONG, detail)) == 0;
        } else {
            return true;
        }
        used = (size_t)(nl - cl->buf) + 1;
        memmove(cl->buf, cl->buf + used, cl->len - used);
        cl->len -= used;
    }
}

static void read_client(struct control *c, struct client *cl)
{
    ssize_t n = recv(cl->fd, cl->buf + cl->len, sizeof(cl->buf) - cl->len, 0);

    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    if (n <= 0) {
        drop_client(cl);
        return;
    }
    cl->len += (size_t)n;
    cl->idle_since_ns = pgtime_mono_ns();
    if (!serve_lines(c, cl))
        drop_client(cl);
}

static void *control_main(void *arg)
{
    struct control *c = arg;
    struct pollfd pfd[2 + CONTROL_MAX_CLIENTS];
    struct client *who[2 + CONTROL_MAX_CLIENTS];

    for (;;) {
        int64_t now = pgtime_mono_ns(),
                next = now + CONTROL_IDLE_TIMEOUT_MS * PGTIME_NS_PER_MS;
        nfds_t n = 2;

        pfd[0] = (struct pollfd){.fd = c->stop_fd, .events = POLLIN};
        pfd[1] = (struct pollfd){.fd = c->listen_fd, .events = POLLIN};
        for (size_t i = 0; i < CONTROL_MAX_CLIENTS; i++) {
            struct client *cl = &c->clients[i];
            int64_t idle_at =
                cl->idle_since_ns + CONTROL_IDLE_TIMEOUT_MS * PGTIME_NS_PER_MS;

            if (cl->fd < 0)
                continue;
            /* A silent client keeps a slot only so long. */
            if (idle_at <= now) {
                log_info("control: closing a connection of uid %u idle for %d s",
                         (unsigned)cl->uid, CONTROL_IDLE_TIMEOUT_MS / 1000);
                drop_client(cl);
                continue;
            }
            if (idle_at < next)
                next = idle_at;
            pfd[n] = (struct pollfd){.fd = cl->fd, .events = POLLIN};
            who[n++] = cl;
        }
        if (poll(pfd, n, (int)((next - now + PGTIME_NS_PER_MS - 1) / PGTIME_NS_PER_MS)) <
                0 &&
            errno != EINTR) {
            log_error("control: poll failed: %s; the command socket stops",
                      strerror(errno));
            break;
        }
        if (pfd[0].revents != 0)
            break;
        for (nfds_t i = 2; i < n; i++) {
            if (pfd[i].revents != 0 && who[i]->fd >= 0)
                read_client(c, who[i]);
        }
        if (pfd[1].revents != 0)
            accept_clients(c);
    }
    for (size_t i = 0; i < CONTROL_MAX_CLIENTS; i++)
        drop_client(&c->clients[i]);
    return NULL;
}

/* getgrnam_r with a buffer that grows as the group database asks. */
static int lookup_group(const char *name, gid_t *gid)
{
    struct group gr, *found = NULL;
    size_t size = 4096;
    char *buf = NULL;
    int rc;

    for (;;) {
        char *bigger = realloc(buf, size);

        if (bigger == NULL) {
            rc = ENOMEM;
            break;
        }
        buf = bigger;
        rc = getgrnam_r(name, &gr, buf, size, &found);
        if (rc != ERANGE || size >= 1024 * 1024)
            break;
        size *= 2;
    }
    if (rc == 0 && found != NULL)
        *gid = gr.gr_gid;
    free(buf);
    return rc != 0 ? -rc : found == NULL ? -ENOENT : 0;
}

/*
 * A socket file left by an earlier run that died is removed; a live daemon's is not, and
 * neither is anything that is not a socket (a typo in the config must never delete a
 * file).
 */
static int clear_stale(const struct sockaddr_un *addr)
{
    struct stat st;
    int fd, rc;

    if (lstat(addr->sun_path, &st) != 0)
        return errno == ENOENT ? 0 : -errno;
    if (!S_ISSOCK(st.st_mode)) {
        log_error("control: %s exists and is not a socket; not touching it",
                  addr->sun_path);
        return -EEXIST;
    }
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    rc = connect(fd, (const struct sockaddr *)addr, sizeof(*addr)) == 0 ? 0 : -errno;
    (void)close(fd);
    if (rc == 0 || rc == -EAGAIN) {
        log_error("control: another process is listening on %s", addr->sun_path);
        return -EADDRINUSE;
    }
    if (rc != -ECONNREFUSED && rc != -ENOENT) {
        log_error("control: cannot tell whether %s is in use: %s", addr->sun_path,
                  strerror(-rc));
        return rc;
    }
    if (unlink(addr->sun_path) != 0 && errno != ENOENT)
        return -errno;
    log_info("control: removed the stale socket %s", addr->sun_path);
    return 0;
}

/*
 * Bind the socket where nobody else can touch it: in a fresh directory of mode 0700 next
 * to the final path. Its group and mode are set there by path, which is safe because no
 * other user can swap the file for a symbolic link, and only then is it renamed into
 * place, atomically. Returns 0 with the final socket in place, 1 when the temporary path
 * would not fit a sun_path (the caller then binds in place), or a negative errno.
 */
static int bind_private(struct control *c, const char *path, gid_t gid)
{
    struct sockaddr_un tmp = {.sun_family = AF_UNIX};
    char dir[sizeof(tmp.sun_path)];
    const char *slash = strrchr(path, '/');
    int n, rc = 0;

    n = slash == NULL
            ? snprintf(dir, sizeof(dir), ".pgctl-XXXXXX")
            : snprintf(dir, sizeof(dir), "%.*s/.pgctl-XXXXXX", (int)(slash - path), path);
    if (n < 0 || (size_t)n + 3 > sizeof(tmp.sun_path))
        return 1;
    if (mkdtemp(dir) == NULL)
        return -errno;
    /* n + 3 fits (checked above): the directory, "/s" and the NUL. */
    memcpy(tmp.sun_path, dir, (size_t)n);
    memcpy(tmp.sun_path + n, "/s", 3);
    if (bind(c->listen_fd, (const struct sockaddr *)&tmp, sizeof(tmp)) != 0 ||
        (gid != (gid_t)-1 && chown(tmp.sun_path, (uid_t)-1, gid) != 0) ||
        chmod(tmp.sun_path, 0660) != 0 || rename(tmp.sun_path, path) != 0)
        rc = -errno;
    if (rc < 0)
        (void)unlink(tmp.sun_path);
    (void)rmdir(dir);
    return rc;
}

/*
 * Bind, set owner group and mode, then listen. Until listen() nobody can connect, so the
 * socket is never reachable with the umask's looser mode or the wrong group.
 */
static int listen_socket(struct control *c, const struct sockaddr_un *addr)
{
    const char *path = addr->sun_path;
    gid_t gid = (gid_t)-1;
    struct stat st;
    int rc;

    if (c->cfg->control.group[0] != '\0') {
        rc = lookup_group(c->cfg->control.group, &gid);
        if (rc < 0) {
            log_error("control: group %s: %s", c->cfg->control.group,
                      rc == -ENOENT ? "no such group" : strerror(-rc));
            return rc;
        }
    }
    rc = clear_stale(addr);
    if (rc < 0)
        return rc;
    c->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (c->listen_fd < 0)
        return -errno;
    rc = bind_private(c, path, gid);
    if (rc == 1) {
        /* A path too long for the private directory: bind in place, as a last resort. */
        if (bind(c->listen_fd, (const struct sockaddr *)addr, sizeof(*addr)) != 0 ||
            (gid != (gid_t)-1 && lchown(path, (uid_t)-1, gid) != 0) ||
            chmod(path, 0660) != 0)
            rc = -errno;
        else
            rc = 0;
    }
    if (rc < 0) {
        log_error("control: cannot bind %s: %s", path, strerror(-rc));
        return rc;
    }
    c->bound = true;
    if (lstat(path, &st) != 0)
        goto fail_errno;
    c->sock_dev = st.st_dev;
    c->sock_ino = st.st_ino;
    c->sock_gid = st.st_gid;
    if (!S_ISSOCK(st.st_mode) || (st.st_mode & 0777) != 0660) {
        log_error("control: %s is not the socket just bound with mode 0660", path);
        return -EPERM;
    }
    if (listen(c->listen_fd, CONTROL_MAX_CLIENTS) != 0)
        goto fail_errno;
    return 0;

fail_errno:
    rc = -errno;
    log_error("control: cannot set up %s: %s", path, strerror(errno));
    return rc;
}

int control_open(const struct config *cfg, struct rtloop *rt,
                 const struct rtloop_source *src, struct control **out)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    struct control *c;
    int rc;

    *out = NULL;
    if (cfg == NULL || rt == NULL || src == NULL || src->commands == NULL ||
        src->results == NULL || cfg->control.socket[0] == '\0' ||
        strlen(cfg->control.socket) >= sizeof(addr.sun_path))
        return -EINVAL;
    c = calloc(1, sizeof(*c));
    if (c == NULL)
        return -ENOMEM;
    c->cfg = cfg;
    c->rt = rt;
    c->src = *src;
    c->listen_fd = -1;
    for (size_t i = 0; i < CONTROL_MAX_CLIENTS; i++)
        c->clients[i].fd = -1;
    c->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (c->stop_fd < 0) {
        rc = -errno;
        goto fail;
    }
    memcpy(addr.sun_path, cfg->control.socket, strlen(cfg->control.socket) + 1);
    rc = listen_socket(c, &addr);
    if (rc < 0)
        goto fail;
    *out = c;
    return 0;

fail:
    control_close(c);
    return rc;
}

int control_start(struct control *c)
{
    int rc;

    if (c->started)
        return 0;
    rc = pthread_create(&c->thread, NULL, control_main, c);
    if (rc != 0)
        return -rc;
    c->started = true;
    return 0;
}

/* Unlink the socket only if the file there is still the one we bound. */
static void unlink_ours(struct control *c)
{
    struct stat st;

    if (!c->bound)
        return;
    if (lstat(c->cfg->control.socket, &st) == 0 && st.st_dev == c->sock_dev &&
        st.st_ino == c->sock_ino)
        (void)unlink(c->cfg->control.socket);
    c->bound = false;
}

void control_stop(struct control *c)
{
    uint64_t one = 1;

    if (c == NULL)
        return;
    if (c->started) {
        (void)!write(c->stop_fd, &one, sizeof(one));
        (void)pthread_join(c->thread, NULL);
        c->started = false;
    }
    for (size_t i = 0; i < CONTROL_MAX_CLIENTS; i++)
        drop_client(&c->clients[i]);
    if (c->listen_fd >= 0)
        (void)close(c->listen_fd);
    c->listen_fd = -1;
    unlink_ours(c);
}

void control_close(struct control *c)
{
    if (c == NULL)
        return;
    control_stop(c);
    if (c->stop_fd >= 0)
        (void)close(c->stop_fd);
    free(c);
}

void control_set_journal(struct control *c, uint64_t (*committed)(void *arg), void *arg)
{
    c->committed = committed;
    c->committed_arg = arg;
}
