//! Size-prefixed, extensible option structs (`nr_*_config`), in one place.
//!
//! Every config struct of the C API starts with `size_t size`: the size the
//! caller compiled. [`init`] writes the defaults into exactly that many
//! bytes. [`read`] lays the caller's known prefix over the defaults (fields
//! appended in a later version keep their defaults for old callers) and
//! refuses non-zero bytes of fields this version does not know (a caller
//! built against a newer header). Fields are then read out of the bytes with
//! [`Fields`], booleans as bytes, so no bit pattern a C caller can write is
//! undefined behaviour on the Rust side.

use std::ffi::c_int;
use std::mem::size_of;
use std::ptr;

use super::NR_OK;
use crate::error::Error;

/// A C config struct.
///
/// # Safety
/// Implementors are `#[repr(C)]`, begin with a `size: usize` field, and hold
/// only integers, booleans and raw pointers (plain data, no padding that
/// `defaults()` leaves uninitialised).
pub(crate) unsafe trait CConfig: Copy {
    /// The C type name, for messages ("nr_capture_config").
    const NAME: &'static str;
    /// The initialiser macro, for messages ("NR_CAPTURE_CONFIG_INIT").
    const INIT: &'static str;
    /// Smallest size accepted: the size field and the first option.
    const MIN_SIZE: usize;
    /// The defaults, with `size` = `size_of::<Self>()`.
    fn defaults() -> Self;
}

/// Largest `size` believed: anything bigger is an uninitialised struct.
const MAX_SIZE: usize = 4096;

/// Write the defaults into the caller's `size` bytes at `cfg` (the body of
/// every `nr_*_config_init()`). Trusts the C contract: `cfg` is NULL or
/// points to `size` writable bytes.
pub(crate) fn init<T: CConfig>(cfg: *mut T, size: usize) -> Result<c_int, Error> {
    if cfg.is_null() {
        return Err(super::null_arg("cfg"));
    }
    if size < T::MIN_SIZE {
        return Err(Error::invalid_arg(format!(
            "size {size} is smaller than a {}",
            T::NAME
        )));
    }
    let mut d = T::defaults();
    let n = size.min(size_of::<T>());
    // SAFETY: `size` is the first field of T (trait contract), so the
    // local's first bytes are a usize. The C contract gives `size` writable
    // bytes at cfg. The copy is an untyped memcpy of n <= size bytes from a
    // local of at least n bytes (padding included, which memcpy may copy
    // uninitialised); the rest of the caller's bytes are zeroed.
    unsafe {
        ptr::write((&mut d as *mut T).cast::<usize>(), size);
        ptr::copy_nonoverlapping((&d as *const T).cast::<u8>(), cfg.cast::<u8>(), n);
        if size > n {
            ptr::write_bytes(cfg.cast::<u8>().add(n), 0, size - n);
        }
    }
    Ok(NR_OK)
}

/// The part of a caller's config this version knows: its first
/// `min(size, size_of::<T>())` bytes. Fields beyond the caller's size (an
/// older caller) read as the default the accessor is given.
pub(crate) struct Fields {
    raw: Vec<u8>,
}

/// The size a caller's config announces in its `size` field, checked
/// against `T::MIN_SIZE` and a sanity bound. Trusts the C contract: `p` is
/// non-NULL (the callers check) and its size field is readable.
fn announced<T: CConfig>(p: *const T) -> Result<usize, Error> {
    // SAFETY: non-NULL and the size field is readable (C contract); read
    // unaligned-safe.
    let size = unsafe { ptr::read_unaligned(p.cast::<usize>()) };
    if size < T::MIN_SIZE {
        return Err(Error::invalid_arg(format!(
            "{}.size is {size}: initialise the config with {}(&cfg)",
            T::NAME,
            T::INIT
        )));
    }
    if size > MAX_SIZE {
        return Err(Error::invalid_arg(format!(
            "{}.size is {size}: not a netring config (uninitialised? use {}(&cfg))",
            T::NAME,
            T::INIT
        )));
    }
    Ok(size)
}

/// A caller's config as the writable bytes its `size` field announces (for
/// nr_capture_config_apply_profile()). Trusts the C contract: `p` is
/// non-NULL and has that many writable bytes.
pub(crate) fn caller_bytes_mut<'a, T: CConfig>(p: *mut T) -> Result<&'a mut [u8], Error> {
    let size = announced(p)?;
    // SAFETY: `size` writable bytes at p (C contract, bounded by MAX_SIZE);
    // no other reference to them exists during the exported call.
    Ok(unsafe { std::slice::from_raw_parts_mut(p.cast::<u8>(), size) })
}

/// Read a caller's config of `(*p).size` bytes, or `None` for NULL (the
/// defaults). Trusts the C contract: a non-NULL `p` has a readable size
/// field and as many readable bytes as it announces.
pub(crate) fn read<T: CConfig>(p: *const T) -> Result<Option<Fields>, Error> {
    if p.is_null() {
        return Ok(None);
    }
    let size = announced(p)?;
    // SAFETY: `size` readable bytes at p (C contract, bounded by MAX_SIZE);
    // the borrow ends with this function.
    let theirs = unsafe { std::slice::from_raw_parts(p.cast::<u8>(), size) };
    let ours = size_of::<T>();
    if size > ours && theirs[ours..].iter().any(|&b| b != 0) {
        return Err(Error::invalid_arg(format!(
            "{} has options this netring version does not know (built against a newer header?)",
            T::NAME
        )));
    }
    Ok(Some(Fields {
        raw: theirs[..size.min(ours)].to_vec(),
    }))
}

impl Fields {
    fn array<const N: usize>(&self, off: usize) -> Option<[u8; N]> {
        let b = self.raw.get(off..off + N)?;
        let mut a = [0u8; N];
        a.copy_from_slice(b);
        Some(a)
    }

    /// A byte field.
    pub(crate) fn u8(&self, off: usize, default: u8) -> u8 {
        self.raw.get(off).copied().unwrap_or(default)
    }
    /// A `bool` field, read as a byte: any non-zero value is true.
    pub(crate) fn bool(&self, off: usize, default: bool) -> bool {
        self.raw.get(off).map_or(default, |&b| b != 0)
    }
    /// A `uint16_t` field.
    pub(crate) fn u16(&self, off: usize, default: u16) -> u16 {
        self.array(off).map_or(default, u16::from_ne_bytes)
    }
    /// A `uint32_t` field.
    pub(crate) fn u32(&self, off: usize, default: u32) -> u32 {
        self.array(off).map_or(default, u32::from_ne_bytes)
    }
    /// An `int32_t` field.
    pub(crate) fn i32(&self, off: usize, default: i32) -> i32 {
        self.array(off).map_or(default, i32::from_ne_bytes)
    }
    /// A `uint64_t` field.
    pub(crate) fn u64(&self, off: usize, default: u64) -> u64 {
        self.array(off).map_or(default, u64::from_ne_bytes)
    }
    /// A `size_t` field.
    pub(crate) fn usize(&self, off: usize, default: usize) -> usize {
        self.array(off).map_or(default, usize::from_ne_bytes)
    }
    /// A pointer field.
    pub(crate) fn ptr<U>(&self, off: usize, default: *const U) -> *const U {
        self.array(off)
            .map_or(default, |a| usize::from_ne_bytes(a) as *const U)
    }
    /// The bytes from `off` to `off + len` the caller provided (fewer, or
    /// none, for an older caller).
    pub(crate) fn bytes(&self, off: usize, len: usize) -> &[u8] {
        let end = (off + len).min(self.raw.len());
        self.raw.get(off..end).unwrap_or(&[])
    }
}

/// Read one field of a config struct through [`Fields`], with the field's
/// default: `field!(fields, defaults, nr_capture_config, u32, block_size)`.
macro_rules! field {
    ($f:expr, $d:expr, $ty:ty, $get:ident, $name:ident) => {
        $f.$get(std::mem::offset_of!($ty, $name), $d.$name)
    };
}
pub(crate) use field;
