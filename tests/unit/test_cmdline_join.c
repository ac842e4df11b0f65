/* test_cmdline_join.c - wisp's device parameters go before the "--" that starts init's
 * arguments (loader_cmdline_join(), vmm/boot/loader.h). */
#include "tests/unit/unit.h"
#include "vmm/boot/loader.h"

#include <stdlib.h>

static void check_join(bool *unit_failed, const char *args, const char *extra, const char *want)
{
	char *got = loader_cmdline_join(args, extra);

	CHECK_STR_EQ(got, want);
	free(got);
}

UNIT_TEST(cmdline_join_appends_without_init_args)
{
	check_join(unit_failed, "console=ttyS0", " root=/dev/vda rw",
	           "console=ttyS0 root=/dev/vda rw");
	check_join(unit_failed, "console=ttyS0", "", "console=ttyS0");
	check_join(unit_failed, "", " root=/dev/vda", " root=/dev/vda");
}

UNIT_TEST(cmdline_join_puts_device_parameters_before_init_args)
{
	check_join(unit_failed, "console=ttyS0 -- /bin/app --flag", " root=/dev/vda rw",
	           "console=ttyS0 root=/dev/vda rw -- /bin/app --flag");
	check_join(unit_failed, "console=ttyS0   --", " root=/dev/vda",
	           "console=ttyS0 root=/dev/vda --");
	check_join(unit_failed, "-- sh", " root=/dev/vda", " root=/dev/vda -- sh");
}

UNIT_TEST(cmdline_join_ignores_dashes_inside_words)
{
	check_join(unit_failed, "a=--b c--", " x", "a=--b c-- x");
	check_join(unit_failed, "a --x -- y", " x", "a --x x -- y");
}
