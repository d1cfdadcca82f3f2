/*
 * The __wrap_dispatcher_port_* and __wrap_z_impl_k_msgq_* functions (see faults.h).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <errno.h>

#include <zephyr/kernel.h>
#include <zephyr/sys/atomic.h>

#include "dispatcher_pool_port.h"
#include "faults.h"

int __real_z_impl_k_msgq_put(struct k_msgq *q, const void *data, k_timeout_t timeout);
int __real_z_impl_k_msgq_get(struct k_msgq *q, void *data, k_timeout_t timeout);
bool __real_dispatcher_port_sem_take(void *sem, int32_t timeout_ms);
void __real_dispatcher_port_sem_give(void *sem);
void *__real_dispatcher_port_heap_alloc(size_t size, size_t align);
void __real_dispatcher_port_heap_free(void *p);
uint32_t __real_dispatcher_port_now_ms(void);

static struct {
	atomic_t calls, hits, nth, count;
} points[FAULT_POINTS];
static atomic_t clock_offset;
/* The last misaligned block handed out, and the real block it came from. */
static atomic_ptr_t misaligned_block, misaligned_real;

void fault_arm(enum fault_point p, uint32_t nth, uint32_t count)
{
	atomic_set(&points[p].count, 0);
	atomic_set(&points[p].calls, 0);
	atomic_set(&points[p].hits, 0);
	atomic_set(&points[p].nth, nth);
	atomic_set(&points[p].count, count);
}

void fault_reset(void)
{
	for (int p = 0; p < FAULT_POINTS; p++) {
		fault_arm(p, 0, 0);
	}
	atomic_set(&clock_offset, 0);
}

uint32_t fault_calls(enum fault_point p)
{
	return (uint32_t)atomic_get(&points[p].calls);
}

uint32_t fault_hits(enum fault_point p)
{
	return (uint32_t)atomic_get(&points[p].hits);
}

void fault_clock_offset(uint32_t offset)
{
	atomic_set(&clock_offset, (atomic_val_t)offset);
}

/* Counts a call of point p; true if this call must fail. */
static bool fault_now(enum fault_point p)
{
	uint32_t n = (uint32_t)atomic_inc(&points[p].calls) + 1;
	uint32_t nth = (uint32_t)atomic_get(&points[p].nth);
	uint32_t count = (uint32_t)atomic_get(&points[p].count);

	if (count != 0 && n >= nth && n - nth < count) {
		atomic_inc(&points[p].hits);
		return true;
	}
	return false;
}

/*
 * The kernel's k_msgq put and get, where every put and get of the library ends: pointer items
 * go to them directly (without CONFIG_USERSPACE), value items and timed gets through the port's
 * dispatcher_port_msgq_put/get, whose k_msgq_put/get calls them. A fault is what a full or
 * empty queue returns.
 */
int __wrap_z_impl_k_msgq_put(struct k_msgq *q, const void *data, k_timeout_t timeout)
{
	return fault_now(FAULT_MSGQ_PUT) ? -ENOMSG : __real_z_impl_k_msgq_put(q, data, timeout);
}

int __wrap_z_impl_k_msgq_get(struct k_msgq *q, void *data, k_timeout_t timeout)
{
	return fault_now(FAULT_MSGQ_GET) ? -ENOMSG : __real_z_impl_k_msgq_get(q, data, timeout);
}

bool __wrap_dispatcher_port_sem_take(void *sem, int32_t timeout_ms)
{
	return !fault_now(FAULT_SEM_TAKE) && __real_dispatcher_port_sem_take(sem, timeout_ms);
}

void __wrap_dispatcher_port_sem_give(void *sem)
{
	if (!fault_now(FAULT_SEM_GIVE)) {
		__real_dispatcher_port_sem_give(sem);
	}
}

void *__wrap_dispatcher_port_heap_alloc(size_t size, size_t align)
{
	bool null = fault_now(FAULT_HEAP_NULL);
	bool misaligned = fault_now(FAULT_HEAP_MISALIGNED);
	uint8_t *p;

	if (null) {
		return NULL;
	}
	if (!misaligned) {
		return __real_dispatcher_port_heap_alloc(size, align);
	}
	p = __real_dispatcher_port_heap_alloc(size + align, align);
	if (p == NULL) {
		return NULL;
	}
	atomic_ptr_set(&misaligned_real, p);
	atomic_ptr_set(&misaligned_block, p + 1);
	return p + 1;
}

void __wrap_dispatcher_port_heap_free(void *p)
{
	if (p != NULL && p == atomic_ptr_get(&misaligned_block)) {
		atomic_ptr_set(&misaligned_block, NULL);
		p = atomic_ptr_get(&misaligned_real);
	}
	__real_dispatcher_port_heap_free(p);
}

uint32_t __wrap_dispatcher_port_now_ms(void)
{
	return __real_dispatcher_port_now_ms() + (uint32_t)atomic_get(&clock_offset);
}
