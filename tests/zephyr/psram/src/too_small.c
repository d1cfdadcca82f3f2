/*
 * dispatcher-pool on Zephyr with CONFIG_DISPATCHER_POOL_PSRAM=y and a shared multi-heap whose
 * external region (smh_buf) is half the default pool's message region: the boot hook's
 * allocation fails, the default pool is not created (-ENOMEM, logged, every call on it
 * -ENODEV/NULL), and the boot goes on: the other pool is created and works, the heap is intact.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <zephyr/kernel.h>
#include <zephyr/multi_heap/shared_multi_heap.h>
#include <zephyr/ztest.h>

#include "dispatcher_pool_zephyr.h"
#include "msg_pool.h"
#include "psram_test.h"

BUILD_ASSERT(DEFAULT_REGION_BYTES / 2 < DEFAULT_REGION_BYTES, "region too small to halve");

DISPATCHER_POOL_DEFINE(internal_pool, 4, 32);

/* A PSRAM pool whose region fits in the heap but whose config msg_pool_init refuses (payload
 * above DISPATCHER_PAYLOAD_MAX): the hook takes the region, the init fails with -EINVAL, and
 * the region must go back to the heap. Named to sort after the default pool in the section,
 * so the boot status stays the default pool's -ENOMEM.
 */
DISPATCHER_POOL_DEFINE_PSRAM(zz_bad_psram, 2, DISPATCHER_PAYLOAD_MAX + 1);

K_MSGQ_DEFINE(ptr_q, sizeof(pool_msg_t *), 4, sizeof(void *));
static msg_target_t ptr_t;
static msg_target_t *const one[] = {&ptr_t};

ZTEST(dispatcher_pool_psram_too_small, test_default_pool_not_created)
{
	struct pool_stats s;
	pool_msg_t *p = (pool_msg_t *)1;

	zassert_ok(smh_add_rc, "shared_multi_heap_add: %d", smh_add_rc);
	zassert_equal(dispatcher_pool_boot_status(), -ENOMEM);
	zassert_is_null(dispatcher_pool_default.region, "a region was kept");
	zassert_equal(pool_stats(&s), -ENODEV);
	zassert_equal(msg_pool_stats(&dispatcher_pool_default, &s), -ENODEV);
	zassert_is_null(pool_try_alloc());
	zassert_equal(pool_alloc(0, &p), -ENODEV);
	zassert_is_null(p);
	zassert_equal(pool_check(NULL), -ENODEV);
}

ZTEST(dispatcher_pool_psram_too_small, test_log_says_heap_too_small)
{
	zassert_true(log_has_line("pool default: shared_multi_heap_aligned_alloc(EXTERNAL",
				  "failed (PSRAM heap too small?); pool not created"),
		     "no boot log line for the failed PSRAM allocation");
	zassert_true(log_has_line("pool internal_pool: ", "in internal RAM (static)"));
}

ZTEST(dispatcher_pool_psram_too_small, test_boot_went_on)
{
	struct pool_check_report r;
	pool_msg_t *p, *got = NULL;
	void *block;

	/* The other pool was created after the failure, and works. */
	zassert_ok(msg_target_init(&ptr_t, &ptr_q, DISPATCH_MODE_POINTER, 1));
	p = msg_pool_try_alloc(&internal_pool);
	zassert_not_null(p);
	zassert_false(in_smh_buf(p->msg, 1));
	p->msg->message_len = 3;
	p->msg->data[2] = 0x5C;
	zassert_equal(msg_broadcast(p, one, 1), 1);
	zassert_ok(msg_receive(&ptr_t, 0, &got, NULL));
	zassert_equal(got, p);
	zassert_equal(got->msg->data[2], 0x5C);
	zassert_ok(msg_unref(got));
	zassert_ok(msg_pool_check(&internal_pool, &r));
	zassert_equal(r.held, 0);
	zassert_equal(r.free, 4);

	/* The external heap is still usable: the failed attempt took nothing. */
	block = shared_multi_heap_alloc(SMH_REG_ATTR_EXTERNAL, smh_buf_bytes / 4);
	zassert_not_null(block);
	zassert_true(in_smh_buf(block, smh_buf_bytes / 4));
	shared_multi_heap_free(block);
}

ZTEST(dispatcher_pool_psram_too_small, test_refused_pool_gives_its_region_back)
{
	struct pool_stats s;
	void *block;

	zassert_true(DP_PRIV_REGION_BYTES(2, DISPATCHER_PAYLOAD_MAX + 1) > smh_buf_bytes / 2,
		     "the bad pool's region must be big enough for a leak to show");
	zassert_equal(msg_pool_stats(&zz_bad_psram, &s), -ENODEV);
	zassert_is_null(zz_bad_psram.region, "the refused pool kept its PSRAM region");
	zassert_true(log_has_line("pool zz_bad_psram: msg_pool_init(", "failed: -22"));
	/* Half the heap is free again: with the region leaked, this would not fit. */
	block = shared_multi_heap_alloc(SMH_REG_ATTR_EXTERNAL, smh_buf_bytes / 2);
	zassert_not_null(block, "the refused pool's region was not freed");
	shared_multi_heap_free(block);
}

ZTEST_SUITE(dispatcher_pool_psram_too_small, NULL, NULL, NULL, NULL, NULL);
