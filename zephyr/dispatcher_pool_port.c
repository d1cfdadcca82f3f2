/*
 * Zephyr implementation of dispatcher_pool_port.h (the OS port the Rust library calls), plus the
 * boot-time pool creation from Kconfig.
 *
 * Memory: descriptors (refcounts, free-list links: the atomics) always come from internal RAM,
 * a static buffer sized from Kconfig. The message region (headers + payloads) comes from PSRAM
 * through the shared multi-heap when CONFIG_DISPATCHER_POOL_PSRAM=y, else from a static buffer
 * in internal RAM sized from Kconfig. A pool_init() asking for more than the static buffers hold
 * falls back to k_aligned_alloc() (needs CONFIG_HEAP_MEM_POOL_SIZE > 0). The log says which.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <errno.h>
#include <stdalign.h>
#include <string.h>

#include <zephyr/init.h>
#include <zephyr/kernel.h>
#include <zephyr/logging/log.h>
#include <zephyr/sys/util.h>
#ifdef CONFIG_DISPATCHER_POOL_PSRAM
#include <zephyr/multi_heap/shared_multi_heap.h>
#endif

#include "dispatcher_pool.h"
#include "dispatcher_pool_port.h"
#include "dispatcher_pool_zephyr.h"

LOG_MODULE_REGISTER(dispatcher_pool, CONFIG_DISPATCHER_POOL_LOG_LEVEL);

/* ----- errno table, compiled against this libc's errno.h ------------------------------------ */

const int dispatcher_port_errno[DISPATCHER_ERRNO_COUNT] = DISPATCHER_PORT_ERRNO_TABLE;

/* ----- sizes from Kconfig -------------------------------------------------------------------- */

/* clamp(ceil(T * F / 1000 * C), 8, 1024), as pool_entries_for() computes it at run time. */
#define DP_AUTO_RAW                                                                                \
	((CONFIG_DISPATCHER_POOL_TARGETS * CONFIG_DISPATCHER_POOL_FANOUT_PERMILLE *                 \
		  CONFIG_DISPATCHER_POOL_CONCURRENCY +                                             \
	  999) /                                                                                   \
	 1000)
#define DP_AUTO_ENTRIES (DP_AUTO_RAW < 8 ? 8 : (DP_AUTO_RAW > 1024 ? 1024 : DP_AUTO_RAW))
#define DP_ENTRIES                                                                                 \
	(CONFIG_DISPATCHER_POOL_ENTRIES > 0 ? CONFIG_DISPATCHER_POOL_ENTRIES : DP_AUTO_ENTRIES)
#define DP_DESCRIPTORS (DP_ENTRIES + CONFIG_DISPATCHER_POOL_HEAP_FALLBACK_SLOTS)

#define DP_ARENA_ALIGN 16

/* Descriptors: always internal RAM (atomics never live in PSRAM). */
static uint8_t __aligned(DP_ARENA_ALIGN) dp_desc_arena[DP_DESCRIPTORS * sizeof(pool_msg_t)];
static size_t dp_desc_used;

#ifndef CONFIG_DISPATCHER_POOL_PSRAM
/* Message region: internal RAM. The library's stride is sizeof(dispatcher_msg_t) rounded up to
 * its alignment (whole messages can be copied to value-mode queues whatever the payload).
 */
static uint8_t __aligned(DP_ARENA_ALIGN) dp_region_arena[DP_ENTRIES * sizeof(dispatcher_msg_t)];
static size_t dp_region_used;
#endif

static const char *dp_region_src = "none";
static const char *dp_desc_src = "none";
static int dp_boot_status = -EAGAIN;

static struct k_spinlock dp_arena_lock;

/* Bump allocation from a static arena; NULL when it does not fit. Never freed. */
static void *arena_take(uint8_t *arena, size_t arena_size, size_t *used, size_t size, size_t align)
{
	void *p = NULL;
	k_spinlock_key_t key = k_spin_lock(&dp_arena_lock);
	uintptr_t base = (uintptr_t)arena;
	uintptr_t start = ROUND_UP(base + *used, align);

	if (start + size <= base + arena_size && start + size >= start) {
		*used = (start + size) - base;
		p = (void *)start;
	}
	k_spin_unlock(&dp_arena_lock, key);
	return p;
}

static void *kernel_heap_aligned(size_t size, size_t align)
{
#if defined(K_HEAP_MEM_POOL_SIZE) && (K_HEAP_MEM_POOL_SIZE > 0)
	return k_aligned_alloc(MAX(align, sizeof(void *)), size);
#else
	ARG_UNUSED(size);
	ARG_UNUSED(align);
	return NULL;
#endif
}

/* ----- time and context ---------------------------------------------------------------------- */

uint32_t dispatcher_port_now_ms(void)
{
	return k_uptime_get_32();
}

bool dispatcher_port_in_isr(void)
{
	return k_is_in_isr();
}

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

/* ----- semaphore ----------------------------------------------------------------------------- */

/* Initial count 0; the limit only has to be >= 1 (the core's protocol is proven for any limit). */
static K_SEM_DEFINE(dp_sem, 0, K_SEM_MAX_LIMIT);

bool dispatcher_port_sem_take(int32_t timeout_ms)
{
	return k_sem_take(&dp_sem, to_timeout(timeout_ms)) == 0;
}

void dispatcher_port_sem_give(void)
{
	k_sem_give(&dp_sem);
}

/* ----- heap fallback ------------------------------------------------------------------------- */

void *dispatcher_port_heap_alloc(size_t size, size_t align)
{
	/* k_aligned_alloc takes the heap's lock but may not be called from ISRs in every config. */
	if (k_is_in_isr()) {
		return NULL;
	}
	return kernel_heap_aligned(size, align);
}

void dispatcher_port_heap_free(void *p)
{
#if defined(K_HEAP_MEM_POOL_SIZE) && (K_HEAP_MEM_POOL_SIZE > 0)
	k_free(p);
#else
	ARG_UNUSED(p);
#endif
}

/* ----- pool memory --------------------------------------------------------------------------- */

void *dispatcher_port_region_alloc(size_t size, size_t align, bool *external)
{
	void *p;

	*external = false;
#ifdef CONFIG_DISPATCHER_POOL_PSRAM
	p = shared_multi_heap_aligned_alloc(SMH_REG_ATTR_EXTERNAL, align, size);
	if (p != NULL) {
		*external = true;
		dp_region_src = "PSRAM (shared multi-heap)";
	} else {
		LOG_ERR("PSRAM: shared_multi_heap_aligned_alloc(EXTERNAL, %zu, %zu) failed "
			"(CONFIG_ESP_SPIRAM_HEAP_SIZE too small?)",
			align, size);
	}
	return p;
#else
	p = arena_take(dp_region_arena, sizeof(dp_region_arena), &dp_region_used, size, align);
	if (p != NULL) {
		dp_region_src = "internal RAM (static)";
		return p;
	}
	p = kernel_heap_aligned(size, align);
	if (p != NULL) {
		dp_region_src = "internal RAM (heap)";
	} else {
		LOG_ERR("message region of %zu bytes fits neither the static buffer (%zu bytes free) "
			"nor the kernel heap",
			size, sizeof(dp_region_arena) - dp_region_used);
	}
	return p;
#endif
}

void *dispatcher_port_descriptors_alloc(size_t size, size_t align)
{
	void *p = arena_take(dp_desc_arena, sizeof(dp_desc_arena), &dp_desc_used, size, align);

	if (p != NULL) {
		dp_desc_src = "internal RAM (static)";
		return p;
	}
	p = kernel_heap_aligned(size, align);
	if (p != NULL) {
		dp_desc_src = "internal RAM (heap)";
	} else {
		LOG_ERR("descriptors (%zu bytes) fit neither the static buffer nor the kernel heap",
			size);
	}
	return p;
}

/* ----- queues -------------------------------------------------------------------------------- */

bool dispatcher_port_msgq_put(struct k_msgq *q, const void *item)
{
	return k_msgq_put(q, item, K_NO_WAIT) == 0;
}

bool dispatcher_port_msgq_get(struct k_msgq *q, void *item, int32_t timeout_ms)
{
	if (k_is_in_isr() && timeout_ms != 0) {
		return false; /* the pool never asks; Zephyr would assert */
	}
	return k_msgq_get(q, item, to_timeout(timeout_ms)) == 0;
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

size_t dispatcher_pool_kconfig_entries(void)
{
	if (CONFIG_DISPATCHER_POOL_ENTRIES > 0) {
		return CONFIG_DISPATCHER_POOL_ENTRIES;
	}
	return pool_entries_for(CONFIG_DISPATCHER_POOL_TARGETS,
				CONFIG_DISPATCHER_POOL_FANOUT_PERMILLE,
				CONFIG_DISPATCHER_POOL_CONCURRENCY);
}

const char *dispatcher_pool_region_source(void)
{
	return dp_region_src;
}

int dispatcher_pool_boot_status(void)
{
	return dp_boot_status;
}

int dispatcher_pool_init_from_kconfig(void)
{
	struct pool_config cfg = {
		.entries = dispatcher_pool_kconfig_entries(),
		.payload_size = CONFIG_DISPATCHER_POOL_PAYLOAD_SIZE,
		.heap_slots = CONFIG_DISPATCHER_POOL_HEAP_FALLBACK_SLOTS,
	};
	struct pool_stats s;
	int rc;

	if (!DISPATCHER_POOL_ABI_OK()) {
		LOG_ERR("dispatcher_pool.h does not match the library: sizeof(dispatcher_msg_t) %zu "
			"here, %zu in the library (DISPATCHER_TARGETS_MAX/DISPATCHER_PAYLOAD_MAX "
			"differ); pool not created",
			sizeof(dispatcher_msg_t), dispatcher_msg_size());
		return -EINVAL;
	}

	rc = pool_init_ex(&cfg);
	if (rc != 0) {
		LOG_ERR("pool_init_ex(entries %zu, payload %zu, heap slots %zu) failed: %d", cfg.entries,
			cfg.payload_size, cfg.heap_slots, rc);
		return rc;
	}
	if (pool_stats(&s) == 0) {
		LOG_INF("pool: %u entries x %u bytes = %u bytes of messages in %s; descriptors "
			"%zu bytes in %s; heap fallback slots %zu",
			s.pool_total, s.stride, s.pool_total * s.stride,
			s.region_external ? "PSRAM" : dp_region_src, (cfg.entries + cfg.heap_slots) *
			sizeof(pool_msg_t), dp_desc_src, cfg.heap_slots);
	}
	return 0;
}

#ifdef CONFIG_DISPATCHER_POOL_AUTO_INIT
static int dispatcher_pool_boot(void)
{
	dp_boot_status = dispatcher_pool_init_from_kconfig();
	/* Not fatal: the rest of the system boots, pool calls return -ENODEV. */
	return 0;
}

SYS_INIT(dispatcher_pool_boot, APPLICATION, CONFIG_DISPATCHER_POOL_INIT_PRIORITY);
#endif
