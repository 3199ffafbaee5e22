/*
 * crc16: the Modbus RTU frame check (CRC-16/MODBUS: reflected polynomial 0xA001, initial
 * value 0xFFFF), as in the Modbus over Serial Line specification V1.02, §6.2.2.
 *
 * Bitwise rather than table-driven: a 256-byte frame costs about 2,000 shift-and-xor
 * steps, a few tens of microseconds on a Cortex-M3, and the 512-byte table is flash
 * better spent elsewhere. Pure; safe to call from an interrupt.
 */
#ifndef PG_CRC16_H
#define PG_CRC16_H

#include <stddef.h>
#include <stdint.h>

/* The CRC of len bytes at p. On the wire it goes low byte first. */
uint16_t crc16_modbus(const uint8_t *p, size_t len);

#endif
