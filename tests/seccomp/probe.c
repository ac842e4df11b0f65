/*
 * probe.c - seccomp-probe ROLE SYSCALL: installs ROLE's filter with seccomp_install(), makes
 * that one system call and reports it returned.
 *
 * A forbidden call never returns: the SIGSYS handler reports it and the process exits with
 * 148 (tests/bats/seccomp.bats checks the status and the message). An allowed call prints
 * "seccomp-probe: ROLE SYSCALL: allowed" and exits 0. Arguments are chosen so that an allowed
 * call is harmless (fd -1, our own pid, ...). Everything the call needs (/dev/kvm, a page) is
 * acquired before the filter, as wisp does.
 */
#include "vmm/metrics.h"
#include "vmm/seccomp.h"
#include "vmm/signals.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

struct probe_env {
	int kvm_fd; /* /dev/kvm or -1 */
	void *page; /* one read-write page */
};

struct probe_call {
	const char *name;
	long (*fn)(struct probe_env *env);
};

static long probe_execve(struct probe_env *env)
{
	char *const argv[] = {"/bin/true", NULL};

	(void)env;
	return syscall(SYS_execve, "/bin/true", argv, NULL);
}

static long probe_socket_inet(struct probe_env *env)
{
	(void)env;
	return syscall(SYS_socket, AF_INET, SOCK_STREAM, 0);
}

static long probe_socket_unix(struct probe_env *env)
{
	(void)env;
	return syscall(SYS_socket, AF_UNIX, SOCK_STREAM, 0);
}

static long probe_kvm_create_vm(struct probe_env *env)
{
	return syscall(SYS_ioctl, env->kvm_fd, KVM_CREATE_VM, 0);
}

static long probe_kvm_run(struct probe_env *env)
{
	(void)env;
	return syscall(SYS_ioctl, -1, KVM_RUN, 0);
}

static long probe_kvm_irq_line(struct probe_env *env)
{
	(void)env;
	return syscall(SYS_ioctl, -1, KVM_IRQ_LINE, 0);
}

static long probe_mprotect_exec(struct probe_env *env)
{
	return syscall(SYS_mprotect, env->page, 4096, PROT_READ | PROT_EXEC);
}

static long probe_mprotect_rw(struct probe_env *env)
{
	return syscall(SYS_mprotect, env->page, 4096, PROT_READ | PROT_WRITE);
}

static long probe_mmap_exec(struct probe_env *env)
{
	(void)env;
	return syscall(SYS_mmap, NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1,
	               0);
}

static long probe_openat(struct probe_env *env)
{
	(void)env;
	return syscall(SYS_openat, AT_FDCWD, "/", O_RDONLY | O_DIRECTORY);
}

static long probe_fork(struct probe_env *env)
{
	(void)env;
	return syscall(SYS_fork);
}

static long probe_clone_process(struct probe_env *env)
{
	(void)env;
	/* A new process (no CLONE_THREAD); if it were allowed the child exits at once. */
	long rc = syscall(SYS_clone, SIGCHLD, NULL, NULL, NULL, 0);

	if (rc == 0)
		_exit(0);
	return rc;
}

static long probe_ptrace(struct probe_env *env)
{
	(void)env;
	return syscall(SYS_ptrace, 0 /* PTRACE_TRACEME */, 0, 0, 0);
}

static long probe_tgkill_other(struct probe_env *env)
{
	(void)env;
	return syscall(SYS_tgkill, 1, 1, 0);
}

static long probe_tgkill_self(struct probe_env *env)
{
	(void)env;
	return syscall(SYS_tgkill, getpid(), syscall(SYS_gettid), 0);
}

static long probe_getpid(struct probe_env *env)
{
	(void)env;
	return syscall(SYS_getpid);
}

static long probe_write(struct probe_env *env)
{
	(void)env;
	return syscall(SYS_write, 1, "", 0);
}

static long probe_accept4(struct probe_env *env)
{
	(void)env;
	return syscall(SYS_accept4, -1, NULL, NULL, 0);
}

static long probe_read(struct probe_env *env)
{
	(void)env;
	return syscall(SYS_read, -1, NULL, 0);
}

static const struct probe_call probe_calls[] = {
    {"execve", probe_execve},
    {"socket-inet", probe_socket_inet},
    {"socket-unix", probe_socket_unix},
    {"kvm-create-vm", probe_kvm_create_vm},
    {"kvm-run", probe_kvm_run},
    {"kvm-irq-line", probe_kvm_irq_line},
    {"mprotect-exec", probe_mprotect_exec},
    {"mprotect-rw", probe_mprotect_rw},
    {"mmap-exec", probe_mmap_exec},
    {"openat", probe_openat},
    {"fork", probe_fork},
    {"clone-process", probe_clone_process},
    {"ptrace", probe_ptrace},
    {"tgkill-other", probe_tgkill_other},
    {"tgkill-self", probe_tgkill_self},
    {"getpid", probe_getpid},
    {"write", probe_write},
    {"accept4", probe_accept4},
    {"read", probe_read},
};

static const struct probe_call *probe_find(const char *name)
{
	for (size_t i = 0; i < sizeof(probe_calls) / sizeof(probe_calls[0]); i++)
		if (!strcmp(probe_calls[i].name, name))
			return &probe_calls[i];
	return NULL;
}

int main(int argc, char **argv)
{
	struct probe_env env;
	enum seccomp_role role;
	const struct probe_call *call;
	char msg[256];
	long rc;
	int err, n;

	if (argc != 3 || seccomp_role_from_name(argv[1], &role) || !(call = probe_find(argv[2]))) {
		fprintf(stderr, "usage: seccomp-probe vmm|api|vcpu SYSCALL\nsyscalls:");
		for (size_t i = 0; i < sizeof(probe_calls) / sizeof(probe_calls[0]); i++)
			fprintf(stderr, " %s", probe_calls[i].name);
		fputc('\n', stderr);
		return 2;
	}
	env.kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	env.page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (env.page == MAP_FAILED)
		return 2;
	/* SECCOMP_PROBE_METRICS=FILE: wisp's metrics file and signal counters, so that a
	 * forbidden call's last metrics line (seccomp.num_faults) can be checked. */
	if (getenv("SECCOMP_PROBE_METRICS") &&
	    (metrics_set_path(getenv("SECCOMP_PROBE_METRICS")) < 0 || signals_install() < 0))
		return 2;
	err = seccomp_install(role);
	if (err) {
		fprintf(stderr, "seccomp-probe: seccomp_install(%s): %s\n", argv[1],
		        strerror(-err));
		return 2;
	}
	rc = call->fn(&env);
	err = errno;
	/* Allowed: report with write(2) only, and _exit so no atexit handler (or a sanitizer's
	 * leak check) makes calls the filter was never meant to allow. */
	n = snprintf(msg, sizeof(msg), "seccomp-probe: %s %s: allowed (returned %ld%s%s)\n",
	             argv[1], argv[2], rc, rc < 0 ? ", " : "", rc < 0 ? strerror(err) : "");
	if (write(1, msg, (size_t)n) != n)
		_exit(3);
	_exit(0);
}
