/*
 * codec: Modbus register words to an engineering value with a quality.
 *
 * A pure module: no I/O, no logging, no clock, no allocation, and no knowledge of the
 * configuration. The config module fills a struct codec_point for every point (config.h
 * embeds one in struct config_point); the poller hands this module the words it read and
 * gets back a value and a quality. Everything an instrument can say about the trust in a
 * reading - a NaN, a sentinel pattern, a fault current on a 4-20 mA loop, an invalid
 * decimal-places register, a status word, a frozen heartbeat - ends up as a quality here,
 * never as a plausible number: an XNX forced to 0 during inhibit is "maintenance", not
 * "0 %LEL".
 *
 * Qualities are the msg_quality codes of msg.h, carried as uint8_t as in struct
 * msg_sample. The poller combines them in this order, the first one that is not GOOD
 * winning:
 *
 *     the read itself (timeout, bad frame, exception, comm loss)
 *     codec_heartbeat()    the device's heartbeat (stale)
 *     codec_status()       each status rule set of the device that governs the point
 *     codec_convert()      the point's own words
 *
 * so that the explanation an instrument gives (a status word saying "inhibit") wins over
 * its symptom (a value of 0 or a sentinel).
 */
#ifndef PG_CODEC_H
#define PG_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "msg.h"

/*
 * Register encodings. XX(enum suffix, name in configs and profiles, registers occupied).
 * BIT is one bit of a 16-bit register (or one coil or discrete input), read as 0 or 1.
 */
#define CODEC_TYPE_MAP(XX)                                                               \
    XX(UINT16, "uint16", 1)                                                              \
    XX(INT16, "int16", 1)                                                                \
    XX(UINT32, "uint32", 2)                                                              \
    XX(INT32, "int32", 2)                                                                \
    XX(FLOAT32, "float32", 2)                                                            \
    XX(BIT, "bit", 1)

enum codec_type {
#define CODEC_TYPE_ENUM(name, text, width) CODEC_##name,
    CODEC_TYPE_MAP(CODEC_TYPE_ENUM)
#undef CODEC_TYPE_ENUM
        CODEC_TYPE_COUNT
};

/*
 * Byte order of a value, naming the bytes of the big-endian value A (most significant)
 * to D in the order they arrive: "ABCD" is Modbus's own big-endian order, "CDAB" swaps
 * the two registers (low word first), "BADC" swaps the bytes inside each register, and
 * "DCBA" does both. For 16-bit types only the byte swap matters: BADC and DCBA read a
 * register as BA. XX(enum suffix, name).
 */
#define CODEC_ORDER_MAP(XX)                                                              \
    XX(ABCD, "ABCD")                                                                     \
    XX(CDAB, "CDAB")                                                                     \
    XX(BADC, "BADC")                                                                     \
    XX(DCBA, "DCBA")

enum codec_order {
#define CODEC_ORDER_ENUM(name, text) CODEC_ORDER_##name,
    CODEC_ORDER_MAP(CODEC_ORDER_ENUM)
#undef CODEC_ORDER_ENUM
        CODEC_ORDER_COUNT
};

#define CODEC_MAX_SENTINELS 4 /* raw patterns per point that mean "no value" */
#define CODEC_MAX_CURRENTS  4 /* vendor status currents per 4-20 mA point */
#define CODEC_MAX_DECIMALS  6 /* a decimal-places register may hold 0..6 */

/*
 * A vendor status current on a 4-20 mA loop, such as 2.0 mA for inhibit or 1.0 mA for a
 * fault: a reading within tolerance of ma gets quality, whatever the bands say.
 */
struct codec_current {
    double ma;
    double tolerance; /* >= 0 */
    uint8_t quality;  /* enum msg_quality */
};

/*
 * A point whose words decode to a loop current in mA (after scale, offset and decimals),
 * converted to engineering units linearly between eu_low at 4 mA and eu_high at 20 mA.
 * The bands classify the current first; codec_ma_init() sets NAMUR NE 43:
 *
 *     current <= fault_low (3.6)                sensor-fault
 *     fault_low < current < valid_low (3.8)     under-range
 *     valid_low <= current <= valid_high (20.5) good
 *     valid_high < current < fault_high (21.0)  over-range
 *     current >= fault_high                     sensor-fault
 *
 * Status currents are checked before the bands, in order.
 */
struct codec_ma {
    bool enabled;
    double eu_low, eu_high; /* engineering value at 4 mA and at 20 mA */
    double fault_low, valid_low, valid_high, fault_high;
    uint8_t n_currents;
    struct codec_current currents[CODEC_MAX_CURRENTS];
};

/*
 * How one point's words become a value. Start from codec_point_init() and change what the
 * point needs. The value is computed as
 *
 *     raw     the words assembled by type and order (for BIT: the bit, 0 or 1)
 *     x       raw / 10^decimals        when decimals_reg (decimals from the device)
 *     x       x * scale + offset       (a scale of 0.1, 0.01 ... divides exactly)
 *     x       4-20 mA conversion       when ma.enabled
 *     quality under-range below min, over-range above max
 *
 * and checks come first: a raw pattern listed in sentinels, and for FLOAT32 a NaN, an
 * infinity or a magnitude of 3.4e38 or more, give quality SENTINEL.
 */
struct codec_point {
    enum codec_type type;
    enum codec_order order;
    uint8_t bit;       /* BIT: 0 (least significant) .. 15 */
    bool decimals_reg; /* divide by 10^decimals, decimals read from the device */
    double scale;      /* finite, non-zero */
    double offset;     /* finite */
    double min, max;   /* valid engineering range; -HUGE_VAL and HUGE_VAL: none */
    uint8_t n_sentinels;
    uint32_t sentinels[CODEC_MAX_SENTINELS]; /* raw patterns, as assembled by order */
    struct codec_ma ma;
};

/* The outcome of one conversion. value is NaN unless quality is MSG_Q_GOOD. */
struct codec_result {
    double value;
    uint8_t quality; /* enum msg_quality */
    uint32_t raw;    /* the assembled raw pattern, for diagnosis */
};

/*
 * One rule of a status register: it matches when min <= (reg & mask) <= max. A rule for
 * one value has min == max; a rule with mask 0 and min == max == 0 matches everything,
 * which is how a rule set's default is written.
 */
struct codec_status_rule {
    uint16_t mask;
    uint16_t min;
    uint16_t max;
    uint8_t quality; /* enum msg_quality */
};

/*
 * What codec_heartbeat() remembers about one device between polls. Zero it to start, and
 * again whenever the device has not been read for a while (after a comm loss), so that
 * a counter that happens to show the same value after a gap is not taken for frozen.
 */
struct codec_heartbeat {
    bool seen;
    uint16_t last; /* the masked register at the last change */
    int64_t changed_ns;
};

/* Registers a value of this type occupies (1 or 2); 1 for an unknown type. */
size_t codec_width(enum codec_type type);

/* The name of a type or an order as configs write it, or "?" for an unknown one. */
const char *codec_type_name(enum codec_type type);
const char *codec_order_name(enum codec_order order);

/* Defaults: UINT16, ABCD, bit 0, scale 1, offset 0, no range, no sentinels, no 4-20 mA.
 */
void codec_point_init(struct codec_point *cp);

/* Enable 4-20 mA conversion from eu_low at 4 mA to eu_high at 20 mA, NE 43 bands. */
void codec_ma_init(struct codec_ma *ma, double eu_low, double eu_high);

/*
 * Convert a point's words. regs holds codec_width(cp->type) registers as read (for a
 * coil or discrete input, one word of 0 or 1). decimals is the device's decimal-places
 * register, used only when cp->decimals_reg: outside 0..CODEC_MAX_DECIMALS (0xFFFF, 7, or
 * -1 for "not read") the result is SENSOR_FAULT. Never fails; the quality says what the
 * words are worth.
 */
void codec_convert(const struct codec_point *cp, const uint16_t *regs, int decimals,
                   struct codec_result *out);

/*
 * The quality a status register gives: that of the first of the n rules matching reg,
 * or MSG_Q_GOOD when none does.
 */
uint8_t codec_status(const struct codec_status_rule *rules, size_t n, uint16_t reg);

/*
 * Feed one reading of a heartbeat register (a counter: mask 0xFFFF; a toggling bit: that
 * bit) taken at now_ns on CLOCK_MONOTONIC. Returns MSG_Q_STALE when the masked register
 * has not changed for stale_after_ms or longer, else MSG_Q_GOOD. The first reading only
 * starts the clock.
 */
uint8_t codec_heartbeat(struct codec_heartbeat *hb, uint16_t reg, uint16_t mask,
                        int64_t now_ns, uint32_t stale_after_ms);

#endif
