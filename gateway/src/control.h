/*
 * control: the local command path, where safety officers act on alarms at the gateway.
 *
 * A thread of its own owns a unix stream socket (mode 0660, owned by the configured
 * group) and serves parkguardctl: one JSON request per line in, one JSON reply per line
 * out (docs/control.md). Every connection's peer credentials are checked when it is
 * accepted. A command is validated here (officer, point, limit, area, reason, shelve
 * length), turned into a struct msg_command carrying the officer's configured rights, and
 * pushed into this source's command ring; the real-time loop runs it through the alarm
 * state machine, journals it and answers with exactly one struct msg_cmd_result. The
 * thread waits for that answer, up to CONTROL_RESULT_TIMEOUT_MS, and replies with it.
 *
 * What it must never do: block the real-time loop (it only pushes to a ring and reads
 * snapshots), lose a command silently (a command that gets no answer in time is reported
 * to the client as "timeout", and its late answer is logged), or let one client hold the
 * others hostage for long (bounded lines, bounded clients, idle and write timeouts).
 *
 * Requests are served one at a time, in arrival order. The request decoder,
 * control_decode(), is separate from the socket and from the rings, so that other
 * command sources (MQTT, later) validate exactly as this one does.
 */
#ifndef PG_CONTROL_H
#define PG_CONTROL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "msg.h"
#include "rtloop.h"

#define CONTROL_LINE_MAX          4096   /* longest request, its newline included */
#define CONTROL_MAX_CLIENTS       8      /* connections at once; more are refused */
#define CONTROL_RESULT_TIMEOUT_MS 2000   /* wait for the RT loop's answer to a command */
#define CONTROL_IDLE_TIMEOUT_MS   30000  /* a connection silent this long is closed */
#define CONTROL_WRITE_TIMEOUT_MS  5000   /* a client not reading its reply is closed */
#define CONTROL_MAX_SHELVE_S      604800 /* duration_s; each alarm has its own max */
#define CONTROL_DETAIL_LEN        256

/*
 * The protocol's own errors, besides the alarm state machine's reasons
 * (alarm_reason_name()), which are the errors of commands the RT loop refused. Where both
 * lists mean the same thing the wire name is the same (not_authorised, bad_duration).
 * XX(enum suffix, wire name)
 */
#define CONTROL_ERROR_MAP(XX)                                                            \
    XX(BAD_REQUEST, "bad_request")         /* not JSON, wrong shape or type */           \
    XX(LINE_TOO_LONG, "line_too_long")     /* over CONTROL_LINE_MAX */                   \
    XX(UNKNOWN_COMMAND, "unknown_command") /* "cmd" is not one we know */                \
    XX(NOT_AUTHORISED, "not_authorised")   /* no officer, or not a configured one */     \
    XX(UNKNOWN_POINT, "unknown_point")     /* no point with that id */                   \
    XX(UNKNOWN_LIMIT, "unknown_limit")     /* not an alarm's limit name */               \
    XX(UNKNOWN_AREA, "unknown_area")       /* no area with that id */                    \
    XX(REASON_REQUIRED, "reason_required") /* shelve, oos and rts need a reason */       \
    XX(BAD_DURATION, "bad_duration")       /* shelve length missing or out of range */   \
    XX(BUSY, "busy")                       /* the command ring is full */                \
    XX(TIMEOUT, "timeout")                 /* no answer in time: may still apply */      \
    XX(PERMISSION_DENIED, "permission_denied") /* peer credentials refused */            \
    XX(TOO_MANY_CLIENTS, "too_many_clients")   /* CONTROL_MAX_CLIENTS reached */         \
    XX(INTERNAL, "internal_error")             /* out of memory, a record kept changing */

enum control_error {
    CONTROL_E_NONE = 0, /* keeps every code at 1 or more, like enum alarm_reason */
#define CONTROL_ERROR_ENUM(name, text) CONTROL_E_##name,
    CONTROL_ERROR_MAP(CONTROL_ERROR_ENUM)
#undef CONTROL_ERROR_ENUM
        CONTROL_E_COUNT
};

/* The wire name of an error; "invalid" when out of range. */
const char *control_error_name(unsigned e);

/* What a request asks for. */
enum control_verb {
    CONTROL_VERB_ALARMS,  /* the alarm list */
    CONTROL_VERB_STATUS,  /* gateway id and counts */
    CONTROL_VERB_COMMAND, /* an operator command: see cmd */
};

struct control_request {
    bool has_id;
    uint64_t id;  /* the client's "id", echoed in the reply */
    uint8_t verb; /* enum control_verb */
    /*
     * CONTROL_VERB_COMMAND: the command, complete but for req, which the source that
     * pushes it assigns. Its rights are the officer's configured rights; whether they
     * suffice is for the alarm state machine to say, so that a refusal is journalled.
     */
    struct msg_command cmd;
};

/*
 * Decode and validate one request (JSON text of len bytes, without its newline) against
 * cfg. source and now_utc_ms are stamped into the command. On success returns 0 and
 * fills *req. On failure returns -CONTROL_E_* and writes one sentence into detail;
 * req->has_id and req->id are still set when the request's "id" could be read, so that
 * the error reply can echo it. Pure: no I/O, no logging, no clock.
 */
int control_decode(const struct config *cfg, uint8_t source, int64_t now_utc_ms,
                   const char *line, size_t len, struct control_request *req,
                   char *detail, size_t detail_len);

struct control;

/*
 * Create the control source: bind and listen on cfg->control.socket (a stale socket
 * left by an earlier run is removed, anything else at that path is not), give it group
 * cfg->control.group and mode 0660. It borrows cfg, rt and src: it produces into
 * src->commands, consumes src->results and waits on src->wake_fd, which the RT loop
 * writes after each result. Logs the reason of a failure. Returns 0 and stores the new
 * object in *out, or -EINVAL (no socket configured), -ENOENT (unknown group),
 * -EADDRINUSE (a live daemon already listens there), -EEXIST (something that is not a
 * socket is in the way), -ENOMEM, or the -errno of socket, bind, chown or listen.
 */
int control_open(const struct config *cfg, struct rtloop *rt,
                 const struct rtloop_source *src, struct control **out);

/* Start the thread. Returns 0 or a negative errno. */
int control_start(struct control *c);

/* Wake the thread, close its connections, join it and unlink the socket. Idempotent. */
void control_stop(struct control *c);

/*
 * Before control_start(): how to learn the highest journal sequence number durably
 * stored (recorder_committed_seq()). With it, an accepted command is reported as
 * "recorded" only once its event is on disk; an officer is never told a command was
 * done while a power cut could still undo it without saying so. Without it (tests),
 * replies carry no "recorded".
 */
void control_set_journal(struct control *c, uint64_t (*committed)(void *arg), void *arg);

/* Stop if needed and free. control_close(NULL) does nothing. */
void control_close(struct control *c);

/*
 * Serve one request line (len bytes, without the newline) exactly as a connection's
 * line is served: decode, then for a command push it, wait for its result and log it,
 * for alarms and status read the RT loop's snapshots. Returns the reply, one line of
 * JSON without the newline, allocated with malloc: the caller frees it. NULL only when
 * out of memory. Call it from one thread at a time, and not while the control thread
 * runs: it is the commands ring's producer.
 */
char *control_handle_line(struct control *c, const char *line, size_t len);

#endif
