#!/usr/bin/python3
"""Alarm state survives a restart, and a kill -9.

Two gas points on a parkguard field node (parkguard-nodesim over Modbus TCP): one in a
standing leak (level-1 and level-2 active), one steady at 25 %LEL (level-1 active). The
officer acknowledges level-2 and shelves the second point's level-1 for 20 s. parkguard
is then killed with SIGKILL and started again on the same store:

  - no alarm comes back quieter than it was: level-2 is still acked, level-1 unack,
    the shelved alarm still shelved, each with its first-out and since time;
  - no new alm is published for a condition that was already active (no false alarm, no
    lost one);
  - the shelve ends at its original deadline, not 20 s after the restart;
  - journal sequence numbers continue without a gap.

usage: test_alarm_restart.py BIN_DIR
"""

import json
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
PROFILES = os.path.normpath(os.path.join(HERE, "..", "..", "hw", "profiles"))

LEAK, STEADY = "gd-401.ch4", "gd-402.ch4"
PREFIX = "parkguard/geliping/it-gw-restart"
OFFICER = "wang.fang"
SHELVE_S = 20


def site_config(h, port, db, sock):
    def point(pid):
        return {"id": pid, "use": "gas", "unit": "%LEL", "area": "glp-tank",
                "gas": {"class": "combustible"},
                "limits": {"level1": {"setpoint": 20.0, "deadband": 2.0},
                           "level2": {"setpoint": 40.0, "deadband": 3.0}}}
    return {
        "gateway": {"id": "it-gw-restart", "site": "geliping"},
        "profiles_dir": PROFILES,
        "store": {"path": db},
        "mqtt": {"uri": "tcp://127.0.0.1:%d" % h.broker_port, "keepalive_s": 10},
        "control": {"socket": sock,
                    "officers": [{"id": OFFICER, "rights": ["ack", "shelve", "service"]}]},
        "areas": [{"id": "glp-tank", "name": "Tank farm"}],
        "buses": [{"id": "tcp-1", "type": "tcp", "host": "127.0.0.1", "port": port}],
        "devices": [
            {"id": "gd-401", "bus": "tcp-1", "unit_id": 1, "poll_ms": 200,
             "profile": "parkguard-node", "points": [point(LEAK)]},
            {"id": "gd-402", "bus": "tcp-1", "unit_id": 2, "poll_ms": 200,
             "profile": "parkguard-node", "points": [point(STEADY)]}],
    }


def ctl(h, sock, *args):
    argv = [os.path.join(h.bin_dir, "parkguardctl"), "-s", sock, "-j", "-o", OFFICER]
    p = subprocess.run(argv + list(args), capture_output=True, text=True, timeout=20)
    try:
        return p.returncode, json.loads(p.stdout) if p.stdout.strip() else None
    except ValueError:
        raise harness.TestFailure("parkguardctl %s: not JSON: %r %r"
                                  % (" ".join(args), p.stdout, p.stderr))


def alarm_list(h, sock):
    rc, rep = ctl(h, sock, "alarms")
    rows = rep.get("alarms", rep) if isinstance(rep, dict) else rep
    if rc != 0 or not isinstance(rows, list):
        raise harness.TestFailure("parkguardctl alarms failed: %s %r" % (rc, rep))
    return dict(((a["point"], a["limit"]), a) for a in rows)


def messages(sub):
    out = []
    for line in sub.reader.snapshot():
        topic, _, payload = line.partition(" ")
        if topic.startswith(PREFIX + "/alarm/"):
            out.append(json.loads(payload))
    return out


def wait_msg(sub, point, limit, event, timeout=30):
    def find():
        m = [p for p in messages(sub)
             if (p["point"], p["limit"], p["event"]) == (point, limit, event)]
        return m[0] if m else None
    return harness.wait_for(find, timeout, "%s %s %s on the broker" % (point, limit, event))


def main(r, h):
    h.start_broker()
    nodes = h.start_nodesim(["--tcp", "0",
                             "--node", "1:leak,base=3,noise=0,start=0,rate=20,peak=50",
                             "--node", "2:steady,base=25,noise=0"])
    port = nodes[1][1]
    sub = h.start_subscriber(PREFIX + "/alarm/#")
    db = os.path.join(h.dir, "parkguard.db")
    sock = os.path.join(h.dir, "control.sock")
    cfg = h.write_config(site_config(h, port, db, sock))

    pg = h.start_parkguard(cfg)
    wait_msg(sub, LEAK, "level2", "alm")
    wait_msg(sub, STEADY, "level1", "alm")
    rc, rep = ctl(h, sock, "ack", LEAK, "level2")
    r.check(rc == 0, "level-2 of the leak is acknowledged (%r)" % rep)
    rc, rep = ctl(h, sock, "shelve", STEADY, "level1", "--for", str(SHELVE_S),
                  "--reason", "calibration drift, work order 4711")
    r.check(rc == 0 and rep and rep.get("to") == "shelved",
            "the steady point's level-1 is shelved for %d s (%r)" % (SHELVE_S, rep))
    t_shelved = time.time()
    shelve = wait_msg(sub, STEADY, "level1", "shelve")
    before = alarm_list(h, sock)
    last_seq = harness.wait_for(
        lambda: harness.db_query(db, "SELECT max(seq) FROM events WHERE event = 'shelve'")
        [0][0], 10, "the shelve in the journal")

    # kill -9: no orderly shutdown, no last flush.
    pg.send_signal(signal.SIGKILL)
    pg.wait(10)
    n_before = len(messages(sub))

    pg = h.start_parkguard(cfg, "parkguard-2.log")
    after = alarm_list(h, sock)
    for key in [(LEAK, "level1"), (LEAK, "level2"), (STEADY, "level1")]:
        b, a = before.get(key), after.get(key)
        r.check(a is not None and b is not None and a["state"] == b["state"],
                "%s/%s resumes in state %s (got %s)"
                % (key[0], key[1], b and b["state"], a and a["state"]))
        if a and b:
            r.check(a.get("first_out") == b.get("first_out"),
                    "%s/%s keeps its first-out flag (%r)" % (key[0], key[1],
                                                             a.get("first_out")))
    r.check(after.get((LEAK, "level2"), {}).get("state") == "acked",
            "the acknowledged level-2 is still acked after kill -9")
    r.check(after.get((STEADY, "level1"), {}).get("state") == "shelved",
            "the shelved alarm is still shelved after kill -9")

    # The shelve ends at its first deadline, which the restart did not move.
    exp = wait_msg(sub, STEADY, "level1", "shelve_expired", SHELVE_S + 30)
    late = exp["ts_ms"] / 1000.0 - t_shelved
    r.check(SHELVE_S - 2 <= late <= SHELVE_S + 5,
            "the shelve expires %.1f s after it was set (%d s asked)" % (late, SHELVE_S))
    r.check(exp["to"] == "unack" and exp["condition"] is True,
            "the gas is still there when the shelve ends: back to unack (%r)" % exp["to"])
    r.check(shelve.get("shelved_until") is not None, "the shelve message says until when")

    # Nothing re-announced as new: the only new event since the restart is the expiry.
    # (Delivery is at least once: a message whose PUBACK the kill cut off is sent again
    # with its own seq, so new events are told by their seq, not by their arrival.)
    seen = set(m["seq"] for m in messages(sub)[:n_before])
    new = [(m["point"], m["limit"], m["event"]) for m in messages(sub)[n_before:]
           if m["seq"] not in seen and m["seq"] > last_seq]
    r.check(new == [(STEADY, "level1", "shelve_expired")],
            "no alarm was raised again or lost across the restart (%r)" % new)
    r.check(exp["seq"] == last_seq + 1,
            "the sequence continues from %d to %d" % (last_seq, exp["seq"]))

    rc = h.stop(pg, signal.SIGTERM)
    r.check(rc == 0, "parkguard exits 0 on SIGTERM (got %s)" % rc)
    seqs = [x[0] for x in harness.db_query(db, "SELECT seq FROM events ORDER BY seq")]
    r.check(seqs == list(range(1, len(seqs) + 1)),
            "journal sequence numbers run 1..%d without a gap" % len(seqs))


if __name__ == "__main__":
    sys.exit(harness.run("alarm-restart", main))
