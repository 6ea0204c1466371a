//! Micro benchmark: the per-packet price of the C API's callback iteration.
//!
//! Builds synthetic TPACKET_V3 blocks in memory (the kernel's layout, see
//! `netring::fixtures::synth`) and walks them three ways, each doing
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
//! With `--xcore` the blocks come from a ring written by another CPU, as
//! the kernel's receive path writes them: a producer thread (pinned to
//! `--producer-cpu`, default 0) copies a whole block into the next free ring
//! slot (`--blocks` slots, default 16) and publishes it with a Release store
//! of `TP_STATUS_USER`; the measuring thread (`--consumer-cpu`, default 1)
//! takes it with an Acquire load, walks it with one of the methods (they
//! take turns, block by block) and hands it back. Each walk is timed alone
//! (waiting for the producer is not counted) and the line shows medians:
//!   RESULT micro-xcore size=1514 pkts_per_block=N raw_ns=X rust_ns=Y
//!     capi_ns=Z fill_ns=F capi_vs_raw=R
//! This is the cache behaviour of a real ring (every line of the block was
//! just written by another core) without a socket, so it separates the
//! walk's price from the wake-ups' and needs no privileges.
//!
//! With `--xdp` it compares the engine's two RX walks over the same frames
//! (each packet counted and its first byte read, min of trials):
//! TPACKET_V3 (`walk_held` of a synthetic block) and AF_XDP (the same
//! per-descriptor code as an `Xdp` batch, over a fake UMEM of 2048-byte
//! frames with 256 bytes of headroom and an array of descriptors; no
//! kernel):
//!   RESULT micro-xdp size=60 pkts=N v3_ns=X xdp_ns=Y xdp_vs_v3=R
//!
//!   cargo run --release --features bench-fixtures --example micro -- [--secs 0.2] [--trials 7]
//!       [--block-size 4194304] [--blocks 1] [--sizes 60,1514] [--chunk 64]
//!       [--xcore [--rounds 400] [--producer-cpu 0] [--consumer-cpu 1]] [--xdp]

use std::ffi::{c_int, c_void};
use std::hint::black_box;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Instant;

use netring::afpacket::block::PacketIter;
use netring::afxdp::synth as xsynth;
use netring::capi::batch::{
    nr_batch_fill, nr_batch_for_each, nr_batch_rewind, nr_packet, nr_packet_cb,
};
use netring::capi::synthetic::SyntheticBatch;
use netring::fixtures::SyntheticBlock;
use netring::fixtures::synth;
use netring::{Cursor, HeldBatch};

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

/// min_v3's walk as gcc -O2 compiles bench/min_v3.c: one packet per
/// iteration. LLVM would unroll `walk_raw` four times, which overlaps four
/// packets' loads and, on memory another CPU just wrote, walks about twice
/// as fast as min_v3's own machine code (`--xcore`); the empty asm keeps
/// this loop rolled.
#[inline(never)]
fn walk_min_v3(block: &[u8], sink: &mut Sink) {
    let base = block.as_ptr();
    // SAFETY: as walk_raw: a well-formed block, min_v3's reads.
    unsafe {
        let rd32 = |p: *const u8| p.cast::<u32>().read_unaligned();
        let n = rd32(base.add(12));
        let mut h = base.add(rd32(base.add(16)) as usize);
        for _ in 0..n {
            let mac = h.add(24).cast::<u16>().read_unaligned() as usize;
            sink.sum += u64::from(h.add(mac).read_volatile());
            h = h.add(rd32(h) as usize);
            core::arch::asm!("", options(nomem, nostack, preserves_flags));
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

/// nrcap -q's callback: count the packet, touch none of its bytes.
unsafe extern "C" fn on_packet_count(user: *mut c_void, _p: *const nr_packet) -> c_int {
    // SAFETY: user is the &mut Sink passed by walk_capi.
    unsafe { (*(user as *mut Sink)).packets += 1 };
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

/// The engine's TPACKET_V3 and AF_XDP RX walks over the same frames
/// (`--xdp`).
fn xdp_vs_v3(size: usize, block_size: usize, secs: f64, trials: usize) {
    let rec = (synth::MAC_OFFSET + size).next_multiple_of(8);
    let n = ((block_size - 48) / rec).min(4096);
    let frame: Vec<u8> = (0..size).map(|b| b as u8).collect();
    let frames: Vec<&[u8]> = vec![frame.as_slice(); n];
    let mut words = synth::block(block_size, 1, &frames);
    let block: &[u8] = synth::bytes(&mut words);
    let mut v3 = SyntheticBlock::new(block);
    const HEADROOM: usize = 256;
    let fs: usize = if size + HEADROOM <= 2048 { 2048 } else { 4096 };
    assert!(
        size + HEADROOM <= fs,
        "--xdp: frames up to {} bytes",
        4096 - HEADROOM
    );
    let mut umem = vec![0u8; n * fs];
    let descs: Vec<xsynth::XdpDesc> = (0..n)
        .map(|i| {
            let a = i * fs + HEADROOM;
            umem[a..a + size].copy_from_slice(&frame);
            xsynth::XdpDesc {
                addr: a as u64,
                len: size as u32,
                options: 0,
            }
        })
        .collect();
    let (mut v3_ns, mut xdp_ns) = (f64::MAX, f64::MAX);
    for _ in 0..trials {
        v3_ns = v3_ns.min(time_ns_per_pkt(secs, n as u64, |s| {
            v3.rehold();
            let mut c = Cursor::START;
            let _ = black_box(&mut v3).walk_held(&mut c, |p| {
                s.packets += 1;
                // SAFETY: frames are >= 60 bytes.
                s.sum += u64::from(unsafe { p.data.as_ptr().read_volatile() });
                true
            });
        }));
        xdp_ns = xdp_ns.min(time_ns_per_pkt(secs, n as u64, |s| {
            xsynth::walk(black_box(&umem), fs as u32, black_box(&descs), |p| {
                s.packets += 1;
                // SAFETY: frames are >= 60 bytes.
                s.sum += u64::from(unsafe { p.data.as_ptr().read_volatile() });
                true
            });
        }));
    }
    println!(
        "RESULT micro-xdp size={size} pkts={n} v3_ns={v3_ns:.2} xdp_ns={xdp_ns:.2} xdp_vs_v3={:.3}",
        xdp_ns / v3_ns
    );
}

/// Pin the calling thread to `cpu` (best effort: a benchmark on fewer CPUs
/// still runs).
fn pin(cpu: usize) {
    // SAFETY: a zeroed cpu_set_t is a valid empty set; CPU_SET writes inside
    // it; sched_setaffinity reads it for the calling thread (pid 0).
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
}

/// Offset of `block_status` in the block descriptor.
const BLOCK_STATUS: usize = 8;

/// A ring of `slots` blocks, written by a producer thread on one CPU and
/// walked on another (`--xcore`); medians of the per-walk ns/packet.
#[allow(clippy::too_many_arguments)]
fn xcore(
    size: usize,
    block_size: usize,
    slots: usize,
    rounds: usize,
    chunk: usize,
    pcpu: usize,
    ccpu: usize,
    cb: nr_packet_cb,
) {
    let rec = (synth::MAC_OFFSET + size).next_multiple_of(8);
    let n = (block_size - 48) / rec;
    let frame: Vec<u8> = (0..size).map(|b| b as u8).collect();
    let frames: Vec<&[u8]> = vec![frame.as_slice(); n];
    let template = synth::block(block_size, 1, &frames);
    let words = block_size.div_ceil(8);
    // The ring: slots x block_size bytes, 8-byte aligned, status KERNEL.
    let mut ring = vec![0u64; words * slots];
    let base = ring.as_mut_ptr() as usize;
    let status = |slot: usize| -> &AtomicU32 {
        // SAFETY: the status word of a slot lies inside `ring`, is 4-byte
        // aligned (block starts are 8-byte aligned, offset 8) and is only
        // ever accessed atomically while both threads run.
        unsafe { AtomicU32::from_ptr((base + slot * words * 8 + BLOCK_STATUS) as *mut u32) }
    };
    for slot in 0..slots {
        status(slot).store(0, Ordering::Relaxed);
    }
    let total = rounds + slots;
    const METHODS: usize = 5;
    let mut ns: [Vec<f64>; METHODS] = Default::default();
    std::thread::scope(|sc| {
        let tpl = &template;
        sc.spawn(move || {
            pin(pcpu);
            for i in 0..total {
                let slot = i % slots;
                while status(slot).load(Ordering::Acquire) != 0 {
                    std::thread::yield_now();
                }
                let dst = (base + slot * words * 8) as *mut u64;
                // SAFETY: the slot is KERNEL: the consumer does not read it
                // until the Release store below; dst has `words` u64s.
                unsafe { core::ptr::copy_nonoverlapping(tpl.as_ptr(), dst, words) };
                status(slot).store(tp_status_user(), Ordering::Release);
            }
        });
        pin(ccpu);
        let mut arr = vec![nr_packet::EMPTY; chunk];
        let mut sink = Sink::default();
        for i in 0..total {
            let slot = i % slots;
            while status(slot).load(Ordering::Acquire) & 1 == 0 {
                std::thread::yield_now();
            }
            // SAFETY: the slot was published (Acquire above pairs with the
            // producer's Release); the producer does not write it until it
            // is handed back below, after the last use of this view.
            let block: &[u8] = unsafe {
                std::slice::from_raw_parts((base + slot * words * 8) as *const u8, block_size)
            };
            let m = i % METHODS;
            let t0 = Instant::now();
            match m {
                0 => walk_raw(block, &mut sink),
                1 => walk_rust(block, &mut sink),
                2 => walk_capi(&SyntheticBatch::new_unverified(block), cb, &mut sink),
                3 => walk_min_v3(block, &mut sink),
                _ => walk_fill(&SyntheticBatch::new_unverified(block), &mut arr, &mut sink),
            }
            let dt = t0.elapsed().as_secs_f64() * 1e9 / n as f64;
            if i >= slots {
                // The first lap warms up (page faults, first touches).
                ns[m].push(dt);
            }
            status(slot).store(0, Ordering::Release);
        }
        black_box(sink.sum);
    });
    drop(ring);
    let med = |v: &mut Vec<f64>| {
        v.sort_by(|a, b| a.total_cmp(b));
        v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
    };
    let [raw, rust, capi, minv3, fill] = ns.each_mut().map(med);
    println!(
        "RESULT micro-xcore size={size} pkts_per_block={n} raw_ns={raw:.2} minv3_ns={minv3:.2} \
         rust_ns={rust:.2} capi_ns={capi:.2} fill_ns={fill:.2} capi_vs_raw={:.3} capi_vs_minv3={:.3}",
        capi / raw,
        capi / minv3
    );
}

/// `TP_STATUS_USER`.
fn tp_status_user() -> u32 {
    1
}

fn main() {
    let mut secs = 0.2f64;
    let mut trials = 7usize;
    let mut block_size = 4usize << 20;
    let mut nblocks = 1usize;
    let mut sizes = vec![60usize, 1514];
    let mut chunk = 64usize;
    let (mut xc, mut rounds, mut pcpu, mut ccpu) = (false, 400usize, 0usize, 1usize);
    let mut blocks_given = false;
    let mut xdp = false;
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < args.len() {
        let v = args.get(i + 1).cloned().unwrap_or_default();
        match args[i].as_str() {
            "--secs" => secs = v.parse().expect("--secs SECONDS"),
            "--trials" => trials = v.parse().expect("--trials N"),
            "--block-size" => block_size = v.parse().expect("--block-size BYTES"),
            "--blocks" => {
                nblocks = v.parse().expect("--blocks N");
                blocks_given = true;
            }
            "--xdp" => {
                xdp = true;
                i += 1;
                continue;
            }
            "--xcore" => {
                xc = true;
                i += 1;
                continue;
            }
            "--rounds" => rounds = v.parse().expect("--rounds N"),
            "--producer-cpu" => pcpu = v.parse().expect("--producer-cpu N"),
            "--consumer-cpu" => ccpu = v.parse().expect("--consumer-cpu N"),
            "--chunk" => chunk = v.parse().expect("--chunk N"),
            "--sizes" => {
                sizes = v
                    .split(',')
                    .map(|s| s.parse().expect("--sizes 60,1514"))
                    .collect()
            }
            _ => {
                eprintln!(
                    "usage: micro [--secs S] [--trials N] [--block-size BYTES] [--blocks N] [--sizes 60,1514] [--chunk 64] [--xcore [--rounds N] [--producer-cpu N] [--consumer-cpu N]]"
                );
                std::process::exit(2);
            }
        }
        i += 2;
    }
    let cb: nr_packet_cb = black_box(if std::env::var_os("MICRO_COUNT_ONLY").is_some() {
        Some(on_packet_count)
    } else {
        Some(on_packet)
    });
    if xdp {
        for &size in &sizes {
            xdp_vs_v3(size, block_size, secs, trials);
        }
        return;
    }
    if xc {
        let slots = if blocks_given { nblocks.max(2) } else { 16 };
        for &size in &sizes {
            xcore(size, block_size, slots, rounds, chunk, pcpu, ccpu, cb);
        }
        return;
    }
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
