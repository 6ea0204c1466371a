//! Thread cancellation (`pthread_cancel`) inside a call of the C libraries.
//!
//! glibc cancels a thread blocked in a cancellation point (poll, ppoll,
//! nanosleep, read, write, ..., or a user's callback doing so) with a
//! forced unwind. The C libraries run every exported call inside
//! `catch_unwind`, so that no Rust panic crosses into C; but catch_unwind
//! cannot let a forced unwind through: it aborts the process ("FATAL:
//! exception not rethrown").
//!
//! [`scope`] runs a call's body inside a glibc cancellation buffer (the C
//! half, `csrc/cancel.c`, is what `pthread_cleanup_push` expands to): a
//! cancellation anywhere inside unwinds the body's frames (their
//! destructors run: locks are released, handles put back) and stops at
//! the buffer; `scope` then returns `None`. The caller lets its own frames
//! return normally to the exported function and, outside catch_unwind,
//! calls [`exit_cancelled`], which finishes the cancellation as glibc
//! would have (`pthread_exit(PTHREAD_CANCELED)`: the caller's cleanup
//! handlers run and the thread ends with `PTHREAD_CANCELED`). Exported
//! functions that do this are `extern "C-unwind"`.
//!
//! Once a cancellation has acted the thread is exiting and no later
//! cancellation point acts again, so the way back to the export (closing
//! a descriptor, say) cannot be cancelled a second time. Elsewhere than
//! glibc (musl does not unwind on cancellation) `scope` is a plain call.

use std::ffi::c_void;

#[cfg(all(target_os = "linux", target_env = "gnu"))]
unsafe extern "C-unwind" {
    fn netring_engine_cancel_scope(
        body: extern "C-unwind" fn(*mut c_void),
        ctx: *mut c_void,
    ) -> i32;
}

unsafe extern "C-unwind" {
    fn pthread_exit(value: *mut c_void) -> !;
}

/// `PTHREAD_CANCELED` of glibc and musl: `(void *) -1`.
const PTHREAD_CANCELED: *mut c_void = usize::MAX as *mut c_void;

struct Ctx<F, T> {
    f: Option<F>,
    out: Option<T>,
}

/// The body, in a frame of its own: the C half's direct callee
/// ([`trampoline`]) is the one frame a cancellation skips without running
/// its cleanups, so it must have none.
#[inline(never)]
fn run<F: FnOnce() -> T, T>(ctx: &mut Ctx<F, T>) {
    if let Some(f) = ctx.f.take() {
        ctx.out = Some(f());
    }
}

extern "C-unwind" fn trampoline<F: FnOnce() -> T, T>(ctx: *mut c_void) {
    // SAFETY: `scope` passes a pointer to its own live `Ctx<F, T>`, used by
    // nothing else during the call.
    run(unsafe { &mut *ctx.cast::<Ctx<F, T>>() });
    // Code after the call: `run` must not become a tail call, or its frame
    // would be the one skipped.
    std::hint::black_box(ctx);
}

fn trampoline_of<F: FnOnce() -> T, T>(_: &Ctx<F, T>) -> extern "C-unwind" fn(*mut c_void) {
    trampoline::<F, T>
}

/// Run `f`; `None` when the thread was cancelled inside it (see the module
/// docs: return to the exported function, then [`exit_cancelled`]). A
/// panic in `f` unwinds out of `scope` as usual.
pub fn scope<T>(f: impl FnOnce() -> T) -> Option<T> {
    let mut ctx = Ctx {
        f: Some(f),
        out: None,
    };
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let body = trampoline_of(&ctx);
        // SAFETY: the C half calls `body(ctx)` once, with ctx pointing to
        // the local above, and returns 1 only when a cancellation unwound
        // `body` (it never returns twice to this frame).
        let cancelled =
            unsafe { netring_engine_cancel_scope(body, (&raw mut ctx).cast::<c_void>()) };
        if cancelled != 0 {
            return None;
        }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        let _ = trampoline_of(&ctx);
        run(&mut ctx);
    }
    ctx.out
}

/// Finish a cancellation that [`scope`] stopped: `pthread_exit(
/// PTHREAD_CANCELED)`. Call it from the exported function (`extern
/// "C-unwind"`), outside any catch_unwind, with nothing of the call left
/// to release.
pub fn exit_cancelled() -> ! {
    // SAFETY: pthread_exit unwinds the calling thread (a forced unwind
    // through the exported function, declared C-unwind, into its C
    // callers); the caller holds nothing that must outlive the call.
    unsafe { pthread_exit(PTHREAD_CANCELED) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_returns_the_value_and_lets_a_panic_through() {
        assert_eq!(scope(|| 7), Some(7));
        let r = std::panic::catch_unwind(|| scope(|| -> i32 { panic!("boom") }));
        assert!(r.is_err());
    }

    unsafe extern "C-unwind" {
        fn poll(fds: *mut libc::pollfd, n: libc::nfds_t, ms: i32) -> i32;
    }

    #[test]
    fn a_cancelled_thread_ends_cancelled_and_runs_destructors() {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicBool, Ordering};
        struct Flag(Arc<AtomicBool>);
        impl Drop for Flag {
            fn drop(&mut self) {
                self.0.store(true, Ordering::SeqCst);
            }
        }
        extern "C-unwind" fn body(arg: *mut c_void) -> *mut c_void {
            // SAFETY: the test passes an Arc it leaked for this thread.
            let dropped = unsafe { Arc::from_raw(arg.cast::<AtomicBool>()) };
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                scope(|| {
                    let _f = Flag(dropped.clone());
                    // SAFETY: an empty poll: a cancellation point.
                    unsafe { poll(std::ptr::null_mut(), 0, 10_000) }
                })
            }));
            drop(dropped);
            match r {
                Ok(None) => exit_cancelled(),
                _ => std::ptr::null_mut(),
            }
        }
        // With no delay the cancellation may act before the body runs.
        for delay_ms in [0u64, 1, 20, 50] {
            let dropped = Arc::new(AtomicBool::new(false));
            let mut t: libc::pthread_t = 0;
            let f: extern "C-unwind" fn(*mut c_void) -> *mut c_void = body;
            // SAFETY: creating a thread on a C-unwind function; the function
            // pointer types differ only in the unwind ABI.
            let rc = unsafe {
                libc::pthread_create(
                    &mut t,
                    std::ptr::null(),
                    std::mem::transmute::<
                        extern "C-unwind" fn(*mut c_void) -> *mut c_void,
                        extern "C" fn(*mut c_void) -> *mut c_void,
                    >(f),
                    Arc::into_raw(dropped.clone()) as *mut c_void,
                )
            };
            assert_eq!(rc, 0);
            std::thread::sleep(std::time::Duration::from_millis(delay_ms));
            let mut res: *mut c_void = std::ptr::null_mut();
            // SAFETY: t is a joinable thread created above.
            unsafe {
                libc::pthread_cancel(t);
                libc::pthread_join(t, &mut res);
            }
            assert_eq!(res, PTHREAD_CANCELED, "delay {delay_ms} ms");
            if delay_ms >= 20 {
                assert!(dropped.load(Ordering::SeqCst), "delay {delay_ms} ms");
            }
        }
    }
}
