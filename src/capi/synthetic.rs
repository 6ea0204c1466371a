//! A batch over memory that is not a ring, for the micro benchmark
//! (`examples/micro.rs`): it runs the real exported [`nr_batch_for_each`]
//! over synthetic TPACKET_V3 blocks, so the price of the C callback
//! iteration can be measured without a socket. Not part of the C API.
//!
//! [`nr_batch_for_each`]: super::batch::nr_batch_for_each

use std::marker::PhantomData;

use super::batch::{self, nr_batch};
use crate::afpacket::block::{Malformed, PacketIter, block_header};

/// A live `nr_batch` over a caller-owned, well-formed block. The block is
/// borrowed immutably for the batch's lifetime; dropping it frees the batch.
#[doc(hidden)]
#[derive(Debug)]
pub struct SyntheticBatch<'a> {
    b: *mut nr_batch,
    _block: PhantomData<&'a [u8]>,
}

impl<'a> SyntheticBatch<'a> {
    /// Wrap `block` (a whole block, descriptor included). The block is
    /// walked once here and refused if any packet is malformed, so the
    /// iteration never takes the error path (which would report to an owner
    /// handle this batch does not have).
    pub fn new(block: &'a [u8]) -> Result<SyntheticBatch<'a>, Malformed> {
        let hdr = block_header(block)?;
        let mut it = PacketIter::new(block);
        let n = it.by_ref().count();
        if let Some(m) = it.error() {
            return Err(m);
        }
        debug_assert_eq!(n, hdr.num_pkts as usize);
        let b = batch::new_for_capture(std::ptr::null());
        // SAFETY: b is a fresh batch allocation; the block stays borrowed
        // (hence unchanged and alive) for 'a, which outlives the batch.
        unsafe { batch::arm(b, block.as_ptr(), block.len(), hdr) };
        Ok(SyntheticBatch {
            b,
            _block: PhantomData,
        })
    }

    /// The batch, for `nr_batch_for_each` / `nr_batch_len` (never release
    /// it: it has no ring to go back to).
    pub fn as_ptr(&self) -> *mut nr_batch {
        self.b
    }
}

impl Drop for SyntheticBatch<'_> {
    fn drop(&mut self) {
        // SAFETY: b came from new_for_capture and is freed only here, once.
        unsafe { batch::free(self.b) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::afpacket::block::synth;
    use crate::capi::NR_OK;
    use crate::capi::batch::{nr_batch_for_each, nr_batch_len, nr_packet};
    use std::ffi::{c_int, c_void};

    unsafe extern "C" fn sum(user: *mut c_void, p: *const nr_packet) -> c_int {
        // SAFETY: user is a &mut u64 from the test; p is valid for the call.
        unsafe { *(user as *mut u64) += u64::from((*p).caplen) };
        0
    }

    #[test]
    fn iterates_a_synthetic_block_and_refuses_a_bad_one() {
        let mut w = synth::block(8192, 3, &[&[1; 60], &[2; 1514]]);
        let bytes = synth::bytes(&mut w);
        {
            let sb = SyntheticBatch::new(bytes).unwrap();
            let mut total = 0u64;
            // SAFETY: a live batch and a callback that takes a &mut u64.
            let rc = unsafe {
                nr_batch_for_each(sb.as_ptr(), Some(sum), (&mut total as *mut u64).cast())
            };
            assert_eq!(rc, NR_OK);
            assert_eq!(total, 60 + 1514);
            // SAFETY: live batch.
            assert_eq!(unsafe { nr_batch_len(sb.as_ptr()) }, 2);
        }
        bytes[48 + 12..48 + 16].copy_from_slice(&u32::MAX.to_ne_bytes()); // tp_snaplen
        assert!(SyntheticBatch::new(bytes).is_err());
    }
}
