/*
 * ratelimit.h - Firecracker-style rate limiter: two token buckets (bytes and operations).
 *
 * Each bucket is {size, one_time_burst, refill_time_ms} (struct token_bucket_config):
 *   - it starts full (size tokens) plus a one_time_burst that is spent first and never refilled;
 *   - it refills continuously at size tokens per refill_time_ms, never above size;
 *   - size 0 or refill_time_ms 0 means "no limit" for that bucket (as Firecracker, which
 *     creates no bucket then).
 * A request (bytes, ops) goes ahead only when both buckets can pay for it, and then pays both;
 * a blocked request pays nothing.
 *
 * Requests bigger than the bucket (e.g. a 64 KiB TSO frame through a 16 KiB bucket): as in
 * Firecracker (TokenBucket::reduce -> OverConsumption), such a request is let through as long
 * as the bucket is not already in debt; it empties the bucket and leaves the excess as debt,
 * and the bucket blocks every request until refill has paid the debt back. So an oversized
 * request never starves, and the long-run rate still holds exactly.
 *
 * Blocking: when ratelimit_consume() says no, it arms the limiter's timerfd (CLOCK_MONOTONIC,
 * one-shot) for the moment the blocked request will fit, and every request before that moment
 * is refused too (so a small request cannot overtake a big one that waits; callers retry from
 * their timer handler, in order). The caller keeps the request, waits for EPOLLIN on
 * ratelimit_timer_fd(), calls ratelimit_timer_ack() and retries.
 *
 * Arithmetic is exact: the budget is kept in token-nanoseconds (tokens * refill_ns) in 128-bit
 * integers, so no refill is lost to rounding and huge sizes cannot overflow (refill times are
 * clamped to 2^62 ns, about 146 years).
 *
 * Threads: a limiter belongs to one device and is used only on the event-loop thread (or in a
 * single-threaded test); it takes no lock. The *_at variants take the current CLOCK_MONOTONIC
 * time in ns so tests can inject a clock; the plain ones read the clock themselves.
 */
#ifndef WISP_RATELIMIT_H
#define WISP_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

#include "vmm/config.h"

struct ratelimit_bucket {
	uint64_t size;      /* tokens; 0 = unlimited */
	uint64_t refill_ns; /* time to refill size tokens; 0 = unlimited */
	uint64_t burst;     /* one-time burst left, spent before the budget */
	__int128 budget;    /* token-ns, in [-(debt), size * refill_ns] */
	uint64_t last_ns;   /* time of the last refill */
};

struct ratelimit {
	struct ratelimit_bucket bandwidth; /* bytes */
	struct ratelimit_bucket ops;       /* operations (requests, frames) */
	int timer_fd;                      /* timerfd, -1 before init */
	uint64_t blocked_until_ns;         /* refuse every request before this time; 0 = not */
};

/* Monotonic clock in ns, the time base of the *_at functions. */
uint64_t ratelimit_now_ns(void);

/* Sets up rl from cfg (NULL = unlimited) with full buckets and creates its non-blocking
 * timerfd. 0, or -errno with nothing allocated. */
int ratelimit_init(struct ratelimit *rl, const struct rate_limiter_config *cfg);
int ratelimit_init_at(struct ratelimit *rl, const struct rate_limiter_config *cfg, uint64_t now_ns);
/* Closes the timerfd. Safe on a zeroed struct with timer_fd -1 and twice in a row. */
void ratelimit_destroy(struct ratelimit *rl);

/* True: go, the tokens are taken. False: blocked, nothing taken, the timerfd armed for when
 * the request will fit; retry it (first) after the timer fires. ops is 1 per frame/request. */
bool ratelimit_consume(struct ratelimit *rl, uint64_t bytes, uint64_t ops);
bool ratelimit_consume_at(struct ratelimit *rl, uint64_t bytes, uint64_t ops, uint64_t now_ns);
/* Gives back tokens taken by a request that did not happen after all (e.g. the guest had no
 * buffer for a frame). Never fills a bucket above its size. */
void ratelimit_refund(struct ratelimit *rl, uint64_t bytes, uint64_t ops);

/* The timerfd to watch for EPOLLIN, and its handler's first call (reads the expiry count;
 * a spurious wakeup is harmless). */
int ratelimit_timer_fd(const struct ratelimit *rl);
void ratelimit_timer_ack(struct ratelimit *rl);

/* PATCH: replaces the buckets whose config has .set (a set bucket with size 0 becomes
 * unlimited); others keep their state. Replaced buckets start full with their new burst. If
 * rl was blocked, the block is lifted and the timerfd fires at once so the owner retries.
 * cfg NULL changes nothing. 0, or -errno when the timer could not be armed. */
int ratelimit_update(struct ratelimit *rl, const struct rate_limiter_config *cfg);
int ratelimit_update_at(struct ratelimit *rl, const struct rate_limiter_config *cfg,
                        uint64_t now_ns);

/* True when neither bucket limits anything (devices may skip the limiter entirely). */
bool ratelimit_unlimited(const struct ratelimit *rl);
/* Whole tokens available now in a bucket (burst + budget, 0 while in debt); tests and
 * metrics. UINT64_MAX for an unlimited bucket. */
uint64_t ratelimit_bucket_tokens(const struct ratelimit_bucket *b, uint64_t now_ns);

/* Snapshot: both buckets (size, refill time, burst left, budget refilled to now) into the
 * open section, 80 bytes. Restore reads the same 80 bytes and takes the saved burst and
 * budget for each bucket whose size and refill time are still those configured (a budget
 * out of range is clamped, a burst never grows); other buckets stay full as configured. */
struct snap_writer;
struct snap_cursor;
#define RATELIMIT_SNAP_SIZE 80
void ratelimit_save(const struct ratelimit *rl, struct snap_writer *w);
void ratelimit_restore(struct ratelimit *rl, struct snap_cursor *c);

#endif
