//! `xprocd`: parses flags (and the `--config` file under them), sets up logging (to stderr),
//! and runs the broker.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use xproc_broker::config::{ByteSize, GroupName, Settings};

/// The xproc broker: named queues, pipes, dicts, locks and other sync primitives for processes
/// in any language, over a Unix socket.
///
/// Every flag can also be set in the --config file (same names, with underscores); flags win
/// over the file. Byte counts accept K, M and G suffixes. docs/SECURITY.md explains each limit.
#[derive(Debug, Parser)]
#[command(name = "xprocd", version)]
struct Args {
    /// TOML file with settings (keys as the flags below, e.g. `max_frame = "16M"`,
    /// `allow_uids = [1000]`). Unknown keys are errors.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Socket path. Default: $XDG_RUNTIME_DIR/xproc.sock, else /tmp/xproc-<uid>/xproc.sock.
    /// On Windows, the pipe name (`--pipe` is the same flag): `NAME` or `\\.\pipe\NAME`;
    /// default `\\.\pipe\xproc-<user>`.
    #[arg(
        long,
        visible_alias = "pipe",
        env = "XPROC_SOCKET",
        value_name = "PATH"
    )]
    socket: Option<PathBuf>,
    /// Give this group (name or gid) access: socket mode 0660 instead of 0600, and the default
    /// /tmp directory 0710 with that group.
    #[arg(long, value_name = "NAME")]
    group: Option<String>,
    /// Allow only these uids (repeat or comma-separate; with --allow-gid, either may match).
    /// Default: anyone who can open the socket.
    #[arg(long = "allow-uid", value_name = "UID", value_delimiter = ',')]
    allow_uids: Option<Vec<u32>>,
    /// Allow only these gids (effective or supplementary; repeat or comma-separate).
    #[arg(long = "allow-gid", value_name = "GID", value_delimiter = ',')]
    allow_gids: Option<Vec<u32>>,
    /// Largest frame accepted, in bytes [default: 16M].
    #[arg(long, value_name = "BYTES")]
    max_frame: Option<ByteSize>,
    /// Most connections at once [default: 1024].
    #[arg(long, value_name = "N")]
    max_clients: Option<usize>,
    /// Most objects at once [default: 65536].
    #[arg(long, value_name = "N")]
    max_objects: Option<usize>,
    /// Bytes of values held across all objects, per-entry overhead included [default: 1G].
    #[arg(long, value_name = "BYTES")]
    memory_limit: Option<ByteSize>,
    /// Size of each of a connection's two value rings, 0 for none [default: 64M].
    #[arg(long, value_name = "BYTES")]
    ring_size: Option<ByteSize>,
    /// Pending replies above which a client is not read until it drains [default: 8M].
    #[arg(long, value_name = "BYTES")]
    output_soft_limit: Option<ByteSize>,
    /// Pending replies above which a client is disconnected [default: 64M].
    #[arg(long, value_name = "BYTES")]
    output_hard_limit: Option<ByteSize>,
    /// Most requests one connection may have blocked at once [default: 1024].
    #[arg(long, value_name = "N")]
    max_blocked: Option<usize>,
    /// Also listen on TCP at this endpoint (repeatable), e.g. tcp://0.0.0.0:5000. Off by
    /// default; requires --authkey-file. Peers prove the key before any request is read.
    /// tls://HOST:PORT listens with TLS (--tls-cert, --tls-key), the authkey still required.
    #[arg(long = "listen", value_name = "tcp://HOST:PORT")]
    listen: Option<Vec<String>>,
    /// Certificate chain (PEM, leaf first) for tls:// endpoints.
    #[arg(long, value_name = "FILE")]
    tls_cert: Option<PathBuf>,
    /// Private key (PEM, mode 0600) for tls:// endpoints.
    #[arg(long, value_name = "FILE")]
    tls_key: Option<PathBuf>,
    /// File holding the authkey TCP peers must prove (mode 0600; one trailing newline is
    /// ignored). Never on the command line.
    #[arg(long, value_name = "FILE")]
    authkey_file: Option<PathBuf>,
    /// Accept TCP peers only from these address ranges (repeat or comma-separate), e.g.
    /// 10.0.0.0/24. Default: any address (the authkey is still required).
    #[arg(long = "allow-addr", value_name = "CIDR", value_delimiter = ',')]
    allow_addrs: Option<Vec<xproc_broker::config::Cidr>>,
    /// Poll for more work for up to this many microseconds before sleeping (adaptive: only
    /// while requests keep coming sooner than that; at most 1000) [default: 0, off]. Saves the
    /// cost of waking a sleeping CPU per request (tens of µs on a VM whose idle vCPUs halt),
    /// at the price of CPU time while clients are busy. docs/BENCHMARKS.md has the figures.
    #[arg(long, value_name = "MICROS")]
    busy_poll: Option<u64>,
    /// Log level or filter (error, warn, info, debug, trace) [default: info]. RUST_LOG wins.
    #[arg(long, value_name = "LEVEL")]
    log_level: Option<String>,
}

impl Args {
    /// The flags as a settings layer (what was not given stays `None`).
    fn settings(self) -> (Option<PathBuf>, Settings) {
        let flags = Settings {
            socket: self.socket,
            group: self.group.map(GroupName),
            allow_uids: self.allow_uids,
            allow_gids: self.allow_gids,
            max_frame: self.max_frame,
            max_clients: self.max_clients,
            max_objects: self.max_objects,
            memory_limit: self.memory_limit,
            ring_size: self.ring_size,
            output_soft_limit: self.output_soft_limit,
            output_hard_limit: self.output_hard_limit,
            max_blocked: self.max_blocked,
            busy_poll_us: self.busy_poll,
            log_level: self.log_level,
            listen: self.listen,
            authkey_file: self.authkey_file,
            allow_addrs: self.allow_addrs,
            tls_cert: self.tls_cert,
            tls_key: self.tls_key,
            // Keys with rules are tables, written in the config file only.
            keys: None,
        };
        (self.config, flags)
    }
}

fn main() -> ExitCode {
    let (file, flags) = Args::parse().settings();
    let settings = match file {
        Some(path) => match Settings::load(&path) {
            Ok(from_file) => flags.over(from_file),
            Err(e) => {
                eprintln!("xprocd: {e}");
                return ExitCode::from(2);
            }
        },
        None => flags,
    };
    let config = match settings.into_config() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("xprocd: {e}");
            return ExitCode::from(2);
        }
    };
    let filter = match std::env::var("RUST_LOG") {
        Ok(env) if !env.is_empty() => tracing_subscriber::EnvFilter::try_new(env),
        _ => tracing_subscriber::EnvFilter::try_new(&config.log_level),
    };
    let filter = match filter {
        Ok(f) => f,
        Err(e) => {
            eprintln!("xprocd: invalid log level: {e}");
            return ExitCode::from(2);
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    match xproc_broker::run(config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xprocd: {e}");
            ExitCode::FAILURE
        }
    }
}
