//! [`Client`]: connecting (`hello`), the request/reply helper every handle uses, the raw
//! [`Client::call`] escape hatch, admin operations, and the constructors of every handle.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;
use serde::Serialize;
use xproc_protocol::{
    ClientInfo, End, Info, Kind, Limits, ObjectSummary, ReplyFields, RequestFields,
    CAP_DIRECT_PIPES, CAP_FDS, CAP_RINGS, PROTOCOL_VERSION,
};

use crate::barrier::Barrier;
use crate::codec::Wait;
use crate::condition::Condition;
use crate::conn::Conn;
use crate::dict::{Dict, RawDict};
use crate::endpoint::{authkey_from_env, default_socket_path, Endpoint};
use crate::error::{Error, Result};
use crate::event::Event;
use crate::lock::Lock;
use crate::pipe::{Pipe, PipeOptions, RawPipe};
use crate::queue::{Queue, QueueOptions, RawQueue};
use crate::rings::{DownRegion, Rings};
use crate::semaphore::Semaphore;
use crate::transport::Stream;
use crate::valuebuf::SharedReply;

/// Values of at least this many bytes travel as sealed memfds on connections that negotiated
/// descriptor passing (docs/PROTOCOL.md §4.1); smaller ones go inline, where one copy through
/// the socket costs less than creating, sealing and mapping a memfd. Measured with
/// `bench/` (docs/BENCHMARKS.md, "large values"); `$XPROC_SHARED_VALUE_MIN` overrides it.
pub const SHARED_VALUE_MIN: usize = 160 * 1024;

/// The threshold in force: [`SHARED_VALUE_MIN`], or `$XPROC_SHARED_VALUE_MIN` (bytes) when set,
/// read once (for measuring the crossover, and for a machine where it lies elsewhere).
fn shared_value_min() -> usize {
    static MIN: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *MIN.get_or_init(|| {
        std::env::var("XPROC_SHARED_VALUE_MIN")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(SHARED_VALUE_MIN)
    })
}

/// How long [`Client::connect`] waits for the broker's `hello` reply by default.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Options for [`Client::connect_with`]. `ConnectOptions::default()` gives the defaults each
/// field documents.
///
/// # Example
///
/// ```no_run
/// use std::time::Duration;
///
/// # fn main() -> xproc::Result<()> {
/// let client = xproc::Client::connect_with(xproc::ConnectOptions {
///     path: Some("/run/xproc/xproc.sock".into()),
///     client_name: "ingest-7".into(),
///     connect_timeout: Duration::from_secs(2),
///     ..Default::default()
/// })?;
/// # let _ = client; Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// The broker's socket, or `tcp://HOST:PORT` for a broker listening on TCP; `None`
    /// (default): [`default_socket_path`] (where `$XPROC_SOCKET` may be `tcp://...` too).
    pub path: Option<PathBuf>,
    /// The authkey for a `tcp://` or `tls://` endpoint (docs/PROTOCOL.md §1.2). `None`
    /// (default): read from the file `$XPROC_AUTHKEY_FILE` names. Unused on the local socket.
    pub authkey: Option<Vec<u8>>,
    /// For a `tls://` endpoint: a PEM file of the CA certificates the broker's certificate
    /// must chain to. `None` (default): the file `$XPROC_TLS_CA` names; a `tls://` endpoint
    /// with neither is refused (there is no implicit trust store).
    pub tls_ca: Option<PathBuf>,
    /// For a `tls://` endpoint: the name the broker's certificate must carry. `None`
    /// (default): `$XPROC_TLS_SERVER_NAME`, else the endpoint's host.
    pub tls_server_name: Option<String>,
    /// The name this client gives in `hello`, shown by `xproc clients`. Default: the program's
    /// file name.
    pub client_name: String,
    /// The language this client gives in `hello`, shown by `xproc clients`. Default: `"rust"`;
    /// bindings built on this crate set their own.
    pub lang: String,
    /// How long to wait for the broker to answer `hello`. Connecting itself fails at once when
    /// nothing listens. Default: [`DEFAULT_CONNECT_TIMEOUT`].
    pub connect_timeout: Duration,
    /// Most time a call polls for its reply before it sleeps in the read, adapted to how soon
    /// replies come ([`xproc_protocol::idle::Governor`]; at most [`MAX_BUSY_POLL`]): on a
    /// machine whose idle CPUs halt, it saves the wake-up of this thread per reply at the
    /// price of CPU time while calls are frequent. `None` (default): `$XPROC_BUSY_POLL_US`
    /// microseconds if set, else off. docs/BENCHMARKS.md has the figures.
    pub busy_poll: Option<Duration>,
}

/// Longest [`ConnectOptions::busy_poll`]: 1 ms (as the broker's `--busy-poll`). Polling
/// bridges a wake-up of tens of µs; longer only burns CPU.
pub const MAX_BUSY_POLL: Duration = Duration::from_millis(1);

/// The busy poll asked for: `options` first, then `$XPROC_BUSY_POLL_US`; off if neither.
fn busy_poll(options: Option<Duration>) -> Result<Duration> {
    let poll = match options {
        Some(d) => d,
        None => match std::env::var("XPROC_BUSY_POLL_US") {
            Err(_) => Duration::ZERO,
            Ok(v) => v
                .trim()
                .parse::<u64>()
                .map(Duration::from_micros)
                .map_err(|_| {
                    Error::InvalidArgument(format!(
                        "XPROC_BUSY_POLL_US={v:?} is not a number of microseconds (0 to {})",
                        MAX_BUSY_POLL.as_micros()
                    ))
                })?,
        },
    };
    if poll > MAX_BUSY_POLL {
        return Err(Error::InvalidArgument(format!(
            "busy poll of {} µs is above the most allowed, {} µs",
            poll.as_micros(),
            MAX_BUSY_POLL.as_micros()
        )));
    }
    Ok(poll)
}

impl Default for ConnectOptions {
    fn default() -> Self {
        let client_name = std::env::args_os()
            .next()
            .and_then(|a| {
                Path::new(&a)
                    .file_name()
                    .map(|f| f.to_string_lossy().into_owned())
            })
            .unwrap_or_default();
        ConnectOptions {
            path: None,
            authkey: None,
            tls_ca: None,
            tls_server_name: None,
            client_name,
            lang: "rust".to_string(),
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            busy_poll: None,
        }
    }
}

/// A connection to an xproc broker.
///
/// Cheap to clone (an `Arc` inside): every clone and every handle opened from it share one
/// connection. `Send + Sync`: any number of threads may call it at once, blocking calls
/// included; see the crate docs, "Threads". Locks, semaphore permits and pipe ends are owned by
/// the connection, so all threads sharing a `Client` share them; open one `Client` per thread
/// for per-thread ownership.
///
/// The connection closes when the last clone and the last handle are dropped.
///
/// # Example
///
/// ```no_run
/// # fn main() -> xproc::Result<()> {
/// let client = xproc::Client::connect_default()?; // $XPROC_SOCKET, or the per-user default
/// client.ping()?;
/// for object in client.list()? {
///     println!("{} {} len={}", object.name, object.kind, object.len);
/// }
/// let worker = client.clone(); // the same connection, for another thread
/// std::thread::spawn(move || worker.queue::<u64>("tasks")?.put(&7));
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    conn: Conn,
    /// The event-loop state (`events.rs`), made on first use.
    events: crate::events::Slot,
    path: PathBuf,
    limits: Limits,
    conn_id: u64,
    server: String,
    /// `hello` granted descriptor passing: large values travel as sealed memfds.
    fds: bool,
    /// `hello` granted rings (docs/PROTOCOL.md §4.2): opened on the first large value.
    rings_granted: bool,
    /// The rings, once `ring.open` was tried: `None` inside when it failed (the connection
    /// then goes on without them).
    rings: std::sync::OnceLock<Option<Arc<Rings>>>,
    /// A large value came without rings (a receiving connection): open them before the next
    /// value op, so later ones come through the down ring.
    rings_wanted: std::sync::atomic::AtomicBool,
    /// The last typed value put was at least the ring threshold: the next one is first sized
    /// and, if large, encoded straight into the up ring (see [`Client::encode_up`]).
    typed_large: std::sync::atomic::AtomicBool,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("path", &self.inner.path)
            .field("conn_id", &self.inner.conn_id)
            .finish_non_exhaustive()
    }
}

/// A successful reply, as returned by [`Client::call`]: the raw payload, decoded on demand.
///
/// # Example
///
/// ```no_run
/// # fn main() -> xproc::Result<()> {
/// # let client = xproc::Client::connect_default()?;
/// use xproc::protocol::RequestFields;
///
/// let mut request = RequestFields::new(0, "queue.qsize"); // the client sets the id
/// request.name = Some("tasks".into());
/// let reply = client.call(&request)?;
/// println!("{:?} items", reply.fields()?.len);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Reply {
    payload: Vec<u8>,
}

impl Reply {
    pub(crate) fn from_payload(payload: Vec<u8>) -> Reply {
        Reply { payload }
    }

    /// The reply's fields (docs/PROTOCOL.md §6 says which op returns which).
    pub fn fields(&self) -> Result<ReplyFields<'_>> {
        ReplyFields::decode(&self.payload)
            .map_err(|e| Error::Protocol(format!("malformed reply: {e}")))
    }

    /// The reply's MessagePack payload (one map, without the frame header).
    pub fn payload(&self) -> &[u8] {
        &self.payload
    }

    /// Takes the payload.
    pub fn into_payload(self) -> Vec<u8> {
        self.payload
    }
}

/// What `open` reported: the object's kind, whether this call created it, and its effective
/// creation options (those that apply to its kind; the others are `None`).
///
/// # Example
///
/// ```no_run
/// # fn main() -> xproc::Result<()> {
/// # let client = xproc::Client::connect_default()?;
/// let opened = client.open("tasks", xproc::Kind::Queue)?;
/// if opened.created {
///     println!("new queue, maxsize {:?}", opened.maxsize);
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Opened {
    /// The object's kind.
    pub kind: Kind,
    /// Whether this call created the object (false: it existed).
    pub created: bool,
    /// Queues: the most items the queue holds (0 = unbounded).
    pub maxsize: Option<u64>,
    /// Queues: leased deliveries before dead-lettering (0 = never).
    pub max_attempts: Option<u64>,
    /// Semaphores: the permits it started with.
    pub initial: Option<u64>,
    /// Barriers: the parties a wait needs.
    pub parties: Option<u64>,
    /// Pipes: whether both ends send.
    pub duplex: Option<bool>,
    /// Pipes: messages each end's inbox holds before a send waits.
    pub capacity: Option<u64>,
}

/// What `stat` reported about one object.
///
/// # Example
///
/// ```no_run
/// # fn main() -> xproc::Result<()> {
/// # let client = xproc::Client::connect_default()?;
/// let stat = client.stat("tasks")?;
/// println!("{}", stat.kind);
/// for (field, value) in &stat.info.0 {
///     println!("  {field} = {value}");
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Stat {
    /// The object's kind, by wire name (a newer broker may report kinds this client lacks).
    pub kind: String,
    /// Its state, as ordered (field, value) pairs (docs/PROTOCOL.md §6.8).
    pub info: Info,
}

impl Client {
    /// Connects to the broker at `path` with default options.
    pub fn connect(path: impl AsRef<Path>) -> Result<Client> {
        Client::connect_with(ConnectOptions {
            path: Some(path.as_ref().to_path_buf()),
            ..ConnectOptions::default()
        })
    }

    /// Connects to the broker at [`default_socket_path`] (`$XPROC_SOCKET`,
    /// `$XDG_RUNTIME_DIR/xproc.sock`, `/tmp/xproc-<uid>/xproc.sock`).
    pub fn connect_default() -> Result<Client> {
        Client::connect_with(ConnectOptions::default())
    }

    /// Connects with explicit options and says `hello`. Fails with [`Error::NoBroker`] when
    /// nothing listens at the path (or the socket's permissions keep this user out),
    /// [`Error::Denied`] when the broker's allow-lists refuse this user, and [`Error::Limit`]
    /// when it already has `max_clients` connections.
    pub fn connect_with(options: ConnectOptions) -> Result<Client> {
        let path = options.path.unwrap_or_else(default_socket_path);
        let poll = busy_poll(options.busy_poll)?;
        let stream = match Endpoint::parse(&path) {
            Endpoint::Local(p) => Stream::connect(&p).map_err(|source| Error::NoBroker {
                path: path.clone(),
                source,
            })?,
            endpoint @ (Endpoint::Tcp(_) | Endpoint::Tls(_)) => {
                let tls = (options.tls_ca, options.tls_server_name);
                connect_tcp(&endpoint, options.authkey, tls, options.connect_timeout).map_err(
                    |e| match e {
                        TcpConnect::Io(source) => Error::NoBroker {
                            path: path.clone(),
                            source,
                        },
                        TcpConnect::Other(e) => e,
                    },
                )?
            }
        };
        // Ask for descriptor passing where the stream can carry descriptors (a local Unix
        // socket), so large values travel as sealed memfds (docs/PROTOCOL.md §1.3, §4.1).
        let ask_fds = stream.passes_fds();
        let conn =
            Conn::new(stream, path.display().to_string()).map_err(|source| Error::NoBroker {
                path: path.clone(),
                source,
            })?;
        conn.set_busy_poll(poll);
        let hello = RequestFields {
            version: Some(PROTOCOL_VERSION),
            client: Some(&options.client_name),
            lang: Some(&options.lang),
            pid: Some(std::process::id()),
            // Direct pipes ride on descriptor passing (docs/PROTOCOL.md §6.5.1); the
            // environment can keep this process's pipes brokered.
            caps: ask_fds.then(|| {
                let mut caps = vec![CAP_FDS];
                if !direct_pipes_opted_out() {
                    caps.push(CAP_DIRECT_PIPES);
                }
                // Rings (§4.2) ride on descriptor passing too.
                if !crate::rings::rings_opted_out() {
                    caps.push(CAP_RINGS);
                }
                caps
            }),
            ..RequestFields::new(0, "hello")
        };
        let deadline = Instant::now().checked_add(options.connect_timeout);
        let payload = match conn.round_trip(hello, deadline) {
            Ok(p) => p,
            // Refused at the door (allow-lists, max_clients): the broker said why in an id-0
            // error frame before closing; report that rather than "disconnected".
            Err(Error::Disconnected(why)) => {
                return Err(match conn.refusal() {
                    Some((code, message)) => Error::from_reply(&code, &message),
                    None => Error::Disconnected(why),
                })
            }
            Err(e) => return Err(e),
        };
        let (limits, conn_id, server, fds, rings_granted) = decode_reply(&payload, |r| {
            Ok((
                need(r.limits, "hello", "limits")?,
                need(r.conn_id, "hello", "conn_id")?,
                r.server.unwrap_or("").to_string(),
                r.caps.as_ref().is_some_and(|c| c.contains(&CAP_FDS)),
                r.caps.as_ref().is_some_and(|c| c.contains(&CAP_RINGS)),
            ))
        })?;
        conn.set_max_request(usize::try_from(limits.max_frame).unwrap_or(usize::MAX));
        Ok(Client {
            inner: Arc::new(Inner {
                conn,
                events: Default::default(),
                path,
                limits,
                conn_id,
                server,
                fds,
                rings_granted,
                rings: std::sync::OnceLock::new(),
                rings_wanted: std::sync::atomic::AtomicBool::new(false),
                typed_large: std::sync::atomic::AtomicBool::new(false),
            }),
        })
    }

    /// The connection's rings, opening them now if `open` and they were never tried
    /// (`ring.open`, docs/PROTOCOL.md §4.2). `None`: not granted, not wanted yet, or failed.
    fn rings(&self, open: bool) -> Option<&Arc<Rings>> {
        if !self.inner.rings_granted {
            return None;
        }
        if let Some(r) = self.inner.rings.get() {
            return r.as_ref();
        }
        if !open {
            return None;
        }
        self.inner
            .rings
            .get_or_init(|| {
                let conn = &self.inner.conn;
                let (id, payload) = conn
                    .round_trip_id(RequestFields::new(0, "ring.open"), None)
                    .ok()?;
                let fds = conn.take_fds(id);
                decode_reply(&payload, |_| Ok(())).ok()?;
                match &fds[..] {
                    [up, down] => Rings::map(up, down).ok().map(Arc::new),
                    _ => None,
                }
            })
            .as_ref()
    }

    /// Encodes `value` straight into a region of the up ring when the rings are open and the
    /// last typed value was large (so a stream of small values never pays for the sizing
    /// pass): one copy fewer than encoding into a buffer and copying that into the ring.
    /// `None`: encode it the usual way (then tell [`note_typed`](Self::note_typed)).
    pub(crate) fn encode_up<T: Serialize + ?Sized>(
        &self,
        value: &T,
    ) -> Result<Option<(crate::rings::UpRegion, usize)>> {
        use std::sync::atomic::Ordering::Relaxed;
        if !self.inner.typed_large.load(Relaxed) {
            return Ok(None);
        }
        let Some(rings) = self.inner.rings.get().and_then(Option::as_ref) else {
            return Ok(None);
        };
        let len = crate::codec::encoded_len(value)?;
        if len < crate::rings::ring_value_min() {
            self.inner.typed_large.store(false, Relaxed);
            return Ok(None);
        }
        let region = rings.fill_up(len, |mut buf| {
            rmp_serde::encode::write_named(&mut buf, value).is_ok() && buf.is_empty()
        });
        Ok(region.map(|r| (r, len)))
    }

    /// Records the size of a typed value encoded the usual way (see
    /// [`encode_up`](Self::encode_up)).
    pub(crate) fn note_typed(&self, len: usize) {
        if self.inner.rings_granted && len >= crate::rings::ring_value_min() {
            self.inner
                .typed_large
                .store(true, std::sync::atomic::Ordering::Relaxed);
        }
    }

    /// Whether the last typed value sized or encoded was large (see
    /// [`encode_up`](Self::encode_up)); `put_async` sizes the next one only then.
    pub(crate) fn typed_was_large(&self) -> bool {
        self.inner.rings_granted
            && self
                .inner
                .typed_large
                .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Records the size of a typed value handed to `put_async`: large or not.
    pub(crate) fn note_typed_len(&self, len: usize) {
        if self.inner.rings_granted {
            let large = len >= crate::rings::ring_value_min();
            self.inner
                .typed_large
                .store(large, std::sync::atomic::Ordering::Relaxed);
        }
    }

    /// Sends `req` (a put, send or set) whose value is in the up ring already, `len` bytes
    /// in `region` (from [`encode_up`](Self::encode_up)).
    pub(crate) fn exchange_placed(
        &self,
        mut req: RequestFields<'_>,
        region: crate::rings::UpRegion,
        len: usize,
        deadline: Option<Instant>,
    ) -> Result<()> {
        let Some(rings) = self.inner.rings.get().and_then(Option::as_ref).cloned() else {
            return Err(Error::Protocol("a ring value without rings".into()));
        };
        req.ring_off = Some(region.off());
        req.value_len = Some(len as u64);
        req.value = None;
        let min = crate::rings::ring_value_min();
        match self.exchange_rings(req, deadline, rings, min, Some(region), |_, _| Ok(()))? {
            Exchanged::Done(()) => Ok(()),
            Exchanged::Direct(_) => Err(Error::Protocol(
                "the broker answered direct to a ring put".into(),
            )),
        }
    }

    /// The connection's rings for a value of `len` bytes: open (opening them now if granted
    /// and never tried) when `len` reaches the ring threshold, else `None` (`put_async`).
    pub(crate) fn rings_for(&self, len: usize) -> Option<Arc<Rings>> {
        if len < crate::rings::ring_value_min() || !self.inner.fds {
            return None;
        }
        self.rings(true).cloned()
    }

    /// Asks for rings on this connection's next value op (granted ones only): a zero-copy
    /// getter's first large value then arrives in the down ring too, instead of inline while
    /// the rings are not open yet (`RawQueue::get_buf`; docs/BENCHMARKS.md, fifth pass).
    pub(crate) fn want_rings(&self) {
        if self.inner.rings_granted && self.inner.fds {
            self.inner
                .rings_wanted
                .store(true, std::sync::atomic::Ordering::Relaxed);
        }
    }

    /// Whether this connection moves large values through its rings (docs/PROTOCOL.md
    /// §4.2): true once they are open.
    pub fn uses_rings(&self) -> bool {
        self.inner.rings.get().is_some_and(Option::is_some)
    }

    /// Whether this connection negotiated descriptor passing (docs/PROTOCOL.md §1.3): on a
    /// local Unix socket it does, and values of at least [`SHARED_VALUE_MIN`] bytes then
    /// travel as sealed memfds instead of through the socket (§4.1). False over TCP and on
    /// Windows, where every value goes inline.
    pub fn passes_fds(&self) -> bool {
        self.inner.fds
    }

    /// Sends one request whose value may travel as a sealed memfd, and hands its reply to `f`
    /// with the memfd value that came with it, if one did (read or mapped as `f` chooses).
    ///
    /// A `value` of at least [`SHARED_VALUE_MIN`] bytes on a connection that negotiated `fds`
    /// is written once into a sealed memfd and sent as `value_len` + the descriptor; a
    /// smaller one (or one whose memfd cannot be made) goes inline in `value`.
    pub(crate) fn exchange_shared<R>(
        &self,
        req: RequestFields<'_>,
        deadline: Option<Instant>,
        f: impl FnOnce(&ReplyFields<'_>, Option<SharedReply>) -> Result<R>,
    ) -> Result<R> {
        match self.exchange_pipe(req, deadline, f)? {
            Exchanged::Done(r) => Ok(r),
            Exchanged::Direct(_) => Err(Error::Protocol(
                "the broker answered direct to a request that is not a pipe op".into(),
            )),
        }
    }

    /// [`exchange_shared`](Self::exchange_shared) for a pipe op, which the broker may answer
    /// with `direct` instead of doing it (docs/PROTOCOL.md §6.5.1): then the end's socket, if
    /// it came with that reply.
    pub(crate) fn exchange_pipe<R>(
        &self,
        mut req: RequestFields<'_>,
        deadline: Option<Instant>,
        f: impl FnOnce(&ReplyFields<'_>, Option<SharedReply>) -> Result<R>,
    ) -> Result<Exchanged<R>> {
        let conn = &self.inner.conn;
        let direct = |id: u64, r: &ReplyFields<'_>| -> Option<Exchanged<R>> {
            (r.direct == Some(true)).then(|| Exchanged::Direct(conn.take_fds(id)))
        };
        if !self.inner.fds {
            let payload = self.inner.conn.round_trip(req, deadline)?;
            return decode_reply(&payload, |r| f(r, None).map(Exchanged::Done));
        }
        // Rings (§4.2) are looked at only when open, or when this value or an earlier reply
        // asks for them: a small value on a connection without open rings costs two loads.
        let min = crate::rings::ring_value_min();
        if self.inner.rings.get().is_some()
            || (self.inner.rings_granted
                && (req.value.is_some_and(|v| v.len() >= min)
                    || self
                        .inner
                        .rings_wanted
                        .load(std::sync::atomic::Ordering::Relaxed)))
        {
            if let Some(rings) = self.rings(true).cloned() {
                return self.exchange_rings(req, deadline, rings, min, None, f);
            }
        }
        let fd = as_sealed_value(&mut req);
        if let Some(fd) = fd {
            let (id, payload) = self.inner.conn.round_trip_fd(req, &fd, deadline)?;
            return decode_reply(&payload, |r| match direct(id, r) {
                Some(d) => Ok(d),
                None => f(r, None).map(Exchanged::Done),
            });
        }
        // A reply with `value_len` instead of `value` came with its value's memfd; any other
        // costs what it always did (no lookup, no lock).
        let (id, payload) = conn.round_trip_id(req, deadline)?;
        decode_reply(&payload, |r| {
            if let Some(d) = direct(id, r) {
                return Ok(d);
            }
            // A large value without rings: open them before the next value op, so later ones
            // come through the down ring.
            if self.inner.rings_granted {
                let len = r.value_len.or(r.value.map(|v| v.len() as u64));
                if len.is_some_and(|l| l >= min as u64) {
                    self.inner
                        .rings_wanted
                        .store(true, std::sync::atomic::Ordering::Relaxed);
                }
            }
            exchanged_value(conn, id, r, f).map(Exchanged::Done)
        })
    }

    /// [`exchange_pipe`](Self::exchange_pipe) on a connection whose rings are open: a value of
    /// at least `min` bytes goes through the up ring when it fits there (else as a memfd or
    /// inline), a get asks for its value in the down ring (`ring_min`), and regions callers
    /// freed ride along (`ring_free`).
    fn exchange_rings<R>(
        &self,
        mut req: RequestFields<'_>,
        deadline: Option<Instant>,
        rings: Arc<Rings>,
        min: usize,
        placed: Option<crate::rings::UpRegion>,
        f: impl FnOnce(&ReplyFields<'_>, Option<SharedReply>) -> Result<R>,
    ) -> Result<Exchanged<R>> {
        let conn = &self.inner.conn;
        // Held until the reply arrived: the broker copied the value out by then.
        let mut _up = placed;
        if let Some(v) = req.value.filter(|v| v.len() >= min) {
            if let Some(region) = rings.put_up(v) {
                req.ring_off = Some(region.off());
                req.value_len = Some(v.len() as u64);
                req.value = None;
                _up = Some(region);
            }
        }
        if matches!(req.op, "queue.get" | "dict.get" | "pipe.recv") {
            req.ring_min = Some(min as u64);
        }
        let frees = rings.take_frees();
        req.ring_free = frees.clone();
        let fd = as_sealed_value(&mut req);
        let sent = match fd {
            Some(fd) => conn.round_trip_fd(req, &fd, deadline),
            None => conn.round_trip_id(req, deadline),
        };
        let (id, payload) = match sent {
            Ok(r) => r,
            Err(e) => {
                if let Some(frees) = frees {
                    rings.untake_frees(frees);
                }
                return Err(e);
            }
        };
        decode_reply(&payload, |r| {
            if r.direct == Some(true) {
                return Ok(Exchanged::Direct(conn.take_fds(id)));
            }
            if let (Some(off), Some(len)) = (r.ring_off, r.value_len) {
                let region = DownRegion::new(rings.clone(), off, len).ok_or_else(|| {
                    Error::Protocol("a reply's ring_off is outside the down ring".into())
                })?;
                return f(r, Some(SharedReply::Ring(region))).map(Exchanged::Done);
            }
            exchanged_value(conn, id, r, f).map(Exchanged::Done)
        })
    }
}

/// The environment variable that keeps a process's pipes brokered (docs/PROTOCOL.md §6.5.1):
/// set to anything but empty or `0`, its connections do not ask for `direct_pipes`. For
/// comparisons, and for a peer that must stay visible to the broker.
pub const NO_DIRECT_PIPES_ENV: &str = "XPROC_NO_DIRECT_PIPES";

fn direct_pipes_opted_out() -> bool {
    std::env::var_os(NO_DIRECT_PIPES_ENV).is_some_and(|v| !v.is_empty() && v != "0")
}

/// A pipe op's outcome: done, or answered `direct` (with the end's socket and counters page
/// if they came).
pub(crate) enum Exchanged<R> {
    /// The broker did the op.
    Done(R),
    /// The pipe runs peer to peer; the op was not done. The descriptors that came with the
    /// reply (none: another call of this end was handed them).
    Direct(Vec<crate::transport::Descriptor>),
}

/// Hands `f` the reply with the memfd value that came with reply `id`, if one did (`None`:
/// the value, if any, is inline in the reply).
fn exchanged_value<R>(
    conn: &Conn,
    id: u64,
    r: &ReplyFields<'_>,
    f: impl FnOnce(&ReplyFields<'_>, Option<SharedReply>) -> Result<R>,
) -> Result<R> {
    match r.value_len {
        Some(len) if r.value.is_none() => {
            let fd = conn.take_fd(id).ok_or_else(|| {
                Error::Protocol("a reply announced a memfd value that did not come".into())
            })?;
            f(r, Some(SharedReply::new(fd, len)))
        }
        _ => f(r, None),
    }
}

impl Client {
    /// The socket path (or `tcp://HOST:PORT` endpoint) this client is connected to.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// The broker's limits, from `hello`. Requests above `max_frame` are refused client-side.
    pub fn limits(&self) -> Limits {
        self.inner.limits
    }

    /// This connection's id at the broker (as `xproc clients` shows it).
    pub fn conn_id(&self) -> u64 {
        self.inner.conn_id
    }

    /// The broker's `server` string from `hello` (name and version).
    pub fn server(&self) -> &str {
        &self.inner.server
    }

    /// Sends any request and returns its reply: the escape hatch for ops this crate has no
    /// method for, and the base the C ABI can build on.
    ///
    /// The request's `id` is ignored: the client assigns its own so that replies can be matched
    /// to callers. When `timeout_ms` is set, the client waits that long plus
    /// [`TIMEOUT_GRACE`](crate::TIMEOUT_GRACE), then cancels the request and returns the
    /// broker's answer (see the crate docs, "Timeouts"); otherwise as long as it takes. An error reply
    /// comes back as `Err` (mapped as [`Error::from_reply`] does).
    pub fn call(&self, request: &RequestFields<'_>) -> Result<Reply> {
        // Every field but the id-carrying batch vectors is Copy, so this is a shallow copy.
        let req = RequestFields {
            id: 0,
            keys: request.keys.clone(),
            items: request.items.clone(),
            values: request.values.clone(),
            deliveries: request.deliveries.clone(),
            caps: request.caps.clone(),
            names: request.names.clone(),
            ends: request.ends.clone(),
            ring_free: request.ring_free.clone(),
            ..*request
        };
        let deadline = Wait::new(request.timeout_ms.map(Duration::from_millis)).deadline;
        let payload = self.inner.conn.round_trip(req, deadline)?;
        decode_reply(&payload, |_| Ok(()))?;
        Ok(Reply { payload })
    }

    /// Sends `req`, waits until `deadline`, and hands the decoded successful reply to `f`.
    pub(crate) fn exchange<R>(
        &self,
        req: RequestFields<'_>,
        deadline: Option<Instant>,
        f: impl FnOnce(&ReplyFields<'_>) -> Result<R>,
    ) -> Result<R> {
        let payload = self.inner.conn.round_trip(req, deadline)?;
        decode_reply(&payload, f)
    }

    /// The event-loop state slot (`events.rs`).
    pub(crate) fn events_slot(&self) -> &crate::events::Slot {
        &self.inner.events
    }

    /// The connection, for requests whose replies are collected later (`put_async`).
    pub(crate) fn conn(&self) -> &crate::conn::Conn {
        &self.inner.conn
    }

    /// Sends all `reqs` in one write and returns each one's reply payload.
    pub(crate) fn pipeline(&self, reqs: Vec<RequestFields<'_>>) -> Result<Vec<Result<Vec<u8>>>> {
        self.inner.conn.pipeline(reqs, None)
    }

    /// Opens (or creates) the object `name` of `kind` with the creation options in `req`
    /// (`maxsize`, `initial`, `parties`, `duplex`, `capacity`, `end`); the typed constructors
    /// below are built on it.
    pub(crate) fn open_with(
        &self,
        name: &str,
        kind: Kind,
        req: RequestFields<'_>,
    ) -> Result<Opened> {
        let req = RequestFields {
            name: Some(name.into()),
            kind: Some(kind.as_str()),
            ..req
        };
        self.exchange(req, None, |r| {
            let got = need(r.kind, "open", "kind")?;
            Ok(Opened {
                kind: Kind::parse(got).ok_or_else(|| {
                    Error::Protocol(format!("open returned unknown kind {got:?}"))
                })?,
                created: r.created.unwrap_or(false),
                maxsize: r.maxsize,
                max_attempts: r.max_attempts,
                initial: r.initial,
                parties: r.parties,
                duplex: r.duplex,
                capacity: r.capacity,
            })
        })
    }

    /// Opens or creates `name` as `kind` without creation options (an existing object's options
    /// are accepted as they are). Raw form for bindings; prefer the typed constructors.
    pub fn open(&self, name: &str, kind: Kind) -> Result<Opened> {
        self.open_with(name, kind, RequestFields::new(0, "open"))
    }

    // ---- admin ----

    /// Checks the broker answers.
    pub fn ping(&self) -> Result<()> {
        self.exchange(RequestFields::new(0, "ping"), None, |_| Ok(()))
    }

    /// Every object the broker holds.
    pub fn list(&self) -> Result<Vec<ObjectSummary>> {
        self.exchange(RequestFields::new(0, "list"), None, |r| {
            Ok(r.objects.clone().unwrap_or_default())
        })
    }

    /// One page of the object list in name order (`scan`): at most `count` objects (`None`:
    /// 100; at most 1000) whose names come after `after` (`None`: from the first), and the
    /// name to pass as `after` next, `None` when the scan is complete.
    pub fn scan_page(
        &self,
        after: Option<&str>,
        count: Option<u64>,
    ) -> Result<(Vec<ObjectSummary>, Option<String>)> {
        let req = RequestFields {
            after,
            count,
            ..RequestFields::new(0, "scan")
        };
        self.exchange(req, None, |r| {
            Ok((
                r.objects.clone().unwrap_or_default(),
                r.next.map(str::to_string),
            ))
        })
    }

    /// Every object, in name order, a page per request: unlike [`list`](Self::list), bounded
    /// per request however many objects there are. Every object present for the whole
    /// iteration comes exactly once. Errors end the iteration.
    pub fn scan(&self) -> impl Iterator<Item = Result<ObjectSummary>> + '_ {
        let mut after: Option<Option<String>> = Some(None);
        let mut page = Vec::new().into_iter();
        std::iter::from_fn(move || loop {
            if let Some(o) = page.next() {
                return Some(Ok(o));
            }
            let from = after.take()?;
            match self.scan_page(from.as_deref(), None) {
                Ok((objects, next)) => {
                    after = next.map(Some);
                    page = objects.into_iter();
                }
                Err(e) => return Some(Err(e)),
            }
        })
    }

    /// One object's kind and state. [`Error::Broker`] with code `NotFound` if it does not exist.
    pub fn stat(&self, name: &str) -> Result<Stat> {
        let req = RequestFields {
            name: Some(name.into()),
            ..RequestFields::new(0, "stat")
        };
        self.exchange(req, None, |r| {
            Ok(Stat {
                kind: need(r.kind, "stat", "kind")?.to_string(),
                info: r.info.clone().unwrap_or_default(),
            })
        })
    }

    /// Every connected client: pid, uid, name, language, what it holds and waits for.
    pub fn clients(&self) -> Result<Vec<ClientInfo>> {
        self.exchange(RequestFields::new(0, "clients"), None, |r| {
            Ok(r.clients.clone().unwrap_or_default())
        })
    }

    /// Deletes the object `name`; `false` if there was none. Calls blocked on it get `NotFound`.
    pub fn delete(&self, name: &str) -> Result<bool> {
        let req = RequestFields {
            name: Some(name.into()),
            ..RequestFields::new(0, "delete")
        };
        self.exchange(req, None, |r| Ok(r.deleted.unwrap_or(false)))
    }

    // ---- handles ----

    /// Opens (or creates, unbounded) the queue `name`, carrying `T`s.
    pub fn queue<T: Serialize + DeserializeOwned>(&self, name: &str) -> Result<Queue<T>> {
        self.queue_with(name, QueueOptions::default())
    }

    /// Opens or creates the queue `name` with `options` (`maxsize`, `max_attempts`).
    pub fn queue_with<T: Serialize + DeserializeOwned>(
        &self,
        name: &str,
        options: QueueOptions,
    ) -> Result<Queue<T>> {
        RawQueue::open(self, name, Kind::Queue, options).map(Queue::from_raw)
    }

    /// Opens (or creates, unbounded) the joinable queue `name` (`task_done`, `join`).
    pub fn joinable_queue<T: Serialize + DeserializeOwned>(&self, name: &str) -> Result<Queue<T>> {
        self.joinable_queue_with(name, QueueOptions::default())
    }

    /// Opens or creates the joinable queue `name` with `options`.
    pub fn joinable_queue_with<T: Serialize + DeserializeOwned>(
        &self,
        name: &str,
        options: QueueOptions,
    ) -> Result<Queue<T>> {
        RawQueue::open(self, name, Kind::JoinableQueue, options).map(Queue::from_raw)
    }

    /// Opens a queue (`Kind::Queue` or `Kind::JoinableQueue`) for raw MessagePack values.
    pub fn raw_queue(&self, name: &str, kind: Kind, options: QueueOptions) -> Result<RawQueue> {
        RawQueue::open(self, name, kind, options)
    }

    /// Opens or creates the dict `name`, with keys `K` and values `V`.
    pub fn dict<K, V>(&self, name: &str) -> Result<Dict<K, V>>
    where
        K: Serialize + DeserializeOwned,
        V: Serialize + DeserializeOwned,
    {
        RawDict::open(self, name).map(Dict::from_raw)
    }

    /// Opens a dict for raw MessagePack keys and values.
    pub fn raw_dict(&self, name: &str) -> Result<RawDict> {
        RawDict::open(self, name)
    }

    /// Opens or creates the pipe `name` and claims `end` for this connection.
    pub fn pipe<T: Serialize + DeserializeOwned>(&self, name: &str, end: End) -> Result<Pipe<T>> {
        self.pipe_with(name, end, PipeOptions::default())
    }

    /// Opens or creates the pipe `name` with `options` (`duplex`, `capacity`) and claims `end`.
    pub fn pipe_with<T: Serialize + DeserializeOwned>(
        &self,
        name: &str,
        end: End,
        options: PipeOptions,
    ) -> Result<Pipe<T>> {
        RawPipe::open(self, name, end, options).map(Pipe::from_raw)
    }

    /// Opens a pipe end for raw MessagePack messages.
    pub fn raw_pipe(&self, name: &str, end: End, options: PipeOptions) -> Result<RawPipe> {
        RawPipe::open(self, name, end, options)
    }

    /// Opens or creates the lock `name`.
    pub fn lock(&self, name: &str) -> Result<Lock> {
        Lock::open(self, name, Kind::Lock)
    }

    /// Opens or creates the reentrant lock `name`.
    pub fn rlock(&self, name: &str) -> Result<Lock> {
        Lock::open(self, name, Kind::RLock)
    }

    /// Opens or creates the semaphore `name`; `initial` permits when created (an existing one
    /// must have the same initial value).
    pub fn semaphore(&self, name: &str, initial: u64) -> Result<Semaphore> {
        Semaphore::open(self, name, Kind::Semaphore, initial)
    }

    /// Opens or creates the bounded semaphore `name` (releasing above `initial` is an error).
    pub fn bounded_semaphore(&self, name: &str, initial: u64) -> Result<Semaphore> {
        Semaphore::open(self, name, Kind::BoundedSemaphore, initial)
    }

    /// Opens or creates the event `name`.
    pub fn event(&self, name: &str) -> Result<Event> {
        Event::open(self, name)
    }

    /// Opens or creates the condition `name` (with its own lock).
    pub fn condition(&self, name: &str) -> Result<Condition> {
        Condition::open(self, name)
    }

    /// Opens or creates the barrier `name` for `parties` parties (an existing one must have
    /// the same count).
    pub fn barrier(&self, name: &str, parties: u64) -> Result<Barrier> {
        Barrier::open(self, name, parties)
    }
}

/// Decodes a reply payload, turns an error reply into `Err`, and hands the rest to `f`.
/// Moves a value of at least [`shared_value_min`] bytes out of `req` into a sealed memfd
/// (docs/PROTOCOL.md §4.1): the request then names its size and one descriptor, returned to
/// be sent with it. `None` (the value stays inline) below the threshold or when no memfd can
/// be made.
fn as_sealed_value(req: &mut RequestFields<'_>) -> Option<crate::transport::Descriptor> {
    let v = req.value.filter(|v| v.len() >= shared_value_min())?;
    let made = crate::transport::sealed_value(v).ok()?;
    req.value_len = Some(v.len() as u64);
    req.value = None;
    req.fds = Some(1);
    Some(made)
}

fn decode_reply<R>(payload: &[u8], f: impl FnOnce(&ReplyFields<'_>) -> Result<R>) -> Result<R> {
    let r = ReplyFields::decode(payload)
        .map_err(|e| Error::Protocol(format!("malformed reply: {e}")))?;
    if let Some(code) = r.error {
        return Err(Error::from_reply(code, r.message.unwrap_or("")));
    }
    f(&r)
}

/// Decodes a pipelined reply payload (see [`Client::pipeline`]).
pub(crate) fn check_reply(payload: &[u8]) -> Result<()> {
    decode_reply(payload, |_| Ok(()))
}

/// A reply field the op always returns.
pub(crate) fn need<T>(field: Option<T>, op: &str, name: &str) -> Result<T> {
    field.ok_or_else(|| Error::Protocol(format!("the reply to {op} lacks '{name}'")))
}

/// The bytes of a reply's `value`.
pub(crate) fn value_of<'r>(r: &ReplyFields<'r>, op: &str) -> Result<&'r [u8]> {
    need(r.value, op, "value").map(|v| &v[..])
}

/// Why a TCP connect failed: nothing answered (reported as [`Error::NoBroker`]), or anything
/// else (no key, the handshake refused).
enum TcpConnect {
    Io(std::io::Error),
    Other(Error),
}

/// Connects to a `tcp://` endpoint and runs the authkey handshake.
fn connect_tcp(
    endpoint: &Endpoint,
    authkey: Option<Vec<u8>>,
    (tls_ca, tls_server_name): (Option<PathBuf>, Option<String>),
    timeout: Duration,
) -> std::result::Result<Stream, TcpConnect> {
    let (Endpoint::Tcp(host_port) | Endpoint::Tls(host_port)) = endpoint else {
        unreachable!("called for TCP endpoints only");
    };
    let key = match authkey {
        Some(k) => k,
        None => authkey_from_env()
            .map_err(TcpConnect::Other)?
            .ok_or_else(|| {
                TcpConnect::Other(Error::Denied(format!(
                    "{endpoint} needs an authkey: pass one (ConnectOptions::authkey) or set {}",
                    crate::AUTHKEY_FILE_ENV
                )))
            })?,
    };
    if key.is_empty() {
        return Err(TcpConnect::Other(Error::InvalidArgument(
            "the authkey is empty".into(),
        )));
    }
    let mut s = match endpoint {
        Endpoint::Tls(_) => {
            let env = |name| std::env::var_os(name).filter(|v| !v.is_empty());
            let ca_file = tls_ca
                .or_else(|| env(crate::endpoint::TLS_CA_ENV).map(PathBuf::from))
                .ok_or_else(|| {
                    TcpConnect::Other(Error::InvalidArgument(format!(
                        "{endpoint} needs the CA that signed the broker's certificate: pass \
                         ConnectOptions::tls_ca or set {}",
                        crate::endpoint::TLS_CA_ENV
                    )))
                })?;
            let server_name = tls_server_name
                .or_else(|| {
                    env(crate::endpoint::TLS_SERVER_NAME_ENV)
                        .map(|v| v.to_string_lossy().into_owned())
                })
                .unwrap_or_else(|| endpoint.host().unwrap_or_default().to_string());
            let opts = crate::transport::tcp::TlsOptions {
                ca_file,
                server_name,
            };
            crate::transport::tcp::Stream::connect_tls(host_port, timeout, &opts).map_err(|e| {
                match e {
                    Ok(io) => TcpConnect::Io(io),
                    Err(why) => TcpConnect::Other(Error::Denied(why)),
                }
            })?
        }
        _ => crate::transport::tcp::Stream::connect(host_port, timeout).map_err(TcpConnect::Io)?,
    };
    crate::handshake::authenticate(&mut s, &key, timeout, &endpoint.to_string())
        .map_err(TcpConnect::Other)?;
    Ok(Stream::Tcp(s))
}
