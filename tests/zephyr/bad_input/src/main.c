/*
 * dispatcher-pool on Zephyr: every class of bad input of the C API, on target, with its exact
 * errno (Zephyr's errno.h), and pool_check after each. The host version is
 * tests/c/test_bad_input.c. Tests run in name order (test_0_..., test_1_...): the first ones
 * need the pool uninitialised.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <string.h>

#include <zephyr/irq_offload.h>
#include <zephyr/kernel.h>
#include <zephyr/ztest.h>

#include "dispatcher_module.h"
#include "dispatcher_pool.h"

#define ENTRIES CONFIG_DISPATCHER_POOL_ENTRIES
#define PAYLOAD CONFIG_DISPATCHER_POOL_PAYLOAD_SIZE

K_MSGQ_DEFINE(ptr_q, sizeof(pool_msg_t *), 4, sizeof(void *));
K_MSGQ_DEFINE(val_q, sizeof(dispatcher_msg_t), 2, sizeof(void *));
K_MSGQ_DEFINE(tiny_q, 4, 2, 4);
static dispatch_target_t ptr_target, val_target;

static struct pool_stats stats(void)
{
	struct pool_stats s;

	zassert_ok(pool_stats(&s));
	return s;
}

static void check_pool_at(size_t held, int line)
{
	struct pool_check_report r;
	int rc = pool_check(&r);

	zassert_ok(rc, "line %d: pool_check %d", line, rc);
	zassert_equal(r.held, held, "line %d: held %zu, expected %zu", line, r.held, held);
	zassert_equal(r.free + r.held, ENTRIES, "line %d", line);
}
#define CHECK_POOL(held) check_pool_at((held), __LINE__)

static pool_msg_t *alloc_with_len(uint32_t len)
{
	pool_msg_t *p = pool_try_alloc();

	zassert_not_null(p);
	p->msg->message_len = len;
	return p;
}

ZTEST(dispatcher_pool_bad_input, test_0_calls_before_init)
{
	pool_msg_t *out = (pool_msg_t *)1;
	dispatch_target_t zero;
	dispatch_target_t *zt = &zero;
	struct pool_stats s;
	struct pool_check_report r;
	char buf[64];

	memset(&zero, 0, sizeof(zero));
	zassert_is_null(pool_try_alloc());
	zassert_is_null(pool_alloc_blocking(10));
	zassert_equal(pool_alloc(0, &out), -ENODEV);
	zassert_is_null(out);
	zassert_equal(pool_alloc(10, &out), -ENODEV);
	zassert_equal(msg_ref(NULL), -ENODEV);
	zassert_equal(msg_unref(NULL), -ENODEV);
	zassert_equal(pool_stats(&s), -ENODEV);
	zassert_equal(pool_check(&r), -ENODEV);
	zassert_equal(pool_leaks(0, NULL, 0), -ENODEV);
	zassert_equal(pool_stats_json(buf, sizeof(buf), NULL, 0), -ENODEV);
	zassert_equal(dispatcher_broadcast_ptr(NULL, &zt, 1), -ENODEV);
}

ZTEST(dispatcher_pool_bad_input, test_1_init_errors_and_twice)
{
	struct pool_config too_many_slots = {.entries = 8, .payload_size = 8, .heap_slots = 65};
	struct pool_config cfg = {.entries = ENTRIES, .payload_size = PAYLOAD, .heap_slots = 0};
	struct pool_stats s;

	zassert_true(DISPATCHER_POOL_ABI_OK());
	zassert_equal(pool_init(0, 64), -EINVAL);
	zassert_equal(pool_init(1025, 64), -EINVAL);
	zassert_equal(pool_init(8, 0), -EINVAL);
	zassert_equal(pool_init(8, DISPATCHER_PAYLOAD_MAX + 1), -EINVAL);
	zassert_equal(pool_init_ex(NULL), -EINVAL);
	zassert_equal(pool_init_ex(&too_many_slots), -EINVAL);
	zassert_equal(pool_check(NULL), -ENODEV);

	zassert_ok(pool_init_ex(&cfg));
	zassert_equal(pool_init(ENTRIES, 64), -EALREADY);
	zassert_equal(pool_init_ex(&cfg), -EALREADY);
	s = stats();
	zassert_equal(s.pool_total, ENTRIES);
	zassert_equal(s.payload_size, PAYLOAD);
	zassert_false(s.region_external);
	CHECK_POOL(0);
}

ZTEST(dispatcher_pool_bad_input, test_2_ref_unref_errors)
{
	struct pool_stats before = stats();
	pool_msg_t fake;
	pool_msg_t *p, *mid;

	zassert_equal(msg_unref(NULL), -EINVAL);
	zassert_equal(msg_ref(NULL), -EINVAL);
	CHECK_POOL(0);

	memset(&fake, 0, sizeof(fake)); /* foreign: a pool_msg_t on the stack */
	zassert_equal(msg_unref(&fake), -EFAULT);
	zassert_equal(msg_ref(&fake), -EFAULT);
	CHECK_POOL(0);

	p = alloc_with_len(0);
	mid = (pool_msg_t *)((char *)p + 4); /* into the middle of a held descriptor */
	zassert_equal(msg_unref(mid), -EFAULT);
	zassert_equal(msg_ref(mid), -EFAULT);
	CHECK_POOL(1);

	zassert_ok(msg_unref(p));
	CHECK_POOL(0);
	zassert_equal(msg_unref(p), -EALREADY); /* double unref */
	CHECK_POOL(0);
	zassert_equal(msg_ref(p), -EINVAL); /* ref of a free entry */
	CHECK_POOL(0);

	struct pool_stats after = stats();

	zassert_equal(after.invalid_unrefs - before.invalid_unrefs, 4);
	zassert_equal(after.invalid_refs - before.invalid_refs, 4);
}

ZTEST(dispatcher_pool_bad_input, test_3_ref_saturation)
{
	pool_msg_t *p = alloc_with_len(0);
	long refs = 0;
	int rc;

	while ((rc = msg_ref(p)) == 0) {
		refs++;
	}
	zassert_equal(rc, -EOVERFLOW);
	zassert_equal(refs, 65534);
	zassert_equal(msg_ref(p), -EOVERFLOW); /* still refused, nothing wrapped */
	CHECK_POOL(1);
	for (long i = 0; i < refs; i++) {
		zassert_ok(msg_unref(p));
	}
	CHECK_POOL(1);
	zassert_ok(msg_unref(p));
	CHECK_POOL(0);
}

ZTEST(dispatcher_pool_bad_input, test_4_target_errors)
{
	dispatch_target_t zero;
	dispatch_target_t *zt = &zero;
	struct dispatch_target_stats ts;
	pool_msg_t *out = NULL;
	static dispatcher_msg_t value;
	static char json[512];

	memset(&zero, 0, sizeof(zero));
	zassert_equal(dispatch_target_init(NULL, &ptr_q, DISPATCH_MODE_POINTER, 1), -EINVAL);
	zassert_equal(dispatch_target_init(&ptr_target, NULL, DISPATCH_MODE_POINTER, 1), -EINVAL);
	zassert_equal(dispatch_target_init(&ptr_target, &val_q, DISPATCH_MODE_POINTER, 1), -EINVAL);
	zassert_equal(dispatch_target_init(&val_target, &tiny_q, DISPATCH_MODE_VALUE, 2), -EINVAL);
	zassert_ok(dispatch_target_init(&ptr_target, &ptr_q, DISPATCH_MODE_POINTER, 1));
	/* Whole dispatcher_msg_t items: accepted (PAYLOAD == DISPATCHER_PAYLOAD_MAX here). */
	zassert_ok(dispatch_target_init(&val_target, &val_q, DISPATCH_MODE_VALUE, 2));

	zassert_equal(dispatch_target_stats(&zero, &ts), -EINVAL); /* zeroed target */
	zassert_equal(dispatch_target_stats(NULL, &ts), -EINVAL);
	zassert_equal(dispatch_target_stats(&ptr_target, NULL), -EINVAL);
	zassert_equal(dispatcher_receive(&zero, 0, &out, &value), -EINVAL);
	zassert_equal(dispatch_target_purge(&zero), -EINVAL);
	zassert_equal(pool_stats_json(json, sizeof(json), &zt, 1), -EINVAL);
	zassert_equal(dispatcher_module_process(&zero, 0, &value, NULL), -EINVAL);
	zassert_equal(dispatcher_receive(&ptr_target, 0, &out, NULL), -EAGAIN);
	zassert_equal(dispatcher_receive(&ptr_target, 0, NULL, NULL), -EINVAL);
	zassert_equal(dispatcher_receive(&val_target, 0, &out, NULL), -EINVAL);
	zassert_equal(dispatcher_receive(&val_target, 0, NULL, &value), -EAGAIN);

	/* A foreign pointer smuggled into a pointer queue. */
	pool_msg_t *bogus = (pool_msg_t *)&value;

	zassert_ok(k_msgq_put(&ptr_q, &bogus, K_NO_WAIT));
	zassert_equal(dispatcher_receive(&ptr_target, 0, &out, NULL), -EFAULT);
	CHECK_POOL(0);
}

ZTEST(dispatcher_pool_bad_input, test_5_broadcast_errors)
{
	dispatch_target_t zero;
	dispatch_target_t *both[2] = {&ptr_target, &val_target};
	dispatch_target_t *with_zero[2] = {&ptr_target, &zero};
	dispatch_target_t *with_null[2] = {&ptr_target, NULL};
	struct pool_stats before = stats();
	pool_msg_t fake;
	pool_msg_t *p;

	memset(&zero, 0, sizeof(zero));
	p = alloc_with_len(PAYLOAD + 1); /* oversized message_len */
	zassert_equal(dispatcher_broadcast_ptr(p, both, 2), -EMSGSIZE);
	CHECK_POOL(0);
	p = alloc_with_len(1);
	zassert_equal(dispatcher_broadcast_ptr(p, both, 0), -EINVAL); /* zero targets */
	CHECK_POOL(0);
	p = alloc_with_len(1);
	zassert_equal(dispatcher_broadcast_ptr(p, NULL, 2), -EINVAL);
	CHECK_POOL(0);
	p = alloc_with_len(1);
	zassert_equal(dispatcher_broadcast_ptr(p, with_zero, 2), -EINVAL); /* zeroed target */
	CHECK_POOL(0);
	p = alloc_with_len(1);
	zassert_equal(dispatcher_broadcast_ptr(p, with_null, 2), -EINVAL);
	CHECK_POOL(0);
	struct pool_stats mid = stats();

	zassert_equal(mid.pool_drop_count - before.pool_drop_count, 5);
	zassert_equal(mid.broadcasts - before.broadcasts, 0);

	zassert_equal(dispatcher_broadcast_ptr(NULL, both, 2), -EINVAL);
	zassert_equal(dispatcher_broadcast_ptr(&fake, both, 2), -EFAULT);
	zassert_equal(dispatcher_broadcast_ptr(p, both, 2), -EINVAL); /* p is free now */
	zassert_equal(stats().pool_drop_count, mid.pool_drop_count);
	zassert_equal(dispatch_target_purge(&ptr_target), 0);
	CHECK_POOL(0);
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
	dispatch_target_t *targets[] = {&ptr_target};

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
		isr.broadcast_rc = dispatcher_broadcast_ptr(p, targets, 1);
	}
	isr.receive_rc = dispatcher_receive(&ptr_target, 10, &out, NULL); /* timeout in ISR */
}

ZTEST(dispatcher_pool_bad_input, test_6_isr_rules)
{
	memset(&isr, 0x55, sizeof(isr));
	irq_offload(isr_fn, NULL);
	zassert_equal(isr.alloc_timeout_rc, -EPERM);
	zassert_equal(isr.alloc_forever_rc, -EPERM);
	zassert_is_null(isr.blocking);
	zassert_ok(isr.alloc_nowait_rc);
	zassert_ok(isr.unref_rc);
	zassert_equal(isr.broadcast_rc, 1);
	TC_PRINT("dispatcher_receive with a timeout in an ISR: %d\n", isr.receive_rc);
	zassert_equal(isr.receive_rc, -EPERM); /* no waiting in an ISR */
	zassert_equal(pool_alloc(0, NULL), -EINVAL);
	CHECK_POOL(1);
	zassert_equal(dispatch_target_purge(&ptr_target), 1);
	CHECK_POOL(0);
}

ZTEST(dispatcher_pool_bad_input, test_7_exhaustion)
{
	pool_msg_t *held[ENTRIES];
	pool_msg_t *out = NULL;
	struct pool_stats before;

	for (int i = 0; i < ENTRIES; i++) {
		held[i] = pool_try_alloc();
		zassert_not_null(held[i]);
	}
	before = stats();
	zassert_is_null(pool_try_alloc());
	zassert_equal(pool_alloc(0, &out), -ENOMEM);
	zassert_equal(pool_alloc(30, &out), -EAGAIN);
	zassert_is_null(pool_try_alloc_or(POOL_FALLBACK_DROP));
	zassert_is_null(pool_try_alloc_or(POOL_FALLBACK_HEAP)); /* no heap slots configured */
	TC_PRINT("alloc failures +%u, drops +%u\n",
		 stats().pool_alloc_failures - before.pool_alloc_failures,
		 stats().pool_drop_count - before.pool_drop_count);
	zassert_equal(stats().pool_alloc_failures - before.pool_alloc_failures, 5);
	CHECK_POOL(ENTRIES);
	for (int i = 0; i < ENTRIES; i++) {
		zassert_ok(msg_unref(held[i]));
	}
	CHECK_POOL(0);
}

ZTEST_SUITE(dispatcher_pool_bad_input, NULL, NULL, NULL, NULL, NULL);
