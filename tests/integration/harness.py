"""Process harness for parkguard's integration tests.

Every service starts on a free loopback port, the harness waits for a readiness signal it
can observe (a log line, a READY line, a retained probe message), never for a fixed time,
and everything started is stopped again, by PID, when the harness closes.

Standard library only, so the tests run with Debian's python3 and nothing else.
"""

import json
import os
import queue
import shutil
import signal
import socket
import sqlite3
import struct
import subprocess
import sys
import tempfile
import threading
import time


class TestFailure(Exception):
    pass


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout, what):
    """Poll predicate until it returns a truthy value or the deadline passes."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TestFailure("timed out after %.1f s waiting for %s" % (timeout, what))
        time.sleep(0.02)


class LineReader:
    """Collects a child's output lines on a thread so a test can wait for one."""

    def __init__(self, stream, tee=None):
        self.lines = []
        self.queue = queue.Queue()
        self.lock = threading.Lock()
        self.tee = tee
        self.thread = threading.Thread(target=self._run, args=(stream,), daemon=True)
        self.thread.start()

    def _run(self, stream):
        for raw in iter(stream.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\n")
            with self.lock:
                self.lines.append(line)
            if self.tee is not None:
                self.tee.write(line + "\n")
                self.tee.flush()

    def snapshot(self):
        with self.lock:
            return list(self.lines)

    def wait_line(self, predicate, timeout, what):
        def find():
            for line in self.snapshot():
                if predicate(line):
                    return line
            return None

        return wait_for(find, timeout, what)


class Harness:
    def __init__(self, bin_dir, name):
        self.bin_dir = bin_dir
        self.dir = tempfile.mkdtemp(prefix="pg-%s-" % name)
        self.procs = []

    # -- lifecycle -------------------------------------------------------------------

    def spawn(self, argv, log_name, **kw):
        log = open(os.path.join(self.dir, log_name), "w")
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, **kw)
        proc.reader = LineReader(proc.stdout, tee=log)
        proc.log_name = log_name
        self.procs.append(proc)
        return proc

    def stop(self, proc, sig=signal.SIGTERM, timeout=15):
        if proc.poll() is None:
            proc.send_signal(sig)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                raise TestFailure("%s did not stop within %d s of signal %d"
                                  % (proc.args[0], timeout, sig))
        proc.reader.thread.join(5)
        return proc.returncode

    def close(self, keep=False):
        # SIGTERM first, so that a child with children of its own (qemu-node and its QEMU)
        # can stop them; SIGCONT in case a test left one stopped; SIGKILL what remains.
        running = [p for p in reversed(self.procs) if p.poll() is None]
        for proc in running:
            proc.terminate()
            proc.send_signal(signal.SIGCONT)
        deadline = time.monotonic() + 10
        for proc in running:
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if keep or os.environ.get("PG_KEEP_RUN"):
            print("# run directory kept: %s" % self.dir)
        else:
            shutil.rmtree(self.dir, ignore_errors=True)

    def dump_logs(self):
        for proc in self.procs:
            print("# ---- %s (exit %s) ----" % (proc.log_name, proc.poll()))
            for line in proc.reader.snapshot()[-60:]:
                print("# " + line)

    # -- services --------------------------------------------------------------------

    def start_broker(self):
        port = free_port()
        conf = os.path.join(self.dir, "mosquitto.conf")
        with open(conf, "w") as f:
            f.write("listener %d 127.0.0.1\nallow_anonymous true\npersistence false\n"
                    "log_dest stderr\nlog_type error\nlog_type warning\n"
                    "log_type notice\nlog_type information\n" % port)
        proc = self.spawn(["mosquitto", "-c", conf], "mosquitto.log")
        proc.reader.wait_line(lambda l: " running" in l, 10, "mosquitto to start")
        self.broker_port = port
        self.broker = proc
        return port

    def start_nodesim(self, args, log_name="nodesim.log"):
        """parkguard-nodesim with args (buses and nodes, e.g. ["--tcp", "0", "--node",
        "1:steady,base=5"]); returns {unit: (kind, where)} from its NODE lines once it has
        printed READY: kind "PORT" with where the TCP port (int), or "PTY" with the path.

        Unit ids must differ across the buses of one process, so the map is unambiguous.
        The process is kept as self.nodesim, for a test to signal or stop it.
        """
        proc = self.spawn([os.path.join(self.bin_dir, "parkguard-nodesim")] + list(args),
                          log_name)
        self.nodesim = proc

        def ready():
            if proc.poll() is not None:
                raise TestFailure("parkguard-nodesim exited with %s before READY (%s)"
                                  % (proc.returncode, " ".join(proc.reader.snapshot())))
            return "READY" in proc.reader.snapshot()
        wait_for(ready, 10, "the field node simulator")
        nodes = {}
        for line in proc.reader.snapshot():
            f = line.split()
            if len(f) == 4 and f[0] == "NODE":
                unit = int(f[1])
                if unit in nodes:
                    raise TestFailure("parkguard-nodesim: unit %d on two buses" % unit)
                nodes[unit] = (f[2], int(f[3]) if f[2] == "PORT" else f[3])
        return nodes

    def start_subscriber(self, topic):
        """mosquitto_sub on topic; returns once a retained probe proves it subscribed."""
        probe = "pg-test/probe/%d" % os.getpid()
        subprocess.run(["mosquitto_pub", "-p", str(self.broker_port), "-t", probe,
                        "-r", "-q", "1", "-m", "ready"], check=True)
        proc = self.spawn(["mosquitto_sub", "-p", str(self.broker_port), "-v", "-q", "1",
                           "-t", topic, "-t", probe], "subscriber.log")
        proc.reader.wait_line(lambda l: l == probe + " ready", 10, "the subscriber")
        return proc

    def write_config(self, cfg, name="parkguard.json"):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            json.dump(cfg, f, indent=2)
        return path

    def start_parkguard(self, config_path, log_name="parkguard.log"):
        proc = self.spawn([os.path.join(self.bin_dir, "parkguard"), "-c", config_path],
                          log_name)
        proc.reader.wait_line(lambda l: "info: ready:" in l, 20, "parkguard to be ready")
        return proc


# -- Modbus TCP, by hand: a dozen bytes is all a register write takes -------------------

def modbus_write_register(port, unit, addr, value, tid=1):
    """FC 06 write single register; raises unless the device echoes the request."""
    pdu = struct.pack(">BHH", 6, addr, value & 0xFFFF)
    adu = struct.pack(">HHHB", tid, 0, len(pdu) + 1, unit) + pdu
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(adu)
        reply = b""
        while len(reply) < len(adu):
            chunk = s.recv(260)
            if not chunk:
                break
            reply += chunk
    if reply != adu:
        raise TestFailure("FC06 write to unit %d reg %d: unexpected reply %r"
                          % (unit, addr, reply))


def modbus_read_registers(port, unit, addr, count, tid=1):
    """FC 03 read holding registers; returns the values, raises on anything else."""
    adu = struct.pack(">HHHBBHH", tid, 0, 6, unit, 3, addr, count)
    want = 9 + 2 * count
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(adu)
        reply = b""
        while len(reply) < want:
            chunk = s.recv(260)
            if not chunk:
                break
            reply += chunk
            if len(reply) >= 9 and reply[7] & 0x80:
                break
    if len(reply) != want or reply[:4] != adu[:4] or reply[6:9] != bytes(
            [unit, 3, 2 * count]):
        raise TestFailure("FC03 read of unit %d regs %d..%d: unexpected reply %r"
                          % (unit, addr, addr + count - 1, reply))
    return list(struct.unpack(">%dH" % count, reply[9:]))


# The parkguard node's test-mode registers (hw/regmap/regmap.def, docs/firmware.md).
STATUS, TEST_MODE, TEST_CONC_X10, TEST_TIMEOUT_S = 2, 16, 17, 18
STATUS_TEST = 1 << 3
TEST_KEY = 0x7E57


def node_start_test(port, unit, conc_x10, timeout_s=3600):
    """Put a parkguard node into test mode reporting conc_x10 / 10, for timeout_s.

    The timeout and the value go first, so that the key starts the test with both. Later
    values are a plain write of TEST_CONC_X10; the node applies it at once.
    """
    modbus_write_register(port, unit, TEST_TIMEOUT_S, timeout_s)
    modbus_write_register(port, unit, TEST_CONC_X10, conc_x10)
    modbus_write_register(port, unit, TEST_MODE, TEST_KEY)


def db_query(path, sql, args=()):
    """Read the gateway's SQLite file with an independent connection, as an operator would."""
    con = sqlite3.connect("file:%s?mode=ro" % path, uri=True, timeout=5)
    try:
        return con.execute(sql, args).fetchall()
    finally:
        con.close()


class Results:
    """Counts checks and prints TAP-like lines and the plain closing line."""

    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, cond, what):
        if cond:
            self.passed += 1
            print("ok %d - %s" % (self.passed + self.failed, what))
        else:
            self.failed += 1
            print("not ok %d - %s" % (self.passed + self.failed, what))
        return cond

    def finish(self):
        print("%d passed, %d failed" % (self.passed, self.failed))
        return 0 if self.failed == 0 and self.passed > 0 else 1


class Proxy:
    """A TCP forwarder the test can cut, standing in for the network to the broker.

    While blocked it accepts nothing (connection refused) and every forwarded connection
    is torn down, which is what a gateway sees when the park network or the broker goes.
    """

    def __init__(self, target_port):
        self.port = free_port()
        self.target = target_port
        self.lock = threading.Lock()
        self.conns = []
        self.listener = None

    def unblock(self):
        with self.lock:
            if self.listener is not None:
                return
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("127.0.0.1", self.port))
            s.listen(8)
            self.listener = s
        threading.Thread(target=self._accept, args=(s,), daemon=True).start()

    def block(self):
        with self.lock:
            listener, self.listener = self.listener, None
            conns, self.conns = self.conns, []
        if listener is not None:
            # shutdown() wakes the thread blocked in accept(); close() alone would not,
            # and the still-referenced socket would keep the port bound.
            try:
                listener.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            listener.close()
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            c.close()

    def _accept(self, listener):
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target), timeout=5)
            except OSError:
                client.close()
                continue
            with self.lock:
                if self.listener is not listener:
                    client.close()
                    upstream.close()
                    return
                self.conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src, dst):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def run(name, body):
    """Run body(results, harness) with a fresh Harness on sys.argv[1] (the bin directory).

    A TestFailure ends the body as one failed check; the logs of every process are dumped
    whenever anything failed; everything started is stopped. Returns the exit status.
    """
    r = Results()
    h = Harness(sys.argv[1], name)
    ok = False
    try:
        body(r, h)
        ok = True
    except TestFailure as e:
        r.check(False, str(e))
    finally:
        if not ok or r.failed:
            h.dump_logs()
        h.close()
    return r.finish()
