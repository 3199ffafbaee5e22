#!/usr/bin/python3
"""End to end through the real binary: a parkguard field node (parkguard-nodesim over Modbus
TCP, polled through the parkguard-node profile) is put into test mode and its injected
concentration crosses a high limit and comes back; the alarm activation and clear reach a
real mosquitto subscriber and the SQLite file, flagged test, as the node's test bit asks;
the retained status goes "online", and "offline" after SIGTERM. A restart on the same
store continues the event sequence instead of starting again at 1.

usage: test_spine.py BIN_DIR
"""

import json
import os
import signal
import sys
import time
from datetime import datetime, timezone

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
PROFILES = os.path.normpath(os.path.join(HERE, "..", "..", "hw", "profiles"))

POINT = "gd-101.ch4"
SETPOINT = 25.0
DEADBAND = 2.0


def site_config(h, field_port, db):
    return {
        "gateway": {"id": "it-gw-01", "site": "geliping"},
        "profiles_dir": PROFILES,
        "rt": {"period_ms": 10},
        "store": {"path": db},
        "mqtt": {"uri": "tcp://127.0.0.1:%d" % h.broker_port, "keepalive_s": 10},
        "areas": [{"id": "glp-unit1", "name": "Unit 1"}],
        "buses": [{"id": "tcp-1", "type": "tcp", "host": "127.0.0.1", "port": field_port,
                   "response_timeout_ms": 500}],
        "devices": [{
            # The profile's heartbeat is stale after 5 s: poll_ms must stay <= 2500,
            # and below the bus's comm_loss_after_ms (5000 by default).
            "id": "gd-101", "bus": "tcp-1", "unit_id": 1, "poll_ms": 100,
            "profile": "parkguard-node",
            "points": [{
                "id": POINT, "use": "gas", "unit": "%LEL", "area": "glp-unit1",
                "high": {"setpoint": SETPOINT, "deadband": DEADBAND}}]}],
    }


def alarm_messages(sub, topic_prefix):
    out = []
    for line in sub.reader.snapshot():
        topic, _, payload = line.partition(" ")
        if topic.startswith(topic_prefix + "/alarm/"):
            out.append((topic, json.loads(payload)))
    return out


def wait_alarm(sub, prefix, event, n, timeout=15):
    """Wait for the n-th alarm message whose event is event; returns its payload."""
    def find():
        found = [p for _, p in alarm_messages(sub, prefix) if p.get("event") == event]
        return found[n - 1] if len(found) >= n else None
    return harness.wait_for(find, timeout, "alarm %s #%d on the broker" % (event, n))


def wait_reading(db, value, timeout=10):
    """Wait until the recorder has stored a reading of this value for the point."""
    sql = ("SELECT count(*) FROM readings r JOIN points p ON p.id = r.point "
           "WHERE p.name = ? AND abs(r.value - ?) < 1e-9")
    return harness.wait_for(lambda: os.path.exists(db) and
                            harness.db_query(db, sql, (POINT, value))[0][0] > 0,
                            timeout, "a stored reading of %s" % value)


def main(r, h):
    prefix = "parkguard/geliping/it-gw-01"
    h.start_broker()
    # The node's own sensor reads a steady 5 %LEL, well below the limit.
    nodes = h.start_nodesim(["--tcp", "0", "--node", "1:steady,base=5,noise=0"])
    field_port = nodes[1][1]
    sub = h.start_subscriber("parkguard/#")
    db = os.path.join(h.dir, "parkguard.db")
    cfg = h.write_config(site_config(h, field_port, db))

    t0 = int(time.time() * 1000)
    pg = h.start_parkguard(cfg)
    sub.reader.wait_line(lambda l: l == prefix + "/status online", 15,
                         "the retained online status")
    r.check(True, "status 'online' is published after connecting")
    # The gateway first sees the node's own value, so the alarm is a crossing.
    harness.wait_for(lambda: harness.db_query(
        db, "SELECT count(*) FROM readings WHERE quality = 0 AND value BETWEEN 4 AND 6"
    )[0][0] > 0, 10, "a stored reading of the node's own 5 %LEL")

    # Over the limit: one activation, carrying the point, the value and a timestamp.
    # The value is injected in test mode (a proof test), 30.0 %LEL for up to an hour.
    harness.node_start_test(field_port, 1, 300)
    status = harness.modbus_read_registers(field_port, 1, harness.STATUS, 1)[0]
    r.check(status & harness.STATUS_TEST, "the node reports test mode in its status "
                                          "word (0x%04x)" % status)
    act = wait_alarm(sub, prefix, "alm", 1)
    t1 = int(time.time() * 1000)
    r.check(act["point"] == POINT, "activation names the point (%s)" % act["point"])
    r.check(act["value"] == 30.0, "activation carries the value 30.0 (got %r)"
            % act["value"])
    r.check(act["setpoint"] == SETPOINT and act["limit"] == "high",
            "activation carries the limit and its setpoint")
    r.check(t0 <= act["ts_ms"] <= t1, "activation timestamp lies within the test window")
    ts = datetime.strptime(act["ts"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=timezone.utc)
    r.check(int(ts.timestamp() * 1000) == act["ts_ms"],
            "ISO 8601 'ts' and 'ts_ms' agree (%s)" % act["ts"])
    r.check(act["seq"] == 1, "first event of a new store has seq 1")
    r.check(act.get("test") is True, "an injected value's alarm is flagged test (%r)"
            % act.get("test"))

    # Inside the deadband (24.0 > 25 - 2): stored as a reading, but no clear.
    harness.modbus_write_register(field_port, 1, harness.TEST_CONC_X10, 240)
    wait_reading(db, 24.0)
    r.check(not [p for _, p in alarm_messages(sub, prefix) if p["event"] == "rtn"],
            "a value inside the deadband does not clear the alarm")

    # Below setpoint - deadband: the clear.
    harness.modbus_write_register(field_port, 1, harness.TEST_CONC_X10, 220)  # 22.0
    clr = wait_alarm(sub, prefix, "rtn", 1)
    r.check(clr["point"] == POINT and clr["value"] == 22.0,
            "clear names the point and carries 22.0 (got %r)" % clr["value"])
    r.check(clr["seq"] == 2 and clr["ts_ms"] >= act["ts_ms"],
            "clear follows the activation in sequence and time")
    r.check(clr.get("test") is True, "the clear, decided by an injected value, is "
                                     "flagged test too (%r)" % clr.get("test"))

    # Clean stop: exit 0 and the retained status flips to offline.
    rc = h.stop(pg, signal.SIGTERM)
    r.check(rc == 0, "parkguard exits 0 on SIGTERM (got %s)" % rc)
    sub.reader.wait_line(lambda l: l == prefix + "/status offline", 10,
                         "the offline status")
    r.check(True, "status 'offline' is published on SIGTERM")

    rows = harness.db_query(db, "SELECT seq, target, event, value, setpoint, t_ms, test "
                                "FROM event_log ORDER BY seq")
    r.check([(s, p, k, v) for s, p, k, v, _, _, _ in rows] ==
            [(1, POINT, "alm", 30.0), (2, POINT, "rtn", 22.0)],
            "both events are in the SQLite file in order: %r" % rows)
    r.check(len(rows) == 2 and all(row[6] == 1 for row in rows),
            "both stored events are flagged test (event_log.test = 1)")
    r.check(rows and rows[0][5] == act["ts_ms"],
            "the stored event keeps the published timestamp")
    undelivered = harness.db_query(db, "SELECT count(*) FROM outbox "
                                       "WHERE delivered_ms IS NULL")[0][0]
    r.check(undelivered == 0, "every outbox row is marked delivered after PUBACK")

    # Restart on the same store: the sequence continues and the value is re-evaluated.
    pg = h.start_parkguard(cfg, "parkguard-2.log")
    harness.modbus_write_register(field_port, 1, harness.TEST_CONC_X10, 410)
    act2 = wait_alarm(sub, prefix, "alm", 2)
    r.check(act2["seq"] == 3, "after a restart the sequence continues at 3 (got %r)"
            % act2["seq"])
    r.check(act2["value"] == 41.0 and act2.get("test") is True,
            "the new activation carries 41.0, flagged test (%r, %r)"
            % (act2["value"], act2.get("test")))
    rc = h.stop(pg, signal.SIGTERM)
    r.check(rc == 0, "second run exits 0 on SIGTERM")


if __name__ == "__main__":
    sys.exit(harness.run("spine", main))
