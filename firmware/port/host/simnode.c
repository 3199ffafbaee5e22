#include "simnode.h"

#include <errno.h>

#include "sensor.h"

int simnode_start(struct simnode *sn, const struct nsconf_node *conf, uint32_t t_ms)
{
    sn->conf = conf;
    sn->offered = 0;
    sn->dropped = 0;
    sn->corrupted = 0;
    sn->node = node_new(&conf->node, t_ms);
    if (sn->node == NULL)
        return -ENOSPC;
    simnode_sample(sn, t_ms);
    return 0;
}

void simnode_stop(struct simnode *sn)
{
    node_free(sn->node);
    sn->node = NULL;
}

void simnode_sample(struct simnode *sn, uint32_t t_ms)
{
    /* The head's scaling is fixed at the configured range: a master that rewrites the
     * range register changes what the node reports, not what the head sees. */
    int32_t ua = scenario_loop_ua(&sn->conf->scenario, t_ms, sn->conf->node.range_x10);

    node_update(sn->node, t_ms, sensor_ua_to_counts(ua));
}

enum simnode_fate simnode_reply_fate(struct simnode *sn, uint32_t t_ms)
{
    uint32_t n = sn->offered++;

    if (scenario_silent(&sn->conf->scenario, t_ms)) {
        sn->dropped++;
        return SIMNODE_DROP;
    }
    if (scenario_corrupt(&sn->conf->scenario, n)) {
        sn->corrupted++;
        return SIMNODE_CORRUPT;
    }
    return SIMNODE_SEND;
}

uint8_t simnode_unit_id(const struct simnode *sn)
{
    return node_unit_id(sn->node);
}
