/* A tiny assertion kit for the C API tests: CHECK/CHECK_EQ count, print and continue;
 * check_summary() prints one line and gives the exit status. */
#ifndef DISPATCHER_TEST_CHECK_H
#define DISPATCHER_TEST_CHECK_H

#include <stdatomic.h>
#include <stdio.h>

static atomic_int check_passed;
static atomic_int check_failed;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (cond) {                                                                                \
            atomic_fetch_add(&check_passed, 1);                                                    \
        } else {                                                                                   \
            atomic_fetch_add(&check_failed, 1);                                                    \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);               \
        }                                                                                          \
    } while (0)

#define CHECK_EQ(actual, expected)                                                                 \
    do {                                                                                           \
        long long check_a_ = (long long)(actual);                                                  \
        long long check_e_ = (long long)(expected);                                                \
        if (check_a_ == check_e_) {                                                                \
            atomic_fetch_add(&check_passed, 1);                                                    \
        } else {                                                                                   \
            atomic_fetch_add(&check_failed, 1);                                                    \
            fprintf(stderr, "%s:%d: CHECK_EQ failed: %s == %lld, expected %s == %lld\n", __FILE__, \
                    __LINE__, #actual, check_a_, #expected, check_e_);                             \
        }                                                                                          \
    } while (0)

static inline int check_summary(const char *name)
{
    int passed = atomic_load(&check_passed);
    int failed = atomic_load(&check_failed);
    printf("%s: %d passed, %d failed\n", name, passed, failed);
    return failed == 0 && passed > 0 ? 0 : 1;
}

#endif /* DISPATCHER_TEST_CHECK_H */
