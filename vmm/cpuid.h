/*
 * cpuid.h - the CPUID a vCPU sees: the host's supported set, normalised per vCPU.
 */
#ifndef WISP_CPUID_H
#define WISP_CPUID_H

#include <stdbool.h>
#include <linux/kvm.h>

/* Rewrites cpuid (a copy of KVM_GET_SUPPORTED_CPUID) in place for vCPU index of nvcpus:
 * APIC ids (leaf 1, 0xb, 0x1f, 0x8000001e), topology (1 thread per core, or 2 with smt),
 * the hypervisor bit, the brand string when the host gives none. Hypervisor leaves
 * 0x40000000-0x4fffffff pass through unchanged (PVM needs its own). Pure: no ioctls. */
void cpuid_normalise(struct kvm_cpuid2 *cpuid, unsigned index, unsigned nvcpus, bool smt);
/* The entry for function/index, or NULL. */
struct kvm_cpuid_entry2 *cpuid_find(struct kvm_cpuid2 *cpuid, unsigned function, unsigned index);

#endif
