/* test_log.c - level names and the last-error record that vmm_start hands to API clients. */
#include "tests/unit/unit.h"
#include "vmm/log.h"

UNIT_TEST(log_level_names_follow_firecracker)
{
	enum log_level l = LOG_INFO;

	CHECK_EQ(log_level_from_name("Error", &l), 0);
	CHECK_EQ(l, LOG_ERROR);
	CHECK_EQ(log_level_from_name("warning", &l), 0);
	CHECK_EQ(l, LOG_WARN);
	CHECK_EQ(log_level_from_name("TRACE", &l), 0);
	CHECK_EQ(l, LOG_DEBUG); /* nothing finer than Debug */
	CHECK_EQ(log_level_from_name("Off", &l), 0);
	CHECK_EQ((int)l, (int)LOG_OFF);
	CHECK_EQ(log_level_from_name("Verbose", &l), -1);
}

UNIT_TEST(log_off_still_records_the_last_error)
{
	log_set_level(LOG_OFF);
	log_error("drive %s: gone", "rootfs");
	log_set_level(LOG_WARN);
	CHECK_STR_EQ(log_last_error(), "drive rootfs: gone");
	CHECK_EQ(error_set(NULL, 0, "ignored"), -1);
}
