/*
 * Unit tests for store, on real SQLite files in a fresh mkdtemp() directory per test:
 * schema creation and idempotent reopen, migrations from every earlier schema version
 * (files built by hand with the DDL each release shipped), the event + outbox
 * transaction, the saved alarm states (alarms table, store_load_alarms()), the audit
 * trail, events about areas and about the whole gateway, the outbox cursor and delivery
 * marks, rollback, readings with good and bad quality, the event_log view, duplicate
 * sequence numbers, a schema newer than the code, and a full disk.
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

#include "alarm.h"
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

/*
 * Two areas and three points, so that an area index and a point index are told apart:
 * index 2 is a point but not an area, and point 2 lives in the second area.
 */
static const char config_areas[] =
    "{\"gateway\": {\"id\": \"demo-gw-01\", \"site\": \"vanadium-titanium\"},\n"
    "\"store\": {\"path\": \"unused.db\"},\n"
    "\"mqtt\": {\"uri\": \"tcp://127.0.0.1:1883\"},\n"
    "\"areas\": [{\"id\": \"north\"}, {\"id\": \"south\"}],\n"
    "\"buses\": [{\"id\": \"b\", \"type\": \"tcp\", \"host\": \"h\", \"port\": 502}],\n"
    "\"devices\": [\n"
    "{\"id\": \"gd-301\", \"bus\": \"b\", \"unit_id\": 1, \"poll_ms\": 100,\n"
    " \"points\": [{\"id\": \"gd-301.ch4\", \"area\": \"north\", \"address\": 0}]},\n"
    "{\"id\": \"gd-302\", \"bus\": \"b\", \"unit_id\": 2, \"poll_ms\": 100,\n"
    " \"points\": [{\"id\": \"gd-302.h2s\", \"area\": \"north\", \"address\": 0}]},\n"
    "{\"id\": \"gd-401\", \"bus\": \"b\", \"unit_id\": 3, \"poll_ms\": 100,\n"
    " \"points\": [{\"id\": \"gd-401.nh3\", \"area\": \"south\", \"address\": 0}]}]}\n";

/*
 * The schema as each release shipped it, for files built by hand: a file of version N is
 * SCHEMA_V1 followed by the steps up to N. Copied here on purpose, not shared with
 * store.c: a later edit there must not silently change what an old file looks like.
 */
#define SCHEMA_V1                                                                        \
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"                      \
    "CREATE TABLE points(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);"            \
    "CREATE TABLE qualities(code INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);"       \
    "CREATE TABLE readings(point INTEGER NOT NULL REFERENCES points(id),"                \
    " t_ms INTEGER NOT NULL, value REAL, quality INTEGER NOT NULL, raw INTEGER);"        \
    "CREATE INDEX readings_point_t ON readings(point, t_ms);"                            \
    "CREATE TABLE events(seq INTEGER PRIMARY KEY, point INTEGER NOT NULL"                \
    " REFERENCES points(id), kind TEXT NOT NULL, limit_name TEXT NOT NULL,"              \
    " value REAL NOT NULL, setpoint REAL NOT NULL, deadband REAL NOT NULL,"              \
    " t_ms INTEGER NOT NULL, mono_ns INTEGER NOT NULL);"                                 \
    "CREATE TABLE outbox(id INTEGER PRIMARY KEY AUTOINCREMENT, topic TEXT NOT NULL,"     \
    " payload BLOB NOT NULL, qos INTEGER NOT NULL, retained INTEGER NOT NULL,"           \
    " created_ms INTEGER NOT NULL, seq INTEGER, delivered_ms INTEGER);"                  \
    "CREATE INDEX outbox_pending ON outbox(id) WHERE delivered_ms IS NULL;"              \
    "CREATE VIEW event_log AS SELECT e.seq, p.name AS point, e.kind, e.limit_name,"      \
    " e.value, e.setpoint, e.deadband, e.t_ms FROM events e JOIN points p"               \
    " ON p.id = e.point;"

#define SCHEMA_V2_STEP                                                                   \
    "ALTER TABLE events ADD COLUMN test INTEGER NOT NULL DEFAULT 0;"                     \
    "DROP VIEW event_log;"                                                               \
    "CREATE VIEW event_log AS SELECT e.seq, p.name AS point, e.kind, e.limit_name,"      \
    " e.value, e.setpoint, e.deadband, e.t_ms, e.test FROM events e JOIN points p"       \
    " ON p.id = e.point;"

#define SCHEMA_V3_STEP                                                                   \
    "CREATE TABLE events_v3(seq INTEGER PRIMARY KEY, point INTEGER NOT NULL"             \
    " REFERENCES points(id), kind TEXT NOT NULL, limit_name TEXT NOT NULL, value REAL,"  \
    " setpoint REAL, deadband REAL, t_ms INTEGER NOT NULL, mono_ns INTEGER NOT NULL,"    \
    " test INTEGER NOT NULL DEFAULT 0, quality INTEGER NOT NULL DEFAULT 0);"             \
    "INSERT INTO events_v3(seq, point, kind, limit_name, value, setpoint, deadband, "    \
    "t_ms,"                                                                              \
    " mono_ns, test) SELECT seq, point, kind, limit_name, value, setpoint, deadband, "   \
    "t_ms,"                                                                              \
    " mono_ns, test FROM events;"                                                        \
    "DROP VIEW event_log;"                                                               \
    "DROP TABLE events;"                                                                 \
    "ALTER TABLE events_v3 RENAME TO events;"                                            \
    "CREATE VIEW event_log AS SELECT e.seq, p.name AS point, e.kind, e.limit_name,"      \
    " e.value, e.setpoint, e.deadband, e.t_ms, e.test, q.name AS quality FROM events e"  \
    " JOIN points p ON p.id = e.point LEFT JOIN qualities q ON q.code = e.quality;"

/* The columns of the version 4 journal and its view, in order. */
#define EVENTS_V4_COLUMNS                                                                \
    "seq,point,target,type,event,limit_name,from_state,to_state,priority,condition,"     \
    "first_out,value,setpoint,deadband,t_ms,mono_ns,test,quality,user,reason,source,"    \
    "status"
#define EVENT_LOG_V4_COLUMNS                                                             \
    "seq,target,type,event,limit_name,from_state,to_state,priority,condition,first_out," \
    "value,setpoint,t_ms,test,quality,user,reason,status"

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

/*
 * An alarm event of a point's H limit, as the RT loop journals the two process steps:
 * ALARM_EV_ALM takes the alarm from normal to unack with the condition true and
 * annunciates; ALARM_EV_RTN takes it from acked back to normal with the condition false.
 */
static struct msg_event event(uint64_t seq, uint32_t point, uint8_t what, double value)
{
    struct msg_event ev;

    memset(&ev, 0, sizeof(ev));
    ev.seq = seq;
    ev.point = point;
    ev.type = MSG_EV_ALARM;
    ev.event = what;
    ev.limit = MSG_LIMIT_HIGH;
    ev.priority = ALARM_P3;
    if (what == ALARM_EV_ALM) {
        ev.from = ALARM_NORMAL;
        ev.to = ALARM_UNACK;
        ev.flags = MSG_F_CONDITION | MSG_F_ANNUNCIATE;
    } else {
        ev.from = ALARM_ACKED;
        ev.to = ALARM_NORMAL;
    }
    ev.value = value;
    ev.setpoint = 25.0;
    ev.deadband = 2.0;
    /* Derived from seq so rows are told apart; % keeps huge seqs from overflowing. */
    ev.mono_ns = INT64_C(5000000000) + (int64_t)(seq % 1000);
    ev.utc_ms = INT64_C(1795862302000) + (int64_t)(seq % 1000);
    ev.since_utc_ms = ev.utc_ms;
    ev.active_utc_ms = what == ALARM_EV_ALM ? ev.utc_ms : 0;
    return ev;
}

/* An operator command's event: an accepted step of an alarm, or a refusal. */
static struct msg_event command_event(uint64_t seq, uint32_t point, uint8_t type,
                                      uint8_t what, uint8_t from, uint8_t to,
                                      const char *user, const char *reason)
{
    struct msg_event ev = event(seq, point, ALARM_EV_ALM, 31.5);

    ev.type = type;
    ev.event = what;
    ev.from = from;
    ev.to = to;
    ev.flags = MSG_F_CONDITION;
    ev.req = 900 + seq;
    ev.source = MSG_SRC_MQTT;
    (void)snprintf(ev.user, sizeof(ev.user), "%s", user);
    (void)snprintf(ev.reason, sizeof(ev.reason), "%s", reason);
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

static int add_ev(struct store *st, const struct msg_event *ev)
{
    char topic[MSG_TOPIC_LEN], payload[64];

    message_for(ev->seq, topic, sizeof(topic), payload, sizeof(payload));
    return store_add_event(st, ev, topic, payload, strlen(payload), 1);
}

static int add_event(struct store *st, uint64_t seq, uint32_t point, uint8_t what,
                     double value)
{
    struct msg_event ev = event(seq, point, what, value);

    return add_ev(st, &ev);
}

/* One durable transaction holding one event. */
static void commit_event(struct store *st, uint64_t seq, uint32_t point)
{
    assert_int_equal(store_begin(st, true), 0);
    assert_int_equal(add_event(st, seq, point, ALARM_EV_ALM, 30.0), 0);
    assert_int_equal(store_commit(st), 0);
}

/* One durable transaction holding ev, with the test's message or none. */
static void commit_ev(struct store *st, const struct msg_event *ev, bool with_message)
{
    assert_int_equal(store_begin(st, true), 0);
    if (with_message)
        assert_int_equal(add_ev(st, ev), 0);
    else
        assert_int_equal(store_add_event(st, ev, NULL, NULL, 0, 1), 0);
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

struct rows {
    char *buf;
    size_t cap;
    size_t len;
};

static int rows_cb(void *arg, int ncol, char **val, char **name)
{
    struct rows *r = arg;

    (void)name;
    for (int i = 0; i < ncol; i++) {
        const char *sep = i ? "|" : r->len != 0 ? ";" : "";
        int n = snprintf(r->buf + r->len, r->cap - r->len, "%s%s", sep,
                         val[i] != NULL ? val[i] : "NULL");

        if (n < 0 || (size_t)n >= r->cap - r->len)
            return 1; /* too long for the buffer: fail loudly, never compare a prefix */
        r->len += (size_t)n;
    }
    return 0;
}

/*
 * Run sql on the file through a connection of our own and return its rows as text:
 * columns joined by '|', rows by ';', SQL NULL as "NULL". out holds cap bytes; a result
 * that does not fit fails the test.
 */
static const char *query_n(const char *path, const char *sql, char *out, size_t cap)
{
    struct rows r = {out, cap, 0};
    sqlite3 *db = NULL;
    char *err = NULL;
    int rc;

    out[0] = '\0';
    rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL);
    if (rc != SQLITE_OK)
        fail_msg("open %s: %s", path, sqlite3_errstr(rc));
    rc = sqlite3_exec(db, sql, rows_cb, &r, &err);
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

static const char *query(const char *path, const char *sql, char *out)
{
    return query_n(path, sql, out, 4096);
}

#define assert_query(path, sql, want)                                                    \
    do {                                                                                 \
        char out_[4096];                                                                 \
        assert_string_equal(query(path, sql, out_), want);                               \
    } while (0)

/* Create a file from hand-written SQL, as an earlier release would have left it. */
static void make_file(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    char *err = NULL;
    int rc;

    assert_int_equal(
        sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL),
        SQLITE_OK);
    rc = sqlite3_exec(db, sql, NULL, NULL, &err);
    if (rc != SQLITE_OK) {
        char msg[256];

        (void)snprintf(msg, sizeof(msg), "%s", err != NULL ? err : sqlite3_errstr(rc));
        sqlite3_free(err);
        (void)sqlite3_close(db);
        fail_msg("building the file: %s", msg);
    }
    assert_int_equal(sqlite3_close(db), SQLITE_OK);
}

/*
 * Everything a file holds, schema and rows, as one string: two snapshots are equal
 * exactly when nothing was changed in between. out holds SNAPSHOT_LEN bytes.
 */
#define SNAPSHOT_LEN 65536
static const char *snapshot(const char *path, char *out)
{
    static const char sql[] =
        "PRAGMA user_version;"
        "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name;"
        "SELECT * FROM points ORDER BY id;"
        "SELECT * FROM qualities ORDER BY code;"
        "SELECT rowid, * FROM readings ORDER BY rowid;"
        "SELECT * FROM events ORDER BY seq;"
        "SELECT id, topic, hex(payload), qos, retained, created_ms, seq, delivered_ms"
        " FROM outbox ORDER BY id;"
        "SELECT * FROM alarms ORDER BY key;"
        "SELECT * FROM audit ORDER BY id;"
        "SELECT * FROM meta ORDER BY key;";

    return query_n(path, sql, out, SNAPSHOT_LEN);
}

/* ---- schema and open -------------------------------------------------------------- */

static void test_open_creates_schema(void **state)
{
    struct fixture *f = *state;
    struct store *st = open_ok(f->db, f->cfg);

    assert_int_equal(last_seq(st), 0);
    expect_outbox_empty(st, 0);
    close_st(st);

    assert_query(f->db, "PRAGMA user_version", "4");
    assert_int_equal(STORE_SCHEMA_VERSION, 4);
    assert_query(f->db, "PRAGMA journal_mode", "wal");
    assert_query(f->db,
                 "SELECT type, name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'"
                 " ORDER BY type, name",
                 "index|outbox_pending;index|readings_point_t;"
                 "table|alarms;table|audit;table|events;table|meta;table|outbox;"
                 "table|points;table|qualities;table|readings;view|event_log");
    assert_query(f->db, "SELECT group_concat(name, ',') FROM pragma_table_info('events')",
                 EVENTS_V4_COLUMNS);
    assert_query(f->db,
                 "SELECT group_concat(name, ',') FROM pragma_table_info('event_log')",
                 EVENT_LOG_V4_COLUMNS);
    /* Events about an area or the whole gateway have no point. */
    assert_query(
        f->db, "SELECT \"notnull\" FROM pragma_table_info('events') WHERE name = 'point'",
        "0");
    assert_query(f->db, "SELECT group_concat(name, ',') FROM pragma_table_info('alarms')",
                 "key,target,limit_name,area,state,shelve,priority,flags,seq,value,"
                 "setpoint,since_ms,active_ms,shelve_until_ms");
    assert_query(f->db, "SELECT group_concat(name, ',') FROM pragma_table_info('audit')",
                 "id,t_ms,user,source,action,target,limit_name,result,reason,seq");
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
    assert_query(f->db, "SELECT count(*) FROM alarms", "0");
    assert_query(f->db, "SELECT count(*) FROM audit", "0");
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
    assert_query(f->db, "PRAGMA user_version", "4");
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
    assert_query(f->db, "SELECT seq, point, target FROM events ORDER BY seq",
                 "1|3|pt-b12.temp;2|4|gd-303.co;3|3|pt-b12.temp");
    assert_query(f->db, "SELECT seq, target FROM event_log ORDER BY seq",
                 "1|pt-b12.temp;2|gd-303.co;3|pt-b12.temp");
    /* The saved state follows the point's id, not its config index. */
    assert_query(f->db, "SELECT key, seq FROM alarms ORDER BY key",
                 "gd-303.co/high|2;pt-b12.temp/high|3");
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
 * A file written by the first release (schema version 1, the exact DDL it shipped) with
 * an event in it: opening it migrates it to the current version, keeps the event as the
 * alarm step it was (activated: alm with the condition true), marks it as no test, and
 * the new columns are written from then on.
 */
static void test_migrates_version_1(void **state)
{
    static const char v1[] = SCHEMA_V1
        "INSERT INTO points VALUES (1, 'gd-301.ch4');"
        "INSERT INTO events VALUES (41, 1, 'activated', 'high', 30, 25, 2, 1000, 5);"
        "PRAGMA user_version = 1;";
    struct fixture *f = *state;
    struct msg_event ev = event(42, 0, ALARM_EV_RTN, 20);
    struct store *st;
    uint64_t seq = 0;

    ev.utc_ms = 2000;
    ev.mono_ns = 6;
    ev.flags = MSG_F_TEST;
    make_file(f->db, v1);

    st = open_ok(f->db, f->cfg);
    assert_int_equal(store_last_seq(st, &seq), 0);
    assert_int_equal(seq, 41); /* numbering continues across the upgrade */
    assert_int_equal(store_begin(st, true), 0);
    assert_int_equal(store_add_event(st, &ev, "t/alarm/x", "{}", 2, 1), 0);
    assert_int_equal(store_commit(st), 0);
    close_st(st);
    assert_query(f->db, "PRAGMA user_version", "4");
    assert_query(f->db,
                 "SELECT seq, target, type, event, limit_name, from_state, to_state,"
                 " condition, test FROM event_log ORDER BY seq",
                 "41|gd-301.ch4|alarm|alm|high|NULL|NULL|1|0;"
                 "42|gd-301.ch4|alarm|rtn|high|acked|normal|0|1");
    /* The old event keeps its point and numbers; quality defaults to good. */
    assert_query(
        f->db,
        "SELECT point, value, setpoint, deadband, t_ms, mono_ns, quality, priority,"
        " first_out, user, reason, source, status FROM events WHERE seq = 41",
        "1|30.0|25.0|2.0|1000|5|0|NULL|0|NULL|NULL|NULL|NULL");
    assert_query(f->db, "SELECT quality FROM event_log WHERE seq = 41", "good");
    /* The rtn to normal leaves no saved state behind, and nothing was audited. */
    assert_query(f->db, "SELECT count(*) FROM alarms", "0");
    assert_query(f->db, "SELECT count(*) FROM audit", "0");
    assert_query(f->db, "SELECT seq, topic FROM outbox", "42|t/alarm/x");
}

/*
 * A version 2 file (events carry the test flag): a proof-test event and an ordinary one,
 * on two points, with readings and an undelivered and a delivered outbox row. All of it
 * survives the two steps to version 4.
 */
static void test_migrates_version_2(void **state)
{
    static const char v2[] = SCHEMA_V1 SCHEMA_V2_STEP
        "INSERT INTO points VALUES (1, 'gd-301.ch4'), (2, 'gd-302.h2s');"
        "INSERT INTO readings VALUES (2, 900, 12.5, 0, 125), (1, 901, NULL, 1, 0);"
        "INSERT INTO events VALUES (7, 2, 'activated', 'high', 30.5, 25, 2, 1000, 50, 1);"
        "INSERT INTO events VALUES (8, 2, 'cleared', 'high', 20, 25, 2, 1100, 60, 1);"
        "INSERT INTO events VALUES (9, 1, 'activated', 'high', 27, 25, 1.5, 1200, 70, 0);"
        "INSERT INTO outbox(topic, payload, qos, retained, created_ms, seq, delivered_ms)"
        " VALUES ('t/7', x'7b7d', 1, 0, 1000, 7, 1001), ('t/9', x'00ff', 1, 0, 1200, 9,"
        " NULL);"
        "PRAGMA user_version = 2;";
    struct fixture *f = *state;
    struct store *st;
    struct msg_outbox m;

    make_file(f->db, v2);
    st = open_ok(f->db, f->cfg);
    assert_int_equal(last_seq(st), 9);
    /* The undelivered row is still to send, with its bytes. */
    assert_int_equal(store_outbox_next(st, 0, &m), 1);
    assert_string_equal(m.topic, "t/9");
    assert_int_equal(m.payload_len, 2);
    assert_memory_equal(m.payload, "\x00\xff", 2);
    assert_int_equal(store_outbox_next(st, m.id, &m), 0);
    close_st(st);

    assert_query(f->db, "PRAGMA user_version", "4");
    assert_query(
        f->db,
        "SELECT seq, point, target, type, event, limit_name, condition, value,"
        " setpoint, deadband, t_ms, mono_ns, test, quality FROM events ORDER BY seq",
        "7|2|gd-302.h2s|alarm|alm|high|1|30.5|25.0|2.0|1000|50|1|0;"
        "8|2|gd-302.h2s|alarm|rtn|high|0|20.0|25.0|2.0|1100|60|1|0;"
        "9|1|gd-301.ch4|alarm|alm|high|1|27.0|25.0|1.5|1200|70|0|0");
    assert_query(f->db,
                 "SELECT point, t_ms, value, quality, raw FROM readings ORDER BY rowid",
                 "2|900|12.5|0|125;1|901|NULL|1|0");
    assert_query(f->db, "SELECT seq, delivered_ms FROM outbox ORDER BY id",
                 "7|1001;9|NULL");
    assert_query(f->db, "PRAGMA integrity_check", "ok");
    assert_query(f->db, "PRAGMA foreign_key_check", "");
}

/*
 * Version 3 to 4 (requirement: old condition changes become alarm steps). A version 3
 * file holds activated and cleared events, an instrument fault without a value, a test
 * event, and an event of a point the current config no longer has. Each becomes an alm
 * (condition 1) or an rtn (condition 0) of type alarm, with its target named from the
 * points table, and every other column kept.
 */
static void test_migrates_version_3(void **state)
{
    static const char v3[] = SCHEMA_V1 SCHEMA_V2_STEP SCHEMA_V3_STEP
        "INSERT INTO qualities VALUES (0, 'good'), (1, 'comm-loss');"
        "INSERT INTO points VALUES (1, 'gd-301.ch4'), (2, 'gd-302.h2s'), (3, 'old.co');"
        "INSERT INTO events VALUES (100, 1, 'activated', 'high', 30, 25, 2, 1000, 10, 0, "
        "0);"
        "INSERT INTO events VALUES (101, 2, 'activated', 'fault', NULL, NULL, NULL, 1100,"
        " 11, 0, 1);"
        "INSERT INTO events VALUES (102, 1, 'cleared', 'high', 20, 25, 2, 1200, 12, 0, "
        "0);"
        "INSERT INTO events VALUES (103, 3, 'cleared', 'high', 1.25, 5, 0.5, 1300, 13, 1,"
        " 0);"
        "INSERT INTO outbox(topic, payload, qos, retained, created_ms, seq)"
        " VALUES ('t/103', x'7b7d', 1, 0, 1300, 103);"
        "PRAGMA user_version = 3;";
    struct fixture *f = *state;
    struct store *st;

    make_file(f->db, v3);
    st = open_ok(f->db, f->cfg);
    assert_int_equal(last_seq(st), 103);
    close_st(st);

    assert_query(f->db, "PRAGMA user_version", "4");
    assert_query(
        f->db,
        "SELECT seq, point, target, type, event, limit_name, condition, from_state,"
        " to_state, priority, first_out FROM events ORDER BY seq",
        "100|1|gd-301.ch4|alarm|alm|high|1|NULL|NULL|NULL|0;"
        "101|2|gd-302.h2s|alarm|alm|fault|1|NULL|NULL|NULL|0;"
        "102|1|gd-301.ch4|alarm|rtn|high|0|NULL|NULL|NULL|0;"
        "103|3|old.co|alarm|rtn|high|0|NULL|NULL|NULL|0");
    assert_query(
        f->db,
        "SELECT seq, value, setpoint, deadband, t_ms, mono_ns, test, quality, user,"
        " reason, source, status FROM events ORDER BY seq",
        "100|30.0|25.0|2.0|1000|10|0|0|NULL|NULL|NULL|NULL;"
        "101|NULL|NULL|NULL|1100|11|0|1|NULL|NULL|NULL|NULL;"
        "102|20.0|25.0|2.0|1200|12|0|0|NULL|NULL|NULL|NULL;"
        "103|1.25|5.0|0.5|1300|13|1|0|NULL|NULL|NULL|NULL");
    assert_query(f->db,
                 "SELECT seq, target, event, condition, quality FROM event_log"
                 " ORDER BY seq",
                 "100|gd-301.ch4|alm|1|good;101|gd-302.h2s|alm|1|comm-loss;"
                 "102|gd-301.ch4|rtn|0|good;103|old.co|rtn|0|good");
    /* History is not state: the migration saves no alarm and audits nothing. */
    assert_query(f->db, "SELECT count(*) FROM alarms", "0");
    assert_query(f->db, "SELECT count(*) FROM audit", "0");
    assert_query(f->db, "SELECT seq, delivered_ms FROM outbox", "103|NULL");
    /* The old tables are gone, the point that left the config stays with its history. */
    assert_query(f->db,
                 "SELECT count(*) FROM sqlite_master WHERE name = 'events_v3'"
                 " OR name = 'events_v4'",
                 "0");
    assert_query(f->db, "SELECT id, name FROM points ORDER BY id",
                 "1|gd-301.ch4;2|gd-302.h2s;3|old.co;4|pt-b12.temp");
    assert_query(f->db, "PRAGMA integrity_check", "ok");
    assert_query(f->db, "PRAGMA foreign_key_check", "");
}

/*
 * A version 4 file is not migrated again: reopening it (twice, and with a migrated file
 * as well as a new one) changes nothing, schema or rows.
 */
static void test_version_4_reopens_unchanged(void **state)
{
    static const char v3[] = SCHEMA_V1 SCHEMA_V2_STEP SCHEMA_V3_STEP
        "INSERT INTO points VALUES (1, 'gd-301.ch4');"
        "INSERT INTO events VALUES (5, 1, 'activated', 'high', 30, 25, 2, 1000, 10, 0, "
        "0);"
        "PRAGMA user_version = 3;";
    struct fixture *f = *state;
    char *before = malloc(SNAPSHOT_LEN), *after = malloc(SNAPSHOT_LEN);
    struct msg_event ack = command_event(7, 1, MSG_EV_ALARM, ALARM_EV_ACK, ALARM_UNACK,
                                         ALARM_ACKED, "zhang.wei", "checked on site");
    struct store *st;
    char path[256];

    assert_non_null(before);
    assert_non_null(after);

    /* A file the store made, with a row in every table. */
    st = open_ok(f->db, f->cfg);
    commit_event(st, 6, 1);
    commit_ev(st, &ack, true);
    assert_int_equal(store_begin(st, true), 0);
    assert_int_equal(store_add_audit(st, 3000, "site.json", "standards_override",
                                     "gd-301.ch4", "gas_level1_above_limit",
                                     "signed off"),
                     0);
    assert_int_equal(store_commit(st), 0);
    close_st(st);
    (void)snapshot(f->db, before);
    assert_non_null(strstr(before, "gd-302.h2s/high")); /* the snapshot sees the rows */
    assert_non_null(strstr(before, "zhang.wei"));
    for (int i = 0; i < 2; i++) {
        st = open_ok(f->db, f->cfg);
        assert_int_equal(last_seq(st), 7);
        close_st(st);
        assert_string_equal(snapshot(f->db, after), before);
    }

    /* A file migrated from version 3: the second open finds nothing to do. */
    FMT(path, "%s/v3.db", f->dir);
    make_file(path, v3);
    st = open_ok(path, f->cfg);
    close_st(st);
    (void)snapshot(path, before);
    assert_non_null(strstr(before, "|alm|"));
    st = open_ok(path, f->cfg);
    assert_int_equal(last_seq(st), 5);
    close_st(st);
    assert_string_equal(snapshot(path, after), before);
    assert_query(path, "PRAGMA user_version", "4");
    free(before);
    free(after);
}

static void test_newer_schema_refused(void **state)
{
    struct fixture *f = *state;
    struct store *st = (struct store *)(uintptr_t)1;

    make_file(f->db, "CREATE TABLE future(x); PRAGMA user_version = 99");

    assert_int_equal(store_open(f->db, f->cfg, &st), -EPROTO);
    assert_null(st);
    assert_query(f->db, "PRAGMA user_version", "99");
    assert_query(f->db, "SELECT name FROM sqlite_master", "future");

    /* Refusing is stable: a second attempt says the same. */
    st = (struct store *)(uintptr_t)1;
    assert_int_equal(store_open(f->db, f->cfg, &st), -EPROTO);
    assert_null(st);

    /* One past the current version is already newer. */
    make_file(f->db, "PRAGMA user_version = 5");
    st = (struct store *)(uintptr_t)1;
    assert_int_equal(store_open(f->db, f->cfg, &st), -EPROTO);
    assert_null(st);
    assert_query(f->db, "PRAGMA user_version", "5");
}

/*
 * "Refusing to touch it" must include the journal mode: a newer parkguard's file in
 * rollback-journal mode must stay in that mode (store_open() reads user_version before
 * it sets journal_mode=WAL, which would rewrite the file header).
 */
static void test_newer_schema_journal_untouched(void **state)
{
    struct fixture *f = *state;
    struct store *st = (struct store *)(uintptr_t)1;

    make_file(
        f->db,
        "PRAGMA journal_mode = DELETE; CREATE TABLE future(x); PRAGMA user_version = 99");
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
    assert_int_equal(add_event(st, 1, 0, ALARM_EV_ALM, 30.0), 0);
    assert_int_equal(add_event(st, 2, 0, ALARM_EV_RTN, 20.0), 0);
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
    /* The saved state holds the full seq too. */
    assert_query(f->db, "SELECT seq FROM alarms", "9223372036854775807");
}

static void test_event_rows(void **state)
{
    struct fixture *f = *state;
    struct store *st = open_ok(f->db, f->cfg);
    struct msg_event ev = event(5, 1, ALARM_EV_ALM, 27.3);

    ev.setpoint = 10.0;
    ev.deadband = 1.5;
    ev.utc_ms = INT64_C(1795862302460);
    ev.mono_ns = INT64_C(987654321012);
    ev.priority = ALARM_P1;
    ev.flags |= MSG_F_FIRST_OUT;
    ev.quality = MSG_Q_GOOD;
    assert_int_equal(store_begin(st, true), 0);
    assert_int_equal(store_add_event(st, &ev, "t/alarm/gd-302.h2s", "{}", 2, 1), 0);
    assert_int_equal(add_event(st, 6, 1, ALARM_EV_RTN, 8.0), 0);
    assert_int_equal(store_commit(st), 0);
    close_st(st);

    assert_query(f->db, "SELECT " EVENTS_V4_COLUMNS " FROM events ORDER BY seq",
                 "5|2|gd-302.h2s|alarm|alm|high|normal|unack|1|1|1|27.3|10.0|1.5|"
                 "1795862302460|987654321012|0|0|NULL|NULL|NULL|NULL;"
                 "6|2|gd-302.h2s|alarm|rtn|high|acked|normal|3|0|0|8.0|25.0|2.0|"
                 "1795862302006|5000000006|0|0|NULL|NULL|NULL|NULL");
    assert_query(f->db, "SELECT " EVENT_LOG_V4_COLUMNS " FROM event_log ORDER BY seq",
                 "5|gd-302.h2s|alarm|alm|high|normal|unack|1|1|1|27.3|10.0|"
                 "1795862302460|0|good|NULL|NULL|NULL;"
                 "6|gd-302.h2s|alarm|rtn|high|acked|normal|3|0|0|8.0|25.0|"
                 "1795862302006|0|good|NULL|NULL|NULL");
    /* The outbox row carries the event's seq and time, undelivered. */
    assert_query(f->db,
                 "SELECT topic, CAST(payload AS TEXT), qos, retained, created_ms, seq, "
                 "delivered_ms FROM outbox ORDER BY id",
                 "t/alarm/gd-302.h2s|{}|1|0|1795862302460|5|NULL;"
                 "parkguard/s/gw/alarm/p6|{\"seq\":6}|1|0|1795862302006|6|NULL");
    assert_query(f->db, "SELECT typeof(payload) FROM outbox LIMIT 1", "blob");
    /* Process events are not operator actions. */
    assert_query(f->db, "SELECT count(*) FROM audit", "0");
}

static void test_outbox_order_cursor_delivery(void **state)
{
    struct fixture *f = *state;
    struct store *st = open_ok(f->db, f->cfg);
    int64_t id1, id2, id3;

    assert_int_equal(store_begin(st, true), 0);
    for (uint64_t seq = 1; seq <= 3; seq++)
        assert_int_equal(add_event(st, seq, (uint32_t)(seq - 1), ALARM_EV_ALM, 30.0), 0);
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
    struct msg_event ev = event(1, 0, ALARM_EV_ALM, 30.0);
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
    struct msg_event ev = event(7, 1, ALARM_EV_ALM, (double)NAN);

    ev.limit = MSG_LIMIT_FAULT;
    ev.setpoint = (double)NAN;
    ev.deadband = (double)NAN;
    ev.quality = MSG_Q_COMM_LOSS;
    assert_int_equal(store_begin(st, true), 0);
    assert_int_equal(store_add_event(st, &ev, "t/alarm/gd-302.h2s", "{}", 2, 1), 0);
    assert_int_equal(store_commit(st), 0);
    close_st(st);
    assert_query(
        f->db,
        "SELECT seq, target, event, limit_name, value IS NULL, setpoint IS NULL, "
        "quality FROM event_log",
        "7|gd-302.h2s|alm|fault|1|1|comm-loss");
    assert_query(f->db, "SELECT deadband IS NULL, quality FROM events", "1|1");
    /* The saved state has no value either, not a zero. */
    assert_query(f->db, "SELECT key, value IS NULL, setpoint IS NULL FROM alarms",
                 "gd-302.h2s/fault|1|1");
}

static void test_rollback(void **state)
{
    struct fixture *f = *state;
    struct store *st = open_ok(f->db, f->cfg);
    struct msg_event ack = command_event(3, 0, MSG_EV_ALARM, ALARM_EV_ACK, ALARM_UNACK,
                                         ALARM_ACKED, "li.na", "");
    struct msg_sample s;
    int64_t id1;

    commit_event(st, 1, 0);
    id1 = expect_outbox(st, 0, 1);

    assert_int_equal(store_begin(st, true), 0);
    assert_int_equal(add_event(st, 2, 1, ALARM_EV_ALM, 30.0), 0);
    assert_int_equal(add_ev(st, &ack), 0);
    assert_int_equal(store_add_audit(st, 1, "site.json", "x", "y", "z", ""), 0);
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
    /* Saved states and audit records roll back with their events. */
    assert_query(f->db, "SELECT key, state, seq FROM alarms ORDER BY key",
                 "gd-301.ch4/high|1|1;gd-302.h2s/high|1|2");
    assert_query(f->db, "SELECT count(*) FROM audit", "0");
}

static void test_duplicate_seq(void **state)
{
    struct fixture *f = *state;
    struct store *st = open_ok(f->db, f->cfg);

    /* Within one transaction. */
    assert_int_equal(store_begin(st, true), 0);
    assert_int_equal(add_event(st, 10, 0, ALARM_EV_ALM, 30.0), 0);
    assert_int_equal(add_event(st, 10, 1, ALARM_EV_RTN, 20.0), -EEXIST);
    store_rollback(st);
    assert_int_equal(last_seq(st), 0);
    expect_outbox_empty(st, 0);

    /* The store is usable afterwards. */
    commit_event(st, 10, 0);
    assert_int_equal(last_seq(st), 10);

    /*
     * Against a committed event: the failed event must leave no outbox row, saved state
     * or audit record behind.
     */
    {
        struct msg_event dup = command_event(10, 2, MSG_EV_ALARM, ALARM_EV_ACK,
                                             ALARM_UNACK, ALARM_ACKED, "li.na", "");

        assert_int_equal(store_begin(st, true), 0);
        assert_int_equal(add_event(st, 10, 2, ALARM_EV_ALM, 30.0), -EEXIST);
        assert_int_equal(add_ev(st, &dup), -EEXIST);
        assert_int_equal(add_event(st, 11, 2, ALARM_EV_ALM, 30.0), 0);
        assert_int_equal(store_commit(st), 0);
    }
    close_st(st);

    assert_query(f->db, "SELECT seq FROM outbox ORDER BY id", "10;11");
    assert_query(f->db, "SELECT seq, target FROM event_log ORDER BY seq",
                 "10|gd-301.ch4;11|pt-b12.temp");
    assert_query(f->db, "SELECT key, state, seq FROM alarms ORDER BY key",
                 "gd-301.ch4/high|1|10;pt-b12.temp/high|1|11");
    assert_query(f->db, "SELECT count(*) FROM audit", "0");
}

static void test_bad_point_index(void **state)
{
    struct fixture *f = *state;
    struct store *st = open_ok(f->db, f->cfg);
    struct msg_sample s;
    struct msg_event ev;

    memset(&s, 0, sizeof(s));
    s.point = 3; /* one past the last point */
    assert_int_equal(store_begin(st, false), 0);
    assert_int_equal(store_add_reading(st, &s), -EINVAL);
    assert_int_equal(add_event(st, 1, 3, ALARM_EV_ALM, 30.0), -EINVAL);
    assert_int_equal(add_event(st, 2, UINT32_MAX, ALARM_EV_ALM, 30.0), -EINVAL);
    /* An event type past the last one is misuse too. */
    ev = event(3, 0, ALARM_EV_ALM, 30.0);
    ev.type = MSG_EV_TYPE_COUNT;
    assert_int_equal(add_ev(st, &ev), -EINVAL);
    assert_int_equal(store_commit(st), 0);
    assert_int_equal(last_seq(st), 0);
    close_st(st);
    assert_query(f->db, "SELECT count(*) FROM events", "0");
    assert_query(f->db, "SELECT count(*) FROM outbox", "0");
    assert_query(f->db, "SELECT count(*) FROM alarms", "0");
    assert_query(f->db, "SELECT count(*) FROM readings", "0");
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
    assert_int_equal(add_event(st, 1, 0, ALARM_EV_ALM, 30.0), 0);
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
    assert_int_equal(add_event(st, 2, 1, ALARM_EV_ALM, 30.0), 0);
    memset(&s, 0, sizeof(s));
    s.quality = MSG_Q_GOOD;
    assert_int_equal(store_add_reading(st, &s), 0);
    full_armed = 1;
    assert_int_equal(store_commit(st), -ENOSPC);
    assert_true(full_refused > 0); /* the shim really was in the path */
    store_rollback(st);

    /* Still full: the next transaction fails the same way, and nothing leaks through. */
    assert_int_equal(store_begin(st, true), 0);
    assert_int_equal(add_event(st, 2, 1, ALARM_EV_ALM, 30.0), 0);
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
    assert_query(f->db, "SELECT key, seq FROM alarms ORDER BY key",
                 "gd-301.ch4/high|1;gd-302.h2s/high|2");
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

    assert_query(f->db, "PRAGMA user_version", "4");
    assert_query(f->db, "SELECT count(*) FROM qualities", "11");
    assert_query(f->db, "SELECT id, name FROM points ORDER BY id",
                 "1|gd-301.ch4;2|gd-302.h2s;3|pt-b12.temp");
}

/* ---- saved alarm states ----------------------------------------------------------- */

/* Replace the fixture's config; teardown frees whichever is current. */
static void use_config(struct fixture *f, const char *text)
{
    config_free(f->cfg);
    f->cfg = NULL;
    f->cfg = parse_ok(text);
}

#define ALARM_COLUMNS                                                                    \
    "key, target, limit_name, area, state, shelve, priority, flags, seq, value, "        \
    "setpoint, since_ms, active_ms, shelve_until_ms"

/*
 * The alarms table follows each alarm through its life: an alm to unack creates its row,
 * each later step rewrites it in place, a state that is not plain normal (rtn_unack,
 * shelved with the condition gone) keeps it, and the step back to normal with the
 * condition false removes it. Events of other types never touch it.
 */
static void test_alarm_state_saved(void **state)
{
    struct fixture *f = *state;
    struct store *st;
    struct msg_event ev;

    use_config(f, config_areas);
    st = open_ok(f->db, f->cfg);

    /* alm: normal -> unack, on gd-302.h2s of area north. */
    ev = event(1, 1, ALARM_EV_ALM, 27.3);
    ev.priority = ALARM_P2;
    ev.flags = MSG_F_CONDITION | MSG_F_ANNUNCIATE | MSG_F_FIRST_OUT | MSG_F_LATCHING;
    ev.utc_ms = ev.since_utc_ms = ev.active_utc_ms = 1000;
    commit_ev(st, &ev, true);
    assert_query(
        f->db, "SELECT " ALARM_COLUMNS " FROM alarms",
        "gd-302.h2s/high|gd-302.h2s|high|north|1|0|2|78|1|27.3|25.0|1000|1000|0");

    /* ack: unack -> acked, the same row rewritten; active_ms is kept by the loop. */
    ev = command_event(2, 1, MSG_EV_ALARM, ALARM_EV_ACK, ALARM_UNACK, ALARM_ACKED,
                       "zhang.wei", "");
    ev.priority = ALARM_P2;
    ev.flags = MSG_F_CONDITION | MSG_F_FIRST_OUT | MSG_F_LATCHING;
    ev.utc_ms = ev.since_utc_ms = 2000;
    ev.active_utc_ms = 1000;
    commit_ev(st, &ev, true);
    assert_query(
        f->db, "SELECT " ALARM_COLUMNS " FROM alarms",
        "gd-302.h2s/high|gd-302.h2s|high|north|2|0|2|70|2|31.5|25.0|2000|1000|0");

    /* shelve (timed, one hour): acked -> shelved with its deadline. */
    ev = command_event(3, 1, MSG_EV_ALARM, ALARM_EV_SHELVE, ALARM_ACKED, ALARM_SHELVED,
                       "zhang.wei", "sensor being recalibrated");
    ev.priority = ALARM_P2;
    ev.shelve = ALARM_SHELVE_TIMED;
    ev.utc_ms = ev.since_utc_ms = 3000;
    ev.active_utc_ms = 1000;
    ev.shelve_until_utc_ms = 3000 + 3600000;
    commit_ev(st, &ev, true);
    assert_query(f->db, "SELECT " ALARM_COLUMNS " FROM alarms",
                 "gd-302.h2s/high|gd-302.h2s|high|north|6|1|2|2|3|31.5|25.0|3000|1000|"
                 "3603000");

    /* rtn while shelved: the condition is gone, the alarm is still shelved: kept. */
    ev = event(4, 1, ALARM_EV_RTN, 20.0);
    ev.from = ev.to = ALARM_SHELVED;
    ev.shelve = ALARM_SHELVE_TIMED;
    ev.priority = ALARM_P2;
    ev.utc_ms = 4000;
    ev.since_utc_ms = 3000;
    ev.active_utc_ms = 1000;
    ev.shelve_until_utc_ms = 3603000;
    commit_ev(st, &ev, true);
    assert_query(f->db, "SELECT " ALARM_COLUMNS " FROM alarms",
                 "gd-302.h2s/high|gd-302.h2s|high|north|6|1|2|0|4|20.0|25.0|3000|1000|"
                 "3603000");

    /* A second alarm of another point, in area south: its own row, its own area. */
    ev = event(5, 2, ALARM_EV_ALM, 55.0);
    ev.limit = MSG_LIMIT_HH;
    ev.setpoint = 50.0;
    ev.utc_ms = ev.since_utc_ms = ev.active_utc_ms = 5000;
    commit_ev(st, &ev, true);
    assert_query(f->db, "SELECT key, area, state, seq FROM alarms ORDER BY key",
                 "gd-302.h2s/high|north|6|4;gd-401.nh3/hh|south|1|5");

    /* unshelve: shelved -> normal with the condition false: plain normal, deleted. */
    ev = command_event(6, 1, MSG_EV_ALARM, ALARM_EV_UNSHELVE, ALARM_SHELVED, ALARM_NORMAL,
                       "zhang.wei", "");
    ev.flags = 0;
    commit_ev(st, &ev, true);
    assert_query(f->db, "SELECT key FROM alarms ORDER BY key", "gd-401.nh3/hh");

    /* rtn: unack -> rtn_unack keeps the row (not normal)... */
    ev = event(7, 2, ALARM_EV_RTN, 40.0);
    ev.limit = MSG_LIMIT_HH;
    ev.from = ALARM_UNACK;
    ev.to = ALARM_RTN_UNACK;
    ev.utc_ms = ev.since_utc_ms = 7000;
    ev.active_utc_ms = 5000;
    commit_ev(st, &ev, true);
    assert_query(f->db,
                 "SELECT key, state, flags, seq, value, since_ms, active_ms FROM alarms",
                 "gd-401.nh3/hh|3|0|7|40.0|7000|5000");
    /* ...and normal with the condition still true is not plain normal either: kept. */
    ev = event(8, 2, ALARM_EV_ACK, 40.0);
    ev.limit = MSG_LIMIT_HH;
    ev.from = ALARM_RTN_UNACK;
    ev.to = ALARM_NORMAL;
    ev.flags = MSG_F_CONDITION;
    commit_ev(st, &ev, true);
    assert_query(f->db, "SELECT key, state, flags, seq FROM alarms",
                 "gd-401.nh3/hh|0|2|8");
    /* The rtn to normal without the condition deletes it. */
    ev = event(9, 2, ALARM_EV_RTN, 40.0);
    ev.limit = MSG_LIMIT_HH;
    ev.from = ALARM_NORMAL;
    commit_ev(st, &ev, true);
    assert_query(f->db, "SELECT count(*) FROM alarms", "0");

    /* Deleting a row that does not exist is not an error. */
    ev = event(10, 0, ALARM_EV_RTN, 1.0);
    commit_ev(st, &ev, true);
    assert_query(f->db, "SELECT count(*) FROM alarms", "0");
    assert_int_equal(last_seq(st), 10);
    close_st(st);
    assert_query(f->db, "SELECT count(*), min(seq), max(seq) FROM events", "10|1|10");
    assert_query(f->db, "SELECT count(*) FROM outbox", "10");
}

struct walk {
    struct store_alarm got[8];
    size_t n;
    size_t stop_at; /* return stop_rc from the stop_at-th call; 0 never */
    int stop_rc;
};

static int collect(void *arg, const struct store_alarm *a)
{
    struct walk *w = arg;

    assert_true(w->n < sizeof(w->got) / sizeof(w->got[0]));
    w->got[w->n++] = *a;
    return w->n == w->stop_at ? w->stop_rc : 0;
}

static void expect_alarm(const struct store_alarm *a, const char *target,
                         const char *limit, int st, int shelve, int prio, int flags,
                         uint64_t seq, double value, double setpoint, int64_t since,
                         int64_t active, int64_t until)
{
    assert_string_equal(a->target, target);
    assert_string_equal(a->limit, limit);
    assert_int_equal(a->state, st);
    assert_int_equal(a->shelve, shelve);
    assert_int_equal(a->priority, prio);
    assert_int_equal(a->flags, flags);
    assert_true(a->seq == seq);
    if (isnan(value))
        assert_true(isnan(a->value));
    else
        assert_true(a->value == value);
    if (isnan(setpoint))
        assert_true(isnan(a->setpoint));
    else
        assert_true(a->setpoint == setpoint);
    assert_true(a->since_ms == since);
    assert_true(a->active_ms == active);
    assert_true(a->shelve_until_ms == until);
}

/* The four saved alarms of test_load_alarms, in the store's order. */
static void expect_four(const struct walk *w, size_t n)
{
    assert_true(w->n >= n);
    if (n > 0)
        expect_alarm(&w->got[0], "gd-301.ch4", "fault", ALARM_LATCHED_UNACK,
                     ALARM_SHELVE_NONE, ALARM_P3, MSG_F_LATCHING, 3, (double)NAN,
                     (double)NAN, 3000, 3000, 0);
    if (n > 1)
        expect_alarm(&w->got[1], "gd-301.ch4", "high", ALARM_SHELVED,
                     ALARM_SHELVE_ONE_SHOT, ALARM_P3, MSG_F_CONDITION, 4, 26.5, 25.0,
                     4000, 3500, INT64_C(1795870000000));
    if (n > 2)
        expect_alarm(&w->got[2], "gd-401.nh3", "hh", ALARM_ACKED, ALARM_SHELVE_NONE,
                     ALARM_P2, MSG_F_CONDITION, 2, 55.0, 50.0, 2500, 2000, 0);
    if (n > 3)
        expect_alarm(&w->got[3], "south", "vote", ALARM_UNACK, ALARM_SHELVE_NONE,
                     ALARM_P1, MSG_F_CONDITION | MSG_F_ANNUNCIATE | MSG_F_FIRST_OUT, 1,
                     2.0, 2.0, 1000, 1000, 0);
}

/*
 * store_load_alarms() gives every saved alarm with every field, in a stable order (the
 * same on every walk and after a reopen, whatever order they were written in); a
 * callback's non-zero return stops the walk and is returned; the next walk starts over.
 */
static void test_load_alarms(void **state)
{
    struct fixture *f = *state;
    struct walk w;
    struct msg_event ev;
    struct store *st;

    use_config(f, config_areas);
    st = open_ok(f->db, f->cfg);

    /* Nothing saved: no call, and 0. */
    memset(&w, 0, sizeof(w));
    assert_int_equal(store_load_alarms(st, collect, &w), 0);
    assert_int_equal(w.n, 0);

    /* Written in an order that is neither key nor config order. */
    ev = event(1, 1, ALARM_EV_ALM, 2.0); /* area south's vote: 2 of N */
    ev.limit = MSG_LIMIT_VOTE;
    ev.priority = ALARM_P1;
    ev.setpoint = 2.0;
    ev.flags |= MSG_F_FIRST_OUT;
    ev.utc_ms = ev.since_utc_ms = ev.active_utc_ms = 1000;
    commit_ev(st, &ev, true);
    ev = event(2, 2, ALARM_EV_ACK, 55.0);
    ev.limit = MSG_LIMIT_HH;
    ev.priority = ALARM_P2;
    ev.setpoint = 50.0;
    ev.from = ALARM_UNACK;
    ev.to = ALARM_ACKED;
    ev.flags = MSG_F_CONDITION;
    ev.utc_ms = ev.since_utc_ms = 2500;
    ev.active_utc_ms = 2000;
    commit_ev(st, &ev, true);
    ev = event(3, 0, ALARM_EV_RTN, (double)NAN);
    ev.limit = MSG_LIMIT_FAULT;
    ev.setpoint = (double)NAN;
    ev.from = ALARM_LATCHED_UNACK;
    ev.to = ALARM_LATCHED_UNACK;
    ev.flags = MSG_F_LATCHING;
    ev.utc_ms = ev.since_utc_ms = ev.active_utc_ms = 3000;
    commit_ev(st, &ev, false);
    ev = event(4, 0, ALARM_EV_SHELVE, 26.5);
    ev.from = ALARM_ACKED;
    ev.to = ALARM_SHELVED;
    ev.shelve = ALARM_SHELVE_ONE_SHOT;
    ev.flags = MSG_F_CONDITION;
    ev.utc_ms = ev.since_utc_ms = 4000;
    ev.active_utc_ms = 3500;
    ev.shelve_until_utc_ms = INT64_C(1795870000000);
    commit_ev(st, &ev, true);

    memset(&w, 0, sizeof(w));
    assert_int_equal(store_load_alarms(st, collect, &w), 0);
    assert_int_equal(w.n, 4);
    expect_four(&w, 4);
    /* The order is the table's key order. */
    assert_query(f->db, "SELECT target, limit_name FROM alarms ORDER BY key",
                 "gd-301.ch4|fault;gd-301.ch4|high;gd-401.nh3|hh;south|vote");

    /* A positive stop on the second row: two calls, its value returned. */
    memset(&w, 0, sizeof(w));
    w.stop_at = 2;
    w.stop_rc = 7;
    assert_int_equal(store_load_alarms(st, collect, &w), 7);
    assert_int_equal(w.n, 2);
    expect_four(&w, 2);
    /* A negative errno on the first: one call. */
    memset(&w, 0, sizeof(w));
    w.stop_at = 1;
    w.stop_rc = -ECANCELED;
    assert_int_equal(store_load_alarms(st, collect, &w), -ECANCELED);
    assert_int_equal(w.n, 1);
    expect_four(&w, 1);
    /* A stop on the last row is still a stop. */
    memset(&w, 0, sizeof(w));
    w.stop_at = 4;
    w.stop_rc = 1;
    assert_int_equal(store_load_alarms(st, collect, &w), 1);
    assert_int_equal(w.n, 4);

    /* A stopped walk leaves nothing behind: the next starts from the first row... */
    memset(&w, 0, sizeof(w));
    assert_int_equal(store_load_alarms(st, collect, &w), 0);
    assert_int_equal(w.n, 4);
    expect_four(&w, 4);
    /* ...and writing goes on (the walk's statement holds no read transaction open). */
    commit_event(st, 5, 2);
    close_st(st);

    /* After a reopen: the same rows, the same order, the new one in its place. */
    st = open_ok(f->db, f->cfg);
    memset(&w, 0, sizeof(w));
    assert_int_equal(store_load_alarms(st, collect, &w), 0);
    assert_int_equal(w.n, 5);
    expect_four(&w, 3);
    /* "gd-401.nh3/high" sorts after "gd-401.nh3/hh". */
    expect_alarm(&w.got[3], "gd-401.nh3", "high", ALARM_UNACK, ALARM_SHELVE_NONE,
                 ALARM_P3, MSG_F_CONDITION | MSG_F_ANNUNCIATE, 5, 30.0, 25.0,
                 INT64_C(1795862302005), INT64_C(1795862302005), 0);
    w.got[3] = w.got[4];
    w.n = 4;
    expect_four(&w, 4);
    close_st(st);
}

/* ---- audit ------------------------------------------------------------------------ */

#define AUDIT_COLUMNS                                                                    \
    "id, t_ms, user, source, action, target, limit_name, result, reason, seq"

/*
 * Every event with a user is an operator action and gets one audit record: accepted
 * when the alarm changed state, no_change when it did not, the refusal's reason when it
 * was refused. Process events get none. A refusal is journalled and audited but neither
 * published nor applied to the saved state.
 */
static void test_audit_operator_actions(void **state)
{
    struct fixture *f = *state;
    struct store *st = open_ok(f->db, f->cfg);
    struct msg_event ev;

    /* Two process alarms: no audit. */
    commit_event(st, 1, 0);
    commit_event(st, 2, 1);
    assert_query(f->db, "SELECT count(*) FROM audit", "0");

    /* An accepted ack, over MQTT, with a reason. */
    ev = command_event(3, 1, MSG_EV_ALARM, ALARM_EV_ACK, ALARM_UNACK, ALARM_ACKED,
                       "zhang.wei", "H2S confirmed by patrol, fans on");
    ev.utc_ms = INT64_C(1795862310000);
    commit_ev(st, &ev, true);
    /* The same command again, locally, and nothing changes: no_change, no reason. */
    ev = command_event(4, 1, MSG_EV_ALARM, ALARM_EV_ACK, ALARM_ACKED, ALARM_ACKED,
                       "zhang.wei", "");
    ev.source = MSG_SRC_LOCAL;
    ev.utc_ms = INT64_C(1795862311000);
    commit_ev(st, &ev, true);
    assert_query(f->db, "SELECT " AUDIT_COLUMNS " FROM audit ORDER BY id",
                 "1|1795862310000|zhang.wei|mqtt|ack|gd-302.h2s|high|accepted|"
                 "H2S confirmed by patrol, fans on|3;"
                 "2|1795862311000|zhang.wei|local|ack|gd-302.h2s|high|no_change|NULL|4");
    assert_query(
        f->db,
        "SELECT seq, type, event, from_state, to_state, user, reason, source, status"
        " FROM events WHERE seq >= 3 ORDER BY seq",
        "3|alarm|ack|unack|acked|zhang.wei|H2S confirmed by patrol, fans on|mqtt|"
        "NULL;"
        "4|alarm|ack|acked|acked|zhang.wei|NULL|local|NULL");

    /*
     * Refused: a reset of gd-301.ch4's unlatched alarm (status not_latched), and a shelve
     * of pt-b12.temp, which has no alarm. The event code is a command op (MSG_CMD_*),
     * not an alarm event. Stored as the recorder stores them: without a message.
     */
    ev = command_event(5, 0, MSG_EV_REJECTED, MSG_CMD_RESET, ALARM_UNACK, ALARM_UNACK,
                       "li.na", "testing reset");
    ev.source = MSG_SRC_LOCAL;
    ev.status = -ALARM_R_NOT_LATCHED;
    ev.utc_ms = INT64_C(1795862312000);
    commit_ev(st, &ev, false);
    ev = command_event(6, 2, MSG_EV_REJECTED, MSG_CMD_SHELVE, ALARM_NORMAL, ALARM_NORMAL,
                       "li.na", "");
    ev.status = -ALARM_R_NO_SUCH_ALARM;
    ev.priority = 0;
    ev.utc_ms = INT64_C(1795862313000);
    commit_ev(st, &ev, false);
    close_st(st);

    assert_query(
        f->db, "SELECT " AUDIT_COLUMNS " FROM audit WHERE id > 2 ORDER BY id",
        "3|1795862312000|li.na|local|reset|gd-301.ch4|high|not_latched|"
        "testing reset|5;"
        "4|1795862313000|li.na|mqtt|shelve|pt-b12.temp|high|no_such_alarm|NULL|6");
    assert_query(
        f->db,
        "SELECT seq, point, target, type, event, limit_name, from_state, to_state,"
        " priority, user, reason, source, status FROM events WHERE seq >= 5"
        " ORDER BY seq",
        "5|1|gd-301.ch4|rejected|reset|high|unack|unack|3|li.na|testing reset|"
        "local|not_latched;"
        "6|3|pt-b12.temp|rejected|shelve|high|normal|normal|NULL|li.na|NULL|mqtt|"
        "no_such_alarm");
    /* Neither refusal touched the saved states, nor queued a message. */
    assert_query(f->db, "SELECT key, state, seq FROM alarms ORDER BY key",
                 "gd-301.ch4/high|1|1;gd-302.h2s/high|2|4");
    assert_query(f->db, "SELECT seq FROM outbox ORDER BY id", "1;2;3;4");
    assert_query(f->db, "SELECT count(*) FROM audit", "4");
}

/* Silencing is an operator action about an area, or about all of them. */
static void test_audit_silence(void **state)
{
    struct fixture *f = *state;
    struct store *st;
    struct msg_event ev;

    use_config(f, config_areas);
    st = open_ok(f->db, f->cfg);
    ev = command_event(1, 1, MSG_EV_SILENCE, MSG_CMD_SILENCE, 0, 0, "zhang.wei",
                       "evacuation under way");
    ev.limit = MSG_LIMIT_COUNT;
    ev.status = ALARM_STEP_TRANSITION;
    ev.value = ev.setpoint = ev.deadband = (double)NAN;
    ev.priority = 0;
    ev.utc_ms = 1000;
    commit_ev(st, &ev, true);
    ev.seq = 2;
    ev.point = MSG_POINT_ALL;
    ev.status = ALARM_STEP_NO_CHANGE; /* nothing was sounding */
    ev.reason[0] = '\0';
    ev.utc_ms = 2000;
    commit_ev(st, &ev, true);
    close_st(st);

    assert_query(
        f->db, "SELECT " AUDIT_COLUMNS " FROM audit ORDER BY id",
        "1|1000|zhang.wei|mqtt|silence|south|NULL|accepted|evacuation under way|1;"
        "2|2000|zhang.wei|mqtt|silence|*|NULL|no_change|NULL|2");
    assert_query(
        f->db,
        "SELECT seq, point, target, type, event, limit_name, from_state, to_state,"
        " priority, value, status FROM events ORDER BY seq",
        "1|NULL|south|silence|silence|NULL|NULL|NULL|NULL|NULL|NULL;"
        "2|NULL|*|silence|silence|NULL|NULL|NULL|NULL|NULL|NULL");
    assert_query(f->db, "SELECT count(*) FROM alarms", "0");
    assert_query(f->db, "SELECT seq FROM outbox ORDER BY id", "1;2");
}

/* store_add_audit(): records that are not operator commands, with source "config". */
static void test_add_audit(void **state)
{
    struct fixture *f = *state;
    struct store *st = open_ok(f->db, f->cfg);

    assert_int_equal(store_begin(st, true), 0);
    assert_int_equal(store_add_audit(st, INT64_C(1795862400000),
                                     "/etc/parkguard/site.json", "standards_override",
                                     "gd-301.ch4", "gas_level1_above_limit",
                                     "signed off by safety officer Wang, ticket 42"),
                     0);
    /* Empty or missing target and reason are stored as NULL. */
    assert_int_equal(store_add_audit(st, INT64_C(1795862400001),
                                     "/etc/parkguard/site.json", "standards_override", "",
                                     "ok", NULL),
                     0);
    assert_int_equal(
        store_add_audit(st, INT64_C(1795862400002), "site.json", "x", NULL, "ok", ""), 0);
    assert_int_equal(store_commit(st), 0);
    /* Outside a committed transaction nothing stays. */
    assert_int_equal(store_begin(st, true), 0);
    assert_int_equal(store_add_audit(st, 1, "u", "a", "t", "r", "why"), 0);
    store_rollback(st);
    close_st(st);

    assert_query(
        f->db, "SELECT " AUDIT_COLUMNS " FROM audit ORDER BY id",
        "1|1795862400000|/etc/parkguard/site.json|config|standards_override|"
        "gd-301.ch4|NULL|gas_level1_above_limit|"
        "signed off by safety officer Wang, ticket 42|NULL;"
        "2|1795862400001|/etc/parkguard/site.json|config|standards_override|NULL|"
        "NULL|ok|NULL|NULL;"
        "3|1795862400002|site.json|config|x|NULL|NULL|ok|NULL|NULL");
    /* An audit record is not a journal event. */
    assert_query(f->db, "SELECT count(*) FROM events", "0");
    assert_query(f->db, "SELECT count(*) FROM outbox", "0");
}

/* ---- targets: points, areas, the whole gateway ------------------------------------ */

/*
 * A vote's "point" is an area index: stored with no point and the area's id as target.
 * An alarm or maintenance event must name a point (an area, for a vote) of the config:
 * anything else is -EINVAL and stores nothing. A refused command may name anything and
 * is stored under target "*".
 */
static void test_event_targets(void **state)
{
    struct fixture *f = *state;
    struct store *st;
    struct msg_event ev;

    use_config(f, config_areas);
    st = open_ok(f->db, f->cfg);

    ev = event(1, 1, ALARM_EV_ALM, 2.0);
    ev.limit = MSG_LIMIT_VOTE;
    ev.priority = ALARM_P1;
    ev.setpoint = 2.0;
    ev.deadband = (double)NAN;
    commit_ev(st, &ev, true);
    ev.seq = 2;
    ev.point = 0;
    commit_ev(st, &ev, true);

    assert_int_equal(store_begin(st, true), 0);
    /* 2 is a point index but not an area index: a vote for it is misuse. */
    ev.seq = 3;
    ev.point = 2;
    assert_int_equal(add_ev(st, &ev), -EINVAL);
    ev.point = MSG_POINT_ALL;
    assert_int_equal(add_ev(st, &ev), -EINVAL);
    /* A point alarm and a maintenance event past the last point. */
    ev = event(3, 3, ALARM_EV_ALM, 30.0);
    assert_int_equal(add_ev(st, &ev), -EINVAL);
    ev.type = MSG_EV_MAINT;
    ev.limit = MSG_LIMIT_MAINT;
    assert_int_equal(add_ev(st, &ev), -EINVAL);
    assert_int_equal(store_commit(st), 0);
    assert_int_equal(last_seq(st), 2);

    /* Maintenance of a point: enter (condition) and leave; no saved alarm state. */
    ev = event(3, 2, ALARM_EV_ALM, 12.0);
    ev.type = MSG_EV_MAINT;
    ev.limit = MSG_LIMIT_MAINT;
    ev.event = 0;
    ev.flags = MSG_F_CONDITION;
    ev.quality = MSG_Q_MAINTENANCE;
    commit_ev(st, &ev, true);
    ev.seq = 4;
    ev.flags = 0;
    ev.quality = MSG_Q_GOOD;
    commit_ev(st, &ev, true);

    /* Refused commands naming no point or area of this config: target "*". */
    ev = command_event(5, 99, MSG_EV_REJECTED, MSG_CMD_ACK, ALARM_NORMAL, ALARM_NORMAL,
                       "li.na", "");
    ev.status = -ALARM_R_NO_SUCH_ALARM;
    commit_ev(st, &ev, false);
    ev.seq = 6;
    ev.point = 5;
    ev.limit = MSG_LIMIT_VOTE;
    commit_ev(st, &ev, false);
    /* A refused command on a real vote names its area. */
    ev.seq = 7;
    ev.point = 1;
    ev.status = -ALARM_R_NOT_AUTHORISED;
    commit_ev(st, &ev, false);
    close_st(st);

    assert_query(
        f->db,
        "SELECT seq, point, target, type, event, limit_name, from_state, to_state,"
        " priority, condition, status FROM events ORDER BY seq",
        "1|NULL|south|alarm|alm|vote|normal|unack|1|1|NULL;"
        "2|NULL|north|alarm|alm|vote|normal|unack|1|1|NULL;"
        "3|3|gd-401.nh3|maintenance|enter|maintenance|NULL|NULL|NULL|1|NULL;"
        "4|3|gd-401.nh3|maintenance|leave|maintenance|NULL|NULL|NULL|0|NULL;"
        "5|NULL|*|rejected|ack|high|normal|normal|3|1|no_such_alarm;"
        "6|NULL|*|rejected|ack|vote|normal|normal|3|1|no_such_alarm;"
        "7|NULL|south|rejected|ack|vote|normal|normal|3|1|not_authorised");
    assert_query(f->db, "SELECT quality FROM event_log WHERE seq = 3", "maintenance");
    /* A vote's saved state is the area's own: its area is itself. */
    assert_query(f->db,
                 "SELECT key, target, limit_name, area, state, seq FROM alarms"
                 " ORDER BY key",
                 "north/vote|north|vote|north|1|2;south/vote|south|vote|south|1|1");
    assert_query(
        f->db, "SELECT seq, target, limit_name, result FROM audit ORDER BY id",
        "5|*|high|no_such_alarm;6|*|vote|no_such_alarm;7|south|vote|not_authorised");
    assert_query(f->db, "SELECT seq FROM outbox ORDER BY id", "1;2;3;4");
}

/* ---- events without a message ----------------------------------------------------- */

/*
 * topic NULL: the event, its saved state and its audit record are stored, and no outbox
 * row; the next event with a message is the outbox's first.
 */
static void test_event_without_message(void **state)
{
    struct fixture *f = *state;
    struct store *st = open_ok(f->db, f->cfg);
    struct msg_event ev = event(1, 0, ALARM_EV_ALM, 30.0);

    assert_int_equal(store_begin(st, true), 0);
    assert_int_equal(store_add_event(st, &ev, NULL, NULL, 0, 1), 0);
    /* The payload arguments do not matter without a topic. */
    ev = command_event(2, 0, MSG_EV_ALARM, ALARM_EV_ACK, ALARM_UNACK, ALARM_ACKED,
                       "zhang.wei", "");
    assert_int_equal(store_add_event(st, &ev, NULL, "{}", 2, 2), 0);
    assert_int_equal(store_commit(st), 0);
    expect_outbox_empty(st, 0);
    assert_int_equal(last_seq(st), 2);
    assert_query(f->db, "SELECT count(*) FROM outbox", "0");
    assert_query(f->db, "SELECT seq, target, event, to_state FROM events ORDER BY seq",
                 "1|gd-301.ch4|alm|unack;2|gd-301.ch4|ack|acked");
    assert_query(f->db, "SELECT key, state, seq FROM alarms", "gd-301.ch4/high|2|2");
    assert_query(f->db, "SELECT seq, action, result FROM audit", "2|ack|accepted");

    commit_event(st, 3, 1);
    assert_int_equal(expect_outbox(st, 0, 3), expect_outbox(st, -1, 3));
    close_st(st);
    assert_query(f->db, "SELECT seq FROM outbox", "3");
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

/*
 * A refused silence (no rights, or an area index past the last area) is journalled as
 * the RT loop sends it: type REJECTED, event MSG_CMD_SILENCE, limit MSG_LIMIT_COUNT,
 * point = the area index or MSG_POINT_ALL. It is about an area, like the silence it
 * would have been, never about the point that happens to share the index.
 */
static void test_rejected_silence_target(void **state)
{
    struct fixture *f = *state;
    struct store *st;
    struct msg_event ev;

    use_config(f, config_areas);
    st = open_ok(f->db, f->cfg);
    memset(&ev, 0, sizeof(ev));
    ev.seq = 1;
    ev.point = 1; /* area south; also the index of point gd-302.h2s */
    ev.type = MSG_EV_REJECTED;
    ev.limit = MSG_LIMIT_COUNT;
    ev.event = MSG_CMD_SILENCE;
    ev.source = MSG_SRC_LOCAL;
    ev.status = -ALARM_R_NOT_AUTHORISED;
    ev.value = ev.setpoint = ev.deadband = (double)NAN;
    ev.utc_ms = 1000;
    (void)snprintf(ev.user, sizeof(ev.user), "%s", "guest");
    commit_ev(st, &ev, false);
    ev.seq = 2;
    ev.point = 5; /* no such area: target "*" */
    ev.status = -ALARM_R_INVALID;
    commit_ev(st, &ev, false);
    close_st(st);
    assert_query(
        f->db,
        "SELECT seq, point, target, type, event, limit_name, from_state, to_state,"
        " status FROM events ORDER BY seq",
        "1|NULL|south|rejected|silence|NULL|NULL|NULL|not_authorised;"
        "2|NULL|*|rejected|silence|NULL|NULL|NULL|invalid_argument");
    assert_query(f->db,
                 "SELECT seq, action, target, limit_name, result FROM audit ORDER BY id",
                 "1|silence|south|NULL|not_authorised;2|silence|*|NULL|invalid_argument");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_open_creates_schema),
        T(test_reopen_is_idempotent),
        T(test_reopen_with_changed_points),
        T(test_open_errors),
        T(test_migrates_version_1),
        T(test_migrates_version_2),
        T(test_migrates_version_3),
        T(test_version_4_reopens_unchanged),
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
        T(test_alarm_state_saved),
        T(test_load_alarms),
        T(test_audit_operator_actions),
        T(test_audit_silence),
        T(test_add_audit),
        T(test_event_targets),
        T(test_rejected_silence_target),
        T(test_event_without_message),
        T(test_disk_full_on_commit),
        T(test_disk_full_on_open),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
