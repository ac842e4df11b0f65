/*
 * pvh.h - the PVH boot ABI (Xen's hvm_start_info, version 1), written from the public spec.
 *
 * A PVH kernel announces a 32-bit entry point in an ELF note named "Xen" of type
 * XEN_ELFNOTE_PHYS32_ENTRY. It is entered in 32-bit protected mode with paging off and
 * EBX = physical address of struct hvm_start_info. Every address in these structures is
 * guest-physical; 0 means "not present" (nothing is ever loaded at 0).
 *
 * wisp's placement (layout.h): hvm_start_info at LAYOUT_PVH_INFO with the memmap right after it
 * (PVH_MEMMAP_OFFSET), the module list at LAYOUT_PVH_MODLIST, the command line at LAYOUT_CMDLINE.
 */
#ifndef WISP_PVH_H
#define WISP_PVH_H

#include <stddef.h>
#include <stdint.h>

#include "vmm/guest_mem.h"

#define PVH_START_MAGIC          0x336ec578 /* "xEn3" with the 0x80 bit of the "E" set */
#define PVH_START_VERSION        1          /* version 1 added memmap_paddr/memmap_entries */
#define PVH_ELFNOTE_PHYS32_ENTRY 18         /* XEN_ELFNOTE_PHYS32_ENTRY */
#define PVH_ELFNOTE_NAME         "Xen"

/* hvm_memmap_table_entry types (the E820 values). */
#define PVH_MEMMAP_TYPE_RAM      1
#define PVH_MEMMAP_TYPE_RESERVED 2

/* Start-of-day structure; EBX points at it. 56 bytes, little endian, natural alignment. */
struct hvm_start_info {
	uint32_t magic;          /*  0: PVH_START_MAGIC */
	uint32_t version;        /*  4: PVH_START_VERSION */
	uint32_t flags;          /*  8: SIF_* flags, 0 for an unprivileged guest */
	uint32_t nr_modules;     /* 12: entries at modlist_paddr */
	uint64_t modlist_paddr;  /* 16: array of struct hvm_modlist_entry */
	uint64_t cmdline_paddr;  /* 24: NUL-terminated ASCII command line */
	uint64_t rsdp_paddr;     /* 32: ACPI RSDP (wisp: LAYOUT_ACPI_RSDP), 0: none */
	uint64_t memmap_paddr;   /* 40: array of struct hvm_memmap_table_entry (version >= 1) */
	uint32_t memmap_entries; /* 48: entries at memmap_paddr */
	uint32_t reserved;       /* 52: must be zero */
};

/* One loaded module (wisp: the initrd). 32 bytes. */
struct hvm_modlist_entry {
	uint64_t paddr;         /*  0: first byte of the module */
	uint64_t size;          /*  8: bytes */
	uint64_t cmdline_paddr; /* 16: module command line, 0: none */
	uint64_t reserved;      /* 24: must be zero */
};

/* One memory map entry, E820 semantics. 24 bytes. */
struct hvm_memmap_table_entry {
	uint64_t addr;     /*  0: first byte */
	uint64_t size;     /*  8: bytes */
	uint32_t type;     /* 16: PVH_MEMMAP_TYPE_* */
	uint32_t reserved; /* 20: must be zero */
};

_Static_assert(sizeof(struct hvm_start_info) == 56, "hvm_start_info is 56 bytes");
_Static_assert(offsetof(struct hvm_start_info, memmap_paddr) == 40, "memmap_paddr at 40");
_Static_assert(sizeof(struct hvm_modlist_entry) == 32, "hvm_modlist_entry is 32 bytes");
_Static_assert(sizeof(struct hvm_memmap_table_entry) == 24, "memmap entry is 24 bytes");

/* The memmap follows hvm_start_info in the same page, 8-byte aligned. */
#define PVH_MEMMAP_OFFSET 64
/* Entries that fit in the rest of the LAYOUT_PVH_INFO page. */
#define PVH_MEMMAP_MAX ((0x1000 - PVH_MEMMAP_OFFSET) / sizeof(struct hvm_memmap_table_entry))

/* Writes hvm_start_info, its memmap (the E820 map of mem) and, when initrd_len > 0, a one-entry
 * module list for [initrd_gpa, initrd_gpa + initrd_len); rsdp_gpa goes to rsdp_paddr (0: none).
 * The command line must already be at cmdline_gpa. 0, or -1 with err when the structures do not
 * fit in guest RAM. */
int loader_pvh_write_start_info(const struct guest_mem *mem, uint64_t cmdline_gpa,
                                uint64_t initrd_gpa, uint64_t initrd_len, uint64_t rsdp_gpa,
                                char *err, size_t errlen);

#endif
