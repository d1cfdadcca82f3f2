/*
 * The timing scenario's "under load" run (CONFIG_DISPATCHER_POOL_TIMING): one fast and one slow
 * consumer fed at a fixed period; prints their queue depth and latency (under_load.c).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef BENCH_UNDER_LOAD_H
#define BENCH_UNDER_LOAD_H

#include <stdint.h>

/* Runs it and prints the table and the TIMING line; returns the number of errors seen. */
uint32_t bench_under_load(void);

#endif /* BENCH_UNDER_LOAD_H */
