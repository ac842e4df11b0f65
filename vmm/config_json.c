/*
 * config_json.c - see config_json.h.
 *
 * Every object is read the same way: first config_json_check_fields() refuses keys the schema does
 * not have, then one typed getter per field (get_string, get_bool, get_u64, ...) checks its type
 * and names the field's full path in the message. A path is built as "where.key"; arrays
 * use "drives[2]".
 */
#include "vmm/config_json.h"

#include "vmm/log.h"
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define PATH_MAX_LEN 160 /* field paths in messages; longer ones are cut */

static void join(char *buf, size_t len, const char *where, const char *key)
{
	snprintf(buf, len, "%s.%s", where, key);
}

/* ---- typed getters ---- */

static const char *type_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "an array";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
		return "an integer";
	case JSON_REAL:
		return "a number with a fraction";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	case JSON_NULL:
		return "null";
	}
	return "something else";
}

/* Refuses any key of obj not in allowed (NULL-terminated). */
int config_json_check_fields(const json_t *obj, const char *where, const char *const *allowed,
                             char *err, size_t errlen)
{
	const char *key;
	json_t *value;

	json_object_foreach((json_t *)obj, key, value)
	{
		const char *const *a = allowed;

		(void)value;
		while (*a && strcmp(*a, key))
			a++;
		if (!*a && !where[0])
			return error_set(err, errlen, "%s: unknown field", key);
		if (!*a)
			return error_set(err, errlen, "%s.%s: unknown field", where, key);
	}
	return 0;
}

/* The value of key, or NULL when absent or null (both mean "not set"). A required field
 * that is not set is an error. */
static int get_value(const json_t *obj, const char *where, const char *key, bool required,
                     json_t **out, char *err, size_t errlen)
{
	json_t *v = json_object_get(obj, key);

	if (v && json_is_null(v))
		v = NULL;
	if (!v && required)
		return error_set(err, errlen, "%s.%s: missing required field", where, key);
	*out = v;
	return 0;
}

/* Copies a string field into a new allocation (*out untouched when not set). */
static int get_string(const json_t *obj, const char *where, const char *key, bool required,
                      char **out, char *err, size_t errlen)
{
	json_t *v = NULL;

	if (get_value(obj, where, key, required, &v, err, errlen) < 0)
		return -1;
	if (!v)
		return 0;
	if (!json_is_string(v))
		return error_set(err, errlen, "%s.%s: expected a string, got %s", where, key,
		                 type_name(v));
	if (strlen(json_string_value(v)) != json_string_length(v))
		return error_set(err, errlen, "%s.%s: must not contain NUL characters", where, key);
	*out = strdup(json_string_value(v));
	if (!*out)
		return error_set(err, errlen, "%s.%s: out of memory", where, key);
	return 0;
}

/* A string field into a fixed buffer of size len (so at most len - 1 characters). */
static int get_fixed_string(const json_t *obj, const char *where, const char *key, bool required,
                            char *buf, size_t len, char *err, size_t errlen)
{
	char *s = NULL;
	int rc = 0;

	if (get_string(obj, where, key, required, &s, err, errlen) < 0)
		return -1;
	if (!s)
		return 0;
	if (strlen(s) >= len)
		rc = error_set(err, errlen, "%s.%s: longer than %zu characters", where, key,
		               len - 1);
	else
		memcpy(buf, s, strlen(s) + 1);
	free(s);
	return rc;
}

static int get_bool(const json_t *obj, const char *where, const char *key, bool required, bool *out,
                    bool *present, char *err, size_t errlen)
{
	json_t *v = NULL;

	if (get_value(obj, where, key, required, &v, err, errlen) < 0)
		return -1;
	if (present)
		*present = v != NULL;
	if (!v)
		return 0;
	if (!json_is_boolean(v))
		return error_set(err, errlen, "%s.%s: expected a boolean, got %s", where, key,
		                 type_name(v));
	*out = json_is_true(v);
	return 0;
}

/* A non-negative integer no larger than max. */
static int get_u64(const json_t *obj, const char *where, const char *key, bool required,
                   uint64_t max, uint64_t *out, bool *present, char *err, size_t errlen)
{
	json_t *v = NULL;
	json_int_t i;

	if (get_value(obj, where, key, required, &v, err, errlen) < 0)
		return -1;
	if (present)
		*present = v != NULL;
	if (!v)
		return 0;
	if (!json_is_integer(v))
		return error_set(err, errlen, "%s.%s: expected an integer, got %s", where, key,
		                 type_name(v));
	i = json_integer_value(v);
	if (i < 0)
		return error_set(err, errlen, "%s.%s: must not be negative (got %lld)", where, key,
		                 (long long)i);
	if ((uint64_t)i > max)
		return error_set(err, errlen, "%s.%s: at most %llu (got %lld)", where, key,
		                 (unsigned long long)max, (long long)i);
	*out = (uint64_t)i;
	return 0;
}

/* Any JSON integer, for fields whose range check wants the value as sent. */
static int get_int(const json_t *obj, const char *where, const char *key, bool required,
                   long long *out, bool *present, char *err, size_t errlen)
{
	json_t *v = NULL;

	if (get_value(obj, where, key, required, &v, err, errlen) < 0)
		return -1;
	*present = v != NULL;
	if (!v)
		return 0;
	if (!json_is_integer(v))
		return error_set(err, errlen, "%s.%s: expected an integer, got %s", where, key,
		                 type_name(v));
	*out = (long long)json_integer_value(v);
	return 0;
}

/* An object field; *out is NULL when not set. */
static int get_object(const json_t *obj, const char *where, const char *key, bool required,
                      json_t **out, char *err, size_t errlen)
{
	if (get_value(obj, where, key, required, out, err, errlen) < 0)
		return -1;
	if (*out && !json_is_object(*out))
		return error_set(err, errlen, "%s.%s: expected an object, got %s", where, key,
		                 type_name(*out));
	return 0;
}

int config_json_get_enum(const json_t *obj, const char *where, const char *key, bool required,
                         const char *const *names, unsigned count, unsigned *out, char *err,
                         size_t errlen)
{
	char *s = NULL;
	char list[128] = "";

	if (get_string(obj, where, key, required, &s, err, errlen) < 0)
		return -1;
	if (!s)
		return 0;
	for (unsigned i = 0; i < count; i++) {
		if (!strcmp(s, names[i])) {
			*out = i;
			free(s);
			return 0;
		}
		snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", i ? ", " : "",
		         names[i]);
	}
	error_set(err, errlen, "%s.%s: \"%s\" is not one of %s", where, key, s, list);
	free(s);
	return -1;
}

static int get_enum(const json_t *obj, const char *where, const char *key, const char *const *names,
                    unsigned count, unsigned *out, char *err, size_t errlen)
{
	return config_json_get_enum(obj, where, key, false, names, count, out, err, errlen);
}

/* ---- sections ---- */

static const char *const boot_protocol_names[] = {"Auto", "Linux", "PVH"};

void config_boot_source_free(struct config_boot_source *bs)
{
	free(bs->kernel_image_path);
	free(bs->boot_args);
	free(bs->initrd_path);
	memset(bs, 0, sizeof(*bs));
}

int config_json_parse_boot_source(const json_t *obj, const char *where,
                                  struct config_boot_source *out, char *err, size_t errlen)
{
	static const char *const fields[] = {"kernel_image_path", "boot_args", "initrd_path",
	                                     "boot_protocol", NULL};
	unsigned proto = BOOT_PROTOCOL_AUTO;

	memset(out, 0, sizeof(*out));
	if (config_json_check_fields(obj, where, fields, err, errlen) < 0 ||
	    get_string(obj, where, "kernel_image_path", true, &out->kernel_image_path, err,
	               errlen) < 0 ||
	    get_string(obj, where, "boot_args", false, &out->boot_args, err, errlen) < 0 ||
	    get_string(obj, where, "initrd_path", false, &out->initrd_path, err, errlen) < 0 ||
	    get_enum(obj, where, "boot_protocol", boot_protocol_names, 3, &proto, err, errlen) <
	        0) {
		config_boot_source_free(out);
		return -1;
	}
	out->boot_protocol = (enum boot_protocol)proto;
	return 0;
}

int config_json_parse_machine(const json_t *obj, const char *where, bool partial,
                              struct config_machine *out, char *err, size_t errlen)
{
	static const char *const fields[] = {
	    "vcpu_count",   "mem_size_mib", "smt", "track_dirty_pages",
	    "cpu_template", "huge_pages",   NULL};
	long long n = 0;
	bool have;
	char *tmpl = NULL;

	memset(out, 0, sizeof(*out));
	if (config_json_check_fields(obj, where, fields, err, errlen) < 0)
		return -1;
	/* The ranges are config_validate()'s, checked here on the value as sent so that -1 or
	 * 2^63 get the same message as 0 or 33 (and nothing is truncated into the struct). */
	if (get_int(obj, where, "vcpu_count", !partial, &n, &have, err, errlen) < 0 ||
	    (have && config_check_vcpu_count(n, err, errlen) < 0))
		return -1;
	out->vcpu_count = (unsigned)n;
	out->present |= have ? CONFIG_MACHINE_VCPU_COUNT : 0;
	if (get_int(obj, where, "mem_size_mib", !partial, &n, &have, err, errlen) < 0 ||
	    (have && config_check_mem_size_mib(n, err, errlen) < 0))
		return -1;
	out->mem_size_mib = (uint64_t)n;
	out->present |= have ? CONFIG_MACHINE_MEM_SIZE_MIB : 0;
	if (get_bool(obj, where, "smt", false, &out->smt, &have, err, errlen) < 0)
		return -1;
	out->present |= have ? CONFIG_MACHINE_SMT : 0;
	if (get_bool(obj, where, "track_dirty_pages", false, &out->track_dirty_pages, &have, err,
	             errlen) < 0)
		return -1;
	out->present |= have ? CONFIG_MACHINE_TRACK_DIRTY_PAGES : 0;
	/* Firecracker's huge pages: "None" or "2M" (hugetlbfs). */
	if (get_string(obj, where, "huge_pages", false, &tmpl, err, errlen) < 0)
		return -1;
	if (tmpl) {
		if (strcmp(tmpl, "None") && strcmp(tmpl, "2M")) {
			error_set(err, errlen, "%s.huge_pages: \"%s\" is not \"None\" or \"2M\"",
			          where, tmpl);
			free(tmpl);
			return -1;
		}
		out->huge_pages = !strcmp(tmpl, "2M");
		out->present |= CONFIG_MACHINE_HUGE_PAGES;
		free(tmpl);
		tmpl = NULL;
	}
	/* Firecracker's CPU templates: only their "off" value is accepted. */
	if (get_string(obj, where, "cpu_template", false, &tmpl, err, errlen) < 0)
		return -1;
	if (tmpl && strcmp(tmpl, "None")) {
		error_set(err, errlen,
		          "%s.cpu_template: \"%s\" is not supported by wisp (only \"None\")", where,
		          tmpl);
		free(tmpl);
		return -1;
	}
	free(tmpl);
	return 0;
}

static int parse_bucket(const json_t *obj, const char *where, const char *key,
                        struct token_bucket_config *out, char *err, size_t errlen)
{
	static const char *const fields[] = {"size", "one_time_burst", "refill_time", NULL};
	char path[PATH_MAX_LEN];
	json_t *b;

	memset(out, 0, sizeof(*out));
	if (get_object(obj, where, key, false, &b, err, errlen) < 0)
		return -1;
	if (!b)
		return 0;
	join(path, sizeof(path), where, key);
	if (config_json_check_fields(b, path, fields, err, errlen) < 0 ||
	    get_u64(b, path, "size", true, INT64_MAX, &out->size, NULL, err, errlen) < 0 ||
	    get_u64(b, path, "one_time_burst", false, INT64_MAX, &out->one_time_burst, NULL, err,
	            errlen) < 0 ||
	    get_u64(b, path, "refill_time", true, INT64_MAX, &out->refill_time_ms, NULL, err,
	            errlen) < 0)
		return -1;
	out->set = true;
	return 0;
}

/* A RateLimiter object at obj.key; *present tells whether the key was there. */
static int parse_limiter(const json_t *obj, const char *where, const char *key,
                         struct rate_limiter_config *out, bool *present, char *err, size_t errlen)
{
	static const char *const fields[] = {"bandwidth", "ops", NULL};
	char path[PATH_MAX_LEN];
	json_t *l;

	memset(out, 0, sizeof(*out));
	if (get_object(obj, where, key, false, &l, err, errlen) < 0)
		return -1;
	if (present)
		*present = l != NULL;
	if (!l)
		return 0;
	join(path, sizeof(path), where, key);
	if (config_json_check_fields(l, path, fields, err, errlen) < 0 ||
	    parse_bucket(l, path, "bandwidth", &out->bandwidth, err, errlen) < 0 ||
	    parse_bucket(l, path, "ops", &out->ops, err, errlen) < 0)
		return -1;
	return 0;
}

void config_drive_free(struct drive_config *d)
{
	free(d->path_on_host);
	free(d->partuuid);
	memset(d, 0, sizeof(*d));
}

int config_json_parse_drive(const json_t *obj, const char *where, struct drive_config *out,
                            char *err, size_t errlen)
{
	static const char *const fields[] = {"drive_id",     "path_on_host", "is_root_device",
	                                     "is_read_only", "partuuid",     "cache_type",
	                                     "io_engine",    "rate_limiter", NULL};
	static const char *const caches[] = {"Unsafe", "Writeback", "Direct"}; /* Direct: wisp's */
	static const char *const engines[] = {"Sync", "Async"};
	unsigned cache = CACHE_UNSAFE, engine = IO_ENGINE_SYNC;

	memset(out, 0, sizeof(*out));
	if (config_json_check_fields(obj, where, fields, err, errlen) < 0 ||
	    get_fixed_string(obj, where, "drive_id", true, out->id, sizeof(out->id), err, errlen) <
	        0 ||
	    get_string(obj, where, "path_on_host", true, &out->path_on_host, err, errlen) < 0 ||
	    get_bool(obj, where, "is_root_device", true, &out->is_root_device, NULL, err, errlen) <
	        0 ||
	    get_bool(obj, where, "is_read_only", true, &out->is_read_only, NULL, err, errlen) < 0 ||
	    get_string(obj, where, "partuuid", false, &out->partuuid, err, errlen) < 0 ||
	    get_enum(obj, where, "cache_type", caches, 3, &cache, err, errlen) < 0 ||
	    get_enum(obj, where, "io_engine", engines, 2, &engine, err, errlen) < 0 ||
	    parse_limiter(obj, where, "rate_limiter", &out->rate_limiter, NULL, err, errlen) < 0) {
		config_drive_free(out);
		return -1;
	}
	out->cache_type = (enum cache_type)cache;
	out->io_engine = (enum io_engine)engine;
	return 0;
}

void config_drive_update_free(struct config_drive_update *u)
{
	free(u->path_on_host);
	memset(u, 0, sizeof(*u));
}

int config_json_parse_drive_update(const json_t *obj, const char *where,
                                   struct config_drive_update *out, char *err, size_t errlen)
{
	static const char *const fields[] = {"drive_id", "path_on_host", "rate_limiter", NULL};

	memset(out, 0, sizeof(*out));
	if (config_json_check_fields(obj, where, fields, err, errlen) < 0 ||
	    get_fixed_string(obj, where, "drive_id", true, out->id, sizeof(out->id), err, errlen) <
	        0 ||
	    get_string(obj, where, "path_on_host", false, &out->path_on_host, err, errlen) < 0 ||
	    parse_limiter(obj, where, "rate_limiter", &out->rate_limiter, &out->has_rate_limiter,
	                  err, errlen) < 0) {
		config_drive_update_free(out);
		return -1;
	}
	if (out->path_on_host && !out->path_on_host[0]) {
		config_drive_update_free(out);
		return error_set(err, errlen, "%s.path_on_host: must be a non-empty path", where);
	}
	if (!out->path_on_host && !out->has_rate_limiter)
		return error_set(
		    err, errlen,
		    "%s: specify at least one property to patch: path_on_host, rate_limiter",
		    where);
	return 0;
}

int config_parse_mac(const char *text, uint8_t mac[6])
{
	for (int i = 0; i < 6; i++) {
		const char *p = text + 3 * i;
		unsigned v = 0;

		for (int j = 0; j < 2; j++) {
			char c = p[j];

			v <<= 4;
			if (c >= '0' && c <= '9')
				v |= (unsigned)(c - '0');
			else if (c >= 'a' && c <= 'f')
				v |= (unsigned)(c - 'a' + 10);
			else if (c >= 'A' && c <= 'F')
				v |= (unsigned)(c - 'A' + 10);
			else
				return -1;
		}
		if (p[2] != (i == 5 ? '\0' : ':'))
			return -1;
		mac[i] = (uint8_t)v;
	}
	return 0;
}

void config_format_mac(const uint8_t mac[6], char *buf)
{
	snprintf(buf, 18, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4],
	         mac[5]);
}

int config_json_parse_net(const json_t *obj, const char *where, struct net_config *out, char *err,
                          size_t errlen)
{
	static const char *const fields[] = {"iface_id",        "host_dev_name",   "guest_mac",
	                                     "rx_rate_limiter", "tx_rate_limiter", NULL};
	char *mac = NULL;

	memset(out, 0, sizeof(*out));
	if (config_json_check_fields(obj, where, fields, err, errlen) < 0 ||
	    get_fixed_string(obj, where, "iface_id", true, out->id, sizeof(out->id), err, errlen) <
	        0 ||
	    get_fixed_string(obj, where, "host_dev_name", true, out->host_dev_name,
	                     sizeof(out->host_dev_name), err, errlen) < 0 ||
	    get_string(obj, where, "guest_mac", false, &mac, err, errlen) < 0 ||
	    parse_limiter(obj, where, "rx_rate_limiter", &out->rx_rate_limiter, NULL, err, errlen) <
	        0 ||
	    parse_limiter(obj, where, "tx_rate_limiter", &out->tx_rate_limiter, NULL, err, errlen) <
	        0) {
		free(mac);
		return -1;
	}
	if (mac) {
		int rc = config_parse_mac(mac, out->guest_mac);

		if (rc < 0)
			error_set(err, errlen,
			          "%s.guest_mac: \"%s\" is not a MAC address like "
			          "\"06:00:ac:10:00:02\"",
			          where, mac);
		free(mac);
		if (rc < 0)
			return -1;
		out->has_guest_mac = true;
	}
	return 0;
}

int config_json_parse_net_update(const json_t *obj, const char *where,
                                 struct config_net_update *out, char *err, size_t errlen)
{
	static const char *const fields[] = {"iface_id", "rx_rate_limiter", "tx_rate_limiter",
	                                     NULL};

	memset(out, 0, sizeof(*out));
	if (config_json_check_fields(obj, where, fields, err, errlen) < 0 ||
	    get_fixed_string(obj, where, "iface_id", true, out->id, sizeof(out->id), err, errlen) <
	        0 ||
	    parse_limiter(obj, where, "rx_rate_limiter", &out->rx, &out->has_rx, err, errlen) < 0 ||
	    parse_limiter(obj, where, "tx_rate_limiter", &out->tx, &out->has_tx, err, errlen) < 0)
		return -1;
	return 0;
}

const char *config_log_level_name(const char *text)
{
	static const char *const names[] = {"Error", "Warning", "Info", "Debug", "Trace", "Off"};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcasecmp(text, names[i]))
			return names[i];
	return NULL;
}

void config_logger_free(struct config_logger *l)
{
	free(l->log_path);
	free(l->level);
	memset(l, 0, sizeof(*l));
}

int config_json_parse_logger(const json_t *obj, const char *where, struct config_logger *out,
                             char *err, size_t errlen)
{
	static const char *const fields[] = {"log_path",        "level",  "show_level",
	                                     "show_log_origin", "module", NULL};
	const char *canon;
	char *module = NULL;

	memset(out, 0, sizeof(*out));
	if (config_json_check_fields(obj, where, fields, err, errlen) < 0 ||
	    get_string(obj, where, "log_path", false, &out->log_path, err, errlen) < 0 ||
	    get_string(obj, where, "level", false, &out->level, err, errlen) < 0 ||
	    get_bool(obj, where, "show_level", false, &out->show_level, NULL, err, errlen) < 0 ||
	    get_bool(obj, where, "show_log_origin", false, &out->show_log_origin, NULL, err,
	             errlen) < 0 ||
	    get_string(obj, where, "module", false, &module, err, errlen) < 0)
		goto fail;
	free(module); /* type-checked, then ignored (see config_json.h) */
	if (out->log_path && !out->log_path[0]) {
		error_set(err, errlen, "%s.log_path: must be a non-empty path", where);
		goto fail;
	}
	if (out->level) {
		canon = config_log_level_name(out->level);
		if (!canon) {
			error_set(err, errlen,
			          "%s.level: \"%s\" is not one of Error, Warning, Info, Debug, "
			          "Trace, Off",
			          where, out->level);
			goto fail;
		}
		memcpy(out->level, canon, strlen(canon) + 1); /* same length, other case */
	}
	return 0;
fail:
	config_logger_free(out);
	return -1;
}

int config_json_parse_metrics(const json_t *obj, const char *where, char **out, char *err,
                              size_t errlen)
{
	static const char *const fields[] = {"metrics_path", NULL};

	*out = NULL;
	if (config_json_check_fields(obj, where, fields, err, errlen) < 0 ||
	    get_string(obj, where, "metrics_path", true, out, err, errlen) < 0)
		return -1;
	return 0;
}

/* ---- applying sections ---- */

int config_apply_boot_source(struct vm_config *cfg, struct config_boot_source *bs, char *err,
                             size_t errlen)
{
	struct vm_config old = *cfg;

	cfg->kernel_image_path = bs->kernel_image_path;
	cfg->boot_args = bs->boot_args;
	cfg->initrd_path = bs->initrd_path;
	cfg->boot_protocol = bs->boot_protocol;
	memset(bs, 0, sizeof(*bs));
	if (config_validate(cfg, err, errlen) < 0) {
		free(cfg->kernel_image_path);
		free(cfg->boot_args);
		free(cfg->initrd_path);
		cfg->kernel_image_path = old.kernel_image_path;
		cfg->boot_args = old.boot_args;
		cfg->initrd_path = old.initrd_path;
		cfg->boot_protocol = old.boot_protocol;
		return -1;
	}
	free(old.kernel_image_path);
	free(old.boot_args);
	free(old.initrd_path);
	return 0;
}

int config_apply_machine(struct vm_config *cfg, const struct config_machine *m, bool put, char *err,
                         size_t errlen)
{
	unsigned vcpus = cfg->vcpu_count;
	uint64_t mem = cfg->mem_size_mib;
	bool smt = cfg->smt, dirty = cfg->track_dirty_pages, huge = cfg->huge_pages;

	if (m->present & CONFIG_MACHINE_VCPU_COUNT)
		cfg->vcpu_count = m->vcpu_count;
	if (m->present & CONFIG_MACHINE_MEM_SIZE_MIB)
		cfg->mem_size_mib = m->mem_size_mib;
	if (put || (m->present & CONFIG_MACHINE_SMT))
		cfg->smt = m->smt; /* false when absent from a PUT */
	if (put || (m->present & CONFIG_MACHINE_TRACK_DIRTY_PAGES))
		cfg->track_dirty_pages = m->track_dirty_pages;
	if (put || (m->present & CONFIG_MACHINE_HUGE_PAGES))
		cfg->huge_pages = m->huge_pages;
	if (config_validate(cfg, err, errlen) < 0) {
		cfg->vcpu_count = vcpus;
		cfg->mem_size_mib = mem;
		cfg->smt = smt;
		cfg->track_dirty_pages = dirty;
		cfg->huge_pages = huge;
		return -1;
	}
	return 0;
}

int config_apply_drive(struct vm_config *cfg, struct drive_config *d, char *err, size_t errlen)
{
	struct drive_config old;
	unsigned i = 0;
	bool appended;

	while (i < cfg->ndrives && strcmp(cfg->drives[i].id, d->id))
		i++;
	if (i == CONFIG_MAX_DRIVES) {
		config_drive_free(d);
		return error_set(err, errlen, "drives: at most %d drives", CONFIG_MAX_DRIVES);
	}
	appended = i == cfg->ndrives;
	old = cfg->drives[i];
	cfg->drives[i] = *d;
	if (appended)
		cfg->ndrives++;
	memset(d, 0, sizeof(*d));
	if (config_validate(cfg, err, errlen) < 0) {
		config_drive_free(&cfg->drives[i]);
		cfg->drives[i] = old;
		if (appended)
			cfg->ndrives--;
		return -1;
	}
	if (!appended)
		config_drive_free(&old);
	return 0;
}

int config_apply_net(struct vm_config *cfg, const struct net_config *n, char *err, size_t errlen)
{
	struct net_config old;
	unsigned i = 0, count = cfg->nnets;

	while (i < cfg->nnets && strcmp(cfg->nets[i].id, n->id))
		i++;
	if (i == CONFIG_MAX_NETS)
		return error_set(err, errlen, "network-interfaces: at most %d interfaces",
		                 CONFIG_MAX_NETS);
	old = cfg->nets[i];
	cfg->nets[i] = *n;
	if (i == cfg->nnets)
		cfg->nnets++;
	if (config_validate(cfg, err, errlen) < 0) {
		cfg->nets[i] = old;
		cfg->nnets = count;
		return -1;
	}
	return 0;
}

int config_apply_logger(struct vm_config *cfg, struct config_logger *l, char *err, size_t errlen)
{
	char *path = cfg->log_path, *level = cfg->log_level;
	bool new_path = l->log_path != NULL; /* absent: the destination (and its record) stay */

	if (new_path)
		cfg->log_path = l->log_path;
	cfg->log_level = l->level;
	l->log_path = l->level = NULL;
	config_logger_free(l);
	if (config_validate(cfg, err, errlen) < 0) {
		if (new_path)
			free(cfg->log_path);
		free(cfg->log_level);
		cfg->log_path = path;
		cfg->log_level = level;
		return -1;
	}
	if (new_path)
		free(path);
	free(level);
	return 0;
}

int config_apply_metrics(struct vm_config *cfg, char *metrics_path, char *err, size_t errlen)
{
	char *old = cfg->metrics_path;

	cfg->metrics_path = metrics_path;
	if (config_validate(cfg, err, errlen) < 0) {
		free(cfg->metrics_path);
		cfg->metrics_path = old;
		return -1;
	}
	free(old);
	return 0;
}

/* ---- whole configuration ---- */

int config_json_load_object(const char *text, size_t len, const char *where, json_t **out,
                            char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);

	*out = NULL;
	if (!root)
		return error_set(err, errlen, "%s: invalid JSON at line %d column %d: %s", where,
		                 jerr.line, jerr.column, jerr.text);
	if (!json_is_object(root)) {
		error_set(err, errlen, "%s: expected an object, got %s", where, type_name(root));
		json_decref(root);
		return -1;
	}
	*out = root;
	return 0;
}

/* Fills cfg (fresh) from the "drives" array; duplicates are left to config_validate(). */
static int parse_drives(struct vm_config *cfg, const json_t *root, char *err, size_t errlen)
{
	json_t *arr = json_object_get(root, "drives"), *item;
	size_t i;
	char where[32];

	if (!arr || json_is_null(arr))
		return 0;
	if (!json_is_array(arr))
		return error_set(err, errlen, "drives: expected an array, got %s", type_name(arr));
	json_array_foreach(arr, i, item)
	{
		snprintf(where, sizeof(where), "drives[%zu]", i);
		if (i >= CONFIG_MAX_DRIVES)
			return error_set(err, errlen, "drives: at most %d drives",
			                 CONFIG_MAX_DRIVES);
		if (!json_is_object(item))
			return error_set(err, errlen, "%s: expected an object, got %s", where,
			                 type_name(item));
		if (config_json_parse_drive(item, where, &cfg->drives[i], err, errlen) < 0)
			return -1;
		cfg->ndrives = (unsigned)i + 1;
	}
	return 0;
}

static int parse_nets(struct vm_config *cfg, const json_t *root, char *err, size_t errlen)
{
	json_t *arr = json_object_get(root, "network-interfaces"), *item;
	size_t i;
	char where[40];

	if (!arr || json_is_null(arr))
		return 0;
	if (!json_is_array(arr))
		return error_set(err, errlen, "network-interfaces: expected an array, got %s",
		                 type_name(arr));
	json_array_foreach(arr, i, item)
	{
		snprintf(where, sizeof(where), "network-interfaces[%zu]", i);
		if (i >= CONFIG_MAX_NETS)
			return error_set(err, errlen, "network-interfaces: at most %d interfaces",
			                 CONFIG_MAX_NETS);
		if (!json_is_object(item))
			return error_set(err, errlen, "%s: expected an object, got %s", where,
			                 type_name(item));
		if (config_json_parse_net(item, where, &cfg->nets[i], err, errlen) < 0)
			return -1;
		cfg->nnets = (unsigned)i + 1;
	}
	return 0;
}

/* A top-level section object, or NULL when absent or null. */
static int section(const json_t *root, const char *key, bool required, json_t **out, char *err,
                   size_t errlen)
{
	*out = json_object_get(root, key);
	if (*out && json_is_null(*out))
		*out = NULL;
	if (!*out && required)
		return error_set(err, errlen, "%s: missing required section", key);
	if (*out && !json_is_object(*out))
		return error_set(err, errlen, "%s: expected an object, got %s", key,
		                 type_name(*out));
	return 0;
}

/* Firecracker sections wisp does not implement: accepted only when null, as in the output
 * of Firecracker's GET /vm/config for a VM that does not use them. */
static int check_unsupported(const json_t *root, char *err, size_t errlen)
{
	static const char *const keys[] = {"balloon", "vsock", "mmds-config", "entropy",
	                                   "cpu-config"};

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		json_t *v = json_object_get(root, keys[i]);

		if (v && !json_is_null(v))
			return error_set(err, errlen, "%s: not supported by wisp", keys[i]);
	}
	return 0;
}

static int parse_sections(struct vm_config *cfg, const json_t *root, char *err, size_t errlen)
{
	static const char *const fields[] = {
	    "boot-source", "machine-config", "drives",     "network-interfaces",
	    "logger",      "metrics",        "balloon",    "vsock",
	    "mmds-config", "entropy",        "cpu-config", NULL};
	struct config_boot_source bs;
	struct config_machine m;
	struct config_logger l;
	json_t *s;

	/* Top-level messages name the bare key ("drives: ..."). */
	if (config_json_check_fields(root, "", fields, err, errlen) < 0 ||
	    check_unsupported(root, err, errlen) < 0)
		return -1;
	if (section(root, "boot-source", true, &s, err, errlen) < 0 ||
	    config_json_parse_boot_source(s, "boot-source", &bs, err, errlen) < 0)
		return -1;
	cfg->kernel_image_path = bs.kernel_image_path;
	cfg->boot_args = bs.boot_args;
	cfg->initrd_path = bs.initrd_path;
	cfg->boot_protocol = bs.boot_protocol;
	if (section(root, "machine-config", false, &s, err, errlen) < 0)
		return -1;
	if (s) {
		if (config_json_parse_machine(s, "machine-config", false, &m, err, errlen) < 0)
			return -1;
		cfg->vcpu_count = m.vcpu_count;
		cfg->mem_size_mib = m.mem_size_mib;
		cfg->smt = m.smt;
		cfg->track_dirty_pages = m.track_dirty_pages;
		cfg->huge_pages = m.huge_pages;
	}
	if (parse_drives(cfg, root, err, errlen) < 0 || parse_nets(cfg, root, err, errlen) < 0)
		return -1;
	if (section(root, "logger", false, &s, err, errlen) < 0)
		return -1;
	if (s) {
		if (config_json_parse_logger(s, "logger", &l, err, errlen) < 0)
			return -1;
		cfg->log_path = l.log_path;
		cfg->log_level = l.level;
	}
	if (section(root, "metrics", false, &s, err, errlen) < 0 ||
	    (s && config_json_parse_metrics(s, "metrics", &cfg->metrics_path, err, errlen) < 0))
		return -1;
	return config_validate(cfg, err, errlen);
}

int config_json_parse(struct vm_config *cfg, const char *text, size_t len, char *err, size_t errlen)
{
	struct vm_config fresh;
	json_t *root;
	int rc;

	if (config_json_load_object(text, len, "config", &root, err, errlen) < 0)
		return -1;
	config_init(&fresh);
	rc = parse_sections(&fresh, root, err, errlen);
	json_decref(root);
	if (rc < 0) {
		config_free(&fresh);
		return -1;
	}
	config_free(cfg);
	*cfg = fresh;
	return 0;
}

int config_json_load_file(struct vm_config *cfg, const char *path, char *err, size_t errlen)
{
	struct stat st;
	char *buf;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int rc;

	if (fd < 0)
		return error_set(err, errlen, "%s", strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > CONFIG_JSON_FILE_MAX) {
		close(fd);
		return error_set(err, errlen, "not a regular file of at most %d bytes",
		                 CONFIG_JSON_FILE_MAX);
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		close(fd);
		return error_set(err, errlen, "out of memory");
	}
	n = read(fd, buf, (size_t)st.st_size + 1);
	close(fd);
	if (n < 0 || n > st.st_size) {
		free(buf);
		return error_set(err, errlen, "read failed");
	}
	rc = config_json_parse(cfg, buf, (size_t)n, err, errlen);
	free(buf);
	return rc;
}

/* ---- emitting ---- */

static json_t *bucket_to_json(const struct token_bucket_config *b)
{
	return json_pack("{s:I,s:I,s:I}", "size", (json_int_t)b->size, "one_time_burst",
	                 (json_int_t)b->one_time_burst, "refill_time",
	                 (json_int_t)b->refill_time_ms);
}

/* Adds obj.key = the limiter, when any of its buckets is set. */
static void add_limiter(json_t *obj, const char *key, const struct rate_limiter_config *l)
{
	json_t *j;

	if (!l->bandwidth.set && !l->ops.set)
		return;
	j = json_object();
	if (l->bandwidth.set)
		json_object_set_new(j, "bandwidth", bucket_to_json(&l->bandwidth));
	if (l->ops.set)
		json_object_set_new(j, "ops", bucket_to_json(&l->ops));
	json_object_set_new(obj, key, j);
}

static void add_string(json_t *obj, const char *key, const char *value)
{
	if (value)
		json_object_set_new(obj, key, json_string(value));
}

static json_t *drive_to_json(const struct drive_config *d)
{
	json_t *j = json_object();

	json_object_set_new(j, "drive_id", json_string(d->id));
	add_string(j, "path_on_host", d->path_on_host);
	json_object_set_new(j, "is_root_device", json_boolean(d->is_root_device));
	json_object_set_new(j, "is_read_only", json_boolean(d->is_read_only));
	add_string(j, "partuuid", d->partuuid);
	json_object_set_new(j, "cache_type",
	                    json_string(d->cache_type == CACHE_DIRECT      ? "Direct"
	                                : d->cache_type == CACHE_WRITEBACK ? "Writeback"
	                                                                   : "Unsafe"));
	json_object_set_new(j, "io_engine",
	                    json_string(d->io_engine == IO_ENGINE_ASYNC ? "Async" : "Sync"));
	add_limiter(j, "rate_limiter", &d->rate_limiter);
	return j;
}

static json_t *net_to_json(const struct net_config *n)
{
	json_t *j = json_object();
	char mac[18];

	json_object_set_new(j, "iface_id", json_string(n->id));
	json_object_set_new(j, "host_dev_name", json_string(n->host_dev_name));
	if (n->has_guest_mac) {
		config_format_mac(n->guest_mac, mac);
		json_object_set_new(j, "guest_mac", json_string(mac));
	}
	add_limiter(j, "rx_rate_limiter", &n->rx_rate_limiter);
	add_limiter(j, "tx_rate_limiter", &n->tx_rate_limiter);
	return j;
}

json_t *config_json_machine_to_json(const struct vm_config *cfg)
{
	return json_pack("{s:I,s:I,s:b,s:b,s:s}", "vcpu_count", (json_int_t)cfg->vcpu_count,
	                 "mem_size_mib", (json_int_t)cfg->mem_size_mib, "smt", (int)cfg->smt,
	                 "track_dirty_pages", (int)cfg->track_dirty_pages, "huge_pages",
	                 cfg->huge_pages ? "2M" : "None");
}

static json_t *boot_source_to_json(const struct vm_config *cfg)
{
	json_t *j = json_object();

	add_string(j, "kernel_image_path", cfg->kernel_image_path);
	add_string(j, "boot_args", cfg->boot_args);
	add_string(j, "initrd_path", cfg->initrd_path);
	if (cfg->boot_protocol != BOOT_PROTOCOL_AUTO && (unsigned)cfg->boot_protocol < 3)
		json_object_set_new(j, "boot_protocol",
		                    json_string(boot_protocol_names[cfg->boot_protocol]));
	return j;
}

json_t *config_json_to_json(const struct vm_config *cfg)
{
	json_t *root = json_object(), *drives = json_array(), *nets = json_array(), *j;

	if (!root || !drives || !nets) {
		json_decref(root);
		json_decref(drives);
		json_decref(nets);
		return NULL;
	}
	if (cfg->kernel_image_path)
		json_object_set_new(root, "boot-source", boot_source_to_json(cfg));
	json_object_set_new(root, "machine-config", config_json_machine_to_json(cfg));
	for (unsigned i = 0; i < cfg->ndrives && i < CONFIG_MAX_DRIVES; i++)
		json_array_append_new(drives, drive_to_json(&cfg->drives[i]));
	json_object_set_new(root, "drives", drives);
	for (unsigned i = 0; i < cfg->nnets && i < CONFIG_MAX_NETS; i++)
		json_array_append_new(nets, net_to_json(&cfg->nets[i]));
	json_object_set_new(root, "network-interfaces", nets);
	if (cfg->log_path || cfg->log_level) {
		j = json_object();
		add_string(j, "log_path", cfg->log_path);
		add_string(j, "level", cfg->log_level);
		json_object_set_new(root, "logger", j);
	}
	if (cfg->metrics_path)
		json_object_set_new(root, "metrics",
		                    json_pack("{s:s}", "metrics_path", cfg->metrics_path));
	return root;
}

char *config_json_devices_dump(const struct vm_config *cfg)
{
	json_t *root = json_object(), *drives = json_array(), *nets = json_array();
	char *text = NULL;

	if (root && drives && nets) {
		for (unsigned i = 0; i < cfg->ndrives && i < CONFIG_MAX_DRIVES; i++)
			json_array_append_new(drives, drive_to_json(&cfg->drives[i]));
		for (unsigned i = 0; i < cfg->nnets && i < CONFIG_MAX_NETS; i++)
			json_array_append_new(nets, net_to_json(&cfg->nets[i]));
		json_object_set(root, "drives", drives);
		json_object_set(root, "network-interfaces", nets);
		text = json_dumps(root, JSON_COMPACT);
	}
	json_decref(root);
	json_decref(drives);
	json_decref(nets);
	return text;
}

int config_json_devices_parse(struct vm_config *cfg, const char *text, size_t len, char *err,
                              size_t errlen)
{
	static const char *const fields[] = {"drives", "network-interfaces", NULL};
	struct vm_config tmp;
	json_t *root;
	int rc;

	if (cfg->ndrives || cfg->nnets)
		return error_set(err, errlen,
		                 "drives or network interfaces are configured already");
	if (config_json_load_object(text, len, "devices", &root, err, errlen) < 0)
		return -1;
	config_init(&tmp);
	rc = config_json_check_fields(root, "", fields, err, errlen);
	if (rc == 0)
		rc = parse_drives(&tmp, root, err, errlen);
	if (rc == 0)
		rc = parse_nets(&tmp, root, err, errlen);
	json_decref(root);
	if (rc == 0) {
		/* Moved, strings and all: tmp keeps none of them. */
		memcpy(cfg->drives, tmp.drives, sizeof(tmp.drives));
		memcpy(cfg->nets, tmp.nets, sizeof(tmp.nets));
		cfg->ndrives = tmp.ndrives;
		cfg->nnets = tmp.nnets;
		tmp.ndrives = tmp.nnets = 0;
		rc = config_validate(cfg, err, errlen);
		if (rc < 0) {
			tmp.ndrives = cfg->ndrives;
			tmp.nnets = cfg->nnets;
			cfg->ndrives = cfg->nnets = 0;
		}
	}
	config_free(&tmp);
	return rc;
}

char *config_json_dump(const struct vm_config *cfg)
{
	json_t *root = config_json_to_json(cfg);
	char *text, *line;
	size_t len;

	if (!root)
		return NULL;
	text = json_dumps(root, JSON_INDENT(2));
	json_decref(root);
	if (!text)
		return NULL;
	len = strlen(text);
	line = realloc(text, len + 2);
	if (!line) {
		free(text);
		return NULL;
	}
	line[len] = '\n';
	line[len + 1] = '\0';
	return line;
}
