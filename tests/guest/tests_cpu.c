/*
 * tests_cpu.c - exception, counter and userloop: the tests that use CPL3.
 */
#include "guest.h"

static long user_get_cpl(u64 unused)
{
	u16 cs;

	(void)unused;
	asm volatile("mov %%cs, %0" : "=r"(cs));
	return cs & 3;
}

static long user_call(u64 fn)
{
	((void (*)(void))fn)();
	return 0;
}

/* exception: #UD, #DE and #GP at CPL0 and at CPL3 must each reach their handler once. */
static __noreturn void test_exception(void)
{
	static const struct {
		const char *name;
		int vector;
		void (*fn)(void);
	} cases[] = {{"#UD", 6, fault_ud}, {"#DE", 0, fault_de}, {"#GP", 13, fault_gp}};
	unsigned i;
	int cpl;
	long r;

	r = cpl3_run(user_get_cpl, 0);
	if (r != 3)
		test_fail("code run by cpl3_run() is at CPL%ld", r);
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		for (cpl = 0; cpl <= 3; cpl += 3) {
			trap_expect_hits = 0;
			trap_expect_cpl = -1;
			trap_expect_vector = cases[i].vector;
			if (cpl == 0)
				cases[i].fn();
			else
				cpl3_run(user_call, (u64)cases[i].fn);
			trap_expect_vector = -1;
			if (trap_expect_hits != 1 || trap_expect_cpl != cpl)
				test_fail("%s at CPL%d: handler ran %d times (last at CPL%d)",
				          cases[i].name, cpl, trap_expect_hits, trap_expect_cpl);
			gprintf("EXCEPTION %s cpl=%d ok\n", cases[i].name, cpl);
		}
	}
	test_pass();
}
GUEST_TEST("exception", test_exception);

struct counter_args {
	u64 interval_ticks;
	u64 count;        /* lines to print; 0 = forever */
	u64 region_words; /* 0: no memory region */
	u64 touch_mib;    /* MiB at GUEST_TOUCH_BASE written once (a page each) before counting */
};

#define COUNTER_REGION_MAX_KIB 1024
static u64 counter_region[COUNTER_REGION_MAX_KIB * 128] __noinit;

/* Step n of the region: one word changes, then the sum of all words (mod 2^64) is printed.
 * The sum after step n depends on n alone (tests/bats/counter-check.py recomputes it), so a
 * restored guest whose memory came back wrong prints a wrong sum. */
static u64 counter_region_step(u64 words, u64 n)
{
	u64 sum = 0;

	counter_region[n % words] ^= (n + 1) * 0x9e3779b97f4a7c15ull;
	for (u64 i = 0; i < words; i++)
		sum += counter_region[i];
	return sum;
}

/*
 * CPL3: prints "COUNTER n" every interval. After a pause (VM paused, snapshot) the schedule
 * restarts from now instead of printing a burst of catch-up lines.
 */
static long user_counter(u64 arg)
{
	const struct counter_args *a = (const void *)arg;
	u64 n, next = rdtsc();

	for (u64 i = 0; i < a->region_words; i++)
		counter_region[i] = 0;
	/* One word a 4 KiB page: every page becomes RAM a Full snapshot must write. */
	for (u64 off = 0; off < a->touch_mib << 20; off += 4096)
		*(volatile u64 *)phys(GUEST_TOUCH_BASE + off) = off | 1;
	if (a->touch_mib)
		uprintf("TOUCHED mib=%lu\n", a->touch_mib);
	for (n = 0; a->count == 0 || n < a->count; n++) {
		if (a->region_words)
			uprintf("COUNTER %lu sum=%lx\n", n,
			        counter_region_step(a->region_words, n));
		else
			uprintf("COUNTER %lu\n", n);
		next += a->interval_ticks;
		if ((s64)(rdtsc() - next) > (s64)a->interval_ticks)
			next = rdtsc();
		while ((s64)(rdtsc() - next) < 0)
			cpu_relax();
	}
	return 0;
}

/* counter: wisp.arg = interval in ms (default 10), wisp.count = lines (default 0: forever),
 * wisp.region = KiB of memory (at most 1024) changed a word a line, whose sum each line shows,
 * wisp.touch = MiB of RAM from GUEST_TOUCH_BASE written once first (at most GUEST_TOUCH_MAX_MIB;
 * the VM needs that much RAM above 64 MiB): a large snapshot, e.g. to signal one mid-write. */
static __noreturn void test_counter(void)
{
	static struct counter_args args;
	const char *src;
	u64 khz = tsc_khz(&src);
	u64 ms = cmdline_get_u64("wisp.arg", 10);

	args.interval_ticks = ms * khz;
	args.count = cmdline_get_u64("wisp.count", 0);
	args.region_words = cmdline_get_u64("wisp.region", 0);
	if (args.region_words > COUNTER_REGION_MAX_KIB)
		args.region_words = COUNTER_REGION_MAX_KIB;
	args.region_words *= 128;
	args.touch_mib = cmdline_get_u64("wisp.touch", 0);
	if (args.touch_mib > GUEST_TOUCH_MAX_MIB)
		args.touch_mib = GUEST_TOUCH_MAX_MIB;
	gprintf("TSC khz=%lu source=%s\n", khz, src);
	cpl3_run(user_counter, (u64)&args);
	test_pass();
}
GUEST_TEST("counter", test_counter);

static long user_loop(u64 iterations)
{
	u64 i, start, end;

	start = rdtsc();
	for (i = 0; i < iterations; i++)
		asm volatile("" : "+r"(i)); /* keep the loop */
	end = rdtsc();
	uprintf("USERLOOP iters=%lu tsc_delta=%lu\n", iterations, end - start);
	return 0;
}

/* userloop: wisp.arg = iterations (default 10000000). */
static __noreturn void test_userloop(void)
{
	const char *src;
	u64 khz = tsc_khz(&src);
	u64 iterations = cmdline_get_u64("wisp.arg", 10000000);

	gprintf("TSC khz=%lu source=%s\n", khz, src);
	cpl3_run(user_loop, iterations);
	test_pass();
}
GUEST_TEST("userloop", test_userloop);

/* xsave: the XSAVE area size CPUID leaf 0xD sub-leaf 0 reports in EBX (for the current XCR0)
 * agrees with the offsets and sizes of the components in sub-leaves 2..62, the check Linux makes
 * at boot ("XSAVE consistency problem"): wisp starts a vCPU with XCR0 = every offered component
 * (EDX:EAX), so EBX already covers them all. (XGETBV would read XCR0 back, but PVM's emulator
 * lacks it and MOV to CR4.) */
static __noreturn void test_xsave(void)
{
	u32 a, b, c, d, want = 576; /* legacy area (512) and XSAVE header (64) */
	u64 offered;

	cpuid(1, 0, &a, &b, &c, &d);
	if (!(c & (1u << 26))) {
		gprintf("XSAVE not offered\n");
		test_pass();
	}
	cpuid(0xd, 0, &a, &b, &c, &d);
	offered = (u64)d << 32 | a;
	for (int i = 2; i < 63; i++) {
		u32 size, offset, ecx, edx;

		if (!(offered & (1ull << i)))
			continue;
		cpuid(0xd, (u32)i, &size, &offset, &ecx, &edx);
		if (offset + size > want)
			want = offset + size;
	}
	gprintf("XSAVE offered=%#lx ebx=%u computed=%u\n", offered, b, want);
	if (b != want)
		test_fail("leaf 0xD EBX %u != %u from the components", b, want);
	test_pass();
}
GUEST_TEST("xsave", test_xsave);
