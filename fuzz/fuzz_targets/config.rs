//! The configuration checks (capture, AF_XDP, writer) on arbitrary values:
//! they accept or refuse with a message naming a field, never panic, and an
//! accepted AF_XDP geometry is usable.
#![no_main]

use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use netring_engine::CaptureConfig;
use netring_engine::afxdp::{BindMode, Direction, XdpConfig};
use netring_engine::pcapfile::{Format, WriterConfig};

struct Bytes<'a>(&'a [u8]);

impl Bytes<'_> {
    fn u32(&mut self) -> u32 {
        let (h, t) = self.0.split_at(self.0.len().min(4));
        self.0 = t;
        let mut b = [0u8; 4];
        b[..h.len()].copy_from_slice(h);
        // Small values and powers of two are the interesting ones.
        match b[0] & 3 {
            0 => u32::from_le_bytes(b),
            1 => 1 << (b[1] % 32),
            2 => u32::from(b[1]) * 64,
            _ => u32::from(u16::from_le_bytes([b[1], b[2]])),
        }
    }
    fn u64(&mut self) -> u64 {
        (u64::from(self.u32()) << 32) | u64::from(self.u32())
    }
}

fuzz_target!(|data: &[u8]| {
    let mut b = Bytes(data);
    let cap = CaptureConfig {
        block_size: b.u32(),
        block_count: b.u32(),
        frame_size: b.u32(),
        block_timeout_ms: b.u32(),
        snaplen: b.u32(),
        ..CaptureConfig::default()
    };
    if let Err(e) = cap.validate() {
        assert!(!e.message().is_empty());
    }
    let dir = match b.u32() % 3 {
        0 => Direction::Rx,
        1 => Direction::Tx,
        _ => Direction::RxTx,
    };
    let xdp = XdpConfig {
        frame_size: b.u32(),
        frame_count: b.u32(),
        direction: dir,
        fill_prefill: b.u32(),
        rx_ring_size: b.u32(),
        tx_ring_size: b.u32(),
        fill_ring_size: b.u32(),
        comp_ring_size: b.u32(),
        bind: BindMode::Copy,
        batch_size: b.u32(),
        poll_timeout: Duration::from_millis(u64::from(b.u32() % 100_000)),
        ..XdpConfig::default()
    };
    let queues = b.u32() % 64;
    if let Err(e) = xdp.validate(queues) {
        assert!(!e.message().is_empty());
    }
    let w = WriterConfig {
        format: match b.u32() % 3 {
            0 => Format::Pcap,
            1 => Format::PcapNs,
            _ => Format::Pcapng,
        },
        snaplen: b.u32(),
        link_type: b.u32(),
        buffer_size: b.u32() as usize,
        rotate_bytes: b.u64(),
        rotate_files: b.u32(),
        ..WriterConfig::default()
    };
    if let Err(e) = w.validate() {
        assert!(!e.message().is_empty());
    }
});
