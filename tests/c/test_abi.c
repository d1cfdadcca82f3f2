/*
 * The header's DISPATCHER_TARGETS_MAX / DISPATCHER_PAYLOAD_MAX against the library's build:
 * built with -DEXPECT_ABI_OK=1 when they agree and -DEXPECT_ABI_OK=0 when they do not, so the
 * run-time check is shown to catch a mismatch, not only to pass.
 */
#include "check.h"
#include "msg_pool.h"

#ifndef EXPECT_ABI_OK
#error "build with -DEXPECT_ABI_OK=0 or 1"
#endif

int main(void)
{
#if EXPECT_ABI_OK
    CHECK(DISPATCHER_POOL_ABI_OK());
    CHECK_EQ(dispatcher_msg_size(), sizeof(dispatcher_msg_t));
    CHECK_EQ(dispatcher_msg_header_size(), offsetof(dispatcher_msg_t, data));
    CHECK_EQ(dispatcher_msg_size() % _Alignof(dispatcher_msg_t), 0);
    /* One stride formula: the header's macro (static arrays) and the library's. */
    for (size_t payload = 1; payload <= DISPATCHER_PAYLOAD_MAX; payload += 3) {
        CHECK_EQ(DISPATCHER_POOL_STRIDE(payload), msg_pool_stride(payload));
    }
#else
    CHECK(!DISPATCHER_POOL_ABI_OK());
    CHECK(dispatcher_msg_size() != sizeof(dispatcher_msg_t) ||
          dispatcher_msg_header_size() != offsetof(dispatcher_msg_t, data));
#endif
    /* The layout C relies on in any build. */
    CHECK_EQ(offsetof(pool_msg_t, msg), 0);
    CHECK_EQ(offsetof(dispatcher_msg_t, targets) + DISPATCHER_TARGETS_MAX, offsetof(dispatcher_msg_t, data_ptr));
    CHECK_EQ(offsetof(dispatcher_msg_t, data_ptr) + sizeof(uint8_t *), offsetof(dispatcher_msg_t, data));
    return check_summary(EXPECT_ABI_OK ? "test_abi (matching header)" : "test_abi (mismatched header)");
}
