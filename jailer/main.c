/*
 * main.c - wisp-jailer: the order of the steps (see jailer.h and docs/jailer.md).
 *
 *   wisp-jailer --id ID --exec-file /usr/bin/wisp --uid UID --gid GID [options] -- [wisp args]
 *
 * Every step fails closed: the first problem prints one "wisp-jailer: ..." line on stderr and
 * the jailer exits with code 1 before exec. Every argument is validated before anything is
 * created on the host.
 */
#include "jailer/jailer.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define JAILER_ERR_MAX 512

static const char jailer_usage[] =
    "usage: wisp-jailer --id ID --exec-file PATH --uid UID --gid GID\n"
    "                   [--chroot-base-dir DIR] [--netns PATH] [--daemonize] [--new-pid-ns]\n"
    "                   [--cleanup-on-exit]\n"
    "                   [--cgroup-version 1|2] [--parent-cgroup PATH] [--cgroup FILE=VALUE]...\n"
    "                   [--resource-limit fsize=N|no-file=N]... [-- WISP ARGS...]\n";

/* The jailer's state between steps. */
struct jailer {
	struct jailer_args args;
	char root[PATH_MAX]; /* <base>/<exec name>/<id>/root on the host */
	int lock_fd;
	int devnull_fd; /* --daemonize: /dev/null, opened before the pivot */
	int netns_fd;   /* --netns: the namespace handle, opened before the pivot */
	char err[JAILER_ERR_MAX];
};

static pid_t jailer_child; /* --new-pid-ns: the wisp process, for signal forwarding */

/* Every exit of the jailer is _exit(): after the pivot there is no /proc and possibly a new
 * PID namespace, where exit-time handlers (a sanitizer's leak check in `make asan` builds,
 * which needs /proc and ptrace) would fail or hang. The jailer owns no buffered output. */
static void jailer_die(const char *msg)
{
	fprintf(stderr, "wisp-jailer: %s\n", msg);
	_exit(1);
}

/* Step 1: every argument, before anything is created. */
static void jailer_validate(struct jailer *j)
{
	struct jailer_args *a = &j->args;

	if (jailer_check_exec_file(a->exec_file, j->err, sizeof(j->err)) ||
	    jailer_check_chroot_base(a->chroot_base, j->err, sizeof(j->err)))
		jailer_die(j->err);
	if (jailer_jail_root_path(a, j->root, sizeof(j->root)))
		jailer_die("--chroot-base-dir: jail path too long");
	if (jailer_check_jail_free(j->root, j->err, sizeof(j->err)))
		jailer_die(j->err);
	if (a->netns && jailer_check_netns(a->netns, j->err, sizeof(j->err)))
		jailer_die(j->err);
	if (jailer_cgroup_validate(a, j->err, sizeof(j->err)))
		jailer_die(j->err);
}

/* Steps 2-4 on the host: clean slate, jail directory, binary, cgroups, fds for later. */
static void jailer_prepare_host(struct jailer *j)
{
	struct jailer_args *a = &j->args;

	if (jailer_sanitize(j->err, sizeof(j->err)) ||
	    jailer_jail_create(j->root, &j->lock_fd, j->err, sizeof(j->err)) ||
	    jailer_copy_exec(a->exec_file, j->root, j->err, sizeof(j->err)) ||
	    jailer_cgroup_apply(a, j->err, sizeof(j->err)))
		jailer_die(j->err);
	/* The cgroups are joined after the fork of jailer_keeper(): the keeper stays outside. */
	if (a->daemonize) {
		j->devnull_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
		if (j->devnull_fd < 0)
			jailer_die("/dev/null: cannot open");
	}
	if (a->netns && jailer_open_netns(a->netns, &j->netns_fd, j->err, sizeof(j->err)))
		jailer_die(j->err);
}

/* Step 5: into the jail; devices; network namespace. */
static void jailer_enter(struct jailer *j)
{
	if (jailer_pivot_into(j->root, j->err, sizeof(j->err)) ||
	    jailer_make_devices(j->args.uid, j->args.gid, j->err, sizeof(j->err)))
		jailer_die(j->err);
	if (j->netns_fd >= 0 && jailer_join_netns(j->netns_fd, j->err, sizeof(j->err)))
		jailer_die(j->err);
}

static void jailer_forward_signal(int sig)
{
	if (jailer_child > 0)
		kill(jailer_child, sig);
}

/* --new-pid-ns parent: records the child, then exits (--daemonize) or waits for it and
 * exits with its status (128 + signal when killed), forwarding SIGTERM/SIGINT/SIGHUP. */
static void jailer_parent(struct jailer *j, pid_t child)
{
	struct sigaction sa = {.sa_handler = jailer_forward_signal};
	int status;

	jailer_child = child;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	if (jailer_write_pid_file("/" JAILER_PID_FILE, child, j->err, sizeof(j->err))) {
		kill(child, SIGKILL);
		jailer_die(j->err);
	}
	close(j->lock_fd);
	if (j->args.daemonize)
		_exit(0);
	/* Nothing left to do as root while waiting. */
	if (jailer_drop_privileges(j->args.uid, j->args.gid, j->err, sizeof(j->err))) {
		kill(child, SIGKILL);
		jailer_die(j->err);
	}
	while (waitpid(child, &status, 0) < 0)
		if (errno != EINTR)
			jailer_die("waitpid: lost the wisp process");
	if (WIFSIGNALED(status))
		_exit(128 + WTERMSIG(status));
	_exit(WEXITSTATUS(status));
}

/* Step 6: wisp becomes PID 1 of a new PID namespace; only the child returns. */
static void jailer_new_pid_ns(struct jailer *j)
{
	pid_t child;

	if (unshare(CLONE_NEWPID))
		jailer_die("--new-pid-ns: unshare(CLONE_NEWPID) failed");
	child = fork();
	if (child < 0)
		jailer_die("--new-pid-ns: fork failed");
	if (child > 0)
		jailer_parent(j, child);
}

/* --cleanup-on-exit: removes the jail directory and the VM's cgroups. 0, or -1 after printing
 * the first thing it left behind. */
static int jailer_cleanup(struct jailer *j)
{
	int rc = 0;

	if (jailer_cleanup_jail(j->root, j->lock_fd, j->err, sizeof(j->err))) {
		fprintf(stderr, "wisp-jailer: cleanup: %s\n", j->err);
		rc = -1;
	}
	if (jailer_cleanup_cgroups(&j->args, j->err, sizeof(j->err))) {
		fprintf(stderr, "wisp-jailer: cleanup: %s\n", j->err);
		rc = -1;
	}
	close(j->lock_fd); /* held until now: no new jailer for this id meets a half-removed jail */
	return rc;
}

/* The keeper after a failure of its own: the child goes, the jail goes, exit 1. */
static void jailer_keeper_die(struct jailer *j, pid_t child, const char *msg)
{
	fprintf(stderr, "wisp-jailer: %s\n", msg);
	if (child > 0) {
		kill(child, SIGKILL);
		while (waitpid(child, NULL, 0) < 0 && errno == EINTR)
			;
	}
	jailer_cleanup(j);
	_exit(1);
}

/* --cleanup-on-exit, on the host before the pivot: forks; the child returns and goes on to
 * become wisp (PID 1 of a new PID namespace with --new-pid-ns, unshared here so that no
 * intermediate process is needed). The parent, the keeper, stays root, in the host's
 * namespaces and outside the VM's cgroups: it writes the pid file, forwards SIGTERM, SIGINT
 * and SIGHUP, waits for the child, removes the jail and the cgroups, and exits with wisp's
 * status (128 + signal when killed; 1 when wisp exited 0 but the cleanup left something). */
static void jailer_keeper(struct jailer *j)
{
	struct sigaction sa = {.sa_handler = jailer_forward_signal};
	char pid_path[PATH_MAX + sizeof(JAILER_PID_FILE) + 1];
	sigset_t fwd, old;
	int status, code;
	pid_t child;

	/* Blocked across the fork: a SIGTERM before the handler exists must not kill the keeper
	 * (the jail would stay); the child unblocks at once and dies of it as it should. */
	sigemptyset(&fwd);
	sigaddset(&fwd, SIGTERM);
	sigaddset(&fwd, SIGINT);
	sigaddset(&fwd, SIGHUP);
	sigprocmask(SIG_BLOCK, &fwd, &old);
	if (j->args.new_pid_ns && unshare(CLONE_NEWPID))
		jailer_keeper_die(j, 0, "--new-pid-ns: unshare(CLONE_NEWPID) failed");
	child = fork();
	if (child < 0)
		jailer_keeper_die(j, 0, "--cleanup-on-exit: fork failed");
	if (child == 0) {
		sigprocmask(SIG_SETMASK, &old, NULL);
		return;
	}
	jailer_child = child;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (j->devnull_fd >= 0)
		close(j->devnull_fd);
	if (j->netns_fd >= 0)
		close(j->netns_fd);
	snprintf(pid_path, sizeof(pid_path), "%s/%s", j->root, JAILER_PID_FILE);
	if (jailer_write_pid_file(pid_path, child, j->err, sizeof(j->err)))
		jailer_keeper_die(j, child, j->err);
	while (waitpid(child, &status, 0) < 0)
		if (errno != EINTR)
			jailer_keeper_die(j, 0, "waitpid: lost the wisp process");
	jailer_child = 0; /* reaped: its pid may be reused, a late signal must not reach that */
	code = WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
	if (jailer_cleanup(j) && code == 0)
		code = 1;
	_exit(code);
}

/* Steps 7-10: limits, session, identity, pid file, exec. Does not return. */
static void jailer_exec(struct jailer *j)
{
	struct jailer_args *a = &j->args;
	const char *name = jailer_basename(a->exec_file);
	char path[PATH_MAX];
	char **argv = calloc((size_t)a->wisp_argc + 2, sizeof(*argv));
	char *const envp[] = {NULL};

	if (!argv)
		jailer_die("out of memory");
	snprintf(path, sizeof(path), "/%s", name);
	argv[0] = path;
	for (int i = 0; i < a->wisp_argc; i++)
		argv[i + 1] = a->wisp_argv[i];
	if (jailer_apply_rlimits(a, j->err, sizeof(j->err)))
		jailer_die(j->err);
	if (a->daemonize && jailer_daemonize(j->devnull_fd, j->err, sizeof(j->err)))
		jailer_die(j->err);
	if (jailer_drop_privileges(a->uid, a->gid, j->err, sizeof(j->err)))
		jailer_die(j->err);
	/* With --new-pid-ns or --cleanup-on-exit the parent wrote it (the pid as the host sees
	 * it). */
	if (!a->new_pid_ns && !a->cleanup_on_exit &&
	    jailer_write_pid_file("/" JAILER_PID_FILE, getpid(), j->err, sizeof(j->err)))
		jailer_die(j->err);
	execve(path, argv, envp);
	fprintf(stderr, "wisp-jailer: exec %s: %s\n", path, strerror(errno));
	_exit(1);
}

int main(int argc, char **argv)
{
	static struct jailer j = {.lock_fd = -1, .devnull_fd = -1, .netns_fd = -1};

	if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		fputs(jailer_usage, stdout);
		return 0;
	}
	if (geteuid() != 0)
		jailer_die("must be run as root");
	if (jailer_args_parse(argc, argv, &j.args, j.err, sizeof(j.err))) {
		fprintf(stderr, "wisp-jailer: %s\n%s", j.err, jailer_usage);
		return 1;
	}
	jailer_validate(&j);
	jailer_prepare_host(&j);
	if (j.args.cleanup_on_exit)
		jailer_keeper(&j);
	if (jailer_cgroup_join(&j.args, j.err, sizeof(j.err)))
		jailer_die(j.err);
	jailer_enter(&j);
	if (j.args.new_pid_ns && !j.args.cleanup_on_exit)
		jailer_new_pid_ns(&j); /* the keeper already made the child PID 1 */
	jailer_exec(&j);
	return 1;
}
