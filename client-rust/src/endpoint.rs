//! Where the broker listens (docs/PROTOCOL.md §1): the default local socket, and endpoints
//! given as a path or as `tcp://HOST:PORT` (§1.2), with the authkey a TCP endpoint needs.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The environment variable that names the broker's socket; it wins over everything else.
pub const SOCKET_ENV: &str = "XPROC_SOCKET";

/// The environment variable naming a file that holds the authkey for `tcp://` endpoints, used
/// when the caller gives no key itself.
pub const AUTHKEY_FILE_ENV: &str = "XPROC_AUTHKEY_FILE";

/// The scheme that makes an endpoint TCP.
pub const TCP_SCHEME: &str = "tcp://";

/// The scheme that makes an endpoint TCP with TLS.
pub const TLS_SCHEME: &str = "tls://";

/// The environment variable naming a PEM file of the CA certificates a `tls://` endpoint's
/// certificate must chain to, used when the caller gives none itself.
pub const TLS_CA_ENV: &str = "XPROC_TLS_CA";

/// The environment variable giving the name a `tls://` broker's certificate must carry,
/// when it is not the endpoint's host.
pub const TLS_SERVER_NAME_ENV: &str = "XPROC_TLS_SERVER_NAME";

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
///
/// # Example
///
/// ```no_run
/// // $XPROC_SOCKET, else $XDG_RUNTIME_DIR/xproc.sock, else /tmp/xproc-<uid>/xproc.sock
/// println!("{}", xproc::default_socket_path().display());
/// ```
pub fn default_socket_path() -> PathBuf {
    let var = |name| std::env::var_os(name).filter(|v| !v.is_empty());
    if let Some(path) = var(SOCKET_ENV) {
        return PathBuf::from(path);
    }
    crate::transport::default_local_endpoint()
}

/// A broker endpoint.
///
/// # Example
///
/// ```
/// use std::path::Path;
/// use xproc::Endpoint;
///
/// assert_eq!(Endpoint::parse(Path::new("tcp://10.0.0.2:7100")), Endpoint::Tcp("10.0.0.2:7100".into()));
/// assert_eq!(Endpoint::parse(Path::new("/tmp/x.sock")), Endpoint::Local("/tmp/x.sock".into()));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// A local socket path.
    Local(PathBuf),
    /// `tcp://HOST:PORT`, held as `HOST:PORT`.
    Tcp(String),
    /// `tls://HOST:PORT`, held as `HOST:PORT`.
    Tls(String),
}

impl Endpoint {
    /// Reads an endpoint as given where a path is accepted: `tcp://HOST:PORT` is TCP,
    /// `tls://HOST:PORT` TCP with TLS, anything else a socket path.
    pub fn parse(s: &Path) -> Endpoint {
        let text = s.to_str();
        if let Some(hp) = text.and_then(|s| s.strip_prefix(TCP_SCHEME)) {
            return Endpoint::Tcp(hp.to_string());
        }
        match text.and_then(|s| s.strip_prefix(TLS_SCHEME)) {
            Some(hp) => Endpoint::Tls(hp.to_string()),
            None => Endpoint::Local(s.to_path_buf()),
        }
    }

    /// The host of a TCP endpoint (`[v6]` without its brackets): the name a TLS certificate
    /// is checked against unless another is given.
    pub fn host(&self) -> Option<&str> {
        match self {
            Endpoint::Local(_) => None,
            Endpoint::Tcp(hp) | Endpoint::Tls(hp) => {
                let host = hp.rsplit_once(':').map_or(hp.as_str(), |(h, _)| h);
                Some(host.trim_start_matches('[').trim_end_matches(']'))
            }
        }
    }
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Endpoint::Local(p) => write!(f, "{}", p.display()),
            Endpoint::Tcp(hp) => write!(f, "{TCP_SCHEME}{hp}"),
            Endpoint::Tls(hp) => write!(f, "{TLS_SCHEME}{hp}"),
        }
    }
}

/// Reads an authkey file as the broker does: its bytes less one trailing newline. Like the
/// broker, refuses a file that group or others may read or write (a key others can read is
/// no secret).
///
/// # Example
///
/// ```no_run
/// # fn main() -> xproc::Result<()> {
/// let key = xproc::read_authkey_file(std::path::Path::new("/etc/xproc/authkey"))?;
/// let client = xproc::Client::connect_with(xproc::ConnectOptions {
///     path: Some("tcp://10.0.0.2:7100".into()),
///     authkey: Some(key),
///     ..Default::default()
/// })?;
/// # let _ = client; Ok(()) }
/// ```
pub fn read_authkey_file(path: &Path) -> Result<Vec<u8>> {
    let bad =
        |why: String| Error::InvalidArgument(format!("authkey file {}: {why}", path.display()));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let md = std::fs::metadata(path).map_err(|e| bad(e.to_string()))?;
        let mode = md.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(bad(format!(
                "mode {mode:o}: it must be readable by its owner only (chmod 600)"
            )));
        }
    }
    let mut key = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
    // Exactly one LF, so any key (even one ending in CR or LF) can be written as key + LF.
    if key.last() == Some(&b'\n') {
        key.pop();
    }
    if key.is_empty() {
        return Err(bad("it is empty".into()));
    }
    Ok(key)
}

/// The authkey from `$XPROC_AUTHKEY_FILE`, if that is set.
pub(crate) fn authkey_from_env() -> Result<Option<Vec<u8>>> {
    match std::env::var_os(AUTHKEY_FILE_ENV).filter(|v| !v.is_empty()) {
        Some(p) => read_authkey_file(Path::new(&p)).map(Some),
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tcp_endpoints_are_told_from_paths() {
        assert_eq!(
            Endpoint::parse(Path::new("tcp://10.0.0.5:5000")),
            Endpoint::Tcp("10.0.0.5:5000".into())
        );
        assert_eq!(
            Endpoint::parse(Path::new("/run/x.sock")),
            Endpoint::Local("/run/x.sock".into())
        );
        assert_eq!(
            Endpoint::Tcp("h:1".into()).to_string(),
            "tcp://h:1".to_string()
        );
        let tls = Endpoint::parse(Path::new("tls://[::1]:5000"));
        assert_eq!(tls, Endpoint::Tls("[::1]:5000".into()));
        assert_eq!(tls.host(), Some("::1"));
        assert_eq!(
            Endpoint::Tls("broker.lan:1".into()).host(),
            Some("broker.lan")
        );
    }
}
