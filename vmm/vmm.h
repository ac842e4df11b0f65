/*
 * vmm.h - the wisp process: configuration, event loop, and the VM once started.
 *
 * The API thread never calls these directly: it queues a typed request with
 * evloop_call_sync() and the request runs on the event-loop thread, which is the only thread
 * that reads or writes struct vmm after startup.
 */
#ifndef WISP_VMM_H
#define WISP_VMM_H

#include <stdbool.h>
#include <stddef.h>

#include "vmm/config.h"

struct evloop;
struct vm;

enum vmm_state { VMM_NOT_STARTED, VMM_RUNNING, VMM_PAUSED };

#define VMM_ID_MAX 64

struct vmm {
	char id[VMM_ID_MAX + 1]; /* --id, "anonymous-instance" by default (as Firecracker) */
	struct vm_config config; /* what PUT requests and --config-file filled in */
	struct evloop *loop;
	struct vm *vm; /* NULL before InstanceStart */
	enum vmm_state state;
	bool seccomp; /* install per-thread filters (default on) */
};

/* Builds and boots the VM from vmm->config; VMM_NOT_STARTED -> VMM_RUNNING. 0, or -1 with a
 * one-line reason in err that has also been logged exactly once (nothing left half-built). */
int vmm_start(struct vmm *vmm, char *err, size_t errlen);
/* VMM_RUNNING <-> VMM_PAUSED. */
int vmm_pause(struct vmm *vmm, char *err, size_t errlen);
int vmm_resume(struct vmm *vmm, char *err, size_t errlen);
/* Presses Ctrl+Alt+Del on the i8042 keyboard (the guest decides what to do). */
int vmm_send_ctrl_alt_del(struct vmm *vmm, char *err, size_t errlen);
/* After boot: swap a drive's backing file (path may be NULL) and/or its rate limiter (NULL
 * keeps it). */
int vmm_update_drive(struct vmm *vmm, const char *drive_id, const char *path,
                     const struct rate_limiter_config *limiter, char *err, size_t errlen);
/* After boot: replace a NIC's rate limiters (NULL keeps one). */
int vmm_update_net(struct vmm *vmm, const char *iface_id, const struct rate_limiter_config *rx,
                   const struct rate_limiter_config *tx, char *err, size_t errlen);

/* PUT /snapshot/create: the paused VM to state_path and mem_path (written completely or not at
 * all). 0, or -1 with one sentence in err. */
int vmm_snapshot_create(struct vmm *vmm, const char *state_path, const char *mem_path, bool diff,
                        char *err, size_t errlen);
/* PUT /snapshot/load, --restore: an unconfigured, unstarted vmm becomes the snapshot's VM,
 * running when resume, else paused. Its RAM is the memory file mem_path (mapped MAP_PRIVATE)
 * or, with uffd, filled by the page-fault handler listening at mem_path (uffd.h). It tracks dirty
 * pages when the snapshot's VM did or track_dirty_pages asks (so that Diff snapshots can follow).
 * 0, or -1 with one sentence in err, logged once, and nothing built. */
int vmm_snapshot_load(struct vmm *vmm, const char *state_path, const char *mem_path, bool uffd,
                      bool resume, bool track_dirty_pages, char *err, size_t errlen);

#endif
