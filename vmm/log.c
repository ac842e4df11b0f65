/* log.c - see log.h. */
#include "vmm/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static enum log_level current_level = LOG_WARN;
static int log_fd = 2;

static const char *const level_names[] = {"error", "warning", "info", "debug"};

void log_set_level(enum log_level level)
{
	current_level = level;
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

	if (level > current_level)
		return;
	n = snprintf(buf, sizeof(buf), "wisp: %s: ", level_names[level]);
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
