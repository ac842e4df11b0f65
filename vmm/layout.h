/*
 * layout.h - every fixed guest-physical address, port and IRQ wisp uses.
 *
 * This is the only place where magic addresses live; docs/memory-map.md draws the same map.
 * All guest-physical addresses stay below 2^43 (PVM hosts cannot map more).
 *
 *   0x0000_0000  real-mode IVT and BIOS data area (left zero)
 *   0x0000_0500  boot GDT (5 entries)              LAYOUT_GDT
 *   0x0000_0540  boot IDT (empty, limit 0)         LAYOUT_IDT
 *   0x0000_1000  PVH hvm_start_info + memmap       LAYOUT_PVH_INFO
 *   0x0000_2000  PVH module list (initrd)          LAYOUT_PVH_MODLIST
 *   0x0000_7000  Linux boot_params ("zero page")   LAYOUT_ZERO_PAGE
 *   0x0000_8ff0  boot stack top (grows down)       LAYOUT_BOOT_STACK
 *   0x0000_9000  PML4                              LAYOUT_PML4
 *   0x0000_a000  PDPT                              LAYOUT_PDPT
 *   0x0000_b000  PD: 1 GiB identity map, 2 MiB pages LAYOUT_PD
 *   0x0002_0000  kernel command line               LAYOUT_CMDLINE (LAYOUT_CMDLINE_MAX bytes)
 *   0x0009_fc00  MP floating pointer + table (EBDA) LAYOUT_MPTABLE
 *   0x000a_0000  VGA/ROM hole, reserved in E820 up to 1 MiB
 *   0x000e_0000  ACPI RSDP, then XSDT, FADT, DSDT, MADT LAYOUT_ACPI_RSDP (up to LAYOUT_ACPI_END)
 *   0x0010_0000  kernel load area (HIMEM)          LAYOUT_HIMEM
 *   ...          RAM up to min(mem, LAYOUT_MMIO_HOLE)
 *   0xc000_0000  32-bit MMIO hole, 1 GiB           LAYOUT_MMIO_HOLE
 *   0xcfff_f000  boot timer (guest writes 123)     LAYOUT_BOOT_TIMER
 *   0xd000_0000  virtio-mmio devices, 4 KiB each   LAYOUT_VIRTIO_MMIO_BASE
 *   0xfec0_0000  IOAPIC (in-kernel)
 *   0xfee0_0000  LAPIC (in-kernel)
 *   0x1_0000_0000 RAM above 4 GiB, when mem > 3 GiB
 */
#ifndef WISP_LAYOUT_H
#define WISP_LAYOUT_H

#define LAYOUT_GDT         0x500ULL
#define LAYOUT_IDT         0x540ULL
#define LAYOUT_PVH_INFO    0x1000ULL
#define LAYOUT_PVH_MODLIST 0x2000ULL
#define LAYOUT_ZERO_PAGE   0x7000ULL
#define LAYOUT_BOOT_STACK  0x8ff0ULL
#define LAYOUT_PML4        0x9000ULL
#define LAYOUT_PDPT        0xa000ULL
#define LAYOUT_PD          0xb000ULL
#define LAYOUT_CMDLINE     0x20000ULL
#define LAYOUT_CMDLINE_MAX 0x10000ULL /* room reserved; the protocol limit is checked apart */
#define LAYOUT_MPTABLE     0x9fc00ULL
#define LAYOUT_EBDA_END    0xa0000ULL /* first byte of the VGA/ROM hole */
/* ACPI tables (vmm/boot/acpi.c): the RSDP at the start of the BIOS read-only area, 16-byte aligned,
 * where an OS that gets no RSDP address from the boot protocol scans for "RSD PTR " (ACPI 6.4
 * section 5.2.5.1: 0xE0000-0xFFFFF); the XSDT, FADT, DSDT and MADT follow it, all below
 * LAYOUT_ACPI_END. The E820 map already reserves the range (the VGA/ROM hole). */
#define LAYOUT_ACPI_RSDP 0xe0000ULL
#define LAYOUT_ACPI_END  0xe2000ULL /* two pages: 254 vCPUs' MADT entries and 18 devices' AML */
#define LAYOUT_HIMEM     0x100000ULL

/* The 32-bit MMIO hole: RAM stops here and continues at 4 GiB. */
#define LAYOUT_MMIO_HOLE     0xc0000000ULL
#define LAYOUT_MMIO_HOLE_END 0x100000000ULL
#define LAYOUT_HIGH_RAM      0x100000000ULL
/* PVM hosts map guest-physical addresses below 2^43 only. */
#define LAYOUT_GPA_LIMIT (1ULL << 43)

/* virtio-mmio: device i at BASE + i * SIZE, interrupt LAYOUT_VIRTIO_IRQ_BASE + i. */
#define LAYOUT_VIRTIO_MMIO_BASE 0xd0000000ULL
#define LAYOUT_VIRTIO_MMIO_SIZE 0x1000ULL
#define LAYOUT_VIRTIO_IRQ_BASE  5
#define LAYOUT_VIRTIO_MAX_DEVS  18 /* IRQs 5..22 on the IOAPIC's 24 pins */

/* Boot timer (Firecracker's boot-timer device): one MMIO page just below the virtio-mmio
 * devices. A guest's init writes LAYOUT_BOOT_TIMER_MAGIC to its first byte when user space is up
 * (busybox: `devmem 0xcffff000 8 123`); wisp logs the time since process start and since
 * InstanceStart. The page is neither RAM nor described in the DSDT, so Linux's /dev/mem
 * (STRICT_DEVMEM, IO_STRICT_DEVMEM) lets user space write it. */
#define LAYOUT_BOOT_TIMER       0xcffff000ULL
#define LAYOUT_BOOT_TIMER_SIZE  0x1000ULL
#define LAYOUT_BOOT_TIMER_MAGIC 123

#define LAYOUT_IOAPIC 0xfec00000ULL
#define LAYOUT_LAPIC  0xfee00000ULL

/* Identity-mapped in KVM for VMX real-mode support (ignored where not needed, e.g. PVM). */
#define LAYOUT_KVM_TSS          0xfffbd000ULL
#define LAYOUT_KVM_IDENTITY_MAP 0xfffbc000ULL

/* Legacy ports. */
#define PORT_COM1       0x3f8
#define PORT_COM1_IRQ   4
#define PORT_I8042_DATA 0x60
#define PORT_I8042_CMD  0x64
#define PORT_I8042_IRQ  1    /* the keyboard's ISA IRQ */
#define PORT_POST       0x80 /* POST code / I/O delay, written by Linux, ignored */
/* ACPI hardware-reduced power management (vmm/legacy/acpi_pm.c), named by the FADT's
 * SLEEP_CONTROL_REG, SLEEP_STATUS_REG and RESET_REG (one byte each). Linux powers off by
 * writing SLP_TYP (from the DSDT's _S5) << 2 | SLP_EN to the sleep control register, and
 * resets (reboot=a, or when other methods fail) by writing ACPI_PM_RESET_VALUE to the reset
 * register; both end wisp with exit code 0. Ports no PC device uses. */
#define PORT_ACPI_SLEEP_CONTROL 0x600
#define PORT_ACPI_SLEEP_STATUS  0x601
#define PORT_ACPI_RESET         0x602
#define ACPI_PM_S5_SLP_TYP      5    /* the _S5 package's SLP_TYPa */
#define ACPI_PM_RESET_VALUE     0x01 /* the FADT's RESET_VALUE */

#endif
