/*
 * test_acpi.c - the acpi test: find the ACPI tables as a kernel does and count the CPUs the MADT
 * lists (ACPI 6.4, chapter 5.2).
 *
 * The RSDP comes from the boot protocol (boot_params.acpi_rsdp_addr at zero-page offset 0x070,
 * hvm_start_info.rsdp_paddr at offset 32) and from a scan of 0xE0000-0xFFFFF on 16-byte
 * boundaries ("RSD PTR ", first 20 bytes summing to 0), the place kernels look when they are not
 * told. When both exist they must agree. Then: RSDP extended checksum, XSDT, every table it
 * lists (signature, length, checksum), the DSDT the FADT points to, and the MADT's entries.
 * Everything is read in place; all of it is CPL0 code, so the walk stays a few thousand
 * instructions (the scan stops at the first hit, which is the first probe under wisp).
 *
 * Output: ACPI rsdp=0x... tables=<XSDT entries>,DSDT cpus=N ioapic=M via=boot_params|
 * hvm_start_info|scan, then PASS; FAIL with the reason on any bad signature, checksum or length.
 */
#include "guest.h"

#define BP_ACPI_RSDP_ADDR  0x070
#define HVM_RSDP_PADDR     32
#define RSDP_SCAN_START    0xe0000ULL
#define RSDP_SCAN_END      0x100000ULL
#define ACPI_READ_LIMIT    0xc0000000ULL /* the guest's identity map of RAM */
#define ACPI_MAX_TABLE_LEN 0x10000       /* longer is treated as corrupt */
#define ACPI_HEADER_LEN    36
#define FADT_DSDT          40
#define FADT_X_DSDT        140
#define MADT_ENTRIES       44
#define MADT_LAPIC         0
#define MADT_IOAPIC        1
#define MADT_LAPIC_ENABLED 1

static u8 sum8(const u8 *p, u64 len)
{
	u8 s = 0;

	while (len--)
		s += *p++;
	return s;
}

static u32 rd32(const u8 *p)
{
	u32 v;

	memcpy(&v, p, 4);
	return v;
}

static u64 rd64(const u8 *p)
{
	u64 v;

	memcpy(&v, p, 8);
	return v;
}

static bool in_ram(u64 addr, u64 len)
{
	return addr && addr < ACPI_READ_LIMIT && len <= ACPI_READ_LIMIT - addr;
}

static u64 rsdp_scan(void)
{
	for (u64 a = RSDP_SCAN_START; a < RSDP_SCAN_END; a += 16) {
		const u8 *p = phys(a);

		if (memcmp(p, "RSD PTR ", 8) == 0 && sum8(p, 20) == 0)
			return a;
	}
	return 0;
}

/* The RSDP from the boot protocol (0 if the VMM gave none), *via naming the field. */
static u64 rsdp_from_boot(const char **via)
{
	if (boot.protocol == BOOT_PVH) {
		*via = "hvm_start_info";
		return rd64((const u8 *)boot.raw + HVM_RSDP_PADDR);
	}
	*via = "boot_params";
	return rd64((const u8 *)boot.raw + BP_ACPI_RSDP_ADDR);
}

/* A table at addr: readable, signature sig (NULL: any), sane length, zero checksum. Returns it
 * or fails the test, naming what pointed there. */
static const u8 *table_at(u64 addr, const char *sig, const char *what)
{
	const u8 *t = phys(addr);
	u32 len;

	if (!in_ram(addr, ACPI_HEADER_LEN))
		test_fail("%s points to %#lx, outside RAM", what, addr);
	len = rd32(t + 4);
	if (sig && memcmp(t, sig, 4) != 0)
		test_fail("%s at %#lx: signature %.*s, not %s", what, addr, 4, (const char *)t,
		          sig);
	if (len < ACPI_HEADER_LEN || len > ACPI_MAX_TABLE_LEN || !in_ram(addr, len))
		test_fail("%.*s at %#lx: bad length %u", 4, (const char *)t, addr, len);
	if (sum8(t, len) != 0)
		test_fail("%.*s at %#lx: checksum does not sum to 0", 4, (const char *)t, addr);
	return t;
}

/* Counts enabled local APICs and IOAPICs in the MADT's entry list. */
static void madt_count(const u8 *madt, int *cpus, int *ioapics)
{
	u32 len = rd32(madt + 4), off = MADT_ENTRIES;

	while (off < len) {
		const u8 *e = madt + off;

		if (off + 2 > len || e[1] < 2 || off + e[1] > len)
			test_fail("MADT entry at offset %u has a bad length", off);
		if (e[0] == MADT_LAPIC && e[1] >= 8 && (rd32(e + 4) & MADT_LAPIC_ENABLED))
			(*cpus)++;
		else if (e[0] == MADT_IOAPIC)
			(*ioapics)++;
		off += e[1];
	}
}

static __noreturn void test_acpi(void)
{
	char names[64];
	size_t used = 0;
	const char *via;
	u64 told = rsdp_from_boot(&via), found = rsdp_scan(), rsdp, dsdt;
	const u8 *r, *xsdt, *fadt = NULL, *madt = NULL;
	int cpus = 0, ioapics = 0;
	u32 n;

	if (told && found && told != found)
		test_fail("%s says the RSDP is at %#lx, the scan finds %#lx", via, told, found);
	rsdp = told ? told : found;
	if (!told)
		via = "scan";
	if (!rsdp)
		test_fail("no RSDP: none in the boot info, none in 0xe0000-0xfffff");
	r = phys(rsdp);
	if (!in_ram(rsdp, 36) || memcmp(r, "RSD PTR ", 8) != 0 || sum8(r, 20) != 0)
		test_fail("RSDP at %#lx: bad signature or checksum", rsdp);
	if (r[15] < 2 || rd32(r + 20) < 36 || sum8(r, rd32(r + 20)) != 0)
		test_fail("RSDP at %#lx: revision %u length %u or extended checksum wrong", rsdp,
		          r[15], rd32(r + 20));
	xsdt = table_at(rd64(r + 24), "XSDT", "RSDP");
	n = (rd32(xsdt + 4) - ACPI_HEADER_LEN) / 8;
	for (u32 i = 0; i < n; i++) {
		const u8 *t = table_at(rd64(xsdt + ACPI_HEADER_LEN + 8 * i), NULL, "XSDT entry");

		if (memcmp(t, "FACP", 4) == 0)
			fadt = t;
		else if (memcmp(t, "APIC", 4) == 0)
			madt = t;
		if (used + 5 < sizeof(names)) {
			memcpy(names + used, t, 4);
			names[used + 4] = ',';
			used += 5;
		}
	}
	if (!fadt || !madt)
		test_fail("XSDT lists %u tables, without %s", n, fadt ? "an MADT" : "a FADT");
	/* 5.2.9: X_DSDT when the FADT has it and it is set, else the 32-bit DSDT. */
	dsdt = rd32(fadt + 4) >= FADT_X_DSDT + 8 ? rd64(fadt + FADT_X_DSDT) : 0;
	if (!dsdt)
		dsdt = rd32(fadt + FADT_DSDT);
	table_at(dsdt, "DSDT", "FADT");
	memcpy(names + used, "DSDT", 5);
	madt_count(madt, &cpus, &ioapics);
	if (cpus < 1)
		test_fail("MADT lists no enabled processor");
	gprintf("ACPI rsdp=%#lx tables=%s cpus=%d ioapic=%d via=%s\n", rsdp, names, cpus, ioapics,
	        via);
	test_pass();
}
GUEST_TEST("acpi", test_acpi);
