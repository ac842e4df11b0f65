# Kernel loaders and boot protocols (ELF, bzImage, PVH) and the zero page.
WISP_SRCS += vmm/loader.c vmm/loader_elf.c vmm/loader_bzimage.c vmm/loader_pvh.c \
	     vmm/boot_params.c
