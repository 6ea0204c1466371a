//! A byte buffer whose memory is aligned for `O_DIRECT` (4 KiB), used by the
//! writer in both modes.

use std::alloc::{self, Layout};
use std::ptr::NonNull;

/// Alignment of the buffer memory, of direct-I/O file offsets and lengths.
pub(crate) const ALIGN: usize = 4096;

/// Size and alignment of a transparent huge page (x86-64, arm64 with 4 KiB
/// pages): the unit of [`AlignedBuf::huge`].
pub(crate) const HUGE: usize = 2 << 20;

/// Round `n` up to a multiple of [`ALIGN`].
pub(crate) fn align_up(n: usize) -> usize {
    n.div_ceil(ALIGN) * ALIGN
}

/// A growable byte buffer on [`ALIGN`]-aligned, zero-initialised memory.
/// Its capacity is a multiple of its alignment; every byte of the capacity
/// is initialised (bytes past `len` hold old data or zeros).
pub(crate) struct AlignedBuf {
    ptr: NonNull<u8>,
    cap: usize,
    len: usize,
    /// [`ALIGN`], or [`HUGE`] for a buffer made by [`AlignedBuf::huge`].
    align: usize,
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
        Self::aligned(cap, ALIGN)
    }

    /// A buffer of at least `cap` bytes in whole transparent huge pages
    /// ([`HUGE`]-aligned, rounded up to [`HUGE`], advised with
    /// `MADV_HUGEPAGE`). For direct I/O: the kernel pins a user buffer page
    /// by page for each `O_DIRECT` write and builds the request from those
    /// pages, so 2 MiB pages instead of 4 KiB ones take most of that work
    /// away (an offline `nrcap -r -w --direct` of 1514-byte records: system
    /// time -40 %, wall time -45 %). Where huge pages are off (the advice
    /// fails or is ignored) it is an ordinary aligned buffer.
    pub(crate) fn huge(cap: usize) -> AlignedBuf {
        Self::aligned(cap, HUGE)
    }

    fn aligned(cap: usize, align: usize) -> AlignedBuf {
        let cap = cap.max(1).div_ceil(align) * align;
        let layout = Layout::from_size_align(cap, align).expect("buffer layout");
        let huge = align == HUGE;
        // SAFETY: the layout has a non-zero size.
        let p = unsafe {
            if huge {
                alloc::alloc(layout)
            } else {
                alloc::alloc_zeroed(layout)
            }
        };
        let Some(ptr) = NonNull::new(p) else {
            alloc::handle_alloc_error(layout)
        };
        if huge {
            // Advise before the first touch (the zeroing below), so the
            // pages are faulted in as huge pages. The result is ignored on
            // purpose: EINVAL where transparent huge pages are not built in.
            // SAFETY: the range is exactly our own allocation; the advice
            // only changes how the kernel backs it; then every byte of it
            // is initialised.
            unsafe {
                libc::madvise(p.cast(), cap, libc::MADV_HUGEPAGE);
                std::ptr::write_bytes(p, 0, cap);
            }
        }
        AlignedBuf {
            ptr,
            cap,
            len: 0,
            align,
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
        let mut bigger = AlignedBuf::aligned(self.len + more, self.align);
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
        let layout = Layout::from_size_align(self.cap, self.align).expect("buffer layout");
        // SAFETY: allocated in `aligned` with this very layout.
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
        assert_eq!(b.as_ptr() as usize % HUGE, 0);
        assert!(b.all().iter().all(|&x| x == 0));
        b.extend_from_slice(&vec![7; HUGE + 1]);
        assert_eq!(b.capacity(), 2 * HUGE);
        assert_eq!(b.as_ptr() as usize % HUGE, 0);
        assert!(b.iter().all(|&x| x == 7));
    }
}
