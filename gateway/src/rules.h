/*
 * rules: alarm conditions as pure functions of a value and the rule's previous state.
 *
 * No I/O, no clock, no logging and no allocation: the real-time loop calls these for
 * every changed point every cycle, and the tests drive them with tables.
 */
#ifndef PG_RULES_H
#define PG_RULES_H

#include <stdbool.h>

/*
 * A high limit with a deadband. An inactive condition becomes active when value reaches
 * the setpoint (value >= setpoint); an active one clears only once value falls below
 * setpoint - deadband, so a value hovering at the limit cannot chatter. Returns the new
 * state. A NaN value leaves the state as it was: it is not a measurement.
 */
bool rules_high(double setpoint, double deadband, bool active, double value);

#endif
