//! Unit tests: round trips, hand-built files in both byte orders,
//! truncation and corruption, and a deterministic fuzz of the readers.

use std::io::Cursor;
use std::time::{Duration, Instant};

use super::*;
use crate::error::ErrorKind;
use crate::packet::PacketType;

/// A unique scratch path (removed by the caller's Tmp guard).
struct Tmp(std::path::PathBuf);

impl Tmp {
    fn new(tag: &str) -> Tmp {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("netring-pcapfile-{}-{tag}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        Tmp(dir)
    }
    fn path(&self, name: &str) -> std::path::PathBuf {
        self.0.join(name)
    }
}

impl Drop for Tmp {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Got {
    data: Vec<u8>,
    wire_len: u32,
    ts_ns: u64,
    iface: i32,
    pkt_type: u8,
}

/// Read everything; the error (if any) comes after the packets before it.
fn read_all(r: &mut Reader) -> (Vec<Got>, Option<crate::Error>) {
    let mut out = Vec::new();
    loop {
        match r.next_batch() {
            Ok(Some(b)) => {
                assert!(!b.is_empty());
                out.extend(b.iter().map(|p| Got {
                    data: p.data().to_vec(),
                    wire_len: p.wire_len(),
                    ts_ns: p.timestamp_ns(),
                    iface: p.ifindex(),
                    pkt_type: p.packet_type_raw(),
                }))
            }
            Ok(None) => return (out, None),
            Err(e) => return (out, Some(e)),
        }
    }
}

fn read_bytes(bytes: &[u8]) -> crate::Result<(Reader, Vec<Got>, Option<crate::Error>)> {
    let mut r = Reader::from_read(Cursor::new(bytes.to_vec()), "mem")?;
    let (g, e) = read_all(&mut r);
    Ok((r, g, e))
}

/// Test packets: varied sizes (odd ones exercise pcapng padding) and
/// timestamps with every nanosecond digit used.
fn packets(n: usize) -> Vec<(u64, Vec<u8>, u32)> {
    (0..n)
        .map(|i| {
            let len = [0usize, 1, 2, 3, 14, 60, 61, 1514, 9000, 333][i % 10] + (i % 7);
            let data: Vec<u8> = (0..len).map(|b| (b * 7 + i) as u8).collect();
            let ts = 1_700_000_000_000_000_000u64 + i as u64 * 1_234_567_891;
            let wire = len as u32 + (i % 3) as u32;
            (ts, data, wire)
        })
        .collect()
}

/// A writer of `format` with a 64 KiB buffer.
fn small_buffer(format: Format) -> WriterConfig {
    WriterConfig {
        format,
        buffer_size: 64 << 10,
        ..WriterConfig::default()
    }
}

fn write_file(path: &std::path::Path, cfg: &WriterConfig, pk: &[(u64, Vec<u8>, u32)]) {
    let mut w = Writer::create(path, cfg).unwrap();
    for (ts, d, wl) in pk {
        w.write_raw(*ts, d, *wl).unwrap();
    }
    let st = w.finish().unwrap();
    assert_eq!(st.packets, pk.len() as u64);
    assert_eq!(st.bytes, std::fs::metadata(path).unwrap().len());
}

#[test]
fn round_trip_every_format() {
    let t = Tmp::new("rt");
    let pk = packets(5000); // > 1 MiB: records straddle the read buffer
    for format in [Format::Pcap, Format::PcapNs, Format::Pcapng] {
        let path = t.path("rt.cap");
        let cfg = small_buffer(format);
        write_file(&path, &cfg, &pk);
        let mut r = Reader::open(&path).unwrap();
        assert_eq!(r.format(), format);
        assert_eq!(r.link_type(), LINKTYPE_ETHERNET);
        assert_eq!(r.snaplen(), 262_144);
        let (got, err) = read_all(&mut r);
        assert!(err.is_none(), "{format:?}: {err:?}");
        assert_eq!(got.len(), pk.len(), "{format:?}");
        for (i, (g, (ts, d, wl))) in got.iter().zip(&pk).enumerate() {
            assert_eq!(&g.data, d, "{format:?} packet {i}");
            assert_eq!(g.wire_len, *wl, "{format:?} packet {i}");
            let want_ts = if format == Format::Pcap {
                ts / 1000 * 1000
            } else {
                *ts
            };
            assert_eq!(g.ts_ns, want_ts, "{format:?} packet {i}");
        }
    }
}

#[test]
fn snaplen_cuts_and_keeps_wire_length() {
    let t = Tmp::new("snap");
    let path = t.path("s.pcapng");
    let cfg = WriterConfig {
        snaplen: 100,
        ..WriterConfig::default()
    };
    let data = vec![0xabu8; 1500];
    let mut w = Writer::create(&path, &cfg).unwrap();
    w.write_raw(5, &data, 1500).unwrap();
    w.write_raw(6, &data[..50], 50).unwrap();
    w.finish().unwrap();
    let mut r = Reader::open(&path).unwrap();
    assert_eq!(r.snaplen(), 100);
    let p = r.next_packet().unwrap().unwrap();
    assert_eq!((p.caplen(), p.wire_len()), (100, 1500));
    assert!(p.flags().contains(crate::PacketFlags::TRUNCATED));
    let p = r.next_packet().unwrap().unwrap();
    assert_eq!((p.caplen(), p.wire_len(), p.timestamp_ns()), (50, 50, 6));
    assert!(p.flags().is_empty());
    assert!(r.next_packet().unwrap().is_none());
    assert!(r.next_packet().unwrap().is_none());
}

#[test]
fn statistics_block_and_comments() {
    let t = Tmp::new("isb");
    let path = t.path("i.pcapng");
    let cfg = WriterConfig {
        if_name: Some("veth0".into()),
        comment: Some("made by a test".into()),
        ..WriterConfig::default()
    };
    let mut w = Writer::create(&path, &cfg).unwrap();
    let pk = packets(3);
    for (ts, d, wl) in &pk {
        let p = crate::Packet::from_file(d, *ts, *wl, 0, 0, 0);
        w.write_with_comment(&p, "a packet comment of odd length")
            .unwrap();
    }
    w.set_stats(1000, 17);
    w.finish().unwrap();
    let mut r = Reader::open(&path).unwrap();
    let (got, err) = read_all(&mut r);
    assert!(err.is_none());
    assert_eq!(got.len(), 3);
    assert_eq!(got[2].data, pk[2].1);
    let ifs = r.interfaces();
    assert_eq!(ifs.len(), 1);
    assert_eq!(ifs[0].name.as_deref(), Some("veth0"));
    assert_eq!(ifs[0].tsresol, (10, 9));
    assert_eq!((ifs[0].received, ifs[0].dropped), (Some(1000), Some(17)));
}

#[test]
fn huge_record_grows_the_read_buffer() {
    let t = Tmp::new("huge");
    let path = t.path("h.pcapng");
    let cfg = WriterConfig {
        snaplen: 3 << 20,
        ..WriterConfig::default()
    };
    let big: Vec<u8> = (0..(3 << 20) - 1).map(|i| (i % 251) as u8).collect();
    let mut w = Writer::create(&path, &cfg).unwrap();
    w.write_raw(1, &[1, 2, 3], 3).unwrap();
    w.write_raw(2, &big, big.len() as u32).unwrap();
    w.write_raw(3, &[4], 1).unwrap();
    w.finish().unwrap();
    let mut r = Reader::open(&path).unwrap();
    let (got, err) = read_all(&mut r);
    assert!(err.is_none(), "{err:?}");
    assert_eq!(got.len(), 3);
    assert_eq!(got[1].data, big);
}

#[test]
fn rotation_by_size_and_count() {
    let t = Tmp::new("rot");
    let base = t.path("r.pcap");
    let cfg = WriterConfig {
        format: Format::Pcap,
        rotate_bytes: 10_000,
        buffer_size: 64 << 10,
        ..WriterConfig::default()
    };
    let pk: Vec<(u64, Vec<u8>, u32)> = (0..100u64)
        .map(|i| (i, vec![i as u8; 1000], 1000))
        .collect();
    let mut w = Writer::create(&base, &cfg).unwrap();
    for (ts, d, wl) in &pk {
        w.write_raw(*ts, d, *wl).unwrap();
    }
    let st = w.finish().unwrap();
    // 24 + 9 * 1016 = 9168 bytes per file: 9 packets each.
    assert_eq!(st.files, 12);
    let mut all = Vec::new();
    for n in 0..12 {
        let p = writer::rotated_name(&base, n, 0);
        assert!(std::fs::metadata(&p).unwrap().len() <= 10_000);
        let mut r = Reader::open(&p).unwrap();
        all.extend(read_all(&mut r).0);
    }
    assert_eq!(all.len(), 100);
    assert!(
        all.iter()
            .enumerate()
            .all(|(i, g)| g.ts_ns == i as u64 / 1000 * 1000)
    );
    // A ring of 3 files: names r.pcap0..2, the last three survive.
    let base = t.path("ring.pcapng");
    let cfg = WriterConfig {
        rotate_bytes: 10_000,
        rotate_files: 3,
        ..WriterConfig::default()
    };
    let mut w = Writer::create(&base, &cfg).unwrap();
    for (ts, d, wl) in &pk {
        w.write_raw(*ts, d, *wl).unwrap();
    }
    w.finish().unwrap();
    let mut n = 0;
    for i in 0..3 {
        let mut r = Reader::open(writer::rotated_name(&base, i, 3)).unwrap();
        let (g, e) = read_all(&mut r);
        assert!(e.is_none());
        n += g.len();
    }
    assert!(n < 100 && n > 0);
    assert!(!base.exists());
}

/// Hand-built pcapng in either byte order.
struct Ng {
    big: bool,
    out: Vec<u8>,
}

impl Ng {
    fn new(big: bool) -> Ng {
        Ng {
            big,
            out: Vec::new(),
        }
    }
    fn u16(&self, v: u16) -> [u8; 2] {
        if self.big {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    }
    fn u32(&self, v: u32) -> [u8; 4] {
        if self.big {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    }
    fn opt(&self, body: &mut Vec<u8>, code: u16, v: &[u8]) {
        body.extend_from_slice(&self.u16(code));
        body.extend_from_slice(&self.u16(v.len() as u16));
        body.extend_from_slice(v);
        body.resize(pad4(body.len()), 0);
    }
    fn block(&mut self, t: u32, body: &[u8]) -> &mut Ng {
        let len = (body.len() + 12) as u32;
        let (a, b) = (self.u32(t), self.u32(len));
        self.out.extend_from_slice(&a);
        self.out.extend_from_slice(&b);
        self.out.extend_from_slice(body);
        self.out.extend_from_slice(&b);
        self
    }
    fn shb(&mut self) -> &mut Ng {
        let mut b = Vec::new();
        b.extend_from_slice(&self.u32(pcapng::BOM));
        b.extend_from_slice(&self.u16(1));
        b.extend_from_slice(&self.u16(0));
        b.extend_from_slice(&[0xff; 8]);
        self.block(pcapng::SHB, &b)
    }
    fn idb(&mut self, lt: u16, snap: u32, resol: Option<u8>, offset: Option<i64>) -> &mut Ng {
        let mut b = Vec::new();
        b.extend_from_slice(&self.u16(lt));
        b.extend_from_slice(&[0, 0]);
        b.extend_from_slice(&self.u32(snap));
        if let Some(r) = resol {
            self.opt(&mut b, 9, &[r]);
        }
        if let Some(o) = offset {
            let v = if self.big {
                o.to_be_bytes()
            } else {
                o.to_le_bytes()
            };
            self.opt(&mut b, 14, &v);
        }
        self.opt(&mut b, 0, &[]);
        self.block(pcapng::IDB, &b)
    }
    fn epb(
        &mut self,
        iface: u32,
        units: u64,
        data: &[u8],
        wire: u32,
        flags: Option<u32>,
    ) -> &mut Ng {
        let mut b = Vec::new();
        b.extend_from_slice(&self.u32(iface));
        b.extend_from_slice(&self.u32((units >> 32) as u32));
        b.extend_from_slice(&self.u32(units as u32));
        b.extend_from_slice(&self.u32(data.len() as u32));
        b.extend_from_slice(&self.u32(wire));
        b.extend_from_slice(data);
        b.resize(pad4(b.len()), 0);
        if let Some(f) = flags {
            let v = self.u32(f);
            self.opt(&mut b, 2, &v);
            self.opt(&mut b, 0, &[]);
        }
        self.block(pcapng::EPB, &b)
    }
    fn spb(&mut self, data: &[u8], wire: u32) -> &mut Ng {
        let mut b = Vec::new();
        b.extend_from_slice(&self.u32(wire));
        b.extend_from_slice(data);
        b.resize(pad4(b.len()), 0);
        self.block(pcapng::SPB, &b)
    }
    fn opb(&mut self, iface: u16, units: u64, data: &[u8]) -> &mut Ng {
        let mut b = Vec::new();
        b.extend_from_slice(&self.u16(iface));
        b.extend_from_slice(&self.u16(0));
        b.extend_from_slice(&self.u32((units >> 32) as u32));
        b.extend_from_slice(&self.u32(units as u32));
        b.extend_from_slice(&self.u32(data.len() as u32));
        b.extend_from_slice(&self.u32(data.len() as u32));
        b.extend_from_slice(data);
        b.resize(pad4(b.len()), 0);
        self.block(pcapng::OPB, &b)
    }
}

#[test]
fn pcapng_both_orders_many_interfaces_and_sections() {
    for big in [false, true] {
        let mut ng = Ng::new(big);
        ng.shb()
            .idb(1, 0, None, None) // microseconds (default)
            .block(0xBAD, &[1, 2, 3, 4]) // unknown: skipped
            .idb(101, 128, Some(9), Some(10)) // ns, +10 s
            .epb(0, 1_500_000, b"abcde", 60, None)
            .epb(1, 7, b"xyz", 3, Some(2)) // outbound
            .idb(1, 0, Some(0x80 | 10), None) // 2^-10 s
            .epb(2, 2048, b"q", 1, Some(3 << 2)) // inbound broadcast
            .spb(b"simple", 6)
            .opb(0, 2_000_000, b"obsolete")
            .block(0x4000_0BAD, &[]); // custom-like block, empty body
        // A second section in the other byte order resets interfaces.
        let mut ng2 = Ng::new(!big);
        ng2.shb().idb(1, 0, Some(6), None).epb(0, 3, b"s2", 2, None);
        let mut bytes = ng.out.clone();
        bytes.extend_from_slice(&ng2.out);
        let (r, got, err) = read_bytes(&bytes).unwrap();
        assert!(err.is_none(), "{err:?}");
        assert_eq!(r.big_endian(), !big);
        let want = [
            (
                b"abcde".to_vec(),
                60,
                1_500_000_000,
                0,
                PacketType::Host as u8,
            ),
            (
                b"xyz".to_vec(),
                3,
                10_000_000_007,
                1,
                PacketType::Outgoing as u8,
            ),
            (
                b"q".to_vec(),
                1,
                2_000_000_000,
                2,
                PacketType::Broadcast as u8,
            ),
            (b"simple".to_vec(), 6, 0, 0, 0),
            (b"obsolete".to_vec(), 8, 2_000_000_000, 0, 0),
            (b"s2".to_vec(), 2, 3_000, 0, 0),
        ];
        assert_eq!(got.len(), want.len(), "big={big}");
        for (g, w) in got.iter().zip(want) {
            assert_eq!(
                (g.data.clone(), g.wire_len, g.ts_ns, g.iface, g.pkt_type),
                w
            );
        }
        let (r, _, _) = read_bytes(&ng.out).unwrap();
        assert_eq!(r.interfaces().len(), 3);
        assert_eq!(r.interfaces()[1].tsoffset, 10);
        assert_eq!(r.link_type(), 1);
    }
}

fn pcap_be(nanos: bool, recs: &[(u32, u32, &[u8], u32)]) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(
        &(if nanos {
            pcap::MAGIC_NS
        } else {
            pcap::MAGIC_US
        })
        .to_be_bytes(),
    );
    b.extend_from_slice(&2u16.to_be_bytes());
    b.extend_from_slice(&4u16.to_be_bytes());
    b.extend_from_slice(&[0; 8]);
    b.extend_from_slice(&65535u32.to_be_bytes());
    b.extend_from_slice(&(0x1000_0000u32 | 105).to_be_bytes()); // FCS bits + 802.11
    for (s, f, d, w) in recs {
        b.extend_from_slice(&s.to_be_bytes());
        b.extend_from_slice(&f.to_be_bytes());
        b.extend_from_slice(&(d.len() as u32).to_be_bytes());
        b.extend_from_slice(&w.to_be_bytes());
        b.extend_from_slice(d);
    }
    b
}

#[test]
fn pcap_big_endian_both_resolutions() {
    for nanos in [false, true] {
        let f = pcap_be(nanos, &[(10, 999_999, b"hello", 5), (11, 1, b"", 0)]);
        let (r, got, err) = read_bytes(&f).unwrap();
        assert!(err.is_none());
        assert!(r.big_endian());
        assert_eq!(r.link_type(), 105);
        assert_eq!(r.snaplen(), 65535);
        assert_eq!(got.len(), 2);
        let m = if nanos { 1 } else { 1000 };
        assert_eq!(got[0].ts_ns, 10_000_000_000 + 999_999 * m);
        assert_eq!(got[1].ts_ns, 11_000_000_000 + m);
        assert_eq!(got[0].data, b"hello");
        assert_eq!(got[1].data, b"");
    }
}

fn sample_files() -> Vec<Vec<u8>> {
    let t = Tmp::new("samples");
    let mut out = Vec::new();
    let pk = packets(12);
    for format in [Format::Pcap, Format::PcapNs, Format::Pcapng] {
        let path = t.path("s");
        let cfg = small_buffer(format);
        let mut w = Writer::create(&path, &cfg).unwrap();
        for (ts, d, wl) in &pk {
            let d = &d[..d.len().min(200)];
            w.write_raw(*ts, d, *wl).unwrap();
        }
        w.set_stats(12, 0);
        w.finish().unwrap();
        out.push(std::fs::read(&path).unwrap());
    }
    let mut ng = Ng::new(true);
    ng.shb()
        .idb(1, 0, None, None)
        .idb(1, 64, Some(0x83), Some(-3))
        .epb(1, 99, b"abc", 3, Some(1))
        .spb(b"spb", 3)
        .opb(1, 5, b"opb");
    out.push(ng.out);
    out.push(pcap_be(false, &[(1, 2, b"abcdef", 6), (3, 4, b"gh", 9)]));
    out.extend(TOOL_FILES.iter().map(|(_, f)| f.to_vec()));
    out
}

/// Tiny files written by the reference tools (tests/data): packet i is
/// `[i; 60 + i]` at (1700000000 + i) s + i us.
const TOOL_FILES: [(&str, &[u8]); 3] = [
    (
        "tcpdump.pcap",
        include_bytes!("../../../tests/data/tcpdump.pcap"),
    ),
    (
        "editcap.pcapng",
        include_bytes!("../../../tests/data/editcap.pcapng"),
    ),
    (
        "mergecap-2if.pcapng",
        include_bytes!("../../../tests/data/mergecap-2if.pcapng"),
    ),
];

#[test]
fn files_from_tcpdump_editcap_mergecap() {
    for (name, f) in TOOL_FILES {
        let (r, got, err) = read_bytes(f).unwrap();
        assert!(err.is_none(), "{name}: {err:?}");
        assert_eq!(r.link_type(), 1, "{name}");
        let want = if name.starts_with("merge") { 7 } else { 4 };
        assert_eq!(got.len(), want, "{name}");
        for g in &got {
            let i = g.data.len() - 60;
            assert_eq!(g.data, vec![i as u8; 60 + i], "{name}");
            assert_eq!(g.wire_len as usize, 60 + i);
            assert_eq!(
                g.ts_ns,
                (1_700_000_000 + i as u64) * 1_000_000_000 + i as u64 * 1000,
                "{name}"
            );
        }
        if name.starts_with("merge") {
            let ifs = r.interfaces();
            assert_eq!(ifs.len(), 2);
            assert_eq!((ifs[0].tsresol, ifs[1].tsresol), ((10, 6), (10, 9)));
            assert_eq!(got.iter().filter(|g| g.iface == 1).count(), 3);
        }
    }
}

/// Records end at these offsets: cutting the file there is a clean EOF,
/// anywhere else inside a record is a Malformed error naming the offset.
#[test]
fn every_truncation_is_caught() {
    for f in sample_files() {
        let (_, full, err) = read_bytes(&f).unwrap();
        assert!(err.is_none());
        for cut in 0..f.len() {
            match read_bytes(&f[..cut]) {
                Err(e) => {
                    assert_eq!(e.kind(), ErrorKind::Malformed, "cut {cut}: {e}");
                    assert!(e.message().contains("byte offset"), "{e}");
                }
                Ok((_, got, err)) => {
                    assert!(got.len() <= full.len());
                    assert_eq!(got[..], full[..got.len()], "cut {cut}");
                    if let Some(e) = err {
                        assert_eq!(e.kind(), ErrorKind::Malformed, "cut {cut}: {e}");
                        assert!(e.message().contains("byte offset"), "{e}");
                    }
                }
            }
        }
    }
}

#[test]
fn corrupt_headers_are_rejected_with_offsets() {
    let files = sample_files();
    let pcap = &files[0];
    let ng = &files[2];
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (
            b"hello world, not a capture".to_vec(),
            "byte offset 0: not a pcap",
        ),
        (vec![], "byte offset 0"),
        (
            {
                let mut f = pcap.clone();
                f[24 + 8..24 + 12].copy_from_slice(&u32::MAX.to_ne_bytes());
                f
            },
            "byte offset 24: packet length 4294967295",
        ),
        (
            {
                let mut f = ng.clone();
                f[4..8].copy_from_slice(&13u32.to_ne_bytes());
                f
            },
            "byte offset 4: block length 13",
        ),
        (
            {
                let mut f = ng.clone();
                f[8..12].copy_from_slice(&0x1234_5678u32.to_ne_bytes());
                f
            },
            "byte offset 8: bad pcapng byte-order magic",
        ),
        (
            {
                let mut f = ng.clone();
                let shb_len = u32::from_ne_bytes(f[4..8].try_into().unwrap()) as usize;
                let l = shb_len - 4;
                f[l] ^= 4;
                f
            },
            "trailing length",
        ),
    ];
    for (bytes, want) in cases {
        let e = match read_bytes(&bytes) {
            Err(e) => e,
            Ok((_, _, Some(e))) => e,
            Ok((_, g, None)) => panic!("accepted ({} packets), wanted {want}", g.len()),
        };
        assert_eq!(e.kind(), ErrorKind::Malformed);
        assert!(e.message().contains(want), "{e} (wanted {want})");
    }
    // An EPB on an undescribed interface.
    let mut ng = Ng::new(false);
    ng.shb()
        .idb(1, 0, None, None)
        .epb(0, 1, b"ok", 2, None)
        .epb(4, 1, b"x", 1, None);
    let (_, got, err) = read_bytes(&ng.out).unwrap();
    assert_eq!(got.len(), 1, "packets before the fault are delivered");
    let e = err.unwrap();
    assert!(e.message().contains("interface 4"), "{e}");
    // The error is sticky.
    let mut r = Reader::from_read(Cursor::new(ng.out.clone()), "m").unwrap();
    r.next_batch().unwrap();
    assert!(r.next_batch().is_err());
    assert!(r.next_batch().is_err());
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Mutate valid files (byte flips, interesting values at length fields,
/// cuts, splices) and read them: never a panic, never an out-of-bounds
/// read, never more data than the file holds, errors always Malformed.
/// Short by default; `NETRING_FUZZ_SECS=600` runs longer.
#[test]
fn fuzz_readers() {
    let secs: f64 = std::env::var("NETRING_FUZZ_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(if cfg!(miri) { 0.0 } else { 2.0 });
    let seeds = sample_files();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let deadline = Instant::now() + Duration::from_secs_f64(secs);
    let mut runs = 0u64;
    while runs < 50 || Instant::now() < deadline {
        let mut f = seeds[rng.below(seeds.len())].clone();
        for _ in 0..1 + rng.below(6) {
            let len = f.len();
            match rng.below(6) {
                0 => {
                    let i = rng.below(len);
                    f[i] ^= 1 << rng.below(8);
                }
                1 => {
                    let i = rng.below(len);
                    f[i] = rng.next() as u8;
                }
                2 => {
                    // An interesting 32-bit value at a 4-aligned offset.
                    let i = rng.below(len / 4) * 4;
                    let v: u32 =
                        [0, 1, 4, 12, 0xffff_ffff, 0x8000_0000, 0x0100_0000, 28][rng.below(8)];
                    if i + 4 <= len {
                        f[i..i + 4].copy_from_slice(&v.to_ne_bytes());
                    }
                }
                3 => f.truncate(rng.below(len + 1)),
                4 => {
                    let a = rng.below(len);
                    let b = a + rng.below(len - a);
                    let chunk = f[a..b].to_vec();
                    let at = rng.below(len);
                    f.splice(at..at, chunk);
                }
                _ => {
                    let other = &seeds[rng.below(seeds.len())];
                    let a = rng.below(other.len());
                    f.extend_from_slice(&other[a..]);
                }
            }
            if f.is_empty() {
                break;
            }
        }
        match read_bytes(&f) {
            Ok((_, got, err)) => {
                let total: usize = got.iter().map(|g| g.data.len()).sum();
                assert!(total <= f.len());
                if let Some(e) = err {
                    assert_eq!(e.kind(), ErrorKind::Malformed, "{e}");
                }
            }
            Err(e) => assert_eq!(e.kind(), ErrorKind::Malformed, "{e}"),
        }
        runs += 1;
    }
    eprintln!("fuzz_readers: {runs} mutated files read");
}

#[test]
fn packets_then_batches_lose_nothing() {
    let t = Tmp::new("mix");
    let path = t.path("m.pcap");
    let pk = packets(10);
    write_file(
        &path,
        &WriterConfig {
            format: Format::Pcap,
            ..WriterConfig::default()
        },
        &pk,
    );
    let mut r = Reader::open(&path).unwrap();
    let first = r.next_packet().unwrap().unwrap().data().to_vec();
    assert_eq!(first, pk[0].1);
    let b = r.next_batch().unwrap().unwrap();
    assert_eq!(b.len(), 9);
    assert_eq!(b.iter().next().unwrap().data(), &pk[1].1[..]);
    assert!(r.next_batch().unwrap().is_none());
    assert!(r.next_packet().unwrap().is_none());
}

#[test]
fn next_packet_exact_flags_normalized_records() {
    let mut f = pcap::file_header(false, 65535, 1).to_vec();
    let rec = |f: &mut Vec<u8>, frac: u32, caplen: u32, len: u32| {
        for v in [7u32, frac, caplen, len] {
            f.extend_from_slice(&v.to_ne_bytes());
        }
        f.extend(std::iter::repeat_n(0xab, caplen as usize));
    };
    rec(&mut f, 5, 60, 60);
    rec(&mut f, 5, 60, 20);
    rec(&mut f, 1_500_000, 60, 60);
    rec(&mut f, 999_999, 60, 1514);
    let mut r = Reader::from_read(Cursor::new(f), "mem").unwrap();
    let mut got = Vec::new();
    while let Some((p, exact)) = r.next_packet_exact().unwrap() {
        got.push((p.wire_len, exact));
    }
    assert_eq!(got, [(60, true), (60, false), (60, false), (1514, true)]);
}

#[test]
fn next_packet_is_a_walk_of_the_held_batch() {
    use crate::batch::{Cursor as BatchCursor, HeldBatch};
    let t = Tmp::new("held");
    let path = t.path("h.pcap");
    let pk = packets(6);
    let cfg = WriterConfig {
        format: Format::Pcap,
        ..WriterConfig::default()
    };
    write_file(&path, &cfg, &pk);
    let mut r = Reader::open(&path).unwrap();
    // next_packet holds the batch it walks ...
    assert_eq!(r.next_packet().unwrap().unwrap().data(), &pk[0].1[..]);
    assert!(r.is_held());
    // ... and acquire turns what it has not returned into the held batch.
    assert!(r.acquire().unwrap());
    assert_eq!(r.held_len(), 5);
    let mut seen = Vec::new();
    r.walk_held(&mut BatchCursor::default(), |p| {
        seen.push(p.data().to_vec());
        true
    })
    .unwrap();
    assert_eq!(
        seen,
        pk[1..].iter().map(|p| p.1.clone()).collect::<Vec<_>>()
    );
    // A batch the caller holds blocks a second acquire, not next_packet
    // (which moves on past it, to the end of the file here).
    assert_eq!(r.acquire().unwrap_err().kind(), crate::ErrorKind::Busy);
    assert!(r.next_packet().unwrap().is_none());
    assert!(!r.is_held());
    assert_eq!(
        r.release_held().unwrap_err().kind(),
        crate::ErrorKind::BadBatch
    );
}

#[test]
fn writer_stats_with_delta() {
    let t = Tmp::new("wstats");
    let path = t.path("s.pcap");
    let mut w = Writer::create(&path, &WriterConfig::default()).unwrap();
    let (t0, d0) = w.stats_with_delta();
    assert_eq!(t0, d0);
    for (ts, d, wl) in packets(3) {
        w.write_raw(ts, &d, wl).unwrap();
    }
    let (t1, d1) = w.stats_with_delta();
    assert_eq!((t1.packets, d1.packets, d1.files), (3, 3, 0));
    assert_eq!(d1.bytes, t1.bytes - t0.bytes);
    // stats() does not move the delta's starting point.
    w.write_raw(1, &[0; 60], 60).unwrap();
    assert_eq!(w.stats().packets, 4);
    let (t2, d2) = w.stats_with_delta();
    assert_eq!((t2.packets, d2.packets), (4, 1));
}
