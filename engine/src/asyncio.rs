//! Async capture and injection on tokio (feature `tokio`).
//!
//! [`AsyncCapture`] and [`AsyncInjector`] put a [`Capture`] and an
//! [`Injector`] on tokio's reactor with [`AsyncFd`]: nothing here blocks a
//! runtime thread, every wait is an `.await`. The synchronous engines do
//! the work; only the waiting changes.
//!
//! In `Cargo.toml`: `netring-engine = { ..., features = ["tokio"] }` and
//! `tokio = { version = "1", features = ["rt-multi-thread", "macros"] }`.
//! Create the handles inside the runtime (they register with its reactor);
//! run as root (or with CAP_NET_RAW).
//!
//! ```no_run
//! use netring_engine::asyncio::{AsyncCapture, AsyncInjector};
//! use netring_engine::{Capture, CaptureConfig, Injector, InjectorConfig};
//!
//! #[tokio::main]
//! async fn main() -> netring_engine::Result<()> {
//!     // Injection with backpressure, in its own task: send() waits for a
//!     // free slot (never drops a frame), drained() until the kernel took
//!     // every frame.
//!     let mut inj = AsyncInjector::new(Injector::open("veth1", &InjectorConfig::default())?)?;
//!     let sender = tokio::spawn(async move {
//!         let mut frame = [0u8; 60];
//!         frame[..6].copy_from_slice(&[0xff; 6]); // broadcast
//!         frame[12..14].copy_from_slice(&0x88b5u16.to_be_bytes());
//!         for seq in 0..1000u32 {
//!             frame[14..18].copy_from_slice(&seq.to_be_bytes());
//!             inj.send(&frame).await?;
//!         }
//!         inj.drained().await
//!     });
//!
//!     // Zero copy: one ring block at a time; it goes back to the kernel
//!     // when the batch is dropped.
//!     let mut cap = AsyncCapture::new(Capture::open("veth0", &CaptureConfig::default())?)?;
//!     let mut n = 0;
//!     while n < 1000 {
//!         let mut batch = cap.next_batch().await?; // never blocks the runtime
//!         batch.for_each(|p| {
//!             n += 1;
//!             let l = p.layers(); // header parsing, zero copy
//!             println!("{} bytes, ethertype {:#06x}, {:?}", p.caplen(), l.ethertype, l.src_ip());
//!             true
//!         });
//!     }
//!     sender.await.expect("sender task")?;
//!
//!     // Or owned packets (one copy each), also as a futures `Stream`
//!     // (re-exported here as `Stream`) for combinators:
//!     let mut packets = cap.packets();
//!     while let Some(p) = packets.next_packet().await {
//!         let p = p?;
//!         println!("{} bytes at {} ns", p.data.len(), p.ts_ns);
//!     }
//!     Ok(())
//! }
//! ```
//!
//! Why no `Stream` of [`Batch`]es: a batch borrows the capture's ring (its
//! packets are views into kernel memory, and the block is given back when
//! the batch drops), so each item would borrow the stream itself: a
//! "lending" stream, which `Stream` cannot express. [`AsyncCapture::next_batch`]
//! is the zero-copy form; [`AsyncCapture::packets`] is the `Stream`, paying
//! one copy per packet (the same [`OwnedPacket`] the channel adapter uses).
//!
//! [`AsyncBridge`] forwards both ways between two interfaces with the same
//! parts, stopped by dropping its `run()` future.
//!
//! Readiness: a TPACKET_V3 socket becomes readable when the kernel retires
//! a ring block (full, or after `block_timeout_ms`), so that timeout bounds
//! the latency. An injector's socket becomes writable when the kernel
//! finishes frames (TX ring) or frees socket buffer (sendmmsg); because a
//! shaping qdisc can push back without the fd ever changing state,
//! [`AsyncInjector`] also retries on a short timer (50 µs growing to 1 ms)
//! while it waits — an `.await`, never a blocking sleep.

use std::collections::VecDeque;
use std::future::Future;
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

/// The `Stream` trait ([`futures_core::Stream`]) [`PacketStream`]
/// implements, re-exported so that no other dependency is needed to name it.
pub use futures_core::Stream;
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

use crate::afpacket::vlan::TaggedFrame;
use crate::afpacket::{
    Batch, BridgeConfig, BridgeDirection, BridgeStats, Capture, Injector, OwnedPacket, Verdict,
    Wait,
};
use crate::error::{Error, Result};
use crate::packet::Packet;
use crate::stats::Reported;

/// The capture's fd for the reactor (the capture owns it).
#[derive(Debug)]
struct CapFd(Capture);

impl AsRawFd for CapFd {
    fn as_raw_fd(&self) -> RawFd {
        self.0.fd()
    }
}

/// The injector's fd for the reactor (the injector owns it).
#[derive(Debug)]
struct InjFd(Injector);

impl AsRawFd for InjFd {
    fn as_raw_fd(&self) -> RawFd {
        self.0.fd()
    }
}

fn reactor(e: io::Error) -> Error {
    Error::os("registering with the tokio reactor", e)
}

/// How long to wait while the interface is down before looking again (the
/// socket may report an error again and again meanwhile: no spinning).
const DOWN_NAP: Duration = Duration::from_millis(100);

/// A [`Capture`] on tokio's reactor. Create it inside a runtime (with IO
/// enabled). One task uses it at a time (`&mut self`).
#[derive(Debug)]
pub struct AsyncCapture {
    fd: AsyncFd<CapFd>,
}

impl AsyncCapture {
    /// Register `cap` with the current runtime's reactor.
    pub fn new(cap: Capture) -> Result<AsyncCapture> {
        Ok(AsyncCapture {
            // SAFETY: the capture owns its socket and closes it only when
            // dropped, which happens after the AsyncFd deregisters it
            // (into_inner or drop); nothing replaces the fd meanwhile.
            fd: unsafe { AsyncFd::register_with_interest(CapFd(cap), Interest::READABLE) }
                .map_err(|e| reactor(e.into()))?,
        })
    }

    /// The capture.
    pub fn get_ref(&self) -> &Capture {
        &self.fd.get_ref().0
    }

    /// The capture, mutably (statistics, filters, ...).
    pub fn get_mut(&mut self) -> &mut Capture {
        &mut self.fd.get_mut().0
    }

    /// Unregister and give the capture back.
    pub fn into_inner(self) -> Capture {
        self.fd.into_inner().0
    }

    /// The next ring block, zero copy, waiting (asynchronously) until one
    /// is ready. The block goes back to the kernel when the [`Batch`] is
    /// dropped. Cancel-safe: dropping the future takes nothing.
    ///
    /// While the interface is down it keeps waiting (looking again every
    /// 100 ms); a removed interface is an error
    /// ([`crate::ErrorKind::InterfaceGone`]). A [`crate::Breaker`] request
    /// is consumed and ignored: cancel the future instead.
    pub async fn next_batch(&mut self) -> Result<Batch<'_>> {
        loop {
            let mut guard = self.fd.readable_mut().await.map_err(reactor)?;
            let cap: *mut Capture = &mut guard.get_inner_mut().0;
            // SAFETY: `cap` points into self.fd, which this function borrows
            // mutably for the returned lifetime; the raw pointer only works
            // around the borrow checker's conditional-return limitation
            // (NLL problem case 3): on the returning path no other access to
            // the capture follows, and on the other paths the batch borrow
            // has already ended.
            match unsafe { &mut *cap }.next_batch_timeout(Some(Duration::ZERO))? {
                // The guard is dropped untouched, which keeps the readiness
                // (more blocks may be ready).
                Wait::Ready(b) => return Ok(b),
                Wait::Timeout | Wait::Interrupted => guard.clear_ready(),
                Wait::InterfaceDown => {
                    guard.clear_ready();
                    drop(guard);
                    tokio::time::sleep(DOWN_NAP).await;
                }
            }
        }
    }

    /// A [`Stream`] of the captured packets, each copied out of the ring
    /// ([`OwnedPacket`]), in order; the stream never ends by itself (an
    /// error is yielded, and the stream may be polled again after it).
    pub fn packets(&mut self) -> PacketStream<'_> {
        PacketStream {
            cap: self,
            queue: VecDeque::new(),
            down: None,
        }
    }

    /// Poll for a block and copy its packets into `queue`; `Ok(false)`:
    /// the interface is down.
    fn poll_fill(
        &mut self,
        cx: &mut Context<'_>,
        queue: &mut VecDeque<OwnedPacket>,
    ) -> Poll<Result<bool>> {
        loop {
            let mut guard = ready!(self.fd.poll_read_ready_mut(cx)).map_err(reactor)?;
            let got = match guard
                .get_inner_mut()
                .0
                .next_batch_timeout(Some(Duration::ZERO))?
            {
                Wait::Ready(mut b) => {
                    b.for_each(|p| {
                        queue.push_back(OwnedPacket::from(p));
                        true
                    });
                    // Dropping the batch gives the block back.
                    Some(true)
                }
                Wait::Timeout | Wait::Interrupted => None,
                Wait::InterfaceDown => Some(false),
            };
            match got {
                // The guard keeps the readiness: more blocks may be ready.
                Some(true) => return Poll::Ready(Ok(true)),
                Some(false) => {
                    guard.clear_ready();
                    return Poll::Ready(Ok(false));
                }
                None => guard.clear_ready(),
            }
        }
    }
}

/// The [`Stream`] of [`AsyncCapture::packets`].
#[derive(Debug)]
pub struct PacketStream<'a> {
    cap: &'a mut AsyncCapture,
    queue: VecDeque<OwnedPacket>,
    down: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl PacketStream<'_> {
    /// The next packet (`None` never comes: the stream does not end by
    /// itself). The same as `StreamExt::next` from futures or tokio-stream,
    /// without either. Cancel-safe.
    pub async fn next_packet(&mut self) -> Option<Result<OwnedPacket>> {
        std::future::poll_fn(|cx| Pin::new(&mut *self).poll_next(cx)).await
    }
}

impl Stream for PacketStream<'_> {
    type Item = Result<OwnedPacket>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            if let Some(p) = this.queue.pop_front() {
                return Poll::Ready(Some(Ok(p)));
            }
            if let Some(nap) = this.down.as_mut() {
                ready!(nap.as_mut().poll(cx));
                this.down = None;
            }
            match ready!(this.cap.poll_fill(cx, &mut this.queue)) {
                Ok(true) => {}
                // Interface down: wait, then look again (not an error).
                Ok(false) => this.down = Some(Box::pin(tokio::time::sleep(DOWN_NAP))),
                Err(e) => return Poll::Ready(Some(Err(e))),
            }
        }
    }
}

/// First and longest retry interval of [`AsyncInjector`] while every slot
/// is queued.
const NAP_MIN: Duration = Duration::from_micros(50);
const NAP_MAX: Duration = Duration::from_millis(1);

/// An [`Injector`] on tokio's reactor, with backpressure: [`send`]
/// waits (asynchronously) for a free slot instead of failing or dropping.
/// Create it inside a runtime (IO and time enabled).
///
/// [`send`]: AsyncInjector::send
#[derive(Debug)]
pub struct AsyncInjector {
    fd: AsyncFd<InjFd>,
}

impl AsyncInjector {
    /// Register `inj` with the current runtime's reactor.
    pub fn new(inj: Injector) -> Result<AsyncInjector> {
        Ok(AsyncInjector {
            // SAFETY: as for AsyncCapture::new: the injector owns its
            // socket until it is dropped, after the AsyncFd deregisters it.
            fd: unsafe { AsyncFd::register_with_interest(InjFd(inj), Interest::WRITABLE) }
                .map_err(|e| reactor(e.into()))?,
        })
    }

    /// The injector.
    pub fn get_ref(&self) -> &Injector {
        &self.fd.get_ref().0
    }

    /// The injector, mutably (statistics, zero-copy slots, ...).
    pub fn get_mut(&mut self) -> &mut Injector {
        &mut self.fd.get_mut().0
    }

    /// Unregister and give the injector back.
    pub fn into_inner(self) -> Injector {
        self.fd.into_inner().0
    }

    /// Wait until the kernel frees something: the fd turning writable or
    /// the retry interval, whichever comes first; then flush.
    async fn wait_and_flush(&mut self, nap: &mut Duration) -> Result<()> {
        if let Ok(r) = tokio::time::timeout(*nap, self.fd.writable_mut()).await {
            r.map_err(reactor)?.clear_ready();
        }
        *nap = (*nap * 2).min(NAP_MAX);
        self.fd.get_mut().0.flush()
    }

    /// Copy `frame` into a slot and queue it, waiting (asynchronously)
    /// while every slot is queued; the frame is handed to the kernel at
    /// once (a non-blocking flush). Never drops a frame: it returns only
    /// when the frame is queued, or with an error for a frame that can
    /// never be sent (shorter than 14 bytes, longer than the slot or the
    /// MTU + 14) or a failing interface. Cancel-safe: if the future is
    /// dropped before it returns, the frame was not queued.
    pub async fn send(&mut self, frame: &[u8]) -> Result<()> {
        self.fd.get_mut().0.check_len(frame.len())?;
        let mut nap = NAP_MIN;
        loop {
            let inj = &mut self.fd.get_mut().0;
            if let Some(mut slot) = inj.slot() {
                slot.buf()[..frame.len()].copy_from_slice(frame);
                slot.send(frame.len())?;
                return inj.flush();
            }
            inj.flush()?;
            if inj.has_free_slot() {
                continue;
            }
            self.wait_and_flush(&mut nap).await?;
        }
    }

    /// Queue several frames in order ([`AsyncInjector::send`] for each,
    /// flushing once per free slot run rather than per frame).
    pub async fn send_all<'f>(&mut self, frames: impl IntoIterator<Item = &'f [u8]>) -> Result<()> {
        for f in frames {
            self.fd.get_mut().0.check_len(f.len())?;
            let mut nap = NAP_MIN;
            loop {
                let inj = &mut self.fd.get_mut().0;
                if let Some(mut slot) = inj.slot() {
                    slot.buf()[..f.len()].copy_from_slice(f);
                    slot.send(f.len())?;
                    break;
                }
                inj.flush()?;
                if inj.has_free_slot() {
                    continue;
                }
                self.wait_and_flush(&mut nap).await?;
            }
        }
        self.fd.get_mut().0.flush()
    }

    /// Wait (asynchronously) until the kernel has taken every queued frame.
    pub async fn drained(&mut self) -> Result<()> {
        let mut nap = NAP_MIN;
        self.fd.get_mut().0.flush()?;
        while self.fd.get_mut().0.stats().pending > 0 {
            self.wait_and_flush(&mut nap).await?;
        }
        Ok(())
    }
}

/// A two-way bridge between interfaces A and B on tokio's reactor: the
/// [`Bridge`](crate::Bridge) shape (captures with `ignore_outgoing`, frames
/// forwarded unchanged, byte for byte, a stripped VLAN tag put back, a
/// callback that may drop), driven by `.await`s. Backpressure: while the
/// far side's injector is full, forwarding waits (asynchronously) and the
/// captured block stays held, so the pressure reaches the capture ring
/// instead of frames being thrown away.
#[derive(Debug)]
pub struct AsyncBridge {
    cap: [AsyncCapture; 2],
    inj: [AsyncInjector; 2],
    stats: [BridgeStats; 2],
    reported: Reported<[BridgeStats; 2]>,
}

impl AsyncBridge {
    /// Open captures and injectors on `a` and `b` (in the calling thread's
    /// network namespace) and register them with the current runtime.
    pub fn open(a: &str, b: &str, cfg: &BridgeConfig) -> Result<AsyncBridge> {
        let ccfg = crate::afpacket::bridge::side_config(a, b, cfg)?;
        Ok(AsyncBridge {
            cap: [
                AsyncCapture::new(Capture::open(a, &ccfg)?)?,
                AsyncCapture::new(Capture::open(b, &ccfg)?)?,
            ],
            inj: [
                AsyncInjector::new(Injector::open(b, &cfg.inject)?)?,
                AsyncInjector::new(Injector::open(a, &cfg.inject)?)?,
            ],
            stats: [BridgeStats::default(); 2],
            reported: Reported::default(),
        })
    }

    /// Forward frames both ways until an error (an interface removed:
    /// [`crate::ErrorKind::InterfaceGone`]); it never returns `Ok` by
    /// itself: stop it by dropping the future (`tokio::select!`,
    /// `tokio::time::timeout`, aborting its task), which is safe at any
    /// `.await`: a frame is either queued whole or not at all. `f` sees
    /// every frame first (its data is valid during the call only).
    pub async fn run(
        &mut self,
        mut f: impl FnMut(BridgeDirection, &Packet<'_>) -> Verdict,
    ) -> Result<()> {
        let [cap_a, cap_b] = &mut self.cap;
        loop {
            // The first side with a ready block (both futures are
            // cancel-safe: the other one takes nothing).
            let (i, batch) = {
                let mut fa = std::pin::pin!(cap_a.next_batch());
                let mut fb = std::pin::pin!(cap_b.next_batch());
                std::future::poll_fn(|cx| {
                    if let Poll::Ready(r) = fa.as_mut().poll(cx) {
                        return Poll::Ready(r.map(|b| (0, b)));
                    }
                    fb.as_mut().poll(cx).map(|r| r.map(|b| (1, b)))
                })
                .await?
            };
            let dir = if i == 0 {
                BridgeDirection::AToB
            } else {
                BridgeDirection::BToA
            };
            let (inj, st) = (&mut self.inj[i], &mut self.stats[i]);
            for p in batch.iter() {
                if f(dir, &p) == Verdict::Drop {
                    st.dropped += 1;
                    continue;
                }
                if inj.forward(&p).await? {
                    st.forwarded += 1;
                } else {
                    st.failed += 1;
                }
            }
            drop(batch);
            inj.get_mut().flush()?;
        }
    }

    /// Per-direction counters: `[A→B, B→A]` (`failed`: frames too big for
    /// the far side; nothing fails for lack of room).
    pub fn stats(&mut self) -> Result<[BridgeStats; 2]> {
        for i in 0..2 {
            self.stats[i].capture_drops = self.cap[i].get_mut().stats()?.drops;
        }
        Ok(self.stats)
    }

    /// Per-direction counters and the change since the previous call of
    /// this function (see [`crate::stats`]).
    pub fn stats_with_delta(&mut self) -> Result<([BridgeStats; 2], [BridgeStats; 2])> {
        let now = self.stats()?;
        Ok(self.reported.report(now))
    }

    /// Wait (asynchronously) until both injectors handed every frame to
    /// the kernel.
    pub async fn drained(&mut self) -> Result<()> {
        self.inj[0].drained().await?;
        self.inj[1].drained().await
    }
}

impl AsyncInjector {
    /// Copy `p` into the next slot (waiting for one), re-inserting a VLAN
    /// tag the kernel stripped; no flush. `Ok(false)`: it cannot fit.
    async fn forward(&mut self, p: &Packet<'_>) -> Result<bool> {
        let cap = self.get_ref().slot_capacity();
        let Some(frame) = TaggedFrame::of(p).filter(|f| f.size() <= cap) else {
            return Ok(false);
        };
        let mut nap = NAP_MIN;
        loop {
            let inj = &mut self.fd.get_mut().0;
            if let Some(mut slot) = inj.slot() {
                frame.write_to(slot.buf());
                return match slot.send(frame.size()) {
                    Ok(()) => Ok(true),
                    Err(e) if e.kind() == crate::ErrorKind::TooBig => Ok(false),
                    Err(e) => Err(e),
                };
            }
            inj.flush()?;
            if inj.has_free_slot() {
                continue;
            }
            self.wait_and_flush(&mut nap).await?;
        }
    }
}
