//! The event-loop descriptor where there is none yet (every OS but Linux, Windows included):
//! the names `notify.rs` exports, so `events.rs` is written once; making one fails, and every
//! event-loop call then says the API is not supported here.

use std::ffi::c_int;
use std::io;

use super::Stream;

/// No event-loop descriptor can exist here.
#[derive(Debug)]
pub(crate) enum Notifier {}

impl Notifier {
    /// Always `Unsupported`.
    pub(crate) fn new(_sock: &Stream) -> io::Result<Notifier> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "the event-loop API (event_fd, start, process) is implemented on Linux only so far",
        ))
    }

    pub(crate) fn fd(&self) -> c_int {
        match *self {}
    }

    pub(crate) fn waker(&self) -> Box<dyn Fn() + Send> {
        match *self {}
    }

    pub(crate) fn drain(&self) {
        match *self {}
    }
}
