/*
 * The C half of the interop test: uses the pool through msg_pool.h.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <zephyr/kernel.h>

#include "msg_pool.h"
#include "dispatcher_pool_zephyr.h"

K_MSGQ_DEFINE(interop_q, sizeof(pool_msg_t *), 4, sizeof(void *));
static msg_target_t interop_target;

/* Allocates one entry from C, broadcasts it to a C target and leaves it queued. Returns the
 * broadcast's result, or a negative errno.
 */
int c_side_broadcast(void)
{
	msg_target_t *const targets[] = {&interop_target};
	pool_msg_t *p;
	int rc;

	if (dispatcher_pool_boot_status() != 0 || !DISPATCHER_POOL_ABI_OK()) {
		return -ENODEV;
	}
	rc = msg_target_init(&interop_target, &interop_q, DISPATCH_MODE_POINTER, 42);
	if (rc != 0) {
		return rc;
	}
	p = pool_try_alloc();
	if (p == NULL) {
		return -ENOMEM;
	}
	p->msg->message_len = 4;
	p->msg->data[0] = 0xC0;
	return msg_broadcast(p, targets, 1);
}

/* Receives what c_side_broadcast queued and releases it; returns the first payload byte. */
int c_side_consume(void)
{
	pool_msg_t *p = NULL;
	int rc = msg_receive(&interop_target, 0, &p, NULL);
	int byte;

	if (rc != 0) {
		return rc;
	}
	byte = p->msg->data[0];
	rc = msg_unref(p);
	return rc != 0 ? rc : byte;
}

/* The counters as C sees them. */
int c_side_stats(uint32_t *allocations, uint32_t *in_use, uint32_t *frees)
{
	struct pool_stats s;
	int rc = pool_stats(&s);

	if (rc == 0) {
		*allocations = s.allocations;
		*in_use = s.pool_in_use;
		*frees = s.frees;
	}
	return rc;
}
