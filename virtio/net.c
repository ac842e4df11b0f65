/*
 * net.c - virtio-net over virtio-mmio and a tap (see net.h for the contract).
 *
 * RX (tap -> guest), zero-copy:
 *   The device pops the guest's RX chains into a pool (their writable iovecs, in order) and
 *   readv()s one frame from the tap straight into the pool's iovecs, followed by a host "sink"
 *   buffer that catches whatever does not fit. Without MRG_RXBUF the pool holds one chain and a
 *   frame that spills into the sink is dropped (the chain is reused). With MRG_RXBUF the pool
 *   gathers chains up to one maximal frame; a frame that spills anyway stays "held": its tail
 *   waits in the sink until the guest posts more buffers, then is copied into them (the only
 *   copy, and only for frames larger than everything the guest had posted). A frame is handed
 *   to the guest (used ring, num_buffers in its header) only once it is whole and the RX rate
 *   limiter lets it through; until then it stays held in the guest's own buffers and the tap
 *   is not read, so no frame already read is ever lost to a lack of buffers or tokens.
 *   Reading stops (EPOLLIN off) while the pool is empty, a frame is held, or the tap is dry
 *   (EAGAIN: EPOLLIN on); the guest's RX notify or the limiter's timer restart it.
 *
 * TX (guest -> tap):
 *   Each chain (header + frame, device-readable only) is checked, paid for with the TX rate
 *   limiter and writev()n to the tap as is. A chain that cannot go now (no tokens: wait for
 *   the timer; EAGAIN: wait for EPOLLOUT) stays pending, in order, without blocking the loop.
 *
 * Both directions work in budgets of frames per call so one busy direction cannot starve the
 * rest of the event loop: an unfinished RX budget leaves EPOLLIN on (a tap with queued frames
 * is readable); an unfinished TX budget arms the device's "again" timerfd to fire at once, so
 * the loop comes back even when the tap never becomes writable (a tap that is down: every
 * write fails with EIO at once, and epoll never reports it writable).
 *
 * Threads: net_features() and net_config_read() run on vCPU threads under the transport lock
 * and read only data fixed at creation (features, MAC). Everything else runs on the
 * event-loop thread, including net_update(); no locks.
 */
#include "virtio/net.h"

#include <endian.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_net.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/timerfd.h>
#include <sys/uio.h>
#include <unistd.h>

#include "virtio/mmio.h"
#include "virtio/ratelimit.h"
#include "virtio/tap.h"
#include "virtio/virtq.h"
#include "vmm/device.h"
#include "vmm/evloop.h"
#include "vmm/log.h"
#include "vmm/metrics.h"
#include "vmm/snapshot/snapfile.h"
#include "vmm/vm.h"

#define NET_QUEUE_RX   0
#define NET_QUEUE_TX   1
#define NET_NUM_QUEUES 2

#define NET_HDR_LEN ((uint32_t)sizeof(struct virtio_net_hdr_v1)) /* 12, with VERSION_1 */
/* Largest frame a tap hands out or the guest may send: a 64 KiB GSO packet plus Ethernet and
 * VLAN headers, rounded up. Anything larger is dropped (RX) or malformed (TX). */
#define NET_FRAME_MAX (65536 + 256)
/* An MTU-sized frame (1500 + Ethernet + VLAN): what the RX pool gathers without GSO. */
#define NET_FRAME_MTU (1500 + ETH_HLEN + 4)
/* Sink: room for a whole frame and its header, plus one byte so that a readv that fills it
 * exactly is recognised as truncated. */
#define NET_SINK_LEN (NET_HDR_LEN + NET_FRAME_MAX + 1)
/* iovecs of pooled RX buffers; one more slot carries the sink (UIO_MAXIOV is 1024). */
#define NET_RX_IOV_MAX 1023
/* Frames per call in each direction before giving the event loop back. */
#define NET_BUDGET 64

#define F(bit) (1ULL << (bit))
#define NET_FEATURES                                                                               \
	(F(VIRTIO_NET_F_MAC) | F(VIRTIO_NET_F_CSUM) | F(VIRTIO_NET_F_GUEST_CSUM) |                 \
	 F(VIRTIO_NET_F_GUEST_TSO4) | F(VIRTIO_NET_F_GUEST_TSO6) | F(VIRTIO_NET_F_HOST_TSO4) |     \
	 F(VIRTIO_NET_F_HOST_TSO6) | F(VIRTIO_NET_F_MRG_RXBUF))

/* Why a direction stopped working for now, i.e. what restarts it. */
enum net_wait {
	NET_GO,         /* more may be done right away */
	NET_WAIT_QUEUE, /* the guest must post or notify (RX buffers) */
	NET_WAIT_TAP,   /* the tap must become readable / writable */
	NET_WAIT_TIMER, /* the rate limiter's timer */
	NET_STOPPED,    /* queue not set up or broken, or the tap failed: until reset */
};

/* One pooled RX chain: its writable iovecs are rx_iov[iov_first .. iov_first + niov). */
struct net_rx_slot {
	uint16_t head;
	uint16_t niov;
	uint16_t iov_first;
	uint64_t room; /* bytes */
};

struct net {
	struct vm *vm;       /* NULL for net_new() devices (tests) */
	struct evloop *loop; /* NULL in tests: tap_events is only recorded */
	struct virtio_mmio *t;
	struct net *next; /* net_list */
	char id[CONFIG_ID_MAX + 1];
	char group[CONFIG_ID_MAX + 8]; /* metrics group "net_<id>" */

	int tap_fd;
	int again_fd; /* timerfd: TX budget ran out, continue on the next loop round */
	bool tap_in_loop, rx_timer_in_loop, tx_timer_in_loop, again_in_loop;
	bool tap_dead;   /* EPOLLERR/HUP or EOF: RX stops, TX drops */
	bool rx_starved; /* counted in no_rx_avail_buffer, until a frame is delivered */
	struct log_ratelimit tx_fail_log; /* "tap write failed" at most once a second */
	bool paused;             /* VM paused: no tap, timer or queue work touches guest memory */
	uint32_t tap_events;     /* EPOLLIN / EPOLLOUT wanted now */
	uint32_t tap_events_set; /* what the loop was last told */

	/* Fixed at creation; read by vCPU threads. */
	struct virtio_net_config config;

	/* Loop side, valid while active. */
	bool active;
	bool mrg_rxbuf;
	uint64_t rx_want; /* pool room to gather before a read (MRG_RXBUF) */
	bool pushed[NET_NUM_QUEUES];

	struct ratelimit rx_limit, tx_limit;

	/* RX pool and the held frame (see the top comment). */
	struct net_rx_slot rx_slots[VIRTQ_MAX_SIZE];
	unsigned rx_nslots;
	unsigned rx_niov;
	uint64_t rx_room;
	struct iovec rx_iov[NET_RX_IOV_MAX + 1];
	uint32_t rx_held;    /* bytes of the held frame, header included; 0 = none */
	uint32_t rx_in_sink; /* of which still in the sink, from rx_sink_off */
	uint32_t rx_sink_off;
	bool rx_paid;     /* the held frame has passed the limiter */
	bool rx_throttle; /* counted in rx_throttled already */
	uint8_t *rx_sink;

	/* TX: the chain being sent, when tx_pending. */
	bool tx_pending, tx_paid, tx_throttle;
	struct virtq_chain tx_chain;
	/* Scratch for RX pops. */
	struct virtq_chain rx_chain;

	struct net_counters c;
};

/* Every device of the process, for net_update(). Event-loop thread only. */
static struct net *net_list;

static struct virtq *net_queue(struct net *n, unsigned qidx)
{
	return virtio_mmio_queue(n->t, qidx);
}

static void net_count(atomic_ulong *counter, uint64_t v)
{
	atomic_fetch_add_explicit(counter, v, memory_order_relaxed);
}

static void net_push(struct net *n, unsigned qidx, uint16_t head, uint32_t len)
{
	virtq_push(net_queue(n, qidx), head, len);
	n->pushed[qidx] = true;
}

static void net_signal(struct net *n, unsigned qidx)
{
	if (!n->pushed[qidx])
		return;
	n->pushed[qidx] = false;
	virtio_mmio_signal_used(n->t, qidx);
}

/* Tells the loop which tap events we want (none while the VM is paused), when that changed. */
static void net_tap_apply(struct net *n)
{
	uint32_t want = n->paused ? 0 : n->tap_events;

	if (!n->loop || !n->tap_in_loop || want == n->tap_events_set)
		return;
	if (evloop_modify(n->loop, n->tap_fd, want) == 0)
		n->tap_events_set = want;
}

static void net_tap_want(struct net *n, uint32_t bit, bool on)
{
	if (on)
		n->tap_events |= bit;
	else
		n->tap_events &= ~bit;
	net_tap_apply(n);
}

/* The tap is gone (interface deleted) or the test peer closed: stop watching it for good.
 * Logged once; from now on every TX frame is dropped and counted (tx_dropped,
 * tap_write_fails) and RX stops. */
static void net_tap_failed(struct net *n)
{
	if (n->tap_dead)
		return;
	n->tap_dead = true;
	log_warn("network interface %s: tap failed (interface deleted?); frames are dropped",
	         n->id);
	n->tap_events = 0;
	if (n->loop && n->tap_in_loop) {
		evloop_del(n->loop, n->tap_fd);
		n->tap_in_loop = false;
	}
}

/* A queue that cannot be used: ask for a reset if the driver broke it. */
static enum net_wait net_queue_stopped(struct net *n, unsigned qidx)
{
	if (net_queue(n, qidx)->broken)
		virtio_mmio_needs_reset(n->t);
	return NET_STOPPED;
}

/* ---- RX ---- */

static bool rx_chain_ok(const struct virtq_chain *c)
{
	return c->err == VIRTQ_CHAIN_OK && c->complete && c->nread == 0 && c->nwrite > 0 &&
	       c->write_bytes >= NET_HDR_LEN;
}

static bool rx_pool_full(struct net *n)
{
	return n->rx_nslots >= net_queue(n, NET_QUEUE_RX)->size || n->rx_nslots >= VIRTQ_MAX_SIZE ||
	       n->rx_niov + VIRTQ_MAX_SIZE > NET_RX_IOV_MAX;
}

/* Appends a usable chain to the pool (which has room: !rx_pool_full()). */
static void rx_pool_put(struct net *n, const struct virtq_chain *c)
{
	struct net_rx_slot *s = &n->rx_slots[n->rx_nslots++];

	s->head = c->head;
	s->niov = c->nwrite;
	s->iov_first = (uint16_t)n->rx_niov;
	s->room = c->write_bytes;
	memcpy(&n->rx_iov[n->rx_niov], &c->iov[c->nread], c->nwrite * sizeof(c->iov[0]));
	n->rx_niov += c->nwrite;
	n->rx_room += c->write_bytes;
}

/* Pops one usable RX chain into the pool. 1 added, 0 none available (or the pool is full),
 * -1 the queue is not usable. Unusable chains are handed back empty and counted. */
static int rx_pool_add(struct net *n)
{
	struct virtq *q = net_queue(n, NET_QUEUE_RX);
	struct virtq_chain *c = &n->rx_chain;

	while (!rx_pool_full(n)) {
		int r = virtq_pop(q, c);

		if (r <= 0)
			return r;
		if (!rx_chain_ok(c)) {
			net_push(n, NET_QUEUE_RX, c->head, 0);
			net_count(&n->c.rx_malformed, 1);
			continue;
		}
		rx_pool_put(n, c);
		return 1;
	}
	return 0;
}

/* Fills the pool for the next read: one chain without MRG_RXBUF, else up to rx_want. */
static int rx_pool_fill(struct net *n)
{
	while (n->mrg_rxbuf ? n->rx_room < n->rx_want : n->rx_nslots == 0) {
		int r = rx_pool_add(n);

		if (r <= 0)
			return r;
	}
	return 1;
}

/* No guest buffer for the held frame's tail (waiting: true) or for the next frame: counted
 * once per shortage (no_rx_avail_buffer) when a frame is known to wait, until a frame gets
 * through again. Whether one waits costs one poll() per shortage, not per frame; while the
 * tap is dry EPOLLIN stays on, so the first frame that arrives into the shortage is counted.
 * RX reads stop meanwhile: the tap's queue in the kernel (bounded by its txqueuelen) holds or
 * drops what arrives, wisp holds nothing. */
static enum net_wait rx_starved(struct net *n, bool waiting)
{
	struct pollfd p = {.fd = n->tap_fd, .events = POLLIN};

	if (n->rx_starved)
		return NET_WAIT_QUEUE;
	if (!waiting && poll(&p, 1, 0) != 1)
		return NET_WAIT_TAP;
	net_count(&n->c.no_rx_avail_buffer, 1);
	n->rx_starved = true;
	return NET_WAIT_QUEUE;
}

/* Reads one frame from the tap into the pool (+ sink). NET_GO with rx_held set, or NET_GO
 * with nothing held when the frame was dropped; else what to wait for. */
static enum net_wait rx_read(struct net *n)
{
	ssize_t len;

	if (n->tap_dead)
		return NET_STOPPED;
	if (rx_pool_fill(n) < 0)
		return net_queue_stopped(n, NET_QUEUE_RX);
	if (n->rx_nslots == 0)
		return rx_starved(n, false);
	n->rx_iov[n->rx_niov] = (struct iovec){.iov_base = n->rx_sink, .iov_len = NET_SINK_LEN};
	len = readv(n->tap_fd, n->rx_iov, (int)n->rx_niov + 1);
	if (len < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return NET_WAIT_TAP;
	if (len < 0 && errno == EINTR)
		return NET_GO;
	if (len <= 0) {
		net_count(&n->c.tap_read_fails, 1);
		net_tap_failed(n);
		return NET_STOPPED;
	}
	/* A runt, a frame truncated by the tap, or one that does not fit one chain without
	 * MRG_RXBUF: dropped, the pooled buffers are reused. */
	if ((uint64_t)len < NET_HDR_LEN + ETH_HLEN || (uint64_t)len >= n->rx_room + NET_SINK_LEN ||
	    (!n->mrg_rxbuf && (uint64_t)len > n->rx_room)) {
		net_count(&n->c.rx_dropped, 1);
		return NET_GO;
	}
	n->rx_held = (uint32_t)len;
	n->rx_in_sink = (uint64_t)len > n->rx_room ? (uint32_t)(len - n->rx_room) : 0;
	n->rx_sink_off = 0;
	n->rx_paid = false;
	return NET_GO;
}

/* Moves the held frame's tail from the sink into newly posted chains. */
static enum net_wait rx_place_tail(struct net *n)
{
	while (n->rx_in_sink) {
		struct net_rx_slot *s;
		size_t copied;
		int r = rx_pool_add(n);

		if (r < 0)
			return net_queue_stopped(n, NET_QUEUE_RX);
		if (r == 0 && rx_pool_full(n)) {
			/* Every buffer the guest may post is already ours: the frame cannot fit. */
			n->rx_held = n->rx_in_sink = 0;
			net_count(&n->c.rx_dropped, 1);
			return NET_GO;
		}
		if (r == 0)
			return rx_starved(n, true);
		s = &n->rx_slots[n->rx_nslots - 1];
		copied = virtq_iov_from_buf(&n->rx_iov[s->iov_first], s->niov, 0,
		                            n->rx_sink + n->rx_sink_off,
		                            s->room < n->rx_in_sink ? s->room : n->rx_in_sink);
		n->rx_sink_off += (uint32_t)copied;
		n->rx_in_sink -= (uint32_t)copied;
	}
	return NET_GO;
}

/* Drops the first k slots (delivered) from the pool. */
static void rx_pool_remove(struct net *n, unsigned k)
{
	unsigned niov = 0;
	uint64_t room = 0;

	for (unsigned i = 0; i < k; i++) {
		niov += n->rx_slots[i].niov;
		room += n->rx_slots[i].room;
	}
	memmove(n->rx_slots, n->rx_slots + k, (n->rx_nslots - k) * sizeof(n->rx_slots[0]));
	memmove(n->rx_iov, n->rx_iov + niov, (n->rx_niov - niov) * sizeof(n->rx_iov[0]));
	n->rx_nslots -= k;
	n->rx_niov -= niov;
	n->rx_room -= room;
	for (unsigned i = 0; i < n->rx_nslots; i++)
		n->rx_slots[i].iov_first -= (uint16_t)niov;
}

/* Hands the whole held frame to the guest: num_buffers, then one used entry per chain. */
static void rx_deliver(struct net *n)
{
	uint32_t left = n->rx_held;
	unsigned k = 0;
	uint16_t num_buffers;

	while (left && k < n->rx_nslots) {
		uint32_t use = n->rx_slots[k].room < left ? (uint32_t)n->rx_slots[k].room : left;

		left -= use;
		k++;
	}
	num_buffers = htole16((uint16_t)k);
	virtq_iov_from_buf(&n->rx_iov[0], n->rx_slots[0].niov,
	                   offsetof(struct virtio_net_hdr_v1, num_buffers), &num_buffers,
	                   sizeof(num_buffers));
	/* All k chains of the frame are published with one used->idx update, so a driver never
	 * sees the head of a merged frame (num_buffers = k) before its tail. */
	left = n->rx_held;
	for (unsigned i = 0; i < k; i++) {
		uint32_t use = n->rx_slots[i].room < left ? (uint32_t)n->rx_slots[i].room : left;

		virtq_fill(net_queue(n, NET_QUEUE_RX), (uint16_t)i, n->rx_slots[i].head, use);
		left -= use;
	}
	virtq_flush(net_queue(n, NET_QUEUE_RX), (uint16_t)k);
	n->pushed[NET_QUEUE_RX] = true;
	rx_pool_remove(n, k);
	net_count(&n->c.rx_packets, 1);
	net_count(&n->c.rx_bytes, n->rx_held - NET_HDR_LEN);
	n->rx_held = 0;
	n->rx_starved = false;
}

static bool rx_pay(struct net *n)
{
	if (n->rx_paid)
		return true;
	if (!ratelimit_consume(&n->rx_limit, n->rx_held - NET_HDR_LEN, 1)) {
		if (!n->rx_throttle)
			net_count(&n->c.rx_throttled, 1);
		n->rx_throttle = true;
		return false;
	}
	n->rx_throttle = false;
	n->rx_paid = true;
	return true;
}

static enum net_wait rx_one(struct net *n)
{
	enum net_wait w;

	if (!n->rx_held) {
		w = rx_read(n);
		if (w != NET_GO || !n->rx_held)
			return w;
	}
	w = rx_place_tail(n);
	if (w != NET_GO || !n->rx_held)
		return w;
	if (!rx_pay(n))
		return NET_WAIT_TIMER;
	rx_deliver(n);
	return NET_GO;
}

static void rx_process(struct net *n)
{
	enum net_wait w = NET_GO;

	if (!n->active || n->paused)
		return;
	for (unsigned i = 0; i < NET_BUDGET && w == NET_GO; i++)
		w = rx_one(n);
	net_signal(n, NET_QUEUE_RX);
	net_tap_want(n, EPOLLIN, w == NET_GO || w == NET_WAIT_TAP);
}

/* ---- TX ---- */

static bool tx_chain_ok(const struct virtq_chain *c)
{
	return c->err == VIRTQ_CHAIN_OK && c->complete && c->nwrite == 0 && c->nread > 0 &&
	       c->read_bytes >= NET_HDR_LEN + ETH_HLEN &&
	       c->read_bytes <= NET_HDR_LEN + NET_FRAME_MAX;
}

/* A TX frame the tap refused (EIO: the interface is down; EBADFD: deleted): dropped, never
 * queued, so a guest sending into a dead tap costs wisp no memory. Counted per frame, logged
 * at most once a second. */
static void tx_write_failed(struct net *n, int err)
{
	unsigned long more;

	net_count(&n->c.tap_write_fails, 1);
	net_count(&n->c.tx_dropped, 1);
	if (err == EBADFD || err == EBADF) {
		net_tap_failed(n);
		return;
	}
	if (log_ratelimit_ok(&n->tx_fail_log, 1000, &more)) {
		char extra[64] = "";

		if (more)
			snprintf(extra, sizeof(extra), " (and %lu more since the last message)",
			         more);
		log_warn("network interface %s: tap write failed: %s%s; the frame is dropped%s",
		         n->id, strerror(err), err == EIO ? " (interface down?)" : "", extra);
	}
}

/* Sends the pending chain. NET_GO when it is done with (sent or dropped). */
static enum net_wait tx_send(struct net *n)
{
	struct virtq_chain *c = &n->tx_chain;
	uint64_t frame = c->read_bytes - NET_HDR_LEN;
	ssize_t w;

	if (!n->tx_paid) {
		if (!ratelimit_consume(&n->tx_limit, frame, 1)) {
			if (!n->tx_throttle)
				net_count(&n->c.tx_throttled, 1);
			n->tx_throttle = true;
			return NET_WAIT_TIMER;
		}
		n->tx_throttle = false;
		n->tx_paid = true;
	}
	if (n->tap_dead) {
		net_count(&n->c.tap_write_fails, 1);
		net_count(&n->c.tx_dropped, 1);
		return NET_GO;
	}
	do
		w = writev(n->tap_fd, c->iov, c->nread);
	while (w < 0 && errno == EINTR);
	if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return NET_WAIT_TAP;
	if (w == (ssize_t)c->read_bytes) {
		net_count(&n->c.tx_packets, 1);
		net_count(&n->c.tx_bytes, frame);
	} else if (w < 0 && errno == EINVAL) {
		net_count(&n->c.tx_malformed, 1); /* the tap refused the header */
	} else if (w < 0) {
		tx_write_failed(n, errno);
	} else {
		net_count(&n->c.tx_dropped, 1); /* short write */
	}
	return NET_GO;
}

static enum net_wait tx_one(struct net *n)
{
	enum net_wait w;

	if (!n->tx_pending) {
		int r = virtq_pop(net_queue(n, NET_QUEUE_TX), &n->tx_chain);

		if (r < 0)
			return net_queue_stopped(n, NET_QUEUE_TX);
		if (r == 0)
			return NET_WAIT_QUEUE;
		if (!tx_chain_ok(&n->tx_chain)) {
			net_push(n, NET_QUEUE_TX, n->tx_chain.head, 0);
			net_count(&n->c.tx_malformed, 1);
			return NET_GO;
		}
		n->tx_pending = true;
		n->tx_paid = false;
	}
	w = tx_send(n);
	if (w != NET_GO)
		return w;
	n->tx_pending = false;
	net_push(n, NET_QUEUE_TX, n->tx_chain.head, 0);
	return NET_GO;
}

/* The TX budget ran out with frames left: come back on the next loop round, whatever the
 * tap's state (EPOLLOUT never comes from a tap that is down, and the guest, waiting for used
 * entries, does not notify again). A timerfd that fires at once, not a write to an eventfd:
 * the event loop's seccomp filter already allows timerfd_settime. */
static void tx_again(struct net *n)
{
	static const struct itimerspec now = {.it_value = {.tv_nsec = 1}};

	if (n->again_fd >= 0)
		timerfd_settime(n->again_fd, 0, &now, NULL);
}

static void tx_process(struct net *n)
{
	enum net_wait w = NET_GO;

	if (!n->active || n->paused)
		return;
	for (unsigned i = 0; i < NET_BUDGET && w == NET_GO; i++)
		w = tx_one(n);
	net_signal(n, NET_QUEUE_TX);
	net_tap_want(n, EPOLLOUT, !n->tap_dead && w == NET_WAIT_TAP);
	if (w == NET_GO)
		tx_again(n);
}

/* ---- event-loop handlers ---- */

void net_handle_tap(void *opaque, uint32_t events)
{
	struct net *n = opaque;

	if (events & (EPOLLERR | EPOLLHUP)) {
		net_count(&n->c.event_fails, 1);
		net_tap_failed(n);
		rx_process(n);
		tx_process(n);
		return;
	}
	if (events & EPOLLIN)
		rx_process(n);
	if (events & EPOLLOUT)
		tx_process(n);
}

void net_handle_tx_again(void *opaque, uint32_t events)
{
	struct net *n = opaque;
	uint64_t expirations;

	(void)events;
	if (read(n->again_fd, &expirations, sizeof(expirations)) < 0) {
		/* EAGAIN: already consumed; nothing else fails on a valid timerfd. */
	}
	tx_process(n);
}

void net_handle_rx_timer(void *opaque, uint32_t events)
{
	struct net *n = opaque;

	(void)events;
	ratelimit_timer_ack(&n->rx_limit);
	rx_process(n);
}

void net_handle_tx_timer(void *opaque, uint32_t events)
{
	struct net *n = opaque;

	(void)events;
	ratelimit_timer_ack(&n->tx_limit);
	tx_process(n);
}

/* ---- transport hooks ---- */

static uint64_t net_features(void *dev)
{
	(void)dev;
	return NET_FEATURES;
}

static void net_config_read(void *dev, uint32_t offset, uint8_t *data, uint32_t len)
{
	const struct net *n = dev;
	const uint8_t *cfg = (const uint8_t *)&n->config;

	for (uint32_t i = 0; i < len; i++) {
		uint64_t at = (uint64_t)offset + i;

		data[i] = at < sizeof(n->config) ? cfg[at] : 0;
	}
}

static int net_activate(void *dev, uint64_t features)
{
	struct net *n = dev;
	int rc;

	n->mrg_rxbuf = features & F(VIRTIO_NET_F_MRG_RXBUF);
	n->rx_want = NET_HDR_LEN + NET_FRAME_MTU;
	if (features & (F(VIRTIO_NET_F_GUEST_TSO4) | F(VIRTIO_NET_F_GUEST_TSO6)))
		n->rx_want = NET_HDR_LEN + NET_FRAME_MAX;
	/* Without the offload the kernel sends fully checksummed, segmented frames: still
	 * correct, so a failure here (a test socket, an old kernel) is not fatal. */
	rc = tap_set_offload(n->tap_fd, tap_offloads_for_features(features));
	if (rc < 0)
		log_debug("network interface %s: TUNSETOFFLOAD: %s", n->id, strerror(-rc));
	n->active = true;
	return 0; /* the transport then looks at each ready queue (queue_notify) */
}

static void net_queue_notify(void *dev, unsigned qidx)
{
	struct net *n = dev;

	if (qidx == NET_QUEUE_RX)
		rx_process(n);
	else if (qidx == NET_QUEUE_TX)
		tx_process(n);
}

/* The queues are reset already: forget every chain we held (their buffers are the guest's
 * again). Tokens already paid are not refunded. */
static void net_reset(void *dev)
{
	struct net *n = dev;

	if (n->rx_held)
		net_count(&n->c.rx_dropped, 1);
	n->active = false;
	n->rx_nslots = n->rx_niov = 0;
	n->rx_room = 0;
	n->rx_held = n->rx_in_sink = 0;
	n->tx_pending = false;
	n->pushed[NET_QUEUE_RX] = n->pushed[NET_QUEUE_TX] = false;
	net_tap_want(n, EPOLLIN | EPOLLOUT, false);
	if (!n->tap_dead)
		tap_set_offload(n->tap_fd, 0);
}

static void net_destroy(void *dev)
{
	net_free(dev);
}

static void net_pause(void *dev)
{
	struct net *n = dev;

	n->paused = true;
	net_tap_apply(n);
}

static void net_resume(void *dev)
{
	struct net *n = dev;

	n->paused = false;
	net_tap_apply(n);
	rx_process(n);
	tx_process(n);
}

/* ---- snapshot: section "VNET" ----
 * u8 id[72] (NUL-padded), u8 mac[8] (6 used), u32 flags (bit 0: a TX chain is pending,
 * bit 1: it was paid for), u32 its head, u32 pooled RX chains, u32 0, u16 head of each
 * (padded to 4 bytes), then the RX and the TX rate limiters (RATELIMIT_SNAP_SIZE each).
 * A frame held whole in the pool is delivered before the snapshot; one whose tail waits in
 * the sink for more buffers is dropped (and counted): the pooled chains go back into the
 * pool on restore, empty. */
#define SNAP_TAG_VIRTIO_NET 0x54454e56u /* "VNET" */
#define NET_SNAP_ID_LEN     72
#define NET_SNAP_TX_PENDING 0x1u
#define NET_SNAP_TX_PAID    0x2u

static int net_save(void *dev, struct snap_writer *w, uint32_t instance, char *err, size_t errlen)
{
	struct net *n = dev;
	char id[NET_SNAP_ID_LEN] = {0};
	uint8_t mac[8] = {0};

	(void)err, (void)errlen;
	if (n->rx_held && !n->rx_in_sink) {
		rx_deliver(n);
		net_signal(n, NET_QUEUE_RX);
	} else if (n->rx_held) {
		n->rx_held = n->rx_in_sink = 0;
		net_count(&n->c.rx_dropped, 1);
	}
	memcpy(id, n->id, strnlen(n->id, sizeof(n->id)));
	memcpy(mac, n->config.mac, 6);
	snap_begin(w, SNAP_TAG_VIRTIO_NET, instance);
	snap_put(w, id, sizeof(id));
	snap_put(w, mac, sizeof(mac));
	snap_put_u32(w, (n->tx_pending ? NET_SNAP_TX_PENDING : 0) |
	                    (n->tx_pending && n->tx_paid ? NET_SNAP_TX_PAID : 0));
	snap_put_u32(w, n->tx_pending ? n->tx_chain.head : 0);
	snap_put_u32(w, n->rx_nslots);
	snap_put_u32(w, 0);
	for (unsigned i = 0; i < n->rx_nslots; i++) {
		uint16_t head = htole16(n->rx_slots[i].head);

		snap_put(w, &head, sizeof(head));
	}
	if (n->rx_nslots % 2)
		snap_put(w, "\0\0", 2);
	ratelimit_save(&n->rx_limit, w);
	ratelimit_save(&n->tx_limit, w);
	snap_end(w);
	return 0;
}

/* Puts a chain the device held at the snapshot back into the RX pool. */
static int rx_pool_readd(struct net *n, uint16_t head)
{
	struct virtq_chain *c = &n->rx_chain;

	if (rx_pool_full(n) || virtq_chain_at(net_queue(n, NET_QUEUE_RX), head, c) < 0 ||
	    !rx_chain_ok(c))
		return -1;
	rx_pool_put(n, c);
	return 0;
}

static int net_restore(void *dev, const struct snap_reader *r, uint32_t instance, char *err,
                       size_t errlen)
{
	struct net *n = dev;
	struct snap_section s;
	struct snap_cursor c;
	char id[NET_SNAP_ID_LEN + 1] = {0};
	uint8_t mac[8];
	uint32_t flags, tx_head, nslots;
	uint16_t heads[VIRTQ_MAX_SIZE];

	if (!snap_find(r, SNAP_TAG_VIRTIO_NET, instance, &s)) {
		snprintf(err, errlen, "network interface %s: the snapshot has no state for it",
		         n->id);
		return -1;
	}
	snap_cursor_init(&c, &s);
	snap_get(&c, id, NET_SNAP_ID_LEN);
	snap_get(&c, mac, sizeof(mac));
	flags = snap_get_u32(&c);
	tx_head = snap_get_u32(&c);
	nslots = snap_get_u32(&c);
	(void)snap_get_u32(&c);
	if (c.bad || nslots > VIRTQ_MAX_SIZE || flags & ~(NET_SNAP_TX_PENDING | NET_SNAP_TX_PAID) ||
	    tx_head > UINT16_MAX)
		goto malformed;
	snap_get(&c, heads, nslots * sizeof(heads[0]));
	if (nslots % 2)
		snap_get(&c, mac + 6, 2); /* the padding; mac[6..7] are unused */
	ratelimit_restore(&n->rx_limit, &c);
	ratelimit_restore(&n->tx_limit, &c);
	if (!snap_cursor_done(&c))
		goto malformed;
	if (strcmp(id, n->id) != 0) {
		snprintf(err, errlen,
		         "network interface %s: the snapshot has interface %.64s in its place",
		         n->id, id);
		return -1;
	}
	/* The guest knows its MAC (it may have been made up at boot): it stays. */
	memcpy(n->config.mac, mac, 6);
	if (!n->t->active)
		return 0;
	net_activate(n, n->t->features);
	for (uint32_t i = 0; i < nslots; i++)
		if (rx_pool_readd(n, le16toh(heads[i])) < 0) {
			snprintf(
			    err, errlen,
			    "network interface %s: a receive buffer it held is not in its queue",
			    n->id);
			return -1;
		}
	if (flags & NET_SNAP_TX_PENDING) {
		if (virtq_chain_at(net_queue(n, NET_QUEUE_TX), (uint16_t)tx_head, &n->tx_chain) <
		        0 ||
		    !tx_chain_ok(&n->tx_chain)) {
			snprintf(
			    err, errlen,
			    "network interface %s: the frame it was sending is not in its queue",
			    n->id);
			return -1;
		}
		n->tx_pending = true;
		n->tx_paid = flags & NET_SNAP_TX_PAID;
	}
	return 0;
malformed:
	snprintf(err, errlen, "network interface %s: malformed state in the snapshot", n->id);
	return -1;
}

const struct virtio_device_ops net_virtio_ops = {
    .pause = net_pause,
    .resume = net_resume,
    .name = "virtio-net",
    .device_id = VIRTIO_ID_NET,
    .features = net_features,
    .config_read = net_config_read,
    .activate = net_activate,
    .queue_notify = net_queue_notify,
    .reset = net_reset,
    .destroy = net_destroy,
    .save = net_save,
    .restore = net_restore,
};

/* ---- creation ---- */

static void net_register_metrics(struct net *n)
{
	static const struct {
		const char *name;
		size_t off;
	} names[] = {
	    {"rx_bytes_count", offsetof(struct net_counters, rx_bytes)},
	    {"rx_packets_count", offsetof(struct net_counters, rx_packets)},
	    {"rx_dropped", offsetof(struct net_counters, rx_dropped)},
	    {"rx_malformed", offsetof(struct net_counters, rx_malformed)},
	    {"rx_rate_limiter_throttled", offsetof(struct net_counters, rx_throttled)},
	    {"tx_bytes_count", offsetof(struct net_counters, tx_bytes)},
	    {"tx_packets_count", offsetof(struct net_counters, tx_packets)},
	    {"tx_dropped", offsetof(struct net_counters, tx_dropped)},
	    {"tx_malformed_frames", offsetof(struct net_counters, tx_malformed)},
	    {"tx_rate_limiter_throttled", offsetof(struct net_counters, tx_throttled)},
	    {"tap_read_fails", offsetof(struct net_counters, tap_read_fails)},
	    {"tap_write_fails", offsetof(struct net_counters, tap_write_fails)},
	    {"no_rx_avail_buffer", offsetof(struct net_counters, no_rx_avail_buffer)},
	    {"event_fails", offsetof(struct net_counters, event_fails)},
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		metrics_register(n->group, names[i].name,
		                 (atomic_ulong *)((char *)&n->c + names[i].off));
}

static void net_unregister_metrics(struct net *n)
{
	for (atomic_ulong *c = (atomic_ulong *)&n->c; c < (atomic_ulong *)(&n->c + 1); c++)
		metrics_unregister(c);
}

/* The configured MAC, or a random locally administered unicast one. */
static void net_pick_mac(const struct net_config *cfg, uint8_t mac[6])
{
	if (cfg->has_guest_mac) {
		memcpy(mac, cfg->guest_mac, 6);
		return;
	}
	if (getrandom(mac, 6, 0) != 6) {
		uint64_t t = ratelimit_now_ns() ^ (uint64_t)getpid() << 32;

		memcpy(mac, &t, 6);
	}
	mac[0] = (uint8_t)((mac[0] & 0xfc) | 0x02);
}

struct net *net_new(const struct net_config *cfg, int tap_fd)
{
	struct net *n = calloc(1, sizeof(*n));

	if (!n)
		return NULL;
	n->tap_fd = tap_fd;
	n->rx_limit.timer_fd = n->tx_limit.timer_fd = -1;
	n->again_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	snprintf(n->id, sizeof(n->id), "%s", cfg->id);
	snprintf(n->group, sizeof(n->group), "net_%s", cfg->id);
	net_pick_mac(cfg, n->config.mac);
	n->rx_sink = malloc(NET_SINK_LEN);
	if (!n->rx_sink || n->again_fd < 0 ||
	    ratelimit_init(&n->rx_limit, &cfg->rx_rate_limiter) < 0 ||
	    ratelimit_init(&n->tx_limit, &cfg->tx_rate_limiter) < 0) {
		ratelimit_destroy(&n->rx_limit);
		if (n->again_fd >= 0)
			close(n->again_fd);
		free(n->rx_sink);
		free(n);
		return NULL;
	}
	net_register_metrics(n);
	n->next = net_list;
	net_list = n;
	return n;
}

void net_attach(struct net *n, struct virtio_mmio *t)
{
	n->t = t;
}

void net_free(struct net *n)
{
	if (!n)
		return;
	for (struct net **p = &net_list; *p; p = &(*p)->next)
		if (*p == n) {
			*p = n->next;
			break;
		}
	if (n->loop && n->tap_in_loop)
		evloop_del(n->loop, n->tap_fd);
	if (n->loop && n->rx_timer_in_loop)
		evloop_del(n->loop, ratelimit_timer_fd(&n->rx_limit));
	if (n->loop && n->tx_timer_in_loop)
		evloop_del(n->loop, ratelimit_timer_fd(&n->tx_limit));
	if (n->loop && n->again_in_loop)
		evloop_del(n->loop, n->again_fd);
	net_unregister_metrics(n);
	ratelimit_destroy(&n->rx_limit);
	ratelimit_destroy(&n->tx_limit);
	if (n->tap_fd >= 0)
		close(n->tap_fd);
	close(n->again_fd);
	free(n->rx_sink);
	free(n);
}

const struct net_counters *net_counters(const struct net *n)
{
	return &n->c;
}

uint32_t net_tap_events(const struct net *n)
{
	return n->tap_events;
}

/* Watches the tap (no events until activation), both limiter timers and the TX again timer. */
static int net_watch(struct net *n)
{
	int rc;

	rc = evloop_add(n->loop, n->tap_fd, 0, net_handle_tap, n);
	if (rc < 0)
		return rc;
	n->tap_in_loop = true;
	rc = evloop_add(n->loop, ratelimit_timer_fd(&n->rx_limit), EPOLLIN, net_handle_rx_timer, n);
	if (rc < 0)
		return rc;
	n->rx_timer_in_loop = true;
	rc = evloop_add(n->loop, ratelimit_timer_fd(&n->tx_limit), EPOLLIN, net_handle_tx_timer, n);
	if (rc < 0)
		return rc;
	n->tx_timer_in_loop = true;
	rc = evloop_add(n->loop, n->again_fd, EPOLLIN, net_handle_tx_again, n);
	if (rc < 0)
		return rc;
	n->again_in_loop = true;
	return 0;
}

static int net_create_one(struct vm *vm, const struct net_config *cfg)
{
	char err[256];
	struct virtio_mmio *t;
	struct net *n;
	int fd, rc;

	fd = tap_open(cfg->host_dev_name, err, sizeof(err));
	if (fd < 0) {
		log_error("network interface %s: %s", cfg->id, err);
		return -1;
	}
	n = net_new(cfg, fd);
	if (!n) {
		log_error("network interface %s: out of memory or timerfds", cfg->id);
		close(fd);
		return -1;
	}
	n->vm = vm;
	n->loop = vm->loop;
	rc = net_watch(n);
	if (rc < 0) {
		log_error("network interface %s: event loop: %s", cfg->id, strerror(-rc));
		net_free(n);
		return -1;
	}
	if (virtio_mmio_create(vm, &net_virtio_ops, n, NET_NUM_QUEUES, &t) < 0) {
		net_free(n);
		return -1;
	}
	net_attach(n, t);
	return 0;
}

static int net_create(struct vm *vm)
{
	for (unsigned i = 0; i < vm->config->nnets; i++)
		if (net_create_one(vm, &vm->config->nets[i]) < 0)
			return -1;
	return 0;
}

static const struct device_type net_type = {
    .name = "virtio-net",
    .order = 51,
    .create = net_create,
};
DEVICE_TYPE(net_type);

int net_update(struct vm *vm, const char *iface_id, const struct rate_limiter_config *rx,
               const struct rate_limiter_config *tx, char *err, size_t errlen)
{
	struct net *n;
	int rc;

	for (n = net_list; n; n = n->next)
		if (n->vm == vm && strcmp(n->id, iface_id) == 0)
			break;
	if (!n) {
		snprintf(err, errlen, "network interface %s: not found", iface_id);
		return -1;
	}
	rc = ratelimit_update(&n->rx_limit, rx);
	if (rc == 0)
		rc = ratelimit_update(&n->tx_limit, tx);
	if (rc < 0) {
		snprintf(err, errlen, "network interface %s: rate limiter timer: %s", iface_id,
		         strerror(-rc));
		return -1;
	}
	return 0;
}
