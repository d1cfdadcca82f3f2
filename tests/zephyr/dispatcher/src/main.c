/*
 * The firmware-compatible dispatcher layer on Zephyr: registry, sentinels, send helpers, pool
 * isolation, module threads (order, step period, step_ms change, queue-depth warning), value
 * and pointer modules under dispatcher_send, and the seed API in the same image.
 * Every test leaves the registry and the pools as it found them (CONFIG_ZTEST_SHUFFLE).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdlib.h>
#include <string.h>

#include <zephyr/kernel.h>
#include <zephyr/ztest.h>

#include "dispatcher.h"
#include "dispatcher_module.h"
#include "dispatcher_pool.h"
#include "dispatcher_pool_zephyr.h"

static uint32_t in_use(dispatcher_pool_type_t type)
{
	struct pool_stats s;

	zassert_ok(msg_pool_stats(dispatcher_pool_get(type), &s));
	return s.pool_in_use;
}

static void targets_to(dispatch_target_t t[TARGET_MAX], dispatch_target_t a, dispatch_target_t b)
{
	for (int i = 0; i < TARGET_MAX; i++) {
		t[i] = TARGET_MAX; /* a parameter: dispatcher_fill_targets needs an array */
	}
	t[0] = a;
	t[TARGET_MAX - 1] = b; /* a hole in between: skipped */
}

static void wait_until(volatile uint32_t *counter, uint32_t value)
{
	for (int i = 0; i < 500 && *counter < value; i++) {
		k_msleep(2);
	}
}

/* Waits until pool `type` holds nothing (a module releases a message after its process_msg
 * returns); fails the test after 1 s.
 */
static void wait_idle(dispatcher_pool_type_t type)
{
	for (int i = 0; i < 1000 && in_use(type) != 0; i++) {
		k_msleep(1);
	}
	zassert_equal(in_use(type), 0, "the module released every message");
}

/* ---- registry ---------------------------------------------------------------------------- */

K_MSGQ_DEFINE(reg_q1, sizeof(pool_msg_t *), 4, sizeof(void *));
K_MSGQ_DEFINE(reg_q2, sizeof(pool_msg_t *), 4, sizeof(void *));
K_MSGQ_DEFINE(sse_q, sizeof(pool_msg_t *), 8, sizeof(void *));

ZTEST(dispatcher_registry, test_register_reregister_unregister)
{
	dispatch_target_t t[TARGET_MAX];

	zassert_equal(dispatcher_register_ptr_queue(TARGET_MAX, &reg_q1), -EINVAL);
	zassert_false(dispatcher_has_ptr_queue(TARGET_REG));
	zassert_ok(dispatcher_register_ptr_queue(TARGET_REG, &reg_q1));
	zassert_equal_ptr(dispatcher_get_ptr_queue(TARGET_REG), &reg_q1);

	/* An entry left in the queue is released when the queue is replaced. */
	targets_to(t, TARGET_REG, TARGET_MAX);
	pool_msg_t *p = dispatcher_pool_try_alloc(DISPATCHER_POOL_CONTROL);

	zassert_not_null(p);
	zassert_equal(dispatcher_broadcast_ptr(p, t), 1);
	zassert_equal(k_msgq_num_used_get(&reg_q1), 1);
	zassert_ok(dispatcher_register_ptr_queue(TARGET_REG, &reg_q2));
	zassert_equal(k_msgq_num_used_get(&reg_q1), 0, "old queue not purged");
	zassert_equal(in_use(DISPATCHER_POOL_CONTROL), 0, "entry leaked on re-register");

	/* And when it is unregistered. */
	p = dispatcher_pool_try_alloc(DISPATCHER_POOL_CONTROL);
	zassert_equal(dispatcher_broadcast_ptr(p, t), 1);
	zassert_ok(dispatcher_register_ptr_queue(TARGET_REG, NULL));
	zassert_equal(k_msgq_num_used_get(&reg_q2), 0);
	zassert_equal(in_use(DISPATCHER_POOL_CONTROL), 0, "entry leaked on unregister");
	zassert_false(dispatcher_has_ptr_queue(TARGET_REG));
	zassert_is_null(dispatcher_target(TARGET_REG));
}

ZTEST(dispatcher_registry, test_one_queue_under_three_ids)
{
	dispatch_target_t t[TARGET_MAX];

	zassert_ok(dispatcher_register_ptr_queue(TARGET_SSE_A, &sse_q));
	zassert_ok(dispatcher_register_ptr_queue(TARGET_SSE_B, &sse_q));
	zassert_ok(dispatcher_register_ptr_queue(TARGET_SSE_C, &sse_q));
	targets_to(t, TARGET_SSE_A, TARGET_SSE_C);
	zassert_equal(dispatcher_pool_send_ptr(DISPATCHER_POOL_STREAMING, SOURCE_SEED, t,
					       (const uint8_t *)"x", 1, NULL) != NULL,
		      true);
	zassert_equal(k_msgq_num_used_get(&sse_q), 2, "one item per id");
	zassert_ok(dispatcher_register_ptr_queue(TARGET_SSE_A, NULL));
	zassert_ok(dispatcher_register_ptr_queue(TARGET_SSE_B, NULL));
	zassert_equal(k_msgq_num_used_get(&sse_q), 2, "still registered under SSE_C: kept");
	zassert_ok(dispatcher_register_ptr_queue(TARGET_SSE_C, NULL));
	zassert_equal(k_msgq_num_used_get(&sse_q), 0);
	zassert_equal(in_use(DISPATCHER_POOL_STREAMING), 0);
}

ZTEST(dispatcher_registry, test_unknown_and_unrouted_ids)
{
	dispatch_target_t t[TARGET_MAX];
	uint32_t before = dispatcher_unrouted_count(TARGET_NOQ);

	targets_to(t, TARGET_NOQ, TARGET_MAX);
	t[1] = (dispatch_target_t)200; /* not a module: ignored */
	zassert_is_null(dispatcher_get_ptr_queue((dispatch_target_t)200));
	zassert_false(dispatcher_has_ptr_queue((dispatch_target_t)-1));
	pool_msg_t *p = dispatcher_pool_try_alloc(DISPATCHER_POOL_STREAMING);

	zassert_equal(dispatcher_broadcast_ptr(p, t), 0);
	zassert_equal(dispatcher_unrouted_count(TARGET_NOQ), before + 1);
	zassert_equal(in_use(DISPATCHER_POOL_STREAMING), 0, "the producer's reference is consumed");
}

ZTEST_SUITE(dispatcher_registry, NULL, NULL, NULL, NULL, NULL);

/* ---- send helpers, the pointer view, pool isolation ----------------------------------- */

ZTEST(dispatcher_send, test_truncation_and_context)
{
	static uint8_t big[300];
	int ctx = 7;
	dispatch_target_t t[TARGET_MAX];

	for (size_t i = 0; i < sizeof(big); i++) {
		big[i] = (uint8_t)(i ^ 0x5A);
	}
	zassert_ok(dispatcher_register_ptr_queue(TARGET_REG, &reg_q1));
	targets_to(t, TARGET_REG, TARGET_MAX);
	uint32_t trunc = dispatcher_pool_truncations(DISPATCHER_POOL_CONTROL);
	dispatcher_pool_send_params_t params = {
		.type = DISPATCHER_POOL_CONTROL,
		.source = SOURCE_SEED,
		.targets = t,
		.data = big,
		.data_len = sizeof(big),
		.context = &ctx,
	};

	zassert_not_null(dispatcher_pool_send_ptr_params(&params));
	zassert_equal(dispatcher_pool_truncations(DISPATCHER_POOL_CONTROL), trunc + 1);
	pool_msg_t *r = NULL;

	zassert_ok(k_msgq_get(&reg_q1, &r, K_NO_WAIT));
	const dispatcher_msg_ptr_t *v = dispatcher_pool_get_msg_const(r);
	size_t room = dispatcher_pool_payload_size(DISPATCHER_POOL_CONTROL);

	zassert_not_null(v);
	zassert_equal(v->message_len, room);
	zassert_mem_equal(v->data, big, room);
	zassert_equal_ptr(v->context, &ctx);
	zassert_equal(v->source, SOURCE_SEED);
	dispatcher_pool_msg_unref(r);
	zassert_ok(dispatcher_register_ptr_queue(TARGET_REG, NULL));
	zassert_equal(in_use(DISPATCHER_POOL_CONTROL), 0);
}

ZTEST(dispatcher_send, test_null_on_exhaustion_and_isolation)
{
	static pool_msg_t *held[1024];
	struct pool_stats s;
	dispatch_target_t t[TARGET_MAX];

	zassert_ok(msg_pool_stats(dispatcher_pool_get(DISPATCHER_POOL_STREAMING), &s));
	zassert_true(s.pool_total <= ARRAY_SIZE(held));
	for (uint32_t i = 0; i < s.pool_total; i++) {
		held[i] = dispatcher_pool_try_alloc(DISPATCHER_POOL_STREAMING);
		zassert_not_null(held[i]);
	}
	targets_to(t, TARGET_NOQ, TARGET_MAX);
	zassert_is_null(dispatcher_pool_send_ptr(DISPATCHER_POOL_STREAMING, SOURCE_SEED, t,
						 (const uint8_t *)"y", 1, NULL));
	zassert_is_null(dispatcher_pool_alloc_blocking(DISPATCHER_POOL_STREAMING, 10));
	/* Streaming exhausted: control still allocates without waiting. */
	pool_msg_t *c = dispatcher_pool_alloc_blocking(DISPATCHER_POOL_CONTROL, 0);

	zassert_not_null(c, "control starved by a streaming flood");
	dispatcher_pool_msg_unref(c);
	for (uint32_t i = 0; i < s.pool_total; i++) {
		dispatcher_pool_msg_unref(held[i]);
	}
	zassert_equal(in_use(DISPATCHER_POOL_STREAMING), 0);
}

ZTEST(dispatcher_send, test_self_test_passes)
{
	zassert_ok(dispatcher_pool_self_test_run());
	dispatcher_pool_self_test();
	dispatcher_pool_log_stats();
}

ZTEST_SUITE(dispatcher_send, NULL, NULL, NULL, NULL, NULL);

/* ---- module threads --------------------------------------------------------------------- */

#define ORDER_N 12
static uint8_t order_seen[ORDER_N];
static volatile uint32_t order_count;

static void order_process(const dispatcher_msg_t *msg)
{
	if (order_count < ORDER_N && msg->message_len == 1) {
		order_seen[order_count] = msg->data[0];
	}
	order_count++;
}

static dispatcher_module_t order_mod = {
	.name = "order",
	.target = TARGET_ORDER,
	.queue_len = 16,
	.stack_size = 1024,
	.task_prio = 5,
	.process_msg = order_process,
};

#define STEP_MAX 64
static int64_t step_at[STEP_MAX];
static volatile uint32_t step_count;

static void step_frame(void)
{
	if (step_count < STEP_MAX) {
		step_at[step_count] = k_uptime_get();
	}
	step_count++;
}

static dispatcher_module_t step_mod = {
	.name = "step",
	.target = TARGET_STEP,
	.queue_len = 4,
	.task_prio = 4,
	.step_frame = step_frame,
	.step_ms = 0,
};

static K_SEM_DEFINE(warn_gate, 0, 1);
static K_SEM_DEFINE(warn_taken, 0, 1);
static K_SEM_DEFINE(warn_done, 0, 8);
static volatile uint32_t warn_processed;

static void warn_process(const dispatcher_msg_t *msg)
{
	ARG_UNUSED(msg);
	if (warn_processed == 0) {
		k_sem_give(&warn_taken);
		(void)k_sem_take(&warn_gate, K_SECONDS(5)); /* hold the thread while the queue fills */
	}
	warn_processed++;
	k_sem_give(&warn_done);
}

/* Defined statically, with its own queue, stack and thread. */
DISPATCHER_MODULE_DEFINE(warn_mod, TARGET_WARN, 8, 1024, 5, warn_process, NULL, 0);

static void *modules_setup(void)
{
	static bool started;

	if (!started) {
		zassert_ok(dispatcher_module_start(&order_mod));
		zassert_ok(dispatcher_module_start(&step_mod));
		zassert_ok(dispatcher_module_start(&warn_mod));
		started = true;
	}
	return NULL;
}

ZTEST(dispatcher_module, test_start_refusals)
{
	dispatcher_module_t bad = {.name = "bad", .target = TARGET_MAX, .queue_len = 4};
	dispatcher_module_t noq = {.name = "noq", .target = TARGET_NOQ, .queue_len = 0};

	zassert_equal(dispatcher_module_start(NULL), -EINVAL);
	zassert_equal(dispatcher_module_start(&bad), -EINVAL);
	zassert_equal(dispatcher_module_start(&noq), -EINVAL);
	zassert_equal(dispatcher_module_start(&order_mod), -EALREADY);
	zassert_false(dispatcher_has_ptr_queue(TARGET_NOQ));
}

/* A start refused for room (a stack above the static slots, no CONFIG_DYNAMIC_THREAD) leaves
 * nothing registered: a broadcast to its id is unrouted and pins no entry. Static: a retry
 * reuses the queue the first attempt took from the area.
 */
static dispatcher_module_t big_mod = {
	.name = "big",
	.target = TARGET_NOQ,
	.queue_len = 4,
	.stack_size = 8 * CONFIG_DISPATCHER_MODULE_STACK_SIZE,
	.task_prio = 5,
};

ZTEST(dispatcher_module, test_start_refused_for_room_registers_nothing)
{
	dispatch_target_t t[TARGET_MAX];
	uint32_t unrouted = dispatcher_unrouted_count(TARGET_NOQ);

	zassert_equal(dispatcher_module_start(&big_mod), -ENOMEM);
	zassert_false(dispatcher_has_ptr_queue(TARGET_NOQ), "a refused start registered its queue");
	targets_to(t, TARGET_NOQ, TARGET_MAX);
	zassert_not_null(
		dispatcher_pool_send_ptr(DISPATCHER_POOL_STREAMING, SOURCE_SEED, t, NULL, 0, NULL));
	zassert_equal(dispatcher_unrouted_count(TARGET_NOQ), unrouted + 1);
	zassert_equal(in_use(DISPATCHER_POOL_STREAMING), 0, "the message was pinned");
}

ZTEST(dispatcher_module, test_process_order_in_place)
{
	dispatch_target_t t[TARGET_MAX];

	zassert_true(dispatcher_has_ptr_queue(TARGET_ORDER), "start registered the queue");
	targets_to(t, TARGET_ORDER, TARGET_MAX);
	order_count = 0;
	for (uint8_t i = 0; i < ORDER_N; i++) {
		zassert_not_null(
			dispatcher_pool_send_ptr(DISPATCHER_POOL_STREAMING, SOURCE_SEED, t, &i, 1, NULL));
	}
	wait_until(&order_count, ORDER_N);
	zassert_equal(order_count, ORDER_N);
	for (uint8_t i = 0; i < ORDER_N; i++) {
		zassert_equal(order_seen[i], i, "message %u out of order", i);
	}
	wait_idle(DISPATCHER_POOL_STREAMING);
}

ZTEST(dispatcher_module, test_step_period_and_change)
{
	/* One tick, in ms, rounded up, plus the ms truncation of k_uptime_get(). */
	const int64_t tol = DIV_ROUND_UP(1000, CONFIG_SYS_CLOCK_TICKS_PER_SEC) + 1;

	step_count = 0;
	step_mod.step_ms = 100;
	k_msleep(2050);
	uint32_t n = step_count;

	zassert_true(n >= 19 && n <= 21, "%u steps in 2.05 s at 100 ms", n);
	int64_t span = step_at[n - 1] - step_at[0];

	zassert_true(llabs(span - (int64_t)(n - 1) * 100) <= tol, "drift: %lld ms over %u steps",
		     span, n);
	for (uint32_t i = 1; i < n; i++) {
		int64_t d = step_at[i] - step_at[i - 1];

		zassert_true(llabs(d - 100) <= tol, "step %u after %lld ms", i, d);
	}

	/* step_ms changed while running: the next periods use it. */
	step_count = 0;
	step_mod.step_ms = 40;
	k_msleep(1010);
	n = step_count;
	zassert_true(n >= 23 && n <= 26, "%u steps in 1.01 s at 40 ms", n);
	for (uint32_t i = 2; i < n && i < STEP_MAX; i++) {
		int64_t d = step_at[i] - step_at[i - 1];

		zassert_true(llabs(d - 40) <= tol, "step %u after %lld ms at 40 ms", i, d);
	}
	step_mod.step_ms = 0;
	k_msleep(100);
	n = step_count;
	k_msleep(300);
	zassert_equal(step_count, n, "step_ms 0 stops stepping");
}

/* The module warns at most once per this many ms (dispatcher_module.h: "once per 10 s"). */
#define QUEUE_WARN_INTERVAL_MS 10000

/* One message held by the module's thread, then 7 more queued behind it (7 of 8 slots):
 * returns how many queue-depth warnings that added. Every message is released at the end.
 */
static uint32_t fill_warn_queue(void)
{
	dispatch_target_t t[TARGET_MAX];
	uint32_t before = warn_mod.queue_warnings;

	warn_processed = 0;
	k_sem_reset(&warn_gate);
	k_sem_reset(&warn_taken);
	k_sem_reset(&warn_done);
	targets_to(t, TARGET_WARN, TARGET_MAX);
	zassert_not_null(dispatcher_pool_send_ptr(DISPATCHER_POOL_STREAMING, SOURCE_SEED, t, NULL, 0, NULL));
	zassert_ok(k_sem_take(&warn_taken, K_SECONDS(5)), "the thread took the first message");
	for (int i = 0; i < 7; i++) {
		zassert_not_null(
			dispatcher_pool_send_ptr(DISPATCHER_POOL_STREAMING, SOURCE_SEED, t, NULL, 0, NULL));
	}
	k_sem_give(&warn_gate);
	for (int i = 0; i < 8; i++) {
		zassert_ok(k_sem_take(&warn_done, K_SECONDS(5)), "message %d not processed", i);
	}
	zassert_equal(warn_processed, 8);
	wait_idle(DISPATCHER_POOL_STREAMING);
	return warn_mod.queue_warnings - before;
}

ZTEST(dispatcher_module, test_queue_depth_warning)
{
	/* The module's thread is blocked on its empty queue: its warning state can be set here
	 * (the next put and get order these writes before its reads).
	 */
	warn_mod.queue_warnings = 1;
	warn_mod.last_queue_warn = k_uptime_get() - QUEUE_WARN_INTERVAL_MS - 1;
	zassert_equal(fill_warn_queue(), 1, "no warning at 7/8 after a quiet interval");
	/* Within the interval of that warning: none. */
	zassert_equal(fill_warn_queue(), 0, "warned again within 10 s");
}

ZTEST_SUITE(dispatcher_module, NULL, modules_setup, NULL, NULL, NULL);

/* ---- value and pointer modules under dispatcher_send; the seed API beside ------------- */

K_MSGQ_DEFINE(legacy_q, sizeof(dispatcher_msg_t), 2, sizeof(void *));
K_MSGQ_DEFINE(ptr_q, sizeof(pool_msg_t *), 2, sizeof(void *));

ZTEST(dispatcher_mixed, test_send_value_and_pointer)
{
	static dispatcher_msg_t in, out;

	zassert_ok(dispatcher_register_value_queue(TARGET_LEGACY, &legacy_q));
	zassert_ok(dispatcher_register_ptr_queue(TARGET_PTR, &ptr_q));
	memset(&in, 0, sizeof(in));
	in.source = SOURCE_SEED;
	dispatcher_fill_targets(in.targets);
	in.targets[0] = TARGET_LEGACY;
	in.targets[3] = TARGET_PTR;
	memcpy(in.data, "hello", 5);
	in.message_len = 5;
	zassert_equal(dispatcher_send(&in), 2);

	pool_msg_t *p = NULL;

	zassert_ok(k_msgq_get(&ptr_q, &p, K_NO_WAIT));
	zassert_mem_equal(p->msg->data, "hello", 5);
	dispatcher_pool_msg_unref(p);
	zassert_ok(msg_receive(dispatcher_target(TARGET_LEGACY), 0, NULL, &out));
	zassert_equal(out.message_len, 5);
	zassert_mem_equal(out.data, "hello", 5);
	zassert_equal_ptr(out.data_ptr, out.data, "the copy's view points at the copy");
	zassert_ok(dispatcher_register_value_queue(TARGET_LEGACY, NULL));
	zassert_ok(dispatcher_register_ptr_queue(TARGET_PTR, NULL));
	zassert_equal(in_use(DISPATCHER_POOL_STREAMING), 0);
}

ZTEST(dispatcher_mixed, test_seed_api_in_the_same_image)
{
	/* The seed's default pool entry, broadcast through the registry and low-level targets. */
	zassert_ok(dispatcher_register_ptr_queue(TARGET_SEED, &ptr_q));
	pool_msg_t *d = pool_try_alloc();

	zassert_not_null(d);
	zassert_equal_ptr(msg_pool_of(d), msg_pool_default());
	msg_target_t *list[1] = {dispatcher_target(TARGET_SEED)};

	zassert_not_null(list[0]);
	zassert_equal(msg_broadcast(d, list, 1), 1);
	pool_msg_t *r = NULL;

	zassert_ok(msg_receive(list[0], 0, &r, NULL));
	zassert_equal_ptr(r, d);
	zassert_equal_ptr(dispatcher_pool_get_msg_const(r)->data, d->msg->data);
	zassert_ok(msg_unref(r));
	struct pool_check_report rep;

	zassert_ok(pool_check(&rep));
	zassert_ok(msg_pool_check(dispatcher_pool_get(DISPATCHER_POOL_STREAMING), &rep));
	zassert_ok(msg_pool_check(dispatcher_pool_get(DISPATCHER_POOL_CONTROL), &rep));
	zassert_ok(dispatcher_register_ptr_queue(TARGET_SEED, NULL));
}

static void *mixed_setup(void)
{
	zassert_ok(dispatcher_init());
	return NULL;
}

ZTEST_SUITE(dispatcher_mixed, NULL, mixed_setup, NULL, NULL, NULL);
