//! Authenticating TCP peers: the authkeys, the broker's side of the handshake of
//! docs/PROTOCOL.md §1.2 as a state machine, and the per-address failure record. No IO, no
//! clock and no randomness of its own (the event loop passes the time and the nonce), so every
//! step is unit-tested here.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::{Duration, Instant};

use xproc_protocol::auth::{self as wire, Nonce};

/// How long a TCP peer has to complete the handshake: 5 s, far more than a round trip across
/// any network, short enough that a peer which connects and stalls holds a slot briefly.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

/// Failed handshakes (wrong key, garbage, timeout) from one address within
/// [`FAILURE_WINDOW`] after which that address is refused for the rest of the window: 10, so
/// a mistyped key retried by hand is never locked out, while guessing is held to 10 tries a
/// minute.
pub const MAX_FAILURES: u32 = 10;

/// The window over which failures are counted, and for which an address over the limit is
/// refused: 60 s.
pub const FAILURE_WINDOW: Duration = Duration::from_secs(60);

/// Addresses whose failures are remembered at once: 4096. A flood from many addresses cannot
/// grow the table further; the oldest record is dropped first.
pub const MAX_TRACKED_ADDRS: usize = 4096;

/// Handshakes in progress at once, over all addresses: 64. A flood of connections that never
/// finish the handshake is refused past this, so it cannot take every `max_clients` slot
/// from clients that do authenticate (local clients need none).
pub const MAX_PENDING_HANDSHAKES: usize = 64;

/// Handshakes in progress at once from one address: 8.
pub const MAX_PENDING_PER_ADDR: usize = 8;

/// One authkey with the name it is known by (`xproc clients` shows it).
#[derive(Debug, Clone)]
pub struct Key {
    /// The name: `default` for `--authkey-file`, the table name for `[keys.NAME]`.
    pub name: Rc<str>,
    /// The secret.
    pub secret: Vec<u8>,
}

/// Why an authkey file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// It cannot be read.
    #[error("cannot read authkey file {}: {source}", .path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// Others may read or write it.
    #[error(
        "authkey file {} is mode {mode:o}: it must be readable by its owner only (chmod 600)",
        .path.display()
    )]
    Mode {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// It holds no key.
    #[error("authkey file {} is empty", .path.display())]
    Empty {
        /// The file.
        path: PathBuf,
    },
    /// Two keys have the same secret: a peer proving it could be either, so its rules would
    /// be a guess.
    #[error("keys '{0}' and '{1}' have the same secret: give each its own key file content")]
    Duplicate(String, String),
}

/// Checks that no two keys share a secret. Run once at startup, on the broker's own files:
/// no peer can time it.
pub fn check_distinct(keys: &[Key]) -> Result<(), KeyError> {
    for (i, a) in keys.iter().enumerate() {
        if let Some(b) = keys[i + 1..].iter().find(|b| a.secret == b.secret) {
            return Err(KeyError::Duplicate(a.name.to_string(), b.name.to_string()));
        }
    }
    Ok(())
}

/// Reads an authkey file: its bytes, less one trailing newline (so `echo secret > key` works).
/// The file must not be readable or writable by group or others (mode 0600 or 0400).
pub fn load_key(name: &str, path: &Path) -> Result<Key, KeyError> {
    let read = |source| KeyError::Read {
        path: path.to_path_buf(),
        source,
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path).map_err(read)?.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(KeyError::Mode {
                path: path.to_path_buf(),
                mode,
            });
        }
    }
    let mut secret = std::fs::read(path).map_err(read)?;
    // Exactly one LF, so any key (even one ending in CR or LF) can be written as key + LF.
    if secret.last() == Some(&b'\n') {
        secret.pop();
    }
    if secret.is_empty() {
        return Err(KeyError::Empty {
            path: path.to_path_buf(),
        });
    }
    Ok(Key {
        name: name.into(),
        secret,
    })
}

/// A handshake in progress: the challenge was sent, the response is awaited.
#[derive(Debug)]
pub struct Handshake {
    nonce: Nonce,
    /// When the peer's time is up.
    pub deadline: Instant,
}

/// Why a handshake failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// The frame is not a response (garbage, a request sent without the handshake).
    Malformed,
    /// The MAC matches none of the keys.
    WrongKey,
}

impl Handshake {
    /// Starts a handshake with the broker's fresh `nonce`: appends the challenge frame to
    /// `out`.
    pub fn start(nonce: Nonce, now: Instant, out: &mut Vec<u8>) -> Handshake {
        wire::challenge_frame(out, &nonce);
        Handshake {
            nonce,
            deadline: now + HANDSHAKE_TIMEOUT,
        }
    }

    /// Checks the client's response (one frame's payload) against every key, each compared in
    /// constant time. On success appends the welcome frame to `out` and returns the key the
    /// peer proved.
    pub fn finish<'k>(
        &self,
        payload: &[u8],
        keys: &'k [Key],
        out: &mut Vec<u8>,
    ) -> Result<&'k Key, Failure> {
        let (nc, tag) = wire::parse_response(payload).ok_or(Failure::Malformed)?;
        let key = keys
            .iter()
            .find(|k| wire::verify_client(&k.secret, &self.nonce, &nc, tag))
            .ok_or(Failure::WrongKey)?;
        wire::welcome_frame(out, &wire::server_mac(&key.secret, &self.nonce, &nc));
        Ok(key)
    }
}

/// Failures per address, for the rate limit.
#[derive(Debug, Default)]
pub struct Failures {
    by_addr: HashMap<IpAddr, Record>,
}

#[derive(Debug, Clone, Copy)]
struct Record {
    since: Instant,
    count: u32,
}

impl Failures {
    /// Whether `ip` is refused now (over [`MAX_FAILURES`] in the current window).
    pub fn blocked(&mut self, ip: IpAddr, now: Instant) -> bool {
        match self.by_addr.get(&ip) {
            Some(r) if now.duration_since(r.since) >= FAILURE_WINDOW => {
                self.by_addr.remove(&ip);
                false
            }
            Some(r) => r.count >= MAX_FAILURES,
            None => false,
        }
    }

    /// Records a failure; returns true when this one put `ip` over the limit (the caller
    /// logs it once).
    pub fn fail(&mut self, ip: IpAddr, now: Instant) -> bool {
        if !self.by_addr.contains_key(&ip) && self.by_addr.len() >= MAX_TRACKED_ADDRS {
            if let Some(oldest) = self
                .by_addr
                .iter()
                .min_by_key(|(_, r)| r.since)
                .map(|(a, _)| *a)
            {
                self.by_addr.remove(&oldest);
            }
        }
        let r = self.by_addr.entry(ip).or_insert(Record {
            since: now,
            count: 0,
        });
        if now.duration_since(r.since) >= FAILURE_WINDOW {
            *r = Record {
                since: now,
                count: 0,
            };
        }
        r.count += 1;
        r.count == MAX_FAILURES
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(name: &str, s: &[u8]) -> Key {
        Key {
            name: name.into(),
            secret: s.to_vec(),
        }
    }

    fn respond(challenge: &[u8], secret: &[u8], nc: Nonce) -> Vec<u8> {
        let nb = wire::parse_challenge(&challenge[4..]).unwrap();
        let mut out = Vec::new();
        wire::response_frame(&mut out, &nc, &wire::client_mac(secret, &nb, &nc));
        out.split_off(4)
    }

    #[test]
    fn the_right_key_is_welcomed_and_named_and_the_broker_proves_it_too() {
        let keys = [key("a", b"alpha"), key("b", b"beta")];
        let mut out = Vec::new();
        let now = Instant::now();
        let h = Handshake::start([5; 32], now, &mut out);
        assert_eq!(h.deadline, now + HANDSHAKE_TIMEOUT);
        let resp = respond(&out, b"beta", [6; 32]);
        let mut welcome = Vec::new();
        assert_eq!(&*h.finish(&resp, &keys, &mut welcome).unwrap().name, "b");
        let tag = wire::parse_welcome(&welcome[4..]).unwrap();
        assert!(wire::verify_server(b"beta", &[5; 32], &[6; 32], tag));
    }

    #[test]
    fn wrong_keys_garbage_and_replays_fail() {
        let keys = [key("a", b"alpha")];
        let mut out = Vec::new();
        let h = Handshake::start([1; 32], Instant::now(), &mut out);
        let mut w = Vec::new();
        let wrong = respond(&out, b"alpha!", [2; 32]);
        assert_eq!(
            h.finish(&wrong, &keys, &mut w).unwrap_err(),
            Failure::WrongKey
        );
        assert_eq!(
            h.finish(b"\x81\xa2id\x01", &keys, &mut w).unwrap_err(),
            Failure::Malformed
        );
        // A response recorded on another connection (another broker nonce) is no proof here.
        let good_elsewhere = respond(&out, b"alpha", [2; 32]);
        let mut out2 = Vec::new();
        let h2 = Handshake::start([9; 32], Instant::now(), &mut out2);
        assert_eq!(
            h2.finish(&good_elsewhere, &keys, &mut w).unwrap_err(),
            Failure::WrongKey
        );
        assert!(w.is_empty());
    }

    #[test]
    fn failures_block_an_address_for_the_window_only() {
        let mut f = Failures::default();
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let other: IpAddr = "10.0.0.2".parse().unwrap();
        let t0 = Instant::now();
        for i in 1..MAX_FAILURES {
            assert!(!f.fail(ip, t0));
            assert!(!f.blocked(ip, t0), "blocked after {i}");
        }
        assert!(f.fail(ip, t0));
        assert!(f.blocked(ip, t0));
        assert!(!f.blocked(other, t0));
        assert!(!f.blocked(ip, t0 + FAILURE_WINDOW));
    }

    #[test]
    fn key_files_must_be_private_and_not_empty() {
        let dir = std::env::temp_dir().join(format!("xproc-key-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("key");
        std::fs::write(&p, b"secret\n").unwrap();
        // Modes are checked on Unix only (Windows files have ACLs, not mode bits).
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
            assert!(matches!(
                load_key("default", &p),
                Err(KeyError::Mode { mode: 0o644, .. })
            ));
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        assert_eq!(load_key("default", &p).unwrap().secret, b"secret");
        std::fs::write(&p, b"\n").unwrap();
        assert!(matches!(
            load_key("default", &p),
            Err(KeyError::Empty { .. })
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
