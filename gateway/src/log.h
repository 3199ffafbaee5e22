/*
 * log: the daemon's only way to talk to the operator, one line per message on stderr.
 *
 * The vocabulary follows OpenBSD's log.h: fatal() for states the daemon cannot survive,
 * log_warn() for trouble it survives (say what happens next: "retrying in 5 s"),
 * log_info() for milestones and log_debug() for detail. Each line is written with a
 * single write(2), so lines from different threads never interleave.
 *
 * Never call these from the real-time loop or from a pure module: formatting and writing
 * can block. The RT loop counts what went wrong, and a non-RT thread logs the counts.
 */
#ifndef PG_LOG_H
#define PG_LOG_H

#include <stdarg.h>
#include <stdbool.h>

enum log_level {
    LOG_LEVEL_ERROR,
    LOG_LEVEL_WARN,
    LOG_LEVEL_INFO,
    LOG_LEVEL_DEBUG,
};

/* Set the program name and the most detailed level that is printed. */
void log_init(const char *progname, enum log_level level);

void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Log at error level and exit(1). For start-up failures a safety daemon must not limp
 * past. */
void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
