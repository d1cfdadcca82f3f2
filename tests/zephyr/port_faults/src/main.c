/*
 * dispatcher-pool on Zephyr with the OS port made to fail (faults.c): a queue put that fails
 * for a reason other than full, a queue get that fails, a semaphore take that returns at once,
 * a lost semaphore give, a heap that returns NULL or misaligned memory, and a clock that wraps.
 * For each the pool returns its documented result or keeps working, loses no entry, hands
 * none out twice, and the pool check passes afterwards.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <zephyr/kernel.h>
#include <zephyr/sys/sys_heap.h>
#include <zephyr/ztest.h>

#include "dispatcher_pool_zephyr.h"
#include "faults.h"
#include "msg_pool.h"

#define ENTRIES CONFIG_DISPATCHER_POOL_ENTRIES
#define SLOTS   CONFIG_DISPATCHER_POOL_HEAP_FALLBACK_SLOTS
#define WAIT_SLICE_MS 100 /* src/pool/alloc.rs: a blocked allocator re-checks this often */

extern struct k_heap _system_heap;

K_MSGQ_DEFINE(q0, sizeof(pool_msg_t *), 4, sizeof(void *));
K_MSGQ_DEFINE(q1, sizeof(pool_msg_t *), 4, sizeof(void *));
K_MSGQ_DEFINE(q2, sizeof(pool_msg_t *), 4, sizeof(void *));
K_MSGQ_DEFINE(qv, sizeof(dispatcher_msg_t), 2, DISPATCHER_MSG_ALIGN);
static msg_target_t t0, t1, t2, tv;
static msg_target_t *const three[] = {&t0, &t1, &t2};
static msg_target_t *const value_and_ptr[] = {&tv, &t0};
static msg_target_t *const all[] = {&t0, &t1, &t2, &tv};

static pool_msg_t *held[ENTRIES];
static size_t heap0;

static size_t heap_allocated(void)
{
	struct sys_memory_stats st;

	zassert_ok(sys_heap_runtime_stats_get(&_system_heap.heap, &st));
	return st.allocated_bytes;
}

static struct pool_stats stats(void)
{
	struct pool_stats s;

	zassert_ok(pool_stats(&s));
	return s;
}

static void take_every_entry(void)
{
	for (int i = 0; i < ENTRIES; i++) {
		held[i] = pool_try_alloc();
		zassert_not_null(held[i]);
	}
}

static void *setup(void)
{
	zassert_ok(msg_target_init(&t0, &q0, DISPATCH_MODE_POINTER, 1));
	zassert_ok(msg_target_init(&t1, &q1, DISPATCH_MODE_POINTER, 2));
	zassert_ok(msg_target_init(&t2, &q2, DISPATCH_MODE_POINTER, 3));
	zassert_ok(msg_target_init(&tv, &qv, DISPATCH_MODE_VALUE, 4));
	return NULL;
}

static void before(void *f)
{
	ARG_UNUSED(f);
	fault_reset();
	heap0 = heap_allocated();
}

static void after(void *f)
{
	struct pool_check_report r;

	ARG_UNUSED(f);
	fault_reset();
	for (size_t i = 0; i < ARRAY_SIZE(all); i++) {
		(void)msg_target_purge(all[i]);
	}
	for (int i = 0; i < ENTRIES; i++) {
		if (held[i] != NULL) {
			zassert_ok(msg_unref(held[i]));
			held[i] = NULL;
		}
	}
	zassert_ok(pool_check(&r));
	zassert_equal(r.held, 0);
	zassert_equal(r.heap_held, 0);
	zassert_equal(r.free, ENTRIES, "an entry was lost");
	zassert_equal(stats().pool_in_use, 0);
	zassert_equal(stats().fallback_in_use, 0);
	zassert_equal(stats().invalid_unrefs, 0, "an entry was released twice");
	zassert_equal(heap_allocated(), heap0, "heap: %zu bytes, %zu at the start",
		      heap_allocated(), heap0);
}

ZTEST(dispatcher_pool_port_faults, test_put_error_is_one_enqueue_failure)
{
	struct pool_stats b = stats();
	struct msg_target_stats ts, t1b, tvb;
	pool_msg_t *p = pool_try_alloc(), *got = NULL;

	zassert_ok(msg_target_stats(&t1, &t1b));
	zassert_ok(msg_target_stats(&tv, &tvb));
	zassert_not_null(p);
	p->msg->message_len = 1;
	fault_arm(FAULT_MSGQ_PUT, 2, 1); /* t1's put fails */
	zassert_equal(msg_broadcast(p, three, ARRAY_SIZE(three)), 2);
	zassert_equal(fault_hits(FAULT_MSGQ_PUT), 1);
	zassert_ok(msg_target_stats(&t1, &ts));
	zassert_equal(ts.failed - t1b.failed, 1);
	zassert_equal(ts.delivered, t1b.delivered);
	zassert_equal(stats().enqueue_failures - b.enqueue_failures, 1);
	zassert_equal(msg_receive(&t1, 0, &got, NULL), -EAGAIN);
	zassert_ok(msg_receive(&t0, 0, &got, NULL));
	zassert_equal(got, p);
	zassert_ok(msg_unref(got));
	zassert_equal(stats().pool_in_use, 1, "t2 still holds it");
	zassert_ok(msg_receive(&t2, 0, &got, NULL));
	zassert_equal(got, p);
	zassert_ok(msg_unref(got));
	zassert_equal(stats().pool_in_use, 0);

	/* A value target's put fails the same way (its copy goes through the same call). */
	p = pool_try_alloc();
	zassert_not_null(p);
	p->msg->message_len = 2;
	fault_arm(FAULT_MSGQ_PUT, 1, 1);
	zassert_equal(msg_broadcast(p, value_and_ptr, ARRAY_SIZE(value_and_ptr)), 1);
	zassert_ok(msg_target_stats(&tv, &ts));
	zassert_equal(ts.failed - tvb.failed, 1);
	zassert_ok(msg_receive(&t0, 0, &got, NULL));
	zassert_equal(got, p);
	zassert_ok(msg_unref(got));
}

ZTEST(dispatcher_pool_port_faults, test_every_put_failing_is_a_drop)
{
	struct pool_stats b = stats();
	pool_msg_t *p = pool_try_alloc();

	zassert_not_null(p);
	p->msg->message_len = 1;
	fault_arm(FAULT_MSGQ_PUT, 1, ARRAY_SIZE(three));
	zassert_equal(msg_broadcast(p, three, ARRAY_SIZE(three)), 0);
	zassert_equal(fault_hits(FAULT_MSGQ_PUT), 3);
	zassert_equal(stats().pool_drop_count - b.pool_drop_count, 1);
	zassert_equal(stats().enqueue_failures - b.enqueue_failures, 3);
	zassert_equal(stats().pool_in_use, 0, "the undelivered entry was not released");
}

ZTEST(dispatcher_pool_port_faults, test_get_error_keeps_the_item)
{
	pool_msg_t *p = pool_try_alloc(), *got = (pool_msg_t *)1;

	zassert_not_null(p);
	p->msg->message_len = 1;
	zassert_equal(msg_broadcast(p, three, 1), 1);
	fault_arm(FAULT_MSGQ_GET, 1, 1);
	zassert_equal(msg_receive(&t0, 0, &got, NULL), -EAGAIN);
	zassert_is_null(got);
	zassert_equal(fault_hits(FAULT_MSGQ_GET), 1);
	zassert_equal(k_msgq_num_used_get(&q0), 1, "the item was lost");
	zassert_ok(msg_receive(&t0, 0, &got, NULL));
	zassert_equal(got, p);
	zassert_ok(msg_unref(got));
}

/* A waiter of higher priority, blocked in pool_alloc(timeout). */
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

/* Blocks a waiter on the dry pool, frees held[0] and returns ms from the free to its wake. */
static int64_t free_one_to_a_waiter(int32_t timeout_ms)
{
	int64_t freed_ms;

	waiter_got = NULL;
	waiter_rc = 1;
	k_thread_create(&waiter_thread, waiter_stack, K_THREAD_STACK_SIZEOF(waiter_stack), waiter,
			(void *)(intptr_t)timeout_ms, NULL, NULL,
			k_thread_priority_get(k_current_get()) - 1, 0, K_NO_WAIT);
	k_msleep(30);
	zassert_equal(waiter_rc, 1, "the waiter did not block");
	freed_ms = k_uptime_get();
	zassert_ok(msg_unref(held[0]));
	held[0] = NULL;
	zassert_ok(k_thread_join(&waiter_thread, K_MSEC(2000)));
	zassert_ok(waiter_rc);
	zassert_not_null(waiter_got);
	held[0] = waiter_got; /* released by after() */
	return waiter_done_ms - freed_ms;
}

ZTEST(dispatcher_pool_port_faults, test_sem_take_error_then_woken_by_a_free)
{
	int64_t dt;

	take_every_entry();
	fault_arm(FAULT_SEM_TAKE, 1, 1); /* the waiter's first wait returns at once */
	dt = free_one_to_a_waiter(5000);
	zassert_equal(fault_hits(FAULT_SEM_TAKE), 1);
	zassert_true(fault_calls(FAULT_SEM_TAKE) >= 2, "the waiter did not wait again");
	zassert_true(dt <= 2, "woke %lld ms after the free", dt);
}

ZTEST(dispatcher_pool_port_faults, test_lost_give_costs_at_most_one_wait_slice)
{
	int64_t dt;

	take_every_entry();
	fault_arm(FAULT_SEM_GIVE, 1, 1); /* the free's wake-up is lost */
	dt = free_one_to_a_waiter(-1);
	zassert_equal(fault_hits(FAULT_SEM_GIVE), 1);
	TC_PRINT("lost give: the waiter found the entry %lld ms after the free\n", dt);
	zassert_true(dt >= 20, "woke %lld ms after the free: was the give lost?", dt);
	zassert_true(dt <= WAIT_SLICE_MS + 20, "woke %lld ms after the free", dt);
}

ZTEST(dispatcher_pool_port_faults, test_heap_null_is_a_drop_and_frees_the_slot)
{
	struct pool_stats b = stats();
	pool_msg_t *fb[SLOTS];

	take_every_entry();
	fault_arm(FAULT_HEAP_NULL, 1, 1);
	zassert_is_null(pool_try_alloc_or(POOL_FALLBACK_HEAP));
	zassert_equal(fault_hits(FAULT_HEAP_NULL), 1);
	zassert_equal(stats().pool_drop_count - b.pool_drop_count, 1);
	zassert_equal(stats().fallback_in_use, 0);
	/* Every slot is still there. */
	for (int i = 0; i < SLOTS; i++) {
		fb[i] = pool_try_alloc_or(POOL_FALLBACK_HEAP);
		zassert_not_null(fb[i], "slot %d lost", i);
	}
	for (int i = 0; i < SLOTS; i++) {
		zassert_ok(msg_unref(fb[i]));
	}
}

ZTEST(dispatcher_pool_port_faults, test_misaligned_heap_block_is_refused_and_freed)
{
	struct pool_stats b = stats();
	pool_msg_t *fb[SLOTS];

	take_every_entry();
	fault_arm(FAULT_HEAP_MISALIGNED, 1, 1);
	zassert_is_null(pool_try_alloc_or(POOL_FALLBACK_HEAP));
	zassert_equal(fault_hits(FAULT_HEAP_MISALIGNED), 1);
	zassert_equal(heap_allocated(), heap0, "the misaligned block was not given back");
	zassert_equal(stats().pool_drop_count - b.pool_drop_count, 1);
	zassert_equal(stats().fallback_allocs, b.fallback_allocs);
	for (int i = 0; i < SLOTS; i++) {
		fb[i] = pool_try_alloc_or(POOL_FALLBACK_HEAP);
		zassert_not_null(fb[i], "slot %d lost", i);
		zassert_equal((uintptr_t)fb[i]->msg % DISPATCHER_MSG_ALIGN, 0);
	}
	for (int i = 0; i < SLOTS; i++) {
		zassert_ok(msg_unref(fb[i]));
	}
}

ZTEST(dispatcher_pool_port_faults, test_leak_age_survives_the_clock_wrap)
{
	/* The port's clock is 30 ms before its 2^32 wrap (k_uptime_get_32 after 49.7 days). */
	uint32_t off = 0U - k_uptime_get_32() - 30U;
	struct pool_leak leaks[2], old[2];
	pool_msg_t *p;
	uint32_t wrapped_now;
	int n50, n1000;

	fault_clock_offset(off);
	p = pool_try_alloc();
	zassert_not_null(p);
	k_msleep(100);
	wrapped_now = k_uptime_get_32() + off;
	n50 = pool_leaks(50, leaks, ARRAY_SIZE(leaks));
	n1000 = pool_leaks(1000, old, ARRAY_SIZE(old));
	zassert_ok(msg_unref(p));

	zassert_true(wrapped_now < 1000U, "the clock did not wrap: %u", wrapped_now);
	zassert_equal(n50, 1);
	TC_PRINT("allocated before the wrap, age after it: %u ms\n", leaks[0].age_ms);
	zassert_true(leaks[0].age_ms >= 100 && leaks[0].age_ms <= 130, "age %u ms",
		     leaks[0].age_ms);
	zassert_equal(leaks[0].held_by, POOL_HOLDER_PRODUCER);
	zassert_equal(n1000, 0, "age taken as about 2^32 ms");
}

ZTEST_SUITE(dispatcher_pool_port_faults, NULL, setup, before, after, NULL);
