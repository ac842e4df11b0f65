# virtio: split virtqueue, virtio-mmio transport, virtio-blk and its two I/O engines.
WISP_SRCS += virtio/virtq.c virtio/mmio.c virtio/mmio_kvm.c
