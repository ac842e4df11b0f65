/* test_config_json.c - Firecracker's JSON schema: parsing, refusing, emitting, round trips. */
#include "tests/unit/unit.h"

#include <stdlib.h>
#include <unistd.h>

#include "vmm/config_json.h"

static char err[512];

static const char full_config[] =
    "{\"boot-source\": {\"kernel_image_path\": \"/k.elf\", \"boot_args\": \"console=ttyS0\","
    " \"initrd_path\": \"/initrd\"},"
    " \"machine-config\": {\"vcpu_count\": 2, \"mem_size_mib\": 256, \"smt\": false,"
    "  \"track_dirty_pages\": true, \"cpu_template\": \"None\"},"
    " \"drives\": [{\"drive_id\": \"rootfs\", \"path_on_host\": \"/r.img\","
    "  \"is_root_device\": true, \"is_read_only\": false, \"partuuid\": \"abcd-01\","
    "  \"cache_type\": \"Writeback\", \"io_engine\": \"Async\","
    "  \"rate_limiter\": {\"bandwidth\": {\"size\": 1000, \"one_time_burst\": 5,"
    "   \"refill_time\": 100}, \"ops\": {\"size\": 10, \"refill_time\": 1000}}},"
    "  {\"drive_id\": \"data\", \"path_on_host\": \"/d.img\", \"is_root_device\": false,"
    "   \"is_read_only\": true}],"
    " \"network-interfaces\": [{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap0\","
    "  \"guest_mac\": \"06:00:AC:10:00:02\", \"tx_rate_limiter\": {\"ops\": {\"size\": 7,"
    "  \"refill_time\": 9}}}],"
    " \"logger\": {\"log_path\": \"/l.log\", \"level\": \"debug\", \"show_level\": true},"
    " \"metrics\": {\"metrics_path\": \"/m.json\"}}";

static int parse(struct vm_config *cfg, const char *text)
{
	config_init(cfg);
	err[0] = 0;
	return config_json_parse(cfg, text, strlen(text), err, sizeof(err));
}

UNIT_TEST(config_json_full_config_parses)
{
	struct vm_config cfg;

	CHECK_EQ(parse(&cfg, full_config), 0);
	CHECK_STR_EQ(cfg.kernel_image_path, "/k.elf");
	CHECK_STR_EQ(cfg.boot_args, "console=ttyS0");
	CHECK_STR_EQ(cfg.initrd_path, "/initrd");
	CHECK_EQ(cfg.vcpu_count, 2);
	CHECK_EQ(cfg.mem_size_mib, 256);
	CHECK(cfg.track_dirty_pages && !cfg.smt);
	CHECK_EQ(cfg.ndrives, 2);
	CHECK_STR_EQ(cfg.drives[0].id, "rootfs");
	CHECK(cfg.drives[0].is_root_device && !cfg.drives[0].is_read_only);
	CHECK_STR_EQ(cfg.drives[0].partuuid, "abcd-01");
	CHECK_EQ(cfg.drives[0].cache_type, CACHE_WRITEBACK);
	CHECK_EQ(cfg.drives[0].io_engine, IO_ENGINE_ASYNC);
	CHECK(cfg.drives[0].rate_limiter.bandwidth.set);
	CHECK_EQ(cfg.drives[0].rate_limiter.bandwidth.size, 1000);
	CHECK_EQ(cfg.drives[0].rate_limiter.bandwidth.one_time_burst, 5);
	CHECK_EQ(cfg.drives[0].rate_limiter.bandwidth.refill_time_ms, 100);
	CHECK_EQ(cfg.drives[0].rate_limiter.ops.refill_time_ms, 1000);
	CHECK(cfg.drives[1].is_read_only);
	CHECK_EQ(cfg.drives[1].cache_type, CACHE_UNSAFE);
	CHECK_EQ(cfg.drives[1].io_engine, IO_ENGINE_SYNC);
	CHECK(!cfg.drives[1].rate_limiter.bandwidth.set);
	CHECK_EQ(cfg.nnets, 1);
	CHECK_STR_EQ(cfg.nets[0].host_dev_name, "tap0");
	CHECK(cfg.nets[0].has_guest_mac);
	CHECK_EQ(cfg.nets[0].guest_mac[2], 0xac);
	CHECK(!cfg.nets[0].rx_rate_limiter.ops.set && cfg.nets[0].tx_rate_limiter.ops.set);
	CHECK_STR_EQ(cfg.log_path, "/l.log");
	CHECK_STR_EQ(cfg.log_level, "Debug");
	CHECK_STR_EQ(cfg.metrics_path, "/m.json");
	config_free(&cfg);
}

UNIT_TEST(config_json_minimal_config_gets_defaults)
{
	struct vm_config cfg;

	CHECK_EQ(parse(&cfg, "{\"boot-source\": {\"kernel_image_path\": \"/k\"}}"), 0);
	CHECK_EQ(cfg.vcpu_count, 1);
	CHECK_EQ(cfg.mem_size_mib, 128);
	CHECK(cfg.boot_args == NULL);
	CHECK_EQ(cfg.ndrives, 0);
	config_free(&cfg);
}

UNIT_TEST(config_json_round_trip)
{
	struct vm_config a, b;
	char *one, *two;

	CHECK_EQ(parse(&a, full_config), 0);
	one = config_json_dump(&a);
	CHECK(one != NULL);
	CHECK_EQ(parse(&b, one), 0);
	two = config_json_dump(&b);
	CHECK_STR_EQ(one, two);
	CHECK_CONTAINS(one, "\"guest_mac\": \"06:00:ac:10:00:02\"");
	CHECK_CONTAINS(one, "\"level\": \"Debug\"");
	CHECK_EQ(b.drives[0].rate_limiter.bandwidth.one_time_burst, 5);
	CHECK_EQ(b.nets[0].guest_mac[5], 2);
	free(one);
	free(two);
	config_free(&a);
	config_free(&b);
}

/* A snapshot's "DEVS" section: the drives and interfaces alone, back into an empty config. */
UNIT_TEST(config_json_devices_round_trip_and_refusals)
{
	struct vm_config a, b;
	char *text;

	CHECK_EQ(parse(&a, full_config), 0);
	text = config_json_devices_dump(&a);
	CHECK(text != NULL);
	CHECK(strstr(text, "boot-source") == NULL && strstr(text, "logger") == NULL);
	config_init(&b);
	CHECK_EQ(config_json_devices_parse(&b, text, strlen(text), err, sizeof(err)), 0);
	CHECK_EQ(b.ndrives, 2);
	CHECK_STR_EQ(b.drives[0].path_on_host, "/r.img");
	CHECK_EQ(b.drives[0].rate_limiter.ops.size, 10);
	CHECK_EQ(b.nnets, 1);
	CHECK_STR_EQ(b.nets[0].host_dev_name, "tap0");
	CHECK(b.kernel_image_path == NULL);
	/* into a config that has devices already: refused, unchanged */
	CHECK_EQ(config_json_devices_parse(&b, text, strlen(text), err, sizeof(err)), -1);
	CHECK_CONTAINS(err, "configured already");
	CHECK_EQ(b.ndrives, 2);
	config_free(&b);
	/* another top-level key, or two root devices: refused, nothing added */
	config_init(&b);
	CHECK_EQ(
	    config_json_devices_parse(&b, "{\"drives\": [], \"vsock\": {}}", 27, err, sizeof(err)),
	    -1);
	CHECK_EQ(b.ndrives, 0);
	{
		const char two_roots[] = "{\"drives\": [{\"drive_id\": \"a\", \"path_on_host\": "
		                         "\"/a\", \"is_root_device\": "
		                         "true, \"is_read_only\": false}, {\"drive_id\": \"b\", "
		                         "\"path_on_host\": \"/b\", "
		                         "\"is_root_device\": true, \"is_read_only\": false}]}";

		CHECK_EQ(
		    config_json_devices_parse(&b, two_roots, strlen(two_roots), err, sizeof(err)),
		    -1);
		CHECK_EQ(b.ndrives, 0);
	}
	config_free(&b);
	free(text);
	config_free(&a);
}

UNIT_TEST(config_json_round_trip_through_file)
{
	struct vm_config a, b;
	char path[] = "/tmp/wisp-config-XXXXXX";
	int fd = mkstemp(path);
	char *text;

	CHECK(fd >= 0);
	CHECK_EQ(parse(&a, full_config), 0);
	text = config_json_dump(&a);
	CHECK_EQ(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	config_init(&b);
	CHECK_EQ(config_json_load_file(&b, path, err, sizeof(err)), 0);
	CHECK_EQ(b.ndrives, 2);
	CHECK_STR_EQ(b.drives[1].path_on_host, "/d.img");
	unlink(path);
	CHECK_EQ(config_json_load_file(&b, path, err, sizeof(err)), -1);
	CHECK_STR_EQ(err, "No such file or directory");
	free(text);
	config_free(&a);
	config_free(&b);
}

/* Direct is wisp's extension of Firecracker's cache_type: parsed, and written back as such. */
UNIT_TEST(config_json_cache_type_direct)
{
	struct vm_config cfg;
	char *text;

	CHECK_EQ(parse(&cfg, "{\"boot-source\": {\"kernel_image_path\": \"/k\"}, \"drives\": "
	                     "[{\"drive_id\": \"d\", \"path_on_host\": \"/d\", \"is_root_device\": "
	                     "true, \"is_read_only\": false, \"cache_type\": \"Direct\"}]}"),
	         0);
	CHECK_EQ(cfg.drives[0].cache_type, CACHE_DIRECT);
	text = config_json_dump(&cfg);
	CHECK(text && strstr(text, "\"Direct\""));
	free(text);
	config_free(&cfg);
}

UNIT_TEST(config_json_accepts_firecracker_nulls)
{
	struct vm_config cfg;

	/* The shape of Firecracker's own GET /vm/config for a plain VM. */
	CHECK_EQ(parse(&cfg,
	               "{\"balloon\": null, \"drives\": [{\"drive_id\": \"rootfs\","
	               " \"partuuid\": null, \"is_root_device\": true, \"cache_type\": "
	               "\"Unsafe\", \"is_read_only\": false, \"path_on_host\": \"/r\","
	               " \"rate_limiter\": null, \"io_engine\": \"Sync\"}],"
	               " \"boot-source\": {\"kernel_image_path\": \"/k\","
	               " \"initrd_path\": null, \"boot_args\": null},"
	               " \"logger\": null, \"machine-config\": {\"vcpu_count\": 1,"
	               " \"mem_size_mib\": 64, \"smt\": false, \"track_dirty_pages\": false},"
	               " \"metrics\": null, \"mmds-config\": null, \"network-interfaces\": [],"
	               " \"vsock\": null}"),
	         0);
	CHECK_EQ(cfg.ndrives, 1);
	CHECK(cfg.drives[0].partuuid == NULL);
	config_free(&cfg);
}

struct bad_case {
	const char *json;
	const char *message;
};

UNIT_TEST(config_json_refuses_bad_fields_with_path)
{
	static const struct bad_case cases[] = {
	    {"[]", "config: expected an object, got an array"},
	    {"{", "config: invalid JSON"},
	    {"{}", "boot-source: missing required section"},
	    {"{\"boot-source\": {}}", "boot-source.kernel_image_path: missing required field"},
	    {"{\"boot-source\": {\"kernel_image_path\": 1}}",
	     "boot-source.kernel_image_path: expected a string, got an integer"},
	    {"{\"boot-source\": {\"kernel_image_path\": \"/k\", \"x\": 1}}",
	     "boot-source.x: unknown field"},
	    {"{\"boot-source\": {\"kernel_image_path\": \"/k\"}, \"extra\": {}}",
	     "extra: unknown field"},
	    {"{\"boot-source\": {\"kernel_image_path\": \"/k\"}, \"vsock\": {}}",
	     "vsock: not supported"},
	    {"{\"boot-source\": {\"kernel_image_path\": \"/k\"}, \"machine-config\": 3}",
	     "machine-config: expected an object"},
	    {"{\"boot-source\": {\"kernel_image_path\": \"/k\"}, \"machine-config\": "
	     "{\"vcpu_count\": \"2\", \"mem_size_mib\": 1}}",
	     "machine-config.vcpu_count: expected an integer, got a string"},
	    {"{\"boot-source\": {\"kernel_image_path\": \"/k\"}, \"machine-config\": "
	     "{\"vcpu_count\": 1.5, \"mem_size_mib\": 1}}",
	     "machine-config.vcpu_count: expected an integer"},
	    {"{\"boot-source\": {\"kernel_image_path\": \"/k\"}, \"machine-config\": "
	     "{\"vcpu_count\": -1, \"mem_size_mib\": 1}}",
	     "machine-config.vcpu_count: must be between 1 and 32 (got -1)"},
	    {"{\"boot-source\": {\"kernel_image_path\": \"/k\"}, \"machine-config\": "
	     "{\"vcpu_count\": 4294967297, \"mem_size_mib\": 1}}",
	     "machine-config.vcpu_count: must be between 1 and 32 (got 4294967297)"},
	    {"{\"boot-source\": {\"kernel_image_path\": \"/k\"}, \"machine-config\": "
	     "{\"vcpu_count\": 1, \"mem_size_mib\": -1}}",
	     "machine-config.mem_size_mib: must be between 1 and 8387584 (got -1)"},
	    {"{\"boot-source\": {\"kernel_image_path\": \"/k\"}, \"machine-config\": "
	     "{\"vcpu_count\": 1, \"mem_size_mib\": 0}}",
	     "machine-config.mem_size_mib: must be between 1 and 8387584 (got 0)"},
	    {"{\"boot-source\": {\"kernel_image_path\": \"/k\"}, \"machine-config\": "
	     "{\"vcpu_count\": 1, \"mem_size_mib\": 1000000000000}}",
	     "machine-config.mem_size_mib: must be between 1 and 8387584 (got 1000000000000)"},
	    {"{\"boot-source\": {\"kernel_image_path\": \"/k\"}, \"machine-config\": "
	     "{\"vcpu_count\": 1, \"mem_size_mib\": 9223372036854775807}}",
	     "machine-config.mem_size_mib: must be between 1 and 8387584 (got "
	     "9223372036854775807)"},
	    {"{\"boot-source\": {\"kernel_image_path\": \"/k\"}, \"machine-config\": "
	     "{\"vcpu_count\": 64, \"mem_size_mib\": 1}}",
	     "machine-config.vcpu_count: must be between 1 and 32"},
	    {"{\"boot-source\": {\"kernel_image_path\": \"/k\"}, \"machine-config\": "
	     "{\"mem_size_mib\": 1}}",
	     "machine-config.vcpu_count: missing required field"},
	    {"{\"boot-source\": {\"kernel_image_path\": \"/k\"}, \"machine-config\": "
	     "{\"vcpu_count\": 1, \"mem_size_mib\": 1, \"smt\": 1}}",
	     "machine-config.smt: expected a boolean"},
	    {"{\"boot-source\": {\"kernel_image_path\": \"/k\"}, \"machine-config\": "
	     "{\"vcpu_count\": 1, \"mem_size_mib\": 1, \"cpu_template\": \"T2\"}}",
	     "machine-config.cpu_template: \"T2\" is not supported"},
	    {"{\"boot-source\": {\"kernel_image_path\": \"/k\"}, \"drives\": {}}",
	     "drives: expected an array"},
	    {"{\"boot-source\": {\"kernel_image_path\": \"/k\"}, \"drives\": [1]}",
	     "drives[0]: expected an object"},
	    {"{\"boot-source\": {\"kernel_image_path\": \"/k\"}, \"drives\": [{\"drive_id\": "
	     "\"a\", \"path_on_host\": \"/a\", \"is_root_device\": true}]}",
	     "drives[0].is_read_only: missing required field"},
	    {"{\"boot-source\": {\"kernel_image_path\": \"/k\"}, \"drives\": [{\"drive_id\": "
	     "\"a\", \"path_on_host\": \"/a\", \"is_root_device\": true, \"is_read_only\": "
	     "false, \"cache_type\": \"unsafe\"}]}",
	     "drives[0].cache_type: \"unsafe\" is not one of Unsafe, Writeback, Direct"},
	    {"{\"boot-source\": {\"kernel_image_path\": \"/k\"}, \"drives\": [{\"drive_id\": "
	     "\"a\", \"path_on_host\": \"/a\", \"is_root_device\": true, \"is_read_only\": "
	     "false, \"cache_type\": \"None\"}]}",
	     "drives[0].cache_type: \"None\" is not one of Unsafe, Writeback, Direct"},
	    {"{\"boot-source\": {\"kernel_image_path\": \"/k\"}, \"drives\": [{\"drive_id\": "
	     "\"a\", \"path_on_host\": \"/a\", \"is_root_device\": true, \"is_read_only\": "
	     "false, \"io_engine\": \"Uring\"}]}",
	     "drives[0].io_engine: \"Uring\" is not one of Sync, Async"},
	    {"{\"boot-source\": {\"kernel_image_path\": \"/k\"}, \"drives\": [{\"drive_id\": "
	     "\"a\", \"path_on_host\": \"/a\", \"is_root_device\": true, \"is_read_only\": "
	     "false, \"rate_limiter\": {\"bandwidth\": {\"size\": 1}}}]}",
	     "drives[0].rate_limiter.bandwidth.refill_time: missing required field"},
	    {"{\"boot-source\": {\"kernel_image_path\": \"/k\"}, \"drives\": [{\"drive_id\": "
	     "\"a\", \"path_on_host\": \"/a\", \"is_root_device\": true, \"is_read_only\": "
	     "false, \"rate_limiter\": {\"iops\": {}}}]}",
	     "drives[0].rate_limiter.iops: unknown field"},
	    {"{\"boot-source\": {\"kernel_image_path\": \"/k\"}, \"drives\": [{\"drive_id\": "
	     "\"a\", \"path_on_host\": \"/a\", \"is_root_device\": true, \"is_read_only\": "
	     "false}, {\"drive_id\": \"b\", \"path_on_host\": \"/b\", \"is_root_device\": "
	     "true, \"is_read_only\": false}]}",
	     "drives[1].is_root_device"},
	    {"{\"boot-source\": {\"kernel_image_path\": \"/k\"}, \"network-interfaces\": "
	     "[{\"iface_id\": \"e\", \"host_dev_name\": \"tap0\", \"guest_mac\": \"06:00\"}]}",
	     "network-interfaces[0].guest_mac: \"06:00\" is not a MAC address"},
	    {"{\"boot-source\": {\"kernel_image_path\": \"/k\"}, \"network-interfaces\": "
	     "[{\"iface_id\": \"e\", \"host_dev_name\": \"0123456789abcdef\"}]}",
	     "network-interfaces[0].host_dev_name: longer than 15 characters"},
	    {"{\"boot-source\": {\"kernel_image_path\": \"/k\"}, \"logger\": {\"module\": "
	     "5}}",
	     "logger.module: expected a string, got an integer"},
	    {"{\"boot-source\": {\"kernel_image_path\": \"/k\"}, \"logger\": {\"log_path\": "
	     "\"\"}}",
	     "logger.log_path: must be a non-empty path"},
	    {"{\"boot-source\": {\"kernel_image_path\": \"/k\"}, \"logger\": {\"level\": "
	     "\"Verbose\"}}",
	     "logger.level: \"Verbose\" is not one of Error, Warning, Info, Debug, Trace, Off"},
	    {"{\"boot-source\": {\"kernel_image_path\": \"/k\"}, \"logger\": {\"log_path\": "
	     "\"/l\", \"level\": \"Loud\"}}",
	     "logger.level: \"Loud\" is not one of"},
	    {"{\"boot-source\": {\"kernel_image_path\": \"/k\"}, \"metrics\": {}}",
	     "metrics.metrics_path: missing required field"},
	    {"{\"boot-source\": {\"kernel_image_path\": \"/k\"}, \"boot-source\": {}}",
	     "duplicate object key"},
	    {"{\"boot-source\": {\"kernel_image_path\": \"/k\\u0000x\"}}", "config: invalid JSON"},
	};
	struct vm_config cfg;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (parse(&cfg, cases[i].json) != -1)
			UNIT_FAIL("case %zu accepted: %s", i, cases[i].json);
		if (!strstr(err, cases[i].message))
			UNIT_FAIL("case %zu: \"%s\" lacks \"%s\"", i, err, cases[i].message);
		/* A refused config leaves cfg as it was. */
		CHECK(cfg.kernel_image_path == NULL);
		config_free(&cfg);
	}
}

UNIT_TEST(config_json_mac_parse_and_format)
{
	uint8_t mac[6];
	char buf[18];

	CHECK_EQ(config_parse_mac("06:00:ac:10:00:02", mac), 0);
	config_format_mac(mac, buf);
	CHECK_STR_EQ(buf, "06:00:ac:10:00:02");
	CHECK_EQ(config_parse_mac("FF:ee:DD:cc:bb:aa", mac), 0);
	CHECK_EQ(mac[0], 0xff);
	CHECK_EQ(config_parse_mac("06:00:ac:10:00:0", mac), -1);
	CHECK_EQ(config_parse_mac("06:00:ac:10:00:023", mac), -1);
	CHECK_EQ(config_parse_mac("06-00-ac-10-00-02", mac), -1);
	CHECK_EQ(config_parse_mac("0g:00:ac:10:00:02", mac), -1);
	CHECK_EQ(config_parse_mac("", mac), -1);
}

static json_t *obj(const char *text)
{
	json_t *o = NULL;

	config_json_load_object(text, strlen(text), "body", &o, err, sizeof(err));
	return o;
}

UNIT_TEST(config_json_machine_put_and_patch)
{
	struct vm_config cfg;
	struct config_machine m;
	json_t *o;

	config_init(&cfg);
	cfg.smt = true;
	cfg.vcpu_count = 2;
	o = obj("{\"mem_size_mib\": 512}");
	CHECK_EQ(config_json_parse_machine(o, "machine-config", false, &m, err, sizeof(err)), -1);
	CHECK_CONTAINS(err, "machine-config.vcpu_count: missing required field");
	CHECK_EQ(config_json_parse_machine(o, "machine-config", true, &m, err, sizeof(err)), 0);
	CHECK_EQ(m.present, CONFIG_MACHINE_MEM_SIZE_MIB);
	CHECK_EQ(config_apply_machine(&cfg, &m, false, err, sizeof(err)), 0);
	CHECK_EQ(cfg.mem_size_mib, 512);
	CHECK(cfg.smt); /* PATCH keeps what the body does not name */
	json_decref(o);

	o = obj("{\"vcpu_count\": 4, \"mem_size_mib\": 64}");
	CHECK_EQ(config_json_parse_machine(o, "machine-config", false, &m, err, sizeof(err)), 0);
	CHECK_EQ(config_apply_machine(&cfg, &m, true, err, sizeof(err)), 0);
	CHECK(!cfg.smt); /* PUT resets it to the default */
	json_decref(o);

	o = obj("{\"vcpu_count\": 3, \"smt\": true}");
	CHECK_EQ(config_json_parse_machine(o, "machine-config", true, &m, err, sizeof(err)), 0);
	CHECK_EQ(config_apply_machine(&cfg, &m, false, err, sizeof(err)), -1);
	CHECK_CONTAINS(err, "even number");
	CHECK_EQ(cfg.vcpu_count, 4); /* refused: unchanged */
	CHECK(!cfg.smt);
	json_decref(o);
	config_free(&cfg);
}

UNIT_TEST(config_json_apply_drive_replaces_and_reverts)
{
	struct vm_config cfg;
	struct drive_config d;
	json_t *o;

	config_init(&cfg);
	o = obj("{\"drive_id\": \"root\", \"path_on_host\": \"/a\", \"is_root_device\": true,"
	        " \"is_read_only\": false}");
	CHECK_EQ(config_json_parse_drive(o, "drive", &d, err, sizeof(err)), 0);
	CHECK_EQ(config_apply_drive(&cfg, &d, err, sizeof(err)), 0);
	json_decref(o);
	/* Same id: replaced in place. */
	o = obj("{\"drive_id\": \"root\", \"path_on_host\": \"/b\", \"is_root_device\": true,"
	        " \"is_read_only\": true}");
	CHECK_EQ(config_json_parse_drive(o, "drive", &d, err, sizeof(err)), 0);
	CHECK_EQ(config_apply_drive(&cfg, &d, err, sizeof(err)), 0);
	CHECK_EQ(cfg.ndrives, 1);
	CHECK_STR_EQ(cfg.drives[0].path_on_host, "/b");
	json_decref(o);
	/* A second root device: refused, nothing appended. */
	o = obj("{\"drive_id\": \"other\", \"path_on_host\": \"/c\", \"is_root_device\": true,"
	        " \"is_read_only\": true}");
	CHECK_EQ(config_json_parse_drive(o, "drive", &d, err, sizeof(err)), 0);
	CHECK_EQ(config_apply_drive(&cfg, &d, err, sizeof(err)), -1);
	CHECK_CONTAINS(err, "only one is allowed");
	CHECK_EQ(cfg.ndrives, 1);
	CHECK_STR_EQ(cfg.drives[0].path_on_host, "/b");
	json_decref(o);
	config_free(&cfg);
}

UNIT_TEST(config_json_apply_net_logger_metrics_boot)
{
	struct vm_config cfg;
	struct net_config n;
	struct config_logger l;
	struct config_boot_source bs;
	char *mp;
	json_t *o;

	config_init(&cfg);
	o = obj("{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap0\"}");
	CHECK_EQ(config_json_parse_net(o, "network-interface", &n, err, sizeof(err)), 0);
	CHECK_EQ(config_apply_net(&cfg, &n, err, sizeof(err)), 0);
	strcpy(n.id, "eth1"); /* same tap: refused */
	CHECK_EQ(config_apply_net(&cfg, &n, err, sizeof(err)), -1);
	CHECK_EQ(cfg.nnets, 1);
	json_decref(o);

	o = obj("{\"log_path\": \"/tmp/x\", \"level\": \"WARNING\", \"show_log_origin\": false}");
	CHECK_EQ(config_json_parse_logger(o, "logger", &l, err, sizeof(err)), 0);
	CHECK_STR_EQ(l.level, "Warning");
	CHECK_EQ(config_apply_logger(&cfg, &l, err, sizeof(err)), 0);
	CHECK_STR_EQ(cfg.log_level, "Warning");
	json_decref(o);

	o = obj("{\"metrics_path\": \"\"}");
	CHECK_EQ(config_json_parse_metrics(o, "metrics", &mp, err, sizeof(err)), 0);
	CHECK_EQ(config_apply_metrics(&cfg, mp, err, sizeof(err)), -1);
	CHECK(cfg.metrics_path == NULL);
	json_decref(o);

	o = obj("{\"kernel_image_path\": \"/k\", \"boot_protocol\": \"PVH\"}");
	CHECK_EQ(config_json_parse_boot_source(o, "boot-source", &bs, err, sizeof(err)), 0);
	CHECK_EQ(config_apply_boot_source(&cfg, &bs, err, sizeof(err)), 0);
	CHECK_EQ(cfg.boot_protocol, BOOT_PROTOCOL_PVH);
	json_decref(o);
	o = obj("{\"kernel_image_path\": \"\"}");
	CHECK_EQ(config_json_parse_boot_source(o, "boot-source", &bs, err, sizeof(err)), 0);
	CHECK_EQ(config_apply_boot_source(&cfg, &bs, err, sizeof(err)), -1);
	CHECK_STR_EQ(cfg.kernel_image_path, "/k");
	json_decref(o);
	config_free(&cfg);
}

UNIT_TEST(config_json_updates_need_something)
{
	struct config_drive_update du;
	struct config_net_update nu;
	json_t *o;

	o = obj("{\"drive_id\": \"root\"}");
	CHECK_EQ(config_json_parse_drive_update(o, "drive", &du, err, sizeof(err)), -1);
	CHECK_CONTAINS(err, "at least one property to patch");
	json_decref(o);
	o = obj("{\"drive_id\": \"root\", \"is_read_only\": true, \"path_on_host\": \"/x\"}");
	CHECK_EQ(config_json_parse_drive_update(o, "drive", &du, err, sizeof(err)), -1);
	CHECK_CONTAINS(err, "drive.is_read_only: unknown field");
	json_decref(o);
	o = obj("{\"drive_id\": \"root\", \"rate_limiter\": {}}");
	CHECK_EQ(config_json_parse_drive_update(o, "drive", &du, err, sizeof(err)), 0);
	CHECK(du.has_rate_limiter && !du.path_on_host);
	config_drive_update_free(&du);
	json_decref(o);
	o = obj("{\"iface_id\": \"e\", \"rx_rate_limiter\": {\"ops\": {\"size\": 1, "
	        "\"refill_time\": 2}}}");
	CHECK_EQ(config_json_parse_net_update(o, "network-interface", &nu, err, sizeof(err)), 0);
	CHECK(nu.has_rx && !nu.has_tx);
	CHECK_EQ(nu.rx.ops.refill_time_ms, 2);
	json_decref(o);
}

/* Firecracker's current logger schema: every field optional, Trace and Off, module. */
UNIT_TEST(config_json_logger_firecracker_schema)
{
	static const char *const levels[][2] = {
	    {"trace", "Trace"}, {"OFF", "Off"}, {"Debug", "Debug"}, {"error", "Error"}};
	struct vm_config cfg;
	struct config_logger l;
	char *dump;
	json_t *o;

	config_init(&cfg);
	for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
		char text[128];

		snprintf(text, sizeof(text), "{\"level\": \"%s\"}", levels[i][0]);
		o = obj(text);
		CHECK_EQ(config_json_parse_logger(o, "logger", &l, err, sizeof(err)), 0);
		CHECK(l.log_path == NULL);
		CHECK_STR_EQ(l.level, levels[i][1]);
		config_logger_free(&l);
		json_decref(o);
	}
	o = obj("{\"log_path\": \"/tmp/l\", \"level\": \"Trace\", \"module\": \"vmm::builder\","
	        " \"show_level\": true, \"show_log_origin\": true}");
	CHECK_EQ(config_json_parse_logger(o, "logger", &l, err, sizeof(err)), 0);
	CHECK(l.show_level && l.show_log_origin);
	CHECK_EQ(config_apply_logger(&cfg, &l, err, sizeof(err)), 0);
	CHECK_STR_EQ(cfg.log_path, "/tmp/l");
	CHECK_STR_EQ(cfg.log_level, "Trace");
	json_decref(o);
	/* Without log_path the destination stays; the level is replaced. */
	o = obj("{\"level\": \"Off\"}");
	CHECK_EQ(config_json_parse_logger(o, "logger", &l, err, sizeof(err)), 0);
	CHECK_EQ(config_apply_logger(&cfg, &l, err, sizeof(err)), 0);
	CHECK_STR_EQ(cfg.log_path, "/tmp/l");
	CHECK_STR_EQ(cfg.log_level, "Off");
	json_decref(o);
	config_free(&cfg);

	/* A --config-file logger without log_path loads and dumps back the same way. */
	CHECK_EQ(parse(&cfg, "{\"boot-source\": {\"kernel_image_path\": \"/k\"}, \"logger\": "
	                     "{\"level\": \"trace\", \"module\": \"api_server\"}}"),
	         0);
	CHECK(cfg.log_path == NULL);
	CHECK_STR_EQ(cfg.log_level, "Trace");
	dump = config_json_dump(&cfg);
	CHECK_CONTAINS(dump, "\"level\": \"Trace\"");
	free(dump);
	config_free(&cfg);
}
