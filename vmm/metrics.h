/*
 * metrics.h - counters, written as one JSON line per flush (Firecracker's metrics file).
 *
 * A counter is a plain atomic in the object that counts (a device, the bus); the object
 * registers it once with a group and a name ("block_rootfs", "io_errors") and unregisters it
 * before freeing it. Increments are lock-free from any thread; registration and flushing happen
 * on the event-loop thread.
 *
 * As in Firecracker's metrics file, a counter is reported as its change since the previous
 * flush (the first flush: since it was registered); a value registered with
 * metrics_register_value() (a latency, a start-up time) is reported as it is.
 * Flushes happen every METRICS_FLUSH_PERIOD_MS while a path is set (metrics_attach()), on
 * FlushMetrics, and once at exit (metrics_detach()).
 */
#ifndef WISP_METRICS_H
#define WISP_METRICS_H

#include <stdatomic.h>
#include <stddef.h>

#define METRICS_FLUSH_PERIOD_MS 60000

struct evloop;

/* 0, or -1 when the registry is full (the counter still works, it is just not reported). */
int metrics_register(const char *group, const char *name, atomic_ulong *counter);
/* The same for a value reported as it is, not as a change. */
int metrics_register_value(const char *group, const char *name, atomic_ulong *value);
void metrics_unregister(atomic_ulong *counter);
/* A device's counters as a table: each field an atomic_ulong at offset in the device's struct,
 * registered under group (or unregistered) for the struct at base. */
struct metrics_field {
	const char *name;
	size_t offset;
};
void metrics_register_fields(const char *group, const struct metrics_field *fields, size_t n,
                             void *base);
void metrics_unregister_fields(const struct metrics_field *fields, size_t n, void *base);
/* Sets the file flushes append to (PUT /metrics). 0 or -errno. */
int metrics_set_path(const char *path);
/* Flushes every period_ms on loop (a timerfd) while a path is set: no path, no wake-ups.
 * Event-loop thread, before seccomp. 0 or -errno. */
int metrics_attach(struct evloop *loop, unsigned period_ms);
/* The last flush (when a path is set) and the timer's removal; the loop must still exist.
 * Idempotent: only the first call after metrics_attach() flushes. */
void metrics_detach(void);
/* Appends one JSON object {"utc_timestamp_ms":..., group: {name: value}} to the metrics file.
 * 0, or -1 when no path is set or the write failed. */
int metrics_flush(void);
/* The same line from a signal handler of a dying process: no locks, no malloc. */
void metrics_flush_from_signal(void);
/* What the next flush would write, without consuming the changes: a malloc'd JSON string. */
char *metrics_to_json(void);

#endif
