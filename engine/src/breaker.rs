//! [`Breaker`]: stops a blocked or future wait of an engine, from another
//! thread or a signal handler. Shared by capture, AF_XDP and the bridge.

use std::os::fd::RawFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::error::{Error, Result};
use crate::sys::socket::EventFd;

#[derive(Debug)]
struct Inner {
    flag: AtomicBool,
    efd: EventFd,
}

/// Stops a blocked or future wait of the engine it came from. Cheap to
/// clone; `Send` and `Sync`; [`Breaker::break_loop`] is async-signal-safe.
#[derive(Debug, Clone)]
pub struct Breaker(Arc<Inner>);

impl Breaker {
    pub(crate) fn new() -> Result<Breaker> {
        let efd = EventFd::new().map_err(|e| Error::os("eventfd", e))?;
        Ok(Breaker(Arc::new(Inner {
            flag: AtomicBool::new(false),
            efd,
        })))
    }

    /// Make the engine's current or next wait return early
    /// ([`crate::Wait::Interrupted`]). Only an atomic store and a `write(2)`:
    /// safe in a signal handler and from any thread.
    pub fn break_loop(&self) {
        self.0.flag.store(true, Ordering::Release);
        EventFd::signal_raw(self.0.efd.raw());
    }

    /// Consume a pending break request (and reset the wake-up fd); true
    /// when there was one. For callers that check for a break between
    /// packets they hand out, as libpcap's read loops do.
    pub fn take_request(&self) -> bool {
        self.take()
    }

    /// Consume a pending break request (and reset the wake-up fd).
    pub(crate) fn take(&self) -> bool {
        let hit = self.0.flag.swap(false, Ordering::AcqRel);
        if hit {
            self.0.efd.drain();
        }
        hit
    }

    /// Whether a break request is pending (not consumed: the wait's loop
    /// takes it).
    pub(crate) fn pending(&self) -> bool {
        self.0.flag.load(Ordering::Acquire)
    }

    /// The wake-up descriptor to poll for POLLIN next to the engine's fds.
    pub(crate) fn fd(&self) -> RawFd {
        self.0.efd.raw()
    }

    /// Reset the wake-up fd after poll saw it readable; the flag is checked
    /// separately with [`Breaker::take`], so a late write cannot leave the
    /// fd readable (a busy loop).
    pub(crate) fn drain(&self) {
        self.0.efd.drain();
    }
}
