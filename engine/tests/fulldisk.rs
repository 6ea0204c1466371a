//! A full disk leaves valid capture files (issue 15, item 3): the writer
//! cuts the file back to its last whole record on ENOSPC, for pcap and
//! pcapng, with and without rotation (`nrcap -w` on a full disk:
//! tests/files_c.rs). Each case runs on its own small tmpfs (or ext4 for
//! direct I/O), unmounted on drop; the files are checked with `tcpdump -r`,
//! `capinfos` and netring's reader, byte for byte.

mod common;

use std::path::Path;

use common::{Ext4, OTHER_MAC, Tmpfs, check_with_tools, frame, rotated_files};
use netring_engine::ErrorKind;
use netring_engine::pcapfile::{Format, Reader, Writer, WriterConfig};

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
    let fs = Tmpfs::new(256);
    fill_disk_in(&fs.dir, false, format, rotate_bytes, rotate_files);
}

/// Direct I/O on a full disk: a 2 MiB ext4 (tmpfs is not a disk).
fn fill_disk_direct(format: Format, rotate_bytes: u64, rotate_files: u32) {
    let fs = Ext4::new(2);
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
    let files = rotated_files(dir, "cap");
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

common::cases! {
    full_disk_pcap_leaves_whole_records => fill_disk(Format::Pcap, 0, 0);
    full_disk_pcapng_leaves_whole_records => fill_disk(Format::Pcapng, 0, 0);
    full_disk_direct_pcap_leaves_whole_records => fill_disk_direct(Format::Pcap, 0, 0);
    full_disk_direct_pcapng_leaves_whole_records => fill_disk_direct(Format::Pcapng, 0, 0);
    full_disk_direct_with_rotation_pcap => fill_disk_direct(Format::Pcap, 80 << 10, 0);
    full_disk_direct_with_a_file_ring_pcapng => fill_disk_direct(Format::Pcapng, 80 << 10, 30);
    full_disk_with_rotation_pcap => fill_disk(Format::Pcap, 80 << 10, 0);
    full_disk_with_rotation_pcapng => fill_disk(Format::Pcapng, 80 << 10, 0);
    /// Ten numbered files (cap0..cap9) of 80 KiB: the disk fills before the
    /// ring wraps, so the files hold consecutive frames in name order.
    full_disk_with_a_file_ring_pcapng => fill_disk(Format::Pcapng, 80 << 10, 10);
}

/// A disk already full: not even the file header fits, and no empty (hence
/// invalid) capture file is left behind.
#[test]
fn already_full_disk_leaves_no_empty_file() {
    let fs = Tmpfs::new(64);
    already_full_in(&fs.dir, false);
}

#[test]
fn already_full_disk_direct_leaves_no_empty_file() {
    let fs = Ext4::new(2);
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
