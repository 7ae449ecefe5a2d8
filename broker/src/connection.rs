//! One client connection: the only code that holds a socket. It owns the input buffer (bytes
//! read, not yet decoded), the output buffer (replies encoded, not yet written), the peer
//! credentials and the handshake state.
//!
//! Reading and writing never block: [`Connection::read`] does one `read` and reports whether
//! the socket may hold more; [`Connection::flush`] does one `write` of everything pending.
//! Frames are decoded in place from the input buffer (no copy per request), and replies are
//! encoded straight into the output buffer.

use std::io::{self, Read, Write};

use xproc_protocol::frame::HEADER_LEN;
use xproc_protocol::{ErrorCode, RawRequest, ReplyFields, Request, RequestError, PROTOCOL_VERSION};

use crate::auth::Handshake;
use crate::state::{ConnKey, PeerCred};
use crate::transport::Link;

/// Starting size of a connection's input buffer: a whole batch of small pipelined requests
/// fits, so most turns need one `read`. A frame up to this size is always received; a larger
/// one must fit in the memory budget.
pub const INPUT_CHUNK: usize = 64 * 1024;

/// An idle connection's buffers shrink back to this after a burst of large frames.
const KEEP_CAPACITY: usize = 256 * 1024;

/// What one connection costs the broker before it sends anything large, not charged to the
/// memory budget (docs/SECURITY.md §5): an input and an output chunk, the `Connection` and
/// `Session` records, its logging span and its `hello` labels (estimated from their sizes,
/// with room for the allocator's rounding).
pub const CONNECTION_BASE: usize = 2 * INPUT_CHUNK + 4096;

/// Why a connection is being closed.
#[derive(Debug)]
pub enum Close {
    /// The peer closed its end.
    Eof,
    /// Reading or writing failed.
    Io(io::Error),
    /// The peer broke the protocol (the error reply says how).
    Violation,
    /// The peer stopped reading and its output passed the hard limit.
    Backlog,
}

/// Received bytes not yet decoded: `buf[start..end]`. Kept fully initialised so reads go
/// straight into it.
#[derive(Debug, Default)]
pub struct Input {
    buf: Vec<u8>,
    start: usize,
    end: usize,
}

impl Input {
    /// The undecoded bytes.
    pub fn data(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    /// Drops `n` decoded bytes from the front.
    pub fn consume(&mut self, n: usize) {
        self.start += n;
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
            if self.buf.len() > KEEP_CAPACITY {
                self.buf = vec![0; INPUT_CHUNK];
            }
        }
    }

    /// Makes room for the next read: moves undecoded bytes to the front and, when the buffer
    /// is full, grows it. A frame larger than the buffer is grown towards geometrically as
    /// its bytes arrive, never to its announced length up front: a peer that sends a length
    /// prefix and nothing else must not make the broker allocate `max_frame` for it (so the
    /// buffer is never more than about twice what has arrived, plus [`INPUT_CHUNK`]).
    fn make_room(&mut self) {
        if self.buf.is_empty() {
            self.buf = vec![0; INPUT_CHUNK];
        }
        // Bytes the frame at the front needs in all (just a header while none has arrived).
        let need = match self.data().get(..HEADER_LEN) {
            Some(h) => HEADER_LEN + u32::from_be_bytes([h[0], h[1], h[2], h[3]]) as usize,
            None => HEADER_LEN,
        };
        if self.start > 0 && (self.end == self.buf.len() || self.start + need > self.buf.len()) {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.end == self.buf.len() {
            // Full: either a frame larger than the buffer is arriving (grow towards it, at
            // most doubling), or only whole frames not yet decoded fill it (keep room to read
            // on).
            let doubled = self.buf.len() * 2;
            let len = if need > self.buf.len() {
                doubled.min(need)
            } else {
                doubled
            };
            self.buf.resize(len, 0);
        }
    }

    /// Bytes charged to the memory budget for this buffer: its allocation, or, once the
    /// header of a frame larger than that has arrived, the whole frame — reserved up front,
    /// so that many connections each receiving a large frame cannot together pass the
    /// budget while each grows.
    pub fn reserved(&self) -> usize {
        let need = match self.data().get(..HEADER_LEN) {
            Some(h) => HEADER_LEN + u32::from_be_bytes([h[0], h[1], h[2], h[3]]) as usize,
            None => 0,
        };
        self.buf.len().max(need)
    }
}

/// What one read did.
#[derive(Debug, PartialEq, Eq)]
pub enum Filled {
    /// `n` bytes arrived; `more` when the read filled the buffer, so the socket may hold more.
    Data {
        /// Bytes read.
        n: usize,
        /// The read filled the buffer: the socket may hold more.
        more: bool,
    },
    /// Nothing to read now.
    WouldBlock,
    /// The peer closed its end.
    Eof,
}

/// One client connection.
#[derive(Debug)]
pub struct Connection {
    stream: Link,
    /// Which connection this is.
    pub key: ConnKey,
    /// The peer's pid, uid and gid.
    pub peer: PeerCred,
    input: Input,
    output: Vec<u8>,
    /// Bytes of `output` already written.
    sent: usize,
    hello_done: bool,
    /// Set when the connection is to be closed at the end of this loop turn.
    pub closing: Option<Close>,
    /// On the event loop's list of connections to flush this turn.
    pub dirty: bool,
    /// Registered for write readiness (output is pending).
    pub writable: bool,
    /// Reading paused: output is above the soft limit.
    pub paused: bool,
    /// The socket may hold bytes not read yet. Readiness is edge-triggered, so when a turn's
    /// budget stops reading before `WouldBlock`, this is the only record that more is there.
    pub readable: bool,
    /// A hang-up was reported: read until `WouldBlock` or EOF, even after a short read.
    pub hup: bool,
    /// On the event loop's ready list (to be read and handled next turn).
    pub queued: bool,
    /// Bytes this connection has charged to the broker's `buffers` (its last
    /// [`footprint`](Self::footprint)).
    pub charged: usize,
    /// The connection's logging span (conn id, pid, uid).
    pub span: tracing::Span,
    /// A TCP peer's address and, once proved, its key; `None` for the local socket.
    pub remote: Option<Remote>,
    /// A TCP peer's handshake while it is in progress: no frame is read as a request until it
    /// is done (docs/PROTOCOL.md §1.1).
    pub auth: Option<Handshake>,
    /// Bytes written so far: the heartbeat compares it between rounds to find idle links.
    pub written: u64,
    /// `written` at the last heartbeat round.
    pub heartbeat_mark: u64,
}

/// Who a TCP peer is: where it connects from and which key it proved.
#[derive(Debug, Clone)]
pub struct Remote {
    /// Its address.
    pub addr: std::net::SocketAddr,
    /// The name of the key it proved; `None` during the handshake.
    pub key: Option<std::rc::Rc<str>>,
}

impl Connection {
    /// Wraps an accepted, nonblocking stream.
    pub fn new(stream: Link, key: ConnKey, peer: PeerCred) -> Self {
        let span = match stream.peer_addr() {
            Some(addr) => tracing::info_span!("conn", id = key.id, %addr),
            None => tracing::info_span!("conn", id = key.id, pid = peer.pid, uid = peer.uid),
        };
        Connection {
            stream,
            key,
            peer,
            input: Input::default(),
            output: Vec::new(),
            sent: 0,
            hello_done: false,
            closing: None,
            dirty: false,
            writable: false,
            paused: false,
            readable: false,
            hup: false,
            queued: false,
            charged: 0,
            span,
            remote: None,
            auth: None,
            written: 0,
            heartbeat_mark: 0,
        }
    }

    /// The socket, for (de)registering it with the event loop.
    pub fn stream(&mut self) -> &mut Link {
        &mut self.stream
    }

    /// Appends bytes that are already framed (the handshake's frames, a heartbeat).
    pub fn push_raw(&mut self, frames: &[u8]) {
        self.output.extend_from_slice(frames);
    }

    /// One `read` into the input buffer.
    pub fn read(&mut self) -> io::Result<Filled> {
        self.input.make_room();
        let space = &mut self.input.buf[self.input.end..];
        let room = space.len();
        loop {
            return match self.stream.read(space) {
                Ok(0) => Ok(Filled::Eof),
                Ok(n) => {
                    self.input.end += n;
                    // A short read drained the socket; an edge-triggered poll reports any
                    // byte that arrives after it (except where the transport says otherwise).
                    let more = n == room || !self.stream.short_read_drains();
                    Ok(Filled::Data { n, more })
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(Filled::WouldBlock),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => Err(e),
            };
        }
    }

    /// Lends the input buffer out, so its frames can be handled while replies are appended to
    /// this and other connections. Give it back with [`restore_input`](Self::restore_input).
    pub fn take_input(&mut self) -> Input {
        std::mem::take(&mut self.input)
    }

    /// Gives back the input buffer lent by [`take_input`](Self::take_input).
    pub fn restore_input(&mut self, input: Input) {
        self.input = input;
    }

    /// Reads one request payload through the handshake gate (docs/PROTOCOL.md §6.1). Before
    /// `hello`, only a valid `hello` that speaks our version passes; anything else is refused
    /// fatally (reply, then close): `HelloRequired` for any other op, unknown ones included,
    /// and the hello's own error (`BadRequest`, `BadVersion`) for a bad one. After it, a
    /// second `hello` is refused with `BadRequest` and changes nothing.
    pub fn admit<'p>(&mut self, payload: &'p [u8]) -> Result<(u64, Request<'p>), RequestError> {
        let raw = RawRequest::read(payload)?;
        let refuse = |code, message: String, fatal| RequestError {
            id: raw.id,
            code,
            message,
            fatal,
        };
        let is_hello = raw.op() == Some("hello");
        if !self.hello_done && !is_hello {
            return Err(refuse(
                ErrorCode::HelloRequired,
                "the first request on a connection must be hello".into(),
                true,
            ));
        }
        if self.hello_done && is_hello {
            return Err(refuse(
                ErrorCode::BadRequest,
                format!(
                    "hello was already done on this connection (conn_id {})",
                    self.key.id
                ),
                false,
            ));
        }
        let req = raw.check().map_err(|e| RequestError {
            fatal: !self.hello_done,
            ..e
        })?;
        if let Request::Hello { version, .. } = req {
            if version != PROTOCOL_VERSION {
                return Err(refuse(
                    ErrorCode::BadVersion,
                    format!(
                        "protocol version {version} is not spoken here; this broker speaks \
                         version {PROTOCOL_VERSION}"
                    ),
                    true,
                ));
            }
            self.hello_done = true;
        }
        Ok((raw.id, req))
    }

    /// Appends a reply. A reply above `max_frame` (a huge snapshot, a `dict.get_many` of
    /// large values) is replaced by a `TooLarge` error, since the client would refuse the
    /// frame anyway; its encoding stops at the limit, so finding out costs at most
    /// `max_frame` bytes. Snapshot handlers refuse before encoding (their size is summed
    /// cheaply); this is the backstop for every other reply.
    pub fn push_reply(&mut self, reply: &ReplyFields<'_>, max_frame: usize) {
        if let Err(e) = reply.encode_bounded(&mut self.output, max_frame) {
            let message = format!(
                "{e}; read large dicts and object lists in pages (dict.scan, scan) and large \
                 values one at a time"
            );
            ReplyFields::err(reply.id, ErrorCode::TooLarge, &message).encode_into(&mut self.output);
        }
    }

    /// Bytes waiting to be written.
    pub fn pending(&self) -> usize {
        self.output.len() - self.sent
    }

    /// Bytes the output buffer holds: pending ones and written ones not yet dropped (after
    /// a [`flush`](Self::flush), fewer than twice the pending ones).
    pub fn output_len(&self) -> usize {
        self.output.len()
    }

    /// One `write` of everything pending. Written bytes are dropped from the front of the
    /// buffer once they are at least as many as those still pending (so each byte is moved
    /// at most once on average), and a buffer much larger than what it holds gives its
    /// memory back: a client that reads steadily but never lets the buffer drain completely
    /// must not grow it without bound.
    pub fn flush(&mut self) -> io::Result<()> {
        while self.pending() > 0 {
            match self.stream.write(&self.output[self.sent..]) {
                Ok(n) => {
                    self.sent += n;
                    self.written += n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
            break;
        }
        if self.pending() == 0 {
            self.output.clear();
            self.sent = 0;
            // Drained: back to the base (which the memory budget does not charge).
            if self.output.capacity() > INPUT_CHUNK {
                self.output.shrink_to(INPUT_CHUNK);
            }
        } else if self.sent >= self.pending() {
            self.output.drain(..self.sent);
            self.sent = 0;
        }
        let keep = (2 * self.output.len()).max(KEEP_CAPACITY);
        if self.output.capacity() > 2 * keep {
            self.output.shrink_to(keep);
        }
        Ok(())
    }

    /// What this connection makes the broker hold beyond its base, for the memory budget:
    /// the input's [`reserved`](Input::reserved) bytes and the output's allocation, each
    /// beyond [`INPUT_CHUNK`]. The base (two chunks and the connection's records, about
    /// [`CONNECTION_BASE`] bytes) is not charged: every connection has it, `max_clients`
    /// bounds it, and a full budget must not stop a consumer from connecting to drain it.
    pub fn footprint(&self) -> usize {
        self.input.reserved().saturating_sub(INPUT_CHUNK)
            + self.output.capacity().saturating_sub(INPUT_CHUNK)
    }

    /// Bytes the input buffer has reserved (see [`Input::reserved`]).
    pub fn input_reserved(&self) -> usize {
        self.input.reserved()
    }
}

/// Turns away a connection over `max_clients`: one best-effort error frame, then close.
pub fn refuse(mut stream: impl Write, code: ErrorCode, message: &str) {
    let mut out = Vec::new();
    ReplyFields::err(0, code, message).encode_into(&mut out);
    // A fresh socket's send buffer is empty, so this small write does not block.
    let _ = stream.write(&out);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_grows_as_a_large_frame_arrives_and_compacts() {
        let mut input = Input::default();
        input.make_room();
        assert_eq!(input.buf.len(), INPUT_CHUNK);
        // A header announcing 300 KiB arrives after some consumed bytes: the buffer only
        // compacts, it does not grow for bytes that have not arrived.
        input.buf[10..14].copy_from_slice(&(300u32 * 1024).to_be_bytes());
        input.start = 10;
        input.end = 14;
        input.make_room();
        assert_eq!(input.start, 0);
        assert_eq!(input.data().len(), 4);
        assert_eq!(input.buf.len(), INPUT_CHUNK);
        // As the payload arrives and fills the buffer, it doubles, up to the frame's size.
        let mut sizes = Vec::new();
        while input.end < HEADER_LEN + 300 * 1024 {
            input.end = input.buf.len().min(HEADER_LEN + 300 * 1024);
            if input.end < HEADER_LEN + 300 * 1024 {
                input.make_room();
                sizes.push(input.buf.len());
            }
        }
        assert_eq!(
            sizes,
            vec![2 * INPUT_CHUNK, 4 * INPUT_CHUNK, HEADER_LEN + 300 * 1024]
        );
        input.consume(HEADER_LEN + 300 * 1024);
        assert_eq!((input.start, input.end), (0, 0));
        assert_eq!(input.buf.len(), INPUT_CHUNK);
    }
}
