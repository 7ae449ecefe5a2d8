//! Dict ops. Each is atomic (the broker runs one request at a time); snapshots (`keys`,
//! `values`, `items`) are encoded straight from the dict without copying values.

use xproc_protocol::{Bytes, ErrorCode, ReplyFields, SCAN_MAX_BYTES};

use crate::dispatch::{as_dict, lookup, Ctx, Handled};
use crate::objects::dict::{Dict, IncrError};
use crate::objects::dict_charge;
use crate::state::Failure;
use crate::stored::Stored;

fn no_key(name: &str) -> Failure {
    Failure::new(
        ErrorCode::KeyNotFound,
        format!("dict '{name}' has no such key"),
    )
}

/// Runs a mutation of dict `name`, keeping the memory budget's count right.
fn mutate<T>(
    cx: &mut Ctx,
    name: &str,
    op: &str,
    f: impl FnOnce(&mut Dict) -> T,
) -> Result<T, Failure> {
    let d = as_dict(lookup(&mut cx.b.objects, name)?, op)?;
    let before = d.bytes();
    let t = f(d);
    let after = d.bytes();
    cx.b.memory = cx.b.memory - before + after;
    Ok(t)
}

/// `dict.get`: the value at `key`, or `KeyNotFound`.
/// A memfd value goes as its descriptor to a client that negotiated `fds`, inline to others.
pub fn get(cx: &mut Ctx, name: &str, key: &[u8]) -> Handled {
    let d = as_dict(lookup(&mut cx.b.objects, name)?, "dict.get")?;
    let v = d.get_stored(key).ok_or_else(|| no_key(name))?;
    cx.out.send_value(cx.caller, ReplyFields::ok(cx.id), v);
    Ok(())
}

/// `dict.set`: sets `key` (an existing key keeps its place). The value is the request's
/// bytes, or the memfd that came with it (`value_len`, docs/PROTOCOL.md §4.1).
pub fn set(cx: &mut Ctx, name: &str, key: &[u8], value: Stored) -> Handled {
    cx.b.check_memory(dict_charge(key.len(), value.len()))?;
    mutate(cx, name, "dict.set", |d| d.set_stored(key, value))?;
    cx.ok();
    Ok(())
}

/// `dict.delete`: removes `key`, or `KeyNotFound`.
pub fn delete(cx: &mut Ctx, name: &str, key: &[u8]) -> Handled {
    mutate(cx, name, "dict.delete", |d| d.remove(key))?.ok_or_else(|| no_key(name))?;
    cx.ok();
    Ok(())
}

/// `dict.contains`: whether `key` is present.
pub fn contains(cx: &mut Ctx, name: &str, key: &[u8]) -> Handled {
    let d = as_dict(lookup(&mut cx.b.objects, name)?, "dict.contains")?;
    let r = ReplyFields {
        found: Some(d.contains(key)),
        ..ReplyFields::ok(cx.id)
    };
    cx.out.send(cx.caller, &r);
    Ok(())
}

/// `dict.len`: the number of entries.
pub fn len(cx: &mut Ctx, name: &str) -> Handled {
    let d = as_dict(lookup(&mut cx.b.objects, name)?, "dict.len")?;
    let r = ReplyFields {
        len: Some(d.len() as u64),
        ..ReplyFields::ok(cx.id)
    };
    cx.out.send(cx.caller, &r);
    Ok(())
}

/// Smallest MessagePack framing of one `bin` (marker and 8-bit length).
const MIN_BIN_HEADER: usize = 2;

/// Refuses snapshot `op` of `name`, before anything is built or encoded, when its reply
/// would be at least `at_least` bytes and so above `max_frame`, or above what is left of the
/// memory budget (`limits` is both; the sum is kept by the dict, so this costs O(1)).
/// Replies just under the limit are still encoded with a bound.
fn check_snapshot(limits: (usize, usize), op: &str, name: &str, at_least: usize) -> Handled {
    let (max, room) = limits;
    if at_least > room && at_least <= max {
        return Err(Failure::new(
            ErrorCode::LimitExceeded,
            format!(
                "{op} of '{name}' would be a reply of at least {at_least} bytes, and the memory \
                 budget has {room} bytes left (memory_limit): read the dict in pages with \
                 dict.scan"
            ),
        ));
    }
    if at_least > max {
        return Err(Failure::new(
            ErrorCode::TooLarge,
            format!(
                "{op} of '{name}' would be a reply of at least {at_least} bytes, above max_frame \
                 ({max} bytes): read the dict in pages with dict.scan"
            ),
        ));
    }
    Ok(())
}

/// `max_frame`, and the bytes left in the memory budget.
fn snapshot_limits(cx: &Ctx) -> (usize, usize) {
    let b = &cx.b;
    (
        b.config.max_frame,
        b.config.memory_limit.saturating_sub(b.charged()),
    )
}

/// `dict.keys`: every key, in insertion order.
pub fn keys(cx: &mut Ctx, name: &str) -> Handled {
    let limits = snapshot_limits(cx);
    let d = as_dict(lookup(&mut cx.b.objects, name)?, "dict.keys")?;
    let at_least = d.key_bytes() + d.len() * MIN_BIN_HEADER;
    check_snapshot(limits, "dict.keys", name, at_least)?;
    let r = ReplyFields {
        keys: Some(d.iter().map(|(k, _)| Bytes::new(k)).collect()),
        ..ReplyFields::ok(cx.id)
    };
    cx.out.send(cx.caller, &r);
    Ok(())
}

/// `dict.values`: every value, in insertion order.
pub fn values(cx: &mut Ctx, name: &str) -> Handled {
    let limits = snapshot_limits(cx);
    let d = as_dict(lookup(&mut cx.b.objects, name)?, "dict.values")?;
    let at_least = d.value_bytes() + d.len() * MIN_BIN_HEADER;
    check_snapshot(limits, "dict.values", name, at_least)?;
    let r = ReplyFields {
        values: Some(d.iter().map(|(_, v)| Some(Bytes::new(v))).collect()),
        ..ReplyFields::ok(cx.id)
    };
    cx.out.send(cx.caller, &r);
    Ok(())
}

/// `dict.items`: every `[key, value]`, in insertion order.
pub fn items(cx: &mut Ctx, name: &str) -> Handled {
    let limits = snapshot_limits(cx);
    let d = as_dict(lookup(&mut cx.b.objects, name)?, "dict.items")?;
    // Each item is a 2-array (one byte) of two bins.
    let at_least = d.key_bytes() + d.value_bytes() + d.len() * (1 + 2 * MIN_BIN_HEADER);
    check_snapshot(limits, "dict.items", name, at_least)?;
    let r = ReplyFields {
        items: Some(
            d.iter()
                .map(|(k, v)| (Bytes::new(k), Bytes::new(v)))
                .collect(),
        ),
        ..ReplyFields::ok(cx.id)
    };
    cx.out.send(cx.caller, &r);
    Ok(())
}

/// `dict.update`: sets every pair, or nothing when the memory budget refuses.
pub fn update(cx: &mut Ctx, name: &str, items: &[(&[u8], &[u8])]) -> Handled {
    // Checked as a whole first, so that a refused update sets nothing.
    let incoming = items
        .iter()
        .map(|(k, v)| dict_charge(k.len(), v.len()))
        .sum();
    cx.b.check_memory(incoming)?;
    mutate(cx, name, "dict.update", |d| {
        for (k, v) in items {
            d.set(k, v);
        }
    })?;
    cx.ok();
    Ok(())
}

/// `dict.get_many`: the values at `keys`, nil for missing ones.
pub fn get_many(cx: &mut Ctx, name: &str, keys: &[&[u8]]) -> Handled {
    let d = as_dict(lookup(&mut cx.b.objects, name)?, "dict.get_many")?;
    let r = ReplyFields {
        values: Some(keys.iter().map(|k| d.get(k).map(Bytes::new)).collect()),
        ..ReplyFields::ok(cx.id)
    };
    cx.out.send(cx.caller, &r);
    Ok(())
}

/// `dict.pop`: removes `key` and returns its value, or `KeyNotFound`.
pub fn pop(cx: &mut Ctx, name: &str, key: &[u8]) -> Handled {
    let v = mutate(cx, name, "dict.pop", |d| d.remove(key))?.ok_or_else(|| no_key(name))?;
    let r = ReplyFields {
        value: Some(Bytes::new(&v)),
        ..ReplyFields::ok(cx.id)
    };
    cx.reply(&r);
    Ok(())
}

/// `dict.popitem`: removes and returns the most recently inserted entry.
pub fn popitem(cx: &mut Ctx, name: &str) -> Handled {
    let (k, v) = mutate(cx, name, "dict.popitem", Dict::pop_last)?
        .ok_or_else(|| Failure::new(ErrorCode::KeyNotFound, format!("dict '{name}' is empty")))?;
    let r = ReplyFields {
        key: Some(Bytes::new(&k)),
        value: Some(Bytes::new(&v)),
        ..ReplyFields::ok(cx.id)
    };
    cx.reply(&r);
    Ok(())
}

/// `dict.setdefault`: the value at `key`, setting it to `value` first if absent.
pub fn setdefault(cx: &mut Ctx, name: &str, key: &[u8], value: &[u8]) -> Handled {
    cx.b.check_memory(dict_charge(key.len(), value.len()))?;
    let d = as_dict(lookup(&mut cx.b.objects, name)?, "dict.setdefault")?;
    let before = d.bytes();
    let v = d.setdefault(key, value);
    let r = ReplyFields {
        value: Some(Bytes::new(v)),
        ..ReplyFields::ok(cx.id)
    };
    cx.out.send(cx.caller, &r);
    let after = d.bytes();
    cx.b.memory = cx.b.memory - before + after;
    Ok(())
}

/// `dict.scan`: one bounded page of entries in insertion order, and the cursor of the next
/// (docs/PROTOCOL.md §6.4).
pub fn scan(cx: &mut Ctx, name: &str, cursor: u64, count: u64) -> Handled {
    // Half of max_frame at most, so that a page fits a frame whatever the limit is.
    let budget = SCAN_MAX_BYTES.min(cx.b.config.max_frame / 2);
    let d = as_dict(lookup(&mut cx.b.objects, name)?, "dict.scan")?;
    let (page, next) = d.scan(cursor, count as usize, budget);
    let r = ReplyFields {
        items: Some(
            page.into_iter()
                .map(|(k, v)| (Bytes::new(k), Bytes::new(v)))
                .collect(),
        ),
        cursor: Some(next),
        ..ReplyFields::ok(cx.id)
    };
    cx.out.send(cx.caller, &r);
    Ok(())
}

/// `dict.clear`: removes every entry.
pub fn clear(cx: &mut Ctx, name: &str) -> Handled {
    mutate(cx, name, "dict.clear", Dict::clear)?;
    cx.ok();
    Ok(())
}

/// `dict.incr`: adds `delta` to the integer at `key` (missing counts from 0).
pub fn incr(cx: &mut Ctx, name: &str, key: &[u8], delta: i64) -> Handled {
    // At most a 9-byte integer is stored.
    cx.b.check_memory(dict_charge(key.len(), 9))?;
    let n = mutate(cx, name, "dict.incr", |d| d.incr(key, delta))?.map_err(|e| match e {
        IncrError::WrongType => Failure::new(
            ErrorCode::WrongType,
            format!("dict '{name}': the value at this key is not an integer"),
        ),
        IncrError::Overflow => Failure::new(
            ErrorCode::InvalidArgument,
            format!("dict '{name}': incr by {delta} overflows a 64-bit signed integer"),
        ),
    })?;
    let r = ReplyFields {
        n: Some(n),
        ..ReplyFields::ok(cx.id)
    };
    cx.reply(&r);
    Ok(())
}

/// `dict.compare_and_set`: sets `key` only if its value is `expected` (absent: only if missing).
pub fn compare_and_set(
    cx: &mut Ctx,
    name: &str,
    key: &[u8],
    expected: Option<&[u8]>,
    value: &[u8],
) -> Handled {
    cx.b.check_memory(dict_charge(key.len(), value.len()))?;
    let swapped = mutate(cx, name, "dict.compare_and_set", |d| {
        d.compare_and_set(key, expected, value)
    })?;
    let r = ReplyFields {
        swapped: Some(swapped),
        ..ReplyFields::ok(cx.id)
    };
    cx.reply(&r);
    Ok(())
}
