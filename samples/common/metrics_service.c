/*
 * metrics_service: the HTTP service `metrics_service` and its GET /api/metrics dynamic
 * resource (pool_stats_json or msg_pool_stats_json_all), plus a socket client for it.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <zephyr/kernel.h>
#include <zephyr/net/http/server.h>
#include <zephyr/net/http/service.h>
#include <zephyr/net/socket.h>
#include <zephyr/sys/printk.h>

#include "metrics_service.h"

static char metrics_json[CONFIG_APP_METRICS_JSON_SIZE];
static atomic_t metrics_requests;

/* What the handler reports; metrics_lock also serialises the use of metrics_json. */
static K_MUTEX_DEFINE(metrics_lock);
static enum metrics_scope metrics_scope;
static msg_target_t *const *metrics_targets;
static size_t metrics_n_targets;

static int metrics_write(void)
{
	if (metrics_scope == METRICS_ALL_POOLS) {
		return msg_pool_stats_json_all(metrics_json, sizeof(metrics_json), metrics_targets,
					       metrics_n_targets);
	}
	return pool_stats_json(metrics_json, sizeof(metrics_json), metrics_targets,
			       metrics_n_targets);
}

/* ---- GET /api/metrics: a dynamic resource ------------------------------------------------- */
static int metrics_handler(struct http_client_ctx *client, enum http_data_status status,
			   const struct http_request_ctx *request_ctx,
			   struct http_response_ctx *response_ctx, void *user_data)
{
	ARG_UNUSED(client);
	ARG_UNUSED(request_ctx);
	ARG_UNUSED(user_data);

	if (status != HTTP_SERVER_DATA_FINAL) {
		return 0; /* a GET has no body: answer once the request is complete */
	}
	/* The HTTP server calls handlers from its one thread and sends this body before it
	 * calls one again, so metrics_json is free here; the lock keeps the targets from
	 * changing while they are written.
	 */
	k_mutex_lock(&metrics_lock, K_FOREVER);
	int n = metrics_write();

	k_mutex_unlock(&metrics_lock);
	if (n < 0) {
		n = snprintf(metrics_json, sizeof(metrics_json), "{\"error\":%d}", n);
		response_ctx->status = HTTP_500_INTERNAL_SERVER_ERROR;
	}
	atomic_inc(&metrics_requests);
	response_ctx->body = (const uint8_t *)metrics_json;
	response_ctx->body_len = n;
	response_ctx->final_chunk = true;
	return 0;
}

static struct http_resource_detail_dynamic metrics_detail = {
	.common = {
		.type = HTTP_RESOURCE_TYPE_DYNAMIC,
		.bitmask_of_supported_http_methods = BIT(HTTP_GET),
		.content_type = "application/json",
	},
	.cb = metrics_handler,
	.user_data = NULL,
};

static uint16_t metrics_port = CONFIG_APP_HTTP_PORT;
/* Bound to CONFIG_APP_HTTP_BIND_ADDR ("127.0.0.1" on native_sim, "0.0.0.0" = any otherwise). */
HTTP_SERVICE_DEFINE(metrics_service, CONFIG_APP_HTTP_BIND_ADDR, &metrics_port,
		    CONFIG_HTTP_SERVER_MAX_CLIENTS, 4, NULL, NULL);
HTTP_RESOURCE_DEFINE(metrics_resource, metrics_service, "/api/metrics", &metrics_detail);

void metrics_service_set_targets(msg_target_t *const *targets, size_t n_targets)
{
	k_mutex_lock(&metrics_lock, K_FOREVER);
	metrics_targets = targets;
	metrics_n_targets = n_targets;
	k_mutex_unlock(&metrics_lock);
}

int metrics_service_start(enum metrics_scope scope, msg_target_t *const *targets,
			  size_t n_targets)
{
	k_mutex_lock(&metrics_lock, K_FOREVER);
	metrics_scope = scope;
	k_mutex_unlock(&metrics_lock);
	metrics_service_set_targets(targets, n_targets);
	return http_server_start();
}

long metrics_service_requests(void)
{
	return atomic_get(&metrics_requests);
}

const char *metrics_service_client_addr(void)
{
	return strcmp(CONFIG_APP_HTTP_BIND_ADDR, "0.0.0.0") == 0 ? "127.0.0.1"
								: CONFIG_APP_HTTP_BIND_ADDR;
}

/* ---- a client: GET /api/metrics over a socket --------------------------------------------- */
int metrics_service_fetch(char *reply, size_t len)
{
	struct sockaddr_in addr = {
		.sin_family = AF_INET,
		.sin_port = htons(CONFIG_APP_HTTP_PORT),
	};
	static const char request[] = "GET /api/metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n"
				      "Connection: close\r\n\r\n";
	const char *host = metrics_service_client_addr();
	size_t got = 0;
	int sock, rc;

	if (reply == NULL || len == 0) {
		return -EINVAL;
	}
	if (zsock_inet_pton(AF_INET, host, &addr.sin_addr) != 1) {
		printk("metrics client: %s is not an IPv4 address\n", host);
		return -EINVAL;
	}
	sock = zsock_socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
	if (sock < 0) {
		printk("metrics client: socket() failed: %d\n", -errno);
		return -errno;
	}
	rc = zsock_connect(sock, (struct sockaddr *)&addr, sizeof(addr));
	if (rc < 0) {
		rc = -errno;
		printk("metrics client: connect(%s:%d) failed: %d\n", host, CONFIG_APP_HTTP_PORT,
		       rc);
		zsock_close(sock);
		return rc;
	}
	if (zsock_send(sock, request, sizeof(request) - 1, 0) < 0) {
		rc = -errno;
		zsock_close(sock);
		return rc;
	}
	while (got < len - 1) {
		ssize_t n = zsock_recv(sock, reply + got, len - 1 - got, 0);

		if (n <= 0) {
			break;
		}
		got += n;
	}
	reply[got] = '\0';
	zsock_close(sock);
	return (int)got;
}
