/*
 * payload: the MQTT wire contract, encoded with cJSON. Pure: no I/O, no logging.
 *
 * Every JSON tree is built, printed and freed inside this module; callers get bytes in a
 * buffer they own. The alarm event payload (schema 1) is documented in docs/mqtt.md.
 */
#ifndef PG_PAYLOAD_H
#define PG_PAYLOAD_H

#include <stddef.h>

#include "config.h"
#include "msg.h"
#include "poller.h"
#include "recorder.h"
#include "rtloop.h"
#include "uplink.h"

#define PAYLOAD_SCHEMA 2

/*
 * Write the topic of a journal event into buf: "<prefix>/alarm/<point id>" for an alarm
 * of a point, "<prefix>/alarm/area/<area id>" for an area's vote, "<prefix>/silence"
 * and "<prefix>/maintenance/<point id>". Returns its length; 0 for an event that is not
 * published (a refused command, which is audited only; a resync that changes no state,
 * which only rewrites the store's record); -ENOSPC if it does not fit;
 * -EINVAL for an event naming no point or area of cfg.
 */
int payload_event_topic(const struct config *cfg, const struct msg_event *ev, char *buf,
                        size_t len);

/*
 * Write utc_ms as ISO 8601 UTC with milliseconds ("2026-11-28T10:38:22.460Z") into buf,
 * which needs 25 bytes for any year of four digits. People read these in the control
 * room; a clock before 1970 still gives a well-formed time.
 */
void payload_iso8601(int64_t utc_ms, char *buf, size_t len);

/* Write the status topic "<prefix>/status". Returns its length or -ENOSPC. */
int payload_status_topic(const struct config *cfg, char *buf, size_t len);

/*
 * Encode a published journal event (an alarm step, a silence, a maintenance change) as
 * compact JSON into buf (schema 2, docs/mqtt.md). Returns the length (not counting the
 * NUL), -ENOSPC if it does not fit, -EINVAL for a refused command or an event naming no
 * point or area of cfg, or -ENOMEM.
 */
int payload_alarm_event(const struct config *cfg, const struct msg_event *ev, char *buf,
                        size_t len);

/* Write the metrics topic "<prefix>/metrics". Returns its length or -ENOSPC. */
int payload_metrics_topic(const struct config *cfg, char *buf, size_t len);

/* Snapshots of every thread's counters, taken by the caller. */
struct payload_metrics {
    int64_t utc_ms;
    int64_t uptime_s;
    struct rtloop_stats rt;
    struct recorder_stats rec;
    bool has_kpi;
    struct kpi_figures kpi; /* the alarm KPIs, when has_kpi */
    struct uplink_stats up;
    size_t n_buses;
    const struct poller_stats *bus; /* [n_buses] */
    size_t n_devices;
    const struct poller_device_stats *dev; /* [n_devices], any bus order */
};

/*
 * Encode the gateway's metrics as compact JSON: the RT loop's lateness figures, per-bus
 * and per-device acquisition counters, the recorder's and the uplink's. Returns a string
 * the caller frees with free(), or NULL when out of memory.
 */
char *payload_metrics_json(const struct config *cfg, const struct payload_metrics *m);

#endif
