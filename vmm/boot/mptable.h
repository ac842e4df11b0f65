/*
 * mptable.h - the Intel MultiProcessor Specification 1.4 tables wisp gives a guest.
 *
 * Without ACPI, Linux finds its CPUs, the IOAPIC and the interrupt routing in an MP table. wisp
 * writes the MP floating pointer at LAYOUT_MPTABLE (the last KiB of base memory, one of the
 * places Linux scans) followed by the configuration table:
 *   - one processor entry per vCPU, local APIC ids 0..n-1, vCPU 0 the bootstrap processor;
 *   - one bus, id 0, "ISA";
 *   - the IOAPIC at LAYOUT_IOAPIC, id n (the first id after the CPUs);
 *   - IRQs 0..23 of the ISA bus routed to IOAPIC pins 0..23 (identity);
 *   - LINT0 as ExtINT and LINT1 as NMI on every local APIC.
 * The whole structure is 924 bytes for 32 vCPUs and must end below LAYOUT_EBDA_END.
 */
#ifndef WISP_MPTABLE_H
#define WISP_MPTABLE_H

#include <stddef.h>

#include "vmm/guest_mem.h"

/* IOAPIC pins (and so identity-mapped ISA IRQs) described. */
#define MPTABLE_IOAPIC_PINS 24

/* Bytes the floating pointer and configuration table take for nvcpus processors. */
size_t mptable_size(unsigned nvcpus);

/* Writes the MP floating pointer and configuration table for nvcpus vCPUs at LAYOUT_MPTABLE.
 * 0, or -1 with err when nvcpus is 0, the table would cross LAYOUT_EBDA_END, or RAM is too
 * small. Called once per VM, before the vCPUs first run. */
int mptable_write(const struct guest_mem *mem, unsigned nvcpus, char *err, size_t errlen);

#endif
