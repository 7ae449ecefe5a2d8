//! Opaque handles and argument helpers shared by every entry point.
//!
//! A handle given to C points to a heap [`Tagged`] body: a magic number that names its type,
//! then the Rust object. The magic lets a call reject a NULL, misaligned or wrong-type handle
//! (a queue passed where a dict is expected) with an error instead of undefined behaviour. A
//! freed handle has its magic cleared before its memory is released; a later use *may* then be
//! caught (while the memory is not reused), but using or freeing a freed handle is undefined
//! behaviour, as the header says: the address may belong to a new handle by then.
//!
//! The exported types (`xproc_queue_t`, ...) are empty marker structs, so cbindgen declares
//! them as opaque `typedef struct xproc_queue_t xproc_queue_t;` and C never sees the layout.

use std::ffi::c_char;
use std::time::Duration;

use crate::error::{Error, Result};

/// The magic a freed body carries, so that a second free or a late use is refused.
const DEAD: u64 = 0xdead_dead_dead_dead;

/// An exported handle type: its body type and its magic number.
///
/// # Safety
///
/// `MAGIC` must be unique among all implementors, so that a body is only ever read as its own
/// type.
pub(crate) unsafe trait Opaque: Sized {
    /// The Rust object behind the handle.
    type Body;
    /// Tags live bodies of this type.
    const MAGIC: u64;
    /// The C type name, for error messages.
    const NAME: &'static str;
}

/// What a handle points to. `repr(C)` puts `magic` first in every body, whatever `T`, so that
/// it can be read before the type is known to be right.
#[repr(C)]
pub(crate) struct Tagged<T> {
    magic: u64,
    body: T,
}

/// Moves `body` to the heap and returns it as a handle of type `O`.
pub(crate) fn into_handle<O: Opaque>(body: O::Body) -> *mut O {
    Box::into_raw(Box::new(Tagged {
        magic: O::MAGIC,
        body,
    }))
    .cast()
}

/// Checks that `p` looks like a live handle of type `O` (not NULL, aligned, right magic).
///
/// # Safety
///
/// `p` is NULL or points to at least 8 readable bytes (true of any libxproc handle).
unsafe fn check<O: Opaque>(p: *const O, arg: &'static str) -> Result<*mut Tagged<O::Body>> {
    if p.is_null() {
        return Err(Error::Null(arg));
    }
    let tagged = p.cast::<Tagged<O::Body>>().cast_mut();
    if !p.cast::<Tagged<O::Body>>().is_aligned() {
        return Err(Error::InvalidArgument(format!(
            "argument '{arg}' is not a valid {} handle",
            O::NAME
        )));
    }
    // SAFETY: non-NULL and aligned; the caller promises 8 readable bytes, and every body
    // starts with its u64 magic.
    let magic = unsafe { std::ptr::addr_of!((*tagged).magic).read() };
    if magic != O::MAGIC {
        let why = if magic == DEAD {
            "was already freed"
        } else {
            "is not one (wrong handle type?)"
        };
        return Err(Error::InvalidArgument(format!(
            "argument '{arg}' should be a {} handle but {why}",
            O::NAME
        )));
    }
    Ok(tagged)
}

/// Borrows the body behind a handle argument.
///
/// # Safety
///
/// `p` is NULL or a handle returned by libxproc and not yet freed (checked as far as
/// possible: see [`check`]).
pub(crate) unsafe fn body<'a, O: Opaque>(p: *const O, arg: &'static str) -> Result<&'a O::Body> {
    // SAFETY: forwarded; a checked pointer is a live Tagged<O::Body>.
    unsafe { check(p, arg).map(|t| &(*t).body) }
}

/// Frees a handle: NULL is a no-op, and so (after recording an error message) is a live handle
/// of another type. A handle already freed is undefined behaviour (see the module docs).
///
/// # Safety
///
/// As [`body`]; no other thread may be using the handle.
pub(crate) unsafe fn free<O: Opaque>(p: *mut O) {
    if p.is_null() {
        return;
    }
    // SAFETY: forwarded.
    match unsafe { check(p, "handle") } {
        Ok(tagged) => {
            // SAFETY: a live body made by `into_handle`; it is marked dead before the memory
            // is released, then never touched again.
            unsafe {
                (*tagged).magic = DEAD;
                drop(Box::from_raw(tagged));
            }
        }
        Err(e) => crate::error::set_last_error(&e.to_string()),
    }
}

/// Borrows a (pointer, length) byte argument. NULL is accepted only with length 0.
///
/// # Safety
///
/// `ptr` is NULL or valid for reading `len` bytes for the lifetime `'a`.
pub(crate) unsafe fn bytes<'a>(ptr: *const u8, len: usize, arg: &'static str) -> Result<&'a [u8]> {
    if ptr.is_null() {
        return if len == 0 {
            Ok(&[])
        } else {
            Err(Error::Null(arg))
        };
    }
    if len > isize::MAX as usize {
        return Err(Error::InvalidArgument(format!(
            "argument '{arg}': length {len} is too large"
        )));
    }
    // SAFETY: the caller promises `len` readable bytes at `ptr`.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// Borrows a (pointer, length) UTF-8 string argument (no NUL terminator needed).
///
/// # Safety
///
/// As [`bytes`].
pub(crate) unsafe fn string<'a>(
    ptr: *const c_char,
    len: usize,
    arg: &'static str,
) -> Result<&'a str> {
    // SAFETY: forwarded.
    let b = unsafe { bytes(ptr.cast(), len, arg)? };
    std::str::from_utf8(b)
        .map_err(|e| Error::InvalidArgument(format!("argument '{arg}' is not UTF-8: {e}")))
}

/// Borrows an object name argument: `XPROC_INVALID_NAME` when it is not UTF-8, the status the
/// broker's `InvalidName` maps to for an empty or over-long one, so a bad name has one status
/// wherever it is caught.
///
/// # Safety
///
/// As [`bytes`].
pub(crate) unsafe fn name<'a>(ptr: *const c_char, len: usize) -> Result<&'a str> {
    // SAFETY: forwarded.
    let b = unsafe { bytes(ptr.cast(), len, "name")? };
    std::str::from_utf8(b).map_err(|e| Error::InvalidName(format!("name is not UTF-8: {e}")))
}

/// A required out-parameter, cleared to `empty` so that the caller never reads a stale value
/// after a failure.
///
/// # Safety
///
/// `ptr` is NULL or valid for writing a `T`.
pub(crate) unsafe fn out<'a, T>(ptr: *mut T, empty: T, arg: &'static str) -> Result<&'a mut T> {
    if ptr.is_null() {
        return Err(Error::Null(arg));
    }
    // SAFETY: non-NULL and, as promised, writable; `write` does not drop the (possibly
    // uninitialised) old contents.
    unsafe {
        ptr.write(empty);
        Ok(&mut *ptr)
    }
}

/// An optional out-parameter (NULL allowed), cleared to `empty` when given.
///
/// # Safety
///
/// As [`out`].
pub(crate) unsafe fn opt_out<'a, T>(ptr: *mut T, empty: T) -> Option<&'a mut T> {
    if ptr.is_null() {
        return None;
    }
    // SAFETY: as in `out`.
    unsafe {
        ptr.write(empty);
        Some(&mut *ptr)
    }
}

/// A C timeout in milliseconds as the Rust client takes it: negative waits as long as it
/// takes (`None`), 0 does not wait, anything else waits at most that long.
pub(crate) fn timeout(ms: i64) -> Option<Duration> {
    u64::try_from(ms).ok().map(Duration::from_millis)
}

/// An out-parameter pair for a returned buffer: `(*ptr, *len)`, both cleared first.
pub(crate) struct BytesOut<'a> {
    ptr: &'a mut *mut u8,
    len: &'a mut usize,
}

impl<'a> BytesOut<'a> {
    /// Checks and clears both out-parameters.
    ///
    /// # Safety
    ///
    /// Each pointer is NULL or valid for writing.
    pub(crate) unsafe fn new(
        ptr: *mut *mut u8,
        len: *mut usize,
        ptr_arg: &'static str,
        len_arg: &'static str,
    ) -> Result<Self> {
        // SAFETY: forwarded.
        unsafe {
            Ok(BytesOut {
                ptr: out(ptr, std::ptr::null_mut(), ptr_arg)?,
                len: out(len, 0, len_arg)?,
            })
        }
    }

    /// Hands `v` to the caller, who frees it with `xproc_bytes_free(ptr, len)`.
    pub(crate) fn set(self, v: Vec<u8>) {
        let (ptr, len) = crate::value::bytes_into_raw(v);
        *self.ptr = ptr;
        *self.len = len;
    }
}

/// Reads `count` (pointer, length) pairs given as two C arrays, as byte slices.
///
/// # Safety
///
/// `ptrs` and `lens` are NULL or valid for reading `count` elements, and each pair is valid
/// as for [`bytes`].
pub(crate) unsafe fn byte_arrays<'a>(
    ptrs: *const *const u8,
    lens: *const usize,
    count: usize,
    ptrs_arg: &'static str,
    lens_arg: &'static str,
) -> Result<Vec<&'a [u8]>> {
    if count == 0 {
        return Ok(Vec::new());
    }
    if ptrs.is_null() {
        return Err(Error::Null(ptrs_arg));
    }
    if lens.is_null() {
        return Err(Error::Null(lens_arg));
    }
    (0..count)
        .map(|i| {
            // SAFETY: i < count, and both arrays hold `count` elements.
            unsafe { bytes(*ptrs.add(i), *lens.add(i), ptrs_arg) }
        })
        .collect()
}
