/*
 * The timing scenario's "under load" run (CONFIG_DISPATCHER_POOL_TIMING=y): what the per-target
 * metrics show when one consumer keeps up and one does not.
 *
 *   producer  main (priority 5): one 16-byte message every LOAD_PERIOD_MS (k_sleep), broadcast
 *             by pointer to both targets, LOAD_MSGS times
 *   fast      priority 2 (above the producer): msg_receive, msg_unref at once
 *   slow      priority 6 (below the producer): msg_receive, SLOW_WORK_US of k_busy_wait, unref;
 *             it needs longer than a period per message, so its queue fills and puts fail
 *
 * Latency is virtual time (QEMU -icount: 64 ns per instruction), from the broadcast's stamp
 * (k_cycle_get_32, before the first put) to msg_receive taking the item.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <zephyr/kernel.h>
#include <zephyr/sys/atomic.h>
#include <zephyr/sys/printk.h>

#include "msg_pool.h"
#include "dispatcher_pool_zephyr.h"
#include "under_load.h"

#define LOAD_MSGS      100
#define LOAD_PERIOD_MS 10
#define SLOW_WORK_US   25000
#define LOAD_SLOTS     8
#define FAST_PRIO      2
#define SLOW_PRIO      6

BUILD_ASSERT(FAST_PRIO < CONFIG_MAIN_THREAD_PRIORITY && SLOW_PRIO > CONFIG_MAIN_THREAD_PRIORITY,
	     "fast above the producer, slow below it");

/* Both queues full plus one message in each consumer's hands; 16-byte payloads (RAM). */
DISPATCHER_POOL_DEFINE(load_pool, 2 * LOAD_SLOTS + 2, 16);

K_MSGQ_DEFINE(fast_q, sizeof(void *), LOAD_SLOTS, 4);
K_MSGQ_DEFINE(slow_q, sizeof(void *), LOAD_SLOTS, 4);
static msg_target_t fast_t, slow_t;

static atomic_t fast_done, slow_done, load_errors;

static void consumer(void *p1, void *p2, void *p3)
{
	msg_target_t *t = p1;
	atomic_t *done = p2;
	uint32_t work_us = (uint32_t)(uintptr_t)p3;

	for (;;) {
		pool_msg_t *p;

		if (msg_receive(t, -1, &p, NULL) != 0) {
			atomic_inc(&load_errors);
			continue;
		}
		if (work_us != 0) {
			k_busy_wait(work_us);
		}
		if (msg_unref(p) != 0) {
			atomic_inc(&load_errors);
		}
		atomic_inc(done);
	}
}

static void print_row(const char *name, const struct msg_target_stats *s)
{
	printk("| %s | %u.%02u | %u | %u | %u | %u | %u | %u | %u |\n", name,
	       s->avg_depth_x100 / 100U, s->avg_depth_x100 % 100U, s->delivered, s->failed,
	       s->latency_count, s->latency_min_us, s->latency_p50_us, s->latency_p99_us,
	       s->latency_max_us);
}

uint32_t bench_under_load(struct k_thread *fast_thread, k_thread_stack_t *fast_stack,
			  struct k_thread *slow_thread, k_thread_stack_t *slow_stack, size_t stack_bytes)
{
	msg_target_t *both[2] = {&fast_t, &slow_t};
	struct msg_target_stats fs, ss;
	struct pool_stats ps;
	uint32_t errors = 0;

	if (msg_target_init(&fast_t, &fast_q, DISPATCH_MODE_POINTER, 1) != 0 ||
	    msg_target_init(&slow_t, &slow_q, DISPATCH_MODE_POINTER, 2) != 0) {
		printk("BENCH ERROR: under load: msg_target_init\n");
		return 1;
	}
	k_thread_create(fast_thread, fast_stack, stack_bytes, consumer, &fast_t, &fast_done,
			(void *)0, FAST_PRIO, 0, K_NO_WAIT);
	k_thread_create(slow_thread, slow_stack, stack_bytes, consumer, &slow_t, &slow_done,
			(void *)(uintptr_t)SLOW_WORK_US, SLOW_PRIO, 0, K_NO_WAIT);

	for (int i = 0; i < LOAD_MSGS; i++) {
		pool_msg_t *p = msg_pool_try_alloc(&load_pool);

		if (p == NULL) {
			errors++;
		} else {
			p->msg->source = (uint16_t)i;
			p->msg->message_len = 16;
			/* The slow queue may be full: 1 or 2 deliveries are both expected. */
			if (msg_broadcast(p, both, 2) < 1) {
				errors++;
			}
		}
		k_sleep(K_MSEC(LOAD_PERIOD_MS));
	}
	/* Let the slow consumer finish what it was given. */
	for (int w = 0; w < 100 && k_msgq_num_used_get(&slow_q) != 0; w++) {
		k_sleep(K_MSEC(SLOW_WORK_US / 1000));
	}
	k_sleep(K_MSEC(2 * SLOW_WORK_US / 1000));

	if (msg_target_stats(&fast_t, &fs) != 0 || msg_target_stats(&slow_t, &ss) != 0 ||
	    msg_pool_stats(&load_pool, &ps) != 0) {
		printk("BENCH ERROR: under load: stats\n");
		return errors + 1;
	}
	k_thread_abort(fast_thread);
	k_thread_abort(slow_thread);
	if (ps.pool_in_use != 0 || fs.delivered != LOAD_MSGS ||
	    fs.delivered != (uint32_t)atomic_get(&fast_done) ||
	    ss.delivered != (uint32_t)atomic_get(&slow_done) ||
	    fs.latency_count != fs.delivered || ss.latency_count != ss.delivered ||
	    ss.failed == 0 || atomic_get(&load_errors) != 0) {
		printk("BENCH ERROR: under load: in use %u, fast %u/%u, slow %u/%u failed %u, "
		       "errors %ld\n",
		       ps.pool_in_use, fs.delivered, (uint32_t)atomic_get(&fast_done), ss.delivered,
		       (uint32_t)atomic_get(&slow_done), ss.failed, (long)atomic_get(&load_errors));
		errors++;
	}

	printk("\n| under load: %d broadcasts, one per %d ms, to a fast and a slow consumer "
	       "(%d-slot queues) | avg queue depth | delivered | failed (queue full) | "
	       "latencies | min us | p50 us | p99 us | max us |\n"
	       "|---|---:|---:|---:|---:|---:|---:|---:|---:|\n",
	       LOAD_MSGS, LOAD_PERIOD_MS, LOAD_SLOTS);
	print_row("fast: priority 2 (above the producer), receives at once", &fs);
	print_row("slow: priority 6 (below the producer), 25 ms of k_busy_wait per message", &ss);
	printk("\nTIMING fast_p50_us=%u fast_p99_us=%u slow_p50_us=%u slow_p99_us=%u "
	       "fast_avg_depth=%u.%02u slow_avg_depth=%u.%02u\n",
	       fs.latency_p50_us, fs.latency_p99_us, ss.latency_p50_us, ss.latency_p99_us,
	       fs.avg_depth_x100 / 100U, fs.avg_depth_x100 % 100U, ss.avg_depth_x100 / 100U,
	       ss.avg_depth_x100 % 100U);
	return errors;
}
