/*
 * test_cpuid.c - per-vCPU CPUID normalisation (vmm/cpuid.c) on a fake KVM_GET_SUPPORTED_CPUID.
 *
 * The fake table has the leaves cpuid_normalise() rewrites (1, 4, 0xb, 0x1f, 0x8000001e, the
 * brand string) filled with host-like garbage, plus leaves it must leave alone (0, 7, the KVM
 * hypervisor leaves). Expected values come from the Intel SDM vol. 2A "CPUID" and the AMD APM
 * vol. 3 appendix E, not from cpuid.c.
 */
#include "tests/unit/unit.h"
#include "vmm/cpuid.h"

#include <stdlib.h>

#define SIG KVM_CPUID_FLAG_SIGNIFCANT_INDEX

/* Leaf 4 EAX[4:0] cache type, [7:5] level; the host's [31:14] topology bits are garbage here. */
#define L4_EAX(type, level, garbage) ((garbage) | ((level) << 5) | (type))
#define L4_HOST_BITS                 0xfc07c000u /* [31:26] = 63, [25:14] = 0x1f: must be replaced */
#define L4_LOW_BITS                  0x100u      /* bit 8: self-initialising, must be kept */

static const struct kvm_cpuid_entry2 fake_entries[] = {
    {.function = 0x0, .eax = 0x1f, .ebx = 0x756e6547, .ecx = 0x6c65746e, .edx = 0x49656e69},
    /* Leaf 1: EBX low byte (brand index) 0x12 must survive; the host's HTT is set. */
    {.function = 0x1, .eax = 0x806ec, .ebx = 0xaabbcc12, .ecx = 0x7ffafbbf, .edx = 0xbfebfbff},
    {.function = 0x4,
     .index = 0,
     .flags = SIG,
     .eax = L4_EAX(1, 1, L4_HOST_BITS) | L4_LOW_BITS,
     .ebx = 0x01c0003f,
     .ecx = 0x3f,
     .edx = 0},
    {.function = 0x4,
     .index = 1,
     .flags = SIG,
     .eax = L4_EAX(2, 1, L4_HOST_BITS) | L4_LOW_BITS,
     .ebx = 0x01c0003f,
     .ecx = 0x3f,
     .edx = 0},
    {.function = 0x4,
     .index = 2,
     .flags = SIG,
     .eax = L4_EAX(3, 2, L4_HOST_BITS) | L4_LOW_BITS,
     .ebx = 0x01c0003f,
     .ecx = 0x3ff,
     .edx = 0},
    {.function = 0x4,
     .index = 3,
     .flags = SIG,
     .eax = L4_EAX(3, 3, L4_HOST_BITS) | L4_LOW_BITS,
     .ebx = 0x03c0003f,
     .ecx = 0x3fff,
     .edx = 0x6},
    {.function = 0x7, .index = 0, .flags = SIG, .ebx = 0x029c6fbf, .ecx = 0x40000000},
    {.function = 0xb, .index = 0, .flags = SIG, .eax = 1, .ebx = 2, .ecx = 0x100, .edx = 0x33},
    {.function = 0xb, .index = 1, .flags = SIG, .eax = 7, .ebx = 56, .ecx = 0x201, .edx = 0x33},
    {.function = 0xb, .index = 2, .flags = SIG, .eax = 9, .ebx = 9, .ecx = 0x302, .edx = 0x33},
    {.function = 0x1f, .index = 0, .flags = SIG, .eax = 1, .ebx = 2, .ecx = 0x100, .edx = 0x44},
    {.function = 0x1f, .index = 1, .flags = SIG, .eax = 7, .ebx = 56, .ecx = 0x201, .edx = 0x44},
    {.function = 0x1f, .index = 2, .flags = SIG, .eax = 9, .ebx = 9, .ecx = 0x502, .edx = 0x44},
    /* KVM's leaves: "KVMKVMKVM\0\0\0" and its feature bits. */
    {.function = 0x40000000, .eax = 0x40000001, .ebx = 0x4b4d564b, .ecx = 0x564b4d56, .edx = 0x4d},
    {.function = 0x40000001, .eax = 0x01007afb, .ebx = 0xdeadbeef, .ecx = 0x1, .edx = 0x2},
    {.function = 0x8000001e, .eax = 0x77, .ebx = 0x0105, .ecx = 0x0301, .edx = 0x9},
    {.function = 0x80000002},
    {.function = 0x80000003},
    {.function = 0x80000004},
};

#define NFAKE (sizeof(fake_entries) / sizeof(fake_entries[0]))

static struct kvm_cpuid2 *fake_cpuid(void)
{
	struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + NFAKE * sizeof(struct kvm_cpuid_entry2));

	if (!c)
		abort();
	c->nent = NFAKE;
	memcpy(c->entries, fake_entries, sizeof(fake_entries));
	return c;
}

/* The entry or a zeroed one, so a missing leaf fails a CHECK_EQ instead of crashing. */
static struct kvm_cpuid_entry2 leaf(struct kvm_cpuid2 *c, unsigned function, unsigned index)
{
	struct kvm_cpuid_entry2 *e = cpuid_find(c, function, index);

	return e ? *e : (struct kvm_cpuid_entry2){.function = 0xdead};
}

static void set_brand(struct kvm_cpuid2 *c, const char *text)
{
	char buf[48] = {0};

	strncpy(buf, text, sizeof(buf) - 1);
	for (unsigned i = 0; i < 3; i++)
		memcpy(&cpuid_find(c, 0x80000002 + i, 0)->eax, buf + 16 * i, 16);
}

static void get_brand(struct kvm_cpuid2 *c, char out[49])
{
	for (unsigned i = 0; i < 3; i++)
		memcpy(out + 16 * i, &cpuid_find(c, 0x80000002 + i, 0)->eax, 16);
	out[48] = '\0';
}

UNIT_TEST(cpuid_find_honours_significant_index)
{
	struct kvm_cpuid2 *c = fake_cpuid();
	struct kvm_cpuid_entry2 *e;

	e = cpuid_find(c, 0x4, 2);
	CHECK(e != NULL);
	CHECK_EQ(e->index, 2);
	CHECK_EQ(e->ecx, 0x3ff);
	e = cpuid_find(c, 0xb, 1);
	CHECK(e != NULL);
	CHECK_EQ(e->ebx, 56);
	/* Index significant and absent: nothing. */
	CHECK(cpuid_find(c, 0x4, 4) == NULL);
	CHECK(cpuid_find(c, 0xb, 3) == NULL);
	/* Index not significant: any index finds the one entry. */
	e = cpuid_find(c, 0x1, 7);
	CHECK(e != NULL);
	CHECK_EQ(e->eax, 0x806ec);
	CHECK(cpuid_find(c, 0x12345, 0) == NULL);
	CHECK(cpuid_find(c, 0x80000005, 0) == NULL);
	free(c);
}

UNIT_TEST(cpuid_leaf1_single_vcpu)
{
	struct kvm_cpuid2 *c = fake_cpuid();
	struct kvm_cpuid_entry2 e;

	cpuid_normalise(c, 0, 1, false);
	e = leaf(c, 0x1, 0);
	CHECK_EQ(e.eax, 0x806ec);
	CHECK_EQ(e.ebx >> 24, 0);          /* initial APIC id */
	CHECK_EQ((e.ebx >> 16) & 0xff, 1); /* logical processors */
	CHECK_EQ((e.ebx >> 8) & 0xff, 8);  /* CLFLUSH: 8 quadwords = 64 bytes */
	CHECK_EQ(e.ebx & 0xff, 0x12);      /* brand index kept */
	CHECK_EQ(e.ecx, 0x7ffafbbfu | (1u << 31));
	/* One logical processor: HTT cleared though the host set it; other bits kept. */
	CHECK_EQ(e.edx, 0xbfebfbffu & ~(1u << 28));
	free(c);
}

UNIT_TEST(cpuid_leaf1_apic_id_per_vcpu)
{
	for (unsigned nvcpus = 2; nvcpus <= 32; nvcpus += 30) {
		for (unsigned idx = 0; idx < nvcpus; idx++) {
			struct kvm_cpuid2 *c = fake_cpuid();
			struct kvm_cpuid_entry2 e;

			cpuid_normalise(c, idx, nvcpus, false);
			e = leaf(c, 0x1, 0);
			free(c);
			CHECK_EQ(e.ebx, (idx << 24) | (nvcpus << 16) | (8u << 8) | 0x12);
			CHECK(e.ecx & (1u << 31));
			CHECK(e.edx & (1u << 28));
		}
	}
}

UNIT_TEST(cpuid_leaf1_hypervisor_bit_set_from_clear_host)
{
	struct kvm_cpuid2 *c = fake_cpuid();
	struct kvm_cpuid_entry2 *e = cpuid_find(c, 0x1, 0);

	e->ecx = 0;
	e->edx = 0;
	cpuid_normalise(c, 1, 2, false);
	CHECK_EQ(e->ecx, 1u << 31);
	CHECK_EQ(e->edx, 1u << 28);
	free(c);
}

UNIT_TEST(cpuid_leaf_b_no_smt)
{
	struct kvm_cpuid2 *c = fake_cpuid();
	struct kvm_cpuid_entry2 e;

	cpuid_normalise(c, 3, 4, false);
	/* Sub-leaf 0, SMT level: 1 thread per core, shift 0. */
	e = leaf(c, 0xb, 0);
	CHECK_EQ(e.eax, 0);
	CHECK_EQ(e.ebx, 1);
	CHECK_EQ(e.ecx, 0x100);
	CHECK_EQ(e.edx, 3);
	/* Sub-leaf 1, core level: 4 logical processors, shift 2. */
	e = leaf(c, 0xb, 1);
	CHECK_EQ(e.eax, 2);
	CHECK_EQ(e.ebx, 4);
	CHECK_EQ(e.ecx, 0x201);
	CHECK_EQ(e.edx, 3);
	/* Sub-leaf 2: invalid level type (0), ECX[7:0] echoes the sub-leaf. */
	e = leaf(c, 0xb, 2);
	CHECK_EQ(e.eax, 0);
	CHECK_EQ(e.ebx, 0);
	CHECK_EQ(e.ecx, 2);
	CHECK_EQ(e.edx, 3);
	free(c);
}

UNIT_TEST(cpuid_leaf_b_smt)
{
	struct kvm_cpuid2 *c = fake_cpuid();
	struct kvm_cpuid_entry2 e;

	cpuid_normalise(c, 5, 6, true);
	e = leaf(c, 0xb, 0);
	CHECK_EQ(e.eax, 1); /* 2 threads: 1 bit */
	CHECK_EQ(e.ebx, 2);
	CHECK_EQ(e.ecx, 0x100);
	CHECK_EQ(e.edx, 5);
	e = leaf(c, 0xb, 1);
	CHECK_EQ(e.eax, 3); /* 6 logical processors: 3 bits */
	CHECK_EQ(e.ebx, 6);
	CHECK_EQ(e.ecx, 0x201);
	CHECK_EQ(e.edx, 5);
	free(c);
}

UNIT_TEST(cpuid_leaf_b_smt_single_vcpu_has_one_thread)
{
	struct kvm_cpuid2 *c = fake_cpuid();
	struct kvm_cpuid_entry2 e;

	cpuid_normalise(c, 0, 1, true);
	e = leaf(c, 0xb, 0);
	CHECK_EQ(e.eax, 0);
	CHECK_EQ(e.ebx, 1);
	e = leaf(c, 0xb, 1);
	CHECK_EQ(e.eax, 0);
	CHECK_EQ(e.ebx, 1);
	CHECK_EQ(e.edx, 0);
	free(c);
}

UNIT_TEST(cpuid_leaf_1f_matches_leaf_b)
{
	struct kvm_cpuid2 *c = fake_cpuid();

	cpuid_normalise(c, 7, 8, true);
	for (unsigned sub = 0; sub < 3; sub++) {
		struct kvm_cpuid_entry2 b = leaf(c, 0xb, sub), f = leaf(c, 0x1f, sub);

		CHECK_EQ(f.eax, b.eax);
		CHECK_EQ(f.ebx, b.ebx);
		CHECK_EQ(f.ecx, b.ecx);
		CHECK_EQ(f.edx, 7);
	}
	CHECK_EQ(leaf(c, 0x1f, 1).eax, 3);
	CHECK_EQ(leaf(c, 0x1f, 1).ebx, 8);
	CHECK_EQ(leaf(c, 0x1f, 2).ecx, 2); /* the host's 0x502 (die level) is gone */
	free(c);
}

UNIT_TEST(cpuid_leaf4_no_smt)
{
	struct kvm_cpuid2 *c = fake_cpuid();

	cpuid_normalise(c, 0, 4, false);
	for (unsigned i = 0; i < 4; i++) {
		struct kvm_cpuid_entry2 e = leaf(c, 0x4, i);
		unsigned level = (e.eax >> 5) & 7;

		CHECK_EQ(e.eax & 0x3fff, fake_entries[2 + i].eax & 0x3fff);
		CHECK_EQ(e.eax >> 26, 3); /* 4 cores - 1 */
		/* L1/L2 private to a core (1 thread), L3 shared by all 4. */
		CHECK_EQ((e.eax >> 14) & 0xfff, level == 3 ? 3 : 0);
		CHECK_EQ(e.ebx, fake_entries[2 + i].ebx);
		CHECK_EQ(e.ecx, fake_entries[2 + i].ecx);
		CHECK_EQ(e.edx, fake_entries[2 + i].edx);
	}
	free(c);
}

UNIT_TEST(cpuid_leaf4_smt)
{
	struct kvm_cpuid2 *c = fake_cpuid();
	struct kvm_cpuid_entry2 e;

	cpuid_normalise(c, 1, 8, true);
	e = leaf(c, 0x4, 0);                /* L1d */
	CHECK_EQ(e.eax >> 26, 3);           /* 4 cores - 1 */
	CHECK_EQ((e.eax >> 14) & 0xfff, 1); /* 2 threads share it */
	e = leaf(c, 0x4, 2);                /* L2 */
	CHECK_EQ((e.eax >> 14) & 0xfff, 1);
	e = leaf(c, 0x4, 3); /* L3 */
	CHECK_EQ(e.eax >> 26, 3);
	CHECK_EQ((e.eax >> 14) & 0xfff, 7);
	CHECK_EQ(e.eax & 0x3fff, L4_EAX(3, 3, 0) | L4_LOW_BITS);
	free(c);
}

UNIT_TEST(cpuid_leaf4_single_vcpu_clears_host_topology)
{
	struct kvm_cpuid2 *c = fake_cpuid();

	cpuid_normalise(c, 0, 1, false);
	for (unsigned i = 0; i < 4; i++)
		CHECK_EQ(leaf(c, 0x4, i).eax >> 14, 0);
	free(c);
}

UNIT_TEST(cpuid_amd_8000001e)
{
	struct kvm_cpuid2 *c = fake_cpuid();
	struct kvm_cpuid_entry2 e;

	cpuid_normalise(c, 5, 8, true);
	e = leaf(c, 0x8000001e, 0);
	CHECK_EQ(e.eax, 5);             /* extended APIC id */
	CHECK_EQ(e.ebx, 2 | (1u << 8)); /* core 2, 2 threads per core */
	CHECK_EQ(e.ecx, 0);             /* node 0, one node per package */
	CHECK_EQ(e.edx, 0x9);
	free(c);

	c = fake_cpuid();
	cpuid_normalise(c, 5, 8, false);
	e = leaf(c, 0x8000001e, 0);
	CHECK_EQ(e.eax, 5);
	CHECK_EQ(e.ebx, 5); /* core 5, 1 thread per core */
	CHECK_EQ(e.ecx, 0);
	free(c);
}

UNIT_TEST(cpuid_brand_filled_when_empty)
{
	struct kvm_cpuid2 *c = fake_cpuid();
	char brand[49];

	cpuid_normalise(c, 0, 1, false);
	get_brand(c, brand);
	CHECK_STR_EQ(brand, "Wisp virtual CPU");
	/* NUL-padded to 48 bytes: nothing after the text. */
	for (unsigned i = strlen("Wisp virtual CPU"); i < 48; i++)
		CHECK_EQ(brand[i], 0);
	free(c);
}

UNIT_TEST(cpuid_brand_kept_when_host_has_one)
{
	struct kvm_cpuid2 *c = fake_cpuid();
	static const char host[] = "Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz";
	char brand[49];

	set_brand(c, host);
	cpuid_normalise(c, 0, 1, false);
	get_brand(c, brand);
	CHECK_STR_EQ(brand, host);
	free(c);

	/* One non-zero byte in the last leaf is enough to count as a brand. */
	c = fake_cpuid();
	cpuid_find(c, 0x80000004, 0)->edx = 0x20000000;
	cpuid_normalise(c, 0, 1, false);
	CHECK_EQ(cpuid_find(c, 0x80000002, 0)->eax, 0);
	CHECK_EQ(cpuid_find(c, 0x80000004, 0)->edx, 0x20000000);
	free(c);
}

UNIT_TEST(cpuid_brand_needs_all_three_leaves)
{
	struct kvm_cpuid2 *c = fake_cpuid();

	/* Drop 0x80000004 (the last entry): the brand cannot be written, the others stay 0. */
	c->nent--;
	cpuid_normalise(c, 0, 1, false);
	CHECK_EQ(cpuid_find(c, 0x80000002, 0)->eax, 0);
	CHECK_EQ(cpuid_find(c, 0x80000003, 0)->edx, 0);
	CHECK(cpuid_find(c, 0x80000004, 0) == NULL);
	free(c);
}

UNIT_TEST(cpuid_untouched_leaves_pass_through_byte_for_byte)
{
	static const unsigned untouched[] = {0x0, 0x7, 0x40000000, 0x40000001};

	for (unsigned smt = 0; smt < 2; smt++) {
		struct kvm_cpuid2 *c = fake_cpuid();

		cpuid_normalise(c, 3, 4, smt);
		for (unsigned i = 0; i < NFAKE; i++) {
			for (unsigned j = 0; j < sizeof(untouched) / sizeof(untouched[0]); j++) {
				if (fake_entries[i].function != untouched[j])
					continue;
				if (memcmp(&c->entries[i], &fake_entries[i],
				           sizeof(fake_entries[i])) != 0) {
					free(c);
					UNIT_FAIL("leaf 0x%x changed", fake_entries[i].function);
				}
			}
		}
		CHECK_EQ(c->nent, NFAKE);
		free(c);
	}
}

UNIT_TEST(cpuid_normalise_again_gives_same_result_as_fresh)
{
	/* vcpu setup may normalise one copy for several indices: nothing may accumulate. */
	struct kvm_cpuid2 *reused = fake_cpuid(), *fresh = fake_cpuid();
	int diff;

	cpuid_normalise(reused, 0, 4, true);
	cpuid_normalise(reused, 3, 4, true);
	cpuid_normalise(fresh, 3, 4, true);
	diff = memcmp(reused->entries, fresh->entries, NFAKE * sizeof(fresh->entries[0]));
	free(reused);
	free(fresh);
	CHECK_EQ(diff, 0);
}

/* A vCPU starts with XCR0 = what leaf 0xD sub-leaf 0 offers (EDX:EAX), x87 always included,
 * and x87 only when the leaf is missing; sub-leaf 1 (XSAVES) does not count. */
UNIT_TEST(cpuid_xcr0_offered_is_leaf_0xd_subleaf_0)
{
	struct {
		struct kvm_cpuid2 hdr;
		struct kvm_cpuid_entry2 e[3];
	} t = {.hdr.nent = 3,
	       .e = {{.function = 0x1, .ecx = 1u << 26},
	             {.function = 0xd, .index = 1, .flags = SIG, .eax = 0xf, .ecx = 0x1800},
	             {.function = 0xd,
	              .index = 0,
	              .flags = SIG,
	              .eax = 0x2e7,
	              .edx = 0x6,
	              .ebx = 576,
	              .ecx = 2696}}};

	CHECK_EQ(cpuid_xcr0_offered(&t.hdr), 0x6000002e7ull);
	t.e[2].eax = 0x6; /* a table that forgets x87 still enables it */
	t.e[2].edx = 0;
	CHECK_EQ(cpuid_xcr0_offered(&t.hdr), 0x7);
	t.hdr.nent = 1; /* no leaf 0xD: x87 only */
	CHECK_EQ(cpuid_xcr0_offered(&t.hdr), 1);
}
