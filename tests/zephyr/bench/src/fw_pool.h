/*
 * The real firmware's pool scheme (Unexpected_LIDAR_SeriesD, main/dispatcher/dispatcher_pool.c
 * and main/dispatcher.c), re-written on Zephyr primitives for the benchmark: a k_mutex-protected
 * singly linked free list, a counting k_sem of free entries, the refcount beside the message,
 * and a broadcast that refs before each put and unrefs when the put fails.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef BENCH_FW_POOL_H
#define BENCH_FW_POOL_H

#include <stddef.h>
#include <stdint.h>

#include <zephyr/kernel.h>

#include "msg_pool.h"
#include "dispatcher.h"

struct fw_pool;

/* One entry: refcount, message, owning pool, free-list link, on-free-list flag. */
struct fw_entry {
	uint16_t ref;
	dispatcher_msg_t *msg;
	struct fw_pool *pool;
	struct fw_entry *next;
	uint8_t on_free_list;
};

struct fw_pool {
	struct fw_entry *entries;
	struct fw_entry *free_list;
	size_t entry_count;
	struct k_mutex mutex;
	struct k_sem available;
	uint32_t alloc_failures;
	uint32_t in_use;
	uint32_t max_in_use;
	uint32_t double_free_count;
};

/* Builds the pool over `entries` and `msgs` (n of each). Returns 0 or a negative errno. */
int fw_pool_init(struct fw_pool *pool, struct fw_entry *entries, dispatcher_msg_t *msgs, size_t n);

/* dispatcher_pool_try_alloc: take the semaphore (no wait), pop under the mutex, ref = 1,
 * clear the header. NULL when empty.
 */
struct fw_entry *fw_pool_try_alloc(struct fw_pool *pool);

/* dispatcher_pool_msg_ref / _unref: atomic add / sub; the last unref pushes the entry back
 * under the mutex (refusing a double push) and gives the semaphore.
 */
void fw_pool_ref(struct fw_entry *e);
void fw_pool_unref(struct fw_entry *e);

/* dispatcher_broadcast_ptr: for each of the n queues, ref, put the pointer without waiting,
 * unref if the put failed; then drop the producer's reference. Returns how many got it.
 */
int fw_broadcast(struct fw_entry *e, struct k_msgq *const *queues, size_t n);

/* The firmware's registry of module queues by id (TARGET_MAX ids). */
#define FW_MODULES_MAX TARGET_MAX

/* Registers queue `q` for module `id` (NULL: none). */
void fw_register(unsigned int id, struct k_msgq *q);

/*
 * The firmware's dispatcher_broadcast_ptr: every entry of the TARGET_MAX-id list `targets` is
 * looked at, each registered id's queue gets the pointer (a ref before each put, unref on a
 * failed put), then the producer's reference is dropped. Returns how many queues took it.
 */
int fw_dispatch(struct fw_entry *e, const dispatch_target_t *targets);

#endif /* BENCH_FW_POOL_H */
