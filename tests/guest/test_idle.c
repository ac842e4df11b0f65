/*
 * test_idle.c - idle: the guest of an idle microVM (tests/bats/idle.bats, the density
 * benchmark tests/bench/density.py).
 *
 * Prints `IDLE ready`, then halts for ever with interrupts off: no timer is armed (no LAPIC
 * timer, PIT or TSC deadline), so nothing ever wakes the vCPU and an idle VM costs its host no
 * CPU unless the VMM itself polls. `hlt` with IF=0 stays halted in KVM's in-kernel LAPIC
 * (KVM_MP_STATE_HALTED) across a pause, a resume or a snapshot and restore; a spurious wake-up
 * (an NMI, say) loops back to `hlt`. It never reports PASS: the host stops it (SIGTERM).
 * The path is a few CPL0 instructions, each emulated on PVM hosts.
 */
#include "guest.h"

static __noreturn void test_idle(void)
{
	serial_write("IDLE ready\n", 11);
	for (;;)
		asm volatile("cli; hlt" ::: "memory");
}
GUEST_TEST("idle", test_idle);
