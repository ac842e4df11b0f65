/* bus.c - address dispatch for port I/O and MMIO exits (see bus.h). */
#include "vmm/bus.h"
#include "vmm/log.h"

#include <string.h>

void bus_init(struct bus *bus, const char *name)
{
	memset(bus, 0, sizeof(*bus));
	bus->name = name;
}

static bool ranges_overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

int bus_register(struct bus *bus, uint64_t base, uint64_t len, const struct device_ops *ops,
                 void *dev)
{
	unsigned i;

	if (len == 0 || base + len < base) {
		log_error("%s bus: %s: empty or wrapping range at 0x%llx", bus->name, ops->name,
		          (unsigned long long)base);
		return -1;
	}
	if (bus->nranges == BUS_MAX_RANGES) {
		log_error("%s bus: no room for %s", bus->name, ops->name);
		return -1;
	}
	for (i = 0; i < bus->nranges; i++) {
		const struct bus_range *r = &bus->ranges[i];

		if (ranges_overlap(base, len, r->base, r->len)) {
			log_error("%s bus: %s at 0x%llx overlaps %s at 0x%llx", bus->name,
			          ops->name, (unsigned long long)base, r->ops->name,
			          (unsigned long long)r->base);
			return -1;
		}
	}
	/* Keep the array sorted by base so bus_find() can binary-search. */
	for (i = bus->nranges; i > 0 && bus->ranges[i - 1].base > base; i--)
		bus->ranges[i] = bus->ranges[i - 1];
	bus->ranges[i] = (struct bus_range){.base = base, .len = len, .ops = ops, .dev = dev};
	bus->nranges++;
	return 0;
}

const struct bus_range *bus_find(const struct bus *bus, uint64_t addr, uint32_t len)
{
	unsigned lo = 0, hi = bus->nranges;

	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;
		const struct bus_range *r = &bus->ranges[mid];

		if (addr < r->base) {
			hi = mid;
		} else if (addr - r->base >= r->len) {
			lo = mid + 1;
		} else {
			/* The whole access must fit: a straddling access is unclaimed. */
			return len <= r->len - (addr - r->base) ? r : NULL;
		}
	}
	return NULL;
}

void bus_read(struct bus *bus, uint64_t addr, uint8_t *data, uint32_t len)
{
	const struct bus_range *r = bus_find(bus, addr, len);

	if (!r || !r->ops->read) {
		memset(data, 0xff, len);
		atomic_fetch_add_explicit(&bus->unclaimed_reads, 1, memory_order_relaxed);
		return;
	}
	r->ops->read(r->dev, addr - r->base, data, len);
}

void bus_write(struct bus *bus, uint64_t addr, const uint8_t *data, uint32_t len)
{
	const struct bus_range *r = bus_find(bus, addr, len);

	if (!r || !r->ops->write) {
		atomic_fetch_add_explicit(&bus->unclaimed_writes, 1, memory_order_relaxed);
		return;
	}
	r->ops->write(r->dev, addr - r->base, data, len);
}
