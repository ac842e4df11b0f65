/*
 * net.h - virtio-net (device id 1) over the virtio-mmio transport, backed by a tap.
 *
 * One device per vm->config->nets[i], created by the "virtio-net" device type (order 51):
 * queue 0 receives (tap -> guest), queue 1 transmits (guest -> tap). Frames travel with the
 * 12-byte struct virtio_net_hdr_v1 in front, which the tap reads and writes as is, so there is
 * no header translation and no copy of payload data in wisp: RX readv()s from the tap straight
 * into the guest's posted buffers, TX writev()s the guest's buffers to the tap.
 *
 * Offered features: MAC, CSUM, GUEST_CSUM, GUEST_TSO4/6, HOST_TSO4/6, MRG_RXBUF (plus the
 * transport's VERSION_1, EVENT_IDX, INDIRECT_DESC).
 *
 * Every guest chain is hostile: a chain the transport refuses, an RX chain with readable
 * buffers or too small for a header, a TX chain with writable buffers, without a header or
 * larger than a 64 KiB frame is handed back unused and counted; the device keeps working.
 * Counters live in the metrics group "net_<iface_id>" (struct net_counters, same names).
 *
 * Threads: everything except the transport's register hooks (features, config_read) runs on
 * the event-loop thread, net_update() included (the API thread reaches it through
 * evloop_call_sync()).
 */
#ifndef WISP_VIRTIO_NET_H
#define WISP_VIRTIO_NET_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "vmm/config.h"

struct vm;
struct net;
struct virtio_mmio;
struct virtio_device_ops;

struct net_counters {
	atomic_ulong rx_bytes;        /* frame bytes delivered to the guest (no vnet header) */
	atomic_ulong rx_packets;      /* frames delivered */
	atomic_ulong rx_dropped;      /* frames read from the tap but not delivered (too big for
	                                 the guest's buffers, truncated, read error) */
	atomic_ulong rx_malformed;    /* RX chains handed back unused (refused by the transport,
	                                 readable buffers, smaller than a vnet header) */
	atomic_ulong rx_throttled;    /* times the RX rate limiter held a frame back */
	atomic_ulong tx_bytes;        /* frame bytes written to the tap (no vnet header) */
	atomic_ulong tx_packets;      /* frames written */
	atomic_ulong tx_dropped;      /* frames not sent: the tap refused them (interface down or
	                                 gone, ...) or wrote them short */
	atomic_ulong tx_malformed;    /* TX chains dropped: refused by the transport, writable
	                                 buffers, no header, oversized, or a header the tap refused */
	atomic_ulong tx_throttled;    /* times the TX rate limiter held a frame back */
	atomic_ulong tap_read_fails;  /* tap reads that failed (EOF, EBADFD: interface deleted) */
	atomic_ulong tap_write_fails; /* TX frames the tap did not take: the write failed (EIO:
	                                 interface down) or the tap is gone; each is also in
	                                 tx_dropped */
	atomic_ulong no_rx_avail_buffer; /* times a frame waited on the tap (or half delivered)
	                                    with no guest RX buffer to take it */
	atomic_ulong event_fails;        /* EPOLLERR/EPOLLHUP on the tap */
};

/*
 * After boot (PATCH /network-interfaces/{id}): replaces the RX and/or TX rate limiter of the
 * device with iface_id; NULL keeps one, and inside a config only the buckets with .set
 * change (see ratelimit_update()). Event-loop thread. 0, or -1 with a one-line reason in err
 * ("network interface eth9: not found").
 */
int net_update(struct vm *vm, const char *iface_id, const struct rate_limiter_config *rx,
               const struct rate_limiter_config *tx, char *err, size_t errlen);

/* ---- For unit tests and the fuzzer: a device without a VM or an event loop. ----
 *
 * net_new() builds a device for cfg over an already open tap_fd (a socketpair or pipe end in
 * tests; the device takes ownership). The caller creates a transport with
 * virtio_mmio_init(t, mem, &net_virtio_ops, n, 2, env) and passes it to net_attach(); then
 * register writes, virtio_mmio_handle_notify() and the net_handle_* functions drive it as the
 * event loop would. net_tap_events() tells which of EPOLLIN/EPOLLOUT the device would watch
 * on the tap right now. net_free() undoes net_new() (ops->destroy does the same). Rate limiters
 * in tests run on the real monotonic clock.
 */
extern const struct virtio_device_ops net_virtio_ops;
struct net *net_new(const struct net_config *cfg, int tap_fd);
void net_attach(struct net *n, struct virtio_mmio *t);
void net_free(struct net *n);
const struct net_counters *net_counters(const struct net *n);
uint32_t net_tap_events(const struct net *n);
/* Event-loop handlers: tap readiness, the RX / TX rate limiters' timers, and the timer that
 * continues TX after a full budget. */
void net_handle_tap(void *opaque, uint32_t events);
void net_handle_rx_timer(void *opaque, uint32_t events);
void net_handle_tx_timer(void *opaque, uint32_t events);
void net_handle_tx_again(void *opaque, uint32_t events);

#endif
