/*
 * metrics_http: the default dispatcher pool's metrics as JSON (pool_stats_json) at GET /api/metrics,
 * served by Zephyr's HTTP server while traffic flows (samples/common/metrics_service.c), and a
 * small dashboard at GET /.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <string.h>

#include <zephyr/kernel.h>
#include <zephyr/net/http/server.h>
#include <zephyr/net/http/service.h>
#include <zephyr/sys/printk.h>

#include <msg_pool.h>
#include <dispatcher_pool_zephyr.h>

#include "metrics_service.h"
#include "traffic.h"

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

/* On the shared service (samples/common/metrics_service.c, which serves /api/metrics). */
HTTP_RESOURCE_DEFINE(index_resource, metrics_service, "/", &index_detail);

/* ---- self-test: GET /api/metrics over a socket -------------------------------------------- */
#ifdef CONFIG_APP_SELF_TEST
static char reply[1536];

static int self_test(void)
{
	int got = metrics_service_fetch(reply, sizeof(reply));

	if (got < 0) {
		return got;
	}
	/* The server answers with chunked transfer encoding: the JSON is the chunk's data. */
	const char *body = strstr(reply, "\r\n\r\n");
	const char *json = body != NULL ? strstr(body, "{\"name\":\"default\",\"pool_total\":") : NULL;
	const char *end = json != NULL ? strstr(json, "]}") : NULL;
	bool ok = strncmp(reply, "HTTP/1.1 200", 12) == 0 && strstr(reply, "application/json") &&
		  json != NULL && end != NULL;

	printk("self-test: GET /api/metrics -> %.12s, %d bytes\n", reply, got);
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
	rc = metrics_service_start(METRICS_DEFAULT_POOL, traffic_targets, TRAFFIC_TARGETS);
	if (rc != 0) {
		printk("ERROR: http_server_start failed: %d\n", rc);
		return 0;
	}
	printk("metrics_http: bound to %s:%d, up to %d clients at once\n", CONFIG_APP_HTTP_BIND_ADDR,
	       CONFIG_APP_HTTP_PORT, CONFIG_HTTP_SERVER_MAX_CLIENTS);
	printk("metrics_http: serving http://%s:%d/api/metrics and / (dashboard)\n",
	       metrics_service_client_addr(), CONFIG_APP_HTTP_PORT);

#ifdef CONFIG_APP_SELF_TEST
	k_msleep(500); /* traffic flows, the server thread is listening */
	rc = self_test();
	struct pool_stats s;

	if (pool_stats(&s) != 0) {
		memset(&s, 0, sizeof(s));
	}
	printk("SUMMARY metrics_http: self_test=%s requests=%ld broadcasts=%u in_use=%u/%u "
	       "errors=%ld\n",
	       rc == 0 ? "ok" : "FAILED", metrics_service_requests(), s.broadcasts, s.pool_in_use,
	       s.pool_total, traffic_errors());
#endif
	/* Keep serving (main returns; the HTTP server and traffic threads keep running). */
	return 0;
}
