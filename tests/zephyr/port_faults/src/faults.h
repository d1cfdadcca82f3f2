/*
 * Fault injection into the Zephyr OS port: each dispatcher_port_* call the Rust library makes,
 * and each k_msgq put and get (z_impl_k_msgq_put/get, which the library calls directly for
 * pointer items and the port for the rest), goes through a __wrap_ function (linker --wrap,
 * see CMakeLists.txt) that fails calls nth .. nth + count - 1 (counted from the arming) and
 * otherwise calls the real one.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef PORT_FAULTS_H
#define PORT_FAULTS_H

#include <stdint.h>

enum fault_point {
	FAULT_MSGQ_PUT,   /* k_msgq put returns -ENOMSG without putting */
	FAULT_MSGQ_GET,   /* k_msgq get returns -ENOMSG without taking the item */
	FAULT_SEM_TAKE,   /* returns false at once, without waiting */
	FAULT_SEM_GIVE,   /* the give is lost */
	FAULT_HEAP_NULL,  /* heap_alloc returns NULL */
	FAULT_HEAP_MISALIGNED, /* heap_alloc returns a block one byte off its alignment */
	FAULT_POINTS,
};

/* Fails calls nth .. nth + count - 1 of point p from now (nth >= 1); count 0 disarms. */
void fault_arm(enum fault_point p, uint32_t nth, uint32_t count);
/* Disarms every point and resets the call counts and the clock offset. */
void fault_reset(void);
/* Calls of point p since it was armed (or reset), and how many of them failed. */
uint32_t fault_calls(enum fault_point p);
uint32_t fault_hits(enum fault_point p);
/* dispatcher_port_now_ms() returns the real uptime plus this (wrapping). */
void fault_clock_offset(uint32_t offset);

#endif /* PORT_FAULTS_H */
