/*
 * blk.h - virtio-blk: one device per configured drive, backed by a raw image file.
 *
 * The device type (DEVICE_TYPE in blk.c) creates the drives of vm->config at VM build time,
 * the root device first so that the guest sees it as /dev/vda. What follows is what the rest
 * of wisp may call after boot, and the hooks tests and fuzzers use to drive one device without
 * KVM.
 *
 * Threads: everything here runs on the event-loop thread (or one test thread).
 */
#ifndef WISP_VIRTIO_BLK_H
#define WISP_VIRTIO_BLK_H

#include <stddef.h>

#include "virtio/mmio.h"
#include "vmm/config.h"
#include "vmm/guest_mem.h"

struct vm;
struct evloop;
struct blk_dev;

/*
 * PATCH /drives/{id} after boot: swaps the backing file of drive_id for path (NULL keeps it;
 * the file is opened with the drive's read-only mode and its size gives the new capacity,
 * announced to the guest with a config-change interrupt) and/or replaces its rate limiter
 * (NULL keeps it). Requests in flight finish on the old file first.
 * 0, or -1 with a one-line reason in err (the drive is unchanged then).
 */
int blk_update(struct vm *vm, const char *drive_id, const char *path,
               const struct rate_limiter_config *limiter, char *err, size_t errlen);

/*
 * Opens cfg's backing file as the device would and closes it again: PUT /drives uses it to
 * refuse, at configuration time, what InstanceStart would fail on (cache_type Direct on a file
 * system without O_DIRECT). 0, or -1 with a one-line reason naming the drive in err.
 */
int blk_check_drive(const struct drive_config *cfg, char *err, size_t errlen);

/* ---- for tests and fuzzers ---- */

/* The virtio device ops of virtio-blk (dev is a struct blk_dev *). */
extern const struct virtio_device_ops blk_virtio_ops;

/* Opens cfg's file and sets up the engine (Async falls back to Sync when io_uring is not
 * available). loop may be NULL: then nothing is watched and blk_dev_poll() reaps Async
 * completions. NULL with a one-line reason in err on failure. */
struct blk_dev *blk_dev_new(const struct drive_config *cfg, const struct guest_mem *mem,
                            struct evloop *loop, char *err, size_t errlen);
/* Connects the device to its transport (before the driver can activate it). */
void blk_dev_attach(struct blk_dev *b, struct virtio_mmio *t);
/* Waits for every Async request in flight and completes it (tests without a loop). */
void blk_dev_poll(struct blk_dev *b);
void blk_dev_free(struct blk_dev *b);

#endif
