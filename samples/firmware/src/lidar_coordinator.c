/*
 * lidar_coordinator.c: the LIDAR coordinator (firmware: main/plugins/RPLIDAR/lidar_coordinator.c).
 * Its own queue registered under TARGET_LIDAR_COORD, its own thread receiving raw entries
 * (k_msgq_get, dispatcher_pool_get_msg_const, dispatcher_pool_msg_unref). Where the firmware
 * parses the RPLIDAR protocol, this one checks every chunk from SOURCE_LIDAR_IO: whole, the
 * next sequence number, the counter pattern; a chunk that is not is counted as corrupt.
 *
 * Dispatcher calls as in the firmware; OS calls are Zephyr's (K_MSGQ_DEFINE for xQueueCreate,
 * k_msgq_get for xQueueReceive, k_thread_create for xTaskCreate).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <zephyr/kernel.h>
#include <zephyr/logging/log.h>

#include "dispatcher.h"
#include "dispatcher_pool.h"
#include "firmware.h"

LOG_MODULE_REGISTER(lidar_coordinator, LOG_LEVEL_INF);

#define LIDAR_TASK_PRIORITY 6

K_MSGQ_DEFINE(lidar_ptr_queue, sizeof(pool_msg_t *), FW_COORD_QUEUE_LEN, sizeof(void *));
K_THREAD_STACK_DEFINE(lidar_task_stack, FW_THREAD_STACK);
static struct k_thread lidar_task_thread;

static struct coord_counters cnt;

static void lidar_task(void *a, void *b, void *c);

void lidar_coordinator_init(void)
{
	if (dispatcher_register_ptr_queue(TARGET_LIDAR_COORD, &lidar_ptr_queue) != 0) {
		LOG_ERR("Failed to register the LIDAR coordinator's queue");
		return;
	}
	k_thread_create(&lidar_task_thread, lidar_task_stack, K_THREAD_STACK_SIZEOF(lidar_task_stack),
			lidar_task, NULL, NULL, NULL, LIDAR_TASK_PRIORITY, 0, K_NO_WAIT);
	k_thread_name_set(&lidar_task_thread, "lidar_task");
}

static void lidar_task(void *a, void *b, void *c)
{
	ARG_UNUSED(a);
	ARG_UNUSED(b);
	ARG_UNUSED(c);

	while (1) {
		pool_msg_t *pmsg = NULL;

		if (k_msgq_get(&lidar_ptr_queue, &pmsg, K_FOREVER) != 0) {
			continue;
		}
		const dispatcher_msg_ptr_t *in = dispatcher_pool_get_msg_const(pmsg);

		if (!in) {
			dispatcher_pool_msg_unref(pmsg);
			continue;
		}
		switch (in->source) {
		case SOURCE_LIDAR_IO:
			/* Chunks arrive in order, none missing (this queue never refuses one). */
			if (!lidar_chunk_ok(in->data, in->message_len, cnt.chunks)) {
				if (cnt.corrupt == 0) {
					LOG_ERR("chunk %u: corrupt or out of sequence (len %u)",
						cnt.chunks, in->message_len);
				}
				cnt.corrupt++;
			}
			cnt.chunks++;
			break;
		default:
			cnt.other++;
			break;
		}
		dispatcher_pool_msg_unref(pmsg);
	}
}

void lidar_coordinator_counters(struct coord_counters *out)
{
	*out = cnt;
}
