/*
 * cmdline.c - "key=value" lookup in the kernel command line (boot.cmdline, read in place).
 * Words are separated by spaces; no quoting. cmdline_get() returns the first match.
 */
#include "guest.h"

/* The first space in [s, end), or end. One `repne scasb`: the boot path runs emulated on PVM
 * hosts, where a byte loop costs ~5 us per byte and a string instruction far less. */
static const char *find_space(const char *s, const char *end)
{
	size_t n = end - s;

	if (n == 0)
		return end;
	asm volatile("repne scasb" : "+D"(s), "+c"(n) : "a"(' ') : "memory", "cc");
	return s[-1] == ' ' ? s - 1 : end;
}

const char *cmdline_next(const char *key, size_t *pos, size_t *len)
{
	const char *s = boot.cmdline + *pos, *end = boot.cmdline + boot.cmdline_len;
	size_t klen = strnlen(key, 64);

	while (s < end) {
		const char *word = s;

		s = find_space(s, end);
		if ((size_t)(s - word) > klen && word[klen] == '=' &&
		    memcmp(word, key, klen) == 0) {
			*len = s - word - klen - 1;
			*pos = s - boot.cmdline;
			return word + klen + 1;
		}
		while (s < end && *s == ' ')
			s++;
	}
	*pos = boot.cmdline_len;
	return NULL;
}

const char *cmdline_get(const char *key, size_t *len)
{
	size_t pos = 0;

	return cmdline_next(key, &pos, len);
}

/* Numeric parameter; def if absent. A malformed value fails the test: silently using the
 * default would make a host-side typo look like a pass. */
u64 cmdline_get_u64(const char *key, u64 def)
{
	const char *v;
	size_t len;
	u64 n;

	v = cmdline_get(key, &len);
	if (!v)
		return def;
	if (!parse_u64(v, len, &n))
		test_fail("bad number in %s=%.*s", key, (int)len, v);
	return n;
}
