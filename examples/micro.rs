//! Micro benchmark: the per-packet price of the C API's callback iteration.
//!
//! Builds synthetic TPACKET_V3 blocks in memory (the kernel's layout, see
//! `netring::afpacket::block::synth`) and walks them three ways, each doing
//! the same user work per packet (count it, read its first byte):
//!
//! * `raw`   — min_v3's loop (bench/min_v3.c): follow `tp_next_offset`, read
//!   the byte at `tp_mac`; no checks at all.
//! * `rust`  — netring's Rust API: `PacketIter` (every kernel offset checked
//!   against the block) yielding `Packet` views.
//! * `capi`  — the exported `nr_batch_for_each` with an `extern "C"`
//!   callback called through a pointer the optimiser cannot see (as from C):
//!   `PacketIter` + `nr_packet` conversion + one indirect call per packet.
//! * `fill`  — the exported array accessor `nr_batch_fill` into a
//!   `--chunk`-entry (default 64) `nr_packet` array, then a plain loop over the array (what a
//!   binding does: one call per chunk, no call per packet).
//!
//! Prints one line per frame size:
//!   RESULT micro size=60 pkts_per_block=N raw_ns=X rust_ns=Y capi_ns=Z capi_minus_raw_ns=D
//!     fill_ns=F fill_minus_raw_ns=E
//! (ns per packet: the minimum over `--trials` timed trials of `--secs`
//! seconds each, methods interleaved).  With `--blocks N` the walks go
//! round-robin over N distinct blocks (N x block size of memory: with 16 x
//! 4 MiB the packets come from DRAM, as from a real ring, instead of cache).
//!
//!   cargo run --release --example micro -- [--secs 0.2] [--trials 7]
//!       [--block-size 4194304] [--blocks 1] [--sizes 60,1514] [--chunk 64]

use std::ffi::{c_int, c_void};
use std::hint::black_box;
use std::time::Instant;

use netring::afpacket::block::{PacketIter, synth};
use netring::capi::batch::{
    nr_batch_fill, nr_batch_for_each, nr_batch_rewind, nr_packet, nr_packet_cb,
};
use netring::capi::synthetic::SyntheticBatch;

#[derive(Default)]
struct Sink {
    packets: u64,
    sum: u64,
}

/// min_v3's walk, in Rust, over raw memory (no bounds checks).
#[inline(never)]
fn walk_raw(block: &[u8], sink: &mut Sink) {
    let base = block.as_ptr();
    // SAFETY: the block is a well-formed synthetic block (SyntheticBatch
    // validated it); these are the reads min_v3 does, at the offsets the
    // "kernel" wrote, all inside the block.
    unsafe {
        let rd32 = |p: *const u8| p.cast::<u32>().read_unaligned();
        let n = rd32(base.add(12)); // num_pkts
        let mut h = base.add(rd32(base.add(16)) as usize); // offset_to_first_pkt
        for _ in 0..n {
            let mac = h.add(24).cast::<u16>().read_unaligned() as usize; // tp_mac
            sink.sum += u64::from(h.add(mac).read_volatile());
            h = h.add(rd32(h) as usize); // tp_next_offset
        }
        sink.packets += u64::from(n);
    }
}

/// The Rust API: PacketIter yields checked Packet views.
#[inline(never)]
fn walk_rust(block: &[u8], sink: &mut Sink) {
    for p in PacketIter::new(block) {
        sink.packets += 1;
        // SAFETY: data() is a non-empty slice (frames are >= 60 bytes).
        sink.sum += u64::from(unsafe { p.data.as_ptr().read_volatile() });
    }
}

unsafe extern "C" fn on_packet(user: *mut c_void, p: *const nr_packet) -> c_int {
    // SAFETY: user is the &mut Sink passed below; p is valid for the call
    // and its data has caplen >= 60 bytes.
    unsafe {
        let s = &mut *(user as *mut Sink);
        s.packets += 1;
        s.sum += u64::from((*p).data.read_volatile());
    }
    0
}

/// The C API: the real nr_batch_for_each.
#[inline(never)]
fn walk_capi(sb: &SyntheticBatch<'_>, cb: nr_packet_cb, sink: &mut Sink) {
    // SAFETY: a live batch; the callback takes a &mut Sink as user.
    let rc = unsafe { nr_batch_for_each(sb.as_ptr(), cb, (sink as *mut Sink).cast()) };
    assert_eq!(rc, 0, "nr_batch_for_each failed");
}

/// The array accessor: nr_batch_fill in chunks of `arr.len()`, then a loop over
/// the array, as a C or Go consumer writes it.
#[inline(never)]
fn walk_fill(sb: &SyntheticBatch<'_>, arr: &mut [nr_packet], sink: &mut Sink) {
    let b = sb.as_ptr();
    // SAFETY: a live batch.
    assert_eq!(unsafe { nr_batch_rewind(b) }, 0);
    loop {
        let mut n = 0usize;
        // SAFETY: a live batch, an array of arr.len() entries and a count.
        let rc = unsafe { nr_batch_fill(b, arr.as_mut_ptr(), arr.len(), &mut n) };
        assert_eq!(rc, 0, "nr_batch_fill failed");
        if n == 0 {
            break;
        }
        for p in &arr[..n] {
            sink.packets += 1;
            // SAFETY: data points at caplen >= 60 bytes of the block.
            sink.sum += u64::from(unsafe { p.data.read_volatile() });
        }
    }
}

fn time_ns_per_pkt(secs: f64, pkts_per_block: u64, mut f: impl FnMut(&mut Sink)) -> f64 {
    let mut sink = Sink::default();
    let t0 = Instant::now();
    let mut rounds = 0u64;
    loop {
        for _ in 0..8 {
            f(&mut sink);
        }
        rounds += 8;
        if t0.elapsed().as_secs_f64() >= secs {
            break;
        }
    }
    let dt = t0.elapsed().as_secs_f64();
    assert_eq!(sink.packets, rounds * pkts_per_block);
    black_box(sink.sum);
    dt * 1e9 / (rounds * pkts_per_block) as f64
}

fn main() {
    let mut secs = 0.2f64;
    let mut trials = 7usize;
    let mut block_size = 4usize << 20;
    let mut nblocks = 1usize;
    let mut sizes = vec![60usize, 1514];
    let mut chunk = 64usize;
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < args.len() {
        let v = args.get(i + 1).cloned().unwrap_or_default();
        match args[i].as_str() {
            "--secs" => secs = v.parse().expect("--secs SECONDS"),
            "--trials" => trials = v.parse().expect("--trials N"),
            "--block-size" => block_size = v.parse().expect("--block-size BYTES"),
            "--blocks" => nblocks = v.parse().expect("--blocks N"),
            "--chunk" => chunk = v.parse().expect("--chunk N"),
            "--sizes" => {
                sizes = v
                    .split(',')
                    .map(|s| s.parse().expect("--sizes 60,1514"))
                    .collect()
            }
            _ => {
                eprintln!(
                    "usage: micro [--secs S] [--trials N] [--block-size BYTES] [--blocks N] [--sizes 60,1514] [--chunk 64]"
                );
                std::process::exit(2);
            }
        }
        i += 2;
    }
    let cb: nr_packet_cb = black_box(Some(on_packet));
    for &size in &sizes {
        // As many frames as fit, laid out as the kernel does (82-byte
        // offset to the frame, 8-byte aligned records).
        let rec = (synth::MAC_OFFSET + size).next_multiple_of(8);
        let n = (block_size - 48) / rec;
        let frame: Vec<u8> = (0..size).map(|b| b as u8).collect();
        let frames: Vec<&[u8]> = vec![frame.as_slice(); n];
        let mut words: Vec<Vec<u64>> = (0..nblocks)
            .map(|i| synth::block(block_size, i as u64 + 1, &frames))
            .collect();
        let blocks: Vec<&[u8]> = words.iter_mut().map(|w| &*synth::bytes(w)).collect();
        let sbs: Vec<SyntheticBatch<'_>> = blocks
            .iter()
            .map(|b| SyntheticBatch::new(b).expect("synthetic block is well formed"))
            .collect();
        let (mut raw, mut rust, mut capi, mut fill) = (f64::MAX, f64::MAX, f64::MAX, f64::MAX);
        let mut arr = vec![nr_packet::EMPTY; chunk];
        let mut k = 0usize;
        let mut next = move || {
            k = (k + 1) % nblocks;
            k
        };
        for _ in 0..trials {
            raw = raw.min(time_ns_per_pkt(secs, n as u64, |s| {
                walk_raw(black_box(blocks[next()]), s)
            }));
            rust = rust.min(time_ns_per_pkt(secs, n as u64, |s| {
                walk_rust(black_box(blocks[next()]), s)
            }));
            capi = capi.min(time_ns_per_pkt(secs, n as u64, |s| {
                walk_capi(black_box(&sbs[next()]), cb, s)
            }));
            fill = fill.min(time_ns_per_pkt(secs, n as u64, |s| {
                walk_fill(black_box(&sbs[next()]), &mut arr, s)
            }));
        }
        println!(
            "RESULT micro size={size} pkts_per_block={n} raw_ns={raw:.2} rust_ns={rust:.2} \
             capi_ns={capi:.2} capi_minus_raw_ns={:.2} fill_ns={fill:.2} fill_minus_raw_ns={:.2}",
            capi - raw,
            fill - raw
        );
    }
}
