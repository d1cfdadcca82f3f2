/*
 * dispatcher-pool on Zephyr: several pools in one image (DISPATCHER_POOL_DEFINE).
 *   - region cost per pool: entries * DISPATCHER_POOL_STRIDE(payload), printed;
 *   - isolation: a flooded pool never starves another;
 *   - one module set (a pointer and a value target) fed by two pools of different payloads,
 *     value copies zero-filled past message_len, and a receiver woken at once by a value put;
 *   - refusals across pools (msg_pool_of, never-created pool, one past the end, mid-descriptor);
 *   - a thread blocked on one pool is not woken by frees of another;
 *   - the leak report with a fan-out where one consumer is stuck;
 *   - DISPATCHER_POOL_ENTRIES_FOR() == pool_entries_for() on a grid.
 * The host version is tests/c/test_pools.c. Every test leaves every pool as it found it
 * (CONFIG_ZTEST_SHUFFLE=y: random order, repeated).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <string.h>

#include <zephyr/kernel.h>
#include <zephyr/sys/iterable_sections.h>
#include <zephyr/ztest.h>

#include "msg_pool_module.h"
#include "msg_pool.h"
#include "dispatcher_pool_zephyr.h"

DISPATCHER_POOL_DEFINE(s64, 32, 64);  /* streaming: many small entries */
DISPATCHER_POOL_DEFINE(c256, 4, 256); /* control: few large entries */
DISPATCHER_POOL_DEFINE_NOINIT(never, 2, 16, 0);

/* Usable in constant expressions (array sizes, DISPATCHER_POOL_DEFINE). */
BUILD_ASSERT(DISPATCHER_POOL_ENTRIES_FOR(64, 250, 2) == 32);
BUILD_ASSERT(DISPATCHER_POOL_ENTRIES_FOR(0, 250, 2) == 8);
BUILD_ASSERT(DISPATCHER_POOL_ENTRIES_FOR(UINT32_MAX, UINT32_MAX, UINT32_MAX) == 1024);

K_MSGQ_DEFINE(ptr_q, sizeof(pool_msg_t *), 8, sizeof(void *));
K_MSGQ_DEFINE(val_q, sizeof(dispatcher_msg_t), 4, sizeof(void *));
K_MSGQ_DEFINE(fast_q, sizeof(pool_msg_t *), 16, sizeof(void *));
K_MSGQ_DEFINE(stuck_q, sizeof(pool_msg_t *), 16, sizeof(void *));
static msg_target_t ptr_t, val_t, fast_t, stuck_t;

static struct pool_stats st(const struct msg_pool *p)
{
	struct pool_stats s;

	zassert_ok(msg_pool_stats(p, &s), "pool %s", p->name);
	return s;
}

static void check_clean(const struct msg_pool *p)
{
	struct pool_check_report r;

	zassert_ok(msg_pool_check(p, &r), "pool %s", p->name);
	zassert_equal(r.held, 0, "pool %s: %zu held", p->name, r.held);
	zassert_equal(r.free, p->config.entries);
	zassert_equal(st(p).pool_in_use, 0);
}

static void *setup(void)
{
	zassert_ok(dispatcher_pool_boot_status(), "boot hook: %d", dispatcher_pool_boot_status());
	zassert_true(DISPATCHER_POOL_ABI_OK());
	return NULL;
}

static void before(void *f)
{
	ARG_UNUSED(f);
	zassert_ok(msg_target_init(&ptr_t, &ptr_q, DISPATCH_MODE_POINTER, 11));
	zassert_ok(msg_target_init(&val_t, &val_q, DISPATCH_MODE_VALUE, 12));
	zassert_ok(msg_target_init(&fast_t, &fast_q, DISPATCH_MODE_POINTER, 11));
	zassert_ok(msg_target_init(&stuck_t, &stuck_q, DISPATCH_MODE_POINTER, 12));
}

static void after(void *f)
{
	ARG_UNUSED(f);
	(void)msg_target_purge(&ptr_t);
	(void)msg_target_purge(&val_t);
	(void)msg_target_purge(&fast_t);
	(void)msg_target_purge(&stuck_t);
	check_clean(&s64);
	check_clean(&c256);
	check_clean(&dispatcher_pool_default);
}

ZTEST(dispatcher_pool_pools, test_region_bytes_and_list)
{
	size_t header = offsetof(dispatcher_msg_t, data);
	struct pool_stats s = st(&s64), c = st(&c256);
	bool seen_s64 = false, seen_c256 = false, seen_never = false, seen_default = false;
	size_t created = 0;

	TC_PRINT("region bytes: s64 (32 x 64 B) = %zu, c256 (4 x 256 B) = %zu; stride %u / %u; "
		 "header %zu, sizeof(dispatcher_msg_t) %zu, descriptors %zu + %zu B\n",
		 sizeof(s64_region), sizeof(c256_region), s.stride, c.stride, header,
		 sizeof(dispatcher_msg_t), sizeof(s64_descs), sizeof(c256_descs));
	zassert_equal(sizeof(s64_region), 32 * DISPATCHER_POOL_STRIDE(64));
	zassert_equal(sizeof(c256_region), 4 * DISPATCHER_POOL_STRIDE(256));
	zassert_equal(s64.region_bytes, sizeof(s64_region));
	zassert_equal(c256.region_bytes, sizeof(c256_region));
	zassert_true(DISPATCHER_POOL_STRIDE(64) - (header + 64) < DISPATCHER_MSG_ALIGN);
	zassert_true(sizeof(s64_region) < 32 * sizeof(dispatcher_msg_t));
	zassert_equal(s.stride, DISPATCHER_POOL_STRIDE(64));
	zassert_equal(s.stride, msg_pool_stride(64));
	zassert_equal(c.stride, msg_pool_stride(256));
	zassert_equal(s.pool_total, 32);
	zassert_equal(s.payload_size, 64);
	zassert_equal(c.pool_total, 4);
	zassert_equal(c.payload_size, 256);
	zassert_equal(sizeof(s64_descs), 32 * sizeof(pool_msg_t));
	zassert_equal(strcmp(s64.name, "s64"), 0);
	zassert_equal(strcmp(s64.placement, DISPATCHER_POOL_PLACEMENT_INTERNAL), 0);
	zassert_true(s64.boot_init);
	zassert_false(never.boot_init);

	/* The section holds every definition; the created list only those created. */
	STRUCT_SECTION_FOREACH(msg_pool, p) {
		seen_s64 |= p == &s64;
		seen_c256 |= p == &c256;
		seen_never |= p == &never;
		seen_default |= p == &dispatcher_pool_default;
	}
	zassert_true(seen_s64 && seen_c256 && seen_never && seen_default);
	for (struct msg_pool *p = msg_pool_next(NULL); p != NULL; p = msg_pool_next(p)) {
		zassert_not_equal(p, &never);
		created++;
	}
	zassert_equal(created, 3); /* default, s64, c256 */
	zassert_equal(msg_pool_default(), &dispatcher_pool_default);

	static char json[2048];
	int n = msg_pool_stats_json_all(json, sizeof(json), NULL, 0);

	zassert_true(n > 0, "rc %d", n);
	zassert_not_null(strstr(json, "\"name\":\"s64\",\"pool_total\":32,"));
	zassert_not_null(strstr(json, "\"name\":\"c256\",\"pool_total\":4,"));
	zassert_not_null(strstr(json, "\"name\":\"default\""));
	zassert_is_null(strstr(json, "never"));
}

ZTEST(dispatcher_pool_pools, test_flooded_pool_does_not_starve_another)
{
	pool_msg_t *flood[32];
	struct pool_stats s0 = st(&s64), c0 = st(&c256);
	pool_msg_t *c = NULL;
	int n = 0;

	while (n < 32 && (flood[n] = msg_pool_try_alloc(&s64)) != NULL) {
		zassert_equal(msg_pool_of(flood[n]), &s64);
		n++;
	}
	zassert_equal(n, 32);
	zassert_is_null(msg_pool_try_alloc(&s64)); /* flooded: empty */
	zassert_equal(msg_pool_alloc(&s64, 0, &c), -ENOMEM);
	zassert_equal(st(&s64).pool_alloc_failures - s0.pool_alloc_failures, 2);

	/* The control pool still allocates, without waiting. */
	zassert_ok(msg_pool_alloc(&c256, 0, &c));
	zassert_not_null(c);
	zassert_equal(msg_pool_of(c), &c256);
	zassert_equal(st(&c256).pool_alloc_failures, c0.pool_alloc_failures);
	zassert_equal(st(&c256).pool_in_use, 1);
	/* ... and so does the default pool. */
	pool_msg_t *d = pool_try_alloc();

	zassert_not_null(d);
	zassert_equal(msg_pool_of(d), &dispatcher_pool_default);
	zassert_ok(msg_unref(d));

	zassert_ok(msg_unref(c));
	for (int i = 0; i < n; i++) {
		zassert_ok(msg_unref(flood[i])); /* back to s64, whoever frees it */
	}
	zassert_equal(st(&s64).frees - s0.frees, 32);
}

/* A receiver of higher priority than the producer, blocked on the value target. */
static K_THREAD_STACK_DEFINE(rx_stack, 2048);
static K_THREAD_STACK_DEFINE(tx_stack, 2048);
static struct k_thread rx_thread, tx_thread;
static dispatcher_msg_t rx_buf;
static volatile bool rx_done;
static int rx_rc;
static bool rx_done_when_broadcast_returned;
static int tx_rc;

static void rx_fn(void *a, void *b, void *c)
{
	ARG_UNUSED(a);
	ARG_UNUSED(b);
	ARG_UNUSED(c);
	rx_rc = msg_receive(&val_t, DISPATCHER_WAIT_FOREVER, NULL, &rx_buf);
	rx_done = true;
}

static void tx_fn(void *a, void *b, void *c)
{
	msg_target_t *const targets[] = {&val_t};
	pool_msg_t *p = msg_pool_try_alloc(&s64);

	ARG_UNUSED(a);
	ARG_UNUSED(b);
	ARG_UNUSED(c);
	if (p == NULL) {
		tx_rc = -ENOMEM;
		return;
	}
	p->msg->message_len = 3;
	memcpy(p->msg->data, "abc", 3);
	tx_rc = msg_broadcast(p, targets, 1);
	/* No yield, no sleep: the put itself must have switched to the receiver. */
	rx_done_when_broadcast_returned = rx_done;
}

ZTEST(dispatcher_pool_pools, test_one_module_set_two_pools)
{
	msg_target_t *const both[] = {&ptr_t, &val_t};
	static dispatcher_msg_t v;
	pool_msg_t *a = msg_pool_try_alloc(&s64);
	pool_msg_t *b = msg_pool_try_alloc(&c256);
	pool_msg_t *r = NULL;
	struct pool_stats s0 = st(&s64);
	bool ok = true;

	zassert_not_null(a);
	zassert_not_null(b);
	memset(a->msg->data, 0xA5, 64);
	a->msg->message_len = 64;
	a->msg->source = 1;
	memset(b->msg->data, 0x5A, 200);
	b->msg->message_len = 200;
	b->msg->source = 2;
	zassert_equal(msg_broadcast(a, both, 2), 2);
	zassert_equal(msg_broadcast(b, both, 2), 2);

	/* Too long for s64's 64 B payload (not for DISPATCHER_PAYLOAD_MAX): refused, consumed. */
	pool_msg_t *big = msg_pool_try_alloc(&s64);

	zassert_not_null(big);
	big->msg->message_len = 65;
	zassert_equal(msg_broadcast(big, both, 2), -EMSGSIZE);
	zassert_equal(st(&s64).pool_drop_count - s0.pool_drop_count, 1);

	/* Pointer target: the entries themselves, each of its own pool. */
	zassert_ok(msg_receive(&ptr_t, 0, &r, NULL));
	zassert_equal(r, a);
	zassert_equal(msg_pool_of(r), &s64);
	zassert_ok(msg_unref(r));
	zassert_ok(msg_receive(&ptr_t, 0, &r, NULL));
	zassert_equal(r, b);
	zassert_equal(msg_pool_of(r), &c256);
	zassert_ok(msg_unref(r));

	/* Value target: header + message_len bytes, the rest of the item zero. */
	memset(&v, 0xEE, sizeof(v));
	zassert_ok(msg_receive(&val_t, 0, NULL, &v));
	zassert_equal(v.message_len, 64);
	zassert_equal(v.source, 1);
	for (int i = 0; i < DISPATCHER_PAYLOAD_MAX; i++) {
		ok &= v.data[i] == (i < 64 ? 0xA5 : 0);
	}
	zassert_true(ok, "value copy from the 64 B pool not zero-filled");
	memset(&v, 0xEE, sizeof(v));
	zassert_ok(msg_receive(&val_t, 0, NULL, &v));
	zassert_equal(v.message_len, 200);
	zassert_equal(v.source, 2);
	for (int i = 0; i < DISPATCHER_PAYLOAD_MAX; i++) {
		ok &= v.data[i] == (i < 200 ? 0x5A : 0);
	}
	zassert_true(ok, "value copy from the 256 B pool not zero-filled");
	zassert_equal(st(&s64).pool_in_use, 0);
	zassert_equal(st(&c256).pool_in_use, 0);

	/* A short message put through the bounce buffer wakes a higher-priority receiver at once
	 * (the put runs under a spinlock; the port reschedules after unlocking).
	 */
	rx_done = false;
	rx_done_when_broadcast_returned = false;
	rx_rc = 1;
	tx_rc = 0;
	k_thread_create(&rx_thread, rx_stack, K_THREAD_STACK_SIZEOF(rx_stack), rx_fn, NULL, NULL,
			NULL, K_PRIO_PREEMPT(4), 0, K_NO_WAIT);
	k_msleep(10); /* the receiver blocks in msg_receive */
	zassert_false(rx_done);
	k_thread_create(&tx_thread, tx_stack, K_THREAD_STACK_SIZEOF(tx_stack), tx_fn, NULL, NULL,
			NULL, K_PRIO_PREEMPT(5), 0, K_NO_WAIT);
	zassert_ok(k_thread_join(&tx_thread, K_SECONDS(2)));
	zassert_ok(k_thread_join(&rx_thread, K_SECONDS(2)));
	zassert_equal(tx_rc, 1);
	zassert_ok(rx_rc);
	zassert_equal(rx_buf.message_len, 3);
	zassert_equal(memcmp(rx_buf.data, "abc\0\0", 5), 0);
	zassert_true(rx_done_when_broadcast_returned,
		     "the receiver ran only after the producer went on");
}

ZTEST(dispatcher_pool_pools, test_refusals_across_pools)
{
	struct pool_stats s0 = st(&s64), c0 = st(&c256);
	pool_msg_t *a = msg_pool_try_alloc(&s64);
	pool_msg_t *end = &s64_descs[ARRAY_SIZE(s64_descs)];
	struct msg_pool *end_owner;

	zassert_not_null(a);
	zassert_equal(msg_pool_of(a), &s64);
	zassert_not_equal(msg_pool_of(a), &c256);
	zassert_equal(msg_pool_of(&c256_descs[0]), &c256);

	/* A never-created pool's descriptors belong to no pool. */
	zassert_is_null(msg_pool_of(&never_descs[0]));
	zassert_equal(msg_unref(&never_descs[0]), -EFAULT);
	zassert_equal(msg_ref(&never_descs[1]), -EFAULT);
	zassert_equal(msg_pool_try_alloc(&never), NULL);

	/* One past the end of s64's descriptors is not s64's (it may be the start of another
	 * object, even another pool's descriptors, depending on the link).
	 */
	end_owner = msg_pool_of(end);
	zassert_not_equal(end_owner, &s64);
	TC_PRINT("one past s64's descriptors belongs to %s\n",
		 end_owner == NULL ? "no pool" : end_owner->name);
	if (end_owner == NULL) {
		zassert_equal(msg_unref(end), -EFAULT);
		zassert_equal(msg_ref(end), -EFAULT);
	}
	/* Into the middle of a held descriptor. */
	zassert_equal(msg_unref((pool_msg_t *)((char *)a + 4)), -EFAULT);
	zassert_equal(msg_ref((pool_msg_t *)((char *)a + 4)), -EFAULT);
	zassert_equal(msg_ref(a), 0);
	zassert_equal(msg_unref(a), 0);

	/* Nothing changed in either pool but the refusal counters. */
	struct pool_stats s1 = st(&s64), c1 = st(&c256);

	zassert_equal(s1.pool_in_use, 1);
	zassert_equal(s1.allocations - s0.allocations, 1);
	zassert_equal(s1.frees, s0.frees);
	zassert_equal(s1.invalid_unrefs - s0.invalid_unrefs, 1); /* the mid-descriptor one */
	zassert_equal(s1.invalid_refs - s0.invalid_refs, 1);
	zassert_equal(c1.pool_in_use, c0.pool_in_use);
	zassert_equal(c1.allocations, c0.allocations);
	zassert_equal(c1.invalid_unrefs, c0.invalid_unrefs);
	zassert_equal(c1.invalid_refs, c0.invalid_refs);
	zassert_ok(msg_unref(a));
	zassert_equal(msg_unref(a), -EALREADY); /* counted in s64 */
	zassert_equal(st(&s64).invalid_unrefs - s0.invalid_unrefs, 2);
}

/* A thread blocked on c256 while s64 entries are freed. */
static K_THREAD_STACK_DEFINE(waiter_stack, 2048);
static struct k_thread waiter_thread;
static pool_msg_t *waiter_got;
static volatile int waiter_rc;

static void waiter_fn(void *a, void *b, void *c)
{
	pool_msg_t *got = NULL;

	ARG_UNUSED(a);
	ARG_UNUSED(b);
	ARG_UNUSED(c);
	waiter_rc = msg_pool_alloc(&c256, DISPATCHER_WAIT_FOREVER, &got);
	waiter_got = got;
}

static pool_msg_t *isr_frees[8];
static atomic_t isr_freed;

static void free_one_from_isr(struct k_timer *t)
{
	atomic_val_t i = atomic_get(&isr_freed);

	ARG_UNUSED(t);
	if (i < (atomic_val_t)ARRAY_SIZE(isr_frees)) {
		(void)msg_unref(isr_frees[i]);
		atomic_inc(&isr_freed);
	}
}
K_TIMER_DEFINE(free_timer, free_one_from_isr, NULL);

ZTEST(dispatcher_pool_pools, test_blocked_on_one_pool_not_woken_by_another)
{
	pool_msg_t *held[4];
	pool_msg_t *s = msg_pool_try_alloc(&s64);
	pool_msg_t *got = NULL;
	int64_t t0;

	zassert_not_null(s);
	for (int i = 0; i < 4; i++) {
		held[i] = msg_pool_try_alloc(&c256);
		zassert_not_null(held[i]);
	}

	/* A timed wait on c256 runs out while an ISR frees s64 entries every 5 ms. */
	for (int i = 0; i < (int)ARRAY_SIZE(isr_frees); i++) {
		isr_frees[i] = msg_pool_try_alloc(&s64);
		zassert_not_null(isr_frees[i]);
	}
	atomic_clear(&isr_freed);
	k_timer_start(&free_timer, K_MSEC(5), K_MSEC(5));
	t0 = k_uptime_get();
	zassert_equal(msg_pool_alloc(&c256, 60, &got), -EAGAIN);
	zassert_true(k_uptime_get() - t0 >= 60);
	zassert_is_null(got);
	k_msleep(50);
	k_timer_stop(&free_timer);
	zassert_equal(atomic_get(&isr_freed), ARRAY_SIZE(isr_frees), "the ISR freed %ld",
		      atomic_get(&isr_freed));

	/* A thread waiting forever on c256: an s64 free leaves it waiting, a c256 free wakes it. */
	waiter_rc = 1;
	waiter_got = NULL;
	k_thread_create(&waiter_thread, waiter_stack, K_THREAD_STACK_SIZEOF(waiter_stack), waiter_fn,
			NULL, NULL, NULL, K_PRIO_PREEMPT(1), 0, K_NO_WAIT);
	k_msleep(10);
	zassert_equal(waiter_rc, 1, "the waiter did not block");
	zassert_ok(msg_unref(s));
	k_msleep(20);
	zassert_equal(waiter_rc, 1, "an s64 free woke a c256 waiter");
	zassert_ok(msg_unref(held[3]));
	zassert_ok(k_thread_join(&waiter_thread, K_MSEC(500)));
	zassert_ok(waiter_rc);
	zassert_equal(waiter_got, held[3]);
	held[3] = waiter_got;
	for (int i = 0; i < 4; i++) {
		zassert_ok(msg_unref(held[i]));
	}
}

ZTEST(dispatcher_pool_pools, test_leak_report_blames_the_stuck_queue)
{
	msg_target_t *const both[] = {&fast_t, &stuck_t};
	struct pool_leak leaks[16];
	pool_msg_t *r, *kept, *unsent;
	int n, queued_at_stuck = 0, kept_seen = 0, producer_seen = 0;

	/* Fan-out to a fast and a stuck consumer; the fast one takes and releases every one. */
	for (int i = 0; i < 8; i++) {
		pool_msg_t *p = msg_pool_try_alloc(&s64);

		zassert_not_null(p);
		p->msg->message_len = 1;
		zassert_equal(msg_broadcast(p, both, 2), 2);
	}
	while (msg_receive(&fast_t, 0, &r, NULL) == 0) {
		zassert_ok(msg_unref(r));
	}
	/* One more, which the fast module keeps; and one the producer has not sent yet. */
	pool_msg_t *p = msg_pool_try_alloc(&s64);

	zassert_not_null(p);
	p->msg->message_len = 1;
	zassert_equal(msg_broadcast(p, both, 2), 2);
	zassert_ok(msg_receive(&fast_t, 0, &kept, NULL));
	unsent = msg_pool_try_alloc(&s64);
	zassert_not_null(unsent);

	n = msg_pool_leaks(&s64, 0, both, 2, leaks, ARRAY_SIZE(leaks));
	zassert_equal(n, 10, "leaks %d", n);
	for (int i = 0; i < n; i++) {
		const struct pool_leak *l = &leaks[i];

		queued_at_stuck += l->queued_at == 12 && l->queued == 1 &&
				   l->held_by == POOL_HOLDER_NONE && l->refcount == 1;
		kept_seen += l->queued_at == 12 && l->queued == 1 && l->held_by == 11 &&
			     l->refcount == 2 && &s64_descs[l->index] == kept;
		producer_seen += l->queued_at == POOL_HOLDER_NONE && l->queued == 0 &&
				 l->held_by == POOL_HOLDER_PRODUCER && l->refcount == 1 &&
				 &s64_descs[l->index] == unsent;
	}
	zassert_equal(queued_at_stuck, 8, "blamed on the stuck queue, not on target 11");
	zassert_equal(kept_seen, 1, "queued at 12 and held by 11");
	zassert_equal(producer_seen, 1, "held by the producer");

	/* Without the targets the report cannot see queues: it names the last receiver. */
	n = msg_pool_leaks(&s64, 0, NULL, 0, leaks, ARRAY_SIZE(leaks));
	zassert_equal(n, 10);
	for (int i = 0; i < n; i++) {
		zassert_equal(leaks[i].queued, 0);
		zassert_equal(leaks[i].queued_at, POOL_HOLDER_NONE);
	}
	/* The other pools have nothing to report. */
	zassert_equal(msg_pool_leaks(&c256, 0, both, 2, leaks, ARRAY_SIZE(leaks)), 0);

	zassert_ok(msg_unref(kept));
	zassert_ok(msg_unref(unsent));
	zassert_equal(msg_target_purge(&stuck_t), 9);
}

ZTEST(dispatcher_pool_pools, test_entries_for_matches_pool_entries_for)
{
	static const uint32_t ts[] = {0, 1, 7, 8, 9, 33, 41, 64, 100, 1000, 4096, 65536, UINT32_MAX};
	static const uint32_t fs[] = {0, 1, 125, 250, 333, 999, 1000, 4000, UINT32_MAX};
	static const uint32_t cs[] = {0, 1, 2, 3, 4, 64, 1000, UINT32_MAX};
	int checked = 0;

	for (size_t i = 0; i < ARRAY_SIZE(ts); i++) {
		for (size_t j = 0; j < ARRAY_SIZE(fs); j++) {
			for (size_t k = 0; k < ARRAY_SIZE(cs); k++) {
				size_t want = pool_entries_for(ts[i], fs[j], cs[k]);
				size_t got = DISPATCHER_POOL_ENTRIES_FOR(ts[i], fs[j], cs[k]);

				zassert_equal(got, want, "T %u F %u C %u: macro %zu, library %zu",
					      ts[i], fs[j], cs[k], got, want);
				checked++;
			}
		}
	}
	/* Every product around the clamp boundaries (T * F * C near 8000 and 1024000). */
	for (uint32_t t = 1; t <= 2100; t++) {
		zassert_equal(DISPATCHER_POOL_ENTRIES_FOR(t, 1000, 1), pool_entries_for(t, 1000, 1));
		zassert_equal(DISPATCHER_POOL_ENTRIES_FOR(t, 500, 1), pool_entries_for(t, 500, 1));
		zassert_equal(DISPATCHER_POOL_ENTRIES_FOR(t, 7, 3), pool_entries_for(t, 7, 3));
		checked += 3;
	}
	TC_PRINT("DISPATCHER_POOL_ENTRIES_FOR == pool_entries_for on %d points\n", checked);
}

ZTEST_SUITE(dispatcher_pool_pools, NULL, setup, before, after, NULL);
