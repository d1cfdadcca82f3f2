/*
 * Shell commands of the dispatcher pools:
 *   pool stats                 one line per created pool
 *   pool stats <name>          every counter of that pool
 *   pool stats json            every pool and the registered targets as JSON
 *   pool check [<name>]        free list and counters of every pool (or one)
 *   pool leaks <ms> [<name>]   entries held for at least <ms> ms, with where they are
 *
 * Pools are listed oldest first (msg_pool_next() returns them newest first), so manually
 * created pools (msg_pool_init() on a struct msg_pool of one's own) show up too.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <zephyr/kernel.h>
#include <zephyr/shell/shell.h>

#include "msg_pool.h"
#include "dispatcher_pool_zephyr.h"

/* The targets the shell reports: an application's list, or a source (the dispatcher's
 * registry) that lends its targets under its own lock. Guarded by targets_lock.
 */
static msg_target_t *const *shell_targets;
static size_t shell_n_targets;
static dispatcher_pool_targets_source_t shell_source;
static K_MUTEX_DEFINE(targets_lock);

void dispatcher_pool_shell_set_targets(msg_target_t *const *targets, size_t n)
{
	k_mutex_lock(&targets_lock, K_FOREVER);
	shell_targets = targets;
	shell_n_targets = targets == NULL ? 0 : MIN(n, DISPATCHER_JSON_TARGETS_MAX);
	shell_source = NULL;
	k_mutex_unlock(&targets_lock);
}

void dispatcher_pool_shell_set_target_source(dispatcher_pool_targets_source_t source)
{
	k_mutex_lock(&targets_lock, K_FOREVER);
	shell_source = source;
	shell_targets = NULL;
	shell_n_targets = 0;
	k_mutex_unlock(&targets_lock);
}

struct clamped_call {
	dispatcher_pool_targets_visitor_t fn;
	void *arg;
};

/* A source's targets, at most DISPATCHER_JSON_TARGETS_MAX of them (as set_targets keeps). */
static void clamped(msg_target_t *const *targets, size_t n, void *arg)
{
	struct clamped_call *c = arg;

	c->fn(targets, MIN(n, DISPATCHER_JSON_TARGETS_MAX), c->arg);
}

/* Calls fn with the targets (at most DISPATCHER_JSON_TARGETS_MAX), which stay valid and
 * unchanged until it returns.
 */
static void with_targets(dispatcher_pool_targets_visitor_t fn, void *arg)
{
	k_mutex_lock(&targets_lock, K_FOREVER);
	if (shell_source != NULL) {
		struct clamped_call c = {.fn = fn, .arg = arg};

		shell_source(clamped, &c);
	} else {
		fn(shell_targets, shell_n_targets, arg);
	}
	k_mutex_unlock(&targets_lock);
}

/* ----- the created pools, oldest first -------------------------------------------------------- */

static size_t pool_count(void)
{
	size_t n = 0;

	for (struct msg_pool *p = msg_pool_next(NULL); p != NULL; p = msg_pool_next(p)) {
		n++;
	}
	return n;
}

/* The i-th created pool, oldest first (0 = the first created). */
static struct msg_pool *pool_oldest(size_t i, size_t n)
{
	struct msg_pool *p = msg_pool_next(NULL);

	for (size_t k = 0; p != NULL && k + 1 + i < n; k++) {
		p = msg_pool_next(p);
	}
	return p;
}

#define FOR_EACH_POOL(p)                                                                           \
	for (size_t n_ = pool_count(), i_ = 0; i_ < n_; i_++)                                      \
		for (struct msg_pool *p = pool_oldest(i_, n_); p != NULL; p = NULL)

/* The created pool called `name`, or NULL (with an error printed). */
static struct msg_pool *pool_by_name(const struct shell *sh, const char *name)
{
	for (struct msg_pool *p = msg_pool_next(NULL); p != NULL; p = msg_pool_next(p)) {
		if (p->name != NULL && strcmp(p->name, name) == 0) {
			return p;
		}
	}
	shell_error(sh, "no pool named \"%s\" (pool stats lists them)", name);
	return NULL;
}

static const char *pname(const struct msg_pool *p)
{
	return p->name != NULL ? p->name : "?";
}

/* ----- pool stats ----------------------------------------------------------------------------- */

static void print_targets_of(msg_target_t *const *targets, size_t n, void *arg)
{
	const struct shell *sh = arg;

	for (size_t i = 0; i < n; i++) {
		struct msg_target_stats ts;

		if (msg_target_stats(targets[i], &ts) == 0) {
			shell_print(sh, "target %u: delivered %u failed %u queued %u", ts.id,
				    ts.delivered, ts.failed, ts.queued);
#ifdef CONFIG_DISPATCHER_POOL_TIMING
			shell_print(sh,
				    "  avg depth %u.%02u (%u samples), latency n %u min %u p50 %u "
				    "p99 %u max %u us",
				    ts.avg_depth_x100 / 100, ts.avg_depth_x100 % 100, ts.depth_samples,
				    ts.latency_count, ts.latency_min_us, ts.latency_p50_us,
				    ts.latency_p99_us, ts.latency_max_us);
#endif
		}
	}
}

static void print_targets(const struct shell *sh)
{
	with_targets(print_targets_of, (void *)sh);
}

static int stats_one(const struct shell *sh, struct msg_pool *p)
{
	struct pool_stats s;
	int rc = msg_pool_stats(p, &s);

	if (rc != 0) {
		shell_error(sh, "msg_pool_stats(%s): %d", pname(p), rc);
		return rc;
	}
	shell_print(sh, "pool %s", pname(p));
	shell_print(sh, "placement           %s", p->placement != NULL ? p->placement : "?");
	shell_print(sh, "payload_size        %u", s.payload_size);
	shell_print(sh, "stride              %u", s.stride);
	shell_print(sh, "region_bytes        %u", s.pool_total * s.stride);
	shell_print(sh, "descriptor_bytes    %zu", p->n_descs * sizeof(pool_msg_t));
	shell_print(sh, "heap_slots          %zu", p->config.heap_slots);
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
	print_targets(sh);
	return 0;
}

static int cmd_stats(const struct shell *sh, size_t argc, char **argv)
{
	size_t shown = 0;

	if (argc > 1) {
		struct msg_pool *p = pool_by_name(sh, argv[1]);

		return p == NULL ? -EINVAL : stats_one(sh, p);
	}
	shell_print(sh, "%-16s %7s %6s %6s %6s %8s %6s", "pool", "payload", "total", "in_use",
		    "high", "failures", "drops");
	FOR_EACH_POOL(p) {
		struct pool_stats s;

		if (msg_pool_stats(p, &s) != 0) {
			continue;
		}
		shell_print(sh, "%-16s %7u %6u %6u %6u %8u %6u", pname(p), s.payload_size,
			    s.pool_total, s.pool_in_use, s.high_water, s.pool_alloc_failures,
			    s.pool_drop_count);
		shown++;
	}
	if (shown == 0) {
		shell_warn(sh, "no pool created");
	}
	print_targets(sh);
	return 0;
}

struct json_call {
	char *buf;
	size_t len;
	int rc;
};

static void json_of(msg_target_t *const *targets, size_t n, void *arg)
{
	struct json_call *c = arg;

	c->rc = msg_pool_stats_json_all(c->buf, c->len, targets, n);
}

static int cmd_stats_json(const struct shell *sh, size_t argc, char **argv)
{
	static char buf[CONFIG_DISPATCHER_POOL_SHELL_JSON_SIZE];
	static K_MUTEX_DEFINE(buf_lock);
	struct json_call call = {.buf = buf, .len = sizeof(buf)};
	int rc;

	ARG_UNUSED(argc);
	ARG_UNUSED(argv);
	k_mutex_lock(&buf_lock, K_FOREVER);
	with_targets(json_of, &call);
	rc = call.rc;
	if (rc >= 0) {
		shell_print(sh, "%s", buf);
	}
	k_mutex_unlock(&buf_lock);
	if (rc < 0) {
		shell_error(sh, "msg_pool_stats_json_all: %d%s", rc,
			    rc == -ENOSPC ? " (raise CONFIG_DISPATCHER_POOL_SHELL_JSON_SIZE)" : "");
		return rc;
	}
	return 0;
}

/* ----- pool check ----------------------------------------------------------------------------- */

static int check_one(const struct shell *sh, struct msg_pool *p)
{
	struct pool_check_report r;
	int rc = msg_pool_check(p, &r);

	if (rc != 0) {
		shell_error(sh, "pool %s check FAILED: %d", pname(p), rc);
		return rc;
	}
	shell_print(sh, "pool %s check OK: free %zu held %zu heap_held %zu", pname(p), r.free,
		    r.held, r.heap_held);
	return 0;
}

static int cmd_check(const struct shell *sh, size_t argc, char **argv)
{
	int first = 0;

	if (argc > 1) {
		struct msg_pool *p = pool_by_name(sh, argv[1]);

		return p == NULL ? -EINVAL : check_one(sh, p);
	}
	FOR_EACH_POOL(p) {
		int rc = check_one(sh, p);

		if (rc != 0 && first == 0) {
			first = rc;
		}
	}
	return first;
}

/* ----- pool leaks ----------------------------------------------------------------------------- */

static void print_leak(const struct shell *sh, const struct msg_pool *p, const struct pool_leak *l)
{
	char where[64];
	int len = 0;

	where[0] = '\0';
	if (l->queued_at != POOL_HOLDER_NONE) {
		len += snprintk(where + len, sizeof(where) - len, "queued at target %u (%u item%s)",
				l->queued_at, l->queued, l->queued == 1 ? "" : "s");
	}
	if (l->held_by != POOL_HOLDER_NONE && len < (int)sizeof(where)) {
		const char *sep = len > 0 ? ", " : "";

		if (l->held_by == POOL_HOLDER_PRODUCER) {
			len += snprintk(where + len, sizeof(where) - len, "%sheld by producer", sep);
		} else {
			len += snprintk(where + len, sizeof(where) - len, "%sheld by target %u", sep,
					l->held_by);
		}
	}
	if (l->age_ms == POOL_AGE_UNKNOWN) {
		shell_print(sh, "  %s entry %u: %s; refcount %u, age not recorded", pname(p),
			    l->index, where, l->refcount);
	} else {
		shell_print(sh, "  %s entry %u: %s; refcount %u, age %u ms", pname(p), l->index,
			    where, l->refcount, l->age_ms);
	}
}

struct leaks_call {
	struct msg_pool *p;
	uint32_t ms;
	struct pool_leak *out;
	size_t max;
	int n;
};

static void leaks_of(msg_target_t *const *targets, size_t n, void *arg)
{
	struct leaks_call *c = arg;

	c->n = msg_pool_leaks(c->p, c->ms, targets, n, c->out, c->max);
}

static int leaks_one(const struct shell *sh, struct msg_pool *p, uint32_t ms)
{
	static struct pool_leak leaks[DISPATCHER_LEAKS_MAX];
	static K_MUTEX_DEFINE(leaks_lock);
	int n;

	k_mutex_lock(&leaks_lock, K_FOREVER);
	struct leaks_call call = {.p = p, .ms = ms, .out = leaks, .max = ARRAY_SIZE(leaks)};

	with_targets(leaks_of, &call);
	n = call.n;
	if (n < 0) {
		k_mutex_unlock(&leaks_lock);
		shell_error(sh, "msg_pool_leaks(%s): %d", pname(p), n);
		return n;
	}
	shell_print(sh, "pool %s: %d entries held for >= %u ms", pname(p), n, ms);
	for (int i = 0; i < MIN(n, (int)ARRAY_SIZE(leaks)); i++) {
		print_leak(sh, p, &leaks[i]);
	}
	k_mutex_unlock(&leaks_lock);
	return 0;
}

static int cmd_leaks(const struct shell *sh, size_t argc, char **argv)
{
	char *end;
	unsigned long ms = strtoul(argv[1], &end, 10);
	int first = 0;

	if (*argv[1] == '\0' || *end != '\0' || ms > UINT32_MAX) {
		shell_error(sh, "usage: pool leaks <min_age_ms> [<pool>]");
		return -EINVAL;
	}
	if (argc > 2) {
		struct msg_pool *p = pool_by_name(sh, argv[2]);

		return p == NULL ? -EINVAL : leaks_one(sh, p, (uint32_t)ms);
	}
	FOR_EACH_POOL(p) {
		int rc = leaks_one(sh, p, (uint32_t)ms);

		if (rc != 0 && first == 0) {
			first = rc;
		}
	}
	return first;
}

SHELL_STATIC_SUBCMD_SET_CREATE(sub_pool_stats,
	SHELL_CMD(json, NULL, "Every pool and the registered targets as JSON.", cmd_stats_json),
	SHELL_SUBCMD_SET_END);

SHELL_STATIC_SUBCMD_SET_CREATE(sub_pool,
	SHELL_CMD_ARG(stats, &sub_pool_stats,
		      "[<pool>|json]: one line per pool, every counter of <pool>, or JSON.",
		      cmd_stats, 1, 1),
	SHELL_CMD_ARG(check, NULL, "[<pool>]: check free list and counters (exact while idle).",
		      cmd_check, 1, 1),
	SHELL_CMD_ARG(leaks, NULL, "<ms> [<pool>]: entries held for at least <ms> milliseconds.",
		      cmd_leaks, 2, 1),
	SHELL_SUBCMD_SET_END);

SHELL_CMD_REGISTER(pool, &sub_pool, "Dispatcher message pools", NULL);
