/*
 * vcpu_state.c - saving and restoring a vCPU's KVM state (vcpu_state.h).
 */
#include "vmm/snapshot/vcpu_state.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#define MSR_IA32_TSC 0x10u

static void put_part(struct snap_writer *w, const void *p, size_t len)
{
	snap_put_u32(w, (uint32_t)len);
	snap_put(w, p, len);
}

/* The MSRs of list that this vCPU can read, IA32_TSC first, values filled in. */
static struct kvm_msrs *read_msrs(int fd, const struct kvm_msr_list *list)
{
	unsigned n = 0;
	struct kvm_msrs *m, *tail;

	if (!list || list->nmsrs > VCPU_MAX_MSRS)
		return NULL;
	m = calloc(1, sizeof(*m) + list->nmsrs * sizeof(m->entries[0]));
	tail = calloc(1, sizeof(*tail) + list->nmsrs * sizeof(tail->entries[0]));
	if (!m || !tail) {
		free(m);
		free(tail);
		return NULL;
	}
	for (unsigned i = 0; i < list->nmsrs; i++)
		if (list->indices[i] == MSR_IA32_TSC)
			m->entries[n++].index = MSR_IA32_TSC;
	for (unsigned i = 0; i < list->nmsrs; i++)
		if (list->indices[i] != MSR_IA32_TSC)
			m->entries[n++].index = list->indices[i];
	/* KVM_GET_MSRS stops at the first MSR it cannot read and returns how many it read: that
	 * one is dropped and the rest asked for again. */
	for (unsigned done = 0; done < n;) {
		int got;

		tail->nmsrs = n - done;
		memcpy(tail->entries, &m->entries[done], (n - done) * sizeof(m->entries[0]));
		got = ioctl(fd, KVM_GET_MSRS, tail);
		if (got < 0) {
			free(m);
			free(tail);
			return NULL;
		}
		memcpy(&m->entries[done], tail->entries, (unsigned)got * sizeof(m->entries[0]));
		done += (unsigned)got;
		if (done < n) {
			memmove(&m->entries[done], &m->entries[done + 1],
			        (n - done - 1) * sizeof(m->entries[0]));
			n--;
		}
	}
	free(tail);
	m->nmsrs = n;
	return m;
}

int vcpu_state_save(int fd, unsigned index, const struct kvm_msr_list *msr_list, size_t xsave_size,
                    int has_xcrs, struct snap_writer *w, char *err, size_t errlen)
{
	struct kvm_cpuid2 *cpuid =
	    calloc(1, sizeof(*cpuid) + VCPU_MAX_CPUID * sizeof(cpuid->entries[0]));
	struct kvm_mp_state mp;
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct kvm_xcrs xcrs;
	struct kvm_debugregs dregs;
	struct kvm_lapic_state lapic;
	struct kvm_vcpu_events events;
	struct kvm_msrs *msrs = NULL;
	size_t xlen = xsave_size > sizeof(struct kvm_xsave) ? xsave_size : sizeof(struct kvm_xsave);
	void *xsave = calloc(1, xlen);
	const char *what = NULL;
	int rc = -1;

	memset(&xcrs, 0, sizeof(xcrs));
	if (!cpuid || !xsave) {
		snap_fail(err, errlen, "vCPU %u: out of memory", index);
		goto out;
	}
	cpuid->nent = VCPU_MAX_CPUID;
	if (ioctl(fd, KVM_GET_CPUID2, cpuid) < 0)
		what = "KVM_GET_CPUID2";
	else if (ioctl(fd, KVM_GET_MP_STATE, &mp) < 0)
		what = "KVM_GET_MP_STATE";
	else if (ioctl(fd, KVM_GET_REGS, &regs) < 0)
		what = "KVM_GET_REGS";
	else if (ioctl(fd, KVM_GET_SREGS, &sregs) < 0)
		what = "KVM_GET_SREGS";
	else if (ioctl(fd, xsave_size > sizeof(struct kvm_xsave) ? KVM_GET_XSAVE2 : KVM_GET_XSAVE,
	               xsave) < 0)
		what = "KVM_GET_XSAVE";
	else if (has_xcrs && ioctl(fd, KVM_GET_XCRS, &xcrs) < 0)
		what = "KVM_GET_XCRS";
	else if (ioctl(fd, KVM_GET_DEBUGREGS, &dregs) < 0)
		what = "KVM_GET_DEBUGREGS";
	else if (ioctl(fd, KVM_GET_LAPIC, &lapic) < 0)
		what = "KVM_GET_LAPIC";
	else if (!(msrs = read_msrs(fd, msr_list)))
		what = "KVM_GET_MSRS";
	else if (ioctl(fd, KVM_GET_VCPU_EVENTS, &events) < 0)
		what = "KVM_GET_VCPU_EVENTS";
	if (what) {
		snap_fail(err, errlen, "vCPU %u: %s: %s", index, what,
		          strerror(errno ? errno : EINVAL));
		goto out;
	}
	snap_begin(w, SNAP_TAG_VCPU, index);
	put_part(w, cpuid, sizeof(*cpuid) + cpuid->nent * sizeof(cpuid->entries[0]));
	put_part(w, &mp, sizeof(mp));
	put_part(w, &regs, sizeof(regs));
	put_part(w, &sregs, sizeof(sregs));
	put_part(w, xsave, xlen);
	put_part(w, &xcrs, has_xcrs ? sizeof(xcrs) : 0);
	put_part(w, &dregs, sizeof(dregs));
	put_part(w, &lapic, sizeof(lapic));
	put_part(w, msrs, sizeof(*msrs) + msrs->nmsrs * sizeof(msrs->entries[0]));
	put_part(w, &events, sizeof(events));
	snap_end(w);
	rc = w->failed ? snap_fail(err, errlen, "vCPU %u: the state file cannot grow", index) : 0;
out:
	free(cpuid);
	free(xsave);
	free(msrs);
	return rc;
}

struct part {
	const uint8_t *p;
	uint32_t len;
};

/* Splits the section into its parts and checks every fixed size and every count. */
static int parse(const struct snap_section *s, struct part parts[VCPU_STATE_PARTS], char *err,
                 size_t errlen)
{
	static const size_t fixed[VCPU_STATE_PARTS] = {0,
	                                               sizeof(struct kvm_mp_state),
	                                               sizeof(struct kvm_regs),
	                                               sizeof(struct kvm_sregs),
	                                               0,
	                                               0,
	                                               sizeof(struct kvm_debugregs),
	                                               sizeof(struct kvm_lapic_state),
	                                               0,
	                                               sizeof(struct kvm_vcpu_events)};
	static const char *const names[VCPU_STATE_PARTS] = {
	    "CPUID", "MP state",   "regs",  "sregs", "XSAVE",
	    "XCRS",  "debug regs", "LAPIC", "MSRs",  "events"};
	struct snap_cursor c;

	snap_cursor_init(&c, s);
	for (unsigned i = 0; i < VCPU_STATE_PARTS; i++) {
		parts[i].len = snap_get_u32(&c);
		parts[i].p = c.p;
		if (c.bad || parts[i].len > c.left)
			return snap_fail(err, errlen, "vCPU %u: the %s part runs past the section",
			                 s->instance, names[i]);
		c.p += parts[i].len;
		c.left -= parts[i].len;
		if (fixed[i] && parts[i].len != fixed[i])
			return snap_fail(err, errlen,
			                 "vCPU %u: %s of %u bytes, this host's KVM has %zu",
			                 s->instance, names[i], parts[i].len, fixed[i]);
	}
	if (!snap_cursor_done(&c))
		return snap_fail(err, errlen, "vCPU %u: %zu bytes after the last part", s->instance,
		                 c.left);
	{
		struct kvm_cpuid2 h;

		if (parts[0].len < sizeof(h))
			return snap_fail(err, errlen, "vCPU %u: CPUID part too short", s->instance);
		memcpy(&h, parts[0].p, sizeof(h));
		if (h.nent > VCPU_MAX_CPUID ||
		    parts[0].len != sizeof(h) + h.nent * sizeof(struct kvm_cpuid_entry2))
			return snap_fail(err, errlen,
			                 "vCPU %u: CPUID part does not match its entry count",
			                 s->instance);
	}
	{
		struct kvm_msrs h;

		if (parts[8].len < sizeof(h))
			return snap_fail(err, errlen, "vCPU %u: MSR part too short", s->instance);
		memcpy(&h, parts[8].p, sizeof(h));
		if (h.nmsrs > VCPU_MAX_MSRS ||
		    parts[8].len != sizeof(h) + h.nmsrs * sizeof(struct kvm_msr_entry))
			return snap_fail(err, errlen, "vCPU %u: MSR part does not match its count",
			                 s->instance);
	}
	if (parts[4].len < sizeof(struct kvm_xsave) || parts[4].len > (1u << 20))
		return snap_fail(err, errlen, "vCPU %u: XSAVE part of %u bytes", s->instance,
		                 parts[4].len);
	if (parts[5].len != 0 && parts[5].len != sizeof(struct kvm_xcrs))
		return snap_fail(err, errlen, "vCPU %u: XCRS part of %u bytes", s->instance,
		                 parts[5].len);
	return 0;
}

int vcpu_state_restore(int fd, const struct snap_section *s, char *err, size_t errlen)
{
	static const unsigned long set[VCPU_STATE_PARTS] = {
	    KVM_SET_CPUID2, KVM_SET_MP_STATE,  KVM_SET_REGS,  KVM_SET_SREGS, KVM_SET_XSAVE,
	    KVM_SET_XCRS,   KVM_SET_DEBUGREGS, KVM_SET_LAPIC, KVM_SET_MSRS,  KVM_SET_VCPU_EVENTS};
	static const char *const names[VCPU_STATE_PARTS] = {
	    "KVM_SET_CPUID2", "KVM_SET_MP_STATE",   "KVM_SET_REGS",      "KVM_SET_SREGS",
	    "KVM_SET_XSAVE",  "KVM_SET_XCRS",       "KVM_SET_DEBUGREGS", "KVM_SET_LAPIC",
	    "KVM_SET_MSRS",   "KVM_SET_VCPU_EVENTS"};
	struct part parts[VCPU_STATE_PARTS];

	if (s->tag != SNAP_TAG_VCPU)
		return snap_fail(err, errlen, "not a vCPU section");
	if (parse(s, parts, err, errlen) < 0)
		return -1;
	for (unsigned i = 0; i < VCPU_STATE_PARTS; i++) {
		void *copy;
		int rc;

		if (i == 5 && parts[i].len == 0)
			continue; /* saved where the host had no XCRS */
		/* An aligned, writable copy: KVM takes a pointer to its structure (and
		 * KVM_SET_XSAVE reads the first 4096 bytes, the size of struct kvm_xsave, or all of
		 * XSAVE2's). */
		copy = malloc(parts[i].len);
		if (!copy)
			return snap_fail(err, errlen, "vCPU %u: out of memory", s->instance);
		memcpy(copy, parts[i].p, parts[i].len);
		rc = ioctl(fd, set[i], copy);
		if (i == 8 && rc >= 0 && (uint32_t)rc != ((struct kvm_msrs *)copy)->nmsrs) {
			uint32_t bad = ((struct kvm_msrs *)copy)->entries[rc].index;
			uint32_t total = ((struct kvm_msrs *)copy)->nmsrs;

			free(copy);
			return snap_fail(err, errlen,
			                 "vCPU %u: this host refuses MSR %#x (%d of %u set)",
			                 s->instance, bad, rc, total);
		}
		free(copy);
		if (rc < 0)
			return snap_fail(err, errlen, "vCPU %u: %s: %s", s->instance, names[i],
			                 strerror(errno));
	}
	return 0;
}
