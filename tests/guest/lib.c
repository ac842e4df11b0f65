/*
 * lib.c - the string helpers the guest needs. gcc may emit calls to memset/memcpy/memcmp
 * for struct assignments even with -ffreestanding, so these names are required.
 * All are plain C: callable at CPL0 and CPL3.
 */
#include "guest.h"

void *memset(void *d, int c, size_t n)
{
	/* One string instruction: cheap even where CPL0 is emulated. */
	void *ret = d;

	asm volatile("rep stosb" : "+D"(d), "+c"(n) : "a"(c) : "memory");
	return ret;
}

void *memcpy(void *d, const void *s, size_t n)
{
	void *ret = d;

	asm volatile("rep movsb" : "+D"(d), "+S"(s), "+c"(n) : : "memory");
	return ret;
}

/* memcmp and strnlen are string instructions too: where CPL0 is emulated, one instruction
 * with n iterations costs a fraction of a byte loop's 3-4 instructions per byte. */
int memcmp(const void *a, const void *b, size_t n)
{
	const u8 *x = a, *y = b;

	if (n == 0)
		return 0;
	/* Stops after the first differing byte, or after the last one. */
	asm volatile("repe cmpsb" : "+S"(x), "+D"(y), "+c"(n) : : "memory", "cc");
	if (x[-1] == y[-1])
		return 0;
	return x[-1] < y[-1] ? -1 : 1;
}

size_t strnlen(const char *s, size_t max)
{
	const char *p = s;
	size_t n = max;

	if (max == 0)
		return 0;
	/* Stops after the NUL, or after max bytes. */
	asm volatile("repne scasb" : "+D"(p), "+c"(n) : "a"(0) : "memory", "cc");
	return p[-1] == 0 ? (size_t)(p - s - 1) : max;
}

/* True if the len bytes at a equal the NUL-terminated string b. */
bool str_eq(const char *a, size_t alen, const char *b)
{
	size_t blen = strnlen(b, alen + 1);

	return blen == alen && memcmp(a, b, alen) == 0;
}

bool parse_u64(const char *s, size_t len, u64 *out)
{
	u64 v = 0, base = 10, digit;
	size_t i = 0;

	if (len >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		i = 2;
	}
	if (i == len)
		return false;
	for (; i < len; i++) {
		char c = s[i];

		if (c >= '0' && c <= '9')
			digit = c - '0';
		else if (base == 16 && c >= 'a' && c <= 'f')
			digit = c - 'a' + 10;
		else if (base == 16 && c >= 'A' && c <= 'F')
			digit = c - 'A' + 10;
		else
			return false;
		if (v > (~0ULL - digit) / base)
			return false;
		v = v * base + digit;
	}
	*out = v;
	return true;
}
