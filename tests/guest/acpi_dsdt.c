/*
 * acpi_dsdt.c - the virtio-mmio devices a DSDT describes, found the cheap way.
 *
 * A kernel that reads ACPI gets no virtio_mmio.device= from wisp: its devices are LNRO0005
 * objects in the DSDT. This guest has no AML interpreter; it finds the DSDT through the RSDP
 * the boot protocol names (boot_params.acpi_rsdp_addr, hvm_start_info.rsdp_paddr), the XSDT and
 * the FADT's X_DSDT, then scans the AML bytes for the _HID string "LNRO0005" and takes the
 * first Memory32Fixed (6.4.3.4) and Extended Interrupt (6.4.3.6) descriptors after it, before
 * the next device. It runs at CPL0 (emulated on PVM hosts), so it is one pass over a few hundred
 * bytes, and only for tests that use virtio. Table checksums and layouts are checked by the acpi
 * test; here anything unexpected just ends the scan.
 */
#include "guest.h"
#include "virtio.h"

#define BP_ACPI_RSDP_ADDR 0x070
#define HVM_RSDP_PADDR    32
#define ACPI_READ_LIMIT   0xc0000000ULL /* the guest's identity map of RAM */
#define ACPI_HEADER_LEN   36
#define FADT_X_DSDT       140
#define ACPI_MAX_LEN      0x10000

static const char lnro_hid[] = "\x0dLNRO0005"; /* StringPrefix, the id (then NUL) */
#define LNRO_HID_LEN       10                  /* prefix, 8 characters, NUL */
#define RES_MEMORY32_FIXED 0x86                /* length 9 */
#define RES_EXT_IRQ        0x89                /* length 6 for one interrupt */

static u64 rd(const u8 *p, int n)
{
	u64 v = 0;

	memcpy(&v, p, n);
	return v;
}

static const u8 *table(u64 addr, const char *sig, u32 *len)
{
	const u8 *t;

	if (!addr || addr >= ACPI_READ_LIMIT - ACPI_MAX_LEN)
		return NULL;
	t = phys(addr);
	*len = (u32)rd(t + 4, 4);
	if (memcmp(t, sig, 4) != 0 || *len < ACPI_HEADER_LEN || *len > ACPI_MAX_LEN)
		return NULL;
	return t;
}

static const u8 *find_dsdt(u32 *len)
{
	u64 rsdp = rd((const u8 *)boot.raw +
	                  (boot.protocol == BOOT_PVH ? HVM_RSDP_PADDR : BP_ACPI_RSDP_ADDR),
	              8);
	const u8 *xsdt, *fadt = NULL;
	u32 xlen, flen;

	if (!rsdp || rsdp >= ACPI_READ_LIMIT || memcmp(phys(rsdp), "RSD PTR ", 8) != 0)
		return NULL;
	xsdt = table(rd((const u8 *)phys(rsdp) + 24, 8), "XSDT", &xlen);
	for (u32 off = ACPI_HEADER_LEN; xsdt && off + 8 <= xlen && !fadt; off += 8)
		fadt = table(rd(xsdt + off, 8), "FACP", &flen);
	if (!fadt || flen < FADT_X_DSDT + 8)
		return NULL;
	return table(rd(fadt + FADT_X_DSDT, 8), "DSDT", len);
}

int acpi_virtio_devices(struct virtio_dev *devs, int max)
{
	u32 len;
	const u8 *dsdt = find_dsdt(&len);
	int n = 0;

	if (!dsdt)
		return 0;
	for (u32 i = ACPI_HEADER_LEN; i + LNRO_HID_LEN <= len && n < max; i++) {
		struct virtio_dev *d = &devs[n];
		bool have_base = false, have_irq = false;
		u32 j;

		if (memcmp(dsdt + i, lnro_hid, LNRO_HID_LEN) != 0)
			continue;
		memset(d, 0, sizeof(*d));
		for (j = i + LNRO_HID_LEN; j + 9 <= len && !(have_base && have_irq); j++) {
			if (memcmp(dsdt + j, lnro_hid, LNRO_HID_LEN) == 0)
				break; /* the next device: this one is incomplete */
			if (!have_base && dsdt[j] == RES_MEMORY32_FIXED &&
			    rd(dsdt + j + 1, 2) == 9) {
				d->base = rd(dsdt + j + 4, 4);
				have_base = true;
				j += 11;
			} else if (!have_irq && dsdt[j] == RES_EXT_IRQ &&
			           rd(dsdt + j + 1, 2) == 6 && dsdt[j + 4] == 1) {
				d->irq = (u32)rd(dsdt + j + 5, 4);
				have_irq = true;
				j += 8;
			}
		}
		if (!have_base || !have_irq)
			test_fail("DSDT: LNRO0005 device at offset %u without its window or GSI",
			          i);
		n++;
		i = j - 1;
	}
	return n;
}
