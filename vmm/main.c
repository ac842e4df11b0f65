/*
 * main.c - wisp's entry point: parse the command line, configure, serve the API, run the event
 * loop until the guest or a signal stops the VM, tear down.
 *
 * Exit codes: 0 when the guest reset, shut down or triple-faulted, or wisp was asked to stop
 * (SIGTERM/SIGINT); 1 on any error, after one message on stderr. stdout carries only the
 * guest's serial console.
 */
#include "api-socket/api.h"
#include "vmm/cli.h"
#include "vmm/config_json.h"
#include "vmm/legacy/console.h"
#include "vmm/legacy/serial.h"
#include "vmm/evloop.h"
#include "vmm/log.h"
#include "vmm/metrics.h"
#include "vmm/signals.h"
#include "vmm/vcpu.h"
#include "vmm/vm.h"
#include "vmm/vmm.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

struct signal_watch {
	int fd;
	struct vmm *vmm;
};

/* SIGTERM/SIGINT/SIGHUP: stop the VM cleanly (vCPUs kicked and joined, output flushed). */
static void on_signal(void *opaque, uint32_t events)
{
	struct signal_watch *w = opaque;
	struct signalfd_siginfo si;

	(void)events;
	if (read(w->fd, &si, sizeof(si)) != sizeof(si))
		return;
	log_info("signal %u: stopping", si.ssi_signo);
	if (si.ssi_signo == SIGHUP)
		signals_count_sighup();
	if (w->vmm->vm)
		vm_request_stop(w->vmm->vm, 0);
	else
		evloop_stop(w->vmm->loop, 0);
}

/* The signals that stop wisp: SIGTERM, SIGINT, SIGHUP. */
static void stop_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGHUP);
}

static int setup_signals(struct signal_watch *w)
{
	sigset_t set;

	/* Blocked in every thread (all threads are created after this; main() blocked them
	 * already on entry) and read through a signalfd by the event loop. */
	stop_signals(&set);
	/* A shell starts background jobs with SIGINT ignored; an ignored signal is not queued
	 * once unblocked elsewhere, so take the defaults back before blocking them. */
	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0)
		return -1;
	if (signals_install() < 0) /* SIGPIPE and the rest: counted, see signals.h */
		return -1;
	w->fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (w->fd < 0)
		return -1;
	return evloop_add(w->vmm->loop, w->fd, EPOLLIN, on_signal, w);
}

/* Logging and metrics from the command line, else from the config file's "logger" and
 * "metrics" sections (the command line wins). */
static int apply_logging(const struct cli_options *opts, const struct vm_config *cfg)
{
	const char *level = opts->level ? opts->level : cfg->log_level;
	const char *log_path = opts->log_path ? opts->log_path : cfg->log_path;
	const char *metrics_path = opts->metrics_path ? opts->metrics_path : cfg->metrics_path;
	enum log_level l;

	if (level) {
		if (log_level_from_name(level, &l) < 0) {
			log_error("--level: '%s' is not Error, Warning, Info, Debug, Trace or Off",
			          level);
			return -1;
		}
		log_set_level(l);
	}
	if (log_path && log_set_path(log_path) < 0) {
		log_error("log path %s: %s", log_path, strerror(errno));
		return -1;
	}
	if (metrics_path && metrics_set_path(metrics_path) < 0) {
		log_error("metrics path %s: %s", metrics_path, strerror(errno));
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static struct vmm vmm;
	struct cli_options opts;
	struct signal_watch sigw = {.fd = -1, .vmm = &vmm};
	const char *api_path;
	char err[512];
	sigset_t stop;
	int rc, code = 1;

	/* First of all: a SIGTERM that arrives while wisp parses its options and sets up (a
	 * scheduler giving up on a VM right after starting it) stays pending for the signalfd,
	 * and is a clean exit 0, instead of killing the process with the socket file left. */
	stop_signals(&stop);
	sigprocmask(SIG_BLOCK, &stop, NULL);
	config_init(&vmm.config);
	rc = cli_parse(argc, argv, &opts, &vmm.config);
	if (rc != 0) {
		config_free(&vmm.config);
		return rc > 0 ? 0 : 1;
	}
	snprintf(vmm.id, sizeof(vmm.id), "%s", opts.id ? opts.id : "anonymous-instance");
	vmm.seccomp = !opts.no_seccomp;
	if (opts.no_seccomp)
		log_warn("--no-seccomp: system-call filters are off; never use this in production");
	if (opts.config_file &&
	    config_json_load_file(&vmm.config, opts.config_file, err, sizeof(err)) < 0) {
		log_error("config file %s: %s", opts.config_file, err);
		goto out_config;
	}
	if (apply_logging(&opts, &vmm.config) < 0)
		goto out_config;
	vmm.loop = evloop_create();
	if (!vmm.loop || vcpu_signal_init() < 0 || setup_signals(&sigw) < 0) {
		log_error("event loop setup failed: %s", strerror(errno));
		goto out_loop;
	}
	if (metrics_attach(vmm.loop, 0) < 0) {
		log_error("metrics timer setup failed: %s", strerror(errno));
		goto out_loop;
	}
	api_path = cli_api_socket(&opts);
	if (api_path && api_server_start(&vmm, api_path, err, sizeof(err)) < 0) {
		log_error("API socket %s: %s", api_path, err);
		goto out_loop;
	}
	console_init(STDIN_FILENO, STDOUT_FILENO);
	if (opts.config_file || opts.kernel_given) {
		/* vmm_start() has logged the reason (once) on failure. */
		if (vmm_start(&vmm, err, sizeof(err)) < 0)
			goto out_api;
	} else if (opts.restore) {
		if (vmm_snapshot_load(&vmm, opts.restore, opts.restore_mem, false, true, false, err,
		                      sizeof(err)) < 0)
			goto out_api;
	}
	code = evloop_run(vmm.loop);
out_api:
	if (vmm.vm) {
		/* Makes sure every vCPU leaves KVM_RUN; joined and freed below. */
		vm_request_stop(vmm.vm, code);
		code = atomic_load(&vmm.vm->exit_code);
	}
	/* The console's last output first, so what it drops is counted in the last metrics line,
	 * written while the API server and the devices still have their counters registered and
	 * nothing counts any more. */
	if (vmm.vm)
		serial_drain_console(vmm.vm);
	metrics_detach();
	if (api_path)
		api_server_stop();
	if (vmm.vm)
		vm_destroy(vmm.vm); /* joins the vCPUs, flushes the console */
	console_restore();
	log_debug("torn down");
out_loop:
	metrics_detach(); /* a no-op when teardown above did it */
	if (sigw.fd >= 0)
		close(sigw.fd);
	evloop_destroy(vmm.loop);
out_config:
	config_free(&vmm.config);
	return code;
}
