/*
 * config.c - the machine description: defaults, release, and host-independent validation.
 *
 * config_validate() is the one place that decides whether a struct vm_config is acceptable;
 * the command line, --config-file (config_json.c) and the API (api-socket/) all fill the
 * struct and then call it, so one rule gives one message everywhere. Messages start with the
 * field's path in the --config-file schema ("machine-config.vcpu_count: ...",
 * "drives[1].drive_id: ...") so a user can find the offending line.
 */
#include "vmm/config.h"

#include "vmm/config_json.h"
#include "vmm/log.h"
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/layout.h"

/*
 * The largest guest RAM the memory map can hold: RAM below the 32-bit MMIO hole, then the
 * rest from 4 GiB up, all below LAYOUT_GPA_LIMIT (2^43, the PVM ceiling). About 8 TiB.
 */
#define CONFIG_MAX_MEM_MIB ((LAYOUT_GPA_LIMIT - LAYOUT_HIGH_RAM + LAYOUT_MMIO_HOLE) >> 20)

/* Firecracker's logger levels; wisp logs Trace as Debug and Off as nothing (config_json.h). */
static const char *const config_log_levels[] = {"Error", "Warning", "Info",
                                                "Debug", "Trace",   "Off"};

void config_init(struct vm_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->boot_protocol = BOOT_PROTOCOL_AUTO;
	cfg->vcpu_count = CONFIG_DEFAULT_VCPUS;
	cfg->mem_size_mib = CONFIG_DEFAULT_MEM_MIB;
}

void config_free(struct vm_config *cfg)
{
	free(cfg->kernel_image_path);
	free(cfg->boot_args);
	free(cfg->initrd_path);
	for (unsigned i = 0; i < cfg->ndrives && i < CONFIG_MAX_DRIVES; i++) {
		free(cfg->drives[i].path_on_host);
		free(cfg->drives[i].partuuid);
	}
	free(cfg->log_path);
	free(cfg->log_level);
	free(cfg->metrics_path);
	/* Leaves a valid default config: config_free() twice is harmless. */
	config_init(cfg);
}

int config_set_string(char **dst, const char *src)
{
	char *copy = NULL;

	if (src) {
		copy = strdup(src);
		if (!copy)
			return -1;
	}
	free(*dst);
	*dst = copy;
	return 0;
}

/*
 * A resource id (drive_id, iface_id): 1..CONFIG_ID_MAX characters of [A-Za-z0-9_-].
 * Firecracker allows [A-Za-z0-9_]; wisp also accepts '-' (common in scheduler-made names).
 * The id is also used in metric names and log lines, so nothing else is allowed.
 */
static int check_id(const char *id, const char *field, char *err, size_t errlen)
{
	size_t len = strnlen(id, CONFIG_ID_MAX + 1);

	if (len == 0)
		return error_set(err, errlen, "%s: must not be empty", field);
	if (len > CONFIG_ID_MAX)
		return error_set(err, errlen, "%s: longer than %d characters", field,
		                 CONFIG_ID_MAX);
	for (size_t i = 0; i < len; i++) {
		char c = id[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-'))
			return error_set(
			    err, errlen,
			    "%s: \"%s\" contains '%c'; only A-Z a-z 0-9 _ - are allowed", field, id,
			    c);
	}
	return 0;
}

static int check_path(const char *path, const char *field, char *err, size_t errlen)
{
	if (!path || !path[0])
		return error_set(err, errlen, "%s: must be a non-empty path", field);
	return 0;
}

/*
 * The ranges of machine-config's numbers. The JSON parser calls these on the value as sent
 * (which may be negative or not fit the struct), config_validate() on the struct, so an
 * out-of-range value gets one message whatever its source.
 */
int config_check_vcpu_count(long long count, char *err, size_t errlen)
{
	if (count < 1 || count > CONFIG_MAX_VCPUS)
		return error_set(err, errlen,
		                 "machine-config.vcpu_count: must be between 1 and %d (got %lld)",
		                 CONFIG_MAX_VCPUS, count);
	return 0;
}

int config_check_mem_size_mib(long long mib, char *err, size_t errlen)
{
	if (mib < 1 || (unsigned long long)mib > CONFIG_MAX_MEM_MIB)
		return error_set(
		    err, errlen,
		    "machine-config.mem_size_mib: must be between 1 and %llu (got %lld)",
		    (unsigned long long)CONFIG_MAX_MEM_MIB, mib);
	return 0;
}

static int check_machine(const struct vm_config *cfg, char *err, size_t errlen)
{
	if (config_check_vcpu_count(cfg->vcpu_count, err, errlen) < 0)
		return -1;
	/* As Firecracker: with SMT each core has two threads, so the count must pair up. */
	if (cfg->smt && cfg->vcpu_count > 1 && cfg->vcpu_count % 2)
		return error_set(
		    err, errlen,
		    "machine-config.vcpu_count: must be 1 or an even number when smt is "
		    "enabled (got %u)",
		    cfg->vcpu_count);
	/* Whole 2 MiB pages, as Firecracker requires. */
	if (cfg->huge_pages && cfg->mem_size_mib % 2)
		return error_set(
		    err, errlen,
		    "machine-config.mem_size_mib: must be a multiple of 2 with huge_pages "
		    "\"2M\" (got %llu)",
		    (unsigned long long)cfg->mem_size_mib);
	/* Beyond LLONG_MAX (only a C caller can set that) the value is out of range anyway. */
	return config_check_mem_size_mib(
	    cfg->mem_size_mib > LLONG_MAX ? LLONG_MAX : (long long)cfg->mem_size_mib, err, errlen);
}

static int check_boot_source(const struct vm_config *cfg, char *err, size_t errlen)
{
	/* The kernel itself may be missing until InstanceStart; a given one must be a path. */
	if (cfg->kernel_image_path && !cfg->kernel_image_path[0])
		return error_set(err, errlen,
		                 "boot-source.kernel_image_path: must be a non-empty path");
	if (cfg->initrd_path && !cfg->initrd_path[0])
		return error_set(err, errlen, "boot-source.initrd_path: must be a non-empty path");
	if ((unsigned)cfg->boot_protocol > BOOT_PROTOCOL_PVH)
		return error_set(err, errlen, "boot-source.boot_protocol: unknown value %d",
		                 (int)cfg->boot_protocol);
	return 0;
}

static int check_drive(const struct vm_config *cfg, unsigned i, char *err, size_t errlen)
{
	const struct drive_config *d = &cfg->drives[i];
	char field[64];

	snprintf(field, sizeof(field), "drives[%u].drive_id", i);
	if (check_id(d->id, field, err, errlen) < 0)
		return -1;
	snprintf(field, sizeof(field), "drives[%u].path_on_host", i);
	if (check_path(d->path_on_host, field, err, errlen) < 0)
		return -1;
	if (d->partuuid && !d->partuuid[0])
		return error_set(err, errlen, "drives[%u].partuuid: must not be empty", i);
	if ((unsigned)d->cache_type > CACHE_DIRECT)
		return error_set(err, errlen, "drives[%u].cache_type: unknown value", i);
	if ((unsigned)d->io_engine > IO_ENGINE_ASYNC)
		return error_set(err, errlen, "drives[%u].io_engine: unknown value", i);
	for (unsigned j = 0; j < i; j++) {
		if (!strcmp(cfg->drives[j].id, d->id))
			return error_set(
			    err, errlen,
			    "drives[%u].drive_id: \"%s\" is already used by drives[%u]", i, d->id,
			    j);
		if (d->is_root_device && cfg->drives[j].is_root_device)
			return error_set(
			    err, errlen,
			    "drives[%u].is_root_device: drives[%u] (\"%s\") is already the "
			    "root device; only one is allowed",
			    i, j, cfg->drives[j].id);
	}
	return 0;
}

static bool mac_is_zero(const uint8_t mac[6])
{
	for (int i = 0; i < 6; i++)
		if (mac[i])
			return false;
	return true;
}

static int check_net(const struct vm_config *cfg, unsigned i, char *err, size_t errlen)
{
	const struct net_config *n = &cfg->nets[i];
	char field[64];
	size_t len = strnlen(n->host_dev_name, sizeof(n->host_dev_name));

	snprintf(field, sizeof(field), "network-interfaces[%u].iface_id", i);
	if (check_id(n->id, field, err, errlen) < 0)
		return -1;
	if (len == 0)
		return error_set(err, errlen,
		                 "network-interfaces[%u].host_dev_name: must not be empty", i);
	if (len >= sizeof(n->host_dev_name))
		return error_set(err, errlen,
		                 "network-interfaces[%u].host_dev_name: longer than %zu characters",
		                 i, sizeof(n->host_dev_name) - 1);
	/* A multicast or all-zero address cannot be a NIC's own address; Linux refuses it. */
	if (n->has_guest_mac && ((n->guest_mac[0] & 1) || mac_is_zero(n->guest_mac)))
		return error_set(
		    err, errlen,
		    "network-interfaces[%u].guest_mac: must be a unicast, non-zero address", i);
	for (unsigned j = 0; j < i; j++) {
		const struct net_config *o = &cfg->nets[j];

		if (!strcmp(o->id, n->id))
			return error_set(
			    err, errlen,
			    "network-interfaces[%u].iface_id: \"%s\" is already used by "
			    "network-interfaces[%u]",
			    i, n->id, j);
		if (!strcmp(o->host_dev_name, n->host_dev_name))
			return error_set(
			    err, errlen,
			    "network-interfaces[%u].host_dev_name: \"%s\" is already used by "
			    "network-interfaces[%u]",
			    i, n->host_dev_name, j);
		if (n->has_guest_mac && o->has_guest_mac && !memcmp(o->guest_mac, n->guest_mac, 6))
			return error_set(err, errlen,
			                 "network-interfaces[%u].guest_mac: already used by "
			                 "network-interfaces[%u]",
			                 i, j);
	}
	return 0;
}

static int check_devices(const struct vm_config *cfg, char *err, size_t errlen)
{
	if (cfg->ndrives > CONFIG_MAX_DRIVES)
		return error_set(err, errlen, "drives: at most %d drives (got %u)",
		                 CONFIG_MAX_DRIVES, cfg->ndrives);
	if (cfg->nnets > CONFIG_MAX_NETS)
		return error_set(err, errlen, "network-interfaces: at most %d interfaces (got %u)",
		                 CONFIG_MAX_NETS, cfg->nnets);
	/* Every virtio device needs one MMIO slot and one IOAPIC pin. */
	if (cfg->ndrives + cfg->nnets > LAYOUT_VIRTIO_MAX_DEVS)
		return error_set(err, errlen,
		                 "drives, network-interfaces: at most %d devices in all (got %u)",
		                 LAYOUT_VIRTIO_MAX_DEVS, cfg->ndrives + cfg->nnets);
	for (unsigned i = 0; i < cfg->ndrives; i++)
		if (check_drive(cfg, i, err, errlen) < 0)
			return -1;
	for (unsigned i = 0; i < cfg->nnets; i++)
		if (check_net(cfg, i, err, errlen) < 0)
			return -1;
	return 0;
}

static int check_logging(const struct vm_config *cfg, char *err, size_t errlen)
{
	bool known = false;

	if (cfg->log_path && !cfg->log_path[0])
		return error_set(err, errlen, "logger.log_path: must be a non-empty path");
	if (cfg->metrics_path && !cfg->metrics_path[0])
		return error_set(err, errlen, "metrics.metrics_path: must be a non-empty path");
	if (!cfg->log_level)
		return 0;
	for (size_t i = 0; i < sizeof(config_log_levels) / sizeof(config_log_levels[0]); i++)
		if (!strcmp(cfg->log_level, config_log_levels[i]))
			known = true;
	if (!known)
		return error_set(err, errlen,
		                 "logger.level: \"%s\" is not one of Error, Warning, Info, Debug, "
		                 "Trace, Off",
		                 cfg->log_level);
	return 0;
}

int config_validate(const struct vm_config *cfg, char *err, size_t errlen)
{
	if (check_boot_source(cfg, err, errlen) < 0 || check_machine(cfg, err, errlen) < 0 ||
	    check_devices(cfg, err, errlen) < 0 || check_logging(cfg, err, errlen) < 0)
		return -1;
	return 0;
}
