#include "node.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "f32.h"
#include "regmap.h"
#include "sensor.h"

#ifndef PG_FW_MAX_NODES
#define PG_FW_MAX_NODES 1
#endif

#define DEFAULT_TEST_TIMEOUT_S 300

struct node {
    bool used;
    uint16_t regs[REGMAP_HOLDING_COUNT];
    struct mbpdu_slave slave;
    uint32_t now_ms;
    uint32_t second_ms; /* start of the current heartbeat second */
    bool warming;
    uint32_t warmup_end_ms;
    bool testing;
    uint32_t test_end_ms;
    /* The last conversion: loop current, or adc_failed. */
    bool adc_failed;
    int32_t loop_ua;
    bool l1, l2;
};

static struct node pool[PG_FW_MAX_NODES];

static int node_read(void *ctx, enum mbpdu_table table, uint16_t address, uint16_t count,
                     uint16_t *out);
static int node_write(void *ctx, uint16_t address, uint16_t count, const uint16_t *values,
                      bool broadcast);

/* Whether deadline has been reached at now, across the wrap of the millisecond clock. */
static bool reached(uint32_t now, uint32_t deadline)
{
    return (int32_t)(now - deadline) >= 0;
}

static uint16_t clamp_u16(int64_t v)
{
    if (v < 0)
        return 0;
    if (v > 0xFFFF)
        return 0xFFFF;
    return (uint16_t)v;
}

void node_default_config(struct node_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->unit_id = 1;
    cfg->units = REGMAP_UNIT_LEL;
    cfg->range_x10 = 1000;
    cfg->warmup_s = 30;
}

/*
 * Recompute every derived register from the inputs (the last conversion, the clock, the
 * configuration registers). Called after each conversion and after each write, so that a
 * master reading right after a write sees its effect.
 */
static void refresh(struct node *n)
{
    uint16_t *r = n->regs;
    uint16_t range = r[REGMAP_ADDR_RANGE_X10];
    uint16_t status = 0, fault = REGMAP_FAULT_NONE;
    enum sensor_band band = SENSOR_VALID;
    int32_t milli, ua;
    uint32_t conc_bits;
    bool valid, alarms_held;

    if (n->adc_failed) {
        fault = REGMAP_FAULT_ADC;
    } else {
        band = sensor_band_of(n->loop_ua);
        if (band == SENSOR_FAULT_LOW)
            fault = REGMAP_FAULT_LOOP_LOW;
        else if (band == SENSOR_FAULT_HIGH)
            fault = REGMAP_FAULT_LOOP_HIGH;
    }

    if (n->testing) {
        milli = (int32_t)r[REGMAP_ADDR_TEST_CONC_X10] * 100;
        ua = sensor_milli_to_ua(milli, range);
        /* A transmitter's output saturates at the top of the NE 43 measuring band. */
        if (ua > 20500)
            ua = 20500;
        valid = true;
        band = milli > (int32_t)range * 100 ? SENSOR_OVER : SENSOR_VALID;
    } else {
        ua = n->adc_failed ? 0 : n->loop_ua;
        milli = sensor_ua_to_milli(ua, range);
        valid = fault == REGMAP_FAULT_NONE;
    }

    alarms_held = n->warming || r[REGMAP_ADDR_INHIBIT] != 0 || !valid;
    if (alarms_held) {
        n->l1 = false;
        n->l2 = false;
    } else {
        /* Hysteresis of 1 % of full scale, so that noise at a set-point cannot chatter.
         */
        int32_t deadband = range;

        n->l1 =
            sensor_alarm(n->l1, milli, (int32_t)r[REGMAP_ADDR_L1_X10] * 100, deadband);
        n->l2 =
            sensor_alarm(n->l2, milli, (int32_t)r[REGMAP_ADDR_L2_X10] * 100, deadband);
    }

    if (n->warming)
        status |= REGMAP_STATUS_WARMUP;
    if (fault != REGMAP_FAULT_NONE)
        status |= REGMAP_STATUS_FAULT;
    if (r[REGMAP_ADDR_INHIBIT] != 0)
        status |= REGMAP_STATUS_INHIBIT;
    if (n->testing)
        status |= REGMAP_STATUS_TEST;
    if (n->l1)
        status |= REGMAP_STATUS_L1;
    if (n->l2)
        status |= REGMAP_STATUS_L2;
    if (valid && band == SENSOR_OVER)
        status |= REGMAP_STATUS_OVER_RANGE;
    if (valid && band == SENSOR_UNDER)
        status |= REGMAP_STATUS_UNDER_RANGE;

    conc_bits = valid ? f32_from_ratio(milli, 1000) : F32_NAN;
    r[REGMAP_ADDR_STATUS] = status;
    r[REGMAP_ADDR_CONC] = (uint16_t)(conc_bits >> 16);
    r[REGMAP_ADDR_CONC + 1] = (uint16_t)(conc_bits & 0xFFFFu);
    r[REGMAP_ADDR_CONC_X10] = valid ? clamp_u16(((int64_t)milli + 50) / 100) : 0;
    r[REGMAP_ADDR_LOOP_X100] = clamp_u16(((int64_t)ua + 5) / 10);
    r[REGMAP_ADDR_FAULT_CODE] = fault;
    r[REGMAP_ADDR_TEST_MODE] = n->testing ? 1 : 0;
    r[REGMAP_ADDR_TEST_LEFT_S] =
        n->testing ? clamp_u16(((int64_t)(n->test_end_ms - n->now_ms) + 999) / 1000) : 0;
}

struct node *node_new(const struct node_config *cfg, uint32_t now_ms)
{
    struct node *n = NULL;
    uint16_t *r;

    if (cfg == NULL || cfg->unit_id < 1 || cfg->unit_id > 247 || cfg->range_x10 < 1 ||
        regmap_unit_label(cfg->units) == NULL)
        return NULL;
    for (size_t i = 0; i < PG_FW_MAX_NODES; i++) {
        if (!pool[i].used) {
            n = &pool[i];
            break;
        }
    }
    if (n == NULL)
        return NULL;

    memset(n, 0, sizeof(*n));
    n->used = true;
    n->slave.read = node_read;
    n->slave.write = node_write;
    n->slave.ctx = n;
    n->now_ms = now_ms;
    n->second_ms = now_ms;
    n->warming = cfg->warmup_s > 0;
    n->warmup_end_ms = now_ms + (uint32_t)cfg->warmup_s * 1000u;
    /* Until the first conversion there is no measurement, which is a fault. */
    n->adc_failed = true;

    r = n->regs;
    r[REGMAP_ADDR_MAP_VERSION] = REGMAP_VERSION;
    r[REGMAP_ADDR_NODE_TYPE] = REGMAP_NODE_TYPE_GAS;
    r[REGMAP_ADDR_UNITS] = cfg->units;
    r[REGMAP_ADDR_TEST_TIMEOUT_S] = DEFAULT_TEST_TIMEOUT_S;
    r[REGMAP_ADDR_RANGE_X10] = cfg->range_x10;
    r[REGMAP_ADDR_L1_X10] =
        cfg->l1_x10 != 0 ? cfg->l1_x10 : clamp_u16(((int32_t)cfg->range_x10 + 4) / 5);
    r[REGMAP_ADDR_L2_X10] =
        cfg->l2_x10 != 0 ? cfg->l2_x10 : clamp_u16(((int32_t)cfg->range_x10 * 2 + 2) / 5);
    if (r[REGMAP_ADDR_L1_X10] == 0)
        r[REGMAP_ADDR_L1_X10] = 1;
    if (r[REGMAP_ADDR_L2_X10] == 0)
        r[REGMAP_ADDR_L2_X10] = 1;
    r[REGMAP_ADDR_UNIT_ID] = cfg->unit_id;
    refresh(n);
    return n;
}

void node_free(struct node *n)
{
    if (n != NULL)
        n->used = false;
}

void node_update(struct node *n, uint32_t now_ms, int32_t counts)
{
    uint32_t seconds = (now_ms - n->second_ms) / 1000u;

    n->now_ms = now_ms;
    n->regs[REGMAP_ADDR_HEARTBEAT] = (uint16_t)(n->regs[REGMAP_ADDR_HEARTBEAT] + seconds);
    n->second_ms += seconds * 1000u;

    if (n->warming && reached(now_ms, n->warmup_end_ms))
        n->warming = false;
    if (n->testing && reached(now_ms, n->test_end_ms))
        n->testing = false;

    if (counts < 0 || counts > SENSOR_ADC_MAX) {
        n->adc_failed = true;
    } else {
        n->adc_failed = false;
        n->loop_ua = sensor_counts_to_ua((uint16_t)counts);
    }
    refresh(n);
}

const struct mbpdu_slave *node_slave(struct node *n)
{
    return &n->slave;
}

uint8_t node_unit_id(const struct node *n)
{
    return (uint8_t)n->regs[REGMAP_ADDR_UNIT_ID];
}

uint16_t node_reg(const struct node *n, uint16_t address)
{
    return address < REGMAP_HOLDING_COUNT ? n->regs[address] : 0;
}

/* The input registers mirror the holding registers, so both tables read the image. */
static int node_read(void *ctx, enum mbpdu_table table, uint16_t address, uint16_t count,
                     uint16_t *out)
{
    const struct node *n = ctx;

    (void)table;
    if ((uint32_t)address + count > REGMAP_HOLDING_COUNT)
        return -ENXIO;
    memcpy(out, &n->regs[address], (size_t)count * sizeof(out[0]));
    return 0;
}

static int check_write(const struct node *n, uint16_t address, uint16_t value,
                       bool broadcast)
{
    const struct regmap_reg *reg = regmap_at(address);

    if (reg == NULL || reg->access != REGMAP_ACCESS_RW)
        return -ENXIO;
    if (address == REGMAP_ADDR_TEST_MODE) {
        if (value != 0 && value != REGMAP_TEST_KEY)
            return -ERANGE;
        if (value == REGMAP_TEST_KEY &&
            n->regs[REGMAP_ADDR_FAULT_CODE] != REGMAP_FAULT_NONE)
            return -EIO;
        return 0;
    }
    if (value < reg->min || value > reg->max)
        return -ERANGE;
    /* Every node on the line would take the same address: refuse the whole request. */
    if (address == REGMAP_ADDR_UNIT_ID && broadcast)
        return -EPERM;
    return 0;
}

static int node_write(void *ctx, uint16_t address, uint16_t count, const uint16_t *values,
                      bool broadcast)
{
    struct node *n = ctx;
    int rc;

    /* Check every register before changing any, so that a refused request changes
     * nothing: a half-applied configuration is worse than none. */
    for (uint16_t i = 0; i < count; i++) {
        rc = check_write(n, (uint16_t)(address + i), values[i], broadcast);
        if (rc < 0)
            return rc;
    }

    for (uint16_t i = 0; i < count; i++) {
        uint16_t a = (uint16_t)(address + i);

        if (a != REGMAP_ADDR_TEST_MODE)
            n->regs[a] = values[i];
    }
    /* Test mode starts (or restarts) after the other registers of the same request, so
     * that a request writing the injected value, the timeout and the key together
     * starts with the values it carries. */
    if (address <= REGMAP_ADDR_TEST_MODE && address + count > REGMAP_ADDR_TEST_MODE) {
        n->testing = values[REGMAP_ADDR_TEST_MODE - address] == REGMAP_TEST_KEY;
        n->test_end_ms =
            n->now_ms + (uint32_t)n->regs[REGMAP_ADDR_TEST_TIMEOUT_S] * 1000u;
    }
    refresh(n);
    return 0;
}
