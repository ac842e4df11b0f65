/*
 * cgroup.c - --cgroup FILE=VALUE: find the hierarchy, validate, create, write, join.
 *
 * Layout (as Firecracker's jailer): v1 puts the VM in <mount of controller>/<parent>/<id>, one
 * directory per hierarchy that a --cgroup names; v2 in <cgroup2 mount>/<parent>/<id>. Mounts
 * come from /proc/self/mountinfo, so hybrid hosts (v1 controllers plus a cgroup2 mount at
 * /sys/fs/cgroup/unified) work with either version.
 *
 * Validation must reject an unknown file before anything is created, but many control files
 * exist only in non-root cgroups (v2 memory.max, v1 pids.max) and a fresh host may have no such
 * cgroup yet. So a file is "known" when it exists in one of the existing cgroups we look at
 * (the hierarchy root, our own cgroup, <parent> and its children) or is in the short table of
 * non-root-only files below. jailer_cgroup_apply() still fails closed if it turns out missing.
 */
#include "jailer/jailer.h"
#include "vmm/log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CGROUP_MOUNTINFO_MAX (1 << 20)

/* Control files that exist only below the root of a hierarchy. */
static const char *const cgroup_v1_nonroot[] = {"pids.max", NULL};
static const char *const cgroup_v2_nonroot[] = {
    "cpu.max",
    "cpu.max.burst",
    "cpu.weight",
    "cpu.weight.nice",
    "cpu.idle",
    "cpu.uclamp.min",
    "cpu.uclamp.max",
    "cpuset.cpus",
    "cpuset.mems",
    "cpuset.cpus.exclusive",
    "cpuset.cpus.partition",
    "io.max",
    "io.weight",
    "io.latency",
    "io.bfq.weight",
    "memory.min",
    "memory.low",
    "memory.high",
    "memory.max",
    "memory.oom.group",
    "memory.swap.high",
    "memory.swap.max",
    "memory.zswap.max",
    "memory.zswap.writeback",
    "memory.peak",
    "pids.max",
    "pids.peak",
    NULL,
};

/* Copies the next space-separated field of *p into out (unescaping mountinfo's \ooo octal
 * escapes) and advances *p. -1 at the end of the line or when out is too small. */
static int cgroup_field(const char **p, char *out, size_t outlen)
{
	const char *s = *p;
	size_t n = 0;

	while (*s == ' ')
		s++;
	if (!*s || *s == '\n')
		return -1;
	for (; *s && *s != ' ' && *s != '\n'; s++) {
		char c = *s;

		if (c == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			c = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 3;
		}
		if (n + 1 >= outlen)
			return -1;
		out[n++] = c;
	}
	out[n] = '\0';
	*p = s;
	return 0;
}

/* True when the comma-separated list has item as one of its entries. */
static bool cgroup_list_has(const char *list, const char *item)
{
	size_t n = strlen(item);

	for (const char *p = list; p && *p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL)
		if (!strncmp(p, item, n) && (p[n] == ',' || p[n] == '\0'))
			return true;
	return false;
}

/* Super options of a v1 cgroup mount that are not controller names. */
static const char cgroup_mount_options[] =
    "rw,ro,xattr,noprefix,clone_children,cpuset_v2_mode,favordynmods,none";

/* One mountinfo line: "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [OPTIONAL...] - TYPE SRC SUPER". */
static bool cgroup_line_matches(const char *line, int version, const char *controller, char *mnt,
                                size_t mntlen)
{
	char field[PATH_MAX], type[32], super[512];
	const char *p = line;

	for (int i = 0; i < 5; i++) {
		char *dst = i == 4 ? mnt : field;

		if (cgroup_field(&p, dst, i == 4 ? mntlen : sizeof(field)))
			return false;
	}
	/* Skip the options and optional fields up to the lone "-". */
	do {
		if (cgroup_field(&p, field, sizeof(field)))
			return false;
	} while (strcmp(field, "-"));
	if (cgroup_field(&p, type, sizeof(type)) || cgroup_field(&p, field, sizeof(field)) ||
	    cgroup_field(&p, super, sizeof(super)))
		return false;
	if (version == 2)
		return !strcmp(type, "cgroup2");
	return !strcmp(type, "cgroup") && !cgroup_list_has(cgroup_mount_options, controller) &&
	       cgroup_list_has(super, controller);
}

int jailer_cgroup_find_mount(const char *mountinfo, int version, const char *controller, char *out,
                             size_t outlen)
{
	for (const char *line = mountinfo; line && *line;) {
		const char *nl = strchr(line, '\n');

		if (cgroup_line_matches(line, version, controller, out, outlen))
			return 0;
		line = nl ? nl + 1 : NULL;
	}
	return -1;
}

/* out = dir/file. 0, or -1 when it does not fit. */
static int cgroup_join(char *out, size_t outlen, const char *dir, const char *file)
{
	int n = snprintf(out, outlen, "%s/%s", dir, file);

	return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

/* Reads a whole (small, procfs or cgroupfs) file into a malloc'd NUL-terminated buffer. */
static char *cgroup_read_file(const char *path, size_t max)
{
	size_t len = 0;
	char *buf = malloc(max + 1);
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (!buf || fd < 0) {
		free(buf);
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	for (;;) {
		ssize_t n = read(fd, buf + len, max - len);

		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';
	return buf;
}

/* Our own cgroup path for controller (v1) or in the unified hierarchy (v2), from
 * /proc/self/cgroup ("ID:CONTROLLERS:/PATH"). 0 or -1. */
static int cgroup_own_path(int version, const char *controller, char *out, size_t outlen)
{
	char *text = cgroup_read_file("/proc/self/cgroup", 65536);
	int rc = -1;

	if (!text)
		return -1;
	for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
		char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;

		if (!c2)
			continue;
		*c2 = '\0';
		if ((version == 2 && c1[1] == '\0') ||
		    (version == 1 && cgroup_list_has(c1 + 1, controller))) {
			rc = (size_t)snprintf(out, outlen, "%s", c2 + 1) < outlen ? 0 : -1;
			break;
		}
	}
	free(text);
	return rc;
}

static bool cgroup_exists(const char *dir, const char *file)
{
	char path[PATH_MAX];

	if (cgroup_join(path, sizeof(path), dir, file))
		return false;
	return access(path, F_OK) == 0;
}

/* True when any child directory of dir has file (earlier jails under <parent>). */
static bool cgroup_child_has(const char *dir, const char *file)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char sub[PATH_MAX];
	bool found = false;

	if (!d)
		return false;
	while (!found && (e = readdir(d))) {
		if (e->d_type != DT_DIR || e->d_name[0] == '.')
			continue;
		if ((size_t)snprintf(sub, sizeof(sub), "%s/%s", dir, e->d_name) < sizeof(sub))
			found = cgroup_exists(sub, file);
	}
	closedir(d);
	return found;
}

static bool cgroup_in_table(int version, const char *file)
{
	const char *const *t = version == 1 ? cgroup_v1_nonroot : cgroup_v2_nonroot;

	size_t n = strlen(file);

	for (; *t; t++)
		if (!strcmp(*t, file))
			return true;
	/* v2 hugetlb.<page size>.max and .rsvd.max: the page sizes depend on the CPU. */
	return version == 2 && !strncmp(file, "hugetlb.", 8) && n > 12 &&
	       !strcmp(file + n - 4, ".max");
}

/* Is file a control file of this hierarchy? See the comment at the top. */
static bool cgroup_file_known(const struct jailer_args *args, const char *mnt,
                              const struct jailer_cgroup *cg)
{
	char dir[PATH_MAX], own[PATH_MAX];

	if (cgroup_exists(mnt, cg->file) || cgroup_in_table(args->cgroup_version, cg->file))
		return true;
	if (!cgroup_own_path(args->cgroup_version, cg->controller, own, sizeof(own)) &&
	    (size_t)snprintf(dir, sizeof(dir), "%s%s", mnt, own) < sizeof(dir) &&
	    cgroup_exists(dir, cg->file))
		return true;
	if ((size_t)snprintf(dir, sizeof(dir), "%s/%s", mnt, args->parent_cgroup) >= sizeof(dir))
		return false;
	return cgroup_exists(dir, cg->file) || cgroup_child_has(dir, cg->file);
}

/* v2: the controller must be available at the root ("cgroup.*" core files need none). */
static int cgroup_v2_controller_ok(const char *mnt, const struct jailer_cgroup *cg, char *err,
                                   size_t errlen)
{
	char path[PATH_MAX];
	char *list;
	bool ok = false;

	if (!strcmp(cg->controller, "cgroup"))
		return 0;
	list = cgroup_join(path, sizeof(path), mnt, "cgroup.controllers")
	           ? NULL
	           : cgroup_read_file(path, 4096);
	if (list) {
		list[strcspn(list, "\n")] = '\0';
		for (char *w = strtok(list, " "); w && !ok; w = strtok(NULL, " "))
			ok = !strcmp(w, cg->controller);
		free(list);
	}
	if (!ok)
		return error_set(err, errlen,
		                 "--cgroup %s: controller %s is not available in the cgroup v2 "
		                 "hierarchy at %s",
		                 cg->file, cg->controller, mnt);
	return 0;
}

static int cgroup_validate_one(struct jailer_args *args, const char *mountinfo,
                               struct jailer_cgroup *cg, char *err, size_t errlen)
{
	char mnt[PATH_MAX];
	int v = args->cgroup_version;

	if (jailer_cgroup_find_mount(mountinfo, v, cg->controller, mnt, sizeof(mnt))) {
		if (v == 2)
			return error_set(err, errlen,
			                 "--cgroup %s: no cgroup2 file system is "
			                 "mounted (try --cgroup-version 1)",
			                 cg->file);
		return error_set(err, errlen,
		                 "--cgroup %s: no cgroup v1 hierarchy with the %s controller is "
		                 "mounted (try --cgroup-version 2)",
		                 cg->file, cg->controller);
	}
	if (v == 2 && cgroup_v2_controller_ok(mnt, cg, err, errlen))
		return -1;
	if (!cgroup_file_known(args, mnt, cg))
		return error_set(err, errlen, "--cgroup %s: unknown cgroup file (not in %s)",
		                 cg->file, mnt);
	if ((size_t)snprintf(cg->dir, sizeof(cg->dir), "%s/%s/%s", mnt, args->parent_cgroup,
	                     args->id) >= sizeof(cg->dir))
		return error_set(err, errlen, "--cgroup %s: path too long", cg->file);
	return 0;
}

int jailer_cgroup_validate(struct jailer_args *args, char *err, size_t errlen)
{
	char *mountinfo;
	int rc = 0;

	if (!args->n_cgroups)
		return 0;
	mountinfo = cgroup_read_file("/proc/self/mountinfo", CGROUP_MOUNTINFO_MAX);
	if (!mountinfo)
		return error_set(err, errlen, "/proc/self/mountinfo: %s", strerror(errno));
	for (unsigned i = 0; i < args->n_cgroups && !rc; i++)
		rc = cgroup_validate_one(args, mountinfo, &args->cgroups[i], err, errlen);
	free(mountinfo);
	return rc;
}

/* Writes value into dir/file (which must exist: cgroupfs creates no files). */
static int cgroup_write(const char *dir, const char *file, const char *value, char *err,
                        size_t errlen)
{
	char path[PATH_MAX];
	size_t n = strlen(value);
	int fd;

	if (cgroup_join(path, sizeof(path), dir, file))
		return error_set(err, errlen, "cgroup %s: path too long", dir);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return error_set(err, errlen, "cgroup %s: %s", path,
		                 errno == ENOENT ? "unknown cgroup file" : strerror(errno));
	if (write(fd, value, n) != (ssize_t)n) {
		int e = errno;

		close(fd);
		return error_set(err, errlen, "cgroup %s: writing '%s': %s", path, value,
		                 strerror(e));
	}
	if (close(fd))
		return error_set(err, errlen, "cgroup %s: writing '%s': %s", path, value,
		                 strerror(errno));
	return 0;
}

/* v1 cpuset: a new cpuset has empty cpus/mems and refuses tasks; inherit the parent's. */
static int cgroup_cpuset_inherit(const char *dir, char *err, size_t errlen)
{
	static const char *const files[] = {"cpuset.cpus", "cpuset.mems"};
	char path[PATH_MAX], parent[PATH_MAX];

	snprintf(parent, sizeof(parent), "%s", dir);
	*strrchr(parent, '/') = '\0';
	for (unsigned i = 0; i < 2; i++) {
		char *mine, *theirs;
		int rc = 0;

		mine = cgroup_join(path, sizeof(path), dir, files[i])
		           ? NULL
		           : cgroup_read_file(path, 4096);
		theirs = cgroup_join(path, sizeof(path), parent, files[i])
		             ? NULL
		             : cgroup_read_file(path, 4096);
		if (mine && theirs && (mine[0] == '\0' || mine[0] == '\n'))
			rc = cgroup_write(dir, files[i], theirs, err, errlen);
		free(mine);
		free(theirs);
		if (rc)
			return -1;
	}
	return 0;
}

/* v2: enables every controller the --cgroup list uses in dir's cgroup.subtree_control. */
static int cgroup_v2_enable(const struct jailer_args *args, const char *dir, char *err,
                            size_t errlen)
{
	for (unsigned i = 0; i < args->n_cgroups; i++) {
		char word[40];
		const char *c = args->cgroups[i].controller;

		if (!strcmp(c, "cgroup"))
			continue;
		snprintf(word, sizeof(word), "+%s", c);
		if (cgroup_write(dir, "cgroup.subtree_control", word, err, errlen))
			return -1;
	}
	return 0;
}

/* One level of the cgroup path: v2 enables the controllers in the level above (a child only
 * gets the files of controllers its parent enabled), then mkdir, then v1 cpuset inherits. */
static int cgroup_create_level(const struct jailer_args *args, const struct jailer_cgroup *cg,
                               const char *path, char *err, size_t errlen)
{
	char parent[PATH_MAX];

	snprintf(parent, sizeof(parent), "%s", path);
	*strrchr(parent, '/') = '\0';
	if (args->cgroup_version == 2 && cgroup_v2_enable(args, parent, err, errlen))
		return -1;
	if (mkdir(path, 0755) && errno != EEXIST)
		return error_set(err, errlen, "cgroup %s: %s", path, strerror(errno));
	if (args->cgroup_version == 1 && !strcmp(cg->controller, "cpuset"))
		return cgroup_cpuset_inherit(path, err, errlen);
	return 0;
}

/* Creates cg->dir = <mount>/<parent>/<id> level by level below the mount point. */
static int cgroup_create(const struct jailer_args *args, const struct jailer_cgroup *cg, char *err,
                         size_t errlen)
{
	char path[PATH_MAX];
	size_t mnt_len = strlen(cg->dir) - strlen(args->parent_cgroup) - strlen(args->id) - 2;

	snprintf(path, sizeof(path), "%s", cg->dir);
	for (char *p = strchr(path + mnt_len + 1, '/'); p; p = strchr(p + 1, '/')) {
		int rc;

		*p = '\0';
		rc = cgroup_create_level(args, cg, path, err, errlen);
		*p = '/';
		if (rc)
			return -1;
	}
	return cgroup_create_level(args, cg, path, err, errlen);
}

/* True when an earlier --cgroup already uses the same directory. */
static bool cgroup_dir_seen(const struct jailer_args *args, unsigned i)
{
	for (unsigned j = 0; j < i; j++)
		if (!strcmp(args->cgroups[j].dir, args->cgroups[i].dir))
			return true;
	return false;
}

int jailer_cgroup_apply(const struct jailer_args *args, char *err, size_t errlen)
{
	for (unsigned i = 0; i < args->n_cgroups; i++)
		if (!cgroup_dir_seen(args, i) &&
		    cgroup_create(args, &args->cgroups[i], err, errlen))
			return -1;
	/* Limits first, then join: a v1 cpuset refuses tasks until cpus/mems are set. */
	for (unsigned i = 0; i < args->n_cgroups; i++) {
		const struct jailer_cgroup *cg = &args->cgroups[i];

		if (cgroup_write(cg->dir, cg->file, cg->value, err, errlen))
			return -1;
	}
	return 0;
}

int jailer_cgroup_join(const struct jailer_args *args, char *err, size_t errlen)
{
	char pid[32];

	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	for (unsigned i = 0; i < args->n_cgroups; i++)
		if (!cgroup_dir_seen(args, i) &&
		    cgroup_write(args->cgroups[i].dir, "cgroup.procs", pid, err, errlen))
			return -1;
	return 0;
}
