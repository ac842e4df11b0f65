/*
 * tap.h - the host side of a virtio-net device: a tap interface opened by name.
 *
 * The tap carries one struct virtio_net_hdr_v1 (12 bytes, the VIRTIO_F_VERSION_1 layout, which
 * wisp always negotiates) in front of every frame in both directions (IFF_VNET_HDR +
 * TUNSETVNETHDRSZ), so guest headers pass through unchanged: no copy, no translation.
 * The fd is non-blocking: reads return EAGAIN when no frame waits, writes EAGAIN when the
 * tap's queue is full.
 *
 * Threads: tap_open() runs while the VM is built (before seccomp); tap_set_offload() on the
 * event-loop thread when the guest sets DRIVER_OK. Both are plain syscalls on one fd.
 */
#ifndef WISP_TAP_H
#define WISP_TAP_H

#include <stddef.h>
#include <stdint.h>

/* Opens the existing tap interface name as IFF_TAP | IFF_NO_PI | IFF_VNET_HDR, non-blocking
 * and close-on-exec. Returns the fd, or -1 with one line naming the tap in err, e.g.
 * "tap tap0: no such device (create it: ip tuntap add tap0 mode tap)". */
int tap_open(const char *name, char *err, size_t errlen);

/* TUN_F_* offloads the guest can receive, from the virtio-net features it negotiated
 * (VIRTIO_NET_F_GUEST_CSUM -> TUN_F_CSUM, GUEST_TSO4 -> TUN_F_TSO4, ...). Segmentation
 * offloads are dropped without checksum offload: the kernel refuses them alone. */
unsigned tap_offloads_for_features(uint64_t features);
/* TUNSETOFFLOAD: the kernel may then hand us frames with partial checksums and GSO. 0 or
 * -errno. */
int tap_set_offload(int fd, unsigned offloads);

#endif
