/*
 * msg_pool_module.h: receive helper for dispatcher modules, in either queue mode.
 *
 * A module keeps its handler as it is:
 *
 *     static void process_msg(const dispatcher_msg_t *msg) { ... }
 *
 * and declares its target (its k_msgq plus the mode) once at start-up:
 *
 *     K_MSGQ_DEFINE(my_q, sizeof(pool_msg_t *), 16, sizeof(void *));      // pointer mode
 *     // K_MSGQ_DEFINE(my_q, sizeof(dispatcher_msg_t), 4, sizeof(void *)); // value mode (old path)
 *     static msg_target_t my_target;
 *     msg_target_init(&my_target, &my_q, DISPATCH_MODE_POINTER, MY_MODULE_ID);
 *
 * Its thread loop is then one call, whatever the mode:
 *
 *     for (;;) {
 *         msg_module_process(&my_target, DISPATCHER_WAIT_FOREVER, NULL, process_msg);
 *     }
 *
 * Value mode needs a buffer of sizeof(dispatcher_msg_t) (header + DISPATCHER_PAYLOAD_MAX
 * bytes, over 1 KiB by default) to copy the item into: pass one that is static or in the
 * module's state, never a local of a small thread stack. MSG_MODULE_VALUE_BUFFER(name)
 * defines one. Pointer mode needs no buffer (pass NULL).
 *
 * Lifetime: `msg` is valid only while process_msg runs. In pointer mode the helper releases
 * the message (msg_unref) after process_msg returns, and the message is shared with other
 * modules: read it, never write it. To keep it longer (hand it to another thread, batch it),
 * take a reference inside process_msg and release it later:
 *
 *     pool_msg_t *h = pool_msg_from_msg(msg);   // NULL in value mode: copy the message instead
 *     if (h != NULL && msg_ref(h) == 0) { keep(h); }      // ... later: msg_unref(h);
 *
 * In value mode `msg` points into the module's buffer, which the next receive overwrites;
 * copy what you need to keep.
 *
 * Hand-written (not generated).
 */
#ifndef MSG_POOL_MODULE_H
#define MSG_POOL_MODULE_H

#include "msg_pool.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Timeout value meaning "wait forever" (K_FOREVER). */
#define DISPATCHER_WAIT_FOREVER (-1)
/** Timeout value meaning "do not wait" (K_NO_WAIT). */
#define DISPATCHER_NO_WAIT 0

/** A module's unchanged handler. */
typedef void (*msg_process_fn)(const dispatcher_msg_t *msg);
/** A handler with a user pointer (for modules that keep state without globals). */
typedef void (*msg_process_ex_fn)(const dispatcher_msg_t *msg, void *user);

/**
 * Defines `static dispatcher_msg_t name`, a value-mode receive buffer in static storage
 * (.bss, not the stack). One per module thread: it is overwritten by every receive.
 */
#define MSG_MODULE_VALUE_BUFFER(name) static dispatcher_msg_t name

/**
 * Receives one message from target `t` (waiting up to timeout_ms: 0 = no wait, < 0 =
 * forever), calls process_msg(msg, user) and, in pointer mode, releases the message with
 * msg_unref afterwards.
 *
 * value_buf: a whole dispatcher_msg_t for value-mode targets (see above); may be NULL for
 * pointer-mode targets.
 *
 * Returns 0 when a message was processed, -EAGAIN when none arrived in time, or what
 * msg_receive or msg_unref returned (-EINVAL for an uninitialised target or a missing
 * value buffer, -ENODEV before pool_init, ...). Thread context (ISR only with timeout 0).
 */
static inline int msg_module_process_ex(msg_target_t *t, int32_t timeout_ms, dispatcher_msg_t *value_buf,
                                               msg_process_ex_fn process_msg, void *user)
{
    pool_msg_t *p = NULL;
    int rc = msg_receive(t, timeout_ms, &p, value_buf);
    if (rc != 0) {
        return rc;
    }
    if (p != NULL) {
        /* Pointer mode: we own one reference until msg_unref. */
        process_msg(p->msg, user);
        return msg_unref(p);
    }
    /* Value mode: the item was copied into value_buf. */
    process_msg(value_buf, user);
    return 0;
}

static inline void dispatcher_module_call_plain_(const dispatcher_msg_t *msg, void *user)
{
    msg_process_fn fn;
    /* Function pointers cannot go through void * in ISO C; the caller passed &fn. */
    fn = *(const msg_process_fn *)user;
    fn(msg);
}

/**
 * msg_module_process_ex for an unchanged `void process_msg(const dispatcher_msg_t *)`.
 * Same arguments (minus `user`) and return values.
 */
static inline int msg_module_process(msg_target_t *t, int32_t timeout_ms, dispatcher_msg_t *value_buf,
                                            msg_process_fn process_msg)
{
    return msg_module_process_ex(t, timeout_ms, value_buf, dispatcher_module_call_plain_, &process_msg);
}

#ifdef __cplusplus
}
#endif

#endif /* MSG_POOL_MODULE_H */
