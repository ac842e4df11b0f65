/* cpuid.c - per-vCPU CPUID normalisation (see cpuid.h). Leaf layouts: Intel SDM vol. 2A
 * "CPUID", AMD APM vol. 3 appendix E. */
#include "vmm/cpuid.h"

#include <string.h>

#define CPUID_1_ECX_HYPERVISOR (1u << 31)
#define CPUID_1_EDX_HTT        (1u << 28)
#define CPUID_TOPO_LEVEL_SMT   1u
#define CPUID_TOPO_LEVEL_CORE  2u

static const char wisp_brand[48] = "Wisp virtual CPU";

struct kvm_cpuid_entry2 *cpuid_find(struct kvm_cpuid2 *cpuid, unsigned function, unsigned index)
{
	for (unsigned i = 0; i < cpuid->nent; i++) {
		struct kvm_cpuid_entry2 *e = &cpuid->entries[i];

		if (e->function != function)
			continue;
		if ((e->flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX) && e->index != index)
			continue;
		return e;
	}
	return NULL;
}

uint64_t cpuid_xcr0_offered(struct kvm_cpuid2 *cpuid)
{
	const struct kvm_cpuid_entry2 *e = cpuid_find(cpuid, 0xd, 0);
	uint64_t mask;

	if (!e)
		return 1;
	mask = (uint64_t)e->edx << 32 | e->eax;
	return mask | 1; /* x87 state is always enabled (SDM 13.3) */
}

/* Bits needed to number n items (0 for n <= 1): the APIC-id shift of a topology level. */
static unsigned id_bits(unsigned n)
{
	unsigned bits = 0;

	while ((1u << bits) < n)
		bits++;
	return bits;
}

static void normalise_topology_leaf(struct kvm_cpuid_entry2 *e, unsigned index, unsigned nvcpus,
                                    unsigned threads)
{
	unsigned level = e->index;

	e->edx = index; /* x2APIC id of this vCPU, on every sub-leaf */
	if (level == 0) {
		e->eax = id_bits(threads);
		e->ebx = threads;
		e->ecx = (CPUID_TOPO_LEVEL_SMT << 8) | level;
	} else if (level == 1) {
		e->eax = id_bits(nvcpus);
		e->ebx = nvcpus;
		e->ecx = (CPUID_TOPO_LEVEL_CORE << 8) | level;
	} else {
		/* Invalid level: ends the enumeration. */
		e->eax = 0;
		e->ebx = 0;
		e->ecx = level;
	}
}

static void normalise_brand(struct kvm_cpuid2 *cpuid)
{
	struct kvm_cpuid_entry2 *b[3];
	bool empty = true;

	for (unsigned i = 0; i < 3; i++) {
		b[i] = cpuid_find(cpuid, 0x80000002 + i, 0);
		if (!b[i])
			return;
		if (b[i]->eax | b[i]->ebx | b[i]->ecx | b[i]->edx)
			empty = false;
	}
	if (!empty)
		return;
	for (unsigned i = 0; i < 3; i++)
		memcpy(&b[i]->eax, wisp_brand + 16 * i, 16);
}

void cpuid_normalise(struct kvm_cpuid2 *cpuid, unsigned index, unsigned nvcpus, bool smt)
{
	unsigned threads = (smt && nvcpus > 1) ? 2 : 1;

	for (unsigned i = 0; i < cpuid->nent; i++) {
		struct kvm_cpuid_entry2 *e = &cpuid->entries[i];

		switch (e->function) {
		case 0x1:
			/* EBX: [31:24] initial APIC id, [23:16] logical processors per package,
			 * [15:8] CLFLUSH line size in quadwords. */
			e->ebx =
			    (index << 24) | ((nvcpus & 0xff) << 16) | (8u << 8) | (e->ebx & 0xff);
			e->ecx |= CPUID_1_ECX_HYPERVISOR;
			if (nvcpus > 1)
				e->edx |= CPUID_1_EDX_HTT;
			else
				e->edx &= ~CPUID_1_EDX_HTT;
			break;
		case 0x4:
			/* EAX[31:26] cores per package - 1, [25:14] threads sharing this cache - 1:
			 * L1/L2 per core, L3 (level in EAX[7:5]) shared by the package. */
			e->eax &= 0x3fff;
			e->eax |= ((nvcpus / threads - 1) & 0x3f) << 26;
			e->eax |= (((e->eax >> 5) & 7) == 3 ? nvcpus - 1 : threads - 1) << 14;
			break;
		case 0xb:
		case 0x1f:
			normalise_topology_leaf(e, index, nvcpus, threads);
			break;
		case 0x8000001e:
			/* AMD: EAX extended APIC id, EBX[7:0] core id, [15:8] threads per core - 1.
			 */
			e->eax = index;
			e->ebx = (index / threads) | ((threads - 1) << 8);
			e->ecx = 0;
			break;
		default:
			/* Everything else, including the hypervisor leaves 0x40000000-0x4fffffff
			 * that PVM guests read, passes through as KVM reports it. */
			break;
		}
	}
	normalise_brand(cpuid);
}
