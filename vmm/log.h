/*
 * log.h - messages on stderr (or the --log-path / PUT /logger file).
 *
 * stdout belongs to the guest's serial console: wisp itself never prints there.
 * log_error() is for the one clear message before exit code 1; it names the object
 * ("kernel vmlinux: not an ELF, bzImage or PVH image").
 */
#ifndef WISP_LOG_H
#define WISP_LOG_H

#include <stddef.h>

/* LOG_OFF prints nothing (Firecracker's level "Off"); the last error is still recorded. */
enum log_level { LOG_OFF = -1, LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG };

void log_set_level(enum log_level level);
/* Firecracker's level names, any case: Error, Warning, Info, Debug, Trace (= Debug), Off.
 * 0 with *level set, or -1 for an unknown name. */
int log_level_from_name(const char *name, enum log_level *level);
/* Redirects messages to path (appended). 0, or -errno. */
int log_set_path(const char *path);
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Formats a one-line error message into err (when err is not NULL and errlen > 0) and returns
 * -1, so that checks read `return error_set(err, errlen, "...", ...)`. The message is for the
 * caller to report (log, HTTP 400 fault_message); nothing is printed here. */
int error_set(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* The text of the last error this thread logged (without the "wisp: error: " prefix), "" if
 * none. Lets a caller hand a message that was already logged to an API client unchanged. */
const char *log_last_error(void);
/* Nanoseconds since the process started (the zero of the debug clock: a constructor that runs
 * before main). Any thread. */
long long log_clock_ns(void);

/* One message per interval for a fault that repeats (every request of a guest failing the
 * same way): the first occurrence is logged at once, later ones at most once per interval,
 * with the count of those held back. Zero-initialise; one owner thread per limiter. */
struct log_ratelimit {
	long long next_ns;        /* no message before this time */
	unsigned long suppressed; /* occurrences not logged since the last message */
};
/* True when this occurrence may be logged; then *suppressed = occurrences held back since the
 * last message (reset to 0). False: the occurrence is counted and nothing is to be logged. */
int log_ratelimit_ok(struct log_ratelimit *rl, unsigned interval_ms, unsigned long *suppressed);

#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

#endif
