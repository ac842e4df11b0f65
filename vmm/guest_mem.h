/*
 * guest_mem.h - guest RAM and the one checked accessor for it.
 *
 * Guest RAM is one memfd mapped once in wisp (so a snapshot can save or map it back) and exposed to
 * KVM as up to two slots: [0, low_size) and, when RAM does not fit below the 32-bit MMIO hole,
 * [4 GiB, 4 GiB + high_size). The memfd offset of a guest-physical address is its position in
 * that sequence, so the mapping has no hole.
 *
 * Contract: nothing outside guest_mem.c computes a host pointer from a guest-physical address.
 * Every access goes through guest_mem_ptr()/guest_mem_read()/guest_mem_write(), which check
 * address, length, overflow and that the range lies inside one slot. A failed check is an
 * ordinary outcome (NULL or -1), never an abort: guests reach these paths.
 */
#ifndef WISP_GUEST_MEM_H
#define WISP_GUEST_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct guest_mem_slot {
	uint64_t gpa;      /* first guest-physical address */
	uint64_t size;     /* bytes */
	uint8_t *host;     /* host address of gpa */
	uint64_t file_off; /* offset of gpa in the memfd */
};

struct guest_mem {
	int memfd; /* backing file (memfd), -1 for anonymous test memory */
	/* memfd is a snapshot's memory file mapped MAP_PRIVATE: the guest's writes are not in it,
	 * so its holes say nothing about RAM (otherwise they are RAM never touched). */
	bool private_file;
	/* RAM is on 2 MiB hugetlbfs pages (guest_mem_init_huge). */
	bool huge;
	/* guest_mem_init_uffd: RAM is anonymous memory registered with this userfaultfd (its
	 * missing pages are a page-fault handler's to fill); -1 otherwise. */
	int uffd;
	/* Diff snapshots (guest_mem_track_dirty): one bit per GUEST_MEM_PAGE of the mapping (bit
	 * n: bytes [n * 4096, n * 4096 + 4096) from base), set for pages written since the last
	 * snapshot by wisp itself (virtqueue buffers given to devices, used rings) and, when a
	 * snapshot collects it, by the vCPUs (KVM's dirty log ORed in). NULL: not tracked.
	 * Event-loop thread only. */
	uint64_t *dirty;
	uint8_t *base; /* whole mapping, size bytes */
	uint64_t size; /* total RAM bytes */
	unsigned nslots;
	struct guest_mem_slot slots[2];
};

/* Lays out size bytes of RAM around the MMIO hole, creates the memfd and maps it.
 * Returns 0, or -errno with nothing left allocated. */
int guest_mem_init(struct guest_mem *mem, uint64_t size);
/* The same on 2 MiB hugetlbfs pages (size a multiple of 2 MiB): -ENOMEM when the host's pool
 * (vm.nr_hugepages) has fewer free pages than size needs, checked up front (MAP_POPULATE is
 * not used: a fault on a missing huge page would be a SIGBUS at guest run time). */
int guest_mem_init_huge(struct guest_mem *mem, uint64_t size);
/* Same layout over a snapshot's memory file fd (size bytes, checked by the caller), mapped
 * MAP_PRIVATE: pages fault in from the file as the guest touches them, and its writes stay its
 * own. memfd becomes a duplicate of fd. 0, or -errno with nothing left mapped. */
int guest_mem_init_file(struct guest_mem *mem, int fd, uint64_t size);
/* Same layout over anonymous private memory registered with a new userfaultfd for missing-page
 * faults (mem->uffd): Firecracker's Uffd snapshot backend, where a handler process fills each
 * page on first touch. memfd is -1. 0, or -errno with nothing left. */
int guest_mem_init_uffd(struct guest_mem *mem, uint64_t size);
/* Same layout over caller-provided host memory (unit tests, fuzzers); memfd = -1. */
void guest_mem_init_buffer(struct guest_mem *mem, void *buf, uint64_t size);
void guest_mem_destroy(struct guest_mem *mem);

#define GUEST_MEM_PAGE      4096u
#define GUEST_MEM_HUGE_PAGE (2u << 20)

/* Words of the dirty bitmap (RAM sizes are whole MiB, so whole words per slot). */
static inline uint64_t guest_mem_dirty_words(const struct guest_mem *mem)
{
	return (mem->size / GUEST_MEM_PAGE + 63) / 64;
}
/* Starts the dirty bitmap, all clear. 0 or -ENOMEM. */
int guest_mem_track_dirty(struct guest_mem *mem);
/* Marks the pages of [host, host + len), a pointer guest_mem_ptr() returned, as written. */
void guest_mem_mark_dirty_range(const struct guest_mem *mem, const void *host, uint64_t len);
static inline void guest_mem_mark_dirty(const struct guest_mem *mem, const void *host, uint64_t len)
{
	if (mem->dirty && host && len)
		guest_mem_mark_dirty_range(mem, host, len);
}

/* Host pointer for [gpa, gpa+len) when it lies wholly inside one RAM slot, else NULL.
 * len 0 is valid when gpa is inside RAM or at the end of a slot. */
void *guest_mem_ptr(const struct guest_mem *mem, uint64_t gpa, uint64_t len);
/* Copy to/from guest RAM; 0 on success, -1 when the range is not wholly RAM. */
int guest_mem_read(const struct guest_mem *mem, uint64_t gpa, void *dst, uint64_t len);
int guest_mem_write(const struct guest_mem *mem, uint64_t gpa, const void *src, uint64_t len);
/*
 * Zeroes [gpa, gpa+len); 0 on success, -1 when the range is not wholly RAM. For RAM in wisp's
 * own memfd the whole pages of the range are punched out of the file rather than written
 * (fallocate PUNCH_HOLE): they read as zeros and cost no host memory until the guest touches
 * them, so a kernel's bss (the test guest's is 1.7 MiB) is not allocated for every VM. Partial
 * pages, a snapshot's file mapped privately and plain buffers are memset. Before seccomp only
 * (the vmm filter does not allow fallocate): the loaders call it while the VM is built.
 */
int guest_mem_zero(const struct guest_mem *mem, uint64_t gpa, uint64_t len);
/* True when [gpa, gpa+len) is wholly inside one slot. */
bool guest_mem_range_ok(const struct guest_mem *mem, uint64_t gpa, uint64_t len);
/* End of RAM below the MMIO hole (the top of "low" RAM; Linux's initrd goes below it). */
uint64_t guest_mem_low_end(const struct guest_mem *mem);

#endif
