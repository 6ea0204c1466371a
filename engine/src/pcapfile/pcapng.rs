//! pcapng layout (draft-ietf-opsawg-pcapng): block encoders for the writer
//! (host byte order) and the decoding helpers the reader uses.

use super::pad4;
use super::pcap::{rd16, rd32};

/// Section Header Block type (a palindrome: the same in both orders).
pub(crate) const SHB: u32 = 0x0A0D_0D0A;
/// Interface Description Block.
pub(crate) const IDB: u32 = 1;
/// Obsolete Packet Block.
pub(crate) const OPB: u32 = 2;
/// Simple Packet Block.
pub(crate) const SPB: u32 = 3;
/// Interface Statistics Block.
pub(crate) const ISB: u32 = 5;
/// Enhanced Packet Block.
pub(crate) const EPB: u32 = 6;
/// Byte-order magic of the SHB.
pub(crate) const BOM: u32 = 0x1A2B_3C4D;
/// Bytes of an EPB before the packet data.
pub(crate) const EPB_HDR_LEN: usize = 28;

/// opt_endofopt.
pub(crate) const OPT_END: u16 = 0;
/// opt_comment.
pub(crate) const OPT_COMMENT: u16 = 1;
/// shb_userappl.
pub(crate) const SHB_USERAPPL: u16 = 4;
/// if_name.
pub(crate) const IF_NAME: u16 = 2;
/// if_tsresol.
pub(crate) const IF_TSRESOL: u16 = 9;
/// if_tsoffset.
pub(crate) const IF_TSOFFSET: u16 = 14;
/// epb_flags.
pub(crate) const EPB_FLAGS: u16 = 2;
/// isb_starttime.
pub(crate) const ISB_STARTTIME: u16 = 2;
/// isb_endtime.
pub(crate) const ISB_ENDTIME: u16 = 3;
/// isb_ifrecv.
pub(crate) const ISB_IFRECV: u16 = 4;
/// isb_ifdrop.
pub(crate) const ISB_IFDROP: u16 = 5;

fn put32(buf: &mut Vec<u8>, v: u32) {
    buf.extend_from_slice(&v.to_ne_bytes());
}

/// Append one option (code, length, value, padding).
pub(crate) fn put_opt(buf: &mut Vec<u8>, code: u16, val: &[u8]) {
    buf.extend_from_slice(&code.to_ne_bytes());
    buf.extend_from_slice(&(val.len() as u16).to_ne_bytes());
    buf.extend_from_slice(val);
    buf.resize(buf.len() + (pad4(val.len()) - val.len()), 0);
}

/// Bytes an option takes.
pub(crate) fn opt_len(val_len: usize) -> usize {
    4 + pad4(val_len)
}

/// Append a whole block of `btype` around `body` (which must already be
/// padded to 4 bytes).
fn block(buf: &mut Vec<u8>, btype: u32, body: &[u8]) {
    debug_assert_eq!(body.len() % 4, 0);
    let len = (body.len() + 12) as u32;
    put32(buf, btype);
    put32(buf, len);
    buf.extend_from_slice(body);
    put32(buf, len);
}

/// Largest option value (the length field is 16 bits); longer text is cut.
fn opt_text(s: &str) -> &[u8] {
    let b = s.as_bytes();
    &b[..b.len().min(0xfff0)]
}

/// Append a Section Header Block: version 1.0, unknown section length,
/// optional comment, shb_userappl "netring <version>".
pub(crate) fn shb(buf: &mut Vec<u8>, comment: Option<&str>) {
    let mut body = Vec::with_capacity(64);
    put32(&mut body, BOM);
    body.extend_from_slice(&1u16.to_ne_bytes());
    body.extend_from_slice(&0u16.to_ne_bytes());
    body.extend_from_slice(&(-1i64).to_ne_bytes());
    if let Some(c) = comment {
        put_opt(&mut body, OPT_COMMENT, opt_text(c));
    }
    put_opt(
        &mut body,
        SHB_USERAPPL,
        concat!("netring ", env!("CARGO_PKG_VERSION")).as_bytes(),
    );
    put_opt(&mut body, OPT_END, &[]);
    block(buf, SHB, &body);
}

/// Append an Interface Description Block with if_tsresol = 9 (ns).
pub(crate) fn idb(buf: &mut Vec<u8>, link_type: u16, snaplen: u32, name: Option<&str>) {
    let mut body = Vec::with_capacity(64);
    body.extend_from_slice(&link_type.to_ne_bytes());
    body.extend_from_slice(&0u16.to_ne_bytes());
    put32(&mut body, snaplen);
    if let Some(n) = name {
        put_opt(&mut body, IF_NAME, opt_text(n));
    }
    put_opt(&mut body, IF_TSRESOL, &[9]);
    put_opt(&mut body, OPT_END, &[]);
    block(buf, IDB, &body);
}

/// The 28 bytes of an EPB before the data (type, length, interface,
/// timestamp in ns, lengths).
#[inline(always)]
pub(crate) fn epb_header(
    block_len: u32,
    iface: u32,
    ts_ns: u64,
    caplen: u32,
    wire_len: u32,
) -> [u8; EPB_HDR_LEN] {
    let mut h = [0u8; EPB_HDR_LEN];
    h[0..4].copy_from_slice(&EPB.to_ne_bytes());
    h[4..8].copy_from_slice(&block_len.to_ne_bytes());
    h[8..12].copy_from_slice(&iface.to_ne_bytes());
    h[12..16].copy_from_slice(&((ts_ns >> 32) as u32).to_ne_bytes());
    h[16..20].copy_from_slice(&(ts_ns as u32).to_ne_bytes());
    h[20..24].copy_from_slice(&caplen.to_ne_bytes());
    h[24..28].copy_from_slice(&wire_len.to_ne_bytes());
    h
}

/// What an Interface Statistics Block reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct IsbData {
    pub iface: u32,
    pub ts_ns: u64,
    pub start_ns: Option<u64>,
    pub end_ns: Option<u64>,
    pub recv: Option<u64>,
    pub drop: Option<u64>,
}

fn ts_opt(v: u64) -> [u8; 8] {
    let mut b = [0u8; 8];
    b[0..4].copy_from_slice(&((v >> 32) as u32).to_ne_bytes());
    b[4..8].copy_from_slice(&(v as u32).to_ne_bytes());
    b
}

/// Append an Interface Statistics Block.
pub(crate) fn isb(buf: &mut Vec<u8>, d: &IsbData) {
    let mut body = Vec::with_capacity(64);
    put32(&mut body, d.iface);
    put32(&mut body, (d.ts_ns >> 32) as u32);
    put32(&mut body, d.ts_ns as u32);
    if let Some(v) = d.start_ns {
        put_opt(&mut body, ISB_STARTTIME, &ts_opt(v));
    }
    if let Some(v) = d.end_ns {
        put_opt(&mut body, ISB_ENDTIME, &ts_opt(v));
    }
    if let Some(v) = d.recv {
        put_opt(&mut body, ISB_IFRECV, &v.to_ne_bytes());
    }
    if let Some(v) = d.drop {
        put_opt(&mut body, ISB_IFDROP, &v.to_ne_bytes());
    }
    put_opt(&mut body, OPT_END, &[]);
    block(buf, ISB, &body);
}

/// Walk the options in `b` (the option area of a block). Stops at
/// opt_endofopt or at the end; `Err(offset)` when an option runs past the
/// area (offset relative to `b`).
pub(crate) fn for_each_opt(
    b: &[u8],
    big: bool,
    mut f: impl FnMut(u16, &[u8]),
) -> Result<(), usize> {
    let mut off = 0;
    while off + 4 <= b.len() {
        let code = rd16(b, off, big);
        let len = rd16(b, off + 2, big) as usize;
        if code == OPT_END {
            return Ok(());
        }
        let end = off + 4 + len;
        if end > b.len() {
            return Err(off);
        }
        f(code, &b[off + 4..end]);
        off += 4 + pad4(len);
    }
    Ok(())
}

/// Read a u64 option value in the given byte order.
pub(crate) fn opt_u64(v: &[u8], big: bool) -> Option<u64> {
    let a: [u8; 8] = v.get(..8)?.try_into().ok()?;
    Some(if big {
        u64::from_be_bytes(a)
    } else {
        u64::from_le_bytes(a)
    })
}

/// Read a pcapng timestamp-shaped value (high word, low word).
pub(crate) fn ts_words(b: &[u8], off: usize, big: bool) -> u64 {
    (u64::from(rd32(b, off, big)) << 32) | u64::from(rd32(b, off + 4, big))
}

/// An interface's timestamp resolution (`if_tsresol`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TsResol {
    /// Units of 10^-n seconds (n <= 19).
    Pow10(u8),
    /// Units of 2^-n seconds (n <= 63).
    Pow2(u8),
}

impl TsResol {
    /// Decode the option byte; None when it cannot be represented.
    pub(crate) fn from_byte(v: u8) -> Option<TsResol> {
        if v & 0x80 == 0 {
            (v <= 19).then_some(TsResol::Pow10(v))
        } else {
            let n = v & 0x7f;
            (n <= 63).then_some(TsResol::Pow2(n))
        }
    }

    /// Units to nanoseconds since the epoch, plus `offset_s` seconds
    /// (`if_tsoffset`); clamped to the u64 range.
    #[inline]
    pub(crate) fn to_ns(self, units: u64, offset_s: i64) -> u64 {
        let ns: u128 = match self {
            TsResol::Pow10(9) => u128::from(units),
            TsResol::Pow10(n) if n < 9 => u128::from(units) * 10u128.pow(u32::from(9 - n)),
            TsResol::Pow10(n) => u128::from(units) / 10u128.pow(u32::from(n - 9)),
            TsResol::Pow2(n) => (u128::from(units) * 1_000_000_000) >> n,
        };
        let total = ns as i128 + i128::from(offset_s) * 1_000_000_000;
        total.clamp(0, i128::from(u64::MAX)) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tsresol_conversions() {
        let r = |b| TsResol::from_byte(b).unwrap();
        assert_eq!(r(6).to_ns(1_500_000, 0), 1_500_000_000);
        assert_eq!(r(9).to_ns(7, 0), 7);
        assert_eq!(r(12).to_ns(7_000, 0), 7);
        assert_eq!(r(0).to_ns(3, 2), 5_000_000_000);
        assert_eq!(r(0x80 | 10).to_ns(1024, 0), 1_000_000_000);
        assert_eq!(r(6).to_ns(0, -5), 0);
        assert_eq!(r(0).to_ns(u64::MAX, 0), u64::MAX);
        assert!(TsResol::from_byte(20).is_none());
        assert!(TsResol::from_byte(0x80 | 64).is_none());
        assert_eq!(r(19).to_ns(u64::MAX, 0), u64::MAX / 10_000_000_000);
    }

    #[test]
    fn options_walk_and_overrun() {
        let mut b = Vec::new();
        put_opt(&mut b, 2, b"eth0");
        put_opt(&mut b, 9, &[6]);
        put_opt(&mut b, OPT_END, &[]);
        let big = cfg!(target_endian = "big");
        let mut seen = Vec::new();
        for_each_opt(&b, big, |c, v| seen.push((c, v.to_vec()))).unwrap();
        assert_eq!(seen, vec![(2, b"eth0".to_vec()), (9, vec![6])]);
        let mut bad = Vec::new();
        put_opt(&mut bad, 2, b"eth0");
        bad[2..4].copy_from_slice(&100u16.to_ne_bytes());
        assert_eq!(for_each_opt(&bad, big, |_, _| {}), Err(0));
    }
}
