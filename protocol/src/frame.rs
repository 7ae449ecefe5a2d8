//! Framing: a 4-byte big-endian length, then that many bytes of one MessagePack value.
//!
//! This module never does IO. [`check`] looks at the front of a receive buffer and answers
//! "incomplete", "too large" or "ready" *before* anyone allocates for the payload, so a
//! peer announcing a 4 GiB frame costs us four bytes of reading, not four gigabytes.

/// Bytes in the length prefix.
pub const HEADER_LEN: usize = 4;

/// What the front of a receive buffer holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// Not enough bytes yet for a header or for the announced payload. Read more.
    Incomplete,
    /// A whole frame: the payload is `buf[HEADER_LEN..HEADER_LEN + len]`.
    Ready {
        /// The payload's length in bytes (the header not counted).
        len: usize,
    },
}

/// Why the front of a buffer can never become a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameError {
    /// The announced payload length exceeds the receiver's limit.
    TooLarge {
        /// The announced payload length.
        len: u64,
        /// The receiver's limit.
        max: usize,
    },
}

impl std::fmt::Display for FrameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FrameError::TooLarge { len, max } => {
                write!(f, "frame of {len} bytes exceeds max_frame ({max} bytes)")
            }
        }
    }
}

impl std::error::Error for FrameError {}

/// Looks at the start of `buf` and says whether a whole frame is there.
///
/// The announced length is checked against `max` as soon as the 4 header bytes are in, so a
/// too-large frame is refused without waiting for (or buffering) its payload.
///
/// # Example
///
/// ```
/// use xproc_protocol::frame::{self, Check, FrameError, HEADER_LEN};
///
/// let mut buf = Vec::new();
/// frame::encode_into(&mut buf, &[0xc0]); // a frame holding MessagePack nil
/// assert_eq!(frame::check(&buf[..2], 1024), Ok(Check::Incomplete)); // read more
/// assert_eq!(frame::check(&buf, 1024), Ok(Check::Ready { len: 1 }));
/// assert_eq!(&buf[HEADER_LEN..], &[0xc0]);
/// // A header announcing 4 GiB is refused from its 4 bytes alone.
/// assert!(matches!(frame::check(&[0xff; 4], 1024), Err(FrameError::TooLarge { .. })));
/// ```
pub fn check(buf: &[u8], max: usize) -> Result<Check, FrameError> {
    let Some(header) = buf.get(..HEADER_LEN) else {
        return Ok(Check::Incomplete);
    };
    let len = u32::from_be_bytes([header[0], header[1], header[2], header[3]]) as u64;
    if len > max as u64 {
        return Err(FrameError::TooLarge { len, max });
    }
    let len = len as usize;
    if buf.len() - HEADER_LEN < len {
        return Ok(Check::Incomplete);
    }
    Ok(Check::Ready { len })
}

/// Appends one frame holding `payload` to `out`.
///
/// Panics if `payload` is longer than `u32::MAX`; callers hold far smaller limits.
pub fn encode_into(out: &mut Vec<u8>, payload: &[u8]) {
    let len = u32::try_from(payload.len()).expect("frame payload above 4 GiB");
    out.reserve(HEADER_LEN + payload.len());
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(payload);
}

/// Starts a frame in `out` whose payload the caller appends next; returns the header's offset
/// so [`finish`] can fill in the length. This lets encoders write straight into an output
/// buffer without a temporary copy.
pub fn begin(out: &mut Vec<u8>) -> usize {
    let at = out.len();
    out.extend_from_slice(&[0; HEADER_LEN]);
    at
}

/// Writes the length of the payload appended since [`begin`] returned `at`.
pub fn finish(out: &mut [u8], at: usize) {
    let len = out.len() - at - HEADER_LEN;
    let len = u32::try_from(len).expect("frame payload above 4 GiB");
    out[at..at + HEADER_LEN].copy_from_slice(&len.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn incomplete_until_whole() {
        let mut buf = Vec::new();
        encode_into(&mut buf, b"hello");
        for cut in 0..buf.len() {
            assert_eq!(
                check(&buf[..cut], 100),
                Ok(Check::Incomplete),
                "cut at {cut}"
            );
        }
        assert_eq!(check(&buf, 100), Ok(Check::Ready { len: 5 }));
    }

    #[test]
    fn too_large_is_refused_from_the_header_alone() {
        let header = 1_000_001u32.to_be_bytes();
        assert_eq!(
            check(&header, 1_000_000),
            Err(FrameError::TooLarge {
                len: 1_000_001,
                max: 1_000_000
            })
        );
        let msg = FrameError::TooLarge { len: 5, max: 4 }.to_string();
        assert!(msg.contains("max_frame (4 bytes)"), "{msg}");
    }

    #[test]
    fn begin_finish_matches_encode_into() {
        let mut a = Vec::new();
        encode_into(&mut a, b"abc");
        let mut b = vec![];
        let at = begin(&mut b);
        b.extend_from_slice(b"abc");
        finish(&mut b, at);
        assert_eq!(a, b);
    }

    proptest! {
        /// Any split of a stream of frames decodes to the same payloads.
        #[test]
        fn any_split_decodes_the_same(
            payloads in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..64), 0..8),
            cuts in proptest::collection::vec(any::<usize>(), 0..8),
        ) {
            let mut stream = Vec::new();
            for p in &payloads { encode_into(&mut stream, p); }
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c % (stream.len() + 1)).collect();
            cuts.push(stream.len());
            cuts.sort();
            let mut buf = Vec::new();
            let mut got = Vec::new();
            let mut fed = 0;
            for cut in cuts {
                buf.extend_from_slice(&stream[fed..cut]);
                fed = cut;
                while let Check::Ready { len } = check(&buf, 1024).unwrap() {
                    got.push(buf[HEADER_LEN..HEADER_LEN + len].to_vec());
                    buf.drain(..HEADER_LEN + len);
                }
            }
            prop_assert_eq!(got, payloads);
            prop_assert!(buf.is_empty());
        }
    }
}
