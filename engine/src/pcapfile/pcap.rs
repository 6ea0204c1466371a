//! Classic pcap layout: the 24-byte file header and 16-byte record headers.
//! Written in host byte order (as libpcap does); read in either order.

/// Magic of microsecond files, as a number.
pub(crate) const MAGIC_US: u32 = 0xa1b2_c3d4;
/// Magic of nanosecond files.
pub(crate) const MAGIC_NS: u32 = 0xa1b2_3c4d;
/// Bytes in the file header.
pub const FILE_HDR_LEN: usize = 24;
/// Bytes in a record header.
pub const REC_HDR_LEN: usize = 16;
/// libpcap's `LT_LINKTYPE`: the link type lives in the low 26 bits (the
/// high bits carry FCS information).
pub(crate) const LINKTYPE_MASK: u32 = 0x03ff_ffff;

/// The file header, host byte order, version 2.4.
pub fn file_header(nanos: bool, snaplen: u32, link_type: u32) -> [u8; FILE_HDR_LEN] {
    let mut h = [0u8; FILE_HDR_LEN];
    let magic = if nanos { MAGIC_NS } else { MAGIC_US };
    h[0..4].copy_from_slice(&magic.to_ne_bytes());
    h[4..6].copy_from_slice(&2u16.to_ne_bytes());
    h[6..8].copy_from_slice(&4u16.to_ne_bytes());
    // thiszone (8..12) and sigfigs (12..16) stay 0.
    h[16..20].copy_from_slice(&snaplen.to_ne_bytes());
    h[20..24].copy_from_slice(&link_type.to_ne_bytes());
    h
}

/// A record header, host byte order.
#[inline(always)]
pub fn record_header(ts_ns: u64, nanos: bool, caplen: u32, wire_len: u32) -> [u8; REC_HDR_LEN] {
    let sec = (ts_ns / 1_000_000_000) as u32;
    let sub = (ts_ns % 1_000_000_000) as u32;
    let frac = if nanos { sub } else { sub / 1000 };
    let mut h = [0u8; REC_HDR_LEN];
    h[0..4].copy_from_slice(&sec.to_ne_bytes());
    h[4..8].copy_from_slice(&frac.to_ne_bytes());
    h[8..12].copy_from_slice(&caplen.to_ne_bytes());
    h[12..16].copy_from_slice(&wire_len.to_ne_bytes());
    h
}

/// What a pcap file header says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FileHeader {
    /// Fields are big-endian.
    pub big: bool,
    /// Nanosecond timestamps.
    pub nanos: bool,
    /// Version major.
    pub major: u16,
    /// Version minor.
    pub minor: u16,
    /// Snap length.
    pub snaplen: u32,
    /// Link type (FCS bits removed).
    pub link_type: u32,
}

/// Recognise a pcap magic in the first four bytes: `(big_endian, nanos)`.
pub(crate) fn magic(b: [u8; 4]) -> Option<(bool, bool)> {
    match u32::from_be_bytes(b) {
        MAGIC_US => Some((true, false)),
        MAGIC_NS => Some((true, true)),
        _ => match u32::from_le_bytes(b) {
            MAGIC_US => Some((false, false)),
            MAGIC_NS => Some((false, true)),
            _ => None,
        },
    }
}

/// Read a u32 in the given byte order.
#[inline(always)]
pub(crate) fn rd32(b: &[u8], off: usize, big: bool) -> u32 {
    let v = [b[off], b[off + 1], b[off + 2], b[off + 3]];
    if big {
        u32::from_be_bytes(v)
    } else {
        u32::from_le_bytes(v)
    }
}

/// Read a u16 in the given byte order.
#[inline(always)]
pub(crate) fn rd16(b: &[u8], off: usize, big: bool) -> u16 {
    let v = [b[off], b[off + 1]];
    if big {
        u16::from_be_bytes(v)
    } else {
        u16::from_le_bytes(v)
    }
}

/// Parse a file header (None: not a pcap magic).
pub(crate) fn parse_file_header(h: &[u8; FILE_HDR_LEN]) -> Option<FileHeader> {
    let (big, nanos) = magic([h[0], h[1], h[2], h[3]])?;
    Some(FileHeader {
        big,
        nanos,
        major: rd16(h, 4, big),
        minor: rd16(h, 6, big),
        snaplen: rd32(h, 16, big),
        link_type: rd32(h, 20, big) & LINKTYPE_MASK,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trip_both_orders() {
        let h = file_header(true, 1500, 1);
        let p = parse_file_header(&h).unwrap();
        assert_eq!(
            p,
            FileHeader {
                big: cfg!(target_endian = "big"),
                nanos: true,
                major: 2,
                minor: 4,
                snaplen: 1500,
                link_type: 1
            }
        );
        // The same header written by a machine of the other byte order.
        let mut s = h;
        for r in [0..4, 16..20, 20..24, 8..12, 12..16] {
            s[r].reverse();
        }
        s[4..6].reverse();
        s[6..8].reverse();
        let q = parse_file_header(&s).unwrap();
        assert_eq!(q.big, !p.big);
        assert_eq!((q.major, q.minor, q.snaplen, q.link_type), (2, 4, 1500, 1));
        assert!(parse_file_header(&[0; 24]).is_none());
    }

    #[test]
    fn record_header_timestamps() {
        let ts = 1_700_000_000_123_456_789u64;
        let h = record_header(ts, false, 60, 64);
        let big = cfg!(target_endian = "big");
        assert_eq!(rd32(&h, 0, big), 1_700_000_000);
        assert_eq!(rd32(&h, 4, big), 123_456);
        let h = record_header(ts, true, 60, 64);
        assert_eq!(rd32(&h, 4, big), 123_456_789);
        assert_eq!((rd32(&h, 8, big), rd32(&h, 12, big)), (60, 64));
    }
}
