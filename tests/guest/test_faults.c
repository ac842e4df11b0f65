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
 * blk-reads: the same with 4 KiB reads (`BLK_READ n ...`, `BLK_READS ok=A ioerr=E`).
 */
#include "blk.h"

#define FLOOD_LINE 64
#define IO_SECTORS (4096 / VIRTIO_BLK_SECTOR)

static u8 io_buf[4096] __noinit __aligned(4096);

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

/* blk-writes and blk-reads: count requests of one type, one line each, whatever the status. */
static __noreturn void blk_requests(u32 type, const char *what)
{
	u64 count = cmdline_get_u64("wisp.count", 256), ms = cmdline_get_u64("wisp.ms", 10);
	u64 start = cmdline_get_u64("wisp.arg", 0), ok = 0, ioerr = 0;
	struct blk b;

	blk_open(&b);
	if (b.capacity < IO_SECTORS || start > b.capacity - IO_SECTORS)
		test_fail("sector %lu: no room for a 4 KiB request (capacity %lu)", start,
		          b.capacity);
	for (u64 n = 0, sector = start; n < count; n++, sector += IO_SECTORS) {
		u8 status;

		if (sector > b.capacity - IO_SECTORS)
			sector = start;
		pattern_fill((u64 *)io_buf, sector, sizeof(io_buf));
		status = blk_request(&b, type, sector, io_buf, sizeof(io_buf));
		gprintf("BLK_%s %lu sector=%lu status=%u\n", what, n, sector, status);
		if (status == VIRTIO_BLK_S_OK)
			ok++;
		else if (status == VIRTIO_BLK_S_IOERR)
			ioerr++;
		else
			test_fail("request %lu (sector %lu): status %u", n, sector, status);
		cpl3_run(hold_ms, ms);
	}
	gprintf("BLK_%sS ok=%lu ioerr=%lu\n", what, ok, ioerr);
	test_pass();
}

static __noreturn void test_blk_writes(void)
{
	blk_requests(VIRTIO_BLK_T_OUT, "WRITE");
}
GUEST_TEST("blk-writes", test_blk_writes);

static __noreturn void test_blk_reads(void)
{
	blk_requests(VIRTIO_BLK_T_IN, "READ");
}
GUEST_TEST("blk-reads", test_blk_reads);
