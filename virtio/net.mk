# virtio-net, its tap backend and the rate limiter shared with virtio-blk.
WISP_SRCS += virtio/ratelimit.c virtio/tap.c virtio/net.c
FUZZ_TARGETS += fuzz_net
