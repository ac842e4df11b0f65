/*
 * aml.h - a small builder for ACPI Machine Language (ACPI 6.4, chapter 20), enough for wisp's
 * DSDT: names, scopes, devices, integers, strings, EISA ids, packages and resource templates
 * with the descriptors wisp's devices need (chapter 6.4).
 *
 * The builder writes into a caller-owned buffer and never allocates. Any write past its end
 * sets a sticky overflow flag and writes nothing more; the caller checks aml_ok() once at the
 * end. Constructs that carry a PkgLength (Scope, Device, Package, Buffer) are opened with an
 * *_open() call that returns a mark and closed with aml_close(mark) (aml_resource_close() for
 * a resource template), innermost first; the PkgLength is encoded in as few bytes as the final
 * length allows (20.2.4), so the bytes are exactly what an ASL compiler emits.
 */
#ifndef WISP_AML_H
#define WISP_AML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct aml {
	uint8_t *buf;
	size_t len; /* bytes written so far */
	size_t cap;
	bool overflow;
};

void aml_init(struct aml *a, uint8_t *buf, size_t cap);
/* True when everything fit (no overflow, every PkgLength encodable). */
bool aml_ok(const struct aml *a);

/* Raw bytes (for descriptor bodies). */
void aml_byte(struct aml *a, uint8_t v);
void aml_bytes(struct aml *a, const void *p, size_t n);

/* A NameString: "_SB_" or "\\_SB_" (optional root prefix, then one NameSeg); a name shorter
 * than 4 characters is padded with '_' (20.2.2). */
void aml_name_string(struct aml *a, const char *name);
/* Integer data, in the shortest encoding: ZeroOp, OneOp, Byte/Word/DWord/QWord prefix. */
void aml_integer(struct aml *a, uint64_t v);
/* String data (StringPrefix, the bytes, NUL). */
void aml_string(struct aml *a, const char *s);
/* A compressed EISA id ("PNP0501") as a DWord, as ASL's EISAID() gives it; 0 when id is not
 * three capital letters and four hex digits (the builder then records an overflow). */
uint32_t aml_eisaid_value(const char *id);
void aml_eisaid(struct aml *a, const char *id);

/* Name(NAME, ...): writes NameOp and the name; the caller writes the one data object next. */
void aml_name(struct aml *a, const char *name);

/* Scope(NAME) { ... }, Device(NAME) { ... }, Package(n) { ... }: open, write the body, close. */
size_t aml_scope_open(struct aml *a, const char *name);
size_t aml_device_open(struct aml *a, const char *name);
size_t aml_package_open(struct aml *a, uint8_t nelems);
void aml_close(struct aml *a, size_t mark);

/* ResourceTemplate() { ... }: a Buffer whose bytes are resource descriptors, ended by the End
 * Tag (checksum 0: "treated as correct", 6.4.2.9). */
size_t aml_resource_open(struct aml *a);
void aml_resource_close(struct aml *a, size_t mark);

/* Resource descriptors (6.4.2, 6.4.3). */
void aml_res_io(struct aml *a, uint16_t base, uint8_t len); /* IO(Decode16, base, base, 1, len) */
void aml_res_irq(struct aml *a, uint8_t irq);               /* IRQNoFlags() {irq}: ISA edge, high */
void aml_res_memory32_fixed(struct aml *a, uint32_t base, uint32_t len, bool writable);
/* Interrupt(ResourceConsumer, Edge, ActiveHigh, Exclusive) {gsi}. */
void aml_res_interrupt_edge(struct aml *a, uint32_t gsi);

#endif
