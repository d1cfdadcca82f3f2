/*
 * dispatcher_os.h (private): the little the dispatcher layer needs from the OS besides the
 * library's port (dispatcher_pool_port.h): a mutex, logging, and a small queue for the self
 * test. Zephyr (__ZEPHYR__) or POSIX (the host tests, with port/posix).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef DISPATCHER_OS_H
#define DISPATCHER_OS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __ZEPHYR__

#include <zephyr/kernel.h>
#include <zephyr/logging/log.h>

#define DISPATCHER_OS_LOG_REGISTER() LOG_MODULE_REGISTER(dispatcher, CONFIG_DISPATCHER_POOL_LOG_LEVEL)
#define DISPATCHER_OS_LOG_DECLARE()  LOG_MODULE_DECLARE(dispatcher, CONFIG_DISPATCHER_POOL_LOG_LEVEL)
#define DLOG_ERR(...) LOG_ERR(__VA_ARGS__)
#define DLOG_WRN(...) LOG_WRN(__VA_ARGS__)
#define DLOG_INF(...) LOG_INF(__VA_ARGS__)
#define DLOG_DBG(...) LOG_DBG(__VA_ARGS__)

/* A mutex with priority inheritance: a low-priority producer never holds up control for long. */
#define DISPATCHER_OS_MUTEX_DEFINE(name) static K_MUTEX_DEFINE(name)
#define dispatcher_os_lock(m)   ((void)k_mutex_lock((m), K_FOREVER))
#define dispatcher_os_unlock(m) ((void)k_mutex_unlock(m))
/* Let any other thread run, lower priorities included. */
#define dispatcher_os_pause()   ((void)k_msleep(1))

/* Defines `static struct k_msgq name` of `depth` pointer items. */
#define DISPATCHER_OS_PTR_QUEUE_DEFINE(name, depth)                                                 \
	K_MSGQ_DEFINE(name, sizeof(void *), depth, sizeof(void *))

#else /* POSIX */

#include <pthread.h>
#include <sched.h>
#include <stdio.h>

#include "dispatcher_pool_posix.h"

/* Expand to a harmless declaration, so that `DISPATCHER_OS_LOG_REGISTER();` is valid ISO C. */
#define DISPATCHER_OS_LOG_REGISTER() extern int dispatcher_os_log_unused
#define DISPATCHER_OS_LOG_DECLARE()  extern int dispatcher_os_log_unused
#define DISPATCHER_PRIV_LOG(lvl, ...)                                                              \
	do {                                                                                       \
		fprintf(stderr, "<" lvl "> dispatcher: " __VA_ARGS__);                             \
		fputc('\n', stderr);                                                               \
	} while (0)
#define DLOG_ERR(...) DISPATCHER_PRIV_LOG("err", __VA_ARGS__)
#define DLOG_WRN(...) DISPATCHER_PRIV_LOG("wrn", __VA_ARGS__)
#define DLOG_INF(...) DISPATCHER_PRIV_LOG("inf", __VA_ARGS__)
#define DLOG_DBG(...) ((void)0)

#define DISPATCHER_OS_MUTEX_DEFINE(name) static pthread_mutex_t name = PTHREAD_MUTEX_INITIALIZER
#define dispatcher_os_lock(m)   ((void)pthread_mutex_lock(m))
#define dispatcher_os_unlock(m) ((void)pthread_mutex_unlock(m))
#define dispatcher_os_pause()   ((void)sched_yield())

#endif

#endif /* DISPATCHER_OS_H */
