/*
 * api_routes.c - the route table and what each route does (see api_routes.h).
 *
 * Routing: the path (query string dropped, trailing '/' ignored) is split into a resource
 * and, for /drives and /network-interfaces, one id segment. The table lists (method,
 * resource, parser); a path with no entry is 404, a path whose entries all have other
 * methods is 405 with an Allow header. Messages reuse Firecracker's wording where a client
 * might match on it ("The id from the path does not match the id from the body!").
 *
 * Metrics: each route with a metric name counts its requests in Firecracker's
 * get_api_requests / put_api_requests / patch_api_requests groups ("<name>_count", and for PUT
 * and PATCH "<name>_fails": answers of 400 and above), and the runtime actions record how long
 * they took in latencies_us (the last one, in microseconds).
 */
#include "api-socket/api_routes.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "vmm/metrics.h"
#include "vmm/vmm.h"

#define API_ERR_MAX 512

/* Firecracker's messages for the two state rules. */
#define MSG_POST_BOOT "The requested operation is not supported after starting the microVM."
#define MSG_PRE_BOOT  "The requested operation is not supported before starting the microVM."

/* ---- responses ---- */

void api_response_free(struct api_response *resp)
{
	free(resp->body);
	resp->body = NULL;
}

static void respond_json(struct api_response *resp, int status, json_t *value)
{
	resp->status = status;
	resp->allow = NULL;
	resp->body = value ? json_dumps(value, JSON_COMPACT) : NULL;
	json_decref(value);
	if (!resp->body) {
		resp->status = 500;
		resp->body = strdup("{\"fault_message\":\"out of memory\"}");
	}
}

void api_response_error(struct api_response *resp, int status, const char *fmt, ...)
{
	char msg[API_ERR_MAX];
	json_t *text;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* Messages quote client bytes (a path); JSON needs UTF-8, so fall back to ASCII. */
	text = json_string(msg);
	if (!text) {
		for (char *p = msg; *p; p++)
			if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
				*p = '?';
		text = json_string(msg);
	}
	respond_json(resp, status, json_pack("{s:o}", "fault_message", text));
}

static void respond_no_content(struct api_response *resp)
{
	resp->status = 204;
	resp->body = NULL;
	resp->allow = NULL;
}

const char *api_state_name(int vmm_state)
{
	switch (vmm_state) {
	case VMM_RUNNING:
		return "Running";
	case VMM_PAUSED:
		return "Paused";
	default:
		return "Not started";
	}
}

/* ---- parsing: one function per route ---- */

/* What a route parser gets: the request, its id segment ("" when the route has none) and
 * its body as a JSON object (NULL for a GET). Returns like api_parse(). */
typedef enum api_parse_result (*api_route_fn)(const struct api_request *req, const char *id,
                                              const json_t *body, struct api_action *act,
                                              struct api_response *resp);

static enum api_parse_result action(struct api_action *act, enum api_action_kind kind)
{
	act->kind = kind;
	return API_PARSE_EXECUTE;
}

static enum api_parse_result bad_request(struct api_response *resp, const char *msg)
{
	api_response_error(resp, 400, "%s", msg);
	return API_PARSE_ANSWERED;
}

static enum api_parse_result get_info(const struct api_request *req, const char *id,
                                      const json_t *body, struct api_action *act,
                                      struct api_response *resp)
{
	(void)req, (void)id, (void)body, (void)resp;
	return action(act, API_ACT_GET_INFO);
}

static enum api_parse_result get_version(const struct api_request *req, const char *id,
                                         const json_t *body, struct api_action *act,
                                         struct api_response *resp)
{
	(void)req, (void)id, (void)body, (void)act;
	/* Firecracker's field name: clients parse "firecracker_version"; the value is wisp's. */
	respond_json(resp, 200, json_pack("{s:s}", "firecracker_version", WISP_VERSION));
	return API_PARSE_ANSWERED;
}

static enum api_parse_result get_vm_config(const struct api_request *req, const char *id,
                                           const json_t *body, struct api_action *act,
                                           struct api_response *resp)
{
	(void)req, (void)id, (void)body, (void)resp;
	return action(act, API_ACT_GET_VM_CONFIG);
}

static enum api_parse_result get_machine(const struct api_request *req, const char *id,
                                         const json_t *body, struct api_action *act,
                                         struct api_response *resp)
{
	(void)req, (void)id, (void)body, (void)resp;
	return action(act, API_ACT_GET_MACHINE);
}

static enum api_parse_result put_boot_source(const struct api_request *req, const char *id,
                                             const json_t *body, struct api_action *act,
                                             struct api_response *resp)
{
	char err[API_ERR_MAX];

	(void)req, (void)id;
	if (config_json_parse_boot_source(body, "boot-source", &act->u.boot_source, err,
	                                  sizeof(err)) < 0)
		return bad_request(resp, err);
	return action(act, API_ACT_PUT_BOOT_SOURCE);
}

static enum api_parse_result machine(const struct api_request *req, const char *id,
                                     const json_t *body, struct api_action *act,
                                     struct api_response *resp)
{
	bool patch = req->method == API_METHOD_PATCH;
	char err[API_ERR_MAX];

	(void)id;
	if (config_json_parse_machine(body, "machine-config", patch, &act->u.machine, err,
	                              sizeof(err)) < 0)
		return bad_request(resp, err);
	return action(act, patch ? API_ACT_PATCH_MACHINE : API_ACT_PUT_MACHINE);
}

/* Firecracker's id rule, plus '-' (see config_validate). */
static bool check_path_id(const char *id, struct api_response *resp)
{
	size_t len = strlen(id);

	if (len == 0) {
		api_response_error(resp, 400, "The ID cannot be empty.");
		return false;
	}
	for (size_t i = 0; i < len; i++) {
		char c = id[i];

		if (len > CONFIG_ID_MAX || !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		                             (c >= '0' && c <= '9') || c == '_' || c == '-')) {
			api_response_error(resp, 400,
			                   "API Resource IDs can only contain alphanumeric "
			                   "characters, underscores and hyphens, up to %d.",
			                   CONFIG_ID_MAX);
			return false;
		}
	}
	return true;
}

static bool ids_match(const char *path_id, const char *body_id, struct api_response *resp)
{
	if (strcmp(path_id, body_id)) {
		api_response_error(resp, 400,
		                   "The id from the path does not match the id from the body!");
		return false;
	}
	return true;
}

static enum api_parse_result drive(const struct api_request *req, const char *id,
                                   const json_t *body, struct api_action *act,
                                   struct api_response *resp)
{
	char err[API_ERR_MAX];

	if (!check_path_id(id, resp))
		return API_PARSE_ANSWERED;
	if (req->method == API_METHOD_PATCH) {
		if (config_json_parse_drive_update(body, "drive", &act->u.drive_update, err,
		                                   sizeof(err)) < 0)
			return bad_request(resp, err);
		if (!ids_match(id, act->u.drive_update.id, resp)) {
			config_drive_update_free(&act->u.drive_update);
			return API_PARSE_ANSWERED;
		}
		return action(act, API_ACT_PATCH_DRIVE);
	}
	if (config_json_parse_drive(body, "drive", &act->u.drive, err, sizeof(err)) < 0)
		return bad_request(resp, err);
	if (!ids_match(id, act->u.drive.id, resp)) {
		config_drive_free(&act->u.drive);
		return API_PARSE_ANSWERED;
	}
	return action(act, API_ACT_PUT_DRIVE);
}

static enum api_parse_result net(const struct api_request *req, const char *id, const json_t *body,
                                 struct api_action *act, struct api_response *resp)
{
	char err[API_ERR_MAX];

	if (!check_path_id(id, resp))
		return API_PARSE_ANSWERED;
	if (req->method == API_METHOD_PATCH) {
		if (config_json_parse_net_update(body, "network-interface", &act->u.net_update, err,
		                                 sizeof(err)) < 0)
			return bad_request(resp, err);
		if (!ids_match(id, act->u.net_update.id, resp))
			return API_PARSE_ANSWERED;
		return action(act, API_ACT_PATCH_NET);
	}
	if (config_json_parse_net(body, "network-interface", &act->u.net, err, sizeof(err)) < 0)
		return bad_request(resp, err);
	if (!ids_match(id, act->u.net.id, resp))
		return API_PARSE_ANSWERED;
	return action(act, API_ACT_PUT_NET);
}

static enum api_parse_result put_actions(const struct api_request *req, const char *id,
                                         const json_t *body, struct api_action *act,
                                         struct api_response *resp)
{
	static const char *const fields[] = {"action_type", NULL};
	static const char *const types[] = {"InstanceStart", "SendCtrlAltDel", "FlushMetrics"};
	static const enum api_action_kind kinds[] = {
	    API_ACT_INSTANCE_START, API_ACT_SEND_CTRL_ALT_DEL, API_ACT_FLUSH_METRICS};
	char err[API_ERR_MAX];
	unsigned type = 0;

	(void)req, (void)id;
	if (config_json_check_fields(body, "actions", fields, err, sizeof(err)) < 0 ||
	    config_json_get_enum(body, "actions", "action_type", true, types, 3, &type, err,
	                         sizeof(err)) < 0)
		return bad_request(resp, err);
	return action(act, kinds[type]);
}

static enum api_parse_result patch_vm(const struct api_request *req, const char *id,
                                      const json_t *body, struct api_action *act,
                                      struct api_response *resp)
{
	static const char *const fields[] = {"state", NULL};
	static const char *const states[] = {"Paused", "Resumed"};
	char err[API_ERR_MAX];
	unsigned state = 0;

	(void)req, (void)id;
	if (config_json_check_fields(body, "vm", fields, err, sizeof(err)) < 0 ||
	    config_json_get_enum(body, "vm", "state", true, states, 2, &state, err, sizeof(err)) <
	        0)
		return bad_request(resp, err);
	return action(act, state ? API_ACT_RESUME : API_ACT_PAUSE);
}

static enum api_parse_result put_logger(const struct api_request *req, const char *id,
                                        const json_t *body, struct api_action *act,
                                        struct api_response *resp)
{
	char err[API_ERR_MAX];

	(void)req, (void)id;
	if (config_json_parse_logger(body, "logger", &act->u.logger, err, sizeof(err)) < 0)
		return bad_request(resp, err);
	return action(act, API_ACT_PUT_LOGGER);
}

static enum api_parse_result put_metrics(const struct api_request *req, const char *id,
                                         const json_t *body, struct api_action *act,
                                         struct api_response *resp)
{
	char err[API_ERR_MAX];

	(void)req, (void)id;
	if (config_json_parse_metrics(body, "metrics", &act->u.metrics_path, err, sizeof(err)) < 0)
		return bad_request(resp, err);
	return action(act, API_ACT_PUT_METRICS);
}

/* obj.key as a non-empty string copied into *out: 0, or -1 with "where.key: ..." in err. */
static int get_path(const json_t *obj, const char *where, const char *key, bool required,
                    char **out, char *err, size_t errlen)
{
	const json_t *v = json_object_get(obj, key);

	*out = NULL;
	if (!v || json_is_null(v)) {
		if (required)
			snprintf(err, errlen, "%s.%s: required", where, key);
		return required ? -1 : 0;
	}
	if (!json_is_string(v) || !json_string_length(v)) {
		snprintf(err, errlen, "%s.%s: expected a non-empty string", where, key);
		return -1;
	}
	*out = strdup(json_string_value(v));
	if (!*out) {
		snprintf(err, errlen, "%s.%s: out of memory", where, key);
		return -1;
	}
	return 0;
}

/* PUT /snapshot/create: {snapshot_type?: "Full"|"Diff", snapshot_path, mem_file_path,
 * version?}. Diff needs the VM to track dirty pages (checked when it runs). */
static enum api_parse_result snapshot_create(const struct api_request *req, const char *id,
                                             const json_t *body, struct api_action *act,
                                             struct api_response *resp)
{
	static const char *const fields[] = {"snapshot_type", "snapshot_path", "mem_file_path",
	                                     "version", NULL};
	static const char *const types[] = {"Full", "Diff"};
	struct api_snapshot *sn = &act->u.snapshot;
	char err[API_ERR_MAX];
	unsigned type = 0;

	(void)req, (void)id;
	memset(sn, 0, sizeof(*sn));
	if (config_json_check_fields(body, "snapshot-create", fields, err, sizeof(err)) < 0 ||
	    config_json_get_enum(body, "snapshot-create", "snapshot_type", false, types, 2, &type,
	                         err, sizeof(err)) < 0)
		return bad_request(resp, err);
	sn->diff = type == 1;
	if (get_path(body, "snapshot-create", "snapshot_path", true, &sn->snapshot_path, err,
	             sizeof(err)) < 0 ||
	    get_path(body, "snapshot-create", "mem_file_path", true, &sn->mem_path, err,
	             sizeof(err)) < 0) {
		free(sn->snapshot_path);
		free(sn->mem_path);
		return bad_request(resp, err);
	}
	return action(act, API_ACT_SNAPSHOT_CREATE);
}

/* PUT /snapshot/load: {snapshot_path, mem_backend: {backend_type: "File", backend_path} or
 * the older mem_file_path, track_dirty_pages? (or its older name enable_diff_snapshots),
 * resume_vm?}. */
static enum api_parse_result snapshot_load(const struct api_request *req, const char *id,
                                           const json_t *body, struct api_action *act,
                                           struct api_response *resp)
{
	static const char *const fields[] = {"snapshot_path",
	                                     "mem_backend",
	                                     "mem_file_path",
	                                     "enable_diff_snapshots",
	                                     "track_dirty_pages",
	                                     "resume_vm",
	                                     NULL};
	static const char *const backend_fields[] = {"backend_type", "backend_path", NULL};
	static const char *const backends[] = {"File", "Uffd"};
	struct api_snapshot *sn = &act->u.snapshot;
	const json_t *backend = json_object_get(body, "mem_backend");
	const json_t *resume = json_object_get(body, "resume_vm");
	const json_t *diff = json_object_get(body, "enable_diff_snapshots");
	const json_t *dirty = json_object_get(body, "track_dirty_pages");
	char err[API_ERR_MAX];
	unsigned type = 0;

	(void)req, (void)id;
	memset(sn, 0, sizeof(*sn));
	if (config_json_check_fields(body, "snapshot-load", fields, err, sizeof(err)) < 0)
		return bad_request(resp, err);
	if (resume && !json_is_null(resume) && !json_is_boolean(resume))
		return bad_request(resp, "snapshot-load.resume_vm: expected a boolean");
	if (diff && !json_is_null(diff) && !json_is_boolean(diff))
		return bad_request(resp, "snapshot-load.enable_diff_snapshots: expected a boolean");
	if (dirty && !json_is_null(dirty) && !json_is_boolean(dirty))
		return bad_request(resp, "snapshot-load.track_dirty_pages: expected a boolean");
	sn->track_dirty_pages = json_is_true(diff) || json_is_true(dirty);
	if (backend && !json_is_null(backend)) {
		if (json_object_get(body, "mem_file_path"))
			return bad_request(resp,
			                   "snapshot-load: give mem_backend or mem_file_path, "
			                   "not both");
		if (!json_is_object(backend))
			return bad_request(resp, "snapshot-load.mem_backend: expected an object");
		if (config_json_check_fields(backend, "snapshot-load.mem_backend", backend_fields,
		                             err, sizeof(err)) < 0 ||
		    config_json_get_enum(backend, "snapshot-load.mem_backend", "backend_type", true,
		                         backends, 2, &type, err, sizeof(err)) < 0)
			return bad_request(resp, err);
		sn->uffd = type == 1;
		if (get_path(backend, "snapshot-load.mem_backend", "backend_path", true,
		             &sn->mem_path, err, sizeof(err)) < 0)
			return bad_request(resp, err);
	} else if (get_path(body, "snapshot-load", "mem_file_path", false, &sn->mem_path, err,
	                    sizeof(err)) < 0) {
		return bad_request(resp, err);
	} else if (!sn->mem_path) {
		return bad_request(resp,
		                   "snapshot-load: mem_backend (or mem_file_path) is required");
	}
	if (get_path(body, "snapshot-load", "snapshot_path", true, &sn->snapshot_path, err,
	             sizeof(err)) < 0) {
		free(sn->mem_path);
		sn->mem_path = NULL;
		return bad_request(resp, err);
	}
	sn->resume_vm = json_is_true(resume);
	return action(act, API_ACT_SNAPSHOT_LOAD);
}

static enum api_parse_result unsupported(const struct api_request *req, const char *id,
                                         const json_t *body, struct api_action *act,
                                         struct api_response *resp)
{
	(void)id, (void)body, (void)act;
	api_response_error(resp, 400, "%s is not supported by wisp", req->path);
	return API_PARSE_ANSWERED;
}

/* ---- the table ---- */

#define ANY_METHOD (-1)

struct api_route {
	int method;           /* enum api_method, or ANY_METHOD */
	const char *resource; /* the path without its id segment */
	bool has_id;          /* /resource/{id} */
	api_route_fn fn;
	const char *metric; /* "drive": put_api_requests.drive_count/_fails; NULL: not counted */
};

static const struct api_route api_routes[] = {
    {API_METHOD_GET, "/", false, get_info, "instance_info"},
    {API_METHOD_GET, "/version", false, get_version, "vmm_version"},
    {API_METHOD_GET, "/vm/config", false, get_vm_config, "vm_config"},
    {API_METHOD_PUT, "/boot-source", false, put_boot_source, "boot_source"},
    {API_METHOD_GET, "/machine-config", false, get_machine, "machine_cfg"},
    {API_METHOD_PUT, "/machine-config", false, machine, "machine_cfg"},
    {API_METHOD_PATCH, "/machine-config", false, machine, "machine_cfg"},
    {API_METHOD_PUT, "/drives", true, drive, "drive"},
    {API_METHOD_PATCH, "/drives", true, drive, "drive"},
    {API_METHOD_PUT, "/network-interfaces", true, net, "network"},
    {API_METHOD_PATCH, "/network-interfaces", true, net, "network"},
    {API_METHOD_PUT, "/actions", false, put_actions, "actions"},
    {API_METHOD_PATCH, "/vm", false, patch_vm, "vm"},
    {API_METHOD_PUT, "/logger", false, put_logger, "logger"},
    {API_METHOD_PUT, "/metrics", false, put_metrics, "metrics"},
    {API_METHOD_PUT, "/snapshot/create", false, snapshot_create, "snapshot_create"},
    {API_METHOD_PUT, "/snapshot/load", false, snapshot_load, "snapshot_load"},
    /* Firecracker resources wisp does not implement: a clear 400 for any method. */
    {ANY_METHOD, "/mmds", false, unsupported, NULL},
    {ANY_METHOD, "/mmds/config", false, unsupported, NULL},
    {ANY_METHOD, "/balloon", false, unsupported, NULL},
    {ANY_METHOD, "/balloon/statistics", false, unsupported, NULL},
    {ANY_METHOD, "/balloon/hinting", true, unsupported, NULL}, /* /start, /status, /stop */
    {ANY_METHOD, "/vsock", false, unsupported, NULL},
    {ANY_METHOD, "/entropy", false, unsupported, NULL},
    {ANY_METHOD, "/cpu-config", false, unsupported, NULL},
    {ANY_METHOD, "/hotplug/memory", false, unsupported, NULL},
    {ANY_METHOD, "/serial", false, unsupported, NULL},
    {ANY_METHOD, "/pmem", true, unsupported, NULL},
};

#define API_NROUTES  (sizeof(api_routes) / sizeof(api_routes[0]))
#define API_PATH_MAX 512

/* ---- metrics ---- */

static atomic_ulong route_count[API_NROUTES], route_fails[API_NROUTES];

/* latencies_us: the last successful runtime action of each kind, in microseconds. */
enum api_latency { LAT_PAUSE, LAT_RESUME, LAT_FULL_SNAPSHOT, LAT_DIFF_SNAPSHOT, LAT_LOAD, LAT_N };
static atomic_ulong latency_us[LAT_N];
static const char *const latency_names[LAT_N] = {
    "pause_vm", "resume_vm", "full_create_snapshot", "diff_create_snapshot", "load_snapshot",
};

static const char *route_group(const struct api_route *r)
{
	switch (r->method) {
	case API_METHOD_GET:
		return "get_api_requests";
	case API_METHOD_PATCH:
		return "patch_api_requests";
	default:
		return "put_api_requests";
	}
}

void api_routes_metrics_register(void)
{
	char name[64];

	for (size_t i = 0; i < API_NROUTES; i++) {
		const struct api_route *r = &api_routes[i];

		if (!r->metric)
			continue;
		snprintf(name, sizeof(name), "%s_count", r->metric);
		metrics_register(route_group(r), name, &route_count[i]);
		/* Firecracker's GET routes have no _fails: a GET fails only before routing. */
		if (r->method == API_METHOD_GET)
			continue;
		snprintf(name, sizeof(name), "%s_fails", r->metric);
		metrics_register(route_group(r), name, &route_fails[i]);
	}
	for (int i = 0; i < LAT_N; i++)
		metrics_register_value("latencies_us", latency_names[i], &latency_us[i]);
}

void api_routes_metrics_unregister(void)
{
	for (size_t i = 0; i < API_NROUTES; i++) {
		metrics_unregister(&route_count[i]);
		metrics_unregister(&route_fails[i]);
	}
	for (int i = 0; i < LAT_N; i++)
		metrics_unregister(&latency_us[i]);
}

/* One answered request of route index i. */
static void route_counted(size_t i, int status)
{
	atomic_fetch_add(&route_count[i], 1);
	if (status >= 400)
		atomic_fetch_add(&route_fails[i], 1);
}

static long long monotonic_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

static void latency_record(enum api_latency which, long long start_us, int rc)
{
	if (rc == 0)
		atomic_store(&latency_us[which], (unsigned long)(monotonic_us() - start_us));
}

/*
 * Splits path into resource and id for route r: "/drives/root" -> ("/drives", "root").
 * For an id route the bare resource ("/drives") matches with an empty id, which the parser
 * then refuses as Firecracker does ("The ID cannot be empty.").
 */
static bool route_matches(const struct api_route *r, const char *path, const char **id)
{
	size_t n = strlen(r->resource);

	if (strncmp(path, r->resource, n))
		return false;
	if (path[n] == '\0') {
		*id = "";
		return true;
	}
	if (!r->has_id || path[n] != '/' || strchr(path + n + 1, '/'))
		return false;
	*id = path + n + 1;
	return true;
}

/* The path without query string, fragment or trailing slashes; "/" stays "/". An
 * absolute-form target ("http://localhost/vm") is reduced to its path. */
static bool normalize_path(const char *in, char *out, size_t outlen)
{
	size_t len;

	if (!strncmp(in, "http://", 7)) {
		in = strchr(in + 7, '/');
		if (!in)
			in = "/";
	}
	len = strcspn(in, "?#");
	if (len >= outlen || in[0] != '/')
		return false;
	memcpy(out, in, len);
	out[len] = '\0';
	while (len > 1 && out[len - 1] == '/')
		out[--len] = '\0';
	return true;
}

static const char *method_list(const char *path)
{
	bool get = false, put = false, patch = false;
	const char *id;

	for (size_t i = 0; i < API_NROUTES; i++) {
		if (!route_matches(&api_routes[i], path, &id))
			continue;
		get |= api_routes[i].method == API_METHOD_GET;
		put |= api_routes[i].method == API_METHOD_PUT;
		patch |= api_routes[i].method == API_METHOD_PATCH;
	}
	/* Every combination the table has. */
	if (get && put && patch)
		return "GET, PUT, PATCH";
	if (put && patch)
		return "PUT, PATCH";
	if (get)
		return "GET";
	if (patch)
		return "PATCH";
	return "PUT";
}

/* Method and body rules common to every route, then the route's own parser. */
static enum api_parse_result run_route(const struct api_route *r, const struct api_request *req,
                                       const char *path, const char *id, struct api_action *act,
                                       struct api_response *resp)
{
	struct api_request normalized = *req;
	char err[API_ERR_MAX];
	json_t *body = NULL;
	enum api_parse_result res;
	const char *where = path[1] ? path + 1 : "body";

	normalized.path = path;
	if (r->method == ANY_METHOD)
		return r->fn(&normalized, id, NULL, act, resp);
	if (req->method == API_METHOD_GET && req->body_len)
		return bad_request(resp, "GET request cannot have a body.");
	if (req->method == API_METHOD_GET)
		return r->fn(&normalized, id, NULL, act, resp);
	if (!req->body_len) {
		api_response_error(resp, 400, "Empty %s request.", req->method_name);
		return API_PARSE_ANSWERED;
	}
	if (r->has_id)
		where = !strcmp(r->resource, "/drives") ? "drive" : "network-interface";
	if (config_json_load_object(req->body, req->body_len, where, &body, err, sizeof(err)) < 0)
		return bad_request(resp, err);
	res = r->fn(&normalized, id, body, act, resp);
	json_decref(body);
	return res;
}

enum api_parse_result api_parse(const struct api_request *req, struct api_action *act,
                                struct api_response *resp)
{
	char path[API_PATH_MAX];
	const char *id;
	bool known = false;

	memset(act, 0, sizeof(*act));
	memset(resp, 0, sizeof(*resp));
	if (!normalize_path(req->path, path, sizeof(path))) {
		api_response_error(resp, 400, "Invalid request path: %.100s", req->path);
		return API_PARSE_ANSWERED;
	}
	for (size_t i = 0; i < API_NROUTES; i++) {
		const struct api_route *r = &api_routes[i];

		if (!route_matches(r, path, &id))
			continue;
		known = true;
		if (r->method == ANY_METHOD || r->method == (int)req->method) {
			enum api_parse_result res = run_route(r, req, path, id, act, resp);

			if (res == API_PARSE_EXECUTE)
				act->route = (int)i + 1; /* counted once executed */
			else
				route_counted(i, resp->status);
			return res;
		}
	}
	api_response_error(resp, known ? 405 : 404, "Invalid request method and/or path: %s %s.",
	                   req->method_name, path);
	if (known)
		resp->allow = method_list(path);
	return API_PARSE_ANSWERED;
}

/* ---- executing (event-loop thread) ---- */

void api_action_free(struct api_action *act)
{
	switch (act->kind) {
	case API_ACT_PUT_BOOT_SOURCE:
		config_boot_source_free(&act->u.boot_source);
		break;
	case API_ACT_PUT_DRIVE:
		config_drive_free(&act->u.drive);
		break;
	case API_ACT_PATCH_DRIVE:
		config_drive_update_free(&act->u.drive_update);
		break;
	case API_ACT_PUT_LOGGER:
		config_logger_free(&act->u.logger);
		break;
	case API_ACT_PUT_METRICS:
		free(act->u.metrics_path);
		act->u.metrics_path = NULL;
		break;
	case API_ACT_SNAPSHOT_CREATE:
	case API_ACT_SNAPSHOT_LOAD:
		free(act->u.snapshot.snapshot_path);
		free(act->u.snapshot.mem_path);
		act->u.snapshot.snapshot_path = act->u.snapshot.mem_path = NULL;
		break;
	default:
		break;
	}
}

static bool pre_boot_action(enum api_action_kind kind)
{
	switch (kind) {
	case API_ACT_PUT_BOOT_SOURCE:
	case API_ACT_PUT_MACHINE:
	case API_ACT_PATCH_MACHINE:
	case API_ACT_PUT_DRIVE:
	case API_ACT_PUT_NET:
	case API_ACT_PUT_LOGGER:
	case API_ACT_PUT_METRICS:
	case API_ACT_INSTANCE_START:
	case API_ACT_SNAPSHOT_LOAD:
		return true;
	default:
		return false;
	}
}

static bool post_boot_action(enum api_action_kind kind)
{
	switch (kind) {
	case API_ACT_PATCH_DRIVE:
	case API_ACT_PATCH_NET:
	case API_ACT_SEND_CTRL_ALT_DEL:
	case API_ACT_PAUSE:
	case API_ACT_RESUME:
	case API_ACT_SNAPSHOT_CREATE:
		return true;
	default:
		return false;
	}
}

/* A config_apply_* or ops call result: 204, or 400 with its message. */
static void done(struct api_response *resp, int rc, const char *err)
{
	if (rc < 0)
		api_response_error(resp, 400, "%s", err[0] ? err : "request failed");
	else
		respond_no_content(resp);
}

static void get_info_json(struct vmm *vmm, struct api_response *resp)
{
	respond_json(resp, 200,
	             json_pack("{s:s,s:s,s:s,s:s}", "id", vmm->id, "state",
	                       api_state_name(vmm->state), "vmm_version", WISP_VERSION, "app_name",
	                       API_APP_NAME));
}

static void put_logger_exec(struct vmm *vmm, const struct api_vmm_ops *ops, struct config_logger *l,
                            struct api_response *resp)
{
	char err[API_ERR_MAX] = "";
	enum log_level level;
	int rc;

	/* log_path is opened even with Off, so that a bad path is reported as Firecracker does. */
	if (l->log_path && (rc = ops->set_log_path(l->log_path)) < 0) {
		api_response_error(resp, 400, "logger.log_path: cannot open %s: %s", l->log_path,
		                   strerror(-rc));
		return;
	}
	/* Trace logs as Debug (wisp has nothing finer); Off prints nothing. The name was
	 * validated by the parser. */
	if (l->level && log_level_from_name(l->level, &level) == 0)
		ops->set_log_level(level);
	done(resp, config_apply_logger(&vmm->config, l, err, sizeof(err)), err);
}

static void put_metrics_exec(struct vmm *vmm, const struct api_vmm_ops *ops, char **path,
                             struct api_response *resp)
{
	char err[API_ERR_MAX] = "";
	int rc = ops->set_metrics_path(*path);

	if (rc < 0) {
		api_response_error(resp, 400, "metrics.metrics_path: cannot open %s: %s", *path,
		                   strerror(-rc));
		return;
	}
	rc = config_apply_metrics(&vmm->config, *path, err, sizeof(err));
	*path = NULL; /* consumed */
	done(resp, rc, err);
}

int api_check_file(const char *path, bool writable)
{
	/* O_NONBLOCK: a FIFO given as a kernel must not hang the event loop in open(). */
	int fd = open(path, (writable ? O_RDWR : O_RDONLY) | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	struct stat st;
	int rc = 0;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0)
		rc = -errno;
	else if (S_ISDIR(st.st_mode))
		rc = -EISDIR;
	close(fd);
	return rc;
}

/* The file check of one field: true when it passes (or there is nothing to check). */
static bool file_ok(const struct api_vmm_ops *ops, const char *field, const char *path,
                    bool writable, struct api_response *resp)
{
	int rc;

	if (!path || !path[0] || !ops->check_file)
		return true; /* empty paths get config_validate()'s message */
	rc = ops->check_file(path, writable);
	if (rc >= 0)
		return true;
	api_response_error(resp, 400, "%s: %s: %s", field, path, strerror(-rc));
	return false;
}

static void put_boot_source_exec(struct vmm *vmm, const struct api_vmm_ops *ops,
                                 struct config_boot_source *bs, struct api_response *resp)
{
	char err[API_ERR_MAX] = "";

	if (!file_ok(ops, "boot-source.kernel_image_path", bs->kernel_image_path, false, resp) ||
	    !file_ok(ops, "boot-source.initrd_path", bs->initrd_path, false, resp))
		return;
	done(resp, config_apply_boot_source(&vmm->config, bs, err, sizeof(err)), err);
}

static void put_drive_exec(struct vmm *vmm, const struct api_vmm_ops *ops, struct drive_config *d,
                           struct api_response *resp)
{
	char err[API_ERR_MAX] = "";

	if (!file_ok(ops, "drive.path_on_host", d->path_on_host, !d->is_read_only, resp))
		return;
	/* Direct (wisp's): refuse now a file that InstanceStart could not open with O_DIRECT. */
	if (d->cache_type == CACHE_DIRECT && d->path_on_host && d->path_on_host[0] &&
	    ops->check_drive && ops->check_drive(d, err, sizeof(err)) < 0) {
		api_response_error(resp, 400, "%s", err);
		return;
	}
	done(resp, config_apply_drive(&vmm->config, d, err, sizeof(err)), err);
}

static void instance_start(struct vmm *vmm, const struct api_vmm_ops *ops,
                           struct api_response *resp)
{
	char err[API_ERR_MAX] = "";

	if (!vmm->config.kernel_image_path) {
		api_response_error(resp, 400, "Cannot start microvm without kernel configuration.");
		return;
	}
	if (config_validate(&vmm->config, err, sizeof(err)) < 0 ||
	    ops->start(vmm, err, sizeof(err)) < 0) {
		api_response_error(resp, 400, "Cannot start microvm: %s",
		                   err[0] ? err : "unknown error");
		return;
	}
	respond_no_content(resp);
}

static void snapshot_load_exec(struct vmm *vmm, const struct api_vmm_ops *ops,
                               const struct api_snapshot *sn, struct api_response *resp)
{
	char err[API_ERR_MAX] = "";
	long long start_us = monotonic_us();

	if (!ops->snapshot_load) {
		api_response_error(resp, 400, "snapshots are not available here");
		return;
	}
	if (ops->snapshot_load(vmm, sn->snapshot_path, sn->mem_path, sn->uffd, sn->resume_vm,
	                       sn->track_dirty_pages, err, sizeof(err)) < 0) {
		api_response_error(resp, 400, "Load snapshot error: %s",
		                   err[0] ? err : "unknown error");
		return;
	}
	latency_record(LAT_LOAD, start_us, 0);
	respond_no_content(resp);
}

/* The runtime actions: each goes straight to the VMM. */
static void runtime_exec(struct vmm *vmm, const struct api_vmm_ops *ops, struct api_action *act,
                         struct api_response *resp)
{
	char err[API_ERR_MAX] = "";
	const struct config_drive_update *du = &act->u.drive_update;
	const struct config_net_update *nu = &act->u.net_update;
	long long start_us = monotonic_us();
	int rc = -1;

	switch (act->kind) {
	case API_ACT_PATCH_DRIVE:
		rc = ops->update_drive(vmm, du->id, du->path_on_host,
		                       du->has_rate_limiter ? &du->rate_limiter : NULL, err,
		                       sizeof(err));
		break;
	case API_ACT_PATCH_NET:
		rc = ops->update_net(vmm, nu->id, nu->has_rx ? &nu->rx : NULL,
		                     nu->has_tx ? &nu->tx : NULL, err, sizeof(err));
		break;
	case API_ACT_SEND_CTRL_ALT_DEL:
		rc = ops->send_ctrl_alt_del(vmm, err, sizeof(err));
		break;
	case API_ACT_PAUSE:
		rc = ops->pause(vmm, err, sizeof(err));
		latency_record(LAT_PAUSE, start_us, rc);
		break;
	case API_ACT_RESUME:
		rc = ops->resume(vmm, err, sizeof(err));
		latency_record(LAT_RESUME, start_us, rc);
		break;
	case API_ACT_SNAPSHOT_CREATE:
		rc = ops->snapshot_create
		         ? ops->snapshot_create(vmm, act->u.snapshot.snapshot_path,
		                                act->u.snapshot.mem_path, act->u.snapshot.diff, err,
		                                sizeof(err))
		         : -1;
		latency_record(act->u.snapshot.diff ? LAT_DIFF_SNAPSHOT : LAT_FULL_SNAPSHOT,
		               start_us, rc);
		break;
	default:
		snprintf(err, sizeof(err), "internal error: action %d", (int)act->kind);
		break;
	}
	done(resp, rc, err);
}

static void flush_metrics_exec(const struct api_vmm_ops *ops, struct api_response *resp)
{
	if (ops->flush_metrics() < 0)
		api_response_error(resp, 400,
		                   "FlushMetrics: no metrics file is configured (PUT /metrics) "
		                   "or writing it failed");
	else
		respond_no_content(resp);
}

void api_execute(struct vmm *vmm, const struct api_vmm_ops *ops, struct api_action *act,
                 struct api_response *resp)
{
	char err[API_ERR_MAX] = "";
	int route = act->route;

	memset(resp, 0, sizeof(*resp));
	if (vmm->state != VMM_NOT_STARTED && pre_boot_action(act->kind)) {
		api_response_error(resp, 400, MSG_POST_BOOT);
	} else if (vmm->state == VMM_NOT_STARTED && post_boot_action(act->kind)) {
		api_response_error(resp, 400, MSG_PRE_BOOT);
	} else {
		switch (act->kind) {
		case API_ACT_GET_INFO:
			get_info_json(vmm, resp);
			break;
		case API_ACT_GET_VM_CONFIG:
			respond_json(resp, 200, config_json_to_json(&vmm->config));
			break;
		case API_ACT_GET_MACHINE:
			respond_json(resp, 200, config_json_machine_to_json(&vmm->config));
			break;
		case API_ACT_PUT_BOOT_SOURCE:
			put_boot_source_exec(vmm, ops, &act->u.boot_source, resp);
			break;
		case API_ACT_PUT_MACHINE:
		case API_ACT_PATCH_MACHINE:
			done(resp,
			     config_apply_machine(&vmm->config, &act->u.machine,
			                          act->kind == API_ACT_PUT_MACHINE, err,
			                          sizeof(err)),
			     err);
			break;
		case API_ACT_PUT_DRIVE:
			put_drive_exec(vmm, ops, &act->u.drive, resp);
			break;
		case API_ACT_PUT_NET:
			done(resp, config_apply_net(&vmm->config, &act->u.net, err, sizeof(err)),
			     err);
			break;
		case API_ACT_PUT_LOGGER:
			put_logger_exec(vmm, ops, &act->u.logger, resp);
			break;
		case API_ACT_PUT_METRICS:
			put_metrics_exec(vmm, ops, &act->u.metrics_path, resp);
			break;
		case API_ACT_INSTANCE_START:
			instance_start(vmm, ops, resp);
			break;
		case API_ACT_FLUSH_METRICS:
			flush_metrics_exec(ops, resp);
			break;
		case API_ACT_SNAPSHOT_LOAD:
			snapshot_load_exec(vmm, ops, &act->u.snapshot, resp);
			break;
		default:
			runtime_exec(vmm, ops, act, resp);
			break;
		}
	}
	api_action_free(act);
	if (route > 0)
		route_counted((size_t)route - 1, resp->status);
}

void api_handle(struct vmm *vmm, const struct api_vmm_ops *ops, const struct api_request *req,
                struct api_response *resp)
{
	struct api_action act;

	if (api_parse(req, &act, resp) == API_PARSE_EXECUTE)
		api_execute(vmm, ops, &act, resp);
}
