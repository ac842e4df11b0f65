/* console.c - see console.h. */
#include "vmm/legacy/console.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

static int input_fd = -1;
static int output_fd = 1;
static bool term_saved;
static struct termios saved_term;
static bool output_nonblocking; /* output_fd is our own non-blocking open of stdout */

/* Pipes and FIFOs have a reader that may stop reading: only there can a write block for good.
 * Setting O_NONBLOCK on stdout itself would change the file description we share with the
 * shell (and could not be undone at exit under seccomp), so the pipe is opened again through
 * /proc: a new description of the same pipe, non-blocking for wisp alone. Without /proc (a
 * jail) or for sockets, terminals and files the output stays blocking: a file or terminal
 * write does not wait for a reader (a terminal's flow control is the user's choice). */
static int console_output_nonblock(int fd)
{
	char path[64];
	struct stat st;
	int nfd;

	if (fstat(fd, &st) < 0 || !S_ISFIFO(st.st_mode))
		return fd;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	nfd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
	if (nfd < 0)
		return fd;
	output_nonblocking = true;
	return nfd;
}

void console_init(int in, int out)
{
	input_fd = in;
	output_fd = console_output_nonblock(out);
	if (in >= 0 && isatty(in) && tcgetattr(in, &saved_term) == 0) {
		struct termios raw = saved_term;

		cfmakeraw(&raw);
		/* Input fully raw (Ctrl-C goes to the guest), but keep \n -> \r\n on output: a
		 * guest that prints bare \n (the test guest, boot loaders) stays readable, and a
		 * Linux console's \r\n only gains a harmless \r. */
		raw.c_oflag |= OPOST | ONLCR;
		if (tcsetattr(in, TCSANOW, &raw) == 0) {
			term_saved = true;
			atexit(console_restore);
		}
	}
}

void console_restore(void)
{
	if (term_saved) {
		tcsetattr(input_fd, TCSANOW, &saved_term);
		term_saved = false;
	}
}

int console_input_fd(void)
{
	return input_fd;
}

int console_output_fd(void)
{
	return output_nonblocking ? output_fd : -1;
}

ssize_t console_write(const void *buf, size_t len)
{
	const char *p = buf;
	size_t done = 0;

	while (done < len) {
		ssize_t n = write(output_fd, p + done, len - done);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return (ssize_t)done; /* full: the caller waits for EPOLLOUT */
			return -1;                    /* console gone (EPIPE, EIO, ENOSPC) */
		}
		done += (size_t)n;
	}
	return (ssize_t)done;
}

bool console_wait_writable(int timeout_ms)
{
	struct pollfd pfd = {.fd = output_fd, .events = POLLOUT};

	if (!output_nonblocking)
		return true; /* blocking output: write() itself waits */
	return poll(&pfd, 1, timeout_ms) == 1 && (pfd.revents & POLLOUT);
}
