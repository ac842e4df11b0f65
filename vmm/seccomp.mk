# Per-thread seccomp filters (libseccomp), see vmm/seccomp.h.
WISP_SRCS += vmm/seccomp.c
