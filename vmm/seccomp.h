/*
 * seccomp.h - per-thread system-call allowlists (libseccomp), one per thread role.
 *
 * Like Firecracker, every wisp thread installs the filter of its role itself, for itself only
 * (no TSYNC), once it holds every fd and mapping it needs and before it handles untrusted
 * input:
 *   SECCOMP_ROLE_VCPU  each vCPU thread, right before its first KVM_RUN;
 *   SECCOMP_ROLE_API   the API thread, right before it accepts the first connection;
 *   SECCOMP_ROLE_VMM   the event-loop thread, once the VM is built (InstanceStart or snapshot
 *                      load done) and before guest code runs. Threads it starts after that
 *                      must be started with the filter already on (clone is limited to
 *                      CLONE_THREAD).
 * Each role's table is in seccomp.c: one entry per syscall (or per allowed argument value, e.g.
 * one per ioctl request) with a note saying which code needs it. Adding a syscall to a thread
 * means adding an entry there, with that note.
 *
 * Violation: the default action is SCMP_ACT_TRAP. The SIGSYS handler writes
 *   "wisp: error: seccomp: <role> thread made a forbidden system call <nr> (<name>)"
 * to stderr with write(2) and ends the process with _exit(148), Firecracker's exit code for a
 * bad system call, so a supervisor can tell a filter violation from a crash. (Syscalls of a
 * foreign architecture ABI kill the process outright.)
 *
 * Preparation done by seccomp_install() before loading, so that the threads do not trip over
 * lazy initialisation later: jansson's hash seed is drawn (it would otherwise open
 * /dev/urandom on the first JSON object), glibc's one-time heap-shrink check (an openat of
 * /proc/sys/vm/overcommit_memory) is triggered once per process, the role's BPF program is
 * compiled once per process and reused, SIGSYS is unblocked in the calling thread. So call
 * it after the thread has set its signal mask, and never block SIGSYS afterwards: the kernel
 * delivers a seccomp SIGSYS even when blocked, but then resets the handler and the process
 * dies by the signal (still fail-closed, without the report and the 148).
 *
 * Sanitizer builds (make asan): the runtime's own needs are allowed (sigaltstack), and once a
 * filter is on, exit() skips LeakSanitizer's exit-time check, which needs clone and ptrace;
 * run with --no-seccomp to look for leaks.
 *
 * Thread-safety: seccomp_install() affects only the calling thread and may run concurrently
 * in several threads. The introspection functions are for tests.
 */
#ifndef WISP_SECCOMP_H
#define WISP_SECCOMP_H

#include <stdbool.h>
#include <stdint.h>

enum seccomp_role { SECCOMP_ROLE_VMM, SECCOMP_ROLE_API, SECCOMP_ROLE_VCPU };

#define SECCOMP_ROLE_COUNT 3
/* Exit code of a process killed by its filter (Firecracker's FcExitCode::BadSyscall). */
#define SECCOMP_EXIT_BAD_SYSCALL 148

/* Sets PR_SET_NO_NEW_PRIVS and loads role's filter for the calling thread. 0, or -errno
 * (nothing installed; the caller reports it and exits: a thread never runs unfiltered by
 * accident). */
int seccomp_install(enum seccomp_role role);

/* Installs the process-wide SIGSYS handler described above. Idempotent; seccomp_install()
 * calls it. */
void seccomp_install_sigsys_handler(void);

/* "vmm", "api", "vcpu"; NULL for an unknown role. */
const char *seccomp_role_name(enum seccomp_role role);
/* Parses a role name; 0 or -1. */
int seccomp_role_from_name(const char *name, enum seccomp_role *role);

/* Introspection (tests): the distinct system-call numbers the role allows in some form,
 * sorted ascending. The array is static and stays valid. */
unsigned seccomp_role_count(enum seccomp_role role);
const int *seccomp_role_syscalls(enum seccomp_role role, unsigned *n);
/* Would role's filter allow syscall nr with these six argument values? Evaluates the table
 * exactly as the loaded filter does (argument rules included). */
bool seccomp_role_allows(enum seccomp_role role, int nr, const uint64_t args[6]);
/* The name of a system call wisp's tables know ("execve"), or NULL. Async-signal-safe. */
const char *seccomp_syscall_name(int nr);

#endif
