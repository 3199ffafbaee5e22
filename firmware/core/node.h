/*
 * node: one parkguard gas-detector node, the register map made alive.
 *
 * A node owns its register image (hw/regmap), its configuration registers, the test mode
 * and the state the sensor model needs (warm-up, local alarms with hysteresis, the
 * heartbeat). The port feeds it ADC conversions with node_update(); the Modbus framer
 * reads and writes its registers through node_slave(). Both run in the same context, so
 * the image needs no locking.
 *
 * What the registers say (see docs/firmware.md):
 * - Warm-up: for warmup_s after start the warm-up bit is set and local alarms are held
 *   off; faults are still reported, since a dead sensor head is news at any time.
 * - Fault: a loop current in an NE 43 failure band, or a failed conversion, sets the
 *   fault bit and the fault code; the concentration reads NaN (float) and 0 (x10), and
 *   the local alarms clear.
 * - Inhibit (maintenance): the inhibit bit is set and local alarms are held off.
 * - Test mode: writing REGMAP_TEST_KEY to TEST_MODE makes the node report TEST_CONC_X10
 *   as its concentration (and the loop current that value would drive), sets the test
 *   bit and evaluates L1/L2 on the injected value, so that the alarm chain can be proven
 *   end to end. It ends when 0 is written or TEST_TIMEOUT_S after it started. A node in
 *   fault refuses to start it (exception 04): a proof test through a failed instrument
 *   would prove nothing.
 *
 * Everything here is integer arithmetic, so it is safe on the frame path. Nodes come
 * from a static pool of PG_FW_MAX_NODES; there is no allocation.
 */
#ifndef PG_NODE_H
#define PG_NODE_H

#include <stdint.h>

#include "mbpdu.h"

struct node;

struct node_config {
    uint8_t unit_id;    /* 1..247 */
    uint16_t units;     /* REGMAP_UNIT_* */
    uint16_t range_x10; /* full scale x 10, >= 1 */
    uint16_t l1_x10;    /* 0: 20 % of range */
    uint16_t l2_x10;    /* 0: 40 % of range */
    uint16_t warmup_s;  /* 0: no warm-up */
};

/* The configuration of a factory-fresh node: unit id 1, 0..100 %LEL, L1 20, L2 40,
 * 30 s warm-up. */
void node_default_config(struct node_config *cfg);

/* A node from the pool, started at now_ms. Returns NULL when cfg is out of range or the
 * pool is exhausted. */
struct node *node_new(const struct node_config *cfg, uint32_t now_ms);

/* Return a node to the pool. node_free(NULL) does nothing. */
void node_free(struct node *n);

/* One ADC conversion at now_ms: counts 0..4095, or a negative errno value when the
 * conversion failed. Also advances the heartbeat, the warm-up and the test-mode clock;
 * call it at least once a second. */
void node_update(struct node *n, uint32_t now_ms, int32_t counts);

/* The slave mbpdu serves; valid as long as the node. */
const struct mbpdu_slave *node_slave(struct node *n);

/* The unit id the node answers to now (register UNIT_ID). */
uint8_t node_unit_id(const struct node *n);

/* The value of holding register address, 0 for an address outside the map. */
uint16_t node_reg(const struct node *n, uint16_t address);

#endif
