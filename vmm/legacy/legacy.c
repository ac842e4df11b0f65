/*
 * legacy.c - quiet answers for the PC ports a guest probes but a microVM does not have.
 *
 * Linux writes port 0x80 (POST code, I/O delay) thousands of times during boot and probes the
 * CMOS/RTC, the other COM ports, PCI configuration and DMA pages. Without a claim, each would
 * be counted as an unclaimed access; these ranges read as all ones (absent hardware) and ignore
 * writes without counting.
 */
#include "vmm/device.h"
#include "vmm/layout.h"
#include "vmm/vm.h"

#include <string.h>

static void legacy_read(void *dev, uint64_t offset, uint8_t *data, uint32_t len)
{
	(void)dev;
	(void)offset;
	memset(data, 0xff, len);
}

static void legacy_write(void *dev, uint64_t offset, const uint8_t *data, uint32_t len)
{
	(void)dev;
	(void)offset;
	(void)data;
	(void)len;
}

static const struct device_ops legacy_ops = {
    .name = "legacy-ports",
    .read = legacy_read,
    .write = legacy_write,
    .save = device_save_nothing,
};

static const struct {
	uint16_t base, len;
} legacy_ranges[] = {
    {PORT_POST, 0x10}, /* 0x80-0x8f: POST code and DMA page registers */
    {0x70, 2},         /* CMOS/RTC index and data: no RTC */
    {0xed, 1},         /* alternative I/O delay port */
    {0x2f8, 8},        /* COM2 */
    {0x3e8, 8},        /* COM3 */
    {0x2e8, 8},        /* COM4 */
    {0xcf8, 8},        /* PCI configuration mechanism 1: no PCI (pci=off) */
};

static int legacy_create(struct vm *vm)
{
	for (size_t i = 0; i < sizeof(legacy_ranges) / sizeof(legacy_ranges[0]); i++)
		if (bus_register(&vm->pio, legacy_ranges[i].base, legacy_ranges[i].len, &legacy_ops,
		                 NULL) < 0)
			return -1;
	return 0;
}

static const struct device_type legacy_type = {
    .name = "legacy-ports", .order = 11, .create = legacy_create};
DEVICE_TYPE(legacy_type);
