//! tcp, half-open ("SYN") path: the same layer-4 question as `tcp.rs` (does
//! `host:port` accept connections?) answered without completing a handshake, as
//! `nmap -sS` and masscan do.
//!
//! One raw IPv4 socket (`SOCK_RAW`, `IPPROTO_TCP`, `IP_HDRINCL`; needs CAP_NET_RAW)
//! sends a SYN per probe run, carrying the run's identity in its sequence number
//! (a slot and a generation, XORed with a per-process secret) and one of a block of
//! source ports this process reserves by binding plain TCP sockets to them (bound,
//! never listening or connected: the ports cannot be taken by anyone else, and the
//! kernel finds no socket for replies to them). One receive task reads the replies,
//! which a classic BPF filter narrows to that port block and to SYN-ACK or RST:
//!
//! - SYN-ACK (acknowledging our sequence number): something listens → Pass. Our own
//!   kernel answers the SYN-ACK with a RST (no socket owns the port), so the handshake
//!   never completes and neither side creates a socket: the application never sees
//!   the probe (a layer-4 check, like HAProxy's plain `check`, but without even the
//!   connection the application would accept and see reset).
//! - RST acknowledging our SYN: refused → Fail (`connect refused`, as `connect()` says).
//! - nothing: Timeout, bounded by `result::bounded` as every probe; the SYN is resent
//!   after 1 s, 3 s, ... like `connect()`'s retransmissions when the timeout allows.
//!
//! Differences from `connect()` worth knowing: an ICMP error (host or port
//! unreachable) is not read, so it ends as a Timeout where `connect()` fails early;
//! a listener whose accept queue is full drops SYNs and times out on both paths; a
//! SYN-cookie SYN-ACK is a pass on both. Only IPv4 literal targets take this path;
//! names, IPv6 and hosts without CAP_NET_RAW use `connect()` (`context.rs`).

use std::collections::HashMap;
use std::io;
use std::mem;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::unix::AsyncFd;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::result::{fail, pass, short_io_error, Verdict};

/// Source ports reserved for replies (one block, so the BPF filter is a range test).
const SOURCE_PORTS: u16 = 128;
/// Bits of the slot index in a token; the rest (12) are the slot's generation.
const INDEX_BITS: u32 = 20;
const INDEX_MASK: u32 = (1 << INDEX_BITS) - 1;
/// Runs waiting for a reply at most (the table never grows beyond it); beyond it a
/// run uses `connect()`.
pub(crate) const WAITING_MAX: usize = 1 << INDEX_BITS;
/// Replies read per `recvmmsg` call.
const BATCH: usize = 64;
/// Bytes kept of each reply: IPv4 header with options (60) + TCP header (20) + slack.
const SNAP: usize = 96;
/// Cached route lookups (destination → our source address) at most, and their age limit.
const SOURCES_MAX: usize = 1 << 17;
const SOURCE_TTL: Duration = Duration::from_secs(60);
/// First SYN retransmission, doubled after each (Linux's initial RTO).
const RETRANSMIT_FIRST: Duration = Duration::from_secs(1);

/// Counters of the half-open path (all since the prober was opened).
#[derive(Default)]
struct SynCounters {
    sent: AtomicU64,
    syn_acks: AtomicU64,
    resets: AtomicU64,
    unmatched: AtomicU64,
}

/// Packets of the half-open path since it was opened.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HalfOpenCounts {
    /// SYNs sent (retransmissions included).
    pub sent: u64,
    pub syn_acks: u64,
    pub resets: u64,
    /// Replies to our ports that matched no waiting run (late, after the run's timeout).
    pub unmatched: u64,
}

/// The raw socket, the reserved ports, the runs waiting for replies and the receive
/// task. Dropping it stops the task and closes the sockets.
pub(crate) struct SynProber {
    shared: Arc<Shared>,
    receiver: JoinHandle<()>,
}

struct Shared {
    raw: AsyncFd<OwnedFd>,
    /// Bound TCP sockets holding `port_base .. port_base + SOURCE_PORTS`.
    _reserved: Vec<OwnedFd>,
    port_base: u16,
    secret: u32,
    table: Mutex<Table>,
    sources: Mutex<HashMap<Ipv4Addr, (Ipv4Addr, Instant)>>,
    counters: SynCounters,
}

#[derive(Default)]
struct Table {
    slots: Vec<Slot>,
    free: Vec<u32>,
}

#[derive(Default)]
struct Slot {
    generation: u32,
    waiter: Option<Waiter>,
}

struct Waiter {
    target: SocketAddrV4,
    source_port: u16,
    reply: oneshot::Sender<Reply>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Reply {
    SynAck,
    Reset,
}

impl Drop for SynProber {
    fn drop(&mut self) {
        self.receiver.abort();
    }
}

impl SynProber {
    /// Opens the raw socket and reserves the source ports; must run inside a tokio
    /// runtime (the socket is registered with its reactor, the receive task spawned).
    pub(crate) fn open() -> io::Result<SynProber> {
        let raw = raw_socket()?;
        let (port_base, reserved) = reserve_ports(SOURCE_PORTS)?;
        attach_filter(raw.as_raw_fd(), port_base, SOURCE_PORTS)?;
        // Drain whatever arrived before the filter was attached (any TCP packet).
        let mut scratch = [0u8; SNAP];
        // SAFETY: recv writes at most `scratch.len()` bytes into our buffer.
        while unsafe { libc::recv(raw.as_raw_fd(), scratch.as_mut_ptr().cast(), scratch.len(), libc::MSG_DONTWAIT) } >= 0 {}
        let shared = Arc::new(Shared {
            // SAFETY: `raw` owns its descriptor, which stays open as long as the AsyncFd.
            raw: unsafe { AsyncFd::register(raw) }.map_err(io::Error::from)?,
            _reserved: reserved,
            port_base,
            secret: rand::random(),
            table: Mutex::new(Table::default()),
            sources: Mutex::new(HashMap::new()),
            counters: SynCounters::default(),
        });
        let receiver = tokio::spawn(receive_loop(shared.clone()));
        Ok(SynProber { shared, receiver })
    }

    pub(crate) fn counts(&self) -> HalfOpenCounts {
        let counters = &self.shared.counters;
        let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        HalfOpenCounts {
            sent: load(&counters.sent),
            syn_acks: load(&counters.syn_acks),
            resets: load(&counters.resets),
            unmatched: load(&counters.unmatched),
        }
    }

    /// The reserved source ports, `(first, count)`.
    pub(crate) fn ports(&self) -> (u16, u16) {
        (self.shared.port_base, SOURCE_PORTS)
    }

    /// Registers a run for `target`; `None` when `WAITING_MAX` runs already wait
    /// (the caller then uses `connect()`).
    pub(crate) fn start(&self, target: SocketAddrV4) -> Option<Pending<'_>> {
        let (reply, receiver) = oneshot::channel();
        let mut table = self.shared.table.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let index = match table.free.pop() {
            Some(index) => index,
            None if table.slots.len() < WAITING_MAX => {
                table.slots.push(Slot::default());
                (table.slots.len() - 1) as u32
            }
            None => return None,
        };
        let source_port = self.shared.port_base + (index % SOURCE_PORTS as u32) as u16;
        let slot = &mut table.slots[index as usize];
        slot.waiter = Some(Waiter { target, source_port, reply });
        let token = (slot.generation << INDEX_BITS) | index;
        Some(Pending { shared: &self.shared, index, token, target, source_port, receiver })
    }
}

/// One registered run; dropping it (a timeout drops the probe's future) frees the slot.
pub(crate) struct Pending<'a> {
    shared: &'a Shared,
    index: u32,
    token: u32,
    target: SocketAddrV4,
    source_port: u16,
    receiver: oneshot::Receiver<Reply>,
}

impl Drop for Pending<'_> {
    fn drop(&mut self) {
        let mut table = self.shared.table.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let slot = &mut table.slots[self.index as usize];
        slot.waiter = None;
        // A late reply carries the old generation and finds nothing.
        slot.generation = (slot.generation + 1) & (u32::MAX >> INDEX_BITS);
        table.free.push(self.index);
    }
}

impl Pending<'_> {
    /// Sends the SYN and waits for the verdict, resending it after 1 s, 3 s, 7 s, ...
    /// when `timeout` leaves room. Not bounded by itself: the caller wraps it in
    /// `result::bounded(timeout, ..)`. The rare paths (a full socket buffer, waiting
    /// beyond 1 s) are boxed futures: this one is in every run's task, which stays
    /// small enough for the allocator's fast path.
    pub(crate) async fn verdict(mut self, timeout: Duration) -> Verdict {
        let source = match self.shared.source_for(*self.target.ip()) {
            Ok(source) => source,
            Err(error) => return fail(format!("route to {}: {}", self.target.ip(), short_io_error(&error))),
        };
        let packet = syn_packet(source, self.source_port, self.target, self.token ^ self.shared.secret);
        if let Err(error) = self.shared.send_now_or_wait(&packet, self.target).await {
            return fail(short_io_error(&error));
        }
        let reply = if timeout <= RETRANSMIT_FIRST { (&mut self.receiver).await } else { Box::pin(self.resending(&packet)).await };
        match reply {
            Ok(Reply::SynAck) => pass(),
            Ok(Reply::Reset) => fail("connect refused"),
            Err(_) => fail("half-open prober stopped"),
        }
    }

    /// Waits for the reply, resending the SYN after 1 s, 3 s, 7 s, ... (as connect()
    /// retransmits) until the caller's bound drops this future.
    async fn resending(&mut self, packet: &[u8]) -> Result<Reply, oneshot::error::RecvError> {
        let mut wait = RETRANSMIT_FIRST;
        loop {
            if let Ok(reply) = tokio::time::timeout(wait, &mut self.receiver).await {
                return reply;
            }
            wait *= 2;
            // A failed resend is not an answer: keep waiting for the first SYN's.
            let _ = self.shared.send_now_or_wait(packet, self.target).await;
        }
    }
}

impl Shared {
    fn add(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Sends at once; only when the socket's buffer is full, waits (a boxed future).
    async fn send_now_or_wait(&self, packet: &[u8], target: SocketAddrV4) -> io::Result<()> {
        match self.send_once(packet, target) {
            Ok(true) => {
                Shared::add(&self.counters.sent);
                Ok(())
            }
            Ok(false) => Box::pin(self.send(packet, target)).await,
            Err(error) => Err(error),
        }
    }

    /// One `sendto`: `Ok(false)` when it would have to wait.
    fn send_once(&self, packet: &[u8], target: SocketAddrV4) -> io::Result<bool> {
        let address = sockaddr_in(target);
        loop {
            // SAFETY: sendto reads `packet` and `address`, both alive for the call.
            let sent = unsafe {
                libc::sendto(
                    self.raw.as_raw_fd(),
                    packet.as_ptr().cast(),
                    packet.len(),
                    libc::MSG_DONTWAIT,
                    (&raw const address).cast(),
                    mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
                )
            };
            if sent >= 0 {
                return Ok(true);
            }
            let error = io::Error::last_os_error();
            match error.raw_os_error() {
                Some(libc::EAGAIN) | Some(libc::ENOBUFS) => return Ok(false),
                Some(libc::EINTR) => {}
                _ => return Err(error),
            }
        }
    }

    async fn send(&self, packet: &[u8], target: SocketAddrV4) -> io::Result<()> {
        loop {
            let mut ready = self.raw.writable().await?;
            if self.send_once(packet, target)? {
                Shared::add(&self.counters.sent);
                return Ok(());
            }
            ready.clear_ready();
            // ENOBUFS (the device queue, not the socket buffer) raises no writable
            // event: wait a little rather than spin; the run stays bounded by its timeout.
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    /// The source address the kernel would use towards `destination` (a connected
    /// UDP socket's name; nothing is sent), cached a minute, at most `SOURCES_MAX`.
    fn source_for(&self, destination: Ipv4Addr) -> io::Result<Ipv4Addr> {
        let now = Instant::now();
        {
            let sources = self.sources.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            if let Some(&(source, at)) = sources.get(&destination) {
                if now.duration_since(at) < SOURCE_TTL {
                    return Ok(source);
                }
            }
        }
        let probe = std::net::UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0))?;
        probe.connect((destination, 9))?;
        let std::net::SocketAddr::V4(local) = probe.local_addr()? else {
            return Err(io::Error::other("no IPv4 source address"));
        };
        let mut sources = self.sources.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if sources.len() >= SOURCES_MAX {
            sources.clear();
        }
        sources.insert(destination, (*local.ip(), now));
        Ok(*local.ip())
    }

    /// Matches replies to waiting runs: the token from the acknowledgment number, then
    /// the slot's generation, target and source port must all agree.
    fn deliver(&self, replies: &[(SocketAddrV4, u16, u32, Reply)], woken: &mut Vec<(oneshot::Sender<Reply>, Reply)>) {
        let mut table = self.table.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        for &(from, port, ack, reply) in replies {
            let token = ack.wrapping_sub(1) ^ self.secret;
            let (index, generation) = (token & INDEX_MASK, token >> INDEX_BITS);
            let matched = table.slots.get_mut(index as usize).filter(|slot| {
                slot.generation == generation
                    && slot.waiter.as_ref().is_some_and(|waiter| waiter.target == from && waiter.source_port == port)
            });
            match matched.and_then(|slot| slot.waiter.take()) {
                Some(waiter) => woken.push((waiter.reply, reply)),
                None => Shared::add(&self.counters.unmatched),
            }
        }
    }
}

async fn receive_loop(shared: Arc<Shared>) {
    let mut buffers = vec![[0u8; SNAP]; BATCH];
    let mut replies = Vec::with_capacity(BATCH);
    let mut woken = Vec::with_capacity(BATCH);
    let mut lengths = [0usize; BATCH];
    loop {
        let Ok(mut ready) = shared.raw.readable().await else { return };
        loop {
            let received = match receive_batch(shared.raw.as_raw_fd(), &mut buffers, &mut lengths) {
                Ok(received) => received,
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                    ready.clear_ready();
                    break;
                }
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                Err(error) => {
                    tracing::warn!(%error, "half-open tcp probes: reading the raw socket failed; its runs will time out");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    break;
                }
            };
            replies.clear();
            for (buffer, &length) in buffers.iter().zip(&lengths[..received]) {
                if let Some(reply) = parse_reply(&buffer[..length]) {
                    replies.push(reply);
                }
            }
            for &(_, _, _, reply) in &replies {
                Shared::add(if reply == Reply::SynAck { &shared.counters.syn_acks } else { &shared.counters.resets });
            }
            shared.deliver(&replies, &mut woken);
            // Outside the lock: waking a run may run it on this thread.
            for (sender, reply) in woken.drain(..) {
                let _ = sender.send(reply);
            }
            if received < BATCH {
                ready.clear_ready();
                break;
            }
        }
    }
}

/// One `recvmmsg` call: how many datagrams were read, their lengths in `lengths`.
fn receive_batch(fd: RawFd, buffers: &mut [[u8; SNAP]], lengths: &mut [usize; BATCH]) -> io::Result<usize> {
    // SAFETY: zeroed iovec/mmsghdr are valid "empty" values; each iovec points into
    // `buffers`, which outlives the call, and recvmmsg writes within those bounds.
    unsafe {
        let mut iovecs: [libc::iovec; BATCH] = mem::zeroed();
        let mut headers: [libc::mmsghdr; BATCH] = mem::zeroed();
        let count = buffers.len().min(BATCH);
        for index in 0..count {
            iovecs[index] = libc::iovec { iov_base: buffers[index].as_mut_ptr().cast(), iov_len: SNAP };
            headers[index].msg_hdr.msg_iov = &raw mut iovecs[index];
            headers[index].msg_hdr.msg_iovlen = 1;
        }
        let read = libc::recvmmsg(fd, headers.as_mut_ptr(), count as libc::c_uint, libc::MSG_DONTWAIT, std::ptr::null_mut());
        if read < 0 {
            return Err(io::Error::last_os_error());
        }
        for (length, header) in lengths.iter_mut().zip(&headers[..read as usize]) {
            *length = (header.msg_len as usize).min(SNAP);
        }
        Ok(read as usize)
    }
}

/// (from, our port, acknowledgment number, kind) of a SYN-ACK or of a RST that
/// acknowledges something; anything else is `None`. `packet` starts at the IP header.
fn parse_reply(packet: &[u8]) -> Option<(SocketAddrV4, u16, u32, Reply)> {
    if packet.len() < 20 || packet[0] >> 4 != 4 || packet[9] != libc::IPPROTO_TCP as u8 {
        return None;
    }
    let header = ((packet[0] & 0x0f) as usize) * 4;
    let tcp = packet.get(header..header + 20)?;
    let from_ip = Ipv4Addr::new(packet[12], packet[13], packet[14], packet[15]);
    let from_port = u16::from_be_bytes([tcp[0], tcp[1]]);
    let to_port = u16::from_be_bytes([tcp[2], tcp[3]]);
    let ack = u32::from_be_bytes([tcp[8], tcp[9], tcp[10], tcp[11]]);
    let flags = tcp[13];
    const SYN: u8 = 0x02;
    const RST: u8 = 0x04;
    const ACK: u8 = 0x10;
    let reply = if flags & RST != 0 && flags & ACK != 0 {
        Reply::Reset
    } else if flags & (SYN | ACK | RST) == SYN | ACK {
        Reply::SynAck
    } else {
        return None;
    };
    Some((SocketAddrV4::new(from_ip, from_port), to_port, ack, reply))
}

/// IPv4 header (the kernel fills in length, id and checksum under IP_HDRINCL) and
/// a TCP SYN with an MSS option, its checksum computed here.
fn syn_packet(source: Ipv4Addr, source_port: u16, target: SocketAddrV4, sequence: u32) -> [u8; 44] {
    let mut packet = [0u8; 44];
    packet[0] = 0x45;
    packet[2..4].copy_from_slice(&44u16.to_be_bytes());
    packet[6] = 0x40; // don't fragment
    packet[8] = 64; // TTL
    packet[9] = libc::IPPROTO_TCP as u8;
    packet[12..16].copy_from_slice(&source.octets());
    packet[16..20].copy_from_slice(&target.ip().octets());
    let tcp = &mut packet[20..];
    tcp[0..2].copy_from_slice(&source_port.to_be_bytes());
    tcp[2..4].copy_from_slice(&target.port().to_be_bytes());
    tcp[4..8].copy_from_slice(&sequence.to_be_bytes());
    tcp[12] = 6 << 4; // data offset: 6 words (20 + the 4-byte MSS option)
    tcp[13] = 0x02; // SYN
    tcp[14..16].copy_from_slice(&64_240u16.to_be_bytes());
    tcp[20..24].copy_from_slice(&[2, 4, 0x05, 0xb4]); // MSS 1460
    let checksum = tcp_checksum(source, *target.ip(), tcp);
    tcp[16..18].copy_from_slice(&checksum.to_be_bytes());
    packet
}

fn tcp_checksum(source: Ipv4Addr, destination: Ipv4Addr, segment: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    let mut add = |bytes: &[u8]| {
        for pair in bytes.chunks(2) {
            sum += u16::from_be_bytes([pair[0], *pair.get(1).unwrap_or(&0)]) as u32;
        }
    };
    add(&source.octets());
    add(&destination.octets());
    add(&[0, libc::IPPROTO_TCP as u8]);
    add(&(segment.len() as u16).to_be_bytes());
    add(segment);
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

fn sockaddr_in(address: SocketAddrV4) -> libc::sockaddr_in {
    libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: address.port().to_be(),
        sin_addr: libc::in_addr { s_addr: u32::from(*address.ip()).to_be() },
        sin_zero: [0; 8],
    }
}

fn check(result: libc::c_int) -> io::Result<libc::c_int> {
    if result < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(result)
    }
}

fn set_option<T>(fd: RawFd, level: libc::c_int, name: libc::c_int, value: &T) -> io::Result<()> {
    // SAFETY: setsockopt reads `size_of::<T>()` bytes from `value`.
    check(unsafe { libc::setsockopt(fd, level, name, (value as *const T).cast(), mem::size_of::<T>() as libc::socklen_t) }).map(|_| ())
}

/// The raw socket: non-blocking, IP_HDRINCL, large buffers (replies arrive in bursts).
fn raw_socket() -> io::Result<OwnedFd> {
    // SAFETY: socket() returns a new descriptor we own from here on, or -1.
    let fd = check(unsafe { libc::socket(libc::AF_INET, libc::SOCK_RAW | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC, libc::IPPROTO_TCP) })?;
    // SAFETY: `fd` is valid and owned by nobody else.
    let raw = unsafe { OwnedFd::from_raw_fd(fd) };
    set_option(fd, libc::IPPROTO_IP, libc::IP_HDRINCL, &1 as &libc::c_int)?;
    let buffer: libc::c_int = 16 << 20;
    for (force, plain) in [(libc::SO_RCVBUFFORCE, libc::SO_RCVBUF), (libc::SO_SNDBUFFORCE, libc::SO_SNDBUF)] {
        if set_option(fd, libc::SOL_SOCKET, force, &buffer).is_err() {
            let _ = set_option(fd, libc::SOL_SOCKET, plain, &buffer);
        }
    }
    Ok(raw)
}

/// Binds `count` consecutive TCP ports on 0.0.0.0 inside the ephemeral range (so no
/// fixed-port service is kept from binding them). The sockets never listen nor
/// connect: the kernel finds no socket for segments to these ports and answers
/// SYN-ACKs with a RST itself; and nobody else can bind or connect from them.
fn reserve_ports(count: u16) -> io::Result<(u16, Vec<OwnedFd>)> {
    let (low, high) = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|text| {
            let mut values = text.split_whitespace().map(|value| value.parse::<u16>().ok());
            Some((values.next()??, values.next()??))
        })
        .unwrap_or((32_768, 60_999));
    let (low, high) = if high > low && high - low > count { (low, high) } else { (32_768, 60_999) };
    let mut last_error = io::Error::other("no free block of source ports");
    for _ in 0..64 {
        let base = low + (rand::random::<u16>() % (high - low - count));
        match bind_block(base, count) {
            Ok(sockets) => return Ok((base, sockets)),
            Err(error) => last_error = error,
        }
    }
    Err(last_error)
}

fn bind_block(base: u16, count: u16) -> io::Result<Vec<OwnedFd>> {
    (base..base + count)
        .map(|port| {
            // SAFETY: as in `raw_socket`.
            let fd = check(unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) })?;
            // SAFETY: `fd` is valid and owned by nobody else.
            let socket = unsafe { OwnedFd::from_raw_fd(fd) };
            let address = sockaddr_in(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port));
            // SAFETY: bind reads the sockaddr_in we pass.
            check(unsafe { libc::bind(fd, (&raw const address).cast(), mem::size_of::<libc::sockaddr_in>() as libc::socklen_t) })?;
            Ok(socket)
        })
        .collect()
}

/// Classic BPF on the raw socket (it would otherwise get a copy of every TCP
/// packet the host receives): unfragmented TCP to our port block with RST, or with
/// SYN and ACK; cut to `SNAP` bytes.
fn attach_filter(fd: RawFd, base: u16, count: u16) -> io::Result<()> {
    const LD_H_ABS: u16 = (libc::BPF_LD | libc::BPF_H | libc::BPF_ABS) as u16;
    const LDX_B_MSH: u16 = (libc::BPF_LDX | libc::BPF_B | libc::BPF_MSH) as u16;
    const LD_H_IND: u16 = (libc::BPF_LD | libc::BPF_H | libc::BPF_IND) as u16;
    const LD_B_IND: u16 = (libc::BPF_LD | libc::BPF_B | libc::BPF_IND) as u16;
    const JSET: u16 = (libc::BPF_JMP | libc::BPF_JSET | libc::BPF_K) as u16;
    const JGE: u16 = (libc::BPF_JMP | libc::BPF_JGE | libc::BPF_K) as u16;
    const JEQ: u16 = (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16;
    const AND: u16 = (libc::BPF_ALU | libc::BPF_AND | libc::BPF_K) as u16;
    const RET: u16 = (libc::BPF_RET | libc::BPF_K) as u16;
    let op = |code: u16, jt: u8, jf: u8, k: u32| libc::sock_filter { code, jt, jf, k };
    // Jumps are relative to the next instruction; ACCEPT is 10, DROP 11.
    let program = [
        op(LD_H_ABS, 0, 0, 6),                     // 0: flags + fragment offset
        op(JSET, 9, 0, 0x1fff),                    // 1: a fragment → DROP
        op(LDX_B_MSH, 0, 0, 0),                    // 2: X = IP header length
        op(LD_H_IND, 0, 0, 2),                     // 3: TCP destination port
        op(JGE, 0, 6, base as u32),                // 4: below the block → DROP
        op(JGE, 5, 0, base as u32 + count as u32), // 5: above the block → DROP
        op(LD_B_IND, 0, 0, 13),                    // 6: TCP flags
        op(JSET, 2, 0, 0x04),                      // 7: RST → ACCEPT
        op(AND, 0, 0, 0x12),                       // 8: SYN|ACK bits
        op(JEQ, 0, 1, 0x12),                       // 9: both → ACCEPT, else DROP
        op(RET, 0, 0, SNAP as u32),                // 10: ACCEPT
        op(RET, 0, 0, 0),                          // 11: DROP
    ];
    let fprog = libc::sock_fprog { len: program.len() as u16, filter: program.as_ptr().cast_mut() };
    set_option(fd, libc::SOL_SOCKET, libc::SO_ATTACH_FILTER, &fprog)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_syn_packet_has_a_valid_tcp_checksum() {
        let source = Ipv4Addr::new(127, 0, 0, 1);
        let target = SocketAddrV4::new(Ipv4Addr::new(127, 1, 2, 3), 8080);
        let packet = syn_packet(source, 40_000, target, 0xdead_beef);
        // Summing a segment with its checksum in place gives 0 when it is right.
        assert_eq!(tcp_checksum(source, *target.ip(), &packet[20..]), 0);
        assert_eq!(u16::from_be_bytes([packet[20], packet[21]]), 40_000);
        assert_eq!(u16::from_be_bytes([packet[22], packet[23]]), 8080);
        assert_eq!(u32::from_be_bytes([packet[24], packet[25], packet[26], packet[27]]), 0xdead_beef);
        assert_eq!(packet[33], 0x02);
    }

    fn reply(flags: u8, ack: u32) -> Vec<u8> {
        let mut packet = vec![0u8; 40];
        packet[0] = 0x45;
        packet[9] = 6;
        packet[12..16].copy_from_slice(&[127, 0, 0, 9]);
        packet[20..22].copy_from_slice(&5432u16.to_be_bytes());
        packet[22..24].copy_from_slice(&40_001u16.to_be_bytes());
        packet[28..32].copy_from_slice(&ack.to_be_bytes());
        packet[33] = flags;
        packet
    }

    #[test]
    fn replies_are_parsed_by_their_flags() {
        let from = SocketAddrV4::new(Ipv4Addr::new(127, 0, 0, 9), 5432);
        assert_eq!(parse_reply(&reply(0x12, 7)), Some((from, 40_001, 7, Reply::SynAck)));
        assert_eq!(parse_reply(&reply(0x14, 7)), Some((from, 40_001, 7, Reply::Reset)));
        assert_eq!(parse_reply(&reply(0x10, 7)), None, "a bare ACK is no answer to a SYN");
        assert_eq!(parse_reply(&reply(0x02, 7)), None, "a SYN (ours, looped back) is ignored");
        assert_eq!(parse_reply(&reply(0x04, 7)), None, "a RST without ACK acknowledges nothing of ours");
        assert_eq!(parse_reply(&reply(0x12, 7)[..30]), None, "truncated");
    }
}
