//! A full disk leaves valid capture files (issue 15, item 3): the writer
//! cuts the file back to its last whole record on ENOSPC, for pcap and
//! pcapng, with and without rotation. Each case runs on its own small
//! tmpfs, mounted by the test on a temporary directory and unmounted on
//! drop; the files are checked with `tcpdump -r`, `capinfos` and netring's
//! reader, byte for byte.

mod common;

use std::ffi::CString;
use std::path::{Path, PathBuf};

use common::{OTHER_MAC, check_with_tools, frame};
use netring::ErrorKind;
use netring::pcapfile::{Format, Reader, Writer, WriterConfig};

/// A tmpfs of `kib` KiB on a fresh directory; unmounted and removed on drop.
struct SmallFs {
    dir: PathBuf,
}

impl SmallFs {
    fn new(kib: u32) -> SmallFs {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("nr-fulldisk-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let fs = SmallFs { dir };
        common::run(
            "mount",
            &[
                "-t",
                "tmpfs",
                "-o",
                &format!("size={kib}k,mode=0700"),
                "nr-fulldisk",
                fs.dir.to_str().unwrap(),
            ],
        );
        fs
    }
}

impl Drop for SmallFs {
    fn drop(&mut self) {
        let c = CString::new(self.dir.to_str().unwrap()).unwrap();
        // SAFETY: umount2 on a NUL-terminated path we mounted.
        unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
        let _ = std::fs::remove_dir(&self.dir);
    }
}

fn len_of(k: u32) -> usize {
    60 + (k as usize * 37) % 1455
}

/// Frames with sequence numbers from `*next` on, byte for byte.
fn check_bytes(path: &Path, next: &mut u32) -> u64 {
    let mut r = Reader::open(path).unwrap();
    let mut n = 0;
    while let Some(p) = r.next_packet().unwrap() {
        assert!(
            p.data() == frame(len_of(*next), *next, OTHER_MAC).as_slice(),
            "{}: packet {n} is not frame {next}",
            path.display()
        );
        *next += 1;
        n += 1;
    }
    n
}

fn fill_disk(format: Format, rotate_bytes: u64, rotate_files: u32) {
    let fs = SmallFs::new(256);
    fill_disk_in(&fs.dir, false, format, rotate_bytes, rotate_files);
}

/// Direct I/O on a full disk: a 2 MiB ext4 (tmpfs is not a disk).
fn fill_disk_direct(format: Format, rotate_bytes: u64, rotate_files: u32) {
    let fs = common::Ext4::new(2);
    fill_disk_in(&fs.dir, true, format, rotate_bytes, rotate_files);
}

fn fill_disk_in(dir: &Path, direct: bool, format: Format, rotate_bytes: u64, rotate_files: u32) {
    let base = dir.join("cap");
    let cfg = WriterConfig {
        format,
        rotate_bytes,
        rotate_files,
        buffer_size: 64 << 10,
        direct,
        ..WriterConfig::default()
    };
    let mut w = Writer::create(&base, &cfg).unwrap();
    let mut k = 0u32;
    let e = loop {
        assert!(k < 1_000_000, "the filesystem never filled up");
        let f = frame(len_of(k), k, OTHER_MAC);
        match w.write_raw(
            1_700_000_000_000_000_000 + u64::from(k) * 1000,
            &f,
            f.len() as u32,
        ) {
            Ok(()) => k += 1,
            Err(e) => break e,
        }
    };
    let what = format!(
        "{format:?} rotate_bytes={rotate_bytes} rotate_files={rotate_files} direct={direct}"
    );
    assert_eq!(e.kind(), ErrorKind::System, "{what}: {e}");
    let msg = e.to_string();
    assert!(msg.contains("No space left on device"), "{what}: {msg}");
    assert!(
        msg.contains("last whole record") || msg.contains("was removed"),
        "{what}: {msg}"
    );
    let in_files = w.stats().packets;
    // Closing on a full disk: the ISB may not fit either; the file stays
    // valid whatever the outcome.
    let closed = w.finish();
    // The files, in write order.
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort_by_key(|p| {
        let s = p.file_name().unwrap().to_str().unwrap();
        s.trim_start_matches("cap").parse::<u64>().unwrap_or(0)
    });
    assert!(!files.is_empty(), "{what}: no file left");
    let mut next = 0u32;
    let mut total = 0;
    for f in &files {
        let counted = check_with_tools(f);
        let read = check_bytes(f, &mut next);
        assert_eq!(counted, read, "{what}: {}", f.display());
        total += read;
    }
    eprintln!(
        "{what}: {k} packets accepted before ENOSPC, {total} whole records in {} file(s), \
         stats.packets {in_files}, close: {closed:?}\n  error: {msg}",
        files.len()
    );
    assert_eq!(
        total, in_files,
        "{what}: stats.packets counts the records in the files"
    );
    assert!(total > 0 && total <= u64::from(k), "{what}");
    let m = msg
        .split("it holds ")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .and_then(|n| n.parse::<u64>().ok());
    if rotate_bytes == 0 {
        assert_eq!(m, Some(total), "{what}: the error says how many: {msg}");
    }
}

#[test]
fn full_disk_pcap_leaves_whole_records() {
    fill_disk(Format::Pcap, 0, 0);
}

#[test]
fn full_disk_pcapng_leaves_whole_records() {
    fill_disk(Format::Pcapng, 0, 0);
}

#[test]
fn full_disk_direct_pcap_leaves_whole_records() {
    fill_disk_direct(Format::Pcap, 0, 0);
}

#[test]
fn full_disk_direct_pcapng_leaves_whole_records() {
    fill_disk_direct(Format::Pcapng, 0, 0);
}

#[test]
fn full_disk_direct_with_rotation_pcap() {
    fill_disk_direct(Format::Pcap, 80 << 10, 0);
}

#[test]
fn full_disk_direct_with_a_file_ring_pcapng() {
    fill_disk_direct(Format::Pcapng, 80 << 10, 30);
}

#[test]
fn full_disk_with_rotation_pcap() {
    fill_disk(Format::Pcap, 80 << 10, 0);
}

#[test]
fn full_disk_with_rotation_pcapng() {
    fill_disk(Format::Pcapng, 80 << 10, 0);
}

/// The probe: `nrcap -w` on a full filesystem exits 1 with the
/// ENOSPC error, and the file it leaves is valid and holds the number of
/// packets the message gives.
#[test]
fn nrcap_on_a_full_disk_leaves_a_valid_file() {
    use std::io::Read;
    use std::process::Stdio;
    use std::time::{Duration, Instant};
    for (fmt, direct) in [
        ("pcap", false),
        ("pcapng", false),
        ("pcap", true),
        ("pcapng", true),
    ] {
        // Direct I/O on a 2 MiB ext4 (and 2000 frames of 1514 bytes are
        // more than it holds).
        let (tmp, ext4) = if direct {
            (None, Some(common::Ext4::new(2)))
        } else {
            (Some(SmallFs::new(256)), None)
        };
        let dir = tmp
            .as_ref()
            .map_or_else(|| &ext4.as_ref().unwrap().dir, |t| &t.dir);
        let file = dir.join(format!("cap.{fmt}"));
        let net = common::Net::new();
        const N: u32 = 2000;
        let mut child = net
            .command(cbuild_bin("nrcap").as_str())
            .args(["-i", &net.a, "-q", "-c", &N.to_string(), "-F", fmt])
            .args(if direct { &["--direct"][..] } else { &[] })
            .arg("-w")
            .arg(&file)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Ready: its packet socket is bound (ETH_P_ALL in /proc/net/packet).
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
            tx.send(&frame(1514, k, OTHER_MAC));
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
        let mut err = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        assert_eq!(status.code(), Some(1), "{fmt}: {err}");
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

fn cbuild_bin(name: &str) -> String {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("build/bin")
        .join(name)
        .to_str()
        .unwrap()
        .to_owned()
}

#[test]
fn full_disk_with_a_file_ring_pcapng() {
    // Ten numbered files (cap0..cap9) of 80 KiB: the disk fills before the
    // ring wraps, so the files hold consecutive frames in name order.
    fill_disk(Format::Pcapng, 80 << 10, 10);
}

/// A disk already full: not even the file header fits, and no empty (hence
/// invalid) capture file is left behind.
#[test]
fn already_full_disk_leaves_no_empty_file() {
    let fs = SmallFs::new(64);
    already_full_in(&fs.dir, false);
}

#[test]
fn already_full_disk_direct_leaves_no_empty_file() {
    let fs = common::Ext4::new(2);
    already_full_in(&fs.dir, true);
}

fn already_full_in(dir: &Path, direct: bool) {
    use std::io::Write;
    let mut filler = std::fs::File::create(dir.join("filler")).unwrap();
    let chunk = vec![0u8; 4096];
    while filler.write_all(&chunk).is_ok() {}
    let _ = filler.sync_all();
    for format in [Format::Pcap, Format::Pcapng] {
        let path = dir.join("cap");
        let mut w = Writer::create(
            &path,
            &WriterConfig {
                format,
                buffer_size: 64 << 10,
                direct,
                ..WriterConfig::default()
            },
        )
        .unwrap();
        let f = frame(60, 0, OTHER_MAC);
        w.write_raw(0, &f, 60).unwrap();
        let e = w.flush().unwrap_err();
        assert!(e.to_string().contains("the empty file was removed"), "{e}");
        assert!(!path.exists(), "{format:?}: an empty capture file was left");
        assert_eq!(w.stats().packets, 0);
        drop(w);
        assert!(!path.exists(), "{format:?}: closing recreated the file");
    }
}
