#include "mbpdu.h"

#include <errno.h>

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)(v & 0xFFu);
}

static size_t exception(uint8_t fc, enum mbpdu_exception code, uint8_t *rsp)
{
    rsp[0] = (uint8_t)(fc | 0x80u);
    rsp[1] = (uint8_t)code;
    return 2;
}

/* The exception a slave's error code stands for. */
static enum mbpdu_exception exception_of(int rc)
{
    if (rc == -ENXIO)
        return MBPDU_EX_ILLEGAL_ADDRESS;
    if (rc == -ERANGE)
        return MBPDU_EX_ILLEGAL_VALUE;
    return MBPDU_EX_DEVICE_FAILURE;
}

static size_t serve_read(const struct mbpdu_slave *slave, const uint8_t *req, size_t len,
                         uint8_t *rsp)
{
    uint16_t regs[MBPDU_MAX_READ];
    uint16_t address, count;
    enum mbpdu_table table;
    int rc;

    if (len != 5)
        return exception(req[0], MBPDU_EX_ILLEGAL_VALUE, rsp);
    address = get16(req + 1);
    count = get16(req + 3);
    if (count < 1 || count > MBPDU_MAX_READ)
        return exception(req[0], MBPDU_EX_ILLEGAL_VALUE, rsp);
    if ((uint32_t)address + count > 0x10000u)
        return exception(req[0], MBPDU_EX_ILLEGAL_ADDRESS, rsp);

    table = req[0] == MBPDU_FC_READ_INPUT ? MBPDU_TABLE_INPUT : MBPDU_TABLE_HOLDING;
    rc = slave->read(slave->ctx, table, address, count, regs);
    if (rc < 0)
        return exception(req[0], exception_of(rc), rsp);

    rsp[0] = req[0];
    rsp[1] = (uint8_t)(2 * count);
    for (uint16_t i = 0; i < count; i++)
        put16(rsp + 2 + 2 * i, regs[i]);
    return 2 + 2 * (size_t)count;
}

static size_t serve_write_single(const struct mbpdu_slave *slave, const uint8_t *req,
                                 size_t len, bool broadcast, uint8_t *rsp)
{
    uint16_t value;
    int rc;

    if (len != 5)
        return exception(req[0], MBPDU_EX_ILLEGAL_VALUE, rsp);
    value = get16(req + 3);
    rc = slave->write(slave->ctx, get16(req + 1), 1, &value, broadcast);
    if (rc < 0)
        return exception(req[0], exception_of(rc), rsp);

    /* The normal response echoes the request (§6.6). */
    for (size_t i = 0; i < 5; i++)
        rsp[i] = req[i];
    return 5;
}

static size_t serve_write_multiple(const struct mbpdu_slave *slave, const uint8_t *req,
                                   size_t len, bool broadcast, uint8_t *rsp)
{
    uint16_t values[MBPDU_MAX_WRITE];
    uint16_t address, count;
    int rc;

    /* The byte count must agree with both the quantity and the PDU length; a frame that
     * passed its CRC but disagrees with itself is refused rather than half-trusted. */
    if (len < 6)
        return exception(req[0], MBPDU_EX_ILLEGAL_VALUE, rsp);
    address = get16(req + 1);
    count = get16(req + 3);
    if (count < 1 || count > MBPDU_MAX_WRITE || req[5] != 2 * count ||
        len != 6 + (size_t)req[5])
        return exception(req[0], MBPDU_EX_ILLEGAL_VALUE, rsp);
    if ((uint32_t)address + count > 0x10000u)
        return exception(req[0], MBPDU_EX_ILLEGAL_ADDRESS, rsp);

    for (uint16_t i = 0; i < count; i++)
        values[i] = get16(req + 6 + 2 * i);
    rc = slave->write(slave->ctx, address, count, values, broadcast);
    if (rc < 0)
        return exception(req[0], exception_of(rc), rsp);

    rsp[0] = req[0];
    put16(rsp + 1, address);
    put16(rsp + 3, count);
    return 5;
}

static size_t serve_diagnostics(const uint8_t *req, size_t len, uint8_t *rsp)
{
    if (len < 3)
        return exception(req[0], MBPDU_EX_ILLEGAL_VALUE, rsp);
    if (get16(req + 1) != 0x0000)
        return exception(req[0], MBPDU_EX_ILLEGAL_FUNCTION, rsp);

    /* Sub-function 0, return query data: the response is the request, byte for byte. */
    for (size_t i = 0; i < len; i++)
        rsp[i] = req[i];
    return len;
}

size_t mbpdu_serve(const struct mbpdu_slave *slave, const uint8_t *req, size_t len,
                   bool broadcast, uint8_t *rsp)
{
    size_t n;

    if (len == 0 || len > MBPDU_MAX)
        return 0;

    switch (req[0]) {
    case MBPDU_FC_READ_HOLDING:
    case MBPDU_FC_READ_INPUT:
        /* A broadcast read has nobody to answer to, so it is not even performed. */
        if (broadcast)
            return 0;
        n = serve_read(slave, req, len, rsp);
        break;
    case MBPDU_FC_WRITE_SINGLE:
        n = serve_write_single(slave, req, len, broadcast, rsp);
        break;
    case MBPDU_FC_WRITE_MULTIPLE:
        n = serve_write_multiple(slave, req, len, broadcast, rsp);
        break;
    case MBPDU_FC_DIAGNOSTICS:
        n = serve_diagnostics(req, len, rsp);
        break;
    default:
        n = exception(req[0], MBPDU_EX_ILLEGAL_FUNCTION, rsp);
        break;
    }
    return broadcast ? 0 : n;
}
