/*
 * tests_basic.c - serial, memmap, cmdline, reset, shutdown and echo (all at CPL0).
 * Output lines are documented in README.md; bats tests match them exactly.
 */
#include "guest.h"

/* serial: two short lines, one 4 KiB line, a closing line. */
static __noreturn void test_serial(void)
{
	static const char chunk[] = "0123456789abcdef";
	int i;

	gprintf("SERIAL hello from the wisp test guest\n");
	gprintf("SERIAL 0123456789 ABCDEFGHIJKLMNOPQRSTUVWXYZ abcdefghijklmnopqrstuvwxyz\n");
	serial_write("SERIAL long ", 12);
	for (i = 0; i < 4096 / 16; i++)
		serial_write(chunk, 16);
	serial_write("\n", 1);
	gprintf("SERIAL end\n");
	test_pass();
}
GUEST_TEST("serial", test_serial);

/* memmap: usable RAM from E820 (linux64) or the hvm memmap (pvh). */
static __noreturn void test_memmap(void)
{
	static struct mem_range map[128] __noinit;
	const char *why = NULL;
	u64 total = 0;
	int i, n;

	n = bootinfo_memmap(map, ARRAY_SIZE(map), &why);
	if (n < 0)
		test_fail("%s", why);
	for (i = 0; i < n; i++) {
		gprintf("MEMMAP addr=%#lx size=%#lx type=%u\n", map[i].addr, map[i].size,
		        map[i].type);
		if (map[i].type == 1)
			total += map[i].size;
	}
	gprintf("MEM total_kib=%lu\n", total / 1024);
	if (total == 0)
		test_fail("no usable RAM in the memory map");
	test_pass();
}
GUEST_TEST("memmap", test_memmap);

static __noreturn void test_cmdline(void)
{
	serial_write("CMDLINE ", 8);
	serial_write(boot.cmdline, boot.cmdline_len);
	serial_write("\n", 1);
	test_pass();
}
GUEST_TEST("cmdline", test_cmdline);

static __noreturn void test_reset(void)
{
	test_pass(); /* test_pass() ends with the i8042 reset */
}
GUEST_TEST("reset", test_reset);

/* acpi-poweroff: powers off the way a hardware-reduced ACPI kernel does (FADT sleep registers,
 * ACPI 6.4 4.8.3.7): clears WAK_STS at 0x601, then writes SLP_TYP 5 (the DSDT's _S5) << 2 |
 * SLP_EN to 0x600. wisp.junk=1 first writes what a guest must not: SLP_EN with another SLP_TYP,
 * a wrong reset value, a word-wide write; wisp ignores and counts them. PASS means "about to
 * power off"; the host checks that wisp exits 0. */
static __noreturn void test_acpi_poweroff(void)
{
	if (cmdline_get_u64("wisp.junk", 0)) {
		outb(0x600, 3 << 2 | 0x20);
		outb(0x602, 0x55);
		asm volatile("outw %0, %1" : : "a"((u16)0x3434), "Nd"((u16)0x600));
		gprintf("ACPI junk written, still running\n");
	}
	gprintf("TEST acpi-poweroff PASS\n");
	outb(0x601, 0x80);
	outb(0x600, 5 << 2 | 0x20);
	for (;;)
		cpu_relax();
}
GUEST_TEST("acpi-poweroff", test_acpi_poweroff);

/* boottimer: signals "user space is up" through wisp's boot-timer device: the byte 123 at
 * 0xcffff000, twice (the second is a repeat, only counted). wisp.junk=1 first writes what the
 * device must ignore: another value, the magic at another offset and as a 32-bit write. */
#define BOOT_TIMER 0xcffff000ULL
static void boot_timer_write8(u64 off, u8 v)
{
	*(volatile u8 *)phys(BOOT_TIMER + off) = v;
}

static __noreturn void test_boottimer(void)
{
	if (cmdline_get_u64("wisp.junk", 0)) {
		boot_timer_write8(0, 7);
		boot_timer_write8(1, 123);
		mmio_write32(BOOT_TIMER, 123);
		gprintf("BOOTTIMER junk written\n");
	}
	if (!cmdline_get_u64("wisp.only_junk", 0)) {
		boot_timer_write8(0, 123);
		boot_timer_write8(0, 123);
		gprintf("BOOTTIMER magic written\n");
	}
	test_pass();
}
GUEST_TEST("boottimer", test_boottimer);

/* shutdown: PASS means "about to triple-fault"; the host checks the VMM saw a shutdown. */
static __noreturn void test_shutdown(void)
{
	gprintf("TEST shutdown PASS\n");
	cpu_triple_fault();
}
GUEST_TEST("shutdown", test_shutdown);

/*
 * echo: interactive. Reads lines (ended by \n or \r; \r\n counts once) and answers
 * "echo: <line>". A line longer than the buffer is echoed in pieces. "reset" stops the VM.
 * Waits for input forever: this is the only unbounded wait in the guest.
 */
static __noreturn void test_echo(void)
{
	static char line[4096] __noinit;
	size_t len = 0;
	int c, prev = 0;
	bool piece;

	gprintf("echo> ");
	for (;;) {
		c = serial_read(0);
		if (c == '\n' && prev == '\r') {
			prev = c;
			continue;
		}
		prev = c;
		piece = false;
		if (c != '\n' && c != '\r') {
			line[len++] = c;
			if (len < sizeof(line))
				continue;
			piece = true;
		}
		serial_write("echo: ", 6);
		serial_write(line, len);
		serial_write("\n", 1);
		if (str_eq(line, len, "reset"))
			test_pass();
		len = 0;
		if (!piece)
			gprintf("echo> ");
	}
}
GUEST_TEST("echo", test_echo);
