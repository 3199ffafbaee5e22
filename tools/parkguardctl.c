/*
 * parkguardctl: act on parkguard's alarms at the gateway itself.
 *
 * It sends one request over the daemon's control socket (docs/control.md), waits for
 * the one reply, and prints it for a person (or as JSON with -j). It holds no state and
 * decides nothing: who may do what is the daemon's to say, and every refusal it gives is
 * printed as it came. The exit status tells scripts what happened: 0 done, 1 refused by
 * the gateway, 2 not understood here or the gateway could not be reached.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "config.h"
#include "control.h"

#define DEFAULT_SOCKET "/run/parkguard/control.sock"
/* The daemon answers within its own 2 s result timeout; allow for a busy box. */
#define REPLY_TIMEOUT_MS 10000
/* An alarm listing of a large site is long; a reply beyond this is not one of ours. */
#define REPLY_MAX (64u * 1024u * 1024u)

enum {
    OPT_ONE_SHOT = 256, /* a long option only */
};

enum {
    EXIT_DONE = 0,
    EXIT_REFUSED = 1,
    EXIT_USAGE = 2,
};

static const char usage_text[] =
    "NAME\n"
    "    parkguardctl - act on parkguard alarms at the gateway\n"
    "\n"
    "SYNOPSIS\n"
    "    parkguardctl [-s SOCKET | -c CONFIG] [-o OFFICER] [-j] COMMAND [ARG...]\n"
    "\n"
    "DESCRIPTION\n"
    "    Sends one request to the parkguard daemon over its control socket and\n"
    "    prints the answer. Commands that change an alarm are carried out by the\n"
    "    gateway's alarm state machine and journalled with the officer's id.\n"
    "\n"
    "COMMANDS\n"
    "    alarms                 The alarm list: active alarms by priority, oldest\n"
    "                           first, then shelved, suppressed and out-of-service\n"
    "                           ones. \"*\" marks an area's first-out alarm.\n"
    "    status                 The gateway's id and alarm counts.\n"
    "    ack POINT LIMIT        Acknowledge an alarm.\n"
    "    reset POINT LIMIT      Reset a latched alarm whose condition has cleared.\n"
    "    silence [AREA]         Silence the sirens of AREA, or of every area.\n"
    "    shelve POINT LIMIT (--for DURATION | --one-shot) --reason TEXT\n"
    "                           Hide an alarm for DURATION, or until its condition\n"
    "                           clears (one-shot), within its longest shelve.\n"
    "    unshelve POINT LIMIT   End a shelve.\n"
    "    oos POINT LIMIT --reason TEXT\n"
    "                           Remove an alarm from service.\n"
    "    rts POINT LIMIT --reason TEXT\n"
    "                           Return an alarm to service.\n"
    "\n"
    "    LIMIT is one of high, hh, l, ll, level1, level2, o2-low, o2-high,\n"
    "    roc-rise, roc-fall, fault. An area's voting alarm is AREA vote: the\n"
    "    area's id in place of POINT.\n"
    "\n"
    "    Every command but alarms and status takes --reason TEXT (at most 127\n"
    "    bytes); shelve, oos and rts require it. DURATION is seconds, or numbers\n"
    "    with units: 90, 90s, 10m, 2h, 1d, 1h30m.\n"
    "\n"
    "    Who may do what is the gateway's configuration: ack and reset need the\n"
    "    \"ack\" right, shelve and unshelve \"shelve\", oos and rts \"service\"; "
    "silence\n"
    "    needs any one of them.\n"
    "\n"
    "OPTIONS\n"
    "    -s, --socket SOCKET    The daemon's control socket. Default: the one named\n"
    "                           by -c, else $PARKGUARD_SOCKET, else\n"
    "                           " DEFAULT_SOCKET ".\n"
    "    -c, --config CONFIG    Take the socket from the gateway's configuration.\n"
    "    -o, --officer OFFICER  The officer giving the command; required for all\n"
    "                           but alarms and status. Default: $PARKGUARD_OFFICER.\n"
    "    -r, --reason TEXT      Why; journalled with the command.\n"
    "    -f, --for DURATION     shelve: for how long.\n"
    "        --one-shot         shelve: until the condition clears.\n"
    "    -j, --json             Print the daemon's reply as it is, one JSON line.\n"
    "    -h, --help             This text.\n"
    "\n"
    "EXIT STATUS\n"
    "    0  Done: the command was accepted, or the list or status printed.\n"
    "    1  The gateway refused the command; the reason is printed. \"timeout\"\n"
    "       means the command may still take effect: check the alarm list.\n"
    "    2  Usage error, or the gateway could not be reached or would not serve.\n"
    "\n"
    "EXAMPLES\n"
    "    parkguardctl -o zhang.wei ack gd-301.ch4 level1\n"
    "    parkguardctl -o zhang.wei shelve gd-301.ch4 level1 --for 30m \\\n"
    "        --reason \"detector being recalibrated, work permit 4711\"\n"
    "    parkguardctl -o zhang.wei ack tank-farm vote\n"
    "    parkguardctl -c /etc/parkguard/site.json alarms\n"
    "\n"
    "SEE ALSO\n"
    "    docs/control.md\n";

struct args {
    const char *socket;
    const char *config;
    const char *officer;
    const char *reason;
    const char *duration;
    bool one_shot;
    bool json;
};

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int usage_error(const char *fmt, ...)
{
    va_list ap;

    fputs("parkguardctl: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("\n(parkguardctl --help for usage)\n", stderr);
    return EXIT_USAGE;
}

/* "90", "90s", "10m", "2h", "1d", "1h30m": seconds, or -1. */
static long parse_duration(const char *s)
{
    long total = 0;

    if (*s == '\0')
        return -1;
    while (*s != '\0') {
        long n = 0, unit = 1;

        if (*s < '0' || *s > '9')
            return -1;
        for (; *s >= '0' && *s <= '9'; s++) {
            if (n > 100000000)
                return -1;
            n = n * 10 + (*s - '0');
        }
        switch (*s) {
        case 'd':
            unit *= 24;
            /* FALLTHROUGH */
        case 'h':
            unit *= 60;
            /* FALLTHROUGH */
        case 'm':
            unit *= 60;
            /* FALLTHROUGH */
        case 's':
            s++;
            break;
        case '\0':
            break;
        default:
            return -1;
        }
        total += n * unit;
        if (total > 100000000)
            return -1;
    }
    return total;
}

/* The socket path: -s, else from -c's config, else the environment, else the default. */
static int socket_path(const struct args *a, char *out, size_t len)
{
    const char *env = getenv("PARKGUARD_SOCKET");

    if (a->socket != NULL) {
        (void)snprintf(out, len, "%s", a->socket);
    } else if (a->config != NULL) {
        char err[CONFIG_ERR_LEN];
        struct config *cfg = NULL;

        if (config_load(a->config, &cfg, err, sizeof(err)) < 0) {
            fprintf(stderr, "parkguardctl: %s\n", err);
            return EXIT_USAGE;
        }
        if (cfg->control.socket[0] == '\0') {
            fprintf(stderr,
                    "parkguardctl: %s has no \"control\" section: the gateway opens "
                    "no control socket\n",
                    a->config);
            config_free(cfg);
            return EXIT_USAGE;
        }
        (void)snprintf(out, len, "%s", cfg->control.socket);
        config_free(cfg);
    } else if (env != NULL && env[0] != '\0') {
        (void)snprintf(out, len, "%s", env);
    } else {
        (void)snprintf(out, len, "%s", DEFAULT_SOCKET);
    }
    return EXIT_DONE;
}

/* ---- the request ------------------------------------------------------------------ */

static bool add_str(cJSON *o, const char *k, const char *v)
{
    return cJSON_AddStringToObject(o, k, v) != NULL;
}

/* Build the request for argv (the command and its operands). */
static int build_request(const struct args *a, int argc, char **argv, cJSON *req)
{
    static const struct {
        const char *name;
        int operands; /* -1: 0 or 1 (silence) */
        bool reason_required;
    } cmds[] = {
        {"alarms", 0, false},   {"status", 0, false},   {"ack", 2, false},
        {"reset", 2, false},    {"silence", -1, false}, {"shelve", 2, true},
        {"unshelve", 2, false}, {"oos", 2, true},       {"rts", 2, true},
    };
    const char *cmd = argv[0];
    size_t k = 0;
    bool ok = true;

    while (k < sizeof(cmds) / sizeof(cmds[0]) && strcmp(cmd, cmds[k].name) != 0)
        k++;
    if (k == sizeof(cmds) / sizeof(cmds[0]))
        return usage_error("unknown command \"%s\"", cmd);
    if ((cmds[k].operands >= 0 && argc - 1 != cmds[k].operands) ||
        (cmds[k].operands < 0 && argc - 1 > 1))
        return usage_error("%s takes %s", cmd,
                           cmds[k].operands == 0   ? "no operands"
                           : cmds[k].operands == 2 ? "POINT LIMIT (or AREA vote)"
                                                   : "at most one AREA");
    if (strcmp(cmd, "shelve") != 0 && (a->duration != NULL || a->one_shot))
        return usage_error("--for and --one-shot are for shelve only");
    if (cmds[k].operands == 0 && a->reason != NULL)
        return usage_error("%s takes no --reason", cmd);
    if (cmds[k].reason_required && a->reason == NULL)
        return usage_error("%s needs --reason TEXT: the journal records why", cmd);

    ok = cJSON_AddNumberToObject(req, "id", 1) != NULL && add_str(req, "cmd", cmd);
    if (cmds[k].operands == 0)
        return ok ? EXIT_DONE : usage_error("out of memory");
    if (a->officer == NULL || a->officer[0] == '\0')
        return usage_error(
            "%s needs an officer: give -o OFFICER or set PARKGUARD_OFFICER", cmd);
    ok = ok && add_str(req, "officer", a->officer);
    if (cmds[k].operands == 2) {
        bool vote = strcmp(argv[2], "vote") == 0;

        ok = ok && add_str(req, vote ? "area" : "point", argv[1]) &&
             add_str(req, "limit", argv[2]);
    } else if (argc == 2) {
        ok = ok && add_str(req, "area", argv[1]);
    }
    if (a->reason != NULL)
        ok = ok && add_str(req, "reason", a->reason);
    if (strcmp(cmd, "shelve") == 0) {
        long s;

        if ((a->duration != NULL) == a->one_shot)
            return usage_error(
                "shelve needs exactly one of --for DURATION and --one-shot");
        if (a->one_shot) {
            ok = ok && cJSON_AddTrueToObject(req, "one_shot") != NULL;
        } else {
            s = parse_duration(a->duration);
            if (s < 1)
                return usage_error(
                    "--for %s: expected a duration such as 600, 10m, 2h or "
                    "1h30m",
                    a->duration);
            ok = ok && cJSON_AddNumberToObject(req, "duration_s", (double)s) != NULL;
        }
    }
    return ok ? EXIT_DONE : usage_error("out of memory");
}

/* ---- talking to the daemon -------------------------------------------------------- */

static int connect_daemon(const char *path)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    int fd;

    if (strlen(path) >= sizeof(addr.sun_path)) {
        fprintf(stderr, "parkguardctl: %s: socket path too long\n", path);
        return -1;
    }
    memcpy(addr.sun_path, path, strlen(path) + 1);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0) {
        int e = errno;

        fprintf(stderr, "parkguardctl: cannot connect to %s: %s%s\n", path, strerror(e),
                e == EACCES ? " (is this user in the socket's group?)"
                : e == ENOENT || e == ECONNREFUSED ? " (is parkguard running, with a "
                                                     "\"control\" section?)"
                                                   : "");
        if (fd >= 0)
            (void)close(fd);
        return -1;
    }
    return fd;
}

static bool send_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        buf += n;
        len -= (size_t)n;
    }
    return true;
}

/* Read the one reply line. Returns it (malloc), or NULL after printing why. */
static char *read_reply(int fd)
{
    size_t len = 0, cap = 4096;
    char *buf = malloc(cap);
    struct timespec start;

    (void)clock_gettime(CLOCK_MONOTONIC, &start);
    while (buf != NULL) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        struct timespec now;
        long waited;
        char *nl;
        ssize_t n;

        (void)clock_gettime(CLOCK_MONOTONIC, &now);
        waited = (long)(now.tv_sec - start.tv_sec) * 1000 +
                 (now.tv_nsec - start.tv_nsec) / 1000000;
        if (waited >= REPLY_TIMEOUT_MS ||
            poll(&pfd, 1, (int)(REPLY_TIMEOUT_MS - waited)) == 0) {
            fprintf(stderr, "parkguardctl: no reply from the gateway within %d s\n",
                    REPLY_TIMEOUT_MS / 1000);
            break;
        }
        if (len + 1 == cap) {
            char *bigger = cap < REPLY_MAX ? realloc(buf, cap * 2) : NULL;

            if (bigger == NULL) {
                fprintf(stderr, "parkguardctl: reply too long\n");
                break;
            }
            buf = bigger;
            cap *= 2;
        }
        n = recv(fd, buf + len, cap - len - 1, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            fprintf(stderr, "parkguardctl: the gateway closed the connection%s\n",
                    len > 0 ? " mid-reply" : " without a reply");
            break;
        }
        len += (size_t)n;
        buf[len] = '\0';
        nl = memchr(buf, '\n', len);
        if (nl != NULL) {
            *nl = '\0';
            return buf;
        }
    }
    free(buf);
    return NULL;
}

/* ---- printing --------------------------------------------------------------------- */

static const char *text_of(const cJSON *o, const char *k, const char *def)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

    return cJSON_IsString(v) ? v->valuestring : def;
}

static double num_of(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

    return cJSON_IsNumber(v) ? v->valuedouble : (double)NAN;
}

/* A wall-clock time in ms as local time, as the people on site read clocks. */
static void local_time(double ms, char *buf, size_t len)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;

    if (!isfinite(ms) || ms <= 0 || localtime_r(&t, &tm) == NULL ||
        strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm) == 0)
        (void)snprintf(buf, len, "-");
}

static void print_alarms(const cJSON *reply)
{
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(reply, "alarms"), *e;
    bool hidden_shown = false;

    if (cJSON_GetArraySize(arr) == 0) {
        printf("no alarms\n");
        return;
    }
    printf("%-3s %-14s %-24s %-9s %-16s %-19s  %s\n", "PRI", "STATE", "POINT", "LIMIT",
           "VALUE", "SINCE", "NOTE");
    cJSON_ArrayForEach(e, arr)
    {
        const cJSON *pt = cJSON_GetObjectItemCaseSensitive(e, "point");
        char point[80], value[48], since[32], note[64] = "";
        double v = num_of(e, "value");

        if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(e, "active")) &&
            !hidden_shown) {
            printf("-- shelved, suppressed, out of service --\n");
            hidden_shown = true;
        }
        if (cJSON_IsString(pt))
            (void)snprintf(point, sizeof(point), "%s", pt->valuestring);
        else
            (void)snprintf(point, sizeof(point), "area %s", text_of(e, "area", "?"));
        if (isfinite(v))
            (void)snprintf(value, sizeof(value), "%g %s", v, text_of(e, "unit", ""));
        else
            (void)snprintf(value, sizeof(value), "-");
        /* Since when it is an alarm; for one never active (shelved while clear), when it
         * entered its state. */
        local_time(isfinite(num_of(e, "active_since_ms")) ? num_of(e, "active_since_ms")
                                                          : num_of(e, "since_ms"),
                   since, sizeof(since));
        if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(e, "test")))
            (void)snprintf(note, sizeof(note), "TEST ");
        if (isfinite(num_of(e, "shelve_until_ms"))) {
            char until[32];

            local_time(num_of(e, "shelve_until_ms"), until, sizeof(until));
            (void)snprintf(note + strlen(note), sizeof(note) - strlen(note), "until %s",
                           until);
        }
        printf("%.0f%-2s %-14s %-24s %-9s %-16s ", num_of(e, "priority"),
               cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(e, "first_out")) ? "*" : "",
               text_of(e, "state", "?"), point, text_of(e, "limit", "?"), value);
        if (note[0] != '\0')
            printf("%-19s  %s\n", since, note);
        else
            printf("%s\n", since);
    }
}

static void print_status(const cJSON *r)
{
    const cJSON *al = cJSON_GetObjectItemCaseSensitive(r, "alarms");

    printf("gateway %s, site %s, parkguard %s\n", text_of(r, "gateway", "?"),
           text_of(r, "site", "?"), text_of(r, "version", "?"));
    printf("points %.0f, alarm records %.0f\n", num_of(r, "points"),
           num_of(al, "records"));
    printf("active %.0f (unacknowledged %.0f), shelved %.0f, suppressed %.0f, out of "
           "service %.0f\n",
           num_of(al, "active"), num_of(al, "unack"), num_of(al, "shelved"),
           num_of(al, "suppressed"), num_of(al, "out_of_service"));
    printf("commands %.0f (%.0f refused)\n", num_of(r, "commands"),
           num_of(r, "commands_rejected"));
}

/* What the command was about, for the result line: "ack gd-1.ch4 level1". */
static void describe(int argc, char **argv, char *buf, size_t len)
{
    size_t used = 0;

    buf[0] = '\0';
    for (int i = 0; i < argc && used < len; i++) {
        int n = snprintf(buf + used, len - used, "%s%s", i ? " " : "", argv[i]);

        used += n > 0 ? (size_t)n : 0;
    }
}

static int print_reply(const struct args *a, const char *line, int argc, char **argv)
{
    cJSON *r = cJSON_Parse(line);
    const char *err;
    char what[256];
    int rc = EXIT_DONE;

    if (r == NULL || !cJSON_IsObject(r)) {
        fprintf(stderr, "parkguardctl: the gateway's reply is not JSON: %.200s\n", line);
        cJSON_Delete(r);
        return EXIT_USAGE;
    }
    err = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r, "ok"))
              ? NULL
              : text_of(r, "error", "?");
    /* Refused before any request was read: about this connection, not the command. */
    if (err != NULL &&
        (strcmp(err, "permission_denied") == 0 || strcmp(err, "too_many_clients") == 0))
        rc = EXIT_USAGE;
    else if (err != NULL)
        rc = EXIT_REFUSED;
    if (a->json) {
        printf("%s\n", line);
        cJSON_Delete(r);
        return rc;
    }
    describe(argc, argv, what, sizeof(what));
    if (err != NULL) {
        fprintf(stderr, "parkguardctl: %s: refused: %s: %s\n", what, err,
                text_of(r, "detail", ""));
    } else if (strcmp(argv[0], "alarms") == 0) {
        print_alarms(r);
    } else if (strcmp(argv[0], "status") == 0) {
        print_status(r);
    } else if (cJSON_GetObjectItemCaseSensitive(r, "from") != NULL) {
        printf("%s: %s (%s -> %s), event %.0f\n", what,
               strcmp(text_of(r, "result", ""), "no_change") == 0 ? "accepted, no change"
                                                                  : "accepted",
               text_of(r, "from", "?"), text_of(r, "to", "?"), num_of(r, "seq"));
    } else {
        printf("%s: %s, event %.0f\n", what,
               strcmp(text_of(r, "result", ""), "no_change") == 0
                   ? "accepted, nothing to "
                     "silence"
                   : "accepted",
               num_of(r, "seq"));
    }
    if (err == NULL && cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(r, "recorded")))
        fprintf(stderr,
                "parkguardctl: %s: done, but not yet recorded in the gateway's store "
                "(its disk may be failing); check the gateway's log\n",
                what);
    cJSON_Delete(r);
    return rc;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"socket", required_argument, NULL, 's'},
        {"config", required_argument, NULL, 'c'},
        {"officer", required_argument, NULL, 'o'},
        {"reason", required_argument, NULL, 'r'},
        {"for", required_argument, NULL, 'f'},
        {"one-shot", no_argument, NULL, OPT_ONE_SHOT},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct args a = {.officer = getenv("PARKGUARD_OFFICER")};
    char path[CONFIG_PATH_LEN], *text = NULL, *reply = NULL;
    cJSON *req = NULL;
    int opt, rc, fd = -1;

    /* Options may come before or after the command and its operands. */
    while ((opt = getopt_long(argc, argv, "s:c:o:r:f:jh", opts, NULL)) != -1) {
        switch (opt) {
        case 's':
            a.socket = optarg;
            break;
        case 'c':
            a.config = optarg;
            break;
        case 'o':
            a.officer = optarg;
            break;
        case 'r':
            a.reason = optarg;
            break;
        case 'f':
            a.duration = optarg;
            break;
        case OPT_ONE_SHOT:
            a.one_shot = true;
            break;
        case 'j':
            a.json = true;
            break;
        case 'h':
            fputs(usage_text, stdout);
            return EXIT_DONE;
        default:
            fputs("(parkguardctl --help for usage)\n", stderr);
            return EXIT_USAGE;
        }
    }
    if (optind == argc)
        return usage_error("no command (alarms, status, ack, reset, silence, shelve, "
                           "unshelve, oos, rts)");
    if (a.socket != NULL && a.config != NULL)
        return usage_error("give -s or -c, not both");

    req = cJSON_CreateObject();
    if (req == NULL)
        return usage_error("out of memory");
    rc = build_request(&a, argc - optind, argv + optind, req);
    if (rc == EXIT_DONE)
        rc = socket_path(&a, path, sizeof(path));
    if (rc != EXIT_DONE)
        goto out;
    text = cJSON_PrintUnformatted(req);
    rc = EXIT_USAGE;
    if (text == NULL || strlen(text) >= CONTROL_LINE_MAX) {
        fprintf(stderr, "parkguardctl: request too long\n");
        goto out;
    }
    fd = connect_daemon(path);
    if (fd < 0)
        goto out;
    if (!send_all(fd, text, strlen(text)) || !send_all(fd, "\n", 1)) {
        fprintf(stderr, "parkguardctl: cannot send to %s: %s\n", path, strerror(errno));
        goto out;
    }
    reply = read_reply(fd);
    if (reply != NULL)
        rc = print_reply(&a, reply, argc - optind, argv + optind);
out:
    if (fd >= 0)
        (void)close(fd);
    free(reply);
    free(text);
    cJSON_Delete(req);
    return rc;
}
