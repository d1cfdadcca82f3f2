/*
 * io_lidar.h: what other modules send to TARGET_LIDAR_IO: a 2-byte motor command
 * (LIDAR_MOTOR_CMD_PWM, duty 0..255), written to the LIDAR's UART by io_lidar's TX thread.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef IO_LIDAR_H
#define IO_LIDAR_H

#define LIDAR_MOTOR_CMD_PWM 0xF0
#define LIDAR_MOTOR_CMD_LEN 2

#endif /* IO_LIDAR_H */
