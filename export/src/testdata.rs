//! Synthetic captures with many flows, for the tests, the benchmarks and
//! trying nrexport out: `cargo run -p netring-export --example genpcap --
//! FILE PACKETS FLOWS`.

use std::path::Path;

use netring_engine::pcapfile::{Format, Writer, WriterConfig};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// One generated flow: both ends, protocol, VLAN.
struct Flow {
    v6: bool,
    a: [u8; 16],
    b: [u8; 16],
    pa: u16,
    pb: u16,
    proto: u8,
    vlan: Option<u16>,
}

fn frame(f: &Flow, fwd: bool, flags: u8, payload: usize) -> Vec<u8> {
    let (s, d, sp, dp) = if fwd {
        (&f.a, &f.b, f.pa, f.pb)
    } else {
        (&f.b, &f.a, f.pb, f.pa)
    };
    let mut v = if fwd {
        vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1]
    } else {
        vec![2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2]
    };
    if let Some(id) = f.vlan {
        v.extend_from_slice(&[0x81, 0x00]);
        v.extend_from_slice(&id.to_be_bytes());
    }
    let mut l4 = sp.to_be_bytes().to_vec();
    l4.extend_from_slice(&dp.to_be_bytes());
    if f.proto == 6 {
        l4.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 1, 0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
    } else {
        l4.extend_from_slice(&((8 + payload) as u16).to_be_bytes());
        l4.extend_from_slice(&[0, 0]);
    }
    l4.extend(std::iter::repeat_n(0x5a, payload));
    if f.v6 {
        v.extend_from_slice(&[0x86, 0xdd, 0x60, 0, 0, 0]);
        v.extend_from_slice(&(l4.len() as u16).to_be_bytes());
        v.extend_from_slice(&[f.proto, 64]);
        v.extend_from_slice(s);
        v.extend_from_slice(d);
    } else {
        v.extend_from_slice(&[0x08, 0x00, 0x45, 0]);
        v.extend_from_slice(&((20 + l4.len()) as u16).to_be_bytes());
        v.extend_from_slice(&[0, 1, 0x40, 0, 64, f.proto, 0, 0]);
        v.extend_from_slice(&s[..4]);
        v.extend_from_slice(&d[..4]);
    }
    v.extend_from_slice(&l4);
    v
}

/// A pcap of `packets` packets over `flows` flows (IPv4 and IPv6, TCP and
/// UDP, a quarter VLAN-tagged with IDs 100..=103, both directions, random
/// lengths), plus an ARP frame every 997 packets; 10 µs apart from
/// 2026-01-01. Deterministic for a seed. `flows` must be > 0.
pub fn gen_pcap(path: &Path, packets: u32, flows: u32, seed: u64) -> netring_engine::Result<()> {
    let mut r = Rng(seed | 1);
    let fl: Vec<Flow> = (0..flows)
        .map(|_| {
            let v6 = r.next() % 3 == 0;
            let mut a = [0u8; 16];
            let mut b = [0u8; 16];
            if v6 {
                a[..2].copy_from_slice(&[0x20, 0x01]);
                b[..2].copy_from_slice(&[0x20, 0x01]);
                a[8..].copy_from_slice(&r.next().to_be_bytes());
                b[14..].copy_from_slice(&(r.next() as u16).to_be_bytes());
            } else {
                a[..4].copy_from_slice(&[10, (r.next() % 4) as u8, r.next() as u8, r.next() as u8]);
                b[..4].copy_from_slice(&[192, 168, (r.next() % 3) as u8, r.next() as u8]);
            }
            Flow {
                v6,
                a,
                b,
                pa: 1024 + (r.next() % 60000) as u16,
                pb: [53, 80, 443, 8080][(r.next() % 4) as usize],
                proto: if r.next() % 2 == 0 { 6 } else { 17 },
                vlan: (r.next() % 4 == 0).then(|| 100 + (r.next() % 4) as u16),
            }
        })
        .collect();
    let cfg = WriterConfig {
        format: Format::Pcap,
        ..WriterConfig::default()
    };
    let mut w = Writer::create(path, &cfg)?;
    let t0 = 1_767_225_600_000_000_000u64;
    for i in 0..packets {
        let ts = t0 + i as u64 * 10_000;
        let f = if i % 997 == 996 {
            let mut arp = vec![0xff; 6];
            arp.extend_from_slice(&[2, 0, 0, 0, 0, 9, 0x08, 0x06, 0, 1, 8, 0, 6, 4, 0, 1]);
            arp.extend_from_slice(&[2, 0, 0, 0, 0, 9, 10, 9, 9, 9, 0, 0, 0, 0, 0, 0, 10, 9, 9, 1]);
            arp.extend_from_slice(&[0; 18]);
            arp
        } else {
            let f = &fl[(r.next() % flows as u64) as usize];
            let x = r.next();
            let flags = if x % 50 == 0 { 0x02 } else { 0x18 };
            frame(f, x % 3 != 0, flags, ((x >> 8) % 300) as usize)
        };
        w.write_raw(ts, &f, f.len() as u32)?;
    }
    w.finish()?;
    Ok(())
}
