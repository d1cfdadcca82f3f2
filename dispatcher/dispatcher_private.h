/*
 * dispatcher_private.h (private): what dispatcher.c and dispatcher_pool.c share beyond the
 * public headers.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef DISPATCHER_PRIVATE_H
#define DISPATCHER_PRIVATE_H

#include "dispatcher_pool.h"

/**
 * Copies a TARGET_MAX-entry id list into `ids`, each value that is no module (the sentinel
 * included) as TARGET_MAX.
 */
void dispatcher_priv_ids_from_targets(const dispatch_target_t *targets, uint8_t ids[TARGET_MAX]);

/** Counts one send of pool `type` whose payload was cut to the pool's payload size. */
void dispatcher_priv_count_truncation(dispatcher_pool_type_t type);

#endif /* DISPATCHER_PRIVATE_H */
