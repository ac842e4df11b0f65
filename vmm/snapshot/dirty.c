/*
 * dirty.c - dirty-page tracking for Diff snapshots (dirty.h).
 */
#include "vmm/snapshot/dirty.h"

#include <errno.h>
#include <linux/kvm.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "vmm/log.h"
#include "vmm/snapshot/memfile.h"
#include "vmm/vm.h"

/* Marks the data ranges of RAM's memfd: the pages that were ever written. */
static void mark_written(struct guest_mem *mem)
{
	off_t pos = 0, data, hole;
	int found;

	while ((found = memfile_data_range(mem->memfd, pos, (off_t)mem->size, &data, &hole)) > 0) {
		guest_mem_mark_dirty(mem, mem->base + data, (uint64_t)(hole - data));
		pos = hole;
	}
	if (found < 0) /* the file system cannot say: everything may have been written */
		guest_mem_mark_dirty(mem, mem->base + pos, mem->size - (uint64_t)pos);
}

int dirty_start(struct vm *vm, bool fresh)
{
	if (guest_mem_track_dirty(&vm->mem) < 0) {
		log_error("track_dirty_pages: no memory for the dirty bitmap");
		return -1;
	}
	if (fresh)
		mark_written(&vm->mem);
	return 0;
}

int dirty_collect(struct vm *vm, char *err, size_t errlen)
{
	struct guest_mem *mem = &vm->mem;

	if (!mem->dirty) {
		snprintf(err, errlen,
		         "dirty pages are not tracked (machine-config track_dirty_pages)");
		return -1;
	}
	for (unsigned i = 0; i < mem->nslots; i++) {
		const struct guest_mem_slot *s = &mem->slots[i];
		uint64_t pages = s->size / GUEST_MEM_PAGE, words = (pages + 63) / 64;
		uint64_t first = (uint64_t)(s->host - mem->base) / GUEST_MEM_PAGE;
		uint64_t *log = calloc(words, sizeof(uint64_t));
		struct kvm_dirty_log d = {.slot = i, .dirty_bitmap = log};

		if (!log) {
			snprintf(err, errlen, "no memory for the dirty log");
			return -1;
		}
		if (ioctl(vm->vm_fd, KVM_GET_DIRTY_LOG, &d) < 0) {
			snprintf(err, errlen, "KVM_GET_DIRTY_LOG (slot %u): %s", i,
			         strerror(errno));
			free(log);
			return -1;
		}
		/* Slots start on whole words of the bitmap (RAM sizes are whole MiB). */
		for (uint64_t w = 0; w < words; w++)
			mem->dirty[first / 64 + w] |= log[w];
		free(log);
	}
	return 0;
}

void dirty_clear(struct vm *vm)
{
	if (vm->mem.dirty)
		memset(vm->mem.dirty, 0, guest_mem_dirty_words(&vm->mem) * sizeof(uint64_t));
}
