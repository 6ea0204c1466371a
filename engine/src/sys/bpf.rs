//! The slice of the bpf(2) ABI (`<linux/bpf.h>`) netring needs: create an
//! XSKMAP, load the built-in XDP program, update/delete map entries, attach
//! the program with a bpf_link, read a map's type. Each command gets its own
//! `repr(C)` attribute struct (a prefix of `union bpf_attr`); the kernel
//! zero-extends a shorter attribute.

use std::io;
use std::mem::size_of;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};

/// `BPF_MAP_CREATE`.
pub const BPF_MAP_CREATE: libc::c_int = 0;
/// `BPF_MAP_UPDATE_ELEM`.
pub const BPF_MAP_UPDATE_ELEM: libc::c_int = 2;
/// `BPF_MAP_DELETE_ELEM`.
pub const BPF_MAP_DELETE_ELEM: libc::c_int = 3;
/// `BPF_PROG_LOAD`.
pub const BPF_PROG_LOAD: libc::c_int = 5;
/// `BPF_OBJ_GET_INFO_BY_FD`.
pub const BPF_OBJ_GET_INFO_BY_FD: libc::c_int = 15;
/// `BPF_LINK_CREATE`.
pub const BPF_LINK_CREATE: libc::c_int = 28;

/// `BPF_MAP_TYPE_XSKMAP`.
pub const BPF_MAP_TYPE_XSKMAP: u32 = 17;
/// `BPF_PROG_TYPE_XDP`.
pub const BPF_PROG_TYPE_XDP: u32 = 6;
/// `BPF_XDP` attach type.
pub const BPF_XDP: u32 = 37;
/// `BPF_ANY` update flag.
pub const BPF_ANY: u64 = 0;

/// `XDP_FLAGS_SKB_MODE`: generic XDP.
pub const XDP_FLAGS_SKB_MODE: u32 = 1 << 1;
/// `XDP_FLAGS_DRV_MODE`: native (driver) XDP.
pub const XDP_FLAGS_DRV_MODE: u32 = 1 << 2;

/// `XDP_PASS` action.
pub const XDP_PASS: i32 = 2;
/// `BPF_FUNC_redirect_map` helper id.
pub const BPF_FUNC_REDIRECT_MAP: i32 = 51;
/// `BPF_PSEUDO_MAP_FD` (src_reg of a map-fd ld_imm64).
pub const BPF_PSEUDO_MAP_FD: u8 = 1;
/// `offsetof(struct xdp_md, rx_queue_index)`.
pub const XDP_MD_RX_QUEUE_INDEX: i16 = 16;

/// `struct bpf_insn`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BpfInsn {
    /// Opcode.
    pub code: u8,
    /// dst_reg (low nibble) and src_reg (high nibble).
    pub regs: u8,
    /// Signed offset.
    pub off: i16,
    /// Signed immediate.
    pub imm: i32,
}

impl BpfInsn {
    const fn new(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> BpfInsn {
        BpfInsn {
            code,
            regs: (dst & 0xf) | (src << 4),
            off,
            imm,
        }
    }
}

/// The built-in program: redirect the frame into `xskmap[rx_queue_index]`,
/// XDP_PASS when no socket is registered for that queue.
///
/// ```text
/// r2 = *(u32 *)(r1 + 16)      ; ctx->rx_queue_index
/// r1 = map_fd ll              ; the XSKMAP (two slots)
/// r3 = XDP_PASS               ; action if the map slot is empty
/// call bpf_redirect_map
/// exit
/// ```
pub fn redirect_program(map_fd: RawFd) -> [BpfInsn; 6] {
    [
        BpfInsn::new(0x61, 2, 1, XDP_MD_RX_QUEUE_INDEX, 0), // BPF_LDX|BPF_MEM|BPF_W
        BpfInsn::new(0x18, 1, BPF_PSEUDO_MAP_FD, 0, map_fd), // BPF_LD|BPF_DW|BPF_IMM
        BpfInsn::new(0, 0, 0, 0, 0),
        BpfInsn::new(0xb7, 3, 0, 0, XDP_PASS), // BPF_ALU64|BPF_MOV|BPF_K
        BpfInsn::new(0x85, 0, 0, 0, BPF_FUNC_REDIRECT_MAP), // BPF_JMP|BPF_CALL
        BpfInsn::new(0x95, 0, 0, 0, 0),        // BPF_JMP|BPF_EXIT
    ]
}

/// `union bpf_attr` for `BPF_MAP_CREATE`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct MapCreateAttr {
    /// Map type.
    pub map_type: u32,
    /// Key size.
    pub key_size: u32,
    /// Value size.
    pub value_size: u32,
    /// Maximum entries.
    pub max_entries: u32,
    /// Flags.
    pub map_flags: u32,
    /// Inner map fd.
    pub inner_map_fd: u32,
    /// NUMA node.
    pub numa_node: u32,
    /// Name (NUL-padded).
    pub map_name: [u8; 16],
}

/// `union bpf_attr` for map element commands.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct MapElemAttr {
    /// Map fd.
    pub map_fd: u32,
    /// Padding.
    pub pad: u32,
    /// Pointer to the key.
    pub key: u64,
    /// Pointer to the value.
    pub value: u64,
    /// `BPF_ANY`, ...
    pub flags: u64,
}

/// `union bpf_attr` for `BPF_PROG_LOAD`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct ProgLoadAttr {
    /// Program type.
    pub prog_type: u32,
    /// Instruction count.
    pub insn_cnt: u32,
    /// Pointer to the instructions.
    pub insns: u64,
    /// Pointer to the license string.
    pub license: u64,
    /// Verifier log level.
    pub log_level: u32,
    /// Log buffer size.
    pub log_size: u32,
    /// Pointer to the log buffer.
    pub log_buf: u64,
    /// Kernel version (unused for XDP).
    pub kern_version: u32,
    /// Program flags.
    pub prog_flags: u32,
    /// Name (NUL-padded).
    pub prog_name: [u8; 16],
    /// Offload ifindex.
    pub prog_ifindex: u32,
    /// Expected attach type.
    pub expected_attach_type: u32,
}

/// `union bpf_attr` for `BPF_LINK_CREATE` (XDP).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct LinkCreateAttr {
    /// Program fd.
    pub prog_fd: u32,
    /// Target interface index.
    pub target_ifindex: u32,
    /// Attach type (`BPF_XDP`).
    pub attach_type: u32,
    /// `XDP_FLAGS_*`.
    pub flags: u32,
}

/// `union bpf_attr` for `BPF_OBJ_GET_INFO_BY_FD`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct InfoByFdAttr {
    /// Object fd.
    pub bpf_fd: u32,
    /// Size of the info buffer.
    pub info_len: u32,
    /// Pointer to the info buffer.
    pub info: u64,
}

/// The head of `struct bpf_map_info`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct MapInfo {
    /// Map type.
    pub map_type: u32,
    /// Map id.
    pub id: u32,
    /// Key size.
    pub key_size: u32,
    /// Value size.
    pub value_size: u32,
    /// Maximum entries.
    pub max_entries: u32,
    /// Flags.
    pub map_flags: u32,
}

/// `bpf(cmd, attr, sizeof attr)`.
fn sys_bpf<T>(cmd: libc::c_int, attr: &mut T) -> io::Result<libc::c_long> {
    // SAFETY: attr is a live, writable attribute struct of the size passed;
    // every pointer inside it was set by the caller to live memory.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            (attr as *mut T).cast::<libc::c_void>(),
            size_of::<T>() as libc::c_uint,
        )
    };
    super::cvt(rc)
}

fn owned(fd: libc::c_long) -> OwnedFd {
    // SAFETY: the kernel returned a fresh fd that nobody else owns.
    unsafe { OwnedFd::from_raw_fd(fd as RawFd) }
}

fn name16(name: &str) -> [u8; 16] {
    let mut out = [0u8; 16];
    for (d, s) in out.iter_mut().zip(name.bytes().take(15)) {
        *d = s;
    }
    out
}

/// Create an XSKMAP with `entries` slots (key and value: u32).
pub fn create_xskmap(name: &str, entries: u32) -> io::Result<OwnedFd> {
    let mut a = MapCreateAttr {
        map_type: BPF_MAP_TYPE_XSKMAP,
        key_size: 4,
        value_size: 4,
        max_entries: entries,
        map_name: name16(name),
        ..Default::default()
    };
    sys_bpf(BPF_MAP_CREATE, &mut a).map(owned)
}

/// Load an XDP program. On failure the verifier log (if any) is returned
/// with the error.
pub fn load_xdp_program(name: &str, insns: &[BpfInsn]) -> Result<OwnedFd, (io::Error, String)> {
    let license = c"GPL";
    let mut a = ProgLoadAttr {
        prog_type: BPF_PROG_TYPE_XDP,
        insn_cnt: insns.len() as u32,
        insns: insns.as_ptr() as u64,
        license: license.as_ptr() as u64,
        prog_name: name16(name),
        expected_attach_type: BPF_XDP,
        ..Default::default()
    };
    match sys_bpf(BPF_PROG_LOAD, &mut a) {
        Ok(fd) => Ok(owned(fd)),
        Err(e) => {
            // Again with a verifier log, to say why.
            let mut log = vec![0u8; 16384];
            a.log_level = 1;
            a.log_size = log.len() as u32;
            a.log_buf = log.as_mut_ptr() as u64;
            if let Ok(fd) = sys_bpf(BPF_PROG_LOAD, &mut a) {
                return Ok(owned(fd));
            }
            let end = log.iter().position(|&b| b == 0).unwrap_or(log.len());
            Err((e, String::from_utf8_lossy(&log[..end]).trim().to_owned()))
        }
    }
}

/// `map[key] = value` (u32 key and value).
pub fn map_update_u32(map_fd: RawFd, key: u32, value: u32) -> io::Result<()> {
    let mut a = MapElemAttr {
        map_fd: map_fd as u32,
        key: &key as *const u32 as u64,
        value: &value as *const u32 as u64,
        flags: BPF_ANY,
        ..Default::default()
    };
    sys_bpf(BPF_MAP_UPDATE_ELEM, &mut a).map(drop)
}

/// Delete `map[key]`.
pub fn map_delete_u32(map_fd: RawFd, key: u32) -> io::Result<()> {
    let mut a = MapElemAttr {
        map_fd: map_fd as u32,
        key: &key as *const u32 as u64,
        ..Default::default()
    };
    sys_bpf(BPF_MAP_DELETE_ELEM, &mut a).map(drop)
}

/// Attach an XDP program to `ifindex` through a bpf_link (`xdp_flags`:
/// `XDP_FLAGS_DRV_MODE` or `XDP_FLAGS_SKB_MODE`). The program stays
/// attached exactly as long as the returned fd (and its duplicates) live.
pub fn link_create_xdp(prog_fd: RawFd, ifindex: i32, xdp_flags: u32) -> io::Result<OwnedFd> {
    let mut a = LinkCreateAttr {
        prog_fd: prog_fd as u32,
        target_ifindex: ifindex as u32,
        attach_type: BPF_XDP,
        flags: xdp_flags,
    };
    sys_bpf(BPF_LINK_CREATE, &mut a).map(owned)
}

/// Type, sizes and capacity of the map behind `fd`.
pub fn map_info(fd: RawFd) -> io::Result<MapInfo> {
    let mut info = MapInfo::default();
    let mut a = InfoByFdAttr {
        bpf_fd: fd as u32,
        info_len: size_of::<MapInfo>() as u32,
        info: &mut info as *mut MapInfo as u64,
    };
    sys_bpf(BPF_OBJ_GET_INFO_BY_FD, &mut a)?;
    Ok(info)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::offset_of;

    #[test]
    fn layouts_match_the_kernel() {
        assert_eq!(size_of::<BpfInsn>(), 8);
        assert_eq!(offset_of!(MapCreateAttr, map_name), 28);
        assert_eq!(size_of::<MapElemAttr>(), 32);
        assert_eq!(offset_of!(ProgLoadAttr, log_buf), 32);
        assert_eq!(offset_of!(ProgLoadAttr, prog_name), 48);
        assert_eq!(offset_of!(ProgLoadAttr, expected_attach_type), 68);
        assert_eq!(size_of::<LinkCreateAttr>(), 16);
        assert_eq!(size_of::<InfoByFdAttr>(), 16);
    }

    #[test]
    fn program_encoding() {
        let p = redirect_program(7);
        assert_eq!(p[0].regs, 0x12); // dst r2, src r1
        assert_eq!(p[1].regs, 0x11); // dst r1, src BPF_PSEUDO_MAP_FD
        assert_eq!(p[1].imm, 7);
        assert_eq!(p[4].imm, 51);
        assert_eq!(p[5].code, 0x95);
    }
}
