//! This crate's error type, its mapping to `xproc_status_e`, and the thread-local last error
//! message behind `xproc_last_error()` (the libgit2 `git_error_last` pattern).

use std::cell::RefCell;
use std::ffi::{c_char, c_int, CString};

use xproc_client::ErrorCode;

use crate::status::xproc_status_e::{self, *};

/// `Result` with [`Error`].
pub(crate) type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything an entry point can fail with: the Rust client's errors, plus argument checks
/// made before anything is sent.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Error {
    /// An error from the Rust client (or the broker, through it).
    #[error(transparent)]
    Client(#[from] xproc_client::Error),
    /// A required pointer argument was NULL; names the argument.
    #[error("argument '{0}' is NULL")]
    Null(&'static str),
    /// An argument that is not NULL but not acceptable either.
    #[error("{0}")]
    InvalidArgument(String),
    /// An object name that is not UTF-8 (the broker checks the rest: empty, over 255 bytes).
    #[error("{0}")]
    InvalidName(String),
    /// A value of the wrong type for the call.
    #[error("{0}")]
    WrongType(String),
    /// An index or number out of range.
    #[error("{0}")]
    OutOfRange(String),
    /// Bytes that are not one well-formed MessagePack value.
    #[error("invalid MessagePack value: {0}")]
    InvalidValue(String),
    /// This pipe end was closed by `xproc_pipe_close`.
    #[error("this pipe end was closed by xproc_pipe_close")]
    EndClosed,
    /// A status decided earlier, with its message (a started request's outcome).
    #[error("{1}")]
    Status(xproc_status_e, String),
}

impl Error {
    /// The status this error is reported as.
    pub(crate) fn status(&self) -> xproc_status_e {
        use xproc_client::Error as E;
        match self {
            Error::Null(_) => XPROC_NULL_ARGUMENT,
            Error::InvalidArgument(_) => XPROC_INVALID_ARGUMENT,
            Error::InvalidName(_) => XPROC_INVALID_NAME,
            Error::WrongType(_) => XPROC_WRONG_TYPE,
            Error::OutOfRange(_) => XPROC_OUT_OF_RANGE,
            Error::InvalidValue(_) => XPROC_INVALID_VALUE,
            Error::EndClosed => XPROC_CLOSED,
            Error::Status(status, _) => *status,
            Error::Client(e) => match e {
                E::NoBroker { .. } => XPROC_NO_BROKER,
                E::Timeout => XPROC_TIMEOUT,
                E::Empty => XPROC_EMPTY,
                E::Full => XPROC_FULL,
                E::TypeMismatch(_) => XPROC_TYPE_MISMATCH,
                E::Closed(_) => XPROC_CLOSED,
                E::Disconnected(_) => XPROC_DISCONNECTED,
                E::Limit { .. } => XPROC_LIMIT,
                E::KeyNotFound(_) => XPROC_KEY_NOT_FOUND,
                E::NotOwner(_) => XPROC_NOT_OWNER,
                E::Busy(_) => XPROC_BUSY,
                E::BrokenBarrier(_) => XPROC_BROKEN_BARRIER,
                E::InvalidArgument(_) => XPROC_INVALID_ARGUMENT,
                E::ShuttingDown(_) => XPROC_SHUTTING_DOWN,
                E::Encode(_) | E::Decode { .. } => XPROC_INVALID_VALUE,
                E::Protocol(_) => XPROC_PROTOCOL_ERROR,
                E::UnknownDelivery(_) => XPROC_UNKNOWN_DELIVERY,
                E::Denied(_) => XPROC_DENIED,
                E::Interrupted => XPROC_INTERRUPTED,
                E::DecodeBatch { .. } => XPROC_INVALID_VALUE,
                // A put_async the broker refused: reported with the refusal's own status.
                E::PutAsync { source, .. } => match **source {
                    E::Timeout => XPROC_TIMEOUT,
                    E::Full => XPROC_FULL,
                    E::Disconnected(_) => XPROC_DISCONNECTED,
                    E::Limit { .. } => XPROC_LIMIT,
                    E::TypeMismatch(_) => XPROC_TYPE_MISMATCH,
                    E::ShuttingDown(_) => XPROC_SHUTTING_DOWN,
                    _ => match source.code() {
                        Some(ErrorCode::NotFound) => XPROC_NOT_FOUND,
                        Some(ErrorCode::InvalidValue) => XPROC_INVALID_VALUE,
                        _ => XPROC_BROKER_ERROR,
                    },
                },
                E::Broker { code, .. } => match ErrorCode::parse(code) {
                    Some(ErrorCode::NotFound) => XPROC_NOT_FOUND,
                    Some(ErrorCode::OptionMismatch) => XPROC_OPTION_MISMATCH,
                    Some(ErrorCode::InvalidName) => XPROC_INVALID_NAME,
                    Some(ErrorCode::InvalidValue) => XPROC_INVALID_VALUE,
                    Some(ErrorCode::WrongType) => XPROC_WRONG_TYPE,
                    _ => XPROC_BROKER_ERROR,
                },
                // A client error this version of libxproc does not know yet.
                _ => XPROC_BROKER_ERROR,
            },
        }
    }
}

thread_local! {
    /// The message of the last failed call on this thread; empty after a success.
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

/// Records `message` as this thread's last error. Interior NULs (which a C string cannot
/// hold) are replaced so the message is never lost.
pub(crate) fn set_last_error(message: &str) {
    let c = CString::new(message.replace('\0', "\\0")).unwrap_or_default();
    LAST_ERROR.with(|slot| *slot.borrow_mut() = c);
}

/// Clears this thread's last error; called as every status-returning entry point starts.
pub(crate) fn clear_last_error() {
    LAST_ERROR.with(|slot| {
        let mut slot = slot.borrow_mut();
        if !slot.as_bytes().is_empty() {
            *slot = CString::default();
        }
    });
}

/// The message explaining the last failed call made on this thread, e.g. `"no broker at
/// /tmp/x.sock: No such file or directory (os error 2)"`; an empty string if that call
/// succeeded (every call returning an `xproc_status_e` sets or clears it).
///
/// Returns a NUL-terminated string owned by libxproc: never NULL, not to be freed, valid until
/// the next libxproc call on the same thread (copy it to keep it). Thread-safe: each thread
/// has its own.
#[no_mangle]
pub extern "C" fn xproc_last_error() -> *const c_char {
    // A thread-local being destroyed (a call from a TLS destructor) gives a static "".
    LAST_ERROR
        .try_with(|slot| slot.borrow().as_ptr())
        .unwrap_or(c"".as_ptr())
}

/// Makes blocking calls made by *the calling thread* return `XPROC_INTERRUPTED` when a
/// signal handler interrupts them (`on` nonzero), instead of waiting on (`on` 0, the default).
///
/// For hosts that run their signal handlers only once a call returns, as Python does for
/// Ctrl-C: install the handler without `SA_RESTART`, make the waiting thread interruptible,
/// and a signal ends its blocking call. The request is cancelled at the broker first, so it
/// took nothing (an interrupted get left its item in the queue); if it had completed anyway,
/// the call returns its real result instead. Only the thread reading for its connection sees
/// the signal: a call waiting while another thread of the same client reads is not
/// interrupted. Thread-safe (a per-thread setting); never fails.
#[no_mangle]
pub extern "C" fn xproc_set_interruptible(on: c_int) {
    xproc_client::set_interruptible(on != 0);
}

/// The major version of the libxproc this header belongs to (compare with `xproc_version()`,
/// the library actually loaded). Kept equal to the crate's version by a test.
pub const XPROC_VERSION_MAJOR: u32 = 0;

/// The minor version of the libxproc this header belongs to.
pub const XPROC_VERSION_MINOR: u32 = 1;

/// The patch version of the libxproc this header belongs to.
pub const XPROC_VERSION_PATCH: u32 = 0;

/// The version of libxproc, e.g. `"0.1.0"`: a static NUL-terminated string, never NULL, never
/// to be freed. Thread-safe.
#[no_mangle]
pub extern "C" fn xproc_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}

#[cfg(test)]
mod version_tests {
    /// The header's XPROC_VERSION_* macros come from these constants: a version bump in
    /// Cargo.toml must update them (and regenerate the header) or this fails.
    #[test]
    fn version_constants_match_the_crate() {
        let parse = |s: &str| s.parse::<u32>().expect("a numeric version part");
        assert_eq!(
            super::XPROC_VERSION_MAJOR,
            parse(env!("CARGO_PKG_VERSION_MAJOR"))
        );
        assert_eq!(
            super::XPROC_VERSION_MINOR,
            parse(env!("CARGO_PKG_VERSION_MINOR"))
        );
        assert_eq!(
            super::XPROC_VERSION_PATCH,
            parse(env!("CARGO_PKG_VERSION_PATCH"))
        );
    }
}
