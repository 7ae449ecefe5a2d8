//! A direct pipe end (docs/PROTOCOL.md §6.5.1): once the broker hands this end its socket,
//! messages go to and come from the other end's holder on it, peer to peer, framed as the
//! broker's replies are (a 4-byte big-endian length, then a map with `value`).
//!
//! The socket's kernel buffer is the inbox: a send waits while it is full, and the peer's
//! close (or death) reads as end of file after everything it sent. Sends and receives each
//! take their own lock, so one thread may wait in `recv` while another sends.

use std::io;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use xproc_protocol::frame::{self, Check, HEADER_LEN};

use crate::conn::{interruptible, MAX_REPLY_FRAME};
use crate::error::{Error, Result};
use crate::transport::{Descriptor, DirectSocket};

/// Bytes the receive buffer starts with; it grows for larger messages.
const READ_BUFFER: usize = 16 * 1024;

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

/// One end's socket and its buffers.
#[derive(Debug)]
pub(crate) struct DirectEnd {
    sock: DirectSocket,
    /// The pipe's name, for messages.
    name: String,
    rx: Mutex<Rx>,
    /// The encode buffer of sends.
    tx: Mutex<Vec<u8>>,
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
    /// Wraps the socket the broker handed over for pipe `name`.
    pub(crate) fn new(fd: Descriptor, name: &str) -> DirectEnd {
        DirectEnd {
            sock: DirectSocket::new(fd),
            name: name.to_string(),
            rx: Mutex::new(Rx {
                buf: vec![0; READ_BUFFER],
                start: 0,
                end: 0,
                eof: false,
                timeout: None,
            }),
            tx: Mutex::new(Vec::with_capacity(256)),
        }
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

    /// Sends one message (the bytes of one MessagePack value), waiting until `until` for room.
    pub(crate) fn send(&self, value: &[u8], until: Until) -> Result<()> {
        let mut buf = self.tx.lock().unwrap_or_else(PoisonError::into_inner);
        buf.clear();
        // The frame: length, then {"value": bin}.
        buf.extend_from_slice(&[0; HEADER_LEN]);
        buf.push(0x81);
        buf.extend_from_slice(b"\xa5value");
        rmp::encode::write_bin_len(&mut *buf, value.len() as u32)
            .map_err(|e| Error::Protocol(format!("cannot encode a message: {e}")))?;
        buf.extend_from_slice(value);
        let len = (buf.len() - HEADER_LEN) as u32;
        buf[..HEADER_LEN].copy_from_slice(&len.to_be_bytes());
        if until.deadline.is_none() && !until.nowait {
            return self.sock.send_all(&buf).map_err(|e| self.broken(e));
        }
        loop {
            match self.sock.send_now(&buf) {
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

    /// Receives the next message and hands its bytes to `f`; `Closed` once the peer closed
    /// and everything it sent was received.
    pub(crate) fn recv<R>(&self, until: Until, f: impl FnOnce(&[u8]) -> Result<R>) -> Result<R> {
        let mut rx = self.rx.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if let Some(len) = rx.frame(&self.name)? {
                let at = rx.start;
                rx.start += HEADER_LEN + len;
                let payload = &rx.buf[at + HEADER_LEN..at + HEADER_LEN + len];
                return f(message_value(payload)?);
            }
            if rx.eof {
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
            if rx.eof || rx.frame(&self.name)?.is_some() {
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
