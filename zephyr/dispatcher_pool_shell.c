/*
 * Shell commands of the dispatcher pool: pool stats, pool stats json, pool check, pool leaks <ms>.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <errno.h>
#include <stdlib.h>

#include <zephyr/kernel.h>
#include <zephyr/shell/shell.h>

#include "dispatcher_pool.h"
#include "dispatcher_pool_zephyr.h"

static dispatch_target_t *const *shell_targets;
static size_t shell_n_targets;

void dispatcher_pool_shell_set_targets(dispatch_target_t *const *targets, size_t n)
{
	shell_targets = targets;
	shell_n_targets = targets == NULL ? 0 : MIN(n, DISPATCHER_JSON_TARGETS_MAX);
}

static int cmd_stats(const struct shell *sh, size_t argc, char **argv)
{
	struct pool_stats s;
	int rc = pool_stats(&s);

	ARG_UNUSED(argc);
	ARG_UNUSED(argv);
	if (rc != 0) {
		shell_error(sh, "pool_stats: %d%s", rc, rc == -ENODEV ? " (pool not initialised)" : "");
		return rc;
	}
	shell_print(sh, "pool_total          %u", s.pool_total);
	shell_print(sh, "pool_in_use         %u", s.pool_in_use);
	shell_print(sh, "high_water          %u", s.high_water);
	shell_print(sh, "pool_alloc_failures %u", s.pool_alloc_failures);
	shell_print(sh, "pool_drop_count     %u", s.pool_drop_count);
	shell_print(sh, "enqueue_failures    %u", s.enqueue_failures);
	shell_print(sh, "allocations         %u", s.allocations);
	shell_print(sh, "frees               %u", s.frees);
	shell_print(sh, "broadcasts          %u", s.broadcasts);
	shell_print(sh, "purged              %u", s.purged);
	shell_print(sh, "invalid_unrefs      %u", s.invalid_unrefs);
	shell_print(sh, "invalid_refs        %u", s.invalid_refs);
	shell_print(sh, "fallback_allocs     %u", s.fallback_allocs);
	shell_print(sh, "fallback_in_use     %u", s.fallback_in_use);
	shell_print(sh, "payload_size        %u", s.payload_size);
	shell_print(sh, "stride              %u", s.stride);
	shell_print(sh, "region              %s", s.region_external ? "PSRAM" : "internal");
	for (size_t i = 0; i < shell_n_targets; i++) {
		struct dispatch_target_stats ts;

		if (dispatch_target_stats(shell_targets[i], &ts) == 0) {
			shell_print(sh, "target %u: delivered %u failed %u queued %u", ts.id,
				    ts.delivered, ts.failed, ts.queued);
		}
	}
	return 0;
}

static int cmd_stats_json(const struct shell *sh, size_t argc, char **argv)
{
	static char buf[256 + 96 * DISPATCHER_JSON_TARGETS_MAX];
	static K_MUTEX_DEFINE(buf_lock);
	int rc;

	ARG_UNUSED(argc);
	ARG_UNUSED(argv);
	k_mutex_lock(&buf_lock, K_FOREVER);
	rc = pool_stats_json(buf, sizeof(buf), shell_targets, shell_n_targets);
	if (rc >= 0) {
		shell_print(sh, "%s", buf);
	}
	k_mutex_unlock(&buf_lock);
	if (rc < 0) {
		shell_error(sh, "pool_stats_json: %d", rc);
		return rc;
	}
	return 0;
}

static int cmd_check(const struct shell *sh, size_t argc, char **argv)
{
	struct pool_check_report r;
	int rc = pool_check(&r);

	ARG_UNUSED(argc);
	ARG_UNUSED(argv);
	if (rc != 0) {
		shell_error(sh, "pool check FAILED: %d", rc);
		return rc;
	}
	shell_print(sh, "pool check OK: free %zu held %zu heap_held %zu", r.free, r.held,
		    r.heap_held);
	return 0;
}

static int cmd_leaks(const struct shell *sh, size_t argc, char **argv)
{
	struct pool_leak leaks[DISPATCHER_LEAKS_MAX];
	char *end;
	unsigned long ms = strtoul(argv[1], &end, 10);
	int n;

	ARG_UNUSED(argc);
	if (*argv[1] == '\0' || *end != '\0') {
		shell_error(sh, "usage: pool leaks <min_age_ms>");
		return -EINVAL;
	}
	n = pool_leaks((uint32_t)ms, leaks, ARRAY_SIZE(leaks));
	if (n < 0) {
		shell_error(sh, "pool_leaks: %d", n);
		return n;
	}
	shell_print(sh, "%d entries held for >= %lu ms", n, ms);
	for (int i = 0; i < MIN(n, (int)ARRAY_SIZE(leaks)); i++) {
		if (leaks[i].holder == 0xFFFF) {
			shell_print(sh, "  entry %u: producer, refcount %u, age %u ms", leaks[i].index,
				    leaks[i].refcount, leaks[i].age_ms);
		} else {
			shell_print(sh, "  entry %u: target %u, refcount %u, age %u ms", leaks[i].index,
				    leaks[i].holder, leaks[i].refcount, leaks[i].age_ms);
		}
	}
	return 0;
}

SHELL_STATIC_SUBCMD_SET_CREATE(sub_pool_stats,
	SHELL_CMD(json, NULL, "Pool and target counters as JSON.", cmd_stats_json),
	SHELL_SUBCMD_SET_END);

SHELL_STATIC_SUBCMD_SET_CREATE(sub_pool,
	SHELL_CMD(stats, &sub_pool_stats, "Pool counters (pool stats json: as JSON).", cmd_stats),
	SHELL_CMD(check, NULL, "Check free list and counters (exact while idle).", cmd_check),
	SHELL_CMD_ARG(leaks, NULL, "<ms>: entries held for at least <ms> milliseconds.", cmd_leaks,
		      2, 0),
	SHELL_SUBCMD_SET_END);

SHELL_CMD_REGISTER(pool, &sub_pool, "Dispatcher message pool", NULL);
