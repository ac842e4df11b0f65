/*
 * test_snapfile.c - the snapshot state file's container (vmm/snapshot/snapfile.c): CRC-64/XZ's
 * check value, a round trip of sections, and each way a file can be bad refused with its own
 * message (magic, version, truncation, trailing bytes, CRC, section framing, padding).
 */
#include <stdlib.h>

#include "tests/unit/unit.h"
#include "vmm/snapshot/crc64.h"
#include "vmm/snapshot/snapfile.h"

UNIT_TEST(crc64_xz_check_value_and_streaming)
{
	CHECK_EQ(crc64_update(0, "123456789", 9), 0x995dc9bbdf1939faull);
	CHECK_EQ(crc64_update(crc64_update(0, "1234", 4), "56789", 5), 0x995dc9bbdf1939faull);
	CHECK_EQ(crc64_update(0, "", 0), 0);
}

/* A file with three sections: (1,0) "abc", (2,0) two integers, (2,1) empty. */
static uint8_t *sample(size_t *len)
{
	struct snap_writer w;
	uint8_t *out = NULL;

	snap_writer_init(&w, "0.1.0-test");
	snap_begin(&w, 1, 0);
	snap_put(&w, "abc", 3);
	snap_end(&w);
	snap_begin(&w, 2, 0);
	snap_put_u32(&w, 0xdeadbeef);
	snap_put_u64(&w, 0x0123456789abcdefull);
	snap_end(&w);
	snap_begin(&w, 2, 1);
	snap_end(&w);
	if (snap_finish(&w, &out, len) < 0)
		return NULL;
	return out;
}

UNIT_TEST(snapfile_round_trip)
{
	size_t len;
	uint8_t *f = sample(&len);
	struct snap_reader r;
	struct snap_section s;
	struct snap_cursor c;
	char err[160] = "";

	CHECK(f != NULL);
	/* header 64 + (16+3+5 pad) + (16+12+4 pad) + 16 + CRC 8 */
	CHECK_EQ(len, 64 + 24 + 32 + 16 + 8);
	CHECK(memcmp(f, "WISPSNAP", 8) == 0);
	CHECK_EQ(snap_open(&r, f, len, err, sizeof(err)), 0);
	CHECK_STR_EQ(r.wisp_version, "0.1.0-test");
	CHECK_EQ(r.format_version, SNAP_FORMAT_VERSION);
	CHECK_EQ(snap_count(&r, 2), 2);
	CHECK(snap_find(&r, 1, 0, &s));
	CHECK_EQ(s.len, 3);
	CHECK(memcmp(s.data, "abc", 3) == 0);
	CHECK(snap_find(&r, 2, 0, &s));
	snap_cursor_init(&c, &s);
	CHECK_EQ(snap_get_u32(&c), 0xdeadbeef);
	CHECK_EQ(snap_get_u64(&c), 0x0123456789abcdefull);
	CHECK(snap_cursor_done(&c));
	/* reading past a section's end gives zeros and marks the cursor */
	CHECK_EQ(snap_get_u32(&c), 0);
	CHECK(c.bad && !snap_cursor_done(&c));
	CHECK(snap_find(&r, 2, 1, &s) && s.len == 0);
	CHECK(!snap_find(&r, 3, 0, &s));
	/* file order */
	CHECK_EQ(snap_next(&r, &s), 1);
	CHECK_EQ(s.tag, 1);
	CHECK_EQ(snap_next(&r, &s), 1);
	CHECK_EQ(snap_next(&r, &s), 1);
	CHECK_EQ(s.instance, 1);
	CHECK_EQ(snap_next(&r, &s), 0);
	free(f);
}

/* Re-seals f after an edit, so that the check under test is not the CRC's. */
static void reseal(uint8_t *f, size_t len)
{
	uint64_t crc = crc64_update(0, f, len - 8);

	for (int i = 0; i < 8; i++)
		f[len - 8 + i] = (uint8_t)(crc >> (8 * i));
}

static int open_err(const uint8_t *f, size_t len, char *err, size_t errlen)
{
	struct snap_reader r;

	err[0] = '\0';
	return snap_open(&r, f, len, err, errlen);
}

UNIT_TEST(snapfile_refuses_bad_files_with_one_reason_each)
{
	size_t len;
	uint8_t *f = sample(&len), *g;
	char err[160];

	CHECK(f != NULL);
	g = malloc(len + 8);
	CHECK(g != NULL);

	memcpy(g, f, len);
	g[0] = 'X';
	CHECK_EQ(open_err(g, len, err, sizeof(err)), -1);
	CHECK_STR_EQ(err, "not a wisp snapshot (bad magic)");

	CHECK_EQ(open_err(f, 40, err, sizeof(err)), -1);
	CHECK_STR_EQ(err, "truncated: 40 bytes, shorter than a header and checksum");

	memcpy(g, f, len);
	g[8] = 2;
	reseal(g, len);
	CHECK_EQ(open_err(g, len, err, sizeof(err)), -1);
	CHECK_STR_EQ(err, "format version 2, this wisp reads version 1");

	CHECK_EQ(open_err(f, len - 9, err, sizeof(err)), -1);
	CHECK(strncmp(err, "truncated: the header says a body of 72 bytes", 45) == 0);

	memcpy(g, f, len);
	memset(g + len, 0, 8);
	CHECK_EQ(open_err(g, len + 8, err, sizeof(err)), -1);
	CHECK(strncmp(err, "trailing bytes:", 15) == 0);

	/* one flipped bit anywhere before the CRC, and the CRC itself */
	for (size_t i = 0; i < len; i++) {
		memcpy(g, f, len);
		g[i] ^= 0x10;
		if (open_err(g, len, err, sizeof(err)) != -1)
			UNIT_FAIL("a flipped bit at byte %zu was accepted", i);
	}
	memcpy(g, f, len);
	g[100] ^= 1; /* inside section (2,0)'s data */
	CHECK_EQ(open_err(g, len, err, sizeof(err)), -1);
	CHECK(strncmp(err, "checksum mismatch", 17) == 0);

	/* section framing, with a valid CRC: a length past the body, non-zero padding */
	memcpy(g, f, len);
	g[64 + 8] = 200;
	reseal(g, len);
	CHECK_EQ(open_err(g, len, err, sizeof(err)), -1);
	CHECK_STR_EQ(err, "section at offset 64: 200 bytes run past the body");
	memcpy(g, f, len);
	g[64 + 16 + 3] = 1;
	reseal(g, len);
	CHECK_EQ(open_err(g, len, err, sizeof(err)), -1);
	CHECK_STR_EQ(err, "section at offset 64: padding not zero");
	memcpy(g, f, len);
	g[12] = 1; /* flags */
	reseal(g, len);
	CHECK_EQ(open_err(g, len, err, sizeof(err)), -1);
	CHECK_STR_EQ(err, "header flags or reserved bytes set: not written by this format");
	free(g);
	free(f);
}

UNIT_TEST(snapfile_writer_misuse_fails_the_file)
{
	struct snap_writer w;
	uint8_t *out = (uint8_t *)1;
	size_t len = 0;

	snap_writer_init(&w, "v");
	snap_put_u32(&w, 1); /* outside a section */
	CHECK_EQ(snap_finish(&w, &out, &len), -1);

	snap_writer_init(&w, "v");
	snap_begin(&w, 1, 0);
	snap_begin(&w, 2, 0); /* nested */
	snap_end(&w);
	CHECK_EQ(snap_finish(&w, &out, &len), -1);

	snap_writer_init(&w, "v");
	snap_begin(&w, 1, 0); /* never closed */
	CHECK_EQ(snap_finish(&w, &out, &len), -1);

	snap_writer_init(&w, "an overlong version string that does not fit in 32 bytes");
	CHECK_EQ(snap_finish(&w, &out, &len), 0);
	CHECK_EQ(len, 64 + 8);
	CHECK_EQ(out[16 + 31], 0); /* cut, still terminated */
	free(out);
}
