//! `nr_batch` and `nr_packet`: the batch and packet types every engine
//! hands out, and the callback iteration.

use std::ffi::{c_int, c_void};
use std::ptr;

use super::arg::{self, Out, out_slice};
use super::{NR_OK, NR_STOPPED, boundary, guard_pure, null_arg};
use crate::batch::{Cursor, HeldBatch, Walk};
use crate::error::{Error, ErrorKind};
#[cfg(any(test, feature = "bench-fixtures"))]
use crate::fixtures::SyntheticBlock;
use crate::packet::Packet;
use crate::pcapfile::Reader;
use crate::{Capture, Xdp};

// nr_packet.flags bits. The naming rule of the header: the values of a
// field are NR_<THING>_<VALUE> (nr_packet.pkt_type: NR_PACKET_HOST, ...),
// its bit flags NR_<THING>_FLAG_<NAME> (NR_PACKET_FLAG_*, NR_FANOUT_FLAG_*,
// NR_FRAG_FLAG_*); a flag is written as an unsigned shift, `(1u << n)`.

/// nr_packet.flags: the kernel dropped packets around this one.
pub const NR_PACKET_FLAG_LOSING: u32 = 1u32 << 2;
/// nr_packet.flags: checksum not computed yet (outgoing, offloaded).
pub const NR_PACKET_FLAG_CSUM_NOT_READY: u32 = 1u32 << 3;
/// nr_packet.flags: vlan_tci is valid (the kernel stripped an 802.1Q tag).
pub const NR_PACKET_FLAG_VLAN_VALID: u32 = 1u32 << 4;
/// nr_packet.flags: vlan_tpid is valid.
pub const NR_PACKET_FLAG_VLAN_TPID_VALID: u32 = 1u32 << 6;
/// nr_packet.flags: checksum verified by the device or the stack.
pub const NR_PACKET_FLAG_CSUM_VALID: u32 = 1u32 << 7;
/// nr_packet.flags: caplen < len (cut by the snap length).
pub const NR_PACKET_FLAG_TRUNCATED: u32 = 1u32 << 16;
/// nr_packet.flags: ts_ns is a software timestamp.
pub const NR_PACKET_FLAG_TS_SOFTWARE: u32 = 1u32 << 29;
/// nr_packet.flags: ts_ns is a hardware timestamp in system time.
pub const NR_PACKET_FLAG_TS_SYS_HARDWARE: u32 = 1u32 << 30;
/// nr_packet.flags: ts_ns is a raw hardware timestamp.
pub const NR_PACKET_FLAG_TS_RAW_HARDWARE: u32 = 1u32 << 31;

/// Packet types: where a packet was going (nr_packet.pkt_type).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum nr_packet_type {
    /// nr_packet.pkt_type: addressed to this host.
    NR_PACKET_HOST = 0,
    /// nr_packet.pkt_type: broadcast.
    NR_PACKET_BROADCAST = 1,
    /// nr_packet.pkt_type: multicast.
    NR_PACKET_MULTICAST = 2,
    /// nr_packet.pkt_type: addressed to another host (promiscuous/mirror).
    NR_PACKET_OTHERHOST = 3,
    /// nr_packet.pkt_type: sent by this host.
    NR_PACKET_OUTGOING = 4,
    /// Looped back (sent and received by this host on a loopback device).
    NR_PACKET_LOOPBACK = 5,
}

arg::c_enum!(nr_packet_type as u8 {
    NR_PACKET_HOST,
    NR_PACKET_BROADCAST,
    NR_PACKET_MULTICAST,
    NR_PACKET_OTHERHOST,
    NR_PACKET_OUTGOING,
    NR_PACKET_LOOPBACK,
});

/// One packet. Always allocated by netring and passed by pointer, so new
/// fields may be appended in later versions without breaking callers.
/// `data` points into the ring (zero copy): valid until the batch is
/// released (nr_batch_for_each) or the next call on the handle
/// (nr_next_packet); never write through it.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct nr_packet {
    /// First captured byte (the Ethernet header).
    pub data: *const u8,
    /// Captured bytes at `data`.
    pub caplen: u32,
    /// Length on the wire (>= caplen).
    pub len: u32,
    /// Timestamp, nanoseconds since the Unix epoch (source: flags NR_PACKET_FLAG_TS_*).
    pub ts_ns: u64,
    /// Interface index the packet was seen on.
    pub ifindex: i32,
    /// Receive hash; 0 unless nr_capture_config.fill_rxhash.
    pub rxhash: u32,
    /// NR_PACKET_FLAG_* flags.
    pub flags: u32,
    /// VLAN TCI, valid if flags has NR_PACKET_FLAG_VLAN_VALID.
    pub vlan_tci: u16,
    /// VLAN TPID, valid if flags has NR_PACKET_FLAG_VLAN_TPID_VALID.
    pub vlan_tpid: u16,
    /// EtherType (link-layer protocol) in host byte order.
    pub protocol: u16,
    /// An nr_packet_type (NR_PACKET_*): where the packet was going.
    pub pkt_type: u8,
}

impl nr_packet {
    /// The engine's view of a packet a C caller passes in (for
    /// nr_packet_parse(), the flow meter): its bytes are `data[..caplen]`,
    /// the metadata is copied; the hardware address is not carried.
    /// NR_E_INVALID_ARG for NULL data with a non-zero caplen.
    #[inline]
    pub(crate) fn as_packet(&self) -> Result<Packet<'_>, Error> {
        if self.data.is_null() && self.caplen != 0 {
            return Err(Error::invalid_arg(format!(
                "nr_packet.data is NULL with caplen {}",
                self.caplen
            )));
        }
        Ok(Packet {
            data: arg::slice(self.data, self.caplen as usize, "pkt->data")?,
            ts_ns: self.ts_ns,
            wire_len: self.len,
            ifindex: self.ifindex,
            rxhash: self.rxhash,
            vlan_tci: self.vlan_tci,
            vlan_tpid: self.vlan_tpid,
            protocol: self.protocol,
            pkt_type: self.pkt_type,
            flags: crate::packet::PacketFlags::from_bits_retain(self.flags),
            hw: crate::packet::HwAddr::default(),
        })
    }

    /// A descriptor of nothing (NULL data, all zero), to initialise arrays.
    pub const EMPTY: nr_packet = nr_packet {
        data: ptr::null(),
        caplen: 0,
        len: 0,
        ts_ns: 0,
        ifindex: 0,
        rxhash: 0,
        flags: 0,
        vlan_tci: 0,
        vlan_tpid: 0,
        protocol: 0,
        pkt_type: 0,
    };
}

impl From<&Packet<'_>> for nr_packet {
    #[inline(always)]
    fn from(p: &Packet<'_>) -> nr_packet {
        nr_packet {
            data: p.data.as_ptr(),
            caplen: p.data.len() as u32,
            len: p.wire_len,
            ts_ns: p.ts_ns,
            ifindex: p.ifindex,
            rxhash: p.rxhash,
            flags: p.flags.bits(),
            vlan_tci: p.vlan_tci,
            vlan_tpid: p.vlan_tpid,
            protocol: p.protocol,
            pkt_type: p.pkt_type,
        }
    }
}

/// Packet callback of nr_batch_for_each(): return 0 to continue, non-zero
/// to stop (nr_batch_for_each() then returns NR_STOPPED). `pkt` itself is
/// a temporary (copy the struct if you keep it); the bytes at `pkt->data`
/// stay valid until the batch is released, like every packet of the batch.
/// The callback must not release the batch or close the handle.
pub type nr_packet_cb =
    Option<unsafe extern "C-unwind" fn(user: *mut c_void, pkt: *const nr_packet) -> c_int>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Idle,
    Live,
    Iterating,
}

/// The engine a batch forwards to. Raw pointers to engines that live inside
/// their C handle's allocation, which outlives the batch.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Owner {
    Capture(*mut Capture),
    Xdp(*mut Xdp),
    Reader(*mut Reader),
    /// A block in ordinary memory (unit tests, examples/micro.rs).
    #[cfg(any(test, feature = "bench-fixtures"))]
    Synthetic(*mut SyntheticBlock<'static>),
}

/// The engine of an [`Owner`], borrowed for one batch call.
enum Engine<'a> {
    Capture(&'a mut Capture),
    Xdp(&'a mut Xdp),
    Reader(&'a mut Reader),
    #[cfg(any(test, feature = "bench-fixtures"))]
    Synthetic(&'a mut SyntheticBlock<'static>),
}

impl Owner {
    /// Borrow the engine for the current batch call.
    fn engine<'a>(self) -> Engine<'a> {
        // SAFETY: an Owner is made (by Slot::attach, or the synthetic
        // batch) with a pointer to an engine inside its handle's
        // allocation, which outlives the batch; a handle is used by one
        // thread at a time and the batch functions are calls on it, so no
        // other reference to the engine is alive while this one is used.
        unsafe {
            match self {
                Owner::Capture(p) => Engine::Capture(&mut *p),
                Owner::Xdp(p) => Engine::Xdp(&mut *p),
                Owner::Reader(p) => Engine::Reader(&mut *p),
                #[cfg(any(test, feature = "bench-fixtures"))]
                Owner::Synthetic(p) => Engine::Synthetic(&mut *p),
            }
        }
    }
}

/// Run `$body` with `$e` bound to the owner engine as `&mut impl HeldBatch`.
macro_rules! with_engine {
    ($owner:expr, $e:ident => $body:expr) => {
        match $owner.engine() {
            Engine::Capture($e) => $body,
            Engine::Xdp($e) => $body,
            Engine::Reader($e) => $body,
            #[cfg(any(test, feature = "bench-fixtures"))]
            Engine::Synthetic($e) => $body,
        }
    };
}

/// A batch of packets held by its handle (opaque). Obtained from
/// nr_next_batch(), nr_xdp_next_batch() or
/// nr_reader_next_batch(); owned by its handle (never free it); live until
/// nr_batch_release(). The same type serves every engine: nr_batch_for_each()
/// and nr_batch_fill() see the same nr_packet either way.
pub struct nr_batch {
    owner: Owner,
    state: State,
    /// nr_batch_fill()'s position.
    cursor: Cursor,
    /// A malformed block found by nr_batch_fill() after it had filled
    /// packets: returned by the next call.
    pending: Option<Error>,
}

/// A batch forwarding to `owner`, idle until [`arm`]ed.
pub(crate) fn new(owner: Owner) -> *mut nr_batch {
    Box::into_raw(Box::new(nr_batch {
        owner,
        state: State::Idle,
        cursor: Cursor::START,
        pending: None,
    }))
}

/// Visit every packet of a live batch with `f` (for consumers inside the
/// library, such as the file writer), stopping at f's first error. A
/// malformed ring block is reported like nr_batch_for_each() does.
///
/// `batch` comes from a C caller (see [`live_batch`]).
pub(crate) fn visit(
    batch: *mut nr_batch,
    mut f: impl FnMut(&Packet<'_>) -> Result<(), Error>,
) -> Result<(), Error> {
    let b = live_batch(batch)?;
    let mut result = Ok(());
    let mut cursor = Cursor::START;
    with_engine!(b.owner, e => e.walk_held(&mut cursor, |p| {
        result = f(p);
        result.is_ok()
    }))?;
    result
}

/// # Safety
/// `b` came from [`new`] and is freed only here, once.
pub(crate) unsafe fn free(b: *mut nr_batch) {
    if !b.is_null() {
        // SAFETY: per the contract, b is a live Box allocation.
        drop(unsafe { Box::from_raw(b) });
    }
}

/// A handle's batch: one allocation per handle, pointing at the engine
/// inside the handle (attached once the handle has its final address),
/// handed out by every `nr_*_next_batch()` and freed with the handle.
pub(crate) struct Slot(*mut nr_batch);

impl Slot {
    /// No batch yet: [`Slot::attach`] it once the engine has its final
    /// address.
    pub(crate) const fn detached() -> Slot {
        Slot(ptr::null_mut())
    }

    /// Allocate the batch, forwarding to `owner`.
    pub(crate) fn attach(&mut self, owner: Owner) {
        debug_assert!(self.0.is_null(), "attached twice");
        self.0 = new(owner);
    }

    /// Refuse while the batch is held (the `nr_*_next_*` calls).
    pub(crate) fn ensure_idle(&self) -> Result<(), Error> {
        // SAFETY: NULL (detached) or this slot's own live allocation; a
        // handle is used by one thread at a time, so nothing writes it now.
        match unsafe { self.0.as_ref() } {
            Some(b) if b.state != State::Idle => Err(busy()),
            _ => Ok(()),
        }
    }

    /// The `nr_*_next_batch()` shape: refuse while the batch is held, else
    /// let the engine `acquire` one (NR_OK when it holds a batch, another
    /// status when not) and on NR_OK hand the batch to `out`.
    pub(crate) fn next(
        &self,
        out: Out<*mut nr_batch>,
        acquire: impl FnOnce() -> Result<c_int, Error>,
    ) -> Result<c_int, Error> {
        self.ensure_idle()?;
        let rc = acquire()?;
        if rc == NR_OK {
            // SAFETY: this slot's own allocation (attached at open), and the
            // engine now holds a batch until nr_batch_release() or close.
            unsafe { arm(self.0) };
            out.set(self.0);
        }
        Ok(rc)
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        // SAFETY: NULL or this slot's own allocation from new(), freed
        // only here.
        unsafe { free(self.0) }
    }
}

/// Mark the batch live after its engine acquired one.
///
/// # Safety
/// `b` is a live batch allocation and its engine holds a batch.
pub(crate) unsafe fn arm(b: *mut nr_batch) {
    // SAFETY: per the contract; no other reference to *b is alive.
    let b = unsafe { &mut *b };
    b.state = State::Live;
    b.cursor = Cursor::START;
    b.pending = None;
}

pub(crate) fn busy() -> Error {
    Error::new(
        ErrorKind::Busy,
        "a batch is still held: call nr_batch_release() before asking for the next one",
    )
}

/// The batch behind a C argument, if not NULL. Trusts the C contract: `b`
/// is NULL or a batch pointer from this library (its allocation lives as
/// long as its handle), used by the handle's one thread.
fn batch_arg<'a>(b: *const nr_batch) -> Option<&'a mut nr_batch> {
    // SAFETY: the C contract above; each exported call takes this
    // reference once, so no other reference to the batch is alive.
    unsafe { b.cast_mut().as_mut() }
}

/// The live batch behind a C argument: NULL, released and iterating
/// batches are refused.
fn live_batch<'a>(b: *mut nr_batch) -> Result<&'a mut nr_batch, Error> {
    let r = batch_arg(b).ok_or_else(|| null_arg("batch"))?;
    match r.state {
        State::Live => Ok(r),
        State::Idle => Err(Error::new(
            ErrorKind::BadBatch,
            "the batch is not live: it was already released",
        )),
        State::Iterating => Err(Error::new(
            ErrorKind::BadBatch,
            "the batch is being iterated: do not use it from inside its own callback",
        )),
    }
}

/// Number of packets in the batch (0 for NULL or a released batch). For an
/// AF_XDP batch: the RX descriptors held, including any refused by the
/// bounds check, which the iteration skips.
#[unsafe(no_mangle)]
pub unsafe extern "C-unwind" fn nr_batch_len(batch: *const nr_batch) -> usize {
    guard_pure(0, || match batch_arg(batch) {
        Some(b) if b.state != State::Idle => with_engine!(b.owner, e => e.held_len()),
        _ => 0,
    })
}

/// The batch's sequence number (0 for NULL or a released batch): the
/// kernel's ring block sequence for a capture (one more per block, so a
/// jump means blocks were skipped); a counter of batches from 1 for AF_XDP
/// and capture files.
#[unsafe(no_mangle)]
pub unsafe extern "C-unwind" fn nr_batch_seq(batch: *const nr_batch) -> u64 {
    guard_pure(0, || match batch_arg(batch) {
        Some(b) if b.state != State::Idle => with_engine!(b.owner, e => e.held_seq()),
        _ => 0,
    })
}

/// Call `cb(user, pkt)` for each packet of the batch, in arrival order. No
/// copy and no allocation: each nr_packet describes ring memory, valid
/// until nr_batch_release().
///
/// Every offset the kernel wrote is checked against the block before it is
/// read; on an inconsistency the walk stops, the rest of the block is
/// skipped and counted (nr_capture_stats.malformed) and NR_E_MALFORMED is
/// returned.
///
/// Returns NR_OK (all packets visited); NR_STOPPED (the callback returned
/// non-zero); NR_E_MALFORMED; NR_E_BAD_BATCH (released batch, or called
/// from inside its own callback); NR_E_INVALID_ARG (NULL batch or cb). The
/// batch may be iterated more than once before it is released; the walk
/// always starts at the first packet and does not move nr_batch_fill()'s
/// position.
#[unsafe(no_mangle)]
pub unsafe extern "C-unwind" fn nr_batch_for_each(
    batch: *mut nr_batch,
    cb: nr_packet_cb,
    user: *mut c_void,
) -> c_int {
    boundary(|| {
        let b = live_batch(batch)?;
        let Some(cb) = cb else {
            return Err(null_arg("cb"));
        };
        b.state = State::Iterating;
        let owner = b.owner;
        // Live again when the walk ends, or when a pthread cancellation in
        // the callback unwinds through here (the batch can then be
        // released, by the thread's cleanup handler say).
        let _live_again = LiveAgain(batch);
        let mut cursor = Cursor::START;
        let r = with_engine!(owner, e => e.walk_held(&mut cursor, |p| {
            let pkt = nr_packet::from(p);
            // SAFETY: the user's callback with its own user pointer and a
            // packet on our stack for the call.
            unsafe { cb(user, &pkt) == 0 }
        }));
        match r? {
            Walk::Done => Ok(NR_OK),
            Walk::Stopped => Ok(NR_STOPPED),
        }
    })
}

/// The live batch's held TPACKET_V3 block (start, length, first record,
/// packet count), when it is one: what nr_batch_iter() hands to the
/// header's inline walk.
pub(crate) fn live_raw_block(
    batch: *mut nr_batch,
) -> Result<Option<(*const u8, usize, u32, u32)>, Error> {
    let b = live_batch(batch)?;
    Ok(with_engine!(b.owner, e => e.held_raw_block().map(|r| {
        (r.bytes.as_ptr(), r.bytes.len(), r.first, r.num_pkts)
    })))
}

/// One packet of the live batch from `cursor` on (None at the end), and
/// the malformed block found right after it, if any (the walk is then
/// done; the engine counted it).
pub(crate) fn live_step(
    batch: *mut nr_batch,
    cursor: &mut Cursor,
) -> Result<(Option<nr_packet>, Option<Error>), Error> {
    let b = live_batch(batch)?;
    let mut got = None;
    let r = with_engine!(b.owner, e => e.walk_held(cursor, |p| {
        got = Some(nr_packet::from(p));
        false
    }));
    Ok((got, r.err()))
}

/// Marks an iterated batch live again when dropped; through the pointer
/// again: the callback may have looked at the batch (nr_batch_len()),
/// which the borrow taken before the walk must not outlive.
struct LiveAgain(*mut nr_batch);

impl Drop for LiveAgain {
    fn drop(&mut self) {
        if let Some(b) = batch_arg(self.0) {
            b.state = State::Live;
        }
    }
}

/// The array accessor: copy the descriptors of the batch's next packets
/// into the caller's array `pkts[0 .. max)` and set `*count` to how many
/// were written. Call it until `*count` is 0 to walk the whole batch in
/// chunks: a position inside the batch remembers where the previous call
/// stopped (it starts at the first packet each time a batch is obtained;
/// nr_batch_rewind() moves it back there). This is the cheapest way to
/// walk a batch (no call per packet): what bindings use.
///
/// Only the nr_packet descriptors are copied: their `data` pointers still
/// point into the ring (zero copy) and stay valid until nr_batch_release().
///
/// Returns NR_OK (`*count` packets written, 0 at the end of the batch);
/// NR_E_MALFORMED (the ring block is inconsistent: every packet before the
/// fault was already handed out by this or an earlier call, the rest of the
/// block is skipped and counted in nr_capture_stats.malformed; `*count` is
/// not written); NR_E_BAD_BATCH (released batch, or called from inside a
/// nr_batch_for_each() callback); NR_E_INVALID_ARG (NULL batch, pkts or
/// count, or max 0).
#[unsafe(no_mangle)]
pub unsafe extern "C-unwind" fn nr_batch_fill(
    batch: *mut nr_batch,
    pkts: *mut nr_packet,
    max: usize,
    count: *mut usize,
) -> c_int {
    boundary(|| {
        let b = live_batch(batch)?;
        if max == 0 {
            return Err(Error::invalid_arg("max is 0: pass the capacity of pkts"));
        }
        let pkts = out_slice(pkts, max, "pkts")?;
        let count = Out::new(count, "count")?;
        if let Some(e) = b.pending.take() {
            return Err(e);
        }
        let mut n = 0usize;
        let mut cursor = b.cursor;
        let r = with_engine!(b.owner, e => e.walk_held(&mut cursor, |p| {
            pkts[n].write(nr_packet::from(p));
            n += 1;
            n < max
        }));
        b.cursor = cursor;
        match r {
            Ok(_) => {}
            Err(e) if n > 0 => b.pending = Some(e),
            Err(e) => return Err(e),
        }
        count.set(n);
        Ok(NR_OK)
    })
}

/// Move nr_batch_fill()'s position back to the batch's first packet.
///
/// Returns NR_OK; NR_E_BAD_BATCH (released batch); NR_E_INVALID_ARG (NULL).
#[unsafe(no_mangle)]
pub unsafe extern "C-unwind" fn nr_batch_rewind(batch: *mut nr_batch) -> c_int {
    boundary(|| {
        let b = live_batch(batch)?;
        b.cursor = Cursor::START;
        b.pending = None;
        Ok(NR_OK)
    })
}

/// Give the batch's memory back (to the kernel, the AF_XDP fill ring, the
/// file buffer). The batch and every packet pointer from it are invalid
/// afterwards; the nr_batch pointer itself may be handed out again by the
/// next nr_*_next_batch() call of the same handle.
///
/// Returns NR_OK; NR_E_BAD_BATCH (already released: double release is
/// detected, or called from inside the batch's own callback);
/// NR_E_INVALID_ARG (NULL).
#[unsafe(no_mangle)]
pub unsafe extern "C-unwind" fn nr_batch_release(batch: *mut nr_batch) -> c_int {
    boundary(|| {
        let b = live_batch(batch)?;
        b.state = State::Idle;
        with_engine!(b.owner, e => e.release_held())?;
        Ok(NR_OK)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capi::{NR_E_BAD_BATCH, NR_E_INVALID_ARG};
    use crate::fixtures::synth;

    unsafe extern "C-unwind" fn count(user: *mut c_void, pkt: *const nr_packet) -> c_int {
        // SAFETY: the test passes a &mut Vec<Vec<u8>> as user; pkt is valid.
        unsafe {
            let v = &mut *(user as *mut Vec<Vec<u8>>);
            v.push(std::slice::from_raw_parts((*pkt).data, (*pkt).caplen as usize).to_vec());
            if v.len() == 2 && (*pkt).caplen == 1 {
                1
            } else {
                0
            }
        }
    }

    /// A live batch over a synthetic block; free it with [`free`].
    fn fake_batch(sb: &mut SyntheticBlock<'_>) -> *mut nr_batch {
        let b = new(Owner::Synthetic(
            (sb as *mut SyntheticBlock<'_>).cast::<SyntheticBlock<'static>>(),
        ));
        // SAFETY: a fresh batch whose engine holds a batch.
        unsafe { arm(b) };
        b
    }

    #[test]
    fn for_each_visits_every_packet_and_stops_on_request() {
        let frames: [&[u8]; 3] = [&[1; 60], &[2; 1514], &[3; 61]];
        let mut w = synth::block(8192, 5, &frames);
        let mut sb = SyntheticBlock::new(synth::bytes(&mut w));
        let b = fake_batch(&mut sb);
        let mut seen: Vec<Vec<u8>> = Vec::new();
        // SAFETY: b is a live fake batch; count() gets a Vec as user data.
        let rc =
            unsafe { nr_batch_for_each(b, Some(count), (&mut seen as *mut Vec<Vec<u8>>).cast()) };
        assert_eq!(rc, NR_OK);
        assert_eq!(seen, frames.iter().map(|f| f.to_vec()).collect::<Vec<_>>());
        // SAFETY: b is live.
        unsafe {
            assert_eq!(nr_batch_len(b), 3);
            assert_eq!(nr_batch_seq(b), 5);
            free(b);
        }
        let frames: [&[u8]; 3] = [&[1; 60], &[2; 1], &[3; 61]];
        let mut w = synth::block(8192, 5, &frames);
        let mut sb = SyntheticBlock::new(synth::bytes(&mut w));
        let b = fake_batch(&mut sb);
        let mut seen: Vec<Vec<u8>> = Vec::new();
        // SAFETY: as above.
        let rc =
            unsafe { nr_batch_for_each(b, Some(count), (&mut seen as *mut Vec<Vec<u8>>).cast()) };
        assert_eq!(rc, NR_STOPPED);
        assert_eq!(seen.len(), 2);
        // SAFETY: b came from new().
        unsafe { free(b) };
    }

    #[test]
    fn fill_hands_out_every_packet_in_chunks_then_zero() {
        let frames: Vec<Vec<u8>> = (0..7u8).map(|i| vec![i; 60 + i as usize]).collect();
        let refs: Vec<&[u8]> = frames.iter().map(|f| f.as_slice()).collect();
        let mut w = synth::block(16384, 9, &refs);
        let mut sb = SyntheticBlock::new(synth::bytes(&mut w));
        let b = fake_batch(&mut sb);
        let mut arr = [nr_packet::EMPTY; 3];
        for round in 0..2 {
            let mut got: Vec<Vec<u8>> = Vec::new();
            let mut chunks = Vec::new();
            loop {
                let mut n = usize::MAX;
                // SAFETY: a live batch, an array of 3 and a count.
                let rc = unsafe { nr_batch_fill(b, arr.as_mut_ptr(), arr.len(), &mut n) };
                assert_eq!(rc, NR_OK);
                chunks.push(n);
                if n == 0 {
                    break;
                }
                for p in &arr[..n] {
                    // SAFETY: data/caplen describe the synthetic block.
                    got.push(
                        unsafe { std::slice::from_raw_parts(p.data, p.caplen as usize) }.to_vec(),
                    );
                }
            }
            assert_eq!(chunks, [3, 3, 1, 0], "round {round}");
            assert_eq!(got, frames);
            // SAFETY: live batch.
            assert_eq!(unsafe { nr_batch_rewind(b) }, NR_OK);
        }
        // SAFETY: invalid arguments are refused before any write.
        unsafe {
            let mut n = 0;
            assert_eq!(
                nr_batch_fill(b, arr.as_mut_ptr(), 0, &mut n),
                NR_E_INVALID_ARG
            );
            assert_eq!(
                nr_batch_fill(b, ptr::null_mut(), 3, &mut n),
                NR_E_INVALID_ARG
            );
            assert_eq!(
                nr_batch_fill(b, arr.as_mut_ptr(), 3, ptr::null_mut()),
                NR_E_INVALID_ARG
            );
            assert_eq!(nr_batch_release(b), NR_OK);
            assert_eq!(
                nr_batch_fill(b, arr.as_mut_ptr(), 3, &mut n),
                NR_E_BAD_BATCH
            );
            free(b);
        }
    }

    #[test]
    fn fill_delivers_the_packets_before_a_malformed_one_then_fails() {
        let frames: [&[u8]; 3] = [&[1; 60], &[2; 60], &[3; 60]];
        let mut w = synth::block(8192, 1, &frames);
        let bytes = synth::bytes(&mut w);
        // Corrupt the second packet's tp_mac (offset 24 in its header) so
        // it points into its own header.
        let first = crate::afpacket::block::block_header(bytes).unwrap().first as usize;
        let next = u32::from_ne_bytes(bytes[first..first + 4].try_into().unwrap()) as usize;
        bytes[first + next + 24..first + next + 26].copy_from_slice(&4u16.to_ne_bytes());
        let mut sb = SyntheticBlock::new(bytes);
        let b = fake_batch(&mut sb);
        let mut arr = [nr_packet::EMPTY; 8];
        let mut n = 0;
        // SAFETY: a live batch, an array of 8 and a count.
        unsafe {
            assert_eq!(nr_batch_fill(b, arr.as_mut_ptr(), 8, &mut n), NR_OK);
            assert_eq!(n, 1);
            assert_eq!(
                nr_batch_fill(b, arr.as_mut_ptr(), 8, &mut n),
                crate::capi::NR_E_MALFORMED
            );
            free(b);
        }
        assert_eq!(sb.malformed, 1, "counted once");
    }

    #[test]
    fn c_flag_constants_match_packet_flags() {
        use crate::packet::PacketFlags as F;
        assert_eq!(NR_PACKET_FLAG_VLAN_VALID, F::VLAN_VALID.bits());
        assert_eq!(NR_PACKET_FLAG_VLAN_TPID_VALID, F::VLAN_TPID_VALID.bits());
        assert_eq!(NR_PACKET_FLAG_TRUNCATED, F::TRUNCATED.bits());
        assert_eq!(NR_PACKET_FLAG_LOSING, F::LOSING.bits());
        assert_eq!(NR_PACKET_FLAG_CSUM_NOT_READY, F::CSUM_NOT_READY.bits());
        assert_eq!(NR_PACKET_FLAG_CSUM_VALID, F::CSUM_VALID.bits());
        assert_eq!(NR_PACKET_FLAG_TS_SOFTWARE, F::TS_SOFTWARE.bits());
        assert_eq!(NR_PACKET_FLAG_TS_SYS_HARDWARE, F::TS_SYS_HARDWARE.bits());
        assert_eq!(NR_PACKET_FLAG_TS_RAW_HARDWARE, F::TS_RAW_HARDWARE.bits());
    }

    #[test]
    fn released_batches_are_refused() {
        let mut w = synth::block(4096, 1, &[&[0; 60]]);
        let mut sb = SyntheticBlock::new(synth::bytes(&mut w));
        let b = fake_batch(&mut sb);
        // SAFETY: b is a fake batch, released here.
        unsafe {
            assert_eq!(nr_batch_release(b), NR_OK);
            assert_eq!(
                nr_batch_for_each(b, Some(count), ptr::null_mut()),
                NR_E_BAD_BATCH
            );
            assert_eq!(nr_batch_release(b), NR_E_BAD_BATCH);
            assert_eq!(nr_batch_len(b), 0);
            assert_eq!(nr_batch_release(ptr::null_mut()), NR_E_INVALID_ARG);
            free(b);
        }
    }

    fn packets_of_iter(it: &mut crate::capi::iter::nr_iter) -> (Vec<Vec<u8>>, c_int) {
        use crate::capi::iter::nr_iter_next_slow;
        let mut got = Vec::new();
        loop {
            let mut p = nr_packet::EMPTY;
            // SAFETY: an iterator from nr_batch_iter() and a packet.
            let rc = unsafe { nr_iter_next_slow(it, &mut p) };
            if rc != NR_OK {
                return (got, rc);
            }
            // SAFETY: data/caplen describe the synthetic block.
            got.push(unsafe { std::slice::from_raw_parts(p.data, p.caplen as usize) }.to_vec());
        }
    }

    #[test]
    fn iter_hands_out_the_packets_fill_does_and_resumes_where_the_inline_walk_left() {
        use crate::capi::iter::{nr_batch_iter, nr_iter_next_slow};
        let frames: [&[u8]; 3] = [&[1; 60], &[2; 1514], &[3; 61]];
        let mut w = synth::block(8192, 5, &frames);
        let mut sb = SyntheticBlock::new(synth::bytes(&mut w));
        let b = fake_batch(&mut sb);
        // SAFETY: a live batch.
        let mut it = unsafe { nr_batch_iter(b) };
        assert!(!it.block.is_null() && it.left == 3 && it.pending == 0);
        let mut arr = [nr_packet::EMPTY; 3];
        let mut n = 0;
        // SAFETY: a live batch, an array of 3 and a count.
        assert_eq!(
            unsafe { nr_batch_fill(b, arr.as_mut_ptr(), 3, &mut n) },
            NR_OK
        );
        // Field for field what nr_batch_fill() gives.
        let mut p = nr_packet::EMPTY;
        // SAFETY: as above.
        assert_eq!(unsafe { nr_iter_next_slow(&mut it, &mut p) }, NR_OK);
        assert_eq!(format!("{p:?}"), format!("{:?}", arr[0]));
        let (rest, rc) = packets_of_iter(&mut it);
        assert_eq!(rc, crate::capi::NR_EOF);
        assert_eq!(rest, [frames[1].to_vec(), frames[2].to_vec()]);
        // The inline walk's hand-over after one packet: the second record,
        // two packets left.
        // SAFETY: a live batch.
        let mut it = unsafe { nr_batch_iter(b) };
        // SAFETY: the block's first record header is inside the block.
        let next = unsafe { (it.block.add(it.off) as *const u32).read_unaligned() } as usize;
        (it.off, it.left) = (it.off + next, 2);
        let (rest, rc) = packets_of_iter(&mut it);
        assert_eq!(rc, crate::capi::NR_EOF);
        assert_eq!(rest, [frames[1].to_vec(), frames[2].to_vec()]);
        // SAFETY: b came from new().
        unsafe { free(b) };
    }

    #[test]
    fn iter_reports_a_malformed_block_after_its_good_packets_once() {
        use crate::capi::NR_E_MALFORMED;
        use crate::capi::iter::nr_batch_iter;
        let frames: [&[u8]; 3] = [&[1; 60], &[2; 60], &[3; 60]];
        // The second packet's tp_mac into its own header; then the first
        // one's tp_next_offset 0 although packets follow.
        for (field, value) in [(24usize, 4u32), (0, 0)] {
            let mut w = synth::block(8192, 1, &frames);
            let bytes = synth::bytes(&mut w);
            let first = crate::afpacket::block::block_header(bytes).unwrap().first as usize;
            let next = u32::from_ne_bytes(bytes[first..first + 4].try_into().unwrap()) as usize;
            let at = if field == 24 {
                first + next + 24
            } else {
                first
            };
            if field == 24 {
                bytes[at..at + 2].copy_from_slice(&(value as u16).to_ne_bytes());
            } else {
                bytes[at..at + 4].copy_from_slice(&value.to_ne_bytes());
            }
            let mut sb = SyntheticBlock::new(bytes);
            let b = fake_batch(&mut sb);
            // SAFETY: a live batch.
            let mut it = unsafe { nr_batch_iter(b) };
            let (got, rc) = packets_of_iter(&mut it);
            assert_eq!((got.len(), rc), (1, NR_E_MALFORMED), "field {field}");
            let (got, rc) = packets_of_iter(&mut it);
            assert_eq!((got.len(), rc), (0, crate::capi::NR_EOF), "field {field}");
            // SAFETY: b came from new().
            unsafe { free(b) };
            assert_eq!(sb.malformed, 1, "field {field}: counted once");
        }
    }

    #[test]
    fn iter_of_a_released_or_null_batch_fails_at_its_first_call() {
        use crate::capi::iter::{nr_batch_iter, nr_iter_next_slow};
        let mut w = synth::block(4096, 1, &[&[0; 60]]);
        let mut sb = SyntheticBlock::new(synth::bytes(&mut w));
        let b = fake_batch(&mut sb);
        let mut p = nr_packet::EMPTY;
        // SAFETY: b is a fake batch, released here; NULL is refused.
        unsafe {
            assert_eq!(nr_batch_release(b), NR_OK);
            let mut it = nr_batch_iter(b);
            assert_eq!(nr_iter_next_slow(&mut it, &mut p), NR_E_BAD_BATCH);
            let mut it = nr_batch_iter(ptr::null_mut());
            assert_eq!(nr_iter_next_slow(&mut it, &mut p), NR_E_INVALID_ARG);
            assert_eq!(nr_iter_next_slow(ptr::null_mut(), &mut p), NR_E_INVALID_ARG);
            free(b);
        }
    }
}
