/*
 * test_memfile.c - the snapshot memory file (vmm/snapshot/memfile.c): data pages land where
 * they belong, zero pages stay holes (SEEK_DATA/SEEK_HOLE on a tmpfs file), a second region
 * goes at its offset, the size check names both sizes.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/unit/unit.h"
#include "vmm/snapshot/memfile.h"

#define PG MEMFILE_PAGE

UNIT_TEST(memfile_writes_data_pages_and_leaves_zero_pages_holes)
{
	size_t size = 64 * PG;
	uint8_t *mem = calloc(1, size), *back = malloc(size);
	struct memfile_stats st = {0};
	int fd = memfd_create("memfile-test", MFD_CLOEXEC);
	struct stat sb;

	CHECK(mem && back && fd >= 0);
	mem[0] = 1;                         /* page 0 */
	memset(mem + 5 * PG, 0xab, 3 * PG); /* pages 5-7: one run */
	mem[63 * PG + PG - 1] = 7;          /* last byte of the last page */
	CHECK_EQ(memfile_write_region(fd, 0, mem, size, -1, &st), 0);
	CHECK_EQ(st.pages_written, 5);
	CHECK_EQ(st.pages_holes, 59);
	CHECK_EQ(fstat(fd, &sb), 0);
	CHECK_EQ(sb.st_size, size);
	CHECK_EQ(pread(fd, back, size, 0), (ssize_t)size);
	CHECK(memcmp(mem, back, size) == 0);
	/* the zero pages were never written: holes (tmpfs reports them) */
	CHECK_EQ(lseek(fd, 0, SEEK_HOLE), PG);
	CHECK_EQ(lseek(fd, PG, SEEK_DATA), 5 * PG);
	CHECK_EQ(lseek(fd, 5 * PG, SEEK_HOLE), 8 * PG);
	CHECK_EQ(lseek(fd, 8 * PG, SEEK_DATA), 63 * PG);
	CHECK_EQ(sb.st_blocks * 512, 5 * PG);
	close(fd);
	free(mem);
	free(back);
}

/* Guest RAM as wisp has it, a shared memfd mapping: only its data ranges are read. */
UNIT_TEST(memfile_from_a_memfd_reads_only_its_data_ranges)
{
	size_t size = 64 * PG;
	int src = memfd_create("memfile-src", MFD_CLOEXEC),
	    fd = memfd_create("memfile-out", MFD_CLOEXEC);
	struct memfile_stats st = {0};
	uint8_t *mem, *back = malloc(size);
	struct stat sb;

	CHECK(src >= 0 && fd >= 0 && back && ftruncate(src, (off_t)size) == 0);
	mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, src, 0);
	CHECK(mem != MAP_FAILED);
	memset(mem + 3 * PG, 0x5a, 2 * PG); /* pages 3-4 */
	memset(mem + 10 * PG, 0, PG);       /* page 10: allocated, but zeros: still a hole */
	mem[63 * PG] = 9;                   /* the last page */
	CHECK_EQ(memfile_write_region(fd, 0, mem, size, src, &st), 0);
	CHECK_EQ(st.pages_written, 3);
	CHECK_EQ(st.pages_holes, 61);
	CHECK_EQ(fstat(fd, &sb), 0);
	CHECK_EQ(sb.st_size, size);
	CHECK_EQ(sb.st_blocks * 512, 3 * PG);
	/* untouched pages of the source were never faulted in by the scan (a read fault on a
	 * shared memfd hole allocates a page: the memcmp below does) */
	CHECK_EQ(fstat(src, &sb), 0);
	CHECK_EQ(sb.st_blocks * 512, 4 * PG);
	CHECK_EQ(pread(fd, back, size, 0), (ssize_t)size);
	CHECK(memcmp(mem, back, size) == 0);
	munmap(mem, size);
	close(src);
	close(fd);
	free(back);
}

UNIT_TEST(memfile_regions_at_offsets_and_an_all_zero_tail_still_sizes_the_file)
{
	uint8_t *lo = calloc(1, 4 * PG), *hi = calloc(1, 4 * PG);
	struct memfile_stats st = {0};
	int fd = memfd_create("memfile-test", MFD_CLOEXEC);
	uint8_t b = 0;
	char err[160];

	CHECK(lo && hi && fd >= 0);
	hi[PG] = 9;
	CHECK_EQ(memfile_write_region(fd, 0, lo, 4 * PG, -1, &st), 0);
	CHECK_EQ(memfile_write_region(fd, 4 * PG, hi, 4 * PG, -1, &st), 0);
	CHECK_EQ(pread(fd, &b, 1, 5 * PG), 1);
	CHECK_EQ(b, 9);
	CHECK_EQ(memfile_check(fd, 8 * PG, err, sizeof(err)), 0);
	CHECK_EQ(memfile_check(fd, 9 * PG, err, sizeof(err)), -1);
	CHECK_STR_EQ(err, "the memory file holds 32768 bytes, the machine has 36864 bytes of RAM");
	/* an all-zero region alone still makes the file its size */
	CHECK_EQ(ftruncate(fd, 0), 0);
	memset(&st, 0, sizeof(st));
	CHECK_EQ(memfile_write_region(fd, 0, lo, 4 * PG, -1, &st), 0);
	CHECK_EQ(st.pages_written, 0);
	CHECK_EQ(memfile_check(fd, 4 * PG, err, sizeof(err)), 0);
	/* unaligned sizes are refused, a read-only fd reports the write's error */
	CHECK_EQ(memfile_write_region(fd, 0, lo, PG + 1, -1, &st), -EINVAL);
	close(fd);
	fd = open("/dev/null", O_RDONLY);
	CHECK_EQ(memfile_write_region(fd, 0, hi, 4 * PG, -1, &st), -EBADF);
	CHECK_EQ(memfile_check(fd, 0, err, sizeof(err)), -1);
	CHECK_STR_EQ(err, "the memory file is not a regular file");
	close(fd);
	free(lo);
	free(hi);
}

/* A Diff's memory file: exactly the marked pages, zeros included; merged onto a base. */
UNIT_TEST(memfile_diff_pages_and_merge)
{
	size_t size = 64 * PG;
	uint8_t *mem = calloc(1, size), *back = malloc(size);
	uint64_t bitmap[1] = {(1ull << 2) | (1ull << 3) | (1ull << 40)};
	struct memfile_stats st = {0};
	int diff = memfd_create("diff", MFD_CLOEXEC), base = memfd_create("base", MFD_CLOEXEC);
	char err[200];
	struct stat sb;

	CHECK(mem && back && diff >= 0 && base >= 0);
	memset(mem + 2 * PG, 0x11, PG); /* page 2: data; page 3: marked zeros; page 40 data */
	memset(mem + 40 * PG, 0x22, PG);
	memset(mem + 9 * PG, 0x33, PG); /* page 9: changed but not marked: not in the Diff */
	CHECK_EQ(memfile_write_pages(diff, mem, size, bitmap, &st), 0);
	CHECK_EQ(st.pages_written, 3);
	CHECK_EQ(st.pages_holes, 61);
	CHECK_EQ(fstat(diff, &sb), 0);
	CHECK_EQ(sb.st_size, size);
	CHECK_EQ(sb.st_blocks * 512, 3 * PG); /* the zero page 3 is data too */
	/* a base of 0xee everywhere: after the merge, pages 2, 3, 40 are the Diff's */
	memset(back, 0xee, size);
	CHECK_EQ(pwrite(base, back, size, 0), (ssize_t)size);
	CHECK_EQ(memfile_merge(base, diff, err, sizeof(err)), 0);
	CHECK_EQ(pread(base, back, size, 0), (ssize_t)size);
	CHECK_EQ(back[2 * PG], 0x11);
	CHECK_EQ(back[3 * PG + 100], 0);
	CHECK_EQ(back[40 * PG + PG - 1], 0x22);
	CHECK_EQ(back[9 * PG], 0xee);
	CHECK_EQ(back[4 * PG], 0xee);
	/* files of two sizes are refused */
	CHECK_EQ(ftruncate(base, (off_t)size / 2), 0);
	CHECK_EQ(memfile_merge(base, diff, err, sizeof(err)), -1);
	CHECK_CONTAINS(err, "not memory files of one machine");
	close(diff);
	close(base);
	free(mem);
	free(back);
}
