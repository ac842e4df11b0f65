/*
 * seccomp.c - the allowlist of each thread role and its installation (see seccomp.h).
 *
 * Reading a table: ALLOW(sc) allows a syscall with any arguments; ALLOW_IF(sc, cond...) only
 * when every condition on its arguments holds (several entries for one syscall are ORed);
 * IOCTL(req) allows one ioctl request number (no role may use fcntl); ERRNO(sc, e) makes
 * a syscall fail with errno e instead of trapping. The last field of every entry says which
 * code needs the syscall. Anything not listed traps (SIGSYS -> message -> exit 148).
 *
 * Snapshot entries (KVM_GET/SET_* of the clock, irqchip, PIT and vCPU state) are there for the
 * snapshot code; everything else was checked against the running wisp (the BATS suites with
 * filters on, strace -f).
 *
 * The tables describe what each thread does after its filter is on, not during setup:
 * KVM_CREATE_*, KVM_SET_USER_MEMORY_REGION, io_uring_setup, socket/bind/listen, thread
 * creation with clone3 and so on happen before and are absent on purpose.
 */
#include "vmm/seccomp.h"
#include "vmm/sigsafe.h"
#include "vmm/signals.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <linux/filter.h>
#include <linux/fs.h>
#include <linux/if_tun.h>
#include <linux/io_uring.h>
#include <linux/kvm.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <termios.h>
#include <unistd.h>

#ifndef SYS_SECCOMP
#define SYS_SECCOMP 1 /* si_code of a seccomp SIGSYS (linux/signal.h, not in glibc's) */
#endif

/* One allowlist entry. */
struct seccomp_entry {
	int nr;                     /* SCMP_SYS(name) */
	const char *name;           /* for messages and tests */
	unsigned n_cmp;             /* 0..2 argument conditions, ANDed */
	bool self_pid;              /* arg 0 must be our own pid (filled in at install time) */
	int errno_ret;              /* 0: allow; else fail with this errno */
	struct scmp_arg_cmp cmp[2]; /* the conditions */
	const char *why;            /* who needs it */
};

#define ALLOW(sc, who)                                                                             \
	{                                                                                          \
		.nr = SCMP_SYS(sc), .name = #sc, .why = who                                        \
	}
#define ALLOW_IF(sc, c0, who)                                                                      \
	{                                                                                          \
		.nr = SCMP_SYS(sc), .name = #sc, .n_cmp = 1, .cmp = {c0}, .why = who               \
	}
#define ALLOW_IF2(sc, c0, c1, who)                                                                 \
	{                                                                                          \
		.nr = SCMP_SYS(sc), .name = #sc, .n_cmp = 2, .cmp = {c0, c1}, .why = who           \
	}
#define ERRNO(sc, e, who)                                                                          \
	{                                                                                          \
		.nr = SCMP_SYS(sc), .name = #sc, .errno_ret = (e), .why = who                      \
	}
#define ARG_EQ(i, v)                                                                               \
	{                                                                                          \
		.arg = (i), .op = SCMP_CMP_EQ, .datum_a = (v)                                      \
	}
#define ARG_MASKED(i, mask, v)                                                                     \
	{                                                                                          \
		.arg = (i), .op = SCMP_CMP_MASKED_EQ, .datum_a = (mask), .datum_b = (v)            \
	}
#define ARG_BITS_CLEAR(i, bits) ARG_MASKED(i, bits, 0)
#define ARG_BITS_SET(i, bits)   ARG_MASKED(i, bits, bits)
/* The kernel reads an ioctl request as 32 bits: compare exactly those. */
#define IOCTL(req, who) ALLOW_IF(ioctl, ARG_MASKED(1, 0xffffffffu, (req)), #req ": " who)
#define TGKILL_SELF(who)                                                                           \
	{                                                                                          \
		.nr = SCMP_SYS(tgkill), .name = "tgkill", .self_pid = true, .why = who             \
	}

/* Every thread, whatever its role. */
static const struct seccomp_entry seccomp_common[] = {
    ALLOW(write, "log messages (one write per line, log.c), the SIGSYS report"),
    ALLOW(futex, "pthread mutexes and condition variables (evloop_call_sync, pause)"),
    ALLOW(brk, "malloc growing the main heap"),
    ALLOW_IF(mmap, ARG_BITS_CLEAR(2, PROT_EXEC),
             "malloc arenas and large blocks; never executable"),
    ALLOW_IF(mprotect, ARG_BITS_CLEAR(2, PROT_EXEC),
             "malloc growing a thread arena; never executable"),
    ALLOW(munmap, "free() of large blocks, arena trimming"),
    ALLOW(mremap, "realloc() of large blocks"),
    ALLOW(madvise, "malloc trimming (MADV_DONTNEED), thread stacks at thread exit"),
    ALLOW(rt_sigprocmask, "pthread_sigmask around waits and at thread exit"),
    ALLOW(rt_sigreturn, "return from a signal handler (vCPU kick, SIGSYS never returns)"),
    ALLOW(restart_syscall, "a sleep or wait restarted after a signal"),
    ALLOW(clock_gettime, "timestamps and timeouts when the vDSO falls back to the syscall"),
    ALLOW(clock_nanosleep, "short sleeps (nanosleep() in glibc)"),
    ALLOW(nanosleep, "short sleeps (older libc)"),
    ALLOW(sched_yield, "spin-wait back-off"),
    ALLOW(gettid, "log and metrics thread identification"),
    ALLOW(exit, "a thread returning from its start function"),
    ALLOW(exit_group, "process exit, including _exit(148) from the SIGSYS handler"),
};

/* vCPU threads: KVM_RUN and the register accesses of exits, pause and snapshot. */
static const struct seccomp_entry seccomp_vcpu[] = {
    IOCTL(KVM_RUN, "the vCPU loop"),
    IOCTL(KVM_GET_REGS, "snapshot save; exit diagnostics (RIP)"),
    IOCTL(KVM_SET_REGS, "snapshot restore"),
    IOCTL(KVM_GET_SREGS, "snapshot save; exit diagnostics"),
    IOCTL(KVM_SET_SREGS, "snapshot restore"),
    IOCTL(KVM_GET_MSRS, "snapshot save (every MSR KVM lists, PVM's own included)"),
    IOCTL(KVM_SET_MSRS, "snapshot restore"),
    IOCTL(KVM_GET_FPU, "snapshot save"),
    IOCTL(KVM_SET_FPU, "snapshot restore"),
    IOCTL(KVM_GET_XSAVE, "snapshot save"),
    IOCTL(KVM_GET_XSAVE2, "snapshot save on hosts with large xsave areas"),
    IOCTL(KVM_SET_XSAVE, "snapshot restore"),
    IOCTL(KVM_GET_XCRS, "snapshot save"),
    IOCTL(KVM_SET_XCRS, "snapshot restore"),
    IOCTL(KVM_GET_LAPIC, "snapshot save"),
    IOCTL(KVM_SET_LAPIC, "snapshot restore"),
    IOCTL(KVM_GET_VCPU_EVENTS, "snapshot save"),
    IOCTL(KVM_SET_VCPU_EVENTS, "snapshot restore"),
    IOCTL(KVM_GET_MP_STATE, "snapshot save"),
    IOCTL(KVM_SET_MP_STATE, "snapshot restore"),
    IOCTL(KVM_GET_DEBUGREGS, "snapshot save"),
    IOCTL(KVM_SET_DEBUGREGS, "snapshot restore"),
    IOCTL(KVM_GET_TSC_KHZ, "snapshot save (the TSC frequency travels with the snapshot)"),
    IOCTL(KVM_KVMCLOCK_CTRL, "pause: tell the guest its clock stopped (no soft lockups)"),
    IOCTL(KVM_IRQ_LINE, "legacy devices (serial, i8042) raising their line on a register write"),
    ALLOW(getpid, "pthread_kill() asks for the tgid before tgkill"),
    TGKILL_SELF("vm_request_stop() on a guest reset or vCPU error kicks the other vCPUs"),
};

/* The event-loop thread: devices' real work, timers, API requests, snapshots. */
static const struct seccomp_entry seccomp_vmm[] = {
    ALLOW(epoll_wait, "the event loop"),
    ALLOW(epoll_ctl, "evloop_add/modify/del after boot (device activation, rate limiters)"),
    ALLOW(read, "stdin, signalfd, eventfds, timerfds, tap rx, sync block engine"),
    ALLOW(readv, "tap rx into guest buffers"),
    ALLOW(writev, "tap tx from guest buffers"),
    ALLOW(preadv, "sync block engine scattered reads"),
    ALLOW(pwritev, "sync block engine scattered writes"),
    ALLOW(fdatasync, "block flush"),
    ALLOW(fstat, "size of a backing file swapped by PATCH /drives"),
    ALLOW(newfstatat, "fstat() in current glibc"),
    ALLOW(statx, "O_DIRECT alignment of a cache_type Direct file swapped by PATCH /drives"),
    ALLOW(fstatfs, "refusing tmpfs for a cache_type Direct file swapped by PATCH /drives"),
    ALLOW(openat,
          "PATCH /drives backing files, PUT /logger and /metrics files; bounded by the jail"),
    ALLOW(close, "closing replaced backing files, fds of reset devices"),
    ALLOW(unlink, "removing the API socket at exit (api_server_stop)"),
    ALLOW(io_uring_enter, "io_uring block engine submissions and completions"),
    ALLOW_IF(io_uring_register, ARG_EQ(1, IORING_REGISTER_FILES_UPDATE),
             "io_uring engine: swapping the fixed backing file (PATCH /drives); nothing else"),
    ALLOW(timerfd_settime, "rate-limiter refill timers; virtio-net continuing TX after a budget"),
    ALLOW(getpid, "pthread_kill() asks for the tgid before tgkill"),
    TGKILL_SELF("kicking a vCPU thread out of KVM_RUN (pause, stop); own process only"),
    /* No clone/clone3: every thread (API, vCPUs) exists before this filter goes on (vmm_start()
     * installs it after vm_start()), so creating one afterwards fails closed. */
    IOCTL(KVM_IRQ_LINE, "level-triggered device interrupts from the event loop"),
    IOCTL(KVM_IRQFD, "wiring a virtqueue's interrupt eventfd when the driver activates it"),
    IOCTL(KVM_IOEVENTFD, "wiring a virtqueue's notify eventfd when the driver activates it"),
    IOCTL(KVM_GET_CLOCK, "snapshot save"),
    IOCTL(KVM_SET_CLOCK, "snapshot restore"),
    /* PUT /snapshot/create reads each vCPU's state here, with every vCPU thread parked
     * outside KVM_RUN (KVM serialises a vCPU's ioctls; none is in flight). */
    IOCTL(KVM_GET_CPUID2, "snapshot save: a parked vCPU's CPUID"),
    IOCTL(KVM_GET_MP_STATE, "snapshot save: a parked vCPU's MP state"),
    IOCTL(KVM_GET_REGS, "snapshot save: a parked vCPU's registers"),
    IOCTL(KVM_GET_SREGS, "snapshot save: a parked vCPU's segment and control registers"),
    IOCTL(KVM_GET_XSAVE, "snapshot save: a parked vCPU's XSAVE area"),
    IOCTL(KVM_GET_XSAVE2, "snapshot save: a parked vCPU's XSAVE area (large areas)"),
    IOCTL(KVM_GET_XCRS, "snapshot save: a parked vCPU's XCR0"),
    IOCTL(KVM_GET_DEBUGREGS, "snapshot save: a parked vCPU's debug registers"),
    IOCTL(KVM_GET_LAPIC, "snapshot save: a parked vCPU's local APIC"),
    IOCTL(KVM_GET_MSRS, "snapshot save: a parked vCPU's MSRs"),
    IOCTL(KVM_GET_VCPU_EVENTS, "snapshot save: a parked vCPU's pending events"),
    ALLOW(pwrite64, "snapshot save: the memory file's data pages"),
    ALLOW(ftruncate, "snapshot save: the memory file's size (its zero pages are holes)"),
    ALLOW(rename, "snapshot save: a complete file replaces its .partial name"),
    ALLOW(lseek, "snapshot save: SEEK_DATA/SEEK_HOLE find the RAM the guest touched"),
    IOCTL(KVM_GET_DIRTY_LOG, "Diff snapshot: the pages the vCPUs wrote (track_dirty_pages)"),
    IOCTL(KVM_GET_IRQCHIP, "snapshot save (PIC, IOAPIC)"),
    IOCTL(KVM_SET_IRQCHIP, "snapshot restore"),
    IOCTL(KVM_GET_PIT2, "snapshot save"),
    IOCTL(KVM_SET_PIT2, "snapshot restore"),
    IOCTL(TUNSETOFFLOAD, "virtio-net offloads negotiated by the guest driver"),
    IOCTL(TCGETS, "serial console: terminal state"),
    IOCTL(TCSETS, "serial console: raw mode on, and restored at exit"),
    ALLOW(poll, "serial console: a bounded wait for a full stdout to drain at exit; "
                "virtio-net: does a frame wait on the tap (no_rx_avail_buffer), timeout 0"),
    ALLOW(ppoll, "serial console: poll() in glibc versions that use ppoll"),
    IOCTL(BLKGETSIZE64, "size of a block-device backing file swapped by PATCH /drives"),
    IOCTL(BLKSSZGET, "O_DIRECT alignment of a block device swapped by PATCH /drives (Direct)"),
};

/* The API thread: HTTP over the accepted Unix connections; no KVM, no files, no sockets. */
static const struct seccomp_entry seccomp_api[] = {
    ALLOW(accept4, "accepting a client on the listening socket (created before the filter)"),
    ALLOW(recvfrom, "request bytes (recv)"),
    ALLOW(sendto, "response bytes (send)"),
    ALLOW(close, "closing a client connection"),
    ALLOW(epoll_wait, "waiting for the listener and clients"),
    ALLOW(epoll_ctl, "adding and removing client connections"),
};

/*
 * Sanitizer builds only (make asan): what the ASan/UBSan runtime itself does in every thread.
 * LeakSanitizer's exit-time check needs a new process and ptrace, which stay forbidden: see
 * seccomp_sanitizer_exit() below.
 */
#if defined(__SANITIZE_ADDRESS__)
#define SECCOMP_SANITIZER 1
static const struct seccomp_entry seccomp_sanitizer[] = {
    ALLOW(sigaltstack, "ASan: alternate signal stack torn down at thread exit"),
};
static const unsigned seccomp_n_sanitizer =
    sizeof(seccomp_sanitizer) / sizeof(seccomp_sanitizer[0]);
#else
#define SECCOMP_SANITIZER 0
static const struct seccomp_entry seccomp_sanitizer[1];
static const unsigned seccomp_n_sanitizer = 0;
#endif

struct seccomp_role_def {
	const char *name;
	const struct seccomp_entry *entries;
	unsigned n;
};

#define SECCOMP_TABLE(t) t, sizeof(t) / sizeof((t)[0])

static const struct seccomp_role_def seccomp_roles[SECCOMP_ROLE_COUNT] = {
    [SECCOMP_ROLE_VMM] = {"vmm", SECCOMP_TABLE(seccomp_vmm)},
    [SECCOMP_ROLE_API] = {"api", SECCOMP_TABLE(seccomp_api)},
    [SECCOMP_ROLE_VCPU] = {"vcpu", SECCOMP_TABLE(seccomp_vcpu)},
};

/* Names of syscalls no role allows but an exploit would try first, for the SIGSYS report. */
static const struct {
	int nr;
	const char *name;
} seccomp_notable[] = {
    {SCMP_SYS(execve), "execve"},
    {SCMP_SYS(execveat), "execveat"},
    {SCMP_SYS(fork), "fork"},
    {SCMP_SYS(vfork), "vfork"},
    {SCMP_SYS(clone), "clone"},
    {SCMP_SYS(clone3), "clone3"},
    {SCMP_SYS(ptrace), "ptrace"},
    {SCMP_SYS(socket), "socket"},
    {SCMP_SYS(connect), "connect"},
    {SCMP_SYS(bind), "bind"},
    {SCMP_SYS(open), "open"},
    {SCMP_SYS(kill), "kill"},
    {SCMP_SYS(setuid), "setuid"},
    {SCMP_SYS(mount), "mount"},
    {SCMP_SYS(unshare), "unshare"},
    {SCMP_SYS(setns), "setns"},
    {SCMP_SYS(bpf), "bpf"},
    {SCMP_SYS(userfaultfd), "userfaultfd"},
    {SCMP_SYS(ioctl), "ioctl"},
    {SCMP_SYS(getpid), "getpid"},
    {SCMP_SYS(read), "read"},
    {SCMP_SYS(openat), "openat"},
    {SCMP_SYS(io_uring_setup), "io_uring_setup"},
    {SCMP_SYS(process_vm_readv), "process_vm_readv"},
    {SCMP_SYS(process_vm_writev), "process_vm_writev"},
    {SCMP_SYS(init_module), "init_module"},
    {SCMP_SYS(perf_event_open), "perf_event_open"},
    {SCMP_SYS(rt_sigaction), "rt_sigaction"},
};

/* The role the calling thread installed, for the SIGSYS report. */
static __thread int seccomp_thread_role = -1;

const char *seccomp_role_name(enum seccomp_role role)
{
	return (unsigned)role < SECCOMP_ROLE_COUNT ? seccomp_roles[role].name : NULL;
}

int seccomp_role_from_name(const char *name, enum seccomp_role *role)
{
	for (unsigned r = 0; r < SECCOMP_ROLE_COUNT; r++) {
		if (!strcmp(name, seccomp_roles[r].name)) {
			*role = (enum seccomp_role)r;
			return 0;
		}
	}
	return -1;
}

/* Visits the entries of a role: the common table, then the role's own. */
static const struct seccomp_entry *seccomp_entry_at(enum seccomp_role role, unsigned i)
{
	const unsigned n_common = sizeof(seccomp_common) / sizeof(seccomp_common[0]);
	const unsigned n_role = seccomp_roles[role].n;

	if (i < n_common)
		return &seccomp_common[i];
	i -= n_common;
	if (i < n_role)
		return &seccomp_roles[role].entries[i];
	i -= n_role;
	return i < seccomp_n_sanitizer ? &seccomp_sanitizer[i] : NULL;
}

const char *seccomp_syscall_name(int nr)
{
	for (unsigned r = 0; r < SECCOMP_ROLE_COUNT; r++) {
		const struct seccomp_entry *e;

		for (unsigned i = 0; (e = seccomp_entry_at((enum seccomp_role)r, i)); i++)
			if (e->nr == nr)
				return e->name;
	}
	for (unsigned i = 0; i < sizeof(seccomp_notable) / sizeof(seccomp_notable[0]); i++)
		if (seccomp_notable[i].nr == nr)
			return seccomp_notable[i].name;
	return NULL;
}

/* --- the SIGSYS report: async-signal-safe only ------------------------------------------ */

static void seccomp_sigsys(int sig, siginfo_t *si, void *uctx)
{
	char buf[256];
	size_t len = 0;
	int role = seccomp_thread_role;
	const char *name;

	(void)uctx;
	if (si->si_code != SYS_SECCOMP) {
		/* Someone sent SIGSYS by hand: behave as if we had no handler. */
		signal(sig, SIG_DFL);
		raise(sig);
		return;
	}
	name = seccomp_syscall_name(si->si_syscall);
	len = sigsafe_append(buf, len, sizeof(buf), "wisp: error: seccomp: ");
	len =
	    sigsafe_append(buf, len, sizeof(buf), role >= 0 ? seccomp_roles[role].name : "unknown");
	len = sigsafe_append(buf, len, sizeof(buf), " thread made a forbidden system call ");
	len = sigsafe_append_uint(buf, len, sizeof(buf), (unsigned)si->si_syscall);
	len = sigsafe_append(buf, len, sizeof(buf), " (");
	len = sigsafe_append(buf, len, sizeof(buf), name ? name : "?");
	len = sigsafe_append(buf, len, sizeof(buf), ")\n");
	if (write(STDERR_FILENO, buf, len) < 0) {
		/* stderr is gone: the exit code still says it. */
	}
	signals_seccomp_fault(); /* counted, and the last metrics line written */
	/* The raw syscall: a sanitizer runtime intercepts _exit() and would make more calls. */
	syscall(SYS_exit_group, SECCOMP_EXIT_BAD_SYSCALL);
}

void seccomp_install_sigsys_handler(void)
{
	struct sigaction sa = {.sa_sigaction = seccomp_sigsys, .sa_flags = SA_SIGINFO};

	sigemptyset(&sa.sa_mask);
	sigaction(SIGSYS, &sa, NULL);
}

/* --- building and loading the filter ------------------------------------------------------ */

/* Adds one entry to ctx. 0 or -errno. */
static int seccomp_add(scmp_filter_ctx ctx, const struct seccomp_entry *e, pid_t pid)
{
	uint32_t action = e->errno_ret ? SCMP_ACT_ERRNO((uint32_t)e->errno_ret) : SCMP_ACT_ALLOW;
	struct scmp_arg_cmp self = {.arg = 0, .op = SCMP_CMP_EQ, .datum_a = (uint64_t)pid};

	if (e->self_pid)
		return seccomp_rule_add_exact_array(ctx, action, e->nr, 1, &self);
	return seccomp_rule_add_exact_array(ctx, action, e->nr, e->n_cmp, e->cmp);
}

/*
 * glibc opens /proc/sys/vm/overcommit_memory the first time it shrinks the heap of a thread
 * arena (check_may_shrink_heap) and caches the answer for the process: under any filter that
 * openat would kill wisp the first time a thread frees a burst of memory. So the first
 * thread that installs a filter outside the main arena (the main thread's heap shrinks with
 * brk, without the check) shrinks its heap once on purpose: blocks below the mmap threshold
 * grow the arena, freeing them puts the top chunk past the trim threshold. A no-op where
 * malloc is another allocator (sanitizer builds).
 */
static void seccomp_prime_heap_shrink_once(void)
{
	enum { BLOCK = 96 << 10, NBLOCKS = 4 };
	void *volatile blocks[NBLOCKS];

	for (int i = 0; i < NBLOCKS; i++) {
		blocks[i] = malloc(BLOCK);
		if (blocks[i])
			memset(blocks[i], 0, 1);
	}
	for (int i = NBLOCKS - 1; i >= 0; i--)
		free(blocks[i]);
}

static void seccomp_prime_heap_shrink(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	if (syscall(SYS_gettid) != getpid())
		pthread_once(&once, seccomp_prime_heap_shrink_once);
}

/* Things that would otherwise happen lazily, after the filter, through syscalls it forbids. */
static void seccomp_prepare_thread(void)
{
	sigset_t set;

	seccomp_install_sigsys_handler();
	sigemptyset(&set);
	sigaddset(&set, SIGSYS);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	/* jansson seeds its hash function on the first object, from /dev/urandom (openat). */
	json_object_seed(0);
	seccomp_prime_heap_shrink();
}

/* Compiles role's table with libseccomp into a classic BPF program (malloc'd). 0 or -errno. */
static int seccomp_compile(enum seccomp_role role, pid_t pid, struct sock_fprog *prog)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_TRAP);
	const struct seccomp_entry *e;
	int rc, fd = -1;
	off_t size;

	if (!ctx)
		return -ENOMEM;
	/* A syscall through another ABI (int 0x80, x32) kills the process: never legitimate. */
	rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
	for (unsigned i = 0; !rc && (e = seccomp_entry_at(role, i)); i++)
		rc = seccomp_add(ctx, e, pid);
	/* libseccomp 2.5 exports to an fd only: a memfd needs no file system in the jail. */
	if (!rc && (fd = memfd_create("wisp-seccomp", MFD_CLOEXEC)) < 0)
		rc = -errno;
	if (!rc)
		rc = seccomp_export_bpf(ctx, fd);
	seccomp_release(ctx);
	size = rc ? 0 : lseek(fd, 0, SEEK_END);
	if (!rc && (size <= 0 || size % sizeof(struct sock_filter) ||
	            size / sizeof(struct sock_filter) > BPF_MAXINSNS))
		rc = -E2BIG;
	if (!rc && !(prog->filter = malloc((size_t)size)))
		rc = -ENOMEM;
	if (!rc && pread(fd, prog->filter, (size_t)size, 0) != size) {
		free(prog->filter);
		rc = -EIO;
	}
	if (!rc)
		prog->len = (unsigned short)(size / sizeof(struct sock_filter));
	if (fd >= 0)
		close(fd);
	return rc;
}

/* Each role is compiled once per process (about 0.2 ms) and the program reused by every thread
 * of that role. The pid is part of the program (tgkill rule): recompiled after a fork. */
static struct {
	pthread_mutex_t lock;
	struct sock_fprog prog[SECCOMP_ROLE_COUNT];
	pid_t pid[SECCOMP_ROLE_COUNT];
} seccomp_cache = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* The cached program of role, compiling it if needed. 0 or -errno. */
static int seccomp_program(enum seccomp_role role, struct sock_fprog *out)
{
	pid_t pid = getpid();
	int rc = 0;

	pthread_mutex_lock(&seccomp_cache.lock);
	if (seccomp_cache.pid[role] != pid) {
		struct sock_fprog prog;

		rc = seccomp_compile(role, pid, &prog);
		if (!rc) {
			free(seccomp_cache.prog[role].filter);
			seccomp_cache.prog[role] = prog;
			seccomp_cache.pid[role] = pid;
		}
	}
	*out = seccomp_cache.prog[role];
	pthread_mutex_unlock(&seccomp_cache.lock);
	return rc;
}

/* Sanitizer builds: once a filter is on, exit() ends the process with its status right after
 * the handlers registered later than this one, before LeakSanitizer's check (registered at
 * start-up, so run last) would trap on clone/ptrace. Leak checks need --no-seccomp. */
static void seccomp_sanitizer_exit(int status, void *arg)
{
	(void)arg;
	syscall(SYS_exit_group, status);
}

static void seccomp_sanitizer_hook_once(void)
{
	on_exit(seccomp_sanitizer_exit, NULL);
}

static void seccomp_sanitizer_hook(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	if (SECCOMP_SANITIZER)
		pthread_once(&once, seccomp_sanitizer_hook_once);
}

int seccomp_install(enum seccomp_role role)
{
	struct sock_fprog prog;
	int rc;

	if ((unsigned)role >= SECCOMP_ROLE_COUNT)
		return -EINVAL;
	seccomp_prepare_thread();
	rc = seccomp_program(role, &prog);
	if (rc)
		return rc;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		return -errno;
	/* This thread only: no SECCOMP_FILTER_FLAG_TSYNC. */
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog))
		return -errno;
	seccomp_thread_role = (int)role;
	seccomp_sanitizer_hook();
	return 0;
}

/* --- introspection for tests ------------------------------------------------------------- */

static int seccomp_cmp_int(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

const int *seccomp_role_syscalls(enum seccomp_role role, unsigned *n)
{
	static int lists[SECCOMP_ROLE_COUNT][256];
	const struct seccomp_entry *e;
	unsigned k = 0;

	if ((unsigned)role >= SECCOMP_ROLE_COUNT) {
		*n = 0;
		return NULL;
	}
	for (unsigned i = 0; (e = seccomp_entry_at(role, i)) && k < 256; i++) {
		bool dup = false;

		if (e->errno_ret)
			continue;
		for (unsigned j = 0; j < k && !dup; j++)
			dup = lists[role][j] == e->nr;
		if (!dup)
			lists[role][k++] = e->nr;
	}
	qsort(lists[role], k, sizeof(int), seccomp_cmp_int);
	*n = k;
	return lists[role];
}

unsigned seccomp_role_count(enum seccomp_role role)
{
	unsigned n;

	seccomp_role_syscalls(role, &n);
	return n;
}

static bool seccomp_cmp_holds(const struct scmp_arg_cmp *c, const uint64_t args[6])
{
	uint64_t v = args[c->arg];

	switch (c->op) {
	case SCMP_CMP_EQ:
		return v == c->datum_a;
	case SCMP_CMP_MASKED_EQ:
		return (v & c->datum_a) == c->datum_b;
	default:
		return false; /* the tables use no other operator */
	}
}

bool seccomp_role_allows(enum seccomp_role role, int nr, const uint64_t args[6])
{
	const struct seccomp_entry *e;

	if ((unsigned)role >= SECCOMP_ROLE_COUNT)
		return false;
	for (unsigned i = 0; (e = seccomp_entry_at(role, i)); i++) {
		bool ok = e->nr == nr && !e->errno_ret;

		if (ok && e->self_pid)
			ok = args[0] == (uint64_t)getpid();
		for (unsigned c = 0; ok && c < e->n_cmp; c++)
			ok = seccomp_cmp_holds(&e->cmp[c], args);
		if (ok)
			return true;
	}
	return false;
}
