//! Floor 4: the C surface (`include/netring.h`). Thin: check arguments,
//! convert, call the Rust API, convert back.
//!
//! Every exported function runs its body through [`boundary`] (status
//! returns) or [`guard`] (value returns), which catch panics so none crosses
//! the FFI boundary; a test (`every_export_is_guarded`) checks that no
//! exported function lacks one.
//!
//! Inside, each body reads as check, call, convert: the repeated shapes
//! live in one place each, and hold the unsafe steps (each with its
//! `SAFETY:` comment) so the exports have none of their own:
//! - handles in: `handle::state(p)?` (NULL, closed or busy handles refused
//!   with a message), `handle::publish` (open), `handle::take` (close),
//!   `handle::breakloop`;
//! - arguments: `arg::c_str`, `arg::slice`, `arg::by_ref`, `arg::timeout`,
//!   enums from integers (`CEnum::from_c`, derived with `c_enum!` from one
//!   list per C enum, with the conversions to and from the engine's enum);
//! - results: `arg::Out` (an out-parameter checked at the start, written
//!   only on success), `arg::StatsOut` (the `total`/`delta` pair),
//!   `arg::wait_status`, and `batch::Slot` (the handle's batch, shared by
//!   capture, AF_XDP and the file reader).

#![allow(non_camel_case_types)]
// The safety contract of every exported function is its C documentation
// (pointers from this library or NULL, one thread per handle), stated in the
// header conventions; a Rust `# Safety` section would repeat it in netring.h.
#![allow(clippy::missing_safety_doc)]

use std::cell::RefCell;
use std::ffi::{CStr, CString, c_char, c_int};

pub(crate) use arg::c_str;
use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::error::{Error, ErrorKind};

pub(crate) mod arg;
pub mod batch;
pub mod bridge;
pub mod capture;
pub(crate) mod config;
pub mod filter;
pub mod flow;
pub(crate) mod handle;
pub mod inject;
pub mod iter;
pub mod parse;
pub mod pcapfile;
/// cbindgen:ignore
#[cfg(any(test, feature = "bench-fixtures"))]
pub mod synthetic;
pub mod version;
pub mod xdp;

/// Status of a netring call. Every fallible function returns one of these
/// as an `int`: 0 is success, positive values are informational (not
/// errors), negative values are errors. Values are stable and never reused.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum nr_status {
    /// Success.
    NR_OK = 0,
    /// Informational: the timeout passed and nothing was ready (also the answer
    /// of a non-blocking call, timeout 0, with nothing ready). Not an error.
    NR_TIMEOUT = 1,
    /// Informational: the wait was ended by nr_capture_breakloop() (or
    /// nr_xdp_breakloop(), nr_bridge_breakloop()). Not an error;
    /// the break request is consumed by the call that returns it.
    NR_BREAK = 2,
    /// Informational: nr_batch_for_each() stopped because the callback returned
    /// non-zero ("aborted by callback"). Not an error.
    NR_STOPPED = 3,
    /// Informational: the timeout passed while the interface was down. Not an
    /// error: the capture resumes by itself when the interface comes back up.
    /// Waiting on a down interface sleeps; it never spins.
    NR_IFACE_DOWN = 4,
    /// Informational: the end of a capture file was reached (nr_reader_next_batch(),
    /// nr_reader_next_packet()); no batch or packet was returned. Not an error.
    NR_EOF = 5,
    /// A NULL pointer, or an argument outside its documented range.
    NR_E_INVALID_ARG = -1,
    /// Missing privileges. nr_last_error() names the call that was refused
    /// and the capability it needs: CAP_NET_RAW for capture and injection
    /// sockets and AF_XDP sockets, CAP_BPF and CAP_NET_ADMIN for loading
    /// and attaching AF_XDP's XDP program, CAP_SYS_ADMIN for entering a
    /// network namespace, CAP_IPC_LOCK (or a larger RLIMIT_MEMLOCK) for
    /// locked memory.
    NR_E_PERMISSION = -2,
    /// No interface of that name in the calling thread's network namespace.
    NR_E_NO_DEVICE = -3,
    /// The kernel could not allocate the ring (or other memory).
    NR_E_NO_MEMORY = -4,
    /// Impossible configuration: ring geometry, snap length, ... The message
    /// names the field and the rule.
    NR_E_CONFIG = -5,
    /// The interface was removed while the handle was open. Close the handle.
    NR_E_IFACE_GONE = -6,
    /// Something is in use; nr_last_error() says what: a batch of the handle
    /// is still held (nr_next_batch() before nr_batch_release()), another
    /// thread is inside a call on the same handle, or the AF_XDP queue is
    /// bound by another socket (or the kernel reported EBUSY).
    NR_E_BUSY = -7,
    /// The batch is not live: already released (double release), or released
    /// from inside its own nr_batch_for_each() callback.
    NR_E_BAD_BATCH = -8,
    /// The kernel or the device does not support what was asked.
    NR_E_UNSUPPORTED = -9,
    /// Ring contents failed validation; the packets before the fault were
    /// delivered, the rest of the block was skipped and counted. For capture
    /// files: the file is truncated or corrupt; the packets before the bad
    /// record were delivered and nr_last_error() gives its byte offset.
    NR_E_MALFORMED = -10,
    /// A frame larger than the slot, ring or interface allows.
    NR_E_TOO_BIG = -11,
    /// Any other operating-system failure; the message names the call and errno.
    NR_E_SYSTEM = -12,
    /// A bug inside netring (a caught Rust panic). Please report it.
    NR_E_INTERNAL = -13,
}

arg::c_enum!(nr_status as c_int {
    NR_OK,
    NR_TIMEOUT,
    NR_BREAK,
    NR_STOPPED,
    NR_IFACE_DOWN,
    NR_EOF,
    NR_E_INVALID_ARG,
    NR_E_PERMISSION,
    NR_E_NO_DEVICE,
    NR_E_NO_MEMORY,
    NR_E_CONFIG,
    NR_E_IFACE_GONE,
    NR_E_BUSY,
    NR_E_BAD_BATCH,
    NR_E_UNSUPPORTED,
    NR_E_MALFORMED,
    NR_E_TOO_BIG,
    NR_E_SYSTEM,
    NR_E_INTERNAL,
});

/// The stable status code of an error kind.
pub(crate) fn status_of(kind: ErrorKind) -> c_int {
    match kind {
        ErrorKind::InvalidArgument => NR_E_INVALID_ARG,
        ErrorKind::Permission => NR_E_PERMISSION,
        ErrorKind::NoDevice => NR_E_NO_DEVICE,
        ErrorKind::NoMemory => NR_E_NO_MEMORY,
        ErrorKind::InvalidConfig => NR_E_CONFIG,
        ErrorKind::InterfaceGone => NR_E_IFACE_GONE,
        ErrorKind::Busy => NR_E_BUSY,
        ErrorKind::BadBatch => NR_E_BAD_BATCH,
        ErrorKind::Unsupported => NR_E_UNSUPPORTED,
        ErrorKind::Malformed => NR_E_MALFORMED,
        ErrorKind::TooBig => NR_E_TOO_BIG,
        ErrorKind::System => NR_E_SYSTEM,
        ErrorKind::Internal => NR_E_INTERNAL,
    }
}

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

pub(crate) fn set_last_error(msg: &str) {
    let c = CString::new(msg.replace('\0', " ")).unwrap_or_default();
    LAST_ERROR.with(|slot| *slot.borrow_mut() = c);
}

/// Run an exported function's body: a panic becomes `NR_E_INTERNAL`, an
/// `Err` becomes its status code with the message stored for
/// nr_last_error(). A pthread cancellation inside the body (a wait, or a
/// user's callback) is stopped before catch_unwind (which would abort the
/// process on it), the call's scope is left (its handle marks cleared),
/// and the thread then ends with PTHREAD_CANCELED as the cancellation
/// asked: see `netring_engine::cancel`. Every export is therefore
/// `extern "C-unwind"`.
pub(crate) fn boundary(f: impl FnOnce() -> Result<c_int, Error>) -> c_int {
    match guarded(f) {
        Ok(Ok(status)) => status,
        Ok(Err(e)) => fail(e),
        Err(Panicked) => NR_E_INTERNAL,
    }
}

/// The status code of `r`: NR_OK, or the error's code with its message
/// stored for nr_last_error().
pub(crate) fn status(r: Result<(), Error>) -> c_int {
    r.map_or_else(fail, |()| NR_OK)
}

/// The status code of `e`, its message stored for nr_last_error().
pub(crate) fn fail(e: Error) -> c_int {
    set_last_error(e.message());
    status_of(e.kind())
}

/// nr_last_error() after a caught panic.
const PANIC_MESSAGE: &str = "internal error in netring (a Rust panic was caught); please report it";

/// Like [`boundary`] for functions that return a value: a panic returns
/// `default`.
pub(crate) fn guard<T>(default: T, f: impl FnOnce() -> T) -> T {
    guarded(f).unwrap_or(default)
}

/// [`guard`] for a body that reaches no pthread cancellation point: no
/// system call that may block or wait (poll, sleep, read, write, send,
/// close, ...) and no user callback. It skips the cancellation scope
/// (about 100 instructions: a setjmp and glibc's buffer) on the calls a
/// program makes per packet (nr_packet_parse()) or per batch
/// (nr_batch_len()). A cancellation point reached inside one would abort
/// the process: use [`guard`] when in doubt.
pub(crate) fn guard_pure<T>(default: T, f: impl FnOnce() -> T) -> T {
    let _call = handle::Call::enter();
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|_| {
        set_last_error(PANIC_MESSAGE);
        default
    })
}

/// A panic was caught (and its message stored).
struct Panicked;

/// The body of [`boundary`] and [`guard`]: `f` in a call scope, inside
/// catch_unwind and, inside that, a cancellation scope; a cancellation
/// ends the thread here, after the call scope closed.
fn guarded<T>(f: impl FnOnce() -> T) -> Result<T, Panicked> {
    let call = handle::Call::enter();
    let r = catch_unwind(AssertUnwindSafe(|| crate::cancel::scope(f)));
    drop(call);
    match r {
        Ok(Some(v)) => Ok(v),
        Ok(None) => crate::cancel::exit_cancelled(),
        Err(_) => {
            set_last_error(PANIC_MESSAGE);
            Err(Panicked)
        }
    }
}

/// The error for a NULL argument.
pub(crate) fn null_arg(name: &str) -> Error {
    Error::invalid_arg(format!("argument '{name}' is NULL"))
}

/// The message of the last failed netring call on this thread: what was
/// wrong and what to do. Never NULL (empty before any failure). Valid until
/// the next failing netring call on the same thread.
#[unsafe(no_mangle)]
pub extern "C-unwind" fn nr_last_error() -> *const c_char {
    guard_pure(c"".as_ptr(), || {
        LAST_ERROR.with(|slot| slot.borrow().as_ptr())
    })
}

/// Static text naming any status value (unknown values included). Never
/// NULL; the string lives forever.
#[unsafe(no_mangle)]
pub extern "C-unwind" fn nr_strerror(status: c_int) -> *const c_char {
    guard_pure(c"internal error".as_ptr(), || {
        let s: &'static CStr = match status {
            NR_OK => c"success",
            NR_TIMEOUT => c"timeout: nothing ready",
            NR_BREAK => c"interrupted by a breakloop call",
            NR_STOPPED => c"aborted by callback",
            NR_IFACE_DOWN => c"interface is down (capture resumes when it is up)",
            NR_EOF => c"end of file",
            NR_E_INVALID_ARG => c"invalid argument",
            NR_E_PERMISSION => c"permission denied (a privilege is missing; the message names it)",
            NR_E_NO_DEVICE => c"no such interface",
            NR_E_NO_MEMORY => c"out of memory",
            NR_E_CONFIG => c"invalid configuration",
            NR_E_IFACE_GONE => c"interface was removed",
            NR_E_BUSY => c"busy: the handle or the resource is in use",
            NR_E_BAD_BATCH => c"batch is not live (already released?)",
            NR_E_UNSUPPORTED => c"not supported",
            NR_E_MALFORMED => c"malformed ring data or capture file",
            NR_E_TOO_BIG => c"frame too big",
            NR_E_SYSTEM => c"system error",
            NR_E_INTERNAL => c"internal error",
            _ => c"unknown status",
        };
        s.as_ptr()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panics_become_internal_errors() {
        let rc = boundary(|| panic!("boom"));
        assert_eq!(rc, NR_E_INTERNAL);
        // SAFETY: nr_last_error returns a valid NUL-terminated string.
        let msg = unsafe { CStr::from_ptr(nr_last_error()) }.to_str().unwrap();
        assert!(msg.contains("internal error"), "{msg}");
        assert_eq!(guard(7, || panic!("boom")), 7);
    }

    #[test]
    fn header_is_fresh() {
        let generated = include_str!(concat!(env!("OUT_DIR"), "/netring.h"));
        let checked_in =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/include/netring.h"))
                .unwrap();
        assert!(
            generated == checked_in,
            "include/netring.h is stale: run `make header` (NETRING_WRITE_HEADER=1 cargo build) and commit it"
        );
    }

    /// Every `nr_name()` a comment of the header mentions is a function
    /// the header declares, every `nr_type.field` names a type it declares,
    /// and every `NR_NAME` a comment names is a constant it defines (issue 21: it named nr_capture_next_batch(), which never
    /// existed, and nr_capture_get_stats.malformed as a field).
    #[test]
    fn header_mentions_only_declared_functions() {
        let h = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/include/netring.h"));
        let mut declared = std::collections::BTreeSet::new();
        let mut mentioned = std::collections::BTreeSet::new();
        let mut types = std::collections::BTreeSet::new();
        let mut fields = std::collections::BTreeSet::new();
        let mut constants = std::collections::BTreeSet::new();
        let mut named = std::collections::BTreeSet::new();
        let ident = |s: &str| -> String {
            s.chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect()
        };
        for line in h.lines() {
            let t = line.trim_start();
            let comment = t.starts_with("/*") || t.starts_with('*') || t.starts_with("//");
            let mut rest = line;
            while let Some(i) = rest.find("nr_") {
                let name = ident(&rest[i..]);
                let after = &rest[i + name.len()..];
                if comment {
                    if after.starts_with("()") {
                        mentioned.insert(name.clone());
                    } else if after.starts_with('.') && after[1..].starts_with(char::is_alphabetic)
                    {
                        // "nr_capture_stats.malformed": a struct and its field.
                        fields.insert(name.clone());
                    }
                } else if after.starts_with('(') {
                    declared.insert(name.clone());
                } else {
                    types.insert(name.clone());
                }
                rest = &rest[i + name.len().max(3)..];
            }
            let mut rest = line;
            while let Some(i) = rest.find("NR_") {
                let name = ident(&rest[i..]);
                let after = &rest[i + name.len()..];
                if !comment {
                    constants.insert(name.clone());
                } else if !name.ends_with('_') && !after.starts_with('*') {
                    // A whole name, not a family such as NR_E_* or NR_FANOUT_.
                    named.insert(name.clone());
                }
                rest = &rest[i + name.len()..];
            }
        }
        let missing: Vec<_> = named.difference(&constants).collect();
        assert!(
            missing.is_empty(),
            "netring.h comments name constants it does not define: {missing:?}"
        );
        assert!(
            declared.len() > 60,
            "only {} declarations found",
            declared.len()
        );
        let missing: Vec<_> = mentioned.difference(&declared).collect();
        assert!(
            missing.is_empty(),
            "netring.h mentions undeclared functions: {missing:?}"
        );
        let missing: Vec<_> = fields.difference(&types).collect();
        assert!(
            missing.is_empty(),
            "netring.h names fields of types it does not declare: {missing:?}"
        );
    }

    #[test]
    fn strerror_covers_every_status() {
        for s in -13..=5 {
            // SAFETY: nr_strerror returns a valid static string.
            let t = unsafe { CStr::from_ptr(nr_strerror(s)) }.to_str().unwrap();
            assert_ne!(t, "unknown status", "status {s}");
        }
        // SAFETY: as above.
        assert_eq!(
            unsafe { CStr::from_ptr(nr_strerror(-999)) }
                .to_str()
                .unwrap(),
            "unknown status"
        );
    }

    /// rustls-ffi's one slip was an export without its panic boundary:
    /// check every exported function of the C surface.
    #[test]
    fn every_export_is_guarded() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src/capi");
        let mut checked = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let src = std::fs::read_to_string(&path).unwrap();
            // Only the code before the file's test module.
            let src = src.split("#[cfg(test)]").next().unwrap();
            let mut rest = src;
            while let Some(pos) = rest.find("#[unsafe(no_mangle)]") {
                rest = &rest[pos + 20..];
                let body_start = rest.find('{').unwrap();
                let after = rest[body_start + 1..].trim_start();
                assert!(
                    after.starts_with("boundary(")
                        || after.starts_with("guard(")
                        || after.starts_with("guard_pure("),
                    "{}: exported function without boundary/guard: {}",
                    path.display(),
                    &rest[..body_start.min(120)]
                );
                // A pthread cancellation ends the thread by unwinding out
                // of the export (see `boundary`): a plain "C" export would
                // abort the process instead.
                assert!(
                    rest[..body_start].contains("extern \"C-unwind\" fn"),
                    "{}: export not extern \"C-unwind\": {}",
                    path.display(),
                    &rest[..body_start.min(120)]
                );
                checked += 1;
            }
        }
        assert!(checked >= 15, "only {checked} exports found");
    }
}
