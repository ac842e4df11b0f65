/*
 * blk_uring.c - the Async block engine: io_uring through liburing.
 *
 * The backing file is registered as fixed file 0, and its buffered twin as 1 (blk_io.h: O_DIRECT;
 * fixed files mean no fd lookup per request) and an eventfd is registered for completions; the
 * device watches io->event_fd on the event loop. A request's user_data is its struct blk_io_req.
 * Short reads/writes are resubmitted for the rest of the request (the iovecs advance in place), so
 * the device only ever sees whole requests.
 */
#include "virtio/blk_io.h"

#include <errno.h>
#include <liburing.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

struct uring_io {
	struct blk_io io; /* first: the device sees this */
	struct io_uring ring;
	unsigned queued; /* SQEs prepared but not submitted */
};

static struct uring_io *to_uring(struct blk_io *io)
{
	return (struct uring_io *)io;
}

/* A free SQE, submitting what is queued if the submission ring is full. */
static struct io_uring_sqe *get_sqe(struct uring_io *u)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&u->ring);

	if (!sqe && u->queued) {
		io_uring_submit(&u->ring);
		u->queued = 0;
		sqe = io_uring_get_sqe(&u->ring);
	}
	return sqe;
}

/* Queues the rest of req (or the flush). 0 or -errno. */
static int queue_req(struct uring_io *u, struct blk_io_req *req)
{
	struct io_uring_sqe *sqe = get_sqe(u);
	unsigned cnt = req->iovcnt;
	uint64_t off = req->offset + req->done;
	unsigned file = blk_io_route(&u->io, req); /* fixed file 0: fd, 1: buffered_fd */

	if (!sqe)
		return -EBUSY;
	if (req->op == BLK_IO_FLUSH)
		io_uring_prep_fsync(sqe, 0, IORING_FSYNC_DATASYNC);
	else if (req->op == BLK_IO_READ)
		io_uring_prep_readv(sqe, (int)file, req->iov, cnt, off);
	else
		io_uring_prep_writev(sqe, (int)file, req->iov, cnt, off);
	sqe->flags |= IOSQE_FIXED_FILE;
	io_uring_sqe_set_data(sqe, req);
	u->queued++;
	return 0;
}

static int uring_submit(struct blk_io *io, struct blk_io_req *req)
{
	int err = queue_req(to_uring(io), req);

	if (err == 0)
		io->inflight++;
	return err;
}

static void uring_flush(struct blk_io *io)
{
	struct uring_io *u = to_uring(io);

	if (u->queued) {
		io_uring_submit(&u->ring);
		u->queued = 0;
	}
}

/* One CQE: finishes req, or resubmits the remainder of a short transfer. */
static void handle_cqe(struct uring_io *u, struct blk_io_req *req, int res)
{
	int err = 0;

	if (res >= 0 && req->op != BLK_IO_FLUSH) {
		if (res == 0 && req->done < req->len) {
			err = -EIO; /* end of file inside the request */
		} else {
			req->done += (uint64_t)res;
			blk_io_iov_advance(&req->iov, &req->iovcnt, (uint64_t)res);
			if (req->done < req->len && (err = queue_req(u, req)) == 0)
				return;
		}
	} else if (res == -EINTR || res == -EAGAIN ||
	           (res == -EINVAL && blk_io_fall_back(&u->io, req))) {
		if ((err = queue_req(u, req)) == 0)
			return;
	} else if (res < 0) {
		err = res;
	}
	u->io.inflight--;
	u->io.complete(&u->io, req, err);
}

static void reap(struct uring_io *u)
{
	struct io_uring_cqe *cqe;

	while (io_uring_peek_cqe(&u->ring, &cqe) == 0) {
		struct blk_io_req *req = io_uring_cqe_get_data(cqe);
		int res = cqe->res;

		io_uring_cqe_seen(&u->ring, cqe);
		handle_cqe(u, req, res);
	}
}

static void uring_process_completions(struct blk_io *io)
{
	struct uring_io *u = to_uring(io);
	uint64_t v;
	/* The eventfd is only a doorbell (EAGAIN is fine); the CQ ring is the truth. */
	ssize_t n = read(io->event_fd, &v, sizeof(v));

	(void)n;
	reap(u);
	uring_flush(io); /* resubmissions of short transfers */
}

static void uring_drain(struct blk_io *io)
{
	struct uring_io *u = to_uring(io);

	while (io->inflight) {
		struct io_uring_cqe *cqe;

		uring_flush(io);
		if (io_uring_wait_cqe(&u->ring, &cqe) < 0)
			continue; /* -EINTR: wait again */
		reap(u);
	}
	uring_flush(io);
}

/* The two fixed files: fd, and buffered_fd (fd again when there is none). */
static void fixed_files(const struct blk_io_file *file, int fds[2])
{
	fds[0] = file->fd;
	fds[1] = file->buffered_fd >= 0 ? file->buffered_fd : file->fd;
}

static int uring_set_file(struct blk_io *io, const struct blk_io_file *file)
{
	struct uring_io *u = to_uring(io);
	int fds[2], rc;

	fixed_files(file, fds);
	rc = io_uring_register_files_update(&u->ring, 0, fds, 2);
	if (rc < 0)
		return rc;
	io->file = *file;
	return 0;
}

static void uring_destroy(struct blk_io *io)
{
	struct uring_io *u = to_uring(io);

	uring_drain(io);
	io_uring_queue_exit(&u->ring);
	close(io->event_fd);
	free(u);
}

static const struct blk_io_ops uring_ops = {
    .name = "Async",
    .submit = uring_submit,
    .flush = uring_flush,
    .process_completions = uring_process_completions,
    .drain = uring_drain,
    .set_file = uring_set_file,
    .destroy = uring_destroy,
};

int blk_io_uring_create(const struct blk_io_file *file, unsigned depth, blk_io_complete_fn complete,
                        void *opaque, struct blk_io **out)
{
	struct uring_io *u = calloc(1, sizeof(*u));
	int rc, fds[2];

	if (!u)
		return -ENOMEM;
	u->io = (struct blk_io){
	    .ops = &uring_ops, .file = *file, .complete = complete, .opaque = opaque};
	fixed_files(file, fds);
	u->io.event_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (u->io.event_fd < 0) {
		rc = -errno;
		free(u);
		return rc;
	}
	rc = io_uring_queue_init(depth ? depth : 1, &u->ring, 0);
	if (rc < 0)
		goto fail_eventfd;
	rc = io_uring_register_files(&u->ring, fds, 2);
	if (rc == 0)
		rc = io_uring_register_eventfd(&u->ring, u->io.event_fd);
	if (rc < 0)
		goto fail_ring;
	*out = &u->io;
	return 0;
fail_ring:
	io_uring_queue_exit(&u->ring);
fail_eventfd:
	close(u->io.event_fd);
	free(u);
	return rc;
}
