# The monitor core: KVM VM, memory, vCPUs, bus, event loop, CLI. main.c is linked only into
# build/wisp (see the top Makefile). The boot path lives in vmm/boot/, the legacy PC devices in
# vmm/legacy/, each with its own fragment.
WISP_SRCS += vmm/guest_mem.c vmm/log.c vmm/bus.c vmm/evloop.c vmm/kvm.c vmm/cpuid.c \
	     vmm/vcpu.c vmm/vm.c vmm/vmm.c vmm/cli.c vmm/signals.c
