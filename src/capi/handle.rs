//! Opaque handles: the magic-number check on entry and the close protocol,
//! once for every handle type.
//!
//! Every handle struct has a `magic: u64` field holding its type's magic
//! number while it is open. Entry points check it, so a pointer of the wrong
//! type, or one already closed (while its memory is not reused), is refused
//! with NR_E_INVALID_ARG instead of being used. Close clears it.

use crate::error::Error;

/// An opaque C handle type (implemented with [`handle!`]).
pub(crate) trait Handle: Sized {
    /// The magic number of an open handle of this type.
    const MAGIC: u64;
    /// The argument name used in messages ("cap").
    const ARG: &'static str;
    /// The C type name ("nr_capture").
    const TYPE: &'static str;
    /// The handle's magic field.
    fn magic(&self) -> u64;
    /// Mark the handle closed.
    fn clear_magic(&mut self);
}

/// Implement [`Handle`] for a struct with a `magic: u64` field.
macro_rules! handle {
    ($t:ident, $magic:expr, $arg:literal) => {
        impl $crate::capi::handle::Handle for $t {
            const MAGIC: u64 = $magic;
            const ARG: &'static str = $arg;
            const TYPE: &'static str = stringify!($t);
            fn magic(&self) -> u64 {
                self.magic
            }
            fn clear_magic(&mut self) {
                self.magic = 0;
            }
        }
    };
}
pub(crate) use handle;

/// The open handle behind `p`, or NULL/closed as an error naming the
/// argument.
///
/// # Safety
/// `p` is NULL or a pointer this library returned for `H` (a closed one is
/// detected while its memory is not reused).
pub(crate) unsafe fn checked<'a, H: Handle>(p: *const H) -> Result<&'a H, Error> {
    if p.is_null() {
        return Err(super::null_arg(H::ARG));
    }
    // SAFETY: non-NULL and, per the contract, a handle of this library.
    let h = unsafe { &*p };
    if h.magic() != H::MAGIC {
        return Err(Error::invalid_arg(format!(
            "{} is not an open {} (already closed?)",
            H::ARG,
            H::TYPE
        )));
    }
    Ok(h)
}

/// Like [`checked`] but without building a message: allocation-free, for
/// the async-signal-safe breakloops.
///
/// # Safety
/// As for [`checked`].
pub(crate) unsafe fn live<'a, H: Handle>(p: *const H) -> Option<&'a H> {
    // SAFETY: non-NULL (checked) and, per the contract, a library handle.
    let h = unsafe { p.as_ref() }?;
    (h.magic() == H::MAGIC).then_some(h)
}

/// The close protocol: NULL or a closed handle gives `None`; otherwise the
/// handle is marked closed and handed back for the caller to tear down and
/// drop.
///
/// # Safety
/// As for [`checked`]; `p` came from `Box::into_raw` and the caller gives
/// up every other use of it.
pub(crate) unsafe fn take<H: Handle>(p: *mut H) -> Option<Box<H>> {
    // SAFETY: forwarded contract.
    unsafe { live(p) }?;
    // SAFETY: an open handle, allocated with Box::into_raw by its open
    // function; the caller owns it from here on.
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
    }
    handle!(nr_thing, 0x1234, "thing");

    #[test]
    fn open_closed_and_null_handles() {
        let p = Box::into_raw(Box::new(nr_thing {
            magic: 0x1234,
            value: 7,
        }));
        // SAFETY: p is a live handle from Box::into_raw; NULL is allowed.
        unsafe {
            assert_eq!(checked(p).unwrap().value, 7);
            assert!(live(p).is_some());
            assert!(live::<nr_thing>(std::ptr::null()).is_none());
            let e = checked::<nr_thing>(std::ptr::null()).err().unwrap();
            assert_eq!(e.message(), "argument 'thing' is NULL");
            assert!(take::<nr_thing>(std::ptr::null_mut()).is_none());
        }
        // A handle of the right shape but another type's magic is refused.
        let mut other = nr_thing {
            magic: 0x9999,
            value: 1,
        };
        // SAFETY: a valid reference turned into a pointer.
        unsafe {
            let e = checked(&other as *const nr_thing).err().unwrap();
            assert_eq!(
                e.message(),
                "thing is not an open nr_thing (already closed?)"
            );
            assert!(take(&mut other as *mut nr_thing).is_none());
        }
        // SAFETY: p is open and given up here.
        let h = unsafe { take(p) }.unwrap();
        assert_eq!(h.magic, 0, "take marks the handle closed");
    }
}
