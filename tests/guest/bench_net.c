/*
 * bench_net.c - net-bench: virtio-net packet rates measured from inside the guest.
 *
 *   wisp.test=net-bench wisp.ip=172.16.0.2 wisp.host=172.16.0.1 [wisp.port=7777]
 *   [wisp.arg=1400 (UDP payload bytes)] [wisp.ms=2000] [wisp.hostmac=XX:XX:XX:XX:XX:XX]
 *   [wisp.timeout_ms=30000] [wisp.dev=0]
 *
 * Phase tx (guest -> host): UDP datagrams of wisp.arg payload bytes from wisp.ip:wisp.port to
 * wisp.host:wisp.port, as fast as the TX ring takes them, for wisp.ms ms. The Ethernet
 * destination is wisp.hostmac, or broadcast (Linux accepts unicast IP in a broadcast frame
 * by default), so the guest needs no ARP. Every TX descriptor points at the same frame: the
 * device only reads it.
 * Phase rx (host -> guest): after "NETBENCH rx ready", counts UDP datagrams to wisp.port for
 * wisp.ms ms from the first one (the host's start-up is not counted); a wait of
 * wisp.timeout_ms for the first one that ends empty-handed fails the test.
 * Output:
 *   NET ready mac=.. ip=.. host=.. port=N payload=N
 *   NETBENCH tx frames=N bytes=B ms=M     frames the device consumed, payload bytes
 *   NETBENCH rx ready
 *   NETBENCH rx frames=N bytes=B ms=M     UDP datagrams to wisp.port, payload bytes
 *   TEST net-bench PASS
 * The host's side of the count (what arrived, what was sent) is the script's business
 * (tests/bench/net.sh).
 *
 * As in bench_blk.c: set-up at CPL0, loops at CPL3, no interrupts (used_event is kept far
 * ahead), notifications straight to the user-mapped QueueNotify, and only when EVENT_IDX
 * says the device is waiting for one.
 */
#include "virtio.h"

#define VIRTIO_NET_F_MAC 5

#define NET_HDR_LEN     12 /* struct virtio_net_hdr_v1 */
#define NET_QUEUE_SIZE  256
#define NET_BUF_SIZE    2048
#define NET_PAYLOAD_MAX (1500 - 28) /* one frame at the standard MTU */
#define ETH_HLEN        14
#define NET_BUF_ADDR    0x1000000ULL /* RX buffers (512 KiB) at 16 MiB, outside the image */

#define NET_ERR_USED_ID -1
#define NET_ERR_STUCK   -2
#define NET_ERR_NO_RX   -3

struct net_bench {
	struct virtio_dev *dev;
	struct virtq rxq, txq;
	u8 mac[6], host_mac[6];
	u8 ip[4], host_ip[4];
	u16 port;
	u32 payload;
	u64 ms, timeout_ms;
	u64 frames, bytes, tsc; /* the current phase's results */
	u32 bad_id;
};

static struct virtio_dev devs[VIRTIO_MAX_DEVS] __noinit;
static struct net_bench nb;
static u8 rings[2][VIRTQ_MEM_BYTES(NET_QUEUE_SIZE)] __noinit __aligned(4096);
static u8 tx_frame[NET_BUF_SIZE] __noinit __aligned(64);

static u8 *rx_buf(u32 id)
{
	return phys(NET_BUF_ADDR + (u64)id * NET_BUF_SIZE);
}

static void put_be16(u8 *p, u16 v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

static u16 ip_checksum(const u8 *p, u32 len)
{
	u32 sum = 0, i;

	for (i = 0; i + 1 < len; i += 2)
		sum += (u32)p[i] << 8 | p[i + 1];
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (u16)~sum;
}

/* ---- parameters and set-up (CPL0) ---- */

/* "a.b.c.d" */
static bool parse_ip(const char *s, size_t len, u8 ip[4])
{
	size_t pos = 0, start;
	u64 v;
	int i;

	for (i = 0; i < 4; i++) {
		start = pos;
		while (pos < len && s[pos] != '.')
			pos++;
		if (pos == start || !parse_u64(s + start, pos - start, &v) || v > 255)
			return false;
		ip[i] = v;
		if ((i < 3) != (pos < len))
			return false;
		pos++;
	}
	return true;
}

/* "xx:xx:xx:xx:xx:xx" (hex) */
static bool parse_mac(const char *s, size_t len, u8 mac[6])
{
	u64 v;
	int i;

	if (len != 17)
		return false;
	for (i = 0; i < 6; i++) {
		char hex[4] = {'0', 'x', s[3 * i], s[3 * i + 1]};

		if ((i < 5 && s[3 * i + 2] != ':') || !parse_u64(hex, 4, &v))
			return false;
		mac[i] = v;
	}
	return true;
}

static void net_bench_params(void)
{
	const char *v;
	size_t len;

	v = cmdline_get("wisp.ip", &len);
	if (!v || !parse_ip(v, len, nb.ip))
		test_fail("net-bench needs wisp.ip=a.b.c.d");
	v = cmdline_get("wisp.host", &len);
	if (!v || !parse_ip(v, len, nb.host_ip))
		test_fail("net-bench needs wisp.host=a.b.c.d");
	memset(nb.host_mac, 0xff, 6);
	v = cmdline_get("wisp.hostmac", &len);
	if (v && !parse_mac(v, len, nb.host_mac))
		test_fail("bad wisp.hostmac=%.*s", (int)len, v);
	nb.port = cmdline_get_u64("wisp.port", 7777);
	nb.payload = cmdline_get_u64("wisp.arg", 1400);
	if (nb.payload > NET_PAYLOAD_MAX)
		test_fail("wisp.arg=%u: at most %u payload bytes", nb.payload, NET_PAYLOAD_MAX);
	nb.ms = cmdline_get_u64("wisp.ms", 2000);
	nb.timeout_ms = cmdline_get_u64("wisp.timeout_ms", 30000);
}

/* The one frame every TX descriptor sends: virtio-net header, Ethernet, IPv4, UDP. */
static u32 build_frame(void)
{
	u8 *eth = tx_frame + NET_HDR_LEN, *ip = eth + ETH_HLEN, *udp = ip + 20;
	u32 i;

	memset(tx_frame, 0, NET_HDR_LEN + ETH_HLEN + 28);
	memcpy(eth, nb.host_mac, 6);
	memcpy(eth + 6, nb.mac, 6);
	put_be16(eth + 12, 0x0800);
	ip[0] = 0x45;
	put_be16(ip + 2, 28 + nb.payload);
	ip[8] = 64; /* TTL */
	ip[9] = 17; /* UDP */
	memcpy(ip + 12, nb.ip, 4);
	memcpy(ip + 16, nb.host_ip, 4);
	put_be16(ip + 10, ip_checksum(ip, 20));
	put_be16(udp, nb.port);
	put_be16(udp + 2, nb.port);
	put_be16(udp + 4, 8 + nb.payload); /* checksum 0: none (allowed for IPv4) */
	for (i = 0; i < nb.payload; i++)
		udp[8 + i] = 'a' + i % 26;
	return NET_HDR_LEN + ETH_HLEN + 28 + nb.payload;
}

static void net_bench_open(void)
{
	int n = virtio_discover(devs, VIRTIO_MAX_DEVS), index = cmdline_get_u64("wisp.dev", 0);
	u64 features;
	u32 lo, hi, len, i;

	nb.dev = virtio_find(devs, n, VIRTIO_ID_NET, index);
	if (!nb.dev)
		test_fail("no virtio-net device %d (%d virtio devices on the command line)", index,
		          n);
	tsc_khz(NULL); /* calibrated at CPL0, before the CPL3 loops need it */
	features = virtio_init(nb.dev, 1ULL << VIRTIO_NET_F_MAC | 1ULL << VIRTIO_RING_F_EVENT_IDX);
	if (!(features & 1ULL << VIRTIO_NET_F_MAC))
		test_fail("virtio-net does not offer VIRTIO_NET_F_MAC");
	lo = virtio_read32(nb.dev, VIRTIO_MMIO_CONFIG);
	hi = virtio_read32(nb.dev, VIRTIO_MMIO_CONFIG + 4);
	for (i = 0; i < 4; i++)
		nb.mac[i] = lo >> (8 * i);
	nb.mac[4] = hi;
	nb.mac[5] = hi >> 8;
	virtq_setup_mem(&nb.rxq, nb.dev, 0, NET_QUEUE_SIZE, rings[0]);
	virtq_setup_mem(&nb.txq, nb.dev, 1, NET_QUEUE_SIZE, rings[1]);
	nb.rxq.event_idx = nb.txq.event_idx = features & 1ULL << VIRTIO_RING_F_EVENT_IDX;
	len = build_frame();
	for (i = 0; i < nb.txq.size; i++)
		nb.txq.desc[i] = (struct virtq_desc){(u64)tx_frame, len, 0, 0};
	for (i = 0; i < nb.rxq.size; i++) {
		nb.rxq.desc[i] =
		    (struct virtq_desc){(u64)rx_buf(i), NET_BUF_SIZE, VIRTQ_DESC_F_WRITE, 0};
		virtq_push(&nb.rxq, i);
	}
	virtio_ready(nb.dev);
	virtq_notify(&nb.rxq);
}

/* ---- the loops (CPL3) ---- */

/* No interrupts, ever: keep used_event half the index space ahead of what we consumed. */
static void no_interrupts(struct virtq *q)
{
	*(volatile u16 *)virtq_used_event(q) = q->used_seen + 0x7fff;
}

static long tx_loop(u64 arg)
{
	struct virtq *q = &nb.txq;
	u64 start = rdtsc(), stop = start + nb.ms * tsc_khz(NULL), stall;
	u32 inflight = 0;
	u16 old;

	(void)arg;
	while ((s64)(rdtsc() - stop) < 0) {
		while (q->used->idx != q->used_seen) {
			barrier();
			if (q->used->ring[q->used_seen % q->size].id >= q->size) {
				nb.bad_id = q->used->ring[q->used_seen % q->size].id;
				return NET_ERR_USED_ID;
			}
			q->used_seen++;
			inflight--;
			nb.frames++;
		}
		if (inflight == q->size) {
			cpu_relax();
			continue;
		}
		old = q->avail_idx;
		while (inflight < q->size) {
			virtq_push(q, q->avail_idx % q->size); /* descriptor i: the shared frame */
			inflight++;
		}
		no_interrupts(q);
		virtq_kick(q, old);
	}
	/* Drain: what was queued still counts, within a bounded wait. */
	stall = rdtsc() + nb.timeout_ms * tsc_khz(NULL);
	while (inflight) {
		if (q->used->idx == q->used_seen) {
			if ((s64)(rdtsc() - stall) > 0)
				return NET_ERR_STUCK;
			cpu_relax();
			continue;
		}
		q->used_seen++;
		inflight--;
		nb.frames++;
	}
	nb.bytes = nb.frames * nb.payload;
	nb.tsc = rdtsc() - start;
	return 0;
}

/* A UDP datagram to our address and port: its payload length, else -1. */
static long udp_payload(const u8 *f, u32 len)
{
	const u8 *ip = f + ETH_HLEN, *udp;
	u32 ihl;

	if (len < ETH_HLEN + 28 || f[12] != 0x08 || f[13] != 0x00 || (ip[0] >> 4) != 4 ||
	    ip[9] != 17 || memcmp(ip + 16, nb.ip, 4) != 0)
		return -1;
	ihl = (ip[0] & 15) * 4;
	udp = ip + ihl;
	if (ETH_HLEN + ihl + 8 > len || (u16)(udp[2] << 8 | udp[3]) != nb.port)
		return -1;
	return (long)(udp[4] << 8 | udp[5]) - 8;
}

static long rx_loop(u64 arg)
{
	struct virtq *q = &nb.rxq;
	u64 start = 0, stop = 0, wait = rdtsc() + nb.timeout_ms * tsc_khz(NULL), now;
	bool counting = false;
	u16 old;

	(void)arg;
	for (;;) {
		now = rdtsc();
		if (counting && (s64)(now - stop) > 0)
			break;
		if (!counting && (s64)(now - wait) > 0)
			return NET_ERR_NO_RX;
		if (q->used->idx == q->used_seen) {
			cpu_relax();
			continue;
		}
		barrier();
		old = q->avail_idx;
		while (q->used->idx != q->used_seen) {
			struct virtq_used_elem e = {q->used->ring[q->used_seen % q->size].id,
			                            q->used->ring[q->used_seen % q->size].len};
			long n;

			q->used_seen++;
			if (e.id >= q->size) {
				nb.bad_id = e.id;
				return NET_ERR_USED_ID;
			}
			n = e.len > NET_HDR_LEN
			        ? udp_payload(rx_buf(e.id) + NET_HDR_LEN, e.len - NET_HDR_LEN)
			        : -1;
			if (n >= 0) {
				if (!counting) {
					counting = true;
					start = rdtsc();
					stop = start + nb.ms * tsc_khz(NULL);
				}
				nb.frames++;
				nb.bytes += n;
			}
			virtq_push(q, e.id); /* the buffer goes straight back */
		}
		no_interrupts(q);
		virtq_kick(q, old);
	}
	nb.tsc = rdtsc() - start;
	return 0;
}

static void net_bench_phase(const char *what, long (*loop)(u64))
{
	long r;
	u64 us;

	nb.frames = nb.bytes = nb.tsc = 0;
	r = cpl3_run(loop, 0);
	if (r == NET_ERR_USED_ID)
		test_fail("%s: used id %u out of range", what, nb.bad_id);
	if (r == NET_ERR_STUCK)
		test_fail("%s: ring not drained within %lu ms", what, nb.timeout_ms);
	if (r == NET_ERR_NO_RX)
		test_fail("%s: no UDP datagram to port %u within %lu ms", what, nb.port,
		          nb.timeout_ms);
	us = nb.tsc * 1000 / tsc_khz(NULL);
	gprintf("NETBENCH %s frames=%lu bytes=%lu ms=%lu\n", what, nb.frames, nb.bytes, us / 1000);
}

static __noreturn void test_net_bench(void)
{
	net_bench_params();
	net_bench_open();
	gprintf("NET ready mac=%02x:%02x:%02x:%02x:%02x:%02x ip=%u.%u.%u.%u host=%u.%u.%u.%u "
	        "port=%u payload=%u\n",
	        nb.mac[0], nb.mac[1], nb.mac[2], nb.mac[3], nb.mac[4], nb.mac[5], nb.ip[0],
	        nb.ip[1], nb.ip[2], nb.ip[3], nb.host_ip[0], nb.host_ip[1], nb.host_ip[2],
	        nb.host_ip[3], nb.port, nb.payload);
	net_bench_phase("tx", tx_loop);
	gprintf("NETBENCH rx ready\n");
	net_bench_phase("rx", rx_loop);
	test_pass();
}
GUEST_TEST("net-bench", test_net_bench);
