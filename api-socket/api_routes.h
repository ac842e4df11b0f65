/*
 * api_routes.h - the API's requests, as pure functions over a struct vmm.
 *
 * An HTTP request (method, path, body) becomes a typed action in two steps, so that each
 * half runs on the right thread and both can be unit-tested without sockets or a VM:
 *
 *   api_parse()    on the API thread: routes the path through the table in api_routes.c,
 *                  checks ids, parses the JSON body into a struct api_action. Touches no VM
 *                  state. Errors (404, 405, 400 for bad JSON) are answered right here.
 *   api_execute()  on the event-loop thread: applies the action to vmm->config or calls the
 *                  VMM through a struct api_vmm_ops, and fills the response.
 *
 * api_handle() is both in one call (tests, the fuzz target).
 *
 * Firecracker compatibility (field names, required fields and messages follow Firecracker's
 * swagger and API server; where wisp differs it is on purpose):
 *   - Status codes: 204 and no body for a successful PUT/PATCH, 200 + JSON for a GET, 400 +
 *     {"fault_message": "..."} for anything the client got wrong. Unknown paths answer 404
 *     and a known path with another method 405 (with Allow), where Firecracker answers 400;
 *     the fault_message is Firecracker's "Invalid request method and/or path: M /p.". 500
 *     only when the event loop is stopping.
 *   - Bodies: unknown fields and wrong types are refused with the field's path
 *     ("machine-config.vcpu_count: expected an integer, got a string"); optional fields may
 *     be null. Duplicate keys are refused. Firecracker's serde message text is not copied.
 *   - Ids: 1..64 of [A-Za-z0-9_-] (Firecracker: alphanumeric and '_'); the path id must equal
 *     the body id ("The id from the path does not match the id from the body!").
 *   - Pre-boot only (400 "The requested operation is not supported after starting the
 *     microVM." afterwards): PUT /boot-source, PUT/PATCH /machine-config, PUT /drives, PUT
 *     /network-interfaces, PUT /logger, PUT /metrics, InstanceStart (so a second InstanceStart
 *     gets that message). Post-boot only ("... before starting the microVM."): PATCH /drives,
 *     PATCH /network-interfaces, PATCH /vm, SendCtrlAltDel. FlushMetrics and every GET: any
 *     time.
 *   - GET /version answers {"firecracker_version": WISP_VERSION}: Firecracker's field name,
 *     which clients parse, with wisp's version. GET / has app_name "Wisp".
 *   - cpu_template and huge_pages are accepted only as "None"; CPU templates do not exist.
 *   - Files: PUT /boot-source opens kernel_image_path and initrd_path for reading, PUT
 *     /drives opens path_on_host read-only or read-write (is_read_only), as Firecracker
 *     does, and refuses the request with the field and the OS error
 *     ("boot-source.kernel_image_path: /x: No such file or directory"). InstanceStart
 *     opens them again (a file can vanish in between) and its 400 carries the loader's
 *     reason. --config-file is not checked here: its files are opened at start.
 *   - Logger (Firecracker's current schema): every field optional; level is
 *     case-insensitive (Error, Warning, Info, Debug, Trace, Off): Trace logs as Debug, Off
 *     sends wisp's messages to /dev/null (errors still reach the client in fault_message);
 *     show_level, show_log_origin and module are accepted and ignored. PUT /logger and PUT
 *     /metrics may be repeated before boot (Firecracker allows one initialization).
 *   - Snapshots (/snapshot/create, /snapshot/load): Full and Diff, the File and Uffd memory
 *     backends.
 *     /mmds, /mmds/config, /balloon, /balloon/statistics, /balloon/hinting/{start,status,
 *     stop}, /vsock, /entropy, /cpu-config, /hotplug/memory, /serial, /pmem/{id}: 400
 *     "<path> is not supported by wisp", for any method (not 404: they exist in
 *     Firecracker).
 *   - boot-source takes a wisp extension, "boot_protocol": "Auto" | "Linux" | "PVH", printed by
 *     GET /vm/config only when not Auto.
 */
#ifndef WISP_API_ROUTES_H
#define WISP_API_ROUTES_H

#include <stdbool.h>
#include <stddef.h>

#include "vmm/config.h"
#include "vmm/config_json.h"
#include "vmm/log.h"

struct vmm;

#define API_APP_NAME "Wisp"

enum api_method { API_METHOD_GET, API_METHOD_PUT, API_METHOD_PATCH, API_METHOD_OTHER };

/* One HTTP request as the connection parser hands it over (borrowed pointers). */
struct api_request {
	enum api_method method;
	const char *method_name; /* as sent ("DELETE"), for messages */
	const char *path;        /* NUL-terminated; a query string is ignored */
	const char *body;        /* body_len bytes, not NUL-terminated */
	size_t body_len;         /* 0: no body */
};

/* The answer. body is malloc'd JSON (NULL for 204); release with api_response_free(). */
struct api_response {
	int status;
	char *body;
	const char *allow; /* 405 only: the methods the path has, e.g. "GET, PUT" (static) */
};

/*
 * What api_execute() calls on the VMM. The server fills it with the real vmm_*, metrics_*
 * and log_* functions (api_vmm_ops_default); tests and the fuzz target use fakes. Each int
 * function returns 0, or a negative value with a one-line reason in err where it has one.
 */
struct api_vmm_ops {
	int (*start)(struct vmm *vmm, char *err, size_t errlen);
	int (*pause)(struct vmm *vmm, char *err, size_t errlen);
	int (*resume)(struct vmm *vmm, char *err, size_t errlen);
	int (*send_ctrl_alt_del)(struct vmm *vmm, char *err, size_t errlen);
	int (*update_drive)(struct vmm *vmm, const char *drive_id, const char *path,
	                    const struct rate_limiter_config *limiter, char *err, size_t errlen);
	int (*update_net)(struct vmm *vmm, const char *iface_id,
	                  const struct rate_limiter_config *rx,
	                  const struct rate_limiter_config *tx, char *err, size_t errlen);
	int (*snapshot_create)(struct vmm *vmm, const char *state_path, const char *mem_path,
	                       bool diff, char *err, size_t errlen);
	int (*snapshot_load)(struct vmm *vmm, const char *state_path, const char *mem_path,
	                     bool uffd, bool resume, bool track_dirty_pages, char *err,
	                     size_t errlen);
	int (*flush_metrics)(void);                /* 0 or -1 */
	int (*set_metrics_path)(const char *path); /* 0 or -errno */
	int (*set_log_path)(const char *path);     /* 0 or -errno */
	void (*set_log_level)(enum log_level level);
	/* Whether path can be opened for reading (writable: for reading and writing), as the
	 * VM will open it: 0 or -errno. The server uses api_check_file(). NULL skips the
	 * check (the fuzz target, which must not open files a fuzzer names). */
	int (*check_file)(const char *path, bool writable);
	/* For a drive with cache_type Direct: whether its file takes O_DIRECT, as the VM will
	 * open it (blk_check_drive()): 0, or -1 with the reason in err. NULL skips the check. */
	int (*check_drive)(const struct drive_config *d, char *err, size_t errlen);
};

/*
 * Opens path read-only (writable: read-write), non-blocking, and closes it: 0, or -errno
 * (-EISDIR for a directory, which open() alone lets through read-only). Event-loop thread
 * (the API thread's seccomp filter has no openat).
 */
int api_check_file(const char *path, bool writable);

enum api_action_kind {
	API_ACT_GET_INFO,
	API_ACT_GET_VM_CONFIG,
	API_ACT_GET_MACHINE,
	API_ACT_PUT_BOOT_SOURCE,
	API_ACT_PUT_MACHINE,
	API_ACT_PATCH_MACHINE,
	API_ACT_PUT_DRIVE,
	API_ACT_PATCH_DRIVE,
	API_ACT_PUT_NET,
	API_ACT_PATCH_NET,
	API_ACT_PUT_LOGGER,
	API_ACT_PUT_METRICS,
	API_ACT_INSTANCE_START,
	API_ACT_SEND_CTRL_ALT_DEL,
	API_ACT_FLUSH_METRICS,
	API_ACT_PAUSE,
	API_ACT_RESUME,
	API_ACT_SNAPSHOT_CREATE,
	API_ACT_SNAPSHOT_LOAD,
};

/* A validated request, ready for the event loop. Owns its strings. */
struct api_action {
	enum api_action_kind kind;
	int route; /* api_parse(): 1 + the route's index, for its request counters */
	union {
		struct config_boot_source boot_source;
		struct config_machine machine;
		struct drive_config drive;
		struct config_drive_update drive_update;
		struct net_config net;
		struct config_net_update net_update;
		struct config_logger logger;
		char *metrics_path;
		struct api_snapshot {
			char *snapshot_path, *mem_path;
			bool resume_vm;
			/* create: snapshot_type "Diff"; load: mem_path is a Uffd handler's socket,
			 * track_dirty_pages (or enable_diff_snapshots) */
			bool diff, uffd, track_dirty_pages;
		} snapshot;
	} u;
};

enum api_parse_result {
	API_PARSE_EXECUTE,  /* *act is ready for api_execute() */
	API_PARSE_ANSWERED, /* *resp is the answer (an error, or GET /version) */
};

/* API thread. Fills exactly one of *act and *resp, as the result says. */
enum api_parse_result api_parse(const struct api_request *req, struct api_action *act,
                                struct api_response *resp);
/* Event-loop thread: the only function here that reads or writes *vmm. Consumes *act. */
void api_execute(struct vmm *vmm, const struct api_vmm_ops *ops, struct api_action *act,
                 struct api_response *resp);
/* api_parse() then api_execute() on the calling thread. */
void api_handle(struct vmm *vmm, const struct api_vmm_ops *ops, const struct api_request *req,
                struct api_response *resp);

void api_action_free(struct api_action *act);

/* The per-route request counters (get/put/patch_api_requests) and latencies_us in the metrics
 * registry: registered while an API server runs. */
void api_routes_metrics_register(void);
void api_routes_metrics_unregister(void);
void api_response_free(struct api_response *resp);

/* Sets *resp to status with {"fault_message": message}. */
void api_response_error(struct api_response *resp, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The Firecracker state names of GET /: "Not started", "Running", "Paused". */
const char *api_state_name(int vmm_state);

#endif
