/* test_api_http.c - the connection parser: pipelining, split reads, limits, bad HTTP. */
#include "tests/unit/unit.h"

#include <stdlib.h>

#include "api-socket/api_http.h"

/* The requests the session saw, as "METHOD path body|" lines, and everything it sent. */
struct session {
	char seen[4096];
	char out[65536];
	size_t out_len;
	enum api_conn_event last;
	bool closing;
};

/* A stand-in for the router: 200 with the path for GET, 204 otherwise. */
static void answer(const struct api_request *req, struct api_response *resp)
{
	char body[256];

	memset(resp, 0, sizeof(*resp));
	if (req->method == API_METHOD_GET) {
		snprintf(body, sizeof(body), "{\"path\":\"%s\"}", req->path);
		resp->status = 200;
		resp->body = strdup(body);
	} else {
		resp->status = 204;
	}
}

/* Feeds text in pieces of step bytes (0: all at once) and answers each request. */
static void run(struct session *s, const char *text, size_t len, size_t step)
{
	struct api_conn c;
	size_t off = 0;

	memset(s, 0, sizeof(*s));
	api_conn_init(&c);
	while (off < len) {
		size_t n = step && len - off > step ? step : len - off, used = 0;
		const char *out;
		size_t out_len;

		/* Each piece may hold several requests: keep feeding until it is used up. */
		while (n) {
			s->last = api_conn_feed(&c, text + off, n, &used);
			off += used;
			n -= used;
			if (s->last == API_CONN_REQUEST) {
				struct api_request req;
				struct api_response resp;
				size_t seen = strlen(s->seen);

				api_conn_request(&c, &req);
				snprintf(s->seen + seen, sizeof(s->seen) - seen, "%s %s %.*s|",
				         req.method_name, req.path, (int)req.body_len, req.body);
				answer(&req, &resp);
				api_conn_respond(&c, &resp);
				api_response_free(&resp);
			}
			if (s->last == API_CONN_CLOSE)
				break;
		}
		out = api_conn_output(&c, &out_len);
		if (out_len && s->out_len + out_len < sizeof(s->out)) {
			memcpy(s->out + s->out_len, out, out_len);
			s->out_len += out_len;
		}
		api_conn_consume_output(&c, out_len);
		if (s->last == API_CONN_CLOSE)
			break;
	}
	s->closing = api_conn_should_close(&c) || c.closing;
	api_conn_free(&c);
}

static void run_str(struct session *s, const char *text, size_t step)
{
	run(s, text, strlen(text), step);
}

static const char three[] = "GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
                            "PUT /b HTTP/1.1\r\nContent-Length: 7\r\n\r\n{\"x\":1}"
                            "GET /c HTTP/1.1\r\n\r\n";

UNIT_TEST(api_http_single_get)
{
	struct session s;

	run_str(&s, "GET /machine-config HTTP/1.1\r\nHost: localhost\r\nAccept: */*\r\n\r\n", 0);
	CHECK_STR_EQ(s.seen, "GET /machine-config |");
	CHECK_CONTAINS(s.out, "HTTP/1.1 200 OK\r\n");
	CHECK_CONTAINS(s.out, "Connection: keep-alive\r\n");
	CHECK_CONTAINS(s.out, "Content-Type: application/json\r\nContent-Length: 26\r\n\r\n"
	                      "{\"path\":\"/machine-config\"}");
	CHECK(!s.closing);
}

UNIT_TEST(api_http_pipelined_in_order)
{
	struct session s;
	char *a, *b, *c;

	run_str(&s, three, 0);
	CHECK_STR_EQ(s.seen, "GET /a |PUT /b {\"x\":1}|GET /c |");
	a = strstr(s.out, "{\"path\":\"/a\"}");
	b = strstr(s.out, "HTTP/1.1 204 No Content");
	c = strstr(s.out, "{\"path\":\"/c\"}");
	CHECK(a && b && c && a < b && b < c);
	CHECK(!s.closing);
}

UNIT_TEST(api_http_byte_by_byte_equals_all_at_once)
{
	struct session whole, bytes, odd;

	run_str(&whole, three, 0);
	run_str(&bytes, three, 1);
	run_str(&odd, three, 7);
	CHECK_STR_EQ(bytes.seen, whole.seen);
	CHECK_STR_EQ(odd.seen, whole.seen);
	CHECK_EQ(bytes.out_len, whole.out_len);
	CHECK(!memcmp(bytes.out, whole.out, whole.out_len));
}

UNIT_TEST(api_http_body_limit)
{
	struct session s;
	size_t n = API_HTTP_MAX_BODY;
	char *req = malloc(n + 128);
	int head;

	/* Exactly the limit: accepted. */
	head = sprintf(req, "PUT /x HTTP/1.1\r\nContent-Length: %zu\r\n\r\n", n);
	memset(req + head, 'a', n);
	run(&s, req, (size_t)head + n, 4096);
	CHECK_CONTAINS(s.out, "204 No Content");
	/* One byte more: Firecracker's answer, then the connection closes. */
	head = sprintf(req, "PUT /x HTTP/1.1\r\nContent-Length: %zu\r\n\r\n", n + 1);
	memset(req + head, 'a', n + 1);
	run(&s, req, (size_t)head + n + 1, 4096);
	CHECK_EQ(s.last, API_CONN_CLOSE);
	CHECK_STR_EQ(s.seen, "");
	CHECK_CONTAINS(s.out, "HTTP/1.1 400 Bad Request\r\n");
	CHECK_CONTAINS(s.out, "Connection: close");
	CHECK_CONTAINS(s.out, "Request payload with size 51201 is larger than the limit of 51200 "
	                      "allowed by server.");
	CHECK(s.closing);
	free(req);
}

UNIT_TEST(api_http_chunked_refused)
{
	struct session s;

	run_str(&s,
	        "PUT /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
	        "GET /after HTTP/1.1\r\n\r\n",
	        0);
	CHECK_EQ(s.last, API_CONN_CLOSE);
	CHECK_CONTAINS(s.out, "400 Bad Request");
	CHECK_CONTAINS(s.out, "Chunked transfer encoding is not supported");
	CHECK(!strstr(s.out, "/after"));
}

UNIT_TEST(api_http_malformed_then_close)
{
	static const char *const bad[] = {
	    "GARBAGE\r\n\r\n",
	    "GET / HTTP/9.9\r\n\r\n",
	    "GET / HTTP/1.1\r\nContent-Length: abc\r\n\r\n",
	    "GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
	    "GET / HTTP/1.1\r\nBad Header\r\n\r\n",
	    "GET /\x01 HTTP/1.1\r\n\r\n",
	    "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
	    "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
	    "GET / HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
	};
	struct session s;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		run_str(&s, bad[i], 0);
		if (s.last != API_CONN_CLOSE || !strstr(s.out, "HTTP/1.1 400 Bad Request") ||
		    !strstr(s.out, "{\"fault_message\":") || !s.closing)
			UNIT_FAIL("case %zu: last %d, out \"%s\"", i, (int)s.last, s.out);
	}
}

UNIT_TEST(api_http_header_limits)
{
	struct session s;
	char *req = malloc(API_HTTP_MAX_HEADER * 2);
	int n;

	n = sprintf(req, "GET / HTTP/1.1\r\nX-Big: ");
	memset(req + n, 'b', API_HTTP_MAX_HEADER);
	strcpy(req + n + API_HTTP_MAX_HEADER, "\r\n\r\n");
	run_str(&s, req, 100);
	CHECK_EQ(s.last, API_CONN_CLOSE);
	CHECK_CONTAINS(s.out, "Request header section is larger than 8192 bytes.");

	n = sprintf(req, "GET / HTTP/1.1\r\n");
	for (int i = 0; i <= API_HTTP_MAX_HEADERS; i++)
		n += sprintf(req + n, "H%d: v\r\n", i);
	strcpy(req + n, "\r\n");
	run_str(&s, req, 0);
	CHECK_CONTAINS(s.out, "more than 64 header lines");

	n = sprintf(req, "GET /");
	memset(req + n, 'u', API_HTTP_MAX_URL);
	strcpy(req + n + API_HTTP_MAX_URL, " HTTP/1.1\r\n\r\n");
	run_str(&s, req, 0);
	CHECK_CONTAINS(s.out, "Request target is longer than 1024 bytes.");
	free(req);
}

UNIT_TEST(api_http_keep_alive_rules)
{
	struct session s;

	run_str(&s, "GET /a HTTP/1.0\r\n\r\n", 0);
	CHECK_CONTAINS(s.out, "Connection: close");
	CHECK(s.closing);
	run_str(&s, "GET /a HTTP/1.1\r\nConnection: close\r\n\r\nGET /b HTTP/1.1\r\n\r\n", 0);
	CHECK_STR_EQ(s.seen, "GET /a |");
	CHECK(s.closing);
	run_str(&s, "GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", 0);
	CHECK(!s.closing);
}

UNIT_TEST(api_http_expect_continue)
{
	struct session s;

	run_str(&s, "PUT /x HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n{}", 1);
	CHECK(!strncmp(s.out, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204", 37));
	run_str(&s, "PUT /x HTTP/1.1\r\nExpectation: 100-continue\r\nContent-Length: 2\r\n\r\n{}",
	        0);
	CHECK(!strncmp(s.out, "HTTP/1.1 204", 12));
}

UNIT_TEST(api_http_format_responses)
{
	struct api_response r = {405, NULL, "PUT"};
	size_t len;
	char *text;

	api_response_error(&r, 405, "nope");
	r.allow = "PUT";
	text = api_http_format(&r, true, &len);
	CHECK(text != NULL);
	CHECK(!strncmp(text, "HTTP/1.1 405 Method Not Allowed\r\n", 33));
	CHECK(memmem(text, len, "Allow: PUT\r\n", 12) != NULL);
	CHECK(memmem(text, len, "\r\n\r\n{\"fault_message\":\"nope\"}", 28) != NULL);
	CHECK_EQ(text[len - 1], '}');
	free(text);
	api_response_free(&r);
	r.status = 204;
	r.allow = NULL;
	text = api_http_format(&r, false, &len);
	CHECK_EQ(len, strlen("HTTP/1.1 204 No Content\r\nServer: Wisp API\r\nConnection: close\r\n"
	                     "\r\n"));
	CHECK(!memmem(text, len, "Content-Length", 14));
	free(text);
}

UNIT_TEST(api_http_absolute_target_and_query_reach_router)
{
	struct session s;

	run_str(&s, "GET http://localhost/version?x=1 HTTP/1.1\r\n\r\n", 0);
	CHECK_STR_EQ(s.seen, "GET http://localhost/version?x=1 |");
}
