/*
 * Zephyr implementation of dispatcher_pool_port.h (the OS port the Rust library calls), the
 * default pool defined from Kconfig, and the boot hook that creates every pool of the
 * `msg_pool` iterable section (DISPATCHER_POOL_DEFINE).
 *
 * The port only does what the OS must do at run time: each pool's k_sem (msg_pool.sem), k_msgq
 * put/get/peek, the clock, the ISR test and k_aligned_alloc for heap fallback messages. Pool
 * memory is static (DISPATCHER_POOL_DEFINE), or taken from the shared multi-heap at boot for a
 * DISPATCHER_POOL_DEFINE_PSRAM pool on boards other than the ESP32-S3.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <errno.h>
#include <string.h>

#include <zephyr/init.h>
#include <zephyr/kernel.h>
#include <zephyr/logging/log.h>
#include <zephyr/sys/iterable_sections.h>
#include <zephyr/sys/util.h>
#ifdef CONFIG_SHARED_MULTI_HEAP
#include <zephyr/multi_heap/shared_multi_heap.h>
#endif

#include "msg_pool.h"
#include "dispatcher_pool_port.h"
#include "dispatcher_pool_zephyr.h"

LOG_MODULE_REGISTER(dispatcher_pool, CONFIG_DISPATCHER_POOL_LOG_LEVEL);

/* ----- errno table, compiled against this libc's errno.h ------------------------------------ */

const int dispatcher_port_errno[DISPATCHER_ERRNO_COUNT] = DISPATCHER_PORT_ERRNO_TABLE;

/* ----- what the library assumes when it calls the kernel's k_msgq directly -------------------- */

#ifndef CONFIG_USERSPACE
/*
 * Without userspace the library puts and gets pointer items with z_impl_k_msgq_put/get (what
 * the inline k_msgq_put/get wrappers call), passing k_timeout_t by value as a struct of one
 * k_ticks_t: int64_t with CONFIG_TIMEOUT_64BIT (cargo feature zephyr-timeout-64bit), else
 * uint32_t; K_NO_WAIT is 0 ticks and K_FOREVER is K_TICKS_FOREVER, (k_ticks_t)-1.
 */
BUILD_ASSERT(sizeof(k_timeout_t) == sizeof(k_ticks_t), "k_timeout_t is one k_ticks_t");
BUILD_ASSERT(sizeof(k_ticks_t) == (IS_ENABLED(CONFIG_TIMEOUT_64BIT) ? 8 : 4),
	     "k_ticks_t width follows CONFIG_TIMEOUT_64BIT");
BUILD_ASSERT(K_TICKS_FOREVER == (k_ticks_t)-1, "K_FOREVER is (k_ticks_t)-1 ticks");
#endif

/* ----- the default pool, from Kconfig --------------------------------------------------------- */

#if CONFIG_DISPATCHER_POOL_ENTRIES > 0
#define DP_DEFAULT_ENTRIES CONFIG_DISPATCHER_POOL_ENTRIES
#else
#define DP_DEFAULT_ENTRIES                                                                         \
	DISPATCHER_POOL_ENTRIES_FOR(CONFIG_DISPATCHER_POOL_TARGETS,                                \
				    CONFIG_DISPATCHER_POOL_FANOUT_PERMILLE,                        \
				    CONFIG_DISPATCHER_POOL_CONCURRENCY)
#endif

#ifdef CONFIG_DISPATCHER_POOL_PSRAM
DISPATCHER_PRIV_POOL_DEFINE_PSRAM(dispatcher_pool_default, "default", DP_DEFAULT_ENTRIES,
				  CONFIG_DISPATCHER_POOL_PAYLOAD_SIZE,
				  CONFIG_DISPATCHER_POOL_HEAP_FALLBACK_SLOTS,
				  IS_ENABLED(CONFIG_DISPATCHER_POOL_AUTO_INIT));
#else
DISPATCHER_PRIV_POOL_DEFINE_INTERNAL(dispatcher_pool_default, "default", DP_DEFAULT_ENTRIES,
				     CONFIG_DISPATCHER_POOL_PAYLOAD_SIZE,
				     CONFIG_DISPATCHER_POOL_HEAP_FALLBACK_SLOTS,
				     IS_ENABLED(CONFIG_DISPATCHER_POOL_AUTO_INIT));
#endif

static int dp_boot_status = -EAGAIN;

/* ----- time and context ---------------------------------------------------------------------- */

uint32_t dispatcher_port_now_ms(void)
{
	return k_uptime_get_32();
}

bool dispatcher_port_in_isr(void)
{
	return k_is_in_isr();
}

#ifdef CONFIG_DISPATCHER_POOL_TIMING
/* Only the timing build of the library calls these (latency stamps). */
uint32_t dispatcher_port_cycles(void)
{
	return k_cycle_get_32();
}

uint32_t dispatcher_port_cycles_per_sec(void)
{
	return (uint32_t)sys_clock_hw_cycles_per_sec();
}
#endif

static k_timeout_t to_timeout(int32_t timeout_ms)
{
	if (timeout_ms < 0) {
		return K_FOREVER;
	}
	if (timeout_ms == 0) {
		return K_NO_WAIT;
	}
	return K_MSEC(timeout_ms);
}

/* ----- semaphores: one k_sem per pool (msg_pool.sem, K_SEM_DEFINE'd by the definition) ------- */

bool dispatcher_port_sem_take(void *sem, int32_t timeout_ms)
{
	return k_sem_take((struct k_sem *)sem, to_timeout(timeout_ms)) == 0;
}

void dispatcher_port_sem_give(void *sem)
{
	k_sem_give((struct k_sem *)sem);
}

/* ----- heap fallback ------------------------------------------------------------------------- */

void *dispatcher_port_heap_alloc(size_t size, size_t align)
{
#if defined(K_HEAP_MEM_POOL_SIZE) && (K_HEAP_MEM_POOL_SIZE > 0)
	/* k_aligned_alloc takes the heap's lock but may not be called from ISRs in every config. */
	if (k_is_in_isr()) {
		return NULL;
	}
	return k_aligned_alloc(MAX(align, sizeof(void *)), size);
#else
	ARG_UNUSED(size);
	ARG_UNUSED(align);
	return NULL;
#endif
}

void dispatcher_port_heap_free(void *p)
{
#if defined(K_HEAP_MEM_POOL_SIZE) && (K_HEAP_MEM_POOL_SIZE > 0)
	k_free(p);
#else
	ARG_UNUSED(p);
#endif
}

/* ----- queues -------------------------------------------------------------------------------- */

/*
 * A message shorter than the queue's item (a small pool's message going to a value queue of
 * whole dispatcher_msg_t) is copied into this buffer, zero-filled to the item size, and put from
 * there: k_msgq_put always copies msg_size bytes, and the source entry in the region is only
 * header + payload_size long. Broadcast is ISR-safe, so the buffer is guarded by a spinlock,
 * not a mutex.
 */
static uint8_t __aligned(DISPATCHER_MSG_ALIGN) dp_bounce[sizeof(dispatcher_msg_t)];
static struct k_spinlock dp_bounce_lock;

bool dispatcher_port_msgq_put(struct k_msgq *q, const void *item, size_t len)
{
	k_spinlock_key_t key;
	int rc;

	if (len == q->msg_size) {
		return k_msgq_put(q, item, K_NO_WAIT) == 0;
	}
	if (len > q->msg_size || q->msg_size > sizeof(dp_bounce)) {
		return false;
	}

	key = k_spin_lock(&dp_bounce_lock);
	memcpy(dp_bounce, item, len);
	memset(dp_bounce + len, 0, q->msg_size - len);
	rc = k_msgq_put(q, dp_bounce, K_NO_WAIT);
	k_spin_unlock(&dp_bounce_lock, key);

	/*
	 * With the spinlock held (interrupts locked), k_msgq_put could ready a waiting receiver
	 * but not switch to it: z_reschedule() swaps only when the key it gets has interrupts
	 * unlocked (resched() in kernel/sched.c). Catch up now, in thread context: k_sched_unlock()
	 * ends with z_reschedule_unlocked(), which preempts this thread if the receiver has a
	 * higher priority. In an ISR the interrupt exit reschedules anyway.
	 */
	if (rc == 0 && !k_is_in_isr() && !k_is_pre_kernel()) {
		k_sched_lock();
		k_sched_unlock();
	}
	return rc == 0;
}

bool dispatcher_port_msgq_get(struct k_msgq *q, void *item, int32_t timeout_ms)
{
	if (timeout_ms != 0 && k_is_in_isr()) {
		return false; /* the pool never asks; Zephyr would assert */
	}
	return k_msgq_get(q, item, to_timeout(timeout_ms)) == 0;
}

bool dispatcher_port_msgq_peek_at(struct k_msgq *q, void *item, size_t idx)
{
	if (idx > UINT32_MAX) {
		return false;
	}
	return k_msgq_peek_at(q, item, (uint32_t)idx) == 0;
}

size_t dispatcher_port_msgq_item_size(struct k_msgq *q)
{
	return q->msg_size;
}

size_t dispatcher_port_msgq_len(struct k_msgq *q)
{
	return k_msgq_num_used_get(q);
}

size_t dispatcher_port_msgq_purge(struct k_msgq *q)
{
	size_t n = k_msgq_num_used_get(q);

	k_msgq_purge(q);
	return n;
}

/* ----- boot ---------------------------------------------------------------------------------- */

int dispatcher_pool_boot_status(void)
{
	return dp_boot_status;
}

/* Creates one pool of the section, taking its region from the shared multi-heap if it has
 * none yet (DISPATCHER_POOL_DEFINE_PSRAM off the ESP32-S3), and logs the outcome.
 */
static int dp_create(struct msg_pool *p)
{
	struct pool_stats s;
#ifdef CONFIG_SHARED_MULTI_HEAP
	bool took_region = false;
#endif
	int rc;

	if (p->region == NULL && p->region_bytes != 0) {
#ifdef CONFIG_SHARED_MULTI_HEAP
		took_region = true;
		p->region = shared_multi_heap_aligned_alloc(SMH_REG_ATTR_EXTERNAL,
							    DISPATCHER_MSG_ALIGN, p->region_bytes);
		if (p->region == NULL) {
			LOG_ERR("pool %s: shared_multi_heap_aligned_alloc(EXTERNAL, %zu, %zu) failed "
				"(PSRAM heap too small?); pool not created",
				p->name, (size_t)DISPATCHER_MSG_ALIGN, p->region_bytes);
			return -ENOMEM;
		}
#endif
	}
	rc = msg_pool_init(p);
	if (rc != 0) {
		LOG_ERR("pool %s: msg_pool_init(entries %zu, payload %zu, heap slots %zu) failed: %d",
			p->name, p->config.entries, p->config.payload_size, p->config.heap_slots,
			rc);
#ifdef CONFIG_SHARED_MULTI_HEAP
		if (took_region) {
			/* Not created, so nothing uses it: give the PSRAM back. */
			shared_multi_heap_free(p->region);
			p->region = NULL;
		}
#endif
		return rc;
	}
	if (msg_pool_stats(p, &s) == 0) {
		LOG_INF("pool %s: %u entries x %u B = %u B of messages in %s; descriptors %zu B; "
			"heap fallback slots %zu",
			p->name, s.pool_total, s.stride, s.pool_total * s.stride, p->placement,
			p->n_descs * sizeof(pool_msg_t), p->config.heap_slots);
	}
	return 0;
}

static int dispatcher_pool_boot(void)
{
	int status = 0;

	/* The seed's pool_* calls act on the Kconfig-sized pool (created or not). */
	(void)msg_pool_set_default(&dispatcher_pool_default);

	if (!DISPATCHER_POOL_ABI_OK()) {
		LOG_ERR("msg_pool.h does not match the library: sizeof(dispatcher_msg_t) %zu "
			"here, %zu in the library (DISPATCHER_TARGETS_MAX/DISPATCHER_PAYLOAD_MAX "
			"differ); no pool created",
			sizeof(dispatcher_msg_t), dispatcher_msg_size());
		dp_boot_status = -EINVAL;
		return 0;
	}

	STRUCT_SECTION_FOREACH(msg_pool, p) {
		if (!p->boot_init) {
			continue;
		}
		int rc = dp_create(p);

		if (rc != 0 && status == 0) {
			status = rc;
		}
	}
	/* Not fatal: the rest of the system boots, calls on a pool not created return -ENODEV. */
	dp_boot_status = status;
	return 0;
}

SYS_INIT(dispatcher_pool_boot, APPLICATION, CONFIG_DISPATCHER_POOL_INIT_PRIORITY);
