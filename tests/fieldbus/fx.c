#include "fx.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define FX_MAX_GAPS   4096
#define FX_MAX_ADU    260
#define FX_RTU_REQ    8 /* FC 01..04 request: unit, fc, addr, count, CRC */
#define FX_MBAP       7
#define FX_MAX_REGS   125
#define FX_MAX_BITS   2000
#define FX_EXC_ILLFUN 1
#define FX_EXC_ILLADR 2
#define FX_EXC_ILLVAL 3

int64_t fx_now_ns(void)
{
    struct timespec ts;

    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void sleep_ms(uint32_t ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};

    while (clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, &ts) == EINTR)
        continue;
}

static int write_all(int fd, const uint8_t *p, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, p, len);

        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* ---- pty pair ---------------------------------------------------------------------- */

int fx_pty_open(struct fx_pty *p)
{
    struct termios tio;
    int rc;

    p->master = -1;
    p->slave = -1;
    p->master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (p->master < 0)
        return -errno;
    if (grantpt(p->master) != 0 || unlockpt(p->master) != 0 ||
        ptsname_r(p->master, p->path, sizeof(p->path)) != 0)
        goto fail;
    p->slave = open(p->path, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (p->slave < 0)
        goto fail;
    /* Raw from the start: no echo, no CR/LF translation, until libmodbus sets its own. */
    if (tcgetattr(p->slave, &tio) != 0)
        goto fail;
    cfmakeraw(&tio);
    if (tcsetattr(p->slave, TCSANOW, &tio) != 0)
        goto fail;
    return 0;

fail:
    rc = -errno;
    fx_pty_close(p);
    return rc;
}

void fx_pty_close(struct fx_pty *p)
{
    if (p->slave >= 0)
        (void)close(p->slave);
    if (p->master >= 0)
        (void)close(p->master);
    p->slave = -1;
    p->master = -1;
}

/* ---- the register image ------------------------------------------------------------ */

uint16_t fx_reg_value(uint8_t unit, int fc, uint16_t addr)
{
    return (uint16_t)(unit * 1000u + addr + (fc == 4 ? 500u : 0u));
}

uint8_t fx_bit_value(uint8_t unit, int fc, uint16_t addr)
{
    return fc == 1 ? (uint8_t)((addr + unit) % 3 == 0)
                   : (uint8_t)((addr + unit) % 2 == 0);
}

uint16_t fx_crc16(const uint8_t *p, size_t len)
{
    uint16_t crc = 0xFFFF;

    for (size_t i = 0; i < len; i++) {
        crc ^= p[i];
        for (int b = 0; b < 8; b++)
            crc = (crc & 1) ? (uint16_t)((crc >> 1) ^ 0xA001) : (uint16_t)(crc >> 1);
    }
    return crc;
}

/* ---- fixture slave ----------------------------------------------------------------- */

struct fx_slave {
    bool tcp;
    int fd;     /* RTU: the pty master; TCP: the listening socket */
    int client; /* TCP: the connected client, or -1 */
    int stop_fd;
    pthread_t thread;
    bool started;

    _Atomic int modes[256];
    _Atomic uint32_t late_ms;
    _Atomic uint64_t requests, replies;

    pthread_mutex_t lock; /* the gap log */
    int64_t last_reply_ns;
    size_t n_gaps;
    int64_t gaps[FX_MAX_GAPS];
};

static const uint8_t fx_noise[FX_GARBAGE_LEN] = {0x55, 0xAA, 0xFF, 0x00, 0x13, 0x37,
                                                 0xC3, 0x3C, 0x81, 0x7E, 0x42};

/*
 * The PDU (function code and data) answering one read, shaped by mode. Returns its
 * length, or 0 for no answer at all.
 */
static size_t build_pdu(uint8_t unit, int fc, uint16_t addr, uint16_t count,
                        enum fx_mode mode, uint8_t *pdu)
{
    bool regs = fc == 3 || fc == 4;
    unsigned max = regs ? FX_MAX_REGS : FX_MAX_BITS;
    int rfc = fc;
    size_t len = 0;

    if (fc < 1 || fc > 4) {
        pdu[0] = (uint8_t)(fc | 0x80);
        pdu[1] = FX_EXC_ILLFUN;
        return 2;
    }
    if (count == 0 || count > max) {
        pdu[0] = (uint8_t)(fc | 0x80);
        pdu[1] = FX_EXC_ILLVAL;
        return 2;
    }
    if (mode == FX_EXCEPTION || (uint32_t)addr + count > FX_BAD_ADDR) {
        pdu[0] = (uint8_t)(fc | 0x80);
        pdu[1] = FX_EXC_ILLADR;
        return 2;
    }
    if (mode == FX_BAD_FUNCTION)
        rfc = fc == 3 ? 4 : fc == 4 ? 3 : fc == 1 ? 2 : 1;
    if (mode == FX_SHORT)
        count--;
    pdu[len++] = (uint8_t)rfc;
    if (regs) {
        pdu[len++] = (uint8_t)(2 * count);
        for (uint16_t i = 0; i < count; i++) {
            uint16_t v = mode == FX_LATE ? FX_LATE_MARK
                                         : fx_reg_value(unit, fc, (uint16_t)(addr + i));

            pdu[len++] = (uint8_t)(v >> 8);
            pdu[len++] = (uint8_t)(v & 0xFF);
        }
    } else {
        size_t bytes = (count + 7u) / 8u;

        pdu[len++] = (uint8_t)bytes;
        memset(&pdu[len], 0, bytes);
        for (uint16_t i = 0; i < count; i++) {
            bool on = mode == FX_LATE || fx_bit_value(unit, fc, (uint16_t)(addr + i));

            if (on)
                pdu[len + i / 8u] |= (uint8_t)(1u << (i % 8u));
        }
        len += bytes;
    }
    return len;
}

/* A request arrived whose first byte was readable at first_ns: log the line gap. */
static void note_request(struct fx_slave *fx, int64_t first_ns)
{
    atomic_fetch_add(&fx->requests, 1);
    pthread_mutex_lock(&fx->lock);
    if (fx->last_reply_ns != 0 && fx->n_gaps < FX_MAX_GAPS)
        fx->gaps[fx->n_gaps++] = first_ns - fx->last_reply_ns;
    fx->last_reply_ns = 0;
    pthread_mutex_unlock(&fx->lock);
}

/* Timestamp a reply just before it goes out, so a measured gap is never too short. */
static void note_reply(struct fx_slave *fx)
{
    pthread_mutex_lock(&fx->lock);
    fx->last_reply_ns = fx_now_ns();
    pthread_mutex_unlock(&fx->lock);
}

/* Answer one RTU request (8 bytes, CRC already checked). */
static void rtu_answer(struct fx_slave *fx, const uint8_t *req)
{
    uint8_t unit = req[0];
    int fc = req[1];
    uint16_t addr = (uint16_t)(req[2] << 8 | req[3]);
    uint16_t count = (uint16_t)(req[4] << 8 | req[5]);
    enum fx_mode mode = (enum fx_mode)atomic_load(&fx->modes[unit]);
    uint8_t adu[FX_MAX_ADU];
    size_t len;
    uint16_t crc;

    if (mode == FX_SILENT || mode == FX_HANGUP)
        return;
    if (mode == FX_GARBAGE) {
        note_reply(fx);
        (void)write_all(fx->fd, fx_noise, sizeof(fx_noise));
        atomic_fetch_add(&fx->replies, 1);
        return;
    }
    len = build_pdu(unit, fc, addr, count, mode, &adu[1]);
    adu[0] = mode == FX_WRONG_UNIT ? (uint8_t)(unit + 1) : unit;
    len++;
    crc = fx_crc16(adu, len);
    adu[len++] = (uint8_t)(crc & 0xFF);
    adu[len++] = (uint8_t)(crc >> 8);
    if (mode == FX_BAD_CRC)
        adu[len - 1] ^= 0x5A;
    if (mode == FX_TRUNCATE)
        len /= 2;
    if (mode == FX_LATE || mode == FX_SLOW)
        sleep_ms(atomic_load(&fx->late_ms));
    note_reply(fx);
    (void)write_all(fx->fd, adu, len);
    atomic_fetch_add(&fx->replies, 1);
}

static void *rtu_main(void *arg)
{
    struct fx_slave *fx = arg;
    uint8_t buf[512];
    size_t len = 0;
    int64_t first_ns = 0;

    for (;;) {
        struct pollfd pfd[2] = {{.fd = fx->fd, .events = POLLIN},
                                {.fd = fx->stop_fd, .events = POLLIN}};
        int64_t now;
        ssize_t n;

        if (poll(pfd, 2, -1) < 0)
            continue;
        if (pfd[1].revents != 0)
            break;
        now = fx_now_ns();
        n = read(fx->fd, buf + len, sizeof(buf) - len);
        if (n <= 0) {
            /* The gateway's end may be closed for a moment while it reopens it. */
            if (n < 0 && errno != EINTR && errno != EAGAIN)
                (void)poll(&pfd[1], 1, 5);
            continue;
        }
        if (len == 0)
            first_ns = now;
        len += (size_t)n;
        /*
         * Frame by content, not by timing: a read request is 8 bytes with a good CRC.
         * Anything else is dropped a byte at a time until a request lines up.
         */
        while (len >= FX_RTU_REQ) {
            uint16_t crc = fx_crc16(buf, FX_RTU_REQ - 2);

            if (buf[6] == (crc & 0xFF) && buf[7] == (crc >> 8)) {
                note_request(fx, first_ns);
                rtu_answer(fx, buf);
                len -= FX_RTU_REQ;
                memmove(buf, buf + FX_RTU_REQ, len);
            } else {
                len--;
                memmove(buf, buf + 1, len);
            }
            first_ns = fx_now_ns();
        }
        if (len == sizeof(buf))
            len = 0;
    }
    return NULL;
}

static void tcp_hangup(struct fx_slave *fx)
{
    if (fx->client >= 0)
        (void)close(fx->client);
    fx->client = -1;
}

/* Answer one MBAP request; returns false when the connection was closed. */
static bool tcp_answer(struct fx_slave *fx, const uint8_t *req, size_t len)
{
    uint8_t unit = req[6];
    enum fx_mode mode = (enum fx_mode)atomic_load(&fx->modes[unit]);
    uint8_t adu[FX_MAX_ADU];
    size_t n;

    if (len < FX_MBAP + 5)
        return true;
    if (mode == FX_HANGUP) {
        tcp_hangup(fx);
        return false;
    }
    if (mode == FX_SILENT)
        return true;
    if (mode == FX_GARBAGE) {
        note_reply(fx);
        (void)write_all(fx->client, fx_noise, sizeof(fx_noise));
        atomic_fetch_add(&fx->replies, 1);
        return true;
    }
    n = build_pdu(unit, req[7], (uint16_t)(req[8] << 8 | req[9]),
                  (uint16_t)(req[10] << 8 | req[11]), mode, &adu[FX_MBAP]);
    memcpy(adu, req, 4); /* transaction and protocol ids */
    if (mode == FX_BAD_TID)
        adu[1] ^= 0x01;
    adu[4] = (uint8_t)((n + 1) >> 8);
    adu[5] = (uint8_t)((n + 1) & 0xFF);
    adu[6] = mode == FX_WRONG_UNIT ? (uint8_t)(unit + 1) : unit;
    n += FX_MBAP;
    if (mode == FX_TRUNCATE)
        n /= 2;
    if (mode == FX_LATE || mode == FX_SLOW)
        sleep_ms(atomic_load(&fx->late_ms));
    note_reply(fx);
    (void)write_all(fx->client, adu, n);
    atomic_fetch_add(&fx->replies, 1);
    return true;
}

static void *tcp_main(void *arg)
{
    struct fx_slave *fx = arg;
    uint8_t buf[1024];
    size_t len = 0;
    int64_t first_ns = 0;

    for (;;) {
        struct pollfd pfd[3] = {{.fd = fx->stop_fd, .events = POLLIN},
                                {.fd = fx->fd, .events = POLLIN},
                                {.fd = fx->client, .events = POLLIN}};
        ssize_t n;

        if (poll(pfd, fx->client >= 0 ? 3 : 2, -1) < 0)
            continue;
        if (pfd[0].revents != 0)
            break;
        if (pfd[1].revents & POLLIN) {
            /* One client at a time, like a small serial-to-Ethernet gateway. */
            int c = accept4(fx->fd, NULL, NULL, SOCK_CLOEXEC);

            if (c >= 0) {
                tcp_hangup(fx);
                fx->client = c;
                len = 0;
            }
            continue;
        }
        if (fx->client < 0 || pfd[2].revents == 0)
            continue;
        if (len == 0)
            first_ns = fx_now_ns();
        n = read(fx->client, buf + len, sizeof(buf) - len);
        if (n <= 0) {
            tcp_hangup(fx);
            len = 0;
            continue;
        }
        len += (size_t)n;
        while (len >= FX_MBAP) {
            size_t follow = (size_t)(buf[4] << 8 | buf[5]);
            size_t total = 6 + follow;

            if (follow < 2 || follow > 254) {
                tcp_hangup(fx);
                len = 0;
                break;
            }
            if (len < total)
                break;
            note_request(fx, first_ns);
            if (!tcp_answer(fx, buf, total)) {
                len = 0;
                break;
            }
            len -= total;
            memmove(buf, buf + total, len);
            first_ns = fx_now_ns();
        }
    }
    tcp_hangup(fx);
    return NULL;
}

static struct fx_slave *slave_new(bool tcp, int fd)
{
    struct fx_slave *fx = calloc(1, sizeof(*fx));

    if (fx == NULL)
        return NULL;
    fx->tcp = tcp;
    fx->fd = fd;
    fx->client = -1;
    for (size_t i = 0; i < 256; i++)
        atomic_init(&fx->modes[i], FX_NORMAL);
    atomic_init(&fx->late_ms, 0);
    pthread_mutex_init(&fx->lock, NULL);
    fx->stop_fd = eventfd(0, EFD_CLOEXEC);
    if (fx->stop_fd < 0 ||
        pthread_create(&fx->thread, NULL, tcp ? tcp_main : rtu_main, fx) != 0) {
        if (fx->stop_fd >= 0)
            (void)close(fx->stop_fd);
        pthread_mutex_destroy(&fx->lock);
        free(fx);
        return NULL;
    }
    fx->started = true;
    return fx;
}

struct fx_slave *fx_slave_rtu(int fd)
{
    return slave_new(false, fd);
}

struct fx_slave *fx_slave_tcp(uint16_t *port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof(sa);
    int one = 1;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct fx_slave *fx;

    if (fd < 0)
        return NULL;
    (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, 4) != 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &sl) != 0) {
        (void)close(fd);
        return NULL;
    }
    *port = ntohs(sa.sin_port);
    fx = slave_new(true, fd);
    if (fx == NULL)
        (void)close(fd);
    return fx;
}

void fx_slave_stop(struct fx_slave *fx)
{
    uint64_t one = 1;

    if (fx == NULL)
        return;
    if (fx->started) {
        (void)write(fx->stop_fd, &one, sizeof(one));
        pthread_join(fx->thread, NULL);
    }
    if (fx->tcp)
        (void)close(fx->fd);
    (void)close(fx->stop_fd);
    pthread_mutex_destroy(&fx->lock);
    free(fx);
}

void fx_slave_set_mode(struct fx_slave *fx, uint8_t unit, enum fx_mode mode)
{
    atomic_store(&fx->modes[unit], (int)mode);
}

void fx_slave_set_late_ms(struct fx_slave *fx, uint32_t ms)
{
    atomic_store(&fx->late_ms, ms);
}

uint64_t fx_slave_requests(struct fx_slave *fx)
{
    return atomic_load(&fx->requests);
}

uint64_t fx_slave_replies(struct fx_slave *fx)
{
    return atomic_load(&fx->replies);
}

size_t fx_slave_gaps(struct fx_slave *fx, int64_t *out, size_t max)
{
    size_t n;

    pthread_mutex_lock(&fx->lock);
    n = fx->n_gaps;
    memcpy(out, fx->gaps, (n < max ? n : max) * sizeof(*out));
    pthread_mutex_unlock(&fx->lock);
    return n;
}

void fx_slave_clear_gaps(struct fx_slave *fx)
{
    pthread_mutex_lock(&fx->lock);
    fx->n_gaps = 0;
    pthread_mutex_unlock(&fx->lock);
}

/* ---- child processes --------------------------------------------------------------- */

int fx_proc_start(struct fx_proc *p, char *const argv[], int fd)
{
    pid_t parent = getpid();
    int pipefd[2];

    p->pid = 0;
    p->len = 0;
    p->out = -1;
    if (pipe2(pipefd, O_CLOEXEC) != 0)
        return -errno;
    p->pid = fork();
    if (p->pid < 0) {
        int rc = -errno;

        (void)close(pipefd[0]);
        (void)close(pipefd[1]);
        p->pid = 0;
        return rc;
    }
    if (p->pid == 0) {
        /*
         * Die with the test: a crashed test must not leave a server holding its port,
         * or ctest waiting for an output pipe that an orphan keeps open.
         */
        (void)prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127);
        if (dup2(pipefd[1], fd) < 0)
            _exit(127);
        execv(argv[0], argv);
        _exit(127);
    }
    (void)close(pipefd[1]);
    p->out = pipefd[0];
    return 0;
}

int fx_proc_wait_line(struct fx_proc *p, const char *needle, char *line, size_t len,
                      int timeout_ms)
{
    int64_t deadline = fx_now_ns() + (int64_t)timeout_ms * 1000000;

    for (;;) {
        char *nl;
        struct pollfd pfd = {.fd = p->out, .events = POLLIN};
        int64_t left;
        ssize_t n;

        /* Look at every complete line we already have. */
        while ((nl = memchr(p->buf, '\n', p->len)) != NULL) {
            size_t ll = (size_t)(nl - p->buf);
            bool hit;

            *nl = '\0';
            hit = strstr(p->buf, needle) != NULL;
            if (hit && line != NULL && len > 0) {
                size_t c = ll < len - 1 ? ll : len - 1;

                memcpy(line, p->buf, c);
                line[c] = '\0';
            }
            p->len -= ll + 1;
            memmove(p->buf, nl + 1, p->len);
            if (hit)
                return 0;
        }
        left = (deadline - fx_now_ns()) / 1000000;
        if (left <= 0)
            return -ETIMEDOUT;
        if (p->len == sizeof(p->buf))
            p->len = 0; /* an absurdly long line: forget it */
        if (poll(&pfd, 1, (int)left) <= 0)
            continue;
        n = read(p->out, p->buf + p->len, sizeof(p->buf) - p->len);
        if (n == 0)
            return -EPIPE;
        if (n > 0)
            p->len += (size_t)n;
    }
}

void fx_proc_kill(struct fx_proc *p, int sig)
{
    if (p->pid > 0) {
        (void)kill(p->pid, sig);
        while (waitpid(p->pid, NULL, 0) < 0 && errno == EINTR)
            continue;
    }
    if (p->out >= 0)
        (void)close(p->out);
    p->pid = 0;
    p->out = -1;
}
