/*
 * unit.h - the in-tree unit test runner.
 *
 *   UNIT_TEST(e820_low_ram_ends_below_ebda) { CHECK_EQ(map[0].size, 0x9fc00); }
 *
 * Tests register themselves in the "wisp_unit_tests" section; tests/unit/main.c runs them all
 * (or those whose name contains argv[1]) and ends with the line "N passed, N failed".
 * A CHECK that fails reports file:line and the values, marks the test failed and returns from it.
 */
#ifndef WISP_UNIT_H
#define WISP_UNIT_H

#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

struct unit_test {
	const char *name;
	void (*fn)(bool *failed);
};

#define UNIT_TEST(tname)                                                                           \
	static void unit_fn_##tname(bool *unit_failed);                                            \
	static const struct unit_test unit_desc_##tname = {#tname, unit_fn_##tname};               \
	static const struct unit_test *const unit_ptr_##tname                                      \
	    __attribute__((used, section("wisp_unit_tests"), aligned(sizeof(void *)))) =           \
	        &unit_desc_##tname;                                                                \
	static void unit_fn_##tname(bool *unit_failed)

#define UNIT_FAIL(...)                                                                             \
	do {                                                                                       \
		fprintf(stderr, "  %s:%d: ", __FILE__, __LINE__);                                  \
		fprintf(stderr, __VA_ARGS__);                                                      \
		fputc('\n', stderr);                                                               \
		*unit_failed = true;                                                               \
		return;                                                                            \
	} while (0)

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond))                                                                       \
			UNIT_FAIL("CHECK(%s) failed", #cond);                                      \
	} while (0)

#define CHECK_EQ(a, b)                                                                             \
	do {                                                                                       \
		uint64_t unit_a = (uint64_t)(a), unit_b = (uint64_t)(b);                           \
		if (unit_a != unit_b)                                                              \
			UNIT_FAIL("CHECK_EQ(%s, %s): 0x%" PRIx64 " != 0x%" PRIx64, #a, #b, unit_a, \
			          unit_b);                                                         \
	} while (0)

#define CHECK_STR_EQ(a, b)                                                                         \
	do {                                                                                       \
		const char *unit_a = (a), *unit_b = (b);                                           \
		if (!unit_a || !unit_b || strcmp(unit_a, unit_b) != 0)                             \
			UNIT_FAIL("CHECK_STR_EQ(%s, %s): \"%s\" != \"%s\"", #a, #b,                \
			          unit_a ? unit_a : "(null)", unit_b ? unit_b : "(null)");         \
	} while (0)

/* err buffers: the message must mention needle. */
#define CHECK_CONTAINS(haystack, needle)                                                           \
	do {                                                                                       \
		const char *unit_h = (haystack);                                                   \
		if (!unit_h || !strstr(unit_h, (needle)))                                          \
			UNIT_FAIL("\"%s\" does not contain \"%s\"", unit_h ? unit_h : "(null)",    \
			          (needle));                                                       \
	} while (0)

#endif
