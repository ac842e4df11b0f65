/*
 * boot_timer.c - Firecracker's boot-timer device: how long the guest took to reach user space.
 *
 * One MMIO page at LAYOUT_BOOT_TIMER. The guest's init writes the byte LAYOUT_BOOT_TIMER_MAGIC
 * (123) at offset 0 once user space is up (busybox: `devmem 0xcffff000 8 123`; rootfs-tools/init
 * does it), and wisp logs, at info level,
 *   guest boot time: N ms since process start, M ms since InstanceStart
 * once: the first such write. Later magic writes are counted (boot_timer.repeats); any other
 * write (another value, offset or width) is ignored and counted (boot_timer.bad_writes), with
 * one debug line for the first. Reads return zeros. Never an exit: this is guest input.
 */
#include "vmm/device.h"
#include "vmm/layout.h"
#include "vmm/log.h"
#include "vmm/metrics.h"
#include "vmm/snapshot/snapfile.h"
#include "vmm/vm.h"
#include <stdio.h>

#include <stdlib.h>
#include <string.h>

struct boot_timer {
	struct vm *vm;
	atomic_bool reported;
	atomic_ulong repeats;
	atomic_ulong bad_writes;
};

static void boot_timer_read(void *dev, uint64_t offset, uint8_t *data, uint32_t len)
{
	(void)dev;
	(void)offset;
	memset(data, 0, len);
}

static void boot_timer_write(void *dev, uint64_t offset, const uint8_t *data, uint32_t len)
{
	struct boot_timer *t = dev;
	long long now = log_clock_ns();

	if (offset != 0 || len != 1 || data[0] != LAYOUT_BOOT_TIMER_MAGIC) {
		if (atomic_fetch_add(&t->bad_writes, 1) == 0)
			log_debug("boot timer: ignored write of %u bytes at offset 0x%llx", len,
			          (unsigned long long)offset);
		return;
	}
	if (atomic_exchange(&t->reported, true)) {
		atomic_fetch_add(&t->repeats, 1);
		return;
	}
	log_info("guest boot time: %lld ms since process start, %lld ms since InstanceStart",
	         now / 1000000, (now - t->vm->start_requested_ns) / 1000000);
}

static void boot_timer_destroy(void *dev)
{
	struct boot_timer *t = dev;

	metrics_unregister(&t->repeats);
	metrics_unregister(&t->bad_writes);
	free(t);
}

/* Snapshot: whether the boot time was reported already ("BTMR"): a restored guest's later
 * writes are repeats, not a new boot. */
#define SNAP_TAG_BOOT_TIMER 0x524d5442u /* "BTMR" */

static int boot_timer_save(void *dev, struct snap_writer *w, char *err, size_t errlen)
{
	struct boot_timer *t = dev;

	snap_begin(w, SNAP_TAG_BOOT_TIMER, 0);
	snap_put_u32(w, atomic_load(&t->reported));
	snap_end(w);
	if (w->failed)
		snprintf(err, errlen, "boot timer: the state file cannot grow");
	return w->failed ? -1 : 0;
}

static int boot_timer_restore(void *dev, const struct snap_reader *r, char *err, size_t errlen)
{
	struct boot_timer *t = dev;
	struct snap_section s;
	struct snap_cursor c;
	uint32_t reported;

	if (!snap_find(r, SNAP_TAG_BOOT_TIMER, 0, &s)) {
		snprintf(err, errlen, "the snapshot has no boot timer state");
		return -1;
	}
	snap_cursor_init(&c, &s);
	reported = snap_get_u32(&c);
	if (!snap_cursor_done(&c) || reported > 1) {
		snprintf(err, errlen, "boot timer state: malformed section");
		return -1;
	}
	atomic_store(&t->reported, reported);
	return 0;
}

static const struct device_ops boot_timer_ops = {
    .name = "boot-timer",
    .read = boot_timer_read,
    .write = boot_timer_write,
    .destroy = boot_timer_destroy,
    .save = boot_timer_save,
    .restore = boot_timer_restore,
};

static int boot_timer_create(struct vm *vm)
{
	struct boot_timer *t = calloc(1, sizeof(*t));

	if (!t)
		return -1;
	t->vm = vm;
	if (bus_register(&vm->mmio, LAYOUT_BOOT_TIMER, LAYOUT_BOOT_TIMER_SIZE, &boot_timer_ops, t) <
	        0 ||
	    vm_add_device(vm, &boot_timer_ops, t) < 0) {
		free(t);
		return -1;
	}
	metrics_register("boot_timer", "repeats", &t->repeats);
	metrics_register("boot_timer", "bad_writes", &t->bad_writes);
	return 0;
}

static const struct device_type boot_timer_type = {
    .name = "boot-timer", .order = 13, .create = boot_timer_create};
DEVICE_TYPE(boot_timer_type);
