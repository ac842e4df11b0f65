/*
 * test_evloop.c - the epoll event loop (vmm/evloop.c): registration, deletion from inside a
 * handler (its own fd and another fd of the same batch), stop codes, and evloop_call_sync from
 * other threads and from the loop thread.
 *
 * Nothing here can hang: every evloop_run() is guarded by a watchdog thread that stops the
 * loop with WATCHDOG_CODE after a few seconds, and every wait between threads has a deadline.
 */
#include "tests/unit/unit.h"
#include "vmm/evloop.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#define WATCHDOG_CODE    99
#define WATCHDOG_SECONDS 5

struct watchdog {
	struct evloop *loop;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool cancelled;
};

static struct timespec deadline_in(int seconds)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += seconds;
	return ts;
}

static void *watchdog_main(void *opaque)
{
	struct watchdog *w = opaque;
	struct timespec deadline = deadline_in(WATCHDOG_SECONDS);
	int rc = 0;

	pthread_mutex_lock(&w->lock);
	while (!w->cancelled && rc != ETIMEDOUT)
		rc = pthread_cond_timedwait(&w->cond, &w->lock, &deadline);
	if (!w->cancelled)
		evloop_stop(w->loop, WATCHDOG_CODE);
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

static void watchdog_start(struct watchdog *w, struct evloop *loop)
{
	w->loop = loop;
	w->cancelled = false;
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cond, NULL);
	pthread_create(&w->thread, NULL, watchdog_main, w);
}

static void watchdog_cancel(struct watchdog *w)
{
	pthread_mutex_lock(&w->lock);
	w->cancelled = true;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->cond);
}

/* Runs the loop on this thread under a watchdog; returns evloop_run()'s code. */
static int run_guarded(struct evloop *loop)
{
	struct watchdog w;
	int code;

	watchdog_start(&w, loop);
	code = evloop_run(loop);
	watchdog_cancel(&w);
	return code;
}

static void poke(int fd)
{
	uint64_t one = 1;

	if (write(fd, &one, sizeof(one)) != sizeof(one))
		abort();
}

static void drain(int fd)
{
	uint64_t v;

	if (read(fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		abort();
}

static int new_eventfd(void)
{
	int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

	if (fd < 0)
		abort();
	return fd;
}

/* Shared by the handlers of one test. */
struct ctx {
	struct evloop *loop;
	int fd_a, fd_b, fd_stop;
	unsigned runs_a, runs_b, runs_b2;
	uint32_t events_a;
	int del_rc, add_rc, mod_rc;
};

static void on_stop(void *opaque, uint32_t events)
{
	struct ctx *c = opaque;

	(void)events;
	drain(c->fd_stop);
	evloop_stop(c->loop, 7);
}

UNIT_TEST(evloop_handler_runs_and_stop_code_returned)
{
	struct ctx c = {0};
	int code;

	c.loop = evloop_create();
	CHECK(c.loop != NULL);
	c.fd_stop = new_eventfd();
	CHECK_EQ(evloop_add(c.loop, c.fd_stop, EPOLLIN, on_stop, &c), 0);
	CHECK_EQ(evloop_stopping(c.loop), 0);
	poke(c.fd_stop);
	code = run_guarded(c.loop);
	CHECK_EQ(evloop_stopping(c.loop), 1);
	evloop_destroy(c.loop);
	close(c.fd_stop);
	CHECK_EQ(code, 7);
}

UNIT_TEST(evloop_stop_first_call_wins)
{
	struct evloop *loop = evloop_create();
	int code;

	CHECK(loop != NULL);
	evloop_stop(loop, 3);
	evloop_stop(loop, 5);
	evloop_stop(loop, 0);
	code = run_guarded(loop); /* already stopping: returns at once */
	evloop_destroy(loop);
	CHECK_EQ(code, 3);
}

UNIT_TEST(evloop_stop_with_zero_code)
{
	struct evloop *loop = evloop_create();
	int code;

	CHECK(loop != NULL);
	evloop_stop(loop, 0);
	evloop_stop(loop, 4); /* zero was first: later codes do not replace it */
	code = run_guarded(loop);
	evloop_destroy(loop);
	CHECK_EQ(code, 0);
}

UNIT_TEST(evloop_add_modify_del_errors)
{
	struct evloop *loop = evloop_create();
	int fd = new_eventfd(), a, b, c, d, e, f;

	CHECK(loop != NULL);
	a = evloop_add(loop, fd, EPOLLIN, on_stop, NULL);
	b = evloop_add(loop, fd, EPOLLIN, on_stop, NULL); /* one registration per fd */
	c = evloop_add(loop, -1, EPOLLIN, on_stop, NULL);
	d = evloop_modify(loop, fd + 1000, EPOLLIN);
	e = evloop_del(loop, fd + 1000);
	f = evloop_del(loop, fd);
	/* After del the fd may be added again. */
	CHECK_EQ(evloop_del(loop, fd), -ENOENT);
	CHECK_EQ(evloop_modify(loop, fd, EPOLLIN), -ENOENT);
	CHECK_EQ(evloop_add(loop, fd, EPOLLIN, on_stop, NULL), 0);
	evloop_destroy(loop);
	close(fd);
	CHECK_EQ(a, 0);
	CHECK_EQ(b, -EEXIST);
	CHECK_EQ(c, -EBADF);
	CHECK_EQ(d, -ENOENT);
	CHECK_EQ(e, -ENOENT);
	CHECK_EQ(f, 0);
}

/* A: level-triggered and never drained; turns itself off with modify, then wakes B. */
static void on_a_modify(void *opaque, uint32_t events)
{
	struct ctx *c = opaque;

	c->runs_a++;
	c->events_a = events;
	c->mod_rc = evloop_modify(c->loop, c->fd_a, 0);
	poke(c->fd_stop);
}

UNIT_TEST(evloop_modify_disables_events)
{
	struct ctx c = {0};
	int code;

	c.loop = evloop_create();
	CHECK(c.loop != NULL);
	c.fd_a = new_eventfd();
	c.fd_stop = new_eventfd();
	CHECK_EQ(evloop_add(c.loop, c.fd_a, EPOLLIN, on_a_modify, &c), 0);
	CHECK_EQ(evloop_add(c.loop, c.fd_stop, EPOLLIN, on_stop, &c), 0);
	poke(c.fd_a);
	code = run_guarded(c.loop);
	evloop_destroy(c.loop);
	close(c.fd_a);
	close(c.fd_stop);
	CHECK_EQ(code, 7);
	CHECK_EQ(c.mod_rc, 0);
	/* Still readable, but disabled after the first call: exactly one run. */
	CHECK_EQ(c.runs_a, 1);
	CHECK_EQ(c.events_a & EPOLLIN, EPOLLIN);
}

static void on_a_enable_later(void *opaque, uint32_t events)
{
	struct ctx *c = opaque;

	(void)events;
	c->runs_a++;
	drain(c->fd_a);
	evloop_stop(c->loop, 8);
}

/* B: enables A (registered with no events) and its data, then stays quiet. */
static void on_b_enable_a(void *opaque, uint32_t events)
{
	struct ctx *c = opaque;

	(void)events;
	c->runs_b++;
	drain(c->fd_b);
	c->mod_rc = evloop_modify(c->loop, c->fd_a, EPOLLIN);
}

UNIT_TEST(evloop_modify_enables_events)
{
	struct ctx c = {0};
	int code;

	c.loop = evloop_create();
	CHECK(c.loop != NULL);
	c.fd_a = new_eventfd();
	c.fd_b = new_eventfd();
	CHECK_EQ(evloop_add(c.loop, c.fd_a, 0, on_a_enable_later, &c), 0);
	CHECK_EQ(evloop_add(c.loop, c.fd_b, EPOLLIN, on_b_enable_a, &c), 0);
	poke(c.fd_a);
	poke(c.fd_b);
	code = run_guarded(c.loop);
	evloop_destroy(c.loop);
	close(c.fd_a);
	close(c.fd_b);
	CHECK_EQ(code, 8);
	CHECK_EQ(c.mod_rc, 0);
	CHECK_EQ(c.runs_b, 1);
	CHECK_EQ(c.runs_a, 1);
}

/* A deletes itself (still readable, never drained), then wakes the stopper. */
static void on_a_del_self(void *opaque, uint32_t events)
{
	struct ctx *c = opaque;

	(void)events;
	c->runs_a++;
	c->del_rc = evloop_del(c->loop, c->fd_a);
	poke(c->fd_stop);
}

UNIT_TEST(evloop_del_own_fd_inside_handler)
{
	struct ctx c = {0};
	int code;

	c.loop = evloop_create();
	CHECK(c.loop != NULL);
	c.fd_a = new_eventfd();
	c.fd_stop = new_eventfd();
	CHECK_EQ(evloop_add(c.loop, c.fd_a, EPOLLIN, on_a_del_self, &c), 0);
	CHECK_EQ(evloop_add(c.loop, c.fd_stop, EPOLLIN, on_stop, &c), 0);
	poke(c.fd_a);
	code = run_guarded(c.loop);
	evloop_destroy(c.loop);
	close(c.fd_a);
	close(c.fd_stop);
	CHECK_EQ(code, 7);
	CHECK_EQ(c.del_rc, 0);
	CHECK_EQ(c.runs_a, 1);
}

/* A and B are both ready in the same batch; whichever runs first deletes both and closes the
 * other's fd. The other's queued event must not run its handler (nor touch freed memory). */
static void on_first_deletes_both(struct ctx *c, bool is_a)
{
	int other = is_a ? c->fd_b : c->fd_a, self = is_a ? c->fd_a : c->fd_b;

	if (is_a)
		c->runs_a++;
	else
		c->runs_b++;
	c->del_rc = evloop_del(c->loop, other);
	evloop_del(c->loop, self);
	poke(c->fd_stop);
}

static void on_a_batch(void *opaque, uint32_t events)
{
	(void)events;
	on_first_deletes_both(opaque, true);
}

static void on_b_batch(void *opaque, uint32_t events)
{
	(void)events;
	on_first_deletes_both(opaque, false);
}

UNIT_TEST(evloop_del_other_fd_in_same_batch)
{
	struct ctx c = {0};
	int code;

	c.loop = evloop_create();
	CHECK(c.loop != NULL);
	c.fd_a = new_eventfd();
	c.fd_b = new_eventfd();
	c.fd_stop = new_eventfd();
	CHECK_EQ(evloop_add(c.loop, c.fd_a, EPOLLIN, on_a_batch, &c), 0);
	CHECK_EQ(evloop_add(c.loop, c.fd_b, EPOLLIN, on_b_batch, &c), 0);
	CHECK_EQ(evloop_add(c.loop, c.fd_stop, EPOLLIN, on_stop, &c), 0);
	/* Both ready before the loop's first epoll_wait: one batch holds both. */
	poke(c.fd_a);
	poke(c.fd_b);
	code = run_guarded(c.loop);
	evloop_destroy(c.loop);
	close(c.fd_a);
	close(c.fd_b);
	close(c.fd_stop);
	CHECK_EQ(code, 7);
	CHECK_EQ(c.del_rc, 0);
	CHECK_EQ(c.runs_a + c.runs_b, 1);
}

static void on_b2(void *opaque, uint32_t events)
{
	struct ctx *c = opaque;

	(void)events;
	c->runs_b2++;
	drain(c->fd_b);
	evloop_stop(c->loop, 9);
}

/* A deletes B and re-registers the same fd number with another handler in the same batch. */
static void on_a_readd(void *opaque, uint32_t events)
{
	struct ctx *c = opaque;

	(void)events;
	c->runs_a++;
	drain(c->fd_a);
	c->del_rc = evloop_del(c->loop, c->fd_b);
	c->add_rc = evloop_add(c->loop, c->fd_b, EPOLLIN, on_b2, c);
}

static void on_b_counts(void *opaque, uint32_t events)
{
	struct ctx *c = opaque;

	(void)events;
	/* No drain: if B's event came first in the batch, B2 still finds the fd readable. */
	c->runs_b++;
}

UNIT_TEST(evloop_del_and_readd_same_fd_inside_handler)
{
	struct ctx c = {0};
	int code;

	c.loop = evloop_create();
	CHECK(c.loop != NULL);
	c.fd_a = new_eventfd();
	c.fd_b = new_eventfd();
	CHECK_EQ(evloop_add(c.loop, c.fd_a, EPOLLIN, on_a_readd, &c), 0);
	poke(c.fd_a);
	CHECK_EQ(evloop_add(c.loop, c.fd_b, EPOLLIN, on_b_counts, &c), 0);
	poke(c.fd_b);
	code = run_guarded(c.loop);
	evloop_destroy(c.loop);
	close(c.fd_a);
	close(c.fd_b);
	CHECK_EQ(code, 9);
	CHECK_EQ(c.del_rc, 0);
	CHECK_EQ(c.add_rc, 0);
	CHECK_EQ(c.runs_a, 1);
	/* B ran only if its event came before A's in the batch; after A, only B2 runs. */
	CHECK(c.runs_b <= 1);
	CHECK_EQ(c.runs_b2, 1);
}

/* ---- evloop_call_sync ---- */

struct call_state {
	struct evloop *loop;
	pthread_t loop_thread;
	atomic_int ran;
	atomic_int on_loop_thread;
	int rc;
	int direct_rc, direct_ran_before_return;
	int fd;
};

static void record_call(void *opaque)
{
	struct call_state *s = opaque;

	atomic_store(&s->on_loop_thread, pthread_equal(pthread_self(), s->loop_thread));
	atomic_fetch_add(&s->ran, 1);
}

static void *loop_thread_main(void *opaque)
{
	struct call_state *s = opaque;

	return (void *)(intptr_t)run_guarded(s->loop);
}

static void stop_from_call(void *opaque)
{
	struct call_state *s = opaque;

	evloop_stop(s->loop, 11);
}

UNIT_TEST(evloop_call_sync_runs_on_loop_thread)
{
	struct call_state s = {0};
	void *code;
	int rc1, rc2;

	s.loop = evloop_create();
	CHECK(s.loop != NULL);
	pthread_create(&s.loop_thread, NULL, loop_thread_main, &s);
	rc1 = evloop_call_sync(s.loop, record_call, &s);
	/* When it returned, fn had run: no waiting needed to see its effect. */
	int ran_after_first = atomic_load(&s.ran);
	rc2 = evloop_call_sync(s.loop, stop_from_call, &s);
	pthread_join(s.loop_thread, &code);
	evloop_destroy(s.loop);
	CHECK_EQ(rc1, 0);
	CHECK_EQ(ran_after_first, 1);
	CHECK_EQ(atomic_load(&s.on_loop_thread), 1);
	CHECK_EQ(rc2, 0);
	CHECK_EQ((intptr_t)code, 11);
}

struct many_calls {
	struct evloop *loop;
	atomic_int counter;
	int failures;
};

static void bump(void *opaque)
{
	struct many_calls *m = opaque;

	/* Not atomic on purpose: calls are serialised on the loop thread. */
	int v = atomic_load_explicit(&m->counter, memory_order_relaxed);

	atomic_store_explicit(&m->counter, v + 1, memory_order_relaxed);
}

static void *caller_main(void *opaque)
{
	struct many_calls *m = opaque;

	for (int i = 0; i < 200; i++)
		if (evloop_call_sync(m->loop, bump, m) != 0)
			m->failures++;
	return NULL;
}

static void *plain_loop_main(void *opaque)
{
	return (void *)(intptr_t)run_guarded(opaque);
}

UNIT_TEST(evloop_call_sync_from_many_threads)
{
	struct many_calls m[4] = {0};
	struct evloop *loop = evloop_create();
	pthread_t lt, callers[4];
	void *code;
	int total = 0, failures = 0;

	CHECK(loop != NULL);
	pthread_create(&lt, NULL, plain_loop_main, loop);
	for (int i = 0; i < 4; i++) {
		m[i].loop = loop;
		pthread_create(&callers[i], NULL, caller_main, &m[i]);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(callers[i], NULL);
		total += atomic_load(&m[i].counter);
		failures += m[i].failures;
	}
	evloop_stop(loop, 12);
	pthread_join(lt, &code);
	evloop_destroy(loop);
	CHECK_EQ(failures, 0);
	CHECK_EQ(total, 800);
	CHECK_EQ((intptr_t)code, 12);
}

/* Handler that calls evloop_call_sync on the loop thread itself. */
static void on_call_direct(void *opaque, uint32_t events)
{
	struct call_state *s = opaque;

	(void)events;
	drain(s->fd);
	s->loop_thread = pthread_self();
	s->direct_rc = evloop_call_sync(s->loop, record_call, s);
	s->direct_ran_before_return = atomic_load(&s->ran);
	evloop_stop(s->loop, 13);
}

UNIT_TEST(evloop_call_sync_on_loop_thread_runs_directly)
{
	struct call_state s = {0};
	int code;

	s.loop = evloop_create();
	CHECK(s.loop != NULL);
	s.fd = new_eventfd();
	CHECK_EQ(evloop_add(s.loop, s.fd, EPOLLIN, on_call_direct, &s), 0);
	poke(s.fd);
	code = run_guarded(s.loop); /* would deadlock (and hit the watchdog) if queued */
	evloop_destroy(s.loop);
	close(s.fd);
	CHECK_EQ(code, 13);
	CHECK_EQ(s.direct_rc, 0);
	CHECK_EQ(s.direct_ran_before_return, 1);
	CHECK_EQ(atomic_load(&s.on_loop_thread), 1);
}

UNIT_TEST(evloop_call_sync_after_stop_returns_minus_one)
{
	struct call_state s = {0};
	int rc;

	s.loop = evloop_create();
	CHECK(s.loop != NULL);
	evloop_stop(s.loop, 0);
	rc = evloop_call_sync(s.loop, record_call, &s);
	evloop_destroy(s.loop);
	CHECK_EQ(rc, -1);
	CHECK_EQ(atomic_load(&s.ran), 0);
}

/* A handler that blocks the loop until released, so a call can be queued behind it. */
struct blocked {
	struct evloop *loop;
	int fd;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool in_handler, release;
	atomic_int ran;
	int call_rc;
};

static void on_block(void *opaque, uint32_t events)
{
	struct blocked *b = opaque;
	struct timespec deadline = deadline_in(WATCHDOG_SECONDS);
	int rc = 0;

	(void)events;
	drain(b->fd);
	pthread_mutex_lock(&b->lock);
	b->in_handler = true;
	pthread_cond_broadcast(&b->cond);
	while (!b->release && rc != ETIMEDOUT)
		rc = pthread_cond_timedwait(&b->cond, &b->lock, &deadline);
	pthread_mutex_unlock(&b->lock);
}

static void blocked_call(void *opaque)
{
	struct blocked *b = opaque;

	atomic_fetch_add(&b->ran, 1);
}

static void *queued_caller_main(void *opaque)
{
	struct blocked *b = opaque;

	b->call_rc = evloop_call_sync(b->loop, blocked_call, b);
	return NULL;
}

static void *blocked_loop_main(void *opaque)
{
	struct blocked *b = opaque;

	return (void *)(intptr_t)run_guarded(b->loop);
}

UNIT_TEST(evloop_call_queued_when_loop_stops_is_withdrawn)
{
	struct blocked b = {0};
	pthread_t lt, caller;
	struct timespec deadline = deadline_in(WATCHDOG_SECONDS), pause = {0, 100 * 1000 * 1000};
	void *code;
	bool entered;
	int rc = 0;

	pthread_mutex_init(&b.lock, NULL);
	pthread_cond_init(&b.cond, NULL);
	b.loop = evloop_create();
	CHECK(b.loop != NULL);
	b.fd = new_eventfd();
	CHECK_EQ(evloop_add(b.loop, b.fd, EPOLLIN, on_block, &b), 0);
	poke(b.fd);
	pthread_create(&lt, NULL, blocked_loop_main, &b);
	/* Wait until the loop is stuck in on_block. */
	pthread_mutex_lock(&b.lock);
	while (!b.in_handler && rc != ETIMEDOUT)
		rc = pthread_cond_timedwait(&b.cond, &b.lock, &deadline);
	entered = b.in_handler;
	pthread_mutex_unlock(&b.lock);
	/* Queue a call behind the blocked handler; give it time to be queued. */
	pthread_create(&caller, NULL, queued_caller_main, &b);
	nanosleep(&pause, NULL);
	evloop_stop(b.loop, 14);
	pthread_mutex_lock(&b.lock);
	b.release = true;
	pthread_cond_broadcast(&b.cond);
	pthread_mutex_unlock(&b.lock);
	pthread_join(caller, NULL);
	pthread_join(lt, &code);
	evloop_destroy(b.loop);
	close(b.fd);
	pthread_mutex_destroy(&b.lock);
	pthread_cond_destroy(&b.cond);
	CHECK(entered);
	CHECK_EQ((intptr_t)code, 14);
	CHECK_EQ(b.call_rc, -1);
	CHECK_EQ(atomic_load(&b.ran), 0);
}
