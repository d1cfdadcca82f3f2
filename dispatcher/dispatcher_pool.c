/*
 * dispatcher_pool.c: the streaming and control pools of dispatcher_pool.h, sized at build time
 * with the firmware's heuristic, its send helper, stats line and self test. Portable: the
 * library's C API, and dispatcher_os.h.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <errno.h>
#include <string.h>

#include "dispatcher.h"
#include "dispatcher_os.h"
#include "dispatcher_pool.h"
#include "dispatcher_private.h"
#ifdef __ZEPHYR__
#include "dispatcher_pool_zephyr.h"
#endif

DISPATCHER_OS_LOG_DECLARE();

/* The five fields per pool: Kconfig on Zephyr; the firmware's repository defaults elsewhere. */
#ifndef CONFIG_DISPATCHER_STREAMING_FANOUT_PERMILLE
#define CONFIG_DISPATCHER_STREAMING_FANOUT_PERMILLE 250
#define CONFIG_DISPATCHER_STREAMING_CONCURRENCY     4
#define CONFIG_DISPATCHER_STREAMING_PAYLOAD_SIZE    64
#define CONFIG_DISPATCHER_STREAMING_MIN_ENTRIES     16
#define CONFIG_DISPATCHER_STREAMING_MAX_ENTRIES     512
#endif
#ifndef CONFIG_DISPATCHER_CONTROL_FANOUT_PERMILLE
#define CONFIG_DISPATCHER_CONTROL_FANOUT_PERMILLE 100
#define CONFIG_DISPATCHER_CONTROL_CONCURRENCY     1
#define CONFIG_DISPATCHER_CONTROL_PAYLOAD_SIZE    256
#define CONFIG_DISPATCHER_CONTROL_MIN_ENTRIES     4
#define CONFIG_DISPATCHER_CONTROL_MAX_ENTRIES     64
#endif

#define STREAMING_ENTRIES                                                                          \
	DISPATCHER_POOL_ENTRIES_CLAMP(TARGET_MAX, CONFIG_DISPATCHER_STREAMING_FANOUT_PERMILLE,      \
				      CONFIG_DISPATCHER_STREAMING_CONCURRENCY,                     \
				      CONFIG_DISPATCHER_STREAMING_MIN_ENTRIES,                     \
				      CONFIG_DISPATCHER_STREAMING_MAX_ENTRIES)
#define CONTROL_ENTRIES                                                                            \
	DISPATCHER_POOL_ENTRIES_CLAMP(TARGET_MAX, CONFIG_DISPATCHER_CONTROL_FANOUT_PERMILLE,        \
				      CONFIG_DISPATCHER_CONTROL_CONCURRENCY,                       \
				      CONFIG_DISPATCHER_CONTROL_MIN_ENTRIES,                       \
				      CONFIG_DISPATCHER_CONTROL_MAX_ENTRIES)

_Static_assert(CONFIG_DISPATCHER_STREAMING_PAYLOAD_SIZE <= BUF_SIZE &&
		       CONFIG_DISPATCHER_CONTROL_PAYLOAD_SIZE <= BUF_SIZE,
	       "a dispatcher pool's payload exceeds BUF_SIZE (CONFIG_DISPATCHER_POOL_PAYLOAD_SIZE)");
_Static_assert(CONFIG_DISPATCHER_STREAMING_MIN_ENTRIES <= CONFIG_DISPATCHER_STREAMING_MAX_ENTRIES &&
		       CONFIG_DISPATCHER_CONTROL_MIN_ENTRIES <= CONFIG_DISPATCHER_CONTROL_MAX_ENTRIES,
	       "a dispatcher pool's MIN_ENTRIES exceeds its MAX_ENTRIES");

#ifdef __ZEPHYR__
/* Created at boot by the module's hook, like every DISPATCHER_POOL_DEFINE. */
#ifdef CONFIG_DISPATCHER_STREAMING_PSRAM
DISPATCHER_PRIV_POOL_DEFINE_PSRAM(dispatcher_pool_streaming, "streaming", STREAMING_ENTRIES,
				  CONFIG_DISPATCHER_STREAMING_PAYLOAD_SIZE, 0, true);
#else
DISPATCHER_PRIV_POOL_DEFINE_INTERNAL(dispatcher_pool_streaming, "streaming", STREAMING_ENTRIES,
				     CONFIG_DISPATCHER_STREAMING_PAYLOAD_SIZE, 0, true);
#endif
DISPATCHER_PRIV_POOL_DEFINE_INTERNAL(dispatcher_pool_control, "control", CONTROL_ENTRIES,
				     CONFIG_DISPATCHER_CONTROL_PAYLOAD_SIZE, 0, true);
#else
/* POSIX: the same memory, created by dispatcher_pool_init(). */
#define DP_PRIV_POSIX_POOL(var, name_str, entries_, payload_)                                      \
	static struct dispatcher_posix_sem var##_sem = DISPATCHER_POSIX_SEM_INITIALIZER;           \
	static struct pool_msg_t var##_descs[entries_];                                            \
	static _Alignas(dispatcher_msg_t) unsigned char                                            \
		var##_region[(entries_) * DISPATCHER_POOL_STRIDE(payload_)];                       \
	static struct msg_pool var = {                                                             \
		.name = name_str,                                                                  \
		.config = {(entries_), (payload_), 0},                                             \
		.descs = var##_descs,                                                              \
		.n_descs = (entries_),                                                             \
		.region = var##_region,                                                            \
		.region_bytes = sizeof(var##_region),                                              \
		.sem = &var##_sem,                                                                 \
		.placement = "static",                                                             \
	}
DP_PRIV_POSIX_POOL(dispatcher_pool_streaming, "streaming", STREAMING_ENTRIES,
		   CONFIG_DISPATCHER_STREAMING_PAYLOAD_SIZE);
DP_PRIV_POSIX_POOL(dispatcher_pool_control, "control", CONTROL_ENTRIES,
		   CONFIG_DISPATCHER_CONTROL_PAYLOAD_SIZE);
#endif

static struct msg_pool *const pools[DISPATCHER_POOL_TYPE_COUNT] = {
	[DISPATCHER_POOL_STREAMING] = &dispatcher_pool_streaming,
	[DISPATCHER_POOL_CONTROL] = &dispatcher_pool_control,
};

static uint32_t truncations[DISPATCHER_POOL_TYPE_COUNT];

struct msg_pool *dispatcher_pool_get(dispatcher_pool_type_t type)
{
	return (unsigned int)type < DISPATCHER_POOL_TYPE_COUNT ? pools[type] : NULL;
}

void dispatcher_priv_count_truncation(dispatcher_pool_type_t type)
{
	if ((unsigned int)type < DISPATCHER_POOL_TYPE_COUNT) {
		__atomic_fetch_add(&truncations[type], 1, __ATOMIC_RELAXED);
	}
}

uint32_t dispatcher_pool_truncations(dispatcher_pool_type_t type)
{
	return (unsigned int)type < DISPATCHER_POOL_TYPE_COUNT
		       ? __atomic_load_n(&truncations[type], __ATOMIC_RELAXED)
		       : 0;
}

int dispatcher_pool_init(void)
{
	int first = 0;

	for (int i = 0; i < DISPATCHER_POOL_TYPE_COUNT; i++) {
		int rc = msg_pool_init(pools[i]);

		if (rc == -EALREADY) {
			continue; /* created at boot, or by an earlier call */
		}
		if (rc != 0) {
			DLOG_ERR("%s pool: not created (%d)", pools[i]->name, rc);
			if (first == 0) {
				first = rc;
			}
			continue;
		}
		DLOG_INF("%s pool: %u entries x %u B payload, %s", pools[i]->name,
			 (unsigned int)pools[i]->config.entries,
			 (unsigned int)pools[i]->config.payload_size, pools[i]->placement);
	}
	return first;
}

pool_msg_t *dispatcher_pool_try_alloc(dispatcher_pool_type_t type)
{
	struct msg_pool *p = dispatcher_pool_get(type);

	return p != NULL ? msg_pool_try_alloc(p) : NULL;
}

pool_msg_t *dispatcher_pool_alloc_blocking(dispatcher_pool_type_t type, uint32_t timeout_ms)
{
	struct msg_pool *p = dispatcher_pool_get(type);
	int32_t t;

	if (p == NULL) {
		return NULL;
	}
	if (timeout_ms == UINT32_MAX) {
		t = -1; /* forever */
	} else if (timeout_ms > (uint32_t)INT32_MAX) {
		t = INT32_MAX;
	} else {
		t = (int32_t)timeout_ms;
	}
	return msg_pool_alloc_blocking(p, t);
}

void dispatcher_pool_msg_ref(pool_msg_t *msg)
{
	int rc = msg_ref(msg);

	if (rc != 0) {
		DLOG_WRN("msg_ref(%p) refused: %d", (void *)msg, rc);
	}
}

void dispatcher_pool_msg_unref(pool_msg_t *msg)
{
	int rc = msg_unref(msg);

	if (rc != 0) {
		DLOG_WRN("msg_unref(%p) refused: %d", (void *)msg, rc);
	}
}

dispatcher_msg_ptr_t *dispatcher_pool_get_msg(pool_msg_t *msg)
{
	/* NULL, foreign, misaligned and free entries: NULL (checked before any access). */
	return (dispatcher_msg_ptr_t *)(void *)msg_message(msg);
}

const dispatcher_msg_ptr_t *dispatcher_pool_get_msg_const(const pool_msg_t *msg)
{
	return (const dispatcher_msg_ptr_t *)(const void *)msg_message(msg);
}

size_t dispatcher_pool_payload_size(dispatcher_pool_type_t type)
{
	struct msg_pool *p = dispatcher_pool_get(type);

	return p != NULL ? p->config.payload_size : 0;
}

pool_msg_t *dispatcher_pool_send_ptr_params(const dispatcher_pool_send_params_t *params)
{
	if (params == NULL || params->source > SOURCE_UNDEFINED) {
		return NULL;
	}
	pool_msg_t *p = dispatcher_pool_try_alloc(params->type);

	if (p == NULL) {
		DLOG_DBG("%s: pool empty, not sent",
			 (unsigned int)params->source < TARGET_MAX ? source_names[params->source]
								    : "SOURCE_UNDEFINED");
		return NULL;
	}
	dispatcher_msg_t *m = p->msg;
	size_t room = dispatcher_pool_payload_size(params->type);
	size_t len = params->data != NULL ? params->data_len : 0;

	if (len > room) {
		len = room;
		dispatcher_priv_count_truncation(params->type);
	}
	m->source = (uint16_t)params->source;
	m->context = params->context;
	memset(m->targets, TARGET_MAX, sizeof(m->targets));
	if (params->targets != NULL) {
		dispatcher_priv_ids_from_targets(params->targets, m->targets);
	}
	m->n_targets = TARGET_MAX;
	if (len > 0) {
		memcpy(m->data, params->data, len);
	}
	m->message_len = (uint32_t)len;
	(void)dispatcher_broadcast_ptr_u8(p, m->targets);
	return p;
}

pool_msg_t *dispatcher_pool_send_ptr(dispatcher_pool_type_t type, dispatch_source_t source,
				     const dispatch_target_t *targets, const uint8_t *data,
				     size_t data_len, void *context)
{
	const dispatcher_pool_send_params_t params = {
		.type = type,
		.source = source,
		.targets = targets,
		.data = data,
		.data_len = data_len,
		.context = context,
	};

	return dispatcher_pool_send_ptr_params(&params);
}

void dispatcher_pool_log_stats(void)
{
	for (int i = 0; i < DISPATCHER_POOL_TYPE_COUNT; i++) {
		struct pool_stats s;
		int rc = msg_pool_stats(pools[i], &s);

		if (rc != 0) {
			DLOG_WRN("%s pool: no stats (%d)", pools[i]->name, rc);
			continue;
		}
		DLOG_INF("%s pool stats: total=%u in_use=%u max_in_use=%u alloc_failures=%u "
			 "drops=%u enqueue_failures=%u truncated=%u invalid_unrefs=%u",
			 pools[i]->name, s.pool_total, s.pool_in_use, s.high_water,
			 s.pool_alloc_failures, s.pool_drop_count, s.enqueue_failures,
			 dispatcher_pool_truncations((dispatcher_pool_type_t)i), s.invalid_unrefs);
	}
}

/* One pool's round trip through a private queue. 0, 1 (skipped: pool empty) or -errno. */
static int self_test_pool(struct msg_pool *pool, struct k_msgq *q)
{
	static const uint8_t pattern[16] = {0xA5, 0x5A, 0x00, 0xFF, 1, 2, 3, 4,
					    5, 6, 7, 8, 0xC3, 0x3C, 0x81, 0x18};
	msg_target_t t;
	pool_msg_t *p = msg_pool_try_alloc(pool);
	pool_msg_t *r = NULL;
	size_t len = pool->config.payload_size < sizeof(pattern) ? pool->config.payload_size
								  : sizeof(pattern);
	int rc;

	if (p == NULL) {
		return 1;
	}
	memset(&t, 0, sizeof(t));
	rc = msg_target_init(&t, q, DISPATCH_MODE_POINTER, POOL_HOLDER_NONE - 1);
	if (rc != 0) {
		(void)msg_unref(p);
		return rc;
	}
	(void)msg_target_purge(&t); /* the private queue starts empty */
	memcpy(p->msg->data, pattern, len);
	p->msg->message_len = (uint32_t)len;
	msg_target_t *list[1] = {&t};

	rc = msg_broadcast(p, list, 1);
	if (rc != 1) {
		return rc < 0 ? rc : -EIO;
	}
	rc = msg_receive(&t, 0, &r, NULL);
	if (rc != 0) {
		(void)msg_target_purge(&t); /* nothing stays behind in the private queue */
		return rc;
	}
	rc = (r == p && r->msg->message_len == len && memcmp(r->msg->data, pattern, len) == 0 &&
	      ((dispatcher_msg_ptr_t *)(void *)r->msg)->data == r->msg->data)
		     ? 0
		     : -EIO;
	int urc = msg_unref(r);

	return rc != 0 ? rc : urc;
}

#ifdef __ZEPHYR__
DISPATCHER_OS_PTR_QUEUE_DEFINE(dispatcher_self_test_q, 2);

static struct k_msgq *self_test_queue(void)
{
	return &dispatcher_self_test_q;
}
#else
static struct k_msgq dispatcher_self_test_q;
static pthread_once_t self_test_once = PTHREAD_ONCE_INIT;

static void self_test_queue_init(void)
{
	(void)dispatcher_posix_msgq_init(&dispatcher_self_test_q, sizeof(void *), 2);
}

static struct k_msgq *self_test_queue(void)
{
	(void)pthread_once(&self_test_once, self_test_queue_init);
	return &dispatcher_self_test_q;
}
#endif

int dispatcher_pool_self_test_run(void)
{
	static int running;
	int first = 0;
	struct k_msgq *q = self_test_queue();

	/* One self test at a time: they share the queue. */
	if (__atomic_exchange_n(&running, 1, __ATOMIC_ACQUIRE) != 0) {
		return -EBUSY;
	}

	for (int i = 0; i < DISPATCHER_POOL_TYPE_COUNT; i++) {
		int rc = self_test_pool(pools[i], q);

		if (rc == 1) {
			DLOG_WRN("self test %s pool: SKIP (empty)", pools[i]->name);
		} else if (rc == 0) {
			DLOG_INF("self test %s pool: PASS", pools[i]->name);
		} else {
			DLOG_ERR("self test %s pool: FAIL (%d)", pools[i]->name, rc);
			if (first == 0) {
				first = rc;
			}
		}
	}
	__atomic_store_n(&running, 0, __ATOMIC_RELEASE);
	return first;
}

void dispatcher_pool_self_test(void)
{
	(void)dispatcher_pool_self_test_run();
}
