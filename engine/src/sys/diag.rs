//! `NETLINK_SOCK_DIAG` for packet sockets (`linux/packet_diag.h`): how many
//! sockets of the calling thread's network namespace are in a fanout
//! group. The kernel has no other way to tell a process how many members a
//! group has; [`crate::afpacket::FanoutMode::Flow`] needs that number to
//! leave a joining member out until it is ready. (The kernel loads the
//! `packet_diag` module on the first request.)

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use super::cvt;

/// `SOCK_DIAG_BY_FAMILY`.
const SOCK_DIAG_BY_FAMILY: u16 = 20;
/// `PACKET_SHOW_FANOUT`.
const PACKET_SHOW_FANOUT: u32 = 0x8;
/// `PACKET_DIAG_FANOUT` (attribute type: `id | type << 16`).
const PACKET_DIAG_FANOUT: u16 = 4;
/// `NLMSG_DONE`, `NLMSG_ERROR`.
const NLMSG_DONE: u16 = 3;
const NLMSG_ERROR: u16 = 2;
/// `NLM_F_REQUEST | NLM_F_DUMP`.
const DUMP_REQUEST: u16 = 0x1 | 0x300;

/// `struct nlmsghdr`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct NlMsgHdr {
    len: u32,
    kind: u16,
    flags: u16,
    seq: u32,
    pid: u32,
}

/// `struct packet_diag_req`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct PacketDiagReq {
    family: u8,
    protocol: u8,
    pad: u16,
    ino: u32,
    show: u32,
    cookie: [u32; 2],
}

/// `struct packet_diag_msg` (the fixed part of each answer).
const PACKET_DIAG_MSG_LEN: usize = 16;
/// `NLMSG_HDRLEN`.
const HDR_LEN: usize = size_of::<NlMsgHdr>();

#[repr(C)]
struct Request {
    hdr: NlMsgHdr,
    req: PacketDiagReq,
}

fn align4(n: usize) -> usize {
    (n + 3) & !3
}

/// A `NETLINK_SOCK_DIAG` socket in the calling thread's network namespace
/// (it answers for that namespace whichever thread asks later).
pub fn socket() -> io::Result<OwnedFd> {
    // SAFETY: plain socket(2); the descriptor is owned at once.
    Ok(unsafe {
        OwnedFd::from_raw_fd(cvt(libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_DGRAM | libc::SOCK_CLOEXEC,
            libc::NETLINK_SOCK_DIAG,
        ))?)
    })
}

/// The number of packet sockets in fanout group `group` of the calling
/// thread's network namespace.
pub fn fanout_members(group: u16) -> io::Result<u32> {
    fanout_members_on(&socket()?, group)
}

/// The number of packet sockets in fanout group `group` of the namespace
/// of `fd` (a [`socket`]). One dump at a time per socket.
pub fn fanout_members_on(fd: &OwnedFd, group: u16) -> io::Result<u32> {
    let req = Request {
        hdr: NlMsgHdr {
            len: size_of::<Request>() as u32,
            kind: SOCK_DIAG_BY_FAMILY,
            flags: DUMP_REQUEST,
            seq: 1,
            pid: 0,
        },
        req: PacketDiagReq {
            family: libc::AF_PACKET as u8,
            show: PACKET_SHOW_FANOUT,
            ..Default::default()
        },
    };
    // SAFETY: `req` is a live, initialised repr(C) value of the size given;
    // a netlink socket needs no address to send to the kernel.
    cvt(unsafe {
        libc::send(
            fd.as_raw_fd(),
            (&raw const req).cast(),
            size_of::<Request>(),
            0,
        )
    })?;
    let mut buf = vec![0u8; 32 * 1024];
    let mut count = 0u32;
    loop {
        // SAFETY: `buf` is writable for its length.
        let n = cvt(unsafe { libc::recv(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) })?
            as usize;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "sock_diag: the kernel closed the dump",
            ));
        }
        match count_in(&buf[..n], group)? {
            Walk::More(c) => count += c,
            Walk::Done(c) => return Ok(count + c),
        }
    }
}

enum Walk {
    More(u32),
    Done(u32),
}

/// Count the members of `group` in one datagram of the dump; every length
/// the kernel gives is checked against the datagram before it is used.
fn count_in(mut b: &[u8], group: u16) -> io::Result<Walk> {
    let bad = || io::Error::new(io::ErrorKind::InvalidData, "sock_diag: malformed answer");
    let rd16 = |b: &[u8], at: usize| u16::from_ne_bytes([b[at], b[at + 1]]);
    let rd32 = |b: &[u8], at: usize| u32::from_ne_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]);
    let mut count = 0;
    while b.len() >= HDR_LEN {
        let len = rd32(b, 0) as usize;
        let kind = rd16(b, 4);
        if len < HDR_LEN || len > b.len() {
            return Err(bad());
        }
        let msg = &b[HDR_LEN..len];
        match kind {
            NLMSG_DONE => return Ok(Walk::Done(count)),
            NLMSG_ERROR => {
                let errno = if msg.len() >= 4 {
                    -(rd32(msg, 0) as i32)
                } else {
                    libc::EIO
                };
                return Err(io::Error::from_raw_os_error(errno));
            }
            _ => {
                if msg.len() < PACKET_DIAG_MSG_LEN {
                    return Err(bad());
                }
                let mut attrs = &msg[PACKET_DIAG_MSG_LEN..];
                while attrs.len() >= 4 {
                    let alen = usize::from(rd16(attrs, 0));
                    let atype = rd16(attrs, 2) & 0x3fff;
                    if alen < 4 || alen > attrs.len() {
                        return Err(bad());
                    }
                    if atype == PACKET_DIAG_FANOUT && alen >= 8 && rd32(attrs, 4) as u16 == group {
                        count += 1;
                    }
                    attrs = &attrs[align4(alen).min(attrs.len())..];
                }
            }
        }
        b = &b[align4(len).min(b.len())..];
    }
    Ok(Walk::More(count))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(kind: u16, body: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&((HDR_LEN + body.len()) as u32).to_ne_bytes());
        v.extend_from_slice(&kind.to_ne_bytes());
        v.extend_from_slice(&[0; 10]);
        v.extend_from_slice(body);
        while v.len() % 4 != 0 {
            v.push(0);
        }
        v
    }

    fn sock(fanout: Option<u32>) -> Vec<u8> {
        let mut body = vec![0u8; PACKET_DIAG_MSG_LEN];
        // An unrelated attribute first (PACKET_DIAG_INFO, 24 bytes).
        body.extend_from_slice(&28u16.to_ne_bytes());
        body.extend_from_slice(&0u16.to_ne_bytes());
        body.extend_from_slice(&[0; 24]);
        if let Some(f) = fanout {
            body.extend_from_slice(&8u16.to_ne_bytes());
            body.extend_from_slice(&PACKET_DIAG_FANOUT.to_ne_bytes());
            body.extend_from_slice(&f.to_ne_bytes());
        }
        msg(SOCK_DIAG_BY_FAMILY, &body)
    }

    #[test]
    fn request_layout_is_the_kernels() {
        assert_eq!(size_of::<NlMsgHdr>(), 16);
        assert_eq!(size_of::<PacketDiagReq>(), 20);
        assert_eq!(size_of::<Request>(), 36);
    }

    #[test]
    fn counts_the_members_of_one_group() {
        let mut d = Vec::new();
        d.extend(sock(Some(7 | 6 << 16)));
        d.extend(sock(None));
        d.extend(sock(Some(8)));
        d.extend(sock(Some(7)));
        match count_in(&d, 7).unwrap() {
            Walk::More(n) => assert_eq!(n, 2),
            Walk::Done(_) => panic!("no NLMSG_DONE was sent"),
        }
        d.extend(msg(NLMSG_DONE, &[0; 4]));
        assert!(matches!(count_in(&d, 8).unwrap(), Walk::Done(1)));
    }

    #[test]
    fn a_truncated_or_lying_answer_is_an_error_not_a_panic() {
        let good = sock(Some(7));
        for cut in 1..good.len() {
            let _ = count_in(&good[..cut], 7);
        }
        let mut lying = good.clone();
        lying[0..4].copy_from_slice(&4096u32.to_ne_bytes());
        assert!(count_in(&lying, 7).is_err());
        let mut err = msg(NLMSG_ERROR, &(-libc::EPERM).to_ne_bytes());
        err.extend([0; 16]);
        assert_eq!(
            count_in(&err, 7).err().unwrap().raw_os_error(),
            Some(libc::EPERM)
        );
    }

    #[test]
    fn the_kernel_answers_a_dump() {
        // Whatever this namespace holds, group 65535 (never used by the
        // tests) has no member, and the dump completes.
        assert_eq!(fanout_members(65535).unwrap(), 0);
    }
}
