//! Error codes: the stable, documented names a reply's `error` field carries.
//!
//! Codes are strings on the wire so that a reader of a packet capture, or a client in a new
//! language, needs no table to understand them. The set only grows; a client that meets a code
//! it does not know treats it as a generic failure and shows the message.

macro_rules! codes {
    ($($(#[$doc:meta])* $variant:ident),* $(,)?) => {
        /// Every error a broker can send. See docs/PROTOCOL.md, "Error codes".
        ///
        /// # Example
        ///
        /// ```
        /// use xproc_protocol::ErrorCode;
        ///
        /// assert_eq!(ErrorCode::KeyNotFound.as_str(), "KeyNotFound");
        /// assert_eq!(ErrorCode::parse("LimitExceeded"), Some(ErrorCode::LimitExceeded));
        /// ```
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $($(#[$doc])* $variant,)*
        }

        impl ErrorCode {
            /// All codes, in the order docs/PROTOCOL.md lists them.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant),*];

            /// The code as sent on the wire.
            pub fn as_str(self) -> &'static str {
                match self { $(ErrorCode::$variant => stringify!($variant),)* }
            }

            /// Parses a wire code; `None` for a code this version does not know.
            pub fn parse(s: &str) -> Option<ErrorCode> {
                match s { $(stringify!($variant) => Some(ErrorCode::$variant),)* _ => None }
            }
        }
    };
}

codes! {
    /// The frame is not a MessagePack map with an integer `id` and a string `op`, or a field
    /// has the wrong type or is missing. Sent before the connection is closed when the frame
    /// could not be decoded at all.
    BadRequest,
    /// The `op` is not one this broker knows.
    UnknownOp,
    /// The client's protocol version is not one this broker speaks.
    BadVersion,
    /// A request other than `hello` arrived before the handshake.
    HelloRequired,
    /// A frame or a value is larger than the broker's limit (the message names the limit).
    TooLarge,
    /// A broker-wide limit (memory budget, clients, objects) refuses the request.
    LimitExceeded,
    /// The peer is not on the broker's allow-list.
    Denied,
    /// An object name is empty, longer than 255 bytes, or not UTF-8.
    InvalidName,
    /// A `value` or `key` is not exactly one well-formed MessagePack value.
    InvalidValue,
    /// An argument is out of range or the operation is not allowed in the object's state
    /// (Python's `ValueError`): `task_done` called too often, a bounded semaphore released
    /// above its initial value, sending on the receive-only end of a one-way pipe.
    InvalidArgument,
    /// No object has this name (it was never opened, or was deleted).
    NotFound,
    /// The name holds an object of another kind.
    TypeMismatch,
    /// Reopening an object with a creation option that differs from the one it was created with.
    OptionMismatch,
    /// A non-blocking `get` (or `recv`) found nothing.
    Empty,
    /// A non-blocking `put` (or `send`) found no room.
    Full,
    /// A blocking call's timeout passed.
    Timeout,
    /// The pipe end this call needs is closed: the peer end closed or its holder went away.
    /// For `recv`, sent only once everything the peer sent has been received (end of file).
    Closed,
    /// A pipe end is already held by another connection (the message names its pid).
    Busy,
    /// The caller does not hold the lock (or pipe end) the call requires.
    NotOwner,
    /// `queue.ack` / `queue.nack` with a delivery id this connection does not hold on that
    /// queue: already acked or nacked, its lease ran out (the item went back), another
    /// connection's, or never issued.
    UnknownDelivery,
    /// The dict has no such key.
    KeyNotFound,
    /// The dict value is not of the type the operation needs (`incr` on a non-integer).
    WrongType,
    /// The barrier is broken (aborted, timed out, or a party disconnected while waiting).
    BrokenBarrier,
    /// The broker is shutting down; blocked calls are answered with this.
    ShuttingDown,
    /// A bug in the broker. Please report it.
    Internal,
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for c in ErrorCode::ALL {
            assert_eq!(ErrorCode::parse(c.as_str()), Some(*c));
        }
        assert_eq!(ErrorCode::parse("NoSuchCode"), None);
    }
}
