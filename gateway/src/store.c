#include "store.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "log.h"

/* XX(field name, SQL) — one prepared statement each, prepared once at open. */
#define STORE_STMT_MAP(XX)                                                               \
    XX(begin, "BEGIN IMMEDIATE")                                                         \
    XX(commit, "COMMIT")                                                                 \
    XX(rollback, "ROLLBACK")                                                             \
    XX(sync_full, "PRAGMA synchronous=FULL")                                             \
    XX(sync_normal, "PRAGMA synchronous=NORMAL")                                         \
    XX(last_seq, "SELECT coalesce(max(seq), 0) FROM events")                             \
    XX(add_reading, "INSERT INTO readings(point, t_ms, value, quality, raw) "            \
                    "VALUES (?1, ?2, ?3, ?4, ?5)")                                       \
    XX(add_event, "INSERT INTO events(seq, point, target, type, event, limit_name, "     \
                  "from_state, to_state, priority, condition, first_out, value, "        \
                  "setpoint, deadband, t_ms, mono_ns, test, quality, user, reason, "     \
                  "source, status) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, "    \
                  "?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22)")         \
    XX(put_alarm, "INSERT OR REPLACE INTO alarms(key, target, limit_name, area, state, " \
                  "shelve, priority, flags, seq, value, setpoint, since_ms, active_ms, " \
                  "shelve_until_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, "   \
                  "?11, ?12, ?13, ?14)")                                                 \
    XX(del_alarm, "DELETE FROM alarms WHERE key = ?1")                                   \
    XX(get_alarms, "SELECT target, limit_name, state, shelve, priority, flags, seq, "    \
                   "value, setpoint, since_ms, active_ms, shelve_until_ms FROM alarms "  \
                   "ORDER BY key")                                                       \
    XX(add_audit, "INSERT INTO audit(t_ms, user, source, action, target, limit_name, "   \
                  "result, reason, seq) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)")    \
    XX(add_outbox, "INSERT INTO outbox(topic, payload, qos, retained, created_ms, seq) " \
                   "VALUES (?1, ?2, ?3, 0, ?4, ?5)")                                     \
    XX(delivered, "UPDATE outbox SET delivered_ms = ?2 "                                 \
                  "WHERE id = ?1 AND delivered_ms IS NULL")                              \
    XX(outbox_next, "SELECT id, topic, payload, qos, retained FROM outbox "              \
                    "WHERE id > ?1 AND delivered_ms IS NULL ORDER BY id LIMIT 1")

struct store {
    sqlite3 *db;
    const struct config *cfg;
    int64_t *point_rowid; /* config point index -> points.id */
    size_t n_points;
    bool durable; /* synchronous setting currently in force */
#define STORE_STMT_FIELD(name, sql) sqlite3_stmt *name;
    STORE_STMT_MAP(STORE_STMT_FIELD)
#undef STORE_STMT_FIELD
};

static const char *const store_schema_v1 =
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
    " ON p.id = e.point;";

static int errno_of(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_OK:
    case SQLITE_ROW:
    case SQLITE_DONE:
        return 0;
    case SQLITE_FULL:
        return -ENOSPC;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return -EBUSY;
    case SQLITE_NOMEM:
        return -ENOMEM;
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_AUTH:
        return -EACCES;
    case SQLITE_CANTOPEN:
        return -ENOENT;
    case SQLITE_CONSTRAINT:
        return -EEXIST;
    case SQLITE_MISUSE:
    case SQLITE_RANGE:
        return -EINVAL;
    default:
        return -EIO;
    }
}

/* Run a statement that returns no rows, then reset it for the next use. */
static int step_done(struct store *st, sqlite3_stmt *s, const char *what)
{
    int rc = sqlite3_step(s);

    (void)sqlite3_reset(s);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
        log_error("store: %s: %s", what, sqlite3_errmsg(st->db));
        return errno_of(rc);
    }
    return 0;
}

static int exec(struct store *st, const char *sql)
{
    char *msg = NULL;
    int rc = sqlite3_exec(st->db, sql, NULL, NULL, &msg);

    if (rc != SQLITE_OK) {
        log_error("store: %s: %s", sql, msg != NULL ? msg : sqlite3_errstr(rc));
        sqlite3_free(msg);
        return errno_of(rc);
    }
    return 0;
}

static int pragma_int(struct store *st, const char *sql, int64_t *out)
{
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(st->db, sql, -1, &s, NULL);

    if (rc == SQLITE_OK) {
        rc = sqlite3_step(s);
        if (rc == SQLITE_ROW) {
            *out = sqlite3_column_int64(s, 0);
            rc = SQLITE_OK;
        }
    }
    (void)sqlite3_finalize(s);
    if (rc != SQLITE_OK) {
        log_error("store: %s: %s", sql, sqlite3_errmsg(st->db));
        return errno_of(rc);
    }
    return 0;
}

static int check_version(struct store *st)
{
    int64_t version = 0;
    int rc = pragma_int(st, "PRAGMA user_version", &version);

    if (rc < 0)
        return rc;
    if (version > STORE_SCHEMA_VERSION) {
        log_error(
            "store: schema version %lld is newer than this parkguard understands (%d);"
            " refusing to touch it",
            (long long)version, STORE_SCHEMA_VERSION);
        return -EPROTO;
    }
    return 0;
}

/*
 * Version 2: alarm events carry the test flag of the sample that decided them, so a
 * proof test is recorded as one. Existing events were never tests.
 */
static const char *const store_schema_v2 =
    "ALTER TABLE events ADD COLUMN test INTEGER NOT NULL DEFAULT 0;"
    "DROP VIEW event_log;"
    "CREATE VIEW event_log AS SELECT e.seq, p.name AS point, e.kind, e.limit_name,"
    " e.value, e.setpoint, e.deadband, e.t_ms, e.test FROM events e JOIN points p"
    " ON p.id = e.point;";

/*
 * Version 3: instrument-fault events. A fault has no measured value (a device that never
 * answered has none at all) and no setpoint, so those columns become nullable, which in
 * SQLite means rebuilding the table; and every event records the quality of the sample
 * that decided it.
 */
static const char *const store_schema_v3 =
    "CREATE TABLE events_v3(seq INTEGER PRIMARY KEY, point INTEGER NOT NULL"
    " REFERENCES points(id), kind TEXT NOT NULL, limit_name TEXT NOT NULL, value REAL,"
    " setpoint REAL, deadband REAL, t_ms INTEGER NOT NULL, mono_ns INTEGER NOT NULL,"
    " test INTEGER NOT NULL DEFAULT 0, quality INTEGER NOT NULL DEFAULT 0);"
    "INSERT INTO events_v3(seq, point, kind, limit_name, value, setpoint, deadband, t_ms,"
    " mono_ns, test) SELECT seq, point, kind, limit_name, value, setpoint, deadband, "
    "t_ms,"
    " mono_ns, test FROM events;"
    "DROP VIEW event_log;"
    "DROP TABLE events;"
    "ALTER TABLE events_v3 RENAME TO events;"
    "CREATE VIEW event_log AS SELECT e.seq, p.name AS point, e.kind, e.limit_name,"
    " e.value, e.setpoint, e.deadband, e.t_ms, e.test, q.name AS quality FROM events e"
    " JOIN points p ON p.id = e.point LEFT JOIN qualities q ON q.code = e.quality;";

/*
 * Version 4: ISA-18.2 alarm management. The journal records every step of every alarm
 * (its event and the states before and after), operator commands with the officer and
 * the reason, refused ones too, and events that belong to an area (a K-out-of-N vote)
 * or to the whole gateway (a silence), which have no point: `target` names what the
 * event is about. The alarms table keeps the current state of each alarm that is not
 * plain normal, so a restart resumes it; audit keeps who did what. Old events were
 * condition changes: "activated" becomes the alarm event alm, "cleared" rtn.
 */
static const char *const store_schema_v4 =
    "CREATE TABLE events_v4(seq INTEGER PRIMARY KEY, point INTEGER REFERENCES points(id),"
    " target TEXT NOT NULL, type TEXT NOT NULL, event TEXT NOT NULL, limit_name TEXT,"
    " from_state TEXT, to_state TEXT, priority INTEGER, condition INTEGER,"
    " first_out INTEGER NOT NULL DEFAULT 0, value REAL, setpoint REAL, deadband REAL,"
    " t_ms INTEGER NOT NULL, mono_ns INTEGER NOT NULL, test INTEGER NOT NULL DEFAULT 0,"
    " quality INTEGER NOT NULL DEFAULT 0, user TEXT, reason TEXT, source TEXT,"
    " status TEXT);"
    "INSERT INTO events_v4(seq, point, target, type, event, limit_name, condition, value,"
    " setpoint, deadband, t_ms, mono_ns, test, quality) SELECT e.seq, e.point, "
    "coalesce(p.name, '*'),"
    " 'alarm', CASE e.kind WHEN 'activated' THEN 'alm' ELSE 'rtn' END, e.limit_name,"
    " e.kind = 'activated', e.value, e.setpoint, e.deadband, e.t_ms, e.mono_ns, e.test,"
    " e.quality FROM events e LEFT JOIN points p ON p.id = e.point;"
    "DROP VIEW event_log;"
    "DROP TABLE events;"
    "ALTER TABLE events_v4 RENAME TO events;"
    "CREATE VIEW event_log AS SELECT e.seq, e.target, e.type, e.event, e.limit_name,"
    " e.from_state, e.to_state, e.priority, e.condition, e.first_out, e.value,"
    " e.setpoint, e.t_ms, e.test, q.name AS quality, e.user, e.reason, e.status"
    " FROM events e LEFT JOIN qualities q ON q.code = e.quality;"
    "CREATE TABLE alarms(key TEXT PRIMARY KEY, target TEXT NOT NULL,"
    " limit_name TEXT NOT NULL, area TEXT, state INTEGER NOT NULL,"
    " shelve INTEGER NOT NULL, priority INTEGER NOT NULL, flags INTEGER NOT NULL,"
    " seq INTEGER NOT NULL, value REAL, setpoint REAL, since_ms INTEGER NOT NULL,"
    " active_ms INTEGER NOT NULL, shelve_until_ms INTEGER NOT NULL);"
    "CREATE TABLE audit(id INTEGER PRIMARY KEY AUTOINCREMENT, t_ms INTEGER NOT NULL,"
    " user TEXT NOT NULL, source TEXT NOT NULL, action TEXT NOT NULL, target TEXT,"
    " limit_name TEXT, result TEXT NOT NULL, reason TEXT, seq INTEGER);";

/* The steps from each version to the next; step i takes version i to i + 1. */
static const char *const *const store_steps[STORE_SCHEMA_VERSION] = {
    &store_schema_v1,
    &store_schema_v2,
    &store_schema_v3,
    &store_schema_v4,
};

/*
 * Bring the file to STORE_SCHEMA_VERSION one step at a time, each step and its version
 * number in one transaction, so a power cut between steps leaves a file at a version
 * this code knows how to continue from.
 */
static int migrate(struct store *st)
{
    int64_t version = 0;
    int rc;

    rc = pragma_int(st, "PRAGMA user_version", &version);
    while (rc == 0 && version < STORE_SCHEMA_VERSION) {
        char bump[48];

        (void)snprintf(bump, sizeof(bump), "PRAGMA user_version = %lld",
                       (long long)version + 1);
        rc = exec(st, "BEGIN IMMEDIATE");
        if (rc < 0)
            break;
        rc = exec(st, *store_steps[version]);
        if (rc == 0)
            rc = exec(st, bump);
        if (rc == 0)
            rc = exec(st, "COMMIT");
        if (rc < 0)
            (void)exec(st, "ROLLBACK");
        else
            version++;
    }
    return rc;
}

/*
 * The qualities table names the codes stored in readings.quality. Codes are only ever
 * appended, never renumbered, so rewriting the names at every open keeps a file written
 * by an older version readable and complete.
 */
static int register_qualities(struct store *st)
{
    int rc = 0;

    for (unsigned q = 0; rc == 0 && q < MSG_Q_COUNT; q++) {
        char sql[128];

        (void)snprintf(sql, sizeof(sql),
                       "INSERT OR REPLACE INTO qualities VALUES (%u, '%s')", q,
                       msg_quality_name(q));
        rc = exec(st, sql);
    }
    return rc;
}

static int register_points(struct store *st, const struct config *cfg)
{
    sqlite3_stmt *ins = NULL, *sel = NULL;
    int rc;

    st->point_rowid = calloc(cfg->n_points ? cfg->n_points : 1, sizeof(*st->point_rowid));
    if (st->point_rowid == NULL)
        return -ENOMEM;
    st->n_points = cfg->n_points;
    rc = sqlite3_prepare_v2(st->db, "INSERT OR IGNORE INTO points(name) VALUES (?1)", -1,
                            &ins, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(st->db, "SELECT id FROM points WHERE name = ?1", -1, &sel,
                                NULL);
    if (rc != SQLITE_OK)
        goto out;
    for (size_t i = 0; i < cfg->n_points; i++) {
        (void)sqlite3_bind_text(ins, 1, cfg->points[i].id, -1, SQLITE_STATIC);
        rc = sqlite3_step(ins);
        (void)sqlite3_reset(ins);
        if (rc != SQLITE_DONE)
            goto out;
        (void)sqlite3_bind_text(sel, 1, cfg->points[i].id, -1, SQLITE_STATIC);
        rc = sqlite3_step(sel);
        if (rc != SQLITE_ROW) {
            (void)sqlite3_reset(sel);
            rc = rc == SQLITE_DONE ? SQLITE_CORRUPT
                                   : rc; /* just inserted, so it must exist */
            goto out;
        }
        st->point_rowid[i] = sqlite3_column_int64(sel, 0);
        (void)sqlite3_reset(sel);
    }
    rc = SQLITE_OK;
out:
    if (rc != SQLITE_OK)
        log_error("store: registering points: %s", sqlite3_errmsg(st->db));
    (void)sqlite3_finalize(ins);
    (void)sqlite3_finalize(sel);
    return errno_of(rc);
}

int store_open(const char *path, const struct config *cfg, struct store **out)
{
    struct store *st;
    int rc;

    *out = NULL;
    st = calloc(1, sizeof(*st));
    if (st == NULL)
        return -ENOMEM;
    st->cfg = cfg;
    /*
     * FULLMUTEX costs nothing measurable here and protects us if a future change ever
     * lets a second thread near the handle by mistake; NOFOLLOW refuses a symlinked path.
     */
    rc = sqlite3_open_v2(path, &st->db,
                         SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                             SQLITE_OPEN_FULLMUTEX | SQLITE_OPEN_NOFOLLOW,
                         NULL);
    if (rc != SQLITE_OK) {
        log_error("store: cannot open %s: %s", path,
                  st->db != NULL ? sqlite3_errmsg(st->db) : sqlite3_errstr(rc));
        rc = errno_of(rc);
        goto fail;
    }
    (void)sqlite3_extended_result_codes(st->db, 1);
    /* A checkpoint or a backup may hold the file briefly; wait rather than fail. */
    (void)sqlite3_busy_timeout(st->db, 2000);
    /* Refuse a newer schema before changing anything about the file, journal mode too. */
    rc = check_version(st);
    if (rc == 0)
        rc = exec(st, "PRAGMA journal_mode=WAL");
    if (rc == 0)
        rc = exec(st, "PRAGMA synchronous=FULL");
    if (rc == 0)
        rc = exec(st, "PRAGMA foreign_keys=ON");
    if (rc == 0)
        rc = migrate(st);
    if (rc == 0)
        rc = register_qualities(st);
    if (rc == 0)
        rc = register_points(st, cfg);
    if (rc < 0)
        goto fail;
    st->durable = true;

#define STORE_STMT_PREPARE(name, sql)                                                    \
    if (sqlite3_prepare_v3(st->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st->name,        \
                           NULL) != SQLITE_OK) {                                         \
        log_error("store: preparing %s: %s", #name, sqlite3_errmsg(st->db));             \
        rc = -EIO;                                                                       \
        goto fail;                                                                       \
    }
    STORE_STMT_MAP(STORE_STMT_PREPARE)
#undef STORE_STMT_PREPARE

    *out = st;
    return 0;

fail:
    store_close(st);
    return rc;
}

void store_close(struct store *st)
{
    if (st == NULL)
        return;
#define STORE_STMT_FINALIZE(name, sql) (void)sqlite3_finalize(st->name);
    STORE_STMT_MAP(STORE_STMT_FINALIZE)
#undef STORE_STMT_FINALIZE
    if (st->db != NULL && sqlite3_close(st->db) != SQLITE_OK)
        log_error("store: close: %s", sqlite3_errmsg(st->db));
    free(st->point_rowid);
    free(st);
}

int store_last_seq(struct store *st, uint64_t *seq)
{
    int rc = sqlite3_step(st->last_seq);

    if (rc == SQLITE_ROW)
        *seq = (uint64_t)sqlite3_column_int64(st->last_seq, 0);
    (void)sqlite3_reset(st->last_seq);
    if (rc != SQLITE_ROW) {
        log_error("store: reading last sequence number: %s", sqlite3_errmsg(st->db));
        return errno_of(rc);
    }
    return 0;
}

int store_begin(struct store *st, bool durable)
{
    int rc;

    /* synchronous is per connection and cannot change inside a transaction. */
    if (durable != st->durable) {
        rc = step_done(st, durable ? st->sync_full : st->sync_normal, "synchronous");
        if (rc < 0)
            return rc;
        st->durable = durable;
    }
    return step_done(st, st->begin, "begin");
}

int store_commit(struct store *st)
{
    return step_done(st, st->commit, "commit");
}

void store_rollback(struct store *st)
{
    /* After some errors SQLite has already rolled back; that is not a new failure. */
    if (!sqlite3_get_autocommit(st->db))
        (void)step_done(st, st->rollback, "rollback");
}

int store_add_reading(struct store *st, const struct msg_sample *s)
{
    sqlite3_stmt *q = st->add_reading;

    if (s->point >= st->n_points)
        return -EINVAL;
    (void)sqlite3_bind_int64(q, 1, st->point_rowid[s->point]);
    (void)sqlite3_bind_int64(q, 2, s->utc_ms);
    if (s->quality == MSG_Q_GOOD)
        (void)sqlite3_bind_double(q, 3, s->value);
    else
        (void)sqlite3_bind_null(q, 3); /* a bad sample has no value, not a zero */
    (void)sqlite3_bind_int(q, 4, s->quality);
    (void)sqlite3_bind_int(q, 5, s->raw);
    return step_done(st, q, "add reading");
}

/* SQLite would store a NaN as NULL anyway; say so explicitly. */
static void bind_real_or_null(sqlite3_stmt *q, int i, double v)
{
    if (isnan(v))
        (void)sqlite3_bind_null(q, i);
    else
        (void)sqlite3_bind_double(q, i, v);
}

/* A silence, done or refused: about an area (or all of them) and no limit. */
static bool is_silence(const struct msg_event *ev)
{
    return ev->type == MSG_EV_SILENCE ||
           (ev->type == MSG_EV_REJECTED && ev->event == MSG_CMD_SILENCE);
}

/* Whether ev->point is an area index (or MSG_POINT_ALL) rather than a point index. */
static bool about_area(const struct msg_event *ev)
{
    return ev->limit == MSG_LIMIT_VOTE || is_silence(ev);
}

/* What an event is about: its point's id, its area's id for a vote or silence, or "*". */
static const char *target_of(const struct store *st, const struct msg_event *ev)
{
    const struct config *cfg = st->cfg;

    if (about_area(ev))
        return ev->point < cfg->n_areas ? cfg->areas[ev->point].id : "*";
    return ev->point < cfg->n_points ? cfg->points[ev->point].id : "*";
}

static const char *const type_names[MSG_EV_TYPE_COUNT] = {"alarm", "rejected", "silence",
                                                          "maintenance", "resync"};
static const char *const source_names[MSG_SRC_COUNT] = {"local", "mqtt"};

static const char *event_name(const struct msg_event *ev)
{
    if (ev->type == MSG_EV_RESYNC)
        return "resync";
    if (ev->type == MSG_EV_ALARM)
        return alarm_event_name(ev->event);
    if (ev->type == MSG_EV_MAINT)
        return (ev->flags & MSG_F_CONDITION) ? "enter" : "leave";
    return msg_cmd_name(ev->event);
}

static void bind_text_or_null(sqlite3_stmt *q, int i, const char *text)
{
    if (text == NULL || text[0] == '\0')
        (void)sqlite3_bind_null(q, i);
    else
        (void)sqlite3_bind_text(q, i, text, -1, SQLITE_TRANSIENT);
}

/* An operator action, accepted or not, for the audit table. */
static int add_action(struct store *st, const struct msg_event *ev, const char *target)
{
    sqlite3_stmt *q = st->add_audit;
    const char *result;

    if (ev->type == MSG_EV_REJECTED)
        result = alarm_reason_name((unsigned)-ev->status);
    else
        result = ev->type == MSG_EV_SILENCE ? (ev->status == 0 ? "accepted" : "no_change")
                 : ev->from == ev->to       ? "no_change"
                                            : "accepted";
    (void)sqlite3_bind_int64(q, 1, ev->utc_ms);
    (void)sqlite3_bind_text(q, 2, ev->user, -1, SQLITE_TRANSIENT);
    (void)sqlite3_bind_text(q, 3,
                            ev->source < MSG_SRC_COUNT ? source_names[ev->source] : "?",
                            -1, SQLITE_STATIC);
    (void)sqlite3_bind_text(q, 4, event_name(ev), -1, SQLITE_STATIC);
    (void)sqlite3_bind_text(q, 5, target, -1, SQLITE_TRANSIENT);
    if (is_silence(ev))
        (void)sqlite3_bind_null(q, 6);
    else
        (void)sqlite3_bind_text(q, 6, msg_limit_name(ev->limit), -1, SQLITE_STATIC);
    (void)sqlite3_bind_text(q, 7, result, -1, SQLITE_STATIC);
    bind_text_or_null(q, 8, ev->reason);
    (void)sqlite3_bind_int64(q, 9, (int64_t)ev->seq);
    return step_done(st, q, "add audit record");
}

/* Keep the alarms table in step with an alarm event: the state a restart resumes. */
static int put_alarm(struct store *st, const struct msg_event *ev, const char *target)
{
    const struct config *cfg = st->cfg;
    char key[2 * CONFIG_ID_LEN + 16];
    sqlite3_stmt *q;
    const char *area = NULL;

    (void)snprintf(key, sizeof(key), "%s/%s", target, msg_limit_name(ev->limit));
    if (ev->to == ALARM_NORMAL && !(ev->flags & MSG_F_CONDITION)) {
        q = st->del_alarm;
        (void)sqlite3_bind_text(q, 1, key, -1, SQLITE_TRANSIENT);
        return step_done(st, q, "delete alarm state");
    }
    if (ev->limit == MSG_LIMIT_VOTE)
        area = target;
    else if (ev->point < cfg->n_points && cfg->points[ev->point].area < cfg->n_areas)
        area = cfg->areas[cfg->points[ev->point].area].id;
    q = st->put_alarm;
    (void)sqlite3_bind_text(q, 1, key, -1, SQLITE_TRANSIENT);
    (void)sqlite3_bind_text(q, 2, target, -1, SQLITE_TRANSIENT);
    (void)sqlite3_bind_text(q, 3, msg_limit_name(ev->limit), -1, SQLITE_STATIC);
    bind_text_or_null(q, 4, area);
    (void)sqlite3_bind_int(q, 5, ev->to);
    (void)sqlite3_bind_int(q, 6, ev->shelve);
    (void)sqlite3_bind_int(q, 7, ev->priority);
    (void)sqlite3_bind_int(q, 8, ev->flags);
    (void)sqlite3_bind_int64(q, 9, (int64_t)ev->seq);
    bind_real_or_null(q, 10, ev->value);
    bind_real_or_null(q, 11, ev->setpoint);
    (void)sqlite3_bind_int64(q, 12, ev->since_utc_ms);
    (void)sqlite3_bind_int64(q, 13, ev->active_utc_ms);
    (void)sqlite3_bind_int64(q, 14, ev->shelve_until_utc_ms);
    return step_done(st, q, "save alarm state");
}

int store_add_event(struct store *st, const struct msg_event *ev, const char *topic,
                    const char *payload, size_t payload_len, int qos)
{
    sqlite3_stmt *q = st->add_event;
    const char *target = target_of(st, ev);
    bool on_point = !about_area(ev) && ev->point < st->n_points;
    bool alarm = (ev->type == MSG_EV_ALARM || ev->type == MSG_EV_RESYNC ||
                  ev->type == MSG_EV_REJECTED) &&
                 !is_silence(ev);
    int rc;

    /*
     * An alarm or maintenance event names a point (or an area, for a vote) of this
     * config. A refused command may name anything: its source's mistake is journalled,
     * under target "*", rather than blocking the journal behind it.
     */
    if (ev->type >= MSG_EV_TYPE_COUNT ||
        ((ev->type == MSG_EV_ALARM || ev->type == MSG_EV_RESYNC ||
          ev->type == MSG_EV_MAINT) &&
         (ev->limit == MSG_LIMIT_VOTE ? ev->point >= st->cfg->n_areas : !on_point)))
        return -EINVAL;
    (void)sqlite3_bind_int64(q, 1, (int64_t)ev->seq);
    if (on_point)
        (void)sqlite3_bind_int64(q, 2, st->point_rowid[ev->point]);
    else
        (void)sqlite3_bind_null(q, 2);
    (void)sqlite3_bind_text(q, 3, target, -1, SQLITE_TRANSIENT);
    (void)sqlite3_bind_text(q, 4, type_names[ev->type], -1, SQLITE_STATIC);
    (void)sqlite3_bind_text(q, 5, event_name(ev), -1, SQLITE_STATIC);
    if (is_silence(ev))
        (void)sqlite3_bind_null(q, 6);
    else
        (void)sqlite3_bind_text(q, 6, msg_limit_name(ev->limit), -1, SQLITE_STATIC);
    if (alarm && ev->from < ALARM_STATE_COUNT)
        (void)sqlite3_bind_text(q, 7, alarm_state_name(ev->from), -1, SQLITE_STATIC);
    else
        (void)sqlite3_bind_null(q, 7);
    if (alarm)
        (void)sqlite3_bind_text(q, 8, alarm_state_name(ev->to), -1, SQLITE_STATIC);
    else
        (void)sqlite3_bind_null(q, 8);
    if (alarm && ev->priority != 0)
        (void)sqlite3_bind_int(q, 9, ev->priority);
    else
        (void)sqlite3_bind_null(q, 9);
    (void)sqlite3_bind_int(q, 10, (ev->flags & MSG_F_CONDITION) != 0);
    (void)sqlite3_bind_int(q, 11, (ev->flags & MSG_F_FIRST_OUT) != 0);
    bind_real_or_null(q, 12, ev->value);
    bind_real_or_null(q, 13, ev->setpoint);
    bind_real_or_null(q, 14, ev->deadband);
    (void)sqlite3_bind_int64(q, 15, ev->utc_ms);
    (void)sqlite3_bind_int64(q, 16, ev->mono_ns);
    (void)sqlite3_bind_int(q, 17, (ev->flags & MSG_F_TEST) != 0);
    (void)sqlite3_bind_int(q, 18, ev->quality < MSG_Q_COUNT ? ev->quality : MSG_Q_GOOD);
    bind_text_or_null(q, 19, ev->user);
    bind_text_or_null(q, 20, ev->reason);
    if (ev->user[0] != '\0' && ev->source < MSG_SRC_COUNT)
        (void)sqlite3_bind_text(q, 21, source_names[ev->source], -1, SQLITE_STATIC);
    else
        (void)sqlite3_bind_null(q, 21);
    if (ev->type == MSG_EV_REJECTED)
        (void)sqlite3_bind_text(q, 22, alarm_reason_name((unsigned)-ev->status), -1,
                                SQLITE_STATIC);
    else
        (void)sqlite3_bind_null(q, 22);
    rc = step_done(st, q, "add event");
    if (rc == 0 && (ev->type == MSG_EV_ALARM || ev->type == MSG_EV_RESYNC))
        rc = put_alarm(st, ev, target);
    if (rc == 0 && ev->user[0] != '\0')
        rc = add_action(st, ev, target);
    if (rc < 0 || topic == NULL)
        return rc;

    q = st->add_outbox;
    (void)sqlite3_bind_text(q, 1, topic, -1, SQLITE_STATIC);
    (void)sqlite3_bind_blob(q, 2, payload, (int)payload_len, SQLITE_STATIC);
    (void)sqlite3_bind_int(q, 3, qos);
    (void)sqlite3_bind_int64(q, 4, ev->utc_ms);
    (void)sqlite3_bind_int64(q, 5, (int64_t)ev->seq);
    return step_done(st, q, "add outbox row");
}

int store_add_audit(struct store *st, int64_t utc_ms, const char *user,
                    const char *action, const char *target, const char *result,
                    const char *reason)
{
    sqlite3_stmt *q = st->add_audit;

    (void)sqlite3_bind_int64(q, 1, utc_ms);
    (void)sqlite3_bind_text(q, 2, user, -1, SQLITE_TRANSIENT);
    (void)sqlite3_bind_text(q, 3, "config", -1, SQLITE_STATIC);
    (void)sqlite3_bind_text(q, 4, action, -1, SQLITE_TRANSIENT);
    bind_text_or_null(q, 5, target);
    (void)sqlite3_bind_null(q, 6);
    (void)sqlite3_bind_text(q, 7, result, -1, SQLITE_TRANSIENT);
    bind_text_or_null(q, 8, reason);
    (void)sqlite3_bind_null(q, 9);
    return step_done(st, q, "add audit record");
}

int store_load_alarms(struct store *st, int (*fn)(void *arg, const struct store_alarm *a),
                      void *arg)
{
    sqlite3_stmt *q = st->get_alarms;
    int rc, cb = 0;

    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        struct store_alarm a = {0};
        const unsigned char *t = sqlite3_column_text(q, 0);
        const unsigned char *l = sqlite3_column_text(q, 1);

        (void)snprintf(a.target, sizeof(a.target), "%s", t ? (const char *)t : "");
        (void)snprintf(a.limit, sizeof(a.limit), "%s", l ? (const char *)l : "");
        a.state = sqlite3_column_int(q, 2);
        a.shelve = sqlite3_column_int(q, 3);
        a.priority = sqlite3_column_int(q, 4);
        a.flags = sqlite3_column_int(q, 5);
        a.seq = (uint64_t)sqlite3_column_int64(q, 6);
        a.value = sqlite3_column_type(q, 7) == SQLITE_NULL ? (double)NAN
                                                           : sqlite3_column_double(q, 7);
        a.setpoint = sqlite3_column_type(q, 8) == SQLITE_NULL
                         ? (double)NAN
                         : sqlite3_column_double(q, 8);
        a.since_ms = sqlite3_column_int64(q, 9);
        a.active_ms = sqlite3_column_int64(q, 10);
        a.shelve_until_ms = sqlite3_column_int64(q, 11);
        cb = fn(arg, &a);
        if (cb != 0)
            break;
    }
    (void)sqlite3_reset(q);
    if (cb != 0)
        return cb;
    if (rc != SQLITE_DONE) {
        log_error("store: reading alarm states: %s", sqlite3_errmsg(st->db));
        return errno_of(rc);
    }
    return 0;
}

int store_mark_delivered(struct store *st, int64_t id, int64_t utc_ms)
{
    (void)sqlite3_bind_int64(st->delivered, 1, id);
    (void)sqlite3_bind_int64(st->delivered, 2, utc_ms);
    return step_done(st, st->delivered, "mark delivered");
}

int store_outbox_next(struct store *st, int64_t after_id, struct msg_outbox *out)
{
    sqlite3_stmt *q = st->outbox_next;
    const void *blob;
    const unsigned char *topic;
    int rc, len;

    (void)sqlite3_bind_int64(q, 1, after_id);
    rc = sqlite3_step(q);
    if (rc == SQLITE_DONE) {
        (void)sqlite3_reset(q);
        return 0;
    }
    if (rc != SQLITE_ROW) {
        log_error("store: reading outbox: %s", sqlite3_errmsg(st->db));
        (void)sqlite3_reset(q);
        return errno_of(rc);
    }
    memset(out, 0, sizeof(*out));
    out->id = sqlite3_column_int64(q, 0);
    topic = sqlite3_column_text(q, 1);
    blob = sqlite3_column_blob(q, 2);
    len = sqlite3_column_bytes(q, 2);
    out->qos = (uint8_t)sqlite3_column_int(q, 3);
    out->retained = sqlite3_column_int(q, 4) != 0;
    if (topic != NULL)
        (void)snprintf(out->topic, sizeof(out->topic), "%s", (const char *)topic);
    if (len < 0 || (size_t)len > sizeof(out->payload))
        len = 0; /* cannot happen: the recorder never stores a longer payload */
    if (len > 0 && blob != NULL)
        memcpy(out->payload, blob, (size_t)len);
    out->payload_len = (uint16_t)len;
    (void)sqlite3_reset(q);
    return 1;
}
