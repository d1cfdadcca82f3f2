/*
 * dispatcher_module.h: the real firmware's module threads on Zephyr. A module is a struct of
 * its name, id, queue length, stack, priority, message handler and periodic step:
 *
 *     static void battery_process(const dispatcher_msg_t *msg) { ... }
 *     static void battery_step(void) { ... }            // every step_ms, without drift
 *
 *     static dispatcher_module_t battery_mod = {
 *         .name = "battery", .target = TARGET_BATTERY, .queue_len = 8,
 *         .stack_size = 2048, .task_prio = 5,
 *         .process_msg = battery_process, .step_frame = battery_step, .step_ms = 500,
 *     };
 *     dispatcher_module_start(&battery_mod);           // creates + registers its queue
 *
 * The module thread receives from its pointer queue, calls process_msg with the message in
 * place (no copy onto its stack; read it, never write it, and take a reference with
 * dispatcher_pool_msg_ref to keep it past the call), releases it, and calls step_frame every
 * step_ms on an absolute schedule (missed periods are skipped, not bunched). step_ms may be
 * changed while the module runs (a 32-bit store): a new schedule starts when the period under
 * way ends (or within 50 ms when stepping was stopped); 0 stops stepping.
 * It warns once per 10 s while its queue is at least 75 % full.
 *
 * dispatcher_module_start needs no CONFIG_DYNAMIC_THREAD and no heap: threads, stacks and
 * created queues come from static areas sized by CONFIG_DISPATCHER_MODULE_THREADS,
 * _STACK_SIZE, _QUEUES and _QUEUE_SLOTS. DISPATCHER_MODULE_DEFINE gives a module its own
 * static queue, stack and thread instead.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef DISPATCHER_MODULE_H
#define DISPATCHER_MODULE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <zephyr/kernel.h>

#include "dispatcher.h"
#include "dispatcher_pool.h"

#ifdef __cplusplus
extern "C" {
#endif

/** The module's message handler (the message is valid during the call only). */
typedef void (*dispatcher_module_process_msg_t)(const dispatcher_msg_t *msg);
/** The module's periodic step. */
typedef void (*dispatcher_module_step_frame_t)(void);

/** A module: fill the public fields, then dispatcher_module_start(). Static storage. */
typedef struct dispatcher_module {
	/** Name for logs and the thread (a static string). */
	const char *name;
	/** Its id; its queue is registered under it. */
	dispatch_target_t target;
	/** Depth of the queue to create when `queue` is NULL. */
	uint16_t queue_len;
	/** Stack bytes (0: CONFIG_DISPATCHER_MODULE_STACK_SIZE). */
	size_t stack_size;
	/** Zephyr thread priority (lower is more urgent; negative is cooperative). */
	int task_prio;
	/** Called for each message; may be NULL (a step-only module). */
	dispatcher_module_process_msg_t process_msg;
	/** Called every step_ms; may be NULL. */
	dispatcher_module_step_frame_t step_frame;
	/** Step period in milliseconds, 0 = no step; may be changed while running. */
	volatile uint32_t step_ms;
	/** Its pointer queue; NULL: dispatcher_module_start creates and registers one. */
	struct k_msgq *queue;

	/* Private, after the public fields. */
	/** Uptime (ms) of the next step. */
	int64_t next_step;
	/** Uptime (ms) of the last queue-depth warning. */
	int64_t last_queue_warn;
	/** Messages processed, steps run, queue-depth warnings logged (for tests and the shell). */
	uint32_t processed;
	uint32_t steps;
	uint32_t queue_warnings;
	/** The period the schedule was computed with. */
	uint32_t priv_period;
	/** The receive side of its queue. */
	msg_target_t priv_rx;
	/** Thread and stack: from the static areas, or from DISPATCHER_MODULE_DEFINE. */
	struct k_thread *priv_thread;
	k_thread_stack_t *priv_stack;
	size_t priv_stack_bytes;
	/** DISPATCHER_MODULE_DEFINE: register `queue` under `target` at start. */
	bool priv_register;
	/** Started (a second start is -EALREADY). */
	bool priv_started;
} dispatcher_module_t;

/**
 * Starts module `m`: creates and registers its pointer queue if `queue` is NULL (a queue the
 * caller set is used as it is, as in that firmware: register it yourself), and starts its
 * thread. Returns 0, -EINVAL (NULL m, bad target, queue_len 0 with no queue, a queue whose
 * items are not pointers), -EALREADY (started), -ENOMEM (no static thread, stack or queue
 * slots left; stack_size above CONFIG_DISPATCHER_MODULE_STACK_SIZE without
 * CONFIG_DYNAMIC_THREAD). Thread context.
 */
int dispatcher_module_start(dispatcher_module_t *m);

/**
 * Creates a pointer queue of `queue_len` slots (from the static area) and registers it under
 * `target`. NULL when the area is exhausted, queue_len is 0 or the id is bad.
 */
struct k_msgq *dispatcher_ptr_queue_create_register(dispatch_target_t target, uint16_t queue_len);

/**
 * What the module thread does with one received entry: calls m->process_msg with the message
 * in place, then releases the entry. For modules that receive from their queue themselves.
 * An entry that is no pool's is refused (logged, not released).
 */
void dispatcher_module_process_ptr_compat(dispatcher_module_t *m, pool_msg_t *pmsg);

/**
 * Defines `dispatcher_module_t var` with its own static queue (queue_len pointers), stack
 * (stack_size bytes) and thread; dispatcher_module_start(&var) registers the queue under
 * `target_` and starts the thread. File scope.
 */
#define DISPATCHER_MODULE_DEFINE(var, target_, queue_len_, stack_size_, prio_, process_, step_,    \
				 step_ms_)                                                         \
	K_MSGQ_DEFINE(var##_queue, sizeof(pool_msg_t *), queue_len_, sizeof(void *));              \
	K_THREAD_STACK_DEFINE(var##_stack, stack_size_);                                           \
	static struct k_thread var##_thread;                                                       \
	dispatcher_module_t var = {                                                                \
		.name = #var,                                                                      \
		.target = (target_),                                                               \
		.queue_len = (queue_len_),                                                         \
		.stack_size = K_THREAD_STACK_SIZEOF(var##_stack),                                  \
		.task_prio = (prio_),                                                              \
		.process_msg = (process_),                                                         \
		.step_frame = (step_),                                                             \
		.step_ms = (step_ms_),                                                             \
		.queue = &var##_queue,                                                             \
		.priv_thread = &var##_thread,                                                      \
		.priv_stack = var##_stack,                                                         \
		.priv_stack_bytes = K_THREAD_STACK_SIZEOF(var##_stack),                            \
		.priv_register = true,                                                             \
	}

#ifdef __cplusplus
}
#endif

#endif /* DISPATCHER_MODULE_H */
