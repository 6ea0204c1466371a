//! [`Capture`]: RX over a TPACKET_V3 block ring, or in immediate mode
//! over a TPACKET_V2 frame ring (one status word per frame, handed over as
//! soon as the kernel wrote it). Both rings are the same [`HeldBatch`]: a
//! ring block, or the run of consecutive ready frames.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use super::block::{BlockHeader, Malformed, PacketIter, block_header};
use super::frame;
use super::gate::{self, Gate, Here};
use super::options::{
    self as opt, BpfInsn, CaptureDirection, CaptureInfo, Fanout, FanoutFlags, FanoutMode, Profile,
    TimestampSource, check_program,
};
use crate::batch::{Cursor, HeldBatch, RawBlock, Walk, busy, not_held};
use crate::error::{Error, ErrorKind, Result};
use crate::packet::Packet;
use crate::stats::{Reported, counters};
use crate::sys::socket::{self, Deadline, Mmap};
use crate::sys::sockopt as so;
use crate::sys::tpacket::{self as tp, block_desc, v2_hdr};

/// Largest snap length netring accepts (libpcap's `MAXIMUM_SNAPLEN`).
pub const MAX_SNAPLEN: u32 = 262_144;
/// Largest total ring size accepted (16 GiB): a guard against typos.
pub const MAX_RING_BYTES: u64 = 16 << 30;

/// The most frames one held batch of the immediate-mode frame ring takes
/// (at most half the ring, so the kernel keeps room while it is held).
const FRAME_RUN_MAX: usize = 512;

/// Immediate mode on a busy link: a blocking wait that a frame ended within
/// this long counts as "busy"...
const BUSY_WAIT: Duration = Duration::from_micros(50);
/// ...and after this many busy waits in a row the capture naps
/// [`COALESCE`] before sleeping on the socket...
const BUSY_WAITS: u8 = 4;
/// ...so that one wake-up takes the run of frames that arrived meanwhile
/// instead of one frame per wake-up (the kernel wakes a TPACKET_V2 reader
/// for every frame). The nap is a timed `ppoll` on the wake-up fd only (a
/// break still ends it); the kernel's timer slack may lengthen it (50 µs
/// by default).
const COALESCE: Duration = Duration::from_micros(30);

/// How often a capture looks for the last block of a removed interface.
const DRAIN_SLICE: Duration = Duration::from_millis(5);

/// The longest the kernel takes to retire a partly filled block: its timer
/// retires the block on the second expiry that finds no new block opened
/// (so up to twice `block_timeout_ms`), plus slack for timer granularity
/// and a loaded machine; a timeout of 0 lets the kernel choose (derived
/// from the link speed, 8 ms when unknown): 1 s is assumed.
fn retire_bound(block_timeout_ms: u32) -> Duration {
    let tov = if block_timeout_ms == 0 {
        1000
    } else {
        u64::from(block_timeout_ms)
    };
    Duration::from_millis(2 * tov + 100)
}

/// Capture configuration. `Default` gives the documented defaults; change
/// fields and pass it to [`Capture::open`], which validates everything
/// before touching the kernel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaptureConfig {
    /// Bytes per ring block: a power of two, a multiple of the page size.
    /// Default 4 MiB.
    pub block_size: u32,
    /// Number of blocks. Default 64 (a 256 MiB ring).
    pub block_count: u32,
    /// Frame size used for the kernel's frame accounting: a multiple of 16,
    /// at least 80, at most `block_size`. Default 2048.
    pub frame_size: u32,
    /// Milliseconds after which the kernel hands over a partly filled block
    /// (1..=65535; 0 lets the kernel choose). Default 60.
    pub block_timeout_ms: u32,
    /// How long [`Capture::next_batch`] waits (the other waits take an
    /// explicit timeout). Default 100 ms.
    pub poll_timeout: Duration,
    /// Bytes of each frame to capture (1..=262144). Default 262144.
    pub snaplen: u32,
    /// Put the interface in promiscuous mode while the capture is open.
    /// Default true.
    pub promiscuous: bool,
    /// Do not capture frames this host sends (`PACKET_IGNORE_OUTGOING`).
    /// Default false.
    pub ignore_outgoing: bool,
    /// Ask the kernel to fill the receive hash (costs ~9 % kernel
    /// throughput). Default false.
    pub fill_rxhash: bool,
    /// Try to lock the ring in memory (`MAP_LOCKED`, falls back silently to
    /// an unlocked mapping; see [`RingInfo::locked`]). Default true.
    pub lock_memory: bool,
    /// Classic BPF filter (what `tcpdump -dd` prints), attached before the
    /// socket is bound, so no frame that fails it is ever captured or
    /// counted. Combined with `snaplen` and `direction` (see
    /// [`super::options::assemble`]). Default none.
    pub filter: Option<Vec<BpfInsn>>,
    /// eBPF socket filter program fd (`SO_ATTACH_BPF`); the caller keeps the
    /// fd. Exclusive with `filter`, `direction` Out and a `snaplen` below
    /// the maximum (an eBPF program cannot be rewritten to cut frames).
    /// Default none.
    pub ebpf_filter_fd: Option<RawFd>,
    /// Which directions to capture. Default both.
    pub direction: CaptureDirection,
    /// Join a fanout group after binding. A reject-all filter is attached
    /// until the group is joined, so the socket sees no frame meant for
    /// another member; it is then replaced by the real filter or detached.
    /// With a kernel mode the kernel steers frames to a new member as soon
    /// as it has joined, one system call before that replacement: when a
    /// member joins under traffic, a frame steered to it in between is
    /// dropped by the reject-all filter, uncounted (measured: three frames
    /// in 67 joins with 20,000 frames/s steered to the joining member).
    /// [`FanoutMode::Flow`] closes that window: its program leaves a
    /// member out until it is ready. Default none.
    pub fanout: Option<Fanout>,
    /// Timestamp source. Default software.
    pub timestamp: TimestampSource,
    /// With a hardware `timestamp`: when the device cannot, fall back to
    /// software timestamps (reported in [`CaptureInfo`]) instead of failing
    /// with [`ErrorKind::Unsupported`]. Default true.
    pub timestamp_fallback: bool,
    /// `SO_BUSY_POLL` in microseconds (0 = off). In immediate mode the
    /// wait also spins on the ring that long before it sleeps on the
    /// socket: a frame found while spinning is handed over without a
    /// wake-up (a few microseconds instead of the scheduler's tens), for
    /// the price of a core that spins while the link is idle. Default 0.
    pub busy_poll_us: u32,
    /// `SO_PREFER_BUSY_POLL`. Default false.
    pub prefer_busy_poll: bool,
    /// `SO_BUSY_POLL_BUDGET` (0 = kernel default). Default 0.
    pub busy_poll_budget: u16,
    /// `SO_REUSEPORT`. Default false.
    pub reuseport: bool,
    /// Socket receive buffer in bytes (`SO_RCVBUF`; 0 = kernel default).
    /// The ring is the real buffer; this matters for the few frames queued
    /// outside it. Default 0.
    pub rcvbuf: u32,
    /// Set `rcvbuf` with `SO_RCVBUFFORCE` (ignores `rmem_max`, needs
    /// CAP_NET_ADMIN). Default false.
    pub rcvbuf_force: bool,
    /// `PACKET_LOSS`: set before the ring is created. Default false.
    pub packet_loss: bool,
    /// Re-insert the VLAN tag the kernel stripped into the frame data
    /// (`PACKET_RESERVE` of 4 bytes makes room; done in place when a block is
    /// taken, bounds-checked). The metadata (`vlan_tci`, flags) stays as
    /// well. Default false.
    pub vlan_reinsert: bool,
    /// Open the capture in this network namespace: a name under
    /// `/run/netns` (as `ip netns add` creates) or an absolute path. The
    /// calling thread enters it only while the socket is created and the
    /// interface looked up. Default none (the calling thread's namespace).
    pub netns: Option<String>,
    /// Immediate mode (libpcap's `pcap_set_immediate_mode`): hand each frame
    /// over as soon as the kernel has written it. The ring becomes a
    /// TPACKET_V2 frame ring (a status word per frame) instead of the
    /// TPACKET_V3 block ring, whose blocks reach the user only when full or
    /// retired by `block_timeout_ms`. A held batch is then the run of
    /// consecutive ready frames (at most 512, at most half the ring). The
    /// ring holds `block_size / frame_size * block_count` frames, one
    /// packet each. A frame longer than `frame_size` minus the header (66
    /// bytes on Ethernet) still arrives whole, up to `snaplen`: the kernel
    /// also queues it on the socket (`PACKET_COPY_THRESH`), and the capture
    /// takes that copy as a one-packet batch (a system call, so size frames
    /// for the frames the link carries, e.g. the MTU plus 18, and leave
    /// GSO/GRO aggregates to the copy). The copies wait in the socket's
    /// receive buffer: with `rcvbuf` 0 it is raised to the ring's size
    /// (`SO_RCVBUFFORCE`, or `SO_RCVBUF` up to `rmem_max` without
    /// `CAP_NET_ADMIN`); a copy the buffer cannot take is truncated to the
    /// frame (flagged `TRUNCATED`).
    /// `block_timeout_ms` is unused. Refused with `fill_rxhash` (these
    /// frames carry no receive hash) and with `vlan_reinsert` (read
    /// [`Packet::vlan_tci`] instead).
    ///
    /// The kernel wakes a reader of this ring for every frame. On a busy
    /// link (four waits in a row ended by a frame within 50 µs) the capture
    /// therefore naps 30 µs (plus the kernel's timer slack) before sleeping
    /// on the socket, so one wake-up takes every frame that arrived
    /// meanwhile: far less CPU per packet at high rates, at most that much
    /// more latency while the link is busy, none when traffic is sparse.
    /// Default false.
    pub immediate: bool,
}

impl Default for CaptureConfig {
    fn default() -> Self {
        CaptureConfig {
            block_size: 4 << 20,
            block_count: 64,
            frame_size: 2048,
            block_timeout_ms: 60,
            poll_timeout: Duration::from_millis(100),
            snaplen: MAX_SNAPLEN,
            promiscuous: true,
            ignore_outgoing: false,
            fill_rxhash: false,
            lock_memory: true,
            filter: None,
            ebpf_filter_fd: None,
            direction: CaptureDirection::Both,
            fanout: None,
            timestamp: TimestampSource::Software,
            timestamp_fallback: true,
            busy_poll_us: 0,
            prefer_busy_poll: false,
            busy_poll_budget: 0,
            reuseport: false,
            rcvbuf: 0,
            rcvbuf_force: false,
            packet_loss: false,
            vlan_reinsert: false,
            netns: None,
            immediate: false,
        }
    }
}

impl CaptureConfig {
    /// A starting configuration for a use case (every field can still be
    /// changed):
    ///
    /// | profile | blocks | ring | frame | timeout | other |
    /// |---|---|---|---|---|---|
    /// | Default | 4 MiB x 64 | 256 MiB | 2048 | 60 ms | |
    /// | HighThroughput | 4 MiB x 128 | 512 MiB | 2048 | 100 ms | use with fanout |
    /// | LowLatency | 256 KiB x 64 | 16 MiB | 2048 | 1 ms | busy poll 50 µs |
    /// | MemoryConstrained | 1 MiB x 16 | 16 MiB | 2048 | 60 ms | not locked |
    /// | Jumbo | 8 MiB x 64 | 512 MiB | 16384 | 60 ms | |
    pub fn profile(p: Profile) -> CaptureConfig {
        let mut c = CaptureConfig::default();
        c.apply_profile(p);
        c
    }

    /// Set the fields a [`Profile`] governs (geometry, block timeout, busy
    /// polling, memory locking), leaving the others as they are.
    pub fn apply_profile(&mut self, p: Profile) {
        let d = CaptureConfig::default();
        let (bs, bc, fs, tov) = match p {
            Profile::Default => (
                d.block_size,
                d.block_count,
                d.frame_size,
                d.block_timeout_ms,
            ),
            Profile::HighThroughput => (4 << 20, 128, 2048, 100),
            Profile::LowLatency => (256 << 10, 64, 2048, 1),
            Profile::MemoryConstrained => (1 << 20, 16, 2048, 60),
            Profile::Jumbo => (8 << 20, 64, 16_384, 60),
        };
        self.block_size = bs;
        self.block_count = bc;
        self.frame_size = fs;
        self.block_timeout_ms = tov;
        self.busy_poll_us = if p == Profile::LowLatency { 50 } else { 0 };
        self.lock_memory = p != Profile::MemoryConstrained;
    }

    /// Check every field; the error names the field, its value and the rule.
    pub fn validate(&self) -> Result<()> {
        let page = socket::page_size();
        let bs = self.block_size;
        if bs == 0 || !bs.is_power_of_two() {
            return Err(Error::config(format!(
                "block_size {bs} is not a power of two"
            )));
        }
        if bs % page != 0 {
            return Err(Error::config(format!(
                "block_size {bs} is not a multiple of the page size ({page})"
            )));
        }
        if self.block_count == 0 {
            return Err(Error::config(
                "block_count 0: the ring needs at least one block",
            ));
        }
        let total = u64::from(bs) * u64::from(self.block_count);
        if total > MAX_RING_BYTES {
            return Err(Error::config(format!(
                "ring of {} blocks x {bs} bytes ({} MiB) exceeds the 16 GiB limit",
                self.block_count,
                total >> 20
            )));
        }
        let fs = self.frame_size;
        if fs < tp::tpacket_align(tp::v3_hdr::HDRLEN) as u32
            || fs % tp::TPACKET_ALIGNMENT as u32 != 0
        {
            return Err(Error::config(format!(
                "frame_size {fs} must be a multiple of 16 and at least {}",
                tp::tpacket_align(tp::v3_hdr::HDRLEN)
            )));
        }
        if fs > bs {
            return Err(Error::config(format!(
                "frame_size {fs} is larger than block_size {bs}"
            )));
        }
        if self.block_timeout_ms > 65_535 {
            return Err(Error::config(format!(
                "block_timeout_ms {} exceeds 65535",
                self.block_timeout_ms
            )));
        }
        if self.snaplen == 0 || self.snaplen > MAX_SNAPLEN {
            return Err(Error::config(format!(
                "snaplen {} must be between 1 and {MAX_SNAPLEN}",
                self.snaplen
            )));
        }
        self.validate_options()
    }

    fn validate_options(&self) -> Result<()> {
        if let Some(fd) = self.ebpf_filter_fd {
            if fd < 0 {
                return Err(Error::config(format!(
                    "ebpf_filter_fd {fd} is not a descriptor"
                )));
            }
            if self.filter.is_some() {
                return Err(Error::config(
                    "filter and ebpf_filter_fd are both set: a socket has one filter, choose one",
                ));
            }
            if self.direction == CaptureDirection::Out {
                return Err(Error::config(
                    "direction Out is a classic filter and cannot be combined with ebpf_filter_fd: \
                     test the packet type in the eBPF program instead",
                ));
            }
            if self.snaplen < MAX_SNAPLEN {
                return Err(Error::config(format!(
                    "snaplen {} needs a classic filter to cut frames and cannot be combined with \
                     ebpf_filter_fd: return the snap length from the eBPF program instead",
                    self.snaplen
                )));
            }
        }
        if let Some(f) = &self.filter {
            check_program(f, "filter")?;
        }
        if self.immediate && self.fill_rxhash {
            return Err(Error::config(
                "immediate with fill_rxhash: the immediate-mode frame ring (TPACKET_V2) \
                 carries no receive hash; choose one",
            ));
        }
        if self.immediate && self.vlan_reinsert {
            return Err(Error::config(
                "immediate with vlan_reinsert: tags are put back in place in ring blocks only; \
                 in immediate mode read the tag from the packet's VLAN metadata",
            ));
        }
        if self.ignore_outgoing && self.direction == CaptureDirection::Out {
            return Err(Error::config(
                "ignore_outgoing with direction Out would capture nothing: choose one",
            ));
        }
        if let Some(fo) = &self.fanout {
            if fo.flags.contains(FanoutFlags::UNIQUE_ID) && fo.group != 0 {
                return Err(Error::config(format!(
                    "fanout group {} with the unique-id flag: the kernel chooses the id, set group 0",
                    fo.group
                )));
            }
            match &fo.mode {
                FanoutMode::Cbpf(p) => check_program(p, "fanout cbpf program")?,
                FanoutMode::Ebpf(fd) if *fd < 0 => {
                    return Err(Error::config(format!(
                        "fanout ebpf program fd {fd} is not a descriptor"
                    )));
                }
                _ => {}
            }
        }
        if self.rcvbuf > i32::MAX as u32 {
            return Err(Error::config(format!(
                "rcvbuf {} exceeds {}",
                self.rcvbuf,
                i32::MAX
            )));
        }
        if self.busy_poll_us > i32::MAX as u32 {
            return Err(Error::config(format!(
                "busy_poll_us {} exceeds {}",
                self.busy_poll_us,
                i32::MAX
            )));
        }
        if let Some(ns) = &self.netns {
            if ns.is_empty() || ns.contains('\0') || (!ns.starts_with('/') && ns.contains('/')) {
                return Err(Error::invalid_arg(format!(
                    "netns '{ns}' is not valid: a name under /run/netns or an absolute path"
                )));
            }
        }
        Ok(())
    }
}

/// What the ring really got (the kernel may have given fewer blocks).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RingInfo {
    /// Bytes per block.
    pub block_size: u32,
    /// Blocks allocated.
    pub block_count: u32,
    /// Blocks asked for.
    pub block_count_requested: u32,
    /// Frame size.
    pub frame_size: u32,
    /// Whether the mapping is locked in memory.
    pub locked: bool,
}

/// Lifetime counters. `packets`, `drops` and `freezes` come from the kernel
/// (`PACKET_STATISTICS`, which resets on every read; netring sums them in
/// 64 bits); the rest are counted by netring.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CaptureStats {
    /// Packets the kernel put into the ring.
    pub packets: u64,
    /// Packets the kernel dropped because the ring was full.
    pub drops: u64,
    /// Times the kernel froze the queue (ring full).
    pub freezes: u64,
    /// Packets in blocks handed to the user (batches and single packets).
    pub delivered: u64,
    /// Blocks handed to the user (in immediate mode: held batches, each a
    /// run of frames).
    pub blocks: u64,
    /// Blocks whose kernel sequence number skipped ahead (should stay 0).
    pub seq_gaps: u64,
    /// Blocks that failed validation (should stay 0; see the last error).
    pub malformed: u64,
}

counters!(CaptureStats {
    packets,
    drops,
    freezes,
    delivered,
    blocks,
    seq_gaps,
    malformed
});

pub use crate::batch::Wait;
pub use crate::breaker::Breaker;

/// An AF_PACKET TPACKET_V3 capture on one interface.
///
/// Field order fixes the drop order: the ring is unmapped before the socket
/// is closed.
#[derive(Debug)]
pub struct Capture {
    map: Mmap,
    fd: OwnedFd,
    brk: Breaker,
    ifname: String,
    ifindex: i32,
    ring: RingInfo,
    poll_timeout: Duration,
    cur: usize,
    /// The block at `cur` is held (acquired, not yet given back).
    held: bool,
    /// Descriptor of the held block (valid while `held`).
    held_hdr: BlockHeader,
    /// [`Capture::next_packet`]'s position in the held block: `Some` while
    /// the held block was acquired by it rather than by a caller of
    /// [`Capture::acquire`].
    pkt_cursor: Option<Cursor>,
    down: bool,
    /// The interface was found removed while the block the kernel was
    /// filling held frames: until this instant the capture waits for the
    /// kernel's retire timer to hand that block over (see
    /// [`Capture::removal_bound`]) before reporting the removal.
    drain_until: Option<Instant>,
    /// The longest the kernel may take to retire a partly filled block.
    retire_bound: Duration,
    /// Immediate mode's spin before a sleep (`busy_poll_us`; zero: none).
    spin: Duration,
    last_seq: Option<u64>,
    total: CaptureStats,
    reported: Reported<CaptureStats>,
    last_error: Option<Malformed>,
    info: CaptureInfo,
    vlan_reinsert: bool,
    /// Immediate mode: the ring is a TPACKET_V2 frame ring and `cur` a
    /// frame index.
    frames: Option<FrameRing>,
    /// A member of a [`FanoutMode::Flow`] group: how to leave it cleanly.
    gate: Option<Gate>,
    /// Immediate mode: the whole packet of a held frame the kernel cut to
    /// the frame size (`TP_STATUS_COPY`), taken off the socket; the held
    /// run is then that one frame, and `copied_len` its length here.
    copied: Vec<u8>,
    copied_len: Option<usize>,
}

/// A socket's membership of a [`FanoutMode::Flow`] group joined with
/// [`Capture::join_fanout`]: dropping it tells the group the socket is
/// leaving (its count of ready members goes down by one), before the
/// socket itself is closed.
#[derive(Debug)]
pub struct FlowMembership {
    gate: Gate,
    fd: OwnedFd,
}

impl Drop for FlowMembership {
    fn drop(&mut self) {
        self.gate.leave(&self.fd);
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        if let Some(g) = &self.gate {
            g.leave(&self.fd);
        }
    }
}

/// The geometry of an immediate-mode frame ring.
#[derive(Debug, Clone, Copy)]
struct FrameRing {
    /// Bytes per frame slot.
    size: usize,
    /// Frames per block (the kernel never lets a frame straddle blocks).
    per_block: usize,
    /// Frames in the ring.
    count: usize,
    /// Most frames one held batch takes.
    run_max: usize,
    /// Held batches so far (the batch sequence number, from 1).
    batches: u64,
    /// Busy waits in a row (see [`BUSY_WAITS`]).
    busy: u8,
    /// The snap length: how much of a copied frame is kept.
    snaplen: usize,
}

/// Errors of a socket option, naming the option and its value.
fn opt_err(what: String) -> impl FnOnce(io::Error) -> Error {
    move |e| Error::os(what, e)
}

/// Create the socket (protocol 0: receives nothing yet) and look up the
/// interface in namespace `netns` (None: the calling thread's). The calling
/// thread is in the target namespace only between the two `setns` calls.
/// `any`: a cooked (`SOCK_DGRAM`) socket for every interface, index 0.
fn socket_in(
    netns: Option<&str>,
    cname: &CString,
    ifname: &str,
    any: bool,
    want_here: bool,
) -> Result<(OwnedFd, i32, Option<Here>)> {
    let make = || -> Result<(OwnedFd, i32, Option<Here>)> {
        let here = want_here.then(Here::now).transpose()?;
        if any {
            let fd = socket::packet_socket_cooked(0).map_err(|e| {
                Error::os_needing("socket(AF_PACKET, SOCK_DGRAM)", e, &["CAP_NET_RAW"])
            })?;
            return Ok((fd, 0, here));
        }
        let fd = socket::packet_socket(0)
            .map_err(|e| Error::os_needing("socket(AF_PACKET, SOCK_RAW)", e, &["CAP_NET_RAW"]))?;
        let idx = so::if_index_on(fd.as_raw_fd(), cname)
            .map_err(|e| crate::iface::lookup_error(ifname, netns, e))?;
        Ok((fd, idx, here))
    };
    let Some(ns) = netns else {
        return make();
    };
    let path = if ns.starts_with('/') {
        ns.to_owned()
    } else {
        format!("/run/netns/{ns}")
    };
    let cpath = CString::new(path.clone()).map_err(|_| Error::invalid_arg("netns contains NUL"))?;
    let target = so::open_ro(&cpath).map_err(|e| {
        if e.raw_os_error() == Some(libc::ENOENT) {
            // A configuration error: NR_E_NO_DEVICE says "no such interface".
            Error::config(format!(
                "netns '{ns}': {path} does not exist (`ip netns list` lists them)"
            ))
        } else {
            Error::os(format!("netns '{ns}': opening {path}"), e)
        }
    })?;
    let home = so::open_ro(c"/proc/thread-self/ns/net")
        .map_err(|e| Error::os("netns: opening /proc/thread-self/ns/net", e))?;
    so::setns_net(&target).map_err(|e| match e.raw_os_error() {
        Some(libc::EINVAL) => {
            Error::config(format!("netns '{ns}': {path} is not a network namespace"))
        }
        _ => Error::os_needing(format!("netns '{ns}': setns"), e, &["CAP_SYS_ADMIN"]),
    })?;
    let made = make();
    if let Err(e) = so::setns_net(&home) {
        // Cannot happen with a namespace we were just in; say so loudly.
        return Err(Error::os(
            format!(
                "netns '{ns}': returning the calling thread to its own namespace failed; \
                 the thread is left in '{ns}'"
            ),
            e,
        ));
    }
    made
}

impl Capture {
    /// Open a capture on interface `ifname` of the calling thread's network
    /// namespace (or of `cfg.netns`).
    ///
    /// Order of setup: socket with protocol 0 (receives nothing yet) →
    /// TPACKET_V3 → socket options → timestamps → filter (reject-all while
    /// a fanout group is still to be joined) → ring (shrinking the block
    /// count down to 25 % on ENOMEM) → mmap → bind with `ETH_P_ALL` →
    /// fanout join → real filter. So no frame reaches the ring before the
    /// filter and ring are in place, and no fanout member sees frames meant
    /// for another.
    pub fn open(ifname: &str, cfg: &CaptureConfig) -> Result<Capture> {
        cfg.validate()?;
        crate::iface::check_name(ifname)?;
        Self::open_on(ifname, false, cfg)
    }

    /// Open a cooked capture on every interface of the namespace at once,
    /// as libpcap's `any` device does: a `SOCK_DGRAM` packet socket bound
    /// to interface index 0. Frames start at the network header (the
    /// kernel removes the link-layer header); what it held is in each
    /// packet's metadata: [`Packet::protocol`], [`Packet::pkt_type`],
    /// [`Packet::ifindex`] and [`Packet::hw`] (hardware type and source
    /// address), enough to rebuild a `DLT_LINUX_SLL`/`SLL2` header.
    ///
    /// Everything else is as [`Capture::open`], except that
    /// `cfg.promiscuous` is ignored (there is no single interface to put in
    /// promiscuous mode; libpcap ignores it too), hardware timestamps fall
    /// back (or fail) as on a device without them, and [`Capture::ifname`]
    /// is `"any"` with [`Capture::ifindex`] 0. `cfg.filter` runs on the
    /// cooked frame (offset 0 is the network header; the link-layer fields
    /// are ancillary loads: `SKF_AD_PROTOCOL`, `SKF_AD_PKTTYPE`,
    /// `SKF_AD_IFINDEX`). `cfg.vlan_reinsert` is refused: there is no
    /// Ethernet header to put a tag into.
    pub fn open_any(cfg: &CaptureConfig) -> Result<Capture> {
        cfg.validate()?;
        if cfg.vlan_reinsert {
            return Err(Error::config(
                "vlan_reinsert: a cooked capture on every interface (open_any) has no \
                 Ethernet header to put the tag back into; read Packet::vlan_tci instead",
            ));
        }
        Self::open_on("any", true, cfg)
    }

    fn open_on(ifname: &str, any: bool, cfg: &CaptureConfig) -> Result<Capture> {
        let cname =
            CString::new(ifname).map_err(|_| Error::invalid_arg("interface name contains NUL"))?;
        let flow = match &cfg.fanout {
            Some(Fanout {
                mode: FanoutMode::Flow(key),
                ..
            }) => Some(*key),
            _ => None,
        };
        let (fd, ifindex, here) =
            socket_in(cfg.netns.as_deref(), &cname, ifname, any, flow.is_some())?;
        let mut gate = None;
        let (version, vname) = if cfg.immediate {
            (tp::TPACKET_V2, "TPACKET_V2")
        } else {
            (tp::TPACKET_V3, "TPACKET_V3")
        };
        socket::setsockopt(&fd, tp::SOL_PACKET, tp::PACKET_VERSION, &version)
            .map_err(|e| Error::os(format!("setsockopt(PACKET_VERSION, {vname})"), e))?;
        Self::socket_options(&fd, cfg)?;
        let mut info = CaptureInfo::default();
        Self::timestamps(&fd, ifname, cfg, &mut info)?;
        let prog = opt::assemble(
            cfg.filter.as_deref(),
            cfg.direction,
            cfg.snaplen,
            MAX_SNAPLEN,
        )?;
        if cfg.fanout.is_some() {
            socket::attach_filter(&fd, &opt::REJECT_ALL)
                .map_err(|e| Error::os("fanout: attaching the reject-all filter", e))?;
        } else {
            Self::attach_filters(&fd, prog.as_deref(), cfg.ebpf_filter_fd)?;
        }
        let (ring, map) = Self::setup_ring(&fd, cfg)?;
        if cfg.ignore_outgoing || cfg.direction == CaptureDirection::In {
            socket::setsockopt(&fd, tp::SOL_PACKET, tp::PACKET_IGNORE_OUTGOING, &1i32)
                .map_err(|e| Error::os("setsockopt(PACKET_IGNORE_OUTGOING)", e))?;
        }
        if cfg.promiscuous && !any {
            let mreq = tp::PacketMreq {
                mr_ifindex: ifindex,
                mr_type: tp::PACKET_MR_PROMISC,
                ..Default::default()
            };
            socket::setsockopt(&fd, tp::SOL_PACKET, tp::PACKET_ADD_MEMBERSHIP, &mreq)
                .map_err(|e| Error::os(format!("enabling promiscuous mode on '{ifname}'"), e))?;
        }
        socket::bind_packet(&fd, ifindex, tp::ETH_P_ALL)
            .map_err(|e| Error::os(format!("binding to interface '{ifname}'"), e))?;
        if let Some(fo) = &cfg.fanout {
            let ready = || match (prog.as_deref(), cfg.ebpf_filter_fd) {
                (None, None) => so::detach_filter(&fd)
                    .map_err(|e| Error::os("fanout: detaching the reject-all filter", e)),
                (p, e) => Self::attach_filters(&fd, p, e),
            };
            if let (Some(key), Some(here)) = (flow, here) {
                // The group's program leaves this socket out until it is
                // ready (afpacket/gate.rs).
                let (id, g) = gate::join(
                    &fd,
                    fo,
                    key,
                    here,
                    || Self::fanout_join(&fd, ifname, fo),
                    ready,
                )?;
                info.fanout_group = Some(id);
                gate = Some(g);
            } else {
                // The kernel steers frames to this socket from the moment
                // it joins; until the reject-all filter is replaced they
                // are dropped, so the replacement is the very next call
                // (the program and the read-back come after it).
                Self::fanout_join(&fd, ifname, fo)?;
                ready()?;
                info.fanout_group = Some(Self::fanout_program(&fd, fo)?);
            }
        }
        let frames = cfg.immediate.then(|| {
            let per_block = (ring.block_size / ring.frame_size) as usize;
            let count = per_block * ring.block_count as usize;
            FrameRing {
                size: ring.frame_size as usize,
                per_block,
                count,
                run_max: (count / 2).clamp(1, FRAME_RUN_MAX),
                batches: 0,
                busy: 0,
                snaplen: cfg.snaplen as usize,
            }
        });
        Ok(Capture {
            map,
            fd,
            brk: Breaker::new()?,
            ifname: ifname.to_owned(),
            ifindex,
            ring,
            poll_timeout: cfg.poll_timeout,
            cur: 0,
            held: false,
            held_hdr: BlockHeader::default(),
            pkt_cursor: None,
            down: false,
            drain_until: None,
            retire_bound: retire_bound(cfg.block_timeout_ms),
            spin: if frames.is_some() {
                Duration::from_micros(cfg.busy_poll_us.into())
            } else {
                Duration::ZERO
            },
            last_seq: None,
            total: CaptureStats::default(),
            reported: Reported::default(),
            last_error: None,
            info,
            vlan_reinsert: cfg.vlan_reinsert,
            frames,
            gate,
            copied: Vec::new(),
            copied_len: None,
        })
    }

    fn attach_filters(fd: &OwnedFd, prog: Option<&[BpfInsn]>, ebpf: Option<RawFd>) -> Result<()> {
        if let Some(p) = prog {
            socket::attach_filter(fd, p).map_err(|e| {
                Error::os(
                    format!(
                        "filter: the kernel refused the classic BPF program ({} instructions)",
                        p.len()
                    ),
                    e,
                )
            })?;
        }
        if let Some(pfd) = ebpf {
            so::attach_bpf(fd, pfd).map_err(|e| {
                Error::os(
                    format!(
                        "ebpf_filter_fd {pfd}: SO_ATTACH_BPF refused (not a socket-filter program?)"
                    ),
                    e,
                )
            })?;
        }
        Ok(())
    }

    fn socket_options(fd: &OwnedFd, cfg: &CaptureConfig) -> Result<()> {
        let sol = libc::SOL_SOCKET;
        if cfg.packet_loss {
            socket::setsockopt(fd, tp::SOL_PACKET, tp::PACKET_LOSS, &1i32)
                .map_err(opt_err("packet_loss: setsockopt(PACKET_LOSS)".into()))?;
        }
        if cfg.vlan_reinsert {
            let reserve = super::vlan::VLAN_HLEN as u32;
            socket::setsockopt(fd, tp::SOL_PACKET, tp::PACKET_RESERVE, &reserve).map_err(
                opt_err("vlan_reinsert: setsockopt(PACKET_RESERVE, 4)".into()),
            )?;
        }
        if cfg.busy_poll_us > 0 {
            let v = cfg.busy_poll_us as i32;
            socket::setsockopt(fd, sol, so::SO_BUSY_POLL, &v).map_err(opt_err(format!(
                "busy_poll_us {v}: setsockopt(SO_BUSY_POLL)"
            )))?;
        }
        if cfg.prefer_busy_poll {
            socket::setsockopt(fd, sol, so::SO_PREFER_BUSY_POLL, &1i32).map_err(opt_err(
                "prefer_busy_poll: setsockopt(SO_PREFER_BUSY_POLL)".into(),
            ))?;
        }
        if cfg.busy_poll_budget > 0 {
            let v = i32::from(cfg.busy_poll_budget);
            socket::setsockopt(fd, sol, so::SO_BUSY_POLL_BUDGET, &v).map_err(opt_err(format!(
                "busy_poll_budget {v}: setsockopt(SO_BUSY_POLL_BUDGET) (above 64 needs CAP_NET_ADMIN)"
            )))?;
        }
        if cfg.reuseport {
            socket::setsockopt(fd, sol, libc::SO_REUSEPORT, &1i32).map_err(opt_err(
                "reuseport: setsockopt(SO_REUSEPORT) (the kernel allows it on IP sockets \
                     only; to share an interface's traffic between packet sockets use fanout)"
                    .into(),
            ))?;
        }
        if cfg.immediate {
            // Frames longer than a ring frame are also queued whole on the
            // socket (TP_STATUS_COPY); take_frames() picks them up.
            socket::setsockopt(fd, tp::SOL_PACKET, tp::PACKET_COPY_THRESH, &1i32)
                .map_err(opt_err("immediate: setsockopt(PACKET_COPY_THRESH)".into()))?;
            if cfg.rcvbuf == 0 {
                // Room for the copies: as much as the ring (best effort;
                // without CAP_NET_ADMIN the kernel caps SO_RCVBUF at
                // rmem_max).
                let ring = u64::from(cfg.block_size) * u64::from(cfg.block_count);
                let v = ring.min(i32::MAX as u64 / 2) as i32;
                if socket::setsockopt(fd, sol, so::SO_RCVBUFFORCE, &v).is_err() {
                    let _ = socket::setsockopt(fd, sol, libc::SO_RCVBUF, &v);
                }
            }
        }
        if cfg.rcvbuf > 0 {
            let v = cfg.rcvbuf as i32;
            let (name, what) = if cfg.rcvbuf_force {
                (so::SO_RCVBUFFORCE, "SO_RCVBUFFORCE")
            } else {
                (libc::SO_RCVBUF, "SO_RCVBUF")
            };
            socket::setsockopt(fd, sol, name, &v)
                .map_err(opt_err(format!("rcvbuf {v}: setsockopt({what})")))?;
        }
        Ok(())
    }

    fn timestamps(
        fd: &OwnedFd,
        ifname: &str,
        cfg: &CaptureConfig,
        info: &mut CaptureInfo,
    ) -> Result<()> {
        // Software timestamps taken when the frame arrives (not when it is
        // copied to the ring), which also makes the kernel flag them.
        socket::setsockopt(fd, libc::SOL_SOCKET, libc::SO_TIMESTAMPNS, &1i32)
            .map_err(opt_err("timestamp: setsockopt(SO_TIMESTAMPNS)".into()))?;
        let flag = match cfg.timestamp {
            TimestampSource::Software => return Ok(()),
            TimestampSource::HardwareSys => so::SOF_TIMESTAMPING_SYS_HARDWARE,
            TimestampSource::HardwareRaw => so::SOF_TIMESTAMPING_RAW_HARDWARE,
        };
        let refused = match so::set_hwtstamp(fd.as_raw_fd(), ifname) {
            Ok(applied) if applied.rx_filter != 0 => None,
            Ok(_) => Some(format!(
                "interface '{ifname}' accepted SIOCSHWTSTAMP but timestamps no received packets"
            )),
            Err(e) => Some(format!(
                "interface '{ifname}' has no hardware timestamping (SIOCSHWTSTAMP: {e})"
            )),
        };
        if let Some(why) = refused {
            if !cfg.timestamp_fallback {
                return Err(Error::new(
                    ErrorKind::Unsupported,
                    format!(
                        "timestamp {:?}: {why}; use software timestamps or allow the fallback",
                        cfg.timestamp
                    ),
                ));
            }
            info.tstamp_source = TimestampSource::Software;
            info.tstamp_fallback = true;
            info.warning = Some(format!(
                "timestamp {:?}: {why}; falling back to software timestamps",
                cfg.timestamp
            ));
            return Ok(());
        }
        socket::setsockopt(fd, tp::SOL_PACKET, tp::PACKET_TIMESTAMP, &flag).map_err(opt_err(
            format!(
                "timestamp {:?}: setsockopt(PACKET_TIMESTAMP)",
                cfg.timestamp
            ),
        ))?;
        info.tstamp_source = cfg.timestamp;
        Ok(())
    }

    /// Put a packet socket that is already bound and receiving (a
    /// capture's descriptor, or a duplicate of it) into fanout group `fo`;
    /// returns the group id the kernel reports. Meant for a socket that
    /// joins a group nobody else is in yet (with
    /// [`FanoutFlags::UNIQUE_ID`]): it keeps its filter, and the kernel
    /// swaps its own receive hook for the group's under one lock, so it
    /// sees every frame once. A socket joining a group that already has
    /// members is opened with [`CaptureConfig::fanout`] instead, which
    /// keeps it from seeing frames the group also delivers.
    ///
    /// With [`FanoutMode::Flow`] the second value is the membership: keep
    /// it while the socket is in the group; dropping it tells the group
    /// the socket is leaving (see [`FanoutMode::Flow`]).
    pub fn join_fanout(
        fd: &OwnedFd,
        ifname: &str,
        fo: &Fanout,
    ) -> Result<(u16, Option<FlowMembership>)> {
        if let FanoutMode::Flow(key) = fo.mode {
            let (id, gate) = gate::join(
                fd,
                fo,
                key,
                Here::now()?,
                || Self::fanout_join(fd, ifname, fo),
                || Ok(()),
            )?;
            let fd = fd
                .try_clone()
                .map_err(|e| Error::os("fanout flow mode: dup of the member's socket", e))?;
            return Ok((id, Some(FlowMembership { gate, fd })));
        }
        Self::fanout_join(fd, ifname, fo)?;
        Ok((Self::fanout_program(fd, fo)?, None))
    }

    /// `PACKET_FANOUT`: join (or create) the group.
    fn fanout_join(fd: &OwnedFd, ifname: &str, fo: &Fanout) -> Result<()> {
        let arg: u32 = u32::from(fo.group) | (u32::from(fo.mode.raw() | fo.flags.bits()) << 16);
        socket::setsockopt(fd, tp::SOL_PACKET, tp::PACKET_FANOUT, &arg).map_err(|e| {
            let why = match e.raw_os_error() {
                Some(libc::EINVAL) => {
                    "; a group with this id already exists with another mode or flags, \
                     on another interface, or the mode is unknown to this kernel"
                }
                Some(libc::EALREADY) => "; the socket is already in a group",
                Some(libc::ENOSPC) => "; the group is full",
                _ => "",
            };
            Error::os(
                format!(
                    "fanout group {} mode {} flags {:?} on '{ifname}': PACKET_FANOUT refused{why}",
                    fo.group,
                    fo.mode.name(),
                    fo.flags
                ),
                e,
            )
        })
    }

    /// The group's program (cbpf and ebpf modes; every member sets the
    /// same one), then the group id the kernel reports.
    fn fanout_program(fd: &OwnedFd, fo: &Fanout) -> Result<u16> {
        match &fo.mode {
            FanoutMode::Cbpf(p) => so::fanout_data_cbpf(fd, p).map_err(opt_err(
                "fanout cbpf program: PACKET_FANOUT_DATA refused".into(),
            ))?,
            FanoutMode::Ebpf(pfd) => {
                socket::setsockopt(fd, tp::SOL_PACKET, so::PACKET_FANOUT_DATA, pfd).map_err(
                    opt_err(format!(
                        "fanout ebpf program fd {pfd}: PACKET_FANOUT_DATA refused \
                 (not a socket-filter program?)"
                    )),
                )?
            }
            _ => {}
        }
        Self::fanout_id(fd)
    }

    /// The id of the fanout group socket `fd` is in, as the kernel reports
    /// it (the one it chose for [`FanoutFlags::UNIQUE_ID`]).
    pub(super) fn fanout_id(fd: &OwnedFd) -> Result<u16> {
        let (v, _) = socket::getsockopt::<u32>(fd.as_raw_fd(), tp::SOL_PACKET, tp::PACKET_FANOUT)
            .map_err(|e| Error::os("getsockopt(PACKET_FANOUT)", e))?;
        Ok(v as u16)
    }

    /// What the options became: fanout group joined, timestamp source after
    /// any fallback, and the warning that goes with a fallback.
    pub fn info(&self) -> &CaptureInfo {
        &self.info
    }

    /// Replace the socket's filter at run time with a classic program
    /// (`None`: detach it, capturing everything). The snap length and
    /// direction set at open time are not re-applied: pass the full program.
    pub fn set_filter(&mut self, prog: Option<&[BpfInsn]>) -> Result<()> {
        match prog {
            Some(p) => {
                check_program(p, "filter")?;
                Self::attach_filters(&self.fd, Some(p), None)
            }
            None => match so::detach_filter(&self.fd) {
                Ok(()) => Ok(()),
                Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(()),
                Err(e) => Err(Error::os("setsockopt(SO_DETACH_FILTER)", e)),
            },
        }
    }

    fn setup_ring(fd: &OwnedFd, cfg: &CaptureConfig) -> Result<(RingInfo, Mmap)> {
        let min_blocks = cfg.block_count.div_ceil(4).max(1);
        let mut blocks = cfg.block_count;
        loop {
            let req = tp::TpacketReq3 {
                tp_block_size: cfg.block_size,
                tp_block_nr: blocks,
                tp_frame_size: cfg.frame_size,
                tp_frame_nr: (cfg.block_size / cfg.frame_size) * blocks,
                tp_retire_blk_tov: cfg.block_timeout_ms,
                tp_sizeof_priv: 0,
                tp_feature_req_word: if cfg.fill_rxhash {
                    tp::TP_FT_REQ_FILL_RXHASH
                } else {
                    0
                },
            };
            let set = if cfg.immediate {
                let req = tp::TpacketReq {
                    tp_block_size: req.tp_block_size,
                    tp_block_nr: req.tp_block_nr,
                    tp_frame_size: req.tp_frame_size,
                    tp_frame_nr: req.tp_frame_nr,
                };
                socket::setsockopt(fd, tp::SOL_PACKET, tp::PACKET_RX_RING, &req)
            } else {
                socket::setsockopt(fd, tp::SOL_PACKET, tp::PACKET_RX_RING, &req)
            };
            match set {
                Ok(()) => break,
                Err(e) if e.raw_os_error() == Some(libc::ENOMEM) && blocks > min_blocks => {
                    blocks = (blocks * 3 / 4).max(min_blocks);
                }
                Err(e) if e.raw_os_error() == Some(libc::ENOMEM) => {
                    return Err(Error::new(
                        ErrorKind::NoMemory,
                        format!(
                            "the kernel could not allocate the ring: {} blocks x {} bytes ({} MiB) asked, \
                             down to {} blocks tried; use fewer or smaller blocks",
                            cfg.block_count,
                            cfg.block_size,
                            (u64::from(cfg.block_count) * u64::from(cfg.block_size)) >> 20,
                            blocks
                        ),
                    ));
                }
                Err(e) => {
                    return Err(Error::os(
                        format!(
                            "setsockopt(PACKET_RX_RING, {} blocks x {} bytes, frame {})",
                            blocks, cfg.block_size, cfg.frame_size
                        ),
                        e,
                    ));
                }
            }
        }
        let len = cfg.block_size as usize * blocks as usize;
        let map = Mmap::map(fd, len, cfg.lock_memory)
            .map_err(|e| Error::os(format!("mmap of the {} MiB ring", len >> 20), e))?;
        let info = RingInfo {
            block_size: cfg.block_size,
            block_count: blocks,
            block_count_requested: cfg.block_count,
            frame_size: cfg.frame_size,
            locked: map.locked(),
        };
        Ok((info, map))
    }

    /// The socket descriptor, for poll/epoll (readable when a block is ready).
    pub fn fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// Interface name.
    pub fn ifname(&self) -> &str {
        &self.ifname
    }

    /// Interface index.
    pub fn ifindex(&self) -> i32 {
        self.ifindex
    }

    /// The ring's real geometry.
    pub fn ring_info(&self) -> RingInfo {
        self.ring
    }

    /// A handle that stops waits from another thread or a signal handler.
    pub fn breaker(&self) -> Breaker {
        self.brk.clone()
    }

    /// The last validation failure seen in a block, if any.
    pub fn last_malformed(&self) -> Option<Malformed> {
        self.last_error
    }

    fn block_ptr(&self, idx: usize) -> *mut u8 {
        debug_assert!(idx < self.ring.block_count as usize);
        // SAFETY: idx < block_count, so the offset stays inside the mapping.
        unsafe { self.map.as_ptr().add(idx * self.ring.block_size as usize) }
    }

    /// The status word of block `idx` (of frame `idx` in immediate mode).
    #[inline(always)]
    fn status_word(&self, idx: usize) -> &AtomicU32 {
        let p = match &self.frames {
            None => {
                // SAFETY: block_status (offset 8) lies inside the block's
                // 48-byte descriptor, inside the live mapping.
                unsafe { self.block_ptr(idx).add(block_desc::BLOCK_STATUS) }
            }
            Some(fr) => self.frame_ptr(fr, idx).wrapping_add(v2_hdr::STATUS),
        };
        // SAFETY: blocks start page-aligned and frames at multiples of
        // frame_size (a multiple of 16) inside them, so the word is 4-byte
        // aligned and in bounds of the live mapping; it is shared with the
        // kernel, hence only accessed atomically.
        unsafe { &*(p as *const AtomicU32) }
    }

    /// The start of frame `idx` of the immediate-mode frame ring.
    #[inline(always)]
    fn frame_ptr(&self, fr: &FrameRing, idx: usize) -> *mut u8 {
        debug_assert!(idx < fr.count);
        let block = idx / fr.per_block;
        // SAFETY: idx < count = per_block * block_count, so block <
        // block_count, and (idx % per_block) * size + size <= block_size:
        // the frame lies inside the mapping.
        unsafe { self.block_ptr(block).add((idx % fr.per_block) * fr.size) }
    }

    /// The bytes of frame `idx` the user holds, and its offset in the ring.
    #[inline(always)]
    fn frame_bytes(&self, fr: &FrameRing, idx: usize) -> (&[u8], usize) {
        let p = self.frame_ptr(fr, idx);
        // SAFETY: only called for held frames, whose status was observed as
        // TP_STATUS_USER with Acquire: the kernel does not write to them
        // until give_back() stores TP_STATUS_KERNEL, so reading one as a
        // shared slice for the borrow of &self is sound; frame_ptr keeps it
        // inside the mapping.
        let bytes = unsafe { std::slice::from_raw_parts(p, fr.size) };
        (bytes, p as usize - self.map.as_ptr() as usize)
    }

    /// True in immediate mode (a TPACKET_V2 frame ring; see
    /// [`CaptureConfig::immediate`]).
    pub fn is_immediate(&self) -> bool {
        self.frames.is_some()
    }

    /// The bytes of a block the user holds.
    fn block_bytes(&self, idx: usize) -> &[u8] {
        // SAFETY: only called for the held block, whose status was observed
        // as TP_STATUS_USER with Acquire: the kernel does not write to it
        // until release() stores TP_STATUS_KERNEL, so reading it as a shared
        // slice for the borrow of &self is sound.
        unsafe { std::slice::from_raw_parts(self.block_ptr(idx), self.ring.block_size as usize) }
    }

    fn ready(&self) -> bool {
        self.status_word(self.cur).load(Ordering::Acquire) & tp::TP_STATUS_USER != 0
    }

    /// Re-check a down interface: gone → error; up again → leave down mode.
    fn check_link(&mut self) -> Result<()> {
        if self.ifindex == 0 {
            // open_any: bound to no interface, so none can go down or away.
            self.down = false;
            return Ok(());
        }
        let gone = || {
            Error::new(
                ErrorKind::InterfaceGone,
                format!(
                    "interface '{}' (index {}) was removed; close this capture",
                    self.ifname, self.ifindex
                ),
            )
        };
        match socket::bound_ifindex(self.fd()) {
            Ok(-1) => return Err(gone()),
            Ok(_) => {}
            Err(e) => return Err(Error::os("getsockname", e)),
        }
        match socket::if_flags(self.fd(), &self.ifname) {
            Ok(flags) => {
                if flags & libc::IFF_UP as u32 != 0 {
                    self.down = false;
                }
                Ok(())
            }
            Err(e) if e.raw_os_error() == Some(libc::ENODEV) => Err(gone()),
            Err(e) => Err(Error::os("ioctl(SIOCGIFFLAGS)", e)),
        }
    }

    /// Frames the kernel has put into the block at `cur`: when that block
    /// is not ready it is the one the kernel is filling, and its frames
    /// reach user space only when the kernel's retire timer hands it over.
    fn unretired_frames(&self) -> u32 {
        if self.frames.is_some() {
            // A frame ring hands every frame over as soon as it is written.
            return 0;
        }
        // SAFETY: the descriptor of block `cur` lies inside the live
        // mapping (NUM_PKTS + 4 <= the 48-byte descriptor <= block_size);
        // the u32 is 4-byte aligned (blocks are page-aligned) and the
        // kernel may be writing it, so it is only read atomically.
        let n =
            unsafe { &*(self.block_ptr(self.cur).add(block_desc::NUM_PKTS) as *const AtomicU32) };
        n.load(Ordering::Relaxed)
    }

    /// [`Capture::check_link`], except that a removal is reported only once
    /// every frame the kernel took has been handed out: while the block the
    /// kernel was filling still holds frames, the capture keeps waiting for
    /// the retire timer to hand it over (as for a down link), at most
    /// [`Capture::removal_bound`] after the removal was first seen.
    fn check_link_or_drain(&mut self) -> Result<()> {
        match self.check_link() {
            Err(e) if e.kind() == ErrorKind::InterfaceGone => {
                let now = Instant::now();
                let until = *self.drain_until.get_or_insert(now + self.retire_bound);
                // A block that became ready meanwhile is handed out by the
                // wait loop first: the error comes on a later call.
                if self.ready() || (now < until && self.unretired_frames() > 0) {
                    Ok(())
                } else {
                    Err(e)
                }
            }
            other => other,
        }
    }

    /// The longest time from the removal of the interface (as the capture
    /// first sees it) to the `InterfaceGone` error: the capture waits that
    /// long at most for the kernel to hand over a partly filled block
    /// (twice the block timeout, plus 100 ms of slack; with a block
    /// timeout of 0 the kernel chooses it and 1 s is assumed). With no
    /// frame left in the ring the error comes at once.
    pub fn removal_bound(&self) -> Duration {
        self.retire_bound
    }

    /// Immediate mode with `busy_poll_us`: look at the ring without
    /// sleeping until a frame is there or a break is asked (true: the
    /// wait's loop takes either), or for `spin` within `remaining` (false).
    fn spin_until_ready(&self, remaining: Option<Duration>) -> bool {
        let until = Instant::now() + remaining.map_or(self.spin, |r| r.min(self.spin));
        loop {
            for _ in 0..64 {
                if self.ready() || self.brk.pending() {
                    return true;
                }
                std::hint::spin_loop();
            }
            if Instant::now() >= until {
                return false;
            }
        }
    }

    /// Immediate mode, the ring found empty on a busy link: nap up to
    /// [`COALESCE`] (within `remaining`) on the wake-up fd. True if it
    /// napped; the caller then re-checks the ring. The nap keeps the link
    /// counted as busy only if frames arrived during it.
    fn coalesce(&mut self, remaining: Option<Duration>) -> Result<bool> {
        match &self.frames {
            Some(fr) if fr.busy >= BUSY_WAITS && !self.down => {}
            _ => return Ok(false),
        }
        let nap = remaining.map_or(COALESCE, |r| r.min(COALESCE));
        let mut fds = [socket::pollin(self.brk.fd())];
        crate::sys::xdp::ppoll_ns(&mut fds, nap.as_nanos() as u64)
            .map_err(|e| Error::os("ppoll", e))?;
        if fds[0].revents & libc::POLLIN != 0 {
            self.brk.drain();
        }
        if !self.ready() {
            if let Some(fr) = self.frames.as_mut() {
                fr.busy = 0;
            }
        }
        Ok(true)
    }

    /// Immediate mode: count a blocking wait that lasted `waited` and ended
    /// with the ring ready (see [`BUSY_WAITS`]).
    fn note_wait(&mut self, waited: Duration) {
        let ready = self.ready();
        if let Some(fr) = self.frames.as_mut() {
            fr.busy = if ready && waited < BUSY_WAIT {
                fr.busy.saturating_add(1)
            } else {
                0
            };
        }
    }

    fn wait(&mut self, timeout: Option<Duration>) -> Result<Wait<()>> {
        let deadline = Deadline::after(timeout);
        // At most one nap per wait (then the socket is waited on).
        let mut may_nap = self.frames.is_some();
        loop {
            if self.brk.take() {
                return Ok(Wait::Interrupted);
            }
            if self.ready() {
                return Ok(Wait::Ready(()));
            }
            if self.down {
                self.check_link_or_drain()?;
            }
            if deadline.expired() {
                return Ok(if self.down {
                    Wait::InterfaceDown
                } else {
                    Wait::Timeout
                });
            }
            let remaining = deadline.remaining();
            if !self.spin.is_zero() && !self.down {
                if self.spin_until_ready(remaining) {
                    continue;
                }
                if deadline.expired() {
                    continue;
                }
            }
            if may_nap {
                may_nap = false;
                if self.coalesce(remaining)? {
                    continue;
                }
            }
            let mut fds = [socket::pollin(self.brk.fd()), socket::pollin(self.fd())];
            // While the interface is down the socket may report POLLERR
            // again and again: wait on the wake-up fd only, in slices, and
            // re-check the link (and the ring: a block may still retire).
            let (n, ms) = if self.down {
                // Draining a removed interface's last block: look often,
                // the retire timer hands it over within milliseconds.
                let slice = if self.drain_until.is_some() {
                    DRAIN_SLICE
                } else {
                    Duration::from_millis(100)
                };
                (
                    1,
                    socket::poll_ms(Some(remaining.map_or(slice, |r| r.min(slice)))),
                )
            } else {
                (2, socket::poll_ms(remaining))
            };
            let slept = (self.frames.is_some() && n == 2).then(Instant::now);
            socket::poll(&mut fds[..n], ms).map_err(|e| Error::os("poll", e))?;
            if let Some(t) = slept {
                self.note_wait(t.elapsed());
            }
            if fds[0].revents & libc::POLLIN != 0 {
                // Drain before re-checking the flag at the top of the loop, so
                // a late write cannot leave the eventfd readable (a spin).
                self.brk.drain();
                continue;
            }
            if n == 2 && fds[1].revents & (libc::POLLERR | libc::POLLHUP | libc::POLLNVAL) != 0 {
                self.on_socket_error()?;
            }
        }
    }

    #[cold]
    fn on_socket_error(&mut self) -> Result<()> {
        let err = socket::take_socket_error(self.fd())
            .map_err(|e| Error::os("getsockopt(SO_ERROR)", e))?;
        match err {
            0 => {
                // POLLERR without a pending error: treat like a down link so
                // the next waits cannot spin.
                self.down = true;
                self.check_link_or_drain()
            }
            libc::ENETDOWN => {
                self.down = true;
                self.check_link_or_drain()
            }
            e => Err(Error::os(
                format!("capture on '{}'", self.ifname),
                io::Error::from_raw_os_error(e),
            )),
        }
    }

    /// Take the run of ready frames from `cur` (the frame at `cur` is
    /// ready), at most `run_max`; count it. Its header: the number of
    /// frames and the batch sequence number.
    fn take_frames(&mut self) -> BlockHeader {
        let Some(mut fr) = self.frames else {
            return BlockHeader::default();
        };
        let mut n = 1;
        if self.status_word(self.cur).load(Ordering::Relaxed) & tp::TP_STATUS_COPY != 0 {
            self.take_copy(&fr);
        } else {
            let mut idx = self.cur;
            while n < fr.run_max {
                idx += 1;
                if idx == fr.count {
                    idx = 0;
                }
                // A copied frame is a batch of its own (take_copy).
                let st = self.status_word(idx).load(Ordering::Acquire);
                if st & tp::TP_STATUS_USER == 0 || st & tp::TP_STATUS_COPY != 0 {
                    break;
                }
                n += 1;
            }
        }
        fr.batches += 1;
        self.frames = Some(fr);
        self.total.blocks += 1;
        self.total.delivered += n as u64;
        BlockHeader {
            num_pkts: n as u32,
            first: 0,
            seq: fr.batches,
        }
    }

    /// The held frame at `cur` was cut to the frame size and its whole
    /// packet queued on the socket (`TP_STATUS_COPY`): take that copy, the
    /// kernel queues them in frame order. Kept in `copied` up to the snap
    /// length; if the queue is empty (it cannot be for a copied frame) the
    /// frame is read as it is, cut.
    #[cold]
    fn take_copy(&mut self, fr: &FrameRing) {
        if self.copied.len() < fr.snaplen {
            self.copied.resize(fr.snaplen, 0);
        }
        self.copied_len = socket::recv_trunc(self.fd.as_raw_fd(), &mut self.copied)
            .ok()
            .map(|n| n.min(fr.snaplen));
    }

    /// Frame `i` of the held run (`i < held_hdr.num_pkts`), or the copy
    /// of its whole packet (see [`Capture::take_copy`]).
    #[inline(always)]
    fn held_frame(&self, fr: &FrameRing, i: u32) -> std::result::Result<Packet<'_>, Malformed> {
        let mut idx = self.cur + i as usize;
        if idx >= fr.count {
            idx -= fr.count;
        }
        let (bytes, at) = self.frame_bytes(fr, idx);
        match self.copied_len {
            Some(n) => frame::parse_copied(bytes, at, &self.copied[..n]),
            None => frame::parse_frame(bytes, at),
        }
    }

    /// Take the ready block at `cur`: validate its descriptor, count it.
    fn take_block(&mut self) -> BlockHeader {
        if self.vlan_reinsert {
            // SAFETY: the block at cur was observed as TP_STATUS_USER: the
            // kernel does not touch it until release, and no other view of it
            // is alive (take_block runs before any packet is handed out).
            let block = unsafe {
                std::slice::from_raw_parts_mut(
                    self.block_ptr(self.cur),
                    self.ring.block_size as usize,
                )
            };
            // A malformed block is reported by the walk that follows.
            let _ = super::vlan::reinsert_block(block);
        }
        let hdr = match block_header(self.block_bytes(self.cur)) {
            Ok(h) => h,
            Err(m) => {
                self.note_malformed(m);
                BlockHeader {
                    num_pkts: 0,
                    first: 0,
                    seq: 0,
                }
            }
        };
        if let Some(last) = self.last_seq {
            if hdr.seq != last.wrapping_add(1) && hdr.seq != 0 {
                self.total.seq_gaps += 1;
            }
        }
        if hdr.seq != 0 {
            self.last_seq = Some(hdr.seq);
        }
        self.total.blocks += 1;
        self.total.delivered += u64::from(hdr.num_pkts);
        hdr
    }

    fn note_malformed(&mut self, m: Malformed) {
        self.total.malformed += 1;
        self.last_error = Some(m);
    }

    /// Give the held block (frames) back to the kernel.
    fn give_back(&mut self) {
        if let Some(fr) = self.frames {
            for _ in 0..self.held_hdr.num_pkts {
                self.status_word(self.cur)
                    .store(tp::TP_STATUS_KERNEL, Ordering::Release);
                self.cur += 1;
                if self.cur == fr.count {
                    self.cur = 0;
                }
            }
            self.held = false;
            self.pkt_cursor = None;
            self.copied_len = None;
            return;
        }
        self.status_word(self.cur)
            .store(tp::TP_STATUS_KERNEL, Ordering::Release);
        self.cur = (self.cur + 1) % self.ring.block_count as usize;
        self.held = false;
        self.pkt_cursor = None;
    }

    /// Give the block held by [`Capture::next_packet`] back to the kernel
    /// now if its last packet has been handed out (libpcap returns a block
    /// as soon as it is consumed; otherwise it goes back on the next call).
    /// The packet last returned must no longer be used.
    pub fn release_consumed(&mut self) {
        if self.pkt_cursor.is_some_and(|c| c.is_done()) {
            self.give_back();
        }
    }

    /// Wait up to `timeout` (`None`: no limit) for the next block and hold
    /// it: the acquiring half of the held batch ([`HeldBatch`] walks and
    /// releases it). `ErrorKind::Busy` while a batch is already held; a
    /// block held by [`Capture::next_packet`] is released first.
    pub fn acquire(&mut self, timeout: Option<Duration>) -> Result<Wait<()>> {
        if self.held {
            if self.pkt_cursor.is_none() {
                return Err(busy());
            }
            self.give_back();
        }
        let w = self.wait(timeout)?;
        if let Wait::Ready(()) = w {
            self.held_hdr = if self.frames.is_some() {
                self.take_frames()
            } else {
                self.take_block()
            };
            self.held = true;
        }
        Ok(w)
    }

    /// The next batch (one ring block), waiting up to the configured
    /// `poll_timeout`.
    pub fn next_batch(&mut self) -> Result<Wait<Batch<'_>>> {
        self.next_batch_timeout(Some(self.poll_timeout))
    }

    /// The next batch, waiting up to `timeout` (`None`: no limit). The block
    /// goes back to the kernel when the [`Batch`] is dropped.
    pub fn next_batch_timeout(&mut self, timeout: Option<Duration>) -> Result<Wait<Batch<'_>>> {
        Ok(self.acquire(timeout)?.map(|()| Batch { cap: self }))
    }

    /// The next packet, one at a time (libpcap's `pcap_next_ex` shape): a
    /// convenience over the held batch ([`Capture::acquire`], then
    /// [`HeldBatch::walk_held`] one packet per call with a [`Cursor`] kept
    /// here). The packet's block is held until a later call moves past it
    /// (or [`Capture::release_consumed`]). Waits up to `timeout` (`None`:
    /// no limit). `ErrorKind::Busy` while a batch acquired by the caller is
    /// held. A malformed block is counted in the statistics (and
    /// [`Capture::last_malformed`]); its packets before the fault are
    /// returned, the rest skipped.
    pub fn next_packet(&mut self, timeout: Option<Duration>) -> Result<Wait<Packet<'_>>> {
        loop {
            if self.held {
                let Some(mut cursor) = self.pkt_cursor else {
                    return Err(busy());
                };
                let mut got = None;
                // A malformed block is counted by the walk; the packets
                // before the fault were returned, the rest is skipped.
                let _ = self.walk_held(&mut cursor, |p| {
                    // SAFETY: p points into the held block of the live
                    // mapping; the block is given back only through &mut
                    // self, so the view stays valid for the borrow of self
                    // returned below.
                    got = Some(unsafe { extend(*p) });
                    false
                });
                self.pkt_cursor = Some(cursor);
                if let Some(p) = got {
                    return Ok(Wait::Ready(p));
                }
                self.give_back();
            }
            match self.acquire(timeout)? {
                Wait::Ready(()) => self.pkt_cursor = Some(Cursor::START),
                Wait::Timeout => return Ok(Wait::Timeout),
                Wait::Interrupted => return Ok(Wait::Interrupted),
                Wait::InterfaceDown => return Ok(Wait::InterfaceDown),
            }
        }
    }

    /// Lifetime statistics and the change since the previous call of
    /// this function (see [`crate::stats`]).
    pub fn stats_with_delta(&mut self) -> Result<(CaptureStats, CaptureStats)> {
        let now = self.stats()?;
        Ok(self.reported.report(now))
    }

    /// Lifetime statistics. Reads the kernel's counters (which reset on
    /// every read) into netring's 64-bit totals.
    pub fn stats(&mut self) -> Result<CaptureStats> {
        // A TPACKET_V2 ring answers with the 8-byte `tpacket_stats`, the
        // head of `tpacket_stats_v3`: the freeze count then stays 0.
        let (st, _) = socket::getsockopt::<tp::TpacketStatsV3>(
            self.fd(),
            tp::SOL_PACKET,
            tp::PACKET_STATISTICS,
        )
        .map_err(|e| Error::os("getsockopt(PACKET_STATISTICS)", e))?;
        // tp_packets already includes tp_drops.
        self.total.packets += u64::from(st.tp_packets.saturating_sub(st.tp_drops));
        self.total.drops += u64::from(st.tp_drops);
        self.total.freezes += u64::from(st.tp_freeze_q_cnt);
        Ok(self.total)
    }
}

/// Extend a packet view to an unrelated lifetime.
///
/// # Safety
/// The caller guarantees the memory stays valid and unwritten for `'b`.
unsafe fn extend<'a, 'b>(p: Packet<'a>) -> Packet<'b> {
    // SAFETY: guaranteed by the caller; Packet's only borrow is `data`.
    Packet {
        data: unsafe { std::slice::from_raw_parts(p.data.as_ptr(), p.data.len()) },
        ..p
    }
}

/// One ring block held by the user: a batch of packets, zero copy. The block
/// goes back to the kernel when the batch is dropped.
#[derive(Debug)]
pub struct Batch<'a> {
    cap: &'a mut Capture,
}

impl Batch<'_> {
    /// Number of packets the kernel put in this block.
    pub fn len(&self) -> usize {
        self.cap.held_hdr.num_pkts as usize
    }

    /// True if the block holds no packets.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The kernel's sequence number of this block.
    pub fn seq(&self) -> u64 {
        self.cap.held_hdr.seq
    }

    /// Iterate the packets. A malformed block (frame) ends the iteration
    /// early; [`BatchIter::error`] says why (it is not counted in the
    /// statistics: [`Batch::for_each`] does that).
    pub fn iter(&self) -> BatchIter<'_> {
        BatchIter(match self.cap.frames {
            None => IterKind::Block(PacketIter::new(self.cap.block_bytes(self.cap.cur))),
            Some(_) => IterKind::Frames {
                cap: self.cap,
                next: 0,
                error: None,
            },
        })
    }

    /// Call `f` for each packet until it returns `false`; returns the number
    /// of packets visited. A malformed block is counted in the statistics.
    pub fn for_each(&mut self, mut f: impl FnMut(&Packet<'_>) -> bool) -> usize {
        let mut n = 0;
        let _ = self.cap.walk_held(&mut Cursor::default(), |p| {
            n += 1;
            f(p)
        });
        n
    }
}

/// The packets of a [`Batch`] ([`Batch::iter`]).
#[derive(Debug, Clone)]
pub struct BatchIter<'a>(IterKind<'a>);

#[derive(Debug, Clone)]
enum IterKind<'a> {
    Block(PacketIter<'a>),
    Frames {
        cap: &'a Capture,
        next: u32,
        error: Option<Malformed>,
    },
}

impl BatchIter<'_> {
    /// The reason the iteration stopped early, if it did.
    pub fn error(&self) -> Option<Malformed> {
        match &self.0 {
            IterKind::Block(it) => it.error(),
            IterKind::Frames { error, .. } => *error,
        }
    }
}

impl<'a> Iterator for BatchIter<'a> {
    type Item = Packet<'a>;

    fn next(&mut self) -> Option<Packet<'a>> {
        match &mut self.0 {
            IterKind::Block(it) => it.next(),
            IterKind::Frames { cap, next, error } => {
                let cap: &'a Capture = cap;
                let fr = cap.frames.as_ref()?;
                if error.is_some() || *next >= cap.held_hdr.num_pkts {
                    return None;
                }
                let p = cap.held_frame(fr, *next);
                *next += 1;
                match p {
                    Ok(p) => Some(p),
                    Err(m) => {
                        *error = Some(m);
                        None
                    }
                }
            }
        }
    }
}

impl Drop for Batch<'_> {
    fn drop(&mut self) {
        self.cap.give_back();
    }
}

impl HeldBatch for Capture {
    fn is_held(&self) -> bool {
        self.held
    }

    fn held_len(&self) -> usize {
        if self.is_held() {
            self.held_hdr.num_pkts as usize
        } else {
            0
        }
    }

    fn held_seq(&self) -> u64 {
        if self.is_held() { self.held_hdr.seq } else { 0 }
    }

    fn held_raw_block(&self) -> Option<RawBlock<'_>> {
        if !self.is_held() || self.frames.is_some() {
            return None;
        }
        Some(RawBlock {
            bytes: self.block_bytes(self.cur),
            first: self.held_hdr.first,
            num_pkts: self.held_hdr.num_pkts,
        })
    }

    #[inline(always)]
    fn walk_held<F>(&mut self, cursor: &mut Cursor, f: F) -> Result<Walk>
    where
        F: FnMut(&Packet<'_>) -> bool,
    {
        if !self.is_held() {
            return Ok(Walk::Done);
        }
        let hdr = self.held_hdr;
        if let Some(fr) = &self.frames {
            let packet_at = |i: u32| self.held_frame(fr, i);
            return match frame::walk_frames(packet_at, hdr.num_pkts, cursor, f) {
                Ok(w) => Ok(w),
                Err(m) => {
                    self.note_malformed(m);
                    Err(frame::malformed_error(m))
                }
            };
        }
        match super::block::walk_block(self.block_bytes(self.cur), &hdr, cursor, f) {
            Ok(w) => Ok(w),
            Err(m) => {
                self.note_malformed(m);
                Err(super::block::malformed_error(m))
            }
        }
    }

    fn release_held(&mut self) -> Result<()> {
        if !self.held {
            return Err(not_held());
        }
        self.give_back();
        Ok(())
    }
}
