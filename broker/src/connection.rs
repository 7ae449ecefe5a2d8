//! One client connection: the only code that holds a socket. It owns the input buffer (bytes
//! read, not yet decoded), the output buffer (replies encoded, not yet written), the peer
//! credentials and the handshake state.
//!
//! Reading and writing never block: [`Connection::read`] does one `read` and reports whether
//! the socket may hold more; [`Connection::flush`] does one `write` of everything pending.
//! Frames are decoded in place from the input buffer (no copy per request), and replies are
//! encoded straight into the output buffer.

use std::collections::VecDeque;
use std::io::{self, Write};
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};

use xproc_protocol::frame::HEADER_LEN;
use xproc_protocol::{ErrorCode, RawRequest, ReplyFields, Request, RequestError, PROTOCOL_VERSION};

use crate::auth::Handshake;
use crate::rings::{RingError, Rings};
use crate::state::{ConnKey, PeerCred};
use crate::stored::{self, Shared, SharedError, Stored};
use crate::transport::{Descriptor, Link};

/// Most descriptors one frame (one `sendmsg`) may carry (docs/PROTOCOL.md §1.3, §8). A value
/// is one descriptor, so this is room for a few in a batch; the `hello` reply says it.
pub const MAX_FDS_PER_FRAME: usize = 8;

/// Most descriptors one connection may have received whose frame has not been decoded yet.
/// A well-behaved client has at most two frames' worth in flight (one read can finish one
/// frame and bring the next one's descriptors); more is a client spraying descriptors.
pub const MAX_FDS_PENDING: usize = 2 * MAX_FDS_PER_FRAME;

/// Most received descriptors the whole broker holds unclaimed at once, across connections.
/// The descriptor table is the process's, shared with accepted sockets: without this bound,
/// `max_clients` connections could together fill it. The broker raises `RLIMIT_NOFILE` by
/// this much at start.
pub const MAX_FDS_HELD: usize = 256;

/// Ops whose value may come as a sealed memfd (docs/PROTOCOL.md §4.1).
pub const TAKES_SHARED: &[&str] = &["queue.put", "dict.set", "pipe.send"];

/// Ops whose reply may carry a value in the down ring (`ring_min`, docs/PROTOCOL.md §4.2).
pub const TAKES_RING_REPLY: &[&str] = &["queue.get", "dict.get", "pipe.recv"];

/// A request the connection let through: its id, the checked request, and its value when it
/// came as a sealed memfd.
pub type Admitted<'p> = (u64, Request<'p>, Option<Stored>);

/// Received descriptors the broker holds, unclaimed, across all connections.
static FDS_HELD: AtomicUsize = AtomicUsize::new(0);

/// A received descriptor, counted against [`MAX_FDS_HELD`] while it lives; dropping it closes
/// it and gives its place back, whichever path drops it (a refused request, a closed
/// connection).
#[derive(Debug)]
pub struct Held(Option<Descriptor>);

impl Held {
    fn new(fd: Descriptor) -> Held {
        FDS_HELD.fetch_add(1, Ordering::Relaxed);
        Held(Some(fd))
    }

    /// The descriptor, no longer counted as received-and-unhandled (a request took it).
    fn take(mut self) -> Option<Descriptor> {
        self.0.take()
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        FDS_HELD.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Descriptors to pass with a reply frame: a memfd value shared with the object holding it,
/// or ones the reply owns (a direct pipe end's socket and counters page), closed once written.
#[derive(Debug)]
enum OutFd {
    Shared(Rc<Shared>),
    Owned(Vec<Descriptor>),
}

impl OutFd {
    fn fds(&self) -> &[Descriptor] {
        match self {
            OutFd::Shared(s) => std::slice::from_ref(s.fd()),
            OutFd::Owned(fds) => fds,
        }
    }
}

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
/// straight into it. With them, the descriptors received and not yet claimed by a frame.
#[derive(Debug, Default)]
pub struct Input {
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// Stream offset of `buf[start]`: how many bytes were decoded before it.
    offset: u64,
    /// Descriptors not yet claimed, oldest first, each tagged with the stream offset of the
    /// last byte of the read that brought it. The descriptors travel with the first byte of
    /// their frame, and the kernel ends a read right after bytes that carried descriptors,
    /// so that byte lies in their frame: a frame `[s, e)` owns the descriptors tagged below
    /// `e` (docs/PROTOCOL.md §1.3). Boxed, and made only when a descriptor first comes: the
    /// input is moved out and back for every batch of frames handled, and a small one moves
    /// cheaper (every client pays for this field, few ever send a descriptor).
    // Boxed on purpose: the point is the size of `Input` (8 bytes here against 32), not
    // where the queue's items live.
    #[allow(clippy::box_collection)]
    fds: Option<Box<VecDeque<(u64, Held)>>>,
}

impl Input {
    /// The undecoded bytes.
    pub fn data(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    /// The descriptors that came with the frame of `len` bytes (header included) at the
    /// front.
    pub fn frame_fds(&mut self, len: usize) -> Vec<Held> {
        let mut fds = Vec::new();
        let Some(held) = self.fds.as_mut() else {
            return fds;
        };
        let end = self.offset + len as u64;
        while held.front().is_some_and(|(at, _)| *at < end) {
            fds.extend(held.pop_front().map(|(_, fd)| fd));
        }
        fds
    }

    /// Drops `n` decoded bytes from the front.
    pub fn consume(&mut self, n: usize) {
        self.offset += n as u64;
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
    /// The peer sent descriptors past a limit; the reply (`LimitExceeded`) says which. The
    /// connection is to be closed: which frame the dropped descriptors belonged to is lost.
    Refused(String),
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
    /// Memfd values to pass with replies in `output`, oldest first: each with the stream
    /// offsets `[start, end)` of its reply frame (the descriptor goes with the frame's first
    /// byte, in a `sendmsg` holding that frame only: docs/PROTOCOL.md §1.3).
    out_fds: VecDeque<(u64, u64, OutFd)>,
    /// The sizes of the memfd values in `out_fds`, summed: charged to the memory budget while
    /// their replies wait, as the same values inline would be (docs/PROTOCOL.md §8).
    out_fd_bytes: usize,
    hello_done: bool,
    /// `hello` granted descriptor passing (docs/PROTOCOL.md §1.3).
    pub fds: bool,
    /// `hello` granted rings (docs/PROTOCOL.md §4.2).
    pub rings_granted: bool,
    /// The rings, once `ring.open` made them.
    pub rings: Option<Box<Rings>>,
    /// Requests with `ring_min` whose reply is not sent yet: `(id, ring_min)`. Empty on every
    /// connection that never asked (the reply path tests that first).
    pub ring_ids: Vec<(u64, u64)>,
    /// The request just admitted has its value in the up ring: `(ring_off, value_len)`,
    /// bounds-checked, not copied yet (the event loop copies it: into the broker's storage,
    /// or straight into a waiting consumer's down ring).
    pub ring_put: Option<(usize, usize)>,
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
    /// is done (docs/PROTOCOL.md §1.2).
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
            out_fds: VecDeque::new(),
            out_fd_bytes: 0,
            hello_done: false,
            fds: false,
            rings_granted: false,
            rings: None,
            ring_ids: Vec::new(),
            ring_put: None,
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

    /// One `read` into the input buffer, with the descriptors that come with it.
    pub fn read(&mut self) -> io::Result<Filled> {
        self.input.make_room();
        let space = &mut self.input.buf[self.input.end..];
        let room = space.len();
        loop {
            return match self.stream.read_with_fds(space) {
                Ok(r) if r.n == 0 => Ok(Filled::Eof),
                Ok(r) => {
                    let n = r.n;
                    if r.truncated || !r.fds.is_empty() {
                        if let Some(why) = self.keep_fds(n, r.fds, r.truncated) {
                            return Ok(Filled::Refused(why));
                        }
                    }
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

    /// Queues descriptors that arrived with the `n` bytes just read (not yet counted in the
    /// input), tagged with the last of those bytes. `Some(reason)` when a limit refuses them
    /// (they are closed as they drop).
    fn keep_fds(&mut self, n: usize, fds: Vec<Descriptor>, truncated: bool) -> Option<String> {
        if truncated {
            return Some(format!(
                "too many descriptors in one message: at most {MAX_FDS_PER_FRAME} \
                 (MAX_FDS_PER_FRAME) may travel with a frame"
            ));
        }
        let pending = self.input.fds.as_ref().map_or(0, |h| h.len()) + fds.len();
        if pending > MAX_FDS_PENDING {
            return Some(format!(
                "{pending} descriptors received ahead of their frames: at most \
                 {MAX_FDS_PENDING} (MAX_FDS_PENDING) may wait on one connection"
            ));
        }
        if FDS_HELD.load(Ordering::Relaxed) + fds.len() > MAX_FDS_HELD {
            return Some(format!(
                "the broker holds {MAX_FDS_HELD} (MAX_FDS_HELD) received descriptors not yet \
                 handled; send descriptors again later"
            ));
        }
        let last = self.input.offset + (self.input.end - self.input.start + n - 1) as u64;
        self.input
            .fds
            .get_or_insert_with(Default::default)
            .extend(fds.into_iter().map(|fd| (last, Held::new(fd))));
        None
    }

    /// Lends the input buffer out, so its frames can be handled while replies are appended to
    /// this and other connections. Give it back with [`restore_input`](Self::restore_input).
    #[inline]
    pub fn take_input(&mut self) -> Input {
        std::mem::take(&mut self.input)
    }

    /// Gives back the input buffer lent by [`take_input`](Self::take_input).
    #[inline]
    pub fn restore_input(&mut self, input: Input) {
        let lent = std::mem::replace(&mut self.input, input);
        // What `take_input` left holds nothing (nothing reads into a connection whose input
        // is lent out), and skipping its drop glue saves ~40 instructions per batch of
        // frames; should it ever hold something, it is dropped as usual.
        if lent.buf.capacity() == 0 && lent.fds.is_none() {
            std::mem::forget(lent);
        }
    }

    /// Reads one request payload through the handshake gate (docs/PROTOCOL.md §6.1). Before
    /// `hello`, only a valid `hello` that speaks our version passes; anything else is refused
    /// fatally (reply, then close): `HelloRequired` for any other op, unknown ones included,
    /// and the hello's own error (`BadRequest`, `BadVersion`) for a bad one. After it, a
    /// second `hello` is refused with `BadRequest` and changes nothing.
    ///
    /// `fds` are the descriptors that came with the frame. The one a request may bring is
    /// the value of an op that takes one as a sealed memfd (`value_len` instead of `value`,
    /// docs/PROTOCOL.md §4.1), checked here (seals, size, at most `max_value` bytes, well
    /// formed) and returned as the [`Stored`] value. Any other is refused (`BadRequest`,
    /// fatal before `hello`), saying why — descriptor passing not negotiated, a count that
    /// does not match the frame's `fds` field, an op that takes none — and closed as it drops
    /// (§1.3).
    pub fn admit<'p>(
        &mut self,
        payload: &'p [u8],
        fds: Vec<Held>,
        max_value: usize,
    ) -> Result<Admitted<'p>, RequestError> {
        let raw = RawRequest::read(payload)?;
        let refuse = |code, message: String, fatal| RequestError {
            id: raw.id,
            code,
            message,
            fatal,
        };
        // Read once: each read of a str field re-checks its UTF-8.
        let op = raw.op().unwrap_or("");
        let is_hello = op == "hello";
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
        let mut req = raw.check().map_err(|e| RequestError {
            fatal: !self.hello_done,
            ..e
        })?;
        // `fds` and `value_len` (a memfd value in place of `value`, on an op that takes one)
        // are absent from nearly every request: two slot tests say so, and nothing else is
        // looked at then.
        let (announced, shared_len, from_ring) = if raw.mentions_descriptors() {
            let announced = raw.fds().map_err(|e| RequestError {
                fatal: !self.hello_done,
                ..e
            })?;
            let shared_len = raw.value_len().filter(|_| TAKES_SHARED.contains(&op));
            // Ring fields (§4.2), looked at only here: a request without any of these fields
            // costs what it did before rings existed.
            let from_ring = self
                .admit_ring(&raw, op, shared_len, max_value)
                .map_err(|(code, message)| refuse(code, format!("{op}: {message}"), false))?;
            (announced, shared_len, from_ring)
        } else {
            (0, None, false)
        };
        let mut shared = None;
        if from_ring {
            if announced > 0 || !fds.is_empty() {
                self.ring_put = None;
                return Err(refuse(
                    ErrorCode::BadRequest,
                    format!(
                        "{op} has its value in the up ring (ring_off) and descriptors too; \
                         they were closed (docs/PROTOCOL.md §4.2)"
                    ),
                    false,
                ));
            }
        } else if announced > 0 || !fds.is_empty() {
            let message = if !self.fds && !fds.is_empty() {
                format!(
                    "{} descriptor(s) arrived with this {op} request, but this connection did \
                     not negotiate descriptor passing (hello caps [\"fds\"], \
                     docs/PROTOCOL.md §1.3); they were closed",
                    fds.len()
                )
            } else if announced != fds.len() as u64 {
                format!(
                    "the {op} request announces {announced} descriptor(s) (field fds) but {} \
                     arrived with its frame; they were closed",
                    fds.len()
                )
            } else if let (Some(len), 1, true) = (shared_len, fds.len(), self.hello_done) {
                let fd = fds.into_iter().next().and_then(Held::take);
                match fd.map(|fd| stored::take(fd, len, max_value)) {
                    Some(Ok(v)) => {
                        shared = Some(v);
                        String::new()
                    }
                    Some(Err(e)) => {
                        let code = match e {
                            SharedError::Invalid(_) => ErrorCode::InvalidValue,
                            SharedError::TooLarge { .. } => ErrorCode::TooLarge,
                            SharedError::Full => ErrorCode::LimitExceeded,
                            SharedError::Seal(_) => ErrorCode::BadRequest,
                        };
                        return Err(refuse(code, format!("{op}: {e}"), false));
                    }
                    None => String::new(),
                }
            } else if shared_len.is_some() {
                format!(
                    "{op} takes one descriptor, its value (value_len, docs/PROTOCOL.md §4.1); \
                     {} came; they were closed",
                    fds.len()
                )
            } else {
                format!("{op} takes no descriptors; they were closed")
            };
            if shared.is_none() {
                return Err(refuse(ErrorCode::BadRequest, message, !self.hello_done));
            }
        } else if shared_len.is_some() {
            return Err(refuse(
                ErrorCode::BadRequest,
                format!(
                    "{op} has value_len but no value came with it: send the sealed memfd with \
                     the frame (fds: 1), or the value inline in value (docs/PROTOCOL.md §4.1)"
                ),
                false,
            ));
        }
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
        if let (
            true,
            Request::Hello {
                fds: Some(asked), ..
            },
        ) = (is_hello, &mut req)
        {
            // What the client asked becomes what is granted: descriptors cross a local Unix
            // socket only.
            *asked = *asked && self.stream.passes_fds();
            self.fds = *asked;
        }
        Ok((raw.id, req, shared))
    }

    /// The ring fields of a request that mentions any (docs/PROTOCOL.md §4.2): frees the
    /// regions in `ring_free`, records `ring_min` for the reply, and copies a value named by
    /// `ring_off` out of the up ring (returned, validated). `shared_len` is the request's
    /// `value_len` when its op takes a value that way and it has no `value`.
    fn admit_ring(
        &mut self,
        raw: &RawRequest<'_>,
        op: &str,
        shared_len: Option<u64>,
        max_value: usize,
    ) -> Result<bool, (ErrorCode, String)> {
        let bad = |e: RequestError| (e.code, e.message);
        let off = raw.ring_off().map_err(bad)?;
        let min = raw.ring_min().map_err(bad)?;
        let free = raw.ring_free().map_err(bad)?;
        if off.is_none() && min.is_none() && free.is_none() {
            return Ok(false);
        }
        let rings = match (&mut self.rings, self.rings_granted) {
            (Some(r), _) => r,
            (None, false) => {
                return Err((ErrorCode::BadRequest, RingError::NotGranted.to_string()))
            }
            (None, true) => return Err((ErrorCode::BadRequest, RingError::NotOpen.to_string())),
        };
        let ring_err = |e: RingError| (e.code(), e.to_string());
        if let Some(offs) = free {
            rings.free(&offs).map_err(ring_err)?;
        }
        if min.is_some() && !TAKES_RING_REPLY.contains(&op) {
            return Err((
                ErrorCode::BadRequest,
                "ring_min is taken by queue.get, dict.get and pipe.recv only".into(),
            ));
        }
        let Some(off) = off else {
            if let Some(min) = min {
                self.ring_ids.push((raw.id, min));
            }
            return Ok(false);
        };
        if !TAKES_SHARED.contains(&op) {
            return Err((
                ErrorCode::BadRequest,
                "ring_off is taken by queue.put, dict.set and pipe.send only".into(),
            ));
        }
        let Some(len) = shared_len else {
            return Err((
                ErrorCode::BadRequest,
                "ring_off needs value_len and no value (the value is either inline or in the \
                 up ring)"
                    .into(),
            ));
        };
        let end = rings.check_up(off, len, max_value).map_err(ring_err)?;
        self.ring_put = Some((off as usize, len as usize));
        rings.note_up(end);
        Ok(true)
    }

    /// Copies the value [`ring_put`](Self::ring_put) named out of the up ring into the
    /// broker's storage and validates the copy (the path when no handoff applies).
    pub fn take_ring_put(&mut self, off: usize, len: usize) -> Result<Stored, (ErrorCode, String)> {
        let rings = self
            .rings
            .as_mut()
            .expect("ring_put is set only with rings");
        rings
            .take_up(off as u64, len as u64, usize::MAX)
            .map(Stored::Inline)
            .map_err(|e| (e.code(), e.to_string()))
    }

    /// Opens this connection's rings of `size` bytes each (`ring.open`) and returns the
    /// descriptors to hand over, up ring first.
    pub fn open_rings(&mut self, size: usize) -> Result<Vec<Descriptor>, (ErrorCode, String)> {
        if !self.rings_granted {
            return Err((ErrorCode::BadRequest, RingError::NotGranted.to_string()));
        }
        if self.rings.is_some() {
            return Err((ErrorCode::BadRequest, RingError::AlreadyOpen.to_string()));
        }
        let (rings, up, down) = Rings::open(size).map_err(|e| {
            (
                ErrorCode::LimitExceeded,
                format!("cannot create the rings: {e}; values go inline or as memfds"),
            )
        })?;
        self.rings = Some(Box::new(rings));
        Ok(vec![up, down])
    }

    /// Whether the reply to request `id` may carry a value of `len` bytes in the down ring,
    /// forgetting the request's `ring_min` either way (its reply is being sent).
    pub fn ring_reply(&mut self, id: u64, len: usize) -> bool {
        let Some(i) = self.ring_ids.iter().position(|&(i, _)| i == id) else {
            return false;
        };
        let (_, min) = self.ring_ids.swap_remove(i);
        len as u64 >= min && self.rings.is_some()
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

    /// Appends a reply whose value is the memfd `shared` (`value_len` and `fds: 1` set in
    /// `reply`); the descriptor is passed when the frame is written.
    pub fn push_reply_shared(&mut self, reply: &ReplyFields<'_>, shared: &Rc<Shared>) {
        let base = self.written - self.sent as u64;
        let start = base + self.output.len() as u64;
        reply.encode_into(&mut self.output);
        let end = base + self.output.len() as u64;
        self.out_fd_bytes += shared.size();
        self.out_fds
            .push_back((start, end, OutFd::Shared(shared.clone())));
    }

    /// Appends a reply (with `fds` set) that hands over `fds`, which are closed here once
    /// written (a direct pipe end's socket and counters page, docs/PROTOCOL.md §6.5.1): after
    /// the handoff the broker keeps no copy of the socket, so the holder's close or death is
    /// what the peer sees.
    pub fn push_reply_fds(&mut self, reply: &ReplyFields<'_>, fds: Vec<Descriptor>) {
        let base = self.written - self.sent as u64;
        let start = base + self.output.len() as u64;
        reply.encode_into(&mut self.output);
        let end = base + self.output.len() as u64;
        self.out_fds.push_back((start, end, OutFd::Owned(fds)));
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
    ///
    /// A reply that passes a descriptor is written by a `sendmsg` of its own, so the write
    /// stops at frame boundaries where descriptors start or end and goes on while whole.
    pub fn flush(&mut self) -> io::Result<()> {
        while self.pending() > 0 {
            let base = self.written - self.sent as u64;
            let at = base + self.sent as u64;
            let (until, fd) = match self.out_fds.front() {
                Some((start, end, out)) if *start == at => ((end - base) as usize, Some(out.fds())),
                Some((start, _, _)) => ((start - base) as usize, None),
                None => (self.output.len(), None),
            };
            let chunk = &self.output[self.sent..until];
            let wrote = match fd {
                Some(fds) => self.stream.write_with_fds(chunk, fds),
                None => self.stream.write(chunk),
            };
            match wrote {
                Ok(n) => {
                    if fd.is_some() {
                        // The descriptor went with the first byte; the rest of the frame, if
                        // this write was short, follows in plain writes.
                        // Popped whatever it holds; a memfd value's charge ends here.
                        if let Some((_, _, OutFd::Shared(shared))) = self.out_fds.pop_front() {
                            self.out_fd_bytes -= shared.size();
                        }
                    }
                    self.sent += n;
                    self.written += n as u64;
                    if n < chunk.len() {
                        break;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
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
    /// beyond [`INPUT_CHUNK`], and the size of every memfd value whose reply waits to be
    /// written (its descriptor keeps the value alive whoever else lets it go; an inline reply
    /// of the same value would be charged as output). The base (two chunks and the connection's records, about
    /// [`CONNECTION_BASE`] bytes) is not charged: every connection has it, `max_clients`
    /// bounds it, and a full budget must not stop a consumer from connecting to drain it.
    pub fn footprint(&self) -> usize {
        self.input.reserved().saturating_sub(INPUT_CHUNK)
            + self.output.capacity().saturating_sub(INPUT_CHUNK)
            + self.out_fd_bytes
            + self.rings.as_ref().map_or(0, |r| r.charged())
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
