/*
 * api_latency.c - API request latency on one keep-alive connection.
 *
 *   api_latency SOCKET [COUNT]
 *
 * Sends COUNT (default 10,000) GET / and then COUNT PUT /machine-config to a wisp (or
 * Firecracker) API socket, one request in flight at a time, and prints the median and p99
 * round trip of each in microseconds:
 *
 *   GET / median_us=41 p99_us=88
 *   PUT /machine-config median_us=47 p99_us=95
 *
 * The PUT is valid only before InstanceStart; a 400 after boot counts as an answer all the
 * same (the round trip is what is measured), any other failure stops the run with exit 1.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define BENCH_DEFAULT_COUNT 10000

/* The reply being read; bytes past it (never expected: one request in flight) are kept. */
static char reply[65536];
static size_t reply_len;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static int connect_socket(const char *path)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	int fd;

	if (strlen(path) >= sizeof(addr.sun_path)) {
		fprintf(stderr, "api_latency: %s: path too long\n", path);
		return -1;
	}
	strcpy(addr.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		fprintf(stderr, "api_latency: %s: %s\n", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static int send_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Length of the whole response at the start of reply, or 0 while incomplete. */
static size_t complete_length(void)
{
	char *end, *cl;
	size_t head, body = 0;

	reply[reply_len] = '\0';
	end = strstr(reply, "\r\n\r\n");
	if (!end)
		return 0;
	head = (size_t)(end - reply) + 4;
	cl = strcasestr(reply, "\r\nContent-Length:");
	if (cl && cl < end)
		body = strtoul(cl + 17, NULL, 10);
	return reply_len >= head + body ? head + body : 0;
}

/* Reads one response; returns its status code, or -1. */
static int read_response(int fd)
{
	size_t len;
	int status;

	while (!(len = complete_length())) {
		ssize_t n;

		if (reply_len >= sizeof(reply) - 1)
			return -1;
		n = recv(fd, reply + reply_len, sizeof(reply) - 1 - reply_len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		reply_len += (size_t)n;
	}
	if (sscanf(reply, "HTTP/1.1 %d", &status) != 1)
		return -1;
	memmove(reply, reply + len, reply_len - len);
	reply_len -= len;
	return status;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Sends request count times; prints "name median_us=.. p99_us=..". */
static int measure(int fd, const char *name, const char *request, unsigned count)
{
	uint64_t *samples = calloc(count, sizeof(*samples));

	if (!samples)
		return -1;
	for (unsigned i = 0; i < count; i++) {
		uint64_t t0 = now_ns();
		int status;

		if (send_all(fd, request, strlen(request)) < 0) {
			fprintf(stderr, "api_latency: %s: send failed\n", name);
			free(samples);
			return -1;
		}
		status = read_response(fd);
		if (status != 200 && status != 204 && status != 400) {
			fprintf(stderr, "api_latency: %s: bad response (status %d)\n", name,
			        status);
			free(samples);
			return -1;
		}
		samples[i] = now_ns() - t0;
	}
	qsort(samples, count, sizeof(*samples), cmp_u64);
	printf("%s median_us=%.1f p99_us=%.1f\n", name, samples[count / 2] / 1000.0,
	       samples[(size_t)count * 99 / 100] / 1000.0);
	free(samples);
	return 0;
}

int main(int argc, char **argv)
{
	static const char get[] = "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n";
	static const char body[] = "{\"vcpu_count\":1,\"mem_size_mib\":128}";
	char put[256];
	unsigned count = argc > 2 ? (unsigned)strtoul(argv[2], NULL, 10) : BENCH_DEFAULT_COUNT;
	int fd, rc;

	if (argc < 2 || count == 0) {
		fprintf(stderr, "usage: api_latency SOCKET [COUNT]\n");
		return 2;
	}
	snprintf(put, sizeof(put),
	         "PUT /machine-config HTTP/1.1\r\nHost: localhost\r\n"
	         "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
	         sizeof(body) - 1, body);
	fd = connect_socket(argv[1]);
	if (fd < 0)
		return 1;
	rc = measure(fd, "GET /", get, count);
	if (rc == 0)
		rc = measure(fd, "PUT /machine-config", put, count);
	close(fd);
	return rc ? 1 : 0;
}
