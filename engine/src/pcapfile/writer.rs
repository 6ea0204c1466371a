//! [`Writer`]: buffered pcap/pcapng output with optional rotation.

use std::fs::File;
use std::io::{self, Seek, SeekFrom, Write};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use super::{Format, LINKTYPE_ETHERNET, MAX_RECORD, pad4, pcap, pcapng};
use crate::afpacket::Batch;
use crate::error::{Error, Result};
use crate::packet::Packet;

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
    out: Option<File>,
    path: Option<PathBuf>,
    buf: Vec<u8>,
    nanos: bool,
    file_no: u64,
    file_bytes: u64,
    file_packets: u64,
    stats: WriterStats,
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
        let mut w = Writer::new(cfg, None)?;
        w.out = Some(File::from(fd));
        w.start_file();
        Ok(w)
    }

    fn new(cfg: &WriterConfig, path: Option<PathBuf>) -> Result<Writer> {
        cfg.validate()?;
        let max_rec = cfg.snaplen as usize + 64;
        let cap = cfg.buffer_size.max(2 * max_rec);
        Ok(Writer {
            cfg: cfg.clone(),
            out: None,
            path,
            buf: Vec::with_capacity(cap),
            nanos: cfg.format == Format::PcapNs,
            file_no: 0,
            file_bytes: 0,
            file_packets: 0,
            stats: WriterStats::default(),
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
        let f = File::create(path)
            .map_err(|e| Error::os(format!("creating capture file '{}'", path.display()), e))?;
        self.out = Some(f);
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
                pcapng::shb(&mut self.buf, self.cfg.comment.as_deref());
                pcapng::idb(
                    &mut self.buf,
                    self.cfg.link_type as u16,
                    self.cfg.snaplen,
                    self.cfg.if_name.as_deref(),
                );
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
        if self.buf.is_empty() {
            return Ok(());
        }
        let Some(out) = self.out.as_mut() else {
            return Err(Error::invalid_arg("the writer is closed"));
        };
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
        if let Some(out) = self.out.as_mut() {
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
            self.flush()?;
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
                    pcapng::put_opt(&mut self.buf, pcapng::OPT_COMMENT, c);
                    pcapng::put_opt(&mut self.buf, pcapng::OPT_END, &[]);
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
        let before = self.buf.len();
        pcapng::isb(
            &mut self.buf,
            &pcapng::IsbData {
                iface: 0,
                ts_ns: now,
                start_ns: self.first_ts,
                end_ns: self.first_ts.map(|_| self.last_ts),
                recv: self.recv,
                drop: self.drop,
            },
        );
        self.stats.bytes += (self.buf.len() - before) as u64;
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
        self.out = None;
        r
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
