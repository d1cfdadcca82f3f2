/*
 * metrics_http: the default dispatcher pool's metrics as JSON (pool_stats_json) at GET /api/metrics,
 * served by Zephyr's HTTP server while traffic flows, and a small dashboard at GET /.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdio.h>
#include <string.h>

#include <zephyr/kernel.h>
#include <zephyr/net/http/server.h>
#include <zephyr/net/http/service.h>
#include <zephyr/net/socket.h>
#include <zephyr/sys/printk.h>

#include <msg_pool.h>
#include <dispatcher_pool_zephyr.h>

#include "traffic.h"

/* ---- GET /api/metrics: a dynamic resource ------------------------------------------------- */
static char metrics_json[1024];
static atomic_t metrics_requests;

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
	/* The HTTP server runs one handler at a time per resource; metrics_json is only used here
	 * and by the self-test's print (after the response has been received).
	 */
	int n = pool_stats_json(metrics_json, sizeof(metrics_json), traffic_targets,
				TRAFFIC_TARGETS);

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

/* ---- GET /: the dashboard (src/index.html) ------------------------------------------------ */
static const uint8_t index_html[] = {
#include "index.html.inc"
};

static struct http_resource_detail_static index_detail = {
	.common = {
		.type = HTTP_RESOURCE_TYPE_STATIC,
		.bitmask_of_supported_http_methods = BIT(HTTP_GET),
		.content_type = "text/html",
	},
	.static_data = index_html,
	.static_data_len = sizeof(index_html),
};

static uint16_t metrics_port = CONFIG_APP_HTTP_PORT;
/* Bound to CONFIG_APP_HTTP_BIND_ADDR ("127.0.0.1" on native_sim, "0.0.0.0" = any otherwise). */
HTTP_SERVICE_DEFINE(metrics_service, CONFIG_APP_HTTP_BIND_ADDR, &metrics_port,
		    CONFIG_HTTP_SERVER_MAX_CLIENTS, 4, NULL, NULL);
HTTP_RESOURCE_DEFINE(metrics_resource, metrics_service, "/api/metrics", &metrics_detail);
HTTP_RESOURCE_DEFINE(index_resource, metrics_service, "/", &index_detail);

/* ---- self-test: GET /api/metrics over a socket -------------------------------------------- */
/* Where a client on this device reaches the server: the bind address, or loopback for any. */
static const char *client_addr(void)
{
	return strcmp(CONFIG_APP_HTTP_BIND_ADDR, "0.0.0.0") == 0 ? "127.0.0.1"
								: CONFIG_APP_HTTP_BIND_ADDR;
}

#ifdef CONFIG_APP_SELF_TEST
static char reply[1536];

static int self_test(void)
{
	struct sockaddr_in addr = {
		.sin_family = AF_INET,
		.sin_port = htons(CONFIG_APP_HTTP_PORT),
	};
	static const char request[] = "GET /api/metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n"
				      "Connection: close\r\n\r\n";
	size_t got = 0;
	int sock, rc;

	if (zsock_inet_pton(AF_INET, client_addr(), &addr.sin_addr) != 1) {
		printk("self-test: %s is not an IPv4 address\n", client_addr());
		return -EINVAL;
	}
	sock = zsock_socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
	if (sock < 0) {
		printk("self-test: socket() failed: %d\n", -errno);
		return -errno;
	}
	rc = zsock_connect(sock, (struct sockaddr *)&addr, sizeof(addr));
	if (rc < 0) {
		rc = -errno;
		printk("self-test: connect(%s:%d) failed: %d\n", client_addr(), CONFIG_APP_HTTP_PORT,
		       rc);
		zsock_close(sock);
		return rc;
	}
	if (zsock_send(sock, request, sizeof(request) - 1, 0) < 0) {
		rc = -errno;
		zsock_close(sock);
		return rc;
	}
	for (;;) {
		ssize_t n = zsock_recv(sock, reply + got, sizeof(reply) - 1 - got, 0);

		if (n <= 0) {
			break;
		}
		got += n;
		if (got == sizeof(reply) - 1) {
			break;
		}
	}
	reply[got] = '\0';
	zsock_close(sock);

	/* The server answers with chunked transfer encoding: the JSON is the chunk's data. */
	const char *body = strstr(reply, "\r\n\r\n");
	const char *json = body != NULL ? strstr(body, "{\"name\":\"default\",\"pool_total\":") : NULL;
	const char *end = json != NULL ? strstr(json, "]}") : NULL;
	bool ok = strncmp(reply, "HTTP/1.1 200", 12) == 0 && strstr(reply, "application/json") &&
		  json != NULL && end != NULL;

	printk("self-test: GET /api/metrics -> %.12s, %zu bytes\n", reply, got);
	if (ok) {
		/* Longer than one console line: print it in pieces. */
		size_t len = (size_t)(end + 2 - json);

		printk("self-test: JSON (%zu bytes):\n", len);
		for (size_t off = 0; off < len; off += 100) {
			printk("  %.*s\n", (int)MIN(100, len - off), json + off);
		}
	}
	return ok ? 0 : -EIO;
}
#endif

int main(void)
{
	int rc;

	printk("metrics_http: %s\n", CONFIG_BOARD_TARGET);
	rc = dispatcher_pool_boot_status();
	if (rc != 0) {
		printk("ERROR: boot-time pool_init failed: %d\n", rc);
		return 0;
	}
	rc = traffic_start();
	if (rc != 0) {
		return 0;
	}
	rc = http_server_start();
	if (rc != 0) {
		printk("ERROR: http_server_start failed: %d\n", rc);
		return 0;
	}
	printk("metrics_http: bound to %s:%d, up to %d clients at once\n", CONFIG_APP_HTTP_BIND_ADDR,
	       CONFIG_APP_HTTP_PORT, CONFIG_HTTP_SERVER_MAX_CLIENTS);
	printk("metrics_http: serving http://%s:%d/api/metrics and / (dashboard)\n", client_addr(),
	       CONFIG_APP_HTTP_PORT);

#ifdef CONFIG_APP_SELF_TEST
	k_msleep(500); /* traffic flows, the server thread is listening */
	rc = self_test();
	struct pool_stats s;

	if (pool_stats(&s) != 0) {
		memset(&s, 0, sizeof(s));
	}
	printk("SUMMARY metrics_http: self_test=%s requests=%ld broadcasts=%u in_use=%u/%u "
	       "errors=%ld\n",
	       rc == 0 ? "ok" : "FAILED", atomic_get(&metrics_requests), s.broadcasts,
	       s.pool_in_use, s.pool_total, traffic_errors());
#endif
	/* Keep serving (main returns; the HTTP server and traffic threads keep running). */
	return 0;
}
