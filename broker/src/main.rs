//! `xprocd`: parses flags, sets up logging (to stderr), and runs the broker.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use xproc_broker::config::{
    Config, DEFAULT_MAX_CLIENTS, DEFAULT_MAX_FRAME, DEFAULT_MAX_OBJECTS, DEFAULT_MEMORY_LIMIT,
    DEFAULT_OUTPUT_HARD_LIMIT, DEFAULT_OUTPUT_SOFT_LIMIT,
};

/// The xproc broker: named queues, pipes, dicts, locks and other sync primitives for processes
/// in any language, over a Unix socket.
#[derive(Debug, Parser)]
#[command(name = "xprocd", version)]
struct Args {
    /// Socket path. Default: $XDG_RUNTIME_DIR/xproc.sock, else /tmp/xproc-<uid>/xproc.sock.
    #[arg(long, env = "XPROC_SOCKET", value_name = "PATH")]
    socket: Option<PathBuf>,
    /// Largest frame accepted (bytes; K, M, G suffixes allowed).
    #[arg(long, value_name = "BYTES", value_parser = parse_size, default_value_t = DEFAULT_MAX_FRAME)]
    max_frame: usize,
    /// Most connections at once.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_CLIENTS)]
    max_clients: usize,
    /// Most objects at once.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_OBJECTS)]
    max_objects: usize,
    /// Bytes of values held across all objects (K, M, G suffixes allowed).
    #[arg(long, value_name = "BYTES", value_parser = parse_size, default_value_t = DEFAULT_MEMORY_LIMIT)]
    memory_limit: usize,
    /// Pending replies above which a client is not read until it drains (K, M, G allowed).
    #[arg(long, value_name = "BYTES", value_parser = parse_size, default_value_t = DEFAULT_OUTPUT_SOFT_LIMIT)]
    output_soft_limit: usize,
    /// Pending replies above which a client is disconnected (K, M, G allowed).
    #[arg(long, value_name = "BYTES", value_parser = parse_size, default_value_t = DEFAULT_OUTPUT_HARD_LIMIT)]
    output_hard_limit: usize,
    /// Log level or filter (error, warn, info, debug, trace). RUST_LOG wins if set.
    #[arg(long, value_name = "LEVEL", default_value = "info")]
    log_level: String,
}

/// Parses a byte count such as `1048576`, `512K`, `16M` or `1G` (binary multiples).
fn parse_size(s: &str) -> Result<usize, String> {
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

fn main() -> ExitCode {
    let args = Args::parse();
    let filter = match std::env::var("RUST_LOG") {
        Ok(env) if !env.is_empty() => tracing_subscriber::EnvFilter::try_new(env),
        _ => tracing_subscriber::EnvFilter::try_new(&args.log_level),
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
    let config = Config {
        socket: args.socket,
        max_frame: args.max_frame,
        max_clients: args.max_clients,
        max_objects: args.max_objects,
        memory_limit: args.memory_limit,
        output_soft_limit: args.output_soft_limit,
        output_hard_limit: args.output_hard_limit,
        ..Config::default()
    };
    match xproc_broker::run(config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xprocd: {e}");
            ExitCode::FAILURE
        }
    }
}
