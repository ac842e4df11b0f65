/*
 * vcpu.h - one vCPU: its fd, kvm_run mapping and thread.
 *
 * Life: vcpu_create() (event-loop thread, before start) -> vcpu_start() spawns the thread that
 * loops on KVM_RUN -> vcpu_kick() from any thread makes KVM_RUN return -> vcpu_join().
 * The thread only dispatches register accesses to the buses; it never blocks on I/O.
 */
#ifndef WISP_VCPU_H
#define WISP_VCPU_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "vmm/boot/loader.h"

struct vm;

struct vcpu {
	struct vm *vm;
	unsigned index; /* also its APIC id */
	int fd;
	struct kvm_run *run;
	pthread_t thread;
	bool started;
	atomic_bool parked; /* paused and waiting in vcpu_park() */
	uint64_t exits;     /* KVM_RUN returns, for metrics */
};

/* Creates vCPU index of vm: fd, kvm_run mapping, normalised CPUID, boot MSRs, FPU, LAPIC LINT0
 * ExtINT / LINT1 NMI. 0, or -1 with a message. */
int vcpu_create(struct vm *vm, struct vcpu *vcpu, unsigned index);
/* Puts the boot vCPU at entry in mode (other vCPUs wait for INIT/SIPI from the guest). */
int vcpu_set_boot_state(struct vcpu *vcpu, enum boot_entry_mode mode, uint64_t entry);
int vcpu_start(struct vcpu *vcpu);
/* Makes KVM_RUN return on vcpu's thread soon. Any thread; async-signal-safe. */
void vcpu_kick(struct vcpu *vcpu);
void vcpu_join(struct vcpu *vcpu);
void vcpu_destroy(struct vcpu *vcpu);
/* Installs the (empty) handler of the kick signal; once per process, before any vCPU runs. */
int vcpu_signal_init(void);

#endif
