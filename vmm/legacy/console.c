/* console.c - see console.h. */
#include "vmm/legacy/console.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <termios.h>
#include <unistd.h>

static int input_fd = -1;
static int output_fd = 1;
static bool term_saved;
static struct termios saved_term;

void console_init(int in, int out)
{
	input_fd = in;
	output_fd = out;
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

void console_write(const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(output_fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return; /* console gone (closed pipe): output is dropped, the VM runs on */
		}
		p += n;
		len -= (size_t)n;
	}
}
