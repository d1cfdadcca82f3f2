/*
 * A log backend that formats every message (immediate mode: in the caller's context, so the
 * boot hook's lines are here by the time the tests run) into a buffer the tests search.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <string.h>

#include <zephyr/kernel.h>
#include <zephyr/logging/log_backend.h>
#include <zephyr/logging/log_output.h>

#include "psram_test.h"

static char captured[4096];
static size_t captured_len;

static int capture_out(uint8_t *data, size_t length, void *ctx)
{
	size_t room = sizeof(captured) - 1 - captured_len;
	size_t n = MIN(length, room);

	ARG_UNUSED(ctx);
	memcpy(&captured[captured_len], data, n);
	captured_len += n;
	captured[captured_len] = '\0';
	return (int)length; /* consumed, kept or not */
}

static uint8_t capture_fmt_buf[128];
LOG_OUTPUT_DEFINE(capture_output, capture_out, capture_fmt_buf, sizeof(capture_fmt_buf));

static void capture_process(const struct log_backend *const backend, union log_msg_generic *msg)
{
	ARG_UNUSED(backend);
	log_output_msg_process(&capture_output, &msg->log, LOG_OUTPUT_FLAG_LEVEL);
}

static void capture_panic(const struct log_backend *const backend)
{
	ARG_UNUSED(backend);
}

static const struct log_backend_api capture_api = {
	.process = capture_process,
	.panic = capture_panic,
};

LOG_BACKEND_DEFINE(log_capture, capture_api, true);

bool log_has_line(const char *a, const char *b)
{
	const char *line = captured;

	while (*line != '\0') {
		const char *end = strchr(line, '\n');
		size_t len = end != NULL ? (size_t)(end - line) : strlen(line);
		const char *pa = strstr(line, a);
		const char *pb = strstr(line, b);

		if (pa != NULL && pb != NULL && pa < line + len && pb < line + len) {
			return true;
		}
		line += len + (end != NULL ? 1 : 0);
	}
	return false;
}
