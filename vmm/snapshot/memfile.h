/*
 * memfile.h - a snapshot's memory file: guest RAM, region after region in guest-physical order,
 * written sparsely (a page of zeros is left a hole, so never-touched RAM costs no disk and a
 * restore's MAP_PRIVATE mapping faults it in as zeros).
 */
#ifndef WISP_MEMFILE_H
#define WISP_MEMFILE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define MEMFILE_PAGE 4096u

struct memfile_stats {
	uint64_t pages_written; /* pages holding data */
	uint64_t pages_holes;   /* pages of zeros, left as holes */
};

/* Writes mem[0..size) at file offset off of fd (a regular file opened for writing; size and off
 * multiples of MEMFILE_PAGE) and extends the file to off + size. Runs of data pages go out in
 * one pwrite each. src_fd >= 0: mem is a MAP_SHARED mapping of src_fd from its offset 0 (guest
 * RAM's memfd), whose holes are read as zeros without touching them (SEEK_DATA/SEEK_HOLE), so
 * RAM the guest never touched costs neither a read nor a page fault; -1: every page is read.
 * 0, or -errno. */
int memfile_write_region(int fd, off_t off, const uint8_t *mem, size_t size, int src_fd,
                         struct memfile_stats *stats);

/* The first data range of fd at or after from, below limit (SEEK_DATA / SEEK_HOLE): 1 and
 * [*start, *end), 0 when only holes remain, or -errno (e.g. the file system cannot say). */
int memfile_data_range(int fd, off_t from, off_t limit, off_t *start, off_t *end);

/* A Diff snapshot's memory file: the pages of mem[0..size) whose bit is set in bitmap (bit n:
 * page n), zeros or not, at their own offsets in fd (empty, opened for writing); every other
 * page a hole. The file is size bytes long, so a merge (tests, Firecracker's rebase-snap
 * semantics: copy the data ranges onto the base) finds exactly the pages written. 0, or
 * -errno. */
int memfile_write_pages(int fd, const uint8_t *mem, size_t size, const uint64_t *bitmap,
                        struct memfile_stats *stats);

/* Merges a Diff snapshot's memory file onto its base (wisp-rebase-snap): every data range of
 * diff_fd is copied to the same offset of base_fd; both must be regular files of one size.
 * 0, or -1 with one sentence in err (the base may then hold part of the diff). */
int memfile_merge(int base_fd, int diff_fd, char *err, size_t errlen);

/* Checks that fd can back ram_size bytes of RAM: a regular file of exactly that size. 0, or -1
 * with one sentence in err. */
int memfile_check(int fd, uint64_t ram_size, char *err, size_t errlen);

#endif
