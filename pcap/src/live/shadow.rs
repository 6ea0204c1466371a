//! The shadow: a real libpcap handle of the same device, created with ours
//! and activated after it, so that `pcap_compile` produces exactly the
//! program libpcap would run there (VLAN tests included) and the device's
//! time stamp types and link types are libpcap's lists. It is bound to
//! protocol 0 once activated: it receives nothing.

use std::ffi::{c_char, c_int, c_void};
use std::ptr;

use crate::real::{self, Real};
use crate::types::ERRBUF_SIZE;

/// The real handle (NULL when the real library could not make one).
pub struct Shadow {
    /// The real `pcap_t`.
    pub ptr: *mut c_void,
    /// It is activated.
    pub active: bool,
}

impl Shadow {
    /// No shadow.
    pub const NONE: Shadow = Shadow {
        ptr: ptr::null_mut(),
        active: false,
    };

    /// A not yet activated real handle of `dev`.
    ///
    /// # Safety
    /// `dev` is NULL or NUL-terminated.
    pub unsafe fn create(dev: *const c_char) -> Shadow {
        let Some(r) = real::try_get() else {
            return Shadow::NONE;
        };
        let mut eb = [0 as c_char; ERRBUF_SIZE];
        // errno as the real pcap_create leaves it: the program called
        // pcap_create. SAFETY: dev is NUL-terminated (caller); a scratch
        // errbuf.
        let ptr = r.with_errno(|| unsafe { (r.pcap_create)(dev, eb.as_mut_ptr()) });
        Shadow { ptr, active: false }
    }

    /// The real library and the shadow, when there is one.
    pub fn get(&self) -> Option<(&'static Real, *mut c_void)> {
        let r = real::try_get()?;
        (!self.ptr.is_null()).then_some((r, self.ptr))
    }

    /// The real library and the activated shadow.
    pub fn active(&self) -> Option<(&'static Real, *mut c_void)> {
        self.get().filter(|_| self.active)
    }

    /// Activate it after our capture (`snapshot`, bound to `ifindex`);
    /// closed when the real library cannot.
    pub fn activate(&mut self, snapshot: u32, ifindex: i32) {
        let Some((r, sp)) = self.get() else {
            return;
        };
        // SAFETY: the shadow is a live, not yet activated real handle.
        let st = unsafe {
            (r.pcap_set_snaplen)(sp, snapshot as c_int);
            (r.pcap_set_buffer_size)(sp, 1 << 17);
            (r.pcap_set_timeout)(sp, 1000);
            (r.pcap_activate)(sp)
        };
        if st < 0 {
            self.close();
            return;
        }
        self.active = true;
        // Bind it to protocol 0 so that it receives nothing (the kernel
        // unhooks it; no copy, no CPU).
        // SAFETY: the shadow is activated.
        let fd = unsafe { (r.pcap_fileno)(sp) };
        if fd >= 0 {
            // SAFETY: sockaddr_ll is plain data; zero is a valid value.
            let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
            sll.sll_family = libc::AF_PACKET as u16;
            sll.sll_protocol = 0;
            sll.sll_ifindex = ifindex;
            // SAFETY: fd is the shadow's packet socket; sll is a valid
            // address of the given length.
            unsafe {
                libc::bind(
                    fd,
                    (&sll as *const libc::sockaddr_ll).cast(),
                    std::mem::size_of::<libc::sockaddr_ll>() as u32,
                )
            };
        }
    }

    /// Close it (once). An activated shadow is closed on a thread of its
    /// own: closing a packet socket waits for an RCU grace period in the
    /// kernel (`synchronize_net`, 20-30 ms), which libpcap's `pcap_close`
    /// pays once, for its one socket; the program's `pcap_close` must not
    /// pay it twice (nmap opens and closes a handle per scan phase).
    pub fn close(&mut self) {
        if let Some((r, sp)) = self.get() {
            let addr = sp as usize;
            let close = move || {
                // SAFETY: the shadow is ours, closed once (ptr is cleared
                // below, nothing else holds it).
                unsafe { (r.pcap_close)(addr as *mut c_void) };
            };
            if self.active {
                if let Err(e) = std::thread::Builder::new()
                    .name("netring-close".into())
                    .spawn(close)
                {
                    drop(e);
                    // SAFETY: as above (the thread did not start).
                    unsafe { (r.pcap_close)(sp) };
                }
            } else {
                close();
            }
        }
        *self = Shadow::NONE;
    }
}
