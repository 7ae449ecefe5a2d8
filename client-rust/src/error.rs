//! The client's error type: one small enum that tells apart what a caller may want to handle
//! (nothing there yet, a timeout, a full queue, a closed pipe, a broker that went away) from
//! what it will only report (other broker errors, encoding failures).
//!
//! Errors a broker sends (a reply's `error` code and `message`, docs/PROTOCOL.md §7) are mapped
//! here by [`Error::from_reply`]; [`Error::code`] maps back, so a caller (or the C ABI) can still
//! get the wire code of any broker-originated error.

use std::path::PathBuf;

use xproc_protocol::ErrorCode;

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in a client call.
///
/// # Example
///
/// ```no_run
/// # fn main() -> xproc::Result<()> {
/// # let client = xproc::Client::connect_default()?;
/// use std::time::Duration;
///
/// let tasks = client.queue::<u32>("tasks")?;
/// match tasks.get_timeout(Duration::from_millis(100)) {
///     Ok(n) => println!("{n}"),
///     Err(xproc::Error::Timeout) => println!("empty for 100 ms"),
///     Err(xproc::Error::Decode { .. }) => println!("not a u32 (and taken from the queue)"),
///     Err(e) => eprintln!("xproc: {e}"),
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Nothing accepts connections at `path` (no broker running, wrong path, or no permission).
    #[error("no broker at {}: {source}", path.display())]
    NoBroker {
        /// The socket path tried.
        path: PathBuf,
        /// What `connect` reported.
        source: std::io::Error,
    },
    /// A blocking call's timeout passed (`queue.Empty`/`queue.Full` after a timeout in Python).
    #[error("timed out")]
    Timeout,
    /// A non-blocking get or recv found nothing (Python's `queue.Empty`).
    #[error("empty")]
    Empty,
    /// A non-blocking put or send found no room (Python's `queue.Full`).
    #[error("full")]
    Full,
    /// The name holds an object of another kind.
    #[error("type mismatch: {0}")]
    TypeMismatch(String),
    /// The pipe's other end is closed (for a receive: and nothing is left) — end of file.
    #[error("pipe closed: {0}")]
    Closed(String),
    /// The connection to the broker is gone (the broker stopped or closed this connection).
    /// Every call on this client fails with it from then on; connect again.
    #[error("disconnected from the broker: {0}")]
    Disconnected(String),
    /// A broker limit refused the request: `max_frame` (code `TooLarge`, also checked by the
    /// client before sending), `max_clients`, `max_objects` or `memory_limit`
    /// (`LimitExceeded`). The message names the limit.
    #[error("{message}")]
    Limit {
        /// `TooLarge` or `LimitExceeded`.
        code: ErrorCode,
        /// Names the limit and its value.
        message: String,
    },
    /// The dict has no such key (Python's `KeyError`).
    #[error("key not found: {0}")]
    KeyNotFound(String),
    /// The caller does not hold the lock or pipe end the call needs.
    #[error("not the owner: {0}")]
    NotOwner(String),
    /// The pipe end is held by another connection (the message names its pid).
    #[error("busy: {0}")]
    Busy(String),
    /// The barrier is broken: aborted, a wait timed out, or a waiting party disconnected.
    #[error("broken barrier: {0}")]
    BrokenBarrier(String),
    /// An argument out of range or an operation not allowed in the object's state (Python's
    /// `ValueError`): `task_done` too often, a bounded semaphore over-released, ...
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// The broker is stopping; blocked calls are answered with this.
    #[error("broker is shutting down: {0}")]
    ShuttingDown(String),
    /// `ack` or `nack` of a delivery this connection does not hold: already settled, its lease
    /// ran out (the item went back to the queue), or never handed out here.
    #[error("unknown delivery: {0}")]
    UnknownDelivery(String),
    /// The broker refused this connection: its allow-lists (`allow_uids`, `allow_gids`) do
    /// not include this process's user or groups. The message names the uid and gids.
    #[error("{0}")]
    Denied(String),
    /// Any other error the broker reported, with its wire code (which may be one this client
    /// version does not know) and message.
    #[error("{code}: {message}")]
    Broker {
        /// The wire code, e.g. `"NotFound"`.
        code: String,
        /// The broker's explanation.
        message: String,
    },
    /// A typed value could not be encoded as MessagePack.
    #[error("cannot encode value: {0}")]
    Encode(#[from] rmp_serde::encode::Error),
    /// A value from the broker does not decode as the requested type. The value was already
    /// taken from the object (e.g. by a `get`); `raw` holds its bytes so nothing is lost.
    #[error("cannot decode value as the requested type: {source}")]
    Decode {
        /// What the decoder reported.
        source: rmp_serde::decode::Error,
        /// The value's MessagePack bytes.
        raw: Vec<u8>,
    },
    /// A value of a batch ([`Queue::get_many`](crate::Queue::get_many)) does not decode as
    /// the requested type. The batch was taken from the queue: `raw` holds every value of
    /// it, in order, so none is lost; `index` is the first that failed.
    #[error("value {index} of a batch cannot be decoded as the requested type: {source}")]
    DecodeBatch {
        /// The position in the batch of the first value that failed.
        index: usize,
        /// Why it did not decode.
        source: rmp_serde::decode::Error,
        /// Every value of the batch, as MessagePack bytes, in order.
        raw: Vec<Vec<u8>>,
    },
    /// An earlier [`put_async`](crate::RawQueue::put_async) failed: the item at `position`
    /// (0-based, counted over every `put_async` on the handle) and the items after it in
    /// the same batch were not put. Reported once, by the next `put_async` or `flush`.
    #[error("put_async item {position} was not put: {source}")]
    PutAsync {
        /// The failed item's position, counted over every `put_async` on the handle.
        position: u64,
        /// What the broker answered for it.
        source: Box<Error>,
    },
    /// A signal interrupted a blocking call on a thread that asked for that
    /// ([`set_interruptible`](crate::set_interruptible)); the request was cancelled at the
    /// broker, so it took nothing (a `get` left its item in the queue).
    #[error("interrupted by a signal; the request was cancelled")]
    Interrupted,
    /// The broker sent something that does not follow docs/PROTOCOL.md.
    #[error("protocol error: {0}")]
    Protocol(String),
}

impl Error {
    /// Maps an error reply (`error` code, `message`) to an [`Error`].
    pub fn from_reply(code: &str, message: &str) -> Error {
        let msg = || message.to_string();
        match ErrorCode::parse(code) {
            Some(ErrorCode::Timeout) => Error::Timeout,
            Some(ErrorCode::Empty) => Error::Empty,
            Some(ErrorCode::Full) => Error::Full,
            Some(ErrorCode::TypeMismatch) => Error::TypeMismatch(msg()),
            Some(ErrorCode::Closed) => Error::Closed(msg()),
            Some(c @ (ErrorCode::TooLarge | ErrorCode::LimitExceeded)) => Error::Limit {
                code: c,
                message: msg(),
            },
            Some(ErrorCode::KeyNotFound) => Error::KeyNotFound(msg()),
            Some(ErrorCode::NotOwner) => Error::NotOwner(msg()),
            Some(ErrorCode::Busy) => Error::Busy(msg()),
            Some(ErrorCode::BrokenBarrier) => Error::BrokenBarrier(msg()),
            Some(ErrorCode::InvalidArgument) => Error::InvalidArgument(msg()),
            Some(ErrorCode::ShuttingDown) => Error::ShuttingDown(msg()),
            Some(ErrorCode::Denied) => Error::Denied(msg()),
            Some(ErrorCode::UnknownDelivery) => Error::UnknownDelivery(msg()),
            _ => Error::Broker {
                code: code.to_string(),
                message: msg(),
            },
        }
    }

    /// The wire error code this error stands for, when it came from (or mirrors) a broker
    /// error; `None` for client-side failures (no broker, disconnect, encoding, protocol).
    /// An unknown wire code maps to [`ErrorCode::Internal`].
    pub fn code(&self) -> Option<ErrorCode> {
        Some(match self {
            Error::Timeout => ErrorCode::Timeout,
            Error::Empty => ErrorCode::Empty,
            Error::Full => ErrorCode::Full,
            Error::TypeMismatch(_) => ErrorCode::TypeMismatch,
            Error::Closed(_) => ErrorCode::Closed,
            Error::Limit { code, .. } => *code,
            Error::KeyNotFound(_) => ErrorCode::KeyNotFound,
            Error::NotOwner(_) => ErrorCode::NotOwner,
            Error::Busy(_) => ErrorCode::Busy,
            Error::BrokenBarrier(_) => ErrorCode::BrokenBarrier,
            Error::InvalidArgument(_) => ErrorCode::InvalidArgument,
            Error::ShuttingDown(_) => ErrorCode::ShuttingDown,
            Error::Denied(_) => ErrorCode::Denied,
            Error::UnknownDelivery(_) => ErrorCode::UnknownDelivery,
            Error::Broker { code, .. } => ErrorCode::parse(code).unwrap_or(ErrorCode::Internal),
            Error::PutAsync { source, .. } => return source.code(),
            Error::NoBroker { .. }
            | Error::Disconnected(_)
            | Error::Interrupted
            | Error::Encode(_)
            | Error::Decode { .. }
            | Error::DecodeBatch { .. }
            | Error::Protocol(_) => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_wire_code_maps_back_to_itself() {
        for &c in ErrorCode::ALL {
            let e = Error::from_reply(c.as_str(), "why");
            assert_eq!(e.code(), Some(c), "{c}: {e:?}");
        }
    }

    #[test]
    fn handled_codes_get_their_own_variant() {
        assert!(matches!(Error::from_reply("Empty", ""), Error::Empty));
        assert!(matches!(Error::from_reply("Timeout", ""), Error::Timeout));
        assert!(matches!(
            Error::from_reply("Closed", "eof"),
            Error::Closed(m) if m == "eof"
        ));
        let e = Error::from_reply("LimitExceeded", "memory_limit (1024 bytes) reached");
        assert_eq!(e.to_string(), "memory_limit (1024 bytes) reached");
        let e = Error::from_reply("NotFound", "no object named 'x'");
        assert_eq!(e.to_string(), "NotFound: no object named 'x'");
    }

    #[test]
    fn unknown_codes_stay_visible() {
        let e = Error::from_reply("FancyNewCode", "from the future");
        assert_eq!(e.to_string(), "FancyNewCode: from the future");
        assert_eq!(e.code(), Some(ErrorCode::Internal));
    }

    #[test]
    fn no_broker_names_the_path() {
        let e = Error::NoBroker {
            path: "/tmp/nowhere.sock".into(),
            source: std::io::Error::from(std::io::ErrorKind::NotFound),
        };
        assert!(
            e.to_string().starts_with("no broker at /tmp/nowhere.sock"),
            "{e}"
        );
        assert_eq!(e.code(), None);
    }
}
