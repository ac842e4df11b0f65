/*
 * acpi.h - the ACPI tables wisp gives a guest (ACPI 6.4, chapter 5.2).
 *
 * Kernels built without MP-table parsing (Debian's cloud kernels: CONFIG_X86_MPPARSE unset) find
 * their CPUs and the IOAPIC only through ACPI, so wisp writes both descriptions: the MP table
 * (mptable.h) and these tables, which say the same things:
 *   - RSDP at LAYOUT_ACPI_RSDP (revision 2, OEM id "WISP  "), pointing to the XSDT;
 *   - XSDT listing the FADT and the MADT;
 *   - FADT (revision 6.4) for a hardware-reduced ACPI platform: no SCI, no PM timer, no FACS;
 *     SLEEP_CONTROL_REG / SLEEP_STATUS_REG and RESET_REG (with RESET_VALUE) on wisp's ports
 *     (vmm/legacy/acpi_pm.c: power-off and reset end wisp with 0); IA-PC boot flags "legacy
 *     devices, 8042 present, no VGA, no MSI, no CMOS RTC"; X_DSDT (and DSDT) pointing to the
 *     DSDT; hypervisor vendor "WISP";
 *   - DSDT (vmm/boot/aml.h builds its AML): COM1 (PNP0501, 0x3F8/8, IRQ 4), the i8042
 *     (PNP0303, 0x60 and 0x64, IRQ 1), every virtio-mmio device (LNRO0005, _UID = slot, its
 *     register window and GSI), and \_S5. A hardware-reduced Linux maps an ISA IRQ only
 *     when a _CRS names it, and Debian's kernels find virtio-mmio devices only here (they lack
 *     virtio_mmio.device= support);
 *   - MADT (revision 5): local APIC at LAYOUT_LAPIC, PCAT_COMPAT (the in-kernel 8259 PICs
 *     exist); one enabled Processor Local APIC per vCPU (ACPI UID = APIC id = vCPU index); the
 *     IOAPIC at LAYOUT_IOAPIC with id nvcpus (as in the MP table) and GSI base 0; an Interrupt
 *     Source Override for ISA IRQ 0 -> GSI 0 (KVM's default routing sends the PIT to IOAPIC
 *     pin 0, the MP table says the same); LINT1 as NMI on every processor (UID 0xFF).
 * The tables follow the RSDP in the order XSDT, FADT, MADT, DSDT, each 16-byte aligned, and end
 * below LAYOUT_ACPI_END.
 */
#ifndef WISP_ACPI_H
#define WISP_ACPI_H

#include <stddef.h>
#include <stdint.h>

#include "vmm/guest_mem.h"

/* The most vCPUs the tables describe: APIC ids and ACPI UIDs are 8 bits in a Processor Local
 * APIC structure, 0xFF means "all processors", and the IOAPIC takes the id after the last CPU. */
#define ACPI_MAX_VCPUS 254

/* Bytes from LAYOUT_ACPI_RSDP to the end of the last table for nvcpus processors and nvirtio
 * virtio-mmio devices (slots 0 to nvirtio - 1, vm_virtio_slot()); 0 when they do not fit. */
size_t acpi_size(unsigned nvcpus, unsigned nvirtio);

/* Writes the RSDP, XSDT, FADT, DSDT and MADT for nvcpus vCPUs from LAYOUT_ACPI_RSDP on and
 * stores the RSDP's guest-physical address in *rsdp_gpa (for boot_params.acpi_rsdp_addr and
 * hvm_start_info.rsdp_paddr). 0, or -1 with err when nvcpus is 0 or above ACPI_MAX_VCPUS, the
 * tables would cross LAYOUT_ACPI_END, or RAM does not reach them; *rsdp_gpa is then left alone.
 * Pure apart from the one guest_mem_write(); called once per VM, before the vCPUs first run. */
int acpi_write_tables(const struct guest_mem *mem, unsigned nvcpus, unsigned nvirtio,
                      uint64_t *rsdp_gpa, char *err, size_t errlen);

#endif
