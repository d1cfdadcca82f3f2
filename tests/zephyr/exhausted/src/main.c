/*
 * dispatcher-pool on Zephyr: an exhausted pool. try_alloc fails and counts; a blocking
 * allocation times out within one tick of its timeout; a blocked allocator wakes when another
 * thread frees an entry.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <zephyr/kernel.h>
#include <zephyr/ztest.h>

#include "msg_pool.h"

#define ENTRIES CONFIG_DISPATCHER_POOL_ENTRIES

static pool_msg_t *held[ENTRIES];

static struct pool_stats stats(void)
{
	struct pool_stats s;

	zassert_ok(pool_stats(&s));
	return s;
}

static void before(void *f)
{
	ARG_UNUSED(f);
	for (int i = 0; i < ENTRIES; i++) {
		held[i] = pool_try_alloc();
		zassert_not_null(held[i]);
	}
}

static void after(void *f)
{
	struct pool_check_report r;

	ARG_UNUSED(f);
	for (int i = 0; i < ENTRIES; i++) {
		if (held[i] != NULL) {
			zassert_ok(msg_unref(held[i]));
			held[i] = NULL;
		}
	}
	zassert_ok(pool_check(&r));
	zassert_equal(r.held, 0);
	zassert_equal(stats().pool_in_use, 0);
}

ZTEST(dispatcher_pool_exhausted, test_try_alloc_fails_and_counts)
{
	struct pool_stats b = stats();
	pool_msg_t *p = NULL;

	zassert_is_null(pool_try_alloc());
	zassert_is_null(pool_try_alloc());
	zassert_equal(pool_alloc(0, &p), -ENOMEM);
	zassert_is_null(p);
	zassert_equal(stats().pool_alloc_failures - b.pool_alloc_failures, 3);
	zassert_equal(stats().pool_in_use, ENTRIES);
}

static void check_timeout(int32_t ms)
{
	struct pool_stats b = stats();
	pool_msg_t *p = NULL;
	int64_t expect = k_ms_to_ticks_ceil64(ms);
	int64_t t0, dt;
	int rc;

	k_sleep(K_TICKS(1)); /* start right after a tick boundary */
	t0 = k_uptime_ticks();
	rc = pool_alloc(ms, &p);
	dt = k_uptime_ticks() - t0;
	zassert_equal(rc, -EAGAIN);
	zassert_is_null(p);
	TC_PRINT("timeout %d ms = %lld ticks: waited %lld ticks\n", ms, expect, dt);
	zassert_true(dt >= expect, "returned early: %lld < %lld ticks", dt, expect);
	zassert_true(dt <= expect + 1, "overshoot: %lld > %lld + 1 ticks", dt, expect);
	zassert_equal(stats().pool_alloc_failures - b.pool_alloc_failures, 1);
}

ZTEST(dispatcher_pool_exhausted, test_blocking_alloc_times_out_within_a_tick)
{
	check_timeout(1);
	check_timeout(10);
	check_timeout(55);
	zassert_is_null(pool_alloc_blocking(5));
}

static K_THREAD_STACK_DEFINE(waiter_stack, 2048);
static struct k_thread waiter_thread;
static pool_msg_t *waiter_got;
static int waiter_rc;
static int64_t waiter_done_ms;

static void waiter(void *timeout, void *b, void *c)
{
	ARG_UNUSED(b);
	ARG_UNUSED(c);
	waiter_rc = pool_alloc((int32_t)(intptr_t)timeout, &waiter_got);
	waiter_done_ms = k_uptime_get();
}

static void wake_on_free(int32_t timeout_ms)
{
	int64_t freed_ms;

	waiter_got = NULL;
	waiter_rc = 1;
	/* Higher priority than this thread: it blocks in pool_alloc right away. */
	k_thread_create(&waiter_thread, waiter_stack, K_THREAD_STACK_SIZEOF(waiter_stack), waiter,
			(void *)(intptr_t)timeout_ms, NULL, NULL, k_thread_priority_get(k_current_get()) - 1,
			0, K_NO_WAIT);
	k_sleep(K_MSEC(30));
	zassert_equal(waiter_rc, 1, "the waiter did not block");
	freed_ms = k_uptime_get();
	zassert_ok(msg_unref(held[0]));
	held[0] = NULL;
	zassert_ok(k_thread_join(&waiter_thread, K_MSEC(1000)));
	zassert_ok(waiter_rc);
	zassert_not_null(waiter_got);
	zassert_true(waiter_done_ms - freed_ms <= 2, "woke %lld ms after the free",
		     waiter_done_ms - freed_ms);
	held[0] = waiter_got; /* released by after() */
}

ZTEST(dispatcher_pool_exhausted, test_blocked_allocator_wakes_on_free)
{
	wake_on_free(5000);
}

ZTEST(dispatcher_pool_exhausted, test_forever_allocator_wakes_on_free)
{
	wake_on_free(-1);
}

ZTEST_SUITE(dispatcher_pool_exhausted, NULL, NULL, before, after, NULL);
