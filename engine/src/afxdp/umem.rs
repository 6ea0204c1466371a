//! The UMEM: one anonymous mapping cut into equal frames (chunks), shared by
//! the sockets of one [`super::Xdp`], plus the pure address arithmetic that
//! checks what the kernel hands back.

use crate::error::{Error, ErrorKind, Result};
use crate::sys::xdp::XdpMap;

/// An allocated UMEM area.
#[derive(Debug)]
pub struct Umem {
    map: XdpMap,
    frame_size: u32,
    frame_count: u32,
}

impl Umem {
    /// Map `frame_count` frames of `frame_size` bytes.
    pub fn new(frame_size: u32, frame_count: u32) -> Result<Umem> {
        let len = frame_size as usize * frame_count as usize;
        let map = XdpMap::anonymous_huge(len).map_err(|e| {
            Error::os(
                format!(
                    "mmap of the UMEM ({frame_count} frames x {frame_size} bytes, {} MiB)",
                    len >> 20
                ),
                e,
            )
        })?;
        Ok(Umem {
            map,
            frame_size,
            frame_count,
        })
    }

    /// Start of the area.
    pub fn as_ptr(&self) -> *mut u8 {
        self.map.as_ptr()
    }

    /// Bytes in the area.
    pub fn len(&self) -> u64 {
        self.map.len() as u64
    }

    /// Always false.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Frame (chunk) size.
    pub fn frame_size(&self) -> u32 {
        self.frame_size
    }

    /// Number of frames.
    pub fn frame_count(&self) -> u32 {
        self.frame_count
    }

    /// The bytes at `addr..addr+len`.
    ///
    /// # Safety
    /// The range was checked with [`check_desc`] and the frame is owned by
    /// user space (taken from the RX ring, not yet given back) for `'a`.
    pub unsafe fn bytes<'a>(&self, addr: u64, len: u32) -> &'a [u8] {
        // SAFETY: in bounds per the contract; nobody writes the frame while
        // user space owns it.
        unsafe { std::slice::from_raw_parts(self.as_ptr().add(addr as usize), len as usize) }
    }

    /// A writable pointer to the frame starting at `base`.
    ///
    /// # Safety
    /// `base` is a frame start inside the UMEM owned by user space.
    pub unsafe fn frame_ptr(&self, base: u64) -> *mut u8 {
        debug_assert!(base + u64::from(self.frame_size) <= self.len());
        // SAFETY: in bounds per the contract.
        unsafe { self.as_ptr().add(base as usize) }
    }
}

/// The start of the chunk holding `addr` (aligned mode: chunk sizes are
/// powers of two).
#[inline(always)]
pub fn chunk_of(addr: u64, frame_size: u32) -> u64 {
    addr & !(u64::from(frame_size) - 1)
}

/// Why an RX descriptor was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BadDesc {
    /// The address is outside the UMEM: nothing to give back.
    OutOfUmem,
    /// The data runs past the end of its chunk: the chunk is recycled, the
    /// frame is skipped.
    PastChunk,
    /// The chunk belongs to another socket's share of the UMEM.
    ForeignChunk,
}

/// Check an RX descriptor against the UMEM (`umem_len` bytes) and the
/// socket's share of it (`share`: chunk addresses `lo..hi`). Returns the
/// chunk start to recycle, or why it was refused (with the chunk to
/// recycle when that is still safe).
#[inline(always)]
pub fn check_desc(
    addr: u64,
    len: u32,
    frame_size: u32,
    umem_len: u64,
    share: (u64, u64),
) -> std::result::Result<u64, (BadDesc, Option<u64>)> {
    if addr >= umem_len {
        return Err((BadDesc::OutOfUmem, None));
    }
    let chunk = chunk_of(addr, frame_size);
    if chunk < share.0 || chunk >= share.1 {
        return Err((BadDesc::ForeignChunk, None));
    }
    if addr + u64::from(len) > chunk + u64::from(frame_size) || len == 0 {
        return Err((BadDesc::PastChunk, Some(chunk)));
    }
    Ok(chunk)
}

/// The error for a UMEM registration refused for lack of lockable memory.
pub fn memlock_error(bytes: u64, limit: Option<u64>, err: std::io::Error) -> Error {
    let lim = match limit {
        Some(l) => format!("{l} bytes"),
        None => "unlimited".into(),
    };
    Error::new(
        ErrorKind::NoMemory,
        format!(
            "registering the UMEM ({bytes} bytes) failed: {err}. The UMEM is pinned and charged to \
             RLIMIT_MEMLOCK (now {lim}) unless the process has CAP_IPC_LOCK: raise the limit \
             (`ulimit -l unlimited`, setrlimit(RLIMIT_MEMLOCK), systemd LimitMEMLOCK=infinity), \
             grant CAP_IPC_LOCK, or use fewer or smaller frames"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_round_down() {
        assert_eq!(chunk_of(0, 4096), 0);
        assert_eq!(chunk_of(4095, 4096), 0);
        assert_eq!(chunk_of(4096 + 256, 4096), 4096);
        assert_eq!(chunk_of(2048 + 5, 2048), 2048);
    }

    #[test]
    fn descriptors_are_checked_against_umem_chunk_and_share() {
        let fs = 4096;
        let len = 16 * 4096u64;
        let all = (0, len);
        assert_eq!(check_desc(4096 + 256, 1500, fs, len, all), Ok(4096));
        assert_eq!(check_desc(0, 4096, fs, len, all), Ok(0));
        assert_eq!(
            check_desc(len, 60, fs, len, all),
            Err((BadDesc::OutOfUmem, None))
        );
        assert_eq!(
            check_desc(u64::MAX - 10, 60, fs, len, all),
            Err((BadDesc::OutOfUmem, None))
        );
        assert_eq!(
            check_desc(4096 + 4000, 200, fs, len, all),
            Err((BadDesc::PastChunk, Some(4096)))
        );
        assert_eq!(
            check_desc(4096, 0, fs, len, all),
            Err((BadDesc::PastChunk, Some(4096)))
        );
        assert_eq!(
            check_desc(8 * 4096, 60, fs, len, (0, 8 * 4096)),
            Err((BadDesc::ForeignChunk, None))
        );
    }
}
