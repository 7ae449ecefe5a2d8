//! Replies: one flat map per reply, shared by the broker (which encodes) and clients (which
//! decode).
//!
//! A reply always has the request's `id`. A failed request has `error` (a code from
//! [`ErrorCode`]) and `message` (for humans); a successful one has no
//! `error` and carries the op's result fields. Fields a given op does not use are absent.
//! Decoders must ignore fields they do not know.

use serde::{Deserialize, Serialize};
use serde_bytes::Bytes;

use crate::error::ErrorCode;

/// A reply as it is on the wire. See docs/PROTOCOL.md for which op returns which field.
///
/// # Example
///
/// ```
/// use xproc_protocol::{ErrorCode, ReplyFields};
///
/// let mut wire = Vec::new();
/// ReplyFields::err(3, ErrorCode::Empty, "queue 'tasks' is empty").encode_into(&mut wire);
/// let reply = ReplyFields::decode(&wire[4..]).unwrap();
/// assert_eq!(reply.id, 3);
/// assert_eq!(reply.error_code(), Some(ErrorCode::Empty));
/// ```
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ReplyFields<'a> {
    /// The id of the request this answers (0 for an error about a frame that was not a request).
    pub id: u64,
    /// Set on failure: the error code's wire name ([`ErrorCode`]); absent on success.
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub error: Option<&'a str>,
    /// Set on failure: what went wrong, for humans.
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub message: Option<&'a str>,
    /// A user value: the bytes of one MessagePack value, as `bin`.
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub value: Option<&'a Bytes>,
    /// `dict.popitem`: the key taken (the bytes of one MessagePack value).
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub key: Option<&'a Bytes>,
    /// `dict.values` (every entry present) and `dict.get_many` (nil for a missing key).
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub values: Option<Vec<Option<&'a Bytes>>>,
    /// `dict.keys`: every key, in insertion order.
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub keys: Option<Vec<&'a Bytes>>,
    /// `dict.items`, `dict.scan`: (key, value) pairs, in insertion order.
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub items: Option<Vec<(&'a Bytes, &'a Bytes)>>,
    /// `queue.qsize`, `dict.len`: items or entries now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub len: Option<u64>,
    /// `queue.qsize`, `open` (queues): the bound (0 = unbounded).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maxsize: Option<u64>,
    /// `queue.qsize`: items put and not yet marked done (joinable queues).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unfinished: Option<u64>,
    /// `dict.incr`: the new value; `condition.notify*`: how many waiters were woken.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub n: Option<i64>,
    /// Acquires: whether the lock or permit was taken (false: the timeout passed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acquired: Option<bool>,
    /// Set on an acquire that got a lock whose previous owner disconnected while holding it:
    /// that owner's pid.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub abandoned_by: Option<u32>,
    /// `event.is_set`, `event.wait`: whether the flag is set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub set: Option<bool>,
    /// `pipe.poll`: whether a message (or end of file) is waiting.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ready: Option<bool>,
    /// `dict.contains`: whether the key is there.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub found: Option<bool>,
    /// `dict.compare_and_set`: whether the value was set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub swapped: Option<bool>,
    /// `open`: whether this request created the object.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created: Option<bool>,
    /// `cancel`: whether the target was still blocked (it is answered now, before this reply).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cancelled: Option<bool>,
    /// `delete`: whether there was an object to delete.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deleted: Option<bool>,
    /// `condition.wait`: whether a notify came (false: the timeout passed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notified: Option<bool>,
    /// `barrier.wait`: this party's arrival index, 0..parties-1; `queue.get_any`: which of
    /// `names` the value came from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<u64>,
    /// `wait`: the positions in `names` of the objects that are ready, ascending (empty when
    /// the timeout passed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub indices: Option<Vec<u64>>,
    /// `barrier.state`, `open` (barriers): the parties a wait needs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parties: Option<u64>,
    /// `barrier.state`: parties waiting now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub n_waiting: Option<u64>,
    /// `barrier.state`: whether the barrier is broken.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub broken: Option<bool>,
    /// `open`, `stat`: the object's kind (a [`crate::Kind`] wire name).
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub kind: Option<&'a str>,
    /// `open` (semaphores): the initial permits.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub initial: Option<u64>,
    /// `open` (pipes): whether both ends send.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duplex: Option<bool>,
    /// `open` (pipes): messages each inbox holds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capacity: Option<u64>,
    /// `hello`: the protocol version the broker speaks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<u64>,
    /// `hello`: the broker's name and version, e.g. `"xprocd 0.1.0"`.
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub server: Option<&'a str>,
    /// `hello`: this connection's id, as `clients` shows it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conn_id: Option<u64>,
    /// `hello`: the broker's limits.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limits: Option<Limits>,
    /// `list`, `scan`: the objects, by name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub objects: Option<Vec<ObjectSummary>>,
    /// `stat`: the object's state as ordered (field, value) pairs, encoded as a map.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub info: Option<Info>,
    /// `clients`: every connection.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clients: Option<Vec<ClientInfo>>,
    /// `queue.get_leased`: the delivery id to `queue.ack` or `queue.nack` with.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivery: Option<u64>,
    /// `queue.get_leased`: which leased delivery of this item this is (1 = the first).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attempt: Option<u64>,
    /// `open` (queues): the queue's `max_attempts`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_attempts: Option<u64>,
    /// `queue.get_many_leased`: each value's delivery id, in the order of `values`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deliveries: Option<Vec<u64>>,
    /// `queue.get_many_leased`: each value's attempt, in the order of `values`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attempts: Option<Vec<u64>>,
    /// `queue.put_many` failing with `Full` or `Timeout`: how many of its values (the first
    /// ones) were put before it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub put: Option<u64>,
    /// `queue.ack_many`: the deliveries that were not held by this connection (not acked).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unknown: Option<Vec<u64>>,
    /// `dict.scan`: the cursor of the next page; 0 when the scan is complete.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cursor: Option<u64>,
    /// `scan`: the name to pass as `after` for the next page; absent when the scan is complete.
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub next: Option<&'a str>,
    /// `hello`, when the request listed `caps`: the capabilities granted on this connection.
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub caps: Option<Vec<&'a str>>,
    /// `hello`, when `fds` is granted: most descriptors one frame may carry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_fds: Option<u64>,
    /// How many descriptors travel with this frame (docs/PROTOCOL.md §1.3).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fds: Option<u64>,
    /// The size of a value that travels as a sealed memfd (the frame's descriptor) instead of
    /// in `value` (docs/PROTOCOL.md §4.1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value_len: Option<u64>,
    /// `pipe.send`, `pipe.recv`, `pipe.poll`: the op was not done; the pipe runs peer to peer
    /// and this end's socket and counters page came with this frame (`fds: 2`, socket first)
    /// or with an earlier reply (docs/PROTOCOL.md §6.5.1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub direct: Option<bool>,
    /// `queue.get`, `dict.get`, `pipe.recv` to a request with `ring_min`: where in the down
    /// ring the value's `value_len` bytes start, in place of `value` (docs/PROTOCOL.md §4.2).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ring_off: Option<u64>,
    /// `ring.open`: the size in bytes of each ring (`fds: 2`, up ring first).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ring_size: Option<u64>,
}

impl<'a> ReplyFields<'a> {
    /// A successful reply with no result fields yet.
    pub fn ok(id: u64) -> Self {
        ReplyFields {
            id,
            ..Default::default()
        }
    }

    /// An error reply.
    pub fn err(id: u64, code: ErrorCode, message: &'a str) -> Self {
        ReplyFields {
            id,
            error: Some(code.as_str()),
            message: Some(message),
            ..Default::default()
        }
    }

    /// Appends this reply, framed, to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        let at = crate::frame::begin(out);
        self.serialize(&mut rmp_serde::Serializer::new(&mut *out).with_struct_map())
            .expect("encoding into a Vec cannot fail");
        crate::frame::finish(out, at);
    }

    /// Appends this reply, framed, to `out` if its payload is at most `max` bytes (clamped
    /// to what the 32-bit header can say); otherwise leaves `out` as it was and returns
    /// [`ReplyTooLarge`]. Encoding stops as soon as the limit is passed, so an oversized
    /// reply costs at most `max` bytes of work and memory, and never panics.
    pub fn encode_bounded(&self, out: &mut Vec<u8>, max: usize) -> Result<(), ReplyTooLarge> {
        let at = crate::frame::begin(out);
        let max = max.min(u32::MAX as usize);
        let mut capped = Capped {
            out: &mut *out,
            end: at + crate::frame::HEADER_LEN + max,
        };
        let encoded =
            self.serialize(&mut rmp_serde::Serializer::new(&mut capped).with_struct_map());
        if encoded.is_err() {
            out.truncate(at);
            return Err(ReplyTooLarge { max });
        }
        crate::frame::finish(out, at);
        Ok(())
    }

    /// Decodes one frame payload.
    pub fn decode(payload: &'a [u8]) -> Result<Self, rmp_serde::decode::Error> {
        rmp_serde::from_slice(payload)
    }

    /// The error code, if this reply is an error. A code this version does not know maps to
    /// [`ErrorCode::Internal`] so that callers still see a failure.
    pub fn error_code(&self) -> Option<ErrorCode> {
        self.error
            .map(|c| ErrorCode::parse(c).unwrap_or(ErrorCode::Internal))
    }
}

/// A reply whose payload would pass the limit given to [`ReplyFields::encode_bounded`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplyTooLarge {
    /// The limit, in bytes.
    pub max: usize,
}

impl std::fmt::Display for ReplyTooLarge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "reply exceeds max_frame ({} bytes)", self.max)
    }
}

impl std::error::Error for ReplyTooLarge {}

/// A writer into a `Vec` that refuses to let it grow past `end` bytes.
struct Capped<'a> {
    out: &'a mut Vec<u8>,
    end: usize,
}

impl std::io::Write for Capped<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.out.len() + buf.len() > self.end {
            return Err(std::io::Error::other("reply above its limit"));
        }
        self.out.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The broker's limits, sent in the `hello` reply so clients can refuse oversized values before
/// sending them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Limits {
    /// Largest frame payload the broker accepts, in bytes.
    pub max_frame: u64,
    /// Most connections at once.
    pub max_clients: u64,
    /// Most objects at once.
    pub max_objects: u64,
    /// Bytes of values the broker holds across all objects.
    pub memory_limit: u64,
}

/// One row of `list`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ObjectSummary {
    /// The object's name.
    pub name: String,
    /// Its kind's wire name.
    pub kind: String,
    /// Items held: queue length, dict entries, messages in both pipe inboxes; 0 for sync objects.
    pub len: u64,
    /// Requests blocked on the object.
    pub waiters: u64,
}

/// One row of `clients`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ClientInfo {
    /// The connection's id.
    pub conn_id: u64,
    /// The peer's pid, from the socket's credentials (a TCP peer's is the one it gave in
    /// `hello`).
    pub pid: u32,
    /// The peer's uid, from the socket's credentials (4294967295 for a TCP peer).
    pub uid: u32,
    /// The peer's gid, from the socket's credentials (4294967295 for a TCP peer).
    pub gid: u32,
    /// The `client` name from `hello`.
    pub name: String,
    /// The `lang` from `hello`.
    pub lang: String,
    /// Objects this connection holds something of: "lock dev", "pipe chan/a", "semaphore s x2".
    pub holds: Vec<String>,
    /// Objects this connection is blocked on: "queue.get tasks".
    pub waits: Vec<String>,
    /// A TCP peer's address (`"10.0.0.2:40312"`); absent on the local socket.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub addr: Option<String>,
    /// The name of the authkey a TCP peer proved; absent on the local socket.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

/// A scalar in a `stat` reply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum InfoValue {
    /// MessagePack nil (a field with no value now, such as a free lock's holder).
    Nil,
    /// A boolean.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A string.
    Str(String),
    /// A list of scalars.
    List(Vec<InfoValue>),
}

impl std::fmt::Display for InfoValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            InfoValue::Nil => f.write_str("-"),
            InfoValue::Bool(b) => write!(f, "{b}"),
            InfoValue::Int(n) => write!(f, "{n}"),
            InfoValue::Str(s) => f.write_str(s),
            InfoValue::List(l) => {
                f.write_str("[")?;
                for (i, v) in l.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{v}")?;
                }
                f.write_str("]")
            }
        }
    }
}

impl From<u64> for InfoValue {
    fn from(n: u64) -> Self {
        InfoValue::Int(n.min(i64::MAX as u64) as i64)
    }
}
impl From<usize> for InfoValue {
    fn from(n: usize) -> Self {
        InfoValue::from(n as u64)
    }
}
impl From<u32> for InfoValue {
    fn from(n: u32) -> Self {
        InfoValue::Int(n as i64)
    }
}
impl From<bool> for InfoValue {
    fn from(b: bool) -> Self {
        InfoValue::Bool(b)
    }
}
impl From<&str> for InfoValue {
    fn from(s: &str) -> Self {
        InfoValue::Str(s.to_string())
    }
}
impl<T: Into<InfoValue>> From<Option<T>> for InfoValue {
    fn from(o: Option<T>) -> Self {
        o.map_or(InfoValue::Nil, Into::into)
    }
}

/// `stat`'s ordered (field, value) pairs; on the wire a map.
///
/// # Example
///
/// ```
/// use xproc_protocol::{Info, InfoValue};
///
/// let mut info = Info::default();
/// info.add("len", 3u64).add("holder_pid", None::<u32>);
/// assert_eq!(info.get("len"), Some(&InfoValue::Int(3)));
/// assert_eq!(info.get("holder_pid"), Some(&InfoValue::Nil));
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Info(pub Vec<(String, InfoValue)>);

impl Info {
    /// Adds a field.
    pub fn add(&mut self, field: &str, v: impl Into<InfoValue>) -> &mut Self {
        self.0.push((field.to_string(), v.into()));
        self
    }

    /// Looks a field up.
    pub fn get(&self, field: &str) -> Option<&InfoValue> {
        self.0.iter().find(|(k, _)| k == field).map(|(_, v)| v)
    }
}

impl Serialize for Info {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

impl<'de> Deserialize<'de> for Info {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Info;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a map")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut a: A) -> Result<Info, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = a.next_entry::<String, InfoValue>()? {
                    out.push((k, v));
                }
                Ok(Info(out))
            }
        }
        d.deserialize_map(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(r: &ReplyFields) -> Vec<u8> {
        let mut out = Vec::new();
        r.encode_into(&mut out);
        out.split_off(crate::frame::HEADER_LEN)
    }

    #[test]
    fn value_reply_round_trips() {
        let v = [0xa3, b'a', b'b', b'c'];
        let bytes = round_trip(&ReplyFields {
            value: Some(Bytes::new(&v)),
            ..ReplyFields::ok(42)
        });
        let back = ReplyFields::decode(&bytes).unwrap();
        assert_eq!(back.id, 42);
        assert_eq!(back.value.map(|b| &b[..]), Some(&v[..]));
        assert_eq!(back.error_code(), None);
    }

    #[test]
    fn error_reply_round_trips() {
        let bytes = round_trip(&ReplyFields::err(
            3,
            ErrorCode::Full,
            "queue 'q' is full (maxsize 1)",
        ));
        let back = ReplyFields::decode(&bytes).unwrap();
        assert_eq!(back.error_code(), Some(ErrorCode::Full));
        assert_eq!(back.message, Some("queue 'q' is full (maxsize 1)"));
    }

    #[test]
    fn info_keeps_order_and_types() {
        let mut info = Info::default();
        info.add("kind", "lock")
            .add("holder_pid", Some(17u32))
            .add("waiters", 2u64)
            .add("x", None::<u64>);
        let bytes = round_trip(&ReplyFields {
            info: Some(info.clone()),
            ..ReplyFields::ok(1)
        });
        let back = ReplyFields::decode(&bytes).unwrap();
        assert_eq!(back.info, Some(info));
    }

    #[test]
    fn bounded_encoding_stops_at_the_limit_and_leaves_the_buffer_as_it_was() {
        let v = vec![0xc4u8; 1000];
        let r = ReplyFields {
            value: Some(Bytes::new(&v)),
            ..ReplyFields::ok(7)
        };
        let mut whole = Vec::new();
        r.encode_into(&mut whole);
        let payload = whole.len() - crate::frame::HEADER_LEN;
        let mut out = b"before".to_vec();
        assert_eq!(
            r.encode_bounded(&mut out, payload - 1),
            Err(ReplyTooLarge { max: payload - 1 })
        );
        assert_eq!(out, b"before");
        assert_eq!(r.encode_bounded(&mut out, payload), Ok(()));
        assert_eq!(&out[6..], &whole[..]);
    }

    #[test]
    fn get_many_values_carry_nil_for_missing() {
        let v = [0x01];
        let r = ReplyFields {
            values: Some(vec![Some(Bytes::new(&v)), None]),
            ..ReplyFields::ok(1)
        };
        let bytes = round_trip(&r);
        let back = ReplyFields::decode(&bytes).unwrap();
        assert_eq!(back.values, Some(vec![Some(Bytes::new(&v)), None]));
    }
}
