/*
 * args.c - the jailer's command line: syntax only, no file system access (see jailer.h).
 *
 * Everything here is a pure function of its arguments so that tests/unit/test_jailer.c can
 * feed it every bad form. Checks that need the file system (does the exec file exist, is the
 * netns path a namespace, is the cgroup file known) live in fs.c, privs.c and cgroup.c.
 */
#include "jailer/jailer.h"
#include "vmm/log.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

bool jailer_id_valid(const char *id)
{
	size_t n = strlen(id);

	if (n == 0 || n > JAILER_ID_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = id[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-'))
			return false;
	}
	return true;
}

int jailer_parse_uint32(const char *s, unsigned *out)
{
	unsigned long long v = 0;

	if (!*s || strlen(s) > 10)
		return -1;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		v = v * 10 + (unsigned)(*p - '0');
	}
	/* (uid_t)-1 means "unchanged" to setresuid(): never a real id. */
	if (v >= 0xffffffffULL)
		return -1;
	*out = (unsigned)v;
	return 0;
}

/* One path component of [A-Za-z0-9._-], not "." or "..". */
static bool args_component_valid(const char *s, size_t n)
{
	if (n == 0 || n > NAME_MAX)
		return false;
	if ((n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return false;
	}
	return true;
}

bool jailer_relpath_valid(const char *path)
{
	const char *p = path;

	if (!*path || strlen(path) >= 1024)
		return false;
	for (;;) {
		const char *slash = strchr(p, '/');
		size_t n = slash ? (size_t)(slash - p) : strlen(p);

		if (!args_component_valid(p, n))
			return false;
		if (!slash)
			return true;
		p = slash + 1;
	}
}

const char *jailer_basename(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

int jailer_cgroup_parse(const char *arg, struct jailer_cgroup *cg, char *err, size_t errlen)
{
	const char *eq = strchr(arg, '=');
	const char *dot;
	size_t flen;

	memset(cg, 0, sizeof(*cg));
	if (!eq)
		return error_set(err, errlen, "--cgroup %s: expected FILE=VALUE", arg);
	flen = (size_t)(eq - arg);
	if (flen >= sizeof(cg->file) || !args_component_valid(arg, flen))
		return error_set(err, errlen, "--cgroup %s: bad cgroup file name", arg);
	memcpy(cg->file, arg, flen);
	dot = strchr(cg->file, '.');
	if (!dot || dot == cg->file || !dot[1] ||
	    (size_t)(dot - cg->file) >= sizeof(cg->controller))
		return error_set(err, errlen,
		                 "--cgroup %s: the file must be CONTROLLER.NAME (e.g. cpuset.cpus)",
		                 arg);
	memcpy(cg->controller, cg->file, (size_t)(dot - cg->file));
	if (strlen(eq + 1) >= sizeof(cg->value) || strpbrk(eq + 1, "\n"))
		return error_set(err, errlen, "--cgroup %s: bad value", arg);
	if (!eq[1])
		return error_set(err, errlen, "--cgroup %s: empty value", arg);
	strcpy(cg->value, eq + 1);
	return 0;
}

int jailer_rlimit_parse(const char *arg, struct jailer_rlimit *rl, char *err, size_t errlen)
{
	const char *eq = strchr(arg, '=');
	const char *num;
	char *end;

	if (!eq)
		return error_set(err, errlen, "--resource-limit %s: expected RESOURCE=VALUE", arg);
	if ((size_t)(eq - arg) == 5 && !strncmp(arg, "fsize", 5))
		rl->resource = RLIMIT_FSIZE;
	else if ((size_t)(eq - arg) == 7 && !strncmp(arg, "no-file", 7))
		rl->resource = RLIMIT_NOFILE;
	else
		return error_set(err, errlen,
		                 "--resource-limit %s: unknown resource (fsize or no-file)", arg);
	num = eq + 1;
	if (*num < '0' || *num > '9')
		return error_set(err, errlen, "--resource-limit %s: not a decimal number", arg);
	errno = 0;
	rl->value = strtoull(num, &end, 10);
	if (errno || *end)
		return error_set(err, errlen, "--resource-limit %s: not a decimal number", arg);
	return 0;
}

/* The value of option argv[*i] ("--opt VALUE" or "--opt=VALUE"); advances *i. NULL when the
 * value is missing. */
static const char *args_value(int argc, char *const argv[], int *i, const char *name)
{
	size_t n = strlen(name);
	const char *a = argv[*i];

	if (a[n] == '=')
		return a + n + 1;
	if (*i + 1 >= argc)
		return NULL;
	(*i)++;
	return argv[*i];
}

/* argv[i] is option name, alone or as "name=value". */
static bool args_is(const char *a, const char *name)
{
	size_t n = strlen(name);

	return !strncmp(a, name, n) && (a[n] == '\0' || a[n] == '=');
}

/* Stores a single-valued option, refusing a second occurrence. */
static int args_set_once(const char **slot, const char *value, const char *name, char *err,
                         size_t errlen)
{
	if (*slot)
		return error_set(err, errlen, "%s given twice", name);
	*slot = value;
	return 0;
}

static int args_id(struct jailer_args *args, char *err, size_t errlen)
{
	if (!args->id)
		return error_set(err, errlen, "--id is required");
	if (!jailer_id_valid(args->id))
		return error_set(err, errlen,
		                 "--id '%s': must be 1..%d characters of A-Z, a-z, 0-9 and '-'",
		                 args->id, JAILER_ID_MAX);
	return 0;
}

static int args_ids(struct jailer_args *args, const char *uid, const char *gid, char *err,
                    size_t errlen)
{
	unsigned v;

	if (!uid || !gid)
		return error_set(err, errlen, "--uid and --gid are required");
	if (jailer_parse_uint32(uid, &v))
		return error_set(err, errlen, "--uid '%s': not a numeric user id", uid);
	args->uid = v;
	if (jailer_parse_uint32(gid, &v))
		return error_set(err, errlen, "--gid '%s': not a numeric group id", gid);
	args->gid = v;
	/* A jailed wisp running as root would make every other step decorative. */
	if (args->uid == 0 || args->gid == 0)
		return error_set(err, errlen, "--uid/--gid 0: the jailed process must not be root");
	return 0;
}

static int args_paths(struct jailer_args *args, char *err, size_t errlen)
{
	const char *name;

	if (!args->exec_file || !*args->exec_file)
		return error_set(err, errlen, "--exec-file is required");
	name = jailer_basename(args->exec_file);
	/* The copy must not collide with what the jailer itself puts in the jail root. */
	if (!strcmp(name, "dev") || !strcmp(name, JAILER_PID_FILE))
		return error_set(err, errlen, "--exec-file %s: the file may not be named '%s'",
		                 args->exec_file, name);
	if (!args_component_valid(name, strlen(name)))
		return error_set(
		    err, errlen,
		    "--exec-file %s: the file name must be of A-Z, a-z, 0-9, '.', '_', "
		    "'-'",
		    args->exec_file);
	if (args->chroot_base[0] != '/' || strstr(args->chroot_base, "/..") ||
	    strlen(args->chroot_base) > 1024)
		return error_set(err, errlen,
		                 "--chroot-base-dir %s: must be an absolute path without '..'",
		                 args->chroot_base);
	if (!jailer_relpath_valid(args->parent_cgroup))
		return error_set(err, errlen,
		                 "--parent-cgroup %s: must be a relative path of A-Z, a-z, 0-9, "
		                 "'.', '_', '-' (no '..')",
		                 args->parent_cgroup);
	if (args->netns && args->netns[0] != '/')
		return error_set(err, errlen, "--netns %s: must be an absolute path", args->netns);
	return 0;
}

static int args_version(struct jailer_args *args, const char *v, char *err, size_t errlen)
{
	if (!v)
		return 0;
	if (strcmp(v, "1") && strcmp(v, "2"))
		return error_set(err, errlen, "--cgroup-version %s: must be 1 or 2", v);
	args->cgroup_version = v[0] - '0';
	return 0;
}

/* Options that may repeat: --cgroup and --resource-limit. */
static int args_repeated(struct jailer_args *args, const char *opt, const char *v, char *err,
                         size_t errlen)
{
	if (!strcmp(opt, "--cgroup")) {
		if (args->n_cgroups == JAILER_MAX_CGROUPS)
			return error_set(err, errlen, "too many --cgroup (at most %d)",
			                 JAILER_MAX_CGROUPS);
		return jailer_cgroup_parse(v, &args->cgroups[args->n_cgroups++], err, errlen);
	}
	if (args->n_rlimits == JAILER_MAX_RLIMITS)
		return error_set(err, errlen, "too many --resource-limit (at most %d)",
		                 JAILER_MAX_RLIMITS);
	return jailer_rlimit_parse(v, &args->rlimits[args->n_rlimits++], err, errlen);
}

/* The single-valued options in the order of slots[] below. */
static const char *const args_single[] = {
    "--id",
    "--exec-file",
    "--uid",
    "--gid",
    "--netns",
    "--parent-cgroup",
    "--chroot-base-dir",
    "--cgroup-version",
};
#define ARGS_N_SINGLE (sizeof(args_single) / sizeof(args_single[0]))

/* One option at argv[*i] into slots (single-valued) or args (repeated/flags). */
static int args_one(int argc, char *const argv[], int *i, struct jailer_args *args,
                    const char *slots[], char *err, size_t errlen)
{
	const char *a = argv[*i];
	const char *v;

	if (!strcmp(a, "--daemonize")) {
		args->daemonize = true;
		return 0;
	}
	if (!strcmp(a, "--new-pid-ns")) {
		args->new_pid_ns = true;
		return 0;
	}
	if (!strcmp(a, "--cleanup-on-exit")) {
		args->cleanup_on_exit = true;
		return 0;
	}
	for (size_t k = 0; k < ARGS_N_SINGLE; k++) {
		if (!args_is(a, args_single[k]))
			continue;
		v = args_value(argc, argv, i, args_single[k]);
		if (!v)
			return error_set(err, errlen, "%s needs a value", args_single[k]);
		return args_set_once(&slots[k], v, args_single[k], err, errlen);
	}
	if (args_is(a, "--cgroup") || args_is(a, "--resource-limit")) {
		const char *opt = a[2] == 'c' ? "--cgroup" : "--resource-limit";

		v = args_value(argc, argv, i, opt);
		if (!v)
			return error_set(err, errlen, "%s needs a value", opt);
		return args_repeated(args, opt, v, err, errlen);
	}
	return error_set(err, errlen, "unknown option '%s' (wisp's own options go after --)", a);
}

int jailer_args_parse(int argc, char *const argv[], struct jailer_args *args, char *err,
                      size_t errlen)
{
	static char *const no_args[] = {NULL};
	const char *slots[ARGS_N_SINGLE] = {0};
	int i;

	memset(args, 0, sizeof(*args));
	args->wisp_argv = no_args;
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--")) {
			args->wisp_argv = &argv[i + 1];
			args->wisp_argc = argc - i - 1;
			break;
		}
		if (args_one(argc, argv, &i, args, slots, err, errlen))
			return -1;
	}
	args->id = slots[0];
	args->exec_file = slots[1];
	args->netns = slots[4];
	args->parent_cgroup = slots[5] ? slots[5] : JAILER_DEFAULT_PARENT;
	args->chroot_base = slots[6] ? slots[6] : JAILER_DEFAULT_BASE;
	args->cgroup_version = 1;
	if (args_id(args, err, errlen) || args_ids(args, slots[2], slots[3], err, errlen) ||
	    args_paths(args, err, errlen) || args_version(args, slots[7], err, errlen))
		return -1;
	/* The cleanup runs when wisp exits: a jailer that returned at once would never see it. */
	if (args->cleanup_on_exit && args->daemonize)
		return error_set(err, errlen,
		                 "--cleanup-on-exit waits for wisp: it cannot be combined with "
		                 "--daemonize (start the jailer in the background instead)");
	return 0;
}
