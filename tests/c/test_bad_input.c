/*
 * Bad input, every class: each call asserts its exact negative errno and that the pool's
 * self-check still passes afterwards (nothing was corrupted, nothing leaked).
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "msg_pool_module.h"
#include "msg_pool.h"
#include "dispatcher_pool_posix.h"

#define ENTRIES 8
#define HEAP_SLOTS 2

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static struct pool_stats stats(void)
{
    struct pool_stats s;
    memset(&s, 0xa5, sizeof s);
    CHECK_EQ(pool_stats(&s), 0);
    return s;
}

/* The pool is consistent and holds `held` entries. */
static void check_pool(size_t held, int line)
{
    struct pool_check_report r = {99, 99, 99};
    int rc = pool_check(&r);
    if (rc != 0 || r.held != held || r.free + r.held != ENTRIES) {
        fprintf(stderr, "line %d: pool_check rc=%d free=%zu held=%zu (expected held %zu)\n", line, rc, r.free, r.held,
                held);
    }
    CHECK_EQ(rc, 0);
    CHECK_EQ(r.held, held);
    CHECK_EQ(r.free + r.held, ENTRIES);
}
#define CHECK_POOL(held) check_pool((held), __LINE__)

static pool_msg_t *alloc_with_len(uint32_t len)
{
    pool_msg_t *p = pool_try_alloc();
    CHECK(p != NULL);
    if (p != NULL) {
        memset(p->msg, 0, dispatcher_msg_header_size());
        p->msg->message_len = len;
    }
    return p;
}

static void before_init(void)
{
    pool_msg_t *out = (pool_msg_t *)&out;
    struct pool_stats s;
    struct pool_check_report r;
    msg_target_t zero_target;
    memset(&zero_target, 0, sizeof zero_target);
    msg_target_t *zt = &zero_target;
    char buf[64];

    CHECK(pool_try_alloc() == NULL);
    CHECK(pool_try_alloc_or(POOL_FALLBACK_HEAP) == NULL);
    CHECK(pool_alloc_blocking(10) == NULL);
    CHECK_EQ(pool_alloc(0, &out), -ENODEV);
    CHECK(out == NULL);
    CHECK_EQ(pool_alloc(10, &out), -ENODEV);
    CHECK_EQ(msg_ref(NULL), -ENODEV);
    CHECK_EQ(msg_unref(NULL), -ENODEV);
    CHECK_EQ(pool_stats(&s), -ENODEV);
    CHECK_EQ(pool_check(&r), -ENODEV);
    CHECK_EQ(pool_leaks(0, NULL, 0), -ENODEV);
    CHECK_EQ(pool_stats_json(buf, sizeof buf, NULL, 0), -ENODEV);
    CHECK_EQ(msg_broadcast(NULL, &zt, 1), -ENODEV);
    CHECK_EQ(msg_receive(zt, 0, &out, NULL), -EINVAL); /* the target is checked first */
    CHECK(pool_msg_from_msg(NULL) == NULL);
}

static void init_errors(void)
{
    CHECK_EQ(pool_init(0, 64), -EINVAL);
    CHECK_EQ(pool_init(1025, 64), -EINVAL);
    CHECK_EQ(pool_init(8, 0), -EINVAL);
    CHECK_EQ(pool_init(8, DISPATCHER_PAYLOAD_MAX + 1), -EINVAL);
    CHECK_EQ(pool_init_ex(NULL), -EINVAL);
    struct pool_config too_many_slots = {.entries = 8, .payload_size = 64, .heap_slots = 65};
    CHECK_EQ(pool_init_ex(&too_many_slots), -EINVAL);
    /* Failed inits leave the pool uninitialised. */
    CHECK_EQ(pool_check(NULL), -ENODEV);

    struct pool_config cfg = {.entries = ENTRIES, .payload_size = DISPATCHER_PAYLOAD_MAX, .heap_slots = HEAP_SLOTS};
    CHECK_EQ(pool_init_ex(&cfg), 0);
    CHECK_EQ(pool_init(ENTRIES, 64), -EALREADY);
    CHECK_EQ(pool_init_ex(&cfg), -EALREADY);
    struct pool_stats s = stats();
    CHECK_EQ(s.pool_total, ENTRIES);
    CHECK_EQ(s.payload_size, DISPATCHER_PAYLOAD_MAX);
    CHECK_EQ(s.stride, DISPATCHER_POOL_STRIDE(DISPATCHER_PAYLOAD_MAX));
    CHECK_EQ(s.stride, msg_pool_stride(DISPATCHER_PAYLOAD_MAX));
    CHECK_POOL(0);
}

static void ref_unref_errors(void)
{
    struct pool_stats before = stats();

    CHECK_EQ(msg_unref(NULL), -EINVAL);
    CHECK_EQ(msg_ref(NULL), -EINVAL);
    CHECK_POOL(0);

    /* A foreign pointer: a pool_msg_t on the stack. */
    pool_msg_t fake;
    memset(&fake, 0, sizeof fake);
    CHECK_EQ(msg_unref(&fake), -EFAULT);
    CHECK_EQ(msg_ref(&fake), -EFAULT);
    CHECK_POOL(0);

    /* A pointer into the middle of a held descriptor. */
    pool_msg_t *p = alloc_with_len(0);
    pool_msg_t *mid = (pool_msg_t *)((char *)p + 4);
    CHECK_EQ(msg_unref(mid), -EFAULT);
    CHECK_EQ(msg_ref(mid), -EFAULT);
    CHECK_POOL(1);

    /* Double unref. */
    CHECK_EQ(msg_unref(p), 0);
    CHECK_POOL(0);
    CHECK_EQ(msg_unref(p), -EALREADY);
    CHECK_POOL(0);

    /* Ref of a free entry. */
    CHECK_EQ(msg_ref(p), -EINVAL);
    CHECK_POOL(0);

    struct pool_stats after = stats();
    CHECK_EQ(after.invalid_unrefs - before.invalid_unrefs, 4); /* NULL, stack, middle, double */
    CHECK_EQ(after.invalid_refs - before.invalid_refs, 4);     /* NULL, stack, middle, free */
}

static void ref_saturation(void)
{
    pool_msg_t *p = alloc_with_len(0);
    long refs = 0;
    int rc;
    while ((rc = msg_ref(p)) == 0) {
        refs++;
    }
    CHECK_EQ(rc, -EOVERFLOW);
    CHECK_EQ(refs, 65534); /* the producer's reference plus these reach the maximum, 65535 */
    CHECK_EQ(msg_ref(p), -EOVERFLOW); /* still refused, nothing wrapped */
    CHECK_POOL(1);
    for (long i = 0; i < refs; i++) {
        if (msg_unref(p) != 0) {
            CHECK(!"unref of a saturated entry failed");
            break;
        }
    }
    CHECK_POOL(1);
    CHECK_EQ(msg_unref(p), 0);
    CHECK_POOL(0);
}

static struct k_msgq ptr_q, val_q;
static msg_target_t ptr_target, val_target;

static void target_errors(void)
{
    CHECK_EQ(dispatcher_posix_msgq_init(&ptr_q, sizeof(pool_msg_t *), 4), 0);
    CHECK_EQ(dispatcher_posix_msgq_init(&val_q, sizeof(dispatcher_msg_t), 2), 0);
    CHECK_EQ(msg_target_init(NULL, &ptr_q, DISPATCH_MODE_POINTER, 1), -EINVAL);
    CHECK_EQ(msg_target_init(&ptr_target, NULL, DISPATCH_MODE_POINTER, 1), -EINVAL);
    /* Item sizes that do not fit the mode. */
    CHECK_EQ(msg_target_init(&ptr_target, &val_q, DISPATCH_MODE_POINTER, 1), -EINVAL);
    struct k_msgq tiny_q;
    CHECK_EQ(dispatcher_posix_msgq_init(&tiny_q, 4, 2), 0);
    CHECK_EQ(msg_target_init(&val_target, &tiny_q, DISPATCH_MODE_VALUE, 2), -EINVAL);
    struct k_msgq huge_q; /* larger than dispatcher_msg_t: msg_receive could not copy it out */
    CHECK_EQ(dispatcher_posix_msgq_init(&huge_q, sizeof(dispatcher_msg_t) + 64, 1), 0);
    CHECK_EQ(msg_target_init(&val_target, &huge_q, DISPATCH_MODE_VALUE, 2), -EINVAL);
    dispatcher_posix_msgq_destroy(&tiny_q);
    dispatcher_posix_msgq_destroy(&huge_q);

    CHECK_EQ(msg_target_init(&ptr_target, &ptr_q, DISPATCH_MODE_POINTER, 1), 0);
    CHECK_EQ(msg_target_init(&val_target, &val_q, DISPATCH_MODE_VALUE, 2), 0);

    /* A zeroed target is refused by every call. */
    msg_target_t zero_target;
    memset(&zero_target, 0, sizeof zero_target);
    msg_target_t *zt = &zero_target;
    struct msg_target_stats ts;
    pool_msg_t *out = NULL;
    dispatcher_msg_t *value = calloc(1, sizeof *value);
    char json[1024];
    CHECK_EQ(msg_target_stats(&zero_target, &ts), -EINVAL);
    CHECK_EQ(msg_target_stats(NULL, &ts), -EINVAL);
    CHECK_EQ(msg_target_stats(&ptr_target, NULL), -EINVAL);
    CHECK_EQ(msg_receive(&zero_target, 0, &out, value), -EINVAL);
    CHECK_EQ(msg_target_purge(&zero_target), -EINVAL);
    CHECK_EQ(pool_stats_json(json, sizeof json, &zt, 1), -EINVAL);
    CHECK_EQ(msg_module_process(&zero_target, 0, value, NULL), -EINVAL);
    CHECK_POOL(0);

    /* Receive errors: nothing queued, missing output buffers. */
    CHECK_EQ(msg_receive(&ptr_target, 0, &out, NULL), -EAGAIN);
    CHECK_EQ(msg_receive(&ptr_target, 20, &out, NULL), -EAGAIN);
    CHECK_EQ(msg_receive(&ptr_target, 0, NULL, NULL), -EINVAL);
    CHECK_EQ(msg_receive(&val_target, 0, &out, NULL), -EINVAL);
    CHECK_EQ(msg_receive(&val_target, 0, NULL, value), -EAGAIN);

    /* A pointer queue holding something that is not a pool entry. */
    struct pool_stats before = stats();
    pool_msg_t fake;
    pool_msg_t *fake_ptr = &fake;
    CHECK(dispatcher_port_msgq_put(&ptr_q, &fake_ptr, sizeof fake_ptr));
    out = (pool_msg_t *)&fake; /* must be cleared on error */
    CHECK_EQ(msg_receive(&ptr_target, 0, &out, NULL), -EFAULT);
    CHECK(out == NULL);
    /* No pool owns it: the default pool counts the refusal; nothing else changed. */
    CHECK_EQ(stats().invalid_unrefs - before.invalid_unrefs, 1);
    CHECK_POOL(0);
    free(value);
}

static void broadcast_errors(void)
{
    msg_target_t *both[2] = {&ptr_target, &val_target};
    msg_target_t zero_target;
    memset(&zero_target, 0, sizeof zero_target);
    msg_target_t *with_zero[2] = {&ptr_target, &zero_target};
    msg_target_t *with_null[2] = {&ptr_target, NULL};
    struct pool_stats before = stats();

    /* Refused broadcasts consume the producer's reference and count a drop. */
    pool_msg_t *p = alloc_with_len(DISPATCHER_PAYLOAD_MAX + 1);
    CHECK_EQ(msg_broadcast(p, both, 2), -EMSGSIZE);
    CHECK_POOL(0);
    p = alloc_with_len(1);
    CHECK_EQ(msg_broadcast(p, both, 0), -EINVAL);
    CHECK_POOL(0);
    p = alloc_with_len(1);
    CHECK_EQ(msg_broadcast(p, NULL, 2), -EINVAL);
    CHECK_POOL(0);
    p = alloc_with_len(1);
    CHECK_EQ(msg_broadcast(p, with_zero, 2), -EINVAL);
    CHECK_POOL(0);
    p = alloc_with_len(1);
    CHECK_EQ(msg_broadcast(p, with_null, 2), -EINVAL);
    CHECK_POOL(0);
    struct pool_stats mid = stats();
    CHECK_EQ(mid.pool_drop_count - before.pool_drop_count, 5);
    CHECK_EQ(mid.broadcasts - before.broadcasts, 0);

    /* Bad pointers change nothing. */
    pool_msg_t fake;
    CHECK_EQ(msg_broadcast(NULL, both, 2), -EINVAL);
    CHECK_EQ(msg_broadcast(&fake, both, 2), -EFAULT);
    CHECK_EQ(msg_broadcast(p, both, 2), -EINVAL); /* p is free now */
    CHECK_EQ(stats().pool_drop_count, mid.pool_drop_count);
    CHECK_EQ(msg_target_purge(&ptr_target), 0);
    CHECK_POOL(0);
}

static void isr_and_exhaustion(void)
{
    pool_msg_t *out = NULL;
    dispatcher_posix_test_set_isr(true);
    CHECK_EQ(pool_alloc(10, &out), -EPERM);
    CHECK(out == NULL);
    CHECK_EQ(pool_alloc(-1, &out), -EPERM);
    CHECK(pool_alloc_blocking(10) == NULL);
    CHECK_EQ(pool_alloc(0, &out), 0); /* no wait is allowed in an ISR */
    CHECK(out != NULL);
    CHECK_EQ(msg_unref(out), 0);
    CHECK_EQ(msg_receive(&ptr_target, 5, &out, NULL), -EPERM); /* no waiting in an ISR */
    CHECK_EQ(msg_receive(&ptr_target, 0, &out, NULL), -EAGAIN); /* empty, no wait: fine */
    dispatcher_posix_test_set_isr(false);
    CHECK_EQ(pool_alloc(0, NULL), -EINVAL);
    CHECK_POOL(0);

    pool_msg_t *held[ENTRIES];
    for (int i = 0; i < ENTRIES; i++) {
        held[i] = pool_try_alloc();
        CHECK(held[i] != NULL);
    }
    struct pool_stats before = stats();
    CHECK(pool_try_alloc() == NULL);
    CHECK_EQ(pool_alloc(0, &out), -ENOMEM);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    CHECK_EQ(pool_alloc(30, &out), -EAGAIN);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    long waited_ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    CHECK(waited_ms >= 29 && waited_ms < 1000);
    CHECK(pool_try_alloc_or(POOL_FALLBACK_DROP) == NULL);
    struct pool_stats after = stats();
    CHECK_EQ(after.pool_alloc_failures - before.pool_alloc_failures, 4);
    CHECK_EQ(after.pool_drop_count - before.pool_drop_count, 1);

    /* Heap fallback: HEAP_SLOTS messages, then a drop; unref returns them to the heap. */
    pool_msg_t *h1 = pool_try_alloc_or(POOL_FALLBACK_HEAP);
    pool_msg_t *h2 = pool_try_alloc_or(POOL_FALLBACK_HEAP);
    CHECK(h1 != NULL && h2 != NULL && h1 != h2);
    CHECK(pool_try_alloc_or(POOL_FALLBACK_HEAP) == NULL);
    CHECK_EQ(dispatcher_posix_test_heap_live(), 2);
    CHECK_EQ(stats().fallback_in_use, 2);
    CHECK(pool_msg_from_msg(h2->msg) == h2);
    struct pool_check_report r;
    CHECK_EQ(pool_check(&r), 0);
    CHECK_EQ(r.heap_held, 2);
    CHECK_EQ(msg_unref(h1), 0);
    CHECK_EQ(msg_unref(h2), 0);
    CHECK_EQ(msg_unref(h2), -EALREADY);
    CHECK_EQ(dispatcher_posix_test_heap_live(), 0);
    CHECK_EQ(stats().fallback_in_use, 0);
    dispatcher_posix_test_set_heap_budget(0); /* the heap fails: a drop */
    CHECK(pool_try_alloc_or(POOL_FALLBACK_HEAP) == NULL);
    dispatcher_posix_test_set_heap_budget(-1);
    CHECK_POOL(ENTRIES);

    /* Leak report: entry 0 is the oldest; everything is held by the producer. */
    sleep_ms(30);
    CHECK_EQ(msg_unref(held[ENTRIES - 1]), 0);
    held[ENTRIES - 1] = pool_try_alloc(); /* young again */
    struct pool_leak leaks[DISPATCHER_LEAKS_MAX];
    CHECK_EQ(pool_leaks(25, leaks, DISPATCHER_LEAKS_MAX), ENTRIES - 1);
    CHECK_EQ(leaks[0].held_by, POOL_HOLDER_PRODUCER);
    CHECK_EQ(leaks[0].queued, 0);
    CHECK_EQ(leaks[0].queued_at, POOL_HOLDER_NONE);
    CHECK_EQ(leaks[0].refcount, 1);
    CHECK(leaks[0].age_ms >= 25);
    CHECK_EQ(pool_leaks(0, NULL, 0), ENTRIES);
    CHECK_EQ(pool_leaks(0, NULL, 1), -EINVAL);
    CHECK_EQ(pool_leaks(0, leaks, 2), ENTRIES); /* count is the total, only 2 written */

    for (int i = 0; i < ENTRIES; i++) {
        CHECK_EQ(msg_unref(held[i]), 0);
    }
    CHECK_POOL(0);
}

static void json_and_misc(void)
{
    msg_target_t *both[2] = {&ptr_target, &val_target};
    char small[16];
    char json[2048];
    CHECK_EQ(pool_stats_json(small, sizeof small, both, 2), -ENOSPC);
    CHECK_EQ(pool_stats_json(NULL, 0, NULL, 0), -ENOSPC);
    CHECK_EQ(pool_stats_json(NULL, 10, NULL, 0), -EINVAL);
    CHECK_EQ(pool_stats_json(json, sizeof json, NULL, 1), -EINVAL);
    CHECK_EQ(pool_stats_json(json, sizeof json, both, DISPATCHER_JSON_TARGETS_MAX + 1), -EINVAL);
    int n = pool_stats_json(json, sizeof json, both, 2);
    CHECK(n > 0);
    CHECK_EQ((size_t)n, strlen(json));
    CHECK(strstr(json, "\"pool_total\":8,") != NULL);
    CHECK(strstr(json, "{\"id\":1,") != NULL && strstr(json, "{\"id\":2,") != NULL);

    CHECK_EQ(pool_entries_for(64, 250, 2), 32);
    CHECK_EQ(pool_entries_for(10, 250, 2), 8);
    CHECK_EQ(pool_entries_for(100000, 1000, 4), 1024);
    /* The C constant expression is the library's function, on a grid with the edges. */
    static const uint32_t grid[] = {0, 1, 7, 8, 64, 999, 1000, 1001, 65535, UINT32_MAX};
    int differ = 0;
    for (size_t a = 0; a < sizeof grid / sizeof grid[0]; a++) {
        for (size_t b = 0; b < sizeof grid / sizeof grid[0]; b++) {
            for (size_t c = 0; c < sizeof grid / sizeof grid[0]; c++) {
                differ += DISPATCHER_POOL_ENTRIES_FOR(grid[a], grid[b], grid[c]) !=
                          pool_entries_for(grid[a], grid[b], grid[c]);
            }
        }
    }
    CHECK_EQ(differ, 0);

    /* pool_msg_from_msg: a held entry's message maps back; copies and free entries do not. */
    pool_msg_t *p = alloc_with_len(3);
    CHECK(pool_msg_from_msg(p->msg) == p);
    CHECK(pool_msg_from_msg((dispatcher_msg_t *)((char *)p->msg + 8)) == NULL);
    dispatcher_msg_t *copy = malloc(sizeof *copy);
    CHECK(pool_msg_from_msg(copy) == NULL);
    dispatcher_msg_t *m = p->msg;
    CHECK_EQ(msg_unref(p), 0);
    CHECK(pool_msg_from_msg(m) == NULL);

    /* Purge releases what a dead module left in its queue; value items are just dropped. */
    msg_target_t *ptr_only[1] = {&ptr_target};
    for (int i = 0; i < 3; i++) {
        p = alloc_with_len(3);
        CHECK_EQ(msg_broadcast(p, ptr_only, 1), 1);
    }
    p = alloc_with_len(3);
    CHECK_EQ(msg_broadcast(p, both, 2), 2);
    CHECK_POOL(4);
    struct msg_target_stats ts;
    CHECK_EQ(msg_target_stats(&ptr_target, &ts), 0);
    CHECK_EQ(ts.queued, 4);
    CHECK_EQ(ts.id, 1);
    struct pool_leak leaks[4];
    CHECK_EQ(pool_leaks(0, leaks, 4), 4);
    /* pool_leaks is told of no target: a queued, never-received entry reads as the producer's. */
    CHECK_EQ(leaks[0].held_by, POOL_HOLDER_PRODUCER);
    CHECK_EQ(leaks[0].queued, 0);
    CHECK_EQ(msg_pool_leaks(msg_pool_default(), 0, ptr_only, 1, leaks, 4), 4);
    CHECK_EQ(leaks[0].queued_at, 1); /* queued at target 1 */
    CHECK_EQ(leaks[0].queued, 1);
    CHECK_EQ(leaks[0].held_by, POOL_HOLDER_NONE);
    CHECK_EQ(msg_target_purge(&ptr_target), 4);
    CHECK_EQ(msg_target_purge(&val_target), 1);
    CHECK_EQ(stats().purged, 4); /* pool entries released; the value copy was no pool entry */
    CHECK_POOL(0);
    free(copy);
}

int main(void)
{
    CHECK(DISPATCHER_POOL_ABI_OK());
    before_init();
    init_errors();
    ref_unref_errors();
    ref_saturation();
    target_errors();
    broadcast_errors();
    isr_and_exhaustion();
    json_and_misc();
    CHECK_EQ(stats().pool_in_use, 0);
    CHECK_POOL(0);
    dispatcher_posix_msgq_destroy(&ptr_q);
    dispatcher_posix_msgq_destroy(&val_q);
    return check_summary("test_bad_input");
}
