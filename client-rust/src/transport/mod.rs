//! The client's transport: the only OS-specific code in the crate. Each OS module exports the
//! same names, so `conn.rs` and `client.rs` are written once (as the broker's `transport/` and
//! mio's `sys/{unix,windows}` do):
//!
//! - [`Stream`]: a connected byte stream to the broker, with `connect`, `try_clone` (one handle
//!   reads while the other writes), `Read`, `set_read_timeout` (a blocking read that gives up
//!   after a while) and `send_all` (never raises SIGPIPE);
//! - [`fork_generation`]: a counter that changes in a forked child, so a child never writes on
//!   its parent's connection;
//! - [`default_local_endpoint`]: where a broker of this user listens when nothing else is said.
//!
//! Unix domain sockets (`unix.rs`) and Windows named pipes (`windows.rs`).

#[cfg(unix)]
mod unix;
#[cfg(unix)]
pub(crate) use unix::*;

#[cfg(windows)]
mod windows;
#[cfg(windows)]
pub(crate) use windows::*;
