/*
 * vm.h - one KVM virtual machine: its fd, RAM, buses, vCPUs and devices.
 *
 * Built by vm_create() from a validated config on the event-loop thread, started by vm_start()
 * and torn down by vm_destroy() after every vCPU thread has been joined. Devices hold a
 * struct vm * for the helpers below; these helpers are safe from the event-loop thread and,
 * where said, from vCPU threads.
 */
#ifndef WISP_VM_H
#define WISP_VM_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "vmm/bus.h"
#include "vmm/config.h"
#include "vmm/guest_mem.h"

struct evloop;
struct vcpu;

#define VM_MAX_DEVICES 48
#define VM_CMDLINE_EXTRA_MAX 2048

struct vm_device {
	const struct device_ops *ops;
	void *dev;
};

struct vm {
	const struct vm_config *config; /* owned by the caller, outlives the vm */
	struct evloop *loop;
	int kvm_fd;
	int vm_fd;
	int vcpu_mmap_size;
	struct guest_mem mem;
	struct bus pio;
	struct bus mmio;

	unsigned nvcpus;
	struct vcpu *vcpus;

	unsigned ndevices;
	struct vm_device devices[VM_MAX_DEVICES];
	unsigned nvirtio; /* virtio-mmio slots handed out */

	/* Appended to the guest command line by devices (virtio_mmio.device=...). */
	char cmdline_extra[VM_CMDLINE_EXTRA_MAX];

	atomic_bool paused;
	atomic_int exit_code; /* set by whoever stopped the VM first; -1 while running */
};

/* Records a device instance for reset/pause/resume/destroy. 0, or -1 when the table is full. */
int vm_add_device(struct vm *vm, const struct device_ops *ops, void *dev);
/* Appends " text" to the guest command line. 0, or -1 when it would not fit. */
int vm_cmdline_append(struct vm *vm, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Hands out the next virtio-mmio slot: its MMIO base and IRQ (GSI). 0, or -1 when full. */
int vm_virtio_slot(struct vm *vm, uint64_t *mmio_base, unsigned *irq);

/* Interrupt helpers. vm_irq_line() is safe from any thread. */
int vm_irq_line(struct vm *vm, unsigned irq, bool level);
/* irqfd: writing to fd raises gsi (edge). resamplefd < 0 for none. */
int vm_irqfd(struct vm *vm, int fd, unsigned gsi, bool assign);
/* ioeventfd: a guest write of len bytes at MMIO addr signals fd instead of exiting. */
int vm_ioeventfd(struct vm *vm, int fd, uint64_t addr, unsigned len, bool assign);
/* Same, but fd is signalled only when the written value equals datamatch
 * (KVM_IOEVENTFD_FLAG_DATAMATCH): virtio-mmio has one QueueNotify register for all queues and
 * gives each queue its own eventfd by matching the queue index. 0, or < 0 on failure. */
int vm_ioeventfd_datamatch(struct vm *vm, int fd, uint64_t addr, unsigned len,
			   uint64_t datamatch, bool assign);

/* Stops the VM: records code (first caller wins), kicks every vCPU out of KVM_RUN and stops the
 * event loop. Safe from any thread, including vCPU threads (guest reset/shutdown). */
void vm_request_stop(struct vm *vm, int code);

/* Pause/resume every vCPU (and devices' event-loop work). Event-loop thread only. */
int vm_pause(struct vm *vm);
int vm_resume(struct vm *vm);

#endif
