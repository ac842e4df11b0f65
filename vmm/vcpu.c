/*
 * vcpu.c - vCPU setup and the run loop.
 *
 * The loop is deliberately small: KVM_RUN, dispatch the exit through the buses, repeat. Any
 * exit it does not understand stops the VM with exit code 1 and a message naming the exit
 * reason and RIP: fail closed, never guess.
 */
#include "vmm/vcpu.h"
#include "vmm/boot/cpu_boot.h"
#include "vmm/cpuid.h"
#include "vmm/kvm.h"
#include "vmm/log.h"
#include "vmm/metrics.h"
#include "vmm/vm.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

/* The signal that kicks a vCPU out of KVM_RUN; its handler does nothing, the EINTR is the
 * point. */
#define VCPU_KICK_SIGNAL (SIGRTMIN + 1)

/* LAPIC register offsets and LVT delivery modes (Intel SDM vol. 3A, 10.5.1). */
#define APIC_LVT_LINT0   0x350
#define APIC_LVT_LINT1   0x360
#define APIC_MODE_MASK   0x700
#define APIC_MODE_NMI    0x400
#define APIC_MODE_EXTINT 0x700

static void vcpu_kick_handler(int sig)
{
	(void)sig;
}

/* Firecracker's "vcpu" group: exits to user space by kind, and vCPUs that stopped on an error.
 * Process-wide (one VM a process), relaxed increments from every vCPU thread. */
static struct {
	atomic_ulong exit_io_in, exit_io_out, exit_mmio_read, exit_mmio_write, failures;
} vcpu_counters;

static void vcpu_count(atomic_ulong *c)
{
	atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}

int vcpu_signal_init(void)
{
	struct sigaction sa = {.sa_handler = vcpu_kick_handler};

	metrics_register("vcpu", "exit_io_in", &vcpu_counters.exit_io_in);
	metrics_register("vcpu", "exit_io_out", &vcpu_counters.exit_io_out);
	metrics_register("vcpu", "exit_mmio_read", &vcpu_counters.exit_mmio_read);
	metrics_register("vcpu", "exit_mmio_write", &vcpu_counters.exit_mmio_write);
	metrics_register("vcpu", "failures", &vcpu_counters.failures);
	sigemptyset(&sa.sa_mask);
	return sigaction(VCPU_KICK_SIGNAL, &sa, NULL);
}

static int vcpu_set_cpuid(struct vcpu *vcpu, uint64_t *xcr0)
{
	const struct kvm_cpuid2 *host = vcpu->vm->host->supported_cpuid;
	size_t size = sizeof(*host) + host->nent * sizeof(host->entries[0]);
	struct kvm_cpuid2 *cpuid = malloc(size);
	int rc;

	if (!cpuid)
		return -1;
	memcpy(cpuid, host, size);
	cpuid_normalise(cpuid, vcpu->index, vcpu->vm->nvcpus, vcpu->vm->config->smt);
	*xcr0 = cpuid_xcr0_offered(cpuid);
	rc = ioctl(vcpu->fd, KVM_SET_CPUID2, cpuid);
	free(cpuid);
	return rc;
}

static int vcpu_set_msrs(struct vcpu *vcpu)
{
	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry entries[16];
	} msrs = {0};

	msrs.hdr.nmsrs = cpu_boot_msrs(msrs.entries, 16);
	/* KVM_SET_MSRS returns how many it set; fewer means one was refused. */
	return ioctl(vcpu->fd, KVM_SET_MSRS, &msrs) == (int)msrs.hdr.nmsrs ? 0 : -1;
}

static int vcpu_set_fpu(struct vcpu *vcpu)
{
	struct kvm_fpu fpu = {
	    .fcw = 0x37f,    /* x87 default control word: all exceptions masked */
	    .mxcsr = 0x1f80, /* SSE default: all exceptions masked, round to nearest */
	};

	return ioctl(vcpu->fd, KVM_SET_FPU, &fpu);
}

/* XCR0 = every component the CPUID offers (cpuid_xcr0_offered() says why: leaf 0xD's EBX must
 * already match what the guest will enable). The guest still sets XCR0 itself with XSETBV
 * once it has set CR4.OSXSAVE; until then XCR0 is not used. Set explicitly so a vCPU's boot
 * state never depends on what KVM happened to initialise. Skipped where KVM has no XCR
 * support. */
static int vcpu_set_xcrs(struct vcpu *vcpu, uint64_t xcr0)
{
	struct kvm_xcrs xcrs = {.nr_xcrs = 1, .xcrs[0] = {.xcr = 0, .value = xcr0}};

	if (!vcpu->vm->host->has_xcrs)
		return 0;
	return ioctl(vcpu->fd, KVM_SET_XCRS, &xcrs);
}

static void lapic_set_mode(struct kvm_lapic_state *lapic, unsigned reg, uint32_t mode)
{
	uint32_t v;

	memcpy(&v, lapic->regs + reg, 4);
	v = (v & ~APIC_MODE_MASK) | mode;
	memcpy(lapic->regs + reg, &v, 4);
}

/* LINT0 as ExtINT (the PIC's output) and LINT1 as NMI, as on a PC: Linux expects this virtual
 * wire setup on the BSP when it boots from an MP table. */
static int vcpu_set_lapic(struct vcpu *vcpu)
{
	struct kvm_lapic_state lapic;

	if (ioctl(vcpu->fd, KVM_GET_LAPIC, &lapic) < 0)
		return -1;
	lapic_set_mode(&lapic, APIC_LVT_LINT0, APIC_MODE_EXTINT);
	lapic_set_mode(&lapic, APIC_LVT_LINT1, APIC_MODE_NMI);
	return ioctl(vcpu->fd, KVM_SET_LAPIC, &lapic);
}

int vcpu_create(struct vm *vm, struct vcpu *vcpu, unsigned index)
{
	const char *step;
	uint64_t xcr0 = 1;

	memset(vcpu, 0, sizeof(*vcpu));
	vcpu->vm = vm;
	vcpu->index = index;
	vcpu->fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, index);
	if (vcpu->fd < 0) {
		step = "KVM_CREATE_VCPU";
		goto fail;
	}
	vcpu->run = mmap(NULL, (size_t)vm->host->vcpu_mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED,
	                 vcpu->fd, 0);
	if (vcpu->run == MAP_FAILED) {
		vcpu->run = NULL;
		step = "mmap of kvm_run";
		goto fail;
	}
	step = "KVM_SET_CPUID2";
	if (vcpu_set_cpuid(vcpu, &xcr0) < 0)
		goto fail;
	step = "KVM_SET_MSRS";
	if (vcpu_set_msrs(vcpu) < 0)
		goto fail;
	step = "KVM_SET_FPU";
	if (vcpu_set_fpu(vcpu) < 0)
		goto fail;
	step = "KVM_SET_XCRS";
	if (vcpu_set_xcrs(vcpu, xcr0) < 0)
		goto fail;
	step = "KVM_SET_LAPIC";
	if (vcpu_set_lapic(vcpu) < 0)
		goto fail;
	return 0;
fail:
	log_error("vcpu %u: %s failed: %s", index, step, strerror(errno));
	vcpu_destroy(vcpu);
	return -1;
}

int vcpu_set_boot_state(struct vcpu *vcpu, enum boot_entry_mode mode, uint64_t entry)
{
	struct kvm_sregs sregs;
	struct kvm_regs regs;

	if (ioctl(vcpu->fd, KVM_GET_SREGS, &sregs) < 0)
		goto fail;
	cpu_boot_sregs(&sregs, mode);
	if (ioctl(vcpu->fd, KVM_SET_SREGS, &sregs) < 0)
		goto fail;
	cpu_boot_regs(&regs, mode, entry);
	if (ioctl(vcpu->fd, KVM_SET_REGS, &regs) < 0)
		goto fail;
	return 0;
fail:
	log_error("vcpu %u: setting boot registers failed: %s", vcpu->index, strerror(errno));
	return -1;
}

static uint64_t vcpu_rip(struct vcpu *vcpu)
{
	struct kvm_regs regs;

	return ioctl(vcpu->fd, KVM_GET_REGS, &regs) == 0 ? regs.rip : ~0ULL;
}

static void vcpu_handle_io(struct vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;
	uint8_t *data = (uint8_t *)run + run->io.data_offset;
	struct bus *pio = &vcpu->vm->pio;

	vcpu_count(run->io.direction == KVM_EXIT_IO_OUT ? &vcpu_counters.exit_io_out
	                                                : &vcpu_counters.exit_io_in);
	/* String I/O (rep outsb) arrives as count accesses of size bytes. */
	for (uint32_t i = 0; i < run->io.count; i++, data += run->io.size) {
		if (run->io.direction == KVM_EXIT_IO_OUT)
			bus_write(pio, run->io.port, data, run->io.size);
		else
			bus_read(pio, run->io.port, data, run->io.size);
	}
}

static void vcpu_handle_mmio(struct vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;
	uint32_t len = run->mmio.len <= 8 ? run->mmio.len : 8;

	vcpu_count(run->mmio.is_write ? &vcpu_counters.exit_mmio_write
	                              : &vcpu_counters.exit_mmio_read);
	if (run->mmio.is_write)
		bus_write(&vcpu->vm->mmio, run->mmio.phys_addr, run->mmio.data, len);
	else
		bus_read(&vcpu->vm->mmio, run->mmio.phys_addr, run->mmio.data, len);
}

/* Waits while the VM is paused. Returns when resumed or stopping. */
static void vcpu_park(struct vcpu *vcpu)
{
	struct vm *vm = vcpu->vm;

	pthread_mutex_lock(&vm->pause_lock);
	atomic_store(&vcpu->parked, true);
	pthread_cond_broadcast(&vm->pause_cond);
	while (atomic_load(&vm->paused) && atomic_load(&vm->exit_code) < 0)
		pthread_cond_wait(&vm->pause_cond, &vm->pause_lock);
	atomic_store(&vcpu->parked, false);
	pthread_mutex_unlock(&vm->pause_lock);
}

/* Handles one KVM_RUN exit. Returns false when the loop must end. */
static bool vcpu_handle_exit(struct vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;

	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		vcpu_handle_io(vcpu);
		return true;
	case KVM_EXIT_MMIO:
		vcpu_handle_mmio(vcpu);
		return true;
	case KVM_EXIT_HLT:
		/* Only without an in-kernel LAPIC; treat as a spurious exit. */
		return true;
	case KVM_EXIT_SHUTDOWN:
		/* Triple fault or shutdown: a guest's way to stop, exit code 0 (as Firecracker). A
		 * warning, not info: a kernel that triple-faults has usually crashed, and whoever
		 * reads the log should see why the VM ended. */
		log_warn("vcpu %u: guest shutdown (triple fault) at rip 0x%llx", vcpu->index,
		         (unsigned long long)vcpu_rip(vcpu));
		vm_request_stop(vcpu->vm, 0);
		return false;
	case KVM_EXIT_SYSTEM_EVENT:
		/* Shutdown and reset are the guest's way to stop (exit 0); a crash report is a
		 * failure (exit 1), as a supervisor should see it. */
		if (run->system_event.type == KVM_SYSTEM_EVENT_CRASH) {
			log_error("vcpu %u: guest reported a crash (system event)", vcpu->index);
			vm_request_stop(vcpu->vm, 1);
			return false;
		}
		log_info("vcpu %u: guest system event %u", vcpu->index, run->system_event.type);
		vm_request_stop(vcpu->vm, 0);
		return false;
	case KVM_EXIT_INTERNAL_ERROR:
		log_error("vcpu %u: KVM internal error (suberror %u) at rip 0x%llx%s", vcpu->index,
		          run->internal.suberror, (unsigned long long)vcpu_rip(vcpu),
		          vcpu->vm->host->pvm ? " (PVM emulates guest kernel code; an instruction "
		                                "it lacks stops here)"
		                              : "");
		break;
	case KVM_EXIT_FAIL_ENTRY:
		log_error("vcpu %u: VM entry failed, hardware reason 0x%llx", vcpu->index,
		          (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
		break;
	default:
		log_error("vcpu %u: unexpected exit reason %u at rip 0x%llx", vcpu->index,
		          run->exit_reason, (unsigned long long)vcpu_rip(vcpu));
		break;
	}
	vcpu_count(&vcpu_counters.failures);
	vm_request_stop(vcpu->vm, 1);
	return false;
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *vcpu = arg;
	struct vm *vm = vcpu->vm;

	if (vm->thread_init)
		vm->thread_init(vm, VM_THREAD_VCPU);
	while (atomic_load(&vm->exit_code) < 0) {
		/* A VM restored without resume_vm starts paused: no guest instruction runs. */
		if (atomic_load(&vm->paused)) {
			vcpu_park(vcpu);
			continue;
		}
		if (ioctl(vcpu->fd, KVM_RUN, 0) < 0) {
			if (errno != EINTR && errno != EAGAIN) {
				log_error("vcpu %u: KVM_RUN: %s", vcpu->index, strerror(errno));
				vcpu_count(&vcpu_counters.failures);
				vm_request_stop(vm, 1);
				break;
			}
			/* A kick: stop, pause, or a spurious signal. */
			vcpu->run->immediate_exit = 0;
			if (atomic_load(&vm->paused))
				vcpu_park(vcpu);
			continue;
		}
		vcpu->exits++;
		if (!vcpu_handle_exit(vcpu))
			break;
	}
	return NULL;
}

int vcpu_start(struct vcpu *vcpu)
{
	sigset_t all, old;
	int rc;

	/* The thread starts with every signal blocked but the kick: SIGTERM and friends belong to
	 * the event loop's signalfd. */
	sigfillset(&all);
	sigdelset(&all, VCPU_KICK_SIGNAL);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&vcpu->thread, NULL, vcpu_thread, vcpu);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		log_error("vcpu %u: cannot start thread: %s", vcpu->index, strerror(rc));
		return -1;
	}
	vcpu->started = true;
	return 0;
}

void vcpu_kick(struct vcpu *vcpu)
{
	if (!vcpu->run)
		return;
	/* immediate_exit covers a kick that lands just before the thread enters KVM_RUN; the
	 * signal covers one already inside it. */
	vcpu->run->immediate_exit = 1;
	if (vcpu->started)
		pthread_kill(vcpu->thread, VCPU_KICK_SIGNAL);
}

void vcpu_join(struct vcpu *vcpu)
{
	if (vcpu->started) {
		pthread_join(vcpu->thread, NULL);
		vcpu->started = false;
	}
}

void vcpu_destroy(struct vcpu *vcpu)
{
	if (vcpu->run)
		munmap(vcpu->run, (size_t)vcpu->vm->host->vcpu_mmap_size);
	if (vcpu->fd > 0)
		close(vcpu->fd);
	vcpu->run = NULL;
	vcpu->fd = -1;
}
