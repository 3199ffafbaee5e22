/*
 * Unit tests for mbpdu: every served function code, every exception and the order in
 * which the application protocol's state diagrams check a request, against a fake slave
 * that can be told to fail. Exception order per function: 01 unsupported function, 03
 * quantity or length, 02 address range, then whatever the slave says (02, 03 or 04).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "mbpdu.h"

/* The fake slave: 100 registers; higher addresses do not exist; values above 1000 are
 * refused; fail forces an error. */
struct fake {
    uint16_t regs[100];
    int fail;
    int reads, writes;
    enum mbpdu_table last_table;
    bool last_broadcast;
};

static int fake_read(void *ctx, enum mbpdu_table table, uint16_t address, uint16_t count,
                     uint16_t *out)
{
    struct fake *f = ctx;

    f->reads++;
    f->last_table = table;
    if (f->fail != 0)
        return f->fail;
    if ((uint32_t)address + count > 100)
        return -ENXIO;
    memcpy(out, &f->regs[address], count * sizeof(uint16_t));
    return 0;
}

static int fake_write(void *ctx, uint16_t address, uint16_t count, const uint16_t *values,
                      bool broadcast)
{
    struct fake *f = ctx;

    f->writes++;
    f->last_broadcast = broadcast;
    if (f->fail != 0)
        return f->fail;
    if ((uint32_t)address + count > 100)
        return -ENXIO;
    for (uint16_t i = 0; i < count; i++) {
        if (values[i] > 1000)
            return -ERANGE;
    }
    memcpy(&f->regs[address], values, count * sizeof(uint16_t));
    return 0;
}

static struct fake fake;
static struct mbpdu_slave slave = {fake_read, fake_write, &fake};
static uint8_t rsp[MBPDU_MAX];

static int setup(void **state)
{
    (void)state;
    memset(&fake, 0, sizeof(fake));
    for (uint16_t i = 0; i < 100; i++)
        fake.regs[i] = (uint16_t)(0x0100 + i);
    memset(rsp, 0xEE, sizeof(rsp));
    return 0;
}

static size_t serve(const uint8_t *req, size_t len)
{
    return mbpdu_serve(&slave, req, len, false, rsp);
}

static void expect_exception(const uint8_t *req, size_t len, uint8_t code)
{
    size_t n = serve(req, len);

    assert_int_equal(n, 2);
    assert_int_equal(rsp[0], (uint8_t)(req[0] | 0x80));
    assert_int_equal(rsp[1], code);
}

static void test_fc03_reads(void **state)
{
    const uint8_t req[] = {0x03, 0x00, 0x02, 0x00, 0x03};
    size_t n;

    (void)state;
    n = serve(req, sizeof(req));
    assert_int_equal(n, 2 + 6);
    assert_int_equal(rsp[0], 0x03);
    assert_int_equal(rsp[1], 6);
    assert_int_equal(rsp[2], 0x01);
    assert_int_equal(rsp[3], 0x02);
    assert_int_equal(rsp[6], 0x01);
    assert_int_equal(rsp[7], 0x04);
    assert_int_equal(fake.last_table, MBPDU_TABLE_HOLDING);
}

static void test_fc04_reads_input_table(void **state)
{
    const uint8_t req[] = {0x04, 0x00, 0x00, 0x00, 0x01};

    (void)state;
    assert_int_equal(serve(req, sizeof(req)), 4);
    assert_int_equal(rsp[0], 0x04);
    assert_int_equal(fake.last_table, MBPDU_TABLE_INPUT);
}

static void test_read_quantity_limits(void **state)
{
    const uint8_t zero[] = {0x03, 0x00, 0x00, 0x00, 0x00};
    const uint8_t too_many[] = {0x04, 0x00, 0x00, 0x00, 126};
    const uint8_t max_ok[] = {0x03, 0x00, 0x00, 0x00, 125};

    (void)state;
    expect_exception(zero, sizeof(zero), MBPDU_EX_ILLEGAL_VALUE);
    expect_exception(too_many, sizeof(too_many), MBPDU_EX_ILLEGAL_VALUE);
    /* 125 is legal as a quantity; the fake slave has no register 100, so 02. */
    expect_exception(max_ok, sizeof(max_ok), MBPDU_EX_ILLEGAL_ADDRESS);
    assert_int_equal(fake.reads, 1);
}

static void test_read_address_range(void **state)
{
    const uint8_t wraps[] = {0x03, 0xFF, 0xFF, 0x00, 0x02};
    const uint8_t missing[] = {0x03, 0x00, 0x63, 0x00, 0x02};
    const uint8_t last[] = {0x03, 0xFF, 0xFF, 0x00, 0x01};

    (void)state;
    expect_exception(wraps, sizeof(wraps), MBPDU_EX_ILLEGAL_ADDRESS);
    assert_int_equal(fake.reads, 0); /* refused before the slave is asked */
    expect_exception(missing, sizeof(missing), MBPDU_EX_ILLEGAL_ADDRESS);
    expect_exception(last, sizeof(last), MBPDU_EX_ILLEGAL_ADDRESS);
}

static void test_read_device_failure(void **state)
{
    const uint8_t req[] = {0x03, 0x00, 0x00, 0x00, 0x01};

    (void)state;
    fake.fail = -EIO;
    expect_exception(req, sizeof(req), MBPDU_EX_DEVICE_FAILURE);
    fake.fail = -ETIMEDOUT;
    expect_exception(req, sizeof(req), MBPDU_EX_DEVICE_FAILURE);
}

static void test_read_bad_length(void **state)
{
    const uint8_t req[] = {0x03, 0x00, 0x00, 0x00, 0x01, 0x00};

    (void)state;
    expect_exception(req, 4, MBPDU_EX_ILLEGAL_VALUE);
    expect_exception(req, 6, MBPDU_EX_ILLEGAL_VALUE);
    expect_exception(req, 1, MBPDU_EX_ILLEGAL_VALUE);
    assert_int_equal(fake.reads, 0);
}

static void test_fc06_writes_and_echoes(void **state)
{
    const uint8_t req[] = {0x06, 0x00, 0x05, 0x01, 0x23};

    (void)state;
    assert_int_equal(serve(req, sizeof(req)), 5);
    assert_memory_equal(rsp, req, 5);
    assert_int_equal(fake.regs[5], 0x0123);
    assert_false(fake.last_broadcast);
}

static void test_fc06_exceptions(void **state)
{
    const uint8_t bad_value[] = {0x06, 0x00, 0x05, 0x03, 0xE9}; /* 1001 */
    const uint8_t bad_address[] = {0x06, 0x00, 0x64, 0x00, 0x01};
    const uint8_t ok[] = {0x06, 0x00, 0x05, 0x00, 0x01};

    (void)state;
    expect_exception(bad_value, sizeof(bad_value), MBPDU_EX_ILLEGAL_VALUE);
    expect_exception(bad_address, sizeof(bad_address), MBPDU_EX_ILLEGAL_ADDRESS);
    expect_exception(ok, 4, MBPDU_EX_ILLEGAL_VALUE);
    expect_exception(ok, 3, MBPDU_EX_ILLEGAL_VALUE);
    fake.fail = -EIO;
    expect_exception(ok, sizeof(ok), MBPDU_EX_DEVICE_FAILURE);
    assert_int_equal(fake.regs[5], 0x0105);
}

static void test_fc16_writes(void **state)
{
    const uint8_t req[] = {0x10, 0x00, 0x0A, 0x00, 0x02, 0x04, 0x00, 0x07, 0x03, 0xE8};

    (void)state;
    assert_int_equal(serve(req, sizeof(req)), 5);
    assert_memory_equal(rsp, req, 5);
    assert_int_equal(fake.regs[10], 7);
    assert_int_equal(fake.regs[11], 1000);
}

static void test_fc16_quantity_and_length(void **state)
{
    uint8_t req[6 + 2 * 124] = {0x10, 0x00, 0x00, 0x00, 0x02, 0x04, 0, 1, 0, 2};

    (void)state;
    /* Byte count disagrees with the quantity. */
    req[5] = 0x03;
    expect_exception(req, 10, MBPDU_EX_ILLEGAL_VALUE);
    /* PDU length disagrees with the byte count. */
    req[5] = 0x04;
    expect_exception(req, 9, MBPDU_EX_ILLEGAL_VALUE);
    expect_exception(req, 11, MBPDU_EX_ILLEGAL_VALUE);
    expect_exception(req, 5, MBPDU_EX_ILLEGAL_VALUE);
    /* Quantity 0, and 124 (one more than the protocol allows; its 248 data bytes cannot
     * even fit a frame). */
    req[3] = 0;
    req[4] = 0;
    req[5] = 0;
    expect_exception(req, 6, MBPDU_EX_ILLEGAL_VALUE);
    req[4] = 124;
    req[5] = 248;
    expect_exception(req, MBPDU_MAX, MBPDU_EX_ILLEGAL_VALUE);
    assert_int_equal(fake.writes, 0);
}

static void test_fc16_address_and_slave_errors(void **state)
{
    uint8_t req[] = {0x10, 0xFF, 0xFF, 0x00, 0x02, 0x04, 0, 1, 0, 2};

    (void)state;
    expect_exception(req, sizeof(req), MBPDU_EX_ILLEGAL_ADDRESS);
    assert_int_equal(fake.writes, 0);
    req[1] = 0x00;
    req[2] = 0x63;
    expect_exception(req, sizeof(req), MBPDU_EX_ILLEGAL_ADDRESS);
    req[2] = 0x00;
    req[8] = 0xFF;
    expect_exception(req, sizeof(req), MBPDU_EX_ILLEGAL_VALUE);
    fake.fail = -EIO;
    expect_exception(req, sizeof(req), MBPDU_EX_DEVICE_FAILURE);
}

static void test_fc08_echo(void **state)
{
    const uint8_t req[] = {0x08, 0x00, 0x00, 0xA5, 0x37, 0x01};
    const uint8_t bare[] = {0x08, 0x00, 0x00};

    (void)state;
    assert_int_equal(serve(req, sizeof(req)), sizeof(req));
    assert_memory_equal(rsp, req, sizeof(req));
    assert_int_equal(serve(bare, sizeof(bare)), sizeof(bare));
    assert_memory_equal(rsp, bare, sizeof(bare));
}

static void test_fc08_other_subfunctions(void **state)
{
    const uint8_t restart[] = {0x08, 0x00, 0x01, 0x00, 0x00};
    const uint8_t counters[] = {0x08, 0x00, 0x0B, 0x00, 0x00};
    const uint8_t short_req[] = {0x08, 0x00};

    (void)state;
    expect_exception(restart, sizeof(restart), MBPDU_EX_ILLEGAL_FUNCTION);
    expect_exception(counters, sizeof(counters), MBPDU_EX_ILLEGAL_FUNCTION);
    expect_exception(short_req, sizeof(short_req), MBPDU_EX_ILLEGAL_VALUE);
}

static void test_unsupported_functions(void **state)
{
    static const uint8_t codes[] = {0x00, 0x01, 0x02, 0x05, 0x07, 0x0F, 0x11,
                                    0x16, 0x17, 0x2B, 0x7F, 0x83, 0x90, 0xFF};

    (void)state;
    for (size_t i = 0; i < sizeof(codes); i++) {
        const uint8_t req[] = {codes[i], 0x00, 0x00, 0x00, 0x01};

        expect_exception(req, sizeof(req), MBPDU_EX_ILLEGAL_FUNCTION);
    }
    assert_int_equal(fake.reads + fake.writes, 0);
}

static void test_broadcast_writes_without_reply(void **state)
{
    const uint8_t w6[] = {0x06, 0x00, 0x01, 0x00, 0x2A};
    const uint8_t w16[] = {0x10, 0x00, 0x02, 0x00, 0x01, 0x02, 0x00, 0x2B};
    const uint8_t bad[] = {0x06, 0x00, 0x01, 0xFF, 0xFF};

    (void)state;
    assert_int_equal(mbpdu_serve(&slave, w6, sizeof(w6), true, rsp), 0);
    assert_int_equal(fake.regs[1], 42);
    assert_true(fake.last_broadcast);
    assert_int_equal(mbpdu_serve(&slave, w16, sizeof(w16), true, rsp), 0);
    assert_int_equal(fake.regs[2], 43);
    /* A broadcast the slave refuses is still not answered. */
    assert_int_equal(mbpdu_serve(&slave, bad, sizeof(bad), true, rsp), 0);
}

static void test_broadcast_reads_not_performed(void **state)
{
    const uint8_t r3[] = {0x03, 0x00, 0x00, 0x00, 0x01};
    const uint8_t r4[] = {0x04, 0x00, 0x00, 0x00, 0x01};
    const uint8_t echo[] = {0x08, 0x00, 0x00, 0x12, 0x34};
    const uint8_t unknown[] = {0x2B, 0x0E};

    (void)state;
    assert_int_equal(mbpdu_serve(&slave, r3, sizeof(r3), true, rsp), 0);
    assert_int_equal(mbpdu_serve(&slave, r4, sizeof(r4), true, rsp), 0);
    assert_int_equal(mbpdu_serve(&slave, echo, sizeof(echo), true, rsp), 0);
    assert_int_equal(mbpdu_serve(&slave, unknown, sizeof(unknown), true, rsp), 0);
    assert_int_equal(fake.reads, 0);
}

static void test_empty_and_oversized(void **state)
{
    uint8_t big[MBPDU_MAX + 1] = {0x08, 0x00, 0x00};

    (void)state;
    assert_int_equal(serve(big, 0), 0);
    assert_int_equal(serve(big, sizeof(big)), 0);
    /* The largest legal echo comes back whole. */
    assert_int_equal(serve(big, MBPDU_MAX), MBPDU_MAX);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_fc03_reads, setup),
        cmocka_unit_test_setup(test_fc04_reads_input_table, setup),
        cmocka_unit_test_setup(test_read_quantity_limits, setup),
        cmocka_unit_test_setup(test_read_address_range, setup),
        cmocka_unit_test_setup(test_read_device_failure, setup),
        cmocka_unit_test_setup(test_read_bad_length, setup),
        cmocka_unit_test_setup(test_fc06_writes_and_echoes, setup),
        cmocka_unit_test_setup(test_fc06_exceptions, setup),
        cmocka_unit_test_setup(test_fc16_writes, setup),
        cmocka_unit_test_setup(test_fc16_quantity_and_length, setup),
        cmocka_unit_test_setup(test_fc16_address_and_slave_errors, setup),
        cmocka_unit_test_setup(test_fc08_echo, setup),
        cmocka_unit_test_setup(test_fc08_other_subfunctions, setup),
        cmocka_unit_test_setup(test_unsupported_functions, setup),
        cmocka_unit_test_setup(test_broadcast_writes_without_reply, setup),
        cmocka_unit_test_setup(test_broadcast_reads_not_performed, setup),
        cmocka_unit_test_setup(test_empty_and_oversized, setup),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
