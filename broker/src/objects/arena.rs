//! The ready items of a queue, in order: small values back to back in chunks (no allocation,
//! pointer or length per item), larger ones each in an allocation of their own, in one FIFO of
//! segments. A queued 64-byte value costs 64 bytes plus a share of its chunk's slack, where a
//! `Box<[u8]>` per item cost a 16-byte slot, an allocation and the allocator's header — 104
//! bytes of RSS per item measured, against 65 for Redis's list.
//!
//! Values need no length prefix: each is exactly one well-formed MessagePack value (the
//! protocol layer checked it), so its length is read off its own markers ([`value_len`]).
//!
//! **Out-of-line items.** A value above [`INLINE_MAX`] is a segment of its own
//! ([`Segment::Alone`]): it is moved in and out without a copy, and a chunk never has to grow
//! or be oversized to take it. That is also the place for a value the broker holds as
//! something other than bytes (a sealed memfd, issue 11): another kind of lone segment,
//! ordered with the chunked ones like any other.
//!
//! **Invariant**: every segment in the FIFO holds at least one value not yet taken. A chunk
//! whose last value is taken leaves the FIFO at once (kept aside as the spare for the next
//! values if it is a small one). The first version of this file kept a drained last chunk at
//! the front instead; a value too large for it then went into a new chunk behind an empty one,
//! and the next pop read an empty "value" off the empty chunk (a 1 MiB item put just after a
//! consumer emptied the queue came out as zero bytes).

use std::collections::VecDeque;

use crate::stored::Stored;

/// Bytes per chunk once a queue holds more than a few values: large enough that the per-chunk
/// overhead (a 32-byte segment, the allocator's header) and the slack at a chunk's end stay
/// below a percent or two of what it holds.
pub const CHUNK: usize = 64 * 1024;

/// The first chunk after the queue was empty; chunks double from here up to [`CHUNK`]. An idle
/// queue keeps one chunk of this size as its spare, so thousands of idle queues cost little,
/// while a queue streaming through an empty state reuses it without allocating.
pub const FIRST_CHUNK: usize = 4 * 1024;

/// Largest value stored inside a chunk; a larger one is a segment of its own. At most this
/// much of a chunk is left unused when the next value does not fit (1/4 of the first chunk,
/// 1/64 of a full one), and a value this large pays its own allocation's overhead at under 5 %.
pub const INLINE_MAX: usize = 1024;

/// One run of the FIFO.
#[derive(Debug)]
enum Segment {
    /// Values back to back; the front chunk's first `Arena::head` bytes are taken already. Its
    /// capacity is fixed when it is made (pushes never reallocate it).
    Packed(Vec<u8>),
    /// One value larger than [`INLINE_MAX`] in its own allocation, or a memfd value
    /// (docs/PROTOCOL.md §4.1) as stored.
    Alone(Stored),
}

/// A FIFO of MessagePack values.
#[derive(Debug)]
pub struct Arena {
    segments: VecDeque<Segment>,
    /// Where the oldest value starts in the front segment when it is `Packed`.
    head: usize,
    /// Values held.
    len: usize,
    /// A drained chunk kept for the next values (at most [`FIRST_CHUNK`] bytes, so an idle
    /// queue keeps little).
    spare: Option<Vec<u8>>,
    /// Capacity of the next chunk: [`FIRST_CHUNK`] after the queue was empty, doubling up to
    /// [`CHUNK`] while it grows.
    next_chunk: usize,
}

impl Default for Arena {
    fn default() -> Self {
        Arena {
            segments: VecDeque::new(),
            head: 0,
            len: 0,
            spare: None,
            next_chunk: FIRST_CHUNK,
        }
    }
}

impl Arena {
    /// Values held.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no value is held.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends one value (exactly one well-formed MessagePack value).
    pub fn push_back(&mut self, value: impl Into<Stored>) {
        let value = value.into();
        self.len += 1;
        if value.len() > INLINE_MAX || value.shared().is_some() {
            self.segments.push_back(Segment::Alone(value));
            return;
        }
        if let Some(Segment::Packed(tail)) = self.segments.back_mut() {
            if tail.capacity() - tail.len() >= value.len() {
                tail.extend_from_slice(&value);
                return;
            }
        }
        let mut chunk = match self.spare.take() {
            Some(spare) => spare,
            None => {
                let cap = self.next_chunk;
                self.next_chunk = (cap * 2).min(CHUNK);
                Vec::with_capacity(cap)
            }
        };
        chunk.extend_from_slice(&value);
        self.segments.push_back(Segment::Packed(chunk));
    }

    /// Removes and returns the oldest value.
    pub fn pop_front(&mut self) -> Option<Stored> {
        let value = match self.segments.front()? {
            Segment::Alone(_) => match self.segments.pop_front() {
                Some(Segment::Alone(v)) => v,
                _ => return None,
            },
            Segment::Packed(chunk) => {
                let rest = &chunk[self.head..];
                let n = value_len(rest);
                let value = Stored::from(&rest[..n]);
                self.head += n;
                if self.head == chunk.len() {
                    self.head = 0;
                    if let Some(Segment::Packed(mut drained)) = self.segments.pop_front() {
                        if drained.capacity() <= FIRST_CHUNK && self.spare.is_none() {
                            drained.clear();
                            self.spare = Some(drained);
                        }
                    }
                }
                value
            }
        };
        self.len -= 1;
        if self.len == 0 {
            // Start small again: a queue that drains between bursts does not keep full chunks.
            self.next_chunk = FIRST_CHUNK;
        }
        Some(value)
    }
}

/// The length of the MessagePack value at the start of `bytes`, which holds at least one
/// well-formed value (so it is never more than `bytes.len()`). Walks nested arrays and maps
/// without a stack and without re-checking what validation already did (UTF-8, timestamps,
/// depth).
pub fn value_len(bytes: &[u8]) -> usize {
    let mut pos = 0usize;
    let mut owed: u64 = 1;
    let be = |pos: usize, n: usize| -> u64 {
        bytes
            .get(pos..pos + n)
            .map_or(0, |s| s.iter().fold(0u64, |a, b| (a << 8) | u64::from(*b)))
    };
    while owed > 0 {
        owed -= 1;
        let Some(&m) = bytes.get(pos) else {
            return bytes.len();
        };
        pos += 1;
        // (bytes after the marker, values nested inside)
        let (skip, children): (u64, u64) = match m {
            0x00..=0x7f | 0xe0..=0xff | 0xc0 | 0xc2 | 0xc3 => (0, 0),
            0x80..=0x8f => (0, 2 * u64::from(m & 0x0f)),
            0x90..=0x9f => (0, u64::from(m & 0x0f)),
            0xa0..=0xbf => (u64::from(m & 0x1f), 0),
            // bin / str 8, 16, 32: the length, then the bytes.
            0xc4 | 0xd9 => (1 + be(pos, 1), 0),
            0xc5 | 0xda => (2 + be(pos, 2), 0),
            0xc6 | 0xdb => (4 + be(pos, 4), 0),
            // ext 8, 16, 32: the length, the type byte, then the data.
            0xc7 => (2 + be(pos, 1), 0),
            0xc8 => (3 + be(pos, 2), 0),
            0xc9 => (5 + be(pos, 4), 0),
            0xca => (4, 0),
            0xcb => (8, 0),
            0xcc | 0xd0 => (1, 0),
            0xcd | 0xd1 => (2, 0),
            0xce | 0xd2 => (4, 0),
            0xcf | 0xd3 => (8, 0),
            // fixext 1, 2, 4, 8, 16: the type byte, then the data.
            0xd4 => (2, 0),
            0xd5 => (3, 0),
            0xd6 => (5, 0),
            0xd7 => (9, 0),
            0xd8 => (17, 0),
            0xdc => (2, be(pos, 2)),
            0xdd => (4, be(pos, 4)),
            0xde => (2, 2 * be(pos, 2)),
            0xdf => (4, 2 * be(pos, 4)),
            // Never passes validation.
            0xc1 => (0, 0),
        };
        pos = pos.saturating_add(usize::try_from(skip).unwrap_or(usize::MAX));
        owed = owed.saturating_add(children);
        if pos > bytes.len() || (pos == bytes.len() && owed > 0) {
            return bytes.len();
        }
    }
    pos
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mp(v: &rmpv::Value) -> Vec<u8> {
        let mut out = Vec::new();
        rmpv::encode::write_value(&mut out, v).unwrap();
        out
    }

    /// A MessagePack bin value of exactly `total` encoded bytes (`total` ≥ 2), in the smallest
    /// bin form whose header leaves room (258 bytes is a bin 16 of 255: valid, not the shortest).
    fn bin_of(total: usize, fill: u8) -> Box<[u8]> {
        let mut b = match total {
            2..=257 => vec![0xc4, (total - 2) as u8],
            258..=65_538 => {
                let n = (total - 3) as u16;
                vec![0xc5, (n >> 8) as u8, n as u8]
            }
            _ => {
                let mut h = vec![0xc6];
                h.extend_from_slice(&((total - 5) as u32).to_be_bytes());
                h
            }
        };
        b.resize(total, fill);
        b.into()
    }

    /// A deterministic xorshift generator: the randomized tests are reproducible by seed.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    #[test]
    fn value_len_reads_every_kind_of_value() {
        use rmpv::Value as V;
        let values = [
            V::Nil,
            V::Boolean(true),
            V::from(7),
            V::from(-3),
            V::from(300),
            V::from(-70000),
            V::from(u64::MAX),
            V::from(i64::MIN),
            V::F32(1.5),
            V::F64(2.5),
            V::from(""),
            V::from("hi"),
            V::from("x".repeat(40)),
            V::from("y".repeat(300)),
            V::from("z".repeat(70000)),
            V::Binary(vec![]),
            V::Binary(vec![1; 62]),
            V::Binary(vec![2; 300]),
            V::Binary(vec![3; 70000]),
            V::Array(vec![]),
            V::Array((0..20).map(V::from).collect()),
            V::Map(vec![]),
            V::Map(vec![(
                V::from("n"),
                V::Array(vec![V::Nil, V::from("deep")]),
            )]),
            V::Map((0..20).map(|i| (V::from(i), V::from(i))).collect()),
            V::Array(vec![V::Array(vec![V::Map(vec![])])]),
            V::Ext(-1, vec![0; 4]),
            V::Ext(5, vec![0; 1]),
            V::Ext(5, vec![0; 2]),
            V::Ext(5, vec![0; 8]),
            V::Ext(5, vec![0; 16]),
            V::Ext(5, vec![0; 3]),
            V::Ext(5, vec![0; 300]),
            V::Ext(5, vec![0; 70000]),
        ];
        for v in &values {
            let mut b = mp(v);
            let n = b.len();
            assert_eq!(value_len(&b), n, "alone: {v:?}");
            b.extend_from_slice(&[0xc0, 0x01]);
            assert_eq!(value_len(&b), n, "followed by more: {v:?}");
        }
    }

    /// The regression: a queue drained to empty, then a value larger than a chunk. The first
    /// version kept the drained chunk at the front and popped an empty value off it.
    #[test]
    fn a_value_larger_than_a_chunk_after_the_queue_drained_comes_out_whole() {
        let mut a = Arena::default();
        let small = bin_of(20, 1);
        let big = bin_of((1 << 20) + 5, 7);
        a.push_back(small.clone());
        assert_eq!(a.pop_front().as_deref(), Some(&small[..]));
        a.push_back(big.clone());
        a.push_back(small.clone());
        assert_eq!(a.len(), 2);
        assert_eq!(a.pop_front().as_deref(), Some(&big[..]));
        assert_eq!(a.pop_front().as_deref(), Some(&small[..]));
        assert!(a.pop_front().is_none() && a.is_empty());
    }

    #[test]
    fn values_larger_than_a_chunk_keep_their_place_among_small_ones() {
        let mut a = Arena::default();
        let mut model = VecDeque::new();
        for i in 0..5000usize {
            let v = if i % 700 == 3 {
                bin_of(CHUNK + 1 + i, (i % 251) as u8)
            } else {
                bin_of(2 + i % 90, (i % 251) as u8)
            };
            model.push_back(v.clone());
            a.push_back(v);
        }
        while let Some(want) = model.pop_front() {
            assert_eq!(a.pop_front().as_deref(), Some(&want[..]));
        }
        assert!(a.pop_front().is_none());
    }

    #[test]
    fn values_exactly_filling_a_chunk_and_straddling_its_end() {
        for first in [FIRST_CHUNK - 2, FIRST_CHUNK - 1, FIRST_CHUNK] {
            let mut a = Arena::default();
            // Fill the first chunk to `first` bytes with 64-byte values and one odd tail value.
            let mut model = VecDeque::new();
            let mut used = 0;
            while used + 64 <= first - 64 {
                let v = bin_of(64, used as u8);
                used += 64;
                model.push_back(v.clone());
                a.push_back(v);
            }
            let tail = bin_of(first - used, 9);
            model.push_back(tail.clone());
            a.push_back(tail);
            // A value the same size as a chunk's remaining room, then ones that do not fit.
            for size in [INLINE_MAX, 2, INLINE_MAX + 1, 3, INLINE_MAX] {
                let v = bin_of(size, 5);
                model.push_back(v.clone());
                a.push_back(v);
            }
            while let Some(want) = model.pop_front() {
                assert_eq!(a.pop_front().as_deref(), Some(&want[..]), "first {first}");
            }
            assert!(a.is_empty());
        }
    }

    #[test]
    fn drained_chunks_are_freed_and_an_idle_queue_keeps_only_a_small_spare() {
        let mut a = Arena::default();
        for i in 0..20_000 {
            a.push_back(bin_of(64, i as u8));
        }
        let full = a.segments.len();
        assert!(full > 10, "{full} chunks");
        for _ in 0..10_000 {
            a.pop_front().unwrap();
        }
        assert!(a.segments.len() < full * 2 / 3, "drained chunks are freed");
        while a.pop_front().is_some() {}
        assert!(a.segments.is_empty());
        assert!(a.spare.as_ref().is_none_or(|s| s.capacity() <= FIRST_CHUNK));
        // Refilled from empty, it starts small again.
        a.push_back(bin_of(64, 1));
        assert!(
            matches!(a.segments.front(), Some(Segment::Packed(c)) if c.capacity() <= FIRST_CHUNK)
        );
    }

    /// Random pushes and pops of random sizes (inline, at the limits, larger than a chunk)
    /// against a `VecDeque` model, checking every value and the length after every step.
    #[test]
    fn randomized_against_a_vecdeque() {
        for seed in 1..=10u64 {
            let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
            let mut a = Arena::default();
            let mut model: VecDeque<Box<[u8]>> = VecDeque::new();
            for step in 0..2000 {
                // Bias towards pushing early, popping late, and emptying now and then.
                let push = rng.below(100) < if step < 1000 { 60 } else { 40 };
                if push {
                    let size = match rng.below(20) {
                        0 => CHUNK + rng.below(CHUNK as u64) as usize,
                        1 | 2 => INLINE_MAX - 1 + rng.below(3) as usize,
                        3 | 4 => FIRST_CHUNK - 2 + rng.below(5) as usize,
                        _ => 2 + rng.below(200) as usize,
                    };
                    let v = bin_of(size, rng.next() as u8);
                    model.push_back(v.clone());
                    a.push_back(v);
                } else {
                    let got = a.pop_front().map(|v| v.to_vec().into_boxed_slice());
                    assert_eq!(got, model.pop_front(), "seed {seed} step {step}");
                }
                assert_eq!(a.len(), model.len(), "seed {seed} step {step}");
            }
            while let Some(want) = model.pop_front() {
                assert_eq!(a.pop_front().as_deref(), Some(&want[..]), "seed {seed}");
            }
            assert!(a.pop_front().is_none());
        }
    }
}
