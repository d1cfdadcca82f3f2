/*
 * dispatcher.c: the registry of module queues by id (dispatcher.h) and the broadcast and send
 * calls over it. Portable: the library's C API and port, and dispatcher_os.h.
 *
 * One msg_target_t per id, in static storage, initialised when a queue is registered and
 * zeroed (refused by every library call) when it is unregistered. Broadcasts read the
 * registry without a lock: an id is published by storing its mode after its target is
 * written. Changing an id (registering over it, unregistering) is serialised by the
 * registry's mutex and first closes the id (mode REG_NONE), then waits until no broadcast is
 * in flight, and only then purges and rewrites the target: a broadcast either saw the id
 * closed or has finished with its target, so an entry is never left in a queue nobody reads.
 * (Sequentially consistent: a broadcast counts itself in flight before it reads a mode, and
 * a writer closes the mode before it reads the count.)
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <errno.h>
#include <string.h>

#include "dispatcher.h"
#include "dispatcher_os.h"
#include "dispatcher_pool.h"
#include "dispatcher_pool_port.h"
#include "dispatcher_private.h"
#ifdef __ZEPHYR__
#include "dispatcher_pool_zephyr.h"
#endif

DISPATCHER_OS_LOG_REGISTER();

enum reg_mode { REG_NONE = 0, REG_POINTER, REG_VALUE };

static msg_target_t reg_target[TARGET_MAX];
static struct k_msgq *reg_queue[TARGET_MAX];
static uint8_t reg_mode[TARGET_MAX];
/* Broadcasts between their first read of reg_mode and their last use of a target. */
static uint32_t reg_inflight;
static uint32_t reg_unrouted[TARGET_MAX];
/* The registered targets, for the shell's stats and leak reports. */
static msg_target_t *reg_list[TARGET_MAX];

DISPATCHER_OS_MUTEX_DEFINE(reg_lock);

static bool valid_id(int id)
{
	return id >= 0 && id < (int)TARGET_MAX;
}

/* With reg_lock held. */
static bool queue_registered_elsewhere(const struct k_msgq *q, int except)
{
	for (int i = 0; i < (int)TARGET_MAX; i++) {
		if (i != except && reg_queue[i] == q) {
			return true;
		}
	}
	return false;
}

static size_t reg_list_len;

/* With reg_lock held. */
static void publish_list(void)
{
	size_t n = 0;

	for (int i = 0; i < (int)TARGET_MAX; i++) {
		if (reg_mode[i] != REG_NONE) {
			reg_list[n++] = &reg_target[i];
		}
	}
	reg_list_len = n;
}

#if defined(__ZEPHYR__) && defined(CONFIG_DISPATCHER_POOL_SHELL)
/* The shell's view of the registry: the registered targets, under reg_lock, so that a
 * re-registration never rewrites a target the shell is reading.
 */
static void visit_registered(dispatcher_pool_targets_visitor_t fn, void *arg)
{
	dispatcher_os_lock(&reg_lock);
	fn(reg_list, reg_list_len, arg);
	dispatcher_os_unlock(&reg_lock);
}
#endif

/* Without reg_lock held (the shell takes its lock, then reg_lock). */
static void share_with_shell(void)
{
#if defined(__ZEPHYR__) && defined(CONFIG_DISPATCHER_POOL_SHELL)
	dispatcher_pool_shell_set_target_source(visit_registered);
#endif
}

/*
 * With reg_lock held: closes `id` to broadcasts, then waits until none that may have seen it
 * open is still in flight (they finish without blocking: msg_broadcast never waits).
 */
static void close_id(int id)
{
	__atomic_store_n(&reg_mode[id], (uint8_t)REG_NONE, __ATOMIC_SEQ_CST);
	while (__atomic_load_n(&reg_inflight, __ATOMIC_SEQ_CST) != 0) {
		dispatcher_os_pause();
	}
}

static int register_queue(dispatch_target_t target, struct k_msgq *q, enum reg_mode mode)
{
	int id = (int)target;

	if (!valid_id(id)) {
		return -EINVAL;
	}
	if (q != NULL) {
		/* Check the queue before changing anything: a refused registration keeps the old one. */
		msg_target_t probe;

		memset(&probe, 0, sizeof(probe));
		int rc = msg_target_init(&probe, q,
					 mode == REG_POINTER ? DISPATCH_MODE_POINTER : DISPATCH_MODE_VALUE,
					 (uint16_t)id);
		if (rc != 0) {
			return rc;
		}
	}

	dispatcher_os_lock(&reg_lock);
	if (reg_queue[id] == q && reg_mode[id] == (q != NULL ? mode : REG_NONE)) {
		dispatcher_os_unlock(&reg_lock);
		return 0;
	}
	if (reg_queue[id] != NULL) {
		close_id(id);
		/* The old queue: release what it still holds unless another id still feeds it. */
		if (!queue_registered_elsewhere(reg_queue[id], id)) {
			int purged = msg_target_purge(&reg_target[id]);

			if (purged > 0) {
				DLOG_INF("%s: released %d queued message(s) of its old queue",
					 target_names[id], purged);
			}
		}
		memset(&reg_target[id], 0, sizeof(reg_target[id]));
	}
	reg_queue[id] = q;
	if (q != NULL) {
		(void)msg_target_init(&reg_target[id], q,
				      mode == REG_POINTER ? DISPATCH_MODE_POINTER : DISPATCH_MODE_VALUE,
				      (uint16_t)id);
		/* Publish: a broadcast that reads the mode sees the target written. */
		__atomic_store_n(&reg_mode[id], (uint8_t)mode, __ATOMIC_SEQ_CST);
	}
	publish_list();
	dispatcher_os_unlock(&reg_lock);
	share_with_shell();
	return 0;
}

int dispatcher_init(void)
{
	dispatcher_os_lock(&reg_lock);
	publish_list();
	dispatcher_os_unlock(&reg_lock);
	share_with_shell();
	return dispatcher_pool_init();
}

int dispatcher_register_ptr_queue(dispatch_target_t target, struct k_msgq *queue)
{
	return register_queue(target, queue, REG_POINTER);
}

int dispatcher_register_value_queue(dispatch_target_t target, struct k_msgq *queue)
{
	return register_queue(target, queue, REG_VALUE);
}

struct k_msgq *dispatcher_get_ptr_queue(dispatch_target_t target)
{
	int id = (int)target;
	struct k_msgq *q = NULL;

	if (valid_id(id)) {
		dispatcher_os_lock(&reg_lock);
		q = reg_mode[id] == REG_POINTER ? reg_queue[id] : NULL;
		dispatcher_os_unlock(&reg_lock);
	}
	return q;
}

bool dispatcher_has_ptr_queue(dispatch_target_t target)
{
	return dispatcher_get_ptr_queue(target) != NULL;
}

msg_target_t *dispatcher_target(dispatch_target_t target)
{
	int id = (int)target;
	msg_target_t *t = NULL;

	if (valid_id(id)) {
		dispatcher_os_lock(&reg_lock);
		t = reg_mode[id] != REG_NONE ? &reg_target[id] : NULL;
		dispatcher_os_unlock(&reg_lock);
	}
	return t;
}

uint32_t dispatcher_unrouted_count(dispatch_target_t target)
{
	int id = (int)target;

	return valid_id(id) ? __atomic_load_n(&reg_unrouted[id], __ATOMIC_RELAXED) : 0;
}

int dispatcher_broadcast_ptr_u8(pool_msg_t *msg, const uint8_t *targets)
{
	msg_target_t *list[TARGET_MAX];
	size_t n = 0;
	int rc;

	if (msg == NULL) {
		return -EINVAL;
	}
	if (targets == NULL) {
		/* Refused, but the reference is still consumed (and the drop counted). */
		return msg_broadcast(msg, NULL, 0);
	}

	__atomic_fetch_add(&reg_inflight, 1, __ATOMIC_SEQ_CST);
	for (int i = 0; i < (int)TARGET_MAX; i++) {
		unsigned int id = targets[i];

		if (id >= (unsigned int)TARGET_MAX) {
			continue; /* the sentinel, or no module */
		}
		if (__atomic_load_n(&reg_mode[id], __ATOMIC_SEQ_CST) == REG_NONE) {
			__atomic_fetch_add(&reg_unrouted[id], 1, __ATOMIC_RELAXED);
			continue;
		}
		list[n++] = &reg_target[id];
	}
	rc = msg_broadcast(msg, list, n);
	__atomic_fetch_sub(&reg_inflight, 1, __ATOMIC_RELEASE);

	/* No target at all: the entry was released and the drop counted; that is 0 queues. */
	return (n == 0 && rc == -EINVAL) ? 0 : rc;
}

void dispatcher_priv_ids_from_targets(const dispatch_target_t *targets, uint8_t ids[TARGET_MAX])
{
	for (int i = 0; i < (int)TARGET_MAX; i++) {
		unsigned int id = (unsigned int)targets[i];

		ids[i] = id < (unsigned int)TARGET_MAX ? (uint8_t)id : (uint8_t)TARGET_MAX;
	}
}

int(dispatcher_broadcast_ptr)(pool_msg_t *msg, const dispatch_target_t *targets)
{
	uint8_t ids[TARGET_MAX];

	if (targets == NULL) {
		return dispatcher_broadcast_ptr_u8(msg, NULL);
	}
	dispatcher_priv_ids_from_targets(targets, ids);
	return dispatcher_broadcast_ptr_u8(msg, ids);
}

int dispatcher_send(const dispatcher_msg_t *msg)
{
	if (msg == NULL) {
		return -EINVAL;
	}
	pool_msg_t *p = dispatcher_pool_try_alloc(DISPATCHER_POOL_STREAMING);

	if (p == NULL) {
		return -ENOMEM;
	}
	dispatcher_msg_t *m = p->msg;
	size_t room = dispatcher_pool_payload_size(DISPATCHER_POOL_STREAMING);
	size_t len = msg->message_len;

	if (len > room) {
		len = room;
		dispatcher_priv_count_truncation(DISPATCHER_POOL_STREAMING);
	}
	m->source = msg->source;
	m->n_targets = msg->n_targets;
	m->context = msg->context;
	memcpy(m->targets, msg->targets, sizeof(m->targets));
	memcpy(m->data, msg->data, len);
	m->message_len = (uint32_t)len;
	return dispatcher_broadcast_ptr_u8(p, m->targets);
}
