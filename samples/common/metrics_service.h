/*
 * metrics_service: GET /api/metrics over Zephyr's HTTP server, shared by samples/metrics_http
 * and samples/firmware. Include samples/common/metrics_service.cmake from the sample's
 * CMakeLists.txt and rsource samples/common/Kconfig.metrics_service from its Kconfig.
 *
 * The HTTP service is named `metrics_service` and listens on
 * CONFIG_APP_HTTP_BIND_ADDR:CONFIG_APP_HTTP_PORT. A sample may add its own resources to it
 * with HTTP_RESOURCE_DEFINE(<name>, metrics_service, "<path>", &<detail>).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef SAMPLES_COMMON_METRICS_SERVICE_H
#define SAMPLES_COMMON_METRICS_SERVICE_H

#include <stddef.h>

#include <msg_pool.h>

/** What GET /api/metrics answers with. */
enum metrics_scope {
	/** pool_stats_json(): the default pool's object with the targets inside it. */
	METRICS_DEFAULT_POOL,
	/** msg_pool_stats_json_all(): {"pools":[every created pool],"targets":[...]}. */
	METRICS_ALL_POOLS,
};

/**
 * Sets what /api/metrics reports and starts Zephyr's HTTP server (http_server_start()).
 * `targets` (`n_targets` of them, at most 32) must stay valid until
 * metrics_service_set_targets() replaces them. Returns 0 or what http_server_start() returns.
 */
int metrics_service_start(enum metrics_scope scope, msg_target_t *const *targets,
			  size_t n_targets);

/**
 * Replaces the reported targets (e.g. with 0 targets before they are unregistered). Waits
 * for an answer being written to finish.
 */
void metrics_service_set_targets(msg_target_t *const *targets, size_t n_targets);

/** How many /api/metrics requests have been answered. */
long metrics_service_requests(void);

/** Where a client on this device reaches the server: the bind address, or 127.0.0.1 for any. */
const char *metrics_service_client_addr(void);

/**
 * One `GET /api/metrics` (Connection: close) from this device to
 * metrics_service_client_addr():CONFIG_APP_HTTP_PORT over a socket (the host's loopback with
 * native offloaded sockets, Zephyr's loopback interface otherwise). The raw reply (status
 * line, headers, chunked body) is written to `reply`, NUL-terminated and cut at `len` - 1
 * bytes. Returns the bytes received or a negative errno.
 */
int metrics_service_fetch(char *reply, size_t len);

#endif
