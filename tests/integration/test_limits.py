#!/usr/bin/python3
"""End to end through the real binary: a combustible gas point with two alarm levels from
its "limits" (level-1 at 20 %LEL after a 1 s on-delay, level-2 at 40 %LEL) on a parkguard
field node (parkguard-nodesim over Modbus TCP, profile parkguard-node). An injected 30 %LEL
raises level-1 only, and not before its on-delay has run; 45 %LEL raises level-2; 5 %LEL
clears both. The events reach a real mosquitto subscriber with their limit names and the
SQLite event log in order.

usage: test_limits.py BIN_DIR
"""

import json
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
PROFILES = os.path.normpath(os.path.join(HERE, "..", "..", "hw", "profiles"))

POINT = "gd-201.ch4"
PREFIX = "parkguard/geliping/it-gw-lim"
L1, L1_DEADBAND, L1_ON_DELAY_MS = 20.0, 2.0, 1000
L2, L2_DEADBAND = 40.0, 3.0


def site_config(h, field_port, db):
    return {
        "gateway": {"id": "it-gw-lim", "site": "geliping"},
        "profiles_dir": PROFILES,
        "rt": {"period_ms": 10},
        "store": {"path": db},
        "mqtt": {"uri": "tcp://127.0.0.1:%d" % h.broker_port, "keepalive_s": 10},
        "areas": [{"id": "glp-unit2", "name": "Unit 2"}],
        "buses": [{"id": "tcp-1", "type": "tcp", "host": "127.0.0.1", "port": field_port,
                   "response_timeout_ms": 500}],
        "devices": [{
            "id": "gd-201", "bus": "tcp-1", "unit_id": 1, "poll_ms": 100,
            "profile": "parkguard-node",
            "points": [{
                "id": POINT, "use": "gas", "unit": "%LEL", "area": "glp-unit2",
                "gas": {"class": "combustible"},
                "limits": {
                    "level1": {"setpoint": L1, "deadband": L1_DEADBAND,
                               "on_delay_ms": L1_ON_DELAY_MS},
                    "level2": {"setpoint": L2, "deadband": L2_DEADBAND}}}]}],
    }


def alarms(sub):
    out = []
    for line in sub.reader.snapshot():
        topic, _, payload = line.partition(" ")
        if topic.startswith(PREFIX + "/alarm/"):
            out.append(json.loads(payload))
    return out


def wait_alarm(sub, limit, event, timeout=15):
    """Wait for the alarm message of this limit and event; returns its payload."""
    def find():
        found = [p for p in alarms(sub) if p["limit"] == limit and p["event"] == event]
        return found[0] if found else None
    return harness.wait_for(find, timeout, "%s %s on the broker" % (limit, event))


def main(r, h):
    h.start_broker()
    # The node's own sensor reads a steady 5 %LEL, below both levels.
    nodes = h.start_nodesim(["--tcp", "0", "--node", "1:steady,base=5,noise=0"])
    field_port = nodes[1][1]
    sub = h.start_subscriber("parkguard/#")
    db = os.path.join(h.dir, "parkguard.db")
    cfg = h.write_config(site_config(h, field_port, db))

    pg = h.start_parkguard(cfg)
    sub.reader.wait_line(lambda l: l == PREFIX + "/status online", 15,
                         "the retained online status")
    harness.wait_for(lambda: os.path.exists(db) and harness.db_query(
        db, "SELECT count(*) FROM readings WHERE quality = 0 AND value BETWEEN 4 AND 6"
    )[0][0] > 0, 10, "a stored reading of the node's own 5 %LEL")

    # 30 %LEL: above level-1, below level-2. Level-1 waits out its 1 s on-delay.
    t_inject = int(time.time() * 1000)
    harness.node_start_test(field_port, 1, 300)
    act1 = wait_alarm(sub, "level1", "alm")
    r.check(act1["point"] == POINT and act1["value"] == 30.0,
            "level1 activation names the point and carries 30.0 (got %r)" % act1["value"])
    r.check(act1["setpoint"] == L1 and act1["deadband"] == L1_DEADBAND,
            "level1 activation carries its set-point and deadband (%r, %r)"
            % (act1["setpoint"], act1["deadband"]))
    r.check(act1["ts_ms"] - t_inject >= L1_ON_DELAY_MS - 100,
            "level1 activates only after its on-delay (%d ms after the injection)"
            % (act1["ts_ms"] - t_inject))
    r.check(act1.get("test") is True, "the injected value's alarm is flagged test")
    # Give a wrong level-2 activation time to show up before checking it did not.
    time.sleep(0.5)
    r.check(not [p for p in alarms(sub) if p["limit"] == "level2"],
            "30 %LEL does not raise level2")

    # 45 %LEL: level-2 too, at once (no on-delay).
    harness.modbus_write_register(field_port, 1, harness.TEST_CONC_X10, 450)
    act2 = wait_alarm(sub, "level2", "alm")
    r.check(act2["value"] == 45.0 and act2["setpoint"] == L2,
            "level2 activation carries 45.0 and its set-point (%r, %r)"
            % (act2["value"], act2["setpoint"]))
    r.check(act2["seq"] > act1["seq"], "level2 follows level1 in sequence")

    # 5 %LEL: below both set-points less their deadbands, so both clear.
    harness.modbus_write_register(field_port, 1, harness.TEST_CONC_X10, 50)
    clr1 = wait_alarm(sub, "level1", "rtn")
    clr2 = wait_alarm(sub, "level2", "rtn")
    r.check(clr1["value"] == 5.0 and clr2["value"] == 5.0,
            "both clears carry 5.0 (%r, %r)" % (clr1["value"], clr2["value"]))
    r.check(clr1["condition"] is False and clr2["condition"] is False,
            "the clears say the condition is false")
    # Nobody acknowledged: level-1 waits in rtn_unack, latching level-2 in latched_unack.
    r.check((clr1["from"], clr1["to"]) == ("unack", "rtn_unack"),
            "level1 goes from unack to rtn_unack (%r -> %r)" % (clr1["from"], clr1["to"]))
    r.check((clr2["from"], clr2["to"]) == ("unack", "latched_unack"),
            "level2 latches: unack to latched_unack (%r -> %r)" % (clr2["from"], clr2["to"]))
    r.check(len(alarms(sub)) == 4, "exactly four alarm messages: %r"
            % [(p["limit"], p["event"]) for p in alarms(sub)])

    rc = h.stop(pg, signal.SIGTERM)
    r.check(rc == 0, "parkguard exits 0 on SIGTERM (got %s)" % rc)

    rows = harness.db_query(db, "SELECT seq, target, event, limit_name, value, setpoint, "
                                "deadband, test FROM events ORDER BY seq")
    got = [(p, k, l, v, s) for _, p, k, l, v, s, _, _ in rows]
    r.check(got[:2] == [(POINT, "alm", "level1", 30.0, L1),
                        (POINT, "alm", "level2", 45.0, L2)],
            "the activations are stored in order: %r" % rows)
    r.check(sorted(got[2:]) == [(POINT, "rtn", "level1", 5.0, L1),
                                (POINT, "rtn", "level2", 5.0, L2)],
            "both clears are stored after them: %r" % rows)
    r.check(all(row[7] == 1 for row in rows), "every stored event is flagged test")
    r.check([row[6] for row in rows[:2]] == [L1_DEADBAND, L2_DEADBAND],
            "the stored events keep their deadbands")


if __name__ == "__main__":
    sys.exit(harness.run("limits", main))
