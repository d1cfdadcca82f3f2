/*
 * Host (Linux, pthreads) implementation of dispatcher_pool_port.h for the C tests, plus the
 * test double of Zephyr's struct k_msgq and a few test hooks.
 */
#ifndef DISPATCHER_HOST_PORT_H
#define DISPATCHER_HOST_PORT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dispatcher_pool_port.h"

/** A semaphore with k_sem semantics (limit UINT32_MAX): what msg_pool.sem points to here. */
struct host_sem {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool ready;
    uint32_t count;   /* tokens left by gives nobody waited for */
    uint32_t waiting; /* blocked takers no give has picked yet */
    uint32_t grants;  /* gives handed to blocked takers, not yet collected */
};

/** Static initialiser of a struct host_sem (count 0). */
#define HOST_SEM_INITIALIZER {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false, 0, 0, 0}

/**
 * Defines `struct msg_pool name` with static memory for `entries` messages of `payload` bytes
 * and `heap_slots` heap fallback slots, and its semaphore. Create it with msg_pool_init(&name).
 */
#define DISPATCHER_POOL_DEFINE_EX(pool_name, entries, payload, heap_slots)                              \
    static struct host_sem pool_name##_sem = HOST_SEM_INITIALIZER;                                       \
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
        .placement = "host RAM",                                                                    \
    }

/** DISPATCHER_POOL_DEFINE_EX without heap fallback slots. */
#define DISPATCHER_POOL_DEFINE(pool_name, entries, payload) DISPATCHER_POOL_DEFINE_EX(pool_name, entries, payload, 0)

/** The default pool's memory: the largest pool_init() accepts (entries, heap slots). */
#define HOST_DEFAULT_POOL_ENTRIES 1024
#define HOST_DEFAULT_POOL_HEAP_SLOTS 64

/**
 * k_msgq test double: a bounded ring of fixed-size items under a mutex, with k_msgq
 * semantics (put never waits, get waits up to a timeout, FIFO order).
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

/** k_msgq_alloc_init: depth items of item_size bytes. 0 or -ENOMEM/-EINVAL. */
int host_msgq_init(struct k_msgq *q, size_t item_size, size_t depth);
/** Frees the ring (k_msgq_cleanup). */
void host_msgq_destroy(struct k_msgq *q);

/** Makes dispatcher_port_in_isr() return in_isr on the calling thread (pretend ISR context). */
void host_port_set_isr(bool in_isr);
/** Lets only n more heap fallback allocations succeed (n < 0: unlimited). */
void host_port_set_heap_budget(long n);
/** Heap fallback blocks allocated and not yet freed. */
long host_port_heap_live(void);

#endif /* DISPATCHER_HOST_PORT_H */
