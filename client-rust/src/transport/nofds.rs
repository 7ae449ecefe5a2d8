//! Descriptor passing where the OS has none (Windows): the names `unix.rs` exports, so the
//! connection code is written once; `hello` never asks for `fds` here.

use std::io;

/// No descriptor can exist here.
#[derive(Debug)]
pub(crate) enum Descriptor {}

/// The local endpoint cannot carry descriptors.
pub(crate) const PASSES_FDS: bool = false;

/// Memfd values do not exist here.
pub(crate) fn sealed_value(_bytes: &[u8]) -> io::Result<Descriptor> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "no memfd on this OS",
    ))
}

/// Memfd values never arrive here.
pub(crate) fn read_sealed(fd: &Descriptor, _len: u64) -> io::Result<Vec<u8>> {
    match *fd {}
}

/// A mapped memfd value: none can arrive here.
#[derive(Debug)]
pub(crate) enum Mapped {}

impl Mapped {
    pub(crate) fn open(fd: &Descriptor, _len: u64) -> io::Result<Mapped> {
        match *fd {}
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        match *self {}
    }
}

impl super::LocalStream {
    /// A plain read: no descriptors come on a named pipe.
    pub(crate) fn recv_fds(
        &mut self,
        buf: &mut [u8],
        now: bool,
    ) -> io::Result<(usize, Vec<Descriptor>)> {
        let n = if now {
            self.recv_now(buf)?
        } else {
            io::Read::read(self, buf)?
        };
        Ok((n, Vec::new()))
    }

    /// Descriptors cannot be sent on a named pipe.
    pub(crate) fn send_with_fd(&self, _buf: &[u8], fd: &Descriptor) -> io::Result<usize> {
        match *fd {}
    }
}

/// A direct pipe's socket: none is ever handed over here (`hello` asks for no
/// `direct_pipes`), so pipes stay brokered.
#[derive(Debug)]
pub(crate) enum DirectSocket {}

impl DirectSocket {
    pub(crate) fn new(fd: Descriptor) -> DirectSocket {
        match fd {}
    }

    pub(crate) fn wait(
        &self,
        _write: bool,
        _timeout: Option<std::time::Duration>,
    ) -> io::Result<bool> {
        match *self {}
    }

    pub(crate) fn recv(&self, _buf: &mut [u8], _now: bool) -> io::Result<(usize, Vec<Descriptor>)> {
        match *self {}
    }

    pub(crate) fn set_read_timeout(&self, _timeout: Option<std::time::Duration>) -> io::Result<()> {
        match *self {}
    }

    pub(crate) fn send_all(&self, _buf: &[u8]) -> io::Result<()> {
        match *self {}
    }

    pub(crate) fn send_now(&self, _buf: &[u8]) -> io::Result<usize> {
        match *self {}
    }
}

/// A direct pipe's counters page: none is ever handed over here.
#[derive(Debug)]
pub(crate) enum CountersPage {}

impl CountersPage {
    pub(crate) fn map(fd: Descriptor) -> io::Result<CountersPage> {
        match fd {}
    }

    pub(crate) fn u64_at(&self, _offset: usize) -> &std::sync::atomic::AtomicU64 {
        match *self {}
    }

    pub(crate) fn u32_at(&self, _offset: usize) -> &std::sync::atomic::AtomicU32 {
        match *self {}
    }
}

/// A value ring: none can exist here (`hello` never asks for `rings`).
#[derive(Debug)]
pub(crate) enum RingMapping {}

impl RingMapping {
    pub(crate) fn map(fd: &Descriptor, _writable: bool) -> io::Result<RingMapping> {
        match *fd {}
    }

    pub(crate) fn len(&self) -> usize {
        match *self {}
    }

    pub(crate) fn bytes(&self, _off: usize, _len: usize) -> &[u8] {
        match *self {}
    }

    pub(crate) fn write(&self, _off: usize, _bytes: &[u8]) {
        match *self {}
    }

    #[allow(clippy::mut_from_ref)]
    pub(crate) fn slice_mut(&self, _off: usize, _len: usize) -> &mut [u8] {
        match *self {}
    }
}
