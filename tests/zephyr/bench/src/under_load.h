/*
 * The timing scenario's "under load" run (CONFIG_DISPATCHER_POOL_TIMING): one fast and one slow
 * consumer fed at a fixed period; prints their queue depth and latency (under_load.c).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef BENCH_UNDER_LOAD_H
#define BENCH_UNDER_LOAD_H

#include <stddef.h>
#include <stdint.h>

#include <zephyr/kernel.h>

/*
 * Runs it on two threads of the caller's (not running; their stacks of stack_bytes each are
 * reused: the board's 64 KiB of RAM has no room for two more), prints the table and the
 * TIMING line; returns the number of errors seen.
 */
uint32_t bench_under_load(struct k_thread *fast, k_thread_stack_t *fast_stack,
			  struct k_thread *slow, k_thread_stack_t *slow_stack, size_t stack_bytes);

#endif /* BENCH_UNDER_LOAD_H */
