//! The read loop of a live handle: libpcap's `pcap_read_linux_mmap_v3`
//! over the engine's held batch, one loop for TPACKET_V3 and AF_XDP.
//!
//! `acquire(timeout)` holds a batch (a ring block, a run of RX
//! descriptors), `walk_held(&mut cursor, ..)` delivers its packets from the
//! cursor on, and `release_held()` gives it back as soon as the cursor is
//! done (libpcap gives a block back once consumed). The cursor stays in
//! the handle across `pcap_dispatch`/`pcap_next_ex` calls, so `cnt = 1`
//! walks a block one packet per call. Only the first wait of a call
//! blocks (up to the timeout; none in non-blocking mode); `cnt <= 0`
//! delivers everything ready. `pcap_breakloop` is seen between packets
//! (a plain load) and ends a wait at once (the engine's eventfd).
//!
//! An engine error after packets of the same call were delivered (the
//! interface was removed) is kept and reported by the next call, so every
//! frame the engine handed out reaches the program first; a held batch is
//! never dropped on an error path.

use std::ffi::c_int;
use std::sync::atomic::{AtomicBool, Ordering, compiler_fence};
use std::time::Duration;

use netring_engine::{Capture, Cursor, HeldBatch, Packet, Wait, Xdp};

use crate::code;
use crate::filter::Filter;
use crate::handle::{self, Break, Kind, Pcap};
use crate::live::cooked::{self, PACKET_OUTGOING};
use crate::live::{D_IN, D_OUT, Live, Source};
use crate::types::PktHdr;
use crate::vlan;

/// An engine the loop reads: the held batch and its acquiring half.
pub trait Engine: HeldBatch {
    /// Wait up to `timeout` (None: no limit) for a batch and hold it.
    fn acquire(&mut self, timeout: Option<Duration>) -> netring_engine::Result<Wait<()>>;
}

impl Engine for Capture {
    fn acquire(&mut self, timeout: Option<Duration>) -> netring_engine::Result<Wait<()>> {
        Capture::acquire(self, timeout)
    }
}

impl Engine for Xdp {
    fn acquire(&mut self, timeout: Option<Duration>) -> netring_engine::Result<Wait<()>> {
        Xdp::acquire(self, timeout)
    }
}

/// What a read call selects and how it shapes records, taken out of the
/// handle for the call (the filter is moved out and put back).
pub struct Sel {
    /// `pcap_setdirection`.
    pub direction: c_int,
    /// `pcap_set_protocol_linux` (0: all).
    pub protocol: u16,
    /// Snapshot length.
    pub snapshot: u32,
    /// Nanosecond time stamps.
    pub nano: bool,
    /// The handle's filter.
    pub filter: Filter,
    /// The `any` device.
    pub cooked: bool,
    /// Current DLT.
    pub linktype: c_int,
    /// Index of `lo` (`any`).
    pub lo_ifindex: i32,
}

/// A record to deliver: its lengths, and whether its bytes were built in
/// the scratch buffer (else they are the packet's own).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record {
    /// Bytes delivered.
    pub caplen: u32,
    /// Length on the wire, as the record reports it.
    pub len: u32,
    /// The bytes are in the scratch buffer.
    pub copied: bool,
}

/// The record of an Ethernet frame: direction and protocol checks, the
/// user-space filter (whose result also cuts the snapshot, as the kernel
/// filter's does), the VLAN tag put back after the MAC addresses (a copy,
/// for tagged frames only). None when the packet is not delivered.
pub fn ethernet(sel: &Sel, p: &Packet<'_>, buf: &mut Vec<u8>) -> Option<Record> {
    match sel.direction {
        D_IN if p.pkt_type == PACKET_OUTGOING => return None,
        D_OUT if p.pkt_type != PACKET_OUTGOING => return None,
        _ => {}
    }
    if sel.protocol != 0 && p.protocol != sel.protocol {
        return None;
    }
    let mut caplen = (p.data.len() as u32).min(sel.snapshot);
    match sel.filter.verdict(p, p.data) {
        Some(0) => return None,
        Some(v) => caplen = caplen.min(v),
        None => {}
    }
    if p.flags.contains(netring_engine::PacketFlags::VLAN_VALID) {
        buf.clear();
        buf.extend_from_slice(&p.data[..caplen as usize]);
        if vlan::reinsert(p, buf, vlan::OFFSET_ETHERNET) {
            return Some(Record {
                caplen: (buf.len() as u32).min(sel.snapshot),
                len: p.wire_len + vlan::TAG_LEN,
                copied: true,
            });
        }
    }
    Some(Record {
        caplen,
        len: p.wire_len,
        copied: false,
    })
}

/// A `pcap_pkthdr` for a record of `p`.
fn header(p: &Packet<'_>, r: Record, nano: bool) -> PktHdr {
    let sec = p.ts_ns / 1_000_000_000;
    let frac = p.ts_ns % 1_000_000_000;
    PktHdr {
        ts: libc::timeval {
            tv_sec: sec as libc::time_t,
            tv_usec: if nano { frac } else { frac / 1000 } as libc::suseconds_t,
        },
        caplen: r.caplen,
        len: r.len,
    }
}

/// How a loop ended.
enum End {
    /// Packets delivered (0: timeout, nothing ready, interface down).
    Count(c_int),
    /// `pcap_breakloop`.
    Break,
    /// An engine error, after `delivered` packets of this call.
    Failed { delivered: c_int, msg: String },
}

/// What a loop works with, moved out of the handle for the call.
struct Run<'a> {
    sel: Sel,
    cursor: Cursor,
    scratch: Vec<u8>,
    first: Option<Duration>,
    brk: &'a Break,
    /// Set while the program's callback runs (None: the callback is this
    /// library's own, `pcap_next_ex`'s copy).
    in_callback: Option<&'a AtomicBool>,
}

/// The loop, for any engine.
fn run<E: Engine>(
    e: &mut E,
    r: &mut Run<'_>,
    cnt: c_int,
    f: &mut dyn FnMut(&PktHdr, &[u8]),
) -> End {
    let Run {
        sel,
        cursor,
        scratch,
        first,
        brk,
        in_callback,
    } = r;
    let mut pkts: c_int = 0;
    let mut waited = false;
    loop {
        if cnt > 0 && pkts >= cnt {
            return End::Count(pkts);
        }
        if !e.is_held() {
            let t = if waited { Some(Duration::ZERO) } else { *first };
            match e.acquire(t) {
                Ok(Wait::Ready(())) => *cursor = Cursor::START,
                Ok(Wait::Timeout) | Ok(Wait::InterfaceDown) => return End::Count(pkts),
                Ok(Wait::Interrupted) => {
                    brk.clear();
                    return End::Break;
                }
                Err(err) => {
                    return End::Failed {
                        delivered: pkts,
                        msg: err.to_string(),
                    };
                }
            }
        }
        waited = true;
        let walked = e.walk_held(cursor, |p| {
            let rec = if sel.cooked {
                cooked::cook(sel, p, scratch)
            } else {
                ethernet(sel, p, scratch)
            };
            if let Some(rec) = rec {
                let bytes = if rec.copied { &scratch[..] } else { p.data };
                prefetch_next(p.data);
                if let Some(c) = in_callback {
                    c.store(true, Ordering::Relaxed);
                }
                f(&header(p, rec, sel.nano), &bytes[..rec.caplen as usize]);
                if let Some(c) = in_callback {
                    c.store(false, Ordering::Relaxed);
                }
                pkts += 1;
            }
            !(brk.requested() || cnt > 0 && pkts >= cnt)
        });
        if cursor.is_done() {
            // Every packet of the batch was visited (a malformed batch
            // ends its walk): give it back now.
            let _ = e.release_held();
        }
        if let Err(err) = walked {
            return End::Failed {
                delivered: pkts,
                msg: err.to_string(),
            };
        }
        if brk.requested() {
            brk.take();
            return End::Break;
        }
    }
}

/// Ask the CPU to load the bytes after `d` (the next packet of a ring
/// block: its header and as many bytes as this packet has, at most 2 KiB)
/// while the program's callback works on this one. Programs that copy
/// each packet (Suricata's pcap mode, tcpdump -w) then copy from cache
/// instead of waiting on memory the kernel has just written. A prefetch
/// never faults, wherever it points.
#[inline(always)]
fn prefetch_next(d: &[u8]) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        let end = d.as_ptr_range().end as usize;
        let stop = end + d.len().min(2048) + 128;
        let mut at = end & !63;
        while at < stop {
            // SAFETY: SSE is part of x86_64's baseline; a prefetch only
            // hints the cache and never dereferences (nor faults on) the
            // address.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(at as *const i8) };
            at += 64;
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = d;
}

/// The first wait of a read call: none in non-blocking mode, no limit in
/// immediate mode or without a timeout, else the timeout.
fn first_wait(l: &Live) -> Option<Duration> {
    if l.nonblock {
        Some(Duration::ZERO)
    } else if l.opts.immediate || l.opts.timeout <= 0 {
        None
    } else {
        Some(Duration::from_millis(l.opts.timeout as u64))
    }
}

/// libpcap's `pcap_dispatch` on a live handle: up to `cnt` packets (all
/// that are ready when `cnt <= 0`), waiting only for the first. Returns
/// the count, 0 on timeout, `PCAP_ERROR_BREAK`, or an error status (its
/// text in the handle).
///
/// # Safety
/// `p` is a live handle of this library; the borrow rule of
/// [`handle`](crate::handle): no borrow of the handle is alive, and none
/// is held here while `f` runs (`f` may call back into the handle).
pub unsafe fn dispatch(p: *mut Pcap, cnt: c_int, f: &mut dyn FnMut(&PktHdr, &[u8])) -> c_int {
    // SAFETY: as documented (caller).
    unsafe { dispatch_to(p, cnt, f, true) }
}

/// [`dispatch`], to the program's callback (`user`) or to this library's
/// own (`pcap_next_ex`'s copy: no program code runs inside the loop, so a
/// `longjmp` out of it is always a `longjmp` out of the loop).
///
/// # Safety
/// As [`dispatch`].
unsafe fn dispatch_to(
    p: *mut Pcap,
    cnt: c_int,
    f: &mut dyn FnMut(&PktHdr, &[u8]),
    user: bool,
) -> c_int {
    // SAFETY: as documented (caller).
    unsafe { reclaim_stale(p) };
    // SAFETY: p is ours (caller); `brk` is outside the state's cell.
    let Some(pc) = (unsafe { handle::shared::<'static>(p) }) else {
        return code::ERROR;
    };
    // SAFETY: as documented; this borrow ends before the loop runs.
    let Some(h) = (unsafe { handle::state(p) }) else {
        return code::ERROR;
    };
    let Kind::Live(l) = &mut h.kind else {
        return code::ERROR;
    };
    super::split_on_first_read(l);
    let first = first_wait(l);
    let (direction, protocol, nano, cooked, linktype) = (
        l.direction,
        l.opts.protocol,
        l.opts.nano,
        l.cooked,
        l.linktype,
    );
    let Some(a) = l.active.as_mut() else {
        h.io.set_err(crate::handle::NOT_ACTIVATED_TEXT);
        return code::NOT_ACTIVATED;
    };
    if let Some(m) = a.pending.take() {
        h.io.set_err(&m);
        return code::ERROR;
    }
    if a.source.is_none() {
        h.io.set_err("pcap_dispatch: the handle is already being read (from a callback?)");
        return code::ERROR;
    }
    // Lent on the heap, its address in the handle: a longjmp out of the
    // loop (a signal handler's) skips the put-back, and the next call of
    // this thread takes it back (reclaim_stale). The loan is made empty
    // and its address stored first, then the state moves into it, the
    // engine last: wherever a longjmp leaves, each piece is in the handle
    // or in the loan the handle points to (see Out::give_back).
    let fresh = Out {
        src: None,
        r: Run {
            sel: Sel {
                direction,
                protocol,
                snapshot: a.snapshot,
                nano,
                filter: Filter::default(),
                cooked,
                linktype,
                lo_ifindex: a.lo_ifindex,
            },
            cursor: Cursor::START,
            scratch: Vec::new(),
            first,
            brk: &pc.brk,
            in_callback: user.then_some(&pc.in_callback),
        },
    };
    // The previous call's allocation when there is one: no allocation per
    // call (pcap_next_ex makes one call per packet).
    let boxed = match a.spare.take() {
        Some(mut b) => {
            *b = fresh;
            b
        }
        None => Box::new(fresh),
    };
    let out = Box::into_raw(boxed);
    a.loan = out;
    // SAFETY: pthread_self has no precondition (a register read, where
    // std::thread::current() would count a reference per call).
    a.loan_thread = Some(unsafe { libc::pthread_self() });
    // The order above and below is what a longjmp (from a signal handler)
    // sees: the compiler must not move these stores across each other.
    compiler_fence(Ordering::SeqCst);
    // SAFETY: just made; besides this call only Lent and reclaim_stale
    // (of this thread, once the loop is left) use it.
    let o = unsafe { &mut *out };
    o.r.sel.filter = std::mem::take(&mut l.filter);
    o.r.cursor = a.cursor;
    o.r.scratch = std::mem::take(&mut a.scratch);
    o.src = a.source.take();
    let lent = Lent(p, out);
    // SAFETY: the loan is this call's until `lent` ends it; what the
    // callbacks may call on the handle does not touch it (they see the
    // engine out, as before).
    let o = unsafe { &mut *out };
    let (end, xdp_stats) = match o.src.as_mut() {
        Some(Source::Ring(c)) => (run(&mut **c, &mut o.r, cnt, f), None),
        Some(Source::Xdp(x)) => {
            let end = run(&mut **x, &mut o.r, cnt, f);
            (end, x.stats().ok().map(|st| (st, x.held_len() as u64)))
        }
        None => return code::ERROR,
    };
    // Put the engine back, then report.
    drop(lent);
    // SAFETY: as above; the callbacks have returned.
    let Some(h) = (unsafe { handle::state(p) }) else {
        return code::ERROR;
    };
    let Kind::Live(l) = &mut h.kind else {
        return code::ERROR;
    };
    let Some(a) = l.active.as_mut() else {
        return code::ERROR;
    };
    if xdp_stats.is_some() {
        a.xdp_stats = xdp_stats;
    }
    match end {
        End::Count(n) => n,
        End::Break => code::BREAK,
        End::Failed { delivered, msg } if delivered > 0 => {
            a.pending = Some(msg);
            delivered
        }
        End::Failed { msg, .. } => {
            h.io.set_err(&msg);
            code::ERROR
        }
    }
}

/// The engine and the read state a dispatch took out of the handle; put
/// back when dropped, so that a call left early (a pthread cancellation
/// in a wait or in the user's callback unwinds through here) leaves the
/// handle readable and closable as libpcap leaves it.
pub struct Out {
    src: Option<Source>,
    r: Run<'static>,
}

/// A dispatch's loan ([`Out`], on the heap, its address in the handle):
/// ended when dropped (the loop returned, or a cancellation unwound
/// through it): the handle's pointer is cleared and the state put back.
struct Lent(*mut Pcap, *mut Out);

impl Drop for Lent {
    fn drop(&mut self) {
        // SAFETY: the handle of the dispatch that lent `self.1`; the loop
        // has returned or been unwound, so no other borrow is alive.
        match unsafe { handle::state(self.0) }.map(|h| &mut h.kind) {
            // SAFETY: the loan this dispatch made, still allocated.
            Some(Kind::Live(l)) => unsafe { end_loan(l, self.1) },
            // SAFETY: made by Box::into_raw in dispatch, ended once, here.
            _ => drop(unsafe { Box::from_raw(self.1) }),
        }
    }
}

/// End the loan `out` of the handle `l`: its state goes back into the
/// handle, the handle's pointer is cleared (after: a longjmp in between
/// finds the loan still linked and gives back what is left), and the
/// allocation is kept for the next read.
///
/// # Safety
/// `out` was made by Box::into_raw in [`dispatch_to`] for `l` and is
/// ended once.
unsafe fn end_loan(l: &mut Live, out: *mut Out) {
    // SAFETY: the caller's.
    unsafe { (*out).give_back(l) };
    compiler_fence(Ordering::SeqCst);
    // SAFETY: the caller's; no reference to it is alive.
    let boxed = unsafe { Box::from_raw(out) };
    match l.active.as_mut() {
        Some(a) => {
            if a.loan == out {
                a.loan = std::ptr::null_mut();
                a.loan_thread = None;
            }
            a.spare = Some(boxed);
        }
        None => drop(boxed),
    }
}

/// A read loop this thread left with a `longjmp` (scan6 leaves
/// `pcap_next_ex` from its SIGALRM handler with `siglongjmp`): the engine
/// and the read state it took out of the handle come back, so the handle
/// reads, filters and closes as libpcap's does. A loan of another thread
/// (reading now), or one whose callback is running (a call from inside
/// it), stays. A signal handler that calls a reading or filtering
/// function on the handle while this thread's read loop waits is taken
/// for such a `longjmp` (libpcap's functions are not async-signal-safe
/// either).
///
/// # Safety
/// `p` is NULL or a handle of this library, no borrow of its state alive.
pub unsafe fn reclaim_stale(p: *mut Pcap) {
    // SAFETY: as documented.
    let Some(pc) = (unsafe { handle::shared(p) }) else {
        return;
    };
    if pc.in_callback.load(Ordering::Relaxed) {
        return;
    }
    // SAFETY: as documented.
    let Some(Kind::Live(l)) = (unsafe { handle::state(p) }).map(|h| &mut h.kind) else {
        return;
    };
    let out = match l.active.as_ref() {
        // SAFETY: pthread_self has no precondition.
        Some(a) if !a.loan.is_null() && a.loan_thread == Some(unsafe { libc::pthread_self() }) => {
            a.loan
        }
        _ => return,
    };
    // SAFETY: the loan of a dispatch of this thread that no longer runs,
    // still linked, so not ended yet.
    unsafe { end_loan(l, out) };
}

impl Out {
    /// Put what the loan holds back into the handle `l`; what it does not
    /// hold (a dispatch left by a longjmp before it moved everything in,
    /// or a give-back left halfway) stays where it is. The engine and its
    /// cursor go back together; a filter only if one was moved in (the
    /// handle's own is then the default one left by the move).
    fn give_back(&mut self, l: &mut Live) {
        if self.r.sel.filter.prog.is_some()
            || self.r.sel.filter.all
            || self.r.sel.filter.until_ns != 0
        {
            l.filter = std::mem::take(&mut self.r.sel.filter);
        }
        let Some(a) = l.active.as_mut() else {
            return;
        };
        if self.r.scratch.capacity() > 0 {
            a.scratch = std::mem::take(&mut self.r.scratch);
        }
        if let Some(src) = self.src.take() {
            a.cursor = self.r.cursor;
            a.source = Some(src);
        }
    }
}

/// One packet into the handle's copy (`pcap_next`, `pcap_next_ex`):
/// `dispatch(1)`'s result.
///
/// # Safety
/// As [`dispatch`].
pub unsafe fn next_one(p: *mut Pcap) -> c_int {
    let mut keep = None;
    // The handle's copy buffer, reused (the program's pointer into it is
    // valid until this call, as libpcap's is).
    // SAFETY: as documented (caller); the borrow ends at once.
    let mut buf =
        unsafe { handle::state(p) }.map_or_else(Vec::new, |h| std::mem::take(&mut h.io.one_buf));
    // SAFETY: as documented (caller).
    let n = unsafe {
        dispatch_to(
            p,
            1,
            &mut |h, d| {
                buf.clear();
                buf.extend_from_slice(d);
                keep = Some(*h);
            },
            false,
        )
    };
    // SAFETY: as above; no other borrow is alive.
    if let Some(h) = unsafe { handle::state(p) } {
        if let Some(hdr) = keep {
            h.io.one_hdr = hdr;
        }
        h.io.one_buf = buf;
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;
    use netring_engine::fixtures::{SyntheticBlock, synth};
    use netring_engine::{Error, ErrorKind, PacketFlags, Walk};
    use std::collections::VecDeque;

    /// An engine over synthetic blocks: each acquire holds the next one
    /// (or fails with the interface gone); nothing left is a timeout.
    struct Fake<'a> {
        queue: VecDeque<Option<SyntheticBlock<'a>>>,
        cur: Option<SyntheticBlock<'a>>,
        released: usize,
    }

    impl HeldBatch for Fake<'_> {
        fn is_held(&self) -> bool {
            self.cur.as_ref().is_some_and(|b| b.is_held())
        }
        fn held_len(&self) -> usize {
            self.cur.as_ref().map_or(0, |b| b.held_len())
        }
        fn held_seq(&self) -> u64 {
            self.cur.as_ref().map_or(0, |b| b.held_seq())
        }
        fn walk_held<F>(&mut self, c: &mut Cursor, f: F) -> netring_engine::Result<Walk>
        where
            F: FnMut(&Packet<'_>) -> bool,
        {
            self.cur
                .as_mut()
                .map_or(Ok(Walk::Done), |b| b.walk_held(c, f))
        }
        fn release_held(&mut self) -> netring_engine::Result<()> {
            self.released += 1;
            self.cur.take().map_or(Ok(()), |mut b| b.release_held())
        }
    }

    impl Engine for Fake<'_> {
        fn acquire(&mut self, _: Option<Duration>) -> netring_engine::Result<Wait<()>> {
            assert!(!self.is_held(), "acquire while a batch is held");
            match self.queue.pop_front() {
                None => Ok(Wait::Timeout),
                Some(None) => Err(Error::new(ErrorKind::InterfaceGone, "interface gone")),
                Some(Some(b)) => {
                    self.cur = Some(b);
                    Ok(Wait::Ready(()))
                }
            }
        }
    }

    impl<'a> Fake<'a> {
        /// Blocks to hand out in order (None: the interface is gone).
        fn new(blocks: impl IntoIterator<Item = Option<&'a mut Vec<u64>>>) -> Fake<'a> {
            let queue = blocks
                .into_iter()
                .map(|w| w.map(|w| SyntheticBlock::new(synth::bytes(w))))
                .collect();
            Fake {
                queue,
                cur: None,
                released: 0,
            }
        }
    }

    /// A synthetic block of 60-byte frames numbered `seqs` (byte 14).
    fn block(seqs: std::ops::RangeInclusive<u8>) -> Vec<u64> {
        let frames: Vec<Vec<u8>> = seqs
            .map(|seq| {
                let mut f = vec![0xff; 60];
                f[12..14].copy_from_slice(&0x88b5u16.to_be_bytes());
                f[14] = seq;
                f
            })
            .collect();
        let refs: Vec<&[u8]> = frames.iter().map(|f| &f[..]).collect();
        synth::block(4096, 1, &refs)
    }

    fn run_once<'b>(e: &mut Fake<'_>, r: &mut Run<'b>, cnt: c_int, got: &mut Vec<u8>) -> End {
        run(e, r, cnt, &mut |h, d| {
            assert_eq!(h.caplen as usize, d.len());
            got.push(d[14]);
        })
    }

    fn new_run(brk: &Break) -> Run<'_> {
        Run {
            sel: sel(),
            cursor: Cursor::START,
            scratch: Vec::new(),
            first: Some(Duration::ZERO),
            brk,
            in_callback: None,
        }
    }

    #[test]
    fn the_cursor_stays_across_calls_and_a_block_goes_back_when_consumed() {
        let (mut w1, mut w2) = (block(1..=3), block(4..=4));
        let mut e = Fake::new([Some(&mut w1), Some(&mut w2)]);
        let brk = Break::default();
        let mut r = new_run(&brk);
        let mut got = Vec::new();
        // pcap_dispatch(cnt = 1) three times: one block, walked a packet
        // per call, given back with its last packet.
        for want_released in [0, 0, 1] {
            assert!(matches!(
                run_once(&mut e, &mut r, 1, &mut got),
                End::Count(1)
            ));
            assert_eq!(e.released, want_released);
        }
        assert_eq!(got, [1, 2, 3]);
        // cnt <= 0: everything ready (the next block), then nothing left.
        assert!(matches!(
            run_once(&mut e, &mut r, 0, &mut got),
            End::Count(1)
        ));
        assert_eq!((got.len(), e.released), (4, 2));
        assert!(matches!(
            run_once(&mut e, &mut r, 0, &mut got),
            End::Count(0)
        ));
    }

    #[test]
    fn a_break_stops_after_the_packet_and_keeps_the_position() {
        let mut w = block(1..=3);
        let mut e = Fake::new([Some(&mut w)]);
        let brk = Break::default();
        let mut r = new_run(&brk);
        let mut got = Vec::new();
        let end = run(&mut e, &mut r, 0, &mut |_, d| {
            got.push(d[14]);
            brk.request();
        });
        assert!(matches!(end, End::Break));
        assert!(!brk.requested(), "the request is consumed");
        assert_eq!((got.as_slice(), e.released), (&[1u8][..], 0));
        assert!(matches!(
            run_once(&mut e, &mut r, 0, &mut got),
            End::Count(2)
        ));
        assert_eq!((got.as_slice(), e.released), (&[1u8, 2, 3][..], 1));
    }

    #[test]
    fn an_engine_error_comes_after_the_packets_handed_out() {
        let mut w = block(1..=2);
        let mut e = Fake::new([Some(&mut w), None]);
        let brk = Break::default();
        let mut r = new_run(&brk);
        let mut got = Vec::new();
        match run_once(&mut e, &mut r, 0, &mut got) {
            End::Failed { delivered, msg } => {
                assert_eq!(delivered, 2);
                assert!(msg.contains("interface gone"), "{msg}");
            }
            _ => panic!("the removal is reported"),
        }
        assert_eq!((got.as_slice(), e.released), (&[1u8, 2][..], 1));
    }

    fn sel() -> Sel {
        Sel {
            direction: 0,
            protocol: 0,
            snapshot: 100,
            nano: false,
            filter: Filter::default(),
            cooked: false,
            linktype: crate::datalink::DLT_EN10MB,
            lo_ifindex: -1,
        }
    }

    fn pkt(data: &[u8], flags: PacketFlags) -> Packet<'_> {
        Packet {
            data,
            ts_ns: 1_500_000_000,
            wire_len: data.len() as u32,
            ifindex: 1,
            rxhash: 0,
            vlan_tci: 7,
            vlan_tpid: 0,
            protocol: 0x0800,
            pkt_type: 0,
            flags,
            hw: Default::default(),
        }
    }

    #[test]
    fn ethernet_records() {
        let f: Vec<u8> = (0..60u8).collect();
        let mut buf = Vec::new();
        let plain = ethernet(&sel(), &pkt(&f, PacketFlags::empty()), &mut buf).unwrap();
        assert_eq!(
            plain,
            Record {
                caplen: 60,
                len: 60,
                copied: false
            }
        );
        let tagged = ethernet(&sel(), &pkt(&f, PacketFlags::VLAN_VALID), &mut buf).unwrap();
        assert_eq!(
            tagged,
            Record {
                caplen: 64,
                len: 64,
                copied: true
            }
        );
        assert_eq!(&buf[12..16], &[0x81, 0, 0, 7]);
        // The snapshot cuts the tagged record after the tag went in.
        let s = Sel {
            snapshot: 20,
            ..sel()
        };
        let cut = ethernet(&s, &pkt(&f, PacketFlags::VLAN_VALID), &mut buf).unwrap();
        assert_eq!((cut.caplen, cut.len), (20, 64));
        // Direction: outgoing frames are not delivered with PCAP_D_IN.
        let mut out = pkt(&f, PacketFlags::empty());
        out.pkt_type = PACKET_OUTGOING;
        let s = Sel {
            direction: D_IN,
            ..sel()
        };
        assert!(ethernet(&s, &out, &mut buf).is_none());
        let h = header(&out, plain, false);
        assert_eq!((h.ts.tv_sec, h.ts.tv_usec), (1, 500_000));
    }
}
