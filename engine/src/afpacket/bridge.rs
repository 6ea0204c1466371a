//! [`Bridge`]: forward frames between two interfaces, both directions.
//!
//! Each side has a [`Capture`] (promiscuous, `ignore_outgoing` so the
//! bridge never re-captures what it injects itself) and an [`Injector`];
//! frames captured on one side are copied into the other side's injector
//! slots unchanged, byte for byte (a VLAN tag the kernel stripped into the
//! metadata is put back). An optional callback sees every frame first and
//! may drop it. One thread runs both directions; [`Breaker`] stops it
//! from any thread or a signal handler.

use std::time::Duration;

use super::capture::{Capture, CaptureConfig, Wait};
use super::inject::{Injector, InjectorConfig};
use super::vlan::TaggedFrame;
use crate::breaker::Breaker;
use crate::error::{Error, ErrorKind, Result};
use crate::packet::Packet;
use crate::stats::{Reported, counters};
use crate::sys::socket::{self};

/// Which way a frame goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BridgeDirection {
    /// Captured on interface A, injected on B.
    AToB = 0,
    /// Captured on interface B, injected on A.
    BToA = 1,
}

/// What the callback decides for a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Send it on unchanged.
    Forward,
    /// Do not send it.
    Drop,
}

/// Bridge configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BridgeConfig {
    /// Capture settings for both sides (`ignore_outgoing` is always on).
    /// Default: 1 MiB x 16 blocks, 1 ms block timeout (latency),
    /// promiscuous.
    pub capture: CaptureConfig,
    /// Injector settings for both sides. Default [`InjectorConfig`]'s.
    pub inject: InjectorConfig,
}

impl Default for BridgeConfig {
    fn default() -> Self {
        BridgeConfig {
            capture: CaptureConfig {
                block_size: 1 << 20,
                block_count: 16,
                block_timeout_ms: 1,
                ..CaptureConfig::default()
            },
            inject: InjectorConfig::default(),
        }
    }
}

/// Per-direction counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BridgeStats {
    /// Frames queued on the far side.
    pub forwarded: u64,
    /// Frames the callback dropped.
    pub dropped: u64,
    /// Frames that could not be forwarded: too big for the far side, or
    /// its ring stayed full for 100 ms.
    pub failed: u64,
    /// Frames the kernel dropped on the capture side (ring full).
    pub capture_drops: u64,
}

counters!(BridgeStats {
    forwarded,
    dropped,
    failed,
    capture_drops
});

/// A two-way bridge between interfaces A and B.
#[derive(Debug)]
pub struct Bridge {
    cap: [Capture; 2],
    inj: [Injector; 2],
    brk: Breaker,
    stats: [BridgeStats; 2],
    reported: Reported<[BridgeStats; 2]>,
}

/// Copy `p` into the next slot of `inj`, re-inserting a stripped VLAN tag.
/// Ok(false): no slot came free within 100 ms, or the frame does not fit.
fn forward(inj: &mut Injector, p: &Packet<'_>) -> Result<bool> {
    let Some(frame) = TaggedFrame::of(p).filter(|f| f.size() <= inj.slot_capacity()) else {
        return Ok(false);
    };
    let Some(mut slot) = inj.slot_timeout(Some(Duration::from_millis(100)))? else {
        return Ok(false);
    };
    frame.write_to(slot.buf());
    match slot.send(frame.size()) {
        Ok(()) => Ok(true),
        Err(e) if matches!(e.kind(), ErrorKind::TooBig | ErrorKind::InvalidArgument) => Ok(false),
        Err(e) => Err(e),
    }
}

/// One direction: take a ready block from `cap` (if any) and forward it.
fn pump(
    cap: &mut Capture,
    inj: &mut Injector,
    st: &mut BridgeStats,
    dir: BridgeDirection,
    f: &mut dyn FnMut(BridgeDirection, &Packet<'_>) -> Verdict,
    wait: Option<Duration>,
) -> Result<bool> {
    let mut err = None;
    match cap.next_batch_timeout(wait)? {
        Wait::Ready(mut b) => {
            b.for_each(|p| {
                if f(dir, p) == Verdict::Drop {
                    st.dropped += 1;
                    return true;
                }
                match forward(inj, p) {
                    Ok(true) => st.forwarded += 1,
                    Ok(false) => st.failed += 1,
                    Err(e) => {
                        err = Some(e);
                        return false;
                    }
                }
                true
            });
        }
        _ => return Ok(false),
    }
    if let Some(e) = err {
        return Err(e);
    }
    inj.flush()?;
    Ok(true)
}

/// The capture configuration of both sides of a bridge between `a` and
/// `b` (which must differ): the bridge's, never seeing what it sends.
pub(crate) fn side_config(a: &str, b: &str, cfg: &BridgeConfig) -> Result<CaptureConfig> {
    if a == b {
        return Err(Error::invalid_arg(format!(
            "both sides of the bridge are '{a}': give two different interfaces"
        )));
    }
    Ok(CaptureConfig {
        ignore_outgoing: true,
        ..cfg.capture.clone()
    })
}

impl Bridge {
    /// Open captures and injectors on `a` and `b` (in the calling thread's
    /// network namespace).
    pub fn open(a: &str, b: &str, cfg: &BridgeConfig) -> Result<Bridge> {
        let ccfg = side_config(a, b, cfg)?;
        let cap = [Capture::open(a, &ccfg)?, Capture::open(b, &ccfg)?];
        let inj = [
            Injector::open(b, &cfg.inject)?,
            Injector::open(a, &cfg.inject)?,
        ];
        Ok(Bridge {
            cap,
            inj,
            brk: Breaker::new()?,
            stats: [BridgeStats::default(); 2],
            reported: Reported::default(),
        })
    }

    /// A handle that stops [`Bridge::run`] from any thread or a signal
    /// handler.
    pub fn breaker(&self) -> Breaker {
        self.brk.clone()
    }

    /// Forward frames both ways until [`Breaker::break_loop`] (then
    /// `Ok(())`; the request is consumed) or an error (an interface was
    /// removed: [`ErrorKind::InterfaceGone`]). `f` sees every frame before
    /// it is forwarded; its data is valid only during the call.
    pub fn run(
        &mut self,
        mut f: impl FnMut(BridgeDirection, &Packet<'_>) -> Verdict,
    ) -> Result<()> {
        let dirs = [BridgeDirection::AToB, BridgeDirection::BToA];
        loop {
            if self.brk.take() {
                return Ok(());
            }
            let mut busy = false;
            for (i, &dir) in dirs.iter().enumerate() {
                busy |= pump(
                    &mut self.cap[i],
                    &mut self.inj[i],
                    &mut self.stats[i],
                    dir,
                    &mut f,
                    Some(Duration::ZERO),
                )?;
            }
            if busy {
                continue;
            }
            let mut fds = [
                socket::pollin(self.brk.fd()),
                socket::pollin(self.cap[0].fd()),
                socket::pollin(self.cap[1].fd()),
            ];
            socket::poll(&mut fds, 100).map_err(|e| Error::os("poll", e))?;
            if fds[0].revents & libc::POLLIN != 0 {
                self.brk.drain();
                if self.brk.take() {
                    return Ok(());
                }
            }
            for (i, &dir) in dirs.iter().enumerate() {
                if fds[i + 1].revents & (libc::POLLERR | libc::POLLHUP | libc::POLLNVAL) != 0 {
                    // Let the capture read and judge the socket error
                    // (down: sleeps in its own wait; removed: an error).
                    pump(
                        &mut self.cap[i],
                        &mut self.inj[i],
                        &mut self.stats[i],
                        dir,
                        &mut f,
                        Some(Duration::from_millis(10)),
                    )?;
                }
            }
        }
    }

    /// Per-direction counters: `[A→B, B→A]`.
    pub fn stats(&mut self) -> Result<[BridgeStats; 2]> {
        for i in 0..2 {
            self.stats[i].capture_drops = self.cap[i].stats()?.drops;
        }
        Ok(self.stats)
    }

    /// Per-direction counters and the change since the previous call of
    /// this function (see [`crate::stats`]).
    pub fn stats_with_delta(&mut self) -> Result<([BridgeStats; 2], [BridgeStats; 2])> {
        let now = self.stats()?;
        Ok(self.reported.report(now))
    }

    /// Flush and wait up to `timeout` for both injectors to drain.
    pub fn drain(&mut self, timeout: Option<Duration>) -> Result<bool> {
        let a = self.inj[0].wait_drained(timeout)?;
        let b = self.inj[1].wait_drained(timeout)?;
        Ok(a && b)
    }
}
