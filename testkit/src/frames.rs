//! Test frames: every byte derived from a sequence number, so the receiver
//! can check each one.

use std::time::{Duration, Instant};

/// The EtherType test frames carry (IEEE local experimental 1): the IP stack
/// ignores it, so nothing answers.
pub const TEST_ETHERTYPE: u16 = 0x88b5;

/// A MAC no interface has (frames to it are PACKET_OTHERHOST).
pub const OTHER_MAC: [u8; 6] = [0x02, 0xcb, 0x00, 0x00, 0x00, 0xff];

/// A test frame of `len` bytes (>= 18) to `dst`: Ethernet header, then a
/// 4-byte sequence number, then a pattern derived from it, so every byte
/// can be checked at the receiver.
pub fn frame(len: usize, seq: u32, dst: [u8; 6]) -> Vec<u8> {
    assert!(len >= 18);
    let mut f = Vec::with_capacity(len);
    f.extend_from_slice(&dst);
    f.extend_from_slice(&[0x02, 0x6e, 0x72, 0x00, 0x00, 0x01]);
    f.extend_from_slice(&TEST_ETHERTYPE.to_be_bytes());
    f.extend_from_slice(&seq.to_be_bytes());
    for i in 18..len {
        f.push((i as u32).wrapping_mul(31).wrapping_add(seq) as u8);
    }
    f
}

/// The sequence number of a test frame, if it is one.
pub fn frame_seq(data: &[u8]) -> Option<u32> {
    if data.len() >= 18 && data[12..14] == TEST_ETHERTYPE.to_be_bytes() {
        Some(u32::from_be_bytes(data[14..18].try_into().unwrap()))
    } else {
        None
    }
}

/// The Internet checksum of `bytes` (RFC 1071: the one's complement of the
/// one's-complement sum of its 16-bit words). Over an IPv4 header whose
/// checksum field is zero it is the value to store there; over a valid
/// header it is 0.
pub fn ip_checksum(bytes: &[u8]) -> u16 {
    let mut sum: u32 = bytes
        .chunks(2)
        .map(|w| u32::from(u16::from_be_bytes([w[0], *w.get(1).unwrap_or(&0)])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// The test frames a consumer delivers, until `want` arrived and then
/// `quiet` passed with nothing new (so extra frames would be seen too), or
/// `limit`. `poll` waits briefly (~20 ms) for the consumer, hands every
/// packet it got to its argument and says whether anything came; other
/// traffic than test frames is ignored.
pub fn collect(
    want: usize,
    quiet: Duration,
    limit: Duration,
    mut poll: impl FnMut(&mut dyn FnMut(&[u8])) -> bool,
) -> Vec<Vec<u8>> {
    let start = Instant::now();
    let mut got = Vec::new();
    let mut last = Instant::now();
    while start.elapsed() < limit {
        if got.len() >= want && last.elapsed() >= quiet {
            break;
        }
        let came = poll(&mut |data: &[u8]| {
            if frame_seq(data).is_some() {
                got.push(data.to_vec());
            }
        });
        if came {
            last = Instant::now();
        }
    }
    got
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_checksum_of_a_known_header() {
        // The IPv4 header of Wikipedia's worked example: checksum 0xb861.
        let mut h = [
            0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00, 0xc0, 0xa8,
            0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7,
        ];
        assert_eq!(ip_checksum(&h), 0xb861);
        h[10..12].copy_from_slice(&0xb861u16.to_be_bytes());
        assert_eq!(ip_checksum(&h), 0);
    }

    #[test]
    fn frames_carry_their_sequence_number() {
        for (len, seq) in [(60, 0), (1514, 7), (18, u32::MAX)] {
            let f = frame(len, seq, OTHER_MAC);
            assert_eq!((f.len(), frame_seq(&f)), (len, Some(seq)));
        }
        assert_eq!(frame_seq(&[0u8; 60]), None);
    }
}
