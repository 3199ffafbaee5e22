#include "payload.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

static int fit(int n, size_t len)
{
    return n < 0 || (size_t)n >= len ? -ENOSPC : n;
}

int payload_event_topic(const struct config *cfg, const struct msg_event *ev, char *buf,
                        size_t len)
{
    const char *pre = cfg->mqtt.topic_prefix;

    /*
     * A resync that changes no state only rewrites the store's record (an alarm that
     * lost its area's first-out, which the new holder's own message already tells).
     */
    if (ev->type == MSG_EV_RESYNC && ev->from == ev->to)
        return 0;
    switch (ev->type) {
    case MSG_EV_ALARM:
    case MSG_EV_RESYNC:
        if (ev->limit == MSG_LIMIT_VOTE)
            return ev->point < cfg->n_areas ? fit(snprintf(buf, len, "%s/alarm/area/%s",
                                                           pre, cfg->areas[ev->point].id),
                                                  len)
                                            : -EINVAL;
        /* fall through */
    case MSG_EV_MAINT:
        if (ev->point >= cfg->n_points)
            return -EINVAL;
        return fit(snprintf(buf, len, "%s/%s/%s", pre,
                            ev->type == MSG_EV_MAINT ? "maintenance" : "alarm",
                            cfg->points[ev->point].id),
                   len);
    case MSG_EV_SILENCE:
        return fit(snprintf(buf, len, "%s/silence", pre), len);
    default:
        return 0; /* refused commands are audited, not published */
    }
}

int payload_status_topic(const struct config *cfg, char *buf, size_t len)
{
    return fit(snprintf(buf, len, "%s/status", cfg->mqtt.topic_prefix), len);
}

/* ISO 8601 UTC with milliseconds: people read these in the control room. */
void payload_iso8601(int64_t utc_ms, char *buf, size_t len)
{
    /* Floor division: a clock set before 1970 must still print a valid time. */
    int64_t ms = utc_ms % 1000 < 0 ? utc_ms % 1000 + 1000 : utc_ms % 1000;
    time_t sec = (time_t)((utc_ms - ms) / 1000);
    struct tm tm;
    size_t n;

    (void)gmtime_r(&sec, &tm);
    n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
    (void)snprintf(buf + n, len - n, ".%03dZ", (int)ms);
}

static bool add_str(cJSON *o, const char *k, const char *v)
{
    return cJSON_AddStringToObject(o, k, v) != NULL;
}

static bool add_num(cJSON *o, const char *k, double v)
{
    return cJSON_AddNumberToObject(o, k, v) != NULL;
}

static bool add_bool(cJSON *o, const char *k, bool v)
{
    return cJSON_AddBoolToObject(o, k, v) != NULL;
}

/* A NaN (no good value yet; no set-point for a fault) goes on the wire as null. */
static bool add_num_or_null(cJSON *o, const char *k, double v)
{
    return isnan(v) ? cJSON_AddNullToObject(o, k) != NULL : add_num(o, k, v);
}

/* What the event is about: the point and its device and area, or a voting area. */
static bool add_subject(cJSON *o, const struct config *cfg, const struct msg_event *ev)
{
    if (ev->type == MSG_EV_SILENCE)
        return add_str(o, "area",
                       ev->point < cfg->n_areas ? cfg->areas[ev->point].id : "*");
    if (ev->limit == MSG_LIMIT_VOTE)
        return cJSON_AddNullToObject(o, "point") != NULL &&
               cJSON_AddNullToObject(o, "device") != NULL &&
               add_str(o, "area", cfg->areas[ev->point].id) && add_str(o, "unit", "");

    const struct config_point *pt = &cfg->points[ev->point];

    return add_str(o, "point", pt->id) &&
           add_str(o, "device", cfg->devices[pt->device].id) &&
           add_str(o, "area", cfg->areas[pt->area].id) && add_str(o, "unit", pt->unit);
}

static bool add_alarm_fields(cJSON *o, const struct msg_event *ev)
{
    char ts[40];
    bool ok =
        add_str(o, "limit", msg_limit_name(ev->limit)) &&
        add_str(o, "event",
                ev->type == MSG_EV_RESYNC ? "resync" : alarm_event_name(ev->event)) &&
        (ev->from < ALARM_STATE_COUNT ? add_str(o, "from", alarm_state_name(ev->from))
                                      : cJSON_AddNullToObject(o, "from") != NULL) &&
        add_str(o, "to", alarm_state_name(ev->to)) &&
        add_bool(o, "active", alarm_state_active(ev->to)) &&
        add_bool(o, "condition", (ev->flags & MSG_F_CONDITION) != 0) &&
        add_num(o, "priority", ev->priority) &&
        add_bool(o, "first_out", (ev->flags & MSG_F_FIRST_OUT) != 0) &&
        add_bool(o, "annunciate", (ev->flags & MSG_F_ANNUNCIATE) != 0) &&
        add_bool(o, "latching", (ev->flags & MSG_F_LATCHING) != 0) &&
        add_str(o, "quality", msg_quality_name(ev->quality)) &&
        add_num_or_null(o, "value", ev->value) &&
        add_num_or_null(o, "setpoint", ev->setpoint) &&
        add_num_or_null(o, "deadband", ev->deadband) &&
        add_num(o, "since_ms", (double)ev->since_utc_ms);

    if (ok && ev->to == ALARM_SHELVED) {
        payload_iso8601(ev->shelve_until_utc_ms, ts, sizeof(ts));
        ok = add_str(o, "shelved_until", ts);
    }
    if (ok && (ev->flags & MSG_F_RECOVERED))
        ok = add_bool(o, "recovered", true);
    return ok;
}

int payload_alarm_event(const struct config *cfg, const struct msg_event *ev, char *buf,
                        size_t len)
{
    static const char *const types[MSG_EV_TYPE_COUNT] = {"alarm", "rejected", "silence",
                                                         "maintenance", "resync"};
    char ts[40];
    cJSON *o;
    bool ok;
    int rc = -ENOMEM;

    if (ev->type >= MSG_EV_TYPE_COUNT || ev->type == MSG_EV_REJECTED ||
        (ev->type != MSG_EV_SILENCE &&
         (ev->limit == MSG_LIMIT_VOTE ? ev->point >= cfg->n_areas
                                      : ev->point >= cfg->n_points)))
        return -EINVAL;
    o = cJSON_CreateObject();
    if (o == NULL)
        return -ENOMEM;
    payload_iso8601(ev->utc_ms, ts, sizeof(ts));
    /*
     * cJSON prints numbers with 15 significant digits, so integers are exact below
     * 10^15: far beyond any sequence number or millisecond timestamp of our lifetime.
     */
    ok = add_num(o, "schema", PAYLOAD_SCHEMA) && add_str(o, "type", types[ev->type]) &&
         add_str(o, "gateway", cfg->gateway.id) &&
         add_str(o, "site", cfg->gateway.site) && add_num(o, "seq", (double)ev->seq) &&
         add_subject(o, cfg, ev);
    if (ok && (ev->type == MSG_EV_ALARM || ev->type == MSG_EV_RESYNC))
        ok = add_alarm_fields(o, ev);
    if (ok && ev->type == MSG_EV_MAINT)
        ok = add_bool(o, "maintenance", (ev->flags & MSG_F_CONDITION) != 0) &&
             add_str(o, "quality", msg_quality_name(ev->quality));
    ok = ok && add_bool(o, "test", (ev->flags & MSG_F_TEST) != 0) &&
         add_str(o, "ts", ts) && add_num(o, "ts_ms", (double)ev->utc_ms) &&
         /* Whole ms: exact in a JSON double for any uptime, unlike ns after 104 days. */
         add_num(o, "mono_ms", (double)(ev->mono_ns / 1000000));
    if (ok && ev->user[0] != '\0')
        ok = add_str(o, "user", ev->user) && add_str(o, "reason", ev->reason);
    if (!ok)
        goto out;
    if (!cJSON_PrintPreallocated(o, buf, (int)(len > 5 ? len - 5 : 0), 0)) {
        /* cJSON asks for 5 spare bytes to be sure of its own bounds. */
        rc = -ENOSPC;
        goto out;
    }
    rc = (int)strlen(buf);
out:
    cJSON_Delete(o);
    return rc;
}

int payload_metrics_topic(const struct config *cfg, char *buf, size_t len)
{
    return fit(snprintf(buf, len, "%s/metrics", cfg->mqtt.topic_prefix), len);
}

/* cJSON reports allocation failure through NULL returns; one flag collects them all. */
static void num(cJSON *o, const char *k, double v, bool *ok)
{
    if (cJSON_AddNumberToObject(o, k, v) == NULL)
        *ok = false;
}

static cJSON *rt_json(const struct rtloop_stats *rt, const struct config *cfg, bool *ok)
{
    cJSON *o = cJSON_CreateObject(), *h = cJSON_CreateArray();

    if (o == NULL || h == NULL) {
        cJSON_Delete(o);
        cJSON_Delete(h);
        *ok = false;
        return NULL;
    }
    num(o, "period_ms", cfg->rt.period_ms, ok);
    if (cJSON_AddBoolToObject(o, "sched_fifo", rt->fifo) == NULL)
        *ok = false;
    num(o, "cycles", (double)rt->cycles, ok);
    num(o, "overruns", (double)rt->overruns, ok);
    num(o, "missed", (double)rt->missed, ok);
    num(o, "max_late_us", (double)(rt->max_late_ns / 1000), ok);
    num(o, "max_cycle_us", (double)(rt->max_exec_ns / 1000), ok);
    num(o, "samples", (double)rt->samples, ok);
    num(o, "events", (double)rt->events, ok);
    num(o, "readings_dropped", (double)rt->readings_dropped, ok);
    num(o, "event_backpressure", (double)rt->event_backpressure, ok);
    num(o, "journal_gaps", (double)rt->journal_gaps, ok);
    /* Bucket i counts wake-ups late by [2^(i-1), 2^i) microseconds; bucket 0 is < 1 us.
     */
    for (size_t i = 0; i < RTLOOP_HIST_BUCKETS; i++) {
        cJSON *n = cJSON_CreateNumber((double)rt->late_hist[i]);

        if (n == NULL || !cJSON_AddItemToArray(h, n)) {
            cJSON_Delete(n);
            *ok = false;
        }
    }
    if (!cJSON_AddItemToObject(o, "late_hist_log2_us", h)) {
        cJSON_Delete(h);
        *ok = false;
    }
    return o;
}

static cJSON *device_json(const struct config *cfg, const struct poller_device_stats *d,
                          bool *ok)
{
    cJSON *o = cJSON_CreateObject();

    if (o == NULL) {
        *ok = false;
        return NULL;
    }
    if (cJSON_AddStringToObject(o, "id", cfg->devices[d->device].id) == NULL ||
        cJSON_AddBoolToObject(o, "quarantined", d->quarantined) == NULL ||
        cJSON_AddBoolToObject(o, "comm_lost", d->comm_lost) == NULL)
        *ok = false;
    num(o, "requests", (double)d->requests, ok);
    num(o, "successes", (double)d->successes, ok);
    num(o, "timeouts", (double)d->timeouts, ok);
    num(o, "bad_frames", (double)d->bad_frames, ok);
    num(o, "exceptions", (double)d->exceptions, ok);
    num(o, "link_errors", (double)d->link_errors, ok);
    num(o, "skipped", (double)d->skipped, ok);
    num(o, "last_success_ms", (double)d->last_success_utc_ms, ok);
    num(o, "rtt_last_us", (double)d->rtt_last_us, ok);
    num(o, "rtt_avg_us", (double)d->rtt_avg_us, ok);
    num(o, "rtt_max_us", (double)d->rtt_max_us, ok);
    return o;
}

static void prio_array(cJSON *o, const char *k, const double *v, bool *ok)
{
    cJSON *a = cJSON_AddArrayToObject(o, k);

    for (size_t i = 0; a != NULL && i < KPI_PRIORITIES; i++) {
        cJSON *n = cJSON_CreateNumber(v[i]);

        if (n == NULL || !cJSON_AddItemToArray(a, n)) {
            cJSON_Delete(n);
            *ok = false;
        }
    }
    if (a == NULL)
        *ok = false;
}

/* The alarm system's figures: what the loop holds now and the KPIs of the journal. */
static void alarms_json(cJSON *o, const struct payload_metrics *m, bool *ok)
{
    const struct kpi_figures *k = &m->kpi;
    cJSON *x = cJSON_AddObjectToObject(o, "alarms");
    double v[KPI_PRIORITIES], w[KPI_PRIORITIES];

    if (x == NULL) {
        *ok = false;
        return;
    }
    num(x, "active", m->rt.alarms_active, ok);
    num(x, "unack", m->rt.alarms_unack, ok);
    num(x, "commands", (double)m->rt.commands, ok);
    num(x, "commands_rejected", (double)m->rt.commands_rejected, ok);
    num(x, "outputs", m->rt.outputs, ok);
    if (!m->has_kpi)
        return;
    for (size_t i = 0; i < KPI_PRIORITIES; i++) {
        v[i] = (double)k->rate_10min_by_priority[i];
        w[i] = (double)k->active_by_priority[i];
    }
    num(x, "rate_10min", (double)k->rate_10min, ok);
    prio_array(x, "rate_10min_by_priority", v, ok);
    num(x, "peak_10min", (double)k->peak_10min, ok);
    num(x, "annunciations", (double)k->annunciations, ok);
    if (cJSON_AddBoolToObject(x, "flood", k->in_flood) == NULL)
        *ok = false;
    num(x, "floods", (double)k->floods, ok);
    num(x, "flood_ms", (double)k->flood_ms, ok);
    num(x, "chattering", (double)k->chattering, ok);
    num(x, "chatter_episodes", (double)k->chatter_episodes, ok);
    prio_array(x, "active_by_priority", w, ok);
    num(x, "stale", (double)k->stale, ok);
    num(x, "shelved", (double)k->shelved, ok);
    num(x, "shelve_entries", (double)k->shelve_entries, ok);
    num(x, "shelved_ms", (double)k->shelved_ms, ok);
    num(x, "out_of_service", (double)k->out_of_service, ok);
    num(x, "oos_entries", (double)k->oos_entries, ok);
    num(x, "oos_ms", (double)k->oos_ms, ok);
}

char *payload_metrics_json(const struct config *cfg, const struct payload_metrics *m)
{
    cJSON *o = cJSON_CreateObject(), *buses = cJSON_CreateArray(), *x;
    bool ok = o != NULL && buses != NULL;
    char *out = NULL;

    if (!ok) {
        cJSON_Delete(o);
        cJSON_Delete(buses);
        return NULL;
    }
    num(o, "schema", PAYLOAD_SCHEMA, &ok);
    if (cJSON_AddStringToObject(o, "gateway", cfg->gateway.id) == NULL)
        ok = false;
    num(o, "ts_ms", (double)m->utc_ms, &ok);
    num(o, "uptime_s", (double)m->uptime_s, &ok);
    x = rt_json(&m->rt, cfg, &ok);
    if (x != NULL && !cJSON_AddItemToObject(o, "rt", x)) {
        cJSON_Delete(x);
        ok = false;
    }
    for (size_t b = 0; b < m->n_buses && ok; b++) {
        const struct poller_stats *ps = &m->bus[b];
        cJSON *bo = cJSON_CreateObject(), *devs = cJSON_CreateArray();

        if (bo == NULL || devs == NULL || !cJSON_AddItemToArray(buses, bo)) {
            cJSON_Delete(bo);
            cJSON_Delete(devs);
            ok = false;
            break;
        }
        if (cJSON_AddStringToObject(bo, "id", cfg->buses[b].id) == NULL ||
            cJSON_AddBoolToObject(bo, "connected", ps->connected) == NULL)
            ok = false;
        num(bo, "requests", (double)ps->requests, &ok);
        num(bo, "failures", (double)ps->failures, &ok);
        num(bo, "reconnects", (double)ps->reconnects, &ok);
        num(bo, "watchdog_resets", (double)ps->watchdog_resets, &ok);
        num(bo, "samples_dropped", (double)ps->samples_dropped, &ok);
        num(bo, "utilisation_pct", ps->utilisation_permille / 10.0, &ok);
        for (size_t i = 0; i < m->n_devices; i++) {
            if (cfg->devices[m->dev[i].device].bus != b)
                continue;
            x = device_json(cfg, &m->dev[i], &ok);
            if (x != NULL && !cJSON_AddItemToArray(devs, x)) {
                cJSON_Delete(x);
                ok = false;
            }
        }
        if (!cJSON_AddItemToObject(bo, "devices", devs)) {
            cJSON_Delete(devs);
            ok = false;
        }
    }
    if (!cJSON_AddItemToObject(o, "buses", buses)) {
        cJSON_Delete(buses);
        ok = false;
    }
    alarms_json(o, m, &ok);
    x = cJSON_AddObjectToObject(o, "recorder");
    if (x == NULL)
        ok = false;
    else {
        num(x, "events", (double)m->rec.events, &ok);
        num(x, "readings", (double)m->rec.readings, &ok);
        num(x, "readings_dropped", (double)m->rec.readings_dropped, &ok);
        num(x, "delivered", (double)m->rec.delivered, &ok);
        num(x, "write_errors", (double)m->rec.write_errors, &ok);
    }
    x = cJSON_AddObjectToObject(o, "uplink");
    if (x == NULL)
        ok = false;
    else {
        if (cJSON_AddBoolToObject(x, "connected", m->up.connected) == NULL)
            ok = false;
        num(x, "connects", (double)m->up.connects, &ok);
        num(x, "published", (double)m->up.published, &ok);
        num(x, "resent", (double)m->up.resent, &ok);
    }
    if (ok)
        out = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return out;
}
