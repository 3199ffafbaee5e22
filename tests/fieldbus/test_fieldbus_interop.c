/*
 * fieldbus against a third-party Modbus implementation: pymodbus 3.0 (Debian's
 * python3-pymodbus, run by /usr/bin/python3) as an RTU server behind a socat pty pair
 * and as a TCP server on a free loopback port. The test reads known int16 and float32
 * patterns and bits and compares them with what pymodbus_server.py serves; then it kills
 * the TCP server, sees the link error, restarts the server on the same port and
 * reconnects. Every process is awaited by its own readiness line and stopped by pid.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fieldbus.h"
#include "fx.h"

#ifndef FX_PYMODBUS_SERVER
#error "FX_PYMODBUS_SERVER must name pymodbus_server.py"
#endif

#define PYTHON      "/usr/bin/python3"
#define SOCAT       "/usr/bin/socat"
#define READY_MS    20000 /* python's start-up under a loaded CI machine */
#define RESPONSE_MS 500

/* pymodbus_server.py's register image; change both together. */
static const int16_t unit1_int16[] = {0, 1, 32767, -32768, -1, 1234, -1234};
static const float unit1_f32[] = {3.14159f, -273.15f, 1.0e6f};

static float f32_from(const uint16_t *w)
{
    uint32_t u = (uint32_t)w[0] << 16 | w[1];
    float f;

    memcpy(&f, &u, sizeof(f));
    return f;
}

/* Read and check unit 1's and unit 2's image, whatever the transport. */
static void check_image(struct fieldbus *fb)
{
    uint16_t regs[16];
    uint8_t bits[32], exc = 0xEE;

    assert_int_equal(fieldbus_read(fb, 1, CONFIG_TABLE_HOLDING, 0, 13, regs, &exc), 0);
    assert_int_equal(exc, 0);
    for (size_t i = 0; i < sizeof(unit1_int16) / sizeof(unit1_int16[0]); i++)
        assert_int_equal((int16_t)regs[i], unit1_int16[i]);
    for (size_t i = 0; i < sizeof(unit1_f32) / sizeof(unit1_f32[0]); i++) {
        /* Bit-exact: the same float32 went through pack/unpack on both sides. */
        float f = f32_from(&regs[7 + 2 * i]);

        assert_memory_equal(&f, &unit1_f32[i], sizeof(f));
    }
    /* A float32 in the middle of a block, as the poller's coalesced reads see it. */
    assert_int_equal(fieldbus_read(fb, 1, CONFIG_TABLE_HOLDING, 9, 2, regs, &exc), 0);
    assert_true(f32_from(regs) == -273.15f);

    assert_int_equal(fieldbus_read(fb, 1, CONFIG_TABLE_INPUT, 3, 10, regs, &exc), 0);
    for (uint16_t i = 0; i < 10; i++)
        assert_int_equal(regs[i], 103 + i);
    assert_int_equal(fieldbus_read_bits(fb, 1, CONFIG_TABLE_COIL, 0, 32, bits, &exc), 0);
    for (unsigned i = 0; i < 32; i++)
        assert_int_equal(bits[i], i % 3 == 0);
    assert_int_equal(fieldbus_read(fb, 1, CONFIG_TABLE_DISCRETE, 4, 9, regs, &exc), 0);
    for (unsigned i = 0; i < 9; i++)
        assert_int_equal(regs[i], (4 + i) % 2 == 0);

    /* The second unit on the same line or endpoint. */
    assert_int_equal(fieldbus_read(fb, 2, CONFIG_TABLE_HOLDING, 0, 16, regs, &exc), 0);
    for (uint16_t i = 0; i < 16; i++)
        assert_int_equal(regs[i], 2000 + i);
    assert_int_equal(fieldbus_read(fb, 2, CONFIG_TABLE_INPUT, 15, 1, regs, &exc), 0);
    assert_int_equal(regs[0], 2515);

    /* Past the end of pymodbus's block: exception 02, illegal data address. */
    assert_int_equal(fieldbus_read(fb, 1, CONFIG_TABLE_HOLDING, 10, 10, regs, &exc),
                     -EREMOTEIO);
    assert_int_equal(exc, 2);
    assert_true(fieldbus_connected(fb));
    exc = 0xEE;
    assert_int_equal(fieldbus_read(fb, 2, CONFIG_TABLE_HOLDING, 14, 2, regs, &exc), 0);
    assert_int_equal(exc, 0);
}

/* Unit ids pymodbus does not serve are dropped by its framer: a timeout, link kept. */
static void check_absent_unit(struct fieldbus *fb)
{
    uint16_t regs[2];
    uint8_t exc;

    assert_int_equal(fieldbus_set_timeouts(fb, 150, FIELDBUS_BUS_DEFAULT), 0);
    assert_int_equal(fieldbus_read(fb, 9, CONFIG_TABLE_HOLDING, 0, 2, regs, &exc),
                     -ETIMEDOUT);
    assert_true(fieldbus_connected(fb));
    assert_int_equal(
        fieldbus_set_timeouts(fb, FIELDBUS_BUS_DEFAULT, FIELDBUS_BUS_DEFAULT), 0);
    assert_int_equal(fieldbus_read(fb, 1, CONFIG_TABLE_HOLDING, 0, 2, regs, &exc), 0);
}

static void rtu_against_pymodbus(void **state)
{
    char dir[] = "/tmp/pg-fieldbus-XXXXXX";
    char a[256], b[256], link_a[300], link_b[300];
    char *socat_argv[] = {SOCAT, "-d", "-d", link_a, link_b, NULL};
    char *py_argv[] = {PYTHON, FX_PYMODBUS_SERVER, "rtu",   "--device",
                       a,      "--baud",           "19200", NULL};
    struct fx_proc socat = {.pid = 0, .out = -1}, py = {.pid = 0, .out = -1};
    struct config_bus bus;
    struct fieldbus *fb;

    (void)state;
    assert_non_null(mkdtemp(dir));
    (void)snprintf(a, sizeof(a), "%s/server", dir);
    (void)snprintf(b, sizeof(b), "%s/gateway", dir);
    (void)snprintf(link_a, sizeof(link_a), "pty,raw,echo=0,link=%s", a);
    (void)snprintf(link_b, sizeof(link_b), "pty,raw,echo=0,link=%s", b);

    /* socat -d -d says so on stderr once both ptys exist and it relays. */
    assert_int_equal(fx_proc_start(&socat, socat_argv, 2), 0);
    assert_int_equal(
        fx_proc_wait_line(&socat, "starting data transfer loop", NULL, 0, READY_MS), 0);
    assert_int_equal(fx_proc_start(&py, py_argv, 1), 0);
    assert_int_equal(fx_proc_wait_line(&py, "READY", NULL, 0, READY_MS), 0);

    memset(&bus, 0, sizeof(bus));
    (void)snprintf(bus.id, sizeof(bus.id), "rtu-interop");
    bus.kind = CONFIG_BUS_RTU;
    (void)snprintf(bus.device, sizeof(bus.device), "%s", b);
    bus.baud = 19200;
    bus.parity = CONFIG_PARITY_NONE;
    bus.data_bits = 8;
    bus.stop_bits = 2;
    bus.response_timeout_ms = RESPONSE_MS;
    fb = fieldbus_new(&bus);
    assert_non_null(fb);
    assert_int_equal(fieldbus_connect(fb), 0);
    check_image(fb);
    check_absent_unit(fb);
    fieldbus_free(fb);

    fx_proc_kill(&py, SIGKILL);
    fx_proc_kill(&socat, SIGTERM);
    (void)rmdir(dir);
}

static void start_tcp_server(struct fx_proc *py, uint16_t port, uint16_t *bound)
{
    char port_s[8], line[64];
    char *argv[] = {PYTHON, FX_PYMODBUS_SERVER, "tcp", "--port", port_s, NULL};
    unsigned p = 0;

    (void)snprintf(port_s, sizeof(port_s), "%u", (unsigned)port);
    assert_int_equal(fx_proc_start(py, argv, 1), 0);
    assert_int_equal(fx_proc_wait_line(py, "READY", line, sizeof(line), READY_MS), 0);
    assert_int_equal(sscanf(line, "READY %u", &p), 1);
    assert_true(p > 0 && p < 65536);
    *bound = (uint16_t)p;
}

static void tcp_against_pymodbus_with_restart(void **state)
{
    struct fx_proc py = {.pid = 0, .out = -1};
    struct config_bus bus;
    struct fieldbus *fb;
    uint16_t port = 0, again = 0, regs[2];
    uint8_t exc;
    int64_t t_before, t_connect;
    int rc;

    (void)state;
    start_tcp_server(&py, 0, &port); /* the server binds a free port and names it */
    memset(&bus, 0, sizeof(bus));
    (void)snprintf(bus.id, sizeof(bus.id), "tcp-interop");
    bus.kind = CONFIG_BUS_TCP;
    (void)snprintf(bus.host, sizeof(bus.host), "127.0.0.1");
    bus.port = port;
    bus.connect_timeout_ms = 1000;
    bus.response_timeout_ms = RESPONSE_MS;
    bus.watchdog_ms = 10000;
    fb = fieldbus_new(&bus);
    assert_non_null(fb);
    assert_int_equal(fieldbus_connect(fb), 0);
    check_image(fb);
    check_absent_unit(fb);

    /* Kill the server: the next read is a link error and the link is closed. */
    t_before = fieldbus_last_success_ns(fb);
    fx_proc_kill(&py, SIGKILL);
    rc = fieldbus_read(fb, 1, CONFIG_TABLE_HOLDING, 0, 2, regs, &exc);
    print_message("server killed: %s (%d)\n", fieldbus_strerror(rc), rc);
    assert_true(rc == -ECONNRESET || rc == -EPIPE || rc == -ECONNABORTED);
    assert_false(fieldbus_connected(fb));
    assert_int_equal(fieldbus_last_success_ns(fb), t_before);
    assert_int_equal(fieldbus_connect(fb), -ECONNREFUSED);

    /* Restart on the same port: the link comes back. */
    start_tcp_server(&py, port, &again);
    assert_int_equal(again, port);
    assert_int_equal(fieldbus_connect(fb), 0);
    t_connect = fieldbus_last_success_ns(fb);
    assert_true(t_connect > t_before);
    assert_int_equal(fieldbus_read(fb, 2, CONFIG_TABLE_HOLDING, 0, 2, regs, &exc), 0);
    assert_int_equal(regs[0], 2000);
    assert_true(fieldbus_last_success_ns(fb) > t_connect);
    check_image(fb);

    fieldbus_free(fb);
    fx_proc_kill(&py, SIGKILL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rtu_against_pymodbus),
        cmocka_unit_test(tcp_against_pymodbus_with_restart),
    };

    /* A write to a socket the killed server left behind must not kill the test. */
    (void)signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests_name("fieldbus_interop", tests, NULL, NULL);
}
