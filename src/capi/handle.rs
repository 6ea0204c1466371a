//! Opaque handles: the magic-number check on entry and the close protocol,
//! once for every handle type.
//!
//! Every handle struct has a `magic: u64` field holding its type's magic
//! number while it is open. Entry points check it, so a pointer of the wrong
//! type, or one already closed (while its memory is not reused), is refused
//! with NR_E_INVALID_ARG instead of being used. Close clears it.
//!
//! A handle is used by one thread at a time. A second thread entering a call
//! on a handle that is inside a call is refused with NR_E_BUSY, instead of
//! corrupting its state: each exported call runs in a [`Call`] scope
//! (opened by `boundary()`/`guard()`), [`checked`] marks the handle "in a
//! call" in a small global table of addresses with one compare-and-swap, and
//! the scope's end clears the mark (one store). Nested calls on the same
//! thread (a callback asking for statistics) are allowed; the breakloops use
//! [`live`], which ignores the mark; close ([`take`]) refuses a handle that
//! another thread is using (the handle stays open rather than being freed
//! under that thread).

use std::cell::{Cell, UnsafeCell};
use std::ffi::c_int;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::arg::Out;
use crate::error::{Error, ErrorKind};

/// Slots of the "in a call" table: addresses of handles inside a call.
const SLOTS: usize = 256;
/// Slots looked at for one address (linear probing).
const PROBE: usize = 4;
/// Nested scopes tracked per thread; deeper marks are not taken.
const MAX_MARKS: usize = 8;

static IN_CALL: [AtomicUsize; SLOTS] = [const { AtomicUsize::new(0) }; SLOTS];

thread_local! {
    /// Depth of exported calls on this thread (0: outside any).
    static DEPTH: Cell<u32> = const { Cell::new(0) };
    /// Marks this thread holds: (slot index, depth that took it).
    static MARKS: Cell<[(u16, u32); MAX_MARKS]> = const { Cell::new([(0, 0); MAX_MARKS]) };
    static NMARKS: Cell<usize> = const { Cell::new(0) };
}

/// The scope of one exported call: marks taken by [`checked`] inside it are
/// cleared when it ends (panics included: it lives outside catch_unwind).
pub(crate) struct Call {
    depth: u32,
}

impl Call {
    /// Open the scope of an exported call.
    pub(crate) fn enter() -> Call {
        let depth = DEPTH.with(|d| {
            let n = d.get() + 1;
            d.set(n);
            n
        });
        Call { depth }
    }
}

impl Drop for Call {
    fn drop(&mut self) {
        let mut n = NMARKS.with(Cell::get);
        let mut marks = MARKS.with(Cell::get);
        while n > 0 && marks[n - 1].1 >= self.depth {
            IN_CALL[marks[n - 1].0 as usize].store(0, Ordering::Release);
            marks[n - 1] = (0, 0);
            n -= 1;
        }
        MARKS.with(|m| m.set(marks));
        NMARKS.with(|c| c.set(n));
        DEPTH.with(|d| d.set(self.depth - 1));
    }
}

fn slot_of(addr: usize) -> usize {
    // Handles are heap boxes (16-byte aligned): drop the zero bits.
    (addr >> 4) % SLOTS
}

/// Whether this thread holds the mark of `addr` (a nested call).
fn held_here(addr: usize) -> bool {
    let n = NMARKS.with(Cell::get);
    let marks = MARKS.with(Cell::get);
    marks[..n]
        .iter()
        .any(|&(i, _)| IN_CALL[i as usize].load(Ordering::Relaxed) == addr)
}

/// The slot holding `addr`, if a call on it is in progress.
fn find(addr: usize) -> Option<usize> {
    let i = slot_of(addr);
    (0..PROBE)
        .map(|k| (i + k) % SLOTS)
        .find(|&j| IN_CALL[j].load(Ordering::Acquire) == addr)
}

fn busy<H: Handle>(addr: usize) -> Error {
    Error::new(
        ErrorKind::Busy,
        format!(
            "{} ({} at {addr:#x}) is in a call on another thread: a handle is used by one \
             thread at a time (only its breakloop may be called from elsewhere)",
            H::ARG,
            H::TYPE
        ),
    )
}

/// Mark `addr` as in a call for the current scope, or refuse it.
fn enter<H: Handle>(addr: usize) -> Result<(), Error> {
    let depth = DEPTH.with(Cell::get);
    let n = NMARKS.with(Cell::get);
    if depth == 0 || n == MAX_MARKS {
        // Outside an exported call (Rust tests), or too deep to track.
        return Ok(());
    }
    if find(addr).is_some() {
        return if held_here(addr) {
            Ok(())
        } else {
            Err(busy::<H>(addr))
        };
    }
    let i = slot_of(addr);
    for k in 0..PROBE {
        let j = (i + k) % SLOTS;
        match IN_CALL[j].compare_exchange(0, addr, Ordering::Acquire, Ordering::Relaxed) {
            Ok(_) => {
                let mut marks = MARKS.with(Cell::get);
                marks[n] = (j as u16, depth);
                MARKS.with(|m| m.set(marks));
                NMARKS.with(|c| c.set(n + 1));
                return Ok(());
            }
            // Another thread entered the same handle first.
            Err(v) if v == addr => return Err(busy::<H>(addr)),
            // Another handle's call: try the next slot.
            Err(_) => {}
        }
    }
    // Every slot of the window is taken by other handles' calls: let the
    // call through untracked rather than refuse a correct caller.
    Ok(())
}

/// An opaque C handle type (implemented with [`handle!`]).
pub(crate) trait Handle: Sized {
    /// The magic number of an open handle of this type.
    const MAGIC: u64;
    /// The argument name used in messages ("cap").
    const ARG: &'static str;
    /// The C type name ("nr_capture").
    const TYPE: &'static str;
    /// The single-thread state of the handle.
    type State;
    /// The handle's magic field.
    fn magic(&self) -> u64;
    /// Mark the handle closed.
    fn clear_magic(&mut self);
    /// The cell holding the single-thread state.
    fn cell(&self) -> &UnsafeCell<Self::State>;
    /// The cross-thread stop request, for handles with a breakloop.
    fn breaker(&self) -> Option<&crate::breaker::Breaker> {
        None
    }
}

/// Implement [`Handle`] for a struct with a `magic: u64` field and a
/// `state: UnsafeCell<$state>` field (and, with `brk`, a `brk: Breaker`).
macro_rules! handle {
    ($t:ident, $magic:expr, $arg:literal, $state:ty $(, $brk:ident)?) => {
        impl $crate::capi::handle::Handle for $t {
            const MAGIC: u64 = $magic;
            const ARG: &'static str = $arg;
            const TYPE: &'static str = stringify!($t);
            type State = $state;
            fn magic(&self) -> u64 {
                self.magic
            }
            fn clear_magic(&mut self) {
                self.magic = 0;
            }
            fn cell(&self) -> &std::cell::UnsafeCell<$state> {
                &self.state
            }
            $(
                fn breaker(&self) -> Option<&$crate::breaker::Breaker> {
                    Some(&self.$brk)
                }
            )?
        }
    };
}
pub(crate) use handle;

/// The open handle behind `p`, or NULL/closed as an error naming the
/// argument; marks it "in a call" for the current exported call.
///
/// Trusts the C contract (the only source of these pointers): `p` is NULL
/// or a pointer this library returned for `H` (a closed one is detected
/// while its memory is not reused).
pub(crate) fn checked<'a, H: Handle>(p: *const H) -> Result<&'a H, Error> {
    // SAFETY: NULL (refused just below) or, per the C contract, a live
    // handle of this library; only its immutable magic is read before the
    // check.
    let Some(h) = (unsafe { p.as_ref() }) else {
        return Err(super::null_arg(H::ARG));
    };
    if h.magic() != H::MAGIC {
        return Err(Error::invalid_arg(format!(
            "{} is not an open {} (already closed?)",
            H::ARG,
            H::TYPE
        )));
    }
    enter::<H>(p as usize)?;
    Ok(h)
}

/// The single-thread state of the open handle behind `p` ([`checked`]).
pub(crate) fn state<'a, H: Handle>(p: *const H) -> Result<&'a mut H::State, Error> {
    let h = checked(p)?;
    // SAFETY: a handle is used by one thread at a time (C contract,
    // enforced by the in-call mark checked() took) and each exported call
    // takes this reference once: no other reference to the state is alive.
    Ok(unsafe { &mut *h.cell().get() })
}

/// Like [`checked`] but without building a message or marking the
/// handle: allocation-free, for the async-signal-safe breakloops.
pub(crate) fn live<'a, H: Handle>(p: *const H) -> Option<&'a H> {
    // SAFETY: NULL or, per the C contract, a handle of this library.
    let h = unsafe { p.as_ref() }?;
    (h.magic() == H::MAGIC).then_some(h)
}

/// The body of every `nr_*_breakloop()`: NR_OK, or NR_E_INVALID_ARG for
/// NULL or a closed handle. Touches only the magic and the `Sync` breaker,
/// never the single-thread state, so any thread or a signal handler may
/// call it.
pub(crate) fn breakloop<H: Handle>(p: *const H) -> c_int {
    match live(p).and_then(H::breaker) {
        Some(b) => {
            b.break_loop();
            super::NR_OK
        }
        None => super::NR_E_INVALID_ARG,
    }
}

/// Box a new handle, let `attach` point into its final allocation (a
/// batch that refers to the engine inside it), and hand it to `out`.
pub(crate) fn publish<H: Handle>(
    h: H,
    out: Out<*mut H>,
    attach: impl FnOnce(&mut H::State),
) -> c_int {
    let raw = Box::into_raw(Box::new(h));
    // SAFETY: raw is a fresh, live allocation that nothing else refers to
    // yet; pointers `attach` takes into the state stay valid until the
    // handle is freed (a Box never moves its contents).
    attach(unsafe { &mut *(*raw).cell().get() });
    out.set(raw);
    super::NR_OK
}

/// The close protocol: NULL or a closed handle gives `None` (so does a
/// handle another thread is inside a call on: it stays open and the
/// thread's last error says so); otherwise the handle is marked closed and
/// handed back for the caller to tear down and drop.
///
/// Trusts the C contract: `p` is NULL or came from this library's open
/// function for `H` (`Box::into_raw`), and the caller gives up every other
/// use of it.
pub(crate) fn take<H: Handle>(p: *mut H) -> Option<Box<H>> {
    live(p)?;
    if find(p as usize).is_some() && !held_here(p as usize) {
        // Another thread is inside a call on it: freeing it now would pull
        // the memory from under that thread. Leave it open.
        super::set_last_error(busy::<H>(p as usize).message());
        return None;
    }
    // SAFETY: an open handle (magic checked by live), allocated with
    // Box::into_raw by publish(); the C caller hands it over here.
    let mut h = unsafe { Box::from_raw(p) };
    h.clear_magic();
    Some(h)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct nr_thing {
        magic: u64,
        value: u32,
        state: UnsafeCell<()>,
    }
    handle!(nr_thing, 0x1234, "thing", ());

    #[test]
    fn open_closed_and_null_handles() {
        let p = Box::into_raw(Box::new(nr_thing {
            magic: 0x1234,
            value: 7,
            state: UnsafeCell::new(()),
        }));
        // p is a live handle from Box::into_raw; NULL is allowed.
        assert_eq!(checked(p).unwrap().value, 7);
        assert!(live(p).is_some());
        assert!(live::<nr_thing>(std::ptr::null()).is_none());
        let e = checked::<nr_thing>(std::ptr::null()).err().unwrap();
        assert_eq!(e.message(), "argument 'thing' is NULL");
        assert!(take::<nr_thing>(std::ptr::null_mut()).is_none());
        assert_eq!(
            breakloop::<nr_thing>(std::ptr::null()),
            super::super::NR_E_INVALID_ARG
        );
        // A handle of the right shape but another type's magic is refused.
        let mut other = nr_thing {
            magic: 0x9999,
            value: 1,
            state: UnsafeCell::new(()),
        };
        let e = checked(&other as *const nr_thing).err().unwrap();
        assert_eq!(
            e.message(),
            "thing is not an open nr_thing (already closed?)"
        );
        assert!(take(&mut other as *mut nr_thing).is_none());
        // p is open and given up here.
        let h = take(p).unwrap();
        assert_eq!(h.magic, 0, "take marks the handle closed");
    }
}
