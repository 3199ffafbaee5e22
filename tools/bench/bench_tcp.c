/*
 * bench_tcp: Modbus TCP transactions per second on one connection, the parkguard poller
 * against a bare libmodbus loop, side by side in one run against the same server.
 *
 * usage: bench_tcp [SECONDS_PER_ROUND]
 *
 * The server is a plain libmodbus TCP server on a thread of this program (listen, then
 * modbus_receive() and modbus_reply() in a loop, one connection at a time; a TCP server
 * in libmodbus answers every unit id from one mapping). The bare loop calls
 * modbus_read_registers() for 4 registers back to back. The poller runs its real thread
 * with 200 devices polled every 10 ms, each with four groups of 4 registers too far apart
 * to coalesce: 80,000 requests/s asked for, more than the link carries, so the poller
 * runs saturated and what it achieves is its ceiling. Each request reads 4 registers.
 */
#include <errno.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <modbus/modbus.h>

#include "config.h"
#include "log.h"
#include "msg.h"
#include "pgtime.h"
#include "poller.h"
#include "ring.h"

#define BENCH_DEVICES 200
#define BENCH_GROUPS  4 /* 4-register groups per device, 16 registers apart */

static int server_port;

/* The plain libmodbus server: what both loops talk to. */
static void *server_main(void *arg)
{
    modbus_t *ctx = modbus_new_tcp("127.0.0.1", server_port);
    modbus_mapping_t *map = modbus_mapping_new(0, 0, 128, 128);
    uint8_t query[MODBUS_TCP_MAX_ADU_LENGTH];
    int listen_fd = *(int *)arg;

    if (ctx == NULL || map == NULL)
        exit(1);
    for (;;) {
        int fd = accept(listen_fd, NULL, NULL);

        if (fd < 0)
            continue;
        modbus_set_socket(ctx, fd);
        for (;;) {
            int n = modbus_receive(ctx, query);

            if (n > 0)
                (void)modbus_reply(ctx, query, n, map);
            else if (n < 0)
                break;
        }
        close(fd);
    }
    return NULL;
}

/* Bind port 0 to find a free port, then let libmodbus listen on it. */
static void start_server(void)
{
    static int listen_fd;
    pthread_t t;
    modbus_t *ctx;

    for (server_port = 20000 + (int)(getpid() % 20000);; server_port++) {
        ctx = modbus_new_tcp("127.0.0.1", server_port);
        listen_fd = ctx != NULL ? modbus_tcp_listen(ctx, 4) : -1;
        if (listen_fd >= 0)
            break;
        modbus_free(ctx);
    }
    if (pthread_create(&t, NULL, server_main, &listen_fd) != 0)
        exit(1);
}

static double bare_loop(int port, double seconds)
{
    modbus_t *ctx = modbus_new_tcp("127.0.0.1", port);
    uint16_t regs[4];
    int64_t end, t0;
    long n = 0, unit = 1;

    if (ctx == NULL || modbus_connect(ctx) != 0) {
        fprintf(stderr, "bench_tcp: connect: %s\n", modbus_strerror(errno));
        exit(1);
    }
    t0 = pgtime_mono_ns();
    end = t0 + (int64_t)(seconds * 1e9);
    while (pgtime_mono_ns() < end) {
        (void)modbus_set_slave(ctx, (int)unit);
        if (modbus_read_registers(ctx, 0, 4, regs) != 4) {
            fprintf(stderr, "bench_tcp: read: %s\n", modbus_strerror(errno));
            exit(1);
        }
        n++;
        unit = unit % BENCH_DEVICES + 1;
    }
    modbus_close(ctx);
    modbus_free(ctx);
    return (double)n / ((double)(pgtime_mono_ns() - t0) / 1e9);
}

static struct config *make_config(int port)
{
    static char json[1 << 23];
    char err[CONFIG_ERR_LEN];
    struct config *cfg = NULL;
    size_t n;

    n = (size_t)snprintf(
        json, sizeof(json),
        "{\"gateway\":{\"id\":\"bench\",\"site\":\"bench\"},"
        "\"store\":{\"path\":\"/dev/null\"},"
        "\"mqtt\":{\"uri\":\"tcp://127.0.0.1:1\"},"
        "\"areas\":[{\"id\":\"a\"}],"
        "\"buses\":[{\"id\":\"b\",\"type\":\"tcp\",\"host\":\"127.0.0.1\","
        "\"port\":%d,\"max_gap\":8}],\"devices\":[",
        port);
    for (int d = 1; d <= BENCH_DEVICES; d++) {
        n += (size_t)snprintf(json + n, sizeof(json) - n,
                              "%s{\"id\":\"d%d\",\"bus\":\"b\",\"unit_id\":%d,"
                              "\"poll_ms\":10,\"points\":[",
                              d == 1 ? "" : ",", d, d);
        for (int g = 0; g < BENCH_GROUPS; g++)
            for (int r = 0; r < 4; r++)
                n += (size_t)snprintf(json + n, sizeof(json) - n,
                                      "%s{\"id\":\"d%d.g%dr%d\",\"area\":\"a\","
                                      "\"address\":%d}",
                                      g == 0 && r == 0 ? "" : ",", d, g, r, g * 16 + r);
        n += (size_t)snprintf(json + n, sizeof(json) - n, "]}");
    }
    n += (size_t)snprintf(json + n, sizeof(json) - n, "]}");
    if (config_parse("bench.json", json, n, &cfg, err, sizeof(err)) < 0) {
        fprintf(stderr, "bench_tcp: %s\n", err);
        exit(1);
    }
    return cfg;
}

static double poller_loop(struct config *cfg, double seconds)
{
    struct ring *samples = ring_new(sizeof(struct msg_sample), 1 << 16);
    struct poller *p = poller_new(cfg, 0, samples);
    struct msg_sample s;
    struct poller_stats a, b;
    int64_t t0, t1, end;

    if (samples == NULL || p == NULL || poller_start(p) != 0) {
        fprintf(stderr, "bench_tcp: cannot start the poller\n");
        exit(1);
    }
    /* Let it connect and settle, then measure a window by its own request counter. */
    end = pgtime_mono_ns() + 300 * PGTIME_NS_PER_MS;
    while (pgtime_mono_ns() < end)
        while (ring_pop(samples, &s))
            ;
    poller_stats(p, &a);
    t0 = pgtime_mono_ns();
    end = t0 + (int64_t)(seconds * 1e9);
    while (pgtime_mono_ns() < end) {
        struct timespec ts = {0, 1000000};

        while (ring_pop(samples, &s))
            ;
        (void)nanosleep(&ts, NULL);
    }
    poller_stats(p, &b);
    t1 = pgtime_mono_ns();
    poller_free(p);
    ring_free(samples);
    if (b.failures != a.failures) {
        fprintf(stderr, "bench_tcp: %llu failed requests during the run\n",
                (unsigned long long)(b.failures - a.failures));
        exit(1);
    }
    return (double)(b.requests - a.requests) / ((double)(t1 - t0) / 1e9);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

#define ROUNDS 5

/*
 * Rounds alternate the two loops so that whatever else the machine is doing hits both
 * alike; the medians are compared, and every round is printed so noise shows.
 */
int main(int argc, char **argv)
{
    double seconds = 2, bare[ROUNDS], polled[ROUNDS];
    struct config *cfg;
    int port;

    if (argc > 1)
        seconds = atof(argv[1]);
    log_init("bench_tcp", LOG_LEVEL_WARN);
    start_server();
    port = server_port;
    cfg = make_config(port);
    for (int r = 0; r < ROUNDS; r++) {
        bare[r] = bare_loop(port, seconds);
        polled[r] = poller_loop(cfg, seconds);
        printf("round %d: bare libmodbus %8.0f/s, parkguard poller %8.0f/s\n", r + 1,
               bare[r], polled[r]);
    }
    config_free(cfg);
    qsort(bare, ROUNDS, sizeof(double), cmp_double);
    qsort(polled, ROUNDS, sizeof(double), cmp_double);
    printf("median: bare libmodbus loop %.0f transactions/s, parkguard poller %.0f "
           "transactions/s: %.1f %%\n",
           bare[ROUNDS / 2], polled[ROUNDS / 2],
           100.0 * polled[ROUNDS / 2] / bare[ROUNDS / 2]);
    return 0;
}
