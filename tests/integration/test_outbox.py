#!/usr/bin/python3
"""Store and forward through the real binary: alarms raised while the broker is unreachable
wait in the SQLite outbox and arrive, in order, once it is reachable again; a link cut
mid-run loses nothing; a gateway killed with SIGKILL is announced "offline" by its Last Will,
and the alarm it had stored but not delivered goes out after the restart.

The field is a parkguard node (parkguard-nodesim over Modbus TCP, polled through the
parkguard-node profile); the alarms are raised and cleared by values injected in test
mode, so every one of them is flagged test.

usage: test_outbox.py BIN_DIR
"""

import json
import os
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
PROFILES = os.path.normpath(os.path.join(HERE, "..", "..", "hw", "profiles"))
POINT = "gd-201.h2s"
PREFIX = "parkguard/geliping/it-gw-02"


def site_config(mqtt_port, field_port, db):
    return {
        "gateway": {"id": "it-gw-02", "site": "geliping"},
        "profiles_dir": PROFILES,
        "store": {"path": db},
        "mqtt": {"uri": "tcp://127.0.0.1:%d" % mqtt_port, "keepalive_s": 5,
                 "connect_timeout_s": 2},
        "areas": [{"id": "glp-tank1"}],
        "buses": [{"id": "tcp-1", "type": "tcp", "host": "127.0.0.1", "port": field_port}],
        "devices": [{
            # poll_ms within the profile's heartbeat window (<= 2500) and below the
            # bus's comm_loss_after_ms (5000 by default).
            "id": "gd-201", "bus": "tcp-1", "unit_id": 1, "poll_ms": 100,
            "profile": "parkguard-node",
            "points": [{"id": POINT, "use": "gas", "unit": "ppm", "area": "glp-tank1",
                        "high": {"setpoint": 10.0, "deadband": 1.0}}]}],
    }


def alarms(sub):
    out = []
    for line in sub.reader.snapshot():
        topic, _, payload = line.partition(" ")
        if topic.startswith(PREFIX + "/alarm/"):
            out.append(json.loads(payload))
    return out


def wait_alarms(sub, n, timeout=45):
    return harness.wait_for(lambda: alarms(sub) if len(alarms(sub)) >= n else None,
                            timeout, "%d alarm message(s) on the broker" % n)


def stored_events(db):
    if not os.path.exists(db):
        return []
    return harness.db_query(db, "SELECT o.seq, o.delivered_ms IS NOT NULL FROM outbox o "
                                "ORDER BY o.id")


def wait_stored(db, n):
    return harness.wait_for(lambda: len(stored_events(db)) >= n, 10,
                            "%d event(s) in the outbox" % n)


def main(r, h):
    broker_port = h.start_broker()
    # An H2S detector in ppm whose own sensor reads a steady 2 ppm.
    nodes = h.start_nodesim(["--tcp", "0",
                             "--node", "1:steady,base=2,noise=0,units=ppm"])
    field_port = nodes[1][1]
    sub = h.start_subscriber(PREFIX + "/#")
    proxy = harness.Proxy(broker_port)  # starts blocked: the network is down
    db = os.path.join(h.dir, "parkguard.db")
    cfg = h.write_config(site_config(proxy.port, field_port, db))

    pg = h.start_parkguard(cfg)

    # Broker unreachable from the start: the alarm is stored, not lost.
    harness.node_start_test(field_port, 1, 150)  # 15.0 ppm, injected
    wait_stored(db, 1)
    r.check(stored_events(db) == [(1, 0)],
            "an alarm raised with no broker is stored as undelivered")
    harness.modbus_write_register(field_port, 1, harness.TEST_CONC_X10, 50)  # clear
    wait_stored(db, 2)
    r.check(alarms(sub) == [], "nothing reached the broker while it was unreachable")

    proxy.unblock()
    got = wait_alarms(sub, 2)
    r.check([(a["seq"], a["event"]) for a in got] == [(1, "alm"), (2, "rtn")],
            "once reachable, both stored alarms arrive in order: %r"
            % [(a["seq"], a["event"]) for a in got])
    harness.wait_for(lambda: all(d for _, d in stored_events(db)), 10,
                     "delivery marks in the outbox")
    r.check(True, "both rows are marked delivered after PUBACK")

    # Cut the link while connected, raise an alarm during the cut, restore the link.
    proxy.block()
    harness.modbus_write_register(field_port, 1, harness.TEST_CONC_X10, 160)
    wait_stored(db, 3)
    proxy.unblock()
    got = wait_alarms(sub, 3)
    r.check(got[2]["seq"] == 3 and got[2]["event"] == "alm",
            "an alarm raised during a link cut arrives after reconnecting")

    # SIGKILL while connected and idle: only the broker can say "offline" now, and it
    # does so through the Last Will.
    harness.modbus_write_register(field_port, 1, harness.TEST_CONC_X10, 30)  # seq 4
    wait_alarms(sub, 4)
    offline = lambda: sum(1 for l in sub.reader.snapshot()
                          if l == PREFIX + "/status offline")
    before = offline()
    os.kill(pg.pid, signal.SIGKILL)
    pg.wait(10)
    harness.wait_for(lambda: offline() > before, 30,
                     "the Last Will 'offline' after SIGKILL")
    r.check(True, "SIGKILL: the broker announces 'offline' through the Last Will")

    # A crash with an alarm stored but not yet delivered: it goes out after restart.
    proxy.block()
    pg = h.start_parkguard(cfg, "parkguard-2.log")
    # activation, undeliverable
    harness.modbus_write_register(field_port, 1, harness.TEST_CONC_X10, 170)
    harness.wait_for(lambda: any(not d for _, d in stored_events(db)), 10,
                     "an undelivered alarm in the outbox")
    os.kill(pg.pid, signal.SIGKILL)
    pg.wait(10)
    undelivered = [s for s, d in stored_events(db) if not d]
    r.check(len(undelivered) == 1 and undelivered[0] >= 5,
            "the alarm raised before the crash is in the file, undelivered (%r)"
            % undelivered)
    proxy.unblock()

    # Restart: everything undelivered goes out, then new events continue the sequence.
    pg = h.start_parkguard(cfg, "parkguard-3.log")
    harness.wait_for(lambda: undelivered[0] in [a["seq"] for a in alarms(sub)], 45,
                     "seq %d to be delivered after the restart" % undelivered[0])
    r.check(True, "after the restart the undelivered alarm is delivered")
    harness.wait_for(lambda: all(d for _, d in stored_events(db)), 10,
                     "every outbox row delivered")
    r.check(True, "every outbox row is delivered in the end")
    seqs = sorted(set(a["seq"] for a in alarms(sub)))
    r.check(seqs == list(range(1, len(seqs) + 1)),
            "the broker saw every sequence number, none missing: %r" % seqs)
    flags = set(a.get("test") for a in alarms(sub))
    r.check(flags == {True}, "every alarm, raised by an injected value, is flagged test "
                             "on the broker (%r)" % flags)
    stored = harness.db_query(db, "SELECT DISTINCT test FROM event_log")
    r.check(stored == [(1,)], "every stored event is flagged test too (%r)" % stored)
    rc = h.stop(pg, signal.SIGTERM)
    r.check(rc == 0, "parkguard exits 0 on SIGTERM")


if __name__ == "__main__":
    sys.exit(harness.run("outbox", main))
