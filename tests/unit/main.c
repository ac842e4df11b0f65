/* main.c - runs every UNIT_TEST linked into this binary (see unit.h). */
#include "tests/unit/unit.h"

#include <stdlib.h>

extern const struct unit_test *const __start_wisp_unit_tests[];
extern const struct unit_test *const __stop_wisp_unit_tests[];

int main(int argc, char **argv)
{
	const char *filter = argc > 1 ? argv[1] : NULL;
	unsigned passed = 0, failed = 0;

	for (const struct unit_test *const *t = __start_wisp_unit_tests; t < __stop_wisp_unit_tests;
	     t++) {
		bool f = false;

		if (filter && !strstr((*t)->name, filter))
			continue;
		(*t)->fn(&f);
		printf("%s %s\n", f ? "not ok" : "ok", (*t)->name);
		if (f)
			failed++;
		else
			passed++;
	}
	printf("unit: %u passed, %u failed\n", passed, failed);
	return failed ? 1 : 0;
}
