/*
 * console.h - wisp's own stdin/stdout, which carry the guest's serial console.
 *
 * When stdin is a terminal it is put in raw mode (every key, Ctrl-C included, goes to the
 * guest) and restored at exit, also on SIGTERM/SIGINT and fatal errors.
 *
 * When stdout is a pipe or FIFO, wisp writes to its own non-blocking open of it (see
 * console.c): a reader that stops reading must not stall the event loop. The serial device keeps
 * a bounded buffer and drops (and counts) what does not fit while the output is full.
 */
#ifndef WISP_CONSOLE_H
#define WISP_CONSOLE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Sets up the console; input_fd < 0 for no guest input (e.g. --daemonize, API-only). */
void console_init(int input_fd, int output_fd);
/* Restores the terminal; idempotent, async-signal-safe. */
void console_restore(void);
int console_input_fd(void);
/* The output fd when it is non-blocking (the caller may wait for EPOLLOUT on it), else -1. */
int console_output_fd(void);
/* Writes as much of buf as the output takes without blocking (all of it on a blocking
 * output); retries EINTR. Returns the bytes written (< len: the output is full), or -1 when
 * the console is gone (closed pipe, I/O error): the rest is lost. */
ssize_t console_write(const void *buf, size_t len);
/* Waits at most timeout_ms for a non-blocking output to take more; true if it will. */
bool console_wait_writable(int timeout_ms);

#endif
