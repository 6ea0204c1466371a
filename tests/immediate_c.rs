//! Immediate mode through the C API (`nr_capture_config.immediate`): real
//! frames on a veth pair, byte for byte through nr_next_batch +
//! nr_batch_for_each, and a lone frame delivered long before the 10 s block
//! timeout a block ring would wait for. The Rust API's tests are the
//! engine's tests/immediate.rs.

#[path = "../engine/tests/common/mod.rs"]
mod common;

use std::ffi::{CString, c_int, c_void};
use std::mem::MaybeUninit;
use std::time::{Duration, Instant};

use common::{Net, OTHER_MAC, frame, frame_seq};
use netring::capi::batch::{nr_batch, nr_batch_for_each, nr_batch_release, nr_packet};
use netring::capi::capture::*;
use netring::capi::nr_status;

const SIZES: [usize; 11] = [60, 61, 64, 100, 128, 500, 1000, 1499, 1500, 1513, 1514];

/// Read test frames through the C API (nr_next_batch + nr_batch_for_each)
/// until `n` arrived or 5 s passed.
fn c_read(cap: *mut nr_capture, n: usize) -> Vec<Vec<u8>> {
    unsafe extern "C" fn keep(user: *mut c_void, p: *const nr_packet) -> c_int {
        // SAFETY: user is the &mut Vec passed below; p is a packet of the
        // batch being walked, valid during the callback.
        let (seen, p) = unsafe { (&mut *(user as *mut Vec<Vec<u8>>), &*p) };
        // SAFETY: data points to caplen readable bytes while the batch is held.
        let data = unsafe { std::slice::from_raw_parts(p.data, p.caplen as usize) };
        if frame_seq(data).is_some() {
            seen.push(data.to_vec());
        }
        0
    }
    let ok = nr_status::NR_OK as c_int;
    let mut seen: Vec<Vec<u8>> = Vec::new();
    let t = Instant::now();
    while seen.len() < n && t.elapsed() < Duration::from_secs(5) {
        let mut b: *mut nr_batch = std::ptr::null_mut();
        // SAFETY: a live handle; b is an out-parameter; the callback gets
        // &mut seen as its user pointer.
        unsafe {
            if nr_next_batch(cap, 100, &mut b) == ok {
                assert_eq!(
                    nr_batch_for_each(b, Some(keep), (&mut seen as *mut Vec<Vec<u8>>).cast()),
                    ok
                );
                nr_batch_release(b);
            }
        }
    }
    seen
}

#[test]
fn c_api_immediate_frames_byte_exact_and_prompt() {
    let net = Net::new();
    let (got, lag) = net.enter(|| {
        let ok = nr_status::NR_OK as c_int;
        let mut cfg = MaybeUninit::<nr_capture_config>::uninit();
        let name = CString::new(net.a.as_str()).unwrap();
        let mut cap: *mut nr_capture = std::ptr::null_mut();
        // SAFETY: cfg has size_of bytes and is initialised by the first
        // call; name is NUL-terminated; cap is an out-parameter.
        let cfg = unsafe {
            assert_eq!(
                nr_capture_config_init(cfg.as_mut_ptr(), size_of::<nr_capture_config>()),
                ok
            );
            let mut cfg = cfg.assume_init();
            cfg.block_size = 64 << 10;
            cfg.block_count = 8;
            cfg.block_timeout_ms = 10_000;
            cfg.immediate = true;
            assert_eq!(nr_capture_open(name.as_ptr(), &cfg, &mut cap), ok);
            cfg
        };
        let _ = cfg;
        let tx = common::Sender::open(&net.b);
        for (i, &len) in SIZES.iter().enumerate() {
            tx.send(&frame(len, i as u32, OTHER_MAC));
        }
        let got = c_read(cap, SIZES.len());
        let t = Instant::now();
        tx.send(&frame(60, 999, OTHER_MAC));
        let lone = c_read(cap, 1);
        let lag = t.elapsed();
        assert_eq!(lone, vec![frame(60, 999, OTHER_MAC)]);
        // SAFETY: the handle is live and no batch is held.
        unsafe { nr_capture_close(cap) };
        (got, lag)
    });
    assert_eq!(got.len(), SIZES.len());
    for (i, &len) in SIZES.iter().enumerate() {
        assert_eq!(got[i], frame(len, i as u32, OTHER_MAC), "frame {i}");
    }
    assert!(
        lag < Duration::from_millis(200),
        "a lone frame took {lag:?}"
    );
}
