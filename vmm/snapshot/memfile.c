/*
 * memfile.c - sparse writing and checking of a snapshot's memory file (memfile.h).
 */
#include "vmm/snapshot/memfile.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static bool page_is_zero(const uint8_t *p)
{
	static const uint8_t zeros[MEMFILE_PAGE];

	return memcmp(p, zeros, MEMFILE_PAGE) == 0;
}

static int write_all(int fd, off_t off, const uint8_t *p, size_t len)
{
	while (len) {
		ssize_t n = pwrite(fd, p, len, off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO;
		p += n;
		off += n;
		len -= (size_t)n;
	}
	return 0;
}

int memfile_data_range(int fd, off_t from, off_t limit, off_t *start, off_t *end)
{
	off_t data, hole;

	if (from >= limit)
		return 0;
	data = lseek(fd, from, SEEK_DATA);
	if (data < 0)
		return errno == ENXIO ? 0 : -errno;
	if (data >= limit)
		return 0;
	hole = lseek(fd, data, SEEK_HOLE);
	*start = data;
	*end = hole < 0 || hole > limit ? limit : hole;
	return 1;
}

/* Scans mem[start, start + len) page by page: data pages go out in runs, zero pages stay holes. */
static int write_scanned(int fd, off_t off, const uint8_t *mem, size_t start, size_t len,
                         struct memfile_stats *stats)
{
	size_t run_start = 0, run_len = 0;
	int rc;

	for (size_t at = start; at < start + len; at += MEMFILE_PAGE) {
		if (!page_is_zero(mem + at)) {
			if (!run_len)
				run_start = at;
			run_len += MEMFILE_PAGE;
			stats->pages_written++;
			continue;
		}
		stats->pages_holes++;
		if (run_len) {
			rc = write_all(fd, off + (off_t)run_start, mem + run_start, run_len);
			if (rc < 0)
				return rc;
			run_len = 0;
		}
	}
	if (run_len)
		return write_all(fd, off + (off_t)run_start, mem + run_start, run_len);
	return 0;
}

/* Only the data ranges of src_fd are scanned: its holes are pages never written, zeros that need
 * not even be read (reading them would fault each one in). */
static int write_data_ranges(int fd, off_t off, const uint8_t *mem, size_t size, int src_fd,
                             struct memfile_stats *stats)
{
	off_t pos = 0, data, hole;
	int found, rc;

	while ((found = memfile_data_range(src_fd, pos, (off_t)size, &data, &hole)) > 0) {
		data &= ~(off_t)(MEMFILE_PAGE - 1);
		hole = (hole + MEMFILE_PAGE - 1) & ~(off_t)(MEMFILE_PAGE - 1);
		if ((size_t)hole > size)
			hole = (off_t)size;
		stats->pages_holes += (size_t)(data - pos) / MEMFILE_PAGE;
		rc = write_scanned(fd, off, mem, (size_t)data, (size_t)(hole - data), stats);
		if (rc < 0)
			return rc;
		pos = hole;
	}
	if (found < 0) /* no SEEK_DATA here: read the rest */
		return write_scanned(fd, off, mem, (size_t)pos, size - (size_t)pos, stats);
	stats->pages_holes += (size - (size_t)pos) / MEMFILE_PAGE;
	return 0;
}

int memfile_write_region(int fd, off_t off, const uint8_t *mem, size_t size, int src_fd,
                         struct memfile_stats *stats)
{
	int rc;

	if (size % MEMFILE_PAGE || off % MEMFILE_PAGE)
		return -EINVAL;
	rc = src_fd >= 0 ? write_data_ranges(fd, off, mem, size, src_fd, stats)
	                 : write_scanned(fd, off, mem, 0, size, stats);
	if (rc < 0)
		return rc;
	/* The holes at the end exist only once the file is that long. */
	{
		struct stat st;

		if (fstat(fd, &st) < 0)
			return -errno;
		if (st.st_size < off + (off_t)size && ftruncate(fd, off + (off_t)size) < 0)
			return -errno;
	}
	return 0;
}

int memfile_write_pages(int fd, const uint8_t *mem, size_t size, const uint64_t *bitmap,
                        struct memfile_stats *stats)
{
	size_t pages = size / MEMFILE_PAGE, run = 0, n = 0;
	int rc;

	if (size % MEMFILE_PAGE)
		return -EINVAL;
	for (size_t pg = 0; pg <= pages; pg++) {
		bool marked = pg < pages && (bitmap[pg / 64] >> (pg % 64) & 1);

		if (marked) {
			if (!n)
				run = pg;
			n++;
			stats->pages_written++;
			continue;
		}
		if (pg < pages)
			stats->pages_holes++;
		if (n) {
			rc = write_all(fd, (off_t)(run * MEMFILE_PAGE), mem + run * MEMFILE_PAGE,
			               n * MEMFILE_PAGE);
			if (rc < 0)
				return rc;
			n = 0;
		}
	}
	if (ftruncate(fd, (off_t)size) < 0)
		return -errno;
	return 0;
}

int memfile_merge(int base_fd, int diff_fd, char *err, size_t errlen)
{
	struct stat b, d;
	off_t pos = 0, data, hole;
	int found;
	static uint8_t buf[1 << 20];

	if (fstat(base_fd, &b) < 0 || fstat(diff_fd, &d) < 0) {
		snprintf(err, errlen, "cannot stat: %s", strerror(errno));
		return -1;
	}
	if (!S_ISREG(b.st_mode) || !S_ISREG(d.st_mode) || b.st_size != d.st_size) {
		snprintf(
		    err, errlen,
		    "the base (%lld bytes) and the diff (%lld bytes) are not memory files of one "
		    "machine",
		    (long long)b.st_size, (long long)d.st_size);
		return -1;
	}
	while ((found = memfile_data_range(diff_fd, pos, d.st_size, &data, &hole)) > 0) {
		for (off_t at = data; at < hole;) {
			size_t want =
			    (size_t)(hole - at) < sizeof(buf) ? (size_t)(hole - at) : sizeof(buf);
			ssize_t n = pread(diff_fd, buf, want, at);
			int rc;

			if (n <= 0) {
				snprintf(err, errlen, "reading the diff at %lld: %s", (long long)at,
				         n < 0 ? strerror(errno) : "short file");
				return -1;
			}
			rc = write_all(base_fd, at, buf, (size_t)n);
			if (rc < 0) {
				snprintf(err, errlen, "writing the base at %lld: %s", (long long)at,
				         strerror(-rc));
				return -1;
			}
			at += n;
		}
		pos = hole;
	}
	if (found < 0) {
		snprintf(err, errlen, "the diff's data ranges (SEEK_DATA): %s", strerror(-found));
		return -1;
	}
	if (fsync(base_fd) < 0) {
		snprintf(err, errlen, "fsync of the base: %s", strerror(errno));
		return -1;
	}
	return 0;
}

int memfile_check(int fd, uint64_t ram_size, char *err, size_t errlen)
{
	struct stat st;

	if (fstat(fd, &st) < 0) {
		snprintf(err, errlen, "cannot stat the memory file: %s", strerror(errno));
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "the memory file is not a regular file");
		return -1;
	}
	if ((uint64_t)st.st_size != ram_size) {
		snprintf(err, errlen,
		         "the memory file holds %llu bytes, the machine has %llu bytes of RAM",
		         (unsigned long long)st.st_size, (unsigned long long)ram_size);
		return -1;
	}
	return 0;
}
