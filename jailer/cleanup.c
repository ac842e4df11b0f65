/*
 * cleanup.c - --cleanup-on-exit: remove the VM's jail directory and cgroups after wisp exits.
 *
 * What goes (docs/jailer.md, "Cleanup"): the jail directory <base>/<exec name>/<id> with
 * everything in it (the operator's hard links and copies, the binary copy, the device nodes,
 * the pid file, wisp's API socket) and the VM's cgroup <hierarchy>/<parent>/<id> in each
 * hierarchy. What stays: the directories above (<base>, <base>/<exec name>) and the parent
 * cgroup, which all VMs share; removing them would race with a jailer starting next to us.
 *
 * The jail root belonged to the VM's uid, so nothing inside it is trusted: the tree is walked
 * by directory fds (openat/fstatat/unlinkat), never following a symlink (a symlink is
 * unlinked, not its target), and never descending into another mount (an operator's bind
 * mount below the jail is left in place and reported). A hard link is only unlinked, so the
 * file it shares an inode with on the host stays.
 */
#include "jailer/jailer.h"
#include "vmm/log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Deeper than any jail the operator or wisp builds; a deeper tree is left and reported. */
#define CLEANUP_MAX_DEPTH 32
/* rmdir of a cgroup whose last task was just reaped may see EBUSY for a moment. */
#define CLEANUP_CGROUP_TRIES    200
#define CLEANUP_CGROUP_SLEEP_NS 5000000L

/* The mount a directory fd is on: statx's mount id where the kernel has it (5.8+), else the
 * device number (which cannot see a bind mount from the same file system). */
static int cleanup_mount_of(int fd, const char *name, unsigned long long *mnt)
{
	struct statx stx;

	if (statx(fd, name, AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH, STATX_MNT_ID | STATX_TYPE, &stx))
		return -1;
	if (stx.stx_mask & STATX_MNT_ID)
		*mnt = stx.stx_mnt_id;
	else
		*mnt = ((unsigned long long)stx.stx_dev_major << 32) | stx.stx_dev_minor;
	return 0;
}

static int cleanup_tree(int dirfd, unsigned long long mnt, int depth, const char *where, char *err,
                        size_t errlen);

/* Removes entry name of dirfd: a directory (same mount only) with its contents, anything
 * else with unlink. 0, or -1 with err (the walk goes on and removes what it can). */
static int cleanup_entry(int dirfd, const char *name, unsigned long long mnt, int depth,
                         const char *where, char *err, size_t errlen)
{
	char path[PATH_MAX];
	unsigned long long sub_mnt;
	struct stat st;
	int sub, rc;

	snprintf(path, sizeof(path), "%s/%s", where, name);
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW))
		return errno == ENOENT ? 0
		                       : error_set(err, errlen, "%s: %s", path, strerror(errno));
	if (!S_ISDIR(st.st_mode)) {
		if (unlinkat(dirfd, name, 0) && errno != ENOENT)
			return error_set(err, errlen, "%s: cannot remove: %s", path,
			                 strerror(errno));
		return 0;
	}
	if (cleanup_mount_of(dirfd, name, &sub_mnt))
		return error_set(err, errlen, "%s: %s", path, strerror(errno));
	if (sub_mnt != mnt)
		return error_set(err, errlen, "%s: a mount point, left in place", path);
	if (depth >= CLEANUP_MAX_DEPTH)
		return error_set(err, errlen, "%s: nested too deep, left in place", path);
	/* O_NOFOLLOW: swapped for a symlink since the fstatat, it is not followed. */
	sub = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (sub < 0)
		return error_set(err, errlen, "%s: %s", path, strerror(errno));
	rc = cleanup_tree(sub, mnt, depth + 1, path, err, errlen);
	close(sub);
	if (unlinkat(dirfd, name, AT_REMOVEDIR) && errno != ENOENT && !rc)
		rc = error_set(err, errlen, "%s: cannot remove: %s", path, strerror(errno));
	return rc;
}

/* Removes everything inside the directory dirfd (on mount mnt); where names it in messages.
 * The first error is kept in err; the walk removes everything else it can. */
static int cleanup_tree(int dirfd, unsigned long long mnt, int depth, const char *where, char *err,
                        size_t errlen)
{
	int fd = dup(dirfd);
	struct dirent *e;
	DIR *d;
	int rc = 0;

	if (fd < 0 || !(d = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		return error_set(err, errlen, "%s: %s", where, strerror(errno));
	}
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		/* Keep the first message: it names the first thing left behind. */
		if (cleanup_entry(dirfd, e->d_name, mnt, depth, where, rc ? NULL : err,
		                  rc ? 0 : errlen))
			rc = -1;
	}
	closedir(d);
	return rc;
}

int jailer_remove_tree_contents(int dirfd, const char *where, char *err, size_t errlen)
{
	unsigned long long mnt;

	if (cleanup_mount_of(dirfd, "", &mnt))
		return error_set(err, errlen, "%s: %s", where, strerror(errno));
	return cleanup_tree(dirfd, mnt, 0, where, err, errlen);
}

int jailer_cleanup_jail(const char *root, int jail_fd, char *err, size_t errlen)
{
	char dir[PATH_MAX];
	char *slash;

	if ((size_t)snprintf(dir, sizeof(dir), "%s", root) >= sizeof(dir) ||
	    !(slash = strrchr(dir, '/')))
		return error_set(err, errlen, "jail %s: path too long", root);
	*slash = '\0'; /* <base>/<exec name>/<id> */
	if (jailer_remove_tree_contents(jail_fd, dir, err, errlen))
		return -1;
	/* <base>/<exec name> is root's (0755): the VM never owned it, a path is safe here. */
	if (rmdir(dir) && errno != ENOENT)
		return error_set(err, errlen, "%s: cannot remove: %s", dir, strerror(errno));
	return 0;
}

int jailer_cleanup_cgroups(const struct jailer_args *args, char *err, size_t errlen)
{
	const struct timespec pause = {0, CLEANUP_CGROUP_SLEEP_NS};
	int rc = 0;

	for (unsigned i = 0; i < args->n_cgroups; i++) {
		const char *dir = args->cgroups[i].dir;
		int tries = CLEANUP_CGROUP_TRIES, r;
		bool seen = false;

		for (unsigned k = 0; k < i; k++)
			seen |= !strcmp(args->cgroups[k].dir, dir);
		if (seen)
			continue;
		while ((r = rmdir(dir)) && errno == EBUSY && --tries > 0)
			nanosleep(&pause, NULL);
		if (r == 0 || errno == ENOENT)
			continue;
		if (!rc)
			rc = error_set(err, errlen, "cgroup %s: cannot remove: %s", dir,
			               strerror(errno));
	}
	return rc;
}
