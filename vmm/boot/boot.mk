# The boot path: kernel loaders and boot protocols (ELF, bzImage, PVH), the zero page, the boot
# vCPU's register state, the MP table and the ACPI tables.
WISP_SRCS += vmm/boot/loader.c vmm/boot/loader_elf.c vmm/boot/loader_bzimage.c \
	     vmm/boot/loader_pvh.c vmm/boot/boot_params.c vmm/boot/cpu_boot.c \
	     vmm/boot/mptable.c vmm/boot/acpi.c vmm/boot/aml.c
FUZZ_TARGETS += fuzz_kernel_image
