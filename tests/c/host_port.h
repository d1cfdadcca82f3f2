/*
 * Host (Linux, pthreads) implementation of dispatcher_pool_port.h for the C tests, plus the
 * test double of Zephyr's struct k_msgq and a few test hooks.
 */
#ifndef DISPATCHER_HOST_PORT_H
#define DISPATCHER_HOST_PORT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "dispatcher_pool_port.h"

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
