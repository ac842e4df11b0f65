/*
 * api_http.h - one HTTP/1.1 connection of the API: bytes in, requests out, responses queued.
 *
 * No sockets here: the server (api_server.c) reads bytes and feeds them in; tests and the
 * fuzz target feed bytes directly, even one at a time. Built on llhttp, paused after every
 * request so pipelined requests are answered one by one, in order, with bounded memory.
 *
 *   api_conn_init(&c);
 *   while (bytes left) {
 *       switch (api_conn_feed(&c, p, n, &used)) {        p += used, n -= used
 *       case API_CONN_REQUEST: api_conn_request(&c, &req); ...; api_conn_respond(&c, &resp);
 *       case API_CONN_MORE:    read more bytes
 *       case API_CONN_CLOSE:   an error answer is queued; stop reading, flush, close
 *       }
 *   }
 *   write api_conn_output() bytes, then api_conn_consume_output(); close once
 *   api_conn_should_close().
 *
 * Limits (Firecracker's where it has one): a body of at most API_HTTP_MAX_BODY bytes
 * (larger: 400 "Request payload with size N is larger than the limit of 51200 allowed by
 * server.", as Firecracker), a header section (request line + headers) of at most
 * API_HTTP_MAX_HEADER bytes and API_HTTP_MAX_HEADERS lines. Chunked bodies, upgrades and
 * malformed HTTP get 400 and the connection is closed after the answer.
 *
 * Thread-safety: a connection belongs to one thread.
 */
#ifndef WISP_API_HTTP_H
#define WISP_API_HTTP_H

#include <llhttp.h>
#include <stdbool.h>
#include <stddef.h>

#include "api-socket/api_routes.h"

#define API_HTTP_MAX_BODY    51200 /* Firecracker's MAX_PAYLOAD_SIZE */
#define API_HTTP_MAX_HEADER  8192
#define API_HTTP_MAX_HEADERS 64
#define API_HTTP_MAX_URL     1024

enum api_conn_event {
	API_CONN_MORE,    /* every byte consumed; feed more */
	API_CONN_REQUEST, /* a whole request is ready: api_conn_request() */
	API_CONN_CLOSE,   /* protocol error: its 400 is queued; read nothing more */
};

struct api_conn {
	llhttp_t parser;
	/* the request being received */
	char url[API_HTTP_MAX_URL + 1];
	size_t url_len;
	char *body; /* API_HTTP_MAX_BODY bytes, allocated on first use */
	size_t body_len;
	size_t header_bytes;
	unsigned header_count;
	bool header_is_expect; /* the header whose value is arriving is "Expect" */
	char expect[16];       /* its value, cut */
	size_t expect_len;
	char header_name[8]; /* the start of the header name being received */
	size_t header_name_len;
	bool request_ready;
	bool keep_alive;
	/* the protocol error, set by a callback */
	char error[160];
	/* bytes to send */
	char *out;
	size_t out_len, out_off, out_cap;
	bool closing; /* close once out is sent */
	bool failed;  /* out of memory: drop the connection */
};

void api_conn_init(struct api_conn *c);
void api_conn_free(struct api_conn *c);

/* Parses up to len bytes; *used says how many were consumed (all of them for
 * API_CONN_MORE). Do not feed again between API_CONN_REQUEST and api_conn_respond(), nor
 * after API_CONN_CLOSE. */
enum api_conn_event api_conn_feed(struct api_conn *c, const char *data, size_t len, size_t *used);
/* The ready request; its pointers stay valid until api_conn_respond(). */
void api_conn_request(const struct api_conn *c, struct api_request *req);
/* Queues the response to the ready request and readies the parser for the next one. A
 * request that asked to close (HTTP/1.0, "Connection: close") sets closing. */
void api_conn_respond(struct api_conn *c, const struct api_response *resp);

/* Queued bytes not yet sent. */
const char *api_conn_output(const struct api_conn *c, size_t *len);
void api_conn_consume_output(struct api_conn *c, size_t n);
/* True once the connection has nothing more to send and must be closed. */
bool api_conn_should_close(const struct api_conn *c);

/* Formats one response as HTTP/1.1 text into a malloc'd buffer (*len bytes). */
char *api_http_format(const struct api_response *resp, bool keep_alive, size_t *len);

#endif
