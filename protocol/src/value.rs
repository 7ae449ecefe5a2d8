//! Well-formedness checks for user values.
//!
//! The broker never interprets a value: it stores the MessagePack bytes a client sent and hands
//! them back verbatim. It does check that the bytes are exactly one well-formed MessagePack value,
//! so that a reader in another language never receives something its decoder chokes on.
//!
//! The checker walks the bytes once, without recursion or allocation beyond a small stack of
//! open containers, so its cost is linear in the input whatever the input claims about itself.

/// Deepest nesting of arrays and maps a value may have. Decoders in most languages recurse, so
/// this keeps a hostile value from overflowing a reader's stack.
pub const MAX_DEPTH: usize = 100;

/// Why some bytes are not one well-formed MessagePack value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ValueError {
    /// The bytes end inside a value.
    Truncated,
    /// Bytes follow the first complete value.
    TrailingBytes {
        /// Offset of the first byte after the value.
        at: usize,
    },
    /// The never-used marker byte 0xc1.
    BadMarker {
        /// Offset of the 0xc1 byte.
        at: usize,
    },
    /// A string that is not UTF-8.
    BadUtf8 {
        /// Offset of the string's first byte (after its header).
        at: usize,
    },
    /// A timestamp extension (type -1) whose length is not 4, 8 or 12.
    BadTimestamp {
        /// Offset of the extension's type byte.
        at: usize,
    },
    /// Nesting deeper than [`MAX_DEPTH`].
    TooDeep,
}

impl std::fmt::Display for ValueError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ValueError::Truncated => write!(f, "value is truncated"),
            ValueError::TrailingBytes { at } => {
                write!(f, "value has trailing bytes after offset {at}")
            }
            ValueError::BadMarker { at } => write!(f, "invalid marker byte 0xc1 at offset {at}"),
            ValueError::BadUtf8 { at } => write!(f, "string at offset {at} is not UTF-8"),
            ValueError::BadTimestamp { at } => {
                write!(f, "timestamp extension at offset {at} has a bad length")
            }
            ValueError::TooDeep => write!(f, "value nests deeper than {MAX_DEPTH} levels"),
        }
    }
}

impl std::error::Error for ValueError {}

/// Checks that `bytes` hold exactly one well-formed MessagePack value.
///
/// # Example
///
/// ```
/// use xproc_protocol::value::{validate, ValueError};
///
/// assert_eq!(validate(&[0x92, 0x01, 0xa1, b'x']), Ok(())); // [1, "x"]
/// assert_eq!(validate(&[0x01, 0x02]), Err(ValueError::TrailingBytes { at: 1 }));
/// assert_eq!(validate(&[0xc1]), Err(ValueError::BadMarker { at: 0 }));
/// ```
pub fn validate(bytes: &[u8]) -> Result<(), ValueError> {
    match walk(bytes, 0, true)? {
        end if end == bytes.len() => Ok(()),
        end => Err(ValueError::TrailingBytes { at: end }),
    }
}

/// Walks one MessagePack value starting at `start` and returns where it ends. With `utf8`
/// false, strings are not checked (the request reader wants a name's raw bytes, so that a
/// name that is not UTF-8 gets `InvalidName` rather than a generic decode failure).
pub(crate) fn walk(bytes: &[u8], start: usize, utf8: bool) -> Result<usize, ValueError> {
    let mut r = Reader {
        bytes,
        pos: start,
        utf8,
    };
    // Each entry is the number of values still owed to an open array or map.
    let mut open: Vec<u64> = Vec::new();
    let mut owed: u64 = 1;
    loop {
        while owed == 0 {
            match open.pop() {
                Some(outer) => owed = outer,
                None => return Ok(r.pos),
            }
        }
        owed -= 1;
        let children = r.one_item()?;
        if children > 0 {
            if open.len() >= MAX_DEPTH {
                return Err(ValueError::TooDeep);
            }
            open.push(owed);
            owed = children;
        }
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
    /// Check that strings are UTF-8.
    utf8: bool,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], ValueError> {
        let end = self.pos.checked_add(n).ok_or(ValueError::Truncated)?;
        let s = self.bytes.get(self.pos..end).ok_or(ValueError::Truncated)?;
        self.pos = end;
        Ok(s)
    }

    fn uint(&mut self, n: usize) -> Result<u64, ValueError> {
        Ok(self
            .take(n)?
            .iter()
            .fold(0u64, |acc, b| (acc << 8) | *b as u64))
    }

    fn string(&mut self, len: u64) -> Result<(), ValueError> {
        let at = self.pos;
        let utf8 = self.utf8;
        let s = self.take(len as usize)?;
        if utf8 {
            std::str::from_utf8(s).map_err(|_| ValueError::BadUtf8 { at })?;
        }
        Ok(())
    }

    fn ext(&mut self, len: u64) -> Result<(), ValueError> {
        let at = self.pos;
        let ty = self.take(1)?[0] as i8;
        if ty == -1 && !matches!(len, 4 | 8 | 12) {
            return Err(ValueError::BadTimestamp { at });
        }
        self.take(len as usize)?;
        Ok(())
    }

    /// Reads one marker and its scalar payload; returns how many child values follow
    /// (array elements, or twice the map's pair count).
    fn one_item(&mut self) -> Result<u64, ValueError> {
        let at = self.pos;
        let m = self.take(1)?[0];
        match m {
            0x00..=0x7f | 0xe0..=0xff | 0xc0 | 0xc2 | 0xc3 => Ok(0),
            0x80..=0x8f => Ok(2 * (m & 0x0f) as u64),
            0x90..=0x9f => Ok((m & 0x0f) as u64),
            0xa0..=0xbf => self.string((m & 0x1f) as u64).map(|_| 0),
            0xc1 => Err(ValueError::BadMarker { at }),
            0xc4..=0xc6 => {
                let len = self.uint(1 << (m - 0xc4))?;
                self.take(len as usize).map(|_| 0)
            }
            0xc7..=0xc9 => {
                let len = self.uint(1 << (m - 0xc7))?;
                self.ext(len).map(|_| 0)
            }
            0xca => self.take(4).map(|_| 0),
            0xcb => self.take(8).map(|_| 0),
            0xcc..=0xcf => self.take(1 << (m - 0xcc)).map(|_| 0),
            0xd0..=0xd3 => self.take(1 << (m - 0xd0)).map(|_| 0),
            0xd4..=0xd8 => self.ext(1 << (m - 0xd4)).map(|_| 0),
            0xd9..=0xdb => {
                let len = self.uint(1 << (m - 0xd9))?;
                self.string(len).map(|_| 0)
            }
            0xdc | 0xdd => self.uint(if m == 0xdc { 2 } else { 4 }),
            0xde | 0xdf => Ok(2 * self.uint(if m == 0xde { 2 } else { 4 })?),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn enc(v: &rmpv::Value) -> Vec<u8> {
        let mut out = Vec::new();
        rmpv::encode::write_value(&mut out, v).unwrap();
        out
    }

    #[test]
    fn accepts_every_type() {
        use rmpv::Value as V;
        let v = V::Array(vec![
            V::Nil,
            V::Boolean(true),
            V::from(u64::MAX),
            V::from(i64::MIN),
            V::F32(1.5),
            V::F64(f64::NAN),
            V::from("héllo"),
            V::Binary(vec![0, 1, 2]),
            V::Map(vec![(V::from("k"), V::Array(vec![]))]),
            V::Ext(-1, vec![0; 8]),
            V::from("x".repeat(70_000)),
        ]);
        assert_eq!(validate(&enc(&v)), Ok(()));
    }

    #[test]
    fn refuses_malformed() {
        assert_eq!(validate(&[]), Err(ValueError::Truncated));
        assert_eq!(validate(&[0xc1]), Err(ValueError::BadMarker { at: 0 }));
        assert_eq!(
            validate(&[0x01, 0x02]),
            Err(ValueError::TrailingBytes { at: 1 })
        );
        assert_eq!(validate(&[0x92, 0x01]), Err(ValueError::Truncated));
        assert_eq!(
            validate(&[0xa2, 0xff, 0xfe]),
            Err(ValueError::BadUtf8 { at: 1 })
        );
        assert_eq!(
            validate(&[0xd5, 0xff, 0, 0]),
            Err(ValueError::BadTimestamp { at: 1 })
        );
        // An array claiming 4 billion elements costs nothing: it runs out of bytes.
        assert_eq!(
            validate(&[0xdd, 0xff, 0xff, 0xff, 0xff]),
            Err(ValueError::Truncated)
        );
        assert_eq!(validate(&[0x91; MAX_DEPTH + 1]), Err(ValueError::TooDeep));
        let mut deep = vec![0x91; MAX_DEPTH];
        deep.push(0xc0);
        assert_eq!(validate(&deep), Ok(()));
    }

    fn arb_value() -> impl Strategy<Value = rmpv::Value> {
        use rmpv::Value as V;
        let leaf = prop_oneof![
            Just(V::Nil),
            any::<bool>().prop_map(V::Boolean),
            any::<i64>().prop_map(V::from),
            any::<u64>().prop_map(V::from),
            any::<f64>().prop_map(V::F64),
            ".*".prop_map(V::from),
            proptest::collection::vec(any::<u8>(), 0..40).prop_map(V::Binary),
        ];
        leaf.prop_recursive(4, 64, 8, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..8).prop_map(V::Array),
                proptest::collection::vec((inner.clone(), inner), 0..8).prop_map(V::Map),
            ]
        })
    }

    proptest! {
        #[test]
        fn any_encoded_value_is_valid(v in arb_value()) {
            prop_assert_eq!(validate(&enc(&v)), Ok(()));
        }

        #[test]
        fn never_panics_on_garbage(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = validate(&bytes);
        }

        #[test]
        fn truncation_is_always_refused(v in arb_value(), cut in any::<usize>()) {
            let bytes = enc(&v);
            let cut = cut % bytes.len();
            prop_assert!(validate(&bytes[..cut]).is_err());
        }
    }
}
