/*
 * dispatcher_pool_port.h: the OS port of the dispatcher pool, implemented in C.
 *
 * The Rust library (libdispatcher_pool.a) calls these functions; the platform provides them:
 * zephyr/dispatcher_pool_port.c on Zephyr (k_sem, k_msgq, k_aligned_alloc, k_uptime_get_32,
 * k_is_in_isr) and port/posix/dispatcher_pool_posix.c on Linux (pthreads). The port only does what the OS must do
 * at run time: a semaphore per pool, queue put/get/peek, the clock, the ISR test and the heap
 * for fallback messages. Pool memory is not the port's business: it comes in through
 * struct msg_pool (DISPATCHER_POOL_DEFINE on Zephyr).
 *
 * Hand-written (not generated). Every function must be callable from any thread; the ones
 * marked ISR-safe also from interrupt context (the pool calls them from ISR-safe entry points:
 * pool_try_alloc, msg_unref, msg_broadcast, ...).
 */
#ifndef DISPATCHER_POOL_PORT_H
#define DISPATCHER_POOL_PORT_H

#include <errno.h> /* the platform's: DISPATCHER_PORT_ERRNO_TABLE uses its numbers */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* enum dispatcher_errno (the DISPATCHER_ERRNO_* indices) and DISPATCHER_ERRNO_COUNT. */
#include "msg_pool.h"

/**
 * The positive errno values of the platform, indexed by DISPATCHER_ERRNO_*; the C API
 * returns their negation. Define it in a file compiled against the platform's <errno.h>
 * (glibc, picolibc and Zephyr's minimal libc disagree on EALREADY, EMSGSIZE, EOVERFLOW), with
 * the initialiser below:
 *
 *     const int dispatcher_port_errno[DISPATCHER_ERRNO_COUNT] = DISPATCHER_PORT_ERRNO_TABLE;
 */
extern const int dispatcher_port_errno[DISPATCHER_ERRNO_COUNT];

/** @cond INTERNAL_HIDDEN */
#ifdef EOVERFLOW
#define DISPATCHER_PORT_EOVERFLOW_ EOVERFLOW
#else
/* Zephyr's minimal libc has no EOVERFLOW. */
#define DISPATCHER_PORT_EOVERFLOW_ ERANGE
#endif
/** @endcond */

/** Initialiser of dispatcher_port_errno from the including file's <errno.h>. */
#define DISPATCHER_PORT_ERRNO_TABLE                                                            \
	{                                                                                          \
		[DISPATCHER_ERRNO_EINVAL] = EINVAL, [DISPATCHER_ERRNO_ENOMEM] = ENOMEM,                \
		[DISPATCHER_ERRNO_EFAULT] = EFAULT, [DISPATCHER_ERRNO_EALREADY] = EALREADY,            \
		[DISPATCHER_ERRNO_ENODEV] = ENODEV,                                                    \
		[DISPATCHER_ERRNO_EOVERFLOW] = DISPATCHER_PORT_EOVERFLOW_,                             \
		[DISPATCHER_ERRNO_EMSGSIZE] = EMSGSIZE, [DISPATCHER_ERRNO_EAGAIN] = EAGAIN,            \
		[DISPATCHER_ERRNO_EPERM] = EPERM, [DISPATCHER_ERRNO_ENOSPC] = ENOSPC,                  \
		[DISPATCHER_ERRNO_EBUSY] = EBUSY, [DISPATCHER_ERRNO_EIO] = EIO,                        \
	}

/** Milliseconds since boot (wrapping at 2^32); used for the leak report. ISR-safe. */
uint32_t dispatcher_port_now_ms(void);

/** True in interrupt context (the pool then refuses blocking waits with -EPERM). ISR-safe. */
bool dispatcher_port_in_isr(void);

/**
 * A free-running 32-bit cycle counter (wrapping), for the per-target latency of the library's
 * `timing` feature (CONFIG_DISPATCHER_POOL_TIMING); a library built without it never calls
 * this nor dispatcher_port_cycles_per_sec(). ISR-safe. Zephyr: k_cycle_get_32().
 */
uint32_t dispatcher_port_cycles(void);

/**
 * The rate of dispatcher_port_cycles() in Hz; 0 = no clock (latency is then not recorded).
 * Zephyr: sys_clock_hw_cycles_per_sec().
 */
uint32_t dispatcher_port_cycles_per_sec(void);

/**
 * Takes semaphore sem (a pool's msg_pool.sem; k_sem semantics, limit >= 1, initial count 0),
 * waiting up to timeout_ms: 0 = no wait, < 0 = forever. Returns true if taken, false on
 * timeout. Thread context only (the pool never calls it from an ISR).
 */
bool dispatcher_port_sem_take(void *sem, int32_t timeout_ms);

/**
 * Gives semaphore sem: wakes one waiter, else increments the count; a give at the limit may
 * be ignored (k_sem_give). ISR-safe.
 */
void dispatcher_port_sem_give(void *sem);

/**
 * Allocates size bytes aligned to align (a power of two) for a heap fallback message; NULL
 * when out of memory or unsupported (the fallback then counts a drop). ISR-safe if heap
 * fallback is used from ISRs (k_malloc is not; return NULL in ISR context if unsure).
 */
void *dispatcher_port_heap_alloc(size_t size, size_t align);

/** Frees a block from dispatcher_port_heap_alloc (and only such a block). Same context rules. */
void dispatcher_port_heap_free(void *p);

/**
 * On Zephyr without CONFIG_USERSPACE the library puts and gets pointer items (len ==
 * sizeof(void *)) with z_impl_k_msgq_put/get itself and calls the two functions below for value
 * items and timed gets only; other ports get every call.
 *
 * Puts one item into q without waiting (k_msgq_put, K_NO_WAIT): its first len bytes from item
 * (len <= the item size), the rest zero. len is the item size for pointer items and
 * header + message_len for a small pool message going to a value queue (whose item is a
 * whole dispatcher_msg_t). False when full. ISR-safe.
 */
bool dispatcher_port_msgq_put(struct k_msgq *q, const void *item, size_t len);

/**
 * Copies one item out of q into item, waiting up to timeout_ms (0 = no wait, < 0 = forever);
 * false when none arrived. ISR-safe with timeout_ms == 0.
 */
bool dispatcher_port_msgq_get(struct k_msgq *q, void *item, int32_t timeout_ms);

/**
 * Copies the idx-th queued item of q (0 = the next to be received) into item without removing
 * it (k_msgq_peek_at); false if there is none. Used only by the leak report. ISR-safe.
 */
bool dispatcher_port_msgq_peek_at(struct k_msgq *q, void *item, size_t idx);

/** The item size of q in bytes (k_msgq.msg_size). ISR-safe. */
size_t dispatcher_port_msgq_item_size(struct k_msgq *q);

/** Items queued in q now (k_msgq_num_used_get). ISR-safe. */
size_t dispatcher_port_msgq_len(struct k_msgq *q);

/** Discards every item of q (k_msgq_purge); returns how many there were. Thread context. */
size_t dispatcher_port_msgq_purge(struct k_msgq *q);

#ifdef __cplusplus
}
#endif

#endif /* DISPATCHER_POOL_PORT_H */
