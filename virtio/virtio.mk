# virtio: split virtqueue, virtio-mmio transport, virtio-blk and its two I/O engines.
WISP_SRCS += virtio/virtq.c virtio/mmio.c virtio/mmio_kvm.c virtio/mmio_snapshot.c
WISP_SRCS += virtio/blk.c virtio/blk_io.c virtio/blk_sync.c virtio/blk_uring.c
FUZZ_TARGETS += fuzz_virtq
FUZZ_TARGETS += fuzz_blk
