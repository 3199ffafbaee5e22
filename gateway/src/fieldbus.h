/*
 * fieldbus: one Modbus link (for now a Modbus TCP endpoint) owned by exactly one thread.
 *
 * This is the only module that calls libmodbus. libmodbus reports errors as -1 plus
 * errno, and Modbus exceptions as errno values above MODBUS_ENOBASE; both are converted
 * here, at the one call site, into negative errno values and an exception code, so
 * nothing above this module ever reads errno. A libmodbus context is not thread-safe: a
 * struct fieldbus must only ever be used by the poller thread that owns it.
 */
#ifndef PG_FIELDBUS_H
#define PG_FIELDBUS_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"

#define FIELDBUS_MAX_READ 125 /* registers per read: Modbus Application Protocol §6.3 */

struct fieldbus;

/* Create an unconnected link for a bus. Returns NULL only when out of memory. */
struct fieldbus *fieldbus_new(const struct config_bus *bus);

/* Release a link, closing it first. fieldbus_free(NULL) does nothing. */
void fieldbus_free(struct fieldbus *fb);

/*
 * Connect within the bus's connect timeout. Returns 0, or -ECONNREFUSED, -ETIMEDOUT,
 * -EHOSTUNREACH, -ENOENT (name does not resolve) or another negative errno.
 */
int fieldbus_connect(struct fieldbus *fb);

void fieldbus_close(struct fieldbus *fb);
bool fieldbus_connected(const struct fieldbus *fb);

/*
 * Read count (1..125) registers from one table of one unit into dest. Returns 0, or:
 *   -ETIMEDOUT   no (complete) reply within the response timeout;
 *   -EREMOTEIO   the device answered with a Modbus exception, stored in *exc;
 *   -EBADMSG     a reply arrived but was malformed (length, CRC, function, transaction);
 *   -ENOTCONN, -ECONNRESET, -EPIPE or another negative errno: the link is gone and has
 *                been closed; reconnect before the next read.
 */
int fieldbus_read(struct fieldbus *fb, uint8_t unit, enum config_table table,
                  uint16_t addr, uint16_t count, uint16_t *dest, uint8_t *exc);

#endif
