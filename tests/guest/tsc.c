/*
 * tsc.c - TSC frequency, for bounded waits and the counter/userloop tests.
 *
 * Sources, best first (computed once, CPL0):
 *   1. kvmclock (KVM_FEATURE_CLOCKSOURCE2): the host's tsc_to_system_mul/shift give the
 *      exact rate; one wrmsr and a few loads.
 *   2. KVM's CPUID leaf 0x40000010 (TSC kHz), when the VMM provides it.
 *   3. CPUID 0x15 (crystal ratio) with a known crystal frequency.
 *   4. The PIT (channel 0): count TSC ticks over ~10 ms.
 *   5. An assumed 2 GHz (reported as source=guess), so waits stay bounded anyway.
 */
#include "guest.h"

#define MSR_KVM_SYSTEM_TIME_NEW  0x4b564d01
#define KVM_FEATURE_CLOCKSOURCE2 (1u << 3)

struct pvclock_vcpu_time_info {
	u32 version;
	u32 pad0;
	u64 tsc_timestamp;
	u64 system_time;
	u32 tsc_to_system_mul;
	s8 tsc_shift;
	u8 flags;
	u8 pad[2];
} __packed;

static struct pvclock_vcpu_time_info pvclock __aligned(64);
static u64 khz_cached;
static const char *khz_source;

static u32 kvm_cpuid_base(void)
{
	u32 a, b, c, d, base;

	cpuid(1, 0, &a, &b, &c, &d);
	if (!(c & (1u << 31))) /* no hypervisor */
		return 0;
	for (base = 0x40000000; base < 0x40010000; base += 0x100) {
		cpuid(base, 0, &a, &b, &c, &d);
		if (b == 0x4b4d564b && c == 0x564b4d56 && d == 0x4d) /* "KVMKVMKVM\0\0\0" */
			return base;
	}
	return 0;
}

static u64 khz_from_kvmclock(u32 base)
{
	u32 a, b, c, d, tries;
	u64 khz;

	cpuid(base + 1, 0, &a, &b, &c, &d);
	if (!(a & KVM_FEATURE_CLOCKSOURCE2))
		return 0;
	wrmsr(MSR_KVM_SYSTEM_TIME_NEW, (u64)&pvclock | 1);
	for (tries = 0; tries < 1000 && (pvclock.version == 0 || (pvclock.version & 1)); tries++)
		barrier();
	if (pvclock.tsc_to_system_mul == 0)
		return 0;
	/* ns = (tsc << shift) * mul >> 32, so tsc Hz = 2^32 * 1e9 / mul, shifted back. */
	khz = (1000000ULL << 32) / pvclock.tsc_to_system_mul;
	if (pvclock.tsc_shift > 0)
		khz >>= pvclock.tsc_shift;
	else
		khz <<= -pvclock.tsc_shift;
	wrmsr(MSR_KVM_SYSTEM_TIME_NEW, 0); /* stop the host's updates */
	return khz;
}

static u64 khz_from_cpuid(u32 kvm_base)
{
	u32 a, b, c, d;

	if (kvm_base) {
		cpuid(kvm_base, 0, &a, &b, &c, &d);
		if (a >= kvm_base + 0x10) {
			cpuid(kvm_base + 0x10, 0, &a, &b, &c, &d);
			if (a)
				return a;
		}
	}
	cpuid(0, 0, &a, &b, &c, &d);
	if (a >= 0x15) {
		cpuid(0x15, 0, &a, &b, &c, &d);
		if (a && b && c)
			return (u64)c * b / a / 1000;
	}
	return 0;
}

static u16 pit_read_ch0(void)
{
	u8 lo, hi;

	outb(0x43, 0x00); /* latch channel 0 */
	lo = inb(0x40);
	hi = inb(0x40);
	return lo | (u16)hi << 8;
}

/*
 * PIT channel 0 as a rate generator counting down from 65536 at 1.193182 MHz; count TSC
 * ticks over 11932 PIT ticks (10 ms). Channel 0 rather than the usual channel 2: channel 2's
 * gate is port 0x61, which QEMU's microvm lacks. IRQ0 fires but stays masked (IF=0, PIC
 * masked). Each poll is three port accesses; the poll count is bounded.
 */
static u64 khz_from_pit(void)
{
	u64 start, end;
	u32 polls, elapsed = 0;
	u16 prev, cur;

	outb(0x43, 0x34); /* channel 0, lobyte/hibyte, mode 2, binary */
	outb(0x40, 0);
	outb(0x40, 0);
	prev = pit_read_ch0();
	start = rdtsc();
	for (polls = 0; polls < 200000 && elapsed < 11932; polls++) {
		cur = pit_read_ch0();
		elapsed += (u16)(prev - cur);
		prev = cur;
	}
	end = rdtsc();
	if (elapsed < 11932)
		return 0; /* no PIT, or it does not count */
	return (end - start) * 1193182 / ((u64)elapsed * 1000);
}

u64 tsc_khz(const char **src)
{
	u32 kvm_base;

	if (!khz_cached) {
		kvm_base = kvm_cpuid_base();
		khz_source = "kvmclock";
		if (kvm_base)
			khz_cached = khz_from_kvmclock(kvm_base);
		if (!khz_cached) {
			khz_source = "cpuid";
			khz_cached = khz_from_cpuid(kvm_base);
		}
		if (!khz_cached) {
			khz_source = "pit";
			khz_cached = khz_from_pit();
		}
		if (!khz_cached) {
			khz_source = "guess";
			khz_cached = 2000000;
		}
	}
	if (src)
		*src = khz_source;
	return khz_cached;
}

u64 tsc_deadline_ms(u64 ms)
{
	return rdtsc() + ms * tsc_khz(NULL);
}

void tsc_delay_us(u64 us)
{
	u64 end = rdtsc() + us * tsc_khz(NULL) / 1000;

	while ((s64)(rdtsc() - end) < 0)
		cpu_relax();
}
