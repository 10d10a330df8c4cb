//! `faultline-agent nfqueue-delay`: a user-space packet delayer for kernels without
//! `tc netem`. iptables sends packets to an NFQUEUE (`-j NFQUEUE --queue-num
//! N --queue-bypass`); this program holds each one for the delay (± jitter)
//! and then accepts it. With --queue-bypass, packets pass undelayed when the
//! delayer is not running, so a crashed delayer never blackholes a node.
//! Runs inside a node's network namespace; Linux only.

use std::collections::BinaryHeap;
use std::io;
use std::time::{Duration, Instant};

use rand::Rng;

const NETLINK_NETFILTER: i32 = 12;
const NFNL_SUBSYS_QUEUE: u16 = 3;
const NFQNL_MSG_PACKET: u16 = 0;
const NFQNL_MSG_VERDICT: u16 = 1;
const NFQNL_MSG_CONFIG: u16 = 2;
const NFQA_CFG_CMD: u16 = 1;
const NFQA_CFG_PARAMS: u16 = 2;
const NFQA_PACKET_HDR: u16 = 1;
const NFQA_VERDICT_HDR: u16 = 2;
const NFQNL_CFG_CMD_BIND: u8 = 1;
const NFQNL_COPY_META: u8 = 1;
const NF_ACCEPT: u32 = 1;
const NLM_F_REQUEST: u16 = 1;
const NLM_F_ACK: u16 = 4;
const NLMSG_ERROR: u16 = 2;
/// Packets held at once; beyond this they are accepted at once (the kernel's
/// own queue holds 1024 by default, so this is rarely reached).
const MAX_HELD: usize = 65_536;

#[derive(Debug, thiserror::Error)]
pub enum NfqueueError {
    #[error("nfqueue-delay: {what}")]
    Os {
        what: &'static str,
        #[source]
        source: io::Error,
    },
    #[error("nfqueue-delay: {0}")]
    Invalid(String),
}

fn os(what: &'static str) -> NfqueueError {
    NfqueueError::Os {
        what,
        source: io::Error::last_os_error(),
    }
}

fn attr(buf: &mut Vec<u8>, kind: u16, payload: &[u8]) {
    let len = 4 + payload.len();
    buf.extend_from_slice(&(len as u16).to_ne_bytes());
    buf.extend_from_slice(&kind.to_ne_bytes());
    buf.extend_from_slice(payload);
    while buf.len() % 4 != 0 {
        buf.push(0);
    }
}

/// One netlink message to the queue subsystem: header, nfgenmsg, attributes.
fn message(msg: u16, flags: u16, queue: u16, attrs: &[(u16, Vec<u8>)]) -> Vec<u8> {
    let mut b = vec![0u8; 16];
    b.extend_from_slice(&[0 /* AF_UNSPEC */, 0 /* NFNETLINK_V0 */]);
    b.extend_from_slice(&queue.to_be_bytes());
    for (k, p) in attrs {
        attr(&mut b, *k, p);
    }
    let len = b.len() as u32;
    b[0..4].copy_from_slice(&len.to_ne_bytes());
    b[4..6].copy_from_slice(&((NFNL_SUBSYS_QUEUE << 8) | msg).to_ne_bytes());
    b[6..8].copy_from_slice(&flags.to_ne_bytes());
    b
}

struct Socket(i32);

impl Drop for Socket {
    fn drop(&mut self) {
        // SAFETY: closing our own fd.
        unsafe { libc::close(self.0) };
    }
}

impl Socket {
    fn send(&self, msg: &[u8]) -> Result<(), NfqueueError> {
        // SAFETY: sends a live buffer; the kernel is the destination (pid 0).
        let mut addr: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
        addr.nl_family = libc::AF_NETLINK as u16;
        let n = unsafe {
            libc::sendto(
                self.0,
                msg.as_ptr().cast(),
                msg.len(),
                0,
                (&addr as *const libc::sockaddr_nl).cast(),
                std::mem::size_of::<libc::sockaddr_nl>() as u32,
            )
        };
        if n < 0 {
            return Err(os("sending to netlink"));
        }
        Ok(())
    }
}

/// Packet ids in the messages of `buf`; errors in ACKs are returned.
fn parse(buf: &[u8], ids: &mut Vec<u32>) -> Result<(), NfqueueError> {
    let mut off = 0;
    while off + 16 <= buf.len() {
        let len = u32::from_ne_bytes(buf[off..off + 4].try_into().unwrap_or([0; 4])) as usize;
        let kind = u16::from_ne_bytes([buf[off + 4], buf[off + 5]]);
        if len < 16 || off + len > buf.len() {
            break;
        }
        let body = &buf[off + 16..off + len];
        if kind == NLMSG_ERROR && body.len() >= 4 {
            let err = i32::from_ne_bytes(body[0..4].try_into().unwrap_or([0; 4]));
            if err != 0 {
                return Err(NfqueueError::Os {
                    what: "the kernel refused the queue configuration",
                    source: io::Error::from_raw_os_error(-err),
                });
            }
        } else if kind == (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET && body.len() >= 4 {
            let mut a = 4; // after nfgenmsg
            while a + 4 <= body.len() {
                let alen = u16::from_ne_bytes([body[a], body[a + 1]]) as usize;
                let akind = u16::from_ne_bytes([body[a + 2], body[a + 3]]) & 0x3fff;
                if alen < 4 || a + alen > body.len() {
                    break;
                }
                if akind == NFQA_PACKET_HDR && alen >= 8 {
                    ids.push(u32::from_be_bytes(
                        body[a + 4..a + 8].try_into().unwrap_or([0; 4]),
                    ));
                }
                a += (alen + 3) & !3;
            }
        }
        off += (len + 3) & !3;
    }
    Ok(())
}

/// Holds every packet of `queue` for `delay` ± `jitter`, forever.
pub fn run(queue: u16, delay: Duration, jitter: Duration) -> Result<(), NfqueueError> {
    if jitter > delay || delay > Duration::from_secs(60) {
        return Err(NfqueueError::Invalid(
            "delay at most 60 s, jitter at most the delay".into(),
        ));
    }
    // SAFETY: plain socket calls.
    let fd = unsafe { libc::socket(libc::AF_NETLINK, libc::SOCK_RAW, NETLINK_NETFILTER) };
    if fd < 0 {
        return Err(os("netlink socket"));
    }
    let sock = Socket(fd);
    let mut addr: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
    addr.nl_family = libc::AF_NETLINK as u16;
    // SAFETY: binds our socket to a zeroed sockaddr_nl.
    if unsafe {
        libc::bind(
            fd,
            (&addr as *const libc::sockaddr_nl).cast(),
            std::mem::size_of::<libc::sockaddr_nl>() as u32,
        )
    } != 0
    {
        return Err(os("binding the netlink socket"));
    }
    let mut cmd = vec![NFQNL_CFG_CMD_BIND, 0];
    cmd.extend_from_slice(&(libc::AF_INET as u16).to_be_bytes());
    sock.send(&message(
        NFQNL_MSG_CONFIG,
        NLM_F_REQUEST | NLM_F_ACK,
        queue,
        &[(NFQA_CFG_CMD, cmd)],
    ))?;
    let mut params = 0u32.to_be_bytes().to_vec();
    params.push(NFQNL_COPY_META);
    sock.send(&message(
        NFQNL_MSG_CONFIG,
        NLM_F_REQUEST | NLM_F_ACK,
        queue,
        &[(NFQA_CFG_PARAMS, params)],
    ))?;
    tracing::info!(queue, ?delay, ?jitter, "delaying packets");
    let mut rng = rand::rng();
    // Min-heap on release time (Reverse), then packet id.
    let mut held: BinaryHeap<std::cmp::Reverse<(Instant, u32)>> = BinaryHeap::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut ids = Vec::new();
    loop {
        let now = Instant::now();
        while let Some(std::cmp::Reverse((due, id))) = held.peek().copied() {
            if due > now && held.len() < MAX_HELD {
                break;
            }
            held.pop();
            let mut v = NF_ACCEPT.to_be_bytes().to_vec();
            v.extend_from_slice(&id.to_be_bytes());
            sock.send(&message(
                NFQNL_MSG_VERDICT,
                NLM_F_REQUEST,
                queue,
                &[(NFQA_VERDICT_HDR, v)],
            ))?;
        }
        let timeout = held
            .peek()
            .map(|std::cmp::Reverse((due, _))| due.saturating_duration_since(Instant::now()))
            .unwrap_or(Duration::from_secs(1));
        let mut pfd = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: polls one live pollfd.
        let r = unsafe { libc::poll(&mut pfd, 1, timeout.as_millis().min(1000) as i32) };
        if r <= 0 {
            continue;
        }
        // SAFETY: receives into a live buffer.
        let n = unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), 0) };
        if n < 0 {
            match io::Error::last_os_error().raw_os_error() {
                // The kernel dropped messages under load: carry on.
                Some(libc::ENOBUFS) | Some(libc::EINTR) => continue,
                _ => return Err(os("receiving from netlink")),
            }
        }
        ids.clear();
        parse(&buf[..n as usize], &mut ids)?;
        let now = Instant::now();
        for id in ids.drain(..) {
            let j = if jitter.is_zero() {
                0
            } else {
                rng.random_range(0..=2 * jitter.as_micros() as u64)
            };
            let d = (delay + Duration::from_micros(j)).saturating_sub(jitter);
            held.push(std::cmp::Reverse((now + d, id)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_and_parses_messages() {
        let m = message(
            NFQNL_MSG_VERDICT,
            NLM_F_REQUEST,
            7,
            &[(NFQA_VERDICT_HDR, vec![0, 0, 0, 1, 0, 0, 0, 9])],
        );
        assert_eq!(m.len(), 16 + 4 + 12);
        assert_eq!(u32::from_ne_bytes(m[0..4].try_into().unwrap()), 32);
        assert_eq!(&m[18..20], &7u16.to_be_bytes());
        // A packet message carrying id 0x01020304.
        let mut p = message(
            NFQNL_MSG_PACKET,
            0,
            7,
            &[(NFQA_PACKET_HDR, vec![1, 2, 3, 4, 8, 0, 1])],
        );
        p.extend_from_slice(&[0xff; 3]); // trailing garbage is ignored
        let mut ids = Vec::new();
        parse(&p, &mut ids).unwrap();
        assert_eq!(ids, [0x0102_0304]);
        // A truncated message is not a panic.
        parse(&p[..20], &mut ids).unwrap();
    }
}
