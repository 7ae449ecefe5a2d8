//! `xproc_value_t`: a small MessagePack value API, so that a C program can exchange nil,
//! booleans, integers, floats, strings, bytes, arrays and maps without a MessagePack library;
//! and `xproc_bytes_free`, which frees every buffer libxproc returns.
//!
//! A value handed to C points to a [`Node`]: a magic number, then the [`Value`]. Values a
//! caller owns (from `xproc_value_new_*`, `_decode`, `_clone` or a get) carry [`OWNED`];
//! elements inside an array or map carry [`CHILD`]: they can be read through the borrowed
//! pointers `xproc_value_array_get` and friends return, but not freed, pushed or inserted
//! (those calls refuse them instead of corrupting the parent).

use std::ffi::c_char;

use xproc_protocol::value::{validate, MAX_DEPTH};

use crate::error::{Error, Result};
use crate::handle::{self, BytesOut};
use crate::panic::{ffi, ffi_or};
use crate::status::xproc_status_e;

/// A MessagePack value (opaque). Owned values are freed with `xproc_value_free`; pointers to
/// elements of an array or map are borrowed from their container and valid until it is
/// changed or freed.
///
/// Not synchronised: a value may be read from several threads at once, but must not be
/// changed (pushed or inserted into) while another thread uses it.
pub struct xproc_value_t {
    _private: [u8; 0],
}

/// The type of an `xproc_value_t`, as `xproc_value_type` reports it.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum xproc_value_type_e {
    /// Not a value: `xproc_value_type` was given NULL or something that is not a value.
    XPROC_VALUE_INVALID = -1,
    /// MessagePack nil (Python's None, C#'s null).
    XPROC_VALUE_NIL = 0,
    /// A boolean.
    XPROC_VALUE_BOOL = 1,
    /// An integer that fits `int64_t` (read with `xproc_value_as_int64`, or
    /// `xproc_value_as_uint64` when not negative).
    XPROC_VALUE_INT = 2,
    /// An integer above `INT64_MAX` (read with `xproc_value_as_uint64`).
    XPROC_VALUE_UINT = 3,
    /// A 32-bit float (read with `xproc_value_as_double`).
    XPROC_VALUE_FLOAT = 4,
    /// A 64-bit float.
    XPROC_VALUE_DOUBLE = 5,
    /// A UTF-8 string.
    XPROC_VALUE_STRING = 6,
    /// A byte string (MessagePack bin).
    XPROC_VALUE_BYTES = 7,
    /// An array of values.
    XPROC_VALUE_ARRAY = 8,
    /// A map of (key, value) pairs, in order.
    XPROC_VALUE_MAP = 9,
    /// A MessagePack extension (type and bytes), e.g. a timestamp (type -1).
    XPROC_VALUE_EXT = 10,
}

/// Tags a value the caller owns.
const OWNED: u64 = 0x7870_726f_6376_616c; // "xprocval"
/// Tags an element inside an array or map.
const CHILD: u64 = 0x7870_726f_6363_6864; // "xprocchd"
/// Tags a freed value.
const DEAD: u64 = 0xdead_dead_dead_dead;

/// A value in memory: its magic, then the value. `repr(C)` keeps `magic` first.
#[repr(C)]
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Node {
    magic: u64,
    value: Value,
}

impl Node {
    fn child(value: Value) -> Node {
        Node {
            magic: CHILD,
            value,
        }
    }
}

/// A MessagePack value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Nil,
    Bool(bool),
    /// Any integer that fits `i64`.
    Int(i64),
    /// Only integers above `i64::MAX`, so each integer has one representation.
    UInt(u64),
    Float(f32),
    Double(f64),
    /// UTF-8 bytes followed by one NUL (not part of the string), so C can use it as a C string.
    Str(Vec<u8>),
    Bytes(Vec<u8>),
    Ext(i8, Vec<u8>),
    /// `depth`: levels of arrays and maps, this one included (bounded by `MAX_DEPTH`).
    Array {
        items: Vec<Node>,
        depth: usize,
    },
    Map {
        entries: Vec<(Node, Node)>,
        depth: usize,
    },
}

impl Value {
    /// A string value.
    pub(crate) fn str(s: &str) -> Value {
        let mut b = Vec::with_capacity(s.len() + 1);
        b.extend_from_slice(s.as_bytes());
        b.push(0);
        Value::Str(b)
    }

    /// An unsigned integer in its one representation.
    pub(crate) fn uint(n: u64) -> Value {
        match i64::try_from(n) {
            Ok(i) => Value::Int(i),
            Err(_) => Value::UInt(n),
        }
    }

    /// An array of `items` (built by libxproc itself, so shallow enough).
    pub(crate) fn array(items: Vec<Value>) -> Value {
        let depth = 1 + items.iter().map(Value::depth).max().unwrap_or(0);
        Value::Array {
            items: items.into_iter().map(Node::child).collect(),
            depth,
        }
    }

    /// A map of `entries` with string keys.
    pub(crate) fn map(entries: Vec<(&str, Value)>) -> Value {
        let depth = 1 + entries.iter().map(|(_, v)| v.depth()).max().unwrap_or(0);
        Value::Map {
            entries: entries
                .into_iter()
                .map(|(k, v)| (Node::child(Value::str(k)), Node::child(v)))
                .collect(),
            depth,
        }
    }

    /// The elements of an array value.
    pub(crate) fn array_items(&self) -> Result<Vec<&Value>> {
        match self {
            Value::Array { items, .. } => Ok(items.iter().map(|n| &n.value).collect()),
            other => Err(other.wrong_type("an array")),
        }
    }

    /// The entries of a map value, in order.
    pub(crate) fn map_entries(&self) -> Result<Vec<(&Value, &Value)>> {
        match self {
            Value::Map { entries, .. } => {
                Ok(entries.iter().map(|(k, v)| (&k.value, &v.value)).collect())
            }
            other => Err(other.wrong_type("a map")),
        }
    }

    /// Levels of arrays and maps: 0 for a scalar.
    fn depth(&self) -> usize {
        match self {
            Value::Array { depth, .. } | Value::Map { depth, .. } => *depth,
            _ => 0,
        }
    }

    fn type_of(&self) -> xproc_value_type_e {
        use xproc_value_type_e::*;
        match self {
            Value::Nil => XPROC_VALUE_NIL,
            Value::Bool(_) => XPROC_VALUE_BOOL,
            Value::Int(_) => XPROC_VALUE_INT,
            Value::UInt(_) => XPROC_VALUE_UINT,
            Value::Float(_) => XPROC_VALUE_FLOAT,
            Value::Double(_) => XPROC_VALUE_DOUBLE,
            Value::Str(_) => XPROC_VALUE_STRING,
            Value::Bytes(_) => XPROC_VALUE_BYTES,
            Value::Ext(..) => XPROC_VALUE_EXT,
            Value::Array { .. } => XPROC_VALUE_ARRAY,
            Value::Map { .. } => XPROC_VALUE_MAP,
        }
    }

    fn type_name(&self) -> &'static str {
        match self {
            Value::Nil => "nil",
            Value::Bool(_) => "a bool",
            Value::Int(_) | Value::UInt(_) => "an integer",
            Value::Float(_) | Value::Double(_) => "a float",
            Value::Str(_) => "a string",
            Value::Bytes(_) => "bytes",
            Value::Ext(..) => "an extension",
            Value::Array { .. } => "an array",
            Value::Map { .. } => "a map",
        }
    }

    fn wrong_type(&self, wanted: &str) -> Error {
        Error::WrongType(format!("the value is {}, not {wanted}", self.type_name()))
    }

    /// Encodes the value as MessagePack, integers in their shortest form (so equal numbers
    /// are equal dict keys in every language).
    pub(crate) fn encode(&self) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        self.encode_into(&mut out)?;
        Ok(out)
    }

    fn encode_into(&self, out: &mut Vec<u8>) -> Result<()> {
        use rmp::encode as enc;
        let too_long = |what: &str| Error::OutOfRange(format!("{what} is too long to encode"));
        let len32 = |n: usize, what: &str| u32::try_from(n).map_err(|_| too_long(what));
        // Writing to a Vec cannot fail except by running out of lengths, checked above.
        let failed = |_| Error::OutOfRange("the value cannot be encoded".into());
        match self {
            Value::Nil => enc::write_nil(out).map_err(failed)?,
            Value::Bool(b) => enc::write_bool(out, *b).map_err(failed)?,
            Value::Int(i) if *i >= 0 => {
                enc::write_uint(out, *i as u64).map_err(|_| too_long("integer"))?;
            }
            Value::Int(i) => {
                enc::write_sint(out, *i).map_err(|_| too_long("integer"))?;
            }
            Value::UInt(u) => {
                enc::write_uint(out, *u).map_err(|_| too_long("integer"))?;
            }
            Value::Float(f) => enc::write_f32(out, *f).map_err(|_| too_long("float"))?,
            Value::Double(f) => enc::write_f64(out, *f).map_err(|_| too_long("float"))?,
            Value::Str(s) => {
                let s = &s[..s.len() - 1];
                enc::write_str_len(out, len32(s.len(), "string")?)
                    .map_err(|_| too_long("string"))?;
                out.extend_from_slice(s);
            }
            Value::Bytes(b) => {
                enc::write_bin_len(out, len32(b.len(), "byte string")?)
                    .map_err(|_| too_long("byte string"))?;
                out.extend_from_slice(b);
            }
            Value::Ext(ty, data) => {
                enc::write_ext_meta(out, len32(data.len(), "extension")?, *ty)
                    .map_err(|_| too_long("extension"))?;
                out.extend_from_slice(data);
            }
            Value::Array { items, .. } => {
                enc::write_array_len(out, len32(items.len(), "array")?)
                    .map_err(|_| too_long("array"))?;
                for item in items {
                    item.value.encode_into(out)?;
                }
            }
            Value::Map { entries, .. } => {
                enc::write_map_len(out, len32(entries.len(), "map")?)
                    .map_err(|_| too_long("map"))?;
                for (k, v) in entries {
                    k.value.encode_into(out)?;
                    v.value.encode_into(out)?;
                }
            }
        }
        Ok(())
    }

    /// Decodes exactly one well-formed MessagePack value (the broker's own check first, so
    /// nesting is bounded before anything recurses).
    pub(crate) fn decode(bytes: &[u8]) -> Result<Value> {
        validate(bytes).map_err(|e| Error::InvalidValue(e.to_string()))?;
        let v = rmpv::decode::read_value(&mut &bytes[..])
            .map_err(|e| Error::InvalidValue(e.to_string()))?;
        Ok(Value::from_rmpv(v))
    }

    fn from_rmpv(v: rmpv::Value) -> Value {
        use rmpv::Value as V;
        match v {
            V::Nil => Value::Nil,
            V::Boolean(b) => Value::Bool(b),
            V::Integer(i) => match (i.as_i64(), i.as_u64()) {
                (Some(i), _) => Value::Int(i),
                (None, Some(u)) => Value::UInt(u),
                // rmpv integers are always one of the two.
                (None, None) => Value::Nil,
            },
            V::F32(f) => Value::Float(f),
            V::F64(f) => Value::Double(f),
            V::String(s) => {
                let mut b = s.into_bytes();
                b.push(0);
                Value::Str(b)
            }
            V::Binary(b) => Value::Bytes(b),
            V::Ext(ty, data) => Value::Ext(ty, data),
            V::Array(items) => {
                let items: Vec<Value> = items.into_iter().map(Value::from_rmpv).collect();
                Value::array(items)
            }
            V::Map(entries) => {
                let depth = 1 + entries
                    .iter()
                    .map(|(_, v)| depth_of(v))
                    .chain(entries.iter().map(|(k, _)| depth_of(k)))
                    .max()
                    .unwrap_or(0);
                Value::Map {
                    entries: entries
                        .into_iter()
                        .map(|(k, v)| {
                            (
                                Node::child(Value::from_rmpv(k)),
                                Node::child(Value::from_rmpv(v)),
                            )
                        })
                        .collect(),
                    depth,
                }
            }
        }
    }
}

/// Levels of arrays and maps in an rmpv value (bounded: it passed `validate`).
fn depth_of(v: &rmpv::Value) -> usize {
    match v {
        rmpv::Value::Array(items) => 1 + items.iter().map(depth_of).max().unwrap_or(0),
        rmpv::Value::Map(entries) => {
            1 + entries
                .iter()
                .flat_map(|(k, v)| [depth_of(k), depth_of(v)])
                .max()
                .unwrap_or(0)
        }
        _ => 0,
    }
}

/// Hands a value to C as an owned `xproc_value_t`.
pub(crate) fn into_raw(value: Value) -> *mut xproc_value_t {
    Box::into_raw(Box::new(Node {
        magic: OWNED,
        value,
    }))
    .cast()
}

/// Checks a value pointer: not NULL, aligned, a live value (owned or an element).
unsafe fn check(p: *const xproc_value_t, arg: &'static str) -> Result<*mut Node> {
    if p.is_null() {
        return Err(Error::Null(arg));
    }
    if !p.cast::<Node>().is_aligned() {
        return Err(Error::InvalidArgument(format!(
            "argument '{arg}' is not an xproc_value_t"
        )));
    }
    let node = p.cast::<Node>().cast_mut();
    // SAFETY: non-NULL, aligned; the caller promises a libxproc pointer, which starts with
    // its u64 magic.
    let magic = unsafe { std::ptr::addr_of!((*node).magic).read() };
    match magic {
        OWNED | CHILD => Ok(node),
        DEAD => Err(Error::InvalidArgument(format!(
            "argument '{arg}' is a value that was already freed"
        ))),
        _ => Err(Error::InvalidArgument(format!(
            "argument '{arg}' is not an xproc_value_t"
        ))),
    }
}

/// Borrows the value behind a pointer argument.
///
/// # Safety
///
/// `p` is NULL or a value pointer from libxproc that is still live.
pub(crate) unsafe fn value_ref<'a>(
    p: *const xproc_value_t,
    arg: &'static str,
) -> Result<&'a Value> {
    // SAFETY: forwarded.
    unsafe { check(p, arg).map(|n| &(*n).value) }
}

/// Borrows an owned value for changing it (elements cannot be changed in place).
unsafe fn value_mut<'a>(p: *mut xproc_value_t, arg: &'static str) -> Result<&'a mut Value> {
    // SAFETY: forwarded.
    let node = unsafe { check(p, arg)? };
    // SAFETY: a checked, live node.
    unsafe {
        if (*node).magic != OWNED {
            return Err(Error::InvalidArgument(format!(
                "argument '{arg}' is an element of another value, which cannot be changed"
            )));
        }
        Ok(&mut (*node).value)
    }
}

/// Takes ownership of an owned value, freeing its node.
unsafe fn take(p: *mut xproc_value_t, arg: &'static str) -> Result<Value> {
    // SAFETY: forwarded.
    let node = unsafe { check(p, arg)? };
    // SAFETY: a checked, live node made by `into_raw` when OWNED; marked dead before the box
    // is released, never touched again.
    unsafe {
        if (*node).magic != OWNED {
            return Err(Error::InvalidArgument(format!(
                "argument '{arg}' is an element of another value, not a value of its own"
            )));
        }
        (*node).magic = DEAD;
        Ok(Box::from_raw(node).value)
    }
}

/// Hands a byte vector to C as (pointer, length); `xproc_bytes_free` takes it back.
pub(crate) fn bytes_into_raw(v: Vec<u8>) -> (*mut u8, usize) {
    let b = v.into_boxed_slice();
    let len = b.len();
    (Box::into_raw(b).cast::<u8>(), len)
}

/// An out-parameter for an owned value, cleared first.
pub(crate) struct ValueOut<'a>(&'a mut *mut xproc_value_t);

impl<'a> ValueOut<'a> {
    /// Checks and clears `*out`.
    ///
    /// # Safety
    ///
    /// `out` is NULL or valid for writing a pointer.
    pub(crate) unsafe fn new(out: *mut *mut xproc_value_t, arg: &'static str) -> Result<Self> {
        // SAFETY: forwarded.
        unsafe { handle::out(out, std::ptr::null_mut(), arg).map(ValueOut) }
    }

    /// Hands `v` to the caller.
    pub(crate) fn set(self, v: Value) {
        *self.0 = into_raw(v);
    }

    /// Decodes MessagePack `bytes` (from the broker) and hands the value to the caller.
    pub(crate) fn set_decoded(self, bytes: &[u8]) -> Result<()> {
        self.set(Value::decode(bytes)?);
        Ok(())
    }
}

// ---- constructors ----

/// A new nil value. Returns an owned value (free with `xproc_value_free`); NULL only if
/// libxproc failed internally. Thread-safe.
#[no_mangle]
pub extern "C" fn xproc_value_new_nil() -> *mut xproc_value_t {
    ffi_or(std::ptr::null_mut(), || into_raw(Value::Nil))
}

/// A new boolean value. Returns an owned value (free with `xproc_value_free`). Thread-safe.
#[no_mangle]
pub extern "C" fn xproc_value_new_bool(b: bool) -> *mut xproc_value_t {
    ffi_or(std::ptr::null_mut(), || into_raw(Value::Bool(b)))
}

/// A new integer value. Returns an owned value (free with `xproc_value_free`). Thread-safe.
#[no_mangle]
pub extern "C" fn xproc_value_new_int64(n: i64) -> *mut xproc_value_t {
    ffi_or(std::ptr::null_mut(), || into_raw(Value::Int(n)))
}

/// A new unsigned integer value. An integer has one representation whatever built it:
/// `xproc_value_type` reports `XPROC_VALUE_INT` when it fits `int64_t` and `XPROC_VALUE_UINT`
/// only above `INT64_MAX`. Returns an owned value (free with `xproc_value_free`). Thread-safe.
#[no_mangle]
pub extern "C" fn xproc_value_new_uint64(n: u64) -> *mut xproc_value_t {
    ffi_or(std::ptr::null_mut(), || into_raw(Value::uint(n)))
}

/// A new 64-bit float value. Returns an owned value (free with `xproc_value_free`).
/// Thread-safe.
#[no_mangle]
pub extern "C" fn xproc_value_new_double(x: f64) -> *mut xproc_value_t {
    ffi_or(std::ptr::null_mut(), || into_raw(Value::Double(x)))
}

/// A new 32-bit float value (encoded as MessagePack float 32). Returns an owned value (free
/// with `xproc_value_free`). Thread-safe.
#[no_mangle]
pub extern "C" fn xproc_value_new_float(x: f32) -> *mut xproc_value_t {
    ffi_or(std::ptr::null_mut(), || into_raw(Value::Float(x)))
}

/// A new empty array; add elements with `xproc_value_array_push`. Returns an owned value
/// (free with `xproc_value_free`). Thread-safe.
#[no_mangle]
pub extern "C" fn xproc_value_new_array() -> *mut xproc_value_t {
    ffi_or(std::ptr::null_mut(), || {
        into_raw(Value::Array {
            items: Vec::new(),
            depth: 1,
        })
    })
}

/// A new empty map; add entries with `xproc_value_map_insert`. Returns an owned value (free
/// with `xproc_value_free`). Thread-safe.
#[no_mangle]
pub extern "C" fn xproc_value_new_map() -> *mut xproc_value_t {
    ffi_or(std::ptr::null_mut(), || {
        into_raw(Value::Map {
            entries: Vec::new(),
            depth: 1,
        })
    })
}

/// A new string value from `len` bytes of UTF-8 at `s` (no NUL terminator needed; NULL is
/// allowed when `len` is 0).
///
/// On success `*out` is an owned value (free with `xproc_value_free`); on failure it is NULL.
/// Errors: `XPROC_NULL_ARGUMENT`, `XPROC_INVALID_ARGUMENT` (not UTF-8). Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn xproc_value_new_string(
    s: *const c_char,
    len: usize,
    out: *mut *mut xproc_value_t,
) -> xproc_status_e {
    ffi(|| {
        // SAFETY: the caller's pointers, checked by the helpers.
        let out = unsafe { ValueOut::new(out, "out")? };
        let s = unsafe { handle::string(s, len, "s")? };
        out.set(Value::str(s));
        Ok(())
    })
}

/// A new byte-string value (MessagePack bin) copied from `len` bytes at `data` (NULL allowed
/// when `len` is 0).
///
/// On success `*out` is an owned value (free with `xproc_value_free`); on failure it is NULL.
/// Errors: `XPROC_NULL_ARGUMENT`. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn xproc_value_new_bytes(
    data: *const u8,
    len: usize,
    out: *mut *mut xproc_value_t,
) -> xproc_status_e {
    ffi(|| {
        // SAFETY: the caller's pointers, checked by the helpers.
        let out = unsafe { ValueOut::new(out, "out")? };
        let data = unsafe { handle::bytes(data, len, "data")? };
        out.set(Value::Bytes(data.to_vec()));
        Ok(())
    })
}

/// A new MessagePack extension value of type `ext_type` with `len` bytes copied from `data`
/// (NULL allowed when `len` is 0). Type -1 is a timestamp, whose length must be 4, 8 or 12
/// for the broker to accept it.
///
/// On success `*out` is an owned value (free with `xproc_value_free`); on failure it is NULL.
/// Errors: `XPROC_NULL_ARGUMENT`. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn xproc_value_new_ext(
    ext_type: i8,
    data: *const u8,
    len: usize,
    out: *mut *mut xproc_value_t,
) -> xproc_status_e {
    ffi(|| {
        // SAFETY: the caller's pointers, checked by the helpers.
        let out = unsafe { ValueOut::new(out, "out")? };
        let data = unsafe { handle::bytes(data, len, "data")? };
        out.set(Value::Ext(ext_type, data.to_vec()));
        Ok(())
    })
}

// ---- building containers ----

/// Checks that adding a child of `child_depth` to a container keeps within `MAX_DEPTH`.
fn deeper(child_depth: usize, depth: &mut usize) -> Result<()> {
    let new = (child_depth + 1).max(*depth);
    if new > MAX_DEPTH {
        return Err(Error::OutOfRange(format!(
            "values nest at most {MAX_DEPTH} arrays and maps deep"
        )));
    }
    *depth = new;
    Ok(())
}

/// Appends `item` to the array `array`.
///
/// Ownership: `item` (an owned value) is always consumed, even when the call fails; do not
/// use or free it afterwards. `array` must be an owned value (not an element borrowed from
/// another value).
///
/// Errors: `XPROC_NULL_ARGUMENT`, `XPROC_WRONG_TYPE` (not an array), `XPROC_INVALID_ARGUMENT`
/// (a borrowed element), `XPROC_OUT_OF_RANGE` (nesting deeper than 100 levels). Not
/// thread-safe for the same `array`.
#[no_mangle]
pub unsafe extern "C" fn xproc_value_array_push(
    array: *mut xproc_value_t,
    item: *mut xproc_value_t,
) -> xproc_status_e {
    ffi(|| {
        // Take the item first, so it is consumed whatever happens next.
        // SAFETY: the caller's pointers, checked by the helpers.
        let item = unsafe { take(item, "item")? };
        let array = unsafe { value_mut(array, "array")? };
        match array {
            Value::Array { items, depth } => {
                deeper(item.depth(), depth)?;
                items.push(Node::child(item));
                Ok(())
            }
            other => Err(other.wrong_type("an array")),
        }
    })
}

/// Appends the entry (`key`, `value`) to the map `map`. Keys may be any value; duplicates are
/// not checked (MessagePack allows them; a dict keeps the last).
///
/// Ownership: `key` and `value` (owned values) are always consumed, even when the call fails;
/// do not use or free them afterwards. `map` must be an owned value.
///
/// Errors: `XPROC_NULL_ARGUMENT`, `XPROC_WRONG_TYPE` (not a map), `XPROC_INVALID_ARGUMENT`,
/// `XPROC_OUT_OF_RANGE` (nesting deeper than 100 levels). Not thread-safe for the same `map`.
#[no_mangle]
pub unsafe extern "C" fn xproc_value_map_insert(
    map: *mut xproc_value_t,
    key: *mut xproc_value_t,
    value: *mut xproc_value_t,
) -> xproc_status_e {
    ffi(|| {
        // SAFETY: the caller's pointers, checked by the helpers. Both are taken before
        // anything can fail, so both are consumed.
        let key = unsafe { take(key, "key") };
        let value = unsafe { take(value, "value") };
        let (key, value) = (key?, value?);
        let map = unsafe { value_mut(map, "map")? };
        match map {
            Value::Map { entries, depth } => {
                deeper(key.depth().max(value.depth()), depth)?;
                entries.push((Node::child(key), Node::child(value)));
                Ok(())
            }
            other => Err(other.wrong_type("a map")),
        }
    })
}

// ---- reading ----

/// The type of `value`; `XPROC_VALUE_INVALID` for NULL or a pointer that is not a live value.
/// Does not set `xproc_last_error()`. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn xproc_value_type(value: *const xproc_value_t) -> xproc_value_type_e {
    ffi_or(xproc_value_type_e::XPROC_VALUE_INVALID, || {
        // SAFETY: checked by `value_ref`.
        unsafe { value_ref(value, "value") }
            .map_or(xproc_value_type_e::XPROC_VALUE_INVALID, Value::type_of)
    })
}

/// Runs a reader over a borrowed value and an out-parameter.
unsafe fn read<T>(
    value: *const xproc_value_t,
    out: *mut T,
    empty: T,
    f: impl FnOnce(&Value) -> Result<T>,
) -> xproc_status_e {
    ffi(|| {
        // SAFETY: the caller's pointers, checked by the helpers.
        let out = unsafe { handle::out(out, empty, "out")? };
        let v = unsafe { value_ref(value, "value")? };
        *out = f(v)?;
        Ok(())
    })
}

/// Reads a boolean into `*out`. Errors: `XPROC_NULL_ARGUMENT`, `XPROC_WRONG_TYPE`.
/// Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn xproc_value_as_bool(
    value: *const xproc_value_t,
    out: *mut bool,
) -> xproc_status_e {
    // SAFETY: forwarded.
    unsafe {
        read(value, out, false, |v| match v {
            Value::Bool(b) => Ok(*b),
            other => Err(other.wrong_type("a bool")),
        })
    }
}

/// Reads an integer into `*out`. Errors: `XPROC_NULL_ARGUMENT`, `XPROC_WRONG_TYPE` (not an
/// integer), `XPROC_OUT_OF_RANGE` (above `INT64_MAX`). Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn xproc_value_as_int64(
    value: *const xproc_value_t,
    out: *mut i64,
) -> xproc_status_e {
    // SAFETY: forwarded.
    unsafe {
        read(value, out, 0, |v| match v {
            Value::Int(i) => Ok(*i),
            Value::UInt(u) => Err(Error::OutOfRange(format!("{u} does not fit int64_t"))),
            other => Err(other.wrong_type("an integer")),
        })
    }
}

/// Reads a non-negative integer into `*out`. Errors: `XPROC_NULL_ARGUMENT`,
/// `XPROC_WRONG_TYPE` (not an integer), `XPROC_OUT_OF_RANGE` (negative). Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn xproc_value_as_uint64(
    value: *const xproc_value_t,
    out: *mut u64,
) -> xproc_status_e {
    // SAFETY: forwarded.
    unsafe {
        read(value, out, 0, |v| match v {
            Value::Int(i) => {
                u64::try_from(*i).map_err(|_| Error::OutOfRange(format!("{i} is negative")))
            }
            Value::UInt(u) => Ok(*u),
            other => Err(other.wrong_type("an integer")),
        })
    }
}

/// Reads a float (32- or 64-bit) into `*out`. Integers are not converted: they are
/// `XPROC_WRONG_TYPE`, like every other non-float. Errors: `XPROC_NULL_ARGUMENT`,
/// `XPROC_WRONG_TYPE`. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn xproc_value_as_double(
    value: *const xproc_value_t,
    out: *mut f64,
) -> xproc_status_e {
    // SAFETY: forwarded.
    unsafe {
        read(value, out, 0.0, |v| match v {
            Value::Float(f) => Ok(f64::from(*f)),
            Value::Double(f) => Ok(*f),
            other => Err(other.wrong_type("a float")),
        })
    }
}

/// Borrows a string: `*out` points to its UTF-8 bytes, followed by a NUL terminator (not
/// counted in `*len`; the string itself may contain NULs, so prefer `*len`). The pointer is
/// borrowed from `value` and valid until `value` (or its container) is freed or changed.
/// Errors: `XPROC_NULL_ARGUMENT`, `XPROC_WRONG_TYPE`. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn xproc_value_as_string(
    value: *const xproc_value_t,
    out: *mut *const c_char,
    len: *mut usize,
) -> xproc_status_e {
    ffi(|| {
        // SAFETY: the caller's pointers, checked by the helpers.
        let out = unsafe { handle::out(out, std::ptr::null(), "out")? };
        let len = unsafe { handle::out(len, 0, "len")? };
        match unsafe { value_ref(value, "value")? } {
            Value::Str(s) => {
                *out = s.as_ptr().cast();
                *len = s.len() - 1;
                Ok(())
            }
            other => Err(other.wrong_type("a string")),
        }
    })
}

/// Borrows a byte string: `*out` points to `*len` bytes (not NULL, but not to be read, when
/// `*len` is 0), borrowed from `value` and valid until `value` (or its container) is freed or
/// changed. Errors: `XPROC_NULL_ARGUMENT`, `XPROC_WRONG_TYPE`. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn xproc_value_as_bytes(
    value: *const xproc_value_t,
    out: *mut *const u8,
    len: *mut usize,
) -> xproc_status_e {
    ffi(|| {
        // SAFETY: the caller's pointers, checked by the helpers.
        let out = unsafe { handle::out(out, std::ptr::null(), "out")? };
        let len = unsafe { handle::out(len, 0, "len")? };
        match unsafe { value_ref(value, "value")? } {
            Value::Bytes(b) => {
                *out = b.as_ptr();
                *len = b.len();
                Ok(())
            }
            other => Err(other.wrong_type("bytes")),
        }
    })
}

/// Borrows an extension: its type into `*ext_type`, and `*len` bytes at `*out`, borrowed from
/// `value` as for `xproc_value_as_bytes`. Errors: `XPROC_NULL_ARGUMENT`, `XPROC_WRONG_TYPE`.
/// Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn xproc_value_as_ext(
    value: *const xproc_value_t,
    ext_type: *mut i8,
    out: *mut *const u8,
    len: *mut usize,
) -> xproc_status_e {
    ffi(|| {
        // SAFETY: the caller's pointers, checked by the helpers.
        let ext_type = unsafe { handle::out(ext_type, 0, "ext_type")? };
        let out = unsafe { handle::out(out, std::ptr::null(), "out")? };
        let len = unsafe { handle::out(len, 0, "len")? };
        match unsafe { value_ref(value, "value")? } {
            Value::Ext(ty, data) => {
                *ext_type = *ty;
                *out = data.as_ptr();
                *len = data.len();
                Ok(())
            }
            other => Err(other.wrong_type("an extension")),
        }
    })
}

/// The number of elements of an array, into `*out`. Errors: `XPROC_NULL_ARGUMENT`,
/// `XPROC_WRONG_TYPE`. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn xproc_value_array_len(
    value: *const xproc_value_t,
    out: *mut usize,
) -> xproc_status_e {
    // SAFETY: forwarded.
    unsafe {
        read(value, out, 0, |v| match v {
            Value::Array { items, .. } => Ok(items.len()),
            other => Err(other.wrong_type("an array")),
        })
    }
}

/// Borrows element `index` of an array into `*out`: valid until the array is freed or
/// changed; not to be freed. Errors: `XPROC_NULL_ARGUMENT`, `XPROC_WRONG_TYPE`,
/// `XPROC_OUT_OF_RANGE`. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn xproc_value_array_get(
    value: *const xproc_value_t,
    index: usize,
    out: *mut *const xproc_value_t,
) -> xproc_status_e {
    // SAFETY: forwarded.
    unsafe {
        read(value, out, std::ptr::null(), |v| match v {
            Value::Array { items, .. } => items
                .get(index)
                .map(|n| (n as *const Node).cast())
                .ok_or_else(|| out_of_range(index, items.len())),
            other => Err(other.wrong_type("an array")),
        })
    }
}

fn out_of_range(index: usize, len: usize) -> Error {
    Error::OutOfRange(format!("index {index} is past the end (length {len})"))
}

/// The number of entries of a map, into `*out`. Errors: `XPROC_NULL_ARGUMENT`,
/// `XPROC_WRONG_TYPE`. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn xproc_value_map_len(
    value: *const xproc_value_t,
    out: *mut usize,
) -> xproc_status_e {
    // SAFETY: forwarded.
    unsafe {
        read(value, out, 0, |v| match v {
            Value::Map { entries, .. } => Ok(entries.len()),
            other => Err(other.wrong_type("a map")),
        })
    }
}

/// Borrows the key of entry `index` of a map into `*out` (entries keep their order):
/// valid until the map is freed or changed; not to be freed. Errors: `XPROC_NULL_ARGUMENT`,
/// `XPROC_WRONG_TYPE`, `XPROC_OUT_OF_RANGE`. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn xproc_value_map_key_at(
    value: *const xproc_value_t,
    index: usize,
    out: *mut *const xproc_value_t,
) -> xproc_status_e {
    // SAFETY: forwarded.
    unsafe { entry_at(value, index, out, |(k, _)| k) }
}

/// Borrows the value of entry `index` of a map into `*out`, as `xproc_value_map_key_at`.
#[no_mangle]
pub unsafe extern "C" fn xproc_value_map_value_at(
    value: *const xproc_value_t,
    index: usize,
    out: *mut *const xproc_value_t,
) -> xproc_status_e {
    // SAFETY: forwarded.
    unsafe { entry_at(value, index, out, |(_, v)| v) }
}

unsafe fn entry_at(
    value: *const xproc_value_t,
    index: usize,
    out: *mut *const xproc_value_t,
    pick: impl FnOnce(&(Node, Node)) -> &Node,
) -> xproc_status_e {
    // SAFETY: forwarded.
    unsafe {
        read(value, out, std::ptr::null(), |v| match v {
            Value::Map { entries, .. } => entries
                .get(index)
                .map(|e| (pick(e) as *const Node).cast())
                .ok_or_else(|| out_of_range(index, entries.len())),
            other => Err(other.wrong_type("a map")),
        })
    }
}

/// Borrows the value stored under the string key (`key`, `len` bytes of UTF-8) in a map into
/// `*out` (the first such entry): valid until the map is freed or changed; not to be freed.
/// Errors: `XPROC_NULL_ARGUMENT`, `XPROC_WRONG_TYPE` (not a map), `XPROC_KEY_NOT_FOUND`.
/// Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn xproc_value_map_find(
    value: *const xproc_value_t,
    key: *const c_char,
    len: usize,
    out: *mut *const xproc_value_t,
) -> xproc_status_e {
    ffi(|| {
        // SAFETY: the caller's pointers, checked by the helpers.
        let out = unsafe { handle::out(out, std::ptr::null(), "out")? };
        let key = unsafe { handle::bytes(key.cast(), len, "key")? };
        match unsafe { value_ref(value, "value")? } {
            Value::Map { entries, .. } => {
                let found = entries.iter().find(|(k, _)| match &k.value {
                    Value::Str(s) => &s[..s.len() - 1] == key,
                    _ => false,
                });
                match found {
                    Some((_, v)) => {
                        *out = (v as *const Node).cast();
                        Ok(())
                    }
                    None => Err(Error::Client(xproc_client::Error::KeyNotFound(format!(
                        "the map has no key {:?}",
                        String::from_utf8_lossy(key)
                    )))),
                }
            }
            other => Err(other.wrong_type("a map")),
        }
    })
}

// ---- copying, encoding, freeing ----

/// A deep copy of `value` (owned or borrowed) into `*out`, owned by the caller (free with
/// `xproc_value_free`). Useful to keep an element beyond its container's life. Errors:
/// `XPROC_NULL_ARGUMENT`. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn xproc_value_clone(
    value: *const xproc_value_t,
    out: *mut *mut xproc_value_t,
) -> xproc_status_e {
    ffi(|| {
        // SAFETY: the caller's pointers, checked by the helpers.
        let out = unsafe { ValueOut::new(out, "out")? };
        let v = unsafe { value_ref(value, "value")? };
        out.set(v.clone());
        Ok(())
    })
}

/// Encodes `value` as MessagePack (integers in their shortest form) into a new buffer:
/// `*out` and `*out_len`, owned by the caller and freed with `xproc_bytes_free(*out,
/// *out_len)`. Errors: `XPROC_NULL_ARGUMENT`, `XPROC_OUT_OF_RANGE` (a string or container
/// longer than MessagePack allows). Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn xproc_value_encode(
    value: *const xproc_value_t,
    out: *mut *mut u8,
    out_len: *mut usize,
) -> xproc_status_e {
    ffi(|| {
        // SAFETY: the caller's pointers, checked by the helpers.
        let out = unsafe { BytesOut::new(out, out_len, "out", "out_len")? };
        let v = unsafe { value_ref(value, "value")? };
        out.set(v.encode()?);
        Ok(())
    })
}

/// Decodes `len` bytes at `data`, which must hold exactly one well-formed MessagePack value
/// (the broker's rules: no trailing bytes, UTF-8 strings, at most 100 levels of nesting), into
/// `*out`, owned by the caller (free with `xproc_value_free`). Errors: `XPROC_NULL_ARGUMENT`,
/// `XPROC_INVALID_VALUE`. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn xproc_value_decode(
    data: *const u8,
    len: usize,
    out: *mut *mut xproc_value_t,
) -> xproc_status_e {
    ffi(|| {
        // SAFETY: the caller's pointers, checked by the helpers.
        let out = unsafe { ValueOut::new(out, "out")? };
        let data = unsafe { handle::bytes(data, len, "data")? };
        out.set_decoded(data)
    })
}

/// Frees an owned value and everything in it. NULL is a no-op; so is a borrowed element of
/// another value (the mistake is recorded in `xproc_last_error()`). Freeing a value twice, or
/// one that was moved into an array or map, is undefined behaviour, as for `free(3)`. Not
/// thread-safe for the same value.
#[no_mangle]
pub unsafe extern "C" fn xproc_value_free(value: *mut xproc_value_t) {
    if value.is_null() {
        return;
    }
    ffi_or((), || {
        // SAFETY: checked by `take`.
        if let Err(e) = unsafe { take(value, "value") } {
            crate::error::set_last_error(&e.to_string());
        }
    })
}

/// Frees a buffer libxproc returned (`*_raw` results, `xproc_value_encode`), given the
/// pointer and length it returned. NULL is a no-op. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn xproc_bytes_free(ptr: *mut u8, len: usize) {
    if ptr.is_null() {
        return;
    }
    ffi_or((), || {
        // SAFETY: the caller returns a (pointer, length) pair made by `bytes_into_raw`, which
        // came from a boxed slice of exactly that length.
        unsafe { drop(Box::from_raw(std::ptr::slice_from_raw_parts_mut(ptr, len))) }
    })
}
