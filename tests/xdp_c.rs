//! AF_XDP through the C API (`nr_xdp_*`, `nr_batch_*`) on a veth pair, as a
//! C caller would use it: RX through a held batch, TX through
//! `nr_xdp_send`, checked by independent sockets (the Rust API's tests are
//! the engine's tests/xdp.rs).

use std::time::{Duration, Instant};

use netring::capi::batch::nr_packet;
use netring::capi::batch::{nr_batch, nr_batch_for_each, nr_batch_len, nr_batch_release};
use netring::capi::inject::nr_frame;
use netring::capi::xdp::*;
use netring_testkit::{Net, OTHER_MAC, Receiver, Sender, TEST_ETHERTYPE, frame, frame_seq};
use std::ffi::{CString, c_int, c_void};

unsafe extern "C" fn keep(user: *mut c_void, pkt: *const nr_packet) -> c_int {
    // SAFETY: user is a &mut Vec<Vec<u8>>; pkt is valid for the call.
    unsafe {
        let v = &mut *(user as *mut Vec<Vec<u8>>);
        v.push(std::slice::from_raw_parts((*pkt).data, (*pkt).caplen as usize).to_vec());
        assert_eq!((*pkt).protocol, TEST_ETHERTYPE);
    }
    0
}

#[test]
fn c_api_rx_through_nr_batch_and_tx_through_nr_xdp_send() {
    let net = Net::new();
    let (got, peer) = net.enter(|| {
        let rx = Receiver::open(&net.b);
        let name = CString::new(net.a.as_str()).unwrap();
        let mut cfg = std::mem::MaybeUninit::<nr_xdp_config>::uninit();
        let mut x: *mut nr_xdp = std::ptr::null_mut();
        // SAFETY: C API calls with valid pointers, as a C caller would.
        unsafe {
            assert_eq!(
                nr_xdp_config_init(cfg.as_mut_ptr(), std::mem::size_of::<nr_xdp_config>()),
                0
            );
            let mut cfg = cfg.assume_init();
            cfg.direction = NR_XDP_RXTX;
            cfg.frame_count = 256;
            cfg.attach_mode = NR_XDP_ATTACH_GENERIC;
            assert_eq!(nr_xdp_open(name.as_ptr(), 0, &cfg, &mut x), 0);
            let mut info = nr_xdp_info::default();
            assert_eq!(nr_xdp_get_info(x, &mut info), 0);
            assert_eq!(info.native, 0);
            assert!(!info.zero_copy);
            assert!(nr_xdp_fd(x) >= 0);

            let tx = Sender::open(&net.b);
            for i in 0..50u32 {
                tx.send(&frame(64 + i as usize, i, OTHER_MAC));
            }
            let mut got: Vec<Vec<u8>> = Vec::new();
            let start = Instant::now();
            while got.len() < 50 && start.elapsed() < Duration::from_secs(5) {
                let mut b: *mut nr_batch = std::ptr::null_mut();
                if nr_xdp_next_batch(x, 50, &mut b) == 0 {
                    assert!(nr_batch_len(b) > 0);
                    let rc =
                        nr_batch_for_each(b, Some(keep), (&mut got as *mut Vec<Vec<u8>>).cast());
                    assert_eq!(rc, 0);
                    // A second next_batch while held is refused.
                    let mut b2: *mut nr_batch = std::ptr::null_mut();
                    assert_eq!(nr_xdp_next_batch(x, 0, &mut b2), -7);
                    assert_eq!(nr_batch_release(b), 0);
                    assert_eq!(nr_batch_release(b), -8, "double release");
                }
            }
            // TX through nr_xdp_send.
            let frames: Vec<Vec<u8>> = (0..40u32)
                .map(|i| frame(300, 1000 + i, OTHER_MAC))
                .collect();
            let descs: Vec<nr_frame> = frames
                .iter()
                .map(|f| nr_frame {
                    data: f.as_ptr(),
                    len: f.len(),
                })
                .collect();
            let mut sent = 0usize;
            while sent < descs.len() {
                let n = nr_xdp_send(x, descs[sent..].as_ptr(), descs.len() - sent);
                assert!(n >= 0);
                sent += n as usize;
                if n == 0 {
                    nr_xdp_flush(x, 10);
                }
            }
            assert_eq!(nr_xdp_flush(x, 5000), 0);
            let zero = nr_frame {
                data: frames[0].as_ptr(),
                len: 0,
            };
            assert_eq!(nr_xdp_send(x, &zero, 1), -1);
            let mut st = nr_xdp_stats::default();
            assert_eq!(nr_xdp_get_stats(x, &mut st, std::ptr::null_mut()), 0);
            assert_eq!(st.rx_packets, 50);
            assert_eq!(st.tx_completed, 40);
            nr_xdp_close(x);
            (
                got,
                rx.frames(40, Duration::ZERO, Duration::from_secs(5), |f| {
                    frame_seq(f).is_some_and(|s| s >= 1000)
                }),
            )
        }
    });
    assert_eq!(got.len(), 50);
    for (i, g) in got.iter().enumerate() {
        assert_eq!(g, &frame(64 + i, i as u32, OTHER_MAC));
    }
    assert_eq!(peer.len(), 40);
    for (i, f) in peer.iter().enumerate() {
        assert_eq!(f, &frame(300, 1000 + i as u32, OTHER_MAC));
    }
    assert!(net.wait_no_xdp(&net.a));
}
