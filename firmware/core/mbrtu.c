#include "mbrtu.h"

#include <string.h>

#include "crc16.h"

#ifndef PG_FW_MAX_NODES
#define PG_FW_MAX_NODES 1
#endif

enum state {
    /* After start-up: wait for t3.5 of silence before trusting the line. */
    STATE_INIT,
    STATE_IDLE,
    /* Receiving; the frame is dropped at its end if bad is set. */
    STATE_RECEPTION,
};

enum bad {
    BAD_NONE,
    BAD_GAP,
    BAD_OVERRUN,
    BAD_LINE,
};

struct mbrtu {
    bool used;
    struct mbrtu_config cfg;
    uint32_t t15_us, t35_us, tchar_us;
    enum state state;
    enum bad bad;
    uint32_t last_us; /* when the last character was complete */
    size_t len;
    uint8_t rx[MBRTU_MAX_FRAME];
    uint8_t tx[MBRTU_MAX_FRAME];
    struct mbrtu_stats stats;
};

static struct mbrtu pool[PG_FW_MAX_NODES];

uint32_t mbrtu_t15_us(uint32_t baud)
{
    /* 1.5 characters of 11 bits: 16.5e6 / baud microseconds, rounded up. */
    if (baud > 19200)
        return 750;
    return (16500000u + baud - 1) / baud;
}

uint32_t mbrtu_t35_us(uint32_t baud)
{
    if (baud > 19200)
        return 1750;
    return (38500000u + baud - 1) / baud;
}

struct mbrtu *mbrtu_new(const struct mbrtu_config *cfg, uint32_t now_us)
{
    struct mbrtu *m = NULL;

    if (cfg == NULL || cfg->slave == NULL || cfg->address == NULL || cfg->send == NULL ||
        cfg->baud < 1200 || cfg->baud > 1000000)
        return NULL;
    for (size_t i = 0; i < PG_FW_MAX_NODES; i++) {
        if (!pool[i].used) {
            m = &pool[i];
            break;
        }
    }
    if (m == NULL)
        return NULL;

    memset(m, 0, sizeof(*m));
    m->used = true;
    m->cfg = *cfg;
    m->t15_us = mbrtu_t15_us(cfg->baud);
    m->t35_us = mbrtu_t35_us(cfg->baud);
    m->tchar_us = (11000000u + cfg->baud - 1) / cfg->baud;
    m->state = STATE_INIT;
    m->last_us = now_us;
    return m;
}

void mbrtu_free(struct mbrtu *m)
{
    if (m != NULL)
        m->used = false;
}

/* A frame has ended (t3.5 of silence): check it and serve it. */
static void end_frame(struct mbrtu *m)
{
    uint8_t address, own;
    uint16_t crc;
    size_t n;
    bool broadcast;

    m->stats.frames++;
    if (m->bad == BAD_GAP) {
        m->stats.gap_errors++;
        return;
    }
    if (m->bad == BAD_OVERRUN) {
        m->stats.overruns++;
        return;
    }
    if (m->bad == BAD_LINE) {
        m->stats.line_errors++;
        return;
    }
    if (m->len < 4) {
        m->stats.runts++;
        return;
    }
    crc = crc16_modbus(m->rx, m->len - 2);
    if (m->rx[m->len - 2] != (crc & 0xFFu) || m->rx[m->len - 1] != (crc >> 8)) {
        m->stats.crc_errors++;
        return;
    }

    address = m->rx[0];
    own = m->cfg.address(m->cfg.slave->ctx);
    broadcast = address == 0;
    if (!broadcast && address != own)
        return;

    m->stats.served++;
    n = mbpdu_serve(m->cfg.slave, m->rx + 1, m->len - 3, broadcast, m->tx + 1);
    if (n == 0)
        return;

    /* The reply carries the address the request was sent to: after a write to the
     * unit-id register the master still hears back from the address it wrote to. */
    m->tx[0] = address;
    crc = crc16_modbus(m->tx, n + 1);
    m->tx[n + 1] = (uint8_t)(crc & 0xFFu);
    m->tx[n + 2] = (uint8_t)(crc >> 8);
    m->stats.replies++;
    if (m->tx[1] & 0x80u)
        m->stats.exceptions++;
    m->cfg.send(m->cfg.send_ctx, m->tx, n + 3);
}

void mbrtu_tick(struct mbrtu *m, uint32_t now_us)
{
    if (m->state == STATE_IDLE)
        return;
    if (now_us - m->last_us < m->t35_us)
        return;
    if (m->state == STATE_RECEPTION)
        end_frame(m);
    m->state = STATE_IDLE;
}

static void rx_char(struct mbrtu *m, uint8_t byte, bool line_error, uint32_t now_us)
{
    uint32_t delta, silence;

    /* The silence before this character is the time since the previous one was
     * complete, less the time this one took on the wire. */
    if (m->state != STATE_IDLE) {
        delta = now_us - m->last_us;
        silence = delta > m->tchar_us ? delta - m->tchar_us : 0;
        if (silence >= m->t35_us) {
            if (m->state == STATE_RECEPTION)
                end_frame(m);
            m->state = STATE_IDLE;
        } else if (silence > m->t15_us && m->state == STATE_RECEPTION) {
            /* §2.5.1.1: after more than t1.5 the frame is incomplete. Characters keep
             * arriving into it until t3.5 of silence, and then all of it is dropped. */
            m->bad = BAD_GAP;
        }
    }
    m->last_us = now_us;

    switch (m->state) {
    case STATE_INIT:
        /* Still waiting for the first t3.5 of silence; this character restarts it. */
        return;
    case STATE_IDLE:
        m->state = STATE_RECEPTION;
        m->bad = BAD_NONE;
        m->len = 0;
        break;
    case STATE_RECEPTION:
        break;
    }
    if (line_error) {
        m->bad = BAD_LINE;
        return;
    }
    if (m->len >= MBRTU_MAX_FRAME) {
        m->bad = BAD_OVERRUN;
        return;
    }
    m->rx[m->len++] = byte;
}

void mbrtu_rx_byte(struct mbrtu *m, uint8_t byte, uint32_t now_us)
{
    rx_char(m, byte, false, now_us);
}

void mbrtu_rx_error(struct mbrtu *m, uint32_t now_us)
{
    rx_char(m, 0, true, now_us);
}

bool mbrtu_busy(const struct mbrtu *m, uint32_t *deadline_us)
{
    if (m->state == STATE_IDLE)
        return false;
    if (deadline_us != NULL)
        *deadline_us = m->last_us + m->t35_us;
    return true;
}

void mbrtu_get_stats(const struct mbrtu *m, struct mbrtu_stats *out)
{
    *out = m->stats;
}
