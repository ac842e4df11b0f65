/*
 * format.c - a printf subset for the guest. Pure: no I/O, no globals, so CPL3 code formats
 * its lines itself and needs one syscall per line.
 *
 * Conversions: %s %c %d %i %u %x %p %%; length modifiers l, ll, z; flags '#' (0x prefix)
 * and '0'; a field width; precision only as %.*s (length-limited strings).
 */
#include "guest.h"

struct out {
	char *buf;
	size_t size, len;
};

static void put(struct out *o, char c)
{
	if (o->len + 1 < o->size)
		o->buf[o->len] = c;
	o->len++;
}

static void put_num(struct out *o, u64 v, int base, bool neg, bool alt, int width, char pad)
{
	char tmp[24];
	int n = 0;

	do {
		tmp[n++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v);
	if (neg)
		width--;
	if (alt)
		width -= 2;
	if (pad == '0') {
		if (neg)
			put(o, '-');
		if (alt) {
			put(o, '0');
			put(o, 'x');
		}
	}
	for (; width > n; width--)
		put(o, pad);
	if (pad != '0') {
		if (neg)
			put(o, '-');
		if (alt) {
			put(o, '0');
			put(o, 'x');
		}
	}
	while (n)
		put(o, tmp[--n]);
}

size_t vformat(char *buf, size_t size, const char *fmt, va_list ap)
{
	struct out o = {buf, size, 0};

	for (; *fmt; fmt++) {
		bool alt = false;
		int lng = 0, width = 0, prec = -1;
		char pad = ' ';
		u64 v;

		if (*fmt != '%') {
			put(&o, *fmt);
			continue;
		}
		fmt++;
		for (;; fmt++) {
			if (*fmt == '#')
				alt = true;
			else if (*fmt == '0')
				pad = '0';
			else
				break;
		}
		while (*fmt >= '0' && *fmt <= '9')
			width = width * 10 + (*fmt++ - '0');
		if (fmt[0] == '.' && fmt[1] == '*') {
			prec = va_arg(ap, int);
			fmt += 2;
		}
		while (*fmt == 'l' || *fmt == 'z') {
			lng++;
			fmt++;
		}
		switch (*fmt) {
		case 's': {
			const char *s = va_arg(ap, const char *);
			size_t n = prec >= 0 ? strnlen(s, prec) : strnlen(s, ~(size_t)0);

			for (; width > (int)n; width--)
				put(&o, ' ');
			while (n--)
				put(&o, *s++);
			break;
		}
		case 'c':
			put(&o, (char)va_arg(ap, int));
			break;
		case 'd':
		case 'i': {
			s64 sv = lng ? va_arg(ap, long) : va_arg(ap, int);

			put_num(&o, sv < 0 ? -(u64)sv : (u64)sv, 10, sv < 0, false, width, pad);
			break;
		}
		case 'u':
		case 'x':
			v = lng ? va_arg(ap, unsigned long) : va_arg(ap, unsigned int);
			put_num(&o, v, *fmt == 'u' ? 10 : 16, false, alt, width, pad);
			break;
		case 'p':
			put_num(&o, (u64)va_arg(ap, void *), 16, false, true, width, pad);
			break;
		case '%':
			put(&o, '%');
			break;
		case '\0':
			fmt--;
			break;
		default:
			put(&o, '%');
			put(&o, *fmt);
			break;
		}
	}
	if (size)
		buf[o.len < size ? o.len : size - 1] = '\0';
	return o.len < size ? o.len : (size ? size - 1 : 0);
}

size_t format(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	size_t n;

	va_start(ap, fmt);
	n = vformat(buf, size, fmt, ap);
	va_end(ap);
	return n;
}
