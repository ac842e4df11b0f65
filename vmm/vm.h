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
struct kvm_host;
struct vcpu;

#define VM_MAX_DEVICES       48
#define VM_CMDLINE_EXTRA_MAX 2048

enum vm_thread_role { VM_THREAD_VCPU };

struct vm_device {
	const struct device_ops *ops;
	void *dev;
};

struct vm {
	const struct vm_config *config; /* owned by the caller, outlives the vm */
	struct evloop *loop;
	const struct kvm_host *host; /* /dev/kvm and its capabilities, outlives the vm */
	int vm_fd;
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

	/* Pause: vm_pause() sets paused, kicks every vCPU and waits until each is parked. */
	atomic_bool paused;
	pthread_mutex_t pause_lock;
	pthread_cond_t pause_cond;
	atomic_int exit_code; /* set by whoever stopped the VM first; -1 while running */
	/* log_clock_ns() when the start was asked for (InstanceStart, or the command line's
	 * boot): the boot timer's second zero. Set before the vCPUs start. */
	long long start_requested_ns;
	long long memslot_ns; /* time KVM_SET_USER_MEMORY_REGION took for all slots (a host cost) */

	/* Called first thing on each vCPU thread (seccomp filters); may be NULL. */
	void (*thread_init)(struct vm *vm, enum vm_thread_role role);
};

/* Builds a VM from a validated config: VM fd, irqchip, RAM, vCPUs, devices, kernel, boot
 * information. Nothing runs yet. NULL with one message on failure (all undone). Event-loop
 * thread. */
struct vm *vm_create(const struct vm_config *config, const struct kvm_host *host,
                     struct evloop *loop);
/* The same VM without a kernel: RAM is the snapshot memory file mem_fd (its size checked by
 * the caller), mapped MAP_PRIVATE, or with mem_fd -1 anonymous memory registered with
 * userfaultfd (vm->mem.uffd, for the caller to hand to a page-fault handler before anything
 * touches RAM); the caller then puts the saved state back (snapshot_restore) before
 * vm_start(). NULL with one message on failure. */
struct vm *vm_create_from_snapshot(const struct vm_config *config, const struct kvm_host *host,
                                   struct evloop *loop, int mem_fd);
/* Starts every vCPU thread. 0, or -1 (the VM is stopped again). */
int vm_start(struct vm *vm);
/* Joins the vCPU threads (after vm_request_stop) and frees everything. */
void vm_destroy(struct vm *vm);

/* Records a device instance for reset/pause/resume/destroy. 0, or -1 when the table is full. */
int vm_add_device(struct vm *vm, const struct device_ops *ops, void *dev);
/* Appends " text" to the guest command line. 0, or -1 when it would not fit. */
int vm_cmdline_append(struct vm *vm, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* True when the guest gets ACPI tables and reads them: not --no-acpi, and "acpi=off" is not a
 * word of the kernel command line. Devices that ACPI describes announce themselves on the
 * command line only when this is false. */
bool vm_guest_uses_acpi(const struct vm *vm);
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
int vm_ioeventfd_datamatch(struct vm *vm, int fd, uint64_t addr, unsigned len, uint64_t datamatch,
                           bool assign);

/* Stops the VM: records code (first caller wins), kicks every vCPU out of KVM_RUN and stops the
 * event loop. Safe from any thread, including vCPU threads (guest reset/shutdown). */
void vm_request_stop(struct vm *vm, int code);

/* Pause/resume every vCPU (and devices' event-loop work). Event-loop thread only. */
int vm_pause(struct vm *vm);
/* The devices' half of vm_pause(), for a VM whose vCPUs start parked (a paused restore). */
void vm_pause_devices(struct vm *vm);
int vm_resume(struct vm *vm);

#endif
