//! The shadow: a real libpcap handle of the same device, created with ours
//! and activated beside it, so that `pcap_compile` produces exactly the
//! program libpcap would run there (VLAN tests included) and the device's
//! time stamp types and link types are libpcap's lists. It is bound to
//! protocol 0 once activated: it receives nothing.
//!
//! Setting up a packet socket's ring and unhooking it each wait for an RCU
//! grace period in the kernel (`synchronize_net`: 8-30 ms here). The
//! shadow pays two (its ring, its rebind to protocol 0); libpcap's own
//! `pcap_activate` pays one. So the shadow is activated on a thread of its
//! own, started with ours: its grace periods overlap ours instead of adding
//! to them, and its rebind happens after the program has its handle. What
//! reads the shadow afterwards waits for its activation (not the rebind);
//! its close waits for the whole thread.

use std::cell::UnsafeCell;
use std::ffi::{c_char, c_int, c_void};
use std::ptr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;

use crate::real::{self, Real};
use crate::types::ERRBUF_SIZE;

/// The real handle (NULL when the real library could not make one).
pub struct Shadow {
    /// The real `pcap_t`.
    pub ptr: *mut c_void,
    /// Its activation, once started.
    job: Option<Job>,
}

/// An activation started by [`Shadow::activate`].
struct Job {
    /// Set once the real `pcap_activate` returned: whether it succeeded.
    done: Arc<Done>,
    /// The thread that activates and rebinds it (None: it ran inline).
    thread: Option<Thread>,
}

/// The outcome of an activation, set once, waited for by readers.
#[derive(Default)]
struct Done {
    ok: Mutex<Option<bool>>,
    set: Condvar,
}

impl Done {
    fn set(&self, ok: bool) {
        *self.ok.lock().unwrap_or_else(|e| e.into_inner()) = Some(ok);
        self.set.notify_all();
    }

    /// Whether the activation succeeded, once it returned.
    fn wait(&self) -> bool {
        let mut g = self.ok.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if let Some(ok) = *g {
                return ok;
            }
            g = self.set.wait(g).unwrap_or_else(|e| e.into_inner());
        }
    }
}

/// A shadow's activation thread.
struct Thread {
    handle: JoinHandle<()>,
    /// The process that started it: a child forked meanwhile has no such
    /// thread and must not wait for it.
    pid: u32,
}

/// How many activation threads have not ended (changed under [`LOCK`]).
static RUNNING: AtomicUsize = AtomicUsize::new(0);

/// A process-wide pthread mutex and condition variable for [`RUNNING`]
/// (raw, so that a fork can hold the mutex across: see [`watch_forks`]).
struct ForkLock(
    UnsafeCell<libc::pthread_mutex_t>,
    UnsafeCell<libc::pthread_cond_t>,
);

// SAFETY: pthread mutexes and condition variables are made to be shared
// between threads; they are only used through the pthread functions.
unsafe impl Sync for ForkLock {}

static LOCK: ForkLock = ForkLock(
    UnsafeCell::new(libc::PTHREAD_MUTEX_INITIALIZER),
    UnsafeCell::new(libc::PTHREAD_COND_INITIALIZER),
);

fn lock() {
    // SAFETY: a static, initialised mutex; never locked twice by a thread.
    unsafe { libc::pthread_mutex_lock(LOCK.0.get()) };
}

fn unlock() {
    // SAFETY: the static mutex, locked by this thread.
    unsafe { libc::pthread_mutex_unlock(LOCK.0.get()) };
}

/// One activation thread counted in [`RUNNING`] until dropped (at the
/// thread's end, or with the closure when no thread could be made).
struct Running;

impl Running {
    fn start() -> Running {
        lock();
        RUNNING.fetch_add(1, Ordering::Relaxed);
        unlock();
        Running
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        lock();
        RUNNING.fetch_sub(1, Ordering::Relaxed);
        // SAFETY: the static condition variable, its mutex held.
        unsafe { libc::pthread_cond_broadcast(LOCK.1.get()) };
        unlock();
    }
}

/// A `fork` waits for the activation threads to end (at most two kernel
/// grace periods after a `pcap_activate`) and holds the lock until it
/// returned, so that no new one starts meanwhile: the child has none of
/// these threads, so a shadow it inherits must be complete, activated and
/// unhooked. Daemons fork right after opening their capture.
fn watch_forks() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: registers handlers that only take and release the
        // static mutex (and wait on its condition variable).
        unsafe { libc::pthread_atfork(Some(before_fork), Some(unlock_c), Some(unlock_c)) };
    });
}

extern "C" fn before_fork() {
    lock();
    while RUNNING.load(Ordering::Relaxed) > 0 {
        // SAFETY: the static condition variable with its mutex, held.
        unsafe { libc::pthread_cond_wait(LOCK.1.get(), LOCK.0.get()) };
    }
}

extern "C" fn unlock_c() {
    unlock();
}

impl Shadow {
    /// No shadow.
    pub const NONE: Shadow = Shadow {
        ptr: ptr::null_mut(),
        job: None,
    };

    /// A not yet activated real handle of `dev`.
    ///
    /// # Safety
    /// `dev` is NULL or NUL-terminated.
    pub unsafe fn create(dev: *const c_char) -> Shadow {
        let Some(r) = real::try_get() else {
            return Shadow::NONE;
        };
        let mut eb = [0 as c_char; ERRBUF_SIZE];
        // errno as the real pcap_create leaves it: the program called
        // pcap_create. SAFETY: dev is NUL-terminated (caller); a scratch
        // errbuf.
        let ptr = r.with_errno(|| unsafe { (r.pcap_create)(dev, eb.as_mut_ptr()) });
        Shadow { ptr, job: None }
    }

    /// The real library and the shadow, when there is one: not yet
    /// activated, or activated (waits for an activation under way; None
    /// when it failed).
    pub fn get(&self) -> Option<(&'static Real, *mut c_void)> {
        let r = real::try_get()?;
        if self.ptr.is_null() {
            return None;
        }
        match &self.job {
            Some(j) if !j.done.wait() => None,
            _ => Some((r, self.ptr)),
        }
    }

    /// The real library and the activated shadow (waits for an activation
    /// under way).
    pub fn active(&self) -> Option<(&'static Real, *mut c_void)> {
        self.job.as_ref()?;
        self.get()
    }

    /// Start activating it (`snapshot`, then bound to protocol 0 on
    /// `ifindex`), on a thread of its own (inline when no thread can be
    /// made). Once only: a started shadow is left as it is.
    pub fn activate(&mut self, snapshot: u32, ifindex: i32) {
        let Some((r, sp)) = self.get() else {
            return;
        };
        if self.job.is_some() {
            return;
        }
        let done = Arc::new(Done::default());
        let (addr, d) = (sp as usize, Arc::clone(&done));
        watch_forks();
        let running = Running::start();
        let thread = std::thread::Builder::new()
            .name("netring-shadow".into())
            .spawn(move || {
                let _running = running;
                activate_now(r, addr, snapshot, ifindex, &d);
            });
        let thread = match thread {
            Ok(t) => Some(Thread {
                handle: t,
                pid: std::process::id(),
            }),
            Err(e) => {
                // The closure (and its Running) is gone with the error.
                drop(e);
                // No thread: the same work inline (as libpcap pays it).
                activate_now(r, addr, snapshot, ifindex, &done);
                None
            }
        };
        self.job = Some(Job { done, thread });
    }

    /// Close it (once). A started shadow is closed on a thread of its own,
    /// after its activation thread ended: closing a packet socket waits for
    /// an RCU grace period in the kernel (`synchronize_net`, 20-30 ms),
    /// which libpcap's `pcap_close` pays once, for its one socket; the
    /// program's `pcap_close` must not pay it twice (nmap opens and closes
    /// a handle per scan phase).
    pub fn close(&mut self) {
        let job = self.job.take();
        let started = job.is_some();
        let thread = job.and_then(|j| j.thread);
        if let Some(r) = real::try_get().filter(|_| !self.ptr.is_null()) {
            let addr = self.ptr as usize;
            if started {
                // The activation thread's handle goes to the closing
                // thread through this slot, so that it is still here
                // when no thread can be made.
                let slot = Arc::new(Mutex::new(thread));
                let s = Arc::clone(&slot);
                let spawned = std::thread::Builder::new()
                    .name("netring-close".into())
                    .spawn(move || close_now(r, addr, s.lock().ok().and_then(|mut t| t.take())));
                if spawned.is_err() {
                    close_now(r, addr, slot.lock().ok().and_then(|mut t| t.take()));
                }
            } else {
                close_now(r, addr, None);
            }
        }
        *self = Shadow::NONE;
    }
}

/// Wait for the activation thread `t`, then close the real handle at
/// `addr`: the shadow's, closed once (its pointer is cleared by the
/// caller, nothing else holds it).
fn close_now(r: &'static Real, addr: usize, t: Option<Thread>) {
    match t {
        Some(t) if t.pid == std::process::id() => {
            let _ = t.handle.join();
        }
        // Forked after it was started: the thread ended before the fork
        // (see watch_forks) and is not this process's to join.
        Some(t) => std::mem::forget(t.handle),
        None => {}
    }
    // SAFETY: the shadow's handle, closed once, its activation over.
    unsafe { (r.pcap_close)(addr as *mut c_void) };
}

/// Activate the real handle at `addr` (`snapshot`, a 128 KiB buffer) and
/// record the outcome in `done`; then unhook it (see [`unhook`]).
fn activate_now(r: &'static Real, addr: usize, snapshot: u32, ifindex: i32, done: &Done) {
    let sp = addr as *mut c_void;
    // SAFETY: the shadow is a live, not yet activated real handle; nothing
    // else touches it until `done` is set (every reader waits for it), and
    // it is closed only after this activation ended.
    let st = unsafe {
        (r.pcap_set_snaplen)(sp, snapshot as c_int);
        (r.pcap_set_buffer_size)(sp, 1 << 17);
        (r.pcap_set_timeout)(sp, 1000);
        (r.pcap_activate)(sp)
    };
    done.set(st >= 0);
    if st >= 0 {
        // SAFETY: activated; its descriptor stays open until the close,
        // which waits for this activation first.
        unsafe { unhook(r, sp, ifindex) };
    }
}

/// Bind the activated shadow to protocol 0 on `ifindex`, so that it
/// receives nothing (the kernel unhooks it; no copy, no CPU).
///
/// # Safety
/// `sp` is an activated real handle of `r`.
unsafe fn unhook(r: &Real, sp: *mut c_void, ifindex: i32) {
    // SAFETY: the caller's handle.
    let fd = unsafe { (r.pcap_fileno)(sp) };
    if fd < 0 {
        return;
    }
    // SAFETY: sockaddr_ll is plain data; zero is a valid value.
    let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    sll.sll_family = libc::AF_PACKET as u16;
    sll.sll_protocol = 0;
    sll.sll_ifindex = ifindex;
    // SAFETY: fd is the shadow's packet socket; sll is a valid address of
    // the given length.
    unsafe {
        libc::bind(
            fd,
            (&sll as *const libc::sockaddr_ll).cast(),
            std::mem::size_of::<libc::sockaddr_ll>() as u32,
        )
    };
}
