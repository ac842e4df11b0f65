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

int memfile_write_region(int fd, off_t off, const uint8_t *mem, size_t size,
                         struct memfile_stats *stats)
{
	size_t run_start = 0, run_len = 0;
	int rc;

	if (size % MEMFILE_PAGE || off % MEMFILE_PAGE)
		return -EINVAL;
	for (size_t at = 0; at < size; at += MEMFILE_PAGE) {
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
	if (run_len) {
		rc = write_all(fd, off + (off_t)run_start, mem + run_start, run_len);
		if (rc < 0)
			return rc;
	}
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
