/*
 * Stands in for the SoC code that adds PSRAM to the shared multi-heap (on the ESP32-S3,
 * soc/espressif/common/esp_psram.c does it before the kernel starts): a static buffer is
 * registered as SMH_REG_ATTR_EXTERNAL in POST_KERNEL, before the dispatcher pool's boot hook
 * (APPLICATION, CONFIG_DISPATCHER_POOL_INIT_PRIORITY) takes the PSRAM pools' regions from it.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <zephyr/init.h>
#include <zephyr/kernel.h>
#include <zephyr/multi_heap/shared_multi_heap.h>

#include "psram_test.h"

#ifdef CONFIG_TEST_PSRAM_HEAP_TOO_SMALL
/* Half the default pool's region: its allocation must fail. */
#define SMH_BUF_BYTES (DEFAULT_REGION_BYTES / 2)
#else
/* The default pool (8 x 64 B payload) and fits.c's 4 x 32 B pool, with room for heap headers. */
#define SMH_BUF_BYTES 4096
#endif

uint8_t __aligned(8) smh_buf[SMH_BUF_BYTES];
const size_t smh_buf_bytes = sizeof(smh_buf);
int smh_add_rc = -EAGAIN;

bool in_smh_buf(const void *p, size_t len)
{
	uintptr_t a = (uintptr_t)p;
	uintptr_t lo = (uintptr_t)smh_buf;

	return a >= lo && len <= sizeof(smh_buf) && a - lo <= sizeof(smh_buf) - len;
}

static int register_external_ram(void)
{
	static struct shared_multi_heap_region region = {
		.attr = SMH_REG_ATTR_EXTERNAL,
		.size = sizeof(smh_buf),
	};
	int rc = shared_multi_heap_pool_init();

	if (rc != 0) {
		smh_add_rc = rc;
		return 0;
	}
	region.addr = (uintptr_t)smh_buf;
	smh_add_rc = shared_multi_heap_add(&region, NULL);
	return 0;
}

SYS_INIT(register_external_ram, POST_KERNEL, 0);
