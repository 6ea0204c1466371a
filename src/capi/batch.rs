//! `nr_batch` and `nr_packet`: the batch and packet types every engine
//! hands out, and the callback iteration.

use std::ffi::{c_int, c_void};
use std::ptr;

use super::capture::nr_capture;
use super::xdp::nr_xdp;
use super::{NR_E_BAD_BATCH, NR_OK, NR_STOPPED, boundary, guard, null_arg};
use crate::afpacket::block::{BlockHeader, PacketIter};
use crate::error::{Error, ErrorKind};
use crate::packet::Packet;

/// nr_packet.flags: vlan_tci is valid (the kernel stripped an 802.1Q tag).
pub const NR_PKT_VLAN_VALID: u32 = 1 << 4;
/// nr_packet.flags: vlan_tpid is valid.
pub const NR_PKT_VLAN_TPID_VALID: u32 = 1 << 6;
/// nr_packet.flags: caplen < len (cut by the snap length).
pub const NR_PKT_TRUNCATED: u32 = 1 << 16;
/// nr_packet.flags: the kernel dropped packets around this one.
pub const NR_PKT_LOSING: u32 = 1 << 2;
/// nr_packet.flags: checksum not computed yet (outgoing, offloaded).
pub const NR_PKT_CSUM_NOT_READY: u32 = 1 << 3;
/// nr_packet.flags: checksum verified by the device or the stack.
pub const NR_PKT_CSUM_VALID: u32 = 1 << 7;
/// nr_packet.flags: ts_ns is a software timestamp.
pub const NR_PKT_TS_SOFTWARE: u32 = 0x2000_0000;
/// nr_packet.flags: ts_ns is a hardware timestamp in system time.
pub const NR_PKT_TS_SYS_HARDWARE: u32 = 0x4000_0000;
/// nr_packet.flags: ts_ns is a raw hardware timestamp.
pub const NR_PKT_TS_RAW_HARDWARE: u32 = 0x8000_0000;

/// nr_packet.pkt_type: addressed to this host.
pub const NR_PACKET_HOST: u8 = 0;
/// nr_packet.pkt_type: broadcast.
pub const NR_PACKET_BROADCAST: u8 = 1;
/// nr_packet.pkt_type: multicast.
pub const NR_PACKET_MULTICAST: u8 = 2;
/// nr_packet.pkt_type: addressed to another host (promiscuous/mirror).
pub const NR_PACKET_OTHERHOST: u8 = 3;
/// nr_packet.pkt_type: sent by this host.
pub const NR_PACKET_OUTGOING: u8 = 4;

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
    /// Timestamp, nanoseconds since the Unix epoch (source: flags NR_PKT_TS_*).
    pub ts_ns: u64,
    /// Interface index the packet was seen on.
    pub ifindex: i32,
    /// Receive hash; 0 unless nr_capture_config.fill_rxhash.
    pub rxhash: u32,
    /// NR_PKT_* flags.
    pub flags: u32,
    /// VLAN TCI, valid if flags has NR_PKT_VLAN_VALID.
    pub vlan_tci: u16,
    /// VLAN TPID, valid if flags has NR_PKT_VLAN_TPID_VALID.
    pub vlan_tpid: u16,
    /// EtherType (link-layer protocol) in host byte order.
    pub protocol: u16,
    /// NR_PACKET_* direction/type.
    pub pkt_type: u8,
}

impl nr_packet {
    pub(crate) const EMPTY: nr_packet = nr_packet {
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
/// to stop (nr_batch_for_each() then returns NR_STOPPED). `pkt` and its data
/// are valid only during the call (copy what you keep). The callback must
/// not release the batch or close the handle.
pub type nr_packet_cb =
    Option<unsafe extern "C" fn(user: *mut c_void, pkt: *const nr_packet) -> c_int>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Idle,
    Live,
    Iterating,
}

#[derive(Debug, Clone, Copy)]
enum Owner {
    Capture(*const nr_capture),
    Reader(*const super::pcapfile::nr_reader),
    Xdp(*const nr_xdp),
}

/// A batch of packets held from the ring (opaque). Obtained from
/// nr_next_batch() or nr_xdp_next_batch(); owned by its handle (never free
/// it); live until nr_batch_release(). The same type serves every engine:
/// nr_batch_for_each() callbacks see the same nr_packet either way.
pub struct nr_batch {
    owner: Owner,
    state: State,
    ptr: *const u8,
    len: usize,
    hdr: BlockHeader,
}

pub(crate) fn new_for_capture(owner: *const nr_capture) -> *mut nr_batch {
    new_batch(Owner::Capture(owner))
}

pub(crate) fn new_for_xdp(owner: *const nr_xdp) -> *mut nr_batch {
    new_batch(Owner::Xdp(owner))
}

fn new_batch(owner: Owner) -> *mut nr_batch {
    Box::into_raw(Box::new(nr_batch {
        owner,
        state: State::Idle,
        ptr: ptr::null(),
        len: 0,
        hdr: BlockHeader {
            num_pkts: 0,
            first: 0,
            seq: 0,
        },
    }))
}

pub(crate) fn new_for_reader(owner: *const super::pcapfile::nr_reader) -> *mut nr_batch {
    let b = new_for_capture(ptr::null());
    // SAFETY: b is a fresh, exclusive allocation.
    unsafe { (*b).owner = Owner::Reader(owner) };
    b
}

/// Visit every packet of a live batch with `f` (for consumers inside the
/// library, such as the file writer), stopping at f's first error. A
/// malformed ring block is reported like nr_batch_for_each() does.
///
/// # Safety
/// `batch` is NULL or a batch pointer from this library.
pub(crate) unsafe fn visit(
    batch: *mut nr_batch,
    mut f: impl FnMut(&Packet<'_>) -> Result<(), Error>,
) -> Result<(), Error> {
    // SAFETY: contract: a batch pointer from this library.
    let b = unsafe { live_batch(batch) }?;
    match b.owner {
        Owner::Reader(r) => {
            // SAFETY: the reader outlives its held batch.
            for p in unsafe { super::pcapfile::reader_batch(r) }.iter() {
                f(&p)?;
            }
            Ok(())
        }
        Owner::Xdp(x) => {
            let mut result = Ok(());
            // SAFETY: the owner handle outlives its batch; one thread at a time.
            unsafe { (*x).inner() }.xdp.for_each_held(|p| {
                result = f(p);
                result.is_ok()
            });
            result
        }
        Owner::Capture(c) => {
            // SAFETY: the block is held (state Live) and stays mapped.
            let block = unsafe { std::slice::from_raw_parts(b.ptr, b.len) };
            let mut it = PacketIter::new(block);
            for p in it.by_ref() {
                f(&p)?;
            }
            if let Some(m) = it.error() {
                // SAFETY: the owner handle outlives its batch.
                unsafe { (*c).inner() }.cap.report_malformed(m);
                return Err(Error::new(
                    ErrorKind::Malformed,
                    format!("ring block rejected: {m}; rest of the block skipped"),
                ));
            }
            Ok(())
        }
    }
}

/// # Safety
/// `b` came from `new_for_capture`/`new_for_xdp` and is freed only here, once.
pub(crate) unsafe fn free(b: *mut nr_batch) {
    if !b.is_null() {
        // SAFETY: per the contract, b is a live Box allocation.
        drop(unsafe { Box::from_raw(b) });
    }
}

/// # Safety
/// `b` is a live batch allocation.
pub(crate) unsafe fn is_live(b: *const nr_batch) -> bool {
    // SAFETY: per the contract.
    unsafe { (*b).state != State::Idle }
}

/// # Safety
/// `b` is a live batch allocation; the block at ptr/len is held.
pub(crate) unsafe fn arm(b: *mut nr_batch, ptr: *const u8, len: usize, hdr: BlockHeader) {
    // SAFETY: per the contract; no other reference to *b is alive.
    unsafe {
        (*b).state = State::Live;
        (*b).ptr = ptr;
        (*b).len = len;
        (*b).hdr = hdr;
    }
}

pub(crate) fn busy() -> Error {
    Error::new(
        ErrorKind::Busy,
        "a batch is still held: call nr_batch_release() before asking for the next one",
    )
}

/// # Safety
/// `b` is NULL or a batch pointer obtained from this library.
unsafe fn live_batch<'a>(b: *mut nr_batch) -> Result<&'a mut nr_batch, Error> {
    if b.is_null() {
        return Err(null_arg("batch"));
    }
    // SAFETY: per the contract the allocation is live (it lives as long as
    // its handle).
    let r = unsafe { &mut *b };
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

/// Number of packets in the batch (0 for NULL or a released batch).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nr_batch_len(batch: *const nr_batch) -> usize {
    guard(0, || {
        if batch.is_null() {
            return 0;
        }
        // SAFETY: non-NULL batch pointers from this library stay allocated
        // while their handle is open.
        let b = unsafe { &*batch };
        if b.state == State::Idle {
            0
        } else {
            b.hdr.num_pkts as usize
        }
    })
}

/// The kernel's sequence number of the batch's ring block (increases by one
/// per block; 0 for NULL or a released batch). For an AF_XDP batch: the
/// handle's batch counter (1 for the first batch, then +1 per batch).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nr_batch_seq(batch: *const nr_batch) -> u64 {
    guard(0, || {
        if batch.is_null() {
            return 0;
        }
        // SAFETY: as in nr_batch_len.
        let b = unsafe { &*batch };
        if b.state == State::Idle { 0 } else { b.hdr.seq }
    })
}

/// Call `cb(user, pkt)` for each packet of the batch, in arrival order. No
/// copy and no allocation: each nr_packet describes ring memory.
///
/// Every offset the kernel wrote is checked against the block before it is
/// read; on an inconsistency the walk stops, the rest of the block is
/// skipped and counted (nr_stats.malformed) and NR_E_MALFORMED is returned.
///
/// Returns NR_OK (all packets visited); NR_STOPPED (the callback returned
/// non-zero); NR_E_MALFORMED; NR_E_BAD_BATCH (released batch, or called
/// from inside its own callback); NR_E_INVALID_ARG (NULL batch or cb). The
/// batch may be iterated more than once before it is released.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nr_batch_for_each(
    batch: *mut nr_batch,
    cb: nr_packet_cb,
    user: *mut c_void,
) -> c_int {
    boundary(|| {
        // SAFETY: contract: a batch pointer from this library.
        let b = unsafe { live_batch(batch) }?;
        let Some(cb) = cb else {
            return Err(null_arg("cb"));
        };
        if let Owner::Reader(r) = b.owner {
            b.state = State::Iterating;
            let mut rc = NR_OK;
            // SAFETY: the reader outlives its held batch.
            for p in unsafe { super::pcapfile::reader_batch(r) }.iter() {
                let pkt = nr_packet::from(&p);
                // SAFETY: the user's callback with its own user pointer and
                // a packet on our stack.
                if unsafe { cb(user, &pkt) } != 0 {
                    rc = NR_STOPPED;
                    break;
                }
            }
            // SAFETY: batch is still allocated (the callback cannot free it).
            unsafe { (*batch).state = State::Live };
            return Ok(rc);
        }
        if let Owner::Xdp(x) = b.owner {
            b.state = State::Iterating;
            let mut rc = NR_OK;
            // SAFETY: the owner handle outlives its batch; one thread at a
            // time, and the callback must not call into the handle.
            let inner = unsafe { (*x).inner() };
            inner.xdp.for_each_held(|p| {
                let pkt = nr_packet::from(p);
                // SAFETY: the user's callback with its own user pointer and
                // a packet on our stack for the call.
                if unsafe { cb(user, &pkt) } != 0 {
                    rc = NR_STOPPED;
                    return false;
                }
                true
            });
            // SAFETY: batch is still allocated (the callback cannot free it).
            unsafe { (*batch).state = State::Live };
            return Ok(rc);
        }
        // SAFETY: the block is held (state Live) and stays mapped until the
        // handle closes, which the callback must not do.
        let block = unsafe { std::slice::from_raw_parts(b.ptr, b.len) };
        b.state = State::Iterating;
        let owner = b.owner;
        let mut it = PacketIter::new(block);
        let mut rc = NR_OK;
        for p in it.by_ref() {
            let pkt = nr_packet::from(&p);
            // SAFETY: calling the user's callback with its own user pointer
            // and a packet that lives on our stack for the call.
            if unsafe { cb(user, &pkt) } != 0 {
                rc = NR_STOPPED;
                break;
            }
        }
        // SAFETY: batch is still allocated (the callback cannot free it).
        unsafe { (*batch).state = State::Live };
        if rc == NR_OK {
            if let Some(m) = it.error() {
                match owner {
                    // SAFETY: the owner handle outlives its batch.
                    Owner::Capture(c) => unsafe { (*c).inner() }.cap.report_malformed(m),
                    Owner::Reader(_) => {}
                    Owner::Xdp(_) => {}
                }
                return Err(Error::new(
                    ErrorKind::Malformed,
                    format!("ring block rejected: {m}; rest of the block skipped"),
                ));
            }
        }
        Ok(rc)
    })
}

/// Give the batch's memory back to the kernel. The batch and every packet
/// pointer from it are invalid afterwards.
///
/// Returns NR_OK; NR_E_BAD_BATCH (already released: double release is
/// detected, or called from inside the batch's own callback);
/// NR_E_INVALID_ARG (NULL).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nr_batch_release(batch: *mut nr_batch) -> c_int {
    boundary(|| {
        // SAFETY: contract: a batch pointer from this library.
        let b = unsafe { live_batch(batch) }?;
        b.state = State::Idle;
        let owner = b.owner;
        match owner {
            // SAFETY: the owner handle outlives its batch; one thread at a time.
            Owner::Capture(c) => unsafe { (*c).inner() }.cap.release_batch()?,
            // The reader reads on only when asked for the next batch.
            Owner::Reader(_) => {}
            // SAFETY: as above.
            Owner::Xdp(x) => unsafe { (*x).inner() }.xdp.release_batch()?,
        }
        Ok(NR_OK)
    })
}

#[allow(dead_code)]
const _: c_int = NR_E_BAD_BATCH;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::afpacket::block::synth;

    unsafe extern "C" fn count(user: *mut c_void, pkt: *const nr_packet) -> c_int {
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

    fn fake_batch(words: &mut [u64]) -> nr_batch {
        let bytes = synth::bytes(words);
        nr_batch {
            owner: Owner::Capture(ptr::null()),
            state: State::Live,
            ptr: bytes.as_ptr(),
            len: bytes.len(),
            hdr: crate::afpacket::block::block_header(bytes).unwrap(),
        }
    }

    #[test]
    fn for_each_visits_every_packet_and_stops_on_request() {
        let frames: [&[u8]; 3] = [&[1; 60], &[2; 1514], &[3; 61]];
        let mut w = synth::block(8192, 5, &frames);
        let mut b = fake_batch(&mut w);
        let mut seen: Vec<Vec<u8>> = Vec::new();
        // SAFETY: b is a live fake batch; count() gets a Vec as user data.
        let rc = unsafe {
            nr_batch_for_each(&mut b, Some(count), (&mut seen as *mut Vec<Vec<u8>>).cast())
        };
        assert_eq!(rc, NR_OK);
        assert_eq!(seen, frames.iter().map(|f| f.to_vec()).collect::<Vec<_>>());
        // SAFETY: b is live.
        unsafe {
            assert_eq!(nr_batch_len(&b), 3);
            assert_eq!(nr_batch_seq(&b), 5);
        }
        let frames: [&[u8]; 3] = [&[1; 60], &[2; 1], &[3; 61]];
        let mut w = synth::block(8192, 5, &frames);
        let mut b = fake_batch(&mut w);
        let mut seen: Vec<Vec<u8>> = Vec::new();
        // SAFETY: as above.
        let rc = unsafe {
            nr_batch_for_each(&mut b, Some(count), (&mut seen as *mut Vec<Vec<u8>>).cast())
        };
        assert_eq!(rc, NR_STOPPED);
        assert_eq!(seen.len(), 2);
    }

    #[test]
    fn c_flag_constants_match_packet_flags() {
        use crate::packet::PacketFlags as F;
        assert_eq!(NR_PKT_VLAN_VALID, F::VLAN_VALID.bits());
        assert_eq!(NR_PKT_VLAN_TPID_VALID, F::VLAN_TPID_VALID.bits());
        assert_eq!(NR_PKT_TRUNCATED, F::TRUNCATED.bits());
        assert_eq!(NR_PKT_LOSING, F::LOSING.bits());
        assert_eq!(NR_PKT_CSUM_NOT_READY, F::CSUM_NOT_READY.bits());
        assert_eq!(NR_PKT_CSUM_VALID, F::CSUM_VALID.bits());
        assert_eq!(NR_PKT_TS_SOFTWARE, F::TS_SOFTWARE.bits());
        assert_eq!(NR_PKT_TS_SYS_HARDWARE, F::TS_SYS_HARDWARE.bits());
        assert_eq!(NR_PKT_TS_RAW_HARDWARE, F::TS_RAW_HARDWARE.bits());
    }

    #[test]
    fn released_batches_are_refused() {
        let mut w = synth::block(4096, 1, &[&[0; 60]]);
        let mut b = fake_batch(&mut w);
        b.state = State::Idle;
        // SAFETY: b is a (released) fake batch.
        unsafe {
            assert_eq!(
                nr_batch_for_each(&mut b, Some(count), ptr::null_mut()),
                NR_E_BAD_BATCH
            );
            assert_eq!(nr_batch_release(&mut b), NR_E_BAD_BATCH);
            assert_eq!(nr_batch_len(&b), 0);
            assert_eq!(
                nr_batch_release(ptr::null_mut()),
                super::super::NR_E_INVALID_ARG
            );
        }
    }
}
