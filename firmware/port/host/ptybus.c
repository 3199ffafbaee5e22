#include "ptybus.h"

#include <errno.h>
#include <fcntl.h>
#include <pty.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "mbrtu.h"

/* Replies waiting for their wire time; a master has one request outstanding, so a few
 * slots cover even a master that breaks the rules. */
#define TXQ_LEN 8

struct port {
    struct ptybus *bus;
    struct simnode *sn;
    struct mbrtu *rtu;
};

struct pending {
    uint64_t due_us;
    size_t len;
    uint8_t frame[MBRTU_MAX_FRAME];
};

struct ptybus {
    int master, slave;
    char path[64];
    uint32_t baud, tchar_us, t35_us, turnaround_us;
    bool wire_timing;
    struct port ports[NSCONF_MAX_NODES];
    size_t n_ports;
    /* The request being received, for its wire time. */
    uint64_t last_rx_us;
    size_t request_len;
    /* Context of the framer callbacks. */
    uint64_t now_us;
    uint32_t t_ms;
    struct pending txq[TXQ_LEN];
    size_t txq_len;
    uint32_t tx_dropped;
};

static uint8_t port_address(void *ctx)
{
    return node_unit_id(ctx);
}

static void port_send(void *ctx, const uint8_t *frame, size_t len)
{
    struct port *p = ctx;
    struct ptybus *b = p->bus;
    struct pending *q;
    uint64_t delay = b->turnaround_us;
    enum simnode_fate fate = simnode_reply_fate(p->sn, b->t_ms);

    if (fate == SIMNODE_DROP)
        return;
    if (b->txq_len == TXQ_LEN) {
        b->tx_dropped++;
        return;
    }
    q = &b->txq[b->txq_len++];
    memcpy(q->frame, frame, len);
    q->len = len;
    /* One flipped bit in the middle of the frame: the CRC no longer matches, the way
     * line noise would leave it. */
    if (fate == SIMNODE_CORRUPT)
        q->frame[len / 2] ^= 0x10;
    if (b->wire_timing)
        delay += (uint64_t)(b->request_len + len) * b->tchar_us;
    q->due_us = b->now_us + delay;
}

struct ptybus *ptybus_new(const struct nsconf *c, struct simnode *nodes, size_t n,
                          uint64_t now_us, char *err, size_t errlen)
{
    struct ptybus *b = calloc(1, sizeof(*b));
    struct termios tio;
    int flags;

    if (b == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    b->master = -1;
    b->slave = -1;
    if (openpty(&b->master, &b->slave, b->path, NULL, NULL) < 0) {
        snprintf(err, errlen, "openpty: %s", strerror(errno));
        goto fail;
    }
    /* Raw, so that no byte of a binary frame is translated or echoed. */
    if (tcgetattr(b->slave, &tio) == 0) {
        cfmakeraw(&tio);
        (void)tcsetattr(b->slave, TCSANOW, &tio);
    }
    flags = fcntl(b->master, F_GETFL);
    if (flags < 0 || fcntl(b->master, F_SETFL, flags | O_NONBLOCK) < 0 ||
        fcntl(b->master, F_SETFD, FD_CLOEXEC) < 0 ||
        fcntl(b->slave, F_SETFD, FD_CLOEXEC) < 0) {
        snprintf(err, errlen, "fcntl: %s", strerror(errno));
        goto fail;
    }

    b->baud = c->baud;
    b->tchar_us = (11000000u + c->baud - 1) / c->baud;
    b->t35_us = mbrtu_t35_us(c->baud);
    b->turnaround_us = c->turnaround_us;
    b->wire_timing = c->wire_timing;
    b->now_us = now_us;
    for (size_t i = 0; i < n; i++) {
        struct port *p = &b->ports[i];
        struct mbrtu_config rc = {
            .baud = c->baud,
            .slave = node_slave(nodes[i].node),
            .address = port_address,
            .send = port_send,
            .send_ctx = p,
        };

        p->bus = b;
        p->sn = &nodes[i];
        p->rtu = mbrtu_new(&rc, (uint32_t)now_us);
        if (p->rtu == NULL) {
            snprintf(err, errlen, "out of RTU framers");
            goto fail;
        }
        /* A framer waits for t3.5 of silence after start-up, in case it was switched on
         * in the middle of a frame. A pty that did not exist a moment ago has carried
         * nothing, so that silence is a fact already, and a master may send the moment it
         * reads READY. */
        mbrtu_tick(p->rtu, (uint32_t)now_us + b->t35_us);
        b->n_ports++;
    }
    return b;

fail:
    ptybus_free(b);
    return NULL;
}

void ptybus_free(struct ptybus *b)
{
    if (b == NULL)
        return;
    for (size_t i = 0; i < b->n_ports; i++)
        mbrtu_free(b->ports[i].rtu);
    if (b->master >= 0)
        close(b->master);
    if (b->slave >= 0)
        close(b->slave);
    free(b);
}

const char *ptybus_path(const struct ptybus *b)
{
    return b->path;
}

int ptybus_fd(const struct ptybus *b)
{
    return b->master;
}

void ptybus_read(struct ptybus *b, uint64_t now_us, uint32_t t_ms)
{
    uint8_t buf[512];
    ssize_t got;

    b->now_us = now_us;
    b->t_ms = t_ms;
    for (;;) {
        got = read(b->master, buf, sizeof(buf));
        if (got <= 0)
            return;
        /* A new request starts after t3.5 of silence: count its bytes for the wire
         * time of the reply. */
        if (now_us - b->last_rx_us >= b->t35_us)
            b->request_len = 0;
        b->request_len += (size_t)got;
        b->last_rx_us = now_us;
        for (ssize_t i = 0; i < got; i++) {
            for (size_t k = 0; k < b->n_ports; k++)
                mbrtu_rx_byte(b->ports[k].rtu, buf[i], (uint32_t)now_us);
        }
    }
}

void ptybus_tick(struct ptybus *b, uint64_t now_us, uint32_t t_ms)
{
    size_t i = 0;

    b->now_us = now_us;
    b->t_ms = t_ms;
    for (size_t k = 0; k < b->n_ports; k++)
        mbrtu_tick(b->ports[k].rtu, (uint32_t)now_us);
    if (b->request_len != 0 && now_us - b->last_rx_us >= b->t35_us)
        b->request_len = 0;

    while (i < b->txq_len) {
        struct pending *q = &b->txq[i];

        if (q->due_us > now_us) {
            i++;
            continue;
        }
        /* A master that has gone away leaves the line buffer full; the reply is lost
         * as it would be on a wire nobody listens to. */
        if (write(b->master, q->frame, q->len) != (ssize_t)q->len)
            b->tx_dropped++;
        memmove(q, q + 1, (b->txq_len - i - 1) * sizeof(*q));
        b->txq_len--;
    }
}

uint64_t ptybus_deadline(const struct ptybus *b)
{
    uint64_t best = UINT64_MAX;
    uint32_t deadline;

    for (size_t k = 0; k < b->n_ports; k++) {
        if (mbrtu_busy(b->ports[k].rtu, &deadline)) {
            int32_t left = (int32_t)(deadline - (uint32_t)b->now_us);
            uint64_t at = left > 0 ? b->now_us + (uint64_t)left : b->now_us;

            if (at < best)
                best = at;
        }
    }
    for (size_t i = 0; i < b->txq_len; i++) {
        if (b->txq[i].due_us < best)
            best = b->txq[i].due_us;
    }
    return best;
}

void ptybus_print_stats(const struct ptybus *b)
{
    for (size_t k = 0; k < b->n_ports; k++) {
        struct mbrtu_stats st;
        const struct port *p = &b->ports[k];

        mbrtu_get_stats(p->rtu, &st);
        fprintf(stderr,
                "nodesim: node %u on %s: frames %u, crc errors %u, gap errors %u, "
                "overruns %u, runts %u, served %u, replies %u, exceptions %u, "
                "silenced %u, corrupted %u\n",
                simnode_unit_id(p->sn), b->path, st.frames, st.crc_errors, st.gap_errors,
                st.overruns, st.runts, st.served, st.replies, st.exceptions,
                p->sn->dropped, p->sn->corrupted);
    }
    if (b->tx_dropped > 0)
        fprintf(stderr, "nodesim: %s: %u replies lost (line buffer full)\n", b->path,
                b->tx_dropped);
}
