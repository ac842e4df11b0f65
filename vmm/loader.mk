# Kernel loaders and boot protocols (ELF, bzImage, PVH), the zero page and the MP table.
WISP_SRCS += vmm/loader.c vmm/loader_elf.c vmm/loader_bzimage.c vmm/loader_pvh.c \
	     vmm/boot_params.c vmm/mptable.c
FUZZ_TARGETS += fuzz_kernel_image
