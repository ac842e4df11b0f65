/*
 * smp.c - the smp test: count CPUs in the Intel MP table, start every AP with INIT-SIPI-SIPI
 * through the xAPIC, and count the APs that reached long mode (trampoline.S).
 *
 * MP spec 1.4: the floating pointer ("_MP_", 16 bytes, 16-byte aligned, checksum 0) is in the
 * first KiB of the EBDA, the last KiB of base memory (wisp: 0x9fc00), or 0xf0000-0xfffff
 * (QEMU's firmware). It points to the configuration table ("PCMP"), whose processor entries
 * (type 0, 20 bytes) list the local APIC ids; other entries are 8 bytes.
 */
#include "guest.h"

#define MPF_SIGNATURE 0x5f504d5f /* "_MP_" */
#define MPC_SIGNATURE 0x504d4350 /* "PCMP" */

struct mp_floating {
	u32 signature;
	u32 config_addr;
	u8 length; /* in 16-byte units */
	u8 revision;
	u8 checksum;
	u8 features[5];
} __packed;

struct mp_config {
	u32 signature;
	u16 length;
	u8 revision;
	u8 checksum;
	char oem[8];
	char product[12];
	u32 oem_table;
	u16 oem_table_size;
	u16 entry_count;
	u32 lapic_addr;
	u16 ext_length;
	u8 ext_checksum;
	u8 reserved;
} __packed;

struct mp_processor {
	u8 type; /* 0 */
	u8 lapic_id;
	u8 lapic_version;
	u8 flags; /* bit 0: enabled, bit 1: bootstrap processor */
	u32 signature;
	u32 features;
	u32 reserved[2];
} __packed;

#define MP_CPU_ENABLED 0x01
#define MAX_CPUS       64

#define LAPIC_ID       0x020
#define LAPIC_SVR      0x0f0
#define LAPIC_ICR_LOW  0x300
#define LAPIC_ICR_HIGH 0x310
#define ICR_BUSY       (1u << 12)
#define ICR_INIT       0x00004500 /* INIT, level assert */
#define ICR_STARTUP    0x00004600 /* start-up, vector in bits 0-7 */

extern const u8 ap_trampoline[], ap_trampoline_end[], ap_tramp_gdtr[], ap_tramp_cr3[];
volatile u32 ap_online;

static u8 checksum(const void *p, size_t len)
{
	const u8 *b = p;
	u8 sum = 0;

	while (len--)
		sum += *b++;
	return sum;
}

static const struct mp_floating *mpf_scan(u64 start, u64 len)
{
	u64 a;

	for (a = start; a + sizeof(struct mp_floating) <= start + len; a += 16) {
		const struct mp_floating *f = phys(a);

		if (f->signature == MPF_SIGNATURE && f->length && checksum(f, f->length * 16) == 0)
			return f;
	}
	return NULL;
}

/* EBDA first (cheap, where wisp puts it), the BIOS area last (4096 probes at CPL0). */
static const struct mp_floating *mpf_find(void)
{
	const struct mp_floating *f = NULL;
	u64 ebda = (u64) * (const u16 *)phys(0x40e) << 4; /* BDA: EBDA segment */

	if (ebda >= 0x80000 && ebda < 0xa0000)
		f = mpf_scan(ebda, 1024);
	if (!f)
		f = mpf_scan(0x9fc00, 1024);
	if (!f)
		f = mpf_scan(0xf0000, 0x10000);
	return f;
}

/* Collects enabled processors' APIC ids; returns their count or fails the test. */
static int mp_cpus(u8 *ids, int max, u64 *lapic)
{
	const struct mp_floating *f = mpf_find();
	const struct mp_config *c;
	const u8 *p, *end;
	int n = 0;

	if (!f)
		test_fail("no MP floating pointer");
	if (f->config_addr == 0 || f->config_addr >= 0x100000)
		test_fail("MP config table address %#x unsupported", f->config_addr);
	c = phys(f->config_addr);
	if (c->signature != MPC_SIGNATURE || c->length < sizeof(*c) ||
	    f->config_addr + c->length > 0x100000 || checksum(c, c->length) != 0)
		test_fail("bad MP config table at %#x", f->config_addr);
	*lapic = c->lapic_addr;
	p = (const u8 *)(c + 1);
	end = (const u8 *)c + c->length;
	/* Walk by the table length, as Linux does: QEMU's qboot leaves entry_count at 0. */
	while (p < end) {
		if (*p == 0) {
			const struct mp_processor *cpu = (const void *)p;

			if (p + sizeof(*cpu) > end)
				break;
			if ((cpu->flags & MP_CPU_ENABLED) && n < max)
				ids[n++] = cpu->lapic_id;
			p += sizeof(*cpu);
		} else if (*p <= 4) {
			p += 8; /* bus, I/O APIC, I/O and local interrupt assignments */
		} else {
			break; /* unknown entry type: its size is unknown too */
		}
	}
	return n;
}

static u64 lapic_base;

static void lapic_write(u32 reg, u32 v)
{
	mmio_write32(lapic_base + reg, v);
}

static u32 lapic_read(u32 reg)
{
	return mmio_read32(lapic_base + reg);
}

static bool lapic_ipi(u8 apic_id, u32 icr)
{
	u32 polls;

	lapic_write(LAPIC_ICR_HIGH, (u32)apic_id << 24);
	lapic_write(LAPIC_ICR_LOW, icr);
	for (polls = 0; polls < 100000; polls++)
		if (!(lapic_read(LAPIC_ICR_LOW) & ICR_BUSY))
			return true;
	return false;
}

/* Sends icr to every AP; fails the test if an IPI is never accepted. */
static void ipi_all(const u8 *ids, int n, u8 bsp, u32 icr, const char *what)
{
	int i;

	for (i = 0; i < n; i++)
		if (ids[i] != bsp && !lapic_ipi(ids[i], icr))
			test_fail("%s IPI to APIC %u stuck (ICR busy)", what, ids[i]);
}

/* smp: wisp.arg = how long to wait for the APs, in ms (default 1000). */
static __noreturn void test_smp(void)
{
	static u8 ids[MAX_CPUS];
	struct {
		u16 limit;
		u64 base;
	} __packed gdtr;
	u64 cr3, deadline, timeout_ms = cmdline_get_u64("wisp.arg", 1000);
	u8 *tramp = phys(GUEST_AP_TRAMPOLINE);
	u32 vector = GUEST_AP_TRAMPOLINE >> 12;
	int n, online;
	u8 bsp;

	n = mp_cpus(ids, MAX_CPUS, &lapic_base);
	gprintf("CPUS %d\n", n);
	if (n < 1)
		test_fail("no enabled processor in the MP table");
	if (lapic_base < 0xc0000000 || lapic_base > 0xfffff000)
		lapic_base = LAYOUT_LAPIC_DEFAULT;
	tsc_khz(NULL); /* calibrate before timing anything */

	/* The trampoline page is RAM below 1 MiB that no boot structure uses. */
	memcpy(tramp, ap_trampoline, ap_trampoline_end - ap_trampoline);
	asm volatile("sgdt %0" : "=m"(gdtr));
	asm volatile("mov %%cr3, %0" : "=r"(cr3));
	*(u16 *)(tramp + (ap_tramp_gdtr - ap_trampoline)) = gdtr.limit;
	*(u32 *)(tramp + (ap_tramp_gdtr - ap_trampoline) + 2) = (u32)gdtr.base;
	*(u32 *)(tramp + (ap_tramp_cr3 - ap_trampoline)) = (u32)cr3;
	ap_online = 0;

	lapic_write(LAPIC_SVR, lapic_read(LAPIC_SVR) | 0x1ff); /* enable, spurious vector 0xff */
	bsp = lapic_read(LAPIC_ID) >> 24;

	/* MP spec sequence, batched over all APs: INIT, 10 ms, SIPI, 200 us, SIPI. */
	ipi_all(ids, n, bsp, ICR_INIT, "INIT");
	tsc_delay_us(10000);
	ipi_all(ids, n, bsp, ICR_STARTUP | vector, "SIPI");
	tsc_delay_us(200);
	if (ap_online < (u32)n - 1)
		ipi_all(ids, n, bsp, ICR_STARTUP | vector, "SIPI");

	deadline = tsc_deadline_ms(timeout_ms);
	while (ap_online < (u32)n - 1 && (s64)(rdtsc() - deadline) < 0)
		cpu_relax();
	online = 1 + ap_online;
	gprintf("CPUS_ONLINE %d\n", online);
	if (online != n)
		test_fail("%d of %d CPUs online after %lu ms", online, n, timeout_ms);
	test_pass();
}
GUEST_TEST("smp", test_smp);
