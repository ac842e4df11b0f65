/*
 * metrics.h - counters, written as one JSON line per flush (Firecracker's metrics file).
 *
 * A counter is a plain atomic in the object that counts (a device, the bus); the object
 * registers it once with a group and a name ("block_rootfs", "io_errors") and unregisters it
 * before freeing it. Increments are lock-free from any thread; registration and flushing happen
 * on the event-loop thread.
 */
#ifndef WISP_METRICS_H
#define WISP_METRICS_H

#include <stdatomic.h>

/* 0, or -1 when the registry is full (the counter still works, it is just not reported). */
int metrics_register(const char *group, const char *name, atomic_ulong *counter);
void metrics_unregister(atomic_ulong *counter);
/* Sets the file flushes append to (PUT /metrics). 0 or -errno. */
int metrics_set_path(const char *path);
/* Appends one JSON object {"utc_timestamp_ms":..., group: {name: value}} to the metrics file.
 * 0, or -1 when no path is set or the write failed. */
int metrics_flush(void);
/* The current values as a malloc'd JSON string (tests, GET). */
char *metrics_to_json(void);

#endif
