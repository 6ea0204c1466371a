//! [`Writer`]: buffered pcap/pcapng output with optional rotation.

use std::fs::{File, OpenOptions};
use std::io::{self, Seek, SeekFrom, Write};
use std::os::fd::OwnedFd;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, mpsc};
use std::thread::JoinHandle;

use super::aligned::{ALIGN, AlignedBuf, align_up};
use super::{Format, LINKTYPE_ETHERNET, MAX_RECORD, pad4, pcap, pcapng};
use crate::afpacket::Batch;
use crate::error::{Error, Result};
use crate::packet::Packet;
use crate::stats::{Counters, Reported};

/// Writer configuration. `Default` gives the documented defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriterConfig {
    /// File layout. Default [`Format::Pcapng`].
    pub format: Format,
    /// Bytes of each packet to store (longer packets are cut; their wire
    /// length is kept). 1..=16 MiB. Default 262144.
    pub snaplen: u32,
    /// Link type of the packets (`LINKTYPE_*`). Default 1 (Ethernet).
    /// pcapng stores 16 bits.
    pub link_type: u32,
    /// Bytes buffered before a `write(2)`. 64 KiB..=256 MiB. Default 1 MiB.
    pub buffer_size: usize,
    /// Start a new file when the current one would exceed this many bytes
    /// (like `tcpdump -C`, but in bytes). 0 = never. Default 0.
    pub rotate_bytes: u64,
    /// With `rotate_bytes`: keep at most this many files, reusing names in
    /// a ring (like `tcpdump -W`). 0 = unlimited. Default 0.
    pub rotate_files: u32,
    /// pcapng: the interface name (`if_name`). Default none.
    pub if_name: Option<String>,
    /// pcapng: a comment for the section (`opt_comment` in the SHB).
    /// Default none.
    pub comment: Option<String>,
    /// Direct I/O: open the file with `O_DIRECT` and write it from two
    /// buffers of `buffer_size` bytes rounded up to whole 2 MiB transparent
    /// huge pages (`MADV_HUGEPAGE`: the kernel pins each `O_DIRECT` write's
    /// buffer page by page, and 2 MiB pages make that cheap), one filling
    /// while a background thread writes the other, so a full buffer costs
    /// the capture no wait unless the disk is slower than the traffic. Packets are copied once, from the ring into the aligned
    /// buffer; the page cache is bypassed. Between flushes the file may end
    /// inside a record (only whole 4 KiB blocks go out); [`Writer::flush`]
    /// and close write the tail padded to 4 KiB and cut the file back
    /// (`ftruncate`) to its last byte, so after them it holds whole records
    /// only. A write error of the background thread is reported by a later
    /// call (write, flush or close), with the full-disk handling described
    /// on [`Writer`]. Needs a path (not a descriptor) on a file system that
    /// supports `O_DIRECT` (ext4, xfs, ...; not tmpfs): opening fails
    /// otherwise. Default false.
    pub direct: bool,
}

impl Default for WriterConfig {
    fn default() -> Self {
        WriterConfig {
            format: Format::Pcapng,
            snaplen: 262_144,
            link_type: LINKTYPE_ETHERNET,
            buffer_size: 1 << 20,
            rotate_bytes: 0,
            rotate_files: 0,
            if_name: None,
            comment: None,
            direct: false,
        }
    }
}

impl WriterConfig {
    /// Check every field; the error names the field and the rule.
    pub fn validate(&self) -> Result<()> {
        if self.snaplen == 0 || self.snaplen as usize > MAX_RECORD {
            return Err(Error::config(format!(
                "snaplen {} must be between 1 and {MAX_RECORD}",
                self.snaplen
            )));
        }
        if self.format == Format::Pcapng && self.link_type > 0xffff {
            return Err(Error::config(format!(
                "link_type {} does not fit pcapng's 16 bits",
                self.link_type
            )));
        }
        if self.buffer_size < (64 << 10) || self.buffer_size > (256 << 20) {
            return Err(Error::config(format!(
                "buffer_size {} must be between 65536 and 268435456",
                self.buffer_size
            )));
        }
        if self.rotate_files > 0 && self.rotate_bytes == 0 {
            return Err(Error::config(
                "rotate_files needs rotate_bytes (files rotate by size)",
            ));
        }
        if self.rotate_bytes > 0 && self.rotate_bytes < 4096 {
            return Err(Error::config(format!(
                "rotate_bytes {} is below 4096",
                self.rotate_bytes
            )));
        }
        Ok(())
    }
}

/// What a writer has done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WriterStats {
    /// Packets written (buffered included). After a failed write (a full
    /// disk, ...) the packets cut from the file are no longer counted: this
    /// is then the number of whole records in the file(s) plus what is
    /// buffered.
    pub packets: u64,
    /// Bytes of output produced (headers included, buffered included).
    pub bytes: u64,
    /// Files opened (1 without rotation).
    pub files: u64,
}

impl Counters for WriterStats {
    fn since(&self, e: &Self) -> Self {
        WriterStats {
            packets: self.packets.saturating_sub(e.packets),
            bytes: self.bytes.saturating_sub(e.bytes),
            files: self.files - e.files,
        }
    }
}

/// The `n`-th file name, as tcpdump names them: without a file limit
/// `path`, `path1`, `path2`, ...; with a limit of `w` files, `path` followed
/// by `n % w` zero-padded to the digits of `w - 1` (`w` = 1 reuses `path`).
pub fn rotated_name(path: &Path, n: u64, w: u32) -> PathBuf {
    let (idx, width) = if w > 0 {
        let mut digits = 0;
        let mut x = w - 1;
        while x > 0 {
            digits += 1;
            x /= 10;
        }
        (n % u64::from(w), digits)
    } else {
        (n, 0)
    };
    if idx == 0 && width == 0 {
        return path.to_path_buf();
    }
    let mut s = path.as_os_str().to_owned();
    s.push(format!("{idx:0width$}"));
    PathBuf::from(s)
}

/// A pcap or pcapng file being written. Packets go to a large buffer that
/// is written out when full, on [`Writer::flush`], and on close; no system
/// call and no allocation per packet.
///
/// Dropping the writer closes it like [`Writer::finish`] but ignores errors.
///
/// A failed `write(2)` (a full disk, a quota, ...) never leaves half a
/// record: the file is cut back to its last whole record (`ftruncate`), the
/// records that did not fit are dropped and uncounted, and the error says
/// how many packets the file holds. Later writes append after that record,
/// so the file stays valid whatever happens next.
#[derive(Debug)]
pub struct Writer {
    cfg: WriterConfig,
    out: Option<Arc<File>>,
    path: Option<PathBuf>,
    buf: AlignedBuf,
    /// Scratch space for the rare blocks built by the pcapng helpers.
    scratch: Vec<u8>,
    /// Direct-I/O state (`cfg.direct`).
    direct: Option<Direct>,
    nanos: bool,
    file_no: u64,
    file_bytes: u64,
    file_packets: u64,
    stats: WriterStats,
    reported: Reported<WriterStats>,
    first_ts: Option<u64>,
    last_ts: u64,
    recv: Option<u64>,
    drop: Option<u64>,
    done: bool,
    /// The buffer starts with the pcap file header (not yet written).
    buf_has_header: bool,
    /// Packet records of the current file already written out.
    file_packets_out: u64,
}

/// Where the whole records of a writer's buffer end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Cut {
    /// Byte length of the longest prefix of whole records within the limit.
    keep: usize,
    /// Packet records in that prefix.
    packets: u64,
    /// Packet records in the whole buffer.
    total_packets: u64,
}

/// Walk the records of `buf` (which starts at a record boundary, or with
/// the pcap file header when `pcap_header`) and find the longest prefix of
/// whole records no longer than `limit`.
fn whole_records(buf: &[u8], format: Format, pcap_header: bool, limit: usize) -> Cut {
    let rd32 = |at: usize| {
        buf.get(at..at + 4)
            .map_or(0, |b| u32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
    };
    let mut cut = Cut {
        keep: 0,
        packets: 0,
        total_packets: 0,
    };
    let mut pos = 0usize;
    if pcap_header && format != Format::Pcapng {
        pos = pcap::FILE_HDR_LEN;
        if pos <= limit {
            cut.keep = pos;
        }
    }
    while pos < buf.len() {
        let (len, packet) = match format {
            Format::Pcap | Format::PcapNs => (pcap::REC_HDR_LEN + rd32(pos + 8) as usize, true),
            Format::Pcapng => (rd32(pos + 4) as usize, rd32(pos) == pcapng::EPB),
        };
        if len == 0 || pos + len > buf.len() {
            // Cannot happen for a buffer this writer filled; stop safely.
            break;
        }
        pos += len;
        if packet {
            cut.total_packets += 1;
        }
        if pos <= limit {
            cut.keep = pos;
            if packet {
                cut.packets += 1;
            }
        }
    }
    cut
}

/// Record boundaries of `buf`, whose first boundary is at `rec0` (with the
/// pcap file header there when `pcap_header`), around `limit`: the last
/// boundary at or before `limit` (None when `limit < rec0`) and the first
/// at or after it (the end of the walk if none), each with the number of
/// packet records before it counted from `rec0`.
fn bounds(
    buf: &[u8],
    format: Format,
    pcap_header: bool,
    rec0: usize,
    limit: usize,
) -> (Option<(usize, u64)>, (usize, u64)) {
    let rd32 = |at: usize| {
        buf.get(at..at + 4)
            .map_or(0, |b| u32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
    };
    let mut last = None;
    let mut pos = rec0;
    let mut packets = 0u64;
    if pcap_header && format != Format::Pcapng {
        if pos <= limit {
            last = Some((pos, 0));
        }
        if pos >= limit {
            return (last, (pos, 0));
        }
        pos += pcap::FILE_HDR_LEN;
    }
    loop {
        if pos <= limit {
            last = Some((pos, packets));
        }
        if pos >= limit || pos >= buf.len() {
            return (last, (pos, packets));
        }
        let (len, packet) = match format {
            Format::Pcap | Format::PcapNs => (pcap::REC_HDR_LEN + rd32(pos + 8) as usize, true),
            Format::Pcapng => (rd32(pos + 4) as usize, rd32(pos) == pcapng::EPB),
        };
        if len == 0 || pos + len > buf.len() {
            // Cannot happen for a buffer this writer filled; stop safely.
            return (last, (buf.len(), packets));
        }
        pos += len;
        if packet {
            packets += 1;
        }
    }
}

/// Where a direct-I/O buffer sits in its file.
#[derive(Debug, Clone, Copy, Default)]
struct Meta {
    /// File offset of the buffer's first byte (a multiple of [`ALIGN`]).
    off: u64,
    /// Buffer offset of the first record boundary (bytes before it are the
    /// end of a record that began in an earlier buffer).
    rec0: usize,
    /// The buffer starts with the file header.
    hdr: bool,
    /// Packet records in the file before `rec0`.
    base_packets: u64,
    /// The last record boundary of the file before `off + rec0`, and the
    /// packet records before it.
    prev_end: u64,
    prev_packets: u64,
}

impl Meta {
    /// The last whole record at or before buffer offset `limit`: its file
    /// offset and the packets before it.
    fn cut(&self, buf: &[u8], format: Format, limit: usize) -> (u64, u64) {
        let (last, _) = bounds(buf, format, self.hdr, self.rec0, limit);
        last.map_or((self.prev_end, self.prev_packets), |(p, k)| {
            (self.off + p as u64, self.base_packets + k)
        })
    }

    /// The placement of the next buffer, which starts with `buf[a..]`
    /// (`a` a multiple of [`ALIGN`]).
    fn carry(&self, buf: &[u8], format: Format, a: usize) -> Meta {
        let (last, first) = bounds(buf, format, self.hdr, self.rec0, a);
        let (prev_end, prev_packets) = last.map_or((self.prev_end, self.prev_packets), |(p, k)| {
            (self.off + p as u64, self.base_packets + k)
        });
        Meta {
            off: self.off + a as u64,
            rec0: first.0.saturating_sub(a),
            hdr: false,
            base_packets: self.base_packets + first.1,
            prev_end,
            prev_packets,
        }
    }
}

/// A full buffer for the I/O thread: write `buf[..len]` at `off`.
struct Job {
    file: Arc<File>,
    buf: AlignedBuf,
    off: u64,
    len: usize,
}

/// The I/O thread's answer: the buffer back, bytes written, the error.
struct Done {
    buf: AlignedBuf,
    written: usize,
    err: Option<io::Error>,
}

/// `pwrite` all of `b` (whole 4 KiB blocks) at `off` with direct I/O;
/// returns the bytes written and the error that stopped it. A direct write
/// that does not fit the disk fails whole (ENOSPC, nothing written), so it
/// is retried in halves down to one block: the file gets every block that
/// fits, as a buffered write would.
fn write_at_all(f: &File, b: &[u8], off: u64) -> (usize, Option<io::Error>) {
    let mut w = 0usize;
    let mut chunk = b.len();
    while w < b.len() {
        let end = b.len().min(w + chunk);
        match f.write_at(&b[w..end], off + w as u64) {
            Ok(0) => return (w, Some(io::Error::from(io::ErrorKind::WriteZero))),
            Ok(n) => w += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e)
                if chunk > ALIGN
                    && matches!(e.raw_os_error(), Some(libc::ENOSPC | libc::EDQUOT)) =>
            {
                chunk = align_up(chunk / 2).min(chunk - ALIGN).max(ALIGN);
            }
            Err(e) => return (w, Some(e)),
        }
    }
    (w, None)
}

/// Direct-I/O state: the spare buffer, the I/O thread, where the current
/// buffer sits in the file.
#[derive(Debug)]
struct Direct {
    jobs: Option<mpsc::Sender<Job>>,
    /// In a mutex only to keep [`Writer`] `Sync` (a receiver is not); it
    /// is taken once per buffer, never contended.
    done: Mutex<mpsc::Receiver<Done>>,
    thread: Option<JoinHandle<()>>,
    /// The second buffer; None while the I/O thread writes it.
    spare: Option<AlignedBuf>,
    /// Placement of the buffer being filled.
    meta: Meta,
    /// Placement of the buffer being written, while it is.
    inflight: Option<Meta>,
    /// Length of the buffer at the last flush (nothing new if unchanged).
    synced_len: usize,
}

impl Direct {
    fn new(cap: usize) -> Result<Direct> {
        let (jobs, jobs_rx) = mpsc::channel::<Job>();
        let (done_tx, done) = mpsc::channel::<Done>();
        let thread = std::thread::Builder::new()
            .name("nr-writer-io".into())
            .spawn(move || {
                for j in jobs_rx {
                    let (written, err) = write_at_all(&j.file, &j.buf[..j.len], j.off);
                    drop(j.file);
                    if done_tx
                        .send(Done {
                            buf: j.buf,
                            written,
                            err,
                        })
                        .is_err()
                    {
                        break;
                    }
                }
            })
            .map_err(|e| Error::os("starting the direct-I/O writer thread", e))?;
        Ok(Direct {
            jobs: Some(jobs),
            done: Mutex::new(done),
            thread: Some(thread),
            spare: Some(AlignedBuf::huge(cap)),
            meta: Meta::default(),
            inflight: None,
            synced_len: 0,
        })
    }
}

impl Drop for Direct {
    fn drop(&mut self) {
        self.jobs = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Writer {
    /// Create (truncate) `path` and write the file header. With a file
    /// limit (`rotate_files`) the first file is already numbered (see
    /// [`rotated_name`]).
    pub fn create(path: impl AsRef<Path>, cfg: &WriterConfig) -> Result<Writer> {
        let path = path.as_ref();
        let mut w = Writer::new(cfg, Some(path.to_path_buf()))?;
        w.open_file(&rotated_name(path, 0, cfg.rotate_files))?;
        Ok(w)
    }

    /// Write to an already open descriptor (a file, a pipe, stdout); the
    /// writer owns it and closes it. Rotation is not possible here.
    pub fn from_fd(fd: OwnedFd, cfg: &WriterConfig) -> Result<Writer> {
        if cfg.rotate_bytes > 0 {
            return Err(Error::config(
                "rotation needs a path, not a file descriptor",
            ));
        }
        if cfg.direct {
            return Err(Error::config(
                "direct I/O needs a path, not a file descriptor",
            ));
        }
        let mut w = Writer::new(cfg, None)?;
        w.out = Some(Arc::new(File::from(fd)));
        w.start_file();
        Ok(w)
    }

    fn new(cfg: &WriterConfig, path: Option<PathBuf>) -> Result<Writer> {
        cfg.validate()?;
        let max_rec = cfg.snaplen as usize + 64;
        let cap = cfg.buffer_size.max(2 * max_rec);
        let direct = if cfg.direct {
            Some(Direct::new(cap)?)
        } else {
            None
        };
        Ok(Writer {
            cfg: cfg.clone(),
            out: None,
            path,
            buf: if cfg.direct {
                AlignedBuf::huge(cap)
            } else {
                AlignedBuf::with_capacity(cap)
            },
            scratch: Vec::new(),
            direct,
            nanos: cfg.format == Format::PcapNs,
            file_no: 0,
            file_bytes: 0,
            file_packets: 0,
            stats: WriterStats::default(),
            reported: Reported::default(),
            first_ts: None,
            last_ts: 0,
            recv: None,
            drop: None,
            done: false,
            buf_has_header: false,
            file_packets_out: 0,
        })
    }

    fn open_file(&mut self, path: &Path) -> Result<()> {
        let f = if let Some(d) = self.direct.as_mut() {
            let f = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(true)
                .custom_flags(libc::O_DIRECT)
                .open(path)
                .map_err(|e| {
                    let what = if e.raw_os_error() == Some(libc::EINVAL) {
                        "; the file system does not support direct I/O (O_DIRECT)"
                    } else {
                        ""
                    };
                    let err = Error::os(
                        format!("creating capture file '{}' for direct I/O", path.display()),
                        e,
                    );
                    Error::new(err.kind(), format!("{}{what}", err.message()))
                })?;
            self.buf.clear();
            d.meta = Meta {
                hdr: true,
                ..Meta::default()
            };
            d.synced_len = 0;
            f
        } else {
            File::create(path)
                .map_err(|e| Error::os(format!("creating capture file '{}'", path.display()), e))?
        };
        self.out = Some(Arc::new(f));
        self.start_file();
        Ok(())
    }

    /// Put the file header into the (empty) buffer.
    fn start_file(&mut self) {
        let before = self.buf.len();
        match self.cfg.format {
            Format::Pcap | Format::PcapNs => self.buf.extend_from_slice(&pcap::file_header(
                self.nanos,
                self.cfg.snaplen,
                self.cfg.link_type,
            )),
            Format::Pcapng => {
                let mut s = std::mem::take(&mut self.scratch);
                s.clear();
                pcapng::shb(&mut s, self.cfg.comment.as_deref());
                pcapng::idb(
                    &mut s,
                    self.cfg.link_type as u16,
                    self.cfg.snaplen,
                    self.cfg.if_name.as_deref(),
                );
                self.buf.extend_from_slice(&s);
                self.scratch = s;
            }
        }
        let n = (self.buf.len() - before) as u64;
        self.buf_has_header = true;
        self.file_bytes = n;
        self.file_packets = 0;
        self.file_packets_out = 0;
        self.stats.bytes += n;
        self.stats.files += 1;
    }

    /// The configuration in use.
    pub fn config(&self) -> &WriterConfig {
        &self.cfg
    }

    /// Counters so far.
    pub fn stats(&self) -> WriterStats {
        self.stats
    }

    /// Counters so far and the change since the previous call of this
    /// function (see [`crate::stats`]). After a failed write took records
    /// back out of the totals, the change is 0, not negative.
    pub fn stats_with_delta(&mut self) -> (WriterStats, WriterStats) {
        self.reported.report(self.stats)
    }

    /// The name of the file being written (None for a descriptor).
    pub fn current_path(&self) -> Option<PathBuf> {
        self.path
            .as_deref()
            .map(|p| rotated_name(p, self.file_no, self.cfg.rotate_files))
    }

    /// The counts the pcapng Interface Statistics Block written at close
    /// reports: packets the interface received and dropped (for example
    /// [`CaptureStats`](crate::CaptureStats) `packets + drops` and `drops`). Ignored for
    /// pcap.
    pub fn set_stats(&mut self, received: u64, dropped: u64) {
        self.recv = Some(received);
        self.drop = Some(dropped);
    }

    /// Write out everything buffered (one `write(2)` in the usual case).
    ///
    /// On a failed or short write the file is cut back to its last whole
    /// record (see [`Writer`]); the error names the file, the cause, and the
    /// packets the file holds.
    pub fn flush(&mut self) -> Result<()> {
        if self.direct.is_some() {
            return self.direct_flush();
        }
        if self.buf.is_empty() {
            return Ok(());
        }
        let Some(out) = self.out.as_deref() else {
            return Err(Error::invalid_arg("the writer is closed"));
        };
        let mut out: &File = out;
        let mut written = 0usize;
        let r = loop {
            if written == self.buf.len() {
                break Ok(());
            }
            match out.write(&self.buf[written..]) {
                Ok(0) => break Err(io::Error::from(io::ErrorKind::WriteZero)),
                Ok(n) => written += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => break Err(e),
            }
        };
        match r {
            Ok(()) => {
                let cut = whole_records(&self.buf, self.cfg.format, self.buf_has_header, written);
                self.file_packets_out += cut.total_packets;
                self.buf.clear();
                self.buf_has_header = false;
                Ok(())
            }
            Err(e) => Err(self.write_failed(written, e)),
        }
    }

    /// A write failed after `written` bytes of the buffer: cut the file back
    /// to the last whole record, uncount the records that did not make it,
    /// and build the error.
    #[cold]
    fn write_failed(&mut self, written: usize, e: io::Error) -> Error {
        let name = self
            .current_path()
            .map_or("<fd>".into(), |p| p.display().to_string());
        let cut = whole_records(&self.buf, self.cfg.format, self.buf_has_header, written);
        let lost_bytes = (self.buf.len() - cut.keep) as u64;
        let lost_packets = cut.total_packets - cut.packets;
        self.buf.clear();
        self.file_packets_out += cut.packets;
        let header_lost = self.buf_has_header && cut.keep == 0;
        self.buf_has_header = header_lost;
        self.stats.packets -= lost_packets;
        self.stats.bytes -= lost_bytes;
        self.file_packets -= lost_packets;
        self.file_bytes -= lost_bytes;
        // The file position is just past the `written` bytes: move it and
        // the end of the file back to the end of the last whole record.
        let mut how = String::new();
        if let Some(out) = self.out.as_deref() {
            let mut out: &File = out;
            let back = (written - cut.keep) as u64;
            let fixed = out.stream_position().and_then(|pos| {
                let end = pos - back.min(pos);
                out.set_len(end)?;
                out.seek(SeekFrom::Start(end))?;
                Ok(end)
            });
            match fixed {
                Ok(0) if header_lost => {
                    // Not even the file header fit: an empty file is not a
                    // capture file, remove it.
                    if let Some(p) = self.current_path() {
                        if std::fs::remove_file(&p).is_ok() {
                            self.out = None;
                            how =
                                "; not even the file header fit: the empty file was removed".into();
                        }
                    }
                }
                Ok(_) => {
                    how = format!(
                        "; the file was cut back to its last whole record: it holds {} \
                         packet(s), {lost_packets} buffered packet(s) were not written",
                        self.file_packets_out
                    )
                }
                Err(t) => {
                    how = format!(
                        "; the file could not be cut back to its last whole record ({t}): \
                         {lost_packets} buffered packet(s) were not written"
                    )
                }
            }
        }
        let err = Error::os(format!("writing capture file '{name}'"), e);
        Error::new(err.kind(), format!("{}{how}", err.message()))
    }

    /// Write one packet (cut to the snap length).
    #[inline]
    pub fn write(&mut self, p: &Packet<'_>) -> Result<()> {
        self.write_raw(p.ts_ns, p.data, p.wire_len)
    }

    /// Write one packet given its parts: timestamp in ns since the epoch,
    /// captured bytes, and length on the wire (raised to the captured
    /// length if smaller).
    #[inline]
    pub fn write_raw(&mut self, ts_ns: u64, data: &[u8], wire_len: u32) -> Result<()> {
        self.put(ts_ns, data, wire_len, None)
    }

    /// Write one packet with a comment (pcapng `opt_comment`; pcap has no
    /// place for it and drops it).
    pub fn write_with_comment(&mut self, p: &Packet<'_>, comment: &str) -> Result<()> {
        self.put(p.ts_ns, p.data, p.wire_len, Some(comment))
    }

    /// Write every packet of a live capture batch, straight from ring
    /// memory. Returns the number written.
    pub fn write_batch(&mut self, b: &Batch<'_>) -> Result<usize> {
        self.write_all(b.iter())
    }

    /// Write a sequence of packets. Returns the number written.
    pub fn write_all<'a>(&mut self, pkts: impl IntoIterator<Item = Packet<'a>>) -> Result<usize> {
        let mut n = 0;
        for p in pkts {
            self.write(&p)?;
            n += 1;
        }
        Ok(n)
    }

    #[inline(always)]
    fn put(&mut self, ts_ns: u64, data: &[u8], wire_len: u32, comment: Option<&str>) -> Result<()> {
        if self.done {
            return Err(Error::invalid_arg("the writer is closed"));
        }
        let data = &data[..data.len().min(self.cfg.snaplen as usize)];
        let caplen = data.len();
        let wire_len = wire_len.max(caplen as u32);
        let comment = comment.map(|c| &c.as_bytes()[..c.len().min(0xfff0)]);
        let rec_len = match self.cfg.format {
            Format::Pcap | Format::PcapNs => pcap::REC_HDR_LEN + caplen,
            Format::Pcapng => {
                pcapng::EPB_HDR_LEN
                    + pad4(caplen)
                    + 4
                    + comment.map_or(0, |c| pcapng::opt_len(c.len()) + 4)
            }
        };
        if self.cfg.rotate_bytes > 0
            && self.file_packets > 0
            && self.file_bytes + rec_len as u64 > self.cfg.rotate_bytes
        {
            self.rotate()?;
        }
        if self.buf.len() + rec_len > self.buf.capacity() {
            if self.direct.is_some() {
                self.direct_full()?;
            } else {
                self.flush()?;
            }
            // Only a long comment can outgrow the buffer (capacity is at
            // least twice the largest packet record).
            self.buf.reserve(rec_len);
        }
        match self.cfg.format {
            Format::Pcap | Format::PcapNs => {
                self.buf.extend_from_slice(&pcap::record_header(
                    ts_ns,
                    self.nanos,
                    caplen as u32,
                    wire_len,
                ));
                self.buf.extend_from_slice(data);
            }
            Format::Pcapng => {
                self.buf.extend_from_slice(&pcapng::epb_header(
                    rec_len as u32,
                    0,
                    ts_ns,
                    caplen as u32,
                    wire_len,
                ));
                self.buf.extend_from_slice(data);
                self.buf
                    .extend_from_slice(&[0u8; 3][..pad4(caplen) - caplen]);
                if let Some(c) = comment {
                    let mut s = std::mem::take(&mut self.scratch);
                    s.clear();
                    pcapng::put_opt(&mut s, pcapng::OPT_COMMENT, c);
                    pcapng::put_opt(&mut s, pcapng::OPT_END, &[]);
                    self.buf.extend_from_slice(&s);
                    self.scratch = s;
                }
                self.buf.extend_from_slice(&(rec_len as u32).to_ne_bytes());
            }
        }
        self.file_bytes += rec_len as u64;
        self.file_packets += 1;
        self.stats.packets += 1;
        self.stats.bytes += rec_len as u64;
        if self.first_ts.is_none() {
            self.first_ts = Some(ts_ns);
        }
        self.last_ts = ts_ns;
        Ok(())
    }

    /// Append the ISB (pcapng, when there is something to report).
    fn end_file(&mut self) {
        if self.cfg.format != Format::Pcapng || (self.first_ts.is_none() && self.recv.is_none()) {
            return;
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        let mut s = std::mem::take(&mut self.scratch);
        s.clear();
        pcapng::isb(
            &mut s,
            &pcapng::IsbData {
                iface: 0,
                ts_ns: now,
                start_ns: self.first_ts,
                end_ns: self.first_ts.map(|_| self.last_ts),
                recv: self.recv,
                drop: self.drop,
            },
        );
        self.buf.extend_from_slice(&s);
        self.stats.bytes += s.len() as u64;
        self.file_bytes += s.len() as u64;
        self.scratch = s;
    }

    #[cold]
    fn rotate(&mut self) -> Result<()> {
        self.end_file();
        self.flush()?;
        self.out = None;
        self.file_no += 1;
        let next = self
            .current_path()
            .ok_or_else(|| Error::config("rotation needs a path"))?;
        self.open_file(&next)
    }

    /// Write the statistics block (pcapng), flush and close the file.
    pub fn finish(mut self) -> Result<WriterStats> {
        self.close_inner()?;
        Ok(self.stats)
    }

    fn close_inner(&mut self) -> Result<()> {
        if self.done {
            return Ok(());
        }
        self.end_file();
        let r = self.flush();
        self.done = true;
        self.direct = None;
        self.out = None;
        r
    }

    /// Direct I/O: wait for the buffer being written, if any; a failed
    /// write is handled as a full disk.
    fn direct_wait(&mut self) -> Result<()> {
        let Some(d) = self.direct.as_mut() else {
            return Ok(());
        };
        let Some(m) = d.inflight.take() else {
            return Ok(());
        };
        let done = d
            .done
            .get_mut()
            .map_err(|_| Error::config("the direct-I/O writer thread is gone"))?
            .recv()
            .map_err(|_| Error::config("the direct-I/O writer thread is gone"))?;
        d.spare = Some(done.buf);
        match done.err {
            None => Ok(()),
            Some(e) => Err(self.direct_failed(m, true, done.written, e)),
        }
    }

    /// Direct I/O, the buffer is full: hand its whole 4 KiB blocks to the
    /// I/O thread and go on in the other buffer, which starts with the
    /// unaligned tail.
    fn direct_full(&mut self) -> Result<()> {
        self.direct_wait()?;
        let Some(file) = self.out.clone() else {
            return Err(Error::invalid_arg("the writer is closed"));
        };
        let format = self.cfg.format;
        let d = self.direct.as_mut().expect("direct mode");
        let len = self.buf.len();
        let a = len & !(ALIGN - 1);
        if a == 0 {
            return Ok(());
        }
        let m = d.meta;
        let mut next = d.spare.take().expect("the spare buffer is back");
        next.clear();
        next.extend_from_slice(&self.buf[a..len]);
        d.meta = m.carry(&self.buf, format, a);
        d.synced_len = 0;
        let full = std::mem::replace(&mut self.buf, next);
        let jobs = d.jobs.as_ref().expect("the I/O thread runs");
        if let Err(mpsc::SendError(j)) = jobs.send(Job {
            file,
            buf: full,
            off: m.off,
            len: a,
        }) {
            d.spare = Some(j.buf);
            return Err(Error::config("the direct-I/O writer thread is gone"));
        }
        d.inflight = Some(m);
        Ok(())
    }

    /// Direct I/O flush: wait for the I/O thread, write the buffer padded
    /// to 4 KiB, cut the file to its real end; keep the unaligned tail at
    /// the start of the buffer (it is written again with what follows).
    fn direct_flush(&mut self) -> Result<()> {
        self.direct_wait()?;
        let format = self.cfg.format;
        let d = self.direct.as_mut().expect("direct mode");
        let len = self.buf.len();
        if len == d.synced_len {
            return Ok(());
        }
        let Some(file) = self.out.clone() else {
            return Err(Error::invalid_arg("the writer is closed"));
        };
        let m = d.meta;
        let padded = align_up(len);
        self.buf.all_mut()[len..padded].fill(0);
        let (w, err) = write_at_all(&file, &self.buf.all()[..padded], m.off);
        let err = err.or_else(|| file.set_len(m.off + len as u64).err());
        if let Some(e) = err {
            return Err(self.direct_failed(m, false, w.min(len), e));
        }
        let a = len & !(ALIGN - 1);
        if a > 0 {
            d.meta = m.carry(&self.buf, format, a);
            self.buf.all_mut().copy_within(a..len, 0);
            self.buf.set_len(len - a);
        }
        d.synced_len = self.buf.len();
        Ok(())
    }

    /// Direct I/O: writing the buffer placed at `m` (the spare one when
    /// `in_spare`, else the current one) stopped after `written` bytes.
    /// Cut the file back to the last whole record on disk, drop and uncount
    /// everything after it, start the next buffer there, build the error.
    #[cold]
    fn direct_failed(&mut self, m: Meta, in_spare: bool, written: usize, e: io::Error) -> Error {
        let name = self
            .current_path()
            .map_or("<fd>".into(), |p| p.display().to_string());
        let format = self.cfg.format;
        let d = self.direct.as_mut().expect("direct mode");
        let failed: &[u8] = if in_spare {
            d.spare.as_deref().unwrap_or(&[])
        } else {
            &self.buf
        };
        let (cut, kept) = m.cut(failed, format, written);
        let lost_packets = self.file_packets - kept;
        let lost_bytes = self.file_bytes - cut;
        self.stats.packets -= lost_packets;
        self.stats.bytes -= lost_bytes;
        self.file_packets = kept;
        self.file_bytes = cut;
        self.buf.clear();
        let off = cut & !(ALIGN as u64 - 1);
        let rec0 = (cut - off) as usize;
        d.meta = Meta {
            off,
            rec0,
            hdr: false,
            base_packets: kept,
            prev_end: cut,
            prev_packets: kept,
        };
        d.synced_len = 0;
        let mut how = String::new();
        if let Some(file) = self.out.clone() {
            // Cut the file, and read back the start of its last block: the
            // next buffer rewrites it.
            let fixed = file.set_len(cut).and_then(|()| {
                if rec0 > 0 {
                    let n = file.read_at(&mut self.buf.all_mut()[..ALIGN], off)?;
                    if n < rec0 {
                        return Err(io::Error::from(io::ErrorKind::UnexpectedEof));
                    }
                    self.buf.set_len(rec0);
                }
                Ok(())
            });
            d.synced_len = self.buf.len();
            match fixed {
                Ok(()) if cut == 0 => {
                    if let Some(p) = self.current_path() {
                        if std::fs::remove_file(&p).is_ok() {
                            self.out = None;
                            how =
                                "; not even the file header fit: the empty file was removed".into();
                        }
                    }
                }
                Ok(()) => {
                    how = format!(
                        "; the file was cut back to its last whole record: it holds {kept} \
                         packet(s), {lost_packets} buffered packet(s) were not written"
                    )
                }
                Err(t) => {
                    self.out = None;
                    how = format!(
                        "; the file could not be cut back to its last whole record ({t}): \
                         {lost_packets} buffered packet(s) were not written"
                    )
                }
            }
        }
        let err = Error::os(format!("writing capture file '{name}'"), e);
        Error::new(err.kind(), format!("{}{how}", err.message()))
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        let _ = self.close_inner();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writer_is_send_and_sync() {
        fn both<T: Send + Sync>() {}
        both::<Writer>();
    }

    #[test]
    fn rotated_names_match_tcpdump() {
        let p = Path::new("/tmp/x.pcap");
        assert_eq!(rotated_name(p, 0, 0), PathBuf::from("/tmp/x.pcap"));
        assert_eq!(rotated_name(p, 1, 0), PathBuf::from("/tmp/x.pcap1"));
        assert_eq!(rotated_name(p, 12, 0), PathBuf::from("/tmp/x.pcap12"));
        assert_eq!(rotated_name(p, 0, 3), PathBuf::from("/tmp/x.pcap0"));
        assert_eq!(rotated_name(p, 4, 3), PathBuf::from("/tmp/x.pcap1"));
        assert_eq!(rotated_name(p, 0, 11), PathBuf::from("/tmp/x.pcap00"));
        assert_eq!(rotated_name(p, 10, 11), PathBuf::from("/tmp/x.pcap10"));
        assert_eq!(rotated_name(p, 5, 1), PathBuf::from("/tmp/x.pcap"));
    }

    #[test]
    fn config_is_checked() {
        let ok = WriterConfig::default();
        assert!(ok.validate().is_ok());
        for bad in [
            WriterConfig {
                snaplen: 0,
                ..ok.clone()
            },
            WriterConfig {
                link_type: 70_000,
                ..ok.clone()
            },
            WriterConfig {
                buffer_size: 10,
                ..ok.clone()
            },
            WriterConfig {
                rotate_files: 3,
                ..ok.clone()
            },
        ] {
            assert!(bad.validate().is_err(), "{bad:?}");
        }
    }
}
