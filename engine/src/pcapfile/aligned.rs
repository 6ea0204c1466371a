//! A byte buffer whose memory is aligned for `O_DIRECT` (4 KiB), used by the
//! writer in both modes.

use std::alloc::{self, Layout};
use std::ptr::NonNull;

use crate::sys::socket::Mmap;

/// Alignment of the buffer memory, of direct-I/O file offsets and lengths.
pub(crate) const ALIGN: usize = 4096;

/// Size of a transparent huge page (x86-64, arm64 with 4 KiB pages): the
/// unit of [`AlignedBuf::huge`].
pub(crate) const HUGE: usize = 2 << 20;

/// Round `n` up to a multiple of [`ALIGN`].
pub(crate) fn align_up(n: usize) -> usize {
    n.div_ceil(ALIGN) * ALIGN
}

/// A growable byte buffer on [`ALIGN`]-aligned, zero-initialised memory.
/// Its capacity is a multiple of [`ALIGN`] ([`HUGE`] for
/// [`AlignedBuf::huge`]); every byte of the capacity is initialised (bytes
/// past `len` hold old data or zeros).
pub(crate) struct AlignedBuf {
    ptr: NonNull<u8>,
    cap: usize,
    len: usize,
    /// The memory: the heap, or for [`AlignedBuf::huge`] an anonymous
    /// mapping in huge pages (unmapped when this is dropped).
    map: Option<Mmap>,
}

// SAFETY: AlignedBuf owns its allocation exclusively (like a Vec<u8>).
unsafe impl Send for AlignedBuf {}
// SAFETY: a shared &AlignedBuf only reads the bytes; writes need &mut
// (like a Vec<u8>).
unsafe impl Sync for AlignedBuf {}

impl std::fmt::Debug for AlignedBuf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AlignedBuf")
            .field("len", &self.len)
            .field("cap", &self.cap)
            .finish()
    }
}

impl AlignedBuf {
    /// A buffer of at least `cap` bytes (rounded up to [`ALIGN`]).
    pub(crate) fn with_capacity(cap: usize) -> AlignedBuf {
        let cap = align_up(cap.max(1));
        let layout = Layout::from_size_align(cap, ALIGN).expect("buffer layout");
        // SAFETY: the layout has a non-zero size.
        let p = unsafe { alloc::alloc_zeroed(layout) };
        let Some(ptr) = NonNull::new(p) else {
            alloc::handle_alloc_error(layout)
        };
        AlignedBuf {
            ptr,
            cap,
            len: 0,
            map: None,
        }
    }

    /// A buffer of at least `cap` bytes in whole transparent huge pages
    /// (rounded up to [`HUGE`]; [`Mmap::anonymous_huge`], as for the AF_XDP
    /// UMEM). For direct I/O: the kernel pins a user buffer page by page
    /// for each `O_DIRECT` write and builds the request from those pages,
    /// so 2 MiB pages instead of 4 KiB ones take most of that work away (an
    /// offline `nrcap -r -w --direct` of 1514-byte records: system time
    /// -30 %, wall time -40 %). Where huge pages are off the mapping has
    /// ordinary pages; where it cannot be made, the buffer is an ordinary
    /// heap one.
    pub(crate) fn huge(cap: usize) -> AlignedBuf {
        let cap = cap.max(1).div_ceil(HUGE) * HUGE;
        match Mmap::anonymous_huge(cap) {
            Ok(m) => AlignedBuf {
                ptr: NonNull::new(m.as_ptr()).expect("mmap returned a non-null address"),
                cap,
                len: 0,
                map: Some(m),
            },
            Err(_) => Self::with_capacity(cap),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub(crate) fn capacity(&self) -> usize {
        self.cap
    }

    pub(crate) fn clear(&mut self) {
        self.len = 0;
    }

    /// The whole capacity (initialised memory).
    pub(crate) fn all_mut(&mut self) -> &mut [u8] {
        // SAFETY: ptr points to cap initialised bytes we own exclusively.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.cap) }
    }

    /// The whole capacity, read-only.
    pub(crate) fn all(&self) -> &[u8] {
        // SAFETY: ptr points to cap initialised bytes we own.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.cap) }
    }

    /// Set the length (at most the capacity).
    pub(crate) fn set_len(&mut self, len: usize) {
        assert!(len <= self.cap);
        self.len = len;
    }

    /// Make room for `more` bytes past `len`.
    pub(crate) fn reserve(&mut self, more: usize) {
        if self.len + more <= self.cap {
            return;
        }
        let mut bigger = if self.map.is_some() {
            AlignedBuf::huge(self.len + more)
        } else {
            AlignedBuf::with_capacity(self.len + more)
        };
        bigger.extend_from_slice(self);
        *self = bigger;
    }

    #[inline(always)]
    pub(crate) fn extend_from_slice(&mut self, s: &[u8]) {
        if self.len + s.len() > self.cap {
            self.reserve(s.len());
        }
        // SAFETY: len + s.len() <= cap (reserved above); `s` cannot overlap
        // our allocation mutably (we hold &mut self).
        unsafe {
            std::ptr::copy_nonoverlapping(s.as_ptr(), self.ptr.as_ptr().add(self.len), s.len());
        }
        self.len += s.len();
    }
}

impl std::ops::Deref for AlignedBuf {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.all()[..self.len]
    }
}

impl Drop for AlignedBuf {
    fn drop(&mut self) {
        if self.map.is_some() {
            return; // the mapping unmaps itself
        }
        let layout = Layout::from_size_align(self.cap, ALIGN).expect("buffer layout");
        // SAFETY: allocated in with_capacity with this very layout.
        unsafe { alloc::dealloc(self.ptr.as_ptr(), layout) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligned_and_growing() {
        let mut b = AlignedBuf::with_capacity(5000);
        assert_eq!(b.capacity(), 8192);
        assert_eq!(b.as_ptr() as usize % ALIGN, 0);
        b.extend_from_slice(&[1; 6000]);
        b.extend_from_slice(&[2; 6000]);
        assert_eq!(b.len(), 12000);
        assert_eq!(b.capacity(), 12288);
        assert_eq!(b.as_ptr() as usize % ALIGN, 0);
        assert!(b[..6000].iter().all(|&x| x == 1) && b[6000..].iter().all(|&x| x == 2));
    }

    #[test]
    fn huge_is_whole_huge_pages_and_grows_as_such() {
        let mut b = AlignedBuf::huge(1 << 20);
        assert_eq!(b.capacity(), HUGE);
        assert_eq!(b.as_ptr() as usize % ALIGN, 0);
        assert!(b.map.is_some());
        assert!(b.all().iter().all(|&x| x == 0));
        b.extend_from_slice(&vec![7; HUGE + 1]);
        assert_eq!(b.capacity(), 2 * HUGE);
        assert!(b.map.is_some());
        assert!(b.iter().all(|&x| x == 7));
    }
}
