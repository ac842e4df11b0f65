/* test_jailer.c - the jailer's argument syntax, mountinfo parsing and tree removal (jailer/args.c,
 * cgroup.c, cleanup.c). */
#include "tests/unit/unit.h"

#include "jailer/jailer.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const id65 = "a234567890123456789012345678901234567890123456789012345678901234x";

UNIT_TEST(jailer_id_accepts_alnum_and_hyphen)
{
	CHECK(jailer_id_valid("a"));
	CHECK(jailer_id_valid("551e7604-e35c-42b3-b825-416853441234"));
	CHECK(jailer_id_valid(id65 + 1)); /* exactly 64 */
}

UNIT_TEST(jailer_id_rejects_everything_else)
{
	CHECK(!jailer_id_valid(""));
	CHECK(!jailer_id_valid(id65));
	CHECK(!jailer_id_valid("a/b"));
	CHECK(!jailer_id_valid(".."));
	CHECK(!jailer_id_valid("a b"));
	CHECK(!jailer_id_valid("a_b"));
	CHECK(!jailer_id_valid("a.b"));
	CHECK(!jailer_id_valid("a\nb"));
}

UNIT_TEST(jailer_uint32_parsing)
{
	unsigned v = 7;

	CHECK_EQ(jailer_parse_uint32("0", &v), 0);
	CHECK_EQ(v, 0);
	CHECK_EQ(jailer_parse_uint32("4294967294", &v), 0);
	CHECK_EQ(v, 4294967294u);
	CHECK_EQ(jailer_parse_uint32("", &v), -1);
	CHECK_EQ(jailer_parse_uint32("-1", &v), -1);
	CHECK_EQ(jailer_parse_uint32(" 1", &v), -1);
	CHECK_EQ(jailer_parse_uint32("12a", &v), -1);
	CHECK_EQ(jailer_parse_uint32("nobody", &v), -1);
	CHECK_EQ(jailer_parse_uint32("4294967295", &v), -1); /* (uid_t)-1 */
	CHECK_EQ(jailer_parse_uint32("99999999999", &v), -1);
}

UNIT_TEST(jailer_cgroup_arg_forms)
{
	struct jailer_cgroup cg;
	char err[256];

	CHECK_EQ(jailer_cgroup_parse("cpuset.cpus=0", &cg, err, sizeof(err)), 0);
	CHECK_STR_EQ(cg.file, "cpuset.cpus");
	CHECK_STR_EQ(cg.controller, "cpuset");
	CHECK_STR_EQ(cg.value, "0");
	CHECK_EQ(jailer_cgroup_parse("memory.swap.max=256M", &cg, err, sizeof(err)), 0);
	CHECK_STR_EQ(cg.controller, "memory");
	CHECK_STR_EQ(cg.value, "256M");
	CHECK_EQ(jailer_cgroup_parse("cpu.max=50000 100000", &cg, err, sizeof(err)), 0);
	CHECK_STR_EQ(cg.value, "50000 100000");
}

UNIT_TEST(jailer_cgroup_arg_rejects)
{
	static const char *const bad[] = {
	    "cpuset.cpus",     "=1",      "cpus=0",       ".cpus=0",         "cpuset.=0",
	    "../memory.max=1", "a/b.c=1", "cpuset.cpus=", "memory.max=1\n2", "..=1",
	};
	struct jailer_cgroup cg;
	char err[256];

	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		if (jailer_cgroup_parse(bad[i], &cg, err, sizeof(err)) != -1)
			UNIT_FAIL("accepted --cgroup '%s'", bad[i]);
		CHECK_CONTAINS(err, "--cgroup");
	}
}

UNIT_TEST(jailer_rlimit_forms)
{
	struct jailer_rlimit rl;
	char err[256];

	CHECK_EQ(jailer_rlimit_parse("fsize=250000000", &rl, err, sizeof(err)), 0);
	CHECK_EQ(rl.resource, RLIMIT_FSIZE);
	CHECK_EQ(rl.value, 250000000);
	CHECK_EQ(jailer_rlimit_parse("no-file=1024", &rl, err, sizeof(err)), 0);
	CHECK_EQ(rl.resource, RLIMIT_NOFILE);
	CHECK_EQ(rl.value, 1024);
	CHECK_EQ(jailer_rlimit_parse("nofile=1", &rl, err, sizeof(err)), -1);
	CHECK_CONTAINS(err, "unknown resource");
	CHECK_EQ(jailer_rlimit_parse("fsize=-1", &rl, err, sizeof(err)), -1);
	CHECK_EQ(jailer_rlimit_parse("fsize=", &rl, err, sizeof(err)), -1);
	CHECK_EQ(jailer_rlimit_parse("fsize=1x", &rl, err, sizeof(err)), -1);
	CHECK_EQ(jailer_rlimit_parse("fsize", &rl, err, sizeof(err)), -1);
	CHECK_EQ(jailer_rlimit_parse("fsize=99999999999999999999999", &rl, err, sizeof(err)), -1);
}

UNIT_TEST(jailer_relpath_and_basename)
{
	CHECK(jailer_relpath_valid("wisp"));
	CHECK(jailer_relpath_valid("all_uvms/external-uvms"));
	CHECK(!jailer_relpath_valid(""));
	CHECK(!jailer_relpath_valid("/abs"));
	CHECK(!jailer_relpath_valid("a/../b"));
	CHECK(!jailer_relpath_valid("a//b"));
	CHECK(!jailer_relpath_valid("a/"));
	CHECK(!jailer_relpath_valid("."));
	CHECK_STR_EQ(jailer_basename("/usr/bin/wisp"), "wisp");
	CHECK_STR_EQ(jailer_basename("wisp"), "wisp");
}

/* Parses a NULL-terminated argument list. */
static int parse(struct jailer_args *a, char *err, size_t errlen, char **argv)
{
	int argc = 0;

	while (argv[argc])
		argc++;
	return jailer_args_parse(argc, argv, a, err, errlen);
}

UNIT_TEST(jailer_args_full_line_and_defaults)
{
	char *argv[] = {"wisp-jailer",
	                "--id",
	                "vm-1",
	                "--exec-file",
	                "/usr/bin/wisp",
	                "--uid",
	                "123",
	                "--gid=100",
	                "--cgroup",
	                "cpuset.cpus=0",
	                "--cgroup=memory.max=256M",
	                "--resource-limit",
	                "no-file=64",
	                "--daemonize",
	                "--new-pid-ns",
	                "--",
	                "--api-sock",
	                "/api.sock",
	                NULL};
	struct jailer_args a;
	char err[256] = "";

	CHECK_EQ(parse(&a, err, sizeof(err), argv), 0);
	CHECK_STR_EQ(a.id, "vm-1");
	CHECK_STR_EQ(a.exec_file, "/usr/bin/wisp");
	CHECK_EQ(a.uid, 123);
	CHECK_EQ(a.gid, 100);
	CHECK_STR_EQ(a.chroot_base, JAILER_DEFAULT_BASE);
	CHECK_STR_EQ(a.parent_cgroup, JAILER_DEFAULT_PARENT);
	CHECK_EQ(a.cgroup_version, 1);
	CHECK(a.daemonize && a.new_pid_ns);
	CHECK(a.netns == NULL);
	CHECK_EQ(a.n_cgroups, 2);
	CHECK_STR_EQ(a.cgroups[1].value, "256M");
	CHECK_EQ(a.n_rlimits, 1);
	CHECK_EQ(a.wisp_argc, 2);
	CHECK_STR_EQ(a.wisp_argv[0], "--api-sock");
	CHECK(a.wisp_argv[2] == NULL);
}

UNIT_TEST(jailer_args_rejects_bad_lines)
{
	static const struct {
		const char *line[12];
		const char *msg;
	} cases[] = {
	    {{"--exec-file", "/w", "--uid", "1", "--gid", "1"}, "--id is required"},
	    {{"--id", "a", "--uid", "1", "--gid", "1"}, "--exec-file is required"},
	    {{"--id", "a", "--exec-file", "/w", "--gid", "1"}, "--uid and --gid"},
	    {{"--id", "a/b", "--exec-file", "/w", "--uid", "1", "--gid", "1"}, "--id"},
	    {{"--id", "a", "--exec-file", "/w", "--uid", "root", "--gid", "1"}, "--uid"},
	    {{"--id", "a", "--exec-file", "/w", "--uid", "1", "--gid", "x"}, "--gid"},
	    {{"--id", "a", "--exec-file", "/w", "--uid", "0", "--gid", "1"}, "root"},
	    {{"--id", "a", "--exec-file", "/w", "--uid", "1", "--gid", "1", "--bogus"},
	     "unknown option"},
	    {{"--id", "a", "--id", "b", "--exec-file", "/w", "--uid", "1", "--gid", "1"}, "twice"},
	    {{"--id", "a", "--exec-file", "/w", "--uid", "1", "--gid", "1", "--cgroup-version",
	      "3"},
	     "--cgroup-version"},
	    {{"--id", "a", "--exec-file", "/w", "--uid", "1", "--gid", "1", "--parent-cgroup",
	      "../x"},
	     "--parent-cgroup"},
	    {{"--id", "a", "--exec-file", "/w", "--uid", "1", "--gid", "1", "--chroot-base-dir",
	      "srv"},
	     "--chroot-base-dir"},
	    {{"--id", "a", "--exec-file", "/x/wisp.pid", "--uid", "1", "--gid", "1"}, "named"},
	    {{"--id", "a", "--exec-file", "/x/dev", "--uid", "1", "--gid", "1"}, "named"},
	    {{"--id", "a", "--exec-file", "/x/", "--uid", "1", "--gid", "1"}, "file name"},
	};

	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *argv[14] = {"wisp-jailer"};
		struct jailer_args a;
		char err[256] = "";

		for (unsigned k = 0; k < 12 && cases[i].line[k]; k++)
			argv[k + 1] = (char *)cases[i].line[k];
		if (parse(&a, err, sizeof(err), argv) != -1)
			UNIT_FAIL("case %u accepted", i);
		CHECK_CONTAINS(err, cases[i].msg);
	}
}

UNIT_TEST(jailer_args_value_missing)
{
	char *argv[] = {"wisp-jailer", "--id", "a",     "--exec-file", "/w",
	                "--uid",       "1",    "--gid", NULL};
	struct jailer_args a;
	char err[256] = "";

	CHECK_EQ(parse(&a, err, sizeof(err), argv), -1);
	CHECK_CONTAINS(err, "--gid needs a value");
}

/* Lines of a hybrid host (v1 controllers plus cgroup2 at /sys/fs/cgroup/unified). */
static const char mountinfo[] =
    "27 1 254:0 / / rw,relatime - ext4 /dev/vda rw\n"
    "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
    "32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime shared:9 - cgroup cgroup rw,cpu,cpuacct\n"
    "34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset\n"
    "35 31 0:32 / /sys/fs/cgroup/mem\\040ory rw,relatime - cgroup cgroup rw,memory\n"
    "40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd\n"
    "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw,nsdelegate\n";

UNIT_TEST(jailer_cgroup_mount_lookup)
{
	char out[256];

	CHECK_EQ(jailer_cgroup_find_mount(mountinfo, 1, "cpuset", out, sizeof(out)), 0);
	CHECK_STR_EQ(out, "/sys/fs/cgroup/cpuset");
	CHECK_EQ(jailer_cgroup_find_mount(mountinfo, 1, "cpuacct", out, sizeof(out)), 0);
	CHECK_STR_EQ(out, "/sys/fs/cgroup/cpu,cpuacct");
	CHECK_EQ(jailer_cgroup_find_mount(mountinfo, 1, "cpu", out, sizeof(out)), 0);
	CHECK_STR_EQ(out, "/sys/fs/cgroup/cpu,cpuacct");
	CHECK_EQ(jailer_cgroup_find_mount(mountinfo, 1, "memory", out, sizeof(out)), 0);
	CHECK_STR_EQ(out, "/sys/fs/cgroup/mem ory");
	CHECK_EQ(jailer_cgroup_find_mount(mountinfo, 2, "memory", out, sizeof(out)), 0);
	CHECK_STR_EQ(out, "/sys/fs/cgroup/unified");
	CHECK_EQ(jailer_cgroup_find_mount(mountinfo, 1, "pids", out, sizeof(out)), -1);
	CHECK_EQ(jailer_cgroup_find_mount(mountinfo, 1, "systemd", out, sizeof(out)), -1);
	CHECK_EQ(jailer_cgroup_find_mount(mountinfo, 1, "rw", out, sizeof(out)), -1);
	CHECK_EQ(jailer_cgroup_find_mount("", 2, "memory", out, sizeof(out)), -1);
	CHECK_EQ(jailer_cgroup_find_mount(mountinfo, 1, "cpuset", out, 8), -1);
}

UNIT_TEST(jailer_args_cleanup_on_exit)
{
	char *ok[] = {"wisp-jailer",
	              "--id",
	              "a",
	              "--exec-file",
	              "/w",
	              "--uid",
	              "1",
	              "--gid",
	              "1",
	              "--new-pid-ns",
	              "--cleanup-on-exit",
	              NULL};
	char *bad[] = {
	    "wisp-jailer", "--id", "a",           "--exec-file",       "/w", "--uid", "1",
	    "--gid",       "1",    "--daemonize", "--cleanup-on-exit", NULL};
	struct jailer_args a;
	char err[256] = "";

	CHECK_EQ(parse(&a, err, sizeof(err), ok), 0);
	CHECK(a.cleanup_on_exit && a.new_pid_ns && !a.daemonize);
	CHECK_EQ(parse(&a, err, sizeof(err), bad), -1);
	CHECK_CONTAINS(err, "--daemonize");
}

/* Creates path (relative to dirfd) holding text. */
static int put_file(int dirfd, const char *path, const char *text)
{
	int fd = openat(dirfd, path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = write(fd, text, strlen(text));
	close(fd);
	return n == (ssize_t)strlen(text) ? 0 : -1;
}

/* The jail's tree goes; what its symlinks and hard links point at on the host stays. */
UNIT_TEST(jailer_remove_tree_never_follows_links)
{
	char base[] = "/tmp/wisp-unit-cleanup.XXXXXX";
	char path[512], err[256] = "", buf[16] = "";
	int jail, host, fd;
	DIR *d;
	int entries = 0;

	CHECK(mkdtemp(base) != NULL);
	snprintf(path, sizeof(path), "%s/host", base);
	CHECK_EQ(mkdir(path, 0755), 0);
	host = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	CHECK(host >= 0);
	CHECK_EQ(put_file(host, "precious", "keep"), 0);
	snprintf(path, sizeof(path), "%s/jail", base);
	CHECK_EQ(mkdir(path, 0755), 0);
	jail = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	CHECK(jail >= 0);
	CHECK_EQ(mkdirat(jail, "root", 0755), 0);
	CHECK_EQ(mkdirat(jail, "root/dev", 0755), 0);
	CHECK_EQ(mkdirat(jail, "root/dev/net", 0755), 0);
	CHECK_EQ(put_file(jail, "root/dev/net/tun", "x"), 0);
	CHECK_EQ(put_file(jail, "root/wisp.pid", "1\n"), 0);
	/* A symlink to a host directory and one to a host file, a hard link to a host file. */
	snprintf(path, sizeof(path), "%s/host", base);
	CHECK_EQ(symlinkat(path, jail, "root/escape-dir"), 0);
	snprintf(path, sizeof(path), "%s/host/precious", base);
	CHECK_EQ(symlinkat(path, jail, "root/escape-file"), 0);
	CHECK_EQ(linkat(host, "precious", jail, "root/hardlink", 0), 0);
	CHECK_EQ(mkfifoat(jail, "root/fifo", 0600), 0);

	CHECK_EQ(jailer_remove_tree_contents(jail, "jail", err, sizeof(err)), 0);
	d = fdopendir(jail);
	CHECK(d != NULL);
	for (struct dirent *e; (e = readdir(d));)
		entries += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
	closedir(d);
	CHECK_EQ(entries, 0);
	fd = openat(host, "precious", O_RDONLY | O_CLOEXEC);
	CHECK(fd >= 0);
	CHECK_EQ(read(fd, buf, sizeof(buf) - 1), 4);
	close(fd);
	CHECK_STR_EQ(buf, "keep");
	CHECK_EQ(unlinkat(host, "precious", 0), 0);
	close(host);
	snprintf(path, sizeof(path), "%s/host", base);
	CHECK_EQ(rmdir(path), 0);
	snprintf(path, sizeof(path), "%s/jail", base);
	CHECK_EQ(rmdir(path), 0);
	CHECK_EQ(rmdir(base), 0);
}
