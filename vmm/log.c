/* log.c - see log.h. */
#include "vmm/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

static enum log_level current_level = LOG_WARN;
static int log_fd = 2;

static long long log_start_ns;
static __thread char last_error[512];

int log_ratelimit_ok(struct log_ratelimit *rl, unsigned interval_ms, unsigned long *suppressed)
{
	long long now = log_clock_ns();

	if (rl->next_ns && now < rl->next_ns) {
		rl->suppressed++;
		return 0;
	}
	rl->next_ns = now + (long long)interval_ms * 1000000;
	*suppressed = rl->suppressed;
	rl->suppressed = 0;
	return 1;
}

const char *log_last_error(void)
{
	return last_error;
}

/* Runs before main(): the zero of the debug clock is as close to exec as we can get. */
__attribute__((constructor)) static void log_clock_init(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	log_start_ns = ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

long long log_clock_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec - log_start_ns;
}

static const char *const level_names[] = {"error", "warning", "info", "debug"};

void log_set_level(enum log_level level)
{
	current_level = level;
}

int log_level_from_name(const char *name, enum log_level *level)
{
	static const struct {
		const char *name;
		enum log_level level;
	} names[] = {{"Error", LOG_ERROR}, {"Warning", LOG_WARN}, {"Info", LOG_INFO},
	             {"Debug", LOG_DEBUG}, {"Trace", LOG_DEBUG},  {"Off", LOG_OFF}};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!strcasecmp(name, names[i].name)) {
			*level = names[i].level;
			return 0;
		}
	}
	return -1;
}

int log_set_path(const char *path)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NONBLOCK, 0600);

	if (fd < 0)
		return -errno;
	if (log_fd > 2)
		close(log_fd);
	log_fd = fd;
	return 0;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	char buf[1024];
	int n;
	va_list ap;

	/* The last error is recorded whatever the level, even Off: callers hand it on. */
	if (level == LOG_ERROR) {
		va_start(ap, fmt);
		vsnprintf(last_error, sizeof(last_error), fmt, ap);
		va_end(ap);
	}
	if (level > current_level)
		return;
	if (current_level >= LOG_DEBUG) {
		/* Debug runs carry a clock: milliseconds of CPU-independent time since start,
		 * for start-up profiling (the boot timeline in docs/benchmarks.md). */
		struct timespec ts;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		n = snprintf(buf, sizeof(buf), "wisp: [%.3f ms] %s: ",
		             (double)(ts.tv_sec * 1000000000LL + ts.tv_nsec - log_start_ns) / 1e6,
		             level_names[level]);
	} else {
		n = snprintf(buf, sizeof(buf), "wisp: %s: ", level_names[level]);
	}
	va_start(ap, fmt);
	n += vsnprintf(buf + n, sizeof(buf) - (size_t)n, fmt, ap);
	va_end(ap);
	if (n >= (int)sizeof(buf) - 1)
		n = sizeof(buf) - 2;
	buf[n++] = '\n';
	/* One write() per message so lines from several threads do not interleave. */
	if (write(log_fd, buf, (size_t)n) < 0) {
		/* Nothing sensible to do when stderr is gone. */
	}
}

int error_set(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}
