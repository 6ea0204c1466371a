//! `nr_capture`: AF_PACKET TPACKET_V3 capture.

use std::cell::UnsafeCell;
use std::ffi::{c_char, c_int};
use std::mem::{offset_of, size_of};
use std::ptr;

use super::arg::{self, CEnum, Out, StatsOut};
use super::batch::{self, nr_batch, nr_packet};
use super::config;
use super::handle;
use super::{NR_OK, boundary, c_str, guard, null_arg};
use crate::afpacket::{
    BpfInsn, Breaker, Capture, CaptureConfig, CaptureDirection, CaptureStats, Fanout, FanoutFlags,
    FanoutMode, Profile, TimestampSource, Wait,
};
use crate::error::Error;

const MAGIC: u64 = 0x6e72_5f63_6170_7475; // "nr_captu"

/// Capture configuration. Initialise it with NR_CAPTURE_CONFIG_INIT(&cfg)
/// (or nr_capture_config_init(&cfg, sizeof cfg)), change the fields you
/// need, pass it to nr_capture_open(). Every value is checked at open time;
/// a bad one fails with NR_E_CONFIG and a message naming the field.
///
/// Extensible: `size` tells the library how much of the struct the caller
/// knows. New fields are only ever appended; a program built against an
/// older header keeps working (missing fields take their defaults).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct nr_capture_config {
    /// sizeof(nr_capture_config) as the caller compiled it; set by
    /// NR_CAPTURE_CONFIG_INIT.
    pub size: usize,
    /// Bytes per ring block: a power of two and a multiple of the page size.
    /// Default 4194304 (4 MiB).
    pub block_size: u32,
    /// Number of blocks. Default 64 (a 256 MiB ring). On ENOMEM the library
    /// retries with fewer blocks, down to a quarter; nr_capture_get_info()
    /// tells what was allocated.
    pub block_count: u32,
    /// Frame size for the kernel's frame accounting: a multiple of 16, at
    /// least 80, at most block_size. Default 2048. (V3 blocks hold frames
    /// of any length up to the block size.)
    pub frame_size: u32,
    /// Milliseconds after which the kernel hands over a partly filled block:
    /// the worst-case latency at low rates. 1..65535, 0 = kernel's choice.
    /// Default 60.
    pub block_timeout_ms: u32,
    /// Bytes of each frame to capture, 1..262144. Default 262144. Smaller
    /// values set NR_PACKET_FLAG_TRUNCATED on longer frames (caplen < len).
    pub snaplen: u32,
    /// Promiscuous mode while the capture is open (CAP_NET_ADMIN). Default true.
    pub promiscuous: bool,
    /// Skip frames this host sends (PACKET_IGNORE_OUTGOING). Default false.
    pub ignore_outgoing: bool,
    /// Fill nr_packet.rxhash (costs ~9 % kernel throughput). Default false.
    pub fill_rxhash: bool,
    /// Try to lock the ring in memory (MAP_LOCKED); falls back silently to an
    /// unlocked ring, see nr_ring_info.locked. Default true.
    pub lock_memory: bool,
    /// Classic BPF filter: `filter_len` instructions (as `tcpdump -dd`
    /// prints them), copied at open; attached before the socket is bound,
    /// so frames that fail it are never captured nor counted. NULL = none.
    /// Combined with snaplen (every return value is clamped) and direction.
    /// Default NULL.
    pub filter: *const nr_bpf_insn,
    /// Number of instructions at `filter` (1..4096). Default 0.
    pub filter_len: usize,
    /// eBPF socket-filter program fd (SO_ATTACH_BPF); the caller keeps the fd.
    /// -1 = none. Not with `filter`, NR_DIRECTION_OUT or snaplen < 262144
    /// (NR_E_CONFIG). Default -1.
    pub ebpf_filter_fd: c_int,
    /// nr_fanout_flag bits (NR_FANOUT_FLAG_*), OR-ed. Default 0.
    pub fanout_flags: u32,
    /// Fanout group id; must be 0 with NR_FANOUT_FLAG_UNIQUEID (the kernel
    /// chooses, read it back with nr_capture_get_info()). Default 0.
    pub fanout_group: u16,
    /// An nr_fanout_mode; NR_FANOUT_NONE (0) joins no group. While the group
    /// is not yet joined a reject-all filter is attached, so the socket sees
    /// no frame meant for another member (no frame is ever seen twice). In
    /// the kernel's modes a member joining under traffic can miss the few
    /// frames the kernel steers to it between the join and the replacement
    /// of that filter, one system call later; NR_FANOUT_FLOW closes that
    /// window. Default NR_FANOUT_NONE.
    pub fanout_mode: u8,
    /// An nr_direction: NR_DIRECTION_INOUT (default), NR_DIRECTION_IN (PACKET_IGNORE_OUTGOING)
    /// or NR_DIRECTION_OUT (a classic filter on the packet type).
    pub direction: u8,
    /// Program fd for NR_FANOUT_EBPF (returns the socket index); the caller
    /// keeps the fd. Default -1.
    pub fanout_prog_fd: c_int,
    /// Classic program for NR_FANOUT_CBPF (returns the socket index),
    /// copied at open. Default NULL.
    pub fanout_cbpf: *const nr_bpf_insn,
    /// Instructions at `fanout_cbpf`. Default 0.
    pub fanout_cbpf_len: usize,
    /// SO_BUSY_POLL in microseconds; 0 = off. In immediate mode the wait
    /// (nr_next_batch(), nr_next_packet()) also spins on the ring up to
    /// this long before it sleeps: a frame that comes meanwhile is handed
    /// over without a wake-up (a few microseconds instead of the
    /// scheduler's tens), for the price of a core spinning while the link
    /// is idle. A timeout shorter than the spin, and
    /// nr_capture_breakloop(), end it. Default 0.
    pub busy_poll_us: u32,
    /// Socket receive buffer (SO_RCVBUF, or SO_RCVBUFFORCE with
    /// rcvbuf_force); 0 = kernel default. Default 0.
    pub rcvbuf: u32,
    /// SO_BUSY_POLL_BUDGET; 0 = kernel default. Default 0.
    pub busy_poll_budget: u16,
    /// An nr_tstamp_source: NR_TSTAMP_SOFTWARE (default), NR_TSTAMP_HW_SYS or NR_TSTAMP_HW_RAW
    /// (SIOCSHWTSTAMP + PACKET_TIMESTAMP). Each packet says where its
    /// timestamp came from (NR_PACKET_FLAG_TS_* flags).
    pub tstamp: u8,
    /// With a hardware tstamp the device cannot provide: true (default)
    /// falls back to software timestamps and reports it in
    /// nr_capture_info.tstamp_fallback and .warning; false fails the open
    /// with NR_E_UNSUPPORTED.
    pub tstamp_fallback: bool,
    /// SO_PREFER_BUSY_POLL. Default false.
    pub prefer_busy_poll: bool,
    /// SO_REUSEPORT. Default false.
    pub reuseport: bool,
    /// Set rcvbuf with SO_RCVBUFFORCE (CAP_NET_ADMIN). Default false.
    pub rcvbuf_force: bool,
    /// PACKET_LOSS. Default false.
    pub packet_loss: bool,
    /// Re-insert the VLAN tag the kernel stripped into the frame data
    /// (in place, using 4 bytes of PACKET_RESERVE room): data/caplen/len then
    /// describe the tagged frame; vlan_tci and NR_PACKET_FLAG_VLAN_VALID stay set.
    /// Default false.
    pub vlan_reinsert: bool,
    /// Must be zero.
    pub reserved: [u8; 7],
    /// Network namespace to open the capture in: a name under /run/netns
    /// (as `ip netns add` makes) or an absolute path; NULL = the calling
    /// thread's. The thread switches only while the socket is created and
    /// the interface looked up (needs CAP_SYS_ADMIN). Copied at open.
    /// Default NULL.
    pub netns: *const c_char,
    /// Immediate mode (libpcap's pcap_set_immediate_mode): each frame is
    /// handed over as soon as the kernel has written it, instead of when
    /// its ring block is full or block_timeout_ms retires it. The ring is
    /// then a TPACKET_V2 frame ring (a status word per frame, as libpcap's
    /// immediate mode) of block_size / frame_size * block_count frames, one
    /// packet each. A frame longer than frame_size minus the 66-byte header
    /// room (Ethernet) still arrives whole up to snaplen: the kernel also
    /// queues it on the socket (PACKET_COPY_THRESH) and the capture hands
    /// that copy over as a batch of one (a system call each: size frames
    /// for what the link carries, the MTU plus 18, and leave GSO/GRO
    /// aggregates to the copy). With rcvbuf 0 the socket's receive buffer
    /// is raised to the ring's size for them (SO_RCVBUFFORCE, else up to
    /// rmem_max); a copy that finds it full is truncated to the frame
    /// (NR_PACKET_FLAG_TRUNCATED). A batch is the run of frames ready when
    /// it was taken (at most 512). block_timeout_ms is
    /// unused; fill_rxhash and vlan_reinsert are refused (NR_E_CONFIG).
    /// On a busy link (four waits in a row ended by a frame within 50 µs)
    /// a wait naps 30 µs before sleeping on the socket, so one wake-up takes
    /// every frame that arrived meanwhile (the kernel wakes a reader of this
    /// ring per frame): less CPU per packet at high rates, at most that much
    /// more latency while the link is busy, none when traffic is sparse.
    /// Default false.
    pub immediate: bool,
    /// Must be zero.
    pub reserved2: [u8; 7],
}

/// A classic BPF instruction, layout-identical to the kernel's struct
/// sock_filter (what `tcpdump -dd` prints as { code, jt, jf, k }).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct nr_bpf_insn {
    /// Opcode.
    pub code: u16,
    /// Jump offset if true.
    pub jt: u8,
    /// Jump offset if false.
    pub jf: u8,
    /// Generic field (constant, offset, ...).
    pub k: u32,
}

impl From<&nr_bpf_insn> for BpfInsn {
    fn from(i: &nr_bpf_insn) -> BpfInsn {
        BpfInsn {
            code: i.code,
            jt: i.jt,
            jf: i.jf,
            k: i.k,
        }
    }
}

impl From<&BpfInsn> for nr_bpf_insn {
    fn from(i: &BpfInsn) -> nr_bpf_insn {
        nr_bpf_insn {
            code: i.code,
            jt: i.jt,
            jf: i.jf,
            k: i.k,
        }
    }
}

/// Which frames a capture sees (nr_capture_config.direction).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum nr_direction {
    /// nr_capture_config.direction: received and sent frames.
    NR_DIRECTION_INOUT = 0,
    /// nr_capture_config.direction: received frames only.
    NR_DIRECTION_IN = 1,
    /// nr_capture_config.direction: frames this host sends only.
    NR_DIRECTION_OUT = 2,
}

arg::c_enum!(nr_direction as u8 => CaptureDirection {
    NR_DIRECTION_INOUT = Both,
    NR_DIRECTION_IN = In,
    NR_DIRECTION_OUT = Out,
});

/// Fanout group modes (nr_capture_config.fanout_mode).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum nr_fanout_mode {
    /// nr_capture_config.fanout_mode: no fanout group.
    NR_FANOUT_NONE = 0,
    /// Fanout by flow hash: a flow stays on one socket.
    NR_FANOUT_HASH = 1,
    /// Fanout round robin.
    NR_FANOUT_LB = 2,
    /// Fanout by receiving CPU.
    NR_FANOUT_CPU = 3,
    /// Fanout: fill one socket, then the next.
    NR_FANOUT_ROLLOVER = 4,
    /// Fanout at random.
    NR_FANOUT_RANDOM = 5,
    /// Fanout by recorded receive queue.
    NR_FANOUT_QM = 6,
    /// Fanout by a classic BPF program (nr_capture_config.fanout_cbpf).
    NR_FANOUT_CBPF = 7,
    /// Fanout by an eBPF program (nr_capture_config.fanout_prog_fd).
    NR_FANOUT_EBPF = 8,
    /// Fanout by netring's symmetric flow hash (IP addresses, and the ports
    /// of TCP, UDP, UDP-Lite and SCTP: both directions of a flow on one
    /// socket), with members that join exactly once: a socket joining
    /// under traffic receives frames from the moment its filter is in
    /// place, none before, and no frame is lost in its join or seen by
    /// two members. Every member of the group must use this mode. The
    /// joins of a group are serialised by a lock file in /run/netring and
    /// count the group's members with NETLINK_SOCK_DIAG (the kernel's
    /// packet_diag module; without it the open fails with NR_E_SYSTEM and a
    /// message naming packet_diag). A member that leaves
    /// (nr_capture_close) hands its share to the others; one that dies
    /// without closing leaves the first member a double share until the
    /// next join.
    NR_FANOUT_FLOW = 9,
}

arg::c_enum!(nr_fanout_mode as u8 {
    NR_FANOUT_NONE,
    NR_FANOUT_HASH,
    NR_FANOUT_LB,
    NR_FANOUT_CPU,
    NR_FANOUT_ROLLOVER,
    NR_FANOUT_RANDOM,
    NR_FANOUT_QM,
    NR_FANOUT_CBPF,
    NR_FANOUT_EBPF,
    NR_FANOUT_FLOW,
});

/// Fanout flags, OR-ed together (nr_capture_config.fanout_flags).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum nr_fanout_flag {
    /// Fanout flag: move packets to another socket when the chosen one is full.
    NR_FANOUT_FLAG_ROLLOVER = 1,
    /// Fanout flag: reassemble IP fragments before hashing.
    NR_FANOUT_FLAG_DEFRAG = 2,
    /// Fanout flag: the kernel chooses an unused group id (fanout_group must be 0).
    NR_FANOUT_FLAG_UNIQUEID = 4,
    /// Fanout flag: do not fan out frames this host sends.
    NR_FANOUT_FLAG_IGNORE_OUTGOING = 8,
}

arg::c_enum!(nr_fanout_flag as u32 {
    NR_FANOUT_FLAG_ROLLOVER,
    NR_FANOUT_FLAG_DEFRAG,
    NR_FANOUT_FLAG_UNIQUEID,
    NR_FANOUT_FLAG_IGNORE_OUTGOING,
});

/// Timestamp sources (nr_capture_config.tstamp).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum nr_tstamp_source {
    /// nr_capture_config.tstamp: the kernel's software timestamp.
    NR_TSTAMP_SOFTWARE = 0,
    /// nr_capture_config.tstamp: hardware timestamp in system time.
    NR_TSTAMP_HW_SYS = 1,
    /// nr_capture_config.tstamp: raw hardware timestamp.
    NR_TSTAMP_HW_RAW = 2,
}

arg::c_enum!(nr_tstamp_source as u8 => TimestampSource {
    NR_TSTAMP_SOFTWARE = Software,
    NR_TSTAMP_HW_SYS = HardwareSys,
    NR_TSTAMP_HW_RAW = HardwareRaw,
});

/// Capture configuration profiles (nr_capture_config_apply_profile()).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum nr_profile {
    /// nr_capture_config_apply_profile(): 4 MiB x 64 blocks (256 MiB), frame 2048,
    /// block timeout 60 ms (the defaults).
    NR_PROFILE_DEFAULT = 0,
    /// 4 MiB x 128 blocks (512 MiB), frame 2048, block timeout 100 ms: one
    /// capture per core in a fanout group at 10G+.
    NR_PROFILE_HIGH_THROUGHPUT = 1,
    /// 256 KiB x 64 blocks (16 MiB), block timeout 1 ms, busy polling 50 us.
    NR_PROFILE_LOW_LATENCY = 2,
    /// 1 MiB x 16 blocks (16 MiB), block timeout 60 ms, ring not locked.
    NR_PROFILE_MEMORY_CONSTRAINED = 3,
    /// 8 MiB x 64 blocks (512 MiB), frame 16384, block timeout 60 ms: jumbo
    /// frames and GRO super-packets.
    NR_PROFILE_JUMBO = 4,
}

arg::c_enum!(nr_profile as c_int => Profile {
    NR_PROFILE_DEFAULT = Default,
    NR_PROFILE_HIGH_THROUGHPUT = HighThroughput,
    NR_PROFILE_LOW_LATENCY = LowLatency,
    NR_PROFILE_MEMORY_CONSTRAINED = MemoryConstrained,
    NR_PROFILE_JUMBO = Jumbo,
});

impl nr_capture_config {
    fn defaults() -> nr_capture_config {
        let d = CaptureConfig::default();
        nr_capture_config {
            size: size_of::<nr_capture_config>(),
            block_size: d.block_size,
            block_count: d.block_count,
            frame_size: d.frame_size,
            block_timeout_ms: d.block_timeout_ms,
            snaplen: d.snaplen,
            promiscuous: d.promiscuous,
            ignore_outgoing: d.ignore_outgoing,
            fill_rxhash: d.fill_rxhash,
            lock_memory: d.lock_memory,
            filter: ptr::null(),
            filter_len: 0,
            ebpf_filter_fd: -1,
            fanout_flags: 0,
            fanout_group: 0,
            fanout_mode: NR_FANOUT_NONE,
            direction: NR_DIRECTION_INOUT,
            fanout_prog_fd: -1,
            fanout_cbpf: ptr::null(),
            fanout_cbpf_len: 0,
            busy_poll_us: d.busy_poll_us,
            rcvbuf: d.rcvbuf,
            busy_poll_budget: d.busy_poll_budget,
            tstamp: NR_TSTAMP_SOFTWARE,
            tstamp_fallback: d.timestamp_fallback,
            prefer_busy_poll: d.prefer_busy_poll,
            reuseport: d.reuseport,
            rcvbuf_force: d.rcvbuf_force,
            packet_loss: d.packet_loss,
            vlan_reinsert: d.vlan_reinsert,
            reserved: [0; 7],
            netns: ptr::null(),
            immediate: d.immediate,
            reserved2: [0; 7],
        }
    }
}

// SAFETY: nr_capture_config is repr(C), begins with `size: usize`, and holds only
// integers, booleans and raw pointers.
unsafe impl config::CConfig for nr_capture_config {
    const NAME: &'static str = "nr_capture_config";
    const INIT: &'static str = "NR_CAPTURE_CONFIG_INIT";
    const MIN_SIZE: usize = std::mem::offset_of!(nr_capture_config, block_size) + 4;
    fn defaults() -> nr_capture_config {
        nr_capture_config::defaults()
    }
}

/// Copy a C instruction array (`p` and `len` from a C caller).
fn insns_from_c(p: *const nr_bpf_insn, len: usize, what: &str) -> Result<Vec<BpfInsn>, Error> {
    if len == 0 {
        return Err(Error::config(format!(
            "{what}_len is 0: the program is empty"
        )));
    }
    if p.is_null() {
        return Err(null_arg(what));
    }
    if len > 4096 {
        return Err(Error::config(format!(
            "{what}_len {len} exceeds the kernel's limit of 4096 instructions"
        )));
    }
    Ok(arg::slice(p, len, what)?
        .iter()
        .map(BpfInsn::from)
        .collect())
}

/// Read a caller's config of `cfg.size` bytes (NULL: the defaults): known
/// prefix copied over the defaults, unknown trailing bytes must be zero.
/// Booleans are read as bytes so that no bit pattern a C caller can write
/// is undefined behaviour here.
fn config_from_c(p: *const nr_capture_config) -> Result<CaptureConfig, Error> {
    let Some(f) = config::read(p)? else {
        return Ok(CaptureConfig::default());
    };
    let d = nr_capture_config::defaults();
    macro_rules! at {
        ($get:ident, $field:ident) => {
            config::field!(f, d, nr_capture_config, $get, $field)
        };
    }
    let mut c = CaptureConfig {
        block_size: at!(u32, block_size),
        block_count: at!(u32, block_count),
        frame_size: at!(u32, frame_size),
        block_timeout_ms: at!(u32, block_timeout_ms),
        snaplen: at!(u32, snaplen),
        promiscuous: at!(bool, promiscuous),
        ignore_outgoing: at!(bool, ignore_outgoing),
        fill_rxhash: at!(bool, fill_rxhash),
        lock_memory: at!(bool, lock_memory),
        busy_poll_us: at!(u32, busy_poll_us),
        rcvbuf: at!(u32, rcvbuf),
        busy_poll_budget: at!(u16, busy_poll_budget),
        timestamp_fallback: at!(bool, tstamp_fallback),
        prefer_busy_poll: at!(bool, prefer_busy_poll),
        reuseport: at!(bool, reuseport),
        rcvbuf_force: at!(bool, rcvbuf_force),
        packet_loss: at!(bool, packet_loss),
        vlan_reinsert: at!(bool, vlan_reinsert),
        immediate: at!(bool, immediate),
        ..CaptureConfig::default()
    };
    if f.bytes(offset_of!(nr_capture_config, reserved), 7)
        .iter()
        .chain(f.bytes(offset_of!(nr_capture_config, reserved2), 7))
        .any(|&b| b != 0)
    {
        return Err(Error::invalid_arg(
            "nr_capture_config.reserved and .reserved2 must be zero",
        ));
    }
    let filter: *const nr_bpf_insn = at!(ptr, filter);
    let filter_len = at!(usize, filter_len);
    if !filter.is_null() || filter_len != 0 {
        c.filter = Some(insns_from_c(filter, filter_len, "filter")?);
    }
    let efd = at!(i32, ebpf_filter_fd);
    if efd >= 0 {
        c.ebpf_filter_fd = Some(efd);
    } else if efd != -1 {
        return Err(Error::config(format!(
            "ebpf_filter_fd {efd}: use -1 for none or a program fd"
        )));
    }
    c.direction = nr_direction::from_c(at!(u8, direction), "direction", Error::config)?.into();
    c.timestamp = nr_tstamp_source::from_c(at!(u8, tstamp), "tstamp", Error::config)?.into();
    let fmode = at!(u8, fanout_mode);
    let fflags = at!(u32, fanout_flags);
    let fgroup = at!(u16, fanout_group);
    if fmode == NR_FANOUT_NONE {
        if fflags != 0 || fgroup != 0 {
            return Err(Error::config(
                "fanout_group/fanout_flags are set but fanout_mode is NR_FANOUT_NONE",
            ));
        }
    } else {
        use nr_fanout_mode as M;
        let mode = match nr_fanout_mode::from_c(fmode, "fanout_mode", Error::config)? {
            M::NR_FANOUT_NONE => unreachable!("handled above"),
            M::NR_FANOUT_HASH => FanoutMode::Hash,
            M::NR_FANOUT_LB => FanoutMode::LoadBalance,
            M::NR_FANOUT_CPU => FanoutMode::Cpu,
            M::NR_FANOUT_ROLLOVER => FanoutMode::Rollover,
            M::NR_FANOUT_RANDOM => FanoutMode::Random,
            M::NR_FANOUT_QM => FanoutMode::QueueMapping,
            M::NR_FANOUT_CBPF => FanoutMode::Cbpf(insns_from_c(
                at!(ptr, fanout_cbpf),
                at!(usize, fanout_cbpf_len),
                "fanout_cbpf",
            )?),
            M::NR_FANOUT_EBPF => FanoutMode::Ebpf(at!(i32, fanout_prog_fd)),
            M::NR_FANOUT_FLOW => FanoutMode::Flow(netring_engine::FlowKey::FiveTuple),
        };
        let mut flags = FanoutFlags::empty();
        let mut rest = fflags;
        for &(f, _) in nr_fanout_flag::ALL {
            let bit = f.to_c();
            if fflags & bit != 0 {
                rest &= !bit;
                flags |= match f {
                    nr_fanout_flag::NR_FANOUT_FLAG_ROLLOVER => FanoutFlags::ROLLOVER,
                    nr_fanout_flag::NR_FANOUT_FLAG_DEFRAG => FanoutFlags::DEFRAG,
                    nr_fanout_flag::NR_FANOUT_FLAG_UNIQUEID => FanoutFlags::UNIQUE_ID,
                    nr_fanout_flag::NR_FANOUT_FLAG_IGNORE_OUTGOING => FanoutFlags::IGNORE_OUTGOING,
                };
            }
        }
        if rest != 0 {
            return Err(Error::config(format!(
                "fanout_flags 0x{fflags:x} has bits that are not NR_FANOUT_FLAG_*"
            )));
        }
        c.fanout = Some(Fanout {
            group: fgroup,
            mode,
            flags,
        });
    }
    c.netns = arg::opt_c_str(at!(ptr, netns), "netns")?.map(str::to_owned);
    Ok(c)
}

/// Fill `cfg` with the defaults. `size` is sizeof(*cfg) as the caller
/// compiled it (NR_CAPTURE_CONFIG_INIT passes it for you); only that many
/// bytes are written.
///
/// Returns NR_OK, or NR_E_INVALID_ARG if `cfg` is NULL or `size` is smaller
/// than the first two fields.
#[unsafe(no_mangle)]
pub unsafe extern "C-unwind" fn nr_capture_config_init(
    cfg: *mut nr_capture_config,
    size: usize,
) -> c_int {
    boundary(|| config::init(cfg, size))
}

/// What the ring really got (nr_capture_info.ring): the kernel may give
/// fewer blocks than asked (see nr_capture_config.block_count).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct nr_ring_info {
    /// Bytes per block.
    pub block_size: u32,
    /// Blocks allocated.
    pub block_count: u32,
    /// Blocks asked for.
    pub block_count_requested: u32,
    /// Frame size.
    pub frame_size: u32,
    /// True if the ring is locked in memory.
    pub locked: bool,
    /// Reserved, 0.
    pub reserved0: [u8; 3],
}

/// Capture statistics. packets, drops and freezes come from the kernel,
/// which resets its counters on every read: netring keeps 64-bit lifetime
/// totals, so no read is ever lost. The rest are counted by netring.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct nr_capture_stats {
    /// Packets the kernel put into the ring (drops not included).
    pub packets: u64,
    /// Packets the kernel dropped because the ring was full.
    pub drops: u64,
    /// Times the kernel froze the queue because the ring was full.
    pub freezes: u64,
    /// Packets in the blocks handed to the application.
    pub delivered: u64,
    /// Blocks handed to the application.
    pub blocks: u64,
    /// Kernel block sequence numbers that skipped ahead (expected 0).
    pub seq_gaps: u64,
    /// Blocks that failed validation (expected 0).
    pub malformed: u64,
    /// Reserved for future counters; always 0.
    pub reserved: [u64; 9],
}

impl From<CaptureStats> for nr_capture_stats {
    fn from(s: CaptureStats) -> nr_capture_stats {
        nr_capture_stats {
            packets: s.packets,
            drops: s.drops,
            freezes: s.freezes,
            delivered: s.delivered,
            blocks: s.blocks,
            seq_gaps: s.seq_gaps,
            malformed: s.malformed,
            reserved: [0; 9],
        }
    }
}

pub(crate) struct Inner {
    cap: Capture,
    batch: batch::Slot,
    pkt: nr_packet,
    warning: Option<std::ffi::CString>,
}

/// An open AF_PACKET capture (opaque). Created by nr_capture_open(), freed
/// by nr_capture_close(). Use it from one thread at a time, except
/// nr_capture_breakloop(), which any thread or a signal handler may call.
pub struct nr_capture {
    magic: u64,
    brk: Breaker,
    state: UnsafeCell<Inner>,
}

handle::handle!(nr_capture, MAGIC, "cap", Inner, brk);

/// Open a capture on interface `ifname` (e.g. "eth0") of the calling
/// thread's network namespace. `cfg` may be NULL for the defaults. On
/// success `*out` receives the handle; it is not written otherwise.
///
/// Setup order: the socket is created with protocol 0, the snap-length
/// filter and the ring are installed, and only then is it bound to the
/// interface: no frame from before the setup, and no unfiltered frame,
/// reaches the ring.
///
/// Returns NR_OK; NR_E_INVALID_ARG (NULL ifname/out, bad name, bad
/// cfg->size); NR_E_CONFIG (ring geometry, snaplen: the message names the
/// field); NR_E_NO_DEVICE (unknown interface); NR_E_PERMISSION (needs
/// CAP_NET_RAW, CAP_NET_ADMIN for promiscuous); NR_E_NO_MEMORY (ring could
/// not be allocated even at a quarter of the blocks); NR_E_SYSTEM.
#[unsafe(no_mangle)]
pub unsafe extern "C-unwind" fn nr_capture_open(
    ifname: *const c_char,
    cfg: *const nr_capture_config,
    out: *mut *mut nr_capture,
) -> c_int {
    boundary(|| {
        let name = c_str(ifname, "ifname")?;
        let out = Out::new(out, "out")?;
        let cap = Capture::open(name, &config_from_c(cfg)?)?;
        let brk = cap.breaker();
        let warning = cap
            .info()
            .warning
            .as_deref()
            .map(|w| std::ffi::CString::new(w.replace('\0', " ")).unwrap_or_default());
        let h = nr_capture {
            magic: MAGIC,
            brk,
            state: UnsafeCell::new(Inner {
                cap,
                batch: batch::Slot::detached(),
                pkt: nr_packet::EMPTY,
                warning,
            }),
        };
        Ok(handle::publish(h, out, |s| {
            s.batch.attach(batch::Owner::Capture(&mut s.cap))
        }))
    })
}

/// Close a capture: releases any held batch, unmaps the ring, closes the
/// socket. NULL is accepted and ignored. Every batch and packet pointer of
/// this handle becomes invalid. Must not run concurrently with any other
/// call on the handle (nr_capture_breakloop() included).
#[unsafe(no_mangle)]
pub unsafe extern "C-unwind" fn nr_capture_close(cap: *mut nr_capture) {
    guard((), || drop(handle::take(cap)))
}

/// Wait for the next batch of packets (one ring block) and hold it.
///
/// `timeout_ms`: negative waits without limit, 0 does not wait
/// (non-blocking), positive waits up to that many milliseconds (a signal
/// does not shorten it).
/// On NR_OK `*out` is the batch: iterate it with nr_batch_for_each(), then
/// give it back with nr_batch_release(). One batch per handle at a time:
/// while one is held this returns NR_E_BUSY. The batch pointer stays owned
/// by the handle (never free it).
///
/// Returns NR_OK; NR_TIMEOUT (nothing within the timeout); NR_BREAK
/// (nr_capture_breakloop() was called, now or before this call);
/// NR_IFACE_DOWN (timeout passed while the interface was down; no CPU is
/// spent waiting, capture resumes when it is up); NR_E_IFACE_GONE (the
/// interface was removed); NR_E_BUSY; NR_E_INVALID_ARG; NR_E_SYSTEM.
///
/// Interface removal: every frame the kernel put into the ring before the
/// interface went is handed out first (NR_OK, as usual); NR_E_IFACE_GONE
/// comes after the last of them, on this and every later call. A ring
/// block the kernel was still filling reaches user space only when its
/// block timeout retires it, so the error can come up to twice
/// nr_capture_config.block_timeout_ms plus 100 ms after the removal (1 s
/// assumed for a block timeout of 0); with nothing left in the ring it
/// comes at once. Meanwhile a call whose timeout passes returns
/// NR_IFACE_DOWN. In immediate mode (a frame ring) there is no such block
/// and the error comes at once. The same holds for nr_next_packet().
#[unsafe(no_mangle)]
pub unsafe extern "C-unwind" fn nr_next_batch(
    cap: *mut nr_capture,
    timeout_ms: c_int,
    out: *mut *mut nr_batch,
) -> c_int {
    boundary(|| {
        let s = handle::state(cap)?;
        let out = Out::new(out, "out")?;
        s.batch.next(out, || {
            s.cap
                .acquire(arg::timeout(timeout_ms))
                .map(|w| arg::wait_status(&w))
        })
    })
}

/// Single-packet access (libpcap's pcap_next_ex shape): the next packet,
/// waiting as nr_next_batch() does. On NR_OK `*out` points to a packet
/// owned by the handle, valid until the next call on this handle. Internally
/// it holds one block and walks it; mixing with nr_next_batch() is allowed
/// (the held block is released first) but not while a batch is held
/// (NR_E_BUSY).
///
/// Returns NR_OK, NR_TIMEOUT, NR_BREAK, NR_IFACE_DOWN, NR_E_IFACE_GONE,
/// NR_E_BUSY, NR_E_INVALID_ARG, NR_E_SYSTEM.
#[unsafe(no_mangle)]
pub unsafe extern "C-unwind" fn nr_next_packet(
    cap: *mut nr_capture,
    timeout_ms: c_int,
    out: *mut *const nr_packet,
) -> c_int {
    boundary(|| {
        let s = handle::state(cap)?;
        let out = Out::new(out, "out")?;
        s.batch.ensure_idle()?;
        let w = s.cap.next_packet(arg::timeout(timeout_ms))?;
        if let Wait::Ready(p) = &w {
            s.pkt = nr_packet::from(p);
            out.set(&s.pkt);
        }
        Ok(arg::wait_status(&w))
    })
}

/// Read the statistics: lifetime totals into `*total` and the change since
/// the previous nr_capture_get_stats() call into `*delta`. Either may be NULL,
/// not both.
///
/// Returns NR_OK, NR_E_INVALID_ARG, NR_E_SYSTEM.
#[unsafe(no_mangle)]
pub unsafe extern "C-unwind" fn nr_capture_get_stats(
    cap: *mut nr_capture,
    total: *mut nr_capture_stats,
    delta: *mut nr_capture_stats,
) -> c_int {
    boundary(|| {
        let s = handle::state(cap)?;
        let out = StatsOut::new(total, delta)?;
        Ok(out.set(s.cap.stats_with_delta()?))
    })
}

/// The socket's file descriptor, for poll/epoll/select: readable when a
/// block is ready. Owned by the handle: do not read from or close it.
/// Returns the fd (>= 0) or NR_E_INVALID_ARG.
#[unsafe(no_mangle)]
pub unsafe extern "C-unwind" fn nr_capture_fd(cap: *const nr_capture) -> c_int {
    boundary(|| Ok(handle::state(cap)?.cap.fd()))
}

/// Stop the current or next wait of nr_next_batch()/nr_next_packet() on
/// this handle: that call returns NR_BREAK (once per request).
///
/// Safe to call from any thread and from a signal handler (an atomic store
/// and one write(2); it allocates nothing and takes no lock). For that
/// reason it does not set nr_last_error(). Returns NR_OK, or
/// NR_E_INVALID_ARG for NULL.
///
/// The handle must be open: calling this during or after nr_capture_close()
/// is undefined behaviour (its memory is freed), as with pcap_breakloop()
/// after pcap_close(). Stop signal handlers and other threads from calling
/// it before you close the handle.
#[unsafe(no_mangle)]
pub unsafe extern "C-unwind" fn nr_capture_breakloop(cap: *const nr_capture) -> c_int {
    guard(super::NR_E_INTERNAL, || handle::breakloop(cap))
}

/// Apply a tuning profile (NR_PROFILE_*) to a config initialised with
/// NR_CAPTURE_CONFIG_INIT: sets block_size, block_count, frame_size,
/// block_timeout_ms, busy_poll_us and lock_memory (those within cfg->size);
/// every other field is left alone, and any field can still be changed
/// afterwards. The numbers are documented at each NR_PROFILE_* constant.
///
/// Returns NR_OK, or NR_E_INVALID_ARG (NULL cfg, uninitialised cfg->size,
/// unknown profile).
#[unsafe(no_mangle)]
pub unsafe extern "C-unwind" fn nr_capture_config_apply_profile(
    cfg: *mut nr_capture_config,
    profile: c_int,
) -> c_int {
    boundary(|| {
        if cfg.is_null() {
            return Err(null_arg("cfg"));
        }
        let p = nr_profile::from_c(profile, "profile", Error::invalid_arg)?.into();
        let theirs = config::caller_bytes_mut(cfg)?;
        let c = CaptureConfig::profile(p);
        // Only the fields within the caller's size (an older caller's
        // struct is shorter).
        let mut put = |off: usize, bytes: &[u8]| {
            if let Some(dst) = theirs.get_mut(off..off + bytes.len()) {
                dst.copy_from_slice(bytes);
            }
        };
        put(
            offset_of!(nr_capture_config, block_size),
            &c.block_size.to_ne_bytes(),
        );
        put(
            offset_of!(nr_capture_config, block_count),
            &c.block_count.to_ne_bytes(),
        );
        put(
            offset_of!(nr_capture_config, frame_size),
            &c.frame_size.to_ne_bytes(),
        );
        put(
            offset_of!(nr_capture_config, block_timeout_ms),
            &c.block_timeout_ms.to_ne_bytes(),
        );
        put(
            offset_of!(nr_capture_config, lock_memory),
            &[u8::from(c.lock_memory)],
        );
        put(
            offset_of!(nr_capture_config, busy_poll_us),
            &c.busy_poll_us.to_ne_bytes(),
        );
        Ok(NR_OK)
    })
}

/// What a capture's options became. Filled by nr_capture_get_info().
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct nr_capture_info {
    /// The ring the kernel really gave (it may give fewer blocks than
    /// asked for).
    pub ring: nr_ring_info,
    /// The interface index the capture is bound to.
    pub ifindex: i32,
    /// The fanout group joined, as the kernel reports it (with
    /// NR_FANOUT_FLAG_UNIQUEID: the id the kernel chose). Valid if
    /// fanout_joined.
    pub fanout_group: u32,
    /// True if the capture is in a fanout group.
    pub fanout_joined: bool,
    /// The nr_tstamp_source in effect (after any fallback).
    pub tstamp_source: u8,
    /// True if a hardware source was asked for, the device could not, and
    /// the capture fell back to software timestamps.
    pub tstamp_fallback: bool,
    /// Reserved, 0.
    pub reserved0: u8,
    /// Why an option was weakened at open time (the timestamp fallback), or
    /// NULL. Owned by the handle; valid until nr_capture_close().
    pub warning: *const c_char,
    /// Reserved for future fields; 0.
    pub reserved: [u64; 6],
}

/// Fill `*out` with what the capture really got: the ring's geometry, and
/// what the options became (fanout group read back from the kernel,
/// timestamp source after a fallback, the warning).
///
/// Returns NR_OK or NR_E_INVALID_ARG.
#[unsafe(no_mangle)]
pub unsafe extern "C-unwind" fn nr_capture_get_info(
    cap: *const nr_capture,
    out: *mut nr_capture_info,
) -> c_int {
    boundary(|| {
        let inner = handle::state(cap)?;
        let out = Out::new(out, "out")?;
        let i = inner.cap.info();
        let r = inner.cap.ring_info();
        let v = nr_capture_info {
            ring: nr_ring_info {
                block_size: r.block_size,
                block_count: r.block_count,
                block_count_requested: r.block_count_requested,
                frame_size: r.frame_size,
                locked: r.locked,
                reserved0: [0; 3],
            },
            ifindex: inner.cap.ifindex(),
            fanout_group: i.fanout_group.map_or(0, u32::from),
            fanout_joined: i.fanout_group.is_some(),
            tstamp_source: nr_tstamp_source::from(i.tstamp_source).to_c(),
            tstamp_fallback: i.tstamp_fallback,
            reserved0: 0,
            warning: inner.warning.as_ref().map_or(ptr::null(), |w| w.as_ptr()),
            reserved: [0; 6],
        };
        out.set(v);
        Ok(NR_OK)
    })
}

/// Replace the capture's filter at run time with a classic program of `len`
/// instructions (copied), or detach it (`insns` NULL and `len` 0: capture
/// everything). The open-time snap length and direction are not re-applied:
/// pass the whole program. Frames already in the ring stay there.
///
/// Returns NR_OK; NR_E_CONFIG (bad program: the message names the
/// instruction); NR_E_INVALID_ARG; NR_E_SYSTEM.
#[unsafe(no_mangle)]
pub unsafe extern "C-unwind" fn nr_capture_set_filter(
    cap: *mut nr_capture,
    insns: *const nr_bpf_insn,
    len: usize,
) -> c_int {
    boundary(|| {
        let s = handle::state(cap)?;
        let prog = if insns.is_null() && len == 0 {
            None
        } else {
            Some(insns_from_c(insns, len, "insns")?)
        };
        s.cap.set_filter(prog.as_deref())?;
        Ok(NR_OK)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_init_and_old_callers() {
        let mut cfg = nr_capture_config::defaults();
        cfg.block_size = 1;
        // SAFETY: cfg is a valid, writable config.
        assert_eq!(
            unsafe { nr_capture_config_init(&mut cfg, size_of::<nr_capture_config>()) },
            NR_OK
        );
        assert_eq!(cfg.block_size, 4 << 20);
        // SAFETY: as above.
        let c = config_from_c(&cfg).unwrap();
        assert_eq!(c, CaptureConfig::default());
        // An "old" caller that only knows the first fields.
        cfg.size = offset_of!(nr_capture_config, frame_size);
        cfg.block_count = 8;
        cfg.frame_size = 12345; // beyond the old size: ignored
        // SAFETY: as above.
        let c = config_from_c(&cfg).unwrap();
        assert_eq!(c.block_count, 8);
        assert_eq!(c.frame_size, 2048);
        cfg.size = 0;
        // SAFETY: as above.
        assert!(config_from_c(&cfg).is_err());
    }

    #[test]
    fn config_has_no_padding() {
        // Byte-wise copies of the config must never read padding.
        let fields: usize = [
            8,
            5 * 4,
            4,
            8,
            8,
            4,
            4,
            2,
            1,
            1,
            4,
            8,
            8,
            4,
            4,
            2,
            1,
            6,
            7,
            8,
            1,
            7,
        ]
        .iter()
        .sum();
        assert_eq!(size_of::<nr_capture_config>(), fields);
        assert_eq!(size_of::<nr_bpf_insn>(), 8);
        assert_eq!(size_of::<nr_ring_info>(), 5 * 4);
        assert_eq!(size_of::<nr_capture_info>(), 20 + 4 + 4 + 4 + 8 + 48);
    }

    #[test]
    fn immediate_converts_and_old_callers_get_the_block_ring() {
        let mut cfg = nr_capture_config::defaults();
        cfg.immediate = true;
        assert!(config_from_c(&cfg).unwrap().immediate);
        // A caller built before the field existed: the block ring.
        cfg.size = offset_of!(nr_capture_config, immediate);
        assert!(!config_from_c(&cfg).unwrap().immediate);
        cfg.size = size_of::<nr_capture_config>();
        cfg.reserved2[3] = 1;
        assert!(config_from_c(&cfg).is_err());
    }

    #[test]
    fn new_fields_convert() {
        let prog = [nr_bpf_insn {
            code: 6,
            jt: 0,
            jf: 0,
            k: 0,
        }];
        let mut cfg = nr_capture_config::defaults();
        cfg.filter = prog.as_ptr();
        cfg.filter_len = 1;
        cfg.direction = NR_DIRECTION_IN;
        cfg.fanout_mode = NR_FANOUT_HASH;
        cfg.fanout_group = 42;
        cfg.fanout_flags = NR_FANOUT_FLAG_ROLLOVER | NR_FANOUT_FLAG_DEFRAG;
        cfg.tstamp = NR_TSTAMP_HW_RAW;
        cfg.tstamp_fallback = false;
        cfg.busy_poll_us = 50;
        cfg.busy_poll_budget = 8;
        cfg.prefer_busy_poll = true;
        cfg.reuseport = true;
        cfg.rcvbuf = 1 << 20;
        cfg.rcvbuf_force = true;
        cfg.packet_loss = true;
        cfg.vlan_reinsert = true;
        cfg.netns = c"blue".as_ptr();
        // SAFETY: cfg and everything it points to are live.
        let c = config_from_c(&cfg).unwrap();
        assert_eq!(
            c.filter.as_deref(),
            Some(
                &[BpfInsn {
                    code: 6,
                    jt: 0,
                    jf: 0,
                    k: 0
                }][..]
            )
        );
        assert_eq!(c.direction, CaptureDirection::In);
        assert_eq!(
            c.fanout,
            Some(Fanout {
                group: 42,
                mode: FanoutMode::Hash,
                flags: FanoutFlags::ROLLOVER | FanoutFlags::DEFRAG
            })
        );
        assert_eq!(c.timestamp, TimestampSource::HardwareRaw);
        assert!(!c.timestamp_fallback);
        assert_eq!(
            (c.busy_poll_us, c.busy_poll_budget, c.rcvbuf),
            (50, 8, 1 << 20)
        );
        assert!(c.prefer_busy_poll && c.reuseport && c.rcvbuf_force && c.packet_loss);
        assert!(c.vlan_reinsert);
        assert_eq!(c.netns.as_deref(), Some("blue"));
        assert_eq!(c.ebpf_filter_fd, None);
        // Bad values are named.
        cfg.direction = 9;
        // SAFETY: as above.
        let e = config_from_c(&cfg).unwrap_err();
        assert!(e.message().contains("direction 9"), "{e}");
        cfg.direction = 0;
        cfg.filter = ptr::null();
        // SAFETY: as above.
        let e = config_from_c(&cfg).unwrap_err();
        assert!(e.message().contains("'filter' is NULL"), "{e}");
        cfg.filter_len = 0;
        cfg.fanout_mode = NR_FANOUT_NONE;
        // SAFETY: as above.
        let e = config_from_c(&cfg).unwrap_err();
        assert!(e.message().contains("fanout_mode is NR_FANOUT_NONE"), "{e}");
    }

    #[test]
    fn profile_sets_geometry_only_within_size() {
        let apply = |c: &mut nr_capture_config, profile: c_int| {
            // SAFETY: a valid, writable config, at least as large as its
            // size field says.
            unsafe { nr_capture_config_apply_profile(c, profile) }
        };
        let mut cfg = nr_capture_config::defaults();
        cfg.snaplen = 100;
        assert_eq!(apply(&mut cfg, NR_PROFILE_JUMBO), NR_OK);
        assert_eq!(
            (cfg.block_size, cfg.frame_size, cfg.snaplen),
            (8 << 20, 16384, 100)
        );
        assert_eq!(apply(&mut cfg, NR_PROFILE_LOW_LATENCY), NR_OK);
        assert_eq!(
            (cfg.block_size, cfg.block_timeout_ms, cfg.busy_poll_us),
            (256 << 10, 1, 50)
        );
        // An old caller's short config: busy_poll_us is beyond its size.
        let mut old = nr_capture_config::defaults();
        old.size = offset_of!(nr_capture_config, filter);
        assert_eq!(apply(&mut old, NR_PROFILE_LOW_LATENCY), NR_OK);
        assert_eq!(old.busy_poll_us, 0);
        assert_eq!(old.block_timeout_ms, 1);
        assert_eq!(apply(&mut cfg, 99), super::super::NR_E_INVALID_ARG);
    }

    #[test]
    fn newer_caller_with_unknown_nonzero_fields_is_refused() {
        #[repr(C)]
        struct Newer {
            cfg: nr_capture_config,
            extra: u64,
        }
        let mut n = Newer {
            cfg: nr_capture_config::defaults(),
            extra: 0,
        };
        n.cfg.size = size_of::<Newer>();
        // SAFETY: n is readable for n.cfg.size bytes.
        assert!(config_from_c(&n.cfg).is_ok());
        n.extra = 1;
        // SAFETY: as above.
        assert!(config_from_c(&n.cfg).is_err());
    }

    #[test]
    fn null_arguments_are_rejected() {
        let mut out: *mut nr_capture = ptr::null_mut();
        // SAFETY: NULL arguments are part of the contract under test.
        unsafe {
            assert_eq!(
                nr_capture_open(ptr::null(), ptr::null(), &mut out),
                super::super::NR_E_INVALID_ARG
            );
            assert_eq!(
                nr_capture_open(c"lo".as_ptr(), ptr::null(), ptr::null_mut()),
                super::super::NR_E_INVALID_ARG
            );
            assert_eq!(
                nr_next_batch(ptr::null_mut(), 0, ptr::null_mut()),
                super::super::NR_E_INVALID_ARG
            );
            assert_eq!(
                nr_capture_breakloop(ptr::null()),
                super::super::NR_E_INVALID_ARG
            );
            assert_eq!(nr_capture_fd(ptr::null()), super::super::NR_E_INVALID_ARG);
            nr_capture_close(ptr::null_mut());
        }
        assert!(out.is_null());
    }
}
