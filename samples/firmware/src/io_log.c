/*
 * io_log.c: the log module (firmware: main/plugins/io_log.c). Consumes what several modules
 * send to TARGET_LOG (line-sensor and ultrasonic frames from the streaming pool, battery
 * notices from the control pool) and counts them per source; once a second it sends a log
 * line to the web console, TARGET_SSE_LOG, from the control pool.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdio.h>

#include <zephyr/kernel.h>
#include <zephyr/logging/log.h>

#include "dispatcher.h"
#include "dispatcher_module.h"
#include "dispatcher_pool.h"
#include "firmware.h"

LOG_MODULE_REGISTER(io_log, LOG_LEVEL_INF);

static void io_log_process_msg(const dispatcher_msg_t *msg);
static void io_log_step_frame(void);

static dispatcher_module_t io_log_mod = {
	.name = "io_log",
	.target = TARGET_LOG,
	.queue_len = FW_LOG_QUEUE_LEN,
	.stack_size = 1024,
	.task_prio = 7,
	.process_msg = io_log_process_msg,
	.step_frame = io_log_step_frame,
	.step_ms = 1000,
	.queue = NULL,
};

static struct log_counters cnt;

void io_log_init(void)
{
	if (dispatcher_module_start(&io_log_mod) != 0) {
		LOG_ERR("Failed to start dispatcher module for io_log");
	}
}

static void io_log_process_msg(const dispatcher_msg_t *msg)
{
	if (!msg) {
		return;
	}
	unsigned int src = msg->source < SOURCE_UNDEFINED ? msg->source : SOURCE_UNDEFINED;
	bool ok;

	cnt.per_source[src]++;
	switch (msg->source) {
	case SOURCE_LINE_SENSOR:
		ok = msg->message_len >= 1 && msg->message_len <= 3 + 16;
		break;
	case SOURCE_ULTRASONIC:
		ok = msg->message_len == 2;
		break;
	case SOURCE_BATTERY:
		ok = msg->message_len > 0;
		break;
	default:
		ok = false;
		break;
	}
	if (!ok) {
		cnt.bad_frames++;
	}
}

static void io_log_step_frame(void)
{
	if (!fw_is_running()) {
		return;
	}
	char line[48];
	int n = snprintf(line, sizeof(line), "log: %u line, %u range, %u battery",
			 cnt.per_source[SOURCE_LINE_SENSOR], cnt.per_source[SOURCE_ULTRASONIC],
			 cnt.per_source[SOURCE_BATTERY]);

	dispatch_target_t targets[TARGET_MAX];
	dispatcher_fill_targets(targets);
	targets[0] = TARGET_SSE_LOG;
	dispatcher_pool_send_params_t params = {
		.type = DISPATCHER_POOL_CONTROL,
		.source = SOURCE_LOG,
		.targets = targets,
		.data = (const uint8_t *)line,
		.data_len = n > 0 ? (size_t)n : 0,
		.context = NULL,
	};
	if (dispatcher_pool_send_ptr_params(&params) != NULL) {
		cnt.lines_sent++;
	} else {
		cnt.send_failures++;
	}
}

void io_log_counters(struct log_counters *out)
{
	*out = cnt;
}
