/*
 * metrics.c - see metrics.h.
 *
 * The registry is a fixed table of (group, name, counter pointer) guarded by one mutex: the
 * header promises registration and flushing on the event-loop thread, but the mutex makes
 * metrics_to_json() safe from any thread (tests, a future GET) at the cost of an uncontended
 * lock. Counters themselves are only ever read with atomic_load, never locked.
 *
 * A flush writes one line, the JSON object {"utc_timestamp_ms": T, group: {name: value}},
 * with groups in the order their first counter was registered (as Firecracker's metrics
 * file, one object per line, so `tail -1 | jq` works).
 */
#include "vmm/metrics.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define METRICS_MAX       256
#define METRICS_GROUP_MAX 80 /* "block_" + a 64-character drive id */
#define METRICS_NAME_MAX  48

struct metric {
	char group[METRICS_GROUP_MAX];
	char name[METRICS_NAME_MAX];
	atomic_ulong *counter; /* NULL: free slot */
};

static pthread_mutex_t metrics_lock = PTHREAD_MUTEX_INITIALIZER;
static struct metric metrics_table[METRICS_MAX];
static int metrics_fd = -1;

int metrics_register(const char *group, const char *name, atomic_ulong *counter)
{
	int rc = -1;

	if (strlen(group) >= METRICS_GROUP_MAX || strlen(name) >= METRICS_NAME_MAX)
		return -1;
	pthread_mutex_lock(&metrics_lock);
	for (int i = 0; i < METRICS_MAX; i++) {
		if (metrics_table[i].counter)
			continue;
		strcpy(metrics_table[i].group, group);
		strcpy(metrics_table[i].name, name);
		metrics_table[i].counter = counter;
		rc = 0;
		break;
	}
	pthread_mutex_unlock(&metrics_lock);
	return rc;
}

void metrics_unregister(atomic_ulong *counter)
{
	pthread_mutex_lock(&metrics_lock);
	for (int i = 0; i < METRICS_MAX; i++)
		if (metrics_table[i].counter == counter)
			memset(&metrics_table[i], 0, sizeof(metrics_table[i]));
	pthread_mutex_unlock(&metrics_lock);
}

int metrics_set_path(const char *path)
{
	/* O_NONBLOCK: a named pipe without a reader must not stall the event loop; the open
	 * then fails with ENXIO, as a FIFO the caller forgot to open for reading should. */
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NONBLOCK, 0600);

	if (fd < 0)
		return -errno;
	pthread_mutex_lock(&metrics_lock);
	if (metrics_fd >= 0)
		close(metrics_fd);
	metrics_fd = fd;
	pthread_mutex_unlock(&metrics_lock);
	return 0;
}

static uint64_t utc_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* The current values as one compact JSON text. Called with metrics_lock held. */
static char *render_locked(void)
{
	json_t *root = json_object(), *group;
	char *text;

	if (!root)
		return NULL;
	json_object_set_new(root, "utc_timestamp_ms", json_integer((json_int_t)utc_ms()));
	for (int i = 0; i < METRICS_MAX; i++) {
		const struct metric *m = &metrics_table[i];

		if (!m->counter)
			continue;
		group = json_object_get(root, m->group);
		if (!group) {
			group = json_object();
			json_object_set_new(root, m->group, group);
		}
		json_object_set_new(group, m->name,
		                    json_integer((json_int_t)atomic_load(m->counter)));
	}
	text = json_dumps(root, JSON_COMPACT);
	json_decref(root);
	return text;
}

char *metrics_to_json(void)
{
	char *text;

	pthread_mutex_lock(&metrics_lock);
	text = render_locked();
	pthread_mutex_unlock(&metrics_lock);
	return text;
}

int metrics_flush(void)
{
	char *text;
	size_t len;
	ssize_t n = -1;

	pthread_mutex_lock(&metrics_lock);
	if (metrics_fd < 0) {
		pthread_mutex_unlock(&metrics_lock);
		return -1;
	}
	text = render_locked();
	if (text) {
		len = strlen(text);
		text[len] = '\n'; /* replaces the NUL: write() takes a length */
		n = write(metrics_fd, text, len + 1);
		n = (size_t)n == len + 1 ? 0 : -1;
	}
	pthread_mutex_unlock(&metrics_lock);
	free(text);
	return (int)n;
}
