//! [`Reader`]: pcap and pcapng input, in batches of packets from one large
//! read buffer.

use std::fs::File;
use std::io::{self, Read};
use std::os::fd::OwnedFd;
use std::path::Path;

use super::pcap::{self, rd16, rd32};
use super::pcapng::{self, TsResol};
use super::{Format, LINKTYPE_ETHERNET, MAX_RECORD, pad4};
use crate::batch::{Cursor, HeldBatch, Walk, busy, not_held};
use crate::error::{Error, ErrorKind, Result};
use crate::packet::{Packet, PacketType};

/// Default read buffer: 1 MiB.
const BUFFER: usize = 1 << 20;
/// Most packets per batch.
const MAX_BATCH: usize = 4096;

/// One interface of a pcapng section (pcap files have exactly one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterfaceInfo {
    /// Link type (`LINKTYPE_*`).
    pub link_type: u32,
    /// Snap length (0: no limit).
    pub snaplen: u32,
    /// `if_name`, if present.
    pub name: Option<String>,
    /// Timestamp resolution: units per second as `(base, exponent)`:
    /// `(10, 6)` for microseconds, `(10, 9)` for nanoseconds, `(2, n)`.
    pub tsresol: (u8, u8),
    /// `if_tsoffset`: seconds added to every timestamp.
    pub tsoffset: i64,
    /// From the last Interface Statistics Block seen: `isb_ifrecv`.
    pub received: Option<u64>,
    /// From the last Interface Statistics Block seen: `isb_ifdrop`.
    pub dropped: Option<u64>,
}

#[derive(Debug, Clone)]
struct Iface {
    info: InterfaceInfo,
    resol: TsResol,
}

/// A decoded packet record: where its bytes are in the buffer.
#[derive(Debug, Clone, Copy)]
struct Rec {
    off: usize,
    caplen: u32,
    wire_len: u32,
    iface: u32,
    ts_ns: u64,
    pkt_type: u8,
    /// A classic pcap record whose header fields are carried unchanged:
    /// wire length not below the captured length, time stamp fraction
    /// below one second.
    exact: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Pcap { big: bool, nanos: bool },
    Pcapng { big: bool },
}

enum Stop {
    /// The batch is full; the next record starts at `pos`.
    Full,
    /// The record at `pos` needs this many bytes from `pos`.
    Need(usize),
}

/// A pcap or pcapng file being read.
///
/// The file is read in large chunks into one buffer; each batch is the run
/// of whole packet records found in it (at most 4096 packets). Packets are
/// views of that buffer, valid until the next call that reads on.
///
/// A truncated or corrupt file gives an [`ErrorKind::Malformed`] error whose
/// message names the file and the byte offset of the bad record. Packets
/// before the fault are delivered first; the error comes with the next call
/// and every call after it.
pub struct Reader {
    src: Box<dyn Read + Send>,
    name: String,
    buf: Vec<u8>,
    pos: usize,
    end: usize,
    base: u64,
    eof: bool,
    kind: Kind,
    seen_shb: bool,
    ifaces: Vec<Iface>,
    link_type: u32,
    snaplen: u32,
    version: (u16, u16),
    recs: Vec<Rec>,
    /// First record of the held (or last handed out) batch in `recs`.
    batch_start: usize,
    failed: Option<Error>,
    batches: u64,
    /// A batch made current by [`Reader::acquire`] is held.
    held: bool,
    /// [`Reader::next_packet`]'s position in the held batch: `Some` while
    /// the held batch was acquired by it rather than by a caller.
    pkt_cursor: Option<Cursor>,
}

impl std::fmt::Debug for Reader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reader")
            .field("name", &self.name)
            .field("format", &self.format())
            .field("link_type", &self.link_type)
            .field("offset", &self.offset())
            .finish_non_exhaustive()
    }
}

impl Reader {
    /// Open the capture file at `path` and read its header.
    pub fn open(path: impl AsRef<Path>) -> Result<Reader> {
        let path = path.as_ref();
        let f = File::open(path)
            .map_err(|e| Error::os(format!("opening capture file '{}'", path.display()), e))?;
        Reader::start(Box::new(f), path.display().to_string())
    }

    /// Read from an open descriptor (a file or a pipe); the reader owns it
    /// and closes it.
    pub fn from_fd(fd: OwnedFd) -> Result<Reader> {
        Reader::start(Box::new(File::from(fd)), "<fd>".into())
    }

    /// Read from any byte source; `name` appears in error messages.
    pub fn from_read(src: impl Read + Send + 'static, name: &str) -> Result<Reader> {
        Reader::start(Box::new(src), name.to_owned())
    }

    fn start(src: Box<dyn Read + Send>, name: String) -> Result<Reader> {
        let mut r = Reader {
            src,
            name,
            buf: vec![0; BUFFER],
            pos: 0,
            end: 0,
            base: 0,
            eof: false,
            kind: Kind::Pcapng { big: false },
            seen_shb: false,
            ifaces: Vec::new(),
            link_type: 0,
            snaplen: 0,
            version: (0, 0),
            recs: Vec::with_capacity(MAX_BATCH),
            batch_start: 0,
            failed: None,
            batches: 0,
            held: false,
            pkt_cursor: None,
        };
        r.refill(4)?;
        if r.end < 4 {
            return Err(r.malformed(
                0,
                format!(
                    "the file is {} bytes long: too short for a pcap or pcapng header",
                    r.end
                ),
            ));
        }
        let m = [r.buf[0], r.buf[1], r.buf[2], r.buf[3]];
        if pcap::magic(m).is_some() {
            r.refill(pcap::FILE_HDR_LEN)?;
            let Some(h) = r
                .buf
                .get(..pcap::FILE_HDR_LEN)
                .filter(|_| r.end >= pcap::FILE_HDR_LEN)
                .and_then(|b| b.try_into().ok())
                .and_then(pcap::parse_file_header)
            else {
                return Err(r.malformed(0, "the pcap file header is truncated"));
            };
            if h.major != 2 {
                return Err(r.malformed(
                    4,
                    format!("unsupported pcap version {}.{}", h.major, h.minor),
                ));
            }
            r.kind = Kind::Pcap {
                big: h.big,
                nanos: h.nanos,
            };
            r.version = (h.major, h.minor);
            r.link_type = h.link_type;
            r.snaplen = h.snaplen;
            r.ifaces.push(Iface {
                info: InterfaceInfo {
                    link_type: h.link_type,
                    snaplen: h.snaplen,
                    name: None,
                    tsresol: (10, if h.nanos { 9 } else { 6 }),
                    tsoffset: 0,
                    received: None,
                    dropped: None,
                },
                resol: TsResol::Pow10(if h.nanos { 9 } else { 6 }),
            });
            r.pos = pcap::FILE_HDR_LEN;
        } else if u32::from_ne_bytes(m) == pcapng::SHB {
            // Read the section header and interface descriptions, up to the
            // first packet, so link type and snap length are known.
            loop {
                match r.scan(0)? {
                    Stop::Full => break,
                    Stop::Need(n) => {
                        if r.eof {
                            if r.pos < r.end {
                                return Err(r.truncated(n));
                            }
                            break;
                        }
                        r.refill(n)?;
                    }
                }
            }
            if !r.seen_shb {
                return Err(r.malformed(0, "the pcapng section header is truncated"));
            }
        } else {
            return Err(r.malformed(
                0,
                format!(
                    "not a pcap or pcapng file (magic {:02x}{:02x}{:02x}{:02x})",
                    m[0], m[1], m[2], m[3]
                ),
            ));
        }
        Ok(r)
    }

    /// The file's layout. pcapng files report [`Format::Pcapng`] whatever
    /// their resolution.
    pub fn format(&self) -> Format {
        match self.kind {
            Kind::Pcap { nanos: false, .. } => Format::Pcap,
            Kind::Pcap { nanos: true, .. } => Format::PcapNs,
            Kind::Pcapng { .. } => Format::Pcapng,
        }
    }

    /// Link type of the file (pcapng: of its first interface; 0 until an
    /// interface is described).
    pub fn link_type(&self) -> u32 {
        self.link_type
    }

    /// Snap length of the file (pcapng: of its first interface; 0 = none).
    pub fn snaplen(&self) -> u32 {
        self.snaplen
    }

    /// True if the (current section of the) file is big-endian.
    pub fn big_endian(&self) -> bool {
        match self.kind {
            Kind::Pcap { big, .. } | Kind::Pcapng { big } => big,
        }
    }

    /// Format version (pcap 2.4, pcapng 1.0).
    pub fn version(&self) -> (u16, u16) {
        self.version
    }

    /// Interfaces of the current section, indexed by interface ID (the
    /// packets' [`Packet::ifindex`]).
    pub fn interfaces(&self) -> Vec<InterfaceInfo> {
        self.ifaces.iter().map(|i| i.info.clone()).collect()
    }

    /// Byte offset in the file of the next record to decode.
    pub fn offset(&self) -> u64 {
        self.base + self.pos as u64
    }

    /// Batches handed out so far.
    pub fn batches(&self) -> u64 {
        self.batches
    }

    /// The next batch of packets; `None` at the end of the file. After
    /// [`Reader::next_packet`] the batch starts with the packets it has not
    /// returned yet. A batch held through [`Reader::acquire`] is released
    /// (the reader reads on only here, while no view of it can be alive).
    pub fn next_batch(&mut self) -> Result<Option<ReadBatch<'_>>> {
        self.release_callers_batch();
        let got = self.acquire()?;
        // The view borrows the reader: nothing can read on while it lives.
        self.held = false;
        Ok(got.then(|| self.current()))
    }

    /// The next packet, one at a time; `None` at the end of the file. A
    /// convenience over the held batch ([`Reader::acquire`], then one
    /// record per call with a [`Cursor`] kept here); a batch held through
    /// [`Reader::acquire`] is released first.
    pub fn next_packet(&mut self) -> Result<Option<Packet<'_>>> {
        Ok(self
            .next_record()?
            .map(|r| packet(&self.buf, &r, self.link_type)))
    }

    /// [`Reader::next_packet`], and whether the packet carries its classic
    /// pcap record header unchanged: its wire length is not below its
    /// captured length and its time stamp fraction is below one second
    /// (the reader raises such a wire length to the captured length and
    /// folds such a fraction into the seconds). Always false for pcapng
    /// records. For callers that must reproduce a file's fields exactly
    /// (the libpcap drop-in hands the rest of such a file to libpcap).
    pub fn next_packet_exact(&mut self) -> Result<Option<(Packet<'_>, bool)>> {
        Ok(self
            .next_record()?
            .map(|r| (packet(&self.buf, &r, self.link_type), r.exact)))
    }

    /// A batch the caller acquired (not [`Reader::next_packet`]'s) is
    /// released by moving on.
    fn release_callers_batch(&mut self) {
        if self.held && self.pkt_cursor.is_none() {
            self.held = false;
        }
    }

    /// The per-packet walk: the next record of the held batch, acquiring
    /// the next batch when this one is done.
    fn next_record(&mut self) -> Result<Option<Rec>> {
        self.release_callers_batch();
        loop {
            if let Some(c) = self.pkt_cursor.as_mut().filter(|_| self.held) {
                if let Some(r) = self.recs.get(self.batch_start + c.pos) {
                    c.begun = true;
                    c.pos += 1;
                    return Ok(Some(*r));
                }
                self.held = false;
            }
            self.pkt_cursor = None;
            if !self.acquire()? {
                return Ok(None);
            }
            self.pkt_cursor = Some(Cursor::START);
        }
    }

    /// Read the next batch and hold it: the acquiring half of the held
    /// batch ([`HeldBatch`] walks and releases it). `Ok(false)` at the end
    /// of the file; `ErrorKind::Busy` while a batch is already held. After
    /// [`Reader::next_packet`] the batch is the packets it has not returned
    /// yet.
    pub fn acquire(&mut self) -> Result<bool> {
        if self.held {
            let Some(c) = self.pkt_cursor.take() else {
                return Err(busy());
            };
            self.batch_start += c.pos;
            if self.batch_start < self.recs.len() {
                return Ok(true);
            }
            self.held = false;
        }
        self.held = self.fill()? > 0;
        Ok(self.held)
    }

    /// Decode the next run of records. Returns the number of packets; 0 at
    /// the end of the file.
    fn fill(&mut self) -> Result<usize> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        self.recs.clear();
        self.batch_start = 0;
        loop {
            match self.scan(MAX_BATCH) {
                Ok(stop) => {
                    if !self.recs.is_empty() {
                        break;
                    }
                    let Stop::Need(n) = stop else {
                        unreachable!("a full batch holds packets")
                    };
                    if self.eof {
                        if self.pos == self.end {
                            return Ok(0);
                        }
                        let e = self.truncated(n);
                        self.failed = Some(e.clone());
                        return Err(e);
                    }
                    if let Err(e) = self.refill(n) {
                        self.failed = Some(e.clone());
                        return Err(e);
                    }
                }
                Err(e) => {
                    self.failed = Some(e.clone());
                    if self.recs.is_empty() {
                        return Err(e);
                    }
                    break;
                }
            }
        }
        self.batches += 1;
        Ok(self.recs.len())
    }

    /// The batch acquired last.
    fn current(&self) -> ReadBatch<'_> {
        ReadBatch {
            buf: &self.buf,
            recs: &self.recs[self.batch_start..],
            link_type: self.link_type,
        }
    }

    fn malformed(&self, at: u64, what: impl std::fmt::Display) -> Error {
        Error::new(
            ErrorKind::Malformed,
            format!(
                "capture file '{}' is malformed at byte offset {at}: {what}",
                self.name
            ),
        )
    }

    fn truncated(&self, need: usize) -> Error {
        self.malformed(
            self.offset(),
            format!(
                "the file ends inside a record ({} of {need} bytes present; truncated file?)",
                self.end - self.pos
            ),
        )
    }

    /// Keep the unread tail, make room for `need` bytes from it, read.
    fn refill(&mut self, need: usize) -> Result<()> {
        if self.pos > 0 {
            self.buf.copy_within(self.pos..self.end, 0);
            self.base += self.pos as u64;
            self.end -= self.pos;
            self.pos = 0;
        }
        if need > self.buf.len() {
            // need <= MAX_RECORD + a header, checked by the scanner.
            self.buf.resize(need.next_power_of_two(), 0);
        }
        while self.end < self.buf.len() && !self.eof {
            match self.src.read(&mut self.buf[self.end..]) {
                Ok(0) => self.eof = true,
                Ok(k) => {
                    self.end += k;
                    if self.end >= need {
                        break;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    return Err(Error::os(
                        format!("reading capture file '{}'", self.name),
                        e,
                    ));
                }
            }
        }
        Ok(())
    }

    /// Decode records from `pos` until `max` packets are found, a record is
    /// incomplete, or one is malformed (Err). Non-packet pcapng blocks are
    /// consumed whatever `max` is.
    fn scan(&mut self, max: usize) -> Result<Stop> {
        match self.kind {
            Kind::Pcap { big, nanos } => self.scan_pcap(max, big, nanos),
            Kind::Pcapng { .. } => self.scan_pcapng(max),
        }
    }

    fn scan_pcap(&mut self, max: usize, big: bool, nanos: bool) -> Result<Stop> {
        let limit = self.snaplen.max(262_144).min(MAX_RECORD as u32);
        loop {
            if self.recs.len() >= max {
                return Ok(Stop::Full);
            }
            let b = &self.buf[self.pos..self.end];
            if b.len() < pcap::REC_HDR_LEN {
                return Ok(Stop::Need(pcap::REC_HDR_LEN));
            }
            let caplen = rd32(b, 8, big);
            if caplen > limit {
                return Err(self.malformed(
                    self.offset(),
                    format!("packet length {caplen} exceeds the limit of {limit} bytes"),
                ));
            }
            let total = pcap::REC_HDR_LEN + caplen as usize;
            if b.len() < total {
                return Ok(Stop::Need(total));
            }
            let sec = u64::from(rd32(b, 0, big));
            let frac = u64::from(rd32(b, 4, big));
            let ts_ns = sec * 1_000_000_000 + if nanos { frac } else { frac * 1000 };
            let wire_len = rd32(b, 12, big);
            let unit = if nanos { 1_000_000_000 } else { 1_000_000 };
            self.recs.push(Rec {
                off: self.pos + pcap::REC_HDR_LEN,
                caplen,
                wire_len: wire_len.max(caplen),
                iface: 0,
                ts_ns,
                pkt_type: PacketType::Host as u8,
                exact: wire_len >= caplen && frac < unit,
            });
            self.pos += total;
        }
    }

    fn scan_pcapng(&mut self, max: usize) -> Result<Stop> {
        loop {
            let at = self.offset();
            let b = &self.buf[self.pos..self.end];
            if b.len() < 12 {
                return Ok(Stop::Need(12));
            }
            let raw_type = u32::from_ne_bytes([b[0], b[1], b[2], b[3]]);
            let mut big = match self.kind {
                Kind::Pcapng { big } => big,
                Kind::Pcap { .. } => false,
            };
            if raw_type == pcapng::SHB {
                big = match u32::from_be_bytes([b[8], b[9], b[10], b[11]]) {
                    pcapng::BOM => true,
                    v if v.swap_bytes() == pcapng::BOM => false,
                    v => {
                        return Err(self
                            .malformed(at + 8, format!("bad pcapng byte-order magic {v:#010x}")));
                    }
                };
            } else if !self.seen_shb {
                return Err(
                    self.malformed(at, "the pcapng file does not start with a section header")
                );
            }
            let btype = rd32(b, 0, big);
            let len = rd32(b, 4, big) as usize;
            if len < 12 || len % 4 != 0 || len > MAX_RECORD {
                return Err(self.malformed(
                    at + 4,
                    format!(
                        "block length {len} is not a multiple of 4 between 12 and {MAX_RECORD}"
                    ),
                ));
            }
            let is_packet = matches!(btype, pcapng::EPB | pcapng::SPB | pcapng::OPB);
            if is_packet && self.recs.len() >= max {
                return Ok(Stop::Full);
            }
            if b.len() < len {
                return Ok(Stop::Need(len));
            }
            let trailer = rd32(b, len - 4, big) as usize;
            if trailer != len {
                return Err(self.malformed(
                    at + len as u64 - 4,
                    format!("block length {len} and trailing length {trailer} differ"),
                ));
            }
            let body = &b[8..len - 4];
            match btype {
                pcapng::SHB => {
                    let body = body.to_vec();
                    self.on_shb(at, &body, big)?;
                }
                pcapng::IDB => {
                    let body = body.to_vec();
                    self.on_idb(at, &body, big)?;
                }
                pcapng::EPB | pcapng::OPB => {
                    if body.len() < 20 {
                        return Err(self.malformed(at, "packet block too short"));
                    }
                    let (iface, pkt_type) = if btype == pcapng::EPB {
                        (rd32(body, 0, big), None)
                    } else {
                        (u32::from(rd16(body, 0, big)), Some(0))
                    };
                    let units = pcapng::ts_words(body, 4, big);
                    let caplen = rd32(body, 12, big);
                    let wire_len = rd32(body, 16, big);
                    if caplen as usize > body.len() - 20 {
                        return Err(self.malformed(
                            at,
                            format!(
                                "captured length {caplen} exceeds the block ({} bytes of data)",
                                body.len() - 20
                            ),
                        ));
                    }
                    let Some(i) = self.ifaces.get(iface as usize) else {
                        return Err(self.malformed(
                            at,
                            format!(
                                "packet on interface {iface}, but the section describes {}",
                                self.ifaces.len()
                            ),
                        ));
                    };
                    let pkt_type = pkt_type.unwrap_or_else(|| {
                        let opts = body.get(20 + pad4(caplen as usize)..).unwrap_or(&[]);
                        epb_pkt_type(opts, big)
                    });
                    let ts_ns = i.resol.to_ns(units, i.info.tsoffset);
                    self.recs.push(Rec {
                        exact: false,
                        off: self.pos + 28,
                        caplen,
                        wire_len: wire_len.max(caplen),
                        iface,
                        ts_ns,
                        pkt_type,
                    });
                }
                pcapng::SPB => {
                    if body.len() < 4 {
                        return Err(self.malformed(at, "simple packet block too short"));
                    }
                    let Some(i) = self.ifaces.first() else {
                        return Err(self.malformed(
                            at,
                            "simple packet block, but the section describes no interface",
                        ));
                    };
                    let wire_len = rd32(body, 0, big);
                    let mut caplen = (wire_len as usize).min(body.len() - 4);
                    if i.info.snaplen != 0 {
                        caplen = caplen.min(i.info.snaplen as usize);
                    }
                    self.recs.push(Rec {
                        exact: false,
                        off: self.pos + 12,
                        caplen: caplen as u32,
                        wire_len: wire_len.max(caplen as u32),
                        iface: 0,
                        ts_ns: 0,
                        pkt_type: PacketType::Host as u8,
                    });
                }
                pcapng::ISB => {
                    let body = body.to_vec();
                    self.on_isb(at, &body, big)?;
                }
                _ => {} // unknown or uninteresting block: skipped
            }
            self.pos += len;
        }
    }

    fn on_shb(&mut self, at: u64, body: &[u8], big: bool) -> Result<()> {
        if body.len() < 16 {
            return Err(self.malformed(at, "section header block too short"));
        }
        let major = rd16(body, 4, big);
        let minor = rd16(body, 6, big);
        if major != 1 {
            return Err(self.malformed(
                at + 12,
                format!("unsupported pcapng version {major}.{minor}"),
            ));
        }
        self.kind = Kind::Pcapng { big };
        self.version = (major, minor);
        self.seen_shb = true;
        // A new section starts with no interfaces.
        self.ifaces.clear();
        Ok(())
    }

    fn on_idb(&mut self, at: u64, body: &[u8], big: bool) -> Result<()> {
        if body.len() < 8 {
            return Err(self.malformed(at, "interface description block too short"));
        }
        let link_type = u32::from(rd16(body, 0, big));
        let snaplen = rd32(body, 4, big);
        let mut name = None;
        let mut resol_byte = 6u8;
        let mut tsoffset = 0i64;
        pcapng::for_each_opt(&body[8..], big, |code, v| match code {
            pcapng::IF_NAME => name = Some(String::from_utf8_lossy(v).into_owned()),
            pcapng::IF_TSRESOL if !v.is_empty() => resol_byte = v[0],
            pcapng::IF_TSOFFSET => {
                tsoffset = pcapng::opt_u64(v, big).map_or(0, |x| x as i64);
            }
            _ => {}
        })
        .map_err(|o| self.malformed(at + 16 + o as u64, "an option runs past its block"))?;
        let Some(resol) = TsResol::from_byte(resol_byte) else {
            return Err(self.malformed(
                at,
                format!("if_tsresol {resol_byte:#04x} cannot be represented"),
            ));
        };
        let tsresol = match resol {
            TsResol::Pow10(n) => (10, n),
            TsResol::Pow2(n) => (2, n),
        };
        if self.ifaces.is_empty() {
            self.link_type = link_type;
            self.snaplen = snaplen;
        }
        self.ifaces.push(Iface {
            info: InterfaceInfo {
                link_type,
                snaplen,
                name,
                tsresol,
                tsoffset,
                received: None,
                dropped: None,
            },
            resol,
        });
        Ok(())
    }

    fn on_isb(&mut self, at: u64, body: &[u8], big: bool) -> Result<()> {
        if body.len() < 12 {
            return Err(self.malformed(at, "interface statistics block too short"));
        }
        let iface = rd32(body, 0, big) as usize;
        let mut recv = None;
        let mut drop = None;
        pcapng::for_each_opt(&body[12..], big, |code, v| match code {
            pcapng::ISB_IFRECV => recv = pcapng::opt_u64(v, big),
            pcapng::ISB_IFDROP => drop = pcapng::opt_u64(v, big),
            _ => {}
        })
        .map_err(|o| self.malformed(at + 20 + o as u64, "an option runs past its block"))?;
        // Statistics for an undescribed interface are ignored.
        if let Some(i) = self.ifaces.get_mut(iface) {
            i.info.received = recv.or(i.info.received);
            i.info.dropped = drop.or(i.info.dropped);
        }
        Ok(())
    }
}

/// Direction from an EPB's `epb_flags` (bits 0-1: 1 inbound, 2 outbound;
/// bits 2-4: 1 unicast, 2 multicast, 3 broadcast, 4 promiscuous).
fn epb_pkt_type(opts: &[u8], big: bool) -> u8 {
    let mut t = PacketType::Host as u8;
    // Malformed options in a packet block are ignored, not fatal.
    let _ = pcapng::for_each_opt(opts, big, |code, v| {
        if code == pcapng::EPB_FLAGS && v.len() >= 4 {
            let f = rd32(v, 0, big);
            t = if f & 3 == 2 {
                PacketType::Outgoing as u8
            } else {
                match (f >> 2) & 7 {
                    2 => PacketType::Multicast as u8,
                    3 => PacketType::Broadcast as u8,
                    4 => PacketType::OtherHost as u8,
                    _ => PacketType::Host as u8,
                }
            };
        }
    });
    t
}

#[inline(always)]
fn packet<'a>(buf: &'a [u8], r: &Rec, link_type: u32) -> Packet<'a> {
    let data = &buf[r.off..r.off + r.caplen as usize];
    let protocol = if link_type == LINKTYPE_ETHERNET && data.len() >= 14 {
        u16::from_be_bytes([data[12], data[13]])
    } else {
        0
    };
    Packet::from_file(
        data,
        r.ts_ns,
        r.wire_len,
        r.iface as i32,
        protocol,
        r.pkt_type,
    )
}

impl HeldBatch for Reader {
    fn is_held(&self) -> bool {
        self.held
    }

    fn held_len(&self) -> usize {
        if self.held {
            self.recs.len() - self.batch_start
        } else {
            0
        }
    }

    fn held_seq(&self) -> u64 {
        if self.held { self.batches } else { 0 }
    }

    /// Records were validated when the batch was read, so the walk itself
    /// cannot fail.
    fn walk_held<F>(&mut self, cursor: &mut Cursor, mut f: F) -> Result<Walk>
    where
        F: FnMut(&Packet<'_>) -> bool,
    {
        if !self.held || cursor.done {
            return Ok(Walk::Done);
        }
        cursor.begun = true;
        let recs = &self.recs[self.batch_start..];
        while cursor.pos < recs.len() {
            let r = &recs[cursor.pos];
            cursor.pos += 1;
            if !f(&packet(&self.buf, r, self.link_type)) {
                cursor.done = cursor.pos >= recs.len();
                return Ok(Walk::Stopped);
            }
        }
        cursor.done = true;
        Ok(Walk::Done)
    }

    /// The reader reads on only when asked for the next batch.
    fn release_held(&mut self) -> Result<()> {
        if !self.held {
            return Err(not_held());
        }
        self.held = false;
        self.pkt_cursor = None;
        Ok(())
    }
}

/// A run of packets read from a file: views of the reader's buffer.
#[derive(Debug, Clone, Copy)]
pub struct ReadBatch<'a> {
    buf: &'a [u8],
    recs: &'a [Rec],
    link_type: u32,
}

impl<'a> ReadBatch<'a> {
    /// Number of packets.
    pub fn len(&self) -> usize {
        self.recs.len()
    }

    /// True if there are none.
    pub fn is_empty(&self) -> bool {
        self.recs.is_empty()
    }

    /// The packets, in file order.
    pub fn iter(&self) -> impl Iterator<Item = Packet<'a>> + 'a {
        let (buf, lt) = (self.buf, self.link_type);
        self.recs.iter().map(move |r| packet(buf, r, lt))
    }
}
