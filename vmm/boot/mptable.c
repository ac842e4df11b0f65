/*
 * mptable.c - Intel MP Specification 1.4 floating pointer and configuration table (see
 * mptable.h for what is described). The table is assembled in a local buffer, checksummed, and
 * written to guest RAM with one guest_mem_write().
 *
 * Layouts below follow the spec's chapter 4; every structure is packed and little endian.
 */
#include "vmm/boot/mptable.h"
#include "vmm/layout.h"
#include "vmm/boot/loader.h"
#include "vmm/log.h"

#include <stdint.h>
#include <string.h>

#define MP_SPEC_REV_1_4   4
#define MP_LAPIC_VERSION  0x14  /* integrated xAPIC */
#define MP_IOAPIC_VERSION 0x11  /* the version KVM's in-kernel IOAPIC reports */
#define MP_CPU_SIGNATURE  0x600 /* family 6, model 0, stepping 0: informational */
#define MP_CPU_FEATURES   0x201 /* CPUID.1:EDX FPU (bit 0) and APIC (bit 9) */
#define MP_CPU_ENABLED    0x01
#define MP_CPU_BSP        0x02
#define MP_IOAPIC_ENABLED 0x01
#define MP_ISA_BUS_ID     0
#define MP_LAPIC_ALL      0xff /* destination "all local APICs" */
#define MP_FLAGS_BUS_CONFORM                                                                       \
	0 /* polarity and trigger mode as the bus defines (ISA: edge, high)                        \
	   */

enum mp_entry_type {
	MP_ENTRY_PROCESSOR = 0,
	MP_ENTRY_BUS = 1,
	MP_ENTRY_IOAPIC = 2,
	MP_ENTRY_IO_INTERRUPT = 3,
	MP_ENTRY_LOCAL_INTERRUPT = 4,
};

enum mp_interrupt_type { MP_INT = 0, MP_NMI = 1, MP_SMI = 2, MP_EXTINT = 3 };

/* MP floating pointer structure, 16 bytes, paragraph aligned. */
struct mp_floating_pointer {
	char signature[4];     /* "_MP_" */
	uint32_t config_paddr; /* the configuration table */
	uint8_t length;        /* in 16-byte paragraphs: 1 */
	uint8_t spec_rev;      /* 4: version 1.4 */
	uint8_t checksum;      /* all 16 bytes sum to 0 */
	uint8_t feature1;      /* 0: a configuration table is present */
	uint8_t feature2_5[4]; /* bit 7 of feature2 (IMCR) clear: virtual wire mode */
} __attribute__((packed));

/* Configuration table header, 44 bytes; entries follow. */
struct mp_config_header {
	char signature[4];    /* "PCMP" */
	uint16_t base_length; /* header + entries */
	uint8_t spec_rev;
	uint8_t checksum; /* base_length bytes sum to 0 */
	char oem_id[8];
	char product_id[12];
	uint32_t oem_table_paddr;
	uint16_t oem_table_size;
	uint16_t entry_count;
	uint32_t lapic_paddr;
	uint16_t ext_length;
	uint8_t ext_checksum;
	uint8_t reserved;
} __attribute__((packed));

struct mp_processor_entry {
	uint8_t type;
	uint8_t lapic_id;
	uint8_t lapic_version;
	uint8_t cpu_flags;
	uint32_t cpu_signature;
	uint32_t feature_flags;
	uint32_t reserved[2];
} __attribute__((packed));

struct mp_bus_entry {
	uint8_t type;
	uint8_t bus_id;
	char bus_type[6]; /* space padded */
} __attribute__((packed));

struct mp_ioapic_entry {
	uint8_t type;
	uint8_t ioapic_id;
	uint8_t ioapic_version;
	uint8_t flags;
	uint32_t ioapic_paddr;
} __attribute__((packed));

/* I/O and local interrupt assignment entries share this layout. */
struct mp_interrupt_entry {
	uint8_t type;
	uint8_t interrupt_type;
	uint16_t flags;
	uint8_t source_bus_id;
	uint8_t source_bus_irq;
	uint8_t dest_id;  /* IOAPIC id, or local APIC id (0xff: all) */
	uint8_t dest_pin; /* IOAPIC INTIN#, or LINTIN# */
} __attribute__((packed));

_Static_assert(sizeof(struct mp_floating_pointer) == 16, "MP floating pointer is 16 bytes");
_Static_assert(sizeof(struct mp_config_header) == 44, "MP config header is 44 bytes");
_Static_assert(sizeof(struct mp_processor_entry) == 20, "MP processor entry is 20 bytes");
_Static_assert(sizeof(struct mp_bus_entry) == 8, "MP bus entry is 8 bytes");
_Static_assert(sizeof(struct mp_ioapic_entry) == 8, "MP IOAPIC entry is 8 bytes");
_Static_assert(sizeof(struct mp_interrupt_entry) == 8, "MP interrupt entry is 8 bytes");

/* Everything fits in the KiB between LAYOUT_MPTABLE and LAYOUT_EBDA_END. */
#define MPTABLE_MAX_BYTES (LAYOUT_EBDA_END - LAYOUT_MPTABLE)

size_t mptable_size(unsigned nvcpus)
{
	return sizeof(struct mp_floating_pointer) + sizeof(struct mp_config_header) +
	       (size_t)nvcpus * sizeof(struct mp_processor_entry) + sizeof(struct mp_bus_entry) +
	       sizeof(struct mp_ioapic_entry) +
	       (MPTABLE_IOAPIC_PINS + 2) * sizeof(struct mp_interrupt_entry);
}

/* The byte that makes the len bytes at p sum to zero (mod 256). */
static uint8_t mptable_checksum(const uint8_t *p, size_t len)
{
	uint8_t sum = 0;

	for (size_t i = 0; i < len; i++)
		sum += p[i];
	return (uint8_t)-sum;
}

/* Appends one entry at *pos in buf and counts it. */
static void mptable_put(uint8_t *buf, size_t *pos, uint16_t *count, const void *entry, size_t len)
{
	memcpy(buf + *pos, entry, len);
	*pos += len;
	(*count)++;
}

static void mptable_put_interrupt(uint8_t *buf, size_t *pos, uint16_t *count, uint8_t type,
                                  uint8_t int_type, uint8_t irq, uint8_t dest, uint8_t pin)
{
	struct mp_interrupt_entry e = {
	    .type = type,
	    .interrupt_type = int_type,
	    .flags = MP_FLAGS_BUS_CONFORM,
	    .source_bus_id = MP_ISA_BUS_ID,
	    .source_bus_irq = irq,
	    .dest_id = dest,
	    .dest_pin = pin,
	};

	mptable_put(buf, pos, count, &e, sizeof(e));
}

/* Fills the configuration table's entries after its header; returns the entry count. */
static uint16_t mptable_entries(uint8_t *buf, size_t *pos, unsigned nvcpus)
{
	uint16_t count = 0;
	uint8_t ioapic_id = (uint8_t)nvcpus;

	for (unsigned i = 0; i < nvcpus; i++) {
		struct mp_processor_entry cpu = {
		    .type = MP_ENTRY_PROCESSOR,
		    .lapic_id = (uint8_t)i,
		    .lapic_version = MP_LAPIC_VERSION,
		    .cpu_flags = MP_CPU_ENABLED | (i == 0 ? MP_CPU_BSP : 0),
		    .cpu_signature = MP_CPU_SIGNATURE,
		    .feature_flags = MP_CPU_FEATURES,
		};
		mptable_put(buf, pos, &count, &cpu, sizeof(cpu));
	}
	struct mp_bus_entry bus = {.type = MP_ENTRY_BUS, .bus_id = MP_ISA_BUS_ID};
	memcpy(bus.bus_type, "ISA   ", 6);
	mptable_put(buf, pos, &count, &bus, sizeof(bus));
	struct mp_ioapic_entry ioapic = {
	    .type = MP_ENTRY_IOAPIC,
	    .ioapic_id = ioapic_id,
	    .ioapic_version = MP_IOAPIC_VERSION,
	    .flags = MP_IOAPIC_ENABLED,
	    .ioapic_paddr = (uint32_t)LAYOUT_IOAPIC,
	};
	mptable_put(buf, pos, &count, &ioapic, sizeof(ioapic));
	for (uint8_t irq = 0; irq < MPTABLE_IOAPIC_PINS; irq++)
		mptable_put_interrupt(buf, pos, &count, MP_ENTRY_IO_INTERRUPT, MP_INT, irq,
		                      ioapic_id, irq);
	mptable_put_interrupt(buf, pos, &count, MP_ENTRY_LOCAL_INTERRUPT, MP_EXTINT, 0,
	                      MP_LAPIC_ALL, 0);
	mptable_put_interrupt(buf, pos, &count, MP_ENTRY_LOCAL_INTERRUPT, MP_NMI, 0, MP_LAPIC_ALL,
	                      1);
	return count;
}

int mptable_write(const struct guest_mem *mem, unsigned nvcpus, char *err, size_t errlen)
{
	uint8_t buf[MPTABLE_MAX_BYTES];
	struct mp_floating_pointer fp = {.signature = {'_', 'M', 'P', '_'}};
	struct mp_config_header hdr = {.signature = {'P', 'C', 'M', 'P'}};
	const size_t cfg_off = sizeof(fp);
	size_t pos = cfg_off + sizeof(hdr);

	if (nvcpus == 0)
		return error_set(err, errlen, "MP table needs at least one vCPU");
	if (mptable_size(nvcpus) > sizeof(buf))
		return error_set(err, errlen,
		                 "MP table for %u vCPUs is %zu bytes, more than the %zu below "
		                 "0x%llx",
		                 nvcpus, mptable_size(nvcpus), sizeof(buf),
		                 (unsigned long long)LAYOUT_EBDA_END);
	memset(buf, 0, sizeof(buf));
	hdr.entry_count = mptable_entries(buf, &pos, nvcpus);
	hdr.base_length = (uint16_t)(pos - cfg_off);
	hdr.spec_rev = MP_SPEC_REV_1_4;
	memcpy(hdr.oem_id, "WISP    ", 8);
	memcpy(hdr.product_id, "MICROVM     ", 12);
	hdr.lapic_paddr = (uint32_t)LAYOUT_LAPIC;
	memcpy(buf + cfg_off, &hdr, sizeof(hdr));
	buf[cfg_off + offsetof(struct mp_config_header, checksum)] =
	    mptable_checksum(buf + cfg_off, hdr.base_length);

	fp.config_paddr = (uint32_t)(LAYOUT_MPTABLE + cfg_off);
	fp.length = 1;
	fp.spec_rev = MP_SPEC_REV_1_4;
	memcpy(buf, &fp, sizeof(fp));
	buf[offsetof(struct mp_floating_pointer, checksum)] = mptable_checksum(buf, sizeof(fp));

	if (guest_mem_write(mem, LAYOUT_MPTABLE, buf, pos) < 0)
		return error_set(err, errlen, "guest RAM too small for the MP table at 0x%llx",
		                 (unsigned long long)LAYOUT_MPTABLE);
	return 0;
}
