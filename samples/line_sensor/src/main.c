/*
 * line_sensor: a streaming producer floods the dispatcher pool while a battery-override
 * control path must never lose a message.
 *
 *  - line sensor (streaming): bursts of samples every tick, pool_try_alloc() and
 *    msg_broadcast() to three modules on pointer queues. When the pool is empty
 *    the sample is dropped (never waits).
 *  - modules (msg_pool_module.h, unchanged process_msg handlers):
 *      display  fast
 *      logger   fast
 *      storage  deliberately slow (sleeps per message): its queue fills up, it holds entries,
 *               so the pool runs dry and the streaming producer has to drop.
 *  - battery override (control): pool_alloc_blocking() with a timeout, broadcast to the
 *    battery module; sent and received are counted, control_lost must be 0.
 *
 * The pool metrics are printed periodically and a final summary at the end; after the
 * producers stop and the queues drain, pool_in_use must be 0 and pool_check() must pass.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <string.h>

#include <zephyr/kernel.h>
#include <zephyr/sys/printk.h>

#include <msg_pool.h>
#include <msg_pool_module.h>
#include <dispatcher_pool_zephyr.h>

#ifdef CONFIG_ARCH_POSIX
#include <posix_board_if.h>
#endif

/* ---- scenario ------------------------------------------------------------------------- */
#define STREAM_MS          CONFIG_LINE_SENSOR_STREAM_MS /* how long the line sensor streams */
#define STREAM_BURST       8    /* samples per tick (100 ticks/s on the emulated boards) */
#define SAMPLE_BYTES       48   /* payload of one line-sensor sample */
#define CONTROL_COUNT      CONFIG_LINE_SENSOR_CONTROL_COUNT /* battery override messages */
#define CONTROL_PERIOD_MS  80
#define CONTROL_TIMEOUT_MS 500  /* pool_alloc_blocking timeout of the control path */
#define SLOW_MODULE_MS     20   /* storage module: time per message */
#define METRICS_PERIOD_MS  CONFIG_LINE_SENSOR_METRICS_PERIOD_MS

BUILD_ASSERT(SAMPLE_BYTES <= CONFIG_DISPATCHER_POOL_PAYLOAD_SIZE, "payload too small");

/* Module ids (dispatcher_msg_t.source / targets[], holder in leak reports). */
enum { ID_SENSOR = 1, ID_BATTERY_CTRL = 2, ID_DISPLAY = 10, ID_LOGGER = 11, ID_STORAGE = 12,
       ID_BATTERY = 13 };

/* ---- module queues: pointer mode, one pool_msg_t * per item ----------------------------- */
K_MSGQ_DEFINE(display_q, sizeof(pool_msg_t *), 8, sizeof(void *));
K_MSGQ_DEFINE(logger_q, sizeof(pool_msg_t *), 8, sizeof(void *));
/* The slow module's queue fills up (enqueue failures) and it holds up to 9 of the 16 entries
 * (8 queued + 1 in process_msg), so bursts also find the pool empty (alloc failures). */
K_MSGQ_DEFINE(storage_q, sizeof(pool_msg_t *), 8, sizeof(void *));
K_MSGQ_DEFINE(battery_q, sizeof(pool_msg_t *), 8, sizeof(void *));

static msg_target_t display_t, logger_t, storage_t, battery_t;
static msg_target_t *const stream_targets[] = {&display_t, &logger_t, &storage_t};
static msg_target_t *const control_targets[] = {&battery_t};
static msg_target_t *const all_targets[] = {&display_t, &logger_t, &storage_t, &battery_t};
static const char *const target_names[] = {"display", "logger", "storage", "battery"};

/* ---- counters ----------------------------------------------------------------------------- */
static atomic_t errors;            /* anything that must never happen */
static atomic_t stream_attempts;   /* samples the sensor tried to send */
static atomic_t stream_sent;       /* samples broadcast (>= 1 module took it) */
static atomic_t stream_dropped;    /* pool empty: sample dropped by the producer */
static atomic_t stream_unreceived; /* broadcast reached no module (pool counts it as a drop) */
static atomic_t control_sent, control_received, control_alloc_timeouts, control_lost;
static atomic_t processed[4];
static atomic_t corrupt;
static volatile bool stop_modules;

static void error(const char *what, int rc)
{
	atomic_inc(&errors);
	printk("ERROR: %s failed: %d\n", what, rc);
}

/* ---- message content -------------------------------------------------------------------- */
struct sample_hdr {
	uint32_t seq;
	uint32_t sum; /* sum of data bytes after the header */
};

static void fill_sample(dispatcher_msg_t *m, uint32_t seq)
{
	struct sample_hdr h = {.seq = seq, .sum = 0};
	uint8_t *d = m->data + sizeof(h);

	for (size_t i = 0; i < SAMPLE_BYTES - sizeof(h); i++) {
		d[i] = (uint8_t)(seq * 31u + i);
		h.sum += d[i];
	}
	memcpy(m->data, &h, sizeof(h));
	m->message_len = SAMPLE_BYTES;
	m->source = ID_SENSOR;
	m->n_targets = 3;
	m->targets[0] = ID_DISPLAY;
	m->targets[1] = ID_LOGGER;
	m->targets[2] = ID_STORAGE;
	m->context = NULL;
}

static bool sample_ok(const dispatcher_msg_t *m)
{
	struct sample_hdr h;
	uint32_t sum = 0;

	if (m->source != ID_SENSOR || m->message_len != SAMPLE_BYTES) {
		return false;
	}
	memcpy(&h, m->data, sizeof(h));
	for (size_t i = sizeof(h); i < SAMPLE_BYTES; i++) {
		if (m->data[i] != (uint8_t)(h.seq * 31u + (i - sizeof(h)))) {
			return false;
		}
		sum += m->data[i];
	}
	return sum == h.sum;
}

/* ---- the modules' unchanged handlers ----------------------------------------------------- */
static void check_stream(const dispatcher_msg_t *msg, int idx)
{
	if (!sample_ok(msg)) {
		atomic_inc(&corrupt);
	}
	atomic_inc(&processed[idx]);
}

static void display_process_msg(const dispatcher_msg_t *msg)
{
	check_stream(msg, 0);
}

static void logger_process_msg(const dispatcher_msg_t *msg)
{
	check_stream(msg, 1);
}

static void storage_process_msg(const dispatcher_msg_t *msg)
{
	check_stream(msg, 2);
	k_msleep(SLOW_MODULE_MS); /* "writing to flash": the deliberately slow module */
}

static void battery_process_msg(const dispatcher_msg_t *msg)
{
	uint32_t seq;

	if (msg->source != ID_BATTERY_CTRL || msg->message_len != sizeof(seq)) {
		atomic_inc(&corrupt);
		return;
	}
	memcpy(&seq, msg->data, sizeof(seq));
	if (seq != (uint32_t)atomic_get(&control_received)) {
		atomic_inc(&corrupt); /* control messages arrive in order, none missing */
	}
	atomic_inc(&control_received);
	atomic_inc(&processed[3]);
}

/* One thread per module: the loop every module runs, whatever its queue mode. */
struct module {
	msg_target_t *target;
	msg_process_fn process_msg;
	const char *name;
};

static void module_thread(void *arg, void *b, void *c)
{
	ARG_UNUSED(b); ARG_UNUSED(c);
	const struct module *m = arg;

	for (;;) {
		int rc = msg_module_process(m->target, 100, NULL, m->process_msg);

		if (rc == -EAGAIN) {
			if (stop_modules) {
				return;
			}
			continue;
		}
		if (rc != 0) {
			error(m->name, rc);
		}
	}
}

static const struct module display_m = {&display_t, display_process_msg, "display"};
static const struct module logger_m = {&logger_t, logger_process_msg, "logger"};
static const struct module storage_m = {&storage_t, storage_process_msg, "storage"};
static const struct module battery_m = {&battery_t, battery_process_msg, "battery"};

/* ---- producers ----------------------------------------------------------------------------- */
static void line_sensor_thread(void *a, void *b, void *c)
{
	ARG_UNUSED(a); ARG_UNUSED(b); ARG_UNUSED(c);
	uint32_t seq = 0;
	int64_t end = k_uptime_get() + STREAM_MS;

	while (k_uptime_get() < end) {
		for (int i = 0; i < STREAM_BURST; i++) {
			/* streaming: never waits; an empty pool is a counted drop (pool_drop_count) */
			pool_msg_t *p = pool_try_alloc_or(POOL_FALLBACK_DROP);

			atomic_inc(&stream_attempts);
			if (p == NULL) {
				atomic_inc(&stream_dropped); /* pool empty: drop this sample */
				continue;
			}
			fill_sample(p->msg, seq++);
			int n = msg_broadcast(p, stream_targets, ARRAY_SIZE(stream_targets));

			if (n < 0) {
				error("msg_broadcast(stream)", n);
			} else if (n == 0) {
				atomic_inc(&stream_unreceived); /* every queue full: a drop */
			} else {
				atomic_inc(&stream_sent);
			}
		}
		k_msleep(1); /* next tick */
	}
}

static void battery_control_thread(void *a, void *b, void *c)
{
	ARG_UNUSED(a); ARG_UNUSED(b); ARG_UNUSED(c);

	k_msleep(200); /* let the stream saturate the pool first */
	for (uint32_t seq = 0; seq < CONTROL_COUNT; seq++) {
		pool_msg_t *p = pool_alloc_blocking(CONTROL_TIMEOUT_MS); /* control: waits */

		if (p == NULL) {
			atomic_inc(&control_alloc_timeouts);
			atomic_inc(&control_lost);
			error("pool_alloc_blocking(control)", -EAGAIN);
			continue;
		}
		p->msg->source = ID_BATTERY_CTRL;
		p->msg->n_targets = 1;
		p->msg->targets[0] = ID_BATTERY;
		p->msg->context = NULL;
		p->msg->message_len = sizeof(seq);
		memcpy(p->msg->data, &seq, sizeof(seq));
		atomic_inc(&control_sent);
		int n = msg_broadcast(p, control_targets, ARRAY_SIZE(control_targets));

		if (n != 1) {
			atomic_inc(&control_lost);
			error("msg_broadcast(control)", n);
		}
		k_msleep(CONTROL_PERIOD_MS);
	}
}

/* Priorities: control above the stream, the stream above the modules, storage lowest. */
K_THREAD_DEFINE(control_tid, 1024, battery_control_thread, NULL, NULL, NULL, 2, 0, SYS_FOREVER_MS);
K_THREAD_DEFINE(sensor_tid, 1024, line_sensor_thread, NULL, NULL, NULL, 4, 0, SYS_FOREVER_MS);
K_THREAD_DEFINE(battery_tid, 1024, module_thread, &battery_m, NULL, NULL, 3, 0, SYS_FOREVER_MS);
K_THREAD_DEFINE(display_tid, 1024, module_thread, &display_m, NULL, NULL, 5, 0, SYS_FOREVER_MS);
K_THREAD_DEFINE(logger_tid, 1024, module_thread, &logger_m, NULL, NULL, 5, 0, SYS_FOREVER_MS);
K_THREAD_DEFINE(storage_tid, 1024, module_thread, &storage_m, NULL, NULL, 7, 0, SYS_FOREVER_MS);

/* ---- metrics ------------------------------------------------------------------------------- */
static void print_metrics(const char *tag)
{
	struct pool_stats s;
	int rc = pool_stats(&s);

	if (rc != 0) {
		error("pool_stats", rc);
		return;
	}
	printk("[%6lld ms] %s: in_use=%u/%u high_water=%u alloc_failures=%u drops=%u "
	       "enqueue_failures=%u broadcasts=%u\n",
	       k_uptime_get(), tag, s.pool_in_use, s.pool_total, s.high_water, s.pool_alloc_failures,
	       s.pool_drop_count, s.enqueue_failures, s.broadcasts);
}

/* Where the held entries are, like the shell's `pool leaks 0`: with the targets given, an entry
 * waiting in a module's queue is blamed on that queue, not on the last module that received it.
 */
static void print_leaks(void)
{
	static struct pool_leak leaks[DISPATCHER_LEAKS_MAX];
	int n = msg_pool_leaks(msg_pool_default(), 0, all_targets, ARRAY_SIZE(all_targets), leaks,
			       ARRAY_SIZE(leaks));
	int queued = 0, held = 0;

	if (n < 0) {
		error("msg_pool_leaks", n);
		return;
	}
	for (int i = 0; i < MIN(n, (int)ARRAY_SIZE(leaks)); i++) {
		queued += leaks[i].queued_at != POOL_HOLDER_NONE;
		held += leaks[i].held_by != POOL_HOLDER_NONE;
		if (i < 4 || i == n - 1) { /* a few lines, not 16 */
			char where[48] = "";
			int len = 0;

			if (leaks[i].queued_at != POOL_HOLDER_NONE) {
				len += snprintk(where, sizeof(where), "queued at target %u",
						leaks[i].queued_at);
			}
			if (leaks[i].held_by == POOL_HOLDER_PRODUCER) {
				snprintk(where + len, sizeof(where) - len, "%sheld by producer",
					 len > 0 ? ", " : "");
			} else if (leaks[i].held_by != POOL_HOLDER_NONE) {
				snprintk(where + len, sizeof(where) - len, "%sheld by target %u",
					 len > 0 ? ", " : "", leaks[i].held_by);
			}
			printk("  leak: entry %u %s, refcount %u\n", leaks[i].index, where,
			       leaks[i].refcount);
		}
	}
	printk("leaks: %d entries held, %d queued at a module, %d held outside a queue\n", n,
	       queued, held);
}

static int init_targets(void)
{
	static const struct {
		msg_target_t *t;
		struct k_msgq *q;
		uint16_t id;
	} tab[] = {
		{&display_t, &display_q, ID_DISPLAY},
		{&logger_t, &logger_q, ID_LOGGER},
		{&storage_t, &storage_q, ID_STORAGE},
		{&battery_t, &battery_q, ID_BATTERY},
	};

	for (size_t i = 0; i < ARRAY_SIZE(tab); i++) {
		int rc = msg_target_init(tab[i].t, tab[i].q, DISPATCH_MODE_POINTER, tab[i].id);

		if (rc != 0) {
			error("msg_target_init", rc);
			return rc;
		}
	}
	return 0;
}

static bool drained(void)
{
	struct pool_stats s;

	return k_msgq_num_used_get(&display_q) == 0 && k_msgq_num_used_get(&logger_q) == 0 &&
	       k_msgq_num_used_get(&storage_q) == 0 && k_msgq_num_used_get(&battery_q) == 0 &&
	       pool_stats(&s) == 0 && s.pool_in_use == 0;
}

int main(void)
{
	struct pool_stats s;
	struct pool_check_report chk = {0};
	int rc;

	printk("line_sensor: %s, pool payload %d B\n", CONFIG_BOARD_TARGET,
	       CONFIG_DISPATCHER_POOL_PAYLOAD_SIZE);
	if (!DISPATCHER_POOL_ABI_OK()) {
		error("DISPATCHER_POOL_ABI_OK", -EINVAL);
	}
	rc = dispatcher_pool_boot_status();
	if (rc != 0) {
		error("boot-time pool_init", rc);
		return 0;
	}
	printk("line_sensor: message region in %s\n", dispatcher_pool_default.placement);
	if (init_targets() != 0) {
		return 0;
	}
#ifdef CONFIG_DISPATCHER_POOL_SHELL
	dispatcher_pool_shell_set_targets(all_targets, ARRAY_SIZE(all_targets));
#endif
	print_metrics("start");

	k_thread_start(battery_tid);
	k_thread_start(display_tid);
	k_thread_start(logger_tid);
	k_thread_start(storage_tid);
	k_thread_start(sensor_tid);
	k_thread_start(control_tid);

	/* Periodic metrics while the producers run. */
	while (k_thread_join(sensor_tid, K_MSEC(METRICS_PERIOD_MS)) != 0) {
		print_metrics("streaming");
	}
	k_thread_join(control_tid, K_FOREVER);
	print_metrics("producers stopped");
	print_leaks();

	/* Let the modules drain their queues (the storage module is slow). */
	for (int i = 0; i < 200 && !drained(); i++) {
		k_msleep(50);
	}
	stop_modules = true;
	k_thread_join(battery_tid, K_FOREVER);
	k_thread_join(display_tid, K_FOREVER);
	k_thread_join(logger_tid, K_FOREVER);
	k_thread_join(storage_tid, K_FOREVER);
	print_metrics("drained");

	rc = pool_stats(&s);
	if (rc != 0) {
		error("pool_stats", rc);
		memset(&s, 0, sizeof(s));
	}
	rc = pool_check(&chk);
	if (rc != 0) {
		error("pool_check", rc);
	}
	if (s.invalid_unrefs != 0 || s.invalid_refs != 0) {
		error("invalid ref/unref counters", -EFAULT);
	}
	if (atomic_get(&corrupt) != 0) {
		error("payload check", -EIO);
	}
	if (atomic_get(&control_received) != atomic_get(&control_sent)) {
		error("control sent != received", -EIO);
	}
	uint32_t stream_delivered = 0, stream_failed = 0, all_failed = 0, battery_delivered = 0;
	struct msg_target_stats all_ts[ARRAY_SIZE(all_targets)] = {0};

	for (size_t i = 0; i < ARRAY_SIZE(all_targets); i++) {
		struct msg_target_stats ts;

		rc = msg_target_stats(all_targets[i], &ts);
		all_ts[i] = ts;
		if (rc != 0) {
			error("msg_target_stats", rc);
			continue;
		}
		printk("  module %-8s delivered=%u failed=%u processed=%ld\n", target_names[i],
		       ts.delivered, ts.failed, atomic_get(&processed[i]));
		if (ts.delivered != (uint32_t)atomic_get(&processed[i])) {
			error("delivered != processed", -EIO);
		}
		all_failed += ts.failed;
		if (all_targets[i] == &battery_t) {
			battery_delivered = ts.delivered;
		} else {
			stream_delivered += ts.delivered;
			stream_failed += ts.failed;
		}
	}

	/* Exact accounting: every sample attempted, every allocation, broadcast and delivery is
	 * in one counter of the producers, the modules or the pool, and they agree.
	 */
	uint32_t attempts = atomic_get(&stream_attempts), sent = atomic_get(&stream_sent);
	uint32_t dropped = atomic_get(&stream_dropped), unreceived = atomic_get(&stream_unreceived);
	uint32_t csent = atomic_get(&control_sent);
	uint32_t broadcast = sent + unreceived + csent; /* every allocated message was broadcast */
	int mismatches = 0;
	const struct {
		const char *what;
		uint32_t got, want;
	} acct[] = {
		{"stream attempts = sent + dropped + unreceived", attempts, sent + dropped + unreceived},
		{"pool allocations = stream + control broadcasts", s.allocations, broadcast},
		{"pool broadcasts = stream + control broadcasts", s.broadcasts, broadcast},
		{"pool frees = allocations", s.frees, s.allocations},
		{"pool alloc_failures = dropped + control timeouts", s.pool_alloc_failures,
		 dropped + (uint32_t)atomic_get(&control_alloc_timeouts)},
		{"pool drops = dropped + unreceived", s.pool_drop_count, dropped + unreceived},
		{"stream deliveries + failures = 3 x stream broadcasts",
		 stream_delivered + stream_failed, 3 * (sent + unreceived)},
		{"pool enqueue_failures = module failures", s.enqueue_failures, all_failed},
		{"battery deliveries = control sent", battery_delivered, csent},
	};

	for (size_t i = 0; i < ARRAY_SIZE(acct); i++) {
		if (acct[i].got != acct[i].want) {
			printk("ACCOUNTING MISMATCH: %s: %u != %u\n", acct[i].what, acct[i].got,
			       acct[i].want);
			error("accounting", -EIO);
			mismatches++;
		}
	}
	uint32_t control_lost_n = atomic_get(&control_lost) +
				  (atomic_get(&control_sent) - atomic_get(&control_received));

	/* Console lines stay below 200 characters (native_sim's console splits longer ones). */
	printk("line_sensor: pool total=%u free=%zu high_water=%u allocations=%u frees=%u "
	       "invalid_unrefs=%u\n",
	       s.pool_total, chk.free, s.high_water, s.allocations, s.frees, s.invalid_unrefs);
	printk("SUMMARY control: control_sent=%ld control_received=%ld control_lost=%u\n",
	       atomic_get(&control_sent), atomic_get(&control_received), control_lost_n);
	printk("SUMMARY line_sensor: stream_sent=%ld stream_dropped=%ld alloc_failures=%u drops=%u "
	       "enqueue_failures=%u errors=%ld in_use=%u\n",
	       atomic_get(&stream_sent), atomic_get(&stream_dropped), s.pool_alloc_failures,
	       s.pool_drop_count, s.enqueue_failures, atomic_get(&errors), s.pool_in_use);

	printk("SUMMARY accounting: attempts=%u sent=%u dropped=%u unreceived=%u deliveries=%u "
	       "checks=%zu mismatches=%d\n",
	       attempts, sent, dropped, unreceived, stream_delivered + battery_delivered,
	       ARRAY_SIZE(acct), mismatches);

#ifdef CONFIG_DISPATCHER_POOL_TIMING
	/* Per module: broadcast-to-receive latency and the average queue length after a put. */
	for (size_t i = 0; i < ARRAY_SIZE(all_targets); i++) {
		const struct msg_target_stats *t = &all_ts[i];

		printk("SUMMARY latency: %s n=%u min_us=%u p50_us=%u p99_us=%u max_us=%u "
		       "avg_depth=%u.%02u\n",
		       target_names[i], t->latency_count, t->latency_min_us, t->latency_p50_us,
		       t->latency_p99_us, t->latency_max_us, t->avg_depth_x100 / 100U,
		       t->avg_depth_x100 % 100U);
		if (t->latency_count != t->delivered) {
			error("latency count != delivered", -EIO);
		}
	}
#endif

	bool pass = atomic_get(&errors) == 0 && control_lost_n == 0 && s.pool_in_use == 0 &&
		    atomic_get(&control_sent) == CONTROL_COUNT;
	printk("RESULT: %s\n", pass ? "PASS" : "FAIL");

#ifdef CONFIG_ARCH_POSIX
	posix_exit(pass ? 0 : 1);
#endif
	return 0;
}
