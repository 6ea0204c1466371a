//! Floor 2: the AF_XDP engine.
//!
//! An [`Xdp`] owns one UMEM, one AF_XDP socket per bound queue over it
//! (the second and later ones with `XDP_SHARED_UMEM`, each with its own
//! fill and completion rings), and the XDP program that steers the queues
//! into the sockets: netring's built-in redirect program (attached through
//! a bpf_link, so it disappears with the owning process, even on SIGKILL),
//! or the caller's own program whose XSKMAP netring only fills in.
//!
//! RX hands out [`XdpBatch`]es of [`Packet`] views into the UMEM, like the
//! AF_PACKET [`crate::Capture`]; TX copies frames into free UMEM frames
//! ([`Xdp::send`]) or lets the caller fill them in place
//! ([`Xdp::tx_alloc`] / [`Xdp::tx_submit`]).
//!
//! Waiting, like a TPACKET_V3 consumer that wakes once per block: while
//! traffic flows, an empty RX ring is waited out with one sleep sized from
//! the observed rate and the ring's free space — long enough for about a
//! quarter of the RX ring (or of the frames the fill ring holds for the
//! kernel) to fill, leaving room for the rate to triple meanwhile,
//! never longer than the latency budget [`XdpConfig::max_latency`] nor the
//! interface check period. Nobody sleeps on the socket, so the receive path
//! never has to wake the consumer (on veth that wake-up is a cross-CPU IPI
//! per few frames), and each wake-up takes hundreds of frames. After
//! [`ACTIVE_WINDOW`] (or two latency budgets, the longer) without a frame
//! the wait blocks in poll(2) on the sockets, so an idle consumer costs
//! nothing. With [`XdpConfig::busy_poll_us`] the wait spins instead,
//! driving the queue's NAPI context with `recvfrom(MSG_DONTWAIT)`
//! (`SO_BUSY_POLL`, optionally `SO_PREFER_BUSY_POLL` and
//! `SO_BUSY_POLL_BUDGET`): the choice for a core dedicated to one queue of
//! a real NIC, lowest latency at 100 % of that core.

pub mod program;
pub mod ring;
pub mod socket;
pub mod umem;

use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant, SystemTime};

pub use program::{AttachMode, Program};
use program::{Attached, Loaded};
use socket::{Setup, XskSocket};
use umem::{BadDesc, Umem};

use crate::batch::{Cursor, HeldBatch, REMOVAL_GRACE, Wait, Walk, busy, not_held};
use crate::breaker::Breaker;
use crate::error::{Error, ErrorKind, Result};
use crate::packet::{Packet, PacketFlags, PacketType};
use crate::stats::{Reported, counters};
use crate::sys::socket::{self as sock, Deadline};
use crate::sys::xdp as x;

/// How long after the last received frame the wait keeps sleeping in short
/// slices instead of blocking in poll(2).
pub const ACTIVE_WINDOW: Duration = Duration::from_millis(50);
/// Shortest sleep of the batching wait (and the first one, before a rate
/// is known).
pub const IDLE_SLEEP_MIN: Duration = Duration::from_micros(50);
/// Default [`XdpConfig::max_latency`]: below the capture's default block
/// timeout (60 ms), so AF_XDP never holds a frame back longer than
/// TPACKET_V3 does.
pub const DEFAULT_MAX_LATENCY: Duration = Duration::from_millis(50);
/// The rate estimate is refreshed at most this often.
const RATE_WINDOW: Duration = Duration::from_millis(10);
/// How often a wait re-checks the interface. An AF_XDP socket whose
/// interface is removed reports nothing through poll(2) (it just never
/// becomes readable again), so a wait blocks in slices of this length and
/// looks the interface index up after each: a removal is reported within
/// one period, a down interface is reported when the wait times out.
pub const LINK_CHECK_PERIOD: Duration = Duration::from_millis(50);

/// The arrival rate as the batches show it: frames taken per second of
/// wall time, refreshed at most every [`RATE_WINDOW`]: a higher rate
/// replaces the estimate, a lower one is averaged with it (an idle gap
/// starts a new window, so a burst after a pause is not averaged with the
/// pause).
#[derive(Debug, Default, Clone, Copy)]
struct RateMeter {
    since: Option<Instant>,
    frames: u64,
    pps: f64,
}

impl RateMeter {
    fn add(&mut self, n: u32, now: Instant, last_rx: Option<Instant>) {
        if last_rx.is_none_or(|t| now.duration_since(t) >= ACTIVE_WINDOW) {
            self.since = Some(now);
            self.frames = u64::from(n);
            return;
        }
        self.frames += u64::from(n);
        let Some(since) = self.since else {
            self.since = Some(now);
            return;
        };
        let dt = now.duration_since(since);
        if dt >= RATE_WINDOW {
            let pps = self.frames as f64 / dt.as_secs_f64();
            // Fast attack, slow decay: a rising rate is followed at once
            // (an underestimate makes the next sleep overflow the ring), a
            // falling one is averaged.
            self.pps = if pps >= self.pps {
                pps
            } else {
                0.5 * (self.pps + pps)
            };
            self.since = Some(now);
            self.frames = 0;
        }
    }

    fn pps(&self) -> Option<f64> {
        (self.pps > 0.0).then_some(self.pps)
    }
}

/// The batching sleep for a socket that holds `capacity` frames at `pps`
/// frames per second: the time to fill a quarter of it (room for the rate
/// to triple during the sleep before the kernel drops), within
/// [`IDLE_SLEEP_MIN`] ..= `cap`.
fn sleep_for(capacity: u32, pps: f64, cap: Duration) -> Duration {
    let quarter = f64::from(capacity.max(4) / 4);
    let secs = (quarter / pps.max(1.0)).min(cap.as_secs_f64());
    Duration::from_secs_f64(secs).clamp(IDLE_SLEEP_MIN, cap.max(IDLE_SLEEP_MIN))
}

/// What an RX walk needs besides the descriptors.
#[derive(Debug, Clone, Copy)]
struct RxMeta {
    frame_size: u32,
    umem_len: u64,
    share: (u64, u64),
    ts_ns: u64,
    ifindex: i32,
    mac: [u8; 6],
}

/// The packet view of a checked frame: EtherType and packet type from the
/// frame's first bytes (an AF_XDP descriptor carries no metadata).
#[inline(always)]
fn rx_packet<'a>(data: &'a [u8], meta: &RxMeta) -> Packet<'a> {
    let protocol = if data.len() >= 14 {
        u16::from_be_bytes([data[12], data[13]])
    } else {
        0
    };
    let pkt_type = if data.len() < 6 {
        PacketType::Other
    } else if data[..6] == [0xff; 6] {
        PacketType::Broadcast
    } else if data[0] & 1 != 0 {
        PacketType::Multicast
    } else if data[..6] == meta.mac {
        PacketType::Host
    } else {
        PacketType::OtherHost
    };
    Packet {
        data,
        ts_ns: meta.ts_ns,
        wire_len: data.len() as u32,
        ifindex: meta.ifindex,
        rxhash: 0,
        vlan_tci: 0,
        vlan_tpid: 0,
        protocol,
        pkt_type: pkt_type as u8,
        flags: PacketFlags::empty(),
        hw: crate::packet::HwAddr::default(),
    }
}

/// Walk `n` RX descriptors (`desc(k)` reads the k-th) from `cursor` on:
/// each is checked against the UMEM and the socket's share before its
/// frame is read; refused ones are skipped.
///
/// # Safety
/// `umem` is valid for reads of `meta.umem_len` bytes for `'s`, and no
/// frame a descriptor points to is written during `'s`.
#[inline(always)]
unsafe fn walk_descs<'s>(
    desc: impl Fn(u32) -> x::XdpDesc,
    n: usize,
    umem: *const u8,
    meta: &RxMeta,
    cursor: &mut Cursor,
    mut f: impl FnMut(&Packet<'s>) -> bool,
) -> Walk {
    if cursor.done {
        return Walk::Done;
    }
    cursor.begun = true;
    while cursor.pos < n {
        let k = cursor.pos;
        cursor.pos += 1;
        let d = desc(k as u32);
        if umem::check_desc(d.addr, d.len, meta.frame_size, meta.umem_len, meta.share).is_ok() {
            // SAFETY: check_desc put addr..addr+len inside the UMEM; the
            // caller's contract keeps it readable and unwritten for 's.
            let data: &'s [u8] =
                unsafe { std::slice::from_raw_parts(umem.add(d.addr as usize), d.len as usize) };
            if !f(&rx_packet(data, meta)) {
                cursor.done = cursor.pos >= n;
                return Walk::Stopped;
            }
        }
    }
    cursor.done = true;
    Walk::Done
}

/// The AF_XDP RX walk over memory that is not a socket (for the micro
/// benchmark, `examples/micro.rs`): the same per-descriptor code as
/// [`Xdp`]'s batches, over a caller's fake UMEM and descriptor array. A
/// fixture like [`crate::fixtures`]: tests and the `bench-fixtures`
/// feature only.
#[cfg(any(test, feature = "bench-fixtures"))]
pub mod synth {
    use super::*;
    pub use crate::sys::xdp::XdpDesc;

    /// Walk `descs` over `umem` (`frame_size`-byte frames, all of them this
    /// "socket's" RX share), calling `f` per packet like a held batch does;
    /// returns how many packets were visited.
    pub fn walk(
        umem: &[u8],
        frame_size: u32,
        descs: &[XdpDesc],
        mut f: impl FnMut(&Packet<'_>) -> bool,
    ) -> usize {
        let meta = RxMeta {
            frame_size,
            umem_len: umem.len() as u64,
            share: (0, umem.len() as u64),
            ts_ns: 1,
            ifindex: 7,
            mac: [2, 0, 0, 0, 0, 1],
        };
        let mut cursor = Cursor::START;
        let mut n = 0usize;
        // SAFETY: umem is a live shared borrow of umem.len() bytes for this
        // call: readable and not written while the walk runs.
        unsafe {
            walk_descs(
                |k| descs[k as usize],
                descs.len(),
                umem.as_ptr(),
                &meta,
                &mut cursor,
                |p| {
                    n += 1;
                    f(p)
                },
            )
        };
        n
    }
}

/// The interface as a wait sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Link {
    Up,
    Down,
    Gone,
}

/// Which rings the sockets get.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum XdpDirection {
    /// Receive only (the default).
    #[default]
    Rx,
    /// Transmit only: no RX ring, no program, every frame is a TX frame.
    Tx,
    /// Both.
    RxTx,
}

impl XdpDirection {
    fn rx(self) -> bool {
        self != XdpDirection::Tx
    }
    fn tx(self) -> bool {
        self != XdpDirection::Rx
    }
}

/// Copy or zero-copy binding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BindMode {
    /// Zero-copy if the driver supports it, else copy (the default).
    #[default]
    Auto,
    /// Copy mode only.
    Copy,
    /// Zero-copy only (fails on drivers without it, such as veth).
    ZeroCopy,
}

/// AF_XDP configuration. `Default` gives the documented defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XdpConfig {
    /// Bytes per UMEM frame: 2048 or 4096 (the page size). Default 4096.
    pub frame_size: u32,
    /// UMEM frames in total (split evenly between the queues). Default
    /// 16384 (64 MiB of 4 KiB frames: about 30 ms of 60-byte frames at
    /// 500 kpps, so the batching wait sleeps long and the fill ring rides
    /// out a consumer that is late by a few ms).
    pub frame_count: u32,
    /// Rings to create. Default RX.
    pub direction: XdpDirection,
    /// Frames per socket put into the fill ring at open, i.e. the RX share
    /// of the socket's frames; the rest are TX frames. 0 = automatic: all
    /// frames for RX, none for TX, half each for RX+TX.
    pub fill_prefill: u32,
    /// RX ring slots (power of two; 0 = automatic, the RX share rounded up).
    pub rx_ring_size: u32,
    /// TX ring slots (power of two; 0 = automatic).
    pub tx_ring_size: u32,
    /// Fill ring slots (power of two; 0 = automatic).
    pub fill_ring_size: u32,
    /// Completion ring slots (power of two; 0 = automatic).
    pub comp_ring_size: u32,
    /// Copy or zero-copy. Default Auto.
    pub bind: BindMode,
    /// Native or generic XDP for the built-in program. Default Auto.
    pub attach: AttachMode,
    /// Built-in program, the caller's XSKMAP, or none. Default built-in
    /// (none for TX-only).
    pub program: Program,
    /// Use the need_wakeup protocol. Default true.
    pub need_wakeup: bool,
    /// Most frames in one batch. Default 256.
    pub batch_size: u32,
    /// How long [`Xdp::next_batch`] waits. Default 100 ms.
    pub poll_timeout: Duration,
    /// The batching wait while traffic flows: zero disables it (always
    /// poll(2), woken by the receive path per few frames); any other value
    /// enables it (the length of each sleep comes from
    /// [`XdpConfig::max_latency`], the observed rate and the ring's free
    /// space; this value is no longer an upper bound). Default 1 ms.
    pub idle_sleep_max: Duration,
    /// Latency budget of the batching wait: while traffic flows, the
    /// longest a frame waits in the RX ring before the consumer looks
    /// (also capped by [`LINK_CHECK_PERIOD`]). Longer budgets mean fewer
    /// wake-ups at low rates; at high rates the ring's free space sets the
    /// sleep. Default [`DEFAULT_MAX_LATENCY`] (50 ms, below the capture's
    /// 60 ms block timeout).
    pub max_latency: Duration,
    /// Busy polling for a dedicated core: `SO_BUSY_POLL` in microseconds
    /// (0 = off, the default). When set, waits spin on the RX rings and
    /// drive the receive path with `recvfrom(MSG_DONTWAIT)` instead of
    /// sleeping: lowest latency, and a full core while waiting.
    pub busy_poll_us: u32,
    /// `SO_PREFER_BUSY_POLL` (with `busy_poll_us`): the NIC's interrupts
    /// stay masked while the application polls. Default false.
    pub prefer_busy_poll: bool,
    /// `SO_BUSY_POLL_BUDGET` (with `busy_poll_us`; 0 = kernel default, 8;
    /// above 64 needs CAP_NET_ADMIN). Default 0.
    pub busy_poll_budget: u16,
}

impl Default for XdpConfig {
    fn default() -> Self {
        XdpConfig {
            frame_size: 4096,
            frame_count: 16384,
            direction: XdpDirection::Rx,
            fill_prefill: 0,
            rx_ring_size: 0,
            tx_ring_size: 0,
            fill_ring_size: 0,
            comp_ring_size: 0,
            bind: BindMode::Auto,
            attach: AttachMode::Auto,
            program: Program::BuiltIn,
            need_wakeup: true,
            batch_size: 256,
            poll_timeout: Duration::from_millis(100),
            idle_sleep_max: Duration::from_millis(1),
            max_latency: DEFAULT_MAX_LATENCY,
            busy_poll_us: 0,
            prefer_busy_poll: false,
            busy_poll_budget: 0,
        }
    }
}

/// Per-socket geometry derived from a config.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Geometry {
    per_socket: u32,
    rx_frames: u32,
    tx_frames: u32,
    fill: u32,
    comp: u32,
    rx: u32,
    tx: u32,
}

fn pow2_field(name: &str, v: u32) -> Result<()> {
    if v != 0 && !v.is_power_of_two() {
        return Err(Error::config(format!(
            "{name} {v} is not a power of two (0 = automatic)"
        )));
    }
    Ok(())
}

impl XdpConfig {
    /// Check every field for `queues` sockets; the error names the field.
    pub fn validate(&self, queues: u32) -> Result<()> {
        self.geometry(queues).map(drop)
    }

    fn geometry(&self, queues: u32) -> Result<Geometry> {
        let fs = self.frame_size;
        if fs != 2048 && fs != 4096 {
            return Err(Error::config(format!(
                "frame_size {fs} must be 2048 or 4096 (aligned AF_XDP chunks)"
            )));
        }
        if u64::from(self.frame_count) * u64::from(fs) > 16 << 30 {
            return Err(Error::config(format!(
                "frame_count {} x {fs} bytes exceeds the 16 GiB limit",
                self.frame_count
            )));
        }
        let queues = queues.max(1);
        let per = self.frame_count / queues;
        if per == 0 {
            return Err(Error::config(format!(
                "frame_count {} is smaller than the number of queues ({queues})",
                self.frame_count
            )));
        }
        for (n, v) in [
            ("rx_ring_size", self.rx_ring_size),
            ("tx_ring_size", self.tx_ring_size),
            ("fill_ring_size", self.fill_ring_size),
            ("comp_ring_size", self.comp_ring_size),
        ] {
            pow2_field(n, v)?;
        }
        if self.batch_size == 0 {
            return Err(Error::config(
                "batch_size 0: a batch holds at least one frame",
            ));
        }
        if self.max_latency < IDLE_SLEEP_MIN {
            return Err(Error::config(format!(
                "max_latency {:?} is below {IDLE_SLEEP_MIN:?} (idle_sleep_max 0 turns the \
                 batching wait off)",
                self.max_latency
            )));
        }
        if self.busy_poll_us == 0 && (self.prefer_busy_poll || self.busy_poll_budget > 0) {
            return Err(Error::config(
                "prefer_busy_poll / busy_poll_budget need busy_poll_us > 0",
            ));
        }
        let rx_frames = match (self.direction, self.fill_prefill) {
            (XdpDirection::Tx, 0) => 0,
            (XdpDirection::Tx, p) => {
                return Err(Error::config(format!(
                    "fill_prefill {p} with direction TX: a TX-only socket receives nothing"
                )));
            }
            (XdpDirection::Rx, 0) => per,
            (XdpDirection::RxTx, 0) => per / 2,
            (_, p) if p > per => {
                return Err(Error::config(format!(
                    "fill_prefill {p} exceeds the {per} frames of each socket"
                )));
            }
            (_, p) => p,
        };
        let tx_frames = if self.direction.tx() {
            per - rx_frames
        } else {
            0
        };
        if self.direction.rx() && rx_frames == 0 {
            return Err(Error::config(
                "no frames for RX: raise frame_count or fill_prefill",
            ));
        }
        if self.direction.tx() && tx_frames == 0 {
            return Err(Error::config(format!(
                "no frames left for TX: fill_prefill {} takes all {per} frames of the socket",
                self.fill_prefill
            )));
        }
        let auto = |v: u32, n: u32| {
            if v != 0 {
                v
            } else {
                n.max(64).next_power_of_two()
            }
        };
        Ok(Geometry {
            per_socket: per,
            rx_frames,
            tx_frames,
            fill: auto(self.fill_ring_size, rx_frames),
            comp: auto(self.comp_ring_size, tx_frames),
            rx: if self.direction.rx() {
                auto(self.rx_ring_size, rx_frames)
            } else {
                0
            },
            tx: if self.direction.tx() {
                auto(self.tx_ring_size, tx_frames)
            } else {
                0
            },
        })
    }
}

/// What the open really got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XdpInfo {
    /// Bound queues, in socket order.
    pub queues: Vec<u32>,
    /// True if the sockets run in zero-copy mode.
    pub zero_copy: bool,
    /// Some(true) native XDP, Some(false) generic, None: no built-in
    /// program (external or TX only).
    pub native: Option<bool>,
    /// Frame size.
    pub frame_size: u32,
    /// Frames in the UMEM.
    pub frame_count: u32,
    /// RX frames per socket.
    pub rx_frames: u32,
    /// TX frames per socket.
    pub tx_frames: u32,
}

/// Lifetime statistics, summed over the sockets. The kernel's counters
/// (`XDP_STATISTICS`) are cumulative; the rest are counted by netring.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct XdpStats {
    /// Frames handed to the user, counted when their batch is released
    /// (a held batch is not in it yet).
    pub rx_packets: u64,
    /// Batches handed to the user.
    pub rx_batches: u64,
    /// Kernel: frames dropped (includes fill ring empty).
    pub rx_dropped: u64,
    /// Kernel: frames dropped because the RX ring was full.
    pub rx_ring_full: u64,
    /// Kernel: times the fill ring was empty.
    pub rx_fill_ring_empty: u64,
    /// Kernel: invalid RX descriptors.
    pub rx_invalid_descs: u64,
    /// netring: RX descriptors refused by the UMEM bounds check.
    pub rx_refused: u64,
    /// Frames queued for TX.
    pub tx_queued: u64,
    /// TX completions reaped.
    pub tx_completed: u64,
    /// Kernel: invalid TX descriptors.
    pub tx_invalid_descs: u64,
    /// Kernel: times the TX ring was empty when the kernel looked.
    pub tx_ring_empty: u64,
    /// Wake-up system calls made.
    pub kicks: u64,
}

counters!(XdpStats {
    rx_packets,
    rx_batches,
    rx_dropped,
    rx_ring_full,
    rx_fill_ring_empty,
    rx_invalid_descs,
    rx_refused,
    tx_queued,
    tx_completed,
    tx_invalid_descs,
    tx_ring_empty,
    kicks
});

/// An AF_XDP engine on one or more queues of one interface.
///
/// Field order is drop order: the program is detached first, then the
/// sockets close, then the UMEM is unmapped.
#[derive(Debug)]
pub struct Xdp {
    program: Option<Attached>,
    socks: Vec<XskSocket>,
    umem: Umem,
    brk: Breaker,
    ifname: String,
    ifindex: i32,
    mac: [u8; 6],
    info: XdpInfo,
    batch_size: u32,
    poll_timeout: Duration,
    idle_sleep_max: Duration,
    max_latency: Duration,
    busy_poll: bool,
    /// RX frames one socket can take before the kernel drops: the smaller
    /// of its RX ring and its RX frames.
    rx_capacity: u32,
    rate: RateMeter,
    /// Round-robin start for the next batch.
    next: usize,
    /// Socket whose RX entries are held, if any.
    held: Option<usize>,
    batch_ts: u64,
    batch_seq: u64,
    last_rx: Option<Instant>,
    idle_sleep: Duration,
    tx_sock: usize,
    reported: Reported<XdpStats>,
    /// An AF_INET socket in the namespace of the sockets, for the interface
    /// ioctls of the link check (the calling thread may have moved since).
    ctl: OwnedFd,
    /// The last link check.
    link: Link,
    last_link_check: Instant,
}

fn lookup(ifname: &str) -> Result<i32> {
    let cname = crate::iface::check_name(ifname)?;
    sock::if_index(&cname).map_err(|e| crate::iface::lookup_error(ifname, None, e))
}

/// The number of RX queues of `ifname` (ethtool channels), if the driver
/// reports it.
pub fn rx_queue_count(ifname: &str) -> Result<Option<u32>> {
    crate::iface::check_name(ifname)?;
    let ctl = x::ctl_socket().map_err(|e| Error::os("socket(AF_INET) for ioctls", e))?;
    match x::channels(ctl.as_raw_fd(), ifname) {
        Ok(ch) => {
            let n = ch.rx_count + ch.combined_count;
            Ok((n > 0).then_some(n))
        }
        Err(_) => Ok(None),
    }
}

impl Xdp {
    /// Open one queue of `ifname` in the calling thread's namespace.
    pub fn open(ifname: &str, queue: u32, cfg: &XdpConfig) -> Result<Xdp> {
        Self::open_queues(ifname, &[queue], cfg)
    }

    /// Open every RX queue of `ifname`, one socket per queue over one
    /// shared UMEM.
    pub fn open_all(ifname: &str, cfg: &XdpConfig) -> Result<Xdp> {
        lookup(ifname)?;
        let n = rx_queue_count(ifname)?.unwrap_or(1);
        let queues: Vec<u32> = (0..n).collect();
        Self::open_queues(ifname, &queues, cfg)
    }

    /// Open the given queues of `ifname`, one socket per queue over one
    /// shared UMEM (`XDP_SHARED_UMEM`).
    ///
    /// Order: validate → XSKMAP + program load → UMEM → sockets (rings
    /// mapped, bound, fill ring prefilled) → sockets registered in the map
    /// → program attached. No frame is redirected before a socket is there.
    pub fn open_queues(ifname: &str, queues: &[u32], cfg: &XdpConfig) -> Result<Xdp> {
        if queues.is_empty() {
            return Err(Error::invalid_arg("no queue to open"));
        }
        let mut sorted = queues.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        if sorted.len() != queues.len() {
            return Err(Error::invalid_arg(format!(
                "queue list {queues:?} names a queue twice"
            )));
        }
        let geo = cfg.geometry(queues.len() as u32)?;
        let ifindex = lookup(ifname)?;
        let ctl = x::ctl_socket().map_err(|e| Error::os("socket(AF_INET) for ioctls", e))?;
        if let Ok(ch) = x::channels(ctl.as_raw_fd(), ifname) {
            let n = ch.rx_count + ch.combined_count;
            let t = ch.tx_count + ch.combined_count;
            let limit = n.max(t);
            if let Some(&q) = queues.iter().find(|&&q| limit > 0 && q >= limit) {
                return Err(Error::invalid_arg(format!(
                    "queue {q} does not exist on '{ifname}': it has {n} RX queue(s), ids 0..{} \
                     (`ethtool -l {ifname}` shows them)",
                    n.saturating_sub(1)
                )));
            }
        }
        let mac = x::if_hwaddr(ctl.as_raw_fd(), ifname).unwrap_or([0; 6]);
        let program = if cfg.direction.rx() {
            cfg.program
        } else {
            Program::None
        };
        let loaded = match program {
            Program::BuiltIn => {
                let max_q = queues.iter().copied().max().unwrap_or(0);
                Some(Loaded::new(max_q + 1)?)
            }
            Program::External(fd) => {
                program::check_external_map(fd, queues)?;
                None
            }
            Program::None => None,
        };
        let umem = Umem::new(cfg.frame_size, geo.per_socket * queues.len() as u32)?;
        let socks = Self::open_sockets(ifname, ifindex, queues, cfg, &geo, &umem)?;
        let map_fd = match (&loaded, program) {
            (Some(l), _) => Some(l.map_fd()),
            (None, Program::External(fd)) => Some(fd),
            _ => None,
        };
        if let Some(m) = map_fd {
            for s in &socks {
                program::register(m, s.queue(), s.fd())?;
            }
        }
        let attached = match loaded {
            Some(l) => Some(l.attach(ifname, ifindex, cfg.attach)?),
            None => None,
        };
        let info = XdpInfo {
            queues: queues.to_vec(),
            zero_copy: socks.first().is_some_and(|s| s.zero_copy()),
            native: attached.as_ref().map(|a| a.native()),
            frame_size: cfg.frame_size,
            frame_count: umem.frame_count(),
            rx_frames: geo.rx_frames,
            tx_frames: geo.tx_frames,
        };
        Ok(Xdp {
            program: attached,
            socks,
            umem,
            brk: Breaker::new()?,
            ifname: ifname.to_owned(),
            ifindex,
            mac,
            info,
            batch_size: cfg.batch_size,
            poll_timeout: cfg.poll_timeout,
            idle_sleep_max: cfg.idle_sleep_max,
            max_latency: cfg.max_latency,
            busy_poll: cfg.busy_poll_us > 0,
            rx_capacity: geo.rx.min(geo.rx_frames),
            rate: RateMeter::default(),
            next: 0,
            held: None,
            batch_ts: 0,
            batch_seq: 0,
            last_rx: None,
            idle_sleep: IDLE_SLEEP_MIN,
            tx_sock: 0,
            reported: Reported::default(),
            ctl,
            link: Link::Up,
            last_link_check: Instant::now(),
        })
    }

    fn open_sockets(
        ifname: &str,
        ifindex: i32,
        queues: &[u32],
        cfg: &XdpConfig,
        geo: &Geometry,
        umem: &Umem,
    ) -> Result<Vec<XskSocket>> {
        let wake = if cfg.need_wakeup {
            x::XDP_USE_NEED_WAKEUP
        } else {
            0
        };
        let setup = |i: usize, flags: u16, shared: Option<RawFd>| {
            let first = i as u32 * geo.per_socket;
            Setup {
                ifname,
                ifindex,
                queue: queues[i],
                fill_size: geo.fill,
                comp_size: geo.comp,
                rx_size: geo.rx,
                tx_size: geo.tx,
                rx_frames: (first, geo.rx_frames),
                tx_frames: (first + geo.rx_frames, geo.tx_frames),
                bind_flags: flags | wake,
                shared_with: shared,
                need_wakeup: cfg.need_wakeup,
            }
        };
        let first = match cfg.bind {
            BindMode::Copy => XskSocket::open(umem, &setup(0, x::XDP_COPY, None))?,
            BindMode::ZeroCopy => XskSocket::open(umem, &setup(0, x::XDP_ZEROCOPY, None))?,
            BindMode::Auto => match XskSocket::open(umem, &setup(0, x::XDP_ZEROCOPY, None)) {
                Ok(s) => s,
                Err(e) if e.kind() == ErrorKind::Busy || e.kind() == ErrorKind::Permission => {
                    return Err(e);
                }
                // No zero-copy: a fresh socket in copy mode.
                Err(_) => XskSocket::open(umem, &setup(0, x::XDP_COPY, None))?,
            },
        };
        let owner = first.fd();
        let mut socks = vec![first];
        for i in 1..queues.len() {
            socks.push(XskSocket::open(umem, &setup(i, 0, Some(owner)))?);
        }
        if cfg.busy_poll_us > 0 {
            for s in &socks {
                s.set_busy_poll(cfg.busy_poll_us, cfg.prefer_busy_poll, cfg.busy_poll_budget)?;
            }
        }
        Ok(socks)
    }

    /// The first socket's fd (for poll/epoll: readable when its RX ring
    /// has frames). With several queues, see [`Xdp::fds`].
    pub fn fd(&self) -> RawFd {
        self.socks[0].fd()
    }

    /// Every socket's fd, in queue order.
    pub fn fds(&self) -> Vec<RawFd> {
        self.socks.iter().map(|s| s.fd()).collect()
    }

    /// What the open got (zero-copy or copy, native or generic, ...).
    pub fn info(&self) -> &XdpInfo {
        &self.info
    }

    /// Interface name.
    pub fn ifname(&self) -> &str {
        &self.ifname
    }

    /// Interface index.
    pub fn ifindex(&self) -> i32 {
        self.ifindex
    }

    /// A handle that stops waits from another thread or a signal handler.
    pub fn breaker(&self) -> Breaker {
        self.brk.clone()
    }

    /// The built-in program's XSKMAP fd, if netring attached one.
    pub fn map_fd(&self) -> Option<RawFd> {
        self.program.as_ref().map(|p| p.map_fd())
    }

    /// Find a socket with ready RX entries, round robin.
    fn poll_rings(&mut self) -> Option<(usize, u32)> {
        let n = self.socks.len();
        for k in 0..n {
            let i = (self.next + k) % n;
            let ready = self.socks[i].rx_ready(self.batch_size);
            if ready > 0 {
                self.next = (i + 1) % n;
                return Some((i, ready));
            }
        }
        None
    }

    /// Look the interface up by index (a rename does not matter) and read
    /// its flags.
    fn check_link(&mut self) -> Link {
        self.last_link_check = Instant::now();
        let fd = self.ctl.as_raw_fd();
        let enodev = |e: &std::io::Error| e.raw_os_error() == Some(libc::ENODEV);
        self.link = match sock::if_name_of(fd, self.ifindex) {
            Err(e) if enodev(&e) => Link::Gone,
            // Any other failure says nothing about the interface.
            Err(_) => Link::Up,
            Ok(name) => match sock::if_flags(fd, &name) {
                Err(e) if enodev(&e) => Link::Gone,
                Ok(f) if f & libc::IFF_UP as u32 == 0 => Link::Down,
                _ => Link::Up,
            },
        };
        self.link
    }

    fn gone(&self) -> Error {
        Error::new(
            ErrorKind::InterfaceGone,
            format!(
                "interface '{}' (index {}) was removed; close this AF_XDP handle",
                self.ifname, self.ifindex
            ),
        )
    }

    /// An error from a TX kick or wake-up: the removal error if the
    /// interface is gone, else `e`.
    fn tx_error(&mut self, e: Error) -> Error {
        if !matches!(e.kind(), ErrorKind::System | ErrorKind::NoDevice) {
            return e;
        }
        let mut link = self.check_link();
        // A removed interface goes down first: look again for a while.
        let t = Instant::now();
        while link == Link::Down && t.elapsed() < REMOVAL_GRACE {
            std::thread::sleep(Duration::from_millis(5));
            link = self.check_link();
        }
        match link {
            Link::Gone => self.gone(),
            Link::Down => Error::new(
                ErrorKind::System,
                format!(
                    "interface '{}' is down: queued frames stay queued until it is up \
                     (`ip link set {} up`) ({})",
                    self.ifname,
                    self.ifname,
                    e.message()
                ),
            ),
            Link::Up => e,
        }
    }

    /// How long the batching wait sleeps on an empty ring: until about a
    /// quarter of what a socket can hold has arrived at the observed rate,
    /// within [`IDLE_SLEEP_MIN`] ..= min(latency budget, link check
    /// period). Before a rate is known: doubling sleeps from
    /// [`IDLE_SLEEP_MIN`].
    fn batching_sleep(&self) -> Duration {
        let cap = self.max_latency.min(LINK_CHECK_PERIOD);
        let Some(pps) = self.rate.pps() else {
            return self
                .idle_sleep
                .clamp(IDLE_SLEEP_MIN, cap.max(IDLE_SLEEP_MIN));
        };
        sleep_for(self.rx_capacity, pps, cap)
    }

    fn wait(&mut self, timeout: Option<Duration>) -> Result<Wait<(usize, u32)>> {
        let deadline = Deadline::after(timeout);
        loop {
            if self.brk.take() {
                return Ok(Wait::Interrupted);
            }
            // Frames already in the RX ring are handed out before a removal
            // is reported.
            if let Some(r) = self.poll_rings() {
                self.idle_sleep = IDLE_SLEEP_MIN;
                return Ok(Wait::Ready(r));
            }
            if self.link == Link::Gone {
                return Err(self.gone());
            }
            if self.last_link_check.elapsed() >= LINK_CHECK_PERIOD
                && self.check_link() == Link::Gone
            {
                // Look at the rings once more: the last frames may have
                // landed since the check above.
                continue;
            }
            for s in &mut self.socks {
                s.wake_rx_if_needed();
            }
            if deadline.expired() {
                if self.check_link() == Link::Gone {
                    continue;
                }
                return Ok(if self.link == Link::Down {
                    Wait::InterfaceDown
                } else {
                    Wait::Timeout
                });
            }
            let remaining = deadline.remaining();
            if self.busy_poll {
                // A dedicated core: drive the receive path and look again.
                for s in &self.socks {
                    if s.has_rx() {
                        s.busy_poll_rx();
                    }
                }
                std::hint::spin_loop();
                continue;
            }
            let window = ACTIVE_WINDOW.max(2 * self.max_latency);
            let active = !self.idle_sleep_max.is_zero()
                && self.last_rx.is_some_and(|t| t.elapsed() < window);
            if active {
                // Sleep on the break eventfd only: the receive path does
                // not have to wake us, and a break still does.
                // Never past the next interface check: a removal is still
                // reported within one check period while traffic flowed.
                let until_check = LINK_CHECK_PERIOD
                    .saturating_sub(self.last_link_check.elapsed())
                    .max(IDLE_SLEEP_MIN);
                let nap = self.batching_sleep().min(until_check);
                let slice = remaining.map_or(nap, |r| r.min(nap));
                let mut fds = [sock::pollin(self.brk.fd())];
                x::ppoll_ns(&mut fds, slice.as_nanos() as u64)
                    .map_err(|e| Error::os("ppoll", e))?;
                self.idle_sleep = (self.idle_sleep * 2).min(self.max_latency);
                continue;
            }
            // Idle: block on every socket and the break eventfd.
            let mut fds = Vec::with_capacity(self.socks.len() + 1);
            fds.push(sock::pollin(self.brk.fd()));
            for s in &self.socks {
                if s.has_rx() {
                    fds.push(sock::pollin(s.fd()));
                }
            }
            // In slices: a removed interface does not wake the poll.
            let slice = remaining.map_or(LINK_CHECK_PERIOD, |r| r.min(LINK_CHECK_PERIOD));
            sock::poll(&mut fds, sock::poll_ms(Some(slice))).map_err(|e| Error::os("poll", e))?;
            if let Some(bad) = fds[1..]
                .iter()
                .find(|f| f.revents & (libc::POLLERR | libc::POLLNVAL) != 0)
            {
                let err = sock::take_socket_error(bad.fd).unwrap_or(0);
                if err == libc::ENETDOWN || err == libc::ENXIO {
                    // The kernel unbinds the socket when its interface is
                    // unregistered; the next round delivers what is left in
                    // the RX ring and then reports the removal.
                    self.check_link();
                    continue;
                }
                if err != 0 {
                    return Err(Error::os(
                        format!("AF_XDP socket on '{}'", self.ifname),
                        std::io::Error::from_raw_os_error(err),
                    ));
                }
                // POLLERR without an error: avoid a spin.
                std::thread::sleep(Duration::from_millis(1));
            }
        }
    }

    /// Wait up to `timeout` (`None`: no limit) for frames and hold them:
    /// the acquiring half of the held batch ([`HeldBatch`] walks and
    /// releases it). `ErrorKind::Busy` while a batch is already held.
    pub fn acquire(&mut self, timeout: Option<Duration>) -> Result<Wait<()>> {
        if self.held.is_some() {
            return Err(busy());
        }
        if !self.info_rx() {
            return Err(Error::new(
                ErrorKind::InvalidConfig,
                "this AF_XDP handle was opened for TX only: it receives nothing",
            ));
        }
        Ok(self.wait(timeout)?.map(|(i, n)| {
            self.socks[i].hold(n);
            self.held = Some(i);
            self.batch_seq += 1;
            let now = Instant::now();
            self.rate.add(n, now, self.last_rx);
            self.last_rx = Some(now);
            self.batch_ts = SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64);
        }))
    }

    fn info_rx(&self) -> bool {
        self.socks.iter().any(|s| s.has_rx())
    }

    /// Sequence number of the held batch (counts batches from 1).
    pub fn batch_seq(&self) -> u64 {
        self.batch_seq
    }

    /// The one walk over held RX descriptors, from `cursor` on: each
    /// descriptor is checked against the UMEM before its frame is read;
    /// refused ones are skipped (and counted on release).
    #[inline(always)]
    fn walk_from<'s>(&'s self, cursor: &mut Cursor, f: impl FnMut(&Packet<'s>) -> bool) -> Walk {
        let Some(i) = self.held else {
            return Walk::Done;
        };
        let s = &self.socks[i];
        let meta = RxMeta {
            frame_size: self.umem.frame_size(),
            umem_len: self.umem.len(),
            share: s.rx_share(),
            ts_ns: self.batch_ts,
            ifindex: self.ifindex,
            mac: self.mac,
        };
        // SAFETY: the UMEM mapping is live for 's and `umem_len` bytes long;
        // the held descriptors' frames are user-owned until release_held,
        // which needs &mut self.
        unsafe {
            walk_descs(
                |k| s.held_raw(k),
                s.held as usize,
                self.umem.as_ptr(),
                &meta,
                cursor,
                f,
            )
        }
    }

    /// The next batch, waiting up to the configured `poll_timeout`.
    pub fn next_batch(&mut self) -> Result<Wait<XdpBatch<'_>>> {
        self.next_batch_timeout(Some(self.poll_timeout))
    }

    /// The next batch, waiting up to `timeout` (`None`: no limit). The
    /// frames go back to the fill ring when the batch is dropped.
    pub fn next_batch_timeout(&mut self, timeout: Option<Duration>) -> Result<Wait<XdpBatch<'_>>> {
        Ok(self.acquire(timeout)?.map(|()| XdpBatch { xdp: self }))
    }

    fn tx_socket(&mut self) -> Result<usize> {
        let n = self.socks.len();
        for k in 0..n {
            let i = (self.tx_sock + k) % n;
            if self.socks[i].has_tx() {
                self.tx_sock = i;
                return Ok(i);
            }
        }
        Err(Error::new(
            ErrorKind::InvalidConfig,
            "this AF_XDP handle was opened for RX only: open it with direction TX or RX+TX",
        ))
    }

    /// Copy `frames` into free UMEM frames and queue them for sending on
    /// the first queue; kicks the kernel. Returns how many were queued (less
    /// than asked when every TX frame is in flight: call again later).
    pub fn send(&mut self, frames: &[&[u8]]) -> Result<usize> {
        let i = self.tx_socket()?;
        self.socks[i]
            .send(&self.umem, frames)
            .map_err(|e| self.tx_error(e))
    }

    /// Reserve a free TX frame to fill in place: returns its pointer and
    /// capacity, or `None` when all TX frames are in flight. The same frame
    /// is returned until [`Xdp::tx_submit`].
    pub fn tx_alloc(&mut self) -> Result<Option<(*mut u8, u32)>> {
        let i = self.tx_socket()?;
        let got = self.socks[i]
            .tx_alloc(&self.umem)
            .map_err(|e| self.tx_error(e))?;
        Ok(got.map(|(a, cap)| {
            // SAFETY: a is a reserved TX chunk of this UMEM.
            (unsafe { self.umem.frame_ptr(a) }, cap)
        }))
    }

    /// Queue the reserved frame with `len` bytes.
    pub fn tx_submit(&mut self, len: u32) -> Result<()> {
        let i = self.tx_socket()?;
        self.socks[i]
            .tx_submit(&self.umem, len)
            .map_err(|e| self.tx_error(e))
    }

    /// Reap TX completions; returns how many frames completed.
    pub fn complete(&mut self) -> u32 {
        let fs = self.umem.frame_size();
        self.socks.iter_mut().map(|s| s.reap(fs)).sum()
    }

    /// Kick until every queued frame has been sent and completed, or
    /// `timeout` passes. Returns true when nothing is left in flight.
    pub fn flush(&mut self, timeout: Option<Duration>) -> Result<bool> {
        let i = self.tx_socket()?;
        let fs = self.umem.frame_size();
        let tx_frames = self.info.tx_frames;
        let deadline = Deadline::after(timeout);
        let mut pause = Duration::from_micros(20);
        loop {
            let s = &mut self.socks[i];
            let kicked = s.kick(fs);
            s.reap(fs);
            if s.tx_in_flight(tx_frames) == 0 {
                return Ok(true);
            }
            kicked.map_err(|e| self.tx_error(e))?;
            // Frames queued on a removed interface never complete.
            if self.last_link_check.elapsed() >= LINK_CHECK_PERIOD
                && self.check_link() == Link::Gone
            {
                return Err(self.gone());
            }
            if deadline.expired() {
                return Ok(false);
            }
            let slice = deadline.remaining().map_or(pause, |r| r.min(pause));
            std::thread::sleep(slice);
            pause = (pause * 2).min(Duration::from_millis(1));
        }
    }

    /// Frames queued for TX and not yet completed.
    pub fn tx_in_flight(&self) -> u32 {
        let t = self.info.tx_frames;
        self.socks
            .iter()
            .filter(|s| s.has_tx())
            .map(|s| s.tx_in_flight(t))
            .sum()
    }

    /// Lifetime statistics and the change since the previous call of
    /// this function (see [`crate::stats`]).
    pub fn stats_with_delta(&mut self) -> Result<(XdpStats, XdpStats)> {
        let now = self.stats()?;
        Ok(self.reported.report(now))
    }

    /// Lifetime statistics, summed over the sockets.
    pub fn stats(&self) -> Result<XdpStats> {
        let mut t = XdpStats::default();
        for s in &self.socks {
            let k = s.kernel_stats()?;
            let c = s.counters;
            t.rx_packets += c.rx_delivered;
            t.rx_batches += c.rx_batches;
            t.rx_refused += c.rx_invalid;
            t.tx_queued += c.tx_queued;
            t.tx_completed += c.tx_completed;
            t.kicks += c.kicks;
            t.rx_dropped += k.rx_dropped;
            t.rx_ring_full += k.rx_ring_full;
            t.rx_fill_ring_empty += k.rx_fill_ring_empty_descs;
            t.rx_invalid_descs += k.rx_invalid_descs;
            t.tx_invalid_descs += k.tx_invalid_descs;
            t.tx_ring_empty += k.tx_ring_empty_descs;
        }
        Ok(t)
    }
}

impl HeldBatch for Xdp {
    fn is_held(&self) -> bool {
        self.held.is_some()
    }

    fn held_len(&self) -> usize {
        self.held.map_or(0, |i| self.socks[i].held as usize)
    }

    fn held_seq(&self) -> u64 {
        if self.held.is_some() {
            self.batch_seq
        } else {
            0
        }
    }

    #[inline(always)]
    fn walk_held<F>(&mut self, cursor: &mut Cursor, f: F) -> Result<Walk>
    where
        F: FnMut(&Packet<'_>) -> bool,
    {
        Ok(self.walk_from(cursor, f))
    }

    /// The frames go back to the fill ring.
    fn release_held(&mut self) -> Result<()> {
        let Some(i) = self.held.take() else {
            return Err(not_held());
        };
        self.socks[i].release_held(&self.umem);
        Ok(())
    }
}

/// Frames held from one socket's RX ring: a batch of packets, zero copy.
/// The frames go back to the fill ring when the batch is dropped.
#[derive(Debug)]
pub struct XdpBatch<'a> {
    xdp: &'a mut Xdp,
}

impl XdpBatch<'_> {
    /// Descriptors in the batch (frames refused by the bounds check
    /// included; they are skipped by the iteration).
    pub fn len(&self) -> usize {
        self.xdp.held_len()
    }

    /// True if the batch holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The queue the frames came from.
    pub fn queue(&self) -> u32 {
        self.xdp.held.map_or(0, |i| self.xdp.socks[i].queue())
    }

    /// Call `f` for each frame until it returns false; returns the number
    /// of frames visited.
    pub fn for_each(&mut self, mut f: impl FnMut(&Packet<'_>) -> bool) -> usize {
        let mut n = 0;
        self.xdp.walk_from(&mut Cursor::default(), |p| {
            n += 1;
            f(p)
        });
        n
    }

    /// The frames, collected as views (allocates a Vec; prefer
    /// [`XdpBatch::for_each`] on hot paths).
    pub fn packets(&self) -> Vec<Packet<'_>> {
        let mut v = Vec::with_capacity(self.len());
        self.xdp.walk_from(&mut Cursor::default(), |p| {
            v.push(*p);
            true
        });
        v
    }
}

impl Drop for XdpBatch<'_> {
    fn drop(&mut self) {
        let _ = self.xdp.release_held();
    }
}

/// Reasons an RX descriptor may be refused, for diagnostics.
pub type RefusedDesc = BadDesc;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn geometry_defaults_and_splits() {
        let g = XdpConfig::default().geometry(1).unwrap();
        assert_eq!((g.rx_frames, g.tx_frames), (16384, 0));
        assert_eq!((g.fill, g.rx, g.tx), (16384, 16384, 0));
        let c = XdpConfig {
            direction: XdpDirection::RxTx,
            ..Default::default()
        };
        let g = c.geometry(2).unwrap();
        assert_eq!((g.per_socket, g.rx_frames, g.tx_frames), (8192, 4096, 4096));
        let c = XdpConfig {
            direction: XdpDirection::Tx,
            ..Default::default()
        };
        let g = c.geometry(1).unwrap();
        assert_eq!((g.rx_frames, g.tx_frames, g.rx), (0, 16384, 0));
        let c = XdpConfig {
            direction: XdpDirection::RxTx,
            fill_prefill: 100,
            frame_count: 256,
            ..Default::default()
        };
        let g = c.geometry(1).unwrap();
        assert_eq!((g.rx_frames, g.tx_frames, g.fill), (100, 156, 128));
    }

    #[test]
    fn batching_sleep_half_fills_the_ring_within_the_budget() {
        let cap = Duration::from_millis(50);
        let near = |d: Duration, us: u64| d.as_micros().abs_diff(u128::from(us)) <= 1;
        // 4096 frames at 1 Mpps: 1024 frames take 1.024 ms.
        assert!(near(sleep_for(4096, 1e6, cap), 1024));
        // Slow traffic: the budget, not the ring, sets the sleep.
        assert_eq!(sleep_for(4096, 100.0, cap), cap);
        assert_eq!(
            sleep_for(4096, 100.0, Duration::from_millis(5)),
            Duration::from_millis(5)
        );
        // Very fast traffic or a tiny ring: never below the floor.
        assert_eq!(sleep_for(64, 1e9, cap), IDLE_SLEEP_MIN);
        // A budget below the floor still sleeps the floor.
        assert_eq!(
            sleep_for(4096, 1e3, Duration::from_micros(10)),
            IDLE_SLEEP_MIN
        );
    }

    #[test]
    fn rate_meter_follows_batches_and_restarts_after_a_pause() {
        let t0 = Instant::now();
        let mut m = RateMeter::default();
        assert_eq!(m.pps(), None);
        let mut last = None;
        // 100 frames every millisecond for 30 ms: 100 kpps.
        for i in 0..=30u64 {
            let now = t0 + Duration::from_millis(i);
            m.add(100, now, last);
            last = Some(now);
        }
        let pps = m.pps().unwrap();
        assert!((90e3..=110e3).contains(&pps), "{pps}");
        // Twice the rate: followed at once; half: averaged.
        let mut fast = m;
        let mut t = t0 + Duration::from_millis(30);
        for _ in 0..10 {
            t += Duration::from_millis(1);
            fast.add(200, t, Some(t - Duration::from_millis(1)));
        }
        assert!(fast.pps().unwrap() > 180e3, "{:?}", fast.pps());
        let mut slow = m;
        let mut t = t0 + Duration::from_millis(30);
        for _ in 0..10 {
            t += Duration::from_millis(1);
            slow.add(50, t, Some(t - Duration::from_millis(1)));
        }
        let p = slow.pps().unwrap();
        assert!((60e3..90e3).contains(&p), "{p}");
        // After a pause the next batch starts a new window; the old rate
        // stays the estimate until the window is long enough.
        let later = t0 + Duration::from_secs(1);
        m.add(5, later, last);
        assert_eq!(m.pps(), Some(pps));
        assert_eq!(m.frames, 5);
    }

    #[test]
    fn latency_and_busy_poll_configs_are_checked() {
        let e = |c: XdpConfig| c.validate(1).unwrap_err().message().to_owned();
        assert!(
            e(XdpConfig {
                max_latency: Duration::from_micros(10),
                ..Default::default()
            })
            .contains("max_latency")
        );
        assert!(
            e(XdpConfig {
                prefer_busy_poll: true,
                ..Default::default()
            })
            .contains("busy_poll_us")
        );
        assert!(
            XdpConfig {
                busy_poll_us: 50,
                prefer_busy_poll: true,
                busy_poll_budget: 64,
                ..Default::default()
            }
            .validate(1)
            .is_ok()
        );
        assert!(XdpConfig::default().max_latency <= Duration::from_millis(60));
    }

    #[test]
    fn synthetic_walk_checks_every_descriptor() {
        let fs = 2048usize;
        let mut umem = vec![0u8; 4 * fs];
        umem[256..256 + 6].copy_from_slice(&[0xff; 6]);
        umem[256 + 12..256 + 14].copy_from_slice(&0x0800u16.to_be_bytes());
        let d = |addr: usize, len: u32| synth::XdpDesc {
            addr: addr as u64,
            len,
            options: 0,
        };
        let descs = [
            d(256, 60),           // ok
            d(fs + 2000, 100),    // runs past its chunk: skipped
            d(100 * fs, 60),      // outside the UMEM: skipped
            d(2 * fs, fs as u32), // a whole chunk: ok
            d(3 * fs + 8, 0),     // empty: skipped
        ];
        let mut got = Vec::new();
        let n = synth::walk(&umem, fs as u32, &descs, |p| {
            got.push((p.data.len(), p.protocol, p.pkt_type));
            true
        });
        assert_eq!(n, 2);
        assert_eq!(
            got,
            vec![
                (60, 0x0800, PacketType::Broadcast as u8),
                (fs, 0, PacketType::OtherHost as u8)
            ]
        );
    }

    #[test]
    fn bad_configs_name_the_field() {
        // The message for the default config changed by `set`.
        let e = |set: fn(&mut XdpConfig)| {
            let mut c = XdpConfig::default();
            set(&mut c);
            c.validate(1).unwrap_err().message().to_owned()
        };
        assert!(e(|c| c.frame_size = 3000).contains("frame_size 3000"));
        assert!(e(|c| c.rx_ring_size = 1000).contains("rx_ring_size 1000"));
        assert!(e(|c| c.fill_prefill = 20000).contains("fill_prefill 20000"));
        assert!(
            e(|c| {
                c.direction = XdpDirection::RxTx;
                c.fill_prefill = 16384;
            })
            .contains("no frames left for TX")
        );
        assert!(
            XdpConfig {
                frame_count: 1,
                ..Default::default()
            }
            .validate(2)
            .is_err()
        );
    }
}
