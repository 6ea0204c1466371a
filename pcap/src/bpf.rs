//! A classic-BPF interpreter with libpcap's semantics (`bpf_filter` of
//! pcap's bpf_filter.c): loads outside the packet reject it, division by
//! zero rejects, Linux ancillary loads (`SKF_AD_*`) answer from the
//! packet's metadata. Used for frames that reached the ring before
//! `pcap_setfilter`, for `pcap_offline_filter` and `bpf_filter`.

use crate::types::BpfInsnC;

/// Packet metadata for Linux ancillary loads.
#[derive(Clone, Copy, Default, Debug)]
pub struct Aux {
    /// `SKF_AD_PROTOCOL`: EtherType, host order.
    pub protocol: u16,
    /// `SKF_AD_PKTTYPE`.
    pub pkttype: u8,
    /// `SKF_AD_IFINDEX`.
    pub ifindex: i32,
    /// `SKF_AD_VLAN_TAG`.
    pub vlan_tci: u16,
    /// `SKF_AD_VLAN_TAG_PRESENT`.
    pub vlan_present: bool,
    /// `SKF_AD_VLAN_TPID`.
    pub vlan_tpid: u16,
}

const SKF_AD_OFF: u32 = (-0x1000i32) as u32;

fn ancillary(k: u32, aux: &Aux) -> Option<u32> {
    Some(match k.wrapping_sub(SKF_AD_OFF) {
        0 => u32::from(aux.protocol),
        4 => u32::from(aux.pkttype),
        8 => aux.ifindex as u32,
        44 => u32::from(aux.vlan_tci),
        48 => u32::from(aux.vlan_present),
        60 => u32::from(aux.vlan_tpid),
        _ => return None,
    })
}

fn load(pkt: &[u8], off: u32, size: u16) -> Option<u32> {
    let off = off as usize;
    let n = match size {
        0x00 => 4,
        0x08 => 2,
        0x10 => 1,
        _ => return None,
    };
    let b = pkt.get(off..off.checked_add(n)?)?;
    Some(match n {
        4 => u32::from_be_bytes([b[0], b[1], b[2], b[3]]),
        2 => u32::from(u16::from_be_bytes([b[0], b[1]])),
        _ => u32::from(b[0]),
    })
}

/// Run `prog` over `pkt` (the captured bytes; `wirelen` the length on the
/// wire). Returns the filter's verdict: 0 rejects, otherwise the number of
/// bytes to keep. An empty program accepts everything.
pub fn run(prog: &[BpfInsnC], pkt: &[u8], wirelen: u32, aux: Option<&Aux>) -> u32 {
    if prog.is_empty() {
        return u32::MAX;
    }
    run_with(|i| prog.get(i).copied(), pkt, wirelen, aux)
}

/// [`run`] over instructions fetched by index (None ends the program with
/// a reject), for programs whose length the caller does not know.
pub fn run_with(
    fetch: impl Fn(usize) -> Option<BpfInsnC>,
    pkt: &[u8],
    wirelen: u32,
    aux: Option<&Aux>,
) -> u32 {
    let (mut a, mut x) = (0u32, 0u32);
    let mut mem = [0u32; 16];
    let mut pc = 0usize;
    loop {
        let Some(i) = fetch(pc) else { return 0 };
        pc += 1;
        let code = i.code;
        let k = i.k;
        match code & 0x07 {
            // BPF_LD / BPF_LDX
            0x00 | 0x01 => {
                let ldx = code & 0x07 == 0x01;
                let size = code & 0x18;
                let v = match code & 0xe0 {
                    0x00 => k,
                    0x20 | 0x40 => {
                        let off = if code & 0xe0 == 0x40 {
                            x.wrapping_add(k)
                        } else {
                            k
                        };
                        if code & 0xe0 == 0x20 && k >= SKF_AD_OFF {
                            match aux.and_then(|a| ancillary(k, a)) {
                                Some(v) => v,
                                None => return 0,
                            }
                        } else {
                            match load(pkt, off, size) {
                                Some(v) => v,
                                None => return 0,
                            }
                        }
                    }
                    0x60 => mem[(k & 15) as usize],
                    0x80 => wirelen,
                    0xa0 if ldx => match pkt.get(k as usize) {
                        Some(b) => u32::from(b & 0x0f) << 2,
                        None => return 0,
                    },
                    _ => return 0,
                };
                if ldx { x = v } else { a = v }
            }
            0x02 => mem[(k & 15) as usize] = a,
            0x03 => mem[(k & 15) as usize] = x,
            // BPF_ALU
            0x04 => {
                let v = if code & 0x08 != 0 { x } else { k };
                a = match code & 0xf0 {
                    0x00 => a.wrapping_add(v),
                    0x10 => a.wrapping_sub(v),
                    0x20 => a.wrapping_mul(v),
                    0x30 => match a.checked_div(v) {
                        Some(r) => r,
                        None => return 0,
                    },
                    0x40 => a | v,
                    0x50 => a & v,
                    0x60 => a.checked_shl(v).unwrap_or(0),
                    0x70 => a.checked_shr(v).unwrap_or(0),
                    0x80 => a.wrapping_neg(),
                    0x90 => match a.checked_rem(v) {
                        Some(r) => r,
                        None => return 0,
                    },
                    0xa0 => a ^ v,
                    _ => return 0,
                };
            }
            // BPF_JMP
            0x05 => {
                let v = if code & 0x08 != 0 { x } else { k };
                let take = match code & 0xf0 {
                    0x00 => {
                        pc = pc.wrapping_add(k as usize);
                        continue;
                    }
                    0x10 => a == v,
                    0x20 => a > v,
                    0x30 => a >= v,
                    0x40 => a & v != 0,
                    _ => return 0,
                };
                pc += usize::from(if take { i.jt } else { i.jf });
            }
            // BPF_RET
            0x06 => {
                return match code & 0x18 {
                    0x00 => k,
                    0x10 => a,
                    0x08 => x,
                    _ => 0,
                };
            }
            // BPF_MISC
            _ => match code & 0xf8 {
                0x00 => x = a,
                0x80 => a = x,
                _ => return 0,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ins(code: u16, jt: u8, jf: u8, k: u32) -> BpfInsnC {
        BpfInsnC { code, jt, jf, k }
    }

    /// `tcpdump -dd ip`: ldh [12]; jeq #0x800 jt 2 jf 3; ret #262144; ret #0
    fn ip_prog() -> Vec<BpfInsnC> {
        vec![
            ins(0x28, 0, 0, 12),
            ins(0x15, 0, 1, 0x800),
            ins(0x6, 0, 0, 262144),
            ins(0x6, 0, 0, 0),
        ]
    }

    #[test]
    fn ip_filter() {
        let mut f = vec![0u8; 60];
        f[12] = 0x08;
        assert_eq!(run(&ip_prog(), &f, 60, None), 262144);
        f[13] = 0x06;
        assert_eq!(run(&ip_prog(), &f, 60, None), 0);
        // Too short: the load fails, the packet is rejected.
        assert_eq!(run(&ip_prog(), &f[..13], 60, None), 0);
    }

    #[test]
    fn msh_and_ancillary() {
        // ldxb 4*([14]&0xf); txa; ret a
        let p = vec![ins(0xb1, 0, 0, 14), ins(0x87, 0, 0, 0), ins(0x16, 0, 0, 0)];
        let mut f = vec![0u8; 20];
        f[14] = 0x45;
        assert_eq!(run(&p, &f, 20, None), 20);
        // ldb vlan_avail; ret a
        let p = vec![ins(0x30, 0, 0, SKF_AD_OFF + 48), ins(0x16, 0, 0, 0)];
        let aux = Aux {
            vlan_present: true,
            ..Aux::default()
        };
        assert_eq!(run(&p, &f, 20, Some(&aux)), 1);
        assert_eq!(run(&p, &f, 20, None), 0);
        // Division by zero rejects.
        let p = vec![ins(0x00, 0, 0, 5), ins(0x3c, 0, 0, 0), ins(0x6, 0, 0, 1)];
        assert_eq!(run(&p, &f, 20, None), 0);
    }
}
