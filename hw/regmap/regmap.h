/*
 * regmap: the parkguard field node's Modbus register map, expanded from regmap.def.
 *
 * Both ends of the wire compile this: the node firmware (on the Cortex-M with newlib, and
 * on the host) to serve the registers, the gateway and the tests to decode them. It is
 * plain C99 with no OS includes and no state, and it never logs. Nothing here may be
 * edited by hand to add a register: add a line to regmap.def instead.
 */
#ifndef PG_REGMAP_H
#define PG_REGMAP_H

#include <stddef.h>
#include <stdint.h>

/* Bumped whenever a register changes meaning; register 0 always carries it. */
#define REGMAP_VERSION 1

/* Register NODE_TYPE of a gas detector. */
#define REGMAP_NODE_TYPE_GAS 1

/* The value that starts test mode when written to TEST_MODE: "TEST" in hex-speak, chosen
 * so that a stray write of a small number cannot put a detector into test mode. */
#define REGMAP_TEST_KEY 0x7E57u

enum regmap_table {
    REGMAP_TABLE_HOLDING,
};

enum regmap_type {
    REGMAP_TYPE_U16,
    REGMAP_TYPE_BITS16,
    REGMAP_TYPE_F32,
};

/* Registers each type occupies. */
#define REGMAP_WIDTH_U16    1
#define REGMAP_WIDTH_BITS16 1
#define REGMAP_WIDTH_F32    2

enum regmap_access {
    REGMAP_ACCESS_R,
    REGMAP_ACCESS_RW,
};

/* One identifier per register, in .def order: REGMAP_ID_STATUS, ... */
enum regmap_id {
#define REGMAP_REG(name, table, address, type, scale, unit, access, min, max, doc)       \
    REGMAP_ID_##name,
#include "regmap.def"
    REGMAP_ID_COUNT
};

/* The address of each register: REGMAP_ADDR_STATUS == 2, ... */
enum regmap_addr {
#define REGMAP_REG(name, table, address, type, scale, unit, access, min, max, doc)       \
    REGMAP_ADDR_##name = (address),
#include "regmap.def"
};

/* Status word masks: REGMAP_STATUS_FAULT == 1 << 1, ... */
enum regmap_status {
#define REGMAP_STATUS_BIT(name, bit, doc) REGMAP_STATUS_##name = 1 << (bit),
#include "regmap.def"
};

/* Fault codes: REGMAP_FAULT_LOOP_LOW == 1, ... */
enum regmap_fault {
#define REGMAP_FAULT(name, code, doc) REGMAP_FAULT_##name = (code),
#include "regmap.def"
};

/* Units codes: REGMAP_UNIT_PPM == 2, ... */
enum regmap_unit {
#define REGMAP_UNIT(name, code, label, doc) REGMAP_UNIT_##name = (code),
#include "regmap.def"
};

/*
 * The size of the holding (and mirrored input) register space: one past the highest
 * address any register occupies. The size of a union is the size of its largest member,
 * which makes the compiler compute the maximum over the .def for us.
 */
union regmap_extent {
#define REGMAP_REG(name, table, address, type, scale, unit, access, min, max, doc)       \
    char name[(address) + REGMAP_WIDTH_##type];
#include "regmap.def"
};
#define REGMAP_HOLDING_COUNT (sizeof(union regmap_extent))

struct regmap_reg {
    const char *name;
    enum regmap_table table;
    uint16_t address;
    uint16_t width; /* registers: 1, or 2 for F32 */
    enum regmap_type type;
    double scale; /* engineering value = raw * scale */
    const char *unit;
    enum regmap_access access;
    uint16_t min, max; /* raw values a write may carry */
    const char *doc;
};

struct regmap_named {
    const char *name;
    unsigned value; /* a bit number, a fault code or a units code */
    const char *label;
    const char *doc;
};

extern const struct regmap_reg regmap_regs[REGMAP_ID_COUNT];
extern const struct regmap_named regmap_status_bits[];
extern const size_t regmap_status_bit_count;
extern const struct regmap_named regmap_faults[];
extern const size_t regmap_fault_count;
extern const struct regmap_named regmap_units[];
extern const size_t regmap_unit_count;

/* The register that occupies address (either word of an F32), or NULL for a reserved or
 * out-of-range address. */
const struct regmap_reg *regmap_at(uint16_t address);

/* The register called name ("STATUS"), or NULL. */
const struct regmap_reg *regmap_by_name(const char *name);

/* The label of a units code ("%LEL"), or NULL for an unknown code. */
const char *regmap_unit_label(unsigned code);

#endif
