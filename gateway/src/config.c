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
#include <strings.h>
#include <sys/stat.h>
#include <sys/un.h>
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

static int vfail(struct walk *w, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static int vfail(struct walk *w, const char *fmt, va_list ap)
{
    int n;

    if (w->path_len > 0)
        n = snprintf(w->msg, sizeof(w->msg), "%s: %s: ", w->name, w->path);
    else
        n = snprintf(w->msg, sizeof(w->msg), "%s: ", w->name);
    if (n >= 0 && (size_t)n < sizeof(w->msg))
        vsnprintf(w->msg + n, sizeof(w->msg) - (size_t)n, fmt, ap);
    return -EINVAL;
}

static int fail(struct walk *w, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int fail(struct walk *w, const char *fmt, ...)
{
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = vfail(w, fmt, ap);
    va_end(ap);
    return rc;
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

/* fail() at obj's key, for a value that is well-formed but wrong in context. */
static int fail_at(struct walk *w, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail_at(struct walk *w, const char *key, const char *fmt, ...)
{
    size_t mark = path_key(w, key);
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = vfail(w, fmt, ap);
    va_end(ap);
    path_pop(w, mark);
    return rc;
}

/* Fails when obj has key, which the situation described by why does not allow. */
static int forbid(struct walk *w, const cJSON *obj, const char *key, const char *why)
{
    if (!cJSON_GetObjectItemCaseSensitive(obj, key))
        return 0;
    return fail_at(w, key, "not allowed %s", why);
}

/* forbid() for each of a NULL-terminated list of keys, in list order. */
static int forbid_all(struct walk *w, const cJSON *obj, const char *const *keys,
                      const char *why)
{
    int rc = 0;

    for (size_t i = 0; rc == 0 && keys[i]; i++)
        rc = forbid(w, obj, keys[i], why);
    return rc;
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/*
 * A register pattern: a mask, a status value, a sentinel. Manuals write them in hex, so a
 * profile may too: 255 and "0x00FF" are the same word. The path must name v.
 */
static int check_word(struct walk *w, const cJSON *v, uint32_t max, uint32_t *out)
{
    int rc = number_ok(w, v);

    if (rc)
        return rc;
    if (cJSON_IsNumber(v) && v->valuedouble == floor(v->valuedouble) &&
        v->valuedouble >= 0 && v->valuedouble <= (double)max) {
        *out = (uint32_t)v->valuedouble;
        return 0;
    }
    if (cJSON_IsString(v) && v->valuestring[0] == '0' &&
        (v->valuestring[1] == 'x' || v->valuestring[1] == 'X')) {
        const char *s = v->valuestring + 2;
        uint64_t value = 0;
        size_t n = 0;

        for (; hex_digit(*s) >= 0 && n <= 8; s++, n++)
            value = value * 16 + (uint64_t)hex_digit(*s);
        if (*s == '\0' && n >= 1 && n <= 8 && value <= max) {
            *out = (uint32_t)value;
            return 0;
        }
    }
    return fail(w, "expected integer 0..%lu or hex string \"0x0\"..\"0x%lX\", got %s",
                (unsigned long)max, (unsigned long)max, show(v).text);
}

/* An optional [a, b] of two finite numbers; *found says whether it was there. */
static int get_pair(struct walk *w, const cJSON *obj, const char *key, const char *what,
                    double *a, double *b, bool *found)
{
    const cJSON *v;
    size_t mark;
    int rc = member(w, obj, key, false, &v, &mark);

    *found = v != NULL;
    if (rc == 0 && v) {
        const cJSON *x = cJSON_IsArray(v) ? v->child : NULL;
        const cJSON *y = x ? x->next : NULL;

        if (x && y && y->next == NULL && cJSON_IsNumber(x) && cJSON_IsNumber(y) &&
            isfinite(x->valuedouble) && isfinite(y->valuedouble)) {
            *a = x->valuedouble;
            *b = y->valuedouble;
        } else {
            rc = fail(w, "expected %s, got %s", what, show(v).text);
        }
    }
    path_pop(w, mark);
    return rc;
}

/* An optional array of 1..max entries; *arr is NULL when it is absent. */
static int get_list(struct walk *w, const cJSON *obj, const char *key, size_t max,
                    const cJSON **arr, size_t *mark)
{
    int rc = member(w, obj, key, false, arr, mark);
    int size;

    if (rc || !*arr)
        return rc;
    if (!cJSON_IsArray(*arr))
        return fail(w, "expected array, got %s", show(*arr).text);
    size = cJSON_GetArraySize(*arr);
    if (size < 1)
        return fail(w, "expected non-empty array, got []");
    if ((size_t)size > max)
        return fail(w, "expected at most %zu entries, got %d", max, size);
    return 0;
}

/*
 * The qualities a profile may assign: the ones an instrument can report about itself.
 * The others (comm-loss, timeout, ...) belong to the poller and the codec.
 */
static const char *const quality_names[] = {"good",        "under-range",  "over-range",
                                            "maintenance", "sensor-fault", NULL};
static const uint8_t quality_codes[] = {MSG_Q_GOOD, MSG_Q_UNDER_RANGE, MSG_Q_OVER_RANGE,
                                        MSG_Q_MAINTENANCE, MSG_Q_SENSOR_FAULT};

/* ---- documents and files ---------------------------------------------------------- */

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

/*
 * JSON text to a cJSON tree, refusing what cJSON would accept but a safety config must
 * not: text after a NUL byte, text after the top-level value, and \u0000 in strings. A
 * site config and a profile go through the same door.
 */
static int parse_document(struct walk *w, const char *text, size_t len, cJSON **root)
{
    const char *end = NULL, *nul;
    cJSON *doc;
    size_t i;

    *root = NULL;
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

    doc = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    if (!doc)
        return syntax_error(w, text, end && end >= text ? (size_t)(end - text) : 0,
                            "JSON syntax error");
    for (i = (size_t)(end - text); i < len && (unsigned char)text[i] <= ' '; i++)
        ;
    if (i < len) {
        cJSON_Delete(doc);
        return syntax_error(w, text, i,
                            "JSON syntax error (text after the top-level value)");
    }
    i = find_nul_escape(text, len);
    if (i < len) {
        cJSON_Delete(doc);
        return syntax_error(w, text, i, "\"\\u0000\" is not allowed in strings");
    }
    *root = doc;
    return 0;
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

/* ---- sections --------------------------------------------------------------------- */

struct profile;

struct parse {
    struct walk *w;
    const char *origin; /* the config's file name as given, for resolving profiles_dir */
    struct config *cfg;
    struct idset areas, buses, devices, points;
    size_t points_cap;
    size_t n_profiles; /* profiles read so far: each file is read once per config */
    struct profile *profiles[CONFIG_MAX_PROFILES];
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

static int get_bool(struct walk *w, const cJSON *obj, const char *key, bool def,
                    bool *out)
{
    const cJSON *v;
    size_t mark;
    int rc = member(w, obj, key, false, &v, &mark);

    *out = def;
    if (rc == 0 && v) {
        if (cJSON_IsBool(v))
            *out = cJSON_IsTrue(v);
        else
            rc = fail(w, "expected true or false, got %s", show(v).text);
    }
    path_pop(w, mark);
    return rc;
}

/* The ISA-18.2 kind of a limit on a point of this kind, which gives its defaults. */
static uint8_t alarm_kind_of(uint8_t point_kind, uint8_t limit_kind)
{
    bool toxic =
        point_kind == RULES_POINT_TOXIC_OEL || point_kind == RULES_POINT_TOXIC_IDLH;

    switch (limit_kind) {
    case RULES_LIMIT_HH:
        return ALARM_KIND_PROCESS_HH;
    case RULES_LIMIT_H:
        return ALARM_KIND_PROCESS_H;
    case RULES_LIMIT_L:
        return ALARM_KIND_PROCESS_L;
    case RULES_LIMIT_LL:
        return ALARM_KIND_PROCESS_LL;
    case RULES_LIMIT_GAS_L1:
        return toxic ? ALARM_KIND_TOXIC_L1 : ALARM_KIND_COMBUSTIBLE_L1;
    case RULES_LIMIT_GAS_L2:
        return toxic ? ALARM_KIND_TOXIC_L2 : ALARM_KIND_COMBUSTIBLE_L2;
    case RULES_LIMIT_O2_LOW:
        return ALARM_KIND_OXYGEN_LOW;
    case RULES_LIMIT_O2_HIGH:
        return ALARM_KIND_OXYGEN_HIGH;
    default:
        /* alarm_config_default() gives an unknown kind the strictest handling. */
        return ALARM_KIND_COUNT;
    }
}

/* The longest shelve a config may allow: a week, past which shelving is forgetting. */
#define ALARM_SHELVE_MAX_S 604800L

/*
 * The alarm-handling keys of a limit, "roc", "fault_alarm" or an area's "vote", read over
 * the defaults already in *ac. The path names the object.
 */
static int parse_alarm_opts(struct walk *w, const cJSON *obj, struct alarm_config *ac)
{
    long prio = ac->priority;
    long shelve = (long)(ac->max_shelve_ns / 1000000000);
    int rc = get_int(w, obj, "priority", 1, 4, false, prio, &prio);

    if (rc == 0)
        rc = get_bool(w, obj, "latching", ac->latching, &ac->latching);
    if (rc == 0)
        rc = get_int(w, obj, "max_shelve_s", 0, ALARM_SHELVE_MAX_S, false, shelve,
                     &shelve);
    if (rc == 0)
        rc = get_bool(w, obj, "one_shot_shelve", ac->one_shot_shelve && shelve > 0,
                      &ac->one_shot_shelve);
    if (rc == 0 && ac->one_shot_shelve && shelve == 0)
        rc = fail_at(w, "one_shot_shelve",
                     "a one-shot shelve needs \"max_shelve_s\" above 0: this alarm "
                     "cannot be shelved");
    if (rc == 0) {
        ac->priority = (uint8_t)prio;
        ac->max_shelve_ns = (int64_t)shelve * 1000000000;
    }
    return rc;
}

/* The path names the entry's "id"; first is the index of the earlier entry. */
static int duplicate_id(struct walk *w, const char *id, const char *array, long first)
{
    return fail(w, "duplicate id \"%s\" (first at %s[%ld].id)", id, array, first);
}

/*
 * An area's "vote": K-out-of-N confirmation over its gas points. The count of members is
 * known only once the points are read, so check_votes() checks k later. The path names
 * the area.
 */
static int parse_vote(struct walk *w, const cJSON *area, struct config_area *a)
{
    static const char *const keys[] = {"k",
                                       "fault_degrades",
                                       "priority",
                                       "latching",
                                       "max_shelve_s",
                                       "one_shot_shelve",
                                       "override_reason",
                                       NULL};
    char reason[CONFIG_REASON_LEN] = "";
    const cJSON *v;
    size_t mark;
    long k = 2;
    int rc = member(w, area, "vote", false, &v, &mark);

    if (rc || !v)
        goto out;
    rc = expect_object(w, v);
    if (rc == 0)
        rc = check_keys(w, v, keys);
    if (rc == 0)
        rc = get_int(w, v, "k", 1, CONFIG_MAX_POINTS, true, 2, &k);
    if (rc == 0)
        rc = get_bool(w, v, "fault_degrades", true, &a->vote.fault_degrades);
    /* A confirmed leak across an area is the most severe gas alarm there is. */
    a->vote_alarm = alarm_config_default(ALARM_KIND_COMBUSTIBLE_L2);
    if (rc == 0)
        rc = parse_alarm_opts(w, v, &a->vote_alarm);
    if (rc == 0)
        rc = get_string(w, v, "override_reason", false, "", 1, CONFIG_REASON_LEN - 1,
                        reason);
    /* A confirmed leak is held like a level-2 gas alarm (GB 16808), unless signed off. */
    if (rc == 0 && reason[0] == '\0' &&
        (!a->vote_alarm.latching || a->vote_alarm.max_shelve_ns != 0))
        rc = fail_at(w, a->vote_alarm.latching ? "max_shelve_s" : "latching",
                     "a vote alarm must latch and cannot be shelved (GB 16808); a "
                     "signed-off \"override_reason\" in the vote may waive this");
    if (rc == 0) {
        a->voting = true;
        a->vote.k = (uint16_t)k;
    }
out:
    path_pop(w, mark);
    return rc;
}

/* Each voting area's k against the gas points it has (rules_check_vote()). */
static int check_votes(struct parse *p)
{
    struct walk *w = p->w;
    const struct config *cfg = p->cfg;
    int rc = 0;

    for (size_t a = 0; a < cfg->n_areas && rc == 0; a++) {
        char why[CONFIG_ERR_LEN];
        size_t n = 0, mark;

        if (!cfg->areas[a].voting)
            continue;
        for (size_t i = 0; i < cfg->n_points; i++)
            n += cfg->points[i].area == a && rules_votes(&cfg->points[i].rules);
        if (rules_check_vote(&cfg->areas[a].vote, n, why, sizeof(why)) == RULES_CHECK_OK)
            continue;
        mark = path_key(w, "areas");
        (void)path_index(w, a);
        (void)path_key(w, "vote");
        (void)path_key(w, "k");
        rc = fail(w, "%u out of %zu: the area has %zu gas point%s to vote",
                  cfg->areas[a].vote.k, n, n, n == 1 ? "" : "s");
        path_pop(w, mark);
    }
    return rc;
}

static int parse_area(struct parse *p, const cJSON *v, size_t i)
{
    static const char *const keys[] = {"id", "name", "vote", NULL};
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
    if (rc == 0)
        rc = parse_vote(w, v, a);
    return rc;
}

/*
 * Joins rel to the directory of origin, unless rel is absolute. A config named without a
 * directory resolves against the working directory, as the file itself was opened.
 */
static int resolve_dir(char *out, size_t size, const char *origin, const char *rel)
{
    const char *slash = strrchr(origin, '/');
    int n;

    if (rel[0] == '/' || slash == NULL)
        n = snprintf(out, size, "%s", rel);
    else
        n = snprintf(out, size, "%.*s/%s", (int)(slash - origin), origin, rel);
    return n >= 0 && (size_t)n < size ? 0 : -ENAMETOOLONG;
}

static int parse_profiles_dir(struct parse *p, const cJSON *root)
{
    struct config *cfg = p->cfg;
    char dir[CONFIG_PATH_LEN];
    int rc = get_string(p->w, root, "profiles_dir", false, "../hw/profiles", 1,
                        CONFIG_PATH_LEN - 1, dir);

    if (rc == 0 &&
        resolve_dir(cfg->profiles_dir, sizeof(cfg->profiles_dir), p->origin, dir) != 0)
        rc = fail_at(p->w, "profiles_dir",
                     "too long once joined to the config's directory: at most %d bytes",
                     CONFIG_PATH_LEN - 1);
    return rc;
}

/* ---- buses ------------------------------------------------------------------------ */

static const char *const bus_tcp_keys[] = {
    "host", "port", "connect_timeout_ms", "reconnect_max_ms", "watchdog_ms", NULL};
static const char *const bus_rtu_keys[] = {"device",    "baud",  "parity", "data_bits",
                                           "stop_bits", "rs485", NULL};

static int parse_bus_tcp(struct parse *p, const cJSON *v, struct config_bus *b)
{
    struct walk *w = p->w;
    long port = 0, ctimeout = 2000, backoff = 30000, watchdog = 10000;
    int rc = get_string(w, v, "host", true, NULL, 1, CONFIG_HOST_LEN - 1, b->host);

    if (rc == 0)
        rc = get_int(w, v, "port", 1, 65535, true, 0, &port);
    if (rc == 0)
        rc = get_int(w, v, "connect_timeout_ms", 100, 60000, false, 2000, &ctimeout);
    if (rc == 0)
        rc = get_int(w, v, "reconnect_max_ms", 100, 600000, false, 30000, &backoff);
    if (rc == 0)
        rc = get_int(w, v, "watchdog_ms", 0, 3600000, false, 10000, &watchdog);
    /* Below a second the watchdog would fire between two slow but healthy polls. */
    if (rc == 0 && watchdog > 0 && watchdog < 1000)
        rc = fail_at(w, "watchdog_ms",
                     "expected 0 (off) or integer 1000..3600000, got %ld", watchdog);
    /*
     * One endpoint, one poller: two buses on one TCP gateway would put two masters on
     * the serial line behind it, each timing out on the other's traffic.
     */
    for (size_t k = 0; rc == 0 && k < (size_t)(b - p->cfg->buses); k++) {
        const struct config_bus *o = &p->cfg->buses[k];

        if (o->kind == CONFIG_BUS_TCP && o->port == (uint16_t)port &&
            strcasecmp(o->host, b->host) == 0)
            rc = fail_at(w, "port", "%s:%ld is already the endpoint of buses[%zu]",
                         show_string(b->host).text, port, k);
    }
    if (rc)
        return rc;
    b->port = (uint16_t)port;
    b->connect_timeout_ms = (uint32_t)ctimeout;
    b->reconnect_max_ms = (uint32_t)backoff;
    b->watchdog_ms = (uint32_t)watchdog;
    return 0;
}

static int get_baud(struct walk *w, const cJSON *obj, uint32_t *out)
{
    static const long rates[] = {1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200};
    const cJSON *v;
    size_t mark;
    int rc = member(w, obj, "baud", false, &v, &mark);

    *out = 9600;
    if (rc == 0 && v) {
        rc = number_ok(w, v);
        for (size_t i = 0; rc == 0 && i < sizeof(rates) / sizeof(rates[0]); i++) {
            if (cJSON_IsNumber(v) && v->valuedouble == (double)rates[i]) {
                *out = (uint32_t)rates[i];
                goto out;
            }
        }
        if (rc == 0)
            rc = fail(w,
                      "expected one of 1200, 2400, 4800, 9600, 19200, 38400, 57600, "
                      "115200, got %s",
                      show(v).text);
    }
out:
    path_pop(w, mark);
    return rc;
}

static int parse_rs485(struct walk *w, const cJSON *bus, struct config_bus *b)
{
    static const char *const keys[] = {"rts_delay_before_us", "rts_delay_after_us", NULL};
    long before = 0, after = 0;
    const cJSON *v;
    size_t mark;
    int rc = member(w, bus, "rs485", false, &v, &mark);

    if (rc == 0 && v) {
        rc = expect_object(w, v);
        if (rc == 0)
            rc = check_keys(w, v, keys);
        if (rc == 0)
            rc = get_int(w, v, "rts_delay_before_us", 0, 100000, false, 0, &before);
        if (rc == 0)
            rc = get_int(w, v, "rts_delay_after_us", 0, 100000, false, 0, &after);
        b->rs485 = rc == 0;
    }
    b->rts_delay_before_us = (uint32_t)before;
    b->rts_delay_after_us = (uint32_t)after;
    path_pop(w, mark);
    return rc;
}

static int parse_bus_rtu(struct parse *p, const cJSON *v, size_t i, struct config_bus *b)
{
    static const char *const parities[] = {"none", "even", "odd", NULL};
    struct walk *w = p->w;
    long data_bits = 8, stop_bits = 1;
    int parity = CONFIG_PARITY_EVEN;
    int rc = get_string(w, v, "device", true, NULL, 1, CONFIG_PATH_LEN - 1, b->device);

    if (rc == 0 && b->device[0] != '/')
        rc = fail_at(w, "device",
                     "expected an absolute path such as \"/dev/ttyS1\", got %s",
                     show_string(b->device).text);
    /* Two pollers on one serial port would garble each other's frames. */
    for (size_t k = 0; rc == 0 && k < i; k++) {
        const struct config_bus *o = &p->cfg->buses[k];

        if (o->kind == CONFIG_BUS_RTU && strcmp(o->device, b->device) == 0)
            rc = fail_at(w, "device", "%s is already the device of buses[%zu]",
                         show_string(b->device).text, k);
    }
    if (rc == 0)
        rc = get_baud(w, v, &b->baud);
    if (rc == 0)
        rc = get_enum(w, v, "parity", false, CONFIG_PARITY_EVEN, parities, &parity);
    if (rc == 0)
        rc = get_int(w, v, "data_bits", 7, 8, false, 8, &data_bits);
    if (rc == 0)
        rc = get_int(w, v, "stop_bits", 1, 2, false, 1, &stop_bits);
    if (rc == 0)
        rc = parse_rs485(w, v, b);
    b->parity = (enum config_parity)parity;
    b->data_bits = (uint8_t)data_bits;
    b->stop_bits = (uint8_t)stop_bits;
    return rc;
}

static int parse_quarantine(struct walk *w, const cJSON *bus, struct config_quarantine *q)
{
    static const char *const keys[] = {"failures", "backoff_min_ms", "backoff_max_ms",
                                       NULL};
    long failures = 3, min = 2000, max = 60000;
    const cJSON *v;
    size_t mark;
    int rc = member(w, bus, "quarantine", false, &v, &mark);

    if (rc == 0 && v) {
        rc = expect_object(w, v);
        if (rc == 0)
            rc = check_keys(w, v, keys);
        if (rc == 0)
            rc = get_int(w, v, "failures", 1, 100, false, 3, &failures);
        if (rc == 0)
            rc = get_int(w, v, "backoff_min_ms", 100, 3600000, false, 2000, &min);
        /* The cap defaults to a minute, or to the floor when that is set higher. */
        if (rc == 0)
            rc = get_int(w, v, "backoff_max_ms", min, 3600000, false,
                         min > 60000 ? min : 60000, &max);
    }
    q->failures = (uint32_t)failures;
    q->backoff_min_ms = (uint32_t)min;
    q->backoff_max_ms = (uint32_t)max;
    path_pop(w, mark);
    return rc;
}

static int parse_bus(struct parse *p, const cJSON *v, size_t i)
{
    static const char *const keys[] = {"id",
                                       "type",
                                       "host",
                                       "port",
                                       "connect_timeout_ms",
                                       "reconnect_max_ms",
                                       "watchdog_ms",
                                       "device",
                                       "baud",
                                       "parity",
                                       "data_bits",
                                       "stop_bits",
                                       "rs485",
                                       "response_timeout_ms",
                                       "byte_timeout_ms",
                                       "max_gap",
                                       "quarantine",
                                       "comm_loss_after_ms",
                                       NULL};
    static const char *const kinds[] = {"tcp", "rtu", NULL};
    struct walk *w = p->w;
    struct config_bus *b = &p->cfg->buses[i];
    long rtimeout = 500, btimeout = 0, gap = 8, loss = 5000;
    int kind = 0;
    int rc = expect_object(w, v);

    /* Every field holds its default whatever the kind, so no reader meets a zero. */
    b->connect_timeout_ms = 2000;
    b->reconnect_max_ms = 30000;
    b->watchdog_ms = 10000;
    b->baud = 9600;
    b->parity = CONFIG_PARITY_EVEN;
    b->data_bits = 8;
    b->stop_bits = 1;
    if (rc == 0)
        rc = check_keys(w, v, keys);
    if (rc == 0)
        rc = get_id(w, v, "id", NULL, b->id);
    if (rc == 0) {
        long first = idset_add(&p->buses, i);

        if (first >= 0)
            rc = fail_at(w, "id", "duplicate id \"%s\" (first at buses[%ld].id)", b->id,
                         first);
    }
    if (rc == 0)
        rc = get_enum(w, v, "type", true, 0, kinds, &kind);
    b->kind = (enum config_bus_kind)kind;
    if (rc == 0 && b->kind == CONFIG_BUS_TCP)
        rc = forbid_all(w, v, bus_rtu_keys, "on a \"tcp\" bus (it is a serial setting)");
    else if (rc == 0)
        rc =
            forbid_all(w, v, bus_tcp_keys, "on an \"rtu\" bus (it is a network setting)");
    if (rc == 0 && b->kind == CONFIG_BUS_TCP)
        rc = parse_bus_tcp(p, v, b);
    else if (rc == 0)
        rc = parse_bus_rtu(p, v, i, b);
    if (rc == 0)
        rc = get_int(w, v, "response_timeout_ms", 10, 10000, false, 500, &rtimeout);
    if (rc == 0)
        rc = get_int(w, v, "byte_timeout_ms", 0, 1000, false, 0, &btimeout);
    if (rc == 0)
        rc = get_int(w, v, "max_gap", 0, 64, false, 8, &gap);
    if (rc == 0)
        rc = parse_quarantine(w, v, &b->quarantine);
    if (rc == 0)
        rc = get_int(w, v, "comm_loss_after_ms", 100, 3600000, false, 5000, &loss);
    b->response_timeout_ms = (uint32_t)rtimeout;
    b->byte_timeout_ms = (uint32_t)btimeout;
    b->max_gap = (uint16_t)gap;
    b->comm_loss_after_ms = (uint32_t)loss;
    return rc;
}

/* ---- register specs --------------------------------------------------------------- */

/* Where a point's value comes from and how it is decoded: a profile point or an inline
 * one. */
struct regspec {
    enum config_table table;
    uint16_t address;
    struct codec_point codec;
    char unit[CONFIG_UNIT_LEN];
};

/* parse_regspec() flags */
#define SPEC_PROFILE 1u /* a profile point: "decimals": "register" is available */

static const char *const table_names[] = {"holding", "input", "coil", "discrete", NULL};

static const char *const type_names[] = {
#define CONFIG_TYPE_NAME(name, text, width) text,
    CODEC_TYPE_MAP(CONFIG_TYPE_NAME)
#undef CONFIG_TYPE_NAME
        NULL};

static const char *const order_names[] = {
#define CONFIG_ORDER_NAME(name, text) text,
    CODEC_ORDER_MAP(CONFIG_ORDER_NAME)
#undef CONFIG_ORDER_NAME
        NULL};

/* The keys that describe a register and its decoding, in the order they are checked. */
static const char *const register_keys[] = {"table", "address", "type",      "order",
                                            "bit",   "scale",   "offset",    "decimals",
                                            "range", "ma",      "sentinels", NULL};

static const char *const value_keys[] = {"scale", "offset",    "decimals", "range",
                                         "ma",    "sentinels", NULL};

static bool bit_table(enum config_table t)
{
    return t == CONFIG_TABLE_COIL || t == CONFIG_TABLE_DISCRETE;
}

static int parse_decimals(struct walk *w, const cJSON *spec, unsigned flags,
                          struct codec_point *cp)
{
    const cJSON *v;
    size_t mark;
    int rc = member(w, spec, "decimals", false, &v, &mark);

    if (rc || !v)
        goto out;
    if (cp->type == CODEC_FLOAT32) {
        rc =
            fail(w, "not allowed for a float32 point: only integer types carry decimals");
    } else if (cJSON_IsString(v) && strcmp(v->valuestring, "register") == 0) {
        if (flags & SPEC_PROFILE)
            cp->decimals_reg = true;
        else
            rc = fail(w,
                      "\"register\" needs a device profile with a \"decimals_register\"");
    } else {
        rc = number_ok(w, v);
        if (rc == 0 && (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) ||
                        v->valuedouble < 0 || v->valuedouble > CODEC_MAX_DECIMALS))
            rc = fail(w, "expected integer 0..%d%s, got %s", CODEC_MAX_DECIMALS,
                      (flags & SPEC_PROFILE) ? " or \"register\"" : "", show(v).text);
        if (rc == 0 && cJSON_GetObjectItemCaseSensitive(spec, "scale"))
            rc = fail(w, "use either \"scale\" or a fixed number of decimals, not both");
        /* 1.0 / 100.0 is the double nearest 0.01, which the codec divides exactly. */
        if (rc == 0) {
            cp->scale = 1.0;
            for (int d = 0; d < (int)v->valuedouble; d++)
                cp->scale *= 10.0;
            cp->scale = 1.0 / cp->scale;
        }
    }
out:
    path_pop(w, mark);
    return rc;
}

static int parse_currents(struct walk *w, const cJSON *ma_obj, struct codec_ma *ma)
{
    static const char *const keys[] = {"ma", "tolerance", "quality", NULL};
    const cJSON *arr, *c;
    size_t mark, j = 0;
    int rc = get_list(w, ma_obj, "currents", CODEC_MAX_CURRENTS, &arr, &mark);

    if (rc || !arr)
        goto out;
    cJSON_ArrayForEach(c, arr)
    {
        struct codec_current *cur = &ma->currents[j];
        size_t imark = path_index(w, j);
        int q = 0;

        rc = expect_object(w, c);
        if (rc == 0)
            rc = check_keys(w, c, keys);
        if (rc == 0)
            rc = get_number(w, c, "ma", true, 0, &cur->ma);
        if (rc == 0 && (cur->ma < 0 || cur->ma > 30))
            rc = fail_at(w, "ma", "expected number 0..30, got %s",
                         show(cJSON_GetObjectItemCaseSensitive(c, "ma")).text);
        if (rc == 0)
            rc = get_number(w, c, "tolerance", false, 0.2, &cur->tolerance);
        if (rc == 0 && (cur->tolerance < 0 || cur->tolerance > 1))
            rc = fail_at(w, "tolerance", "expected number 0..1, got %s",
                         show(cJSON_GetObjectItemCaseSensitive(c, "tolerance")).text);
        /* Only a fault or maintenance current makes sense; good is what the bands are
         * for. */
        if (rc == 0)
            rc = get_enum(w, c, "quality", true, 0, quality_names + 1, &q);
        cur->quality = quality_codes[q + 1];
        /* A status current inside the valid band would turn real readings into statuses.
         */
        if (rc == 0 && cur->ma + cur->tolerance >= ma->valid_low &&
            cur->ma - cur->tolerance <= ma->valid_high)
            rc = fail_at(w, "ma",
                         "%g mA (tolerance %g) overlaps the valid band %g..%g mA and "
                         "would hide real readings",
                         cur->ma, cur->tolerance, ma->valid_low, ma->valid_high);
        path_pop(w, imark);
        if (rc)
            break;
        j++;
    }
    ma->n_currents = (uint8_t)j;
out:
    path_pop(w, mark);
    return rc;
}

static int parse_bands(struct walk *w, const cJSON *ma_obj, struct codec_ma *ma)
{
    static const char *const keys[] = {"fault_low", "valid_low", "valid_high",
                                       "fault_high", NULL};
    const cJSON *v;
    size_t mark;
    int rc = member(w, ma_obj, "bands", false, &v, &mark);

    if (rc == 0 && v) {
        rc = expect_object(w, v);
        if (rc == 0)
            rc = check_keys(w, v, keys);
        if (rc == 0)
            rc = get_number(w, v, "fault_low", false, ma->fault_low, &ma->fault_low);
        if (rc == 0)
            rc = get_number(w, v, "valid_low", false, ma->valid_low, &ma->valid_low);
        if (rc == 0)
            rc = get_number(w, v, "valid_high", false, ma->valid_high, &ma->valid_high);
        if (rc == 0)
            rc = get_number(w, v, "fault_high", false, ma->fault_high, &ma->fault_high);
        if (rc == 0 &&
            !(ma->fault_low < ma->valid_low && ma->valid_low < ma->valid_high &&
              ma->valid_high < ma->fault_high))
            rc = fail(w,
                      "expected fault_low < valid_low < valid_high < fault_high, got %g, "
                      "%g, %g, %g",
                      ma->fault_low, ma->valid_low, ma->valid_high, ma->fault_high);
    }
    path_pop(w, mark);
    return rc;
}

static int parse_ma(struct walk *w, const cJSON *spec, struct codec_ma *ma)
{
    static const char *const keys[] = {"span", "bands", "currents", NULL};
    double lo = 0, hi = 0;
    bool found = false;
    const cJSON *v;
    size_t mark;
    int rc = member(w, spec, "ma", false, &v, &mark);

    if (rc || !v)
        goto out;
    rc = expect_object(w, v);
    if (rc == 0)
        rc = check_keys(w, v, keys);
    if (rc == 0)
        rc = get_pair(w, v, "span", "[value at 4 mA, value at 20 mA]", &lo, &hi, &found);
    if (rc == 0 && !found)
        rc = fail_at(w, "span", "missing required key");
    if (rc == 0 && lo == hi)
        rc = fail_at(w, "span", "the values at 4 mA and 20 mA must differ, got [%g, %g]",
                     lo, hi);
    if (rc == 0) {
        codec_ma_init(ma, lo, hi);
        rc = parse_bands(w, v, ma);
    }
    if (rc == 0)
        rc = parse_currents(w, v, ma);
out:
    path_pop(w, mark);
    return rc;
}

static int parse_sentinels(struct walk *w, const cJSON *spec, struct codec_point *cp)
{
    uint32_t max = codec_width(cp->type) == 2 ? UINT32_MAX : UINT16_MAX;
    const cJSON *arr, *c;
    size_t mark, j = 0;
    int rc = get_list(w, spec, "sentinels", CODEC_MAX_SENTINELS, &arr, &mark);

    if (rc || !arr)
        goto out;
    cJSON_ArrayForEach(c, arr)
    {
        size_t imark = path_index(w, j);

        rc = check_word(w, c, max, &cp->sentinels[j]);
        path_pop(w, imark);
        if (rc)
            break;
        j++;
    }
    cp->n_sentinels = (uint8_t)j;
out:
    path_pop(w, mark);
    return rc;
}

/*
 * The register and decoding keys of a point object, which the caller has checked for
 * unknown and duplicate keys. The path must name the point.
 */
static int parse_regspec(struct walk *w, const cJSON *v, unsigned flags,
                         struct regspec *rs)
{
    struct codec_point *cp = &rs->codec;
    int table = CONFIG_TABLE_HOLDING, type = CODEC_UINT16, order = CODEC_ORDER_ABCD;
    long address = 0, bit = 0;
    bool found = false;
    int rc;

    codec_point_init(cp);
    rc = get_enum(w, v, "table", false, CONFIG_TABLE_HOLDING, table_names, &table);
    if (rc == 0)
        rc = get_int(w, v, "address", 0, 65535, true, 0, &address);
    if (rc == 0)
        rc = get_enum(w, v, "type", false, bit_table(table) ? CODEC_BIT : CODEC_UINT16,
                      type_names, &type);
    if (rc == 0 && bit_table(table) && type != CODEC_BIT)
        rc = fail_at(w, "type", "expected \"bit\" for the %s table, got \"%s\"",
                     table_names[table], type_names[type]);
    if (rc == 0 && address + (long)codec_width((enum codec_type)type) > 65536)
        rc = fail_at(w, "address", "a %s at %ld would run past register 65535",
                     type_names[type], address);
    if (rc)
        return rc;
    rs->table = (enum config_table)table;
    rs->address = (uint16_t)address;
    cp->type = (enum codec_type)type;

    rc = get_enum(w, v, "order", false, CODEC_ORDER_ABCD, order_names, &order);
    if (rc == 0 && bit_table(rs->table))
        rc =
            forbid(w, v, "order", "for coils and discrete inputs, which are single bits");
    if (rc == 0 && cp->type == CODEC_BIT && !bit_table(rs->table))
        rc = get_int(w, v, "bit", 0, 15, true, 0, &bit);
    else if (rc == 0)
        rc = forbid(w, v, "bit",
                    bit_table(rs->table)
                        ? "for coils and discrete inputs, which are single bits"
                        : "unless \"type\" is \"bit\"");
    if (rc == 0 && cp->type == CODEC_BIT)
        rc = forbid_all(w, v, value_keys,
                        "for a point of type \"bit\", which reads 0 or 1");
    if (rc)
        return rc;
    cp->order = (enum codec_order)order;
    cp->bit = (uint8_t)bit;

    rc = get_number(w, v, "scale", false, 1, &cp->scale);
    if (rc == 0 && cp->scale == 0)
        rc = fail_at(w, "scale", "expected non-zero number, got %s",
                     show(cJSON_GetObjectItemCaseSensitive(v, "scale")).text);
    if (rc == 0)
        rc = get_number(w, v, "offset", false, 0, &cp->offset);
    if (rc == 0)
        rc = parse_decimals(w, v, flags, cp);
    if (rc == 0)
        rc = get_string(w, v, "unit", false, "", 0, CONFIG_UNIT_LEN - 1, rs->unit);
    if (rc == 0)
        rc = get_pair(w, v, "range", "[min, max]", &cp->min, &cp->max, &found);
    if (rc == 0 && found && !(cp->min < cp->max))
        rc = fail_at(w, "range", "expected [min, max] with min < max, got [%g, %g]",
                     cp->min, cp->max);
    if (rc == 0)
        rc = parse_ma(w, v, &cp->ma);
    if (rc == 0)
        rc = parse_sentinels(w, v, cp);
    return rc;
}

/* ---- profiles --------------------------------------------------------------------- */

/* One named register of a profile. */
struct prof_point {
    char name[CONFIG_ID_LEN];
    struct regspec spec;
    uint8_t status_sets; /* as config_point.status_sets */
};

/* A parsed hw/profiles/NAME.json; see docs/profiles.md. */
struct profile {
    char name[CONFIG_ID_LEN];
    size_t n_points;
    struct prof_point points[CONFIG_MAX_PROFILE_POINTS];
    size_t n_status;
    struct config_status status[CONFIG_MAX_STATUS_SETS];
    struct config_heartbeat heartbeat;
    struct config_test_mode test_mode;
    bool has_decimals;
    struct config_reg decimals;
};

/* Point names appear in paths such as points.gas.order, so they are plain words. */
static bool valid_point_name(const char *s)
{
    return plain_key(s) && strchr(s, '$') == NULL && strlen(s) < CONFIG_ID_LEN;
}

static long prof_find(const struct profile *prof, const char *name)
{
    for (size_t i = 0; i < prof->n_points; i++) {
        if (strcmp(prof->points[i].name, name) == 0)
            return (long)i;
    }
    return -1;
}

/*
 * The path must name the reference. profile names the profile for a reference from a
 * site config; NULL for one from inside the profile itself.
 */
static int prof_unknown(struct walk *w, const struct profile *prof, const char *name,
                        const char *profile)
{
    const char *hint = NULL;
    char where[CONFIG_ID_LEN + 16];
    size_t best = (size_t)-1;

    for (size_t i = 0; i < prof->n_points; i++) {
        if (close_enough(name, prof->points[i].name, &best))
            hint = prof->points[i].name;
    }
    if (profile)
        snprintf(where, sizeof(where), "profile \"%s\"", profile);
    else
        snprintf(where, sizeof(where), "\"points\"");
    if (hint)
        return fail(w, "no point \"%s\" in %s (did you mean \"%s\"?)", name, where, hint);
    return fail(w, "no point \"%s\" in %s", name, where);
}

/*
 * A reference from one part of a profile (role: "a status register", ...) to one of its
 * points, which must be a whole 16-bit register or, with bits_too, a bit. The path must
 * name v.
 */
static int prof_ref(struct walk *w, const struct profile *prof, const cJSON *v,
                    const char *role, bool bits_too, long *index)
{
    const struct prof_point *pp;

    if (!cJSON_IsString(v))
        return fail(w, "expected the name of a point, got %s", show(v).text);
    *index = prof_find(prof, v->valuestring);
    if (*index < 0)
        return prof_unknown(w, prof, v->valuestring, NULL);
    pp = &prof->points[*index];
    if (pp->spec.codec.type == CODEC_UINT16 || pp->spec.codec.type == CODEC_INT16 ||
        (bits_too && pp->spec.codec.type == CODEC_BIT))
        return 0;
    return fail(w, "\"%s\" is a %s point; %s must be a uint16 or int16 register%s",
                pp->name, codec_type_name(pp->spec.codec.type), role,
                bits_too ? " or a bit" : "");
}

static int parse_profile_points(struct walk *w, const cJSON *root, struct profile *prof)
{
    static const char *const keys[] = {
        "table",    "address", "type",  "order", "bit",       "scale",       "offset",
        "decimals", "unit",    "range", "ma",    "sentinels", "description", NULL};
    const cJSON *obj, *c;
    size_t mark;
    int rc = member(w, root, "points", true, &obj, &mark);

    if (rc)
        goto out;
    if (!cJSON_IsObject(obj)) {
        rc = fail(w, "expected object of named points, got %s", show(obj).text);
        goto out;
    }
    if (cJSON_GetArraySize(obj) < 1) {
        rc = fail(w, "expected at least one point, got {}");
        goto out;
    }
    if (cJSON_GetArraySize(obj) > CONFIG_MAX_PROFILE_POINTS) {
        rc = fail(w, "expected at most %d points, got %d", CONFIG_MAX_PROFILE_POINTS,
                  cJSON_GetArraySize(obj));
        goto out;
    }
    cJSON_ArrayForEach(c, obj)
    {
        struct prof_point *pp = &prof->points[prof->n_points];
        const char *name = c->string ? c->string : "";
        char text[CONFIG_PATH_LEN];
        size_t pmark = path_key(w, name);

        if (!valid_point_name(name))
            rc = fail(w,
                      "invalid point name %s: use 1..%d characters from A-Z a-z 0-9 _ -",
                      show_string(name).text, CONFIG_ID_LEN - 1);
        if (rc == 0 && prof_find(prof, name) >= 0)
            rc = fail(w, "duplicate key");
        if (rc == 0)
            rc = expect_object(w, c);
        if (rc == 0)
            rc = check_keys(w, c, keys);
        if (rc == 0)
            rc = parse_regspec(w, c, SPEC_PROFILE, &pp->spec);
        if (rc == 0)
            rc = get_string(w, c, "description", false, "", 0, CONFIG_PATH_LEN - 1, text);
        path_pop(w, pmark);
        if (rc)
            break;
        snprintf(pp->name, sizeof(pp->name), "%s", name);
        prof->n_points++;
    }
out:
    path_pop(w, mark);
    return rc;
}

static int parse_decimals_register(struct walk *w, const cJSON *root,
                                   struct profile *prof)
{
    const cJSON *v;
    size_t mark;
    long k = -1;
    int rc = member(w, root, "decimals_register", false, &v, &mark);

    if (rc == 0 && v)
        rc = prof_ref(w, prof, v, "the decimals register", false, &k);
    if (rc == 0 && k >= 0 && prof->points[k].spec.codec.decimals_reg)
        rc = fail(w, "\"%s\" cannot be divided by itself: drop its \"decimals\"",
                  prof->points[k].name);
    if (rc == 0 && k >= 0) {
        prof->has_decimals = true;
        prof->decimals.table = prof->points[k].spec.table;
        prof->decimals.address = prof->points[k].spec.address;
    }
    path_pop(w, mark);
    if (rc)
        return rc;
    for (size_t i = 0; i < prof->n_points && !prof->has_decimals; i++) {
        if (prof->points[i].spec.codec.decimals_reg) {
            size_t pmark = path_key(w, "points");

            path_key(w, prof->points[i].name);
            rc = fail_at(w, "decimals",
                         "\"register\" needs a \"decimals_register\" at the top level of "
                         "the profile");
            path_pop(w, pmark);
            return rc;
        }
    }
    return 0;
}

/* Appends one rule to a set; the path names what asked for it. */
static int add_rule(struct walk *w, struct config_status *set, uint16_t mask,
                    uint16_t min, uint16_t max, uint8_t quality)
{
    if (set->n_rules == CONFIG_MAX_STATUS_RULES)
        return fail(
            w,
            "too many rules: at most %d per set, counting each entry of \"values\" "
            "and a \"default\" other than \"good\"",
            CONFIG_MAX_STATUS_RULES);
    set->rules[set->n_rules++] = (struct codec_status_rule){mask, min, max, quality};
    return 0;
}

/* A rule's value must survive the mask, or the rule could never match. */
static int check_masked(struct walk *w, uint32_t value, uint32_t mask)
{
    if (value & ~mask)
        return fail(w,
                    "0x%04X has bits outside the mask 0x%04X: the rule could never match",
                    (unsigned)value, (unsigned)mask);
    return 0;
}

static int parse_rule(struct walk *w, const cJSON *r, struct config_status *set)
{
    static const char *const keys[] = {"mask", "equals",  "values", "min",
                                       "max",  "quality", "note",   NULL};
    const cJSON *mask_v = cJSON_GetObjectItemCaseSensitive(r, "mask");
    const cJSON *eq = cJSON_GetObjectItemCaseSensitive(r, "equals");
    const cJSON *vals = cJSON_GetObjectItemCaseSensitive(r, "values");
    const cJSON *min_v = cJSON_GetObjectItemCaseSensitive(r, "min");
    const cJSON *max_v = cJSON_GetObjectItemCaseSensitive(r, "max");
    char note[CONFIG_PATH_LEN];
    uint32_t mask = 0xFFFF, a = 0, b = 0;
    int forms, q = 0;
    size_t mark;
    int rc = expect_object(w, r);

    if (rc == 0)
        rc = check_keys(w, r, keys);
    if (rc)
        return rc;
    forms = (eq != NULL) + (vals != NULL) + (min_v != NULL || max_v != NULL);
    if (forms == 0)
        return fail(w, "expected one of \"equals\", \"values\" or \"min\"/\"max\"");
    if (forms > 1)
        return fail(w, "use only one of \"equals\", \"values\" and \"min\"/\"max\"");
    if (mask_v) {
        mark = path_key(w, "mask");
        rc = check_word(w, mask_v, 0xFFFF, &mask);
        path_pop(w, mark);
    }
    if (rc == 0)
        rc = get_enum(w, r, "quality", true, 0, quality_names, &q);
    if (rc == 0)
        rc = get_string(w, r, "note", false, "", 0, CONFIG_PATH_LEN - 1, note);
    if (rc)
        return rc;

    if (eq) {
        mark = path_key(w, "equals");
        rc = check_word(w, eq, 0xFFFF, &a);
        if (rc == 0)
            rc = check_masked(w, a, mask);
        if (rc == 0)
            rc = add_rule(w, set, (uint16_t)mask, (uint16_t)a, (uint16_t)a,
                          quality_codes[q]);
        path_pop(w, mark);
    } else if (vals) {
        const cJSON *c;
        size_t j = 0;

        rc = get_list(w, r, "values", CONFIG_MAX_STATUS_RULES, &vals, &mark);
        for (c = rc == 0 ? vals->child : NULL; c; c = c->next) {
            size_t imark = path_index(w, j++);

            rc = check_word(w, c, 0xFFFF, &a);
            if (rc == 0)
                rc = check_masked(w, a, mask);
            if (rc == 0)
                rc = add_rule(w, set, (uint16_t)mask, (uint16_t)a, (uint16_t)a,
                              quality_codes[q]);
            path_pop(w, imark);
            if (rc)
                break;
        }
        path_pop(w, mark);
    } else {
        b = mask;
        if (min_v) {
            mark = path_key(w, "min");
            rc = check_word(w, min_v, 0xFFFF, &a);
            if (rc == 0 && a > mask)
                rc =
                    fail(w, "0x%04X is above the mask 0x%04X: the rule could never match",
                         (unsigned)a, (unsigned)mask);
            path_pop(w, mark);
        }
        if (rc == 0 && max_v) {
            mark = path_key(w, "max");
            rc = check_word(w, max_v, 0xFFFF, &b);
            if (rc == 0 && b < a)
                rc = fail(w, "expected at least min (%u), got %u", (unsigned)a,
                          (unsigned)b);
            path_pop(w, mark);
        }
        if (rc == 0)
            rc = add_rule(w, set, (uint16_t)mask, (uint16_t)a, (uint16_t)b,
                          quality_codes[q]);
    }
    return rc;
}

/*
 * *own is the index of the set's register, or -1 when applies_to names the points the set
 * governs.
 */
static int parse_status_set(struct walk *w, const cJSON *s, size_t k,
                            struct profile *prof, long *own)
{
    static const char *const keys[] = {"point",      "rules", "default",
                                       "applies_to", "note",  NULL};
    struct config_status *set = &prof->status[k];
    const cJSON *v, *c;
    char note[CONFIG_PATH_LEN];
    size_t mark, j = 0;
    long idx = -1;
    int q = 0;
    int rc = expect_object(w, s);

    if (rc == 0)
        rc = check_keys(w, s, keys);
    if (rc)
        return rc;
    rc = member(w, s, "point", true, &v, &mark);
    if (rc == 0)
        rc = prof_ref(w, prof, v, "a status register", false, &idx);
    if (rc == 0) {
        set->reg.table = prof->points[idx].spec.table;
        set->reg.address = prof->points[idx].spec.address;
    }
    path_pop(w, mark);
    if (rc)
        return rc;
    *own = idx;

    rc = get_array(w, s, "rules", CONFIG_MAX_STATUS_RULES, &v, &j, &mark);
    j = 0;
    if (rc == 0) {
        cJSON_ArrayForEach(c, v)
        {
            size_t imark = path_index(w, j++);

            rc = parse_rule(w, c, set);
            path_pop(w, imark);
            if (rc)
                break;
        }
    }
    path_pop(w, mark);
    if (rc == 0)
        rc = get_enum(w, s, "default", false, 0, quality_names, &q);
    /* The default is a last rule that matches everything: mask 0 leaves 0. */
    if (rc == 0 && quality_codes[q] != MSG_Q_GOOD) {
        mark = path_key(w, "default");
        rc = add_rule(w, set, 0, 0, 0, quality_codes[q]);
        path_pop(w, mark);
    }
    if (rc)
        return rc;

    rc = get_list(w, s, "applies_to", CONFIG_MAX_PROFILE_POINTS, &v, &mark);
    if (v)
        *own = -1;
    j = 0;
    if (rc == 0 && v) {
        cJSON_ArrayForEach(c, v)
        {
            size_t imark = path_index(w, j++);

            if (!cJSON_IsString(c))
                rc = fail(w, "expected the name of a point, got %s", show(c).text);
            else if ((idx = prof_find(prof, c->valuestring)) < 0)
                rc = prof_unknown(w, prof, c->valuestring, NULL);
            else
                prof->points[idx].status_sets |= (uint8_t)(1u << k);
            path_pop(w, imark);
            if (rc)
                break;
        }
    }
    path_pop(w, mark);
    if (rc == 0)
        rc = get_string(w, s, "note", false, "", 0, CONFIG_PATH_LEN - 1, note);
    return rc;
}

static int parse_status_sets(struct walk *w, const cJSON *root, struct profile *prof,
                             long *own)
{
    const cJSON *arr, *s;
    size_t mark;
    int rc = get_list(w, root, "status", CONFIG_MAX_STATUS_SETS, &arr, &mark);

    if (rc == 0 && arr) {
        cJSON_ArrayForEach(s, arr)
        {
            size_t imark = path_index(w, prof->n_status);

            rc = parse_status_set(w, s, prof->n_status, prof, &own[prof->n_status]);
            path_pop(w, imark);
            if (rc)
                break;
            prof->n_status++;
        }
    }
    path_pop(w, mark);
    return rc;
}

/*
 * A device-wide indicator a profile names by one of its points (the heartbeat, the
 * test-mode flag): check the object's keys, resolve "point", read the optional "note",
 * and give the register and the mask that selects it (its bit, or the whole word).
 */
static int parse_indicator(struct walk *w, const cJSON *v, struct profile *prof,
                           const char *const *keys, const char *what,
                           struct config_reg *reg, uint16_t *mask)
{
    char note[CONFIG_PATH_LEN];
    const cJSON *ref;
    size_t rmark;
    long idx = -1;
    int rc = expect_object(w, v);

    if (rc == 0)
        rc = check_keys(w, v, keys);
    if (rc == 0) {
        rc = member(w, v, "point", true, &ref, &rmark);
        if (rc == 0)
            rc = prof_ref(w, prof, ref, what, true, &idx);
        path_pop(w, rmark);
    }
    if (rc == 0)
        rc = get_string(w, v, "note", false, "", 0, CONFIG_PATH_LEN - 1, note);
    if (rc == 0) {
        const struct prof_point *pp = &prof->points[idx];

        reg->table = pp->spec.table;
        reg->address = pp->spec.address;
        *mask =
            pp->spec.codec.type == CODEC_BIT
                ? (uint16_t)(1u << (bit_table(pp->spec.table) ? 0 : pp->spec.codec.bit))
                : 0xFFFF;
    }
    return rc;
}

static int parse_heartbeat(struct walk *w, const cJSON *root, struct profile *prof)
{
    static const char *const keys[] = {"point", "stale_after_ms", "note", NULL};
    struct config_heartbeat *hb = &prof->heartbeat;
    const cJSON *v;
    size_t mark;
    long stale = 0;
    int rc = member(w, root, "heartbeat", false, &v, &mark);

    if (rc || !v)
        goto out;
    rc = parse_indicator(w, v, prof, keys, "a heartbeat", &hb->reg, &hb->mask);
    if (rc == 0)
        rc = get_int(w, v, "stale_after_ms", 1000, 3600000, true, 0, &stale);
    if (rc == 0) {
        hb->enabled = true;
        hb->stale_after_ms = (uint32_t)stale;
    }
out:
    path_pop(w, mark);
    return rc;
}

static int parse_test_mode(struct walk *w, const cJSON *root, struct profile *prof)
{
    static const char *const keys[] = {"point", "note", NULL};
    struct config_test_mode *tm = &prof->test_mode;
    const cJSON *v;
    size_t mark;
    int rc = member(w, root, "test_mode", false, &v, &mark);

    if (rc || !v)
        goto out;
    rc = parse_indicator(w, v, prof, keys, "a test-mode indicator", &tm->reg, &tm->mask);
    if (rc == 0)
        tm->enabled = true;
out:
    path_pop(w, mark);
    return rc;
}

/* The whole profile document; the walk names the profile's file. */
static int parse_profile(struct walk *w, const cJSON *root, const char *name,
                         struct profile *prof)
{
    static const char *const keys[] = {
        "profile",           "model",  "provenance", "source",    "points",
        "decimals_register", "status", "heartbeat",  "test_mode", NULL};
    char self[CONFIG_ID_LEN], text[CONFIG_PATH_LEN];
    long own[CONFIG_MAX_STATUS_SETS];
    int rc;

    snprintf(prof->name, sizeof(prof->name), "%s", name);
    if (!cJSON_IsObject(root))
        return fail(w, "expected object at top level, got %s", show(root).text);
    rc = check_keys(w, root, keys);
    if (rc == 0)
        rc = get_id(w, root, "profile", NULL, self);
    /* A copied file that still names its original would describe the wrong model. */
    if (rc == 0 && strcmp(self, name) != 0)
        rc = fail_at(w, "profile", "expected \"%s\" (the file's name), got \"%s\"", name,
                     self);
    if (rc == 0)
        rc = get_string(w, root, "model", true, NULL, 1, CONFIG_TEXT_LEN - 1, text);
    if (rc == 0)
        rc = get_string(w, root, "provenance", true, NULL, 1, CONFIG_TEXT_LEN - 1, text);
    if (rc == 0)
        rc = get_string(w, root, "source", false, "", 0, CONFIG_PATH_LEN - 1, text);
    if (rc == 0)
        rc = parse_profile_points(w, root, prof);
    if (rc == 0)
        rc = parse_decimals_register(w, root, prof);
    if (rc == 0)
        rc = parse_status_sets(w, root, prof, own);
    if (rc == 0)
        rc = parse_heartbeat(w, root, prof);
    if (rc == 0)
        rc = parse_test_mode(w, root, prof);
    if (rc)
        return rc;
    /*
     * A set without applies_to governs every point but its own register: a status word
     * stays readable while it says "fault", and a wrong identity word taints the rest.
     */
    for (size_t k = 0; k < prof->n_status; k++) {
        for (size_t i = 0; own[k] >= 0 && i < prof->n_points; i++) {
            if ((long)i != own[k])
                prof->points[i].status_sets |= (uint8_t)(1u << k);
        }
    }
    return 0;
}

/* Adopt a message written by the walk of another file, which names that file. */
static int adopt(struct walk *w, const struct walk *other, int rc)
{
    snprintf(w->msg, sizeof(w->msg), "%s", other->msg);
    return rc;
}

/* The path must name the device's "profile". */
static int load_profile(struct parse *p, const char *name, const struct profile **out)
{
    struct walk *w = p->w;
    char path[CONFIG_PATH_LEN];
    struct walk pw = {.name = NULL};
    struct profile *prof = NULL;
    cJSON *root = NULL;
    char *text = NULL;
    size_t len = 0;
    int n, rc;

    for (size_t i = 0; i < p->n_profiles; i++) {
        if (strcmp(p->profiles[i]->name, name) == 0) {
            *out = p->profiles[i];
            return 0;
        }
    }
    if (p->n_profiles == CONFIG_MAX_PROFILES)
        return fail(w, "too many profiles: at most %d in one config",
                    CONFIG_MAX_PROFILES);
    n = snprintf(path, sizeof(path), "%s/%s.json", p->cfg->profiles_dir, name);
    if (n < 0 || (size_t)n >= sizeof(path))
        return fail(w, "the profile's path would exceed %d bytes", CONFIG_PATH_LEN - 1);
    pw.name = base_name(path);

    rc = read_file(&pw, path, &text, &len);
    if (rc == -ENOENT || rc == -ENOTDIR) {
        rc = fail(w, "no profile \"%s\" (no file %s)", name, path);
        goto out;
    }
    if (rc == 0)
        rc = parse_document(&pw, text, len, &root);
    if (rc == 0) {
        prof = calloc(1, sizeof(*prof));
        rc = prof ? parse_profile(&pw, root, name, prof) : -ENOMEM;
    }
    if (rc && rc != -ENOMEM)
        adopt(w, &pw, rc);
    if (rc == 0) {
        p->profiles[p->n_profiles++] = prof;
        *out = prof;
        prof = NULL;
    }
out:
    free(prof);
    cJSON_Delete(root);
    free(text);
    return rc;
}

/* ---- points and devices ----------------------------------------------------------- */

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
    if (rc == 0 && lim->deadband < 0)
        rc = fail_at(w, "deadband", "expected number >= 0, got %s",
                     show(cJSON_GetObjectItemCaseSensitive(v, "deadband")).text);
    lim->enabled = rc == 0;
out:
    path_pop(w, mark);
    return rc;
}

/* ---- point rules: limits, rate of change, gas class ------------------------------- */

/* The config's names of the limit kinds, in the order of enum rules_limit_kind. */
static const char *const limit_keys[] = {"hh",     "h",      "l",       "ll", "level1",
                                         "level2", "o2_low", "o2_high", NULL};
_Static_assert(sizeof(limit_keys) / sizeof(limit_keys[0]) == RULES_LIMIT_COUNT + 1,
               "limit_keys must name every enum rules_limit_kind");

/* The gas classes; class i selects rules point kind i + 1 (0 is a process point). */
static const char *const gas_classes[] = {"combustible", "toxic-oel", "toxic-idlh",
                                          "oxygen", NULL};
_Static_assert(sizeof(gas_classes) / sizeof(gas_classes[0]) == RULES_POINT_KIND_COUNT,
               "gas_classes must name every gas enum rules_point_kind");

/* The longest delay a limit accepts, in ms: a day, as rules_check_point() allows. */
#define LIMIT_DELAY_MAX_MS 86400000L

/*
 * Where each of a point's rules limits came from, so that a rules_check_point() answer
 * about limits[k] can name the key that set it: outer is "high", "limits" or "gas" (an
 * oxygen default), inner the limit's key under "limits" or NULL.
 */
struct limit_origin {
    const char *outer;
    const char *inner;
};

/* A delay in ms, 0..a day, converted to the rules' nanoseconds. */
static int get_delay(struct walk *w, const cJSON *obj, const char *key, int64_t *ns)
{
    long ms = 0;
    int rc = get_int(w, obj, key, 0, LIMIT_DELAY_MAX_MS, false, 0, &ms);

    *ns = (int64_t)ms * 1000000;
    return rc;
}

/* The path names the limit's object. */
static int parse_limit(struct walk *w, const cJSON *v, struct rules_limit_cfg *l,
                       struct alarm_config *ac)
{
    static const char *const keys[] = {
        "setpoint", "deadband", "on_delay_ms",  "off_delay_ms",    "realarm_ms",
        "priority", "latching", "max_shelve_s", "one_shot_shelve", NULL};
    int rc = expect_object(w, v);

    if (rc == 0)
        rc = check_keys(w, v, keys);
    if (rc == 0)
        rc = get_number(w, v, "setpoint", true, 0, &l->setpoint);
    if (rc == 0)
        rc = get_number(w, v, "deadband", false, 0, &l->deadband);
    if (rc == 0 && l->deadband < 0)
        rc = fail_at(w, "deadband", "expected number >= 0, got %s",
                     show(cJSON_GetObjectItemCaseSensitive(v, "deadband")).text);
    if (rc == 0)
        rc = get_delay(w, v, "on_delay_ms", &l->on_delay_ns);
    if (rc == 0)
        rc = get_delay(w, v, "off_delay_ms", &l->off_delay_ns);
    if (rc == 0)
        rc = get_delay(w, v, "realarm_ms", &l->realarm_ns);
    if (rc == 0)
        rc = parse_alarm_opts(w, v, ac);
    return rc;
}

/*
 * Puts a limit into the point's rules. An oxygen point starts with its two default limits
 * (rules_point_defaults()); a configured o2_low or o2_high replaces the default of its
 * kind instead of being refused as a duplicate.
 */
static int place_limit(struct walk *w, struct config_point *cp,
                       const struct rules_limit_cfg *l, const struct alarm_config *ac,
                       struct limit_origin *origins, struct limit_origin origin)
{
    struct rules_point_cfg *rc_cfg = &cp->rules;
    unsigned n = rc_cfg->n_limits;

    for (unsigned i = 0; i < n; i++) {
        if (rc_cfg->limits[i].kind == l->kind && strcmp(origins[i].outer, "gas") == 0) {
            rc_cfg->limits[i] = *l;
            cp->alarm[i] = *ac;
            origins[i] = origin;
            return 0;
        }
    }
    /* Only an oxygen point, whose defaults take two slots, can run out of room here. */
    if (n >= RULES_MAX_LIMITS)
        return fail(w, "an oxygen point takes only o2_low and o2_high limits");
    rc_cfg->limits[n] = *l;
    cp->alarm[n] = *ac;
    origins[n] = origin;
    rc_cfg->n_limits = (uint8_t)(n + 1);
    return 0;
}

/* The path names the point. */
static int parse_limits(struct walk *w, const cJSON *pt, struct config_point *cp,
                        struct limit_origin *origins)
{
    const struct config_limit *high = &cp->high;
    struct rules_point_cfg *rcfg = &cp->rules;
    const cJSON *v, *c;
    size_t mark, count = 0;
    int rc = 0;

    if (high->enabled) {
        struct rules_limit_cfg l =
            rules_limit(RULES_LIMIT_H, high->setpoint, high->deadband);
        struct alarm_config ac =
            alarm_config_default(alarm_kind_of(rcfg->kind, RULES_LIMIT_H));

        mark = path_key(w, "high");
        rc = place_limit(w, cp, &l, &ac, origins, (struct limit_origin){"high", NULL});
        path_pop(w, mark);
        if (rc)
            return rc;
    }
    rc = member(w, pt, "limits", false, &v, &mark);
    if (rc || !v)
        goto out;
    rc = expect_object(w, v);
    if (rc == 0)
        rc = check_keys(w, v, limit_keys);
    if (rc)
        goto out;
    cJSON_ArrayForEach(c, v)
    {
        count++;
    }
    if (count == 0) {
        rc = fail(w, "expected at least one limit (%s), got {}",
                  "hh, h, l, ll, level1, level2, o2_low or o2_high");
        goto out;
    }
    if (count + (high->enabled ? 1 : 0) > RULES_MAX_LIMITS) {
        rc = fail(w, "%zu limits%s: a point has at most %d", count,
                  high->enabled ? " besides \"high\"" : "", RULES_MAX_LIMITS);
        goto out;
    }
    cJSON_ArrayForEach(c, v)
    {
        struct rules_limit_cfg l = {0};
        struct alarm_config ac;
        size_t lmark = path_key(w, c->string);

        for (unsigned k = 0; limit_keys[k]; k++) {
            if (strcmp(c->string, limit_keys[k]) == 0)
                l.kind = (uint8_t)k;
        }
        ac = alarm_config_default(alarm_kind_of(rcfg->kind, l.kind));
        if (l.kind == RULES_LIMIT_H && high->enabled)
            rc = fail(w, "\"high\" already sets the H limit: keep one of \"high\" and "
                         "\"limits.h\"");
        if (rc == 0)
            rc = parse_limit(w, c, &l, &ac);
        if (rc == 0)
            rc = place_limit(w, cp, &l, &ac, origins,
                             (struct limit_origin){"limits", limit_keys[l.kind]});
        path_pop(w, lmark);
        if (rc)
            break;
    }
out:
    path_pop(w, mark);
    return rc;
}

/* The path names the point. */
static int parse_roc(struct walk *w, const cJSON *pt, struct rules_roc_cfg *roc,
                     struct alarm_config *ac)
{
    static const char *const keys[] = {
        "rise_per_min", "fall_per_min", "window_ms",       "priority",
        "latching",     "max_shelve_s", "one_shot_shelve", NULL};
    const cJSON *v;
    double rise = 0, fall = 0;
    long window = 0;
    size_t mark;
    int rc = member(w, pt, "roc", false, &v, &mark);

    if (rc || !v)
        goto out;
    rc = expect_object(w, v);
    if (rc == 0)
        rc = check_keys(w, v, keys);
    if (rc == 0)
        rc = get_number(w, v, "rise_per_min", false, 0, &rise);
    if (rc == 0 && cJSON_HasObjectItem(v, "rise_per_min") && !(rise > 0))
        rc = fail_at(w, "rise_per_min", "expected number > 0, got %g", rise);
    if (rc == 0)
        rc = get_number(w, v, "fall_per_min", false, 0, &fall);
    if (rc == 0 && cJSON_HasObjectItem(v, "fall_per_min") && !(fall > 0))
        rc = fail_at(w, "fall_per_min", "expected number > 0, got %g", fall);
    if (rc == 0 && rise == 0 && fall == 0)
        rc = fail(w, "expected \"rise_per_min\", \"fall_per_min\" or both");
    /* The rate rule has one limit for both directions (struct rules_roc_cfg). */
    if (rc == 0 && rise > 0 && fall > 0 && rise != fall)
        rc = fail_at(w, "fall_per_min",
                     "%g differs from rise_per_min %g: both directions share one rate",
                     fall, rise);
    if (rc == 0)
        rc = get_int(w, v, "window_ms", 1000, 3600000, true, 0, &window);
    if (rc == 0) {
        roc->rising = rise > 0;
        roc->falling = fall > 0;
        roc->limit = rise > 0 ? rise : fall;
        roc->window_ns = (int64_t)window * 1000000;
        rc = parse_alarm_opts(w, v, ac);
    }
out:
    path_pop(w, mark);
    return rc;
}

/* The path names the point; *kind is left as process when there is no "gas". */
static int parse_gas(struct walk *w, const cJSON *pt, struct rules_point_cfg *rcfg)
{
    static const char *const keys[] = {"class", "reference", NULL};
    const cJSON *v;
    int cls = 0;
    size_t mark;
    int rc = member(w, pt, "gas", false, &v, &mark);

    if (rc || !v) {
        rules_point_defaults(rcfg, RULES_POINT_PROCESS);
        goto out;
    }
    rc = expect_object(w, v);
    if (rc == 0)
        rc = check_keys(w, v, keys);
    if (rc == 0)
        rc = get_enum(w, v, "class", true, 0, gas_classes, &cls);
    if (rc)
        goto out;
    rules_point_defaults(rcfg, (enum rules_point_kind)(cls + 1));
    if (rcfg->kind == RULES_POINT_OXYGEN)
        rc = forbid(w, v, "reference", "for an oxygen point: it is read in %VOL");
    if (rc == 0)
        rc = get_number(w, v, "reference", false, 100, &rcfg->reference);
    if (rc == 0 && !(rcfg->reference > 0))
        rc = fail_at(w, "reference", "expected number > 0, got %g", rcfg->reference);
out:
    path_pop(w, mark);
    return rc;
}

/* The key under a limit that a rules_check_point() answer is about, or NULL. */
static const char *check_field(enum rules_check c)
{
    switch (c) {
    case RULES_CHECK_LEL_L1:
    case RULES_CHECK_LEL_L2:
    case RULES_CHECK_OEL_L1:
    case RULES_CHECK_OEL_L2:
    case RULES_CHECK_IDLH_L1:
    case RULES_CHECK_IDLH_L2:
    case RULES_CHECK_O2_DEFICIENCY:
    case RULES_CHECK_O2_ENRICHMENT:
    case RULES_CHECK_LIMIT_ORDER:
        return "setpoint";
    case RULES_CHECK_DEADBAND_NEGATIVE:
    case RULES_CHECK_DEADBAND_WIDE:
        return "deadband";
    case RULES_CHECK_GAS_DELAY:
        return "on_delay_ms";
    default:
        return NULL;
    }
}

/*
 * Copies a rules message, writing each "limits[K] NAME" the way the config spells limit
 * K ("limits.level1", "high"), since the rules' indices mean nothing in the file.
 */
static void rename_limits(const char *in, const struct rules_point_cfg *rcfg,
                          const struct limit_origin *origins, char *out, size_t size)
{
    size_t o = 0;

    while (*in != '\0' && o + 1 < size) {
        unsigned k = 0;
        int used = 0;

        if (strncmp(in, "limits[", 7) == 0 &&
            sscanf(in, "limits[%u]%n", &k, &used) == 1 && used > 0 &&
            k < rcfg->n_limits) {
            const char *name = rules_limit_name(rcfg->limits[k].kind);
            size_t nlen = strlen(name);
            int n;

            in += used;
            if (in[0] == ' ' && strncmp(in + 1, name, nlen) == 0)
                in += 1 + nlen;
            n = snprintf(out + o, size - o, "%s%s%s", origins[k].outer,
                         origins[k].inner ? "." : "",
                         origins[k].inner ? origins[k].inner : "");
            o += n > 0 ? (size_t)n : 0;
            if (o >= size)
                o = size - 1;
        } else {
            out[o++] = *in++;
        }
    }
    out[o] = '\0';
}

/*
 * Checks the resolved rules with rules_check_point() and turns a refusal into a config
 * error at the key responsible. A refusal that rules_check_overridable() allows is
 * accepted when the point states an override_reason, and remembered in override_check.
 * The path names the point.
 */
static int check_rules(struct walk *w, const cJSON *pt, struct config_point *cp,
                       const struct limit_origin *origins)
{
    const struct rules_point_cfg *rcfg = &cp->rules;
    char why[CONFIG_ERR_LEN], text[CONFIG_ERR_LEN];
    enum rules_check c = rules_check_point(rcfg, why, sizeof(why));
    const char *msg = text, *field = check_field(c);
    size_t mark = w->path_len;
    unsigned k = 0;
    int used = 0;
    int rc;

    if (c == RULES_CHECK_OK)
        return 0;
    if (rules_check_overridable(c) && cp->override_reason[0] != '\0') {
        cp->override_check = (uint8_t)c;
        return 0;
    }
    rename_limits(why, rcfg, origins, text, sizeof(text));
    if (sscanf(why, "limits[%u]%n", &k, &used) == 1 && used > 0 && k < rcfg->n_limits) {
        size_t skip = strlen(origins[k].outer) +
                      (origins[k].inner ? 1 + strlen(origins[k].inner) : 0);

        (void)path_key(w, origins[k].outer);
        if (origins[k].inner)
            (void)path_key(w, origins[k].inner);
        /* The path names the limit now; a message that starts with it drops it. */
        if (strncmp(text + skip, ": ", 2) == 0)
            msg = text + skip + 2;
        if (c == RULES_CHECK_GAS_DELAY) {
            snprintf(text, sizeof(text),
                     "%lld ms is longer than the 60 s a gas alarm may be delayed "
                     "(GB 16808-2025 5.5.1.3)",
                     (long long)(rcfg->limits[k].on_delay_ns / 1000000));
            msg = text;
        }
        if (field && strcmp(origins[k].outer, "gas") != 0)
            (void)path_key(w, field);
    } else if (c == RULES_CHECK_GAS_TWO_LEVELS) {
        (void)path_key(w, cJSON_HasObjectItem(pt, "limits") ? "limits" : "gas");
    } else if (c == RULES_CHECK_GAS_FAULT_DELAY) {
        (void)path_key(w, "fault_delay_ms");
    } else if (c == RULES_CHECK_ROC) {
        (void)path_key(w, "roc");
    } else if (c == RULES_CHECK_REFERENCE) {
        (void)path_key(w, "gas");
    }
    if (rules_check_overridable(c))
        rc = fail(w, "%s; a signed-off \"override_reason\" on the point may waive this",
                  msg);
    else
        rc = fail(w, "%s", msg);
    path_pop(w, mark);
    return rc;
}

/* The path names the point. */
static int parse_fault_alarm(struct walk *w, const cJSON *pt, struct alarm_config *ac)
{
    static const char *const keys[] = {"priority", "latching", "max_shelve_s",
                                       "one_shot_shelve", NULL};
    const cJSON *v;
    size_t mark;
    int rc = member(w, pt, "fault_alarm", false, &v, &mark);

    if (rc == 0 && v) {
        rc = expect_object(w, v);
        if (rc == 0)
            rc = check_keys(w, v, keys);
        if (rc == 0)
            rc = parse_alarm_opts(w, v, ac);
    }
    path_pop(w, mark);
    return rc;
}

/*
 * GB 16808 holds a gas alarm until a person resets it, and a detector that cannot see is
 * as dangerous as a leak: level-2 gas alarms and the faults of gas points must latch and
 * must not be shelvable, unless a signed-off "override_reason" says why this site
 * differs. The path names the point.
 */
static int check_latching(struct walk *w, struct config_point *cp,
                          const struct limit_origin *origins)
{
    const struct rules_point_cfg *rcfg = &cp->rules;
    bool gas = rcfg->kind != RULES_POINT_PROCESS;
    size_t mark = w->path_len;
    int rc = 0;

    if (!gas || cp->override_reason[0] != '\0')
        return 0;
    for (unsigned i = 0; i < rcfg->n_limits && rc == 0; i++) {
        const struct alarm_config *ac = &cp->alarm[i];

        if (rcfg->limits[i].kind != RULES_LIMIT_GAS_L2 ||
            (ac->latching && ac->max_shelve_ns == 0))
            continue;
        (void)path_key(w, origins[i].outer);
        if (origins[i].inner)
            (void)path_key(w, origins[i].inner);
        rc = fail_at(w, ac->latching ? "max_shelve_s" : "latching",
                     "a gas level-2 alarm must latch and cannot be shelved (GB 16808); a "
                     "signed-off \"override_reason\" on the point may waive this");
        path_pop(w, mark);
    }
    if (rc == 0 && (!cp->alarm[RULES_COND_FAULT].latching ||
                    cp->alarm[RULES_COND_FAULT].max_shelve_ns != 0)) {
        (void)path_key(w, "fault_alarm");
        rc =
            fail_at(w, cp->alarm[RULES_COND_FAULT].latching ? "max_shelve_s" : "latching",
                    "the fault alarm of a gas detector must latch and cannot be shelved; "
                    "a signed-off \"override_reason\" on the point may waive this");
        path_pop(w, mark);
    }
    return rc;
}

/*
 * The point's alarm rules: "gas" (its kind), "high" and "limits", "roc", fault_delay_ms
 * (already in cp), over_range_high and override_reason. The path names the point.
 */
static int parse_rules(struct walk *w, const cJSON *pt, struct config_point *cp)
{
    struct limit_origin origins[RULES_MAX_LIMITS] = {{"gas", NULL}, {"gas", NULL}};
    struct rules_point_cfg *rcfg = &cp->rules;
    int rc = parse_gas(w, pt, rcfg);

    rcfg->fault_delay_ns = (int64_t)cp->fault_delay_ms * 1000000;
    /* Limits set by "gas" alone (oxygen) keep the defaults of their kind. */
    for (unsigned i = 0; i < rcfg->n_limits; i++)
        cp->alarm[i] =
            alarm_config_default(alarm_kind_of(rcfg->kind, rcfg->limits[i].kind));
    cp->alarm[RULES_COND_ROC_RISE] = alarm_config_default(ALARM_KIND_RATE_OF_CHANGE);
    cp->alarm[RULES_COND_FAULT] = alarm_config_default(ALARM_KIND_INSTRUMENT_FAULT);
    if (rc == 0)
        rc = parse_limits(w, pt, cp, origins);
    if (rc == 0)
        rc = parse_roc(w, pt, &rcfg->roc, &cp->alarm[RULES_COND_ROC_RISE]);
    cp->alarm[RULES_COND_ROC_FALL] = cp->alarm[RULES_COND_ROC_RISE];
    if (rc == 0)
        rc = parse_fault_alarm(w, pt, &cp->alarm[RULES_COND_FAULT]);
    if (rc == 0)
        rc = get_bool(w, pt, "over_range_high", false, &rcfg->over_range_high);
    if (rc == 0)
        rc = get_string(w, pt, "override_reason", false, "", 1, CONFIG_REASON_LEN - 1,
                        cp->override_reason);
    cp->override_check = RULES_CHECK_OK;
    if (rc == 0)
        rc = check_rules(w, pt, cp, origins);
    if (rc == 0)
        rc = check_latching(w, cp, origins);
    /* "limits.h" is the H limit as much as "high" is: config_point.high mirrors it. */
    for (unsigned i = 0; rc == 0 && i < rcfg->n_limits; i++) {
        if (rcfg->limits[i].kind == RULES_LIMIT_H) {
            cp->high.enabled = true;
            cp->high.setpoint = rcfg->limits[i].setpoint;
            cp->high.deadband = rcfg->limits[i].deadband;
        }
    }
    return rc;
}

static int parse_area_ref(struct parse *p, const cJSON *v, size_t *area)
{
    char id[CONFIG_ID_LEN];
    int rc = get_id(p->w, v, "area", NULL, id);

    if (rc == 0) {
        long a = idset_find(&p->areas, id);

        if (a < 0) {
            size_t mark = path_key(p->w, "area");

            rc = unknown_ref(p->w, "area", id, &p->areas, p->cfg->n_areas);
            path_pop(p->w, mark);
        } else {
            *area = (size_t)a;
        }
    }
    return rc;
}

/* A site point that selects a profile point with "use". */
static int parse_used_point(struct parse *p, const cJSON *v, const struct profile *prof,
                            struct config_point *pt)
{
    struct walk *w = p->w;
    struct config *cfg = p->cfg;
    const struct config_device *dev = &cfg->devices[pt->device];
    const struct prof_point *pp;
    char why[CONFIG_ID_LEN + 64];
    bool found = false;
    double lo, hi;
    long k;
    int rc;

    snprintf(why, sizeof(why), "with a profile: \"%s\" defines the registers",
             prof->name);
    rc = forbid_all(w, v, register_keys, why);
    if (rc == 0)
        rc = get_id(w, v, "use", NULL, pt->use);
    if (rc)
        return rc;
    k = prof_find(prof, pt->use);
    if (k < 0) {
        size_t mark = path_key(w, "use");

        rc = prof_unknown(w, prof, pt->use, prof->name);
        path_pop(w, mark);
        return rc;
    }
    /* One register published under two ids would only confuse the alarm list. */
    for (size_t j = dev->first_point; j < cfg->n_points; j++) {
        if (strcmp(cfg->points[j].use, pt->use) == 0)
            return fail_at(w, "use", "\"%s\" is already used by devices[%zu].points[%zu]",
                           pt->use, pt->device, j - dev->first_point);
    }
    pp = &prof->points[k];
    pt->table = pp->spec.table;
    pt->address = pp->spec.address;
    pt->codec = pp->spec.codec;
    pt->status_sets = pp->status_sets;

    rc = parse_area_ref(p, v, &pt->area);
    if (rc == 0)
        rc = get_string(w, v, "unit", false, pp->spec.unit, 0, CONFIG_UNIT_LEN - 1,
                        pt->unit);
    if (rc == 0)
        rc = get_pair(w, v, "span", "[value at 4 mA, value at 20 mA]", &lo, &hi, &found);
    if (rc == 0 && found && !pt->codec.ma.enabled)
        rc = fail_at(w, "span",
                     "only for a 4-20 mA point; \"%s\" of profile \"%s\" is not one",
                     pt->use, prof->name);
    if (rc == 0 && found && lo == hi)
        rc = fail_at(w, "span", "the values at 4 mA and 20 mA must differ, got [%g, %g]",
                     lo, hi);
    if (rc == 0 && found) {
        pt->codec.ma.eu_low = lo;
        pt->codec.ma.eu_high = hi;
    }
    return rc;
}

/* A site point with its own register keys. */
static int parse_inline_point(struct parse *p, const cJSON *v, struct config_point *pt)
{
    struct walk *w = p->w;
    struct regspec rs;
    int rc = forbid(w, v, "use", "without a \"profile\" on the device");

    if (rc == 0)
        rc =
            forbid(w, v, "span",
                   "without a \"profile\" on the device (write \"ma\": {\"span\": ...})");
    if (rc == 0)
        rc = parse_area_ref(p, v, &pt->area);
    if (rc == 0)
        rc = parse_regspec(w, v, 0, &rs);
    if (rc)
        return rc;
    pt->table = rs.table;
    pt->address = rs.address;
    pt->codec = rs.codec;
    snprintf(pt->unit, sizeof(pt->unit), "%s", rs.unit);
    return 0;
}

/* The path names devices[d].points[j]; the point is stored at the next free slot. */
static int parse_point(struct parse *p, const cJSON *v, size_t d,
                       const struct profile *prof)
{
    static const char *const keys[] = {"id",
                                       "use",
                                       "area",
                                       "table",
                                       "address",
                                       "type",
                                       "order",
                                       "bit",
                                       "scale",
                                       "offset",
                                       "decimals",
                                       "unit",
                                       "span",
                                       "range",
                                       "ma",
                                       "sentinels",
                                       "high",
                                       "fault_delay_ms",
                                       "limits",
                                       "roc",
                                       "gas",
                                       "over_range_high",
                                       "override_reason",
                                       "fault_alarm",
                                       NULL};
    struct walk *w = p->w;
    struct config *cfg = p->cfg;
    struct config_point *pt;
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

            rc = fail_at(w, "id",
                         "duplicate id \"%s\" (first at devices[%zu].points[%zu].id)",
                         pt->id, fd, (size_t)first - cfg->devices[fd].first_point);
        }
    }
    if (rc == 0)
        rc = prof ? parse_used_point(p, v, prof, pt) : parse_inline_point(p, v, pt);
    if (rc == 0)
        rc = parse_high(p, v, &pt->high);
    /*
     * A bad quality that lasts this long raises the point's instrument-fault alarm.
     * GB 16808 wants a controller to signal a fault within 100 s; this delay is only the
     * gateway's share, the poller's comm-loss deadline comes on top.
     */
    if (rc == 0) {
        long ms = 0;

        rc = get_int(w, v, "fault_delay_ms", 0, 100000, false, 10000, &ms);
        pt->fault_delay_ms = (uint32_t)ms;
    }
    if (rc == 0)
        rc = parse_rules(w, v, pt);
    if (rc)
        return rc;
    cfg->n_points++;
    return 0;
}

/* Copies what a profile says about the device as a whole: its auxiliary registers. */
static void adopt_profile(struct config_device *dev, const struct profile *prof)
{
    dev->n_status = prof->n_status;
    memcpy(dev->status, prof->status, sizeof(dev->status));
    dev->heartbeat = prof->heartbeat;
    dev->test_mode = prof->test_mode;
    dev->has_decimals = prof->has_decimals;
    dev->decimals = prof->decimals;
}

static int parse_device_profile(struct parse *p, const cJSON *v,
                                struct config_device *dev, const struct profile **prof)
{
    struct walk *w = p->w;
    size_t mark;
    int rc = get_id(w, v, "profile", "", dev->profile);

    *prof = NULL;
    if (rc || dev->profile[0] == '\0')
        return rc;
    mark = path_key(w, "profile");
    rc = load_profile(p, dev->profile, prof);
    path_pop(w, mark);
    if (rc)
        return rc;
    adopt_profile(dev, *prof);
    /* Two polls within the window, or a healthy heartbeat would be called stale. */
    if (dev->heartbeat.enabled && dev->poll_ms > dev->heartbeat.stale_after_ms / 2)
        rc = fail_at(
            w, "poll_ms",
            "expected at most %u with profile \"%s\" (its heartbeat is stale after "
            "%u ms, which must span two polls), got %u",
            dev->heartbeat.stale_after_ms / 2, dev->profile,
            dev->heartbeat.stale_after_ms, dev->poll_ms);
    return rc;
}

static int parse_device(struct parse *p, const cJSON *v, size_t i)
{
    static const char *const keys[] = {
        "id",      "bus",    "unit_id", "poll_ms", "response_timeout_ms",
        "profile", "points", NULL};
    struct walk *w = p->w;
    struct config *cfg = p->cfg;
    struct config_device *dev = &cfg->devices[i];
    const struct config_bus *bus = NULL;
    const struct profile *prof = NULL;
    char bus_id[CONFIG_ID_LEN];
    const cJSON *arr, *pt;
    long unit = 0, poll = 0, rtimeout = 0, b;
    size_t n = 0, j = 0, mark;
    int rc = expect_object(w, v);

    if (rc == 0)
        rc = check_keys(w, v, keys);
    if (rc == 0)
        rc = get_id(w, v, "id", NULL, dev->id);
    if (rc == 0) {
        long first = idset_add(&p->devices, i);

        if (first >= 0)
            rc = fail_at(w, "id", "duplicate id \"%s\" (first at devices[%ld].id)",
                         dev->id, first);
    }
    if (rc == 0)
        rc = get_id(w, v, "bus", NULL, bus_id);
    if (rc == 0) {
        b = idset_find(&p->buses, bus_id);
        if (b < 0) {
            mark = path_key(w, "bus");
            rc = unknown_ref(w, "bus", bus_id, &p->buses, cfg->n_buses);
            path_pop(w, mark);
        } else {
            dev->bus = (size_t)b;
            bus = &cfg->buses[b];
        }
    }
    if (rc == 0)
        rc = get_int(w, v, "unit_id", 0, 255, true, 0, &unit);
    /* On a serial line 0 is broadcast, which no device answers, and 248..255 reserved. */
    if (rc == 0 && bus->kind == CONFIG_BUS_RTU && (unit < 1 || unit > 247))
        rc = fail_at(w, "unit_id",
                     "expected integer 1..247 on the rtu bus \"%s\", got %ld", bus->id,
                     unit);
    if (rc)
        return rc;
    dev->unit_id = (uint8_t)unit;
    /* Two devices answering to one unit id on one bus would read each other's data. */
    for (size_t k = 0; k < i; k++) {
        if (cfg->devices[k].bus == dev->bus && cfg->devices[k].unit_id == dev->unit_id)
            return fail_at(
                w, "unit_id",
                "duplicate unit_id %ld on bus \"%s\" (first at devices[%zu].unit_id)",
                unit, bus_id, k);
    }
    rc = get_int(w, v, "poll_ms", 10, 3600000, true, 0, &poll);
    /* Otherwise a healthy device would be declared lost between two of its polls. */
    if (rc == 0 && poll >= (long)bus->comm_loss_after_ms)
        rc = fail_at(w, "poll_ms",
                     "expected less than the comm_loss_after_ms %u of bus \"%s\" (poll "
                     "more often or "
                     "raise it), got %ld",
                     bus->comm_loss_after_ms, bus->id, poll);
    if (rc == 0)
        rc = get_int(w, v, "response_timeout_ms", 10, 10000, false,
                     (long)bus->response_timeout_ms, &rtimeout);
    if (rc)
        return rc;
    dev->poll_ms = (uint32_t)poll;
    dev->response_timeout_ms = (uint32_t)rtimeout;
    rc = parse_device_profile(p, v, dev, &prof);
    if (rc)
        return rc;

    dev->first_point = cfg->n_points;
    rc = get_array(w, v, "points", (size_t)-1, &arr, &n, &mark);
    if (rc == 0) {
        cJSON_ArrayForEach(pt, arr)
        {
            size_t imark = path_index(w, j);

            rc = parse_point(p, pt, i, prof);
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

/* ---- local outputs ---------------------------------------------------------------- */

#define BOARD_MAX_SERIAL 16

/*
 * A board file (hw/boards/NAME.json, docs/outputs.md) as far as the config needs it: its
 * outputs, which relays are resolved against. Serial ports are checked and dropped; they
 * document the hardware for commissioning.
 */
struct board_output {
    char id[CONFIG_ID_LEN];
    char chip[CONFIG_PATH_LEN];
    uint32_t line;
    bool active_low;
};

struct board {
    char name[CONFIG_ID_LEN];
    size_t n_outputs;
    struct board_output outputs[CONFIG_MAX_OUTPUTS];
    size_t n_serial;
    char serial_ids[BOARD_MAX_SERIAL][CONFIG_ID_LEN];
    char serial_devices[BOARD_MAX_SERIAL][CONFIG_PATH_LEN];
};

/* A boolean without a default: wiring facts such as active_low must be stated. */
static int get_required_bool(struct walk *w, const cJSON *obj, const char *key, bool *out)
{
    const cJSON *v;
    size_t mark;
    int rc = member(w, obj, key, true, &v, &mark);

    if (rc == 0 && !cJSON_IsBool(v))
        rc = fail(w, "expected true or false, got %s", show(v).text);
    if (rc == 0)
        *out = cJSON_IsTrue(v);
    path_pop(w, mark);
    return rc;
}

/* The path names serial[i]. */
static int parse_board_serial(struct walk *w, const cJSON *v, size_t i, struct board *b)
{
    static const char *const keys[] = {"id", "device", "rs485", "description", NULL};
    char text[256];
    bool rs485;
    int rc = expect_object(w, v);

    if (rc == 0)
        rc = check_keys(w, v, keys);
    if (rc == 0)
        rc = get_id(w, v, "id", NULL, b->serial_ids[i]);
    for (size_t k = 0; rc == 0 && k < i; k++) {
        if (strcmp(b->serial_ids[k], b->serial_ids[i]) == 0) {
            size_t mark = path_key(w, "id");

            rc = duplicate_id(w, b->serial_ids[i], "serial", (long)k);
            path_pop(w, mark);
        }
    }
    if (rc == 0)
        rc = get_string(w, v, "device", true, NULL, 1, CONFIG_PATH_LEN - 1,
                        b->serial_devices[i]);
    if (rc == 0 && b->serial_devices[i][0] != '/')
        rc = fail_at(w, "device",
                     "expected an absolute path such as \"/dev/ttyS1\", got %s",
                     show_string(b->serial_devices[i]).text);
    for (size_t k = 0; rc == 0 && k < i; k++) {
        if (strcmp(b->serial_devices[k], b->serial_devices[i]) == 0)
            rc = fail_at(w, "device", "%s is already the device of serial[%zu]",
                         show_string(b->serial_devices[i]).text, k);
    }
    if (rc == 0)
        rc = get_required_bool(w, v, "rs485", &rs485);
    if (rc == 0)
        rc = get_string(w, v, "description", false, "", 0, sizeof(text) - 1, text);
    return rc;
}

/* The path names outputs[i]. */
static int parse_board_output(struct walk *w, const cJSON *v, size_t i, struct board *b)
{
    static const char *const keys[] = {"id",         "chip",        "line",
                                       "active_low", "description", NULL};
    struct board_output *o = &b->outputs[i];
    char text[256];
    long line = 0;
    int rc = expect_object(w, v);

    if (rc == 0)
        rc = check_keys(w, v, keys);
    if (rc == 0)
        rc = get_id(w, v, "id", NULL, o->id);
    for (size_t k = 0; rc == 0 && k < i; k++) {
        if (strcmp(b->outputs[k].id, o->id) == 0) {
            size_t mark = path_key(w, "id");

            rc = duplicate_id(w, o->id, "outputs", (long)k);
            path_pop(w, mark);
        }
    }
    if (rc == 0)
        rc = get_string(w, v, "chip", true, NULL, 1, CONFIG_PATH_LEN - 1, o->chip);
    if (rc == 0)
        rc = get_int(w, v, "line", 0, 65535, true, 0, &line);
    o->line = (uint32_t)line;
    /* Two outputs on one line would make one relay answer to two roles. */
    for (size_t k = 0; rc == 0 && k < i; k++) {
        if (strcmp(b->outputs[k].chip, o->chip) == 0 && b->outputs[k].line == o->line)
            rc = fail_at(w, "line", "%s line %lu is already outputs[%zu]",
                         show_string(o->chip).text, (unsigned long)o->line, k);
    }
    if (rc == 0)
        rc = get_required_bool(w, v, "active_low", &o->active_low);
    if (rc == 0)
        rc = get_string(w, v, "description", true, NULL, 1, sizeof(text) - 1, text);
    return rc;
}

/* The whole board document; the walk names the board's file. */
static int parse_board(struct walk *w, const cJSON *root, struct board *b)
{
    static const char *const keys[] = {"board",  "model",   "provenance", "source",
                                       "serial", "outputs", NULL};
    char self[CONFIG_ID_LEN], text[CONFIG_PATH_LEN];
    const cJSON *arr, *v;
    size_t mark = 0, i = 0;
    int rc;

    if (!cJSON_IsObject(root))
        return fail(w, "expected object at top level, got %s", show(root).text);
    rc = check_keys(w, root, keys);
    if (rc == 0)
        rc = get_id(w, root, "board", NULL, self);
    /* A copied file that still names its original would describe the wrong hardware. */
    if (rc == 0 && strcmp(self, b->name) != 0)
        rc = fail_at(w, "board", "expected \"%s\" (the file's name), got \"%s\"", b->name,
                     self);
    if (rc == 0)
        rc = get_string(w, root, "model", true, NULL, 1, CONFIG_TEXT_LEN - 1, text);
    if (rc == 0)
        rc = get_string(w, root, "provenance", true, NULL, 1, CONFIG_TEXT_LEN - 1, text);
    if (rc == 0)
        rc = get_string(w, root, "source", false, "", 0, CONFIG_PATH_LEN - 1, text);
    if (rc)
        return rc;

    rc = get_list(w, root, "serial", BOARD_MAX_SERIAL, &arr, &mark);
    if (rc == 0 && arr) {
        cJSON_ArrayForEach(v, arr)
        {
            size_t at = path_index(w, i);

            rc = parse_board_serial(w, v, i, b);
            path_pop(w, at);
            if (rc)
                break;
            b->n_serial = ++i;
        }
    }
    path_pop(w, mark);
    if (rc)
        return rc;

    i = 0;
    rc = get_array(w, root, "outputs", CONFIG_MAX_OUTPUTS, &arr, &b->n_outputs, &mark);
    if (rc == 0) {
        cJSON_ArrayForEach(v, arr)
        {
            size_t at = path_index(w, i);

            rc = parse_board_output(w, v, i, b);
            path_pop(w, at);
            if (rc)
                break;
            i++;
        }
    }
    path_pop(w, mark);
    return rc;
}

/* The path must name outputs.board. */
static int load_board(struct parse *p, const char *name, struct board *b)
{
    struct walk *w = p->w;
    char path[CONFIG_PATH_LEN];
    struct walk bw = {.name = NULL};
    cJSON *root = NULL;
    char *text = NULL;
    size_t len = 0;
    int n, rc;

    n = snprintf(path, sizeof(path), "%s/%s.json", p->cfg->outputs.boards_dir, name);
    if (n < 0 || (size_t)n >= sizeof(path))
        return fail(w, "the board's path would exceed %d bytes", CONFIG_PATH_LEN - 1);
    bw.name = base_name(path);
    snprintf(b->name, sizeof(b->name), "%s", name);

    rc = read_file(&bw, path, &text, &len);
    if (rc == -ENOENT || rc == -ENOTDIR) {
        rc = fail(w, "no board \"%s\" (no file %s)", name, path);
        goto out;
    }
    if (rc == 0)
        rc = parse_document(&bw, text, len, &root);
    if (rc == 0)
        rc = parse_board(&bw, root, b);
    if (rc && rc != -ENOMEM)
        adopt(w, &bw, rc);
out:
    cJSON_Delete(root);
    free(text);
    return rc;
}

/* The path names the relay's "output"; resolves it against the board. */
static int relay_output(struct walk *w, const struct board *b, const char *id,
                        const struct board_output **out)
{
    const char *hint = NULL;
    size_t best = (size_t)-1;

    for (size_t k = 0; k < b->n_outputs; k++) {
        if (strcmp(b->outputs[k].id, id) == 0) {
            *out = &b->outputs[k];
            return 0;
        }
        if (close_enough(id, b->outputs[k].id, &best))
            hint = b->outputs[k].id;
    }
    if (hint)
        return fail(w, "no output \"%s\" on board \"%s\" (did you mean \"%s\"?)", id,
                    b->name, hint);
    return fail(w, "no output \"%s\" on board \"%s\"", id, b->name);
}

/* The path names the relay's "priorities". */
static int relay_priorities(struct walk *w, const cJSON *arr, struct config_output *o)
{
    const cJSON *v;
    size_t i = 0;
    int rc = 0;

    cJSON_ArrayForEach(v, arr)
    {
        size_t at = path_index(w, i++);
        long prio = 0;

        rc = check_int(w, v, ALARM_P1, ALARM_P4, &prio);
        if (rc == 0 && (o->priorities & (1u << prio)))
            rc = fail(w, "duplicate priority %ld", prio);
        if (rc == 0)
            o->priorities |= (uint8_t)(1u << prio);
        path_pop(w, at);
        if (rc)
            break;
    }
    return rc;
}

/* The path names the relay's "areas". */
static int relay_areas(struct parse *p, const cJSON *arr, struct config_output *o)
{
    struct walk *w = p->w;
    const cJSON *v;
    size_t i = 0;
    int rc = 0;

    cJSON_ArrayForEach(v, arr)
    {
        size_t at = path_index(w, i++);
        long a = -1;

        if (!cJSON_IsString(v))
            rc = fail(w, "expected an area id, got %s", show(v).text);
        else if ((a = idset_find(&p->areas, v->valuestring)) < 0)
            rc = unknown_ref(w, "area", v->valuestring, &p->areas, p->cfg->n_areas);
        else if (o->areas[a / 64] & (UINT64_C(1) << (a % 64)))
            rc = fail(w, "duplicate area \"%s\"", v->valuestring);
        if (rc == 0)
            o->areas[a / 64] |= UINT64_C(1) << (a % 64);
        path_pop(w, at);
        if (rc)
            break;
    }
    return rc;
}

/* The path names outputs.relays[i]. */
static int parse_relay(struct parse *p, const cJSON *v, const struct board *b, size_t i)
{
    static const char *const keys[] = {"output", "role", "priorities",
                                       "areas",  "test", NULL};
    static const char *const roles[] = {"beacon", "siren", NULL};
    struct walk *w = p->w;
    struct config_output *o = &p->cfg->outputs.out[i];
    const struct board_output *bo = NULL;
    const cJSON *arr;
    size_t n = 0, mark = 0;
    int role = CONFIG_OUTPUT_BEACON;
    int rc = expect_object(w, v);

    if (rc == 0)
        rc = check_keys(w, v, keys);
    if (rc == 0)
        rc = get_id(w, v, "output", NULL, o->id);
    if (rc == 0) {
        mark = path_key(w, "output");
        rc = relay_output(w, b, o->id, &bo);
        /* One relay, one role: two entries for it would fight over its contact. */
        for (size_t k = 0; rc == 0 && k < i; k++) {
            if (strcmp(p->cfg->outputs.out[k].id, o->id) == 0)
                rc = fail(w,
                          "duplicate output \"%s\" (first at outputs.relays[%zu].output)",
                          o->id, k);
        }
        path_pop(w, mark);
    }
    if (rc)
        return rc;
    snprintf(o->chip, sizeof(o->chip), "%s", bo->chip);
    o->line = bo->line;
    o->active_low = bo->active_low;

    rc = get_enum(w, v, "role", true, CONFIG_OUTPUT_BEACON, roles, &role);
    o->role = (uint8_t)role;
    /* No default: which priorities are audible is the site's alarm philosophy. */
    if (rc == 0) {
        rc = get_array(w, v, "priorities", ALARM_P4, &arr, &n, &mark);
        if (rc == 0)
            rc = relay_priorities(w, arr, o);
        path_pop(w, mark);
    }
    if (rc == 0) {
        rc = get_list(w, v, "areas", CONFIG_MAX_AREAS, &arr, &mark);
        o->all_areas = rc == 0 && arr == NULL;
        if (rc == 0 && arr)
            rc = relay_areas(p, arr, o);
        path_pop(w, mark);
    }
    if (rc == 0)
        rc = get_bool(w, v, "test", false, &o->test);
    return rc;
}

/*
 * The optional "outputs" section: the board, the backend and the relays, each resolved
 * against the board's outputs so that nothing downstream reads the board file.
 */
static int parse_outputs(struct parse *p, const cJSON *root)
{
    static const char *const keys[] = {"board",    "boards_dir", "backend",
                                       "sim_path", "relays",     NULL};
    static const char *const backends[] = {"gpio", "sim", NULL};
    struct walk *w = p->w;
    struct config *cfg = p->cfg;
    char dir[CONFIG_PATH_LEN];
    struct board *b = NULL;
    const cJSON *o, *arr;
    size_t n = 0, outer = 0, mark = 0;
    int backend = CONFIG_OUTPUTS_GPIO;
    int rc = member(w, root, "outputs", false, &o, &outer);

    if (rc || !o)
        goto out;
    rc = expect_object(w, o);
    if (rc == 0)
        rc = check_keys(w, o, keys);
    if (rc == 0)
        rc = get_id(w, o, "board", NULL, cfg->outputs.board);
    if (rc == 0)
        rc = get_string(w, o, "boards_dir", false, "../hw/boards", 1, CONFIG_PATH_LEN - 1,
                        dir);
    if (rc == 0 && resolve_dir(cfg->outputs.boards_dir, sizeof(cfg->outputs.boards_dir),
                               p->origin, dir) != 0)
        rc = fail_at(w, "boards_dir",
                     "too long once joined to the config's directory: at most %d bytes",
                     CONFIG_PATH_LEN - 1);
    if (rc == 0)
        rc = get_enum(w, o, "backend", false, CONFIG_OUTPUTS_GPIO, backends, &backend);
    cfg->outputs.backend = (uint8_t)backend;
    if (rc == 0 && backend == CONFIG_OUTPUTS_SIM)
        rc = get_string(w, o, "sim_path", true, NULL, 1, CONFIG_PATH_LEN - 1,
                        cfg->outputs.sim_path);
    else if (rc == 0)
        rc = forbid(w, o, "sim_path", "with backend \"gpio\"");
    if (rc)
        goto out;

    b = calloc(1, sizeof(*b));
    if (!b) {
        rc = -ENOMEM;
        goto out;
    }
    mark = path_key(w, "board");
    rc = load_board(p, cfg->outputs.board, b);
    path_pop(w, mark);
    if (rc)
        goto out;

    rc = get_array(w, o, "relays", CONFIG_MAX_OUTPUTS, &arr, &n, &mark);
    if (rc == 0) {
        const cJSON *v;
        size_t i = 0;

        cJSON_ArrayForEach(v, arr)
        {
            size_t at = path_index(w, i);

            rc = parse_relay(p, v, b, i);
            path_pop(w, at);
            if (rc)
                break;
            i++;
        }
    }
    path_pop(w, mark);
    if (rc == 0)
        cfg->outputs.n = n;
out:
    free(b);
    path_pop(w, outer);
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

/*
 * A top-level array of entries with ids (areas, buses): allocate its table once, index
 * its ids for duplicate and reference checks, and parse each entry in order. The count
 * is set before parsing, as the entry parsers resolve ids against the whole table.
 */
static int parse_table(struct parse *p, const cJSON *root, const char *key, size_t max,
                       size_t elem, size_t id_offset, void **table, size_t *count,
                       struct idset *ids, entry_fn fn)
{
    const cJSON *arr;
    size_t n = 0, mark;
    int rc = get_array(p->w, root, key, max, &arr, &n, &mark);

    if (rc == 0) {
        *table = calloc(n, elem);
        if (*table == NULL)
            rc = -ENOMEM;
    }
    if (rc == 0)
        rc = idset_init(ids, n, (const char *)*table + id_offset, elem);
    if (rc == 0) {
        *count = n;
        rc = walk_entries(p, arr, fn);
    }
    path_pop(p->w, mark);
    return rc;
}

/* ---- control ---------------------------------------------------------------------- */

/*
 * Officer ids are journalled with every command and travel in events, so they use the id
 * alphabet plus '@' (for ids that are e-mail addresses) and fit MSG_USER_LEN.
 */
bool config_officer_id_valid(const char *s)
{
    size_t n = 0;

    for (const char *c = s; *c; c++, n++) {
        if (!(*c >= 'a' && *c <= 'z') && !(*c >= 'A' && *c <= 'Z') &&
            !(*c >= '0' && *c <= '9') && *c != '_' && *c != '.' && *c != '@' && *c != '-')
            return false;
    }
    return n >= 1 && n < MSG_USER_LEN;
}

/* One control.officers entry; the path names it. */
static int parse_officer(struct parse *p, const cJSON *v, size_t i)
{
    static const char *const keys[] = {"id", "rights", NULL};
    static const char *const names[] = {"ack", "shelve", "service"};
    static const unsigned bits[] = {ALARM_RIGHT_ACK, ALARM_RIGHT_SHELVE,
                                    ALARM_RIGHT_SERVICE};
    struct walk *w = p->w;
    struct config_officer *off = &p->cfg->control.officers[i];
    const cJSON *f, *r;
    size_t mark = 0, k = 0;
    int rc = expect_object(w, v);

    if (rc == 0)
        rc = check_keys(w, v, keys);
    if (rc == 0)
        rc = member(w, v, "id", true, &f, &mark);
    if (rc == 0 && !cJSON_IsString(f))
        rc = fail(w, "expected string, got %s", show(f).text);
    if (rc == 0 && !config_officer_id_valid(f->valuestring))
        rc = fail(w,
                  "invalid officer id %s: use 1..%d characters from A-Z a-z 0-9 _ . @ -",
                  show(f).text, MSG_USER_LEN - 1);
    for (size_t j = 0; rc == 0 && j < i; j++) {
        if (strcmp(p->cfg->control.officers[j].id, f->valuestring) == 0)
            rc = duplicate_id(w, f->valuestring, "control.officers", (long)j);
    }
    if (rc == 0)
        snprintf(off->id, sizeof(off->id), "%s", f->valuestring);
    path_pop(w, mark);
    if (rc)
        return rc;

    /* "rights": [] is allowed: an officer whose every command is refused and recorded. */
    rc = member(w, v, "rights", true, &r, &mark);
    if (rc == 0 && !cJSON_IsArray(r))
        rc = fail(w, "expected array, got %s", show(r).text);
    if (rc)
        r = NULL;
    cJSON_ArrayForEach(f, r)
    {
        size_t rmark = path_index(w, k++), b = 0;

        while (b < 3 && !(cJSON_IsString(f) && strcmp(f->valuestring, names[b]) == 0))
            b++;
        if (b == 3 && cJSON_IsString(f))
            rc = fail(w, "unknown right %s (ack, shelve, service)", show(f).text);
        else if (b == 3)
            rc = fail(w, "expected string, got %s", show(f).text);
        else if (off->rights & bits[b])
            rc = fail(w, "duplicate right %s", show(f).text);
        else
            off->rights |= bits[b];
        path_pop(w, rmark);
        if (rc)
            break;
    }
    path_pop(w, mark);
    return rc;
}

/*
 * The optional local command socket (docs/control.md). Without the section the daemon
 * opens no socket. A relative socket path is resolved like profiles_dir, against the
 * config file's directory, so the daemon and `parkguardctl -c` find the same file
 * whatever directory each was started from.
 */
static int parse_control(struct parse *p, const cJSON *root)
{
    static const char *const keys[] = {"socket", "group", "officers", NULL};
    /* sun_path holds 108 bytes with its NUL on Linux; a longer path cannot be bound. */
    const size_t sock_max = sizeof(((struct sockaddr_un *)NULL)->sun_path) - 1;
    struct walk *w = p->w;
    struct config *cfg = p->cfg;
    char sock[CONFIG_PATH_LEN];
    const cJSON *v, *arr;
    size_t mark, amark = 0, n = 0;
    int rc = member(w, root, "control", false, &v, &mark);

    if (rc || v == NULL)
        goto out;
    rc = expect_object(w, v);
    if (rc == 0)
        rc = check_keys(w, v, keys);
    if (rc == 0)
        rc = get_string(w, v, "socket", false, "/run/parkguard/control.sock", 1,
                        CONFIG_PATH_LEN - 1, sock);
    if (rc == 0 && (resolve_dir(cfg->control.socket, sizeof(cfg->control.socket),
                                p->origin, sock) != 0 ||
                    strlen(cfg->control.socket) > sock_max))
        rc = fail_at(w, "socket",
                     "too long for a unix socket once resolved: at most %zu bytes",
                     sock_max);
    if (rc == 0)
        rc = get_id(w, v, "group", "", cfg->control.group);
    if (rc)
        goto out;

    rc = get_array(w, v, "officers", CONFIG_MAX_OFFICERS, &arr, &n, &amark);
    if (rc == 0) {
        cfg->control.officers = calloc(n, sizeof(*cfg->control.officers));
        if (cfg->control.officers == NULL)
            rc = -ENOMEM;
    }
    if (rc == 0) {
        cfg->control.n_officers = n;
        rc = walk_entries(p, arr, parse_officer);
    }
    path_pop(w, amark);
out:
    path_pop(w, mark);
    return rc;
}

static int parse_root(struct parse *p, const cJSON *root)
{
    static const char *const keys[] = {"gateway",      "rt",      "store", "mqtt",
                                       "profiles_dir", "areas",   "buses", "devices",
                                       "outputs",      "control", NULL};
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
    if (rc == 0)
        rc = parse_profiles_dir(p, root);
    if (rc == 0)
        rc = parse_control(p, root);
    if (rc)
        return rc;

    rc = parse_table(p, root, "areas", CONFIG_MAX_AREAS, sizeof(*cfg->areas),
                     offsetof(struct config_area, id), (void **)&cfg->areas,
                     &cfg->n_areas, &p->areas, parse_area);
    if (rc == 0)
        rc = parse_table(p, root, "buses", CONFIG_MAX_BUSES, sizeof(*cfg->buses),
                         offsetof(struct config_bus, id), (void **)&cfg->buses,
                         &cfg->n_buses, &p->buses, parse_bus);
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
    if (rc == 0)
        rc = check_votes(p);
    if (rc == 0)
        rc = parse_outputs(p, root);
    return rc;
}

/* ---- entry points ----------------------------------------------------------------- */

static int parse_text(struct walk *w, const char *origin, const char *text, size_t len,
                      struct config **out)
{
    struct config *cfg = NULL;
    struct parse p = {.w = w, .origin = origin};
    cJSON *root = NULL;
    int rc = parse_document(w, text, len, &root);

    if (rc)
        goto out;
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
    for (size_t i = 0; i < p.n_profiles; i++)
        free(p.profiles[i]);
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
    free(cfg->control.officers);
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
