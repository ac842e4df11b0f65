/*
 * kvm.h - /dev/kvm: opening it, checking what wisp needs, and host facts.
 */
#ifndef WISP_KVM_H
#define WISP_KVM_H

#include <stddef.h>
#include <stdbool.h>
#include <linux/kvm.h>

struct kvm_host {
	int fd;             /* /dev/kvm */
	int vcpu_mmap_size; /* size of each vCPU's struct kvm_run mapping */
	int max_vcpus;
	bool pvm;
	bool has_xcrs; /* KVM_CAP_XCRS: XCR0 can be set */ /* kvm_pvm: guest kernel mode is emulated
	                                                      unless the guest is PVM-aware */
	struct kvm_cpuid2 *supported_cpuid;                /* KVM_GET_SUPPORTED_CPUID, malloc'd */
	struct kvm_msr_list *msr_list; /* KVM_GET_MSR_INDEX_LIST, malloc'd (snapshots) */
	size_t xsave_size; /* KVM_CAP_XSAVE2: the vCPU XSAVE area's size; 0 without it */
};

/* Opens /dev/kvm and checks the API version and every capability wisp uses. On failure prints
 * one message ("/dev/kvm: no such device: is the kvm module loaded?") and returns -1. */
int kvm_host_open(struct kvm_host *host);
void kvm_host_close(struct kvm_host *host);
/* True when /dev/kvm is PVM: the kvm_pvm module is loaded, or KVM's supported CPUID carries
 * PVM's vendor signature (kvm_cpuid_is_pvm). Inside a jail /sys is absent, so the signature is
 * the only evidence there. */
bool kvm_host_is_pvm(const struct kvm_cpuid2 *supported);
/* PVM's signature: KVM's vendor-features leaf (0x40000002, reachable when leaf 0x40000000's EAX
 * is at least that) has EBX = 0x4d5650 ("PVM"). Pure. */
bool kvm_cpuid_is_pvm(const struct kvm_cpuid2 *cpuid);

#endif
