/*
 * dispatcher-pool on Zephyr: a full k_msgq target counts an enqueue failure, the other
 * targets still get the message, and nothing leaks.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <zephyr/kernel.h>
#include <zephyr/ztest.h>

#include "msg_pool.h"

K_MSGQ_DEFINE(full_q, sizeof(pool_msg_t *), 2, sizeof(void *));
K_MSGQ_DEFINE(roomy_q, sizeof(pool_msg_t *), 8, sizeof(void *));
K_MSGQ_DEFINE(value_q, sizeof(dispatcher_msg_t), 1, sizeof(void *));
static msg_target_t full_t, roomy_t, value_t;

static struct pool_stats stats(void)
{
	struct pool_stats s;

	zassert_ok(pool_stats(&s));
	return s;
}

static pool_msg_t *new_msg(uint8_t tag)
{
	pool_msg_t *p = pool_try_alloc();

	zassert_not_null(p);
	p->msg->message_len = 1;
	p->msg->data[0] = tag;
	return p;
}

ZTEST(dispatcher_pool_queue_full, test_full_pointer_queue)
{
	msg_target_t *const both[] = {&full_t, &roomy_t};
	struct pool_stats b = stats();
	struct msg_target_stats fs, rs;

	zassert_ok(msg_target_init(&full_t, &full_q, DISPATCH_MODE_POINTER, 1));
	zassert_ok(msg_target_init(&roomy_t, &roomy_q, DISPATCH_MODE_POINTER, 2));
	for (int i = 0; i < 4; i++) {
		zassert_equal(msg_broadcast(new_msg(i), both, 2), i < 2 ? 2 : 1);
	}
	zassert_equal(k_msgq_num_used_get(&full_q), 2);
	zassert_equal(k_msgq_num_used_get(&roomy_q), 4);
	struct pool_stats s = stats();

	zassert_equal(s.enqueue_failures - b.enqueue_failures, 2);
	zassert_equal(s.pool_drop_count - b.pool_drop_count, 0);
	zassert_equal(s.pool_in_use, 4); /* no reference leaked by the failed puts */
	zassert_ok(msg_target_stats(&full_t, &fs));
	zassert_ok(msg_target_stats(&roomy_t, &rs));
	zassert_equal(fs.delivered, 2);
	zassert_equal(fs.failed, 2);
	zassert_equal(rs.delivered, 4);
	zassert_equal(rs.failed, 0);

	/* Both queues full of the same entries: only the full one left -> a drop when full. */
	msg_target_t *const only_full[] = {&full_t};

	zassert_equal(msg_broadcast(new_msg(9), only_full, 1), 0);
	zassert_equal(stats().pool_drop_count - b.pool_drop_count, 1);
	zassert_equal(stats().pool_in_use, 4);

	zassert_equal(msg_target_purge(&full_t), 2);
	zassert_equal(msg_target_purge(&roomy_t), 4);
	zassert_equal(stats().pool_in_use, 0);
}

ZTEST(dispatcher_pool_queue_full, test_full_value_queue)
{
	msg_target_t *const targets[] = {&value_t};
	struct pool_stats b = stats();

	/* Whole dispatcher_msg_t items: a message of any pool fits. */
	zassert_ok(msg_target_init(&value_t, &value_q, DISPATCH_MODE_VALUE, 3));
	zassert_equal(msg_broadcast(new_msg(1), targets, 1), 1);
	zassert_equal(msg_broadcast(new_msg(2), targets, 1), 0);
	zassert_equal(stats().enqueue_failures - b.enqueue_failures, 1);
	zassert_equal(stats().pool_in_use, 0); /* value copies hold no entry */
	zassert_equal(msg_target_purge(&value_t), 1);
}

static void after(void *f)
{
	struct pool_check_report r;

	ARG_UNUSED(f);
	zassert_ok(pool_check(&r));
	zassert_equal(r.held, 0);
	zassert_equal(r.free, CONFIG_DISPATCHER_POOL_ENTRIES);
}

ZTEST_SUITE(dispatcher_pool_queue_full, NULL, NULL, NULL, after, NULL);
