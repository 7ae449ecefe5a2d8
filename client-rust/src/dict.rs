//! Shared dicts: [`RawDict`] with MessagePack keys and values, [`Dict<K, V>`] with typed ones.
//!
//! Every operation is one atomic request. Keys compare by their encoded bytes, so a key must
//! encode the same way in every language (integers in shortest form, which every standard
//! encoder and this crate do; `1` and `1.0` are different keys).

use std::borrow::Borrow;
use std::marker::PhantomData;

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_bytes::Bytes;
use xproc_protocol::{Kind, ReplyFields, RequestFields};

use crate::client::{need, value_of, Client};
use crate::codec::{decode, encode};
use crate::error::{Error, Result};
use crate::valuebuf::{SharedReply, ValueBuf};

/// A dict handle with raw MessagePack keys and values (each exactly one MessagePack value).
///
/// Lookups that may find nothing return `Option` (`get`, `pop`, `popitem`) or `bool`
/// (`delete`), as Rust maps do, rather than [`Error::KeyNotFound`].
///
/// # Example
///
/// ```no_run
/// # fn main() -> xproc::Result<()> {
/// # let client = xproc::Client::connect_default()?;
/// let d = client.raw_dict("config")?;
/// d.set(&xproc::encode("host")?, &xproc::encode("a1")?)?;
/// let host = d.get(&xproc::encode("host")?)?.map(|v| xproc::decode::<String>(&v)).transpose()?;
/// assert_eq!(host.as_deref(), Some("a1"));
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct RawDict {
    client: Client,
    name: String,
}

type Pair = (Vec<u8>, Vec<u8>);

/// An iterator over a dict's entries by cursor scan ([`RawDict::scan`]): raw `(key, value)`
/// pairs, one `dict.scan` request per page.
///
/// # Example
///
/// ```no_run
/// # fn main() -> xproc::Result<()> {
/// # let client = xproc::Client::connect_default()?;
/// let d = client.raw_dict("config")?;
/// for entry in d.scan() {
///     let (key, value) = entry?; // pages are fetched as the iteration goes
///     println!("{} bytes -> {} bytes", key.len(), value.len());
/// }
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Scan {
    dict: RawDict,
    count: Option<u64>,
    /// The next page's cursor; `None` once the last page was read (or a request failed).
    cursor: Option<u64>,
    page: std::vec::IntoIter<Pair>,
}

impl Iterator for Scan {
    type Item = Result<Pair>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(pair) = self.page.next() {
                return Some(Ok(pair));
            }
            let cursor = self.cursor?;
            match self.dict.scan_page(cursor, self.count) {
                Ok((page, next)) => {
                    self.cursor = (next != 0).then_some(next);
                    self.page = page.into_iter();
                }
                Err(e) => {
                    self.cursor = None;
                    return Some(Err(e));
                }
            }
        }
    }
}

/// Marks a handle as carrying `K`s and `V`s without owning any (and stays `Send + Sync`).
type Carries<K, V> = PhantomData<fn(K, V) -> (K, V)>;

impl RawDict {
    /// Opens or creates the dict `name`.
    pub fn open(client: &Client, name: &str) -> Result<Self> {
        client.open(name, Kind::Dict)?;
        Ok(RawDict {
            client: client.clone(),
            name: name.to_string(),
        })
    }

    /// The dict's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The client this handle uses.
    pub fn client(&self) -> &Client {
        &self.client
    }

    fn req<'a>(&'a self, op: &'a str, key: Option<&'a [u8]>) -> RequestFields<'a> {
        RequestFields {
            name: Some(self.name.as_str().into()),
            key: key.map(Bytes::new),
            ..RequestFields::new(0, op)
        }
    }

    fn call<R>(
        &self,
        req: RequestFields<'_>,
        f: impl FnOnce(&ReplyFields<'_>) -> Result<R>,
    ) -> Result<R> {
        self.client.exchange(req, None, f)
    }

    /// A result that is `None` when the broker says `KeyNotFound`.
    fn optional<R>(r: Result<R>) -> Result<Option<R>> {
        match r {
            Ok(v) => Ok(Some(v)),
            Err(Error::KeyNotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The value under `key`, handed to `f` without copying; `None` if there is none. A large
    /// value that came as a sealed memfd is handed over as its read-only mapping (no copy at
    /// all), unmapped when `f` returns.
    pub fn get_with<R>(&self, key: &[u8], f: impl FnOnce(&[u8]) -> Result<R>) -> Result<Option<R>> {
        self.fetch(key, |r, s| match s {
            Some(s) => f(s.map()?.bytes()),
            None => f(value_of(r, "dict.get")?),
        })
    }

    /// The value under `key`; `None` if there is none. A value that came as a memfd is read
    /// with one `pread` (cheaper than mapping it and copying out).
    pub fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.fetch(key, |r, s| match s {
            Some(s) => s.read(),
            None => Ok(value_of(r, "dict.get")?.to_vec()),
        })
    }

    /// The value under `key` as a [`ValueBuf`] (`None` if there is none): a value that came
    /// as a sealed memfd stays its read-only mapping (no copy), held until the `ValueBuf`
    /// drops.
    pub fn get_buf(&self, key: &[u8]) -> Result<Option<ValueBuf>> {
        self.fetch(key, |r, s| match s {
            Some(s) => s.into_buf(),
            None => Ok(ValueBuf::owned(value_of(r, "dict.get")?.to_vec())),
        })
    }

    /// One `dict.get`, its reply handed to `f` with the memfd value that came with it.
    fn fetch<R>(
        &self,
        key: &[u8],
        f: impl FnOnce(&ReplyFields<'_>, Option<SharedReply>) -> Result<R>,
    ) -> Result<Option<R>> {
        Self::optional(
            self.client
                .exchange_shared(self.req("dict.get", Some(key)), None, f),
        )
    }

    /// Sets `key` to `value` (an existing key keeps its place in the order).
    ///
    /// A value of at least [`SHARED_VALUE_MIN`](crate::SHARED_VALUE_MIN) bytes travels as a
    /// sealed memfd where the connection negotiated descriptor passing (docs/PROTOCOL.md
    /// §4.1): written once, never copied by the broker.
    pub fn set(&self, key: &[u8], value: &[u8]) -> Result<()> {
        let req = RequestFields {
            value: Some(Bytes::new(value)),
            ..self.req("dict.set", Some(key))
        };
        self.client.exchange_shared(req, None, |_, _| Ok(()))
    }

    /// Removes `key`; `false` if it was not there.
    pub fn delete(&self, key: &[u8]) -> Result<bool> {
        Ok(Self::optional(self.call(self.req("dict.delete", Some(key)), |_| Ok(())))?.is_some())
    }

    /// Whether `key` is there.
    pub fn contains(&self, key: &[u8]) -> Result<bool> {
        self.call(self.req("dict.contains", Some(key)), |r| {
            need(r.found, "dict.contains", "found")
        })
    }

    /// Number of entries.
    pub fn len(&self) -> Result<u64> {
        self.call(self.req("dict.len", None), |r| {
            need(r.len, "dict.len", "len")
        })
    }

    /// Whether the dict has no entries.
    pub fn is_empty(&self) -> Result<bool> {
        Ok(self.len()? == 0)
    }

    /// Every key, in insertion order (a snapshot).
    pub fn keys(&self) -> Result<Vec<Vec<u8>>> {
        self.call(self.req("dict.keys", None), |r| {
            Ok(need(r.keys.as_ref(), "dict.keys", "keys")?
                .iter()
                .map(|k| k.to_vec())
                .collect())
        })
    }

    /// Every value, in insertion order (a snapshot).
    pub fn values(&self) -> Result<Vec<Vec<u8>>> {
        self.call(self.req("dict.values", None), |r| {
            need(r.values.as_ref(), "dict.values", "values")?
                .iter()
                .map(|v| {
                    v.map(|v| v.to_vec()).ok_or_else(|| {
                        Error::Protocol("dict.values returned nil for a value".into())
                    })
                })
                .collect()
        })
    }

    /// Every (key, value) pair, in insertion order (a snapshot).
    pub fn items(&self) -> Result<Vec<Pair>> {
        self.call(self.req("dict.items", None), |r| {
            Ok(need(r.items.as_ref(), "dict.items", "items")?
                .iter()
                .map(|(k, v)| (k.to_vec(), v.to_vec()))
                .collect())
        })
    }

    /// One page of a cursor scan (`dict.scan`): entries in insertion order from `cursor` (0 =
    /// the start), at most `count` (`None`: the broker's default, 100; at most 1000), and the
    /// cursor of the next page, 0 when the scan is complete. [`scan`](Self::scan) iterates.
    pub fn scan_page(&self, cursor: u64, count: Option<u64>) -> Result<(Vec<Pair>, u64)> {
        let req = RequestFields {
            cursor: Some(cursor),
            count,
            ..self.req("dict.scan", None)
        };
        self.call(req, |r| {
            let items = need(r.items.as_ref(), "dict.scan", "items")?
                .iter()
                .map(|(k, v)| (k.to_vec(), v.to_vec()))
                .collect();
            Ok((items, need(r.cursor, "dict.scan", "cursor")?))
        })
    }

    /// Every entry, a page (of the broker's default size) per request, unlike
    /// [`items`](Self::items), which is one atomic snapshot that a dict larger than
    /// `max_frame` cannot fit in. Not a snapshot: every key present for the whole iteration
    /// comes exactly once, with its value when its page was read; keys set or deleted meanwhile
    /// may or may not come (docs/PROTOCOL.md §6.4, "Cursor scans"). Errors end the iteration.
    pub fn scan(&self) -> Scan {
        self.scan_with(None)
    }

    /// As [`scan`](Self::scan), with `count` entries a page (a hint; at most 1000).
    pub fn scan_with(&self, count: Option<u64>) -> Scan {
        Scan {
            dict: self.clone(),
            count,
            cursor: Some(0),
            page: Vec::new().into_iter(),
        }
    }

    /// Sets every pair at once (atomically: with `LimitExceeded`, nothing is set).
    pub fn update<K: AsRef<[u8]>, V: AsRef<[u8]>>(
        &self,
        items: impl IntoIterator<Item = (K, V)>,
    ) -> Result<()> {
        let items: Vec<(K, V)> = items.into_iter().collect();
        let req = RequestFields {
            items: Some(
                items
                    .iter()
                    .map(|(k, v)| (Bytes::new(k.as_ref()), Bytes::new(v.as_ref())))
                    .collect(),
            ),
            ..self.req("dict.update", None)
        };
        self.call(req, |_| Ok(()))
    }

    /// The values under `keys`, in order; `None` for each missing key.
    pub fn get_many<K: AsRef<[u8]>>(
        &self,
        keys: impl IntoIterator<Item = K>,
    ) -> Result<Vec<Option<Vec<u8>>>> {
        let keys: Vec<K> = keys.into_iter().collect();
        let req = RequestFields {
            keys: Some(keys.iter().map(|k| Bytes::new(k.as_ref())).collect()),
            ..self.req("dict.get_many", None)
        };
        self.call(req, |r| {
            let values = need(r.values.as_ref(), "dict.get_many", "values")?;
            if values.len() != keys.len() {
                return Err(Error::Protocol(format!(
                    "dict.get_many returned {} values for {} keys",
                    values.len(),
                    keys.len()
                )));
            }
            Ok(values.iter().map(|v| v.map(|v| v.to_vec())).collect())
        })
    }

    /// Removes `key` and returns its value; `None` if it was not there.
    pub fn pop(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        Self::optional(self.call(self.req("dict.pop", Some(key)), |r| {
            Ok(value_of(r, "dict.pop")?.to_vec())
        }))
    }

    /// Removes and returns the most recently inserted entry; `None` if the dict is empty.
    pub fn popitem(&self) -> Result<Option<Pair>> {
        Self::optional(self.call(self.req("dict.popitem", None), |r| {
            Ok((
                need(r.key, "dict.popitem", "key")?.to_vec(),
                value_of(r, "dict.popitem")?.to_vec(),
            ))
        }))
    }

    /// The value under `key`, setting it to `default` first if the key is absent.
    pub fn setdefault(&self, key: &[u8], default: &[u8]) -> Result<Vec<u8>> {
        let req = RequestFields {
            value: Some(Bytes::new(default)),
            ..self.req("dict.setdefault", Some(key))
        };
        self.call(req, |r| Ok(value_of(r, "dict.setdefault")?.to_vec()))
    }

    /// Removes every entry.
    pub fn clear(&self) -> Result<()> {
        self.call(self.req("dict.clear", None), |_| Ok(()))
    }

    /// Atomically adds `delta` to the integer under `key` (a missing key counts from 0) and
    /// returns the new value. `WrongType` if the value is not an integer; `InvalidArgument` on
    /// i64 overflow.
    pub fn incr(&self, key: &[u8], delta: i64) -> Result<i64> {
        let req = RequestFields {
            delta: Some(delta),
            ..self.req("dict.incr", Some(key))
        };
        self.call(req, |r| need(r.n, "dict.incr", "n"))
    }

    /// Atomically sets `key` to `new` if its current value's bytes equal `expected` (or, with
    /// `expected` = `None`, if the key is absent). Returns whether it swapped.
    pub fn compare_and_set(&self, key: &[u8], expected: Option<&[u8]>, new: &[u8]) -> Result<bool> {
        let req = RequestFields {
            expected: expected.map(Bytes::new),
            value: Some(Bytes::new(new)),
            ..self.req("dict.compare_and_set", Some(key))
        };
        self.call(req, |r| need(r.swapped, "dict.compare_and_set", "swapped"))
    }
}

/// A dict with keys `K` and values `V`, encoded as MessagePack (see the crate docs, "Values").
///
/// Methods that take a key accept anything `K` borrows as (`&str` for `String` keys), since
/// both encode the same. Cloning a handle is cheap.
///
/// # Example
///
/// ```no_run
/// # fn main() -> xproc::Result<()> {
/// # let client = xproc::Client::connect_default()?;
/// let stats = client.dict::<String, i64>("stats")?;
/// stats.set("errors", &0)?;
/// let hits = stats.incr("hits", 1)?;       // atomic in the broker
/// let errors = stats.get("errors")?;       // Some(0)
/// println!("{hits} hits, {errors:?} errors");
/// # Ok(()) }
/// ```
pub struct Dict<K, V> {
    raw: RawDict,
    _types: Carries<K, V>,
}

impl<K, V> Clone for Dict<K, V> {
    fn clone(&self) -> Self {
        Dict {
            raw: self.raw.clone(),
            _types: PhantomData,
        }
    }
}

impl<K, V> std::fmt::Debug for Dict<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Dict").field(&self.raw).finish()
    }
}

impl<K, V> Dict<K, V>
where
    K: Serialize + DeserializeOwned,
    V: Serialize + DeserializeOwned,
{
    /// Wraps a raw handle.
    pub fn from_raw(raw: RawDict) -> Self {
        Dict {
            raw,
            _types: PhantomData,
        }
    }

    /// The raw handle underneath.
    pub fn raw(&self) -> &RawDict {
        &self.raw
    }

    /// The dict's name.
    pub fn name(&self) -> &str {
        self.raw.name()
    }

    /// The value under `key`; `None` if there is none.
    pub fn get<Q>(&self, key: &Q) -> Result<Option<V>>
    where
        K: Borrow<Q>,
        Q: Serialize + ?Sized,
    {
        self.raw.get_with(&encode(key)?, decode)
    }

    /// Sets `key` to `value`.
    pub fn set<Q>(&self, key: &Q, value: &V) -> Result<()>
    where
        K: Borrow<Q>,
        Q: Serialize + ?Sized,
    {
        self.raw.set(&encode(key)?, &encode(value)?)
    }

    /// Removes `key`; `false` if it was not there.
    pub fn delete<Q>(&self, key: &Q) -> Result<bool>
    where
        K: Borrow<Q>,
        Q: Serialize + ?Sized,
    {
        self.raw.delete(&encode(key)?)
    }

    /// Whether `key` is there.
    pub fn contains<Q>(&self, key: &Q) -> Result<bool>
    where
        K: Borrow<Q>,
        Q: Serialize + ?Sized,
    {
        self.raw.contains(&encode(key)?)
    }

    /// Number of entries.
    pub fn len(&self) -> Result<u64> {
        self.raw.len()
    }

    /// Whether the dict has no entries.
    pub fn is_empty(&self) -> Result<bool> {
        self.raw.is_empty()
    }

    /// Every key, in insertion order (a snapshot).
    pub fn keys(&self) -> Result<Vec<K>> {
        self.raw.keys()?.iter().map(|k| decode(k)).collect()
    }

    /// Every value, in insertion order (a snapshot).
    pub fn values(&self) -> Result<Vec<V>> {
        self.raw.values()?.iter().map(|v| decode(v)).collect()
    }

    /// Every (key, value) pair, in insertion order (a snapshot).
    pub fn items(&self) -> Result<Vec<(K, V)>> {
        self.raw
            .items()?
            .iter()
            .map(|(k, v)| Ok((decode(k)?, decode(v)?)))
            .collect()
    }

    /// Every entry by cursor scan, decoded: see [`RawDict::scan`] for what it guarantees.
    pub fn scan(&self) -> impl Iterator<Item = Result<(K, V)>> {
        self.raw
            .scan()
            .map(|p| p.and_then(|(k, v)| Ok((decode(&k)?, decode(&v)?))))
    }

    /// Sets every pair in one atomic request.
    pub fn update<KB, VB>(&self, items: impl IntoIterator<Item = (KB, VB)>) -> Result<()>
    where
        KB: Borrow<K>,
        VB: Borrow<V>,
    {
        let items = items
            .into_iter()
            .map(|(k, v)| Ok((encode(k.borrow())?, encode(v.borrow())?)))
            .collect::<Result<Vec<_>>>()?;
        self.raw.update(items)
    }

    /// Same as [`update`](Self::update).
    pub fn set_many<KB, VB>(&self, items: impl IntoIterator<Item = (KB, VB)>) -> Result<()>
    where
        KB: Borrow<K>,
        VB: Borrow<V>,
    {
        self.update(items)
    }

    /// The values under `keys`, in order; `None` for each missing key.
    pub fn get_many<'q, Q>(&self, keys: impl IntoIterator<Item = &'q Q>) -> Result<Vec<Option<V>>>
    where
        K: Borrow<Q>,
        Q: Serialize + ?Sized + 'q,
    {
        let keys = keys.into_iter().map(encode).collect::<Result<Vec<_>>>()?;
        self.raw
            .get_many(keys)?
            .iter()
            .map(|v| v.as_deref().map(decode).transpose())
            .collect()
    }

    /// Removes `key` and returns its value; `None` if it was not there.
    pub fn pop<Q>(&self, key: &Q) -> Result<Option<V>>
    where
        K: Borrow<Q>,
        Q: Serialize + ?Sized,
    {
        self.raw.pop(&encode(key)?)?.map(|v| decode(&v)).transpose()
    }

    /// Removes and returns the most recently inserted entry; `None` if the dict is empty.
    pub fn popitem(&self) -> Result<Option<(K, V)>> {
        match self.raw.popitem()? {
            Some((k, v)) => Ok(Some((decode(&k)?, decode(&v)?))),
            None => Ok(None),
        }
    }

    /// The value under `key`, setting it to `default` first if the key is absent.
    pub fn setdefault<Q>(&self, key: &Q, default: &V) -> Result<V>
    where
        K: Borrow<Q>,
        Q: Serialize + ?Sized,
    {
        decode(&self.raw.setdefault(&encode(key)?, &encode(default)?)?)
    }

    /// Removes every entry.
    pub fn clear(&self) -> Result<()> {
        self.raw.clear()
    }

    /// Atomically adds `delta` to the integer under `key` (missing counts from 0); returns the
    /// new value.
    pub fn incr<Q>(&self, key: &Q, delta: i64) -> Result<i64>
    where
        K: Borrow<Q>,
        Q: Serialize + ?Sized,
    {
        self.raw.incr(&encode(key)?, delta)
    }

    /// Atomically sets `key` to `new` if it currently holds `expected` (compared as encoded
    /// bytes), or if it is absent when `expected` is `None`. Returns whether it swapped.
    pub fn compare_and_set<Q>(&self, key: &Q, expected: Option<&V>, new: &V) -> Result<bool>
    where
        K: Borrow<Q>,
        Q: Serialize + ?Sized,
    {
        let expected = expected.map(encode).transpose()?;
        self.raw
            .compare_and_set(&encode(key)?, expected.as_deref(), &encode(new)?)
    }
}
