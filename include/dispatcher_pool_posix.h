/*
 * dispatcher_pool_posix.h: the POSIX (Linux, pthreads) port of the dispatcher pool.
 *
 * libdispatcher_pool_posix.a (built from port/posix/dispatcher_pool_posix.c by
 * `make -C port/posix`, see capi/README.md) implements every function of
 * dispatcher_pool_port.h for a C program on Linux that links libdispatcher_pool.a:
 *
 *   - each pool's semaphore (struct dispatcher_posix_sem): pthread mutex + condition variable
 *     on CLOCK_MONOTONIC with k_sem semantics (a give wakes exactly one waiter, else
 *     increments the count);
 *   - time: CLOCK_MONOTONIC in milliseconds; "ISR context": never (see the test hooks);
 *   - memory: aligned_alloc for heap fallback messages; pool memory is static, defined with
 *     DISPATCHER_POOL_DEFINE below (the default pool of pool_init() is defined in the port:
 *     DISPATCHER_POSIX_DEFAULT_POOL_ENTRIES x DISPATCHER_PAYLOAD_MAX, heap slots up to 64);
 *   - the queues: `struct k_msgq` below, a bounded FIFO of fixed-size items with Zephyr's
 *     k_msgq semantics, and the dispatcher_port_msgq_* functions over it.
 *
 * A target's queue on POSIX:
 *
 *     struct k_msgq q;
 *     dispatcher_posix_msgq_init(&q, sizeof(pool_msg_t *), 16);      // pointer mode
 *     // dispatcher_posix_msgq_init(&q, sizeof(dispatcher_msg_t), 4); // value mode
 *     msg_target_init(&target, &q, DISPATCH_MODE_POINTER, MY_ID);
 *     ...
 *     dispatcher_posix_msgq_destroy(&q);   // when no thread uses it any more
 *
 * The queue can also be used directly with the port functions of dispatcher_pool_port.h:
 * dispatcher_port_msgq_put (no wait), dispatcher_port_msgq_get (with a timeout),
 * dispatcher_port_msgq_len, dispatcher_port_msgq_purge, dispatcher_port_msgq_item_size.
 * All of them are thread-safe.
 *
 * Several pools per process: DISPATCHER_POOL_DEFINE(name, entries, payload_size) at file scope,
 * then msg_pool_init(&name) once:
 *
 *     DISPATCHER_POOL_DEFINE(streaming, 32, 64);
 *     DISPATCHER_POOL_DEFINE(control, 4, 256);
 *     msg_pool_init(&streaming); msg_pool_init(&control);
 *     pool_msg_t *p = msg_pool_try_alloc(&streaming);
 */
#ifndef DISPATCHER_POOL_POSIX_H
#define DISPATCHER_POOL_POSIX_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dispatcher_pool_port.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A semaphore with k_sem semantics (limit UINT32_MAX): what msg_pool.sem points to here. */
struct dispatcher_posix_sem {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool ready;
    uint32_t count;   /* tokens left by gives nobody waited for */
    uint32_t waiting; /* blocked takers no give has picked yet */
    uint32_t grants;  /* gives handed to blocked takers, not yet collected */
};

/** Static initialiser of a struct dispatcher_posix_sem (count 0). */
#define DISPATCHER_POSIX_SEM_INITIALIZER {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false, 0, 0, 0}

/**
 * Defines `struct msg_pool name` with static memory for `entries` messages of `payload` bytes
 * and `heap_slots` heap fallback slots, and its semaphore. Create it with msg_pool_init(&name).
 */
#define DISPATCHER_POOL_DEFINE_EX(pool_name, entries, payload, heap_slots)                              \
    static struct dispatcher_posix_sem pool_name##_sem = DISPATCHER_POSIX_SEM_INITIALIZER;                                       \
    static struct pool_msg_t pool_name##_descs[(entries) + (heap_slots)];                                \
    static _Alignas(dispatcher_msg_t) unsigned char                                                 \
        pool_name##_region[(entries) * DISPATCHER_POOL_STRIDE(payload)];                                 \
    struct msg_pool pool_name = {                                                                        \
        .name = #pool_name,                                                                              \
        .config = {(entries), (payload), (heap_slots)},                                             \
        .descs = pool_name##_descs,                                                                      \
        .n_descs = (entries) + (heap_slots),                                                        \
        .region = pool_name##_region,                                                                    \
        .region_bytes = sizeof(pool_name##_region),                                                      \
        .sem = &pool_name##_sem,                                                                         \
        .placement = "RAM",                                                                    \
    }

/** DISPATCHER_POOL_DEFINE_EX without heap fallback slots. */
#define DISPATCHER_POOL_DEFINE(pool_name, entries, payload) DISPATCHER_POOL_DEFINE_EX(pool_name, entries, payload, 0)

/** The default pool's memory: the largest pool_init() accepts (entries, heap slots). */
#define DISPATCHER_POSIX_DEFAULT_POOL_ENTRIES 1024
#define DISPATCHER_POSIX_DEFAULT_POOL_HEAP_SLOTS 64

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
 * msg_target_purge() for a pointer-mode target that may still hold messages.
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
