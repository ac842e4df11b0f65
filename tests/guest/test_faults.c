/*
 * test_faults.c - guests for the host-fault tests (tests/bats/faults.bats):
 *
 * serial-flood: prints 64-byte lines at CPL3 (SYS_WRITE) as fast as it can for wisp.ms ms
 *   (2000), then `FLOOD lines=N bytes=B ms=M` and PASS. With nobody reading the console the
 *   VMM must drop output rather than stall the guest: PASS comes within about wisp.ms ms.
 * blk-writes: wisp.count (256) writes of 4 KiB, each to the next 4 KiB of the disk from sector
 *   wisp.arg (0) on, wisp.ms ms (10) apart, wrapping at the capacity; one line per request,
 *   `BLK_WRITE n sector=S status=X`, whatever the status, then `BLK_WRITES ok=A ioerr=E` and
 *   PASS if every request completed with OK or IOERR: the host breaks the backing file while
 *   this runs and checks that IOERR arrives and, once repaired, OK again.
 */
#include "tests_blk.h"

#define FLOOD_LINE    64
#define WRITE_SECTORS (4096 / VIRTIO_BLK_SECTOR)

static u8 write_buf[4096] __noinit __aligned(4096);

/* CPL3: the flood itself; returns the number of lines written. */
static long flood_lines(u64 ms)
{
	static const char line[FLOOD_LINE + 1] =
	    "FLOOD 0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTU\n";
	u64 end = tsc_deadline_ms(ms);
	long lines = 0;

	while ((s64)(rdtsc() - end) < 0) {
		user_write(line, FLOOD_LINE);
		lines++;
	}
	return lines;
}

static __noreturn void test_serial_flood(void)
{
	u64 ms = cmdline_get_u64("wisp.ms", 2000);
	long lines;

	tsc_khz(NULL); /* calibrate at CPL0, before the deadline is computed at CPL3 */
	lines = cpl3_run(flood_lines, ms);
	gprintf("FLOOD lines=%ld bytes=%ld ms=%lu\n", lines, lines * FLOOD_LINE, ms);
	test_pass();
}
GUEST_TEST("serial-flood", test_serial_flood);

static __noreturn void test_blk_writes(void)
{
	u64 count = cmdline_get_u64("wisp.count", 256), ms = cmdline_get_u64("wisp.ms", 10);
	u64 start = cmdline_get_u64("wisp.arg", 0), ok = 0, ioerr = 0;
	struct blk b;

	blk_open(&b);
	if (b.capacity < WRITE_SECTORS || start > b.capacity - WRITE_SECTORS)
		test_fail("sector %lu: no room for a 4 KiB write (capacity %lu)", start,
		          b.capacity);
	for (u64 n = 0, sector = start; n < count; n++, sector += WRITE_SECTORS) {
		u8 status;

		if (sector > b.capacity - WRITE_SECTORS)
			sector = start;
		pattern_fill((u64 *)write_buf, sector, sizeof(write_buf));
		status = blk_request(&b, VIRTIO_BLK_T_OUT, sector, write_buf, sizeof(write_buf));
		gprintf("BLK_WRITE %lu sector=%lu status=%u\n", n, sector, status);
		if (status == VIRTIO_BLK_S_OK)
			ok++;
		else if (status == VIRTIO_BLK_S_IOERR)
			ioerr++;
		else
			test_fail("write %lu (sector %lu): status %u", n, sector, status);
		cpl3_run(hold_ms, ms);
	}
	gprintf("BLK_WRITES ok=%lu ioerr=%lu\n", ok, ioerr);
	test_pass();
}
GUEST_TEST("blk-writes", test_blk_writes);
