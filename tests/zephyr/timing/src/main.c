/*
 * dispatcher-pool on Zephyr with CONFIG_DISPATCHER_POOL_TIMING=y: msg_broadcast samples each
 * target queue's depth after the put, msg_receive records the broadcast-to-receive latency of
 * pointer items (k_cycle_get_32 stamps), and struct msg_target_stats, the JSON target objects
 * and the shell's "pool stats" show them.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <string.h>

#include <zephyr/kernel.h>
#include <zephyr/sys/util.h>
#include <zephyr/shell/shell.h>
#include <zephyr/shell/shell_dummy.h>
#include <zephyr/ztest.h>

#include "msg_pool.h"
#include "dispatcher_pool_zephyr.h"

BUILD_ASSERT(IS_ENABLED(CONFIG_DISPATCHER_POOL_TIMING), "this suite tests the timing build");

K_MSGQ_DEFINE(ptr_q, sizeof(pool_msg_t *), 4, sizeof(void *));
K_MSGQ_DEFINE(val_q, sizeof(dispatcher_msg_t), 4, sizeof(void *));
static msg_target_t ptr_t, val_t;
static msg_target_t *const both[] = {&ptr_t, &val_t};

static struct msg_target_stats tstats(const msg_target_t *t)
{
	struct msg_target_stats s;

	memset(&s, 0xff, sizeof(s));
	zassert_ok(msg_target_stats(t, &s));
	return s;
}

/* Every test ends with every entry back in the pool. */
static void check_idle(void)
{
	struct pool_stats s;

	zassert_ok(pool_stats(&s));
	zassert_equal(s.pool_in_use, 0, "a test leaked an entry");
}

static void broadcast_n(int n, msg_target_t *const *targets, size_t n_targets)
{
	for (int i = 0; i < n; i++) {
		pool_msg_t *p = pool_try_alloc();

		zassert_not_null(p);
		p->msg->message_len = 4;
		zassert_equal(msg_broadcast(p, targets, n_targets), (int)n_targets);
	}
}

static void receive_all_ptr(int n)
{
	for (int i = 0; i < n; i++) {
		pool_msg_t *p;

		zassert_ok(msg_receive(&ptr_t, 0, &p, NULL));
		zassert_ok(msg_unref(p));
	}
}

ZTEST(dispatcher_pool_timing, test_depth_is_sampled_after_each_put)
{
	broadcast_n(3, both, 2); /* nobody receives: depths 1, 2, 3 */
	struct msg_target_stats ps = tstats(&ptr_t);
	struct msg_target_stats vs = tstats(&val_t);

	zassert_equal(ps.depth_samples, 3);
	zassert_equal(ps.avg_depth_x100, 200);
	zassert_equal(vs.depth_samples, 3);
	zassert_equal(vs.avg_depth_x100, 200);
	zassert_equal(ps.latency_count, 0, "nothing received yet");
	receive_all_ptr(3);
	k_msgq_purge(&val_q);
	check_idle();
}

ZTEST(dispatcher_pool_timing, test_a_consumer_that_sleeps_2ms_sees_2ms)
{
	/* Latency runs from the broadcast's stamp: at most the time this test saw pass. */
	k_sleep(K_MSEC(50));
	uint32_t t0 = k_cycle_get_32();

	broadcast_n(2, both, 1);
	k_sleep(K_MSEC(2));
	receive_all_ptr(2);
	uint32_t elapsed_us = k_cyc_to_us_ceil32(k_cycle_get_32() - t0);
	struct msg_target_stats s = tstats(&ptr_t);

	zassert_equal(s.latency_count, 2);
	zassert_true(s.latency_min_us >= 2000, "min %u us", s.latency_min_us);
	zassert_true(s.latency_p50_us >= 1000, "p50 %u us", s.latency_p50_us);
	zassert_true(s.latency_min_us <= s.latency_p50_us && s.latency_p50_us <= s.latency_p99_us &&
			     s.latency_p99_us <= s.latency_max_us,
		     "%u %u %u %u", s.latency_min_us, s.latency_p50_us, s.latency_p99_us,
		     s.latency_max_us);
	zassert_true(s.latency_max_us <= elapsed_us, "max %u us in %u us", s.latency_max_us,
		     elapsed_us);
	check_idle();
}

ZTEST(dispatcher_pool_timing, test_value_copies_are_not_timed)
{
	static dispatcher_msg_t v_buf;
	dispatcher_msg_t *v = &v_buf;
	msg_target_t *const value_only[] = {&val_t};

	broadcast_n(2, value_only, 1);
	k_sleep(K_MSEC(1));
	for (int i = 0; i < 2; i++) {
		zassert_ok(msg_receive(&val_t, 0, NULL, v));
	}
	struct msg_target_stats s = tstats(&val_t);

	zassert_equal(s.depth_samples, 2);
	zassert_equal(s.avg_depth_x100, 150);
	zassert_equal(s.latency_count, 0);
	zassert_equal(s.latency_max_us, 0);
	check_idle();
}

ZTEST(dispatcher_pool_timing, test_json_and_shell_show_the_figures)
{
	static char buf[1024];
	size_t size;

	broadcast_n(1, both, 1);
	receive_all_ptr(1);
	zassert_true(pool_stats_json(buf, sizeof(buf), both, 1) > 0);
	zassert_not_null(strstr(buf, "\"avg_depth_x100\":100,\"depth_samples\":1,"
				     "\"latency_count\":1,\"latency_min_us\":"),
			 "%s", buf);
	zassert_not_null(strstr(buf, "\"latency_p99_us\":"), "%s", buf);

	const struct shell *sh = shell_backend_dummy_get_ptr();

	/* The shell thread starts the dummy backend after boot. */
	WAIT_FOR(shell_ready(sh), 20000, k_msleep(1));
	zassert_true(shell_ready(sh), "timed out waiting for the dummy shell backend");
	dispatcher_pool_shell_set_targets(both, 1);
	shell_backend_dummy_clear_output(sh);
	zassert_ok(shell_execute_cmd(sh, "pool stats"));
	const char *out = shell_backend_dummy_get_output(sh, &size);

	zassert_not_null(strstr(out, "avg depth 1.00 (1 samples), latency n 1 min "), "%s", out);
	dispatcher_pool_shell_set_targets(NULL, 0);
	check_idle();
}

static void before(void *f)
{
	ARG_UNUSED(f);
	k_msgq_purge(&ptr_q);
	k_msgq_purge(&val_q);
	/* Fresh counters for every test (the order is shuffled). */
	zassert_ok(msg_target_init(&ptr_t, &ptr_q, DISPATCH_MODE_POINTER, 1));
	zassert_ok(msg_target_init(&val_t, &val_q, DISPATCH_MODE_VALUE, 2));
}

ZTEST_SUITE(dispatcher_pool_timing, NULL, NULL, before, NULL, NULL);
