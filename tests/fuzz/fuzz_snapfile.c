/*
 * fuzz_snapfile.c - snapshot state files from anywhere: snap_open must refuse or accept any
 * bytes without reading outside them, and every section of an accepted file must read back
 * through a cursor, and through the vCPU, VM and virtio-mmio transport state parsers, within
 * its bounds.
 *
 * Input: the state file itself. Inputs whose last 8 bytes are "RESEAL!!" get a valid CRC over
 * the rest first (and lose the marker), so the fuzzer reaches the checks behind the CRC.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <linux/virtio_ids.h>

#include "virtio/mmio.h"
#include "vmm/snapshot/crc64.h"
#include "vmm/snapshot/snapfile.h"
#include "vmm/snapshot/vcpu_state.h"
#include "vmm/snapshot/vm_state.h"

/* A transport over 64 KiB of "RAM" for the VMIO parser: a restored queue must lie inside. */
static uint64_t no_features(void *dev)
{
	(void)dev;
	return 0;
}

static void zero_config(void *dev, uint32_t off, uint8_t *data, uint32_t len)
{
	(void)dev, (void)off;
	memset(data, 0, len);
}

static const struct virtio_device_ops fuzz_dev_ops = {.name = "fuzz",
                                                      .device_id = VIRTIO_ID_BLOCK,
                                                      .features = no_features,
                                                      .config_read = zero_config};

static void mmio_restore_once(const struct snap_section *s)
{
	static uint8_t ram[65536] __attribute__((aligned(4096)));
	struct virtio_mmio_env env = {0};
	struct guest_mem mem;
	struct virtio_mmio t;
	char err[200];

	guest_mem_init_buffer(&mem, ram, sizeof(ram));
	virtio_mmio_init(&t, &mem, &fuzz_dev_ops, NULL, 2, &env);
	if (virtio_mmio_restore(&t, s, err, sizeof(err)) < 0 && !err[0])
		abort();
	virtio_mmio_fini(&t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *f = malloc(size ? size : 1);
	struct snap_reader r;
	struct snap_section s;
	char err[200];

	if (!f)
		return 0;
	memcpy(f, data, size);
	if (size >= 16 && memcmp(f + size - 8, "RESEAL!!", 8) == 0) {
		uint64_t crc;

		size -= 8;
		crc = crc64_update(0, f, size - 8);
		for (int i = 0; i < 8; i++)
			f[size - 8 + i] = (uint8_t)(crc >> (8 * i));
	}
	if (snap_open(&r, f, size, err, sizeof(err)) == 0) {
		while (snap_next(&r, &s)) {
			struct snap_cursor c;
			uint8_t sink[16];

			if (s.data < f || s.data + s.len > f + size)
				abort();
			/* the restore parsers, on no KVM at all (fd -1): whatever passes their
			 * checks fails at the first ioctl, nothing is read out of bounds */
			if (s.tag == SNAP_TAG_VIRTIO_MMIO || s.tag % 3 == 2)
				mmio_restore_once(&s);
			s.tag = s.tag & 1 ? SNAP_TAG_VCPU : SNAP_TAG_VM;
			(void)(s.tag == SNAP_TAG_VCPU ? vcpu_state_restore(-1, &s, err, sizeof(err))
			                              : vm_state_restore(-1, &s, err, sizeof(err)));
			snap_cursor_init(&c, &s);
			while (!c.bad)
				snap_get(&c, sink, 1 + (s.tag % sizeof(sink)));
		}
		(void)snap_count(&r, 1);
	} else if (!err[0]) {
		abort(); /* a refusal always says why */
	}
	free(f);
	return 0;
}
