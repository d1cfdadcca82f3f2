/*
 * dispatcher-pool on Zephyr: a k_timer ISR is the only producer, broadcasting bursts from its
 * own pool while consumer threads of three priorities (the lowest one slow) receive and
 * release. At the end every attempt is accounted for, exactly: attempts = broadcasts + pool-empty
 * drops; per target delivered = received (in order, no duplicate) and delivered + failed =
 * broadcasts; the pool's counters say the same, in_use is 0 and the pool check passes.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <string.h>

#include <zephyr/kernel.h>
#include <zephyr/ztest.h>

#include "dispatcher_pool_zephyr.h"
#include "msg_pool.h"

#define N_CONSUMERS 3
#define ENTRIES     6 /* < 4 queued at the slow consumer + a burst: runs dry */
#define PAYLOAD     16
#define BURST       4   /* attempts per timer expiry */
#define RUN_MS      1500
#define STACK       2048

DISPATCHER_POOL_DEFINE(isr_pool, ENTRIES, PAYLOAD);

K_MSGQ_DEFINE(iq0, sizeof(pool_msg_t *), 4, sizeof(void *));
K_MSGQ_DEFINE(iq1, sizeof(pool_msg_t *), 4, sizeof(void *));
K_MSGQ_DEFINE(iq2, sizeof(pool_msg_t *), 4, sizeof(void *));
static struct k_msgq *const iqueues[N_CONSUMERS] = {&iq0, &iq1, &iq2};
static msg_target_t itargets[N_CONSUMERS];
static msg_target_t *const itarget_ptrs[N_CONSUMERS] = {&itargets[0], &itargets[1],
							 &itargets[2]};

static K_THREAD_STACK_ARRAY_DEFINE(icstacks, N_CONSUMERS, STACK);
static struct k_thread icthreads[N_CONSUMERS];

/* Written by the ISR only. */
static uint32_t isr_attempts, isr_sent, isr_empty, isr_zero, isr_delivered, isr_errors;
static uint32_t isr_seq;
/* Written by consumer i only. */
static uint32_t received[N_CONSUMERS], out_of_order[N_CONSUMERS], bad[N_CONSUMERS];
static volatile bool stop;

static void produce(struct k_timer *t)
{
	ARG_UNUSED(t);
	for (int i = 0; i < BURST; i++) {
		pool_msg_t *p = msg_pool_try_alloc_or(&isr_pool, POOL_FALLBACK_DROP);
		int n;

		isr_attempts++;
		if (p == NULL) {
			isr_empty++;
			continue;
		}
		p->msg->message_len = sizeof(uint32_t);
		memcpy(p->msg->data, &isr_seq, sizeof(uint32_t));
		isr_seq++;
		n = msg_broadcast(p, itarget_ptrs, N_CONSUMERS);
		if (n < 0) {
			isr_errors++;
			continue;
		}
		isr_sent++;
		isr_delivered += n;
		isr_zero += n == 0;
	}
}
K_TIMER_DEFINE(producer_timer, produce, NULL);

static void consumer(void *a, void *b, void *c)
{
	int idx = (int)(intptr_t)a;
	uint32_t next = 0; /* lowest sequence number still acceptable */

	ARG_UNUSED(b);
	ARG_UNUSED(c);
	while (!stop || k_msgq_num_used_get(iqueues[idx]) > 0) {
		pool_msg_t *p = NULL;
		uint32_t seq;
		int rc = msg_receive(&itargets[idx], 10, &p, NULL);

		if (rc == -EAGAIN) {
			continue;
		}
		if (rc != 0 || p->msg->message_len != sizeof(seq) || msg_pool_of(p) != &isr_pool) {
			bad[idx]++;
			if (rc == 0) {
				(void)msg_unref(p);
			}
			continue;
		}
		memcpy(&seq, p->msg->data, sizeof(seq));
		if (seq < next) {
			out_of_order[idx]++;
		}
		next = seq + 1;
		received[idx]++;
		if (msg_unref(p) != 0) {
			bad[idx]++;
		}
		if (idx == N_CONSUMERS - 1) {
			k_msleep(1); /* the slow module: its queue fills, it holds entries */
		}
	}
}

ZTEST(dispatcher_pool_isr_producer, test_timer_isr_producer_exact_accounting)
{
	struct pool_stats b, s;
	struct pool_check_report r;
	uint32_t delivered = 0, failed = 0, got = 0;

	zassert_ok(msg_pool_stats(&isr_pool, &b));
	stop = false;
	isr_attempts = isr_sent = isr_empty = isr_zero = isr_delivered = isr_errors = 0;
	isr_seq = 0;
	for (int i = 0; i < N_CONSUMERS; i++) {
		received[i] = out_of_order[i] = bad[i] = 0;
		zassert_ok(msg_target_init(&itargets[i], iqueues[i], DISPATCH_MODE_POINTER, 20 + i));
		/* Preemptible priorities 1, 3, 5 (the slow one lowest). */
		k_thread_create(&icthreads[i], icstacks[i], STACK, consumer, (void *)(intptr_t)i,
				NULL, NULL, K_PRIO_PREEMPT(1 + 2 * i), 0, K_NO_WAIT);
	}

	k_timer_start(&producer_timer, K_MSEC(1), K_MSEC(1));
	k_msleep(RUN_MS);
	k_timer_stop(&producer_timer); /* the expiry function is not running once this returns */
	stop = true;
	for (int i = 0; i < N_CONSUMERS; i++) {
		zassert_ok(k_thread_join(&icthreads[i], K_SECONDS(10)));
	}

	zassert_ok(msg_pool_stats(&isr_pool, &s));
	for (int i = 0; i < N_CONSUMERS; i++) {
		struct msg_target_stats ts;

		zassert_ok(msg_target_stats(&itargets[i], &ts));
		zassert_equal(bad[i], 0, "consumer %d: %u bad receives", i, bad[i]);
		zassert_equal(out_of_order[i], 0, "consumer %d: %u out of order", i,
			      out_of_order[i]);
		zassert_equal(ts.queued, 0);
		zassert_equal(ts.delivered, received[i], "target %d: delivered %u received %u", i,
			      ts.delivered, received[i]);
		zassert_equal(ts.delivered + ts.failed, isr_sent, "target %d: %u + %u != %u sent", i,
			      ts.delivered, ts.failed, isr_sent);
		delivered += ts.delivered;
		failed += ts.failed;
		got += received[i];
	}
	TC_PRINT("ISR: %u attempts, %u broadcast, %u pool empty, %u reached no target; "
		 "received %u/%u/%u, enqueue failures %u, high water %u\n",
		 isr_attempts, isr_sent, isr_empty, isr_zero, received[0], received[1],
		 received[2], failed, s.high_water);

	/* Messages: every attempt was broadcast or dropped for an empty pool. */
	zassert_equal(isr_errors, 0);
	zassert_true(isr_sent > 0 && isr_empty > 0, "the scenario did not exhaust the pool");
	zassert_true(failed > 0, "the slow consumer's queue never filled");
	zassert_equal(isr_attempts, isr_sent + isr_empty);
	/* Deliveries: what was put was received; what was not is an enqueue failure. */
	zassert_equal(isr_delivered, delivered);
	zassert_equal(got, delivered);
	zassert_equal(delivered + failed, N_CONSUMERS * isr_sent);
	/* The pool's counters agree with the producer's and the consumers' counts. */
	zassert_equal(s.allocations - b.allocations, isr_sent);
	zassert_equal(s.frees - b.frees, isr_sent);
	zassert_equal(s.broadcasts - b.broadcasts, isr_sent);
	zassert_equal(s.pool_alloc_failures - b.pool_alloc_failures, isr_empty);
	zassert_equal(s.pool_drop_count - b.pool_drop_count, isr_empty + isr_zero);
	zassert_equal(s.enqueue_failures - b.enqueue_failures, failed);
	zassert_equal(s.invalid_unrefs, b.invalid_unrefs);
	zassert_equal(s.pool_in_use, 0);
	zassert_ok(msg_pool_check(&isr_pool, &r));
	zassert_equal(r.held, 0);
	zassert_equal(r.free, ENTRIES);
}

ZTEST_SUITE(dispatcher_pool_isr_producer, NULL, NULL, NULL, NULL, NULL);
