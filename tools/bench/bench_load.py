#!/usr/bin/python3
"""CPU and memory of the real parkguard binary polling 1,000 points across 50 Modbus TCP
devices (5 endpoints of 10 units, 20 points each), at poll intervals of 1 s and 100 ms,
with a real broker and the store on a real file.

The devices are parkguard field nodes: one parkguard-nodesim process with 5 Modbus TCP
listeners of 10 nodes each (unit ids 1..50, ten per listener). Each device has 20 uint16
points on registers 0..19 of the node's map, read in one request; their high limit lies
beyond any uint16 x 0.1, so every reading is evaluated and none raises an alarm.

usage: bench_load.py BIN_DIR [SECONDS]

CPU is parkguard's user+system time over the window divided by the window (100 % = one
core), read from /proc/PID/stat; memory is VmRSS at the end and VmHWM (peak RSS).
"""

import os
import sys
import time

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "..", "tests", "integration"))
import harness  # noqa: E402

CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime


def status_kib(pid, key):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


ENDPOINTS, UNITS, POINTS = 5, 10, 20


def unit_id(e, u):
    return e * UNITS + u


def site(h, ports, db, poll_ms):
    devices = []
    for e, port in enumerate(ports):
        for u in range(1, UNITS + 1):
            d = "d%d-%d" % (e, u)
            devices.append({"id": d, "bus": "ep%d" % e, "unit_id": unit_id(e, u),
                            "poll_ms": poll_ms,
                            "points": [{"id": "%s.p%d" % (d, i), "area": "a",
                                        "address": i, "type": "uint16", "scale": 0.1,
                                        "high": {"setpoint": 7000.0, "deadband": 1.0}}
                                       for i in range(POINTS)]})
    return {"gateway": {"id": "bench", "site": "bench"},
            "store": {"path": db},
            "mqtt": {"uri": "tcp://127.0.0.1:%d" % h.broker_port},
            "areas": [{"id": "a"}],
            "buses": [{"id": "ep%d" % e, "type": "tcp", "host": "127.0.0.1", "port": p,
                       "comm_loss_after_ms": 5000} for e, p in enumerate(ports)],
            "devices": devices}


def run(h, ports, poll_ms, seconds):
    db = os.path.join(h.dir, "load-%d.db" % poll_ms)
    cfg = h.write_config(site(h, ports, db, poll_ms), "load-%d.json" % poll_ms)
    pg = h.start_parkguard(cfg, "pg-%d.log" % poll_ms)
    t_settle = time.monotonic()
    harness.wait_for(lambda: time.monotonic() - t_settle > 3, 5, "warm-up")
    c0, t0 = cpu_seconds(pg.pid), time.monotonic()
    harness.wait_for(lambda: time.monotonic() - t0 >= seconds, seconds + 5, "the window")
    c1, t1 = cpu_seconds(pg.pid), time.monotonic()
    rss, hwm = status_kib(pg.pid, "VmRSS"), status_kib(pg.pid, "VmHWM")
    h.stop(pg)
    n = harness.db_query(db, "SELECT count(*) FROM readings")[0][0]
    bad = harness.db_query(db, "SELECT count(*) FROM readings WHERE quality != 0")[0][0]
    events = harness.db_query(db, "SELECT count(*) FROM event_log")[0][0]
    if bad or events:
        raise harness.TestFailure("poll %d ms: %d readings not good, %d alarm events; "
                                  "every read must succeed and no limit be reached"
                                  % (poll_ms, bad, events))
    print("poll %5d ms: CPU %5.1f %% of one core, RSS %5.1f MiB (peak %5.1f MiB), "
          "%d readings stored (%.0f/s)" % (poll_ms, 100 * (c1 - c0) / (t1 - t0),
                                          rss / 1024, hwm / 1024, n, n / (t1 - t_settle)))


def main():
    bin_dir = sys.argv[1]
    seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 30
    h = harness.Harness(bin_dir, "bench-load")
    try:
        h.start_broker()
        args = []
        for e in range(ENDPOINTS):
            args += ["--tcp", "0"]
            for u in range(1, UNITS + 1):
                args += ["--node", "%d:steady" % unit_id(e, u)]
        nodes = h.start_nodesim(args)
        ports = [nodes[unit_id(e, 1)][1] for e in range(ENDPOINTS)]
        if len(set(ports)) != ENDPOINTS:
            raise harness.TestFailure("expected %d listeners, got ports %r"
                                      % (ENDPOINTS, ports))
        print("1000 points, 50 Modbus TCP devices on 5 endpoints, %.0f s windows" % seconds)
        for poll_ms in (1000, 100):
            run(h, ports, poll_ms, seconds)
    finally:
        h.close()


if __name__ == "__main__":
    main()
