/*
 * dispatcher-pool on Zephyr: producer threads of different priorities, a k_timer ISR and
 * irq_offload() broadcasting while consumer threads of different priorities receive and
 * release; at the end every delivery was consumed, the self-check passes and in_use is 0.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <zephyr/irq_offload.h>
#include <zephyr/kernel.h>
#include <zephyr/ztest.h>

#include "msg_pool_module.h"
#include "msg_pool.h"

#define N_CONSUMERS 3
#define N_PRODUCERS 2
#define PER_PRODUCER 400
#define STACK 2048

K_MSGQ_DEFINE(q0, sizeof(pool_msg_t *), 4, sizeof(void *));
K_MSGQ_DEFINE(q1, sizeof(pool_msg_t *), 4, sizeof(void *));
K_MSGQ_DEFINE(q2, sizeof(pool_msg_t *), 4, sizeof(void *));
static struct k_msgq *const queues[N_CONSUMERS] = {&q0, &q1, &q2};
static msg_target_t targets[N_CONSUMERS];
static msg_target_t *const target_ptrs[N_CONSUMERS] = {&targets[0], &targets[1], &targets[2]};

static K_THREAD_STACK_ARRAY_DEFINE(cstacks, N_CONSUMERS, STACK);
static K_THREAD_STACK_ARRAY_DEFINE(pstacks, N_PRODUCERS, STACK);
static struct k_thread cthreads[N_CONSUMERS], pthreads[N_PRODUCERS];

static atomic_t consumed[N_CONSUMERS];
static atomic_t bad_payload;
static atomic_t isr_broadcasts, isr_alloc_fail, thread_broadcasts;
static volatile bool stop_consumers;

static void check_payload(const dispatcher_msg_t *msg, void *user)
{
	int idx = (int)(intptr_t)user;

	if (msg->message_len != 4 || msg->data[0] != (uint8_t)(msg->data[1] ^ 0x5A)) {
		atomic_inc(&bad_payload);
	}
	atomic_inc(&consumed[idx]);
}

static void consumer(void *a, void *b, void *c)
{
	int idx = (int)(intptr_t)a;

	ARG_UNUSED(b);
	ARG_UNUSED(c);
	while (!stop_consumers || k_msgq_num_used_get(queues[idx]) > 0) {
		int rc = msg_module_process_ex(&targets[idx], 5, NULL, check_payload,
						      (void *)(intptr_t)idx);
		if (rc != 0 && rc != -EAGAIN) {
			atomic_inc(&bad_payload);
		}
		if (idx == 2) {
			k_yield();
		}
	}
}

static bool fill_and_broadcast(pool_msg_t *p, uint8_t seq, uint8_t mask)
{
	msg_target_t *sel[N_CONSUMERS];
	size_t n = 0;

	p->msg->message_len = 4;
	p->msg->data[1] = seq;
	p->msg->data[0] = seq ^ 0x5A;
	for (int i = 0; i < N_CONSUMERS; i++) {
		if (mask & BIT(i)) {
			sel[n++] = target_ptrs[i];
		}
	}
	return msg_broadcast(p, sel, n) >= 0;
}

static void isr_produce(const void *arg)
{
	pool_msg_t *p = pool_try_alloc();

	ARG_UNUSED(arg);
	if (p == NULL) {
		atomic_inc(&isr_alloc_fail);
		return;
	}
	if (fill_and_broadcast(p, (uint8_t)atomic_get(&isr_broadcasts), 0x7)) {
		atomic_inc(&isr_broadcasts);
	}
}

static void timer_fn(struct k_timer *t)
{
	ARG_UNUSED(t);
	isr_produce(NULL);
}
K_TIMER_DEFINE(isr_timer, timer_fn, NULL);

static void producer(void *a, void *b, void *c)
{
	int idx = (int)(intptr_t)a;

	ARG_UNUSED(b);
	ARG_UNUSED(c);
	for (int i = 0; i < PER_PRODUCER; i++) {
		pool_msg_t *p;

		if (idx == 0) {
			p = pool_try_alloc(); /* streaming: drop when empty */
			if (p == NULL) {
				k_yield();
				continue;
			}
		} else if (pool_alloc(20, &p) != 0) { /* control: wait */
			continue;
		}
		if (fill_and_broadcast(p, (uint8_t)i, (uint8_t)(1 + (i % 7)))) {
			atomic_inc(&thread_broadcasts);
		}
		if ((i % 16) == 0) {
			irq_offload(isr_produce, NULL);
		}
	}
}

ZTEST(dispatcher_pool_concurrency, test_threads_and_isrs)
{
	int prio = k_thread_priority_get(k_current_get());
	struct pool_stats s, before;
	struct pool_check_report r;
	uint32_t delivered = 0, failed = 0;

	/* Fresh state: ZTEST_SHUFFLE runs this test several times. */
	stop_consumers = false;
	atomic_clear(&bad_payload);
	atomic_clear(&isr_broadcasts);
	atomic_clear(&isr_alloc_fail);
	atomic_clear(&thread_broadcasts);
	zassert_ok(pool_stats(&before));
	for (int i = 0; i < N_CONSUMERS; i++) {
		atomic_clear(&consumed[i]);
	}
	for (int i = 0; i < N_CONSUMERS; i++) {
		zassert_ok(msg_target_init(&targets[i], queues[i], DISPATCH_MODE_POINTER, 10 + i));
		k_thread_create(&cthreads[i], cstacks[i], STACK, consumer, (void *)(intptr_t)i, NULL,
				NULL, prio - 1 - i, 0, K_NO_WAIT);
	}
	k_timer_start(&isr_timer, K_MSEC(1), K_MSEC(1));
	for (int i = 0; i < N_PRODUCERS; i++) {
		k_thread_create(&pthreads[i], pstacks[i], STACK, producer, (void *)(intptr_t)i, NULL,
				NULL, prio - 1 + 2 * i, 0, K_NO_WAIT);
	}
	for (int i = 0; i < N_PRODUCERS; i++) {
		zassert_ok(k_thread_join(&pthreads[i], K_SECONDS(60)));
	}
	k_timer_stop(&isr_timer);
	stop_consumers = true;
	for (int i = 0; i < N_CONSUMERS; i++) {
		zassert_ok(k_thread_join(&cthreads[i], K_SECONDS(10)));
	}

	zassert_ok(pool_stats(&s));
	for (int i = 0; i < N_CONSUMERS; i++) {
		struct msg_target_stats ts;

		zassert_ok(msg_target_stats(&targets[i], &ts));
		zassert_equal(ts.queued, 0);
		zassert_equal(ts.delivered, (uint32_t)atomic_get(&consumed[i]),
			      "target %d: delivered %u consumed %ld", i, ts.delivered,
			      atomic_get(&consumed[i]));
		delivered += ts.delivered;
		failed += ts.failed;
	}
	TC_PRINT("broadcasts: %ld thread, %ld ISR (%ld ISR alloc failures); delivered %u, "
		 "enqueue failures %u, drops %u, alloc failures %u, high water %u\n",
		 atomic_get(&thread_broadcasts), atomic_get(&isr_broadcasts),
		 atomic_get(&isr_alloc_fail), delivered, failed,
		 s.pool_drop_count - before.pool_drop_count,
		 s.pool_alloc_failures - before.pool_alloc_failures, s.high_water);
	zassert_equal(atomic_get(&bad_payload), 0);
	zassert_true(atomic_get(&isr_broadcasts) > 0, "no ISR broadcast ran");
	zassert_equal(s.broadcasts - before.broadcasts,
		      (uint32_t)(atomic_get(&thread_broadcasts) + atomic_get(&isr_broadcasts)));
	zassert_equal(failed, s.enqueue_failures - before.enqueue_failures);
	zassert_equal(s.invalid_unrefs, before.invalid_unrefs);
	zassert_equal(s.pool_in_use, 0);
	zassert_ok(pool_check(&r));
	zassert_equal(r.held, 0);
	zassert_equal(r.free, CONFIG_DISPATCHER_POOL_ENTRIES);
}

ZTEST_SUITE(dispatcher_pool_concurrency, NULL, NULL, NULL, NULL, NULL);
