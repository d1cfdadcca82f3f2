/*
 * dispatcher_pool_posix.c: the POSIX (Linux, pthreads) implementation of
 * dispatcher_pool_port.h, plus the k_msgq-like queue and the test hooks declared in
 * dispatcher_pool_posix.h.
 *
 * Built into libdispatcher_pool_posix.a by `make -C port/posix` (see capi/README.md); the C
 * tests (tests/c) compile this file with their sanitizer flags.
 *
 * A straightforward implementation of the port header, function by function: the semaphore
 * (pthread mutex + condvar with k_sem semantics), time and context, memory (aligned_alloc),
 * and the queue.
 */
#define _POSIX_C_SOURCE 200809L

#include "dispatcher_pool_posix.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const int dispatcher_port_errno[DISPATCHER_ERRNO_COUNT] = DISPATCHER_PORT_ERRNO_TABLE;

/* ----- time and context --------------------------------------------------------------------- */

static struct timespec now_ts(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts;
}

uint32_t dispatcher_port_now_ms(void)
{
    struct timespec ts = now_ts();
    return (uint32_t)((uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u);
}

/* Microseconds of CLOCK_MONOTONIC (wrapping): only the library's `timing` feature calls these. */
uint32_t dispatcher_port_cycles(void)
{
    struct timespec ts = now_ts();
    return (uint32_t)((uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u);
}

uint32_t dispatcher_port_cycles_per_sec(void)
{
    return 1000000u;
}

static _Thread_local bool in_isr; /* test hook only: a POSIX thread is never an ISR */

void dispatcher_posix_test_set_isr(bool v)
{
    in_isr = v;
}

bool dispatcher_port_in_isr(void)
{
    return in_isr;
}

/* Deadline timeout_ms (> 0) from now on CLOCK_MONOTONIC. */
static struct timespec deadline_after(int32_t timeout_ms)
{
    struct timespec ts = now_ts();
    ts.tv_sec += timeout_ms / 1000;
    ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec += 1;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

static void cond_init_monotonic(pthread_cond_t *cv)
{
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(cv, &attr);
    pthread_condattr_destroy(&attr);
}

/* ----- semaphore (k_sem semantics, limit UINT32_MAX), one per pool --------------------------- */

static struct dispatcher_posix_sem *sem_ready(void *p)
{
    struct dispatcher_posix_sem *s = p;
    pthread_mutex_lock(&s->mu);
    if (!s->ready) { /* the static initialiser's condvar uses CLOCK_REALTIME: re-create it */
        pthread_cond_destroy(&s->cv);
        cond_init_monotonic(&s->cv);
        s->ready = true;
    }
    return s; /* locked */
}

bool dispatcher_port_sem_take(void *sem, int32_t timeout_ms)
{
    struct dispatcher_posix_sem *s = sem_ready(sem);
    if (s->count > 0) {
        s->count--;
        pthread_mutex_unlock(&s->mu);
        return true;
    }
    if (timeout_ms == 0) {
        pthread_mutex_unlock(&s->mu);
        return false;
    }
    struct timespec deadline = timeout_ms > 0 ? deadline_after(timeout_ms) : (struct timespec){0};
    bool taken = false;
    s->waiting++;
    for (;;) {
        if (s->grants > 0) {
            s->grants--;
            taken = true;
            break;
        }
        if (timeout_ms < 0) {
            pthread_cond_wait(&s->cv, &s->mu);
        } else if (pthread_cond_timedwait(&s->cv, &s->mu, &deadline) == ETIMEDOUT) {
            if (s->grants > 0) { /* a give picked us just before the timeout */
                s->grants--;
                taken = true;
            } else {
                s->waiting--;
            }
            break;
        }
    }
    pthread_mutex_unlock(&s->mu);
    return taken;
}

void dispatcher_port_sem_give(void *sem)
{
    struct dispatcher_posix_sem *s = sem_ready(sem);
    if (s->waiting > 0) {
        s->waiting--;
        s->grants++;
        pthread_cond_signal(&s->cv);
    } else if (s->count < UINT32_MAX) {
        s->count++;
    }
    pthread_mutex_unlock(&s->mu);
}

/* ----- memory -------------------------------------------------------------------------------- */

static atomic_long heap_budget = -1;
static atomic_long heap_live;

void dispatcher_posix_test_set_heap_budget(long n)
{
    atomic_store(&heap_budget, n);
}

long dispatcher_posix_test_heap_live(void)
{
    return atomic_load(&heap_live);
}

static void *aligned_block(size_t size, size_t align)
{
    if (align < sizeof(void *)) {
        align = sizeof(void *);
    }
    size_t rounded = (size + align - 1) / align * align;
    return aligned_alloc(align, rounded == 0 ? align : rounded);
}

void *dispatcher_port_heap_alloc(size_t size, size_t align)
{
    long b = atomic_load(&heap_budget);
    for (;;) {
        if (b == 0) {
            return NULL;
        }
        if (b < 0 || atomic_compare_exchange_weak(&heap_budget, &b, b - 1)) {
            break;
        }
    }
    void *p = aligned_block(size, align);
    if (p != NULL) {
        atomic_fetch_add(&heap_live, 1);
    }
    return p;
}

void dispatcher_port_heap_free(void *p)
{
    if (p != NULL) {
        atomic_fetch_sub(&heap_live, 1);
        free(p);
    }
}

/* ----- the default pool (what pool_init() creates) ----------------------------------------- */

/* Memory for the largest pool_init()/pool_init_ex() accepts; pool_init() itself asks for no
 * heap fallback slots (config.heap_slots 0), pool_init_ex() for up to 64. */
static struct dispatcher_posix_sem posix_default_sem = DISPATCHER_POSIX_SEM_INITIALIZER;
static struct pool_msg_t posix_default_descs[DISPATCHER_POSIX_DEFAULT_POOL_ENTRIES + DISPATCHER_POSIX_DEFAULT_POOL_HEAP_SLOTS];
static _Alignas(dispatcher_msg_t) unsigned char
    posix_default_region[DISPATCHER_POSIX_DEFAULT_POOL_ENTRIES * DISPATCHER_POOL_STRIDE(DISPATCHER_PAYLOAD_MAX)];
static struct msg_pool posix_default_pool = {
    .name = "default",
    .config = {DISPATCHER_POSIX_DEFAULT_POOL_ENTRIES, DISPATCHER_PAYLOAD_MAX, 0},
    .descs = posix_default_descs,
    .n_descs = DISPATCHER_POSIX_DEFAULT_POOL_ENTRIES + DISPATCHER_POSIX_DEFAULT_POOL_HEAP_SLOTS,
    .region = posix_default_region,
    .region_bytes = sizeof(posix_default_region),
    .sem = &posix_default_sem,
    .placement = "RAM",
};

__attribute__((constructor)) static void dispatcher_posix_set_default_pool(void)
{
    (void)msg_pool_set_default(&posix_default_pool);
}

/* ----- the queue (k_msgq semantics) ---------------------------------------------------------------------- */

int dispatcher_posix_msgq_init(struct k_msgq *q, size_t item_size, size_t depth)
{
    if (item_size == 0 || depth == 0) {
        return -EINVAL;
    }
    q->buf = calloc(depth, item_size);
    if (q->buf == NULL) {
        return -ENOMEM;
    }
    pthread_mutex_init(&q->mu, NULL);
    cond_init_monotonic(&q->not_empty);
    q->item_size = item_size;
    q->depth = depth;
    q->head = 0;
    q->len = 0;
    return 0;
}

void dispatcher_posix_msgq_destroy(struct k_msgq *q)
{
    pthread_cond_destroy(&q->not_empty);
    pthread_mutex_destroy(&q->mu);
    free(q->buf);
    q->buf = NULL;
}

bool dispatcher_port_msgq_put(struct k_msgq *q, const void *item, size_t len)
{
    if (len > q->item_size) {
        return false;
    }
    pthread_mutex_lock(&q->mu);
    if (q->len == q->depth) {
        pthread_mutex_unlock(&q->mu);
        return false;
    }
    size_t slot = (q->head + q->len) % q->depth;
    memcpy(q->buf + slot * q->item_size, item, len);
    memset(q->buf + slot * q->item_size + len, 0, q->item_size - len);
    q->len++;
    pthread_cond_signal(&q->not_empty);
    pthread_mutex_unlock(&q->mu);
    return true;
}

bool dispatcher_port_msgq_get(struct k_msgq *q, void *item, int32_t timeout_ms)
{
    struct timespec deadline = timeout_ms > 0 ? deadline_after(timeout_ms) : (struct timespec){0};
    pthread_mutex_lock(&q->mu);
    while (q->len == 0) {
        if (timeout_ms == 0) {
            pthread_mutex_unlock(&q->mu);
            return false;
        }
        if (timeout_ms < 0) {
            pthread_cond_wait(&q->not_empty, &q->mu);
        } else if (pthread_cond_timedwait(&q->not_empty, &q->mu, &deadline) == ETIMEDOUT && q->len == 0) {
            pthread_mutex_unlock(&q->mu);
            return false;
        }
    }
    memcpy(item, q->buf + q->head * q->item_size, q->item_size);
    q->head = (q->head + 1) % q->depth;
    q->len--;
    pthread_mutex_unlock(&q->mu);
    return true;
}

bool dispatcher_port_msgq_peek_at(struct k_msgq *q, void *item, size_t idx)
{
    pthread_mutex_lock(&q->mu);
    bool ok = idx < q->len;
    if (ok) {
        memcpy(item, q->buf + (q->head + idx) % q->depth * q->item_size, q->item_size);
    }
    pthread_mutex_unlock(&q->mu);
    return ok;
}

size_t dispatcher_port_msgq_item_size(struct k_msgq *q)
{
    return q->item_size; /* constant after init */
}

size_t dispatcher_port_msgq_len(struct k_msgq *q)
{
    pthread_mutex_lock(&q->mu);
    size_t n = q->len;
    pthread_mutex_unlock(&q->mu);
    return n;
}

size_t dispatcher_port_msgq_purge(struct k_msgq *q)
{
    pthread_mutex_lock(&q->mu);
    size_t n = q->len;
    q->len = 0;
    q->head = 0;
    pthread_mutex_unlock(&q->mu);
    return n;
}
