/*
 * fuzz_api.c - bytes of one client connection -> HTTP parser -> router -> fake VMM.
 *
 * The input is what a client sends on the API socket. It is fed to one struct api_conn in
 * pieces whose size comes from the first byte (so split reads are explored too), and every
 * request it yields goes through api_handle() against a struct vmm with fake ops, exactly as
 * the server does minus the event-loop hop. Beyond "no crash, no out-of-bounds access, no
 * leak", the target traps when a contract breaks: every answer is a known status, every
 * error carries a JSON fault_message, and the configuration still validates afterwards.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api-socket/api_http.h"
#include "api-socket/api_routes.h"
#include "vmm/vmm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int fake_vm_op(struct vmm *vmm, char *err, size_t errlen)
{
	(void)err, (void)errlen;
	if (vmm->state == VMM_NOT_STARTED)
		vmm->state = VMM_RUNNING;
	return 0;
}

static int fake_pause(struct vmm *vmm, char *err, size_t errlen)
{
	(void)err, (void)errlen;
	vmm->state = VMM_PAUSED;
	return 0;
}

static int fake_update_drive(struct vmm *vmm, const char *id, const char *path,
                             const struct rate_limiter_config *l, char *err, size_t errlen)
{
	(void)vmm, (void)id, (void)path, (void)l;
	snprintf(err, errlen, "no such drive");
	return -1;
}

static int fake_update_net(struct vmm *vmm, const char *id, const struct rate_limiter_config *rx,
                           const struct rate_limiter_config *tx, char *err, size_t errlen)
{
	(void)vmm, (void)id, (void)rx, (void)tx, (void)err, (void)errlen;
	return 0;
}

static int fake_flush(void)
{
	return 0;
}

static int fake_path(const char *path)
{
	return path[0] == '/' ? 0 : -2; /* -ENOENT for relative paths */
}

static void fake_level(enum log_level level)
{
	(void)level;
}

static const struct api_vmm_ops fuzz_ops = {
    .start = fake_vm_op,
    .pause = fake_pause,
    .resume = fake_vm_op,
    .send_ctrl_alt_del = fake_vm_op,
    .update_drive = fake_update_drive,
    .update_net = fake_update_net,
    .flush_metrics = fake_flush,
    .set_metrics_path = fake_path,
    .set_log_path = fake_path,
    .set_log_level = fake_level,
};

static void check_response(const struct api_response *resp)
{
	json_t *j;

	switch (resp->status) {
	case 200:
	case 204:
		if ((resp->status == 204) != (resp->body == NULL))
			abort();
		return;
	case 400:
	case 404:
	case 405:
		j = resp->body ? json_loads(resp->body, 0, NULL) : NULL;
		if (!json_is_string(json_object_get(j, "fault_message")))
			abort();
		json_decref(j);
		return;
	default:
		abort();
	}
}

static void serve(struct vmm *vmm, struct api_conn *c)
{
	struct api_request req;
	struct api_response resp;

	api_conn_request(c, &req);
	api_handle(vmm, &fuzz_ops, &req, &resp);
	check_response(&resp);
	api_conn_respond(c, &resp);
	api_response_free(&resp);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct vmm vmm;
	struct api_conn c;
	size_t step, off = 1, used, pending;
	char err[256];

	if (size < 1)
		return 0;
	step = data[0] ? data[0] : size;
	memset(&vmm, 0, sizeof(vmm));
	strcpy(vmm.id, "fuzz");
	config_init(&vmm.config);
	api_conn_init(&c);
	while (off < size) {
		size_t n = size - off < step ? size - off : step;
		enum api_conn_event ev = API_CONN_MORE;

		while (n) {
			ev = api_conn_feed(&c, (const char *)data + off, n, &used);
			off += used;
			n -= used;
			if (ev == API_CONN_REQUEST)
				serve(&vmm, &c);
			else if (ev == API_CONN_CLOSE)
				break;
		}
		api_conn_output(&c, &pending);
		api_conn_consume_output(&c, pending);
		if (ev == API_CONN_CLOSE || api_conn_should_close(&c))
			break;
	}
	if (config_validate(&vmm.config, err, sizeof(err)) < 0)
		abort();
	api_conn_free(&c);
	config_free(&vmm.config);
	return 0;
}
