#include "nsconf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "regmap.h"

const char nsconf_usage[] =
    "usage: parkguard-nodesim [OPTIONS] [--pty | --tcp PORT] --node SPEC...\n"
    "\n"
    "Simulates parkguard field nodes (Modbus RTU gas detectors) with the real node\n"
    "firmware core. Prints \"NODE <id> PTY <path>\" or \"NODE <id> PORT <port>\" for "
    "every\n"
    "node, then \"READY\". SIGTERM or SIGINT stops it with exit status 0.\n"
    "\n"
    "Buses (each --node joins the bus opened before it; without one, a pty bus):\n"
    "  --pty                 a new RS-485 bus on a fresh pty: Modbus RTU, every node on "
    "it\n"
    "                        sees every request, only the addressed node answers\n"
    "  --tcp PORT            a Modbus TCP (MBAP) listener on PORT, 0 = any free port;\n"
    "                        requests go to the node whose unit id they carry\n"
    "\n"
    "Nodes:\n"
    "  --node ID[:KIND[,KEY=VALUE]...]\n"
    "      ID 1..247. KIND is one of\n"
    "        steady    base=0 noise=0.2            constant value with noise\n"
    "        leak      start=10 rate=0.5 peak=FS   slow leak ramp (rate in units/s);\n"
    "                  for=S                       it stops after S s and disperses\n"
    "        fast      start=10 rate=20 peak=FS    fast leak (rate-of-change case)\n"
    "        stuck     start=10                    the value freezes\n"
    "        fault     start=10 for=0 mode=low     loop at 2 mA (low) or 22 mA (high)\n"
    "        commloss  start=10 for=0              the node stops answering\n"
    "        crc       p=0.2                       replies corrupted with probability p\n"
    "      Every kind also takes base=, noise=, loss=T, loss_for=S, corrupt=P, and the\n"
    "      node keys units=lel|ppm|vol range=100 l1=20 l2=40 warmup=0 (seconds).\n"
    "      Times are seconds from start, for=0 means for ever, FS is the full scale.\n"
    "\n"
    "Options:\n"
    "  --scenario-file FILE  read options from FILE, one per line without the dashes\n"
    "                        (\"pty\", \"node 3:leak,start=5\"); '#' starts a comment\n"
    "  --seed N              seed of noise and corruption (default 1): same seed, same "
    "run\n"
    "  --baud BAUD           character timing (t1.5, t3.5) of pty buses (default 19200)\n"
    "  --wire-timing BAUD    as --baud, and every RTU reply is delayed by the time "
    "request\n"
    "                        and reply take on a real wire (11 bits per character)\n"
    "  --turnaround-ms MS    device turnaround before every reply (default 0)\n"
    "  --listen ADDR         IPv4 address TCP buses bind to (default 127.0.0.1)\n"
    "  --stats               print each node's frame counters to stderr on exit\n"
    "  -h, --help            this text\n";

static int fail(char *err, size_t errlen, const char *where, const char *what)
{
    snprintf(err, errlen, "%s: %s", where, what);
    return -EINVAL;
}

static int parse_u32(const char *text, uint32_t min, uint32_t max, uint32_t *out)
{
    char *end;
    unsigned long v;

    if (text == NULL || *text < '0' || *text > '9')
        return -EINVAL;
    errno = 0;
    v = strtoul(text, &end, 10);
    if (errno != 0 || *end != '\0' || v < min || v > max)
        return -EINVAL;
    *out = (uint32_t)v;
    return 0;
}

static int add_bus(struct nsconf *c, enum nsconf_bus_kind kind, uint16_t port)
{
    struct nsconf_bus *b;

    if (c->n_buses == NSCONF_MAX_BUSES)
        return -ENOSPC;
    b = &c->buses[c->n_buses++];
    b->kind = kind;
    b->port = port;
    b->n_nodes = 0;
    return 0;
}

/* A node key (units, range, l1, l2, warmup) into cfg. Returns 0, -ENOENT (not a node
 * key) or -EINVAL. */
static int node_key(struct node_config *cfg, const char *key, const char *value)
{
    uint32_t v;

    if (strcmp(key, "units") == 0) {
        if (strcmp(value, "lel") == 0)
            cfg->units = REGMAP_UNIT_LEL;
        else if (strcmp(value, "ppm") == 0)
            cfg->units = REGMAP_UNIT_PPM;
        else if (strcmp(value, "vol") == 0)
            cfg->units = REGMAP_UNIT_VOL;
        else
            return -EINVAL;
        return 0;
    }
    if (strcmp(key, "warmup") == 0) {
        if (parse_u32(value, 0, 3600, &v) < 0)
            return -EINVAL;
        cfg->warmup_s = (uint16_t)v;
        return 0;
    }
    if (strcmp(key, "range") != 0 && strcmp(key, "l1") != 0 && strcmp(key, "l2") != 0)
        return -ENOENT;
    if (scenario_parse_fixed(value, 1, &v) < 0 || v < 1 || v > 65535)
        return -EINVAL;
    if (strcmp(key, "range") == 0)
        cfg->range_x10 = (uint16_t)v;
    else if (strcmp(key, "l1") == 0)
        cfg->l1_x10 = (uint16_t)v;
    else
        cfg->l2_x10 = (uint16_t)v;
    return 0;
}

static int add_node(struct nsconf *c, const char *spec, char *err, size_t errlen)
{
    char buf[NSCONF_SPEC_LEN], where[NSCONF_SPEC_LEN + 16], *kind, *item, *next, *eq;
    struct nsconf_node *n;
    uint32_t id;
    int rc;

    snprintf(where, sizeof(where), "--node %s", spec);
    if (strlen(spec) >= sizeof(buf))
        return fail(err, errlen, where, "too long");
    if (c->n_nodes == NSCONF_MAX_NODES)
        return fail(err, errlen, where, "too many nodes (at most 64)");
    if (c->n_buses == 0 && add_bus(c, NSCONF_BUS_PTY, 0) < 0)
        return fail(err, errlen, where, "too many buses");
    strcpy(buf, spec);

    kind = strchr(buf, ':');
    if (kind != NULL)
        *kind++ = '\0';
    if (parse_u32(buf, 1, 247, &id) < 0)
        return fail(err, errlen, where, "the unit id must be 1..247");
    for (size_t i = 0; i < c->n_nodes; i++) {
        if (c->nodes[i].bus == c->n_buses - 1 && c->nodes[i].node.unit_id == id)
            return fail(err, errlen, where, "two nodes with this unit id on one bus");
    }

    n = &c->nodes[c->n_nodes];
    memset(n, 0, sizeof(*n));
    n->bus = c->n_buses - 1;
    strcpy(n->spec, spec);
    node_default_config(&n->node);
    n->node.unit_id = (uint8_t)id;
    n->node.warmup_s = 0;

    next = NULL;
    if (kind != NULL) {
        next = strchr(kind, ',');
        if (next != NULL)
            *next++ = '\0';
    }
    /* The seed is mixed with the node's place so that two nodes never share noise. */
    if (scenario_init(&n->scenario, kind != NULL ? kind : "steady", 0) < 0)
        return fail(err, errlen, where,
                    "unknown kind (steady, leak, fast, stuck, fault, commloss, crc)");
    while (next != NULL) {
        item = next;
        next = strchr(item, ',');
        if (next != NULL)
            *next++ = '\0';
        eq = strchr(item, '=');
        if (eq == NULL)
            return fail(err, errlen, where, "expected KEY=VALUE after the kind");
        *eq = '\0';
        rc = node_key(&n->node, item, eq + 1);
        if (rc == -ENOENT)
            rc = scenario_set(&n->scenario, item, eq + 1);
        if (rc == -ENOENT) {
            snprintf(err, errlen, "%s: unknown key \"%s\"", where, item);
            return -EINVAL;
        }
        if (rc < 0) {
            snprintf(err, errlen, "%s: bad value for %s", where, item);
            return -EINVAL;
        }
    }
    c->buses[n->bus].n_nodes++;
    c->n_nodes++;
    return 0;
}

static int parse_file(struct nsconf *c, const char *path, int depth, char *err,
                      size_t errlen);

/*
 * One option, name without dashes, with its argument (NULL if none was given). Returns
 * 1 if the argument was used, 0 if not, or -EINVAL.
 */
static int option(struct nsconf *c, const char *name, const char *arg, int depth,
                  char *err, size_t errlen)
{
    char where[96];
    uint32_t v;

    snprintf(where, sizeof(where), "--%s", name);
    if (strcmp(name, "help") == 0 || strcmp(name, "h") == 0) {
        c->help = true;
        return 0;
    }
    if (strcmp(name, "stats") == 0) {
        c->stats = true;
        return 0;
    }
    if (strcmp(name, "pty") == 0) {
        if (add_bus(c, NSCONF_BUS_PTY, 0) < 0)
            return fail(err, errlen, where, "too many buses (at most 16)");
        return 0;
    }
    if (arg == NULL)
        return fail(err, errlen, where, "needs an argument (or is unknown; see --help)");
    if (strcmp(name, "tcp") == 0) {
        if (parse_u32(arg, 0, 65535, &v) < 0)
            return fail(err, errlen, where, "expected a port 0..65535");
        if (add_bus(c, NSCONF_BUS_TCP, (uint16_t)v) < 0)
            return fail(err, errlen, where, "too many buses (at most 16)");
    } else if (strcmp(name, "node") == 0) {
        if (add_node(c, arg, err, errlen) < 0)
            return -EINVAL;
    } else if (strcmp(name, "seed") == 0) {
        if (parse_u32(arg, 0, UINT32_MAX, &c->seed) < 0)
            return fail(err, errlen, where, "expected 0..4294967295");
    } else if (strcmp(name, "baud") == 0 || strcmp(name, "wire-timing") == 0) {
        if (parse_u32(arg, 1200, 1000000, &c->baud) < 0)
            return fail(err, errlen, where, "expected a baud rate 1200..1000000");
        if (strcmp(name, "wire-timing") == 0)
            c->wire_timing = true;
    } else if (strcmp(name, "turnaround-ms") == 0) {
        if (parse_u32(arg, 0, 10000, &v) < 0)
            return fail(err, errlen, where, "expected 0..10000 ms");
        c->turnaround_us = v * 1000u;
    } else if (strcmp(name, "listen") == 0) {
        if (strlen(arg) >= sizeof(c->listen))
            return fail(err, errlen, where, "address too long");
        strcpy(c->listen, arg);
    } else if (strcmp(name, "scenario-file") == 0) {
        if (parse_file(c, arg, depth + 1, err, errlen) < 0)
            return -EINVAL;
    } else {
        return fail(err, errlen, where, "unknown option (see --help)");
    }
    return 1;
}

static int parse_file(struct nsconf *c, const char *path, int depth, char *err,
                      size_t errlen)
{
    char line[512], msg[NSCONF_ERR_LEN], *name, *arg, *extra, *save;
    unsigned lineno = 0;
    int rc = 0;
    FILE *f;

    if (depth > 4)
        return fail(err, errlen, path, "scenario files nested too deep");
    f = fopen(path, "r");
    if (f == NULL) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -EINVAL;
    }
    while (fgets(line, sizeof(line), f) != NULL) {
        lineno++;
        if (strchr(line, '\n') == NULL && !feof(f)) {
            snprintf(err, errlen, "%s:%u: line too long", path, lineno);
            rc = -EINVAL;
            goto out;
        }
        *strchrnul(line, '#') = '\0';
        name = strtok_r(line, " \t\r\n", &save);
        if (name == NULL)
            continue;
        arg = strtok_r(NULL, " \t\r\n", &save);
        extra = strtok_r(NULL, " \t\r\n", &save);
        if (extra != NULL) {
            snprintf(err, errlen, "%s:%u: unexpected \"%s\"", path, lineno, extra);
            rc = -EINVAL;
            goto out;
        }
        rc = option(c, name, arg, depth, msg, sizeof(msg));
        if (rc == 0 && arg != NULL) {
            snprintf(err, errlen, "%s:%u: %s takes no argument", path, lineno, name);
            rc = -EINVAL;
            goto out;
        }
        if (rc < 0) {
            snprintf(err, errlen, "%s:%u: %s", path, lineno, msg);
            goto out;
        }
        rc = 0;
    }
    if (ferror(f)) {
        snprintf(err, errlen, "%s: read error", path);
        rc = -EINVAL;
    }
out:
    fclose(f);
    return rc;
}

int nsconf_parse(struct nsconf *c, int argc, char **argv, char *err, size_t errlen)
{
    int rc;

    memset(c, 0, sizeof(*c));
    c->seed = 1;
    c->baud = 19200;
    strcpy(c->listen, "127.0.0.1");

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];

        if (strcmp(a, "-h") == 0)
            a = "--help";
        if (strncmp(a, "--", 2) != 0 || a[2] == '\0') {
            snprintf(err, errlen, "%s: unexpected argument (see --help)", a);
            return -EINVAL;
        }
        rc = option(c, a + 2, i + 1 < argc ? argv[i + 1] : NULL, 0, err, errlen);
        if (rc < 0)
            return rc;
        i += rc;
    }
    if (c->help)
        return 0;
    if (c->n_nodes == 0)
        return fail(err, errlen, "no --node given", "see --help");
    for (size_t i = 0; i < c->n_buses; i++) {
        if (c->buses[i].n_nodes == 0)
            return fail(err, errlen,
                        c->buses[i].kind == NSCONF_BUS_PTY ? "--pty" : "--tcp",
                        "a bus without nodes");
    }
    for (size_t i = 0; i < c->n_nodes; i++) {
        struct nsconf_node *n = &c->nodes[i];

        n->scenario.seed =
            scenario_hash(c->seed, (uint32_t)n->bus, (uint32_t)n->node.unit_id);
    }
    return 0;
}
