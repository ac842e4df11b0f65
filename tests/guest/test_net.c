/*
 * test_net.c - virtio-net test: net-echo, a tiny polled IPv4 host.
 *
 *   wisp.test=net-echo wisp.ip=172.16.0.2 [wisp.port=7777] [wisp.timeout_ms=30000]
 *   [wisp.mrg=1] [wisp.dev=0]
 *
 * Answers ARP requests and ICMP echo requests for wisp.ip and echoes every UDP datagram sent
 * to wisp.port back to its sender, byte for byte. It stops when the timeout passes or after
 * echoing a datagram whose payload starts with "STOP", prints its counters and passes.
 * wisp.mrg=1 negotiates VIRTIO_NET_F_MRG_RXBUF and posts 256-byte receive buffers, so every
 * full-size frame spans several buffers (num_buffers > 1); without it each buffer holds a
 * whole frame.
 *
 * Output:
 *   NET ready mac=06:00:ac:10:00:02 ip=172.16.0.2 port=7777 mrg=0
 *   NET rx=N tx=N arp=N icmp=N udp=N ignored=N stop=request|timeout
 *   TEST net-echo PASS
 * FAIL reasons name what the device did wrong (a used id or length out of range, a missing
 * merged buffer, a full TX ring that never drains).
 *
 * Setup (discovery, features, queues) runs at CPL0; the packet loop runs at CPL3 because CPL0
 * code is emulated on PVM hosts and the loop touches only RAM and the user-mapped MMIO window.
 * Checksums: IPv4 header and ICMP are computed; UDP replies carry checksum 0 (allowed for IPv4).
 */
#include "virtio.h"

#define VIRTIO_NET_F_MAC       5
#define VIRTIO_NET_F_MRG_RXBUF 15

#define NET_HDR_LEN   12 /* struct virtio_net_hdr_v1 */
#define NET_RX_QUEUE  0
#define NET_TX_QUEUE  1
#define NET_RX_BUFS   128
#define NET_TX_SLOTS  64
#define NET_BUF_SIZE  2048
#define NET_MRG_BUF   256
#define NET_FRAME_MAX 1514
#define NET_RING_MEM  8192 /* descriptors + avail, then the used ring on its own page */

#define ETH_HLEN     14
#define ETH_P_IP     0x0800
#define ETH_P_ARP    0x0806
#define IPPROTO_ICMP 1
#define IPPROTO_UDP  17

/* CPL3 loop results (negative: failures, reported at CPL0). */
#define NET_ERR_USED_ID  -1
#define NET_ERR_USED_LEN -2
#define NET_ERR_MERGE    -3
#define NET_ERR_TX_STUCK -4

struct net {
	struct virtio_dev *dev;
	struct virtq rxq, txq;
	u8 mac[6];
	u8 ip[4];
	u16 port;
	bool mrg;
	u32 rx_buf_len;
	u16 tx_next, tx_inflight;
	u64 deadline, timeout_ms;
	bool stop;
	u64 rx, tx, arp, icmp, udp, ignored;
	u32 bad_id, bad_len; /* the offending values, for the failure message */
};

static struct virtio_dev devs[VIRTIO_MAX_DEVS] __noinit;
static struct net net;
static u8 rings[2][NET_RING_MEM] __noinit __aligned(4096);
static u8 rx_mem[NET_RX_BUFS][NET_BUF_SIZE] __noinit __aligned(4096);
static u8 tx_mem[NET_TX_SLOTS][NET_BUF_SIZE] __noinit __aligned(4096);
static u8 frame[NET_BUF_SIZE] __noinit; /* a received frame, assembled from merged buffers */
static u8 reply[NET_BUF_SIZE] __noinit;

/* ---- byte order helpers (network order is big-endian) ---- */

static u16 get_be16(const u8 *p)
{
	return (u16)(p[0] << 8 | p[1]);
}

static void put_be16(u8 *p, u16 v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

static u16 checksum(const u8 *p, u32 len)
{
	u32 sum = 0;

	for (u32 i = 0; i + 1 < len; i += 2)
		sum += get_be16(p + i);
	if (len & 1)
		sum += (u32)p[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (u16)~sum;
}

/* ---- setup (CPL0) ---- */

/* virtq_setup_mem() with ring memory of our own (net needs two queues); the test posts exactly
 * size buffers, so a device that offers fewer fails it. */
_Static_assert(VIRTQ_MEM_BYTES(NET_RX_BUFS) <= NET_RING_MEM, "RX ring memory too small");
_Static_assert(VIRTQ_MEM_BYTES(NET_TX_SLOTS) <= NET_RING_MEM, "TX ring memory too small");

static void net_queue_setup(struct virtq *q, u16 index, u16 size, u8 *mem)
{
	virtq_setup_mem(q, net.dev, index, size, mem);
	if (q->size != size)
		test_fail("virtio-net queue %u: %u entries, the test needs %u", index, q->size,
		          size);
}

/* "a.b.c.d" -> ip; false when malformed. */
static bool parse_ip(const char *s, size_t len, u8 ip[4])
{
	size_t pos = 0;

	for (int i = 0; i < 4; i++) {
		size_t start = pos;
		u64 v;

		while (pos < len && s[pos] != '.')
			pos++;
		if (!parse_u64(s + start, pos - start, &v) || v > 255 || pos - start == 0)
			return false;
		ip[i] = (u8)v;
		if (i < 3 && (pos == len || s[pos] != '.'))
			return false;
		pos++;
	}
	return pos == len + 1;
}

static void net_read_params(void)
{
	const char *v;
	size_t len;

	v = cmdline_get("wisp.ip", &len);
	if (!v || !parse_ip(v, len, net.ip))
		test_fail("net-echo needs wisp.ip=a.b.c.d");
	net.port = (u16)cmdline_get_u64("wisp.port", 7777);
	net.timeout_ms = cmdline_get_u64("wisp.timeout_ms", 30000);
	net.mrg = cmdline_get_u64("wisp.mrg", 0) != 0;
	net.rx_buf_len = net.mrg ? NET_MRG_BUF : NET_BUF_SIZE;
}

static void rx_post(u16 id)
{
	net.rxq.desc[id] =
	    (struct virtq_desc){(u64)rx_mem[id], net.rx_buf_len, VIRTQ_DESC_F_WRITE, 0};
	virtq_push(&net.rxq, id);
}

static void net_open(void)
{
	int n = virtio_discover(devs, VIRTIO_MAX_DEVS), index = cmdline_get_u64("wisp.dev", 0);
	u64 want = 1ULL << VIRTIO_NET_F_MAC, features;
	u32 lo, hi;

	net.dev = virtio_find(devs, n, VIRTIO_ID_NET, index);
	if (!net.dev)
		test_fail("no virtio-net device %d (%d virtio devices on the command line)", index,
		          n);
	tsc_khz(NULL); /* calibrate at CPL0, before the CPL3 loop computes deadlines */
	if (net.mrg)
		want |= 1ULL << VIRTIO_NET_F_MRG_RXBUF;
	features = virtio_init(net.dev, want);
	if (!(features & (1ULL << VIRTIO_NET_F_MAC)))
		test_fail("virtio-net does not offer VIRTIO_NET_F_MAC");
	if (net.mrg && !(features & (1ULL << VIRTIO_NET_F_MRG_RXBUF)))
		test_fail("virtio-net does not offer VIRTIO_NET_F_MRG_RXBUF");
	lo = virtio_read32(net.dev, VIRTIO_MMIO_CONFIG);
	hi = virtio_read32(net.dev, VIRTIO_MMIO_CONFIG + 4);
	for (int i = 0; i < 4; i++)
		net.mac[i] = (u8)(lo >> (8 * i));
	net.mac[4] = (u8)hi;
	net.mac[5] = (u8)(hi >> 8);
	net_queue_setup(&net.rxq, NET_RX_QUEUE, NET_RX_BUFS, rings[0]);
	net_queue_setup(&net.txq, NET_TX_QUEUE, NET_TX_SLOTS, rings[1]);
	for (u16 i = 0; i < NET_RX_BUFS; i++)
		rx_post(i);
	virtio_ready(net.dev);
	virtq_notify(&net.rxq);
}

/* ---- the packet loop (CPL3) ---- */

static bool expired(void)
{
	return (s64)(rdtsc() - net.deadline) > 0;
}

static void tx_reclaim(void)
{
	while (net.txq.used->idx != net.txq.used_seen) {
		net.txq.used_seen++;
		net.tx_inflight--;
	}
}

/* Queues one frame for transmission. 0, or NET_ERR_TX_STUCK when the ring never drains. */
static long tx_send(const u8 *data, u32 len)
{
	u16 slot;

	tx_reclaim();
	while (net.tx_inflight == NET_TX_SLOTS) {
		if (expired())
			return NET_ERR_TX_STUCK;
		cpu_relax();
		tx_reclaim();
	}
	slot = net.tx_next++ % NET_TX_SLOTS;
	memset(tx_mem[slot], 0, NET_HDR_LEN);
	memcpy(tx_mem[slot] + NET_HDR_LEN, data, len);
	net.txq.desc[slot] = (struct virtq_desc){(u64)tx_mem[slot], NET_HDR_LEN + len, 0, 0};
	virtq_push(&net.txq, slot);
	net.tx_inflight++;
	virtq_notify(&net.txq);
	net.tx++;
	return 0;
}

/* Ethernet reply header: back to the sender, from us. */
static void eth_reply(const u8 *in, u8 *out, u16 type)
{
	memcpy(out, in + 6, 6);
	memcpy(out + 6, net.mac, 6);
	put_be16(out + 12, type);
}

static long handle_arp(const u8 *f, u32 len)
{
	const u8 *a = f + ETH_HLEN;
	u8 *r = reply + ETH_HLEN;

	if (len < ETH_HLEN + 28 || get_be16(a) != 1 || get_be16(a + 2) != ETH_P_IP || a[4] != 6 ||
	    a[5] != 4 || get_be16(a + 6) != 1 || memcmp(a + 24, net.ip, 4) != 0) {
		net.ignored++;
		return 0;
	}
	eth_reply(f, reply, ETH_P_ARP);
	memcpy(r, a, 6);           /* htype, ptype, hlen, plen */
	put_be16(r + 6, 2);        /* reply */
	memcpy(r + 8, net.mac, 6); /* sender: us */
	memcpy(r + 14, net.ip, 4);
	memcpy(r + 18, a + 8, 10); /* target: the asker's sha + spa */
	net.arp++;
	return tx_send(reply, ETH_HLEN + 28);
}

/* IPv4 reply header from the request's, with payload length plen; returns its length. */
static u32 ip_reply(const u8 *ip, u8 *out, u32 ihl, u32 plen)
{
	memcpy(out, ip, ihl);
	put_be16(out + 2, (u16)(ihl + plen));
	put_be16(out + 6, 0); /* no fragments */
	out[8] = 64;          /* TTL */
	memcpy(out + 12, ip + 16, 4);
	memcpy(out + 16, ip + 12, 4);
	put_be16(out + 10, 0);
	put_be16(out + 10, checksum(out, ihl));
	return ihl;
}

static long handle_icmp(const u8 *f, const u8 *ip, u32 ihl, u32 plen)
{
	const u8 *icmp = ip + ihl;
	u8 *r = reply + ETH_HLEN;

	if (plen < 8 || icmp[0] != 8 || icmp[1] != 0) {
		net.ignored++;
		return 0;
	}
	eth_reply(f, reply, ETH_P_IP);
	ip_reply(ip, r, ihl, plen);
	memcpy(r + ihl, icmp, plen);
	r[ihl] = 0; /* echo reply */
	put_be16(r + ihl + 2, 0);
	put_be16(r + ihl + 2, checksum(r + ihl, plen));
	net.icmp++;
	return tx_send(reply, ETH_HLEN + ihl + plen);
}

static long handle_udp(const u8 *f, const u8 *ip, u32 ihl, u32 plen)
{
	const u8 *udp = ip + ihl;
	u8 *r = reply + ETH_HLEN;
	u32 ulen;

	if (plen < 8 || get_be16(udp + 2) != net.port) {
		net.ignored++;
		return 0;
	}
	ulen = get_be16(udp + 4);
	if (ulen < 8 || ulen > plen) {
		net.ignored++;
		return 0;
	}
	eth_reply(f, reply, ETH_P_IP);
	ip_reply(ip, r, ihl, ulen);
	memcpy(r + ihl, udp + 2, 2); /* ports swapped */
	memcpy(r + ihl + 2, udp, 2);
	put_be16(r + ihl + 4, (u16)ulen);
	put_be16(r + ihl + 6, 0); /* no checksum */
	memcpy(r + ihl + 8, udp + 8, ulen - 8);
	if (ulen >= 12 && memcmp(udp + 8, "STOP", 4) == 0)
		net.stop = true;
	net.udp++;
	return tx_send(reply, ETH_HLEN + ihl + ulen);
}

static long handle_ipv4(const u8 *f, u32 len)
{
	const u8 *ip = f + ETH_HLEN;
	u32 ihl, total;

	if (len < ETH_HLEN + 20 || (ip[0] >> 4) != 4) {
		net.ignored++;
		return 0;
	}
	ihl = (ip[0] & 15) * 4u;
	total = get_be16(ip + 2);
	if (ihl < 20 || total < ihl || ETH_HLEN + total > len || checksum(ip, ihl) != 0 ||
	    (get_be16(ip + 6) & 0x3fff) != 0 || memcmp(ip + 16, net.ip, 4) != 0) {
		net.ignored++; /* bad header, a fragment, or not for us */
		return 0;
	}
	if (ip[9] == IPPROTO_ICMP)
		return handle_icmp(f, ip, ihl, total - ihl);
	if (ip[9] == IPPROTO_UDP)
		return handle_udp(f, ip, ihl, total - ihl);
	net.ignored++;
	return 0;
}

static long handle_frame(const u8 *f, u32 len)
{
	static const u8 bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

	net.rx++;
	if (len < ETH_HLEN || (memcmp(f, net.mac, 6) != 0 && memcmp(f, bcast, 6) != 0)) {
		net.ignored++;
		return 0;
	}
	if (get_be16(f + 12) == ETH_P_ARP)
		return handle_arp(f, len);
	if (get_be16(f + 12) == ETH_P_IP)
		return handle_ipv4(f, len);
	net.ignored++;
	return 0;
}

/* Takes the next used RX element, waiting (bounded) when wait is set. */
static long rx_take(bool wait, struct virtq_used_elem *e)
{
	while (net.rxq.used->idx == net.rxq.used_seen) {
		if (!wait)
			return 0;
		if (expired())
			return NET_ERR_MERGE;
		cpu_relax();
	}
	barrier();
	*e = (struct virtq_used_elem){net.rxq.used->ring[net.rxq.used_seen % NET_RX_BUFS].id,
	                              net.rxq.used->ring[net.rxq.used_seen % NET_RX_BUFS].len};
	net.rxq.used_seen++;
	if (e->id >= NET_RX_BUFS) {
		net.bad_id = e->id;
		return NET_ERR_USED_ID;
	}
	if (e->len > net.rx_buf_len) {
		net.bad_len = e->len;
		return NET_ERR_USED_LEN;
	}
	return 1;
}

/* Receives one frame (several buffers with MRG_RXBUF) into frame[]; 1, 0 none, or < 0. */
static long rx_frame(u32 *flen)
{
	struct virtq_used_elem e;
	long r = rx_take(false, &e);
	u16 nbuf = 1;
	bool fits = true;

	if (r <= 0)
		return r;
	if (e.len < NET_HDR_LEN) {
		net.bad_len = e.len;
		return NET_ERR_USED_LEN;
	}
	if (net.mrg)
		nbuf = (u16)(rx_mem[e.id][10] | rx_mem[e.id][11] << 8);
	if (nbuf == 0 || nbuf > NET_RX_BUFS) {
		net.bad_len = nbuf;
		return NET_ERR_MERGE;
	}
	*flen = e.len - NET_HDR_LEN;
	memcpy(frame, rx_mem[e.id] + NET_HDR_LEN, *flen);
	rx_post((u16)e.id);
	for (u16 i = 1; i < nbuf; i++) {
		r = rx_take(true, &e);
		if (r < 0)
			return r;
		if (*flen + e.len > sizeof(frame))
			fits = false;
		else
			memcpy(frame + *flen, rx_mem[e.id], e.len);
		*flen += e.len;
		rx_post((u16)e.id);
	}
	if (!fits) {
		net.ignored++;
		*flen = 0;
	}
	return 1;
}

static long net_loop(u64 arg)
{
	(void)arg;
	net.deadline = tsc_deadline_ms(net.timeout_ms);
	while (!net.stop && !expired()) {
		u32 flen = 0;
		long r = rx_frame(&flen);

		if (r < 0)
			return r;
		if (r == 0) {
			cpu_relax();
			continue;
		}
		virtq_notify(&net.rxq); /* buffers reposted */
		if (flen && (r = handle_frame(frame, flen)) < 0)
			return r;
	}
	/* Let the last replies leave before the VM stops. */
	net.deadline = tsc_deadline_ms(1000);
	while (net.tx_inflight && !expired())
		tx_reclaim();
	return 0;
}

static __noreturn void test_net_echo(void)
{
	long r;

	net_read_params();
	net_open();
	gprintf("NET ready mac=%02x:%02x:%02x:%02x:%02x:%02x ip=%u.%u.%u.%u port=%u mrg=%d\n",
	        net.mac[0], net.mac[1], net.mac[2], net.mac[3], net.mac[4], net.mac[5], net.ip[0],
	        net.ip[1], net.ip[2], net.ip[3], net.port, net.mrg);
	r = cpl3_run(net_loop, 0);
	gprintf("NET rx=%lu tx=%lu arp=%lu icmp=%lu udp=%lu ignored=%lu stop=%s\n", net.rx, net.tx,
	        net.arp, net.icmp, net.udp, net.ignored, net.stop ? "request" : "timeout");
	if (r == NET_ERR_USED_ID)
		test_fail("RX used id %u out of range", net.bad_id);
	if (r == NET_ERR_USED_LEN)
		test_fail("RX used length %u out of range", net.bad_len);
	if (r == NET_ERR_MERGE)
		test_fail("RX merged frame: num_buffers %u or a buffer never came", net.bad_len);
	if (r == NET_ERR_TX_STUCK)
		test_fail("TX ring full and not drained before the timeout");
	test_pass();
}
GUEST_TEST("net-echo", test_net_echo);
