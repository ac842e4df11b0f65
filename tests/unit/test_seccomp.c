/* test_seccomp.c - properties of the per-role allowlists (vmm/seccomp.c). */
#include "tests/unit/unit.h"

#include "vmm/seccomp.h"

#include <fcntl.h>
#include <linux/kvm.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static const enum seccomp_role roles[] = {SECCOMP_ROLE_VMM, SECCOMP_ROLE_API, SECCOMP_ROLE_VCPU};
#define N_ROLES (sizeof(roles) / sizeof(roles[0]))

static bool role_lists(enum seccomp_role role, int nr)
{
	unsigned n;
	const int *list = seccomp_role_syscalls(role, &n);

	for (unsigned i = 0; i < n; i++)
		if (list[i] == nr)
			return true;
	return false;
}

static bool allows(enum seccomp_role role, int nr, uint64_t a0, uint64_t a1, uint64_t a2)
{
	const uint64_t args[6] = {a0, a1, a2, 0, 0, 0};

	return seccomp_role_allows(role, nr, args);
}

UNIT_TEST(seccomp_each_role_is_strictly_smaller_than_the_union)
{
	int uni[1024];
	unsigned n_uni = 0;

	for (unsigned r = 0; r < N_ROLES; r++) {
		unsigned n;
		const int *list = seccomp_role_syscalls(roles[r], &n);

		for (unsigned i = 0; i < n; i++) {
			bool seen = false;

			for (unsigned j = 0; j < n_uni && !seen; j++)
				seen = uni[j] == list[i];
			if (!seen && n_uni < 1024)
				uni[n_uni++] = list[i];
		}
	}
	for (unsigned r = 0; r < N_ROLES; r++) {
		unsigned n = seccomp_role_count(roles[r]);

		CHECK(n > 10);
		if (n >= n_uni)
			UNIT_FAIL("role %s allows %u of the union's %u syscalls",
			          seccomp_role_name(roles[r]), n, n_uni);
	}
}

UNIT_TEST(seccomp_lists_are_sorted_and_unique)
{
	for (unsigned r = 0; r < N_ROLES; r++) {
		unsigned n;
		const int *list = seccomp_role_syscalls(roles[r], &n);

		for (unsigned i = 1; i < n; i++)
			CHECK(list[i - 1] < list[i]);
	}
}

UNIT_TEST(seccomp_no_role_runs_programs_or_debugs)
{
	static const int never[] = {SYS_execve,
	                            SYS_execveat,
	                            SYS_fork,
	                            SYS_vfork,
	                            SYS_ptrace,
	                            SYS_setuid,
	                            SYS_mount,
	                            SYS_unshare,
	                            SYS_setns,
	                            SYS_bpf,
	                            SYS_connect,
	                            SYS_bind,
	                            SYS_process_vm_writev,
	                            SYS_kill,
	                            SYS_io_uring_setup};

	for (unsigned r = 0; r < N_ROLES; r++)
		for (unsigned i = 0; i < sizeof(never) / sizeof(never[0]); i++)
			if (role_lists(roles[r], never[i]))
				UNIT_FAIL("role %s allows syscall %d", seccomp_role_name(roles[r]),
				          never[i]);
}

UNIT_TEST(seccomp_no_role_opens_network_sockets)
{
	static const int families[] = {AF_INET, AF_INET6, AF_NETLINK, AF_PACKET, AF_VSOCK};

	for (unsigned r = 0; r < N_ROLES; r++)
		for (unsigned f = 0; f < sizeof(families) / sizeof(families[0]); f++)
			CHECK(!allows(roles[r], SYS_socket, (uint64_t)families[f], SOCK_STREAM, 0));
}

UNIT_TEST(seccomp_no_role_makes_memory_executable)
{
	for (unsigned r = 0; r < N_ROLES; r++) {
		CHECK(!allows(roles[r], SYS_mmap, 0, 4096, PROT_READ | PROT_EXEC));
		CHECK(!allows(roles[r], SYS_mprotect, 0x1000, 4096, PROT_EXEC));
		CHECK(allows(roles[r], SYS_mprotect, 0x1000, 4096, PROT_READ | PROT_WRITE));
		CHECK(allows(roles[r], SYS_mmap, 0, 4096, PROT_READ | PROT_WRITE));
	}
}

/* Every wisp thread exists before the filters go on: no role may create a process, and none
 * even a thread. */
UNIT_TEST(seccomp_clone_is_threads_only)
{
	for (unsigned r = 0; r < N_ROLES; r++) {
		CHECK(!allows(roles[r], SYS_clone, SIGCHLD, 0, 0));
		CHECK(!allows(roles[r], SYS_clone,
		              CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD, 0,
		              0));
		CHECK(!allows(roles[r], SYS_clone3, 0, 0, 0));
	}
}

UNIT_TEST(seccomp_ioctls_per_role)
{
	/* The API thread never touches KVM (or any device). */
	CHECK(!role_lists(SECCOMP_ROLE_API, SYS_ioctl));
	CHECK(allows(SECCOMP_ROLE_VCPU, SYS_ioctl, 5, KVM_RUN, 0));
	CHECK(!allows(SECCOMP_ROLE_VMM, SYS_ioctl, 5, KVM_RUN, 0));
	CHECK(allows(SECCOMP_ROLE_VMM, SYS_ioctl, 5, KVM_IRQFD, 0));
	CHECK(!allows(SECCOMP_ROLE_VCPU, SYS_ioctl, 5, KVM_IRQFD, 0));
	/* Building a VM is setup, done before any filter. */
	for (unsigned r = 0; r < N_ROLES; r++) {
		CHECK(!allows(roles[r], SYS_ioctl, 5, KVM_CREATE_VM, 0));
		CHECK(!allows(roles[r], SYS_ioctl, 5, KVM_CREATE_VCPU, 0));
		CHECK(!allows(roles[r], SYS_ioctl, 5, KVM_SET_USER_MEMORY_REGION, 0));
	}
	/* The request is compared on the 32 bits the kernel reads. */
	CHECK(allows(SECCOMP_ROLE_VCPU, SYS_ioctl, 5, 0xffffffff00000000ull | KVM_RUN, 0));
}

UNIT_TEST(seccomp_signals_stay_in_process)
{
	CHECK(allows(SECCOMP_ROLE_VMM, SYS_tgkill, (uint64_t)getpid(), 1234, SIGUSR1));
	CHECK(!allows(SECCOMP_ROLE_VMM, SYS_tgkill, 1, 1, SIGKILL));
	CHECK(!allows(SECCOMP_ROLE_API, SYS_tgkill, (uint64_t)getpid(), 1234, SIGUSR1));
	/* No thread changes fd flags or owners after setup. */
	for (unsigned r = 0; r < N_ROLES; r++)
		CHECK(!role_lists(roles[r], SYS_fcntl));
}

UNIT_TEST(seccomp_role_names)
{
	enum seccomp_role role;

	for (unsigned r = 0; r < N_ROLES; r++) {
		CHECK_EQ(seccomp_role_from_name(seccomp_role_name(roles[r]), &role), 0);
		CHECK_EQ(role, roles[r]);
	}
	CHECK_EQ(seccomp_role_from_name("root", &role), -1);
	CHECK_STR_EQ(seccomp_syscall_name(SYS_execve), "execve");
	CHECK_STR_EQ(seccomp_syscall_name(SYS_ioctl), "ioctl");
}

/* The loaded filter, end to end: a vCPU thread calling openat() dies with 148. */
UNIT_TEST(seccomp_installed_filter_traps_with_148)
{
	int status;
	pid_t pid = fork();

	if (pid == 0) {
		int devnull = open("/dev/null", O_WRONLY);

		dup2(devnull, 2); /* the report is checked by tests/bats/seccomp.bats */
		if (seccomp_install(SECCOMP_ROLE_VCPU))
			_exit(1);
		syscall(SYS_openat, AT_FDCWD, "/", O_RDONLY);
		_exit(0);
	}
	CHECK(pid > 0);
	CHECK_EQ(waitpid(pid, &status, 0), pid);
	CHECK(WIFEXITED(status));
	CHECK_EQ(WEXITSTATUS(status), SECCOMP_EXIT_BAD_SYSCALL);
}

/* The SIGSYS report names the call even when no role allows it (clone, execve...). */
UNIT_TEST(seccomp_reports_name_forbidden_calls)
{
	CHECK_STR_EQ(seccomp_syscall_name(SYS_clone), "clone");
	CHECK_STR_EQ(seccomp_syscall_name(SYS_clone3), "clone3");
	CHECK_STR_EQ(seccomp_syscall_name(SYS_execve), "execve");
	CHECK_STR_EQ(seccomp_syscall_name(SYS_ioctl), "ioctl");
}
