/*
 * main.c - guest_main(), test dispatch and the reporting contract.
 *
 * Output contract (tests/bats match these lines):
 *   wisp-test-guest: boot=linux64|pvh cmdline="<command line>"
 *   ... test-specific lines ...
 *   TEST <name> PASS            or   TEST <name> FAIL <reason>
 * and then the guest stops through the i8042 reset line. Tests register themselves with
 * GUEST_TEST(); main does not list them.
 */
#include "guest.h"

extern const struct guest_test __tests_start[], __tests_end[]; /* guest.ld */

const char *test_name = "boot";
static char requested_name[64];

__noreturn void guest_reset(void)
{
	int i;

	outb(0x64, 0xfe); /* i8042 "pulse reset line" */
	/* The VMM stops at that write; if there is no i8042, end with a shutdown instead. */
	for (i = 0; i < 1000; i++)
		cpu_relax();
	cpu_triple_fault();
}

/*
 * The boot path and the reset test's whole run are CPL0 code, emulated at ~1.5 us per
 * instruction on PVM hosts, where a port exit costs ~10 us (a 16-byte chunk is two, see
 * serial.c): the PASS line is put together with a few moves and one `rep movsb` into one
 * chunk, without vformat.
 */
__noreturn void test_pass(void)
{
	char line[sizeof("TEST ") - 1 + sizeof(requested_name) + sizeof(" PASS\n")];
	size_t n = strnlen(test_name, sizeof(requested_name));

	memcpy(line, "TEST ", 5);
	memcpy(line + 5, test_name, n);
	memcpy(line + 5 + n, " PASS\n", 6);
	serial_write(line, 5 + n + 6);
	guest_reset();
}

__noreturn void test_fail(const char *fmt, ...)
{
	char reason[400];
	va_list ap;

	va_start(ap, fmt);
	vformat(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	gprintf("TEST %s FAIL %s\n", test_name, reason);
	guest_reset();
}

/* Written in place, in three pieces: copying the command line into one buffer would cost
 * more emulated instructions than the extra chunk's two exits. */
static void print_banner(void)
{
	static const char pvh[] = "wisp-test-guest: boot=pvh cmdline=\"";
	static const char linux64[] = "wisp-test-guest: boot=linux64 cmdline=\"";

	if (boot.protocol == BOOT_PVH)
		serial_write(pvh, sizeof(pvh) - 1);
	else
		serial_write(linux64, sizeof(linux64) - 1);
	serial_write(boot.cmdline, boot.cmdline_len);
	serial_write("\"\n", 2);
}

/* Entered from boot.S on the boot stack with .bss zeroed. protocol is BOOT_LINUX64 or
 * BOOT_PVH, info the physical address of boot_params or hvm_start_info. */
__noreturn void guest_main(int protocol, u64 info);
__noreturn void guest_main(int protocol, u64 info)
{
	const struct guest_test *t;
	const char *why, *name;
	size_t len;

	serial_init();
	cpu_init();
	why = bootinfo_parse(protocol, info);
	if (why) {
		gprintf("wisp-test-guest: boot=%s\n", boot_protocol_name(protocol));
		test_fail("%s (at %#lx)", why, info);
	}
	print_banner();
	/* QEMU-only self-test of the linux64 entry: see chain.c. */
	if (protocol == BOOT_PVH && (name = cmdline_get("wisp.chain", &len)) &&
	    str_eq(name, len, "linux64"))
		chain_linux64();

	name = cmdline_get("wisp.test", &len);
	if (!name)
		test_fail("no wisp.test= on the command line");
	/* Report under the requested name even when it is unknown. */
	if (len >= sizeof(requested_name))
		len = sizeof(requested_name) - 1;
	memcpy(requested_name, name, len);
	test_name = requested_name;
	for (t = __tests_start; t < __tests_end; t++)
		if (t->name[0] == name[0] && str_eq(name, len, t->name)) /* cheap test first */
			t->run();
	test_fail("unknown test");
}
