/*
 * dispatcher_pool_zephyr.h: Zephyr-only additions of the dispatcher-pool module (the portable
 * API is dispatcher_pool.h; the OS port it calls is zephyr/dispatcher_pool_port.c).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef DISPATCHER_POOL_ZEPHYR_H
#define DISPATCHER_POOL_ZEPHYR_H

#include <stddef.h>
#include "dispatcher_pool.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Creates the pool from Kconfig (what the boot hook does when CONFIG_DISPATCHER_POOL_AUTO_INIT=y):
 * checks the header/library ABI, computes the entries (CONFIG_DISPATCHER_POOL_ENTRIES, or the
 * sizing heuristic when 0), calls pool_init_ex() and logs entries, bytes and placement.
 * Returns 0 or pool_init_ex()'s negative errno (-EINVAL also for an ABI mismatch).
 */
int dispatcher_pool_init_from_kconfig(void);

/** The result of the boot-time creation: 0, a negative errno, or -EAGAIN when it did not run. */
int dispatcher_pool_boot_status(void);

/** The entries the Kconfig options ask for (CONFIG_DISPATCHER_POOL_ENTRIES or the heuristic). */
size_t dispatcher_pool_kconfig_entries(void);

/**
 * Where the message region came from: "PSRAM (shared multi-heap)", "internal RAM (static)",
 * "internal RAM (heap)", or "none" before pool_init.
 */
const char *dispatcher_pool_region_source(void);

/**
 * Lets the shell (pool stats, pool stats json) report these targets' counters too. The array
 * must stay valid; NULL/0 removes them. At most DISPATCHER_JSON_TARGETS_MAX are shown.
 */
void dispatcher_pool_shell_set_targets(dispatch_target_t *const *targets, size_t n);

#ifdef __cplusplus
}
#endif

#endif /* DISPATCHER_POOL_ZEPHYR_H */
