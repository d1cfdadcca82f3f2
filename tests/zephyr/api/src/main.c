/*
 * dispatcher-pool on Zephyr: API basics (alloc/ref/unref/broadcast), metrics and JSON output,
 * with the pool the module creates at boot from Kconfig.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <string.h>

#include <zephyr/kernel.h>
#include <zephyr/ztest.h>

#include "msg_pool_module.h"
#include "msg_pool.h"
#include "dispatcher_pool_zephyr.h"

#define ENTRIES CONFIG_DISPATCHER_POOL_ENTRIES

K_MSGQ_DEFINE(ptr_q1, sizeof(pool_msg_t *), 8, sizeof(void *));
K_MSGQ_DEFINE(ptr_q2, sizeof(pool_msg_t *), 8, sizeof(void *));
K_MSGQ_DEFINE(val_q, sizeof(dispatcher_msg_t), 2, sizeof(void *));
K_MSGQ_DEFINE(small_q, sizeof(pool_msg_t *), 2, sizeof(void *));

static msg_target_t t1, t2, tv, ts;
static msg_target_t *const ptr_targets[] = {&t1, &t2};
static msg_target_t *const all_targets[] = {&t1, &t2, &tv};
static dispatcher_msg_t value_buf;

static struct pool_stats stats(void)
{
	struct pool_stats s;

	zassert_ok(pool_stats(&s));
	return s;
}

static void assert_idle(void)
{
	struct pool_check_report r;

	zassert_ok(pool_check(&r));
	zassert_equal(r.held, 0, "held %zu", r.held);
	zassert_equal(r.free, ENTRIES);
	zassert_equal(stats().pool_in_use, 0);
}

static void *setup(void)
{
	zassert_ok(dispatcher_pool_boot_status(), "boot init failed");
	zassert_true(DISPATCHER_POOL_ABI_OK());
	zassert_ok(msg_target_init(&t1, &ptr_q1, DISPATCH_MODE_POINTER, 1));
	zassert_ok(msg_target_init(&t2, &ptr_q2, DISPATCH_MODE_POINTER, 2));
	/* Value mode: whole dispatcher_msg_t items (messages of any pool fit). */
	zassert_ok(msg_target_init(&tv, &val_q, DISPATCH_MODE_VALUE, 3));
	zassert_ok(msg_target_init(&ts, &small_q, DISPATCH_MODE_POINTER, 4));
	return NULL;
}

static void after(void *f)
{
	ARG_UNUSED(f);
	(void)msg_target_purge(&t1);
	(void)msg_target_purge(&t2);
	(void)msg_target_purge(&tv);
	(void)msg_target_purge(&ts);
	assert_idle();
}

ZTEST(dispatcher_pool_api, test_boot_pool_from_kconfig)
{
	struct pool_stats s = stats();

	zassert_equal(s.pool_total, ENTRIES);
	zassert_equal(s.payload_size, CONFIG_DISPATCHER_POOL_PAYLOAD_SIZE);
	zassert_equal(s.stride, DISPATCHER_POOL_STRIDE(CONFIG_DISPATCHER_POOL_PAYLOAD_SIZE));
	zassert_equal(msg_pool_default(), &dispatcher_pool_default);
	zassert_equal(strcmp(dispatcher_pool_default.name, "default"), 0);
	zassert_equal(strcmp(dispatcher_pool_default.placement, DISPATCHER_POOL_PLACEMENT_INTERNAL),
		      0, "%s", dispatcher_pool_default.placement);
	zassert_equal(dispatcher_pool_default.region_bytes,
		      ENTRIES * DISPATCHER_POOL_STRIDE(CONFIG_DISPATCHER_POOL_PAYLOAD_SIZE));
	zassert_equal(pool_init(ENTRIES, 64), -EALREADY);
	zassert_equal(dispatcher_msg_size(), sizeof(dispatcher_msg_t));
	zassert_equal(sizeof(((dispatcher_msg_t *)0)->targets), CONFIG_DISPATCHER_POOL_TARGETS_MAX);
	zassert_equal(pool_entries_for(8, 250, 2), 8);
	zassert_equal(pool_entries_for(100, 250, 2), 50);
	zassert_equal(pool_entries_for(10000, 1000, 2), 1024);
	assert_idle();
}

ZTEST(dispatcher_pool_api, test_alloc_ref_unref)
{
	struct pool_stats before = stats();
	pool_msg_t *p = pool_try_alloc();

	zassert_not_null(p);
	zassert_not_null(p->msg);
	zassert_equal(stats().pool_in_use, 1);
	zassert_ok(msg_ref(p));
	zassert_equal(pool_msg_from_msg(p->msg), p);
	zassert_ok(msg_unref(p));
	zassert_equal(stats().pool_in_use, 1);
	zassert_ok(msg_unref(p));
	zassert_equal(stats().pool_in_use, 0);
	zassert_equal(stats().allocations - before.allocations, 1);
	zassert_equal(stats().frees - before.frees, 1);
	zassert_true(stats().high_water >= 1);

	/* Every entry, then empty. */
	pool_msg_t *all[ENTRIES];

	for (int i = 0; i < ENTRIES; i++) {
		all[i] = pool_try_alloc();
		zassert_not_null(all[i]);
	}
	zassert_is_null(pool_try_alloc());
	zassert_equal(stats().high_water, ENTRIES);
	for (int i = 0; i < ENTRIES; i++) {
		zassert_ok(msg_unref(all[i]));
	}
}

ZTEST(dispatcher_pool_api, test_broadcast_pointer_and_value)
{
	struct pool_stats before = stats();
	pool_msg_t *p = pool_try_alloc();
	pool_msg_t *got = NULL;

	zassert_not_null(p);
	p->msg->source = 7;
	p->msg->message_len = 5;
	memcpy(p->msg->data, "hello", 5);
	zassert_equal(msg_broadcast(p, all_targets, ARRAY_SIZE(all_targets)), 3);
	zassert_equal(stats().pool_in_use, 1); /* two pointer targets hold it */

	zassert_ok(msg_receive(&t1, 0, &got, NULL));
	zassert_equal(got, p);
	zassert_equal(memcmp(got->msg->data, "hello", 5), 0);
	zassert_ok(msg_unref(got));
	zassert_ok(msg_receive(&t2, 100, &got, NULL));
	zassert_ok(msg_unref(got));
	zassert_ok(msg_receive(&tv, 0, &got, &value_buf));
	zassert_is_null(got);
	zassert_equal(value_buf.source, 7);
	zassert_equal(memcmp(value_buf.data, "hello", 5), 0);

	struct pool_stats s = stats();

	zassert_equal(s.pool_in_use, 0);
	zassert_equal(s.broadcasts - before.broadcasts, 1);

	struct msg_target_stats ts;

	zassert_ok(msg_target_stats(&t1, &ts));
	zassert_equal(ts.id, 1);
	zassert_true(ts.delivered >= 1);
	zassert_equal(ts.queued, 0);
}

static int processed;

static void process_msg(const dispatcher_msg_t *msg)
{
	zassert_equal(msg->message_len, 3);
	processed++;
}

ZTEST(dispatcher_pool_api, test_module_helper)
{
	pool_msg_t *p = pool_try_alloc();

	zassert_not_null(p);
	p->msg->message_len = 3;
	zassert_equal(msg_broadcast(p, ptr_targets, 2), 2);
	processed = 0;
	zassert_ok(msg_module_process(&t1, DISPATCHER_NO_WAIT, NULL, process_msg));
	zassert_ok(msg_module_process(&t2, DISPATCHER_NO_WAIT, NULL, process_msg));
	zassert_equal(msg_module_process(&t2, DISPATCHER_NO_WAIT, NULL, process_msg),
		      -EAGAIN);
	zassert_equal(processed, 2);
}

ZTEST(dispatcher_pool_api, test_zero_receivers_is_a_drop)
{
	struct pool_stats before = stats();
	msg_target_t *const small[] = {&ts};

	/* small_q has 2 slots: the third broadcast reaches nobody. */
	for (int i = 0; i < 3; i++) {
		pool_msg_t *p = pool_try_alloc();

		zassert_not_null(p);
		p->msg->message_len = 0;
		zassert_equal(msg_broadcast(p, small, 1), i < 2 ? 1 : 0);
	}
	struct pool_stats s = stats();

	zassert_equal(s.pool_in_use, 2);
	zassert_equal(s.enqueue_failures - before.enqueue_failures, 1);
	zassert_equal(s.pool_drop_count - before.pool_drop_count, 1);
	zassert_equal(msg_target_purge(&ts), 2);

	/* Empty pool: try_alloc fails and counts. */
	pool_msg_t *all[ENTRIES];

	for (int i = 0; i < ENTRIES; i++) {
		all[i] = pool_try_alloc();
	}
	zassert_is_null(pool_try_alloc());
	zassert_equal(stats().pool_alloc_failures - before.pool_alloc_failures, 1);
	for (int i = 0; i < ENTRIES; i++) {
		zassert_ok(msg_unref(all[i]));
	}
}

/* Minimal JSON checks: balanced braces/brackets outside strings, keys and values present. */
static bool json_balanced(const char *s)
{
	int depth = 0;
	bool in_str = false;

	for (; *s; s++) {
		if (in_str) {
			if (*s == '\\') {
				s++;
			} else if (*s == '"') {
				in_str = false;
			}
			continue;
		}
		if (*s == '"') {
			in_str = true;
		} else if (*s == '{' || *s == '[') {
			depth++;
		} else if (*s == '}' || *s == ']') {
			if (--depth < 0) {
				return false;
			}
		}
	}
	return depth == 0 && !in_str;
}

static bool json_has_uint(const char *json, const char *key, uint32_t value)
{
	char pat[64];

	snprintk(pat, sizeof(pat), "\"%s\":%u", key, value);
	if (strstr(json, pat) != NULL) {
		return true;
	}
	snprintk(pat, sizeof(pat), "\"%s\": %u", key, value);
	return strstr(json, pat) != NULL;
}

ZTEST(dispatcher_pool_api, test_stats_json)
{
	static char buf[1024];
	pool_msg_t *held = pool_try_alloc();
	struct pool_stats s;
	int n;

	zassert_not_null(held);
	zassert_ok(pool_stats(&s));
	n = pool_stats_json(buf, sizeof(buf), all_targets, ARRAY_SIZE(all_targets));
	zassert_true(n > 0, "rc %d", n);
	zassert_equal((size_t)n, strlen(buf));
	TC_PRINT("%s\n", buf);
	zassert_equal(buf[0], '{');
	zassert_equal(buf[n - 1], '}');
	zassert_true(json_balanced(buf));
	zassert_true(json_has_uint(buf, "pool_total", ENTRIES));
	zassert_true(json_has_uint(buf, "pool_in_use", 1));
	zassert_true(json_has_uint(buf, "pool_alloc_failures", s.pool_alloc_failures));
	zassert_true(json_has_uint(buf, "pool_drop_count", s.pool_drop_count));
	zassert_true(json_has_uint(buf, "enqueue_failures", s.enqueue_failures));
	zassert_not_null(strstr(buf, "\"targets\""));
	n = pool_stats_json(buf, 8, NULL, 0);
	zassert_equal(n, -ENOSPC, "rc %d", n);
	zassert_ok(msg_unref(held));
}

ZTEST_SUITE(dispatcher_pool_api, NULL, setup, NULL, after, NULL);
