/* test_api_routes.c - every route: status, body, pre/post-boot rules, through fake VMM ops. */
#include "tests/unit/unit.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api-socket/api_routes.h"
#include "vmm/vmm.h"

/* What the fake VMM saw. */
static struct {
	int starts, pauses, resumes, ctrl_alt_dels, flushes;
	int start_rc, flush_rc, log_path_rc;
	char drive_id[80], drive_path[80], net_id[80];
	bool drive_limiter, net_rx, net_tx;
	char log_path[80], metrics_path[80];
	enum log_level level;
	char checked[80]; /* the last path check_file saw */
	bool checked_writable;
} fake;

static int fake_start(struct vmm *vmm, char *err, size_t errlen)
{
	fake.starts++;
	if (fake.start_rc) {
		snprintf(err, errlen, "kernel /k: not an ELF");
		return -1;
	}
	vmm->state = VMM_RUNNING;
	return 0;
}

static int fake_pause(struct vmm *vmm, char *err, size_t errlen)
{
	(void)err, (void)errlen;
	fake.pauses++;
	vmm->state = VMM_PAUSED;
	return 0;
}

static int fake_resume(struct vmm *vmm, char *err, size_t errlen)
{
	(void)err, (void)errlen;
	fake.resumes++;
	vmm->state = VMM_RUNNING;
	return 0;
}

static int fake_cad(struct vmm *vmm, char *err, size_t errlen)
{
	(void)vmm, (void)err, (void)errlen;
	fake.ctrl_alt_dels++;
	return 0;
}

static int fake_update_drive(struct vmm *vmm, const char *id, const char *path,
                             const struct rate_limiter_config *limiter, char *err, size_t errlen)
{
	(void)vmm;
	snprintf(fake.drive_id, sizeof(fake.drive_id), "%s", id);
	snprintf(fake.drive_path, sizeof(fake.drive_path), "%s", path ? path : "(keep)");
	fake.drive_limiter = limiter != NULL;
	if (!strcmp(id, "nosuch")) {
		snprintf(err, errlen, "drive nosuch: no such drive");
		return -1;
	}
	return 0;
}

static int fake_update_net(struct vmm *vmm, const char *id, const struct rate_limiter_config *rx,
                           const struct rate_limiter_config *tx, char *err, size_t errlen)
{
	(void)vmm, (void)err, (void)errlen;
	snprintf(fake.net_id, sizeof(fake.net_id), "%s", id);
	fake.net_rx = rx != NULL;
	fake.net_tx = tx != NULL;
	return 0;
}

static int fake_flush(void)
{
	fake.flushes++;
	return fake.flush_rc;
}

static int fake_metrics_path(const char *path)
{
	snprintf(fake.metrics_path, sizeof(fake.metrics_path), "%s", path);
	return 0;
}

static int fake_log_path(const char *path)
{
	snprintf(fake.log_path, sizeof(fake.log_path), "%s", path);
	return fake.log_path_rc;
}

static void fake_level(enum log_level level)
{
	fake.level = level;
}

/* Paths containing "missing" do not exist; "readonly" ones cannot be opened for writing. */
static int fake_check_file(const char *path, bool writable)
{
	snprintf(fake.checked, sizeof(fake.checked), "%s", path);
	fake.checked_writable = writable;
	if (strstr(path, "missing"))
		return -ENOENT;
	if (writable && strstr(path, "readonly"))
		return -EACCES;
	return 0;
}

static const struct api_vmm_ops fake_ops = {
    .start = fake_start,
    .pause = fake_pause,
    .resume = fake_resume,
    .send_ctrl_alt_del = fake_cad,
    .update_drive = fake_update_drive,
    .update_net = fake_update_net,
    .flush_metrics = fake_flush,
    .set_metrics_path = fake_metrics_path,
    .set_log_path = fake_log_path,
    .set_log_level = fake_level,
    .check_file = fake_check_file,
};

static struct vmm vmm;
static struct api_response resp;

static void reset(void)
{
	config_free(&vmm.config);
	memset(&vmm, 0, sizeof(vmm));
	strcpy(vmm.id, "anonymous-instance");
	config_init(&vmm.config);
	memset(&fake, 0, sizeof(fake));
	api_response_free(&resp);
}

static int call_method(enum api_method m, const char *name, const char *path, const char *body)
{
	struct api_request req = {m, name, path, body, body ? strlen(body) : 0};

	api_response_free(&resp);
	api_handle(&vmm, &fake_ops, &req, &resp);
	return resp.status;
}

static int get(const char *path)
{
	return call_method(API_METHOD_GET, "GET", path, NULL);
}

static int put(const char *path, const char *body)
{
	return call_method(API_METHOD_PUT, "PUT", path, body);
}

static int patch(const char *path, const char *body)
{
	return call_method(API_METHOD_PATCH, "PATCH", path, body);
}

/* resp.body is {"fault_message": ...} containing needle. */
static bool fault_contains(const char *needle)
{
	json_t *j = resp.body ? json_loads(resp.body, 0, NULL) : NULL;
	const char *msg = json_string_value(json_object_get(j, "fault_message"));
	bool ok = msg && strstr(msg, needle);

	if (!ok)
		fprintf(stderr, "  body %s lacks \"%s\"\n", resp.body ? resp.body : "(none)",
		        needle);
	json_decref(j);
	return ok;
}

static const char root_drive[] = "{\"drive_id\": \"rootfs\", \"path_on_host\": \"/r.img\","
                                 " \"is_root_device\": true, \"is_read_only\": false}";

static void configure_bootable(void)
{
	put("/boot-source",
	    "{\"kernel_image_path\": \"/k.elf\", \"boot_args\": \"console=ttyS0\"}");
}

UNIT_TEST(api_get_instance_info)
{
	json_t *j;

	reset();
	CHECK_EQ(get("/"), 200);
	j = json_loads(resp.body, 0, NULL);
	CHECK_STR_EQ(json_string_value(json_object_get(j, "id")), "anonymous-instance");
	CHECK_STR_EQ(json_string_value(json_object_get(j, "state")), "Not started");
	CHECK_STR_EQ(json_string_value(json_object_get(j, "app_name")), "Wisp");
	CHECK(json_string_value(json_object_get(j, "vmm_version")) != NULL);
	json_decref(j);
	vmm.state = VMM_PAUSED;
	CHECK_EQ(get("/"), 200);
	CHECK_CONTAINS(resp.body, "\"state\":\"Paused\"");
}

UNIT_TEST(api_get_version)
{
	reset();
	CHECK_EQ(get("/version"), 200);
	CHECK_CONTAINS(resp.body, "\"firecracker_version\":\"" WISP_VERSION "\"");
}

UNIT_TEST(api_machine_config_put_get_patch)
{
	reset();
	CHECK_EQ(get("/machine-config"), 200);
	CHECK_STR_EQ(resp.body, "{\"vcpu_count\":1,\"mem_size_mib\":128,\"smt\":false,"
	                        "\"track_dirty_pages\":false,\"huge_pages\":\"None\"}");
	CHECK_EQ(put("/machine-config", "{\"vcpu_count\": 2, \"mem_size_mib\": 256}"), 204);
	CHECK(resp.body == NULL);
	CHECK_EQ(vmm.config.vcpu_count, 2);
	CHECK_EQ(patch("/machine-config", "{\"mem_size_mib\": 512}"), 204);
	CHECK_EQ(vmm.config.vcpu_count, 2);
	CHECK_EQ(vmm.config.mem_size_mib, 512);
	CHECK_EQ(put("/machine-config", "{\"vcpu_count\": \"2\", \"mem_size_mib\": 256}"), 400);
	CHECK(fault_contains("machine-config.vcpu_count: expected an integer"));
	CHECK_EQ(put("/machine-config", "{\"vcpu_count\": 2, \"mem_size_mib\": 256, \"x\": 1}"),
	         400);
	CHECK(fault_contains("machine-config.x: unknown field"));
	CHECK_EQ(put("/machine-config", "{\"vcpu_count\": 33, \"mem_size_mib\": 256}"), 400);
	CHECK(fault_contains("between 1 and 32"));
	/* One message for every out-of-range value, the same as config_validate's. */
	CHECK_EQ(put("/machine-config", "{\"vcpu_count\": -1, \"mem_size_mib\": 256}"), 400);
	CHECK(fault_contains("machine-config.vcpu_count: must be between 1 and 32 (got -1)"));
	CHECK_EQ(put("/machine-config", "{\"vcpu_count\": 1, \"mem_size_mib\": -1}"), 400);
	CHECK(
	    fault_contains("machine-config.mem_size_mib: must be between 1 and 8387584 (got -1)"));
	CHECK_EQ(patch("/machine-config", "{\"mem_size_mib\": 1000000000000}"), 400);
	CHECK(fault_contains("must be between 1 and 8387584 (got 1000000000000)"));
	CHECK_EQ(put("/machine-config", "{\"mem_size_mib\": 256}"), 400);
	CHECK(fault_contains("machine-config.vcpu_count: missing required field"));
	CHECK_EQ(vmm.config.mem_size_mib, 512); /* refused requests change nothing */
	CHECK_EQ(put("/machine-config", "not json"), 400);
	CHECK(fault_contains("machine-config: invalid JSON"));
	/* huge_pages: Firecracker's "None" and "2M"; 2 MiB pages need an even size. */
	CHECK_EQ(put("/machine-config", "{\"vcpu_count\": 1, \"mem_size_mib\": 64, "
	                                "\"huge_pages\": \"2M\"}"),
	         204);
	CHECK(vmm.config.huge_pages);
	CHECK_EQ(get("/machine-config"), 200);
	CHECK_CONTAINS(resp.body, "\"huge_pages\":\"2M\"");
	CHECK_EQ(patch("/machine-config", "{\"mem_size_mib\": 65}"), 400);
	CHECK(fault_contains(
	    "mem_size_mib: must be a multiple of 2 with huge_pages \"2M\" (got 65)"));
	CHECK_EQ(vmm.config.mem_size_mib, 64);
	CHECK_EQ(patch("/machine-config", "{\"huge_pages\": \"1G\"}"), 400);
	CHECK(fault_contains("machine-config.huge_pages: \"1G\" is not \"None\" or \"2M\""));
	CHECK(vmm.config.huge_pages);
	/* PUT resets what it leaves out, as for smt. */
	CHECK_EQ(put("/machine-config", "{\"vcpu_count\": 1, \"mem_size_mib\": 65}"), 204);
	CHECK(!vmm.config.huge_pages);
	CHECK_EQ(put("/machine-config", "[1]"), 400);
	CHECK(fault_contains("machine-config: expected an object"));
}

UNIT_TEST(api_body_rules)
{
	reset();
	CHECK_EQ(put("/machine-config", NULL), 400);
	CHECK(fault_contains("Empty PUT request."));
	CHECK_EQ(patch("/machine-config", NULL), 400);
	CHECK(fault_contains("Empty PATCH request."));
	CHECK_EQ(call_method(API_METHOD_GET, "GET", "/machine-config", "{}"), 400);
	CHECK(fault_contains("GET request cannot have a body."));
}

UNIT_TEST(api_boot_source)
{
	reset();
	CHECK_EQ(put("/boot-source", "{\"boot_args\": \"x\"}"), 400);
	CHECK(fault_contains("boot-source.kernel_image_path: missing required field"));
	CHECK_EQ(put("/boot-source", "{\"kernel_image_path\": \"/k\", \"initrd_path\": \"/i\"}"),
	         204);
	CHECK_STR_EQ(vmm.config.kernel_image_path, "/k");
	CHECK_STR_EQ(vmm.config.initrd_path, "/i");
	/* A PUT replaces the whole section: boot_args back to the default. */
	CHECK_EQ(put("/boot-source", "{\"kernel_image_path\": \"/k2\"}"), 204);
	CHECK(vmm.config.initrd_path == NULL);
}

UNIT_TEST(api_drives_put)
{
	reset();
	CHECK_EQ(put("/drives/rootfs", root_drive), 204);
	CHECK_EQ(vmm.config.ndrives, 1);
	CHECK_EQ(put("/drives/other", root_drive), 400);
	CHECK(fault_contains("The id from the path does not match the id from the body!"));
	CHECK_EQ(put("/drives/bad.id", root_drive), 400);
	CHECK(fault_contains("API Resource IDs can only contain"));
	CHECK_EQ(put("/drives", root_drive), 400);
	CHECK(fault_contains("The ID cannot be empty."));
	CHECK_EQ(put("/drives/a/b", root_drive), 404);
	CHECK_EQ(put("/drives/data", "{\"drive_id\": \"data\", \"path_on_host\": \"/d\","
	                             " \"is_root_device\": true, \"is_read_only\": true}"),
	         400);
	CHECK(fault_contains("only one is allowed"));
	CHECK_EQ(put("/drives/data", "{\"drive_id\": \"data\", \"path_on_host\": \"/d\","
	                             " \"is_root_device\": false, \"is_read_only\": 1}"),
	         400);
	CHECK(fault_contains("drive.is_read_only: expected a boolean"));
	CHECK_EQ(vmm.config.ndrives, 1);
	/* Trailing slash and query string are ignored. */
	CHECK_EQ(put("/drives/rootfs/?x=1", root_drive), 204);
	CHECK_EQ(vmm.config.ndrives, 1);
}

UNIT_TEST(api_drives_patch_only_after_boot)
{
	reset();
	CHECK_EQ(put("/drives/rootfs", root_drive), 204);
	CHECK_EQ(patch("/drives/rootfs", "{\"drive_id\": \"rootfs\", \"path_on_host\": \"/n\"}"),
	         400);
	CHECK(fault_contains("not supported before starting the microVM"));
	vmm.state = VMM_RUNNING;
	CHECK_EQ(patch("/drives/rootfs", "{\"drive_id\": \"rootfs\", \"path_on_host\": \"/n\"}"),
	         204);
	CHECK_STR_EQ(fake.drive_id, "rootfs");
	CHECK_STR_EQ(fake.drive_path, "/n");
	CHECK(!fake.drive_limiter);
	CHECK_EQ(patch("/drives/rootfs", "{\"drive_id\": \"rootfs\", \"rate_limiter\": "
	                                 "{\"ops\": {\"size\": 1, \"refill_time\": 10}}}"),
	         204);
	CHECK_STR_EQ(fake.drive_path, "(keep)");
	CHECK(fake.drive_limiter);
	CHECK_EQ(patch("/drives/rootfs", "{\"drive_id\": \"x\", \"path_on_host\": \"/n\"}"), 400);
	CHECK(fault_contains("does not match"));
	CHECK_EQ(patch("/drives/rootfs", "{\"drive_id\": \"rootfs\", \"is_read_only\": true}"),
	         400);
	CHECK(fault_contains("drive.is_read_only: unknown field"));
	CHECK_EQ(patch("/drives/nosuch", "{\"drive_id\": \"nosuch\", \"path_on_host\": \"/n\"}"),
	         400);
	CHECK(fault_contains("no such drive"));
	CHECK_EQ(put("/drives/rootfs", root_drive), 400);
	CHECK(fault_contains("not supported after starting the microVM"));
}

UNIT_TEST(api_network_interfaces)
{
	reset();
	CHECK_EQ(put("/network-interfaces/eth0",
	             "{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap0\","
	             " \"guest_mac\": \"06:00:00:00:00:01\"}"),
	         204);
	CHECK_EQ(vmm.config.nnets, 1);
	CHECK_EQ(put("/network-interfaces/eth1",
	             "{\"iface_id\": \"eth1\", \"host_dev_name\": \"tap0\"}"),
	         400);
	CHECK(fault_contains("host_dev_name: \"tap0\" is already used"));
	CHECK_EQ(put("/network-interfaces/eth1",
	             "{\"iface_id\": \"eth1\", \"host_dev_name\": \"tap1\", \"guest_mac\": 5}"),
	         400);
	CHECK(fault_contains("network-interface.guest_mac: expected a string"));
	CHECK_EQ(patch("/network-interfaces/eth0", "{\"iface_id\": \"eth0\"}"), 400);
	CHECK(fault_contains("before starting"));
	vmm.state = VMM_RUNNING;
	CHECK_EQ(patch("/network-interfaces/eth0",
	               "{\"iface_id\": \"eth0\", \"tx_rate_limiter\": {\"bandwidth\": "
	               "{\"size\": 100, \"refill_time\": 10}}}"),
	         204);
	CHECK_STR_EQ(fake.net_id, "eth0");
	CHECK(!fake.net_rx && fake.net_tx);
	CHECK_EQ(patch("/network-interfaces/eth0", "{\"iface_id\": \"eth9\"}"), 400);
	CHECK(fault_contains("does not match"));
}

UNIT_TEST(api_instance_start)
{
	reset();
	CHECK_EQ(put("/actions", "{\"action_type\": \"InstanceStart\"}"), 400);
	CHECK(fault_contains("Cannot start microvm without kernel configuration."));
	CHECK_EQ(fake.starts, 0);
	configure_bootable();
	fake.start_rc = -1;
	CHECK_EQ(put("/actions", "{\"action_type\": \"InstanceStart\"}"), 400);
	CHECK(fault_contains("Cannot start microvm: kernel /k: not an ELF"));
	fake.start_rc = 0;
	CHECK_EQ(put("/actions", "{\"action_type\": \"InstanceStart\"}"), 204);
	CHECK_EQ(vmm.state, VMM_RUNNING);
	CHECK_EQ(put("/actions", "{\"action_type\": \"InstanceStart\"}"), 400);
	CHECK(fault_contains("not supported after starting the microVM"));
	CHECK_EQ(fake.starts, 2);
}

UNIT_TEST(api_actions_other)
{
	reset();
	CHECK_EQ(put("/actions", "{\"action_type\": \"Reboot\"}"), 400);
	CHECK(fault_contains("actions.action_type: \"Reboot\" is not one of InstanceStart, "
	                     "SendCtrlAltDel, FlushMetrics"));
	CHECK_EQ(put("/actions", "{}"), 400);
	CHECK(fault_contains("actions.action_type: missing required field"));
	CHECK_EQ(put("/actions", "{\"action_type\": \"FlushMetrics\", \"x\": 1}"), 400);
	CHECK(fault_contains("actions.x: unknown field"));
	CHECK_EQ(put("/actions", "{\"action_type\": \"SendCtrlAltDel\"}"), 400);
	CHECK(fault_contains("before starting"));
	CHECK_EQ(put("/actions", "{\"action_type\": \"FlushMetrics\"}"), 204);
	fake.flush_rc = -1;
	CHECK_EQ(put("/actions", "{\"action_type\": \"FlushMetrics\"}"), 400);
	CHECK(fault_contains("FlushMetrics"));
	CHECK_EQ(fake.flushes, 2);
	vmm.state = VMM_RUNNING;
	CHECK_EQ(put("/actions", "{\"action_type\": \"SendCtrlAltDel\"}"), 204);
	CHECK_EQ(fake.ctrl_alt_dels, 1);
}

UNIT_TEST(api_patch_vm_pause_resume)
{
	reset();
	CHECK_EQ(patch("/vm", "{\"state\": \"Paused\"}"), 400);
	CHECK(fault_contains("before starting"));
	vmm.state = VMM_RUNNING;
	CHECK_EQ(patch("/vm", "{\"state\": \"Paused\"}"), 204);
	CHECK_EQ(vmm.state, VMM_PAUSED);
	CHECK_EQ(patch("/vm", "{\"state\": \"Resumed\"}"), 204);
	CHECK_EQ(vmm.state, VMM_RUNNING);
	CHECK_EQ(patch("/vm", "{\"state\": \"Stopped\"}"), 400);
	CHECK(fault_contains("vm.state: \"Stopped\" is not one of Paused, Resumed"));
	CHECK_EQ(fake.pauses + fake.resumes, 2);
}

UNIT_TEST(api_logger_and_metrics)
{
	reset();
	CHECK_EQ(put("/logger", "{\"log_path\": \"/tmp/l\", \"level\": \"info\"}"), 204);
	CHECK_STR_EQ(fake.log_path, "/tmp/l");
	CHECK_EQ(fake.level, LOG_INFO);
	CHECK_STR_EQ(vmm.config.log_level, "Info");
	fake.log_path_rc = -ENOENT;
	CHECK_EQ(put("/logger", "{\"log_path\": \"/nope/l\"}"), 400);
	CHECK(fault_contains("logger.log_path: cannot open /nope/l: No such file"));
	CHECK_STR_EQ(vmm.config.log_path, "/tmp/l");
	CHECK_EQ(put("/logger", "{\"log_path\": \"/tmp/l\", \"level\": \"Chatty\"}"), 400);
	CHECK(fault_contains("logger.level"));
	CHECK_EQ(put("/metrics", "{\"metrics_path\": \"/tmp/m\"}"), 204);
	CHECK_STR_EQ(fake.metrics_path, "/tmp/m");
	CHECK_STR_EQ(vmm.config.metrics_path, "/tmp/m");
	CHECK_EQ(put("/metrics", "{\"path\": \"/tmp/m\"}"), 400);
	CHECK(fault_contains("metrics.path: unknown field"));
}

UNIT_TEST(api_logger_firecracker_schema)
{
	reset();
	/* Every field optional: no log_path keeps the destination. */
	CHECK_EQ(put("/logger", "{\"level\": \"Warning\"}"), 204);
	CHECK_STR_EQ(fake.log_path, "");
	CHECK_EQ(fake.level, LOG_WARN);
	CHECK(vmm.config.log_path == NULL);
	CHECK_EQ(put("/logger", "{\"log_path\": \"/tmp/l\", \"level\": \"Trace\", \"module\":"
	                        " \"vmm::builder\", \"show_level\": true, \"show_log_origin\":"
	                        " false}"),
	         204);
	CHECK_STR_EQ(fake.log_path, "/tmp/l");
	CHECK_EQ(fake.level, LOG_DEBUG); /* Trace logs as Debug */
	CHECK_STR_EQ(vmm.config.log_level, "Trace");
	/* Off: the level that prints nothing; the destination and the configured path stay. */
	CHECK_EQ(put("/logger", "{\"level\": \"off\"}"), 204);
	CHECK_STR_EQ(fake.log_path, "/tmp/l");
	CHECK_EQ(fake.level, LOG_OFF);
	CHECK_STR_EQ(vmm.config.log_level, "Off");
	CHECK_STR_EQ(vmm.config.log_path, "/tmp/l");
	CHECK_EQ(get("/vm/config"), 200);
	CHECK_CONTAINS(resp.body, "\"level\":\"Off\"");
	CHECK_EQ(put("/logger", "{\"module\": 1}"), 400);
	CHECK(fault_contains("logger.module: expected a string"));
	CHECK_EQ(put("/logger", "{\"level\": \"Verbose\"}"), 400);
	CHECK(fault_contains("is not one of Error, Warning, Info, Debug, Trace, Off"));
	CHECK_EQ(put("/logger", "{\"log_path\": \"\"}"), 400);
	CHECK(fault_contains("logger.log_path: must be a non-empty path"));
	CHECK_STR_EQ(vmm.config.log_level, "Off"); /* refused requests change nothing */
}

UNIT_TEST(api_put_checks_files)
{
	reset();
	CHECK_EQ(put("/boot-source", "{\"kernel_image_path\": \"/missing/k\"}"), 400);
	CHECK(
	    fault_contains("boot-source.kernel_image_path: /missing/k: No such file or directory"));
	CHECK(vmm.config.kernel_image_path == NULL);
	CHECK(!fake.checked_writable);
	CHECK_EQ(put("/boot-source", "{\"kernel_image_path\": \"/k\", \"initrd_path\": "
	                             "\"/missing-initrd\"}"),
	         400);
	CHECK(fault_contains("boot-source.initrd_path: /missing-initrd: No such file"));
	CHECK(vmm.config.kernel_image_path == NULL);
	CHECK_EQ(put("/boot-source", "{\"kernel_image_path\": \"/k\", \"initrd_path\": \"/i\"}"),
	         204);
	CHECK_STR_EQ(fake.checked, "/i");

	/* Drives: read-write unless is_read_only. */
	CHECK_EQ(put("/drives/d", "{\"drive_id\": \"d\", \"path_on_host\": \"/missing.img\","
	                          " \"is_root_device\": false, \"is_read_only\": true}"),
	         400);
	CHECK(fault_contains("drive.path_on_host: /missing.img: No such file or directory"));
	CHECK_EQ(put("/drives/d", "{\"drive_id\": \"d\", \"path_on_host\": \"/readonly.img\","
	                          " \"is_root_device\": false, \"is_read_only\": false}"),
	         400);
	CHECK(fault_contains("drive.path_on_host: /readonly.img: Permission denied"));
	CHECK(fake.checked_writable);
	CHECK_EQ(vmm.config.ndrives, 0);
	CHECK_EQ(put("/drives/d", "{\"drive_id\": \"d\", \"path_on_host\": \"/readonly.img\","
	                          " \"is_root_device\": false, \"is_read_only\": true}"),
	         204);
	CHECK(!fake.checked_writable);
	CHECK_EQ(vmm.config.ndrives, 1);
	/* An empty path keeps config_validate's message. */
	CHECK_EQ(put("/drives/e", "{\"drive_id\": \"e\", \"path_on_host\": \"\","
	                          " \"is_root_device\": false, \"is_read_only\": true}"),
	         400);
	CHECK(fault_contains("path_on_host: must be a non-empty path"));
}

/* The server's real check, on real files. */
UNIT_TEST(api_check_file_opens_as_the_vm_will)
{
	char dir[] = "/tmp/wisp-api-check.XXXXXX", path[64];
	FILE *f;

	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/f", dir);
	CHECK_EQ(api_check_file(path, false), -ENOENT);
	f = fopen(path, "w");
	CHECK(f != NULL);
	fclose(f);
	CHECK_EQ(api_check_file(path, false), 0);
	CHECK_EQ(api_check_file(path, true), 0);
	CHECK_EQ(api_check_file(dir, false), -EISDIR);
	CHECK_EQ(api_check_file(dir, true), -EISDIR);
	if (geteuid() != 0) { /* root opens anything */
		chmod(path, 0400);
		CHECK_EQ(api_check_file(path, true), -EACCES);
		CHECK_EQ(api_check_file(path, false), 0);
	}
	unlink(path);
	rmdir(dir);
}

UNIT_TEST(api_pre_boot_resources_refused_after_start)
{
	static const char *const paths[][2] = {
	    {"/boot-source", "{\"kernel_image_path\": \"/k\"}"},
	    {"/machine-config", "{\"vcpu_count\": 1, \"mem_size_mib\": 64}"},
	    {"/drives/rootfs", root_drive},
	    {"/network-interfaces/e", "{\"iface_id\": \"e\", \"host_dev_name\": \"t\"}"},
	    {"/logger", "{\"log_path\": \"/l\"}"},
	    {"/metrics", "{\"metrics_path\": \"/m\"}"},
	};

	reset();
	vmm.state = VMM_RUNNING;
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		if (put(paths[i][0], paths[i][1]) != 400 ||
		    !fault_contains("The requested operation is not supported after starting "
		                    "the microVM."))
			UNIT_FAIL("PUT %s accepted after boot", paths[i][0]);
	}
	CHECK_EQ(patch("/machine-config", "{\"vcpu_count\": 2}"), 400);
	CHECK_EQ(vmm.config.vcpu_count, 1);
	/* Reads still work. */
	CHECK_EQ(get("/machine-config"), 200);
	CHECK_EQ(get("/vm/config"), 200);
}

UNIT_TEST(api_snapshot_requests_are_checked_and_gated)
{
	reset();
	/* before InstanceStart there is nothing to snapshot */
	CHECK_EQ(put("/snapshot/create", "{\"snapshot_path\": \"/s\", \"mem_file_path\": \"/m\"}"),
	         400);
	CHECK(fault_contains("not supported before starting the microVM"));
	CHECK_EQ(put("/snapshot/create", "{\"snapshot_type\": \"Diff\", \"snapshot_path\": \"/s\", "
	                                 "\"mem_file_path\": \"/m\"}"),
	         400);
	CHECK(fault_contains("not supported before starting the microVM"));
	CHECK_EQ(put("/snapshot/create", "{\"snapshot_type\": \"Delta\", \"snapshot_path\": "
	                                 "\"/s\", \"mem_file_path\": \"/m\"}"),
	         400);
	CHECK(fault_contains("snapshot-create.snapshot_type"));
	CHECK_EQ(put("/snapshot/create", "{\"snapshot_path\": \"/s\"}"), 400);
	CHECK(fault_contains("snapshot-create.mem_file_path: required"));
	CHECK_EQ(put("/snapshot/create", "{\"snapshot_path\": \"\", \"mem_file_path\": \"/m\"}"),
	         400);
	CHECK(fault_contains("snapshot-create.snapshot_path: expected a non-empty string"));
	CHECK_EQ(put("/snapshot/create", "{\"snapshot_path\": \"/s\", \"mem_file_path\": \"/m\", "
	                                 "\"x\": 1}"),
	         400);
	CHECK(fault_contains("snapshot-create.x: unknown field"));
	CHECK_EQ(put("/snapshot/load", "{}"), 400);
	CHECK(fault_contains("mem_backend (or mem_file_path) is required"));
	CHECK_EQ(put("/snapshot/load", "{\"snapshot_path\": \"/s\", \"mem_backend\": "
	                               "{\"backend_type\": \"Mmap\", \"backend_path\": \"/u\"}}"),
	         400);
	CHECK(fault_contains("snapshot-load.mem_backend.backend_type"));
	CHECK_EQ(put("/snapshot/load", "{\"snapshot_path\": \"/s\", \"mem_backend\": "
	                               "{\"backend_type\": \"File\"}}"),
	         400);
	CHECK(fault_contains("snapshot-load.mem_backend.backend_path: required"));
	CHECK_EQ(put("/snapshot/load", "{\"snapshot_path\": \"/s\", \"mem_file_path\": \"/m\", "
	                               "\"resume_vm\": 1}"),
	         400);
	CHECK(fault_contains("snapshot-load.resume_vm: expected a boolean"));
	CHECK_EQ(put("/snapshot/load", "{\"snapshot_path\": \"/s\", \"mem_file_path\": \"/m\", "
	                               "\"track_dirty_pages\": \"yes\"}"),
	         400);
	CHECK(fault_contains("snapshot-load.track_dirty_pages: expected a boolean"));
	/* a well-formed load reaches the VMM (here: the test ops, which have none) */
	CHECK_EQ(put("/snapshot/load", "{\"snapshot_path\": \"/s\", \"mem_backend\": "
	                               "{\"backend_type\": \"File\", \"backend_path\": \"/m\"}, "
	                               "\"resume_vm\": true}"),
	         400);
	CHECK(fault_contains("snapshots are not available here"));
}

UNIT_TEST(api_unsupported_and_unknown)
{
	reset();
	CHECK_EQ(put("/mmds", "{}"), 400);
	CHECK(fault_contains("/mmds is not supported by wisp"));
	CHECK_EQ(get("/balloon"), 400);
	CHECK_EQ(put("/vsock", "{}"), 400);
	/* Firecracker's newer resources: 400 like the others, never 404 or 405. */
	CHECK_EQ(put("/serial", "{\"serial_out_path\": \"/s\"}"), 400);
	CHECK(fault_contains("/serial is not supported by wisp"));
	CHECK_EQ(put("/pmem/pmem0", "{}"), 400);
	CHECK(fault_contains("/pmem/pmem0 is not supported by wisp"));
	CHECK_EQ(get("/pmem"), 400);
	CHECK_EQ(patch("/balloon/hinting/start", "{}"), 400);
	CHECK(fault_contains("/balloon/hinting/start is not supported by wisp"));
	CHECK_EQ(get("/balloon/hinting/status"), 400);
	CHECK(fault_contains("/balloon/hinting/status is not supported by wisp"));
	CHECK_EQ(patch("/balloon/hinting/stop", "{}"), 400);
	CHECK_EQ(get("/balloon/hinting/status/x"), 404);
	CHECK_EQ(get("/nothing"), 404);
	CHECK(fault_contains("Invalid request method and/or path: GET /nothing."));
	CHECK(resp.allow == NULL);
	CHECK_EQ(get("relative"), 400);
}

UNIT_TEST(api_wrong_method_is_405_with_allow)
{
	reset();
	CHECK_EQ(call_method(API_METHOD_OTHER, "DELETE", "/machine-config", NULL), 405);
	CHECK(fault_contains("Invalid request method and/or path: DELETE /machine-config."));
	CHECK_STR_EQ(resp.allow, "GET, PUT, PATCH");
	CHECK_EQ(get("/actions"), 405);
	CHECK_STR_EQ(resp.allow, "PUT");
	CHECK_EQ(put("/vm", "{}"), 405);
	CHECK_STR_EQ(resp.allow, "PATCH");
	CHECK_EQ(get("/drives/rootfs"), 405);
	CHECK_STR_EQ(resp.allow, "PUT, PATCH");
	CHECK_EQ(put("/", "{}"), 405);
	CHECK_STR_EQ(resp.allow, "GET");
	CHECK_EQ(put("/version", "{}"), 405);
}

UNIT_TEST(api_vm_config_round_trips_through_config_file)
{
	struct vm_config back;
	char err[256];
	char *again;

	reset();
	configure_bootable();
	CHECK_EQ(
	    put("/machine-config", "{\"vcpu_count\": 2, \"mem_size_mib\": 300, \"smt\": true}"),
	    204);
	CHECK_EQ(put("/drives/rootfs", root_drive), 204);
	CHECK_EQ(put("/drives/data",
	             "{\"drive_id\": \"data\", \"path_on_host\": \"/d\", \"is_root_device\": false,"
	             " \"is_read_only\": true, \"io_engine\": \"Async\", \"rate_limiter\":"
	             " {\"bandwidth\": {\"size\": 10, \"refill_time\": 20}}}"),
	         204);
	CHECK_EQ(put("/network-interfaces/eth0",
	             "{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap0\","
	             " \"guest_mac\": \"06:00:00:00:00:01\"}"),
	         204);
	CHECK_EQ(put("/metrics", "{\"metrics_path\": \"/tmp/m\"}"), 204);
	CHECK_EQ(get("/vm/config"), 200);
	config_init(&back);
	CHECK_EQ(config_json_parse(&back, resp.body, strlen(resp.body), err, sizeof(err)), 0);
	CHECK_EQ(back.vcpu_count, 2);
	CHECK(back.smt);
	CHECK_EQ(back.ndrives, 2);
	CHECK_EQ(back.drives[1].io_engine, IO_ENGINE_ASYNC);
	CHECK_EQ(back.drives[1].rate_limiter.bandwidth.refill_time_ms, 20);
	CHECK_STR_EQ(back.boot_args, "console=ttyS0");
	CHECK_STR_EQ(back.metrics_path, "/tmp/m");
	again = config_json_dump(&back);
	{
		char *orig = config_json_dump(&vmm.config);

		CHECK_STR_EQ(again, orig);
		free(orig);
	}
	free(again);
	config_free(&back);
	reset();
}
