/*
 * config_json.h - Firecracker's JSON schema <-> struct vm_config.
 *
 * Two users:
 *   - --config-file: config_json_load_file() reads a whole file in Firecracker's schema
 *       {"boot-source": {...}, "machine-config": {...}, "drives": [...],
 *        "network-interfaces": [...], "logger": {...}, "metrics": {...}}
 *     and config_json_dump() writes the same schema back (GET /vm/config), so a dump fed to
 *     --config-file reproduces the configuration.
 *   - the API (api-socket/): one request body is one section. The API thread parses a body
 *     into a typed section struct below (config_json_parse_*), which needs no VM state; the
 *     event-loop thread then applies it to vmm->config (config_apply_*), which validates the
 *     result and leaves the config unchanged when it is refused.
 *
 * Errors: every function that can fail returns 0, or -1 with one line in err that starts
 * with the field's path, e.g. "machine-config.vcpu_count: expected an integer". Unknown
 * fields and wrong types are refused, never ignored. Optional fields may be null (as
 * Firecracker's own GET /vm/config prints them), which means "not set".
 *
 * Thread-safety: none of these functions keep state; parsing may run on any thread.
 */
#ifndef WISP_CONFIG_JSON_H
#define WISP_CONFIG_JSON_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmm/config.h"

/* Upper bound for a --config-file, so a wrong path (a disk image) fails fast. */
#define CONFIG_JSON_FILE_MAX (1 << 20)

/* ---- whole configuration ---- */

/* Parses a whole configuration in Firecracker's --config-file schema and validates it
 * (config_validate). "boot-source" is required, as in Firecracker. On success *cfg (which
 * must have been config_init'ed) is replaced (its old strings freed); on failure *cfg is
 * untouched. */
int config_json_parse(struct vm_config *cfg, const char *text, size_t len, char *err,
                      size_t errlen);
/* config_json_parse() on the contents of path (at most CONFIG_JSON_FILE_MAX bytes). The
 * message does not repeat the path (the caller prefixes "config file PATH: "). */
int config_json_load_file(struct vm_config *cfg, const char *path, char *err, size_t errlen);
/* The whole configuration as a new JSON object in the same schema. NULL on allocation
 * failure. Sections that are not set (no kernel, no logger, no metrics) are left out. */
json_t *config_json_to_json(const struct vm_config *cfg);
/* config_json_to_json() as malloc'd text, indented, ending in a newline; free() it. */
char *config_json_dump(const struct vm_config *cfg);
/* The drives and network interfaces alone, {"drives": [...], "network-interfaces": [...]}, as
 * compact malloc'd text (free() it); NULL on allocation failure. A snapshot carries it. */
char *config_json_devices_dump(const struct vm_config *cfg);
/* Adds the drives and interfaces of such a text to cfg, which has none, and validates the
 * result: 0, or -1 with one line in err and cfg unchanged. */
int config_json_devices_parse(struct vm_config *cfg, const char *text, size_t len, char *err,
                              size_t errlen);
/* The "machine-config" object alone (GET /machine-config). */
json_t *config_json_machine_to_json(const struct vm_config *cfg);

/* ---- one section (one API body) ---- */

/* Parses text as a JSON document whose top level must be an object. where names the
 * document in messages ("machine-config"). Caller json_decref()s *out. */
int config_json_load_object(const char *text, size_t len, const char *where, json_t **out,
                            char *err, size_t errlen);

/* PUT /boot-source. */
struct config_boot_source {
	char *kernel_image_path;          /* required */
	char *boot_args;                  /* NULL: CONFIG_DEFAULT_BOOT_ARGS */
	char *initrd_path;                /* NULL: none */
	enum boot_protocol boot_protocol; /* wisp extension "boot_protocol": Auto|Linux|PVH */
};

/* Which fields of struct config_machine a body contained (PATCH applies only those). */
#define CONFIG_MACHINE_VCPU_COUNT        (1u << 0)
#define CONFIG_MACHINE_MEM_SIZE_MIB      (1u << 1)
#define CONFIG_MACHINE_SMT               (1u << 2)
#define CONFIG_MACHINE_TRACK_DIRTY_PAGES (1u << 3)
#define CONFIG_MACHINE_HUGE_PAGES        (1u << 4)

/* PUT / PATCH /machine-config. */
struct config_machine {
	unsigned present; /* CONFIG_MACHINE_* bits */
	unsigned vcpu_count;
	uint64_t mem_size_mib;
	bool smt;
	bool track_dirty_pages;
	bool huge_pages; /* "2M" */
};

/* PATCH /drives/{id}: a new backing file and/or rate limiter for a running VM. */
struct config_drive_update {
	char id[CONFIG_ID_MAX + 1];
	char *path_on_host; /* NULL: keep */
	bool has_rate_limiter;
	struct rate_limiter_config rate_limiter;
};

/* PATCH /network-interfaces/{id}: new rate limiters for a running VM. */
struct config_net_update {
	char id[CONFIG_ID_MAX + 1];
	bool has_rx, has_tx;
	struct rate_limiter_config rx, tx;
};

/*
 * PUT /logger, in Firecracker's current schema. Every field is optional:
 *   log_path         NULL: messages stay where they go now (stderr unless redirected)
 *   level            Firecracker's Error, Warning, Info, Debug, Trace, Off (any case).
 *                    wisp has no level below Debug, so Trace logs as Debug; Off sends
 *                    messages nowhere (errors still reach API clients in fault_message).
 *   show_level, show_log_origin  accepted; wisp's lines always carry the level and never
 *                    the origin
 *   module           accepted and ignored: wisp's log is not split by module
 */
struct config_logger {
	char *log_path; /* NULL: not given */
	char *level;    /* NULL or the canonical name ("Error" ... "Off") */
	bool show_level;
	bool show_log_origin;
};

/* Each parse function reads one JSON object (obj) whose path in messages is where. On
 * success *out is filled and owns its strings (release with the matching *_free or by
 * applying it); on failure *out holds nothing to release. */
int config_json_parse_boot_source(const json_t *obj, const char *where,
                                  struct config_boot_source *out, char *err, size_t errlen);
/* partial: PATCH (every field optional) instead of PUT (vcpu_count and mem_size_mib
 * required; the optional ones, absent, reset to their defaults when applied). */
int config_json_parse_machine(const json_t *obj, const char *where, bool partial,
                              struct config_machine *out, char *err, size_t errlen);
int config_json_parse_drive(const json_t *obj, const char *where, struct drive_config *out,
                            char *err, size_t errlen);
/* Requires drive_id and at least one of path_on_host, rate_limiter. */
int config_json_parse_drive_update(const json_t *obj, const char *where,
                                   struct config_drive_update *out, char *err, size_t errlen);
int config_json_parse_net(const json_t *obj, const char *where, struct net_config *out, char *err,
                          size_t errlen);
int config_json_parse_net_update(const json_t *obj, const char *where,
                                 struct config_net_update *out, char *err, size_t errlen);
int config_json_parse_logger(const json_t *obj, const char *where, struct config_logger *out,
                             char *err, size_t errlen);
/* {"metrics_path": "..."}: *out is the malloc'd path. */
int config_json_parse_metrics(const json_t *obj, const char *where, char **out, char *err,
                              size_t errlen);

void config_boot_source_free(struct config_boot_source *bs);
void config_drive_free(struct drive_config *d);
void config_drive_update_free(struct config_drive_update *u);
void config_logger_free(struct config_logger *l);

/* ---- applying a section to a configuration (event-loop thread) ---- */

/* Each apply function consumes the section's strings whatever the outcome, runs
 * config_validate() on the result and, when that fails, restores cfg exactly and returns
 * -1 with its message. */
int config_apply_boot_source(struct vm_config *cfg, struct config_boot_source *bs, char *err,
                             size_t errlen);
/* PUT semantics when every CONFIG_MACHINE_* bit is meaningful: absent smt and
 * track_dirty_pages become false when the PUT flag is set. */
int config_apply_machine(struct vm_config *cfg, const struct config_machine *m, bool put, char *err,
                         size_t errlen);
/* Replaces the drive with the same drive_id, or appends a new one. */
int config_apply_drive(struct vm_config *cfg, struct drive_config *d, char *err, size_t errlen);
/* Replaces the interface with the same iface_id, or appends a new one. */
int config_apply_net(struct vm_config *cfg, const struct net_config *n, char *err, size_t errlen);
int config_apply_logger(struct vm_config *cfg, struct config_logger *l, char *err, size_t errlen);
int config_apply_metrics(struct vm_config *cfg, char *metrics_path, char *err, size_t errlen);

/* ---- small helpers shared with the command line and the API ---- */

/* Refuses any key of obj not in allowed (NULL-terminated): "where.key: unknown field"
 * ("key: unknown field" when where is ""). */
int config_json_check_fields(const json_t *obj, const char *where, const char *const *allowed,
                             char *err, size_t errlen);
/* obj.key must be a string equal to one of names[0..count-1]; *out gets its index. Absent
 * (or null) is an error only when required, and then leaves *out alone. */
int config_json_get_enum(const json_t *obj, const char *where, const char *key, bool required,
                         const char *const *names, unsigned count, unsigned *out, char *err,
                         size_t errlen);

/* "aa:bb:cc:dd:ee:ff" (either case) -> 6 bytes. 0 or -1. */
int config_parse_mac(const char *text, uint8_t mac[6]);
/* 6 bytes -> "aa:bb:cc:dd:ee:ff" in buf (at least 18 bytes). */
void config_format_mac(const uint8_t mac[6], char *buf);
/* "Error", "warning", "TRACE", "off" ... (any case) -> the canonical name ("Error",
 * "Warning", "Info", "Debug", "Trace", "Off"), or NULL when unknown. */
const char *config_log_level_name(const char *text);

/* config_validate()'s ranges for machine-config.vcpu_count (1..CONFIG_MAX_VCPUS) and
 * mem_size_mib (1..the memory map's limit), on a value as a client sent it (negative or too
 * large for the struct included): 0, or -1 with the message config_validate() gives, e.g.
 * "machine-config.mem_size_mib: must be between 1 and 8388608 (got -1)". */
int config_check_vcpu_count(long long count, char *err, size_t errlen);
int config_check_mem_size_mib(long long mib, char *err, size_t errlen);

#endif
