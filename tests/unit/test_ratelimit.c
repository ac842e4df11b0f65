/* test_ratelimit.c - token-bucket arithmetic of virtio/ratelimit.c, on an injected clock. */
#include "tests/unit/unit.h"

#include "virtio/ratelimit.h"

#include <poll.h>
#include <unistd.h>

#define MS 1000000ULL

static struct rate_limiter_config limits(uint64_t bw_size, uint64_t bw_burst, uint64_t bw_ms,
                                         uint64_t ops_size, uint64_t ops_burst, uint64_t ops_ms)
{
	struct rate_limiter_config cfg = {
	    .bandwidth = {.set = true,
	                  .size = bw_size,
	                  .one_time_burst = bw_burst,
	                  .refill_time_ms = bw_ms},
	    .ops = {.set = true,
	            .size = ops_size,
	            .one_time_burst = ops_burst,
	            .refill_time_ms = ops_ms},
	};
	return cfg;
}

UNIT_TEST(ratelimit_unlimited_always_goes)
{
	struct ratelimit rl;

	CHECK_EQ(ratelimit_init_at(&rl, NULL, 0), 0);
	CHECK(ratelimit_timer_fd(&rl) >= 0);
	CHECK(ratelimit_unlimited(&rl));
	for (int i = 0; i < 1000; i++)
		CHECK(ratelimit_consume_at(&rl, UINT64_MAX, UINT64_MAX, 0));
	CHECK_EQ(ratelimit_bucket_tokens(&rl.bandwidth, 0), UINT64_MAX);
	ratelimit_destroy(&rl);
	ratelimit_destroy(&rl);
	CHECK_EQ(rl.timer_fd, -1);
}

UNIT_TEST(ratelimit_size_or_refill_zero_is_unlimited)
{
	struct rate_limiter_config cfg = limits(0, 5, 100, 10, 0, 0);
	struct ratelimit rl;

	CHECK_EQ(ratelimit_init_at(&rl, &cfg, 0), 0);
	CHECK(ratelimit_unlimited(&rl));
	CHECK(ratelimit_consume_at(&rl, 1 << 30, 1000, 0));
	ratelimit_destroy(&rl);
}

UNIT_TEST(ratelimit_starts_full_then_blocks)
{
	/* 1000 bytes per 100 ms. */
	struct rate_limiter_config cfg = limits(1000, 0, 100, 0, 0, 0);
	struct ratelimit rl;

	CHECK_EQ(ratelimit_init_at(&rl, &cfg, 0), 0);
	CHECK(!ratelimit_unlimited(&rl));
	CHECK_EQ(ratelimit_bucket_tokens(&rl.bandwidth, 0), 1000);
	CHECK(ratelimit_consume_at(&rl, 600, 1, 0));
	CHECK(ratelimit_consume_at(&rl, 400, 1, 0));
	CHECK_EQ(ratelimit_bucket_tokens(&rl.bandwidth, 0), 0);
	CHECK(!ratelimit_consume_at(&rl, 1, 1, 0));
	/* 1 token costs 100 ms / 1000 = 100 us. */
	CHECK_EQ(rl.blocked_until_ns, 100000);
	ratelimit_destroy(&rl);
}

UNIT_TEST(ratelimit_refills_continuously_and_exactly)
{
	struct rate_limiter_config cfg = limits(1000, 0, 100, 0, 0, 0);
	struct ratelimit rl;

	CHECK_EQ(ratelimit_init_at(&rl, &cfg, 0), 0);
	CHECK(ratelimit_consume_at(&rl, 1000, 1, 0));
	/* 10 ms refills 100 tokens. */
	CHECK_EQ(ratelimit_bucket_tokens(&rl.bandwidth, 10 * MS), 100);
	CHECK(ratelimit_consume_at(&rl, 100, 1, 10 * MS));
	CHECK_EQ(ratelimit_bucket_tokens(&rl.bandwidth, 10 * MS), 0);
	/* Fractions are not lost: 1000 refills of 50 us each (half a token) make 500 tokens. */
	uint64_t t = 10 * MS;
	for (int i = 0; i < 1000; i++) {
		t += 50000;
		CHECK(!ratelimit_consume_at(&rl, 1000, 1, t));
		rl.blocked_until_ns = 0; /* refused only to trigger a refill; clear the block */
	}
	CHECK_EQ(ratelimit_bucket_tokens(&rl.bandwidth, t), 500);
	/* Never above size. */
	CHECK_EQ(ratelimit_bucket_tokens(&rl.bandwidth, t + 1000 * MS), 1000);
	ratelimit_destroy(&rl);
}

UNIT_TEST(ratelimit_blocked_deadline_is_exact)
{
	struct rate_limiter_config cfg = limits(1000, 0, 100, 0, 0, 0);
	struct ratelimit rl;

	CHECK_EQ(ratelimit_init_at(&rl, &cfg, 0), 0);
	CHECK(ratelimit_consume_at(&rl, 1000, 1, 0));
	CHECK(!ratelimit_consume_at(&rl, 300, 1, 5 * MS)); /* 50 there, 250 missing */
	CHECK_EQ(rl.blocked_until_ns, 30 * MS);
	/* Before the deadline everything is refused, even what would fit (no overtaking). */
	CHECK(!ratelimit_consume_at(&rl, 1, 1, 29 * MS));
	CHECK_EQ(rl.blocked_until_ns, 30 * MS);
	CHECK(ratelimit_consume_at(&rl, 300, 1, 30 * MS));
	CHECK_EQ(rl.blocked_until_ns, 0);
	CHECK_EQ(ratelimit_bucket_tokens(&rl.bandwidth, 30 * MS), 0);
	ratelimit_destroy(&rl);
}

UNIT_TEST(ratelimit_one_time_burst_first_never_refilled)
{
	struct rate_limiter_config cfg = limits(100, 500, 100, 0, 0, 0);
	struct ratelimit rl;

	CHECK_EQ(ratelimit_init_at(&rl, &cfg, 0), 0);
	CHECK_EQ(ratelimit_bucket_tokens(&rl.bandwidth, 0), 600);
	CHECK(ratelimit_consume_at(&rl, 400, 1, 0));
	CHECK_EQ(rl.bandwidth.burst, 100);
	CHECK_EQ(ratelimit_bucket_tokens(&rl.bandwidth, 0), 200);
	/* 150: 100 from the burst, 50 from the bucket. */
	CHECK(ratelimit_consume_at(&rl, 150, 1, 0));
	CHECK_EQ(rl.bandwidth.burst, 0);
	CHECK_EQ(ratelimit_bucket_tokens(&rl.bandwidth, 0), 50);
	/* A long wait refills the bucket only. */
	CHECK_EQ(ratelimit_bucket_tokens(&rl.bandwidth, 10000 * MS), 100);
	ratelimit_destroy(&rl);
}

UNIT_TEST(ratelimit_ops_bucket_and_both_or_nothing)
{
	/* 10 ops per second, bandwidth 1000 bytes per second. */
	struct rate_limiter_config cfg = limits(1000, 0, 1000, 10, 0, 1000);
	struct ratelimit rl;

	CHECK_EQ(ratelimit_init_at(&rl, &cfg, 0), 0);
	for (int i = 0; i < 10; i++)
		CHECK(ratelimit_consume_at(&rl, 1, 1, 0));
	CHECK_EQ(ratelimit_bucket_tokens(&rl.bandwidth, 0), 990);
	/* Ops empty: the bytes are not taken either. */
	CHECK(!ratelimit_consume_at(&rl, 500, 1, 0));
	CHECK_EQ(ratelimit_bucket_tokens(&rl.bandwidth, 0), 990);
	CHECK_EQ(rl.blocked_until_ns, 100 * MS);
	CHECK(ratelimit_consume_at(&rl, 500, 1, 100 * MS));
	/* Bandwidth short (490 + 0 refilled) and ops short: the later deadline wins. */
	CHECK(!ratelimit_consume_at(&rl, 990, 1, 100 * MS));
	CHECK_EQ(rl.blocked_until_ns, 100 * MS + 490 * MS);
	ratelimit_destroy(&rl);
}

UNIT_TEST(ratelimit_oversized_request_goes_then_pays_debt)
{
	struct rate_limiter_config cfg = limits(1000, 0, 100, 0, 0, 0);
	struct ratelimit rl;

	CHECK_EQ(ratelimit_init_at(&rl, &cfg, 0), 0);
	CHECK(ratelimit_consume_at(&rl, 200, 1, 0));
	/* 5000 > size: goes (800 there, 4200 of debt = 420 ms). */
	CHECK(ratelimit_consume_at(&rl, 5000, 1, 0));
	CHECK_EQ(ratelimit_bucket_tokens(&rl.bandwidth, 0), 0);
	CHECK(!ratelimit_consume_at(&rl, 1, 1, 0));
	CHECK_EQ(rl.blocked_until_ns, 420 * MS + 100000);
	/* A second oversized request waits for the debt only. */
	rl.blocked_until_ns = 0;
	CHECK(!ratelimit_consume_at(&rl, 5000, 1, 0));
	CHECK_EQ(rl.blocked_until_ns, 420 * MS);
	CHECK(ratelimit_consume_at(&rl, 5000, 1, 420 * MS));
	/* Long-run rate holds: after 10200 bytes (1000 of them the initial bucket) the next
	 * 1000 go at 1020 ms, exactly 1000 bytes per 100 ms. */
	CHECK(!ratelimit_consume_at(&rl, 1000, 1, 420 * MS));
	CHECK_EQ(rl.blocked_until_ns, 1020 * MS);
	ratelimit_destroy(&rl);
}

UNIT_TEST(ratelimit_huge_sizes_do_not_overflow)
{
	struct rate_limiter_config cfg =
	    limits(UINT64_MAX, UINT64_MAX, UINT64_MAX, UINT64_MAX - 1, 0, UINT64_MAX);
	struct ratelimit rl;

	CHECK_EQ(ratelimit_init_at(&rl, &cfg, 0), 0);
	CHECK_EQ(ratelimit_bucket_tokens(&rl.bandwidth, 0), UINT64_MAX);
	CHECK(ratelimit_consume_at(&rl, UINT64_MAX, 1, 0)); /* from the burst */
	CHECK(ratelimit_consume_at(&rl, UINT64_MAX, 1, 0)); /* the whole bucket */
	/* refill_time is clamped to 2^62 ns: half of it refills half the bucket. */
	CHECK_EQ(ratelimit_bucket_tokens(&rl.bandwidth, 1ULL << 61), UINT64_MAX / 2);
	CHECK(!ratelimit_consume_at(&rl, UINT64_MAX, 1, 1ULL << 61));
	CHECK_EQ(rl.blocked_until_ns, 1ULL << 62);
	CHECK(ratelimit_consume_at(&rl, UINT64_MAX, 1, 1ULL << 62));
	CHECK_EQ(ratelimit_bucket_tokens(&rl.bandwidth, UINT64_MAX), UINT64_MAX);
	ratelimit_destroy(&rl);

	/* Tiny bucket, very slow refill, oversized request: the deadline saturates. */
	cfg = limits(1, 0, UINT64_MAX, 0, 0, 0);
	CHECK_EQ(ratelimit_init_at(&rl, &cfg, 0), 0);
	CHECK(ratelimit_consume_at(&rl, UINT64_MAX, 1, 0));
	CHECK(!ratelimit_consume_at(&rl, 1, 1, 1));
	CHECK_EQ(rl.blocked_until_ns, UINT64_MAX);
	CHECK(!ratelimit_consume_at(&rl, 1, 1, UINT64_MAX - 1));
	ratelimit_destroy(&rl);
}

UNIT_TEST(ratelimit_clock_going_back_refills_nothing)
{
	struct rate_limiter_config cfg = limits(1000, 0, 100, 0, 0, 0);
	struct ratelimit rl;

	CHECK_EQ(ratelimit_init_at(&rl, &cfg, 50 * MS), 0);
	CHECK(ratelimit_consume_at(&rl, 1000, 1, 50 * MS));
	CHECK_EQ(ratelimit_bucket_tokens(&rl.bandwidth, 10 * MS), 0);
	CHECK(!ratelimit_consume_at(&rl, 10, 1, 10 * MS));
	ratelimit_destroy(&rl);
}

UNIT_TEST(ratelimit_refund_caps_at_size)
{
	struct rate_limiter_config cfg = limits(1000, 0, 100, 10, 0, 100);
	struct ratelimit rl;

	CHECK_EQ(ratelimit_init_at(&rl, &cfg, 0), 0);
	CHECK(ratelimit_consume_at(&rl, 700, 3, 0));
	ratelimit_refund(&rl, 500, 1);
	CHECK_EQ(ratelimit_bucket_tokens(&rl.bandwidth, 0), 800);
	CHECK_EQ(ratelimit_bucket_tokens(&rl.ops, 0), 8);
	ratelimit_refund(&rl, 5000, 50);
	CHECK_EQ(ratelimit_bucket_tokens(&rl.bandwidth, 0), 1000);
	CHECK_EQ(ratelimit_bucket_tokens(&rl.ops, 0), 10);
	ratelimit_destroy(&rl);
}

UNIT_TEST(ratelimit_update_replaces_set_buckets_and_unblocks)
{
	struct rate_limiter_config cfg = limits(1000, 0, 100, 10, 0, 100);
	struct rate_limiter_config upd = {0};
	struct ratelimit rl;
	uint64_t exp = 0;

	CHECK_EQ(ratelimit_init_at(&rl, &cfg, 0), 0);
	CHECK(ratelimit_consume_at(&rl, 1000, 5, 0));
	CHECK(!ratelimit_consume_at(&rl, 1000, 1, 0));
	CHECK(rl.blocked_until_ns != 0);
	/* Nothing set: nothing changes. */
	CHECK_EQ(ratelimit_update_at(&rl, &upd, 0), 0);
	CHECK_EQ(rl.ops.size, 10);
	CHECK_EQ(rl.bandwidth.size, 1000);
	/* Bandwidth becomes 2000 per 100 ms, ops untouched (5 left). */
	upd.bandwidth =
	    (struct token_bucket_config){.set = true, .size = 2000, .refill_time_ms = 100};
	CHECK_EQ(ratelimit_update_at(&rl, &upd, 0), 0);
	CHECK_EQ(rl.blocked_until_ns, 0);
	CHECK_EQ(ratelimit_bucket_tokens(&rl.bandwidth, 0), 2000);
	CHECK_EQ(ratelimit_bucket_tokens(&rl.ops, 0), 5);
	/* The timer fires at once so the owner retries. */
	CHECK_EQ(read(ratelimit_timer_fd(&rl), &exp, sizeof(exp)), (ssize_t)sizeof(exp));
	CHECK(ratelimit_consume_at(&rl, 1500, 1, 0));
	/* A set bucket of size 0 removes the limit. */
	upd.bandwidth.size = 0;
	CHECK_EQ(ratelimit_update_at(&rl, &upd, 0), 0);
	CHECK(ratelimit_consume_at(&rl, 1 << 30, 1, 0));
	ratelimit_destroy(&rl);
}

UNIT_TEST(ratelimit_timer_fires_at_deadline)
{
	struct rate_limiter_config cfg = limits(1000, 0, 20, 0, 0, 0);
	struct ratelimit rl;
	struct pollfd pfd;
	uint64_t start;

	CHECK_EQ(ratelimit_init(&rl, &cfg), 0);
	CHECK(ratelimit_consume(&rl, 1000, 1));
	start = ratelimit_now_ns();
	CHECK(!ratelimit_consume(&rl, 500, 1)); /* about 10 ms away */
	pfd = (struct pollfd){.fd = ratelimit_timer_fd(&rl), .events = POLLIN};
	CHECK_EQ(poll(&pfd, 1, 1000), 1);
	CHECK(ratelimit_now_ns() - start >= 9 * MS);
	ratelimit_timer_ack(&rl);
	ratelimit_timer_ack(&rl); /* spurious: harmless */
	CHECK(ratelimit_consume(&rl, 500, 1));
	ratelimit_destroy(&rl);
}
