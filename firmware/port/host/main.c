/*
 * parkguard-nodesim: parkguard field nodes on the host, for the demo, the tests and
 * integrators without hardware.
 *
 * One thread, one poll() loop. Each node runs the firmware's own core (framer, PDU
 * handler, node model); only the sensor (a scenario) and the line (a pty or a TCP socket)
 * are simulated. Ten times a second every node takes a sensor sample, as the Cortex-M
 * port does. SIGTERM and SIGINT arrive through a signalfd, so a stop request is just one
 * more readable descriptor and the loop ends cleanly with exit status 0.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "nsconf.h"
#include "ptybus.h"
#include "simnode.h"
#include "tcpbus.h"

#define SAMPLE_US 100000u

struct bus {
    enum nsconf_bus_kind kind;
    struct ptybus *pty;
    struct tcpbus *tcp;
    size_t first_fd, n_fds;
};

static struct nsconf conf;
static struct simnode nodes[NSCONF_MAX_NODES];
static struct bus buses[NSCONF_MAX_BUSES];
static struct pollfd fds[1 + NSCONF_MAX_BUSES * (1 + TCPBUS_MAX_CONN)];

static uint64_t monotonic_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

/* Open every bus and start its nodes, then announce them. Returns 0 or -1 (logged). */
static int start(uint64_t start_us)
{
    char err[NSCONF_ERR_LEN];
    size_t first = 0;

    for (size_t i = 0; i < conf.n_nodes; i++) {
        if (simnode_start(&nodes[i], &conf.nodes[i], 0) < 0) {
            fprintf(stderr, "parkguard-nodesim: --node %s: too many nodes\n",
                    conf.nodes[i].spec);
            return -1;
        }
    }
    /* Nodes are stored bus by bus, in command-line order. */
    for (size_t b = 0; b < conf.n_buses; b++) {
        size_t n = conf.buses[b].n_nodes;

        buses[b].kind = conf.buses[b].kind;
        if (buses[b].kind == NSCONF_BUS_PTY)
            buses[b].pty =
                ptybus_new(&conf, &nodes[first], n, start_us, err, sizeof(err));
        else
            buses[b].tcp =
                tcpbus_new(&conf, conf.buses[b].port, &nodes[first], n, err, sizeof(err));
        if (buses[b].pty == NULL && buses[b].tcp == NULL) {
            fprintf(stderr, "parkguard-nodesim: %s\n", err);
            return -1;
        }
        for (size_t i = first; i < first + n; i++) {
            if (buses[b].pty != NULL)
                printf("NODE %u PTY %s\n", (unsigned)conf.nodes[i].node.unit_id,
                       ptybus_path(buses[b].pty));
            else
                printf("NODE %u PORT %u\n", (unsigned)conf.nodes[i].node.unit_id,
                       (unsigned)tcpbus_port(buses[b].tcp));
        }
        first += n;
    }
    printf("READY\n");
    fflush(stdout);
    return 0;
}

static void stop(void)
{
    for (size_t b = 0; b < conf.n_buses; b++) {
        if (conf.stats && buses[b].pty != NULL)
            ptybus_print_stats(buses[b].pty);
        ptybus_free(buses[b].pty);
        tcpbus_free(buses[b].tcp);
    }
    for (size_t i = 0; i < conf.n_nodes; i++) {
        if (nodes[i].node != NULL)
            simnode_stop(&nodes[i]);
    }
}

static int run(int sigfd, uint64_t start_us)
{
    uint64_t next_sample = start_us + SAMPLE_US;

    for (;;) {
        uint64_t now = monotonic_us(), deadline = next_sample;
        uint32_t t_ms;
        size_t nfds = 1;
        struct timespec timeout;
        uint64_t wait_us;
        int rc;

        fds[0].fd = sigfd;
        fds[0].events = POLLIN;
        for (size_t b = 0; b < conf.n_buses; b++) {
            buses[b].first_fd = nfds;
            if (buses[b].pty != NULL) {
                fds[nfds].fd = ptybus_fd(buses[b].pty);
                fds[nfds].events = POLLIN;
                nfds++;
                deadline = min_u64(deadline, ptybus_deadline(buses[b].pty));
            } else {
                nfds += tcpbus_pollfds(buses[b].tcp, &fds[nfds]);
                deadline = min_u64(deadline, tcpbus_deadline(buses[b].tcp));
            }
            buses[b].n_fds = nfds - buses[b].first_fd;
        }
        /*
         * Microsecond deadlines: poll()'s whole milliseconds, rounded up, added up to a
         * millisecond to every frame end and every reply, and the wire-timing benchmark
         * measured the simulator instead of the gateway at 115200 baud.
         */
        wait_us = deadline <= now ? 0 : deadline - now;
        timeout.tv_sec = (time_t)(wait_us / 1000000u);
        timeout.tv_nsec = (long)(wait_us % 1000000u) * 1000L;
        rc = ppoll(fds, nfds, &timeout, NULL);
        if (rc < 0 && errno != EINTR) {
            fprintf(stderr, "parkguard-nodesim: ppoll: %s\n", strerror(errno));
            return 1;
        }
        if (rc > 0 && (fds[0].revents & POLLIN))
            return 0;

        now = monotonic_us();
        t_ms = (uint32_t)((now - start_us) / 1000u);
        for (size_t b = 0; b < conf.n_buses && rc > 0; b++) {
            struct pollfd *f = &fds[buses[b].first_fd];

            if (buses[b].pty != NULL && (f->revents & POLLIN))
                ptybus_read(buses[b].pty, now, t_ms);
            else if (buses[b].tcp != NULL)
                tcpbus_handle(buses[b].tcp, f, buses[b].n_fds, now, t_ms);
        }
        if (now >= next_sample) {
            for (size_t i = 0; i < conf.n_nodes; i++)
                simnode_sample(&nodes[i], t_ms);
            /* Whole steps from the start, skipping any that a stall made us miss. */
            next_sample += ((now - next_sample) / SAMPLE_US + 1) * SAMPLE_US;
        }
        for (size_t b = 0; b < conf.n_buses; b++) {
            if (buses[b].pty != NULL)
                ptybus_tick(buses[b].pty, now, t_ms);
            else
                tcpbus_tick(buses[b].tcp, now);
        }
    }
}

int main(int argc, char **argv)
{
    char err[NSCONF_ERR_LEN];
    sigset_t mask;
    uint64_t start_us;
    int sigfd = -1, status = 1;

    if (nsconf_parse(&conf, argc, argv, err, sizeof(err)) < 0) {
        fprintf(stderr, "parkguard-nodesim: %s\n", err);
        return 2;
    }
    if (conf.help) {
        fputs(nsconf_usage, stdout);
        return 0;
    }

    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0 ||
        (sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK)) < 0) {
        fprintf(stderr, "parkguard-nodesim: signalfd: %s\n", strerror(errno));
        return 1;
    }
    /* A TCP client that vanishes must not kill the simulator with SIGPIPE. */
    signal(SIGPIPE, SIG_IGN);

    start_us = monotonic_us();
    if (start(start_us) < 0)
        goto out;
    status = run(sigfd, start_us);
out:
    stop();
    close(sigfd);
    return status;
}
