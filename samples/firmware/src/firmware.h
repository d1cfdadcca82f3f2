/*
 * firmware.h: what the modules of this sample share besides the dispatcher headers: the run
 * flag, the queue depths, each module's init and counters, and the LIDAR chunk format.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef FIRMWARE_H
#define FIRMWARE_H

#include <stdbool.h>
#include <stdint.h>

#include <zephyr/kernel.h>

#include "dispatcher.h"

/* Producers run while this is set; main clears it after the run. */
extern atomic_t fw_running;

static inline bool fw_is_running(void)
{
	return atomic_get(&fw_running) != 0;
}

/*
 * Queue depths. A queue that can be reached by every entry of a pool is at least that pool's
 * entries deep (MAX_ENTRIES bounds the entries), so it never refuses a put: an overflow
 * shows up as an empty pool at the producer (a counted drop), never as a full queue, and the
 * control messages sharing the SSE and log queues with the streaming flood are never lost.
 */
#define FW_STREAMING_MAX CONFIG_DISPATCHER_STREAMING_MAX_ENTRIES
#define FW_CONTROL_MAX   CONFIG_DISPATCHER_CONTROL_MAX_ENTRIES
/* SSE: battery status (control), LIDAR chunks (streaming), log lines (control). */
#define FW_SSE_QUEUE_LEN   (FW_STREAMING_MAX + FW_CONTROL_MAX)
/* Log: line sensor and ultrasonic frames (streaming), battery notices (control). */
#define FW_LOG_QUEUE_LEN   (FW_STREAMING_MAX + FW_CONTROL_MAX)
/* LIDAR coordinator: LIDAR chunks (streaming). */
#define FW_COORD_QUEUE_LEN FW_STREAMING_MAX
/* RGB: battery status and REST requests; LIDAR IO: motor commands (control). */
#define FW_RGB_QUEUE_LEN   FW_CONTROL_MAX
#define FW_LIDAR_QUEUE_LEN FW_CONTROL_MAX

/* Stack of the threads the modules create themselves (as the firmware's xTaskCreate). */
#define FW_THREAD_STACK 1024

/*
 * A LIDAR chunk: BUF_SIZE bytes, the sequence number (little endian) in bytes 0..3, then
 * byte i = (uint8_t)(seq * 7 + i). The sequence number grows only when a chunk is sent, so
 * every receiver must see 0, 1, 2, ... with no gap.
 */
#define LIDAR_CHUNK_LEN BUF_SIZE

static inline void lidar_chunk_fill(uint8_t *buf, uint32_t seq)
{
	buf[0] = (uint8_t)seq;
	buf[1] = (uint8_t)(seq >> 8);
	buf[2] = (uint8_t)(seq >> 16);
	buf[3] = (uint8_t)(seq >> 24);
	for (uint32_t i = 4; i < LIDAR_CHUNK_LEN; i++) {
		buf[i] = (uint8_t)(seq * 7u + i);
	}
}

/* True when `data` is chunk `expect_seq`, whole. */
static inline bool lidar_chunk_ok(const uint8_t *data, uint32_t len, uint32_t expect_seq)
{
	if (data == NULL || len != LIDAR_CHUNK_LEN) {
		return false;
	}
	uint32_t seq = (uint32_t)data[0] | ((uint32_t)data[1] << 8) | ((uint32_t)data[2] << 16) |
		       ((uint32_t)data[3] << 24);

	if (seq != expect_seq) {
		return false;
	}
	for (uint32_t i = 4; i < LIDAR_CHUNK_LEN; i++) {
		if (data[i] != (uint8_t)(seq * 7u + i)) {
			return false;
		}
	}
	return true;
}

/* ---- Modules: init (as the firmware's io_*_init) and counters for the final report ---- */

struct battery_counters {
	uint32_t steps, slow_steps, fast_steps, status_sent, notices_sent, send_failures;
	uint32_t commands, step_ms;
};
void io_battery_init(void);
void io_battery_counters(struct battery_counters *out);

struct rgb_counters {
	uint32_t steps, battery_msgs, rest_requests, rest_commands, bad_msgs;
};
void io_rgb_init(void);
void io_rgb_counters(struct rgb_counters *out);

struct lidar_counters {
	uint32_t chunks_sent, chunks_dropped, motor_cmds, bad_cmds;
};
void io_lidar_init(void);
/* Waits (up to timeout) for the producer thread to leave once fw_running is cleared. */
int io_lidar_join(k_timeout_t timeout);
void io_lidar_counters(struct lidar_counters *out);

struct coord_counters {
	uint32_t chunks, corrupt, other;
};
void lidar_coordinator_init(void);
void lidar_coordinator_counters(struct coord_counters *out);

struct stream_producer_counters {
	uint32_t sent, dropped;
};
void io_line_sensor_init(void);
void io_line_sensor_counters(struct stream_producer_counters *out);
void io_ultrasonic_init(void);
void io_ultrasonic_counters(struct stream_producer_counters *out);

struct motor_counters {
	uint32_t sent, send_failures;
};
void io_motor_driver_init(void);
void io_motor_driver_counters(struct motor_counters *out);

struct log_counters {
	uint32_t per_source[SOURCE_UNDEFINED + 1];
	uint32_t bad_frames, lines_sent, send_failures;
};
void io_log_init(void);
void io_log_counters(struct log_counters *out);

struct rest_counters {
	uint32_t requests, replies, timeouts, bad_replies, request_failures;
	uint32_t commands_sent, command_failures;
};
void wifi_http_server_init(void);
int wifi_http_server_join(k_timeout_t timeout);
void wifi_http_server_counters(struct rest_counters *out);

/* Per SSE id: index 0 TARGET_SSE_STATUS, 1 TARGET_SSE_LIDAR, 2 TARGET_SSE_LOG. */
#define SSE_IDS 3
struct sse_counters {
	uint32_t per_id[SSE_IDS];
	uint32_t lidar_corrupt, unknown;
};
void wifi_sse_init(void);
void wifi_sse_counters(struct sse_counters *out);

#endif /* FIRMWARE_H */
