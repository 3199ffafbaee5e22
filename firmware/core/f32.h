/*
 * f32: IEEE 754 binary32 encodings computed with integer arithmetic only.
 *
 * The node keeps concentrations in fixed point (thousandths of the engineering unit) and
 * the Cortex-M3 has no FPU. Encoding the float32 register with soft-float would pull
 * the soft-float library into the image and put float code next to the frame path; this
 * module produces the same bits, correctly rounded, from a ratio of integers.
 */
#ifndef PG_F32_H
#define PG_F32_H

#include <stdint.h>

/* The quiet NaN the node reports when it has no valid value. */
#define F32_NAN 0x7FC00000u

/* The binary32 bits nearest to num / den (ties to even). den must not be 0; if it is,
 * the result is F32_NAN. Every result is a normal number or zero. */
uint32_t f32_from_ratio(int32_t num, uint32_t den);

#endif
