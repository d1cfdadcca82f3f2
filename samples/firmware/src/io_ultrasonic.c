/*
 * io_ultrasonic.c: the ultrasonic range finder (firmware: main/plugins/io_ultrasonic.c).
 * At 5 Hz it sends the distance in mm (2 bytes, little endian) to TARGET_LOG from the
 * streaming pool; a reading the pool has no room for within 3 ms is dropped and counted.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <string.h>

#include <zephyr/kernel.h>
#include <zephyr/logging/log.h>

#include "dispatcher.h"
#include "dispatcher_module.h"
#include "dispatcher_pool.h"
#include "firmware.h"

#define SENSOR_ALLOC_WAIT_MS 3

LOG_MODULE_REGISTER(io_ultrasonic, LOG_LEVEL_INF);

static void ultrasonic_step_frame(void);

static dispatcher_module_t ultrasonic_mod = {
	.name = "io_ultrasonic",
	.target = TARGET_ULTRASONIC,
	.queue_len = 2,
	.stack_size = 1024,
	.task_prio = 7,
	.process_msg = NULL,
	.step_frame = ultrasonic_step_frame,
	.step_ms = 200,
	.queue = NULL,
};

static struct stream_producer_counters cnt;

void io_ultrasonic_init(void)
{
	if (dispatcher_module_start(&ultrasonic_mod) != 0) {
		LOG_ERR("Failed to start dispatcher module for io_ultrasonic");
	}
}

static void ultrasonic_step_frame(void)
{
	if (!fw_is_running()) {
		return;
	}
	/* Simulated echo: 300 mm to 1300 mm and back. */
	uint32_t mm = 300 + (cnt.sent + cnt.dropped) * 50 % 1000;
	uint8_t payload[2] = {(uint8_t)mm, (uint8_t)(mm >> 8)};

	/*
	 * Not dispatcher_pool_send_ptr_params (which never waits): the LIDAR flood takes every
	 * free streaming entry, so wait up to SENSOR_ALLOC_WAIT_MS for one. A freed entry goes to
	 * the highest-priority waiter, this module, before the low-priority flood can take it.
	 */
	pool_msg_t *pmsg = dispatcher_pool_alloc_blocking(DISPATCHER_POOL_STREAMING, SENSOR_ALLOC_WAIT_MS);
	if (!pmsg) {
		cnt.dropped++;
		return;
	}
	dispatcher_msg_ptr_t *msg = dispatcher_pool_get_msg(pmsg);
	msg->source = SOURCE_ULTRASONIC;
	dispatcher_fill_targets(msg->targets);
	msg->targets[0] = TARGET_LOG;
	msg->context = NULL;
	memcpy(msg->data, payload, sizeof(payload));
	msg->message_len = sizeof(payload);
	if (dispatcher_broadcast_ptr(pmsg, msg->targets) > 0) {
		cnt.sent++;
	} else {
		cnt.dropped++;
	}
}

void io_ultrasonic_counters(struct stream_producer_counters *out)
{
	*out = cnt;
}
