//! The TPACKET_V3 block walker.
//!
//! A block is handed to user space with `TP_STATUS_USER`; from then on the
//! kernel does not write to it until it is given back, so it is read here as
//! an ordinary byte slice. Nothing the kernel wrote is trusted: every header,
//! `tp_next_offset`, `tp_mac` and `tp_snaplen` is checked against the block
//! before a byte is read, and the first inconsistency stops the walk with a
//! [`Malformed`] reason. This module is pure logic over memory, so its tests
//! run on synthetic blocks without privileges (and under miri).

use crate::batch::{Cursor, Walk};
use crate::packet::{HwAddr, Packet, PacketFlags};
use crate::sys::tpacket::{self as tp, block_desc as bd, sll, v3_hdr as h};

/// Why a block was rejected. The packets before the fault were delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Malformed {
    /// The block is shorter than its own descriptor.
    ShortBlock,
    /// `offset_to_first_pkt` points into the descriptor or past the block.
    FirstOffset(u32),
    /// A packet header at this offset does not fit in the block.
    HeaderOutOfBounds(usize),
    /// `tp_mac` points into the packet's own header.
    MacOffset(usize),
    /// `tp_mac + tp_snaplen` runs past the end of the block.
    DataOutOfBounds(usize),
    /// `tp_next_offset` is 0 although `num_pkts` says more packets follow.
    EarlyEnd(usize),
    /// `tp_next_offset` would move backwards or overlap the current packet.
    NextOffset(usize),
}

impl core::fmt::Display for Malformed {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match *self {
            Malformed::ShortBlock => write!(f, "block shorter than its descriptor"),
            Malformed::FirstOffset(o) => write!(f, "offset_to_first_pkt {o} is outside the block"),
            Malformed::HeaderOutOfBounds(o) => {
                write!(f, "packet header at offset {o} runs past the block")
            }
            Malformed::MacOffset(o) => write!(
                f,
                "tp_mac of the packet at offset {o} points into its header"
            ),
            Malformed::DataOutOfBounds(o) => {
                write!(f, "data of the packet at offset {o} runs past the block")
            }
            Malformed::EarlyEnd(o) => write!(
                f,
                "tp_next_offset is 0 at offset {o} before num_pkts packets"
            ),
            Malformed::NextOffset(o) => {
                write!(f, "tp_next_offset of the packet at offset {o} overlaps it")
            }
        }
    }
}

#[inline(always)]
pub(crate) fn rd32(b: &[u8], off: usize) -> u32 {
    u32::from_ne_bytes([b[off], b[off + 1], b[off + 2], b[off + 3]])
}

#[inline(always)]
pub(crate) fn rd16(b: &[u8], off: usize) -> u16 {
    u16::from_ne_bytes([b[off], b[off + 1]])
}

/// The fields of a block descriptor that the walk needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BlockHeader {
    /// Number of packets in the block.
    pub num_pkts: u32,
    /// Offset of the first packet.
    pub first: u32,
    /// Kernel sequence number of the block.
    pub seq: u64,
}

/// Read and check a block descriptor.
pub fn block_header(block: &[u8]) -> Result<BlockHeader, Malformed> {
    if block.len() < bd::SIZE {
        return Err(Malformed::ShortBlock);
    }
    let num_pkts = rd32(block, bd::NUM_PKTS);
    let first = rd32(block, bd::OFFSET_TO_FIRST_PKT);
    let seq = u64::from_ne_bytes(
        block[bd::SEQ_NUM..bd::SEQ_NUM + 8]
            .try_into()
            .unwrap_or([0; 8]),
    );
    if num_pkts > 0 && ((first as usize) < bd::SIZE || first as usize >= block.len()) {
        return Err(Malformed::FirstOffset(first));
    }
    Ok(BlockHeader {
        num_pkts,
        first,
        seq,
    })
}

/// Iterator over the packets of one block; stops at the first inconsistency
/// and remembers it ([`PacketIter::error`]).
#[derive(Debug, Clone)]
pub struct PacketIter<'a> {
    block: &'a [u8],
    off: usize,
    remaining: u32,
    error: Option<Malformed>,
}

impl<'a> PacketIter<'a> {
    /// Walk `block` (a whole block, descriptor included).
    pub fn new(block: &'a [u8]) -> PacketIter<'a> {
        match block_header(block) {
            Ok(hdr) => PacketIter {
                block,
                off: hdr.first as usize,
                remaining: hdr.num_pkts,
                error: None,
            },
            Err(e) => PacketIter {
                block,
                off: 0,
                remaining: 0,
                error: Some(e),
            },
        }
    }

    /// Resume a walk at `off` with `remaining` packets left (for cursors kept
    /// across calls). The position is re-validated on the next step.
    pub fn resume(block: &'a [u8], off: usize, remaining: u32) -> PacketIter<'a> {
        PacketIter {
            block,
            off,
            remaining,
            error: None,
        }
    }

    /// The offset of the next packet and how many remain.
    pub fn position(&self) -> (usize, u32) {
        (self.off, self.remaining)
    }

    /// The reason the walk stopped early, if it did.
    pub fn error(&self) -> Option<Malformed> {
        self.error
    }

    #[cold]
    fn fail(&mut self, m: Malformed) -> Option<Packet<'a>> {
        self.error = Some(m);
        self.remaining = 0;
        None
    }
}

impl<'a> Iterator for PacketIter<'a> {
    type Item = Packet<'a>;

    // Always inlined: returned through memory, the Packet's fields are
    // stored one width and reloaded another in the caller, which stalls
    // store-to-load forwarding (measured: +10 ns/packet in
    // nr_batch_for_each; examples/micro.rs).
    #[inline(always)]
    fn next(&mut self) -> Option<Packet<'a>> {
        if self.remaining == 0 {
            return None;
        }
        let off = self.off;
        let block = self.block;
        let Some(hdr) = off
            .checked_add(h::HDRLEN)
            .and_then(|end| block.get(off..end))
        else {
            return self.fail(Malformed::HeaderOutOfBounds(off));
        };
        let mac = rd16(hdr, h::MAC) as usize;
        let snaplen = rd32(hdr, h::SNAPLEN) as usize;
        if mac < h::HDRLEN {
            return self.fail(Malformed::MacOffset(off));
        }
        let start = off + mac; // off + HDRLEN fit in usize, mac < 64 KiB
        let Some(data) = start
            .checked_add(snaplen)
            .and_then(|end| block.get(start..end))
        else {
            return self.fail(Malformed::DataOutOfBounds(off));
        };
        self.remaining -= 1;
        let next = rd32(hdr, h::NEXT_OFFSET) as usize;
        if self.remaining > 0 {
            if next == 0 {
                self.error = Some(Malformed::EarlyEnd(off));
                self.remaining = 0;
            } else if next < mac + snaplen {
                self.error = Some(Malformed::NextOffset(off));
                self.remaining = 0;
            } else {
                // Nothing prefetched ahead (see WALK_PREFETCH below).
                self.off = off + next;
            }
        }
        touch_line(data);
        Some(packet(
            hdr,
            &V3_FIELDS,
            data,
            rd32(hdr, h::RXHASH),
            rd32(hdr, h::VLAN_TCI) as u16,
        ))
    }
}

/// Where a TPACKET RX header (V2 or V3) keeps the fields a [`Packet`]
/// carries.
pub(crate) struct HdrFields {
    pub(crate) sec: usize,
    pub(crate) nsec: usize,
    pub(crate) len: usize,
    pub(crate) status: usize,
    pub(crate) vlan_tpid: usize,
    /// Where its `sockaddr_ll` starts.
    pub(crate) sll: usize,
}

const V3_FIELDS: HdrFields =
    HdrFields::of([h::SEC, h::NSEC, h::LEN, h::STATUS, h::VLAN_TPID, h::SLL]);

impl HdrFields {
    /// From the offsets of `sec`, `nsec`, `len`, `status`, `vlan_tpid`
    /// and the `sockaddr_ll`, in that order.
    pub(crate) const fn of(o: [usize; 6]) -> HdrFields {
        HdrFields {
            sec: o[0],
            nsec: o[1],
            len: o[2],
            status: o[3],
            vlan_tpid: o[4],
            sll: o[5],
        }
    }
}

/// The packet whose checked header is `hdr` (at least the header and its
/// `sockaddr_ll`) and whose checked data is `data`; the fields the header
/// versions keep differently come from the caller. Always inlined with a
/// constant `f`, so each walk reads fixed offsets.
#[inline(always)]
pub(crate) fn packet<'a>(
    hdr: &[u8],
    f: &HdrFields,
    data: &'a [u8],
    rxhash: u32,
    vlan_tci: u16,
) -> Packet<'a> {
    let caplen = data.len() as u32;
    let status = rd32(hdr, f.status);
    let wire_len = rd32(hdr, f.len);
    let a = f.sll + sll::ADDR;
    Packet {
        data,
        ts_ns: u64::from(rd32(hdr, f.sec)) * 1_000_000_000 + u64::from(rd32(hdr, f.nsec)),
        wire_len,
        ifindex: rd32(hdr, f.sll + sll::IFINDEX) as i32,
        rxhash,
        vlan_tci,
        vlan_tpid: rd16(hdr, f.vlan_tpid),
        protocol: u16::from_be(rd16(hdr, f.sll + sll::PROTOCOL)),
        pkt_type: hdr[f.sll + sll::PKTTYPE],
        flags: status_flags(status, caplen, wire_len),
        hw: HwAddr {
            hatype: rd16(hdr, f.sll + sll::HATYPE),
            len: hdr[f.sll + sll::HALEN],
            addr: [
                hdr[a],
                hdr[a + 1],
                hdr[a + 2],
                hdr[a + 3],
                hdr[a + 4],
                hdr[a + 5],
                hdr[a + 6],
                hdr[a + 7],
            ],
        },
    }
}

/// Walk a block whose descriptor was already read (`hdr`) from `cursor`
/// on: the one walk behind every TPACKET_V3 held batch. Calls `f` per
/// packet until it returns `false`; the cursor keeps the position. On a
/// malformed packet the walk stops (the cursor is done) and the reason is
/// returned; the caller counts it.
#[inline(always)]
pub fn walk_block<F>(
    block: &[u8],
    hdr: &BlockHeader,
    cursor: &mut Cursor,
    mut f: F,
) -> Result<Walk, Malformed>
where
    F: FnMut(&Packet<'_>) -> bool,
{
    if cursor.done {
        return Ok(Walk::Done);
    }
    if !cursor.begun {
        cursor.begun = true;
        cursor.pos = hdr.first as usize;
        cursor.left = hdr.num_pkts;
    }
    let mut it = PacketIter::resume(block, cursor.pos, cursor.left);
    while let Some(p) = it.next() {
        if !f(&p) {
            let (pos, left) = it.position();
            cursor.pos = pos;
            cursor.left = left;
            if left == 0 {
                cursor.done = true;
                if let Some(m) = it.error() {
                    return Err(m);
                }
            }
            return Ok(Walk::Stopped);
        }
    }
    cursor.done = true;
    cursor.left = 0;
    match it.error() {
        Some(m) => Err(m),
        None => Ok(Walk::Done),
    }
}

/// The error a walk returns for a malformed block.
#[cold]
pub fn malformed_error(m: Malformed) -> crate::error::Error {
    crate::error::Error::new(
        crate::error::ErrorKind::Malformed,
        format!("ring block rejected: {m}; rest of the block skipped"),
    )
}

/// A prefetch of the line where the packet's data starts, the line the
/// walk skips when records are small (see WALK_PREFETCH below).
#[inline(always)]
fn touch_line(data: &[u8]) {
    #[cfg(target_arch = "x86_64")]
    {
        use core::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        // SAFETY: a prefetch is a hint: it never faults and reads nothing
        // architecturally (the pointer is inside the block anyway); SSE is
        // baseline on x86_64.
        unsafe { _mm_prefetch::<_MM_HINT_T0>(data.as_ptr().cast()) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = data;
}

// WALK_PREFETCH: the one software prefetch of the walk, and why only it.
//
// One line: the first line of each packet's data, in the record being
// walked (touch_line; the header's inline iterator nr_iter_next() does the
// same). With small records the walk reads the header lines of each record
// and skips the line the frame starts on (60-byte frames: 144-byte
// records, the frame at +80), so the lines it demands are not a dense
// stream and the hardware's stream prefetcher does not follow them; a
// consumer that reads each frame's first byte (min_v3) makes them one.
// Measured on the 2-vCPU EPYC VM with the real ring, C consumers walking
// with netring's checks and counting (bench/run.sh -d 4 -r 3, 2026-12-07):
// at 60 B 1.77-1.97x min_v3 without touching the frame, 0.99-1.09x reading
// its first byte, 0.96-1.11x with this prefetch instead; at 1514 B all
// 0.91-1.00x. nrcap's callback walk at 60 B: 1.45-1.51x without, 1.15-1.20x
// with it (the rest is the call per packet, which nr_iter_next() avoids).
//
// Nothing ahead of the walk: a fixed distance is tuned to one core's
// latency and fill buffers. Measured the same way, prefetching 4 records
// ahead or 512 bytes ahead made 60 B slower (1.07-1.10x against 0.98x
// with the data line alone) and 1514 B slower (1.02-1.25x); an earlier
// version's three lines 512 bytes ahead, tuned on another machine, cost
// 29-33 % at 60 B in `micro --xcore` here. `make bench`'s frame-size sweep
// (60 to 9000 B, nrcap vs min_v3) checks the choice on each machine it
// runs on.

/// The `tp_status` bits that [`PacketFlags`] carries over unchanged.
pub const STATUS_FLAGS: u32 = tp::TP_STATUS_LOSING
    | tp::TP_STATUS_CSUMNOTREADY
    | tp::TP_STATUS_VLAN_VALID
    | tp::TP_STATUS_VLAN_TPID_VALID
    | tp::TP_STATUS_CSUM_VALID
    | tp::TP_STATUS_TS_SOFTWARE
    | tp::TP_STATUS_TS_SYS_HARDWARE
    | tp::TP_STATUS_TS_RAW_HARDWARE;

/// Map `tp_status` bits (and the lengths) to [`PacketFlags`]: the flags use
/// the kernel's bit positions, so this is a mask and one compare.
#[inline(always)]
pub fn status_flags(status: u32, caplen: u32, wire_len: u32) -> PacketFlags {
    PacketFlags::from_bits_retain(
        (status & STATUS_FLAGS) | (u32::from(caplen < wire_len) * PacketFlags::TRUNCATED.bits()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::synth::*;

    fn frames() -> Vec<Vec<u8>> {
        (0..5)
            .map(|i| (0..(60 + i * 300)).map(|b| (b as u8) ^ (i as u8)).collect())
            .collect()
    }

    #[test]
    fn walks_all_packets_byte_exact() {
        let fs = frames();
        let refs: Vec<&[u8]> = fs.iter().map(|f| f.as_slice()).collect();
        let mut w = block(8192, 42, &refs);
        let b = bytes(&mut w);
        let hdr = block_header(b).unwrap();
        assert_eq!(
            hdr,
            BlockHeader {
                num_pkts: 5,
                first: 48,
                seq: 42
            }
        );
        let mut it = PacketIter::new(b);
        let got: Vec<Packet<'_>> = it.by_ref().collect();
        assert_eq!(it.error(), None);
        assert_eq!(got.len(), 5);
        for (i, p) in got.iter().enumerate() {
            assert_eq!(p.data(), refs[i]);
            assert_eq!(p.wire_len(), refs[i].len() as u32 + (i as u32 % 2) * 4);
            assert_eq!(p.flags().contains(PacketFlags::TRUNCATED), i % 2 == 1);
            assert!(p.flags().contains(PacketFlags::TS_SOFTWARE));
            assert_eq!(
                p.timestamp_ns(),
                (1_700_000_000 + i as u64) * 1_000_000_000 + 123_456_789
            );
            assert_eq!(p.ifindex(), 7);
            assert_eq!(p.protocol(), 0x0800);
            assert_eq!(p.packet_type(), crate::packet::PacketType::OtherHost);
        }
    }

    #[test]
    fn flags_use_the_kernel_bit_positions() {
        assert_eq!(PacketFlags::LOSING.bits(), tp::TP_STATUS_LOSING);
        assert_eq!(
            PacketFlags::CSUM_NOT_READY.bits(),
            tp::TP_STATUS_CSUMNOTREADY
        );
        assert_eq!(PacketFlags::VLAN_VALID.bits(), tp::TP_STATUS_VLAN_VALID);
        assert_eq!(
            PacketFlags::VLAN_TPID_VALID.bits(),
            tp::TP_STATUS_VLAN_TPID_VALID
        );
        assert_eq!(PacketFlags::CSUM_VALID.bits(), tp::TP_STATUS_CSUM_VALID);
        assert_eq!(PacketFlags::TS_SOFTWARE.bits(), tp::TP_STATUS_TS_SOFTWARE);
        assert_eq!(
            PacketFlags::TS_SYS_HARDWARE.bits(),
            tp::TP_STATUS_TS_SYS_HARDWARE
        );
        assert_eq!(
            PacketFlags::TS_RAW_HARDWARE.bits(),
            tp::TP_STATUS_TS_RAW_HARDWARE
        );
        // Bits the kernel uses for other things never leak into the flags.
        let all = u32::MAX;
        let f = status_flags(all, 10, 10);
        assert!(!f.contains(PacketFlags::TRUNCATED));
        assert_eq!(
            f.bits() & (tp::TP_STATUS_USER | tp::TP_STATUS_COPY | tp::TP_STATUS_BLK_TMO),
            0
        );
        assert!(status_flags(0, 9, 10).contains(PacketFlags::TRUNCATED));
        assert_eq!(status_flags(0, 10, 10), PacketFlags::empty());
    }

    #[test]
    fn empty_block_yields_nothing() {
        let mut w = block(4096, 1, &[]);
        let mut it = PacketIter::new(bytes(&mut w));
        assert!(it.next().is_none());
        assert_eq!(it.error(), None);
    }

    /// An 8 KiB block (sequence number 1) holding [`frames`].
    fn block_of_frames() -> Vec<u64> {
        let fs = frames();
        let refs: Vec<&[u8]> = fs.iter().map(|f| f.as_slice()).collect();
        block(8192, 1, &refs)
    }

    fn corrupt(f: impl Fn(&mut [u8])) -> (usize, Option<Malformed>) {
        let mut w = block_of_frames();
        let b = bytes(&mut w);
        f(b);
        let mut it = PacketIter::new(b);
        let n = it.by_ref().count();
        (n, it.error())
    }

    fn put32(b: &mut [u8], off: usize, v: u32) {
        b[off..off + 4].copy_from_slice(&v.to_ne_bytes());
    }

    /// [`corrupt`] with the first packet's `tp_next_offset` set to `v`.
    fn next_offset(v: u32) -> (usize, Option<Malformed>) {
        corrupt(|b| put32(b, bd::SIZE + h::NEXT_OFFSET, v))
    }

    #[test]
    fn rejects_first_offset_outside_block() {
        assert_eq!(
            corrupt(|b| put32(b, bd::OFFSET_TO_FIRST_PKT, 9000)),
            (0, Some(Malformed::FirstOffset(9000)))
        );
        assert_eq!(
            corrupt(|b| put32(b, bd::OFFSET_TO_FIRST_PKT, 4)),
            (0, Some(Malformed::FirstOffset(4)))
        );
    }

    #[test]
    fn rejects_snaplen_past_block() {
        assert_eq!(
            corrupt(|b| put32(b, bd::SIZE + h::SNAPLEN, 1 << 30)),
            (0, Some(Malformed::DataOutOfBounds(48)))
        );
        assert_eq!(
            corrupt(|b| put32(b, bd::SIZE + h::SNAPLEN, u32::MAX)),
            (0, Some(Malformed::DataOutOfBounds(48)))
        );
    }

    #[test]
    fn rejects_mac_into_header() {
        assert_eq!(
            corrupt(|b| b[bd::SIZE + h::MAC..bd::SIZE + h::MAC + 2]
                .copy_from_slice(&10u16.to_ne_bytes())),
            (0, Some(Malformed::MacOffset(48)))
        );
    }

    #[test]
    fn mac_past_block_is_caught() {
        assert_eq!(
            corrupt(|b| b[bd::SIZE + h::MAC..bd::SIZE + h::MAC + 2]
                .copy_from_slice(&u16::MAX.to_ne_bytes())),
            (0, Some(Malformed::DataOutOfBounds(48)))
        );
    }

    #[test]
    fn next_offset_past_block_stops_after_the_good_packet() {
        assert_eq!(
            next_offset(100_000),
            (1, Some(Malformed::HeaderOutOfBounds(100_048)))
        );
        assert_eq!(
            next_offset(u32::MAX),
            (
                1,
                Some(Malformed::HeaderOutOfBounds(48 + u32::MAX as usize))
            )
        );
    }

    #[test]
    fn next_offset_zero_ends_the_walk() {
        assert_eq!(next_offset(0), (1, Some(Malformed::EarlyEnd(48))));
    }

    #[test]
    fn overlapping_next_offset_is_rejected() {
        assert_eq!(next_offset(8), (1, Some(Malformed::NextOffset(48))));
    }

    #[test]
    fn num_pkts_larger_than_the_chain_is_caught() {
        // The last packet has tp_next_offset 0; claim one more packet.
        assert_eq!(
            corrupt(|b| put32(b, bd::NUM_PKTS, 6)).1,
            Some(Malformed::EarlyEnd(
                48 + {
                    let mut off = 0;
                    for i in 0..4 {
                        off += (MAC_OFFSET + 60 + i * 300).next_multiple_of(8);
                    }
                    off
                }
            ))
        );
    }

    #[test]
    fn header_straddling_block_end() {
        let mut w = block(4096, 1, &[&[0u8; 60]]);
        let b = bytes(&mut w);
        put32(b, bd::OFFSET_TO_FIRST_PKT, 4096 - 20);
        let mut it = PacketIter::new(b);
        assert!(it.next().is_none());
        assert_eq!(it.error(), Some(Malformed::HeaderOutOfBounds(4076)));
    }

    #[test]
    fn short_block() {
        let b = [0u8; 20];
        let mut it = PacketIter::new(&b);
        assert!(it.next().is_none());
        assert_eq!(it.error(), Some(Malformed::ShortBlock));
    }

    #[test]
    fn resume_continues_where_it_left() {
        let fs = frames();
        let mut w = block_of_frames();
        let b = bytes(&mut w);
        let mut it = PacketIter::new(b);
        it.next();
        it.next();
        let (off, rem) = it.position();
        let rest: Vec<_> = PacketIter::resume(b, off, rem)
            .map(|p| p.data().to_vec())
            .collect();
        assert_eq!(rest, fs[2..].to_vec());
    }

    #[test]
    fn random_corruption_never_reads_out_of_bounds() {
        // Deterministic xorshift; every byte of the headers gets hit.
        let fs = frames();
        let refs: Vec<&[u8]> = fs.iter().map(|f| f.as_slice()).collect();
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let rounds = if cfg!(miri) { 50 } else { 20_000 };
        for _ in 0..rounds {
            let mut w = block(4096, 1, &refs[..3]);
            let b = bytes(&mut w);
            for _ in 0..4 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let pos = (x as usize) % 600;
                b[pos] = (x >> 32) as u8;
            }
            let total: usize = PacketIter::new(b).map(|p| p.data().len()).sum();
            assert!(total <= 4096);
        }
    }
}
