/*
 * rest_context.h: a REST request carried in msg->context (firmware:
 * main/plugins/wifi/rest_context.h). The REST thread owns it (on its stack) and waits on
 * `sem`; the module fills json_buf and *json_len, then gives `sem`. Only the semaphore type
 * differs from the firmware (struct k_sem * for SemaphoreHandle_t).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef REST_CONTEXT_H
#define REST_CONTEXT_H

#include <stddef.h>

#include <zephyr/kernel.h>

typedef struct {
	char *json_buf;      /* Buffer for JSON output */
	size_t buf_size;     /* Size of the buffer */
	size_t *json_len;    /* Pointer to store actual JSON length */
	struct k_sem *sem;   /* Semaphore for notification */
	void *user_data;     /* Optional: module-specific data or callback */
} rest_json_request_t;

#endif /* REST_CONTEXT_H */
