/*
 * Several pools in one program: memory handed in (DISPATCHER_POOL_DEFINE), per-pool payload
 * size and region cost, isolation (a flooded pool never starves another), msg_ref/msg_unref
 * without a pool argument, refusals across pools, per-pool blocking, value delivery from a
 * small pool, the leak report with a stuck consumer, and the pool list and JSON.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "dispatcher_pool_posix.h"

/* 64 B and 256 B payloads (the control payload shrinks with a small DISPATCHER_PAYLOAD_MAX). */
#define CTRL_PAYLOAD (DISPATCHER_PAYLOAD_MAX < 256 ? DISPATCHER_PAYLOAD_MAX : 256)
#define CTRL_LEN (CTRL_PAYLOAD - 1)
DISPATCHER_POOL_DEFINE(streaming, 32, 64);
DISPATCHER_POOL_DEFINE(control, 4, CTRL_PAYLOAD);
DISPATCHER_POOL_DEFINE_EX(spare, 2, 16, 1);
DISPATCHER_POOL_DEFINE(never_created, 2, 16);

/* Too little memory for what its config asks: descriptors for 2, config says 4. */
static struct dispatcher_posix_sem short_sem = DISPATCHER_POSIX_SEM_INITIALIZER;
static struct pool_msg_t short_descs[2];
static _Alignas(dispatcher_msg_t) unsigned char short_region[4 * DISPATCHER_POOL_STRIDE(16)];
static struct msg_pool short_pool = {
    .name = "short", .config = {4, 16, 0}, .descs = short_descs, .n_descs = 2,
    .region = short_region, .region_bytes = sizeof short_region, .sem = &short_sem,
};
/* A misaligned region. */
static struct dispatcher_posix_sem odd_sem = DISPATCHER_POSIX_SEM_INITIALIZER;
static struct pool_msg_t odd_descs[2];
static _Alignas(dispatcher_msg_t) unsigned char odd_region[2 * DISPATCHER_POOL_STRIDE(16) + 8];
static struct msg_pool odd_pool = {
    .name = "odd", .config = {2, 16, 0}, .descs = odd_descs, .n_descs = 2,
    .region = odd_region + 1, .region_bytes = sizeof odd_region - 1, .sem = &odd_sem,
};

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static struct pool_stats st(const struct msg_pool *p)
{
    struct pool_stats s;
    memset(&s, 0xff, sizeof s);
    CHECK_EQ(msg_pool_stats(p, &s), 0);
    return s;
}

static void check_clean(const struct msg_pool *p)
{
    struct pool_check_report r;
    CHECK_EQ(msg_pool_check(p, &r), 0);
    CHECK_EQ(r.held, 0);
    CHECK_EQ(st(p).pool_in_use, 0);
}

static void creation(void)
{
    CHECK_EQ(msg_pool_init(NULL), -EINVAL);
    CHECK(msg_pool_try_alloc(&streaming) == NULL); /* not created yet */
    CHECK_EQ(msg_pool_stats(&streaming, &(struct pool_stats){0}), -ENODEV);
    CHECK_EQ(msg_pool_init(&short_pool), -ENOMEM);
    CHECK_EQ(msg_pool_init(&odd_pool), -EFAULT);
    CHECK_EQ(msg_pool_init(&streaming), 0);
    CHECK_EQ(msg_pool_init(&streaming), -EALREADY);
    CHECK_EQ(msg_pool_init(&control), 0);
    CHECK_EQ(msg_pool_init(&spare), 0);

    /* The region costs header + payload per entry, not sizeof(dispatcher_msg_t). */
    size_t header = offsetof(dispatcher_msg_t, data);
    CHECK_EQ(sizeof streaming_region, 32 * DISPATCHER_POOL_STRIDE(64));
    CHECK(DISPATCHER_POOL_STRIDE(64) - (header + 64) < DISPATCHER_MSG_ALIGN);
    CHECK_EQ(sizeof control_region, 4 * DISPATCHER_POOL_STRIDE(CTRL_PAYLOAD));
    CHECK(DISPATCHER_POOL_STRIDE(64) < sizeof(dispatcher_msg_t));
    printf("region bytes: 32 x 64 B = %zu, 4 x %d B = %zu (header %zu, sizeof(dispatcher_msg_t) %zu)\n",
           sizeof streaming_region, CTRL_PAYLOAD, sizeof control_region, header, sizeof(dispatcher_msg_t));
    struct pool_stats s = st(&streaming);
    CHECK_EQ(s.pool_total, 32);
    CHECK_EQ(s.payload_size, 64);
    CHECK_EQ(s.stride, msg_pool_stride(64));
    CHECK_EQ(st(&control).stride, DISPATCHER_POOL_STRIDE(CTRL_PAYLOAD));

    /* The list of created pools: exactly the three, newest first. */
    const struct msg_pool *seen[8];
    int n = 0;
    for (struct msg_pool *p = msg_pool_next(NULL); p != NULL && n < 8; p = msg_pool_next(p)) {
        seen[n++] = p;
    }
    CHECK_EQ(n, 3);
    CHECK(n == 3 && seen[0] == &spare && seen[1] == &control && seen[2] == &streaming);
}

static void isolation_and_ownership(void)
{
    pool_msg_t *flood[32];
    for (int i = 0; i < 32; i++) {
        flood[i] = msg_pool_try_alloc(&streaming);
        CHECK(flood[i] != NULL);
        CHECK(msg_pool_of(flood[i]) == &streaming);
    }
    CHECK(msg_pool_try_alloc(&streaming) == NULL);
    CHECK_EQ(st(&streaming).pool_alloc_failures, 1);
    /* Control still allocates, without waiting. */
    pool_msg_t *c = NULL;
    CHECK_EQ(msg_pool_alloc(&control, 0, &c), 0);
    CHECK(c != NULL && msg_pool_of(c) == &control);
    CHECK_EQ(st(&control).pool_alloc_failures, 0);

    /* msg_ref/msg_unref find the pool; a pointer of no pool is refused. */
    CHECK_EQ(msg_ref(c), 0);
    CHECK_EQ(msg_unref(c), 0);
    pool_msg_t fake;
    CHECK_EQ(msg_unref(&fake), -EFAULT);
    CHECK(msg_pool_of(&fake) == NULL);
    CHECK(msg_pool_of(&never_created_descs[0]) == NULL); /* a pool's memory, but never created */
    CHECK_EQ(msg_unref(&never_created_descs[0]), -EFAULT);
    /* A pointer one past the end of a pool's descriptors, and one inside a descriptor. */
    CHECK_EQ(msg_unref(&streaming_descs[32]), -EFAULT);
    CHECK_EQ(msg_unref((pool_msg_t *)((char *)flood[0] + 4)), -EFAULT);
    /* msg_pool_of answers by address range: a pointer into a descriptor names its pool. */
    CHECK(msg_pool_of((pool_msg_t *)((char *)flood[0] + 4)) == &streaming);
    CHECK(msg_pool_of(&streaming_descs[32]) == NULL);

    /* Entries go back to their own pool. */
    for (int i = 0; i < 32; i++) {
        CHECK_EQ(msg_unref(flood[i]), 0);
    }
    CHECK_EQ(msg_unref(c), 0);
    CHECK_EQ(msg_unref(c), -EALREADY); /* counted in control's pool */
    CHECK_EQ(st(&control).invalid_unrefs, 1);
    CHECK_EQ(st(&streaming).invalid_unrefs, 1); /* the middle-of-descriptor one */
    check_clean(&streaming);
    check_clean(&control);
}

struct freer_arg {
    pool_msg_t *p;
    int delay_ms;
};

static void *free_later(void *arg)
{
    struct freer_arg *a = arg;
    struct timespec ts = {0, a->delay_ms * 1000000L};
    nanosleep(&ts, NULL);
    CHECK_EQ(msg_unref(a->p), 0);
    return NULL;
}

static void blocking_waits_per_pool(void)
{
    pool_msg_t *held[4];
    for (int i = 0; i < 4; i++) {
        held[i] = msg_pool_try_alloc(&control);
        CHECK(held[i] != NULL);
    }
    /* A streaming entry freed meanwhile must not satisfy a control waiter. */
    pool_msg_t *s = msg_pool_try_alloc(&streaming);
    pthread_t th;
    struct freer_arg a = {s, 10};
    pthread_create(&th, NULL, free_later, &a);
    long t0 = now_ms();
    pool_msg_t *got = NULL;
    CHECK_EQ(msg_pool_alloc(&control, 60, &got), -EAGAIN);
    CHECK(got == NULL);
    CHECK(now_ms() - t0 >= 60);
    pthread_join(th, NULL);
    /* A control entry freed wakes it. */
    struct freer_arg b = {held[3], 20};
    pthread_create(&th, NULL, free_later, &b);
    got = msg_pool_alloc_blocking(&control, -1);
    CHECK(got == held[3]);
    pthread_join(th, NULL);
    held[3] = got;
    for (int i = 0; i < 4; i++) {
        CHECK_EQ(msg_unref(held[i]), 0);
    }
    check_clean(&control);
    check_clean(&streaming);
}

static void one_module_two_pools_and_value_copies(void)
{
    struct k_msgq ptr_q, val_q;
    CHECK_EQ(dispatcher_posix_msgq_init(&ptr_q, sizeof(pool_msg_t *), 8), 0);
    CHECK_EQ(dispatcher_posix_msgq_init(&val_q, sizeof(dispatcher_msg_t), 4), 0);
    msg_target_t ptr_t, val_t;
    CHECK_EQ(msg_target_init(&ptr_t, &ptr_q, DISPATCH_MODE_POINTER, 11), 0);
    CHECK_EQ(msg_target_init(&val_t, &val_q, DISPATCH_MODE_VALUE, 12), 0);
    msg_target_t *both[2] = {&ptr_t, &val_t};

    /* One module set receives from both pools. */
    pool_msg_t *a = msg_pool_try_alloc(&streaming);
    pool_msg_t *b = msg_pool_try_alloc(&control);
    memset(a->msg->data, 0xA5, 64);
    a->msg->message_len = 64;
    memset(b->msg->data, 0x5A, CTRL_LEN);
    b->msg->message_len = CTRL_LEN;
    CHECK_EQ(msg_broadcast(a, both, 2), 2);
    CHECK_EQ(msg_broadcast(b, both, 2), 2);
    /* Too long for streaming's 64 B payload: refused, consumed, counted as a drop. */
    pool_msg_t *big = msg_pool_try_alloc(&streaming);
    big->msg->message_len = 65;
    CHECK_EQ(msg_broadcast(big, both, 2), -EMSGSIZE);
    CHECK_EQ(st(&streaming).pool_drop_count, 1);

    pool_msg_t *r = NULL;
    CHECK_EQ(msg_receive(&ptr_t, 0, &r, NULL), 0);
    CHECK(r == a && msg_pool_of(r) == &streaming);
    CHECK_EQ(msg_unref(r), 0);
    CHECK_EQ(msg_receive(&ptr_t, 0, &r, NULL), 0);
    CHECK(r == b && msg_pool_of(r) == &control);
    CHECK_EQ(msg_unref(r), 0);

    /* Value copies from a 64 B pool: header and payload, the rest of the item zero. */
    dispatcher_msg_t *v = malloc(sizeof *v);
    memset(v, 0xEE, sizeof *v);
    CHECK_EQ(msg_receive(&val_t, 0, NULL, v), 0);
    CHECK_EQ(v->message_len, 64);
    int ok = 1;
    for (int i = 0; i < DISPATCHER_PAYLOAD_MAX; i++) {
        ok &= v->data[i] == (i < 64 ? 0xA5 : 0);
    }
    CHECK(ok);
    CHECK_EQ(msg_receive(&val_t, 0, NULL, v), 0);
    CHECK_EQ(v->message_len, CTRL_LEN);
    CHECK(v->data[CTRL_LEN - 1] == 0x5A && v->data[CTRL_LEN] == 0);
    free(v);
    check_clean(&streaming);
    check_clean(&control);
    dispatcher_posix_msgq_destroy(&ptr_q);
    dispatcher_posix_msgq_destroy(&val_q);
}

static void leak_report_blames_the_stuck_queue(void)
{
    struct k_msgq fast_q, stuck_q;
    CHECK_EQ(dispatcher_posix_msgq_init(&fast_q, sizeof(pool_msg_t *), 16), 0);
    CHECK_EQ(dispatcher_posix_msgq_init(&stuck_q, sizeof(pool_msg_t *), 16), 0);
    msg_target_t fast, stuck;
    CHECK_EQ(msg_target_init(&fast, &fast_q, DISPATCH_MODE_POINTER, 11), 0);
    CHECK_EQ(msg_target_init(&stuck, &stuck_q, DISPATCH_MODE_POINTER, 12), 0);
    msg_target_t *both[2] = {&fast, &stuck};
    for (int i = 0; i < 8; i++) {
        pool_msg_t *p = msg_pool_try_alloc(&streaming);
        p->msg->message_len = 1;
        CHECK_EQ(msg_broadcast(p, both, 2), 2);
    }
    /* The fast module takes and releases every one; the stuck one never receives. */
    pool_msg_t *r;
    while (msg_receive(&fast, 0, &r, NULL) == 0) {
        CHECK_EQ(msg_unref(r), 0);
    }
    /* One more, which the fast module keeps. */
    pool_msg_t *p = msg_pool_try_alloc(&streaming);
    p->msg->message_len = 1;
    CHECK_EQ(msg_broadcast(p, both, 2), 2);
    CHECK_EQ(msg_receive(&fast, 0, &r, NULL), 0);

    struct pool_leak leaks[16];
    CHECK_EQ(msg_pool_leaks(&streaming, 0, both, 2, leaks, 16), 9);
    int queued_at_12 = 0, kept = 0;
    for (int i = 0; i < 9; i++) {
        queued_at_12 += leaks[i].queued_at == 12 && leaks[i].queued == 1 &&
                        leaks[i].held_by == POOL_HOLDER_NONE && leaks[i].refcount == 1;
        kept += leaks[i].queued_at == 12 && leaks[i].queued == 1 && leaks[i].held_by == 11 &&
                leaks[i].refcount == 2 && &streaming_descs[leaks[i].index] == r;
    }
    CHECK_EQ(queued_at_12, 8); /* blamed on the stuck queue, not on target 11 */
    CHECK_EQ(kept, 1);         /* queued at 12 and held by 11 */
    CHECK_EQ(msg_unref(r), 0);
    CHECK_EQ(msg_target_purge(&stuck), 9);
    check_clean(&streaming);
    dispatcher_posix_msgq_destroy(&fast_q);
    dispatcher_posix_msgq_destroy(&stuck_q);
}

static int starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

static void json_of_every_pool(void)
{
    char buf[4096];
    int n = msg_pool_stats_json_all(buf, sizeof buf, NULL, 0);
    CHECK(n > 0 && (size_t)n == strlen(buf));
    const char *s = strstr(buf, "\"name\":\"streaming\"");
    const char *c = strstr(buf, "\"name\":\"control\"");
    const char *x = strstr(buf, "\"name\":\"spare\"");
    CHECK(s != NULL && c != NULL && x != NULL && s < c && c < x); /* oldest first */
    CHECK(starts_with(buf, "{\"pools\":[{\"name\":\"streaming\",\"pool_total\":32,"));
    CHECK(strstr(buf, "],\"targets\":[]}") != NULL);
    CHECK_EQ(msg_pool_stats_json_all(buf, 20, NULL, 0), -ENOSPC);
    n = msg_pool_stats_json(&control, buf, sizeof buf, NULL, 0);
    CHECK(n > 0 && starts_with(buf, "{\"name\":\"control\",\"pool_total\":4,"));
}

static void heap_fallback_of_a_small_pool(void)
{
    pool_msg_t *a = msg_pool_try_alloc(&spare), *b = msg_pool_try_alloc(&spare);
    CHECK(a != NULL && b != NULL);
    long live = dispatcher_posix_test_heap_live();
    pool_msg_t *h = msg_pool_try_alloc_or(&spare, POOL_FALLBACK_HEAP);
    CHECK(h != NULL && msg_pool_of(h) == &spare);
    CHECK_EQ(dispatcher_posix_test_heap_live(), live + 1);
    CHECK(msg_pool_try_alloc_or(&spare, POOL_FALLBACK_HEAP) == NULL); /* one slot */
    CHECK(msg_pool_try_alloc_or(&spare, 7) == NULL);                  /* not a policy */
    CHECK(pool_msg_from_msg(h->msg) == h);
    CHECK_EQ(msg_unref(h), 0);
    CHECK_EQ(dispatcher_posix_test_heap_live(), live);
    CHECK_EQ(msg_unref(a), 0);
    CHECK_EQ(msg_unref(b), 0);
    check_clean(&spare);
}

int main(void)
{
    creation();
    isolation_and_ownership();
    blocking_waits_per_pool();
    one_module_two_pools_and_value_copies();
    leak_report_blames_the_stuck_queue();
    json_of_every_pool();
    heap_fallback_of_a_small_pool();
    return check_summary("test_pools");
}
