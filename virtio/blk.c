/*
 * blk.c - virtio-blk device (virtio spec 5.2) over a raw image file.
 *
 * A request is one descriptor chain: a 16-byte struct virtio_blk_outhdr the device reads, data
 * (read by the device for T_OUT, written for T_IN and T_GET_ID) and a status byte the device
 * writes, last. Framing is free (VIRTIO_F_ANY_LAYOUT is implied by VERSION_1): the header,
 * data and status may be split over descriptors any way, so the request is parsed as two byte
 * streams, the readable one and the writable one, and data iovecs are slices of them.
 *
 * Flow (event-loop thread): queue notify -> pop chains -> parse -> rate limiter -> engine
 * (blk_io.h) -> completion -> status byte, used ring -> interrupt. With the Async engine many
 * requests are in flight; at most the queue size, so the io_uring rings never overflow.
 *
 * A malformed request is the guest's problem, not ours: it gets VIRTIO_BLK_S_IOERR when its
 * status byte can be found (used length 1), else it is returned with used length 0; either
 * way invalid_reqs counts it and the device carries on.
 */
#include "virtio/blk.h"
#include "virtio/blk_io.h"
#include "virtio/ratelimit.h"
#include "virtio/virtq.h"
#include "vmm/device.h"
#include "vmm/evloop.h"
#include "vmm/log.h"
#include "vmm/metrics.h"
#include "vmm/snapshot/snapfile.h"
#include "vmm/vm.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_ids.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#define BLK_SECTOR     512u
#define BLK_SEG_MAX    (VIRTQ_MAX_SIZE - 2) /* data segments: a chain also has header + status */
#define BLK_HDR_SIZE   sizeof(struct virtio_blk_outhdr)
#define BLK_METRIC_GRP (CONFIG_ID_MAX + 8) /* "block_" + id */

/* Counters, registered as group "block_<id>". */
struct blk_stats {
	atomic_ulong read_count;
	atomic_ulong write_count;
	atomic_ulong flush_count;
	atomic_ulong get_id_count;
	atomic_ulong read_bytes;
	atomic_ulong write_bytes;
	atomic_ulong io_errors;    /* the host failed a well-formed request */
	atomic_ulong invalid_reqs; /* the guest sent a malformed or refused request */
	atomic_ulong rate_limiter_throttled_events;
	atomic_ulong update_count;
	atomic_ulong update_fails;
	atomic_ulong queue_event_count; /* queue notifications from the guest */
	atomic_ulong no_avail_buffer;   /* a notification that found no request */
	atomic_ulong activate_fails;    /* DRIVER_OK refused (no queue) */
};

struct blk_dev {
	struct blk_dev *next; /* blk_devices list, for blk_update() */
	struct vm *vm;        /* NULL in tests */
	struct virtio_mmio *t;
	const struct guest_mem *mem;
	struct evloop *loop; /* NULL in tests */
	char id[CONFIG_ID_MAX + 1];
	char metrics_group[BLK_METRIC_GRP];
	bool metrics_registered;
	struct blk_io_file file; /* fds owned here; the engine has a copy */
	bool read_only;
	enum cache_type cache;
	_Atomic uint64_t capacity; /* sectors; read by config reads on vCPU threads */
	struct blk_io *io;
	bool active;    /* between activate and reset */
	bool resetting; /* completions during a reset drain are dropped */
	struct ratelimit limiter;
	struct blk_request *throttled; /* parsed, waiting for the rate limiter */
	struct virtq_chain chain;      /* scratch for virtq_pop() */
	struct blk_stats stats;
	struct log_ratelimit io_error_log; /* host I/O errors: one line a second at most */
};

/* One request between parse and completion. */
struct blk_request {
	struct blk_io_req io; /* first: the engine hands it back */
	uint32_t type;
	uint16_t head;
	uint8_t *status;   /* host view of the status byte (checked) */
	uint32_t used_len; /* bytes written into the chain when it succeeds */
	unsigned niov;
	struct iovec iov[]; /* data slices */
};

/* Devices alive in this process, for blk_update(). Event-loop thread only. */
static struct blk_dev *blk_devices;

static void count(atomic_ulong *c, uint64_t n)
{
	atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

static struct virtq *blk_queue(struct blk_dev *b)
{
	return virtio_mmio_queue(b->t, 0);
}

/* ---- completing requests ---- */

/* Returns a chain with an error status where there is a status byte to write. */
static void fail_chain(struct blk_dev *b, const struct virtq_chain *c)
{
	uint8_t *status = virtq_chain_tail(c);

	count(&b->stats.invalid_reqs, 1);
	if (status)
		*status = VIRTIO_BLK_S_IOERR;
	virtq_push(blk_queue(b), c->head, status ? 1 : 0);
}

/* Writes the status, returns the chain and frees r. */
static void finish(struct blk_dev *b, struct blk_request *r, uint8_t status)
{
	*r->status = status;
	virtq_push(blk_queue(b), r->head, status == VIRTIO_BLK_S_OK ? r->used_len + 1 : 1);
	free(r);
}

static void account(struct blk_dev *b, const struct blk_request *r)
{
	switch (r->type) {
	case VIRTIO_BLK_T_IN:
		count(&b->stats.read_count, 1);
		count(&b->stats.read_bytes, r->io.len);
		break;
	case VIRTIO_BLK_T_OUT:
		count(&b->stats.write_count, 1);
		count(&b->stats.write_bytes, r->io.len);
		break;
	case VIRTIO_BLK_T_FLUSH:
		count(&b->stats.flush_count, 1);
		break;
	}
}

static const char *blk_type_name(uint32_t type)
{
	switch (type) {
	case VIRTIO_BLK_T_IN:
		return "read";
	case VIRTIO_BLK_T_OUT:
		return "write";
	case VIRTIO_BLK_T_FLUSH:
		return "flush";
	default:
		return "request";
	}
}

/* Engine completion (blk_io.h contract). */
static void blk_io_done(struct blk_io *io, struct blk_io_req *req, int err)
{
	struct blk_dev *b = io->opaque;
	struct blk_request *r = (struct blk_request *)req;

	if (b->resetting) { /* the driver reset the device: it no longer owns this chain */
		free(r);
		return;
	}
	if (err) {
		unsigned long more;

		count(&b->stats.io_errors, 1);
		if (log_ratelimit_ok(&b->io_error_log, 1000, &more)) {
			char extra[64] = "";

			if (more)
				snprintf(extra, sizeof(extra),
				         " (and %lu more since the last message)", more);
			log_warn(
			    "drive %s: host I/O error on a %s at byte %llu: %s; the guest gets "
			    "IOERR%s",
			    b->id, blk_type_name(r->type), (unsigned long long)r->io.offset,
			    strerror(-err), extra);
		}
		finish(b, r, VIRTIO_BLK_S_IOERR);
		return;
	}
	account(b, r);
	finish(b, r, VIRTIO_BLK_S_OK);
}

/* ---- parsing ---- */

/* Copies into dst the iovecs covering bytes [skip, skip + len) of src; returns how many. */
static unsigned iov_slice(const struct iovec *src, unsigned n, uint64_t skip, uint64_t len,
                          struct iovec *dst)
{
	unsigned out = 0;

	for (unsigned i = 0; i < n && len; i++) {
		uint64_t take;

		if (skip >= src[i].iov_len) {
			skip -= src[i].iov_len;
			continue;
		}
		take = src[i].iov_len - skip;
		if (take > len)
			take = len;
		dst[out].iov_base = (uint8_t *)src[i].iov_base + skip;
		dst[out].iov_len = take;
		out++;
		len -= take;
		skip = 0;
	}
	return out;
}

/* A request's data must be whole sectors inside the disk. */
static bool in_range(struct blk_dev *b, uint64_t sector, uint64_t len)
{
	uint64_t cap = atomic_load(&b->capacity);

	return len % BLK_SECTOR == 0 && sector <= cap && len / BLK_SECTOR <= cap - sector;
}

/* Builds the request for a well-formed chain. Returns NULL after failing the chain itself
 * (malformed, out of range, read-only, unsupported). */
static struct blk_request *parse(struct blk_dev *b, const struct virtq_chain *c)
{
	struct virtio_blk_outhdr hdr;
	const struct iovec *wr = &c->iov[c->nread];
	uint8_t *status = virtq_chain_tail(c);
	uint64_t data_len = 0, data_skip = 0;
	const struct iovec *data_iov = NULL;
	unsigned data_n = 0;
	struct blk_request *r;
	uint32_t type;
	uint64_t sector;

	if (c->err || !status || c->read_bytes < BLK_HDR_SIZE) {
		fail_chain(b, c);
		return NULL;
	}
	virtq_iov_to_buf(c->iov, c->nread, 0, &hdr, sizeof(hdr));
	type = le32toh(hdr.type);
	sector = le64toh(hdr.sector);
	switch (type) {
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_GET_ID:
		/* data: the writable stream without its last byte (the status) */
		if (c->read_bytes != BLK_HDR_SIZE)
			goto invalid;
		data_iov = wr;
		data_n = c->nwrite;
		data_len = c->write_bytes - 1;
		break;
	case VIRTIO_BLK_T_OUT:
		/* data: the readable stream after the header */
		if (c->write_bytes != 1)
			goto invalid;
		data_iov = c->iov;
		data_n = c->nread;
		data_skip = BLK_HDR_SIZE;
		data_len = c->read_bytes - BLK_HDR_SIZE;
		break;
	case VIRTIO_BLK_T_FLUSH:
		break;
	default:
		count(&b->stats.invalid_reqs, 1);
		*status = VIRTIO_BLK_S_UNSUPP;
		virtq_push(blk_queue(b), c->head, 1);
		return NULL;
	}
	if (data_len >= UINT32_MAX) /* the used length is 32 bits */
		goto invalid;
	if ((type == VIRTIO_BLK_T_IN || type == VIRTIO_BLK_T_OUT) && !in_range(b, sector, data_len))
		goto invalid;
	if (type == VIRTIO_BLK_T_OUT && b->read_only)
		goto invalid;
	r = malloc(sizeof(*r) + (size_t)data_n * sizeof(struct iovec));
	if (!r)
		goto invalid; /* no memory for now: the guest may retry */
	r->type = type;
	r->head = c->head;
	r->status = status;
	r->niov = iov_slice(data_iov, data_n, data_skip, data_len, r->iov);
	r->used_len = type == VIRTIO_BLK_T_OUT ? 0 : (uint32_t)data_len;
	r->io = (struct blk_io_req){
	    .op = type == VIRTIO_BLK_T_IN    ? BLK_IO_READ
	          : type == VIRTIO_BLK_T_OUT ? BLK_IO_WRITE
	                                     : BLK_IO_FLUSH,
	    .offset = sector * BLK_SECTOR,
	    .len = type == VIRTIO_BLK_T_FLUSH ? 0 : data_len,
	    .iov = r->iov,
	    .iovcnt = r->niov,
	};
	return r;
invalid:
	fail_chain(b, c);
	return NULL;
}

/* ---- running requests ---- */

/* GET_ID: the drive id, NUL-padded to VIRTIO_BLK_ID_BYTES (not terminated when 20 long). */
static void get_id(struct blk_dev *b, struct blk_request *r)
{
	char id[VIRTIO_BLK_ID_BYTES] = {0};
	size_t n = r->used_len < sizeof(id) ? r->used_len : sizeof(id);

	memcpy(id, b->id, strnlen(b->id, sizeof(id)));
	virtq_iov_from_buf(r->iov, r->niov, 0, id, n);
	r->used_len = (uint32_t)n;
	count(&b->stats.get_id_count, 1);
	finish(b, r, VIRTIO_BLK_S_OK);
}

static void start(struct blk_dev *b, struct blk_request *r)
{
	int err;

	if (r->type == VIRTIO_BLK_T_GET_ID) {
		get_id(b, r);
		return;
	}
	/* Unsafe: the guest's flush is a no-op, as Firecracker; nothing to write back for a
	 * read-only file either. Empty reads and writes have nothing to do. */
	if ((r->type == VIRTIO_BLK_T_FLUSH && (b->cache == CACHE_UNSAFE || b->read_only)) ||
	    (r->type != VIRTIO_BLK_T_FLUSH && r->io.len == 0)) {
		account(b, r);
		finish(b, r, VIRTIO_BLK_S_OK);
		return;
	}
	err = b->io->ops->submit(b->io, &r->io);
	if (err)
		blk_io_done(b->io, &r->io, err);
}

/* Bytes the rate limiter charges for a request. */
static uint64_t charge_bytes(const struct blk_request *r)
{
	return r->type == VIRTIO_BLK_T_FLUSH ? 0 : r->io.len;
}

/* Starts r unless the rate limiter says wait; then r is parked and false returned. */
static bool admit(struct blk_dev *b, struct blk_request *r)
{
	if (!ratelimit_unlimited(&b->limiter) &&
	    !ratelimit_consume(&b->limiter, charge_bytes(r), 1)) {
		b->throttled = r;
		count(&b->stats.rate_limiter_throttled_events, 1);
		return false;
	}
	start(b, r);
	return true;
}

/* Pops and starts requests until the ring is empty, the queue's worth of requests is in
 * flight (completions resume us) or the rate limiter blocks (its timer resumes us). */
static unsigned process_queue(struct blk_dev *b)
{
	struct virtq *q = blk_queue(b);
	unsigned popped = 0;

	if (!b->active)
		return 0;
	if (b->throttled) {
		struct blk_request *r = b->throttled;

		b->throttled = NULL;
		if (!admit(b, r))
			goto out;
	}
	while (b->io->inflight < q->size) {
		struct blk_request *r;
		int rc = virtq_pop(q, &b->chain);

		if (rc == 0)
			break;
		if (rc < 0) {
			log_debug("drive %s: the guest broke its virtqueue; device needs reset",
			          b->id);
			virtio_mmio_needs_reset(b->t);
			break;
		}
		popped++;
		r = parse(b, &b->chain);
		if (r && !admit(b, r))
			break;
	}
out:
	b->io->ops->flush(b->io);
	virtio_mmio_signal_used(b->t, 0);
	return popped;
}

/* Waits for everything in flight, dropping completions, and forgets the parked request. */
static void drop_inflight(struct blk_dev *b)
{
	b->resetting = true;
	b->io->ops->drain(b->io);
	b->resetting = false;
	free(b->throttled);
	b->throttled = NULL;
}

/* ---- virtio device ops ---- */

static uint64_t blk_features(void *dev)
{
	struct blk_dev *b = dev;
	uint64_t f = (1ULL << VIRTIO_BLK_F_FLUSH) | (1ULL << VIRTIO_BLK_F_SEG_MAX) |
	             (1ULL << VIRTIO_BLK_F_BLK_SIZE);

	if (b->read_only)
		f |= 1ULL << VIRTIO_BLK_F_RO;
	return f;
}

static void blk_config_read(void *dev, uint32_t offset, uint8_t *data, uint32_t len)
{
	struct blk_dev *b = dev;
	struct virtio_blk_config cfg;

	memset(&cfg, 0, sizeof(cfg));
	cfg.capacity = htole64(atomic_load(&b->capacity));
	cfg.seg_max = htole32(BLK_SEG_MAX);
	cfg.blk_size = htole32(BLK_SECTOR);
	for (uint32_t i = 0; i < len; i++)
		data[i] = offset + i < sizeof(cfg) ? ((const uint8_t *)&cfg)[offset + i] : 0;
}

static int blk_activate(void *dev, uint64_t features)
{
	struct blk_dev *b = dev;

	(void)features;
	if (!virtq_ready(blk_queue(b))) {
		/* guest-triggered: a metric and a debug line, no log flooding */
		log_debug("drive %s: driver started the device without its queue", b->id);
		count(&b->stats.activate_fails, 1);
		return -1;
	}
	b->active = true;
	return 0;
}

static void blk_queue_notify(void *dev, unsigned qidx)
{
	struct blk_dev *b = dev;
	bool may_pop = b->active && !b->throttled && b->io->inflight < blk_queue(b)->size;

	count(&b->stats.queue_event_count, 1);
	if (process_queue(b) == 0 && may_pop)
		count(&b->stats.no_avail_buffer, 1);
	(void)qidx;
}

static void blk_reset(void *dev)
{
	struct blk_dev *b = dev;

	b->active = false;
	drop_inflight(b);
}

static void blk_destroy(void *dev)
{
	blk_dev_free(dev);
}

/* ---- snapshot: section "VBLK" ----
 * u8 id[72] (NUL-padded), u64 capacity (sectors), u32 flags (bit 0: a request waits for the
 * rate limiter), u32 that request's chain head, then the rate limiter (RATELIMIT_SNAP_SIZE).
 * Everything in flight is completed into the used ring first; the request the limiter holds
 * stays the guest's chain, and is parsed again from its head on restore. */
#define SNAP_TAG_VIRTIO_BLK 0x4b4c4256u /* "VBLK" */
#define BLK_SNAP_ID_LEN     72
#define BLK_SNAP_THROTTLED  0x1u

static int blk_save(void *dev, struct snap_writer *w, uint32_t instance, char *err, size_t errlen)
{
	struct blk_dev *b = dev;
	char id[BLK_SNAP_ID_LEN] = {0};

	(void)err, (void)errlen;
	b->io->ops->drain(b->io);
	virtio_mmio_signal_used(b->t, 0);
	memcpy(id, b->id, strnlen(b->id, sizeof(b->id)));
	snap_begin(w, SNAP_TAG_VIRTIO_BLK, instance);
	snap_put(w, id, sizeof(id));
	snap_put_u64(w, atomic_load(&b->capacity));
	snap_put_u32(w, b->throttled ? BLK_SNAP_THROTTLED : 0);
	snap_put_u32(w, b->throttled ? b->throttled->head : 0);
	ratelimit_save(&b->limiter, w);
	snap_end(w);
	return 0;
}

static int blk_restore(void *dev, const struct snap_reader *r, uint32_t instance, char *err,
                       size_t errlen)
{
	struct blk_dev *b = dev;
	struct snap_section s;
	struct snap_cursor c;
	char id[BLK_SNAP_ID_LEN + 1] = {0};
	uint64_t capacity;
	uint32_t flags, head;

	if (!snap_find(r, SNAP_TAG_VIRTIO_BLK, instance, &s)) {
		snprintf(err, errlen, "drive %s: the snapshot has no state for it", b->id);
		return -1;
	}
	snap_cursor_init(&c, &s);
	snap_get(&c, id, BLK_SNAP_ID_LEN);
	capacity = snap_get_u64(&c);
	flags = snap_get_u32(&c);
	head = snap_get_u32(&c);
	ratelimit_restore(&b->limiter, &c);
	if (!snap_cursor_done(&c) || flags & ~BLK_SNAP_THROTTLED) {
		snprintf(err, errlen, "drive %s: malformed state in the snapshot", b->id);
		return -1;
	}
	if (strcmp(id, b->id) != 0) {
		snprintf(err, errlen, "drive %s: the snapshot has drive %.64s in its place", b->id,
		         id);
		return -1;
	}
	/* The guest's filesystem knows the disk's size: a backing file of another size is not
	 * the disk the snapshot was taken with. */
	if (capacity != atomic_load(&b->capacity)) {
		snprintf(
		    err, errlen,
		    "drive %s: its file has %llu sectors now, %llu when the snapshot was taken",
		    b->id, (unsigned long long)atomic_load(&b->capacity),
		    (unsigned long long)capacity);
		return -1;
	}
	b->active = b->t->active;
	if (b->active && (flags & BLK_SNAP_THROTTLED)) {
		if (head > UINT16_MAX ||
		    virtq_chain_at(blk_queue(b), (uint16_t)head, &b->chain) < 0) {
			snprintf(err, errlen,
			         "drive %s: the held request's chain is not in its queue", b->id);
			return -1;
		}
		b->throttled = parse(b, &b->chain); /* NULL: failed back to the guest */
	}
	return 0;
}

const struct virtio_device_ops blk_virtio_ops = {
    .name = "virtio-blk",
    .device_id = VIRTIO_ID_BLOCK,
    .features = blk_features,
    .config_read = blk_config_read,
    .config_write = NULL, /* nothing writable: we do not offer CONFIG_WCE */
    .activate = blk_activate,
    .queue_notify = blk_queue_notify,
    .reset = blk_reset,
    .destroy = blk_destroy,
    .save = blk_save,
    .restore = blk_restore,
};

/* ---- event-loop handlers ---- */

static void on_completion(void *opaque, uint32_t events)
{
	struct blk_dev *b = opaque;

	(void)events;
	b->io->ops->process_completions(b->io);
	if (b->active)
		process_queue(b); /* signals, and resumes popping if we had stopped */
}

static void on_rate_timer(void *opaque, uint32_t events)
{
	struct blk_dev *b = opaque;

	(void)events;
	ratelimit_timer_ack(&b->limiter);
	process_queue(b);
}

/* ---- creation ---- */

/* Alignment assumed for O_DIRECT when the kernel cannot tell (no STATX_DIOALIGN, not a block
 * device): the page size, which no file system's block size exceeds here. */
#define BLK_DIRECT_ALIGN_FALLBACK 4096u

/*
 * What O_DIRECT on fd (a regular file or block device) requires of buffers and offsets. 0, or
 * -1 with the reason in err when the file cannot do direct I/O: the file system says so
 * (STATX_DIOALIGN with no alignment), or it is tmpfs/ramfs, whose files live in the page cache
 * (Linux 6.6+ accepts O_DIRECT there and quietly goes through the cache: not what was asked).
 */
static int direct_alignment(const char *id, const char *path, int fd, bool blkdev,
                            struct blk_io_file *file, char *err, size_t errlen)
{
	struct statx stx;
	struct statfs sfs;
	int sector_size;

	if (statx(fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &stx) == 0 &&
	    (stx.stx_mask & STATX_DIOALIGN)) {
		if (!stx.stx_dio_offset_align) {
			snprintf(err, errlen,
			         "drive %s: cache_type Direct: the file system of %s does not "
			         "support O_DIRECT for it",
			         id, path);
			return -1;
		}
		file->mem_align = stx.stx_dio_mem_align ? stx.stx_dio_mem_align : 1;
		file->off_align = stx.stx_dio_offset_align;
		return 0;
	}
	if (blkdev && ioctl(fd, BLKSSZGET, &sector_size) == 0 && sector_size > 0) {
		file->mem_align = file->off_align = (unsigned)sector_size;
		return 0;
	}
	if (fstatfs(fd, &sfs) == 0 && (sfs.f_type == TMPFS_MAGIC || sfs.f_type == RAMFS_MAGIC)) {
		snprintf(
		    err, errlen,
		    "drive %s: cache_type Direct: %s is on tmpfs, which has no O_DIRECT (its "
		    "files live in the page cache); use a disk file system or another cache_type",
		    id, path);
		return -1;
	}
	file->mem_align = file->off_align = BLK_DIRECT_ALIGN_FALLBACK;
	return 0;
}

/*
 * cache_type Direct: opens path again with O_DIRECT (mode: open(2)'s flags of the buffered fd,
 * already in file->fd) and makes that file->fd, the first one file->buffered_fd. 0 or -1
 * with the reason in err (file unchanged then).
 */
static int open_direct(const char *id, const char *path, int mode, const struct stat *st,
                       struct blk_io_file *file, char *err, size_t errlen)
{
	struct blk_io_file direct = {.buffered_fd = file->fd};
	struct stat dst;

	if (direct_alignment(id, path, file->fd, S_ISBLK(st->st_mode), &direct, err, errlen) < 0)
		return -1;
	direct.fd = open(path, mode | O_DIRECT);
	if (direct.fd < 0) {
		snprintf(err, errlen,
		         "drive %s: cache_type Direct: cannot open %s with O_DIRECT: %s", id, path,
		         errno == EINVAL ? "its file system does not support it" : strerror(errno));
		return -1;
	}
	/* Two opens by name: both must be the same file. */
	if (fstat(direct.fd, &dst) < 0 || dst.st_dev != st->st_dev || dst.st_ino != st->st_ino) {
		snprintf(err, errlen, "drive %s: %s changed while it was being opened", id, path);
		close(direct.fd);
		return -1;
	}
	*file = direct;
	return 0;
}

static void close_image(struct blk_io_file *file)
{
	if (file->fd >= 0)
		close(file->fd);
	if (file->buffered_fd >= 0)
		close(file->buffered_fd);
	file->fd = file->buffered_fd = -1;
}

/* Opens path with the drive's mode (and for cache_type Direct also with O_DIRECT) into *file;
 * its size in whole sectors goes to *sectors. 0, or -1 with the reason in err. */
static int open_image(const char *id, const char *path, bool read_only, enum cache_type cache,
                      uint64_t *sectors, struct blk_io_file *file, char *err, size_t errlen)
{
	int mode = (read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC;
	int fd = open(path, mode);
	struct stat st;
	uint64_t bytes;

	if (fd < 0) {
		snprintf(err, errlen, "drive %s: cannot open %s: %s", id, path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0)
		goto fail;
	if (S_ISBLK(st.st_mode)) {
		if (ioctl(fd, BLKGETSIZE64, &bytes) < 0)
			goto fail;
	} else if (S_ISREG(st.st_mode)) {
		bytes = (uint64_t)st.st_size;
	} else {
		snprintf(err, errlen, "drive %s: %s is not a file or block device", id, path);
		close(fd);
		return -1;
	}
	if (bytes % BLK_SECTOR)
		log_warn("drive %s: %s is not a whole number of sectors; the last %llu bytes are "
		         "not visible to the guest",
		         id, path, (unsigned long long)(bytes % BLK_SECTOR));
	*sectors = bytes / BLK_SECTOR;
	*file = (struct blk_io_file){.fd = fd, .buffered_fd = -1};
	if (cache == CACHE_DIRECT && open_direct(id, path, mode, &st, file, err, errlen) < 0) {
		close(fd);
		return -1;
	}
	return 0;
fail:
	snprintf(err, errlen, "drive %s: cannot size %s: %s", id, path, strerror(errno));
	close(fd);
	return -1;
}

static int make_engine(struct blk_dev *b, enum io_engine kind, char *err, size_t errlen)
{
	int rc;

	if (kind == IO_ENGINE_ASYNC) {
		rc = blk_io_uring_create(&b->file, VIRTQ_MAX_SIZE, blk_io_done, b, &b->io);
		if (rc == 0)
			return 0;
		log_warn("drive %s: io_uring unavailable (%s), using the Sync engine", b->id,
		         strerror(-rc));
	}
	rc = blk_io_sync_create(&b->file, blk_io_done, b, &b->io);
	if (rc < 0)
		snprintf(err, errlen, "drive %s: %s", b->id, strerror(-rc));
	return rc;
}

static void register_metrics(struct blk_dev *b)
{
	struct {
		const char *name;
		atomic_ulong *c;
	} m[] = {
	    {"read_count", &b->stats.read_count},
	    {"write_count", &b->stats.write_count},
	    {"flush_count", &b->stats.flush_count},
	    {"get_id_count", &b->stats.get_id_count},
	    {"read_bytes", &b->stats.read_bytes},
	    {"write_bytes", &b->stats.write_bytes},
	    {"execute_fails", &b->stats.io_errors},
	    {"invalid_reqs_count", &b->stats.invalid_reqs},
	    {"rate_limiter_throttled_events", &b->stats.rate_limiter_throttled_events},
	    {"update_count", &b->stats.update_count},
	    {"update_fails", &b->stats.update_fails},
	    {"queue_event_count", &b->stats.queue_event_count},
	    {"no_avail_buffer", &b->stats.no_avail_buffer},
	    {"activate_fails", &b->stats.activate_fails},
	};

	snprintf(b->metrics_group, sizeof(b->metrics_group), "block_%s", b->id);
	for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++)
		metrics_register(b->metrics_group, m[i].name, m[i].c);
	b->metrics_registered = true;
}

static void unregister_metrics(struct blk_dev *b)
{
	atomic_ulong *all = (atomic_ulong *)&b->stats;

	if (!b->metrics_registered)
		return;
	for (size_t i = 0; i < sizeof(b->stats) / sizeof(atomic_ulong); i++)
		metrics_unregister(&all[i]);
	if (b->t)
		metrics_unregister(&b->t->errors);
}

static int watch(struct blk_dev *b, char *err, size_t errlen)
{
	if (!b->loop)
		return 0;
	if ((b->io->event_fd >= 0 &&
	     evloop_add(b->loop, b->io->event_fd, EPOLLIN, on_completion, b) < 0) ||
	    evloop_add(b->loop, ratelimit_timer_fd(&b->limiter), EPOLLIN, on_rate_timer, b) < 0) {
		snprintf(err, errlen, "drive %s: cannot watch its event fds", b->id);
		return -1;
	}
	return 0;
}

struct blk_dev *blk_dev_new(const struct drive_config *cfg, const struct guest_mem *mem,
                            struct evloop *loop, char *err, size_t errlen)
{
	struct blk_dev *b = calloc(1, sizeof(*b));
	uint64_t sectors = 0;
	int rc;

	if (!b) {
		snprintf(err, errlen, "drive %s: out of memory", cfg->id);
		return NULL;
	}
	b->mem = mem;
	b->loop = loop;
	snprintf(b->id, sizeof(b->id), "%s", cfg->id);
	b->read_only = cfg->is_read_only;
	b->cache = cfg->cache_type;
	b->limiter.timer_fd = -1;
	if (open_image(b->id, cfg->path_on_host, b->read_only, b->cache, &sectors, &b->file, err,
	               errlen) < 0) {
		free(b);
		return NULL;
	}
	atomic_store(&b->capacity, sectors);
	rc = ratelimit_init(&b->limiter, &cfg->rate_limiter);
	if (rc < 0) {
		snprintf(err, errlen, "drive %s: rate limiter: %s", b->id, strerror(-rc));
		goto fail;
	}
	if (make_engine(b, cfg->io_engine, err, errlen) < 0)
		goto fail;
	if (watch(b, err, errlen) < 0)
		goto fail;
	register_metrics(b);
	b->next = blk_devices;
	blk_devices = b;
	return b;
fail:
	blk_dev_free(b);
	return NULL;
}

void blk_dev_attach(struct blk_dev *b, struct virtio_mmio *t)
{
	b->t = t;
	if (b->metrics_registered)
		metrics_register(b->metrics_group, "transport_errors", &t->errors);
}

void blk_dev_poll(struct blk_dev *b)
{
	b->io->ops->drain(b->io);
	if (b->active)
		process_queue(b);
}

void blk_dev_free(struct blk_dev *b)
{
	for (struct blk_dev **p = &blk_devices; *p; p = &(*p)->next)
		if (*p == b) {
			*p = b->next;
			break;
		}
	if (b->io) {
		drop_inflight(b);
		if (b->loop && b->io->event_fd >= 0)
			evloop_del(b->loop, b->io->event_fd);
		b->io->ops->destroy(b->io);
	}
	if (b->loop && b->limiter.timer_fd >= 0)
		evloop_del(b->loop, b->limiter.timer_fd);
	unregister_metrics(b);
	ratelimit_destroy(&b->limiter);
	close_image(&b->file);
	free(b);
}

int blk_check_drive(const struct drive_config *cfg, char *err, size_t errlen)
{
	struct blk_io_file file;
	uint64_t sectors;

	if (open_image(cfg->id, cfg->path_on_host, cfg->is_read_only, cfg->cache_type, &sectors,
	               &file, err, errlen) < 0)
		return -1;
	close_image(&file);
	return 0;
}

/* ---- the device type ---- */

/* Root device on the kernel command line, as Firecracker does. */
static int add_root_args(struct vm *vm, const struct drive_config *d)
{
	if (d->partuuid && d->partuuid[0])
		return vm_cmdline_append(vm, "root=PARTUUID=%s %s", d->partuuid,
		                         d->is_read_only ? "ro" : "rw");
	return vm_cmdline_append(vm, "root=/dev/vda %s", d->is_read_only ? "ro" : "rw");
}

static int create_one(struct vm *vm, const struct drive_config *d)
{
	char err[256];
	struct blk_dev *b = blk_dev_new(d, &vm->mem, vm->loop, err, sizeof(err));
	struct virtio_mmio *t;

	if (!b) {
		log_error("%s", err);
		return -1;
	}
	b->vm = vm;
	if (virtio_mmio_create(vm, &blk_virtio_ops, b, 1, &t) < 0) {
		blk_dev_free(b);
		return -1;
	}
	blk_dev_attach(b, t);
	if (d->is_root_device && add_root_args(vm, d) < 0) {
		log_error("drive %s: kernel command line too long", d->id);
		return -1; /* b belongs to the transport now */
	}
	return 0;
}

/* The root device first, so that it is /dev/vda; the others in configuration order. */
static int blk_create(struct vm *vm)
{
	const struct vm_config *cfg = vm->config;

	for (unsigned i = 0; i < cfg->ndrives; i++)
		if (cfg->drives[i].is_root_device && create_one(vm, &cfg->drives[i]) < 0)
			return -1;
	for (unsigned i = 0; i < cfg->ndrives; i++)
		if (!cfg->drives[i].is_root_device && create_one(vm, &cfg->drives[i]) < 0)
			return -1;
	return 0;
}

static const struct device_type blk_type = {
    .name = "virtio-blk", .order = 50, .create = blk_create};
DEVICE_TYPE(blk_type);

/* ---- after boot ---- */

/* Swaps b's backing file for path. Loop thread; in-flight requests finish on the old one. */
static int swap_file(struct blk_dev *b, const char *path, char *err, size_t errlen)
{
	uint64_t sectors;
	struct blk_io_file file;
	int rc;

	if (open_image(b->id, path, b->read_only, b->cache, &sectors, &file, err, errlen) < 0)
		return -1;
	b->io->ops->drain(b->io); /* completes into the used ring as usual */
	rc = b->io->ops->set_file(b->io, &file);
	if (rc < 0) {
		snprintf(err, errlen, "drive %s: cannot switch to %s: %s", b->id, path,
		         strerror(-rc));
		close_image(&file);
		return -1;
	}
	close_image(&b->file);
	b->file = file;
	atomic_store(&b->capacity, sectors);
	if (b->t) {
		virtio_mmio_signal_used(b->t, 0); /* for what the drain completed */
		virtio_mmio_signal_config(b->t);
	}
	return 0;
}

int blk_update(struct vm *vm, const char *drive_id, const char *path,
               const struct rate_limiter_config *limiter, char *err, size_t errlen)
{
	struct blk_dev *b = blk_devices;
	int rc;

	while (b && !(b->vm == vm && strcmp(b->id, drive_id) == 0))
		b = b->next;
	if (!b) {
		snprintf(err, errlen, "drive %s: no such drive", drive_id);
		return -1;
	}
	if (path && swap_file(b, path, err, errlen) < 0)
		goto fail;
	if (limiter && (rc = ratelimit_update(&b->limiter, limiter)) < 0) {
		snprintf(err, errlen, "drive %s: rate limiter: %s", b->id, strerror(-rc));
		goto fail;
	}
	count(&b->stats.update_count, 1);
	return 0;
fail:
	count(&b->stats.update_fails, 1);
	return -1;
}
