/*
 * console.h - wisp's own stdin/stdout, which carry the guest's serial console.
 *
 * When stdin is a terminal it is put in raw mode (every key, Ctrl-C included, goes to the
 * guest) and restored at exit, also on SIGTERM/SIGINT and fatal errors.
 */
#ifndef WISP_CONSOLE_H
#define WISP_CONSOLE_H

#include <stddef.h>

/* Sets up the console; input_fd < 0 for no guest input (e.g. --daemonize, API-only). */
void console_init(int input_fd, int output_fd);
/* Restores the terminal; idempotent, async-signal-safe. */
void console_restore(void);
int console_input_fd(void);
/* Writes all of buf to the console output (blocking; retries short writes and EINTR). */
void console_write(const void *buf, size_t len);

#endif
