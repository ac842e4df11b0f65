/* test_config_metrics.c - the metrics registry and its one-line JSON flush. */
#include "tests/unit/unit.h"

#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "vmm/evloop.h"
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
	/* Two lines, one object each; the second holds the changes since the first. */
	line = json_loads(strchr(buf, '\n') + 1, JSON_DISABLE_EOF_CHECK, &jerr);
	CHECK(line != NULL);
	CHECK(json_integer_value(json_object_get(line, "utc_timestamp_ms")) > 1600000000000LL);
	CHECK_EQ(json_integer_value(json_object_get(json_object_get(line, "test_block"), "reads")),
	         1);
	CHECK_EQ(json_integer_value(json_object_get(json_object_get(line, "test_block"), "errors")),
	         0);
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

/* Reads the whole metrics file at path into buf; returns the number of lines. */
static int read_lines(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY), lines = 0;
	ssize_t n = fd >= 0 ? read(fd, buf, len - 1) : -1;

	if (fd >= 0)
		close(fd);
	buf[n > 0 ? n : 0] = 0;
	for (char *p = buf; (p = strchr(p, '\n')); p++)
		lines++;
	return lines;
}

UNIT_TEST(config_metrics_values_are_not_deltas)
{
	static atomic_ulong latency, count;
	char path[] = "/tmp/wisp-metrics-XXXXXX";
	char buf[8192], *last;
	int fd = mkstemp(path);
	json_t *line;

	CHECK(fd >= 0);
	close(fd);
	CHECK_EQ(metrics_register_value("test_latencies", "pause_us", &latency), 0);
	CHECK_EQ(metrics_register("test_latencies", "count", &count), 0);
	atomic_store(&latency, 250);
	atomic_store(&count, 3);
	CHECK_EQ(metrics_set_path(path), 0);
	CHECK_EQ(metrics_flush(), 0);
	CHECK_EQ(metrics_flush(), 0);
	CHECK_EQ(read_lines(path, buf, sizeof(buf)), 2);
	last = strchr(buf, '\n') + 1;
	line = json_loads(last, JSON_DISABLE_EOF_CHECK, NULL);
	CHECK(line != NULL);
	/* The value repeats; the counter, unchanged, shows 0. */
	CHECK_EQ(json_integer_value(
	             json_object_get(json_object_get(line, "test_latencies"), "pause_us")),
	         250);
	CHECK_EQ(
	    json_integer_value(json_object_get(json_object_get(line, "test_latencies"), "count")),
	    0);
	json_decref(line);
	metrics_unregister(&latency);
	metrics_unregister(&count);
	unlink(path);
}

struct metrics_stopper {
	struct evloop *loop;
	int fd;
};

static void metrics_stop_loop(void *opaque, uint32_t events)
{
	struct metrics_stopper *s = opaque;

	(void)events;
	evloop_stop(s->loop, 0);
}

UNIT_TEST(config_metrics_periodic_flush_and_last_flush_at_detach)
{
	static atomic_ulong ticks;
	char path[] = "/tmp/wisp-metrics-XXXXXX";
	char buf[16384];
	struct itimerspec stop_at = {.it_value = {.tv_nsec = 190 * 1000000}};
	struct metrics_stopper s;
	int fd = mkstemp(path), lines;

	CHECK(fd >= 0);
	close(fd);
	s.loop = evloop_create();
	CHECK(s.loop != NULL);
	s.fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	CHECK(s.fd >= 0);
	CHECK_EQ(evloop_add(s.loop, s.fd, EPOLLIN, metrics_stop_loop, &s), 0);
	CHECK_EQ(metrics_register("test_timer", "ticks", &ticks), 0);
	CHECK_EQ(metrics_attach(s.loop, 40), 0);
	CHECK_EQ(metrics_set_path(path), 0); /* arms the 40 ms period */
	CHECK_EQ(timerfd_settime(s.fd, 0, &stop_at, NULL), 0);
	atomic_store(&ticks, 5);
	CHECK_EQ(evloop_run(s.loop), 0);
	/* 190 ms at a 40 ms period: 4 flushes, give or take a scheduling delay. */
	lines = read_lines(path, buf, sizeof(buf));
	CHECK(lines >= 2 && lines <= 5);
	CHECK(strstr(buf, "\"ticks\":5") != NULL); /* the first flush carries the change */
	metrics_detach();
	CHECK_EQ(read_lines(path, buf, sizeof(buf)), lines + 1);
	metrics_detach(); /* idempotent: no second last line */
	CHECK_EQ(read_lines(path, buf, sizeof(buf)), lines + 1);
	metrics_unregister(&ticks);
	close(s.fd);
	evloop_destroy(s.loop);
	unlink(path);
}
