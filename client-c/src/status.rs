//! `xproc_status_e`: the status every fallible call returns, one per kind of failure a caller
//! may want to tell apart, and `xproc_status_str` for its name.

use std::ffi::{c_char, c_int};

/// The result of every fallible libxproc call. `XPROC_OK` (0) is success; anything else is a
/// failure whose details `xproc_last_error()` gives. Values are stable: new statuses are only
/// ever added at the end.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum xproc_status_e {
    /// Success.
    XPROC_OK = 0,
    /// Nothing accepts connections at the socket path (no broker running, wrong path, or no
    /// permission).
    XPROC_NO_BROKER = 1,
    /// A blocking call's timeout passed (Python's `queue.Empty`/`queue.Full` after a timeout).
    XPROC_TIMEOUT = 2,
    /// A non-blocking get or receive (timeout 0) found nothing.
    XPROC_EMPTY = 3,
    /// A non-blocking put or send (timeout 0) found no room.
    XPROC_FULL = 4,
    /// The name holds an object of another kind.
    XPROC_TYPE_MISMATCH = 5,
    /// The pipe's other end is closed (for a receive: and nothing is left), or this end was
    /// closed with `xproc_pipe_close`: end of file.
    XPROC_CLOSED = 6,
    /// The connection to the broker is gone; every later call on this client fails the same
    /// way. Connect again.
    XPROC_DISCONNECTED = 7,
    /// A broker limit refused the request (frame size, clients, objects, memory); the message
    /// names the limit.
    XPROC_LIMIT = 8,
    /// The dict has no such key (Python's `KeyError`).
    XPROC_KEY_NOT_FOUND = 9,
    /// The caller's connection does not hold the lock or pipe end the call needs.
    XPROC_NOT_OWNER = 10,
    /// The pipe end is held by another connection (the message names its pid).
    XPROC_BUSY = 11,
    /// The barrier is broken: aborted, a wait timed out, or a waiting party disconnected.
    XPROC_BROKEN_BARRIER = 12,
    /// An argument out of range or not allowed in the object's state (Python's `ValueError`):
    /// `task_done` too often, a bounded semaphore released too far, a bad pipe end, a string
    /// that is not UTF-8, a handle of the wrong type.
    XPROC_INVALID_ARGUMENT = 13,
    /// A pointer argument that must not be NULL was NULL.
    XPROC_NULL_ARGUMENT = 14,
    /// The broker is stopping; blocked calls are answered with this.
    XPROC_SHUTTING_DOWN = 15,
    /// No object has this name (it was deleted, or never opened).
    XPROC_NOT_FOUND = 16,
    /// Opening an existing object with a creation option that differs from its own (the
    /// message names the option).
    XPROC_OPTION_MISMATCH = 17,
    /// An object name that is empty, longer than 255 bytes, or not UTF-8.
    XPROC_INVALID_NAME = 18,
    /// Bytes that are not exactly one well-formed MessagePack value.
    XPROC_INVALID_VALUE = 19,
    /// A value of the wrong type for the operation: `xproc_value_as_int64` on a string,
    /// `xproc_dict_incr` on a non-integer.
    XPROC_WRONG_TYPE = 20,
    /// An index past the end, or a number that does not fit the requested C type.
    XPROC_OUT_OF_RANGE = 21,
    /// Any other error the broker reported; the message starts with its wire code.
    XPROC_BROKER_ERROR = 22,
    /// The broker sent something that does not follow the protocol.
    XPROC_PROTOCOL_ERROR = 23,
    /// A bug inside libxproc was caught before it could cross into C; the message says where.
    XPROC_PANIC = 24,
    /// `xproc_queue_ack`/`xproc_queue_nack` of a delivery this connection does not hold: already
    /// acked or nacked, its lease ran out (the item went back to the queue), or never handed
    /// out here.
    XPROC_UNKNOWN_DELIVERY = 25,
    /// The broker's allow-lists refused this connection (its uid and gids are not listed).
    XPROC_DENIED = 26,
    /// A signal interrupted a blocking call on a thread that asked for that with
    /// `xproc_set_interruptible`; the request was cancelled at the broker and took nothing.
    XPROC_INTERRUPTED = 27,
}

use xproc_status_e::*;

impl xproc_status_e {
    /// Every status, in numeric order.
    pub const ALL: &'static [xproc_status_e] = &[
        XPROC_OK,
        XPROC_NO_BROKER,
        XPROC_TIMEOUT,
        XPROC_EMPTY,
        XPROC_FULL,
        XPROC_TYPE_MISMATCH,
        XPROC_CLOSED,
        XPROC_DISCONNECTED,
        XPROC_LIMIT,
        XPROC_KEY_NOT_FOUND,
        XPROC_NOT_OWNER,
        XPROC_BUSY,
        XPROC_BROKEN_BARRIER,
        XPROC_INVALID_ARGUMENT,
        XPROC_NULL_ARGUMENT,
        XPROC_SHUTTING_DOWN,
        XPROC_NOT_FOUND,
        XPROC_OPTION_MISMATCH,
        XPROC_INVALID_NAME,
        XPROC_INVALID_VALUE,
        XPROC_WRONG_TYPE,
        XPROC_OUT_OF_RANGE,
        XPROC_BROKER_ERROR,
        XPROC_PROTOCOL_ERROR,
        XPROC_PANIC,
        XPROC_UNKNOWN_DELIVERY,
        XPROC_DENIED,
        XPROC_INTERRUPTED,
    ];

    /// The status's name as a NUL-terminated static string.
    fn name(self) -> &'static [u8] {
        match self {
            XPROC_OK => b"XPROC_OK\0",
            XPROC_NO_BROKER => b"XPROC_NO_BROKER\0",
            XPROC_TIMEOUT => b"XPROC_TIMEOUT\0",
            XPROC_EMPTY => b"XPROC_EMPTY\0",
            XPROC_FULL => b"XPROC_FULL\0",
            XPROC_TYPE_MISMATCH => b"XPROC_TYPE_MISMATCH\0",
            XPROC_CLOSED => b"XPROC_CLOSED\0",
            XPROC_DISCONNECTED => b"XPROC_DISCONNECTED\0",
            XPROC_LIMIT => b"XPROC_LIMIT\0",
            XPROC_KEY_NOT_FOUND => b"XPROC_KEY_NOT_FOUND\0",
            XPROC_NOT_OWNER => b"XPROC_NOT_OWNER\0",
            XPROC_BUSY => b"XPROC_BUSY\0",
            XPROC_BROKEN_BARRIER => b"XPROC_BROKEN_BARRIER\0",
            XPROC_INVALID_ARGUMENT => b"XPROC_INVALID_ARGUMENT\0",
            XPROC_NULL_ARGUMENT => b"XPROC_NULL_ARGUMENT\0",
            XPROC_SHUTTING_DOWN => b"XPROC_SHUTTING_DOWN\0",
            XPROC_NOT_FOUND => b"XPROC_NOT_FOUND\0",
            XPROC_OPTION_MISMATCH => b"XPROC_OPTION_MISMATCH\0",
            XPROC_INVALID_NAME => b"XPROC_INVALID_NAME\0",
            XPROC_INVALID_VALUE => b"XPROC_INVALID_VALUE\0",
            XPROC_WRONG_TYPE => b"XPROC_WRONG_TYPE\0",
            XPROC_OUT_OF_RANGE => b"XPROC_OUT_OF_RANGE\0",
            XPROC_BROKER_ERROR => b"XPROC_BROKER_ERROR\0",
            XPROC_PROTOCOL_ERROR => b"XPROC_PROTOCOL_ERROR\0",
            XPROC_PANIC => b"XPROC_PANIC\0",
            XPROC_UNKNOWN_DELIVERY => b"XPROC_UNKNOWN_DELIVERY\0",
            XPROC_DENIED => b"XPROC_DENIED\0",
            XPROC_INTERRUPTED => b"XPROC_INTERRUPTED\0",
        }
    }
}

/// The name of a status, e.g. `"XPROC_TIMEOUT"`.
///
/// `status` is an `xproc_status_e`; it is taken as an `int` so that any value is safe to pass
/// (an unknown one gives `"XPROC_UNKNOWN_STATUS"`). Returns a static, NUL-terminated string:
/// never NULL, never to be freed. Thread-safe; does not touch `xproc_last_error()`.
#[no_mangle]
pub extern "C" fn xproc_status_str(status: c_int) -> *const c_char {
    let name: &'static [u8] = usize::try_from(status)
        .ok()
        .and_then(|i| xproc_status_e::ALL.get(i))
        .map_or(b"XPROC_UNKNOWN_STATUS\0", |s| s.name());
    name.as_ptr().cast()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    #[test]
    fn all_is_in_numeric_order_and_names_match() {
        for (i, s) in xproc_status_e::ALL.iter().enumerate() {
            assert_eq!(*s as usize, i);
            let name = unsafe { CStr::from_ptr(xproc_status_str(i as c_int)) };
            assert_eq!(name.to_str().unwrap(), format!("{s:?}"));
        }
        let unknown = unsafe { CStr::from_ptr(xproc_status_str(-1)) };
        assert_eq!(unknown.to_str().unwrap(), "XPROC_UNKNOWN_STATUS");
    }
}
