//! The header parser (nr_packet_parse through `nrcap -v`, and the Rust
//! `Layers`) against tshark's dissection (`tshark -T pdml`: every header's
//! position and size, every field): over the project's capture files, over
//! frames of known layout written to a file (tests/data/layers.pcap, cut
//! frames included), and over the same frames sent on a veth pair and
//! captured by netring (VLAN tags stripped by the kernel or re-inserted,
//! IPv6 extension headers, fragments, and a snap length that cuts them).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use netring::parse::{Layers, ParseStatus};
use netring::{Capture, CaptureConfig, Wait};
use netring_testkit::cbuild::{bin, root};
use netring_testkit::{Net, TempDir};

#[path = "common/cmd.rs"]
mod cmd;

// ---------------------------------------------------------------- frames ---

const SRC4: [u8; 4] = [198, 18, 0, 1];
const DST4: [u8; 4] = [198, 18, 0, 2];
const SRC6: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
const DST6: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
/// A MAC no interface has: frames to it are not answered by anything.
const DST_MAC: [u8; 6] = [0x02, 0xcb, 0x00, 0x00, 0x00, 0xff];

/// A frame builder written for the tests (independent of the parser).
struct F(Vec<u8>);

impl F {
    fn eth(tags: &[(u16, u16)], et: u16) -> F {
        let mut b = DST_MAC.to_vec();
        b.extend_from_slice(&[0x02, 0x6e, 0x72, 0x00, 0x00, 0x01]);
        for &(tpid, tci) in tags {
            b.extend_from_slice(&tpid.to_be_bytes());
            b.extend_from_slice(&tci.to_be_bytes());
        }
        b.extend_from_slice(&et.to_be_bytes());
        F(b)
    }
    fn ipv4(mut self, proto: u8, l4len: usize, frag: u16, opts: usize) -> F {
        let ihl = 20 + opts;
        self.0.push(0x40 | (ihl / 4) as u8);
        self.0.push(0);
        self.0
            .extend_from_slice(&((ihl + l4len) as u16).to_be_bytes());
        self.0.extend_from_slice(&[0x12, 0x34]);
        self.0.extend_from_slice(&frag.to_be_bytes());
        self.0.extend_from_slice(&[64, proto, 0, 0]);
        self.0.extend_from_slice(&SRC4);
        self.0.extend_from_slice(&DST4);
        self.0.extend(std::iter::repeat_n(1u8, opts)); // NOP options
        self
    }
    /// IPv6 then extension headers (kind, length): hop-by-hop (0) and
    /// destination options (60) padded with PadN, routing (43) type 0 with
    /// no segment left, fragment (44) at offset 1480 with M set.
    fn ipv6(mut self, exts: &[(u8, usize)], proto: u8, l4len: usize) -> F {
        let ext_total: usize = exts.iter().map(|e| e.1).sum();
        self.0.extend_from_slice(&[0x60, 0, 0, 0]);
        self.0
            .extend_from_slice(&((ext_total + l4len) as u16).to_be_bytes());
        self.0.push(exts.first().map_or(proto, |e| e.0));
        self.0.push(33);
        self.0.extend_from_slice(&SRC6);
        self.0.extend_from_slice(&DST6);
        for (i, &(kind, len)) in exts.iter().enumerate() {
            let mut h = vec![0u8; len];
            h[0] = exts.get(i + 1).map_or(proto, |e| e.0);
            match kind {
                44 => {
                    h[2..4].copy_from_slice(&(185u16 << 3 | 1).to_be_bytes());
                    h[4..8].copy_from_slice(&0xabcdef01u32.to_be_bytes());
                }
                43 => h[1] = (len / 8 - 1) as u8,
                _ => {
                    h[1] = (len / 8 - 1) as u8;
                    h[2] = 1; // PadN
                    h[3] = (len - 4) as u8;
                }
            }
            self.0.extend_from_slice(&h);
        }
        self
    }
    fn udp(mut self, sp: u16, dp: u16, payload: usize) -> F {
        self.0.extend_from_slice(&sp.to_be_bytes());
        self.0.extend_from_slice(&dp.to_be_bytes());
        self.0
            .extend_from_slice(&((8 + payload) as u16).to_be_bytes());
        self.0.extend_from_slice(&[0, 0]);
        self.payload(payload)
    }
    fn tcp(mut self, sp: u16, dp: u16, opts: usize, payload: usize) -> F {
        self.0.extend_from_slice(&sp.to_be_bytes());
        self.0.extend_from_slice(&dp.to_be_bytes());
        self.0.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0]);
        self.0.push((((20 + opts) / 4) as u8) << 4);
        self.0.push(0x18); // PSH ACK
        self.0.extend_from_slice(&[0xff, 0xff, 0, 0, 0, 0]);
        self.0.extend(std::iter::repeat_n(1u8, opts)); // NOP options
        self.payload(payload)
    }
    fn icmp(mut self, kind: u8, payload: usize) -> F {
        self.0.extend_from_slice(&[kind, 0, 0, 0, 0, 1, 0, 1]);
        self.payload(payload)
    }
    fn sctp(mut self, sp: u16, dp: u16) -> F {
        self.0.extend_from_slice(&sp.to_be_bytes());
        self.0.extend_from_slice(&dp.to_be_bytes());
        self.0.extend_from_slice(&[0; 8]);
        self
    }
    fn payload(mut self, n: usize) -> F {
        self.0.extend((0..n).map(|i| (i * 7 + 3) as u8));
        self
    }
    /// Ethernet minimum (60 bytes without FCS).
    fn pad(mut self) -> Vec<u8> {
        if self.0.len() < 60 {
            self.0.resize(60, 0);
        }
        self.0
    }
}

fn arp() -> Vec<u8> {
    let mut f = F::eth(&[], 0x0806);
    f.0.extend_from_slice(&[0, 1, 8, 0, 6, 4, 0, 1, 0x02, 0x6e, 0x72, 0, 0, 1]);
    f.0.extend_from_slice(&SRC4);
    f.0.extend_from_slice(&[0; 6]);
    f.0.extend_from_slice(&DST4);
    f.pad()
}

/// Frames of known layout, and the snap length each is cut to in the
/// file (None: whole).
fn known_frames() -> Vec<(&'static str, Vec<u8>)> {
    let q = [(0x8100, 0x2064)]; // PCP 1, VID 100
    let qq = [(0x88a8, 0x000a), (0x8100, 0x0064)];
    let v4 = |tags: &[(u16, u16)]| F::eth(tags, 0x0800);
    let v6 = |tags: &[(u16, u16)]| F::eth(tags, 0x86dd);
    vec![
        (
            "ipv4 udp",
            v4(&[]).ipv4(17, 8 + 4, 0, 0).udp(40000, 9, 4).pad(),
        ),
        (
            "ipv4 tcp opts df",
            v4(&[])
                .ipv4(6, 32 + 100, 0x4000, 0)
                .tcp(40001, 80, 12, 100)
                .pad(),
        ),
        (
            "ipv4 opts udp",
            v4(&[]).ipv4(17, 8 + 10, 0, 8).udp(40002, 9, 10).pad(),
        ),
        ("ipv4 icmp", v4(&[]).ipv4(1, 8 + 56, 0, 0).icmp(8, 56).pad()),
        (
            "ipv4 sctp",
            v4(&[]).ipv4(132, 12, 0, 0).sctp(2905, 2906).pad(),
        ),
        ("ipv4 gre", v4(&[]).ipv4(47, 40, 0, 0).payload(40).pad()),
        (
            "ipv4 first fragment",
            v4(&[])
                .ipv4(17, 8 + 200, 0x2000, 0)
                .udp(40003, 9, 200)
                .pad(),
        ),
        (
            "ipv4 later fragment",
            v4(&[]).ipv4(17, 200, 185, 0).payload(200).pad(),
        ),
        (
            "vlan ipv4 udp",
            v4(&q).ipv4(17, 8 + 30, 0, 0).udp(40004, 9, 30).pad(),
        ),
        (
            "qinq ipv4 tcp",
            v4(&qq).ipv4(6, 20 + 16, 0, 0).tcp(40005, 443, 0, 16).pad(),
        ),
        (
            "qinq ipv6 udp",
            v6(&qq).ipv6(&[], 17, 8 + 20).udp(40006, 9, 20).pad(),
        ),
        (
            "ipv6 udp",
            v6(&[]).ipv6(&[], 17, 8 + 20).udp(546, 547, 20).pad(),
        ),
        (
            "ipv6 icmpv6",
            v6(&[]).ipv6(&[], 58, 8 + 8).icmp(128, 8).pad(),
        ),
        (
            "ipv6 hop dst routing tcp",
            v6(&[])
                .ipv6(&[(0, 8), (60, 16), (43, 24)], 6, 24 + 12)
                .tcp(40007, 22, 4, 12)
                .pad(),
        ),
        ("ipv6 first fragment", {
            let mut f = v6(&[])
                .ipv6(&[(0, 8), (44, 8)], 17, 8 + 64)
                .udp(40008, 9, 64)
                .pad();
            f[64..66].copy_from_slice(&1u16.to_be_bytes()); // offset 0, M
            f
        }),
        (
            "ipv6 later fragment",
            v6(&[]).ipv6(&[(44, 8)], 17, 64).payload(64).pad(),
        ),
        (
            "vlan ipv6 dst udp",
            v6(&q).ipv6(&[(60, 8)], 17, 8 + 8).udp(40009, 9, 8).pad(),
        ),
        ("arp", arp()),
        ("other ethertype", F::eth(&[], 0x88b5).payload(46).pad()),
    ]
}

/// Frames cut by the snap length in the file: (name, frame, caplen).
fn cut_frames() -> Vec<(&'static str, Vec<u8>, usize)> {
    let tcp = F::eth(&[(0x8100, 5)], 0x0800)
        .ipv4(6, 32 + 100, 0, 0)
        .tcp(40010, 80, 12, 100)
        .pad();
    let v6 = F::eth(&[], 0x86dd)
        .ipv6(&[(0, 8), (60, 16)], 17, 8 + 100)
        .udp(40011, 9, 100)
        .pad();
    vec![
        ("cut in the ethernet header", tcp.clone(), 12),
        ("cut in the vlan tag", tcp.clone(), 16),
        ("cut in the ipv4 header", tcp.clone(), 30),
        ("cut in the tcp header", tcp.clone(), 45),
        ("cut in the tcp options", tcp.clone(), 60),
        ("cut in the tcp payload", tcp, 80),
        ("cut in the ipv6 header", v6.clone(), 40),
        ("cut in the ipv6 extension headers", v6.clone(), 70),
        ("cut in the udp header", v6.clone(), 80),
        ("cut in the udp payload", v6, 100),
    ]
}

/// A pcap file (microsecond, Ethernet) written by the test itself.
fn write_pcap(path: &Path, records: &[(Vec<u8>, u32)]) {
    let mut out = Vec::new();
    out.extend_from_slice(&0xa1b2c3d4u32.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&4u16.to_le_bytes());
    out.extend_from_slice(&[0; 8]);
    out.extend_from_slice(&65535u32.to_le_bytes());
    out.extend_from_slice(&1u32.to_le_bytes());
    for (i, (data, wire)) in records.iter().enumerate() {
        out.extend_from_slice(&(1_700_000_000u32 + i as u32).to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&(data.len() as u32).to_le_bytes());
        out.extend_from_slice(&wire.to_le_bytes());
        out.extend_from_slice(data);
    }
    std::fs::write(path, out).unwrap();
}

fn layers_records() -> Vec<(Vec<u8>, u32)> {
    let mut r: Vec<(Vec<u8>, u32)> = known_frames()
        .into_iter()
        .map(|(_, f)| {
            let n = f.len() as u32;
            (f, n)
        })
        .collect();
    for (_, f, cap) in cut_frames() {
        r.push((f[..cap].to_vec(), f.len() as u32));
    }
    r
}

// ---------------------------------------------------------- dissections ---

/// One `<proto>` of tshark's PDML: name, position, size.
#[derive(Debug, Clone)]
struct Proto {
    name: String,
    pos: usize,
    size: usize,
}

/// One packet of tshark's PDML: its protocols (in order) and its fields
/// (name → every `show` value, in order).
#[derive(Debug, Default)]
struct Dissection {
    caplen: usize,
    protos: Vec<Proto>,
    fields: BTreeMap<String, Vec<String>>,
}

fn attr<'a>(line: &'a str, name: &str) -> Option<&'a str> {
    let key = format!(" {name}=\"");
    let start = line.find(&key)? + key.len();
    let len = line[start..].find('"')?;
    Some(&line[start..start + len])
}

fn tshark(path: &Path) -> Vec<Dissection> {
    let out = Command::new("tshark")
        .args([
            "-n",
            "-o",
            "ip.defragment:FALSE",
            "-o",
            "ipv6.defragment:FALSE",
            "-T",
            "pdml",
            "-r",
        ])
        .arg(path)
        .output()
        .expect("tshark (scripts/deps.sh installs it)");
    assert!(
        out.status.success(),
        "tshark: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let mut packets = Vec::new();
    let mut cur: Option<Dissection> = None;
    for line in text.lines() {
        let t = line.trim_start();
        if t.starts_with("<packet>") {
            if let Some(d) = cur.take() {
                packets.push(d);
            }
            cur = Some(Dissection::default());
        } else if let Some(d) = cur.as_mut() {
            let (Some(name), Some(pos), Some(size)) =
                (attr(t, "name"), attr(t, "pos"), attr(t, "size"))
            else {
                continue;
            };
            let (pos, size) = (pos.parse().unwrap(), size.parse().unwrap());
            if t.starts_with("<proto ") {
                d.protos.push(Proto {
                    name: name.to_owned(),
                    pos,
                    size,
                });
            } else if t.starts_with("<field ") {
                if let Some(show) = attr(t, "show") {
                    d.fields
                        .entry(name.to_owned())
                        .or_default()
                        .push(show.to_owned());
                }
                if name == "frame.cap_len" {
                    d.caplen = attr(t, "show").unwrap().parse().unwrap();
                }
            }
        }
    }
    packets.extend(cur);
    packets
}

impl Dissection {
    fn proto(&self, name: &str) -> Option<&Proto> {
        self.protos.iter().find(|p| p.name == name)
    }
    fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .get(name)
            .and_then(|v| v.first())
            .map(String::as_str)
    }
    fn num(&self, name: &str) -> Option<u64> {
        let s = self.field(name)?;
        match s.strip_prefix("0x") {
            Some(h) => u64::from_str_radix(h, 16).ok(),
            None => s.parse().ok(),
        }
    }
    /// A header tshark found, if its `nominal` length (from its own length
    /// fields) was captured.
    fn whole(&self, name: &str, nominal: Option<usize>) -> Option<&Proto> {
        let p = self.proto(name)?;
        (p.pos + nominal? <= self.caplen).then_some(p)
    }
}

/// What nrcap prints for a frame cut inside its link header.
const CUT_IN_LINK: [(&str, &str); 5] = [
    ("status", "truncated"),
    ("at", "link"),
    ("ethertype", "0x0000"),
    ("link", "0+0"),
    ("payload", "0+0"),
];

/// What tshark's dissection says `nrcap -v` must print, as key=value pairs
/// (the same keys nrcap prints; see print_layers in c-examples/nrcap.c).
fn expected(d: &Dissection) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    let mut put = |k: &str, v: String| {
        m.insert(k.to_owned(), v);
    };
    let cap = d.caplen;
    let eth = d.whole("eth", Some(14));
    let Some(eth) = eth.filter(|e| e.size == 14) else {
        for (k, v) in CUT_IN_LINK {
            put(k, v.into());
        }
        return m;
    };
    // Tags in order: tshark's 802.1ad and 802.1Q headers; the TPID of each
    // is the type field before it.
    // (Values below 0x0600 are 802.3 lengths: tshark calls them eth.len.)
    let mut types = vec![d.num("eth.type").or(d.num("eth.len")).unwrap()];
    let mut link = eth.size;
    let mut tags = Vec::new();
    for p in &d.protos {
        let (id, etype) = match p.name.as_str() {
            "ieee8021ad" => ("ieee8021ad.id", "ieee8021ah.etype"),
            "vlan" => ("vlan.id", "vlan.etype"),
            _ => continue,
        };
        if p.pos + 4 > cap {
            for (k, v) in CUT_IN_LINK {
                put(k, v.into());
            }
            return m;
        }
        let n = tags.len();
        // The k-th header of this kind: its fields are the k-th values.
        let k = tags
            .iter()
            .filter(|t: &&(u64, u64, String)| t.2 == p.name)
            .count();
        let vid: u64 = d.fields[id][k].parse().unwrap();
        let et = d
            .fields
            .get(etype)
            .and_then(|v| v.get(k))
            .map(|v| u64::from_str_radix(v.trim_start_matches("0x"), 16).unwrap());
        tags.push((types[n], vid, p.name.clone()));
        types.push(et.unwrap_or(0));
        link += p.size;
    }
    let ethertype = *types.last().unwrap();
    for (i, (tpid, vid, _)) in tags.iter().enumerate() {
        put(&format!("vlan{i}"), format!("0x{tpid:04x}/{vid}"));
    }
    put("ethertype", format!("0x{ethertype:04x}"));
    put("link", format!("0+{link}"));
    let stop = |m: &mut BTreeMap<String, String>, at: &str| {
        m.insert("status".into(), "truncated".into());
        m.insert("at".into(), at.into());
    };
    put("status", "complete".into());
    // Network layer.
    let mut ip_end = cap;
    let (net, l3) = match ethertype {
        0x0800 => (
            d.whole("ip", d.num("ip.hdr_len").map(|n| n as usize)),
            "ipv4",
        ),
        0x86dd => (d.whole("ipv6", Some(40)), "ipv6"),
        0x0806 => (d.whole("arp", Some(28)), "arp"),
        _ => {
            put("payload", format!("{link}+{}", cap - link));
            return m;
        }
    };
    let Some(net) = net else {
        stop(&mut m, "network");
        m.insert("payload".into(), format!("{link}+0"));
        return m;
    };
    m.insert("l3".into(), l3.into());
    let (mut net_len, proto) = match l3 {
        "ipv4" => (d.num("ip.hdr_len").unwrap() as usize, d.num("ip.proto")),
        "ipv6" => {
            // The fixed header, then each extension header tshark found.
            let mut len = 40;
            let mut nxt = d.num("ipv6.nxt");
            for p in &d.protos {
                let key = match p.name.as_str() {
                    "ipv6.hopopts" | "ipv6.dstopts" | "ipv6.routing" | "ipv6.fraghdr" => {
                        p.name.clone()
                    }
                    _ => continue,
                };
                let k = d
                    .protos
                    .iter()
                    .filter(|q| q.name == key && q.pos < p.pos)
                    .count();
                let nominal = if key == "ipv6.fraghdr" {
                    Some(8)
                } else {
                    d.fields
                        .get(&format!("{key}.len_oct"))
                        .and_then(|v| v.get(k))
                        .and_then(|s| s.parse().ok())
                };
                if nominal.is_none_or(|n: usize| p.pos + n > cap) {
                    nxt = None;
                    break;
                }
                len += nominal.unwrap();
                nxt = d.fields[&format!("{key}.nxt")]
                    .get(k)
                    .and_then(|s| s.parse().ok());
            }
            // Cut before the next extension header even began.
            if nxt.is_none_or(|n| matches!(n, 0 | 43 | 44 | 51 | 60)) {
                stop(&mut m, "network");
                m.remove("l3");
                m.insert("payload".into(), format!("{}+0", net.pos));
                return m;
            }
            (len, nxt)
        }
        _ => (net.size, None),
    };
    if l3 == "ipv6" && net.pos + net_len > cap {
        net_len = 0;
    }
    let net_off = net.pos;
    m.insert("net".into(), format!("{net_off}+{net_len}"));
    let (src, dst) = match l3 {
        "ipv4" => (d.field("ip.src"), d.field("ip.dst")),
        "ipv6" => (d.field("ipv6.src"), d.field("ipv6.dst")),
        _ => (d.field("arp.src.proto_ipv4"), d.field("arp.dst.proto_ipv4")),
    };
    m.insert("src".into(), src.unwrap().into());
    m.insert("dst".into(), dst.unwrap().into());
    if l3 == "arp" {
        m.insert("op".into(), d.num("arp.opcode").unwrap().to_string());
        m.insert("payload".into(), format!("{}+0", net_off + net_len));
        return m;
    }
    let (ttl, ip_len) = if l3 == "ipv4" {
        (d.num("ip.ttl").unwrap(), d.num("ip.len").unwrap())
    } else {
        (
            d.num("ipv6.hlim").unwrap(),
            40 + d.num("ipv6.plen").unwrap(),
        )
    };
    ip_end = ip_end.min(net_off + ip_len as usize);
    m.insert("proto".into(), proto.unwrap().to_string());
    m.insert("ttl".into(), ttl.to_string());
    m.insert("iplen".into(), ip_len.to_string());
    // Fragments.
    let (mut df, mut mf, mut off, mut id, mut is_frag) = (false, false, 0, 0, false);
    if l3 == "ipv4" {
        df = d.num("ip.flags.df") == Some(1);
        mf = d.num("ip.flags.mf") == Some(1);
        off = d.num("ip.frag_offset").unwrap() * 8; // tshark: 8-byte units
        id = d.num("ip.id").unwrap();
        is_frag = mf || off != 0;
    } else if d.proto("ipv6.fraghdr").is_some() {
        mf = d.num("ipv6.fraghdr.more") == Some(1);
        off = d.num("ipv6.fraghdr.offset").unwrap() * 8;
        id = d.num("ipv6.fraghdr.ident").unwrap();
        is_frag = true;
    }
    if df || mf || is_frag {
        m.insert(
            "frag".into(),
            format!(
                "{}{}{}",
                if df { "DF" } else { "" },
                if mf { "MF" } else { "" },
                if is_frag { ",fragment" } else { "" }
            ),
        );
        m.insert("off".into(), off.to_string());
        m.insert("id".into(), format!("0x{id:x}"));
    }
    let t_off = net_off + net_len;
    // Transport layer.
    if off != 0 {
        m.insert(
            "payload".into(),
            format!("{t_off}+{}", ip_end.saturating_sub(t_off)),
        );
        if ip_end < net_off + ip_len as usize {
            stop(&mut m, "payload");
        }
        return m;
    }
    let l4 = match proto.unwrap() {
        6 => Some("tcp"),
        17 => Some("udp"),
        1 => Some("icmp"),
        58 => Some("icmpv6"),
        132 => Some("sctp"),
        _ => None,
    };
    let Some(l4) = l4 else {
        m.insert("l4".into(), "other".into());
        m.insert("payload".into(), format!("{t_off}+{}", ip_end - t_off));
        if ip_end < net_off + ip_len as usize {
            stop(&mut m, "payload");
        }
        return m;
    };
    let t = d.proto(l4).filter(|p| p.pos == t_off);
    let t_len = match l4 {
        "tcp" => t.and_then(|_| d.num("tcp.hdr_len")).map(|n| n as usize),
        "udp" => Some(8),
        "sctp" => Some(12),
        _ => Some(8),
    };
    match (t, t_len) {
        (Some(_), Some(t_len)) if t_off + t_len <= cap => {
            m.insert("l4".into(), l4.into());
            m.insert("transport".into(), format!("{t_off}+{t_len}"));
            let port = |k: &str| d.num(&format!("{l4}.{k}")).unwrap().to_string();
            if matches!(l4, "tcp" | "udp" | "sctp") {
                m.insert("sport".into(), port("srcport"));
                m.insert("dport".into(), port("dstport"));
            }
            if l4 == "tcp" {
                m.insert(
                    "tcpflags".into(),
                    format!("0x{:02x}", d.num("tcp.flags").unwrap()),
                );
            }
            let p_off = t_off + t_len;
            m.insert("payload".into(), format!("{p_off}+{}", ip_end - p_off));
            if ip_end < net_off + ip_len as usize {
                stop(&mut m, "payload");
            }
        }
        _ => {
            stop(&mut m, "transport");
            m.insert("payload".into(), format!("{t_off}+0"));
        }
    }
    m
}

/// The `parse:` lines of `nrcap -r FILE -v`, as key=value maps.
fn nrcap_layers(file: &Path) -> Vec<BTreeMap<String, String>> {
    let out = cmd::run_ok(
        Command::new(bin("nrcap")).arg("-r").arg(file).arg("-v"),
        "nrcap",
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix("parse: "))
        .map(|l| {
            l.split(' ')
                .filter_map(|kv| kv.split_once('='))
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect()
        })
        .collect()
}

/// nrcap's view of `file` against tshark's, frame by frame.
fn compare_file(file: &Path, names: &[&str]) -> usize {
    let ours = nrcap_layers(file);
    let theirs = tshark(file);
    assert_eq!(ours.len(), theirs.len(), "{}: frame count", file.display());
    for (i, (o, t)) in ours.iter().zip(&theirs).enumerate() {
        let want = expected(t);
        let name = names.get(i).copied().unwrap_or("");
        assert_eq!(
            o,
            &want,
            "{} frame {} ({name}): nrcap -v vs tshark\n{:?}",
            file.display(),
            i + 1,
            t.protos
        );
    }
    ours.len()
}

// ---------------------------------------------------------------- tests ---

/// tests/data/layers.pcap holds the known frames (whole and cut); it is
/// regenerated with NETRING_WRITE_DATA=1 and must match the builder.
#[test]
fn layers_pcap_is_the_known_frames() {
    let path = root().join("tests/data/layers.pcap");
    if std::env::var_os("NETRING_WRITE_DATA").is_some() {
        write_pcap(&path, &layers_records());
    }
    let dir = TempDir::new("parse-gen");
    let fresh = dir.join("layers.pcap");
    write_pcap(&fresh, &layers_records());
    assert_eq!(
        std::fs::read(&path).expect("tests/data/layers.pcap (NETRING_WRITE_DATA=1 regenerates it)"),
        std::fs::read(&fresh).unwrap(),
        "tests/data/layers.pcap is stale: NETRING_WRITE_DATA=1 cargo test --test parse"
    );
}

/// Every capture file of the project, through `nrcap -r -v` (the C API's
/// nr_packet_parse), against tshark.
#[test]
fn capture_files_match_tshark() {
    let mut names: Vec<&str> = known_frames().iter().map(|f| f.0).collect();
    let cut = cut_frames();
    names.extend(cut.iter().map(|c| c.0));
    let mut total = 0;
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join("tests/data"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "pcap" || e == "pcapng"))
        .collect();
    files.sort();
    assert!(files.iter().any(|f| f.ends_with("layers.pcap")));
    for f in &files {
        let n = if f.ends_with("layers.pcap") {
            &names[..]
        } else {
            &[][..]
        };
        total += compare_file(f, n);
    }
    assert!(total >= names.len() + 4, "{total} frames compared");
}

/// The known frames sent by an independent sender on a veth pair,
/// captured by netring (tag stripped by the kernel; then re-inserted; then
/// cut by a 70-byte snap length), parsed by the C API and the Rust API,
/// written to a pcap file and compared with tshark over that file.
#[test]
fn frames_on_a_veth_pair_match_tshark() {
    let frames = known_frames();
    let net = Net::new();
    for (reinsert, snaplen) in [(false, 0), (true, 0), (true, 70)] {
        let mut cfg = CaptureConfig {
            block_size: 1 << 20,
            block_count: 4,
            block_timeout_ms: 5,
            vlan_reinsert: reinsert,
            ..CaptureConfig::default()
        };
        if snaplen != 0 {
            cfg.snaplen = snaplen;
        }
        let mut cap = net.enter(|| Capture::open(&net.a, &cfg)).unwrap();
        let tx = net.sender(&net.b);
        for (_, f) in &frames {
            tx.send(f);
        }
        // Capture until every frame is in (the IP stack is off: IPv6 is
        // disabled and nothing has an address, so only our frames come).
        let mut got: Vec<(Vec<u8>, u32)> = Vec::new();
        let start = Instant::now();
        while got.len() < frames.len() && start.elapsed() < Duration::from_secs(10) {
            if let Wait::Ready(mut b) = cap
                .next_batch_timeout(Some(Duration::from_millis(20)))
                .unwrap()
            {
                b.for_each(|p| {
                    if p.data().get(..6) != Some(&DST_MAC[..]) {
                        return true;
                    }
                    let rust = p.layers();
                    let c = c_parse(p);
                    check_c_matches_rust(&c, &rust);
                    if !reinsert && p.vlan_tci().is_some() {
                        // The kernel took the outer tag: reported first,
                        // from the metadata.
                        assert!(rust.vlan_from_metadata && c.vlan_from_metadata == 1);
                    }
                    if reinsert {
                        assert!(!rust.vlan_from_metadata);
                    }
                    got.push((p.data().to_vec(), p.wire_len()));
                    true
                });
            }
        }
        assert_eq!(
            got.len(),
            frames.len(),
            "reinsert={reinsert} snaplen={snaplen}"
        );
        if !reinsert {
            // Without re-insertion the bytes lack the outer tag; the parse
            // of the whole packet still names every tag. Checked above;
            // tshark sees untagged bytes, so compare the re-inserted runs.
            continue;
        }
        for ((data, wire), (name, f)) in got.iter().zip(&frames) {
            // The kernel applies the snap length to the untagged frame;
            // the re-inserted tag comes on top.
            let tagged = matches!(u16::from_be_bytes([f[12], f[13]]), 0x8100 | 0x88a8);
            let keep = snaplen as usize + if tagged { 4 } else { 0 };
            let want = if snaplen != 0 {
                &f[..f.len().min(keep)]
            } else {
                &f[..]
            };
            assert_eq!(&data[..], want, "{name}: the captured bytes");
            assert_eq!(*wire as usize, f.len(), "{name}");
        }
        let dir = TempDir::new(&format!("parse-veth{snaplen}"));
        let file = dir.join("veth.pcap");
        write_pcap(&file, &got);
        let names: Vec<&str> = frames.iter().map(|f| f.0).collect();
        assert_eq!(compare_file(&file, &names), frames.len());
    }
}

fn c_parse(p: &netring::Packet<'_>) -> netring::capi::parse::nr_layers {
    use netring::capi::batch::nr_packet;
    use netring::capi::parse::{nr_layers, nr_packet_parse};
    let pkt = nr_packet::from(p);
    // SAFETY: all-zero is a valid nr_layers (plain integers).
    let mut l: nr_layers = unsafe { std::mem::zeroed() };
    l.size = std::mem::size_of::<nr_layers>();
    // SAFETY: pkt describes live packet memory; l is a valid out struct.
    assert_eq!(unsafe { nr_packet_parse(&pkt, &mut l) }, 0);
    l
}

fn check_c_matches_rust(c: &netring::capi::parse::nr_layers, r: &Layers<'_>) {
    let st = match r.status {
        ParseStatus::Complete => (0, 0),
        ParseStatus::Truncated(l) => (1, l as u8),
        ParseStatus::Malformed(l) => (2, l as u8),
    };
    assert_eq!((c.status, c.stop_layer), st);
    assert_eq!((c.l3, c.l4), (r.l3 as u8, r.l4 as u8));
    assert_eq!(
        (c.vlan_count, c.ethertype, c.link_len),
        (r.vlan_count, r.ethertype, r.link_len)
    );
    assert_eq!(
        (c.net_off, c.net_len, c.transport_off, c.transport_len),
        (r.net_off, r.net_len, r.transport_off, r.transport_len)
    );
    assert_eq!(
        (c.payload_off, c.payload_len, c.src_port, c.dst_port),
        (r.payload_off, r.payload_len, r.src_port, r.dst_port)
    );
    assert_eq!(
        (&c.src_addr, &c.dst_addr),
        (r.src_addr_bytes(), r.dst_addr_bytes())
    );
    assert_eq!(c.ip_proto, r.ip_proto);
}
