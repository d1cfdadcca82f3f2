/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * The phases profile.py attributes, each run ROUNDS times between two calls of
 * profile_phase() (the trace's phase markers), all in one thread with 8 pointer targets:
 *   1  msg_pool_try_alloc + msg_unref
 *   2  msg_ref + msg_unref of a held entry (not the last reference)
 *   3  alloc, msg_broadcast to 8, then 8 x (msg_receive + msg_unref)
 *   4  the floor of phase 3: a 4-byte token k_msgq_put into 8 queues and k_msgq_get back
 */
#include <zephyr/kernel.h>
#include "msg_pool.h"
#include "dispatcher_pool_zephyr.h"

#define N      8
#define ROUNDS 100

static char __aligned(4) qbuf[N][2 * sizeof(void *)];
static struct k_msgq q[N];
static msg_target_t t[N];
static msg_target_t *ts[N];
static volatile int phase_seen;
static int errors;

/* The marker profile.py looks for: its first instruction starts a phase. */
__attribute__((noinline)) void profile_phase(int phase)
{
	phase_seen = phase;
	__asm__ volatile("" ::: "memory");
}

static void check(bool ok)
{
	errors += ok ? 0 : 1;
}

int main(void)
{
	pool_msg_t *held;

	for (int i = 0; i < N; i++) {
		k_msgq_init(&q[i], qbuf[i], sizeof(void *), 2);
		check(msg_target_init(&t[i], &q[i], DISPATCH_MODE_POINTER, (uint16_t)i) == 0);
		ts[i] = &t[i];
	}
	held = msg_pool_try_alloc(&dispatcher_pool_default);
	check(held != NULL);
	/* Two passes: profile.py reads the second (caches of lazy paths warm, like the bench). */
	for (int pass = 0; pass < 2; pass++) {
		profile_phase(1);
		for (int k = 0; k < ROUNDS; k++) {
			check(msg_unref(msg_pool_try_alloc(&dispatcher_pool_default)) == 0);
		}
		profile_phase(2);
		for (int k = 0; k < ROUNDS; k++) {
			check(msg_ref(held) == 0 && msg_unref(held) == 0);
		}
		profile_phase(3);
		for (int k = 0; k < ROUNDS; k++) {
			pool_msg_t *p = msg_pool_try_alloc(&dispatcher_pool_default);

			p->msg->message_len = 1024;
			check(msg_broadcast(p, ts, N) == N);
			for (int i = 0; i < N; i++) {
				pool_msg_t *r;

				check(msg_receive(&t[i], 0, &r, NULL) == 0 && msg_unref(r) == 0);
			}
		}
		profile_phase(4);
		for (int k = 0; k < ROUNDS; k++) {
			void *x = &k;

			for (int i = 0; i < N; i++) {
				check(k_msgq_put(&q[i], &x, K_NO_WAIT) == 0);
			}
			for (int i = 0; i < N; i++) {
				check(k_msgq_get(&q[i], &x, K_NO_WAIT) == 0);
			}
		}
		profile_phase(5);
	}
	printk("PROFILE DONE errors=%d\n", errors);
	return 0;
}
