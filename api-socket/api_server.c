/*
 * api_server.c - the API thread: Unix socket, epoll, connections (see api.h).
 *
 * Everything is non-blocking and level-triggered on one epoll owned by this thread: the
 * listening socket, an eventfd that api_server_stop() writes, and each client. A client's
 * bytes go through its struct api_conn; each complete request is parsed into a typed
 * action here (api_parse) and executed on the event-loop thread (api_execute through
 * evloop_call_sync), so this thread never reads or writes VM state. While a client does not
 * read its answers, its output is capped at API_OUT_HIGH and reading from it stops, so a
 * slow or stuck client costs bounded memory and never delays the others beyond the
 * event-loop call of a request already being handled.
 *
 * Connections are capped (API_MAX_CLIENTS) so that clients that open many and hold them
 * cannot lock the scheduler out: a new client beyond the cap, or one that accept() cannot
 * take because the process is out of file descriptors, closes the least recently active
 * connection (logged once). When accept() fails with nothing to close, the listening socket
 * is left alone for API_ACCEPT_PAUSE_MS instead of being polled in a busy loop.
 */
#include "api-socket/api.h"
#include "virtio/blk.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "api-socket/api_http.h"
#include "api-socket/api_routes.h"
#include "vmm/evloop.h"
#include "vmm/log.h"
#include "vmm/metrics.h"
#include "vmm/seccomp.h"
#include "vmm/vmm.h"

#define API_MAX_CLIENTS     256
#define API_READ_CHUNK      65536
#define API_OUT_HIGH        (1 << 20) /* stop reading a client whose unread answers exceed this */
#define API_ACCEPT_PAUSE_MS 100       /* accept() failing with nothing to free: retry after this */

/* The production table: the real VMM, metrics and log functions. */
static const struct api_vmm_ops api_vmm_ops_default = {
    .start = vmm_start,
    .pause = vmm_pause,
    .resume = vmm_resume,
    .send_ctrl_alt_del = vmm_send_ctrl_alt_del,
    .update_drive = vmm_update_drive,
    .update_net = vmm_update_net,
    .snapshot_create = vmm_snapshot_create,
    .snapshot_load = vmm_snapshot_load,
    .flush_metrics = metrics_flush,
    .set_metrics_path = metrics_set_path,
    .set_log_path = log_set_path,
    .set_log_level = log_set_level,
    .check_file = api_check_file,
    .check_drive = blk_check_drive,
};

struct api_client {
	int fd;
	uint32_t events; /* what epoll watches now */
	struct api_conn http;
	char in[API_READ_CHUNK]; /* received, not yet parsed */
	size_t in_len;
	bool eof;                       /* the peer shut down its side */
	uint64_t active;                /* api_server.tick at its last event: eviction order */
	struct api_client *prev, *next; /* every open client, for api_server_stop() */
};

struct api_server {
	struct vmm *vmm;
	const struct api_vmm_ops *ops;
	int listen_fd, epoll_fd, stop_fd;
	pthread_t thread;
	bool running;
	/* Copied from struct vmm at start: the API thread reads no struct vmm field itself. */
	struct evloop *loop;
	bool seccomp;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	unsigned nclients;
	struct api_client *clients;
	uint64_t tick;      /* counts client events */
	bool accept_paused; /* the listening socket is not watched (accept failing) */
	bool logged_full;   /* "connections open" logged */
	bool logged_nofile; /* "accept failed" logged */
	/* metrics, group "api_server" */
	atomic_ulong requests, client_errors, server_errors, connections;
	/* Values: from exec (log.c's clock zero) to the socket listening, wall and CPU time. */
	atomic_ulong startup_us, startup_cpu_us;
};

static struct api_server api_server = {.listen_fd = -1, .epoll_fd = -1, .stop_fd = -1};

/* ---- one request ---- */

struct api_call {
	struct vmm *vmm;
	const struct api_vmm_ops *ops;
	struct api_action *act;
	struct api_response *resp;
};

/* Runs on the event-loop thread. */
static void api_call_execute(void *opaque)
{
	struct api_call *call = opaque;

	api_execute(call->vmm, call->ops, call->act, call->resp);
}

static void count_status(struct api_server *s, int status)
{
	atomic_fetch_add(&s->requests, 1);
	if (status >= 500)
		atomic_fetch_add(&s->server_errors, 1);
	else if (status >= 400)
		atomic_fetch_add(&s->client_errors, 1);
}

static void serve_request(struct api_server *s, struct api_client *cl)
{
	struct api_request req;
	struct api_response resp;
	struct api_action act;
	struct api_call call = {s->vmm, s->ops, &act, &resp};

	api_conn_request(&cl->http, &req);
	if (api_parse(&req, &act, &resp) == API_PARSE_EXECUTE &&
	    evloop_call_sync(s->loop, api_call_execute, &call) < 0) {
		api_action_free(&act);
		api_response_error(&resp, 500, "The VMM is shutting down.");
	}
	log_debug("api: %s %s -> %d", req.method_name, req.path, resp.status);
	count_status(s, resp.status);
	api_conn_respond(&cl->http, &resp);
	api_response_free(&resp);
}

/* ---- one client ---- */

static void client_close(struct api_server *s, struct api_client *cl)
{
	epoll_ctl(s->epoll_fd, EPOLL_CTL_DEL, cl->fd, NULL);
	close(cl->fd);
	if (cl->prev)
		cl->prev->next = cl->next;
	else
		s->clients = cl->next;
	if (cl->next)
		cl->next->prev = cl->prev;
	api_conn_free(&cl->http);
	free(cl);
	s->nclients--;
}

/* Parses what was received, answering requests in order, until input runs out, the client
 * has too much unread output, or the connection must close. */
static void client_process(struct api_server *s, struct api_client *cl)
{
	size_t off = 0, used, pending;

	while (off < cl->in_len) {
		api_conn_output(&cl->http, &pending);
		if (pending > API_OUT_HIGH)
			break;
		switch (api_conn_feed(&cl->http, cl->in + off, cl->in_len - off, &used)) {
		case API_CONN_REQUEST:
			off += used;
			serve_request(s, cl);
			continue;
		case API_CONN_MORE:
			off += used;
			continue;
		case API_CONN_CLOSE:
			off = cl->in_len;
			break;
		}
	}
	memmove(cl->in, cl->in + off, cl->in_len - off);
	cl->in_len -= off;
}

/* Sends queued output; false when the client is gone. */
static bool client_flush(struct api_client *cl)
{
	size_t len;
	const char *out = api_conn_output(&cl->http, &len);

	while (len) {
		ssize_t n = send(cl->fd, out, len, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return true;
		if (n <= 0)
			return false;
		api_conn_consume_output(&cl->http, (size_t)n);
		out = api_conn_output(&cl->http, &len);
	}
	return true;
}

/* Reads what is available; false when the client is gone. */
static bool client_read(struct api_client *cl)
{
	while (cl->in_len < sizeof(cl->in)) {
		ssize_t n =
		    recv(cl->fd, cl->in + cl->in_len, sizeof(cl->in) - cl->in_len, MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return true;
		if (n < 0)
			return false;
		if (n == 0) {
			cl->eof = true;
			return true;
		}
		cl->in_len += (size_t)n;
	}
	return true;
}

/* Re-arms epoll for what the client needs next; false when it should be closed. */
static bool client_rearm(struct api_server *s, struct api_client *cl)
{
	size_t pending;
	uint32_t want = 0;
	struct epoll_event ev;

	api_conn_output(&cl->http, &pending);
	if (api_conn_should_close(&cl->http))
		return false;
	/* The peer left: nothing more will come, and a half-parsed request never completes. */
	if (cl->eof && (pending == 0 || cl->http.closing))
		return false;
	if (!cl->eof && !cl->http.closing && pending <= API_OUT_HIGH && cl->in_len < sizeof(cl->in))
		want |= EPOLLIN;
	if (pending)
		want |= EPOLLOUT;
	if (want == cl->events)
		return true;
	ev.events = want;
	ev.data.ptr = cl;
	if (epoll_ctl(s->epoll_fd, EPOLL_CTL_MOD, cl->fd, &ev) < 0)
		return false;
	cl->events = want;
	return true;
}

static void client_event(struct api_server *s, struct api_client *cl, uint32_t events)
{
	bool alive = true;

	cl->active = ++s->tick;
	if (events & EPOLLIN)
		alive = client_read(cl);
	if (alive)
		client_process(s, cl);
	if (alive)
		alive = client_flush(cl);
	/* Output drained: input left waiting because of the cap can go on. */
	if (alive && cl->in_len) {
		client_process(s, cl);
		alive = client_flush(cl);
	}
	if (alive && (events & (EPOLLERR | EPOLLHUP)) && !(events & EPOLLIN))
		alive = false;
	if (!alive || !client_rearm(s, cl))
		client_close(s, cl);
}

/* Closes the connection with the oldest last event (walks at most API_MAX_CLIENTS); false
 * when there is none. */
static bool evict_least_recent(struct api_server *s)
{
	struct api_client *old = s->clients;

	if (!old)
		return false;
	for (struct api_client *cl = old->next; cl; cl = cl->next)
		if (cl->active < old->active)
			old = cl;
	client_close(s, old);
	return true;
}

/* Watches the listening socket again, or stops for API_ACCEPT_PAUSE_MS. */
static void watch_listener(struct api_server *s, bool on)
{
	struct epoll_event ev = {.events = on ? EPOLLIN : 0, .data.ptr = &s->listen_fd};

	if (epoll_ctl(s->epoll_fd, EPOLL_CTL_MOD, s->listen_fd, &ev) == 0)
		s->accept_paused = !on;
}

/* accept() failed with err; pending: a client is known to wait (epoll reported the listener
 * readable and nothing was accepted since). A pending client we cannot take stays pending,
 * so with a level-triggered listener the next epoll_wait would return at once, forever: free
 * a descriptor (EMFILE, ENFILE) by closing the least recently active connection, or stop
 * watching the listener for a while. Linux fails accept() with EMFILE before it looks for a
 * client, so without pending the failure means nothing yet: the next epoll_wait tells.
 * True: try accept() again. */
static bool accept_failed(struct api_server *s, int err, bool pending)
{
	if (err == EAGAIN || err == EWOULDBLOCK)
		return false;
	if (err == EINTR || err == ECONNABORTED)
		return true;
	if (!pending)
		return false;
	if (!s->logged_nofile) {
		log_warn("api: cannot accept a client: %s; %s (logged once)", strerror(err),
		         s->clients ? "closing the least recently active connection"
		                    : "retrying every 100 ms");
		s->logged_nofile = true;
	}
	if ((err == EMFILE || err == ENFILE) && evict_least_recent(s))
		return true;
	watch_listener(s, false);
	return false;
}

static void accept_clients(struct api_server *s)
{
	for (bool pending = true;; pending = false) {
		int fd = accept4(s->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct api_client *cl;
		struct epoll_event ev = {.events = EPOLLIN};

		if (fd < 0) {
			if (accept_failed(s, errno, pending))
				continue;
			return;
		}
		atomic_fetch_add(&s->connections, 1);
		if (s->nclients >= API_MAX_CLIENTS) {
			if (!s->logged_full)
				log_warn("api: %d connections open, the most wisp keeps; each new "
				         "one closes the least recently active (logged once)",
				         API_MAX_CLIENTS);
			s->logged_full = true;
			evict_least_recent(s);
		}
		cl = malloc(sizeof(*cl));
		if (!cl) {
			static const char oom[] =
			    "HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\n"
			    "Content-Type: application/json\r\nContent-Length: 59\r\n\r\n"
			    "{\"fault_message\":\"Out of memory for a new API connection.\"}";

			if (send(fd, oom, sizeof(oom) - 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
				/* the refused client is gone anyway */
			}
			close(fd);
			continue;
		}
		cl->fd = fd;
		cl->events = EPOLLIN;
		cl->in_len = 0;
		cl->eof = false;
		cl->active = ++s->tick;
		api_conn_init(&cl->http);
		ev.data.ptr = cl;
		if (epoll_ctl(s->epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0) {
			api_conn_free(&cl->http);
			free(cl);
			close(fd);
			continue;
		}
		cl->prev = NULL;
		cl->next = s->clients;
		if (s->clients)
			s->clients->prev = cl;
		s->clients = cl;
		s->nclients++;
	}
}

/* ---- the thread ---- */

/*
 * glibc, the first time it shrinks a thread arena's heap, opens
 * /proc/sys/vm/overcommit_memory once (check_may_shrink_heap) and caches the answer for the
 * process. Under the api filter that openat would kill the process the first time a burst of
 * clients is freed, so shrink once here, before the filter: grow this thread's arena with
 * blocks below the mmap threshold, then free them so the top chunk passes the trim
 * threshold. Harmless where malloc is another allocator (ASan) or the main arena.
 */
static void prime_malloc_trim(void)
{
	enum { BLOCK = 96 << 10, NBLOCKS = 4 };
	void *blocks[NBLOCKS];

	for (int i = 0; i < NBLOCKS; i++) {
		blocks[i] = malloc(BLOCK);
		if (blocks[i])
			memset(blocks[i], 0, 1); /* keep the allocation from being optimized out */
	}
	for (int i = NBLOCKS - 1; i >= 0; i--)
		free(blocks[i]);
}

static void *api_thread(void *opaque)
{
	struct api_server *s = opaque;
	struct epoll_event events[64];
	sigset_t all;

	/* Signals belong to the event loop's signalfd / the main thread. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	/* The listening socket exists; from here on only client bytes arrive: filter first
	 * (vmm/seccomp.c, role "api"). Failing closed: no unfiltered API thread. */
	if (s->seccomp) {
		int rc;

		prime_malloc_trim();
		rc = seccomp_install(SECCOMP_ROLE_API);

		if (rc < 0) {
			log_error("seccomp: installing the api filter failed: %s", strerror(-rc));
			evloop_stop(s->loop, 1);
			return NULL;
		}
	}
	for (;;) {
		int n = epoll_wait(s->epoll_fd, events, 64,
		                   s->accept_paused ? API_ACCEPT_PAUSE_MS : -1);

		if (n < 0 && errno == EINTR)
			continue;
		if (s->accept_paused)
			watch_listener(s, true);
		if (n < 0) {
			log_error("api: epoll_wait: %s", strerror(errno));
			break;
		}
		for (int i = 0; i < n; i++) {
			void *ptr = events[i].data.ptr;

			if (ptr == &s->stop_fd)
				return NULL;
			if (ptr == &s->listen_fd)
				accept_clients(s);
			else
				client_event(s, ptr, events[i].events);
		}
	}
	return NULL;
}

/* Unlinks path if it is a socket nobody listens on; refuses anything else. */
static int clear_stale_socket(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	struct stat st;
	int fd, rc;

	if (lstat(path, &st) < 0 && errno == ENOENT)
		return 0;
	if (lstat(path, &st) < 0) {
		snprintf(err, errlen, "api socket %s: %s", path, strerror(errno));
		return -1;
	}
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err, errlen, "api socket %s: exists and is not a socket", path);
		return -1;
	}
	strcpy(addr.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "api socket %s: socket: %s", path, strerror(errno));
		return -1;
	}
	rc = connect(fd, (struct sockaddr *)&addr, sizeof(addr));
	close(fd);
	if (rc == 0 || errno != ECONNREFUSED) {
		snprintf(err, errlen, "api socket %s: %s", path,
		         rc == 0 ? "another process is listening on it" : strerror(errno));
		return -1;
	}
	if (unlink(path) < 0) {
		snprintf(err, errlen, "api socket %s: cannot remove stale socket: %s", path,
		         strerror(errno));
		return -1;
	}
	return 0;
}

/* Creates, binds (mode 0600) and listens. */
static int listen_socket(struct api_server *s, const char *path, char *err, size_t errlen)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	mode_t old_mask;
	int rc;

	if (strlen(path) >= sizeof(addr.sun_path)) {
		snprintf(err, errlen, "api socket %s: path longer than %zu bytes", path,
		         sizeof(addr.sun_path) - 1);
		return -1;
	}
	if (clear_stale_socket(path, err, errlen) < 0)
		return -1;
	strcpy(addr.sun_path, path);
	s->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->listen_fd < 0) {
		snprintf(err, errlen, "api socket %s: socket: %s", path, strerror(errno));
		return -1;
	}
	/* The socket file is created with 0777 & ~umask: no moment with wider access. This
	 * runs before other threads exist, so the process-wide umask change is not a race. */
	old_mask = umask(0177);
	rc = bind(s->listen_fd, (struct sockaddr *)&addr, sizeof(addr));
	umask(old_mask);
	if (rc < 0 || chmod(path, 0600) < 0 || listen(s->listen_fd, SOMAXCONN) < 0) {
		snprintf(err, errlen, "api socket %s: %s", path, strerror(errno));
		if (rc == 0)
			unlink(path);
		return -1;
	}
	strcpy(s->path, path);
	return 0;
}

static int watch(struct api_server *s, int fd, void *tag)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = tag};

	return epoll_ctl(s->epoll_fd, EPOLL_CTL_ADD, fd, &ev);
}

static void close_fds(struct api_server *s)
{
	if (s->listen_fd >= 0)
		close(s->listen_fd);
	if (s->epoll_fd >= 0)
		close(s->epoll_fd);
	if (s->stop_fd >= 0)
		close(s->stop_fd);
	s->listen_fd = s->epoll_fd = s->stop_fd = -1;
}

static void register_metrics(struct api_server *s)
{
	metrics_register("api_server", "requests", &s->requests);
	metrics_register("api_server", "client_errors", &s->client_errors);
	metrics_register("api_server", "server_errors", &s->server_errors);
	metrics_register("api_server", "connections", &s->connections);
	metrics_register_value("api_server", "process_startup_time_us", &s->startup_us);
	metrics_register_value("api_server", "process_startup_time_cpu_us", &s->startup_cpu_us);
	api_routes_metrics_register();
}

static void unregister_metrics(struct api_server *s)
{
	metrics_unregister(&s->requests);
	metrics_unregister(&s->client_errors);
	metrics_unregister(&s->server_errors);
	metrics_unregister(&s->connections);
	metrics_unregister(&s->startup_us);
	metrics_unregister(&s->startup_cpu_us);
	api_routes_metrics_unregister();
}

/* Firecracker's process_startup_time_us and _cpu_us: how long until the API could answer. */
static void record_startup_time(struct api_server *s)
{
	struct timespec cpu;

	atomic_store(&s->startup_us, (unsigned long)(log_clock_ns() / 1000));
	if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu) == 0)
		atomic_store(&s->startup_cpu_us,
		             (unsigned long)(cpu.tv_sec * 1000000LL + cpu.tv_nsec / 1000));
}

int api_server_start(struct vmm *vmm, const char *socket_path, char *err, size_t errlen)
{
	struct api_server *s = &api_server;
	int rc;

	if (s->running) {
		snprintf(err, errlen, "api socket %s: a server is already running", socket_path);
		return -1;
	}
	s->vmm = vmm;
	s->ops = &api_vmm_ops_default;
	s->seccomp = vmm->seccomp;
	s->loop = vmm->loop;
	s->nclients = 0;
	s->clients = NULL;
	if (listen_socket(s, socket_path, err, errlen) < 0)
		goto fail;
	s->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	s->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (s->epoll_fd < 0 || s->stop_fd < 0 || watch(s, s->listen_fd, &s->listen_fd) < 0 ||
	    watch(s, s->stop_fd, &s->stop_fd) < 0) {
		snprintf(err, errlen, "api socket %s: epoll: %s", socket_path, strerror(errno));
		goto fail_unlink;
	}
	rc = pthread_create(&s->thread, NULL, api_thread, s);
	if (rc) {
		snprintf(err, errlen, "api socket %s: thread: %s", socket_path, strerror(rc));
		goto fail_unlink;
	}
	pthread_setname_np(s->thread, "wisp-api");
	record_startup_time(s);
	register_metrics(s);
	s->running = true;
	return 0;
fail_unlink:
	unlink(socket_path);
fail:
	close_fds(s);
	return -1;
}

/* Closes every client; runs after the thread has exited, so nothing else touches them. */
static void close_clients(struct api_server *s)
{
	while (s->clients)
		client_close(s, s->clients);
}

void api_server_stop(void)
{
	struct api_server *s = &api_server;
	uint64_t one = 1;

	if (!s->running)
		return;
	if (write(s->stop_fd, &one, sizeof(one)) < 0)
		log_warn("api: cannot signal the API thread: %s", strerror(errno));
	pthread_join(s->thread, NULL);
	close_clients(s);
	unregister_metrics(s);
	unlink(s->path);
	close_fds(s);
	s->running = false;
}
