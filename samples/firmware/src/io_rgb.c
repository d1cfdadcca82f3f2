/*
 * io_rgb.c: the RGB module (firmware: main/plugins/io_rgb.c). A 33 ms animation step; takes
 * the battery's 5-byte tier (plugin, h, s, v, brightness) and answers REST requests: for a
 * message from SOURCE_REST with a context, it writes its state as JSON into the request and
 * gives the request's semaphore; a REST message without context is a command.
 *
 * Dispatcher calls as in the firmware; OS calls are Zephyr's (k_sem_give for xSemaphoreGive).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdio.h>
#include <string.h>

#include <zephyr/kernel.h>
#include <zephyr/logging/log.h>

#include "dispatcher.h"
#include "dispatcher_module.h"
#include "firmware.h"
#include "io_battery.h"
#include "rest_context.h"

LOG_MODULE_REGISTER(io_rgb, LOG_LEVEL_INF);

static void io_rgb_process_msg(const dispatcher_msg_t *msg);
static void io_rgb_step_frame(void);

static dispatcher_module_t io_rgb_mod = {
	.name = "io_rgb",
	.target = TARGET_RGB,
	.queue_len = FW_RGB_QUEUE_LEN,
	.stack_size = 1024,
	.task_prio = 3,
	.process_msg = io_rgb_process_msg,
	.step_frame = io_rgb_step_frame,
	.step_ms = 33,
	.queue = NULL,
};

static struct rgb_counters cnt;
/* The active tier, from the battery. */
static uint8_t tier[BATTERY_STATUS_LEN];
static uint8_t brightness_now;

void io_rgb_init(void)
{
	if (dispatcher_module_start(&io_rgb_mod) != 0) {
		LOG_ERR("Failed to start dispatcher module for io_rgb");
	}
}

static void io_rgb_generate_json(rest_json_request_t *req)
{
	int n = snprintf(req->json_buf, req->buf_size,
			 "{\"plugin\":%u,\"h\":%u,\"s\":%u,\"v\":%u,\"brightness\":%u,\"frames\":%u}",
			 tier[0], tier[1], tier[2], tier[3], tier[4], (unsigned int)cnt.steps);

	if (req->json_len) {
		*req->json_len = (n > 0 && (size_t)n < req->buf_size) ? (size_t)n : 0;
	}
}

static void io_rgb_process_msg(const dispatcher_msg_t *msg)
{
	if (!msg) {
		return;
	}
	switch (msg->source) {
	case SOURCE_BATTERY:
		if (msg->message_len == BATTERY_STATUS_LEN) {
			memcpy(tier, msg->data, BATTERY_STATUS_LEN);
			cnt.battery_msgs++;
		} else {
			cnt.bad_msgs++;
		}
		break;
	case SOURCE_REST:
		if (msg->context) {
			rest_json_request_t *req = (rest_json_request_t *)msg->context;

			io_rgb_generate_json(req);
			cnt.rest_requests++;
			k_sem_give(req->sem);
		} else {
			cnt.rest_commands++;
		}
		break;
	default:
		cnt.bad_msgs++;
		break;
	}
}

static void io_rgb_step_frame(void)
{
	/* The animation: brightness follows the tier's (no LEDs here). */
	cnt.steps++;
	if (brightness_now < tier[4]) {
		brightness_now++;
	} else if (brightness_now > tier[4]) {
		brightness_now--;
	}
}

void io_rgb_counters(struct rgb_counters *out)
{
	*out = cnt;
}
