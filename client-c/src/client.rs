//! `xproc_client_t`: a connection to the broker, and the admin calls (ping, list, stat,
//! clients, delete). Every object handle is opened from a client and keeps it alive.

use std::ffi::c_char;
use std::time::Duration;

use xproc_client::{Client, ConnectOptions, InfoValue};

use crate::error::Result;
use crate::handle::{self, BytesOut, Opaque};
use crate::panic::ffi;
use crate::status::xproc_status_e;
use crate::value::{Value, ValueOut};
use crate::xproc_value_t;

/// A connection to an xproc broker (opaque). Open with `xproc_client_connect`, free with
/// `xproc_client_free`.
///
/// Thread-safe: any number of threads may use one client at once, blocking calls included
/// (replies are matched to callers). Locks, semaphore permits and pipe ends belong to the
/// connection, so threads sharing a client share them; connect once per thread for
/// per-thread ownership.
pub struct xproc_client_t {
    _private: [u8; 0],
}

// SAFETY: the magic is unique among libxproc's handle types.
unsafe impl Opaque for xproc_client_t {
    type Body = Client;
    const MAGIC: u64 = 0x7870_726f_6363_6c69;
    const NAME: &'static str = "xproc_client_t";
}

/// How long `xproc_client_connect` waits for the broker's greeting when given this (5 s).
pub const XPROC_DEFAULT_CONNECT_TIMEOUT_MS: i64 = 5000;

/// A `timeout_ms` that waits as long as it takes (any negative value does).
pub const XPROC_WAIT_FOREVER: i64 = -1;

/// A `timeout_ms` that does not wait: the call answers at once with its "would block"
/// outcome (`XPROC_EMPTY`, `XPROC_FULL`, `acquired = false`, ...).
pub const XPROC_NO_WAIT: i64 = 0;

/// The broker's limits, as it announced them when the client connected.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct xproc_limits_t {
    /// Largest frame (request or reply) in bytes; larger values are refused with
    /// `XPROC_LIMIT` before they are sent.
    pub max_frame: u64,
    /// Most connections at once.
    pub max_clients: u64,
    /// Most objects at once.
    pub max_objects: u64,
    /// Bytes of values held across all objects.
    pub memory_limit: u64,
}

/// Borrows a client argument.
pub(crate) unsafe fn client<'a>(p: *const xproc_client_t) -> Result<&'a Client> {
    // SAFETY: forwarded.
    unsafe { handle::body(p, "client") }
}

/// Connects to the broker at the socket `path` (`path_len` bytes, no NUL needed) and says
/// hello. A NULL `path` uses the default endpoint: `$XPROC_SOCKET`, else
/// `$XDG_RUNTIME_DIR/xproc.sock`, else `/tmp/xproc-<uid>/xproc.sock`.
///
/// `connect_timeout_ms` bounds the wait for the broker's answer to the greeting: pass
/// `XPROC_DEFAULT_CONNECT_TIMEOUT_MS` normally; negative waits forever; 0 follows the timeout
/// rule ("do not wait") and so fails with `XPROC_TIMEOUT`. Connecting itself fails at once
/// with `XPROC_NO_BROKER` when nothing listens. The client says its language is `"c"`
/// and its name is the program's; see `xproc_client_connect_as` to choose them.
///
/// On success `*out` is a new client, owned by the caller: free it with `xproc_client_free`
/// (handles opened from it keep the connection alive until they are freed too). On failure
/// `*out` is NULL. Errors: `XPROC_NO_BROKER` (nothing listens at the path),
/// `XPROC_TIMEOUT`, `XPROC_DISCONNECTED`, `XPROC_LIMIT` (too many clients),
/// `XPROC_NULL_ARGUMENT`, `XPROC_INVALID_ARGUMENT`. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn xproc_client_connect(
    path: *const c_char,
    path_len: usize,
    connect_timeout_ms: i64,
    out: *mut *mut xproc_client_t,
) -> xproc_status_e {
    // SAFETY: forwarded.
    unsafe {
        xproc_client_connect_as(
            path,
            path_len,
            std::ptr::null(),
            0,
            std::ptr::null(),
            0,
            connect_timeout_ms,
            out,
        )
    }
}

/// Like `xproc_client_connect`, also giving the client's name and language, which the broker
/// shows in `xproc clients` (bindings pass e.g. `"python"`). A NULL `name` means the
/// program's file name; a NULL `lang` means `"c"`. Same results, ownership and errors.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn xproc_client_connect_as(
    path: *const c_char,
    path_len: usize,
    name: *const c_char,
    name_len: usize,
    lang: *const c_char,
    lang_len: usize,
    connect_timeout_ms: i64,
    out: *mut *mut xproc_client_t,
) -> xproc_status_e {
    // SAFETY: forwarded.
    unsafe {
        xproc_client_connect_with(
            path,
            path_len,
            name,
            name_len,
            lang,
            lang_len,
            std::ptr::null(),
            0,
            connect_timeout_ms,
            out,
        )
    }
}

/// Like `xproc_client_connect_as`, also giving the authkey (`authkey_len` bytes, copied) that a
/// `tcp://HOST:PORT` endpoint needs (docs/PROTOCOL.md §1.2). `path` may be such an endpoint
/// (so may `$XPROC_SOCKET` when `path` is NULL). A NULL `authkey` reads the key from the file
/// `$XPROC_AUTHKEY_FILE` names (mode 0600 required); the key is unused on a local socket.
/// Same results and ownership; errors also `XPROC_DENIED` (wrong key, no key for a TCP
/// endpoint, or a broker that could not prove the key). Thread-safe.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn xproc_client_connect_with(
    path: *const c_char,
    path_len: usize,
    name: *const c_char,
    name_len: usize,
    lang: *const c_char,
    lang_len: usize,
    authkey: *const u8,
    authkey_len: usize,
    connect_timeout_ms: i64,
    out: *mut *mut xproc_client_t,
) -> xproc_status_e {
    ffi(|| {
        // SAFETY: the caller's pointers, checked by the helpers.
        let out = unsafe { handle::out(out, std::ptr::null_mut(), "out")? };
        let mut options = ConnectOptions {
            lang: "c".to_string(),
            connect_timeout: handle::timeout(connect_timeout_ms).unwrap_or(Duration::MAX),
            ..ConnectOptions::default()
        };
        if !path.is_null() {
            options.path = Some(unsafe { handle::string(path, path_len, "path")? }.into());
        }
        if !name.is_null() {
            options.client_name = unsafe { handle::string(name, name_len, "name")? }.to_string();
        }
        if !lang.is_null() {
            options.lang = unsafe { handle::string(lang, lang_len, "lang")? }.to_string();
        }
        if !authkey.is_null() {
            options.authkey =
                Some(unsafe { handle::bytes(authkey, authkey_len, "authkey")? }.to_vec());
        }
        let c = Client::connect_with(options)?;
        *out = handle::into_handle(c);
        Ok(())
    })
}

/// Like `xproc_client_connect_with`, for a `tls://HOST:PORT` endpoint too (docs/SECURITY.md
/// §7): `tls_ca` (`tls_ca_len` bytes) is the path of a PEM file of the CA certificates the
/// broker's certificate must chain to, and `tls_server_name` the name that certificate must
/// carry. A NULL `tls_ca` reads `$XPROC_TLS_CA`; a NULL `tls_server_name` reads
/// `$XPROC_TLS_SERVER_NAME`, else uses the endpoint's host. Both are unused on other
/// endpoints. The authkey is required on `tls://` as on `tcp://`. Same results and ownership;
/// errors also `XPROC_DENIED` (the certificate does not chain to the CA or does not carry the
/// name) and `XPROC_INVALID_ARGUMENT` (a `tls://` endpoint with no CA). Thread-safe.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn xproc_client_connect_tls(
    path: *const c_char,
    path_len: usize,
    name: *const c_char,
    name_len: usize,
    lang: *const c_char,
    lang_len: usize,
    authkey: *const u8,
    authkey_len: usize,
    tls_ca: *const c_char,
    tls_ca_len: usize,
    tls_server_name: *const c_char,
    tls_server_name_len: usize,
    connect_timeout_ms: i64,
    out: *mut *mut xproc_client_t,
) -> xproc_status_e {
    ffi(|| {
        // SAFETY: the caller's pointers, checked by the helpers.
        let out = unsafe { handle::out(out, std::ptr::null_mut(), "out")? };
        let mut options = ConnectOptions {
            lang: "c".to_string(),
            connect_timeout: handle::timeout(connect_timeout_ms).unwrap_or(Duration::MAX),
            ..ConnectOptions::default()
        };
        if !path.is_null() {
            options.path = Some(unsafe { handle::string(path, path_len, "path")? }.into());
        }
        if !name.is_null() {
            options.client_name = unsafe { handle::string(name, name_len, "name")? }.to_string();
        }
        if !lang.is_null() {
            options.lang = unsafe { handle::string(lang, lang_len, "lang")? }.to_string();
        }
        if !authkey.is_null() {
            options.authkey =
                Some(unsafe { handle::bytes(authkey, authkey_len, "authkey")? }.to_vec());
        }
        if !tls_ca.is_null() {
            options.tls_ca = Some(unsafe { handle::string(tls_ca, tls_ca_len, "tls_ca")? }.into());
        }
        if !tls_server_name.is_null() {
            options.tls_server_name = Some(
                unsafe { handle::string(tls_server_name, tls_server_name_len, "tls_server_name")? }
                    .to_string(),
            );
        }
        let c = Client::connect_with(options)?;
        *out = handle::into_handle(c);
        Ok(())
    })
}

/// Frees a client handle. The connection closes once every handle opened from it is freed
/// too; until then those handles keep working. NULL is a no-op. Not thread-safe for the same
/// handle: no other thread may be using this handle (its objects' handles are fine).
#[no_mangle]
pub unsafe extern "C" fn xproc_client_free(client: *mut xproc_client_t) {
    crate::panic::ffi_or((), || {
        // SAFETY: checked by `free`.
        unsafe { handle::free(client) }
    })
}

/// Checks that the broker answers. Errors: `XPROC_DISCONNECTED`, `XPROC_NULL_ARGUMENT`.
/// Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn xproc_client_ping(client: *const xproc_client_t) -> xproc_status_e {
    ffi(|| {
        // SAFETY: checked by the helper.
        unsafe { self::client(client)? }.ping()?;
        Ok(())
    })
}

/// This connection's id at the broker (as `xproc clients` shows it), into `*out`. Errors:
/// `XPROC_NULL_ARGUMENT`. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn xproc_client_conn_id(
    client: *const xproc_client_t,
    out: *mut u64,
) -> xproc_status_e {
    ffi(|| {
        // SAFETY: the caller's pointers, checked by the helpers.
        let out = unsafe { handle::out(out, 0, "out")? };
        *out = unsafe { self::client(client)? }.conn_id();
        Ok(())
    })
}

/// The broker's limits, into `*out`. Errors: `XPROC_NULL_ARGUMENT`. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn xproc_client_limits(
    client: *const xproc_client_t,
    out: *mut xproc_limits_t,
) -> xproc_status_e {
    ffi(|| {
        // SAFETY: the caller's pointers, checked by the helpers.
        let out = unsafe { handle::out(out, xproc_limits_t::default(), "out")? };
        let l = unsafe { self::client(client)? }.limits();
        *out = xproc_limits_t {
            max_frame: l.max_frame,
            max_clients: l.max_clients,
            max_objects: l.max_objects,
            memory_limit: l.memory_limit,
        };
        Ok(())
    })
}

/// Every object the broker holds, as a value into `*out`: an array of maps
/// `{"name": str, "kind": str, "len": int, "waiters": int}` (`len`: queue items, dict
/// entries, or pipe messages; 0 for sync objects). `*out` is owned by the caller (free with
/// `xproc_value_free`). Errors: `XPROC_DISCONNECTED`, `XPROC_NULL_ARGUMENT`. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn xproc_client_list(
    client: *const xproc_client_t,
    out: *mut *mut xproc_value_t,
) -> xproc_status_e {
    ffi(|| {
        // SAFETY: the caller's pointers, checked by the helpers.
        let out = unsafe { ValueOut::new(out, "out")? };
        out.set(list(unsafe { self::client(client)? })?);
        Ok(())
    })
}

/// Like `xproc_client_list`, the same value encoded as MessagePack into `*out`/`*out_len`
/// (free with `xproc_bytes_free`).
#[no_mangle]
pub unsafe extern "C" fn xproc_client_list_raw(
    client: *const xproc_client_t,
    out: *mut *mut u8,
    out_len: *mut usize,
) -> xproc_status_e {
    ffi(|| {
        // SAFETY: the caller's pointers, checked by the helpers.
        let out = unsafe { BytesOut::new(out, out_len, "out", "out_len")? };
        out.set(list(unsafe { self::client(client)? })?.encode()?);
        Ok(())
    })
}

fn list(c: &Client) -> Result<Value> {
    Ok(Value::array(
        c.list()?
            .into_iter()
            .map(|o| {
                Value::map(vec![
                    ("name", Value::str(&o.name)),
                    ("kind", Value::str(&o.kind)),
                    ("len", Value::uint(o.len)),
                    ("waiters", Value::uint(o.waiters)),
                ])
            })
            .collect(),
    ))
}

/// One object's kind and state, as a value into `*out`: a map `{"kind": str, "info": map}`
/// whose `info` fields depend on the kind (docs/PROTOCOL.md §6.8; scalars or arrays). The name
/// is `name_len` bytes of UTF-8 at `name`. `*out` is owned by the caller (free with
/// `xproc_value_free`). Errors: `XPROC_NOT_FOUND`, `XPROC_INVALID_NAME`,
/// `XPROC_DISCONNECTED`, `XPROC_NULL_ARGUMENT`. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn xproc_client_stat(
    client: *const xproc_client_t,
    name: *const c_char,
    name_len: usize,
    out: *mut *mut xproc_value_t,
) -> xproc_status_e {
    ffi(|| {
        // SAFETY: the caller's pointers, checked by the helpers.
        let out = unsafe { ValueOut::new(out, "out")? };
        let name = unsafe { handle::name(name, name_len)? };
        out.set(stat(unsafe { self::client(client)? }, name)?);
        Ok(())
    })
}

/// Like `xproc_client_stat`, the same value encoded as MessagePack into `*out`/`*out_len`
/// (free with `xproc_bytes_free`).
#[no_mangle]
pub unsafe extern "C" fn xproc_client_stat_raw(
    client: *const xproc_client_t,
    name: *const c_char,
    name_len: usize,
    out: *mut *mut u8,
    out_len: *mut usize,
) -> xproc_status_e {
    ffi(|| {
        // SAFETY: the caller's pointers, checked by the helpers.
        let out = unsafe { BytesOut::new(out, out_len, "out", "out_len")? };
        let name = unsafe { handle::name(name, name_len)? };
        out.set(stat(unsafe { self::client(client)? }, name)?.encode()?);
        Ok(())
    })
}

fn stat(c: &Client, name: &str) -> Result<Value> {
    fn info(v: &InfoValue) -> Value {
        match v {
            InfoValue::Nil => Value::Nil,
            InfoValue::Bool(b) => Value::Bool(*b),
            InfoValue::Int(n) => Value::Int(*n),
            InfoValue::Str(s) => Value::str(s),
            InfoValue::List(l) => Value::array(l.iter().map(info).collect()),
        }
    }
    let s = c.stat(name)?;
    let fields = s
        .info
        .0
        .iter()
        .map(|(k, v)| (k.as_str(), info(v)))
        .collect();
    Ok(Value::map(vec![
        ("kind", Value::str(&s.kind)),
        ("info", Value::map(fields)),
    ]))
}

/// Every connected client, as a value into `*out`: an array of maps `{"conn_id": int, "pid":
/// int, "uid": int, "gid": int, "name": str, "lang": str, "holds": [str], "waits": [str]}`
/// (`holds`/`waits` read like `"lock dev"`, `"queue.get tasks"`). `*out` is owned by the
/// caller (free with `xproc_value_free`). Errors: `XPROC_DISCONNECTED`,
/// `XPROC_NULL_ARGUMENT`. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn xproc_client_clients(
    client: *const xproc_client_t,
    out: *mut *mut xproc_value_t,
) -> xproc_status_e {
    ffi(|| {
        // SAFETY: the caller's pointers, checked by the helpers.
        let out = unsafe { ValueOut::new(out, "out")? };
        out.set(clients(unsafe { self::client(client)? })?);
        Ok(())
    })
}

/// Like `xproc_client_clients`, the same value encoded as MessagePack into `*out`/`*out_len`
/// (free with `xproc_bytes_free`).
#[no_mangle]
pub unsafe extern "C" fn xproc_client_clients_raw(
    client: *const xproc_client_t,
    out: *mut *mut u8,
    out_len: *mut usize,
) -> xproc_status_e {
    ffi(|| {
        // SAFETY: the caller's pointers, checked by the helpers.
        let out = unsafe { BytesOut::new(out, out_len, "out", "out_len")? };
        out.set(clients(unsafe { self::client(client)? })?.encode()?);
        Ok(())
    })
}

fn clients(c: &Client) -> Result<Value> {
    let strings = |v: &[String]| Value::array(v.iter().map(|s| Value::str(s)).collect());
    Ok(Value::array(
        c.clients()?
            .iter()
            .map(|ci| {
                Value::map(vec![
                    ("conn_id", Value::uint(ci.conn_id)),
                    ("pid", Value::uint(ci.pid.into())),
                    ("uid", Value::uint(ci.uid.into())),
                    ("gid", Value::uint(ci.gid.into())),
                    ("name", Value::str(&ci.name)),
                    ("lang", Value::str(&ci.lang)),
                    ("holds", strings(&ci.holds)),
                    ("waits", strings(&ci.waits)),
                ])
            })
            .collect(),
    ))
}

/// Deletes the object `name` (`name_len` bytes of UTF-8) from the broker; calls blocked on it
/// get `XPROC_NOT_FOUND`. `*deleted` (optional: may be NULL) tells whether there was such an
/// object (deleting a missing name is not an error). Errors: `XPROC_INVALID_NAME`,
/// `XPROC_DISCONNECTED`, `XPROC_NULL_ARGUMENT`. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn xproc_client_delete(
    client: *const xproc_client_t,
    name: *const c_char,
    name_len: usize,
    deleted: *mut bool,
) -> xproc_status_e {
    ffi(|| {
        // SAFETY: the caller's pointers, checked by the helpers.
        let deleted = unsafe { handle::opt_out(deleted, false) };
        let name = unsafe { handle::name(name, name_len)? };
        let d = unsafe { self::client(client)? }.delete(name)?;
        if let Some(out) = deleted {
            *out = d;
        }
        Ok(())
    })
}
