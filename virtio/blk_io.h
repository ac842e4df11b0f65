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
 *
 * Completion: the engine calls io->complete(req, err) exactly once per submitted request,
 * with err 0 (all req->len bytes moved, or the flush done) or -errno. A read that hits end
 * of file before len is -EIO (the device checked the range against the capacity, so the file
 * shrank under us). For Sync the call happens inside submit(); for Async inside
 * process_completions() or drain(). complete() may free req.
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
	int (*set_fd)(struct blk_io *io, int fd);
	void (*destroy)(struct blk_io *io);
};

struct blk_io {
	const struct blk_io_ops *ops;
	int fd;       /* backing file (owned by the device, not the engine) */
	int event_fd; /* readable when completions wait; -1 for Sync */
	unsigned inflight;
	blk_io_complete_fn complete;
	void *opaque; /* the device's */
};

/* Engines. 0 and *out, or -errno (a message for the user is the caller's). */
int blk_io_sync_create(int fd, blk_io_complete_fn complete, void *opaque, struct blk_io **out);
/* depth: most requests in flight at once (the queue size). */
int blk_io_uring_create(int fd, unsigned depth, blk_io_complete_fn complete, void *opaque,
                        struct blk_io **out);

/* Advances iov/iovcnt past n bytes (after a short transfer). */
void blk_io_iov_advance(struct iovec **iov, unsigned *iovcnt, uint64_t n);

#endif
