#include "regmap.h"

#include <string.h>

const struct regmap_reg regmap_regs[REGMAP_ID_COUNT] = {
#define REGMAP_REG(name, table, address, type, scale, unit, access, min, max, doc)       \
    {#name,                                                                              \
     REGMAP_TABLE_##table,                                                               \
     (address),                                                                          \
     REGMAP_WIDTH_##type,                                                                \
     REGMAP_TYPE_##type,                                                                 \
     (scale),                                                                            \
     (unit),                                                                             \
     REGMAP_ACCESS_##access,                                                             \
     (min),                                                                              \
     (max),                                                                              \
     (doc)},
#include "regmap.def"
};

const struct regmap_named regmap_status_bits[] = {
#define REGMAP_STATUS_BIT(name, bit, doc) {#name, (bit), "", (doc)},
#include "regmap.def"
};
const size_t regmap_status_bit_count =
    sizeof(regmap_status_bits) / sizeof(regmap_status_bits[0]);

const struct regmap_named regmap_faults[] = {
#define REGMAP_FAULT(name, code, doc) {#name, (code), "", (doc)},
#include "regmap.def"
};
const size_t regmap_fault_count = sizeof(regmap_faults) / sizeof(regmap_faults[0]);

const struct regmap_named regmap_units[] = {
#define REGMAP_UNIT(name, code, label, doc) {#name, (code), (label), (doc)},
#include "regmap.def"
};
const size_t regmap_unit_count = sizeof(regmap_units) / sizeof(regmap_units[0]);

/*
 * Compile-time checks that need no C11: an array of negative size stops the build. Every
 * status bit must fit the 16-bit word, and no register may lie past the map's extent
 * (which would mean the union trick in regmap.h broke).
 */
#define REGMAP_STATUS_BIT(name, bit, doc)                                                \
    typedef char regmap_bit_fits_##name[((bit) >= 0 && (bit) < 16) ? 1 : -1];
#include "regmap.def"
#define REGMAP_REG(name, table, address, type, scale, unit, access, min, max, doc)       \
    typedef char regmap_in_extent_##name                                                 \
        [((address) + REGMAP_WIDTH_##type <= REGMAP_HOLDING_COUNT) ? 1 : -1];
#include "regmap.def"

const struct regmap_reg *regmap_at(uint16_t address)
{
    for (size_t i = 0; i < REGMAP_ID_COUNT; i++) {
        const struct regmap_reg *r = &regmap_regs[i];

        if (address >= r->address && address < r->address + r->width)
            return r;
    }
    return NULL;
}

const struct regmap_reg *regmap_by_name(const char *name)
{
    for (size_t i = 0; i < REGMAP_ID_COUNT; i++) {
        if (strcmp(regmap_regs[i].name, name) == 0)
            return &regmap_regs[i];
    }
    return NULL;
}

const char *regmap_unit_label(unsigned code)
{
    for (size_t i = 0; i < regmap_unit_count; i++) {
        if (regmap_units[i].value == code)
            return regmap_units[i].label;
    }
    return NULL;
}
