/* guest_mem.c - guest RAM layout and the checked accessor (see guest_mem.h). */
#include "vmm/guest_mem.h"
#include "vmm/layout.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <asm-generic/hugetlb_encode.h> /* MFD_HUGE_2MB without linux/memfd.h, which clashes with sys/mman.h */
#include <linux/userfaultfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

static void layout_slots(struct guest_mem *mem, uint8_t *base, uint64_t size)
{
	uint64_t low = size < LAYOUT_MMIO_HOLE ? size : LAYOUT_MMIO_HOLE;

	mem->base = base;
	mem->size = size;
	mem->private_file = false;
	mem->dirty = NULL;
	mem->uffd = -1;
	mem->nslots = 1;
	mem->slots[0] = (struct guest_mem_slot){.gpa = 0, .size = low, .host = base, .file_off = 0};
	if (size > low) {
		mem->nslots = 2;
		mem->slots[1] = (struct guest_mem_slot){.gpa = LAYOUT_HIGH_RAM,
		                                        .size = size - low,
		                                        .host = base + low,
		                                        .file_off = low};
	}
}

static int guest_mem_init_memfd(struct guest_mem *mem, uint64_t size, bool huge)
{
	int fd, err;
	void *base;

	/* RAM above the hole ends at LAYOUT_HIGH_RAM + size - LAYOUT_MMIO_HOLE; keep it below the
	 * GPA limit. config_validate() enforces the same bound with a message. */
	if (size == 0 || size > LAYOUT_GPA_LIMIT - LAYOUT_HIGH_RAM + LAYOUT_MMIO_HOLE ||
	    (huge && size % GUEST_MEM_HUGE_PAGE))
		return -EINVAL;
	fd = memfd_create("wisp-guest-ram",
	                  MFD_CLOEXEC | (huge ? MFD_HUGETLB | HUGETLB_FLAG_ENCODE_2MB : 0));
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)size) < 0)
		goto fail;
	/* MAP_NORESERVE: pages are allocated on first touch by the guest, not up front. Huge
	 * pages are reserved from the pool at mmap instead (no MAP_NORESERVE), so a pool too
	 * small fails here with ENOMEM rather than with a SIGBUS when the guest touches RAM. */
	base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | (huge ? 0 : MAP_NORESERVE), fd,
	            0);
	if (base == MAP_FAILED)
		goto fail;
	layout_slots(mem, base, size);
	mem->memfd = fd;
	mem->huge = huge;
	return 0;
fail:
	err = -errno;
	close(fd);
	return err;
}

int guest_mem_init(struct guest_mem *mem, uint64_t size)
{
	return guest_mem_init_memfd(mem, size, false);
}

int guest_mem_init_huge(struct guest_mem *mem, uint64_t size)
{
	return guest_mem_init_memfd(mem, size, true);
}

int guest_mem_init_file(struct guest_mem *mem, int fd, uint64_t size)
{
	void *base;
	int dup_fd;

	if (size == 0 || size > LAYOUT_GPA_LIMIT - LAYOUT_HIGH_RAM + LAYOUT_MMIO_HOLE)
		return -EINVAL;
	/* MAP_PRIVATE: the guest's writes go to its own copies of the pages; the file, and every
	 * other VM restored from it, never sees them. Untouched pages stay the page cache's. */
	base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_NORESERVE, fd, 0);
	if (base == MAP_FAILED)
		return -errno;
	dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (dup_fd < 0) {
		int err = -errno;

		munmap(base, size);
		return err;
	}
	layout_slots(mem, base, size);
	mem->memfd = dup_fd;
	mem->private_file = true;
	return 0;
}

int guest_mem_init_uffd(struct guest_mem *mem, uint64_t size)
{
	struct uffdio_api api = {.api = UFFD_API};
	struct uffdio_register reg = {.mode = UFFDIO_REGISTER_MODE_MISSING};
	void *base;
	int fd, err;

	if (size == 0 || size > LAYOUT_GPA_LIMIT - LAYOUT_HIGH_RAM + LAYOUT_MMIO_HOLE)
		return -EINVAL;
	fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
	            -1, 0);
	if (base == MAP_FAILED) {
		err = -errno;
		close(fd);
		return err;
	}
	reg.range.start = (uint64_t)(uintptr_t)base;
	reg.range.len = size;
	if (ioctl(fd, UFFDIO_API, &api) < 0 || ioctl(fd, UFFDIO_REGISTER, &reg) < 0) {
		err = -errno;
		munmap(base, size);
		close(fd);
		return err;
	}
	layout_slots(mem, base, size);
	mem->memfd = -1;
	mem->uffd = fd;
	return 0;
}

void guest_mem_init_buffer(struct guest_mem *mem, void *buf, uint64_t size)
{
	layout_slots(mem, buf, size);
	mem->memfd = -1;
	mem->uffd = -1;
}

int guest_mem_track_dirty(struct guest_mem *mem)
{
	if (!mem->dirty)
		mem->dirty = calloc(guest_mem_dirty_words(mem), sizeof(uint64_t));
	return mem->dirty ? 0 : -ENOMEM;
}

void guest_mem_mark_dirty_range(const struct guest_mem *mem, const void *host, uint64_t len)
{
	const uint8_t *p = host;
	uint64_t first, last;

	/* Only pointers this file handed out reach here; anything else is ignored, not trusted. */
	if (p < mem->base || p >= mem->base + mem->size ||
	    len > mem->size - (uint64_t)(p - mem->base))
		return;
	first = (uint64_t)(p - mem->base) / GUEST_MEM_PAGE;
	last = ((uint64_t)(p - mem->base) + len - 1) / GUEST_MEM_PAGE;
	for (uint64_t pg = first; pg <= last; pg++)
		mem->dirty[pg / 64] |= 1ull << (pg % 64);
}

void guest_mem_destroy(struct guest_mem *mem)
{
	free(mem->dirty);
	if (mem->memfd >= 0 || mem->uffd >= 0)
		munmap(mem->base, mem->size);
	if (mem->memfd >= 0)
		close(mem->memfd);
	if (mem->uffd >= 0)
		close(mem->uffd);
	memset(mem, 0, sizeof(*mem));
	mem->memfd = -1;
	mem->uffd = -1;
}

void *guest_mem_ptr(const struct guest_mem *mem, uint64_t gpa, uint64_t len)
{
	for (unsigned i = 0; i < mem->nslots; i++) {
		const struct guest_mem_slot *s = &mem->slots[i];

		/* Written so that no sum can overflow: gpa - s->gpa <= s->size, then len fits. */
		if (gpa < s->gpa || gpa - s->gpa > s->size)
			continue;
		if (len > s->size - (gpa - s->gpa))
			return NULL;
		return s->host + (gpa - s->gpa);
	}
	return NULL;
}

bool guest_mem_range_ok(const struct guest_mem *mem, uint64_t gpa, uint64_t len)
{
	return guest_mem_ptr(mem, gpa, len) != NULL;
}

int guest_mem_read(const struct guest_mem *mem, uint64_t gpa, void *dst, uint64_t len)
{
	void *p = guest_mem_ptr(mem, gpa, len);

	if (!p)
		return -1;
	memcpy(dst, p, len);
	return 0;
}

int guest_mem_write(const struct guest_mem *mem, uint64_t gpa, const void *src, uint64_t len)
{
	void *p = guest_mem_ptr(mem, gpa, len);

	if (!p)
		return -1;
	memcpy(p, src, len);
	return 0;
}

int guest_mem_zero(const struct guest_mem *mem, uint64_t gpa, uint64_t len)
{
	uint8_t *p = guest_mem_ptr(mem, gpa, len);
	uint64_t head, pages, page;

	if (!p)
		return -1;
	/* Only wisp's own shared memfd may lose pages: punching a snapshot's file (mapped
	 * MAP_PRIVATE) would change it under every VM restored from it. */
	if (mem->memfd < 0 || mem->private_file) {
		memset(p, 0, len);
		return 0;
	}
	/* hugetlbfs punches whole huge pages only (and leaves a partial one as it was). */
	page = mem->huge ? GUEST_MEM_HUGE_PAGE : GUEST_MEM_PAGE;
	head = (page - (uint64_t)(p - mem->base) % page) % page;
	if (head > len)
		head = len;
	pages = (len - head) / page * page;
	memset(p, 0, head);
	/* The mapping is the whole file from offset 0, so a host offset is a file offset. */
	if (pages && fallocate(mem->memfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
	                       (off_t)(p + head - mem->base), (off_t)pages) < 0)
		memset(p + head, 0, pages); /* a kernel without hole punching in shmem */
	memset(p + head + pages, 0, len - head - pages);
	return 0;
}

uint64_t guest_mem_low_end(const struct guest_mem *mem)
{
	return mem->slots[0].size;
}
