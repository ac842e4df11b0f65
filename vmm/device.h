/*
 * device.h - what every emulated device provides, and how devices register themselves.
 *
 * A device is one .c file with one const struct device_ops. Its instances are created by the
 * device type's create() hook, which main() never names: device types are collected in the
 * "wisp_device_types" linker section by DEVICE_TYPE(), and vm_create_devices() runs them in
 * ascending .order. create() reads what it needs from vm->config, registers address ranges
 * on vm->pio / vm->mmio with bus_register() and its instance with vm_add_device().
 *
 * Threads: read()/write() run on vCPU threads, possibly several at once; a device with
 * state guards it with its own lock. Everything else runs on the event-loop thread.
 * Guest-written values are hostile: a bad value is a device error plus a counter, never an
 * abort and never a wisp exit.
 */
#ifndef WISP_DEVICE_H
#define WISP_DEVICE_H

#include <stddef.h>
#include <stdint.h>

struct vm;
struct snap_writer;
struct snap_reader;

struct device_ops {
	const char *name;
	/* Register access at offset from the start of the registered range. data holds len
	 * bytes (1, 2, 4 or 8). read() must fill all len bytes. */
	void (*read)(void *dev, uint64_t offset, uint8_t *data, uint32_t len);
	void (*write)(void *dev, uint64_t offset, const uint8_t *data, uint32_t len);
	/* Back to power-on state (guest reboot, device reset). May be NULL. */
	void (*reset)(void *dev);
	/* Pause/resume the device's event-loop work (VM pause, snapshot). May be NULL. */
	void (*pause)(void *dev);
	void (*resume)(void *dev);
	/* Frees the instance; called once, after all vCPU threads have stopped. May be NULL. */
	void (*destroy)(void *dev);
	/* Snapshot, with every vCPU paused: save() appends the device's state as sections of its
	 * own tag (device_save_nothing for a device without state); restore() puts it back into
	 * a freshly created instance before any vCPU runs. NULL save: a VM with this device
	 * cannot be snapshotted (yet), and says so. 0, or -1 with one sentence in err. */
	int (*save)(void *dev, struct snap_writer *w, char *err, size_t errlen);
	int (*restore)(void *dev, const struct snap_reader *r, char *err, size_t errlen);
};

/* The save() of a device that has no state to carry over (its restore may stay NULL). */
int device_save_nothing(void *dev, struct snap_writer *w, char *err, size_t errlen);

struct device_type {
	const char *name;
	int order; /* creation order, lower first: legacy devices 10, virtio 50 */
	/* Creates this type's instances for vm->config (zero or more). 0 on success; on failure
	 * prints one message naming the device and returns -1. */
	int (*create)(struct vm *vm);
};

#define DEVICE_TYPE(type)                                                                          \
	static const struct device_type *const device_type_ptr_##type                              \
	    __attribute__((used, section("wisp_device_types"), aligned(sizeof(void *)))) = &type

#endif
