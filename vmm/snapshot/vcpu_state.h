/*
 * vcpu_state.h - one vCPU's KVM state in a snapshot section (SNAP_TAG_VCPU, instance = the
 * vCPU's index), saved from a vCPU that is not running (paused, or never started).
 *
 * The section holds, in the order KVM needs them back on restore, each as a u32 byte length
 * and the bytes of the KVM structure: CPUID (struct kvm_cpuid2 and its entries), MP state,
 * regs, sregs, XSAVE (KVM_GET_XSAVE2's size where the host has one, else struct kvm_xsave),
 * XCRS (empty where the host has no KVM_CAP_XCRS), debug regs, LAPIC, MSRs (struct kvm_msrs and
 * its entries: every MSR of KVM_GET_MSR_INDEX_LIST that the vCPU can read, IA32_TSC first so
 * that TSC_DEADLINE is set after it), vCPU events.
 */
#ifndef WISP_VCPU_STATE_H
#define WISP_VCPU_STATE_H

#include <stddef.h>
#include <stdint.h>

#include <linux/kvm.h>

#include "vmm/snapshot/snapfile.h"

#define SNAP_TAG_VCPU    0x55504356u /* "VCPU" */
#define VCPU_STATE_PARTS 10u
#define VCPU_MAX_MSRS    512u
#define VCPU_MAX_CPUID   256u

/* Saves the state of vcpu_fd as section (SNAP_TAG_VCPU, index). msr_list: the host's
 * KVM_GET_MSR_INDEX_LIST; xsave_size: KVM_CHECK_EXTENSION(KVM_CAP_XSAVE2), 0 for struct
 * kvm_xsave; has_xcrs: KVM_CAP_XCRS. 0, or -1 with one sentence in err (the writer is then
 * unusable). */
int vcpu_state_save(int vcpu_fd, unsigned index, const struct kvm_msr_list *msr_list,
                    size_t xsave_size, int has_xcrs, struct snap_writer *w, char *err,
                    size_t errlen);

/* Puts a saved section back into vcpu_fd (a fresh vCPU of a VM with its irqchip). The whole
 * section is checked before the first KVM_SET_*. 0, or -1 with one sentence in err. */
int vcpu_state_restore(int vcpu_fd, const struct snap_section *s, char *err, size_t errlen);

#endif
