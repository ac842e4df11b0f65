/* blk_io.c - what both block engines share (blk_io.h): iovec advance and the O_DIRECT routing
 * of cache_type Direct drives (which descriptor a request goes through). */
#include "virtio/blk_io.h"

#include <stdint.h>

void blk_io_iov_advance(struct iovec **iov, unsigned *iovcnt, uint64_t n)
{
	while (*iovcnt && n >= (*iov)->iov_len) {
		n -= (*iov)->iov_len;
		(*iov)++;
		(*iovcnt)--;
	}
	if (*iovcnt && n) {
		(*iov)->iov_base = (uint8_t *)(*iov)->iov_base + n;
		(*iov)->iov_len -= n;
	}
}

/* Whether O_DIRECT can take the rest of req (blk_io.h: offset, lengths, addresses). */
static bool direct_aligned(const struct blk_io_file *f, const struct blk_io_req *req)
{
	if ((req->offset + req->done) % f->off_align)
		return false;
	for (unsigned i = 0; i < req->iovcnt; i++)
		if ((uintptr_t)req->iov[i].iov_base % f->mem_align ||
		    req->iov[i].iov_len % f->off_align)
			return false;
	return true;
}

unsigned blk_io_route(struct blk_io *io, struct blk_io_req *req)
{
	if (io->file.buffered_fd < 0)
		return 0;
	if (!req->buffered && req->op != BLK_IO_FLUSH && !direct_aligned(&io->file, req))
		req->buffered = true;
	return req->buffered ? 1 : 0;
}

bool blk_io_fall_back(struct blk_io *io, struct blk_io_req *req)
{
	if (io->file.buffered_fd < 0 || req->buffered || req->op == BLK_IO_FLUSH)
		return false;
	req->buffered = true;
	return true;
}
