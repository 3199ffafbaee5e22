/*
 * tcpbus: simulated nodes behind a Modbus TCP listener (MBAP framing, Modbus Messaging on
 * TCP/IP Implementation Guide V1.0b, §3.1.3).
 *
 * This is Modbus TCP, not RTU tunnelled over TCP: no CRC, no character timing. The PDU in
 * each request goes to the same mbpdu code the RTU framer uses, for the node whose unit
 * id the MBAP header carries; a bus with a single node also answers unit id 255, the
 * usual "no gateway" id. Unit id 0 is a broadcast to every node, answered by none. A unit
 * id no node has gets exception 0x0B (gateway target device failed to respond), as from a
 * Modbus TCP-to-RTU gateway.
 *
 * Line faults map onto TCP as far as they can: a silent node (comm loss) sends nothing,
 * and a reply that would be corrupted on a serial line is dropped, because TCP itself
 * never delivers a corrupted byte. The turnaround applies; wire timing does not.
 */
#ifndef PG_TCPBUS_H
#define PG_TCPBUS_H

#include <poll.h>
#include <stddef.h>
#include <stdint.h>

#include "nsconf.h"
#include "simnode.h"

/* Connections each listener serves at once; more are accepted and closed at once. */
#define TCPBUS_MAX_CONN 8

struct tcpbus;

/* Listen on c->listen:port with nodes[0..n). Returns NULL with a message in err. */
struct tcpbus *tcpbus_new(const struct nsconf *c, uint16_t port, struct simnode *nodes,
                          size_t n, char *err, size_t errlen);

/* Close the listener and every connection. tcpbus_free(NULL) does nothing. */
void tcpbus_free(struct tcpbus *b);

/* The port actually bound (useful after asking for port 0). */
uint16_t tcpbus_port(const struct tcpbus *b);

/* Fill fds with the descriptors to poll; returns how many (at most 1 + TCPBUS_MAX_CONN).
 */
size_t tcpbus_pollfds(const struct tcpbus *b, struct pollfd *fds);

/* Handle the poll results for the descriptors tcpbus_pollfds() gave. */
void tcpbus_handle(struct tcpbus *b, const struct pollfd *fds, size_t n, uint64_t now_us,
                   uint32_t t_ms);

/* Send replies whose turnaround has passed. */
void tcpbus_tick(struct tcpbus *b, uint64_t now_us);

/* The next instant tcpbus_tick() has work to do, or UINT64_MAX. */
uint64_t tcpbus_deadline(const struct tcpbus *b);

#endif
