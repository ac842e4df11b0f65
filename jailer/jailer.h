/*
 * jailer.h - wisp-jailer: builds a jail around one wisp process and execs it.
 *
 * The jailer runs as root, validates everything, then (in this order, see main.c and
 * docs/jailer.md): cleans its environment and fds, creates the jail directory and copies the
 * wisp binary into it, creates and joins cgroups, enters a new mount namespace and pivots into
 * the jail, creates the three device nodes wisp needs, joins the network namespace, optionally
 * forks into a new PID namespace, sets rlimits, optionally daemonizes, drops to uid:gid and
 * execs the copy with an empty environment.
 *
 * Modules share the jailer_ prefix:
 *   args.c    command-line parsing and the pure validators (unit-tested)
 *   fs.c      jail directory, exec-file copy, pid file, pivot_root, device nodes
 *   cgroup.c  finding cgroup mounts, validating and writing --cgroup files, joining
 *   privs.c   environment/fd hygiene, netns, rlimits, daemonizing, dropping privileges
 *   cleanup.c --cleanup-on-exit: removing the jail directory and the VM's cgroups
 *
 * Every function that can fail returns 0 or -1 and, on -1, leaves a one-line reason naming the
 * object in err (errlen bytes); main() prints it once and exits with code 1. Nothing here
 * aborts or prints on its own.
 */
#ifndef WISP_JAILER_H
#define WISP_JAILER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define JAILER_ID_MAX         64
#define JAILER_MAX_CGROUPS    32
#define JAILER_MAX_RLIMITS    8
#define JAILER_DEFAULT_BASE   "/srv/jailer"
#define JAILER_DEFAULT_PARENT "wisp"
#define JAILER_PID_FILE       "wisp.pid"
/* RLIMIT_NOFILE when no --resource-limit no-file= is given (as Firecracker's jailer). */
#define JAILER_DEFAULT_NOFILE 2048
/* Device nodes created inside the jail: nothing else from the host's /dev is visible. */
#define JAILER_KVM_MAJOR     10
#define JAILER_KVM_MINOR     232
#define JAILER_TUN_MAJOR     10
#define JAILER_TUN_MINOR     200
#define JAILER_URANDOM_MAJOR 1
#define JAILER_URANDOM_MINOR 9

/* One --cgroup FILE=VALUE, e.g. file "cpuset.cpus", controller "cpuset", value "0". */
struct jailer_cgroup {
	char file[64];
	char controller[32];
	char value[256];
	char dir[4096]; /* filled by jailer_cgroup_validate(): <mount>/<parent>/<id> */
};

/* One --resource-limit: resource is RLIMIT_FSIZE or RLIMIT_NOFILE. */
struct jailer_rlimit {
	int resource;
	unsigned long long value;
};

struct jailer_args {
	const char *id;
	const char *exec_file;
	uid_t uid;
	gid_t gid;
	const char *chroot_base;   /* JAILER_DEFAULT_BASE unless given */
	const char *netns;         /* NULL: stay in the current network namespace */
	const char *parent_cgroup; /* JAILER_DEFAULT_PARENT unless given */
	int cgroup_version;        /* 1 (default, as Firecracker) or 2 */
	bool daemonize;
	bool new_pid_ns;
	bool cleanup_on_exit; /* stay as a root parent; remove the jail and cgroups after wisp */
	unsigned n_cgroups;
	struct jailer_cgroup cgroups[JAILER_MAX_CGROUPS];
	unsigned n_rlimits;
	struct jailer_rlimit rlimits[JAILER_MAX_RLIMITS];
	char *const *wisp_argv; /* the arguments after "--" (NULL-terminated, may be empty) */
	int wisp_argc;
};

/* --- args.c: pure functions, no file system access ------------------------------------- */

/* Parses argv into a (zero-filled, defaulted) args. Checks only the syntax of every value:
 * ids, numbers, FILE=VALUE forms, relative parent cgroup. 0, or -1 with err. */
int jailer_args_parse(int argc, char *const argv[], struct jailer_args *args, char *err,
                      size_t errlen);
/* An id is 1..JAILER_ID_MAX characters of [A-Za-z0-9-]. */
bool jailer_id_valid(const char *id);
/* A decimal uid/gid: digits only, fits in 32 bits and is not (uid_t)-1. 0, or -1. */
int jailer_parse_uint32(const char *s, unsigned *out);
/* "cpuset.cpus=0" -> file, controller ("cpuset"), value. The file name is one path component
 * of [A-Za-z0-9._-] with a '.' after a non-empty controller; the value has no newline. */
int jailer_cgroup_parse(const char *arg, struct jailer_cgroup *cg, char *err, size_t errlen);
/* "fsize=N" or "no-file=N" (N decimal) -> resource and value. */
int jailer_rlimit_parse(const char *arg, struct jailer_rlimit *rl, char *err, size_t errlen);
/* The last path component of path (the exec file's name inside the jail). */
const char *jailer_basename(const char *path);
/* A relative path of components of [A-Za-z0-9._-], none "." or "..". */
bool jailer_relpath_valid(const char *path);

/* --- fs.c ------------------------------------------------------------------------------ */

/* exec_file exists, is a regular file and executable. */
int jailer_check_exec_file(const char *path, char *err, size_t errlen);
/* The chroot base is a directory, or does not exist yet (it is created later). */
int jailer_check_chroot_base(const char *path, char *err, size_t errlen);
/* <base>/<exec name>/<id>/root into out. -1 when it does not fit. */
int jailer_jail_root_path(const struct jailer_args *args, char *out, size_t outlen);
/* Refuses when <root>/wisp.pid names a live process: two VMs never share a jail. */
int jailer_check_jail_free(const char *root, char *err, size_t errlen);
/* Creates root (and its parents; existing directories are fine), takes an exclusive lock on
 * the jail directory (held through a close-on-exec fd, returned in *lock_fd) and re-checks
 * that the jail is free under the lock. */
int jailer_jail_create(const char *root, int *lock_fd, char *err, size_t errlen);
/* Copies exec_file to <root>/<name> (a copy, never a link), mode 0755, owned by root. */
int jailer_copy_exec(const char *exec_file, const char *root, char *err, size_t errlen);
/* New mount namespace, / made rprivate, root bind-mounted on itself, pivot_root into it and
 * the old root detached. Afterwards "/" is the jail and the cwd is "/". */
int jailer_pivot_into(const char *root, char *err, size_t errlen);
/* Inside the jail: /dev/kvm, /dev/net/tun, /dev/urandom (mode 0600) and / owned by uid:gid. */
int jailer_make_devices(uid_t uid, gid_t gid, char *err, size_t errlen);
/* Writes path (mode 0644, "PID\n"), replacing whatever is there without following it:
 * "/wisp.pid" inside the jail, or <root>/wisp.pid from the host (--cleanup-on-exit). */
int jailer_write_pid_file(const char *path, pid_t pid, char *err, size_t errlen);

/* --- cgroup.c -------------------------------------------------------------------------- */

/* Finds the mount point of controller in a /proc/self/mountinfo text. version 1: a "cgroup"
 * mount whose super options name controller; version 2: the "cgroup2" mount (controller is
 * then ignored). 0 with out filled, or -1. */
int jailer_cgroup_find_mount(const char *mountinfo, int version, const char *controller, char *out,
                             size_t outlen);
/* For every --cgroup: finds the hierarchy, checks the controller is usable and the file is a
 * control file of it (before anything is created), and fills cg->dir. */
int jailer_cgroup_validate(struct jailer_args *args, char *err, size_t errlen);
/* Creates <mount>/<parent>/<id> in each hierarchy (v2: enabling the controllers on the way;
 * v1 cpuset: inheriting cpus/mems) and writes each value. */
int jailer_cgroup_apply(const struct jailer_args *args, char *err, size_t errlen);
/* Moves this process into every <mount>/<parent>/<id> (after jailer_cgroup_apply()). */
int jailer_cgroup_join(const struct jailer_args *args, char *err, size_t errlen);

/* --- privs.c --------------------------------------------------------------------------- */

/* clearenv(), closes every fd above 2 (opening /dev/null on a closed 0, 1 or 2), umask 022. */
int jailer_sanitize(char *err, size_t errlen);
/* path is an nsfs handle of a network namespace. */
int jailer_check_netns(const char *path, char *err, size_t errlen);
/* Opens the network namespace handle (close-on-exec) for jailer_join_netns() after the pivot. */
int jailer_open_netns(const char *path, int *fd, char *err, size_t errlen);
int jailer_join_netns(int fd, char *err, size_t errlen);
/* setrlimit() for each --resource-limit; RLIMIT_NOFILE defaults to JAILER_DEFAULT_NOFILE. */
int jailer_apply_rlimits(const struct jailer_args *args, char *err, size_t errlen);
/* setsid() and stdin/stdout/stderr onto devnull_fd (opened before the pivot), then closes it. */
int jailer_daemonize(int devnull_fd, char *err, size_t errlen);
/* setgroups(0), setresgid, setresuid, no-new-privs; then verifies all ids stuck, no
 * capability is left, and setuid(0) fails. */
int jailer_drop_privileges(uid_t uid, gid_t gid, char *err, size_t errlen);

/* --- cleanup.c (--cleanup-on-exit; called on the host, as root, after wisp was reaped) -- */

/* Removes everything inside the directory dirfd without following a symlink or entering
 * another mount; where names the directory in messages. Removes all it can; 0, or -1 with the
 * first thing left behind in err. */
int jailer_remove_tree_contents(int dirfd, const char *where, char *err, size_t errlen);
/* Removes the jail directory <base>/<exec name>/<id> (root's parent; jail_fd: an fd of that
 * directory, the lock from jailer_jail_create()) and everything in it. The directories above
 * stay: every VM shares them. */
int jailer_cleanup_jail(const char *root, int jail_fd, char *err, size_t errlen);
/* rmdir of each <mount>/<parent>/<id> (waiting briefly while the kernel still counts a task
 * that was just reaped); the parent cgroup stays. A missing directory is fine. */
int jailer_cleanup_cgroups(const struct jailer_args *args, char *err, size_t errlen);

#endif
