/*
 * bus.h - address dispatch for port I/O and MMIO exits.
 *
 * A bus is a small sorted array of non-overlapping ranges, each naming a device and its ops.
 * It is filled before the first vCPU runs and read-only afterwards, so lookups take no lock.
 * Accesses nobody claims read as all ones and are ignored on write; both are counted.
 */
#ifndef WISP_BUS_H
#define WISP_BUS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "vmm/device.h"

#define BUS_MAX_RANGES 64

struct bus_range {
	uint64_t base;
	uint64_t len;
	const struct device_ops *ops;
	void *dev;
};

struct bus {
	const char *name; /* "pio" or "mmio", for messages */
	unsigned nranges;
	struct bus_range ranges[BUS_MAX_RANGES];
	atomic_ulong unclaimed_reads;
	atomic_ulong unclaimed_writes;
};

void bus_init(struct bus *bus, const char *name);
/* Claims [base, base+len) for dev. -1 (with a message) on overlap, len 0 or a full table. */
int bus_register(struct bus *bus, uint64_t base, uint64_t len, const struct device_ops *ops,
                 void *dev);
/* Dispatch one access; an access that starts in a range but runs past its end is unclaimed. */
void bus_read(struct bus *bus, uint64_t addr, uint8_t *data, uint32_t len);
void bus_write(struct bus *bus, uint64_t addr, const uint8_t *data, uint32_t len);
const struct bus_range *bus_find(const struct bus *bus, uint64_t addr, uint32_t len);

#endif
