/*
 * mmio.h - virtio-mmio version 2 transport (virtio spec 4.2.2).
 *
 * One transport instance fronts one virtio device (blk, net) in a 4 KiB MMIO window. Register
 * offsets, status bits and feature bits are the Linux uapi ones (<linux/virtio_mmio.h>,
 * <linux/virtio_config.h>). VendorID is VIRTIO_MMIO_VENDOR_WISP ("WISP" read as a
 * little-endian u32); Linux ignores it.
 *
 * Split between threads:
 *   - vCPU threads read and write registers (virtio_mmio_read/virtio_mmio_write, through the
 *     MMIO bus). They only update the register file under t->lock, never touch the rings and
 *     never call the device's queue/activate/reset hooks. Work for the device is handed to the
 *     event loop through env.kick (an eventfd write in production).
 *   - the event-loop thread runs the device: virtio_mmio_handle_control() (reset, activation),
 *     virtio_mmio_handle_notify() (a queue notification: ioeventfd or kick), and the device's
 *     own completions, from which it calls virtio_mmio_signal_used()/_config().
 * A guest that writes QueueNotify with an ioeventfd in place never exits; without one (it
 * failed to register, or the guest used an odd access size) the vCPU write lands here and is
 * forwarded by the same kick, so no notification is lost.
 *
 * Unit tests and fuzzers use virtio_mmio_init() with their own env (an in-memory guest_mem,
 * a fake interrupt, a kick that calls the handlers directly); production code uses
 * virtio_mmio_create(), which wires the same struct to KVM (irqfd, ioeventfds) and the loop.
 */
#ifndef WISP_VIRTIO_MMIO_H
#define WISP_VIRTIO_MMIO_H

#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "virtio/virtq.h"
#include "vmm/guest_mem.h"

struct vm;
struct notify_ctx;
struct snap_writer;
struct snap_reader;
struct snap_section;

#define VIRTIO_MMIO_VENDOR_WISP 0x50534957u /* bytes 'W' 'I' 'S' 'P' in memory order */
#define VIRTIO_MMIO_MAX_QUEUES  4
/* Features the transport and virtq implement for every device. */
#define VIRTIO_MMIO_TRANSPORT_FEATURES                                                             \
	((1ULL << VIRTIO_F_VERSION_1) | (1ULL << VIRTIO_RING_F_INDIRECT_DESC) |                    \
	 (1ULL << VIRTIO_RING_F_EVENT_IDX))

/*
 * What a virtio device gives the transport. All hooks get the dev pointer passed at creation.
 * Threads: features/config_read/config_write run on vCPU threads with the transport lock held
 * (they must not call back into the transport); the others run on the event-loop thread.
 */
struct virtio_device_ops {
	const char *name;   /* "virtio-blk" */
	uint32_t device_id; /* VIRTIO_ID_BLOCK, VIRTIO_ID_NET */
	/* Device-specific feature bits offered (the transport adds its own, above). */
	uint64_t (*features)(void *dev);
	/* Config space access at offset from 0x100, len 1..8 bytes. Reads past the device's
	 * config must fill zeroes. Writes to read-only fields are ignored. config_write may be
	 * NULL (all read-only). */
	void (*config_read)(void *dev, uint32_t offset, uint8_t *data, uint32_t len);
	void (*config_write)(void *dev, uint32_t offset, const uint8_t *data, uint32_t len);
	/* DRIVER_OK: the negotiated features; queues that the driver made ready are set up (see
	 * virtio_mmio_queue()). 0, or -1 to refuse (the transport sets NEEDS_RESET). */
	int (*activate)(void *dev, uint64_t features);
	/* The driver notified queue qidx (or the transport re-checks it after activation).
	 * Called only while the device is active. */
	void (*queue_notify)(void *dev, unsigned qidx);
	/* Device reset (Status 0 or VM reset): stop and forget in-flight requests, back to the
	 * pre-activation state. Called after the queues were reset. May be NULL. */
	void (*reset)(void *dev);
	/* Frees dev, when the transport is destroyed. May be NULL. */
	void (*destroy)(void *dev);
	/* VM pause/resume (PATCH /vm): stop and restart work that does not come from a queue
	 * notification (a tap, timers); the transport already stops watching the queues. After
	 * resume the device re-checks its queues. Event-loop thread. May be NULL. */
	void (*pause)(void *dev);
	void (*resume)(void *dev);
	/* Snapshot, VM paused, event-loop thread. save() first settles what is in flight into
	 * the rings (completes it, or keeps the chain heads it still holds), then appends its own
	 * section (its tag, the transport's instance); the transport's registers and queue indices
	 * are saved after it, so they include what the device just pushed. restore() runs on a
	 * fresh device after the transport's state is back (queues set up at their saved
	 * indices, t->active as saved) and before any vCPU runs. NULL save: a VM with this
	 * device cannot be snapshotted. 0, or -1 with one sentence in err. */
	int (*save)(void *dev, struct snap_writer *w, uint32_t instance, char *err, size_t errlen);
	int (*restore)(void *dev, const struct snap_reader *r, uint32_t instance, char *err,
	               size_t errlen);
};

/* How the transport reaches the outside world (KVM + event loop, or a test). */
struct virtio_mmio_env {
	/* Pulse the device's interrupt (edge). Any thread, no lock held. */
	void (*irq)(void *opaque);
	/* Have the event loop run virtio_mmio_handle_notify(t, qidx) (qidx >= 0) or
	 * virtio_mmio_handle_control(t) (qidx < 0) soon. vCPU thread, no lock held. */
	void (*kick)(void *opaque, int qidx);
	void *opaque;
};

/* The driver-visible register file of one queue (vCPU side, under the lock). */
struct virtio_mmio_queue_regs {
	struct virtq_config cfg; /* cfg.size = QueueNum */
	bool ready;              /* QueueReady reads 1 */
};

struct virtio_mmio {
	const struct virtio_device_ops *ops;
	void *dev;
	const struct guest_mem *mem;
	struct virtio_mmio_env env;
	unsigned nqueues;
	uint64_t base; /* guest-physical base (0 in tests) */
	unsigned irq;

	/* Register file: written by vCPU threads under lock, snapshot by the loop. */
	pthread_mutex_t lock;
	uint32_t status;
	uint32_t device_features_sel;
	uint32_t driver_features_sel;
	uint64_t driver_features;
	uint32_t queue_sel;
	struct virtio_mmio_queue_regs qregs[VIRTIO_MMIO_MAX_QUEUES];
	atomic_uint config_generation;
	atomic_uint interrupt_status; /* VIRTIO_MMIO_INT_VRING | VIRTIO_MMIO_INT_CONFIG */

	/* Work for the loop: set by vCPU threads, taken by virtio_mmio_handle_control(). Reset
	 * is done before activation when both are pending. */
	atomic_bool reset_pending;
	atomic_bool activate_pending;

	/* Loop side. */
	bool active;       /* the device was activated and not reset since */
	uint64_t features; /* negotiated, valid while active */
	struct virtq queues[VIRTIO_MMIO_MAX_QUEUES];

	/* Counts driver mistakes at the transport level (bad status transition, features
	 * without VERSION_1, bad queue setup, ring errors). Devices may register it. */
	atomic_ulong errors;

	/* Production only (virtio_mmio_create): eventfds, -1 when absent. */
	struct vm *vm;
	int irq_fd; /* irqfd on GSI irq */
	bool irq_assigned;
	int control_fd;                         /* kicks virtio_mmio_handle_control() */
	int notify_fd[VIRTIO_MMIO_MAX_QUEUES];  /* per queue: ioeventfd and kick */
	bool ioeventfd[VIRTIO_MMIO_MAX_QUEUES]; /* KVM signals notify_fd[i] itself */
	struct notify_ctx *notify_ctx;          /* loop handler argument per queue */
};

/*
 * Creates the transport for dev in the next virtio-mmio slot of vm: registers the MMIO range
 * and the device (vm_add_device, so reset/destroy reach it), appends
 * "virtio_mmio.device=4K@0x<base>:<irq>" to the guest command line, wires an irqfd for the
 * interrupt, one ioeventfd per queue on QueueNotify (datamatch = queue index) and the
 * eventfds to vm->loop. Event-loop thread (or before the loop runs), before the vCPUs start.
 * 0, or -1 with one message naming the device printed; nothing is left registered with
 * KVM or the loop on failure (the bus has no unregister: the VM is not started then).
 * The transport owns dev from then on: destroy frees it through ops->destroy.
 */
int virtio_mmio_create(struct vm *vm, const struct virtio_device_ops *ops, void *dev,
                       unsigned nqueues, struct virtio_mmio **out);

/* Sets up t over mem with env, in the reset state. For tests, fuzzers and create(). */
void virtio_mmio_init(struct virtio_mmio *t, const struct guest_mem *mem,
                      const struct virtio_device_ops *ops, void *dev, unsigned nqueues,
                      const struct virtio_mmio_env *env);
/* Releases what init() took (the lock). Does not call ops->destroy. */
void virtio_mmio_fini(struct virtio_mmio *t);

/* Register access at offset in the 4 KiB window; vCPU threads. Registers below 0x100 take
 * 4-byte aligned 32-bit accesses only (others read 0 / are ignored and counted); the config
 * space takes any size. */
void virtio_mmio_read(struct virtio_mmio *t, uint64_t offset, uint8_t *data, uint32_t len);
void virtio_mmio_write(struct virtio_mmio *t, uint64_t offset, const uint8_t *data, uint32_t len);

/* Loop side: runs pending reset/activation. */
void virtio_mmio_handle_control(struct virtio_mmio *t);
/* Loop side: queue qidx was notified (pending control work is run first). */
void virtio_mmio_handle_notify(struct virtio_mmio *t, unsigned qidx);
/* Loop side: full device reset, as a Status write of 0 (VM reset). */
void virtio_mmio_reset(struct virtio_mmio *t);

/* ---- snapshot (mmio_snapshot.c) ---- */

#define SNAP_TAG_VIRTIO_MMIO 0x4f494d56u /* "VMIO" */

/* The transport's slot among the VM's virtio-mmio devices: its sections' instance. */
uint32_t virtio_mmio_instance(const struct virtio_mmio *t);
/* Appends the register file, the negotiated features and every queue's configuration and
 * indices as section VMIO/instance. Loop thread, control work done, VM paused. */
void virtio_mmio_save(const struct virtio_mmio *t, struct snap_writer *w);
/* Puts a VMIO section back into t (fresh, reset): registers, and when it was active the
 * queues set up over t->mem at their saved indices. Checks everything first (device type,
 * queue count, status bits, features offered, queue areas inside RAM) and changes nothing
 * when it refuses: 0, or -1 with one sentence in err. Does not call the device. */
int virtio_mmio_restore(struct virtio_mmio *t, const struct snap_section *s, char *err,
                        size_t errlen);

/* For devices, on the loop thread. */
static inline struct virtq *virtio_mmio_queue(struct virtio_mmio *t, unsigned qidx)
{
	return &t->queues[qidx];
}
/* After pushing used buffers on qidx: interrupts the driver if it wants it. */
void virtio_mmio_signal_used(struct virtio_mmio *t, unsigned qidx);
/* The device's config changed: bumps ConfigGeneration and interrupts (config change). */
void virtio_mmio_signal_config(struct virtio_mmio *t);
/* The device cannot go on (e.g. a broken ring): sets DEVICE_NEEDS_RESET and, when the driver
 * is running, sends a config-change interrupt, as the spec says. Any thread. */
void virtio_mmio_needs_reset(struct virtio_mmio *t);

#endif
