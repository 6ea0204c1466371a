//! Live capture on netring's TPACKET_V3 engine with libpcap's semantics
//! (pcap-linux.c of libpcap 1.10): the position inside a ring block is kept
//! across calls, a block goes back to the kernel as soon as it is consumed,
//! `pcap_breakloop` ends a wait at once, frames already in the ring when a
//! filter is set are filtered in user space. The `any` device is a cooked
//! capture on every interface (`DLT_LINUX_SLL`/`SLL2` headers built from
//! the ring's metadata, libpcap's filter fix-up); with
//! `NETRING_PCAP_ENGINE=xdp...` the same loop runs on the AF_XDP engine,
//! every frame filtered in user space.

use std::cell::UnsafeCell;
use std::ffi::{c_int, c_void};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use netring_engine::afxdp::AttachMode;
use netring_engine::{
    BpfInsn, Capture, CaptureConfig, Cursor, ErrorKind, Fanout, FanoutFlags, FanoutMode, HeldBatch,
    Injector, InjectorConfig, Packet, PacketFlags, TimestampSource, Wait, Xdp, XdpConfig, XdpStats,
};

use crate::bpf::{self, Aux};
use crate::code;
use crate::types::{
    BpfInsnC, DLT_DOCSIS, DLT_EN10MB, DLT_LINUX_SLL, DLT_LINUX_SLL2, PcapStat, PktHdr,
};

/// libpcap's `MAXIMUM_SNAPLEN`.
pub const MAX_SNAPLEN: c_int = 262_144;
/// Default ring: 32 MiB (libpcap's is 2 MiB and drops on bursts).
pub const DEFAULT_RING: u64 = 32 << 20;
/// Ring block size.
const BLOCK: u64 = 1 << 20;

/// `PCAP_D_INOUT`, `PCAP_D_IN`, `PCAP_D_OUT`.
pub const D_INOUT: c_int = 0;
/// Incoming only.
pub const D_IN: c_int = 1;
/// Outgoing only.
pub const D_OUT: c_int = 2;
const PACKET_OUTGOING: u8 = 4;
/// `SLL_HDR_LEN`.
pub const SLL_HDR_LEN: usize = 16;
/// `SLL2_HDR_LEN`.
pub const SLL2_HDR_LEN: usize = 20;

/// Settings made before activation.
#[derive(Debug, Clone)]
pub struct Opts {
    /// `pcap_set_snaplen`.
    pub snaplen: c_int,
    /// `pcap_set_promisc`.
    pub promisc: bool,
    /// `pcap_set_timeout` (ms).
    pub timeout: c_int,
    /// `pcap_set_buffer_size` (0: default).
    pub buffer_size: c_int,
    /// `pcap_set_immediate_mode`.
    pub immediate: bool,
    /// `pcap_set_rfmon`.
    pub rfmon: bool,
    /// `pcap_set_tstamp_type`.
    pub tstamp_type: c_int,
    /// `pcap_set_tstamp_precision`: nanoseconds.
    pub nano: bool,
    /// `pcap_set_protocol_linux` (0: all).
    pub protocol: u16,
}

impl Default for Opts {
    fn default() -> Self {
        Opts {
            snaplen: MAX_SNAPLEN,
            promisc: false,
            timeout: 0,
            buffer_size: 0,
            immediate: false,
            rfmon: false,
            tstamp_type: 0,
            nano: false,
            protocol: 0,
        }
    }
}

/// A live handle served by netring.
pub struct Live {
    /// Device name.
    pub dev: String,
    /// Settings.
    pub opts: Opts,
    /// The capture, once activated.
    pub cap: Option<Capture>,
    /// A real libpcap handle of the same device (compiles live programs,
    /// lists time stamp types); activated with ours, then unbound.
    pub shadow: *mut c_void,
    /// The shadow is activated.
    pub shadow_active: bool,
    /// Current DLT.
    pub linktype: c_int,
    /// Snapshot length in effect.
    pub snapshot: u32,
    /// Non-blocking mode.
    pub nonblock: bool,
    /// `pcap_setdirection`.
    pub direction: c_int,
    /// The filter set with `pcap_setfilter`.
    pub filter: Option<Vec<BpfInsnC>>,
    /// The kernel refused the filter: run it on every frame.
    pub filter_all: bool,
    /// Frames stamped at or before this (ns) may predate the kernel filter.
    pub filter_until_ns: u64,
    /// `pcap_next`/`pcap_next_ex`: the header and a copy of the data.
    pub one_hdr: PktHdr,
    /// Copy of the last packet for `pcap_next_ex`.
    pub one_buf: Vec<u8>,
    /// A tagged frame with its VLAN tag put back.
    pub vlan_buf: Vec<u8>,
    /// Interface drops at activation.
    pub ifdrop_base: u64,
    /// Injector, opened on first use.
    pub injector: Option<Injector>,
    /// Activated (the capture itself is moved out of `cap` while a
    /// dispatch runs, so calls from inside a callback use the fields below).
    pub activated: bool,
    /// The capture socket.
    pub fd: c_int,
    /// Ring bytes.
    pub ring_bytes: u64,
    /// Kernel counters accumulated across PACKET_STATISTICS reads (which
    /// reset): packets seen (including drops) and drops.
    pub stat: (u64, u64),
    /// The `any` device: a cooked capture on every interface
    /// (`DLT_LINUX_SLL`/`SLL2` headers built from the ring's metadata).
    pub cooked: bool,
    /// Index of `lo` (outgoing frames on it are dropped: they are seen
    /// again as incoming), -1 when unknown.
    pub lo_ifindex: i32,
    /// The AF_XDP engine (`NETRING_PCAP_ENGINE=xdp...`), instead of `cap`.
    pub xdp: Option<Xdp>,
    /// Position inside the held AF_XDP batch, kept across calls.
    pub xdp_cursor: Cursor,
    /// The AF_XDP statistics last read (served from inside a callback,
    /// while the engine is out of the handle).
    pub xdp_stats: (XdpStats, u64),
    /// Interface index of the capture (0 for `any`).
    pub ifindex: i32,
    /// Activated on the AF_XDP engine.
    pub on_xdp: bool,
}

impl Live {
    /// The first wait of a read call: none in non-blocking mode, no limit
    /// in immediate mode or without a timeout, else the timeout.
    fn first_wait(&self) -> Option<Duration> {
        if self.nonblock {
            Some(Duration::ZERO)
        } else if self.opts.immediate || self.opts.timeout <= 0 {
            None
        } else {
            Some(Duration::from_millis(self.opts.timeout as u64))
        }
    }

    /// What a read call selects and how it shapes records; the filter is
    /// moved out for the call (put back when it ends).
    fn take_selection(&mut self) -> Sel {
        Sel {
            direction: self.direction,
            protocol: self.opts.protocol,
            snapshot: self.snapshot,
            nano: self.opts.nano,
            filter: self.filter.take(),
            filter_all: self.filter_all,
            filter_until_ns: self.filter_until_ns,
            cooked: self.cooked,
            linktype: self.linktype,
            lo_ifindex: self.lo_ifindex,
        }
    }

    /// A not yet activated handle.
    pub fn new(dev: &str, shadow: *mut c_void) -> Live {
        Live {
            dev: dev.to_owned(),
            opts: Opts::default(),
            cap: None,
            shadow,
            shadow_active: false,
            linktype: DLT_EN10MB,
            snapshot: MAX_SNAPLEN as u32,
            nonblock: false,
            direction: D_INOUT,
            filter: None,
            filter_all: false,
            filter_until_ns: 0,
            one_hdr: PktHdr::ZERO,
            one_buf: Vec::new(),
            vlan_buf: Vec::new(),
            ifdrop_base: 0,
            injector: None,
            activated: false,
            fd: -1,
            ring_bytes: 0,
            stat: (0, 0),
            cooked: dev == "any",
            lo_ifindex: -1,
            xdp: None,
            xdp_cursor: Cursor::START,
            xdp_stats: (XdpStats::default(), 0),
            ifindex: 0,
            on_xdp: false,
        }
    }

    /// Link types this device offers (libpcap's lists for Ethernet and for
    /// the cooked `any` device).
    pub fn datalinks(&self) -> Vec<c_int> {
        if self.cooked {
            vec![DLT_LINUX_SLL, DLT_LINUX_SLL2]
        } else {
            vec![DLT_EN10MB, DLT_DOCSIS]
        }
    }
}

/// Whether netring serves `dev` (an Ethernet-type interface of this
/// namespace); the rest goes to the real libpcap.
pub fn serves(dev: &str) -> bool {
    if dev.is_empty() || dev.contains('/') {
        return false;
    }
    if let Ok(e) = std::env::var("NETRING_PCAP_ENGINE") {
        if e == "libpcap" {
            return false;
        }
    }
    dev == "any" || arphrd(dev) == Some(libc::ARPHRD_ETHER)
}

/// The hardware type of `dev` in the calling thread's network namespace
/// (`SIOCGIFHWADDR`; sysfs could belong to another namespace).
fn arphrd(dev: &str) -> Option<u16> {
    if dev.len() >= libc::IFNAMSIZ || dev.contains('\0') {
        return None;
    }
    // SAFETY: socket(2) with constant arguments; the fd is owned below.
    let fd = unsafe { libc::socket(libc::AF_UNIX, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return None;
    }
    // SAFETY: fd was just created and is closed when `_owned` drops.
    let _owned = unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) };
    // SAFETY: ifreq is plain data; all-zero is a valid value.
    let mut ifr: libc::ifreq = unsafe { std::mem::zeroed() };
    for (d, s) in ifr.ifr_name.iter_mut().zip(dev.bytes()) {
        *d = s as libc::c_char;
    }
    // SAFETY: SIOCGIFHWADDR reads ifr_name and writes ifr_hwaddr of a
    // valid ifreq.
    if unsafe { libc::ioctl(fd, libc::SIOCGIFHWADDR, &mut ifr) } < 0 {
        return None;
    }
    // SAFETY: after SIOCGIFHWADDR the union holds ifru_hwaddr.
    Some(unsafe { ifr.ifr_ifru.ifru_hwaddr.sa_family })
}

fn sysfs_u64(dev: &str, what: &str) -> u64 {
    std::fs::read_to_string(format!("/sys/class/net/{dev}/statistics/{what}"))
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0)
}

/// libpcap's `linux_if_drops`: missed + fifo errors.
fn if_drops(dev: &str) -> u64 {
    sysfs_u64(dev, "rx_missed_errors") + sysfs_u64(dev, "rx_fifo_errors")
}

/// Parse a size: bytes, or with a K/M/G suffix (powers of 1024).
pub fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let (num, mul) = match s.chars().last()? {
        'k' | 'K' => (&s[..s.len() - 1], 1u64 << 10),
        'm' | 'M' => (&s[..s.len() - 1], 1 << 20),
        'g' | 'G' => (&s[..s.len() - 1], 1 << 30),
        _ => (s, 1),
    };
    num.parse::<u64>().ok()?.checked_mul(mul)
}

/// `NETRING_PCAP_FANOUT=MODE:GROUP[:FLAG,...]`.
pub fn parse_fanout(s: &str) -> Result<Fanout, String> {
    let bad = || {
        format!(
            "NETRING_PCAP_FANOUT='{s}': expected MODE:GROUP[:FLAGS] with MODE one of hash, lb, \
             cpu, rollover, random, qm, GROUP 0..65535 and FLAGS a comma list of defrag, \
             rollover, ignore_outgoing (example: hash:42)"
        )
    };
    let mut it = s.split(':');
    let mode = match it.next().unwrap_or("") {
        "hash" => FanoutMode::Hash,
        "lb" => FanoutMode::LoadBalance,
        "cpu" => FanoutMode::Cpu,
        "rollover" => FanoutMode::Rollover,
        "random" | "rnd" => FanoutMode::Random,
        "qm" => FanoutMode::QueueMapping,
        _ => return Err(bad()),
    };
    let group: u16 = it.next().and_then(|g| g.parse().ok()).ok_or_else(bad)?;
    let mut flags = FanoutFlags::empty();
    if let Some(fl) = it.next() {
        for f in fl.split(',') {
            flags |= match f {
                "defrag" => FanoutFlags::DEFRAG,
                "rollover" => FanoutFlags::ROLLOVER,
                "ignore_outgoing" => FanoutFlags::IGNORE_OUTGOING,
                _ => return Err(bad()),
            };
        }
    }
    if it.next().is_some() {
        return Err(bad());
    }
    Ok(Fanout { group, mode, flags })
}

/// libpcap's time stamp type as the engine's source: `PCAP_TSTAMP_ADAPTER`
/// is the hardware clock converted to system time
/// (`SOF_TIMESTAMPING_SYS_HARDWARE`), `PCAP_TSTAMP_ADAPTER_UNSYNCED` the raw
/// hardware clock (`SOF_TIMESTAMPING_RAW_HARDWARE`), as in libpcap's
/// pcap-linux.c; the host types are the kernel's software stamps.
pub fn timestamp_source(tstamp_type: c_int) -> TimestampSource {
    match tstamp_type {
        3 => TimestampSource::HardwareSys,
        4 => TimestampSource::HardwareRaw,
        _ => TimestampSource::Software,
    }
}

/// The engine `NETRING_PCAP_ENGINE` selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// TPACKET_V3 (the default).
    AfPacket,
    /// AF_XDP on one queue (None: every RX queue), attached natively,
    /// generically or whichever works.
    Xdp(Option<u32>, AttachMode),
}

/// `NETRING_PCAP_ENGINE`: `afpacket` (or empty), `libpcap` (handled by
/// [`serves`]), `xdp[:QUEUE][:native|generic]`.
pub fn parse_engine(v: &str) -> Result<Engine, String> {
    let bad = || {
        format!(
            "NETRING_PCAP_ENGINE='{v}': expected afpacket (default), libpcap, or \
             xdp[:QUEUE][:native|generic] (examples: xdp, xdp:0, xdp:generic, xdp:2:native)"
        )
    };
    match v {
        "" | "afpacket" | "libpcap" => return Ok(Engine::AfPacket),
        _ => {}
    }
    let mut it = v.split(':');
    if it.next() != Some("xdp") {
        return Err(bad());
    }
    let (mut queue, mut attach) = (None, AttachMode::Auto);
    let mut seen_attach = false;
    for part in it {
        if seen_attach {
            return Err(bad());
        }
        match part {
            "native" => {
                attach = AttachMode::Native;
                seen_attach = true;
            }
            "generic" => {
                attach = AttachMode::Generic;
                seen_attach = true;
            }
            q if queue.is_none() => queue = Some(q.parse::<u32>().map_err(|_| bad())?),
            _ => return Err(bad()),
        }
    }
    Ok(Engine::Xdp(queue, attach))
}

/// The engine the environment selects.
pub fn engine() -> Result<Engine, String> {
    match std::env::var("NETRING_PCAP_ENGINE") {
        Ok(v) => parse_engine(&v),
        Err(_) => Ok(Engine::AfPacket),
    }
}

/// The capture configuration from the settings and the environment.
pub fn config(opts: &Opts, snaplen: u32) -> Result<CaptureConfig, String> {
    let mut cfg = CaptureConfig {
        snaplen,
        promiscuous: opts.promisc,
        block_timeout_ms: if opts.immediate {
            1
        } else if opts.timeout > 0 {
            opts.timeout.min(65535) as u32
        } else {
            0
        },
        // VLAN tags are put back per packet in `dispatch` (a copy for the
        // tagged frames only) rather than by a pass over every block.
        vlan_reinsert: false,
        // pcap_set_tstamp_type accepted only what the device lists (the
        // real libpcap's list, from ethtool); as libpcap, a device that
        // then refuses SIOCSHWTSTAMP leaves software time stamps.
        timestamp: timestamp_source(opts.tstamp_type),
        timestamp_fallback: true,
        ..CaptureConfig::default()
    };
    let mut ring = if opts.buffer_size > 0 {
        opts.buffer_size as u64
    } else {
        DEFAULT_RING
    };
    if let Ok(v) = std::env::var("NETRING_PCAP_RING") {
        ring = parse_size(&v).filter(|r| *r >= 2 * BLOCK).ok_or_else(|| {
            format!(
                "NETRING_PCAP_RING='{v}': expected a ring size of at least 2M, in bytes or with \
                 a K/M/G suffix (example: 256M)"
            )
        })?;
    }
    cfg.block_size = BLOCK as u32;
    cfg.block_count = (ring / BLOCK).max(2).min(u64::from(u32::MAX)) as u32;
    if let Ok(v) = std::env::var("NETRING_PCAP_FANOUT") {
        cfg.fanout = Some(parse_fanout(&v)?);
    }
    engine()?;
    Ok(cfg)
}

/// Map an engine error to a libpcap status.
pub fn status_of(kind: ErrorKind) -> c_int {
    match kind {
        ErrorKind::Permission => code::PERM_DENIED,
        ErrorKind::NoDevice | ErrorKind::InterfaceGone => code::NO_SUCH_DEVICE,
        _ => code::ERROR,
    }
}

/// Open the capture. Returns a warning for errbuf (libpcap's text when
/// promiscuous mode is asked on "any") or the error status and a message
/// for errbuf.
pub fn activate(l: &mut Live) -> Result<Option<String>, (c_int, String)> {
    if l.opts.rfmon {
        return Err((
            code::RFMON_NOTSUP,
            format!("{}: monitor mode is not supported on this device", l.dev),
        ));
    }
    let mut snap = if l.opts.snaplen <= 0 || l.opts.snaplen > MAX_SNAPLEN {
        MAX_SNAPLEN
    } else {
        l.opts.snaplen
    } as u32;
    let mut warning = None;
    if let Engine::Xdp(queue, attach) = engine().map_err(|m| (code::ERROR, m))? {
        if l.cooked {
            return Err((
                code::ERROR,
                "NETRING_PCAP_ENGINE=xdp: the AF_XDP engine captures on one interface; \
                 the \"any\" device needs afpacket"
                    .into(),
            ));
        }
        // The other variables are checked as for afpacket.
        config(&l.opts, snap).map_err(|m| (code::ERROR, m))?;
        let cfg = XdpConfig {
            attach,
            ..XdpConfig::default()
        };
        let x = match queue {
            Some(q) => Xdp::open(&l.dev, q, &cfg),
            None => Xdp::open_all(&l.dev, &cfg),
        }
        .map_err(|e| (status_of(e.kind()), format!("NETRING_PCAP_ENGINE=xdp: {e}")))?;
        l.snapshot = snap;
        l.ifdrop_base = if_drops(&l.dev);
        l.fd = x.fd();
        l.ifindex = x.ifindex();
        l.ring_bytes = u64::from(x.info().frame_size) * u64::from(x.info().frame_count);
        l.xdp = Some(x);
        l.on_xdp = true;
        l.activated = true;
        return Ok(None);
    }
    let cap = if l.cooked {
        // libpcap's "any": promiscuous mode is refused with a warning, the
        // snapshot holds at least an SLL2 header and one byte.
        if l.opts.promisc {
            l.opts.promisc = false;
            warning = Some("Promiscuous mode not supported on the \"any\" device".to_owned());
        }
        snap = snap.max(SLL2_HDR_LEN as u32 + 1);
        let cfg = config(&l.opts, snap).map_err(|m| (code::ERROR, m))?;
        l.linktype = DLT_LINUX_SLL;
        l.lo_ifindex = lo_ifindex();
        Capture::open_any(&cfg).map_err(|e| (status_of(e.kind()), e.to_string()))?
    } else {
        let cfg = config(&l.opts, snap).map_err(|m| (code::ERROR, m))?;
        Capture::open(&l.dev, &cfg).map_err(|e| (status_of(e.kind()), e.to_string()))?
    };
    l.snapshot = snap;
    l.ifdrop_base = if_drops(&l.dev);
    l.fd = cap.fd();
    l.ifindex = cap.ifindex();
    let ri = cap.ring_info();
    l.ring_bytes = u64::from(ri.block_size) * u64::from(ri.block_count);
    l.cap = Some(cap);
    l.activated = true;
    Ok(warning)
}

/// The index of `lo` in the calling thread's namespace (-1 when none).
fn lo_ifindex() -> i32 {
    // SAFETY: a NUL-terminated constant name.
    let i = unsafe { libc::if_nametoindex(c"lo".as_ptr()) };
    if i == 0 { -1 } else { i as i32 }
}

const SKF_AD_OFF: u32 = (-0x1000i32) as u32;
const SKF_AD_PROTOCOL: u32 = 0;
const SKF_AD_PKTTYPE: u32 = 4;
const SKF_AD_IFINDEX: u32 = 8;

/// libpcap's `fix_program`/`fix_offset` for a cooked socket: the program
/// libpcap compiled reads an SLL (or SLL2) header the kernel does not
/// have; loads past it move down by its length, loads of the protocol,
/// packet type (and, for SLL2, interface index) become ancillary loads.
/// None when the program reads another header field: it then runs in user
/// space only.
pub fn fix_cooked(prog: &[BpfInsnC], sll2: bool) -> Option<Vec<BpfInsnC>> {
    let mut out = prog.to_vec();
    for p in &mut out {
        let class = p.code & 0x07;
        let mode = p.code & 0xe0;
        // BPF_LD / BPF_LDX with BPF_ABS, BPF_IND or BPF_MSH.
        if !(class == 0x00 || class == 0x01) || !(mode == 0x20 || mode == 0x40 || mode == 0xa0) {
            continue;
        }
        if p.k >= SKF_AD_OFF {
            continue;
        }
        let (hdr, map): (u32, &[(u32, u32)]) = if sll2 {
            (
                SLL2_HDR_LEN as u32,
                &[
                    (0, SKF_AD_PROTOCOL),
                    (4, SKF_AD_IFINDEX),
                    (10, SKF_AD_PKTTYPE),
                ],
            )
        } else {
            (
                SLL_HDR_LEN as u32,
                &[(0, SKF_AD_PKTTYPE), (14, SKF_AD_PROTOCOL)],
            )
        };
        if p.k >= hdr {
            p.k -= hdr;
        } else if let Some(&(_, ad)) = map.iter().find(|(off, _)| *off == p.k) {
            p.k = SKF_AD_OFF.wrapping_add(ad);
        } else if (p.k as i32) > 0 {
            return None;
        }
    }
    Some(out)
}

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

/// `pcap_setfilter` on a live handle.
pub fn set_filter(l: &mut Live, prog: &[BpfInsnC]) -> Result<(), String> {
    if !l.activated {
        return Err("not-yet-activated pcap_t passed to pcap_setfilter".into());
    }
    if l.on_xdp {
        // AF_XDP has no socket filter: every frame is filtered here.
        l.filter_all = true;
        l.filter = Some(prog.to_vec());
        return Ok(());
    }
    let Some(cap) = l.cap.as_mut() else {
        return Err(
            "pcap_setfilter cannot be called from inside a pcap_loop/pcap_dispatch callback \
             on this handle"
                .into(),
        );
    };
    let fixed;
    let kprog = if l.cooked {
        fixed = fix_cooked(prog, l.linktype == DLT_LINUX_SLL2);
        fixed.as_deref()
    } else {
        Some(prog)
    };
    let Some(kprog) = kprog else {
        // libpcap removes the kernel filter and filters in user space.
        let _ = cap.set_filter(None);
        l.filter_all = true;
        l.filter = Some(prog.to_vec());
        return Ok(());
    };
    let insns: Vec<BpfInsn> = kprog
        .iter()
        .map(|i| BpfInsn {
            code: i.code,
            jt: i.jt,
            jf: i.jf,
            k: i.k,
        })
        .collect();
    // Frames already in the ring were captured without this filter: those
    // stamped up to now are filtered again in user space.
    match cap.set_filter(Some(&insns)) {
        Ok(()) => {
            l.filter_all = false;
            l.filter_until_ns = now_ns();
        }
        Err(_) => {
            // libpcap too filters in user space what the kernel refuses.
            l.filter_all = true;
        }
    }
    l.filter = Some(prog.to_vec());
    Ok(())
}

/// What the read loop needs of the handle, taken out of it for the loop so
/// that no borrow of the handle is held while a callback runs (a callback
/// may call back into the same handle: `pcap_dump_open`, `pcap_stats`,
/// `pcap_breakloop`, ...).
struct Sel {
    direction: c_int,
    protocol: u16,
    snapshot: u32,
    nano: bool,
    filter: Option<Vec<BpfInsnC>>,
    filter_all: bool,
    filter_until_ns: u64,
    cooked: bool,
    linktype: c_int,
    lo_ifindex: i32,
}

/// What a packet looks like to the handle: None when it is not delivered.
fn accept(l: &Sel, p: &Packet<'_>) -> Option<u32> {
    match l.direction {
        D_IN if p.pkt_type == PACKET_OUTGOING => return None,
        D_OUT if p.pkt_type != PACKET_OUTGOING => return None,
        _ => {}
    }
    if l.protocol != 0 && p.protocol != l.protocol {
        return None;
    }
    let mut caplen = (p.data.len() as u32).min(l.snapshot);
    match user_filter(l, p, p.data) {
        Some(0) => return None,
        Some(v) => caplen = caplen.min(v),
        None => {}
    }
    Some(caplen)
}

/// The user-space filter's verdict on `bytes` (the packet as the program
/// sees it, with the ring's metadata for the ancillary loads): None when
/// no user-space filter applies to this packet, else the snap length it
/// returns (0: drop).
fn user_filter(l: &Sel, p: &Packet<'_>, bytes: &[u8]) -> Option<u32> {
    let f = l.filter.as_ref()?;
    if !(l.filter_all || p.ts_ns <= l.filter_until_ns) {
        return None;
    }
    let aux = Aux {
        protocol: p.protocol,
        pkttype: p.pkt_type,
        ifindex: p.ifindex,
        vlan_tci: p.vlan_tci,
        vlan_present: p.flags.contains(PacketFlags::VLAN_VALID),
        vlan_tpid: p.vlan_tpid,
    };
    Some(bpf::run(f, bytes, p.wire_len, Some(&aux)))
}

/// The `any` device: the packet with an SLL/SLL2 header built in front
/// from the ring's metadata into `buf` (libpcap's
/// `pcap_handle_packet_mmap` in cooked mode: user-space filter on the
/// cooked bytes with the network length as wire length, direction check
/// with `lo`'s outgoing copies dropped, VLAN tag put back before the SLL
/// protocol field); None when the packet is not delivered.
fn cook(l: &Sel, p: &Packet<'_>, buf: &mut Vec<u8>) -> Option<PktHdr> {
    let outgoing = p.pkt_type == PACKET_OUTGOING;
    if outgoing && (p.ifindex == l.lo_ifindex || l.direction == D_IN) {
        return None;
    }
    if !outgoing && l.direction == D_OUT {
        return None;
    }
    if l.protocol != 0 && p.protocol != l.protocol {
        return None;
    }
    let sll2 = l.linktype == DLT_LINUX_SLL2;
    buf.clear();
    let hdr_len = if sll2 {
        buf.extend_from_slice(&p.protocol.to_be_bytes());
        buf.extend_from_slice(&[0, 0]);
        buf.extend_from_slice(&(p.ifindex as u32).to_be_bytes());
        buf.extend_from_slice(&p.hw.hatype.to_be_bytes());
        buf.push(p.pkt_type);
        buf.push(p.hw.len);
        buf.extend_from_slice(&p.hw.addr);
        SLL2_HDR_LEN
    } else {
        buf.extend_from_slice(&u16::from(p.pkt_type).to_be_bytes());
        buf.extend_from_slice(&p.hw.hatype.to_be_bytes());
        buf.extend_from_slice(&u16::from(p.hw.len).to_be_bytes());
        buf.extend_from_slice(&p.hw.addr);
        buf.extend_from_slice(&p.protocol.to_be_bytes());
        SLL_HDR_LEN
    } as u32;
    buf.extend_from_slice(p.data);
    if user_filter(l, p, buf) == Some(0) {
        return None;
    }
    let mut caplen = buf.len() as u32;
    let mut len = p.wire_len + hdr_len;
    // libpcap's vlan_offset: SLL_HDR_LEN - 2 for SLL, none for SLL2.
    if !sll2 && p.flags.contains(PacketFlags::VLAN_VALID) && p.data.len() >= SLL_HDR_LEN - 2 {
        let tpid = if p.flags.contains(PacketFlags::VLAN_TPID_VALID) && p.vlan_tpid != 0 {
            p.vlan_tpid
        } else {
            0x8100
        };
        let mut tag = [0u8; 4];
        tag[..2].copy_from_slice(&tpid.to_be_bytes());
        tag[2..].copy_from_slice(&p.vlan_tci.to_be_bytes());
        buf.splice(SLL_HDR_LEN - 2..SLL_HDR_LEN - 2, tag);
        caplen += 4;
        len += 4;
    }
    let caplen = caplen.min(l.snapshot);
    let mut h = header(p, caplen, l.nano);
    h.len = len;
    Some(h)
}

/// A `pcap_pkthdr` for a packet.
fn header(p: &Packet<'_>, caplen: u32, nano: bool) -> PktHdr {
    let sec = p.ts_ns / 1_000_000_000;
    let frac = p.ts_ns % 1_000_000_000;
    PktHdr {
        ts: libc::timeval {
            tv_sec: sec as libc::time_t,
            tv_usec: if nano { frac } else { frac / 1000 } as libc::suseconds_t,
        },
        caplen,
        len: p.wire_len,
    }
}

/// libpcap's `pcap_read_linux_mmap_v3`: deliver up to `cnt` packets (all
/// that are ready when `cnt <= 0`), waiting only for the first. Returns the
/// count, 0 on timeout, `PCAP_ERROR_BREAK`, or an error message.
pub fn dispatch(
    cell: &UnsafeCell<Live>,
    brk: &netring_engine::Breaker,
    flag: &AtomicBool,
    cnt: c_int,
    f: &mut dyn FnMut(&PktHdr, &[u8]),
) -> Result<c_int, String> {
    {
        // SAFETY: as below.
        let on_xdp = unsafe { (*cell.get()).on_xdp };
        if on_xdp {
            return dispatch_xdp(cell, brk, flag, cnt, f);
        }
    }
    let (first, sel, mut vbuf, mut cap) = {
        // SAFETY: one thread per handle, and no other borrow of the handle
        // exists here: borrows are short and none is held across a callback.
        let l = unsafe { &mut *cell.get() };
        let first = l.first_wait();
        let cap = l
            .cap
            .take()
            .ok_or_else(|| "not-yet-activated pcap_t passed to pcap_dispatch".to_string())?;
        let sel = l.take_selection();
        (first, sel, std::mem::take(&mut l.vlan_buf), cap)
    };
    let l = &sel;
    let nano = sel.nano;
    let mut handled = 0u64;
    let mut pkts: c_int = 0;
    let res = (|| {
        loop {
            if cnt > 0 && pkts >= cnt {
                break;
            }
            let t = if handled == 0 {
                first
            } else {
                Some(Duration::ZERO)
            };
            match cap.next_packet(t) {
                Ok(Wait::Ready(p)) => {
                    handled += 1;
                    if l.cooked {
                        if let Some(h) = cook(l, &p, &mut vbuf) {
                            f(&h, &vbuf[..h.caplen as usize]);
                            pkts += 1;
                        }
                    } else if let Some(caplen) = accept(l, &p) {
                        if p.flags.contains(PacketFlags::VLAN_VALID) && p.data.len() >= 12 {
                            // The kernel stripped the tag: put it back after
                            // the MAC addresses, as libpcap does.
                            let tpid = if p.flags.contains(PacketFlags::VLAN_TPID_VALID)
                                && p.vlan_tpid != 0
                            {
                                p.vlan_tpid
                            } else {
                                0x8100
                            };
                            vbuf.clear();
                            vbuf.extend_from_slice(&p.data[..12]);
                            vbuf.extend_from_slice(&tpid.to_be_bytes());
                            vbuf.extend_from_slice(&p.vlan_tci.to_be_bytes());
                            vbuf.extend_from_slice(&p.data[12..caplen as usize]);
                            let cl = (vbuf.len() as u32).min(l.snapshot);
                            let mut h = header(&p, cl, nano);
                            h.len = p.wire_len + 4;
                            f(&h, &vbuf[..cl as usize]);
                        } else {
                            let h = header(&p, caplen, nano);
                            f(&h, &p.data[..caplen as usize]);
                        }
                        pkts += 1;
                    }
                }
                Ok(Wait::Timeout) | Ok(Wait::InterfaceDown) => break,
                Ok(Wait::Interrupted) => {
                    flag.store(false, Ordering::Relaxed);
                    return Ok(code::BREAK);
                }
                Err(e) => return Err(e.to_string()),
            }
            // A plain load per packet; the engine's request (an atomic swap
            // and the eventfd) is consumed only when a break was asked for.
            if flag.load(Ordering::Acquire) {
                flag.store(false, Ordering::Relaxed);
                brk.take_request();
                return Ok(code::BREAK);
            }
        }
        Ok(pkts)
    })();
    cap.release_consumed();
    // SAFETY: as above; the callbacks have returned.
    let l = unsafe { &mut *cell.get() };
    l.cap = Some(cap);
    l.vlan_buf = vbuf;
    // (pcap_setfilter refuses to run from a callback, so the filter taken
    // out is still the handle's.)
    l.filter = sel.filter;
    res
}

/// The read loop on the AF_XDP engine: as [`dispatch`], the held batch
/// and the position in it kept across calls, every frame filtered in user
/// space (AF_XDP has no socket filter).
fn dispatch_xdp(
    cell: &UnsafeCell<Live>,
    brk: &netring_engine::Breaker,
    flag: &AtomicBool,
    cnt: c_int,
    f: &mut dyn FnMut(&PktHdr, &[u8]),
) -> Result<c_int, String> {
    let (first, sel, mut cursor, mut x) = {
        // SAFETY: one thread per handle; no borrow is held across a
        // callback (the engine is moved out of the handle meanwhile).
        let l = unsafe { &mut *cell.get() };
        let first = l.first_wait();
        let x = l
            .xdp
            .take()
            .ok_or_else(|| "not-yet-activated pcap_t passed to pcap_dispatch".to_string())?;
        // AF_XDP has no socket filter: every frame is filtered here.
        let sel = Sel {
            filter_all: true,
            filter_until_ns: 0,
            cooked: false,
            lo_ifindex: -1,
            ..l.take_selection()
        };
        (first, sel, l.xdp_cursor, x)
    };
    let mut waited = false;
    let mut pkts: c_int = 0;
    let res = (|| {
        loop {
            if cnt > 0 && pkts >= cnt {
                break;
            }
            if !x.is_held() {
                let t = if waited { Some(Duration::ZERO) } else { first };
                waited = true;
                match x.acquire(t) {
                    Ok(Wait::Ready(())) => cursor = Cursor::START,
                    Ok(Wait::Timeout) | Ok(Wait::InterfaceDown) => break,
                    Ok(Wait::Interrupted) => {
                        flag.store(false, Ordering::Relaxed);
                        return Ok(code::BREAK);
                    }
                    Err(e) => return Err(e.to_string()),
                }
            }
            waited = true;
            let walked = x.walk_held(&mut cursor, |p| {
                if let Some(caplen) = accept(&sel, p) {
                    let h = header(p, caplen, sel.nano);
                    f(&h, &p.data[..caplen as usize]);
                    pkts += 1;
                }
                let more = !(cnt > 0 && pkts >= cnt);
                more && !flag.load(Ordering::Acquire)
            });
            if cursor.is_done() {
                let _ = x.release_held();
            }
            if let Err(e) = walked {
                return Err(e.to_string());
            }
            if flag.load(Ordering::Acquire) {
                flag.store(false, Ordering::Relaxed);
                brk.take_request();
                return Ok(code::BREAK);
            }
        }
        Ok(pkts)
    })();
    let st = x.stats().ok();
    let held = x.held_len() as u64;
    // SAFETY: as above; the callbacks have returned.
    let l = unsafe { &mut *cell.get() };
    if let Some(st) = st {
        l.xdp_stats = (st, held);
    }
    l.xdp = Some(x);
    l.xdp_cursor = cursor;
    l.filter = sel.filter;
    res
}

/// `pcap_stats` on a live handle: libpcap's meaning (`ps_recv` counts what
/// the kernel saw, its drops included; `ps_drop` its drops), read straight
/// from the socket so that it also works from inside a callback.
pub fn stats(l: &mut Live) -> Result<PcapStat, String> {
    if !l.activated {
        return Err("not-yet-activated pcap_t passed to pcap_stats".into());
    }
    if l.on_xdp {
        // AF_XDP: frames delivered (released, plus the held batch) and the
        // kernel's drops (no fill frame, RX ring full) make ps_recv, as
        // TPACKET's tp_packets counts its drops; the drops are ps_drop.
        if let Some(x) = l.xdp.as_mut() {
            if let Ok(st) = x.stats() {
                l.xdp_stats = (st, x.held_len() as u64);
            }
        }
        let (st, held) = l.xdp_stats;
        let drops = st.rx_dropped + st.rx_ring_full;
        return Ok(PcapStat {
            ps_recv: (st.rx_packets + held + drops) as u32,
            ps_drop: drops as u32,
            ps_ifdrop: if_drops(&l.dev).saturating_sub(l.ifdrop_base) as u32,
        });
    }
    #[repr(C)]
    #[derive(Default)]
    struct TpacketStatsV3 {
        tp_packets: u32,
        tp_drops: u32,
        tp_freeze_q_cnt: u32,
    }
    let mut st = TpacketStatsV3::default();
    let mut len = std::mem::size_of::<TpacketStatsV3>() as libc::socklen_t;
    // SAFETY: getsockopt writes at most `len` bytes into st.
    let rc = unsafe {
        libc::getsockopt(
            l.fd,
            libc::SOL_PACKET,
            libc::PACKET_STATISTICS,
            (&mut st as *mut TpacketStatsV3).cast(),
            &mut len,
        )
    };
    if rc < 0 {
        return Err(format!(
            "failed to get statistics from socket: {}",
            std::io::Error::last_os_error()
        ));
    }
    // tp_packets already includes tp_drops (the kernel's accounting).
    l.stat.0 += u64::from(st.tp_packets);
    l.stat.1 += u64::from(st.tp_drops);
    Ok(PcapStat {
        ps_recv: l.stat.0 as u32,
        ps_drop: l.stat.1 as u32,
        ps_ifdrop: if_drops(&l.dev).saturating_sub(l.ifdrop_base) as u32,
    })
}

/// `pcap_inject` on a live handle: netring's injector (opened on first
/// use), or a plain send on the capture socket when it cannot be opened
/// (privileges dropped after activation).
pub fn inject(l: &mut Live, frame: &[u8]) -> Result<usize, String> {
    if l.cooked {
        return Err("Sending packets isn't supported on the \"any\" device".into());
    }
    if l.injector.is_none() {
        let cfg = InjectorConfig {
            frame_count: 64,
            ..InjectorConfig::default()
        };
        if let Ok(i) = Injector::open(&l.dev, &cfg) {
            l.injector = Some(i);
        }
    }
    if let Some(inj) = l.injector.as_mut() {
        if frame.len() <= inj.max_frame_len() {
            let ok = inj.inject(frame).map_err(|e| format!("send: {e}"))?;
            inj.flush().map_err(|e| format!("send: {e}"))?;
            if !ok {
                return Err("send: the transmit ring stayed full".into());
            }
            return Ok(frame.len());
        }
    }
    if !l.activated {
        return Err("not-yet-activated pcap_t passed to pcap_inject".into());
    }
    // SAFETY: the capture socket is open and bound to the device; frame is
    // valid for frame.len() bytes.
    let n = unsafe { libc::send(l.fd, frame.as_ptr().cast(), frame.len(), 0) };
    if n < 0 {
        return Err(format!("send: {}", std::io::Error::last_os_error()));
    }
    Ok(n as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_values() {
        assert_eq!(parse_size("256M"), Some(256 << 20));
        assert_eq!(parse_size("4096"), Some(4096));
        assert_eq!(parse_size("x"), None);
        let f = parse_fanout("hash:42").unwrap();
        assert_eq!((f.group, f.mode), (42, FanoutMode::Hash));
        assert!(parse_fanout("lb:7:defrag,rollover").is_ok());
        assert!(parse_fanout("hash").is_err());
        assert!(parse_fanout("bogus:1").is_err());
        assert!(parse_fanout("hash:70000").is_err());
    }

    #[test]
    fn tstamp_types_map_to_sources() {
        assert_eq!(timestamp_source(0), TimestampSource::Software);
        assert_eq!(timestamp_source(1), TimestampSource::Software);
        assert_eq!(timestamp_source(2), TimestampSource::Software);
        assert_eq!(timestamp_source(3), TimestampSource::HardwareSys);
        assert_eq!(timestamp_source(4), TimestampSource::HardwareRaw);
        let o = Opts {
            tstamp_type: 4,
            ..Opts::default()
        };
        let c = config(&o, 100).unwrap();
        assert_eq!(c.timestamp, TimestampSource::HardwareRaw);
        assert!(c.timestamp_fallback);
    }

    #[test]
    fn engine_values() {
        assert_eq!(parse_engine(""), Ok(Engine::AfPacket));
        assert_eq!(parse_engine("afpacket"), Ok(Engine::AfPacket));
        assert_eq!(parse_engine("xdp"), Ok(Engine::Xdp(None, AttachMode::Auto)));
        assert_eq!(
            parse_engine("xdp:3"),
            Ok(Engine::Xdp(Some(3), AttachMode::Auto))
        );
        assert_eq!(
            parse_engine("xdp:generic"),
            Ok(Engine::Xdp(None, AttachMode::Generic))
        );
        assert_eq!(
            parse_engine("xdp:1:native"),
            Ok(Engine::Xdp(Some(1), AttachMode::Native))
        );
        for bad in [
            "xdp:",
            "xdp:x",
            "xdp:1:2",
            "xdp:native:1",
            "xdp:generic:native",
            "bpf",
        ] {
            assert!(parse_engine(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn cooked_fix_up_is_libpcaps() {
        let i = |code: u16, k: u32| BpfInsnC {
            code,
            jt: 0,
            jf: 0,
            k,
        };
        // ldh [14]; ldb [0]; ld [20]; ldxb 4*([16]&0xf); ldh [x+18]; ret #262144
        let p = [
            i(0x28, 14),
            i(0x30, 0),
            i(0x20, 20),
            i(0xb1, 16),
            i(0x48, 18),
            i(0x06, 262_144),
        ];
        let f = fix_cooked(&p, false).unwrap();
        let ks: Vec<u32> = f.iter().map(|x| x.k).collect();
        assert_eq!(
            ks,
            [SKF_AD_OFF, SKF_AD_OFF + 4, 4, 0, 2, 262_144],
            "SLL: protocol and pkttype become ancillary, the rest moves down 16"
        );
        // SLL2: protocol at 0, ifindex at 4, pkttype at 10; 20 bytes.
        let p2 = [i(0x28, 0), i(0x20, 4), i(0x30, 10), i(0x28, 32), i(0x06, 1)];
        let ks: Vec<u32> = fix_cooked(&p2, true).unwrap().iter().map(|x| x.k).collect();
        assert_eq!(ks, [SKF_AD_OFF, SKF_AD_OFF + 8, SKF_AD_OFF + 4, 12, 1]);
        // Another header field (the hardware type): user space only.
        assert!(fix_cooked(&[i(0x28, 2), i(0x06, 1)], false).is_none());
        assert!(fix_cooked(&[i(0x28, 8), i(0x06, 1)], true).is_none());
    }
}
