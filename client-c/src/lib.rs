//! libxproc: the C ABI of the xproc client, built on the Rust client (`client-rust`, crate
//! `xproc`, renamed `xproc_client` here) and its raw-bytes layer. The header
//! `include/xproc.h` is generated from this crate by cbindgen and committed.
//!
//! # Layout
//!
//! - `status.rs`: `xproc_status_e`, the code every fallible call returns, and
//!   `xproc_status_str`.
//! - `error.rs`: this crate's error enum, its mapping to statuses, and the thread-local last
//!   error message (`xproc_last_error`).
//! - `panic.rs`: the wrapper every entry point runs its body in: catches panics, records the
//!   error message, returns the status.
//! - `handle.rs`: opaque handles (a magic number, then the Rust object) and argument helpers
//!   (NULL checks, (pointer, length) strings, timeouts, returned buffers).
//! - `value.rs`: `xproc_value_t`, the small value API (build, read, encode, decode), and
//!   `xproc_bytes_free`.
//! - `view.rs`: `xproc_view_t`, a value handed over without a copy (a sealed memfd's read-only
//!   mapping) or as an owned buffer, and the `*_get_view` / `xproc_pipe_recv_view` calls.
//! - `client.rs`: connecting, ping, list/stat/clients/delete.
//! - `queue.rs`, `dict.rs`, `pipe.rs`: value-carrying objects, each in a `_raw` flavour
//!   (MessagePack bytes, for bindings) and a value flavour (`xproc_value_t`, for C programs).
//! - `lock.rs`, `semaphore.rs`, `event.rs`, `condition.rs`, `barrier.rs`: sync primitives.
//! - `wait.rs`: waiting on many objects at once (`xproc_queue_get_any*`, `xproc_wait`).
//! - `evloop.rs`: the event-loop API: `xproc_client_event_fd`, `*_start`, `xproc_client_process`,
//!   completions, `xproc_client_cancel`; `evloop_more.rs` (join, leased get and
//!   `xproc_queue_unlease`, barrier and condition waits) and `evloop_pipe.rs` (pipe send,
//!   receive, poll) add more started requests.
//!
//! # Rules every entry point follows
//!
//! Arguments are checked before anything is sent (a NULL out-parameter must not cost a queue
//! its item); out-parameters are cleared first, then filled only on success; the body runs in
//! [`panic::ffi`], so no panic unwinds into C; and every call that returns an
//! `xproc_status_e` leaves a message for `xproc_last_error` (empty on success).

// The C names (`xproc_queue_t`, `xproc_status_e`) are the API.
#![allow(non_camel_case_types)]
// One safety contract covers every function (documented in the header's preamble and in
// docs/C.md): pointers are NULL or valid for the stated length, handles are live.
#![allow(clippy::missing_safety_doc)]

// The header lists items in the order cbindgen meets them, so these modules are declared in
// reading order (blank lines keep rustfmt from sorting them): statuses and errors, values,
// the client, then each object.
pub mod status;

pub mod error;

pub mod value;

pub mod client;

pub mod queue;

pub mod stream;

pub mod dict;

pub mod pipe;

pub mod view;

pub mod lock;

pub mod semaphore;

pub mod event;

pub mod condition;

pub mod barrier;

pub mod wait;

pub mod evloop;

pub mod evloop_more;

pub mod evloop_pipe;

mod handle;
mod panic;

pub use barrier::*;
pub use client::*;
pub use condition::*;
pub use dict::*;
pub use error::{
    xproc_last_error, xproc_set_interruptible, xproc_version, XPROC_VERSION_MAJOR,
    XPROC_VERSION_MINOR, XPROC_VERSION_PATCH,
};
pub use event::*;
pub use evloop::*;
pub use evloop_more::*;
pub use evloop_pipe::*;
pub use lock::*;
pub use pipe::*;
pub use queue::*;
pub use semaphore::*;
pub use status::*;
pub use stream::*;
pub use value::*;
pub use view::*;
pub use wait::*;

/// The Rust tests that call every `extern "C"` function through raw pointers, as C does. They
/// live in tests/ffi/ but compile into this library's test binary (see Cargo.toml: no rlib).
#[cfg(test)]
#[path = "../tests/ffi/main.rs"]
mod ffi_tests;
