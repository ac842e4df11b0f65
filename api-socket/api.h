/*
 * api.h - Firecracker's REST API on a Unix socket.
 *
 * The server runs in its own thread with its own epoll: it accepts clients, parses HTTP/1.1
 * (keep-alive, pipelining), validates JSON bodies into typed requests on that thread, and
 * hands each request to the event loop with evloop_call_sync(vmm->loop, ...), which is the
 * only place VM state is read or written. See api_routes.h for the endpoints and the
 * Firecracker-compatibility choices, api_http.h for the HTTP limits.
 */
#ifndef WISP_API_H
#define WISP_API_H

#include <stddef.h>

struct vmm;

/*
 * Creates the socket at socket_path (mode 0600) and starts the API thread.
 * A path that already exists is refused unless it is a stale socket (nobody accepts on it:
 * connect() fails with ECONNREFUSED), which is replaced. vmm (and vmm->loop) must outlive
 * api_server_stop(). Call it from the main thread before evloop_run(); requests are only
 * answered once the loop runs. 0, or -1 with a one-line reason naming the path in err.
 * One server per process.
 */
int api_server_start(struct vmm *vmm, const char *socket_path, char *err, size_t errlen);

/* Stops the API thread, closes every connection and removes the socket. Safe to call when
 * no server runs. Not from the API thread; do not call it from an event-loop handler while
 * the API thread may be waiting in evloop_call_sync() (stop the loop first). */
void api_server_stop(void);

#endif
