//! Where the broker listens by default (docs/PROTOCOL.md §1).

use std::path::PathBuf;

/// The environment variable that names the broker's socket; it wins over everything else.
pub const SOCKET_ENV: &str = "XPROC_SOCKET";

/// The default broker socket path, in the order docs/PROTOCOL.md §1 gives:
///
/// 1. `$XPROC_SOCKET` if set and not empty;
/// 2. `$XDG_RUNTIME_DIR/xproc.sock` if `XDG_RUNTIME_DIR` is set and not empty;
/// 3. `/tmp/xproc-<uid>/xproc.sock`;
///
/// on Windows, after `$XPROC_SOCKET`: `\\.\pipe\xproc-<user>`.
///
/// The broker computes the same path, so a client and a broker started by the same user in the
/// same environment meet without configuration.
pub fn default_socket_path() -> PathBuf {
    let var = |name| std::env::var_os(name).filter(|v| !v.is_empty());
    if let Some(path) = var(SOCKET_ENV) {
        return PathBuf::from(path);
    }
    crate::transport::default_local_endpoint()
}
