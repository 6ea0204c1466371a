//! Direct-I/O writer (issue 14, item 3): files written with `O_DIRECT` are
//! byte for byte those of the buffered writer, at every flush and at close,
//! pcap and pcapng, with and without rotation; `tcpdump -r` and `capinfos`
//! accept them; `nrcap -w --direct` on real traffic over a veth pair. Each
//! test runs on its own loop-mounted ext4 image (tmpfs is not a disk),
//! unmounted and removed on drop, panics included.

mod common;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{Ext4, OTHER_MAC, check_with_tools, frame};
use netring::pcapfile::{Format, Reader, Writer, WriterConfig};

/// Frame `k`'s length: 60..1514 bytes, now and then a jumbo frame.
fn len_of(k: u32) -> usize {
    if k % 97 == 5 {
        9000 - (k as usize % 300)
    } else {
        60 + (k as usize * 37) % 1455
    }
}

/// The files of a writer at `base`, in write order.
fn files_of(dir: &Path, stem: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_str().unwrap().starts_with(stem))
        .collect();
    files.sort_by_key(|p| {
        let s = p.file_name().unwrap().to_str().unwrap();
        s.trim_start_matches(stem).parse::<u64>().unwrap_or(0)
    });
    files
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
            let p = netring::Packet {
                data: &f,
                ts_ns: ts,
                wire_len: f.len() as u32 + 4,
                ifindex: 0,
                rxhash: 0,
                vlan_tci: 0,
                vlan_tpid: 0,
                protocol: 0,
                pkt_type: 0,
                flags: Default::default(),
                hw: Default::default(),
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
    let (bf, df) = (files_of(&fs.dir, "buf"), files_of(&fs.dir, "dio"));
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

#[test]
fn direct_pcap_same_as_buffered() {
    same_as_buffered(Format::Pcap, 0, 0);
}

#[test]
fn direct_pcap_ns_same_as_buffered() {
    same_as_buffered(Format::PcapNs, 0, 0);
}

#[test]
fn direct_pcapng_same_as_buffered() {
    same_as_buffered(Format::Pcapng, 0, 0);
}

#[test]
fn direct_rotation_pcap() {
    same_as_buffered(Format::Pcap, 700 << 10, 0);
}

#[test]
fn direct_rotation_pcapng_file_ring() {
    same_as_buffered(Format::Pcapng, 700 << 10, 20);
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

/// nrcap -w --direct on real traffic: every frame sent, in order, byte for
/// byte; tcpdump and capinfos agree; with and without rotation; after a
/// flush in a quiet moment mid-capture the files hold whole records.
#[test]
fn nrcap_direct_on_real_traffic() {
    const N: u32 = 3000;
    for (fmt, rotate) in [
        ("pcap", None),
        ("pcapng", None),
        ("pcap", Some("1")),
        ("pcapng", Some("1")),
    ] {
        let fs = Ext4::new(64);
        let file = fs.dir.join("cap");
        let net = common::Net::new();
        let mut cmd = net.command(&cbuild_bin("nrcap"));
        cmd.args([
            "-i",
            &net.a,
            "-q",
            "-c",
            &N.to_string(),
            "-F",
            fmt,
            "--direct",
        ]);
        if let Some(mb) = rotate {
            cmd.args(["-C", mb]);
        }
        let mut child = cmd
            .arg("-w")
            .arg(&file)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let t = Instant::now();
        loop {
            let out = net.command("cat").arg("/proc/net/packet").output().unwrap();
            let text = String::from_utf8_lossy(&out.stdout);
            if text
                .lines()
                .skip(1)
                .any(|l| l.split_whitespace().nth(3) == Some("0003"))
            {
                break;
            }
            assert!(t.elapsed() < Duration::from_secs(10), "nrcap never bound");
            std::thread::sleep(Duration::from_millis(20));
        }
        let tx = net.sender(&net.b);
        for k in 0..N {
            if k == N / 2 {
                // A quiet moment mid-capture: nrcap flushes (after 1 s
                // without a block), and the file(s) must then be complete
                // while it still runs.
                let t = Instant::now();
                let whole = |files: &[PathBuf]| -> Option<u32> {
                    let mut n = 0;
                    for f in files {
                        let mut r = Reader::open(f).ok()?;
                        while r.next_packet().ok()?.is_some() {
                            n += 1;
                        }
                    }
                    Some(n)
                };
                loop {
                    let files = files_of(&fs.dir, "cap");
                    if whole(&files) == Some(N / 2) {
                        let counted: u64 = files.iter().map(|f| check_with_tools(f)).sum();
                        assert_eq!(counted, u64::from(N / 2), "{fmt} {rotate:?} mid-capture");
                        break;
                    }
                    assert!(
                        t.elapsed() < Duration::from_secs(15),
                        "{fmt} {rotate:?}: mid-capture the files never held {} whole packets",
                        N / 2
                    );
                    std::thread::sleep(Duration::from_millis(100));
                }
                assert!(
                    child.try_wait().unwrap().is_none(),
                    "nrcap is still running"
                );
            }
            tx.send(&frame(60 + (k as usize * 37) % 1455, k, OTHER_MAC));
            if k % 256 == 255 {
                // Stay below what the ring holds on a loaded machine.
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        let t = Instant::now();
        let status = loop {
            if let Some(s) = child.try_wait().unwrap() {
                break s;
            }
            if t.elapsed() > Duration::from_secs(20) {
                let _ = child.kill();
                panic!("{fmt}: nrcap did not finish");
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(status.success(), "{fmt} {rotate:?}: {err}");
        let files = files_of(&fs.dir, "cap");
        if rotate.is_some() {
            assert!(files.len() >= 2, "{fmt}: {} files", files.len());
        }
        let mut next = 0u32;
        for f in &files {
            let counted = check_with_tools(f);
            let mut r = Reader::open(f).unwrap();
            let mut n = 0;
            while let Some(p) = r.next_packet().unwrap() {
                assert!(
                    p.data() == frame(60 + (next as usize * 37) % 1455, next, OTHER_MAC).as_slice(),
                    "{fmt} {rotate:?}: packet {next}"
                );
                next += 1;
                n += 1;
            }
            assert_eq!(counted, n, "{fmt}: {}", f.display());
        }
        assert_eq!(next, N, "{fmt} {rotate:?}: {err}");
        eprintln!(
            "nrcap -w --direct {fmt} {rotate:?}: {N} packets in {} file(s)",
            files.len()
        );
    }
}

fn cbuild_bin(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("build/bin")
        .join(name)
        .to_str()
        .unwrap()
        .to_owned()
}
