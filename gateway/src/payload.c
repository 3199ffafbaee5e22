#include "payload.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

static int fit(int n, size_t len)
{
    return n < 0 || (size_t)n >= len ? -ENOSPC : n;
}

int payload_alarm_topic(const struct config *cfg, size_t point, char *buf, size_t len)
{
    return fit(
        snprintf(buf, len, "%s/alarm/%s", cfg->mqtt.topic_prefix, cfg->points[point].id),
        len);
}

int payload_status_topic(const struct config *cfg, char *buf, size_t len)
{
    return fit(snprintf(buf, len, "%s/status", cfg->mqtt.topic_prefix), len);
}

/* ISO 8601 UTC with milliseconds: people read these in the control room. */
static void iso8601(int64_t utc_ms, char *buf, size_t len)
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

int payload_alarm_event(const struct config *cfg, const struct msg_event *ev, char *buf,
                        size_t len)
{
    const struct config_point *pt = &cfg->points[ev->point];
    char ts[40];
    cJSON *o = cJSON_CreateObject();
    int rc = -ENOMEM;

    if (o == NULL)
        return -ENOMEM;
    iso8601(ev->utc_ms, ts, sizeof(ts));
    /*
     * cJSON prints numbers with 15 significant digits, so integers are exact below
     * 10^15: far beyond any sequence number or millisecond timestamp of our lifetime.
     */
    if (cJSON_AddNumberToObject(o, "schema", PAYLOAD_SCHEMA) == NULL ||
        cJSON_AddStringToObject(o, "gateway", cfg->gateway.id) == NULL ||
        cJSON_AddStringToObject(o, "site", cfg->gateway.site) == NULL ||
        cJSON_AddNumberToObject(o, "seq", (double)ev->seq) == NULL ||
        cJSON_AddStringToObject(o, "point", pt->id) == NULL ||
        cJSON_AddStringToObject(o, "device", cfg->devices[pt->device].id) == NULL ||
        cJSON_AddStringToObject(o, "area", cfg->areas[pt->area].id) == NULL ||
        cJSON_AddStringToObject(o, "limit", "high") == NULL ||
        cJSON_AddStringToObject(o, "event",
                                ev->kind == MSG_EVENT_ACTIVATED ? "activated"
                                                                : "cleared") == NULL ||
        cJSON_AddBoolToObject(o, "active", ev->kind == MSG_EVENT_ACTIVATED) == NULL ||
        cJSON_AddNumberToObject(o, "value", ev->value) == NULL ||
        cJSON_AddNumberToObject(o, "setpoint", ev->setpoint) == NULL ||
        cJSON_AddNumberToObject(o, "deadband", ev->deadband) == NULL ||
        cJSON_AddStringToObject(o, "unit", pt->unit) == NULL ||
        cJSON_AddStringToObject(o, "ts", ts) == NULL ||
        cJSON_AddNumberToObject(o, "ts_ms", (double)ev->utc_ms) == NULL)
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
