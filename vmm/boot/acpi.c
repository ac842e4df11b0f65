/*
 * acpi.c - RSDP, XSDT, FADT, DSDT and MADT (see acpi.h for what they describe).
 *
 * Layouts follow the ACPI 6.4 specification, chapter 5.2; every structure is packed and little
 * endian. The tables are assembled in one local buffer that mirrors guest memory from
 * LAYOUT_ACPI_RSDP on, checksummed, and written with one guest_mem_write(), so a failure leaves
 * guest RAM untouched.
 */
#include "vmm/boot/acpi.h"
#include "vmm/boot/aml.h"
#include "vmm/boot/loader.h"
#include "vmm/layout.h"
#include "vmm/log.h"

#include <string.h>

#define ACPI_OEM_ID       "WISP  "   /* 6 bytes, space padded */
#define ACPI_OEM_TABLE_ID "WISPVM  " /* 8 bytes */
#define ACPI_OEM_REVISION 1
#define ACPI_CREATOR_ID   "WISP"
#define ACPI_CREATOR_REV  1

#define ACPI_RSDP_REVISION 2 /* 5.2.5.3: 2 for ACPI 2.0 and later (the 36-byte RSDP) */
#define ACPI_XSDT_REVISION 1 /* 5.2.8 */
#define ACPI_FADT_REVISION 6 /* 5.2.9: FADT major version 6 ... */
#define ACPI_FADT_MINOR    4 /* ... minor version 4: ACPI 6.4 */
#define ACPI_DSDT_REVISION 2 /* 5.2.11.1: 2 and above means 64-bit AML integers */
#define ACPI_MADT_REVISION 5 /* 5.2.12: revision of the ACPI 6.3/6.4 MADT */

/* 5.2.9, Fixed ACPI Description Table Fixed Feature Flags. */
#define ACPI_FADT_PWR_BUTTON    (1u << 4)  /* no fixed-feature power button ... */
#define ACPI_FADT_SLP_BUTTON    (1u << 5)  /* ... or sleep button (there is none at all) */
#define ACPI_FADT_RESET_REG_SUP (1u << 10) /* RESET_REG and RESET_VALUE are valid */
#define ACPI_FADT_HW_REDUCED    (1u << 20) /* no fixed hardware: SCI, PM timer, PM1/GPE blocks */
/* 5.2.3.2: Generic Address Structure address space and access size for a one-byte port. */
#define ACPI_GAS_SYSTEM_IO   1
#define ACPI_GAS_ACCESS_BYTE 1
/* 5.2.9.3, IA-PC Boot Architecture Flags. */
#define ACPI_IAPC_LEGACY_DEVICES (1u << 0) /* ISA-style devices exist: COM1, i8042 */
#define ACPI_IAPC_8042           (1u << 1) /* an 8042 at ports 0x60/0x64 (wisp's reset line) */
#define ACPI_IAPC_NO_VGA         (1u << 2)
#define ACPI_IAPC_NO_MSI         (1u << 3) /* no PCI, so no MSI */
#define ACPI_IAPC_NO_CMOS_RTC    (1u << 5) /* ports 0x70/0x71 are absent (legacy.c) */

/* 5.2.12: MADT flags and interrupt controller structure types. */
#define ACPI_MADT_PCAT_COMPAT    (1u << 0)
#define ACPI_MADT_TYPE_LAPIC     0
#define ACPI_MADT_TYPE_IOAPIC    1
#define ACPI_MADT_TYPE_ISO       2
#define ACPI_MADT_TYPE_LAPIC_NMI 4
#define ACPI_MADT_LAPIC_ENABLED  (1u << 0)      /* 5.2.12.2, Local APIC Flags */
#define ACPI_MADT_ALL_PROCESSORS 0xff           /* 5.2.12.7: Local APIC NMI for every processor */
#define ACPI_MADT_ISA_BUS        0              /* 5.2.12.5: Bus 0 is ISA */
#define ACPI_MPS_INTI_CONFORMING 0              /* 5.2.12.5, MPS INTI flags: as the bus says */
#define ACPI_MADT_NMI_LINT       1              /* NMI is wired to LINT1, as in the MP table */
#define ACPI_HYPERVISOR_ID       "WISP\0\0\0\0" /* 5.2.9: Hypervisor Vendor Identity, 8 bytes */

/* 5.2.5.3: Root System Description Pointer, 36 bytes, 16-byte aligned. */
struct acpi_rsdp {
	char signature[8]; /* "RSD PTR " */
	uint8_t checksum;  /* the first 20 bytes (the ACPI 1.0 part) sum to 0 */
	char oem_id[6];
	uint8_t revision;
	uint32_t rsdt_addr; /* 0: wisp has only an XSDT */
	uint32_t length;    /* 36 */
	uint64_t xsdt_addr;
	uint8_t extended_checksum; /* all 36 bytes sum to 0 */
	uint8_t reserved[3];
} __attribute__((packed));

/* 5.2.6: System Description Table Header, 36 bytes; Length covers header and body, and the
 * whole table sums to 0. */
struct acpi_header {
	char signature[4];
	uint32_t length;
	uint8_t revision;
	uint8_t checksum;
	char oem_id[6];
	char oem_table_id[8];
	uint32_t oem_revision;
	char creator_id[4];
	uint32_t creator_revision;
} __attribute__((packed));

/* 5.2.3.2: Generic Address Structure; all zero means "not present". */
struct acpi_gas {
	uint8_t space_id;
	uint8_t bit_width;
	uint8_t bit_offset;
	uint8_t access_size;
	uint64_t address;
} __attribute__((packed));

/* 5.2.9: FADT, 276 bytes in revision 6. The hardware-reduced model leaves every PM and GPE
 * block, the SCI and the FACS zero. */
struct acpi_fadt {
	struct acpi_header header; /* "FACP" */
	uint32_t firmware_ctrl;    /*  36: FACS, none */
	uint32_t dsdt;             /*  40 */
	uint8_t reserved0;         /*  44 */
	uint8_t preferred_pm_profile;
	uint16_t sci_int;
	uint32_t smi_cmd;
	uint8_t acpi_enable;
	uint8_t acpi_disable;
	uint8_t s4bios_req;
	uint8_t pstate_cnt;
	uint32_t pm1a_evt_blk; /*  56 */
	uint32_t pm1b_evt_blk;
	uint32_t pm1a_cnt_blk;
	uint32_t pm1b_cnt_blk;
	uint32_t pm2_cnt_blk;
	uint32_t pm_tmr_blk;
	uint32_t gpe0_blk;
	uint32_t gpe1_blk;
	uint8_t pm1_evt_len; /*  88 */
	uint8_t pm1_cnt_len;
	uint8_t pm2_cnt_len;
	uint8_t pm_tmr_len;
	uint8_t gpe0_blk_len;
	uint8_t gpe1_blk_len;
	uint8_t gpe1_base;
	uint8_t cst_cnt;
	uint16_t p_lvl2_lat; /*  96 */
	uint16_t p_lvl3_lat;
	uint16_t flush_size;
	uint16_t flush_stride;
	uint8_t duty_offset; /* 104 */
	uint8_t duty_width;
	uint8_t day_alrm;
	uint8_t mon_alrm;
	uint8_t century;
	uint16_t iapc_boot_arch; /* 109 */
	uint8_t reserved1;
	uint32_t flags; /* 112 */
	struct acpi_gas reset_reg;
	uint8_t reset_value;            /* 128 */
	uint16_t arm_boot_arch;         /* 129 */
	uint8_t minor_version;          /* 131 */
	uint64_t x_firmware_ctrl;       /* 132 */
	uint64_t x_dsdt;                /* 140 */
	struct acpi_gas x_pm1a_evt_blk; /* 148 */
	struct acpi_gas x_pm1b_evt_blk;
	struct acpi_gas x_pm1a_cnt_blk;
	struct acpi_gas x_pm1b_cnt_blk;
	struct acpi_gas x_pm2_cnt_blk;
	struct acpi_gas x_pm_tmr_blk;
	struct acpi_gas x_gpe0_blk;
	struct acpi_gas x_gpe1_blk;
	struct acpi_gas sleep_control_reg; /* 244 */
	struct acpi_gas sleep_status_reg;  /* 256 */
	char hypervisor_vendor_id[8];      /* 268 */
} __attribute__((packed));

/* 5.2.12: MADT header; interrupt controller structures follow. */
struct acpi_madt {
	struct acpi_header header; /* "APIC" */
	uint32_t lapic_addr;
	uint32_t flags;
} __attribute__((packed));

/* 5.2.12.2 */
struct acpi_madt_lapic {
	uint8_t type;
	uint8_t length;
	uint8_t processor_uid;
	uint8_t apic_id;
	uint32_t flags;
} __attribute__((packed));

/* 5.2.12.3 */
struct acpi_madt_ioapic {
	uint8_t type;
	uint8_t length;
	uint8_t ioapic_id;
	uint8_t reserved;
	uint32_t ioapic_addr;
	uint32_t gsi_base;
} __attribute__((packed));

/* 5.2.12.5 */
struct acpi_madt_iso {
	uint8_t type;
	uint8_t length;
	uint8_t bus;
	uint8_t source; /* ISA IRQ */
	uint32_t gsi;
	uint16_t flags;
} __attribute__((packed));

/* 5.2.12.7 */
struct acpi_madt_lapic_nmi {
	uint8_t type;
	uint8_t length;
	uint8_t processor_uid;
	uint16_t flags;
	uint8_t lint;
} __attribute__((packed));

_Static_assert(sizeof(struct acpi_rsdp) == 36, "RSDP is 36 bytes");
_Static_assert(sizeof(struct acpi_header) == 36, "table header is 36 bytes");
_Static_assert(sizeof(struct acpi_gas) == 12, "generic address is 12 bytes");
_Static_assert(offsetof(struct acpi_fadt, iapc_boot_arch) == 109, "IAPC_BOOT_ARCH at 109");
_Static_assert(offsetof(struct acpi_fadt, flags) == 112, "FADT flags at 112");
_Static_assert(offsetof(struct acpi_fadt, minor_version) == 131, "FADT minor version at 131");
_Static_assert(offsetof(struct acpi_fadt, x_dsdt) == 140, "X_DSDT at 140");
_Static_assert(offsetof(struct acpi_fadt, hypervisor_vendor_id) == 268, "vendor id at 268");
_Static_assert(sizeof(struct acpi_fadt) == 276, "FADT revision 6 is 276 bytes");
_Static_assert(sizeof(struct acpi_madt) == 44, "MADT header is 44 bytes");
_Static_assert(sizeof(struct acpi_madt_lapic) == 8, "Processor Local APIC is 8 bytes");
_Static_assert(sizeof(struct acpi_madt_ioapic) == 12, "I/O APIC is 12 bytes");
_Static_assert(sizeof(struct acpi_madt_iso) == 10, "Interrupt Source Override is 10 bytes");
_Static_assert(sizeof(struct acpi_madt_lapic_nmi) == 6, "Local APIC NMI is 6 bytes");

/* Tables listed in the XSDT. */
#define ACPI_XSDT_ENTRIES 2

#define ACPI_ALIGN(x) (((x) + 15) & ~(size_t)15)

/* Offsets from LAYOUT_ACPI_RSDP, in the order the tables are laid out; the DSDT, whose size
 * depends on the devices, comes last. */
#define ACPI_OFF_XSDT ACPI_ALIGN(sizeof(struct acpi_rsdp))
#define ACPI_XSDT_LEN (sizeof(struct acpi_header) + ACPI_XSDT_ENTRIES * sizeof(uint64_t))
#define ACPI_OFF_FADT (ACPI_OFF_XSDT + ACPI_ALIGN(ACPI_XSDT_LEN))
#define ACPI_OFF_MADT (ACPI_OFF_FADT + ACPI_ALIGN(sizeof(struct acpi_fadt)))

/* The DSDT's AML for the most devices: COM1 and the i8042 (about 100 bytes), each virtio-mmio
 * device (about 60 bytes), _S5; measured by the unit tests, with room to spare. */
#define ACPI_DSDT_AML_MAX 1536

static size_t acpi_madt_size(unsigned nvcpus)
{
	return sizeof(struct acpi_madt) + (size_t)nvcpus * sizeof(struct acpi_madt_lapic) +
	       sizeof(struct acpi_madt_ioapic) + sizeof(struct acpi_madt_iso) +
	       sizeof(struct acpi_madt_lapic_nmi);
}

static size_t acpi_off_dsdt(unsigned nvcpus)
{
	return ACPI_OFF_MADT + ACPI_ALIGN(acpi_madt_size(nvcpus));
}

#define ACPI_MAX_BYTES (LAYOUT_ACPI_END - LAYOUT_ACPI_RSDP)
_Static_assert(ACPI_OFF_MADT +
                       ACPI_ALIGN(sizeof(struct acpi_madt) +
                                  ACPI_MAX_VCPUS * sizeof(struct acpi_madt_lapic) +
                                  sizeof(struct acpi_madt_ioapic) + sizeof(struct acpi_madt_iso) +
                                  sizeof(struct acpi_madt_lapic_nmi)) +
                       sizeof(struct acpi_header) + ACPI_DSDT_AML_MAX <=
                   ACPI_MAX_BYTES,
               "the tables for ACPI_MAX_VCPUS and the largest DSDT fit below LAYOUT_ACPI_END");

/* The byte that makes the len bytes at p sum to zero (mod 256); p's checksum byte must be 0. */
static uint8_t acpi_checksum(const uint8_t *p, size_t len)
{
	uint8_t sum = 0;

	for (size_t i = 0; i < len; i++)
		sum += p[i];
	return (uint8_t)-sum;
}

/* Fills a table header; the checksum is set by acpi_finish() once the body is in place. */
static void acpi_header_init(struct acpi_header *h, const char sig[4], size_t len, uint8_t revision)
{
	memcpy(h->signature, sig, 4);
	h->length = (uint32_t)len;
	h->revision = revision;
	memcpy(h->oem_id, ACPI_OEM_ID, 6);
	memcpy(h->oem_table_id, ACPI_OEM_TABLE_ID, 8);
	h->oem_revision = ACPI_OEM_REVISION;
	memcpy(h->creator_id, ACPI_CREATOR_ID, 4);
	h->creator_revision = ACPI_CREATOR_REV;
}

/* Checksums the table at buf + off (its header's Length says how long it is). */
static void acpi_finish(uint8_t *buf, size_t off)
{
	struct acpi_header h;

	memcpy(&h, buf + off, sizeof(h));
	buf[off + offsetof(struct acpi_header, checksum)] = acpi_checksum(buf + off, h.length);
}

static void acpi_build_xsdt(uint8_t *buf)
{
	struct acpi_header h = {0};
	uint64_t entries[ACPI_XSDT_ENTRIES] = {LAYOUT_ACPI_RSDP + ACPI_OFF_FADT,
	                                       LAYOUT_ACPI_RSDP + ACPI_OFF_MADT};

	acpi_header_init(&h, "XSDT", ACPI_XSDT_LEN, ACPI_XSDT_REVISION);
	memcpy(buf + ACPI_OFF_XSDT, &h, sizeof(h));
	memcpy(buf + ACPI_OFF_XSDT + sizeof(h), entries, sizeof(entries));
	acpi_finish(buf, ACPI_OFF_XSDT);
}

/* A one-byte system-I/O register. */
static struct acpi_gas acpi_gas_port(uint16_t port)
{
	return (struct acpi_gas){.space_id = ACPI_GAS_SYSTEM_IO,
	                         .bit_width = 8,
	                         .access_size = ACPI_GAS_ACCESS_BYTE,
	                         .address = port};
}

static void acpi_build_fadt(uint8_t *buf, size_t off_dsdt)
{
	struct acpi_fadt f = {0};
	const uint64_t dsdt = LAYOUT_ACPI_RSDP + off_dsdt;

	acpi_header_init(&f.header, "FACP", sizeof(f), ACPI_FADT_REVISION);
	/* 5.2.9: OSPM uses X_DSDT when it is set; DSDT holds the same address (below 4 GiB) for
	 * readers that only know the 32-bit field. */
	f.dsdt = (uint32_t)dsdt;
	f.x_dsdt = dsdt;
	f.iapc_boot_arch = ACPI_IAPC_LEGACY_DEVICES | ACPI_IAPC_8042 | ACPI_IAPC_NO_VGA |
	                   ACPI_IAPC_NO_MSI | ACPI_IAPC_NO_CMOS_RTC;
	f.flags = ACPI_FADT_PWR_BUTTON | ACPI_FADT_SLP_BUTTON | ACPI_FADT_HW_REDUCED |
	          ACPI_FADT_RESET_REG_SUP;
	/* 4.8.3.6/4.8.3.7: a hardware-reduced platform sleeps (here: powers off) through these
	 * registers and resets through RESET_REG (vmm/legacy/acpi_pm.c answers all three). */
	f.sleep_control_reg = acpi_gas_port(PORT_ACPI_SLEEP_CONTROL);
	f.sleep_status_reg = acpi_gas_port(PORT_ACPI_SLEEP_STATUS);
	f.reset_reg = acpi_gas_port(PORT_ACPI_RESET);
	f.reset_value = ACPI_PM_RESET_VALUE;
	f.minor_version = ACPI_FADT_MINOR;
	memcpy(f.hypervisor_vendor_id, ACPI_HYPERVISOR_ID, 8);
	memcpy(buf + ACPI_OFF_FADT, &f, sizeof(f));
	acpi_finish(buf, ACPI_OFF_FADT);
}

/* Device(NAME) { Name(_HID, EISAID(hid)) Name(_UID, uid) Name(_CRS, ResourceTemplate() {
 * IO(base, len)... IRQNoFlags() {irq} }) }: an ISA device at fixed ports with one IRQ. */
static void acpi_aml_isa_device(struct aml *a, const char *name, const char *hid, unsigned uid,
                                const uint16_t *ports, const uint8_t *lens, unsigned nports,
                                uint8_t irq)
{
	size_t dev = aml_device_open(a, name), crs;

	aml_name(a, "_HID");
	aml_eisaid(a, hid);
	aml_name(a, "_UID");
	aml_integer(a, uid);
	aml_name(a, "_CRS");
	crs = aml_resource_open(a);
	for (unsigned i = 0; i < nports; i++)
		aml_res_io(a, ports[i], lens[i]);
	aml_res_irq(a, irq);
	aml_resource_close(a, crs);
	aml_close(a, dev);
}

/* The DSDT's AML (5.2.11.1): under \_SB, COM1 (PNP0501, 0x3F8-0x3FF, IRQ 4), the i8042
 * (PNP0303, ports 0x60 and 0x64, IRQ 1; keyboard only) and every virtio-mmio device (LNRO0005,
 * the Linux virtio-mmio platform id, as QEMU's microvm and Firecracker describe them: _UID = slot,
 * its 4 KiB register window, its GSI, edge triggered as irqfd delivers it); then \_S5, the
 * only sleep state, which makes the kernel power off through the FADT's sleep registers.
 * Naming the IRQs here matters on a hardware-reduced platform: Linux installs no legacy PIC
 * there and maps an ISA IRQ only when a _CRS names it. Returns the AML's length, 0 on overflow. */
static size_t acpi_build_dsdt_aml(uint8_t *out, size_t cap, unsigned nvirtio)
{
	static const uint16_t com1_ports[] = {PORT_COM1};
	static const uint8_t com1_lens[] = {8};
	static const uint16_t kbd_ports[] = {PORT_I8042_DATA, PORT_I8042_CMD};
	static const uint8_t kbd_lens[] = {1, 1};
	struct aml a;
	size_t sb, pkg;

	aml_init(&a, out, cap);
	sb = aml_scope_open(&a, "\\_SB_");
	acpi_aml_isa_device(&a, "COM1", "PNP0501", 0, com1_ports, com1_lens, 1, PORT_COM1_IRQ);
	acpi_aml_isa_device(&a, "PS2K", "PNP0303", 0, kbd_ports, kbd_lens, 2, PORT_I8042_IRQ);
	for (unsigned i = 0; i < nvirtio; i++) {
		char name[5] = {'V', 'R', (char)('0' + i / 10), (char)('0' + i % 10), 0};
		size_t dev = aml_device_open(&a, name), crs;

		aml_name(&a, "_HID");
		aml_string(&a, "LNRO0005");
		aml_name(&a, "_UID");
		aml_integer(&a, i);
		aml_name(&a, "_CRS");
		crs = aml_resource_open(&a);
		aml_res_memory32_fixed(
		    &a, (uint32_t)(LAYOUT_VIRTIO_MMIO_BASE + i * LAYOUT_VIRTIO_MMIO_SIZE),
		    (uint32_t)LAYOUT_VIRTIO_MMIO_SIZE, true);
		aml_res_interrupt_edge(&a, LAYOUT_VIRTIO_IRQ_BASE + i);
		aml_resource_close(&a, crs);
		aml_close(&a, dev);
	}
	aml_close(&a, sb);
	/* 7.4.2: _S5 is a package of SLP_TYPa, SLP_TYPb (and two reserved values). */
	aml_name(&a, "\\_S5_");
	pkg = aml_package_open(&a, 4);
	aml_integer(&a, ACPI_PM_S5_SLP_TYP);
	aml_integer(&a, 0);
	aml_integer(&a, 0);
	aml_integer(&a, 0);
	aml_close(&a, pkg);
	return aml_ok(&a) ? a.len : 0;
}

size_t acpi_size(unsigned nvcpus, unsigned nvirtio)
{
	uint8_t aml[ACPI_DSDT_AML_MAX];
	size_t aml_len = acpi_build_dsdt_aml(aml, sizeof(aml), nvirtio);

	return aml_len ? acpi_off_dsdt(nvcpus) + sizeof(struct acpi_header) + aml_len : 0;
}

static void acpi_build_dsdt(uint8_t *buf, size_t off_dsdt, const uint8_t *aml, size_t aml_len)
{
	struct acpi_header h = {0};

	acpi_header_init(&h, "DSDT", sizeof(h) + aml_len, ACPI_DSDT_REVISION);
	memcpy(buf + off_dsdt, &h, sizeof(h));
	memcpy(buf + off_dsdt + sizeof(h), aml, aml_len);
	acpi_finish(buf, off_dsdt);
}

static void acpi_build_madt(uint8_t *buf, unsigned nvcpus)
{
	struct acpi_madt m = {.lapic_addr = (uint32_t)LAYOUT_LAPIC, .flags = ACPI_MADT_PCAT_COMPAT};
	struct acpi_madt_ioapic io = {
	    .type = ACPI_MADT_TYPE_IOAPIC,
	    .length = sizeof(io),
	    .ioapic_id = (uint8_t)nvcpus, /* the first id after the CPUs, as in the MP table */
	    .ioapic_addr = (uint32_t)LAYOUT_IOAPIC,
	    .gsi_base = 0,
	};
	/* KVM's default GSI routing (wisp installs no other) wires the PIT's IRQ 0 to IOAPIC
	 * pin 0, so the override states the identity mapping rather than the PC's usual 0 -> 2. */
	struct acpi_madt_iso iso = {
	    .type = ACPI_MADT_TYPE_ISO,
	    .length = sizeof(iso),
	    .bus = ACPI_MADT_ISA_BUS,
	    .source = 0,
	    .gsi = 0,
	    .flags = ACPI_MPS_INTI_CONFORMING,
	};
	struct acpi_madt_lapic_nmi nmi = {
	    .type = ACPI_MADT_TYPE_LAPIC_NMI,
	    .length = sizeof(nmi),
	    .processor_uid = ACPI_MADT_ALL_PROCESSORS,
	    .flags = ACPI_MPS_INTI_CONFORMING,
	    .lint = ACPI_MADT_NMI_LINT,
	};
	size_t pos = ACPI_OFF_MADT + sizeof(m);

	acpi_header_init(&m.header, "APIC", acpi_madt_size(nvcpus), ACPI_MADT_REVISION);
	memcpy(buf + ACPI_OFF_MADT, &m, sizeof(m));
	/* 5.2.12.1: the boot processor's entry comes first. */
	for (unsigned i = 0; i < nvcpus; i++) {
		struct acpi_madt_lapic cpu = {
		    .type = ACPI_MADT_TYPE_LAPIC,
		    .length = sizeof(cpu),
		    .processor_uid = (uint8_t)i,
		    .apic_id = (uint8_t)i,
		    .flags = ACPI_MADT_LAPIC_ENABLED,
		};
		memcpy(buf + pos, &cpu, sizeof(cpu));
		pos += sizeof(cpu);
	}
	memcpy(buf + pos, &io, sizeof(io));
	pos += sizeof(io);
	memcpy(buf + pos, &iso, sizeof(iso));
	pos += sizeof(iso);
	memcpy(buf + pos, &nmi, sizeof(nmi));
	acpi_finish(buf, ACPI_OFF_MADT);
}

static void acpi_build_rsdp(uint8_t *buf)
{
	struct acpi_rsdp r = {
	    .signature = {'R', 'S', 'D', ' ', 'P', 'T', 'R', ' '},
	    .revision = ACPI_RSDP_REVISION,
	    .length = sizeof(r),
	    .xsdt_addr = LAYOUT_ACPI_RSDP + ACPI_OFF_XSDT,
	};

	memcpy(r.oem_id, ACPI_OEM_ID, 6);
	/* 5.2.5.3: Checksum covers the first 20 bytes, Extended Checksum all of them (including
	 * the first checksum, so it is computed second). */
	r.checksum = acpi_checksum((const uint8_t *)&r, 20);
	r.extended_checksum = acpi_checksum((const uint8_t *)&r, sizeof(r));
	memcpy(buf, &r, sizeof(r));
}

int acpi_write_tables(const struct guest_mem *mem, unsigned nvcpus, unsigned nvirtio,
                      uint64_t *rsdp_gpa, char *err, size_t errlen)
{
	uint8_t buf[ACPI_MAX_BYTES], aml[ACPI_DSDT_AML_MAX];
	size_t len, aml_len, off_dsdt;

	if (nvcpus == 0 || nvcpus > ACPI_MAX_VCPUS)
		return error_set(err, errlen,
		                 "ACPI tables describe 1 to %d vCPUs (8-bit APIC ids), not %u",
		                 ACPI_MAX_VCPUS, nvcpus);
	if (nvirtio > LAYOUT_VIRTIO_MAX_DEVS)
		return error_set(err, errlen,
		                 "ACPI tables describe at most %d virtio devices, not %u",
		                 LAYOUT_VIRTIO_MAX_DEVS, nvirtio);
	aml_len = acpi_build_dsdt_aml(aml, sizeof(aml), nvirtio);
	if (aml_len == 0)
		return error_set(err, errlen, "DSDT: more than %d bytes of AML", ACPI_DSDT_AML_MAX);
	off_dsdt = acpi_off_dsdt(nvcpus);
	len = off_dsdt + sizeof(struct acpi_header) + aml_len;
	if (len > sizeof(buf))
		return error_set(
		    err, errlen,
		    "ACPI tables for %u vCPUs are %zu bytes, more than the %zu between "
		    "0x%llx and 0x%llx",
		    nvcpus, len, sizeof(buf), (unsigned long long)LAYOUT_ACPI_RSDP,
		    (unsigned long long)LAYOUT_ACPI_END);
	memset(buf, 0, len);
	acpi_build_xsdt(buf);
	acpi_build_fadt(buf, off_dsdt);
	acpi_build_madt(buf, nvcpus);
	acpi_build_dsdt(buf, off_dsdt, aml, aml_len);
	acpi_build_rsdp(buf);
	if (guest_mem_write(mem, LAYOUT_ACPI_RSDP, buf, len) < 0)
		return error_set(err, errlen, "guest RAM too small for the ACPI tables at 0x%llx",
		                 (unsigned long long)LAYOUT_ACPI_RSDP);
	*rsdp_gpa = LAYOUT_ACPI_RSDP;
	return 0;
}
