//! libpcap's C types (pcap/pcap.h, pcap/bpf.h of 1.10, Linux x86-64 layout).

use std::ffi::c_uint;

/// `PCAP_ERRBUF_SIZE`.
pub const ERRBUF_SIZE: usize = 256;

/// Status codes of pcap/pcap.h.
pub mod code {
    use std::ffi::c_int;
    /// Generic error.
    pub const ERROR: c_int = -1;
    /// Loop ended by `pcap_breakloop`.
    pub const BREAK: c_int = -2;
    /// The handle is not activated.
    pub const NOT_ACTIVATED: c_int = -3;
    /// The handle is already activated.
    pub const ACTIVATED: c_int = -4;
    /// No such device.
    pub const NO_SUCH_DEVICE: c_int = -5;
    /// Monitor mode is not supported.
    pub const RFMON_NOTSUP: c_int = -6;
    /// Operation supported only in monitor mode.
    pub const NOT_RFMON: c_int = -7;
    /// No permission to open the device.
    pub const PERM_DENIED: c_int = -8;
    /// The interface is not up.
    pub const IFACE_NOT_UP: c_int = -9;
    /// The requested time stamp precision is not supported.
    pub const TSTAMP_PRECISION_NOTSUP: c_int = -12;
    /// The requested time stamp type is not supported.
    pub const WARNING_TSTAMP_TYPE_NOTSUP: c_int = 3;
}

/// `struct pcap_pkthdr`.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct PktHdr {
    /// Time stamp (microseconds or nanoseconds in `tv_usec`).
    pub ts: libc::timeval,
    /// Bytes present.
    pub caplen: u32,
    /// Bytes on the wire.
    pub len: u32,
}

impl PktHdr {
    /// An all-zero header.
    pub const ZERO: PktHdr = PktHdr {
        ts: libc::timeval {
            tv_sec: 0,
            tv_usec: 0,
        },
        caplen: 0,
        len: 0,
    };
}

/// `struct bpf_insn`: the engine's classic BPF instruction (`struct
/// sock_filter`, the same layout), so a program goes to the kernel as is.
pub use netring_engine::BpfInsn as BpfInsnC;

/// `struct bpf_program`.
#[repr(C)]
pub struct BpfProgram {
    /// Instruction count.
    pub bf_len: c_uint,
    /// Instructions.
    pub bf_insns: *mut BpfInsnC,
}

/// `struct pcap_stat` (Linux: three counters).
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct PcapStat {
    /// Packets the kernel saw (including those it dropped).
    pub ps_recv: c_uint,
    /// Packets dropped by the kernel (ring full).
    pub ps_drop: c_uint,
    /// Packets dropped by the interface.
    pub ps_ifdrop: c_uint,
}

/// `pcap_handler`.
pub type Handler = Option<unsafe extern "C" fn(*mut u8, *const PktHdr, *const u8)>;
