//! Dicts: an insertion-ordered map from encoded keys to encoded values.
//!
//! Order is kept with a sequence number per entry: a `HashMap` finds an entry by key in O(1)
//! and a `BTreeMap` from sequence number to key walks entries in insertion order, so a delete
//! costs O(log n) instead of the O(n) shift an ordered vector would need. Overwriting keeps the
//! entry's sequence number (its place); a deleted and re-set key gets a new one (the end). Keys
//! are shared between the two maps through an `Rc`, so each is stored once.

use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;

use super::dict_charge;
use crate::stored::Stored;

/// A key, shared by the lookup map and the order map.
pub type Key = Rc<[u8]>;

/// Bytes a scan page counts per entry beyond its key and value: the most its encoding adds (a
/// 2-array header and two bin headers of up to 5 bytes), so a page's byte budget bounds the
/// encoded reply.
pub const SCAN_ENTRY_OVERHEAD: usize = 11;

/// A borrowed `(key, value)`, as a scan page holds them.
pub type Pair<'a> = (&'a [u8], &'a [u8]);

/// One dict's state.
#[derive(Debug, Default)]
pub struct Dict {
    map: HashMap<Rc<[u8]>, Entry>,
    order: BTreeMap<u64, Rc<[u8]>>,
    next_seq: u64,
    /// Bytes charged for keys and values held (each entry plus
    /// [`DICT_ENTRY_OVERHEAD`](super::DICT_ENTRY_OVERHEAD)).
    bytes: usize,
    /// Bytes of the keys alone, so a snapshot's reply size is known without walking it.
    key_bytes: usize,
}

#[derive(Debug)]
struct Entry {
    seq: u64,
    value: Stored,
}

/// Why `incr` failed.
#[derive(Debug, PartialEq, Eq)]
pub enum IncrError {
    /// The stored value is not an integer.
    WrongType,
    /// The result (or the stored value) does not fit in an i64.
    Overflow,
}

impl Dict {
    /// An empty dict.
    pub fn new() -> Self {
        Self::default()
    }
    /// Entries.
    pub fn len(&self) -> usize {
        self.map.len()
    }
    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
    /// Bytes charged for keys and values held (each entry plus
    /// [`DICT_ENTRY_OVERHEAD`](super::DICT_ENTRY_OVERHEAD)).
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Bytes of the keys alone (encoded).
    pub fn key_bytes(&self) -> usize {
        self.key_bytes
    }

    /// Bytes of the values alone (encoded).
    pub fn value_bytes(&self) -> usize {
        self.bytes - self.key_bytes - self.map.len() * super::DICT_ENTRY_OVERHEAD
    }

    /// The value at `key`.
    pub fn get(&self, key: &[u8]) -> Option<&[u8]> {
        self.map.get(key).map(|e| &*e.value)
    }

    /// The value at `key` as stored (to hand on a memfd value as its descriptor).
    pub fn get_stored(&self, key: &[u8]) -> Option<&Stored> {
        self.map.get(key).map(|e| &e.value)
    }

    /// Whether `key` is present.
    pub fn contains(&self, key: &[u8]) -> bool {
        self.map.contains_key(key)
    }

    /// Sets `key` to `value`; an existing key keeps its place.
    pub fn set(&mut self, key: &[u8], value: &[u8]) {
        self.set_stored(key, value.into());
    }

    /// Sets `key` to a stored value (inline bytes or a memfd); an existing key keeps its
    /// place.
    pub fn set_stored(&mut self, key: &[u8], value: Stored) {
        if let Some(e) = self.map.get_mut(key) {
            self.bytes = self.bytes - e.value.len() + value.len();
            e.value = value;
            return;
        }
        let key: Rc<[u8]> = key.into();
        let seq = self.next_seq;
        self.next_seq += 1;
        self.bytes += dict_charge(key.len(), value.len());
        self.key_bytes += key.len();
        self.order.insert(seq, key.clone());
        self.map.insert(key, Entry { seq, value });
    }

    /// Removes `key`, returning its value.
    pub fn remove(&mut self, key: &[u8]) -> Option<Stored> {
        let (k, e) = self.map.remove_entry(key)?;
        self.order.remove(&e.seq);
        self.bytes -= dict_charge(k.len(), e.value.len());
        self.key_bytes -= k.len();
        Some(e.value)
    }

    /// Removes and returns the most recently inserted entry.
    pub fn pop_last(&mut self) -> Option<(Key, Stored)> {
        let (_, key) = self.order.pop_last()?;
        let e = self.map.remove(&key)?;
        self.bytes -= dict_charge(key.len(), e.value.len());
        self.key_bytes -= key.len();
        Some((key, e.value))
    }

    /// The value of `key`, setting it to `value` first if it is absent.
    pub fn setdefault(&mut self, key: &[u8], value: &[u8]) -> &[u8] {
        if !self.map.contains_key(key) {
            self.set(key, value);
        }
        self.map.get(key).map_or(&[][..], |e| &e.value)
    }

    /// Removes every entry.
    pub fn clear(&mut self) {
        self.map.clear();
        self.order.clear();
        self.bytes = 0;
        self.key_bytes = 0;
    }

    /// One page of a cursor scan: entries in insertion order from position `cursor`, at most
    /// `count` of them and, past the first, at most `max_bytes` of keys and values (each
    /// entry counted with [`SCAN_ENTRY_OVERHEAD`]). Returns
    /// them and the position of the first entry left out (0 when none is). Positions are the
    /// entries' sequence numbers, which never change while an entry is present, so a key
    /// present for a whole scan is returned exactly once. O(log n + count).
    pub fn scan(&self, cursor: u64, count: usize, max_bytes: usize) -> (Vec<Pair<'_>>, u64) {
        let mut page = Vec::new();
        let mut bytes = 0;
        for (&seq, key) in self.order.range(cursor..) {
            let Some(e) = self.map.get(key) else { continue };
            let size = key.len() + e.value.len() + SCAN_ENTRY_OVERHEAD;
            if page.len() >= count || (!page.is_empty() && bytes + size > max_bytes) {
                // Never 0: an entry was returned before it, and sequence numbers increase.
                return (page, seq);
            }
            bytes += size;
            page.push((&**key, &*e.value));
        }
        (page, 0)
    }

    /// Entries in insertion order.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        self.order
            .values()
            .filter_map(|k| self.map.get(k).map(|e| (&**k, &*e.value)))
    }

    /// Adds `delta` to the integer at `key` (a missing key counts from 0) and stores the result
    /// in its shortest MessagePack encoding.
    pub fn incr(&mut self, key: &[u8], delta: i64) -> Result<i64, IncrError> {
        let current = match self.get(key) {
            Some(bytes) => decode_int(bytes)?,
            None => 0,
        };
        let n = current.checked_add(delta).ok_or(IncrError::Overflow)?;
        let mut buf = [0u8; 9];
        let len = encode_int(n, &mut buf);
        self.set(key, &buf[..len]);
        Ok(n)
    }

    /// Sets `key` to `value` only if its encoded value equals `expected` (or, with `None`, only
    /// if the key is absent). Returns whether it did.
    pub fn compare_and_set(&mut self, key: &[u8], expected: Option<&[u8]>, value: &[u8]) -> bool {
        if self.get(key) != expected {
            return false;
        }
        self.set(key, value);
        true
    }
}

/// Reads a MessagePack integer (the bytes are one checked value).
fn decode_int(b: &[u8]) -> Result<i64, IncrError> {
    let be = |n: usize| -> Result<u64, IncrError> {
        let bytes = b.get(1..1 + n).ok_or(IncrError::WrongType)?;
        Ok(bytes.iter().fold(0u64, |acc, &x| (acc << 8) | x as u64))
    };
    let first = *b.first().ok_or(IncrError::WrongType)?;
    Ok(match first {
        0x00..=0x7f => first as i64,
        0xe0..=0xff => first as i8 as i64,
        0xcc => be(1)? as i64,
        0xcd => be(2)? as i64,
        0xce => be(4)? as i64,
        0xcf => i64::try_from(be(8)?).map_err(|_| IncrError::Overflow)?,
        0xd0 => be(1)? as u8 as i8 as i64,
        0xd1 => be(2)? as u16 as i16 as i64,
        0xd2 => be(4)? as u32 as i32 as i64,
        0xd3 => be(8)? as i64,
        _ => return Err(IncrError::WrongType),
    })
}

/// Writes `n` in its shortest MessagePack form (unsigned forms for non-negative numbers, as
/// standard encoders do, so the stored bytes equal what any client would send for `n`).
fn encode_int(n: i64, out: &mut [u8; 9]) -> usize {
    let put = |out: &mut [u8; 9], marker: u8, bytes: &[u8]| {
        out[0] = marker;
        out[1..1 + bytes.len()].copy_from_slice(bytes);
        1 + bytes.len()
    };
    if n >= 0 {
        let u = n as u64;
        if u < 0x80 {
            out[0] = u as u8;
            1
        } else if u <= u8::MAX as u64 {
            put(out, 0xcc, &[u as u8])
        } else if u <= u16::MAX as u64 {
            put(out, 0xcd, &(u as u16).to_be_bytes())
        } else if u <= u32::MAX as u64 {
            put(out, 0xce, &(u as u32).to_be_bytes())
        } else {
            put(out, 0xcf, &u.to_be_bytes())
        }
    } else if n >= -32 {
        out[0] = n as i8 as u8;
        1
    } else if n >= i8::MIN as i64 {
        put(out, 0xd0, &(n as i8).to_be_bytes())
    } else if n >= i16::MIN as i64 {
        put(out, 0xd1, &(n as i16).to_be_bytes())
    } else if n >= i32::MIN as i64 {
        put(out, 0xd2, &(n as i32).to_be_bytes())
    } else {
        put(out, 0xd3, &n.to_be_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scan_pages_keep_every_stable_key_exactly_once() {
        let mut d = Dict::new();
        for k in 0u8..10 {
            d.set(&[k], b"v");
        }
        let (page, next) = d.scan(0, 4, usize::MAX);
        assert_eq!(
            page.iter().map(|p| p.0[0]).collect::<Vec<_>>(),
            [0, 1, 2, 3]
        );
        // Between pages: 4 (not yet read) is deleted, 1 (read) re-set moves to the end, 2 is
        // overwritten in place, 10 is new.
        d.remove(&[4]);
        d.remove(&[1]);
        d.set(&[1], b"again");
        d.set(&[2], b"new");
        d.set(&[10], b"v");
        let (page, next) = d.scan(next, 100, usize::MAX);
        assert_eq!(
            page.iter().map(|p| p.0[0]).collect::<Vec<_>>(),
            [5, 6, 7, 8, 9, 1, 10]
        );
        assert_eq!(next, 0);
        // The byte budget stops a page after its first entry that would pass it.
        let (page, next) = d.scan(0, 100, 6 + 2 * SCAN_ENTRY_OVERHEAD);
        assert_eq!((page.len(), next > 0), (2, true));
    }

    fn keys(d: &Dict) -> Vec<Vec<u8>> {
        d.iter().map(|(k, _)| k.to_vec()).collect()
    }

    #[test]
    fn insertion_order_is_kept() {
        let mut d = Dict::new();
        d.set(b"a", b"\x01");
        d.set(b"b", b"\x02");
        d.set(b"c", b"\x03");
        d.set(b"a", b"\x04"); // overwrite keeps its place
        assert_eq!(keys(&d), vec![b"a".to_vec(), b"b".to_vec(), b"c".to_vec()]);
        d.remove(b"a");
        d.set(b"a", b"\x05"); // re-set moves to the end
        assert_eq!(keys(&d), vec![b"b".to_vec(), b"c".to_vec(), b"a".to_vec()]);
        assert_eq!(d.pop_last().map(|(k, _)| k.to_vec()), Some(b"a".to_vec()));
        assert_eq!(d.bytes(), 2 * dict_charge(1, 1));
        assert_eq!((d.key_bytes(), d.value_bytes()), (2, 2));
        d.set(b"bb", b"\x06\x07\x08");
        assert_eq!((d.key_bytes(), d.value_bytes()), (4, 5));
        d.remove(b"bb");
        assert_eq!((d.key_bytes(), d.value_bytes()), (2, 2));
        d.clear();
        assert_eq!((d.key_bytes(), d.value_bytes()), (0, 0));
        assert_eq!((d.len(), d.bytes()), (0, 0));
        assert_eq!(d.pop_last(), None);
    }

    #[test]
    fn ints_round_trip_in_shortest_form() {
        let cases: &[(i64, &[u8])] = &[
            (0, &[0x00]),
            (127, &[0x7f]),
            (128, &[0xcc, 0x80]),
            (256, &[0xcd, 0x01, 0x00]),
            (70000, &[0xce, 0x00, 0x01, 0x11, 0x70]),
            (1 << 40, &[0xcf, 0, 0, 1, 0, 0, 0, 0, 0]),
            (-1, &[0xff]),
            (-32, &[0xe0]),
            (-33, &[0xd0, 0xdf]),
            (-200, &[0xd1, 0xff, 0x38]),
            (i64::MIN, &[0xd3, 0x80, 0, 0, 0, 0, 0, 0, 0]),
        ];
        for &(n, want) in cases {
            let mut buf = [0; 9];
            let len = encode_int(n, &mut buf);
            assert_eq!(&buf[..len], want, "{n}");
            assert_eq!(decode_int(want), Ok(n));
        }
    }

    #[test]
    fn incr_counts_from_zero_and_checks_types() {
        let mut d = Dict::new();
        assert_eq!(d.incr(b"k", 5), Ok(5));
        assert_eq!(d.incr(b"k", -10), Ok(-5));
        assert_eq!(d.get(b"k"), Some(&[0xfb][..]));
        d.set(b"s", b"\xa1x");
        assert_eq!(d.incr(b"s", 1), Err(IncrError::WrongType));
        d.set(
            b"big",
            &[0xd3, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
        );
        assert_eq!(d.incr(b"big", 1), Err(IncrError::Overflow));
        d.set(
            b"u64",
            &[0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
        );
        assert_eq!(d.incr(b"u64", 0), Err(IncrError::Overflow));
    }

    #[test]
    fn compare_and_set_compares_bytes() {
        let mut d = Dict::new();
        assert!(d.compare_and_set(b"k", None, b"\x01"));
        assert!(!d.compare_and_set(b"k", None, b"\x02"));
        assert!(!d.compare_and_set(b"k", Some(b"\x02"), b"\x03"));
        assert!(d.compare_and_set(b"k", Some(b"\x01"), b"\x03"));
        assert_eq!(d.get(b"k"), Some(&b"\x03"[..]));
        assert_eq!(d.setdefault(b"k", b"\x09"), b"\x03");
        assert_eq!(d.setdefault(b"n", b"\x09"), b"\x09");
    }
}
