/*
 * mmio_kvm.c - virtio_mmio_create(): a virtio-mmio transport wired to a real VM.
 *
 * The register logic lives in mmio.c and never sees KVM; this file gives it an env whose
 * interrupt is an irqfd and whose kicks are eventfds watched by the event loop, one per
 * queue, that KVM also signals itself (ioeventfd with datamatch on QueueNotify).
 */
#include "virtio/mmio.h"
#include "vmm/evloop.h"
#include "vmm/layout.h"
#include "vmm/log.h"
#include "vmm/vm.h"

#include "vmm/snapshot/snapfile.h"

#include <errno.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

struct notify_ctx {
	struct virtio_mmio *t;
	unsigned qidx;
};

static void eventfd_signal(int fd)
{
	uint64_t one = 1;

	/* EAGAIN means the counter is already nonzero: the reader will run anyway. */
	if (write(fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_warn("virtio-mmio: eventfd write: %s", strerror(errno));
}

static void eventfd_drain(int fd)
{
	uint64_t v;

	if (read(fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		log_warn("virtio-mmio: eventfd read: %s", strerror(errno));
}

static void env_irq(void *opaque)
{
	struct virtio_mmio *t = opaque;

	eventfd_signal(t->irq_fd);
}

static void env_kick(void *opaque, int qidx)
{
	struct virtio_mmio *t = opaque;

	eventfd_signal(qidx >= 0 ? t->notify_fd[qidx] : t->control_fd);
}

static void on_control(void *opaque, uint32_t events)
{
	struct virtio_mmio *t = opaque;

	(void)events;
	eventfd_drain(t->control_fd);
	virtio_mmio_handle_control(t);
}

static void on_notify(void *opaque, uint32_t events)
{
	struct notify_ctx *n = opaque;

	(void)events;
	eventfd_drain(n->t->notify_fd[n->qidx]);
	virtio_mmio_handle_notify(n->t, n->qidx);
}

/* Bus ops of the 4 KiB window. */
static void bus_read_op(void *dev, uint64_t offset, uint8_t *data, uint32_t len)
{
	virtio_mmio_read(dev, offset, data, len);
}

static void bus_write_op(void *dev, uint64_t offset, const uint8_t *data, uint32_t len)
{
	virtio_mmio_write(dev, offset, data, len);
}

static void bus_reset_op(void *dev)
{
	virtio_mmio_reset(dev);
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* Undoes create(): KVM registrations while the VM fd exists, loop watches, fds, memory.
 * The device itself is freed by the caller (destroy op) or stays with the caller (create
 * failure). */
static void teardown(struct virtio_mmio *t)
{
	struct vm *vm = t->vm;
	uint64_t notify = t->base + VIRTIO_MMIO_QUEUE_NOTIFY;

	for (unsigned i = 0; i < t->nqueues; i++) {
		if (t->ioeventfd[i] && vm->vm_fd >= 0)
			vm_ioeventfd_datamatch(vm, t->notify_fd[i], notify, 4, i, false);
		close_fd(&t->notify_fd[i]);
	}
	close_fd(&t->control_fd);
	close_fd(&t->irq_fd);
	free(t->notify_ctx);
	virtio_mmio_fini(t);
	free(t);
}

static void bus_destroy_op(void *dev)
{
	struct virtio_mmio *t = dev;

	/* The device first: it may still refer to the transport (queues, counters). */
	if (t->ops->destroy)
		t->ops->destroy(t->dev);
	if (t->irq_assigned && t->vm->vm_fd >= 0)
		vm_irqfd(t->vm, t->irq_fd, t->irq, false);
	teardown(t);
}

/* VM pause: stop watching the queue notifications (a notification that arrives meanwhile
 * stays counted in its eventfd and is handled on resume), then the device's own sources. */
static void bus_pause_op(void *dev)
{
	struct virtio_mmio *t = dev;

	for (unsigned i = 0; i < t->nqueues; i++)
		if (t->notify_fd[i] >= 0)
			evloop_modify(t->vm->loop, t->notify_fd[i], 0);
	if (t->ops->pause)
		t->ops->pause(t->dev);
}

static void bus_resume_op(void *dev)
{
	struct virtio_mmio *t = dev;

	if (t->ops->resume)
		t->ops->resume(t->dev);
	for (unsigned i = 0; i < t->nqueues; i++)
		if (t->notify_fd[i] >= 0)
			evloop_modify(t->vm->loop, t->notify_fd[i], EPOLLIN);
}

/* Snapshot: pending control work is run, then the device settles and saves its part, then
 * the transport's registers and queue indices (which then include what the device pushed). */
static int bus_save_op(void *dev, struct snap_writer *w, char *err, size_t errlen)
{
	struct virtio_mmio *t = dev;

	if (!t->ops->save) {
		snprintf(err, errlen, "the %s device cannot be snapshotted", t->ops->name);
		return -1;
	}
	virtio_mmio_handle_control(t);
	if (t->ops->save(t->dev, w, virtio_mmio_instance(t), err, errlen) < 0)
		return -1;
	virtio_mmio_save(t, w);
	if (w->failed) {
		snprintf(err, errlen, "%s: the state file cannot grow", t->ops->name);
		return -1;
	}
	return 0;
}

/* Restore: the transport, then the device. Every ready queue is then looked at once, when
 * the loop runs (a notification may have been in flight at the snapshot: its eventfd was not
 * saved), and an interrupt the driver had not yet acknowledged is sent again (it may not have
 * reached the interrupt controller's saved state; a spare one is read as "nothing new"). */
static int bus_restore_op(void *dev, const struct snap_reader *r, char *err, size_t errlen)
{
	struct virtio_mmio *t = dev;
	struct snap_section s;
	uint32_t instance = virtio_mmio_instance(t);

	if (!snap_find(r, SNAP_TAG_VIRTIO_MMIO, instance, &s)) {
		snprintf(err, errlen, "the snapshot has no state for %s (virtio-mmio slot %u)",
		         t->ops->name, instance);
		return -1;
	}
	if (virtio_mmio_restore(t, &s, err, errlen) < 0 ||
	    (t->ops->restore && t->ops->restore(t->dev, r, instance, err, errlen) < 0))
		return -1;
	if (!t->active)
		return 0;
	for (unsigned i = 0; i < t->nqueues; i++)
		if (virtq_ready(&t->queues[i]))
			eventfd_signal(t->notify_fd[i]);
	if (atomic_load(&t->interrupt_status))
		env_irq(t);
	return 0;
}

static const struct device_ops virtio_mmio_bus_ops = {
    .name = "virtio-mmio",
    .read = bus_read_op,
    .write = bus_write_op,
    .reset = bus_reset_op,
    .pause = bus_pause_op,
    .resume = bus_resume_op,
    .destroy = bus_destroy_op,
    .save = bus_save_op,
    .restore = bus_restore_op,
};

static int new_eventfd(const char *name, const char *what)
{
	int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);

	if (fd < 0)
		log_error("%s: %s eventfd: %s", name, what, strerror(errno));
	return fd;
}

/* One eventfd per queue, watched by the loop; an ioeventfd on QueueNotify with datamatch
 * when KVM takes it (without one, vCPU writes reach env_kick(), which is slower but loses
 * nothing). */
static int wire_queues(struct virtio_mmio *t)
{
	uint64_t notify = t->base + VIRTIO_MMIO_QUEUE_NOTIFY;

	t->notify_ctx = calloc(t->nqueues, sizeof(*t->notify_ctx));
	if (!t->notify_ctx)
		return -1;
	for (unsigned i = 0; i < t->nqueues; i++) {
		t->notify_ctx[i] = (struct notify_ctx){t, i};
		t->notify_fd[i] = new_eventfd(t->ops->name, "queue");
		if (t->notify_fd[i] < 0)
			return -1;
		if (evloop_add(t->vm->loop, t->notify_fd[i], EPOLLIN, on_notify,
		               &t->notify_ctx[i]) < 0) {
			log_error("%s: cannot watch queue %u eventfd", t->ops->name, i);
			return -1;
		}
		t->ioeventfd[i] =
		    vm_ioeventfd_datamatch(t->vm, t->notify_fd[i], notify, 4, i, true) == 0;
		if (!t->ioeventfd[i])
			log_debug("%s: no ioeventfd for queue %u, notifications will exit",
			          t->ops->name, i);
	}
	return 0;
}

static int wire(struct virtio_mmio *t)
{
	struct vm *vm = t->vm;

	t->irq_fd = new_eventfd(t->ops->name, "irq");
	t->control_fd = new_eventfd(t->ops->name, "control");
	if (t->irq_fd < 0 || t->control_fd < 0)
		return -1;
	if (vm_irqfd(vm, t->irq_fd, t->irq, true) < 0) {
		log_error("%s: cannot attach irqfd to GSI %u", t->ops->name, t->irq);
		return -1;
	}
	t->irq_assigned = true;
	if (evloop_add(vm->loop, t->control_fd, EPOLLIN, on_control, t) < 0) {
		log_error("%s: cannot watch control eventfd", t->ops->name);
		return -1;
	}
	return wire_queues(t);
}

/* Undo of wire() on a failed create: the loop watches go first, then the KVM links. */
static void unwire(struct virtio_mmio *t)
{
	for (unsigned i = 0; i < t->nqueues; i++)
		if (t->notify_fd[i] >= 0)
			evloop_del(t->vm->loop, t->notify_fd[i]);
	if (t->control_fd >= 0)
		evloop_del(t->vm->loop, t->control_fd);
	if (t->irq_assigned)
		vm_irqfd(t->vm, t->irq_fd, t->irq, false);
	teardown(t);
}

int virtio_mmio_create(struct vm *vm, const struct virtio_device_ops *ops, void *dev,
                       unsigned nqueues, struct virtio_mmio **out)
{
	struct virtio_mmio *t;
	struct virtio_mmio_env env = {.irq = env_irq, .kick = env_kick};
	uint64_t base;
	unsigned irq;

	if (nqueues == 0 || nqueues > VIRTIO_MMIO_MAX_QUEUES) {
		log_error("%s: %u queues not supported", ops->name, nqueues);
		return -1;
	}
	if (vm_virtio_slot(vm, &base, &irq) < 0) {
		log_error("%s: no free virtio-mmio slot (at most %d devices)", ops->name,
		          LAYOUT_VIRTIO_MAX_DEVS);
		return -1;
	}
	t = malloc(sizeof(*t));
	if (!t) {
		log_error("%s: out of memory", ops->name);
		return -1;
	}
	env.opaque = t;
	virtio_mmio_init(t, &vm->mem, ops, dev, nqueues, &env);
	t->vm = vm;
	t->base = base;
	t->irq = irq;
	if (wire(t) < 0)
		goto fail;
	/* vm_add_device() last: once it succeeds, vm_destroy() owns t. */
	/* With ACPI the DSDT announces the device; the command-line form is for kernels without
	 * ACPI (and needs CONFIG_VIRTIO_MMIO_CMDLINE_DEVICES, which Debian's kernels lack). */
	if ((!vm_guest_uses_acpi(vm) && vm_cmdline_append(vm, "virtio_mmio.device=4K@0x%llx:%u",
	                                                  (unsigned long long)base, irq) < 0) ||
	    bus_register(&vm->mmio, base, LAYOUT_VIRTIO_MMIO_SIZE, &virtio_mmio_bus_ops, t) < 0 ||
	    vm_add_device(vm, &virtio_mmio_bus_ops, t) < 0) {
		log_error("%s: cannot register virtio-mmio device at 0x%llx", ops->name,
		          (unsigned long long)base);
		goto fail;
	}
	*out = t;
	return 0;
fail:
	unwire(t);
	return -1;
}
