/*
 * api_http.c - see api_http.h.
 *
 * llhttp calls the callbacks below while it parses. Each counts what it sees against the
 * limits and keeps only what the API needs: the request target, the body, and whether an
 * "Expect: 100-continue" arrived. on_message_complete pauses the parser, so
 * llhttp_execute() returns after exactly one request with the position of its last byte;
 * api_conn_respond() resumes it for the next one.
 */
#include "api-socket/api_http.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Bytes a header line costs beyond its name and value (": " and CRLF). */
#define HEADER_LINE_OVERHEAD 4

static struct api_conn *conn_of(llhttp_t *p)
{
	return p->data;
}

/* Records a protocol error: the message is the fault_message of the 400. */
static int protocol_error(llhttp_t *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int protocol_error(llhttp_t *p, const char *fmt, ...)
{
	struct api_conn *c = conn_of(p);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->error, sizeof(c->error), fmt, ap);
	va_end(ap);
	llhttp_set_error_reason(p, "wisp limit");
	return HPE_USER;
}

static int count_header_bytes(llhttp_t *p, size_t len)
{
	struct api_conn *c = conn_of(p);

	c->header_bytes += len;
	if (c->header_bytes > API_HTTP_MAX_HEADER)
		return protocol_error(p, "Request header section is larger than %d bytes.",
		                      API_HTTP_MAX_HEADER);
	return 0;
}

static int on_message_begin(llhttp_t *p)
{
	struct api_conn *c = conn_of(p);

	c->url_len = 0;
	c->body_len = 0;
	c->header_bytes = 0;
	c->header_count = 0;
	c->header_name_len = 0;
	c->header_is_expect = false;
	c->expect_len = 0;
	return 0;
}

static int on_method(llhttp_t *p, const char *at, size_t len)
{
	(void)at;
	return count_header_bytes(p, len);
}

static int on_url(llhttp_t *p, const char *at, size_t len)
{
	struct api_conn *c = conn_of(p);

	if (c->url_len + len > API_HTTP_MAX_URL)
		return protocol_error(p, "Request target is longer than %d bytes.",
		                      API_HTTP_MAX_URL);
	memcpy(c->url + c->url_len, at, len);
	c->url_len += len;
	return count_header_bytes(p, len);
}

static int on_header_field(llhttp_t *p, const char *at, size_t len)
{
	struct api_conn *c = conn_of(p);

	if (c->header_name_len == 0) { /* a new header line starts */
		if (++c->header_count > API_HTTP_MAX_HEADERS)
			return protocol_error(p, "Request has more than %d header lines.",
			                      API_HTTP_MAX_HEADERS);
		c->header_is_expect = false;
		if (count_header_bytes(p, HEADER_LINE_OVERHEAD))
			return HPE_USER;
	}
	/* Only the first bytes are kept: enough to recognize "Expect". */
	for (size_t i = 0; i < len; i++, c->header_name_len++)
		if (c->header_name_len < sizeof(c->header_name))
			c->header_name[c->header_name_len] = at[i];
	return count_header_bytes(p, len);
}

static int on_header_field_complete(llhttp_t *p)
{
	struct api_conn *c = conn_of(p);

	c->header_is_expect = c->header_name_len == 6 && !strncasecmp(c->header_name, "expect", 6);
	return 0;
}

static int on_header_value(llhttp_t *p, const char *at, size_t len)
{
	struct api_conn *c = conn_of(p);

	for (size_t i = 0; c->header_is_expect && i < len; i++, c->expect_len++)
		if (c->expect_len < sizeof(c->expect) - 1)
			c->expect[c->expect_len] = at[i];
	return count_header_bytes(p, len);
}

static int on_header_value_complete(llhttp_t *p)
{
	conn_of(p)->header_name_len = 0;
	return 0;
}

/* Appends n bytes to the output queue. */
static void queue_output(struct api_conn *c, const char *data, size_t n)
{
	if (c->failed)
		return;
	if (c->out_len + n > c->out_cap) {
		size_t cap = c->out_cap ? c->out_cap : 1024;
		char *out;

		while (cap < c->out_len + n)
			cap *= 2;
		out = realloc(c->out, cap);
		if (!out) {
			c->failed = true;
			return;
		}
		c->out = out;
		c->out_cap = cap;
	}
	memcpy(c->out + c->out_len, data, n);
	c->out_len += n;
}

static bool expects_continue(const struct api_conn *c)
{
	return c->expect_len == 12 && !strncasecmp(c->expect, "100-continue", 12);
}

static int on_headers_complete(llhttp_t *p)
{
	struct api_conn *c = conn_of(p);
	static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";

	if (p->flags & F_CHUNKED)
		return protocol_error(p, "Chunked transfer encoding is not supported; send "
		                         "Content-Length.");
	if (llhttp_get_upgrade(p))
		return protocol_error(p, "Protocol upgrades are not supported.");
	if (p->content_length > API_HTTP_MAX_BODY)
		return protocol_error(p,
		                      "Request payload with size %llu is larger than the limit of "
		                      "%d allowed by server.",
		                      (unsigned long long)p->content_length, API_HTTP_MAX_BODY);
	if (p->content_length > 0 && !c->body) {
		c->body = malloc(API_HTTP_MAX_BODY);
		if (!c->body)
			return protocol_error(p, "Out of memory.");
	}
	if (p->content_length > 0 && expects_continue(c))
		queue_output(c, cont, sizeof(cont) - 1);
	return 0;
}

static int on_body(llhttp_t *p, const char *at, size_t len)
{
	struct api_conn *c = conn_of(p);

	/* Content-Length was checked, but stay safe whatever llhttp decides is a body. */
	if (!c->body || c->body_len + len > API_HTTP_MAX_BODY)
		return protocol_error(p, "Request body is larger than %d bytes.",
		                      API_HTTP_MAX_BODY);
	memcpy(c->body + c->body_len, at, len);
	c->body_len += len;
	return 0;
}

static int on_message_complete(llhttp_t *p)
{
	struct api_conn *c = conn_of(p);

	c->url[c->url_len] = '\0';
	c->keep_alive = llhttp_should_keep_alive(p);
	c->request_ready = true;
	return HPE_PAUSED; /* one request at a time: the caller answers, then resumes */
}

static const llhttp_settings_t api_http_settings = {
    .on_message_begin = on_message_begin,
    .on_method = on_method,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_field_complete = on_header_field_complete,
    .on_header_value = on_header_value,
    .on_header_value_complete = on_header_value_complete,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

void api_conn_init(struct api_conn *c)
{
	memset(c, 0, sizeof(*c));
	llhttp_init(&c->parser, HTTP_REQUEST, &api_http_settings);
	c->parser.data = c;
}

void api_conn_free(struct api_conn *c)
{
	free(c->body);
	free(c->out);
	memset(c, 0, sizeof(*c));
}

/* Queues a 400 for a protocol error and marks the connection for closing. */
static void fail_connection(struct api_conn *c, llhttp_errno_t err)
{
	struct api_response resp = {0};
	char *text;
	size_t len;

	if (c->error[0])
		api_response_error(&resp, 400, "%s", c->error);
	else
		api_response_error(&resp, 400, "Malformed HTTP request: %s (%s).",
		                   llhttp_get_error_reason(&c->parser), llhttp_errno_name(err));
	text = api_http_format(&resp, false, &len);
	if (text)
		queue_output(c, text, len);
	else
		c->failed = true;
	free(text);
	api_response_free(&resp);
	c->closing = true;
}

enum api_conn_event api_conn_feed(struct api_conn *c, const char *data, size_t len, size_t *used)
{
	llhttp_errno_t err;

	*used = 0;
	if (c->closing || c->failed)
		return API_CONN_CLOSE;
	if (c->request_ready)
		return API_CONN_REQUEST;
	if (len == 0)
		return API_CONN_MORE;
	err = llhttp_execute(&c->parser, data, len);
	if (err == HPE_OK) {
		*used = len;
		return API_CONN_MORE;
	}
	if (err == HPE_PAUSED && c->request_ready) {
		*used = (size_t)(llhttp_get_error_pos(&c->parser) - data);
		return API_CONN_REQUEST;
	}
	*used = len;
	fail_connection(c, err);
	return API_CONN_CLOSE;
}

static enum api_method method_of(uint8_t m)
{
	switch (m) {
	case HTTP_GET:
		return API_METHOD_GET;
	case HTTP_PUT:
		return API_METHOD_PUT;
	case HTTP_PATCH:
		return API_METHOD_PATCH;
	default:
		return API_METHOD_OTHER;
	}
}

void api_conn_request(const struct api_conn *c, struct api_request *req)
{
	uint8_t m = llhttp_get_method((llhttp_t *)&c->parser);

	req->method = method_of(m);
	req->method_name = llhttp_method_name((llhttp_method_t)m);
	req->path = c->url;
	req->body = c->body;
	req->body_len = c->body_len;
}

void api_conn_respond(struct api_conn *c, const struct api_response *resp)
{
	size_t len;
	char *text;

	if (!c->request_ready)
		return;
	text = api_http_format(resp, c->keep_alive, &len);
	if (text)
		queue_output(c, text, len);
	else
		c->failed = true;
	free(text);
	c->request_ready = false;
	if (!c->keep_alive)
		c->closing = true;
	else
		llhttp_resume(&c->parser);
}

const char *api_conn_output(const struct api_conn *c, size_t *len)
{
	*len = c->out_len - c->out_off;
	return c->out + c->out_off;
}

void api_conn_consume_output(struct api_conn *c, size_t n)
{
	c->out_off += n;
	if (c->out_off >= c->out_len)
		c->out_off = c->out_len = 0;
}

bool api_conn_should_close(const struct api_conn *c)
{
	return c->failed || (c->closing && c->out_len == c->out_off);
}

static const char *reason_phrase(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 204:
		return "No Content";
	case 400:
		return "Bad Request";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 500:
		return "Internal Server Error";
	default:
		return "Unknown";
	}
}

char *api_http_format(const struct api_response *resp, bool keep_alive, size_t *len)
{
	size_t body_len = resp->body ? strlen(resp->body) : 0;
	char head[256], allow[64] = "", *text;
	int n;

	if (resp->allow)
		snprintf(allow, sizeof(allow), "Allow: %s\r\n", resp->allow);
	if (resp->body)
		n = snprintf(head, sizeof(head),
		             "HTTP/1.1 %d %s\r\nServer: Wisp API\r\nConnection: %s\r\n%s"
		             "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
		             resp->status, reason_phrase(resp->status),
		             keep_alive ? "keep-alive" : "close", allow, body_len);
	else
		n = snprintf(head, sizeof(head),
		             "HTTP/1.1 %d %s\r\nServer: Wisp API\r\nConnection: %s\r\n%s\r\n",
		             resp->status, reason_phrase(resp->status),
		             keep_alive ? "keep-alive" : "close", allow);
	if (n < 0 || (size_t)n >= sizeof(head))
		return NULL;
	text = malloc((size_t)n + body_len);
	if (!text)
		return NULL;
	memcpy(text, head, (size_t)n);
	if (body_len)
		memcpy(text + n, resp->body, body_len);
	*len = (size_t)n + body_len;
	return text;
}
