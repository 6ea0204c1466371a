/* The C half of netring_engine::cancel: a pthread cancellation point
 * reached inside `body` ends here instead of unwinding further.
 *
 * glibc cancels a thread by a forced unwind that, on its way up, longjmps
 * into the innermost buffer registered with __pthread_register_cancel (the
 * expansion of pthread_cleanup_push in C). Registering one here stops the
 * unwind at this frame, before it reaches Rust's catch_unwind (which would
 * abort the process on the foreign exception). The frames below were
 * unwound normally (Rust destructors ran). The thread is now exiting: glibc
 * has set its EXITING bit, so no later cancellation point acts again, and
 * the Rust caller returns to its C boundary, then calls pthread_exit(
 * PTHREAD_CANCELED) to finish the cancellation the way glibc would have.
 *
 * The symbol is hidden: neither library exports it. */
#include <pthread.h>

__attribute__((visibility("hidden"))) int
netring_engine_cancel_scope(void (*body)(void *), void *ctx)
{
    __pthread_unwind_buf_t buf;
    if (__builtin_expect(__sigsetjmp_cancel(buf.__cancel_jmp_buf, 0), 0)) {
        /* Cancelled inside body: restore the previous buffer (a caller's
         * pthread_cleanup_push, or the thread's own) and report it. */
        __pthread_unregister_cancel(&buf);
        return 1;
    }
    __pthread_register_cancel(&buf);
    body(ctx);
    __pthread_unregister_cancel(&buf);
    return 0;
}
