//! Live capture on netring's engines with libpcap's semantics
//! (pcap-linux.c of libpcap 1.10): settings made before activation,
//! activation on TPACKET_V3 (or AF_XDP with `NETRING_PCAP_ENGINE=xdp...`),
//! statistics and injection. The read loop is [`read`], the `any` device's
//! cooked records are [`cooked`], the real libpcap's handle of the same
//! device (which compiles filters and lists time stamp types) is
//! [`shadow`].

pub mod cooked;
pub mod read;
pub mod shadow;
pub mod split;

use std::ffi::c_int;

use netring_engine::{
    Capture, CaptureConfig, Cursor, ErrorKind, HeldBatch, Injector, InjectorConfig,
    TimestampSource, Xdp, XdpConfig, XdpStats,
};

use crate::code;
use crate::datalink::{DLT_EN10MB, DLT_LINUX_SLL};
use crate::env::{self, Engine};
use crate::filter::Filter;
use cooked::SLL2_HDR_LEN;
use shadow::Shadow;

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
    /// The `any` device: a cooked capture on every interface.
    pub cooked: bool,
    /// The real libpcap's handle of the same device.
    pub shadow: Shadow,
    /// Current DLT.
    pub linktype: c_int,
    /// Non-blocking mode.
    pub nonblock: bool,
    /// `pcap_setdirection`.
    pub direction: c_int,
    /// The filter set with `pcap_setfilter`.
    pub filter: Filter,
    /// Injector, opened on first use.
    pub injector: Option<Injector>,
    /// What activation made (None before).
    pub active: Option<Active>,
}

/// The engine a live handle reads.
pub enum Source {
    /// TPACKET_V3.
    Ring(Box<Capture>),
    /// AF_XDP.
    Xdp(Box<Xdp>),
}

/// An activated live handle.
pub struct Active {
    /// What a running read loop took out of the handle ([`read::dispatch`]),
    /// NULL when none runs; one left behind by a `longjmp` out of the loop
    /// is taken back by [`read::reclaim_stale`].
    pub loan: *mut read::Out,
    /// The thread that lent it.
    pub loan_thread: Option<libc::pthread_t>,
    /// The last loan's allocation, for the next read.
    pub spare: Option<Box<read::Out>>,
    /// The engine; moved out of the handle while a read loop runs, so
    /// calls from inside a callback use the fields below.
    pub source: Option<Source>,
    /// Position inside the engine's held batch, kept across calls.
    pub cursor: Cursor,
    /// An engine error seen after packets were delivered, reported by the
    /// next read (libpcap's order: the packets first).
    pub pending: Option<String>,
    /// Scratch for records built here (cooked headers, VLAN tags).
    pub scratch: Vec<u8>,
    /// Snapshot length in effect.
    pub snapshot: u32,
    /// The capture socket (the first AF_XDP socket).
    pub fd: c_int,
    /// Interface index of the capture (0 for `any`).
    pub ifindex: i32,
    /// Index of `lo` (its outgoing frames are seen again as incoming on
    /// `any`), -1 when unknown.
    pub lo_ifindex: i32,
    /// Ring bytes.
    pub ring_bytes: u64,
    /// Interface drops at activation.
    pub ifdrop_base: u64,
    /// Kernel counters accumulated across PACKET_STATISTICS reads (which
    /// reset): packets seen (drops included) and drops.
    pub stat: (u64, u64),
    /// The AF_XDP statistics last read and the frames held then (served
    /// from inside a callback, while the engine is out of the handle).
    pub xdp_stats: Option<(XdpStats, u64)>,
    /// This capture in the process's list of captures per device (several
    /// handles of one device split its traffic, see [`split`]).
    pub split: Option<split::Member>,
    /// Not yet in the split of its device: it joins at its first read
    /// (or when it hands out its descriptor, [`split_on_first_read`]). A
    /// handle that only sends never takes a share.
    pub split_later: bool,
}

impl Live {
    /// A not yet activated handle.
    pub fn new(dev: &str, shadow: Shadow) -> Live {
        Live {
            dev: dev.to_owned(),
            opts: Opts::default(),
            cooked: dev == "any",
            shadow,
            linktype: DLT_EN10MB,
            nonblock: false,
            direction: D_INOUT,
            filter: Filter::default(),
            injector: None,
            active: None,
        }
    }

    /// The activated state, or libpcap's message for `what`.
    pub fn active(&mut self, what: &str) -> Result<&mut Active, String> {
        self.active
            .as_mut()
            .ok_or_else(|| format!("not-yet-activated pcap_t passed to {what}"))
    }

    /// Snapshot length in effect (0 before activation).
    pub fn snapshot(&self) -> u32 {
        self.active.as_ref().map_or(0, |a| a.snapshot)
    }

    /// The snapshot length activation will use: libpcap's rule for the
    /// settings (MAXIMUM_SNAPLEN for 0, negative or too large), and on
    /// `any` room for an SLL2 header and one byte.
    pub fn snapshot_for(&self) -> u32 {
        let snap = if self.opts.snaplen <= 0 || self.opts.snaplen > MAX_SNAPLEN {
            MAX_SNAPLEN
        } else {
            self.opts.snaplen
        } as u32;
        if self.cooked {
            snap.max(SLL2_HDR_LEN as u32 + 1)
        } else {
            snap
        }
    }

    /// The selectable descriptor (-1 before activation).
    pub fn fd(&self) -> c_int {
        self.active.as_ref().map_or(-1, |a| a.fd)
    }
}

/// Whether netring serves `dev` (an Ethernet-type interface of this
/// namespace, or `any`); the rest goes to the real libpcap.
pub fn serves(dev: &str) -> bool {
    if dev.is_empty() || dev.contains('/') || env::engine() == Engine::Libpcap {
        return false;
    }
    dev == "any" || arphrd(dev) == Some(libc::ARPHRD_ETHER)
}

/// The hardware type of `dev` in the calling thread's network namespace
/// (`SIOCGIFHWADDR`; sysfs could belong to another namespace).
fn arphrd(dev: &str) -> Option<u16> {
    // SAFETY: after SIOCGIFHWADDR the union holds ifru_hwaddr.
    ifreq(dev, libc::SIOCGIFHWADDR).map(|r| unsafe { r.ifr_ifru.ifru_hwaddr.sa_family })
}

/// `ioctl(req)` on an `ifreq` naming `dev`, in the calling thread's
/// network namespace; the union member `req` fills is the caller's to read.
fn ifreq(dev: &str, req: libc::Ioctl) -> Option<libc::ifreq> {
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
    // SAFETY: the interface ioctls read ifr_name and write the union of a
    // valid ifreq.
    if unsafe { libc::ioctl(fd, req, &mut ifr) } < 0 {
        return None;
    }
    Some(ifr)
}

/// A counter of /sys/class/net/DEV/statistics (0 when absent: `any`);
/// errno is left alone.
fn sysfs_u64(dev: &str, what: &str) -> u64 {
    let e = crate::real::errno();
    let v = std::fs::read_to_string(format!("/sys/class/net/{dev}/statistics/{what}"))
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0);
    crate::real::set_errno(e);
    v
}

/// libpcap's `linux_if_drops`: missed + fifo errors.
fn if_drops(dev: &str) -> u64 {
    sysfs_u64(dev, "rx_missed_errors") + sysfs_u64(dev, "rx_fifo_errors")
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

/// The frame size of an immediate-mode ring (one frame per packet). On
/// Ethernet (`mtu` known) as libpcap's `create_ring` without offloads: the
/// snap length, at most the MTU plus 18 (Ethernet header and CRC), plus
/// the kernel's header room before the MAC header (66 bytes with no
/// reserve, where libpcap's is 68): so the frames are never larger than
/// libpcap's and a ring holds at least as many. libpcap sizes them for a
/// 64 KiB aggregate when the device has segmentation or receive offloads
/// (veth has), 4091 frames in 256 MiB; here a GSO/GRO aggregate longer
/// than a frame still arrives whole, through the copy the kernel queues
/// on the socket (`PACKET_COPY_THRESH`, see the engine's
/// `CaptureConfig::immediate`). Elsewhere (`any`): big enough for the
/// snap length up to a 64 KiB aggregate with its link-layer header, plus
/// the header room (80 bytes on a cooked socket).
fn immediate_frame(snaplen: u32, mtu: Option<u32>) -> u32 {
    match mtu {
        Some(mtu) => (snaplen.min(mtu.saturating_add(18)) + 66).next_multiple_of(16),
        None => (snaplen.min(65_535 + 32) + 96).next_multiple_of(16),
    }
}

/// The MTU of `dev` (`SIOCGIFMTU`, as libpcap asks it); errno is left
/// alone.
pub fn if_mtu(dev: &str) -> Option<u32> {
    // SAFETY: after SIOCGIFMTU the union holds ifru_mtu.
    let mtu = ifreq_quiet(dev, libc::SIOCGIFMTU).map(|r| unsafe { r.ifr_ifru.ifru_mtu });
    mtu.and_then(|m| u32::try_from(m).ok()).filter(|&m| m > 0)
}

/// [`ifreq`], leaving errno as it was (the program did not ask for it).
fn ifreq_quiet(dev: &str, req: libc::Ioctl) -> Option<libc::ifreq> {
    let e = crate::real::errno();
    let r = ifreq(dev, req);
    crate::real::set_errno(e);
    r
}

/// The interface index of `dev` (`SIOCGIFINDEX`; 0 for `any` or an
/// unknown name); errno is left alone.
pub fn ifindex_of(dev: &str) -> i32 {
    // SAFETY: after SIOCGIFINDEX the union holds ifru_ifindex.
    ifreq_quiet(dev, libc::SIOCGIFINDEX).map_or(0, |r| unsafe { r.ifr_ifru.ifru_ifindex })
}

/// The capture configuration from the settings, the interface's MTU (for
/// immediate mode's frames; None: unknown, or `any`) and the environment.
pub fn config(opts: &Opts, snaplen: u32, mtu: Option<u32>, envc: &env::Config) -> CaptureConfig {
    let ring = envc.ring.unwrap_or(if opts.buffer_size > 0 {
        opts.buffer_size as u64
    } else {
        DEFAULT_RING
    });
    let frame_size = if opts.immediate {
        immediate_frame(snaplen, mtu)
    } else {
        CaptureConfig::default().frame_size
    };
    let mut block_count = (ring / BLOCK).max(2).min(u64::from(u32::MAX)) as u32;
    if opts.immediate {
        // At least as many frames as libpcap's ring of the same size
        // (ceil(ring / frame)), however they pack into blocks.
        let want = ring.div_ceil(u64::from(frame_size));
        let per_block = BLOCK / u64::from(frame_size);
        block_count = block_count.max(want.div_ceil(per_block).min(u64::from(u32::MAX)) as u32);
    }
    CaptureConfig {
        snaplen,
        promiscuous: opts.promisc,
        block_timeout_ms: if opts.immediate {
            1
        } else if opts.timeout > 0 {
            opts.timeout.min(65535) as u32
        } else {
            0
        },
        // VLAN tags are put back per packet by the read loop (a copy for
        // the tagged frames only) rather than by a pass over every block.
        vlan_reinsert: false,
        // pcap_set_tstamp_type accepted only what the device lists (the
        // real libpcap's list, from ethtool); as libpcap, a device that
        // then refuses SIOCSHWTSTAMP leaves software time stamps.
        timestamp: timestamp_source(opts.tstamp_type),
        timestamp_fallback: true,
        block_size: BLOCK as u32,
        block_count,
        frame_size,
        fanout: envc.fanout.clone(),
        // pcap_set_immediate_mode: the engine's frame ring (TPACKET_V2, as
        // libpcap's immediate mode), each frame handed over as it arrives.
        immediate: opts.immediate,
        // NETRING_PCAP_BUSY_POLL: immediate mode's wait spins that long.
        busy_poll_us: if opts.immediate { envc.busy_poll_us } else { 0 },
        ..CaptureConfig::default()
    }
}

/// Map an engine error to a libpcap status.
pub fn status_of(kind: ErrorKind) -> c_int {
    match kind {
        ErrorKind::Permission => code::PERM_DENIED,
        ErrorKind::NoDevice | ErrorKind::InterfaceGone => code::NO_SUCH_DEVICE,
        _ => code::ERROR,
    }
}

/// An engine error as libpcap reports the same failure: its status, its
/// text first (a packet socket refused: "socket: Operation not
/// permitted") with netring's hint after it, and errno as the failed call
/// left it.
fn engine_error(e: netring_engine::Error) -> (c_int, String) {
    let m = e.to_string();
    let text = match (e.kind(), e.errno()) {
        (ErrorKind::Permission, Some(n)) if m.starts_with("socket(") => {
            let hint = m
                .split_once(&format!("(os error {n})"))
                .map_or("", |(_, h)| h);
            // SAFETY: strerror returns a NUL-terminated string, copied at
            // once.
            let why = unsafe { crate::cmem::owned(libc::strerror(n)) };
            format!("socket: {why}{hint}")
        }
        _ => m,
    };
    if let Some(n) = e.errno() {
        crate::real::set_errno(n);
    }
    (status_of(e.kind()), text)
}

/// libpcap's check after binding its socket (pcap-linux.c `iface_bind`): a
/// device that is not up leaves ENETDOWN pending on the socket
/// (`SO_ERROR`), and activation fails with `PCAP_ERROR_IFACE_NOT_UP`
/// ("That device is not up", errno EINVAL as libpcap's ring teardown
/// leaves it). netring's own API waits for the link instead.
fn refuse_down(fd: c_int) -> Result<(), (c_int, String)> {
    let mut err: c_int = 0;
    let mut len = std::mem::size_of::<c_int>() as libc::socklen_t;
    // SAFETY: getsockopt writes at most `len` bytes into err.
    let rc = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_ERROR,
            (&mut err as *mut c_int).cast(),
            &mut len,
        )
    };
    if rc == 0 && err == libc::ENETDOWN {
        crate::real::set_errno(libc::EINVAL);
        return Err((code::IFACE_NOT_UP, "That device is not up".into()));
    }
    Ok(())
}

/// The interface flags of `dev` (`SIOCGIFFLAGS`), None when unknown.
fn if_flags(dev: &str) -> Option<c_int> {
    // SAFETY: after SIOCGIFFLAGS the union holds ifru_flags.
    ifreq(dev, libc::SIOCGIFFLAGS).map(|r| c_int::from(unsafe { r.ifr_ifru.ifru_flags }))
}

/// Open the capture. Returns a warning for errbuf (libpcap's text when
/// promiscuous mode is asked on "any") or the error status and a message.
pub fn activate(l: &mut Live) -> Result<Option<String>, (c_int, String)> {
    if l.opts.rfmon {
        // libpcap's text (its status's); on a mac80211 device, where
        // libpcap would switch to monitor mode, why netring does not.
        let e = crate::real::errno();
        let wifi = std::path::Path::new(&format!("/sys/class/net/{}/phy80211", l.dev)).exists();
        crate::real::set_errno(e);
        let why = if wifi {
            " (netring does not switch Wi-Fi devices into monitor mode; \
             NETRING_PCAP_ENGINE=libpcap does)"
        } else {
            ""
        };
        return Err((
            code::RFMON_NOTSUP,
            format!("That device doesn't support monitor mode{why}"),
        ));
    }
    let envc = env::get().as_ref().map_err(|m| (code::ERROR, m.clone()))?;
    let snap = l.snapshot_for();
    let mut warning = None;
    let mut lo_ifindex = -1;
    let mut split_later = false;
    let source = if let Engine::Xdp(queue, attach) = envc.engine {
        if l.cooked {
            return Err((
                code::ERROR,
                "NETRING_PCAP_ENGINE=xdp: the AF_XDP engine captures on one interface; \
                 the \"any\" device needs afpacket"
                    .into(),
            ));
        }
        let cfg = XdpConfig {
            attach,
            ..XdpConfig::default()
        };
        let x = match queue {
            Some(q) => Xdp::open(&l.dev, q, &cfg),
            None => Xdp::open_all(&l.dev, &cfg),
        }
        .map_err(|e| (status_of(e.kind()), format!("NETRING_PCAP_ENGINE=xdp: {e}")))?;
        // No bind-time check on AF_XDP: the flag, as libpcap would see it.
        if if_flags(&l.dev).is_some_and(|f| f & libc::IFF_UP == 0) {
            crate::real::set_errno(libc::EINVAL);
            return Err((code::IFACE_NOT_UP, "That device is not up".into()));
        }
        // AF_XDP has no socket filter: every frame is filtered here.
        l.filter.all = true;
        Source::Xdp(Box::new(x))
    } else if l.cooked {
        // libpcap's "any": promiscuous mode is refused with a warning, the
        // snapshot holds at least an SLL2 header and one byte.
        if l.opts.promisc {
            l.opts.promisc = false;
            warning = Some("Promiscuous mode not supported on the \"any\" device".to_owned());
        }
        l.linktype = DLT_LINUX_SLL;
        lo_ifindex = cooked::lo_ifindex();
        let (c, m) = open_ring(&l.dev, true, &config(&l.opts, snap, None, envc), envc)?;
        split_later = m;
        Source::Ring(Box::new(c))
    } else {
        let mtu = if_mtu(&l.dev);
        let (c, m) = open_ring(&l.dev, false, &config(&l.opts, snap, mtu, envc), envc)?;
        split_later = m;
        Source::Ring(Box::new(c))
    };
    let (fd, ifindex, ring_bytes) = match &source {
        Source::Ring(c) => {
            let ri = c.ring_info();
            let bytes = u64::from(ri.block_size) * u64::from(ri.block_count);
            (c.fd(), c.ifindex(), bytes)
        }
        Source::Xdp(x) => {
            let bytes = u64::from(x.info().frame_size) * u64::from(x.info().frame_count);
            (x.fd(), x.ifindex(), bytes)
        }
    };
    let xdp_stats = matches!(source, Source::Xdp(_)).then(|| (XdpStats::default(), 0));
    l.active = Some(Active {
        loan: std::ptr::null_mut(),
        loan_thread: None,
        spare: None,
        source: Some(source),
        cursor: Cursor::START,
        pending: None,
        scratch: Vec::new(),
        snapshot: snap,
        fd,
        ifindex,
        lo_ifindex,
        ring_bytes,
        ifdrop_base: if_drops(&l.dev),
        stat: (0, 0),
        xdp_stats,
        // Listed at the first read (split_later), if at all.
        split: None,
        split_later,
    });
    Ok(warning)
}

/// Before a live handle first reads (or hands out its descriptor): it
/// joins the split of its device ([`split`]). The first handle of a
/// device to read keeps its capture; a later one reopens its capture in a
/// fanout group with the handles that read (the first joins it then),
/// with its filter. Until then the handles that read saw every frame, so
/// nothing is lost or seen twice; a handle that never reads (one a
/// program opens only to send, as netdiscover does) never takes a share
/// and sees every frame, as every handle does with libpcap. On failure
/// the handle keeps its plain capture, with a warning on standard error.
pub fn split_on_first_read(l: &mut Live) {
    let Some(a) = l.active.as_mut() else {
        return;
    };
    if !a.split_later {
        return;
    }
    let Some(Source::Ring(cap)) = a.source.as_ref() else {
        return;
    };
    a.split_later = false;
    let Ok(envc) = env::get().as_ref() else {
        return;
    };
    let any = l.cooked;
    let mtu = if any { None } else { if_mtu(&l.dev) };
    let cfg = config(&l.opts, a.snapshot, mtu, envc);
    let (c, m) =
        match split::join_on_read(&l.dev, cap.fd(), |fo| open_one(&l.dev, any, &cfg, envc, fo)) {
            Ok(split::Joined::Alone(m)) => {
                a.split = Some(m);
                return;
            }
            Ok(split::Joined::Reopened(c, m)) => (c, m),
            Err((_, msg)) => {
                // The read goes on (libpcap would read every frame too),
                // but the program is told its handles no longer split.
                eprintln!(
                    "netring libpcap: warning: {msg}; this handle of {} sees every frame",
                    l.dev
                );
                return;
            }
        };
    a.fd = c.fd();
    a.ring_bytes = {
        let ri = c.ring_info();
        u64::from(ri.block_size) * u64::from(ri.block_count)
    };
    a.source = Some(Source::Ring(Box::new(c)));
    a.cursor = Cursor::START;
    a.stat = (0, 0);
    a.split = Some(m);
    if let Some(prog) = l.filter.prog.clone() {
        let _ = crate::filter::set_live(l, &prog);
    }
}

/// Open the TPACKET_V3 capture of `dev` (`any`: cooked, every interface),
/// in the fanout group the environment names; true when it joins the
/// split of the process's handles of the device at its first read
/// ([`split_on_first_read`]).
fn open_ring(
    dev: &str,
    any: bool,
    cfg: &CaptureConfig,
    envc: &env::Config,
) -> Result<(Capture, bool), (c_int, String)> {
    let split = envc.fanout.is_none() && envc.split;
    open_one(dev, any, cfg, envc, None).map(|(c, _)| (c, split))
}

/// Open one TPACKET_V3 capture (in group `fanout` when given).
fn open_one(
    dev: &str,
    any: bool,
    cfg: &CaptureConfig,
    envc: &env::Config,
    fanout: Option<netring_engine::Fanout>,
) -> Result<(Capture, c_int), (c_int, String)> {
    let mut cfg = cfg.clone();
    if fanout.is_some() {
        cfg.fanout = fanout;
    }
    let c = if any {
        Capture::open_any(&cfg)
    } else {
        Capture::open(dev, &cfg)
    };
    let c = c.map_err(|e| {
        let (st, m) = engine_error(e);
        // A group the environment asked for: say which setting.
        let m = match (&envc.fanout_from, m.starts_with("fanout")) {
            (Some(from), true) => format!("{from}: {m}"),
            _ => m,
        };
        (st, m)
    })?;
    if !any {
        refuse_down(c.fd())?;
    }
    let fd = c.fd();
    Ok((c, fd))
}

/// errno after a successful activation as libpcap leaves it: what the
/// program had (`before`), or for a named device the ENOENT of libpcap's
/// last probe (pcap-linux.c `iface_dsa_get_proto_info` opens
/// /sys/class/net/DEV/dsa/tagging, absent but on DSA ports).
pub fn success_errno(l: &Live, before: c_int) {
    let probe = (!l.cooked)
        .then(|| std::fs::File::open(format!("/sys/class/net/{}/dsa/tagging", l.dev)).err())
        .flatten()
        .and_then(|e| e.raw_os_error());
    crate::real::set_errno(probe.unwrap_or(before));
}

/// The engine's breaker (to wake a wait from `pcap_breakloop`).
pub fn breaker(l: &Live) -> Option<netring_engine::Breaker> {
    match l.active.as_ref()?.source.as_ref()? {
        Source::Ring(c) => Some(c.breaker()),
        Source::Xdp(x) => Some(x.breaker()),
    }
}

/// `pcap_stats` on a live handle: libpcap's meaning (`ps_recv` counts what
/// the kernel saw, its drops included; `ps_drop` its drops), read straight
/// from the socket so that it also works from inside a callback.
pub fn stats(l: &mut Live) -> Result<crate::types::PcapStat, String> {
    let dev = l.dev.clone();
    let a = l.active("pcap_stats")?;
    let ifdrop = if_drops(&dev).saturating_sub(a.ifdrop_base) as u32;
    if let Some(Source::Xdp(x)) = a.source.as_mut() {
        if let Ok(st) = x.stats() {
            a.xdp_stats = Some((st, x.held_len() as u64));
        }
    }
    if let Some((st, held)) = a.xdp_stats {
        // AF_XDP: frames delivered (released, plus the held batch) and the
        // kernel's drops (no fill frame, RX ring full) make ps_recv, as
        // TPACKET's tp_packets counts its drops; the drops are ps_drop.
        let drops = st.rx_dropped + st.rx_ring_full;
        return Ok(crate::types::PcapStat {
            ps_recv: (st.rx_packets + held + drops) as u32,
            ps_drop: drops as u32,
            ps_ifdrop: ifdrop,
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
            a.fd,
            libc::SOL_PACKET,
            libc::PACKET_STATISTICS,
            (&mut st as *mut TpacketStatsV3).cast(),
            &mut len,
        )
    };
    if rc < 0 {
        return Err(format!(
            "failed to get statistics from socket: {}",
            crate::dump::errno_text()
        ));
    }
    // tp_packets already includes tp_drops (the kernel's accounting).
    a.stat.0 += u64::from(st.tp_packets);
    a.stat.1 += u64::from(st.tp_drops);
    Ok(crate::types::PcapStat {
        ps_recv: a.stat.0 as u32,
        ps_drop: a.stat.1 as u32,
        ps_ifdrop: ifdrop,
    })
}

/// A refused send as libpcap's `send(2)` would have failed: its errno and
/// text first ("send: Invalid argument" for a frame shorter than an
/// Ethernet header, "send: Message too long" past the slot), netring's
/// reason after it.
fn send_error(e: netring_engine::Error) -> String {
    let errno = match e.kind() {
        ErrorKind::InvalidArgument => Some(libc::EINVAL),
        ErrorKind::TooBig => Some(libc::EMSGSIZE),
        _ => None,
    };
    match errno {
        Some(n) => {
            crate::real::set_errno(n);
            format!("send: {} ({e})", crate::dump::errno_text())
        }
        None => format!("send: {e}"),
    }
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
            let ok = inj.inject(frame).map_err(send_error)?;
            inj.flush().map_err(send_error)?;
            if !ok {
                return Err("send: the transmit ring stayed full".into());
            }
            return Ok(frame.len());
        }
    }
    let fd = l.active("pcap_inject")?.fd;
    // SAFETY: the capture socket is open and bound to the device; frame is
    // valid for frame.len() bytes.
    let n = unsafe { libc::send(fd, frame.as_ptr().cast(), frame.len(), 0) };
    if n < 0 {
        return Err(format!("send: {}", crate::dump::errno_text()));
    }
    Ok(n as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let envc = env::from_vars(|_| None).unwrap();
        let c = config(&o, 100, None, &envc);
        assert_eq!(c.timestamp, TimestampSource::HardwareRaw);
        assert!(c.timestamp_fallback);
    }

    #[test]
    fn immediate_frames_as_libpcaps_without_offloads() {
        // MTU 1500: 1518 bytes of frame after 66 of header room.
        assert_eq!(immediate_frame(262_144, Some(1500)), 1584);
        assert_eq!(immediate_frame(256, Some(1500)), 336);
        assert_eq!(immediate_frame(262_144, Some(9000)), 9088);
        assert_eq!(immediate_frame(262_144, None), 65_664);
        // libpcap's frame for each (68 bytes of room, a clamp at least as
        // large): never smaller than ours, so its ring never holds more.
        for (snap, mtu) in [
            (262_144u32, 1500u32),
            (256, 1500),
            (100, 9000),
            (1600, 1500),
        ] {
            let libpcap = (68 + snap.min(mtu + 18)).next_multiple_of(16);
            assert!(immediate_frame(snap, Some(mtu)) <= libpcap, "{snap} {mtu}");
        }
        let o = Opts {
            immediate: true,
            buffer_size: 256 << 20,
            ..Opts::default()
        };
        let none = env::from_vars(|_| None).unwrap();
        for snap in [256u32, 1000, 262_144] {
            let c = config(&o, snap, Some(1500), &none);
            let frames = (c.block_size / c.frame_size) * c.block_count;
            let libpcap = (256u64 << 20).div_ceil(u64::from(c.frame_size));
            assert!(
                u64::from(frames) >= libpcap,
                "snaplen {snap}: {frames} frames"
            );
        }
    }

    #[test]
    fn ring_size_from_environment_or_buffer_size() {
        let o = Opts {
            buffer_size: 8 << 20,
            ..Opts::default()
        };
        let none = env::from_vars(|_| None).unwrap();
        assert_eq!(config(&o, 100, None, &none).block_count, 8);
        assert_eq!(config(&Opts::default(), 100, None, &none).block_count, 32);
        let big = env::from_vars(|n| (n == "NETRING_PCAP_RING").then(|| "64M".into())).unwrap();
        assert_eq!(config(&o, 100, None, &big).block_count, 64);
    }
}
