//! `nrcap -w` on real disks (the writer's own tests are the engine's
//! tests/direct.rs and tests/fulldisk.rs): with `--direct` on real traffic
//! over a veth pair, and on a file system that fills up. Each case runs on
//! its own loop-mounted ext4 image or small tmpfs, unmounted on drop.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use netring::pcapfile::Reader;
use netring_testkit::{
    Ext4, Net, OTHER_MAC, Tmpfs, cbuild, check_with_tools, frame, output_within, rotated_files,
    spawn_piped,
};

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
        let net = Net::new();
        let mut cmd = net.command(&cbuild::bin("nrcap"));
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
        let mut child = spawn_piped(cmd.arg("-w").arg(&file));
        net.wait_packet_socket();
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
                    let files = rotated_files(&fs.dir, "cap");
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
        let out = output_within(child, Duration::from_secs(20));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{fmt} {rotate:?}: {err}");
        let files = rotated_files(&fs.dir, "cap");
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

/// The probe: `nrcap -w` on a full filesystem exits 1 with the
/// ENOSPC error, and the file it leaves is valid and holds the number of
/// packets the message gives.
#[test]
fn nrcap_on_a_full_disk_leaves_a_valid_file() {
    for (fmt, direct) in [
        ("pcap", false),
        ("pcapng", false),
        ("pcap", true),
        ("pcapng", true),
    ] {
        // Direct I/O on a 2 MiB ext4 (and 2000 frames of 1514 bytes are
        // more than it holds).
        let (tmp, ext4) = if direct {
            (None, Some(Ext4::new(2)))
        } else {
            (Some(Tmpfs::new(256)), None)
        };
        let dir = tmp
            .as_ref()
            .map_or_else(|| &ext4.as_ref().unwrap().dir, |t| &t.dir);
        let file = dir.join(format!("cap.{fmt}"));
        let net = Net::new();
        const N: u32 = 2000;
        let child = spawn_piped(
            net.command(&cbuild::bin("nrcap"))
                .args(["-i", &net.a, "-q", "-c", &N.to_string(), "-F", fmt])
                .args(if direct { &["--direct"][..] } else { &[] })
                .arg("-w")
                .arg(&file),
        );
        net.wait_packet_socket();
        let tx = net.sender(&net.b);
        for k in 0..N {
            tx.send(&frame(1514, k, OTHER_MAC));
        }
        let out = output_within(child, Duration::from_secs(20));
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{fmt}: {err}");
        assert!(err.contains("No space left on device"), "{fmt}: {err}");
        let held: u64 = err
            .split("it holds ")
            .nth(1)
            .and_then(|r| r.split(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{fmt}: no count in: {err}"));
        let counted = check_with_tools(&file);
        let mut next = 0;
        let mut r = Reader::open(&file).unwrap();
        while let Some(p) = r.next_packet().unwrap() {
            assert!(
                p.data() == frame(1514, next, OTHER_MAC).as_slice(),
                "{fmt}: packet {next}"
            );
            next += 1;
        }
        eprintln!(
            "nrcap -w {fmt} (direct: {direct}) on a full file system: {counted} whole packets, \
             message: {err}"
        );
        assert_eq!(counted, u64::from(next));
        assert!(
            counted >= held && counted > 0,
            "{fmt}: file {counted}, message {held}"
        );
    }
}
