"""The node image on an emulated STM32F205: boot node-qemu.elf under QEMU's netduino2
through firmware/port/stm32f2/qemu-node and poll it over the emulated USART1's pty, with
the raw RTU client and with Debian's mbpoll.

Usage: test_qemu.py QEMU_NODE_HELPER NODE_QEMU_ELF. Exit 77 (skipped) without QEMU.
"""

import os
import shutil
import signal
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fwtest import Announcer, RtuClient, TestFailure, check, f32, stop_all  # noqa

STATUS, HEARTBEAT, CONC, UNITS, TEST_MODE, L1_X10 = 2, 3, 4, 9, 16, 20


def main():
    helper, elf = sys.argv[1], sys.argv[2]
    if shutil.which("qemu-system-arm") is None:
        print("qemu-system-arm not installed (apt-get install qemu-system-arm)")
        return 77
    node = Announcer(["/usr/bin/python3", helper, elf], timeout=30)
    try:
        c = RtuClient(node.where(1), timeout=1.0)
        regs = c.read(1, 0, 25)
        check(regs[0] == 1 and regs[1] == 1, "identity %s" % regs[:2])
        check(regs[UNITS] == 1 and regs[24] == 1000, "units/range %s" % regs)
        check(regs[STATUS] == 0, "status 0x%04x (no warm-up, no fault expected)" % regs[STATUS])
        conc = f32(regs[CONC], regs[CONC + 1])
        check(1.0 <= conc <= 3.0, "the emulated sensor reads %.3f, want about 2" % conc)
        check(c.read(1, 0, 10, fc=4)[:2] == [1, 1], "input registers")
        echo = bytes([8, 0, 0, 0x12, 0x34])
        check(c.request(1, echo) == echo, "FC 08 echo")
        check(c.exception(1, struct.pack(">BHH", 3, 25, 1)) == 2, "exception 02")
        check(c.exception(1, bytes([0x2B, 0x0E, 0x01, 0x00])) == 1, "exception 01")
        c.write(1, L1_X10, 123)
        check(c.read(1, L1_X10, 1) == [123], "FC 06 and read back")
        c.write(1, TEST_MODE, 0x7E57)
        check(c.read(1, STATUS, 1)[0] & (1 << 3), "test bit after starting test mode")
        c.write(1, TEST_MODE, 0)
        hb = c.read(1, HEARTBEAT, 1)[0]
        time.sleep(2.2)
        hb2 = c.read(1, HEARTBEAT, 1)[0]
        check(1 <= hb2 - hb <= 3, "heartbeat went %d -> %d in 2.2 s" % (hb, hb2))
        c.close()

        if shutil.which("mbpoll"):
            # mbpoll makes one attempt; give it the same three a master would (see
            # RtuClient.request on why an emulated node may drop a request).
            for _ in range(3):
                out = subprocess.run(["mbpoll", "-1", "-m", "rtu", "-b", "19200", "-P",
                                      "even", "-a", "1", "-0", "-r", "0", "-c", "2",
                                      node.where(1)],
                                     capture_output=True, text=True, timeout=20)
                if out.returncode == 0:
                    break
            check(out.returncode == 0 and "[0]: \t1" in out.stdout and "[1]: \t1" in out.stdout,
                  "mbpoll against QEMU: %s %s" % (out.stdout, out.stderr))
    finally:
        status, err = node.stop(signal.SIGTERM)
    check(status == 0, "qemu-node exited %d: %s" % (status, err))
    return 0


if __name__ == "__main__":
    try:
        status = main()
    except TestFailure as e:
        print("FAIL qemu: %s" % e)
        status = 1
    finally:
        stop_all()
    sys.exit(status)
