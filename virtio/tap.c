/*
 * tap.c - open a tap interface for virtio-net (see tap.h).
 */
#include "virtio/tap.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <linux/virtio_net.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define TUN_DEVICE "/dev/net/tun"

/* One message for the errors an operator meets; the rest get strerror(). */
static void tap_explain(const char *name, const char *what, int error, char *err, size_t errlen)
{
	const char *why;

	switch (error) {
	case EPERM:
	case EACCES:
		why = "permission denied (needs CAP_NET_ADMIN or a tap owned by this user)";
		break;
	case EBUSY:
		why = "busy (already open by another process, or not a multi-queue-compatible tap)";
		break;
	case ENODEV:
	case ENXIO:
		why = "no such device";
		break;
	case EINVAL:
		why = "invalid (a tun device, not a tap, or it lacks vnet header support)";
		break;
	default:
		why = strerror(error);
		break;
	}
	snprintf(err, errlen, "tap %s: %s%s%s", name, what, *what ? ": " : "", why);
}

static int tap_configure(int fd, const char *name, char *err, size_t errlen)
{
	struct ifreq ifr;
	int hdr_len = (int)sizeof(struct virtio_net_hdr_v1);

	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	memcpy(ifr.ifr_name, name, strlen(name));
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		tap_explain(name, "", errno, err, errlen);
		return -1;
	}
	if (ioctl(fd, TUNSETVNETHDRSZ, &hdr_len) < 0) {
		tap_explain(name, "TUNSETVNETHDRSZ", errno, err, errlen);
		return -1;
	}
	/* Nothing is offloaded until the guest says what it accepts (tap_set_offload). */
	if (ioctl(fd, TUNSETOFFLOAD, 0UL) < 0) {
		tap_explain(name, "TUNSETOFFLOAD", errno, err, errlen);
		return -1;
	}
	return 0;
}

int tap_open(const char *name, char *err, size_t errlen)
{
	int fd;

	if (!name || !*name || strlen(name) >= IFNAMSIZ) {
		snprintf(err, errlen, "tap %s: name must be 1 to %d characters", name ? name : "",
		         IFNAMSIZ - 1);
		return -1;
	}
	/* TUNSETIFF would create a missing interface (when privileged), detached from any
	 * network: refuse instead, the operator creates and wires the tap. */
	if (if_nametoindex(name) == 0) {
		snprintf(err, errlen,
		         "tap %s: no such device (create it: ip tuntap add %s mode tap)", name,
		         name);
		return -1;
	}
	fd = open(TUN_DEVICE, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		tap_explain(name, TUN_DEVICE, errno, err, errlen);
		return -1;
	}
	if (tap_configure(fd, name, err, errlen) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

unsigned tap_offloads_for_features(uint64_t features)
{
	unsigned offloads = 0;

	if (!(features & (1ULL << VIRTIO_NET_F_GUEST_CSUM)))
		return 0;
	offloads |= TUN_F_CSUM;
	if (features & (1ULL << VIRTIO_NET_F_GUEST_TSO4))
		offloads |= TUN_F_TSO4;
	if (features & (1ULL << VIRTIO_NET_F_GUEST_TSO6))
		offloads |= TUN_F_TSO6;
	if ((offloads & (TUN_F_TSO4 | TUN_F_TSO6)) && (features & (1ULL << VIRTIO_NET_F_GUEST_ECN)))
		offloads |= TUN_F_TSO_ECN;
	if (features & (1ULL << VIRTIO_NET_F_GUEST_UFO))
		offloads |= TUN_F_UFO;
	return offloads;
}

int tap_set_offload(int fd, unsigned offloads)
{
	if (ioctl(fd, TUNSETOFFLOAD, (unsigned long)offloads) < 0)
		return -errno;
	return 0;
}
