//! The request map as it arrived (docs/PROTOCOL.md §2–§3): where each known field's value lies,
//! with its type checked only when the op reads that field.
//!
//! Not serde, on purpose. rmp-serde reads a struct from an array positionally (so
//! `[9, "queue.put", "q", <bin>]` would be executed as a put), takes a `str` where a `bin`
//! value is wanted (storing `"x"` as the integer 120), and fails a whole request over a
//! mistyped field its op never reads. The spec says a request is a map of named fields, a
//! value is `bin`, and fields an op does not use are ignored; this reader does exactly that, in
//! one pass over the payload and without allocating.

use crate::value::{self, ValueError};

macro_rules! fields {
    ($($field:ident),* $(,)?) => {
        /// Every field some op reads, by its wire name.
        #[allow(non_camel_case_types)]
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub(crate) enum F {
            $($field,)*
        }

        impl F {
            const COUNT: usize = [$(stringify!($field)),*].len();

            fn parse(key: &[u8]) -> Option<F> {
                match std::str::from_utf8(key).ok()? {
                    $(stringify!($field) => Some(F::$field),)*
                    _ => None,
                }
            }

            /// The field's name on the wire.
            pub(crate) fn as_str(self) -> &'static str {
                match self {
                    $(F::$field => stringify!($field),)*
                }
            }
        }
    };
}

fields! {
    id, op, name, value, key, expected, keys, items, timeout_ms, kind, maxsize, initial,
    parties, duplex, capacity, end, n, delta, version, client, lang, pid, lease_ms, delivery,
    delay_ms, max_attempts, target, cursor, count, values, max, deliveries, after, caps, fds,
    value_len, names, ends, ring_off, ring_min, ring_free,
}

/// The known fields of one request map: each one's encoded value, not yet interpreted.
///
/// A slot holds the value's `[start, end)` in `payload` as two `u32`s (a frame is at most
/// 4 GiB: its length header is a `u32`), `(0, 0)` when the field is absent (an encoded value
/// is never empty). Half the size of a slice per slot: the table is built for every request
/// and moved on from here, so its size is paid on every request (docs/BENCHMARKS.md).
#[derive(Debug)]
pub(crate) struct Fields<'a> {
    payload: &'a [u8],
    slots: [(u32, u32); F::COUNT],
    /// The first known field that appeared twice.
    pub(crate) duplicate: Option<F>,
}

/// A MessagePack item's head: what it is and where its contents start.
enum Head {
    Nil,
    Bool(bool),
    Uint(u64),
    Int(i64),
    Float,
    /// Strings and bins: contents at `[at, at + len)`.
    Str {
        at: usize,
        len: usize,
    },
    Bin {
        at: usize,
        len: usize,
    },
    /// Arrays and maps: elements (pairs for a map) from `at`.
    Array {
        at: usize,
        len: u64,
    },
    Map {
        at: usize,
        len: u64,
    },
    Ext,
}

impl Head {
    fn describe(&self) -> &'static str {
        match self {
            Head::Nil => "nil",
            Head::Bool(_) => "bool",
            Head::Uint(_) | Head::Int(_) => "int",
            Head::Float => "float",
            Head::Str { .. } => "str",
            Head::Bin { .. } => "bin",
            Head::Array { .. } => "array",
            Head::Map { .. } => "map",
            Head::Ext => "ext",
        }
    }
}

/// Reads the head of the item at the start of `b`. `None` if `b` ends inside the head (the
/// spans this is used on were walked already, so that is a bug guard, not a code path).
fn head(b: &[u8]) -> Option<Head> {
    let be = |from: usize, n: usize| -> Option<u64> {
        Some(
            b.get(from..from + n)?
                .iter()
                .fold(0u64, |acc, x| (acc << 8) | *x as u64),
        )
    };
    let m = *b.first()?;
    Some(match m {
        0x00..=0x7f => Head::Uint(m as u64),
        0xe0..=0xff => Head::Int(m as i8 as i64),
        0xc0 => Head::Nil,
        0xc2 => Head::Bool(false),
        0xc3 => Head::Bool(true),
        0x80..=0x8f => Head::Map {
            at: 1,
            len: (m & 0x0f) as u64,
        },
        0xde => Head::Map {
            at: 3,
            len: be(1, 2)?,
        },
        0xdf => Head::Map {
            at: 5,
            len: be(1, 4)?,
        },
        0x90..=0x9f => Head::Array {
            at: 1,
            len: (m & 0x0f) as u64,
        },
        0xdc => Head::Array {
            at: 3,
            len: be(1, 2)?,
        },
        0xdd => Head::Array {
            at: 5,
            len: be(1, 4)?,
        },
        0xa0..=0xbf => Head::Str {
            at: 1,
            len: (m & 0x1f) as usize,
        },
        0xd9..=0xdb => {
            let n = 1 << (m - 0xd9);
            Head::Str {
                at: 1 + n,
                len: be(1, n)? as usize,
            }
        }
        0xc4..=0xc6 => {
            let n = 1 << (m - 0xc4);
            Head::Bin {
                at: 1 + n,
                len: be(1, n)? as usize,
            }
        }
        0xcc..=0xcf => Head::Uint(be(1, 1 << (m - 0xcc))?),
        0xd0..=0xd3 => {
            let n = 1 << (m - 0xd0);
            let raw = be(1, n)?;
            // Sign-extend from n bytes.
            let shift = 64 - 8 * n as u32;
            Head::Int(((raw << shift) as i64) >> shift)
        }
        0xca | 0xcb => Head::Float,
        0xc7..=0xc9 | 0xd4..=0xd8 => Head::Ext,
        0xc1 => return None,
    })
}

/// Why a payload is not a request map at all (the broker replies `BadRequest`, `id` 0, and
/// closes the connection).
pub(crate) fn malformed(e: ValueError) -> String {
    format!("malformed request: {e}")
}

impl<'a> Fields<'a> {
    /// Locates the known fields of the request map `payload`. Fails when the payload is not
    /// exactly one well-formed map with string keys.
    pub(crate) fn read(payload: &'a [u8]) -> Result<Fields<'a>, String> {
        let (len, mut pos) = match head(payload) {
            Some(Head::Map { at, len }) => (len, at),
            Some(other) => {
                return Err(format!(
                    "a request must be a MessagePack map of named fields (docs/PROTOCOL.md §3), \
                     not {}{}",
                    other.describe(),
                    if matches!(other, Head::Array { .. }) {
                        " (positional encoding is not accepted)"
                    } else {
                        ""
                    }
                ))
            }
            None if payload.is_empty() => return Err("the frame is empty".into()),
            None => return Err(malformed(ValueError::Truncated)),
        };
        if payload.len() > u32::MAX as usize {
            return Err(format!(
                "a request payload is at most {} bytes (its frame length is a u32)",
                u32::MAX
            ));
        }
        let mut fields = Fields {
            payload,
            slots: [(0, 0); F::COUNT],
            duplicate: None,
        };
        // Each pair takes at least 2 bytes, so a map claiming more pairs than the payload
        // holds runs out of bytes after at most `payload.len()` rounds.
        for _ in 0..len {
            let key_end = value::walk(payload, pos, false).map_err(malformed)?;
            let key = match head(&payload[pos..key_end]) {
                Some(Head::Str { at, len }) => &payload[pos + at..pos + at + len],
                other => {
                    return Err(format!(
                        "request map keys must be strings (field names), not {}",
                        other.map_or("?", |h| h.describe())
                    ))
                }
            };
            let end = value::walk(payload, key_end, false).map_err(malformed)?;
            if let Some(f) = F::parse(key) {
                let slot = &mut fields.slots[f as usize];
                if slot.1 != 0 {
                    fields.duplicate.get_or_insert(f);
                } else {
                    // `end` > `key_end` (a value is at least one byte), and both fit in a
                    // u32 (checked before the loop).
                    *slot = (key_end as u32, end as u32);
                }
            }
            pos = end;
        }
        if pos != payload.len() {
            return Err(format!(
                "{} bytes follow the request map; a frame holds exactly one map",
                payload.len() - pos
            ));
        }
        Ok(fields)
    }

    /// The field's encoded value; `None` when it is absent or nil (§3: nil means absent).
    fn raw(&self, f: F) -> Option<(&'a [u8], Head)> {
        let b = self.slot(f)?;
        match head(b)? {
            Head::Nil => None,
            h => Some((b, h)),
        }
    }

    /// Whether the field appears at all (nil included): one slot test, nothing parsed.
    pub(crate) fn appears(&self, f: F) -> bool {
        self.slots[f as usize].1 != 0
    }

    /// The field's encoded bytes, if it appears.
    fn slot(&self, f: F) -> Option<&'a [u8]> {
        let (start, end) = self.slots[f as usize];
        (end != 0).then(|| &self.payload[start as usize..end as usize])
    }

    /// Whether the field is present (and not nil).
    pub(crate) fn has(&self, f: F) -> bool {
        self.raw(f).is_some()
    }

    fn wrong(f: F, want: &str, got: &Head) -> String {
        format!(
            "field '{}' must be {want}, not {}",
            f.as_str(),
            got.describe()
        )
    }

    /// An unsigned integer field, in any integer encoding of a value in `0..=max`.
    pub(crate) fn uint_max(&self, f: F, max: u64) -> Result<Option<u64>, String> {
        let Some((_, h)) = self.raw(f) else {
            return Ok(None);
        };
        let n = match h {
            Head::Uint(n) => Some(n),
            Head::Int(n) => u64::try_from(n).ok(),
            other => return Err(Self::wrong(f, "a non-negative integer", &other)),
        };
        match n {
            Some(n) if n <= max => Ok(Some(n)),
            _ => Err(format!(
                "field '{}' must be an integer from 0 to {max}",
                f.as_str()
            )),
        }
    }

    /// An unsigned 64-bit integer field.
    pub(crate) fn uint(&self, f: F) -> Result<Option<u64>, String> {
        self.uint_max(f, u64::MAX)
    }

    /// A signed 64-bit integer field.
    pub(crate) fn int(&self, f: F) -> Result<Option<i64>, String> {
        match self.raw(f) {
            None => Ok(None),
            Some((_, Head::Int(n))) => Ok(Some(n)),
            Some((_, Head::Uint(n))) => i64::try_from(n)
                .map(Some)
                .map_err(|_| format!("field '{}' must be an integer in the i64 range", f.as_str())),
            Some((_, other)) => Err(Self::wrong(f, "an integer", &other)),
        }
    }

    /// A bool field.
    pub(crate) fn boolean(&self, f: F) -> Result<Option<bool>, String> {
        match self.raw(f) {
            None => Ok(None),
            Some((_, Head::Bool(b))) => Ok(Some(b)),
            Some((_, other)) => Err(Self::wrong(f, "a bool", &other)),
        }
    }

    /// A `str` field's raw bytes (not checked for UTF-8: names want their own error).
    pub(crate) fn str_bytes(&self, f: F) -> Result<Option<&'a [u8]>, String> {
        match self.raw(f) {
            None => Ok(None),
            Some((b, Head::Str { at, len })) => Ok(Some(&b[at..at + len])),
            Some((_, other)) => Err(Self::wrong(f, "a str", &other)),
        }
    }

    /// A `str` field.
    pub(crate) fn str(&self, f: F) -> Result<Option<&'a str>, String> {
        match self.str_bytes(f)? {
            None => Ok(None),
            Some(b) => std::str::from_utf8(b)
                .map(Some)
                .map_err(|_| format!("field '{}' is not valid UTF-8", f.as_str())),
        }
    }

    /// A `bin` field: the bytes of a user value or key (§4). A `str` is refused: taking its
    /// bytes as the value would silently store something else (`"x"` would be 120).
    pub(crate) fn bin(&self, f: F) -> Result<Option<&'a [u8]>, String> {
        match self.raw(f) {
            None => Ok(None),
            Some((b, h)) => bin_of(f, b, h).map(Some),
        }
    }

    /// The elements of an array field, each as its encoded bytes.
    fn array(&self, f: F) -> Result<Option<Vec<&'a [u8]>>, String> {
        let Some((b, h)) = self.raw(f) else {
            return Ok(None);
        };
        let Head::Array { at, len } = h else {
            return Err(Self::wrong(f, "an array", &h));
        };
        elements(b, at, len).map(Some)
    }

    /// An array of `str` (`hello` caps).
    pub(crate) fn strs(&self, f: F) -> Result<Option<Vec<&'a str>>, String> {
        let Some(items) = self.array(f)? else {
            return Ok(None);
        };
        items
            .into_iter()
            .map(|b| match head(b) {
                Some(Head::Str { at, len }) => std::str::from_utf8(&b[at..at + len])
                    .map_err(|_| format!("field '{}' holds a str that is not UTF-8", f.as_str())),
                Some(other) => Err(Self::wrong(f, "an array of str", &other)),
                None => Err(malformed(ValueError::Truncated)),
            })
            .collect::<Result<_, _>>()
            .map(Some)
    }

    /// An array of `bin` (dict keys).
    pub(crate) fn bins(&self, f: F) -> Result<Option<Vec<&'a [u8]>>, String> {
        let Some(items) = self.array(f)? else {
            return Ok(None);
        };
        items
            .into_iter()
            .map(|b| match head(b) {
                Some(h) => bin_of(f, b, h),
                None => Err(malformed(ValueError::Truncated)),
            })
            .collect::<Result<_, _>>()
            .map(Some)
    }

    /// An array of unsigned integers (delivery ids).
    pub(crate) fn uints(&self, f: F) -> Result<Option<Vec<u64>>, String> {
        let Some(items) = self.array(f)? else {
            return Ok(None);
        };
        items
            .into_iter()
            .map(|b| match head(b) {
                Some(Head::Uint(n)) => Ok(n),
                Some(Head::Int(n)) if n >= 0 => Ok(n as u64),
                Some(other) => Err(Self::wrong(f, "an array of non-negative integers", &other)),
                None => Err(malformed(ValueError::Truncated)),
            })
            .collect::<Result<_, _>>()
            .map(Some)
    }

    /// An array of `str` (`queue.get_any` and `wait` names, `wait` ends), each as its raw bytes
    /// (not checked for UTF-8 here: names want their own error).
    pub(crate) fn strs_raw(&self, f: F) -> Result<Option<Vec<&'a [u8]>>, String> {
        let Some(items) = self.array(f)? else {
            return Ok(None);
        };
        items
            .into_iter()
            .map(|b| match head(b) {
                Some(Head::Str { at, len }) => Ok(&b[at..at + len]),
                Some(other) => Err(Self::wrong(f, "an array of str", &other)),
                None => Err(malformed(ValueError::Truncated)),
            })
            .collect::<Result<_, _>>()
            .map(Some)
    }

    /// An array of `[bin, bin]` pairs (dict items).
    #[allow(clippy::type_complexity)]
    pub(crate) fn pairs(&self, f: F) -> Result<Option<Vec<(&'a [u8], &'a [u8])>>, String> {
        let Some(items) = self.array(f)? else {
            return Ok(None);
        };
        let pair = |b: &'a [u8]| -> Result<(&'a [u8], &'a [u8]), String> {
            let kv = match head(b) {
                Some(Head::Array { at, len: 2 }) => elements(b, at, 2)?,
                _ => {
                    return Err(format!(
                        "field '{}' must be an array of [key, value] 2-arrays",
                        f.as_str()
                    ))
                }
            };
            let one = |x: &'a [u8]| match head(x) {
                Some(h) => bin_of(f, x, h),
                None => Err(malformed(ValueError::Truncated)),
            };
            Ok((one(kv[0])?, one(kv[1])?))
        };
        items
            .into_iter()
            .map(pair)
            .collect::<Result<_, _>>()
            .map(Some)
    }
}

fn bin_of(f: F, b: &[u8], h: Head) -> Result<&[u8], String> {
    match h {
        Head::Bin { at, len } => Ok(&b[at..at + len]),
        other => Err(format!(
            "field '{}' must be bin holding the encoded MessagePack value (docs/PROTOCOL.md §4), \
             not {}",
            f.as_str(),
            other.describe()
        )),
    }
}

/// Splits the `len` encoded elements that start at `b[at..]`.
fn elements(b: &[u8], at: usize, len: u64) -> Result<Vec<&[u8]>, String> {
    let mut out = Vec::with_capacity(len.min(b.len() as u64) as usize);
    let mut pos = at;
    for _ in 0..len {
        let end = value::walk(b, pos, false).map_err(malformed)?;
        out.push(&b[pos..end]);
        pos = end;
    }
    Ok(out)
}
