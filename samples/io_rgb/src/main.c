/*
 * io_rgb: the same 1 KiB RGB frame broadcast to the same three modules twice, once through
 * value queues (the old path: every queue slot holds a whole dispatcher_msg_t) and once through
 * pointer queues (every slot holds one pool_msg_t *), with the internal RAM each costs.
 *
 * The queue buffers come from the system heap (k_msgq_alloc_init), so the kernel's own heap
 * statistics (sys_heap_runtime_stats_get on _system_heap, CONFIG_SYS_HEAP_RUNTIME_STATS)
 * show what each mode takes. Value mode also needs one receive buffer of
 * sizeof(dispatcher_msg_t) per module (MSG_MODULE_VALUE_BUFFER); pointer mode none.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <string.h>

#include <zephyr/kernel.h>
#include <zephyr/sys/printk.h>
#include <zephyr/sys/sys_heap.h>

#include <msg_pool.h>
#include <msg_pool_module.h>
#include <dispatcher_pool_zephyr.h>

#ifdef CONFIG_ARCH_POSIX
#include <posix_board_if.h>
#endif

#define FRAME_BYTES 1024 /* one RGB frame slice */
#define N_MODULES   3
#define QUEUE_DEPTH 4
#define FRAMES      12

BUILD_ASSERT(FRAME_BYTES <= CONFIG_DISPATCHER_POOL_PAYLOAD_SIZE, "payload smaller than a frame");

/* The kernel heap behind k_malloc / k_msgq_alloc_init (kernel/mempool.c). */
extern struct k_heap _system_heap;

enum { ID_CAMERA = 1, ID_LED_MATRIX = 20, ID_ENCODER = 21, ID_RECORDER = 22 };
static const uint16_t module_ids[N_MODULES] = {ID_LED_MATRIX, ID_ENCODER, ID_RECORDER};
static const char *const module_names[N_MODULES] = {"led_matrix", "encoder", "recorder"};

static struct k_msgq queues[N_MODULES];
static msg_target_t targets[N_MODULES];
static msg_target_t *const target_list[N_MODULES] = {&targets[0], &targets[1], &targets[2]};

/* Value mode only: the modules' receive buffers (one whole message each, static, not stack). */
MSG_MODULE_VALUE_BUFFER(value_buf0);
MSG_MODULE_VALUE_BUFFER(value_buf1);
MSG_MODULE_VALUE_BUFFER(value_buf2);
static dispatcher_msg_t *const value_bufs[N_MODULES] = {&value_buf0, &value_buf1, &value_buf2};

K_THREAD_STACK_ARRAY_DEFINE(module_stacks, N_MODULES, 1024);
static struct k_thread module_threads[N_MODULES];

static atomic_t errors;
static atomic_t processed[N_MODULES];
static atomic_t corrupt;
static volatile bool stop_modules;

static void error(const char *what, int rc)
{
	atomic_inc(&errors);
	printk("ERROR: %s failed: %d\n", what, rc);
}

static uint8_t pixel(uint32_t frame, size_t i)
{
	return (uint8_t)(frame * 7u + i * 3u + (i >> 8));
}

/* The modules' unchanged handler: check the whole frame arrived intact. */
static void rgb_process_msg(const dispatcher_msg_t *msg, void *user)
{
	int idx = (int)(intptr_t)user;
	uint32_t frame;

	if (msg->source != ID_CAMERA || msg->message_len != FRAME_BYTES) {
		atomic_inc(&corrupt);
		return;
	}
	memcpy(&frame, msg->data, sizeof(frame));
	for (size_t i = sizeof(frame); i < FRAME_BYTES; i++) {
		if (msg->data[i] != pixel(frame, i)) {
			atomic_inc(&corrupt);
			return;
		}
	}
	atomic_inc(&processed[idx]);
}

static void module_thread(void *a, void *b, void *c)
{
	ARG_UNUSED(c);
	int idx = (int)(intptr_t)a;
	dispatcher_msg_t *value_buf = b; /* NULL in pointer mode */

	for (;;) {
		int rc = msg_module_process_ex(&targets[idx], 50, value_buf, rgb_process_msg,
						      (void *)(intptr_t)idx);
		if (rc == -EAGAIN) {
			if (stop_modules) {
				return;
			}
			continue;
		}
		if (rc != 0) {
			error(module_names[idx], rc);
		}
	}
}

static size_t heap_used(void)
{
	struct sys_memory_stats st;
	int rc = sys_heap_runtime_stats_get(&_system_heap.heap, &st);

	if (rc != 0) {
		error("sys_heap_runtime_stats_get", rc);
		return 0;
	}
	return st.allocated_bytes;
}

static size_t heap_free(void)
{
	struct sys_memory_stats st;

	if (sys_heap_runtime_stats_get(&_system_heap.heap, &st) != 0) {
		return 0;
	}
	return st.free_bytes;
}

struct run_result {
	size_t queue_bytes;   /* k_msgq buffers (slots x item size) */
	size_t heap_delta;    /* what the system heap lost to them (with its chunk overhead) */
	size_t heap_free;     /* system heap free bytes while the queues exist */
	size_t recv_bytes;    /* module receive buffers */
	size_t copied;        /* bytes written into queues per frame */
	uint32_t delivered;
};

static void run(enum dispatch_mode mode, struct run_result *r)
{
	const bool value = mode == DISPATCH_MODE_VALUE;
	const size_t item = value ? sizeof(dispatcher_msg_t) : sizeof(pool_msg_t *);
	size_t before = heap_used();

	memset(r, 0, sizeof(*r));
	for (int i = 0; i < N_MODULES; i++) {
		atomic_set(&processed[i], 0);
	}
	/* The queues, from the system heap. */
	for (int i = 0; i < N_MODULES; i++) {
		int rc = k_msgq_alloc_init(&queues[i], item, QUEUE_DEPTH);

		if (rc != 0) {
			error("k_msgq_alloc_init", rc);
			return;
		}
		rc = msg_target_init(&targets[i], &queues[i], mode, module_ids[i]);
		if (rc != 0) {
			error("msg_target_init", rc);
			return;
		}
	}
	r->queue_bytes = N_MODULES * QUEUE_DEPTH * item;
	r->heap_delta = heap_used() - before;
	r->heap_free = heap_free();
	r->recv_bytes = value ? N_MODULES * sizeof(dispatcher_msg_t) : 0;
	r->copied = N_MODULES * item;

	stop_modules = false;
	for (int i = 0; i < N_MODULES; i++) {
		k_thread_create(&module_threads[i], module_stacks[i],
				K_THREAD_STACK_SIZEOF(module_stacks[i]), module_thread,
				(void *)(intptr_t)i, value ? value_bufs[i] : NULL, NULL, 5, 0,
				K_NO_WAIT);
	}

	for (uint32_t f = 0; f < FRAMES; f++) {
		pool_msg_t *p = pool_alloc_blocking(1000);

		if (p == NULL) {
			error("pool_alloc_blocking", -EAGAIN);
			continue;
		}
		dispatcher_msg_t *m = p->msg;

		m->source = ID_CAMERA;
		m->context = NULL;
		m->message_len = FRAME_BYTES;
		m->n_targets = N_MODULES;
		for (int i = 0; i < N_MODULES; i++) {
			m->targets[i] = (uint8_t)module_ids[i];
		}
		memcpy(m->data, &f, sizeof(f));
		for (size_t i = sizeof(f); i < FRAME_BYTES; i++) {
			m->data[i] = pixel(f, i);
		}
		int n = msg_broadcast(p, target_list, N_MODULES);

		if (n != N_MODULES) {
			error("msg_broadcast", n);
		}
		k_msleep(10); /* a frame every 10 ms; the modules keep up */
	}
	k_msleep(100);
	stop_modules = true;
	for (int i = 0; i < N_MODULES; i++) {
		k_thread_join(&module_threads[i], K_FOREVER);
	}
	for (int i = 0; i < N_MODULES; i++) {
		struct msg_target_stats ts;

		if (msg_target_stats(&targets[i], &ts) == 0) {
			r->delivered += ts.delivered;
			if (ts.delivered != (uint32_t)atomic_get(&processed[i]) || ts.failed != 0) {
				error("delivered/processed mismatch", -EIO);
			}
		}
		int rc = k_msgq_cleanup(&queues[i]);

		if (rc != 0) {
			error("k_msgq_cleanup", rc);
		}
	}
}

/* The default pool's region is in PSRAM (DISPATCHER_POOL_DEFINE_PSRAM on a board with PSRAM). */
static bool region_in_psram(void)
{
	return strncmp(dispatcher_pool_default.placement, "PSRAM", 5) == 0;
}

static void print_run(const char *name, const struct run_result *r)
{
	printk("io_rgb: %-7s queues: %zu B queue buffers (heap used +%zu B, free %zu B), "
	       "%zu B receive buffers, %zu B copied/frame, delivered %u/%u\n",
	       name, r->queue_bytes, r->heap_delta, r->heap_free, r->recv_bytes, r->copied,
	       r->delivered, FRAMES * N_MODULES);
}

int main(void)
{
	struct run_result v, p;
	struct pool_stats s;
	int rc;

	printk("io_rgb: %s, frame %d B, %d modules x %d queue slots, sizeof(dispatcher_msg_t) %zu B, "
	       "sizeof(pool_msg_t *) %zu B\n",
	       CONFIG_BOARD_TARGET, FRAME_BYTES, N_MODULES, QUEUE_DEPTH, sizeof(dispatcher_msg_t),
	       sizeof(pool_msg_t *));
	if (!DISPATCHER_POOL_ABI_OK()) {
		error("DISPATCHER_POOL_ABI_OK", -EINVAL);
	}
	rc = dispatcher_pool_boot_status();
	if (rc != 0) {
		error("boot-time pool_init", rc);
		return 0;
	}
	/* k_msgq_alloc_init allocates from the calling thread's resource pool. */
	k_thread_system_pool_assign(k_current_get());

	size_t heap_free_start = heap_free();

	run(DISPATCH_MODE_VALUE, &v);
	print_run("value", &v);
	run(DISPATCH_MODE_POINTER, &p);
	print_run("pointer", &p);

	rc = pool_stats(&s);
	if (rc != 0) {
		error("pool_stats", rc);
		memset(&s, 0, sizeof(s));
	}
	if (atomic_get(&corrupt) != 0) {
		error("frame check", -EIO);
	}
	if (s.pool_in_use != 0 || heap_free() != heap_free_start) {
		error("leak (pool in_use or heap)", -EIO);
	}
	printk("io_rgb: pool (both runs): %u entries x %u B = %u B of messages in %s, "
	       "%zu B descriptors\n",
	       s.pool_total, s.stride, s.pool_total * s.stride, dispatcher_pool_default.placement,
	       (size_t)s.pool_total * sizeof(pool_msg_t));

	size_t value_internal = v.heap_delta + v.recv_bytes;
	size_t pointer_internal = p.heap_delta + p.recv_bytes;
	long saving = (long)value_internal - (long)pointer_internal;
	/* What the pool itself costs in internal RAM: its descriptors always, its message region
	 * only when it is not in PSRAM. net_saving compares the old design (value queues, no
	 * pool) with the new one (pointer queues plus the pool).
	 */
	size_t pool_internal = (size_t)s.pool_total * sizeof(pool_msg_t) +
			       (region_in_psram() ? 0 : (size_t)s.pool_total * s.stride);
	long net_saving = saving - (long)pool_internal;

	/* Console lines stay below 200 characters (native_sim's console splits longer ones). */
	printk("io_rgb: value_queue_bytes=%zu pointer_queue_bytes=%zu value_heap_used=%zu "
	       "pointer_heap_used=%zu heap_free_value=%zu heap_free_pointer=%zu\n",
	       v.queue_bytes, p.queue_bytes, v.heap_delta, p.heap_delta, v.heap_free, p.heap_free);
	printk("io_rgb: value_internal_bytes=%zu pointer_internal_bytes=%zu pool_internal_bytes=%zu\n",
	       value_internal, pointer_internal, pool_internal);
	printk("SUMMARY io_rgb: saving_bytes=%ld net_saving_bytes=%ld delivered=%u/%u errors=%ld\n",
	       saving, net_saving, v.delivered + p.delivered, 2 * FRAMES * N_MODULES,
	       atomic_get(&errors));

	bool pass = atomic_get(&errors) == 0 && saving > 0 &&
		    v.delivered + p.delivered == 2 * FRAMES * N_MODULES;
	printk("RESULT: %s\n", pass ? "PASS" : "FAIL");
#ifdef CONFIG_ARCH_POSIX
	posix_exit(pass ? 0 : 1);
#endif
	return 0;
}
