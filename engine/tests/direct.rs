//! Direct-I/O writer (issue 14, item 3): files written with `O_DIRECT` are
//! byte for byte those of the buffered writer, at every flush and at close,
//! pcap and pcapng, with and without rotation; `tcpdump -r` and `capinfos`
//! accept them (`nrcap -w --direct` on real traffic: tests/files_c.rs). Each
//! test runs on its own loop-mounted ext4 image (tmpfs is not a disk),
//! unmounted and removed on drop, panics included.

mod common;

use common::{Ext4, OTHER_MAC, check_with_tools, frame, rotated_files};
use netring_engine::pcapfile::{Format, Reader, Writer, WriterConfig};

/// Frame `k`'s length: 60..1514 bytes, now and then a jumbo frame.
fn len_of(k: u32) -> usize {
    if k % 97 == 5 {
        9000 - (k as usize % 300)
    } else {
        60 + (k as usize * 37) % 1455
    }
}

/// The bytes of a finished file up to its pcapng statistics block (whose
/// timestamp is the time of closing), or all of a pcap file.
fn without_isb(b: &[u8], format: Format) -> &[u8] {
    if format != Format::Pcapng {
        return b;
    }
    let n = u32::from_ne_bytes(b[b.len() - 4..].try_into().unwrap()) as usize;
    let at = b.len() - n;
    assert_eq!(
        u32::from_ne_bytes(b[at..at + 4].try_into().unwrap()),
        5,
        "the last block is the ISB"
    );
    &b[..at]
}

/// Write the same packets with a buffered and a direct writer, flushing
/// both now and then: after every flush the direct file is byte for byte
/// the buffered one and the tools read it; at close too (ISB aside).
fn same_as_buffered(format: Format, rotate_bytes: u64, rotate_files: u32) {
    let fs = Ext4::new(64);
    let what = format!("{format:?} rotate_bytes={rotate_bytes} rotate_files={rotate_files}");
    let cfg = WriterConfig {
        format,
        rotate_bytes,
        rotate_files,
        buffer_size: 64 << 10,
        if_name: Some("veth0".into()),
        comment: Some("direct".into()),
        ..WriterConfig::default()
    };
    let mut bw = Writer::create(fs.dir.join("buf"), &cfg).unwrap();
    let mut dw = Writer::create(
        fs.dir.join("dio"),
        &WriterConfig {
            direct: true,
            ..cfg.clone()
        },
    )
    .unwrap();
    const N: u32 = 6000;
    let mut flushes = 0;
    for k in 0..N {
        let f = frame(len_of(k), k, OTHER_MAC);
        let ts = 1_700_000_000_000_000_000 + u64::from(k) * 1_234_567;
        if k % 501 == 7 && format == Format::Pcapng {
            let p = netring_engine::Packet {
                data: &f,
                ts_ns: ts,
                wire_len: f.len() as u32 + 4,
                ..netring_engine::Packet::default()
            };
            bw.write_with_comment(&p, "a comment").unwrap();
            dw.write_with_comment(&p, "a comment").unwrap();
        } else {
            bw.write_raw(ts, &f, f.len() as u32 + 4).unwrap();
            dw.write_raw(ts, &f, f.len() as u32 + 4).unwrap();
        }
        // Flush at irregular points, sometimes twice in a row.
        if k % 1733 == 1000 || k % 1733 == 1001 || k == 2 {
            bw.flush().unwrap();
            dw.flush().unwrap();
            flushes += 1;
            let (bp, dp) = (bw.current_path().unwrap(), dw.current_path().unwrap());
            let (b, d) = (std::fs::read(&bp).unwrap(), std::fs::read(&dp).unwrap());
            assert!(b == d, "{what}: after flush {flushes} the files differ");
            assert!(check_with_tools(&dp) > 0, "{what}");
        }
    }
    assert_eq!(bw.stats(), dw.stats(), "{what}");
    bw.finish().unwrap();
    let st = dw.finish().unwrap();
    let (bf, df) = (rotated_files(&fs.dir, "buf"), rotated_files(&fs.dir, "dio"));
    assert_eq!(bf.len(), df.len(), "{what}");
    assert_eq!(st.files as usize, df.len(), "{what}");
    if rotate_bytes > 0 {
        assert!(df.len() > 3, "{what}: {} files", df.len());
    }
    let mut next = 0u32;
    for (b, d) in bf.iter().zip(&df) {
        let (bb, db) = (std::fs::read(b).unwrap(), std::fs::read(d).unwrap());
        assert_eq!(bb.len(), db.len(), "{what}: {}", d.display());
        assert!(
            without_isb(&bb, format) == without_isb(&db, format),
            "{what}: {} differs",
            d.display()
        );
        let counted = check_with_tools(d);
        let mut r = Reader::open(d).unwrap();
        let mut n = 0;
        while let Some(p) = r.next_packet().unwrap() {
            assert!(
                p.data() == frame(len_of(next), next, OTHER_MAC).as_slice(),
                "{what}: packet {next}"
            );
            next += 1;
            n += 1;
        }
        assert_eq!(counted, n, "{what}: {}", d.display());
    }
    assert_eq!(next, N, "{what}");
    eprintln!(
        "{what}: {N} packets, {} file(s), {flushes} flushes",
        df.len()
    );
}

common::cases! {
    direct_pcap_same_as_buffered => same_as_buffered(Format::Pcap, 0, 0);
    direct_pcap_ns_same_as_buffered => same_as_buffered(Format::PcapNs, 0, 0);
    direct_pcapng_same_as_buffered => same_as_buffered(Format::Pcapng, 0, 0);
    direct_rotation_pcap => same_as_buffered(Format::Pcap, 700 << 10, 0);
    direct_rotation_pcapng_file_ring => same_as_buffered(Format::Pcapng, 700 << 10, 20);
}

#[test]
fn direct_needs_a_path_and_a_file_system_that_has_it() {
    let cfg = WriterConfig {
        direct: true,
        ..WriterConfig::default()
    };
    let fs = Ext4::new(8);
    let f = std::fs::File::create(fs.dir.join("fd")).unwrap();
    let e = Writer::from_fd(f.into(), &cfg).unwrap_err();
    assert!(e.to_string().contains("direct I/O needs a path"), "{e}");
}
