/*
 * Unit tests for crc16: the CRC-16/MODBUS check value of the catalogue of parametrised
 * CRC algorithms ("123456789" -> 0x4B37), frames from the Modbus over Serial Line
 * specification and from captures, and the property every receiver relies on: the CRC of
 * a frame including its own CRC bytes (low byte first) is zero.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "crc16.h"

static void test_check_value(void **state)
{
    (void)state;
    assert_int_equal(crc16_modbus((const uint8_t *)"123456789", 9), 0x4B37);
}

static void test_empty_is_initial_value(void **state)
{
    (void)state;
    assert_int_equal(crc16_modbus(NULL, 0), 0xFFFF);
}

static void test_known_frames(void **state)
{
    /* Read 10 holding registers from 0 of slave 1: 01 03 00 00 00 0A C5 CD. */
    static const uint8_t read10[] = {0x01, 0x03, 0x00, 0x00, 0x00, 0x0A};
    /* The spec's example, read 3 registers from 0x006B of slave 0x11: CRC 76 87. */
    static const uint8_t spec[] = {0x11, 0x03, 0x00, 0x6B, 0x00, 0x03};
    /* Write 1 to register 1 of slave 1 (FC 06): 01 06 00 01 00 01 19 CA. */
    static const uint8_t write1[] = {0x01, 0x06, 0x00, 0x01, 0x00, 0x01};

    (void)state;
    assert_int_equal(crc16_modbus(read10, sizeof(read10)), 0xCDC5);
    assert_int_equal(crc16_modbus(spec, sizeof(spec)), 0x8776);
    assert_int_equal(crc16_modbus(write1, sizeof(write1)), 0xCA19);
}

static void test_residue_is_zero(void **state)
{
    uint8_t frame[258];

    (void)state;
    for (size_t len = 1; len <= 256; len += 17) {
        uint16_t crc;

        for (size_t i = 0; i < len; i++)
            frame[i] = (uint8_t)(i * 37 + len);
        crc = crc16_modbus(frame, len);
        frame[len] = (uint8_t)(crc & 0xFF);
        frame[len + 1] = (uint8_t)(crc >> 8);
        assert_int_equal(crc16_modbus(frame, len + 2), 0);
    }
}

static void test_single_bit_errors_detected(void **state)
{
    uint8_t frame[8] = {0x01, 0x03, 0x00, 0x00, 0x00, 0x0A, 0xC5, 0xCD};

    (void)state;
    for (size_t byte = 0; byte < sizeof(frame); byte++) {
        for (int bit = 0; bit < 8; bit++) {
            frame[byte] ^= (uint8_t)(1u << bit);
            assert_int_not_equal(crc16_modbus(frame, sizeof(frame)), 0);
            frame[byte] ^= (uint8_t)(1u << bit);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_check_value),
        cmocka_unit_test(test_empty_is_initial_value),
        cmocka_unit_test(test_known_frames),
        cmocka_unit_test(test_residue_is_zero),
        cmocka_unit_test(test_single_bit_errors_detected),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
