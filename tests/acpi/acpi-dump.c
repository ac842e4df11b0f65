/*
 * acpi-dump NVCPUS NVIRTIO DIR: writes the ACPI tables wisp gives a guest with NVCPUS vCPUs and
 * NVIRTIO virtio-mmio devices into DIR, one file per table (dsdt.dat, facp.dat, apic.dat,
 * xsdt.dat, rsdp.dat), for tests/bats/acpi.bats to decompile with acpica-tools' `iasl -d`.
 * The tables are built exactly as for a VM (acpi_write_tables() into a guest RAM buffer) and
 * found the way an OS finds them (RSDP -> XSDT -> FADT -> X_DSDT).
 */
#include "vmm/boot/acpi.h"
#include "vmm/guest_mem.h"
#include "vmm/layout.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DUMP_RAM (2u << 20)

static uint64_t rd(const uint8_t *ram, uint64_t gpa, unsigned size)
{
	uint64_t v = 0;

	memcpy(&v, ram + gpa, size);
	return v;
}

static int dump(const char *dir, const char *name, const uint8_t *p, size_t len)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s.dat", dir, name);
	f = fopen(path, "wb");
	if (!f || fwrite(p, 1, len, f) != len || fclose(f) != 0) {
		perror(path);
		return -1;
	}
	return 0;
}

static int dump_table(const char *dir, const char *name, const uint8_t *ram, uint64_t gpa)
{
	return dump(dir, name, ram + gpa, (size_t)rd(ram, gpa + 4, 4));
}

int main(int argc, char **argv)
{
	struct guest_mem mem;
	uint8_t *ram = calloc(1, DUMP_RAM);
	uint64_t rsdp = 0, xsdt, fadt = 0, madt = 0;
	char err[256];

	if (argc != 4 || !ram) {
		fprintf(stderr, "usage: acpi-dump NVCPUS NVIRTIO DIR\n");
		return 1;
	}
	guest_mem_init_buffer(&mem, ram, DUMP_RAM);
	if (acpi_write_tables(&mem, (unsigned)atoi(argv[1]), (unsigned)atoi(argv[2]), &rsdp, err,
	                      sizeof(err)) < 0) {
		fprintf(stderr, "acpi-dump: %s\n", err);
		return 1;
	}
	xsdt = rd(ram, rsdp + 24, 8);
	for (uint64_t off = 36; off < rd(ram, xsdt + 4, 4); off += 8) {
		uint64_t t = rd(ram, xsdt + off, 8);

		if (memcmp(ram + t, "FACP", 4) == 0)
			fadt = t;
		if (memcmp(ram + t, "APIC", 4) == 0)
			madt = t;
	}
	if (!fadt || !madt) {
		fprintf(stderr, "acpi-dump: no FADT or MADT in the XSDT\n");
		return 1;
	}
	if (dump(argv[3], "rsdp", ram + rsdp, 36) < 0 ||
	    dump_table(argv[3], "xsdt", ram, xsdt) < 0 ||
	    dump_table(argv[3], "facp", ram, fadt) < 0 ||
	    dump_table(argv[3], "apic", ram, madt) < 0 ||
	    dump_table(argv[3], "dsdt", ram, rd(ram, fadt + 140, 8)) < 0)
		return 1;
	free(ram);
	return 0;
}
