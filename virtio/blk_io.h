/*
 * blk_io.h - the I/O engines behind virtio-blk (Firecracker's io_engine: Sync and Async).
 *
 * An engine moves bytes between a backing file and iovecs that point straight into guest RAM
 * (built by virtio-blk from guest_mem-checked chains: no payload copies). Two backends, one
 * file each:
 *   blk_sync.c   Sync: preadv/pwritev/fdatasync, done before submit() returns.
 *   blk_uring.c  Async: io_uring (liburing) with the file registered as fixed file 0 and an
 *                eventfd registered for completions; many requests in flight; a short
 *                read/write is resubmitted for the remainder.
 * and blk_io.c, what both share: iovec advance, the O_DIRECT routing.
 *
 * Completion: the engine calls io->complete(req, err) exactly once per submitted request,
 * with err 0 (all req->len bytes moved, or the flush done) or -errno. A read that hits end
 * of file before len is -EIO (the device checked the range against the capacity, so the file
 * shrank under us). For Sync the call happens inside submit(); for Async inside
 * process_completions() or drain(). complete() may free req.
 *
 * O_DIRECT (cache_type Direct): the file is open twice, with O_DIRECT (file.fd) and without
 * (file.buffered_fd). O_DIRECT takes only requests whose file offset and iovec lengths are
 * multiples of file.off_align and whose iovec addresses are multiples of file.mem_align; guest
 * buffers need not be, so blk_io_route() sends any other request (and one the kernel refuses
 * with EINVAL all the same) through buffered_fd. Linux keeps the two coherent: a direct read
 * writes back dirty cached pages of its range first, a direct write invalidates them. A flush
 * (fdatasync) works on the file, through either fd.
 *
 * Threads: an engine belongs to one device and runs on the event-loop thread (or one test
 * thread); no locks.
 */
#ifndef WISP_BLK_IO_H
#define WISP_BLK_IO_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

enum blk_io_op { BLK_IO_READ, BLK_IO_WRITE, BLK_IO_FLUSH };

struct blk_io_req {
	enum blk_io_op op;
	uint64_t offset;   /* file offset in bytes */
	uint64_t len;      /* bytes over iov[0..iovcnt) */
	uint64_t done;     /* bytes moved so far (the engine's) */
	struct iovec *iov; /* engine may advance it in place for a resubmission */
	unsigned iovcnt;
	bool buffered; /* the engine's: the rest goes through file.buffered_fd (never unset) */
};

/* The backing file as the engine sees it (fds owned by the device, not the engine). */
struct blk_io_file {
	int fd;                        /* O_DIRECT when buffered_fd >= 0 */
	int buffered_fd;               /* the same file without O_DIRECT, or -1 (no O_DIRECT) */
	unsigned mem_align, off_align; /* O_DIRECT's alignment (powers of two); 0 without */
};

struct blk_io;
typedef void (*blk_io_complete_fn)(struct blk_io *io, struct blk_io_req *req, int err);

struct blk_io_ops {
	const char *name; /* "Sync", "Async" */
	/* Starts req. 0: complete() will be (or was) called. -errno: not started, no
	 * complete() call; the caller fails the request. */
	int (*submit)(struct blk_io *io, struct blk_io_req *req);
	/* Hands queued submissions to the kernel (call once after a batch). */
	void (*flush)(struct blk_io *io);
	/* Handles finished requests (call when event_fd is readable). */
	void (*process_completions)(struct blk_io *io);
	/* Blocks until nothing is in flight, completing everything (reset, file swap). */
	void (*drain)(struct blk_io *io);
	/* Switches to another backing file; nothing may be in flight. 0 or -errno. */
	int (*set_file)(struct blk_io *io, const struct blk_io_file *file);
	void (*destroy)(struct blk_io *io);
};

struct blk_io {
	const struct blk_io_ops *ops;
	struct blk_io_file file;
	int event_fd; /* readable when completions wait; -1 for Sync */
	unsigned inflight;
	blk_io_complete_fn complete;
	void *opaque; /* the device's */
};

/* Engines. 0 and *out, or -errno (a message for the user is the caller's). */
int blk_io_sync_create(const struct blk_io_file *file, blk_io_complete_fn complete, void *opaque,
                       struct blk_io **out);
/* depth: most requests in flight at once (the queue size). */
int blk_io_uring_create(const struct blk_io_file *file, unsigned depth, blk_io_complete_fn complete,
                        void *opaque, struct blk_io **out);

/*
 * Which fd the rest of req (from offset + done) goes through: file.fd when there is no
 * buffered_fd or O_DIRECT can take it (see above), else file.buffered_fd, and then req stays
 * buffered. Returns the index: 0 for file.fd, 1 for buffered_fd (Async's fixed files).
 */
unsigned blk_io_route(struct blk_io *io, struct blk_io_req *req);
/* After O_DIRECT refused req with EINVAL: true if it can go buffered instead (req now is). */
bool blk_io_fall_back(struct blk_io *io, struct blk_io_req *req);

/* Advances iov/iovcnt past n bytes (after a short transfer). */
void blk_io_iov_advance(struct iovec **iov, unsigned *iovcnt, uint64_t n);

#endif
