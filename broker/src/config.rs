//! Every limit and access rule the broker enforces, as one [`Config`] with a named, documented
//! field each. The defaults say why they are what they are; `xprocd --help` shows them.
//!
//! Settings come from three layers, highest first: command-line flags (and `XPROC_SOCKET`),
//! the TOML file given with `--config`, then the defaults below. Both upper layers are a
//! [`Settings`] (every field optional), so "flags win" is one `or` per field
//! ([`Settings::over`]). docs/SECURITY.md lists every key with its default.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

/// Largest frame payload accepted: 16 MiB. A 1 MiB value (a typical "large message") fits with
/// plenty of room for a batch of them in `dict.update`, while a hostile length prefix cannot
/// make the broker buffer more than this per connection.
pub const DEFAULT_MAX_FRAME: usize = 16 * 1024 * 1024;

/// Most connections at once: 1024, the usual soft `RLIMIT_NOFILE`; past it the broker would
/// run out of file descriptors anyway, and a clear error beats an `EMFILE` in the accept loop.
pub const DEFAULT_MAX_CLIENTS: usize = 1024;

/// Most objects at once: 65536. Far above any real deployment's set of named queues and locks,
/// low enough that a client creating names in a loop hits a clear error instead of eating
/// memory with empty objects.
pub const DEFAULT_MAX_OBJECTS: usize = 65536;

/// Bytes of values held across all objects: 1 GiB. Unbounded queues are the classic way a
/// local broker takes a machine down; a budget turns that into a `LimitExceeded` error.
pub const DEFAULT_MEMORY_LIMIT: usize = 1024 * 1024 * 1024;

/// Size of each of a connection's two rings (docs/PROTOCOL.md §4.2): 64 MiB, so a 16 MiB
/// value fits with three more in flight. Virtual: a page costs memory only once touched, and
/// only connections that move large values open rings at all. 0 turns rings off.
pub const DEFAULT_RING_SIZE: usize = 64 * 1024 * 1024;

/// Largest `ring_size` accepted: 1 GiB per ring.
pub const MAX_RING_SIZE: usize = 1024 * 1024 * 1024;

/// Pending output above which the broker stops reading a connection until it drains: 8 MiB.
/// A client that pipelines requests without reading replies then waits on its own socket
/// rather than growing the broker's buffers.
pub const DEFAULT_OUTPUT_SOFT_LIMIT: usize = 8 * 1024 * 1024;

/// Pending output above which the connection is closed: 64 MiB. Reached only by a client that
/// stopped reading while replies kept coming (woken waiters, snapshots); it is logged at warn.
pub const DEFAULT_OUTPUT_HARD_LIMIT: usize = 64 * 1024 * 1024;

/// Most requests one connection may have blocked at once: 1024. A blocked request produces no
/// reply, so the output limits never stop a client that pipelines endless blocking gets; this
/// does. 1024 is far more threads than one process blocks on one connection, and caps the
/// waiter records a connection can make the broker keep.
pub const DEFAULT_MAX_BLOCKED: usize = 1024;

/// How long shutdown may spend flushing replies (`ShuttingDown` to blocked requests): 2 s, so
/// that a stuck client cannot hold up a `systemctl stop`.
pub const DEFAULT_SHUTDOWN_FLUSH: Duration = Duration::from_secs(2);

/// Most `[keys.NAME]` tables: 64. A handshake response is checked against every key (one
/// HMAC each, constant time), so the list stays short; a deployment with more machines than
/// this gives machines with the same rules one key.
pub const MAX_KEYS: usize = 64;

/// Longest `--busy-poll` accepted: 1 ms. The poll exists to bridge the tens of µs a wake-up
/// across vCPUs costs; polling longer than a millisecond only burns CPU that a sleep and an
/// ordinary wake-up would have saved.
pub const MAX_BUSY_POLL: Duration = Duration::from_millis(1);

/// The log filter when neither `--log-level`, the file nor `RUST_LOG` sets one.
pub const DEFAULT_LOG_LEVEL: &str = "info";

/// Who may connect, beyond what the socket file's permissions already allow.
///
/// With neither list configured, anyone who can open the socket may connect: the socket is
/// mode 0600 (0660 with `--group`) in a 0700 (0710) directory, so that is the broker's owner
/// (and the group's members). With either list configured, a peer must have its uid in
/// `allow_uids` or one of its gids (effective or supplementary) in `allow_gids`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Access {
    /// Uids allowed to connect; `None`: not configured.
    pub allow_uids: Option<Vec<u32>>,
    /// Gids allowed to connect; `None`: not configured.
    pub allow_gids: Option<Vec<u32>>,
}

impl Access {
    /// Whether any allow-list is configured (then peers are checked).
    pub fn restricted(&self) -> bool {
        self.allow_uids.is_some() || self.allow_gids.is_some()
    }

    /// Whether the gid list matters (so the peer's supplementary groups are worth reading).
    pub fn checks_groups(&self) -> bool {
        self.allow_gids.as_ref().is_some_and(|g| !g.is_empty())
    }

    /// Whether a peer with `uid` and `gids` (effective first, then supplementary) may connect.
    pub fn allows(&self, uid: u32, gids: &[u32]) -> bool {
        if !self.restricted() {
            return true;
        }
        let uid_ok = self.allow_uids.as_ref().is_some_and(|u| u.contains(&uid));
        let gid_ok = self
            .allow_gids
            .as_ref()
            .is_some_and(|allowed| gids.iter().any(|g| allowed.contains(g)));
        uid_ok || gid_ok
    }
}

/// How the broker runs.
#[derive(Debug, Clone)]
pub struct Config {
    /// Socket path; `None` uses the default endpoint (docs/PROTOCOL.md §1).
    pub socket: Option<PathBuf>,
    /// Group given access to the socket (mode 0660, and 0710 on the default directory), by
    /// name or number; `None`: owner only (0600 / 0700).
    pub group: Option<String>,
    /// Allow-lists checked against every peer's credentials.
    pub access: Access,
    /// Largest frame payload accepted, in bytes ([`DEFAULT_MAX_FRAME`]).
    pub max_frame: usize,
    /// Most connections at once ([`DEFAULT_MAX_CLIENTS`]).
    pub max_clients: usize,
    /// Most objects at once ([`DEFAULT_MAX_OBJECTS`]).
    pub max_objects: usize,
    /// Bytes of values held across all objects ([`DEFAULT_MEMORY_LIMIT`]).
    pub memory_limit: usize,
    /// Bytes of each ring a connection may open; 0: no rings ([`DEFAULT_RING_SIZE`]).
    pub ring_size: usize,
    /// Pending output that pauses reading a connection ([`DEFAULT_OUTPUT_SOFT_LIMIT`]).
    pub output_soft_limit: usize,
    /// Pending output that closes a connection ([`DEFAULT_OUTPUT_HARD_LIMIT`]).
    pub output_hard_limit: usize,
    /// Most blocked requests per connection ([`DEFAULT_MAX_BLOCKED`]).
    pub max_blocked: usize,
    /// Longest time shutdown spends flushing replies ([`DEFAULT_SHUTDOWN_FLUSH`]).
    pub shutdown_flush: Duration,
    /// Most time the loop polls for more work before it sleeps, adapted by
    /// [`xproc_protocol::idle::Governor`]; zero (the default): it sleeps at once. At most
    /// [`MAX_BUSY_POLL`].
    pub busy_poll: Duration,
    /// The log filter (`error`, `warn`, `info`, `debug`, `trace`, or a tracing filter).
    pub log_level: String,
    /// TCP endpoints (`tcp://HOST:PORT`) to listen on beside the local socket; empty (the
    /// default): no TCP at all.
    pub listen: Vec<String>,
    /// The authkey file TCP peers must prove (docs/PROTOCOL.md §1.2); required with `listen`.
    pub authkey_file: Option<PathBuf>,
    /// Address ranges TCP peers may connect from; `None`: any (the authkey still applies).
    pub allow_addrs: Option<Vec<Cidr>>,
    /// More authkeys, each with its name and per-object rules (`[keys.NAME]` in the file).
    pub keys: Vec<KeyConfig>,
    /// Certificate chain (PEM) for `tls://` endpoints.
    pub tls_cert: Option<PathBuf>,
    /// Private key (PEM, mode 0600) for `tls://` endpoints.
    pub tls_key: Option<PathBuf>,
}

/// One `[keys.NAME]` table: a key file and what the peers that prove it may touch
/// (docs/SECURITY.md §7).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyConfig {
    /// The key file (mode 0600, like `authkey_file`).
    pub file: PathBuf,
    /// The name and the patterns.
    pub rules: crate::access::Rules,
}

/// `[keys.NAME]` as written in the file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeySettings {
    /// `file = "/etc/xproc/worker.key"`.
    pub file: PathBuf,
    /// `read_write = ["tasks", "results.*"]`: names this key may change.
    #[serde(default)]
    pub read_write: Vec<String>,
    /// `read_only = ["config"]`: names this key may only look at.
    #[serde(default)]
    pub read_only: Vec<String>,
}

impl KeySettings {
    /// Checks the table and makes its rules.
    fn into_key(self, name: &str) -> Result<KeyConfig, ConfigError> {
        let invalid = |m: String| ConfigError::Invalid(format!("[keys.{name}]: {m}"));
        let valid_name = !name.is_empty()
            && name.len() <= 64
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
        if !valid_name {
            return Err(invalid(
                "a key's name is 1..=64 of A-Z a-z 0-9 - _ .".to_string(),
            ));
        }
        if name == "default" {
            return Err(invalid(
                "'default' is the name of authkey_file's key; pick another".to_string(),
            ));
        }
        if self.read_write.is_empty() && self.read_only.is_empty() {
            return Err(invalid(
                "grants nothing: give read_write and/or read_only patterns (read_write = [\"*\"] for everything)"
                    .to_string(),
            ));
        }
        if self.read_write.len() + self.read_only.len() > crate::access::MAX_PATTERNS {
            return Err(invalid(format!(
                "more than {} patterns",
                crate::access::MAX_PATTERNS
            )));
        }
        let patterns = |list: Vec<String>| {
            list.iter()
                .map(|t| {
                    crate::access::Pattern::new(t).ok_or_else(|| {
                        invalid(format!("pattern {t:?} is empty or longer than 255 bytes"))
                    })
                })
                .collect::<Result<Vec<_>, _>>()
        };
        Ok(KeyConfig {
            file: self.file,
            rules: crate::access::Rules {
                key: name.into(),
                read_write: patterns(self.read_write)?,
                read_only: patterns(self.read_only)?,
            },
        })
    }
}

/// An address range, `10.0.0.0/24` or `fd00::/8` (a bare address is one host).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    /// The network address.
    pub addr: std::net::IpAddr,
    /// Leading bits that must match.
    pub prefix: u8,
}

impl Cidr {
    /// Whether `ip` is in the range (an IPv4-mapped IPv6 address counts as its IPv4 one).
    pub fn contains(&self, ip: std::net::IpAddr) -> bool {
        use std::net::IpAddr;
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        let bits = |a: IpAddr| -> (u128, u8) {
            match a {
                IpAddr::V4(v) => (u32::from(v) as u128, 32),
                IpAddr::V6(v) => (u128::from(v), 128),
            }
        };
        let ((net, width), (host, host_width)) = (bits(self.addr), bits(ip));
        if width != host_width {
            return false;
        }
        let shift = width - self.prefix.min(width);
        shift == width || (net >> shift) == (host >> shift)
    }
}

impl std::str::FromStr for Cidr {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad =
            || format!("{s:?} is not an address range (e.g. 10.0.0.0/24, fd00::/8, 10.0.0.5)");
        let (a, p) = s.split_once('/').map_or((s, None), |(a, p)| (a, Some(p)));
        let addr: std::net::IpAddr = a.trim().parse().map_err(|_| bad())?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match p {
            Some(p) => p
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|&p| p <= max)
                .ok_or_else(bad)?,
            None => max,
        };
        Ok(Cidr { addr, prefix })
    }
}

impl<'de> Deserialize<'de> for Cidr {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            socket: None,
            group: None,
            access: Access::default(),
            max_frame: DEFAULT_MAX_FRAME,
            max_clients: DEFAULT_MAX_CLIENTS,
            max_objects: DEFAULT_MAX_OBJECTS,
            memory_limit: DEFAULT_MEMORY_LIMIT,
            ring_size: DEFAULT_RING_SIZE,
            output_soft_limit: DEFAULT_OUTPUT_SOFT_LIMIT,
            output_hard_limit: DEFAULT_OUTPUT_HARD_LIMIT,
            max_blocked: DEFAULT_MAX_BLOCKED,
            shutdown_flush: DEFAULT_SHUTDOWN_FLUSH,
            busy_poll: Duration::ZERO,
            log_level: DEFAULT_LOG_LEVEL.to_string(),
            listen: Vec::new(),
            authkey_file: None,
            allow_addrs: None,
            keys: Vec::new(),
            tls_cert: None,
            tls_key: None,
        }
    }
}

impl Config {
    /// The limits as sent in the `hello` reply.
    pub fn limits(&self) -> xproc_protocol::Limits {
        xproc_protocol::Limits {
            max_frame: self.max_frame as u64,
            max_clients: self.max_clients as u64,
            max_objects: self.max_objects as u64,
            memory_limit: self.memory_limit as u64,
        }
    }

    /// Checks settings that cannot work together.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |m: String| Err(ConfigError::Invalid(m));
        if self.max_frame == 0 || self.max_frame > u32::MAX as usize {
            return invalid(format!(
                "max_frame must be 1..={} bytes (the frame header is 32 bits), not {}",
                u32::MAX,
                self.max_frame
            ));
        }
        if self.ring_size > MAX_RING_SIZE || !self.ring_size.is_multiple_of(4096) {
            return invalid(format!(
                "ring_size must be 0 (no rings) or a multiple of 4096 up to {MAX_RING_SIZE} \
                 bytes, not {}",
                self.ring_size
            ));
        }
        if self.output_hard_limit < self.output_soft_limit {
            return invalid(format!(
                "output_hard_limit ({}) is below output_soft_limit ({})",
                self.output_hard_limit, self.output_soft_limit
            ));
        }
        if self.busy_poll > MAX_BUSY_POLL {
            return invalid(format!(
                "busy_poll must be at most {} µs, not {} µs",
                MAX_BUSY_POLL.as_micros(),
                self.busy_poll.as_micros()
            ));
        }
        if self.max_clients == 0 || self.max_objects == 0 {
            return invalid("max_clients and max_objects must be at least 1".into());
        }
        if let Some(bad) = self
            .listen
            .iter()
            .find(|l| !l.starts_with("tcp://") && !l.starts_with("tls://"))
        {
            return invalid(format!(
                "listen endpoint {bad:?} is not tcp://HOST:PORT or tls://HOST:PORT (the local \
                 socket is --socket)"
            ));
        }
        let tls_endpoints = self.listen.iter().any(|l| l.starts_with("tls://"));
        let tls_files = self.tls_cert.is_some() || self.tls_key.is_some();
        if tls_endpoints && (self.tls_cert.is_none() || self.tls_key.is_none()) {
            return invalid(
                "a tls:// endpoint needs --tls-cert FILE and --tls-key FILE (PEM)".into(),
            );
        }
        if tls_files && !tls_endpoints {
            return invalid(
                "--tls-cert/--tls-key given but no tls:// endpoint to use them: listen on \
                 tls://HOST:PORT (a tcp:// endpoint stays unencrypted)"
                    .into(),
            );
        }
        if !self.listen.is_empty() && self.authkey_file.is_none() && self.keys.is_empty() {
            return invalid(
                "refusing to listen on TCP without an authkey: give --authkey-file FILE (mode 0600)"
                    .into(),
            );
        }
        if self.keys.len() > MAX_KEYS {
            return invalid(format!("more than {MAX_KEYS} [keys.NAME] tables"));
        }
        Ok(())
    }
}

/// Why the settings could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The config file could not be read.
    #[error("cannot read config file {}: {source}", .path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The config file is not valid TOML for these settings (unknown keys are errors, so a
    /// typo in a security setting is not silently ignored).
    #[error("config file {}: {message}", .path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// What the TOML parser reported, with the line.
        message: String,
    },
    /// Settings that cannot work together.
    #[error("invalid settings: {0}")]
    Invalid(String),
}

/// One layer of settings: every `xprocd` flag, all optional. The TOML file has the same keys
/// as the flags, with underscores (`max_frame = "16M"`, `allow_uids = [1000, 1001]`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// `--socket`.
    pub socket: Option<PathBuf>,
    /// `--group`: a group name or number.
    pub group: Option<GroupName>,
    /// `--allow-uid`.
    pub allow_uids: Option<Vec<u32>>,
    /// `--allow-gid`.
    pub allow_gids: Option<Vec<u32>>,
    /// `--max-frame`.
    pub max_frame: Option<ByteSize>,
    /// `--max-clients`.
    pub max_clients: Option<usize>,
    /// `--max-objects`.
    pub max_objects: Option<usize>,
    /// `--memory-limit`.
    pub memory_limit: Option<ByteSize>,
    /// `--ring-size`.
    pub ring_size: Option<ByteSize>,
    /// `--output-soft-limit`.
    pub output_soft_limit: Option<ByteSize>,
    /// `--output-hard-limit`.
    pub output_hard_limit: Option<ByteSize>,
    /// `--max-blocked`.
    pub max_blocked: Option<usize>,
    /// `--busy-poll`, in microseconds.
    pub busy_poll_us: Option<u64>,
    /// `--log-level`.
    pub log_level: Option<String>,
    /// `--listen` (repeatable): `listen = ["tcp://0.0.0.0:5000"]`.
    pub listen: Option<Vec<String>>,
    /// `--authkey-file`.
    pub authkey_file: Option<PathBuf>,
    /// `--allow-addr` (repeatable): `allow_addrs = ["10.0.0.0/24"]`.
    pub allow_addrs: Option<Vec<Cidr>>,
    /// `[keys.NAME]` tables (file only): more keys, each limited by its rules.
    pub keys: Option<BTreeMap<String, KeySettings>>,
    /// `--tls-cert`.
    pub tls_cert: Option<PathBuf>,
    /// `--tls-key`.
    pub tls_key: Option<PathBuf>,
}

impl Settings {
    /// Reads a TOML settings file.
    pub fn load(path: &Path) -> Result<Settings, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            message: e.to_string().trim_end().replace('\n', " "),
        })
    }

    /// This layer over `lower`: each field set here wins.
    pub fn over(self, lower: Settings) -> Settings {
        Settings {
            socket: self.socket.or(lower.socket),
            group: self.group.or(lower.group),
            allow_uids: self.allow_uids.or(lower.allow_uids),
            allow_gids: self.allow_gids.or(lower.allow_gids),
            max_frame: self.max_frame.or(lower.max_frame),
            max_clients: self.max_clients.or(lower.max_clients),
            max_objects: self.max_objects.or(lower.max_objects),
            memory_limit: self.memory_limit.or(lower.memory_limit),
            ring_size: self.ring_size.or(lower.ring_size),
            output_soft_limit: self.output_soft_limit.or(lower.output_soft_limit),
            output_hard_limit: self.output_hard_limit.or(lower.output_hard_limit),
            max_blocked: self.max_blocked.or(lower.max_blocked),
            busy_poll_us: self.busy_poll_us.or(lower.busy_poll_us),
            log_level: self.log_level.or(lower.log_level),
            listen: self.listen.or(lower.listen),
            authkey_file: self.authkey_file.or(lower.authkey_file),
            allow_addrs: self.allow_addrs.or(lower.allow_addrs),
            keys: self.keys.or(lower.keys),
            tls_cert: self.tls_cert.or(lower.tls_cert),
            tls_key: self.tls_key.or(lower.tls_key),
        }
    }

    /// The configuration: these settings over the defaults, checked.
    pub fn into_config(self) -> Result<Config, ConfigError> {
        let d = Config::default();
        let config = Config {
            socket: self.socket,
            group: self.group.map(|g| g.0),
            access: Access {
                allow_uids: self.allow_uids,
                allow_gids: self.allow_gids,
            },
            max_frame: self.max_frame.map_or(d.max_frame, |b| b.0),
            max_clients: self.max_clients.unwrap_or(d.max_clients),
            max_objects: self.max_objects.unwrap_or(d.max_objects),
            memory_limit: self.memory_limit.map_or(d.memory_limit, |b| b.0),
            ring_size: self.ring_size.map_or(d.ring_size, |b| b.0),
            output_soft_limit: self.output_soft_limit.map_or(d.output_soft_limit, |b| b.0),
            output_hard_limit: self.output_hard_limit.map_or(d.output_hard_limit, |b| b.0),
            max_blocked: self.max_blocked.unwrap_or(d.max_blocked),
            shutdown_flush: d.shutdown_flush,
            busy_poll: self.busy_poll_us.map_or(d.busy_poll, Duration::from_micros),
            log_level: self.log_level.unwrap_or(d.log_level),
            listen: self.listen.unwrap_or_default(),
            authkey_file: self.authkey_file,
            allow_addrs: self.allow_addrs,
            keys: self
                .keys
                .unwrap_or_default()
                .into_iter()
                .map(|(name, k)| k.into_key(&name))
                .collect::<Result<_, _>>()?,
            tls_cert: self.tls_cert,
            tls_key: self.tls_key,
        };
        config.validate()?;
        Ok(config)
    }
}

/// A group, by name or number (`--group xproc`, `group = "xproc"`, `group = 1001`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupName(pub String);

impl<'de> Deserialize<'de> for GroupName {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = GroupName;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a group name or number")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<GroupName, E> {
                Ok(GroupName(v.to_string()))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<GroupName, E> {
                Ok(GroupName(v.to_string()))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<GroupName, E> {
                Ok(GroupName(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

/// A byte count: a number, or text such as `"512K"`, `"16M"`, `"1G"` (binary multiples).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteSize(pub usize);

impl std::str::FromStr for ByteSize {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        parse_size(s).map(ByteSize)
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = ByteSize;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a byte count (e.g. 1048576, \"512K\", \"16M\", \"1G\")")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<ByteSize, E> {
                parse_size(v).map(ByteSize).map_err(E::custom)
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<ByteSize, E> {
                usize::try_from(v)
                    .map(ByteSize)
                    .map_err(|_| E::custom(format!("{v} is not a byte count")))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<ByteSize, E> {
                usize::try_from(v)
                    .map(ByteSize)
                    .map_err(|_| E::custom(format!("{v} is too large")))
            }
        }
        d.deserialize_any(V)
    }
}

/// Parses a byte count such as `1048576`, `512K`, `16M` or `1G` (binary multiples).
pub fn parse_size(s: &str) -> Result<usize, String> {
    let s = s.trim();
    let (digits, shift) = match s.char_indices().last() {
        Some((i, 'k' | 'K')) => (&s[..i], 10),
        Some((i, 'm' | 'M')) => (&s[..i], 20),
        Some((i, 'g' | 'G')) => (&s[..i], 30),
        _ => (s, 0),
    };
    let n: usize = digits
        .parse()
        .map_err(|_| format!("{s:?} is not a byte count (e.g. 1048576, 512K, 16M, 1G)"))?;
    n.checked_mul(1 << shift)
        .ok_or_else(|| format!("{s:?} is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_suffixes() {
        assert_eq!(parse_size("1048576"), Ok(1 << 20));
        assert_eq!(parse_size("512K"), Ok(512 << 10));
        assert_eq!(parse_size("16m"), Ok(16 << 20));
        assert_eq!(parse_size("1G"), Ok(1 << 30));
        assert!(parse_size("lots").is_err());
    }

    #[test]
    fn key_tables_become_named_rules_and_bad_ones_are_refused() {
        let parse = |text: &str| toml::from_str::<Settings>(text).unwrap().into_config();
        let c = parse(
            r#"
            listen = ["tcp://127.0.0.1:5000"]
            [keys.worker-7]
            file = "/etc/xproc/w7.key"
            read_write = ["tasks", "results.*"]
            "#,
        )
        .unwrap();
        assert_eq!(
            c.keys.len(),
            1,
            "a key table alone is an authkey for listen"
        );
        let r = &c.keys[0].rules;
        assert_eq!(r.key, "worker-7");
        assert!(r.read_write[1].matches("results.3") && r.read_only.is_empty());
        for (bad, why) in [
            ("[keys.\"a b\"]\nfile = \"k\"\nread_only = [\"x\"]", "name"),
            ("[keys.w]\nfile = \"k\"\nread_only = [\"\"]", "empty"),
            ("[keys.w]\nfile = \"k\"\nwrite = [\"x\"]", "unknown field"),
        ] {
            let e = toml::from_str::<Settings>(bad)
                .map_err(|e| e.to_string())
                .and_then(|s| s.into_config().map_err(|e| e.to_string()))
                .unwrap_err();
            assert!(e.contains(why), "{bad}: {e}");
        }
    }

    #[test]
    fn the_file_takes_every_flag_and_flags_win() {
        let file: Settings = toml::from_str(
            r#"
            socket = "/run/xproc/xproc.sock"
            group = "xproc"
            allow_uids = [1000, 1001]
            allow_gids = [50]
            max_frame = "1M"
            max_clients = 10
            max_objects = 20
            memory_limit = 4096
            output_soft_limit = "8K"
            output_hard_limit = "64K"
            max_blocked = 7
            log_level = "debug"
            "#,
        )
        .unwrap();
        let flags = Settings {
            max_clients: Some(99),
            allow_uids: Some(vec![5]),
            ..Settings::default()
        };
        let c = flags.over(file).into_config().unwrap();
        assert_eq!(c.socket, Some(PathBuf::from("/run/xproc/xproc.sock")));
        assert_eq!(c.group.as_deref(), Some("xproc"));
        assert_eq!(c.access.allow_uids, Some(vec![5]));
        assert_eq!(c.access.allow_gids, Some(vec![50]));
        assert_eq!(
            (c.max_frame, c.max_clients, c.max_objects, c.memory_limit),
            (1 << 20, 99, 20, 4096)
        );
        assert_eq!((c.output_soft_limit, c.output_hard_limit), (8192, 65536));
        assert_eq!((c.max_blocked, c.log_level.as_str()), (7, "debug"));
    }

    #[test]
    fn unknown_keys_and_bad_values_are_errors() {
        assert!(toml::from_str::<Settings>("allow_uid = [1]").is_err());
        assert!(toml::from_str::<Settings>("max_frame = \"huge\"").is_err());
        assert!(toml::from_str::<Settings>("max_frame = -1").is_err());
        let bad = Settings {
            output_soft_limit: Some(ByteSize(10)),
            output_hard_limit: Some(ByteSize(5)),
            ..Settings::default()
        };
        assert!(matches!(bad.into_config(), Err(ConfigError::Invalid(_))));
    }

    #[test]
    fn tcp_needs_an_authkey_and_a_tcp_scheme() {
        let file: Settings = toml::from_str(
            r#"
            listen = ["tcp://127.0.0.1:5000", "tcp://[::1]:5000"]
            authkey_file = "/etc/xproc/key"
            "#,
        )
        .unwrap();
        let c = file.clone().into_config().unwrap();
        assert_eq!(c.listen.len(), 2);
        assert_eq!(c.authkey_file, Some(PathBuf::from("/etc/xproc/key")));
        let keyless = Settings {
            authkey_file: None,
            ..file
        };
        let e = keyless.into_config().unwrap_err().to_string();
        assert!(e.contains("without an authkey"), "{e}");
        let bad = Settings {
            listen: Some(vec!["127.0.0.1:5000".into()]),
            authkey_file: Some("/k".into()),
            ..Settings::default()
        };
        assert!(bad.into_config().is_err());
        assert!(Settings::default().into_config().unwrap().listen.is_empty());
    }

    #[test]
    fn address_ranges() {
        let c: Cidr = "10.231.7.0/24".parse().unwrap();
        assert!(c.contains("10.231.7.2".parse().unwrap()));
        assert!(!c.contains("10.231.8.2".parse().unwrap()));
        assert!(c.contains("::ffff:10.231.7.9".parse().unwrap()));
        assert!(!c.contains("fd00::1".parse().unwrap()));
        let host: Cidr = "127.0.0.1".parse().unwrap();
        assert!(host.contains("127.0.0.1".parse().unwrap()));
        assert!(!host.contains("127.0.0.2".parse().unwrap()));
        let any: Cidr = "0.0.0.0/0".parse().unwrap();
        assert!(any.contains("192.0.2.1".parse().unwrap()));
        let v6: Cidr = "fd00::/8".parse().unwrap();
        assert!(v6.contains("fd12::1".parse().unwrap()));
        assert!("10.0.0.0/33".parse::<Cidr>().is_err());
        assert!("ten".parse::<Cidr>().is_err());
        let s: Settings = toml::from_str(r#"allow_addrs = ["10.0.0.0/8"]"#).unwrap();
        assert_eq!(s.into_config().unwrap().allow_addrs.unwrap().len(), 1);
    }

    #[test]
    fn allow_lists() {
        let open = Access::default();
        assert!(open.allows(1234, &[1234]));
        let by_uid = Access {
            allow_uids: Some(vec![1000]),
            allow_gids: None,
        };
        assert!(by_uid.allows(1000, &[1000]));
        assert!(!by_uid.allows(1001, &[1000]));
        let by_gid = Access {
            allow_uids: None,
            allow_gids: Some(vec![50]),
        };
        // A supplementary group counts as much as the effective one.
        assert!(by_gid.allows(1001, &[1001, 50]));
        assert!(!by_gid.allows(1001, &[1001]));
        let nobody = Access {
            allow_uids: Some(vec![]),
            allow_gids: Some(vec![]),
        };
        assert!(!nobody.allows(0, &[0]));
    }
}
