/*
 * dispatcher.h: the real firmware's dispatcher API (module ids from modules.def, a registry of
 * module queues, sentinel-filled target lists, one-call broadcast), over this library.
 *
 * The application provides `modules.def` on its include path, one line per module:
 *
 *     X_MODULE(_RGB)
 *     X_MODULE(_BATTERY)
 *
 * and gets the enums `dispatch_target_t` (TARGET_RGB, TARGET_BATTERY, ..., TARGET_MAX) and
 * `dispatch_source_t` (SOURCE_RGB, ..., SOURCE_UNDEFINED), in modules.def order, and the name
 * tables `target_names[]` / `source_names[]`. On Zephyr: CONFIG_DISPATCHER_API=y and
 * `zephyr_include_directories(<the directory of modules.def>)` in the application's
 * CMakeLists.txt (the module's own sources include it too).
 *
 * A target list is an array of TARGET_MAX ids filled with the sentinel TARGET_MAX:
 *
 *     dispatch_target_t t[TARGET_MAX];
 *     dispatcher_fill_targets(t);
 *     t[0] = TARGET_RGB;
 *
 * Every entry is looked at and TARGET_MAX entries are skipped (as in that firmware), so a list
 * may have holes; an id listed twice is delivered twice.
 *
 * dispatcher_msg_t is the library's message type (msg_pool.h): `source`, `targets[]`,
 * `message_len`, `data[BUF_SIZE]` and `context` as in that firmware, with these element types:
 * `source` is uint16_t and `targets[]` uint8_t (both compare with and take the enum values),
 * `message_len` uint32_t, and targets[] has DISPATCHER_TARGETS_MAX >= TARGET_MAX entries (the
 * ones past TARGET_MAX are never read). A pool message may be shorter than sizeof(dispatcher_msg_t):
 * its data[] holds its pool's payload size (dispatcher_pool_payload_size()), never more.
 *
 * Registering, unregistering and looking up take the registry's mutex: thread context.
 * dispatcher_broadcast_ptr takes no lock and is ISR-safe; dispatcher_send allocates from the
 * streaming pool without waiting and is ISR-safe too.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef DISPATCHER_H
#define DISPATCHER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "msg_pool.h"

#if defined(__has_include)
#if !__has_include("modules.def")
#error "dispatcher.h: modules.def is not on the include path (Zephyr: zephyr_include_directories(<its directory>) in the application's CMakeLists.txt)"
#endif
#endif

#ifdef __cplusplus
extern "C" {
#endif

/** The largest payload, the length of dispatcher_msg_t.data[] (CONFIG_DISPATCHER_POOL_PAYLOAD_SIZE). */
#define BUF_SIZE DISPATCHER_PAYLOAD_MAX

/** A module id, from modules.def: TARGET<name> in its order, then the sentinel TARGET_MAX. */
typedef enum {
#define X_MODULE(name) TARGET##name,
#include "modules.def"
#undef X_MODULE
	TARGET_MAX
} dispatch_target_t;

/** A sender id, from modules.def: SOURCE<name> (same numbers as TARGET<name>), then SOURCE_UNDEFINED. */
typedef enum {
#define X_MODULE(name) SOURCE##name,
#include "modules.def"
#undef X_MODULE
	SOURCE_UNDEFINED
} dispatch_source_t;

#if defined(__GNUC__)
#define DISPATCHER_PRIV_UNUSED __attribute__((unused))
#else
#define DISPATCHER_PRIV_UNUSED
#endif

/** "TARGET<name>" for each module, indexed by dispatch_target_t. */
static const char *const target_names[] DISPATCHER_PRIV_UNUSED = {
#define X_MODULE(name) "TARGET" #name,
#include "modules.def"
#undef X_MODULE
};

/** "SOURCE<name>" for each module, indexed by dispatch_source_t. */
static const char *const source_names[] DISPATCHER_PRIV_UNUSED = {
#define X_MODULE(name) "SOURCE" #name,
#include "modules.def"
#undef X_MODULE
};

#if defined(__cplusplus)
static_assert(TARGET_MAX <= DISPATCHER_TARGETS_MAX, "modules.def has more modules than DISPATCHER_TARGETS_MAX");
#else
_Static_assert(TARGET_MAX <= DISPATCHER_TARGETS_MAX,
	       "modules.def has more modules than dispatcher_msg_t.targets[] holds: raise "
	       "CONFIG_DISPATCHER_POOL_TARGETS_MAX (DISPATCHER_TARGETS_MAX)");
#endif

/**
 * Fills a target array (dispatch_target_t[] or a message's uint8_t targets[]) with the
 * sentinel TARGET_MAX. `targets_array` must be an array, not a pointer. A statement.
 */
#define dispatcher_fill_targets(targets_array)                                                     \
	do {                                                                                       \
		for (size_t dft_i_ = 0;                                                            \
		     dft_i_ < sizeof(targets_array) / sizeof((targets_array)[0]); ++dft_i_) {      \
			(targets_array)[dft_i_] = TARGET_MAX;                                      \
		}                                                                                  \
	} while (0)

/** A module's message handler. */
typedef void (*dispatcher_handler_t)(const dispatcher_msg_t *msg);

/**
 * Sets up the registry (idempotent) and creates the dispatcher's pools (dispatcher_pool_init).
 * Registering, broadcasting and sending also set the registry up on first use. Returns 0 or
 * what dispatcher_pool_init returns.
 */
int dispatcher_init(void);

/**
 * Registers `queue` (a k_msgq of `pool_msg_t *` items) as the pointer queue of `target`.
 * A queue may be registered under several ids. NULL unregisters: the entries still in the old
 * queue are released (msg_target_purge) unless that queue is still registered under another
 * id. Replacing a queue does the same for the old one. Returns 0, -EINVAL (id not below
 * TARGET_MAX; a queue whose item is not a pointer).
 */
int dispatcher_register_ptr_queue(dispatch_target_t target, struct k_msgq *queue);

/**
 * Registers `queue` (a k_msgq of whole dispatcher_msg_t items, the old value path) as the
 * value queue of `target`: broadcasts copy the header and the used payload into it. NULL
 * unregisters (the copies queued are discarded). Returns 0 or -EINVAL (bad id, item size
 * below dispatcher_msg_header_size() or above sizeof(dispatcher_msg_t)).
 */
int dispatcher_register_value_queue(dispatch_target_t target, struct k_msgq *queue);

/** The pointer queue registered for `target`, or NULL (none, a value queue, a bad id). */
struct k_msgq *dispatcher_get_ptr_queue(dispatch_target_t target);

/** Whether `target` has a pointer queue registered. */
bool dispatcher_has_ptr_queue(dispatch_target_t target);

/**
 * The registry's msg_target_t for `target` (for msg_target_stats, msg_pool_stats_json,
 * msg_pool_leaks), or NULL when nothing is registered under that id.
 */
msg_target_t *dispatcher_target(dispatch_target_t target);

/** Messages addressed to `target` while it had no queue (skipped), since boot. */
uint32_t dispatcher_unrouted_count(dispatch_target_t target);

/**
 * Broadcasts pool entry `msg` to every id of `targets` (TARGET_MAX entries, sentinel-filled):
 * pointer queues get the pointer (a reference each), value queues a copy. Ids without a queue
 * are skipped and counted (dispatcher_unrouted_count). The caller's (producer's) reference is
 * always consumed, as in that firmware: do not touch `msg` afterwards. Never waits on a queue
 * and takes no lock: ISR-safe, and a forwarding module never blocks on the registry.
 * Returns how many queues took it (0 is a drop, counted in the pool's stats), -EINVAL (NULL
 * `targets`, a NULL or free `msg`), -EFAULT (`msg` is no pool's entry), -EMSGSIZE
 * (message_len above the pool's payload; the entry is released).
 *
 * `targets` may also be a message's own uint8_t targets[] (dispatcher_pool_get_msg(p)->targets):
 * in C the macro below picks dispatcher_broadcast_ptr_u8 for those.
 */
int dispatcher_broadcast_ptr(pool_msg_t *msg, const dispatch_target_t *targets);

/** dispatcher_broadcast_ptr over a uint8_t id list of TARGET_MAX entries (a message's targets[]). */
int dispatcher_broadcast_ptr_u8(pool_msg_t *msg, const uint8_t *targets);

#if !defined(__cplusplus)
#define dispatcher_broadcast_ptr(msg, targets)                                                     \
	_Generic((targets),                                                                        \
		uint8_t *: dispatcher_broadcast_ptr_u8,                                            \
		const uint8_t *: dispatcher_broadcast_ptr_u8,                                      \
		default: (dispatcher_broadcast_ptr))(msg, targets)
#endif

/**
 * The value path of that firmware, kept working: delivers a copy of `msg` (header and
 * message_len payload bytes; message_len above the streaming pool's payload is truncated and
 * counted) to every target of msg->targets (TARGET_MAX entries), each in its own mode: value
 * queues get a copy, pointer queues one shared entry of the streaming pool (the copies are
 * made from that entry). Returns how many queues took it, -EINVAL (NULL msg) or -ENOMEM (the
 * streaming pool is empty: nothing is delivered, the allocation failure is counted).
 */
int dispatcher_send(const dispatcher_msg_t *msg);

#ifdef __cplusplus
}
#endif

#endif /* DISPATCHER_H */
