#!/usr/bin/python3
"""Field acquisition through the real binary, against failures peers are known to mishandle:

1. one dead device on a bus of eight must not starve the others: it is quarantined, its
   points become comm-loss, and the healthy devices keep >= 90 % of their poll rate;
2. a Modbus TCP server killed and restarted on the same port: polling resumes by itself,
   within the watchdog time, with no restart of parkguard;
3. a half-open connection (the server process frozen, the socket still open): the link
   watchdog notices and reconnects, and polling resumes when the server does.

The field is parkguard-nodesim: parkguard nodes behind a Modbus TCP listener, read at
register 6 (concentration x 10). The dead device is a node in comm loss from the start,
which takes every request and never answers: the gateway sees a timeout, as from a dead
detector behind a TCP-to-RTU gateway.

usage: test_acquisition.py BIN_DIR
"""

import json
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

Q_GOOD, Q_COMM_LOSS = 0, 1
CONC_X10 = 6  # the node's concentration x 10, uint16 (hw/regmap/regmap.def)


def config(h, port, units, db, poll_ms=200, **bus):
    b = {"id": "tcp-gw", "type": "tcp", "host": "127.0.0.1", "port": port,
         "response_timeout_ms": 300, "connect_timeout_ms": 500,
         "reconnect_max_ms": 2000, "watchdog_ms": 3000, "comm_loss_after_ms": 1500,
         "quarantine": {"failures": 3, "backoff_min_ms": 2000, "backoff_max_ms": 8000}}
    b.update(bus)
    return {
        "gateway": {"id": "it-gw-03", "site": "geliping"},
        "store": {"path": db},
        "mqtt": {"uri": "tcp://127.0.0.1:%d" % h.broker_port},
        "areas": [{"id": "glp-synthesis"}],
        "buses": [b],
        "devices": [{"id": "gd-%d" % u, "bus": "tcp-gw", "unit_id": u, "poll_ms": poll_ms,
                     "points": [{"id": "gd-%d.gas" % u, "area": "glp-synthesis",
                                 "address": CONC_X10, "scale": 0.1, "unit": "ppm"}]}
                    for u in range(1, units + 1)],
    }


def readings(db, point, quality, t_from_ms, t_to_ms=None):
    sql = ("SELECT count(*) FROM readings r JOIN points p ON p.id = r.point "
           "WHERE p.name = ? AND r.quality = ? AND r.t_ms >= ?")
    args = [point, quality, t_from_ms]
    if t_to_ms is not None:
        sql += " AND r.t_ms < ?"
        args.append(t_to_ms)
    return harness.db_query(db, sql, args)[0][0]


def now_ms():
    return int(time.time() * 1000)


def node(unit, spec="steady,base=5,units=ppm"):
    return ["--node", "%d:%s" % (unit, spec)]


def dead_device(r, h):
    args = ["--tcp", "0"]
    for u in range(1, 9):
        args += node(u, "commloss,start=0,units=ppm") if u == 4 else node(u)
    nodes = h.start_nodesim(args, "nodesim-dead.log")
    port = nodes[1][1]
    r.check(sorted(nodes) == list(range(1, 9)) and
            set(n[1] for n in nodes.values()) == {port},
            "eight nodes share one Modbus TCP listener (port %d)" % port)
    sub = h.start_subscriber("parkguard/geliping/it-gw-03/metrics")
    db = os.path.join(h.dir, "dead.db")
    pg = h.start_parkguard(h.write_config(config(h, port, 8, db), "dead.json"), "pg-dead.log")
    pg.reader.wait_line(lambda l: "gd-4" in l and "quarantined" in l, 10,
                        "the dead device to be quarantined")
    r.check(True, "the dead device is quarantined after 3 failed polls")
    # Measure a window once quarantine has settled; a new window, not a sleep, decides.
    t0 = now_ms()
    harness.wait_for(lambda: now_ms() - t0 >= 8000, 12, "an 8 s measurement window")
    t1 = now_ms()
    # The recorder group-commits readings about once a second.
    harness.wait_for(lambda: readings(db, "gd-1.gas", Q_GOOD, t1) > 0, 5, "the commit")
    expected = (t1 - t0) / 200.0
    rates = {u: readings(db, "gd-%d.gas" % u, Q_GOOD, t0, t1) / expected
             for u in range(1, 9) if u != 4}
    worst = min(rates.values())
    r.check(worst >= 0.90, "healthy devices keep >= 90 %% of their poll rate with a dead "
                           "neighbour (worst %.0f %%)" % (worst * 100))
    r.check(readings(db, "gd-4.gas", Q_GOOD, 0) == 0, "the dead device never yields a value")
    r.check(readings(db, "gd-4.gas", Q_COMM_LOSS, 0) > 0,
            "the dead device's point is reported as comm-loss")

    # The counters are published: the metrics show the quarantine and the healthy rest.
    def metrics():
        for line in reversed(sub.reader.snapshot()):
            topic, _, payload = line.partition(" ")
            if topic.endswith("/metrics"):
                return json.loads(payload)
        return None
    m = harness.wait_for(metrics, 15, "a metrics message")
    devs = {d["id"]: d for b in m["buses"] for d in b["devices"]}
    r.check(devs["gd-4"]["quarantined"] and devs["gd-4"]["comm_lost"] and
            devs["gd-4"]["timeouts"] >= 3 and devs["gd-4"]["skipped"] > 0,
            "metrics show gd-4 quarantined, comm-lost, with its timeouts and skipped polls")
    r.check(devs["gd-4"]["exceptions"] == 0 and devs["gd-4"]["bad_frames"] == 0,
            "the dead device is silent: timeouts, no exception or bad frame (%d, %d)"
            % (devs["gd-4"]["exceptions"], devs["gd-4"]["bad_frames"]))
    r.check(all(not d["quarantined"] and d["successes"] > 0 and d["rtt_avg_us"] > 0
                for k, d in devs.items() if k != "gd-4"),
            "metrics show the healthy devices succeeding, with round-trip times")
    # Utilisation is the share of a closed 10 s window, so the first metrics document can
    # come before the first window closes: wait for one that has it.
    def utilisation():
        for line in reversed(sub.reader.snapshot()):
            topic, _, payload = line.partition(" ")
            if topic.endswith("/metrics"):
                u = json.loads(payload)["buses"][0]["utilisation_pct"]
                return u if u > 0 else None
        return None
    u = harness.wait_for(utilisation, 25, "a metrics message with the bus utilisation")
    r.check(u > 0, "metrics carry the bus utilisation (%.1f %%)" % u)
    h.stop(pg)
    h.stop(sub)
    h.stop(h.nodesim)


def server_restart(r, h):
    port = h.start_nodesim(["--tcp", "0"] + node(1), "nodesim-a.log")[1][1]
    db = os.path.join(h.dir, "restart.db")
    pg = h.start_parkguard(h.write_config(config(h, port, 1, db, poll_ms=100),
                                          "restart.json"), "pg-restart.log")
    harness.wait_for(lambda: readings(db, "gd-1.gas", Q_GOOD, 0) > 0, 10, "first readings")
    os.kill(h.nodesim.pid, signal.SIGKILL)
    h.nodesim.wait(5)
    pg.reader.wait_line(lambda l: "tcp-gw" in l and ("link lost" in l or
                                                     "cannot connect" in l), 10,
                        "parkguard to notice the server is gone")
    r.check(True, "the killed server is noticed")
    again = h.start_nodesim(["--tcp", str(port)] + node(1), "nodesim-b.log")
    if again[1][1] != port:
        raise harness.TestFailure("the restarted server is on port %d, not %d"
                                  % (again[1][1], port))
    restarted = now_ms()
    harness.wait_for(lambda: readings(db, "gd-1.gas", Q_GOOD, restarted) > 0, 10,
                     "good readings after the server restarted")
    first = harness.db_query(db, "SELECT min(t_ms) FROM readings WHERE quality = 0 "
                                 "AND t_ms >= ?", (restarted,))[0][0]
    r.check(first - restarted <= 3000, "polling resumed %d ms after the restart, within "
                                       "the 3000 ms watchdog time" % (first - restarted))
    r.check(pg.poll() is None, "parkguard itself was never restarted")

    # Freeze the server: the TCP connection stays open but nothing answers.
    os.kill(h.nodesim.pid, signal.SIGSTOP)
    pg.reader.wait_line(lambda l: "link watchdog" in l, 15,
                        "the link watchdog to reset the half-open connection")
    r.check(True, "a half-open connection is reset by the link watchdog")
    os.kill(h.nodesim.pid, signal.SIGCONT)
    thawed = now_ms()
    harness.wait_for(lambda: readings(db, "gd-1.gas", Q_GOOD, thawed) > 0, 15,
                     "good readings after the server thawed")
    r.check(True, "polling resumes once the server answers again")
    rc = h.stop(pg)
    r.check(rc == 0, "parkguard exits 0 on SIGTERM")


def main(r, h):
    h.start_broker()
    dead_device(r, h)
    server_restart(r, h)


if __name__ == "__main__":
    sys.exit(harness.run("acq", main))
