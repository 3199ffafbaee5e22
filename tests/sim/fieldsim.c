/*
 * parkguard-fieldsim: a simulated park field of Modbus TCP gas detectors.
 *
 * One single-threaded process serves E Modbus TCP endpoints (think: E serial-to-Ethernet
 * gateways), each listening on an ephemeral loopback port and fronting unit ids 1..U.
 * Every unit owns its own register bank. The tests and tools/demo start it, wait for its
 * READY line and point the gateway at the ports it printed:
 *
 *     ENDPOINT 0 PORT 40411
 *     ENDPOINT 1 PORT 40412
 *     READY
 *
 * Per unit register layout (holding and input banks hold the same values):
 *
 *     reg 0  primary measurement, x10 (uint16 or int16: the client decides)
 *     reg 1  secondary measurement, temperature x10 (int16)
 *     reg 2  status word, 0 = ok
 *     reg 3  heartbeat, incremented once per second
 *
 * Protocol behaviour, chosen to look like a real field:
 *  - A request to a unit id outside 1..U gets exception 0x0B (gateway target device
 * failed to respond), which is what a Modbus TCP gateway answers when nothing behind it
 * replies.
 *  - Unit id 0 is broadcast: writes (FC 05, 06, 15, 16, 22) apply to every unit of that
 *    endpoint and get no reply; other broadcast requests are ignored.
 *  - The input bank is a mirror of the holding bank, refreshed after every request and
 *    every tick, so a test can drive a value with FC 06/16 and the gateway may read it
 * with FC 03 or FC 04 alike. Coils are mirrored into the discrete inputs the same way.
 *  - Malformed frames (bad protocol id, impossible length, PDU length that disagrees with
 *    its own byte count) close the connection. Unsupported function codes get 0x01.
 *
 * Scenario "park" drives endpoint 0 units 1..2 and endpoint 1 units 1..2 on a 40 s loop
 * matching config/demo.json; see park_tick(). A client write to a register the scenario
 * drives lasts only until the next tick (--period-ms); tests that need stable values use
 * scenario "none", where only the heartbeat moves.
 *
 * libmodbus is used only as a framing engine: this file accepts connections and
 * reassembles MBAP frames itself, so that one slow or hostile client can never block the
 * others, then hands each complete, validated request to modbus_reply() after pointing
 * the shared context at the client's socket with modbus_set_socket().
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <modbus.h>

#define PROG "parkguard-fieldsim"

#define MAX_ENDPOINTS 32
#define MAX_UNITS     247 /* the highest unicast Modbus unit id */
#define MAX_CLIENTS   128

#define NB_BITS      16
#define NB_REGISTERS 64

#define REG_PRIMARY   0
#define REG_SECONDARY 1
#define REG_STATUS    2
#define REG_HEARTBEAT 3

/* MBAP header: transaction id (2), protocol id (2), length (2), unit id (1). */
#define MBAP_LEN 7
/* The MBAP length field counts the unit id and the PDU (at most 253 bytes). */
#define MBAP_MAX_FOLLOWING 254

#define PARK_LOOP_MS 40000

enum scenario {
    SCENARIO_NONE,
    SCENARIO_PARK,
};

struct client {
    int fd; /* -1 when the slot is free */
    int ep;
    size_t len;
    uint8_t buf[MODBUS_TCP_MAX_ADU_LENGTH];
};

struct sim {
    int n_ep;
    int n_units;
    enum scenario scenario;
    uint64_t seed;
    int period_ms;
    const char *host;

    int listen_fd[MAX_ENDPOINTS];
    unsigned port[MAX_ENDPOINTS];
    unsigned want_port[MAX_ENDPOINTS]; /* --ports: 0 = ephemeral */
    bool silent[MAX_UNITS + 1];        /* --silent-units: dead devices behind the gateway */
    /* bank[ep * n_units + unit - 1] */
    modbus_mapping_t **bank;
    struct client clients[MAX_CLIENTS];
    modbus_t *ctx;
    /* A socketpair that swallows the replies modbus_reply() builds for broadcasts. */
    int sink[2];

    int64_t start_ms;
    int64_t next_tick_ms;
    int64_t heartbeats; /* whole seconds already counted into reg 3 */
};

static volatile sig_atomic_t stop_requested;

static void on_stop_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint16_t be16(const uint8_t *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}

static modbus_mapping_t *bank_of(const struct sim *s, int ep, int unit)
{
    return s->bank[ep * s->n_units + unit - 1];
}

/* The input bank follows the holding bank so that FC 03 and FC 04 read the same value. */
static void mirror_unit(modbus_mapping_t *m)
{
    memcpy(m->tab_input_registers, m->tab_registers, NB_REGISTERS * sizeof(uint16_t));
    memcpy(m->tab_input_bits, m->tab_bits, NB_BITS);
}

static void mirror_endpoint(const struct sim *s, int ep)
{
    for (int unit = 1; unit <= s->n_units; unit++)
        mirror_unit(bank_of(s, ep, unit));
}

/* ---- scenario ---------------------------------------------------------------------- */

/* splitmix64: a tiny, well-mixed hash, so that noise depends only on the seed and the
 * sample's coordinates and the same seed replays the same field. */
static uint64_t mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

/* Deterministic noise in -3..+3 LSB for one register of one unit at one tick. */
static int noise(const struct sim *s, int64_t tick, int ep, int unit, int reg)
{
    uint64_t h = mix64(s->seed ^ mix64((uint64_t)tick << 16 ^ (uint64_t)ep << 10 ^
                                       (uint64_t)unit << 4 ^ (uint64_t)reg));

    return (int)(h % 7) - 3;
}

static uint16_t clamp_u16(int v, int lo, int hi)
{
    if (v < lo)
        v = lo;
    if (v > hi)
        v = hi;
    return (uint16_t)v;
}

/* Linear interpolation from a to b as x goes from 0 to span (all in integer units). */
static int ramp(int a, int b, int64_t x, int64_t span)
{
    return a + (int)((b - a) * x / span);
}

/* Methane at gd-301 in %LEL x10: 3 %LEL baseline; from t=4 s a leak ramps to 42 %LEL over
 * 8 s, holds 6 s and decays over 8 s. The gateway's limit is 25 %LEL with a 2 %LEL
 * deadband, so each loop yields exactly one activation and one clear. */
static int park_methane(int64_t tl)
{
    if (tl < 4000)
        return 30;
    if (tl < 12000)
        return ramp(30, 420, tl - 4000, 8000);
    if (tl < 18000)
        return 420;
    if (tl < 26000)
        return ramp(420, 30, tl - 18000, 8000);
    return 30;
}

/* Ammonia at gd-b11 in ppm x10: 2 ppm baseline with a ~5 s excursion to 35 ppm from
 * t=16 s, over the 30 ppm limit, so that the demo shows a second, overlapping alarm. */
static int park_ammonia(int64_t tl)
{
    if (tl < 16000)
        return 20;
    if (tl < 17000)
        return ramp(20, 350, tl - 16000, 1000);
    if (tl < 20000)
        return 350;
    if (tl < 21000)
        return ramp(350, 20, tl - 20000, 1000);
    return 20;
}

/* Writes one scenario value and its temperature into a unit's holding bank. */
static void park_set(const struct sim *s, int64_t tick, int ep, int unit, int primary,
                     int lo, int hi, int temp_x10)
{
    modbus_mapping_t *m = bank_of(s, ep, unit);
    int temp = temp_x10 + noise(s, tick, ep, unit, REG_SECONDARY);

    m->tab_registers[REG_PRIMARY] =
        clamp_u16(primary + noise(s, tick, ep, unit, REG_PRIMARY), lo, hi);
    /* int16 two's complement, stored as the raw register word. */
    m->tab_registers[REG_SECONDARY] = (uint16_t)(int16_t)temp;
    m->tab_registers[REG_STATUS] = 0;
}

static void park_tick(const struct sim *s, int64_t t_ms)
{
    int64_t tick = t_ms / s->period_ms;
    int64_t tl = t_ms % PARK_LOOP_MS;
    /* The pressure wanders slowly by +-2 kPa over the loop, a triangle wave. */
    int64_t tri = tl < PARK_LOOP_MS / 2 ? tl : PARK_LOOP_MS - tl;
    int wobble = (int)(tri * 40 / (PARK_LOOP_MS / 2)) - 20;

    park_set(s, tick, 0, 1, park_methane(tl), 0, 1000, 204);
    park_set(s, tick, 0, 2, 2, 0, 5, 198);
    park_set(s, tick, 1, 1, park_ammonia(tl), 0, 1000, 176);
    park_set(s, tick, 1, 2, 8500 + wobble, 0, 65535, 215);
}

/* Advances the heartbeats and, for scenario park, the field values up to now. */
static void run_ticks(struct sim *s, int64_t now)
{
    int64_t t_ms = now - s->start_ms;
    int64_t seconds = t_ms / 1000;

    if (seconds > s->heartbeats) {
        uint16_t delta = (uint16_t)(seconds - s->heartbeats);

        for (int i = 0; i < s->n_ep * s->n_units; i++)
            s->bank[i]->tab_registers[REG_HEARTBEAT] += delta;
        s->heartbeats = seconds;
    }
    if (s->scenario == SCENARIO_PARK && now >= s->next_tick_ms) {
        park_tick(s, t_ms);
        /* Skip ticks missed while suspended rather than replaying them in a burst. */
        s->next_tick_ms = now - (t_ms % s->period_ms) + s->period_ms;
    }
    for (int ep = 0; ep < s->n_ep; ep++)
        mirror_endpoint(s, ep);
}

/* Milliseconds until run_ticks() next has work to do. */
static int next_timeout_ms(const struct sim *s, int64_t now)
{
    int64_t next_hb = s->start_ms + (s->heartbeats + 1) * 1000;
    int64_t next = next_hb;

    if (s->scenario == SCENARIO_PARK && s->next_tick_ms < next)
        next = s->next_tick_ms;
    if (next <= now)
        return 0;
    return (int)(next - now);
}

/* ---- sockets ----------------------------------------------------------------------- */

/* modbus_tcp_listen() cannot bind port 0 and report the port, so the listener is made
 * here: an ephemeral port lets parallel tests run without colliding. */
static int open_listener(const char *host, unsigned want, int *fd_out, unsigned *port_out)
{
    char service[8];
    struct addrinfo hints = {
        .ai_family = AF_UNSPEC,
        .ai_socktype = SOCK_STREAM,
        .ai_flags = AI_PASSIVE | AI_NUMERICSERV,
    };
    struct addrinfo *res = NULL;
    struct sockaddr_storage ss;
    socklen_t sslen = sizeof(ss);
    int one = 1;
    int fd = -1;
    int rc;

    (void)snprintf(service, sizeof(service), "%u", want);
    rc = getaddrinfo(host, service, &hints, &res);
    if (rc != 0) {
        fprintf(stderr, PROG ": %s: %s\n", host, gai_strerror(rc));
        return -EINVAL;
    }
    fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        rc = -errno;
        goto out;
    }
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, 16) < 0 ||
        getsockname(fd, (struct sockaddr *)&ss, &sslen) < 0) {
        rc = -errno;
        goto out;
    }
    if (ss.ss_family == AF_INET)
        *port_out = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    else
        *port_out = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    *fd_out = fd;
    fd = -1;
    rc = 0;
out:
    if (rc < 0)
        fprintf(stderr, PROG ": listen on %s: %s\n", host, strerror(-rc));
    if (fd >= 0)
        close(fd);
    freeaddrinfo(res);
    return rc;
}

static void drop_client(struct client *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    c->len = 0;
}

static void accept_clients(struct sim *s, int ep)
{
    for (;;) {
        int fd = accept4(s->listen_fd[ep], NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        struct client *slot = NULL;
        int one = 1;

        if (fd < 0) {
            /* EAGAIN: backlog drained. Anything else (ECONNABORTED, EMFILE...) concerns
             * one connection only and must not take the field down. */
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
                errno != ECONNABORTED)
                fprintf(stderr, PROG ": accept: %s\n", strerror(errno));
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            return;
        }
        for (int i = 0; i < MAX_CLIENTS; i++) {
            if (s->clients[i].fd < 0) {
                slot = &s->clients[i];
                break;
            }
        }
        if (slot == NULL) {
            /* Refusing outright beats leaving the peer hanging in the backlog. */
            close(fd);
            continue;
        }
        /* Replies are one small segment each; don't let Nagle delay them. */
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        slot->fd = fd;
        slot->ep = ep;
        slot->len = 0;
    }
}

/* ---- requests ---------------------------------------------------------------------- */

/*
 * Checks a request PDU before modbus_reply() sees it. modbus_reply() trusts the caller
 * for the PDU's internal lengths, and for some bad quantities it sleeps for the response
 * timeout and flushes the socket, which would stall this single thread and eat the next
 * pipelined request. Returns 0 if the PDU can be served, a positive Modbus exception code
 * to answer with, or -EPROTO if the frame is malformed and the connection should go.
 */
static int check_pdu(const uint8_t *pdu, size_t len)
{
    uint8_t fc = pdu[0];
    unsigned nb;

    switch (fc) {
    case MODBUS_FC_READ_COILS:
    case MODBUS_FC_READ_DISCRETE_INPUTS:
    case MODBUS_FC_READ_HOLDING_REGISTERS:
    case MODBUS_FC_READ_INPUT_REGISTERS:
        if (len != 5)
            return -EPROTO;
        nb = be16(pdu + 3);
        if (nb < 1 ||
            nb > (fc <= MODBUS_FC_READ_DISCRETE_INPUTS ? MODBUS_MAX_READ_BITS
                                                       : MODBUS_MAX_READ_REGISTERS))
            return MODBUS_EXCEPTION_ILLEGAL_DATA_VALUE;
        return 0;
    case MODBUS_FC_WRITE_SINGLE_COIL:
    case MODBUS_FC_WRITE_SINGLE_REGISTER:
        return len == 5 ? 0 : -EPROTO;
    case MODBUS_FC_WRITE_MULTIPLE_COILS:
        if (len < 6 || len != 6u + pdu[5])
            return -EPROTO;
        nb = be16(pdu + 3);
        if (nb < 1 || nb > MODBUS_MAX_WRITE_BITS || pdu[5] != (nb + 7) / 8)
            return MODBUS_EXCEPTION_ILLEGAL_DATA_VALUE;
        return 0;
    case MODBUS_FC_WRITE_MULTIPLE_REGISTERS:
        if (len < 6 || len != 6u + pdu[5])
            return -EPROTO;
        nb = be16(pdu + 3);
        if (nb < 1 || nb > MODBUS_MAX_WRITE_REGISTERS || pdu[5] != nb * 2)
            return MODBUS_EXCEPTION_ILLEGAL_DATA_VALUE;
        return 0;
    case MODBUS_FC_REPORT_SLAVE_ID:
        return len == 1 ? 0 : -EPROTO;
    case MODBUS_FC_MASK_WRITE_REGISTER:
        return len == 7 ? 0 : -EPROTO;
    case MODBUS_FC_WRITE_AND_READ_REGISTERS: {
        unsigned nb_write;

        if (len < 10 || len != 10u + pdu[9])
            return -EPROTO;
        nb = be16(pdu + 3);
        nb_write = be16(pdu + 7);
        if (nb < 1 || nb > MODBUS_MAX_WR_READ_REGISTERS || nb_write < 1 ||
            nb_write > MODBUS_MAX_WR_WRITE_REGISTERS || pdu[9] != nb_write * 2)
            return MODBUS_EXCEPTION_ILLEGAL_DATA_VALUE;
        return 0;
    }
    default:
        return MODBUS_EXCEPTION_ILLEGAL_FUNCTION;
    }
}

static bool is_write(uint8_t fc)
{
    return fc == MODBUS_FC_WRITE_SINGLE_COIL || fc == MODBUS_FC_WRITE_SINGLE_REGISTER ||
           fc == MODBUS_FC_WRITE_MULTIPLE_COILS ||
           fc == MODBUS_FC_WRITE_MULTIPLE_REGISTERS ||
           fc == MODBUS_FC_MASK_WRITE_REGISTER;
}

/* Applies a broadcast write to every unit of the endpoint. modbus_reply() always answers
 * over TCP, so it is pointed at the sink socketpair and the answers are thrown away. */
static void apply_broadcast(struct sim *s, int ep, const uint8_t *req, int len)
{
    uint8_t junk[MODBUS_TCP_MAX_ADU_LENGTH];

    modbus_set_socket(s->ctx, s->sink[0]);
    for (int unit = 1; unit <= s->n_units; unit++) {
        modbus_reply(s->ctx, req, len, bank_of(s, ep, unit));
        while (recv(s->sink[1], junk, sizeof(junk), MSG_DONTWAIT) > 0)
            ;
    }
    modbus_set_socket(s->ctx, -1);
    mirror_endpoint(s, ep);
}

/* Serves one complete frame. Returns 0, or a negative errno if the client must go. */
static int serve_frame(struct sim *s, struct client *c, const uint8_t *req, size_t len)
{
    int unit = req[MBAP_LEN - 1];
    int rc = check_pdu(req + MBAP_LEN, len - MBAP_LEN);

    if (rc < 0)
        return rc;
    if (unit == MODBUS_BROADCAST_ADDRESS) {
        if (rc == 0 && is_write(req[MBAP_LEN]))
            apply_broadcast(s, c->ep, req, (int)len);
        return 0;
    }

    /*
     * A silent unit is a dead device behind a gateway: the request is taken and nothing
     * ever comes back, so the client sees a timeout, exactly as on a real RS-485 line.
     */
    if (unit <= s->n_units && s->silent[unit])
        return 0;
    modbus_set_socket(s->ctx, c->fd);
    if (unit > s->n_units)
        rc = modbus_reply_exception(s->ctx, req, MODBUS_EXCEPTION_GATEWAY_TARGET);
    else if (rc > 0)
        rc = modbus_reply_exception(s->ctx, req, (unsigned)rc);
    else
        rc = modbus_reply(s->ctx, req, (int)len, bank_of(s, c->ep, unit));
    /* A failed send (peer gone, or a peer that stopped reading with its window full)
     * ends the connection; the socket is non-blocking so it can never stall us. */
    if (rc < 0)
        rc = errno ? -errno : -EIO;
    else
        rc = 0;
    modbus_set_socket(s->ctx, -1);
    if (unit <= s->n_units)
        mirror_unit(bank_of(s, c->ep, unit));
    return rc;
}

/* Reads what the client sent and serves every complete frame in its buffer. */
static void service_client(struct sim *s, struct client *c)
{
    ssize_t n;
    size_t off = 0;

    do {
        n = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, 0);
    } while (n < 0 && errno == EINTR);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return;
    if (n <= 0) {
        drop_client(c); /* orderly close or reset */
        return;
    }
    c->len += (size_t)n;

    while (c->len - off >= MBAP_LEN) {
        const uint8_t *f = c->buf + off;
        unsigned following = be16(f + 4);
        size_t total = 6 + following;

        /* Protocol id 0 is Modbus; a following length below 2 has no function code. */
        if (be16(f + 2) != 0 || following < 2 || following > MBAP_MAX_FOLLOWING) {
            drop_client(c);
            return;
        }
        if (c->len - off < total)
            break;
        if (serve_frame(s, c, f, total) < 0) {
            drop_client(c);
            return;
        }
        off += total;
    }
    memmove(c->buf, c->buf + off, c->len - off);
    c->len -= off;
}

/* ---- main loop --------------------------------------------------------------------- */

static int serve(struct sim *s, const sigset_t *run_mask)
{
    struct pollfd pfd[MAX_ENDPOINTS + MAX_CLIENTS];
    int owner[MAX_ENDPOINTS + MAX_CLIENTS]; /* client slot per pollfd, -1 for listeners */

    while (!stop_requested) {
        int64_t now = now_ms();
        int timeout = next_timeout_ms(s, now);
        struct timespec ts = {.tv_sec = timeout / 1000,
                              .tv_nsec = (long)(timeout % 1000) * 1000000};
        nfds_t n = 0;
        int rc;

        for (int ep = 0; ep < s->n_ep; ep++) {
            pfd[n] = (struct pollfd){.fd = s->listen_fd[ep], .events = POLLIN};
            owner[n++] = -1;
        }
        for (int i = 0; i < MAX_CLIENTS; i++) {
            if (s->clients[i].fd < 0)
                continue;
            pfd[n] = (struct pollfd){.fd = s->clients[i].fd, .events = POLLIN};
            owner[n++] = i;
        }

        /* ppoll unblocks SIGTERM/SIGINT only while waiting, so a signal can never slip
         * in between the stop_requested check and the wait. */
        rc = ppoll(pfd, n, &ts, run_mask);
        if (rc < 0 && errno != EINTR) {
            rc = -errno;
            fprintf(stderr, PROG ": ppoll: %s\n", strerror(errno));
            return rc;
        }
        run_ticks(s, now_ms());
        if (rc <= 0)
            continue;

        for (nfds_t i = 0; i < n; i++) {
            if (pfd[i].revents == 0)
                continue;
            if (owner[i] < 0)
                accept_clients(s, (int)i);
            else
                service_client(s, &s->clients[owner[i]]);
        }
    }
    return 0;
}

static void usage(FILE *out)
{
    fprintf(
        out,
        "usage: " PROG " [--endpoints E] [--units U] [--scenario none|park] [--seed N]\n"
        "                          [--host ADDR] [--period-ms MS] [--help]\n"
        "\n"
        "Simulated Modbus TCP park field. Opens E listeners on ephemeral ports of ADDR,\n"
        "each serving unit ids 1..U with their own registers, prints\n"
        "'ENDPOINT <i> PORT <port>' per endpoint then 'READY', and serves until\n"
        "SIGTERM or SIGINT.\n"
        "\n"
        "  --endpoints E    listening endpoints, 1..%d (default 1)\n"
        "  --units U        units per endpoint, 1..%d (default 1)\n"
        "  --scenario S     none: registers stay as clients write them;\n"
        "                   park: the demo field of config/demo.json, needs E>=2, U>=2\n"
        "                   (default none)\n"
        "  --seed N         noise seed for scenario park (default 1)\n"
        "  --host ADDR      address to listen on (default 127.0.0.1)\n"
        "  --period-ms MS   scenario tick, 10..60000 ms (default 100)\n"
        "  --ports P,...    listen on these ports instead of ephemeral ones (0 = any),\n"
        "                   one per endpoint, e.g. to restart a field on the same port\n"
        "  --silent-units L unit ids (comma-separated) that never answer: dead devices\n"
        "\n"
        "Per unit: reg 0 primary x10, reg 1 temperature x10 (int16), reg 2 status,\n"
        "reg 3 heartbeat (+1/s). Input registers mirror holding registers. Unknown\n"
        "unit ids get exception 0x0B; unit id 0 writes go to all units, unanswered.\n",
        MAX_ENDPOINTS, MAX_UNITS);
}

static int parse_long(const char *arg, const char *name, long lo, long hi, long *out)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(arg, &end, 10);
    if (errno != 0 || end == arg || *end != '\0' || v < lo || v > hi) {
        fprintf(stderr, PROG ": %s: expected an integer %ld..%ld, got '%s'\n", name, lo,
                hi, arg);
        return -EINVAL;
    }
    *out = v;
    return 0;
}

/* Returns 0 to run, 1 for --help, or -EINVAL. */
static int parse_args(struct sim *s, int argc, char **argv)
{
    static const struct option opts[] = {
        {"endpoints", required_argument, NULL, 'e'},
        {"units", required_argument, NULL, 'u'},
        {"scenario", required_argument, NULL, 's'},
        {"seed", required_argument, NULL, 'S'},
        {"host", required_argument, NULL, 'H'},
        {"period-ms", required_argument, NULL, 'p'},
        {"ports", required_argument, NULL, 'P'},
        {"silent-units", required_argument, NULL, 'Q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int opt;
    long v;

    while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (opt) {
        case 'e':
            if (parse_long(optarg, "--endpoints", 1, MAX_ENDPOINTS, &v) < 0)
                return -EINVAL;
            s->n_ep = (int)v;
            break;
        case 'u':
            if (parse_long(optarg, "--units", 1, MAX_UNITS, &v) < 0)
                return -EINVAL;
            s->n_units = (int)v;
            break;
        case 's':
            if (strcmp(optarg, "none") == 0) {
                s->scenario = SCENARIO_NONE;
            } else if (strcmp(optarg, "park") == 0) {
                s->scenario = SCENARIO_PARK;
            } else {
                fprintf(stderr, PROG ": --scenario: expected none or park, got '%s'\n",
                        optarg);
                return -EINVAL;
            }
            break;
        case 'S': {
            char *end;

            errno = 0;
            s->seed = strtoull(optarg, &end, 0);
            if (errno != 0 || end == optarg || *end != '\0' || optarg[0] == '-') {
                fprintf(stderr, PROG ": --seed: expected an unsigned integer, got '%s'\n",
                        optarg);
                return -EINVAL;
            }
            break;
        }
        case 'H':
            s->host = optarg;
            break;
        case 'p':
            if (parse_long(optarg, "--period-ms", 10, 60000, &v) < 0)
                return -EINVAL;
            s->period_ms = (int)v;
            break;
        case 'P':
        case 'Q': {
            char *list = optarg, *tok, *save = NULL;
            int i = 0;

            for (tok = strtok_r(list, ",", &save); tok != NULL;
                 tok = strtok_r(NULL, ",", &save), i++) {
                if (opt == 'P') {
                    if (i >= MAX_ENDPOINTS ||
                        parse_long(tok, "--ports", 0, 65535, &v) < 0)
                        return -EINVAL;
                    s->want_port[i] = (unsigned)v;
                } else {
                    if (parse_long(tok, "--silent-units", 1, MAX_UNITS, &v) < 0)
                        return -EINVAL;
                    s->silent[v] = true;
                }
            }
            break;
        }
        case 'h':
            return 1;
        default:
            return -EINVAL;
        }
    }
    if (optind < argc) {
        fprintf(stderr, PROG ": unexpected argument '%s'\n", argv[optind]);
        return -EINVAL;
    }
    if (s->scenario == SCENARIO_PARK && (s->n_ep < 2 || s->n_units < 2)) {
        fprintf(stderr,
                PROG ": --scenario park needs --endpoints >= 2 and --units >= 2\n");
        return -EINVAL;
    }
    return 0;
}

static int install_signals(sigset_t *run_mask)
{
    struct sigaction sa = {.sa_handler = on_stop_signal};
    struct sigaction ign = {.sa_handler = SIG_IGN};
    sigset_t block;

    /* No SA_RESTART: ppoll must return EINTR so the loop sees stop_requested. */
    sigemptyset(&sa.sa_mask);
    sigemptyset(&ign.sa_mask);
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGINT);
    if (sigprocmask(SIG_BLOCK, &block, run_mask) < 0 ||
        sigaction(SIGTERM, &sa, NULL) < 0 || sigaction(SIGINT, &sa, NULL) < 0 ||
        /* A peer that vanishes mid-reply must cost a connection, not the process. */
        sigaction(SIGPIPE, &ign, NULL) < 0)
        return -errno;
    sigdelset(run_mask, SIGTERM);
    sigdelset(run_mask, SIGINT);
    return 0;
}

int main(int argc, char **argv)
{
    struct sim s = {
        .n_ep = 1,
        .n_units = 1,
        .scenario = SCENARIO_NONE,
        .seed = 1,
        .period_ms = 100,
        .host = "127.0.0.1",
        .sink = {-1, -1},
    };
    sigset_t run_mask;
    int n_banks = 0;
    int rc;

    for (int i = 0; i < MAX_ENDPOINTS; i++)
        s.listen_fd[i] = -1;
    for (int i = 0; i < MAX_CLIENTS; i++)
        s.clients[i].fd = -1;

    rc = parse_args(&s, argc, argv);
    if (rc == 1) {
        usage(stdout);
        return 0;
    }
    if (rc < 0) {
        fprintf(stderr, "try '" PROG " --help'\n");
        return 2;
    }

    rc = install_signals(&run_mask);
    if (rc < 0) {
        fprintf(stderr, PROG ": signals: %s\n", strerror(-rc));
        goto out;
    }

    s.bank = calloc((size_t)(s.n_ep * s.n_units), sizeof(*s.bank));
    if (s.bank == NULL) {
        rc = -ENOMEM;
        fprintf(stderr, PROG ": out of memory\n");
        goto out;
    }
    for (; n_banks < s.n_ep * s.n_units; n_banks++) {
        s.bank[n_banks] =
            modbus_mapping_new(NB_BITS, NB_BITS, NB_REGISTERS, NB_REGISTERS);
        if (s.bank[n_banks] == NULL) {
            rc = -ENOMEM;
            fprintf(stderr, PROG ": modbus_mapping_new: out of memory\n");
            goto out;
        }
    }

    /* The context only frames replies; its address and port are never used to connect. */
    s.ctx = modbus_new_tcp("127.0.0.1", MODBUS_TCP_DEFAULT_PORT);
    if (s.ctx == NULL) {
        rc = -errno;
        fprintf(stderr, PROG ": modbus_new_tcp: %s\n", modbus_strerror(errno));
        goto out;
    }
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, s.sink) < 0) {
        rc = -errno;
        fprintf(stderr, PROG ": socketpair: %s\n", strerror(errno));
        goto out;
    }

    for (int ep = 0; ep < s.n_ep; ep++) {
        rc = open_listener(s.host, s.want_port[ep], &s.listen_fd[ep], &s.port[ep]);
        if (rc < 0)
            goto out;
    }

    s.start_ms = now_ms();
    s.next_tick_ms = s.start_ms;
    run_ticks(&s, s.start_ms);

    for (int ep = 0; ep < s.n_ep; ep++)
        printf("ENDPOINT %d PORT %u\n", ep, s.port[ep]);
    printf("READY\n");
    if (fflush(stdout) != 0) {
        rc = -errno;
        fprintf(stderr, PROG ": stdout: %s\n", strerror(errno));
        goto out;
    }

    rc = serve(&s, &run_mask);

out:
    for (int i = 0; i < MAX_CLIENTS; i++)
        drop_client(&s.clients[i]);
    for (int ep = 0; ep < MAX_ENDPOINTS; ep++) {
        if (s.listen_fd[ep] >= 0)
            close(s.listen_fd[ep]);
    }
    for (int i = 0; i < 2; i++) {
        if (s.sink[i] >= 0)
            close(s.sink[i]);
    }
    if (s.ctx != NULL)
        modbus_free(s.ctx);
    for (int i = 0; i < n_banks; i++)
        modbus_mapping_free(s.bank[i]);
    free(s.bank);
    /* Every failure has been reported where it happened. */
    return rc < 0 ? 1 : 0;
}
