/* test_config_metrics.c - the metrics registry and its one-line JSON flush. */
#include "tests/unit/unit.h"

#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <unistd.h>

#include "vmm/metrics.h"

UNIT_TEST(config_metrics_register_flush_unregister)
{
	static atomic_ulong reads, errors;
	char path[] = "/tmp/wisp-metrics-XXXXXX";
	char buf[4096];
	json_t *line;
	json_error_t jerr;
	ssize_t n;
	int fd = mkstemp(path);
	char *text, longname[81];

	CHECK(fd >= 0);
	CHECK_EQ(metrics_register("test_block", "reads", &reads), 0);
	CHECK_EQ(metrics_register("test_block", "errors", &errors), 0);
	/* Groups hold "block_" + a 64-character id; longer names are refused. */
	memset(longname, 'g', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = 0;
	CHECK_EQ(metrics_register(longname, "n", &reads), -1);
	longname[70] = 0;
	CHECK_EQ(metrics_register(longname, "n", &reads), 0);
	metrics_unregister(&reads);
	CHECK_EQ(metrics_register("test_block", "reads", &reads), 0);
	atomic_store(&reads, 7);
	atomic_fetch_add(&errors, 2);
	CHECK_EQ(metrics_set_path(path), 0);
	CHECK_EQ(metrics_flush(), 0);
	atomic_fetch_add(&reads, 1);
	CHECK_EQ(metrics_flush(), 0);
	n = read(fd, buf, sizeof(buf) - 1);
	CHECK(n > 0);
	buf[n] = 0;
	CHECK(strchr(buf, '\n') != NULL);
	/* Two lines, one object each; the second sees the new value. */
	line = json_loads(strchr(buf, '\n') + 1, JSON_DISABLE_EOF_CHECK, &jerr);
	CHECK(line != NULL);
	CHECK(json_integer_value(json_object_get(line, "utc_timestamp_ms")) > 1600000000000LL);
	CHECK_EQ(json_integer_value(json_object_get(json_object_get(line, "test_block"), "reads")),
	         8);
	CHECK_EQ(json_integer_value(json_object_get(json_object_get(line, "test_block"), "errors")),
	         2);
	json_decref(line);
	metrics_unregister(&reads);
	metrics_unregister(&errors);
	text = metrics_to_json();
	CHECK(text && !strstr(text, "test_block"));
	free(text);
	close(fd);
	unlink(path);
	CHECK(metrics_set_path("/nonexistent-dir/m.json") < 0);
}
