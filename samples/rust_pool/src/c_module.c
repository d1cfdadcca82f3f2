/*
 * A C module in the Rust application: an unchanged process_msg(), driven by
 * msg_module_process() on its own pointer queue. The Rust code broadcasts to this queue.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <zephyr/kernel.h>

#include <msg_pool.h>
#include <msg_pool_module.h>

K_MSGQ_DEFINE(rust_q, sizeof(pool_msg_t *), 4, sizeof(void *)); /* received by Rust */
K_MSGQ_DEFINE(c_q, sizeof(pool_msg_t *), 4, sizeof(void *));    /* received by the C module */

static msg_target_t c_target;
static int c_received, c_bad;

/* The queues, for the Rust side's targets. */
struct k_msgq *sample_queue(int i)
{
	return i == 0 ? &rust_q : &c_q;
}

static void c_process_msg(const dispatcher_msg_t *msg)
{
	/* Rust writes "frame <n>": check the prefix. */
	if (msg->message_len >= 6 && msg->data[0] == 'f' && msg->data[5] == ' ') {
		c_received++;
	} else {
		c_bad++;
	}
}

int c_module_init(void)
{
	return msg_target_init(&c_target, &c_q, DISPATCH_MODE_POINTER, 200);
}

/* Processes everything queued for the C module; returns how many good messages it has
 * processed so far (or an errno). */
int c_module_drain(void)
{
	int rc;

	while ((rc = msg_module_process(&c_target, DISPATCHER_NO_WAIT, NULL,
					       c_process_msg)) == 0) {
	}
	if (rc != -EAGAIN) {
		return rc;
	}
	return c_bad != 0 ? -EIO : c_received;
}

/* The pool as C sees it (pool_stats), to show Rust and C share one pool. */
int c_pool_counters(uint32_t *allocations, uint32_t *in_use)
{
	struct pool_stats s;
	int rc = pool_stats(&s);

	if (rc == 0) {
		*allocations = s.allocations;
		*in_use = s.pool_in_use;
	}
	return rc;
}
