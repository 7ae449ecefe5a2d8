//! Descriptor passing where the OS has none to pass (Windows): the names `unix.rs` exports,
//! so the connection code is written once. `hello` never grants `fds` here
//! (docs/PROTOCOL.md §1.3), so no peer is asked to send descriptors.

use std::io::{self, Read, Write};

use super::{Received, Stream};

/// No descriptor can exist here: the type has no values.
#[derive(Debug)]
pub enum Descriptor {}

/// The local endpoint cannot carry descriptors.
pub const PASSES_FDS: bool = false;

/// A plain read: no descriptors can come with it.
pub fn recv_with_fds(stream: &mut Stream, buf: &mut [u8]) -> io::Result<Received> {
    stream.read(buf).map(|n| Received {
        n,
        fds: Vec::new(),
        truncated: false,
    })
}

/// A plain write when there is nothing to attach; descriptors cannot be sent here.
pub fn send_with_fds(stream: &mut Stream, buf: &[u8], fds: &[Descriptor]) -> io::Result<usize> {
    if fds.is_empty() {
        return stream.write(buf);
    }
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "descriptor passing is not supported on this OS",
    ))
}

/// A value passed as a sealed memfd: none can arrive here.
#[derive(Debug)]
pub enum SealedValue {}

impl SealedValue {
    /// Never called: no descriptor exists to open.
    pub fn open(fd: Descriptor, _len: u64) -> Result<SealedValue, super::SealError> {
        match fd {}
    }

    /// The value's bytes.
    pub fn bytes(&self) -> &[u8] {
        match *self {}
    }

    /// The descriptor.
    pub fn fd(&self) -> &Descriptor {
        match *self {}
    }

    /// The value's size.
    pub fn size(&self) -> usize {
        match *self {}
    }
}

/// Direct pipes need descriptor passing: never offered here (`hello` grants no
/// `direct_pipes`), so pipes stay brokered.
pub fn direct_pair() -> io::Result<(Descriptor, Descriptor)> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "direct pipes are not supported on this OS",
    ))
}

/// Never called: no pair is ever made here.
pub fn direct_write_all_now(side: &Descriptor, _buf: &[u8]) -> bool {
    match *side {}
}

/// A direct pipe's counters page: none exists here.
#[derive(Debug)]
pub enum DirectPage {}

impl DirectPage {
    /// Never made here.
    pub fn new() -> io::Result<(DirectPage, Descriptor, Descriptor)> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "direct pipes are not supported on this OS",
        ))
    }
    /// Uninhabited.
    pub fn load(&self, _offset: usize) -> u64 {
        match *self {}
    }
    /// Uninhabited.
    pub fn store(&self, _offset: usize, _v: u64) {
        match *self {}
    }
}

/// A value ring's mapping: none exists here (`hello` never grants `rings`).
#[derive(Debug)]
pub enum RingMap {}

impl RingMap {
    /// Uninhabited.
    pub fn len(&self) -> usize {
        match *self {}
    }
    /// Uninhabited.
    pub fn is_empty(&self) -> bool {
        match *self {}
    }
    /// Uninhabited.
    pub fn copy_out(&self, _off: usize, _len: usize) -> Box<[u8]> {
        match *self {}
    }
    /// Uninhabited.
    pub fn write(&self, _off: usize, _bytes: &[u8]) {
        match *self {}
    }
    /// Uninhabited.
    pub fn bytes(&self, _off: usize, _len: usize) -> &[u8] {
        match *self {}
    }
    /// Uninhabited.
    pub fn copy_from(&self, _to: usize, _src: &RingMap, _from: usize, _len: usize) {
        match *self {}
    }
}

/// Rings need memfds and descriptor passing: never made here.
pub fn ring_pair(_size: usize) -> io::Result<(RingMap, RingMap, Descriptor, Descriptor)> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "rings are not supported on this OS",
    ))
}
