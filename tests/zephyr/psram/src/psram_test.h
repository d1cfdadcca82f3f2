/*
 * Shared pieces of the PSRAM suite: the buffer registered as the shared multi-heap's external
 * region (smh_region.c) and the captured log (log_capture.c).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef PSRAM_TEST_H
#define PSRAM_TEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "msg_pool.h"

/* Bytes of the default pool's message region (what the boot hook asks the heap for). */
#define DEFAULT_REGION_BYTES                                                                       \
	((size_t)CONFIG_DISPATCHER_POOL_ENTRIES *                                                  \
	 DISPATCHER_POOL_STRIDE(CONFIG_DISPATCHER_POOL_PAYLOAD_SIZE))

/* The static buffer standing in for PSRAM, and what registering it returned. */
extern uint8_t smh_buf[];
extern const size_t smh_buf_bytes;
extern int smh_add_rc;

/* True if [p, p + len) lies inside smh_buf. */
bool in_smh_buf(const void *p, size_t len);

/* True if one captured log line contains both a and b. */
bool log_has_line(const char *a, const char *b);

#endif /* PSRAM_TEST_H */
