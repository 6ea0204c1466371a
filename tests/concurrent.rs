//! Misuse from two threads (issue 15, item 4): a second thread entering a
//! call on a capture handle that is inside a call gets NR_E_BUSY with a
//! sentence naming the handle; breakloop stays allowed from anywhere; close
//! from another thread leaves the handle open; once the first call returns
//! the handle is usable again from any thread.

use std::ffi::{CStr, CString};
use std::mem::MaybeUninit;
use std::time::{Duration, Instant};

use netring::capi::batch::{nr_batch, nr_batch_release};
use netring::capi::capture::*;
use netring::capi::{nr_last_error, nr_status};
use netring_testkit::Net;

const BUSY: i32 = nr_status::NR_E_BUSY as i32;
const BREAK: i32 = nr_status::NR_BREAK as i32;
const OK: i32 = nr_status::NR_OK as i32;
const TIMEOUT: i32 = nr_status::NR_TIMEOUT as i32;

fn last_error() -> String {
    // SAFETY: nr_last_error returns a valid NUL-terminated string.
    unsafe { CStr::from_ptr(nr_last_error()) }
        .to_string_lossy()
        .into_owned()
}

struct Cap(*mut nr_capture);
// SAFETY: the pointer is only handed to the library, whose entry check is
// what this test exercises.
unsafe impl Send for Cap {}
// SAFETY: as above.
unsafe impl Sync for Cap {}

#[test]
fn second_thread_gets_busy_and_breakloop_still_works() {
    let net = Net::new();
    net.enter(|| {
        let mut cfg = MaybeUninit::<nr_capture_config>::uninit();
        let name = CString::new(net.a.clone()).unwrap();
        let mut cap: *mut nr_capture = std::ptr::null_mut();
        // SAFETY: cfg has size_of bytes; name is NUL-terminated; cap is an
        // out-parameter.
        unsafe {
            assert_eq!(
                nr_capture_config_init(cfg.as_mut_ptr(), size_of::<nr_capture_config>()),
                OK
            );
            assert_eq!(nr_capture_open(name.as_ptr(), cfg.as_ptr(), &mut cap), OK);
        }
        let cap = Cap(cap);
        let cap = &cap;
        std::thread::scope(|s| {
            // Thread A: blocked in a call (nothing arrives on the idle pair).
            let a = s.spawn(move || {
                let mut b: *mut nr_batch = std::ptr::null_mut();
                let t = Instant::now();
                // SAFETY: a live handle; b is an out-parameter.
                let rc = unsafe { nr_next_batch(cap.0, 5000, &mut b) };
                (rc, t.elapsed())
            });
            std::thread::sleep(Duration::from_millis(300));
            // Thread B (this one): every entry is refused while A is inside.
            let mut total = MaybeUninit::<nr_capture_stats>::uninit();
            // SAFETY: a live handle; total is an out-parameter; delta NULL.
            let rc =
                unsafe { nr_capture_get_stats(cap.0, total.as_mut_ptr(), std::ptr::null_mut()) };
            assert_eq!(rc, BUSY, "stats while another thread waits");
            let msg = last_error();
            assert!(
                msg.contains("cap (nr_capture at 0x") && msg.contains("another thread"),
                "{msg}"
            );
            let mut b: *mut nr_batch = std::ptr::null_mut();
            // SAFETY: as above.
            let rc = unsafe { nr_next_batch(cap.0, 0, &mut b) };
            assert_eq!(rc, BUSY, "a second wait on the same handle");
            // Close from here must not free the handle under A.
            // SAFETY: a live handle; the library refuses to free it.
            unsafe { nr_capture_close(cap.0) };
            assert!(last_error().contains("another thread"), "{}", last_error());
            // Breakloop is exempt and ends A's wait.
            // SAFETY: a live handle.
            assert_eq!(unsafe { nr_capture_breakloop(cap.0) }, OK);
            let (rc, took) = a.join().unwrap();
            assert_eq!(rc, BREAK, "A's wait was broken, not disturbed");
            assert!(took < Duration::from_secs(4), "{took:?}");
        });
        // A returned: the handle is free for any thread again (it was not
        // closed above).
        let mut total = MaybeUninit::<nr_capture_stats>::uninit();
        // SAFETY: a live handle; total is an out-parameter.
        let rc = unsafe { nr_capture_get_stats(cap.0, total.as_mut_ptr(), std::ptr::null_mut()) };
        assert_eq!(rc, OK, "{}", last_error());
        let rc = std::thread::scope(|s| {
            s.spawn(|| {
                let mut b: *mut nr_batch = std::ptr::null_mut();
                // SAFETY: a live handle, used by one thread at a time.
                let rc = unsafe { nr_next_batch(cap.0, 10, &mut b) };
                if !b.is_null() {
                    // SAFETY: a batch from nr_next_batch.
                    unsafe { nr_batch_release(b) };
                }
                rc
            })
            .join()
            .unwrap()
        });
        assert_eq!(rc, TIMEOUT);
        // SAFETY: the handle is given up here.
        unsafe { nr_capture_close(cap.0) };
    });
}
