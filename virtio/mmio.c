/*
 * mmio.c - virtio-mmio v2 register file and device life cycle (see mmio.h).
 *
 * Nothing here knows KVM or the event loop: they are reached through t->env, which
 * mmio_kvm.c fills for a real VM and tests fill with fakes.
 */
#include "virtio/mmio.h"

#include "vmm/layout.h"

#include <string.h>

#define VIRTIO_MMIO_MAGIC 0x74726976u /* "virt" */

/* Status bits the driver may set; NEEDS_RESET is the device's. */
#define STATUS_DRIVER_BITS                                                                         \
	(VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK |      \
	 VIRTIO_CONFIG_S_DRIVER_OK | VIRTIO_CONFIG_S_FAILED)

static void count_error(struct virtio_mmio *t)
{
	atomic_fetch_add_explicit(&t->errors, 1, memory_order_relaxed);
}

void virtio_mmio_init(struct virtio_mmio *t, const struct guest_mem *mem,
                      const struct virtio_device_ops *ops, void *dev, unsigned nqueues,
                      const struct virtio_mmio_env *env)
{
	memset(t, 0, sizeof(*t));
	t->ops = ops;
	t->dev = dev;
	t->mem = mem;
	t->env = *env;
	t->nqueues = nqueues < VIRTIO_MMIO_MAX_QUEUES ? nqueues : VIRTIO_MMIO_MAX_QUEUES;
	pthread_mutex_init(&t->lock, NULL);
	t->irq_fd = -1;
	t->control_fd = -1;
	for (unsigned i = 0; i < VIRTIO_MMIO_MAX_QUEUES; i++)
		t->notify_fd[i] = -1;
}

void virtio_mmio_fini(struct virtio_mmio *t)
{
	pthread_mutex_destroy(&t->lock);
}

/* Offered features: the device's plus what the transport and virtq implement. Lock held. */
static uint64_t offered_features(struct virtio_mmio *t)
{
	return t->ops->features(t->dev) | VIRTIO_MMIO_TRANSPORT_FEATURES;
}

static struct virtio_mmio_queue_regs *selected_queue(struct virtio_mmio *t)
{
	return t->queue_sel < t->nqueues ? &t->qregs[t->queue_sel] : NULL;
}

/* ---- vCPU side: register reads ---- */

static uint32_t read_queue_reg(struct virtio_mmio *t, uint64_t offset)
{
	struct virtio_mmio_queue_regs *q = selected_queue(t);

	if (!q)
		return 0;
	switch (offset) {
	case VIRTIO_MMIO_QUEUE_NUM_MAX:
		return VIRTQ_MAX_SIZE;
	case VIRTIO_MMIO_QUEUE_NUM:
		return q->cfg.size;
	case VIRTIO_MMIO_QUEUE_READY:
		return q->ready;
	case VIRTIO_MMIO_QUEUE_DESC_LOW:
		return (uint32_t)q->cfg.desc_gpa;
	case VIRTIO_MMIO_QUEUE_DESC_HIGH:
		return (uint32_t)(q->cfg.desc_gpa >> 32);
	case VIRTIO_MMIO_QUEUE_AVAIL_LOW:
		return (uint32_t)q->cfg.avail_gpa;
	case VIRTIO_MMIO_QUEUE_AVAIL_HIGH:
		return (uint32_t)(q->cfg.avail_gpa >> 32);
	case VIRTIO_MMIO_QUEUE_USED_LOW:
		return (uint32_t)q->cfg.used_gpa;
	case VIRTIO_MMIO_QUEUE_USED_HIGH:
		return (uint32_t)(q->cfg.used_gpa >> 32);
	}
	return 0;
}

/* Lock held. */
static uint32_t read_reg(struct virtio_mmio *t, uint64_t offset)
{
	switch (offset) {
	case VIRTIO_MMIO_MAGIC_VALUE:
		return VIRTIO_MMIO_MAGIC;
	case VIRTIO_MMIO_VERSION:
		return 2;
	case VIRTIO_MMIO_DEVICE_ID:
		return t->ops->device_id;
	case VIRTIO_MMIO_VENDOR_ID:
		return VIRTIO_MMIO_VENDOR_WISP;
	case VIRTIO_MMIO_DEVICE_FEATURES:
		if (t->device_features_sel > 1)
			return 0;
		return (uint32_t)(offered_features(t) >> (32 * t->device_features_sel));
	case VIRTIO_MMIO_DEVICE_FEATURES_SEL:
		return t->device_features_sel;
	case VIRTIO_MMIO_DRIVER_FEATURES_SEL:
		return t->driver_features_sel;
	case VIRTIO_MMIO_QUEUE_SEL:
		return t->queue_sel;
	case VIRTIO_MMIO_INTERRUPT_STATUS:
		return atomic_load(&t->interrupt_status);
	case VIRTIO_MMIO_STATUS:
		return t->status;
	case VIRTIO_MMIO_CONFIG_GENERATION:
		return atomic_load(&t->config_generation);
	case VIRTIO_MMIO_SHM_LEN_LOW:
	case VIRTIO_MMIO_SHM_LEN_HIGH:
		return 0xffffffffu; /* no shared memory regions: length -1 (spec 4.2.2) */
	}
	return read_queue_reg(t, offset);
}

void virtio_mmio_read(struct virtio_mmio *t, uint64_t offset, uint8_t *data, uint32_t len)
{
	uint32_t val;

	memset(data, 0, len);
	pthread_mutex_lock(&t->lock);
	if (offset >= VIRTIO_MMIO_CONFIG) {
		if (offset < LAYOUT_VIRTIO_MMIO_SIZE && len <= 8)
			t->ops->config_read(t->dev, (uint32_t)(offset - VIRTIO_MMIO_CONFIG), data,
			                    len);
	} else if (len == 4 && offset % 4 == 0) {
		val = read_reg(t, offset);
		memcpy(data, &val, 4); /* x86 is little-endian, as virtio-mmio */
	} else {
		count_error(t);
	}
	pthread_mutex_unlock(&t->lock);
}

/* ---- vCPU side: register writes ---- */

/* Resets the register file (Status 0 or VM reset) and asks the loop to reset the device. */
static void reset_registers(struct virtio_mmio *t)
{
	t->status = 0;
	t->device_features_sel = 0;
	t->driver_features_sel = 0;
	t->driver_features = 0;
	t->queue_sel = 0;
	memset(t->qregs, 0, sizeof(t->qregs));
	atomic_store(&t->interrupt_status, 0);
	atomic_store(&t->activate_pending, false);
	atomic_store(&t->reset_pending, true);
}

/* FEATURES_OK is accepted only for a subset of what we offered that includes VERSION_1
 * (wisp is a modern-only device, spec 6.1). */
static bool features_acceptable(struct virtio_mmio *t)
{
	uint64_t f = t->driver_features;

	return (f & ~offered_features(t)) == 0 && (f & (1ULL << VIRTIO_F_VERSION_1));
}

/* The prerequisite of each status bit, in the order the driver sets them (spec 3.1.1). */
static bool status_bit_allowed(struct virtio_mmio *t, uint32_t bit)
{
	switch (bit) {
	case VIRTIO_CONFIG_S_ACKNOWLEDGE:
		return true;
	case VIRTIO_CONFIG_S_DRIVER:
		return t->status & VIRTIO_CONFIG_S_ACKNOWLEDGE;
	case VIRTIO_CONFIG_S_FEATURES_OK:
		return (t->status & VIRTIO_CONFIG_S_DRIVER) && features_acceptable(t);
	case VIRTIO_CONFIG_S_DRIVER_OK:
		return t->status & VIRTIO_CONFIG_S_FEATURES_OK;
	}
	return false;
}

/* Applies a nonzero Status write. Returns true when the loop must be kicked. Lock held. */
static bool write_status(struct virtio_mmio *t, uint32_t val)
{
	static const uint32_t order[] = {VIRTIO_CONFIG_S_ACKNOWLEDGE, VIRTIO_CONFIG_S_DRIVER,
	                                 VIRTIO_CONFIG_S_FEATURES_OK, VIRTIO_CONFIG_S_DRIVER_OK};
	uint32_t added = val & STATUS_DRIVER_BITS & ~t->status;

	if ((t->status & STATUS_DRIVER_BITS) & ~val) {
		count_error(t); /* the driver must not clear a bit except by writing 0 */
		return false;
	}
	if (added & VIRTIO_CONFIG_S_FAILED)
		t->status |= VIRTIO_CONFIG_S_FAILED; /* the driver gave up; nothing to do */
	for (unsigned i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		if (!(added & order[i]))
			continue;
		if (!status_bit_allowed(t, order[i])) {
			count_error(t);
			return false;
		}
		t->status |= order[i];
		if (order[i] == VIRTIO_CONFIG_S_DRIVER_OK) {
			atomic_store(&t->activate_pending, true);
			return true;
		}
	}
	return false;
}

static void write_features(struct virtio_mmio *t, uint32_t val)
{
	unsigned shift;

	if (t->driver_features_sel > 1)
		return;
	if (!(t->status & VIRTIO_CONFIG_S_DRIVER) || (t->status & VIRTIO_CONFIG_S_FEATURES_OK)) {
		count_error(t); /* too early or too late (spec 3.1.1) */
		return;
	}
	shift = 32 * t->driver_features_sel;
	t->driver_features &= ~(0xffffffffULL << shift);
	t->driver_features |= (uint64_t)val << shift;
}

/* QueueReady 1 checks the queue the driver described; a bad one stays disabled. */
static void write_queue_ready(struct virtio_mmio *t, struct virtio_mmio_queue_regs *q, uint32_t val)
{
	if (!val) {
		q->ready = false;
		return;
	}
	if (!virtq_config_valid(t->mem, &q->cfg)) {
		count_error(t);
		return;
	}
	q->ready = true;
}

static void set_low(uint64_t *v, uint32_t val)
{
	*v = (*v & 0xffffffff00000000ULL) | val;
}

static void set_high(uint64_t *v, uint32_t val)
{
	*v = (*v & 0xffffffffULL) | ((uint64_t)val << 32);
}

/* Queue registers may change only while the queue is disabled and before DRIVER_OK. */
static void write_queue_reg(struct virtio_mmio *t, uint64_t offset, uint32_t val)
{
	struct virtio_mmio_queue_regs *q = selected_queue(t);

	if (!q || (t->status & VIRTIO_CONFIG_S_DRIVER_OK) ||
	    (q->ready && offset != VIRTIO_MMIO_QUEUE_READY)) {
		count_error(t);
		return;
	}
	switch (offset) {
	case VIRTIO_MMIO_QUEUE_NUM:
		q->cfg.size = val > VIRTQ_MAX_SIZE ? 0 : (uint16_t)val; /* 0: invalid, refused */
		if (val > VIRTQ_MAX_SIZE)
			count_error(t);
		break;
	case VIRTIO_MMIO_QUEUE_READY:
		write_queue_ready(t, q, val);
		break;
	case VIRTIO_MMIO_QUEUE_DESC_LOW:
		set_low(&q->cfg.desc_gpa, val);
		break;
	case VIRTIO_MMIO_QUEUE_DESC_HIGH:
		set_high(&q->cfg.desc_gpa, val);
		break;
	case VIRTIO_MMIO_QUEUE_AVAIL_LOW:
		set_low(&q->cfg.avail_gpa, val);
		break;
	case VIRTIO_MMIO_QUEUE_AVAIL_HIGH:
		set_high(&q->cfg.avail_gpa, val);
		break;
	case VIRTIO_MMIO_QUEUE_USED_LOW:
		set_low(&q->cfg.used_gpa, val);
		break;
	case VIRTIO_MMIO_QUEUE_USED_HIGH:
		set_high(&q->cfg.used_gpa, val);
		break;
	}
}

/* Lock held. Returns the kick to send after unlocking: a queue index, -1 for control work,
 * or -2 for none. */
static int write_reg(struct virtio_mmio *t, uint64_t offset, uint32_t val)
{
	switch (offset) {
	case VIRTIO_MMIO_DEVICE_FEATURES_SEL:
		t->device_features_sel = val;
		return -2;
	case VIRTIO_MMIO_DRIVER_FEATURES:
		write_features(t, val);
		return -2;
	case VIRTIO_MMIO_DRIVER_FEATURES_SEL:
		t->driver_features_sel = val;
		return -2;
	case VIRTIO_MMIO_QUEUE_SEL:
		t->queue_sel = val;
		return -2;
	case VIRTIO_MMIO_QUEUE_NOTIFY:
		if (val < t->nqueues)
			return (int)val;
		count_error(t);
		return -2;
	case VIRTIO_MMIO_INTERRUPT_ACK:
		atomic_fetch_and(&t->interrupt_status, ~val);
		return -2;
	case VIRTIO_MMIO_STATUS:
		if (val == 0) {
			reset_registers(t);
			return -1;
		}
		return write_status(t, val) ? -1 : -2;
	case VIRTIO_MMIO_QUEUE_NUM:
	case VIRTIO_MMIO_QUEUE_READY:
	case VIRTIO_MMIO_QUEUE_DESC_LOW:
	case VIRTIO_MMIO_QUEUE_DESC_HIGH:
	case VIRTIO_MMIO_QUEUE_AVAIL_LOW:
	case VIRTIO_MMIO_QUEUE_AVAIL_HIGH:
	case VIRTIO_MMIO_QUEUE_USED_LOW:
	case VIRTIO_MMIO_QUEUE_USED_HIGH:
		write_queue_reg(t, offset, val);
		return -2;
	}
	count_error(t); /* read-only or unknown register (including legacy ones) */
	return -2;
}

void virtio_mmio_write(struct virtio_mmio *t, uint64_t offset, const uint8_t *data, uint32_t len)
{
	int kick = -2;
	uint32_t val;

	pthread_mutex_lock(&t->lock);
	if (offset >= VIRTIO_MMIO_CONFIG) {
		if (offset < LAYOUT_VIRTIO_MMIO_SIZE && len <= 8 && t->ops->config_write)
			t->ops->config_write(t->dev, (uint32_t)(offset - VIRTIO_MMIO_CONFIG), data,
			                     len);
	} else if (len == 4 && offset % 4 == 0) {
		memcpy(&val, data, 4);
		kick = write_reg(t, offset, val);
	} else {
		count_error(t);
	}
	pthread_mutex_unlock(&t->lock);
	if (kick != -2)
		t->env.kick(t->env.opaque, kick);
}

/* ---- event-loop side ---- */

/* Forgets every queue and resets the device (loop thread). */
static void reset_device(struct virtio_mmio *t)
{
	for (unsigned i = 0; i < t->nqueues; i++)
		virtq_reset(&t->queues[i]);
	t->active = false;
	t->features = 0;
	if (t->ops->reset)
		t->ops->reset(t->dev);
}

/* Sets up the queues the driver made ready from a snapshot of the registers, then starts the
 * device and looks at every queue once (buffers may have been posted before DRIVER_OK). */
static void activate_device(struct virtio_mmio *t, uint64_t features,
                            const struct virtio_mmio_queue_regs *regs)
{
	for (unsigned i = 0; i < t->nqueues; i++) {
		virtq_reset(&t->queues[i]);
		if (regs[i].ready &&
		    virtq_setup(&t->queues[i], t->mem, &regs[i].cfg, features, &t->errors) < 0)
			count_error(t); /* cannot happen: checked at QueueReady */
	}
	t->features = features;
	if (t->ops->activate(t->dev, features) < 0) {
		virtio_mmio_needs_reset(t);
		return;
	}
	t->active = true;
	for (unsigned i = 0; i < t->nqueues; i++)
		if (virtq_ready(&t->queues[i]))
			t->ops->queue_notify(t->dev, i);
}

void virtio_mmio_handle_control(struct virtio_mmio *t)
{
	struct virtio_mmio_queue_regs regs[VIRTIO_MMIO_MAX_QUEUES];
	bool reset, activate;
	uint64_t features = 0;

	if (!atomic_load(&t->reset_pending) && !atomic_load(&t->activate_pending))
		return;
	pthread_mutex_lock(&t->lock);
	reset = atomic_exchange(&t->reset_pending, false);
	activate = atomic_exchange(&t->activate_pending, false);
	if (activate) {
		memcpy(regs, t->qregs, sizeof(regs));
		features = t->driver_features;
	}
	pthread_mutex_unlock(&t->lock);
	if (reset || activate)
		reset_device(t);
	if (activate)
		activate_device(t, features, regs);
}

void virtio_mmio_handle_notify(struct virtio_mmio *t, unsigned qidx)
{
	virtio_mmio_handle_control(t);
	if (!t->active || qidx >= t->nqueues || !virtq_ready(&t->queues[qidx]))
		return;
	t->ops->queue_notify(t->dev, qidx);
}

void virtio_mmio_reset(struct virtio_mmio *t)
{
	pthread_mutex_lock(&t->lock);
	reset_registers(t);
	atomic_store(&t->reset_pending, false);
	pthread_mutex_unlock(&t->lock);
	reset_device(t);
}

static void raise_interrupt(struct virtio_mmio *t, uint32_t bits)
{
	atomic_fetch_or(&t->interrupt_status, bits);
	t->env.irq(t->env.opaque);
}

void virtio_mmio_signal_used(struct virtio_mmio *t, unsigned qidx)
{
	if (qidx < t->nqueues && virtq_should_notify(&t->queues[qidx]))
		raise_interrupt(t, VIRTIO_MMIO_INT_VRING);
}

void virtio_mmio_signal_config(struct virtio_mmio *t)
{
	bool running;

	pthread_mutex_lock(&t->lock);
	atomic_fetch_add(&t->config_generation, 1);
	running = t->status & VIRTIO_CONFIG_S_DRIVER_OK;
	pthread_mutex_unlock(&t->lock);
	if (running)
		raise_interrupt(t, VIRTIO_MMIO_INT_CONFIG);
}

void virtio_mmio_needs_reset(struct virtio_mmio *t)
{
	bool running;

	pthread_mutex_lock(&t->lock);
	t->status |= VIRTIO_CONFIG_S_NEEDS_RESET;
	running = t->status & VIRTIO_CONFIG_S_DRIVER_OK;
	pthread_mutex_unlock(&t->lock);
	count_error(t);
	if (running)
		raise_interrupt(t, VIRTIO_MMIO_INT_CONFIG);
}
