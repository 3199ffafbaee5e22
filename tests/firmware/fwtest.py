"""Helpers for the field-node tests: a raw Modbus RTU client for ptys, and child processes
that announce themselves with NODE ... / READY lines.

Standard library only. The raw client exists because the tests must see what libraries
hide: replies with a bad CRC, replies that should not exist, and exact timing.
"""

import os
import select
import signal
import struct
import subprocess
import sys
import termios
import time
import tty


class TestFailure(Exception):
    pass


def check(cond, what):
    if not cond:
        raise TestFailure(what)


def crc16(data):
    crc = 0xFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def with_crc(body):
    return body + struct.pack("<H", crc16(body))


class RtuClient:
    """A Modbus RTU master on a pty (or a serial port), one request at a time."""

    def __init__(self, path, timeout=1.0):
        self.fd = os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        tty.setraw(self.fd)
        termios.tcflush(self.fd, termios.TCIOFLUSH)
        self.timeout = timeout

    def close(self):
        os.close(self.fd)

    def send(self, frame):
        os.write(self.fd, frame)

    def receive(self, timeout=None, quiet=0.03, expect=None):
        """Bytes until `quiet` seconds of silence after the first (or, with expect, as soon
        as expect(data) says the reply is complete), or b"" on timeout."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        data = b""
        while True:
            if data and expect is not None and expect(data):
                return data
            wait = deadline - time.monotonic() if not data else quiet
            if wait <= 0:
                return data
            r, _, _ = select.select([self.fd], [], [], wait)
            if not r:
                return data
            try:
                chunk = os.read(self.fd, 512)
            except BlockingIOError:
                continue
            data += chunk

    def raw(self, body, timeout=None, expect=None):
        """Send body plus CRC; return the whole reply frame (maybe empty)."""
        self.send(with_crc(body))
        return self.receive(timeout, expect=expect)

    retries = 0  # requests sent again after silence, over the whole run

    def request(self, unit, pdu, timeout=None, attempts=3):
        """Send a PDU to unit; return the reply PDU. The reply must be well formed.

        Silence is retried, as a Modbus master does: an emulated node on a loaded host
        can receive a request with gaps longer than t1.5 between its bytes and then,
        correctly, discard it. A malformed reply is never retried.
        """
        for _ in range(attempts):
            reply = self.raw(bytes([unit]) + pdu, timeout, expect=reply_complete(pdu))
            if reply:
                break
            RtuClient.retries += 1
        check(len(reply) >= 4, "no reply from unit %d to %s" % (unit, pdu.hex()))
        check(crc16(reply) == 0, "reply with a bad CRC: %s" % reply.hex())
        check(reply[0] == unit, "reply from unit %d, asked %d" % (reply[0], unit))
        return reply[1:-2]

    def read(self, unit, address, count, fc=3):
        pdu = self.request(unit, struct.pack(">BHH", fc, address, count))
        check(pdu[0] == fc, "exception %s reading %d..%d" % (pdu.hex(), address,
                                                            address + count - 1))
        check(pdu[1] == 2 * count, "byte count %d for %d registers" % (pdu[1], count))
        return list(struct.unpack(">%dH" % count, pdu[2:]))

    def write(self, unit, address, value):
        pdu = self.request(unit, struct.pack(">BHH", 6, address, value))
        check(pdu[0] == 6, "exception %s writing %d" % (pdu.hex(), address))

    def exception(self, unit, pdu):
        """The exception code a request gets (fails if it gets a normal reply)."""
        rsp = self.request(unit, pdu)
        check(len(rsp) == 2 and rsp[0] == (pdu[0] | 0x80),
              "expected an exception to %s, got %s" % (pdu.hex(), rsp.hex()))
        return rsp[1]


def reply_complete(pdu):
    """A predicate telling when the reply to pdu is complete, so that timing
    measurements need not wait for silence."""
    fc = pdu[0]
    if fc in (3, 4) and len(pdu) == 5:
        normal = 5 + 2 * struct.unpack(">H", pdu[3:5])[0]
    elif fc in (6, 16):
        normal = 8
    elif fc == 8:
        normal = len(pdu) + 3
    else:
        normal = 5

    def complete(data):
        if len(data) >= 2 and data[1] & 0x80:
            return len(data) >= 5
        return len(data) >= normal

    return complete


def f32(hi, lo):
    return struct.unpack(">f", struct.pack(">HH", hi, lo))[0]


_children = []


class Announcer:
    """A child that prints NODE <id> PTY|PORT <where> lines and then READY."""

    def __init__(self, argv, timeout=15.0, env=None):
        self.argv = argv
        _children.append(self)
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, env=env)
        self.nodes = {}
        deadline = time.monotonic() + timeout
        buf = b""
        while True:
            if time.monotonic() > deadline:
                self.stop()
                raise TestFailure("%s: no READY within %.0f s" % (argv[0], timeout))
            r, _, _ = select.select([self.proc.stdout], [], [], 0.1)
            if r:
                chunk = os.read(self.proc.stdout.fileno(), 4096)
                if not chunk:
                    err = self.proc.stderr.read().decode(errors="replace")
                    raise TestFailure("%s exited before READY: %s" % (argv[0], err))
                buf += chunk
                lines = buf.split(b"\n")
                buf = lines.pop()
                for line in lines:
                    words = line.decode().split()
                    if words[:1] == ["NODE"] and len(words) == 4:
                        self.nodes[int(words[1])] = words[3]
                    elif words == ["READY"]:
                        return

    def where(self, unit):
        return self.nodes[unit]

    def stop(self, sig=signal.SIGTERM, timeout=10.0):
        """Stop the child by its pid; return its exit status and stderr."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            _, err = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, err = self.proc.communicate()
            raise TestFailure("%s did not stop on signal %d" % (self.argv[0], sig))
        return self.proc.returncode, err.decode(errors="replace")


def stop_all():
    """Stop, by pid, every child a test started and left running (after a failure)."""
    for child in _children:
        if child.proc.poll() is None:
            child.proc.kill()
            child.proc.wait()


def run_tests(tests):
    """Run the test named in argv[1] (see the caller's table) and exit with its status."""
    name = sys.argv[1]
    try:
        tests[name](*sys.argv[2:])
    except TestFailure as e:
        print("FAIL %s: %s" % (name, e))
        sys.exit(1)
    finally:
        stop_all()
    print("ok %s" % name)
    sys.exit(0)
