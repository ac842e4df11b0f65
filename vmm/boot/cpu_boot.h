/*
 * cpu_boot.h - the register state a boot vCPU starts in, and the tables it needs in RAM.
 *
 * Two entry modes (loader.h): BOOT_ENTRY_LINUX64 enters long mode directly, as the 64-bit
 * Linux boot protocol allows and Firecracker does, so nothing before long mode needs
 * emulation on PVM hosts; BOOT_ENTRY_PVH32 enters 32-bit protected mode with paging off, as the
 * PVH ABI requires. Everything here is pure (no ioctls) so unit tests check it field by field.
 */
#ifndef WISP_CPU_BOOT_H
#define WISP_CPU_BOOT_H

#include <linux/kvm.h>

#include "vmm/guest_mem.h"
#include "vmm/boot/loader.h"

/* GDT selectors wisp's boot GDT provides (LAYOUT_GDT). The 64-bit boot protocol (boot.rst,
 * "64-bit BOOT PROTOCOL") names them: CS must be __BOOT_CS (0x10), DS/ES/SS __BOOT_DS (0x18),
 * both 4 GiB flat. Entry 1 stays null. PVH leaves the selector values unspecified, so it uses the
 * same ones. */
#define BOOT_GDT_CODE    0x10 /* __BOOT_CS: 64-bit code (LINUX64) or 32-bit code (PVH32), DPL 0 */
#define BOOT_GDT_DATA    0x18 /* __BOOT_DS: flat 4 GiB read/write data */
#define BOOT_GDT_TSS     0x20 /* busy 32-bit TSS, base 0, limit 0x67 (the PVH ABI's TR) */
#define BOOT_GDT_ENTRIES 5

#define CR0_PE   (1ull << 0)
#define CR0_ET   (1ull << 4)
#define CR0_PG   (1ull << 31)
#define CR4_PAE  (1ull << 5)
#define EFER_LME (1ull << 8)
#define EFER_LMA (1ull << 10)

/* Writes the GDT, and for LINUX64 the identity page tables (first 1 GiB, 2 MiB pages:
 * enough for the kernel, zero page and command line). -1 when RAM is too small. */
int cpu_boot_write_tables(const struct guest_mem *mem, enum boot_entry_mode mode);
/* Fills the boot vCPU's segment/control registers for mode (sregs holds KVM's defaults). */
void cpu_boot_sregs(struct kvm_sregs *sregs, enum boot_entry_mode mode);
/* Fills the boot vCPU's general registers: entry point, boot-info pointer, flags, stack. */
void cpu_boot_regs(struct kvm_regs *regs, enum boot_entry_mode mode, uint64_t entry);
/* The MSR values every vCPU starts with (Linux expects them zeroed or set as below).
 * Fills at most max entries; returns the count. */
unsigned cpu_boot_msrs(struct kvm_msr_entry *msrs, unsigned max);

#endif
