/*
 * snapfile.c - writing and checking a snapshot state file's container (layout in snapfile.h
 * and docs/snapshot-format.md). Everything is little-endian; sections are 8-byte aligned.
 */
#include "vmm/snapshot/snapfile.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/snapshot/crc64.h"

/* Header field offsets. */
#define HDR_MAGIC    0u
#define HDR_FORMAT   8u
#define HDR_FLAGS    12u
#define HDR_VERSION  16u
#define HDR_BODY_LEN 48u
#define HDR_RESERVED 56u

static void put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put_le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_le32(const uint8_t *p)
{
	uint32_t v = 0;

	for (int i = 3; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static uint64_t get_le64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

/* Room for n more bytes; false (and failed) when that cannot be had. */
static bool writer_reserve(struct snap_writer *w, size_t n)
{
	size_t cap;
	uint8_t *buf;

	if (w->failed)
		return false;
	if (n > SNAP_MAX_FILE || w->len + n > SNAP_MAX_FILE) {
		w->failed = true;
		return false;
	}
	if (w->len + n <= w->cap)
		return true;
	cap = w->cap ? w->cap : 4096;
	while (cap < w->len + n)
		cap *= 2;
	buf = realloc(w->buf, cap);
	if (!buf) {
		w->failed = true;
		return false;
	}
	w->buf = buf;
	w->cap = cap;
	return true;
}

static void writer_bytes(struct snap_writer *w, const void *data, size_t len)
{
	if (!writer_reserve(w, len))
		return;
	if (len)
		memcpy(w->buf + w->len, data, len);
	w->len += len;
}

void snap_writer_init(struct snap_writer *w, const char *wisp_version)
{
	uint8_t hdr[SNAP_HEADER_SIZE] = {0};
	size_t vlen = strlen(wisp_version);

	memset(w, 0, sizeof(*w));
	memcpy(hdr + HDR_MAGIC, SNAP_MAGIC, 8);
	put_le32(hdr + HDR_FORMAT, SNAP_FORMAT_VERSION);
	memcpy(hdr + HDR_VERSION, wisp_version,
	       vlen < SNAP_VERSION_LEN ? vlen : SNAP_VERSION_LEN - 1);
	writer_bytes(w, hdr, sizeof(hdr));
}

void snap_begin(struct snap_writer *w, uint32_t tag, uint32_t instance)
{
	uint8_t sh[SNAP_SECTION_HEADER] = {0};

	if (w->section_start) {
		w->failed = true; /* sections do not nest */
		return;
	}
	put_le32(sh, tag);
	put_le32(sh + 4, instance);
	w->section_start = w->len;
	writer_bytes(w, sh, sizeof(sh));
}

void snap_put(struct snap_writer *w, const void *data, size_t len)
{
	if (!w->section_start)
		w->failed = true;
	writer_bytes(w, data, len);
}

void snap_put_u32(struct snap_writer *w, uint32_t v)
{
	uint8_t b[4];

	put_le32(b, v);
	snap_put(w, b, sizeof(b));
}

void snap_put_u64(struct snap_writer *w, uint64_t v)
{
	uint8_t b[8];

	put_le64(b, v);
	snap_put(w, b, sizeof(b));
}

void snap_end(struct snap_writer *w)
{
	static const uint8_t zeros[SNAP_ALIGN];
	size_t data_len;

	if (!w->section_start) {
		w->failed = true;
		return;
	}
	if (!w->failed) {
		data_len = w->len - w->section_start - SNAP_SECTION_HEADER;
		put_le64(w->buf + w->section_start + 8, data_len);
		writer_bytes(w, zeros, (SNAP_ALIGN - w->len % SNAP_ALIGN) % SNAP_ALIGN);
	}
	w->section_start = 0;
}

int snap_finish(struct snap_writer *w, uint8_t **out, size_t *len)
{
	uint8_t crc[SNAP_TRAILER_SIZE];

	if (w->section_start)
		w->failed = true;
	if (!w->failed)
		put_le64(w->buf + HDR_BODY_LEN, w->len - SNAP_HEADER_SIZE);
	if (!w->failed) {
		put_le64(crc, crc64_update(0, w->buf, w->len));
		writer_bytes(w, crc, sizeof(crc));
	}
	if (w->failed) {
		snap_writer_free(w);
		return -1;
	}
	*out = w->buf;
	*len = w->len;
	w->buf = NULL;
	w->len = w->cap = 0;
	return 0;
}

void snap_writer_free(struct snap_writer *w)
{
	free(w->buf);
	w->buf = NULL;
	w->len = w->cap = 0;
}

int snap_fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

/* Reads the section header at r->buf + off into s; the framing was checked by snap_open. */
static size_t section_at(const struct snap_reader *r, size_t off, struct snap_section *s)
{
	const uint8_t *p = r->buf + off;

	s->tag = get_le32(p);
	s->instance = get_le32(p + 4);
	s->len = (size_t)get_le64(p + 8);
	s->data = p + SNAP_SECTION_HEADER;
	return off + SNAP_SECTION_HEADER + s->len + (SNAP_ALIGN - s->len % SNAP_ALIGN) % SNAP_ALIGN;
}

int snap_open(struct snap_reader *r, const void *buf, size_t len, char *err, size_t errlen)
{
	const uint8_t *b = buf;
	uint64_t body_len, want_crc, crc;
	size_t off;

	memset(r, 0, sizeof(*r));
	if (len < 8 || memcmp(b, SNAP_MAGIC, 8) != 0)
		return snap_fail(err, errlen, "not a wisp snapshot (bad magic)");
	if (len < SNAP_HEADER_SIZE + SNAP_TRAILER_SIZE)
		return snap_fail(err, errlen,
		                 "truncated: %zu bytes, shorter than a header and checksum", len);
	r->format_version = get_le32(b + HDR_FORMAT);
	if (r->format_version != SNAP_FORMAT_VERSION)
		return snap_fail(err, errlen, "format version %u, this wisp reads version %u",
		                 r->format_version, SNAP_FORMAT_VERSION);
	if (get_le32(b + HDR_FLAGS) != 0 || get_le64(b + HDR_RESERVED) != 0)
		return snap_fail(err, errlen,
		                 "header flags or reserved bytes set: not written by this format");
	memcpy(r->wisp_version, b + HDR_VERSION, SNAP_VERSION_LEN);
	r->wisp_version[SNAP_VERSION_LEN] = '\0';
	if (memchr(b + HDR_VERSION, '\0', SNAP_VERSION_LEN) == NULL)
		return snap_fail(err, errlen, "the wisp version in the header is not terminated");
	body_len = get_le64(b + HDR_BODY_LEN);
	if (body_len != len - SNAP_HEADER_SIZE - SNAP_TRAILER_SIZE)
		return snap_fail(
		    err, errlen, "%s: the header says a body of %llu bytes, the file holds %zu",
		    body_len > len - SNAP_HEADER_SIZE - SNAP_TRAILER_SIZE ? "truncated"
		                                                          : "trailing bytes",
		    (unsigned long long)body_len, len - SNAP_HEADER_SIZE - SNAP_TRAILER_SIZE);
	want_crc = get_le64(b + len - SNAP_TRAILER_SIZE);
	crc = crc64_update(0, b, len - SNAP_TRAILER_SIZE);
	if (crc != want_crc)
		return snap_fail(err, errlen,
		                 "checksum mismatch (CRC-64 %016llx, file says %016llx): corrupted",
		                 (unsigned long long)crc, (unsigned long long)want_crc);
	r->buf = b;
	r->body_start = SNAP_HEADER_SIZE;
	r->body_end = SNAP_HEADER_SIZE + (size_t)body_len;
	/* Every section's framing, before any is handed out. */
	for (off = r->body_start; off < r->body_end;) {
		struct snap_section s;
		uint64_t slen;
		size_t pad;

		if (r->body_end - off < SNAP_SECTION_HEADER)
			return snap_fail(err, errlen, "section at offset %zu: header cut short",
			                 off);
		slen = get_le64(b + off + 8);
		if (slen > r->body_end - off - SNAP_SECTION_HEADER)
			return snap_fail(err, errlen,
			                 "section at offset %zu: %llu bytes run past the body", off,
			                 (unsigned long long)slen);
		pad = (SNAP_ALIGN - slen % SNAP_ALIGN) % SNAP_ALIGN;
		if (pad > r->body_end - off - SNAP_SECTION_HEADER - slen)
			return snap_fail(err, errlen,
			                 "section at offset %zu: padding runs past the body", off);
		for (size_t i = 0; i < pad; i++)
			if (b[off + SNAP_SECTION_HEADER + slen + i] != 0)
				return snap_fail(err, errlen,
				                 "section at offset %zu: padding not zero", off);
		off = section_at(r, off, &s);
	}
	r->pos = r->body_start;
	return 0;
}

int snap_next(struct snap_reader *r, struct snap_section *s)
{
	if (!r->buf || r->pos >= r->body_end)
		return 0;
	r->pos = section_at(r, r->pos, s);
	return 1;
}

bool snap_find(const struct snap_reader *r, uint32_t tag, uint32_t instance, struct snap_section *s)
{
	struct snap_reader it = *r;

	it.pos = it.body_start;
	while (snap_next(&it, s))
		if (s->tag == tag && s->instance == instance)
			return true;
	return false;
}

unsigned snap_count(const struct snap_reader *r, uint32_t tag)
{
	struct snap_reader it = *r;
	struct snap_section s;
	unsigned n = 0;

	it.pos = it.body_start;
	while (snap_next(&it, &s))
		n += s.tag == tag;
	return n;
}

void snap_cursor_init(struct snap_cursor *c, const struct snap_section *s)
{
	c->p = s->data;
	c->left = s->len;
	c->bad = false;
}

void snap_get(struct snap_cursor *c, void *out, size_t len)
{
	if (c->bad || len > c->left) {
		c->bad = true;
		memset(out, 0, len);
		return;
	}
	memcpy(out, c->p, len);
	c->p += len;
	c->left -= len;
}

uint32_t snap_get_u32(struct snap_cursor *c)
{
	uint8_t b[4];

	snap_get(c, b, sizeof(b));
	return get_le32(b);
}

uint64_t snap_get_u64(struct snap_cursor *c)
{
	uint8_t b[8];

	snap_get(c, b, sizeof(b));
	return get_le64(b);
}

bool snap_cursor_done(const struct snap_cursor *c)
{
	return !c->bad && c->left == 0;
}
