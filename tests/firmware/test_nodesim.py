"""parkguard-nodesim as its clients see it: Debian's mbpoll and pymodbus 3.0, and a raw
RTU client for what the libraries hide (bad CRCs, silence, timing, broadcast).

Usage: test_nodesim.py TEST NODESIM_BINARY. Each test starts its own simulator, waits
for READY, and stops it by pid with SIGTERM, which must give exit status 0.
"""

import os
import re
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fwtest import Announcer, RtuClient, TestFailure, check, crc16, f32, run_tests  # noqa

TEST_KEY = 0x7E57
# Register addresses, as in hw/regmap/regmap.def.
STATUS, HEARTBEAT, CONC, CONC_X10, LOOP_X100, FAULT_CODE, UNITS = 2, 3, 4, 6, 7, 8, 9
TEST_MODE, TEST_CONC_X10, L1_X10, L2_X10, UNIT_ID, INHIBIT = 16, 17, 20, 21, 22, 23
ST_FAULT, ST_INHIBIT, ST_TEST, ST_L1, ST_L2 = 1 << 1, 1 << 2, 1 << 3, 1 << 4, 1 << 5


class Sim(Announcer):
    def __init__(self, binary, *args):
        super().__init__([binary] + list(args))

    def stop_ok(self, sig=signal.SIGTERM):
        status, err = self.stop(sig)
        check(status == 0, "nodesim exited %d on signal %d: %s" % (status, sig, err))
        check("ERROR" not in err and "runtime error" not in err, "sanitizer: %s" % err)
        return err


def mbpoll(*args):
    out = subprocess.run(["mbpoll", "-1"] + list(args), capture_output=True, text=True,
                         timeout=20)
    check(out.returncode == 0, "mbpoll %s: %s%s" % (" ".join(args), out.stdout, out.stderr))
    return {int(m.group(1)): m.group(2) for m in
            re.finditer(r"^\[(\d+)\]:\s+(\S+)", out.stdout, re.M)}


def test_cli(binary):
    out = subprocess.run([binary, "--help"], capture_output=True, text=True, timeout=10)
    check(out.returncode == 0 and "--wire-timing BAUD" in out.stdout and
          "--scenario-file" in out.stdout, "--help: %d %s" % (out.returncode, out.stdout))
    for args, message in [([], "no --node"),
                          (["--node", "0"], "unit id"),
                          (["--node", "1:volcano"], "unknown kind"),
                          (["--node", "1:leak,rate=fast"], "bad value for rate"),
                          (["--node", "1:leak,colour=red"], "unknown key"),
                          (["--node", "1", "--node", "1"], "two nodes"),
                          (["--tcp"], "needs an argument"),
                          (["--node", "1", "--pty"], "a bus without nodes"),
                          (["--frobnicate", "--node", "1"], "unknown option"),
                          (["--wire-timing", "300", "--node", "1"], "baud")]:
        out = subprocess.run([binary] + args, capture_output=True, text=True, timeout=10)
        check(out.returncode == 2 and message in out.stderr,
              "%s: exit %d, %r (want %r)" % (args, out.returncode, out.stderr, message))

    with tempfile.NamedTemporaryFile("w", suffix=".scn", delete=False) as f:
        f.write("# a bus of two\npty\nnode 3:leak,start=1\nnode 4\nseed 9\nbogus 1\n")
    try:
        out = subprocess.run([binary, "--scenario-file", f.name], capture_output=True,
                             text=True, timeout=10)
        check(out.returncode == 2 and ("%s:6:" % f.name) in out.stderr,
              "scenario file error: %r" % out.stderr)
        with open(f.name, "w") as g:
            g.write("pty   # the bus\nnode 3:leak,start=1\nnode 4\nseed 9\n")
        sim = Sim(binary, "--scenario-file", f.name)
        check(sorted(sim.nodes) == [3, 4] and sim.where(3) == sim.where(4),
              "scenario file nodes: %s" % sim.nodes)
        sim.stop_ok(signal.SIGINT)
    finally:
        os.unlink(f.name)

    sim = Sim(binary, "--node", "1", "--stats")
    c = RtuClient(sim.where(1))
    c.read(1, 0, 1)
    c.close()
    err = sim.stop_ok(signal.SIGTERM)
    check("replies 1" in err, "--stats: %r" % err)


def test_mbpoll(binary):
    sim = Sim(binary, "--pty", "--node", "5:steady,base=12.5,noise=0")
    pty = sim.where(5)
    regs = mbpoll("-m", "rtu", "-b", "19200", "-P", "even", "-a", "5", "-0", "-r", "0",
                  "-c", "10", pty)
    check(regs[0] == "1" and regs[1] == "1", "identity: %s" % regs)
    check(regs[6] == "125", "CONC_X10 %s, want 125" % regs[6])
    check(regs[7] == "600", "LOOP_X100 %s, want 600 (6.00 mA)" % regs[7])
    check(regs[9] == "1", "UNITS %s" % regs[9])
    inputs = mbpoll("-m", "rtu", "-b", "19200", "-P", "even", "-a", "5", "-0", "-r", "0",
                    "-c", "10", "-t", "3", pty)
    check(inputs[6] == "125" and inputs[0] == "1", "input registers: %s" % inputs)
    flt = mbpoll("-m", "rtu", "-b", "19200", "-P", "even", "-a", "5", "-0", "-r", "4",
                 "-t", "4:float", "-B", pty)
    check(abs(float(flt[4]) - 12.5) < 0.05, "float CONC %s" % flt)
    # Writes: one register (FC 06), then two (FC 16).
    mbpoll("-m", "rtu", "-b", "19200", "-P", "even", "-a", "5", "-0", "-r", "20", pty, "150")
    mbpoll("-m", "rtu", "-b", "19200", "-P", "even", "-a", "5", "-0", "-r", "20", pty,
           "110", "310")
    back = mbpoll("-m", "rtu", "-b", "19200", "-P", "even", "-a", "5", "-0", "-r", "20",
                  "-c", "2", pty)
    check(back[20] == "110" and back[21] == "310", "set-points read back: %s" % back)
    sim.stop_ok()


def test_pymodbus(binary):
    from pymodbus.client import ModbusSerialClient
    from pymodbus.constants import Endian
    from pymodbus.payload import BinaryPayloadDecoder

    sim = Sim(binary, "--node", "7:steady,base=33.3,noise=0,units=ppm,range=200")
    # A pty cannot hold PARENB, and recent kernels refuse (EINVAL) a tcsetattr() whose
    # only effect would be to set it. pyserial configures the port twice while opening
    # it, so on a pty it must ask for no parity; the bytes are the same either way.
    client = ModbusSerialClient(port=sim.where(7), baudrate=19200, parity="N", timeout=1)
    check(client.connect(), "pymodbus could not open %s" % sim.where(7))
    try:
        rr = client.read_holding_registers(0, 25, slave=7)
        check(not rr.isError(), "read 0..24: %s" % rr)
        regs = rr.registers
        check(regs[0] == 1 and regs[1] == 1 and regs[UNITS] == 2, "identity %s" % regs[:10])
        dec = BinaryPayloadDecoder.fromRegisters(regs[CONC:CONC + 2], byteorder=Endian.Big,
                                                 wordorder=Endian.Big)
        conc = dec.decode_32bit_float()
        check(abs(conc - 33.3) < 0.1, "float CONC %.3f, want 33.3" % conc)
        check(abs(regs[CONC_X10] / 10.0 - conc) <= 0.051, "x10 %d vs %f" % (regs[CONC_X10],
                                                                            conc))
        check(regs[24] == 2000, "RANGE_X10 %d" % regs[24])
        ri = client.read_input_registers(0, 10, slave=7)
        check(not ri.isError() and ri.registers[:3] == regs[:3], "input mirror %s" % ri)

        # Proof test through pymodbus: inject 150.0 ppm, start, read the alarm bits.
        wr = client.write_registers(TEST_MODE, [TEST_KEY, 1500, 30], slave=7)
        check(not wr.isError(), "FC 16: %s" % wr)
        st = client.read_holding_registers(STATUS, 1, slave=7).registers[0]
        check(st & ST_TEST and st & ST_L1 and st & ST_L2, "status in test 0x%04x" % st)
        check(client.read_holding_registers(19, 1, slave=7).registers[0] == 30,
              "TEST_LEFT_S")
        wr = client.write_register(TEST_MODE, 0, slave=7)
        check(not wr.isError(), "FC 06: %s" % wr)
        st = client.read_holding_registers(STATUS, 1, slave=7).registers[0]
        check(st & (ST_TEST | ST_L1 | ST_L2) == 0, "status after test 0x%04x" % st)

        # Exceptions as pymodbus reports them.
        rr = client.read_holding_registers(24, 2, slave=7)
        check(rr.isError() and rr.exception_code == 2, "read past the map: %s" % rr)
        wr = client.write_register(UNIT_ID, 300, slave=7)
        check(wr.isError() and wr.exception_code == 3, "unit id 300: %s" % wr)
        wr = client.write_register(STATUS, 0, slave=7)
        check(wr.isError() and wr.exception_code == 2, "write read-only: %s" % wr)
    finally:
        client.close()
    sim.stop_ok()


def test_exceptions(binary):
    sim = Sim(binary, "--node", "1", "--node", "2:fault,start=0")
    c = RtuClient(sim.where(1))
    check(c.exception(1, bytes([0x2B, 0x0E, 0x01, 0x00])) == 1, "FC 43 -> 01")
    check(c.exception(1, bytes([0x01, 0, 0, 0, 1])) == 1, "FC 01 -> 01")
    check(c.exception(1, bytes([0x08, 0, 1, 0, 0])) == 1, "FC 08/01 -> 01")
    check(c.exception(1, struct.pack(">BHH", 3, 25, 1)) == 2, "read 25 -> 02")
    check(c.exception(1, struct.pack(">BHH", 4, 0, 26)) == 2, "read 0..25 -> 02")
    check(c.exception(1, struct.pack(">BHH", 6, 12, 0)) == 2, "write reserved -> 02")
    check(c.exception(1, struct.pack(">BHH", 3, 0, 0)) == 3, "quantity 0 -> 03")
    check(c.exception(1, struct.pack(">BHH", 3, 0, 126)) == 3, "quantity 126 -> 03")
    check(c.exception(1, struct.pack(">BHH", 6, TEST_MODE, 1)) == 3, "bad key -> 03")
    check(c.exception(1, struct.pack(">BHHBH", 16, 20, 2, 2, 100)) == 3, "byte count -> 03")
    check(c.exception(1, struct.pack(">BHH", 3, 0, 1) + b"\x00") == 3, "long PDU -> 03")
    check(c.exception(2, struct.pack(">BHH", 6, TEST_MODE, TEST_KEY)) == 4,
          "test mode in fault -> 04")
    echo = c.request(1, bytes([8, 0, 0, 0xA5, 0x5A, 0x42]))
    check(echo == bytes([8, 0, 0, 0xA5, 0x5A, 0x42]), "FC 08/00 echo %s" % echo.hex())
    # Frames that must get no answer at all.
    bad = bytearray(with_crc_bytes(1, struct.pack(">BHH", 3, 0, 1)))
    bad[-1] ^= 0xFF
    c.send(bytes(bad))
    check(c.receive(0.3) == b"", "a reply to a bad CRC")
    c.send(b"\x01\x03")
    check(c.receive(0.3) == b"", "a reply to a runt")
    check(c.raw(bytes([9]) + struct.pack(">BHH", 3, 0, 1), 0.3) == b"",
          "a reply for unit 9")
    check(c.read(1, 0, 1) == [1], "node 1 still answers")
    c.close()
    sim.stop_ok()


def with_crc_bytes(unit, pdu):
    body = bytes([unit]) + pdu
    return body + struct.pack("<H", crc16(body))


def test_multidrop(binary):
    sim = Sim(binary, "--pty", "--node", "1", "--node", "2", "--node", "3:steady,base=50,noise=0")
    check(len(set(sim.nodes.values())) == 1, "one pty for the bus: %s" % sim.nodes)
    c = RtuClient(sim.where(1))
    for unit in (1, 2, 3):
        reply = c.raw(bytes([unit]) + struct.pack(">BHH", 3, UNIT_ID, 1))
        check(len(reply) == 7 and crc16(reply) == 0 and reply[0] == unit,
              "unit %d: one reply of 7 bytes, got %s" % (unit, reply.hex()))
        check(struct.unpack(">H", reply[3:5])[0] == unit, "unit %d register" % unit)
    check(c.read(3, CONC_X10, 1) == [500], "node 3 value")
    check(c.raw(bytes([4]) + struct.pack(">BHH", 3, 0, 1), 0.3) == b"", "absent unit 4")

    # Broadcast: every node executes, none answers.
    check(c.raw(bytes([0]) + struct.pack(">BHH", 6, INHIBIT, 1), 0.3) == b"",
          "a reply to a broadcast")
    for unit in (1, 2, 3):
        check(c.read(unit, STATUS, 1)[0] & ST_INHIBIT, "unit %d not inhibited" % unit)
    # A broadcast may not renumber the bus.
    c.raw(bytes([0]) + struct.pack(">BHH", 6, UNIT_ID, 9), 0.3)
    check(c.read(2, UNIT_ID, 1) == [2], "broadcast changed a unit id")
    # A unicast may: the reply comes from the old id, the next request goes to the new.
    c.write(2, UNIT_ID, 12)
    check(c.raw(bytes([2]) + struct.pack(">BHH", 3, 0, 1), 0.3) == b"", "old id answers")
    check(c.read(12, UNIT_ID, 1) == [12], "new id")
    c.close()
    sim.stop_ok()


def mbap(tid, unit, pdu, proto=0):
    return struct.pack(">HHHB", tid, proto, len(pdu) + 1, unit) + pdu


def tcp_transact(sock, tid, unit, pdu):
    sock.sendall(mbap(tid, unit, pdu))
    head = b""
    while len(head) < 7:
        chunk = sock.recv(7 - len(head))
        check(chunk, "connection closed")
        head += chunk
    rtid, proto, length, runit = struct.unpack(">HHHB", head)
    body = b""
    while len(body) < length - 1:
        body += sock.recv(length - 1 - len(body))
    check(rtid == tid and proto == 0 and runit == unit, "MBAP header %s" % head.hex())
    return body


def test_tcp(binary):
    from pymodbus.client import ModbusTcpClient

    sim = Sim(binary, "--tcp", "0", "--node", "11:steady,base=7,noise=0", "--node", "12",
              "--tcp", "0", "--node", "13")
    port, port13 = int(sim.where(11)), int(sim.where(13))
    check(port == int(sim.where(12)) and port != port13, "ports %s" % sim.nodes)
    client = ModbusTcpClient("127.0.0.1", port=port, timeout=2)
    check(client.connect(), "pymodbus TCP connect")
    try:
        rr = client.read_holding_registers(0, 10, slave=11)
        check(not rr.isError() and rr.registers[CONC_X10] == 70, "TCP read %s" % rr)
        check(not client.write_register(L1_X10, 55, slave=12).isError(), "TCP write")
        check(client.read_holding_registers(L1_X10, 1, slave=12).registers == [55], "readback")
        check(client.read_holding_registers(L1_X10, 1, slave=11).registers == [200],
              "the write went to the wrong node")
        rr = client.read_holding_registers(0, 1, slave=99)
        check(rr.isError() and rr.exception_code == 0x0B, "unknown unit: %s" % rr)
    finally:
        client.close()

    with socket.create_connection(("127.0.0.1", port13), timeout=2) as s:
        # A single node on its listener also answers the "no gateway" unit id 255.
        body = tcp_transact(s, 1, 255, struct.pack(">BHH", 3, UNIT_ID, 1))
        check(body == bytes([3, 2, 0, 13]), "unit 255: %s" % body.hex())
        body = tcp_transact(s, 2, 13, bytes([0x2B, 0x0E]))
        check(body == bytes([0xAB, 0x01]), "FC 43 over TCP: %s" % body.hex())
        # A broadcast executes without an answer; the next request still works.
        s.sendall(mbap(3, 0, struct.pack(">BHH", 6, INHIBIT, 1)))
        body = tcp_transact(s, 4, 13, struct.pack(">BHH", 3, STATUS, 1))
        check(body[2:4] == struct.pack(">H", ST_INHIBIT), "after broadcast: %s" % body.hex())
        # Not Modbus (protocol id 1): the connection is dropped, the listener lives on.
        s.sendall(mbap(5, 13, struct.pack(">BHH", 3, 0, 1), proto=1))
        check(s.recv(16) == b"", "connection kept after a bad MBAP header")
    with socket.create_connection(("127.0.0.1", port13), timeout=2) as s:
        check(tcp_transact(s, 6, 13, struct.pack(">BHH", 3, 0, 1)) == bytes([3, 2, 0, 1]),
              "listener after a bad client")
    sim.stop_ok()


def test_scenarios(binary):
    sim = Sim(binary, "--seed", "5",
              "--node", "1:leak,noise=0,start=0.3,rate=100",
              "--node", "2:fault,start=0.3,mode=low",
              "--node", "3:commloss,start=0.8",
              "--node", "4:crc,p=0.5",
              "--node", "5:stuck,base=20,noise=3,start=0.2",
              "--node", "6:fault,start=0.3,for=0.5,mode=high")
    c = RtuClient(sim.where(1), timeout=0.4)
    check(c.read(3, 0, 1) == [1], "node 3 answers before its comm loss")
    time.sleep(1.6)
    st = c.read(1, STATUS, 1)[0]
    check(st & ST_L1 and st & ST_L2, "leak: status 0x%04x" % st)
    x10 = c.read(1, CONC_X10, 1)[0]
    check(995 <= x10 <= 1005, "leak capped at full scale: CONC_X10 %d" % x10)
    r = c.read(2, 0, 10)
    check(r[STATUS] & ST_FAULT and r[FAULT_CODE] == 1, "fault low: %s" % r)
    check(r[LOOP_X100] in range(198, 203), "fault loop current %d" % r[LOOP_X100])
    r = c.read(6, 0, 10)
    check(r[STATUS] == 0 and r[FAULT_CODE] == 0, "fault high recovered: %s" % r)
    check(c.raw(bytes([3]) + struct.pack(">BHH", 3, 0, 1), 0.4) == b"", "comm loss")

    good = bad = 0
    for _ in range(30):
        reply = c.raw(bytes([4]) + struct.pack(">BHH", 3, 0, 2))
        check(len(reply) == 9, "node 4 reply length %d" % len(reply))
        if crc16(reply) == 0:
            good += 1
        else:
            bad += 1
    check(5 <= bad <= 25 and good >= 5, "crc p=0.5: %d good, %d bad" % (good, bad))

    first = c.read(5, CONC, 2)
    hb = c.read(5, HEARTBEAT, 1)[0]
    time.sleep(1.1)
    check(c.read(5, CONC, 2) == first, "stuck value moved")
    check(c.read(5, HEARTBEAT, 1)[0] > hb, "heartbeat of a stuck sensor must run on")
    check(abs(f32(*first) - 20.0) <= 3.05, "stuck value %f" % f32(*first))
    c.close()
    sim.stop_ok()


def test_determinism(binary):
    def run(seed):
        sim = Sim(binary, "--seed", str(seed), "--node", "1:stuck,base=50,noise=5,start=0",
                  "--node", "2:crc,p=0.5")
        c = RtuClient(sim.where(1))
        time.sleep(0.25)
        value = c.read(1, CONC, 2)
        pattern = []
        for _ in range(16):
            reply = c.raw(bytes([2]) + struct.pack(">BHH", 3, 0, 1))
            pattern.append(len(reply) == 7 and crc16(reply) == 0)
        c.close()
        sim.stop_ok()
        return value, pattern

    a, b, other = run(77), run(77), run(78)
    check(a == b, "seed 77 twice: %s and %s" % (a, b))
    check(a != other, "seeds 77 and 78 gave the same run: %s" % (a,))


def median_transaction(c, unit, count, n=9):
    times = []
    for _ in range(n):
        t0 = time.monotonic()
        c.read(unit, 0, count)
        times.append(time.monotonic() - t0)
    times.sort()
    return times[n // 2]


def test_wire_timing(binary):
    # FC 03 of 10 registers at 9600 baud: 8 + 25 characters of 1.146 ms, the node's t3.5
    # (4.01 ms) and 5 ms of turnaround: 47 ms (docs/firmware.md, "Wire timing").
    sim = Sim(binary, "--wire-timing", "9600", "--turnaround-ms", "5", "--node", "1")
    c = RtuClient(sim.where(1), timeout=2)
    t = median_transaction(c, 1, 10)
    want = 33 * 11 / 9600 + 38.5 / 9600 + 0.005
    check(want - 0.002 <= t <= want + 0.020, "wire-timed read took %.1f ms, want %.1f ms"
          % (t * 1000, want * 1000))
    c.close()
    sim.stop_ok()

    sim = Sim(binary, "--node", "1")
    c = RtuClient(sim.where(1), timeout=2)
    t = median_transaction(c, 1, 10)
    check(t < 0.015, "an untimed read took %.1f ms" % (t * 1000))
    c.close()
    sim.stop_ok()


if __name__ == "__main__":
    run_tests({
        "cli": test_cli,
        "mbpoll": test_mbpoll,
        "pymodbus": test_pymodbus,
        "exceptions": test_exceptions,
        "multidrop": test_multidrop,
        "tcp": test_tcp,
        "scenarios": test_scenarios,
        "determinism": test_determinism,
        "wire_timing": test_wire_timing,
    })
