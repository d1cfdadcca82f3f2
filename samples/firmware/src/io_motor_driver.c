/*
 * io_motor_driver.c: the motor driver (firmware: the MOTOR_DRIVER module). Every 250 ms it
 * sends the LIDAR motor's 2-byte PWM command to TARGET_LIDAR_IO from the control pool.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <zephyr/kernel.h>
#include <zephyr/logging/log.h>

#include "dispatcher.h"
#include "dispatcher_module.h"
#include "dispatcher_pool.h"
#include "firmware.h"
#include "io_lidar.h"

LOG_MODULE_REGISTER(io_motor_driver, LOG_LEVEL_INF);

static void motor_step_frame(void);

static dispatcher_module_t motor_mod = {
	.name = "io_motor_driver",
	.target = TARGET_MOTOR_DRIVER,
	.queue_len = 2,
	.stack_size = 1024,
	.task_prio = 5,
	.process_msg = NULL,
	.step_frame = motor_step_frame,
	.step_ms = 250,
	.queue = NULL,
};

static struct motor_counters cnt;

void io_motor_driver_init(void)
{
	if (dispatcher_module_start(&motor_mod) != 0) {
		LOG_ERR("Failed to start dispatcher module for io_motor_driver");
	}
}

static void motor_step_frame(void)
{
	if (!fw_is_running()) {
		return;
	}
	/* Ramp the duty 160..255 and back. */
	uint8_t cmd[LIDAR_MOTOR_CMD_LEN] = {LIDAR_MOTOR_CMD_PWM, (uint8_t)(160 + (cnt.sent * 8) % 96)};

	dispatch_target_t targets[TARGET_MAX];
	dispatcher_fill_targets(targets);
	targets[0] = TARGET_LIDAR_IO;
	dispatcher_pool_send_params_t params = {
		.type = DISPATCHER_POOL_CONTROL,
		.source = SOURCE_MOTOR_DRIVER,
		.targets = targets,
		.data = cmd,
		.data_len = sizeof(cmd),
		.context = NULL,
	};
	if (dispatcher_pool_send_ptr_params(&params) != NULL) {
		cnt.sent++;
	} else {
		cnt.send_failures++;
	}
}

void io_motor_driver_counters(struct motor_counters *out)
{
	*out = cnt;
}
