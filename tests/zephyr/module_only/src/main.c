/*
 * The smallest user of the module: the default pool (created at boot from Kconfig), one
 * allocation and its release through the seed's calls.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <zephyr/kernel.h>

#include <msg_pool.h>

int main(void)
{
	struct pool_stats s = {0};
	pool_msg_t *p = pool_try_alloc();
	int rc = p != NULL ? msg_unref(p) : -ENOMEM;

	(void)pool_stats(&s);
	printk("module_only: alloc %s, unref %d, in_use %u of %u\n", p != NULL ? "ok" : "FAILED",
	       rc, s.pool_in_use, s.pool_total);
	return 0;
}
