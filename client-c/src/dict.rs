//! `xproc_dict_t`: shared dicts, over the Rust client's `RawDict`. Every operation is one
//! atomic request. Keys compare by their encoded bytes, so encode them the same way in every
//! language (libxproc's encoder writes integers in their shortest form, as all standard
//! MessagePack encoders do).
//!
//! Each operation comes as `_raw` (keys and values as MessagePack bytes) and with
//! `xproc_value_t`. Snapshots (`keys`, `values`, `items`, `get_many`) come back as one
//! MessagePack array, built by concatenating the stored bytes, so the raw flavour hands every
//! key and value back byte for byte.

use std::ffi::c_char;

use xproc_client::RawDict;

use crate::client::{client, xproc_client_t};
use crate::error::{Error, Result};
use crate::handle::{self, BytesOut, Opaque};
use crate::panic::ffi;
use crate::status::xproc_status_e;
use crate::value::{value_ref, Value, ValueOut};
use crate::xproc_value_t;

/// A dict handle (opaque). Open with `xproc_dict_open`, free with `xproc_dict_free`.
/// Freeing the handle leaves the shared dict in the broker. Thread-safe; keeps its client
/// alive.
pub struct xproc_dict_t {
    _private: [u8; 0],
}

// SAFETY: the magic is unique among libxproc's handle types.
unsafe impl Opaque for xproc_dict_t {
    type Body = RawDict;
    const MAGIC: u64 = 0x7870_726f_6364_6963;
    const NAME: &'static str = "xproc_dict_t";
}

unsafe fn dict<'a>(p: *const xproc_dict_t) -> Result<&'a RawDict> {
    // SAFETY: forwarded.
    unsafe { handle::body(p, "dict") }
}

/// `KeyNotFound` for a lookup that found nothing.
fn missing(what: &str) -> Error {
    Error::Client(xproc_client::Error::KeyNotFound(what.to_string()))
}

/// One MessagePack array whose elements are `items`, each already one encoded value.
fn array_of<'a>(items: impl ExactSizeIterator<Item = &'a [u8]>) -> Result<Vec<u8>> {
    let n = u32::try_from(items.len())
        .map_err(|_| Error::OutOfRange("too many entries for one MessagePack array".into()))?;
    let mut out = Vec::new();
    rmp::encode::write_array_len(&mut out, n)
        .map_err(|_| Error::OutOfRange("cannot encode the array".into()))?;
    for item in items {
        out.extend_from_slice(item);
    }
    Ok(out)
}

/// Encodes a borrowed value argument.
unsafe fn encoded(p: *const xproc_value_t, arg: &'static str) -> Result<Vec<u8>> {
    // SAFETY: forwarded.
    unsafe { value_ref(p, arg)? }.encode()
}

/// Opens the dict `name` (`name_len` bytes of UTF-8), creating it if the name is free.
///
/// On success `*out` is a new handle owned by the caller (free with `xproc_dict_free`); on
/// failure NULL. Errors: `XPROC_TYPE_MISMATCH`, `XPROC_INVALID_NAME`, `XPROC_LIMIT`,
/// `XPROC_DISCONNECTED`, `XPROC_NULL_ARGUMENT`. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn xproc_dict_open(
    client: *const xproc_client_t,
    name: *const c_char,
    name_len: usize,
    out: *mut *mut xproc_dict_t,
) -> xproc_status_e {
    ffi(|| {
        // SAFETY: the caller's pointers, checked by the helpers.
        let out = unsafe { handle::out(out, std::ptr::null_mut(), "out")? };
        let name = unsafe { handle::name(name, name_len)? };
        let c = unsafe { self::client(client)? };
        *out = handle::into_handle(RawDict::open(c, name)?);
        Ok(())
    })
}

/// Frees a dict handle (the shared dict stays in the broker). NULL is a no-op. No other
/// thread may be using this handle.
#[no_mangle]
pub unsafe extern "C" fn xproc_dict_free(dict: *mut xproc_dict_t) {
    crate::panic::ffi_or((), || {
        // SAFETY: checked by `free`.
        unsafe { handle::free(dict) }
    })
}

// ---- raw flavour ----

/// The value under `key` (`key_len` bytes of MessagePack) into `*out`/`*out_len` (owned by
/// the caller: free with `xproc_bytes_free`; NULL/0 on failure). Errors:
/// `XPROC_KEY_NOT_FOUND`, `XPROC_INVALID_VALUE` (a malformed key), `XPROC_NOT_FOUND`,
/// `XPROC_DISCONNECTED`, `XPROC_NULL_ARGUMENT`. Thread-safe (as is every dict call).
#[no_mangle]
pub unsafe extern "C" fn xproc_dict_get_raw(
    dict: *const xproc_dict_t,
    key: *const u8,
    key_len: usize,
    out: *mut *mut u8,
    out_len: *mut usize,
) -> xproc_status_e {
    ffi(|| {
        // SAFETY: the caller's pointers, checked by the helpers.
        let out = unsafe { BytesOut::new(out, out_len, "out", "out_len")? };
        let key = unsafe { handle::bytes(key, key_len, "key")? };
        let v = unsafe { self::dict(dict)? }.get(key)?;
        out.set(v.ok_or_else(|| missing("no such key"))?);
        Ok(())
    })
}

/// Sets `key` to `value` (both MessagePack bytes); an existing key keeps its place in the
/// order. Errors: `XPROC_INVALID_VALUE`, `XPROC_LIMIT` (memory budget or `max_frame`),
/// `XPROC_NOT_FOUND`, `XPROC_DISCONNECTED`, `XPROC_NULL_ARGUMENT`.
#[no_mangle]
pub unsafe extern "C" fn xproc_dict_set_raw(
    dict: *const xproc_dict_t,
    key: *const u8,
    key_len: usize,
    value: *const u8,
    value_len: usize,
) -> xproc_status_e {
    ffi(|| {
        // SAFETY: the caller's pointers, checked by the helpers.
        let key = unsafe { handle::bytes(key, key_len, "key")? };
        let value = unsafe { handle::bytes(value, value_len, "value")? };
        unsafe { self::dict(dict)? }.set(key, value)?;
        Ok(())
    })
}

/// Removes `key` (Python's `del d[key]`). Errors: `XPROC_KEY_NOT_FOUND` (it was not there),
/// `XPROC_INVALID_VALUE`, `XPROC_NOT_FOUND`, `XPROC_DISCONNECTED`, `XPROC_NULL_ARGUMENT`.
#[no_mangle]
pub unsafe extern "C" fn xproc_dict_delete_raw(
    dict: *const xproc_dict_t,
    key: *const u8,
    key_len: usize,
) -> xproc_status_e {
    ffi(|| {
        // SAFETY: the caller's pointers, checked by the helpers.
        let key = unsafe { handle::bytes(key, key_len, "key")? };
        if unsafe { self::dict(dict)? }.delete(key)? {
            Ok(())
        } else {
            Err(missing("no such key"))
        }
    })
}

/// Whether `key` is there, into `*out`. Errors: `XPROC_INVALID_VALUE`, `XPROC_NOT_FOUND`,
/// `XPROC_DISCONNECTED`, `XPROC_NULL_ARGUMENT`.
#[no_mangle]
pub unsafe extern "C" fn xproc_dict_contains_raw(
    dict: *const xproc_dict_t,
    key: *const u8,
    key_len: usize,
    out: *mut bool,
) -> xproc_status_e {
    ffi(|| {
        // SAFETY: the caller's pointers, checked by the helpers.
        let out = unsafe { handle::out(out, false, "out")? };
        let key = unsafe { handle::bytes(key, key_len, "key")? };
        *out = unsafe { self::dict(dict)? }.contains(key)?;
        Ok(())
    })
}

/// The number of entries, into `*out`. Errors: `XPROC_NOT_FOUND`, `XPROC_DISCONNECTED`,
/// `XPROC_NULL_ARGUMENT`.
#[no_mangle]
pub unsafe extern "C" fn xproc_dict_len(
    dict: *const xproc_dict_t,
    out: *mut u64,
) -> xproc_status_e {
    ffi(|| {
        // SAFETY: the caller's pointers, checked by the helpers.
        let out = unsafe { handle::out(out, 0, "out")? };
        *out = unsafe { self::dict(dict)? }.len()?;
        Ok(())
    })
}

/// Every key in insertion order (a snapshot), as one MessagePack array of the stored keys,
/// into `*out`/`*out_len` (free with `xproc_bytes_free`). Errors: `XPROC_NOT_FOUND`,
/// `XPROC_DISCONNECTED`, `XPROC_NULL_ARGUMENT`.
#[no_mangle]
pub unsafe extern "C" fn xproc_dict_keys_raw(
    dict: *const xproc_dict_t,
    out: *mut *mut u8,
    out_len: *mut usize,
) -> xproc_status_e {
    ffi(|| {
        // SAFETY: the caller's pointers, checked by the helpers.
        let out = unsafe { BytesOut::new(out, out_len, "out", "out_len")? };
        let keys = unsafe { self::dict(dict)? }.keys()?;
        out.set(array_of(keys.iter().map(Vec::as_slice))?);
        Ok(())
    })
}

/// Every value in insertion order (a snapshot), as one MessagePack array, into
/// `*out`/`*out_len` (free with `xproc_bytes_free`). Errors as `xproc_dict_keys_raw`.
#[no_mangle]
pub unsafe extern "C" fn xproc_dict_values_raw(
    dict: *const xproc_dict_t,
    out: *mut *mut u8,
    out_len: *mut usize,
) -> xproc_status_e {
    ffi(|| {
        // SAFETY: the caller's pointers, checked by the helpers.
        let out = unsafe { BytesOut::new(out, out_len, "out", "out_len")? };
        let values = unsafe { self::dict(dict)? }.values()?;
        out.set(array_of(values.iter().map(Vec::as_slice))?);
        Ok(())
    })
}

/// Every entry in insertion order (a snapshot), as one MessagePack array of 2-element arrays
/// `[key, value]`, into `*out`/`*out_len` (free with `xproc_bytes_free`). Errors as
/// `xproc_dict_keys_raw`.
#[no_mangle]
pub unsafe extern "C" fn xproc_dict_items_raw(
    dict: *const xproc_dict_t,
    out: *mut *mut u8,
    out_len: *mut usize,
) -> xproc_status_e {
    ffi(|| {
        // SAFETY: the caller's pointers, checked by the helpers.
        let out = unsafe { BytesOut::new(out, out_len, "out", "out_len")? };
        let items = unsafe { self::dict(dict)? }.items()?;
        let pairs = items
            .iter()
            .map(|(k, v)| array_of([k.as_slice(), v.as_slice()].into_iter()))
            .collect::<Result<Vec<_>>>()?;
        out.set(array_of(pairs.iter().map(Vec::as_slice))?);
        Ok(())
    })
}

/// One page of a cursor scan, as `xproc_dict_scan`, but as one MessagePack array of 2-element
/// arrays `[key, value]` (the format of `xproc_dict_items_raw`) into `*out`/`*out_len` (free
/// with `xproc_bytes_free`), and the next page's cursor into `*next_cursor` (0 = complete).
/// Errors as `xproc_dict_scan`.
#[no_mangle]
pub unsafe extern "C" fn xproc_dict_scan_raw(
    dict: *const xproc_dict_t,
    cursor: u64,
    count: usize,
    next_cursor: *mut u64,
    out: *mut *mut u8,
    out_len: *mut usize,
) -> xproc_status_e {
    ffi(|| {
        // SAFETY: the caller's pointers, checked by the helpers.
        let out = unsafe { BytesOut::new(out, out_len, "out", "out_len")? };
        let next_cursor = unsafe { handle::out(next_cursor, 0, "next_cursor")? };
        let count = (count > 0).then_some(count as u64);
        let (items, next) = unsafe { self::dict(dict)? }.scan_page(cursor, count)?;
        let pairs = items
            .iter()
            .map(|(k, v)| array_of([k.as_slice(), v.as_slice()].into_iter()))
            .collect::<Result<Vec<_>>>()?;
        out.set(array_of(pairs.iter().map(Vec::as_slice))?);
        *next_cursor = next;
        Ok(())
    })
}

/// Sets `count` entries in one atomic request: key `i` is `key_lens[i]` bytes at `keys[i]`,
/// its value `value_lens[i]` bytes at `values[i]` (all MessagePack). With `XPROC_LIMIT`,
/// nothing is set. Errors: `XPROC_LIMIT`, `XPROC_INVALID_VALUE`, `XPROC_NOT_FOUND`,
/// `XPROC_DISCONNECTED`, `XPROC_NULL_ARGUMENT`.
#[no_mangle]
pub unsafe extern "C" fn xproc_dict_update_raw(
    dict: *const xproc_dict_t,
    keys: *const *const u8,
    key_lens: *const usize,
    values: *const *const u8,
    value_lens: *const usize,
    count: usize,
) -> xproc_status_e {
    ffi(|| {
        // SAFETY: the caller's pointers, checked by the helpers.
        let keys = unsafe { handle::byte_arrays(keys, key_lens, count, "keys", "key_lens")? };
        let values =
            unsafe { handle::byte_arrays(values, value_lens, count, "values", "value_lens")? };
        unsafe { self::dict(dict)? }.update(keys.into_iter().zip(values))?;
        Ok(())
    })
}

/// The values under `count` keys (key `i` is `key_lens[i]` bytes at `keys[i]`), as one
/// MessagePack array in the same order with nil for each missing key, into
/// `*out`/`*out_len` (free with `xproc_bytes_free`). Errors: `XPROC_INVALID_VALUE`,
/// `XPROC_NOT_FOUND`, `XPROC_DISCONNECTED`, `XPROC_NULL_ARGUMENT`.
#[no_mangle]
pub unsafe extern "C" fn xproc_dict_get_many_raw(
    dict: *const xproc_dict_t,
    keys: *const *const u8,
    key_lens: *const usize,
    count: usize,
    out: *mut *mut u8,
    out_len: *mut usize,
) -> xproc_status_e {
    ffi(|| {
        // SAFETY: the caller's pointers, checked by the helpers.
        let out = unsafe { BytesOut::new(out, out_len, "out", "out_len")? };
        let keys = unsafe { handle::byte_arrays(keys, key_lens, count, "keys", "key_lens")? };
        let values = unsafe { self::dict(dict)? }.get_many(keys)?;
        const NIL: &[u8] = &[0xc0];
        out.set(array_of(
            values.iter().map(|v| v.as_deref().unwrap_or(NIL)),
        )?);
        Ok(())
    })
}

/// Removes `key` and returns its value into `*out`/`*out_len` (free with
/// `xproc_bytes_free`). Errors: `XPROC_KEY_NOT_FOUND`, `XPROC_INVALID_VALUE`,
/// `XPROC_NOT_FOUND`, `XPROC_DISCONNECTED`, `XPROC_NULL_ARGUMENT`.
#[no_mangle]
pub unsafe extern "C" fn xproc_dict_pop_raw(
    dict: *const xproc_dict_t,
    key: *const u8,
    key_len: usize,
    out: *mut *mut u8,
    out_len: *mut usize,
) -> xproc_status_e {
    ffi(|| {
        // SAFETY: the caller's pointers, checked by the helpers.
        let out = unsafe { BytesOut::new(out, out_len, "out", "out_len")? };
        let key = unsafe { handle::bytes(key, key_len, "key")? };
        let v = unsafe { self::dict(dict)? }.pop(key)?;
        out.set(v.ok_or_else(|| missing("no such key"))?);
        Ok(())
    })
}

/// Removes the most recently inserted entry and returns it: its key into
/// `*key_out`/`*key_out_len`, its value into `*value_out`/`*value_out_len` (each freed with
/// `xproc_bytes_free`). Errors: `XPROC_KEY_NOT_FOUND` (the dict is empty), `XPROC_NOT_FOUND`,
/// `XPROC_DISCONNECTED`, `XPROC_NULL_ARGUMENT`.
#[no_mangle]
pub unsafe extern "C" fn xproc_dict_popitem_raw(
    dict: *const xproc_dict_t,
    key_out: *mut *mut u8,
    key_out_len: *mut usize,
    value_out: *mut *mut u8,
    value_out_len: *mut usize,
) -> xproc_status_e {
    ffi(|| {
        // SAFETY: the caller's pointers, checked by the helpers.
        let key_out = unsafe { BytesOut::new(key_out, key_out_len, "key_out", "key_out_len")? };
        let value_out =
            unsafe { BytesOut::new(value_out, value_out_len, "value_out", "value_out_len")? };
        let (k, v) = unsafe { self::dict(dict)? }
            .popitem()?
            .ok_or_else(|| missing("the dict is empty"))?;
        key_out.set(k);
        value_out.set(v);
        Ok(())
    })
}

/// The value under `key`, after setting it to `default` if the key was absent (atomically),
/// into `*out`/`*out_len` (free with `xproc_bytes_free`). Errors: `XPROC_LIMIT`,
/// `XPROC_INVALID_VALUE`, `XPROC_NOT_FOUND`, `XPROC_DISCONNECTED`, `XPROC_NULL_ARGUMENT`.
#[no_mangle]
pub unsafe extern "C" fn xproc_dict_setdefault_raw(
    dict: *const xproc_dict_t,
    key: *const u8,
    key_len: usize,
    default_value: *const u8,
    default_len: usize,
    out: *mut *mut u8,
    out_len: *mut usize,
) -> xproc_status_e {
    ffi(|| {
        // SAFETY: the caller's pointers, checked by the helpers.
        let out = unsafe { BytesOut::new(out, out_len, "out", "out_len")? };
        let key = unsafe { handle::bytes(key, key_len, "key")? };
        let default = unsafe { handle::bytes(default_value, default_len, "default_value")? };
        out.set(unsafe { self::dict(dict)? }.setdefault(key, default)?);
        Ok(())
    })
}

/// Removes every entry. Errors: `XPROC_NOT_FOUND`, `XPROC_DISCONNECTED`,
/// `XPROC_NULL_ARGUMENT`.
#[no_mangle]
pub unsafe extern "C" fn xproc_dict_clear(dict: *const xproc_dict_t) -> xproc_status_e {
    ffi(|| {
        // SAFETY: checked by the helper.
        unsafe { self::dict(dict)? }.clear()?;
        Ok(())
    })
}

/// Atomically adds `delta` to the integer under `key` (a missing key counts from 0) and
/// returns the new value into `*out`. Errors: `XPROC_WRONG_TYPE` (the value is not an
/// integer), `XPROC_INVALID_ARGUMENT` (int64 overflow), `XPROC_INVALID_VALUE`,
/// `XPROC_NOT_FOUND`, `XPROC_DISCONNECTED`, `XPROC_NULL_ARGUMENT`.
#[no_mangle]
pub unsafe extern "C" fn xproc_dict_incr_raw(
    dict: *const xproc_dict_t,
    key: *const u8,
    key_len: usize,
    delta: i64,
    out: *mut i64,
) -> xproc_status_e {
    ffi(|| {
        // SAFETY: the caller's pointers, checked by the helpers.
        let out = unsafe { handle::out(out, 0, "out")? };
        let key = unsafe { handle::bytes(key, key_len, "key")? };
        *out = unsafe { self::dict(dict)? }.incr(key, delta)?;
        Ok(())
    })
}

/// Atomically sets `key` to `value` if its current value's bytes equal `expected_len` bytes
/// at `expected` — or, when `expected` is NULL, only if the key is absent. `*swapped` tells
/// whether it did. Errors: `XPROC_INVALID_VALUE`, `XPROC_LIMIT`, `XPROC_NOT_FOUND`,
/// `XPROC_DISCONNECTED`, `XPROC_NULL_ARGUMENT`.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn xproc_dict_compare_and_set_raw(
    dict: *const xproc_dict_t,
    key: *const u8,
    key_len: usize,
    expected: *const u8,
    expected_len: usize,
    value: *const u8,
    value_len: usize,
    swapped: *mut bool,
) -> xproc_status_e {
    ffi(|| {
        // SAFETY: the caller's pointers, checked by the helpers.
        let swapped = unsafe { handle::out(swapped, false, "swapped")? };
        let key = unsafe { handle::bytes(key, key_len, "key")? };
        let expected = if expected.is_null() {
            None
        } else {
            Some(unsafe { handle::bytes(expected, expected_len, "expected")? })
        };
        let value = unsafe { handle::bytes(value, value_len, "value")? };
        *swapped = unsafe { self::dict(dict)? }.compare_and_set(key, expected, value)?;
        Ok(())
    })
}

// ---- value flavour ----

/// The value under `key` (borrowed), decoded into `*out` (owned by the caller: free with
/// `xproc_value_free`; NULL on failure). Errors as `xproc_dict_get_raw`.
#[no_mangle]
pub unsafe extern "C" fn xproc_dict_get(
    dict: *const xproc_dict_t,
    key: *const xproc_value_t,
    out: *mut *mut xproc_value_t,
) -> xproc_status_e {
    ffi(|| {
        // SAFETY: the caller's pointers, checked by the helpers.
        let out = unsafe { ValueOut::new(out, "out")? };
        let key = unsafe { encoded(key, "key")? };
        let v = unsafe { self::dict(dict)? }.get(&key)?;
        out.set_decoded(&v.ok_or_else(|| missing("no such key"))?)
    })
}

/// Sets `key` to `value` (both borrowed). Errors as `xproc_dict_set_raw`.
#[no_mangle]
pub unsafe extern "C" fn xproc_dict_set(
    dict: *const xproc_dict_t,
    key: *const xproc_value_t,
    value: *const xproc_value_t,
) -> xproc_status_e {
    ffi(|| {
        // SAFETY: the caller's pointers, checked by the helpers.
        let key = unsafe { encoded(key, "key")? };
        let value = unsafe { encoded(value, "value")? };
        unsafe { self::dict(dict)? }.set(&key, &value)?;
        Ok(())
    })
}

/// Removes `key` (borrowed). Errors as `xproc_dict_delete_raw` (`XPROC_KEY_NOT_FOUND` when
/// it was not there).
#[no_mangle]
pub unsafe extern "C" fn xproc_dict_delete(
    dict: *const xproc_dict_t,
    key: *const xproc_value_t,
) -> xproc_status_e {
    ffi(|| {
        // SAFETY: the caller's pointers, checked by the helpers.
        let key = unsafe { encoded(key, "key")? };
        if unsafe { self::dict(dict)? }.delete(&key)? {
            Ok(())
        } else {
            Err(missing("no such key"))
        }
    })
}

/// Whether `key` (borrowed) is there, into `*out`. Errors as `xproc_dict_contains_raw`.
#[no_mangle]
pub unsafe extern "C" fn xproc_dict_contains(
    dict: *const xproc_dict_t,
    key: *const xproc_value_t,
    out: *mut bool,
) -> xproc_status_e {
    ffi(|| {
        // SAFETY: the caller's pointers, checked by the helpers.
        let out = unsafe { handle::out(out, false, "out")? };
        let key = unsafe { encoded(key, "key")? };
        *out = unsafe { self::dict(dict)? }.contains(&key)?;
        Ok(())
    })
}

/// Decodes a list of stored values into one array value.
fn array_value(items: &[Vec<u8>]) -> Result<Value> {
    Ok(Value::array(
        items
            .iter()
            .map(|b| Value::decode(b))
            .collect::<Result<_>>()?,
    ))
}

/// Every key in insertion order, as an array value into `*out` (owned by the caller: free
/// with `xproc_value_free`). Errors as `xproc_dict_keys_raw`.
#[no_mangle]
pub unsafe extern "C" fn xproc_dict_keys(
    dict: *const xproc_dict_t,
    out: *mut *mut xproc_value_t,
) -> xproc_status_e {
    ffi(|| {
        // SAFETY: the caller's pointers, checked by the helpers.
        let out = unsafe { ValueOut::new(out, "out")? };
        out.set(array_value(&unsafe { self::dict(dict)? }.keys()?)?);
        Ok(())
    })
}

/// Every value in insertion order, as an array value into `*out` (owned by the caller).
/// Errors as `xproc_dict_keys_raw`.
#[no_mangle]
pub unsafe extern "C" fn xproc_dict_values(
    dict: *const xproc_dict_t,
    out: *mut *mut xproc_value_t,
) -> xproc_status_e {
    ffi(|| {
        // SAFETY: the caller's pointers, checked by the helpers.
        let out = unsafe { ValueOut::new(out, "out")? };
        out.set(array_value(&unsafe { self::dict(dict)? }.values()?)?);
        Ok(())
    })
}

/// Every entry in insertion order, as a map value into `*out` (owned by the caller).
/// Errors as `xproc_dict_keys_raw`.
#[no_mangle]
pub unsafe extern "C" fn xproc_dict_items(
    dict: *const xproc_dict_t,
    out: *mut *mut xproc_value_t,
) -> xproc_status_e {
    ffi(|| {
        // SAFETY: the caller's pointers, checked by the helpers.
        let out = unsafe { ValueOut::new(out, "out")? };
        let items = unsafe { self::dict(dict)? }.items()?;
        out.set_decoded(&encoded_map(&items)?)
    })
}

/// Encoded (key, value) pairs as the bytes of one MessagePack map. Built as bytes, then
/// decoded once by the caller, so depth is checked in one place.
fn encoded_map(items: &[(Vec<u8>, Vec<u8>)]) -> Result<Vec<u8>> {
    let mut map = Vec::new();
    let n = u32::try_from(items.len())
        .map_err(|_| Error::OutOfRange("too many entries for one map".into()))?;
    rmp::encode::write_map_len(&mut map, n)
        .map_err(|_| Error::OutOfRange("cannot encode the map".into()))?;
    for (k, v) in items {
        map.extend_from_slice(k);
        map.extend_from_slice(v);
    }
    Ok(map)
}

/// One page of a cursor scan (docs/PROTOCOL.md §6.4, "Cursor scans"): the entries from
/// position `cursor` (0 = the start) in insertion order, at most `count` of them (0: the
/// broker's default, 100; at most 1000 whatever is asked), as a map value into `*out`, owned by
/// the caller and freed with `xproc_value_free`; and the cursor of the next page into
/// `*next_cursor`, 0 when the scan is complete. Loop until `*next_cursor` is 0, freeing each
/// page: a dict too large for `xproc_dict_items` (one frame) is read this way. Every key present
/// for the whole scan comes exactly once; keys set or deleted meanwhile may or may not. The
/// broker keeps no state for a scan, so stopping early needs no cleanup. Both out-parameters
/// are cleared first. Errors: `XPROC_NULL_ARGUMENT`, `XPROC_INVALID_ARGUMENT`, `XPROC_NOT_FOUND`,
/// `XPROC_TYPE_MISMATCH`, `XPROC_DISCONNECTED`, `XPROC_TIMEOUT`. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn xproc_dict_scan(
    dict: *const xproc_dict_t,
    cursor: u64,
    count: usize,
    next_cursor: *mut u64,
    out: *mut *mut xproc_value_t,
) -> xproc_status_e {
    ffi(|| {
        // SAFETY: the caller's pointers, checked by the helpers.
        let out = unsafe { ValueOut::new(out, "out")? };
        let next_cursor = unsafe { handle::out(next_cursor, 0, "next_cursor")? };
        let count = (count > 0).then_some(count as u64);
        let (items, next) = unsafe { self::dict(dict)? }.scan_page(cursor, count)?;
        out.set_decoded(&encoded_map(&items)?)?;
        *next_cursor = next;
        Ok(())
    })
}

/// Sets every entry of the map value `entries` (borrowed) in one atomic request. Errors:
/// `XPROC_WRONG_TYPE` (not a map), and as `xproc_dict_update_raw`.
#[no_mangle]
pub unsafe extern "C" fn xproc_dict_update(
    dict: *const xproc_dict_t,
    entries: *const xproc_value_t,
) -> xproc_status_e {
    ffi(|| {
        // SAFETY: the caller's pointers, checked by the helpers.
        let entries = unsafe { value_ref(entries, "entries")? };
        let pairs = entries.map_entries()?;
        let encoded = pairs
            .iter()
            .map(|(k, v)| Ok((k.encode()?, v.encode()?)))
            .collect::<Result<Vec<_>>>()?;
        unsafe { self::dict(dict)? }.update(encoded)?;
        Ok(())
    })
}

/// The values under the keys in the array value `keys` (borrowed), as an array value in the
/// same order with nil for each missing key, into `*out` (owned by the caller). Errors:
/// `XPROC_WRONG_TYPE` (not an array), and as `xproc_dict_get_many_raw`.
#[no_mangle]
pub unsafe extern "C" fn xproc_dict_get_many(
    dict: *const xproc_dict_t,
    keys: *const xproc_value_t,
    out: *mut *mut xproc_value_t,
) -> xproc_status_e {
    ffi(|| {
        // SAFETY: the caller's pointers, checked by the helpers.
        let out = unsafe { ValueOut::new(out, "out")? };
        let keys = unsafe { value_ref(keys, "keys")? }
            .array_items()?
            .iter()
            .map(|k| k.encode())
            .collect::<Result<Vec<_>>>()?;
        let values = unsafe { self::dict(dict)? }.get_many(keys)?;
        let values = values
            .iter()
            .map(|v| v.as_deref().map_or(Ok(Value::Nil), Value::decode))
            .collect::<Result<Vec<_>>>()?;
        out.set(Value::array(values));
        Ok(())
    })
}

/// Removes `key` (borrowed) and returns its value into `*out` (owned by the caller). Errors
/// as `xproc_dict_pop_raw`.
#[no_mangle]
pub unsafe extern "C" fn xproc_dict_pop(
    dict: *const xproc_dict_t,
    key: *const xproc_value_t,
    out: *mut *mut xproc_value_t,
) -> xproc_status_e {
    ffi(|| {
        // SAFETY: the caller's pointers, checked by the helpers.
        let out = unsafe { ValueOut::new(out, "out")? };
        let key = unsafe { encoded(key, "key")? };
        let v = unsafe { self::dict(dict)? }.pop(&key)?;
        out.set_decoded(&v.ok_or_else(|| missing("no such key"))?)
    })
}

/// Removes the most recently inserted entry and returns its key into `*key_out` and its
/// value into `*value_out` (each owned by the caller). Errors as `xproc_dict_popitem_raw`.
#[no_mangle]
pub unsafe extern "C" fn xproc_dict_popitem(
    dict: *const xproc_dict_t,
    key_out: *mut *mut xproc_value_t,
    value_out: *mut *mut xproc_value_t,
) -> xproc_status_e {
    ffi(|| {
        // SAFETY: the caller's pointers, checked by the helpers.
        let key_out = unsafe { ValueOut::new(key_out, "key_out")? };
        let value_out = unsafe { ValueOut::new(value_out, "value_out")? };
        let (k, v) = unsafe { self::dict(dict)? }
            .popitem()?
            .ok_or_else(|| missing("the dict is empty"))?;
        // Decode both before handing out either, so a failure leaks nothing.
        let (k, v) = (Value::decode(&k)?, Value::decode(&v)?);
        key_out.set(k);
        value_out.set(v);
        Ok(())
    })
}

/// The value under `key`, after setting it to `default_value` if absent (both borrowed), into
/// `*out` (owned by the caller). Errors as `xproc_dict_setdefault_raw`.
#[no_mangle]
pub unsafe extern "C" fn xproc_dict_setdefault(
    dict: *const xproc_dict_t,
    key: *const xproc_value_t,
    default_value: *const xproc_value_t,
    out: *mut *mut xproc_value_t,
) -> xproc_status_e {
    ffi(|| {
        // SAFETY: the caller's pointers, checked by the helpers.
        let out = unsafe { ValueOut::new(out, "out")? };
        let key = unsafe { encoded(key, "key")? };
        let default = unsafe { encoded(default_value, "default_value")? };
        out.set_decoded(&unsafe { self::dict(dict)? }.setdefault(&key, &default)?)
    })
}

/// Atomically adds `delta` to the integer under `key` (borrowed; a missing key counts from 0)
/// and returns the new value into `*out`. Errors as `xproc_dict_incr_raw`.
#[no_mangle]
pub unsafe extern "C" fn xproc_dict_incr(
    dict: *const xproc_dict_t,
    key: *const xproc_value_t,
    delta: i64,
    out: *mut i64,
) -> xproc_status_e {
    ffi(|| {
        // SAFETY: the caller's pointers, checked by the helpers.
        let out = unsafe { handle::out(out, 0, "out")? };
        let key = unsafe { encoded(key, "key")? };
        *out = unsafe { self::dict(dict)? }.incr(&key, delta)?;
        Ok(())
    })
}

/// Atomically sets `key` to `value` if it currently holds `expected` (compared as encoded
/// bytes) — or, when `expected` is NULL, only if the key is absent. All three are borrowed.
/// `*swapped` tells whether it did. Errors as `xproc_dict_compare_and_set_raw`.
#[no_mangle]
pub unsafe extern "C" fn xproc_dict_compare_and_set(
    dict: *const xproc_dict_t,
    key: *const xproc_value_t,
    expected: *const xproc_value_t,
    value: *const xproc_value_t,
    swapped: *mut bool,
) -> xproc_status_e {
    ffi(|| {
        // SAFETY: the caller's pointers, checked by the helpers.
        let swapped = unsafe { handle::out(swapped, false, "swapped")? };
        let key = unsafe { encoded(key, "key")? };
        let expected = if expected.is_null() {
            None
        } else {
            Some(unsafe { encoded(expected, "expected")? })
        };
        let value = unsafe { encoded(value, "value")? };
        *swapped =
            unsafe { self::dict(dict)? }.compare_and_set(&key, expected.as_deref(), &value)?;
        Ok(())
    })
}
