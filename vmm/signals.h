/*
 * signals.h - the signals wisp counts (Firecracker's "signals" group) and the crashes it
 * reports before dying (vmm.panic_count), each with a line on stderr and a last metrics line.
 *
 *   SIGPIPE   counted; the write that raised it fails with EPIPE (a client or console gone)
 *   SIGXFSZ   counted, one warning; the write fails with EFBIG (RLIMIT_FSIZE), the guest gets
 *             IOERR and wisp keeps running
 *   SIGXCPU   counted, one warning (RLIMIT_CPU's soft limit; the hard limit kills)
 *   SIGHUP    counted by the signalfd reader (main.c), which stops the VM like SIGTERM
 *   SIGSYS    counted with seccomp.num_faults by the seccomp handler (seccomp.c)
 *   SIGSEGV, SIGBUS, SIGILL
 *             fatal: counted with vmm.panic_count, reported, the metrics line written; the
 *             default action then kills the process (a fault re-runs the instruction; a
 *             signal sent by kill ends wisp with 128 + the signal). Not installed in
 *             sanitizer builds, whose own handlers print the better report.
 */
#ifndef WISP_SIGNALS_H
#define WISP_SIGNALS_H

/* Main thread, before any other thread exists: handlers and their counters. 0 or -1. */
int signals_install(void);
/* SIGHUP was read from the signalfd. */
void signals_count_sighup(void);
/* A seccomp SIGSYS: counts it and writes the last metrics line. Async-signal-safe. */
void signals_seccomp_fault(void);

#endif
