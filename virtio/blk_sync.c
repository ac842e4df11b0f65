/* blk_sync.c - the Sync block engine: preadv/pwritev/fdatasync on the event-loop thread. */
#include "virtio/blk_io.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <unistd.h>

/* Moves the whole request, retrying short transfers and EINTR. 0 or -errno. */
static int sync_rw(struct blk_io *io, struct blk_io_req *req)
{
	while (req->done < req->len) {
		unsigned cnt = req->iovcnt > IOV_MAX ? IOV_MAX : req->iovcnt;
		off_t off = (off_t)(req->offset + req->done);
		int fd = blk_io_route(io, req) ? io->file.buffered_fd : io->file.fd;
		ssize_t n = req->op == BLK_IO_READ ? preadv(fd, req->iov, (int)cnt, off)
		                                   : pwritev(fd, req->iov, (int)cnt, off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EINVAL && blk_io_fall_back(io, req))
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO; /* end of file inside the request: the file shrank */
		req->done += (uint64_t)n;
		blk_io_iov_advance(&req->iov, &req->iovcnt, (uint64_t)n);
	}
	return 0;
}

static int sync_submit(struct blk_io *io, struct blk_io_req *req)
{
	int err;

	if (req->op == BLK_IO_FLUSH)
		err = fdatasync(io->file.fd) < 0 ? -errno : 0;
	else
		err = sync_rw(io, req);
	io->complete(io, req, err);
	return 0;
}

static void sync_nothing(struct blk_io *io)
{
	(void)io;
}

static int sync_set_file(struct blk_io *io, const struct blk_io_file *file)
{
	io->file = *file;
	return 0;
}

static void sync_destroy(struct blk_io *io)
{
	free(io);
}

static const struct blk_io_ops sync_ops = {
    .name = "Sync",
    .submit = sync_submit,
    .flush = sync_nothing,
    .process_completions = sync_nothing,
    .drain = sync_nothing,
    .set_file = sync_set_file,
    .destroy = sync_destroy,
};

int blk_io_sync_create(const struct blk_io_file *file, blk_io_complete_fn complete, void *opaque,
                       struct blk_io **out)
{
	struct blk_io *io = calloc(1, sizeof(*io));

	if (!io)
		return -ENOMEM;
	*io = (struct blk_io){.ops = &sync_ops,
	                      .file = *file,
	                      .event_fd = -1,
	                      .complete = complete,
	                      .opaque = opaque};
	*out = io;
	return 0;
}
