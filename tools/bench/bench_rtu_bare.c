/*
 * bench_rtu_bare: the baseline for bench_rtu.py. A bare libmodbus RTU loop that reads
 * REGS registers from units 1..NODES in turn, pausing exactly t3.5 after each reply (as
 * the Modbus spec requires and as parkguard's fieldbus does), for SECONDS; it prints the
 * average cycle time in milliseconds. What this achieves on the same simulated line is
 * what the line and the simulator allow; parkguard's poller is measured against it.
 *
 * usage: bench_rtu_bare TTY BAUD NODES REGS SECONDS
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <modbus/modbus.h>

#include "pgtime.h"

int main(int argc, char **argv)
{
    uint16_t regs[125];
    modbus_t *ctx;
    int baud, nodes, nregs;
    int64_t t35, end, t0;
    long n = 0;

    if (argc != 6) {
        fprintf(stderr, "usage: bench_rtu_bare TTY BAUD NODES REGS SECONDS\n");
        return 2;
    }
    baud = atoi(argv[2]);
    nodes = atoi(argv[3]);
    nregs = atoi(argv[4]);
    t35 = baud > 19200 ? 1750000 : (int64_t)(3.5 * 11 * 1e9 / baud);
    ctx = modbus_new_rtu(argv[1], baud, 'N', 8, 1);
    if (ctx == NULL || modbus_connect(ctx) != 0) {
        fprintf(stderr, "bench_rtu_bare: %s: %s\n", argv[1], modbus_strerror(errno));
        return 1;
    }
    (void)modbus_set_response_timeout(ctx, 1, 0);
    t0 = pgtime_mono_ns();
    end = t0 + (int64_t)(atof(argv[5]) * 1e9);
    while (pgtime_mono_ns() < end) {
        for (int u = 1; u <= nodes; u++) {
            struct timespec ts;

            (void)modbus_set_slave(ctx, u);
            if (modbus_read_registers(ctx, 0, nregs, regs) != nregs) {
                fprintf(stderr, "bench_rtu_bare: unit %d: %s\n", u, modbus_strerror(errno));
                return 1;
            }
            ts = pgtime_ns_to_ts(pgtime_mono_ns() + t35);
            (void)clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
        }
        n++;
    }
    printf("%.3f\n", (double)(pgtime_mono_ns() - t0) / 1e6 / (double)n);
    modbus_close(ctx);
    modbus_free(ctx);
    return 0;
}
