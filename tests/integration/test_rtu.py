#!/usr/bin/python3
"""Modbus RTU through the real binary, against a third-party slave: pymodbus 3.0 serving
units 1 and 2 on one end of a socat pty pair, parkguard polling the other end as an RTU
bus with real frames, t3.5 gaps and CRCs. Unit 3 is configured but absent on the line.

Checks the values decoded from int16, float32 (ABCD) and input registers, that the absent
unit is quarantined and reported comm-loss, and that the two live units keep their rate.

usage: test_rtu.py BIN_DIR
"""

import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
PYMODBUS_SERVER = os.path.join(HERE, "..", "fieldbus", "pymodbus_server.py")
Q_GOOD, Q_COMM_LOSS = 0, 1


def point(pid, address, **kw):
    p = {"id": pid, "area": "vt-roasting", "address": address}
    p.update(kw)
    return p


def site(h, device, db):
    return {
        "gateway": {"id": "it-gw-rtu", "site": "vanadium-titanium"},
        "store": {"path": db},
        "mqtt": {"uri": "tcp://127.0.0.1:%d" % h.broker_port},
        "areas": [{"id": "vt-roasting"}],
        "buses": [{"id": "rs485-1", "type": "rtu", "device": device, "baud": 19200,
                   "parity": "none", "data_bits": 8, "stop_bits": 2,
                   "response_timeout_ms": 200, "comm_loss_after_ms": 1500,
                   "quarantine": {"failures": 2, "backoff_min_ms": 2000,
                                  "backoff_max_ms": 4000}}],
        "devices": [
            {"id": "u1", "bus": "rs485-1", "unit_id": 1, "poll_ms": 250, "points": [
                point("u1.max", 2, type="int16"),
                point("u1.min", 3, type="int16"),
                point("u1.neg", 6, type="int16", scale=0.1),
                point("u1.pi", 7, type="float32", order="ABCD"),
                point("u1.cold", 9, type="float32", order="ABCD"),
                point("u1.ramp", 5, table="input", type="uint16")]},
            {"id": "u2", "bus": "rs485-1", "unit_id": 2, "poll_ms": 250, "points": [
                point("u2.h3", 3), point("u2.i4", 4, table="input")]},
            {"id": "u3", "bus": "rs485-1", "unit_id": 3, "poll_ms": 250, "points": [
                point("u3.gas", 0, fault_delay_ms=2000)]},
        ],
    }


def last_value(db, pid):
    rows = harness.db_query(db, "SELECT r.value FROM readings r JOIN points p "
                                "ON p.id = r.point WHERE p.name = ? AND r.quality = 0 "
                                "ORDER BY r.t_ms DESC LIMIT 1", (pid,))
    return rows[0][0] if rows else None


def count(db, pid, quality, t_from=0):
    return harness.db_query(db, "SELECT count(*) FROM readings r JOIN points p "
                                "ON p.id = r.point WHERE p.name = ? AND r.quality = ? "
                                "AND r.t_ms >= ?", (pid, quality, t_from))[0][0]


def main(r, h):
    h.start_broker()
    server_end = os.path.join(h.dir, "line-slave")
    gw_end = os.path.join(h.dir, "line-gateway")
    socat = h.spawn(["socat", "-d", "-d", "pty,raw,echo=0,link=" + server_end,
                     "pty,raw,echo=0,link=" + gw_end], "socat.log")
    socat.reader.wait_line(lambda l: "starting data transfer loop" in l, 10, "socat")
    py = h.spawn(["/usr/bin/python3", PYMODBUS_SERVER, "rtu", "--device", server_end,
                  "--baud", "19200", "--parity", "N", "--stopbits", "2"],
                 "pymodbus.log")
    py.reader.wait_line(lambda l: l.startswith("READY"), 15, "the pymodbus RTU server")

    sub = h.start_subscriber("parkguard/vanadium-titanium/it-gw-rtu/alarm/#")
    db = os.path.join(h.dir, "rtu.db")
    pg = h.start_parkguard(h.write_config(site(h, gw_end, db)))
    harness.wait_for(lambda: last_value(db, "u1.pi") is not None and
                     last_value(db, "u2.i4") is not None, 15, "RTU readings")
    expect = {"u1.max": 32767, "u1.min": -32768, "u1.neg": -123.4,
              "u1.pi": 3.14159, "u1.cold": -273.15, "u1.ramp": 105,
              "u2.h3": 2003, "u2.i4": 2504}
    for pid, want in expect.items():
        got = last_value(db, pid)
        r.check(got is not None and abs(got - want) <= 1e-5 * max(1, abs(want)),
                "%s decodes to %s over RTU (got %r)" % (pid, want, got))

    pg.reader.wait_line(lambda l: "u3" in l and "quarantined" in l, 10,
                        "the absent unit 3 to be quarantined")
    r.check(True, "the absent unit is quarantined")
    harness.wait_for(lambda: count(db, "u3.gas", Q_COMM_LOSS) > 0, 10,
                     "comm-loss readings for unit 3")
    r.check(count(db, "u3.gas", Q_GOOD) == 0, "the absent unit never yields a value")
    # Bad quality for longer than its fault delay: an instrument-fault alarm.
    fault = harness.wait_for(lambda: next((json.loads(l.partition(" ")[2])
                                           for l in sub.reader.snapshot()
                                           if "/alarm/u3.gas " in l), None),
                             15, "the instrument-fault alarm of the absent unit")
    r.check(fault["limit"] == "fault" and fault["event"] == "alm" and
            fault["quality"] in ("timeout", "comm-loss") and fault["value"] is None,
            "the absent unit raises an instrument-fault alarm (%s, %s, value %r)"
            % (fault["limit"], fault["quality"], fault["value"]))
    t0 = int(time.time() * 1000)
    harness.wait_for(lambda: int(time.time() * 1000) - t0 >= 5000, 7, "a 5 s window")
    t1 = int(time.time() * 1000)
    harness.wait_for(lambda: count(db, "u1.pi", Q_GOOD, t1) > 0, 5, "the next commit")
    n1 = count(db, "u1.pi", Q_GOOD, t0) - count(db, "u1.pi", Q_GOOD, t1)
    rate = n1 / ((t1 - t0) / 250.0)
    r.check(rate >= 0.9, "unit 1 keeps %.0f %% of its poll rate next to the absent "
                         "unit" % (rate * 100))
    r.check(h.stop(pg) == 0, "parkguard exits 0 on SIGTERM")


if __name__ == "__main__":
    sys.exit(harness.run("rtu", main))
