#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *log_progname = "parkguard";
static enum log_level log_max = LOG_LEVEL_INFO;

static const char *const level_names[] = {
    [LOG_LEVEL_ERROR] = "error",
    [LOG_LEVEL_WARN] = "warning",
    [LOG_LEVEL_INFO] = "info",
    [LOG_LEVEL_DEBUG] = "debug",
};

void log_init(const char *progname, enum log_level level)
{
    log_progname = progname;
    log_max = level;
}

static void log_vline(enum log_level level, const char *fmt, va_list ap)
{
    char line[1024];
    struct timespec ts;
    struct tm tm;
    size_t n;
    int rc;

    if (level > log_max)
        return;
    (void)clock_gettime(CLOCK_REALTIME, &ts);
    (void)gmtime_r(&ts.tv_sec, &tm);
    n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
    rc = snprintf(line + n, sizeof(line) - n,
                  ".%03ldZ %s[%ld]: %s: ", ts.tv_nsec / 1000000L, log_progname,
                  (long)getpid(), level_names[level]);
    if (rc > 0)
        n += (size_t)rc < sizeof(line) - n ? (size_t)rc : sizeof(line) - n - 1;
    rc = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
    if (rc > 0)
        n += (size_t)rc < sizeof(line) - n ? (size_t)rc : sizeof(line) - n - 1;
    /* A truncated line still ends with a newline so the next one starts cleanly. */
    if (n >= sizeof(line) - 1)
        n = sizeof(line) - 2;
    line[n++] = '\n';
    /* One write per line: stderr is shared by every thread and must not interleave. */
    (void)!write(STDERR_FILENO, line, n);
}

#define LOG_FN(name, level)                                                              \
    void name(const char *fmt, ...)                                                      \
    {                                                                                    \
        va_list ap;                                                                      \
        va_start(ap, fmt);                                                               \
        log_vline(level, fmt, ap);                                                       \
        va_end(ap);                                                                      \
    }

LOG_FN(log_error, LOG_LEVEL_ERROR)
LOG_FN(log_warn, LOG_LEVEL_WARN)
LOG_FN(log_info, LOG_LEVEL_INFO)
LOG_FN(log_debug, LOG_LEVEL_DEBUG)

void fatal(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    log_vline(LOG_LEVEL_ERROR, fmt, ap);
    va_end(ap);
    exit(1);
}
