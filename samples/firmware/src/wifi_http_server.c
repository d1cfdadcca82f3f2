/*
 * wifi_http_server.c: the REST side of the firmware's web server
 * (firmware: main/plugins/wifi/wifi_http_server.c), without HTTP. A thread plays the GET
 * handler: every 100 ms it builds a rest_json_request_t on its stack (a semaphore, a JSON
 * buffer, a length), hands it to TARGET_RGB in msg->context of a control-pool message
 * (dispatch_from_rest, as in the firmware) and waits up to 200 ms on the semaphore for RGB to
 * fill the reply. Once, at 1 s, it sends a command with data instead: BATTERY_CMD_SET_INTERVAL_MS
 * (100 ms) to TARGET_BATTERY.
 *
 * The request lives on this thread's stack, so after a timeout the thread waits for the late
 * reply (up to 1 s more) before the frame is reused: RGB must never write into a dead request.
 *
 * Dispatcher calls as in the firmware; OS calls are Zephyr's (k_sem for the FreeRTOS
 * semaphore, k_msleep for vTaskDelay).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <errno.h>
#include <string.h>

#include <zephyr/kernel.h>
#include <zephyr/logging/log.h>

#include "dispatcher.h"
#include "dispatcher_pool.h"
#include "firmware.h"
#include "io_battery.h"
#include "rest_context.h"

LOG_MODULE_REGISTER(wifi_http_server, LOG_LEVEL_INF);

#define REST_PRIO          2
#define REST_PERIOD_MS     100
#define REST_TIMEOUT_MS    200
#define REST_LATE_WAIT_MS  1000
#define REST_COMMAND_AT_MS 1000
#define REST_JSON_LEN      96

K_THREAD_STACK_DEFINE(rest_stack, FW_THREAD_STACK);
static struct k_thread rest_thread;

static struct rest_counters cnt;

/*
 * The firmware's dispatch_from_rest: a request (data is a rest_json_request_t) goes by
 * context, anything else is copied as a command. Gives the request's semaphore itself when
 * the message went nowhere, so the caller never waits for nothing.
 */
static int dispatch_from_rest(dispatch_target_t target, const void *data, size_t len)
{
	if (dispatcher_has_ptr_queue(target)) {
		pool_msg_t *pmsg = dispatcher_pool_try_alloc(DISPATCHER_POOL_CONTROL);
		if (!pmsg) {
			if (len == sizeof(rest_json_request_t)) {
				rest_json_request_t *req_ctx = (rest_json_request_t *)data;
				if (req_ctx->sem) {
					k_sem_give(req_ctx->sem);
				}
			}
			return -ENOMEM;
		}

		dispatcher_msg_ptr_t *msg = dispatcher_pool_get_msg(pmsg);
		if (!msg || !msg->data) {
			dispatcher_pool_msg_unref(pmsg);
			return -EIO;
		}

		msg->source = SOURCE_REST;
		dispatcher_fill_targets(msg->targets);
		msg->targets[0] = target;

		if (len == sizeof(rest_json_request_t)) {
			msg->context = (void *)data;
			msg->message_len = 0;
		} else {
			size_t max_len = dispatcher_pool_payload_size(DISPATCHER_POOL_CONTROL);
			size_t copy_len = len > max_len ? max_len : len;
			memcpy(msg->data, data, copy_len);
			msg->message_len = copy_len;
			msg->context = NULL;
		}

		int sent = dispatcher_broadcast_ptr(pmsg, msg->targets);
		if (sent <= 0 && len == sizeof(rest_json_request_t)) {
			rest_json_request_t *req_ctx = (rest_json_request_t *)data;
			if (req_ctx->sem) {
				k_sem_give(req_ctx->sem);
			}
		}
		return sent > 0 ? 0 : -EIO;
	}

	LOG_WRN("dispatch_from_rest: target %d has no pointer queue; dropping", (int)target);
	if (len == sizeof(rest_json_request_t)) {
		rest_json_request_t *req_ctx = (rest_json_request_t *)data;
		if (req_ctx->sem) {
			k_sem_give(req_ctx->sem);
		}
	}
	return -ENODEV;
}

/* GET /api/rgb: one request to RGB, waiting for its reply. */
static void json_get_rgb(void)
{
	char json_buf[REST_JSON_LEN];
	size_t json_len = 0;
	struct k_sem sem;

	k_sem_init(&sem, 0, 1);
	rest_json_request_t rest_ctx = {
		.json_buf = json_buf,
		.buf_size = sizeof(json_buf),
		.json_len = &json_len,
		.sem = &sem,
		.user_data = NULL,
	};

	if (dispatch_from_rest(TARGET_RGB, &rest_ctx, sizeof(rest_ctx)) != 0) {
		cnt.request_failures++;
		return;
	}
	cnt.requests++;
	if (k_sem_take(&sem, K_MSEC(REST_TIMEOUT_MS)) != 0) {
		cnt.timeouts++;
		/* RGB still holds a pointer to rest_ctx: let it answer before the frame goes. */
		(void)k_sem_take(&sem, K_MSEC(REST_LATE_WAIT_MS));
		return;
	}
	if (json_len == 0 || json_buf[0] != '{' || json_buf[json_len - 1] != '}' ||
	    strstr(json_buf, "\"frames\":") == NULL) {
		cnt.bad_replies++;
		return;
	}
	cnt.replies++;
}

/* POST /api/battery: the interval command, data by copy. */
static void post_battery_interval(uint32_t ms)
{
	uint8_t cmd[5] = {BATTERY_CMD_SET_INTERVAL_MS, (uint8_t)ms, (uint8_t)(ms >> 8),
			  (uint8_t)(ms >> 16), (uint8_t)(ms >> 24)};

	if (dispatch_from_rest(TARGET_BATTERY, cmd, sizeof(cmd)) == 0) {
		cnt.commands_sent++;
	} else {
		cnt.command_failures++;
	}
}

static void rest_task(void *a, void *b, void *c)
{
	ARG_UNUSED(a);
	ARG_UNUSED(b);
	ARG_UNUSED(c);
	bool command_sent = false;
	int64_t next = k_uptime_get();

	while (fw_is_running()) {
		if (!command_sent && k_uptime_get() >= REST_COMMAND_AT_MS) {
			post_battery_interval(100);
			command_sent = true;
		}
		json_get_rgb();
		next += REST_PERIOD_MS;
		int64_t wait = next - k_uptime_get();

		if (wait > 0) {
			k_msleep((int32_t)wait);
		}
	}
}

void wifi_http_server_init(void)
{
	k_thread_create(&rest_thread, rest_stack, K_THREAD_STACK_SIZEOF(rest_stack), rest_task,
			NULL, NULL, NULL, REST_PRIO, 0, K_NO_WAIT);
	k_thread_name_set(&rest_thread, "rest");
}

int wifi_http_server_join(k_timeout_t timeout)
{
	return k_thread_join(&rest_thread, timeout);
}

void wifi_http_server_counters(struct rest_counters *out)
{
	*out = cnt;
}
