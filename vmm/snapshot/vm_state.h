/*
 * vm_state.h - the VM-wide KVM state in a snapshot section (SNAP_TAG_VM, instance 0), saved
 * while every vCPU is paused: the in-kernel PIC master and slave and the IOAPIC
 * (KVM_GET_IRQCHIP, chips 0, 1, 2), the PIT (KVM_GET_PIT2) and the KVM clock (KVM_GET_CLOCK).
 * Each part is a u32 byte length and the KVM structure.
 *
 * On restore the clock is set to the saved value, so guest time continues from where the
 * snapshot stopped it instead of jumping back: the time the snapshot spent on disk is not seen
 * by the guest (as with Firecracker).
 */
#ifndef WISP_VM_STATE_H
#define WISP_VM_STATE_H

#include <stddef.h>

#include "vmm/snapshot/snapfile.h"

#define SNAP_TAG_VM    0x53204d56u /* "VM S" */
#define VM_STATE_PARTS 5u

/* Saves vm_fd's irqchip, PIT and clock. 0, or -1 with one sentence in err. */
int vm_state_save(int vm_fd, struct snap_writer *w, char *err, size_t errlen);
/* Puts them back into vm_fd (with its irqchip and PIT created, before any vCPU runs). The
 * section is checked whole first. 0, or -1 with one sentence in err. */
int vm_state_restore(int vm_fd, const struct snap_section *s, char *err, size_t errlen);

#endif
