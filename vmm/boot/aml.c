/* aml.c - see aml.h. Opcodes and encodings from ACPI 6.4, 20.2 (AML grammar) and 6.4 (resource
 * data types). */
#include "vmm/boot/aml.h"

#include <string.h>

#define AML_ZERO_OP       0x00
#define AML_ONE_OP        0x01
#define AML_NAME_OP       0x08
#define AML_BYTE_PREFIX   0x0a
#define AML_WORD_PREFIX   0x0b
#define AML_DWORD_PREFIX  0x0c
#define AML_STRING_PREFIX 0x0d
#define AML_QWORD_PREFIX  0x0e
#define AML_SCOPE_OP      0x10
#define AML_BUFFER_OP     0x11
#define AML_PACKAGE_OP    0x12
#define AML_EXT_OP        0x5b /* ExtOpPrefix */
#define AML_DEVICE_OP     0x82 /* after ExtOpPrefix */
#define AML_ROOT_CHAR     '\\'

/* Resource descriptor tags (6.4.2, 6.4.3). */
#define AML_RES_IRQ_NOFLAGS    0x22 /* small item 0x04, length 2 */
#define AML_RES_IO             0x47 /* small item 0x08, length 7 */
#define AML_RES_END_TAG        0x79 /* small item 0x0f, length 1 */
#define AML_RES_MEMORY32_FIXED 0x86
#define AML_RES_EXT_IRQ        0x89
#define AML_RES_IO_DECODE16    0x01 /* 6.4.2.5: the device decodes 16 address bits */
/* 6.4.3.6, Extended Interrupt flags. */
#define AML_EXT_IRQ_CONSUMER (1u << 0)
#define AML_EXT_IRQ_EDGE     (1u << 1)

/* Room reserved for a PkgLength until its value is known: the longest encoding. */
#define AML_PKGLEN_MAX_BYTES 4
/* A Buffer's BufferSize in a resource template: always a WordPrefix integer (3 bytes), since
 * its value is known only when the template closes. */
#define AML_BUFSIZE_BYTES 3

void aml_init(struct aml *a, uint8_t *buf, size_t cap)
{
	*a = (struct aml){.buf = buf, .cap = cap};
}

bool aml_ok(const struct aml *a)
{
	return !a->overflow;
}

void aml_bytes(struct aml *a, const void *p, size_t n)
{
	if (a->overflow || n > a->cap - a->len) {
		a->overflow = true;
		return;
	}
	memcpy(a->buf + a->len, p, n);
	a->len += n;
}

void aml_byte(struct aml *a, uint8_t v)
{
	aml_bytes(a, &v, 1);
}

static void aml_le(struct aml *a, uint64_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		aml_byte(a, (uint8_t)(v >> (8 * i)));
}

/* 20.2.2: NameSeg := LeadNameChar NameChar NameChar NameChar; LeadNameChar is A-Z or '_'. */
static bool aml_name_char(char c, bool lead)
{
	return (c >= 'A' && c <= 'Z') || c == '_' || (!lead && c >= '0' && c <= '9');
}

void aml_name_string(struct aml *a, const char *name)
{
	char seg[4] = {'_', '_', '_', '_'};
	size_t n;

	if (name[0] == AML_ROOT_CHAR) {
		aml_byte(a, AML_ROOT_CHAR);
		name++;
	}
	n = strlen(name);
	if (n == 0 || n > 4) {
		a->overflow = true;
		return;
	}
	for (size_t i = 0; i < n; i++) {
		if (!aml_name_char(name[i], i == 0)) {
			a->overflow = true;
			return;
		}
		seg[i] = name[i];
	}
	aml_bytes(a, seg, sizeof(seg));
}

void aml_integer(struct aml *a, uint64_t v)
{
	if (v == 0) {
		aml_byte(a, AML_ZERO_OP);
	} else if (v == 1) {
		aml_byte(a, AML_ONE_OP);
	} else if (v <= 0xff) {
		aml_byte(a, AML_BYTE_PREFIX);
		aml_le(a, v, 1);
	} else if (v <= 0xffff) {
		aml_byte(a, AML_WORD_PREFIX);
		aml_le(a, v, 2);
	} else if (v <= 0xffffffffu) {
		aml_byte(a, AML_DWORD_PREFIX);
		aml_le(a, v, 4);
	} else {
		aml_byte(a, AML_QWORD_PREFIX);
		aml_le(a, v, 8);
	}
}

void aml_string(struct aml *a, const char *s)
{
	aml_byte(a, AML_STRING_PREFIX);
	aml_bytes(a, s, strlen(s) + 1);
}

static int aml_hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* 6.1.5 (_HID) and 19.6.43 (EISAID): three letters of 5 bits each ('A' = 1) in a big-endian
 * 16-bit word, then the four hex digits as a big-endian 16-bit word; the DWord is those four
 * bytes in that order. */
uint32_t aml_eisaid_value(const char *id)
{
	uint32_t letters = 0, digits = 0;

	if (strlen(id) != 7)
		return 0;
	for (int i = 0; i < 3; i++) {
		if (id[i] < 'A' || id[i] > 'Z')
			return 0;
		letters = (letters << 5) | (uint32_t)(id[i] - 'A' + 1);
	}
	for (int i = 3; i < 7; i++) {
		int d = aml_hex_digit(id[i]);

		if (d < 0)
			return 0;
		digits = (digits << 4) | (uint32_t)d;
	}
	return (letters >> 8) | (letters & 0xff) << 8 | (digits >> 8) << 16 | (digits & 0xff) << 24;
}

void aml_eisaid(struct aml *a, const char *id)
{
	uint32_t v = aml_eisaid_value(id);

	if (v == 0) {
		a->overflow = true;
		return;
	}
	aml_byte(a, AML_DWORD_PREFIX);
	aml_le(a, v, 4);
}

void aml_name(struct aml *a, const char *name)
{
	aml_byte(a, AML_NAME_OP);
	aml_name_string(a, name);
}

/* Reserves room for a PkgLength; aml_close() fills it in and moves the body down. */
static size_t aml_pkglen_reserve(struct aml *a)
{
	size_t mark = a->len;

	aml_le(a, 0, AML_PKGLEN_MAX_BYTES);
	return mark;
}

size_t aml_scope_open(struct aml *a, const char *name)
{
	size_t mark;

	aml_byte(a, AML_SCOPE_OP);
	mark = aml_pkglen_reserve(a);
	aml_name_string(a, name);
	return mark;
}

size_t aml_device_open(struct aml *a, const char *name)
{
	size_t mark;

	aml_byte(a, AML_EXT_OP);
	aml_byte(a, AML_DEVICE_OP);
	mark = aml_pkglen_reserve(a);
	aml_name_string(a, name);
	return mark;
}

size_t aml_package_open(struct aml *a, uint8_t nelems)
{
	size_t mark;

	aml_byte(a, AML_PACKAGE_OP);
	mark = aml_pkglen_reserve(a);
	aml_byte(a, nelems);
	return mark;
}

/* 20.2.4: PkgLength counts itself and what follows it. One byte holds up to 63; otherwise bits
 * 7-6 of the lead byte give the number of bytes that follow (1 to 3), its bits 3-0 the low
 * nibble, and each following byte the next 8 bits: up to 2^28 - 1. */
void aml_close(struct aml *a, size_t mark)
{
	size_t body, total, n;
	uint8_t enc[AML_PKGLEN_MAX_BYTES];

	if (a->overflow)
		return;
	body = a->len - mark - AML_PKGLEN_MAX_BYTES;
	if (body + 1 <= 63) {
		n = 1;
		enc[0] = (uint8_t)(body + 1);
	} else {
		for (n = 2; n <= AML_PKGLEN_MAX_BYTES; n++)
			if (body + n < (1ull << (4 + 8 * (n - 1))))
				break;
		if (n > AML_PKGLEN_MAX_BYTES) {
			a->overflow = true;
			return;
		}
		total = body + n;
		enc[0] = (uint8_t)(((n - 1) << 6) | (total & 0xf));
		for (size_t i = 1; i < n; i++)
			enc[i] = (uint8_t)(total >> (4 + 8 * (i - 1)));
	}
	memmove(a->buf + mark + n, a->buf + mark + AML_PKGLEN_MAX_BYTES, body);
	memcpy(a->buf + mark, enc, n);
	a->len -= AML_PKGLEN_MAX_BYTES - n;
}

size_t aml_resource_open(struct aml *a)
{
	size_t mark;

	aml_byte(a, AML_BUFFER_OP);
	mark = aml_pkglen_reserve(a);
	aml_le(a, 0, AML_BUFSIZE_BYTES); /* BufferSize, filled in by aml_resource_close() */
	return mark;
}

void aml_resource_close(struct aml *a, size_t mark)
{
	size_t size_at = mark + AML_PKGLEN_MAX_BYTES;
	size_t size;

	aml_byte(a, AML_RES_END_TAG);
	aml_byte(a, 0);
	if (a->overflow)
		return;
	size = a->len - size_at - AML_BUFSIZE_BYTES;
	if (size > 0xffff) {
		a->overflow = true;
		return;
	}
	a->buf[size_at] = AML_WORD_PREFIX;
	a->buf[size_at + 1] = (uint8_t)size;
	a->buf[size_at + 2] = (uint8_t)(size >> 8);
	aml_close(a, mark);
}

/* 6.4.2.5: I/O Port Descriptor: information, minimum, maximum, alignment, length. */
void aml_res_io(struct aml *a, uint16_t base, uint8_t len)
{
	aml_byte(a, AML_RES_IO);
	aml_byte(a, AML_RES_IO_DECODE16);
	aml_le(a, base, 2);
	aml_le(a, base, 2);
	aml_byte(a, 1);
	aml_byte(a, len);
}

/* 6.4.2.1: IRQ Descriptor without the information byte: a 16-bit mask of ISA IRQs, edge
 * triggered, active high, exclusive. */
void aml_res_irq(struct aml *a, uint8_t irq)
{
	if (irq > 15) {
		a->overflow = true;
		return;
	}
	aml_byte(a, AML_RES_IRQ_NOFLAGS);
	aml_le(a, 1u << irq, 2);
}

/* 6.4.3.4: 32-Bit Fixed Memory Range Descriptor: length 9, information (bit 0 read-write),
 * base, length. */
void aml_res_memory32_fixed(struct aml *a, uint32_t base, uint32_t len, bool writable)
{
	aml_byte(a, AML_RES_MEMORY32_FIXED);
	aml_le(a, 9, 2);
	aml_byte(a, writable ? 1 : 0);
	aml_le(a, base, 4);
	aml_le(a, len, 4);
}

/* 6.4.3.6: Extended Interrupt Descriptor with one interrupt and no resource source: length 6
 * (flags, count, one DWord). */
void aml_res_interrupt_edge(struct aml *a, uint32_t gsi)
{
	aml_byte(a, AML_RES_EXT_IRQ);
	aml_le(a, 6, 2);
	aml_byte(a, AML_EXT_IRQ_CONSUMER | AML_EXT_IRQ_EDGE);
	aml_byte(a, 1);
	aml_le(a, gsi, 4);
}
