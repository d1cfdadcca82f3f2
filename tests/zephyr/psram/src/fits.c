/*
 * dispatcher-pool on Zephyr with CONFIG_DISPATCHER_POOL_PSRAM=y and a shared multi-heap whose
 * SMH_REG_ATTR_EXTERNAL region is smh_buf: the default pool and a DISPATCHER_POOL_DEFINE_PSRAM
 * pool take their message regions from that buffer at boot (every message lies in it, the
 * descriptors do not), messages broadcast and receive from there, and the log says PSRAM.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <string.h>

#include <zephyr/kernel.h>
#include <zephyr/ztest.h>

#include "dispatcher_pool_zephyr.h"
#include "msg_pool.h"
#include "psram_test.h"

#define SMALL_ENTRIES 4
#define SMALL_PAYLOAD 32
DISPATCHER_POOL_DEFINE_PSRAM(psram_small, SMALL_ENTRIES, SMALL_PAYLOAD);

K_MSGQ_DEFINE(ptr_q, sizeof(pool_msg_t *), 4, sizeof(void *));
K_MSGQ_DEFINE(val_q, sizeof(dispatcher_msg_t), 2, DISPATCHER_MSG_ALIGN);
static msg_target_t ptr_t, val_t;
static msg_target_t *const both[] = {&ptr_t, &val_t};

static void check_idle(struct msg_pool *p, size_t entries)
{
	struct pool_check_report r;
	struct pool_stats s;

	zassert_ok(msg_pool_check(p, &r));
	zassert_equal(r.held, 0);
	zassert_equal(r.free, entries);
	zassert_ok(msg_pool_stats(p, &s));
	zassert_equal(s.pool_in_use, 0);
}

static void after(void *f)
{
	ARG_UNUSED(f);
	check_idle(&dispatcher_pool_default, CONFIG_DISPATCHER_POOL_ENTRIES);
	check_idle(&psram_small, SMALL_ENTRIES);
}

ZTEST(dispatcher_pool_psram, test_boot_took_regions_from_external_heap)
{
	const uint8_t *a = dispatcher_pool_default.region;
	const uint8_t *b = psram_small.region;

	zassert_ok(smh_add_rc, "shared_multi_heap_add: %d", smh_add_rc);
	zassert_ok(dispatcher_pool_boot_status());
	zassert_str_equal(DISPATCHER_POOL_PLACEMENT_PSRAM, "PSRAM (shared multi-heap)");
	zassert_str_equal(dispatcher_pool_default.placement, DISPATCHER_POOL_PLACEMENT_PSRAM);
	zassert_str_equal(psram_small.placement, DISPATCHER_POOL_PLACEMENT_PSRAM);

	zassert_equal(dispatcher_pool_default.region_bytes, DEFAULT_REGION_BYTES);
	zassert_equal(psram_small.region_bytes,
		      SMALL_ENTRIES * DISPATCHER_POOL_STRIDE(SMALL_PAYLOAD));
	zassert_true(in_smh_buf(a, dispatcher_pool_default.region_bytes),
		     "default region %p not in %p+%zu", a, smh_buf, smh_buf_bytes);
	zassert_true(in_smh_buf(b, psram_small.region_bytes), "psram_small region %p not in %p+%zu",
		     b, smh_buf, smh_buf_bytes);
	zassert_true(a + dispatcher_pool_default.region_bytes <= b ||
			     b + psram_small.region_bytes <= a,
		     "the two regions overlap");
	zassert_equal((uintptr_t)a % DISPATCHER_MSG_ALIGN, 0);
	zassert_equal((uintptr_t)b % DISPATCHER_MSG_ALIGN, 0);

	/* Descriptors (refcounts, free-list links: atomics) stay in internal RAM. */
	zassert_false(in_smh_buf(dispatcher_pool_default.descs, sizeof(pool_msg_t)));
	zassert_false(in_smh_buf(psram_small.descs, sizeof(pool_msg_t)));
}

static void every_entry_in_external_ram(struct msg_pool *pool, size_t entries, size_t payload)
{
	pool_msg_t *held[CONFIG_DISPATCHER_POOL_ENTRIES];
	size_t stride = DISPATCHER_POOL_STRIDE(payload);
	const uint8_t *region = pool->region;

	zassert_true(entries <= ARRAY_SIZE(held));
	for (size_t i = 0; i < entries; i++) {
		held[i] = msg_pool_try_alloc(pool);
		zassert_not_null(held[i], "%s: entry %zu", pool->name, i);
		zassert_true(in_smh_buf(held[i]->msg, stride), "%s: message %p not in %p+%zu",
			     pool->name, (void *)held[i]->msg, smh_buf, smh_buf_bytes);
		zassert_equal(((const uint8_t *)held[i]->msg - region) % stride, 0);
		zassert_false(in_smh_buf(held[i], sizeof(pool_msg_t)));
		for (size_t j = 0; j < i; j++) {
			zassert_not_equal(held[i]->msg, held[j]->msg);
		}
		/* Writable over its whole payload. */
		memset(held[i]->msg->data, (int)(0xA0 + i), payload);
	}
	zassert_is_null(msg_pool_try_alloc(pool), "%s: more entries than defined", pool->name);
	for (size_t i = 0; i < entries; i++) {
		zassert_equal(held[i]->msg->data[payload - 1], (uint8_t)(0xA0 + i));
		zassert_ok(msg_unref(held[i]));
	}
}

ZTEST(dispatcher_pool_psram, test_every_message_is_in_external_ram)
{
	every_entry_in_external_ram(&dispatcher_pool_default, CONFIG_DISPATCHER_POOL_ENTRIES,
				    CONFIG_DISPATCHER_POOL_PAYLOAD_SIZE);
	every_entry_in_external_ram(&psram_small, SMALL_ENTRIES, SMALL_PAYLOAD);
}

static void round_trip(struct msg_pool *pool, size_t len)
{
	static dispatcher_msg_t copy;
	pool_msg_t *p = msg_pool_try_alloc(pool);
	pool_msg_t *got = NULL;

	zassert_not_null(p);
	p->msg->message_len = len;
	p->msg->source = 7;
	for (size_t i = 0; i < len; i++) {
		p->msg->data[i] = (uint8_t)(i * 13 + len);
	}
	zassert_equal(msg_broadcast(p, both, ARRAY_SIZE(both)), 2);

	zassert_ok(msg_receive(&ptr_t, 0, &got, NULL));
	zassert_equal(got, p, "pointer target got another entry");
	zassert_true(in_smh_buf(got->msg, DISPATCHER_POOL_STRIDE(len)));
	zassert_ok(msg_receive(&val_t, 0, NULL, &copy));
	zassert_equal(copy.message_len, len);
	zassert_equal(copy.source, 7);
	zassert_mem_equal(copy.data, got->msg->data, len);
	for (size_t i = 0; i < len; i++) {
		zassert_equal(copy.data[i], (uint8_t)(i * 13 + len));
	}
	zassert_ok(msg_unref(got));
}

ZTEST(dispatcher_pool_psram, test_broadcast_and_receive_from_external_ram)
{
	zassert_ok(msg_target_init(&ptr_t, &ptr_q, DISPATCH_MODE_POINTER, 1));
	zassert_ok(msg_target_init(&val_t, &val_q, DISPATCH_MODE_VALUE, 2));
	round_trip(&dispatcher_pool_default, CONFIG_DISPATCHER_POOL_PAYLOAD_SIZE);
	round_trip(&psram_small, SMALL_PAYLOAD);
}

ZTEST(dispatcher_pool_psram, test_log_says_psram)
{
	zassert_true(log_has_line("pool default: ", "in PSRAM (shared multi-heap)"),
		     "no boot log line placing the default pool in PSRAM");
	zassert_true(log_has_line("pool psram_small: ", "in PSRAM (shared multi-heap)"),
		     "no boot log line placing psram_small in PSRAM");
	zassert_false(log_has_line("pool ", "failed"), "a pool failed at boot");
}

ZTEST_SUITE(dispatcher_pool_psram, NULL, NULL, NULL, after, NULL);
