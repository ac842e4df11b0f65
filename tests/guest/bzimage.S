/*
 * bzimage.S - the setup sectors of wisp-test-guest.bzImage: a Linux boot protocol 2.15
 * setup header (Documentation/arch/x86/boot.rst) and nothing else. There is no real-mode
 * code: the image supports only the 64-bit entry (XLF_KERNEL_64) at payload offset 0x200.
 *
 * Linked with --just-symbols=wisp-test-guest.elf (bzimage.ld), which supplies the sizes.
 * File layout: 512-byte boot sector (header from 0x1f1), SETUP_SECTS more sectors, then the
 * protected-mode payload, loaded at code32_start = pref_address = 0x100000.
 */
#define SETUP_SECTS   1
#define LOADED_HIGH   0x01
#define XLF_KERNEL_64 0x0001

	.section .setup, "a"
	.code16
	.org	0x1f1
	.byte	SETUP_SECTS		/* 0x1f1 setup_sects */
	.word	0			/* 0x1f2 root_flags */
	.long	guest_syssize		/* 0x1f4 syssize: payload in 16-byte units */
	.word	0			/* 0x1f8 ram_size (obsolete) */
	.word	0xffff			/* 0x1fa vid_mode: normal */
	.word	0			/* 0x1fc root_dev */
	.word	0xaa55			/* 0x1fe boot_flag */
	.byte	0xeb, 0x66		/* 0x200 jump: short jmp to 0x268 (no real-mode code) */
	.ascii	"HdrS"			/* 0x202 header */
	.word	0x020f			/* 0x206 version 2.15 */
	.long	0			/* 0x208 realmode_swtch */
	.word	0x1000			/* 0x20c start_sys_seg (obsolete) */
	.word	kernel_version - 0x200	/* 0x20e kernel_version: offset from 0x200 */
	.byte	0			/* 0x210 type_of_loader (filled by the loader) */
	.byte	LOADED_HIGH		/* 0x211 loadflags */
	.word	0			/* 0x212 setup_move_size */
	.long	0x100000		/* 0x214 code32_start: the PVH stub, not a linux32 entry */
	.long	0			/* 0x218 ramdisk_image */
	.long	0			/* 0x21c ramdisk_size */
	.long	0			/* 0x220 bootsect_kludge */
	.word	0			/* 0x224 heap_end_ptr */
	.byte	0			/* 0x226 ext_loader_ver */
	.byte	0			/* 0x227 ext_loader_type */
	.long	0			/* 0x228 cmd_line_ptr (filled by the loader) */
	.long	0x37ffffff		/* 0x22c initrd_addr_max */
	.long	0x100000		/* 0x230 kernel_alignment */
	.byte	0			/* 0x234 relocatable_kernel: no, load at pref_address */
	.byte	12			/* 0x235 min_alignment (log2) */
	.word	XLF_KERNEL_64		/* 0x236 xloadflags */
	.long	2047			/* 0x238 cmdline_size */
	.long	0			/* 0x23c hardware_subarch: PC */
	.quad	0			/* 0x240 hardware_subarch_data */
	.long	0			/* 0x248 payload_offset (no compressed payload) */
	.long	0			/* 0x24c payload_length */
	.quad	0			/* 0x250 setup_data */
	.quad	0x100000		/* 0x258 pref_address */
	.long	guest_init_size		/* 0x260 init_size: 0x100000 up to _end */
	.long	0			/* 0x264 handover_offset: no EFI handover */
	.long	0			/* 0x268 kernel_info_offset */
kernel_version:
	.asciz	"wisp-test-guest"
	.org	(SETUP_SECTS + 1) * 512
