//! Typed values to and from MessagePack bytes, and timeouts to wire fields.
//!
//! Values are encoded with `rmp_serde::to_vec_named`: structs become maps keyed by field name
//! (not positional arrays), so a Python, C or C# reader sees `{"n": 7}`. Integers take their
//! shortest encoding, so equal numbers from different languages are equal dict keys.

use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::{Error, Result};

/// How long the client waits beyond a blocking call's own timeout for the broker's answer
/// before it cancels the request (docs/PROTOCOL.md §5) and takes the broker's answer to that
/// as the call's outcome. The broker enforces the timeout and answers promptly; the grace only
/// covers scheduling delays on a loaded machine, and only matters if the broker is stuck.
pub const TIMEOUT_GRACE: Duration = Duration::from_secs(1);

/// Encodes a typed value as one MessagePack value (structs as maps).
///
/// # Example
///
/// ```
/// #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
/// struct Task { n: u32 }
///
/// let bytes = xproc::encode(&Task { n: 7 }).unwrap();
/// assert_eq!(bytes, [0x81, 0xa1, b'n', 0x07]); // the map {"n": 7}, as other languages read it
/// assert_eq!(xproc::decode::<Task>(&bytes).unwrap(), Task { n: 7 });
/// ```
pub fn encode<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>> {
    Ok(rmp_serde::to_vec_named(value)?)
}

/// The size of `value` encoded as [`encode`] would (a pass that writes nothing).
pub(crate) fn encoded_len<T: Serialize + ?Sized>(value: &T) -> Result<usize> {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut n = Count(0);
    rmp_serde::encode::write_named(&mut n, value)?;
    Ok(n.0)
}

/// Decodes one MessagePack value as `T`. On failure the error keeps the bytes.
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    rmp_serde::from_slice(bytes).map_err(|source| Error::Decode {
        source,
        raw: bytes.to_vec(),
    })
}

/// A blocking call's wait, as sent (`timeout_ms`) and as the client bounds it (`deadline`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Wait {
    pub timeout_ms: Option<u64>,
    pub deadline: Option<Instant>,
}

impl Wait {
    /// `None`: wait as long as it takes; `Some(ZERO)`: do not wait.
    pub fn new(timeout: Option<Duration>) -> Wait {
        match timeout {
            None => Wait {
                timeout_ms: None,
                deadline: None,
            },
            Some(t) => Wait {
                timeout_ms: Some(millis_ceil(t)),
                // A timeout too large to represent is as good as none.
                deadline: Instant::now()
                    .checked_add(t)
                    .and_then(|d| d.checked_add(TIMEOUT_GRACE)),
            },
        }
    }
}

/// Whole milliseconds, rounded up so that a short positive timeout never becomes "do not wait".
pub(crate) fn millis_ceil(d: Duration) -> u64 {
    u64::try_from(d.as_nanos().div_ceil(1_000_000)).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Task {
        n: i64,
        label: String,
        #[serde(with = "serde_bytes")]
        blob: Vec<u8>,
    }

    #[test]
    fn structs_are_maps_with_field_names() {
        let t = Task {
            n: 7,
            label: "x".into(),
            blob: vec![1, 2],
        };
        let bytes = encode(&t).unwrap();
        let v = rmpv::decode::read_value(&mut &bytes[..]).unwrap();
        let map = v.as_map().expect("a map");
        assert_eq!(map[0].0.as_str(), Some("n"));
        assert_eq!(map[0].1.as_i64(), Some(7));
        // serde_bytes makes Vec<u8> a MessagePack bin, not an array of ints.
        assert_eq!(map[2].1, rmpv::Value::Binary(vec![1, 2]));
        assert_eq!(decode::<Task>(&bytes).unwrap(), t);
    }

    #[test]
    fn integers_take_the_shortest_form_whatever_their_rust_type() {
        assert_eq!(encode(&1i64).unwrap(), encode(&1u8).unwrap());
        assert_eq!(encode(&200i64).unwrap(), vec![0xcc, 200]);
        assert_eq!(encode(&-1i64).unwrap(), vec![0xff]);
        assert_eq!(encode(&u64::MAX).unwrap()[0], 0xcf);
    }

    #[test]
    fn decode_failure_keeps_the_bytes() {
        let bytes = encode("not a number").unwrap();
        match decode::<i64>(&bytes) {
            Err(Error::Decode { raw, .. }) => assert_eq!(raw, bytes),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn timeouts_round_up_to_milliseconds() {
        assert_eq!(millis_ceil(Duration::ZERO), 0);
        assert_eq!(millis_ceil(Duration::from_micros(1)), 1);
        assert_eq!(millis_ceil(Duration::from_millis(1500)), 1500);
        assert_eq!(millis_ceil(Duration::MAX), u64::MAX);
        let w = Wait::new(Some(Duration::MAX));
        assert_eq!((w.timeout_ms, w.deadline), (Some(u64::MAX), None));
        let w = Wait::new(Some(Duration::ZERO));
        assert_eq!(w.timeout_ms, Some(0));
        assert!(w.deadline.is_some());
    }
}
