/*
 * kbd: the i8042 keyboard side, for the API's SendCtrlAltDel.
 *
 * Prints "KBD ready", then polls the controller (status port 0x64, bit 0 = output buffer full;
 * data port 0x60) for up to wisp.arg ms (default 10000) and collects the scan codes that
 * arrive. PASS when they are Ctrl+Alt+Del pressed and released in scan code set 1:
 *   1d 38 e0 53 e0 d3 b8 9d
 * and FAIL naming what arrived otherwise. Polling at CPL0 costs one port exit per look; the
 * wait is bounded.
 */
#include "guest.h"

#define I8042_DATA   0x60
#define I8042_STATUS 0x64
#define I8042_OBF    0x01
#define KBD_EXPECTED 8

static const u8 ctrl_alt_del[KBD_EXPECTED] = {0x1d, 0x38, 0xe0, 0x53, 0xe0, 0xd3, 0xb8, 0x9d};

static __noreturn void test_kbd(void)
{
	u8 got[KBD_EXPECTED];
	unsigned n = 0;
	u64 ms = cmdline_get_u64("wisp.arg", 10000);
	u64 deadline = tsc_deadline_ms(ms);

	gprintf("KBD ready\n");
	while (n < KBD_EXPECTED && rdtsc() < deadline) {
		if (inb(I8042_STATUS) & I8042_OBF)
			got[n++] = inb(I8042_DATA);
	}
	gprintf("KBD");
	for (unsigned i = 0; i < n; i++)
		gprintf(" %02x", got[i]);
	gprintf("\n");
	if (n < KBD_EXPECTED)
		test_fail("%u of %u scan codes in %llu ms", n, KBD_EXPECTED,
		          (unsigned long long)ms);
	for (unsigned i = 0; i < KBD_EXPECTED; i++)
		if (got[i] != ctrl_alt_del[i])
			test_fail("scan code %u is %02x, expected %02x", i, got[i],
			          ctrl_alt_del[i]);
	test_pass();
}
GUEST_TEST("kbd", test_kbd);
