/*
 * config.h - the machine description, in Firecracker's schema.
 *
 * One struct serves the command line, --config-file and the API: each fills it, then
 * config_validate() checks it once before the VM is built. Strings are owned (malloc'd) by the
 * struct; config_free() releases them. Field names follow Firecracker's JSON names.
 */
#ifndef WISP_CONFIG_H
#define WISP_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifndef WISP_VERSION
#define WISP_VERSION "0.1.0"
#endif

#define CONFIG_MAX_VCPUS         32
#define CONFIG_MAX_DRIVES        16
#define CONFIG_MAX_NETS          8
#define CONFIG_ID_MAX            64 /* drive_id / iface_id length, as Firecracker */
#define CONFIG_DEFAULT_BOOT_ARGS "console=ttyS0 reboot=k panic=1 pci=off"
#define CONFIG_DEFAULT_VCPUS     1
#define CONFIG_DEFAULT_MEM_MIB   128

/* One token bucket (Firecracker's TokenBucket); size 0 means "no limit". */
struct token_bucket_config {
	bool set;
	uint64_t size;           /* tokens (bytes or operations) */
	uint64_t one_time_burst; /* extra initial tokens */
	uint64_t refill_time_ms; /* time to refill size tokens */
};

struct rate_limiter_config {
	struct token_bucket_config bandwidth; /* bytes */
	struct token_bucket_config ops;       /* requests / frames */
};

/*
 * A drive's cache mode. Unsafe and Writeback are Firecracker's (the file goes through the host
 * page cache; a guest FLUSH is a no-op for Unsafe, fdatasync for Writeback). Direct is a wisp
 * extension that Firecracker clients never send: the file is opened with O_DIRECT, bypassing
 * the host page cache as QEMU's cache=none does, and a FLUSH is fdatasync as for Writeback.
 */
enum cache_type { CACHE_UNSAFE, CACHE_WRITEBACK, CACHE_DIRECT };
enum io_engine { IO_ENGINE_SYNC, IO_ENGINE_ASYNC };

struct drive_config {
	char id[CONFIG_ID_MAX + 1];
	char *path_on_host;
	bool is_root_device;
	bool is_read_only;
	char *partuuid; /* optional, root=PARTUUID= instead of /dev/vda */
	enum cache_type cache_type;
	enum io_engine io_engine;
	struct rate_limiter_config rate_limiter;
};

struct net_config {
	char id[CONFIG_ID_MAX + 1];
	char host_dev_name[16]; /* IFNAMSIZ */
	bool has_guest_mac;
	uint8_t guest_mac[6];
	struct rate_limiter_config rx_rate_limiter;
	struct rate_limiter_config tx_rate_limiter;
};

/* Which boot protocol to use for an image that supports several (wisp extension). */
enum boot_protocol { BOOT_PROTOCOL_AUTO, BOOT_PROTOCOL_LINUX, BOOT_PROTOCOL_PVH };

struct vm_config {
	/* boot-source */
	char *kernel_image_path;
	char *boot_args; /* NULL: CONFIG_DEFAULT_BOOT_ARGS */
	char *initrd_path;
	enum boot_protocol boot_protocol;
	/* machine-config */
	unsigned vcpu_count;
	uint64_t mem_size_mib;
	bool smt;
	bool track_dirty_pages;
	/* huge_pages "2M": guest RAM on 2 MiB hugetlbfs pages (a memfd with MFD_HUGETLB), from the
	 * host's pool (vm.nr_hugepages); false: "None", 4 KiB pages allocated on touch. */
	bool huge_pages;
	/* --no-acpi (wisp extension, command line only): no ACPI tables; virtio-mmio devices are
	 * then announced on the kernel command line (virtio_mmio.device=) instead of the DSDT. */
	bool no_acpi;
	/* drives, network-interfaces (in the order they were added) */
	unsigned ndrives;
	struct drive_config drives[CONFIG_MAX_DRIVES];
	unsigned nnets;
	struct net_config nets[CONFIG_MAX_NETS];
	/* logger, metrics */
	char *log_path;
	char *log_level; /* Error|Warning|Info|Debug|Trace|Off (log_level_from_name) */
	char *metrics_path;
};

void config_init(struct vm_config *cfg);
void config_free(struct vm_config *cfg);
/* Checks values that do not depend on the host (ranges, one root device, unique ids).
 * 0, or -1 with a one-line message naming the field in err. */
int config_validate(const struct vm_config *cfg, char *err, size_t errlen);
/* Replaces *dst with a copy of src (NULL clears). 0 or -1 on allocation failure. */
int config_set_string(char **dst, const char *src);

#endif
