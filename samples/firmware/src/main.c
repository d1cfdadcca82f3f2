/*
 * firmware: an application shaped like the firmware the dispatcher API comes from
 * (MiraFeatherbender/Unexpected_LIDAR_SeriesD, main/main.c): one file per module, its own
 * modules.def, the streaming and control pools, module threads with a periodic step, a REST
 * request answered through msg->context and an SSE module registered under three ids.
 *
 * main starts the modules, lets them run RUN_MS of (simulated) time, stops the producers,
 * lets the consumers drain, prints the pools' stats and JSON (what /api/metrics serves),
 * unregisters every queue (which purges what is left), and checks the modules' counters
 * against each other: every message sent was received by every module it was sent to.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdio.h>
#include <string.h>

#include <zephyr/kernel.h>
#include <zephyr/sys/printk.h>

#include "dispatcher.h"
#include "dispatcher_module.h"
#include "dispatcher_pool.h"
#include "firmware.h"

#ifdef CONFIG_ARCH_POSIX
#include <posix_board_if.h>
#endif
#ifdef CONFIG_APP_METRICS_HTTP
#include "metrics_service.h"
#endif

#define RUN_MS        3000
#define DRAIN_MAX_MS  2000
#define JSON_LINE_LEN 120

atomic_t fw_running = ATOMIC_INIT(1);

static char metrics_json[3072];
static bool pass = true;

static void check(bool ok, const char *what)
{
	if (!ok) {
		printk("CHECK FAILED: %s\n", what);
		pass = false;
	}
}

static void pool_stats_of(dispatcher_pool_type_t type, struct pool_stats *s)
{
	memset(s, 0, sizeof(*s));
	(void)msg_pool_stats(dispatcher_pool_get(type), s);
}

static uint32_t in_use_total(void)
{
	struct pool_stats a, b;

	pool_stats_of(DISPATCHER_POOL_STREAMING, &a);
	pool_stats_of(DISPATCHER_POOL_CONTROL, &b);
	return a.pool_in_use + b.pool_in_use;
}

static void print_pool(const char *name, const struct pool_stats *s)
{
	printk("pool %-9s total=%u payload=%u in_use=%u high_water=%u allocations=%u frees=%u\n",
	       name, s->pool_total, s->payload_size, s->pool_in_use, s->high_water, s->allocations,
	       s->frees);
	printk("pool %-9s alloc_failures=%u drops=%u enqueue_failures=%u purged=%u "
	       "invalid_unrefs=%u\n",
	       name, s->pool_alloc_failures, s->pool_drop_count, s->enqueue_failures, s->purged,
	       s->invalid_unrefs);
}

/* The dispatcher's registered targets (dispatcher_target(id) of every id that has a queue). */
static size_t registered_targets(msg_target_t *targets[TARGET_MAX])
{
	size_t n = 0;

	for (int i = 0; i < TARGET_MAX; i++) {
		msg_target_t *t = dispatcher_target((dispatch_target_t)i);

		if (t != NULL) {
			targets[n++] = t;
		}
	}
	return n;
}

/* What GET /api/metrics serves: every pool and every registered target. */
static void print_metrics_json(void)
{
	msg_target_t *targets[TARGET_MAX];
	size_t n = registered_targets(targets);
	int len = msg_pool_stats_json_all(metrics_json, sizeof(metrics_json), targets, n);

	if (len < 0) {
		printk("metrics: msg_pool_stats_json_all failed (%d)\n", len);
		check(false, "metrics JSON");
		return;
	}
	check(strstr(metrics_json, "\"streaming\"") != NULL &&
		      strstr(metrics_json, "\"control\"") != NULL,
	      "metrics JSON lists both pools");
	/* Console lines stay short (native_sim's console splits long ones): 120-byte pieces. */
	printk("metrics (GET /api/metrics, %d bytes, %zu targets), in pieces:\n", len, n);
	for (int off = 0; off < len; off += JSON_LINE_LEN) {
		printk("%.*s\n", MIN(JSON_LINE_LEN, len - off), metrics_json + off);
	}
}

#ifdef CONFIG_APP_METRICS_HTTP
/* The targets /api/metrics reports, from metrics_start() until before they are unregistered. */
static msg_target_t *metrics_targets[TARGET_MAX];
static char metrics_reply[CONFIG_APP_METRICS_JSON_SIZE + 512];

static void metrics_start(void)
{
	size_t n = registered_targets(metrics_targets);
	int rc = metrics_service_start(METRICS_ALL_POOLS, metrics_targets, n);

	printk("firmware: serving http://%s:%d/api/metrics (%zu targets): %d\n",
	       metrics_service_client_addr(), CONFIG_APP_HTTP_PORT, n, rc);
	check(rc == 0, "http_server_start");
}

/* One GET /api/metrics to this firmware's own server; both pools must be in the answer. */
static void metrics_fetch_check(void)
{
	int got = metrics_service_fetch(metrics_reply, sizeof(metrics_reply));
	const char *body = got > 0 ? strstr(metrics_reply, "\r\n\r\n") : NULL;
	const char *json = body != NULL ? strstr(body, "{\"pools\":[") : NULL;
	const char *end = json != NULL ? strrchr(json, '}') : NULL;
	bool ok = got > 0 && strncmp(metrics_reply, "HTTP/1.1 200", 12) == 0 &&
		  strstr(metrics_reply, "application/json") != NULL && end != NULL &&
		  strstr(json, "\"name\":\"streaming\"") != NULL &&
		  strstr(json, "\"name\":\"control\"") != NULL;

	printk("firmware: GET /api/metrics -> %.12s, %d bytes\n", got > 0 ? metrics_reply : "-",
	       got);
	check(ok, "GET /api/metrics lists both pools");
	if (!ok) {
		return;
	}
	/* The pools' names in the order listed, and the targets (each has an "id"). */
	char pools[64] = "";
	size_t used = 0;
	int targets = 0;

	for (const char *p = strstr(json, "\"name\":\""); p != NULL && p < end;
	     p = strstr(p, "\"name\":\"")) {
		p += strlen("\"name\":\"");
		const char *q = strchr(p, '"');

		if (q == NULL) {
			break;
		}
		used += snprintf(pools + used, sizeof(pools) - MIN(used, sizeof(pools)), "%s%.*s",
				 used > 0 ? "," : "", (int)(q - p), p);
		used = MIN(used, sizeof(pools) - 1);
	}
	for (const char *p = strstr(json, "\"id\":"); p != NULL && p < end;
	     p = strstr(p + 1, "\"id\":")) {
		targets++;
	}
	printk("METRICS: pools=%s targets=%d bytes=%d requests=%ld\n", pools, targets,
	       (int)(end + 1 - json), metrics_service_requests());
}
#endif

#if defined(CONFIG_INIT_STACKS) && defined(CONFIG_THREAD_STACK_INFO) && defined(CONFIG_THREAD_NAME) && \
	defined(CONFIG_THREAD_MONITOR)
/* How much of each thread's stack was never touched (the 1 KiB module stacks are enough). */
static void print_stack(const struct k_thread *thread, void *user_data)
{
	size_t unused = 0;

	ARG_UNUSED(user_data);
	if (k_thread_stack_space_get(thread, &unused) == 0) {
		printk("stack %-20s size=%u unused=%u\n", k_thread_name_get((k_tid_t)thread),
		       (unsigned int)thread->stack_info.size, (unsigned int)unused);
	}
}
#endif

int main(void)
{
	printk("firmware: %s, BUF_SIZE=%d, %d modules\n", CONFIG_BOARD_TARGET, BUF_SIZE, TARGET_MAX);
	if (!DISPATCHER_POOL_ABI_OK()) {
		printk("msg_pool.h does not match the library\n");
		return 0;
	}
	if (dispatcher_init() != 0) {
		printk("dispatcher_init failed\n");
	}
	/* The firmware calls dispatcher_pool_self_test(); this is the same with a result. */
	check(dispatcher_pool_self_test_run() == 0, "dispatcher_pool_self_test");
	struct pool_stats s0, c0;

	pool_stats_of(DISPATCHER_POOL_STREAMING, &s0);
	pool_stats_of(DISPATCHER_POOL_CONTROL, &c0);
	printk("firmware: streaming pool %u x %zu B, control pool %u x %zu B\n", s0.pool_total,
	       dispatcher_pool_payload_size(DISPATCHER_POOL_STREAMING), c0.pool_total,
	       dispatcher_pool_payload_size(DISPATCHER_POOL_CONTROL));

	/* Consumers first, so the producers' first messages find their queues. */
	wifi_sse_init();
	lidar_coordinator_init();
	io_log_init();
	io_rgb_init();
	io_battery_init();
	io_lidar_init();
	io_line_sensor_init();
	io_ultrasonic_init();
	io_motor_driver_init();
	wifi_http_server_init();
#ifdef CONFIG_APP_METRICS_HTTP
	metrics_start(); /* serves while the traffic flows */
#endif

	k_msleep(RUN_MS);

	/* Stop the producers, then let the consumers drain every queue. */
	atomic_clear(&fw_running);
	check(wifi_http_server_join(K_MSEC(DRAIN_MAX_MS)) == 0, "REST thread stopped");
	check(io_lidar_join(K_MSEC(DRAIN_MAX_MS)) == 0, "LIDAR producer stopped");
	int64_t t0 = k_uptime_get();

	while (in_use_total() != 0 && k_uptime_get() - t0 < DRAIN_MAX_MS) {
		k_msleep(10);
	}
	printk("[%5lld ms] producers stopped, drained in %lld ms: in_use=%u\n", k_uptime_get(),
	       k_uptime_get() - t0, in_use_total());

	dispatcher_pool_log_stats();
	print_metrics_json();
#ifdef CONFIG_APP_METRICS_HTTP
	metrics_fetch_check();
	metrics_service_set_targets(NULL, 0); /* they are unregistered next */
#endif

	/* Unregister every id: a queue still holding entries is purged. */
	struct pool_stats before_s, before_c;

	pool_stats_of(DISPATCHER_POOL_STREAMING, &before_s);
	pool_stats_of(DISPATCHER_POOL_CONTROL, &before_c);
	for (int i = 0; i < TARGET_MAX; i++) {
		check(dispatcher_register_ptr_queue((dispatch_target_t)i, NULL) == 0, "unregister");
	}
	for (int i = 0; i < TARGET_MAX; i++) {
		check(!dispatcher_has_ptr_queue((dispatch_target_t)i), "nothing registered");
	}
	k_msleep(20); /* a consumer still in its handler releases its entry */

	struct pool_stats ss, cs;

	pool_stats_of(DISPATCHER_POOL_STREAMING, &ss);
	pool_stats_of(DISPATCHER_POOL_CONTROL, &cs);
	printk("unregistered all %d ids: purged streaming=%u control=%u\n", TARGET_MAX,
	       ss.purged - before_s.purged, cs.purged - before_c.purged);
	print_pool("streaming", &ss);
	print_pool("control", &cs);

#if defined(CONFIG_INIT_STACKS) && defined(CONFIG_THREAD_STACK_INFO) && defined(CONFIG_THREAD_NAME) && \
	defined(CONFIG_THREAD_MONITOR)
	k_thread_foreach(print_stack, NULL);
#endif

	/* ---- Module counters ---- */
	struct battery_counters bat;
	struct rgb_counters rgb;
	struct lidar_counters lid;
	struct coord_counters coord;
	struct stream_producer_counters line, ultra;
	struct motor_counters motor;
	struct log_counters log;
	struct rest_counters rest;
	struct sse_counters sse;

	io_battery_counters(&bat);
	io_rgb_counters(&rgb);
	io_lidar_counters(&lid);
	lidar_coordinator_counters(&coord);
	io_line_sensor_counters(&line);
	io_ultrasonic_counters(&ultra);
	io_motor_driver_counters(&motor);
	io_log_counters(&log);
	wifi_http_server_counters(&rest);
	wifi_sse_counters(&sse);

	printk("module io_battery  steps=%u slow(500ms)=%u fast(100ms)=%u status_sent=%u "
	       "notices=%u send_failures=%u commands=%u step_ms=%u\n",
	       bat.steps, bat.slow_steps, bat.fast_steps, bat.status_sent, bat.notices_sent,
	       bat.send_failures, bat.commands, bat.step_ms);
	printk("module io_rgb      steps=%u battery=%u rest_requests=%u rest_commands=%u bad=%u\n",
	       rgb.steps, rgb.battery_msgs, rgb.rest_requests, rgb.rest_commands, rgb.bad_msgs);
	printk("module io_lidar    chunks_sent=%u chunks_dropped=%u motor_cmds=%u bad_cmds=%u\n",
	       lid.chunks_sent, lid.chunks_dropped, lid.motor_cmds, lid.bad_cmds);
	printk("module lidar_coord chunks=%u corrupt=%u other=%u\n", coord.chunks, coord.corrupt,
	       coord.other);
	printk("module line_sensor sent=%u dropped=%u\n", line.sent, line.dropped);
	printk("module ultrasonic  sent=%u dropped=%u\n", ultra.sent, ultra.dropped);
	printk("module motor       sent=%u send_failures=%u\n", motor.sent, motor.send_failures);
	printk("module io_log      line_sensor=%u ultrasonic=%u battery=%u other=%u bad=%u "
	       "lines_sent=%u send_failures=%u\n",
	       log.per_source[SOURCE_LINE_SENSOR], log.per_source[SOURCE_ULTRASONIC],
	       log.per_source[SOURCE_BATTERY],
	       log.per_source[SOURCE_UNDEFINED], log.bad_frames, log.lines_sent, log.send_failures);
	printk("module rest        requests=%u replies=%u timeouts=%u bad_replies=%u "
	       "request_failures=%u commands=%u command_failures=%u\n",
	       rest.requests, rest.replies, rest.timeouts, rest.bad_replies, rest.request_failures,
	       rest.commands_sent, rest.command_failures);
	printk("module wifi_sse    status=%u lidar=%u log=%u lidar_corrupt=%u unknown=%u\n",
	       sse.per_id[0], sse.per_id[1], sse.per_id[2], sse.lidar_corrupt, sse.unknown);

	uint32_t unrouted = 0;

	for (int i = 0; i < TARGET_MAX; i++) {
		unrouted += dispatcher_unrouted_count((dispatch_target_t)i);
	}

	/* Streaming: sent = the producers' successful sends; lost = sent but not received. */
	uint32_t s_sent = lid.chunks_sent + line.sent + ultra.sent;
	uint32_t s_dropped = lid.chunks_dropped + line.dropped + ultra.dropped;
	int64_t s_lost = (int64_t)(lid.chunks_sent - coord.chunks) +
			 (int64_t)(lid.chunks_sent - sse.per_id[1]) +
			 (int64_t)(line.sent - log.per_source[SOURCE_LINE_SENSOR]) +
			 (int64_t)(ultra.sent - log.per_source[SOURCE_ULTRASONIC]);
	/* Control: every message reaches every module it was sent to. */
	uint32_t c_sent = bat.status_sent + bat.notices_sent + motor.sent + log.lines_sent +
			  rest.requests + rest.commands_sent;
	uint32_t c_dropped = bat.send_failures + motor.send_failures + log.send_failures +
			     rest.request_failures + rest.command_failures;
	int64_t c_lost = (int64_t)c_dropped + cs.enqueue_failures +
			 (int64_t)(bat.status_sent - rgb.battery_msgs) +
			 (int64_t)(bat.status_sent - sse.per_id[0]) +
			 (int64_t)(bat.notices_sent - log.per_source[SOURCE_BATTERY]) +
			 (int64_t)(motor.sent - lid.motor_cmds) +
			 (int64_t)(rest.requests - rgb.rest_requests) +
			 (int64_t)(rest.commands_sent - bat.commands) +
			 (int64_t)(log.lines_sent - sse.per_id[2]);

	bool step_change = bat.slow_steps >= 1 && bat.fast_steps >= 5 && bat.step_ms == 100 &&
			   bat.commands == 1;
	int sse_ids = (sse.per_id[0] > 0) + (sse.per_id[1] > 0) + (sse.per_id[2] > 0);
	bool rest_ok = rest.requests > 0 && rest.replies == rest.requests && rest.timeouts == 0 &&
		       rest.bad_replies == 0;

	check(s_sent > 0 && s_dropped > 0, "the LIDAR flood overflowed the streaming pool");
	check(s_dropped == ss.pool_alloc_failures, "streaming dropped == alloc_failures");
	check(s_lost == 0, "streaming: every sent message received by each target");
	check(c_lost == 0, "control: nothing lost");
	check(ss.pool_in_use == 0 && cs.pool_in_use == 0, "in_use=0 at the end");
	check(ss.invalid_unrefs == 0 && cs.invalid_unrefs == 0, "no invalid unref");
	check(coord.corrupt == 0 && sse.lidar_corrupt == 0 && coord.other == 0, "no corrupt chunk");
	check(step_change, "battery step_ms changed from 500 to 100 ms");
	check(sse_ids == SSE_IDS && sse.unknown == 0, "SSE got all three ids");
	check(rest_ok, "every REST request answered");
	check(rgb.bad_msgs == 0 && log.bad_frames == 0 && lid.bad_cmds == 0, "no bad message");
	check(unrouted == 0, "no message to an id without a queue");

	printk("SUMMARY streaming: sent=%u dropped=%u truncated=%u alloc_failures=%u "
	       "enqueue_failures=%u lost=%lld in_use=%u\n",
	       s_sent, s_dropped, dispatcher_pool_truncations(DISPATCHER_POOL_STREAMING),
	       ss.pool_alloc_failures, ss.enqueue_failures, s_lost, ss.pool_in_use);
	printk("SUMMARY control: sent=%u dropped=%u truncated=%u lost=%lld replies=%u timeouts=%u "
	       "in_use=%u\n",
	       c_sent, c_dropped, dispatcher_pool_truncations(DISPATCHER_POOL_CONTROL), c_lost,
	       rest.replies, rest.timeouts, cs.pool_in_use);
	printk("SUMMARY modules: corrupt=%u battery_step_change=%s sse_ids=%d/%d "
	       "rest_replies=%u/%u unrouted=%u\n",
	       coord.corrupt + sse.lidar_corrupt, step_change ? "yes" : "no", sse_ids, SSE_IDS,
	       rest.replies, rest.requests, unrouted);
	printk("RESULT: %s\n", pass ? "PASS" : "FAIL");

#ifdef CONFIG_ARCH_POSIX
	posix_exit(pass ? 0 : 1);
#endif
	return 0;
}
