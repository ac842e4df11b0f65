/*
 * privs.c - what the jailed process inherits: environment, fds, network namespace, rlimits,
 * session, and finally its identity.
 */
#include "jailer/jailer.h"
#include "vmm/log.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/nsfs.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <unistd.h>

#ifndef NSFS_MAGIC
#define NSFS_MAGIC 0x6e736673
#endif

int jailer_sanitize(char *err, size_t errlen)
{
	/* A closed stdin/stdout/stderr would be taken by the next open(): point it at
	 * /dev/null so that no file of ours ever becomes wisp's stderr. */
	for (int fd = 0; fd < 3; fd++) {
		if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF)
			continue;
		if (open("/dev/null", O_RDWR) != fd)
			return error_set(err, errlen, "fd %d closed and /dev/null unavailable", fd);
	}
	/* Modes below are meant as written (0755 directories, 0600 device nodes). */
	umask(022);
	/* Nothing from the caller's environment (LD_PRELOAD, proxies, ...) reaches wisp; execve
	 * gets an empty environment anyway, this also covers the jailer's own libc. */
	if (clearenv())
		return error_set(err, errlen, "clearenv failed");
	/* An fd inherited from the caller could be a directory outside the jail (fchdir
	 * escape) or a socket to anything: only stdin, stdout and stderr pass. */
	if (close_range(3, ~0U, 0) == 0)
		return 0;
	for (long fd = sysconf(_SC_OPEN_MAX) - 1; fd > 2; fd--)
		close((int)fd);
	return 0;
}

/* fd is an nsfs handle of a network namespace. */
static int privs_fd_is_netns(int fd, const char *path, char *err, size_t errlen)
{
	struct statfs sfs;
	int type;

	if (fstatfs(fd, &sfs))
		return error_set(err, errlen, "--netns %s: %s", path, strerror(errno));
	if ((unsigned long)sfs.f_type != NSFS_MAGIC)
		return error_set(err, errlen, "--netns %s: not a namespace (nsfs) file", path);
	type = ioctl(fd, NS_GET_NSTYPE);
	if (type != CLONE_NEWNET)
		return error_set(err, errlen, "--netns %s: not a network namespace", path);
	return 0;
}

int jailer_open_netns(const char *path, int *fd, char *err, size_t errlen)
{
	int f = open(path, O_RDONLY | O_CLOEXEC);

	if (f < 0)
		return error_set(err, errlen, "--netns %s: %s", path, strerror(errno));
	if (privs_fd_is_netns(f, path, err, errlen)) {
		close(f);
		return -1;
	}
	*fd = f;
	return 0;
}

int jailer_check_netns(const char *path, char *err, size_t errlen)
{
	int fd;

	if (jailer_open_netns(path, &fd, err, errlen))
		return -1;
	close(fd);
	return 0;
}

int jailer_join_netns(int fd, char *err, size_t errlen)
{
	int rc = setns(fd, CLONE_NEWNET);
	int e = errno;

	close(fd);
	if (rc)
		return error_set(err, errlen, "setns(--netns): %s", strerror(e));
	return 0;
}

int jailer_apply_rlimits(const struct jailer_args *args, char *err, size_t errlen)
{
	bool nofile = false;

	for (unsigned i = 0; i < args->n_rlimits; i++) {
		const struct jailer_rlimit *r = &args->rlimits[i];
		struct rlimit rl = {.rlim_cur = r->value, .rlim_max = r->value};

		nofile |= r->resource == RLIMIT_NOFILE;
		if (setrlimit(r->resource, &rl))
			return error_set(err, errlen, "--resource-limit %s=%llu: %s",
			                 r->resource == RLIMIT_NOFILE ? "no-file" : "fsize",
			                 r->value, strerror(errno));
	}
	if (!nofile) {
		struct rlimit rl = {JAILER_DEFAULT_NOFILE, JAILER_DEFAULT_NOFILE};

		if (setrlimit(RLIMIT_NOFILE, &rl))
			return error_set(err, errlen, "setrlimit(RLIMIT_NOFILE, %d): %s",
			                 JAILER_DEFAULT_NOFILE, strerror(errno));
	}
	return 0;
}

int jailer_daemonize(int devnull_fd, char *err, size_t errlen)
{
	/* setsid() fails for a process-group leader: start the jailer from a process that is
	 * not one (as Firecracker documents), or use --new-pid-ns, whose child never is. */
	if (setsid() < 0)
		return error_set(err, errlen, "--daemonize: setsid: %s", strerror(errno));
	for (int fd = 0; fd < 3; fd++)
		if (dup2(devnull_fd, fd) < 0)
			return error_set(err, errlen, "--daemonize: dup2: %s", strerror(errno));
	close(devnull_fd);
	return 0;
}

/* Empties the capability bounding set while we still have CAP_SETPCAP: no later exec can
 * regain anything, whatever file capabilities the jail holds. */
static int privs_drop_bounding_set(char *err, size_t errlen)
{
	for (int cap = 0; cap < 64; cap++) {
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) == 0)
			continue;
		if (errno == EINVAL)
			break; /* past the kernel's last capability */
		return error_set(err, errlen, "dropping capability %d: %s", cap, strerror(errno));
	}
	return 0;
}

/* Verifies the drop: real, effective and saved ids are the targets, no supplementary
 * group, no capability left, and the way back to root is closed. */
static int privs_verify(uid_t uid, gid_t gid, char *err, size_t errlen)
{
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct caps[2];
	uid_t ru, eu, su;
	gid_t rg, eg, sg;

	if (getresuid(&ru, &eu, &su) || getresgid(&rg, &eg, &sg) || ru != uid || eu != uid ||
	    su != uid || rg != gid || eg != gid || sg != gid)
		return error_set(err, errlen, "dropping privileges: ids did not stick");
	if (getgroups(0, NULL) != 0)
		return error_set(err, errlen, "dropping privileges: supplementary groups remain");
	if (syscall(SYS_capget, &hdr, caps))
		return error_set(err, errlen, "capget: %s", strerror(errno));
	if (caps[0].effective || caps[0].permitted || caps[1].effective || caps[1].permitted)
		return error_set(err, errlen, "dropping privileges: capabilities remain");
	if (setuid(0) == 0 || setgid(0) == 0)
		return error_set(err, errlen, "dropping privileges: setuid(0) still works");
	return 0;
}

int jailer_drop_privileges(uid_t uid, gid_t gid, char *err, size_t errlen)
{
	if (privs_drop_bounding_set(err, errlen))
		return -1;
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) && errno != EINVAL)
		return error_set(err, errlen, "clearing ambient capabilities: %s", strerror(errno));
	if (setgroups(0, NULL))
		return error_set(err, errlen, "setgroups: %s", strerror(errno));
	if (setresgid(gid, gid, gid))
		return error_set(err, errlen, "setresgid(%u): %s", (unsigned)gid, strerror(errno));
	if (setresuid(uid, uid, uid))
		return error_set(err, errlen, "setresuid(%u): %s", (unsigned)uid, strerror(errno));
	/* No exec from here on (wisp itself included) can gain privileges. */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		return error_set(err, errlen, "PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
	return privs_verify(uid, gid, err, errlen);
}
