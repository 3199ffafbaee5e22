#include "f32.h"

uint32_t f32_from_ratio(int32_t num, uint32_t den)
{
    uint32_t sign = 0;
    uint64_t n, d, q, r, scaled;
    int e = 0;

    if (den == 0)
        return F32_NAN;
    if (num == 0)
        return 0;
    if (num < 0) {
        sign = 0x80000000u;
        /* Through int64 so that INT32_MIN negates without overflow. */
        n = (uint64_t)(-(int64_t)num);
    } else {
        n = (uint64_t)num;
    }
    d = den;

    /* Scale so that d <= n < 2d: the quotient is then 1.xxx and e its binary exponent.
     * n < 2^31 and d < 2^32, so neither loop can overflow 64 bits. */
    while (n >= (d << 1)) {
        d <<= 1;
        e++;
    }
    while (n < d) {
        n <<= 1;
        e--;
    }

    /* 24 significant bits, then round to nearest with ties to even on the remainder. */
    scaled = n << 23;
    q = scaled / d;
    r = scaled % d;
    if (2 * r > d || (2 * r == d && (q & 1u)))
        q++;
    if (q == (1u << 24)) {
        q >>= 1;
        e++;
    }

    /* |num/den| lies between 2^-32 and 2^31, far inside the normal range. */
    return sign | ((uint32_t)(e + 127) << 23) | ((uint32_t)q & 0x7FFFFFu);
}
