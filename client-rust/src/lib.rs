//! The xproc Rust client (work in progress).
