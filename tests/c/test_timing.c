/*
 * The library's `timing` feature through the C API (built with -DCONFIG_DISPATCHER_POOL_TIMING
 * against a library built with --features timing): average queue depth sampled at each put of
 * msg_broadcast, broadcast-to-receive latency recorded by msg_receive (pointer mode only), the
 * fields in struct msg_target_stats and in the JSON target objects.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "dispatcher_pool_posix.h"

#ifndef CONFIG_DISPATCHER_POOL_TIMING
#error "test_timing needs -DCONFIG_DISPATCHER_POOL_TIMING (and a library built with --features timing)"
#endif

DISPATCHER_POOL_DEFINE(timed, 8, 64);

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static struct msg_target_stats tstats(const msg_target_t *t)
{
    struct msg_target_stats s;
    memset(&s, 0xff, sizeof s);
    CHECK_EQ(msg_target_stats(t, &s), 0);
    return s;
}

static void depth_and_latency(void)
{
    struct k_msgq ptr_q, val_q;
    CHECK_EQ(dispatcher_posix_msgq_init(&ptr_q, sizeof(pool_msg_t *), 8), 0);
    CHECK_EQ(dispatcher_posix_msgq_init(&val_q, sizeof(dispatcher_msg_t), 8), 0);
    msg_target_t ptr_t, val_t;
    CHECK_EQ(msg_target_init(&ptr_t, &ptr_q, DISPATCH_MODE_POINTER, 1), 0);
    CHECK_EQ(msg_target_init(&val_t, &val_q, DISPATCH_MODE_VALUE, 2), 0);
    msg_target_t *both[2] = {&ptr_t, &val_t};

    struct msg_target_stats s = tstats(&ptr_t);
    CHECK_EQ(s.depth_samples, 0);
    CHECK_EQ(s.latency_count, 0);
    CHECK_EQ(s.latency_min_us, 0);

    /* Four broadcasts nobody receives yet: depths 1, 2, 3, 4 after the puts. */
    for (int i = 0; i < 4; i++) {
        pool_msg_t *p = msg_pool_try_alloc(&timed);
        CHECK(p != NULL);
        p->msg->message_len = 8;
        CHECK_EQ(msg_broadcast(p, both, 2), 2);
    }
    sleep_ms(3);
    for (int i = 0; i < 4; i++) {
        pool_msg_t *r = NULL;
        CHECK_EQ(msg_receive(&ptr_t, 0, &r, NULL), 0);
        CHECK_EQ(msg_unref(r), 0);
    }
    s = tstats(&ptr_t);
    CHECK_EQ(s.avg_depth_x100, 250);
    CHECK_EQ(s.depth_samples, 4);
    CHECK_EQ(s.latency_count, 4);
    CHECK(s.latency_min_us >= 3000);
    CHECK(s.latency_min_us <= s.latency_p50_us && s.latency_p50_us <= s.latency_p99_us);
    CHECK(s.latency_p99_us <= s.latency_max_us && s.latency_max_us < 1000000);

    /* Value copies carry no descriptor: depth yes, latency no. */
    dispatcher_msg_t *v = malloc(sizeof *v);
    for (int i = 0; i < 4; i++) {
        CHECK_EQ(msg_receive(&val_t, 0, NULL, v), 0);
    }
    free(v);
    struct msg_target_stats vs = tstats(&val_t);
    CHECK_EQ(vs.avg_depth_x100, 250);
    CHECK_EQ(vs.latency_count, 0);
    CHECK_EQ(vs.latency_max_us, 0);

    /* The JSON target objects carry the fields. */
    char buf[1024];
    int n = msg_pool_stats_json(&timed, buf, sizeof buf, both, 2);
    CHECK(n > 0);
    CHECK(strstr(buf, "{\"id\":1,") != NULL);
    CHECK(strstr(buf, "\"avg_depth_x100\":250,\"depth_samples\":4,\"latency_count\":4,") != NULL);
    CHECK(strstr(buf, "\"latency_p99_us\":") != NULL);
    dispatcher_posix_msgq_destroy(&ptr_q);
    dispatcher_posix_msgq_destroy(&val_q);
}

int main(void)
{
    CHECK_EQ(msg_pool_init(&timed), 0);
    depth_and_latency();
    return check_summary("test_timing");
}
