/*
 * The real firmware's pool scheme on Zephyr primitives (see fw_pool.h). FreeRTOS calls map as
 * xSemaphoreCreateMutex -> k_mutex, xSemaphoreCreateCounting -> k_sem, xSemaphoreTake(.., 0) ->
 * k_sem_take(K_NO_WAIT), xQueueSend(q, &msg, 0) -> k_msgq_put(K_NO_WAIT); the refcount keeps
 * the firmware's uint16_t and __atomic_*_fetch(SEQ_CST). Logging, the consistency dump and the
 * stats task are left out: they are off the hot path.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <errno.h>
#include <string.h>

#include "fw_pool.h"

/* The firmware's dispatcher_fill_targets(): every target slot set to "none" (TARGET_MAX). */
#define FW_TARGET_NONE 0xFF

int fw_pool_init(struct fw_pool *pool, struct fw_entry *entries, dispatcher_msg_t *msgs, size_t n)
{
	if (pool == NULL || entries == NULL || msgs == NULL || n == 0 || n > K_SEM_MAX_LIMIT) {
		return -EINVAL;
	}
	memset(pool, 0, sizeof(*pool));
	pool->entries = entries;
	pool->entry_count = n;
	k_mutex_init(&pool->mutex);
	k_sem_init(&pool->available, n, n);
	for (size_t i = 0; i < n; i++) {
		entries[i].ref = 0;
		entries[i].pool = pool;
		entries[i].msg = &msgs[i];
		entries[i].on_free_list = 1;
		entries[i].next = pool->free_list;
		pool->free_list = &entries[i];
	}
	return 0;
}

struct fw_entry *fw_pool_try_alloc(struct fw_pool *pool)
{
	struct fw_entry *e;

	if (k_sem_take(&pool->available, K_NO_WAIT) != 0) {
		pool->alloc_failures++;
		return NULL;
	}
	(void)k_mutex_lock(&pool->mutex, K_FOREVER);
	e = pool->free_list;
	if (e != NULL) {
		pool->free_list = e->next;
		e->next = NULL;
		e->on_free_list = 0;
		pool->in_use++;
		if (pool->in_use > pool->max_in_use) {
			pool->max_in_use = pool->in_use;
		}
	}
	k_mutex_unlock(&pool->mutex);
	if (e == NULL) {
		k_sem_give(&pool->available);
		return NULL;
	}
	e->ref = 1;
	/* The firmware zeroes the header (its data pointer is kept) and refills targets[]. */
	memset(e->msg, 0, offsetof(dispatcher_msg_t, data));
	memset(e->msg->targets, FW_TARGET_NONE, sizeof(e->msg->targets));
	return e;
}

void fw_pool_ref(struct fw_entry *e)
{
	if (e == NULL) {
		return;
	}
	(void)__atomic_add_fetch(&e->ref, 1, __ATOMIC_SEQ_CST);
}

void fw_pool_unref(struct fw_entry *e)
{
	struct fw_pool *pool;

	if (e == NULL) {
		return;
	}
	if (__atomic_sub_fetch(&e->ref, 1, __ATOMIC_SEQ_CST) > 0) {
		return;
	}
	pool = e->pool;
	(void)k_mutex_lock(&pool->mutex, K_FOREVER);
	if (e->on_free_list) {
		pool->double_free_count++;
		if (pool->in_use > 0) {
			pool->in_use--;
		}
		k_mutex_unlock(&pool->mutex);
		return;
	}
	e->on_free_list = 1;
	e->next = pool->free_list;
	pool->free_list = e;
	if (pool->in_use > 0) {
		pool->in_use--;
	}
	k_mutex_unlock(&pool->mutex);
	k_sem_give(&pool->available);
}

int fw_broadcast(struct fw_entry *e, struct k_msgq *const *queues, size_t n)
{
	int success = 0;

	if (e == NULL || queues == NULL) {
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		if (queues[i] == NULL) {
			continue;
		}
		/* Ref before the put: the receiver may unref before this call returns. */
		fw_pool_ref(e);
		if (k_msgq_put(queues[i], &e, K_NO_WAIT) == 0) {
			success++;
		} else {
			fw_pool_unref(e);
		}
	}
	fw_pool_unref(e);
	return success;
}

/* The firmware's registry: one queue per module id (NULL: none). */
static struct k_msgq *fw_queues[FW_MODULES_MAX];

void fw_register(unsigned int id, struct k_msgq *q)
{
	if (id < FW_MODULES_MAX) {
		fw_queues[id] = q;
	}
}

int fw_dispatch(struct fw_entry *e, const dispatch_target_t *targets)
{
	int success = 0;

	if (e == NULL || targets == NULL) {
		return 0;
	}
	for (unsigned int i = 0; i < FW_MODULES_MAX; i++) {
		unsigned int id = (unsigned int)targets[i];
		struct k_msgq *q = id < FW_MODULES_MAX ? fw_queues[id] : NULL;

		if (q == NULL) {
			continue;
		}
		fw_pool_ref(e);
		if (k_msgq_put(q, &e, K_NO_WAIT) == 0) {
			success++;
		} else {
			fw_pool_unref(e);
		}
	}
	fw_pool_unref(e);
	return success;
}
