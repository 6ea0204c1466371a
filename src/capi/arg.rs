//! The shapes every export repeats, once: C strings and arrays in,
//! out-parameters written only on success, timeouts, enum values from
//! integers, wait outcomes and statistics out. With [`super::handle`] (handles in) they
//! let each export read as check, call, convert.
//!
//! The pointer helpers here are safe functions that trust the C contract
//! stated at the top of `netring.h` (a pointer argument is NULL or valid for
//! what its documentation says; a handle is used by one thread at a time),
//! the way rustls-ffi's `try_ref_from_ptr!` family does. They are
//! `pub(crate)` and meant only for pointers that arrived through an exported
//! function: the unsafety lives in one commented block per shape instead of
//! one per call.

use std::ffi::{CStr, c_char, c_int};
use std::mem::MaybeUninit;
use std::ptr::NonNull;
use std::time::Duration;

use super::{NR_BREAK, NR_IFACE_DOWN, NR_OK, NR_TIMEOUT, null_arg};
use crate::afpacket::Wait;
use crate::error::Error;

/// A C string argument as UTF-8; NULL is refused, naming the argument.
pub(crate) fn c_str<'a>(p: *const c_char, name: &str) -> Result<&'a str, Error> {
    if p.is_null() {
        return Err(null_arg(name));
    }
    // SAFETY: non-NULL, and NUL-terminated per the C contract of every
    // string argument; the borrow ends with the exported call.
    unsafe { CStr::from_ptr(p) }
        .to_str()
        .map_err(|_| Error::invalid_arg(format!("argument '{name}' is not valid UTF-8")))
}

/// Like [`c_str`], but NULL is `None`.
pub(crate) fn opt_c_str<'a>(p: *const c_char, name: &str) -> Result<Option<&'a str>, Error> {
    if p.is_null() {
        Ok(None)
    } else {
        c_str(p, name).map(Some)
    }
}

/// `len` elements at `p` (a C array argument). `len` 0 is the empty slice
/// whatever `p` is; otherwise NULL is refused, naming the argument.
pub(crate) fn slice<'a, T>(p: *const T, len: usize, name: &str) -> Result<&'a [T], Error> {
    if len == 0 {
        return Ok(&[]);
    }
    if p.is_null() {
        return Err(null_arg(name));
    }
    // SAFETY: non-NULL, and `len` readable, initialised elements per the C
    // contract of every (pointer, length) argument pair; only plain C data
    // types (no invalid bit patterns) are read this way; the borrow ends
    // with the exported call.
    Ok(unsafe { std::slice::from_raw_parts(p, len) })
}

/// `len` writable elements at `p` (a caller's array to fill); NULL is
/// refused, naming the argument. Elements are written with
/// `MaybeUninit::write`, never read.
pub(crate) fn out_slice<'a, T>(
    p: *mut T,
    len: usize,
    name: &str,
) -> Result<&'a mut [MaybeUninit<T>], Error> {
    if p.is_null() {
        return Err(null_arg(name));
    }
    // SAFETY: non-NULL, and `len` writable elements per the C contract of
    // every (array, capacity) argument pair; viewed as MaybeUninit so the
    // caller's possibly uninitialised memory is never read; the borrow
    // ends with the exported call.
    Ok(unsafe { std::slice::from_raw_parts_mut(p.cast::<MaybeUninit<T>>(), len) })
}

/// A caller's struct passed by pointer for reading; NULL is refused.
pub(crate) fn by_ref<'a, T>(p: *const T, name: &str) -> Result<&'a T, Error> {
    // SAFETY: NULL or a valid, aligned T per the C contract of every struct
    // argument; the borrow ends with the exported call.
    unsafe { p.as_ref() }.ok_or_else(|| null_arg(name))
}

/// An out-parameter, checked non-NULL when the call starts and written
/// once when it succeeds ([`Out::set`]): an error path leaves it alone.
pub(crate) struct Out<T>(NonNull<T>);

impl<T> Out<T> {
    /// Check `p` (NULL is refused, naming the argument).
    pub(crate) fn new(p: *mut T, name: &str) -> Result<Out<T>, Error> {
        NonNull::new(p).map(Out).ok_or_else(|| null_arg(name))
    }

    /// Write the result.
    pub(crate) fn set(self, v: T) {
        // SAFETY: non-NULL (checked in new) and writable per the C contract
        // of every out-parameter; `write` does not read or drop the old
        // value (C memory may be uninitialised).
        unsafe { self.0.as_ptr().write(v) }
    }

    /// The raw pointer (for a caller-sized struct such as nr_layers).
    pub(crate) fn as_ptr(&self) -> *mut T {
        self.0.as_ptr()
    }
}

/// `nr_*_get_stats(h, total, delta)`: `total` and `delta` may each be NULL,
/// not both. Checked before the statistics are read, so a refused call
/// consumes no delta.
pub(crate) struct StatsOut<T> {
    total: Option<Out<T>>,
    delta: Option<Out<T>>,
}

impl<T> StatsOut<T> {
    /// Check the pair.
    pub(crate) fn new(total: *mut T, delta: *mut T) -> Result<StatsOut<T>, Error> {
        if total.is_null() && delta.is_null() {
            return Err(Error::invalid_arg("both 'total' and 'delta' are NULL"));
        }
        Ok(StatsOut {
            total: Out::new(total, "total").ok(),
            delta: Out::new(delta, "delta").ok(),
        })
    }

    /// Write the lifetime totals and the change since the previous read,
    /// converted to the C struct; returns NR_OK.
    pub(crate) fn set<S: Into<T>>(self, (total, delta): (S, S)) -> c_int {
        if let Some(o) = self.total {
            o.set(total.into());
        }
        if let Some(o) = self.delta {
            o.set(delta.into());
        }
        NR_OK
    }
}

/// A `timeout_ms` argument: negative waits without limit (`None`), 0 does
/// not wait, positive waits that many milliseconds.
pub(crate) fn timeout(ms: c_int) -> Option<Duration> {
    u64::try_from(ms).ok().map(Duration::from_millis)
}

/// The status of a wait that produced nothing (or NR_OK when it did).
pub(crate) fn wait_status<T>(w: &Wait<T>) -> c_int {
    match w {
        Wait::Ready(_) => NR_OK,
        Wait::Timeout => NR_TIMEOUT,
        Wait::Interrupted => NR_BREAK,
        Wait::InterfaceDown => NR_IFACE_DOWN,
    }
}

/// A C enum: its values as the integer type of the fields and arguments
/// that take it, read back with [`CEnum::from_c`]. Implemented by
/// [`c_enum!`].
pub(crate) trait CEnum: Copy + 'static {
    /// The integer type of the fields that hold it.
    type Int: Copy + PartialEq + std::fmt::Display;
    /// The C type name ("nr_direction").
    const NAME: &'static str;
    /// Every value with its C name, in declaration order.
    const ALL: &'static [(Self, &'static str)];
    /// The value as its integer.
    fn to_c(self) -> Self::Int;

    /// The value `v` stands for, or an error naming `what` (a field or
    /// argument), the value and the valid names, of the kind `err` makes.
    fn from_c(v: Self::Int, what: &str, err: fn(String) -> Error) -> Result<Self, Error> {
        Self::ALL
            .iter()
            .find(|(e, _)| e.to_c() == v)
            .map(|&(e, _)| e)
            .ok_or_else(|| {
                let names: Vec<&str> = Self::ALL.iter().map(|&(_, n)| n).collect();
                err(format!(
                    "{what} {v} is not an {} ({})",
                    Self::NAME,
                    names.join(", ")
                ))
            })
    }
}

/// Derive, from the one list of a C enum's variants (the `#[repr(C)]`
/// enum itself is written out above it, for cbindgen): a Rust constant of
/// the field's integer type per variant, [`CEnum`], and with `=> Engine`
/// the conversions to and from the engine's enum (exhaustive matches both
/// ways, so a variant missing on either side fails the build).
macro_rules! c_enum {
    ($c:ident as $int:ty { $($v:ident),+ $(,)? }) => {
        $(
            #[doc = concat!("[`", stringify!($c), "::", stringify!($v), "`] as `",
                stringify!($int), "`, the type of the fields and arguments that take it.")]
            pub const $v: $int = $c::$v as $int;
        )+
        impl $crate::capi::arg::CEnum for $c {
            type Int = $int;
            const NAME: &'static str = stringify!($c);
            const ALL: &'static [($c, &'static str)] = &[$(($c::$v, stringify!($v))),+];
            fn to_c(self) -> $int {
                // Exhaustive: every variant is in the list above.
                match self {
                    $($c::$v => $v),+
                }
            }
        }
    };
    ($c:ident as $int:ty => $e:ident { $($v:ident = $ev:ident),+ $(,)? }) => {
        $crate::capi::arg::c_enum!($c as $int { $($v),+ });
        impl From<$c> for $e {
            fn from(c: $c) -> $e {
                match c {
                    $($c::$v => $e::$ev),+
                }
            }
        }
        impl From<$e> for $c {
            fn from(e: $e) -> $c {
                match e {
                    $($e::$ev => $c::$v),+
                }
            }
        }
    };
}
pub(crate) use c_enum;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts() {
        assert_eq!(timeout(-1), None);
        assert_eq!(timeout(0), Some(Duration::ZERO));
        assert_eq!(timeout(1500), Some(Duration::from_millis(1500)));
    }

    #[test]
    fn null_arguments_are_named() {
        assert_eq!(
            c_str(std::ptr::null(), "ifname").unwrap_err().message(),
            "argument 'ifname' is NULL"
        );
        assert_eq!(opt_c_str(std::ptr::null(), "x").unwrap(), None);
        assert!(slice::<u8>(std::ptr::null(), 0, "a").unwrap().is_empty());
        assert!(slice::<u8>(std::ptr::null(), 1, "a").is_err());
        assert!(Out::<u8>::new(std::ptr::null_mut(), "out").is_err());
        assert!(StatsOut::<u8>::new(std::ptr::null_mut(), std::ptr::null_mut()).is_err());
        let mut t = 0u8;
        let s = StatsOut::new(&mut t, std::ptr::null_mut()).unwrap();
        assert_eq!(s.set((7u8, 1u8)), NR_OK);
        assert_eq!(t, 7);
    }
}
