/*
 * Unit tests for store, on real SQLite files in a fresh mkdtemp() directory per test:
 * schema creation and idempotent reopen, the event + outbox transaction, the outbox
 * cursor and delivery marks, rollback, readings with good and bad quality, the event_log
 * view, duplicate sequence numbers, a schema newer than the code, and a full disk.
 *
 * What store.h does not expose is checked with a separate sqlite3 connection on the file.
 * The full disk is simulated with a small SQLite VFS shim registered as the default VFS
 * for that one test: it forwards everything to the real VFS and, while armed, refuses
 * every xWrite with SQLITE_FULL, which is what the unix VFS reports for ENOSPC.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <math.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "store.h"

#define FMT(array, ...)                                                                  \
    assert_true((size_t)snprintf(array, sizeof(array), __VA_ARGS__) < sizeof(array))

#define CONFIG_HEAD                                                                      \
    "{\"gateway\": {\"id\": \"demo-gw-01\", \"site\": \"vanadium-titanium\"},\n"         \
    "\"store\": {\"path\": \"unused.db\"},\n"                                            \
    "\"mqtt\": {\"uri\": \"tcp://127.0.0.1:1883\"},\n"                                   \
    "\"areas\": [{\"id\": \"a\"}],\n"                                                    \
    "\"buses\": [{\"id\": \"b\", \"type\": \"tcp\", \"host\": \"h\", \"port\": 502}],\n"

/* Three of the points of config/demo.json, one per device. */
static const char config3[] = CONFIG_HEAD
    "\"devices\": [\n"
    "{\"id\": \"gd-301\", \"bus\": \"b\", \"unit_id\": 1, \"poll_ms\": 100,\n"
    " \"points\": [{\"id\": \"gd-301.ch4\", \"area\": \"a\", \"address\": 0}]},\n"
    "{\"id\": \"gd-302\", \"bus\": \"b\", \"unit_id\": 2, \"poll_ms\": 100,\n"
    " \"points\": [{\"id\": \"gd-302.h2s\", \"area\": \"a\", \"address\": 0}]},\n"
    "{\"id\": \"pt-b12\", \"bus\": \"b\", \"unit_id\": 3, \"poll_ms\": 100,\n"
    " \"points\": [{\"id\": \"pt-b12.temp\", \"area\": \"a\", \"address\": 0}]}]}\n";

/* The same site a release later: one point added in the middle, one dropped. */
static const char config3b[] = CONFIG_HEAD
    "\"devices\": [\n"
    "{\"id\": \"gd-301\", \"bus\": \"b\", \"unit_id\": 1, \"poll_ms\": 100,\n"
    " \"points\": [{\"id\": \"gd-301.ch4\", \"area\": \"a\", \"address\": 0}]},\n"
    "{\"id\": \"gd-303\", \"bus\": \"b\", \"unit_id\": 4, \"poll_ms\": 100,\n"
    " \"points\": [{\"id\": \"gd-303.co\", \"area\": \"a\", \"address\": 0}]},\n"
    "{\"id\": \"pt-b12\", \"bus\": \"b\", \"unit_id\": 3, \"poll_ms\": 100,\n"
    " \"points\": [{\"id\": \"pt-b12.temp\", \"area\": \"a\", \"address\": 0}]}]}\n";

struct fixture {
    char dir[64];
    char db[128];
    struct config *cfg;
};

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

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    FMT(f->dir, "/tmp/pg-test-store-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    FMT(f->db, "%s/pg.db", f->dir);
    f->cfg = parse_ok(config3);
    *state = f;
    return 0;
}

static void full_vfs_cleanup(void);
static void close_live(void);

/* Remove everything in the directory (db, -wal, -shm, links) and the directory. */
static int teardown(void **state)
{
    struct fixture *f = *state;
    DIR *d;
    struct dirent *e;

    close_live();
    full_vfs_cleanup();
    d = opendir(f->dir);
    if (d != NULL) {
        while ((e = readdir(d)) != NULL) {
            char path[512];

            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            (void)snprintf(path, sizeof(path), "%s/%s", f->dir, e->d_name);
            (void)unlink(path);
        }
        (void)closedir(d);
    }
    (void)rmdir(f->dir);
    config_free(f->cfg);
    free(f);
    return 0;
}

/*
 * Stores a test has open. A failing assertion jumps out of the test with its store still
 * open; teardown closes what is left here, so that a failure reports itself and not also
 * a leak, and the directory can be removed.
 */
static struct store *live[4];

static struct store *open_ok(const char *path, const struct config *cfg)
{
    struct store *st = NULL;
    int rc = store_open(path, cfg, &st);

    if (rc != 0)
        fail_msg("store_open(%s): %d", path, rc);
    assert_non_null(st);
    for (size_t i = 0; i < sizeof(live) / sizeof(live[0]); i++)
        if (live[i] == NULL) {
            live[i] = st;
            return st;
        }
    fail_msg("more than %zu stores open", sizeof(live) / sizeof(live[0]));
    return NULL;
}

static void close_st(struct store *st)
{
    for (size_t i = 0; i < sizeof(live) / sizeof(live[0]); i++)
        if (live[i] == st)
            live[i] = NULL;
    store_close(st);
}

static uint64_t last_seq(struct store *st)
{
    uint64_t seq = 12345; /* not 0, so that an unwritten result shows */

    assert_int_equal(store_last_seq(st, &seq), 0);
    return seq;
}

static struct msg_event event(uint64_t seq, uint32_t point, uint8_t kind, double value)
{
    struct msg_event ev;

    memset(&ev, 0, sizeof(ev));
    ev.seq = seq;
    ev.point = point;
    ev.kind = kind;
    ev.limit = MSG_LIMIT_HIGH;
    ev.value = value;
    ev.setpoint = 25.0;
    ev.deadband = 2.0;
    /* Derived from seq so rows are told apart; % keeps huge seqs from overflowing. */
    ev.mono_ns = INT64_C(5000000000) + (int64_t)(seq % 1000);
    ev.utc_ms = INT64_C(1795862302000) + (int64_t)(seq % 1000);
    return ev;
}

static void close_live(void)
{
    for (size_t i = 0; i < sizeof(live) / sizeof(live[0]); i++)
        if (live[i] != NULL) {
            store_close(live[i]);
            live[i] = NULL;
        }
}

/* The topic and payload an event with this seq is stored with in these tests. */
static void message_for(uint64_t seq, char *topic, size_t tlen, char *payload,
                        size_t plen)
{
    (void)snprintf(topic, tlen, "parkguard/s/gw/alarm/p%llu", (unsigned long long)seq);
    (void)snprintf(payload, plen, "{\"seq\":%llu}", (unsigned long long)seq);
}

static int add_event(struct store *st, uint64_t seq, uint32_t point, uint8_t kind,
                     double value)
{
    struct msg_event ev = event(seq, point, kind, value);
    char topic[MSG_TOPIC_LEN], payload[64];

    message_for(seq, topic, sizeof(topic), payload, sizeof(payload));
    return store_add_event(st, &ev, topic, payload, strlen(payload), 1);
}

/* One durable transaction holding one event. */
static void commit_event(struct store *st, uint64_t seq, uint32_t point)
{
    assert_int_equal(store_begin(st, true), 0);
    assert_int_equal(add_event(st, seq, point, MSG_EVENT_ACTIVATED, 30.0), 0);
    assert_int_equal(store_commit(st), 0);
}

/* The outbox row after after_id must be the one for seq. Returns its id. */
static int64_t expect_outbox(struct store *st, int64_t after_id, uint64_t seq)
{
    struct msg_outbox m;
    char topic[MSG_TOPIC_LEN], payload[64];

    memset(&m, 0xa5, sizeof(m));
    assert_int_equal(store_outbox_next(st, after_id, &m), 1);
    message_for(seq, topic, sizeof(topic), payload, sizeof(payload));
    assert_true(m.id > after_id);
    assert_string_equal(m.topic, topic);
    assert_int_equal(m.payload_len, strlen(payload));
    assert_memory_equal(m.payload, payload, strlen(payload));
    assert_int_equal(m.qos, 1);
    assert_false(m.retained);
    return m.id;
}

static void expect_outbox_empty(struct store *st, int64_t after_id)
{
    struct msg_outbox m;

    assert_int_equal(store_outbox_next(st, after_id, &m), 0);
}

static int rows_cb(void *arg, int ncol, char **val, char **name)
{
    char *out = arg;
    size_t len = strlen(out);

    (void)name;
    if (len != 0 && len < 4095)
        out[len++] = ';';
    for (int i = 0; i < ncol; i++) {
        len += (size_t)snprintf(out + len, len < 4096 ? 4096 - len : 0, "%s%s",
                                i ? "|" : "", val[i] != NULL ? val[i] : "NULL");
        if (len >= 4096)
            return 1;
    }
    return 0;
}

/*
 * Run sql on the file through a connection of our own and return its rows as text:
 * columns joined by '|', rows by ';', SQL NULL as "NULL". out must hold 4096 bytes.
 */
static const char *query(const char *path, const char *sql, char *out)
{
    sqlite3 *db = NULL;
    char *err = NULL;
    int rc;

    out[0] = '\0';
    rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL);
    if (rc != SQLITE_OK)
        fail_msg("open %s: %s", path, sqlite3_errstr(rc));
    rc = sqlite3_exec(db, sql, rows_cb, out, &err);
    if (rc != SQLITE_OK) {
        char msg[256];

        (void)snprintf(msg, sizeof(msg), "%s", err != NULL ? err : sqlite3_errstr(rc));
        sqlite3_free(err);
        (void)sqlite3_close(db);
        fail_msg("%s: %s", sql, msg);
    }
    assert_int_equal(sqlite3_close(db), SQLITE_OK);
    return out;
}

#define assert_query(path, sql, want)                                                    \
    do {                                                                                 \
        char out_[4096];                                                                 \
        assert_string_equal(query(path, sql, out_), want);                               \
    } while (0)

/* ---- schema and open -------------------------------------------------------------- */

static void test_open_creates_schema(void **state)
{
    struct fixture *f = *state;
    struct store *st = open_ok(f->db, f->cfg);

    assert_int_equal(last_seq(st), 0);
    expect_outbox_empty(st, 0);
    close_st(st);

    assert_query(f->db, "PRAGMA user_version", "3");
    assert_query(f->db, "PRAGMA journal_mode", "wal");
    assert_query(f->db,
                 "SELECT type, name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'"
                 " ORDER BY type, name",
                 "index|outbox_pending;index|readings_point_t;"
                 "table|events;table|meta;table|outbox;table|points;table|qualities;"
                 "table|readings;view|event_log");
    assert_query(f->db, "SELECT code, name FROM qualities ORDER BY code",
                 "0|good;1|comm-loss;2|timeout;3|bad-frame;4|modbus-exception;"
                 "5|under-range;6|over-range;7|maintenance;8|sensor-fault;9|stale;"
                 "10|sentinel");
    /* Points are registered in config order. */
    assert_query(f->db, "SELECT id, name FROM points ORDER BY id",
                 "1|gd-301.ch4;2|gd-302.h2s;3|pt-b12.temp");
    assert_query(f->db, "SELECT count(*) FROM events", "0");
    assert_query(f->db, "SELECT count(*) FROM outbox", "0");
    assert_query(f->db, "SELECT count(*) FROM readings", "0");
}

static void test_reopen_is_idempotent(void **state)
{
    struct fixture *f = *state;
    struct store *st;

    for (int i = 0; i < 3; i++) {
        st = open_ok(f->db, f->cfg);
        assert_int_equal(last_seq(st), 0);
        close_st(st);
    }
    assert_query(f->db, "PRAGMA user_version", "3");
    assert_query(f->db, "SELECT id, name FROM points ORDER BY id",
                 "1|gd-301.ch4;2|gd-302.h2s;3|pt-b12.temp");
    assert_query(f->db, "SELECT count(*) FROM qualities", "11");
}

/*
 * A changed config keeps existing point ids (history stays joined to its point) and adds
 * new points after them; the store maps config indices to the right rows.
 */
static void test_reopen_with_changed_points(void **state)
{
    struct fixture *f = *state;
    struct config *cfg2 = parse_ok(config3b);
    struct store *st = open_ok(f->db, f->cfg);

    commit_event(st, 1, 2); /* pt-b12.temp under the first config */
    close_st(st);

    st = open_ok(f->db, cfg2);
    commit_event(st, 2, 1); /* gd-303.co: index 1 in the new config */
    commit_event(st, 3, 2); /* pt-b12.temp: index 2 now, same row as before */
    close_st(st);
    config_free(cfg2);

    assert_query(f->db, "SELECT id, name FROM points ORDER BY id",
                 "1|gd-301.ch4;2|gd-302.h2s;3|pt-b12.temp;4|gd-303.co");
    assert_query(f->db, "SELECT seq, point FROM event_log ORDER BY seq",
                 "1|pt-b12.temp;2|gd-303.co;3|pt-b12.temp");
}

static void test_open_errors(void **state)
{
    struct fixture *f = *state;
    struct store *st = (struct store *)(uintptr_t)1;
    char path[256], link[256];

    /* A directory that does not exist: SQLite cannot open, the store says ENOENT. */
    FMT(path, "%s/no/such/dir/pg.db", f->dir);
    assert_int_equal(store_open(path, f->cfg, &st), -ENOENT);
    assert_null(st);

    /* NOFOLLOW: a symlinked database path is refused, even to a valid database. */
    st = open_ok(f->db, f->cfg);
    close_st(st);
    FMT(link, "%s/link.db", f->dir);
    assert_int_equal(symlink(f->db, link), 0);
    st = (struct store *)(uintptr_t)1;
    assert_true(store_open(link, f->cfg, &st) < 0);
    assert_null(st);

    store_close(NULL); /* documented no-op */
}

/*
 * A file from a newer parkguard: store_open must refuse with -EPROTO and leave the
 * schema version and content alone.
 */
/*
 * A file written by the first release (schema version 1, the exact DDL it shipped) with
 * an event in it: opening it migrates it to the current version, keeps the event, marks
 * it as no test, and the new column is written from then on.
 */
static void test_migrates_version_1(void **state)
{
    static const char *const v1 =
        "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
        "CREATE TABLE points(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);"
        "CREATE TABLE qualities(code INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);"
        "CREATE TABLE readings(point INTEGER NOT NULL REFERENCES points(id),"
        " t_ms INTEGER NOT NULL, value REAL, quality INTEGER NOT NULL, raw INTEGER);"
        "CREATE INDEX readings_point_t ON readings(point, t_ms);"
        "CREATE TABLE events(seq INTEGER PRIMARY KEY, point INTEGER NOT NULL"
        " REFERENCES points(id), kind TEXT NOT NULL, limit_name TEXT NOT NULL,"
        " value REAL NOT NULL, setpoint REAL NOT NULL, deadband REAL NOT NULL,"
        " t_ms INTEGER NOT NULL, mono_ns INTEGER NOT NULL);"
        "CREATE TABLE outbox(id INTEGER PRIMARY KEY AUTOINCREMENT, topic TEXT NOT NULL,"
        " payload BLOB NOT NULL, qos INTEGER NOT NULL, retained INTEGER NOT NULL,"
        " created_ms INTEGER NOT NULL, seq INTEGER, delivered_ms INTEGER);"
        "CREATE INDEX outbox_pending ON outbox(id) WHERE delivered_ms IS NULL;"
        "CREATE VIEW event_log AS SELECT e.seq, p.name AS point, e.kind, e.limit_name,"
        " e.value, e.setpoint, e.deadband, e.t_ms FROM events e JOIN points p"
        " ON p.id = e.point;"
        "INSERT INTO points VALUES (1, 'gd-301.ch4');"
        "INSERT INTO events VALUES (41, 1, 'activated', 'high', 30, 25, 2, 1000, 5);"
        "PRAGMA user_version = 1;";
    struct fixture *f = *state;
    struct msg_event ev = {.seq = 42,
                           .point = 0,
                           .kind = MSG_EVENT_CLEARED,
                           .value = 20,
                           .setpoint = 25,
                           .deadband = 2,
                           .utc_ms = 2000,
                           .flags = MSG_F_TEST};
    struct store *st;
    sqlite3 *db = NULL;
    uint64_t seq = 0;

    assert_int_equal(
        sqlite3_open_v2(f->db, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL),
        SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, v1, NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_close(db), SQLITE_OK);

    st = open_ok(f->db, f->cfg);
    assert_int_equal(store_last_seq(st, &seq), 0);
    assert_int_equal(seq, 41); /* numbering continues across the upgrade */
    assert_int_equal(store_begin(st, true), 0);
    assert_int_equal(store_add_event(st, &ev, "t/alarm/x", "{}", 2, 1), 0);
    assert_int_equal(store_commit(st), 0);
    close_st(st);
    assert_query(f->db, "PRAGMA user_version", "3");
    assert_query(f->db, "SELECT seq, point, kind, test FROM event_log ORDER BY seq",
                 "41|gd-301.ch4|activated|0;42|gd-301.ch4|cleared|1");
    /* Version 3: the old event keeps its numbers; quality defaults to good. */
    assert_query(f->db,
                 "SELECT value, setpoint, deadband, quality FROM event_log "
                 "WHERE seq = 41",
                 "30.0|25.0|2.0|good");
}

static void test_newer_schema_refused(void **state)
{
    struct fixture *f = *state;
    struct store *st = (struct store *)(uintptr_t)1;
    sqlite3 *db = NULL;

    assert_int_equal(
        sqlite3_open_v2(f->db, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL),
        SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "CREATE TABLE future(x); PRAGMA user_version = 99",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_close(db), SQLITE_OK);

    assert_int_equal(store_open(f->db, f->cfg, &st), -EPROTO);
    assert_null(st);
    assert_query(f->db, "PRAGMA user_version", "99");
    assert_query(f->db, "SELECT name FROM sqlite_master", "future");

    /* Refusing is stable: a second attempt says the same. */
    st = (struct store *)(uintptr_t)1;
    assert_int_equal(store_open(f->db, f->cfg, &st), -EPROTO);
    assert_null(st);
}

/*
 * "Refusing to touch it" must include the journal mode: a newer parkguard's file in
 * rollback-journal mode must stay in that mode. Exposes a bug in store.c store_open():
 * it runs PRAGMA journal_mode=WAL, which rewrites the file header, before migrate()
 * reads user_version and refuses.
 */
static void test_newer_schema_journal_untouched(void **state)
{
    struct fixture *f = *state;
    struct store *st = (struct store *)(uintptr_t)1;
    sqlite3 *db = NULL;

    assert_int_equal(
        sqlite3_open_v2(f->db, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL),
        SQLITE_OK);
    assert_int_equal(sqlite3_exec(db,
                                  "PRAGMA journal_mode = DELETE; CREATE TABLE future(x);"
                                  " PRAGMA user_version = 99",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_close(db), SQLITE_OK);
    assert_query(f->db, "PRAGMA journal_mode", "delete");

    assert_int_equal(store_open(f->db, f->cfg, &st), -EPROTO);
    assert_null(st);
    assert_query(f->db, "PRAGMA journal_mode", "delete");
}

/* ---- events, outbox, sequence ----------------------------------------------------- */

static void test_last_seq(void **state)
{
    struct fixture *f = *state;
    struct store *st = open_ok(f->db, f->cfg);

    assert_int_equal(last_seq(st), 0);
    assert_int_equal(store_begin(st, true), 0);
    assert_int_equal(add_event(st, 1, 0, MSG_EVENT_ACTIVATED, 30.0), 0);
    assert_int_equal(add_event(st, 2, 0, MSG_EVENT_CLEARED, 20.0), 0);
    /* Inside the transaction the writer sees its own rows. */
    assert_int_equal(last_seq(st), 2);
    assert_int_equal(store_commit(st), 0);
    assert_int_equal(last_seq(st), 2);

    /* Gaps are allowed; the maximum counts, not the row count. */
    commit_event(st, 7, 1);
    assert_int_equal(last_seq(st), 7);
    close_st(st);

    st = open_ok(f->db, f->cfg);
    assert_int_equal(last_seq(st), 7);
    close_st(st);
}

/* Seq values past 2^32 and up to INT64_MAX are stored and read back exactly. */
static void test_last_seq_large(void **state)
{
    struct fixture *f = *state;
    struct store *st = open_ok(f->db, f->cfg);

    commit_event(st, UINT64_C(4294967296), 0);
    assert_int_equal(last_seq(st), UINT64_C(4294967296));
    commit_event(st, (uint64_t)INT64_MAX, 0);
    close_st(st);
    st = open_ok(f->db, f->cfg);
    assert_true(last_seq(st) == (uint64_t)INT64_MAX);
    close_st(st);
}

static void test_event_rows(void **state)
{
    struct fixture *f = *state;
    struct store *st = open_ok(f->db, f->cfg);
    struct msg_event ev = event(5, 1, MSG_EVENT_ACTIVATED, 27.3);

    ev.setpoint = 10.0;
    ev.deadband = 1.5;
    ev.utc_ms = INT64_C(1795862302460);
    ev.mono_ns = INT64_C(987654321012);
    assert_int_equal(store_begin(st, true), 0);
    assert_int_equal(store_add_event(st, &ev, "t/alarm/gd-302.h2s", "{}", 2, 1), 0);
    assert_int_equal(add_event(st, 6, 1, MSG_EVENT_CLEARED, 8.0), 0);
    assert_int_equal(store_commit(st), 0);
    close_st(st);

    assert_query(f->db,
                 "SELECT seq, point, kind, limit_name, value, setpoint, deadband, t_ms, "
                 "mono_ns FROM events ORDER BY seq",
                 "5|2|activated|high|27.3|10.0|1.5|1795862302460|987654321012;"
                 "6|2|cleared|high|8.0|25.0|2.0|1795862302006|5000000006");
    assert_query(f->db,
                 "SELECT seq, point, kind, limit_name, value, setpoint, deadband, t_ms "
                 "FROM event_log ORDER BY seq",
                 "5|gd-302.h2s|activated|high|27.3|10.0|1.5|1795862302460;"
                 "6|gd-302.h2s|cleared|high|8.0|25.0|2.0|1795862302006");
    /* The outbox row carries the event's seq and time, undelivered. */
    assert_query(f->db,
                 "SELECT topic, CAST(payload AS TEXT), qos, retained, created_ms, seq, "
                 "delivered_ms FROM outbox ORDER BY id",
                 "t/alarm/gd-302.h2s|{}|1|0|1795862302460|5|NULL;"
                 "parkguard/s/gw/alarm/p6|{\"seq\":6}|1|0|1795862302006|6|NULL");
    assert_query(f->db, "SELECT typeof(payload) FROM outbox LIMIT 1", "blob");
}

static void test_outbox_order_cursor_delivery(void **state)
{
    struct fixture *f = *state;
    struct store *st = open_ok(f->db, f->cfg);
    int64_t id1, id2, id3;

    assert_int_equal(store_begin(st, true), 0);
    for (uint64_t seq = 1; seq <= 3; seq++)
        assert_int_equal(
            add_event(st, seq, (uint32_t)(seq - 1), MSG_EVENT_ACTIVATED, 30.0), 0);
    assert_int_equal(store_commit(st), 0);

    /* Id order, and the cursor skips everything up to and including after_id. */
    id1 = expect_outbox(st, 0, 1);
    id2 = expect_outbox(st, id1, 2);
    id3 = expect_outbox(st, id2, 3);
    assert_true(id1 < id2 && id2 < id3);
    expect_outbox_empty(st, id3);
    assert_int_equal(expect_outbox(st, id1 - 1, 1), id1); /* rereading is harmless */
    assert_int_equal(expect_outbox(st, 0, 1), id1);       /* nothing consumed yet */

    /* A delivered row disappears from the outbox; the others stay. */
    assert_int_equal(store_begin(st, true), 0);
    assert_int_equal(store_mark_delivered(st, id2, INT64_C(1795862303000)), 0);
    assert_int_equal(store_commit(st), 0);
    assert_int_equal(expect_outbox(st, 0, 1), id1);
    assert_int_equal(expect_outbox(st, id1, 3), id3);

    assert_int_equal(store_begin(st, true), 0);
    assert_int_equal(store_mark_delivered(st, id1, INT64_C(1795862303001)), 0);
    /* Marking twice keeps the first delivery time. */
    assert_int_equal(store_mark_delivered(st, id2, INT64_C(1795862309999)), 0);
    assert_int_equal(store_commit(st), 0);
    assert_int_equal(expect_outbox(st, 0, 3), id3);
    close_st(st);

    /* Everything survives close and reopen. */
    st = open_ok(f->db, f->cfg);
    assert_int_equal(expect_outbox(st, 0, 3), id3);
    expect_outbox_empty(st, id3);
    assert_int_equal(last_seq(st), 3);
    close_st(st);
    assert_query(f->db, "SELECT seq, delivered_ms FROM outbox ORDER BY id",
                 "1|1795862303001;2|1795862303000;3|NULL");
}

/* Payload bytes are a blob: embedded NULs and the full MSG_PAYLOAD_LEN survive. */
static void test_outbox_binary_payload(void **state)
{
    struct fixture *f = *state;
    struct store *st = open_ok(f->db, f->cfg);
    struct msg_event ev = event(1, 0, MSG_EVENT_ACTIVATED, 30.0);
    char payload[MSG_PAYLOAD_LEN];
    char topic[MSG_TOPIC_LEN];
    struct msg_outbox m;

    for (size_t i = 0; i < sizeof(payload); i++)
        payload[i] = (char)(i * 7);
    /* The longest topic a msg_outbox holds. */
    memset(topic, 't', sizeof(topic) - 1);
    topic[sizeof(topic) - 1] = '\0';
    assert_int_equal(store_begin(st, true), 0);
    assert_int_equal(store_add_event(st, &ev, topic, payload, sizeof(payload), 0), 0);
    ev.seq = 2;
    assert_int_equal(store_add_event(st, &ev, "empty", "", 0, 2), 0);
    assert_int_equal(store_commit(st), 0);

    assert_int_equal(store_outbox_next(st, 0, &m), 1);
    assert_int_equal(m.payload_len, MSG_PAYLOAD_LEN);
    assert_memory_equal(m.payload, payload, sizeof(payload));
    assert_string_equal(m.topic, topic);
    assert_int_equal(m.qos, 0);
    assert_int_equal(store_outbox_next(st, m.id, &m), 1);
    assert_int_equal(m.payload_len, 0);
    assert_string_equal(m.topic, "empty");
    assert_int_equal(m.qos, 2);
    close_st(st);
}

/*
 * An instrument fault on a point that never had a good value: no value, no setpoint, the
 * bad quality recorded. Before version 3 this row could not be stored at all.
 */
static void test_fault_event_without_value(void **state)
{
    struct fixture *f = *state;
    struct store *st = open_ok(f->db, f->cfg);
    struct msg_event ev = event(7, 1, MSG_EVENT_ACTIVATED, NAN);

    ev.limit = MSG_LIMIT_FAULT;
    ev.quality = MSG_Q_COMM_LOSS;
    assert_int_equal(store_begin(st, true), 0);
    assert_int_equal(store_add_event(st, &ev, "t/alarm/gd-302.h2s", "{}", 2, 1), 0);
    assert_int_equal(store_commit(st), 0);
    close_st(st);
    assert_query(f->db,
                 "SELECT seq, point, kind, limit_name, value IS NULL, setpoint IS NULL, "
                 "quality FROM event_log",
                 "7|gd-302.h2s|activated|fault|1|1|comm-loss");
}

static void test_rollback(void **state)
{
    struct fixture *f = *state;
    struct store *st = open_ok(f->db, f->cfg);
    struct msg_sample s;
    int64_t id1;

    commit_event(st, 1, 0);
    id1 = expect_outbox(st, 0, 1);

    assert_int_equal(store_begin(st, true), 0);
    assert_int_equal(add_event(st, 2, 1, MSG_EVENT_ACTIVATED, 30.0), 0);
    memset(&s, 0, sizeof(s));
    s.quality = MSG_Q_GOOD;
    s.value = 1.0;
    assert_int_equal(store_add_reading(st, &s), 0);
    assert_int_equal(store_mark_delivered(st, id1, 1), 0);
    store_rollback(st);

    /* Nothing of the rolled-back transaction is visible. */
    assert_int_equal(last_seq(st), 1);
    assert_int_equal(expect_outbox(st, 0, 1), id1);
    expect_outbox_empty(st, id1);
    /* A rollback outside a transaction is harmless. */
    store_rollback(st);
    /* The store is usable, and seq 2 is free to use again. */
    commit_event(st, 2, 1);
    assert_int_equal(last_seq(st), 2);
    close_st(st);

    assert_query(f->db, "SELECT count(*) FROM readings", "0");
    assert_query(f->db, "SELECT seq, delivered_ms FROM outbox ORDER BY id",
                 "1|NULL;2|NULL");
}

static void test_duplicate_seq(void **state)
{
    struct fixture *f = *state;
    struct store *st = open_ok(f->db, f->cfg);

    /* Within one transaction. */
    assert_int_equal(store_begin(st, true), 0);
    assert_int_equal(add_event(st, 10, 0, MSG_EVENT_ACTIVATED, 30.0), 0);
    assert_int_equal(add_event(st, 10, 1, MSG_EVENT_CLEARED, 20.0), -EEXIST);
    store_rollback(st);
    assert_int_equal(last_seq(st), 0);
    expect_outbox_empty(st, 0);

    /* The store is usable afterwards. */
    commit_event(st, 10, 0);
    assert_int_equal(last_seq(st), 10);

    /* Against a committed event: the failed event must not leave an outbox row behind. */
    assert_int_equal(store_begin(st, true), 0);
    assert_int_equal(add_event(st, 10, 2, MSG_EVENT_ACTIVATED, 30.0), -EEXIST);
    assert_int_equal(add_event(st, 11, 2, MSG_EVENT_ACTIVATED, 30.0), 0);
    assert_int_equal(store_commit(st), 0);
    close_st(st);

    assert_query(f->db, "SELECT seq FROM outbox ORDER BY id", "10;11");
    assert_query(f->db, "SELECT seq, point FROM event_log ORDER BY seq",
                 "10|gd-301.ch4;11|pt-b12.temp");
}

static void test_bad_point_index(void **state)
{
    struct fixture *f = *state;
    struct store *st = open_ok(f->db, f->cfg);
    struct msg_sample s;

    memset(&s, 0, sizeof(s));
    s.point = 3; /* one past the last point */
    assert_int_equal(store_begin(st, false), 0);
    assert_int_equal(store_add_reading(st, &s), -EINVAL);
    assert_int_equal(add_event(st, 1, 3, MSG_EVENT_ACTIVATED, 30.0), -EINVAL);
    assert_int_equal(add_event(st, 2, UINT32_MAX, MSG_EVENT_ACTIVATED, 30.0), -EINVAL);
    assert_int_equal(store_commit(st), 0);
    assert_int_equal(last_seq(st), 0);
    close_st(st);
}

static void test_transaction_misuse(void **state)
{
    struct fixture *f = *state;
    struct store *st = open_ok(f->db, f->cfg);

    /* COMMIT with no transaction, and BEGIN inside one, are errors, not silent. */
    assert_true(store_commit(st) < 0);
    assert_int_equal(store_begin(st, true), 0);
    assert_true(store_begin(st, true) < 0);
    /* The first transaction is still open and still works. */
    assert_int_equal(add_event(st, 1, 0, MSG_EVENT_ACTIVATED, 30.0), 0);
    assert_int_equal(store_commit(st), 0);
    assert_int_equal(last_seq(st), 1);
    close_st(st);
}

/* ---- readings --------------------------------------------------------------------- */

static void test_readings_quality(void **state)
{
    struct fixture *f = *state;
    struct store *st = open_ok(f->db, f->cfg);
    struct msg_sample s;

    memset(&s, 0, sizeof(s));
    /* Readings-only transactions are the non-durable kind; switch back and forth. */
    assert_int_equal(store_begin(st, false), 0);
    s.point = 0;
    s.quality = MSG_Q_GOOD;
    s.raw = 273;
    s.value = 27.3;
    s.utc_ms = INT64_C(1795862302460);
    assert_int_equal(store_add_reading(st, &s), 0);
    s.point = 2;
    s.quality = MSG_Q_COMM_LOSS;
    s.raw = 0;
    s.value = 99.0; /* must not be stored: a bad sample has no value */
    s.utc_ms++;
    assert_int_equal(store_add_reading(st, &s), 0);
    assert_int_equal(store_commit(st), 0);

    assert_int_equal(store_begin(st, true), 0);
    s.point = 1;
    s.quality = MSG_Q_EXCEPTION;
    s.exc_code = 2;
    s.raw = 0xffff;
    s.value = -1.0;
    s.utc_ms++;
    assert_int_equal(store_add_reading(st, &s), 0);
    assert_int_equal(store_commit(st), 0);

    assert_int_equal(store_begin(st, false), 0);
    s.point = 1;
    s.quality = MSG_Q_GOOD;
    s.raw = 0;
    s.value = 0.0; /* a good zero is a value, not NULL */
    s.utc_ms++;
    assert_int_equal(store_add_reading(st, &s), 0);
    s.quality = MSG_Q_TIMEOUT;
    s.utc_ms++;
    assert_int_equal(store_add_reading(st, &s), 0);
    s.quality = MSG_Q_BAD_FRAME;
    s.utc_ms++;
    assert_int_equal(store_add_reading(st, &s), 0);
    assert_int_equal(store_commit(st), 0);
    close_st(st);

    assert_query(f->db, "SELECT value, quality FROM readings ORDER BY rowid",
                 "27.3|0;NULL|1;NULL|4;0.0|0;NULL|2;NULL|3");
    assert_query(f->db,
                 "SELECT p.name, r.t_ms, r.raw, q.name FROM readings r"
                 " JOIN points p ON p.id = r.point JOIN qualities q ON q.code = r.quality"
                 " ORDER BY r.rowid",
                 "gd-301.ch4|1795862302460|273|good;"
                 "pt-b12.temp|1795862302461|0|comm-loss;"
                 "gd-302.h2s|1795862302462|65535|modbus-exception;"
                 "gd-302.h2s|1795862302463|0|good;"
                 "gd-302.h2s|1795862302464|0|timeout;"
                 "gd-302.h2s|1795862302465|0|bad-frame");
}

/* ---- full disk -------------------------------------------------------------------- */

/*
 * A VFS that forwards to the default one and, while full_armed is set, refuses every
 * write with SQLITE_FULL. Each open file is our header followed by the real VFS's file.
 */
static sqlite3_vfs *real_vfs;
static int full_armed;
static unsigned full_refused;

struct full_file {
    sqlite3_file base;
    sqlite3_file *real;
};

#define REAL(f) (((struct full_file *)(f))->real)

static int ff_close(sqlite3_file *f)
{
    return REAL(f)->pMethods->xClose(REAL(f));
}

static int ff_read(sqlite3_file *f, void *buf, int n, sqlite3_int64 off)
{
    return REAL(f)->pMethods->xRead(REAL(f), buf, n, off);
}

static int ff_write(sqlite3_file *f, const void *buf, int n, sqlite3_int64 off)
{
    if (full_armed) {
        full_refused++;
        return SQLITE_FULL;
    }
    return REAL(f)->pMethods->xWrite(REAL(f), buf, n, off);
}

static int ff_truncate(sqlite3_file *f, sqlite3_int64 size)
{
    return REAL(f)->pMethods->xTruncate(REAL(f), size);
}

static int ff_sync(sqlite3_file *f, int flags)
{
    return REAL(f)->pMethods->xSync(REAL(f), flags);
}

static int ff_file_size(sqlite3_file *f, sqlite3_int64 *size)
{
    return REAL(f)->pMethods->xFileSize(REAL(f), size);
}

static int ff_lock(sqlite3_file *f, int lock)
{
    return REAL(f)->pMethods->xLock(REAL(f), lock);
}

static int ff_unlock(sqlite3_file *f, int lock)
{
    return REAL(f)->pMethods->xUnlock(REAL(f), lock);
}

static int ff_check_reserved(sqlite3_file *f, int *out)
{
    return REAL(f)->pMethods->xCheckReservedLock(REAL(f), out);
}

static int ff_file_control(sqlite3_file *f, int op, void *arg)
{
    return REAL(f)->pMethods->xFileControl(REAL(f), op, arg);
}

static int ff_sector_size(sqlite3_file *f)
{
    return REAL(f)->pMethods->xSectorSize(REAL(f));
}

static int ff_device_chars(sqlite3_file *f)
{
    return REAL(f)->pMethods->xDeviceCharacteristics(REAL(f));
}

static int ff_shm_map(sqlite3_file *f, int pg, int pgsz, int extend, void volatile **pp)
{
    return REAL(f)->pMethods->xShmMap(REAL(f), pg, pgsz, extend, pp);
}

static int ff_shm_lock(sqlite3_file *f, int offset, int n, int flags)
{
    return REAL(f)->pMethods->xShmLock(REAL(f), offset, n, flags);
}

static void ff_shm_barrier(sqlite3_file *f)
{
    REAL(f)->pMethods->xShmBarrier(REAL(f));
}

static int ff_shm_unmap(sqlite3_file *f, int del)
{
    return REAL(f)->pMethods->xShmUnmap(REAL(f), del);
}

static int ff_fetch(sqlite3_file *f, sqlite3_int64 off, int n, void **pp)
{
    return REAL(f)->pMethods->xFetch(REAL(f), off, n, pp);
}

static int ff_unfetch(sqlite3_file *f, sqlite3_int64 off, void *p)
{
    return REAL(f)->pMethods->xUnfetch(REAL(f), off, p);
}

static const sqlite3_io_methods ff_methods = {
    .iVersion = 3,
    .xClose = ff_close,
    .xRead = ff_read,
    .xWrite = ff_write,
    .xTruncate = ff_truncate,
    .xSync = ff_sync,
    .xFileSize = ff_file_size,
    .xLock = ff_lock,
    .xUnlock = ff_unlock,
    .xCheckReservedLock = ff_check_reserved,
    .xFileControl = ff_file_control,
    .xSectorSize = ff_sector_size,
    .xDeviceCharacteristics = ff_device_chars,
    .xShmMap = ff_shm_map,
    .xShmLock = ff_shm_lock,
    .xShmBarrier = ff_shm_barrier,
    .xShmUnmap = ff_shm_unmap,
    .xFetch = ff_fetch,
    .xUnfetch = ff_unfetch,
};

static int fv_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *f, int flags,
                   int *out_flags)
{
    struct full_file *ff = (struct full_file *)f;
    int rc;

    (void)vfs;
    ff->real = (sqlite3_file *)(ff + 1);
    rc = real_vfs->xOpen(real_vfs, name, ff->real, flags, out_flags);
    /* SQLite calls xClose exactly when pMethods is set, so mirror the real file's. */
    ff->base.pMethods = ff->real->pMethods != NULL ? &ff_methods : NULL;
    return rc;
}

static int fv_delete(sqlite3_vfs *vfs, const char *name, int sync_dir)
{
    (void)vfs;
    return real_vfs->xDelete(real_vfs, name, sync_dir);
}

static int fv_access(sqlite3_vfs *vfs, const char *name, int flags, int *out)
{
    (void)vfs;
    return real_vfs->xAccess(real_vfs, name, flags, out);
}

static int fv_full_pathname(sqlite3_vfs *vfs, const char *name, int n, char *out)
{
    (void)vfs;
    return real_vfs->xFullPathname(real_vfs, name, n, out);
}

static int fv_randomness(sqlite3_vfs *vfs, int n, char *out)
{
    (void)vfs;
    return real_vfs->xRandomness(real_vfs, n, out);
}

static int fv_sleep(sqlite3_vfs *vfs, int us)
{
    (void)vfs;
    return real_vfs->xSleep(real_vfs, us);
}

static int fv_current_time(sqlite3_vfs *vfs, double *out)
{
    (void)vfs;
    return real_vfs->xCurrentTime(real_vfs, out);
}

static int fv_last_error(sqlite3_vfs *vfs, int n, char *out)
{
    (void)vfs;
    return real_vfs->xGetLastError(real_vfs, n, out);
}

static int fv_current_time64(sqlite3_vfs *vfs, sqlite3_int64 *out)
{
    (void)vfs;
    return real_vfs->xCurrentTimeInt64(real_vfs, out);
}

static sqlite3_vfs full_vfs = {
    .iVersion = 2,
    .zName = "pgtest-full",
    .xOpen = fv_open,
    .xDelete = fv_delete,
    .xAccess = fv_access,
    .xFullPathname = fv_full_pathname,
    .xRandomness = fv_randomness,
    .xSleep = fv_sleep,
    .xCurrentTime = fv_current_time,
    .xGetLastError = fv_last_error,
    .xCurrentTimeInt64 = fv_current_time64,
};

static void full_vfs_install(void)
{
    /* By name, not "the default": after a failed test the default may be the shim. */
    real_vfs = sqlite3_vfs_find("unix");
    assert_non_null(real_vfs);
    assert_true(real_vfs->iVersion >= 2);
    full_vfs.szOsFile = (int)sizeof(struct full_file) + real_vfs->szOsFile;
    full_vfs.mxPathname = real_vfs->mxPathname;
    full_armed = 0;
    full_refused = 0;
    assert_int_equal(sqlite3_vfs_register(&full_vfs, 1), SQLITE_OK);
    assert_ptr_equal(sqlite3_vfs_find(NULL), &full_vfs);
}

static void full_vfs_remove(void)
{
    full_armed = 0;
    assert_int_equal(sqlite3_vfs_unregister(&full_vfs), SQLITE_OK);
    assert_ptr_equal(sqlite3_vfs_find(NULL), real_vfs);
}

/* For teardown: unregistering a VFS that is not registered is a no-op in SQLite. */
static void full_vfs_cleanup(void)
{
    full_armed = 0;
    (void)sqlite3_vfs_unregister(&full_vfs);
}

static void test_disk_full_on_commit(void **state)
{
    struct fixture *f = *state;
    struct store *st;
    struct msg_sample s;
    int64_t id1;

    full_vfs_install();
    st = open_ok(f->db, f->cfg);
    commit_event(st, 1, 0);
    id1 = expect_outbox(st, 0, 1);

    /* The disk fills between the writes and the commit: the commit reports ENOSPC. */
    assert_int_equal(store_begin(st, true), 0);
    assert_int_equal(add_event(st, 2, 1, MSG_EVENT_ACTIVATED, 30.0), 0);
    memset(&s, 0, sizeof(s));
    s.quality = MSG_Q_GOOD;
    assert_int_equal(store_add_reading(st, &s), 0);
    full_armed = 1;
    assert_int_equal(store_commit(st), -ENOSPC);
    assert_true(full_refused > 0); /* the shim really was in the path */
    store_rollback(st);

    /* Still full: the next transaction fails the same way, and nothing leaks through. */
    assert_int_equal(store_begin(st, true), 0);
    assert_int_equal(add_event(st, 2, 1, MSG_EVENT_ACTIVATED, 30.0), 0);
    assert_int_equal(store_commit(st), -ENOSPC);
    store_rollback(st);
    assert_int_equal(last_seq(st), 1);
    assert_int_equal(expect_outbox(st, 0, 1), id1);
    expect_outbox_empty(st, id1);

    /* Space comes back: the same store carries on, and seq 2 goes in. */
    full_armed = 0;
    commit_event(st, 2, 1);
    assert_int_equal(last_seq(st), 2);
    (void)expect_outbox(st, id1, 2);
    close_st(st);
    full_vfs_remove();

    assert_query(f->db, "PRAGMA integrity_check", "ok");
    assert_query(f->db, "SELECT seq FROM events ORDER BY seq", "1;2");
    assert_query(f->db, "SELECT seq FROM outbox ORDER BY id", "1;2");
    assert_query(f->db, "SELECT count(*) FROM readings", "0");
}

/* A disk that is full when the file is created: open fails cleanly, and later succeeds.
 */
static void test_disk_full_on_open(void **state)
{
    struct fixture *f = *state;
    struct store *st = (struct store *)(uintptr_t)1;

    full_vfs_install();
    full_armed = 1;
    assert_int_equal(store_open(f->db, f->cfg, &st), -ENOSPC);
    assert_null(st);
    assert_true(full_refused > 0);
    full_armed = 0;
    st = open_ok(f->db, f->cfg);
    assert_int_equal(last_seq(st), 0);
    commit_event(st, 1, 0);
    close_st(st);
    full_vfs_remove();

    assert_query(f->db, "PRAGMA user_version", "3");
    assert_query(f->db, "SELECT count(*) FROM qualities", "11");
    assert_query(f->db, "SELECT id, name FROM points ORDER BY id",
                 "1|gd-301.ch4;2|gd-302.h2s;3|pt-b12.temp");
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_open_creates_schema),
        T(test_reopen_is_idempotent),
        T(test_reopen_with_changed_points),
        T(test_open_errors),
        T(test_migrates_version_1),
        T(test_fault_event_without_value),
        T(test_newer_schema_refused),
        T(test_newer_schema_journal_untouched),
        T(test_last_seq),
        T(test_last_seq_large),
        T(test_event_rows),
        T(test_outbox_order_cursor_delivery),
        T(test_outbox_binary_payload),
        T(test_rollback),
        T(test_duplicate_seq),
        T(test_bad_point_index),
        T(test_transaction_misuse),
        T(test_readings_quality),
        T(test_disk_full_on_commit),
        T(test_disk_full_on_open),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
