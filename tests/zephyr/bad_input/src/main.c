/*
 * dispatcher-pool on Zephyr: every class of bad input of the C API, on target, with its exact
 * errno (Zephyr's errno.h), and a pool check after each. The host version is
 * tests/c/test_bad_input.c.
 *
 * Order-independent (CONFIG_ZTEST_SHUFFLE=y runs the tests in random order, each several
 * times): each test that allocates has its own pool (DISPATCHER_POOL_DEFINE), the targets are
 * initialised afresh before every test and purged after it, counters are compared as deltas,
 * and creation is asserted against what was observed just before (0 the first time, -EALREADY
 * after). The state "no pool exists at all" only exists before the boot hook, so the calls made
 * in it are recorded by a SYS_INIT that runs before the hook and asserted by a test.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <string.h>

#include <zephyr/init.h>
#include <zephyr/irq_offload.h>
#include <zephyr/kernel.h>
#include <zephyr/ztest.h>

#include "msg_pool_module.h"
#include "msg_pool.h"
#include "dispatcher_pool_zephyr.h"

/* The default pool (CONFIG_DISPATCHER_POOL_AUTO_INIT=n: created by the tests). */
#define ENTRIES CONFIG_DISPATCHER_POOL_ENTRIES
#define PAYLOAD CONFIG_DISPATCHER_POOL_PAYLOAD_SIZE

BUILD_ASSERT(CONFIG_DISPATCHER_POOL_INIT_PRIORITY > 0, "the capture must run before the hook");

DISPATCHER_POOL_DEFINE_NOINIT(bi_never, 4, 16, 0); /* never created */
DISPATCHER_POOL_DEFINE_NOINIT(bi_late, 4, 16, 0);  /* created by test_init_errors_and_twice */
DISPATCHER_POOL_DEFINE(bi_refs, 4, 64);
DISPATCHER_POOL_DEFINE(bi_sat, 2, 16);
DISPATCHER_POOL_DEFINE(bi_bcast, 4, 32); /* payload below DISPATCHER_PAYLOAD_MAX (64) */

K_MSGQ_DEFINE(ptr_q, sizeof(pool_msg_t *), 4, sizeof(void *));
K_MSGQ_DEFINE(val_q, sizeof(dispatcher_msg_t), 2, sizeof(void *));
K_MSGQ_DEFINE(tiny_q, 4, 2, 4);
static msg_target_t ptr_target, val_target;

static const struct pool_config default_cfg = {
	.entries = ENTRIES, .payload_size = PAYLOAD, .heap_slots = 0};

/* ----- what the API answered before any pool existed (recorded at boot) ---------------------- */

static struct {
	bool ran;
	int boot_status;
	struct msg_pool *default_pool;
	bool try_alloc_null, blocking_null, out_nulled;
	int alloc0, alloc10, ref, unref, stats, check, leaks, json, broadcast, init;
} pre;

static int capture_before_any_pool(void)
{
	msg_target_t zero;
	msg_target_t *zt = &zero;
	pool_msg_t *out = (pool_msg_t *)1;
	struct pool_stats s;
	struct pool_check_report r;
	char buf[64];

	memset(&zero, 0, sizeof(zero));
	pre.boot_status = dispatcher_pool_boot_status(); /* -EAGAIN: the hook has not run */
	pre.default_pool = msg_pool_default();
	pre.try_alloc_null = pool_try_alloc() == NULL;
	pre.blocking_null = pool_alloc_blocking(10) == NULL;
	pre.alloc0 = pool_alloc(0, &out);
	pre.out_nulled = out == NULL;
	pre.alloc10 = pool_alloc(10, &out);
	pre.ref = msg_ref(NULL);
	pre.unref = msg_unref(NULL);
	pre.stats = pool_stats(&s);
	pre.check = pool_check(&r);
	pre.leaks = pool_leaks(0, NULL, 0);
	pre.json = pool_stats_json(buf, sizeof(buf), NULL, 0);
	pre.broadcast = msg_broadcast(NULL, &zt, 1);
	pre.init = pool_init(ENTRIES, PAYLOAD); /* no default pool yet */
	pre.ran = true;
	return 0;
}

/* APPLICATION 0: before the module's hook (APPLICATION, CONFIG_DISPATCHER_POOL_INIT_PRIORITY). */
SYS_INIT(capture_before_any_pool, APPLICATION, 0);

/* ----- helpers ---------------------------------------------------------------------------------- */

static struct pool_stats stats_of(const struct msg_pool *p)
{
	struct pool_stats s;

	zassert_ok(msg_pool_stats(p, &s), "pool %s not created", p->name);
	return s;
}

static bool created(const struct msg_pool *p)
{
	struct pool_stats s;

	return msg_pool_stats(p, &s) == 0;
}

/* Creates the default pool unless a test (or an earlier run) already did. */
static void default_ready(void)
{
	int rc = pool_init_ex(&default_cfg);

	zassert_true(rc == 0 || rc == -EALREADY, "pool_init_ex: %d", rc);
	zassert_true(created(&dispatcher_pool_default));
}

static void check_pool_at(const struct msg_pool *p, size_t held, int line)
{
	struct pool_check_report r;
	int rc = msg_pool_check(p, &r);

	zassert_ok(rc, "line %d: pool %s check %d", line, p->name, rc);
	zassert_equal(r.held, held, "line %d: pool %s held %zu, expected %zu", line, p->name,
		      r.held, held);
	zassert_equal(r.free + r.held, p->config.entries, "line %d", line);
}
#define CHECK_POOL(p, held) check_pool_at((p), (held), __LINE__)

static pool_msg_t *alloc_with_len(struct msg_pool *p, uint32_t len)
{
	pool_msg_t *m = msg_pool_try_alloc(p);

	zassert_not_null(m);
	m->msg->message_len = len;
	return m;
}

static void before(void *f)
{
	ARG_UNUSED(f);
	zassert_ok(msg_target_init(&ptr_target, &ptr_q, DISPATCH_MODE_POINTER, 1));
	zassert_ok(msg_target_init(&val_target, &val_q, DISPATCH_MODE_VALUE, 2));
}

static void after(void *f)
{
	struct msg_pool *const pools[] = {&bi_refs, &bi_sat, &bi_bcast};

	ARG_UNUSED(f);
	/* Whatever a failed test left queued goes back to its pool. */
	(void)msg_target_purge(&ptr_target);
	(void)msg_target_purge(&val_target);
	k_msgq_purge(&ptr_q); /* a bogus pointer a test put there by hand */
	for (size_t i = 0; i < ARRAY_SIZE(pools); i++) {
		CHECK_POOL(pools[i], 0);
	}
	if (created(&dispatcher_pool_default)) {
		CHECK_POOL(&dispatcher_pool_default, 0);
	}
	zassert_false(created(&bi_never));
}

/* ----- tests ------------------------------------------------------------------------------------ */

ZTEST(dispatcher_pool_bad_input, test_calls_before_creation)
{
	pool_msg_t *out = (pool_msg_t *)1;
	struct pool_stats s;
	struct pool_check_report r;
	struct pool_leak leak;
	char buf[64];

	/* Recorded at boot, when no pool existed at all. */
	zassert_true(pre.ran);
	zassert_equal(pre.boot_status, -EAGAIN, "the capture ran after the boot hook");
	zassert_is_null(pre.default_pool);
	zassert_true(pre.try_alloc_null);
	zassert_true(pre.blocking_null);
	zassert_equal(pre.alloc0, -ENODEV);
	zassert_true(pre.out_nulled);
	zassert_equal(pre.alloc10, -ENODEV);
	zassert_equal(pre.ref, -ENODEV);
	zassert_equal(pre.unref, -ENODEV);
	zassert_equal(pre.stats, -ENODEV);
	zassert_equal(pre.check, -ENODEV);
	zassert_equal(pre.leaks, -ENODEV);
	zassert_equal(pre.json, -ENODEV);
	zassert_equal(pre.broadcast, -ENODEV);
	zassert_equal(pre.init, -ENODEV);

	/* Now, on a pool that is defined but never created (other pools exist). */
	zassert_ok(dispatcher_pool_boot_status());
	zassert_is_null(msg_pool_try_alloc(&bi_never));
	zassert_is_null(msg_pool_try_alloc_or(&bi_never, POOL_FALLBACK_HEAP));
	zassert_is_null(msg_pool_alloc_blocking(&bi_never, 10));
	zassert_equal(msg_pool_alloc(&bi_never, 0, &out), -ENODEV);
	zassert_is_null(out);
	zassert_equal(msg_pool_alloc(&bi_never, 10, &out), -ENODEV);
	zassert_equal(msg_pool_stats(&bi_never, &s), -ENODEV);
	zassert_equal(msg_pool_check(&bi_never, &r), -ENODEV);
	zassert_equal(msg_pool_leaks(&bi_never, 0, NULL, 0, &leak, 1), -ENODEV);
	zassert_equal(msg_pool_stats_json(&bi_never, buf, sizeof(buf), NULL, 0), -ENODEV);
	/* Its descriptors belong to no pool. */
	zassert_is_null(msg_pool_of(&bi_never_descs[0]));
	zassert_equal(msg_unref(&bi_never_descs[0]), -EFAULT);
	zassert_equal(msg_ref(&bi_never_descs[0]), -EFAULT);
	/* NULL pools. */
	zassert_is_null(msg_pool_try_alloc(NULL));
	zassert_equal(msg_pool_alloc(NULL, 0, &out), -EINVAL);
	zassert_equal(msg_pool_stats(NULL, &s), -EINVAL);
	zassert_equal(msg_pool_check(NULL, &r), -EINVAL);
}

ZTEST(dispatcher_pool_bad_input, test_init_errors_and_twice)
{
	struct pool_config too_many_slots = {.entries = 8, .payload_size = 8, .heap_slots = 65};
	struct pool_config more_slots = {.entries = ENTRIES, .payload_size = PAYLOAD, .heap_slots = 1};
	bool was_created = created(&dispatcher_pool_default);
	bool late_was_created = created(&bi_late);
	struct pool_stats s;

	zassert_true(DISPATCHER_POOL_ABI_OK());
	/* Refused before anything else, created or not. */
	zassert_equal(pool_init(0, 64), -EINVAL);
	zassert_equal(pool_init(1025, 64), -EINVAL);
	zassert_equal(pool_init(8, 0), -EINVAL);
	zassert_equal(pool_init(8, DISPATCHER_PAYLOAD_MAX + 1), -EINVAL);
	zassert_equal(pool_init_ex(NULL), -EINVAL);
	zassert_equal(pool_init_ex(&too_many_slots), -EINVAL);
	/* The default pool's memory is Kconfig-sized: more than that does not fit. */
	zassert_equal(pool_init(ENTRIES + 1, PAYLOAD), -ENOMEM);
	zassert_equal(pool_init_ex(&more_slots), -ENOMEM); /* no descriptor for a heap slot */
	zassert_equal(created(&dispatcher_pool_default), was_created);

	zassert_equal(pool_init_ex(&default_cfg), was_created ? -EALREADY : 0);
	zassert_equal(pool_init(ENTRIES, 64), -EALREADY);
	zassert_equal(pool_init_ex(&default_cfg), -EALREADY);
	s = stats_of(&dispatcher_pool_default);
	zassert_equal(s.pool_total, ENTRIES);
	zassert_equal(s.payload_size, PAYLOAD);
	zassert_equal(strcmp(dispatcher_pool_default.placement, DISPATCHER_POOL_PLACEMENT_INTERNAL),
		      0);
	CHECK_POOL(&dispatcher_pool_default, 0);

	/* A pool of one's own, created by hand. */
	zassert_equal(msg_pool_init(NULL), -EINVAL);
	zassert_equal(msg_pool_init(&bi_late), late_was_created ? -EALREADY : 0);
	zassert_equal(msg_pool_init(&bi_late), -EALREADY);
	zassert_equal(msg_pool_init(&bi_refs), -EALREADY); /* created at boot */
	zassert_equal(msg_pool_set_default(&bi_late), -EALREADY); /* the default is taken */
	zassert_equal(msg_pool_set_default(&dispatcher_pool_default), 0);
	zassert_equal(msg_pool_default(), &dispatcher_pool_default);
	CHECK_POOL(&bi_late, 0);
}

ZTEST(dispatcher_pool_bad_input, test_ref_unref_errors)
{
	struct pool_stats before_d, before_p, after_d, after_p;
	pool_msg_t fake;
	pool_msg_t *p, *mid;

	default_ready(); /* NULL and foreign pointers are counted in the default pool */
	before_d = stats_of(&dispatcher_pool_default);
	before_p = stats_of(&bi_refs);

	zassert_equal(msg_unref(NULL), -EINVAL);
	zassert_equal(msg_ref(NULL), -EINVAL);
	memset(&fake, 0, sizeof(fake)); /* foreign: a pool_msg_t on the stack */
	zassert_equal(msg_unref(&fake), -EFAULT);
	zassert_equal(msg_ref(&fake), -EFAULT);
	zassert_is_null(msg_pool_of(&fake));
	CHECK_POOL(&bi_refs, 0);

	p = alloc_with_len(&bi_refs, 0);
	zassert_equal(msg_pool_of(p), &bi_refs);
	mid = (pool_msg_t *)((char *)p + 4); /* into the middle of a held descriptor */
	zassert_equal(msg_unref(mid), -EFAULT);
	zassert_equal(msg_ref(mid), -EFAULT);
	/* One past the end is not bi_refs' (it may start another object, even another pool's
	 * descriptors, depending on the link: only a pointer of no pool must be -EFAULT).
	 */
	pool_msg_t *end = &bi_refs_descs[ARRAY_SIZE(bi_refs_descs)];
	bool end_foreign = msg_pool_of(end) == NULL;

	zassert_not_equal(msg_pool_of(end), &bi_refs);
	if (end_foreign) {
		zassert_equal(msg_unref(end), -EFAULT);
	}
	CHECK_POOL(&bi_refs, 1);

	zassert_ok(msg_unref(p));
	CHECK_POOL(&bi_refs, 0);
	zassert_equal(msg_unref(p), -EALREADY); /* double unref */
	CHECK_POOL(&bi_refs, 0);
	zassert_equal(msg_ref(p), -EINVAL); /* ref of a free entry */
	CHECK_POOL(&bi_refs, 0);

	after_d = stats_of(&dispatcher_pool_default);
	after_p = stats_of(&bi_refs);
	/* NULL, &fake (and a foreign one-past-the-end) belong to no pool: the default pool
	 * counts them.
	 */
	zassert_equal(after_d.invalid_unrefs - before_d.invalid_unrefs, end_foreign ? 3 : 2);
	zassert_equal(after_d.invalid_refs - before_d.invalid_refs, 2);
	/* mid and the double unref / free ref are bi_refs' own entries. */
	zassert_equal(after_p.invalid_unrefs - before_p.invalid_unrefs, 2);
	zassert_equal(after_p.invalid_refs - before_p.invalid_refs, 2);
}

ZTEST(dispatcher_pool_bad_input, test_ref_saturation)
{
	pool_msg_t *p = alloc_with_len(&bi_sat, 0);
	long refs = 0;
	int rc;

	while ((rc = msg_ref(p)) == 0) {
		refs++;
	}
	zassert_equal(rc, -EOVERFLOW);
	zassert_equal(refs, 65534);
	zassert_equal(msg_ref(p), -EOVERFLOW); /* still refused, nothing wrapped */
	CHECK_POOL(&bi_sat, 1);
	for (long i = 0; i < refs; i++) {
		zassert_ok(msg_unref(p));
	}
	CHECK_POOL(&bi_sat, 1);
	zassert_ok(msg_unref(p));
	CHECK_POOL(&bi_sat, 0);
}

ZTEST(dispatcher_pool_bad_input, test_target_errors)
{
	msg_target_t zero;
	msg_target_t *zt = &zero;
	struct msg_target_stats ts;
	pool_msg_t *out = NULL;
	static dispatcher_msg_t value;
	static char json[512];

	default_ready();
	memset(&zero, 0, sizeof(zero));
	zassert_equal(msg_target_init(NULL, &ptr_q, DISPATCH_MODE_POINTER, 1), -EINVAL);
	zassert_equal(msg_target_init(&ptr_target, NULL, DISPATCH_MODE_POINTER, 1), -EINVAL);
	zassert_equal(msg_target_init(&ptr_target, &val_q, DISPATCH_MODE_POINTER, 1), -EINVAL);
	zassert_equal(msg_target_init(&val_target, &tiny_q, DISPATCH_MODE_VALUE, 2), -EINVAL);
	zassert_equal(msg_target_init(&ptr_target, &ptr_q, 0, 1), -EINVAL); /* no such mode */
	zassert_equal(msg_target_init(&ptr_target, &ptr_q, 3, 1), -EINVAL);
	zassert_ok(msg_target_init(&ptr_target, &ptr_q, DISPATCH_MODE_POINTER, 1));
	/* Whole dispatcher_msg_t items: accepted (a message of any pool fits). */
	zassert_ok(msg_target_init(&val_target, &val_q, DISPATCH_MODE_VALUE, 2));

	zassert_equal(msg_target_stats(&zero, &ts), -EINVAL); /* zeroed target */
	zassert_equal(msg_target_stats(NULL, &ts), -EINVAL);
	zassert_equal(msg_target_stats(&ptr_target, NULL), -EINVAL);
	zassert_equal(msg_receive(&zero, 0, &out, &value), -EINVAL);
	zassert_equal(msg_target_purge(&zero), -EINVAL);
	zassert_equal(pool_stats_json(json, sizeof(json), &zt, 1), -EINVAL);
	zassert_equal(msg_pool_stats_json_all(json, sizeof(json), &zt, 1), -EINVAL);
	zassert_equal(msg_module_process(&zero, 0, &value, NULL), -EINVAL);
	zassert_equal(msg_receive(&ptr_target, 0, &out, NULL), -EAGAIN);
	zassert_equal(msg_receive(&ptr_target, 0, NULL, NULL), -EINVAL);
	zassert_equal(msg_receive(&val_target, 0, &out, NULL), -EINVAL);
	zassert_equal(msg_receive(&val_target, 0, NULL, &value), -EAGAIN);

	/* A foreign pointer smuggled into a pointer queue. */
	pool_msg_t *bogus = (pool_msg_t *)&value;

	zassert_ok(k_msgq_put(&ptr_q, &bogus, K_NO_WAIT));
	zassert_equal(msg_receive(&ptr_target, 0, &out, NULL), -EFAULT);
	/* A pointer into a never-created pool's descriptors, likewise. */
	bogus = &bi_never_descs[1];
	zassert_ok(k_msgq_put(&ptr_q, &bogus, K_NO_WAIT));
	zassert_equal(msg_receive(&ptr_target, 0, &out, NULL), -EFAULT);
	CHECK_POOL(&dispatcher_pool_default, 0);
}

ZTEST(dispatcher_pool_bad_input, test_broadcast_errors)
{
	msg_target_t zero;
	msg_target_t *both[2] = {&ptr_target, &val_target};
	msg_target_t *with_zero[2] = {&ptr_target, &zero};
	msg_target_t *with_null[2] = {&ptr_target, NULL};
	struct pool_stats before = stats_of(&bi_bcast);
	pool_msg_t fake;
	pool_msg_t *p;

	memset(&zero, 0, sizeof(zero));
	/* Longer than this pool's 32 B payload, although within DISPATCHER_PAYLOAD_MAX. */
	p = alloc_with_len(&bi_bcast, 33);
	zassert_equal(msg_broadcast(p, both, 2), -EMSGSIZE);
	CHECK_POOL(&bi_bcast, 0);
	p = alloc_with_len(&bi_bcast, 1);
	zassert_equal(msg_broadcast(p, both, 0), -EINVAL); /* zero targets */
	CHECK_POOL(&bi_bcast, 0);
	p = alloc_with_len(&bi_bcast, 1);
	zassert_equal(msg_broadcast(p, NULL, 2), -EINVAL);
	CHECK_POOL(&bi_bcast, 0);
	p = alloc_with_len(&bi_bcast, 1);
	zassert_equal(msg_broadcast(p, with_zero, 2), -EINVAL); /* zeroed target */
	CHECK_POOL(&bi_bcast, 0);
	p = alloc_with_len(&bi_bcast, 1);
	zassert_equal(msg_broadcast(p, with_null, 2), -EINVAL);
	CHECK_POOL(&bi_bcast, 0);
	struct pool_stats mid = stats_of(&bi_bcast);

	zassert_equal(mid.pool_drop_count - before.pool_drop_count, 5);
	zassert_equal(mid.broadcasts - before.broadcasts, 0);

	zassert_equal(msg_broadcast(NULL, both, 2), -EINVAL);
	zassert_equal(msg_broadcast(&fake, both, 2), -EFAULT);
	zassert_equal(msg_broadcast(&bi_never_descs[0], both, 2), -EFAULT);
	zassert_equal(msg_broadcast(p, both, 2), -EINVAL); /* p is free now */
	zassert_equal(stats_of(&bi_bcast).pool_drop_count, mid.pool_drop_count);
	zassert_equal(msg_target_purge(&ptr_target), 0);
	CHECK_POOL(&bi_bcast, 0);
}

static struct {
	int alloc_timeout_rc;
	int alloc_forever_rc;
	pool_msg_t *blocking;
	int alloc_nowait_rc;
	int unref_rc;
	int broadcast_rc;
	int receive_rc;
} isr;

static void isr_fn(const void *arg)
{
	pool_msg_t *out = NULL;
	pool_msg_t *p;
	msg_target_t *targets[] = {&ptr_target};

	ARG_UNUSED(arg);
	isr.alloc_timeout_rc = pool_alloc(10, &out);
	isr.alloc_forever_rc = pool_alloc(-1, &out);
	isr.blocking = pool_alloc_blocking(10);
	isr.alloc_nowait_rc = pool_alloc(0, &out); /* no wait is allowed in an ISR */
	if (out != NULL) {
		isr.unref_rc = msg_unref(out);
	}
	p = pool_try_alloc();
	if (p != NULL) {
		p->msg->message_len = 0;
		isr.broadcast_rc = msg_broadcast(p, targets, 1);
	}
	isr.receive_rc = msg_receive(&ptr_target, 10, &out, NULL); /* timeout in ISR */
}

ZTEST(dispatcher_pool_bad_input, test_isr_rules)
{
	default_ready();
	memset(&isr, 0x55, sizeof(isr));
	irq_offload(isr_fn, NULL);
	zassert_equal(isr.alloc_timeout_rc, -EPERM);
	zassert_equal(isr.alloc_forever_rc, -EPERM);
	zassert_is_null(isr.blocking);
	zassert_ok(isr.alloc_nowait_rc);
	zassert_ok(isr.unref_rc);
	zassert_equal(isr.broadcast_rc, 1);
	TC_PRINT("msg_receive with a timeout in an ISR: %d\n", isr.receive_rc);
	zassert_equal(isr.receive_rc, -EPERM); /* no waiting in an ISR */
	zassert_equal(pool_alloc(0, NULL), -EINVAL);
	CHECK_POOL(&dispatcher_pool_default, 1);
	zassert_equal(msg_target_purge(&ptr_target), 1);
	CHECK_POOL(&dispatcher_pool_default, 0);
}

ZTEST(dispatcher_pool_bad_input, test_exhaustion)
{
	pool_msg_t *held[ENTRIES];
	pool_msg_t *out = NULL;
	struct pool_stats before;

	default_ready();
	for (int i = 0; i < ENTRIES; i++) {
		held[i] = pool_try_alloc();
		zassert_not_null(held[i]);
	}
	before = stats_of(&dispatcher_pool_default);
	zassert_is_null(pool_try_alloc());
	zassert_equal(pool_alloc(0, &out), -ENOMEM);
	zassert_equal(pool_alloc(30, &out), -EAGAIN);
	zassert_is_null(pool_try_alloc_or(POOL_FALLBACK_DROP));
	zassert_is_null(pool_try_alloc_or(POOL_FALLBACK_HEAP)); /* no heap slots configured */
	zassert_is_null(pool_try_alloc_or(7));                  /* not a policy: refused */
	struct pool_stats s = stats_of(&dispatcher_pool_default);

	TC_PRINT("alloc failures +%u, drops +%u\n", s.pool_alloc_failures - before.pool_alloc_failures,
		 s.pool_drop_count - before.pool_drop_count);
	zassert_equal(s.pool_alloc_failures - before.pool_alloc_failures, 5);
	CHECK_POOL(&dispatcher_pool_default, ENTRIES);
	/* Another pool is not affected by the default pool being empty. */
	pool_msg_t *other = msg_pool_try_alloc(&bi_refs);

	zassert_not_null(other);
	zassert_ok(msg_unref(other));
	for (int i = 0; i < ENTRIES; i++) {
		zassert_ok(msg_unref(held[i]));
	}
	CHECK_POOL(&dispatcher_pool_default, 0);
}

ZTEST_SUITE(dispatcher_pool_bad_input, NULL, NULL, before, after, NULL);
