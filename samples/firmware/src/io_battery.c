/*
 * io_battery.c: the battery module (firmware: main/plugins/io_battery.c). Every step_ms
 * (500 ms at boot) it reads the (simulated) fuel gauge and sends a 5-byte RGB tier to
 * TARGET_RGB and TARGET_SSE_STATUS from the control pool; BATTERY_CMD_SET_INTERVAL_MS (sent
 * once by the REST module) changes its own step_ms while it runs.
 *
 * Dispatcher calls as in the firmware; only the OS calls are Zephyr's (LOG_* for ESP_LOG*,
 * 0 for pdTRUE, k_uptime_get for the fuel gauge's clock).
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
#include "io_battery.h"

LOG_MODULE_REGISTER(io_battery, LOG_LEVEL_INF);

#define BATTERY_CHECK_INTERVAL_MS 500

static void battery_process_msg(const dispatcher_msg_t *msg);
static void battery_step_frame(void);

/* Module instance (file-scope) used by the module thread */
static dispatcher_module_t battery_mod = {
	.name = "io_battery",
	.target = TARGET_BATTERY,
	.queue_len = 4,
	.stack_size = 1024,
	.task_prio = 4,
	.process_msg = battery_process_msg,
	.step_frame = battery_step_frame,
	.step_ms = BATTERY_CHECK_INTERVAL_MS,
	.queue = NULL,
};

static struct battery_counters cnt;
static int64_t last_step_ms = -1;

static void battery_send_notice(const char *txt)
{
	dispatch_target_t targets[TARGET_MAX];
	dispatcher_fill_targets(targets);
	targets[0] = TARGET_LOG;
	dispatcher_pool_send_params_t params = {
		.type = DISPATCHER_POOL_CONTROL,
		.source = SOURCE_BATTERY,
		.targets = targets,
		.data = (const uint8_t *)txt,
		.data_len = strlen(txt),
		.context = NULL,
	};
	if (dispatcher_pool_send_ptr_params(&params) != NULL) {
		cnt.notices_sent++;
	} else {
		cnt.send_failures++;
	}
}

static void battery_process_msg(const dispatcher_msg_t *msg)
{
	if (!msg) {
		return;
	}
	if (msg->message_len < 1) {
		LOG_WRN("battery_process_msg: empty message");
		return;
	}
	cnt.commands++;

	uint8_t cmd = msg->data[0];
	switch ((battery_cmd_t)cmd) {
	case BATTERY_CMD_NONE:
		break;
	case BATTERY_CMD_SET_INTERVAL_MS: {
		if (msg->message_len >= 5) {
			/* little-endian decode from data[1..4] */
			uint32_t v = (uint32_t)msg->data[1] | ((uint32_t)msg->data[2] << 8) |
				     ((uint32_t)msg->data[3] << 16) | ((uint32_t)msg->data[4] << 24);
			LOG_INF("Received BATTERY_CMD_SET_INTERVAL_MS=%u ms", (unsigned int)v);
			/* Apply to module timing */
			battery_mod.step_ms = v;
			battery_send_notice("Battery interval changed");
		} else {
			LOG_WRN("BATTERY_CMD_SET_INTERVAL_MS payload too short");
		}
		break;
	}
	default:
		LOG_WRN("Unknown battery cmd: %d", cmd);
		break;
	}
}

void io_battery_init(void)
{
	if (dispatcher_module_start(&battery_mod) != 0) {
		LOG_ERR("Failed to start dispatcher module for io_battery");
		return;
	}
}

static void battery_step_frame(void)
{
	if (!fw_is_running()) {
		return;
	}
	int64_t now = k_uptime_get();

	cnt.steps++;
	if (last_step_ms >= 0) {
		/* The period this step came after: 500 ms at boot, 100 ms after the command. */
		int64_t period = now - last_step_ms;

		if (period >= 400 && period <= 600) {
			cnt.slow_steps++;
		} else if (period >= 80 && period <= 120) {
			cnt.fast_steps++;
		}
	}
	last_step_ms = now;

	/* Simulated fuel gauge: 4.10 V falling 1 mV per step, no VBUS. */
	uint32_t mv = 4100u - (cnt.steps % 800u);
	uint8_t rgb_payload[BATTERY_STATUS_LEN] = {0};

	rgb_payload[0] = mv >= 3600 ? 2 : 3; /* plugin: breathe, or fire when low */
	rgb_payload[1] = 88;                 /* h */
	rgb_payload[2] = 255;                /* s */
	rgb_payload[3] = (uint8_t)(mv / 20); /* v */
	rgb_payload[4] = 255;                /* brightness */

	dispatch_target_t rgb_targets[TARGET_MAX];
	dispatcher_fill_targets(rgb_targets);
	rgb_targets[0] = TARGET_RGB;
	rgb_targets[1] = TARGET_SSE_STATUS;
	dispatcher_pool_send_params_t params = {
		.type = DISPATCHER_POOL_CONTROL,
		.source = SOURCE_BATTERY,
		.targets = rgb_targets,
		.data = rgb_payload,
		.data_len = sizeof(rgb_payload),
		.context = NULL,
	};
	if (dispatcher_pool_send_ptr_params(&params) != NULL) {
		cnt.status_sent++;
	} else {
		cnt.send_failures++;
	}
}

void io_battery_counters(struct battery_counters *out)
{
	*out = cnt;
	out->step_ms = battery_mod.step_ms;
}
