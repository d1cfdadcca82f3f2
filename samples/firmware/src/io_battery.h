/*
 * io_battery.h: the battery module's commands (byte 0 of a message to TARGET_BATTERY), as in
 * the firmware's main/include/io_battery.h.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef IO_BATTERY_H
#define IO_BATTERY_H

typedef enum {
	BATTERY_CMD_NONE = 0,
	BATTERY_CMD_PAUSE,
	BATTERY_CMD_RESUME,
	BATTERY_CMD_OVERRIDE_PLUGIN,
	BATTERY_CMD_CLEAR_OVERRIDE,
	/* data[1..4]: the new step period in ms, little endian */
	BATTERY_CMD_SET_INTERVAL_MS,
} battery_cmd_t;

/* The 5-byte status the battery sends to RGB: plugin, h, s, v, brightness. */
#define BATTERY_STATUS_LEN 5

#endif /* IO_BATTERY_H */
