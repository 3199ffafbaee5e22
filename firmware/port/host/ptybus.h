/*
 * ptybus: a simulated RS-485 multidrop line on a pseudo-terminal.
 *
 * The master (the gateway, mbpoll, a test) opens the pty's slave side as if it were a
 * serial port. Every node on the bus has its own RTU framer and sees every byte the
 * master sends, stamped with the time it was read, exactly as every transceiver on a
 * real line hears every request; only the addressed node answers. Replies go back to
 * the master only.
 *
 * The bus keeps its own descriptor of the slave side open. Otherwise the master side
 * would report a hang-up between two clients, and a reply written while no client is
 * connected would fail instead of waiting in the line buffer the way it would on a wire.
 *
 * With wire timing, a reply leaves only when request and reply would have crossed a real
 * line at the configured baud rate (11 bits a character), plus the turnaround.
 */
#ifndef PG_PTYBUS_H
#define PG_PTYBUS_H

#include <stddef.h>
#include <stdint.h>

#include "nsconf.h"
#include "simnode.h"

struct ptybus;

/* Open a pty and attach nodes[0..n). Returns NULL with a message in err. */
struct ptybus *ptybus_new(const struct nsconf *c, struct simnode *nodes, size_t n,
                          uint64_t now_us, char *err, size_t errlen);

/* Close the pty. ptybus_free(NULL) does nothing. */
void ptybus_free(struct ptybus *b);

/* The slave side's path, for the master to open. */
const char *ptybus_path(const struct ptybus *b);

/* The descriptor to poll for input. */
int ptybus_fd(const struct ptybus *b);

/* Read what the master sent and feed it to every node. */
void ptybus_read(struct ptybus *b, uint64_t now_us, uint32_t t_ms);

/* End frames whose t3.5 has passed and send replies that are due. */
void ptybus_tick(struct ptybus *b, uint64_t now_us, uint32_t t_ms);

/* The next instant ptybus_tick() has work to do, or UINT64_MAX. */
uint64_t ptybus_deadline(const struct ptybus *b);

/* Print each node's counters to stderr. */
void ptybus_print_stats(const struct ptybus *b);

#endif
