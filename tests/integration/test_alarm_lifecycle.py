#!/usr/bin/python3
"""The whole life of a gas alarm, end to end through the real binaries.

A methane leak on a parkguard field node (parkguard-nodesim on a pty: real Modbus RTU
frames) rises past level-1 (20 %LEL) and level-2 (40 %LEL), holds, and disperses. A safety
officer works it with parkguardctl over the control socket. Level-2 latches (GB 16808):

    level-2  alm    normal        -> unack          the leak reaches 40 %LEL
             reset  refused: not_latched            the gas is still there
             ack    unack         -> acked          the officer acknowledges
             reset  refused: not_latched            still there
             rtn    acked         -> latched_ack    the gas clears; the alarm holds
             reset  latched_ack   -> normal         the officer resets it

Each step is checked on the broker (a real mosquitto subscriber) and in the SQLite journal,
in order, with the officer's id on every command; refused commands are in the audit table
and nowhere on MQTT. Along the way: level-1 is the area's first-out; an officer the config
does not know is refused; the siren and the beacon (simulated relay backend) follow
GB 16808: silence stops the siren, not the beacon, and a new alarm sounds it again.

usage: test_alarm_lifecycle.py BIN_DIR
"""

import json
import os
import signal
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
PROFILES = os.path.join(ROOT, "hw", "profiles")
BOARDS = os.path.join(ROOT, "hw", "boards")

POINT = "gd-301.ch4"
AREA = "vt-unit3"
PREFIX = "parkguard/vanadium-titanium/it-gw-life"
OFFICER = "zhang.wei"
# The leak: 3 %LEL, from t = 1 s rising 5 %LEL/s to 50 %LEL, stopped at t = 31 s, then
# dispersing at 5 %LEL/s: level-2 (40) from about 8.4 s to 33.6 s, level-1 (20) until
# 37.4 s. The 25 s with level-2 active leave room for a slow, sanitized build.
LEAK = "1:leak,base=3,noise=0,start=1,rate=5,peak=50,for=30"


def site_config(h, pty, db, sock, relays):
    return {
        "gateway": {"id": "it-gw-life", "site": "vanadium-titanium"},
        "profiles_dir": PROFILES,
        "rt": {"period_ms": 10},
        "store": {"path": db},
        "mqtt": {"uri": "tcp://127.0.0.1:%d" % h.broker_port, "keepalive_s": 10},
        "control": {"socket": sock,
                    "officers": [{"id": OFFICER, "rights": ["ack", "shelve", "service"]},
                                 {"id": "li.na", "rights": ["shelve"]}]},
        "outputs": {"board": "arm-2x485-r2", "boards_dir": BOARDS, "backend": "sim",
                    "sim_path": relays,
                    "relays": [{"output": "relay-1", "role": "beacon",
                                "priorities": [1, 2, 3]},
                               {"output": "relay-2", "role": "siren",
                                "priorities": [1, 2]}]},
        "areas": [{"id": AREA, "name": "Unit 3 chlorination"}],
        "buses": [{"id": "rs485-1", "type": "rtu", "device": pty, "baud": 19200,
                   "parity": "none", "response_timeout_ms": 300}],
        "devices": [{
            "id": "gd-301", "bus": "rs485-1", "unit_id": 1, "poll_ms": 200,
            "profile": "parkguard-node",
            "points": [{
                "id": POINT, "use": "gas", "unit": "%LEL", "area": AREA,
                "gas": {"class": "combustible"},
                "limits": {"level1": {"setpoint": 20.0, "deadband": 2.0},
                           "level2": {"setpoint": 40.0, "deadband": 3.0}}}]}],
    }


class Ctl:
    """parkguardctl on the daemon's socket, with JSON output."""

    def __init__(self, h, sock):
        self.argv = [os.path.join(h.bin_dir, "parkguardctl"), "-s", sock, "-j"]

    def __call__(self, officer, *args):
        argv = self.argv + (["-o", officer] if officer else []) + list(args)
        p = subprocess.run(argv, capture_output=True, text=True, timeout=20)
        try:
            reply = json.loads(p.stdout) if p.stdout.strip() else None
        except ValueError:
            raise harness.TestFailure("parkguardctl %s: not JSON: %r (stderr %r)"
                                      % (" ".join(args), p.stdout, p.stderr))
        return p.returncode, reply


def alarm_messages(sub):
    out = []
    for line in sub.reader.snapshot():
        topic, _, payload = line.partition(" ")
        if topic.startswith(PREFIX + "/alarm/"):
            out.append(json.loads(payload))
    return out


def wait_msg(sub, limit, event, timeout=40):
    def find():
        found = [p for p in alarm_messages(sub)
                 if p["limit"] == limit and p["event"] == event]
        return found[0] if found else None
    return harness.wait_for(find, timeout, "%s %s on the broker" % (limit, event))


def relay_state(path):
    """The last line of the simulated relay file ("<utc_ms> <event> <id>=<state>/<level>
    ..."), as {output id: logical state 0 or 1}."""
    if not os.path.exists(path):
        return {}
    with open(path) as f:
        lines = [l.split() for l in f if l.strip()]
    if not lines:
        return {}
    out = {}
    for kv in lines[-1][2:]:
        key, _, val = kv.partition("=")
        out[key] = int(val.split("/")[0])
    return out


def wait_relays(path, want, what, timeout=10):
    def ok():
        st = relay_state(path)
        return all(st.get(k) == v for k, v in want.items())
    harness.wait_for(ok, timeout, "%s (relays %r, want %r)"
                     % (what, relay_state(path), want))


def main(r, h):
    h.start_broker()
    nodes = h.start_nodesim(["--pty", "--node", LEAK])
    pty = nodes[1][1]
    sub = h.start_subscriber(PREFIX + "/#")
    db = os.path.join(h.dir, "parkguard.db")
    sock = os.path.join(h.dir, "control.sock")
    relays = os.path.join(h.dir, "relays.log")
    cfg = h.write_config(site_config(h, pty, db, sock, relays))
    pg = h.start_parkguard(cfg)
    ctl = Ctl(h, sock)

    st = os.stat(sock)
    r.check(oct(st.st_mode & 0o777) == "0o660", "the control socket is mode 0660 (%s)"
            % oct(st.st_mode & 0o777))
    r.check(not [n for n in os.listdir(h.dir) if n.startswith(".pgctl-")],
            "the private directory the socket was bound in is gone")

    # Level-1 first: the area's first-out, and it sounds the siren.
    l1 = wait_msg(sub, "level1", "alm")
    r.check((l1["from"], l1["to"], l1["priority"]) == ("normal", "unack", 2),
            "level-1: normal -> unack at priority 2 (%r)" % l1)
    r.check(l1["first_out"] is True, "level-1 is the area's first-out")
    wait_relays(relays, {"relay-1": 1, "relay-2": 1}, "beacon and siren on at level-1")

    # Silence: the siren stops, the beacon stays.
    rc, rep = ctl(OFFICER, "silence")
    r.check(rc == 0 and rep and rep.get("ok") is True, "silence is accepted (%r)" % rep)
    wait_relays(relays, {"relay-1": 1, "relay-2": 0}, "siren silenced, beacon still on")

    # Level-2: latching, priority 1, and a new alarm re-sounds the siren.
    l2 = wait_msg(sub, "level2", "alm")
    r.check((l2["from"], l2["to"], l2["priority"], l2["latching"]) ==
            ("normal", "unack", 1, True),
            "level-2: normal -> unack, priority 1, latching (%r)" % l2)
    r.check(l2["first_out"] is False, "level-2 is not the first-out")
    r.check(l2["seq"] > l1["seq"], "level-2 follows level-1 in sequence")
    wait_relays(relays, {"relay-1": 1, "relay-2": 1}, "the new alarm sounds the siren again")

    # The alarm list: priority first, first-out marked.
    rc, rep = ctl(OFFICER, "alarms")
    rows = rep.get("alarms", rep) if isinstance(rep, dict) else rep
    r.check(rc == 0 and isinstance(rows, list) and len(rows) == 2,
            "parkguardctl alarms lists two alarms (%r)" % rep)
    if isinstance(rows, list) and len(rows) == 2:
        r.check([a["limit"] for a in rows] == ["level2", "level1"],
                "the list is ordered by priority: level2 (P1) before level1 (P2)")
        r.check([a["first_out"] for a in rows] == [False, True],
                "the list marks level1 as the first-out")

    # Refused commands: an unknown officer; a reset before any acknowledgement.
    rc, rep = ctl("nobody", "ack", POINT, "level2")
    r.check(rc == 1 and rep and rep.get("error") == "not_authorised",
            "an officer not in the config is refused: not_authorised (%r)" % rep)
    rc, rep = ctl("li.na", "ack", POINT, "level2")
    r.check(rc == 1 and rep and rep.get("error") == "not_authorised",
            "an officer without the ack right is refused (%r)" % rep)
    rc, rep = ctl(OFFICER, "reset", POINT, "level2", "--reason", "too early")
    r.check(rc == 1 and rep and rep.get("error") == "not_latched",
            "reset of an active alarm is refused: not_latched (%r)" % rep)

    # Acknowledge level-2 while the gas is still there.
    rc, rep = ctl(OFFICER, "ack", POINT, "level2")
    r.check(rc == 0 and rep and (rep.get("from"), rep.get("to")) == ("unack", "acked"),
            "ack is accepted: unack -> acked (%r)" % rep)
    r.check(rep and rep.get("recorded") is True,
            "the reply comes once the ack is in the store (recorded: %r)" % rep)
    ack = wait_msg(sub, "level2", "ack", 10)
    r.check(ack.get("user") == OFFICER and ack["to"] == "acked",
            "the ack reaches the broker with the officer id (%r)" % ack)
    rc, rep = ctl(OFFICER, "reset", POINT, "level2", "--reason", "still gas")
    r.check(rc == 1 and rep and rep.get("error") == "not_latched",
            "reset while the gas is present is refused: not_latched (%r)" % rep)
    rc, rep = ctl(OFFICER, "ack", POINT, "level1")
    r.check(rc == 0, "level-1 is acknowledged too (%r)" % rep)
    wait_relays(relays, {"relay-1": 1, "relay-2": 0},
                "with nothing unacknowledged the siren stops; the beacon stays")

    # The gas disperses: level-2 latches, level-1 (acknowledged, not latching) goes.
    clr = wait_msg(sub, "level2", "rtn", 60)
    r.check((clr["from"], clr["to"], clr["condition"]) == ("acked", "latched_ack", False),
            "level-2 clears into latched_ack (%r)" % clr)
    l1clr = wait_msg(sub, "level1", "rtn", 30)
    r.check((l1clr["from"], l1clr["to"]) == ("acked", "normal"),
            "level-1 returns to normal on its own (%r)" % l1clr)
    r.check(relay_state(relays).get("relay-1") == 1,
            "the latched alarm keeps the beacon on (%r)" % relay_state(relays))

    # The officer resets the latched alarm.
    rc, rep = ctl(OFFICER, "reset", POINT, "level2", "--reason", "area checked, gas clear")
    r.check(rc == 0 and rep and (rep.get("from"), rep.get("to")) == ("latched_ack",
                                                                      "normal"),
            "reset is accepted: latched_ack -> normal (%r)" % rep)
    rst = wait_msg(sub, "level2", "reset", 10)
    r.check(rst.get("user") == OFFICER and rst.get("reason") == "area checked, gas clear",
            "the reset reaches the broker with the officer and the reason (%r)" % rst)
    wait_relays(relays, {"relay-1": 0, "relay-2": 0}, "beacon and siren off at the end")
    rc, rep = ctl(OFFICER, "alarms")
    rows = rep.get("alarms", rep) if isinstance(rep, dict) else rep
    r.check(rc == 0 and rows == [], "the alarm list is empty at the end (%r)" % rep)

    # MQTT carried level-2's whole life, in order, and nothing refused.
    life = [(p["event"], p["from"], p["to"]) for p in alarm_messages(sub)
            if p["limit"] == "level2"]
    r.check(life == [("alm", "normal", "unack"), ("ack", "unack", "acked"),
                     ("rtn", "acked", "latched_ack"), ("reset", "latched_ack", "normal")],
            "level-2 on MQTT: alm, ack, rtn, reset (%r)" % life)
    seqs = [p["seq"] for p in alarm_messages(sub)]
    r.check(seqs == sorted(seqs) and len(set(seqs)) == len(seqs),
            "sequence numbers on MQTT strictly increase (%r)" % seqs)

    # The alarm KPIs reach the retained metrics (every 10 s): two annunciations, one P1 and
    # one P2, and the eight commands of this test, four of them refused.
    def kpis():
        for line in reversed(sub.reader.snapshot()):
            topic, _, payload = line.partition(" ")
            if topic == PREFIX + "/metrics":
                a = json.loads(payload).get("alarms", {})
                return a if a.get("commands") == 8 else None
        return None
    k = harness.wait_for(kpis, 25, "a metrics document counting all eight commands")
    r.check(k.get("annunciations") == 2 and k.get("rate_10min") == 2 and
            k.get("rate_10min_by_priority") == [1, 1, 0, 0],
            "metrics: 2 alarms in the last 10 min, one P1 and one P2 (%r)" % k)
    r.check(k.get("commands_rejected") == 4 and k.get("active") == 0 and
            k.get("flood") is False and k.get("stale") == 0,
            "metrics: 4 refused commands, nothing active, no flood, nothing stale (%r)" % k)

    rc = h.stop(pg, signal.SIGTERM)
    r.check(rc == 0, "parkguard exits 0 on SIGTERM (got %s)" % rc)

    # The journal holds the same steps, in order, and the refusals.
    rows = harness.db_query(db, "SELECT event, from_state, to_state, user FROM events "
                                "WHERE type = 'alarm' AND limit_name = 'level2' "
                                "ORDER BY seq")
    r.check([tuple(x) for x in rows] ==
            [("alm", "normal", "unack", None), ("ack", "unack", "acked", OFFICER),
             ("rtn", "acked", "latched_ack", None),
             ("reset", "latched_ack", "normal", OFFICER)],
            "level-2 in the journal: alm, ack, rtn, reset (%r)" % rows)
    audit = harness.db_query(db, "SELECT user, action, target, limit_name, result "
                                 "FROM audit ORDER BY id")
    want = [("nobody", "ack", POINT, "level2", "not_authorised"),
            ("li.na", "ack", POINT, "level2", "not_authorised"),
            (OFFICER, "reset", POINT, "level2", "not_latched"),
            (OFFICER, "ack", POINT, "level2", "accepted"),
            (OFFICER, "reset", POINT, "level2", "not_latched"),
            (OFFICER, "ack", POINT, "level1", "accepted"),
            (OFFICER, "reset", POINT, "level2", "accepted")]
    got = [tuple(a) for a in audit if a[1] != "silence"]
    ok = len(got) == len(want) and all(g[:len(w)] == w for g, w in zip(got, want))
    r.check(ok, "the audit trail has every command with its officer and result (%r)"
            % audit)
    r.check(any(a[1] == "silence" and a[0] == OFFICER for a in audit),
            "the silence is audited with its officer")
    left = harness.db_query(db, "SELECT count(*) FROM alarms WHERE limit_name = 'level2'")
    r.check(left[0][0] == 0, "no saved state is left for the reset alarm")
    seqs = [x[0] for x in harness.db_query(db, "SELECT seq FROM events ORDER BY seq")]
    r.check(seqs == list(range(1, len(seqs) + 1)),
            "journal sequence numbers run 1..%d without a gap" % len(seqs))


if __name__ == "__main__":
    sys.exit(harness.run("alarm-lifecycle", main))
