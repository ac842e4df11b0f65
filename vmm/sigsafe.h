/*
 * sigsafe.h - text building for signal handlers: no malloc, no locks, no stdio (the SIGSYS
 * report in seccomp.c, the last metrics line of a dying process in metrics.c).
 */
#ifndef WISP_SIGSAFE_H
#define WISP_SIGSAFE_H

#include <stddef.h>

/* Appends text to buf[len..cap), truncating; returns the new length. */
static inline size_t sigsafe_append(char *buf, size_t len, size_t cap, const char *text)
{
	while (*text && len < cap)
		buf[len++] = *text++;
	return len;
}

/* Appends v in decimal, as sigsafe_append(). */
static inline size_t sigsafe_append_uint(char *buf, size_t len, size_t cap, unsigned long long v)
{
	char digits[24];
	int n = 0;

	do {
		digits[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n && len < cap)
		buf[len++] = digits[--n];
	return len;
}

#endif
