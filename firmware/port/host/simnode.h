/*
 * simnode: one simulated field node on the host: the firmware's node core fed by a
 * scenario instead of an ADC, plus the scenario's line faults.
 *
 * The buses (ptybus, tcpbus) own the transport and ask a simnode what becomes of each
 * reply; the node core never learns that its sensor is simulated.
 */
#ifndef PG_SIMNODE_H
#define PG_SIMNODE_H

#include <stdint.h>

#include "node.h"
#include "nsconf.h"

enum simnode_fate {
    SIMNODE_SEND,
    SIMNODE_DROP,    /* comm loss: the node is silent */
    SIMNODE_CORRUPT, /* send it with one byte flipped */
};

struct simnode {
    struct node *node;
    const struct nsconf_node *conf;
    uint32_t offered; /* replies the core produced, numbering the corruption draws */
    uint32_t dropped, corrupted;
};

/* Start the node at t_ms (milliseconds since the simulator started). Returns 0 or
 * -ENOSPC when the core's node pool is exhausted. */
int simnode_start(struct simnode *sn, const struct nsconf_node *conf, uint32_t t_ms);

void simnode_stop(struct simnode *sn);

/* One sensor sample: the scenario's loop current, through the ADC model, into the core.
 */
void simnode_sample(struct simnode *sn, uint32_t t_ms);

/* What becomes of the reply the core just produced. */
enum simnode_fate simnode_reply_fate(struct simnode *sn, uint32_t t_ms);

uint8_t simnode_unit_id(const struct simnode *sn);

#endif
