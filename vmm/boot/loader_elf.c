/*
 * loader_elf.c - ELF x86 kernels (vmlinux, the test guest): PT_LOAD segments at p_paddr, and the
 * PVH entry from a "Xen" note of type XEN_ELFNOTE_PHYS32_ENTRY.
 *
 * ELF64 (x86-64) images boot through PVH or the 64-bit Linux protocol. ELF32 images (EM_386 or
 * EM_X86_64 in a 32-bit container, as QEMU and Xen boot them) boot through PVH only: their
 * headers are read into the ELF64 structures field by field (elf_read_header(), elf_phdr(),
 * elf_shdr()), so every check below is the same for both classes.
 *
 * The image is validated completely (headers, every segment, the entry point, the notes) before
 * the first byte is copied, so a rejected image leaves guest RAM untouched. Headers are copied
 * out with memcpy: image bytes carry no alignment promise.
 *
 * Accepted: ET_EXEC and ET_DYN (a position-dependent link that a PIE-by-default toolchain marks
 * ET_DYN); segments are placed at p_paddr as linked, never relocated.
 */
#include "vmm/boot/loader.h"
#include "vmm/log.h"
#include "vmm/layout.h"
#include "vmm/boot/pvh.h"

#include <elf.h>
#include <stdio.h>
#include <string.h>

/* Real kernels have fewer than 10; the bound keeps the pairwise overlap check cheap. */
#define LOADER_ELF_MAX_PHDRS 128

/* Where the PVH note was found, if anywhere. */
struct elf_pvh_note {
	bool found;
	uint64_t entry;
};

static bool elf_is32(const Elf64_Ehdr *eh)
{
	return eh->e_ident[EI_CLASS] == ELFCLASS32;
}

/* The ELF header as an Elf64_Ehdr whatever the class; 0, or -1 when the image is shorter than
 * its class's header. */
static int elf_read_header(const uint8_t *image, size_t len, Elf64_Ehdr *eh, char *err,
                           size_t errlen)
{
	Elf32_Ehdr e32;

	if (len >= EI_NIDENT && image[EI_CLASS] == ELFCLASS32) {
		if (len < sizeof(e32))
			return error_set(err, errlen,
			                 "ELF image truncated: %zu bytes, the header needs %zu",
			                 len, sizeof(e32));
		memcpy(&e32, image, sizeof(e32));
		memcpy(eh->e_ident, e32.e_ident, EI_NIDENT);
		eh->e_type = e32.e_type;
		eh->e_machine = e32.e_machine;
		eh->e_version = e32.e_version;
		eh->e_entry = e32.e_entry;
		eh->e_phoff = e32.e_phoff;
		eh->e_shoff = e32.e_shoff;
		eh->e_flags = e32.e_flags;
		eh->e_ehsize = e32.e_ehsize;
		eh->e_phentsize = e32.e_phentsize;
		eh->e_phnum = e32.e_phnum;
		eh->e_shentsize = e32.e_shentsize;
		eh->e_shnum = e32.e_shnum;
		eh->e_shstrndx = e32.e_shstrndx;
		return 0;
	}
	if (len < sizeof(*eh))
		return error_set(err, errlen,
		                 "ELF image truncated: %zu bytes, the header needs %zu", len,
		                 sizeof(*eh));
	memcpy(eh, image, sizeof(*eh));
	return 0;
}

static size_t elf_phdr_size(const Elf64_Ehdr *eh)
{
	return elf_is32(eh) ? sizeof(Elf32_Phdr) : sizeof(Elf64_Phdr);
}

static size_t elf_shdr_size(const Elf64_Ehdr *eh)
{
	return elf_is32(eh) ? sizeof(Elf32_Shdr) : sizeof(Elf64_Shdr);
}

static int elf_check_header(const Elf64_Ehdr *eh, size_t len, char *err, size_t errlen)
{
	if (eh->e_ident[EI_CLASS] != ELFCLASS64 && eh->e_ident[EI_CLASS] != ELFCLASS32)
		return error_set(err, errlen, "ELF class %u is neither ELFCLASS64 nor ELFCLASS32",
		                 eh->e_ident[EI_CLASS]);
	if (eh->e_ident[EI_DATA] != ELFDATA2LSB)
		return error_set(err, errlen, "ELF data encoding %u is not little endian",
		                 eh->e_ident[EI_DATA]);
	if (eh->e_ident[EI_VERSION] != EV_CURRENT)
		return error_set(err, errlen, "ELF version %u is not EV_CURRENT",
		                 eh->e_ident[EI_VERSION]);
	if (eh->e_machine != EM_X86_64 && !(elf_is32(eh) && eh->e_machine == EM_386))
		return error_set(err, errlen, "ELF machine %u is not x86-64 (%u)%s", eh->e_machine,
		                 EM_X86_64, elf_is32(eh) ? " or i386 (3)" : "");
	if (eh->e_type != ET_EXEC && eh->e_type != ET_DYN)
		return error_set(err, errlen, "ELF type %u is not an executable", eh->e_type);
	if (eh->e_phentsize != elf_phdr_size(eh))
		return error_set(err, errlen, "ELF program header size %u is not %zu",
		                 eh->e_phentsize, elf_phdr_size(eh));
	if (eh->e_phnum == 0)
		return error_set(err, errlen, "ELF has no program headers");
	if (eh->e_phnum > LOADER_ELF_MAX_PHDRS)
		return error_set(err, errlen, "ELF has %u program headers, wisp accepts %u",
		                 eh->e_phnum, LOADER_ELF_MAX_PHDRS);
	/* phnum * phentsize is at most 128 * 56: no overflow; compare against what is left. */
	if (eh->e_phoff > len || (uint64_t)eh->e_phnum * elf_phdr_size(eh) > len - eh->e_phoff)
		return error_set(err, errlen,
		                 "ELF program headers (offset 0x%llx, %u entries) run past the end "
		                 "of the image (%zu bytes)",
		                 (unsigned long long)eh->e_phoff, eh->e_phnum, len);
	return 0;
}

/* Program header i (bounds checked by elf_check_header()) as an Elf64_Phdr. */
static void elf_phdr(const uint8_t *image, const Elf64_Ehdr *eh, unsigned i, Elf64_Phdr *ph)
{
	const uint8_t *p = image + eh->e_phoff + (uint64_t)i * elf_phdr_size(eh);
	Elf32_Phdr p32;

	if (!elf_is32(eh)) {
		memcpy(ph, p, sizeof(*ph));
		return;
	}
	memcpy(&p32, p, sizeof(p32));
	*ph = (Elf64_Phdr){.p_type = p32.p_type,
	                   .p_flags = p32.p_flags,
	                   .p_offset = p32.p_offset,
	                   .p_vaddr = p32.p_vaddr,
	                   .p_paddr = p32.p_paddr,
	                   .p_filesz = p32.p_filesz,
	                   .p_memsz = p32.p_memsz,
	                   .p_align = p32.p_align};
}

/* Section header i (bounds checked by the caller) as an Elf64_Shdr. */
static void elf_shdr(const uint8_t *image, const Elf64_Ehdr *eh, unsigned i, Elf64_Shdr *sh)
{
	const uint8_t *p = image + eh->e_shoff + (uint64_t)i * elf_shdr_size(eh);
	Elf32_Shdr s32;

	if (!elf_is32(eh)) {
		memcpy(sh, p, sizeof(*sh));
		return;
	}
	memcpy(&s32, p, sizeof(s32));
	*sh = (Elf64_Shdr){
	    .sh_type = s32.sh_type, .sh_offset = s32.sh_offset, .sh_size = s32.sh_size};
}

/* True when [off, off + size) lies inside the image; written without a sum that can wrap. */
static bool elf_in_file(size_t len, uint64_t off, uint64_t size)
{
	return off <= len && size <= len - off;
}

static uint64_t align4(uint64_t v)
{
	return (v + 3) & ~3ULL;
}

/* Reads the value of a PVH note: 4 or 8 bytes (Linux emits a pointer-sized value), and it must
 * be a 32-bit address because the entry runs with paging off in 32-bit mode. */
static int elf_pvh_value(const uint8_t *desc, uint32_t descsz, struct elf_pvh_note *note, char *err,
                         size_t errlen)
{
	uint32_t v32;
	uint64_t v64;

	if (descsz == 4) {
		memcpy(&v32, desc, 4);
		v64 = v32;
	} else if (descsz == 8) {
		memcpy(&v64, desc, 8);
	} else {
		return error_set(err, errlen, "PVH note value is %u bytes, expected 4 or 8",
		                 descsz);
	}
	if (v64 > UINT32_MAX)
		return error_set(err, errlen, "PVH entry 0x%llx is not a 32-bit address",
		                 (unsigned long long)v64);
	note->found = true;
	note->entry = v64;
	return 0;
}

/*
 * Walks the notes in [off, off + size) of the image (bounds already checked). Each note is
 * namesz, descsz, type (4 bytes each), then the name and the value, each padded to 4 bytes.
 * A note that runs past its container is an error rather than the end of the walk: a kernel
 * with a broken note table is not a kernel to trust with a guessed entry point.
 */
static int elf_scan_notes(const uint8_t *image, uint64_t off, uint64_t size,
                          struct elf_pvh_note *note, char *err, size_t errlen)
{
	const uint8_t *p = image + off;
	uint64_t left = size;

	while (left >= 12) {
		uint32_t namesz, descsz, type;
		uint64_t name_pad, desc_pad;

		memcpy(&namesz, p, 4);
		memcpy(&descsz, p + 4, 4);
		memcpy(&type, p + 8, 4);
		name_pad = align4(namesz);
		desc_pad = align4(descsz);
		/* Each term is below 2^33, so the sum cannot wrap. */
		if (12 + name_pad + desc_pad > left)
			return error_set(err, errlen,
			                 "ELF note at file offset 0x%llx runs past "
			                 "its segment or section",
			                 (unsigned long long)(off + (size - left)));
		if (type == PVH_ELFNOTE_PHYS32_ENTRY && namesz == sizeof(PVH_ELFNOTE_NAME) &&
		    memcmp(p + 12, PVH_ELFNOTE_NAME, sizeof(PVH_ELFNOTE_NAME)) == 0) {
			if (elf_pvh_value(p + 12 + name_pad, descsz, note, err, errlen) < 0)
				return -1;
		}
		p += 12 + name_pad + desc_pad;
		left -= 12 + name_pad + desc_pad;
	}
	return 0;
}

/* Looks for the PVH note in PT_NOTE segments, then (for links whose notes have no PT_NOTE) in
 * SHT_NOTE sections. A section table that is absent (e_shnum 0) is simply not searched. */
static int elf_find_pvh_note(const uint8_t *image, size_t len, const Elf64_Ehdr *eh,
                             struct elf_pvh_note *note, char *err, size_t errlen)
{
	Elf64_Phdr ph;
	Elf64_Shdr sh;

	for (unsigned i = 0; i < eh->e_phnum; i++) {
		elf_phdr(image, eh, i, &ph);
		if (ph.p_type != PT_NOTE)
			continue;
		if (!elf_in_file(len, ph.p_offset, ph.p_filesz))
			return error_set(err, errlen,
			                 "ELF note segment %u runs past the end of "
			                 "the image",
			                 i);
		if (elf_scan_notes(image, ph.p_offset, ph.p_filesz, note, err, errlen) < 0)
			return -1;
	}
	if (note->found || eh->e_shnum == 0)
		return 0;
	if (eh->e_shentsize != elf_shdr_size(eh) ||
	    !elf_in_file(len, eh->e_shoff, (uint64_t)eh->e_shnum * elf_shdr_size(eh)))
		return error_set(err, errlen,
		                 "ELF section headers (offset 0x%llx, %u entries) "
		                 "are malformed or run past the end of the image",
		                 (unsigned long long)eh->e_shoff, eh->e_shnum);
	for (unsigned i = 0; i < eh->e_shnum && !note->found; i++) {
		elf_shdr(image, eh, i, &sh);
		if (sh.sh_type != SHT_NOTE)
			continue;
		if (!elf_in_file(len, sh.sh_offset, sh.sh_size))
			return error_set(err, errlen,
			                 "ELF note section %u runs past the end of "
			                 "the image",
			                 i);
		if (elf_scan_notes(image, sh.sh_offset, sh.sh_size, note, err, errlen) < 0)
			return -1;
	}
	return 0;
}

/* Checks one PT_LOAD against the file, RAM, wisp's reserved memory and segments 0..i-1. */
static int elf_check_segment(const struct guest_mem *mem, enum boot_entry_mode mode,
                             const uint8_t *image, size_t len, const Elf64_Ehdr *eh, unsigned i,
                             const Elf64_Phdr *ph, char *err, size_t errlen)
{
	char what[32];
	Elf64_Phdr other;

	if (ph->p_filesz > ph->p_memsz)
		return error_set(err, errlen,
		                 "ELF segment %u: p_filesz 0x%llx exceeds p_memsz "
		                 "0x%llx",
		                 i, (unsigned long long)ph->p_filesz,
		                 (unsigned long long)ph->p_memsz);
	if (!elf_in_file(len, ph->p_offset, ph->p_filesz))
		return error_set(err, errlen,
		                 "ELF segment %u: file bytes 0x%llx+0x%llx run past "
		                 "the end of the image (%zu bytes)",
		                 i, (unsigned long long)ph->p_offset,
		                 (unsigned long long)ph->p_filesz, len);
	if (ph->p_memsz > UINT64_MAX - ph->p_paddr)
		return error_set(err, errlen,
		                 "ELF segment %u: address 0x%llx + size 0x%llx "
		                 "overflows",
		                 i, (unsigned long long)ph->p_paddr,
		                 (unsigned long long)ph->p_memsz);
	snprintf(what, sizeof(what), "ELF segment %u", i);
	if (loader_check_kernel_range(mem, mode, ph->p_paddr, ph->p_paddr + ph->p_memsz, what, err,
	                              errlen) < 0)
		return -1;
	for (unsigned j = 0; j < i; j++) {
		elf_phdr(image, eh, j, &other);
		if (other.p_type != PT_LOAD || other.p_memsz == 0)
			continue;
		/* Earlier segments passed the checks above: their ends do not wrap. */
		if (ph->p_paddr < other.p_paddr + other.p_memsz &&
		    other.p_paddr < ph->p_paddr + ph->p_memsz)
			return error_set(err, errlen, "ELF segments %u and %u overlap", j, i);
	}
	return 0;
}

/* Validates every PT_LOAD; sets the covered range. The entry must be inside a segment. */
static int elf_check_segments(const struct guest_mem *mem, enum boot_entry_mode mode,
                              const uint8_t *image, size_t len, const Elf64_Ehdr *eh,
                              uint64_t entry, struct kernel_info *info, char *err, size_t errlen)
{
	bool entry_ok = false;
	unsigned nload = 0;
	Elf64_Phdr ph;

	info->load_start = UINT64_MAX;
	info->load_end = 0;
	for (unsigned i = 0; i < eh->e_phnum; i++) {
		elf_phdr(image, eh, i, &ph);
		if (ph.p_type != PT_LOAD)
			continue;
		if (ph.p_memsz == 0 && ph.p_filesz == 0)
			continue;
		if (elf_check_segment(mem, mode, image, len, eh, i, &ph, err, errlen) < 0)
			return -1;
		nload++;
		if (ph.p_paddr < info->load_start)
			info->load_start = ph.p_paddr;
		if (ph.p_paddr + ph.p_memsz > info->load_end)
			info->load_end = ph.p_paddr + ph.p_memsz;
		if (entry >= ph.p_paddr && entry - ph.p_paddr < ph.p_memsz)
			entry_ok = true;
	}
	if (nload == 0)
		return error_set(err, errlen, "ELF has no loadable (PT_LOAD) segment");
	if (!entry_ok)
		return error_set(err, errlen,
		                 "ELF entry point 0x%llx is outside every loaded "
		                 "segment",
		                 (unsigned long long)entry);
	return 0;
}

/* Copies the validated segments and zeroes their bss tails. */
static int elf_copy_segments(const struct guest_mem *mem, const uint8_t *image,
                             const Elf64_Ehdr *eh, char *err, size_t errlen)
{
	Elf64_Phdr ph;

	for (unsigned i = 0; i < eh->e_phnum; i++) {
		elf_phdr(image, eh, i, &ph);
		if (ph.p_type != PT_LOAD || ph.p_memsz == 0)
			continue;
		/* The bss through guest_mem_zero: its whole pages are not allocated until used. */
		if (!guest_mem_range_ok(mem, ph.p_paddr, ph.p_memsz) ||
		    guest_mem_write(mem, ph.p_paddr, image + ph.p_offset, ph.p_filesz) < 0 ||
		    guest_mem_zero(mem, ph.p_paddr + ph.p_filesz, ph.p_memsz - ph.p_filesz) < 0)
			return error_set(err, errlen, "ELF segment %u does not fit in guest RAM",
			                 i);
	}
	return 0;
}

int loader_load_elf(const struct guest_mem *mem, const uint8_t *image, size_t len,
                    enum boot_protocol protocol, struct kernel_info *info, char *err, size_t errlen)
{
	struct elf_pvh_note note = {0};
	Elf64_Ehdr eh;
	uint64_t entry;

	if (elf_read_header(image, len, &eh, err, errlen) < 0 ||
	    elf_check_header(&eh, len, err, errlen) < 0)
		return -1;
	if (elf_find_pvh_note(image, len, &eh, &note, err, errlen) < 0)
		return -1;
	/* A 32-bit image has no 64-bit entry point: PVH (32-bit protected mode) is its only way in.
	 */
	if (elf_is32(&eh) && !note.found)
		return error_set(err, errlen,
		                 "32-bit ELF without a PVH entry note (Xen, "
		                 "XEN_ELFNOTE_PHYS32_ENTRY): wisp boots 32-bit ELF images only "
		                 "through PVH");
	if (elf_is32(&eh) && protocol == BOOT_PROTOCOL_LINUX)
		return error_set(err, errlen,
		                 "boot protocol Linux asked for, but a 32-bit ELF boots only "
		                 "through PVH");
	if (protocol == BOOT_PROTOCOL_PVH && !note.found)
		return error_set(err, errlen,
		                 "boot protocol PVH asked for, but the ELF has no PVH "
		                 "note (Xen, XEN_ELFNOTE_PHYS32_ENTRY)");
	/* AUTO prefers PVH when the kernel offers it, as Firecracker and QEMU do. */
	info->mode =
	    (note.found && protocol != BOOT_PROTOCOL_LINUX) ? BOOT_ENTRY_PVH32 : BOOT_ENTRY_LINUX64;
	entry = info->mode == BOOT_ENTRY_PVH32 ? note.entry : eh.e_entry;
	if (elf_check_segments(mem, info->mode, image, len, &eh, entry, info, err, errlen) < 0)
		return -1;
	if (elf_copy_segments(mem, image, &eh, err, errlen) < 0)
		return -1;
	info->format = KERNEL_FORMAT_ELF;
	info->entry = entry;
	info->has_setup_header = false; /* bootparams_build() supplies a minimal one */
	info->cmdline_max = LOADER_COMMAND_LINE_SIZE - 1;
	info->initrd_addr_max = LOADER_INITRD_ADDR_MAX_DEFAULT;
	return 0;
}
