# The monitor core. main.c is linked only into build/wisp (see the top Makefile).
WISP_SRCS += vmm/guest_mem.c vmm/log.c vmm/bus.c vmm/evloop.c vmm/kvm.c vmm/cpuid.c \
	     vmm/cpu_boot.c vmm/vcpu.c vmm/vm.c vmm/serial.c vmm/i8042.c vmm/legacy.c \
	     vmm/console.c vmm/vmm.c vmm/cli.c
