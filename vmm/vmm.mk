# The monitor core. main.c is linked only into build/wisp (see the top Makefile).
WISP_SRCS += vmm/guest_mem.c vmm/log.c
