/*
 * Zephyr benchmark of issue 13: what one broadcast of a 1 KiB dispatcher message to N module
 * threads costs with each scheme a Zephyr user would pick, on real kernel objects.
 *
 *   value   the whole dispatcher_msg_t (header + 1 KiB) copied into N k_msgq and received
 *   ours    msg_pool_try_alloc, msg_broadcast by pointer through N k_msgq, msg_receive, msg_unref
 *   net_buf net_buf_alloc (NET_BUF_POOL_FIXED_DEFINE), net_buf_ref per target, the pointer
 *           through N k_msgq, net_buf_unref (a net_buf sits in one k_fifo at a time: see README)
 *   slab    k_mem_slab_alloc + an atomic_t refcount beside the message + N k_msgq of pointers
 *   zbus    zbus_chan_pub on one channel with N msg subscribers, zbus_sub_wait_msg
 *   fw      the firmware's scheme (fw_pool.c): k_mutex free list + counting k_sem, ref per put
 *   floor   a 4-byte token through N k_msgq: the kernel's put/get and thread switches alone
 *
 * Measurement: consumers are N threads (one per target) at a higher priority than the producer,
 * each blocked on its own queue. Every put readies its consumer, which preempts the producer,
 * receives, reads the header and releases, and blocks again before the producer goes on; so
 * when the producer's broadcast returns every consumer is done with the message, and the time
 * from before the allocation to after the producer's own release covers the whole life of the
 * message. A batch of ITERS broadcasts is timed with k_cycle_get_32() (SysTick); the cheapest of
 * REPS batches (interrupts only add) minus an empty batch, divided by ITERS, is reported, in
 * instructions: QEMU runs with -icount, so SysTick advances with the instruction count, and the
 * calibration below measures instructions per SysTick cycle with a loop of known length.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <string.h>

#include <zephyr/kernel.h>
#include <zephyr/net_buf.h>
#include <zephyr/sys/atomic.h>
#include <zephyr/sys/printk.h>
#include <zephyr/version.h>
#include <zephyr/zbus/zbus.h>

#include "msg_pool.h"
#include "dispatcher.h"
#include "dispatcher_pool.h"
#include "dispatcher_pool_zephyr.h"
#include "fw_pool.h"
#ifdef CONFIG_DISPATCHER_POOL_TIMING
#include "under_load.h"
#endif

#define NMAX        16
#define ITERS       16
#define REPS        5
#define WARMUP      4
#define AF_ITERS    64
#define ENTRIES     2
#define MSG_BYTES   sizeof(dispatcher_msg_t)
#define PAYLOAD     1024
#define CONS_PRIO   2
#define PROD_PRIO   5
#define STACK_BYTES 768

BUILD_ASSERT(DISPATCHER_PAYLOAD_MAX == PAYLOAD, "the benchmark's messages are 1 KiB");
BUILD_ASSERT(TARGET_MAX == NMAX, "modules.def lists one module per consumer");
#ifdef CONFIG_DISPATCHER_API
BUILD_ASSERT(CONFIG_DISPATCHER_STREAMING_PAYLOAD_SIZE == PAYLOAD, "streaming messages are 1 KiB");
#endif
BUILD_ASSERT(CONFIG_MAIN_THREAD_PRIORITY == PROD_PRIO, "producer priority");

static const uint8_t ns[] = {1, 4, 8, 16};
#define NN ARRAY_SIZE(ns)

/* ----- consumers' bookkeeping: every scheme reads the header the same way ------------------ */

static uint32_t got[NMAX];
static uint32_t sum[NMAX];

static inline void consume(int i, const dispatcher_msg_t *m)
{
	got[i]++;
	sum[i] += m->source;
}

/* The value sink: consumers run one at a time and finish before the next put, so one will do. */
static dispatcher_msg_t sink;
/* The producer's ready-built message for the copying schemes (value, zbus). */
static dispatcher_msg_t val_msg;

/* ----- (a) value ----------------------------------------------------------------------------- */

static char __aligned(4) val_buf[NMAX][MSG_BYTES];
static struct k_msgq val_q[NMAX];

/* ----- pointer queues shared by net_buf, slab, fw and floor ---------------------------------- */

static char __aligned(4) ptr_buf[NMAX][2 * sizeof(void *)];
static struct k_msgq ptr_q[NMAX];
static struct k_msgq *ptr_qs[NMAX];

/* ----- (b) ours ------------------------------------------------------------------------------ */

#define OURS (&dispatcher_pool_default)
static char __aligned(4) ours_buf[NMAX][2 * sizeof(void *)];
static struct k_msgq ours_q[NMAX];
static msg_target_t ours_t[NMAX];
static msg_target_t *ours_ts[NMAX];

/* ----- (g) ours through the dispatcher API (CONFIG_DISPATCHER_API; not in the timing scenario,
 * where 16 more targets with their timing state do not fit in RAM) --------------------------- */

#ifdef CONFIG_DISPATCHER_API
static char __aligned(4) disp_buf[NMAX][2 * sizeof(void *)];
static struct k_msgq disp_q[NMAX];
static msg_target_t *disp_t[NMAX];
#endif
/* Target lists of the first N module ids, sentinel-filled (one per N), for (g) and (h). */
static dispatch_target_t disp_ids[NMAX + 1][TARGET_MAX];

/* ----- (c) net_buf --------------------------------------------------------------------------- */

NET_BUF_POOL_FIXED_DEFINE(nb_pool, ENTRIES, MSG_BYTES, 0, NULL);

/* ----- (d) k_mem_slab + refcount ------------------------------------------------------------- */

struct slab_msg {
	atomic_t ref;
	dispatcher_msg_t msg;
};
K_MEM_SLAB_DEFINE_STATIC(slab, sizeof(struct slab_msg), ENTRIES, 4);

static inline void slab_unref(struct slab_msg *s)
{
	if (atomic_dec(&s->ref) == 1) {
		k_mem_slab_free(&slab, s);
	}
}

/* ----- (e) zbus: one channel per N, its first N of 16 msg subscribers -------------------------- */

ZBUS_MSG_SUBSCRIBER_DEFINE(zs0);
ZBUS_MSG_SUBSCRIBER_DEFINE(zs1);
ZBUS_MSG_SUBSCRIBER_DEFINE(zs2);
ZBUS_MSG_SUBSCRIBER_DEFINE(zs3);
ZBUS_MSG_SUBSCRIBER_DEFINE(zs4);
ZBUS_MSG_SUBSCRIBER_DEFINE(zs5);
ZBUS_MSG_SUBSCRIBER_DEFINE(zs6);
ZBUS_MSG_SUBSCRIBER_DEFINE(zs7);
ZBUS_MSG_SUBSCRIBER_DEFINE(zs8);
ZBUS_MSG_SUBSCRIBER_DEFINE(zs9);
ZBUS_MSG_SUBSCRIBER_DEFINE(zs10);
ZBUS_MSG_SUBSCRIBER_DEFINE(zs11);
ZBUS_MSG_SUBSCRIBER_DEFINE(zs12);
ZBUS_MSG_SUBSCRIBER_DEFINE(zs13);
ZBUS_MSG_SUBSCRIBER_DEFINE(zs14);
ZBUS_MSG_SUBSCRIBER_DEFINE(zs15);

ZBUS_CHAN_DEFINE(zc1, dispatcher_msg_t, NULL, NULL, ZBUS_OBSERVERS(zs0), ZBUS_MSG_INIT(0));
ZBUS_CHAN_DEFINE(zc4, dispatcher_msg_t, NULL, NULL, ZBUS_OBSERVERS(zs0, zs1, zs2, zs3),
		 ZBUS_MSG_INIT(0));
ZBUS_CHAN_DEFINE(zc8, dispatcher_msg_t, NULL, NULL,
		 ZBUS_OBSERVERS(zs0, zs1, zs2, zs3, zs4, zs5, zs6, zs7), ZBUS_MSG_INIT(0));
ZBUS_CHAN_DEFINE(zc16, dispatcher_msg_t, NULL, NULL,
		 ZBUS_OBSERVERS(zs0, zs1, zs2, zs3, zs4, zs5, zs6, zs7, zs8, zs9, zs10, zs11, zs12,
				zs13, zs14, zs15),
		 ZBUS_MSG_INIT(0));

static const struct zbus_observer *const zsubs[NMAX] = {
	&zs0, &zs1, &zs2,  &zs3,  &zs4,  &zs5,  &zs6,  &zs7,
	&zs8, &zs9, &zs10, &zs11, &zs12, &zs13, &zs14, &zs15,
};

static const struct zbus_channel *zchan_for(uint32_t n)
{
	switch (n) {
	case 1:
		return &zc1;
	case 4:
		return &zc4;
	case 8:
		return &zc8;
	default:
		return &zc16;
	}
}

/* ----- (f) the firmware's scheme ------------------------------------------------------------- */

static struct fw_pool fw;
static struct fw_entry fw_entries[ENTRIES];
static dispatcher_msg_t fw_msgs[ENTRIES];

/* ----- schemes ------------------------------------------------------------------------------- */

enum scheme { S_VALUE, S_OURS, S_NETBUF, S_SLAB, S_ZBUS, S_FW, S_DISP, S_FW_REG, S_FLOOR, S_COUNT };

static const char *const scheme_name[S_COUNT] = {
	[S_VALUE] = "(a) value: whole dispatcher_msg_t copied into N k_msgq",
	[S_OURS] = "(b) **ours**: alloc, msg_broadcast by pointer (N k_msgq), receive, unref",
	[S_NETBUF] = "(c) net_buf fixed pool, net_buf_ref per target, N k_msgq of pointers",
	[S_SLAB] = "(d) k_mem_slab + atomic refcount, N k_msgq of pointers",
	[S_ZBUS] = "(e) zbus: zbus_chan_pub, N msg subscribers, zbus_sub_wait_msg",
	[S_FW] = "(f) firmware scheme: k_mutex free list + k_sem, ref per put",
	[S_DISP] = "(g) **ours through the dispatcher API**: dispatcher_broadcast_ptr over the "
		   "registry, 3 pools",
	[S_FW_REG] = "(h) firmware scheme through its registry (TARGET_MAX ids scanned)",
	[S_FLOOR] = "floor: a 4-byte token through N k_msgq, nothing else",
};

static uint32_t errors;
static uint16_t seq;

/* Consumer i's work for one message of scheme s: receive (waiting up to `forever` or not at
 * all), read the header, release. Returns false when nothing was received.
 */
static bool consume_one(enum scheme s, int i, bool forever)
{
	k_timeout_t to = forever ? K_FOREVER : K_NO_WAIT;

	switch (s) {
	case S_VALUE:
		if (k_msgq_get(&val_q[i], &sink, to) != 0) {
			return false;
		}
		consume(i, &sink);
		return true;
	case S_OURS: {
		pool_msg_t *p;

		if (msg_receive(&ours_t[i], forever ? -1 : 0, &p, NULL) != 0) {
			return false;
		}
		consume(i, p->msg);
		if (msg_unref(p) != 0) {
			errors++;
		}
		return true;
	}
#ifdef CONFIG_DISPATCHER_API
	case S_DISP: {
		pool_msg_t *p;

		if (msg_receive(disp_t[i], forever ? -1 : 0, &p, NULL) != 0) {
			return false;
		}
		consume(i, p->msg);
		if (msg_unref(p) != 0) {
			errors++;
		}
		return true;
	}
#endif
	case S_NETBUF: {
		struct net_buf *b;

		if (k_msgq_get(&ptr_q[i], &b, to) != 0) {
			return false;
		}
		consume(i, (const dispatcher_msg_t *)b->data);
		net_buf_unref(b);
		return true;
	}
	case S_SLAB: {
		struct slab_msg *m;

		if (k_msgq_get(&ptr_q[i], &m, to) != 0) {
			return false;
		}
		consume(i, &m->msg);
		slab_unref(m);
		return true;
	}
	case S_ZBUS: {
		const struct zbus_channel *c;

		if (zbus_sub_wait_msg(zsubs[i], &c, &sink, to) != 0) {
			return false;
		}
		consume(i, &sink);
		return true;
	}
	case S_FW:
	case S_FW_REG: {
		struct fw_entry *e;

		if (k_msgq_get(&ptr_q[i], &e, to) != 0) {
			return false;
		}
		consume(i, e->msg);
		fw_pool_unref(e);
		return true;
	}
	case S_FLOOR: {
		uintptr_t tok;

		if (k_msgq_get(&ptr_q[i], &tok, to) != 0) {
			return false;
		}
		got[i]++;
		sum[i] += (uint16_t)tok;
		return true;
	}
	default:
		return false;
	}
}

static void consumer(void *p1, void *p2, void *p3)
{
	enum scheme s = (enum scheme)(uintptr_t)p1;
	int i = (int)(uintptr_t)p2;

	ARG_UNUSED(p3);
	for (;;) {
		if (!consume_one(s, i, true)) {
			errors++;
		}
	}
}

/* One broadcast of message `seq` to targets 0..n-1, the producer's reference released. */
static void broadcast(enum scheme s, uint32_t n)
{
	seq++;
	switch (s) {
	case S_VALUE:
		val_msg.source = seq;
		val_msg.message_len = PAYLOAD;
		for (uint32_t i = 0; i < n; i++) {
			if (k_msgq_put(&val_q[i], &val_msg, K_NO_WAIT) != 0) {
				errors++;
			}
		}
		break;
	case S_OURS: {
		pool_msg_t *p = msg_pool_try_alloc(OURS);

		if (p == NULL) {
			errors++;
			break;
		}
		p->msg->source = seq;
		p->msg->message_len = PAYLOAD;
		if (msg_broadcast(p, ours_ts, n) != (int)n) {
			errors++;
		}
		break;
	}
	case S_NETBUF: {
		struct net_buf *b = net_buf_alloc(&nb_pool, K_NO_WAIT);
		dispatcher_msg_t *m;

		if (b == NULL) {
			errors++;
			break;
		}
		m = net_buf_add(b, MSG_BYTES);
		m->source = seq;
		m->message_len = PAYLOAD;
		for (uint32_t i = 0; i < n; i++) {
			struct net_buf *r = net_buf_ref(b);

			if (k_msgq_put(&ptr_q[i], &r, K_NO_WAIT) != 0) {
				net_buf_unref(r);
				errors++;
			}
		}
		net_buf_unref(b);
		break;
	}
	case S_SLAB: {
		void *blk;
		struct slab_msg *m;

		if (k_mem_slab_alloc(&slab, &blk, K_NO_WAIT) != 0) {
			errors++;
			break;
		}
		m = blk;
		atomic_set(&m->ref, 1);
		m->msg.source = seq;
		m->msg.message_len = PAYLOAD;
		for (uint32_t i = 0; i < n; i++) {
			atomic_inc(&m->ref);
			if (k_msgq_put(&ptr_q[i], &m, K_NO_WAIT) != 0) {
				slab_unref(m);
				errors++;
			}
		}
		slab_unref(m);
		break;
	}
	case S_ZBUS:
		val_msg.source = seq;
		val_msg.message_len = PAYLOAD;
		if (zbus_chan_pub(zchan_for(n), &val_msg, K_NO_WAIT) != 0) {
			errors++;
		}
		break;
	case S_FW: {
		struct fw_entry *e = fw_pool_try_alloc(&fw);

		if (e == NULL) {
			errors++;
			break;
		}
		e->msg->source = seq;
		e->msg->message_len = PAYLOAD;
		if (fw_broadcast(e, ptr_qs, n) != (int)n) {
			errors++;
		}
		break;
	}
#ifdef CONFIG_DISPATCHER_API
	case S_DISP: {
		pool_msg_t *p = dispatcher_pool_try_alloc(DISPATCHER_POOL_STREAMING);

		if (p == NULL) {
			errors++;
			break;
		}
		p->msg->source = seq;
		p->msg->message_len = PAYLOAD;
		if (dispatcher_broadcast_ptr(p, disp_ids[n]) != (int)n) {
			errors++;
		}
		break;
	}
#endif
	case S_FW_REG: {
		struct fw_entry *e = fw_pool_try_alloc(&fw);

		if (e == NULL) {
			errors++;
			break;
		}
		e->msg->source = seq;
		e->msg->message_len = PAYLOAD;
		if (fw_dispatch(e, disp_ids[n]) != (int)n) {
			errors++;
		}
		break;
	}
	case S_FLOOR:
		for (uint32_t i = 0; i < n; i++) {
			uintptr_t tok = seq;

			if (k_msgq_put(&ptr_q[i], &tok, K_NO_WAIT) != 0) {
				errors++;
			}
		}
		break;
	default:
		break;
	}
}

static void broadcast(enum scheme s, uint32_t n);

/* The same broadcast with no consumer threads: the producer drains the N queues itself. */
static void broadcast_drain(enum scheme s, uint32_t n)
{
	broadcast(s, n);
	for (uint32_t i = 0; i < n; i++) {
		if (!consume_one(s, (int)i, false)) {
			errors++;
		}
	}
}

/* Whether this build measures scheme s ((g) needs CONFIG_DISPATCHER_API). */
static bool measured(int s)
{
	return s != S_DISP || IS_ENABLED(CONFIG_DISPATCHER_API);
}

/* ----- timing -------------------------------------------------------------------------------- */

static struct k_thread cons_thread[NMAX];
K_THREAD_STACK_ARRAY_DEFINE(cons_stack, NMAX, STACK_BYTES);

/* Instructions per 1000 SysTick cycles, from calibrate(). */
static uint32_t instr_per_kcycle;
/* Cycles of an empty batch (the loop and the two k_cycle_get_32 calls). */
static uint32_t empty_batch_cycles;

static void __noinline empty_op(enum scheme s, uint32_t n)
{
	ARG_UNUSED(s);
	ARG_UNUSED(n);
	__asm__ volatile("" ::: "memory");
}

typedef void (*op_fn)(enum scheme s, uint32_t n);

static uint32_t best_batch(op_fn op, enum scheme s, uint32_t n, uint32_t iters)
{
	uint32_t best = UINT32_MAX;

	for (int r = 0; r < REPS; r++) {
		uint32_t t0 = k_cycle_get_32();

		for (uint32_t k = 0; k < iters; k++) {
			op(s, n);
		}
		uint32_t dt = k_cycle_get_32() - t0;

		if (dt < best) {
			best = dt;
		}
	}
	return best;
}

/* Cycles of `batch` over `iters` operations, in instructions per operation x 10. */
static uint32_t to_instr_x10(uint32_t batch, uint32_t iters)
{
	uint32_t c = batch > empty_batch_cycles ? batch - empty_batch_cycles : 0;

	return (uint32_t)(((uint64_t)c * instr_per_kcycle * 10U + (uint64_t)iters * 500U) /
			  ((uint64_t)iters * 1000U));
}

#define CAL_LOOPS 100000U

static void calibrate(void)
{
	uint32_t best = UINT32_MAX;

	for (int r = 0; r < REPS; r++) {
		uint32_t n = CAL_LOOPS;
		uint32_t t0 = k_cycle_get_32();

		/* 2 instructions per iteration: 2 * CAL_LOOPS, plus the setup. */
		__asm__ volatile("1: subs %0, %0, #1\n\tbne 1b" : "+r"(n) : : "cc");
		uint32_t dt = k_cycle_get_32() - t0;

		if (dt < best) {
			best = dt;
		}
	}
	instr_per_kcycle = (uint32_t)((2ULL * CAL_LOOPS * 1000ULL + best / 2) / best);
	printk("CALIBRATION: %u instructions in %u SysTick cycles (%u.%03u instructions per cycle; "
	       "SysTick at %u Hz)\n",
	       2U * CAL_LOOPS, best, instr_per_kcycle / 1000U, instr_per_kcycle % 1000U,
	       sys_clock_hw_cycles_per_sec());
}

static void start_consumers(enum scheme s, uint32_t n)
{
	memset(got, 0, sizeof(got));
	memset(sum, 0, sizeof(sum));
	for (uint32_t i = 0; i < n; i++) {
		/* Higher priority: each runs at once and blocks on its queue before we go on. */
		k_thread_create(&cons_thread[i], cons_stack[i], K_THREAD_STACK_SIZEOF(cons_stack[i]),
				consumer, (void *)(uintptr_t)s, (void *)(uintptr_t)i, NULL,
				CONS_PRIO, 0, K_NO_WAIT);
	}
}

static void stop_consumers(uint32_t n, uint32_t expected, uint32_t expected_sum)
{
	for (uint32_t i = 0; i < n; i++) {
		/* Blocked on its (empty) queue and holding nothing. */
		k_thread_abort(&cons_thread[i]);
		if (got[i] != expected || sum[i] != expected_sum) {
			printk("BENCH ERROR: consumer %u got %u (sum %u), expected %u (sum %u)\n", i,
			       got[i], sum[i], expected, expected_sum);
			errors++;
		}
	}
}

/* After a run every message is back: nothing held, nothing released twice. */
static void check_idle(enum scheme s, uint32_t n)
{
	struct pool_stats ps;
	bool ok = true;

	if (msg_pool_stats(OURS, &ps) != 0 || ps.pool_in_use != 0 || ps.invalid_unrefs != 0 ||
	    ps.invalid_refs != 0) {
		ok = false;
	}
#ifdef CONFIG_DISPATCHER_API
	for (int t = 0; t < DISPATCHER_POOL_TYPE_COUNT; t++) {
		if (msg_pool_stats(dispatcher_pool_get((dispatcher_pool_type_t)t), &ps) != 0 ||
		    ps.pool_in_use != 0 || ps.invalid_unrefs != 0 || ps.invalid_refs != 0) {
			ok = false;
		}
	}
#endif
	if (k_mem_slab_num_used_get(&slab) != 0) {
		ok = false;
	}
	if (fw.in_use != 0 || fw.double_free_count != 0 || k_sem_count_get(&fw.available) != ENTRIES) {
		ok = false;
	}
	for (size_t i = 0; i < ENTRIES; i++) {
		if (fw_entries[i].ref != 0 || !fw_entries[i].on_free_list) {
			ok = false;
		}
	}
	if (!ok) {
		printk("BENCH ERROR: scheme %d N=%u left a pool busy or released twice\n", s, n);
		errors++;
	}
}

static uint32_t bcast_x10[S_COUNT][NN];
static uint32_t drain_x10[S_COUNT][NN];

static void measure_broadcast(enum scheme s)
{
	for (size_t k = 0; k < NN; k++) {
		uint32_t n = ns[k];
		uint32_t first = (uint32_t)seq + 1U;
		uint32_t total = WARMUP + REPS * ITERS;
		uint32_t want_sum = 0;

		start_consumers(s, n);
		for (int w = 0; w < WARMUP; w++) {
			broadcast(s, n);
		}
		bcast_x10[s][k] = to_instr_x10(best_batch(broadcast, s, n, ITERS), ITERS);
		for (uint32_t j = 0; j < total; j++) {
			want_sum += (uint16_t)(first + j);
		}
		stop_consumers(n, total, want_sum);
		check_idle(s, n);
	}
}

static void measure_drain(enum scheme s)
{
	for (size_t k = 0; k < NN; k++) {
		memset(got, 0, sizeof(got));
		drain_x10[s][k] = to_instr_x10(best_batch(broadcast_drain, s, ns[k], ITERS), ITERS);
		for (size_t i = 0; i < ns[k]; i++) {
			if (got[i] != REPS * ITERS) {
				errors++;
			}
		}
		check_idle(s, ns[k]);
	}
}

/* ----- alloc + free alone (same thread, no queue) -------------------------------------------- */

enum af { AF_OURS, AF_SLAB, AF_NETBUF, AF_FW, AF_OURS_REF, AF_UPTIME, AF_MEMCPY, AF_COUNT };

static const char *const af_name[AF_COUNT] = {
	[AF_OURS] = "**ours** msg_pool_try_alloc + msg_unref",
	[AF_SLAB] = "k_mem_slab_alloc + k_mem_slab_free",
	[AF_NETBUF] = "net_buf_alloc (fixed pool) + net_buf_unref",
	[AF_FW] = "firmware scheme try_alloc + unref",
	[AF_OURS_REF] = "**ours** msg_ref + msg_unref (not the last reference)",
	[AF_UPTIME] = IS_ENABLED(CONFIG_DISPATCHER_POOL_LEAK_AGE)
			      ? "k_uptime_get_32() (the port's clock: each of our allocations reads it "
				"once, CONFIG_DISPATCHER_POOL_LEAK_AGE=y)"
			      : "k_uptime_get_32() (not read by our allocations: "
				"CONFIG_DISPATCHER_POOL_LEAK_AGE=n)",
	[AF_MEMCPY] = "memcpy (the image's libc) of one whole dispatcher_msg_t, for scale",
};

/* The entry AF_OURS_REF refs and unrefs: held by main for that row. */
static pool_msg_t *held;

static void af_op(enum scheme s, uint32_t which)
{
	ARG_UNUSED(s);
	switch ((enum af)which) {
	case AF_OURS: {
		pool_msg_t *p = msg_pool_try_alloc(OURS);

		if (p == NULL || msg_unref(p) != 0) {
			errors++;
		}
		break;
	}
	case AF_SLAB: {
		void *b;

		if (k_mem_slab_alloc(&slab, &b, K_NO_WAIT) != 0) {
			errors++;
			break;
		}
		k_mem_slab_free(&slab, b);
		break;
	}
	case AF_NETBUF: {
		struct net_buf *b = net_buf_alloc(&nb_pool, K_NO_WAIT);

		if (b == NULL) {
			errors++;
			break;
		}
		net_buf_unref(b);
		break;
	}
	case AF_FW: {
		struct fw_entry *e = fw_pool_try_alloc(&fw);

		if (e == NULL) {
			errors++;
			break;
		}
		fw_pool_unref(e);
		break;
	}
	case AF_OURS_REF:
		if (msg_ref(held) != 0 || msg_unref(held) != 0) {
			errors++;
		}
		break;
	case AF_UPTIME:
		sum[0] += k_uptime_get_32();
		break;
	case AF_MEMCPY:
		memcpy(&sink, &val_msg, sizeof(sink));
		__asm__ volatile("" ::: "memory");
		break;
	default:
		break;
	}
}

/* ----- set-up and report --------------------------------------------------------------------- */

static int setup(void)
{
	int rc = dispatcher_pool_boot_status();

	if (rc != 0) {
		printk("BENCH ERROR: pool boot status %d\n", rc);
		return rc;
	}
	for (int i = 0; i < NMAX; i++) {
		k_msgq_init(&val_q[i], val_buf[i], MSG_BYTES, 1);
		k_msgq_init(&ptr_q[i], ptr_buf[i], sizeof(void *), 2);
		ptr_qs[i] = &ptr_q[i];
		k_msgq_init(&ours_q[i], ours_buf[i], sizeof(void *), 2);
		rc = msg_target_init(&ours_t[i], &ours_q[i], DISPATCH_MODE_POINTER, (uint16_t)i);
		if (rc != 0) {
			printk("BENCH ERROR: msg_target_init %d\n", rc);
			return rc;
		}
		ours_ts[i] = &ours_t[i];
	}
#ifdef CONFIG_DISPATCHER_API
	rc = dispatcher_init();
	if (rc != 0) {
		printk("BENCH ERROR: dispatcher_init %d\n", rc);
		return rc;
	}
	for (int i = 0; i < NMAX; i++) {
		k_msgq_init(&disp_q[i], disp_buf[i], sizeof(void *), 2);
		rc = dispatcher_register_ptr_queue((dispatch_target_t)i, &disp_q[i]);
		if (rc != 0) {
			printk("BENCH ERROR: dispatcher_register_ptr_queue %d\n", rc);
			return rc;
		}
		disp_t[i] = dispatcher_target((dispatch_target_t)i);
	}
#endif
	for (int i = 0; i < NMAX; i++) {
		/* The firmware scheme's registry: module i's queue. */
		fw_register((unsigned int)i, &ptr_q[i]);
	}
	for (int n = 0; n <= NMAX; n++) {
		dispatcher_fill_targets(disp_ids[n]);
		for (int i = 0; i < n; i++) {
			disp_ids[n][i] = (dispatch_target_t)i;
		}
	}
	rc = fw_pool_init(&fw, fw_entries, fw_msgs, ENTRIES);
	if (rc != 0) {
		printk("BENCH ERROR: fw_pool_init %d\n", rc);
	}
	memset(&val_msg, 0x5a, sizeof(val_msg));
	return rc;
}

static void print_x10(uint32_t v)
{
	printk(" %u.%u |", v / 10U, v % 10U);
}

/* a / b as "x.yy" (rounded). */
static void print_ratio(const char *key, uint32_t a, uint32_t b)
{
	uint32_t r = b ? (uint32_t)(((uint64_t)a * 100U + b / 2U) / b) : 0U;

	printk(" %s=%u.%02u", key, r / 100U, r % 100U);
}

/* Instructions per target from N=8 to N=16 minus the floor's: what one more target costs. */
static int per_target_above_floor(enum scheme s)
{
	int32_t d = (int32_t)(bcast_x10[s][3] - bcast_x10[s][2]) -
		    (int32_t)(bcast_x10[S_FLOOR][3] - bcast_x10[S_FLOOR][2]);

	return (int)((d + (d >= 0 ? 40 : -40)) / 80);
}

int main(void)
{
	static uint32_t af_x10[AF_COUNT];
	const size_t k8 = 2; /* ns[2] == 8 */

	printk("BENCH start: Zephyr %s, board %s, %u-byte dispatcher_msg_t, consumers at priority "
	       "%d, producer at %d, trace %s, leak ages %s, timing %s, slab pointer checks %s, "
	       "C at %s\n",
	       KERNEL_VERSION_STRING, CONFIG_BOARD_TARGET, (unsigned int)MSG_BYTES, CONS_PRIO,
	       PROD_PRIO, IS_ENABLED(CONFIG_DISPATCHER_POOL_TRACE) ? "on" : "off",
	       IS_ENABLED(CONFIG_DISPATCHER_POOL_LEAK_AGE) ? "on" : "off",
	       IS_ENABLED(CONFIG_DISPATCHER_POOL_TIMING) ? "on" : "off",
	       IS_ENABLED(CONFIG_MEM_SLAB_POINTER_VALIDATE) ? "on" : "off",
	       IS_ENABLED(CONFIG_SPEED_OPTIMIZATIONS)  ? "-O2 (SPEED_OPTIMIZATIONS)"
	       : IS_ENABLED(CONFIG_SIZE_OPTIMIZATIONS) ? "-Os (SIZE_OPTIMIZATIONS)"
						       : "another level");
	if (setup() != 0) {
		printk("BENCH FAILED\n");
		return 0;
	}
	calibrate();
	empty_batch_cycles = best_batch(empty_op, S_COUNT, 0, ITERS);
	printk("empty batch of %u: %u cycles\n", ITERS, empty_batch_cycles);

	for (int s = 0; s < S_COUNT; s++) {
		if (!measured(s)) {
			continue;
		}
		measure_broadcast((enum scheme)s);
	}
	for (int s = 0; s < S_COUNT; s++) {
		if (!measured(s)) {
			continue;
		}
		measure_drain((enum scheme)s);
	}

	/* Alloc + free: batches of AF_ITERS, the empty batch re-measured at that length. */
	empty_batch_cycles = best_batch(empty_op, S_COUNT, 0, AF_ITERS);
	held = msg_pool_try_alloc(OURS);
	if (held == NULL) {
		errors++;
	}
	for (int a = 0; a < AF_COUNT; a++) {
		if (a == AF_OURS_REF && held == NULL) {
			continue;
		}
		af_x10[a] = to_instr_x10(best_batch(af_op, S_COUNT, (uint32_t)a, AF_ITERS), AF_ITERS);
	}

	if (held != NULL && msg_unref(held) != 0) {
		errors++;
	}

	printk("\n| instructions per broadcast (1 KiB message, all N consumers done) | N=1 | N=4 | "
	       "N=8 | N=16 |\n|---|---:|---:|---:|---:|\n");
	for (int s = 0; s < S_COUNT; s++) {
		if (!measured(s)) {
			continue;
		}
		printk("| %s |", scheme_name[s]);
		for (size_t k = 0; k < NN; k++) {
			print_x10(bcast_x10[s][k]);
		}
		printk("\n");
	}
	printk("| *above the floor, (a) value* |");
	for (size_t k = 0; k < NN; k++) {
		print_x10(bcast_x10[S_VALUE][k] - MIN(bcast_x10[S_VALUE][k], bcast_x10[S_FLOOR][k]));
	}
	printk("\n| *above the floor, (b) ours* |");
	for (size_t k = 0; k < NN; k++) {
		print_x10(bcast_x10[S_OURS][k] - MIN(bcast_x10[S_OURS][k], bcast_x10[S_FLOOR][k]));
	}
	printk("\n\n| same thread, no consumer threads: the producer drains the N queues itself | "
	       "N=1 | N=4 | N=8 | N=16 |\n|---|---:|---:|---:|---:|\n");
	for (int s = 0; s < S_COUNT; s++) {
		if (!measured(s)) {
			continue;
		}
		printk("| %s |", scheme_name[s]);
		for (size_t k = 0; k < NN; k++) {
			print_x10(drain_x10[s][k]);
		}
		printk("\n");
	}
	printk("\n| instructions per operation (same thread) | instructions |\n|---|---:|\n");
	for (int a = 0; a < AF_COUNT; a++) {
		printk("| %s |", af_name[a]);
		print_x10(af_x10[a]);
		printk("\n");
	}
	printk("\n");

	printk("RATIOS");
	print_ratio("value_over_ours_8", bcast_x10[S_VALUE][k8], bcast_x10[S_OURS][k8]);
	print_ratio("netbuf_over_ours_8", bcast_x10[S_NETBUF][k8], bcast_x10[S_OURS][k8]);
	print_ratio("slab_over_ours_8", bcast_x10[S_SLAB][k8], bcast_x10[S_OURS][k8]);
	print_ratio("zbus_over_ours_8", bcast_x10[S_ZBUS][k8], bcast_x10[S_OURS][k8]);
	print_ratio("ours_over_fw_8", bcast_x10[S_OURS][k8], bcast_x10[S_FW][k8]);
	print_ratio("allocfree_ours_over_slab", af_x10[AF_OURS], af_x10[AF_SLAB]);
	print_ratio("drain_value_over_ours_8", drain_x10[S_VALUE][k8], drain_x10[S_OURS][k8]);
	print_ratio("drain_slab_over_ours_8", drain_x10[S_SLAB][k8], drain_x10[S_OURS][k8]);
	printk("\n");
	/* The aims: each a ratio to stay at or below, or instructions per extra target above the
	 * floor's (from N=8 to N=16).
	 */
	printk("AIMS");
	print_ratio("ours_over_slab_8", bcast_x10[S_OURS][k8], bcast_x10[S_SLAB][k8]);
	print_ratio("ours_over_netbuf_8", bcast_x10[S_OURS][k8], bcast_x10[S_NETBUF][k8]);
	if (IS_ENABLED(CONFIG_DISPATCHER_API)) {
		print_ratio("disp_over_fwreg_8", bcast_x10[S_DISP][k8], bcast_x10[S_FW_REG][k8]);
	} else {
		printk(" disp_over_fwreg_8=n/a");
	}
	print_ratio("allocfree_ours_over_slab", af_x10[AF_OURS], af_x10[AF_SLAB]);
	printk(" extra_per_target_ours=%d extra_per_target_slab=%d\n",
	       per_target_above_floor(S_OURS), per_target_above_floor(S_SLAB));

#ifdef CONFIG_DISPATCHER_POOL_TIMING
	/* After the tables above: they measure what timing costs (the default scenario has none). */
	/* Every consumer thread was aborted after its run: two of them (and stacks) are reused. */
	errors += bench_under_load(&cons_thread[0], cons_stack[0], &cons_thread[1], cons_stack[1],
				   K_THREAD_STACK_SIZEOF(cons_stack[0]));
#endif
	if (errors != 0) {
		printk("BENCH FAILED: %u errors\n", errors);
	} else {
		printk("BENCH DONE errors=0\n");
	}
	return 0;
}
