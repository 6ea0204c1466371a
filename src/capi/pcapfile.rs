//! `nr_writer` and `nr_reader`: pcap and pcapng capture files.

// The safety contract of each export is its C documentation (pointers
// valid, handles from this library, one thread at a time).
#![allow(clippy::missing_safety_doc)]

use std::cell::UnsafeCell;
use std::ffi::{c_char, c_int};
use std::mem::size_of;
use std::os::fd::{FromRawFd, OwnedFd};
use std::ptr;

use super::arg::{self, CEnum, Out, StatsOut};
use super::batch::{self, nr_batch, nr_packet};
use super::config;
use super::handle;
use super::{NR_EOF, NR_OK, boundary, c_str, guard};
use crate::error::Error;
use crate::pcapfile::{Format, Reader, Writer, WriterConfig, WriterStats};

const WRITER_MAGIC: u64 = 0x6e72_5f77_7269_7465; // "nr_write"
const READER_MAGIC: u64 = 0x6e72_5f72_6561_6465; // "nr_reade"

/// Capture file layout, for nr_writer_open() and nr_reader_info.format.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum nr_format {
    /// Classic pcap, microsecond timestamps (what `tcpdump -w` writes).
    NR_FORMAT_PCAP = 0,
    /// Classic pcap, nanosecond timestamps (magic 0xa1b23c4d).
    NR_FORMAT_PCAP_NS = 1,
    /// pcapng: nanosecond timestamps (if_tsresol = 9), interface
    /// statistics block at close.
    NR_FORMAT_PCAPNG = 2,
}

/// Link types of capture files (nr_writer_config.link_type, nr_reader_info.link_type).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum nr_linktype {
    /// Link type: Ethernet (what AF_PACKET captures deliver).
    NR_LINKTYPE_ETHERNET = 1,
    /// Link type: raw IPv4/IPv6, no link-layer header.
    NR_LINKTYPE_RAW = 101,
    /// Link type: Linux cooked capture (SLL).
    NR_LINKTYPE_LINUX_SLL = 113,
    /// Link type: Linux cooked capture v2 (SLL2).
    NR_LINKTYPE_LINUX_SLL2 = 276,
}

arg::c_enum!(nr_linktype as u32 {
    NR_LINKTYPE_ETHERNET,
    NR_LINKTYPE_RAW,
    NR_LINKTYPE_LINUX_SLL,
    NR_LINKTYPE_LINUX_SLL2,
});

arg::c_enum!(nr_format as c_int => Format {
    NR_FORMAT_PCAP = Pcap,
    NR_FORMAT_PCAP_NS = PcapNs,
    NR_FORMAT_PCAPNG = Pcapng,
});

/// Writer configuration. Initialise it with
/// nr_writer_config_init(&cfg, sizeof cfg), change the fields you need,
/// pass it to nr_writer_open(). Checked at open time (NR_E_CONFIG names the
/// field). Extensible like nr_capture_config: `size` tells the library how
/// much of the struct the caller knows; fields are only ever appended.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct nr_writer_config {
    /// sizeof(nr_writer_config) as the caller compiled it.
    pub size: usize,
    /// Bytes of each packet to store, 1..16777216; longer packets are cut
    /// (their wire length is kept). Default 262144.
    pub snaplen: u32,
    /// Link type (an nr_linktype, or any LINKTYPE_* of the tcpdump.org list). Default 1 (Ethernet).
    pub link_type: u32,
    /// Output buffer, written with one write(2) when full: 65536..268435456.
    /// Default 1048576.
    pub buffer_size: usize,
    /// Start a new file when the current one would pass this many bytes
    /// (tcpdump -C, in bytes); 0 = never. At least 4096. Default 0.
    pub rotate_bytes: u64,
    /// With rotate_bytes: keep at most this many files, reusing names in a
    /// ring (tcpdump -W); 0 = unlimited. Default 0. File names are those of
    /// tcpdump: without a limit PATH, PATH1, PATH2, ...; with a limit W,
    /// PATH0 .. PATH(W-1), the number zero-padded to the digits of W-1.
    pub rotate_files: u32,
    /// pcapng: interface name (if_name), or NULL. Copied at open.
    pub if_name: *const c_char,
    /// pcapng: section comment (opt_comment of the section header), or
    /// NULL. Copied at open.
    pub comment: *const c_char,
    /// Direct I/O (nr_writer_open() only): the file is opened with O_DIRECT
    /// and written from two buffers of buffer_size bytes rounded up to whole
    /// 2 MiB transparent huge pages (the kernel pins each O_DIRECT write's
    /// buffer page by page: huge pages make that cheap), one
    /// filling while a background thread writes the other, so a full
    /// buffer does not stall the capture unless the disk is slower than the
    /// traffic; packets are copied once (ring to buffer) and bypass the
    /// page cache. Between flushes the file may end inside a record (only
    /// whole 4 KiB blocks go out); nr_writer_flush() and nr_writer_close()
    /// write the tail padded to 4 KiB and ftruncate() the file to its real
    /// end, so afterwards it holds whole records only. A failed background
    /// write is reported by a later write, flush or close, with the same
    /// full-disk handling (the file cut back to its last whole record). The
    /// file system must support O_DIRECT (ext4, xfs, ...): nr_writer_open()
    /// fails with NR_E_SYSTEM otherwise; nr_writer_open_fd() refuses it
    /// (NR_E_CONFIG). Default false.
    pub direct: bool,
}

impl nr_writer_config {
    fn defaults() -> nr_writer_config {
        let d = WriterConfig::default();
        nr_writer_config {
            size: size_of::<nr_writer_config>(),
            snaplen: d.snaplen,
            link_type: d.link_type,
            buffer_size: d.buffer_size,
            rotate_bytes: d.rotate_bytes,
            rotate_files: d.rotate_files,
            if_name: ptr::null(),
            comment: ptr::null(),
            direct: d.direct,
        }
    }
}

// SAFETY: nr_writer_config is repr(C), begins with `size: usize`, and holds only
// integers, booleans and raw pointers.
unsafe impl config::CConfig for nr_writer_config {
    const NAME: &'static str = "nr_writer_config";
    const INIT: &'static str = "NR_WRITER_CONFIG_INIT";
    const MIN_SIZE: usize = std::mem::offset_of!(nr_writer_config, snaplen) + 4;
    fn defaults() -> nr_writer_config {
        nr_writer_config::defaults()
    }
}

/// Read a caller's config of `cfg.size` bytes over the defaults (NULL: the
/// defaults); `format` is an nr_format argument.
fn config_from_c(p: *const nr_writer_config, format: c_int) -> Result<WriterConfig, Error> {
    let format = nr_format::from_c(format, "format", Error::invalid_arg)?.into();
    let Some(f) = config::read(p)? else {
        return Ok(WriterConfig {
            format,
            ..WriterConfig::default()
        });
    };
    let d = nr_writer_config::defaults();
    macro_rules! at {
        ($get:ident, $field:ident) => {
            config::field!(f, d, nr_writer_config, $get, $field)
        };
    }
    let text = |p: *const c_char, name: &str| -> Result<Option<String>, Error> {
        arg::opt_c_str(p, name)
            .map(|s| s.map(str::to_owned))
            .map_err(|_| Error::invalid_arg(format!("nr_writer_config.{name} is not UTF-8")))
    };
    Ok(WriterConfig {
        format,
        snaplen: at!(u32, snaplen),
        link_type: at!(u32, link_type),
        buffer_size: at!(usize, buffer_size),
        rotate_bytes: at!(u64, rotate_bytes),
        rotate_files: at!(u32, rotate_files),
        if_name: text(at!(ptr, if_name), "if_name")?,
        comment: text(at!(ptr, comment), "comment")?,
        direct: at!(bool, direct),
    })
}

/// Fill `cfg` with the defaults; `size` is sizeof(*cfg) as the caller
/// compiled it (only that many bytes are written).
///
/// Returns NR_OK, or NR_E_INVALID_ARG (NULL cfg, size too small).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nr_writer_config_init(cfg: *mut nr_writer_config, size: usize) -> c_int {
    boundary(|| config::init(cfg, size))
}

/// What a writer has done so far.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct nr_writer_stats {
    /// Packets written (buffered ones included).
    pub packets: u64,
    /// Bytes of output produced (headers and buffered bytes included).
    pub bytes: u64,
    /// Files opened (1 without rotation).
    pub files: u64,
    /// Reserved; 0.
    pub reserved: [u64; 5],
}

/// A capture file being written (opaque). Created by nr_writer_open() or
/// nr_writer_open_fd(), freed by nr_writer_close(). One thread at a time.
pub struct nr_writer {
    magic: u64,
    state: UnsafeCell<WriterInner>,
}

pub(crate) struct WriterInner {
    w: Writer,
}

handle::handle!(nr_writer, WRITER_MAGIC, "writer", WriterInner);

/// The writer behind a C argument.
fn writer<'a>(p: *const nr_writer) -> Result<&'a mut Writer, Error> {
    Ok(&mut handle::state(p)?.w)
}

/// Hand a new writer to `out`.
fn publish_writer(w: Writer, out: Out<*mut nr_writer>) -> c_int {
    let h = nr_writer {
        magic: WRITER_MAGIC,
        state: UnsafeCell::new(WriterInner { w }),
    };
    handle::publish(h, out, |_| ())
}

/// Create (truncate) the capture file `path` and write its header.
/// `format` is an nr_format; `cfg` may be NULL for the defaults. With
/// rotation the first file's name may be numbered (see
/// nr_writer_config.rotate_files). On success `*out` receives the handle.
///
/// Packets are appended to one large buffer that goes to the file in few
/// large write(2) calls: no system call and no allocation per packet.
///
/// Returns NR_OK; NR_E_INVALID_ARG (NULL path/out, unknown format, bad
/// cfg->size); NR_E_CONFIG (a field out of range: the message names it);
/// NR_E_PERMISSION; NR_E_SYSTEM (the file could not be created).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nr_writer_open(
    path: *const c_char,
    format: c_int,
    cfg: *const nr_writer_config,
    out: *mut *mut nr_writer,
) -> c_int {
    boundary(|| {
        let path = c_str(path, "path")?;
        let out = Out::new(out, "out")?;
        let w = Writer::create(path, &config_from_c(cfg, format)?)?;
        Ok(publish_writer(w, out))
    })
}

/// Like nr_writer_open(), writing to the open descriptor `fd` (a file, a
/// pipe, stdout). On success the writer owns `fd` and closes it in
/// nr_writer_close() (dup() it first to keep it); on failure the caller
/// still owns it. Rotation is not possible (NR_E_CONFIG).
///
/// Returns NR_OK, NR_E_INVALID_ARG (fd < 0, NULL out, unknown format, bad
/// cfg->size), NR_E_CONFIG.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nr_writer_open_fd(
    fd: c_int,
    format: c_int,
    cfg: *const nr_writer_config,
    out: *mut *mut nr_writer,
) -> c_int {
    boundary(|| {
        if fd < 0 {
            return Err(Error::invalid_arg(format!("fd {fd} is not a descriptor")));
        }
        let out = Out::new(out, "out")?;
        let cfg = config_from_c(cfg, format)?;
        cfg.validate()?;
        if cfg.rotate_bytes > 0 {
            return Err(Error::config("rotation needs a path: use nr_writer_open()"));
        }
        if cfg.direct {
            return Err(Error::config(
                "direct I/O needs a path: use nr_writer_open()",
            ));
        }
        // SAFETY: the caller hands us the descriptor; every check that can
        // fail ran above, so from here on it is ours to close.
        let owned = unsafe { OwnedFd::from_raw_fd(fd) };
        let w = Writer::from_fd(owned, &cfg)?;
        Ok(publish_writer(w, out))
    })
}

/// Write every packet of `batch` (from nr_next_batch() or
/// nr_reader_next_batch()) straight from its memory into the output buffer.
/// The batch stays held: release it as usual. Packets longer than the snap
/// length are cut.
///
/// Returns NR_OK; NR_E_BAD_BATCH (released batch, or called from inside its
/// own nr_batch_for_each() callback); NR_E_MALFORMED (a ring block failed
/// validation: the packets before the fault were written); NR_E_SYSTEM
/// (write error: disk full, ...); NR_E_INVALID_ARG.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nr_writer_write_batch(
    writer: *mut nr_writer,
    batch: *mut nr_batch,
) -> c_int {
    boundary(|| {
        let w = self::writer(writer)?;
        batch::visit(batch, |p| w.write(p))?;
        Ok(NR_OK)
    })
}

/// Write one packet: `pkt->caplen` bytes at `pkt->data`, `pkt->len` and
/// `pkt->ts_ns` (other fields are not stored). Any nr_packet works,
/// including one the caller filled in.
///
/// Returns NR_OK, NR_E_INVALID_ARG (NULL writer/pkt, NULL data with
/// caplen > 0), NR_E_SYSTEM.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nr_writer_write_packet(
    writer: *mut nr_writer,
    pkt: *const nr_packet,
) -> c_int {
    boundary(|| {
        let w = self::writer(writer)?;
        let p = arg::by_ref(pkt, "pkt")?;
        let data = arg::slice(p.data, p.caplen as usize, "pkt->data")?;
        w.write_raw(p.ts_ns, data, p.len)?;
        Ok(NR_OK)
    })
}

/// Set the counts the pcapng Interface Statistics Block written at close
/// (and at each rotation) reports: isb_ifrecv = `received`, isb_ifdrop =
/// `dropped`. For a live capture pass nr_capture_stats `packets + drops` and
/// `drops`. Ignored for pcap files. Returns NR_OK or NR_E_INVALID_ARG.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nr_writer_set_stats(
    writer: *mut nr_writer,
    received: u64,
    dropped: u64,
) -> c_int {
    boundary(|| {
        self::writer(writer)?.set_stats(received, dropped);
        Ok(NR_OK)
    })
}

/// Write out everything buffered now (one write(2) in the usual case), so
/// the file is complete up to the last packet: for tools that never close,
/// or before a reader looks at the file. Not async-signal-safe: from a
/// signal handler call nr_capture_breakloop() and flush or close from the
/// loop.
///
/// A failed write (a full disk, ENOSPC; a quota) never leaves half a
/// record, here or in any call that writes (nr_writer_write_batch(),
/// nr_writer_write_packet(), nr_writer_close(), a rotation): the file is
/// cut back to its last whole record, the packets that did not fit are no
/// longer counted in nr_writer_get_stats(), and nr_last_error() says how many
/// packets the file holds. A file that could not even take its header is
/// removed.
///
/// Returns NR_OK, NR_E_INVALID_ARG, NR_E_SYSTEM (write error).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nr_writer_flush(writer: *mut nr_writer) -> c_int {
    boundary(|| {
        self::writer(writer)?.flush()?;
        Ok(NR_OK)
    })
}

/// Read the writer's counters: lifetime totals into `*total` and the
/// change since the previous call into `*delta`. Either may be NULL, not
/// both.
///
/// Returns NR_OK or NR_E_INVALID_ARG.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nr_writer_get_stats(
    writer: *mut nr_writer,
    total: *mut nr_writer_stats,
    delta: *mut nr_writer_stats,
) -> c_int {
    boundary(|| {
        let h = handle::state(writer)?;
        let out = StatsOut::new(total, delta)?;
        Ok(out.set(h.w.stats_with_delta()))
    })
}

impl From<WriterStats> for nr_writer_stats {
    fn from(s: WriterStats) -> nr_writer_stats {
        nr_writer_stats {
            packets: s.packets,
            bytes: s.bytes,
            files: s.files,
            reserved: [0; 5],
        }
    }
}

/// Finish the file: write the pcapng Interface Statistics Block (packet
/// time range, and the counts of nr_writer_set_stats()), flush, close. The
/// handle is freed in every case. NULL is accepted (NR_OK).
///
/// Returns NR_OK, or NR_E_SYSTEM when the last write failed (the file is
/// incomplete).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nr_writer_close(writer: *mut nr_writer) -> c_int {
    boundary(|| {
        if writer.is_null() {
            return Ok(NR_OK);
        }
        // Checked first so that a closed one is reported, as documented.
        handle::checked(writer)?;
        if let Some(h) = handle::take(writer) {
            h.state.into_inner().w.finish()?;
        }
        Ok(NR_OK)
    })
}

pub(crate) struct ReaderInner {
    reader: Reader,
    batch: batch::Slot,
    pkt: nr_packet,
}

/// A capture file being read (opaque). Created by nr_reader_open() or
/// nr_reader_open_fd(), freed by nr_reader_close(). One thread at a time.
pub struct nr_reader {
    magic: u64,
    state: UnsafeCell<ReaderInner>,
}

handle::handle!(nr_reader, READER_MAGIC, "reader", ReaderInner);

/// What a capture file says about itself.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct nr_reader_info {
    /// File layout (pcapng files report NR_FORMAT_PCAPNG whatever their
    /// timestamp resolution).
    pub format: nr_format,
    /// Link type of the file (pcapng: of its first interface); see nr_linktype.
    pub link_type: u32,
    /// Snap length (pcapng: of its first interface; 0 = none).
    pub snaplen: u32,
    /// Format version: 2.4 for pcap, 1.0 for pcapng.
    pub version_major: u16,
    /// See version_major.
    pub version_minor: u16,
    /// Interfaces described so far (pcap: 1). nr_packet.ifindex of a packet
    /// read from a file is its pcapng interface ID (0 for pcap).
    pub interfaces: u32,
    /// 1 if the file (its current section) is big-endian, else 0.
    pub big_endian: u32,
}

/// Hand a new reader to `out`.
fn publish_reader(r: Reader, out: Out<*mut nr_reader>) -> c_int {
    let h = nr_reader {
        magic: READER_MAGIC,
        state: UnsafeCell::new(ReaderInner {
            reader: r,
            batch: batch::Slot::detached(),
            pkt: nr_packet::EMPTY,
        }),
    };
    handle::publish(h, out, |s| {
        s.batch.attach(batch::Owner::Reader(&mut s.reader))
    })
}

/// Open the pcap or pcapng file at `path` and read its header (pcapng: up
/// to the first packet, so link type and snap length are known). Both byte
/// orders, microsecond and nanosecond pcap, any pcapng resolution.
///
/// Returns NR_OK; NR_E_INVALID_ARG (NULL path/out); NR_E_MALFORMED (not a
/// capture file, or a bad header: the message gives the byte offset);
/// NR_E_PERMISSION; NR_E_SYSTEM (no such file, ...).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nr_reader_open(path: *const c_char, out: *mut *mut nr_reader) -> c_int {
    boundary(|| {
        let path = c_str(path, "path")?;
        let out = Out::new(out, "out")?;
        Ok(publish_reader(Reader::open(path)?, out))
    })
}

/// Like nr_reader_open() on an open descriptor (a file or a pipe such as
/// stdin). The reader owns `fd` from the call on, success or not, and
/// closes it.
///
/// Returns as nr_reader_open().
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nr_reader_open_fd(fd: c_int, out: *mut *mut nr_reader) -> c_int {
    boundary(|| {
        if fd < 0 {
            return Err(Error::invalid_arg(format!("fd {fd} is not a descriptor")));
        }
        // SAFETY: the caller hands the descriptor over (contract).
        let owned = unsafe { OwnedFd::from_raw_fd(fd) };
        let out = Out::new(out, "out")?;
        Ok(publish_reader(Reader::from_fd(owned)?, out))
    })
}

/// The file's format, link type and snap length into `*out`.
/// Returns NR_OK or NR_E_INVALID_ARG.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nr_reader_get_info(
    reader: *const nr_reader,
    out: *mut nr_reader_info,
) -> c_int {
    boundary(|| {
        let r = &handle::state(reader)?.reader;
        let (major, minor) = r.version();
        Out::new(out, "out")?.set(nr_reader_info {
            format: r.format().into(),
            link_type: r.link_type(),
            snaplen: r.snaplen(),
            version_major: major,
            version_minor: minor,
            interfaces: r.interfaces().len() as u32,
            big_endian: u32::from(r.big_endian()),
        });
        Ok(NR_OK)
    })
}

/// The next batch of packets from the file: a run of whole records decoded
/// from the reader's 1 MiB read buffer (at most 4096 packets). Use it like
/// a live batch: nr_batch_for_each(), nr_batch_len(), nr_writer_write_batch(),
/// then nr_batch_release(). Packet data points into the reader's buffer
/// (zero copy) and is valid until the release. nr_packet.ifindex is the
/// pcapng interface ID (0 for pcap); flags has NR_PACKET_FLAG_TRUNCATED when
/// caplen < len; pkt_type comes from pcapng epb_flags (else
/// NR_PACKET_HOST); protocol is the EtherType for Ethernet files.
///
/// Returns NR_OK; NR_EOF (end of the file, no batch); NR_E_MALFORMED (a
/// truncated or corrupt record: the packets before it were delivered in
/// earlier batches; the message gives the byte offset; every later call
/// returns it again); NR_E_BUSY (a batch is still held); NR_E_SYSTEM (read
/// error); NR_E_INVALID_ARG.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nr_reader_next_batch(
    reader: *mut nr_reader,
    out: *mut *mut nr_batch,
) -> c_int {
    boundary(|| {
        let s = handle::state(reader)?;
        let out = Out::new(out, "out")?;
        s.batch
            .next(out, || Ok(if s.reader.acquire()? { NR_OK } else { NR_EOF }))
    })
}

/// The next packet of the file, one at a time (pcap_next_ex shape). On NR_OK
/// `*out` points to a packet owned by the reader, valid until the next call
/// on it. Not while a batch is held (NR_E_BUSY).
///
/// Returns NR_OK, NR_EOF, NR_E_MALFORMED, NR_E_BUSY, NR_E_SYSTEM,
/// NR_E_INVALID_ARG.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nr_reader_next_packet(
    reader: *mut nr_reader,
    out: *mut *const nr_packet,
) -> c_int {
    boundary(|| {
        let s = handle::state(reader)?;
        let out = Out::new(out, "out")?;
        s.batch.ensure_idle()?;
        match s.reader.next_packet()? {
            None => Ok(NR_EOF),
            Some(p) => {
                s.pkt = nr_packet::from(&p);
                out.set(&s.pkt);
                Ok(NR_OK)
            }
        }
    })
}

/// Close a reader and its file; every batch and packet pointer from it
/// becomes invalid. NULL is accepted and ignored.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nr_reader_close(reader: *mut nr_reader) {
    guard((), || drop(handle::take(reader)))
}

#[cfg(test)]
mod tests {
    use super::super::batch::{nr_batch_for_each, nr_batch_len, nr_batch_release};
    use super::super::{NR_E_BUSY, NR_E_CONFIG, NR_E_INVALID_ARG, NR_E_MALFORMED, NR_STOPPED};
    use super::*;
    use std::ffi::{CStr, CString, c_void};

    fn tmp(name: &str) -> (std::path::PathBuf, CString) {
        let p = std::env::temp_dir().join(format!("netring-capi-{}-{name}", std::process::id()));
        let c = CString::new(p.to_str().unwrap()).unwrap();
        (p, c)
    }

    unsafe extern "C" fn collect(user: *mut c_void, pkt: *const nr_packet) -> c_int {
        // SAFETY: the tests pass a Vec<(u64, u32, Vec<u8>)> as user; pkt is valid.
        unsafe {
            let v = &mut *(user as *mut Vec<(u64, u32, Vec<u8>)>);
            let p = &*pkt;
            v.push((
                p.ts_ns,
                p.len,
                std::slice::from_raw_parts(p.data, p.caplen as usize).to_vec(),
            ));
        }
        0
    }

    unsafe extern "C" fn stop(_: *mut c_void, _: *const nr_packet) -> c_int {
        1
    }

    fn pkt(data: &[u8], ts: u64, len: u32) -> nr_packet {
        nr_packet {
            data: data.as_ptr(),
            caplen: data.len() as u32,
            len,
            ts_ns: ts,
            ..nr_packet::EMPTY
        }
    }

    /// Write through the C API, read back batch by batch, convert with
    /// nr_writer_write_batch, read the copy.
    #[test]
    fn c_round_trip_and_conversion() {
        let (p1, c1) = tmp("a.pcap");
        let (p2, c2) = tmp("b.pcapng");
        let frames: Vec<Vec<u8>> = (0..9000).map(|i| vec![i as u8; 60 + i % 1400]).collect();
        // SAFETY: valid arguments throughout; handles are closed.
        unsafe {
            let mut cfg = nr_writer_config::defaults();
            assert_eq!(
                nr_writer_config_init(&mut cfg, size_of::<nr_writer_config>()),
                NR_OK
            );
            cfg.snaplen = 1000;
            let mut w: *mut nr_writer = ptr::null_mut();
            assert_eq!(nr_writer_open(c1.as_ptr(), 1, &cfg, &mut w), NR_OK);
            for (i, f) in frames.iter().enumerate() {
                let p = pkt(f, 1_000_000_000 * i as u64 + 7, f.len() as u32);
                assert_eq!(nr_writer_write_packet(w, &p), NR_OK);
            }
            assert_eq!(nr_writer_flush(w), NR_OK);
            let mut st = nr_writer_stats::default();
            assert_eq!(nr_writer_get_stats(w, &mut st, ptr::null_mut()), NR_OK);
            assert_eq!(st.packets, 9000);
            assert_eq!(st.bytes, std::fs::metadata(&p1).unwrap().len());
            assert_eq!(nr_writer_close(w), NR_OK);

            let mut r: *mut nr_reader = ptr::null_mut();
            assert_eq!(nr_reader_open(c1.as_ptr(), &mut r), NR_OK);
            let mut info: nr_reader_info = std::mem::zeroed();
            assert_eq!(nr_reader_get_info(r, &mut info), NR_OK);
            assert_eq!(info.format, nr_format::NR_FORMAT_PCAP_NS);
            assert_eq!((info.link_type, info.snaplen), (1, 1000));
            let mut w2: *mut nr_writer = ptr::null_mut();
            assert_eq!(nr_writer_open(c2.as_ptr(), 2, ptr::null(), &mut w2), NR_OK);
            let mut got: Vec<(u64, u32, Vec<u8>)> = Vec::new();
            let mut batches = 0;
            loop {
                let mut b: *mut nr_batch = ptr::null_mut();
                let rc = nr_reader_next_batch(r, &mut b);
                if rc == NR_EOF {
                    break;
                }
                assert_eq!(rc, NR_OK);
                batches += 1;
                let mut b2: *mut nr_batch = ptr::null_mut();
                assert_eq!(nr_reader_next_batch(r, &mut b2), NR_E_BUSY);
                assert!(nr_batch_len(b) > 0);
                assert_eq!(
                    nr_batch_for_each(b, Some(stop), ptr::null_mut()),
                    NR_STOPPED
                );
                let user = (&mut got as *mut Vec<(u64, u32, Vec<u8>)>).cast();
                assert_eq!(nr_batch_for_each(b, Some(collect), user), NR_OK);
                assert_eq!(nr_writer_write_batch(w2, b), NR_OK);
                assert_eq!(nr_batch_release(b), NR_OK);
                assert_eq!(nr_writer_write_batch(w2, b), super::super::NR_E_BAD_BATCH);
            }
            assert!(batches >= 3, "{batches} batches");
            assert_eq!(nr_reader_next_batch(r, &mut ptr::null_mut()), NR_EOF);
            nr_reader_close(r);
            assert_eq!(nr_writer_set_stats(w2, 9001, 1), NR_OK);
            assert_eq!(nr_writer_close(w2), NR_OK);
            assert_eq!(got.len(), frames.len());
            for (i, (ts, len, data)) in got.iter().enumerate() {
                assert_eq!(*ts, 1_000_000_000 * i as u64 + 7);
                assert_eq!(*len as usize, frames[i].len());
                assert_eq!(data[..], frames[i][..frames[i].len().min(1000)]);
            }

            // The pcapng copy, packet by packet.
            assert_eq!(nr_reader_open(c2.as_ptr(), &mut r), NR_OK);
            assert_eq!(nr_reader_get_info(r, &mut info), NR_OK);
            assert_eq!(info.format, nr_format::NR_FORMAT_PCAPNG);
            let mut n = 0;
            loop {
                let mut p: *const nr_packet = ptr::null();
                match nr_reader_next_packet(r, &mut p) {
                    NR_OK => {
                        let p = &*p;
                        assert_eq!(p.ts_ns, got[n].0);
                        assert_eq!(
                            std::slice::from_raw_parts(p.data, p.caplen as usize),
                            &got[n].2[..]
                        );
                        n += 1;
                    }
                    rc => {
                        assert_eq!(rc, NR_EOF);
                        break;
                    }
                }
            }
            assert_eq!(n, frames.len());
            nr_reader_close(r);
        }
        let ifs = crate::pcapfile::Reader::open(&p2).and_then(|mut r| {
            while r.next_batch()?.is_some() {}
            Ok(r.interfaces())
        });
        assert_eq!(ifs.unwrap()[0].received, Some(9001));
        let _ = std::fs::remove_file(p1);
        let _ = std::fs::remove_file(p2);
    }

    /// `direct` is the last field: a caller compiled before it (a smaller
    /// size) gets buffered output; a descriptor cannot be written directly.
    #[test]
    fn c_direct_field() {
        let (p, c) = tmp("direct.pcap");
        // SAFETY: valid arguments; the handle is closed; the descriptor is
        // ours until nr_writer_open_fd takes it (it refuses here).
        unsafe {
            let mut cfg = nr_writer_config::defaults();
            assert!(!cfg.direct);
            cfg.direct = true;
            cfg.size = std::mem::offset_of!(nr_writer_config, direct);
            let mut w: *mut nr_writer = ptr::null_mut();
            assert_eq!(nr_writer_open(c.as_ptr(), 0, &cfg, &mut w), NR_OK);
            assert!(!writer(w).unwrap().config().direct);
            assert_eq!(nr_writer_close(w), NR_OK);
            w = ptr::null_mut();
            cfg.size = size_of::<nr_writer_config>();
            let fd = libc::open(c.as_ptr(), libc::O_WRONLY);
            assert!(fd >= 0);
            assert_eq!(nr_writer_open_fd(fd, 0, &cfg, &mut w), NR_E_CONFIG);
            assert!(w.is_null());
            libc::close(fd);
        }
        let _ = std::fs::remove_file(p);
    }

    #[test]
    fn c_errors() {
        let (p, c) = tmp("bad.pcap");
        // SAFETY: NULL and bad arguments are part of the contract under test.
        unsafe {
            let mut w: *mut nr_writer = ptr::null_mut();
            assert_eq!(
                nr_writer_open(c.as_ptr(), 7, ptr::null(), &mut w),
                NR_E_INVALID_ARG
            );
            assert_eq!(
                nr_writer_open(ptr::null(), 0, ptr::null(), &mut w),
                NR_E_INVALID_ARG
            );
            let mut cfg = nr_writer_config::defaults();
            cfg.snaplen = 0;
            assert_eq!(nr_writer_open(c.as_ptr(), 0, &cfg, &mut w), NR_E_CONFIG);
            cfg.size = 3;
            assert_eq!(
                nr_writer_open(c.as_ptr(), 0, &cfg, &mut w),
                NR_E_INVALID_ARG
            );
            assert!(w.is_null());
            assert_eq!(nr_writer_close(ptr::null_mut()), NR_OK);
            assert_eq!(nr_writer_flush(ptr::null_mut()), NR_E_INVALID_ARG);
            assert_eq!(
                nr_writer_write_packet(ptr::null_mut(), ptr::null()),
                NR_E_INVALID_ARG
            );

            std::fs::write(&p, b"\xd4\xc3\xb2\xa1\x02\x00\x04\x00").unwrap();
            let mut r: *mut nr_reader = ptr::null_mut();
            assert_eq!(nr_reader_open(c.as_ptr(), &mut r), NR_E_MALFORMED);
            let msg = CStr::from_ptr(super::super::nr_last_error())
                .to_str()
                .unwrap();
            assert!(msg.contains("byte offset 0"), "{msg}");
            assert!(r.is_null());
            // A good header, then a record cut short.
            let mut f = crate::pcapfile::pcap::file_header(false, 100, 1).to_vec();
            f.extend_from_slice(&crate::pcapfile::pcap::record_header(1, false, 10, 10));
            f.extend_from_slice(b"0123456789");
            f.extend_from_slice(&crate::pcapfile::pcap::record_header(2, false, 10, 10));
            f.extend_from_slice(b"01234");
            std::fs::write(&p, &f).unwrap();
            assert_eq!(nr_reader_open(c.as_ptr(), &mut r), NR_OK);
            let mut b: *mut nr_batch = ptr::null_mut();
            assert_eq!(nr_reader_next_batch(r, &mut b), NR_OK);
            assert_eq!(nr_batch_len(b), 1);
            assert_eq!(nr_batch_release(b), NR_OK);
            assert_eq!(nr_reader_next_batch(r, &mut b), NR_E_MALFORMED);
            let msg = CStr::from_ptr(super::super::nr_last_error())
                .to_str()
                .unwrap();
            assert!(msg.contains("byte offset 50"), "{msg}");
            assert_eq!(nr_reader_next_batch(r, &mut b), NR_E_MALFORMED);
            nr_reader_close(r);
            nr_reader_close(ptr::null_mut());
            assert_eq!(
                nr_reader_open(c"/nonexistent/x".as_ptr(), &mut r),
                super::super::NR_E_SYSTEM
            );
        }
        let _ = std::fs::remove_file(p);
    }
}
