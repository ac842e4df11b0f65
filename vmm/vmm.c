/*
 * vmm.c - the process-level lifecycle (see vmm.h): start, pause/resume, Ctrl+Alt+Del and the
 * post-boot updates the API offers. Everything here runs on the event-loop thread.
 */
#include "vmm/vmm.h"
#include "vmm/evloop.h"
#include "vmm/legacy/i8042.h"
#include "vmm/config_json.h"
#include "vmm/kvm.h"
#include "vmm/log.h"
#include "vmm/seccomp.h"
#include "vmm/snapshot/memfile.h"
#include "vmm/snapshot/snapshot.h"
#include "vmm/snapshot/uffd.h"
#include "vmm/vm.h"
#include "virtio/blk.h"
#include "virtio/net.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct kvm_host kvm_host = {.fd = -1};

/* Runs first on each vCPU thread: its seccomp filter, before the first KVM_RUN. */
static void vmm_vcpu_thread_init(struct vm *vm, enum vm_thread_role role)
{
	int rc;

	(void)vm;
	(void)role;
	rc = seccomp_install(SECCOMP_ROLE_VCPU);
	if (rc < 0) {
		/* A vCPU never runs unfiltered by accident. */
		log_error("seccomp: installing the vcpu filter failed: %s", strerror(-rc));
		_exit(1);
	}
}

/* Host facts a config must respect, checked before any KVM object exists. */
static int vmm_check_host(const struct vm_config *cfg, char *err, size_t errlen)
{
	long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
	uint64_t host_mib = pages > 0 && page > 0 ? (uint64_t)pages * (uint64_t)page >> 20 : 0;

	if (host_mib && cfg->mem_size_mib > host_mib)
		return error_set(
		    err, errlen,
		    "machine-config.mem_size_mib: %llu MiB is more than the host's %llu MiB",
		    (unsigned long long)cfg->mem_size_mib, (unsigned long long)host_mib);
	if (kvm_host.max_vcpus > 0 && cfg->vcpu_count > (unsigned)kvm_host.max_vcpus)
		return error_set(err, errlen,
		                 "machine-config.vcpu_count: %u is more than KVM allows (%d)",
		                 cfg->vcpu_count, kvm_host.max_vcpus);
	if (!cfg->kernel_image_path)
		return error_set(err, errlen, "boot-source: no kernel_image_path configured");
	return 0;
}

/* The failure path of vmm_start(): the reason was already logged by whoever found it; hand the
 * same text to the caller (an API client's fault_message). */
static int start_failed_logged(char *err, size_t errlen)
{
	return error_set(err, errlen, "%s", log_last_error());
}

/* The failure path for reasons found here: log once, hand the text to the caller. */
static int start_failed(const char *err)
{
	log_error("%s", err);
	return -1;
}

/*
 * Contract: on failure the one-line reason is logged exactly once and copied into err, so the
 * command line shows one "error:" line and an API client gets the same text; nothing is left
 * half-built.
 */
int vmm_start(struct vmm *vmm, char *err, size_t errlen)
{
	static bool pvm_warned;

	long long requested_ns = log_clock_ns();

	if (vmm->state != VMM_NOT_STARTED) {
		error_set(err, errlen, "the microVM is already running");
		return start_failed(err);
	}
	if (config_validate(&vmm->config, err, errlen) < 0)
		return start_failed(err);
	if (kvm_host.fd < 0 && kvm_host_open(&kvm_host) < 0)
		return start_failed_logged(err, errlen);
	if (vmm_check_host(&vmm->config, err, errlen) < 0)
		return start_failed(err);
	if (kvm_host.pvm && !pvm_warned) {
		pvm_warned = true;
		log_warn(
		    "/dev/kvm is PVM (kvm_pvm): guest kernel code of a non-PVM kernel is "
		    "emulated and runs about 1000x slower; PVM-enabled guests run at full speed");
	}
	log_debug("building the microVM");
	vmm->vm = vm_create(&vmm->config, &kvm_host, vmm->loop);
	if (!vmm->vm)
		return start_failed_logged(err, errlen);
	vmm->vm->start_requested_ns = requested_ns;
	if (vmm->seccomp)
		vmm->vm->thread_init = vmm_vcpu_thread_init;
	if (vm_start(vmm->vm) < 0)
		return start_failed_logged(err, errlen);
	vmm->state = VMM_RUNNING;
	log_debug("vCPUs started");
	if (vmm->seccomp) {
		int rc = seccomp_install(SECCOMP_ROLE_VMM);

		if (rc < 0) {
			log_error("seccomp: installing the vmm filter failed: %s", strerror(-rc));
			vm_request_stop(vmm->vm, 1);
			return start_failed_logged(err, errlen);
		}
	}
	return 0;
}

/* Opens the memory file of a snapshot and checks it can back size bytes of RAM. */
static int vmm_check_memory_file(const char *path, int *fd, uint64_t size, char *err, size_t errlen)
{
	char why[200];

	*fd = open(path, O_RDONLY | O_CLOEXEC);
	if (*fd < 0)
		return error_set(err, errlen, "mem_file_path %s: %s", path, strerror(errno));
	if (memfile_check(*fd, size, why, sizeof(why)) < 0) {
		close(*fd);
		*fd = -1;
		return error_set(err, errlen, "mem_file_path %s: %s", path, why);
	}
	return 0;
}

int vmm_pause(struct vmm *vmm, char *err, size_t errlen)
{
	if (vmm->state == VMM_NOT_STARTED)
		return error_set(err, errlen, "the microVM is not running");
	if (vmm->state == VMM_PAUSED)
		return 0;
	if (vm_pause(vmm->vm) < 0)
		return error_set(err, errlen, "the microVM stopped while pausing");
	vmm->state = VMM_PAUSED;
	return 0;
}

int vmm_resume(struct vmm *vmm, char *err, size_t errlen)
{
	if (vmm->state == VMM_NOT_STARTED)
		return error_set(err, errlen, "the microVM is not running");
	if (vmm->state == VMM_RUNNING)
		return 0;
	vm_resume(vmm->vm);
	vmm->state = VMM_RUNNING;
	return 0;
}

int vmm_send_ctrl_alt_del(struct vmm *vmm, char *err, size_t errlen)
{
	if (vmm->state == VMM_NOT_STARTED)
		return error_set(err, errlen, "the microVM is not running");
	if (i8042_send_ctrl_alt_del(vmm->vm) < 0)
		return error_set(err, errlen, "the microVM has no i8042 keyboard controller");
	return 0;
}

/* A PATCH replaces only the buckets it names (as the devices' ratelimit_update() does); the
 * configuration records the same, so GET /vm/config shows what the device now enforces. */
static void merge_limiter(struct rate_limiter_config *dst, const struct rate_limiter_config *src)
{
	if (!src)
		return;
	if (src->bandwidth.set)
		dst->bandwidth = src->bandwidth;
	if (src->ops.set)
		dst->ops = src->ops;
}

int vmm_update_drive(struct vmm *vmm, const char *drive_id, const char *path,
                     const struct rate_limiter_config *limiter, char *err, size_t errlen)
{
	if (vmm->state == VMM_NOT_STARTED)
		return error_set(err, errlen, "the microVM is not running");
	if (blk_update(vmm->vm, drive_id, path, limiter, err, errlen) < 0)
		return -1;
	for (unsigned i = 0; i < vmm->config.ndrives; i++) {
		struct drive_config *d = &vmm->config.drives[i];

		if (strcmp(d->id, drive_id) != 0)
			continue;
		/* The device already uses the new file; an allocation failure here only leaves
		 * GET /vm/config showing the old path. */
		if (path && config_set_string(&d->path_on_host, path) < 0)
			log_warn("drive %s: configuration not updated (out of memory)", drive_id);
		merge_limiter(&d->rate_limiter, limiter);
	}
	return 0;
}

int vmm_update_net(struct vmm *vmm, const char *iface_id, const struct rate_limiter_config *rx,
                   const struct rate_limiter_config *tx, char *err, size_t errlen)
{
	if (vmm->state == VMM_NOT_STARTED)
		return error_set(err, errlen, "the microVM is not running");
	if (net_update(vmm->vm, iface_id, rx, tx, err, errlen) < 0)
		return -1;
	for (unsigned i = 0; i < vmm->config.nnets; i++) {
		struct net_config *n = &vmm->config.nets[i];

		if (strcmp(n->id, iface_id) == 0) {
			merge_limiter(&n->rx_rate_limiter, rx);
			merge_limiter(&n->tx_rate_limiter, tx);
		}
	}
	return 0;
}

int vmm_snapshot_create(struct vmm *vmm, const char *state_path, const char *mem_path, bool diff,
                        char *err, size_t errlen)
{
	if (vmm->state == VMM_NOT_STARTED)
		return error_set(err, errlen, "the microVM was never started: nothing to snapshot");
	if (vmm->state != VMM_PAUSED)
		return error_set(err, errlen, "the microVM must be paused (PATCH /vm) first");
	if (snapshot_create(vmm->vm, state_path, mem_path, diff, err, errlen) < 0) {
		log_error("snapshot: %s", err);
		return -1;
	}
	log_info("snapshot: %s and %s written (%s)", state_path, mem_path, diff ? "Diff" : "Full");
	return 0;
}

/* The configuration a snapshot was taken with, for GET /vm/config and the VM's build: the
 * machine, and the drives and interfaces (their files and taps must be where they were). */
static int restore_config(struct vmm *vmm, const struct snapshot_machine *m, char *err,
                          size_t errlen)
{
	char why[256];

	if (vmm->config.kernel_image_path || vmm->config.ndrives || vmm->config.nnets)
		return error_set(err, errlen,
		                 "a snapshot loads only into an unconfigured microVM (no boot "
		                 "source, drives or network interfaces)");
	if (config_json_devices_parse(&vmm->config, m->devices_json, m->devices_json_len, why,
	                              sizeof(why)) < 0)
		return error_set(err, errlen, "the snapshot's devices: %s", why);
	vmm->config.vcpu_count = m->vcpu_count;
	vmm->config.mem_size_mib = m->mem_size_mib;
	vmm->config.smt = m->smt;
	vmm->config.no_acpi = m->no_acpi;
	return 0;
}

/* Undoes restore_config() after a failed load: the machine fields as before, no devices. */
static void unrestore_config(struct vmm *vmm, const struct vm_config *before)
{
	struct vm_config devices;

	config_init(&devices);
	devices.ndrives = vmm->config.ndrives;
	devices.nnets = vmm->config.nnets;
	memcpy(devices.drives, vmm->config.drives, sizeof(devices.drives));
	config_free(&devices);
	vmm->config.ndrives = vmm->config.nnets = 0;
	vmm->config.vcpu_count = before->vcpu_count;
	vmm->config.mem_size_mib = before->mem_size_mib;
	vmm->config.smt = before->smt;
	vmm->config.no_acpi = before->no_acpi;
	vmm->config.track_dirty_pages = before->track_dirty_pages;
}

int vmm_snapshot_load(struct vmm *vmm, const char *state_path, const char *mem_path, bool uffd,
                      bool resume, bool track_dirty_pages, char *err, size_t errlen)
{
	struct snapshot_image img;
	int mem_fd = -1, rc = -1;
	bool configured = false;
	long long requested_ns = log_clock_ns(), built_ns;
	const struct vm_config before = vmm->config; /* the machine fields, put back on failure */

	if (vmm->state != VMM_NOT_STARTED)
		return error_set(err, errlen, "a snapshot loads only before the microVM starts");
	if (kvm_host.fd < 0 && kvm_host_open(&kvm_host) < 0)
		return start_failed_logged(err, errlen);
	if (snapshot_read(state_path, &img, err, errlen) < 0)
		return start_failed(err);
	if (restore_config(vmm, &img.machine, err, errlen) < 0) {
		start_failed(err);
		goto out;
	}
	configured = true;
	vmm->config.track_dirty_pages = img.machine.track_dirty_pages || track_dirty_pages;
	if (!uffd && vmm_check_memory_file(mem_path, &mem_fd, img.machine.mem_size_mib << 20, err,
	                                   errlen) < 0) {
		start_failed(err);
		goto out;
	}
	built_ns = log_clock_ns();
	vmm->vm = vm_create_from_snapshot(&vmm->config, &kvm_host, vmm->loop, mem_fd);
	if (!vmm->vm) {
		start_failed_logged(err, errlen);
		goto out;
	}
	vmm->vm->start_requested_ns = requested_ns;
	built_ns = log_clock_ns() - built_ns;
	/* The handler gets the descriptor before anything touches RAM (the restore reads rings). */
	if ((uffd && uffd_send_to_handler(&vmm->vm->mem, mem_path, err, errlen) < 0) ||
	    snapshot_restore(vmm->vm, &img, err, errlen) < 0) {
		start_failed(err);
		vm_destroy(vmm->vm);
		vmm->vm = NULL;
		goto out;
	}
	if (vmm->seccomp)
		vmm->vm->thread_init = vmm_vcpu_thread_init;
	/* Not resumed: the devices stop their work and the vCPU threads start parked
	 * (vcpu_thread checks before KVM_RUN), as after PATCH /vm Paused. */
	if (!resume)
		vm_pause_devices(vmm->vm);
	atomic_store(&vmm->vm->paused, !resume);
	if (vm_start(vmm->vm) < 0) {
		start_failed_logged(err, errlen);
		goto out;
	}
	vmm->state = resume ? VMM_RUNNING : VMM_PAUSED;
	/* From the request to vCPU threads running: what make bench reports, with the host's
	 * memory-slot cost apart (it is the floor no restore can go below). */
	log_info("snapshot: restored from %s and %s (%s) in %lld us: VM built in %lld us "
	         "(memory slots %lld us)",
	         state_path, mem_path, resume ? "running" : "paused",
	         (log_clock_ns() - requested_ns) / 1000, built_ns / 1000,
	         vmm->vm->memslot_ns / 1000);
	if (vmm->seccomp) {
		int src = seccomp_install(SECCOMP_ROLE_VMM);

		if (src < 0) {
			log_error("seccomp: installing the vmm filter failed: %s", strerror(-src));
			vm_request_stop(vmm->vm, 1);
			start_failed_logged(err, errlen);
			goto out;
		}
	}
	rc = 0;
out:
	if (rc < 0 && vmm->state == VMM_NOT_STARTED && configured)
		unrestore_config(vmm, &before);
	if (mem_fd >= 0)
		close(mem_fd);
	snapshot_image_free(&img);
	return rc;
}
