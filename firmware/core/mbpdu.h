/*
 * mbpdu: the Modbus application layer of a slave, independent of the transport.
 *
 * It turns one request PDU (function code and data) into one response PDU, or into no
 * response for a broadcast. The RTU framer (mbrtu) and the host's Modbus TCP listener
 * both call it, so the two transports cannot disagree about a function code. It owns no
 * registers: it calls the slave's read and write functions, which say whether an address
 * exists and whether a value is acceptable.
 *
 * Served: FC 03 read holding registers, FC 04 read input registers, FC 06 write single
 * register, FC 16 write multiple registers, FC 08 diagnostics sub-function 0 (return
 * query data). Exceptions follow the state diagrams of the Modbus Application Protocol
 * Specification V1.1b3, §6: 01 illegal function (or FC 08 sub-function), 02 illegal data
 * address, 03 illegal data value (quantity, byte count, PDU length, or a value the slave
 * refuses), 04 slave device failure.
 *
 * Pure: no I/O, no allocation, no floating point, and no state between calls. A request
 * of any length and content is answered or ignored; it never reads past len.
 */
#ifndef PG_MBPDU_H
#define PG_MBPDU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The largest PDU: an RTU frame of 256 bytes less the address and the CRC (§4.1). */
#define MBPDU_MAX 253

/* Quantity limits of the application protocol, §6.3 and §6.12. */
#define MBPDU_MAX_READ  125
#define MBPDU_MAX_WRITE 123

enum mbpdu_function {
    MBPDU_FC_READ_HOLDING = 0x03,
    MBPDU_FC_READ_INPUT = 0x04,
    MBPDU_FC_WRITE_SINGLE = 0x06,
    MBPDU_FC_DIAGNOSTICS = 0x08,
    MBPDU_FC_WRITE_MULTIPLE = 0x10,
};

enum mbpdu_exception {
    MBPDU_EX_ILLEGAL_FUNCTION = 0x01,
    MBPDU_EX_ILLEGAL_ADDRESS = 0x02,
    MBPDU_EX_ILLEGAL_VALUE = 0x03,
    MBPDU_EX_DEVICE_FAILURE = 0x04,
};

enum mbpdu_table {
    MBPDU_TABLE_HOLDING,
    MBPDU_TABLE_INPUT,
};

struct mbpdu_slave {
    /*
     * Read count (1..125) registers of table starting at address into out. Returns 0,
     * -ENXIO when any of them does not exist (exception 02), or another negative errno
     * value for a device failure (exception 04).
     */
    int (*read)(void *ctx, enum mbpdu_table table, uint16_t address, uint16_t count,
                uint16_t *out);
    /*
     * Write count (1..123) holding registers starting at address: all of them or, on any
     * error, none. broadcast says the request went to address 0. Returns 0, -ENXIO for a
     * register that does not exist or is read-only (exception 02), -ERANGE for a value it
     * refuses (exception 03), another negative errno value for a device failure (04).
     */
    int (*write)(void *ctx, uint16_t address, uint16_t count, const uint16_t *values,
                 bool broadcast);
    void *ctx;
};

/*
 * Serve the request PDU req[0..len) and write the response PDU to rsp, which must have
 * room for MBPDU_MAX bytes. Returns the response length, or 0 when nothing may be sent:
 * a broadcast request (whose writes are executed), or an empty request.
 */
size_t mbpdu_serve(const struct mbpdu_slave *slave, const uint8_t *req, size_t len,
                   bool broadcast, uint8_t *rsp);

#endif
