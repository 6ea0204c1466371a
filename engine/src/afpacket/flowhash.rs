//! Classic BPF fanout programs ([`super::FanoutMode::Cbpf`] and
//! [`super::FanoutMode::Flow`]): symmetric hashes of a flow key, for the
//! keys the kernel's own fanout modes do not offer (the two IP addresses
//! only: [`two_tuple`]; the 5-tuple for TCP with the 2-tuple for everything
//! else: [`tcp_five_tuple`], as PF_RING's `cluster_per_flow_2_tuple` and
//! `cluster_per_flow_tcp_5_tuple`), and the 5-tuple of TCP, UDP and SCTP
//! ([`FlowKey::FiveTuple`]), which [`super::FanoutMode::Flow`] uses where
//! the kernel's `PACKET_FANOUT_HASH` would do, because a program can leave
//! a joining member out until it is ready (see [`program`]).
//!
//! Every load is relative to the network header (`SKF_NET_OFF`), which is
//! where it is for frames received and for frames this host sends alike.
//! Addresses and ports are summed (so both directions of a flow give the
//! same value) and mixed by a multiplication; the kernel takes the result
//! modulo the number of sockets in the group. Frames that are neither IPv4
//! nor IPv6 go to socket 0. A fragment (more-fragments flag or an offset)
//! is hashed on its addresses only, so every fragment of a datagram goes to
//! one socket even without the defrag flag. IPv6 is read from its fixed
//! header: a packet with extension headers is hashed on its addresses.

use super::options::{
    BPF_JA as JA, BPF_JEQ_K as JEQ_K, BPF_LD_ABS_W as LD_W, BPF_RET_A as RET_A, BPF_RET_K as RET_K,
    BpfInsn, insn as i,
};

/// `SKF_NET_OFF`: loads at this base are relative to the network header.
const NET: u32 = 0xfff0_0000;
/// `SKF_AD_OFF + SKF_AD_PROTOCOL`: the frame's ethertype (host order).
const AD_PROTOCOL: u32 = 0xffff_f000;
/// Multiplier of the final mix (the 32-bit golden ratio).
const GOLDEN: u32 = 0x9e37_79b1;

const LD_H: u16 = 0x28; // ldh [k]
const LD_B: u16 = 0x30; // ldb [k]
const LD_IND_H: u16 = 0x48; // ldh [x + k]
const LDX_MSH: u16 = 0xb1; // ldx 4*([k]&0xf)
const LDX_IMM: u16 = 0x01; // ldx #k
const LD_MEM: u16 = 0x60; // ld M[k]
const ST: u16 = 0x02; // st M[k]
const TAX: u16 = 0x07;
const ADD_X: u16 = 0x0c;
const XOR_X: u16 = 0xac;
const MUL_K: u16 = 0x24;
const RSH_K: u16 = 0x74;
const JSET_K: u16 = 0x45;
const MOD_K: u16 = 0x94;

/// A program under construction with named jump targets.
struct Asm {
    prog: Vec<BpfInsn>,
    /// (instruction index, label, Some(true branch?)) for conditional
    /// jumps, (index, label, None) for `ja`.
    fixups: Vec<(usize, &'static str, Option<bool>)>,
    labels: Vec<(&'static str, usize)>,
}

impl Asm {
    fn new() -> Asm {
        Asm {
            prog: Vec::new(),
            fixups: Vec::new(),
            labels: Vec::new(),
        }
    }
    fn op(&mut self, code: u16, k: u32) -> &mut Self {
        self.prog.push(i(code, 0, 0, k));
        self
    }
    fn label(&mut self, name: &'static str) -> &mut Self {
        self.labels.push((name, self.prog.len()));
        self
    }
    /// A conditional jump: to `yes` when true, else to `no` (None: next).
    fn jif(&mut self, code: u16, k: u32, yes: &'static str, no: Option<&'static str>) -> &mut Self {
        let at = self.prog.len();
        self.prog.push(i(code, 0, 0, k));
        self.fixups.push((at, yes, Some(true)));
        if let Some(n) = no {
            self.fixups.push((at, n, Some(false)));
        }
        self
    }
    fn ja(&mut self, to: &'static str) -> &mut Self {
        let at = self.prog.len();
        self.prog.push(i(JA, 0, 0, 0));
        self.fixups.push((at, to, None));
        self
    }
    fn done(mut self) -> Vec<BpfInsn> {
        for (at, name, branch) in self.fixups {
            let to = self
                .labels
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, p)| *p)
                .expect("label defined");
            let off = to - at - 1;
            match branch {
                Some(true) => self.prog[at].jt = off as u8,
                Some(false) => self.prog[at].jf = off as u8,
                None => self.prog[at].k = off as u32,
            }
        }
        self.prog
    }
}

/// Sum `words` 32-bit loads at network-header offsets `first, first+4, ...`
/// into A (X is clobbered).
fn sum_words(a: &mut Asm, first: u32, words: u32) {
    a.op(LD_W, NET + first);
    for w in 1..words {
        a.op(TAX, 0).op(LD_W, NET + first + 4 * w).op(ADD_X, 0);
    }
}

/// The flow key a [`program`] hashes (symmetric: both directions of a flow
/// give the same value).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FlowKey {
    /// The two IP addresses.
    TwoTuple,
    /// Addresses and ports for TCP; the two addresses for everything else.
    TcpFiveTuple,
    /// Addresses and ports for TCP, UDP, UDP-Lite and SCTP; the two
    /// addresses for everything else.
    FiveTuple,
}

impl FlowKey {
    /// The IP protocols whose ports are hashed.
    fn port_protocols(self) -> &'static [u32] {
        match self {
            FlowKey::TwoTuple => &[],
            FlowKey::TcpFiveTuple => &[6],
            FlowKey::FiveTuple => &[6, 17, 136, 132],
        }
    }

    /// Short name (`2tuple`, `tcp5tuple`, `5tuple`).
    pub fn name(self) -> &'static str {
        match self {
            FlowKey::TwoTuple => "2tuple",
            FlowKey::TcpFiveTuple => "tcp5tuple",
            FlowKey::FiveTuple => "5tuple",
        }
    }
}

/// The fanout program for `key`. With `members` > 0 the program returns
/// the hash modulo `members`, so it steers frames only to the first
/// `members` sockets of the group: a socket that joins as member
/// `members` + 1 receives nothing until a program with the larger count
/// replaces this one (how [`super::FanoutMode::Flow`] joins exactly once).
/// With 0 the kernel's own modulo (the group's size) is all.
pub fn program(key: FlowKey, members: u32) -> Vec<BpfInsn> {
    let protos = key.port_protocols();
    let ports = !protos.is_empty();
    let mut a = Asm::new();
    a.op(LD_W, AD_PROTOCOL)
        .jif(JEQ_K, 0x0800, "v4", None)
        .jif(JEQ_K, 0x86dd, "v6", Some("other"));
    // IPv4: addresses at 12 and 16.
    a.label("v4");
    sum_words(&mut a, 12, 2);
    a.op(ST, 0);
    if ports {
        a.op(LD_H, NET + 6)
            .jif(JSET_K, 0x3fff, "addr_only", None)
            .op(LD_B, NET + 9);
        for (n, &p) in protos.iter().enumerate() {
            let last = n + 1 == protos.len();
            a.jif(JEQ_K, p, "v4ports", last.then_some("addr_only"));
        }
        a.label("v4ports").op(LDX_MSH, NET).ja("ports");
    } else {
        a.ja("addr_only");
    }
    // IPv6: addresses at 8..24 and 24..40.
    a.label("v6");
    sum_words(&mut a, 8, 8);
    a.op(ST, 0);
    if ports {
        a.op(LD_B, NET + 6);
        for (n, &p) in protos.iter().enumerate() {
            let last = n + 1 == protos.len();
            a.jif(JEQ_K, p, "v6ports", last.then_some("addr_only"));
        }
        a.label("v6ports").op(LDX_IMM, 40).ja("ports");
        // Ports at X and X + 2: A = sport + dport, mixed with the
        // addresses in M[0].
        a.label("ports")
            .op(LD_IND_H, NET)
            .op(ST, 1)
            .op(LD_IND_H, NET + 2)
            .op(TAX, 0)
            .op(LD_MEM, 1)
            .op(ADD_X, 0)
            .op(MUL_K, 0x85eb_ca6b)
            .op(TAX, 0)
            .op(LD_MEM, 0)
            .op(XOR_X, 0)
            .ja("mix");
    } else {
        a.ja("addr_only");
    }
    a.label("addr_only").op(LD_MEM, 0);
    a.label("mix").op(MUL_K, GOLDEN).op(RSH_K, 16);
    if members > 0 {
        a.op(MOD_K, members);
    }
    a.op(RET_A, 0);
    a.label("other").op(RET_K, 0);
    a.done()
}

/// PF_RING's `cluster_per_flow_2_tuple`: a symmetric hash of the source and
/// destination IP addresses (IPv4 and IPv6).
pub fn two_tuple() -> Vec<BpfInsn> {
    program(FlowKey::TwoTuple, 0)
}

/// PF_RING's `cluster_per_flow_tcp_5_tuple`: TCP by addresses and ports
/// (symmetric), every other protocol (and every fragment) by the two
/// addresses.
pub fn tcp_five_tuple() -> Vec<BpfInsn> {
    program(FlowKey::TcpFiveTuple, 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::afpacket::options::check_program;

    /// A classic BPF interpreter for the instructions above, over a frame
    /// given from its network header, with its ethertype.
    fn run(prog: &[BpfInsn], net: &[u8], proto: u16) -> u32 {
        let (mut a, mut x, mut m, mut pc) = (0u32, 0u32, [0u32; 16], 0usize);
        let at = |k: u32, n: usize| -> Option<u32> {
            let o = k.checked_sub(NET)? as usize;
            let b = net.get(o..o + n)?;
            Some(b.iter().fold(0u32, |v, &c| v << 8 | u32::from(c)))
        };
        loop {
            let ins = prog[pc];
            pc += 1;
            match ins.code {
                LD_W if ins.k == AD_PROTOCOL => a = u32::from(proto),
                LD_W => a = at(ins.k, 4).expect("load inside the frame"),
                LD_H => a = at(ins.k, 2).expect("load inside the frame"),
                LD_B => a = at(ins.k, 1).expect("load inside the frame"),
                LD_IND_H => a = at(ins.k.wrapping_add(x), 2).expect("load inside the frame"),
                LDX_MSH => x = 4 * (at(ins.k, 1).unwrap() & 0xf),
                LDX_IMM => x = ins.k,
                LD_MEM => a = m[ins.k as usize],
                ST => m[ins.k as usize] = a,
                TAX => x = a,
                ADD_X => a = a.wrapping_add(x),
                XOR_X => a ^= x,
                MUL_K => a = a.wrapping_mul(ins.k),
                RSH_K => a >>= ins.k,
                MOD_K => a %= ins.k,
                JA => pc += ins.k as usize,
                JEQ_K => pc += usize::from(if a == ins.k { ins.jt } else { ins.jf }),
                JSET_K => pc += usize::from(if a & ins.k != 0 { ins.jt } else { ins.jf }),
                RET_K => return ins.k,
                RET_A => return a,
                c => panic!("opcode 0x{c:02x}"),
            }
        }
    }

    fn v4(src: [u8; 4], dst: [u8; 4], proto: u8, sport: u16, dport: u16, frag: u16) -> Vec<u8> {
        let mut p = vec![0x45, 0, 0, 40, 0, 0];
        p.extend_from_slice(&frag.to_be_bytes());
        p.extend_from_slice(&[64, proto, 0, 0]);
        p.extend_from_slice(&src);
        p.extend_from_slice(&dst);
        p.extend_from_slice(&sport.to_be_bytes());
        p.extend_from_slice(&dport.to_be_bytes());
        p.extend_from_slice(&[0; 16]);
        p
    }

    fn v6(src: [u8; 16], dst: [u8; 16], next: u8, sport: u16, dport: u16) -> Vec<u8> {
        let mut p = vec![0x60, 0, 0, 0, 0, 20, next, 64];
        p.extend_from_slice(&src);
        p.extend_from_slice(&dst);
        p.extend_from_slice(&sport.to_be_bytes());
        p.extend_from_slice(&dport.to_be_bytes());
        p.extend_from_slice(&[0; 16]);
        p
    }

    const KEYS: [FlowKey; 3] = [FlowKey::TwoTuple, FlowKey::TcpFiveTuple, FlowKey::FiveTuple];

    #[test]
    fn programs_pass_the_checks() {
        for key in KEYS {
            for members in [0, 1, 2, 7, 65535] {
                check_program(&program(key, members), "fanout").unwrap();
            }
        }
    }

    #[test]
    fn members_bound_the_index_and_keep_the_hash() {
        let (s, d) = ([10, 0, 0, 1], [10, 0, 0, 2]);
        for key in KEYS {
            let free = program(key, 0);
            for members in [1u32, 2, 3, 5] {
                let p = program(key, members);
                for sp in 1000..1200u16 {
                    for proto in [6u8, 17, 1] {
                        let f = v4(s, d, proto, sp, 53, 0);
                        let h = run(&free, &f, 0x0800);
                        assert_eq!(run(&p, &f, 0x0800), h % members);
                    }
                }
                assert_eq!(run(&p, &[0u8; 64], 0x0806), 0);
            }
        }
    }

    #[test]
    fn five_tuple_hashes_udp_ports_and_spreads_them_evenly() {
        let p = program(FlowKey::FiveTuple, 2);
        let (s, d) = ([10, 0, 0, 1], [10, 0, 0, 2]);
        let mut n = [0u32; 2];
        for sp in 40000..40512u16 {
            let fwd = run(&p, &v4(s, d, 17, sp, 7, 0), 0x0800);
            assert_eq!(fwd, run(&p, &v4(d, s, 17, 7, sp, 0), 0x0800));
            n[fwd as usize] += 1;
        }
        assert!(n[0] > 205 && n[1] > 205, "{n:?}");
        let mut n6 = [0u32; 2];
        for sp in 40000..40512u16 {
            n6[run(&p, &v6([1; 16], [2; 16], 132, sp, 9), 0x86dd) as usize] += 1;
        }
        assert!(n6[0] > 205 && n6[1] > 205, "{n6:?}");
    }

    #[test]
    fn both_directions_hash_alike() {
        let (s, d) = ([10, 0, 0, 1], [10, 0, 0, 2]);
        for p in [two_tuple(), tcp_five_tuple()] {
            for proto in [6u8, 17] {
                let fwd = run(&p, &v4(s, d, proto, 1234, 80, 0), 0x0800);
                let back = run(&p, &v4(d, s, proto, 80, 1234, 0), 0x0800);
                assert_eq!(fwd, back);
            }
            let (s6, d6) = ([1u8; 16], [2u8; 16]);
            let fwd = run(&p, &v6(s6, d6, 6, 1234, 80), 0x86dd);
            let back = run(&p, &v6(d6, s6, 6, 80, 1234), 0x86dd);
            assert_eq!(fwd, back);
        }
    }

    #[test]
    fn ports_count_for_tcp_only() {
        let (s, d) = ([10, 0, 0, 1], [10, 0, 0, 2]);
        let p2 = two_tuple();
        let p5 = tcp_five_tuple();
        // 2-tuple: ports never matter.
        assert_eq!(
            run(&p2, &v4(s, d, 6, 1, 2, 0), 0x0800),
            run(&p2, &v4(s, d, 6, 3, 9, 0), 0x0800)
        );
        // TCP 5-tuple: ports matter for TCP (some pair differs), not UDP.
        let tcp: std::collections::BTreeSet<u32> = (1000..1064)
            .map(|sp| run(&p5, &v4(s, d, 6, sp, 80, 0), 0x0800))
            .collect();
        assert!(tcp.len() > 32, "{tcp:?}");
        let udp: std::collections::BTreeSet<u32> = (1000..1064)
            .map(|sp| run(&p5, &v4(s, d, 17, sp, 80, 0), 0x0800))
            .collect();
        assert_eq!(udp.len(), 1);
        // A TCP fragment hashes on the addresses, like the 2-tuple.
        assert_eq!(
            run(&p5, &v4(s, d, 6, 5, 6, 0x2000), 0x0800),
            run(&p2, &v4(s, d, 6, 5, 6, 0), 0x0800)
        );
        let tcp6: std::collections::BTreeSet<u32> = (1000..1064)
            .map(|sp| run(&p5, &v6([1; 16], [2; 16], 6, sp, 80), 0x86dd))
            .collect();
        assert!(tcp6.len() > 32, "{tcp6:?}");
        // Neither IPv4 nor IPv6: socket 0.
        assert_eq!(run(&p5, &[0u8; 64], 0x0806), 0);
    }

    #[test]
    fn flows_spread_over_two_sockets() {
        let p = two_tuple();
        let mut n = [0u32; 2];
        for h in 0..200u8 {
            let r = run(&p, &v4([10, 0, 0, h], [10, 0, 1, 1], 17, 1, 2, 0), 0x0800);
            n[(r % 2) as usize] += 1;
        }
        assert!(n[0] > 60 && n[1] > 60, "{n:?}");
    }
}
