//! The TPACKET_V3 block walker over arbitrary bytes (copied into 8-byte
//! aligned memory, as a ring block is): each packet lies inside the block,
//! the walk ends, a fault is remembered.
#![no_main]

use libfuzzer_sys::fuzz_target;
use netring_engine::afpacket::block::{PacketIter, block_header};

fuzz_target!(|data: &[u8]| {
    let mut words = vec![0u64; data.len().div_ceil(8)];
    // SAFETY: the Vec<u64> storage is initialised and at least data.len()
    // bytes long; u8 has no alignment or validity requirement.
    let block = unsafe {
        let p = words.as_mut_ptr().cast::<u8>();
        std::ptr::copy_nonoverlapping(data.as_ptr(), p, data.len());
        std::slice::from_raw_parts(p, data.len())
    };
    let _ = block_header(block);
    let start = block.as_ptr() as usize;
    let end = start + block.len();
    let mut it = PacketIter::new(block);
    let mut n = 0usize;
    for p in it.by_ref() {
        let d = p.data();
        let a = d.as_ptr() as usize;
        assert!(
            d.is_empty() || (a >= start && a + d.len() <= end),
            "packet outside the block"
        );
        n += 1;
        assert!(n <= block.len(), "walk does not end");
    }
    let _ = it.error();
});
