/*
 * i8042.c - minimal 8042 keyboard controller at ports 0x60 (data) and 0x64 (status/command).
 *
 * Provided: the reset line (command 0xFE, or bit 0 cleared through "write output port" 0xD1),
 * the controller command byte (0x20/0x60), self-tests (0xAA -> 0x55, 0xAB -> 0x00) so that
 * Linux's i8042 driver is content, and keyboard data for Ctrl+Alt+Del (PUT /actions
 * SendCtrlAltDel). Anything else is accepted and ignored. A guest reset stops the VM with exit
 * code 0, as a microVM has nothing to reboot into.
 *
 * Metrics (Firecracker's "i8042" group): port reads and writes, resets, data-port reads with
 * nothing queued (missed_read_count) and bytes lost to a full queue (missed_write_count).
 */
#include "vmm/legacy/i8042.h"
#include "vmm/device.h"
#include "vmm/layout.h"
#include "vmm/log.h"
#include "vmm/metrics.h"
#include "vmm/snapshot/snapfile.h"
#include "vmm/vm.h"

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define I8042_STATUS_OBF    0x01 /* output buffer full: data waits at 0x60 */
#define I8042_STATUS_SYS    0x04 /* system flag: self-test passed */
#define I8042_STATUS_CMD    0x08 /* last write was to the command port */
#define I8042_CMD_READ_CB   0x20
#define I8042_CMD_WRITE_CB  0x60
#define I8042_CMD_SELF_TEST 0xaa
#define I8042_CMD_KBD_TEST  0xab
#define I8042_CMD_WRITE_OUT 0xd1
#define I8042_CMD_RESET     0xfe
#define I8042_CB_KBD_INT    0x01 /* command byte: keyboard interrupt enabled */
#define I8042_QUEUE         16

struct i8042 {
	pthread_mutex_t lock;
	struct vm *vm;
	uint8_t status;
	uint8_t command_byte;
	uint8_t pending_cmd; /* command waiting for its data byte at 0x60, or 0 */
	uint8_t queue[I8042_QUEUE];
	unsigned qhead, qlen;
	atomic_ulong read_count, write_count, reset_count, missed_read_count, missed_write_count;
};

/* The "i8042" group, Firecracker's names. */
static const struct metrics_field i8042_metrics[] = {
    {"read_count", offsetof(struct i8042, read_count)},
    {"write_count", offsetof(struct i8042, write_count)},
    {"reset_count", offsetof(struct i8042, reset_count)},
    {"missed_read_count", offsetof(struct i8042, missed_read_count)},
    {"missed_write_count", offsetof(struct i8042, missed_write_count)},
};
#define I8042_NMETRICS (sizeof(i8042_metrics) / sizeof(i8042_metrics[0]))

static void i8042_push(struct i8042 *k, uint8_t b)
{
	if (k->qlen < I8042_QUEUE) {
		k->queue[(k->qhead + k->qlen) % I8042_QUEUE] = b;
		k->qlen++;
	} else {
		atomic_fetch_add(&k->missed_write_count, 1);
	}
	k->status |= I8042_STATUS_OBF;
}

static void i8042_reset_guest(struct i8042 *k)
{
	log_info("i8042: guest requested reset");
	atomic_fetch_add(&k->reset_count, 1);
	vm_request_stop(k->vm, 0);
}

static void i8042_read(void *dev, uint64_t offset, uint8_t *data, uint32_t len)
{
	struct i8042 *k = dev;

	memset(data, 0, len);
	atomic_fetch_add(&k->read_count, 1);
	pthread_mutex_lock(&k->lock);
	if (offset == PORT_I8042_CMD - PORT_I8042_DATA) {
		data[0] = k->status;
	} else if (offset == 0 && k->qlen) {
		data[0] = k->queue[k->qhead];
		k->qhead = (k->qhead + 1) % I8042_QUEUE;
		if (--k->qlen == 0)
			k->status &= ~I8042_STATUS_OBF;
	} else if (offset == 0) {
		atomic_fetch_add(&k->missed_read_count, 1);
	}
	pthread_mutex_unlock(&k->lock);
}

static void i8042_command(struct i8042 *k, uint8_t cmd)
{
	switch (cmd) {
	case I8042_CMD_READ_CB:
		i8042_push(k, k->command_byte);
		break;
	case I8042_CMD_WRITE_CB:
	case I8042_CMD_WRITE_OUT:
		k->pending_cmd = cmd;
		break;
	case I8042_CMD_SELF_TEST:
		i8042_push(k, 0x55);
		break;
	case I8042_CMD_KBD_TEST:
		i8042_push(k, 0x00);
		break;
	case I8042_CMD_RESET:
		i8042_reset_guest(k);
		break;
	default:
		break; /* enable/disable ports, LEDs...: accepted and ignored */
	}
}

static void i8042_write(void *dev, uint64_t offset, const uint8_t *data, uint32_t len)
{
	struct i8042 *k = dev;
	uint8_t v = data[0];

	(void)len;
	atomic_fetch_add(&k->write_count, 1);
	pthread_mutex_lock(&k->lock);
	if (offset == PORT_I8042_CMD - PORT_I8042_DATA) {
		k->status |= I8042_STATUS_CMD;
		i8042_command(k, v);
	} else if (offset == 0) {
		k->status &= ~I8042_STATUS_CMD;
		if (k->pending_cmd == I8042_CMD_WRITE_CB)
			k->command_byte = v;
		else if (k->pending_cmd == I8042_CMD_WRITE_OUT && !(v & 1))
			i8042_reset_guest(k); /* output port bit 0 is the CPU reset line */
		k->pending_cmd = 0;
	}
	pthread_mutex_unlock(&k->lock);
}

static void i8042_destroy(void *dev)
{
	struct i8042 *k = dev;

	metrics_unregister_fields(i8042_metrics, I8042_NMETRICS, k);
	pthread_mutex_destroy(&k->lock);
	free(k);
}

/* Snapshot: status, command byte, a command waiting for data, queued output ("KBDC"). */
#define SNAP_TAG_I8042 0x4344424bu /* "KBDC" */

static int i8042_save(void *dev, struct snap_writer *w, char *err, size_t errlen)
{
	struct i8042 *k = dev;
	uint8_t b[4 + I8042_QUEUE];

	pthread_mutex_lock(&k->lock);
	b[0] = k->status;
	b[1] = k->command_byte;
	b[2] = k->pending_cmd;
	b[3] = (uint8_t)k->qlen;
	for (unsigned i = 0; i < k->qlen; i++)
		b[4 + i] = k->queue[(k->qhead + i) % I8042_QUEUE];
	pthread_mutex_unlock(&k->lock);
	snap_begin(w, SNAP_TAG_I8042, 0);
	snap_put(w, b, 4 + b[3]);
	snap_end(w);
	if (w->failed)
		snprintf(err, errlen, "i8042: the state file cannot grow");
	return w->failed ? -1 : 0;
}

static int i8042_restore(void *dev, const struct snap_reader *r, char *err, size_t errlen)
{
	struct i8042 *k = dev;
	struct snap_section s;

	if (!snap_find(r, SNAP_TAG_I8042, 0, &s) || s.len < 4 || s.data[3] > I8042_QUEUE ||
	    s.len != 4u + s.data[3]) {
		snprintf(err, errlen, "i8042 state: missing or malformed");
		return -1;
	}
	pthread_mutex_lock(&k->lock);
	k->status = s.data[0];
	k->command_byte = s.data[1];
	k->pending_cmd = s.data[2];
	k->qhead = 0;
	k->qlen = s.data[3];
	memcpy(k->queue, s.data + 4, k->qlen);
	pthread_mutex_unlock(&k->lock);
	return 0;
}

static const struct device_ops i8042_ops = {
    .name = "i8042",
    .read = i8042_read,
    .write = i8042_write,
    .destroy = i8042_destroy,
    .save = i8042_save,
    .restore = i8042_restore,
};

int i8042_send_ctrl_alt_del(struct vm *vm)
{
	/* Scan code set 1 (what the guest sees with the controller's translation on):
	 * Ctrl, Alt, Del (extended) pressed, then released in reverse order. */
	static const uint8_t seq[] = {0x1d, 0x38, 0xe0, 0x53, 0xe0, 0xd3, 0xb8, 0x9d};
	struct i8042 *k = NULL;

	for (unsigned i = 0; i < vm->ndevices; i++)
		if (vm->devices[i].ops == &i8042_ops)
			k = vm->devices[i].dev;
	if (!k)
		return -1;
	pthread_mutex_lock(&k->lock);
	for (size_t i = 0; i < sizeof(seq); i++)
		i8042_push(k, seq[i]);
	pthread_mutex_unlock(&k->lock);
	/* An edge on IRQ 1. */
	vm_irq_line(vm, PORT_I8042_IRQ, true);
	vm_irq_line(vm, PORT_I8042_IRQ, false);
	return 0;
}

static int i8042_create(struct vm *vm)
{
	struct i8042 *k = calloc(1, sizeof(*k));

	if (!k)
		return -1;
	pthread_mutex_init(&k->lock, NULL);
	k->vm = vm;
	k->status = I8042_STATUS_SYS;
	k->command_byte = I8042_CB_KBD_INT | 0x40; /* keyboard interrupt, translation on */
	metrics_register_fields("i8042", i8042_metrics, I8042_NMETRICS, k);
	/* One range covers 0x60-0x64 so offsets tell data from command; 0x61 (speaker) is
	 * answered in the kernel by KVM's PIT (KVM_PIT_SPEAKER_DUMMY) before any exit reaches us,
	 * and 0x62/0x63 read as zero here. */
	if (bus_register(&vm->pio, PORT_I8042_DATA, PORT_I8042_CMD - PORT_I8042_DATA + 1,
	                 &i8042_ops, k) < 0) {
		i8042_destroy(k);
		return -1;
	}
	return vm_add_device(vm, &i8042_ops, k);
}

static const struct device_type i8042_type = {.name = "i8042", .order = 10, .create = i8042_create};
DEVICE_TYPE(i8042_type);
