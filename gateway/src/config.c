/*
 * config: JSON site configuration -> one validated, immutable struct config.
 *
 * The parser is a small tree walker over the cJSON document. It carries the JSON path of
 * the value being examined so that every error can name exactly where it is, and it stops
 * at the first error: one precise message is more useful to an integrator than a cascade
 * of consequences. Within an object the keys are first checked as a whole (unknown and
 * duplicate keys), then read in schema order, so the same file always yields the same
 * message.
 */
#include "config.h"

#include <cjson/cJSON.h>

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Values quoted back in messages are cut here, so one line stays readable. */
#define SHOW_MAX 40

#define WALK_PATH_LEN 256

struct walk {
    const char *name; /* base name of the file, first word of every message */
    char path[WALK_PATH_LEN];
    size_t path_len;
    char msg[CONFIG_ERR_LEN];
};

/* ---- messages --------------------------------------------------------------------- */

static int fail(struct walk *w, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int fail(struct walk *w, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (w->path_len > 0)
        n = snprintf(w->msg, sizeof(w->msg), "%s: %s: ", w->name, w->path);
    else
        n = snprintf(w->msg, sizeof(w->msg), "%s: ", w->name);
    if (n >= 0 && (size_t)n < sizeof(w->msg)) {
        va_start(ap, fmt);
        vsnprintf(w->msg + n, sizeof(w->msg) - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return -EINVAL;
}

static void format_number(double d, char *buf, size_t size)
{
    if (isnan(d)) {
        snprintf(buf, size, "nan");
    } else if (isinf(d)) {
        snprintf(buf, size, "%s", d > 0 ? "inf" : "-inf");
    } else if (d == floor(d) && fabs(d) < 1e15) {
        snprintf(buf, size, "%.0f", d);
    } else {
        /* The shortest form that reads back as the same double, as a person typed it. */
        snprintf(buf, size, "%.15g", d);
        if (strtod(buf, NULL) != d)
            snprintf(buf, size, "%.17g", d);
    }
}

/* A bounded compact rendering of a JSON value, for the "got ..." part of a message. */
struct sink {
    char buf[SHOW_MAX + 8];
    size_t len;
    bool cut;
};

static void put(struct sink *s, const char *text, size_t n)
{
    /* All or nothing per piece, so that an escape or a UTF-8 sequence is never split. */
    if (s->cut || s->len + n > SHOW_MAX) {
        s->cut = true;
        return;
    }
    memcpy(s->buf + s->len, text, n);
    s->len += n;
    s->buf[s->len] = '\0';
}

static void put_str(struct sink *s, const char *text)
{
    put(s, text, strlen(text));
}

static void put_quoted(struct sink *s, const char *str)
{
    const unsigned char *p = (const unsigned char *)str;

    put(s, "\"", 1);
    while (*p && !s->cut) {
        char esc[8];
        size_t n = 1;

        if (*p == '"' || *p == '\\') {
            esc[0] = '\\';
            esc[1] = (char)*p;
            put(s, esc, 2);
        } else if (*p < 0x20 || *p == 0x7f) {
            snprintf(esc, sizeof(esc), "\\u%04x", *p);
            put(s, esc, 6);
        } else {
            if (*p >= 0xf0)
                n = 4;
            else if (*p >= 0xe0)
                n = 3;
            else if (*p >= 0xc0)
                n = 2;
            for (size_t i = 1; i < n; i++) {
                if (p[i] == '\0') {
                    n = i;
                    break;
                }
            }
            put(s, (const char *)p, n);
        }
        p += n;
    }
    put(s, "\"", 1);
}

static void put_value(struct sink *s, const cJSON *v)
{
    char num[40];
    const cJSON *c;

    if (s->cut)
        return;
    if (cJSON_IsNull(v)) {
        put_str(s, "null");
    } else if (cJSON_IsTrue(v)) {
        put_str(s, "true");
    } else if (cJSON_IsFalse(v)) {
        put_str(s, "false");
    } else if (cJSON_IsNumber(v)) {
        format_number(v->valuedouble, num, sizeof(num));
        put_str(s, num);
    } else if (cJSON_IsString(v)) {
        put_quoted(s, v->valuestring);
    } else if (cJSON_IsArray(v)) {
        put_str(s, "[");
        cJSON_ArrayForEach(c, v)
        {
            if (c != v->child)
                put_str(s, ",");
            put_value(s, c);
            if (s->cut)
                return;
        }
        put_str(s, "]");
    } else if (cJSON_IsObject(v)) {
        put_str(s, "{");
        cJSON_ArrayForEach(c, v)
        {
            if (c != v->child)
                put_str(s, ",");
            put_quoted(s, c->string ? c->string : "");
            put_str(s, ":");
            put_value(s, c);
            if (s->cut)
                return;
        }
        put_str(s, "}");
    } else {
        put_str(s, "?");
    }
}

struct shown {
    char text[SHOW_MAX + 12];
};

static struct shown show(const cJSON *v)
{
    struct sink s = {.len = 0, .cut = false};
    struct shown out;

    s.buf[0] = '\0';
    put_value(&s, v);
    snprintf(out.text, sizeof(out.text), "%s%s", s.buf, s.cut ? "..." : "");
    return out;
}

static struct shown show_string(const char *str)
{
    struct sink s = {.len = 0, .cut = false};
    struct shown out;

    s.buf[0] = '\0';
    put_quoted(&s, str);
    snprintf(out.text, sizeof(out.text), "%s%s", s.buf, s.cut ? "..." : "");
    return out;
}

/* ---- the JSON path ---------------------------------------------------------------- */

static bool plain_key(const char *key)
{
    if (*key == '\0')
        return false;
    for (const char *p = key; *p; p++) {
        if (!(*p >= 'a' && *p <= 'z') && !(*p >= 'A' && *p <= 'Z') &&
            !(*p >= '0' && *p <= '9') && *p != '_' && *p != '-' && *p != '$')
            return false;
    }
    return true;
}

static size_t path_append(struct walk *w, const char *text)
{
    size_t mark = w->path_len;
    size_t room = sizeof(w->path) - w->path_len;
    int n = snprintf(w->path + w->path_len, room, "%s", text);

    w->path_len =
        (n < 0 || (size_t)n >= room) ? sizeof(w->path) - 1 : w->path_len + (size_t)n;
    return mark;
}

/*
 * Keys come from the file, so an odd one (empty, dotted, very long) is written in the
 * bracketed, quoted form: the path must stay unambiguous and fit on one line.
 */
static size_t path_key(struct walk *w, const char *key)
{
    size_t mark = w->path_len;

    if (plain_key(key) && strlen(key) <= SHOW_MAX) {
        if (w->path_len > 0)
            path_append(w, ".");
        path_append(w, key);
    } else {
        path_append(w, "[");
        path_append(w, show_string(key).text);
        path_append(w, "]");
    }
    return mark;
}

static size_t path_index(struct walk *w, size_t i)
{
    char idx[32];

    snprintf(idx, sizeof(idx), "[%zu]", i);
    return path_append(w, idx);
}

static void path_pop(struct walk *w, size_t mark)
{
    w->path_len = mark;
    w->path[mark] = '\0';
}

/* ---- spelling hints --------------------------------------------------------------- */

static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    size_t row[CONFIG_ID_LEN + 1];

    if (la > CONFIG_ID_LEN || lb > CONFIG_ID_LEN)
        return (size_t)-1;
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];

        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t best = diag + (a[i - 1] != b[j - 1]);

            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

/* Whether a typo of candidate is a plausible reading of word: one or two edits, and short
 * words only when the edit leaves most of them intact. */
static bool close_enough(const char *word, const char *candidate, size_t *best)
{
    size_t d = edit_distance(word, candidate);
    size_t shorter = strlen(word) < strlen(candidate) ? strlen(word) : strlen(candidate);

    if (d == 0 || d > 2 || 2 * d > shorter || d >= *best)
        return false;
    *best = d;
    return true;
}

/* ---- generic checks --------------------------------------------------------------- */

/* Unknown keys first, then duplicates: cJSON keeps both copies of a repeated key and
 * would silently use the first, which is exactly the ambiguity a safety config must not
 * have. Only allowed keys reach the duplicate scan, so it is bounded by the schema. */
static int check_keys(struct walk *w, const cJSON *obj, const char *const *allowed)
{
    const cJSON *c;

    cJSON_ArrayForEach(c, obj)
    {
        const char *key = c->string ? c->string : "";
        const char *hint = NULL;
        size_t best = (size_t)-1;
        bool known = false;
        int rc;

        for (size_t i = 0; allowed[i]; i++) {
            if (strcmp(key, allowed[i]) == 0)
                known = true;
            else if (close_enough(key, allowed[i], &best))
                hint = allowed[i];
        }
        if (!known) {
            size_t mark = path_key(w, key);

            if (hint)
                rc = fail(w, "unknown key (did you mean \"%s\"?)", hint);
            else
                rc = fail(w, "unknown key");
            path_pop(w, mark);
            return rc;
        }
        for (const cJSON *e = obj->child; e != c; e = e->next) {
            if (e->string && strcmp(e->string, key) == 0) {
                size_t mark = path_key(w, key);

                rc = fail(w, "duplicate key");
                path_pop(w, mark);
                return rc;
            }
        }
    }
    return 0;
}

/* The path must already name v. */
static int expect_object(struct walk *w, const cJSON *v)
{
    if (!cJSON_IsObject(v))
        return fail(w, "expected object, got %s", show(v).text);
    return 0;
}

static int number_ok(struct walk *w, const cJSON *v)
{
    /* cJSON turns an overlong literal such as 1e999 into infinity; no field wants it. */
    if (cJSON_IsNumber(v) && !isfinite(v->valuedouble))
        return fail(w, "number too large (not finite)");
    return 0;
}

static int check_int(struct walk *w, const cJSON *v, long min, long max, long *out)
{
    int rc = number_ok(w, v);

    if (rc)
        return rc;
    /* Type, integrality and range share one message, which states all three. */
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) ||
        v->valuedouble < (double)min || v->valuedouble > (double)max)
        return fail(w, "expected integer %ld..%ld, got %s", min, max, show(v).text);
    *out = (long)v->valuedouble;
    return 0;
}

/*
 * Look up key in obj and extend the path with it. Returns 0 with *v NULL when an optional
 * key is absent, and an error when a required one is. The caller pops the path.
 */
static int member(struct walk *w, const cJSON *obj, const char *key, bool required,
                  const cJSON **v, size_t *mark)
{
    *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    *mark = path_key(w, key);
    if (!*v && required)
        return fail(w, "missing required key");
    return 0;
}

static int get_int(struct walk *w, const cJSON *obj, const char *key, long min, long max,
                   bool required, long def, long *out)
{
    const cJSON *v;
    size_t mark;
    int rc = member(w, obj, key, required, &v, &mark);

    if (rc == 0) {
        if (v)
            rc = check_int(w, v, min, max, out);
        else
            *out = def;
    }
    path_pop(w, mark);
    return rc;
}

static int get_number(struct walk *w, const cJSON *obj, const char *key, bool required,
                      double def, double *out)
{
    const cJSON *v;
    size_t mark;
    int rc = member(w, obj, key, required, &v, &mark);

    if (rc == 0 && v) {
        rc = number_ok(w, v);
        if (rc == 0 && !cJSON_IsNumber(v))
            rc = fail(w, "expected number, got %s", show(v).text);
        if (rc == 0)
            *out = v->valuedouble;
    } else if (rc == 0) {
        *out = def;
    }
    path_pop(w, mark);
    return rc;
}

static bool has_control(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p < 0x20 || *p == 0x7f)
            return true;
    }
    return false;
}

/* Lengths are in bytes, as stored: a UTF-8 name may hold fewer characters than max. */
static int check_string(struct walk *w, const cJSON *v, size_t min, size_t max)
{
    size_t len;

    if (!cJSON_IsString(v))
        return fail(w, "expected string, got %s", show(v).text);
    len = strlen(v->valuestring);
    if (len < min)
        return fail(w, "expected non-empty string, got \"\"");
    if (len > max)
        return fail(w, "too long: %zu bytes, at most %zu", len, max);
    if (has_control(v->valuestring))
        return fail(w, "contains a control character: %s", show(v).text);
    return 0;
}

/* buf must hold max + 1 bytes. */
static int get_string(struct walk *w, const cJSON *obj, const char *key, bool required,
                      const char *def, size_t min, size_t max, char *buf)
{
    const cJSON *v;
    size_t mark;
    int rc = member(w, obj, key, required, &v, &mark);

    if (rc == 0 && v)
        rc = check_string(w, v, min, max);
    if (rc == 0)
        snprintf(buf, max + 1, "%s", v ? v->valuestring : def);
    path_pop(w, mark);
    return rc;
}

static bool valid_id(const char *s)
{
    size_t n = 0;

    for (const char *p = s; *p; p++, n++) {
        if (!(*p >= 'a' && *p <= 'z') && !(*p >= 'A' && *p <= 'Z') &&
            !(*p >= '0' && *p <= '9') && *p != '_' && *p != '.' && *p != '-')
            return false;
    }
    return n >= 1 && n < CONFIG_ID_LEN;
}

/* buf must hold CONFIG_ID_LEN bytes; def NULL means required. */
static int get_id(struct walk *w, const cJSON *obj, const char *key, const char *def,
                  char *buf)
{
    const cJSON *v;
    size_t mark;
    int rc = member(w, obj, key, def == NULL, &v, &mark);

    if (rc == 0 && v) {
        if (!cJSON_IsString(v))
            rc = fail(w, "expected string, got %s", show(v).text);
        else if (!valid_id(v->valuestring))
            rc = fail(w, "invalid id %s: use 1..%d characters from A-Z a-z 0-9 _ . -",
                      show(v).text, CONFIG_ID_LEN - 1);
    }
    if (rc == 0)
        snprintf(buf, CONFIG_ID_LEN, "%s", v ? v->valuestring : def);
    path_pop(w, mark);
    return rc;
}

/* names is NULL-terminated; the result is the index of the match. */
static int get_enum(struct walk *w, const cJSON *obj, const char *key, bool required,
                    int def, const char *const *names, int *out)
{
    const cJSON *v;
    size_t mark;
    int rc = member(w, obj, key, required, &v, &mark);

    *out = def;
    if (rc == 0 && v) {
        char choices[128] = "";
        size_t used = 0;
        int n = 0;

        for (; names[n]; n++) {
            if (cJSON_IsString(v) && strcmp(v->valuestring, names[n]) == 0) {
                *out = n;
                goto out;
            }
        }
        for (int i = 0; i < n && used < sizeof(choices); i++) {
            int k = snprintf(choices + used, sizeof(choices) - used, "%s\"%s\"",
                             i ? ", " : "", names[i]);
            used += k > 0 ? (size_t)k : 0;
        }
        if (n == 1)
            rc = fail(w, "expected %s, got %s", choices, show(v).text);
        else
            rc = fail(w, "expected one of %s, got %s", choices, show(v).text);
    }
out:
    path_pop(w, mark);
    return rc;
}

/*
 * An array of objects with min 1 and max entries. The path is extended with key; the
 * caller pops it after walking the entries.
 */
static int get_array(struct walk *w, const cJSON *obj, const char *key, size_t max,
                     const cJSON **arr, size_t *n, size_t *mark)
{
    int rc = member(w, obj, key, true, arr, mark);
    int size;

    if (rc)
        return rc;
    if (!cJSON_IsArray(*arr))
        return fail(w, "expected array, got %s", show(*arr).text);
    size = cJSON_GetArraySize(*arr);
    if (size < 1)
        return fail(w, "expected non-empty array, got []");
    if ((size_t)size > max)
        return fail(w, "expected at most %zu entries, got %d", max, size);
    *n = (size_t)size;
    return 0;
}

/* ---- id index --------------------------------------------------------------------- */

/*
 * An open-addressing set of table indexes, keyed by the id member of each entry, so
 * that uniqueness and references are checked in linear time even at CONFIG_MAX_POINTS.
 */
struct idset {
    size_t *slot; /* index + 1; 0 is empty */
    size_t mask;
    const char *base;
    size_t stride;
};

/* Where the ids of a table start; entries are stride bytes apart from there. */
#define ID_BASE(table, type) ((const char *)(table) + offsetof(type, id))

static int idset_init(struct idset *s, size_t n, const char *base, size_t stride)
{
    size_t cap = 16;

    while (cap < 2 * n)
        cap *= 2;
    s->slot = calloc(cap, sizeof(*s->slot));
    if (!s->slot)
        return -ENOMEM;
    s->mask = cap - 1;
    s->base = base;
    s->stride = stride;
    return 0;
}

static void idset_free(struct idset *s)
{
    free(s->slot);
    s->slot = NULL;
}

static size_t id_hash(const char *id)
{
    uint32_t h = 2166136261u;

    for (const unsigned char *p = (const unsigned char *)id; *p; p++)
        h = (h ^ *p) * 16777619u;
    return h;
}

static const char *idset_key(const struct idset *s, size_t i)
{
    return s->base + i * s->stride;
}

static long idset_find(const struct idset *s, const char *id)
{
    for (size_t h = id_hash(id) & s->mask; s->slot[h]; h = (h + 1) & s->mask) {
        if (strcmp(idset_key(s, s->slot[h] - 1), id) == 0)
            return (long)(s->slot[h] - 1);
    }
    return -1;
}

/* Adds entry i; returns the index of an earlier entry with the same id, or -1. */
static long idset_add(struct idset *s, size_t i)
{
    const char *id = idset_key(s, i);
    size_t h = id_hash(id) & s->mask;

    for (; s->slot[h]; h = (h + 1) & s->mask) {
        if (strcmp(idset_key(s, s->slot[h] - 1), id) == 0)
            return (long)(s->slot[h] - 1);
    }
    s->slot[h] = i + 1;
    return -1;
}

/* The path must name the reference. */
static int unknown_ref(struct walk *w, const char *what, const char *id,
                       const struct idset *s, size_t n)
{
    const char *hint = NULL;
    size_t best = (size_t)-1;

    for (size_t i = 0; i < n; i++) {
        if (close_enough(id, idset_key(s, i), &best))
            hint = idset_key(s, i);
    }
    if (hint)
        return fail(w, "unknown %s \"%s\" (did you mean \"%s\"?)", what, id, hint);
    return fail(w, "unknown %s \"%s\"", what, id);
}

/* ---- sections --------------------------------------------------------------------- */

struct parse {
    struct walk *w;
    struct config *cfg;
    struct idset areas, buses, devices, points;
    size_t points_cap;
};

static int parse_gateway(struct parse *p, const cJSON *root)
{
    static const char *const keys[] = {"id", "site", NULL};
    struct walk *w = p->w;
    const cJSON *v;
    size_t mark;
    int rc = member(w, root, "gateway", true, &v, &mark);

    if (rc == 0)
        rc = expect_object(w, v);
    if (rc == 0)
        rc = check_keys(w, v, keys);
    if (rc == 0)
        rc = get_id(w, v, "id", NULL, p->cfg->gateway.id);
    if (rc == 0)
        rc = get_id(w, v, "site", NULL, p->cfg->gateway.site);
    path_pop(w, mark);
    return rc;
}

static int parse_rt(struct parse *p, const cJSON *root)
{
    static const char *const keys[] = {"period_ms", "priority", "cpu", NULL};
    struct walk *w = p->w;
    const cJSON *v;
    long period = 10, prio = 49, cpu = -1;
    size_t mark;
    int rc = member(w, root, "rt", false, &v, &mark);

    if (rc == 0 && v) {
        rc = expect_object(w, v);
        if (rc == 0)
            rc = check_keys(w, v, keys);
        if (rc == 0)
            rc = get_int(w, v, "period_ms", 1, 1000, false, 10, &period);
        if (rc == 0)
            rc = get_int(w, v, "priority", 1, 98, false, 49, &prio);
        if (rc == 0)
            rc = get_int(w, v, "cpu", -1, 1023, false, -1, &cpu);
    }
    p->cfg->rt.period_ms = (uint32_t)period;
    p->cfg->rt.priority = (int)prio;
    p->cfg->rt.cpu = (int)cpu;
    path_pop(w, mark);
    return rc;
}

static int parse_store(struct parse *p, const cJSON *root)
{
    static const char *const keys[] = {"path", NULL};
    struct walk *w = p->w;
    const cJSON *v;
    size_t mark;
    int rc = member(w, root, "store", true, &v, &mark);

    if (rc == 0)
        rc = expect_object(w, v);
    if (rc == 0)
        rc = check_keys(w, v, keys);
    if (rc == 0)
        rc = get_string(w, v, "path", true, NULL, 1, CONFIG_PATH_LEN - 1,
                        p->cfg->store.path);
    path_pop(w, mark);
    return rc;
}

static bool host_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '.' || c == '-' || c == '_';
}

/* Inside brackets: an IPv6 literal, possibly with a %zone suffix. */
static bool ipv6_char(char c)
{
    return host_char(c) || c == ':' || c == '%';
}

/*
 * The path names mqtt.uri. Accepts scheme://host:port with host a name, an IPv4 literal
 * or a bracketed IPv6 literal, which is what the MQTT client library connects to, and a
 * port written without leading zeros.
 */
static int check_uri(struct walk *w, const char *uri)
{
    static const char *const schemes[] = {"tcp://", "mqtt://", "ssl://", "mqtts://",
                                          NULL};
    const char *host = NULL, *end, *port;
    long value = 0;

    for (size_t i = 0; schemes[i]; i++) {
        if (strncmp(uri, schemes[i], strlen(schemes[i])) == 0)
            host = uri + strlen(schemes[i]);
    }
    if (!host)
        return fail(
            w, "expected URI starting with tcp://, mqtt://, ssl:// or mqtts://, got %s",
            show_string(uri).text);
    if (*host == '[') {
        for (end = host + 1; ipv6_char(*end); end++)
            ;
        if (*end != ']' || end == host + 1)
            return fail(w, "invalid host in %s", show_string(uri).text);
        end++;
    } else {
        for (end = host; host_char(*end); end++)
            ;
        if (end == host && (*end == ':' || *end == '\0'))
            return fail(w, "missing host in %s", show_string(uri).text);
    }
    if (*end == '\0' || (*end == ':' && end[1] == '\0'))
        return fail(w, "missing port in %s (write scheme://host:port)",
                    show_string(uri).text);
    if (*end != ':')
        return fail(w, "invalid host in %s", show_string(uri).text);
    port = end + 1;
    for (end = port; *end >= '0' && *end <= '9' && end - port < 6; end++)
        value = value * 10 + (*end - '0');
    if (*port == '0' || *end != '\0' || value < 1 || value > 65535)
        return fail(w, "invalid port in %s: expected 1..65535", show_string(uri).text);
    return 0;
}

/* The path names mqtt.topic_prefix. */
static int check_topic_prefix(struct walk *w, const char *t)
{
    size_t len = strlen(t);

    if (strpbrk(t, "+#"))
        return fail(w,
                    "invalid topic prefix %s: MQTT wildcards '+' and '#' are not allowed",
                    show_string(t).text);
    if (t[0] == '/' || t[len - 1] == '/')
        return fail(w, "invalid topic prefix %s: must not begin or end with '/'",
                    show_string(t).text);
    if (strstr(t, "//"))
        return fail(w, "invalid topic prefix %s: empty topic level", show_string(t).text);
    return 0;
}

static int parse_mqtt(struct parse *p, const cJSON *root)
{
    static const char *const keys[] = {"uri",         "client_id",         "topic_prefix",
                                       "keepalive_s", "connect_timeout_s", NULL};
    struct walk *w = p->w;
    struct config *cfg = p->cfg;
    const cJSON *v, *t;
    long keepalive = 30, timeout = 10;
    size_t mark, tmark = 0;
    int rc = member(w, root, "mqtt", true, &v, &mark);

    if (rc == 0)
        rc = expect_object(w, v);
    if (rc == 0)
        rc = check_keys(w, v, keys);
    if (rc == 0)
        rc = get_string(w, v, "uri", true, NULL, 1, CONFIG_HOST_LEN - 1, cfg->mqtt.uri);
    if (rc == 0) {
        tmark = path_key(w, "uri");
        rc = check_uri(w, cfg->mqtt.uri);
        path_pop(w, tmark);
    }
    if (rc == 0)
        rc = get_id(w, v, "client_id", cfg->gateway.id, cfg->mqtt.client_id);
    if (rc)
        goto out;

    rc = member(w, v, "topic_prefix", false, &t, &tmark);
    if (rc == 0 && t) {
        rc = check_string(w, t, 1, CONFIG_TEXT_LEN - 1);
        if (rc == 0)
            rc = check_topic_prefix(w, t->valuestring);
        if (rc == 0)
            snprintf(cfg->mqtt.topic_prefix, sizeof(cfg->mqtt.topic_prefix), "%s",
                     t->valuestring);
    } else if (rc == 0) {
        /* Ids are up to 63 characters each, so the default can outgrow the buffer. */
        int n = snprintf(cfg->mqtt.topic_prefix, sizeof(cfg->mqtt.topic_prefix),
                         "parkguard/%s/%s", cfg->gateway.site, cfg->gateway.id);

        if (n < 0 || (size_t)n >= sizeof(cfg->mqtt.topic_prefix))
            rc = fail(
                w,
                "the default \"parkguard/<site>/<gateway id>\" would be %d characters, "
                "at most %d: set a shorter topic_prefix",
                n, CONFIG_TEXT_LEN - 1);
    }
    path_pop(w, tmark);

    if (rc == 0)
        rc = get_int(w, v, "keepalive_s", 5, 3600, false, 30, &keepalive);
    if (rc == 0)
        rc = get_int(w, v, "connect_timeout_s", 1, 120, false, 10, &timeout);
    cfg->mqtt.keepalive_s = (uint32_t)keepalive;
    cfg->mqtt.connect_timeout_s = (uint32_t)timeout;
out:
    path_pop(w, mark);
    return rc;
}

/* The path names the entry's "id"; first is the index of the earlier entry. */
static int duplicate_id(struct walk *w, const char *id, const char *array, long first)
{
    return fail(w, "duplicate id \"%s\" (first at %s[%ld].id)", id, array, first);
}

static int parse_area(struct parse *p, const cJSON *v, size_t i)
{
    static const char *const keys[] = {"id", "name", NULL};
    struct walk *w = p->w;
    struct config_area *a = &p->cfg->areas[i];
    int rc = expect_object(w, v);

    if (rc == 0)
        rc = check_keys(w, v, keys);
    if (rc == 0)
        rc = get_id(w, v, "id", NULL, a->id);
    if (rc == 0) {
        long first = idset_add(&p->areas, i);

        if (first >= 0) {
            size_t mark = path_key(w, "id");

            rc = duplicate_id(w, a->id, "areas", first);
            path_pop(w, mark);
        }
    }
    if (rc == 0)
        rc = get_string(w, v, "name", false, "", 0, CONFIG_TEXT_LEN - 1, a->name);
    return rc;
}

static int parse_bus(struct parse *p, const cJSON *v, size_t i)
{
    static const char *const keys[] = {"id",
                                       "type",
                                       "host",
                                       "port",
                                       "connect_timeout_ms",
                                       "response_timeout_ms",
                                       "reconnect_max_ms",
                                       NULL};
    static const char *const kinds[] = {"tcp", NULL};
    struct walk *w = p->w;
    struct config_bus *b = &p->cfg->buses[i];
    long port = 0, ctimeout = 2000, rtimeout = 500, backoff = 30000;
    int kind = 0;
    int rc = expect_object(w, v);

    if (rc == 0)
        rc = check_keys(w, v, keys);
    if (rc == 0)
        rc = get_id(w, v, "id", NULL, b->id);
    if (rc == 0) {
        long first = idset_add(&p->buses, i);

        if (first >= 0) {
            size_t mark = path_key(w, "id");

            rc = duplicate_id(w, b->id, "buses", first);
            path_pop(w, mark);
        }
    }
    if (rc == 0)
        rc = get_enum(w, v, "type", true, 0, kinds, &kind);
    if (rc == 0)
        rc = get_string(w, v, "host", true, NULL, 1, CONFIG_HOST_LEN - 1, b->host);
    if (rc == 0)
        rc = get_int(w, v, "port", 1, 65535, true, 0, &port);
    if (rc == 0)
        rc = get_int(w, v, "connect_timeout_ms", 100, 60000, false, 2000, &ctimeout);
    if (rc == 0)
        rc = get_int(w, v, "response_timeout_ms", 10, 10000, false, 500, &rtimeout);
    if (rc == 0)
        rc = get_int(w, v, "reconnect_max_ms", 100, 600000, false, 30000, &backoff);
    b->kind = (enum config_bus_kind)kind;
    b->port = (uint16_t)port;
    b->connect_timeout_ms = (uint32_t)ctimeout;
    b->response_timeout_ms = (uint32_t)rtimeout;
    b->reconnect_max_ms = (uint32_t)backoff;
    return rc;
}

static int parse_high(struct parse *p, const cJSON *pt, struct config_limit *lim)
{
    static const char *const keys[] = {"setpoint", "deadband", NULL};
    struct walk *w = p->w;
    const cJSON *v;
    size_t mark;
    int rc = member(w, pt, "high", false, &v, &mark);

    if (rc || !v)
        goto out;
    rc = expect_object(w, v);
    if (rc == 0)
        rc = check_keys(w, v, keys);
    if (rc == 0)
        rc = get_number(w, v, "setpoint", true, 0, &lim->setpoint);
    if (rc == 0)
        rc = get_number(w, v, "deadband", false, 0, &lim->deadband);
    if (rc == 0 && lim->deadband < 0) {
        size_t dmark = path_key(w, "deadband");

        rc = fail(w, "expected number >= 0, got %s",
                  show(cJSON_GetObjectItemCaseSensitive(v, "deadband")).text);
        path_pop(w, dmark);
    }
    lim->enabled = rc == 0;
out:
    path_pop(w, mark);
    return rc;
}

/* The path names devices[d].points[j]; the point is stored at the next free slot. */
static int parse_point(struct parse *p, const cJSON *v, size_t d)
{
    static const char *const keys[] = {"id",    "area",   "table", "address", "type",
                                       "scale", "offset", "unit",  "high",    NULL};
    static const char *const tables[] = {"holding", "input", NULL};
    static const char *const types[] = {"uint16", "int16", NULL};
    struct walk *w = p->w;
    struct config *cfg = p->cfg;
    struct config_point *pt;
    char area[CONFIG_ID_LEN];
    long address = 0;
    int table = 0, type = 0;
    size_t mark;
    int rc;

    if (cfg->n_points == p->points_cap)
        return fail(w, "too many points: at most %d in the whole config",
                    CONFIG_MAX_POINTS);
    pt = &cfg->points[cfg->n_points];
    pt->device = d;
    rc = expect_object(w, v);
    if (rc == 0)
        rc = check_keys(w, v, keys);
    if (rc == 0)
        rc = get_id(w, v, "id", NULL, pt->id);
    if (rc == 0) {
        long first = idset_add(&p->points, cfg->n_points);

        if (first >= 0) {
            size_t fd = cfg->points[first].device;

            mark = path_key(w, "id");
            rc = fail(w, "duplicate id \"%s\" (first at devices[%zu].points[%zu].id)",
                      pt->id, fd, (size_t)first - cfg->devices[fd].first_point);
            path_pop(w, mark);
        }
    }
    if (rc == 0)
        rc = get_id(w, v, "area", NULL, area);
    if (rc == 0) {
        long a = idset_find(&p->areas, area);

        if (a < 0) {
            mark = path_key(w, "area");
            rc = unknown_ref(w, "area", area, &p->areas, cfg->n_areas);
            path_pop(w, mark);
        } else {
            pt->area = (size_t)a;
        }
    }
    if (rc == 0)
        rc = get_enum(w, v, "table", false, CONFIG_TABLE_HOLDING, tables, &table);
    if (rc == 0)
        rc = get_int(w, v, "address", 0, 65535, true, 0, &address);
    if (rc == 0)
        rc = get_enum(w, v, "type", false, CONFIG_REG_UINT16, types, &type);
    if (rc == 0)
        rc = get_number(w, v, "scale", false, 1, &pt->scale);
    if (rc == 0 && pt->scale == 0) {
        mark = path_key(w, "scale");
        rc = fail(w, "expected non-zero number, got %s",
                  show(cJSON_GetObjectItemCaseSensitive(v, "scale")).text);
        path_pop(w, mark);
    }
    if (rc == 0)
        rc = get_number(w, v, "offset", false, 0, &pt->offset);
    if (rc == 0)
        rc = get_string(w, v, "unit", false, "", 0, CONFIG_UNIT_LEN - 1, pt->unit);
    if (rc == 0)
        rc = parse_high(p, v, &pt->high);
    if (rc)
        return rc;
    pt->table = (enum config_table)table;
    pt->address = (uint16_t)address;
    pt->type = (enum config_regtype)type;
    cfg->n_points++;
    return 0;
}

static int parse_device(struct parse *p, const cJSON *v, size_t i)
{
    static const char *const keys[] = {"id", "bus", "unit_id", "poll_ms", "points", NULL};
    struct walk *w = p->w;
    struct config *cfg = p->cfg;
    struct config_device *dev = &cfg->devices[i];
    char bus[CONFIG_ID_LEN];
    const cJSON *arr, *pt;
    long unit = 0, poll = 0, b;
    size_t n = 0, j = 0, mark;
    int rc = expect_object(w, v);

    if (rc == 0)
        rc = check_keys(w, v, keys);
    if (rc == 0)
        rc = get_id(w, v, "id", NULL, dev->id);
    if (rc == 0) {
        long first = idset_add(&p->devices, i);

        if (first >= 0) {
            mark = path_key(w, "id");
            rc = duplicate_id(w, dev->id, "devices", first);
            path_pop(w, mark);
        }
    }
    if (rc == 0)
        rc = get_id(w, v, "bus", NULL, bus);
    if (rc == 0) {
        b = idset_find(&p->buses, bus);
        if (b < 0) {
            mark = path_key(w, "bus");
            rc = unknown_ref(w, "bus", bus, &p->buses, cfg->n_buses);
            path_pop(w, mark);
        } else {
            dev->bus = (size_t)b;
        }
    }
    if (rc == 0)
        rc = get_int(w, v, "unit_id", 0, 255, true, 0, &unit);
    if (rc)
        return rc;
    dev->unit_id = (uint8_t)unit;
    /* Two devices answering to one unit id on one bus would read each other's data. */
    for (size_t k = 0; k < i; k++) {
        if (cfg->devices[k].bus == dev->bus && cfg->devices[k].unit_id == dev->unit_id) {
            mark = path_key(w, "unit_id");
            rc = fail(
                w, "duplicate unit_id %ld on bus \"%s\" (first at devices[%zu].unit_id)",
                unit, bus, k);
            path_pop(w, mark);
            return rc;
        }
    }
    rc = get_int(w, v, "poll_ms", 10, 3600000, true, 0, &poll);
    if (rc)
        return rc;
    dev->poll_ms = (uint32_t)poll;

    dev->first_point = cfg->n_points;
    rc = get_array(w, v, "points", (size_t)-1, &arr, &n, &mark);
    if (rc == 0) {
        cJSON_ArrayForEach(pt, arr)
        {
            size_t imark = path_index(w, j);

            rc = parse_point(p, pt, i);
            path_pop(w, imark);
            if (rc)
                break;
            j++;
        }
    }
    path_pop(w, mark);
    dev->n_points = cfg->n_points - dev->first_point;
    return rc;
}

/* How many points the devices declare, counting only what looks like a points array: the
 * entries themselves are checked, with their paths, when they are walked. */
static size_t count_points(const cJSON *devices)
{
    const cJSON *d;
    size_t n = 0;

    cJSON_ArrayForEach(d, devices)
    {
        const cJSON *pts =
            cJSON_IsObject(d) ? cJSON_GetObjectItemCaseSensitive(d, "points") : NULL;

        if (cJSON_IsArray(pts))
            n += (size_t)cJSON_GetArraySize(pts);
        if (n > CONFIG_MAX_POINTS)
            return CONFIG_MAX_POINTS;
    }
    return n;
}

typedef int (*entry_fn)(struct parse *p, const cJSON *v, size_t i);

static int walk_entries(struct parse *p, const cJSON *arr, entry_fn fn)
{
    const cJSON *v;
    size_t i = 0;

    cJSON_ArrayForEach(v, arr)
    {
        size_t mark = path_index(p->w, i);
        int rc = fn(p, v, i);

        path_pop(p->w, mark);
        if (rc)
            return rc;
        i++;
    }
    return 0;
}

static int parse_root(struct parse *p, const cJSON *root)
{
    static const char *const keys[] = {"gateway", "rt",    "store",   "mqtt",
                                       "areas",   "buses", "devices", NULL};
    struct walk *w = p->w;
    struct config *cfg = p->cfg;
    const cJSON *arr;
    size_t n = 0, mark = 0;
    int rc;

    if (!cJSON_IsObject(root))
        return fail(w, "expected object at top level, got %s", show(root).text);
    rc = check_keys(w, root, keys);
    if (rc == 0)
        rc = parse_gateway(p, root);
    if (rc == 0)
        rc = parse_rt(p, root);
    if (rc == 0)
        rc = parse_store(p, root);
    if (rc == 0)
        rc = parse_mqtt(p, root);
    if (rc)
        return rc;

    rc = get_array(w, root, "areas", CONFIG_MAX_AREAS, &arr, &n, &mark);
    if (rc == 0) {
        cfg->areas = calloc(n, sizeof(*cfg->areas));
        if (!cfg->areas)
            rc = -ENOMEM;
    }
    if (rc == 0)
        rc = idset_init(&p->areas, n, ID_BASE(cfg->areas, struct config_area),
                        sizeof(*cfg->areas));
    if (rc == 0) {
        cfg->n_areas = n;
        rc = walk_entries(p, arr, parse_area);
    }
    path_pop(w, mark);
    if (rc)
        return rc;

    rc = get_array(w, root, "buses", CONFIG_MAX_BUSES, &arr, &n, &mark);
    if (rc == 0) {
        cfg->buses = calloc(n, sizeof(*cfg->buses));
        if (!cfg->buses)
            rc = -ENOMEM;
    }
    if (rc == 0)
        rc = idset_init(&p->buses, n, ID_BASE(cfg->buses, struct config_bus),
                        sizeof(*cfg->buses));
    if (rc == 0) {
        cfg->n_buses = n;
        rc = walk_entries(p, arr, parse_bus);
    }
    path_pop(w, mark);
    if (rc)
        return rc;

    rc = get_array(w, root, "devices", CONFIG_MAX_DEVICES, &arr, &n, &mark);
    if (rc == 0) {
        p->points_cap = count_points(arr);
        cfg->devices = calloc(n, sizeof(*cfg->devices));
        /* One spare slot so that an empty or malformed points array still allocates. */
        cfg->points = calloc(p->points_cap + 1, sizeof(*cfg->points));
        if (!cfg->devices || !cfg->points)
            rc = -ENOMEM;
        if (rc == 0)
            rc = idset_init(&p->devices, n, ID_BASE(cfg->devices, struct config_device),
                            sizeof(*cfg->devices));
        if (rc == 0)
            rc = idset_init(&p->points, p->points_cap,
                            ID_BASE(cfg->points, struct config_point),
                            sizeof(*cfg->points));
    }
    if (rc == 0) {
        cfg->n_devices = n;
        rc = walk_entries(p, arr, parse_device);
    }
    path_pop(w, mark);
    return rc;
}

/* ---- entry points ----------------------------------------------------------------- */

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');

    return slash && slash[1] ? slash + 1 : path;
}

/* The message must be one line whatever the file name or the data contain. */
static void copy_message(const char *msg, char *err, size_t err_len)
{
    if (!err || err_len == 0)
        return;
    snprintf(err, err_len, "%s", msg);
    for (char *c = err; *c; c++) {
        if ((unsigned char)*c < 0x20 || *c == 0x7f)
            *c = '?';
    }
}

/* Counts columns in characters, not bytes, as editors do for UTF-8 text. */
static void line_column(const char *text, size_t pos, size_t *line, size_t *column)
{
    *line = 1;
    *column = 1;
    for (size_t i = 0; i < pos; i++) {
        if (text[i] == '\n') {
            (*line)++;
            *column = 1;
        } else if (((unsigned char)text[i] & 0xc0) != 0x80) {
            (*column)++;
        }
    }
}

static int syntax_error(struct walk *w, const char *text, size_t pos, const char *what)
{
    size_t line, column;

    line_column(text, pos, &line, &column);
    return fail(w, "line %zu, column %zu: %s", line, column, what);
}

/*
 * cJSON decodes the escape \u0000 into a NUL byte, which ends its C string: "a\u0000b"
 * would silently become "a". Called on text cJSON accepted, where every backslash is
 * inside a string, so stepping over escape pairs finds exactly the real escapes.
 */
static size_t find_nul_escape(const char *text, size_t len)
{
    for (size_t i = 0; i + 1 < len; i++) {
        if (text[i] != '\\')
            continue;
        if (text[i + 1] == 'u' && i + 5 < len && memcmp(text + i + 2, "0000", 4) == 0)
            return i;
        i++;
    }
    return len;
}

static int parse_text(struct walk *w, const char *origin, const char *text, size_t len,
                      struct config **out)
{
    struct config *cfg = NULL;
    struct parse p = {.w = w};
    cJSON *root = NULL;
    const char *end = NULL, *nul;
    size_t i;
    int rc;

    if (len > CONFIG_MAX_FILE_BYTES) {
        fail(w, "too large: %zu bytes, at most %u", len, CONFIG_MAX_FILE_BYTES);
        return -EFBIG;
    }
    /* Some editors write a byte order mark first; it is not JSON, but harmless. */
    if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0) {
        text += 3;
        len -= 3;
    }
    for (i = 0; i < len &&
                (text[i] == ' ' || text[i] == '\t' || text[i] == '\r' || text[i] == '\n');
         i++)
        ;
    if (i == len)
        return fail(w, "empty file");
    /* cJSON reads C strings: text after a NUL byte would be ignored, not rejected. */
    nul = memchr(text, '\0', len);
    if (nul)
        return syntax_error(w, text, (size_t)(nul - text), "NUL byte in JSON text");

    root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    if (!root) {
        rc = syntax_error(w, text, end && end >= text ? (size_t)(end - text) : 0,
                          "JSON syntax error");
        goto out;
    }
    for (i = (size_t)(end - text); i < len && (unsigned char)text[i] <= ' '; i++)
        ;
    if (i < len) {
        rc = syntax_error(w, text, i,
                          "JSON syntax error (text after the top-level value)");
        goto out;
    }
    i = find_nul_escape(text, len);
    if (i < len) {
        rc = syntax_error(w, text, i, "\"\\u0000\" is not allowed in strings");
        goto out;
    }

    cfg = calloc(1, sizeof(*cfg));
    if (!cfg) {
        rc = -ENOMEM;
        goto out;
    }
    snprintf(cfg->path, sizeof(cfg->path), "%s", origin);
    p.cfg = cfg;
    rc = parse_root(&p, root);
out:
    if (rc == -ENOMEM)
        fail(w, "out of memory");
    if (rc) {
        config_free(cfg);
        cfg = NULL;
    }
    idset_free(&p.areas);
    idset_free(&p.buses);
    idset_free(&p.devices);
    idset_free(&p.points);
    cJSON_Delete(root);
    *out = cfg;
    return rc;
}

int config_parse(const char *name, const char *text, size_t len, struct config **out,
                 char *err, size_t err_len)
{
    struct walk w = {.name = name ? base_name(name) : "(config)"};
    int rc;

    if (out)
        *out = NULL;
    if (!out || (!text && len > 0)) {
        rc = fail(&w, "invalid arguments");
        goto out;
    }
    rc = parse_text(&w, name ? name : "", text ? text : "", len, out);
out:
    if (rc)
        copy_message(w.msg, err, err_len);
    return rc;
}

static int read_file(struct walk *w, const char *path, char **text, size_t *len)
{
    struct stat st;
    size_t cap, used = 0;
    char *buf = NULL;
    int fd, rc = 0;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) < 0) {
        rc = -errno;
        goto out;
    }
    if (S_ISREG(st.st_mode) && st.st_size > (off_t)CONFIG_MAX_FILE_BYTES) {
        rc = -EFBIG;
        fail(w, "too large: %lld bytes, at most %u", (long long)st.st_size,
             CONFIG_MAX_FILE_BYTES);
        goto out;
    }
    /* The size is a hint only: pipes report none and files may change while read. */
    cap = S_ISREG(st.st_mode) ? (size_t)st.st_size + 1 : 65536;
    buf = malloc(cap);
    if (!buf) {
        rc = -ENOMEM;
        goto out;
    }
    for (;;) {
        ssize_t n;

        if (used == cap) {
            char *bigger;

            if (cap > CONFIG_MAX_FILE_BYTES) {
                rc = -EFBIG;
                fail(w, "too large: more than %u bytes", CONFIG_MAX_FILE_BYTES);
                goto out;
            }
            bigger = realloc(buf, cap * 2);
            if (!bigger) {
                rc = -ENOMEM;
                goto out;
            }
            buf = bigger;
            cap *= 2;
        }
        n = read(fd, buf + used, cap - used);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = -errno;
            goto out;
        }
        if (n == 0)
            break;
        used += (size_t)n;
    }
    /* Not needed by the parser, which is given the length, but cheap insurance. */
    buf[used] = '\0';
    *text = buf;
    *len = used;
    buf = NULL;
out:
    if (rc == -ENOMEM)
        fail(w, "out of memory");
    else if (rc && rc != -EFBIG)
        fail(w, "cannot read: %s", strerror(-rc));
    free(buf);
    if (fd >= 0)
        close(fd);
    return rc;
}

int config_load(const char *path, struct config **out, char *err, size_t err_len)
{
    struct walk w = {.name = path ? base_name(path) : "(config)"};
    char *text = NULL;
    size_t len = 0;
    int rc;

    if (out)
        *out = NULL;
    if (!path || !out) {
        rc = fail(&w, "invalid arguments");
        goto out;
    }
    if (strlen(path) >= CONFIG_PATH_LEN) {
        fail(&w, "path too long: at most %d characters", CONFIG_PATH_LEN - 1);
        rc = -ENAMETOOLONG;
        goto out;
    }
    rc = read_file(&w, path, &text, &len);
    if (rc == 0)
        rc = parse_text(&w, path, text, len, out);
out:
    free(text);
    if (rc)
        copy_message(w.msg, err, err_len);
    return rc;
}

void config_free(struct config *cfg)
{
    if (!cfg)
        return;
    free(cfg->areas);
    free(cfg->buses);
    free(cfg->devices);
    free(cfg->points);
    free(cfg);
}

long config_point_index(const struct config *cfg, const char *id)
{
    if (!cfg || !id)
        return -ENOENT;
    /* A linear scan: callers resolve ids once at start-up, never per sample. */
    for (size_t i = 0; i < cfg->n_points; i++) {
        if (strcmp(cfg->points[i].id, id) == 0)
            return (long)i;
    }
    return -ENOENT;
}
