/*
 * dispatcher-pool on Zephyr: a consumer thread dies (k_thread_abort) holding two messages
 * with three more in its queue. Before the purge the leak report shows the three as queued at
 * its target and the two as held by it; after the purge it names the target that held the
 * other two. Repeatable (ZTEST_SHUFFLE repeats it): counters are compared as deltas.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <zephyr/kernel.h>
#include <zephyr/ztest.h>

#include "msg_pool.h"

#define VICTIM_ID 7

K_MSGQ_DEFINE(victim_q, sizeof(pool_msg_t *), 8, sizeof(void *));
static msg_target_t victim;
static K_THREAD_STACK_DEFINE(victim_stack, 2048);
static struct k_thread victim_thread;
static pool_msg_t *victim_held[2];
static K_SEM_DEFINE(victim_ready, 0, 1);

static void victim_fn(void *a, void *b, void *c)
{
	ARG_UNUSED(a);
	ARG_UNUSED(b);
	ARG_UNUSED(c);
	for (int i = 0; i < 2; i++) {
		zassert_ok(msg_receive(&victim, K_TICKS_FOREVER, &victim_held[i], NULL));
	}
	k_sem_give(&victim_ready);
	k_sleep(K_FOREVER); /* "hangs" holding two references */
}

ZTEST(dispatcher_pool_crash, test_abort_purge_and_leak_report)
{
	msg_target_t *const targets[] = {&victim};
	struct pool_leak leaks[DISPATCHER_LEAKS_MAX];
	struct pool_stats s, before;
	struct pool_check_report r;
	int n, queued = 0, held = 0;

	zassert_ok(pool_stats(&before));
	zassert_equal(before.pool_in_use, 0);
	zassert_ok(msg_target_init(&victim, &victim_q, DISPATCH_MODE_POINTER, VICTIM_ID));
	for (int i = 0; i < 5; i++) {
		pool_msg_t *p = pool_try_alloc();

		zassert_not_null(p);
		p->msg->message_len = 1;
		zassert_equal(msg_broadcast(p, targets, 1), 1);
	}
	k_thread_create(&victim_thread, victim_stack, K_THREAD_STACK_SIZEOF(victim_stack),
			victim_fn, NULL, NULL, NULL, K_PRIO_PREEMPT(1), 0, K_NO_WAIT);
	zassert_ok(k_sem_take(&victim_ready, K_SECONDS(5)));
	k_thread_abort(&victim_thread);
	zassert_equal(k_msgq_num_used_get(&victim_q), 3);

	zassert_ok(pool_stats(&s));
	zassert_equal(s.pool_in_use, 5);

	/* With the target given, the report tells the queued three from the held two. */
	n = msg_pool_leaks(msg_pool_default(), 0, targets, 1, leaks, ARRAY_SIZE(leaks));
	zassert_equal(n, 5, "leaks %d", n);
	for (int i = 0; i < n; i++) {
		queued += leaks[i].queued_at == VICTIM_ID && leaks[i].queued == 1 &&
			  leaks[i].held_by == POOL_HOLDER_NONE;
		held += leaks[i].queued_at == POOL_HOLDER_NONE && leaks[i].queued == 0 &&
			leaks[i].held_by == VICTIM_ID;
	}
	zassert_equal(queued, 3);
	zassert_equal(held, 2);

	zassert_equal(msg_target_purge(&victim), 3);
	zassert_ok(pool_stats(&s));
	zassert_equal(s.pool_in_use, 2);
	zassert_equal(s.purged - before.purged, 3);

	k_msleep(20);
	n = pool_leaks(10, leaks, ARRAY_SIZE(leaks));
	zassert_equal(n, 2, "leaks %d", n);
	for (int i = 0; i < n; i++) {
		TC_PRINT("leak: entry %u queued_at %u held_by %u refcount %u age %u ms\n",
			 leaks[i].index, leaks[i].queued_at, leaks[i].held_by, leaks[i].refcount,
			 leaks[i].age_ms);
		zassert_equal(leaks[i].held_by, VICTIM_ID);
		zassert_equal(leaks[i].queued_at, POOL_HOLDER_NONE);
		zassert_equal(leaks[i].refcount, 1);
		zassert_true(leaks[i].age_ms >= 10);
	}
	zassert_ok(pool_check(&r));
	zassert_equal(r.held, 2);

	/* The supervisor knows what the dead module held and releases it. */
	zassert_ok(msg_unref(victim_held[0]));
	zassert_ok(msg_unref(victim_held[1]));
	zassert_equal(pool_leaks(0, leaks, ARRAY_SIZE(leaks)), 0);
	zassert_ok(pool_check(&r));
	zassert_equal(r.held, 0);
	zassert_equal(r.free, CONFIG_DISPATCHER_POOL_ENTRIES);
}

ZTEST_SUITE(dispatcher_pool_crash, NULL, NULL, NULL, NULL, NULL);
