//! Flow meter micro benchmark: packets per second on one core over many
//! concurrent flows (issue 24: >= 10 M pps over 1 M flows).
//!
//! ```text
//! cargo run --release -p netring-engine --example flowbench -- [FLOWS] [PASSES]
//! ```
//!
//! Builds FLOWS (default 2^20) distinct Ethernet/IPv4/UDP frames (64 bytes
//! each, half of them IPv4/TCP), then feeds them PASSES times (default 10)
//! through one [`FlowMeter`] sized for all of them; the first pass creates
//! the flows, the others are timed (steady state: every packet a lookup and
//! an update of a flow among FLOWS, in an order that defeats the caches).

use std::time::Instant;

use netring_engine::Packet;
use netring_engine::flow::{FlowConfig, FlowMeter};

const LEN: usize = 64;

fn frame(i: u32, out: &mut [u8]) {
    out.fill(0);
    out[..6].copy_from_slice(&[2, 0, 0, 0, 0, 2]);
    out[6..12].copy_from_slice(&[2, 0, 0, 0, 0, 1]);
    out[12..14].copy_from_slice(&[0x08, 0x00]);
    let tcp = i % 2 == 1;
    let ip = &mut out[14..];
    ip[0] = 0x45;
    ip[2..4].copy_from_slice(&50u16.to_be_bytes());
    ip[8] = 64;
    ip[9] = if tcp { 6 } else { 17 };
    ip[12..16].copy_from_slice(&[10, (i >> 16) as u8, (i >> 8) as u8, i as u8]);
    ip[16..20].copy_from_slice(&[192, 168, 0, 1]);
    let l4 = &mut ip[20..];
    l4[0..2].copy_from_slice(&(1024 + (i % 50_000) as u16).to_be_bytes());
    l4[2..4].copy_from_slice(&443u16.to_be_bytes());
    if tcp {
        l4[12] = 0x50;
        l4[13] = 0x10;
    } else {
        l4[4..6].copy_from_slice(&30u16.to_be_bytes());
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let flows: u32 = args.next().map_or(1 << 20, |s| s.parse().expect("FLOWS"));
    let passes: u32 = args.next().map_or(10, |s| s.parse().expect("PASSES"));
    let mut buf = vec![0u8; flows as usize * LEN];
    for (i, f) in buf.chunks_exact_mut(LEN).enumerate() {
        frame(i as u32, f);
    }
    let cfg = FlowConfig {
        max_flows: flows,
        ..FlowConfig::default()
    };
    let mut m = FlowMeter::new(&cfg).expect("meter");
    let mut ts = 1_000_000_000u64;
    let run = |m: &mut FlowMeter, ts: &mut u64| {
        for f in buf.chunks_exact(LEN) {
            *ts += 10;
            let p = Packet {
                data: f,
                ts_ns: *ts,
                wire_len: LEN as u32,
                ifindex: 1,
                protocol: 0x0800,
                ..Packet::default()
            };
            m.observe(&p);
        }
    };
    run(&mut m, &mut ts);
    assert_eq!(m.active_flows(), flows as usize);
    let t0 = Instant::now();
    for _ in 1..passes {
        run(&mut m, &mut ts);
    }
    let dt = t0.elapsed().as_secs_f64();
    let n = flows as u64 * (passes as u64 - 1);
    let st = m.stats();
    assert_eq!(st.flows, flows as u64, "no flow ended early: {st:?}");
    println!(
        "flowbench: {} concurrent flows, {} packets in {:.3} s: {:.2} M packets/s, {:.1} ns/packet; \
         table {} MiB ({} bytes per flow)",
        flows,
        n,
        dt,
        n as f64 / dt / 1e6,
        dt * 1e9 / n as f64,
        m.memory_bytes() >> 20,
        FlowMeter::BYTES_PER_FLOW
    );
}
