/*
 * snapfile.h - the container of a snapshot's state file (docs/snapshot-format.md): a header
 * (magic, format version, the wisp version that wrote it, the body's length), a body of tagged,
 * length-prefixed sections, and a CRC-64/XZ over everything before it.
 *
 * Writing: snap_writer_init, then per section snap_begin / snap_put_* / snap_end, then
 * snap_finish. Reading: snap_open checks the whole file (magic, version, length, CRC, every
 * section's framing) before anything is handed out, so a restore refuses a bad file before it
 * creates anything; then snap_find or snap_next give sections, and a snap_cursor reads a
 * section's fields with bounds checks (the only way restore code reads snapshot bytes).
 */
#ifndef WISP_SNAPFILE_H
#define WISP_SNAPFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SNAP_MAGIC          "WISPSNAP" /* 8 bytes, no NUL */
#define SNAP_FORMAT_VERSION 1u
#define SNAP_HEADER_SIZE    64u
#define SNAP_VERSION_LEN    32u         /* wisp version string, NUL-padded */
#define SNAP_SECTION_HEADER 16u         /* u32 tag, u32 instance, u64 length */
#define SNAP_TRAILER_SIZE   8u          /* u64 CRC-64/XZ of header and body */
#define SNAP_ALIGN          8u          /* sections start 8-byte aligned; padding is zero */
#define SNAP_MAX_FILE       (64u << 20) /* state files are KiB; anything near this is bogus */

struct snap_writer {
	uint8_t *buf;
	size_t len, cap;
	size_t section_start; /* offset of the open section's header; 0: none open */
	bool failed;          /* out of memory, or misuse (nested or unclosed sections) */
};

/* Formats one sentence into err (errlen bytes) and returns -1: the snapshot code's errors. */
int snap_fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

void snap_writer_init(struct snap_writer *w, const char *wisp_version);
void snap_begin(struct snap_writer *w, uint32_t tag, uint32_t instance);
void snap_put(struct snap_writer *w, const void *data, size_t len);
void snap_put_u32(struct snap_writer *w, uint32_t v);
void snap_put_u64(struct snap_writer *w, uint64_t v);
void snap_end(struct snap_writer *w);
/* Closes the file (body length, CRC). 0 with the file in *out (length *len; the caller frees it);
 * -1 if any step failed (the buffer is freed). */
int snap_finish(struct snap_writer *w, uint8_t **out, size_t *len);
void snap_writer_free(struct snap_writer *w);

struct snap_section {
	uint32_t tag, instance;
	const uint8_t *data;
	size_t len;
};

struct snap_reader {
	const uint8_t *buf;
	size_t body_start, body_end, pos;
	uint32_t format_version;
	char wisp_version[SNAP_VERSION_LEN + 1];
};

/* Checks buf[0..len) as a whole state file. 0, or -1 with one sentence in err. buf must stay
 * valid while sections are used. */
int snap_open(struct snap_reader *r, const void *buf, size_t len, char *err, size_t errlen);
/* The next section in file order: 1, or 0 at the end. */
int snap_next(struct snap_reader *r, struct snap_section *s);
/* The first section with this tag and instance: true and *s, or false. */
bool snap_find(const struct snap_reader *r, uint32_t tag, uint32_t instance,
               struct snap_section *s);
/* How many sections carry this tag. */
unsigned snap_count(const struct snap_reader *r, uint32_t tag);

/* Reads a section's fields in order. Reading past the end yields zeros and sets bad; a restore
 * checks snap_cursor_done() (all read, nothing past) before it uses what it read. */
struct snap_cursor {
	const uint8_t *p;
	size_t left;
	bool bad;
};

void snap_cursor_init(struct snap_cursor *c, const struct snap_section *s);
void snap_get(struct snap_cursor *c, void *out, size_t len);
uint32_t snap_get_u32(struct snap_cursor *c);
uint64_t snap_get_u64(struct snap_cursor *c);
bool snap_cursor_done(const struct snap_cursor *c);

#endif
