/*
 * vm_state.c - saving and restoring the VM-wide KVM state (vm_state.h).
 */
#include "vmm/snapshot/vm_state.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

#include <linux/kvm.h>

static void put_part(struct snap_writer *w, const void *p, size_t len)
{
	snap_put_u32(w, (uint32_t)len);
	snap_put(w, p, len);
}

int vm_state_save(int vm_fd, struct snap_writer *w, char *err, size_t errlen)
{
	struct kvm_irqchip chips[3];
	struct kvm_pit_state2 pit;
	struct kvm_clock_data clock;

	memset(chips, 0, sizeof(chips));
	memset(&pit, 0, sizeof(pit));
	memset(&clock, 0, sizeof(clock));
	for (unsigned i = 0; i < 3; i++) {
		chips[i].chip_id = i; /* KVM_IRQCHIP_PIC_MASTER, _PIC_SLAVE, _IOAPIC */
		if (ioctl(vm_fd, KVM_GET_IRQCHIP, &chips[i]) < 0)
			return snap_fail(err, errlen, "KVM_GET_IRQCHIP %u: %s", i, strerror(errno));
	}
	if (ioctl(vm_fd, KVM_GET_PIT2, &pit) < 0)
		return snap_fail(err, errlen, "KVM_GET_PIT2: %s", strerror(errno));
	if (ioctl(vm_fd, KVM_GET_CLOCK, &clock) < 0)
		return snap_fail(err, errlen, "KVM_GET_CLOCK: %s", strerror(errno));
	snap_begin(w, SNAP_TAG_VM, 0);
	for (unsigned i = 0; i < 3; i++)
		put_part(w, &chips[i], sizeof(chips[i]));
	put_part(w, &pit, sizeof(pit));
	put_part(w, &clock, sizeof(clock));
	snap_end(w);
	return w->failed ? snap_fail(err, errlen, "the state file cannot grow") : 0;
}

int vm_state_restore(int vm_fd, const struct snap_section *s, char *err, size_t errlen)
{
	static const size_t sizes[VM_STATE_PARTS] = {
	    sizeof(struct kvm_irqchip), sizeof(struct kvm_irqchip), sizeof(struct kvm_irqchip),
	    sizeof(struct kvm_pit_state2), sizeof(struct kvm_clock_data)};
	static const char *const names[VM_STATE_PARTS] = {"PIC master", "PIC slave", "IOAPIC",
	                                                  "PIT", "clock"};
	struct kvm_irqchip chips[3];
	struct kvm_pit_state2 pit;
	struct kvm_clock_data clock;
	void *const out[VM_STATE_PARTS] = {&chips[0], &chips[1], &chips[2], &pit, &clock};
	struct snap_cursor c;

	if (s->tag != SNAP_TAG_VM)
		return snap_fail(err, errlen, "not a VM section");
	snap_cursor_init(&c, s);
	for (unsigned i = 0; i < VM_STATE_PARTS; i++) {
		uint32_t len = snap_get_u32(&c);

		if (c.bad || len != sizes[i])
			return snap_fail(err, errlen,
			                 "VM state: %s part of %u bytes, this host's KVM has %zu",
			                 names[i], c.bad ? 0 : len, sizes[i]);
		snap_get(&c, out[i], len);
		if (c.bad)
			return snap_fail(err, errlen, "VM state: the %s part runs past the section",
			                 names[i]);
	}
	if (!snap_cursor_done(&c))
		return snap_fail(err, errlen, "VM state: %zu bytes after the last part", c.left);
	for (unsigned i = 0; i < 3; i++)
		if (chips[i].chip_id != i)
			return snap_fail(err, errlen, "VM state: the %s part is chip %u", names[i],
			                 chips[i].chip_id);
	for (unsigned i = 0; i < 3; i++)
		if (ioctl(vm_fd, KVM_SET_IRQCHIP, &chips[i]) < 0)
			return snap_fail(err, errlen, "KVM_SET_IRQCHIP (%s): %s", names[i],
			                 strerror(errno));
	if (ioctl(vm_fd, KVM_SET_PIT2, &pit) < 0)
		return snap_fail(err, errlen, "KVM_SET_PIT2: %s", strerror(errno));
	/* Only the clock value is set: the flags KVM_GET_CLOCK reported (TSC_STABLE, REALTIME)
	 * describe the host it was read on. */
	clock.flags = 0;
	if (ioctl(vm_fd, KVM_SET_CLOCK, &clock) < 0)
		return snap_fail(err, errlen, "KVM_SET_CLOCK: %s", strerror(errno));
	return 0;
}
