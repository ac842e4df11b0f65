/* test_config.c - config_init/free/validate/set_string: every rule and its message. */
#include "tests/unit/unit.h"

#include <stdlib.h>

#include "vmm/config.h"
#include "vmm/config_json.h"

static char err[256];

/* A valid config with one root drive and one NIC, to break one field at a time. */
static void good_config(struct vm_config *cfg)
{
	config_init(cfg);
	config_set_string(&cfg->kernel_image_path, "/k");
	cfg->ndrives = 1;
	strcpy(cfg->drives[0].id, "rootfs");
	cfg->drives[0].path_on_host = strdup("/disk.img");
	cfg->drives[0].is_root_device = true;
	cfg->nnets = 1;
	strcpy(cfg->nets[0].id, "eth0");
	strcpy(cfg->nets[0].host_dev_name, "tap0");
}

UNIT_TEST(config_defaults_are_firecracker_defaults)
{
	struct vm_config cfg;

	config_init(&cfg);
	CHECK_EQ(cfg.vcpu_count, 1);
	CHECK_EQ(cfg.mem_size_mib, 128);
	CHECK(!cfg.smt && !cfg.track_dirty_pages);
	CHECK(cfg.kernel_image_path == NULL && cfg.boot_args == NULL);
	CHECK_EQ(config_validate(&cfg, err, sizeof(err)), 0);
	config_free(&cfg);
	config_free(&cfg); /* twice is harmless */
}

UNIT_TEST(config_good_config_validates)
{
	struct vm_config cfg;

	good_config(&cfg);
	CHECK_EQ(config_validate(&cfg, err, sizeof(err)), 0);
	config_free(&cfg);
	CHECK_EQ(cfg.ndrives, 0);
}

UNIT_TEST(config_set_string_copies_and_clears)
{
	char *s = NULL;
	char src[] = "abc";

	CHECK_EQ(config_set_string(&s, src), 0);
	src[0] = 'x';
	CHECK_STR_EQ(s, "abc");
	CHECK_EQ(config_set_string(&s, "def"), 0);
	CHECK_STR_EQ(s, "def");
	CHECK_EQ(config_set_string(&s, NULL), 0);
	CHECK(s == NULL);
}

UNIT_TEST(config_vcpu_count_range)
{
	struct vm_config cfg;

	good_config(&cfg);
	cfg.vcpu_count = 0;
	CHECK_EQ(config_validate(&cfg, err, sizeof(err)), -1);
	CHECK_CONTAINS(err, "machine-config.vcpu_count");
	CHECK_CONTAINS(err, "between 1 and 32 (got 0)");
	cfg.vcpu_count = 33;
	CHECK_EQ(config_validate(&cfg, err, sizeof(err)), -1);
	CHECK_CONTAINS(err, "got 33");
	cfg.vcpu_count = 32;
	CHECK_EQ(config_validate(&cfg, err, sizeof(err)), 0);
	config_free(&cfg);
}

UNIT_TEST(config_smt_needs_even_vcpus)
{
	struct vm_config cfg;

	good_config(&cfg);
	cfg.smt = true;
	cfg.vcpu_count = 3;
	CHECK_EQ(config_validate(&cfg, err, sizeof(err)), -1);
	CHECK_CONTAINS(err, "machine-config.vcpu_count: must be 1 or an even number");
	cfg.vcpu_count = 1;
	CHECK_EQ(config_validate(&cfg, err, sizeof(err)), 0);
	cfg.vcpu_count = 4;
	CHECK_EQ(config_validate(&cfg, err, sizeof(err)), 0);
	config_free(&cfg);
}

UNIT_TEST(config_mem_size_range)
{
	struct vm_config cfg;

	good_config(&cfg);
	cfg.mem_size_mib = 0;
	CHECK_EQ(config_validate(&cfg, err, sizeof(err)), -1);
	CHECK_CONTAINS(err, "machine-config.mem_size_mib");
	cfg.mem_size_mib = 1;
	CHECK_EQ(config_validate(&cfg, err, sizeof(err)), 0);
	/* 8 TiB - 1 GiB fits below 2^43 with the MMIO hole; one MiB more does not. */
	cfg.mem_size_mib = (1ULL << 23) - 1024;
	CHECK_EQ(config_validate(&cfg, err, sizeof(err)), 0);
	cfg.mem_size_mib++;
	CHECK_EQ(config_validate(&cfg, err, sizeof(err)), -1);
	cfg.mem_size_mib = UINT64_MAX;
	CHECK_EQ(config_validate(&cfg, err, sizeof(err)), -1);
	config_free(&cfg);
}

UNIT_TEST(config_one_root_device)
{
	struct vm_config cfg;

	good_config(&cfg);
	cfg.ndrives = 2;
	strcpy(cfg.drives[1].id, "data");
	cfg.drives[1].path_on_host = strdup("/data.img");
	CHECK_EQ(config_validate(&cfg, err, sizeof(err)), 0);
	cfg.drives[1].is_root_device = true;
	CHECK_EQ(config_validate(&cfg, err, sizeof(err)), -1);
	CHECK_CONTAINS(err, "drives[1].is_root_device");
	CHECK_CONTAINS(err, "\"rootfs\"");
	config_free(&cfg);
}

UNIT_TEST(config_unique_drive_ids)
{
	struct vm_config cfg;

	good_config(&cfg);
	cfg.ndrives = 2;
	strcpy(cfg.drives[1].id, "rootfs");
	cfg.drives[1].path_on_host = strdup("/x");
	CHECK_EQ(config_validate(&cfg, err, sizeof(err)), -1);
	CHECK_CONTAINS(err, "drives[1].drive_id: \"rootfs\" is already used by drives[0]");
	config_free(&cfg);
}

UNIT_TEST(config_id_charset_and_length)
{
	struct vm_config cfg;

	good_config(&cfg);
	strcpy(cfg.drives[0].id, "a/b");
	CHECK_EQ(config_validate(&cfg, err, sizeof(err)), -1);
	CHECK_CONTAINS(err, "drives[0].drive_id");
	CHECK_CONTAINS(err, "'/'");
	strcpy(cfg.drives[0].id, "");
	CHECK_EQ(config_validate(&cfg, err, sizeof(err)), -1);
	CHECK_CONTAINS(err, "must not be empty");
	memset(cfg.drives[0].id, 'a', CONFIG_ID_MAX);
	cfg.drives[0].id[CONFIG_ID_MAX] = 0;
	CHECK_EQ(config_validate(&cfg, err, sizeof(err)), 0);
	strcpy(cfg.drives[0].id, "Root_fs-2");
	CHECK_EQ(config_validate(&cfg, err, sizeof(err)), 0);
	strcpy(cfg.nets[0].id, "eth 0");
	CHECK_EQ(config_validate(&cfg, err, sizeof(err)), -1);
	CHECK_CONTAINS(err, "network-interfaces[0].iface_id");
	config_free(&cfg);
}

UNIT_TEST(config_drive_needs_path)
{
	struct vm_config cfg;

	good_config(&cfg);
	free(cfg.drives[0].path_on_host);
	cfg.drives[0].path_on_host = NULL;
	CHECK_EQ(config_validate(&cfg, err, sizeof(err)), -1);
	CHECK_CONTAINS(err, "drives[0].path_on_host");
	cfg.drives[0].path_on_host = strdup("");
	CHECK_EQ(config_validate(&cfg, err, sizeof(err)), -1);
	config_free(&cfg);
}

UNIT_TEST(config_nets_unique_name_and_mac)
{
	struct vm_config cfg;

	good_config(&cfg);
	cfg.nnets = 2;
	strcpy(cfg.nets[1].id, "eth1");
	strcpy(cfg.nets[1].host_dev_name, "tap0");
	CHECK_EQ(config_validate(&cfg, err, sizeof(err)), -1);
	CHECK_CONTAINS(err, "network-interfaces[1].host_dev_name: \"tap0\" is already used");
	strcpy(cfg.nets[1].host_dev_name, "tap1");
	CHECK_EQ(config_validate(&cfg, err, sizeof(err)), 0);
	cfg.nets[0].has_guest_mac = cfg.nets[1].has_guest_mac = true;
	memcpy(cfg.nets[0].guest_mac, "\x06\0\0\0\0\x01", 6);
	memcpy(cfg.nets[1].guest_mac, "\x06\0\0\0\0\x01", 6);
	CHECK_EQ(config_validate(&cfg, err, sizeof(err)), -1);
	CHECK_CONTAINS(err, "network-interfaces[1].guest_mac: already used");
	cfg.nets[1].guest_mac[5] = 2;
	CHECK_EQ(config_validate(&cfg, err, sizeof(err)), 0);
	cfg.nets[1].guest_mac[0] = 1; /* multicast */
	CHECK_EQ(config_validate(&cfg, err, sizeof(err)), -1);
	CHECK_CONTAINS(err, "unicast");
	memset(cfg.nets[1].guest_mac, 0, 6);
	CHECK_EQ(config_validate(&cfg, err, sizeof(err)), -1);
	strcpy(cfg.nets[1].host_dev_name, "");
	CHECK_EQ(config_validate(&cfg, err, sizeof(err)), -1);
	CHECK_CONTAINS(err, "host_dev_name: must not be empty");
	config_free(&cfg);
}

UNIT_TEST(config_device_counts)
{
	struct vm_config cfg;

	config_init(&cfg);
	cfg.ndrives = CONFIG_MAX_DRIVES + 1;
	CHECK_EQ(config_validate(&cfg, err, sizeof(err)), -1);
	CHECK_CONTAINS(err, "drives: at most 16");
	cfg.ndrives = 0;
	cfg.nnets = CONFIG_MAX_NETS + 1;
	CHECK_EQ(config_validate(&cfg, err, sizeof(err)), -1);
	cfg.nnets = 0;
	/* 16 drives + 8 NICs need 24 virtio slots; the IOAPIC has 18 for them. */
	config_init(&cfg);
	for (unsigned i = 0; i < CONFIG_MAX_DRIVES; i++) {
		snprintf(cfg.drives[i].id, sizeof(cfg.drives[i].id), "d%u", i);
		cfg.drives[i].path_on_host = strdup("/x");
	}
	cfg.ndrives = CONFIG_MAX_DRIVES;
	for (unsigned i = 0; i < 3; i++) {
		snprintf(cfg.nets[i].id, sizeof(cfg.nets[i].id), "n%u", i);
		snprintf(cfg.nets[i].host_dev_name, sizeof(cfg.nets[i].host_dev_name), "tap%u", i);
	}
	cfg.nnets = 2;
	CHECK_EQ(config_validate(&cfg, err, sizeof(err)), 0);
	cfg.nnets = 3;
	CHECK_EQ(config_validate(&cfg, err, sizeof(err)), -1);
	CHECK_CONTAINS(err, "at most 18 devices");
	config_free(&cfg);
}

UNIT_TEST(config_paths_and_levels)
{
	struct vm_config cfg;

	good_config(&cfg);
	config_set_string(&cfg.kernel_image_path, "");
	CHECK_EQ(config_validate(&cfg, err, sizeof(err)), -1);
	CHECK_CONTAINS(err, "boot-source.kernel_image_path");
	config_set_string(&cfg.kernel_image_path, NULL); /* not set yet: fine until start */
	CHECK_EQ(config_validate(&cfg, err, sizeof(err)), 0);
	config_set_string(&cfg.log_level, "Verbose");
	CHECK_EQ(config_validate(&cfg, err, sizeof(err)), -1);
	CHECK_CONTAINS(err, "logger.level");
	config_set_string(&cfg.log_level, "Debug");
	CHECK_EQ(config_validate(&cfg, err, sizeof(err)), 0);
	config_set_string(&cfg.metrics_path, "");
	CHECK_EQ(config_validate(&cfg, err, sizeof(err)), -1);
	CHECK_CONTAINS(err, "metrics.metrics_path");
	config_free(&cfg);
}

/* config_validate() and the JSON parser share one message for out-of-range numbers. */
UNIT_TEST(config_mem_size_range_one_message)
{
	struct vm_config cfg;
	char from_json[256];

	good_config(&cfg);
	cfg.mem_size_mib = 1ULL << 40;
	CHECK_EQ(config_validate(&cfg, err, sizeof(err)), -1);
	CHECK_STR_EQ(err, "machine-config.mem_size_mib: must be between 1 and 8387584 (got "
	                  "1099511627776)");
	CHECK_EQ(config_check_mem_size_mib(1LL << 40, from_json, sizeof(from_json)), -1);
	CHECK_STR_EQ(from_json, err);
	CHECK_EQ(config_check_mem_size_mib(-1, from_json, sizeof(from_json)), -1);
	CHECK_CONTAINS(from_json, "(got -1)");
	CHECK_EQ(config_check_vcpu_count(-1, from_json, sizeof(from_json)), -1);
	CHECK_STR_EQ(from_json, "machine-config.vcpu_count: must be between 1 and 32 (got -1)");
	cfg.mem_size_mib = 8387584;
	CHECK_EQ(config_validate(&cfg, err, sizeof(err)), 0);
	config_free(&cfg);
}
