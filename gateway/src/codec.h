/*
 * codec: register words to engineering values, as a pure function of the point's config.
 *
 * No I/O and no logging. The acquisition engine extends it to 32-bit types and word
 * orders.
 */
#ifndef PG_CODEC_H
#define PG_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"

/* How many 16-bit registers a point of this type occupies. */
size_t codec_width(enum config_regtype type);

/* Decode the point's registers (codec_width() of them) into engineering units. */
double codec_decode(const struct config_point *pt, const uint16_t *regs);

#endif
