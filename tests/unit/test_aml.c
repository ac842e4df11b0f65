/*
 * test_aml.c - the AML builder (vmm/boot/aml.c) byte for byte against ACPI 6.4 chapter 20 and
 * 6.4: integer encodings, names, EISA ids, PkgLength at its boundaries, resource descriptors,
 * and overflow handling. (acpi.bats decompiles a whole DSDT with iasl.)
 */
#include "tests/unit/unit.h"
#include "vmm/boot/aml.h"

#define BYTES(...) ((const uint8_t[]){__VA_ARGS__}), sizeof((const uint8_t[]){__VA_ARGS__})

static bool same(const struct aml *a, const uint8_t *want, size_t n)
{
	return aml_ok(a) && a->len == n && memcmp(a->buf, want, n) == 0;
}

UNIT_TEST(aml_integers_use_the_shortest_encoding)
{
	uint8_t buf[64];
	struct aml a;

	aml_init(&a, buf, sizeof(buf));
	aml_integer(&a, 0);
	aml_integer(&a, 1);
	aml_integer(&a, 5);
	aml_integer(&a, 0x100);
	aml_integer(&a, 0x12345678);
	aml_integer(&a, 0x100000000ull);
	CHECK(same(&a, BYTES(0x00, 0x01, 0x0a, 0x05, 0x0b, 0x00, 0x01, 0x0c, 0x78, 0x56, 0x34, 0x12,
	                     0x0e, 0, 0, 0, 0, 1, 0, 0, 0)));
}

UNIT_TEST(aml_names_strings_and_eisa_ids)
{
	uint8_t buf[64];
	struct aml a;

	CHECK_EQ(aml_eisaid_value("PNP0501"), 0x0105d041);
	CHECK_EQ(aml_eisaid_value("PNP0303"), 0x0303d041);
	CHECK_EQ(aml_eisaid_value("pnp0501"), 0);
	CHECK_EQ(aml_eisaid_value("PNP050G"), 0);
	CHECK_EQ(aml_eisaid_value("PNP05011"), 0);
	aml_init(&a, buf, sizeof(buf));
	aml_name(&a, "_HID");
	aml_eisaid(&a, "PNP0501");
	aml_name_string(&a, "\\_S5");
	aml_string(&a, "AB");
	CHECK(same(&a, BYTES(0x08, '_', 'H', 'I', 'D', 0x0c, 0x41, 0xd0, 0x05, 0x01, '\\', '_', 'S',
	                     '5', '_', 0x0d, 'A', 'B', 0)));
	/* A lower-case or over-long name is refused. */
	aml_init(&a, buf, sizeof(buf));
	aml_name_string(&a, "com1");
	CHECK(!aml_ok(&a));
	aml_init(&a, buf, sizeof(buf));
	aml_name_string(&a, "COM12");
	CHECK(!aml_ok(&a));
}

/* A Scope whose body is n bytes: PkgLength counts itself plus the name and the body. */
static void scope_of(struct aml *a, uint8_t *buf, size_t cap, size_t n)
{
	size_t m;

	aml_init(a, buf, cap);
	m = aml_scope_open(a, "_SB_");
	for (size_t i = 0; i < n; i++)
		aml_byte(a, 0xa3); /* Noop */
	aml_close(a, m);
}

UNIT_TEST(aml_pkglength_one_byte_up_to_63)
{
	static uint8_t buf[8192];
	struct aml a;

	/* 4 name bytes + 58 = 62 after the PkgLength: total 63, one byte. */
	scope_of(&a, buf, sizeof(buf), 58);
	CHECK(aml_ok(&a));
	CHECK_EQ(buf[0], 0x10);
	CHECK_EQ(buf[1], 63);
	CHECK_EQ(a.len, 1 + 63);
	CHECK_EQ(buf[2], '_');
	/* One more byte: 64 needs two bytes; 63 + 2 = 65 = 0x41 -> lead 0x41, then 0x04. */
	scope_of(&a, buf, sizeof(buf), 59);
	CHECK(aml_ok(&a));
	CHECK_EQ(buf[1], 0x41);
	CHECK_EQ(buf[2], 0x04);
	CHECK_EQ(a.len, 1 + 65);
	CHECK_EQ(buf[3], '_');
}

UNIT_TEST(aml_pkglength_two_and_three_bytes_at_4095)
{
	static uint8_t buf[8192];
	struct aml a;

	/* Body 4 + 4089 = 4093, + 2 = 4095 = 0xfff: lead 0x4f, 0xff. */
	scope_of(&a, buf, sizeof(buf), 4089);
	CHECK(aml_ok(&a));
	CHECK_EQ(buf[1], 0x4f);
	CHECK_EQ(buf[2], 0xff);
	CHECK_EQ(a.len, 1 + 4095);
	/* Body 4094: 4094 + 2 = 4096 does not fit 12 bits: three bytes, 4097 = 0x1001. */
	scope_of(&a, buf, sizeof(buf), 4090);
	CHECK(aml_ok(&a));
	CHECK_EQ(buf[1], 0x81);
	CHECK_EQ(buf[2], 0x00);
	CHECK_EQ(buf[3], 0x01);
	CHECK_EQ(a.len, 1 + 4097);
}

UNIT_TEST(aml_device_package_and_resource_template)
{
	uint8_t buf[128];
	struct aml a;
	size_t d, r, p;

	aml_init(&a, buf, sizeof(buf));
	d = aml_device_open(&a, "COM1");
	aml_name(&a, "_CRS");
	r = aml_resource_open(&a);
	aml_res_io(&a, 0x3f8, 8);
	aml_res_irq(&a, 4);
	aml_resource_close(&a, r);
	aml_close(&a, d);
	p = aml_package_open(&a, 2);
	aml_integer(&a, 5);
	aml_integer(&a, 0);
	aml_close(&a, p);
	CHECK(same(&a, BYTES(0x5b, 0x82, 0x1c, 'C', 'O', 'M', '1', /* Device, PkgLength 28 */
	                     0x08, '_', 'C', 'R', 'S',             /* Name(_CRS, */
	                     0x11, 0x11, 0x0b, 0x0d, 0x00, /* Buffer, PkgLength 17, size 13 */
	                     0x47, 0x01, 0xf8, 0x03, 0xf8, 0x03, 0x01, 0x08, /* IO */
	                     0x22, 0x10, 0x00,                               /* IRQNoFlags {4} */
	                     0x79, 0x00,                                     /* End Tag */
	                     0x12, 0x05, 0x02, 0x0a, 0x05, 0x00)));          /* Package(2) {5, 0} */
}

UNIT_TEST(aml_memory32_fixed_and_extended_interrupt)
{
	uint8_t buf[64];
	struct aml a;

	aml_init(&a, buf, sizeof(buf));
	aml_res_memory32_fixed(&a, 0xd0001000, 0x1000, true);
	aml_res_interrupt_edge(&a, 6);
	CHECK(same(&a, BYTES(0x86, 0x09, 0x00, 0x01, 0x00, 0x10, 0x00, 0xd0, 0x00, 0x10, 0x00, 0x00,
	                     0x89, 0x06, 0x00, 0x03, 0x01, 0x06, 0x00, 0x00, 0x00)));
	aml_init(&a, buf, sizeof(buf));
	aml_res_irq(&a, 16); /* not an ISA IRQ */
	CHECK(!aml_ok(&a));
}

UNIT_TEST(aml_overflow_is_sticky_and_writes_nothing_past_the_end)
{
	uint8_t buf[16];
	struct aml a;
	size_t d;

	memset(buf, 0xee, sizeof(buf));
	aml_init(&a, buf, 8);
	d = aml_device_open(&a, "DEV0");
	aml_string(&a, "LNRO0005");
	aml_close(&a, d);
	CHECK(!aml_ok(&a));
	CHECK(a.len <= 8);
	for (size_t i = 8; i < sizeof(buf); i++)
		CHECK_EQ(buf[i], 0xee);
	aml_byte(&a, 0); /* stays failed */
	CHECK(!aml_ok(&a));
}
