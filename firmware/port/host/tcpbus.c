#include "tcpbus.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mbpdu.h"

#define MBAP_HEADER 7
#define ADU_MAX     (MBAP_HEADER + MBPDU_MAX)
#define TXQ_LEN     8

/* Exception 0x0B of the application protocol, §7: gateway target device failed to
 * respond. */
#define EX_GATEWAY_TARGET 0x0B

struct pending {
    uint64_t due_us;
    size_t len;
    uint8_t adu[ADU_MAX];
};

struct conn {
    int fd;
    size_t len;
    uint8_t buf[2 * ADU_MAX];
    struct pending txq[TXQ_LEN];
    size_t txq_len;
};

struct tcpbus {
    int listener;
    uint16_t port;
    uint32_t turnaround_us;
    struct simnode *nodes;
    size_t n_nodes;
    struct conn conns[TCPBUS_MAX_CONN];
};

static void conn_close(struct conn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    c->len = 0;
    c->txq_len = 0;
}

struct tcpbus *tcpbus_new(const struct nsconf *c, uint16_t port, struct simnode *nodes,
                          size_t n, char *err, size_t errlen)
{
    struct tcpbus *b = calloc(1, sizeof(*b));
    struct sockaddr_in sa;
    socklen_t salen = sizeof(sa);
    int one = 1;

    if (b == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    b->listener = -1;
    for (size_t i = 0; i < TCPBUS_MAX_CONN; i++)
        b->conns[i].fd = -1;
    b->nodes = nodes;
    b->n_nodes = n;
    b->turnaround_us = c->turnaround_us;

    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    if (inet_pton(AF_INET, c->listen, &sa.sin_addr) != 1) {
        snprintf(err, errlen, "--listen %s: not an IPv4 address", c->listen);
        goto fail;
    }
    b->listener = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (b->listener < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        goto fail;
    }
    (void)setsockopt(b->listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(b->listener, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
        listen(b->listener, 16) < 0 ||
        getsockname(b->listener, (struct sockaddr *)&sa, &salen) < 0) {
        snprintf(err, errlen, "tcp %s:%u: %s", c->listen, (unsigned)port,
                 strerror(errno));
        goto fail;
    }
    b->port = ntohs(sa.sin_port);
    return b;

fail:
    tcpbus_free(b);
    return NULL;
}

void tcpbus_free(struct tcpbus *b)
{
    if (b == NULL)
        return;
    for (size_t i = 0; i < TCPBUS_MAX_CONN; i++)
        conn_close(&b->conns[i]);
    if (b->listener >= 0)
        close(b->listener);
    free(b);
}

uint16_t tcpbus_port(const struct tcpbus *b)
{
    return b->port;
}

size_t tcpbus_pollfds(const struct tcpbus *b, struct pollfd *fds)
{
    size_t n = 0;

    fds[n].fd = b->listener;
    fds[n].events = POLLIN;
    n++;
    for (size_t i = 0; i < TCPBUS_MAX_CONN; i++) {
        fds[n].fd = b->conns[i].fd; /* a negative fd is ignored by poll() */
        fds[n].events = POLLIN;
        n++;
    }
    return n;
}

static void accept_all(struct tcpbus *b)
{
    for (;;) {
        int fd = accept4(b->listener, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        int one = 1;
        size_t i;

        if (fd < 0)
            return;
        for (i = 0; i < TCPBUS_MAX_CONN; i++) {
            if (b->conns[i].fd < 0)
                break;
        }
        if (i == TCPBUS_MAX_CONN) {
            close(fd);
            continue;
        }
        (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        b->conns[i].fd = fd;
        b->conns[i].len = 0;
        b->conns[i].txq_len = 0;
    }
}

static void queue_reply(struct tcpbus *b, struct conn *c, const uint8_t *mbap,
                        const uint8_t *pdu, size_t pdu_len, uint64_t now_us)
{
    struct pending *q;

    if (c->txq_len == TXQ_LEN)
        return;
    q = &c->txq[c->txq_len++];
    memcpy(q->adu, mbap, 4); /* transaction and protocol id, echoed */
    q->adu[4] = (uint8_t)((pdu_len + 1) >> 8);
    q->adu[5] = (uint8_t)((pdu_len + 1) & 0xFFu);
    q->adu[6] = mbap[6];
    memcpy(q->adu + MBAP_HEADER, pdu, pdu_len);
    q->len = MBAP_HEADER + pdu_len;
    q->due_us = now_us + b->turnaround_us;
}

/* Serve one complete ADU. */
static void serve(struct tcpbus *b, struct conn *c, const uint8_t *adu, size_t len,
                  uint64_t now_us, uint32_t t_ms)
{
    uint8_t rsp[MBPDU_MAX];
    uint8_t uid = adu[6];
    const uint8_t *pdu = adu + MBAP_HEADER;
    size_t pdu_len = len - MBAP_HEADER, n;
    struct simnode *sn = NULL;

    if (uid == 0) {
        for (size_t i = 0; i < b->n_nodes; i++) {
            if (!scenario_silent(&b->nodes[i].conf->scenario, t_ms))
                (void)mbpdu_serve(node_slave(b->nodes[i].node), pdu, pdu_len, true, rsp);
        }
        return;
    }
    for (size_t i = 0; i < b->n_nodes; i++) {
        if (simnode_unit_id(&b->nodes[i]) == uid)
            sn = &b->nodes[i];
    }
    if (sn == NULL && uid == 0xFF && b->n_nodes == 1)
        sn = &b->nodes[0];
    if (sn == NULL) {
        rsp[0] = (uint8_t)(pdu[0] | 0x80u);
        rsp[1] = EX_GATEWAY_TARGET;
        queue_reply(b, c, adu, rsp, 2, now_us);
        return;
    }
    n = mbpdu_serve(node_slave(sn->node), pdu, pdu_len, false, rsp);
    if (n == 0 || simnode_reply_fate(sn, t_ms) != SIMNODE_SEND)
        return;
    queue_reply(b, c, adu, rsp, n, now_us);
}

static void conn_read(struct tcpbus *b, struct conn *c, uint64_t now_us, uint32_t t_ms)
{
    ssize_t got = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, 0);
    size_t off = 0;

    if (got == 0 || (got < 0 && errno != EAGAIN && errno != EINTR)) {
        conn_close(c);
        return;
    }
    if (got < 0)
        return;
    c->len += (size_t)got;

    while (c->len - off >= MBAP_HEADER) {
        const uint8_t *h = c->buf + off;
        size_t field = (size_t)((h[4] << 8) | h[5]);

        /* A protocol id other than 0 or a length no PDU can have means the stream is
         * not Modbus, or has lost its framing; there is no way to resynchronise. */
        if (h[2] != 0 || h[3] != 0 || field < 2 || field > 1 + MBPDU_MAX) {
            conn_close(c);
            return;
        }
        if (c->len - off < 6 + field)
            break;
        serve(b, c, h, 6 + field, now_us, t_ms);
        off += 6 + field;
    }
    memmove(c->buf, c->buf + off, c->len - off);
    c->len -= off;
}

void tcpbus_handle(struct tcpbus *b, const struct pollfd *fds, size_t n, uint64_t now_us,
                   uint32_t t_ms)
{
    if (n < 1 + TCPBUS_MAX_CONN)
        return;
    for (size_t i = 0; i < TCPBUS_MAX_CONN; i++) {
        if (b->conns[i].fd >= 0 && fds[1 + i].fd == b->conns[i].fd &&
            (fds[1 + i].revents & (POLLIN | POLLHUP | POLLERR)))
            conn_read(b, &b->conns[i], now_us, t_ms);
    }
    if (fds[0].revents & POLLIN)
        accept_all(b);
}

void tcpbus_tick(struct tcpbus *b, uint64_t now_us)
{
    for (size_t k = 0; k < TCPBUS_MAX_CONN; k++) {
        struct conn *c = &b->conns[k];
        size_t i = 0;

        while (c->fd >= 0 && i < c->txq_len) {
            struct pending *q = &c->txq[i];

            if (q->due_us > now_us) {
                i++;
                continue;
            }
            /* A client too slow to take a few hundred bytes is treated as gone. */
            if (send(c->fd, q->adu, q->len, MSG_NOSIGNAL | MSG_DONTWAIT) !=
                (ssize_t)q->len) {
                conn_close(c);
                break;
            }
            memmove(q, q + 1, (c->txq_len - i - 1) * sizeof(*q));
            c->txq_len--;
        }
    }
}

uint64_t tcpbus_deadline(const struct tcpbus *b)
{
    uint64_t best = UINT64_MAX;

    for (size_t k = 0; k < TCPBUS_MAX_CONN; k++) {
        for (size_t i = 0; i < b->conns[k].txq_len; i++) {
            if (b->conns[k].txq[i].due_us < best)
                best = b->conns[k].txq[i].due_us;
        }
    }
    return best;
}
