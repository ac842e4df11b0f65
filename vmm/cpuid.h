/*
 * cpuid.h - the CPUID a vCPU sees: the host's supported set, normalised per vCPU.
 */
#ifndef WISP_CPUID_H
#define WISP_CPUID_H

#include <stdbool.h>
#include <stdint.h>
#include <linux/kvm.h>

/* Rewrites cpuid (a copy of KVM_GET_SUPPORTED_CPUID) in place for vCPU index of nvcpus:
 * APIC ids (leaf 1, 0xb, 0x1f, 0x8000001e), topology (1 thread per core, or 2 with smt),
 * the hypervisor bit, the brand string when the host gives none. Hypervisor leaves
 * 0x40000000-0x4fffffff pass through unchanged (PVM needs its own). Pure: no ioctls. */
void cpuid_normalise(struct kvm_cpuid2 *cpuid, unsigned index, unsigned nvcpus, bool smt);
/* The entry for function/index, or NULL. */
struct kvm_cpuid_entry2 *cpuid_find(struct kvm_cpuid2 *cpuid, unsigned function, unsigned index);

/* The XCR0 components the CPUID offers: leaf 0xD sub-leaf 0, EDX:EAX (1, x87 only, when the
 * leaf is absent). A vCPU starts with exactly these enabled (vcpu.c), so that leaf 0xD's
 * EBX, the XSAVE area size for the current XCR0, already describes them: KVM recomputes EBX
 * when the guest changes XCR0 with XSETBV, but a nested hypervisor that does not intercept a
 * nested guest's XSETBV (QEMU's TCG with SVM) never tells it, and Linux then finds EBX
 * disagreeing with the sub-leaves ("XSAVE consistency problem"). */
uint64_t cpuid_xcr0_offered(struct kvm_cpuid2 *cpuid);

#endif
