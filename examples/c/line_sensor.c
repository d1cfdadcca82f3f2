/*
 * examples/c/line_sensor.c: the dispatcher pool from C on Linux (the POSIX port).
 *
 * A line sensor streams 1 KiB frames (pool_try_alloc_or(POOL_FALLBACK_DROP): dropped when the pool is empty), a
 * battery monitor sends control messages that must never be lost (pool_alloc with a
 * timeout), and four modules consume them: `fast` and `slow` (2 ms per message) on pointer
 * queues, `legacy` still on a value queue, `battery` for the control messages. After the run
 * the producers stop, the modules drain their queues and stop, and the program prints the
 * counters and checks that nothing was lost and the pool is whole.
 *
 * Build and run (see capi/README.md):
 *
 *     make -C port/posix run-example        # or: target/release/c/line_sensor [ms]
 *
 * Your own program links the same way:
 *
 *     cc -std=c11 -I include app.c -L target/release \
 *        -ldispatcher_pool -ldispatcher_pool_posix -lgcc_s -lutil -lrt -lpthread -lm -ldl
 *
 * Exit code 0 when every check passed (last line PASS), 1 otherwise (FAIL: reason), 2 for a
 * bad argument.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "msg_pool_module.h"
#include "msg_pool.h"
#include "dispatcher_pool_posix.h"

#define ENTRIES 8
#define PAYLOAD 1024
#define SENSOR_ID 1
#define BATTERY_ID 2

/* One consumer module: its queue, its target, what it saw. */
struct module {
    const char *name;
    uint16_t id;
    enum dispatch_mode mode;
    size_t depth;
    long work_us;               /* time spent per message */
    struct k_msgq q;
    msg_target_t target;
    dispatcher_msg_t *value_buf; /* value mode: a whole message, on the heap (not the stack) */
    pthread_t thread;
    /* Written by the module's thread only; read after it was joined. */
    long processed;
    long control;
    long corrupt;
    int error;
};

static struct module modules[] = {
    {.name = "fast", .id = 10, .mode = DISPATCH_MODE_POINTER, .depth = 16, .work_us = 0},
    {.name = "slow", .id = 11, .mode = DISPATCH_MODE_POINTER, .depth = 8, .work_us = 2000},
    {.name = "legacy", .id = 12, .mode = DISPATCH_MODE_VALUE, .depth = 4, .work_us = 200},
    {.name = "battery", .id = 13, .mode = DISPATCH_MODE_POINTER, .depth = 8, .work_us = 100},
};
#define N_MODULES (sizeof modules / sizeof modules[0])
enum { FAST, SLOW, LEGACY, BATTERY };

static atomic_bool stop_producers;
static atomic_bool producers_done;

static void sleep_us(long us)
{
    struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* ----- consumers --------------------------------------------------------------------------- */

/* The module's handler, unchanged whatever the queue mode. */
static void process_msg(const dispatcher_msg_t *msg, void *user)
{
    struct module *m = user;
    m->processed++;
    /* Every byte of a frame is the same (its sequence number); a control message is 0xB7s. */
    for (uint32_t i = 1; i < msg->message_len; i++) {
        if (msg->data[i] != msg->data[0]) {
            m->corrupt++;
            break;
        }
    }
    if (msg->source == BATTERY_ID) {
        m->control++;
    }
    if (m->work_us > 0) {
        sleep_us(m->work_us);
    }
}

static void *module_thread(void *arg)
{
    struct module *m = arg;
    for (;;) {
        int rc = msg_module_process_ex(&m->target, 20, m->value_buf, process_msg, m);
        if (rc == -EAGAIN) {
            /* Nothing for 20 ms: stop once the producers are done (the queue is drained). */
            if (atomic_load(&producers_done) && dispatcher_port_msgq_len(&m->q) == 0) {
                return NULL;
            }
            continue;
        }
        if (rc != 0) {
            m->error = rc;
            return NULL;
        }
    }
}

/* ----- producers ----------------------------------------------------------------------------- */

static long frames, drops, control_sent, producer_errors;

static void *sensor_thread(void *arg)
{
    (void)arg;
    msg_target_t *to[] = {&modules[FAST].target, &modules[SLOW].target, &modules[LEGACY].target};
    uint8_t seq = 0;
    while (!atomic_load(&stop_producers)) {
        /* Streaming: never waits; the drop policy counts it in pool_drop_count when empty. */
        pool_msg_t *p = pool_try_alloc_or(POOL_FALLBACK_DROP);
        if (p == NULL) {
            drops++; /* the pool is empty */
        } else {
            p->msg->source = SENSOR_ID;
            p->msg->message_len = PAYLOAD;
            memset(p->msg->data, seq, PAYLOAD);
            /* Consumes the producer's reference, whatever it returns. */
            if (msg_broadcast(p, to, 3) < 0) {
                producer_errors++;
            }
            frames++;
        }
        seq++;
        sleep_us(50);
    }
    return NULL;
}

static void *battery_thread(void *arg)
{
    (void)arg;
    msg_target_t *to[] = {&modules[BATTERY].target, &modules[FAST].target};
    while (!atomic_load(&stop_producers)) {
        pool_msg_t *p = NULL;
        int rc = pool_alloc(500, &p); /* control: waits for an entry, up to 500 ms */
        if (rc != 0) {
            fprintf(stderr, "battery: pool_alloc: %d\n", rc);
            producer_errors++;
            break;
        }
        p->msg->source = BATTERY_ID;
        p->msg->message_len = 16;
        memset(p->msg->data, 0xB7, 16);
        rc = msg_broadcast(p, to, 2);
        if (rc < 1) {
            fprintf(stderr, "battery: msg_broadcast: %d\n", rc);
            producer_errors++;
        }
        control_sent++;
        sleep_us(20000);
    }
    return NULL;
}

/* ----- main ---------------------------------------------------------------------------------- */

/* Appends one reason to the FAIL line. */
static char why[512];
#if defined(__GNUC__)
__attribute__((format(printf, 1, 2)))
#endif
static void fail(const char *fmt, ...)
{
    size_t used = strlen(why);
    if (used > 0 && used + 2 < sizeof why) {
        strcpy(why + used, "; ");
        used += 2;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why + used, sizeof why - used, fmt, ap);
    va_end(ap);
}

int main(int argc, char **argv)
{
    long run_ms = 1000;
    if (argc > 2 || (argc == 2 && ((run_ms = strtol(argv[1], NULL, 10)) <= 0 || run_ms > 3600000))) {
        fprintf(stderr, "usage: %s [MILLISECONDS]   (1..3600000, default 1000)\n", argv[0]);
        return 2;
    }
    if (!DISPATCHER_POOL_ABI_OK()) {
        fprintf(stderr, "FAIL: msg_pool.h does not match libdispatcher_pool.a "
                        "(DISPATCHER_TARGETS_MAX / DISPATCHER_PAYLOAD_MAX)\n");
        return 1;
    }
    int rc = pool_init(ENTRIES, PAYLOAD);
    if (rc != 0) {
        fprintf(stderr, "FAIL: pool_init: %d\n", rc);
        return 1;
    }
    for (size_t i = 0; i < N_MODULES; i++) {
        struct module *m = &modules[i];
        size_t item = m->mode == DISPATCH_MODE_POINTER ? sizeof(pool_msg_t *) : sizeof(dispatcher_msg_t);
        if (dispatcher_posix_msgq_init(&m->q, item, m->depth) != 0 ||
            msg_target_init(&m->target, &m->q, m->mode, m->id) != 0) {
            fprintf(stderr, "FAIL: queue/target init of %s\n", m->name);
            return 1;
        }
        if (m->mode == DISPATCH_MODE_VALUE && (m->value_buf = malloc(sizeof *m->value_buf)) == NULL) {
            fprintf(stderr, "FAIL: out of memory\n");
            return 1;
        }
    }
    printf("pool: %d entries x %d B; modules: fast, slow (2 ms/msg), legacy (value queue), battery; "
           "running %ld ms\n",
           ENTRIES, PAYLOAD, run_ms);

    for (size_t i = 0; i < N_MODULES; i++) {
        pthread_create(&modules[i].thread, NULL, module_thread, &modules[i]);
    }
    pthread_t sensor, battery;
    pthread_create(&sensor, NULL, sensor_thread, NULL);
    pthread_create(&battery, NULL, battery_thread, NULL);

    sleep_us(run_ms * 1000);

    /* Stop cleanly: producers first, then the modules drain their queues and return. */
    atomic_store(&stop_producers, true);
    pthread_join(sensor, NULL);
    pthread_join(battery, NULL);
    atomic_store(&producers_done, true);
    for (size_t i = 0; i < N_MODULES; i++) {
        pthread_join(modules[i].thread, NULL);
    }

    struct pool_stats s;
    pool_stats(&s);
    printf("frames %ld broadcast, %ld dropped (pool empty); control %ld sent\n", frames, drops, control_sent);
    printf("pool: total %u, in_use %u, high_water %u, alloc_failures %u, drop_count %u, "
           "enqueue_failures %u, broadcasts %u\n",
           s.pool_total, s.pool_in_use, s.high_water, s.pool_alloc_failures, s.pool_drop_count,
           s.enqueue_failures, s.broadcasts);

    for (size_t i = 0; i < N_MODULES; i++) {
        struct module *m = &modules[i];
        struct msg_target_stats ts;
        msg_target_stats(&m->target, &ts);
        printf("  %-8s %s queue of %zu: delivered %u, refused (queue full) %u, processed %ld\n", m->name,
               m->mode == DISPATCH_MODE_POINTER ? "pointer" : "value", m->depth, ts.delivered, ts.failed,
               m->processed);
        if ((long)ts.delivered != m->processed) {
            fail("%s processed %ld of %u delivered", m->name, m->processed, ts.delivered);
        }
        if (m->corrupt != 0) {
            fail("%s: %ld corrupted payloads", m->name, m->corrupt);
        }
        if (m->error != 0) {
            fail("%s: receive failed with %d", m->name, m->error);
        }
    }
    if (drops > 0) {
        printf("why frames were dropped: an entry returns to the pool only when its last holder is "
               "done, and `slow` (2 ms per message, a pointer queue of 8) can pin all %d entries (its "
               "queue plus the one it works on): the sensor gets only what `slow` releases\n",
               ENTRIES);
    }

    static char json[2048];
    msg_target_t *all[N_MODULES];
    for (size_t i = 0; i < N_MODULES; i++) {
        all[i] = &modules[i].target;
    }
    if (pool_stats_json(json, sizeof json, all, N_MODULES) > 0) {
        printf("metrics JSON: %s\n", json);
    }

    struct pool_check_report r;
    rc = pool_check(&r);
    printf("checks: control sent %ld, received by battery %ld; pool_in_use %u; pool_check %d (free %zu, held %zu)\n",
           control_sent, modules[BATTERY].control, s.pool_in_use, rc, r.free, r.held);
    if (modules[BATTERY].control != control_sent) {
        fail("control messages lost: sent %ld, received %ld", control_sent, modules[BATTERY].control);
    }
    if (producer_errors != 0) {
        fail("%ld producer errors", producer_errors);
    }
    if (rc != 0 || r.held != 0 || s.pool_in_use != 0) {
        fail("the pool did not come back whole (pool_check %d, held %zu, in_use %u)", rc, r.held, s.pool_in_use);
    }

    for (size_t i = 0; i < N_MODULES; i++) {
        dispatcher_posix_msgq_destroy(&modules[i].q);
        free(modules[i].value_buf);
    }
    if (why[0] != '\0') {
        printf("FAIL: %s\n", why);
        return 1;
    }
    printf("PASS\n");
    return 0;
}
