/*
 * dispatcher_pool_zephyr.h: Zephyr-only additions of the dispatcher-pool module (the portable
 * API is msg_pool.h; the OS port it calls is zephyr/dispatcher_pool_port.c).
 *
 * Pools are defined at file scope, like K_MEM_SLAB_DEFINE or NET_BUF_POOL_FIXED_DEFINE:
 *
 *     DISPATCHER_POOL_DEFINE(streaming, 32, 64);   // 32 messages of 64 payload bytes
 *     DISPATCHER_POOL_DEFINE(control, 4, 256);
 *
 *     pool_msg_t *p = msg_pool_try_alloc(&streaming);
 *
 * Each definition makes static descriptors (internal RAM: the refcounts and free-list links are
 * atomics), a static message region of entries * DISPATCHER_POOL_STRIDE(payload) bytes, a k_sem
 * for blocking allocations of that pool alone, and a `struct msg_pool` in the iterable section
 * `msg_pool`. The boot hook (SYS_INIT, APPLICATION, CONFIG_DISPATCHER_POOL_INIT_PRIORITY)
 * creates every pool of the section whose boot_init is true; the shell lists them.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef DISPATCHER_POOL_ZEPHYR_H
#define DISPATCHER_POOL_ZEPHYR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <zephyr/kernel.h>
#include <zephyr/sys/iterable_sections.h>
#include <zephyr/toolchain.h>

#include "msg_pool.h"

#ifdef __cplusplus
extern "C" {
#endif

/** @cond INTERNAL_HIDDEN */

/*
 * The pieces every definition shares: descriptors (internal RAM), the semaphore, and the
 * struct msg_pool in the iterable section. region/region_bytes/placement come from the variant.
 */
#define DISPATCHER_PRIV_POOL_DEFINE(pool_name, name_str, entries_, payload_, heap_slots_, region_, \
				 region_bytes_, placement_, boot_)                                 \
	static pool_msg_t pool_name##_descs[(entries_) + (heap_slots_)];                           \
	static K_SEM_DEFINE(pool_name##_sem, 0, K_SEM_MAX_LIMIT);                                  \
	STRUCT_SECTION_ITERABLE(msg_pool, pool_name) = {                                           \
		.name = name_str,                                                                  \
		.config = {.entries = (entries_),                                                  \
			   .payload_size = (payload_),                                             \
			   .heap_slots = (heap_slots_)},                                           \
		.descs = pool_name##_descs,                                                        \
		.n_descs = (entries_) + (heap_slots_),                                             \
		.region = (region_),                                                               \
		.region_bytes = (region_bytes_),                                                   \
		.sem = &pool_name##_sem,                                                           \
		.placement = (placement_),                                                         \
		.boot_init = (boot_),                                                              \
	}

/* Bytes of the message region of a pool definition. */
#define DP_PRIV_REGION_BYTES(entries_, payload_)                                                   \
	((size_t)(entries_) * DISPATCHER_POOL_STRIDE(payload_))

/* A static region in internal RAM. */
#define DP_PRIV_REGION_INTERNAL(pool_name, entries_, payload_)                                     \
	static uint8_t __aligned(DISPATCHER_MSG_ALIGN)                                             \
		pool_name##_region[DP_PRIV_REGION_BYTES(entries_, payload_)]

#define DISPATCHER_PRIV_POOL_DEFINE_INTERNAL(pool_name, name_str, entries_, payload_, heap_slots_, \
					  boot_)                                                   \
	DP_PRIV_REGION_INTERNAL(pool_name, entries_, payload_);                                    \
	DISPATCHER_PRIV_POOL_DEFINE(pool_name, name_str, entries_, payload_, heap_slots_,          \
				 pool_name##_region, sizeof(pool_name##_region),                   \
				 DISPATCHER_POOL_PLACEMENT_INTERNAL, boot_)

#if defined(CONFIG_SOC_SERIES_ESP32S3) && defined(CONFIG_ESP_SPIRAM)
/*
 * ESP32-S3 with PSRAM: a static array in an input section `.ext_ram.bss.<name>`.
 * soc/espressif/esp32s3/default.ld (Zephyr 4.1) places `*(.ext_ram.bss*)` in the output section
 * `.ext_ram.data (NOLOAD)` in the external RAM segment when CONFIG_ESP_SPIRAM=y, and
 * esp_init_psram() (soc/espressif/common/esp_psram.c, called from soc.c before z_prep_c())
 * zeroes _ext_ram_bss_start.._ext_ram_bss_end, i.e. before any SYS_INIT runs.
 */
#define DISPATCHER_POOL_PLACEMENT_PSRAM_ "PSRAM (.ext_ram.bss, static)"
#define DISPATCHER_PRIV_POOL_DEFINE_PSRAM(pool_name, name_str, entries_, payload_, heap_slots_,   \
					  boot_)                                                   \
	static uint8_t __aligned(DISPATCHER_MSG_ALIGN) pool_name##_region                          \
		[DP_PRIV_REGION_BYTES(entries_, payload_)]                                         \
		__attribute__((section(".ext_ram.bss." STRINGIFY(pool_name))));                    \
	DISPATCHER_PRIV_POOL_DEFINE(pool_name, name_str, entries_, payload_, heap_slots_,          \
				 pool_name##_region, sizeof(pool_name##_region),                   \
				 DISPATCHER_POOL_PLACEMENT_PSRAM_, boot_)
#elif defined(CONFIG_SHARED_MULTI_HEAP)
/*
 * Other boards with a shared multi-heap: no static region. region is NULL and region_bytes the
 * size to take; the boot hook allocates it with
 * shared_multi_heap_aligned_alloc(SMH_REG_ATTR_EXTERNAL, DISPATCHER_MSG_ALIGN, region_bytes)
 * before msg_pool_init() (SYS_INIT level APPLICATION: after the drivers/SoC code that add the
 * heap's regions).
 */
#define DISPATCHER_POOL_PLACEMENT_PSRAM_ "PSRAM (shared multi-heap)"
#define DISPATCHER_PRIV_POOL_DEFINE_PSRAM(pool_name, name_str, entries_, payload_, heap_slots_,   \
					  boot_)                                                   \
	DISPATCHER_PRIV_POOL_DEFINE(pool_name, name_str, entries_, payload_, heap_slots_, NULL,    \
				 DP_PRIV_REGION_BYTES(entries_, payload_),                         \
				 DISPATCHER_POOL_PLACEMENT_PSRAM_, boot_)
#else
/* No PSRAM configured: internal RAM, and the placement string says so. */
#define DISPATCHER_POOL_PLACEMENT_PSRAM_ "internal RAM (no PSRAM configured)"
#define DISPATCHER_PRIV_POOL_DEFINE_PSRAM(pool_name, name_str, entries_, payload_, heap_slots_,   \
					  boot_)                                                   \
	DP_PRIV_REGION_INTERNAL(pool_name, entries_, payload_);                                    \
	DISPATCHER_PRIV_POOL_DEFINE(pool_name, name_str, entries_, payload_, heap_slots_,          \
				 pool_name##_region, sizeof(pool_name##_region),                   \
				 DISPATCHER_POOL_PLACEMENT_PSRAM_, boot_)
#endif
/** @endcond */

/** `placement` of a pool whose region is a static array in internal RAM. */
#define DISPATCHER_POOL_PLACEMENT_INTERNAL "internal RAM (static)"

/**
 * `placement` of DISPATCHER_POOL_DEFINE_PSRAM on this build: "PSRAM (.ext_ram.bss, static)"
 * (ESP32-S3, CONFIG_ESP_SPIRAM), "PSRAM (shared multi-heap)" (CONFIG_SHARED_MULTI_HEAP) or
 * "internal RAM (no PSRAM configured)".
 */
#define DISPATCHER_POOL_PLACEMENT_PSRAM DISPATCHER_POOL_PLACEMENT_PSRAM_

/**
 * Defines pool `pool_name` (a `struct msg_pool`, named "pool_name" in logs, the shell and JSON)
 * with `entries` messages of `payload_size` payload bytes and `heap_slots` heap fallback slots,
 * created at boot. File scope. The region costs entries * DISPATCHER_POOL_STRIDE(payload_size)
 * bytes of internal RAM; the descriptors (entries + heap_slots) * sizeof(pool_msg_t).
 * Defines `pool_name`, and static `pool_name##_descs`, `pool_name##_region`, `pool_name##_sem`.
 */
#define DISPATCHER_POOL_DEFINE_EX(pool_name, entries, payload_size, heap_slots)                    \
	DISPATCHER_PRIV_POOL_DEFINE_INTERNAL(pool_name, #pool_name, entries, payload_size,         \
					  heap_slots, true)

/** DISPATCHER_POOL_DEFINE_EX without heap fallback slots. */
#define DISPATCHER_POOL_DEFINE(pool_name, entries, payload_size)                                   \
	DISPATCHER_POOL_DEFINE_EX(pool_name, entries, payload_size, 0)

/**
 * DISPATCHER_POOL_DEFINE with the message region (headers and payloads) in external PSRAM;
 * descriptors, semaphore and queues stay in internal RAM (atomics never live in PSRAM).
 *   - ESP32-S3 with CONFIG_ESP_SPIRAM=y: a static array in section `.ext_ram.bss.<pool_name>`,
 *     which the SoC linker script places in PSRAM and the SoC start-up code zeroes.
 *   - otherwise with CONFIG_SHARED_MULTI_HEAP=y: taken at boot from the shared multi-heap
 *     (SMH_REG_ATTR_EXTERNAL); if that fails the pool is not created (logged, -ENOMEM).
 *   - otherwise: internal RAM, like DISPATCHER_POOL_DEFINE.
 * The pool's `placement` string says which (DISPATCHER_POOL_PLACEMENT_PSRAM).
 */
#define DISPATCHER_POOL_DEFINE_PSRAM(pool_name, entries, payload_size)                             \
	DISPATCHER_PRIV_POOL_DEFINE_PSRAM(pool_name, #pool_name, entries, payload_size, 0, true)

/**
 * DISPATCHER_POOL_DEFINE_EX whose pool is not created at boot: call msg_pool_init(&pool_name)
 * yourself (tests do, to check calls before creation). Listed by the shell once created.
 */
#define DISPATCHER_POOL_DEFINE_NOINIT(pool_name, entries, payload_size, heap_slots)                \
	DISPATCHER_PRIV_POOL_DEFINE_INTERNAL(pool_name, #pool_name, entries, payload_size,         \
					  heap_slots, false)

/** Declares a pool defined in another file: `DISPATCHER_POOL_DECLARE(streaming);`. */
#define DISPATCHER_POOL_DECLARE(pool_name) extern struct msg_pool pool_name

/**
 * The default pool, the one the seed's calls act on (pool_init, pool_try_alloc, pool_stats,
 * ...): defined by the module from Kconfig (CONFIG_DISPATCHER_POOL_ENTRIES or the heuristic,
 * CONFIG_DISPATCHER_POOL_PAYLOAD_SIZE, CONFIG_DISPATCHER_POOL_HEAP_FALLBACK_SLOTS, in PSRAM with
 * CONFIG_DISPATCHER_POOL_PSRAM), named "default", created at boot when
 * CONFIG_DISPATCHER_POOL_AUTO_INIT=y and made the default (msg_pool_set_default) by the boot hook.
 */
DISPATCHER_POOL_DECLARE(dispatcher_pool_default);

/**
 * The result of the boot hook: 0 when every pool to be created at boot (boot_init) was
 * created, else the first negative errno (-EINVAL also for a header/library ABI mismatch);
 * -EAGAIN before the hook ran.
 */
int dispatcher_pool_boot_status(void);

/**
 * Lets the shell (pool stats, pool stats json, pool leaks) report these targets' counters and
 * queues too. The array and its targets must stay valid and initialised while set; NULL/0
 * removes them. At most DISPATCHER_JSON_TARGETS_MAX are used. Replaces a target source.
 */
void dispatcher_pool_shell_set_targets(msg_target_t *const *targets, size_t n);

/** Receives targets that stay valid and unchanged until it returns. */
typedef void (*dispatcher_pool_targets_visitor_t)(msg_target_t *const *targets, size_t n,
						  void *arg);

/**
 * A source of targets for the shell: calls fn(targets, n, arg) once, with targets that nobody
 * re-initialises until fn returns (for example under the source's own lock). The dispatcher's
 * registry is one (CONFIG_DISPATCHER_API).
 */
typedef void (*dispatcher_pool_targets_source_t)(dispatcher_pool_targets_visitor_t fn,
						 void *arg);

/** Makes the shell read its targets from source (NULL: none). Replaces a list set before. */
void dispatcher_pool_shell_set_target_source(dispatcher_pool_targets_source_t source);

#ifdef __cplusplus
}
#endif

#endif /* DISPATCHER_POOL_ZEPHYR_H */
