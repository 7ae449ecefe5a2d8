//! The boundary guard every entry point runs its body in (the git2-rs `panic::wrap` idea):
//! a panic is caught before it can unwind into C, and turned into `XPROC_PANIC` with its
//! message in `xproc_last_error()`.

use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::error::{clear_last_error, set_last_error, Result};
use crate::status::xproc_status_e::{self, XPROC_OK, XPROC_PANIC};

/// Runs the body of a status-returning entry point: clears the last error, runs `f`, and
/// returns its status, recording the message of an error or a caught panic.
///
/// `AssertUnwindSafe` is sound here because a panic never lets the caller observe a
/// half-updated object: handles are only read through shared references, and the value
/// builders mutate a value the caller cannot touch until the call returns.
pub(crate) fn ffi(f: impl FnOnce() -> Result<()>) -> xproc_status_e {
    clear_last_error();
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => XPROC_OK,
        Ok(Err(e)) => {
            set_last_error(&e.to_string());
            e.status()
        }
        Err(payload) => {
            set_last_error(&panic_message(payload.as_ref()));
            XPROC_PANIC
        }
    }
}

/// Runs the body of an entry point that returns something other than a status (a pointer, a
/// type tag, nothing): a caught panic yields `fallback` and records its message.
pub(crate) fn ffi_or<T>(fallback: T, f: impl FnOnce() -> T) -> T {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(v) => v,
        Err(payload) => {
            set_last_error(&panic_message(payload.as_ref()));
            fallback
        }
    }
}

fn panic_message(payload: &(dyn Any + Send)) -> String {
    let what = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(no message)");
    format!("libxproc panicked (please report this bug): {what}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;
    use std::ffi::CStr;

    fn last() -> String {
        unsafe { CStr::from_ptr(crate::error::xproc_last_error()) }
            .to_string_lossy()
            .into_owned()
    }

    #[test]
    fn panics_become_a_status_and_a_message() {
        let s = ffi(|| panic!("boom"));
        assert_eq!(s, XPROC_PANIC);
        assert!(last().contains("boom"), "{}", last());
        assert_eq!(ffi(|| Ok(())), XPROC_OK);
        assert_eq!(last(), "");
        assert_eq!(ffi_or(7, || panic!("again")), 7);
        assert!(last().contains("again"));
    }

    #[test]
    fn errors_become_their_status_and_message() {
        let s = ffi(|| Err(Error::Null("out")));
        assert_eq!(s, xproc_status_e::XPROC_NULL_ARGUMENT);
        assert_eq!(last(), "argument 'out' is NULL");
    }
}
