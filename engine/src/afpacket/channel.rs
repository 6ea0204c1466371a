//! [`ChannelCapture`]: a background thread drains a [`Capture`] into a
//! bounded queue of owned packet copies, for consumers that cannot hold ring
//! memory (async runtimes, worker pools, slow per-packet work).
//!
//! The ring is never held hostage by a slow consumer: when the queue is full
//! the packet is counted in [`ChannelStats::dropped`] and the block goes
//! back to the kernel at once. Every packet the ring delivered is either
//! queued or counted as dropped, exactly.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use super::capture::{Batch, Breaker, Capture, CaptureConfig, CaptureStats, Wait};
use crate::error::{Error, ErrorKind, Result};
use crate::packet::{Packet, PacketFlags, PacketType};
use crate::stats::{Counters, Reported};

/// An owned copy of a received packet and its metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnedPacket {
    /// The captured bytes.
    pub data: Vec<u8>,
    /// Length on the wire.
    pub wire_len: u32,
    /// Timestamp, nanoseconds since the Unix epoch.
    pub ts_ns: u64,
    /// Interface index.
    pub ifindex: i32,
    /// Receive hash (0 unless requested).
    pub rxhash: u32,
    /// VLAN TCI, if the kernel reported one.
    pub vlan_tci: Option<u16>,
    /// VLAN TPID, if the kernel reported one.
    pub vlan_tpid: Option<u16>,
    /// EtherType, host order.
    pub protocol: u16,
    /// Packet type / direction.
    pub packet_type: PacketType,
    /// Status flags.
    pub flags: PacketFlags,
}

impl From<&Packet<'_>> for OwnedPacket {
    fn from(p: &Packet<'_>) -> OwnedPacket {
        OwnedPacket {
            data: p.data().to_vec(),
            wire_len: p.wire_len(),
            ts_ns: p.timestamp_ns(),
            ifindex: p.ifindex(),
            rxhash: p.rxhash(),
            vlan_tci: p.vlan_tci(),
            vlan_tpid: p.vlan_tpid(),
            protocol: p.protocol(),
            packet_type: p.packet_type(),
            flags: p.flags(),
        }
    }
}

/// Counters of a [`ChannelCapture`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ChannelStats {
    /// Packets put into the queue.
    pub queued: u64,
    /// Packets the ring delivered but the full queue could not take.
    pub dropped: u64,
    /// The capture's own statistics (kernel drops included), as of the last
    /// block the thread handled (final after [`ChannelCapture::stop`]).
    pub capture: CaptureStats,
}

impl Counters for ChannelStats {
    fn since(&self, e: &Self) -> Self {
        ChannelStats {
            queued: self.queued - e.queued,
            dropped: self.dropped - e.dropped,
            capture: self.capture.since(&e.capture),
        }
    }
}

#[derive(Debug, Default)]
struct Shared {
    queued: AtomicU64,
    dropped: AtomicU64,
    stop: AtomicBool,
    capture: Mutex<CaptureStats>,
}

/// A capture drained by a background thread into a bounded queue.
#[derive(Debug)]
pub struct ChannelCapture {
    rx: Receiver<OwnedPacket>,
    shared: Arc<Shared>,
    brk: Breaker,
    thread: Option<JoinHandle<Result<()>>>,
    reported: Reported<ChannelStats>,
}

impl ChannelCapture {
    /// Open a capture (on the calling thread, so configuration errors come
    /// back here) and start the thread; `capacity` is the queue length
    /// (at least 1).
    pub fn open(ifname: &str, cfg: &CaptureConfig, capacity: usize) -> Result<ChannelCapture> {
        if capacity == 0 {
            return Err(Error::invalid_arg(
                "channel capacity 0: the queue needs room for at least one packet",
            ));
        }
        let cap = Capture::open(ifname, cfg)?;
        let brk = cap.breaker();
        let (tx, rx) = mpsc::sync_channel(capacity);
        let shared = Arc::new(Shared::default());
        let sh = shared.clone();
        let linger = Duration::from_millis(u64::from(cfg.block_timeout_ms.max(100)) + 50);
        let thread = std::thread::Builder::new()
            .name(format!("netring-chan-{ifname}"))
            .spawn(move || run(cap, tx, &sh, linger))
            .map_err(|e| Error::os("spawning the channel thread", e))?;
        Ok(ChannelCapture {
            rx,
            shared,
            brk,
            thread: Some(thread),
            reported: Reported::default(),
        })
    }

    /// The next packet, waiting up to `timeout` (`None`: no limit). `None`
    /// on timeout, or once the thread has stopped and the queue is empty.
    pub fn recv(&self, timeout: Option<Duration>) -> Option<OwnedPacket> {
        match timeout {
            None => self.rx.recv().ok(),
            Some(t) => self.rx.recv_timeout(t).ok(),
        }
    }

    /// The next packet if one is queued.
    pub fn try_recv(&self) -> Option<OwnedPacket> {
        self.rx.try_recv().ok()
    }

    /// The receiving end, for iteration.
    pub fn receiver(&self) -> &Receiver<OwnedPacket> {
        &self.rx
    }

    /// Current counters.
    pub fn stats(&self) -> ChannelStats {
        ChannelStats {
            queued: self.shared.queued.load(Ordering::Acquire),
            dropped: self.shared.dropped.load(Ordering::Acquire),
            capture: *self
                .shared
                .capture
                .lock()
                .unwrap_or_else(|e| e.into_inner()),
        }
    }

    /// Current counters and the change since the previous call of this
    /// function (see [`crate::stats`]).
    pub fn stats_with_delta(&mut self) -> (ChannelStats, ChannelStats) {
        let now = self.stats();
        self.reported.report(now)
    }

    /// Stop the thread (the rest of the ring, including a block the kernel
    /// retires within its block timeout, is drained into the queue or
    /// counted as dropped first) and return the final counters; packets
    /// still queued can be read with [`ChannelCapture::try_recv`].
    pub fn stop(&mut self) -> Result<ChannelStats> {
        self.shared.stop.store(true, Ordering::Release);
        self.brk.break_loop();
        if let Some(t) = self.thread.take() {
            match t.join() {
                Ok(r) => r?,
                Err(_) => {
                    return Err(Error::new(
                        ErrorKind::Internal,
                        "the channel capture thread panicked",
                    ));
                }
            }
        }
        Ok(self.stats())
    }
}

impl Drop for ChannelCapture {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}

/// Copy a block's packets into the queue; false once the receiver is gone.
fn deliver(b: &mut Batch<'_>, tx: &SyncSender<OwnedPacket>, sh: &Shared) -> bool {
    let mut alive = true;
    b.for_each(|p| {
        match tx.try_send(OwnedPacket::from(p)) {
            Ok(()) => sh.queued.fetch_add(1, Ordering::AcqRel),
            Err(TrySendError::Full(_)) => sh.dropped.fetch_add(1, Ordering::AcqRel),
            Err(TrySendError::Disconnected(_)) => {
                alive = false;
                sh.dropped.fetch_add(1, Ordering::AcqRel)
            }
        };
        true
    });
    alive
}

fn publish(cap: &mut Capture, sh: &Shared) -> Result<()> {
    let st = cap.stats()?;
    *sh.capture.lock().unwrap_or_else(|e| e.into_inner()) = st;
    Ok(())
}

/// The thread: wait for blocks, copy them out. Once a stop is requested it
/// keeps draining until no block retires for `linger` (longer than the
/// block timeout, so a partly filled block is not lost), then returns.
fn run(mut cap: Capture, tx: SyncSender<OwnedPacket>, sh: &Shared, linger: Duration) -> Result<()> {
    loop {
        let stopping = sh.stop.load(Ordering::Acquire);
        let wait = if stopping {
            linger
        } else {
            Duration::from_millis(100)
        };
        let got = match cap.next_batch_timeout(Some(wait))? {
            Wait::Ready(mut b) => Some(deliver(&mut b, &tx, sh)),
            Wait::Timeout | Wait::InterfaceDown if stopping => None,
            Wait::Timeout | Wait::InterfaceDown | Wait::Interrupted => continue,
        };
        publish(&mut cap, sh)?;
        match got {
            Some(true) => {}
            Some(false) | None => return Ok(()),
        }
    }
}
