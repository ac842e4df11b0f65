/*
 * snapshot.h - a whole VM to a snapshot (state file and memory file) and back
 * (docs/snapshot-format.md).
 *
 * The state file holds, after the container's header: the machine section ("MACH": vCPU
 * count, RAM size, smt, no-ACPI), the devices as configured ("DEVS": drives and network
 * interfaces in Firecracker's JSON, so that the restoring process builds the same devices in
 * the same virtio-mmio slots), each device's own sections (device_ops.save), the VM section
 * (vm_state.h) and one vCPU section per vCPU (vcpu_state.h). The memory file is guest RAM
 * (memfile.h).
 *
 * Event-loop thread, with every vCPU paused (create) or not yet started (restore).
 */
#ifndef WISP_SNAPSHOT_H
#define WISP_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmm/snapshot/snapfile.h"

struct vm;

#define SNAP_TAG_MACHINE 0x4843414du /* "MACH" */
#define SNAP_TAG_DEVICES 0x53564544u /* "DEVS": drives and interfaces as configured (JSON) */

/* What the machine section says: enough to build the VM again. */
struct snapshot_machine {
	unsigned vcpu_count;
	uint64_t mem_size_mib;
	bool smt, no_acpi, track_dirty_pages;
	bool diff; /* a Diff snapshot: its memory file must be merged onto its base first */
	/* {"drives": [...], "network-interfaces": [...]} (config_json_devices_dump), not
	 * NUL-terminated; points into the image's buffer. */
	const char *devices_json;
	size_t devices_json_len;
};

/* A state file read and checked whole (snap_open), its machine section parsed. */
struct snapshot_image {
	uint8_t *buf;
	size_t len;
	struct snap_reader reader;
	struct snapshot_machine machine;
};

/* Writes vm (paused) to state_path and its RAM to mem_path: all of it (Full), or with diff only
 * the pages dirtied since the last snapshot, or since boot (dirty.h; needs
 * track_dirty_pages). Each file is written under a temporary name next to it and renamed when
 * complete: a failure leaves neither behind, and the dirty pages stay marked. 0, or -1 with
 * one sentence in err. */
int snapshot_create(struct vm *vm, const char *state_path, const char *mem_path, bool diff,
                    char *err, size_t errlen);

/* Reads and checks state_path. 0, or -1 with one sentence in err (nothing kept). */
int snapshot_read(const char *state_path, struct snapshot_image *img, char *err, size_t errlen);
void snapshot_image_free(struct snapshot_image *img);

/* Puts the saved VM, vCPU and device state into vm, built by vm_create_from_snapshot() for
 * img->machine (no vCPU has run). 0, or -1 with one sentence in err. */
int snapshot_restore(struct vm *vm, const struct snapshot_image *img, char *err, size_t errlen);

#endif
