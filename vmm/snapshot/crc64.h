/*
 * crc64.h - CRC-64/XZ (ECMA-182 polynomial 0x42F0E1EBA9EA3693, reflected, initial value and
 * final XOR all ones): the checksum over a whole snapshot file. Check value: the CRC of the
 * nine bytes "123456789" is 0x995DC9BBDF1939FA.
 */
#ifndef WISP_CRC64_H
#define WISP_CRC64_H

#include <stddef.h>
#include <stdint.h>

/* Continues a CRC over more bytes: crc64_update(0, ...) starts one; the result of each call is
 * the CRC of everything given so far. */
uint64_t crc64_update(uint64_t crc, const void *data, size_t len);

#endif
