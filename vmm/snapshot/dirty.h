/*
 * dirty.h - which pages of guest RAM changed since the last snapshot, for Diff snapshots
 * (machine-config track_dirty_pages).
 *
 * Two sources, one bitmap (guest_mem.dirty): KVM's dirty log for what the vCPUs wrote (the
 * memory slots carry KVM_MEM_LOG_DIRTY_PAGES), and wisp's own writes, marked where they
 * happen (virtq.c: every device-writable buffer handed to a device, every used-ring update).
 * A snapshot collects the first into the second (dirty_collect: KVM's log is cleared by the
 * read), writes the marked pages, and clears the bitmap only once its files are complete, so a
 * failed snapshot loses nothing for the next one.
 *
 * Event-loop thread; the vCPUs paused for dirty_collect.
 */
#ifndef WISP_SNAPSHOT_DIRTY_H
#define WISP_SNAPSHOT_DIRTY_H

#include <stdbool.h>
#include <stddef.h>

struct vm;

/* Starts tracking for vm (its slots already carry the dirty-log flag): the bitmap, and for
 * freshly built RAM every page wisp wrote so far (kernel, initrd, boot tables: the data
 * ranges of the RAM's memfd). A VM restored from a snapshot starts clean: its RAM is that
 * snapshot. 0, or -1 with a message logged. */
int dirty_start(struct vm *vm, bool fresh);
/* ORs every slot's KVM dirty log into the bitmap (and so clears KVM's). 0, or -1 with one
 * sentence in err (the bitmap keeps what it had). */
int dirty_collect(struct vm *vm, char *err, size_t errlen);
/* After a snapshot whose files are complete: nothing is dirty any more. */
void dirty_clear(struct vm *vm);

#endif
