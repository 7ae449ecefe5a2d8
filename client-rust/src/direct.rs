//! A direct pipe end (docs/PROTOCOL.md §6.5.1): once the broker hands this end its socket
//! and the pipe's counters page, messages go to and come from the other end's holder on the
//! socket, peer to peer, framed as the broker's replies are (a 4-byte big-endian length, then
//! a map with `value`).
//!
//! The inbox is bounded at `capacity` messages exactly, as through the broker: each end counts
//! the messages it sent and received in the shared page, and a send waits while
//! `sent - peer's received` is `capacity`. A sender that waits raises its `waiting` flag; the
//! receiver that takes a message clears it and writes a *wake frame* (a frame of length 0) so
//! the sender's wait on the socket ends. Receivers skip wake frames. The socket's kernel buffer
//! bounds the bytes in flight; the peer's close (or death) reads as end of file after
//! everything it sent. Sends and receives each take their own lock, so one thread may wait in
//! `recv` while another sends.

use std::io;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use xproc_protocol::frame::{self, Check, HEADER_LEN};

use crate::conn::{interruptible, MAX_REPLY_FRAME};
use crate::error::{Error, Result};
use crate::transport::{CountersPage, Descriptor, DirectSocket};
use xproc_protocol::End;

/// Bytes the receive buffer starts with; it grows for larger messages.
const READ_BUFFER: usize = 16 * 1024;

/// A wake frame: length 0, no payload (docs/PROTOCOL.md §6.5.1).
const WAKE_FRAME: [u8; HEADER_LEN] = [0; HEADER_LEN];

/// How long a sender waiting for credit sleeps at most before it looks at the counters again
/// when another thread of this process is reading the socket (that thread, not this one, then
/// takes the wake frames) or also waits to send (a wake frame may wake only one of them).
const CREDIT_RECHECK: Duration = Duration::from_millis(1);

/// Byte offset of an end's block in the counters page: `a` at 0, `b` at 64.
const fn page_block(end: End) -> usize {
    match end {
        End::A => 0,
        End::B => 64,
    }
}
/// In an end's block: messages it has put on the socket (u64, written by its holder only).
const PAGE_SENT: usize = 0;
/// In an end's block: messages it has received (u64, written by its holder only).
const PAGE_RECEIVED: usize = 8;
/// In an end's block: 1 while its holder waits for credit to send (u32; raised by the holder,
/// cleared by whichever side sees it first).
const PAGE_WAITING: usize = 16;

/// One message on the socket: a map whose `value` is the bytes of one MessagePack value
/// (other fields, from later versions, are ignored).
#[derive(serde::Deserialize)]
struct Message<'a> {
    #[serde(borrow, with = "serde_bytes", default)]
    value: Option<&'a [u8]>,
}

/// The value of one message: straight off the front for `{"value": bin}` as clients write it,
/// through serde for any other layout (fields in another order, fields from later versions).
fn message_value(payload: &[u8]) -> Result<&[u8]> {
    if let Some(mut rest) = payload.strip_prefix(b"\x81\xa5value") {
        let at = rest.len();
        if let Ok(len) = rmp::decode::read_bin_len(&mut rest) {
            let start = payload.len() - at + (at - rest.len());
            if rest.len() == len as usize {
                return Ok(&payload[start..]);
            }
        }
    }
    let m: Message<'_> = rmp_serde::from_slice(payload)
        .map_err(|e| Error::Protocol(format!("malformed direct message: {e}")))?;
    m.value
        .ok_or_else(|| Error::Protocol("a direct message without a value".to_string()))
}

/// One end's socket, the counters page and the buffers.
#[derive(Debug)]
pub(crate) struct DirectEnd {
    sock: DirectSocket,
    page: CountersPage,
    /// This end.
    end: End,
    /// Most messages sent and not yet received, per direction.
    capacity: u64,
    /// The pipe's name, for messages.
    name: String,
    rx: Mutex<Rx>,
    /// The encode buffer of sends; whoever holds it alone writes to the socket.
    tx: Mutex<Vec<u8>>,
    /// A wake frame is owed to the peer: written by whoever holds `tx` next.
    wake_owed: AtomicBool,
    /// The peer closed (or died): seen by whichever thread read end of file.
    peer_gone: AtomicBool,
    /// Threads of this process waiting for credit on this end: the page's `waiting` flag is
    /// lowered only by the last one, and while several wait they look at the counters every
    /// [`CREDIT_RECHECK`] (one wake frame wakes one of them for sure, not each).
    waiters: AtomicU32,
}

#[derive(Debug)]
struct Rx {
    /// Received bytes live in `buf[start..end]`.
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// The peer closed (or died): what is buffered is all there is.
    eof: bool,
    /// The socket's receive timeout now (`None`: reads wait as long as it takes).
    timeout: Option<Duration>,
}

/// When an op gives up: `None` waits as long as it takes; `Some(deadline)`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Until {
    deadline: Option<Instant>,
    nowait: bool,
}

impl Until {
    /// From a call's timeout (`Some(ZERO)`: do not wait).
    pub(crate) fn new(timeout: Option<Duration>) -> Until {
        Until {
            deadline: timeout.and_then(|t| Instant::now().checked_add(t)),
            nowait: timeout == Some(Duration::ZERO),
        }
    }

    /// What is left (`None`: no bound); `Err(())` when it has run out.
    fn left(&self) -> std::result::Result<Option<Duration>, ()> {
        match self.deadline {
            None => Ok(None),
            Some(d) => match d.checked_duration_since(Instant::now()) {
                Some(r) if !r.is_zero() => Ok(Some(r)),
                _ => Err(()),
            },
        }
    }
}

impl DirectEnd {
    /// Wraps the socket and counters page the broker handed over for `end` of pipe `name`.
    // Where descriptors cannot be passed (`transport/nofds.rs`) the socket type is empty and
    // this is never called.
    #[cfg_attr(not(unix), allow(unreachable_code, unused_variables))]
    pub(crate) fn new(
        sock: Descriptor,
        page: Descriptor,
        end: End,
        capacity: u64,
        name: &str,
    ) -> Result<DirectEnd> {
        let page = CountersPage::map(page).map_err(|e| {
            Error::Protocol(format!("pipe '{name}': cannot map the counters page: {e}"))
        })?;
        Ok(DirectEnd {
            sock: DirectSocket::new(sock),
            page,
            end,
            capacity: capacity.max(1),
            name: name.to_string(),
            rx: Mutex::new(Rx {
                buf: vec![0; READ_BUFFER],
                start: 0,
                end: 0,
                eof: false,
                timeout: None,
            }),
            tx: Mutex::new(Vec::with_capacity(256)),
            wake_owed: AtomicBool::new(false),
            peer_gone: AtomicBool::new(false),
            waiters: AtomicU32::new(0),
        })
    }

    fn my_sent(&self) -> &AtomicU64 {
        self.page.u64_at(page_block(self.end) + PAGE_SENT)
    }
    fn my_received(&self) -> &AtomicU64 {
        self.page.u64_at(page_block(self.end) + PAGE_RECEIVED)
    }
    fn my_waiting(&self) -> &AtomicU32 {
        self.page.u32_at(page_block(self.end) + PAGE_WAITING)
    }
    fn peer_received(&self) -> &AtomicU64 {
        self.page
            .u64_at(page_block(self.end.other()) + PAGE_RECEIVED)
    }
    fn peer_waiting(&self) -> &AtomicU32 {
        self.page
            .u32_at(page_block(self.end.other()) + PAGE_WAITING)
    }

    /// Whether the peer's inbox has room for one more message. SeqCst pairs with the
    /// receiver's increment and flag check (a Dekker handshake: either the sender sees the
    /// new `received`, or the receiver sees `waiting` and writes a wake frame).
    fn has_credit(&self) -> bool {
        let sent = self.my_sent().load(Ordering::SeqCst);
        let received = self.peer_received().load(Ordering::SeqCst);
        sent.wrapping_sub(received) < self.capacity
    }

    /// Counts one received message and, if the peer's sender waits for credit, owes it a
    /// wake frame (written now unless another thread is writing; it writes it then).
    fn count_received(&self) {
        self.my_received().fetch_add(1, Ordering::SeqCst);
        // A load first: the common case (nobody waits) writes nothing to the peer's line.
        if self.peer_waiting().load(Ordering::SeqCst) != 0
            && self.peer_waiting().swap(0, Ordering::SeqCst) != 0
        {
            self.wake_owed.store(true, Ordering::SeqCst);
            self.pay_wakes();
        }
    }

    /// Writes the owed wake frame if no other thread holds the socket for writing; the one
    /// that does calls this again after it lets go, so none is lost.
    fn pay_wakes(&self) {
        while self.wake_owed.load(Ordering::SeqCst) {
            let Ok(_tx) = self.tx.try_lock() else {
                return;
            };
            if self.wake_owed.swap(false, Ordering::SeqCst) {
                // Not waiting: if the socket is full, the peer has unread bytes and its
                // wait ends on them anyway. A frame once started is finished.
                match self.sock.send_now(&WAKE_FRAME) {
                    Ok(n) if n < WAKE_FRAME.len() => {
                        let _ = self.sock.send_all(&WAKE_FRAME[n..]);
                    }
                    _ => {}
                }
            }
        }
    }

    /// Reads whatever waits on the socket into the receive buffer, if no other thread is
    /// receiving: a sender waiting for credit takes the wake frame (and keeps any message for
    /// the next `recv`), so its wait on readability does not spin on unread bytes. Returns
    /// whether it could (false: another thread reads the socket).
    fn drain(&self) -> Result<bool> {
        let Ok(mut rx) = self.rx.try_lock() else {
            return Ok(false);
        };
        while !rx.eof {
            match rx.fill(&self.sock, true) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::ConnectionReset => rx.eof = true,
                Err(e) => return Err(self.broken(e)),
            }
        }
        if rx.eof {
            self.peer_gone.store(true, Ordering::SeqCst);
        }
        rx.skip_wakes(&self.name)?;
        Ok(true)
    }

    /// Waits until the peer's inbox has room for one more message (or `until` runs out, or
    /// the peer is gone).
    fn wait_for_credit(&self, until: Until) -> Result<()> {
        loop {
            if self.has_credit() {
                return Ok(());
            }
            if self.peer_gone.load(Ordering::SeqCst) {
                return Err(self.closed());
            }
            if until.nowait {
                // A peer that is gone makes this `Closed`, as through the broker.
                self.drain()?;
                if self.peer_gone.load(Ordering::SeqCst) {
                    return Err(self.closed());
                }
                return Err(Error::Full);
            }
            self.waiters.fetch_add(1, Ordering::SeqCst);
            self.my_waiting().store(1, Ordering::SeqCst);
            let waited = self.credit_wait_once(until);
            if self.waiters.fetch_sub(1, Ordering::SeqCst) == 1 {
                self.my_waiting().store(0, Ordering::SeqCst);
            }
            waited?;
        }
    }

    /// One turn of [`wait_for_credit`](Self::wait_for_credit) with the waiting flag raised.
    fn credit_wait_once(&self, until: Until) -> Result<()> {
        if self.has_credit() {
            return Ok(());
        }
        let drained = self.drain()?;
        if self.has_credit() {
            return Ok(());
        }
        if self.peer_gone.load(Ordering::SeqCst) {
            return Err(self.closed());
        }
        let Ok(left) = until.left() else {
            return Err(Error::Timeout);
        };
        let alone = self.waiters.load(Ordering::SeqCst) == 1;
        let slice = if drained && alone {
            left
        } else {
            Some(left.map_or(CREDIT_RECHECK, |l| l.min(CREDIT_RECHECK)))
        };
        self.wait(false, slice)
    }

    fn closed(&self) -> Error {
        Error::Closed(format!("pipe '{}': the other end is closed", self.name))
    }

    fn broken(&self, e: io::Error) -> Error {
        match e.kind() {
            io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset => self.closed(),
            _ => Error::Disconnected(format!("pipe '{}': direct socket: {e}", self.name)),
        }
    }

    /// Sends one message (the bytes of one MessagePack value), waiting until `until` for room
    /// in the peer's inbox (`capacity` messages), then for room in the socket.
    pub(crate) fn send(&self, value: &[u8], until: Until) -> Result<()> {
        let sent = loop {
            self.wait_for_credit(until)?;
            let mut buf = self.tx.lock().unwrap_or_else(PoisonError::into_inner);
            // Another thread of this process may have taken the credit meanwhile.
            if !self.has_credit() {
                continue;
            }
            // Counted before the write, so the peer never receives a message its `sent` does
            // not count yet (`sent - received` never goes below 0); undone if nothing went.
            self.my_sent().fetch_add(1, Ordering::SeqCst);
            let sent = self.write_frame(&mut buf, value, until);
            if sent.is_err() {
                self.my_sent().fetch_sub(1, Ordering::SeqCst);
            }
            break sent;
        };
        // A wake owed while this thread held the socket is written now.
        self.pay_wakes();
        sent
    }

    /// Encodes and writes one message frame (the caller holds `tx` and has credit).
    fn write_frame(&self, buf: &mut Vec<u8>, value: &[u8], until: Until) -> Result<()> {
        if self.peer_gone.load(Ordering::SeqCst) {
            return Err(self.closed());
        }
        buf.clear();
        // The frame: length, then {"value": bin}.
        buf.extend_from_slice(&[0; HEADER_LEN]);
        buf.push(0x81);
        buf.extend_from_slice(b"\xa5value");
        rmp::encode::write_bin_len(buf, value.len() as u32)
            .map_err(|e| Error::Protocol(format!("cannot encode a message: {e}")))?;
        buf.extend_from_slice(value);
        let len = (buf.len() - HEADER_LEN) as u32;
        buf[..HEADER_LEN].copy_from_slice(&len.to_be_bytes());
        if until.deadline.is_none() && !until.nowait {
            return self.sock.send_all(buf).map_err(|e| self.broken(e));
        }
        loop {
            match self.sock.send_now(buf) {
                // A frame once started is finished whatever the wait: a half-written frame
                // would corrupt the stream. (Small frames go whole or not at all.)
                Ok(n) if n < buf.len() => {
                    return self.sock.send_all(&buf[n..]).map_err(|e| self.broken(e))
                }
                Ok(_) => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if until.nowait {
                        return Err(Error::Full);
                    }
                    let Ok(left) = until.left() else {
                        return Err(Error::Timeout);
                    };
                    self.wait(true, left)?;
                }
                Err(e) => return Err(self.broken(e)),
            }
        }
    }

    fn wait(&self, write: bool, left: Option<Duration>) -> Result<()> {
        match self.sock.wait(write, left) {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {
                if interruptible() {
                    Err(Error::Interrupted)
                } else {
                    Ok(())
                }
            }
            Err(e) => Err(self.broken(e)),
        }
    }

    /// Waits up to `left` for the socket to become readable (a message, end of file, a wake
    /// frame), without taking the receive lock: a started call carried by a thread
    /// (`started_pipe.rs`) waits this way between tries, so that it never holds the lock
    /// through a wait and starves the other calls on this end.
    pub(crate) fn wait_readable(&self, left: Duration) -> Result<()> {
        self.wait(false, Some(left))
    }

    /// Receives the next message and hands its bytes to `f`; `Closed` once the peer closed
    /// and everything it sent was received.
    pub(crate) fn recv<R>(&self, until: Until, f: impl FnOnce(&[u8]) -> Result<R>) -> Result<R> {
        let mut rx = self.rx.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if let Some(len) = rx.message(&self.name)? {
                let at = rx.start;
                rx.start += HEADER_LEN + len;
                // Counted before `f` runs, so the sender's credit comes back at once.
                self.count_received();
                let payload = &rx.buf[at + HEADER_LEN..at + HEADER_LEN + len];
                return f(message_value(payload)?);
            }
            if rx.eof {
                self.peer_gone.store(true, Ordering::SeqCst);
                return Err(self.closed());
            }
            // One syscall per message: a waiting read bounded by the socket's receive
            // timeout (set only when it changes much), not a poll and then a read.
            let left = if until.nowait {
                None
            } else {
                match until.left() {
                    Ok(left) => left,
                    Err(()) => return Err(Error::Timeout),
                }
            };
            if !until.nowait {
                rx.set_timeout(&self.sock, left)
                    .map_err(|e| self.broken(e))?;
            }
            match rx.fill(&self.sock, until.nowait) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {
                    if interruptible() {
                        return Err(Error::Interrupted);
                    }
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    if until.nowait {
                        return Err(Error::Empty);
                    }
                    // The receive timeout ran out (or was a little short): check the deadline.
                }
                Err(e) if e.kind() == io::ErrorKind::ConnectionReset => rx.eof = true,
                Err(e) => return Err(self.broken(e)),
            }
        }
    }

    /// Whether a message waits (or a receive would report end of file), waiting up to
    /// `timeout` for one.
    pub(crate) fn poll(&self, timeout: Duration) -> Result<bool> {
        let until = Until::new(Some(timeout));
        let mut rx = self.rx.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if rx.eof || rx.message(&self.name)?.is_some() {
                return Ok(true);
            }
            match rx.fill(&self.sock, true) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    let Ok(left) = until.left() else {
                        return Ok(false);
                    };
                    if timeout.is_zero() {
                        return Ok(false);
                    }
                    self.wait(false, left)?;
                }
                Err(e) if e.kind() == io::ErrorKind::ConnectionReset => rx.eof = true,
                Err(e) => return Err(self.broken(e)),
            }
        }
    }
}

/// How much longer than asked a receive timeout may be kept, to skip a `setsockopt`.
const TIMEOUT_SLACK: Duration = Duration::from_millis(20);

impl Rx {
    /// Keeps the socket's receive timeout close to `want`: a shorter one only costs an extra
    /// turn of the loop, so it is kept unless much shorter; a slightly longer one overshoots
    /// by at most [`TIMEOUT_SLACK`]. Repeated timed receives thus cost no `setsockopt` each.
    fn set_timeout(&mut self, sock: &DirectSocket, want: Option<Duration>) -> io::Result<()> {
        let keep = match (self.timeout, want) {
            (None, None) => true,
            (Some(cur), Some(want)) => cur <= want + TIMEOUT_SLACK && cur >= want / 2,
            _ => false,
        };
        if !keep {
            // Zero means "none" to the OS: never ask for less than a millisecond.
            let want = want.map(|w| w.max(Duration::from_millis(1)));
            sock.set_read_timeout(want)?;
            self.timeout = want;
        }
        Ok(())
    }

    /// Skips the wake frames at the front of the buffer.
    fn skip_wakes(&mut self, name: &str) -> Result<()> {
        while self.frame(name)? == Some(0) {
            self.start += HEADER_LEN;
        }
        Ok(())
    }

    /// The payload length of the whole message frame at `start` (wake frames skipped), if
    /// one is buffered.
    fn message(&mut self, name: &str) -> Result<Option<usize>> {
        self.skip_wakes(name)?;
        self.frame(name)
    }

    /// The payload length of the whole frame at `start`, if one is buffered.
    fn frame(&mut self, name: &str) -> Result<Option<usize>> {
        match frame::check(&self.buf[self.start..self.end], MAX_REPLY_FRAME) {
            Ok(Check::Ready { len }) => Ok(Some(len)),
            Ok(Check::Incomplete) => Ok(None),
            Err(e) => Err(Error::Protocol(format!(
                "pipe '{name}': direct message {e}"
            ))),
        }
    }

    /// One read into the buffer (made room for first); end of stream sets `eof`.
    fn fill(&mut self, sock: &DirectSocket, now: bool) -> io::Result<()> {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
        let avail = self.end - self.start;
        let need = if avail >= HEADER_LEN {
            let b = &self.buf[self.start..];
            HEADER_LEN + u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize
        } else {
            HEADER_LEN
        };
        if self.buf.len() - self.start < need.max(READ_BUFFER) || self.end == self.buf.len() {
            self.buf.copy_within(self.start..self.end, 0);
            self.end = avail;
            self.start = 0;
            if self.buf.len() < need.max(READ_BUFFER) {
                self.buf.resize(need.max(READ_BUFFER), 0);
            }
        }
        if self.end == self.buf.len() {
            // Full of whole frames (a sender draining while waiting for credit): grow, or
            // the read below would take no bytes and look like end of file.
            let len = self.buf.len() * 2;
            self.buf.resize(len, 0);
        }
        let (n, fds) = sock.recv(&mut self.buf[self.end..], now)?;
        // No message carries a descriptor in this version; any that came is closed here.
        drop(fds);
        if n == 0 {
            self.eof = true;
        }
        self.end += n;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two direct ends over a socketpair and a counters page, as the broker hands them out.
    #[cfg(target_os = "linux")]
    fn pair(capacity: u64) -> (DirectEnd, DirectEnd) {
        use std::os::fd::{FromRawFd, OwnedFd};
        let (x, y) = std::os::unix::net::UnixStream::pair().unwrap();
        // SAFETY: plain calls creating and sizing a memfd we own.
        let page = unsafe {
            let fd = libc::memfd_create(c"t".as_ptr(), libc::MFD_ALLOW_SEALING);
            assert!(fd >= 0);
            assert_eq!(libc::ftruncate(fd, 4096), 0);
            assert_eq!(
                libc::fcntl(
                    fd,
                    libc::F_ADD_SEALS,
                    libc::F_SEAL_SHRINK | libc::F_SEAL_GROW
                ),
                0
            );
            OwnedFd::from_raw_fd(fd)
        };
        let page2 = page.try_clone().unwrap();
        (
            DirectEnd::new(x.into(), page, End::A, capacity, "t").unwrap(),
            DirectEnd::new(y.into(), page2, End::B, capacity, "t").unwrap(),
        )
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_send_that_does_not_wait_stops_at_capacity_a_recv_makes_room_and_a_waiting_send_is_woken() {
        let (a, b) = pair(2);
        // Not waiting, as the started calls try first (`started_pipe.rs`).
        let now = || Until::new(Some(Duration::ZERO));
        let got = |d: &DirectEnd| d.recv(now(), |v| Ok(v.to_vec()));
        assert!(matches!(got(&b), Err(Error::Empty)));
        a.send(&[1], now()).unwrap();
        a.send(&[2], now()).unwrap();
        assert!(matches!(a.send(&[3], now()), Err(Error::Full)));
        assert_eq!(got(&b).unwrap(), [1]);
        a.send(&[3], now()).unwrap();
        assert!(matches!(a.send(&[4], now()), Err(Error::Full)));
        std::thread::scope(|s| {
            // Blocks until b takes a message: b's receive writes it a wake frame.
            let sender = s.spawn(|| a.send(&[4], Until::new(None)));
            while a.my_waiting().load(Ordering::SeqCst) == 0 {
                std::thread::yield_now();
            }
            assert_eq!(got(&b).unwrap(), [2]);
            sender.join().unwrap().unwrap();
        });
        drop(a);
        assert_eq!(got(&b).unwrap(), [3]);
        assert_eq!(got(&b).unwrap(), [4]);
        assert!(matches!(got(&b), Err(Error::Closed(_))));
    }

    /// Two threads sending on one end through an inbox of 1: every message arrives, none is
    /// sent past the bound, and neither sender sleeps through the wake frame meant for both.
    #[cfg(target_os = "linux")]
    #[test]
    fn two_sending_threads_share_the_credit() {
        let (a, b) = pair(1);
        // Checked after the threads are joined: a panic here would leave them blocked.
        let mut worst = 0;
        let received = std::thread::scope(|s| {
            for t in 0u8..2 {
                let a = &a;
                s.spawn(move || {
                    for i in 0u8..50 {
                        a.send(&[t, i], Until::new(None)).unwrap();
                    }
                });
            }
            let mut got = Vec::new();
            while got.len() < 100 {
                let v = b.recv(Until::new(None), |v| Ok(v.to_vec())).unwrap();
                // `received` first: only this thread moves it.
                let received = b.my_received().load(Ordering::SeqCst);
                let in_flight = a.my_sent().load(Ordering::SeqCst).wrapping_sub(received);
                worst = worst.max(in_flight);
                got.push(v);
            }
            got
        });
        assert!(worst <= 1, "{worst} in flight with capacity 1");
        for t in 0u8..2 {
            let mine: Vec<u8> = received
                .iter()
                .filter(|v| v[0] == t)
                .map(|v| v[1])
                .collect();
            assert_eq!(mine, (0u8..50).collect::<Vec<u8>>());
        }
    }

    #[test]
    fn message_values_fast_path_and_serde_agree() {
        // {"value": bin [1, 2, 3]}, as clients write it.
        let fast = [0x81, 0xa5, b'v', b'a', b'l', b'u', b'e', 0xc4, 3, 1, 2, 3];
        assert_eq!(message_value(&fast).unwrap(), &[1, 2, 3]);
        // {"x": 1, "value": bin [9]}: another layout goes through serde.
        let slow = [
            0x82, 0xa1, b'x', 0x01, 0xa5, b'v', b'a', b'l', b'u', b'e', 0xc4, 1, 9,
        ];
        assert_eq!(message_value(&slow).unwrap(), &[9]);
        // A bin that claims more bytes than there are is refused, not read past.
        let short = [0x81, 0xa5, b'v', b'a', b'l', b'u', b'e', 0xc4, 9, 1];
        assert!(message_value(&short).is_err());
    }
}
