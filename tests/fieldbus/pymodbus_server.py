#!/usr/bin/python3
"""A third-party Modbus server for the fieldbus interoperability tests: pymodbus 3.0.

Serves the same register image over Modbus TCP (on a loopback port, 0 for any free one)
or Modbus RTU (on a serial device, in the tests one end of a socat pty pair), and prints
one line "READY <port>" (TCP) or "READY" (RTU) on stdout once it can take requests, so
that the test waits for readiness instead of sleeping. It runs until it is killed.

Units 1 and 2 exist. A request for any other unit id is dropped unanswered by pymodbus
3.0's framer (it never reaches the 0x0B "gateway target" path), so it times out. The values below
are mirrored in test_fieldbus_interop.c; change both together.
"""
import argparse
import asyncio
import logging
import struct
import sys

from pymodbus.datastore import (ModbusSequentialDataBlock, ModbusServerContext,
                                ModbusSlaveContext)
from pymodbus.server.async_io import ModbusSerialServer, ModbusTcpServer
from pymodbus.transaction import ModbusRtuFramer, ModbusSocketFramer


def f32_words(value):
    """A float32 as two registers, high word first (ABCD), the common field layout."""
    hi, lo = struct.unpack(">HH", struct.pack(">f", value))
    return [hi, lo]


def u16(value):
    return value & 0xFFFF


# Unit 1, holding registers from address 0: int16 edge cases, then float32 pairs.
UNIT1_HOLDING = ([0, 1, 0x7FFF, u16(-32768), u16(-1), 1234, u16(-1234)] +
                 f32_words(3.14159) + f32_words(-273.15) + f32_words(1.0e6))
# Unit 1, input registers from address 0: a ramp 100, 101, ...
UNIT1_INPUT = [100 + i for i in range(16)]
# Unit 2, holding and input registers: 2000 + address, input 2500 + address.
UNIT2_HOLDING = [2000 + i for i in range(16)]
UNIT2_INPUT = [2500 + i for i in range(16)]
# Coils of unit 1: 1 at every address divisible by 3; discrete inputs: every even one.
UNIT1_COILS = [1 if i % 3 == 0 else 0 for i in range(32)]
UNIT1_DISCRETE = [1 if i % 2 == 0 else 0 for i in range(32)]


def context():
    def block(values):
        return ModbusSequentialDataBlock(0, list(values))

    unit1 = ModbusSlaveContext(hr=block(UNIT1_HOLDING), ir=block(UNIT1_INPUT),
                               co=block(UNIT1_COILS), di=block(UNIT1_DISCRETE),
                               zero_mode=True)
    unit2 = ModbusSlaveContext(hr=block(UNIT2_HOLDING), ir=block(UNIT2_INPUT),
                               co=block([0] * 32), di=block([0] * 32), zero_mode=True)
    return ModbusServerContext(slaves={1: unit1, 2: unit2}, single=False)


async def serve_tcp(port):
    server = ModbusTcpServer(context(), framer=ModbusSocketFramer,
                             address=("127.0.0.1", port), allow_reuse_address=True)
    task = asyncio.create_task(server.serve_forever())
    await server.serving
    print(f"READY {server.server.sockets[0].getsockname()[1]}", flush=True)
    await task


async def serve_rtu(device, baud, parity, stopbits):
    server = ModbusSerialServer(context(), framer=ModbusRtuFramer, port=device,
                                baudrate=baud, parity=parity, bytesize=8,
                                stopbits=stopbits)
    await server.start()
    if server.transport is None:
        sys.exit(f"cannot open {device}")
    print("READY", flush=True)
    await server.serve_forever()


def main():
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="mode", required=True)
    tcp = sub.add_parser("tcp")
    tcp.add_argument("--port", type=int, default=0)
    rtu = sub.add_parser("rtu")
    rtu.add_argument("--device", required=True)
    rtu.add_argument("--baud", type=int, default=19200)
    # 8N2 by default: still the 11-bit character of the spec, and the only framing a
    # Linux pty accepts on some kernels, which refuse PARENB with EINVAL.
    rtu.add_argument("--parity", choices="NEO", default="N")
    rtu.add_argument("--stopbits", type=int, choices=(1, 2), default=2)
    args = parser.parse_args()

    # pymodbus configures the root logger when imported and logs every closed client
    # connection as an error; the tests close connections on purpose, so keep stderr for
    # real failures (tracebacks).
    logging.getLogger().setLevel(logging.CRITICAL)
    if args.mode == "tcp":
        asyncio.run(serve_tcp(args.port))
    else:
        asyncio.run(serve_rtu(args.device, args.baud, args.parity, args.stopbits))


if __name__ == "__main__":
    main()
