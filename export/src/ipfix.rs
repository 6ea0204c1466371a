//! IPFIX (RFC 7011) export of flow records over UDP.
//!
//! Two templates, one per address family (ID 256 for IPv4, 257 for IPv6),
//! each with these Information Elements (IANA numbers):
//!
//! | IE | name | length |
//! |---|---|---|
//! | 8 / 27 | sourceIPv4Address / sourceIPv6Address | 4 / 16 |
//! | 12 / 28 | destinationIPv4Address / destinationIPv6Address | 4 / 16 |
//! | 7 | sourceTransportPort | 2 |
//! | 11 | destinationTransportPort | 2 |
//! | 4 | protocolIdentifier | 1 |
//! | 6 | tcpControlBits | 2 |
//! | 58 | vlanId | 2 |
//! | 2 | packetDeltaCount | 8 |
//! | 1 | octetDeltaCount | 8 |
//! | 152 | flowStartMilliseconds | 8 |
//! | 153 | flowEndMilliseconds | 8 |
//! | 136 | flowEndReason | 1 |
//!
//! A bidirectional flow record becomes one or two unidirectional IPFIX
//! records (initiator → responder, and the reverse when it sent
//! anything), which every collector understands; non-IP flows are not
//! exported (counted in [`IpfixStats::skipped`]). The meter feeding it
//! should count IP bytes (`FlowConfig::ip_bytes`): that is what
//! `octetDeltaCount` means.
//!
//! Over UDP a collector that starts (or restarts) after the exporter
//! learns the templates only when they are sent again: RFC 7011 §8.4 asks
//! the exporter to re-send them periodically. They go out in the first
//! message, then again once [`IpfixConfig::template_interval`] has passed
//! or [`IpfixConfig::template_messages`] messages were sent, whichever
//! comes first. Messages stay within [`IpfixConfig::max_message`] bytes (no
//! IP fragmentation on a 1500-byte MTU by default).
//!
//! A collector that is down makes the kernel report ICMP port unreachable
//! on a later send (ECONNREFUSED on a connected socket): the message is
//! counted in [`IpfixStats::send_errors`] and export goes on, as UDP
//! exporters do; the first error is kept for the report.

use std::net::{ToSocketAddrs, UdpSocket};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use netring_engine::flow::{EndReason, FlowRecord};

/// Template ID of IPv4 records.
pub const TEMPLATE_V4: u16 = 256;
/// Template ID of IPv6 records.
pub const TEMPLATE_V6: u16 = 257;

/// (IE id, length) after the two addresses.
const COMMON: [(u16, u16); 10] = [
    (7, 2),
    (11, 2),
    (4, 1),
    (6, 2),
    (58, 2),
    (2, 8),
    (1, 8),
    (152, 8),
    (153, 8),
    (136, 1),
];

fn fields(v6: bool) -> impl Iterator<Item = (u16, u16)> {
    let (s, d, l) = if v6 { (27, 28, 16) } else { (8, 12, 4) };
    [(s, l), (d, l)].into_iter().chain(COMMON)
}

/// Bytes of one data record.
fn record_len(v6: bool) -> usize {
    fields(v6).map(|(_, l)| l as usize).sum()
}

/// Settings of an [`IpfixExporter`].
#[derive(Debug, Clone)]
pub struct IpfixConfig {
    /// Observation domain ID in every message header. Default 1.
    pub domain: u32,
    /// Re-send the templates after this long. Default 60 s.
    pub template_interval: Duration,
    /// ... or after this many messages. Default 1,000.
    pub template_messages: u32,
    /// Largest message in bytes (512 ..= 65,507). Default 1,400.
    pub max_message: usize,
    /// Most messages a second (None: as fast as they fill). UDP has no
    /// backpressure: a burst larger than the collector's socket buffer is
    /// lost there; pacing spreads it (the exporter sleeps between
    /// messages, so keep it off a live capture's hot path or size it
    /// above the flow rate).
    pub max_rate: Option<u32>,
}

impl Default for IpfixConfig {
    fn default() -> IpfixConfig {
        IpfixConfig {
            domain: 1,
            template_interval: Duration::from_secs(60),
            template_messages: 1_000,
            max_message: 1_400,
            max_rate: None,
        }
    }
}

/// What an exporter sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IpfixStats {
    /// Messages sent.
    pub messages: u64,
    /// Data records sent (one per direction of a flow that sent packets).
    pub records: u64,
    /// Times the templates were sent.
    pub template_sends: u64,
    /// Messages the kernel refused (the collector unreachable, a full
    /// socket buffer).
    pub send_errors: u64,
    /// Non-IP flow records not exported.
    pub skipped: u64,
}

/// Sends flow records to one collector over UDP.
pub struct IpfixExporter {
    sock: UdpSocket,
    cfg: IpfixConfig,
    /// Data records sent before the message being built (the header's
    /// sequence number).
    seq: u32,
    last_templates: Option<Instant>,
    since_templates: u32,
    msg: Vec<u8>,
    /// Offset of the open data set's header in `msg`, and its template.
    set: Option<(usize, u16)>,
    stats: IpfixStats,
    first_error: Option<String>,
    /// With `max_rate`: when the next message may go.
    next_send: Option<Instant>,
}

impl IpfixExporter {
    /// An exporter to `collector` (`host:port`).
    pub fn connect(collector: &str, cfg: IpfixConfig) -> Result<IpfixExporter, String> {
        if cfg.max_rate == Some(0) {
            return Err("IPFIX rate limit of 0 messages a second".into());
        }
        if !(512..=65_507).contains(&cfg.max_message) {
            return Err(format!(
                "IPFIX message size {} is out of range (512 ..= 65507)",
                cfg.max_message
            ));
        }
        let addr = collector
            .to_socket_addrs()
            .map_err(|e| format!("IPFIX collector '{collector}': {e}"))?
            .next()
            .ok_or_else(|| format!("IPFIX collector '{collector}': no address"))?;
        let local = if addr.is_ipv4() {
            "0.0.0.0:0"
        } else {
            "[::]:0"
        };
        let sock = UdpSocket::bind(local)
            .and_then(|s| s.connect(addr).map(|_| s))
            .map_err(|e| format!("IPFIX collector {addr}: {e}"))?;
        Ok(IpfixExporter {
            sock,
            msg: Vec::with_capacity(cfg.max_message),
            cfg,
            seq: 0,
            last_templates: None,
            since_templates: 0,
            set: None,
            stats: IpfixStats::default(),
            first_error: None,
            next_send: None,
        })
    }

    /// The counters.
    pub fn stats(&self) -> IpfixStats {
        self.stats
    }

    /// The first send error, if any (e.g. "Connection refused": the
    /// collector's port was unreachable).
    pub fn first_error(&self) -> Option<&str> {
        self.first_error.as_deref()
    }

    fn templates_due(&self) -> bool {
        match self.last_templates {
            None => true,
            Some(t) => {
                t.elapsed() >= self.cfg.template_interval
                    || self.since_templates >= self.cfg.template_messages
            }
        }
    }

    fn begin_message(&mut self) {
        self.msg.clear();
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as u32);
        self.msg.extend_from_slice(&10u16.to_be_bytes());
        self.msg.extend_from_slice(&[0, 0]); // length, set at send
        self.msg.extend_from_slice(&now.to_be_bytes());
        self.msg.extend_from_slice(&self.seq.to_be_bytes());
        self.msg.extend_from_slice(&self.cfg.domain.to_be_bytes());
        if self.templates_due() {
            let start = self.msg.len();
            self.msg.extend_from_slice(&2u16.to_be_bytes());
            self.msg.extend_from_slice(&[0, 0]);
            for (id, v6) in [(TEMPLATE_V4, false), (TEMPLATE_V6, true)] {
                self.msg.extend_from_slice(&id.to_be_bytes());
                self.msg
                    .extend_from_slice(&(fields(v6).count() as u16).to_be_bytes());
                for (ie, len) in fields(v6) {
                    self.msg.extend_from_slice(&ie.to_be_bytes());
                    self.msg.extend_from_slice(&len.to_be_bytes());
                }
            }
            let len = (self.msg.len() - start) as u16;
            self.msg[start + 2..start + 4].copy_from_slice(&len.to_be_bytes());
            self.last_templates = Some(Instant::now());
            self.since_templates = 0;
            self.stats.template_sends += 1;
        }
    }

    fn close_set(&mut self) {
        if let Some((off, _)) = self.set.take() {
            let len = (self.msg.len() - off) as u16;
            self.msg[off + 2..off + 4].copy_from_slice(&len.to_be_bytes());
        }
    }

    /// Send the message being built, if it holds anything.
    pub fn flush(&mut self) {
        self.close_set();
        if self.msg.len() <= 16 {
            return;
        }
        let len = self.msg.len() as u16;
        self.msg[2..4].copy_from_slice(&len.to_be_bytes());
        self.stats.messages += 1;
        self.since_templates += 1;
        if let Some(rate) = self.cfg.max_rate {
            let now = Instant::now();
            let at = self.next_send.unwrap_or(now).max(now);
            std::thread::sleep(at - now);
            self.next_send = Some(at + Duration::from_secs(1) / rate);
        }
        if let Err(e) = self.sock.send(&self.msg) {
            self.stats.send_errors += 1;
            self.first_error.get_or_insert_with(|| e.to_string());
        }
        self.msg.clear();
    }

    fn data_record(&mut self, v6: bool, r: &FlowRecord, rev: bool) {
        let tid = if v6 { TEMPLATE_V6 } else { TEMPLATE_V4 };
        let need = record_len(v6)
            + if self.set.is_some_and(|(_, t)| t == tid) {
                0
            } else {
                4
            };
        if !self.msg.is_empty() && self.msg.len() + need > self.cfg.max_message {
            self.flush();
        }
        if self.msg.is_empty() {
            self.begin_message();
        }
        if self.set.is_none_or(|(_, t)| t != tid) {
            self.close_set();
            self.set = Some((self.msg.len(), tid));
            self.msg.extend_from_slice(&tid.to_be_bytes());
            self.msg.extend_from_slice(&[0, 0]);
        }
        let (s, d, sp, dp, p, b, f) = if rev {
            let f = r.tcp_flags_rev;
            (
                &r.dst_addr,
                &r.src_addr,
                r.dst_port,
                r.src_port,
                r.packets_rev,
                r.bytes_rev,
                f,
            )
        } else {
            let f = r.tcp_flags_fwd;
            (
                &r.src_addr,
                &r.dst_addr,
                r.src_port,
                r.dst_port,
                r.packets_fwd,
                r.bytes_fwd,
                f,
            )
        };
        let alen = if v6 { 16 } else { 4 };
        let m = &mut self.msg;
        m.extend_from_slice(&s[..alen]);
        m.extend_from_slice(&d[..alen]);
        m.extend_from_slice(&sp.to_be_bytes());
        m.extend_from_slice(&dp.to_be_bytes());
        m.push(r.proto);
        m.extend_from_slice(&(f as u16).to_be_bytes());
        m.extend_from_slice(&r.vlan.to_be_bytes());
        m.extend_from_slice(&p.to_be_bytes());
        m.extend_from_slice(&b.to_be_bytes());
        m.extend_from_slice(&(r.first_ns / 1_000_000).to_be_bytes());
        m.extend_from_slice(&(r.last_ns / 1_000_000).to_be_bytes());
        m.push(end_reason(r.end));
        self.seq = self.seq.wrapping_add(1);
        self.stats.records += 1;
    }

    /// Queue one flow record (sent when a message fills up, or at
    /// [`IpfixExporter::flush`]).
    pub fn push(&mut self, r: &FlowRecord) {
        let v6 = match r.ip_version {
            4 => false,
            6 => true,
            _ => {
                self.stats.skipped += 1;
                return;
            }
        };
        if r.packets_fwd > 0 {
            self.data_record(v6, r, false);
        }
        if r.packets_rev > 0 {
            self.data_record(v6, r, true);
        }
    }
}

/// IANA flowEndReason.
fn end_reason(e: EndReason) -> u8 {
    match e {
        EndReason::IdleTimeout => 1,
        EndReason::ActiveTimeout => 2,
        EndReason::Fin | EndReason::Rst => 3,
        EndReason::Flush => 4,
        EndReason::TableFull => 5,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(i: u8, v6: bool) -> FlowRecord {
        let mut a = [0u8; 16];
        a[0] = 10;
        a[15] = i;
        a[3] = i;
        FlowRecord {
            src_addr: a,
            dst_addr: [9; 16],
            src_port: 1000 + i as u16,
            dst_port: 53,
            src_mac: [0; 6],
            dst_mac: [0; 6],
            ip_version: if v6 { 6 } else { 4 },
            proto: 17,
            ethertype: 0x800,
            vlan: 0,
            vlan_inner: 0,
            first_ns: 1_000_000_000,
            last_ns: 2_000_000_000,
            packets_fwd: 3,
            bytes_fwd: 300,
            packets_rev: i as u64 % 2,
            bytes_rev: 100 * (i as u64 % 2),
            tcp_flags_fwd: 0,
            tcp_flags_rev: 0,
            end: EndReason::Flush,
            flow_hash: 0,
        }
    }

    /// Messages the exporter sends, parsed back: (sequence, sets as (id,
    /// body length)).
    #[test]
    fn messages_parse_back_with_templates_and_sequence_numbers() {
        let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
        rx.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let cfg = IpfixConfig {
            template_messages: 3,
            ..IpfixConfig::default()
        };
        let mut x = IpfixExporter::connect(&rx.local_addr().unwrap().to_string(), cfg).unwrap();
        for i in 0..100 {
            x.push(&rec(i, i % 3 == 0));
        }
        x.flush();
        let st = x.stats();
        assert_eq!(st.records, 150);
        let mut buf = [0u8; 65536];
        let mut seq_expect = 0u32;
        let mut data_records = 0u64;
        let mut templates = 0;
        for m in 0..st.messages {
            let n = rx.recv(&mut buf).unwrap();
            let b = &buf[..n];
            assert_eq!(u16::from_be_bytes([b[0], b[1]]), 10);
            assert_eq!(u16::from_be_bytes([b[2], b[3]]) as usize, n);
            assert!(n <= 1400);
            assert_eq!(
                u32::from_be_bytes([b[8], b[9], b[10], b[11]]),
                seq_expect,
                "message {m}"
            );
            let mut off = 16;
            while off < n {
                let id = u16::from_be_bytes([b[off], b[off + 1]]);
                let len = u16::from_be_bytes([b[off + 2], b[off + 3]]) as usize;
                match id {
                    2 => templates += 1,
                    TEMPLATE_V4 => {
                        assert_eq!((len - 4) % record_len(false), 0);
                        let k = ((len - 4) / record_len(false)) as u32;
                        seq_expect += k;
                        data_records += k as u64;
                    }
                    TEMPLATE_V6 => {
                        assert_eq!((len - 4) % record_len(true), 0);
                        let k = ((len - 4) / record_len(true)) as u32;
                        seq_expect += k;
                        data_records += k as u64;
                    }
                    _ => panic!("set id {id}"),
                }
                off += len;
            }
            assert_eq!(off, n);
        }
        assert_eq!(data_records, 150);
        // Every third message re-sends the templates.
        assert_eq!(templates as u64, st.template_sends);
        assert_eq!(st.template_sends, st.messages.div_ceil(3));
    }
}
