/*
 * evloop.c - the epoll event loop (see evloop.h).
 *
 * Registrations are heap nodes referenced by epoll_event.data.ptr. evloop_del() from inside a
 * handler may remove a node whose event is still queued in the current epoll_wait batch, so
 * removal only marks the node dead and unlinks it from epoll; dead nodes are freed after the
 * batch.
 */
#include "vmm/evloop.h"
#include "vmm/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define EVLOOP_BATCH 32

struct evloop_node {
	int fd;
	bool dead;
	evloop_handler fn;
	void *opaque;
	struct evloop_node *next; /* all nodes, for lookup by fd and teardown */
};

struct evloop_call {
	void (*fn)(void *opaque);
	void *opaque;
	bool taken; /* removed from the queue by the loop: it will run, wait for done */
	bool done;
	struct evloop_call *next;
};

struct evloop {
	int epfd;
	int wake_fd;         /* eventfd: stop requests and queued calls */
	pthread_t thread;    /* written before running is published */
	atomic_bool running; /* read by evloop_call_sync() on other threads */
	atomic_int stopping;
	atomic_int exit_code;
	struct evloop_node *nodes;
	/* Queued calls from other threads, guarded by lock; done signalled on cond. */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct evloop_call *calls;
};

static void evloop_wake(struct evloop *loop)
{
	uint64_t one = 1;

	/* An eventfd write only fails when the counter would overflow: already awake. */
	if (write(loop->wake_fd, &one, sizeof(one)) < 0) {
	}
}

static void evloop_run_calls(struct evloop *loop)
{
	struct evloop_call *list;

	pthread_mutex_lock(&loop->lock);
	list = loop->calls;
	loop->calls = NULL;
	for (struct evloop_call *c = list; c; c = c->next)
		c->taken = true;
	pthread_mutex_unlock(&loop->lock);
	/* The queue was pushed at the head: run the oldest first. */
	struct evloop_call *rev = NULL;
	while (list) {
		struct evloop_call *next = list->next;
		list->next = rev;
		rev = list;
		list = next;
	}
	while (rev) {
		struct evloop_call *next = rev->next;

		rev->fn(rev->opaque);
		pthread_mutex_lock(&loop->lock);
		rev->done = true;
		pthread_cond_broadcast(&loop->cond);
		pthread_mutex_unlock(&loop->lock);
		rev = next;
	}
}

static void evloop_on_wake(void *opaque, uint32_t events)
{
	struct evloop *loop = opaque;
	uint64_t count;

	(void)events;
	if (read(loop->wake_fd, &count, sizeof(count)) < 0 && errno != EAGAIN)
		log_warn("event loop: wake eventfd: read failed");
	evloop_run_calls(loop);
}

struct evloop *evloop_create(void)
{
	struct evloop *loop = calloc(1, sizeof(*loop));

	if (!loop)
		return NULL;
	loop->epfd = epoll_create1(EPOLL_CLOEXEC);
	loop->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	atomic_init(&loop->exit_code, 0);
	pthread_mutex_init(&loop->lock, NULL);
	pthread_cond_init(&loop->cond, NULL);
	if (loop->epfd < 0 || loop->wake_fd < 0 ||
	    evloop_add(loop, loop->wake_fd, EPOLLIN, evloop_on_wake, loop) < 0) {
		evloop_destroy(loop);
		return NULL;
	}
	return loop;
}

void evloop_destroy(struct evloop *loop)
{
	struct evloop_node *n, *next;

	if (!loop)
		return;
	for (n = loop->nodes; n; n = next) {
		next = n->next;
		free(n);
	}
	if (loop->epfd >= 0)
		close(loop->epfd);
	if (loop->wake_fd >= 0)
		close(loop->wake_fd);
	pthread_mutex_destroy(&loop->lock);
	pthread_cond_destroy(&loop->cond);
	free(loop);
}

static struct evloop_node *evloop_find(struct evloop *loop, int fd)
{
	for (struct evloop_node *n = loop->nodes; n; n = n->next)
		if (n->fd == fd && !n->dead)
			return n;
	return NULL;
}

int evloop_add(struct evloop *loop, int fd, uint32_t events, evloop_handler fn, void *opaque)
{
	struct evloop_node *n = calloc(1, sizeof(*n));
	struct epoll_event ev = {.events = events, .data.ptr = n};

	if (!n)
		return -ENOMEM;
	*n = (struct evloop_node){.fd = fd, .fn = fn, .opaque = opaque, .next = loop->nodes};
	if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		int err = -errno;

		free(n);
		return err;
	}
	loop->nodes = n;
	return 0;
}

int evloop_modify(struct evloop *loop, int fd, uint32_t events)
{
	struct evloop_node *n = evloop_find(loop, fd);
	struct epoll_event ev = {.events = events, .data.ptr = n};

	if (!n)
		return -ENOENT;
	return epoll_ctl(loop->epfd, EPOLL_CTL_MOD, fd, &ev) < 0 ? -errno : 0;
}

int evloop_del(struct evloop *loop, int fd)
{
	struct evloop_node *n = evloop_find(loop, fd);

	if (!n)
		return -ENOENT;
	n->dead = true;
	epoll_ctl(loop->epfd, EPOLL_CTL_DEL, fd, NULL);
	return 0;
}

static void evloop_reap(struct evloop *loop)
{
	struct evloop_node **pp = &loop->nodes;

	while (*pp) {
		struct evloop_node *n = *pp;

		if (n->dead) {
			*pp = n->next;
			free(n);
		} else {
			pp = &n->next;
		}
	}
}

int evloop_run(struct evloop *loop)
{
	struct epoll_event events[EVLOOP_BATCH];

	loop->thread = pthread_self();
	atomic_store_explicit(&loop->running, true, memory_order_release);
	while (!atomic_load(&loop->stopping)) {
		int n = epoll_wait(loop->epfd, events, EVLOOP_BATCH, -1);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			log_error("event loop: epoll_wait: %m");
			evloop_stop(loop, 1);
			break;
		}
		for (int i = 0; i < n; i++) {
			struct evloop_node *node = events[i].data.ptr;

			if (!node->dead)
				node->fn(node->opaque, events[i].events);
		}
		evloop_reap(loop);
	}
	atomic_store_explicit(&loop->running, false, memory_order_release);
	/* Release callers still waiting on queued calls: they see -1. */
	pthread_mutex_lock(&loop->lock);
	pthread_cond_broadcast(&loop->cond);
	pthread_mutex_unlock(&loop->lock);
	return atomic_load(&loop->exit_code);
}

void evloop_stop(struct evloop *loop, int code)
{
	int expected = 0;

	if (atomic_compare_exchange_strong(&loop->stopping, &expected, 1))
		atomic_store(&loop->exit_code, code);
	evloop_wake(loop);
}

int evloop_stopping(const struct evloop *loop)
{
	return atomic_load(&((struct evloop *)loop)->stopping);
}

int evloop_call_sync(struct evloop *loop, void (*fn)(void *opaque), void *opaque)
{
	struct evloop_call call = {.fn = fn, .opaque = opaque};

	if (atomic_load_explicit(&loop->running, memory_order_acquire) &&
	    pthread_equal(loop->thread, pthread_self())) {
		fn(opaque);
		return 0;
	}
	pthread_mutex_lock(&loop->lock);
	if (atomic_load(&loop->stopping)) {
		pthread_mutex_unlock(&loop->lock);
		return -1;
	}
	call.next = loop->calls;
	loop->calls = &call;
	evloop_wake(loop);
	/* A call the loop has taken always runs to completion (it lives on our stack); one still
	 * queued when the loop stops is withdrawn. */
	while (!call.done && (call.taken || !atomic_load(&loop->stopping)))
		pthread_cond_wait(&loop->cond, &loop->lock);
	if (!call.done) {
		/* The loop stopped before running us: unlink our stack node. */
		struct evloop_call **pp = &loop->calls;

		while (*pp && *pp != &call)
			pp = &(*pp)->next;
		if (*pp)
			*pp = call.next;
	}
	pthread_mutex_unlock(&loop->lock);
	return call.done ? 0 : -1;
}
