/*
 * Mixed traffic: producer threads broadcast to pointer-mode and value-mode modules, whose
 * consumer threads receive through msg_pool_module.h. At the end every counter must add up
 * and the pool must be back to empty.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "msg_pool_module.h"
#include "msg_pool.h"
#include "dispatcher_pool_posix.h"

#define ENTRIES 8
#define N_PTR 4
#define N_VAL 2
#define N_MODULES (N_PTR + N_VAL)
#define N_PRODUCERS 3
#define BROADCASTS_PER_PRODUCER 3000

struct module {
    int id;
    bool value_mode;
    struct k_msgq q;
    msg_target_t target;
    dispatcher_msg_t *value_buf; /* value mode: heap, not the thread stack */
    pthread_t thread;
    /* Written by the module thread only; read after join. */
    long received;
    long corrupt;
    long kept;
    pool_msg_t *kept_msg; /* a message held past process_msg with msg_ref */
};

static struct module modules[N_MODULES];
static msg_target_t *targets[N_MODULES];
static atomic_bool producers_done;

/* Per-producer results, written by the producer thread only; read after join. */
struct producer {
    int id;
    bool blocking;
    pthread_t thread;
    long broadcasts;
    long delivered;
    long no_entry;     /* allocation returned NULL */
    long zero_receivers;
};
static struct producer producers[N_PRODUCERS];

/* Payload lengths vary in 8 .. 8 + LEN_SPREAD - 1 (fits any DISPATCHER_PAYLOAD_MAX >= 16). */
#define LEN_SPREAD (DISPATCHER_PAYLOAD_MAX - 8 < 200 ? DISPATCHER_PAYLOAD_MAX - 8 : 200)

/* Payload: seq (4 bytes, native order), then bytes (seq + k) & 0xff. */
static void fill(dispatcher_msg_t *m, uint16_t source, uint32_t seq)
{
    uint32_t len = 8 + seq % LEN_SPREAD;
    m->message_len = len;
    m->source = source;
    m->n_targets = N_MODULES;
    m->context = NULL;
    for (int i = 0; i < N_MODULES; i++) {
        m->targets[i] = (uint8_t)(i + 1);
    }
    memcpy(m->data, &seq, sizeof seq);
    for (uint32_t k = 4; k < len; k++) {
        m->data[k] = (uint8_t)(seq + k);
    }
}

static bool intact(const dispatcher_msg_t *m)
{
    uint32_t seq;
    if (m->message_len < 8 || m->message_len > 8 + LEN_SPREAD - 1 || m->n_targets != N_MODULES || m->source >= N_PRODUCERS) {
        return false;
    }
    memcpy(&seq, m->data, sizeof seq);
    if (m->message_len != 8 + seq % LEN_SPREAD) {
        return false;
    }
    for (uint32_t k = 4; k < m->message_len; k++) {
        if (m->data[k] != (uint8_t)(seq + k)) {
            return false;
        }
    }
    return true;
}

static void process_msg(const dispatcher_msg_t *msg, void *user)
{
    struct module *mod = user;
    mod->received++;
    if (!intact(msg)) {
        mod->corrupt++;
    }
    /* Module 0 keeps every 16th message past process_msg (pointer mode only). */
    if (mod->id == 0 && mod->received % 16 == 0) {
        pool_msg_t *h = pool_msg_from_msg(msg);
        CHECK(h != NULL);
        if (h != NULL && msg_ref(h) == 0) {
            if (mod->kept_msg != NULL) {
                if (!intact(mod->kept_msg->msg)) { /* still intact while referenced */
                    mod->corrupt++;
                }
                CHECK_EQ(msg_unref(mod->kept_msg), 0);
            }
            mod->kept_msg = h;
            mod->kept++;
        }
    }
    if (mod->value_mode) {
        CHECK(pool_msg_from_msg(msg) == NULL); /* a copy, not a pool message */
    }
}

static void *module_thread(void *arg)
{
    struct module *mod = arg;
    for (;;) {
        int rc = msg_module_process_ex(&mod->target, 20, mod->value_buf, process_msg, mod);
        if (rc == -EAGAIN) {
            if (atomic_load(&producers_done)) {
                break; /* nothing left: producers are done and the queue stayed empty 20 ms */
            }
            continue;
        }
        CHECK_EQ(rc, 0);
        if ((mod->value_mode || mod->id == 1) && mod->received % 64 == 0) {
            struct timespec ts = {0, 200000}; /* slow modules: queues fill up, the pool runs dry */
            nanosleep(&ts, NULL);
        }
    }
    if (mod->kept_msg != NULL) {
        CHECK_EQ(msg_unref(mod->kept_msg), 0);
        mod->kept_msg = NULL;
    }
    return NULL;
}

static void *producer_thread(void *arg)
{
    struct producer *pr = arg;
    for (uint32_t i = 0; i < BROADCASTS_PER_PRODUCER; i++) {
        pool_msg_t *p;
        if (pr->blocking) {
            /* Control producer: waits for an entry. */
            int rc = pool_alloc(1000, &p);
            if (rc != 0) {
                CHECK_EQ(rc, -EAGAIN);
                pr->no_entry++;
                continue;
            }
        } else {
            /* Streaming producer: drops when the pool is empty. */
            p = pool_try_alloc();
            if (p == NULL) {
                pr->no_entry++;
                continue;
            }
        }
        fill(p->msg, (uint16_t)pr->id, i * N_PRODUCERS + (uint32_t)pr->id);
        int n = msg_broadcast(p, targets, N_MODULES);
        CHECK(n >= 0 && n <= N_MODULES);
        pr->broadcasts++;
        if (i % 4 == 0) {
            sched_yield(); /* let the modules run now and then: some queues fill, some drain */
        }
        if (n > 0) {
            pr->delivered += n;
        } else {
            pr->zero_receivers++;
        }
    }
    return NULL;
}

int main(void)
{
    CHECK(DISPATCHER_POOL_ABI_OK());
    /* Value-mode items are whole dispatcher_msg_t: payload_size must be DISPATCHER_PAYLOAD_MAX. */
    CHECK_EQ(pool_init(ENTRIES, DISPATCHER_PAYLOAD_MAX), 0);

    for (int i = 0; i < N_MODULES; i++) {
        struct module *mod = &modules[i];
        mod->id = i;
        mod->value_mode = i >= N_PTR;
        size_t item = mod->value_mode ? sizeof(dispatcher_msg_t) : sizeof(pool_msg_t *);
        CHECK_EQ(dispatcher_posix_msgq_init(&mod->q, item, mod->value_mode ? 4 : 8), 0);
        CHECK_EQ(msg_target_init(&mod->target, &mod->q, mod->value_mode ? DISPATCH_MODE_VALUE : DISPATCH_MODE_POINTER,
                                      (uint16_t)(i + 1)),
                 0);
        mod->value_buf = mod->value_mode ? malloc(sizeof(dispatcher_msg_t)) : NULL;
        targets[i] = &mod->target;
    }
    for (int i = 0; i < N_MODULES; i++) {
        CHECK_EQ(pthread_create(&modules[i].thread, NULL, module_thread, &modules[i]), 0);
    }
    for (int i = 0; i < N_PRODUCERS; i++) {
        producers[i].id = i;
        producers[i].blocking = i == N_PRODUCERS - 1;
        CHECK_EQ(pthread_create(&producers[i].thread, NULL, producer_thread, &producers[i]), 0);
    }
    for (int i = 0; i < N_PRODUCERS; i++) {
        pthread_join(producers[i].thread, NULL);
    }
    atomic_store(&producers_done, true);
    for (int i = 0; i < N_MODULES; i++) {
        pthread_join(modules[i].thread, NULL);
    }

    long broadcasts = 0, delivered = 0, no_entry = 0, zero_receivers = 0;
    for (int i = 0; i < N_PRODUCERS; i++) {
        broadcasts += producers[i].broadcasts;
        delivered += producers[i].delivered;
        no_entry += producers[i].no_entry;
        zero_receivers += producers[i].zero_receivers;
    }
    long received = 0, target_delivered = 0, target_failed = 0;
    for (int i = 0; i < N_MODULES; i++) {
        struct module *mod = &modules[i];
        struct msg_target_stats ts;
        CHECK_EQ(msg_target_stats(&mod->target, &ts), 0);
        CHECK_EQ(ts.delivered, mod->received); /* every delivered message was processed once */
        CHECK_EQ(ts.delivered + ts.failed, broadcasts);
        CHECK_EQ(ts.queued, 0);
        CHECK_EQ(mod->corrupt, 0);
        received += mod->received;
        target_delivered += ts.delivered;
        target_failed += ts.failed;
    }
    CHECK(modules[0].kept > 0);

    struct pool_stats s;
    CHECK_EQ(pool_stats(&s), 0);
    CHECK_EQ(broadcasts + no_entry, N_PRODUCERS * BROADCASTS_PER_PRODUCER);
    CHECK(broadcasts > 0);
    CHECK_EQ(s.broadcasts, broadcasts);
    CHECK_EQ(delivered, received);
    CHECK_EQ(delivered, target_delivered);
    CHECK_EQ(delivered + s.enqueue_failures, (long)N_MODULES * broadcasts);
    CHECK_EQ(s.enqueue_failures, target_failed);
    CHECK_EQ(s.pool_alloc_failures, no_entry);
    CHECK_EQ(s.pool_drop_count, zero_receivers); /* try_alloc failures are not drops (no policy) */
    CHECK_EQ(s.allocations, broadcasts);
    CHECK_EQ(s.frees, broadcasts);
    CHECK_EQ(s.invalid_refs + s.invalid_unrefs, 0);
    CHECK(s.high_water <= ENTRIES && s.high_water > 0);
    CHECK_EQ(s.pool_in_use, 0);
    struct pool_check_report r;
    CHECK_EQ(pool_check(&r), 0);
    CHECK_EQ(r.free, ENTRIES);
    CHECK_EQ(r.held, 0);
    CHECK_EQ(pool_leaks(0, NULL, 0), 0);

    char json[2048]; /* the timing build's target objects are ~160 B longer */
    CHECK(pool_stats_json(json, sizeof json, targets, N_MODULES) > 0);
    printf("%s\n", json);
    printf("broadcasts %ld, delivered %ld, enqueue failures %u, no entry %ld, high water %u\n", broadcasts, delivered,
           s.enqueue_failures, no_entry, s.high_water);

    for (int i = 0; i < N_MODULES; i++) {
        dispatcher_posix_msgq_destroy(&modules[i].q);
        free(modules[i].value_buf);
    }
    return check_summary("test_mixed");
}
