/* test_kvm.c - host facts that need no /dev/kvm: PVM's CPUID signature. */
#include "tests/unit/unit.h"
#include "vmm/kvm.h"

#include <stdlib.h>

/* A supported-CPUID table with the KVM signature leaf (max leaf max_leaf) and, when
 * vendor_ebx is not 0, KVM's vendor-features leaf 0x40000002 with that EBX. */
static struct kvm_cpuid2 *table(uint32_t max_leaf, uint32_t vendor_ebx)
{
	struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + 3 * sizeof(c->entries[0]));

	c->entries[c->nent++] = (struct kvm_cpuid_entry2){.function = 0x1, .ebx = 0x4d5650};
	c->entries[c->nent++] = (struct kvm_cpuid_entry2){.function = 0x40000000,
	                                                  .eax = max_leaf,
	                                                  .ebx = 0x4b4d564b,
	                                                  .ecx = 0x564b4d56,
	                                                  .edx = 0x4d};
	if (vendor_ebx)
		c->entries[c->nent++] =
		    (struct kvm_cpuid_entry2){.function = 0x40000002, .ebx = vendor_ebx};
	return c;
}

UNIT_TEST(kvm_cpuid_pvm_signature_found)
{
	struct kvm_cpuid2 *c = table(0x40000002, 0x4d5650);
	bool pvm = kvm_cpuid_is_pvm(c);

	free(c);
	CHECK(pvm);
}

UNIT_TEST(kvm_cpuid_pvm_signature_absent_or_other)
{
	struct kvm_cpuid2 *plain = table(0x40000001, 0);         /* stock KVM: no vendor leaf */
	struct kvm_cpuid2 *hidden = table(0x40000001, 0x4d5650); /* leaf beyond the max */
	struct kvm_cpuid2 *other = table(0x40000002, 0x12345678);
	bool a = kvm_cpuid_is_pvm(plain), b = kvm_cpuid_is_pvm(hidden), d = kvm_cpuid_is_pvm(other);

	free(plain);
	free(hidden);
	free(other);
	CHECK(!a);
	CHECK(!b); /* "PVM" in leaf 1's EBX or past the max leaf does not count */
	CHECK(!d);
	CHECK(!kvm_cpuid_is_pvm(NULL));
}
