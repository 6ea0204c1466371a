//! The TPACKET_V2 frame walker: the ring of immediate mode.
//!
//! A TPACKET_V2 ring is a row of fixed-size frames, each with its own
//! status word: the kernel hands a frame over (`TP_STATUS_USER`) as soon as
//! it has written it, where a TPACKET_V3 block waits until it is full or
//! its retire timer expires. A held batch on this ring is the run of
//! consecutive frames that were ready when it was acquired; this module
//! reads one frame ([`parse_frame`]) and walks such a run ([`walk_frames`]).
//! As in the block walker, nothing the kernel wrote is trusted: `tp_mac`
//! and `tp_snaplen` are checked against the frame before a byte is read.
//! Pure logic over memory: its tests run on synthetic frames.

use super::block::{HdrFields, Malformed, packet, rd16, rd32};
use crate::batch::{Cursor, Walk};
use crate::packet::Packet;
use crate::sys::tpacket::v2_hdr as h;

/// Read the frame `frame` (its whole slot, header included); `at` is its
/// offset in the ring, for the error. The frame must have been handed over
/// (`TP_STATUS_USER`): its status word is read here as plain memory.
#[inline(always)]
pub fn parse_frame(frame: &[u8], at: usize) -> Result<Packet<'_>, Malformed> {
    let (hdr, data) = frame_parts(frame, at)?;
    // TPACKET_V2 frames carry no receive hash.
    Ok(packet(hdr, &V2_FIELDS, data, 0, rd16(hdr, h::VLAN_TCI)))
}

/// Read a frame the kernel cut to the ring's frame size and queued whole on
/// the socket (`TP_STATUS_COPY`, see `PACKET_COPY_THRESH`): the metadata
/// from the frame's header (checked as in [`parse_frame`]), the bytes from
/// `whole`, the copy taken off the socket (at most the snap length).
pub fn parse_copied<'a>(frame: &[u8], at: usize, whole: &'a [u8]) -> Result<Packet<'a>, Malformed> {
    let (hdr, _) = frame_parts(frame, at)?;
    Ok(packet(hdr, &V2_FIELDS, whole, 0, rd16(hdr, h::VLAN_TCI)))
}

/// The header and the data of a frame, both checked against the frame.
#[inline(always)]
fn frame_parts(frame: &[u8], at: usize) -> Result<(&[u8], &[u8]), Malformed> {
    let Some(hdr) = frame.get(..h::HDRLEN) else {
        return Err(Malformed::HeaderOutOfBounds(at));
    };
    let mac = rd16(hdr, h::MAC) as usize;
    let snaplen = rd32(hdr, h::SNAPLEN) as usize;
    if mac < h::HDRLEN {
        return Err(Malformed::MacOffset(at));
    }
    let Some(data) = mac.checked_add(snaplen).and_then(|end| frame.get(mac..end)) else {
        return Err(Malformed::DataOutOfBounds(at));
    };
    Ok((hdr, data))
}

const V2_FIELDS: HdrFields =
    HdrFields::of([h::SEC, h::NSEC, h::LEN, h::STATUS, h::VLAN_TPID, h::SLL]);

/// Walk a run of `count` handed-over frames from `cursor` on: the one walk
/// behind every TPACKET_V2 held batch. `packet_at(i)` reads the `i`-th
/// frame of the run (`i < count`; [`parse_frame`] or [`parse_copied`]). Calls `f` per
/// packet until it returns `false`; the cursor keeps the position. On a
/// malformed frame the walk stops (the cursor is done) and the reason is
/// returned; the caller counts it (the run's frames are all given back on
/// release, the rest of the run is skipped, as for a malformed block).
#[inline(always)]
pub fn walk_frames<'a, G, F>(
    packet_at: G,
    count: u32,
    cursor: &mut Cursor,
    mut f: F,
) -> Result<Walk, Malformed>
where
    G: Fn(u32) -> Result<Packet<'a>, Malformed>,
    F: FnMut(&Packet<'_>) -> bool,
{
    if cursor.done {
        return Ok(Walk::Done);
    }
    if !cursor.begun {
        cursor.begun = true;
        cursor.pos = 0;
        cursor.left = count;
    }
    while cursor.left > 0 {
        let p = match packet_at(cursor.pos as u32) {
            Ok(p) => p,
            Err(m) => {
                cursor.left = 0;
                cursor.done = true;
                return Err(m);
            }
        };
        cursor.pos += 1;
        cursor.left -= 1;
        if !f(&p) {
            if cursor.left == 0 {
                cursor.done = true;
            }
            return Ok(Walk::Stopped);
        }
    }
    cursor.done = true;
    Ok(Walk::Done)
}

/// The error a walk returns for a malformed frame.
#[cold]
pub fn malformed_error(m: Malformed) -> crate::error::Error {
    crate::error::Error::new(
        crate::error::ErrorKind::Malformed,
        format!("ring frame rejected: {m}; rest of the batch skipped"),
    )
}

/// Builds synthetic TPACKET_V2 frames the way the kernel lays them out.
#[cfg(any(test, feature = "bench-fixtures"))]
pub mod synth {
    use crate::sys::tpacket::{self as tp, sll, v2_hdr as h};

    /// Offset of frame data from the frame start, as the kernel computes it
    /// for Ethernet with no reserve: `TPACKET_ALIGN(TPACKET2_HDRLEN + 16)`
    /// minus the 14-byte Ethernet header.
    pub const MAC_OFFSET: usize = 66;

    /// One `size`-byte frame slot holding `data` (8-byte aligned storage);
    /// `i` varies the time stamp and the wire length (odd: 4 bytes longer
    /// than captured, so truncated).
    pub fn frame(size: usize, i: u32, data: &[u8]) -> Vec<u64> {
        let mut words = vec![0u64; size.div_ceil(8)];
        let b = crate::fixtures::synth::bytes(&mut words);
        let w32 =
            |b: &mut [u8], off: usize, v: u32| b[off..off + 4].copy_from_slice(&v.to_ne_bytes());
        w32(b, h::STATUS, tp::TP_STATUS_USER | tp::TP_STATUS_TS_SOFTWARE);
        w32(b, h::LEN, data.len() as u32 + (i % 2) * 4);
        w32(b, h::SNAPLEN, data.len() as u32);
        b[h::MAC..h::MAC + 2].copy_from_slice(&(MAC_OFFSET as u16).to_ne_bytes());
        w32(b, h::SEC, 1_700_000_000 + i);
        w32(b, h::NSEC, 123_456_789);
        w32(b, h::SLL + sll::IFINDEX, 7);
        let p = h::SLL + sll::PROTOCOL;
        b[p..p + 2].copy_from_slice(&0x0800u16.to_be_bytes());
        b[h::SLL + sll::PKTTYPE] = 3;
        b[MAC_OFFSET..MAC_OFFSET + data.len()].copy_from_slice(data);
        words
    }
}

#[cfg(test)]
mod tests {
    use super::synth::{MAC_OFFSET, frame};
    use super::*;
    use crate::fixtures::synth::bytes;
    use crate::packet::PacketFlags;
    use crate::sys::tpacket as tp;

    const SLOT: usize = 2048;

    fn data(i: usize) -> Vec<u8> {
        (0..(60 + i * 300)).map(|b| (b as u8) ^ (i as u8)).collect()
    }

    fn ring(n: usize) -> Vec<Vec<u64>> {
        (0..n).map(|i| frame(SLOT, i as u32, &data(i))).collect()
    }

    fn walk_all(
        r: &mut [Vec<u64>],
        cursor: &mut Cursor,
        mut f: impl FnMut(&Packet<'_>) -> bool,
    ) -> Result<Walk, Malformed> {
        let frames: Vec<&[u8]> = r.iter_mut().map(|w| &*bytes(w)).collect();
        walk_frames(
            |i| parse_frame(frames[i as usize], i as usize * SLOT),
            frames.len() as u32,
            cursor,
            &mut f,
        )
    }

    #[test]
    fn walks_every_frame_byte_exact() {
        let mut r = ring(5);
        let mut got = Vec::new();
        let mut c = Cursor::START;
        let w = walk_all(&mut r, &mut c, |p| {
            got.push((
                p.data().to_vec(),
                p.wire_len(),
                p.flags(),
                p.timestamp_ns(),
                p.ifindex(),
                p.protocol(),
                p.packet_type(),
            ));
            true
        });
        assert_eq!(w, Ok(Walk::Done));
        assert!(c.is_done());
        assert_eq!(got.len(), 5);
        for (i, g) in got.iter().enumerate() {
            assert_eq!(g.0, data(i));
            assert_eq!(g.1, data(i).len() as u32 + (i as u32 % 2) * 4);
            assert_eq!(g.2.contains(PacketFlags::TRUNCATED), i % 2 == 1);
            assert!(g.2.contains(PacketFlags::TS_SOFTWARE));
            assert_eq!(
                g.3,
                (1_700_000_000 + i as u64) * 1_000_000_000 + 123_456_789
            );
            assert_eq!(g.4, 7);
            assert_eq!(g.5, 0x0800);
            assert_eq!(g.6, crate::packet::PacketType::OtherHost);
        }
    }

    #[test]
    fn a_cursor_resumes_where_the_visitor_stopped() {
        let mut r = ring(4);
        let mut c = Cursor::START;
        let mut seen = Vec::new();
        assert_eq!(
            walk_all(&mut r, &mut c, |p| {
                seen.push(p.data().to_vec());
                false
            }),
            Ok(Walk::Stopped)
        );
        assert!(!c.is_done());
        assert_eq!(
            walk_all(&mut r, &mut c, |p| {
                seen.push(p.data().to_vec());
                seen.len() < 3
            }),
            Ok(Walk::Stopped)
        );
        assert_eq!(
            walk_all(&mut r, &mut c, |p| {
                seen.push(p.data().to_vec());
                false
            }),
            Ok(Walk::Stopped)
        );
        // Stopped on the last frame: the cursor is done.
        assert!(c.is_done());
        assert_eq!(walk_all(&mut r, &mut c, |_| true), Ok(Walk::Done));
        assert_eq!(seen, (0..4).map(data).collect::<Vec<_>>());
    }

    #[test]
    fn vlan_metadata_is_read() {
        let mut w = frame(SLOT, 0, &data(0));
        let b = bytes(&mut w);
        let st = tp::TP_STATUS_USER | tp::TP_STATUS_VLAN_VALID | tp::TP_STATUS_VLAN_TPID_VALID;
        b[h::STATUS..h::STATUS + 4].copy_from_slice(&st.to_ne_bytes());
        b[h::VLAN_TCI..h::VLAN_TCI + 2].copy_from_slice(&0x2005u16.to_ne_bytes());
        b[h::VLAN_TPID..h::VLAN_TPID + 2].copy_from_slice(&0x88a8u16.to_ne_bytes());
        let p = parse_frame(b, 0).unwrap();
        assert_eq!(p.vlan_tci(), Some(0x2005));
        assert_eq!(p.vlan_tpid(), Some(0x88a8));
        assert_eq!(p.rxhash, 0);
    }

    fn corrupt(f: impl Fn(&mut [u8])) -> (Vec<Vec<u8>>, Result<Walk, Malformed>) {
        let mut r = ring(3);
        f(bytes(&mut r[1]));
        let mut seen = Vec::new();
        let mut c = Cursor::START;
        let w = walk_all(&mut r, &mut c, |p| {
            seen.push(p.data().to_vec());
            true
        });
        assert!(c.is_done());
        (seen, w)
    }

    #[test]
    fn mac_inside_the_header_is_caught() {
        let (seen, w) = corrupt(|b| b[h::MAC..h::MAC + 2].copy_from_slice(&10u16.to_ne_bytes()));
        assert_eq!(seen, vec![data(0)]);
        assert_eq!(w, Err(Malformed::MacOffset(SLOT)));
    }

    #[test]
    fn data_past_the_frame_is_caught() {
        let (seen, w) = corrupt(|b| {
            b[h::SNAPLEN..h::SNAPLEN + 4].copy_from_slice(&(SLOT as u32).to_ne_bytes())
        });
        assert_eq!(seen, vec![data(0)]);
        assert_eq!(w, Err(Malformed::DataOutOfBounds(SLOT)));
        let (_, w) =
            corrupt(|b| b[h::SNAPLEN..h::SNAPLEN + 4].copy_from_slice(&u32::MAX.to_ne_bytes()));
        assert_eq!(w, Err(Malformed::DataOutOfBounds(SLOT)));
        let (_, w) = corrupt(|b| b[h::MAC..h::MAC + 2].copy_from_slice(&u16::MAX.to_ne_bytes()));
        assert_eq!(w, Err(Malformed::DataOutOfBounds(SLOT)));
    }

    #[test]
    fn a_copied_frame_takes_its_bytes_from_the_copy() {
        // The kernel cut the frame (snaplen = the room left); the whole
        // packet came off the socket.
        let whole = data(3);
        let mut w = frame(256, 0, &whole[..190]);
        let b = bytes(&mut w);
        b[h::LEN..h::LEN + 4].copy_from_slice(&(whole.len() as u32).to_ne_bytes());
        let st = tp::TP_STATUS_USER | tp::TP_STATUS_COPY | tp::TP_STATUS_TS_SOFTWARE;
        b[h::STATUS..h::STATUS + 4].copy_from_slice(&st.to_ne_bytes());
        let p = parse_copied(b, 0, &whole).unwrap();
        assert_eq!(p.data(), &whole[..]);
        assert_eq!(p.wire_len() as usize, whole.len());
        assert!(!p.flags().contains(PacketFlags::TRUNCATED));
        assert!(p.flags().contains(PacketFlags::TS_SOFTWARE));
        assert_eq!(p.protocol(), 0x0800);
        // Cut at the snap length: flagged.
        let p = parse_copied(b, 0, &whole[..500]).unwrap();
        assert!(p.flags().contains(PacketFlags::TRUNCATED));
        // The frame's header is checked all the same.
        b[h::MAC..h::MAC + 2].copy_from_slice(&10u16.to_ne_bytes());
        assert_eq!(
            parse_copied(b, 0, &whole).err(),
            Some(Malformed::MacOffset(0))
        );
    }

    #[test]
    fn a_frame_shorter_than_its_header_is_caught() {
        let b = [0u8; 40];
        assert_eq!(
            parse_frame(&b, 96).err(),
            Some(Malformed::HeaderOutOfBounds(96))
        );
    }

    #[test]
    fn data_exactly_to_the_end_is_accepted() {
        let mut w = frame(SLOT, 0, &[]);
        let b = bytes(&mut w);
        let n = (SLOT - MAC_OFFSET) as u32;
        b[h::SNAPLEN..h::SNAPLEN + 4].copy_from_slice(&n.to_ne_bytes());
        assert_eq!(parse_frame(b, 0).unwrap().data().len(), n as usize);
    }

    #[test]
    fn random_corruption_never_reads_out_of_bounds() {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let rounds = if cfg!(miri) { 50 } else { 20_000 };
        for _ in 0..rounds {
            let mut w = frame(256, 1, &data(0)[..60]);
            let b = bytes(&mut w);
            for _ in 0..4 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let pos = (x as usize) % h::HDRLEN;
                b[pos] = (x >> 32) as u8;
            }
            if let Ok(p) = parse_frame(b, 0) {
                assert!(p.data().len() <= 256);
            }
        }
    }
}
