/*
 * boot.c - launch a command many times and time it: boot latency, peak RSS, launch rate and
 * API-socket readiness of a VMM (wisp or QEMU) running a guest that stops by itself.
 *
 *   boot [-n RUNS] [-w WARMUP] [-e STRING] [-f STRING] [-t TIMEOUT_S] [-l LABEL] -- COMMAND
 * [ARG...] boot -j LAUNCHES [-p INFLIGHT] [-e STRING] [-t TIMEOUT_S] [-l LABEL] -- COMMAND [ARG...]
 *   boot -s SOCKET [-n RUNS] [-w WARMUP] [-t TIMEOUT_S] [-l LABEL] -- COMMAND [ARG...]
 *
 * Sequential mode (the default) runs COMMAND RUNS times (30) after WARMUP untimed runs (1),
 * one at a time, and prints one line:
 *
 *   boot label=wisp runs=30 ok=30 failures=0 median_ms=9.1 p10_ms=8.7 p90_ms=9.9
 *        min_ms=8.5 cpu_ms=4.0 stop_ms=6.0 stop_p90_ms=6.5 rss_kib=3012 self_rss_kib=1400
 *        [first_ms=3.1 first_p90_ms=3.4]
 *
 * median_ms/p90_ms: exec -> process exit. stop_ms: exec -> the -e STRING in the output (the
 * guest's last word). first_ms (with -f STRING): exec -> the first complete output line that
 * contains STRING (the guest's banner: its first console line). In this mode the child's
 * output is read from a pipe as it comes, and each chunk is timestamped when read() returns
 * it, so the two output figures are as exact as the scheduler lets a reader be.
 *
 * Parallel mode (-j) makes LAUNCHES launches with INFLIGHT (default 2 per online CPU) running
 * at once, a new one started as soon as one ends, and prints
 *
 *   parallel label=wisp launches=200 inflight=4 ok=200 failures=0 wall_s=0.61 rate_per_s=327.9
 *            median_ms=12.0 p90_ms=14.1
 *
 * Readiness mode (-s) times each run from exec until SOCKET accepts a connection (connect()
 * tried every 50 us), then stops the child with SIGTERM and expects exit status 0 (or death
 * by that SIGTERM):
 *
 *   ready label=wisp runs=20 ok=20 failures=0 median_ms=1.2 p10_ms=1.1 p90_ms=1.4 min_ms=1.0
 *         cpu_ms=1.1
 *
 * (cpu_ms: the child's user + system CPU time for the whole run, readiness mode included: a
 * figure that a loaded host disturbs less than wall time)
 *
 * What is timed: from just before posix_spawn() (glibc: clone(CLONE_VM|CLONE_VFORK) + execve,
 * so the fork cost is a few microseconds) to the return of wait4() (CLOCK_MONOTONIC). The
 * child's stdin is /dev/null; its stdout and stderr go to one memfd, which must contain STRING
 * (when -e is given) and the child must exit with status 0: a run that fails either check,
 * dies from a signal or outlives TIMEOUT_S (default 30, then SIGKILL) is a failure, counted
 * and never part of the figures, so a broken boot is never reported as fast. The first
 * failure's reason and output are printed on stderr.
 *
 * rss_kib is the median of the children's ru_maxrss (peak RSS, KiB). Linux folds the RSS of
 * the address space a child had before execve (this program's, shared through vfork) into
 * that peak, so self_rss_kib, this program's own peak, is the floor below which rss_kib means
 * nothing; this program stays small for that reason.
 *
 * Exit status: 0 when every run succeeded, 1 when any failed, 2 on a usage or set-up error.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Output examined per run: enough for any test guest line, small enough to stay cheap. */
#define BOOT_OUTPUT_MAX (1u << 20)
/* How much of a failed run's output is echoed on stderr. */
#define BOOT_FAIL_ECHO 600
/* Readiness mode: pause between connect() attempts. */
#define BOOT_CONNECT_POLL_NS 50000L
/* Parallel mode: the most launches in flight. */
#define BOOT_MAX_INFLIGHT 256

extern char **environ;

struct options {
	unsigned runs;     /* sequential / readiness: timed runs */
	unsigned warmup;   /* untimed runs first */
	unsigned launches; /* parallel mode when non-zero */
	unsigned inflight;
	const char *expect; /* required in the output, or NULL */
	const char *first;  /* -f: the first line's marker, or NULL */
	const char *socket; /* readiness mode when non-NULL */
	const char *label;
	unsigned timeout_s;
	char **argv; /* the command */
};

/* One child in flight: its pid, a pidfd to poll, the memfd holding its output, and in
 * sequential mode the pipe its output arrives on (copied into the memfd as it is read). */
struct child {
	pid_t pid;
	int pidfd;
	int outfd;
	int pipefd; /* read end, or -1 (parallel and readiness modes: output straight to outfd) */
	uint64_t t0;
	uint64_t t_seen;  /* when the expected string first appeared in the output, or 0 */
	uint64_t t_first; /* when the -f line was complete in the output, or 0 */
	off_t seen_upto;  /* output size at the last look */
};

/* One finished run. */
struct result {
	int ok;
	double ms;
	double seen_ms;  /* start -> expected string in the output (the guest's last word) */
	double first_ms; /* start -> the -f line, or 0 */
	double cpu_ms;   /* the child's user + system time */
	long maxrss_kib;
};

static int first_failure_reported;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static int pidfd_open_compat(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

/*
 * Starts opts->argv with stdin on /dev/null and stdout+stderr on a fresh memfd, or on a pipe
 * when use_pipe (the caller then reads it: child_wait_exit); fills c.
 * Returns 0, or -1 after a message (a set-up failure, not a run failure).
 */
static int child_start(const struct options *opts, struct child *c, int use_pipe)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none;
	int rc, pipe_fds[2] = {-1, -1}, out;

	c->t_seen = 0;
	c->t_first = 0;
	c->seen_upto = 0;
	c->pipefd = -1;
	c->outfd = memfd_create("boot-output", MFD_CLOEXEC);
	if (c->outfd < 0) {
		perror("boot: memfd_create");
		return -1;
	}
	if (use_pipe && pipe2(pipe_fds, O_CLOEXEC) < 0) {
		perror("boot: pipe2");
		close(c->outfd);
		return -1;
	}
	out = use_pipe ? pipe_fds[1] : c->outfd;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, out, 1);
	posix_spawn_file_actions_adddup2(&fa, out, 2);
	/* The child starts with no blocked signals whatever this process blocks. */
	sigemptyset(&none);
	posix_spawnattr_init(&attr);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);

	c->t0 = now_ns();
	rc = posix_spawnp(&c->pid, opts->argv[0], &fa, &attr, opts->argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	if (use_pipe) {
		close(pipe_fds[1]); /* the child's now: EOF when it exits */
		c->pipefd = pipe_fds[0];
	}
	if (rc != 0) {
		fprintf(stderr, "boot: %s: %s\n", opts->argv[0], strerror(rc));
		close(c->outfd);
		if (c->pipefd >= 0)
			close(c->pipefd);
		return -1;
	}
	/* The child cannot be reaped before we wait for it, so the pid is still ours. */
	c->pidfd = pidfd_open_compat(c->pid);
	if (c->pidfd < 0) {
		perror("boot: pidfd_open");
		kill(c->pid, SIGKILL);
		waitpid(c->pid, NULL, 0);
		close(c->outfd);
		if (c->pipefd >= 0)
			close(c->pipefd);
		return -1;
	}
	return 0;
}

static void child_watch_output(const struct options *opts, struct child *c);

/* Prints why run 'index' failed and the start of its output, for the first failure only. */
static void report_failure(const struct options *opts, unsigned index, const char *why,
                           const char *out, size_t len)
{
	if (first_failure_reported++)
		return;
	fprintf(stderr, "boot: %s: run %u failed: %s; output:\n%.*s\n", opts->label, index, why,
	        (int)(len < BOOT_FAIL_ECHO ? len : BOOT_FAIL_ECHO), out);
}

/* Checks a reaped child's status and output; returns 1 if the run succeeded. */
static int child_check(const struct options *opts, struct child *c, unsigned index, int status,
                       int timed_out)
{
	static char out[BOOT_OUTPUT_MAX];
	struct stat st;
	ssize_t len = 0;
	char why[128];

	if (fstat(c->outfd, &st) == 0 && st.st_size > 0) {
		size_t want = (size_t)st.st_size < sizeof(out) ? (size_t)st.st_size : sizeof(out);

		len = pread(c->outfd, out, want, 0);
		if (len < 0)
			len = 0;
	}
	/* Readiness mode sent a SIGTERM: QEMU dies from it where wisp exits 0. */
	if (!timed_out && opts->socket && WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM)
		status = 0;
	if (timed_out)
		snprintf(why, sizeof(why), "still running after %u s (killed)", opts->timeout_s);
	else if (WIFSIGNALED(status))
		snprintf(why, sizeof(why), "killed by signal %d", WTERMSIG(status));
	else if (WEXITSTATUS(status) != 0)
		snprintf(why, sizeof(why), "exit status %d", WEXITSTATUS(status));
	else if (opts->expect && !memmem(out, (size_t)len, opts->expect, strlen(opts->expect)))
		snprintf(why, sizeof(why), "\"%s\" not in the output", opts->expect);
	else
		return 1;
	report_failure(opts, index, why, out, (size_t)len);
	return 0;
}

/* Reaps c (already exited, or killed now when timed_out) and fills r. */
static void child_finish(const struct options *opts, struct child *c, unsigned index, int timed_out,
                         struct result *r)
{
	struct rusage ru;
	int status = 0;

	if (timed_out)
		kill(c->pid, SIGKILL);
	while (wait4(c->pid, &status, 0, &ru) < 0 && errno == EINTR)
		;
	r->ms = (double)(now_ns() - c->t0) / 1e6;
	child_watch_output(opts, c);
	r->seen_ms = c->t_seen ? (double)(c->t_seen - c->t0) / 1e6 : r->ms;
	r->first_ms = c->t_first ? (double)(c->t_first - c->t0) / 1e6 : 0;
	r->maxrss_kib = ru.ru_maxrss;
	r->cpu_ms = (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
	            (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
	r->ok = child_check(opts, c, index, status, timed_out);
	if (opts->first && !c->t_first && r->ok) {
		report_failure(opts, index, "the -f line never appeared", "", 0);
		r->ok = 0;
	}
	close(c->pidfd);
	close(c->outfd);
	if (c->pipefd >= 0)
		close(c->pipefd);
}

/* Looks for opts->expect in the output written since the last look; records when it first
 * shows. The guest prints it just before it stops, so this is "start -> guest stop", which
 * excludes the process exit (for KVM, the VM's teardown in the kernel). */
static void child_watch_output(const struct options *opts, struct child *c)
{
	static char out[BOOT_OUTPUT_MAX];
	struct stat st;
	ssize_t len;

	const char *mark;
	uint64_t now;

	if ((c->t_seen || !opts->expect) && (c->t_first || !opts->first))
		return;
	if (fstat(c->outfd, &st) < 0 || st.st_size == c->seen_upto)
		return;
	now = now_ns();
	c->seen_upto = st.st_size;
	len = pread(c->outfd, out,
	            (size_t)st.st_size < sizeof(out) ? (size_t)st.st_size : sizeof(out), 0);
	if (len <= 0)
		return;
	if (opts->expect && !c->t_seen &&
	    memmem(out, (size_t)len, opts->expect, strlen(opts->expect)))
		c->t_seen = now;
	/* The first line counts once it is complete: its newline has arrived. */
	mark = opts->first ? memmem(out, (size_t)len, opts->first, strlen(opts->first)) : NULL;
	if (mark && !c->t_first && memchr(mark, '\n', (size_t)(out + len - mark)))
		c->t_first = now;
}

/* Moves what the pipe holds into the memfd (the time of the read is the time it arrived) and
 * looks at it. Returns 0 at end of file (the child and its children closed it), 1 otherwise. */
static int child_read_pipe(const struct options *opts, struct child *c)
{
	char buf[4096];
	ssize_t n = read(c->pipefd, buf, sizeof(buf));

	if (n < 0)
		return errno == EINTR || errno == EAGAIN;
	if (n == 0)
		return 0;
	if (write(c->outfd, buf, (size_t)n) != n)
		return 1; /* memfd full: the check will see what fitted */
	child_watch_output(opts, c);
	return 1;
}

/* Waits up to timeout_s for c to exit, watching its output (as it arrives on the pipe, or
 * every 50 us in the memfd); returns 1 on exit, 0 on timeout. With a pipe, what the child
 * wrote before it exited is all read before this returns. */
static int child_wait_exit(const struct options *opts, struct child *c)
{
	struct pollfd p[2] = {{.fd = c->pidfd, .events = POLLIN},
	                      {.fd = c->pipefd, .events = POLLIN}};
	uint64_t deadline = c->t0 + (uint64_t)opts->timeout_s * 1000000000ULL;
	const struct timespec tick = {.tv_nsec = 50000};
	int open_pipe = c->pipefd >= 0, exited = 0;

	for (;;) {
		uint64_t now = now_ns(), left = deadline - now;
		struct timespec wait = {.tv_sec = (time_t)(left / 1000000000ULL),
		                        .tv_nsec = (long)(left % 1000000000ULL)};
		int n;

		if (now >= deadline)
			return 0;
		p[1].fd = open_pipe ? c->pipefd : -1;
		n = ppoll(p, 2, c->pipefd >= 0 ? &wait : &tick, NULL);
		if (n < 0 && errno != EINTR)
			return 0;
		if (open_pipe && n > 0 && (p[1].revents & (POLLIN | POLLHUP)))
			open_pipe = child_read_pipe(opts, c);
		if (c->pipefd < 0)
			child_watch_output(opts, c);
		if (n > 0 && (p[0].revents & POLLIN))
			exited = 1;
		if (exited && !open_pipe)
			return 1;
	}
}

/* Returns 1 once connect() to path succeeds. */
static int socket_accepts(const char *path)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	int fd, ok;

	strcpy(addr.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 0;
	ok = connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0;
	close(fd);
	return ok;
}

/*
 * Readiness run: polls the socket until it accepts, the child exits or the time runs out;
 * then stops the child with SIGTERM. r->ms is exec -> accepted connection.
 */
static int run_ready(const struct options *opts, unsigned index, struct result *r)
{
	const struct timespec pause = {.tv_nsec = BOOT_CONNECT_POLL_NS};
	struct pollfd p;
	struct child c;
	uint64_t deadline, ready = 0;
	int exited = 0, timed_out;

	unlink(opts->socket);
	if (child_start(opts, &c, 0) < 0)
		return -1;
	deadline = c.t0 + (uint64_t)opts->timeout_s * 1000000000ULL;
	p = (struct pollfd){.fd = c.pidfd, .events = POLLIN};
	while (!ready && !exited && now_ns() < deadline) {
		if (socket_accepts(opts->socket)) {
			ready = now_ns();
			break;
		}
		exited = poll(&p, 1, 0) > 0;
		nanosleep(&pause, NULL);
	}
	if (!exited)
		kill(c.pid, SIGTERM);
	timed_out = !child_wait_exit(opts, &c);
	child_finish(opts, &c, index, timed_out, r);
	unlink(opts->socket); /* QEMU leaves its socket behind */
	if (!ready && r->ok) {
		report_failure(opts, index, "exited before its socket accepted a connection", "",
		               0);
		r->ok = 0;
	}
	if (ready)
		r->ms = (double)(ready - c.t0) / 1e6;
	return 0;
}

/* Sequential run: start, wait for the exit, check. */
static int run_once(const struct options *opts, unsigned index, struct result *r)
{
	struct child c;

	if (opts->socket)
		return run_ready(opts, index, r);
	if (child_start(opts, &c, 1) < 0)
		return -1;
	child_finish(opts, &c, index, !child_wait_exit(opts, &c), r);
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static int cmp_long(const void *a, const void *b)
{
	long x = *(const long *)a, y = *(const long *)b;

	return x < y ? -1 : x > y;
}

/* Nearest-rank percentile p (0-100) of n sorted values; n > 0. */
static double percentile(const double *sorted, size_t n, unsigned p)
{
	size_t rank = (n * p + 99) / 100;

	return sorted[rank ? rank - 1 : 0];
}

static double median(const double *sorted, size_t n)
{
	return n % 2 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
}

static long self_maxrss_kib(void)
{
	struct rusage ru;

	return getrusage(RUSAGE_SELF, &ru) == 0 ? ru.ru_maxrss : -1;
}

/* Sequential and readiness modes. */
static int bench_sequential(const struct options *opts)
{
	double *ms = calloc(opts->runs, sizeof(*ms));
	double *cpu = calloc(opts->runs, sizeof(*cpu));
	double *seen = calloc(opts->runs, sizeof(*seen));
	double *first = calloc(opts->runs, sizeof(*first));
	long *rss = calloc(opts->runs, sizeof(*rss));
	unsigned ok = 0;
	int rc = 2;

	if (!ms || !cpu || !seen || !first || !rss) {
		fprintf(stderr, "boot: out of memory\n");
		goto out;
	}
	for (unsigned i = 0; i < opts->warmup + opts->runs; i++) {
		struct result r;

		if (run_once(opts, i, &r) < 0)
			goto out;
		if (i < opts->warmup || !r.ok)
			continue;
		ms[ok] = r.ms;
		seen[ok] = r.seen_ms;
		first[ok] = r.first_ms;
		cpu[ok] = r.cpu_ms;
		rss[ok++] = r.maxrss_kib;
	}
	qsort(ms, ok, sizeof(*ms), cmp_double);
	qsort(cpu, ok, sizeof(*cpu), cmp_double);
	qsort(seen, ok, sizeof(*seen), cmp_double);
	qsort(first, ok, sizeof(*first), cmp_double);
	qsort(rss, ok, sizeof(*rss), cmp_long);
	printf("%s label=%s runs=%u ok=%u failures=%u", opts->socket ? "ready" : "boot",
	       opts->label, opts->runs, ok, opts->runs - ok);
	if (ok)
		printf(" median_ms=%.2f p10_ms=%.2f p90_ms=%.2f min_ms=%.2f cpu_ms=%.2f",
		       median(ms, ok), percentile(ms, ok, 10), percentile(ms, ok, 90), ms[0],
		       median(cpu, ok));
	if (ok && !opts->socket)
		printf(" stop_ms=%.2f stop_p90_ms=%.2f rss_kib=%ld self_rss_kib=%ld",
		       median(seen, ok), percentile(seen, ok, 90), rss[ok / 2], self_maxrss_kib());
	if (ok && !opts->socket && opts->first)
		printf(" first_ms=%.2f first_p90_ms=%.2f", median(first, ok),
		       percentile(first, ok, 90));
	printf("\n");
	rc = ok == opts->runs ? 0 : 1;
out:
	free(ms);
	free(cpu);
	free(seen);
	free(first);
	free(rss);
	return rc;
}

/*
 * Parallel mode: keeps opts->inflight children running until opts->launches have run. A
 * set-up failure stops new launches; the children in flight are still reaped.
 */
static int bench_parallel(const struct options *opts)
{
	struct child slots[BOOT_MAX_INFLIGHT];
	struct pollfd pfds[BOOT_MAX_INFLIGHT];
	int busy[BOOT_MAX_INFLIGHT] = {0};
	double *ms = calloc(opts->launches, sizeof(*ms));
	unsigned started = 0, running = 0, ok = 0, index[BOOT_MAX_INFLIGHT];
	unsigned launches = opts->launches; /* lowered to 'started' by a set-up failure */
	uint64_t t0, wall;

	if (!ms) {
		fprintf(stderr, "boot: out of memory\n");
		return 2;
	}
	t0 = now_ns();
	while (started < launches || running) {
		uint64_t now;

		for (unsigned s = 0; s < opts->inflight && started < launches; s++) {
			if (busy[s])
				continue;
			if (child_start(opts, &slots[s], 0) < 0) {
				launches = started;
				break;
			}
			busy[s] = 1;
			index[s] = started++;
			running++;
		}
		for (unsigned s = 0; s < opts->inflight; s++)
			pfds[s] =
			    (struct pollfd){.fd = busy[s] ? slots[s].pidfd : -1, .events = POLLIN};
		/* On a poll failure, children are still reaped by the timeout below. */
		if (poll(pfds, opts->inflight, 100) < 0 && errno != EINTR) {
			perror("boot: poll");
			launches = started;
		}
		now = now_ns();
		for (unsigned s = 0; s < opts->inflight; s++) {
			uint64_t limit = (uint64_t)opts->timeout_s * 1000000000ULL;
			int timed_out = busy[s] && now - slots[s].t0 > limit;
			struct result r;

			if (!busy[s] || (!(pfds[s].revents & POLLIN) && !timed_out))
				continue;
			child_finish(opts, &slots[s], index[s], timed_out, &r);
			busy[s] = 0;
			running--;
			if (r.ok)
				ms[ok++] = r.ms;
		}
	}
	wall = now_ns() - t0;
	qsort(ms, ok, sizeof(*ms), cmp_double);
	printf("parallel label=%s launches=%u inflight=%u ok=%u failures=%u wall_s=%.3f "
	       "rate_per_s=%.1f",
	       opts->label, launches, opts->inflight, ok, launches - ok, wall / 1e9,
	       ok / (wall / 1e9));
	if (ok)
		printf(" median_ms=%.2f p90_ms=%.2f", median(ms, ok), percentile(ms, ok, 90));
	printf("\n");
	free(ms);
	if (launches < opts->launches)
		return 2;
	return ok == opts->launches ? 0 : 1;
}

static void usage(void)
{
	fprintf(
	    stderr,
	    "usage: boot [-n RUNS] [-w WARMUP] [-e STRING] [-f STRING] [-t TIMEOUT_S] [-l LABEL]\n"
	    "            [-j LAUNCHES [-p INFLIGHT] | -s SOCKET] -- COMMAND [ARG...]\n");
}

/* Parses a positive decimal number; exits on anything else. */
static unsigned parse_count(const char *s, unsigned min)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *s == '\0' || *end != '\0' || v < min || v > 1000000) {
		fprintf(stderr, "boot: bad number '%s'\n", s);
		exit(2);
	}
	return (unsigned)v;
}

int main(int argc, char **argv)
{
	struct options opts = {
	    .runs = 30,
	    .warmup = 1,
	    .label = "run",
	    .timeout_s = 30,
	};
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	int opt;

	opts.inflight = cpus > 0 ? (unsigned)(2 * cpus) : 2;
	while ((opt = getopt(argc, argv, "n:w:e:f:t:l:j:p:s:")) != -1) {
		switch (opt) {
		case 'n':
			opts.runs = parse_count(optarg, 1);
			break;
		case 'w':
			opts.warmup = parse_count(optarg, 0);
			break;
		case 'e':
			opts.expect = optarg;
			break;
		case 'f':
			opts.first = optarg;
			break;
		case 't':
			opts.timeout_s = parse_count(optarg, 1);
			break;
		case 'l':
			opts.label = optarg;
			break;
		case 'j':
			opts.launches = parse_count(optarg, 1);
			break;
		case 'p':
			opts.inflight = parse_count(optarg, 1);
			break;
		case 's':
			opts.socket = optarg;
			break;
		default:
			usage();
			return 2;
		}
	}
	if (optind >= argc || (opts.launches && opts.socket)) {
		usage();
		return 2;
	}
	if (opts.inflight > BOOT_MAX_INFLIGHT)
		opts.inflight = BOOT_MAX_INFLIGHT;
	if (opts.socket && strlen(opts.socket) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
		fprintf(stderr, "boot: %s: socket path too long\n", opts.socket);
		return 2;
	}
	opts.argv = argv + optind;
	/* Children's output is looked at through the memfd; keep ours unbuffered-by-line. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	return opts.launches ? bench_parallel(&opts) : bench_sequential(&opts);
}
