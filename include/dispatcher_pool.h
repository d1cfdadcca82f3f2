/*
 * dispatcher_pool.h: the real firmware's typed pools (streaming and control), its send helper
 * and its pointer view of a message, over this library.
 *
 * Two pools, so that a flood of streaming data never starves control messages:
 *   - DISPATCHER_POOL_STREAMING ("streaming"): many small messages (LIDAR chunks, sensor frames);
 *   - DISPATCHER_POOL_CONTROL ("control"): few larger ones (commands, REST requests).
 * Each is sized at build time with that firmware's heuristic, from its five fields
 * (Kconfig on Zephyr, CONFIG_DISPATCHER_<POOL>_...):
 *     entries = clamp(ceil(TARGET_MAX * F * C), MIN_ENTRIES, MAX_ENTRIES)
 * with F = FANOUT_PERMILLE / 1000 and C = CONCURRENCY, and PAYLOAD_SIZE bytes of payload per
 * message (at most BUF_SIZE). Both are ordinary library pools (struct msg_pool): the seed's and
 * the msg_pool_* calls, the shell and the JSON see them as "streaming" and "control".
 *
 * Sending, as that firmware's modules do:
 *
 *     dispatch_target_t t[TARGET_MAX];
 *     dispatcher_fill_targets(t);
 *     t[0] = TARGET_RGB;
 *     dispatcher_pool_send_params_t params = {
 *         .type = DISPATCHER_POOL_CONTROL, .source = SOURCE_BATTERY,
 *         .targets = t, .data = frame, .data_len = sizeof(frame),
 *     };
 *     if (dispatcher_pool_send_ptr_params(&params) == NULL) { ... pool empty ... }
 *
 * Entry calls (ref, unref, get_msg), try_alloc and the send calls are ISR-safe; blocking
 * allocation and the self test need a thread.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef DISPATCHER_POOL_H
#define DISPATCHER_POOL_H

#include <stddef.h>
#include <stdint.h>

#include "dispatcher.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Which of the two pools. */
typedef enum {
	DISPATCHER_POOL_STREAMING = 0,
	DISPATCHER_POOL_CONTROL = 1,
} dispatcher_pool_type_t;

/** How many pool types there are. */
#define DISPATCHER_POOL_TYPE_COUNT 2

/**
 * A pool message seen as that firmware's pointer view: the fields of dispatcher_msg_t with
 * `data` a pointer to the payload. It is the message's own header (not a copy): writes through
 * dispatcher_pool_get_msg() change the message. Only the producer, before the broadcast, may
 * write it; `data` itself is set by the pool and must not be changed.
 */
typedef struct {
	/** Bytes of data in use (at most dispatcher_pool_payload_size()). */
	uint32_t message_len;
	/** Sender (a dispatch_source_t value). */
	uint16_t source;
	/** Entries of targets[] in use (the send helpers set TARGET_MAX). */
	uint16_t n_targets;
	/** Opaque pointer for the receivers (e.g. a request with a semaphore to give). */
	void *context;
	/** Target ids, TARGET_MAX-terminated or sentinel-filled (dispatch_target_t values). */
	uint8_t targets[DISPATCHER_TARGETS_MAX];
	/** The payload (the message's data[]). */
	uint8_t *data;
} dispatcher_msg_ptr_t;

#if !defined(__cplusplus)
_Static_assert(offsetof(dispatcher_msg_ptr_t, message_len) == offsetof(dispatcher_msg_t, message_len) &&
		       offsetof(dispatcher_msg_ptr_t, source) == offsetof(dispatcher_msg_t, source) &&
		       offsetof(dispatcher_msg_ptr_t, context) == offsetof(dispatcher_msg_t, context) &&
		       offsetof(dispatcher_msg_ptr_t, targets) == offsetof(dispatcher_msg_t, targets) &&
		       offsetof(dispatcher_msg_ptr_t, data) == offsetof(dispatcher_msg_t, data_ptr),
	       "dispatcher_msg_ptr_t must be the header of dispatcher_msg_t");
#endif

/** What dispatcher_pool_send_ptr_params() sends. */
typedef struct {
	/** The pool to take the message from. */
	dispatcher_pool_type_t type;
	/** The sender. */
	dispatch_source_t source;
	/** TARGET_MAX ids, sentinel-filled; NULL: none (the message is a counted drop). */
	const dispatch_target_t *targets;
	/** The payload to copy (may be NULL when data_len is 0). */
	const uint8_t *data;
	/** Its length; above the pool's payload size it is truncated (and counted). */
	size_t data_len;
	/** Passed through to the receivers in msg->context. */
	void *context;
} dispatcher_pool_send_params_t;

/**
 * Creates both pools if the boot did not (idempotent). Returns 0, or the first negative errno
 * of msg_pool_init (e.g. -ENOMEM when a PSRAM region could not be had); logs the result.
 */
int dispatcher_pool_init(void);

/** The library pool behind `type` (for msg_pool_stats and the like), or NULL for a bad type. */
struct msg_pool *dispatcher_pool_get(dispatcher_pool_type_t type);

/** A free message of pool `type` without waiting (refcount 1, the caller's), or NULL. ISR-safe. */
pool_msg_t *dispatcher_pool_try_alloc(dispatcher_pool_type_t type);

/**
 * A free message of pool `type`, waiting up to `timeout_ms` (UINT32_MAX: forever; values
 * above INT32_MAX wait INT32_MAX ms) for one to be freed to that pool alone. NULL on timeout.
 */
pool_msg_t *dispatcher_pool_alloc_blocking(dispatcher_pool_type_t type, uint32_t timeout_ms);

/** msg_ref(); a refusal (free entry, bad pointer, saturation) is counted and logged. */
void dispatcher_pool_msg_ref(pool_msg_t *msg);

/** msg_unref(); a refusal (double unref, bad pointer) is counted and logged. */
void dispatcher_pool_msg_unref(pool_msg_t *msg);

/** The message of entry `msg` as a writable pointer view (producer only), or NULL. */
dispatcher_msg_ptr_t *dispatcher_pool_get_msg(pool_msg_t *msg);

/** The message of entry `msg` as a read-only pointer view, or NULL (NULL or not an entry). */
const dispatcher_msg_ptr_t *dispatcher_pool_get_msg_const(const pool_msg_t *msg);

/** Payload bytes per message of pool `type` (0 for a bad type). */
size_t dispatcher_pool_payload_size(dispatcher_pool_type_t type);

/** How many sends of pool `type` were cut to its payload size, since boot. */
uint32_t dispatcher_pool_truncations(dispatcher_pool_type_t type);

/**
 * Allocates from params->type without waiting, fills the message (source, context, the
 * targets, params->data cut to the pool's payload size: a truncation is counted, as that
 * firmware cuts silently) and broadcasts it with dispatcher_broadcast_ptr. Returns the entry
 * (only to be compared with NULL: the broadcast consumed the reference, it may be free
 * already) or NULL when nothing was allocated (the pool is empty, or a NULL/bad params).
 */
pool_msg_t *dispatcher_pool_send_ptr_params(const dispatcher_pool_send_params_t *params);

/** dispatcher_pool_send_ptr_params with the fields as arguments. */
pool_msg_t *dispatcher_pool_send_ptr(dispatcher_pool_type_t type, dispatch_source_t source,
				     const dispatch_target_t *targets, const uint8_t *data,
				     size_t data_len, void *context);

/** Logs one line per pool: entries, in use, high water, allocation failures, drops, truncations. */
void dispatcher_pool_log_stats(void);

/**
 * For each pool: allocate, write a pattern, broadcast to a temporary queue, receive, compare,
 * unref; logs PASS or FAIL per pool (SKIP when the pool is empty). Returns nothing, as there;
 * dispatcher_pool_self_test_run() returns the result.
 */
void dispatcher_pool_self_test(void);

/** The self test: 0 when every pool passed (or was skipped as empty), else a negative errno. */
int dispatcher_pool_self_test_run(void);

#ifdef __cplusplus
}
#endif

#endif /* DISPATCHER_POOL_H */
