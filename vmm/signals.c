/*
 * signals.c - see signals.h. Every handler here is async-signal-safe: atomics, write(2) of a
 * fixed message, and metrics_flush_from_signal().
 */
#include "vmm/signals.h"

#include "vmm/metrics.h"

#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#define SIGNALS_FATAL_HANDLERS 0 /* ASan's SEGV/BUS reports are better than ours */
#else
#define SIGNALS_FATAL_HANDLERS 1
#endif

static atomic_ulong sig_bus, sig_segv, sig_xfsz, sig_xcpu, sig_pipe, sig_hup, sig_ill, sig_sys;
static atomic_ulong seccomp_faults, panic_count;

static const struct {
	const char *group, *name;
	atomic_ulong *counter;
} signal_metrics[] = {
    {"signals", "sigbus", &sig_bus},
    {"signals", "sigsegv", &sig_segv},
    {"signals", "sigxfsz", &sig_xfsz},
    {"signals", "sigxcpu", &sig_xcpu},
    {"signals", "sigpipe", &sig_pipe},
    {"signals", "sighup", &sig_hup},
    {"signals", "sigill", &sig_ill},
    {"signals", "sigsys", &sig_sys},
    {"seccomp", "num_faults", &seccomp_faults},
    {"vmm", "panic_count", &panic_count},
};

static void say(const char *msg)
{
	if (write(STDERR_FILENO, msg, strlen(msg)) < 0) {
		/* stderr is gone: the counter still says it */
	}
}

static void on_counted(int sig)
{
	static atomic_bool warned_xfsz, warned_xcpu;

	switch (sig) {
	case SIGPIPE:
		atomic_fetch_add(&sig_pipe, 1);
		break;
	case SIGXFSZ:
		atomic_fetch_add(&sig_xfsz, 1);
		if (!atomic_exchange(&warned_xfsz, true))
			say("wisp: warning: SIGXFSZ: a file reached the size limit (RLIMIT_FSIZE); "
			    "writes past it fail (counted in signals.sigxfsz)\n");
		break;
	case SIGXCPU:
		atomic_fetch_add(&sig_xcpu, 1);
		if (!atomic_exchange(&warned_xcpu, true))
			say("wisp: warning: SIGXCPU: the CPU time limit (RLIMIT_CPU) was "
			    "reached\n");
		break;
	}
}

static void on_fatal(int sig, siginfo_t *si, void *uctx)
{
	(void)uctx;
	atomic_fetch_add(sig == SIGSEGV ? &sig_segv : sig == SIGBUS ? &sig_bus : &sig_ill, 1);
	atomic_fetch_add(&panic_count, 1);
	say(sig == SIGSEGV  ? "wisp: error: fatal signal SIGSEGV\n"
	    : sig == SIGBUS ? "wisp: error: fatal signal SIGBUS (guest memory file truncated?)\n"
	                    : "wisp: error: fatal signal SIGILL\n");
	metrics_flush_from_signal();
	/* SA_RESETHAND restored the default action. A real fault re-runs the instruction and
	 * dies of it (core dump included); a signal someone sent would just return. */
	if (si->si_code <= 0)
		syscall(SYS_exit_group, 128 + sig);
}

void signals_count_sighup(void)
{
	atomic_fetch_add(&sig_hup, 1);
}

void signals_seccomp_fault(void)
{
	atomic_fetch_add(&sig_sys, 1);
	atomic_fetch_add(&seccomp_faults, 1);
	metrics_flush_from_signal();
}

int signals_install(void)
{
	static const int counted[] = {SIGPIPE, SIGXFSZ, SIGXCPU};
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_counted;
	sa.sa_flags = SA_RESTART;
	for (size_t i = 0; i < sizeof(counted) / sizeof(counted[0]); i++)
		if (sigaction(counted[i], &sa, NULL) < 0)
			return -1;
	if (SIGNALS_FATAL_HANDLERS) {
		static const int fatal[] = {SIGSEGV, SIGBUS, SIGILL};

		memset(&sa, 0, sizeof(sa));
		sigemptyset(&sa.sa_mask);
		sa.sa_sigaction = on_fatal;
		sa.sa_flags = SA_SIGINFO | SA_RESETHAND | SA_NODEFER;
		for (size_t i = 0; i < sizeof(fatal) / sizeof(fatal[0]); i++)
			if (sigaction(fatal[i], &sa, NULL) < 0)
				return -1;
	}
	for (size_t i = 0; i < sizeof(signal_metrics) / sizeof(signal_metrics[0]); i++)
		metrics_register(signal_metrics[i].group, signal_metrics[i].name,
		                 signal_metrics[i].counter);
	return 0;
}
