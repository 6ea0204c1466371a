//! `nr_xdp`: AF_XDP RX/TX with a built-in redirect program, behind the same
//! nr_batch / nr_packet API as the AF_PACKET capture.

use std::cell::UnsafeCell;
use std::ffi::{c_char, c_int};
use std::mem::size_of;
use std::time::Duration;

use super::arg::{self, CEnum, Out, StatsOut};
use super::batch::{self, nr_batch};
use super::config;
use super::handle;
use super::inject::nr_frame;
use super::{NR_OK, NR_TIMEOUT, boundary, c_str, guard};
use crate::afxdp::{AttachMode, BindMode, Program, Xdp, XdpConfig, XdpDirection, XdpStats};
use crate::breaker::Breaker;
use crate::error::Error;

const MAGIC: u64 = 0x6e72_5f78_6470_5f5f; // "nr_xdp__"

/// AF_XDP directions (nr_xdp_config.direction).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum nr_xdp_direction {
    /// nr_xdp_config.direction: receive only (the default).
    NR_XDP_RX = 1,
    /// nr_xdp_config.direction: transmit only (no RX ring, no XDP program).
    NR_XDP_TX = 2,
    /// nr_xdp_config.direction: receive and transmit.
    NR_XDP_RXTX = 3,
}

arg::c_enum!(nr_xdp_direction as u32 => XdpDirection {
    NR_XDP_RX = Rx,
    NR_XDP_TX = Tx,
    NR_XDP_RXTX = RxTx,
});

/// AF_XDP bind modes (nr_xdp_config.bind_mode).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum nr_xdp_bind_mode {
    /// nr_xdp_config.bind_mode: zero-copy if the driver has it, else copy.
    NR_XDP_BIND_AUTO = 0,
    /// nr_xdp_config.bind_mode: copy mode.
    NR_XDP_BIND_COPY = 1,
    /// nr_xdp_config.bind_mode: zero-copy only (NR_E_UNSUPPORTED without it).
    NR_XDP_BIND_ZEROCOPY = 2,
}

arg::c_enum!(nr_xdp_bind_mode as u32 => BindMode {
    NR_XDP_BIND_AUTO = Auto,
    NR_XDP_BIND_COPY = Copy,
    NR_XDP_BIND_ZEROCOPY = ZeroCopy,
});

/// XDP program attach modes (nr_xdp_config.attach_mode).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum nr_xdp_attach_mode {
    /// nr_xdp_config.attach_mode: native XDP, falling back to generic.
    NR_XDP_ATTACH_AUTO = 0,
    /// nr_xdp_config.attach_mode: native (driver) XDP only.
    NR_XDP_ATTACH_NATIVE = 1,
    /// nr_xdp_config.attach_mode: generic (skb) XDP.
    NR_XDP_ATTACH_GENERIC = 2,
}

arg::c_enum!(nr_xdp_attach_mode as u32 => AttachMode {
    NR_XDP_ATTACH_AUTO = Auto,
    NR_XDP_ATTACH_NATIVE = Native,
    NR_XDP_ATTACH_GENERIC = Generic,
});

/// AF_XDP configuration. Initialise it with NR_XDP_CONFIG_INIT(&cfg) (or
/// nr_xdp_config_init(&cfg, sizeof cfg)), change the fields you need, pass
/// it to nr_xdp_open(). Every value is checked at open time; a bad one
/// fails with NR_E_CONFIG and a message naming the field.
///
/// Extensible like nr_capture_config: `size` says how much of the struct
/// the caller knows; fields are only ever appended.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct nr_xdp_config {
    /// sizeof(nr_xdp_config) as the caller compiled it; set by
    /// NR_XDP_CONFIG_INIT.
    pub size: usize,
    /// Bytes per UMEM frame: 2048 or 4096. Default 4096.
    pub frame_size: u32,
    /// UMEM frames in total, split evenly between the queues. Default 16384
    /// (64 MiB with 4096-byte frames; the RX ring gets as many slots, so the
    /// batching wait wakes about once per 4096 frames). The UMEM is pinned:
    /// it needs CAP_IPC_LOCK or a large enough RLIMIT_MEMLOCK.
    pub frame_count: u32,
    /// An nr_xdp_direction: NR_XDP_RX (default), NR_XDP_TX or NR_XDP_RXTX.
    pub direction: u32,
    /// Frames per socket put into the fill ring at open: the RX share of
    /// the socket's frames, the rest are TX frames. 0 = automatic (all for
    /// RX, none for TX, half each for RX+TX).
    pub fill_prefill: u32,
    /// RX ring slots, a power of two; 0 = automatic.
    pub rx_ring_size: u32,
    /// TX ring slots, a power of two; 0 = automatic.
    pub tx_ring_size: u32,
    /// Fill ring slots, a power of two; 0 = automatic.
    pub fill_ring_size: u32,
    /// Completion ring slots, a power of two; 0 = automatic.
    pub comp_ring_size: u32,
    /// An nr_xdp_bind_mode: NR_XDP_BIND_AUTO (default), NR_XDP_BIND_COPY or NR_XDP_BIND_ZEROCOPY.
    pub bind_mode: u32,
    /// An nr_xdp_attach_mode: NR_XDP_ATTACH_AUTO (default), NR_XDP_ATTACH_NATIVE or
    /// NR_XDP_ATTACH_GENERIC: where the built-in program runs.
    pub attach_mode: u32,
    /// -1 (default): netring loads and attaches its built-in redirect
    /// program (detached when the handle closes or the process dies).
    /// A value of 0 or more: the fd of your own program's XSKMAP; netring only stores its
    /// socket at map[queue] and leaves your program alone. The fd must stay
    /// open while the handle is open.
    pub xskmap_fd: c_int,
    /// Use the need_wakeup protocol. Default true.
    pub need_wakeup: bool,
    /// Most frames per batch. Default 256.
    pub batch_size: u32,
    /// The batching wait while traffic flows: 0 = off (always poll(), the
    /// receive path wakes the consumer every few frames); any other value =
    /// on (each sleep is sized by max_latency_us, the observed rate and the
    /// ring's free space; the value itself no longer bounds it). Default
    /// 1000 (on).
    pub idle_sleep_us: u32,
    /// Latency budget of the batching wait, in microseconds: while traffic
    /// flows, the longest a frame waits in the RX ring before the consumer
    /// looks (at most 50 ms, the interface check period, either way). The
    /// wait sleeps until about a quarter of the RX ring can have filled at
    /// the observed rate, within this budget: one wake-up per few hundred
    /// frames, like a TPACKET_V3 block. After max(50 ms, 2 budgets)
    /// without a frame it blocks in poll() (no CPU at idle). Default 50000
    /// (below nr_capture_config's 60 ms block timeout). At least 50.
    pub max_latency_us: u32,
    /// Busy polling, for a core dedicated to this queue (real NICs): 0
    /// (default) = off. Otherwise SO_BUSY_POLL in microseconds, and waits
    /// spin on the RX ring and drive the NIC's receive path with
    /// recvfrom(MSG_DONTWAIT) instead of sleeping: lowest latency, 100 % of
    /// that core while waiting.
    pub busy_poll_us: u32,
    /// With busy_poll_us: SO_BUSY_POLL_BUDGET, frames per busy-poll round
    /// (0 = kernel default; above 64 needs CAP_NET_ADMIN).
    pub busy_poll_budget: u16,
    /// With busy_poll_us: SO_PREFER_BUSY_POLL (the NIC's interrupts stay
    /// off while the application polls; see the kernel's
    /// napi_defer_hard_irqs / gro_flush_timeout).
    pub prefer_busy_poll: bool,
}

impl nr_xdp_config {
    fn defaults() -> nr_xdp_config {
        let d = XdpConfig::default();
        nr_xdp_config {
            size: size_of::<nr_xdp_config>(),
            frame_size: d.frame_size,
            frame_count: d.frame_count,
            direction: NR_XDP_RX,
            fill_prefill: 0,
            rx_ring_size: 0,
            tx_ring_size: 0,
            fill_ring_size: 0,
            comp_ring_size: 0,
            bind_mode: NR_XDP_BIND_AUTO,
            attach_mode: NR_XDP_ATTACH_AUTO,
            xskmap_fd: -1,
            need_wakeup: true,
            batch_size: d.batch_size,
            idle_sleep_us: d.idle_sleep_max.as_micros() as u32,
            max_latency_us: d.max_latency.as_micros() as u32,
            busy_poll_us: d.busy_poll_us,
            busy_poll_budget: d.busy_poll_budget,
            prefer_busy_poll: d.prefer_busy_poll,
        }
    }
}

// SAFETY: nr_xdp_config is repr(C), begins with `size: usize`, and holds only
// integers, booleans and raw pointers.
unsafe impl config::CConfig for nr_xdp_config {
    const NAME: &'static str = "nr_xdp_config";
    const INIT: &'static str = "NR_XDP_CONFIG_INIT";
    const MIN_SIZE: usize = std::mem::offset_of!(nr_xdp_config, frame_size) + 4;
    fn defaults() -> nr_xdp_config {
        nr_xdp_config::defaults()
    }
}

/// Read a caller's config (NULL: the defaults), as for nr_capture_config.
fn config_from_c(p: *const nr_xdp_config) -> Result<XdpConfig, Error> {
    let Some(f) = config::read(p)? else {
        return Ok(XdpConfig::default());
    };
    let d = nr_xdp_config::defaults();
    macro_rules! at {
        ($get:ident, $field:ident) => {
            config::field!(f, d, nr_xdp_config, $get, $field)
        };
    }
    let direction = nr_xdp_direction::from_c(at!(u32, direction), "direction", Error::config)?;
    let bind = nr_xdp_bind_mode::from_c(at!(u32, bind_mode), "bind_mode", Error::config)?;
    let attach = nr_xdp_attach_mode::from_c(at!(u32, attach_mode), "attach_mode", Error::config)?;
    let map_fd = at!(i32, xskmap_fd);
    let program = match map_fd {
        -1 => Program::BuiltIn,
        fd if fd >= 0 => Program::External(fd),
        fd => {
            return Err(Error::config(format!(
                "xskmap_fd {fd}: use -1 for the built-in program or a map fd >= 0"
            )));
        }
    };
    Ok(XdpConfig {
        frame_size: at!(u32, frame_size),
        frame_count: at!(u32, frame_count),
        direction: direction.into(),
        fill_prefill: at!(u32, fill_prefill),
        rx_ring_size: at!(u32, rx_ring_size),
        tx_ring_size: at!(u32, tx_ring_size),
        fill_ring_size: at!(u32, fill_ring_size),
        comp_ring_size: at!(u32, comp_ring_size),
        bind: bind.into(),
        attach: attach.into(),
        program,
        need_wakeup: at!(bool, need_wakeup),
        batch_size: at!(u32, batch_size),
        idle_sleep_max: Duration::from_micros(u64::from(at!(u32, idle_sleep_us))),
        max_latency: Duration::from_micros(u64::from(at!(u32, max_latency_us))),
        busy_poll_us: at!(u32, busy_poll_us),
        busy_poll_budget: at!(u16, busy_poll_budget),
        prefer_busy_poll: at!(bool, prefer_busy_poll),
        ..XdpConfig::default()
    })
}

/// Fill `cfg` with the defaults. `size` is sizeof(*cfg) as the caller
/// compiled it (NR_XDP_CONFIG_INIT passes it); only that many bytes are
/// written.
///
/// Returns NR_OK, or NR_E_INVALID_ARG if `cfg` is NULL or `size` is too
/// small.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nr_xdp_config_init(cfg: *mut nr_xdp_config, size: usize) -> c_int {
    boundary(|| config::init(cfg, size))
}

/// What nr_xdp_open() got.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct nr_xdp_info {
    /// True if the sockets run in zero-copy mode, false for copy mode.
    pub zero_copy: bool,
    /// 1: the built-in program runs in native (driver) mode; 0: generic
    /// mode; -1: no built-in program (your XSKMAP, or TX only).
    pub native: c_int,
    /// Number of bound queues (sockets).
    pub queue_count: u32,
    /// The first bound queue.
    pub first_queue: u32,
    /// UMEM frame size.
    pub frame_size: u32,
    /// UMEM frames in total.
    pub frame_count: u32,
    /// RX frames per socket.
    pub rx_frames: u32,
    /// TX frames per socket.
    pub tx_frames: u32,
}

/// AF_XDP statistics: the kernel's XDP_STATISTICS (cumulative) and
/// netring's counters, summed over the handle's sockets.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct nr_xdp_stats {
    /// Frames handed to the application, counted when their batch is
    /// released (nr_batch_release()): a held batch is not in it yet.
    pub rx_packets: u64,
    /// Batches handed to the application.
    pub rx_batches: u64,
    /// Kernel: frames dropped (fill ring empty, ...).
    pub rx_dropped: u64,
    /// Kernel: frames dropped because the RX ring was full.
    pub rx_ring_full: u64,
    /// Kernel: times the fill ring had no frame.
    pub rx_fill_ring_empty: u64,
    /// Kernel: invalid RX descriptors.
    pub rx_invalid_descs: u64,
    /// netring: RX descriptors refused by the UMEM bounds check (expected 0).
    pub rx_refused: u64,
    /// Frames queued for TX.
    pub tx_queued: u64,
    /// TX frames completed by the kernel.
    pub tx_completed: u64,
    /// Kernel: invalid TX descriptors.
    pub tx_invalid_descs: u64,
    /// Kernel: times the TX ring was empty when the kernel looked.
    pub tx_ring_empty: u64,
    /// Wake-up system calls made.
    pub kicks: u64,
    /// Reserved for future counters; always 0.
    pub reserved: [u64; 8],
}

impl From<XdpStats> for nr_xdp_stats {
    fn from(s: XdpStats) -> nr_xdp_stats {
        nr_xdp_stats {
            rx_packets: s.rx_packets,
            rx_batches: s.rx_batches,
            rx_dropped: s.rx_dropped,
            rx_ring_full: s.rx_ring_full,
            rx_fill_ring_empty: s.rx_fill_ring_empty,
            rx_invalid_descs: s.rx_invalid_descs,
            rx_refused: s.rx_refused,
            tx_queued: s.tx_queued,
            tx_completed: s.tx_completed,
            tx_invalid_descs: s.tx_invalid_descs,
            tx_ring_empty: s.tx_ring_empty,
            kicks: s.kicks,
            reserved: [0; 8],
        }
    }
}

pub(crate) struct XdpInner {
    xdp: Xdp,
    batch: batch::Slot,
    frames: Vec<&'static [u8]>,
}

/// An open AF_XDP handle (opaque): one socket per bound queue over one
/// UMEM, plus the XDP program steering the queues into them. Created by
/// nr_xdp_open() or nr_xdp_open_all(), freed by nr_xdp_close(). Use it from
/// one thread at a time, except nr_xdp_breakloop().
pub struct nr_xdp {
    magic: u64,
    brk: Breaker,
    state: UnsafeCell<XdpInner>,
}

handle::handle!(nr_xdp, MAGIC, "xdp", XdpInner, brk);

/// The body of nr_xdp_open() and nr_xdp_open_all().
fn open_with(
    ifname: *const c_char,
    cfg: *const nr_xdp_config,
    out: *mut *mut nr_xdp,
    open: impl FnOnce(&str, &XdpConfig) -> Result<Xdp, Error>,
) -> Result<c_int, Error> {
    let name = c_str(ifname, "ifname")?;
    let out = Out::new(out, "out")?;
    let xdp = open(name, &config_from_c(cfg)?)?;
    let h = nr_xdp {
        magic: MAGIC,
        brk: xdp.breaker(),
        state: UnsafeCell::new(XdpInner {
            xdp,
            batch: batch::Slot::detached(),
            frames: Vec::new(),
        }),
    };
    Ok(handle::publish(h, out, |s| {
        s.batch.attach(batch::Owner::Xdp(&mut s.xdp))
    }))
}

/// Open AF_XDP on queue `queue` of interface `ifname` (calling thread's
/// network namespace). `cfg` may be NULL for the defaults (RX, built-in
/// program, native XDP with generic fallback, zero-copy with copy
/// fallback). On success `*out` receives the handle.
///
/// Setup order: XSKMAP and program loaded, UMEM registered, rings mapped,
/// socket bound (EBUSY from a previous socket's teardown is retried for up
/// to 3 s), fill ring prefilled, socket stored in the map, and only then
/// the program attached (through a bpf_link owned by this handle: it is
/// detached on nr_xdp_close() and whenever the process exits, SIGKILL
/// included). nr_xdp_get_info() tells which modes were obtained.
///
/// Returns NR_OK; NR_E_INVALID_ARG (NULL ifname/out, bad name, queue id
/// out of range: the message gives the queue count, xskmap_fd not an
/// XSKMAP); NR_E_CONFIG (a field: the message names it); NR_E_NO_DEVICE;
/// NR_E_PERMISSION (needs CAP_NET_ADMIN, CAP_BPF, CAP_NET_RAW);
/// NR_E_NO_MEMORY (UMEM could not be pinned: the message gives
/// RLIMIT_MEMLOCK and what to do); NR_E_BUSY (another XDP program is
/// attached to the interface, or the queue stays in use by another AF_XDP
/// socket); NR_E_UNSUPPORTED (zero-copy or native mode forced but not
/// available); NR_E_SYSTEM.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nr_xdp_open(
    ifname: *const c_char,
    queue: u32,
    cfg: *const nr_xdp_config,
    out: *mut *mut nr_xdp,
) -> c_int {
    boundary(|| open_with(ifname, cfg, out, |n, c| Xdp::open(n, queue, c)))
}

/// Open AF_XDP on every RX queue of `ifname`: one socket per queue over one
/// shared UMEM (frame_count is split between them), one program. Batches
/// come from the queues in turn; TX uses the first queue. Otherwise as
/// nr_xdp_open() (same statuses).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nr_xdp_open_all(
    ifname: *const c_char,
    cfg: *const nr_xdp_config,
    out: *mut *mut nr_xdp,
) -> c_int {
    boundary(|| open_with(ifname, cfg, out, Xdp::open_all))
}

/// Close: detaches the built-in program, closes the sockets, unmaps the
/// UMEM. NULL is accepted. Every batch, packet and TX frame pointer of this
/// handle becomes invalid; frames queued but not sent may be lost (call
/// nr_xdp_flush() first). Must not run concurrently with any other call on
/// the handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nr_xdp_close(xdp: *mut nr_xdp) {
    guard((), || drop(handle::take(xdp)))
}

/// What the open got into `*out` (copy or zero-copy, native or generic).
///
/// Returns NR_OK or NR_E_INVALID_ARG.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nr_xdp_get_info(xdp: *const nr_xdp, out: *mut nr_xdp_info) -> c_int {
    boundary(|| {
        let i = handle::state(xdp)?.xdp.info();
        Out::new(out, "out")?.set(nr_xdp_info {
            zero_copy: i.zero_copy,
            native: i.native.map_or(-1, c_int::from),
            queue_count: i.queues.len() as u32,
            first_queue: i.queues.first().copied().unwrap_or(0),
            frame_size: i.frame_size,
            frame_count: i.frame_count,
            rx_frames: i.rx_frames,
            tx_frames: i.tx_frames,
        });
        Ok(NR_OK)
    })
}

/// Wait for the next batch of received frames and hold it. Same contract
/// as nr_next_batch(): `timeout_ms` < 0 waits without limit, 0 does not
/// wait, > 0 waits that long; iterate with nr_batch_for_each(), give back
/// with nr_batch_release() (the frames return to the fill ring). nr_packet
/// fields: data/caplen/len (the frame, in the UMEM, zero copy), ts_ns (when
/// the batch was taken: AF_XDP has no per-frame timestamp), ifindex,
/// protocol (EtherType), pkt_type (from the destination MAC), flags 0,
/// rxhash/vlan 0. Descriptors outside the UMEM are skipped and counted
/// (nr_xdp_stats.rx_refused). A nr_batch_for_each() callback must not
/// release the batch or close the handle.
///
/// While frames flow, an empty ring is waited out with one sleep sized from
/// the observed rate and the ring's free space, within
/// nr_xdp_config.max_latency_us (instead of sleeping on the socket); after
/// 50 ms without a frame the wait blocks in poll() and costs no CPU (in
/// 50 ms slices that re-check the interface: an AF_XDP socket is not woken
/// when its interface is removed).
///
/// Returns NR_OK; NR_TIMEOUT; NR_BREAK (nr_xdp_breakloop()); NR_IFACE_DOWN
/// (the timeout passed while the interface was down); NR_E_IFACE_GONE (the
/// interface was removed: reported within 50 ms, after every frame already
/// in the RX ring was handed out); NR_E_BUSY (a batch is held, or another
/// thread is in a call on this handle); NR_E_CONFIG (TX-only handle);
/// NR_E_INVALID_ARG; NR_E_SYSTEM.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nr_xdp_next_batch(
    xdp: *mut nr_xdp,
    timeout_ms: c_int,
    out: *mut *mut nr_batch,
) -> c_int {
    boundary(|| {
        let s = handle::state(xdp)?;
        let out = Out::new(out, "out")?;
        s.batch.next(out, || {
            s.xdp
                .acquire(arg::timeout(timeout_ms))
                .map(|w| arg::wait_status(&w))
        })
    })
}

/// Send `count` frames: each is copied into a free UMEM frame and queued on
/// the TX ring, then the kernel is kicked (copy mode: one sendto() per 32
/// frames). Non-blocking. Returns the number of frames queued (>= 0; fewer
/// than `count`, possibly 0, when every TX frame is in flight: reap with
/// nr_xdp_complete() or nr_xdp_flush() and send the rest), or a negative
/// status: NR_E_INVALID_ARG (NULL, a frame of length 0: nothing is queued),
/// NR_E_TOO_BIG (a frame larger than frame_size: nothing is queued),
/// NR_E_CONFIG (RX-only handle), NR_E_SYSTEM.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nr_xdp_send(
    xdp: *mut nr_xdp,
    frames: *const nr_frame,
    count: usize,
) -> c_int {
    boundary(|| {
        let inner = handle::state(xdp)?;
        if count == 0 {
            return Ok(0);
        }
        let fr = arg::slice(frames, count, "frames")?;
        let count = count.min(i32::MAX as usize);
        // Reuse the handle's slice vector: no allocation once it has grown.
        let mut v = std::mem::take(&mut inner.frames);
        v.clear();
        for (i, f) in fr.iter().take(count).enumerate() {
            match f.bytes(i) {
                Ok(b) => v.push(b),
                Err(e) => {
                    inner.frames = v;
                    return Err(e);
                }
            }
        }
        let r = inner.xdp.send(&v);
        v.clear();
        inner.frames = v;
        Ok(r? as c_int)
    })
}

/// Zero-copy TX, step 1: reserve a free UMEM frame and get a pointer to it
/// (`*data`) and its capacity in bytes (`*capacity`). Write the frame there,
/// then queue it with nr_xdp_tx_submit(). Until then the same frame is
/// returned by every call. The pointer is valid until the frame is
/// submitted or the handle is closed.
///
/// Returns NR_OK; NR_TIMEOUT (every TX frame is in flight: nothing was
/// reserved, try again after nr_xdp_complete()/nr_xdp_flush()); NR_E_CONFIG
/// (RX-only handle); NR_E_INVALID_ARG; NR_E_SYSTEM.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nr_xdp_tx_alloc(
    xdp: *mut nr_xdp,
    data: *mut *mut u8,
    capacity: *mut u32,
) -> c_int {
    boundary(|| {
        let s = handle::state(xdp)?;
        let data = Out::new(data, "data")?;
        let capacity = Out::new(capacity, "capacity")?;
        match s.xdp.tx_alloc()? {
            Some((p, cap)) => {
                data.set(p);
                capacity.set(cap);
                Ok(NR_OK)
            }
            None => Ok(NR_TIMEOUT),
        }
    })
}

/// Zero-copy TX, step 2: queue the frame reserved by nr_xdp_tx_alloc() with
/// `len` bytes. The kernel is kicked every 32 submitted frames; call
/// nr_xdp_flush() to send the rest.
///
/// Returns NR_OK; NR_E_INVALID_ARG (no frame reserved, or len 0: the frame
/// stays reserved); NR_E_TOO_BIG (len > capacity); NR_E_BUSY (TX ring full:
/// flush and submit again); NR_E_SYSTEM.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nr_xdp_tx_submit(xdp: *mut nr_xdp, len: u32) -> c_int {
    boundary(|| {
        handle::state(xdp)?.xdp.tx_submit(len)?;
        Ok(NR_OK)
    })
}

/// Kick the kernel until every queued frame has been sent and its
/// completion reaped, or `timeout_ms` passes (< 0: no limit, 0: one kick).
///
/// Returns NR_OK (nothing left in flight); NR_TIMEOUT (frames still in
/// flight); NR_E_CONFIG (RX-only handle); NR_E_INVALID_ARG; NR_E_SYSTEM.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nr_xdp_flush(xdp: *mut nr_xdp, timeout_ms: c_int) -> c_int {
    boundary(|| {
        let done = handle::state(xdp)?.xdp.flush(arg::timeout(timeout_ms))?;
        Ok(if done { NR_OK } else { NR_TIMEOUT })
    })
}

/// Reap TX completions: frames the kernel has sent become free for
/// nr_xdp_send()/nr_xdp_tx_alloc(). (Those calls also reap by themselves.)
/// Returns the number of frames completed (>= 0) or NR_E_INVALID_ARG.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nr_xdp_complete(xdp: *mut nr_xdp) -> c_int {
    boundary(|| Ok(handle::state(xdp)?.xdp.complete().min(i32::MAX as u32) as c_int))
}

/// Read the statistics: lifetime totals into `*total`, the change since
/// the previous call into `*delta`. Either may be NULL, not both.
///
/// Returns NR_OK, NR_E_INVALID_ARG, NR_E_SYSTEM.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nr_xdp_get_stats(
    xdp: *mut nr_xdp,
    total: *mut nr_xdp_stats,
    delta: *mut nr_xdp_stats,
) -> c_int {
    boundary(|| {
        let s = handle::state(xdp)?;
        let out = StatsOut::new(total, delta)?;
        Ok(out.set(s.xdp.stats_with_delta()?))
    })
}

/// The (first) socket's file descriptor, for poll/epoll: readable when its
/// RX ring has frames. Owned by the handle: do not close it. Returns the fd
/// (>= 0) or NR_E_INVALID_ARG.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nr_xdp_fd(xdp: *const nr_xdp) -> c_int {
    boundary(|| Ok(handle::state(xdp)?.xdp.fd()))
}

/// Stop the current or next wait of nr_xdp_next_batch(): it returns
/// NR_BREAK (once per request). Safe from any thread and from a signal
/// handler (an atomic store and one write(2)); does not set
/// nr_last_error(). Returns NR_OK, or NR_E_INVALID_ARG for NULL.
///
/// The handle must be open: calling this during or after nr_xdp_close()
/// is undefined behaviour (its memory is freed), as with pcap_breakloop()
/// after pcap_close(). Stop signal handlers and other threads from calling
/// it before you close the handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nr_xdp_breakloop(xdp: *const nr_xdp) -> c_int {
    guard(super::NR_E_INTERNAL, || handle::breakloop(xdp))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::offset_of;
    use std::ptr;

    #[test]
    fn config_init_roundtrip_and_old_callers() {
        let mut cfg = nr_xdp_config::defaults();
        cfg.frame_size = 1;
        // SAFETY: cfg is a valid, writable config.
        assert_eq!(
            unsafe { nr_xdp_config_init(&mut cfg, size_of::<nr_xdp_config>()) },
            NR_OK
        );
        // SAFETY: as above.
        let c = config_from_c(&cfg).unwrap();
        assert_eq!(c, XdpConfig::default());
        cfg.size = offset_of!(nr_xdp_config, direction);
        cfg.frame_count = 64;
        cfg.direction = 99; // beyond the old size: ignored
        // SAFETY: as above.
        let c = config_from_c(&cfg).unwrap();
        assert_eq!(c.frame_count, 64);
        assert_eq!(c.direction, XdpDirection::Rx);
        cfg.size = size_of::<nr_xdp_config>();
        // SAFETY: as above.
        assert!(config_from_c(&cfg).is_err());
        cfg.direction = NR_XDP_RXTX;
        cfg.xskmap_fd = 5;
        // SAFETY: as above.
        let c = config_from_c(&cfg).unwrap();
        assert_eq!(c.program, Program::External(5));
    }

    #[test]
    fn null_arguments_are_rejected() {
        let mut out: *mut nr_xdp = ptr::null_mut();
        // SAFETY: NULL arguments are part of the contract under test.
        unsafe {
            assert_eq!(
                nr_xdp_open(ptr::null(), 0, ptr::null(), &mut out),
                super::super::NR_E_INVALID_ARG
            );
            assert_eq!(
                nr_xdp_next_batch(ptr::null_mut(), 0, ptr::null_mut()),
                super::super::NR_E_INVALID_ARG
            );
            assert_eq!(
                nr_xdp_send(ptr::null_mut(), ptr::null(), 1),
                super::super::NR_E_INVALID_ARG
            );
            assert_eq!(
                nr_xdp_breakloop(ptr::null()),
                super::super::NR_E_INVALID_ARG
            );
            assert_eq!(nr_xdp_fd(ptr::null()), super::super::NR_E_INVALID_ARG);
            nr_xdp_close(ptr::null_mut());
        }
        assert!(out.is_null());
    }
}
