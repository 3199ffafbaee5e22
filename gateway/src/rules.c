#include "rules.h"

#include <math.h>

bool rules_high(double setpoint, double deadband, bool active, double value)
{
    if (isnan(value))
        return active;
    if (active)
        return !(value < setpoint - deadband);
    return value >= setpoint;
}
