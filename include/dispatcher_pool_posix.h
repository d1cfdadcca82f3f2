/*
 * dispatcher_pool_posix.h: the POSIX (Linux, pthreads) port of the dispatcher pool.
 *
 * libdispatcher_pool_posix.a (built from port/posix/dispatcher_pool_posix.c by
 * `make -C port/posix`, see capi/README.md) implements every function of
 * dispatcher_pool_port.h for a C program on Linux that links libdispatcher_pool.a:
 *
 *   - the pool's semaphore: pthread mutex + condition variable on CLOCK_MONOTONIC with k_sem
 *     semantics (a give wakes exactly one waiter, else increments the count);
 *   - time: CLOCK_MONOTONIC in milliseconds; "ISR context": never (see the test hooks);
 *   - memory: aligned_alloc for the descriptors, the message region (never freed, as on
 *     Zephyr) and the heap fallback messages;
 *   - the queues: `struct k_msgq` below, a bounded FIFO of fixed-size items with Zephyr's
 *     k_msgq semantics, and the dispatcher_port_msgq_* functions over it.
 *
 * A target's queue on POSIX:
 *
 *     struct k_msgq q;
 *     dispatcher_posix_msgq_init(&q, sizeof(pool_msg_t *), 16);      // pointer mode
 *     // dispatcher_posix_msgq_init(&q, sizeof(dispatcher_msg_t), 4); // value mode
 *     dispatch_target_init(&target, &q, DISPATCH_MODE_POINTER, MY_ID);
 *     ...
 *     dispatcher_posix_msgq_destroy(&q);   // when no thread uses it any more
 *
 * The queue can also be used directly with the port functions of dispatcher_pool_port.h:
 * dispatcher_port_msgq_put (no wait), dispatcher_port_msgq_get (with a timeout),
 * dispatcher_port_msgq_len, dispatcher_port_msgq_purge, dispatcher_port_msgq_item_size.
 * All of them are thread-safe.
 *
 * One pool per process (the C API's pool_init), so one semaphore.
 */
#ifndef DISPATCHER_POOL_POSIX_H
#define DISPATCHER_POOL_POSIX_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "dispatcher_pool_port.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * A k_msgq for POSIX: a bounded ring of `depth` items of `item_size` bytes under a mutex.
 * put never waits (false when full), get waits up to a timeout, FIFO order. Initialise with
 * dispatcher_posix_msgq_init; the fields are private.
 */
struct k_msgq {
    pthread_mutex_t mu;
    pthread_cond_t not_empty;
    size_t item_size;
    size_t depth;
    size_t head;
    size_t len;
    unsigned char *buf;
};

/**
 * Initialises q for `depth` items of `item_size` bytes (like k_msgq_alloc_init): 0, -EINVAL
 * when either is 0, -ENOMEM when the ring cannot be allocated.
 */
int dispatcher_posix_msgq_init(struct k_msgq *q, size_t item_size, size_t depth);

/**
 * Frees q's ring (like k_msgq_cleanup). Call it only when no thread uses q any more and after
 * dispatch_target_purge() for a pointer-mode target that may still hold messages.
 */
void dispatcher_posix_msgq_destroy(struct k_msgq *q);

/**
 * @name Test hooks
 * For tests of code that runs on Zephyr: they change how the port behaves, so a product
 * build does not call them.
 * @{
 */

/**
 * Makes dispatcher_port_in_isr() return in_isr on the calling thread (pretend ISR context:
 * the pool then refuses blocking calls with -EPERM). Default false.
 */
void dispatcher_posix_test_set_isr(bool in_isr);

/**
 * Lets only n more heap fallback allocations (dispatcher_port_heap_alloc) succeed; n < 0:
 * unlimited (the default).
 */
void dispatcher_posix_test_set_heap_budget(long n);

/** Heap fallback blocks allocated and not yet freed (for leak checks). */
long dispatcher_posix_test_heap_live(void);

/** @} */

#ifdef __cplusplus
}
#endif

#endif /* DISPATCHER_POOL_POSIX_H */
