//! Statistics: one shape for every engine object.
//!
//! [`Capture`](crate::Capture), [`Xdp`](crate::Xdp),
//! [`Injector`](crate::Injector), [`Bridge`](crate::Bridge),
//! [`ChannelCapture`](crate::ChannelCapture),
//! [`Writer`](crate::pcapfile::Writer) (and, with the `tokio` feature,
//! `AsyncBridge`) each have
//!
//! * `stats()`: the lifetime totals, and
//! * `stats_with_delta()`: the totals and the change since the previous
//!   `stats_with_delta()` call (since the object was opened, the first
//!   time), for a monitor that prints rates every second.
//!
//! Counters only grow, so the delta of a counter is a subtraction; a gauge
//! (a level such as an injector's free slots) is reported at its current
//! value in both. `stats()` does not move the delta's starting point. The
//! C API's `nr_*_get_stats(h, total, delta)` only converts these.
//!
//! ```no_run
//! # fn main() -> netring_engine::Result<()> {
//! use netring_engine::{Capture, CaptureConfig};
//! let mut cap = Capture::open("eth0", &CaptureConfig::default())?;
//! // ... capture for a second ...
//! let (total, delta) = cap.stats_with_delta()?;
//! println!("{} packets ({} in the last second), {} drops", total.packets, delta.packets, total.drops);
//! # Ok(())
//! # }
//! ```

/// A statistics struct: counters that can be subtracted.
pub trait Counters: Copy + Default {
    /// The change from `earlier` to `self`: counters are subtracted,
    /// gauges keep their current value.
    fn since(&self, earlier: &Self) -> Self;
}

impl<T: Counters> Counters for [T; 2] {
    fn since(&self, earlier: &Self) -> Self {
        [self[0].since(&earlier[0]), self[1].since(&earlier[1])]
    }
}

/// `impl Counters` for a statistics struct: the counters listed are
/// subtracted (wrapping, so a kernel counter that went backwards cannot
/// panic), the gauges listed keep their current value.
macro_rules! counters {
    ($t:ty { $($c:ident),* $(,)? } $(gauges { $($g:ident),* $(,)? })?) => {
        impl $crate::stats::Counters for $t {
            fn since(&self, e: &Self) -> Self {
                Self {
                    $($c: self.$c.wrapping_sub(e.$c),)*
                    $($($g: self.$g,)*)?
                }
            }
        }
    };
}
pub(crate) use counters;

/// The bookkeeping behind every `stats_with_delta()`: what the previous
/// call reported.
#[derive(Debug, Clone, Copy, Default)]
pub struct Reported<T>(T);

impl<T: Counters> Reported<T> {
    /// `(now, the change since the previous report)`; `now` becomes the
    /// previous report.
    pub fn report(&mut self, now: T) -> (T, T) {
        let delta = now.since(&self.0);
        self.0 = now;
        (now, delta)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, Copy, Default, PartialEq)]
    struct S {
        count: u64,
        level: u32,
    }

    impl Counters for S {
        fn since(&self, e: &Self) -> Self {
            S {
                count: self.count - e.count,
                ..*self
            }
        }
    }

    #[test]
    fn deltas_subtract_counters_and_keep_gauges() {
        let mut r = Reported::default();
        let s = |count, level| S { count, level };
        assert_eq!(r.report(s(5, 3)), (s(5, 3), s(5, 3)));
        assert_eq!(r.report(s(8, 1)), (s(8, 1), s(3, 1)));
        assert_eq!(r.report(s(8, 7)), (s(8, 7), s(0, 7)));
        let mut pair = Reported::default();
        pair.report([s(1, 0), s(2, 0)]);
        assert_eq!(pair.report([s(4, 0), s(2, 9)]).1, [s(3, 0), s(0, 9)]);
    }

    #[test]
    fn engine_stats_keep_their_gauges() {
        let inj = |sent, pending| crate::InjectorStats {
            sent,
            pending,
            available: 10 - pending,
            ..Default::default()
        };
        let d = inj(7, 3).since(&inj(2, 9));
        assert_eq!((d.sent, d.pending, d.available), (5, 3, 7));
        let br = |forwarded| crate::BridgeStats {
            forwarded,
            ..Default::default()
        };
        assert_eq!([br(5), br(9)].since(&[br(1), br(9)]), [br(4), br(0)]);
        let ch = |queued, packets| crate::ChannelStats {
            queued,
            capture: crate::CaptureStats {
                packets,
                ..Default::default()
            },
            ..Default::default()
        };
        assert_eq!(ch(9, 20).since(&ch(4, 5)), ch(5, 15));
    }
}
