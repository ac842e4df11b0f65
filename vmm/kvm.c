/* kvm.c - /dev/kvm checks (see kvm.h). */
#include "vmm/kvm.h"
#include "vmm/log.h"

#include <errno.h>
#include <stdint.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

/* Every capability the VM and vCPU setup relies on, with what breaks without it. */
static const struct {
	int cap;
	const char *name;
} required_caps[] = {
    {KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP (in-kernel PIC/IOAPIC/LAPIC)"},
    {KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY (guest RAM slots)"},
    {KVM_CAP_SET_TSS_ADDR, "KVM_CAP_SET_TSS_ADDR"},
    {KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID (KVM_GET_SUPPORTED_CPUID)"},
    {KVM_CAP_PIT2, "KVM_CAP_PIT2 (in-kernel PIT)"},
    {KVM_CAP_IOEVENTFD, "KVM_CAP_IOEVENTFD (virtio notifications)"},
    {KVM_CAP_IRQFD, "KVM_CAP_IRQFD (virtio interrupts)"},
    {KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT (stopping vCPUs)"},
    {KVM_CAP_MP_STATE, "KVM_CAP_MP_STATE"},
};

#define KVM_CPUID_SIGNATURE_LEAF  0x40000000u
#define KVM_CPUID_VENDOR_FEATURES 0x40000002u
#define PVM_CPUID_SIGNATURE       0x4d5650u /* "PVM" in EBX */

bool kvm_cpuid_is_pvm(const struct kvm_cpuid2 *cpuid)
{
	uint32_t max_leaf = 0;

	if (!cpuid)
		return false;
	for (unsigned i = 0; i < cpuid->nent; i++)
		if (cpuid->entries[i].function == KVM_CPUID_SIGNATURE_LEAF)
			max_leaf = cpuid->entries[i].eax;
	if (max_leaf < KVM_CPUID_VENDOR_FEATURES)
		return false;
	for (unsigned i = 0; i < cpuid->nent; i++)
		if (cpuid->entries[i].function == KVM_CPUID_VENDOR_FEATURES)
			return cpuid->entries[i].ebx == PVM_CPUID_SIGNATURE;
	return false;
}

bool kvm_host_is_pvm(const struct kvm_cpuid2 *supported)
{
	return access("/sys/module/kvm_pvm", F_OK) == 0 || kvm_cpuid_is_pvm(supported);
}

static int kvm_get_cpuid(struct kvm_host *host)
{
	/* The entry count is not known up front: grow until E2BIG stops. */
	for (unsigned n = 64; n <= 4096; n *= 2) {
		struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + n * sizeof(c->entries[0]));

		if (!c)
			return -1;
		c->nent = n;
		if (ioctl(host->fd, KVM_GET_SUPPORTED_CPUID, c) == 0) {
			host->supported_cpuid = c;
			return 0;
		}
		free(c);
		if (errno != E2BIG)
			break;
	}
	log_error("/dev/kvm: KVM_GET_SUPPORTED_CPUID failed: %s", strerror(errno));
	return -1;
}

static int kvm_get_msr_list(struct kvm_host *host)
{
	struct kvm_msr_list probe = {.nmsrs = 0};
	struct kvm_msr_list *list;

	/* The first call fails with E2BIG and tells the count. */
	if (ioctl(host->fd, KVM_GET_MSR_INDEX_LIST, &probe) < 0 && errno != E2BIG)
		return -1;
	list = calloc(1, sizeof(*list) + probe.nmsrs * sizeof(list->indices[0]));
	if (!list)
		return -1;
	list->nmsrs = probe.nmsrs;
	if (ioctl(host->fd, KVM_GET_MSR_INDEX_LIST, list) < 0) {
		free(list);
		return -1;
	}
	host->msr_list = list;
	return 0;
}

int kvm_host_open(struct kvm_host *host)
{
	int version;

	memset(host, 0, sizeof(*host));
	host->fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (host->fd < 0) {
		if (errno == ENOENT)
			log_error("/dev/kvm: no such device: is the kvm module loaded?");
		else if (errno == EACCES || errno == EPERM)
			log_error("/dev/kvm: permission denied: add the user to group kvm or run "
			          "through wisp-jailer");
		else
			log_error("/dev/kvm: %s", strerror(errno));
		return -1;
	}
	version = ioctl(host->fd, KVM_GET_API_VERSION, 0);
	if (version != KVM_API_VERSION) {
		log_error("/dev/kvm: API version %d, wisp needs %d", version, KVM_API_VERSION);
		goto fail;
	}
	for (size_t i = 0; i < sizeof(required_caps) / sizeof(required_caps[0]); i++) {
		if (ioctl(host->fd, KVM_CHECK_EXTENSION, required_caps[i].cap) <= 0) {
			log_error("/dev/kvm: missing capability %s", required_caps[i].name);
			goto fail;
		}
	}
	host->vcpu_mmap_size = ioctl(host->fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	host->max_vcpus = ioctl(host->fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);
	if (host->max_vcpus <= 0)
		host->max_vcpus = ioctl(host->fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_VCPUS);
	if (host->vcpu_mmap_size <= 0) {
		log_error("/dev/kvm: KVM_GET_VCPU_MMAP_SIZE failed");
		goto fail;
	}
	if (kvm_get_cpuid(host) < 0)
		goto fail;
	if (kvm_get_msr_list(host) < 0) {
		log_error("/dev/kvm: KVM_GET_MSR_INDEX_LIST failed: %s", strerror(errno));
		goto fail;
	}
	host->pvm = kvm_host_is_pvm(host->supported_cpuid);
	host->has_xcrs = ioctl(host->fd, KVM_CHECK_EXTENSION, KVM_CAP_XCRS) > 0;
	{
		int xsave2 = ioctl(host->fd, KVM_CHECK_EXTENSION, KVM_CAP_XSAVE2);

		host->xsave_size = xsave2 > 0 ? (size_t)xsave2 : 0;
	}
	return 0;
fail:
	kvm_host_close(host);
	return -1;
}

void kvm_host_close(struct kvm_host *host)
{
	if (host->fd > 0)
		close(host->fd);
	free(host->supported_cpuid);
	free(host->msr_list);
	memset(host, 0, sizeof(*host));
	host->fd = -1;
}
