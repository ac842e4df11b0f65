/*
 * test_vm_state.c - the VM-wide KVM state through a snapshot section (vmm/snapshot/vm_state.c)
 * on this host's /dev/kvm: an IOAPIC redirection entry, the PIC's mask and the PIT's counter
 * mode come back in another VM, and its clock continues from the saved value rather than from
 * its own; malformed sections are refused before anything is set.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/kvm.h>

#include "tests/unit/unit.h"
#include "vmm/snapshot/vm_state.h"

static int new_vm(int kvm)
{
	struct kvm_pit_config pit = {.flags = KVM_PIT_SPEAKER_DUMMY};
	int vm = ioctl(kvm, KVM_CREATE_VM, 0);

	if (vm < 0 || ioctl(vm, KVM_CREATE_IRQCHIP, 0) < 0 || ioctl(vm, KVM_CREATE_PIT2, &pit) < 0)
		return -1;
	return vm;
}

UNIT_TEST(vm_state_round_trip_on_this_hosts_kvm)
{
	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC), a, b;
	struct kvm_irqchip ioapic = {.chip_id = KVM_IRQCHIP_IOAPIC}, pic = {.chip_id = 0};
	struct kvm_pit_state2 pit;
	struct kvm_clock_data clock = {0}, now = {0};
	struct snap_writer w;
	struct snap_reader r;
	struct snap_section s;
	uint8_t *file;
	size_t len;
	char err[200] = "";

	if (kvm < 0 || (a = new_vm(kvm)) < 0 || (b = new_vm(kvm)) < 0) {
		fprintf(stderr, "  (no usable /dev/kvm: the KVM round trip is not run here)\n");
		if (kvm >= 0)
			close(kvm);
		return;
	}
	CHECK_EQ(ioctl(a, KVM_GET_IRQCHIP, &ioapic), 0);
	ioapic.chip.ioapic.redirtbl[4].bits = 0x10034; /* masked, vector 0x34 */
	CHECK_EQ(ioctl(a, KVM_SET_IRQCHIP, &ioapic), 0);
	CHECK_EQ(ioctl(a, KVM_GET_IRQCHIP, &pic), 0);
	pic.chip.pic.imr = 0xa5;
	CHECK_EQ(ioctl(a, KVM_SET_IRQCHIP, &pic), 0);
	CHECK_EQ(ioctl(a, KVM_GET_PIT2, &pit), 0);
	pit.channels[0].mode = 2;
	CHECK_EQ(ioctl(a, KVM_SET_PIT2, &pit), 0);
	clock.clock = 5000000000ull; /* 5 s of guest time */
	CHECK_EQ(ioctl(a, KVM_SET_CLOCK, &clock), 0);

	snap_writer_init(&w, "test");
	CHECK_EQ(vm_state_save(a, &w, err, sizeof(err)), 0);
	CHECK_EQ(snap_finish(&w, &file, &len), 0);
	CHECK_EQ(snap_open(&r, file, len, err, sizeof(err)), 0);
	CHECK(snap_find(&r, SNAP_TAG_VM, 0, &s));
	if (vm_state_restore(b, &s, err, sizeof(err)) < 0)
		UNIT_FAIL("restore: %s", err);
	ioapic.chip.ioapic.redirtbl[4].bits = 0;
	CHECK_EQ(ioctl(b, KVM_GET_IRQCHIP, &ioapic), 0);
	CHECK_EQ(ioapic.chip.ioapic.redirtbl[4].bits & 0x1ffff, 0x10034);
	pic.chip.pic.imr = 0;
	CHECK_EQ(ioctl(b, KVM_GET_IRQCHIP, &pic), 0);
	CHECK_EQ(pic.chip.pic.imr, 0xa5);
	CHECK_EQ(ioctl(b, KVM_GET_PIT2, &pit), 0);
	CHECK_EQ(pit.channels[0].mode, 2);
	CHECK_EQ(ioctl(b, KVM_GET_CLOCK, &now), 0);
	/* from 5 s on (and not a minute later), not from VM b's own few microseconds */
	CHECK(now.clock >= 5000000000ull && now.clock < 65000000000ull);
	free(file);
	close(a);
	close(b);
	close(kvm);
}

UNIT_TEST(vm_state_refuses_a_malformed_section)
{
	uint8_t data[16] = {4, 0, 0, 0};
	struct snap_section s = {.tag = SNAP_TAG_VM, .data = data, .len = sizeof(data)};
	char err[200] = "";

	CHECK_EQ(vm_state_restore(-1, &s, err, sizeof(err)), -1);
	CHECK(strncmp(err, "VM state: PIC master part of 4 bytes, this host's KVM has ",
	              strlen("VM state: PIC master part of 4 bytes, this host's KVM has ")) == 0);
	s.tag = SNAP_TAG_VM + 1;
	CHECK_EQ(vm_state_restore(-1, &s, err, sizeof(err)), -1);
	CHECK_STR_EQ(err, "not a VM section");
}
