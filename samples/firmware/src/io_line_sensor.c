/*
 * io_line_sensor.c: the line sensor (firmware: the line-sensor GPIO module and
 * mod_line_sensor_window.c). Every 5 ms it sends a small frame to TARGET_LOG from the
 * streaming pool: 1 byte per edge seen (1 to 3, the edge's position), followed every fifth
 * step by the 16-byte window of the last samples. A frame the pool has no room for is
 * dropped and counted after a short wait (3 ms) for a free entry.
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

LOG_MODULE_REGISTER(io_line_sensor, LOG_LEVEL_INF);

#define LINE_SENSOR_STEP_MS 5
#define LINE_WINDOW_LEN     16

static void line_sensor_step_frame(void);

static dispatcher_module_t line_sensor_mod = {
	.name = "io_line_sensor",
	.target = TARGET_LINE_SENSOR,
	.queue_len = 2,
	.stack_size = 1024,
	.task_prio = 6,
	.process_msg = NULL,
	.step_frame = line_sensor_step_frame,
	.step_ms = LINE_SENSOR_STEP_MS,
	.queue = NULL,
};

static struct stream_producer_counters cnt;
static uint32_t steps;

void io_line_sensor_init(void)
{
	if (dispatcher_module_start(&line_sensor_mod) != 0) {
		LOG_ERR("Failed to start dispatcher module for io_line_sensor");
	}
}

static void line_sensor_step_frame(void)
{
	if (!fw_is_running()) {
		return;
	}
	uint8_t frame[3 + LINE_WINDOW_LEN];
	size_t len = 0;
	uint32_t edges = 1 + steps % 3;

	for (uint32_t i = 0; i < edges; i++) {
		frame[len++] = (uint8_t)((steps + i * 5) & 0x3f); /* edge position */
	}
	if (steps % 5 == 0) {
		for (uint32_t i = 0; i < LINE_WINDOW_LEN; i++) {
			frame[len++] = (uint8_t)(steps + i);
		}
	}
	steps++;

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
	msg->source = SOURCE_LINE_SENSOR;
	dispatcher_fill_targets(msg->targets);
	msg->targets[0] = TARGET_LOG;
	msg->context = NULL;
	memcpy(msg->data, frame, len);
	msg->message_len = len;
	if (dispatcher_broadcast_ptr(pmsg, msg->targets) > 0) {
		cnt.sent++;
	} else {
		cnt.dropped++;
	}
}

void io_line_sensor_counters(struct stream_producer_counters *out)
{
	*out = cnt;
}
