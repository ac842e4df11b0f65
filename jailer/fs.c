/*
 * fs.c - the jail on disk: directory, exec-file copy, pid file, pivot_root, device nodes.
 *
 * A jail directory may be reused (the operator hard-links kernels and disks into it before
 * starting the jailer), and the previous wisp that ran there owned its root directory. So
 * nothing found inside <root> is trusted: files the jailer writes are unlinked and created
 * with O_EXCL | O_NOFOLLOW, and directories it expects are checked with lstat(), so that a
 * symlink left behind cannot redirect a write by root onto the host.
 */
#include "jailer/jailer.h"
#include "vmm/log.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

int jailer_check_exec_file(const char *path, char *err, size_t errlen)
{
	struct stat st;

	if (stat(path, &st))
		return error_set(err, errlen, "--exec-file %s: %s", path, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return error_set(err, errlen, "--exec-file %s: not a regular file", path);
	if (!(st.st_mode & 0111))
		return error_set(err, errlen, "--exec-file %s: not executable", path);
	return 0;
}

int jailer_check_chroot_base(const char *path, char *err, size_t errlen)
{
	struct stat st;

	if (stat(path, &st)) {
		if (errno == ENOENT)
			return 0; /* created by jailer_jail_create() */
		return error_set(err, errlen, "--chroot-base-dir %s: %s", path, strerror(errno));
	}
	if (!S_ISDIR(st.st_mode))
		return error_set(err, errlen, "--chroot-base-dir %s: not a directory", path);
	return 0;
}

int jailer_jail_root_path(const struct jailer_args *args, char *out, size_t outlen)
{
	int n = snprintf(out, outlen, "%s/%s/%s/root", args->chroot_base,
	                 jailer_basename(args->exec_file), args->id);

	return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

/* Reads a decimal pid from an open pid file. 0 with *pid, or -1 (malformed). */
static int fs_read_pid(int fd, pid_t *pid)
{
	char buf[32];
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	char *end;
	long v;

	if (n <= 0)
		return -1;
	buf[n] = '\0';
	errno = 0;
	v = strtol(buf, &end, 10);
	if (errno || end == buf || (*end && *end != '\n') || v <= 0 || v > INT_MAX)
		return -1;
	*pid = (pid_t)v;
	return 0;
}

int jailer_check_jail_free(const char *root, char *err, size_t errlen)
{
	char path[PATH_MAX];
	struct stat st;
	pid_t pid;
	int fd, rc;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", root, JAILER_PID_FILE) >= sizeof(path))
		return error_set(err, errlen, "jail %s: path too long", root);
	/* O_NONBLOCK: a FIFO left in the jail must not hang us; O_NOFOLLOW: nor a symlink. */
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		return error_set(err, errlen, "%s: %s", path, strerror(errno));
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || fs_read_pid(fd, &pid)) {
		close(fd);
		return error_set(err, errlen, "%s: not a pid file; remove it if the jail is unused",
		                 path);
	}
	close(fd);
	rc = kill(pid, 0);
	if (rc == 0 || errno == EPERM)
		return error_set(err, errlen,
		                 "jail %s is in use by process %d (%s); two VMs never share a jail",
		                 root, (int)pid, path);
	return 0;
}

/* mkdir that accepts an existing real directory (not a symlink to one). */
static int fs_mkdir_real(const char *path, char *err, size_t errlen)
{
	struct stat st;

	if (mkdir(path, 0755) && errno != EEXIST)
		return error_set(err, errlen, "%s: cannot create directory: %s", path,
		                 strerror(errno));
	if (lstat(path, &st))
		return error_set(err, errlen, "%s: %s", path, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return error_set(err, errlen, "%s: exists and is not a directory", path);
	return 0;
}

/* mkdir -p for the components of path up to (not including) the one ending at end. */
static int fs_mkdir_parents(char *path, char *err, size_t errlen)
{
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0755) && errno != EEXIST) {
			error_set(err, errlen, "%s: cannot create directory: %s", path,
			          strerror(errno));
			*p = '/';
			return -1;
		}
		*p = '/';
	}
	return 0;
}

int jailer_jail_create(const char *root, int *lock_fd, char *err, size_t errlen)
{
	char path[PATH_MAX];
	char *slash;
	int fd;

	if (strlen(root) >= sizeof(path))
		return error_set(err, errlen, "jail %s: path too long", root);
	strcpy(path, root);
	/* The base directory may be the operator's symlink; <name>, <id> and root are ours. */
	if (fs_mkdir_parents(path, err, errlen))
		return -1;
	slash = strrchr(path, '/');
	*slash = '\0';
	if (fs_mkdir_real(path, err, errlen))
		return -1;
	/* Held (close-on-exec) until exec: a second jailer for the same id waits for nobody. */
	fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return error_set(err, errlen, "%s: %s", path, strerror(errno));
	if (flock(fd, LOCK_EX | LOCK_NB)) {
		close(fd);
		return error_set(err, errlen, "jail %s: another wisp-jailer holds it", path);
	}
	*slash = '/';
	if (fs_mkdir_real(path, err, errlen) || jailer_check_jail_free(root, err, errlen)) {
		close(fd);
		return -1;
	}
	*lock_fd = fd;
	return 0;
}

/* Copies every byte of in to out. */
static int fs_copy_fd(int in, int out)
{
	char buf[65536];

	for (;;) {
		ssize_t n = copy_file_range(in, NULL, out, NULL, 1 << 30, 0);

		if (n == 0)
			return 0;
		if (n > 0)
			continue;
		if (errno != EXDEV && errno != ENOSYS && errno != EINVAL && errno != EOPNOTSUPP)
			return -1;
		break; /* not supported between these files: plain read/write */
	}
	for (;;) {
		ssize_t n = read(in, buf, sizeof(buf));

		if (n == 0)
			return 0;
		if (n < 0 || write(out, buf, (size_t)n) != n)
			return -1;
	}
}

int jailer_copy_exec(const char *exec_file, const char *root, char *err, size_t errlen)
{
	const char *name = jailer_basename(exec_file);
	char dst[PATH_MAX];
	int in, out, rc;

	if ((size_t)snprintf(dst, sizeof(dst), "%s/%s", root, name) >= sizeof(dst))
		return error_set(err, errlen, "%s/%s: path too long", root, name);
	in = open(exec_file, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return error_set(err, errlen, "--exec-file %s: %s", exec_file, strerror(errno));
	/* Whatever is there (an old copy, a link, a symlink left by the last tenant) goes. */
	if (unlink(dst) && errno != ENOENT) {
		close(in);
		return error_set(err, errlen, "%s: cannot replace: %s", dst, strerror(errno));
	}
	out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0700);
	if (out < 0) {
		close(in);
		return error_set(err, errlen, "%s: cannot create: %s", dst, strerror(errno));
	}
	rc = fs_copy_fd(in, out);
	if (!rc)
		rc = fchmod(out, 0755);
	if (rc)
		error_set(err, errlen, "copying %s to %s: %s", exec_file, dst, strerror(errno));
	close(in);
	if (close(out) && !rc)
		rc = error_set(err, errlen, "%s: %s", dst, strerror(errno));
	return rc;
}

int jailer_pivot_into(const char *root, char *err, size_t errlen)
{
	if (unshare(CLONE_NEWNS))
		return error_set(err, errlen, "unshare(CLONE_NEWNS): %s", strerror(errno));
	/* Nothing we do below may propagate back into the host's mount namespace. */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL))
		return error_set(err, errlen, "making / private: %s", strerror(errno));
	/* pivot_root() needs the new root to be a mount point. Not MS_REC: only the jail
	 * directory itself, no mount that happens to sit below it. */
	if (mount(root, root, NULL, MS_BIND, NULL))
		return error_set(err, errlen, "bind-mounting %s: %s", root, strerror(errno));
	/* No set-uid or file-capability binary inside the jail ever gains anything. */
	if (mount(NULL, root, NULL, MS_REMOUNT | MS_BIND | MS_NOSUID, NULL))
		return error_set(err, errlen, "remounting %s nosuid: %s", root, strerror(errno));
	if (chdir(root))
		return error_set(err, errlen, "%s: %s", root, strerror(errno));
	/* pivot_root(".", "."): the old root ends up stacked on the new one, and detaching the
	 * top mount of "." removes it without needing an old_root directory (pivot_root(2)). */
	if (syscall(SYS_pivot_root, ".", "."))
		return error_set(err, errlen, "pivot_root into %s: %s", root, strerror(errno));
	if (umount2(".", MNT_DETACH))
		return error_set(err, errlen, "detaching the old root: %s", strerror(errno));
	if (chdir("/"))
		return error_set(err, errlen, "chdir /: %s", strerror(errno));
	return 0;
}

/* One character device, 0600, owned by uid:gid; an old node of that name is replaced. */
static int fs_mknod(const char *path, unsigned major, unsigned minor, uid_t uid, gid_t gid,
                    char *err, size_t errlen)
{
	if (unlink(path) && errno != ENOENT)
		return error_set(err, errlen, "jail %s: cannot replace: %s", path, strerror(errno));
	if (mknod(path, S_IFCHR | 0600, makedev(major, minor)))
		return error_set(err, errlen, "jail %s: mknod: %s", path, strerror(errno));
	if (chown(path, uid, gid))
		return error_set(err, errlen, "jail %s: chown: %s", path, strerror(errno));
	return 0;
}

int jailer_make_devices(uid_t uid, gid_t gid, char *err, size_t errlen)
{
	if (fs_mkdir_real("/dev", err, errlen) || fs_mkdir_real("/dev/net", err, errlen))
		return -1;
	if (fs_mknod("/dev/kvm", JAILER_KVM_MAJOR, JAILER_KVM_MINOR, uid, gid, err, errlen) ||
	    fs_mknod("/dev/net/tun", JAILER_TUN_MAJOR, JAILER_TUN_MINOR, uid, gid, err, errlen) ||
	    fs_mknod("/dev/urandom", JAILER_URANDOM_MAJOR, JAILER_URANDOM_MINOR, uid, gid, err,
	             errlen))
		return -1;
	/* wisp creates its API socket (and logs, metrics) in its root. */
	if (chown("/", uid, gid))
		return error_set(err, errlen, "jail /: chown: %s", strerror(errno));
	return 0;
}

int jailer_write_pid_file(const char *path, pid_t pid, char *err, size_t errlen)
{
	char buf[32];
	int fd, n;

	if (unlink(path) && errno != ENOENT)
		return error_set(err, errlen, "jail %s: cannot replace: %s", path, strerror(errno));
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0)
		return error_set(err, errlen, "jail %s: %s", path, strerror(errno));
	n = snprintf(buf, sizeof(buf), "%d\n", (int)pid);
	if (write(fd, buf, (size_t)n) != n) {
		close(fd);
		return error_set(err, errlen, "jail %s: write: %s", path, strerror(errno));
	}
	if (close(fd))
		return error_set(err, errlen, "jail %s: %s", path, strerror(errno));
	return 0;
}
