/*
 * nsconf: the node simulator's command line and scenario files, parsed into one
 * validated, immutable description of buses and nodes before anything starts.
 *
 * A scenario file holds the same words as the command line, one option per line without
 * the leading dashes ("pty", "node 1:leak,start=30", "wire-timing 9600"); '#' starts a
 * comment. Errors name the file and line, or the option, and what is wrong.
 */
#ifndef PG_NSCONF_H
#define PG_NSCONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "node.h"
#include "scenario.h"

#define NSCONF_MAX_BUSES 16
#define NSCONF_MAX_NODES 64
#define NSCONF_SPEC_LEN  160
#define NSCONF_ERR_LEN   256

enum nsconf_bus_kind {
    NSCONF_BUS_PTY,
    NSCONF_BUS_TCP,
};

struct nsconf_node {
    size_t bus;
    struct node_config node;
    struct scenario scenario;
    char spec[NSCONF_SPEC_LEN]; /* as given, for messages */
};

struct nsconf_bus {
    enum nsconf_bus_kind kind;
    uint16_t port; /* TCP; 0 = any free port */
    size_t n_nodes;
};

struct nsconf {
    uint32_t seed;
    uint32_t baud;
    bool wire_timing;
    uint32_t turnaround_us;
    char listen[64];
    bool stats;
    bool help;
    struct nsconf_bus buses[NSCONF_MAX_BUSES];
    size_t n_buses;
    struct nsconf_node nodes[NSCONF_MAX_NODES];
    size_t n_nodes;
};

/*
 * Parse argv into c. Returns 0 (c->help set if --help was asked for), or -EINVAL with a
 * message in err.
 */
int nsconf_parse(struct nsconf *c, int argc, char **argv, char *err, size_t errlen);

/* The --help text. */
extern const char nsconf_usage[];

#endif
