/*
 * crc64.c - CRC-64/XZ, table driven (one byte per step: snapshot state files are tens of KiB;
 * guest memory lives in its own file and is not checksummed).
 */
#include "vmm/snapshot/crc64.h"

#include <pthread.h>

#define CRC64_POLY_REFLECTED 0xc96c5795d7870f42ull /* 0x42F0E1EBA9EA3693 bit-reversed */

static uint64_t crc64_table[256];
static pthread_once_t crc64_table_once = PTHREAD_ONCE_INIT;

static void crc64_make_table(void)
{
	for (unsigned i = 0; i < 256; i++) {
		uint64_t c = i;

		for (int bit = 0; bit < 8; bit++)
			c = (c & 1) ? (c >> 1) ^ CRC64_POLY_REFLECTED : c >> 1;
		crc64_table[i] = c;
	}
}

uint64_t crc64_update(uint64_t crc, const void *data, size_t len)
{
	const uint8_t *p = data;

	pthread_once(&crc64_table_once, crc64_make_table);
	crc = ~crc;
	while (len--)
		crc = crc64_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return ~crc;
}
