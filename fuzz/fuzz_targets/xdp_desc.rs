//! AF_XDP RX descriptor validation: whatever the kernel (or a hostile
//! program) writes into the RX ring, an accepted descriptor lies inside one
//! chunk of the socket's share of the UMEM, and a recycled chunk is one of
//! its own.
#![no_main]

use libfuzzer_sys::fuzz_target;
use netring_engine::afxdp::umem::check_desc;

fuzz_target!(|data: &[u8]| {
    if data.len() < 29 {
        return;
    }
    let rd64 = |o: usize| u64::from_le_bytes(data[o..o + 8].try_into().unwrap());
    let addr = rd64(0);
    let len = u32::from_le_bytes(data[8..12].try_into().unwrap());
    let frame_size: u32 = if data[12] & 1 == 0 { 2048 } else { 4096 };
    let frames = rd64(13) % (1 << 22) + 1;
    let umem_len = frames * u64::from(frame_size);
    let lo = (rd64(21) % frames) * u64::from(frame_size);
    let hi_frames = lo / u64::from(frame_size) + 1 + (u64::from(data[28]) % frames);
    let hi = hi_frames.min(frames) * u64::from(frame_size);
    let in_share = |c: u64| c >= lo && c < hi && c.is_multiple_of(u64::from(frame_size));
    match check_desc(addr, len, frame_size, umem_len, (lo, hi)) {
        Ok(chunk) => {
            assert!(in_share(chunk), "accepted a chunk outside the share");
            assert!(len > 0 && addr >= chunk);
            assert!(
                addr + u64::from(len) <= chunk + u64::from(frame_size),
                "past the chunk"
            );
            assert!(addr + u64::from(len) <= umem_len, "past the UMEM");
        }
        Err((_, Some(chunk))) => assert!(in_share(chunk), "recycles a foreign chunk"),
        Err((_, None)) => {}
    }
});
