/*
 * snapshot.c - a whole VM to its state and memory files and back (snapshot.h).
 */
#include "vmm/snapshot/snapshot.h"

#include <cpuid.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmm/config.h"
#include "vmm/config_json.h"
#include "vmm/device.h"
#include "vmm/kvm.h"
#include "vmm/snapshot/dirty.h"
#include "vmm/snapshot/memfile.h"
#include "vmm/snapshot/vcpu_state.h"
#include "vmm/snapshot/vm_state.h"
#include "vmm/vcpu.h"
#include "vmm/vm.h"

#define MACHINE_SMT     0x1u
#define MACHINE_NO_ACPI 0x2u
#define MACHINE_DIRTY   0x4u /* track_dirty_pages */
#define MACHINE_DIFF    0x8u /* the memory file holds only the pages dirtied since the last */

/* The host CPU's vendor string (CPUID leaf 0: EBX, EDX, ECX), NUL-padded to 16 bytes. */
static void host_cpu_vendor(char out[16])
{
	unsigned a, b, c, d;

	memset(out, 0, 16);
	if (!__get_cpuid(0, &a, &b, &c, &d))
		return;
	memcpy(out, &b, 4);
	memcpy(out + 4, &d, 4);
	memcpy(out + 8, &c, 4);
}

int device_save_nothing(void *dev, struct snap_writer *w, char *err, size_t errlen)
{
	(void)dev, (void)w, (void)err, (void)errlen;
	return 0;
}

/* "PATH.partial": where a file is written before it is renamed to PATH. */
static char *partial_name(const char *path)
{
	size_t n = strlen(path) + sizeof(".partial");
	char *p = malloc(n);

	if (p)
		snprintf(p, n, "%s.partial", path);
	return p;
}

/* Renames "PATH.partial" to PATH (what write_file() and write_memory() left). 0, or -1 with the
 * partial file removed. */
static int commit_partial(const char *path, const char *field, char *err, size_t errlen)
{
	char *tmp = partial_name(path);
	int rc = 0;

	if (!tmp)
		return snap_fail(err, errlen, "out of memory");
	if (rename(tmp, path) < 0) {
		rc = snap_fail(err, errlen, "%s %s: %s", field, path, strerror(errno));
		unlink(tmp);
	}
	free(tmp);
	return rc;
}

static void drop_partial(const char *path)
{
	char *tmp = partial_name(path);

	if (tmp)
		unlink(tmp);
	free(tmp);
}

/* Writes buf to "PATH.partial"; commit_partial() makes it PATH. */
static int write_file(const char *path, const uint8_t *buf, size_t len, char *err, size_t errlen)
{
	char *tmp = partial_name(path);
	int fd, rc = -1;

	if (!tmp)
		return snap_fail(err, errlen, "out of memory");
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		snap_fail(err, errlen, "snapshot_path %s: %s", path, strerror(errno));
		goto out;
	}
	while (len) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			snap_fail(err, errlen, "snapshot_path %s: %s", path,
			          n < 0 ? strerror(errno) : "short write");
			close(fd);
			unlink(tmp);
			goto out;
		}
		buf += n;
		len -= (size_t)n;
	}
	if (close(fd) < 0) {
		snap_fail(err, errlen, "snapshot_path %s: %s", path, strerror(errno));
		unlink(tmp);
		goto out;
	}
	rc = 0;
out:
	free(tmp);
	return rc;
}

/* Writes the guest's memory to "PATH.partial"; commit_partial() makes it PATH. */
static int write_memory(const struct vm *vm, const char *path, bool diff, char *err, size_t errlen)
{
	struct memfile_stats st = {0};
	char *tmp = partial_name(path);
	int fd, rc;

	if (!tmp)
		return snap_fail(err, errlen, "out of memory");
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		snap_fail(err, errlen, "mem_file_path %s: %s", path, strerror(errno));
		free(tmp);
		return -1;
	}
	/* Diff: the pages marked dirty, zeros included (a merge must copy them too). Full: fresh
	 * RAM is a shared memfd whose holes are pages never touched, skipped unread. */
	if (diff)
		rc = memfile_write_pages(fd, vm->mem.base, vm->mem.size, vm->mem.dirty, &st);
	else
		rc = memfile_write_region(fd, 0, vm->mem.base, vm->mem.size,
		                          vm->mem.private_file ? -1 : vm->mem.memfd, &st);
	if (rc < 0)
		snap_fail(err, errlen, "mem_file_path %s: %s", path, strerror(-rc));
	if (close(fd) < 0 && rc == 0) {
		rc = -errno;
		snap_fail(err, errlen, "mem_file_path %s: %s", path, strerror(errno));
	}
	if (rc < 0)
		unlink(tmp);
	free(tmp);
	return rc < 0 ? -1 : 0;
}

int snapshot_create(struct vm *vm, const char *state_path, const char *mem_path, bool diff,
                    char *err, size_t errlen)
{
	const struct vm_config *cfg = vm->config;
	struct snap_writer w;
	uint8_t *file;
	char *devices;
	size_t len;
	int rc;

	/* The memory file is written from the memfd's holes and data, which hugetlbfs does not
	 * report; Firecracker restores such snapshots only through Uffd. Not in wisp yet. */
	if (cfg->huge_pages)
		return snap_fail(
		    err, errlen,
		    "snapshots of a VM with huge_pages \"2M\" are not supported by wisp");
	if (diff && !cfg->track_dirty_pages)
		return snap_fail(err, errlen,
		                 "a Diff snapshot needs dirty page tracking (machine-config "
		                 "track_dirty_pages: true)");
	for (unsigned i = 0; i < vm->ndevices; i++)
		if (!vm->devices[i].ops->save)
			return snap_fail(err, errlen, "the %s device cannot be snapshotted",
			                 vm->devices[i].ops->name);
	devices = config_json_devices_dump(cfg);
	if (!devices)
		return snap_fail(err, errlen, "the state file cannot be built (out of memory)");
	snap_writer_init(&w, WISP_VERSION);
	snap_begin(&w, SNAP_TAG_MACHINE, 0);
	snap_put_u32(&w, vm->nvcpus);
	snap_put_u64(&w, cfg->mem_size_mib);
	{
		char vendor[16];

		host_cpu_vendor(vendor);
		snap_put(&w, vendor, sizeof(vendor));
	}
	snap_put_u32(&w, (cfg->smt ? MACHINE_SMT : 0) | (cfg->no_acpi ? MACHINE_NO_ACPI : 0) |
	                     (cfg->track_dirty_pages ? MACHINE_DIRTY : 0) |
	                     (diff ? MACHINE_DIFF : 0));
	snap_end(&w);
	snap_begin(&w, SNAP_TAG_DEVICES, 0);
	snap_put(&w, devices, strlen(devices));
	snap_end(&w);
	free(devices);
	/* Devices first: settling what they had in flight may complete requests, i.e. write
	 * guest memory and raise interrupts, which the VM and vCPU state then include. */
	for (unsigned i = 0; i < vm->ndevices; i++)
		if (vm->devices[i].ops->save(vm->devices[i].dev, &w, err, errlen) < 0)
			goto fail;
	/* What the vCPUs wrote, after the devices settled (their writes are marked already). */
	if (cfg->track_dirty_pages && dirty_collect(vm, err, errlen) < 0)
		goto fail;
	if (vm_state_save(vm->vm_fd, &w, err, errlen) < 0)
		goto fail;
	for (unsigned i = 0; i < vm->nvcpus; i++)
		if (vcpu_state_save(vm->vcpus[i].fd, i, vm->host->msr_list, vm->host->xsave_size,
		                    vm->host->has_xcrs, &w, err, errlen) < 0)
			goto fail;
	if (snap_finish(&w, &file, &len) < 0)
		return snap_fail(err, errlen, "the state file cannot be built (out of memory)");
	/* Both files are written whole under their .partial names before either is renamed, so
	 * a failure to write either (a full disk, a directory that refuses files) leaves the
	 * previous pair of those names as it was. Only a crash between the two renames can pair
	 * a new memory file with an old state file. */
	rc = write_memory(vm, mem_path, diff, err, errlen);
	if (rc == 0 && (rc = write_file(state_path, file, len, err, errlen)) < 0)
		drop_partial(mem_path);
	if (rc == 0 && (rc = commit_partial(mem_path, "mem_file_path", err, errlen)) < 0)
		drop_partial(state_path);
	if (rc == 0 && (rc = commit_partial(state_path, "snapshot_path", err, errlen)) < 0)
		unlink(mem_path); /* not to be restored with an older state file */
	if (rc == 0 && cfg->track_dirty_pages)
		dirty_clear(vm); /* the next Diff holds what changes from here on */
	free(file);
	return rc;
fail:
	snap_writer_free(&w);
	return -1;
}

static int parse_machine(const struct snap_reader *r, struct snapshot_machine *m, char *err,
                         size_t errlen)
{
	struct snap_section s;
	struct snap_cursor c;
	uint32_t flags;
	char vendor[17] = {0}, here[16];

	if (!snap_find(r, SNAP_TAG_MACHINE, 0, &s))
		return snap_fail(err, errlen, "the snapshot has no machine section");
	snap_cursor_init(&c, &s);
	m->vcpu_count = snap_get_u32(&c);
	m->mem_size_mib = snap_get_u64(&c);
	snap_get(&c, vendor, 16);
	flags = snap_get_u32(&c);
	if (!snap_cursor_done(&c) ||
	    flags & ~(MACHINE_SMT | MACHINE_NO_ACPI | MACHINE_DIRTY | MACHINE_DIFF))
		return snap_fail(err, errlen, "the machine section is malformed");
	if (m->vcpu_count < 1 || m->vcpu_count > CONFIG_MAX_VCPUS)
		return snap_fail(err, errlen, "the snapshot has %u vCPUs (1 to %u possible)",
		                 m->vcpu_count, CONFIG_MAX_VCPUS);
	if (config_check_mem_size_mib((long long)m->mem_size_mib, err, errlen) < 0 ||
	    m->mem_size_mib > (1ull << 43))
		return -1;
	/* The guest was told this CPU's vendor and runs code chosen for it: another vendor's CPU
	 * would fault on it sooner or later. (Another kind of KVM, PVM against VT-x/AMD-V, shows
	 * in the vCPU state: its MSRs are refused by name.) */
	host_cpu_vendor(here);
	if (memcmp(vendor, here, 16) != 0)
		return snap_fail(
		    err, errlen,
		    "the snapshot was taken on a %.12s CPU, this host's is %.12s: restore it "
		    "on the same kind of host",
		    vendor, here);
	m->smt = flags & MACHINE_SMT;
	m->no_acpi = flags & MACHINE_NO_ACPI;
	m->track_dirty_pages = flags & MACHINE_DIRTY;
	m->diff = flags & MACHINE_DIFF;
	if (!snap_find(r, SNAP_TAG_DEVICES, 0, &s) || memchr(s.data, 0, s.len))
		return snap_fail(err, errlen, "the snapshot has no device configuration");
	m->devices_json = (const char *)s.data;
	m->devices_json_len = s.len;
	if (snap_count(r, SNAP_TAG_VCPU) != m->vcpu_count)
		return snap_fail(err, errlen, "the snapshot has %u vCPU sections for %u vCPUs",
		                 snap_count(r, SNAP_TAG_VCPU), m->vcpu_count);
	return 0;
}

int snapshot_read(const char *state_path, struct snapshot_image *img, char *err, size_t errlen)
{
	struct stat st;
	char why[200];
	int fd;

	memset(img, 0, sizeof(*img));
	fd = open(state_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return snap_fail(err, errlen, "snapshot_path %s: %s", state_path, strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > SNAP_MAX_FILE) {
		close(fd);
		return snap_fail(err, errlen,
		                 "snapshot_path %s: not a regular file of at most %u MiB",
		                 state_path, SNAP_MAX_FILE >> 20);
	}
	img->len = (size_t)st.st_size;
	img->buf = malloc(img->len ? img->len : 1);
	if (!img->buf) {
		close(fd);
		return snap_fail(err, errlen, "out of memory");
	}
	for (size_t got = 0; got < img->len;) {
		ssize_t n = read(fd, img->buf + got, img->len - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			close(fd);
			snapshot_image_free(img);
			return snap_fail(err, errlen, "snapshot_path %s: %s", state_path,
			                 n < 0 ? strerror(errno) : "file shrank while read");
		}
		got += (size_t)n;
	}
	close(fd);
	if (snap_open(&img->reader, img->buf, img->len, why, sizeof(why)) < 0 ||
	    parse_machine(&img->reader, &img->machine, why, sizeof(why)) < 0) {
		snapshot_image_free(img);
		return snap_fail(err, errlen, "snapshot_path %s: %s", state_path, why);
	}
	return 0;
}

void snapshot_image_free(struct snapshot_image *img)
{
	free(img->buf);
	memset(img, 0, sizeof(*img));
}

int snapshot_restore(struct vm *vm, const struct snapshot_image *img, char *err, size_t errlen)
{
	struct snap_section s;

	if (!snap_find(&img->reader, SNAP_TAG_VM, 0, &s))
		return snap_fail(err, errlen, "the snapshot has no VM section");
	if (vm_state_restore(vm->vm_fd, &s, err, errlen) < 0)
		return -1;
	for (unsigned i = 0; i < vm->nvcpus; i++) {
		if (!snap_find(&img->reader, SNAP_TAG_VCPU, i, &s))
			return snap_fail(err, errlen, "the snapshot has no state for vCPU %u", i);
		if (vcpu_state_restore(vm->vcpus[i].fd, &s, err, errlen) < 0)
			return -1;
	}
	for (unsigned i = 0; i < vm->ndevices; i++) {
		const struct device_ops *ops = vm->devices[i].ops;

		if (!ops->save)
			return snap_fail(err, errlen, "the %s device cannot be restored yet",
			                 ops->name);
		if (ops->restore && ops->restore(vm->devices[i].dev, &img->reader, err, errlen) < 0)
			return -1;
	}
	return 0;
}
