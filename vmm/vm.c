/*
 * vm.c - building, starting, pausing and tearing down one VM (see vm.h).
 *
 * Start-up time matters more than anything here. On PVM hosts KVM_SET_USER_MEMORY_REGION waits
 * for an SRCU grace period (6-10 ms) once an in-kernel irqchip exists, and returns in about
 * 0.1 ms before: vm_create() registers guest RAM first, then the irqchip, then the vCPUs (see
 * vm_set_memory()). Everything runs on the calling (event-loop) thread; no helper threads.
 */
#include "vmm/vm.h"
#include "vmm/boot/acpi.h"
#include "vmm/boot/cpu_boot.h"
#include "vmm/evloop.h"
#include "vmm/kvm.h"
#include "vmm/layout.h"
#include "vmm/snapshot/dirty.h"
#include "vmm/boot/loader.h"
#include "vmm/log.h"
#include "vmm/boot/mptable.h"
#include "vmm/vcpu.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

extern const struct device_type *const __start_wisp_device_types[];
extern const struct device_type *const __stop_wisp_device_types[];

int vm_add_device(struct vm *vm, const struct device_ops *ops, void *dev)
{
	if (vm->ndevices == VM_MAX_DEVICES) {
		log_error("%s: too many devices (at most %d)", ops->name, VM_MAX_DEVICES);
		return -1;
	}
	vm->devices[vm->ndevices++] = (struct vm_device){.ops = ops, .dev = dev};
	return 0;
}

int vm_cmdline_append(struct vm *vm, const char *fmt, ...)
{
	size_t used = strlen(vm->cmdline_extra);
	size_t room = sizeof(vm->cmdline_extra) - used;
	va_list ap;
	int n;

	if (room < 2)
		return -1;
	vm->cmdline_extra[used] = ' ';
	va_start(ap, fmt);
	n = vsnprintf(vm->cmdline_extra + used + 1, room - 1, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= room - 1) {
		vm->cmdline_extra[used] = '\0';
		log_error("kernel command line: no room for the devices' parameters");
		return -1;
	}
	return 0;
}

bool vm_guest_uses_acpi(const struct vm *vm)
{
	const char *args = vm->config->boot_args ? vm->config->boot_args : CONFIG_DEFAULT_BOOT_ARGS;
	const char *p = args;
	static const char off[] = "acpi=off";

	if (vm->config->no_acpi)
		return false;
	while ((p = strstr(p, off)) != NULL) {
		bool starts = p == args || p[-1] == ' ',
		     ends = p[sizeof(off) - 1] == '\0' || p[sizeof(off) - 1] == ' ';
		if (starts && ends)
			return false;
		p += sizeof(off) - 1;
	}
	return true;
}

int vm_virtio_slot(struct vm *vm, uint64_t *mmio_base, unsigned *irq)
{
	if (vm->nvirtio == LAYOUT_VIRTIO_MAX_DEVS) {
		log_error("virtio: at most %d devices", LAYOUT_VIRTIO_MAX_DEVS);
		return -1;
	}
	*mmio_base = LAYOUT_VIRTIO_MMIO_BASE + vm->nvirtio * LAYOUT_VIRTIO_MMIO_SIZE;
	*irq = LAYOUT_VIRTIO_IRQ_BASE + vm->nvirtio;
	vm->nvirtio++;
	return 0;
}

int vm_irq_line(struct vm *vm, unsigned irq, bool level)
{
	struct kvm_irq_level l = {.irq = irq, .level = level};

	return ioctl(vm->vm_fd, KVM_IRQ_LINE, &l);
}

int vm_irqfd(struct vm *vm, int fd, unsigned gsi, bool assign)
{
	struct kvm_irqfd irqfd = {
	    .fd = (uint32_t)fd, .gsi = gsi, .flags = assign ? 0 : KVM_IRQFD_FLAG_DEASSIGN};

	return ioctl(vm->vm_fd, KVM_IRQFD, &irqfd);
}

static int vm_ioeventfd_flags(struct vm *vm, int fd, uint64_t addr, unsigned len,
                              uint64_t datamatch, uint32_t flags, bool assign)
{
	struct kvm_ioeventfd io = {
	    .datamatch = datamatch,
	    .addr = addr,
	    .len = len,
	    .fd = fd,
	    .flags = flags | (assign ? 0 : KVM_IOEVENTFD_FLAG_DEASSIGN),
	};

	return ioctl(vm->vm_fd, KVM_IOEVENTFD, &io) < 0 ? -errno : 0;
}

int vm_ioeventfd(struct vm *vm, int fd, uint64_t addr, unsigned len, bool assign)
{
	return vm_ioeventfd_flags(vm, fd, addr, len, 0, 0, assign);
}

int vm_ioeventfd_datamatch(struct vm *vm, int fd, uint64_t addr, unsigned len, uint64_t datamatch,
                           bool assign)
{
	return vm_ioeventfd_flags(vm, fd, addr, len, datamatch, KVM_IOEVENTFD_FLAG_DATAMATCH,
	                          assign);
}

void vm_request_stop(struct vm *vm, int code)
{
	int expected = -1;

	if (atomic_compare_exchange_strong(&vm->exit_code, &expected, code))
		log_debug("stopping the VM, exit code %d", code);
	/* Wake parked vCPUs so they see the stop. */
	pthread_mutex_lock(&vm->pause_lock);
	pthread_cond_broadcast(&vm->pause_cond);
	pthread_mutex_unlock(&vm->pause_lock);
	for (unsigned i = 0; i < vm->nvcpus; i++)
		vcpu_kick(&vm->vcpus[i]);
	evloop_stop(vm->loop, atomic_load(&vm->exit_code));
}

void vm_pause_devices(struct vm *vm)
{
	for (unsigned i = 0; i < vm->ndevices; i++)
		if (vm->devices[i].ops->pause)
			vm->devices[i].ops->pause(vm->devices[i].dev);
}

int vm_pause(struct vm *vm)
{
	vm_pause_devices(vm);
	pthread_mutex_lock(&vm->pause_lock);
	atomic_store(&vm->paused, true);
	for (unsigned i = 0; i < vm->nvcpus; i++)
		vcpu_kick(&vm->vcpus[i]);
	for (unsigned i = 0; i < vm->nvcpus; i++)
		while (!atomic_load(&vm->vcpus[i].parked) && atomic_load(&vm->exit_code) < 0)
			pthread_cond_wait(&vm->pause_cond, &vm->pause_lock);
	pthread_mutex_unlock(&vm->pause_lock);
	return atomic_load(&vm->exit_code) < 0 ? 0 : -1;
}

int vm_resume(struct vm *vm)
{
	pthread_mutex_lock(&vm->pause_lock);
	atomic_store(&vm->paused, false);
	pthread_cond_broadcast(&vm->pause_cond);
	pthread_mutex_unlock(&vm->pause_lock);
	for (unsigned i = 0; i < vm->ndevices; i++)
		if (vm->devices[i].ops->resume)
			vm->devices[i].ops->resume(vm->devices[i].dev);
	return 0;
}

/* ---- creation ---- */

/*
 * Registers guest RAM with KVM. Called before the irqchip exists: on PVM hosts the ioctl then
 * returns in about 0.1 ms, while with an in-kernel irqchip already present it waits for an SRCU
 * grace period (6-10 ms measured). KVM allows KVM_CREATE_IRQCHIP after memory slots, only not
 * after vCPUs.
 */
static int vm_set_memory(struct vm *vm)
{
	for (unsigned i = 0; i < vm->mem.nslots; i++) {
		const struct guest_mem_slot *s = &vm->mem.slots[i];
		struct kvm_userspace_memory_region r = {
		    .slot = i,
		    .flags = vm->config->track_dirty_pages ? KVM_MEM_LOG_DIRTY_PAGES : 0,
		    .guest_phys_addr = s->gpa,
		    .memory_size = s->size,
		    .userspace_addr = (uint64_t)(uintptr_t)s->host,
		};

		if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &r) < 0) {
			log_error(
			    "KVM_SET_USER_MEMORY_REGION (slot %u, %llu MiB at 0x%llx) failed: %s",
			    i, (unsigned long long)(s->size >> 20), (unsigned long long)s->gpa,
			    strerror(errno));
			return -1;
		}
	}
	return 0;
}

static int vm_create_irqchip(struct vm *vm)
{
	struct kvm_pit_config pit = {.flags = KVM_PIT_SPEAKER_DUMMY};
	uint64_t identity = LAYOUT_KVM_IDENTITY_MAP;

	/* TSS and identity map: VMX needs them for real-mode emulation; harmless elsewhere. */
	if (ioctl(vm->vm_fd, KVM_SET_TSS_ADDR, (unsigned long)LAYOUT_KVM_TSS) < 0 ||
	    ioctl(vm->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &identity) < 0) {
		log_error("KVM: setting TSS/identity map addresses failed: %s", strerror(errno));
		return -1;
	}
	if (ioctl(vm->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0) {
		log_error("KVM_CREATE_IRQCHIP failed: %s", strerror(errno));
		return -1;
	}
	if (ioctl(vm->vm_fd, KVM_CREATE_PIT2, &pit) < 0) {
		log_error("KVM_CREATE_PIT2 failed: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* Maps a whole file read-only. *len 0 maps nothing. 0, or -1 with a message naming what. */
static int map_file(const char *what, const char *path, const uint8_t **data, size_t *len)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	*data = NULL;
	*len = 0;
	if (fd < 0) {
		log_error("%s %s: %s", what, path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		log_error("%s %s: not a regular file", what, path);
		close(fd);
		return -1;
	}
	if (st.st_size == 0) {
		log_error("%s %s: file is empty", what, path);
		close(fd);
		return -1;
	}
	*data = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
	close(fd);
	if (*data == MAP_FAILED) {
		*data = NULL;
		log_error("%s %s: mmap: %s", what, path, strerror(errno));
		return -1;
	}
	*len = (size_t)st.st_size;
	return 0;
}

static int vm_create_devices(struct vm *vm)
{
	const struct device_type *const *start = __start_wisp_device_types;
	size_t n = (size_t)(__stop_wisp_device_types - start);
	const struct device_type *order[64];

	if (n > 64)
		n = 64;
	/* Insertion sort by .order: a handful of types, known only at link time. */
	for (size_t i = 0; i < n; i++) {
		size_t j = i;

		while (j > 0 && order[j - 1]->order > start[i]->order) {
			order[j] = order[j - 1];
			j--;
		}
		order[j] = start[i];
	}
	for (size_t i = 0; i < n; i++)
		if (order[i]->create(vm) < 0)
			return -1;
	return 0;
}

static int vm_load_guest(struct vm *vm)
{
	const struct vm_config *cfg = vm->config;
	const uint8_t *kernel = NULL, *initrd = NULL;
	size_t kernel_len = 0, initrd_len = 0;
	struct kernel_info info;
	uint64_t initrd_gpa = 0;
	char err[256], *cmdline = NULL;
	const char *args = cfg->boot_args ? cfg->boot_args : CONFIG_DEFAULT_BOOT_ARGS;
	int rc = -1;

	if (map_file("kernel", cfg->kernel_image_path, &kernel, &kernel_len) < 0)
		return -1;
	if (loader_load_kernel(&vm->mem, kernel, kernel_len, cfg->boot_protocol, &info, err,
	                       sizeof(err)) < 0) {
		log_error("kernel %s: %s", cfg->kernel_image_path, err);
		goto out;
	}
	if (cfg->initrd_path) {
		if (map_file("initrd", cfg->initrd_path, &initrd, &initrd_len) < 0)
			goto out;
		if (loader_load_initrd(&vm->mem, &info, initrd, initrd_len, &initrd_gpa, err,
		                       sizeof(err)) < 0) {
			log_error("initrd %s: %s", cfg->initrd_path, err);
			goto out;
		}
	}
	cmdline = loader_cmdline_join(args, vm->cmdline_extra);
	if (!cmdline) {
		log_error("kernel command line: out of memory");
		goto out;
	}
	/* Both CPU descriptions: ACPI for kernels without MP-table support (and the RSDP address
	 * for the boot info, so written first), the MP table for kernels without ACPI. The DSDT
	 * lists the devices, so this runs after vm_create_devices(). */
	if (!vm->config->no_acpi && acpi_write_tables(&vm->mem, vm->nvcpus, vm->nvirtio,
	                                              &info.acpi_rsdp, err, sizeof(err)) < 0) {
		log_error("ACPI tables: %s", err);
		goto out;
	}
	if (loader_write_boot_info(&vm->mem, &info, cmdline, initrd_gpa, initrd_len, err,
	                           sizeof(err)) < 0) {
		log_error("kernel command line/boot info: %s", err);
		goto out;
	}
	if (mptable_write(&vm->mem, vm->nvcpus, err, sizeof(err)) < 0) {
		log_error("MP table: %s", err);
		goto out;
	}
	if (cpu_boot_write_tables(&vm->mem, info.mode) < 0) {
		log_error("boot page tables: guest RAM too small");
		goto out;
	}
	rc = vcpu_set_boot_state(&vm->vcpus[0], info.mode, info.entry);
out:
	free(cmdline);
	if (kernel)
		munmap((void *)kernel, kernel_len);
	if (initrd)
		munmap((void *)initrd, initrd_len);
	return rc;
}

/* vm_create() and the snapshot builds: fresh RAM and a kernel loaded (mem_fd < 0, !uffd),
 * RAM that is the memory file mem_fd (MAP_PRIVATE), or RAM filled by a page-fault handler
 * through userfaultfd (uffd); nothing is loaded for a snapshot. */
static struct vm *vm_build(const struct vm_config *config, const struct kvm_host *host,
                           struct evloop *loop, int mem_fd, bool uffd)
{
	bool fresh = mem_fd < 0 && !uffd;
	struct vm *vm = calloc(1, sizeof(*vm));
	int rc;

	if (!vm)
		return NULL;
	vm->config = config;
	vm->host = host;
	vm->loop = loop;
	vm->vm_fd = -1;
	vm->mem.memfd = -1;
	vm->mem.uffd = -1;
	atomic_init(&vm->exit_code, -1);
	pthread_mutex_init(&vm->pause_lock, NULL);
	pthread_cond_init(&vm->pause_cond, NULL);
	bus_init(&vm->pio, "pio");
	bus_init(&vm->mmio, "mmio");

	vm->vm_fd = ioctl(host->fd, KVM_CREATE_VM, 0);
	if (vm->vm_fd < 0) {
		log_error("KVM_CREATE_VM failed: %s", strerror(errno));
		goto fail;
	}
	if (uffd)
		rc = guest_mem_init_uffd(&vm->mem, config->mem_size_mib << 20);
	else if (mem_fd >= 0)
		rc = guest_mem_init_file(&vm->mem, mem_fd, config->mem_size_mib << 20);
	else if (config->huge_pages)
		rc = guest_mem_init_huge(&vm->mem, config->mem_size_mib << 20);
	else
		rc = guest_mem_init(&vm->mem, config->mem_size_mib << 20);
	if (rc < 0) {
		/* The RAM is a memfd, so RLIMIT_FSIZE (a jailer's fsize limit) caps it. */
		log_error("guest memory (%llu MiB): %s%s", (unsigned long long)config->mem_size_mib,
		          strerror(-rc),
		          rc == -EFBIG
		              ? " (the file size limit, RLIMIT_FSIZE, is below the guest's "
		                "memory size)"
		          : rc == -ENOMEM && config->huge_pages
		              ? " (huge_pages \"2M\": the host's pool of 2 MiB pages is too small; "
		                "see HugePages_Free in /proc/meminfo and vm.nr_hugepages)"
		              : "");
		goto fail;
	}
	/* Order matters for start-up time: memory slots first, then the irqchip (see
	 * vm_set_memory()), then vCPUs, which need the irqchip. */
	vm->memslot_ns = log_clock_ns();
	if (vm_set_memory(vm) < 0)
		goto fail;
	vm->memslot_ns = log_clock_ns() - vm->memslot_ns;
	if (vm_create_irqchip(vm) < 0)
		goto fail;
	log_debug("guest RAM mapped into the VM, irqchip created");

	vm->vcpus = calloc(config->vcpu_count, sizeof(*vm->vcpus));
	if (!vm->vcpus)
		goto fail;
	for (unsigned i = 0; i < config->vcpu_count; i++) {
		vm->nvcpus = i;
		if (vcpu_create(vm, &vm->vcpus[i], i) < 0)
			goto fail;
	}
	vm->nvcpus = config->vcpu_count;
	if (vm_create_devices(vm) < 0 || (fresh && vm_load_guest(vm) < 0))
		goto fail;
	if (config->track_dirty_pages && dirty_start(vm, fresh) < 0)
		goto fail;
	log_debug("vCPUs, devices and kernel ready");
	return vm;

fail:
	vm_destroy(vm);
	return NULL;
}

struct vm *vm_create(const struct vm_config *config, const struct kvm_host *host,
                     struct evloop *loop)
{
	return vm_build(config, host, loop, -1, false);
}

struct vm *vm_create_from_snapshot(const struct vm_config *config, const struct kvm_host *host,
                                   struct evloop *loop, int mem_fd)
{
	return vm_build(config, host, loop, mem_fd, mem_fd < 0);
}

int vm_start(struct vm *vm)
{
	for (unsigned i = 0; i < vm->nvcpus; i++) {
		if (vcpu_start(&vm->vcpus[i]) < 0) {
			vm_request_stop(vm, 1);
			return -1;
		}
	}
	return 0;
}

void vm_destroy(struct vm *vm)
{
	if (!vm)
		return;
	if (atomic_load(&vm->exit_code) < 0)
		atomic_store(&vm->exit_code, 0);
	for (unsigned i = 0; i < vm->nvcpus; i++)
		vcpu_kick(&vm->vcpus[i]);
	for (unsigned i = 0; i < vm->nvcpus; i++)
		vcpu_join(&vm->vcpus[i]);
	log_debug("vCPU threads joined");
	/* Devices go in reverse creation order, after every vCPU has stopped touching them. */
	for (unsigned i = vm->ndevices; i-- > 0;)
		if (vm->devices[i].ops->destroy)
			vm->devices[i].ops->destroy(vm->devices[i].dev);
	for (unsigned i = 0; i < vm->nvcpus; i++)
		vcpu_destroy(&vm->vcpus[i]);
	free(vm->vcpus);
	log_debug("devices and vCPUs freed");
	guest_mem_destroy(&vm->mem);
	log_debug("guest RAM unmapped");
	if (vm->vm_fd >= 0)
		close(vm->vm_fd);
	log_debug("VM closed");
	pthread_mutex_destroy(&vm->pause_lock);
	pthread_cond_destroy(&vm->pause_cond);
	free(vm);
}
