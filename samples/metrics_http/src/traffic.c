/*
 * Traffic for the metrics: a streaming producer broadcasts small messages to three modules on
 * pointer queues (one of them slow), forever, so the counters served at /api/metrics move.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <string.h>

#include <zephyr/kernel.h>
#include <zephyr/sys/printk.h>

#include <msg_pool.h>
#include <msg_pool_module.h>

#include "traffic.h"

#define BURST        4  /* messages per tick */
#define MSG_BYTES    32
#define SLOW_MS      30 /* the slow module's time per message */

enum { ID_PRODUCER = 1, ID_FAST = 30, ID_LOGGER = 31, ID_SLOW = 32 };

K_MSGQ_DEFINE(fast_q, sizeof(pool_msg_t *), 8, sizeof(void *));
K_MSGQ_DEFINE(logger_q, sizeof(pool_msg_t *), 8, sizeof(void *));
K_MSGQ_DEFINE(slow_q, sizeof(pool_msg_t *), 8, sizeof(void *));

static msg_target_t fast_t, logger_t, slow_t;
msg_target_t *const traffic_targets[TRAFFIC_TARGETS] = {&fast_t, &logger_t, &slow_t};

static atomic_t errors;

static void fast_process_msg(const dispatcher_msg_t *msg)
{
	ARG_UNUSED(msg);
}

static void slow_process_msg(const dispatcher_msg_t *msg)
{
	ARG_UNUSED(msg);
	k_msleep(SLOW_MS);
}

static void module_thread(void *target, void *slow, void *c)
{
	ARG_UNUSED(c);
	msg_process_fn fn = slow != NULL ? slow_process_msg : fast_process_msg;

	for (;;) {
		int rc = msg_module_process(target, DISPATCHER_WAIT_FOREVER, NULL, fn);

		if (rc != 0 && rc != -EAGAIN) {
			atomic_inc(&errors);
			printk("ERROR: module receive: %d\n", rc);
		}
	}
}

static void producer_thread(void *a, void *b, void *c)
{
	ARG_UNUSED(a); ARG_UNUSED(b); ARG_UNUSED(c);
	uint32_t seq = 0;

	for (;;) {
		for (int i = 0; i < BURST; i++) {
			pool_msg_t *p = pool_try_alloc(); /* streaming: drop when empty */

			if (p == NULL) {
				continue;
			}
			p->msg->source = ID_PRODUCER;
			p->msg->context = NULL;
			p->msg->n_targets = 0;
			p->msg->message_len = MSG_BYTES;
			memset(p->msg->data, (int)(seq & 0xff), MSG_BYTES);
			memcpy(p->msg->data, &seq, sizeof(seq));
			seq++;
			int n = msg_broadcast(p, traffic_targets, TRAFFIC_TARGETS);

			if (n < 0) {
				atomic_inc(&errors);
				printk("ERROR: msg_broadcast: %d\n", n);
			}
		}
		k_msleep(10);
	}
}

K_THREAD_STACK_DEFINE(producer_stack, 1024);
K_THREAD_STACK_ARRAY_DEFINE(module_stacks, TRAFFIC_TARGETS, 1024);
static struct k_thread producer, modules[TRAFFIC_TARGETS];

int traffic_start(void)
{
	struct k_msgq *const queues[TRAFFIC_TARGETS] = {&fast_q, &logger_q, &slow_q};
	const uint16_t ids[TRAFFIC_TARGETS] = {ID_FAST, ID_LOGGER, ID_SLOW};

	for (int i = 0; i < TRAFFIC_TARGETS; i++) {
		int rc = msg_target_init(traffic_targets[i], queues[i], DISPATCH_MODE_POINTER,
					      ids[i]);
		if (rc != 0) {
			printk("ERROR: msg_target_init: %d\n", rc);
			return rc;
		}
	}
	for (int i = 0; i < TRAFFIC_TARGETS; i++) {
		k_thread_create(&modules[i], module_stacks[i], K_THREAD_STACK_SIZEOF(module_stacks[i]),
				module_thread, traffic_targets[i],
				traffic_targets[i] == &slow_t ? (void *)1 : NULL, NULL,
				K_PRIO_PREEMPT(8), 0, K_NO_WAIT);
	}
	k_thread_create(&producer, producer_stack, K_THREAD_STACK_SIZEOF(producer_stack),
			producer_thread, NULL, NULL, NULL, K_PRIO_PREEMPT(7), 0, K_NO_WAIT);
	return 0;
}

long traffic_errors(void)
{
	return atomic_get(&errors);
}
