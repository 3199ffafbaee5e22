#include "fieldbus.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include <modbus/modbus.h>

struct fieldbus {
    const struct config_bus *bus;
    modbus_t *ctx;
    bool connected;
};

static void set_timeout_ms(modbus_t *ctx, uint32_t ms)
{
    (void)modbus_set_response_timeout(ctx, ms / 1000, (ms % 1000) * 1000);
}

struct fieldbus *fieldbus_new(const struct config_bus *bus)
{
    struct fieldbus *fb = calloc(1, sizeof(*fb));

    if (fb == NULL)
        return NULL;
    fb->bus = bus;
    return fb;
}

void fieldbus_close(struct fieldbus *fb)
{
    if (fb->ctx != NULL) {
        modbus_close(fb->ctx);
        modbus_free(fb->ctx);
        fb->ctx = NULL;
    }
    fb->connected = false;
}

void fieldbus_free(struct fieldbus *fb)
{
    if (fb == NULL)
        return;
    fieldbus_close(fb);
    free(fb);
}

bool fieldbus_connected(const struct fieldbus *fb)
{
    return fb->connected;
}

int fieldbus_connect(struct fieldbus *fb)
{
    char service[8];
    int rc;

    fieldbus_close(fb);
    (void)snprintf(service, sizeof(service), "%u", (unsigned)fb->bus->port);
    /* The _pi variant resolves host names and IPv6 literals, not just dotted quads. */
    fb->ctx = modbus_new_tcp_pi(fb->bus->host, service);
    if (fb->ctx == NULL)
        return errno != 0 ? -errno : -ENOMEM;
    /* libmodbus bounds its non-blocking connect with the response timeout. */
    set_timeout_ms(fb->ctx, fb->bus->connect_timeout_ms);
    if (modbus_connect(fb->ctx) == -1) {
        rc = errno != 0 ? -errno : -ECONNREFUSED;
        fieldbus_close(fb);
        return rc;
    }
    set_timeout_ms(fb->ctx, fb->bus->response_timeout_ms);
    /*
     * A zero byte timeout makes the response timeout cover the whole reply, so a device
     * that trickles bytes cannot hold the bus for longer than one response timeout.
     */
    (void)modbus_set_byte_timeout(fb->ctx, 0, 0);
    fb->connected = true;
    return 0;
}

int fieldbus_read(struct fieldbus *fb, uint8_t unit, enum config_table table,
                  uint16_t addr, uint16_t count, uint16_t *dest, uint8_t *exc)
{
    int rc, err;

    *exc = 0;
    if (!fb->connected)
        return -ENOTCONN;
    if (count == 0 || count > FIELDBUS_MAX_READ)
        return -EINVAL;
    (void)modbus_set_slave(fb->ctx, unit);
    if (table == CONFIG_TABLE_INPUT)
        rc = modbus_read_input_registers(fb->ctx, addr, count, dest);
    else
        rc = modbus_read_registers(fb->ctx, addr, count, dest);
    if (rc == count)
        return 0;
    err = rc == -1 ? errno : EMBMDATA;

    if (err > MODBUS_ENOBASE && err <= EMBXGTAR) {
        *exc = (uint8_t)(err - MODBUS_ENOBASE);
        return -EREMOTEIO;
    }
    if (err == ETIMEDOUT || err == EMBBADCRC || err == EMBBADDATA || err == EMBBADEXC ||
        err == EMBUNKEXC || err == EMBMDATA || err == EMBBADSLAVE) {
        /*
         * A late or malformed reply may still be on its way; drop whatever is buffered
         * so it cannot be taken for the answer to the next request.
         */
        (void)modbus_flush(fb->ctx);
        return err == ETIMEDOUT ? -ETIMEDOUT : -EBADMSG;
    }
    /* Anything else means the socket is unusable: close it so the poller reconnects. */
    fieldbus_close(fb);
    return err > 0 && err < MODBUS_ENOBASE ? -err : -EIO;
}
