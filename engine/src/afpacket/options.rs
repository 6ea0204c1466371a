//! Capture options beyond the ring geometry: fanout, classic BPF filters
//! (and their combination with the snap length and the direction),
//! timestamps, tuning profiles. The filter assembly is pure logic with unit
//! tests; the socket side lives in [`super::capture`].

use std::os::fd::RawFd;

use bitflags::bitflags;

use crate::error::{Error, Result};
use crate::sys::sockopt as so;

/// A classic BPF instruction (`struct sock_filter`): what `tcpdump -ddd`
/// prints, one `code jt jf k` per instruction.
pub use crate::sys::socket::SockFilter as BpfInsn;

/// How a fanout group spreads packets over its sockets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FanoutMode {
    /// By flow hash (`PACKET_FANOUT_HASH`): a flow stays on one socket.
    Hash,
    /// Round robin (`PACKET_FANOUT_LB`).
    LoadBalance,
    /// By the CPU that received the packet (`PACKET_FANOUT_CPU`).
    Cpu,
    /// Fill one socket, then the next (`PACKET_FANOUT_ROLLOVER`).
    Rollover,
    /// Random (`PACKET_FANOUT_RND`).
    Random,
    /// By the packet's recorded receive queue (`PACKET_FANOUT_QM`).
    QueueMapping,
    /// A classic BPF program returns the socket index (`PACKET_FANOUT_CBPF`).
    /// Fanout programs see the packet from the network header (load
    /// offsets are relative to the IP header, not the Ethernet header).
    Cbpf(Vec<BpfInsn>),
    /// An eBPF program (`BPF_PROG_TYPE_SOCKET_FILTER`, by fd; the caller keeps
    /// the fd) returns the socket index (`PACKET_FANOUT_EBPF`).
    Ebpf(RawFd),
    /// By a symmetric hash of a flow key (both directions of a flow on one
    /// socket), as netring's classic BPF program (`PACKET_FANOUT_CBPF`,
    /// [`super::flowhash::program`]), with members that join **exactly
    /// once**: a socket joining a group under traffic gets frames only
    /// from the moment it is ready, so no frame is lost in its join and
    /// none is seen by two members (see `afpacket/gate.rs`). Joins of one
    /// group are serialised by a lock file in `/run/netring` and count the
    /// group's members with `NETLINK_SOCK_DIAG` (the kernel's
    /// `packet_diag` module). Every member of the group must use this
    /// mode with the same key.
    Flow(super::flowhash::FlowKey),
}

impl FanoutMode {
    /// The kernel's mode number.
    pub fn raw(&self) -> u16 {
        match self {
            FanoutMode::Hash => so::PACKET_FANOUT_HASH,
            FanoutMode::LoadBalance => so::PACKET_FANOUT_LB,
            FanoutMode::Cpu => so::PACKET_FANOUT_CPU,
            FanoutMode::Rollover => so::PACKET_FANOUT_ROLLOVER,
            FanoutMode::Random => so::PACKET_FANOUT_RND,
            FanoutMode::QueueMapping => so::PACKET_FANOUT_QM,
            FanoutMode::Cbpf(_) => so::PACKET_FANOUT_CBPF,
            FanoutMode::Ebpf(_) => so::PACKET_FANOUT_EBPF,
            FanoutMode::Flow(_) => so::PACKET_FANOUT_CBPF,
        }
    }

    /// Short name (as `nrfanout -m` spells it).
    pub fn name(&self) -> &'static str {
        match self {
            FanoutMode::Hash => "hash",
            FanoutMode::LoadBalance => "lb",
            FanoutMode::Cpu => "cpu",
            FanoutMode::Rollover => "rollover",
            FanoutMode::Random => "random",
            FanoutMode::QueueMapping => "qm",
            FanoutMode::Cbpf(_) => "cbpf",
            FanoutMode::Ebpf(_) => "ebpf",
            FanoutMode::Flow(_) => "flow",
        }
    }
}

bitflags! {
    /// Fanout flags (`PACKET_FANOUT_FLAG_*`).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct FanoutFlags: u16 {
        /// Move a packet to another socket when the chosen one is full.
        const ROLLOVER = so::PACKET_FANOUT_FLAG_ROLLOVER;
        /// The kernel picks an unused group id (the configured group must be
        /// 0); read it back with [`super::Capture::info`].
        const UNIQUE_ID = so::PACKET_FANOUT_FLAG_UNIQUEID;
        /// Do not fan out frames this host sends.
        const IGNORE_OUTGOING = so::PACKET_FANOUT_FLAG_IGNORE_OUTGOING;
        /// Reassemble IP fragments before hashing.
        const DEFRAG = so::PACKET_FANOUT_FLAG_DEFRAG;
    }
}

/// Join a fanout group: every socket of the group (same interface, same
/// mode and flags) receives a disjoint share of the traffic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fanout {
    /// Group id (0..=65535; 0 with [`FanoutFlags::UNIQUE_ID`]).
    pub group: u16,
    /// Distribution mode.
    pub mode: FanoutMode,
    /// Flags.
    pub flags: FanoutFlags,
}

/// Which frames to capture by direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CaptureDirection {
    /// Received and sent frames (default).
    #[default]
    Both,
    /// Received frames only (`PACKET_IGNORE_OUTGOING`).
    In,
    /// Frames this host sends only (a classic filter on the packet type).
    Out,
}

/// Where packet timestamps come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TimestampSource {
    /// The kernel's software timestamp (default).
    #[default]
    Software,
    /// The NIC's timestamp converted to system time
    /// (`SOF_TIMESTAMPING_SYS_HARDWARE`).
    HardwareSys,
    /// The NIC's raw timestamp (`SOF_TIMESTAMPING_RAW_HARDWARE`).
    HardwareRaw,
}

/// A starting configuration for a use case; every field can still be
/// changed afterwards. See [`super::CaptureConfig::profile`] for the numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    /// 4 MiB x 64 blocks (256 MiB), frame 2048, block timeout 60 ms.
    Default,
    /// 4 MiB x 128 blocks (512 MiB), frame 2048, block timeout 100 ms: big
    /// rings for 10G+ with one capture per core in a fanout group.
    HighThroughput,
    /// 256 KiB x 64 blocks (16 MiB), block timeout 1 ms, busy polling 50 µs:
    /// blocks retire fast, the worst-case delivery latency is ~1 ms.
    LowLatency,
    /// 1 MiB x 16 blocks (16 MiB), frame 2048, block timeout 60 ms, ring
    /// not locked in memory.
    MemoryConstrained,
    /// 8 MiB x 64 blocks (512 MiB), frame 16384, block timeout 60 ms: for
    /// jumbo frames and GRO/TSO super-packets.
    Jumbo,
}

/// What the capture's options really became (fanout group read back from the
/// kernel, timestamp source after fallback).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CaptureInfo {
    /// The fanout group joined (read back from the kernel: with
    /// [`FanoutFlags::UNIQUE_ID`] this is the id the kernel chose).
    pub fanout_group: Option<u16>,
    /// The timestamp source in effect.
    pub tstamp_source: TimestampSource,
    /// True if hardware timestamps were asked for, the device refused, and
    /// the capture fell back to software timestamps.
    pub tstamp_fallback: bool,
    /// Why something was weakened at open time (the fallback), if anything.
    pub warning: Option<String>,
}

pub(crate) const BPF_RET_K: u16 = 0x06;
pub(crate) const BPF_RET_A: u16 = 0x16;
const BPF_CLASS_MASK: u16 = 0x07;
const BPF_CLASS_RET: u16 = 0x06;
const BPF_CLASS_JMP: u16 = 0x05;
pub(crate) const BPF_JA: u16 = 0x05;
const BPF_JGT_K: u16 = 0x25;
pub(crate) const BPF_JEQ_K: u16 = 0x15;
pub(crate) const BPF_LD_ABS_W: u16 = 0x20;
const BPF_LD_IMM: u16 = 0x00;
/// `PACKET_OUTGOING`.
const PACKET_OUTGOING: u32 = 4;

/// One instruction.
pub(crate) const fn insn(code: u16, jt: u8, jf: u8, k: u32) -> BpfInsn {
    BpfInsn { code, jt, jf, k }
}

/// A filter that drops everything (`ret #0`).
pub(crate) const REJECT_ALL: [BpfInsn; 1] = [insn(BPF_RET_K, 0, 0, 0)];

/// Check a user's classic program for what the assembly relies on: not
/// empty, not too long, every jump inside the program, ends with a return,
/// only valid return kinds.
pub fn check_program(prog: &[BpfInsn], what: &str) -> Result<()> {
    if prog.is_empty() {
        return Err(Error::config(format!("{what}: the program is empty")));
    }
    if prog.len() > so::BPF_MAXINSNS {
        return Err(Error::config(format!(
            "{what}: {} instructions exceed the kernel's limit of {}",
            prog.len(),
            so::BPF_MAXINSNS
        )));
    }
    let n = prog.len();
    for (i, ins) in prog.iter().enumerate() {
        match ins.code & BPF_CLASS_MASK {
            BPF_CLASS_JMP => {
                let ok = if ins.code == BPF_JA {
                    (i as u64 + 1 + u64::from(ins.k)) < n as u64
                } else {
                    i + 1 + (ins.jt as usize) < n && i + 1 + (ins.jf as usize) < n
                };
                if !ok {
                    return Err(Error::config(format!(
                        "{what}: instruction {i} (code 0x{:02x}) jumps past the end of the program",
                        ins.code
                    )));
                }
            }
            BPF_CLASS_RET if ins.code != BPF_RET_K && ins.code != BPF_RET_A => {
                return Err(Error::config(format!(
                    "{what}: instruction {i}: return code 0x{:02x} is not valid (ret #k or ret a)",
                    ins.code
                )));
            }
            _ => {}
        }
    }
    if prog[n - 1].code & BPF_CLASS_MASK != BPF_CLASS_RET {
        return Err(Error::config(format!(
            "{what}: the last instruction must be a return"
        )));
    }
    Ok(())
}

/// Assemble the classic filter the socket gets from the user's program, the
/// direction and the snap length; `None` when nothing needs filtering.
///
/// - Direction `Out`: a prologue keeps only `PACKET_OUTGOING` frames
///   (`ld [pkttype]; jeq #4; ret #0`), then resets A to 0 as the kernel does
///   at program start.
/// - Snap length below [`super::capture::MAX_SNAPLEN`]: every `ret #k`
///   becomes `ret #min(k, snaplen)` and every `ret a` a jump to an appended
///   clamp (`jgt #snaplen; ret #snaplen; ret a`). Instructions are replaced
///   one for one, so the user's relative jumps keep their targets; the clamp
///   is reached with `ja`, whose 32-bit offset has no 255 limit.
pub fn assemble(
    user: Option<&[BpfInsn]>,
    direction: CaptureDirection,
    snaplen: u32,
    max_snaplen: u32,
) -> Result<Option<Vec<BpfInsn>>> {
    if let Some(u) = user {
        check_program(u, "filter")?;
    }
    let clamp = snaplen < max_snaplen;
    if user.is_none() && direction != CaptureDirection::Out && !clamp {
        return Ok(None);
    }
    let mut prog = Vec::new();
    if direction == CaptureDirection::Out {
        prog.extend_from_slice(&[
            insn(BPF_LD_ABS_W, 0, 0, so::SKF_AD_OFF + so::SKF_AD_PKTTYPE),
            insn(BPF_JEQ_K, 1, 0, PACKET_OUTGOING),
            insn(BPF_RET_K, 0, 0, 0),
            insn(BPF_LD_IMM, 0, 0, 0),
        ]);
    }
    let accept_all = [insn(BPF_RET_K, 0, 0, snaplen)];
    let body = user.unwrap_or(&accept_all);
    let start = prog.len();
    let clamp_at = start + body.len();
    let mut need_clamp = false;
    for (i, ins) in body.iter().enumerate() {
        let mut ins = *ins;
        if clamp && ins.code == BPF_RET_K {
            ins.k = ins.k.min(snaplen);
        } else if clamp && ins.code == BPF_RET_A {
            need_clamp = true;
            ins = insn(BPF_JA, 0, 0, (clamp_at - (start + i) - 1) as u32);
        }
        prog.push(ins);
    }
    if need_clamp {
        prog.extend_from_slice(&[
            insn(BPF_JGT_K, 0, 1, snaplen),
            insn(BPF_RET_K, 0, 0, snaplen),
            insn(BPF_RET_A, 0, 0, 0),
        ]);
    }
    if prog.len() > so::BPF_MAXINSNS {
        return Err(Error::config(format!(
            "filter: with the direction and snap-length code the program has {} instructions, \
             over the kernel's limit of {}",
            prog.len(),
            so::BPF_MAXINSNS
        )));
    }
    Ok(Some(prog))
}

/// Parse the text `tcpdump -ddd` prints: the instruction count on the first
/// line, then one `code jt jf k` line (decimal) per instruction.
pub fn parse_ddd(text: &str) -> Result<Vec<BpfInsn>> {
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    let count: usize = lines
        .next()
        .and_then(|l| l.parse().ok())
        .ok_or_else(|| Error::invalid_arg("BPF text: the first line must be the count"))?;
    let mut out = Vec::with_capacity(count.min(so::BPF_MAXINSNS));
    for (i, l) in lines.enumerate() {
        let f: Vec<&str> = l.split_whitespace().collect();
        let bad = || {
            Error::invalid_arg(format!(
                "BPF text line {}: '{l}' is not 'code jt jf k'",
                i + 2
            ))
        };
        if f.len() != 4 {
            return Err(bad());
        }
        out.push(BpfInsn {
            code: f[0].parse().map_err(|_| bad())?,
            jt: f[1].parse().map_err(|_| bad())?,
            jf: f[2].parse().map_err(|_| bad())?,
            k: f[3].parse().map_err(|_| bad())?,
        });
    }
    if out.len() != count {
        return Err(Error::invalid_arg(format!(
            "BPF text: count says {count} instructions, {} given",
            out.len()
        )));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tiny classic BPF interpreter for the instructions the assembly
    /// emits plus a few loads, over (packet bytes, pkttype).
    fn run(prog: &[BpfInsn], pkt: &[u8], pkttype: u32) -> u32 {
        let (mut a, mut pc) = (0u32, 0usize);
        loop {
            let i = prog[pc];
            pc += 1;
            match i.code {
                0x06 => return i.k,
                0x16 => return a,
                0x00 => a = i.k,
                0x80 => a = pkt.len() as u32,             // ld #len
                0x30 => a = u32::from(pkt[i.k as usize]), // ldb [k]
                0x20 if i.k == so::SKF_AD_OFF + so::SKF_AD_PKTTYPE => a = pkttype,
                0x05 => pc += i.k as usize,
                0x15 => pc += if a == i.k { i.jt } else { i.jf } as usize,
                0x25 => pc += if a > i.k { i.jt } else { i.jf } as usize,
                c => panic!("opcode 0x{c:x}"),
            }
        }
    }

    #[test]
    fn nothing_to_do_is_no_filter() {
        assert_eq!(
            assemble(None, CaptureDirection::Both, 262_144, 262_144).unwrap(),
            None
        );
        assert_eq!(
            assemble(None, CaptureDirection::In, 262_144, 262_144).unwrap(),
            None
        );
    }

    #[test]
    fn snaplen_alone_is_ret_k() {
        let p = assemble(None, CaptureDirection::Both, 100, 262_144)
            .unwrap()
            .unwrap();
        assert_eq!(p, vec![insn(BPF_RET_K, 0, 0, 100)]);
    }

    #[test]
    fn ret_k_and_ret_a_are_clamped() {
        // ldb [0]; jeq #1, L1, L2; L1: ret #65535; L2: ld #len; ret a
        let user = [
            insn(0x30, 0, 0, 0),
            insn(BPF_JEQ_K, 0, 1, 1),
            insn(BPF_RET_K, 0, 0, 65_535),
            insn(0x80, 0, 0, 0),
            insn(BPF_RET_A, 0, 0, 0),
        ];
        let p = assemble(Some(&user), CaptureDirection::Both, 100, 262_144)
            .unwrap()
            .unwrap();
        assert_eq!(p.len(), user.len() + 3);
        let mut pkt = vec![1u8; 500];
        assert_eq!(run(&p, &pkt, 0), 100);
        pkt[0] = 2;
        assert_eq!(run(&p, &pkt, 0), 100); // ret a = 500 -> 100
        assert_eq!(run(&p, &pkt[..60], 0), 60); // ret a = 60 stays
        // Without a clamp the program is unchanged.
        let q = assemble(Some(&user), CaptureDirection::Both, 262_144, 262_144)
            .unwrap()
            .unwrap();
        assert_eq!(q, user.to_vec());
    }

    #[test]
    fn direction_out_prologue_keeps_only_outgoing() {
        let user = [insn(0x30, 0, 0, 0), insn(BPF_RET_A, 0, 0, 0)];
        let p = assemble(Some(&user), CaptureDirection::Out, 262_144, 262_144)
            .unwrap()
            .unwrap();
        let pkt = [7u8; 64];
        assert_eq!(run(&p, &pkt, 0), 0);
        assert_eq!(run(&p, &pkt, 3), 0);
        assert_eq!(run(&p, &pkt, 4), 7);
        let p = assemble(None, CaptureDirection::Out, 50, 262_144)
            .unwrap()
            .unwrap();
        assert_eq!(run(&p, &pkt, 4), 50);
        assert_eq!(run(&p, &pkt, 0), 0);
    }

    #[test]
    fn bad_programs_are_refused_with_the_reason() {
        let e = assemble(Some(&[]), CaptureDirection::Both, 100, 262_144).unwrap_err();
        assert!(e.message().contains("empty"), "{e}");
        let e = check_program(
            &[insn(BPF_JEQ_K, 5, 0, 1), insn(BPF_RET_K, 0, 0, 0)],
            "filter",
        )
        .unwrap_err();
        assert!(e.message().contains("instruction 0"), "{e}");
        let e = check_program(&[insn(0x30, 0, 0, 0)], "filter").unwrap_err();
        assert!(e.message().contains("last instruction"), "{e}");
        let e = check_program(&[insn(0x0e, 0, 0, 0)], "filter").unwrap_err();
        assert!(e.message().contains("return code"), "{e}");
        let long = vec![insn(BPF_RET_K, 0, 0, 0); 4097];
        assert!(check_program(&long, "filter").is_err());
    }

    #[test]
    fn parses_tcpdump_ddd() {
        let t = "4\n40 0 0 12\n21 0 1 2048\n6 0 0 262144\n6 0 0 0\n";
        let p = parse_ddd(t).unwrap();
        assert_eq!(p.len(), 4);
        assert_eq!(p[1], insn(21, 0, 1, 2048));
        assert!(parse_ddd("2\n6 0 0 0\n").is_err());
        assert!(parse_ddd("1\n6 0 x 0\n").is_err());
    }
}
