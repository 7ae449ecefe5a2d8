//! Requests: the wire form ([`RequestFields`]) and the checked, typed form ([`Request`]).
//!
//! Every request is a MessagePack map with an integer `id`, a string `op` and the op's own
//! named fields. Decoding happens in steps so that every check runs once, centrally, before
//! any handler sees the request:
//!
//! 1. [`RawRequest::read`] checks the payload is a request map (one well-formed map with string
//!    keys and a uint `id`) and locates each known field, untyped (`fields.rs`; no copies).
//!    Failing here is fatal: the broker replies with `id` 0 and closes.
//! 2. [`RawRequest::check`] turns it into a [`Request`]: the op is known, the fields it reads
//!    have their documented types (fields it does not read are ignored, whatever they hold),
//!    required ones are present, names are valid and every value or key is a `bin` holding one
//!    well-formed MessagePack value. Failing here answers the request's id and keeps the
//!    connection. [`Request::parse`] does both.
//!
//! Clients build a [`RequestFields`] and encode it with [`RequestFields::encode_into`]; the
//! broker and the clients thus share one definition of the wire format.

use serde::{Deserialize, Serialize};
use serde_bytes::Bytes;

use crate::error::ErrorCode;
use crate::fields::{Fields, F};
use crate::kind::Kind;
use crate::value;

/// Longest object name, in bytes.
pub const MAX_NAME_LEN: usize = 255;

/// Entries (`dict.scan`) or objects (`scan`) a scan page holds when the request gives no
/// `count`: small enough that a page of small entries is one quick turn of the broker.
pub const SCAN_DEFAULT_COUNT: u64 = 100;

/// Most entries or objects one scan page holds, whatever `count` asks: bounds the broker's work
/// per request (a turn) whatever the dict's size.
pub const SCAN_MAX_COUNT: u64 = 1000;

/// A `dict.scan` page stops adding entries once their keys and values would pass this many
/// bytes, or half of the broker's `max_frame` if that is less (a page always holds at least one
/// entry): 1 MiB keeps a page far below the default `max_frame` and one turn short, even for
/// large values.
pub const SCAN_MAX_BYTES: usize = 1 << 20;

/// `queue.get_leased`'s lease when the request gives none: 30 s, long enough for most work
/// items, short enough that a hung consumer's item is retried within a minute.
pub const DEFAULT_LEASE_MS: u64 = 30_000;

/// An object name as it arrived: raw bytes, so that a name that is not UTF-8 can be refused
/// with a clear `InvalidName` rather than a generic decode failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Name<'a>(pub &'a [u8]);

impl<'a> From<&'a str> for Name<'a> {
    fn from(s: &'a str) -> Self {
        Name(s.as_bytes())
    }
}

impl Serialize for Name<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match std::str::from_utf8(self.0) {
            Ok(text) => s.serialize_str(text),
            Err(_) => s.serialize_bytes(self.0),
        }
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Name<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Name<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a name (string)")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Name(v.as_bytes()))
            }
            // rmp-serde hands over a string that is not UTF-8 as bytes.
            fn visit_borrowed_bytes<E>(self, v: &'de [u8]) -> Result<Self::Value, E> {
                Ok(Name(v))
            }
        }
        d.deserialize_str(V)
    }
}

/// A request as it is on the wire: every field any op uses, all optional but `id` and `op`.
/// See docs/PROTOCOL.md for which op uses which field.
///
/// # Example
///
/// ```
/// use xproc_protocol::{frame, Request, RequestFields, Wait};
///
/// let value = [0x07]; // MessagePack 7
/// let mut request = RequestFields::new(1, "queue.put");
/// request.name = Some("tasks".into());
/// request.value = Some(xproc_protocol::Bytes::new(&value));
/// let mut wire = Vec::new();
/// request.encode_into(&mut wire);
///
/// // The broker's side: the payload after the 4-byte header, checked once.
/// let (id, checked) = Request::parse(&wire[frame::HEADER_LEN..]).unwrap();
/// assert_eq!(id, 1);
/// assert_eq!(checked, Request::QueuePut { name: "tasks", value: &[0x07], wait: Wait::Forever });
/// ```
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct RequestFields<'a> {
    /// Chosen by the client; echoed in the reply.
    pub id: u64,
    /// The operation, such as `"queue.put"`.
    #[serde(borrow)]
    pub op: &'a str,
    /// The object the op works on (every op but `hello`, `ping`, `list`, `scan`, `clients`, `cancel`).
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub name: Option<Name<'a>>,
    /// A user value: the bytes of one MessagePack value, sent as `bin`.
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub value: Option<&'a Bytes>,
    /// A dict key: the bytes of one MessagePack value, sent as `bin`.
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub key: Option<&'a Bytes>,
    /// `dict.compare_and_set`: the value the key must hold; absent means "the key must be absent".
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub expected: Option<&'a Bytes>,
    /// `dict.get_many`: the keys (each one MessagePack value, as `bin`).
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub keys: Option<Vec<&'a Bytes>>,
    /// `dict.update`: the (key, value) pairs to set (each one MessagePack value, as `bin`).
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub items: Option<Vec<(&'a Bytes, &'a Bytes)>>,
    /// Milliseconds a blocking call may wait; absent = forever, 0 = do not wait.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
    /// `open`: the kind of object to open or create (a [`Kind`] wire name).
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub kind: Option<&'a str>,
    /// `open` (queues): the most items the queue holds (0 = unbounded).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maxsize: Option<u64>,
    /// `open` (semaphores): the permits a new semaphore starts with.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub initial: Option<u64>,
    /// `open` (barriers): the parties a wait needs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parties: Option<u64>,
    /// `open` (pipes): whether both ends send (false: `a` sends, `b` receives).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duplex: Option<bool>,
    /// `open` (pipes): messages each end's inbox holds before a send waits.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capacity: Option<u64>,
    /// Pipe ops and `open` (pipes): the end, `"a"` or `"b"`.
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub end: Option<&'a str>,
    /// `semaphore.release`: permits to return; `condition.notify`: waiters to wake.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub n: Option<u64>,
    /// `dict.incr`: what to add.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delta: Option<i64>,
    /// `hello`: the protocol version the client speaks ([`crate::PROTOCOL_VERSION`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<u64>,
    /// `hello`: the client's name, as `clients` shows it.
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub client: Option<&'a str>,
    /// `hello`: the client's language, as `clients` shows it.
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub lang: Option<&'a str>,
    /// `hello`: the client's own pid, used only where the OS reports no peer pid.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    /// `queue.get_leased`: how long the consumer may hold the item before it goes back.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lease_ms: Option<u64>,
    /// `queue.ack` / `queue.nack`: the delivery id `queue.get_leased` returned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivery: Option<u64>,
    /// `queue.nack`: how long the item stays out before it goes back to the queue.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delay_ms: Option<u64>,
    /// `open` (queues): leased deliveries of one item before it moves to `NAME.dead`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_attempts: Option<u64>,
    /// `cancel`: the id of this connection's blocked request to give up.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<u64>,
    /// `queue.put_many`: the values, in order (each one MessagePack value, as `bin`).
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub values: Option<Vec<&'a Bytes>>,
    /// `queue.get_many`, `queue.get_many_leased`: most items to take.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max: Option<u64>,
    /// `queue.ack_many`: the delivery ids to ack.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deliveries: Option<Vec<u64>>,
    /// `dict.scan`: where to go on from (the previous page's `cursor`; absent or 0 = start).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cursor: Option<u64>,
    /// `dict.scan`, `scan`: how many entries a page should hold (a hint; default 100).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    /// `scan`: the last name of the previous page (the previous page's `next`).
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub after: Option<&'a str>,
    /// `hello`: what the client can do beyond the base protocol, such as [`CAP_FDS`].
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub caps: Option<Vec<&'a str>>,
    /// How many descriptors travel with this frame (docs/PROTOCOL.md §1.3).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fds: Option<u64>,
    /// The size of a value that travels as a sealed memfd instead of in `value` (§4.1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value_len: Option<u64>,
    /// `queue.get_any`, `wait`: the objects to wait on, in order (a reply's `index` and
    /// `indices` point into this array).
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub names: Option<Vec<&'a str>>,
    /// `wait`: for each of `names`, the pipe end to watch (`"a"`/`"b"`), `""` for other kinds.
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub ends: Option<Vec<&'a str>>,
    /// `queue.put`, `dict.set`, `pipe.send` on a connection with rings: where in the up ring
    /// the value's `value_len` bytes start, in place of `value` (docs/PROTOCOL.md §4.2).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ring_off: Option<u64>,
    /// `queue.get`, `dict.get`, `pipe.recv` on a connection with rings: the reply may carry
    /// a value of at least this many bytes in the down ring (§4.2). Absent: never.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ring_min: Option<u64>,
    /// Any request on a connection with rings: down-ring regions (by `ring_off`) the client
    /// is done with, freed before the request is handled (§4.2).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ring_free: Option<Vec<u64>>,
}

/// Most objects one `queue.get_any` or `wait` may name. A blocked wait registers itself with
/// each object (a few dozen bytes each, charged to the broker's memory budget), and the
/// request must fit a frame: 16384 names of the longest kind are 4.2 MB, a quarter of the
/// default `max_frame`. Ten thousand queues in one wait is fine; a set larger than this is
/// refused with `LimitExceeded` naming `max_wait_objects`.
pub const MAX_WAIT_OBJECTS: usize = 16_384;

/// One object a `wait` watches: its name, and for a pipe the end this connection reads at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Target<'a> {
    /// The object's name.
    pub name: &'a str,
    /// For a pipe: the end whose inbox is watched (required for pipes, ignored otherwise).
    pub end: Option<End>,
}

/// The `hello` capability "this connection can pass descriptors" (docs/PROTOCOL.md §1.3).
pub const CAP_FDS: &str = "fds";

/// The `hello` capability for direct pipes: the client takes the socket a pipe end is handed
/// when both ends are held by such clients, and runs the pipe peer to peer
/// (docs/PROTOCOL.md §6.5.1). Granted only together with [`CAP_FDS`].
pub const CAP_DIRECT_PIPES: &str = "direct_pipes";

/// The `hello` capability for shared rings: the connection may open an up and a down ring
/// (`ring.open`) and move large values through them (docs/PROTOCOL.md §4.2). Granted only
/// together with [`CAP_FDS`].
pub const CAP_RINGS: &str = "rings";

/// Most items one `queue.get_many` or `queue.get_many_leased` hands out: a larger `max` is
/// taken as this. Bounds the reply's size and the work of one request; the reply also stops
/// before its values pass the broker's `max_frame` (always holding at least one item).
pub const MAX_BATCH: u64 = 65_536;

impl<'a> RequestFields<'a> {
    /// A request with just an id and an op; set the op's fields on the result.
    pub fn new(id: u64, op: &'a str) -> Self {
        RequestFields {
            id,
            op,
            ..Default::default()
        }
    }

    /// Appends this request, framed, to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        let at = crate::frame::begin(out);
        self.serialize(&mut rmp_serde::Serializer::new(&mut *out).with_struct_map())
            .expect("encoding into a Vec cannot fail");
        crate::frame::finish(out, at);
    }
}

/// How long a blocking call may wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    /// Until it completes (no `timeout_ms`).
    Forever,
    /// At most this many milliseconds; 0 means "do not wait".
    Ms(u64),
}

/// A pipe end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum End {
    /// End `a` (the sending end of a one-way pipe).
    A,
    /// End `b` (the receiving end of a one-way pipe).
    B,
}

impl End {
    /// The wire name: `"a"` or `"b"`.
    pub fn as_str(self) -> &'static str {
        match self {
            End::A => "a",
            End::B => "b",
        }
    }
    /// The end a message sent on this end arrives at.
    pub fn other(self) -> End {
        match self {
            End::A => End::B,
            End::B => End::A,
        }
    }
    /// The end a wire name names; `None` for anything but `"a"` and `"b"`.
    pub fn parse(s: &str) -> Option<End> {
        match s {
            "a" => Some(End::A),
            "b" => Some(End::B),
            _ => None,
        }
    }
}

/// Creation options given to `open`. `None` means "not given": the default applies on creation
/// and any value is accepted on reopen.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OpenOptions {
    /// For a queue: the most items it holds (0 = unbounded).
    pub maxsize: Option<u64>,
    /// For a semaphore: the permits it starts with.
    pub initial: Option<u64>,
    /// For a barrier: the parties a wait needs.
    pub parties: Option<u64>,
    /// For a pipe: whether both ends send.
    pub duplex: Option<bool>,
    /// For a pipe: messages each inbox holds before a send waits.
    pub capacity: Option<u64>,
    /// For a queue: leased deliveries of one item before it is dead-lettered (0 = never).
    pub max_attempts: Option<u64>,
    /// For a pipe: the end to claim for this connection.
    pub end: Option<End>,
}

/// A checked request. Names are valid UTF-8 of 1..=255 bytes and every value and key is one
/// well-formed MessagePack value; handlers need not check again.
///
/// # Example
///
/// ```
/// use xproc_protocol::{ErrorCode, Request, RequestFields};
///
/// let mut wire = Vec::new();
/// RequestFields::new(9, "queue.get").encode_into(&mut wire); // no name
/// let err = Request::parse(&wire[4..]).unwrap_err();
/// assert_eq!((err.id, err.code, err.fatal), (9, ErrorCode::BadRequest, false));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub enum Request<'a> {
    /// `hello`: the first request of a connection; says who the client is.
    Hello {
        /// The protocol version the client speaks.
        version: u64,
        /// The client's name.
        client: &'a str,
        /// The client's language.
        lang: &'a str,
        /// The pid the client says it has.
        pid: u32,
        /// `None` without a `caps` field; else whether it lists [`CAP_FDS`] (the client can
        /// send and receive descriptors). The connection turns this into what is granted: `fds`
        /// only on a local Unix socket.
        fds: Option<bool>,
        /// Whether `caps` lists [`CAP_DIRECT_PIPES`] (the client can take a pipe end's socket
        /// and run the pipe peer to peer, docs/PROTOCOL.md §6.5.1). Granted only with `fds`.
        direct_pipes: bool,
        /// Whether `caps` lists [`CAP_RINGS`].
        rings: bool,
    },
    /// `ping`: answers at once (a liveness check).
    Ping,
    /// `ring.open`: creates this connection's up and down rings and hands them over (§4.2).
    RingOpen,
    /// `ring.free`: frees down-ring regions (its `ring_free`, which the connection handles
    /// before any op) and nothing else.
    RingFree,
    /// Gives up this connection's blocked request `target` as if its timeout had passed.
    Cancel {
        /// The id of the blocked request to give up.
        target: u64,
    },
    /// `list`: every object, as [`crate::ObjectSummary`] rows.
    List,
    /// One page of the object list, by name: names after `after` (all, when `None`).
    Scan {
        /// The last name of the previous page; `None` for the first page.
        after: Option<&'a str>,
        /// 1..=[`SCAN_MAX_COUNT`].
        count: u64,
    },
    /// `clients`: every connection, as [`crate::ClientInfo`] rows.
    Clients,
    /// `stat`: one object's kind and state.
    Stat {
        /// The object's name.
        name: &'a str,
    },
    /// `delete`: removes an object; calls blocked on it fail with `NotFound`.
    Delete {
        /// The object's name.
        name: &'a str,
    },
    /// `open`: opens the object, creating it if the name is free.
    Open {
        /// The object's name.
        name: &'a str,
        /// The kind asked for.
        kind: Kind,
        /// The creation options given.
        options: OpenOptions,
    },

    /// `queue.put`: appends a value, waiting for room in a bounded queue.
    QueuePut {
        /// The object's name.
        name: &'a str,
        /// The value: the bytes of one MessagePack value.
        value: &'a [u8],
        /// How long the call may wait.
        wait: Wait,
    },
    /// `queue.get`: takes the oldest item, waiting for one.
    QueueGet {
        /// The object's name.
        name: &'a str,
        /// How long the call may wait.
        wait: Wait,
    },
    /// `queue.qsize`: the length, bound and unfinished count.
    QueueQsize {
        /// The object's name.
        name: &'a str,
    },
    /// `queue.task_done`: marks one item of a joinable queue processed.
    QueueTaskDone {
        /// The object's name.
        name: &'a str,
    },
    /// `queue.join`: waits until every item put has been marked done.
    QueueJoin {
        /// The object's name.
        name: &'a str,
        /// How long the call may wait.
        wait: Wait,
    },
    /// `queue.get_leased`: takes the oldest item on a lease, to ack or nack.
    QueueGetLeased {
        /// The object's name.
        name: &'a str,
        /// How long the call may wait.
        wait: Wait,
        /// At least 1.
        lease_ms: u64,
    },
    /// `queue.ack`: settles a leased delivery: the item leaves the queue.
    QueueAck {
        /// The object's name.
        name: &'a str,
        /// The delivery id `queue.get_leased` returned.
        delivery: u64,
    },
    /// `queue.nack`: gives a leased item back to the head of the queue.
    QueueNack {
        /// The object's name.
        name: &'a str,
        /// The delivery id `queue.get_leased` returned.
        delivery: u64,
        /// Milliseconds before the item goes back to the queue.
        delay_ms: u64,
    },
    /// Puts every value, in order, as one request.
    QueuePutMany {
        /// The object's name.
        name: &'a str,
        /// At least one.
        values: Vec<&'a [u8]>,
        /// How long the call may wait.
        wait: Wait,
    },
    /// Takes up to `max` items.
    QueueGetMany {
        /// The object's name.
        name: &'a str,
        /// 1..=[`MAX_BATCH`].
        max: u64,
        /// How long the call may wait.
        wait: Wait,
    },
    /// Takes up to `max` items, each on its own lease.
    QueueGetManyLeased {
        /// The object's name.
        name: &'a str,
        /// 1..=[`MAX_BATCH`].
        max: u64,
        /// How long the call may wait.
        wait: Wait,
        /// At least 1.
        lease_ms: u64,
    },
    /// Acks many deliveries at once.
    QueueAckMany {
        /// The object's name.
        name: &'a str,
        /// The delivery ids to ack.
        deliveries: Vec<u64>,
    },
    /// Gives back a leased delivery its caller never saw (a cancelled `queue.get_leased`
    /// answered first): back to the head at once, the hand-over not counted as an attempt.
    QueueUnlease {
        /// The queue.
        name: &'a str,
        /// The delivery id `queue.get_leased` returned.
        delivery: u64,
    },
    /// Puts back, at the head, a value a `queue.get` took whose caller gave it up.
    QueueUnget {
        /// The queue.
        name: &'a str,
        /// The value to put back (one MessagePack value).
        value: &'a [u8],
    },
    /// Takes one item from the first of `names` that has one (one waiter over all of them).
    QueueGetAny {
        /// 1..=[`MAX_WAIT_OBJECTS`] distinct names.
        names: Vec<&'a str>,
        /// How long to wait for an item.
        wait: Wait,
    },
    /// Waits until at least one of `targets` is ready; takes nothing.
    Wait {
        /// 1..=[`MAX_WAIT_OBJECTS`] distinct targets.
        targets: Vec<Target<'a>>,
        /// How long to wait for one to be ready.
        wait: Wait,
    },

    /// `dict.get`: the value under a key.
    DictGet {
        /// The object's name.
        name: &'a str,
        /// The key: the bytes of one MessagePack value.
        key: &'a [u8],
    },
    /// `dict.set`: sets a key (inserting or overwriting).
    DictSet {
        /// The object's name.
        name: &'a str,
        /// The key: the bytes of one MessagePack value.
        key: &'a [u8],
        /// The value: the bytes of one MessagePack value.
        value: &'a [u8],
    },
    /// `dict.delete`: removes a key.
    DictDelete {
        /// The object's name.
        name: &'a str,
        /// The key: the bytes of one MessagePack value.
        key: &'a [u8],
    },
    /// `dict.contains`: whether a key is there.
    DictContains {
        /// The object's name.
        name: &'a str,
        /// The key: the bytes of one MessagePack value.
        key: &'a [u8],
    },
    /// `dict.len`: the number of entries.
    DictLen {
        /// The object's name.
        name: &'a str,
    },
    /// `dict.keys`: every key, in insertion order.
    DictKeys {
        /// The object's name.
        name: &'a str,
    },
    /// `dict.values`: every value, in insertion order.
    DictValues {
        /// The object's name.
        name: &'a str,
    },
    /// `dict.items`: every entry, in insertion order.
    DictItems {
        /// The object's name.
        name: &'a str,
    },
    /// `dict.update`: sets every pair, atomically.
    DictUpdate {
        /// The object's name.
        name: &'a str,
        /// The (key, value) pairs, each the bytes of one MessagePack value.
        items: Vec<(&'a [u8], &'a [u8])>,
    },
    /// `dict.get_many`: the values under several keys (nil for a missing one).
    DictGetMany {
        /// The object's name.
        name: &'a str,
        /// The keys, each the bytes of one MessagePack value.
        keys: Vec<&'a [u8]>,
    },
    /// `dict.pop`: removes a key and returns its value.
    DictPop {
        /// The object's name.
        name: &'a str,
        /// The key: the bytes of one MessagePack value.
        key: &'a [u8],
    },
    /// `dict.popitem`: removes and returns the most recently inserted entry.
    DictPopItem {
        /// The object's name.
        name: &'a str,
    },
    /// `dict.setdefault`: the value under a key, after setting it if absent.
    DictSetDefault {
        /// The object's name.
        name: &'a str,
        /// The key: the bytes of one MessagePack value.
        key: &'a [u8],
        /// The value: the bytes of one MessagePack value.
        value: &'a [u8],
    },
    /// `dict.clear`: removes every entry.
    DictClear {
        /// The object's name.
        name: &'a str,
    },
    /// One page of a cursor scan: entries whose position is at or after `cursor`.
    DictScan {
        /// The object's name.
        name: &'a str,
        /// Where the previous page stopped (0: the start).
        cursor: u64,
        /// 1..=[`SCAN_MAX_COUNT`].
        count: u64,
    },
    /// `dict.incr`: adds to an integer value (a missing key counts from 0).
    DictIncr {
        /// The object's name.
        name: &'a str,
        /// The key: the bytes of one MessagePack value.
        key: &'a [u8],
        /// What to add.
        delta: i64,
    },
    /// `dict.compare_and_set`: sets a key if it holds the expected value (or is absent).
    DictCompareAndSet {
        /// The object's name.
        name: &'a str,
        /// The key: the bytes of one MessagePack value.
        key: &'a [u8],
        /// The value the key must hold; `None`: the key must be absent.
        expected: Option<&'a [u8]>,
        /// The value: the bytes of one MessagePack value.
        value: &'a [u8],
    },

    /// `pipe.send`: sends a message to the other end, waiting for room.
    PipeSend {
        /// The object's name.
        name: &'a str,
        /// The end this connection holds.
        end: End,
        /// The value: the bytes of one MessagePack value.
        value: &'a [u8],
        /// How long the call may wait.
        wait: Wait,
    },
    /// `pipe.recv`: receives the next message, waiting for one.
    PipeRecv {
        /// The object's name.
        name: &'a str,
        /// The end this connection holds.
        end: End,
        /// How long the call may wait.
        wait: Wait,
    },
    /// `pipe.poll`: whether a message (or end of file) is waiting.
    PipePoll {
        /// The object's name.
        name: &'a str,
        /// The end this connection holds.
        end: End,
        /// How long the call may wait.
        wait: Wait,
    },
    /// `pipe.close`: closes this end; the other end gets what is left, then end of file.
    PipeClose {
        /// The object's name.
        name: &'a str,
        /// The end this connection holds.
        end: End,
    },

    /// `lock.acquire`: takes the lock (`lock` or `rlock`), waiting for it.
    LockAcquire {
        /// The object's name.
        name: &'a str,
        /// How long the call may wait.
        wait: Wait,
    },
    /// `lock.release`: releases the lock (one level of an `rlock`).
    LockRelease {
        /// The object's name.
        name: &'a str,
    },
    /// `semaphore.acquire`: takes a permit, waiting for one.
    SemaphoreAcquire {
        /// The object's name.
        name: &'a str,
        /// How long the call may wait.
        wait: Wait,
    },
    /// `semaphore.release`: returns permits.
    SemaphoreRelease {
        /// The object's name.
        name: &'a str,
        /// Permits to return (`semaphore.release`) or waiters to wake (`condition.notify`).
        n: u64,
    },
    /// `event.set`: sets the flag, waking every waiter.
    EventSet {
        /// The object's name.
        name: &'a str,
    },
    /// `event.clear`: clears the flag.
    EventClear {
        /// The object's name.
        name: &'a str,
    },
    /// `event.is_set`: whether the flag is set.
    EventIsSet {
        /// The object's name.
        name: &'a str,
    },
    /// `event.wait`: waits until the flag is set.
    EventWait {
        /// The object's name.
        name: &'a str,
        /// How long the call may wait.
        wait: Wait,
    },
    /// `condition.acquire`: takes the condition's lock.
    ConditionAcquire {
        /// The object's name.
        name: &'a str,
        /// How long the call may wait.
        wait: Wait,
    },
    /// `condition.release`: releases the condition's lock.
    ConditionRelease {
        /// The object's name.
        name: &'a str,
    },
    /// `condition.wait`: releases the lock, waits for a notify, reacquires the lock.
    ConditionWait {
        /// The object's name.
        name: &'a str,
        /// How long the call may wait.
        wait: Wait,
    },
    /// `condition.notify`: wakes up to `n` waiters.
    ConditionNotify {
        /// The object's name.
        name: &'a str,
        /// Permits to return (`semaphore.release`) or waiters to wake (`condition.notify`).
        n: u64,
    },
    /// `condition.notify_all`: wakes every waiter.
    ConditionNotifyAll {
        /// The object's name.
        name: &'a str,
    },
    /// `barrier.wait`: waits until every party is waiting.
    BarrierWait {
        /// The object's name.
        name: &'a str,
        /// How long the call may wait.
        wait: Wait,
    },
    /// `barrier.abort`: breaks the barrier.
    BarrierAbort {
        /// The object's name.
        name: &'a str,
    },
    /// `barrier.reset`: returns the barrier to its initial, unbroken state.
    BarrierReset {
        /// The object's name.
        name: &'a str,
    },
    /// `barrier.state`: parties, waiting parties and whether it is broken.
    BarrierState {
        /// The object's name.
        name: &'a str,
    },
}

/// Checks an object name's bytes: UTF-8, 1..=[`MAX_NAME_LEN`] bytes. `what` names the field
/// in messages (`name`, `names[3]`).
fn valid_name<'a>(raw: &'a [u8], what: &str) -> Check<&'a str> {
    let name = std::str::from_utf8(raw)
        .map_err(|_| (ErrorCode::InvalidName, format!("{what} is not valid UTF-8")))?;
    if name.is_empty() {
        return Err((ErrorCode::InvalidName, format!("{what} is empty")));
    }
    if name.len() > MAX_NAME_LEN {
        return Err((
            ErrorCode::InvalidName,
            format!(
                "{what} is {} bytes; the limit is {MAX_NAME_LEN}",
                name.len()
            ),
        ));
    }
    Ok(name)
}

/// Wait sets up to this size are checked for repeats pairwise (at most 120 comparisons).
const SMALL_SET: usize = 16;

/// Refuses a wait set that names the same object (or pipe end) twice, naming both places: a
/// repeat is almost always a caller's bug, and "ready twice" or "registered twice" would need
/// a rule of its own.
fn no_repeats<T: std::hash::Hash + Eq + std::fmt::Debug, K: std::hash::Hash + Eq>(
    items: &[T],
    key: impl Fn(&T) -> K,
) -> Check<()> {
    let repeat = |i: usize, first: usize, item: &T| {
        Err((
            ErrorCode::InvalidArgument,
            format!("names[{i}] repeats names[{first}] ({item:?}); name each object once"),
        ))
    };
    // A few names (the usual `get_any` or `wait`): compared pairwise, without hashing or
    // allocating.
    if items.len() <= SMALL_SET {
        for (i, item) in items.iter().enumerate() {
            let k = key(item);
            if let Some(first) = items[..i].iter().position(|x| key(x) == k) {
                return repeat(i, first, item);
            }
        }
        return Ok(());
    }
    let mut seen = std::collections::HashMap::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        if let Some(first) = seen.insert(key(item), i) {
            return repeat(i, first, item);
        }
    }
    Ok(())
}

/// Why a frame is not a request. Carries the request id when it could be read, so the error
/// reply can name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestError {
    /// The request's id, or 0 when it could not be read.
    pub id: u64,
    /// What is wrong, as a wire error code.
    pub code: ErrorCode,
    /// What is wrong, for humans (names the field or the limit).
    pub message: String,
    /// True when the frame could not be decoded as a request map at all: the broker then
    /// closes the connection after replying, since it cannot trust what comes next.
    pub fatal: bool,
}

impl RequestError {
    fn new(id: u64, code: ErrorCode, message: impl Into<String>) -> Self {
        RequestError {
            id,
            code,
            message: message.into(),
            fatal: false,
        }
    }
}

/// Every op this protocol version knows, in documentation order.
pub const OPS: &[&str] = &[
    "hello",
    "ping",
    "list",
    "scan",
    "clients",
    "stat",
    "delete",
    "open",
    "queue.put",
    "queue.get",
    "queue.qsize",
    "queue.task_done",
    "queue.join",
    "queue.get_leased",
    "queue.ack",
    "queue.nack",
    "queue.put_many",
    "queue.get_many",
    "queue.get_many_leased",
    "queue.ack_many",
    "queue.get_any",
    "queue.unget",
    "queue.unlease",
    "wait",
    "dict.get",
    "dict.set",
    "dict.delete",
    "dict.contains",
    "dict.len",
    "dict.keys",
    "dict.values",
    "dict.items",
    "dict.update",
    "dict.get_many",
    "dict.pop",
    "dict.popitem",
    "dict.setdefault",
    "dict.clear",
    "dict.incr",
    "dict.compare_and_set",
    "dict.scan",
    "pipe.send",
    "pipe.recv",
    "pipe.poll",
    "pipe.close",
    "lock.acquire",
    "lock.release",
    "semaphore.acquire",
    "semaphore.release",
    "event.set",
    "event.clear",
    "event.is_set",
    "event.wait",
    "condition.acquire",
    "condition.release",
    "condition.wait",
    "condition.notify",
    "condition.notify_all",
    "barrier.wait",
    "barrier.abort",
    "barrier.reset",
    "barrier.state",
];

/// A request map whose `id` could be read: the envelope every reply needs. Decoding stops here
/// until the connection has decided whether the op may run (before `hello`, only `hello` may),
/// then [`RawRequest::check`] types the fields the op uses.
#[derive(Debug)]
pub struct RawRequest<'a> {
    /// The request id, echoed in the reply.
    pub id: u64,
    fields: Fields<'a>,
}

impl<'a> RawRequest<'a> {
    /// Reads a frame payload as a request map with a uint `id`. An error here means the payload
    /// is not a request at all: the broker answers `BadRequest` with `id` 0 and closes.
    pub fn read(payload: &'a [u8]) -> Result<RawRequest<'a>, RequestError> {
        let fatal = |message: String| RequestError {
            fatal: true,
            ..RequestError::new(0, ErrorCode::BadRequest, message)
        };
        let fields = Fields::read(payload).map_err(fatal)?;
        if fields.duplicate == Some(F::id) {
            return Err(fatal("field 'id' appears twice".into()));
        }
        let id = match fields.uint(F::id) {
            Ok(Some(id)) => id,
            Ok(None) => {
                return Err(fatal(
                    "the request has no 'id' (a uint that its reply echoes)".into(),
                ))
            }
            Err(e) => return Err(fatal(e)),
        };
        Ok(RawRequest { id, fields })
    }

    /// The op, when the request has a `str` one.
    pub fn op(&self) -> Option<&'a str> {
        self.fields.str(F::op).ok().flatten()
    }

    /// Whether the request has an `fds` or a `value_len` field at all (nil included): two slot
    /// tests, nothing parsed. Nearly no request has either, and the broker skips
    /// [`fds`](Self::fds) and [`value_len`](Self::value_len) for those, so a small request
    /// costs what it did before descriptor passing existed.
    pub fn mentions_descriptors(&self) -> bool {
        self.fields.appears(F::fds)
            || self.fields.appears(F::value_len)
            || self.fields.appears(F::ring_off)
            || self.fields.appears(F::ring_min)
            || self.fields.appears(F::ring_free)
    }

    /// `ring_off` (a value in the up ring, §4.2), when the field appears: `Err` when mistyped.
    pub fn ring_off(&self) -> Result<Option<u64>, RequestError> {
        self.fields
            .uint(F::ring_off)
            .map_err(|e| RequestError::new(self.id, ErrorCode::BadRequest, e))
    }

    /// `ring_min` (a reply may use the down ring for a value this large, §4.2).
    pub fn ring_min(&self) -> Result<Option<u64>, RequestError> {
        self.fields
            .uint(F::ring_min)
            .map_err(|e| RequestError::new(self.id, ErrorCode::BadRequest, e))
    }

    /// `ring_free` (down-ring regions the client is done with, §4.2).
    pub fn ring_free(&self) -> Result<Option<Vec<u64>>, RequestError> {
        self.fields
            .uints(F::ring_free)
            .map_err(|e| RequestError::new(self.id, ErrorCode::BadRequest, e))
    }

    /// How many descriptors the request says travel with its frame (its `fds` field; 0 when
    /// absent). A mistyped `fds` is an error for this request only.
    pub fn fds(&self) -> Result<u64, RequestError> {
        self.fields
            .uint(F::fds)
            .map(Option::unwrap_or_default)
            .map_err(|e| RequestError::new(self.id, ErrorCode::BadRequest, e))
    }

    /// The `value_len` of a request whose value travels as a sealed memfd (§4.1) instead of
    /// in `value`: `None` when it has a `value` or no `value_len` (checked by [`check`]).
    ///
    /// [`check`]: RawRequest::check
    pub fn value_len(&self) -> Option<u64> {
        // `value_len` first: it is absent from nearly every request, and looking for it is
        // one slot test, where `value` (present in every put) would be parsed.
        let len = self.fields.uint(F::value_len).ok().flatten()?;
        (!self.fields.has(F::value)).then_some(len)
    }

    /// Checks the fields this op uses and builds the typed request. Errors here are not
    /// fatal: the reply carries the request's id and the connection stays usable.
    pub fn check(&self) -> Result<Request<'a>, RequestError> {
        let c = Checker { f: &self.fields };
        c.request()
            .map_err(|(code, message)| RequestError::new(self.id, code, message))
    }
}

impl<'a> Request<'a> {
    /// Decodes and checks one frame payload.
    pub fn parse(payload: &'a [u8]) -> Result<(u64, Request<'a>), RequestError> {
        let raw = RawRequest::read(payload)?;
        raw.check().map(|r| (raw.id, r))
    }
}

type Check<T> = Result<T, (ErrorCode, String)>;

fn bad(message: String) -> (ErrorCode, String) {
    (ErrorCode::BadRequest, message)
}

struct Checker<'f, 'a> {
    f: &'f Fields<'a>,
}

impl<'a> Checker<'_, 'a> {
    fn op(&self) -> &'a str {
        self.f.str(F::op).ok().flatten().unwrap_or("")
    }

    fn missing(&self, field: F) -> (ErrorCode, String) {
        bad(format!("{} needs field '{}'", self.op(), field.as_str()))
    }

    fn uint(&self, f: F) -> Check<Option<u64>> {
        self.f.uint(f).map_err(bad)
    }

    fn need_uint(&self, f: F) -> Check<u64> {
        self.uint(f)?.ok_or_else(|| self.missing(f))
    }

    fn str(&self, f: F) -> Check<Option<&'a str>> {
        self.f.str(f).map_err(bad)
    }

    fn name(&self) -> Check<&'a str> {
        let raw = self
            .f
            .str_bytes(F::name)
            .map_err(bad)?
            .ok_or_else(|| self.missing(F::name))?;
        valid_name(raw, "name")
    }

    /// `names` of `queue.get_any` and `wait`: 1..=[`MAX_WAIT_OBJECTS`] valid names.
    fn names(&self) -> Check<Vec<&'a str>> {
        let raw = self
            .f
            .strs_raw(F::names)
            .map_err(bad)?
            .ok_or_else(|| self.missing(F::names))?;
        if raw.is_empty() {
            return Err((
                ErrorCode::InvalidArgument,
                format!("{}: names must hold at least one name", self.op()),
            ));
        }
        if raw.len() > MAX_WAIT_OBJECTS {
            return Err((
                ErrorCode::LimitExceeded,
                format!(
                    "{}: names holds {} objects; max_wait_objects is {MAX_WAIT_OBJECTS}",
                    self.op(),
                    raw.len()
                ),
            ));
        }
        raw.into_iter()
            .enumerate()
            // The field's name is only spelled out for an error: a `queue.get_any` over 8
            // queues would otherwise format 8 strings per request.
            .map(|(i, n)| {
                valid_name(n, "names[]").map_err(|(code, message)| {
                    (code, message.replacen("names[]", &format!("names[{i}]"), 1))
                })
            })
            .collect()
    }

    /// The targets of `wait`: `names`, each with its entry of `ends` (absent: all `""`).
    fn targets(&self) -> Check<Vec<Target<'a>>> {
        let names = self.names()?;
        let ends = match self.f.strs_raw(F::ends).map_err(bad)? {
            None => vec![&b""[..]; names.len()],
            Some(e) if e.len() == names.len() => e,
            Some(e) => {
                return Err((
                    ErrorCode::InvalidArgument,
                    format!(
                        "wait: ends holds {} entries but names holds {}; give one per name \
                         (\"\" for objects that are not pipes)",
                        e.len(),
                        names.len()
                    ),
                ))
            }
        };
        let targets = names
            .into_iter()
            .zip(ends)
            .enumerate()
            .map(|(i, (name, end))| {
                let end = match end {
                    b"" => None,
                    b"a" => Some(End::A),
                    b"b" => Some(End::B),
                    other => {
                        return Err((
                            ErrorCode::InvalidArgument,
                            format!(
                                "ends[{i}] must be \"a\", \"b\" or \"\", not {:?}",
                                String::from_utf8_lossy(other)
                            ),
                        ))
                    }
                };
                Ok(Target { name, end })
            })
            .collect::<Check<Vec<_>>>()?;
        no_repeats(&targets, |t| *t)?;
        Ok(targets)
    }

    fn checked(field: F, bytes: &'a [u8]) -> Check<&'a [u8]> {
        value::validate(bytes)
            .map_err(|e| (ErrorCode::InvalidValue, format!("{}: {e}", field.as_str())))?;
        Ok(bytes)
    }

    fn bin(&self, f: F) -> Check<&'a [u8]> {
        let b = self.f.bin(f).map_err(bad)?.ok_or_else(|| self.missing(f))?;
        Self::checked(f, b)
    }

    fn value(&self) -> Check<&'a [u8]> {
        self.bin(F::value)
    }

    /// The `value` of an op that may instead take its value as a sealed memfd (§4.1): with
    /// `value_len` and no `value`, empty here; the connection supplies the descriptor's bytes.
    fn value_or_shared(&self) -> Check<&'a [u8]> {
        if !self.f.has(F::value) && self.f.has(F::value_len) {
            self.uint(F::value_len)?;
            return Ok(&[]);
        }
        self.value()
    }

    fn key(&self) -> Check<&'a [u8]> {
        self.bin(F::key)
    }

    /// A scan's `count`: a hint of at least 1, capped at [`SCAN_MAX_COUNT`].
    fn count(&self) -> Check<u64> {
        match self.uint(F::count)? {
            None => Ok(SCAN_DEFAULT_COUNT),
            Some(0) => Err((
                ErrorCode::InvalidArgument,
                "count must be at least 1".into(),
            )),
            Some(n) => Ok(n.min(SCAN_MAX_COUNT)),
        }
    }

    fn wait(&self) -> Check<Wait> {
        Ok(self.uint(F::timeout_ms)?.map_or(Wait::Forever, Wait::Ms))
    }

    fn lease_ms(&self) -> Check<u64> {
        match self.uint(F::lease_ms)? {
            None => Ok(DEFAULT_LEASE_MS),
            Some(0) => Err((
                ErrorCode::InvalidArgument,
                "lease_ms must be at least 1".into(),
            )),
            Some(ms) => Ok(ms),
        }
    }

    /// `max` of a batch get: required, at least 1; above [`MAX_BATCH`] it is taken as that.
    fn max(&self) -> Check<u64> {
        match self.need_uint(F::max)? {
            0 => Err((ErrorCode::InvalidArgument, "max must be at least 1".into())),
            n => Ok(n.min(MAX_BATCH)),
        }
    }

    /// `values` of `queue.put_many`: at least one, each one well-formed value.
    fn values(&self) -> Check<Vec<&'a [u8]>> {
        let values = self
            .f
            .bins(F::values)
            .map_err(bad)?
            .ok_or_else(|| self.missing(F::values))?;
        if values.is_empty() {
            return Err((
                ErrorCode::InvalidArgument,
                "values must hold at least one value".into(),
            ));
        }
        for (i, v) in values.iter().enumerate() {
            value::validate(v)
                .map_err(|e| (ErrorCode::InvalidValue, format!("values[{i}]: {e}")))?;
        }
        Ok(values)
    }

    fn end(&self) -> Check<End> {
        let end = self.str(F::end)?.ok_or_else(|| self.missing(F::end))?;
        End::parse(end).ok_or_else(|| {
            (
                ErrorCode::InvalidArgument,
                format!("pipe end must be \"a\" or \"b\", not {end:?}"),
            )
        })
    }

    fn request(&self) -> Check<Request<'a>> {
        use Request as R;
        let op = match self.f.str(F::op) {
            Ok(Some(op)) => op,
            Ok(None) => return Err(bad("the request has no 'op'".into())),
            Err(e) => return Err(bad(e)),
        };
        if let Some(f) = self.f.duplicate {
            return Err(bad(format!("field '{}' appears twice", f.as_str())));
        }
        Ok(match op {
            "hello" => R::Hello {
                version: self.need_uint(F::version)?,
                client: self.str(F::client)?.unwrap_or(""),
                lang: self.str(F::lang)?.unwrap_or(""),
                pid: self
                    .f
                    .uint_max(F::pid, u32::MAX as u64)
                    .map_err(bad)?
                    .unwrap_or(0) as u32,
                fds: self
                    .f
                    .strs(F::caps)
                    .map_err(bad)?
                    .map(|caps| caps.contains(&CAP_FDS)),
                direct_pipes: self
                    .f
                    .strs(F::caps)
                    .map_err(bad)?
                    .is_some_and(|caps| caps.contains(&CAP_DIRECT_PIPES)),
                rings: self
                    .f
                    .strs(F::caps)
                    .map_err(bad)?
                    .is_some_and(|caps| caps.contains(&CAP_RINGS)),
            },
            "ping" => R::Ping,
            "cancel" => R::Cancel {
                target: self.need_uint(F::target)?,
            },
            "list" => R::List,
            "scan" => R::Scan {
                after: self.str(F::after)?,
                count: self.count()?,
            },
            "clients" => R::Clients,
            "stat" => R::Stat { name: self.name()? },
            "delete" => R::Delete { name: self.name()? },
            "open" => {
                let kind = self.str(F::kind)?.ok_or_else(|| self.missing(F::kind))?;
                let kind = Kind::parse(kind).ok_or_else(|| {
                    (
                        ErrorCode::InvalidArgument,
                        format!("unknown object kind {kind:?}"),
                    )
                })?;
                let end = match self.f.has(F::end) {
                    true => Some(self.end()?),
                    false => None,
                };
                R::Open {
                    name: self.name()?,
                    kind,
                    options: OpenOptions {
                        maxsize: self.uint(F::maxsize)?,
                        initial: self.uint(F::initial)?,
                        parties: self.uint(F::parties)?,
                        duplex: self.f.boolean(F::duplex).map_err(bad)?,
                        capacity: self.uint(F::capacity)?,
                        max_attempts: self.uint(F::max_attempts)?,
                        end,
                    },
                }
            }
            "queue.put" => R::QueuePut {
                name: self.name()?,
                value: self.value_or_shared()?,
                wait: self.wait()?,
            },
            "queue.get" => R::QueueGet {
                name: self.name()?,
                wait: self.wait()?,
            },
            "queue.qsize" => R::QueueQsize { name: self.name()? },
            "queue.task_done" => R::QueueTaskDone { name: self.name()? },
            "queue.join" => R::QueueJoin {
                name: self.name()?,
                wait: self.wait()?,
            },
            "queue.get_leased" => R::QueueGetLeased {
                name: self.name()?,
                wait: self.wait()?,
                lease_ms: self.lease_ms()?,
            },
            "queue.put_many" => R::QueuePutMany {
                name: self.name()?,
                values: self.values()?,
                wait: self.wait()?,
            },
            "queue.get_many" => R::QueueGetMany {
                name: self.name()?,
                max: self.max()?,
                wait: self.wait()?,
            },
            "queue.get_many_leased" => R::QueueGetManyLeased {
                name: self.name()?,
                max: self.max()?,
                wait: self.wait()?,
                lease_ms: self.lease_ms()?,
            },
            "queue.ack_many" => R::QueueAckMany {
                name: self.name()?,
                deliveries: self
                    .f
                    .uints(F::deliveries)
                    .map_err(bad)?
                    .ok_or_else(|| self.missing(F::deliveries))?,
            },
            "queue.unlease" => R::QueueUnlease {
                name: self.name()?,
                delivery: self.need_uint(F::delivery)?,
            },
            "queue.unget" => R::QueueUnget {
                name: self.name()?,
                value: self.value()?,
            },
            "queue.get_any" => {
                let names = self.names()?;
                no_repeats(&names, |n| *n)?;
                R::QueueGetAny {
                    names,
                    wait: self.wait()?,
                }
            }
            "wait" => R::Wait {
                targets: self.targets()?,
                wait: self.wait()?,
            },
            "queue.ack" => R::QueueAck {
                name: self.name()?,
                delivery: self.need_uint(F::delivery)?,
            },
            "queue.nack" => R::QueueNack {
                name: self.name()?,
                delivery: self.need_uint(F::delivery)?,
                delay_ms: self.uint(F::delay_ms)?.unwrap_or(0),
            },

            "dict.get" => R::DictGet {
                name: self.name()?,
                key: self.key()?,
            },
            "dict.set" => R::DictSet {
                name: self.name()?,
                key: self.key()?,
                value: self.value_or_shared()?,
            },
            "dict.delete" => R::DictDelete {
                name: self.name()?,
                key: self.key()?,
            },
            "dict.contains" => R::DictContains {
                name: self.name()?,
                key: self.key()?,
            },
            "dict.len" => R::DictLen { name: self.name()? },
            "dict.keys" => R::DictKeys { name: self.name()? },
            "dict.values" => R::DictValues { name: self.name()? },
            "dict.items" => R::DictItems { name: self.name()? },
            "dict.update" => {
                let items = self
                    .f
                    .pairs(F::items)
                    .map_err(bad)?
                    .ok_or_else(|| self.missing(F::items))?;
                let items = items
                    .into_iter()
                    .map(|(k, v)| Ok((Self::checked(F::key, k)?, Self::checked(F::value, v)?)))
                    .collect::<Check<Vec<_>>>()?;
                R::DictUpdate {
                    name: self.name()?,
                    items,
                }
            }
            "dict.get_many" => {
                let keys = self
                    .f
                    .bins(F::keys)
                    .map_err(bad)?
                    .ok_or_else(|| self.missing(F::keys))?;
                let keys = keys
                    .into_iter()
                    .map(|k| Self::checked(F::key, k))
                    .collect::<Check<Vec<_>>>()?;
                R::DictGetMany {
                    name: self.name()?,
                    keys,
                }
            }
            "dict.pop" => R::DictPop {
                name: self.name()?,
                key: self.key()?,
            },
            "dict.popitem" => R::DictPopItem { name: self.name()? },
            "dict.setdefault" => R::DictSetDefault {
                name: self.name()?,
                key: self.key()?,
                value: self.value()?,
            },
            "dict.clear" => R::DictClear { name: self.name()? },
            "dict.scan" => R::DictScan {
                name: self.name()?,
                cursor: self.uint(F::cursor)?.unwrap_or(0),
                count: self.count()?,
            },
            "dict.incr" => R::DictIncr {
                name: self.name()?,
                key: self.key()?,
                delta: self.f.int(F::delta).map_err(bad)?.unwrap_or(1),
            },
            "dict.compare_and_set" => R::DictCompareAndSet {
                name: self.name()?,
                key: self.key()?,
                expected: match self.f.has(F::expected) {
                    true => Some(self.bin(F::expected)?),
                    false => None,
                },
                value: self.value()?,
            },

            "pipe.send" => R::PipeSend {
                name: self.name()?,
                end: self.end()?,
                value: self.value_or_shared()?,
                wait: self.wait()?,
            },
            "pipe.recv" => R::PipeRecv {
                name: self.name()?,
                end: self.end()?,
                wait: self.wait()?,
            },
            "pipe.poll" => R::PipePoll {
                name: self.name()?,
                end: self.end()?,
                wait: self.uint(F::timeout_ms)?.map_or(Wait::Ms(0), Wait::Ms),
            },
            "pipe.close" => R::PipeClose {
                name: self.name()?,
                end: self.end()?,
            },

            "lock.acquire" => R::LockAcquire {
                name: self.name()?,
                wait: self.wait()?,
            },
            "lock.release" => R::LockRelease { name: self.name()? },
            "semaphore.acquire" => R::SemaphoreAcquire {
                name: self.name()?,
                wait: self.wait()?,
            },
            "semaphore.release" => R::SemaphoreRelease {
                name: self.name()?,
                n: self.uint(F::n)?.unwrap_or(1),
            },
            "event.set" => R::EventSet { name: self.name()? },
            "event.clear" => R::EventClear { name: self.name()? },
            "event.is_set" => R::EventIsSet { name: self.name()? },
            "event.wait" => R::EventWait {
                name: self.name()?,
                wait: self.wait()?,
            },
            "condition.acquire" => R::ConditionAcquire {
                name: self.name()?,
                wait: self.wait()?,
            },
            "condition.release" => R::ConditionRelease { name: self.name()? },
            "condition.wait" => R::ConditionWait {
                name: self.name()?,
                wait: self.wait()?,
            },
            "condition.notify" => R::ConditionNotify {
                name: self.name()?,
                n: self.uint(F::n)?.unwrap_or(1),
            },
            "condition.notify_all" => R::ConditionNotifyAll { name: self.name()? },
            "barrier.wait" => R::BarrierWait {
                name: self.name()?,
                wait: self.wait()?,
            },
            "barrier.abort" => R::BarrierAbort { name: self.name()? },
            "barrier.reset" => R::BarrierReset { name: self.name()? },
            "barrier.state" => R::BarrierState { name: self.name()? },
            // Last: they share a length with queue.put and queue.get, and a request's op is
            // compared in this order.
            "ring.open" => R::RingOpen,
            "ring.free" => R::RingFree,
            other => {
                return Err((ErrorCode::UnknownOp, format!("unknown op {other:?}")));
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(r: &RequestFields) -> Vec<u8> {
        let mut out = Vec::new();
        r.encode_into(&mut out);
        out.split_off(crate::frame::HEADER_LEN)
    }

    #[test]
    fn every_op_is_known_to_the_parser() {
        for op in OPS {
            let r = RequestFields::new(1, op);
            let err = Request::parse(&payload(&r)).err();
            assert!(
                !matches!(&err, Some(e) if e.code == ErrorCode::UnknownOp),
                "{op}: {err:?}"
            );
        }
    }

    #[test]
    fn put_round_trips() {
        let v = [0x93, 1, 2, 3];
        let r = RequestFields {
            name: Some("tasks".into()),
            value: Some(Bytes::new(&v)),
            timeout_ms: Some(250),
            ..RequestFields::new(7, "queue.put")
        };
        let bytes = payload(&r);
        assert_eq!(
            Request::parse(&bytes).unwrap(),
            (
                7,
                Request::QueuePut {
                    name: "tasks",
                    value: &v,
                    wait: Wait::Ms(250)
                }
            )
        );
    }

    #[test]
    fn bad_names_are_refused_with_the_reason() {
        let long = "x".repeat(256);
        for (name, want) in [
            (&b""[..], "empty"),
            (long.as_bytes(), "limit is 255"),
            (&[0xff, 0xfe][..], "UTF-8"),
        ] {
            // {"id": 3, "op": "queue.qsize", "name": <a str of these bytes>}
            let mut bytes = vec![0x83, 0xa2, b'i', b'd', 0x03, 0xa2, b'o', b'p', 0xab];
            bytes.extend_from_slice(b"queue.qsize");
            bytes.extend_from_slice(&[0xa4, b'n', b'a', b'm', b'e']);
            rmp::encode::write_str_len(&mut bytes, name.len() as u32).unwrap();
            bytes.extend_from_slice(name);
            let err = Request::parse(&bytes).unwrap_err();
            assert_eq!((err.id, err.code), (3, ErrorCode::InvalidName));
            assert!(err.message.contains(want), "{}", err.message);
            assert!(!err.fatal);
        }
    }

    #[test]
    fn malformed_values_are_refused() {
        let r = RequestFields {
            name: Some("q".into()),
            value: Some(Bytes::new(&[0xc1])),
            ..RequestFields::new(4, "queue.put")
        };
        let err = Request::parse(&payload(&r)).unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidValue);
    }

    #[test]
    fn unknown_op_and_garbage() {
        let err = Request::parse(&payload(&RequestFields::new(9, "queue.frobnicate"))).unwrap_err();
        assert_eq!(
            (err.id, err.code, err.fatal),
            (9, ErrorCode::UnknownOp, false)
        );
        let err = Request::parse(b"\xc1garbage").unwrap_err();
        assert_eq!((err.code, err.fatal), (ErrorCode::BadRequest, true));
        // A map whose op has the wrong type is a request with a bad field: answered with its
        // id, and the connection stays.
        let err =
            Request::parse(&[0x82, 0xa2, b'i', b'd', 0x05, 0xa2, b'o', b'p', 0x01]).unwrap_err();
        assert_eq!(
            (err.id, err.code, err.fatal),
            (5, ErrorCode::BadRequest, false)
        );
    }

    #[test]
    fn lease_ops_parse_with_defaults() {
        let r = RequestFields {
            name: Some("q".into()),
            ..RequestFields::new(1, "queue.get_leased")
        };
        assert_eq!(
            Request::parse(&payload(&r)).unwrap().1,
            Request::QueueGetLeased {
                name: "q",
                wait: Wait::Forever,
                lease_ms: DEFAULT_LEASE_MS
            }
        );
        let r = RequestFields {
            name: Some("q".into()),
            lease_ms: Some(0),
            ..RequestFields::new(2, "queue.get_leased")
        };
        assert_eq!(
            Request::parse(&payload(&r)).unwrap_err().code,
            ErrorCode::InvalidArgument
        );
        let r = RequestFields {
            name: Some("q".into()),
            ..RequestFields::new(3, "queue.ack")
        };
        let e = Request::parse(&payload(&r)).unwrap_err();
        assert_eq!(e.code, ErrorCode::BadRequest);
        assert!(e.message.contains("delivery"), "{}", e.message);
        let r = RequestFields {
            name: Some("q".into()),
            delivery: Some(9),
            ..RequestFields::new(4, "queue.nack")
        };
        assert_eq!(
            Request::parse(&payload(&r)).unwrap().1,
            Request::QueueNack {
                name: "q",
                delivery: 9,
                delay_ms: 0
            }
        );
    }

    #[test]
    fn unknown_fields_are_ignored() {
        // {"id": 1, "op": "ping", "future": [1, 2]}
        let bytes = [
            0x83, 0xa2, b'i', b'd', 0x01, 0xa2, b'o', b'p', 0xa4, b'p', b'i', b'n', b'g', 0xa6,
            b'f', b'u', b't', b'u', b'r', b'e', 0x92, 0x01, 0x02,
        ];
        assert_eq!(Request::parse(&bytes).unwrap(), (1, Request::Ping));
    }
}
