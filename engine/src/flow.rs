//! A flow meter: bidirectional flows over the packets the engine hands out.
//!
//! [`FlowMeter::observe`] takes a [`Packet`] view (from any held batch: a
//! capture's ring block, AF_XDP, a capture file), parses its headers with
//! [`Layers::parse_packet`] and counts it into its flow. A flow ends with a
//! [`FlowRecord`] collected in the meter ([`FlowMeter::drain_ended`]).
//!
//! ```
//! use netring_engine::flow::{FlowConfig, FlowMeter};
//! # fn main() -> netring_engine::Result<()> {
//! let mut meter = FlowMeter::new(&FlowConfig::default())?;
//! let mut reader = netring_engine::pcapfile::Reader::from_read(
//!     std::io::Cursor::new(netring_engine::flow::example_pcap()), "example")?;
//! while let Some(p) = reader.next_packet()? {
//!     meter.observe(&p);
//! }
//! meter.flush();
//! for rec in meter.drain_ended() {
//!     println!("{:?}:{} > {:?}:{} {} pkts", rec.src_ip(), rec.src_port, rec.dst_ip(), rec.dst_port,
//!              rec.packets_fwd + rec.packets_rev);
//! }
//! # Ok(())
//! # }
//! ```
//!
//! ## What a flow is
//! * **Key.** IP packets: the addresses, the ports (TCP, UDP, SCTP; 0 for
//!   the rest), the IP protocol, the IP version and the VLAN IDs (outer and
//!   inner, 0 when untagged; a tag the kernel stripped into the packet
//!   metadata counts as the outer one). Other frames (ARP, LLDP, a frame cut
//!   before its IP header): the EtherType, the two MAC addresses and the
//!   VLAN IDs. Both directions map to one flow: the key is stored in
//!   canonical order (the smaller (address, port) side first,
//!   [`FlowKey::lo_addr`]); the record reports it in the initiator's order
//!   (the source of the flow's first packet is `src`).
//! * **Fragments.** The first fragment of an IP datagram carries the ports;
//!   the later ones do not and count in the flow with ports 0 (same
//!   addresses, protocol and VLANs); [`FlowStats::fragments`] counts them.
//! * **Counters.** Packets and bytes per direction (bytes are the frame's
//!   wire length, link header included), first and last time stamps (ns),
//!   the OR of the TCP flags each direction sent.
//! * **Time.** The packets' own time stamps drive the meter, so a capture
//!   file and a live capture give the same flows. The meter's clock is the
//!   latest time stamp seen (a time stamp that goes backwards counts as the
//!   latest); [`FlowMeter::expire`] moves it forward with no packet (call it
//!   about once a second on a live capture so quiet flows end).
//!
//! ## How a flow ends ([`EndReason`])
//! * `IdleTimeout`: no packet for `idle_timeout_ns` (checked on every
//!   packet and by [`FlowMeter::expire`]). The record's times are exact;
//!   the record itself may come out up to `idle_timeout_ns / 16` later than
//!   the timeout (a flow moves up the recency list at most once per
//!   1/16 of the idle timeout, which saves two cache misses a packet).
//! * `ActiveTimeout`: a packet arrives `active_timeout_ns` or more after the
//!   flow's first packet: the record so far ends, and the flow goes on as a
//!   new record starting with that packet (long flows are reported in
//!   pieces, as NetFlow and IPFIX meters do).
//! * `Fin` / `Rst`: a TCP RST, or the second direction's FIN. The record
//!   ends with that packet; a later packet (the last ACK) opens a new flow.
//! * `TableFull`: the table holds `max_flows` flows and a packet of a new
//!   flow arrives: the *least recently seen* flow (to within 1/16 of the
//!   idle timeout) is ended to make room (counted in
//!   [`FlowStats::evicted`]). The new flow is always admitted.
//! * `Flush`: [`FlowMeter::flush`] (end of input) ended it.
//!
//! ## Memory and cost
//! Everything is allocated by [`FlowMeter::new`]: a slab of `max_flows`
//! entries ([`FlowMeter::BYTES_PER_FLOW`] = 148 bytes per flow, in total:
//! the entry of 128 bytes, its share of an open-addressing index of 8-byte
//! slots at most half full, and a free-list slot) and an index with linear
//! probing. The pages of the slab are touched as flows arrive. Observing a
//! packet allocates nothing, unless the ended records pile up past the
//! capacity reserved for them ([`FlowConfig::records_hint`]): drain them
//! regularly. One meter per worker: meters are not shared between threads
//! (a fanout group keeps the packets of one flow on one worker).

use crate::error::{Error, ErrorKind, Result};
use crate::packet::Packet;
use crate::parse::{L3, L4, Layers};
use crate::stats::counters;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Why a flow record ended. Values are stable (written into records).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum EndReason {
    /// No packet for the idle timeout.
    IdleTimeout = 1,
    /// The active timeout passed since the record's first packet.
    ActiveTimeout = 2,
    /// Both directions sent a TCP FIN.
    Fin = 3,
    /// A TCP RST.
    Rst = 4,
    /// The table was full: the least recently seen flow was evicted.
    TableFull = 5,
    /// [`FlowMeter::flush`] (end of input).
    Flush = 6,
}

impl EndReason {
    /// A short lower-case name (`idle`, `active`, `fin`, `rst`,
    /// `table-full`, `flush`).
    pub fn name(self) -> &'static str {
        match self {
            EndReason::IdleTimeout => "idle",
            EndReason::ActiveTimeout => "active",
            EndReason::Fin => "fin",
            EndReason::Rst => "rst",
            EndReason::TableFull => "table-full",
            EndReason::Flush => "flush",
        }
    }
}

/// The settings of a [`FlowMeter`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowConfig {
    /// A flow with no packet for this long ends (ns, > 0). Default 15 s.
    pub idle_timeout_ns: u64,
    /// A flow's record ends this long after its first packet, and the flow
    /// goes on in a new record (ns, > 0). Default 1800 s.
    pub active_timeout_ns: u64,
    /// Most flows held at once (1 ..= 2^30); a new flow beyond it evicts
    /// the least recently seen one. Default 65,536.
    pub max_flows: u32,
    /// Ended records the meter has room for before it must grow its
    /// record buffer (drain more often than that). Default 4,096.
    pub records_hint: u32,
    /// Count IP bytes (the IP packet's length as its header states: IPv4
    /// total length, IPv6 40 + payload length; at most the wire length)
    /// instead of the frame's wire length: what IPFIX's `octetDeltaCount`
    /// means. Non-IP frames count their wire length
    /// either way. Default false.
    pub ip_bytes: bool,
}

impl Default for FlowConfig {
    fn default() -> FlowConfig {
        FlowConfig {
            idle_timeout_ns: 15_000_000_000,
            active_timeout_ns: 1_800_000_000_000,
            max_flows: 65_536,
            records_hint: 4_096,
            ip_bytes: false,
        }
    }
}

impl FlowConfig {
    /// `Err(InvalidArgument)` with a sentence naming the bad value.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::new(ErrorKind::InvalidArgument, m));
        if self.idle_timeout_ns == 0 {
            return bad("flow idle timeout must be > 0".into());
        }
        if self.active_timeout_ns == 0 {
            return bad("flow active timeout must be > 0".into());
        }
        if self.max_flows == 0 || self.max_flows > 1 << 30 {
            return bad(format!(
                "max_flows {} is out of range (1 ..= 2^30)",
                self.max_flows
            ));
        }
        Ok(())
    }
}

/// A flow's key in canonical order: the side with the smaller
/// (address, port) is `lo`. For non-IP frames the addresses are the MAC
/// addresses (first 6 bytes, the rest zero) and `ip_version` is 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct FlowKey {
    /// The smaller side's address (IPv4: first 4 bytes; MAC: first 6).
    pub lo_addr: [u8; 16],
    /// The larger side's address.
    pub hi_addr: [u8; 16],
    /// The smaller side's port (0 when the protocol has none).
    pub lo_port: u16,
    /// The larger side's port.
    pub hi_port: u16,
    /// Outer VLAN ID (0: untagged).
    pub vlan: u16,
    /// Inner VLAN ID (0: none).
    pub vlan_inner: u16,
    /// EtherType after the VLAN tags.
    pub ethertype: u16,
    /// IP protocol (0 for non-IP).
    pub proto: u8,
    /// 4, 6, or 0 for non-IP (keyed by MAC addresses).
    pub ip_version: u8,
}

const K: u64 = 0x9e37_79b9_7f4a_7c15;

#[inline(always)]
fn mix(h: u64, w: u64) -> u64 {
    (h ^ w).wrapping_mul(K).rotate_left(31)
}

impl FlowKey {
    /// The key of a parsed frame, and whether the frame's source is the
    /// `lo` side.
    #[inline]
    pub fn from_layers(l: &Layers<'_>) -> (FlowKey, bool) {
        let mut k = FlowKey {
            vlan: if l.vlan_count > 0 {
                l.vlans[0].vid()
            } else {
                0
            },
            vlan_inner: if l.vlan_count > 1 {
                l.vlans[1].vid()
            } else {
                0
            },
            ethertype: l.ethertype,
            ..FlowKey::default()
        };
        let (src, dst, sp, dp) = match l.l3 {
            L3::Ipv4 | L3::Ipv6 => {
                k.ip_version = if l.l3 == L3::Ipv4 { 4 } else { 6 };
                k.proto = l.ip_proto;
                (
                    *l.src_addr_bytes(),
                    *l.dst_addr_bytes(),
                    l.src_port,
                    l.dst_port,
                )
            }
            _ => {
                let d = l.data();
                let (mut s, mut t) = ([0u8; 16], [0u8; 16]);
                if let (Some(dm), Some(sm)) = (d.get(0..6), d.get(6..12)) {
                    t[..6].copy_from_slice(dm);
                    s[..6].copy_from_slice(sm);
                }
                (s, t, 0, 0)
            }
        };
        let src_lo = (u128::from_be_bytes(src), sp) <= (u128::from_be_bytes(dst), dp);
        if src_lo {
            (k.lo_addr, k.hi_addr, k.lo_port, k.hi_port) = (src, dst, sp, dp);
        } else {
            (k.lo_addr, k.hi_addr, k.lo_port, k.hi_port) = (dst, src, dp, sp);
        }
        (k, src_lo)
    }

    /// A 64-bit hash of the key; the same for both directions (the key is
    /// canonical). Stable for a given export schema version: packet and
    /// flow records carry it (`flow_hash`) so they can be joined.
    #[inline]
    pub fn hash(&self) -> u64 {
        let a = u128::from_le_bytes(self.lo_addr);
        let b = u128::from_le_bytes(self.hi_addr);
        let rest = (self.lo_port as u64)
            | (self.hi_port as u64) << 16
            | (self.vlan as u64) << 32
            | (self.vlan_inner as u64) << 48;
        let last =
            (self.ethertype as u64) | (self.proto as u64) << 16 | (self.ip_version as u64) << 24;
        let mut h = mix(0, a as u64);
        h = mix(h, (a >> 64) as u64);
        h = mix(h, b as u64);
        h = mix(h, (b >> 64) as u64);
        h = mix(h, rest);
        h = mix(h, last);
        // fmix64 (MurmurHash3's finalizer): every bit of the key reaches the
        // low bits the index uses.
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        h ^ (h >> 33)
    }
}

/// One ended flow (or piece of a flow, see [`EndReason::ActiveTimeout`]),
/// oriented by its initiator: `src` sent the first packet; `fwd` counters
/// are src → dst, `rev` counters dst → src.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowRecord {
    /// The initiator's address (see [`FlowKey`] for the layout).
    pub src_addr: [u8; 16],
    /// The responder's address.
    pub dst_addr: [u8; 16],
    /// The initiator's port.
    pub src_port: u16,
    /// The responder's port.
    pub dst_port: u16,
    /// The first packet's source MAC address.
    pub src_mac: [u8; 6],
    /// The first packet's destination MAC address.
    pub dst_mac: [u8; 6],
    /// 4, 6, or 0 for a non-IP flow.
    pub ip_version: u8,
    /// IP protocol (0 for non-IP).
    pub proto: u8,
    /// EtherType after the VLAN tags.
    pub ethertype: u16,
    /// Outer VLAN ID (0: untagged).
    pub vlan: u16,
    /// Inner VLAN ID (0: none).
    pub vlan_inner: u16,
    /// Time stamp of the record's first packet (ns since the epoch).
    pub first_ns: u64,
    /// Time stamp of the record's last packet.
    pub last_ns: u64,
    /// Packets src → dst.
    pub packets_fwd: u64,
    /// Bytes (wire length) src → dst.
    pub bytes_fwd: u64,
    /// Packets dst → src.
    pub packets_rev: u64,
    /// Bytes dst → src.
    pub bytes_rev: u64,
    /// OR of the TCP flags src sent.
    pub tcp_flags_fwd: u8,
    /// OR of the TCP flags dst sent.
    pub tcp_flags_rev: u8,
    /// Why the record ended.
    pub end: EndReason,
    /// [`FlowKey::hash`] of the flow.
    pub flow_hash: u64,
}

impl FlowRecord {
    fn ip(&self, a: &[u8; 16]) -> Option<IpAddr> {
        match self.ip_version {
            4 => Some(IpAddr::V4(Ipv4Addr::new(a[0], a[1], a[2], a[3]))),
            6 => Some(IpAddr::V6(Ipv6Addr::from(*a))),
            _ => None,
        }
    }
    /// The initiator's IP address (None for a non-IP flow).
    pub fn src_ip(&self) -> Option<IpAddr> {
        self.ip(&self.src_addr)
    }
    /// The responder's IP address.
    pub fn dst_ip(&self) -> Option<IpAddr> {
        self.ip(&self.dst_addr)
    }
}

/// A flow meter's counters ([`FlowMeter::stats`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FlowStats {
    /// Packets observed.
    pub packets: u64,
    /// Bytes (wire length) observed.
    pub bytes: u64,
    /// Flows created (a flow continuing after an active timeout is not a
    /// new one).
    pub flows: u64,
    /// Records ended, every reason.
    pub records: u64,
    /// Records ended by the idle timeout.
    pub idle_timeouts: u64,
    /// Records ended by the active timeout.
    pub active_timeouts: u64,
    /// Records ended by FIN or RST.
    pub tcp_ends: u64,
    /// Flows evicted because the table was full.
    pub evicted: u64,
    /// Records ended by [`FlowMeter::flush`].
    pub flushed: u64,
    /// IP fragments observed (a later fragment counts with ports 0).
    pub fragments: u64,
    /// Frames keyed by MAC addresses (no IP header parsed).
    pub non_ip: u64,
    /// Flows in the table now (a gauge).
    pub active_flows: u64,
}

counters!(FlowStats {
    packets, bytes, flows, records, idle_timeouts, active_timeouts, tcp_ends, evicted,
    flushed, fragments, non_ip,
} gauges { active_flows });

const NIL: u32 = u32::MAX;

/// Packets a meter queues before counting them (see
/// [`FlowMeter::observe_parsed`]).
pub const PIPELINE: usize = 8;

/// A queued packet: what counting it needs, nothing borrowed.
#[derive(Clone, Copy, Default)]
struct Pending {
    key: FlowKey,
    h: u64,
    ts: u64,
    bytes: u64,
    macs: [u8; 12],
    src_lo: bool,
    tcp_flags: Option<u8>,
}

/// Ask for the cache line holding `r` (a hint: no effect on the result).
#[inline(always)]
fn prefetch<T>(r: &T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is a hint that never faults; `r` is a valid
    // reference anyway.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
            (r as *const T).cast(),
        )
    };
    #[cfg(not(target_arch = "x86_64"))]
    let _ = r;
}

/// One flow's state in the slab: 128 bytes, two cache lines, aligned;
/// what a packet compares and updates first (key, flags, times) in the
/// first line.
#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct Entry {
    key: FlowKey,
    flags: [u8; 2],
    /// The initiator is the key's `lo` side.
    init_lo: bool,
    /// FIN seen: bit 0 forward, bit 1 reverse.
    fin: u8,
    first_ns: u64,
    last_ns: u64,
    packets: [u64; 2],
    bytes: [u64; 2],
    /// When the entry was last moved to the tail of the recency list.
    linked_ns: u64,
    /// Recency list (by `linked_ns`), oldest at `head`.
    prev: u32,
    next: u32,
    /// The initiator's source and destination MAC.
    macs: [u8; 12],
}

/// A bidirectional flow table with idle/active timeouts and a bounded size.
/// See the [module docs](self).
pub struct FlowMeter {
    cfg: FlowConfig,
    /// Open addressing, linear probing: 0 empty, else the key hash's low 32
    /// bits | (entry index + 1) << 32.
    slots: Vec<u64>,
    mask: usize,
    entries: Vec<Entry>,
    free: Vec<u32>,
    head: u32,
    tail: u32,
    /// An entry moves to the tail of the recency list at most once per
    /// `relink_ns` (idle timeout / 16).
    relink_ns: u64,
    now: u64,
    queue: [Pending; PIPELINE],
    /// Packets queued and processed in this round of the queue.
    queued: usize,
    settled: usize,
    ended: Vec<FlowRecord>,
    stats: FlowStats,
    reported: crate::stats::Reported<FlowStats>,
}

impl std::fmt::Debug for FlowMeter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FlowMeter")
            .field("cfg", &self.cfg)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl FlowMeter {
    /// Memory per flow of `max_flows`: the slab entry, two index slots (the
    /// index is at most half full) and a free-list slot.
    pub const BYTES_PER_FLOW: usize = std::mem::size_of::<Entry>() + 2 * 8 + 4;

    /// A meter with its table allocated (`max_flows` entries' worth of
    /// virtual memory; pages are touched as flows arrive).
    pub fn new(cfg: &FlowConfig) -> Result<FlowMeter> {
        cfg.validate()?;
        let cap = (cfg.max_flows as usize * 2).next_power_of_two().max(16);
        Ok(FlowMeter {
            cfg: *cfg,
            slots: vec![0; cap],
            mask: cap - 1,
            entries: Vec::with_capacity(cfg.max_flows as usize),
            free: Vec::with_capacity(cfg.max_flows as usize),
            head: NIL,
            tail: NIL,
            relink_ns: cfg.idle_timeout_ns / 16,
            now: 0,
            queue: [Pending::default(); PIPELINE],
            queued: 0,
            settled: 0,
            ended: Vec::with_capacity(cfg.records_hint as usize),
            stats: FlowStats::default(),
            reported: Default::default(),
        })
    }

    /// The settings.
    pub fn config(&self) -> &FlowConfig {
        &self.cfg
    }

    /// Bytes allocated for the table at its full size (`max_flows`).
    pub fn memory_bytes(&self) -> usize {
        self.slots.len() * 8
            + self.entries.capacity() * std::mem::size_of::<Entry>()
            + self.free.capacity() * 4
    }

    /// The counters (the queued packets counted first).
    pub fn stats(&mut self) -> FlowStats {
        self.settle();
        FlowStats {
            active_flows: (self.entries.len() - self.free.len()) as u64,
            ..self.stats
        }
    }

    /// The counters and their change since the previous call.
    pub fn stats_with_delta(&mut self) -> (FlowStats, FlowStats) {
        let s = self.stats();
        self.reported.report(s)
    }

    /// The meter's clock: the latest packet time stamp or `expire` time.
    pub fn now_ns(&self) -> u64 {
        self.now
    }

    /// Count one packet (its headers parsed here).
    #[inline]
    pub fn observe(&mut self, p: &Packet<'_>) {
        let l = Layers::parse_packet(p);
        self.observe_parsed(p, &l);
    }

    /// Count one packet whose headers the caller already parsed
    /// (`l` = [`Layers::parse_packet`] of `p`).
    ///
    /// The packet is queued: its index slot and flow entry are prefetched,
    /// and it is counted into its flow [`PIPELINE`] packets later (every
    /// other method settles the queue first, so nothing observable lags).
    /// The cache misses of several packets overlap
    /// that way: a table of a million flows is far larger than the caches.
    #[inline]
    pub fn observe_parsed(&mut self, p: &Packet<'_>, l: &Layers<'_>) {
        let wire = p.wire_len.max(p.data.len() as u32);
        let bytes = if self.cfg.ip_bytes && l.ip_len != 0 {
            l.ip_len.min(wire) as u64
        } else {
            wire as u64
        };
        self.stats.packets += 1;
        self.stats.bytes += bytes;
        if l.frag.is_fragment {
            self.stats.fragments += 1;
        }
        if l.l3 != L3::Ipv4 && l.l3 != L3::Ipv6 {
            self.stats.non_ip += 1;
        }
        let (key, src_lo) = FlowKey::from_layers(l);
        let h = key.hash();
        prefetch(&self.slots[h as usize & self.mask]);
        let mut macs = [0u8; 12];
        if let Some(m) = p.data.get(0..12) {
            macs[..6].copy_from_slice(&m[6..12]);
            macs[6..].copy_from_slice(&m[0..6]);
        }
        let q = Pending {
            key,
            h,
            ts: p.ts_ns,
            bytes,
            macs,
            src_lo,
            tcp_flags: if l.l4 == L4::Tcp {
                Some(l.tcp_flags)
            } else {
                None
            },
        };
        let n = self.queued;
        self.queue[n % PIPELINE] = q;
        self.queued = n + 1;
        // Half-way: the slot is in the cache by now; prefetch its entry.
        if n >= PIPELINE / 2 {
            let mid = &self.queue[(n - PIPELINE / 2) % PIPELINE];
            let s = self.slots[mid.h as usize & self.mask];
            if s != 0 {
                prefetch(&self.entries[((s >> 32) - 1) as usize]);
            }
        }
        if n + 1 >= PIPELINE {
            let q = self.queue[(n + 1 - PIPELINE) % PIPELINE];
            self.settled += 1;
            self.process(&q);
        }
    }

    /// Count every queued packet.
    fn settle(&mut self) {
        while self.settled < self.queued {
            let q = self.queue[self.settled % PIPELINE];
            self.settled += 1;
            self.process(&q);
        }
        self.queued = 0;
        self.settled = 0;
    }

    #[inline(always)]
    fn process(&mut self, q: &Pending) {
        let t = q.ts.max(self.now);
        self.now = t;
        self.expire_idle(t);
        let (key, src_lo, h) = (q.key, q.src_lo, q.h);
        let idx = match self.find(h, &key) {
            Some((_, i)) => {
                let e = &self.entries[i as usize];
                if t - e.first_ns >= self.cfg.active_timeout_ns {
                    self.push_record(i, EndReason::ActiveTimeout, h);
                    let e = &mut self.entries[i as usize];
                    (e.packets, e.bytes, e.flags, e.fin) = ([0; 2], [0; 2], [0; 2], 0);
                    e.first_ns = t;
                }
                if t - self.entries[i as usize].linked_ns >= self.relink_ns {
                    self.lru_unlink(i);
                    self.lru_push_tail(i, t);
                }
                i
            }
            None => {
                if self.entries.len() - self.free.len() >= self.cfg.max_flows as usize {
                    let victim = self.head;
                    self.stats.evicted += 1;
                    self.end_flow(victim, EndReason::TableFull);
                }
                let e = Entry {
                    key,
                    flags: [0; 2],
                    init_lo: src_lo,
                    fin: 0,
                    first_ns: t,
                    last_ns: t,
                    packets: [0; 2],
                    bytes: [0; 2],
                    linked_ns: t,
                    prev: NIL,
                    next: NIL,
                    macs: q.macs,
                };
                let i = match self.free.pop() {
                    Some(i) => {
                        self.entries[i as usize] = e;
                        i
                    }
                    None => {
                        self.entries.push(e);
                        (self.entries.len() - 1) as u32
                    }
                };
                self.insert_slot(h, i);
                self.lru_push_tail(i, t);
                self.stats.flows += 1;
                i
            }
        };
        let e = &mut self.entries[idx as usize];
        let dir = (src_lo != e.init_lo) as usize;
        e.packets[dir] += 1;
        e.bytes[dir] += q.bytes;
        e.last_ns = t;
        if let Some(f) = q.tcp_flags {
            e.flags[dir] |= f;
            if f & 0x01 != 0 {
                e.fin |= 1 << dir;
            }
            if f & 0x04 != 0 {
                self.end_flow(idx, EndReason::Rst);
            } else if e.fin == 3 {
                self.end_flow(idx, EndReason::Fin);
            }
        }
    }

    /// Move the clock to `now_ns` (if later) and end the flows idle since
    /// `now_ns - idle_timeout`. For live captures with quiet periods.
    pub fn expire(&mut self, now_ns: u64) {
        self.settle();
        self.now = self.now.max(now_ns);
        self.expire_idle(self.now);
    }

    /// End every flow (reason [`EndReason::Flush`]), oldest first: at the
    /// end of the input.
    pub fn flush(&mut self) {
        self.settle();
        while self.head != NIL {
            self.end_flow(self.head, EndReason::Flush);
        }
    }

    /// The ended records, oldest first, removed from the meter (the buffer
    /// keeps its capacity).
    pub fn drain_ended(&mut self) -> std::vec::Drain<'_, FlowRecord> {
        self.settle();
        self.ended.drain(..)
    }

    /// The ended records not drained yet.
    pub fn ended(&mut self) -> &[FlowRecord] {
        self.settle();
        &self.ended
    }

    /// How many ended records wait to be drained, without settling the
    /// queue (cheap: for "drain when this many" checks per packet).
    pub fn ended_len(&self) -> usize {
        self.ended.len()
    }

    /// Flows in the table now.
    pub fn active_flows(&mut self) -> usize {
        self.settle();
        self.entries.len() - self.free.len()
    }

    #[inline(always)]
    fn expire_idle(&mut self, t: u64) {
        while self.head != NIL
            && t.saturating_sub(self.entries[self.head as usize].last_ns)
                >= self.cfg.idle_timeout_ns
        {
            self.end_flow(self.head, EndReason::IdleTimeout);
        }
    }

    #[inline(always)]
    fn find(&self, h: u64, key: &FlowKey) -> Option<(usize, u32)> {
        let tag = h as u32 as u64;
        let mut pos = h as usize & self.mask;
        loop {
            let s = self.slots[pos];
            if s == 0 {
                return None;
            }
            if s & 0xffff_ffff == tag {
                let i = ((s >> 32) - 1) as u32;
                if self.entries[i as usize].key == *key {
                    return Some((pos, i));
                }
            }
            pos = (pos + 1) & self.mask;
        }
    }

    fn insert_slot(&mut self, h: u64, i: u32) {
        let mut pos = h as usize & self.mask;
        while self.slots[pos] != 0 {
            pos = (pos + 1) & self.mask;
        }
        self.slots[pos] = (h as u32 as u64) | ((i as u64 + 1) << 32);
    }

    /// Remove slot `pos`, shifting later members of its probe run back
    /// (no tombstones).
    fn remove_slot(&mut self, pos: usize) {
        let mask = self.mask;
        let (mut i, mut j) = (pos, pos);
        loop {
            j = (j + 1) & mask;
            let s = self.slots[j];
            if s == 0 {
                break;
            }
            let home = s as u32 as usize & mask;
            // Does `home` lie cyclically in (i, j]? Then s stays.
            let stays = if i <= j {
                i < home && home <= j
            } else {
                i < home || home <= j
            };
            if !stays {
                self.slots[i] = s;
                i = j;
            }
        }
        self.slots[i] = 0;
    }

    #[inline(always)]
    fn lru_unlink(&mut self, i: u32) {
        let (p, n) = {
            let e = &self.entries[i as usize];
            (e.prev, e.next)
        };
        if p == NIL {
            self.head = n;
        } else {
            self.entries[p as usize].next = n;
        }
        if n == NIL {
            self.tail = p;
        } else {
            self.entries[n as usize].prev = p;
        }
    }

    #[inline(always)]
    fn lru_push_tail(&mut self, i: u32, now: u64) {
        let t = self.tail;
        {
            let e = &mut self.entries[i as usize];
            e.prev = t;
            e.next = NIL;
            e.linked_ns = now;
        }
        if t == NIL {
            self.head = i;
        } else {
            self.entries[t as usize].next = i;
        }
        self.tail = i;
    }

    fn push_record(&mut self, i: u32, why: EndReason, h: u64) {
        let e = &self.entries[i as usize];
        let k = &e.key;
        let (src_addr, dst_addr, src_port, dst_port) = if e.init_lo {
            (k.lo_addr, k.hi_addr, k.lo_port, k.hi_port)
        } else {
            (k.hi_addr, k.lo_addr, k.hi_port, k.lo_port)
        };
        let mut src_mac = [0; 6];
        let mut dst_mac = [0; 6];
        src_mac.copy_from_slice(&e.macs[..6]);
        dst_mac.copy_from_slice(&e.macs[6..]);
        let rec = FlowRecord {
            src_addr,
            dst_addr,
            src_port,
            dst_port,
            src_mac,
            dst_mac,
            ip_version: k.ip_version,
            proto: k.proto,
            ethertype: k.ethertype,
            vlan: k.vlan,
            vlan_inner: k.vlan_inner,
            first_ns: e.first_ns,
            last_ns: e.last_ns,
            packets_fwd: e.packets[0],
            bytes_fwd: e.bytes[0],
            packets_rev: e.packets[1],
            bytes_rev: e.bytes[1],
            tcp_flags_fwd: e.flags[0],
            tcp_flags_rev: e.flags[1],
            end: why,
            flow_hash: h,
        };
        self.ended.push(rec);
        self.stats.records += 1;
        match why {
            EndReason::IdleTimeout => self.stats.idle_timeouts += 1,
            EndReason::ActiveTimeout => self.stats.active_timeouts += 1,
            EndReason::Fin | EndReason::Rst => self.stats.tcp_ends += 1,
            EndReason::Flush => self.stats.flushed += 1,
            EndReason::TableFull => {}
        }
    }

    /// Emit entry `i`'s record and remove it from the table.
    fn end_flow(&mut self, i: u32, why: EndReason) {
        let key = self.entries[i as usize].key;
        let h = key.hash();
        self.push_record(i, why, h);
        // The entry is in the index: find its slot by index.
        let want = i as u64 + 1;
        let mut pos = h as usize & self.mask;
        while self.slots[pos] >> 32 != want {
            pos = (pos + 1) & self.mask;
        }
        self.remove_slot(pos);
        self.lru_unlink(i);
        self.free.push(i);
    }
}

/// A small pcap file (a TCP handshake and an ARP request) for examples.
#[doc(hidden)]
pub fn example_pcap() -> Vec<u8> {
    let mut out = crate::pcapfile::pcap::file_header(true, 65535, 1).to_vec();
    let mut f = crate::parse::example_udp_frame();
    out.extend_from_slice(&crate::pcapfile::pcap::record_header(
        1_000,
        true,
        f.len() as u32,
        f.len() as u32,
    ));
    out.extend_from_slice(&f);
    // The reply: swap MACs, addresses, ports.
    for i in 0..6 {
        f.swap(i, i + 6);
    }
    for i in 0..4 {
        f.swap(26 + i, 30 + i);
    }
    f.swap(34, 36);
    f.swap(35, 37);
    out.extend_from_slice(&crate::pcapfile::pcap::record_header(
        2_000,
        true,
        f.len() as u32,
        f.len() as u32,
    ));
    out.extend_from_slice(&f);
    out
}

#[cfg(test)]
#[path = "flow_tests.rs"]
mod tests;
