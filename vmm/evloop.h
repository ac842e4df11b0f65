/*
 * evloop.h - the event-loop thread (epoll).
 *
 * One loop per wisp process. It owns stdin, signals, virtio ioeventfds, tap fds, the io_uring
 * completion eventfd, rate-limiter timerfds and the API request queue. Handlers run on the loop
 * thread, one at a time, and must not block.
 *
 * Thread-safety: evloop_stop() and evloop_call_sync() may be called from any thread;
 * everything else only from the loop thread (or before evloop_run()).
 */
#ifndef WISP_EVLOOP_H
#define WISP_EVLOOP_H

#include <stdint.h>

struct evloop;

/* events is the epoll event mask that fired (EPOLLIN, EPOLLOUT, EPOLLHUP, ...). */
typedef void (*evloop_handler)(void *opaque, uint32_t events);

struct evloop *evloop_create(void);
void evloop_destroy(struct evloop *loop);

/* Watches fd for events (EPOLLIN etc.). One registration per fd. 0, or -errno. */
int evloop_add(struct evloop *loop, int fd, uint32_t events, evloop_handler fn, void *opaque);
int evloop_modify(struct evloop *loop, int fd, uint32_t events);
/* Stops watching fd; safe from inside any handler, including fd's own. */
int evloop_del(struct evloop *loop, int fd);

/* Runs until evloop_stop(); returns the code passed to it. */
int evloop_run(struct evloop *loop);
/* Asks the loop to return code from evloop_run(). Any thread; async-signal-safe. The first
 * call's code wins. */
void evloop_stop(struct evloop *loop, int code);
/* True once evloop_stop() was called. */
int evloop_stopping(const struct evloop *loop);

/* Runs fn(opaque) on the loop thread and returns after it has run: the typed request queue
 * of the API thread. Called on the loop thread itself, runs fn directly. Returns -1 without
 * running fn once the loop is stopping. */
int evloop_call_sync(struct evloop *loop, void (*fn)(void *opaque), void *opaque);

#endif
