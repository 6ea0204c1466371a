//! The environment: every `NETRING_PCAP_*` variable, read once per process
//! into one [`Config`] (a bad value fails every activation with a message
//! naming the variable, as libpcap would fail on a bad argument).
//!
//! - `NETRING_PCAP_ENGINE`: `afpacket` (default), `libpcap` (every call
//!   goes to the system's libpcap), `xdp[:QUEUE][:native|generic]`.
//! - `NETRING_PCAP_RING`: ring size, bytes or with a K/M/G suffix.
//! - `NETRING_PCAP_BUSY_POLL`: microseconds an immediate-mode handle's wait
//!   spins on its ring before it sleeps (0, the default: none); see
//!   `CaptureConfig::busy_poll_us`.
//! - `NETRING_PCAP_FANOUT`: `MODE:GROUP[:FLAG,...]`, or `none`: several
//!   handles of one device in one process then do not split its traffic
//!   (see [`crate::live::split`]).
//! - PF_RING's libpcap variables, which deployments already set (zeekctl's
//!   `lb_method=pf_ring`): `PCAP_PF_RING_CLUSTER_ID=ID` puts every capture
//!   the process opens on a device into kernel fanout group ID, with the
//!   distribution the `PCAP_PF_RING_USE_CLUSTER_*` variable names (see
//!   [`pf_ring`]). `NETRING_PCAP_FANOUT` wins when both are set.

use std::sync::OnceLock;

use netring_engine::afxdp::AttachMode;
use netring_engine::{Fanout, FanoutFlags, FanoutMode, FlowKey};

/// PF_RING's cluster id variable.
pub const PF_RING_CLUSTER_ID: &str = "PCAP_PF_RING_CLUSTER_ID";
/// `NETRING_PCAP_FANOUT`.
pub const FANOUT_VAR: &str = "NETRING_PCAP_FANOUT";

/// The engine `NETRING_PCAP_ENGINE` selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// TPACKET_V3 (the default).
    AfPacket,
    /// Everything goes to the system's libpcap.
    Libpcap,
    /// AF_XDP on one queue (None: every RX queue), attached natively,
    /// generically or whichever works.
    Xdp(Option<u32>, AttachMode),
}

/// The drop-in's settings from the environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `NETRING_PCAP_ENGINE`.
    pub engine: Engine,
    /// `NETRING_PCAP_RING` (None: the handle's buffer size or the default).
    pub ring: Option<u64>,
    /// `NETRING_PCAP_BUSY_POLL`, microseconds (0: none).
    pub busy_poll_us: u32,
    /// The fanout group every capture joins: `NETRING_PCAP_FANOUT`, or
    /// PF_RING's variables.
    pub fanout: Option<Fanout>,
    /// The setting `fanout` comes from (for messages), e.g.
    /// `PCAP_PF_RING_CLUSTER_ID=7`.
    pub fanout_from: Option<String>,
    /// Several handles of one device in one process split its traffic
    /// (false with `NETRING_PCAP_FANOUT=none`).
    pub split: bool,
    /// Said once on standard error when the variables are first read
    /// (both fanout settings given: which one wins).
    pub warning: Option<String>,
}

/// What the environment says, read on first use: the config, or the
/// message of the first bad variable.
pub fn get() -> &'static Result<Config, String> {
    static CONFIG: OnceLock<Result<Config, String>> = OnceLock::new();
    CONFIG.get_or_init(|| {
        let c = from_vars(|name| std::env::var(name).ok());
        if let Ok(Config {
            warning: Some(w), ..
        }) = &c
        {
            eprintln!("netring libpcap: warning: {w}");
        }
        c
    })
}

/// The engine the environment selects, `AfPacket` when a variable is bad
/// (activation then reports it).
pub fn engine() -> Engine {
    get().as_ref().map_or(Engine::AfPacket, |c| c.engine)
}

/// A config from variable values (`var(name)`: None when unset).
pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Config, String> {
    let engine = match var("NETRING_PCAP_ENGINE") {
        Some(v) => parse_engine(&v)?,
        None => Engine::AfPacket,
    };
    if engine == Engine::Libpcap {
        // The system's libpcap does everything: the other variables do
        // not apply.
        return Ok(Config {
            engine,
            ring: None,
            busy_poll_us: 0,
            fanout: None,
            fanout_from: None,
            split: false,
            warning: None,
        });
    }
    let ring = match var("NETRING_PCAP_RING") {
        Some(v) => Some(parse_size(&v).filter(|r| *r >= 2 << 20).ok_or_else(|| {
            format!(
                "NETRING_PCAP_RING='{v}': expected a ring size of at least 2M, in bytes or with \
                 a K/M/G suffix (example: 256M)"
            )
        })?),
        None => None,
    };
    let busy_poll_us = match var("NETRING_PCAP_BUSY_POLL") {
        Some(v) => v
            .trim()
            .parse::<u32>()
            .ok()
            .filter(|&us| us <= 10_000_000)
            .ok_or_else(|| {
                format!(
                    "NETRING_PCAP_BUSY_POLL='{v}': expected microseconds from 0 to 10000000 \
                     that an immediate-mode wait spins before it sleeps (example: 2000)"
                )
            })?,
        None => 0,
    };
    let split = var(FANOUT_VAR).as_deref() != Some("none");
    let ours = match var(FANOUT_VAR) {
        Some(v) if v == "none" => None,
        Some(v) => Some((parse_fanout(&v)?, format!("{FANOUT_VAR}={v}"))),
        None => None,
    };
    let theirs = pf_ring(&var)?;
    let warning = match (&ours, &theirs) {
        (Some((_, o)), Some((_, t))) => Some(format!(
            "{o} and {t} are both set: {FANOUT_VAR} wins, the PF_RING variables are ignored"
        )),
        _ => None,
    };
    let (fanout, fanout_from) = match ours.or(theirs) {
        Some((f, from)) => (Some(f), Some(from)),
        None => (None, None),
    };
    Ok(Config {
        engine,
        ring,
        busy_poll_us,
        fanout,
        fanout_from,
        split,
        warning,
    })
}

/// PF_RING's per-flow variables in the order its libpcap tests them
/// (`userland/libpcap-1.10.1/pcap-linux.c`: the first one set wins, its
/// value does not matter) and the distribution each becomes. None: the
/// variable names a PF_RING mode netring has no kernel equivalent for.
#[allow(clippy::type_complexity)]
const PF_RING_MODES: [(&str, Option<fn() -> (FanoutMode, FanoutFlags)>); 14] = [
    ("PCAP_PF_RING_USE_CLUSTER_PER_FLOW", Some(hash)),
    ("PCAP_PF_RING_USE_CLUSTER_PER_FLOW_2_TUPLE", Some(two_tuple)),
    ("PCAP_PF_RING_USE_CLUSTER_PER_FLOW_4_TUPLE", Some(hash)),
    (
        "PCAP_PF_RING_USE_CLUSTER_PER_FLOW_TCP_5_TUPLE",
        Some(tcp_five_tuple),
    ),
    ("PCAP_PF_RING_USE_CLUSTER_ROUNDROBIN", Some(round_robin)),
    ("PCAP_PF_RING_USE_CLUSTER_PER_INNER_FLOW", None),
    ("PCAP_PF_RING_USE_CLUSTER_PER_INNER_FLOW_2_TUPLE", None),
    ("PCAP_PF_RING_USE_CLUSTER_PER_INNER_FLOW_4_TUPLE", None),
    ("PCAP_PF_RING_USE_CLUSTER_PER_INNER_FLOW_5_TUPLE", None),
    ("PCAP_PF_RING_USE_CLUSTER_PER_INNER_FLOW_TCP_5_TUPLE", None),
    ("PCAP_PF_RING_USE_CLUSTER_PER_FLOW_IP_5_TUPLE", None),
    ("PCAP_PF_RING_USE_CLUSTER_PER_INNER_FLOW_IP_5_TUPLE", None),
    ("PCAP_PF_RING_USE_CLUSTER_PER_FLOW_IP_WITH_DUP_TUPLE", None),
    // PF_RING's default (no per-flow variable) is the 5-tuple.
    ("PCAP_PF_RING_USE_CLUSTER_PER_FLOW_5_TUPLE", Some(hash)),
];

/// netring's symmetric flow hash (addresses and TCP/UDP/SCTP ports), with
/// IP fragments reassembled first so that a datagram stays together, and
/// exactly-once joins (`FanoutMode::Flow`: a worker starting under
/// traffic gets frames from the moment it is ready, none before).
fn hash() -> (FanoutMode, FanoutFlags) {
    (FanoutMode::Flow(FlowKey::FiveTuple), FanoutFlags::DEFRAG)
}

fn two_tuple() -> (FanoutMode, FanoutFlags) {
    (FanoutMode::Flow(FlowKey::TwoTuple), FanoutFlags::DEFRAG)
}

fn tcp_five_tuple() -> (FanoutMode, FanoutFlags) {
    (FanoutMode::Flow(FlowKey::TcpFiveTuple), FanoutFlags::DEFRAG)
}

fn round_robin() -> (FanoutMode, FanoutFlags) {
    (FanoutMode::LoadBalance, FanoutFlags::empty())
}

/// PF_RING's variables as a fanout group and the setting it came from:
/// `PCAP_PF_RING_CLUSTER_ID` is the group id (1..=65535: every id PF_RING
/// takes, 1..=254, means the same group in every process); the first
/// per-flow variable set (PF_RING's order, [`PF_RING_MODES`]) chooses the
/// distribution, the 5-tuple when none is (PF_RING's default). A per-flow
/// variable without a cluster id does nothing, as in PF_RING.
pub fn pf_ring(var: &impl Fn(&str) -> Option<String>) -> Result<Option<(Fanout, String)>, String> {
    let Some(id) = var(PF_RING_CLUSTER_ID) else {
        return Ok(None);
    };
    let group = id
        .trim()
        .parse::<u16>()
        .ok()
        .filter(|g| *g > 0)
        .ok_or_else(|| {
            format!(
                "{PF_RING_CLUSTER_ID}='{id}': expected a cluster id from 1 to 65535 (PF_RING \
                 takes 1 to 254); captures with the same id share one kernel fanout group"
            )
        })?;
    let (name, mode) = PF_RING_MODES
        .iter()
        .find(|(name, _)| var(name).is_some())
        .copied()
        .unwrap_or(PF_RING_MODES[PF_RING_MODES.len() - 1]);
    let Some(mode) = mode else {
        return Err(format!(
            "{name}: this PF_RING distribution has no kernel fanout equivalent in netring; use \
             PCAP_PF_RING_USE_CLUSTER_PER_FLOW (flow hash), _2_TUPLE, _4_TUPLE, _5_TUPLE, \
             _TCP_5_TUPLE or _ROUNDROBIN"
        ));
    };
    let (mode, flags) = mode();
    let from = if var(name).is_some() {
        format!("{PF_RING_CLUSTER_ID}={id} with {name}")
    } else {
        format!("{PF_RING_CLUSTER_ID}={id}")
    };
    Ok(Some((Fanout { group, mode, flags }, from)))
}

/// Parse a size: bytes, or with a K/M/G suffix (powers of 1024).
pub fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let (num, mul) = match s.chars().last()? {
        'k' | 'K' => (&s[..s.len() - 1], 1u64 << 10),
        'm' | 'M' => (&s[..s.len() - 1], 1 << 20),
        'g' | 'G' => (&s[..s.len() - 1], 1 << 30),
        _ => (s, 1),
    };
    num.parse::<u64>().ok()?.checked_mul(mul)
}

/// `NETRING_PCAP_FANOUT=MODE:GROUP[:FLAG,...]`.
pub fn parse_fanout(s: &str) -> Result<Fanout, String> {
    let bad = || {
        format!(
            "NETRING_PCAP_FANOUT='{s}': expected MODE:GROUP[:FLAGS] with MODE one of flow, hash, \
             lb, cpu, rollover, random, qm, GROUP 0..65535 and FLAGS a comma list of defrag, \
             rollover, ignore_outgoing (example: hash:42)"
        )
    };
    let mut it = s.split(':');
    let mode = match it.next().unwrap_or("") {
        "hash" => FanoutMode::Hash,
        "flow" => FanoutMode::Flow(FlowKey::FiveTuple),
        "lb" => FanoutMode::LoadBalance,
        "cpu" => FanoutMode::Cpu,
        "rollover" => FanoutMode::Rollover,
        "random" | "rnd" => FanoutMode::Random,
        "qm" => FanoutMode::QueueMapping,
        _ => return Err(bad()),
    };
    let group: u16 = it.next().and_then(|g| g.parse().ok()).ok_or_else(bad)?;
    let mut flags = FanoutFlags::empty();
    if let Some(fl) = it.next() {
        for f in fl.split(',') {
            flags |= match f {
                "defrag" => FanoutFlags::DEFRAG,
                "rollover" => FanoutFlags::ROLLOVER,
                "ignore_outgoing" => FanoutFlags::IGNORE_OUTGOING,
                _ => return Err(bad()),
            };
        }
    }
    if it.next().is_some() {
        return Err(bad());
    }
    Ok(Fanout { group, mode, flags })
}

/// `NETRING_PCAP_ENGINE`: `afpacket` (or empty), `libpcap`,
/// `xdp[:QUEUE][:native|generic]`.
pub fn parse_engine(v: &str) -> Result<Engine, String> {
    let bad = || {
        format!(
            "NETRING_PCAP_ENGINE='{v}': expected afpacket (default), libpcap, or \
             xdp[:QUEUE][:native|generic] (examples: xdp, xdp:0, xdp:generic, xdp:2:native)"
        )
    };
    match v {
        "" | "afpacket" => return Ok(Engine::AfPacket),
        "libpcap" => return Ok(Engine::Libpcap),
        _ => {}
    }
    let mut it = v.split(':');
    if it.next() != Some("xdp") {
        return Err(bad());
    }
    let (mut queue, mut attach) = (None, AttachMode::Auto);
    let mut seen_attach = false;
    for part in it {
        if seen_attach {
            return Err(bad());
        }
        match part {
            "native" => {
                attach = AttachMode::Native;
                seen_attach = true;
            }
            "generic" => {
                attach = AttachMode::Generic;
                seen_attach = true;
            }
            q if queue.is_none() => queue = Some(q.parse::<u32>().map_err(|_| bad())?),
            _ => return Err(bad()),
        }
    }
    Ok(Engine::Xdp(queue, attach))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_values() {
        assert_eq!(parse_size("256M"), Some(256 << 20));
        assert_eq!(parse_size("4096"), Some(4096));
        assert_eq!(parse_size("x"), None);
        let f = parse_fanout("hash:42").unwrap();
        assert_eq!((f.group, f.mode), (42, FanoutMode::Hash));
        assert!(parse_fanout("lb:7:defrag,rollover").is_ok());
        assert!(parse_fanout("hash").is_err());
        assert!(parse_fanout("bogus:1").is_err());
        assert!(parse_fanout("hash:70000").is_err());
    }

    #[test]
    fn config_from_vars() {
        let none = from_vars(|_| None).unwrap();
        assert_eq!(
            none,
            Config {
                engine: Engine::AfPacket,
                ring: None,
                busy_poll_us: 0,
                fanout: None,
                fanout_from: None,
                split: true,
                warning: None,
            }
        );
        let c = from_vars(|n| match n {
            "NETRING_PCAP_RING" => Some("64M".into()),
            "NETRING_PCAP_ENGINE" => Some("afpacket".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!((c.engine, c.ring), (Engine::AfPacket, Some(64 << 20)));
        // With the system's libpcap doing everything, the others do not
        // apply (nor fail).
        let c = from_vars(|n| match n {
            "NETRING_PCAP_RING" => Some("bad".into()),
            "NETRING_PCAP_ENGINE" => Some("libpcap".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!((c.engine, c.ring), (Engine::Libpcap, None));
        let e = from_vars(|n| (n == "NETRING_PCAP_RING").then(|| "1M".into())).unwrap_err();
        assert!(e.starts_with("NETRING_PCAP_RING='1M'"), "{e}");
        let c = from_vars(|n| (n == "NETRING_PCAP_BUSY_POLL").then(|| "2000".into())).unwrap();
        assert_eq!(c.busy_poll_us, 2000);
        for bad in ["-1", "x", "10000001", ""] {
            let e = from_vars(|n| (n == "NETRING_PCAP_BUSY_POLL").then(|| bad.into())).unwrap_err();
            assert!(
                e.starts_with(&format!("NETRING_PCAP_BUSY_POLL='{bad}'")),
                "{e}"
            );
        }
        let e = from_vars(|n| (n == "NETRING_PCAP_FANOUT").then(|| "x".into())).unwrap_err();
        assert!(e.starts_with("NETRING_PCAP_FANOUT='x'"), "{e}");
    }

    #[test]
    fn engine_values() {
        assert_eq!(parse_engine(""), Ok(Engine::AfPacket));
        assert_eq!(parse_engine("afpacket"), Ok(Engine::AfPacket));
        assert_eq!(parse_engine("libpcap"), Ok(Engine::Libpcap));
        assert_eq!(parse_engine("xdp"), Ok(Engine::Xdp(None, AttachMode::Auto)));
        assert_eq!(
            parse_engine("xdp:3"),
            Ok(Engine::Xdp(Some(3), AttachMode::Auto))
        );
        assert_eq!(
            parse_engine("xdp:generic"),
            Ok(Engine::Xdp(None, AttachMode::Generic))
        );
        assert_eq!(
            parse_engine("xdp:1:native"),
            Ok(Engine::Xdp(Some(1), AttachMode::Native))
        );
        for bad in [
            "xdp:",
            "xdp:x",
            "xdp:1:2",
            "xdp:native:1",
            "xdp:generic:native",
            "bpf",
        ] {
            assert!(parse_engine(bad).is_err(), "{bad}");
        }
    }
}

#[cfg(test)]
mod pf_ring_tests {
    use super::*;

    fn vars(set: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |n| {
            set.iter()
                .find(|(k, _)| *k == n)
                .map(|(_, v)| v.to_string())
        }
    }

    /// The configuration of the variables `set` (valid ones).
    fn config(set: &'static [(&'static str, &'static str)]) -> Config {
        from_vars(vars(set)).unwrap()
    }

    #[test]
    fn pf_ring_variables_map_to_fanout_groups() {
        // zeekctl's lb_pf_ring: the id and PER_FLOW.
        let c = config(&[
            ("PCAP_PF_RING_CLUSTER_ID", "21"),
            ("PCAP_PF_RING_USE_CLUSTER_PER_FLOW", "1"),
        ]);
        let f = c.fanout.unwrap();
        assert_eq!(
            (f.group, f.mode, f.flags),
            (
                21,
                FanoutMode::Flow(FlowKey::FiveTuple),
                FanoutFlags::DEFRAG
            )
        );
        assert!(c.warning.is_none());
        // The id alone: PF_RING's default, the 5-tuple.
        let f = config(&[("PCAP_PF_RING_CLUSTER_ID", "3")]).fanout.unwrap();
        assert_eq!((f.group, f.mode), (3, FanoutMode::Flow(FlowKey::FiveTuple)));
        let mode = |v: &'static str| {
            let set: &'static [(&str, &str)] =
                Box::leak(Box::new([("PCAP_PF_RING_CLUSTER_ID", "9"), (v, "1")]));
            from_vars(vars(set)).map(|c| c.fanout.unwrap().mode)
        };
        assert_eq!(
            mode("PCAP_PF_RING_USE_CLUSTER_PER_FLOW_2_TUPLE"),
            Ok(FanoutMode::Flow(FlowKey::TwoTuple))
        );
        assert_eq!(
            mode("PCAP_PF_RING_USE_CLUSTER_PER_FLOW_TCP_5_TUPLE"),
            Ok(FanoutMode::Flow(FlowKey::TcpFiveTuple))
        );
        assert_eq!(
            mode("PCAP_PF_RING_USE_CLUSTER_PER_FLOW_4_TUPLE"),
            Ok(FanoutMode::Flow(FlowKey::FiveTuple))
        );
        assert_eq!(
            mode("PCAP_PF_RING_USE_CLUSTER_PER_FLOW_5_TUPLE"),
            Ok(FanoutMode::Flow(FlowKey::FiveTuple))
        );
        assert_eq!(
            mode("PCAP_PF_RING_USE_CLUSTER_ROUNDROBIN"),
            Ok(FanoutMode::LoadBalance)
        );
        let e = mode("PCAP_PF_RING_USE_CLUSTER_PER_INNER_FLOW").unwrap_err();
        assert!(
            e.starts_with("PCAP_PF_RING_USE_CLUSTER_PER_INNER_FLOW:"),
            "{e}"
        );
        // PF_RING's order: PER_FLOW before 2_TUPLE.
        let f = config(&[
            ("PCAP_PF_RING_CLUSTER_ID", "9"),
            ("PCAP_PF_RING_USE_CLUSTER_PER_FLOW_2_TUPLE", "1"),
            ("PCAP_PF_RING_USE_CLUSTER_PER_FLOW", "1"),
        ]);
        assert_eq!(f.fanout.unwrap().mode, FanoutMode::Flow(FlowKey::FiveTuple));
        // A per-flow variable without an id does nothing.
        let c = config(&[("PCAP_PF_RING_USE_CLUSTER_PER_FLOW", "1")]);
        assert!(c.fanout.is_none());
    }

    #[test]
    fn bad_cluster_ids_name_the_variable() {
        for bad in ["0", "x", "65536", "-1", ""] {
            let set: &'static [(&str, &str)] =
                Box::leak(Box::new([("PCAP_PF_RING_CLUSTER_ID", bad)]));
            let e = from_vars(vars(set)).unwrap_err();
            assert!(
                e.starts_with(&format!("PCAP_PF_RING_CLUSTER_ID='{bad}'")),
                "{e}"
            );
        }
    }

    #[test]
    fn netring_variable_wins_with_a_warning() {
        let c = config(&[
            ("PCAP_PF_RING_CLUSTER_ID", "21"),
            ("NETRING_PCAP_FANOUT", "lb:7"),
        ]);
        let f = c.fanout.unwrap();
        assert_eq!((f.group, f.mode), (7, FanoutMode::LoadBalance));
        assert_eq!(c.fanout_from.as_deref(), Some("NETRING_PCAP_FANOUT=lb:7"));
        let w = c.warning.unwrap();
        assert!(w.contains("NETRING_PCAP_FANOUT wins"), "{w}");
        assert!(w.contains("PCAP_PF_RING_CLUSTER_ID=21"), "{w}");
        // `none`: no group, and no split of one device's handles.
        let c = config(&[("NETRING_PCAP_FANOUT", "none")]);
        assert!(c.fanout.is_none() && !c.split);
        assert!(config(&[]).split);
    }
}
