/*
 * wifi_sse.c: the server-sent-events module (firmware: main/plugins/wifi/wifi_sse.c). ONE
 * queue registered under THREE ids: TARGET_SSE_STATUS (battery status), TARGET_SSE_LIDAR
 * (LIDAR chunks) and TARGET_SSE_LOG (log lines), as the firmware registers its module queue
 * under TARGET_SSE, TARGET_SSE_CONSOLE and TARGET_SSE_LINE_SENSOR. Its own thread receives raw
 * entries (k_msgq_get, dispatcher_pool_get_msg_const, dispatcher_pool_msg_unref) and tells the
 * event streams apart by the SSE id in msg->targets[], counting per id.
 *
 * A LIDAR chunk is checked like the coordinator does, then "written" to the event stream:
 * the thread sleeps SSE_LIDAR_WRITE_MS holding the entry, as a socket write waits for the TCP
 * window. That makes it the slow consumer: its queue holds up to all the streaming entries
 * and the LIDAR flood finds the streaming pool empty.
 *
 * Dispatcher calls as in the firmware; OS calls are Zephyr's.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <zephyr/kernel.h>
#include <zephyr/logging/log.h>

#include "dispatcher.h"
#include "dispatcher_pool.h"
#include "firmware.h"

LOG_MODULE_REGISTER(wifi_sse, LOG_LEVEL_INF);

#define SSE_PRIO           8
#define SSE_LIDAR_WRITE_MS 2

K_MSGQ_DEFINE(sse_queue, sizeof(pool_msg_t *), FW_SSE_QUEUE_LEN, sizeof(void *));
K_THREAD_STACK_DEFINE(sse_stack, FW_THREAD_STACK);
static struct k_thread sse_thread;

static struct sse_counters cnt;
static uint32_t lidar_expect_seq;

static const char *sse_stream_name(int t)
{
	switch (t) {
	case TARGET_SSE_STATUS: return "status";
	case TARGET_SSE_LIDAR: return "lidar";
	case TARGET_SSE_LOG: return "log";
	default: return NULL;
	}
}

/* The SSE id this message was sent to (each sender addresses one), or -1. */
static int sse_id_of(const dispatcher_msg_ptr_t *msg)
{
	for (int i = 0; i < TARGET_MAX; ++i) {
		int t = msg->targets[i];
		if (t == TARGET_MAX) {
			continue; /* sentinel marking unused slot */
		}
		if (sse_stream_name(t) != NULL) {
			return t;
		}
	}
	return -1;
}

static void wifi_sse_task(void *a, void *b, void *c)
{
	ARG_UNUSED(a);
	ARG_UNUSED(b);
	ARG_UNUSED(c);

	while (1) {
		pool_msg_t *pmsg = NULL;

		if (k_msgq_get(&sse_queue, &pmsg, K_FOREVER) != 0) {
			continue;
		}
		const dispatcher_msg_ptr_t *msg = dispatcher_pool_get_msg_const(pmsg);
		int id = msg ? sse_id_of(msg) : -1;

		if (id < 0) {
			cnt.unknown++;
			dispatcher_pool_msg_unref(pmsg);
			continue;
		}
		cnt.per_id[id - TARGET_SSE_STATUS]++;
		if (id == TARGET_SSE_LIDAR) {
			if (!lidar_chunk_ok(msg->data, msg->message_len, lidar_expect_seq)) {
				cnt.lidar_corrupt++;
			}
			lidar_expect_seq++;
			k_msleep(SSE_LIDAR_WRITE_MS); /* "event: lidar" written to the socket */
		}
		dispatcher_pool_msg_unref(pmsg);
	}
}

void wifi_sse_init(void)
{
	/* One queue, three ids. */
	if (dispatcher_register_ptr_queue(TARGET_SSE_STATUS, &sse_queue) != 0 ||
	    dispatcher_register_ptr_queue(TARGET_SSE_LIDAR, &sse_queue) != 0 ||
	    dispatcher_register_ptr_queue(TARGET_SSE_LOG, &sse_queue) != 0) {
		LOG_ERR("Failed to register the SSE queue");
		return;
	}
	k_thread_create(&sse_thread, sse_stack, K_THREAD_STACK_SIZEOF(sse_stack), wifi_sse_task,
			NULL, NULL, NULL, SSE_PRIO, 0, K_NO_WAIT);
	k_thread_name_set(&sse_thread, "wifi_sse");
}

void wifi_sse_counters(struct sse_counters *out)
{
	*out = cnt;
}
