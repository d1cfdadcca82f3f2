/*
 * dispatcher-pool on Zephyr with CONFIG_DISPATCHER_POOL_HEAP_FALLBACK_SLOTS=3: once the pool is
 * dry, pool_try_alloc_or(POOL_FALLBACK_HEAP) messages come from the kernel heap, are broadcast
 * to pointer and value targets, received (by another thread too) and freed back to the heap:
 * the heap's allocated bytes return to their start value. Also: no fallback while the pool has
 * entries, none beyond the slots, none when the heap runs dry midway, none in an ISR.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <string.h>

#include <zephyr/irq_offload.h>
#include <zephyr/kernel.h>
#include <zephyr/sys/sys_heap.h>
#include <zephyr/ztest.h>

#include "dispatcher_pool_zephyr.h"
#include "msg_pool.h"

#define ENTRIES CONFIG_DISPATCHER_POOL_ENTRIES
#define SLOTS   CONFIG_DISPATCHER_POOL_HEAP_FALLBACK_SLOTS
#define PAYLOAD CONFIG_DISPATCHER_POOL_PAYLOAD_SIZE

/* The kernel heap behind k_malloc/k_aligned_alloc (K_HEAP_DEFINE in kernel/mempool.c). */
extern struct k_heap _system_heap;

K_MSGQ_DEFINE(a_q, sizeof(pool_msg_t *), SLOTS, sizeof(void *));
K_MSGQ_DEFINE(b_q, sizeof(pool_msg_t *), SLOTS, sizeof(void *));
K_MSGQ_DEFINE(c_q, sizeof(dispatcher_msg_t), SLOTS, DISPATCHER_MSG_ALIGN);
static msg_target_t a_t, b_t, c_t;
static msg_target_t *const all[] = {&a_t, &b_t, &c_t};

static pool_msg_t *held[ENTRIES];

/* Target a is consumed by a thread of higher priority than the tests. */
static K_THREAD_STACK_DEFINE(consumer_stack, 2048);
static struct k_thread consumer_thread;
static atomic_t a_received, a_bad;

static size_t heap_allocated(void)
{
	struct sys_memory_stats st;

	zassert_ok(sys_heap_runtime_stats_get(&_system_heap.heap, &st));
	return st.allocated_bytes;
}

static struct pool_stats stats(void)
{
	struct pool_stats s;

	zassert_ok(pool_stats(&s));
	return s;
}

static bool in_region(const void *p)
{
	uintptr_t a = (uintptr_t)p, lo = (uintptr_t)dispatcher_pool_default.region;

	return a >= lo && a - lo < dispatcher_pool_default.region_bytes;
}

static void fill(dispatcher_msg_t *m, uint8_t seed)
{
	m->message_len = PAYLOAD;
	m->source = seed;
	for (int i = 0; i < PAYLOAD; i++) {
		m->data[i] = (uint8_t)(seed * 7 + i);
	}
}

static bool payload_ok(const dispatcher_msg_t *m)
{
	if (m->message_len != PAYLOAD) {
		return false;
	}
	for (int i = 0; i < PAYLOAD; i++) {
		if (m->data[i] != (uint8_t)(m->source * 7 + i)) {
			return false;
		}
	}
	return true;
}

static void consumer(void *a, void *b, void *c)
{
	ARG_UNUSED(a);
	ARG_UNUSED(b);
	ARG_UNUSED(c);
	for (;;) {
		pool_msg_t *p = NULL;

		if (msg_receive(&a_t, -1, &p, NULL) != 0) {
			atomic_inc(&a_bad);
			continue;
		}
		if (!payload_ok(p->msg)) {
			atomic_inc(&a_bad);
		}
		if (msg_unref(p) != 0) {
			atomic_inc(&a_bad);
		}
		atomic_inc(&a_received);
	}
}

static void *setup(void)
{
	static bool started;

	if (!started) {
		zassert_ok(msg_target_init(&a_t, &a_q, DISPATCH_MODE_POINTER, 1));
		zassert_ok(msg_target_init(&b_t, &b_q, DISPATCH_MODE_POINTER, 2));
		zassert_ok(msg_target_init(&c_t, &c_q, DISPATCH_MODE_VALUE, 3));
		k_thread_create(&consumer_thread, consumer_stack,
				K_THREAD_STACK_SIZEOF(consumer_stack), consumer, NULL, NULL, NULL,
				k_thread_priority_get(k_current_get()) - 1, 0, K_NO_WAIT);
		started = true;
	}
	return NULL;
}

static void take_every_entry(void)
{
	for (int i = 0; i < ENTRIES; i++) {
		held[i] = pool_try_alloc();
		zassert_not_null(held[i]);
		zassert_true(in_region(held[i]->msg));
	}
	zassert_is_null(pool_try_alloc(), "the pool is not dry");
}

static void before(void *f)
{
	ARG_UNUSED(f);
	atomic_clear(&a_received);
	atomic_clear(&a_bad);
}

static void after(void *f)
{
	struct pool_check_report r;

	ARG_UNUSED(f);
	/* A failed test may leave messages queued: release them so the next test starts clean. */
	(void)msg_target_purge(&b_t);
	(void)msg_target_purge(&c_t);
	for (int i = 0; i < ENTRIES; i++) {
		if (held[i] != NULL) {
			zassert_ok(msg_unref(held[i]));
			held[i] = NULL;
		}
	}
	zassert_ok(pool_check(&r));
	zassert_equal(r.held, 0);
	zassert_equal(r.heap_held, 0);
	zassert_equal(r.free, ENTRIES);
	zassert_equal(stats().pool_in_use, 0);
	zassert_equal(stats().fallback_in_use, 0);
}

ZTEST(dispatcher_pool_heap_fallback, test_dry_pool_messages_come_from_heap_and_go_back)
{
	struct pool_stats b = stats();
	size_t heap0 = heap_allocated();
	pool_msg_t *fb[SLOTS];
	struct pool_check_report r;
	static dispatcher_msg_t copy;

	take_every_entry();
	zassert_equal(heap_allocated(), heap0, "taking pool entries touched the heap");

	for (int i = 0; i < SLOTS; i++) {
		fb[i] = pool_try_alloc_or(POOL_FALLBACK_HEAP);
		zassert_not_null(fb[i], "fallback %d", i);
		zassert_false(in_region(fb[i]->msg), "fallback message inside the pool's region");
		zassert_equal((uintptr_t)fb[i]->msg % DISPATCHER_MSG_ALIGN, 0);
		zassert_equal(msg_pool_of(fb[i]), &dispatcher_pool_default);
		fill(fb[i]->msg, (uint8_t)(0x40 + i));
	}
	zassert_true(heap_allocated() >= heap0 + SLOTS * DISPATCHER_POOL_STRIDE(PAYLOAD),
		     "heap grew by %zu bytes only", heap_allocated() - heap0);
	/* Every slot in use: a further fallback is a counted drop, the heap is not asked. */
	size_t heap_full = heap_allocated();

	zassert_is_null(pool_try_alloc_or(POOL_FALLBACK_HEAP));
	zassert_equal(heap_allocated(), heap_full);
	zassert_equal(stats().pool_drop_count - b.pool_drop_count, 1);
	zassert_equal(stats().fallback_allocs - b.fallback_allocs, SLOTS);
	zassert_equal(stats().fallback_in_use, SLOTS);
	zassert_ok(pool_check(&r));
	zassert_equal(r.heap_held, SLOTS);
	zassert_equal(r.held, ENTRIES);

	for (int i = 0; i < SLOTS; i++) {
		zassert_equal(msg_broadcast(fb[i], all, ARRAY_SIZE(all)), 3);
	}
	/* a: the consumer thread takes and releases its references. */
	for (int i = 0; i < 1000 && atomic_get(&a_received) < SLOTS; i++) {
		k_msleep(1);
	}
	zassert_equal(atomic_get(&a_received), SLOTS);
	zassert_equal(atomic_get(&a_bad), 0);
	zassert_equal(stats().fallback_in_use, SLOTS, "freed while b still holds references");

	for (int i = 0; i < SLOTS; i++) {
		pool_msg_t *p = NULL;

		zassert_ok(msg_receive(&c_t, 0, NULL, &copy));
		zassert_true(payload_ok(&copy));
		zassert_equal(copy.source, 0x40 + i);
		zassert_ok(msg_receive(&b_t, 0, &p, NULL));
		zassert_equal(p, fb[i], "b: message %d out of order", i);
		zassert_true(payload_ok(p->msg));
		zassert_ok(msg_unref(p)); /* the last reference: back to the heap */
		zassert_equal(stats().fallback_in_use, SLOTS - 1 - i);
	}
	zassert_equal(heap_allocated(), heap0, "heap: %zu bytes allocated, %zu at the start",
		      heap_allocated(), heap0);
	zassert_equal(stats().pool_in_use, ENTRIES, "pool entries unaffected");
	zassert_equal(stats().invalid_unrefs, b.invalid_unrefs);
	zassert_equal(msg_unref(fb[0]), -EALREADY, "a freed fallback slot unref'd again");
}

ZTEST(dispatcher_pool_heap_fallback, test_undelivered_fallback_returns_to_heap)
{
	struct pool_stats b = stats();
	size_t heap0 = heap_allocated();
	pool_msg_t *p;

	take_every_entry();
	p = pool_try_alloc_or(POOL_FALLBACK_HEAP);
	zassert_not_null(p);
	fill(p->msg, 1);
	p->msg->message_len = PAYLOAD + 1; /* refused: the producer's reference is consumed */
	zassert_equal(msg_broadcast(p, all, ARRAY_SIZE(all)), -EMSGSIZE);
	zassert_equal(heap_allocated(), heap0);
	zassert_equal(stats().fallback_in_use, 0);
	zassert_equal(stats().pool_drop_count - b.pool_drop_count, 1);
	zassert_equal(atomic_get(&a_received), 0);
}

ZTEST(dispatcher_pool_heap_fallback, test_no_fallback_while_the_pool_has_entries)
{
	struct pool_stats b = stats();
	size_t heap0 = heap_allocated();
	pool_msg_t *p = pool_try_alloc_or(POOL_FALLBACK_HEAP);

	zassert_not_null(p);
	zassert_true(in_region(p->msg));
	zassert_equal(heap_allocated(), heap0);
	zassert_equal(stats().fallback_allocs, b.fallback_allocs);
	zassert_ok(msg_unref(p));
}

ZTEST(dispatcher_pool_heap_fallback, test_drop_policy_never_touches_the_heap)
{
	struct pool_stats b = stats();
	size_t heap0 = heap_allocated();

	take_every_entry();
	zassert_is_null(pool_try_alloc_or(POOL_FALLBACK_DROP));
	zassert_equal(heap_allocated(), heap0);
	zassert_equal(stats().fallback_allocs, b.fallback_allocs);
	zassert_equal(stats().pool_drop_count - b.pool_drop_count, 1);
}

ZTEST(dispatcher_pool_heap_fallback, test_heap_running_dry_is_a_drop)
{
	struct pool_stats b = stats();
	size_t heap0 = heap_allocated();
	void *hog[160];
	int n = 0;
	pool_msg_t *p;

	take_every_entry();
	/* Take the heap down to less than one message: chunks of 64 B, then of 8 B. */
	while (n < (int)ARRAY_SIZE(hog) && (hog[n] = k_malloc(64)) != NULL) {
		n++;
	}
	while (n < (int)ARRAY_SIZE(hog) && (hog[n] = k_malloc(8)) != NULL) {
		n++;
	}
	zassert_true(n < (int)ARRAY_SIZE(hog), "the heap did not run dry");
	zassert_is_null(pool_try_alloc_or(POOL_FALLBACK_HEAP), "fallback from a dry heap");
	zassert_equal(stats().pool_drop_count - b.pool_drop_count, 1);
	zassert_equal(stats().fallback_allocs, b.fallback_allocs);
	zassert_equal(stats().fallback_in_use, 0, "a slot stayed taken after the heap failed");
	zassert_ok(pool_check(NULL));

	/* The heap recovers: fallback works again, and gives its memory back. */
	while (n > 0) {
		k_free(hog[--n]);
	}
	zassert_equal(heap_allocated(), heap0);
	p = pool_try_alloc_or(POOL_FALLBACK_HEAP);
	zassert_not_null(p);
	zassert_ok(msg_unref(p));
	zassert_equal(heap_allocated(), heap0);
}

static pool_msg_t *isr_got;
static size_t isr_heap_before, isr_heap_after;

static void isr_fallback(const void *arg)
{
	ARG_UNUSED(arg);
	isr_got = pool_try_alloc_or(POOL_FALLBACK_HEAP);
}

ZTEST(dispatcher_pool_heap_fallback, test_no_heap_fallback_in_an_isr)
{
	struct pool_stats b = stats();

	take_every_entry();
	isr_heap_before = heap_allocated();
	isr_got = (pool_msg_t *)1;
	irq_offload(isr_fallback, NULL);
	isr_heap_after = heap_allocated();
	if (isr_got != NULL) {
		(void)msg_unref(isr_got); /* keep the next tests clean */
		zassert_unreachable("heap fallback allocated in an ISR");
	}
	zassert_equal(isr_heap_after, isr_heap_before);
	zassert_equal(stats().pool_drop_count - b.pool_drop_count, 1);
	zassert_equal(stats().fallback_in_use, 0);
}

ZTEST_SUITE(dispatcher_pool_heap_fallback, NULL, setup, before, after, NULL);
