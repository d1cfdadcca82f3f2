/*
 * dispatcher_module.c: module threads of dispatcher_module.h, and the queues the dispatcher
 * creates, from static areas (no CONFIG_DYNAMIC_THREAD, no heap).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <errno.h>
#include <string.h>

#include <zephyr/kernel.h>
#include <zephyr/logging/log.h>

#include "dispatcher_module.h"

LOG_MODULE_DECLARE(dispatcher, CONFIG_DISPATCHER_POOL_LOG_LEVEL);

#define QUEUE_WARN_INTERVAL_MS 10000

K_THREAD_STACK_ARRAY_DEFINE(dm_stacks, CONFIG_DISPATCHER_MODULE_THREADS,
			    CONFIG_DISPATCHER_MODULE_STACK_SIZE);
static struct k_thread dm_threads[CONFIG_DISPATCHER_MODULE_THREADS];
static size_t dm_threads_used;

static pool_msg_t *dm_slots[CONFIG_DISPATCHER_MODULE_QUEUE_SLOTS];
static size_t dm_slots_used;
static struct k_msgq dm_queues[CONFIG_DISPATCHER_MODULE_QUEUES];
static size_t dm_queues_used;

static K_MUTEX_DEFINE(dm_lock);

/* A pointer queue of queue_len slots from the static areas, not registered; NULL when the areas
 * are used up.
 */
static struct k_msgq *ptr_queue_create(dispatch_target_t target, uint16_t queue_len)
{
	struct k_msgq *q = NULL;

	if (queue_len == 0 || (unsigned int)target >= (unsigned int)TARGET_MAX) {
		return NULL;
	}
	(void)k_mutex_lock(&dm_lock, K_FOREVER);
	if (dm_queues_used < ARRAY_SIZE(dm_queues) &&
	    ARRAY_SIZE(dm_slots) - dm_slots_used >= queue_len) {
		q = &dm_queues[dm_queues_used++];
		k_msgq_init(q, (char *)&dm_slots[dm_slots_used], sizeof(pool_msg_t *), queue_len);
		dm_slots_used += queue_len;
	}
	(void)k_mutex_unlock(&dm_lock);
	if (q == NULL) {
		LOG_ERR("%s: no room for a queue of %u (CONFIG_DISPATCHER_MODULE_QUEUES, _QUEUE_SLOTS)",
			target_names[target], queue_len);
	}
	return q;
}

struct k_msgq *dispatcher_ptr_queue_create_register(dispatch_target_t target, uint16_t queue_len)
{
	struct k_msgq *q = ptr_queue_create(target, queue_len);

	if (q == NULL || dispatcher_register_ptr_queue(target, q) != 0) {
		return NULL;
	}
	return q;
}

/* Hands a received entry's message (msg: msg_message(pmsg), checked) to the module in place,
 * then releases the entry.
 */
static void process_entry(dispatcher_module_t *m, pool_msg_t *pmsg, const dispatcher_msg_t *msg)
{
	if (m->process_msg != NULL) {
		m->process_msg(msg);
	}
	m->processed++;
	dispatcher_pool_msg_unref(pmsg);
}

void dispatcher_module_process_ptr_compat(dispatcher_module_t *m, pool_msg_t *pmsg)
{
	if (m == NULL || pmsg == NULL) {
		return;
	}
	/* NULL, foreign, misaligned and free entries are refused before any access. */
	const dispatcher_msg_t *msg = msg_message(pmsg);

	if (msg == NULL) {
		LOG_WRN("%s: %p is no held pool entry, dropped", m->name, (void *)pmsg);
		return;
	}
	process_entry(m, pmsg, msg);
}

static void warn_queue_depth(dispatcher_module_t *m)
{
	uint32_t used = k_msgq_num_used_get(m->queue);
	uint32_t cap = used + k_msgq_num_free_get(m->queue);

	if (cap == 0 || used * 4 < cap * 3) {
		return;
	}
	int64_t now = k_uptime_get();

	if (m->queue_warnings != 0 && now - m->last_queue_warn < QUEUE_WARN_INTERVAL_MS) {
		return;
	}
	m->last_queue_warn = now;
	m->queue_warnings++;
	LOG_WRN("%s: queue depth high: %u/%u", m->name, used, cap);
}

/* A module with a step_frame but step_ms 0 checks step_ms this often (it may be set later). */
#define STEP_POLL_MS 50

/* Milliseconds to wait for a message before the next step is due (-1: forever). */
static int32_t until_next_step(dispatcher_module_t *m)
{
	uint32_t period = m->step_ms;

	if (m->step_frame == NULL) {
		m->priv_period = 0;
		return -1;
	}
	if (period == 0) {
		m->priv_period = 0;
		return STEP_POLL_MS;
	}
	int64_t now = k_uptime_get();

	if (period != m->priv_period) {
		/* Started, or step_ms changed: a new schedule from now. */
		m->priv_period = period;
		m->next_step = now + period;
	}
	int64_t wait = m->next_step - now;

	return wait <= 0 ? 0 : (int32_t)MIN(wait, (int64_t)INT32_MAX);
}

static void run_step_if_due(dispatcher_module_t *m)
{
	if (m->priv_period == 0 || m->step_frame == NULL) {
		return;
	}
	int64_t start = k_uptime_get();

	if (start < m->next_step) {
		return;
	}
	m->step_frame();
	m->steps++;
	/* Whole periods from the schedule, not from now: no drift; missed periods are skipped. */
	do {
		m->next_step += m->priv_period;
	} while (m->next_step <= start);
}

static void module_thread(void *arg, void *unused1, void *unused2)
{
	dispatcher_module_t *m = arg;

	ARG_UNUSED(unused1);
	ARG_UNUSED(unused2);
	for (;;) {
		int32_t wait = until_next_step(m);
		pool_msg_t *p = NULL;

		warn_queue_depth(m);
		int rc = msg_receive(&m->priv_rx, wait, &p, NULL);

		if (rc == 0) {
			process_entry(m, p, p->msg); /* msg_receive validated it */
		} else if (rc != -EAGAIN) {
			LOG_WRN("%s: receive failed (%d)", m->name, rc);
		}
		run_step_if_due(m);
	}
}

/* A thread object and stack for m: its own (DISPATCHER_MODULE_DEFINE) or from the areas. */
static int take_thread(dispatcher_module_t *m)
{
	if (m->priv_thread != NULL && m->priv_stack != NULL) {
		return 0;
	}
	size_t want = m->stack_size != 0 ? m->stack_size : CONFIG_DISPATCHER_MODULE_STACK_SIZE;
	int rc = 0;

	(void)k_mutex_lock(&dm_lock, K_FOREVER);
	if (dm_threads_used >= ARRAY_SIZE(dm_threads)) {
		rc = -ENOMEM;
	} else if (want <= K_THREAD_STACK_SIZEOF(dm_stacks[0])) {
		m->priv_thread = &dm_threads[dm_threads_used];
		m->priv_stack = dm_stacks[dm_threads_used];
		m->priv_stack_bytes = K_THREAD_STACK_SIZEOF(dm_stacks[0]);
		dm_threads_used++;
	} else {
#ifdef CONFIG_DYNAMIC_THREAD
		k_thread_stack_t *stack = k_thread_stack_alloc(want, 0);

		if (stack == NULL) {
			rc = -ENOMEM;
		} else {
			m->priv_thread = &dm_threads[dm_threads_used++];
			m->priv_stack = stack;
			m->priv_stack_bytes = want;
		}
#else
		rc = -ENOMEM;
#endif
	}
	(void)k_mutex_unlock(&dm_lock);
	if (rc != 0) {
		LOG_ERR("%s: no thread for a %u B stack (CONFIG_DISPATCHER_MODULE_THREADS=%d, "
			"_STACK_SIZE=%d%s)",
			m->name, (unsigned int)want, CONFIG_DISPATCHER_MODULE_THREADS,
			CONFIG_DISPATCHER_MODULE_STACK_SIZE,
			IS_ENABLED(CONFIG_DYNAMIC_THREAD) ? "" : ", no CONFIG_DYNAMIC_THREAD");
	}
	return rc;
}

int dispatcher_module_start(dispatcher_module_t *m)
{
	if (m == NULL || (unsigned int)m->target >= (unsigned int)TARGET_MAX) {
		return -EINVAL;
	}
	if (m->name == NULL) {
		m->name = target_names[m->target];
	}
	if (m->priv_started) {
		return -EALREADY;
	}
	/* Everything that can fail comes before the registration: a refused start leaves no queue
	 * registered under the module's id (a registered queue nobody reads would pin every
	 * message broadcast to it).
	 */
	if (m->queue == NULL) {
		if (m->queue_len == 0) {
			return -EINVAL;
		}
		m->queue = ptr_queue_create(m->target, m->queue_len);
		if (m->queue == NULL) {
			return -ENOMEM;
		}
		m->priv_register = true; /* the dispatcher's own queue: always registered */
	}
	memset(&m->priv_rx, 0, sizeof(m->priv_rx));
	int rc = msg_target_init(&m->priv_rx, m->queue, DISPATCH_MODE_POINTER, (uint16_t)m->target);

	if (rc != 0) {
		LOG_ERR("%s: its queue does not carry pointers (%d)", m->name, rc);
		return rc;
	}
	rc = take_thread(m); /* kept by m on a later failure: a retry reuses it */
	if (rc != 0) {
		return rc;
	}
	if (m->priv_register) {
		rc = dispatcher_register_ptr_queue(m->target, m->queue);
		if (rc != 0) {
			return rc;
		}
	}
	m->next_step = 0;
	m->last_queue_warn = 0;
	m->priv_period = 0;
	m->priv_started = true;
	k_tid_t tid = k_thread_create(m->priv_thread, m->priv_stack, m->priv_stack_bytes, module_thread, m,
				      NULL, NULL, m->task_prio, 0, K_NO_WAIT);

	(void)k_thread_name_set(tid, m->name);
	LOG_INF("%s: started (stack %u B, queue %u, step %u ms)", m->name,
		(unsigned int)m->priv_stack_bytes,
		k_msgq_num_used_get(m->queue) + k_msgq_num_free_get(m->queue),
		(unsigned int)m->step_ms);
	return 0;
}
