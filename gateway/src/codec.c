#include "codec.h"

#include <math.h>

size_t codec_width(enum config_regtype type)
{
    switch (type) {
    case CONFIG_REG_UINT16:
    case CONFIG_REG_INT16:
        return 1;
    }
    return 1;
}

/*
 * Scales such as 0.1 or 0.01 are not exact in binary, so raw * 0.1 can land one ulp away
 * from the double nearest the decimal value (27.300000000000001 instead of 27.3), and
 * that ulp would show in every published value. Dividing by the exact integer 10 gives
 * the correctly rounded result.
 */
static double scale(double raw, double s)
{
    if (s != 0.0 && fabs(s) < 1.0) {
        double inv = 1.0 / s;
        double k = nearbyint(inv);

        if (fabs(inv - k) < 1e-9 * fabs(k))
            return raw / k;
    }
    return raw * s;
}

double codec_decode(const struct config_point *pt, const uint16_t *regs)
{
    double raw;

    switch (pt->type) {
    case CONFIG_REG_INT16:
        raw = (double)(int16_t)regs[0];
        break;
    case CONFIG_REG_UINT16:
    default:
        raw = (double)regs[0];
        break;
    }
    return scale(raw, pt->scale) + pt->offset;
}
