/* The firmware-compatible dispatcher layer (dispatcher.h, dispatcher_pool.h) on the POSIX port:
 * registry, sentinels, send helpers, pool isolation, the pointer view, mixed value/pointer
 * delivery, the self test, the seed API beside it, and registry changes racing broadcasts. */
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "dispatcher.h"
#include "dispatcher_pool.h"
#include "dispatcher_pool_posix.h"

static struct pool_stats stats_of(dispatcher_pool_type_t type)
{
    struct pool_stats s;
    memset(&s, 0, sizeof(s));
    CHECK_EQ(msg_pool_stats(dispatcher_pool_get(type), &s), 0);
    return s;
}

static size_t queued(struct k_msgq *q)
{
    return dispatcher_port_msgq_len(q);
}

static pool_msg_t *take(struct k_msgq *q)
{
    pool_msg_t *p = NULL;
    if (!dispatcher_port_msgq_get(q, &p, 0)) {
        return NULL;
    }
    return p;
}

static void test_names_and_sentinels(void)
{
    CHECK_EQ(TARGET_MAX, 10);
    CHECK_EQ(SOURCE_UNDEFINED, 10);
    CHECK(strcmp(target_names[TARGET_RGB], "TARGET_RGB") == 0);
    CHECK(strcmp(source_names[SOURCE_SPARE], "SOURCE_SPARE") == 0);
    dispatch_target_t t[TARGET_MAX];
    dispatcher_fill_targets(t);
    int all = 1;
    for (int i = 0; i < TARGET_MAX; i++) {
        all &= t[i] == TARGET_MAX;
    }
    CHECK(all);
    dispatcher_msg_t m;
    memset(&m, 0, sizeof(m));
    dispatcher_fill_targets(m.targets);
    CHECK_EQ(m.targets[DISPATCHER_TARGETS_MAX - 1], TARGET_MAX);
    m.targets[0] = TARGET_LOG;
    CHECK(m.targets[0] == TARGET_LOG);
}

static void test_registry(void)
{
    static struct k_msgq a, b, sse, val;
    CHECK_EQ(dispatcher_posix_msgq_init(&a, sizeof(void *), 8), 0);
    CHECK_EQ(dispatcher_posix_msgq_init(&b, sizeof(void *), 8), 0);
    CHECK_EQ(dispatcher_posix_msgq_init(&sse, sizeof(void *), 8), 0);
    CHECK_EQ(dispatcher_posix_msgq_init(&val, sizeof(dispatcher_msg_t), 2), 0);

    /* Unknown ids and unfit queues are refused and change nothing. */
    CHECK_EQ(dispatcher_register_ptr_queue(TARGET_MAX, &a), -EINVAL);
    CHECK_EQ(dispatcher_register_ptr_queue((dispatch_target_t)-1, &a), -EINVAL);
    CHECK_EQ(dispatcher_register_ptr_queue(TARGET_RGB, &val), -EINVAL);
    CHECK(!dispatcher_has_ptr_queue(TARGET_RGB));
    CHECK(dispatcher_get_ptr_queue(TARGET_MAX) == NULL);
    CHECK(dispatcher_target(TARGET_RGB) == NULL);

    CHECK_EQ(dispatcher_register_ptr_queue(TARGET_RGB, &a), 0);
    CHECK(dispatcher_get_ptr_queue(TARGET_RGB) == &a);
    CHECK(dispatcher_has_ptr_queue(TARGET_RGB));
    CHECK(dispatcher_target(TARGET_RGB) != NULL);
    CHECK_EQ(dispatcher_register_ptr_queue(TARGET_RGB, &a), 0); /* same again: no-op */

    /* One queue under three ids: a message to two of them is queued twice. */
    CHECK_EQ(dispatcher_register_ptr_queue(TARGET_SSE_A, &sse), 0);
    CHECK_EQ(dispatcher_register_ptr_queue(TARGET_SSE_B, &sse), 0);
    CHECK_EQ(dispatcher_register_ptr_queue(TARGET_SSE_C, &sse), 0);
    dispatch_target_t t[TARGET_MAX];
    dispatcher_fill_targets(t);
    t[0] = TARGET_SSE_A;
    t[5] = TARGET_SSE_C; /* holes are allowed */
    t[6] = TARGET_LIDAR; /* no queue: skipped and counted */
    uint32_t unrouted = dispatcher_unrouted_count(TARGET_LIDAR);
    pool_msg_t *p = dispatcher_pool_try_alloc(DISPATCHER_POOL_STREAMING);
    CHECK(p != NULL);
    CHECK_EQ(dispatcher_broadcast_ptr(p, t), 2);
    CHECK_EQ(queued(&sse), 2);
    CHECK_EQ(dispatcher_unrouted_count(TARGET_LIDAR), unrouted + 1);
    CHECK_EQ(stats_of(DISPATCHER_POOL_STREAMING).pool_in_use, 1);

    /* Unregistering one id of three keeps the queue's entries (still fed by the others). */
    CHECK_EQ(dispatcher_register_ptr_queue(TARGET_SSE_A, NULL), 0);
    CHECK_EQ(queued(&sse), 2);
    CHECK_EQ(dispatcher_register_ptr_queue(TARGET_SSE_B, NULL), 0);
    CHECK_EQ(queued(&sse), 2);
    /* The last one releases them: nothing leaks. */
    CHECK_EQ(dispatcher_register_ptr_queue(TARGET_SSE_C, NULL), 0);
    CHECK_EQ(queued(&sse), 0);
    CHECK_EQ(stats_of(DISPATCHER_POOL_STREAMING).pool_in_use, 0);
    CHECK(!dispatcher_has_ptr_queue(TARGET_SSE_C));

    /* Re-registering an id to another queue releases what the old queue held. */
    p = dispatcher_pool_try_alloc(DISPATCHER_POOL_CONTROL);
    dispatcher_fill_targets(t);
    t[0] = TARGET_RGB;
    CHECK_EQ(dispatcher_broadcast_ptr(p, t), 1);
    CHECK_EQ(queued(&a), 1);
    CHECK_EQ(dispatcher_register_ptr_queue(TARGET_RGB, &b), 0);
    CHECK_EQ(queued(&a), 0);
    CHECK(dispatcher_get_ptr_queue(TARGET_RGB) == &b);
    CHECK_EQ(stats_of(DISPATCHER_POOL_CONTROL).pool_in_use, 0);

    /* A value queue is not a pointer queue. */
    CHECK_EQ(dispatcher_register_value_queue(TARGET_LEGACY, &val), 0);
    CHECK(!dispatcher_has_ptr_queue(TARGET_LEGACY));
    CHECK(dispatcher_target(TARGET_LEGACY) != NULL);
    CHECK_EQ(dispatcher_register_value_queue(TARGET_LEGACY, &a), -EINVAL); /* pointer-sized items */

    /* Nothing addressed: 0 queues, the entry is released and the drop counted. */
    uint32_t drops = stats_of(DISPATCHER_POOL_STREAMING).pool_drop_count;
    p = dispatcher_pool_try_alloc(DISPATCHER_POOL_STREAMING);
    dispatcher_fill_targets(t);
    CHECK_EQ(dispatcher_broadcast_ptr(p, t), 0);
    CHECK_EQ(stats_of(DISPATCHER_POOL_STREAMING).pool_in_use, 0);
    CHECK_EQ(stats_of(DISPATCHER_POOL_STREAMING).pool_drop_count, drops + 1);
    /* NULL targets: refused, reference still consumed. */
    p = dispatcher_pool_try_alloc(DISPATCHER_POOL_STREAMING);
    CHECK(dispatcher_broadcast_ptr(p, (const dispatch_target_t *)NULL) < 0);
    CHECK_EQ(stats_of(DISPATCHER_POOL_STREAMING).pool_in_use, 0);
    CHECK_EQ(dispatcher_broadcast_ptr(NULL, t), -EINVAL);

    CHECK_EQ(dispatcher_register_ptr_queue(TARGET_RGB, NULL), 0);
    CHECK_EQ(dispatcher_register_value_queue(TARGET_LEGACY, NULL), 0);
}

static void test_send_helpers_and_view(void)
{
    static struct k_msgq rgb;
    CHECK_EQ(dispatcher_posix_msgq_init(&rgb, sizeof(void *), 4), 0);
    CHECK_EQ(dispatcher_register_ptr_queue(TARGET_RGB, &rgb), 0);

    dispatch_target_t t[TARGET_MAX];
    dispatcher_fill_targets(t);
    t[0] = TARGET_RGB;
    uint8_t big[300];
    for (size_t i = 0; i < sizeof(big); i++) {
        big[i] = (uint8_t)(i * 7);
    }
    int ctx = 42;
    size_t room = dispatcher_pool_payload_size(DISPATCHER_POOL_CONTROL);
    CHECK(room > 0 && room < sizeof(big));
    uint32_t trunc = dispatcher_pool_truncations(DISPATCHER_POOL_CONTROL);
    dispatcher_pool_send_params_t params = {
        .type = DISPATCHER_POOL_CONTROL,
        .source = SOURCE_REST,
        .targets = t,
        .data = big,
        .data_len = sizeof(big),
        .context = &ctx,
    };
    CHECK(dispatcher_pool_send_ptr_params(&params) != NULL);
    CHECK_EQ(dispatcher_pool_truncations(DISPATCHER_POOL_CONTROL), trunc + 1);
    pool_msg_t *r = take(&rgb);
    CHECK(r != NULL);
    const dispatcher_msg_ptr_t *v = dispatcher_pool_get_msg_const(r);
    CHECK(v != NULL);
    if (v != NULL) {
        CHECK_EQ(v->message_len, room);
        CHECK_EQ(v->source, SOURCE_REST);
        CHECK(v->context == &ctx);
        CHECK(v->data == r->msg->data);
        CHECK(memcmp(v->data, big, room) == 0);
        CHECK_EQ(v->targets[0], TARGET_RGB);
        CHECK_EQ(v->targets[1], TARGET_MAX);
    }
    /* A held entry's middle, and the same entry once free: refused before any access. */
    CHECK(dispatcher_pool_get_msg_const((const pool_msg_t *)((const char *)r + 1)) == NULL);
    CHECK(msg_message((const pool_msg_t *)((const char *)r + sizeof(void *))) == NULL);
    dispatcher_pool_msg_unref(r);
    CHECK(dispatcher_pool_get_msg_const(r) == NULL);
    CHECK(dispatcher_pool_get_msg(r) == NULL);
    CHECK(msg_message(r) == NULL);
    CHECK(dispatcher_pool_get_msg_const(NULL) == NULL);
    int not_an_entry;
    CHECK(dispatcher_pool_get_msg((pool_msg_t *)(void *)&not_an_entry) == NULL);

    /* The firmware's REST pattern: fill through the view, broadcast the view's own targets[]. */
    pool_msg_t *p = dispatcher_pool_try_alloc(DISPATCHER_POOL_CONTROL);
    dispatcher_msg_ptr_t *w = dispatcher_pool_get_msg(p);
    CHECK(w != NULL && w->data != NULL);
    w->source = SOURCE_REST;
    dispatcher_fill_targets(w->targets);
    w->targets[0] = TARGET_RGB;
    memcpy(w->data, "on", 2);
    w->message_len = 2;
    w->context = NULL;
    CHECK_EQ(dispatcher_broadcast_ptr(p, w->targets), 1);
    r = take(&rgb);
    CHECK(r == p);
    CHECK(memcmp(r->msg->data, "on", 2) == 0);
    dispatcher_pool_msg_unref(r);

    /* Exhaustion: NULL, nothing sent, and the control pool is unaffected by a streaming flood. */
    size_t n = stats_of(DISPATCHER_POOL_STREAMING).pool_total;
    pool_msg_t **held = calloc(n, sizeof(*held));
    for (size_t i = 0; i < n; i++) {
        held[i] = dispatcher_pool_try_alloc(DISPATCHER_POOL_STREAMING);
        CHECK(held[i] != NULL);
    }
    CHECK(dispatcher_pool_send_ptr(DISPATCHER_POOL_STREAMING, SOURCE_LIDAR, t, big, 4, NULL) == NULL);
    CHECK_EQ(queued(&rgb), 0);
    CHECK(dispatcher_pool_alloc_blocking(DISPATCHER_POOL_STREAMING, 0) == NULL);
    pool_msg_t *c = dispatcher_pool_alloc_blocking(DISPATCHER_POOL_CONTROL, 0);
    CHECK(c != NULL);
    dispatcher_pool_msg_unref(c);
    for (size_t i = 0; i < n; i++) {
        dispatcher_pool_msg_unref(held[i]);
    }
    free(held);

    /* Refusals are counted, never crash: double unref, a foreign pointer. */
    uint32_t bad = stats_of(DISPATCHER_POOL_CONTROL).invalid_unrefs;
    c = dispatcher_pool_try_alloc(DISPATCHER_POOL_CONTROL);
    dispatcher_pool_msg_unref(c);
    dispatcher_pool_msg_unref(c);
    CHECK_EQ(stats_of(DISPATCHER_POOL_CONTROL).invalid_unrefs, bad + 1);
    CHECK(dispatcher_pool_try_alloc((dispatcher_pool_type_t)7) == NULL);
    CHECK_EQ(dispatcher_pool_payload_size((dispatcher_pool_type_t)7), 0);
    CHECK(dispatcher_pool_send_ptr_params(NULL) == NULL);
    CHECK_EQ(dispatcher_register_ptr_queue(TARGET_RGB, NULL), 0);
}

static void test_send_value_and_pointer(void)
{
    static struct k_msgq ptrq, valq;
    static dispatcher_msg_t in, out;
    CHECK_EQ(dispatcher_posix_msgq_init(&ptrq, sizeof(void *), 4), 0);
    CHECK_EQ(dispatcher_posix_msgq_init(&valq, sizeof(dispatcher_msg_t), 4), 0);
    CHECK_EQ(dispatcher_register_ptr_queue(TARGET_LOG, &ptrq), 0);
    CHECK_EQ(dispatcher_register_value_queue(TARGET_LEGACY, &valq), 0);

    memset(&in, 0, sizeof(in));
    in.source = SOURCE_BATTERY;
    dispatcher_fill_targets(in.targets);
    in.targets[0] = TARGET_LEGACY;
    in.targets[1] = TARGET_LOG;
    memcpy(in.data, "battery 87%", 11);
    in.message_len = 11;
    CHECK_EQ(dispatcher_send(&in), 2);
    pool_msg_t *r = take(&ptrq);
    CHECK(r != NULL);
    CHECK(r != NULL && memcmp(r->msg->data, "battery 87%", 11) == 0);
    CHECK(r != NULL && r->msg->source == SOURCE_BATTERY);
    dispatcher_pool_msg_unref(r);
    CHECK_EQ(msg_receive(dispatcher_target(TARGET_LEGACY), 0, NULL, &out), 0);
    CHECK_EQ(out.message_len, 11);
    CHECK(memcmp(out.data, "battery 87%", 11) == 0);
    CHECK(out.data_ptr == out.data); /* the copy's view points at the copy */
    CHECK_EQ(stats_of(DISPATCHER_POOL_STREAMING).pool_in_use, 0);

    /* Longer than the streaming payload: truncated and counted. */
    uint32_t trunc = dispatcher_pool_truncations(DISPATCHER_POOL_STREAMING);
    in.message_len = BUF_SIZE;
    CHECK_EQ(dispatcher_send(&in), 2);
    CHECK_EQ(dispatcher_pool_truncations(DISPATCHER_POOL_STREAMING), trunc + 1);
    r = take(&ptrq);
    CHECK(r != NULL && r->msg->message_len == dispatcher_pool_payload_size(DISPATCHER_POOL_STREAMING));
    dispatcher_pool_msg_unref(r);
    CHECK_EQ(msg_receive(dispatcher_target(TARGET_LEGACY), 0, NULL, &out), 0);
    CHECK_EQ(dispatcher_send(NULL), -EINVAL);

    CHECK_EQ(dispatcher_register_ptr_queue(TARGET_LOG, NULL), 0);
    CHECK_EQ(dispatcher_register_value_queue(TARGET_LEGACY, NULL), 0);
    CHECK_EQ(stats_of(DISPATCHER_POOL_STREAMING).pool_in_use, 0);
}

static void test_seed_api_beside(void)
{
    /* The seed's default pool and the dispatcher's pools in one image. */
    CHECK_EQ(pool_init(8, DISPATCHER_PAYLOAD_MAX < 128 ? DISPATCHER_PAYLOAD_MAX : 128), 0);
    pool_msg_t *d = pool_try_alloc();
    pool_msg_t *s = dispatcher_pool_try_alloc(DISPATCHER_POOL_STREAMING);
    CHECK(d != NULL && s != NULL);
    CHECK(msg_pool_of(d) == msg_pool_default());
    CHECK(msg_pool_of(s) == dispatcher_pool_get(DISPATCHER_POOL_STREAMING));
    /* A default-pool entry broadcast through the registry, read through the view. */
    static struct k_msgq q;
    CHECK_EQ(dispatcher_posix_msgq_init(&q, sizeof(void *), 2), 0);
    CHECK_EQ(dispatcher_register_ptr_queue(TARGET_SPARE, &q), 0);
    dispatch_target_t t[TARGET_MAX];
    dispatcher_fill_targets(t);
    t[3] = TARGET_SPARE;
    CHECK_EQ(dispatcher_broadcast_ptr(d, t), 1);
    pool_msg_t *r = take(&q);
    CHECK(r == d);
    CHECK(dispatcher_pool_get_msg_const(r) != NULL && dispatcher_pool_get_msg_const(r)->data == d->msg->data);
    CHECK_EQ(msg_unref(r), 0);
    CHECK_EQ(msg_unref(s), 0);
    struct pool_check_report rep;
    CHECK_EQ(pool_check(&rep), 0);
    CHECK_EQ(msg_pool_check(dispatcher_pool_get(DISPATCHER_POOL_STREAMING), &rep), 0);
    CHECK_EQ(msg_pool_check(dispatcher_pool_get(DISPATCHER_POOL_CONTROL), &rep), 0);
    CHECK_EQ(dispatcher_register_ptr_queue(TARGET_SPARE, NULL), 0);
}

/* Producers broadcast while another thread registers and unregisters the queue. Once an
 * unregistration has returned, the queue is empty (purged) and stays empty until the next
 * registration: no broadcast that looked the queue up before can still put into it. At the
 * end every entry is back. */
#define RACE_CYCLES 3000
static struct k_msgq race_q;
static atomic_int race_stop;
static atomic_int race_late_puts;

static void *race_producer(void *arg)
{
    (void)arg;
    dispatch_target_t t[TARGET_MAX];
    dispatcher_fill_targets(t);
    t[0] = TARGET_BATTERY;
    for (uint8_t b = 0; !atomic_load(&race_stop); b++) {
        (void)dispatcher_pool_send_ptr(DISPATCHER_POOL_STREAMING, SOURCE_LIDAR, t, &b, 1, NULL);
    }
    return NULL;
}

static void *race_registrar(void *arg)
{
    (void)arg;
    for (int cycle = 0; cycle < RACE_CYCLES; cycle++) {
        CHECK_EQ(dispatcher_register_ptr_queue(TARGET_BATTERY, &race_q), 0);
        sched_yield();
        CHECK_EQ(dispatcher_register_ptr_queue(TARGET_BATTERY, NULL), 0);
        if (queued(&race_q) != 0) {
            atomic_fetch_add(&race_late_puts, 1);
        }
        for (int k = 0; k < 20; k++) {
            sched_yield();
        }
        if (queued(&race_q) != 0) {
            atomic_fetch_add(&race_late_puts, 1);
            (void)dispatcher_port_msgq_purge(&race_q); /* keep going: count each one */
        }
    }
    atomic_store(&race_stop, 1);
    return NULL;
}

static void test_registry_race(void)
{
    CHECK_EQ(dispatcher_posix_msgq_init(&race_q, sizeof(void *), 16), 0);
    pthread_t prod[2], reg;
    atomic_store(&race_stop, 0);
    pthread_create(&reg, NULL, race_registrar, NULL);
    for (int i = 0; i < 2; i++) {
        pthread_create(&prod[i], NULL, race_producer, NULL);
    }
    pthread_join(reg, NULL);
    for (int i = 0; i < 2; i++) {
        pthread_join(prod[i], NULL);
    }
    CHECK_EQ(atomic_load(&race_late_puts), 0);
    CHECK_EQ(queued(&race_q), 0);
    CHECK_EQ(stats_of(DISPATCHER_POOL_STREAMING).pool_in_use, 0);
    struct pool_check_report rep;
    CHECK_EQ(msg_pool_check(dispatcher_pool_get(DISPATCHER_POOL_STREAMING), &rep), 0);
}

int main(void)
{
    CHECK_EQ(dispatcher_pool_init(), 0);
    CHECK_EQ(dispatcher_init(), 0); /* idempotent */
    CHECK(stats_of(DISPATCHER_POOL_STREAMING).pool_total >= 16);
    CHECK_EQ(stats_of(DISPATCHER_POOL_STREAMING).payload_size, 64);
    test_names_and_sentinels();
    test_registry();
    test_send_helpers_and_view();
    test_send_value_and_pointer();
    CHECK_EQ(dispatcher_pool_self_test_run(), 0);
    test_seed_api_beside();
    test_registry_race();
    return check_summary("test_dispatcher");
}
