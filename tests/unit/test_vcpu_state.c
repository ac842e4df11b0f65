/*
 * test_vcpu_state.c - a vCPU's KVM state through a snapshot section (vmm/snapshot/vcpu_state.c)
 * on this host's /dev/kvm: registers, segment state, an MSR, the LAPIC and XSAVE set on one
 * vCPU come back on a vCPU of another VM; a section cut or padded wrongly is refused before
 * anything is set. Without /dev/kvm (a build machine) the KVM parts say so and pass.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "tests/unit/unit.h"
#include "vmm/snapshot/vcpu_state.h"

#define MSR_IA32_SYSENTER_CS 0x174u

struct tvm {
	int kvm, vm, vcpu;
	struct kvm_msr_list *msrs;
};

static bool tvm_open(struct tvm *t)
{
	struct kvm_msr_list probe = {0};
	struct kvm_cpuid2 *cpuid;

	t->kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (t->kvm < 0)
		return false;
	t->vm = ioctl(t->kvm, KVM_CREATE_VM, 0);
	if (t->vm < 0 || ioctl(t->vm, KVM_CREATE_IRQCHIP, 0) < 0)
		return false;
	t->vcpu = ioctl(t->vm, KVM_CREATE_VCPU, 0);
	if (t->vcpu < 0)
		return false;
	cpuid = calloc(1, sizeof(*cpuid) + 256 * sizeof(cpuid->entries[0]));
	cpuid->nent = 256;
	if (ioctl(t->kvm, KVM_GET_SUPPORTED_CPUID, cpuid) < 0 ||
	    ioctl(t->vcpu, KVM_SET_CPUID2, cpuid) < 0) {
		free(cpuid);
		return false;
	}
	free(cpuid);
	ioctl(t->kvm, KVM_GET_MSR_INDEX_LIST, &probe); /* E2BIG, and the count */
	t->msrs = calloc(1, sizeof(*t->msrs) + probe.nmsrs * sizeof(uint32_t));
	t->msrs->nmsrs = probe.nmsrs;
	return ioctl(t->kvm, KVM_GET_MSR_INDEX_LIST, t->msrs) == 0;
}

static void tvm_close(struct tvm *t)
{
	close(t->vcpu);
	close(t->vm);
	close(t->kvm);
	free(t->msrs);
}

static int xsave_size(int kvm)
{
	int n = ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_XSAVE2);

	return n > 0 ? n : 0;
}

UNIT_TEST(vcpu_state_round_trip_on_this_hosts_kvm)
{
	struct tvm a, b;
	struct kvm_regs regs, back;
	struct kvm_sregs sregs, sback;
	struct kvm_lapic_state lapic, lback;
	struct {
		struct kvm_msrs h;
		struct kvm_msr_entry e;
	} msr = {.h.nmsrs = 1, .e.index = MSR_IA32_SYSENTER_CS, .e.data = 0x1234};
	struct snap_writer w;
	struct snap_reader r;
	struct snap_section s;
	uint8_t *file;
	size_t len;
	char err[200] = "";

	if (!tvm_open(&a)) {
		fprintf(stderr, "  (no usable /dev/kvm: the KVM round trip is not run here)\n");
		return;
	}
	CHECK(tvm_open(&b));
	CHECK_EQ(ioctl(a.vcpu, KVM_GET_REGS, &regs), 0);
	regs.rax = 0x1111;
	regs.rbx = 0x2222;
	regs.rip = 0xfff0;
	regs.rflags = 0x2 | 0x40;
	CHECK_EQ(ioctl(a.vcpu, KVM_SET_REGS, &regs), 0);
	CHECK_EQ(ioctl(a.vcpu, KVM_GET_SREGS, &sregs), 0);
	sregs.ds.base = 0x5000;
	sregs.ds.selector = 0x500;
	CHECK_EQ(ioctl(a.vcpu, KVM_SET_SREGS, &sregs), 0);
	CHECK_EQ(ioctl(a.vcpu, KVM_SET_MSRS, &msr), 1);
	CHECK_EQ(ioctl(a.vcpu, KVM_GET_LAPIC, &lapic), 0);
	lapic.regs[0x80] = 0x30; /* TPR */
	CHECK_EQ(ioctl(a.vcpu, KVM_SET_LAPIC, &lapic), 0);

	snap_writer_init(&w, "test");
	CHECK_EQ(
	    vcpu_state_save(a.vcpu, 0, a.msrs, (size_t)xsave_size(a.kvm), 1, &w, err, sizeof(err)),
	    0);
	CHECK_EQ(snap_finish(&w, &file, &len), 0);
	CHECK_EQ(snap_open(&r, file, len, err, sizeof(err)), 0);
	CHECK(snap_find(&r, SNAP_TAG_VCPU, 0, &s));
	if (vcpu_state_restore(b.vcpu, &s, err, sizeof(err)) < 0)
		UNIT_FAIL("restore: %s", err);
	CHECK_EQ(ioctl(b.vcpu, KVM_GET_REGS, &back), 0);
	CHECK_EQ(back.rax, 0x1111);
	CHECK_EQ(back.rbx, 0x2222);
	CHECK_EQ(back.rip, 0xfff0);
	CHECK_EQ(ioctl(b.vcpu, KVM_GET_SREGS, &sback), 0);
	CHECK_EQ(sback.ds.base, 0x5000);
	CHECK_EQ(sback.ds.selector, 0x500);
	msr.e.data = 0;
	CHECK_EQ(ioctl(b.vcpu, KVM_GET_MSRS, &msr), 1);
	CHECK_EQ(msr.e.data, 0x1234);
	CHECK_EQ(ioctl(b.vcpu, KVM_GET_LAPIC, &lback), 0);
	CHECK_EQ((uint8_t)lback.regs[0x80], 0x30);
	free(file);
	tvm_close(&a);
	tvm_close(&b);
}

UNIT_TEST(vcpu_state_refuses_a_malformed_section_before_setting_anything)
{
	uint8_t data[64] = {0};
	struct snap_section s = {
	    .tag = SNAP_TAG_VCPU, .instance = 3, .data = data, .len = sizeof(data)};
	char err[200] = "";

	/* CPUID part of 8 bytes (a kvm_cpuid2 header with nent 0), then an MP state part of 5: one
	 * byte too many */
	data[0] = 8;
	data[12] = 5;
	CHECK_EQ(vcpu_state_restore(-1, &s, err, sizeof(err)), -1);
	CHECK_STR_EQ(err, "vCPU 3: MP state of 5 bytes, this host's KVM has 4");
	s.len = 6;
	CHECK_EQ(vcpu_state_restore(-1, &s, err, sizeof(err)), -1);
	CHECK_STR_EQ(err, "vCPU 3: the CPUID part runs past the section");
	s.tag = 1;
	CHECK_EQ(vcpu_state_restore(-1, &s, err, sizeof(err)), -1);
	CHECK_STR_EQ(err, "not a vCPU section");
}
