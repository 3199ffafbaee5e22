#!/usr/bin/python3
"""RTU bus utilisation: the real parkguard polling 8 nodes on one RS-485 line, against the
theoretical wire time of the same transactions.

usage: bench_rtu.py BIN_DIR [SECONDS]

The line is a pty; parkguard-nodesim runs 8 nodes on it with --wire-timing BAUD, which
delays every reply by the time request and reply take on a real wire (11 bits per
character) and by --turnaround-ms. parkguard polls each node's registers 0..9 (one FC 03
request of 10 registers) as fast as the line allows (poll_ms 10, far below a cycle), so
the achieved cycle is the line's, not the schedule's.

Theoretical time of one transaction: request (8 bytes) + reply (5 + 2 x 10 = 25 bytes)
at 11 bits per character, plus two t3.5 gaps (the slave's end-of-request silence and the
master's silence before its next request; 3.5 characters, fixed 1.75 ms above 19200 baud),
plus the device turnaround. A cycle is 8 transactions.
"""

import os
import subprocess
import sys
import time

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "..", "tests", "integration"))
import harness  # noqa: E402

NODES, REGS, TURNAROUND_MS = 8, 10, 5


def t35_s(baud):
    return 0.00175 if baud > 19200 else 3.5 * 11 / baud


def theoretical_cycle_s(baud):
    chars = 8 + (5 + 2 * REGS)
    per = chars * 11 / baud + 2 * t35_s(baud) + TURNAROUND_MS / 1000.0
    return NODES * per


def site(h, tty, baud, db):
    return {"gateway": {"id": "bench-rtu", "site": "bench"},
            "store": {"path": db},
            "mqtt": {"uri": "tcp://127.0.0.1:%d" % h.broker_port},
            "areas": [{"id": "a"}],
            "buses": [{"id": "line", "type": "rtu", "device": tty, "baud": baud,
                       "parity": "none", "stop_bits": 1, "response_timeout_ms": 1000,
                       "comm_loss_after_ms": 10000}],
            "devices": [{"id": "n%d" % u, "bus": "line", "unit_id": u, "poll_ms": 10,
                         "points": [{"id": "n%d.r%d" % (u, r), "area": "a", "address": r}
                                    for r in range(REGS)]}
                        for u in range(1, NODES + 1)]}


def run(h, baud, seconds):
    args = [os.path.join(h.bin_dir, "parkguard-nodesim"), "--wire-timing", str(baud),
            "--turnaround-ms", str(TURNAROUND_MS), "--pty"]
    for u in range(1, NODES + 1):
        args += ["--node", "%d:steady" % u]
    sim = h.spawn(args, "nodesim-%d.log" % baud)
    sim.reader.wait_line(lambda l: l == "READY", 10, "nodesim")
    tty = [l.split()[3] for l in sim.reader.snapshot() if l.startswith("NODE 1 PTY")][0]
    db = os.path.join(h.dir, "rtu-%d.db" % baud)
    pg = h.start_parkguard(h.write_config(site(h, tty, baud, db), "rtu-%d.json" % baud),
                           "pg-%d.log" % baud)
    settle = time.monotonic()
    harness.wait_for(lambda: time.monotonic() - settle > 3, 5, "warm-up")
    t0 = int(time.time() * 1000)
    harness.wait_for(lambda: int(time.time() * 1000) - t0 >= seconds * 1000,
                     seconds + 5, "the window")
    t1 = int(time.time() * 1000)
    harness.wait_for(lambda: harness.db_query(
        db, "SELECT count(*) FROM readings WHERE t_ms >= ?", (t1,))[0][0] > 0, 5,
        "the next commit")
    n = harness.db_query(db, "SELECT count(*) FROM readings r JOIN points p "
                             "ON p.id = r.point WHERE p.name LIKE '%.r0' AND r.quality = 0 "
                             "AND r.t_ms >= ? AND r.t_ms < ?", (t0, t1))[0][0]
    bad = harness.db_query(db, "SELECT count(*) FROM readings WHERE quality != 0 "
                               "AND t_ms >= ? AND t_ms < ?", (t0, t1))[0][0]
    h.stop(pg)
    # The same line, driven by a bare libmodbus loop that pauses exactly t3.5.
    bare = subprocess.run([os.path.join(h.bin_dir, "bench_rtu_bare"), tty, str(baud),
                           str(NODES), str(REGS), str(min(seconds, 10))],
                          capture_output=True, text=True, timeout=seconds + 30)
    bare_ms = float(bare.stdout) if bare.returncode == 0 else float("nan")
    h.stop(sim)
    cycles = n / NODES
    achieved = (t1 - t0) / 1000.0 / cycles
    theory = theoretical_cycle_s(baud)
    print("%6d baud: parkguard cycle %7.2f ms, theoretical %7.2f ms: %.3f x; "
          "bare libmodbus on the same line %7.2f ms: %.3f x "
          "(%d polls of %d nodes in %.0f s, %d bad readings)"
          % (baud, achieved * 1000, theory * 1000, achieved / theory, bare_ms,
             bare_ms / 1000 / theory, n, NODES, (t1 - t0) / 1000.0, bad))


def main():
    seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 20
    h = harness.Harness(sys.argv[1], "bench-rtu")
    try:
        h.start_broker()
        print("%d nodes x FC 03 of %d registers, turnaround %d ms, %.0f s windows"
              % (NODES, REGS, TURNAROUND_MS, seconds))
        for baud in (9600, 115200):
            run(h, baud, seconds)
    finally:
        h.close()


if __name__ == "__main__":
    main()
