/*
 * test_tap.c - virtio/tap.c: names, error messages, offload mapping, and (as root) a real tap
 * in a private network namespace of a forked child, so the host's network is never touched.
 */
#include "tests/unit/unit.h"

#include "virtio/tap.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <linux/virtio_net.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define F(bit) (1ULL << (bit))

UNIT_TEST(tap_rejects_bad_names)
{
	char err[256] = "";

	CHECK_EQ(tap_open("", err, sizeof(err)), -1);
	CHECK_CONTAINS(err, "1 to 15 characters");
	CHECK_EQ(tap_open("a-very-long-tap-name", err, sizeof(err)), -1);
	CHECK_CONTAINS(err, "tap a-very-long-tap-name");
}

UNIT_TEST(tap_missing_device_is_named)
{
	char err[256] = "";

	CHECK_EQ(tap_open("wispnotap9", err, sizeof(err)), -1);
	CHECK_CONTAINS(err, "tap wispnotap9: no such device");
}

UNIT_TEST(tap_offloads_follow_guest_features)
{
	CHECK_EQ(tap_offloads_for_features(0), 0);
	/* Segmentation without checksum offload is not allowed by the kernel. */
	CHECK_EQ(tap_offloads_for_features(F(VIRTIO_NET_F_GUEST_TSO4)), 0);
	CHECK_EQ(tap_offloads_for_features(F(VIRTIO_NET_F_GUEST_CSUM)), TUN_F_CSUM);
	CHECK_EQ(tap_offloads_for_features(F(VIRTIO_NET_F_GUEST_CSUM) | F(VIRTIO_NET_F_GUEST_TSO4) |
	                                   F(VIRTIO_NET_F_GUEST_TSO6) | F(VIRTIO_NET_F_GUEST_ECN)),
	         TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN);
	CHECK_EQ(tap_offloads_for_features(F(VIRTIO_NET_F_GUEST_CSUM) | F(VIRTIO_NET_F_GUEST_ECN)),
	         TUN_F_CSUM);
	CHECK_EQ(tap_offloads_for_features(F(VIRTIO_NET_F_GUEST_CSUM) | F(VIRTIO_NET_F_GUEST_UFO)),
	         TUN_F_CSUM | TUN_F_UFO);
}

/* Creates a persistent tap named name in the current (private) namespace, sets 172.16.0.1/24
 * on it and brings it up. 0 or -1. */
static int make_tap(const char *name)
{
	struct ifreq ifr = {0};
	struct sockaddr_in *sin = (struct sockaddr_in *)&ifr.ifr_addr;
	int fd, sock, rc = -1;

	fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -1;
	strcpy(ifr.ifr_name, name);
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
	if (ioctl(fd, TUNSETIFF, &ifr) < 0 || ioctl(fd, TUNSETPERSIST, 1) < 0) {
		close(fd);
		return -1;
	}
	close(fd);
	sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	sin->sin_family = AF_INET;
	inet_pton(AF_INET, "172.16.0.1", &sin->sin_addr);
	if (ioctl(sock, SIOCSIFADDR, &ifr) < 0)
		goto out;
	inet_pton(AF_INET, "255.255.255.0", &sin->sin_addr);
	if (ioctl(sock, SIOCSIFNETMASK, &ifr) < 0)
		goto out;
	if (ioctl(sock, SIOCGIFFLAGS, &ifr) < 0)
		goto out;
	ifr.ifr_flags |= IFF_UP;
	rc = ioctl(sock, SIOCSIFFLAGS, &ifr);
out:
	close(sock);
	return rc;
}

/* In the child: 0 pass, 1..n the failing step, 77 skipped (no namespace or tun). */
static int tap_child(void)
{
	char err[256];
	struct sockaddr_in dst = {.sin_family = AF_INET, .sin_port = htons(9)};
	struct virtio_net_hdr_v1 hdr;
	struct pollfd pfd;
	uint8_t frame[2048];
	ssize_t n;
	int fd, sock;

	if (unshare(CLONE_NEWNET) < 0 || make_tap("wisptap0") < 0)
		return 77;
	fd = tap_open("wisptap0", err, sizeof(err));
	if (fd < 0)
		return 1;
	if (!(fcntl(fd, F_GETFL) & O_NONBLOCK))
		return 2;
	if (tap_open("wisptap0", err, sizeof(err)) != -1 || !strstr(err, "busy"))
		return 3;
	if (tap_set_offload(fd, TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6) < 0)
		return 4;
	/* Non-blocking: EAGAIN when nothing is queued (IPv6 chatter may already be there). */
	if (read(fd, frame, sizeof(frame)) < 0 && errno != EAGAIN)
		return 5;
	/* A datagram to a neighbour makes the kernel ARP for it on the tap: one frame behind a
	 * 12-byte vnet header. */
	sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	inet_pton(AF_INET, "172.16.0.2", &dst.sin_addr);
	sendto(sock, "x", 1, 0, (struct sockaddr *)&dst, sizeof(dst));
	for (;;) {
		pfd = (struct pollfd){.fd = fd, .events = POLLIN};
		if (poll(&pfd, 1, 2000) != 1)
			return 6;
		n = read(fd, frame, sizeof(frame));
		if (n < (ssize_t)sizeof(hdr) + 14)
			return 7;
		/* Skip IPv6 chatter; wait for the ARP (ethertype 0x0806). */
		if (frame[sizeof(hdr) + 12] == 0x08 && frame[sizeof(hdr) + 13] == 0x06)
			break;
	}
	memcpy(&hdr, frame, sizeof(hdr));
	if (n != (ssize_t)sizeof(hdr) + 42 || hdr.gso_type != VIRTIO_NET_HDR_GSO_NONE)
		return 8;
	/* And a frame written with a header goes in without error. */
	if (write(fd, frame, (size_t)n) != n)
		return 9;
	close(sock);
	close(fd);
	return 0;
}

UNIT_TEST(tap_real_device_in_private_netns)
{
	pid_t pid;
	int status = 0;

	if (geteuid() != 0) {
		printf("  (skipped: not root)\n");
		return;
	}
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0)
		_exit(tap_child());
	CHECK_EQ(waitpid(pid, &status, 0), pid);
	CHECK(WIFEXITED(status));
	if (WEXITSTATUS(status) == 77) {
		printf("  (skipped: no network namespace or /dev/net/tun)\n");
		return;
	}
	CHECK_EQ(WEXITSTATUS(status), 0);
}
