//! The environment: every `NETRING_PCAP_*` variable, read once per process
//! into one [`Config`] (a bad value fails every activation with a message
//! naming the variable, as libpcap would fail on a bad argument).
//!
//! - `NETRING_PCAP_ENGINE`: `afpacket` (default), `libpcap` (every call
//!   goes to the system's libpcap), `xdp[:QUEUE][:native|generic]`.
//! - `NETRING_PCAP_RING`: ring size, bytes or with a K/M/G suffix.
//! - `NETRING_PCAP_FANOUT`: `MODE:GROUP[:FLAG,...]`.

use std::sync::OnceLock;

use netring_engine::afxdp::AttachMode;
use netring_engine::{Fanout, FanoutFlags, FanoutMode};

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
    /// `NETRING_PCAP_FANOUT`.
    pub fanout: Option<Fanout>,
}

/// What the environment says, read on first use: the config, or the
/// message of the first bad variable.
pub fn get() -> &'static Result<Config, String> {
    static CONFIG: OnceLock<Result<Config, String>> = OnceLock::new();
    CONFIG.get_or_init(|| from_vars(|name| std::env::var(name).ok()))
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
            fanout: None,
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
    let fanout = match var("NETRING_PCAP_FANOUT") {
        Some(v) => Some(parse_fanout(&v)?),
        None => None,
    };
    Ok(Config {
        engine,
        ring,
        fanout,
    })
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
            "NETRING_PCAP_FANOUT='{s}': expected MODE:GROUP[:FLAGS] with MODE one of hash, lb, \
             cpu, rollover, random, qm, GROUP 0..65535 and FLAGS a comma list of defrag, \
             rollover, ignore_outgoing (example: hash:42)"
        )
    };
    let mut it = s.split(':');
    let mode = match it.next().unwrap_or("") {
        "hash" => FanoutMode::Hash,
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
                fanout: None
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
