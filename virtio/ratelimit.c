/*
 * ratelimit.c - token buckets with exact integer refill; see ratelimit.h for the semantics.
 *
 * A bucket's budget is in token-nanoseconds: refilling for dt ns adds dt * size, and a
 * request of n tokens costs n * refill_ns. Both sides stay integers, so a refill of a fraction
 * of a token is kept for the next call instead of being rounded away.
 *
 * Bounds (why 128 bits suffice): size < 2^64 and refill_ns <= 2^62, so the full bucket
 * size * refill_ns < 2^126; a debt is at most one request, n * refill_ns < 2^126; so the
 * budget stays within (-2^126, 2^126) and differences of two budgets within 2^127.
 */
#include "virtio/ratelimit.h"
#include "vmm/snapshot/snapfile.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define NS_PER_MS               1000000ULL
#define NS_PER_SEC              1000000000ULL
#define RATELIMIT_MAX_REFILL_NS (1ULL << 62)

typedef unsigned __int128 u128;

uint64_t ratelimit_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NS_PER_SEC + (uint64_t)ts.tv_nsec;
}

static bool bucket_unlimited(const struct ratelimit_bucket *b)
{
	return b->size == 0 || b->refill_ns == 0;
}

static __int128 bucket_capacity(const struct ratelimit_bucket *b)
{
	return (__int128)((u128)b->size * b->refill_ns);
}

/* A full bucket from a config; no config, size 0 or refill time 0 make it unlimited. */
static void bucket_setup(struct ratelimit_bucket *b, const struct token_bucket_config *tbc,
                         uint64_t now_ns)
{
	memset(b, 0, sizeof(*b));
	b->last_ns = now_ns;
	if (!tbc || !tbc->set || tbc->size == 0 || tbc->refill_time_ms == 0)
		return;
	b->size = tbc->size;
	if (tbc->refill_time_ms > RATELIMIT_MAX_REFILL_NS / NS_PER_MS)
		b->refill_ns = RATELIMIT_MAX_REFILL_NS;
	else
		b->refill_ns = tbc->refill_time_ms * NS_PER_MS;
	b->burst = tbc->one_time_burst;
	b->budget = bucket_capacity(b);
}

/* The budget refilled up to now_ns, without changing the bucket. A clock that goes back
 * refills nothing. */
static __int128 bucket_budget_at(const struct ratelimit_bucket *b, uint64_t now_ns)
{
	__int128 cap = bucket_capacity(b);
	u128 room, add;

	if (now_ns <= b->last_ns || b->budget >= cap)
		return b->budget < cap ? b->budget : cap;
	room = (u128)(cap - b->budget); /* < 2^127, see the top of the file */
	add = (u128)(now_ns - b->last_ns) * b->size;
	return add >= room ? cap : b->budget + (__int128)add;
}

static void bucket_refill(struct ratelimit_bucket *b, uint64_t now_ns)
{
	if (bucket_unlimited(b))
		return;
	b->budget = bucket_budget_at(b, now_ns);
	if (now_ns > b->last_ns)
		b->last_ns = now_ns;
}

/* Can b pay n tokens now (after bucket_refill)? If not, *wait_ns is how long until it can. */
static bool bucket_can_pay(const struct ratelimit_bucket *b, uint64_t n, uint64_t *wait_ns)
{
	uint64_t rest;
	__int128 need;
	u128 missing, wait;

	if (bucket_unlimited(b) || n <= b->burst)
		return true;
	rest = n - b->burst;
	need = (__int128)((u128)rest * b->refill_ns);
	if (b->budget >= need)
		return true;
	/* Oversized request (Firecracker's OverConsumption): goes unless already in debt. */
	if (rest > b->size) {
		if (b->budget >= 0)
			return true;
		need = 0; /* wait until the debt is repaid */
	}
	missing = (u128)(need - b->budget);
	wait = (missing + b->size - 1) / b->size;
	*wait_ns = wait > UINT64_MAX ? UINT64_MAX : (uint64_t)wait;
	return false;
}

static void bucket_pay(struct ratelimit_bucket *b, uint64_t n)
{
	if (bucket_unlimited(b))
		return;
	if (n <= b->burst) {
		b->burst -= n;
		return;
	}
	n -= b->burst;
	b->burst = 0;
	b->budget -= (__int128)((u128)n * b->refill_ns);
}

static int timer_arm_abs(int fd, uint64_t when_ns)
{
	struct itimerspec its = {0};

	if (fd < 0)
		return 0;
	if (when_ns == 0)
		when_ns = 1; /* an all-zero it_value would disarm the timer */
	its.it_value.tv_sec = (time_t)(when_ns / NS_PER_SEC);
	its.it_value.tv_nsec = (long)(when_ns % NS_PER_SEC);
	if (timerfd_settime(fd, TFD_TIMER_ABSTIME, &its, NULL) < 0)
		return -errno;
	return 0;
}

int ratelimit_init_at(struct ratelimit *rl, const struct rate_limiter_config *cfg, uint64_t now_ns)
{
	memset(rl, 0, sizeof(*rl));
	bucket_setup(&rl->bandwidth, cfg ? &cfg->bandwidth : NULL, now_ns);
	bucket_setup(&rl->ops, cfg ? &cfg->ops : NULL, now_ns);
	rl->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (rl->timer_fd < 0)
		return -errno;
	return 0;
}

int ratelimit_init(struct ratelimit *rl, const struct rate_limiter_config *cfg)
{
	return ratelimit_init_at(rl, cfg, ratelimit_now_ns());
}

void ratelimit_destroy(struct ratelimit *rl)
{
	if (rl->timer_fd >= 0)
		close(rl->timer_fd);
	rl->timer_fd = -1;
}

bool ratelimit_consume_at(struct ratelimit *rl, uint64_t bytes, uint64_t ops, uint64_t now_ns)
{
	uint64_t wait_bw = 0, wait_ops = 0, wait;
	bool ok_bw, ok_ops;

	if (rl->blocked_until_ns && now_ns < rl->blocked_until_ns)
		return false; /* the timer is armed already; keep the waiter first */
	rl->blocked_until_ns = 0;
	bucket_refill(&rl->bandwidth, now_ns);
	bucket_refill(&rl->ops, now_ns);
	ok_bw = bucket_can_pay(&rl->bandwidth, bytes, &wait_bw);
	ok_ops = bucket_can_pay(&rl->ops, ops, &wait_ops);
	if (ok_bw && ok_ops) {
		bucket_pay(&rl->bandwidth, bytes);
		bucket_pay(&rl->ops, ops);
		return true;
	}
	wait = wait_bw > wait_ops ? wait_bw : wait_ops;
	if (wait == 0)
		wait = 1;
	rl->blocked_until_ns = wait > UINT64_MAX - now_ns ? UINT64_MAX : now_ns + wait;
	/* A timerfd that cannot be armed (never seen: fd and clock are valid) would stall the
	 * device; nothing better to do than leave the deadline for the next retry. */
	(void)timer_arm_abs(rl->timer_fd, rl->blocked_until_ns);
	return false;
}

bool ratelimit_consume(struct ratelimit *rl, uint64_t bytes, uint64_t ops)
{
	if (ratelimit_unlimited(rl))
		return true;
	return ratelimit_consume_at(rl, bytes, ops, ratelimit_now_ns());
}

static void bucket_refund(struct ratelimit_bucket *b, uint64_t n)
{
	__int128 cap = bucket_capacity(b);
	u128 room;

	if (bucket_unlimited(b) || b->budget >= cap)
		return;
	room = (u128)(cap - b->budget);
	if ((u128)n * b->refill_ns >= room)
		b->budget = cap;
	else
		b->budget += (__int128)((u128)n * b->refill_ns);
}

void ratelimit_refund(struct ratelimit *rl, uint64_t bytes, uint64_t ops)
{
	bucket_refund(&rl->bandwidth, bytes);
	bucket_refund(&rl->ops, ops);
}

int ratelimit_timer_fd(const struct ratelimit *rl)
{
	return rl->timer_fd;
}

void ratelimit_timer_ack(struct ratelimit *rl)
{
	uint64_t expirations;

	if (rl->timer_fd >= 0 && read(rl->timer_fd, &expirations, sizeof(expirations)) < 0) {
		/* EAGAIN: spurious wakeup; nothing else can fail on a valid timerfd. */
	}
}

int ratelimit_update_at(struct ratelimit *rl, const struct rate_limiter_config *cfg,
                        uint64_t now_ns)
{
	if (!cfg)
		return 0;
	if (cfg->bandwidth.set)
		bucket_setup(&rl->bandwidth, &cfg->bandwidth, now_ns);
	if (cfg->ops.set)
		bucket_setup(&rl->ops, &cfg->ops, now_ns);
	if (!rl->blocked_until_ns)
		return 0;
	/* Lift the block and let the owner's timer handler retry under the new limits. */
	rl->blocked_until_ns = 0;
	return timer_arm_abs(rl->timer_fd, 1);
}

int ratelimit_update(struct ratelimit *rl, const struct rate_limiter_config *cfg)
{
	return ratelimit_update_at(rl, cfg, ratelimit_now_ns());
}

bool ratelimit_unlimited(const struct ratelimit *rl)
{
	return bucket_unlimited(&rl->bandwidth) && bucket_unlimited(&rl->ops) &&
	       !rl->blocked_until_ns;
}

uint64_t ratelimit_bucket_tokens(const struct ratelimit_bucket *b, uint64_t now_ns)
{
	__int128 budget;
	u128 tokens;

	if (bucket_unlimited(b))
		return UINT64_MAX;
	budget = bucket_budget_at(b, now_ns);
	tokens = budget > 0 ? (u128)budget / b->refill_ns : 0;
	tokens += b->burst;
	return tokens > UINT64_MAX ? UINT64_MAX : (uint64_t)tokens;
}

/* ---- snapshot ---- */

static void bucket_save(const struct ratelimit_bucket *b, uint64_t now_ns, struct snap_writer *w)
{
	__int128 budget = bucket_unlimited(b) ? 0 : bucket_budget_at(b, now_ns);

	snap_put_u64(w, b->size);
	snap_put_u64(w, b->refill_ns);
	snap_put_u64(w, b->burst);
	snap_put_u64(w, (uint64_t)(u128)budget);
	snap_put_u64(w, (uint64_t)((u128)budget >> 64));
}

void ratelimit_save(const struct ratelimit *rl, struct snap_writer *w)
{
	uint64_t now = ratelimit_now_ns();

	bucket_save(&rl->bandwidth, now, w);
	bucket_save(&rl->ops, now, w);
}

static void bucket_restore(struct ratelimit_bucket *b, struct snap_cursor *c, uint64_t now_ns)
{
	uint64_t size = snap_get_u64(c), refill_ns = snap_get_u64(c), burst = snap_get_u64(c);
	uint64_t lo = snap_get_u64(c), hi = snap_get_u64(c);
	__int128 budget = (__int128)(((u128)hi << 64) | lo), cap = bucket_capacity(b);

	/* Another configuration (or a malformed section): the bucket stays as configured. */
	if (c->bad || bucket_unlimited(b) || size != b->size || refill_ns != b->refill_ns)
		return;
	if (budget > cap)
		budget = cap;
	if (budget < -cap)
		budget = -cap;
	b->burst = burst < b->burst ? burst : b->burst;
	b->budget = budget;
	b->last_ns = now_ns;
}

void ratelimit_restore(struct ratelimit *rl, struct snap_cursor *c)
{
	uint64_t now = ratelimit_now_ns();

	bucket_restore(&rl->bandwidth, c, now);
	bucket_restore(&rl->ops, c, now);
}
