/*
 * test_cli.c - wisp's command line (vmm/cli.c): every option, defaults, rejected numbers and
 * combinations, --drive / --net specs and the API socket rules. cli_parse() reports errors on
 * stderr (expected in this test's output); --help and --version text on stdout is discarded.
 */
#include "tests/unit/unit.h"
#include "vmm/cli.h"
#include "vmm/config_json.h"

#include <fcntl.h>
#include <unistd.h>

static struct cli_options opts;
static struct vm_config cfg;

/* cli_parse over a NULL-terminated argv (argv[0] included), on a fresh config. */
static int parse_argv(char **argv)
{
	int argc = 0, rc, saved, devnull;

	while (argv[argc])
		argc++;
	config_free(&cfg);
	config_init(&cfg);
	fflush(stdout);
	saved = dup(STDOUT_FILENO);
	devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (devnull >= 0)
		dup2(devnull, STDOUT_FILENO);
	rc = cli_parse(argc, argv, &opts, &cfg);
	fflush(stdout);
	if (saved >= 0) {
		dup2(saved, STDOUT_FILENO);
		close(saved);
	}
	if (devnull >= 0)
		close(devnull);
	return rc;
}

#define PARSE(...) parse_argv((char *[]){"wisp", __VA_ARGS__, NULL})

UNIT_TEST(cli_defaults)
{
	int rc = parse_argv((char *[]){"wisp", NULL});

	CHECK_EQ(rc, 0);
	CHECK(opts.config_file == NULL);
	CHECK(opts.api_sock == NULL);
	CHECK(!opts.no_api);
	CHECK(!opts.no_seccomp);
	CHECK(!opts.kernel_given);
	CHECK(opts.id == NULL);
	CHECK(opts.log_path == NULL);
	CHECK(opts.level == NULL);
	CHECK(opts.metrics_path == NULL);
	CHECK(cfg.kernel_image_path == NULL);
	CHECK(cfg.boot_args == NULL);
	CHECK(cfg.initrd_path == NULL);
	CHECK_EQ(cfg.boot_protocol, BOOT_PROTOCOL_AUTO);
	CHECK_EQ(cfg.vcpu_count, 1);
	CHECK_EQ(cfg.mem_size_mib, 128);
	CHECK(!cfg.smt);
	CHECK_EQ(cfg.ndrives, 0);
	CHECK_EQ(cfg.nnets, 0);
	/* Nothing describes the VM: wait for the API on Firecracker's default socket. */
	CHECK_STR_EQ(cli_api_socket(&opts), "/run/wisp.socket");
}

UNIT_TEST(cli_every_option)
{
	int rc =
	    PARSE("--kernel", "/k/vmlinux", "--cmdline", "console=ttyS0 quiet", "--initrd",
	          "/k/initrd", "--boot-protocol", "pvh", "--mem-mib", "256", "--vcpus", "4",
	          "--smt", "--drive", "id=rootfs,path=/r.img,root=on", "--net", "id=eth0,tap=tap0",
	          "--api-sock", "/tmp/api.sock", "--id", "vm1", "--no-seccomp", "--log-path",
	          "/tmp/log", "--level", "Debug", "--metrics-path", "/tmp/metrics");

	CHECK_EQ(rc, 0);
	CHECK(opts.kernel_given);
	CHECK_STR_EQ(cfg.kernel_image_path, "/k/vmlinux");
	CHECK_STR_EQ(cfg.boot_args, "console=ttyS0 quiet");
	CHECK_STR_EQ(cfg.initrd_path, "/k/initrd");
	CHECK_EQ(cfg.boot_protocol, BOOT_PROTOCOL_PVH);
	CHECK_EQ(cfg.mem_size_mib, 256);
	CHECK_EQ(cfg.vcpu_count, 4);
	CHECK(cfg.smt);
	CHECK_EQ(cfg.ndrives, 1);
	CHECK_STR_EQ(cfg.drives[0].id, "rootfs");
	CHECK_STR_EQ(cfg.drives[0].path_on_host, "/r.img");
	CHECK(cfg.drives[0].is_root_device);
	CHECK_EQ(cfg.nnets, 1);
	CHECK_STR_EQ(cfg.nets[0].id, "eth0");
	CHECK_STR_EQ(cfg.nets[0].host_dev_name, "tap0");
	CHECK_STR_EQ(opts.api_sock, "/tmp/api.sock");
	CHECK_STR_EQ(opts.id, "vm1");
	CHECK(opts.no_seccomp);
	CHECK_STR_EQ(opts.log_path, "/tmp/log");
	CHECK_STR_EQ(opts.level, "Debug");
	CHECK_STR_EQ(opts.metrics_path, "/tmp/metrics");
	CHECK(opts.config_file == NULL);
	CHECK_STR_EQ(cli_api_socket(&opts), "/tmp/api.sock");
}

UNIT_TEST(cli_equals_form_and_last_value_wins)
{
	int rc = PARSE("--vcpus=2", "--mem-mib=64", "--cmdline", "a", "--cmdline", "b",
	               "--boot-protocol=linux", "--boot-protocol", "auto", "--boot-protocol=linux");

	CHECK_EQ(rc, 0);
	CHECK_EQ(cfg.vcpu_count, 2);
	CHECK_EQ(cfg.mem_size_mib, 64);
	CHECK_STR_EQ(cfg.boot_args, "b");
	CHECK_EQ(cfg.boot_protocol, BOOT_PROTOCOL_LINUX);
}

UNIT_TEST(cli_vcpus_range)
{
	CHECK_EQ(PARSE("--vcpus", "1"), 0);
	CHECK_EQ(cfg.vcpu_count, 1);
	CHECK_EQ(PARSE("--vcpus", "32"), 0);
	CHECK_EQ(cfg.vcpu_count, 32);
	CHECK_EQ(PARSE("--vcpus", "0"), -1);
	CHECK_EQ(PARSE("--vcpus", "33"), -1);
	CHECK_EQ(PARSE("--vcpus", "abc"), -1);
	CHECK_EQ(PARSE("--vcpus", "-1"), -1);
	CHECK_EQ(PARSE("--vcpus", "+2"), -1);
	CHECK_EQ(PARSE("--vcpus", ""), -1);
	CHECK_EQ(PARSE("--vcpus", "2x"), -1);
	CHECK_EQ(PARSE("--vcpus", " 2"), -1);
	/* strtoull negates after skipping spaces: " -(2^64 - 1)" would be 1. */
	CHECK_EQ(PARSE("--vcpus", " -18446744073709551615"), -1);
	CHECK_EQ(PARSE("--mem-mib", "\t-18446744073709551488"), -1); /* would be 128 */
	CHECK_EQ(PARSE("--vcpus", "0x2"), -1);
	CHECK_EQ(PARSE("--vcpus", "4294967297"), -1); /* 2^32 + 1: must not wrap to 1 */
	CHECK_EQ(PARSE("--vcpus", "18446744073709551617"), -1);
	CHECK_EQ(PARSE("--vcpus"), -1); /* missing value */
}

UNIT_TEST(cli_mem_range)
{
	CHECK_EQ(PARSE("--mem-mib", "1"), 0);
	CHECK_EQ(cfg.mem_size_mib, 1);
	CHECK_EQ(PARSE("--mem-mib", "1073741824"), 0); /* 2^30 MiB: cli's ceiling */
	CHECK_EQ(cfg.mem_size_mib, 1ULL << 30);
	CHECK_EQ(PARSE("--mem-mib", "0"), -1);
	CHECK_EQ(PARSE("--mem-mib", "1073741825"), -1);
	CHECK_EQ(PARSE("--mem-mib", "-128"), -1);
	CHECK_EQ(PARSE("--mem-mib", "128M"), -1);
	CHECK_EQ(PARSE("--mem-mib", "99999999999999999999999"), -1);
}

UNIT_TEST(cli_unknown_option_and_stray_arguments)
{
	CHECK_EQ(PARSE("--frobnicate"), -1);
	CHECK_EQ(PARSE("--vcpus", "2", "--frobnicate=1"), -1);
	CHECK_EQ(PARSE("-k"), -1);
	CHECK_EQ(PARSE("--smt=on"), -1); /* a flag takes no value */
	CHECK_EQ(PARSE("vmlinux"), -1);
	CHECK_EQ(PARSE("--vcpus", "2", "extra"), -1);
	CHECK_EQ(PARSE("extra", "--vcpus", "2"), -1);
	CHECK_EQ(PARSE("--", "--vcpus"), -1);
	CHECK_EQ(PARSE("--kernel"), -1);
	CHECK_EQ(PARSE("--boot-protocol", "efi"), -1);
	CHECK_EQ(PARSE("--boot-protocol", "PVH"), -1);
}

UNIT_TEST(cli_help_and_version)
{
	CHECK_EQ(PARSE("--help"), 1);
	CHECK_EQ(PARSE("--version"), 1);
	/* Options before --help are parsed; the run stops at --help. */
	CHECK_EQ(PARSE("--vcpus", "2", "--help", "--frobnicate"), 1);
}

UNIT_TEST(cli_kernel_and_config_file_conflict)
{
	CHECK_EQ(PARSE("--kernel", "/k", "--config-file", "/c.json"), -1);
	CHECK_EQ(PARSE("--config-file", "/c.json", "--kernel", "/k"), -1);
	CHECK_EQ(PARSE("--config-file", "/c.json"), 0);
	CHECK_STR_EQ(opts.config_file, "/c.json");
	CHECK(!opts.kernel_given);
}

UNIT_TEST(cli_api_socket_rules)
{
	CHECK_EQ(PARSE("--no-api"), 0);
	CHECK(cli_api_socket(&opts) == NULL);
	CHECK_EQ(PARSE("--api-sock", "/a"), 0);
	CHECK_STR_EQ(cli_api_socket(&opts), "/a");
	/* --no-api wins whatever the order. */
	CHECK_EQ(PARSE("--api-sock", "/a", "--no-api"), 0);
	CHECK(cli_api_socket(&opts) == NULL);
	CHECK_EQ(PARSE("--no-api", "--api-sock", "/a"), 0);
	CHECK(cli_api_socket(&opts) == NULL);
	/* A VM described up front needs no API unless asked for. */
	CHECK_EQ(PARSE("--config-file", "/c.json"), 0);
	CHECK(cli_api_socket(&opts) == NULL);
	CHECK_EQ(PARSE("--config-file", "/c.json", "--api-sock", "/a"), 0);
	CHECK_STR_EQ(cli_api_socket(&opts), "/a");
	CHECK_EQ(PARSE("--kernel", "/k"), 0);
	CHECK(cli_api_socket(&opts) == NULL);
	CHECK_EQ(PARSE("--kernel", "/k", "--api-sock", "/a"), 0);
	CHECK_STR_EQ(cli_api_socket(&opts), "/a");
	/* Other options do not change the default. */
	CHECK_EQ(PARSE("--id", "x", "--no-seccomp"), 0);
	CHECK_STR_EQ(cli_api_socket(&opts), "/run/wisp.socket");
}

UNIT_TEST(cli_repeated_drives_and_nets)
{
	CHECK_EQ(PARSE("--drive", "id=a,path=/a", "--drive", "id=b,path=/b,readonly=on", "--net",
	               "id=n0,tap=t0", "--net", "id=n1,tap=t1,mac=06:00:00:00:00:01"),
	         0);
	CHECK_EQ(cfg.ndrives, 2);
	CHECK_STR_EQ(cfg.drives[0].id, "a");
	CHECK_STR_EQ(cfg.drives[1].path_on_host, "/b");
	CHECK(cfg.drives[1].is_read_only);
	CHECK_EQ(cfg.nnets, 2);
	CHECK_STR_EQ(cfg.nets[1].host_dev_name, "t1");
	CHECK(cfg.nets[1].has_guest_mac);
	CHECK(!cfg.nets[0].has_guest_mac);
	/* A bad spec fails the whole parse (its strings freed: LeakSanitizer checks). */
	CHECK_EQ(PARSE("--drive", "id=a,path=/a", "--drive", "path=/b,bogus=1"), -1);
	CHECK_EQ(PARSE("--net", "id=n0"), -1);
}

UNIT_TEST(cli_too_many_drives_and_nets)
{
	char *argv[2 + 2 * (CONFIG_MAX_DRIVES + 1) + 1];
	char specs[CONFIG_MAX_DRIVES + 1][32];
	int n = 0;

	argv[n++] = "wisp";
	for (int i = 0; i <= CONFIG_MAX_DRIVES; i++) {
		snprintf(specs[i], sizeof(specs[i]), "id=d%d,path=/d%d", i, i);
		argv[n++] = "--drive";
		argv[n++] = specs[i];
	}
	argv[n] = NULL;
	CHECK_EQ(parse_argv(argv), -1);
	CHECK_EQ(cfg.ndrives, CONFIG_MAX_DRIVES);
	argv[n - 2] = NULL; /* exactly the maximum */
	CHECK_EQ(parse_argv(argv), 0);
	CHECK_EQ(cfg.ndrives, CONFIG_MAX_DRIVES);

	n = 0;
	argv[n++] = "wisp";
	for (int i = 0; i <= CONFIG_MAX_NETS; i++) {
		snprintf(specs[i], sizeof(specs[i]), "id=n%d,tap=t%d", i, i);
		argv[n++] = "--net";
		argv[n++] = specs[i];
	}
	argv[n] = NULL;
	CHECK_EQ(parse_argv(argv), -1);
	CHECK_EQ(cfg.nnets, CONFIG_MAX_NETS);
	argv[n - 2] = NULL;
	CHECK_EQ(parse_argv(argv), 0);
	CHECK_EQ(cfg.nnets, CONFIG_MAX_NETS);
}

/* ---- --drive specs ---- */

static struct drive_config drive;
static char err[256];

static int drive_spec(const char *spec)
{
	config_drive_free(&drive);
	err[0] = '\0';
	return cli_parse_drive(spec, &drive, err, sizeof(err));
}

UNIT_TEST(cli_drive_minimal_defaults)
{
	CHECK_EQ(drive_spec("id=rootfs,path=/img/rootfs.ext4"), 0);
	CHECK_STR_EQ(drive.id, "rootfs");
	CHECK_STR_EQ(drive.path_on_host, "/img/rootfs.ext4");
	CHECK(!drive.is_root_device);
	CHECK(!drive.is_read_only);
	CHECK(drive.partuuid == NULL);
	CHECK_EQ(drive.cache_type, CACHE_UNSAFE);
	CHECK_EQ(drive.io_engine, IO_ENGINE_SYNC);
	/* Key order does not matter. */
	CHECK_EQ(drive_spec("path=/p,id=x"), 0);
	CHECK_STR_EQ(drive.id, "x");
	CHECK_STR_EQ(drive.path_on_host, "/p");
	config_drive_free(&drive);
}

UNIT_TEST(cli_drive_all_keys)
{
	CHECK_EQ(drive_spec("id=data,path=/d.img,root=on,readonly=yes,cache=writeback,io=async,"
	                    "partuuid=0eaa91a0-01"),
	         0);
	CHECK(drive.is_root_device);
	CHECK(drive.is_read_only);
	CHECK_EQ(drive.cache_type, CACHE_WRITEBACK);
	CHECK_EQ(drive.io_engine, IO_ENGINE_ASYNC);
	CHECK_STR_EQ(drive.partuuid, "0eaa91a0-01");
	/* Booleans: on/off, true/false, 1/0, yes/no; cache and io ignore case. */
	CHECK_EQ(drive_spec("id=d,path=/p,root=true,readonly=0,cache=UNSAFE,io=Sync"), 0);
	CHECK(drive.is_root_device);
	CHECK(!drive.is_read_only);
	CHECK_EQ(drive.cache_type, CACHE_UNSAFE);
	CHECK_EQ(drive.io_engine, IO_ENGINE_SYNC);
	CHECK_EQ(drive_spec("id=d,path=/p,root=off,readonly=1,cache=Writeback"), 0);
	CHECK(!drive.is_root_device);
	CHECK(drive.is_read_only);
	CHECK_EQ(drive.cache_type, CACHE_WRITEBACK);
	/* none (QEMU's spelling) and direct: cache_type Direct, O_DIRECT */
	CHECK_EQ(drive_spec("id=d,path=/p,cache=none"), 0);
	CHECK_EQ(drive.cache_type, CACHE_DIRECT);
	CHECK_EQ(drive_spec("id=d,path=/p,cache=Direct"), 0);
	CHECK_EQ(drive.cache_type, CACHE_DIRECT);
	config_drive_free(&drive);
}

UNIT_TEST(cli_drive_errors)
{
	CHECK_EQ(drive_spec("path=/p"), -1);
	CHECK_CONTAINS(err, "id= and path= are required");
	CHECK_EQ(drive_spec("id=d"), -1);
	CHECK_CONTAINS(err, "id= and path= are required");
	CHECK_EQ(drive_spec(""), -1);
	CHECK_CONTAINS(err, "required");
	CHECK_EQ(drive_spec("id=d,path=/p,root=maybe"), -1);
	CHECK_CONTAINS(err, "root=maybe");
	CHECK_EQ(drive_spec("id=d,path=/p,readonly=2"), -1);
	CHECK_CONTAINS(err, "readonly=2");
	CHECK_EQ(drive_spec("id=d,path=/p,root="), -1);
	CHECK_EQ(drive_spec("id=d,path=/p,format=raw"), -1);
	CHECK_CONTAINS(err, "unknown key 'format'");
	CHECK_EQ(drive_spec("id=d,path=/p,cache=nocache"), -1);
	CHECK_CONTAINS(err, "cache=nocache: expected unsafe, writeback, none or direct");
	CHECK_EQ(drive_spec("id=d,path=/p,io=uring"), -1);
	CHECK_CONTAINS(err, "io=uring");
	CHECK_EQ(drive_spec("id=d,path=/p,ro"), -1);
	CHECK_CONTAINS(err, "not key=value");
	CHECK_EQ(drive_spec("id=,path=/p"), -1);
	CHECK_CONTAINS(err, "id must be");
	config_drive_free(&drive);
}

UNIT_TEST(cli_drive_id_length)
{
	char spec[128], id[CONFIG_ID_MAX + 2];

	memset(id, 'a', CONFIG_ID_MAX);
	id[CONFIG_ID_MAX] = '\0';
	snprintf(spec, sizeof(spec), "id=%s,path=/p", id);
	CHECK_EQ(drive_spec(spec), 0);
	CHECK_EQ(strlen(drive.id), CONFIG_ID_MAX);
	id[CONFIG_ID_MAX] = 'a';
	id[CONFIG_ID_MAX + 1] = '\0';
	snprintf(spec, sizeof(spec), "id=%s,path=/p", id);
	CHECK_EQ(drive_spec(spec), -1);
	CHECK_CONTAINS(err, "id must be 1 to 64 characters");
	config_drive_free(&drive);
}

/* ---- --net specs ---- */

static struct net_config net;

static int net_spec(const char *spec)
{
	err[0] = '\0';
	return cli_parse_net(spec, &net, err, sizeof(err));
}

UNIT_TEST(cli_net_specs)
{
	static const uint8_t mac[6] = {0x06, 0x00, 0xac, 0x10, 0x00, 0x02};

	CHECK_EQ(net_spec("id=eth0,tap=tap0"), 0);
	CHECK_STR_EQ(net.id, "eth0");
	CHECK_STR_EQ(net.host_dev_name, "tap0");
	CHECK(!net.has_guest_mac);
	CHECK_EQ(net_spec("id=eth0,tap=tap0,mac=06:00:AC:10:00:02"), 0);
	CHECK(net.has_guest_mac);
	CHECK_EQ(memcmp(net.guest_mac, mac, 6), 0);
	/* 15 characters (IFNAMSIZ - 1) is the longest interface name. */
	CHECK_EQ(net_spec("id=n,tap=abcdefghijklmno"), 0);
	CHECK_STR_EQ(net.host_dev_name, "abcdefghijklmno");
}

UNIT_TEST(cli_net_errors)
{
	CHECK_EQ(net_spec("id=n,tap=abcdefghijklmnop"), -1); /* 16 characters */
	CHECK_CONTAINS(err, "1 to 15 characters");
	CHECK_EQ(net_spec("id=n,tap="), -1);
	CHECK_EQ(net_spec("id=n"), -1);
	CHECK_CONTAINS(err, "id= and tap= are required");
	CHECK_EQ(net_spec("tap=t"), -1);
	CHECK_CONTAINS(err, "required");
	CHECK_EQ(net_spec("id=n,tap=t,mac=06:00:ac:10:00"), -1);
	CHECK_CONTAINS(err, "mac=06:00:ac:10:00");
	CHECK_EQ(net_spec("id=n,tap=t,mac=06:00:ac:10:00:0g"), -1);
	CHECK_EQ(net_spec("id=n,tap=t,mac=06-00-ac-10-00-02"), -1);
	CHECK_EQ(net_spec("id=n,tap=t,mac=06:00:ac:10:00:02:03"), -1);
	CHECK_EQ(net_spec("id=n,tap=t,mac=6:0:ac:10:0:2"), -1);
	CHECK_EQ(net_spec("id=n,tap=t,mac="), -1);
	CHECK_EQ(net_spec("id=n,tap=t,queues=2"), -1);
	CHECK_CONTAINS(err, "unknown key 'queues'");
}
