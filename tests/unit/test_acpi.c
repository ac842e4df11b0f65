/*
 * test_acpi.c - the ACPI tables read back from guest RAM the way an OS finds them: scan
 * 0xE0000-0xFFFFF for the RSDP, follow it to the XSDT, look every table up by signature, and
 * check each field at the byte offsets of the ACPI 6.4 specification (chapter 5.2). Nothing here
 * uses vmm/boot/acpi.c's structures, so a wrong layout there shows as a wrong byte here.
 */
#include "tests/unit/unit.h"
#include "tests/unit/loader_test_images.h"
#include "vmm/boot/acpi.h"
#include "vmm/layout.h"
#include "vmm/boot/loader.h"

#include <stdlib.h>

#define ACPI_TEST_RAM (2ULL << 20)

/* 5.2.5.1: the BIOS read-only area an OS scans, on 16-byte boundaries. */
#define SCAN_START 0xe0000ULL
#define SCAN_END   0x100000ULL

static uint64_t rd(const uint8_t *ram, uint64_t gpa, unsigned size)
{
	uint64_t v = 0;

	memcpy(&v, ram + gpa, size);
	return v;
}

static uint8_t sum8(const uint8_t *p, size_t len)
{
	uint8_t s = 0;

	for (size_t i = 0; i < len; i++)
		s += p[i];
	return s;
}

/* Where each table was found, and how long it says it is. */
struct found {
	uint64_t rsdp, xsdt, fadt, dsdt, madt;
	uint32_t xsdt_len, fadt_len, dsdt_len, madt_len;
};

/* 5.2.6: a table header at gpa with signature sig and revision rev, wisp's OEM fields, a
 * Length inside the ACPI area and a zero byte sum. Stores the length in *len. */
static void check_header(bool *unit_failed, const uint8_t *ram, uint64_t gpa, const char *sig,
                         unsigned rev, uint32_t *len)
{
	CHECK(gpa >= LAYOUT_ACPI_RSDP && gpa + 36 <= LAYOUT_ACPI_END);
	CHECK(memcmp(ram + gpa, sig, 4) == 0);
	*len = (uint32_t)rd(ram, gpa + 4, 4);
	CHECK(*len >= 36 && gpa + *len <= LAYOUT_ACPI_END);
	CHECK_EQ(ram[gpa + 8], rev);
	CHECK_EQ(sum8(ram + gpa, *len), 0);
	CHECK(memcmp(ram + gpa + 10, "WISP  ", 6) == 0);
	CHECK(memcmp(ram + gpa + 16, "WISPVM  ", 8) == 0);
	CHECK_EQ(rd(ram, gpa + 24, 4), 1);
	CHECK(memcmp(ram + gpa + 28, "WISP", 4) == 0);
	CHECK_EQ(rd(ram, gpa + 32, 4), 1);
}

/* 5.2.5.3: finds the RSDP by scanning (checksum of the first 20 bytes), then checks it. */
static void find_rsdp(bool *unit_failed, const uint8_t *ram, struct found *f)
{
	f->rsdp = 0;
	for (uint64_t a = SCAN_START; a < SCAN_END; a += 16)
		if (memcmp(ram + a, "RSD PTR ", 8) == 0 && sum8(ram + a, 20) == 0) {
			f->rsdp = a;
			break;
		}
	CHECK_EQ(f->rsdp, LAYOUT_ACPI_RSDP);
	CHECK(memcmp(ram + f->rsdp + 9, "WISP  ", 6) == 0);
	CHECK_EQ(ram[f->rsdp + 15], 2);         /* revision: ACPI 2.0+ */
	CHECK_EQ(rd(ram, f->rsdp + 16, 4), 0);  /* no RSDT */
	CHECK_EQ(rd(ram, f->rsdp + 20, 4), 36); /* length */
	CHECK_EQ(sum8(ram + f->rsdp, 36), 0);   /* extended checksum */
	CHECK_EQ(rd(ram, f->rsdp + 33, 3), 0);  /* reserved */
	f->xsdt = rd(ram, f->rsdp + 24, 8);
}

/* 5.2.8: the XSDT lists exactly the FADT and the MADT. */
static void walk_xsdt(bool *unit_failed, const uint8_t *ram, struct found *f)
{
	check_header(unit_failed, ram, f->xsdt, "XSDT", 1, &f->xsdt_len);
	if (*unit_failed)
		return;
	CHECK_EQ(f->xsdt_len, 36 + 2 * 8);
	f->fadt = f->madt = 0;
	for (uint32_t off = 36; off < f->xsdt_len; off += 8) {
		uint64_t t = rd(ram, f->xsdt + off, 8);

		CHECK(t >= LAYOUT_ACPI_RSDP && t + 36 <= LAYOUT_ACPI_END);
		if (memcmp(ram + t, "FACP", 4) == 0 && !f->fadt)
			f->fadt = t;
		else if (memcmp(ram + t, "APIC", 4) == 0 && !f->madt)
			f->madt = t;
		else
			UNIT_FAIL("XSDT entry at 0x%" PRIx64 ": unexpected or repeated table %.4s",
			          t, (const char *)ram + t);
	}
	CHECK(f->fadt && f->madt);
}

/* 5.2.9: revision 6.4, hardware-reduced, IA-PC flags, DSDT pointers, no FACS/PM blocks. */
static void check_fadt(bool *unit_failed, const uint8_t *ram, struct found *f)
{
	const uint64_t a = f->fadt;

	check_header(unit_failed, ram, a, "FACP", 6, &f->fadt_len);
	if (*unit_failed)
		return;
	CHECK_EQ(f->fadt_len, 276);
	CHECK_EQ(ram[a + 131], 4);            /* FADT minor version: ACPI 6.4 */
	CHECK_EQ(rd(ram, a + 36, 4), 0);      /* FIRMWARE_CTRL: no FACS */
	CHECK_EQ(rd(ram, a + 132, 8), 0);     /* X_FIRMWARE_CTRL */
	CHECK_EQ(rd(ram, a + 46, 2), 0);      /* SCI_INT */
	CHECK_EQ(rd(ram, a + 48, 4), 0);      /* SMI_CMD: no ACPI mode switch */
	CHECK_EQ(rd(ram, a + 76, 4), 0);      /* PM_TMR_BLK */
	CHECK_EQ(rd(ram, a + 56, 4), 0);      /* PM1a_EVT_BLK */
	CHECK_EQ(rd(ram, a + 64, 4), 0);      /* PM1a_CNT_BLK */
	CHECK_EQ(rd(ram, a + 208 + 4, 8), 0); /* X_PM_TMR_BLK address */
	CHECK_EQ(rd(ram, a + 148 + 4, 8), 0); /* X_PM1a_EVT_BLK address */
	/* SLEEP_CONTROL_REG, SLEEP_STATUS_REG: system I/O (1), 8 bits, byte access, wisp's ports.
	 */
	CHECK_EQ(rd(ram, a + 244, 4), 0x01000801);
	CHECK_EQ(rd(ram, a + 244 + 4, 8), PORT_ACPI_SLEEP_CONTROL);
	CHECK_EQ(rd(ram, a + 256, 4), 0x01000801);
	CHECK_EQ(rd(ram, a + 256 + 4, 8), PORT_ACPI_SLEEP_STATUS);
	/* IAPC_BOOT_ARCH: legacy devices, 8042, no VGA, no MSI, no CMOS RTC; not ASPM. */
	CHECK_EQ(rd(ram, a + 109, 2), 0x2f);
	CHECK(rd(ram, a + 109, 2) & (1 << 1));
	/* Flags: PWR_BUTTON, SLP_BUTTON (no fixed buttons), RESET_REG_SUP (bit 10),
	 * HW_REDUCED_ACPI (bit 20). */
	CHECK(rd(ram, a + 112, 4) & (1u << 20));
	CHECK_EQ(rd(ram, a + 112, 4), (1u << 20) | (1u << 10) | (1u << 5) | (1u << 4));
	/* RESET_REG at 116 (system I/O byte at PORT_ACPI_RESET), RESET_VALUE at 128. */
	CHECK_EQ(rd(ram, a + 116, 4), 0x01000801);
	CHECK_EQ(rd(ram, a + 120, 8), PORT_ACPI_RESET);
	CHECK_EQ(ram[a + 128], ACPI_PM_RESET_VALUE);
	CHECK_EQ(rd(ram, a + 129, 2), 0); /* ARM_BOOT_ARCH */
	CHECK(memcmp(ram + a + 268, "WISP\0\0\0\0", 8) == 0);
	f->dsdt = rd(ram, a + 140, 8); /* X_DSDT */
	CHECK(f->dsdt != 0);
	CHECK_EQ(rd(ram, a + 40, 4), f->dsdt); /* the 32-bit DSDT agrees */
	check_header(unit_failed, ram, f->dsdt, "DSDT", 2, &f->dsdt_len);
	CHECK(f->dsdt_len > 36); /* AML after the header; its contents: acpi.bats (iasl -d) */
}

/* 5.2.12: LAPIC address and PCAT_COMPAT, then n enabled local APICs (BSP first), the IOAPIC,
 * the IRQ 0 override and the LINT1 NMI, each with its type's length. */
static void check_madt(bool *unit_failed, const uint8_t *ram, struct found *f, unsigned n)
{
	const uint64_t a = f->madt;
	unsigned lapics = 0, ioapics = 0, isos = 0, nmis = 0;
	uint32_t off;

	check_header(unit_failed, ram, a, "APIC", 5, &f->madt_len);
	if (*unit_failed)
		return;
	CHECK_EQ(f->madt_len, 44 + 8 * n + 12 + 10 + 6);
	CHECK_EQ(rd(ram, a + 36, 4), LAYOUT_LAPIC);
	CHECK_EQ(rd(ram, a + 40, 4), 1); /* PCAT_COMPAT */
	for (off = 44; off < f->madt_len; off += ram[a + off + 1]) {
		const uint8_t *e = ram + a + off;

		CHECK(off + 2 <= f->madt_len && e[1] >= 2 && off + e[1] <= f->madt_len);
		switch (e[0]) {
		case 0: /* Processor Local APIC: UID = APIC id = index, enabled */
			CHECK_EQ(e[1], 8);
			CHECK(ioapics + isos + nmis == 0); /* the processors come first */
			CHECK_EQ(e[2], lapics);
			CHECK_EQ(e[3], lapics);
			CHECK_EQ(rd(ram, a + off + 4, 4), 1);
			lapics++;
			break;
		case 1: /* I/O APIC: id n, reserved 0, address, GSI base 0 */
			CHECK_EQ(e[1], 12);
			CHECK_EQ(e[2], n);
			CHECK_EQ(e[3], 0);
			CHECK_EQ(rd(ram, a + off + 4, 4), LAYOUT_IOAPIC);
			CHECK_EQ(rd(ram, a + off + 8, 4), 0);
			ioapics++;
			break;
		case 2: /* Interrupt Source Override: ISA IRQ 0 -> GSI 0, conforming */
			CHECK_EQ(e[1], 10);
			CHECK_EQ(e[2], 0);
			CHECK_EQ(e[3], 0);
			CHECK_EQ(rd(ram, a + off + 4, 4), 0);
			CHECK_EQ(rd(ram, a + off + 8, 2), 0);
			isos++;
			break;
		case 4: /* Local APIC NMI: all processors, conforming, LINT1 */
			CHECK_EQ(e[1], 6);
			CHECK_EQ(e[2], 0xff);
			CHECK_EQ(rd(ram, a + off + 3, 2), 0);
			CHECK_EQ(e[5], 1);
			nmis++;
			break;
		default:
			UNIT_FAIL("MADT entry type %u at offset %u", e[0], off);
		}
	}
	CHECK_EQ(off, f->madt_len);
	CHECK_EQ(lapics, n);
	CHECK_EQ(ioapics, 1);
	CHECK_EQ(isos, 1);
	CHECK_EQ(nmis, 1);
}

/* The tables do not overlap each other or the RSDP, and end where acpi_size() says. */
static void check_placement(bool *unit_failed, const struct found *f, unsigned n, unsigned nvirtio)
{
	const uint64_t start[] = {f->rsdp, f->xsdt, f->fadt, f->dsdt, f->madt};
	const uint64_t len[] = {36, f->xsdt_len, f->fadt_len, f->dsdt_len, f->madt_len};
	uint64_t end = 0;

	for (unsigned i = 0; i < 5; i++) {
		CHECK(start[i] >= LAYOUT_ACPI_RSDP && start[i] + len[i] <= LAYOUT_ACPI_END);
		for (unsigned j = 0; j < i; j++)
			CHECK(start[i] + len[i] <= start[j] || start[j] + len[j] <= start[i]);
		if (start[i] + len[i] > end)
			end = start[i] + len[i];
	}
	CHECK_EQ(end - LAYOUT_ACPI_RSDP, acpi_size(n, nvirtio));
}

static void check_acpi(bool *unit_failed, unsigned n, unsigned nvirtio)
{
	struct guest_mem mem;
	uint8_t *ram = calloc(1, ACPI_TEST_RAM);
	struct found f;
	uint64_t rsdp = 0;
	char err[256] = "";

	if (!ram)
		UNIT_FAIL("calloc");
	guest_mem_init_buffer(&mem, ram, ACPI_TEST_RAM);
	CHECK_EQ(acpi_write_tables(&mem, n, nvirtio, &rsdp, err, sizeof(err)), 0);
	CHECK_EQ(rsdp, LAYOUT_ACPI_RSDP);
	find_rsdp(unit_failed, ram, &f);
	if (!*unit_failed)
		walk_xsdt(unit_failed, ram, &f);
	if (!*unit_failed)
		check_fadt(unit_failed, ram, &f);
	if (!*unit_failed)
		check_madt(unit_failed, ram, &f, n);
	if (!*unit_failed)
		check_placement(unit_failed, &f, n, nvirtio);
	free(ram);
}

UNIT_TEST(acpi_one_vcpu)
{
	check_acpi(unit_failed, 1, 0);
}

UNIT_TEST(acpi_two_vcpus)
{
	check_acpi(unit_failed, 2, 2);
}

UNIT_TEST(acpi_32_vcpus_fit_in_the_acpi_area)
{
	CHECK(LAYOUT_ACPI_RSDP + acpi_size(32, 0) <= LAYOUT_ACPI_END);
	check_acpi(unit_failed, 32, 0);
}

UNIT_TEST(acpi_most_vcpus_fit_in_the_acpi_area)
{
	CHECK(LAYOUT_ACPI_RSDP + acpi_size(ACPI_MAX_VCPUS, LAYOUT_VIRTIO_MAX_DEVS) <=
	      LAYOUT_ACPI_END);
	check_acpi(unit_failed, ACPI_MAX_VCPUS, LAYOUT_VIRTIO_MAX_DEVS);
}

/* The area is reserved, not RAM, in the E820 map (the kernel must not reuse it). */
UNIT_TEST(acpi_area_is_reserved_in_e820)
{
	struct guest_mem mem;
	struct boot_e820_entry map[8];
	uint8_t *ram = calloc(1, ACPI_TEST_RAM);
	unsigned n, covered = 0;

	CHECK(ram);
	guest_mem_init_buffer(&mem, ram, ACPI_TEST_RAM);
	n = loader_e820_map(&mem, map, 8);
	for (unsigned i = 0; i < n; i++) {
		uint64_t s = map[i].addr, e = map[i].addr + map[i].size;

		if (s < LAYOUT_ACPI_END && e > LAYOUT_ACPI_RSDP) {
			CHECK_EQ(map[i].type, LOADER_E820_RESERVED);
			CHECK(s <= LAYOUT_ACPI_RSDP && e >= LAYOUT_ACPI_END);
			covered++;
		}
	}
	CHECK_EQ(covered, 1);
	free(ram);
}

UNIT_TEST(acpi_rejects_bad_counts_and_small_ram)
{
	struct guest_mem mem;
	uint8_t *ram = calloc(1, ACPI_TEST_RAM);
	uint64_t rsdp = 0x1234;
	char err[256] = "";

	CHECK(ram);
	guest_mem_init_buffer(&mem, ram, ACPI_TEST_RAM);
	CHECK_EQ(acpi_write_tables(&mem, 0, 0, &rsdp, err, sizeof(err)), -1);
	CHECK_CONTAINS(err, "not 0");
	CHECK_EQ(acpi_write_tables(&mem, ACPI_MAX_VCPUS + 1, 0, &rsdp, err, sizeof(err)), -1);
	CHECK_CONTAINS(err, "not 255");
	CHECK_EQ(acpi_write_tables(&mem, 1, LAYOUT_VIRTIO_MAX_DEVS + 1, &rsdp, err, sizeof(err)),
	         -1);
	CHECK_CONTAINS(err, "virtio devices");
	CHECK_EQ(rsdp, 0x1234);
	/* RAM that ends before the area, and RAM that ends inside it. */
	guest_mem_init_buffer(&mem, ram, 512 << 10);
	CHECK_EQ(acpi_write_tables(&mem, 1, 0, &rsdp, err, sizeof(err)), -1);
	CHECK_CONTAINS(err, "too small");
	guest_mem_init_buffer(&mem, ram, LAYOUT_ACPI_RSDP + 0x100);
	CHECK_EQ(acpi_write_tables(&mem, 1, 0, &rsdp, err, sizeof(err)), -1);
	CHECK_CONTAINS(err, "too small");
	CHECK_EQ(rsdp, 0x1234);
	/* Nothing was written on failure. */
	CHECK_EQ(sum8(ram + LAYOUT_ACPI_RSDP, 0x100), 0);
	CHECK(memcmp(ram + LAYOUT_ACPI_RSDP, "RSD PTR ", 8) != 0);
	free(ram);
}

static uint8_t acpi_elf[TEST_ELF_SIZE];

/* The loader hands the RSDP to the kernel: boot_params.acpi_rsdp_addr (zero page offset 0x070)
 * for the 64-bit Linux protocol, hvm_start_info.rsdp_paddr (offset 32) for PVH. */
static void check_boot_info_rsdp(bool *unit_failed, bool pvh)
{
	struct guest_mem mem;
	struct kernel_info info;
	char err[256] = "";
	uint8_t *ram = test_mem_new(&mem, TEST_MEM_SIZE);

	CHECK(ram);
	test_build_elf(acpi_elf, pvh);
	CHECK_EQ(loader_load_kernel(&mem, acpi_elf, sizeof(acpi_elf), BOOT_PROTOCOL_AUTO, &info,
	                            err, sizeof(err)),
	         0);
	CHECK_EQ(info.mode, pvh ? BOOT_ENTRY_PVH32 : BOOT_ENTRY_LINUX64);
	CHECK_EQ(info.acpi_rsdp, 0); /* cleared by the loader */
	CHECK_EQ(acpi_write_tables(&mem, 4, 1, &info.acpi_rsdp, err, sizeof(err)), 0);
	CHECK_EQ(loader_write_boot_info(&mem, &info, "console=ttyS0", 0, 0, err, sizeof(err)), 0);
	if (pvh) {
		CHECK_EQ(rd(ram, LAYOUT_PVH_INFO, 4), 0x336ec578);
		CHECK_EQ(rd(ram, LAYOUT_PVH_INFO + 32, 8), LAYOUT_ACPI_RSDP);
		CHECK_EQ(rd(ram, LAYOUT_ZERO_PAGE + 0x070, 8), 0); /* no zero page for PVH */
	} else {
		CHECK_EQ(rd(ram, LAYOUT_ZERO_PAGE + 0x202, 4), 0x53726448);
		CHECK_EQ(rd(ram, LAYOUT_ZERO_PAGE + 0x070, 8), LAYOUT_ACPI_RSDP);
		CHECK_EQ(rd(ram, LAYOUT_ZERO_PAGE + 0x078, 8), 0); /* the padding after it */
		CHECK_EQ(rd(ram, LAYOUT_PVH_INFO + 32, 8), 0);
	}
	/* What the kernel is told is what a scan finds. */
	CHECK(memcmp(ram + LAYOUT_ACPI_RSDP, "RSD PTR ", 8) == 0);
	free(ram);
}

UNIT_TEST(acpi_rsdp_in_boot_params)
{
	check_boot_info_rsdp(unit_failed, false);
}

UNIT_TEST(acpi_rsdp_in_hvm_start_info)
{
	check_boot_info_rsdp(unit_failed, true);
}
