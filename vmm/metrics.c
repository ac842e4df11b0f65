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
 * file, one object per line, so `tail -1 | jq` works). Each slot remembers the value it last
 * reported, so a counter shows its change since the previous flush; a consumer that sums the
 * lines gets the totals, and an idle period shows zeros, not repeats.
 *
 * The periodic flush is a timerfd on the event loop, armed only while a path is set, so a VM
 * without a metrics file never wakes up for it.
 */
#include "vmm/metrics.h"

#include "vmm/evloop.h"
#include "vmm/sigsafe.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define METRICS_MAX       256
#define METRICS_GROUP_MAX 80 /* "block_" + a 64-character drive id */
#define METRICS_NAME_MAX  48

struct metric {
	char group[METRICS_GROUP_MAX];
	char name[METRICS_NAME_MAX];
	atomic_ulong *counter;  /* NULL: free slot */
	unsigned long reported; /* the counter's value at the last flush */
	bool is_value;          /* reported as it is, not as a change */
};

static pthread_mutex_t metrics_lock = PTHREAD_MUTEX_INITIALIZER;
static struct metric metrics_table[METRICS_MAX];
static int metrics_fd = -1;
static int metrics_timer_fd = -1;
static struct evloop *metrics_loop;
static unsigned metrics_period_ms = METRICS_FLUSH_PERIOD_MS;

static int metrics_add(const char *group, const char *name, atomic_ulong *counter, bool is_value)
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
		metrics_table[i].reported = 0;
		metrics_table[i].is_value = is_value;
		rc = 0;
		break;
	}
	pthread_mutex_unlock(&metrics_lock);
	return rc;
}

int metrics_register(const char *group, const char *name, atomic_ulong *counter)
{
	return metrics_add(group, name, counter, false);
}

int metrics_register_value(const char *group, const char *name, atomic_ulong *value)
{
	return metrics_add(group, name, value, true);
}

void metrics_unregister(atomic_ulong *counter)
{
	pthread_mutex_lock(&metrics_lock);
	for (int i = 0; i < METRICS_MAX; i++)
		if (metrics_table[i].counter == counter)
			memset(&metrics_table[i], 0, sizeof(metrics_table[i]));
	pthread_mutex_unlock(&metrics_lock);
}

void metrics_register_fields(const char *group, const struct metrics_field *fields, size_t n,
                             void *base)
{
	for (size_t i = 0; i < n; i++)
		metrics_register(group, fields[i].name,
		                 (atomic_ulong *)((char *)base + fields[i].offset));
}

void metrics_unregister_fields(const struct metrics_field *fields, size_t n, void *base)
{
	for (size_t i = 0; i < n; i++)
		metrics_unregister((atomic_ulong *)((char *)base + fields[i].offset));
}

/* Starts the periodic flush; nothing before metrics_attach(). */
static void arm_timer(unsigned ms)
{
	struct itimerspec its = {
	    .it_interval = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000},
	    .it_value = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000},
	};

	if (metrics_timer_fd >= 0)
		timerfd_settime(metrics_timer_fd, 0, &its, NULL);
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
	arm_timer(metrics_period_ms);
	return 0;
}

static uint64_t utc_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* The line as one compact JSON text; consume: remember the values as reported. Called with
 * metrics_lock held. */
static char *render_locked(bool consume)
{
	json_t *root = json_object(), *group;
	char *text;

	if (!root)
		return NULL;
	json_object_set_new(root, "utc_timestamp_ms", json_integer((json_int_t)utc_ms()));
	for (int i = 0; i < METRICS_MAX; i++) {
		struct metric *m = &metrics_table[i];
		unsigned long now, shown;

		if (!m->counter)
			continue;
		group = json_object_get(root, m->group);
		if (!group) {
			group = json_object();
			json_object_set_new(root, m->group, group);
		}
		now = atomic_load(m->counter);
		shown = m->is_value ? now : now - m->reported; /* wraps like the counter */
		if (consume)
			m->reported = now;
		json_object_set_new(group, m->name, json_integer((json_int_t)shown));
	}
	text = json_dumps(root, JSON_COMPACT);
	json_decref(root);
	return text;
}

char *metrics_to_json(void)
{
	char *text;

	pthread_mutex_lock(&metrics_lock);
	text = render_locked(false);
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
	text = render_locked(true);
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

/* ---- the last line of a dying process (async-signal-safe) ---- */

/*
 * The same line as metrics_flush() renders, built without malloc or locks: the thread that
 * died may hold metrics_lock, and the process is about to end, so the table is read as it is
 * (a registration racing with this shows or misses one counter). Group and field names are
 * drive and interface ids, whose characters need no JSON escaping (config.c checks them).
 */
void metrics_flush_from_signal(void)
{
	static char buf[32768];
	size_t len = 0, cap = sizeof(buf) - 2;
	int fd = metrics_fd;

	if (fd < 0)
		return;
	len = sigsafe_append(buf, len, cap, "{\"utc_timestamp_ms\":");
	len = sigsafe_append_uint(buf, len, cap, utc_ms());
	for (int g = 0; g < METRICS_MAX; g++) {
		const struct metric *first = &metrics_table[g];
		bool seen = false, comma = false;

		if (!first->counter)
			continue;
		for (int e = 0; e < g && !seen; e++)
			seen = metrics_table[e].counter &&
			       !strcmp(metrics_table[e].group, first->group);
		if (seen)
			continue; /* the group was written with its first counter */
		len = sigsafe_append(buf, len, cap, ",\"");
		len = sigsafe_append(buf, len, cap, first->group);
		len = sigsafe_append(buf, len, cap, "\":{");
		for (int i = g; i < METRICS_MAX; i++) {
			const struct metric *m = &metrics_table[i];
			unsigned long now;

			if (!m->counter || strcmp(m->group, first->group))
				continue;
			now = atomic_load(m->counter);
			len = sigsafe_append(buf, len, cap, comma ? ",\"" : "\"");
			len = sigsafe_append(buf, len, cap, m->name);
			len = sigsafe_append(buf, len, cap, "\":");
			len = sigsafe_append_uint(buf, len, cap,
			                          m->is_value ? now : now - m->reported);
			comma = true;
		}
		len = sigsafe_append(buf, len, cap, "}");
	}
	buf[len++] = '}';
	buf[len++] = '\n';
	if (write(fd, buf, len) < 0) {
		/* nothing left to tell it to */
	}
}

static void on_metrics_timer(void *opaque, uint32_t events)
{
	uint64_t expirations;

	(void)opaque;
	(void)events;
	if (read(metrics_timer_fd, &expirations, sizeof(expirations)) < 0)
		return; /* EAGAIN: a spurious wake-up */
	metrics_flush();
}

int metrics_attach(struct evloop *loop, unsigned period_ms)
{
	int fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	bool have_path;

	if (fd < 0)
		return -errno;
	if (evloop_add(loop, fd, EPOLLIN, on_metrics_timer, NULL) < 0) {
		close(fd);
		return -EINVAL;
	}
	metrics_timer_fd = fd;
	metrics_loop = loop;
	metrics_period_ms = period_ms ? period_ms : METRICS_FLUSH_PERIOD_MS;
	pthread_mutex_lock(&metrics_lock);
	have_path = metrics_fd >= 0;
	pthread_mutex_unlock(&metrics_lock);
	if (have_path)
		arm_timer(metrics_period_ms);
	return 0;
}

void metrics_detach(void)
{
	if (metrics_timer_fd < 0)
		return;  /* never attached, or detached already: the last flush happened */
	metrics_flush(); /* -1 without a path: nothing to write */
	evloop_del(metrics_loop, metrics_timer_fd);
	close(metrics_timer_fd);
	metrics_timer_fd = -1;
	metrics_loop = NULL;
}
