//! The command line, as clap parses it. `--help` text lives here; docs/CLI.md says the same
//! at more length.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};

use crate::json::CONVENTIONS;

const AFTER_HELP: &str = "\
EXIT STATUS:
  0  success
  1  the operation failed: empty queue, timeout, missing key or object, closed pipe,
     or any other error the broker reported
  2  bad usage or an unreadable JSON value
  3  no broker at the socket path, or the connection to it was lost";

/// Use and inspect a running xprocd broker: queues, dicts, pipes, and who is connected.
#[derive(Debug, Parser)]
#[command(name = "xproc", version, after_long_help = format!("{CONVENTIONS}\n\n{AFTER_HELP}"))]
pub struct Cli {
    /// The broker's socket. Default: $XPROC_SOCKET, else $XDG_RUNTIME_DIR/xproc.sock, else
    /// /tmp/xproc-<uid>/xproc.sock.
    #[arg(long, global = true, value_name = "PATH", env = "XPROC_SOCKET")]
    pub socket: Option<PathBuf>,

    /// For a tls:// endpoint: a PEM file of the CA certificates the broker's certificate must
    /// chain to (there is no implicit trust store). The key for tcp:// and tls:// comes from
    /// the file $XPROC_AUTHKEY_FILE names, never from the command line.
    #[arg(long, global = true, value_name = "FILE", env = "XPROC_TLS_CA")]
    pub tls_ca: Option<PathBuf>,

    /// For a tls:// endpoint: the name the broker's certificate must carry. Default: the
    /// endpoint's host.
    #[arg(
        long,
        global = true,
        value_name = "NAME",
        env = "XPROC_TLS_SERVER_NAME"
    )]
    pub tls_server_name: Option<String>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check that the broker answers; print the round-trip time.
    ///
    /// With --wait, keep trying until a broker answers or the time is up: the way for a
    /// script to wait for a broker that is starting (a socket file alone proves nothing: a
    /// killed broker leaves its file behind).
    Ping {
        /// Seconds to keep trying (every 50 ms) before giving up with status 3. Default: try
        /// once.
        #[arg(long, value_name = "SECS", value_parser = parse_secs)]
        wait: Option<Duration>,
    },
    /// List every object: name, type, length, waiters.
    ///
    /// LENGTH counts queue items, dict entries, or messages in both pipe inboxes.
    Ls,
    /// Print everything the broker reports about one object.
    Stat {
        /// The object's name.
        name: String,
    },
    /// Put a JSON value on a queue.
    ///
    /// NAME keeps its kind if it exists (queue or joinable queue); if it is free, a new
    /// unbounded queue is created.
    Put {
        /// The queue's name.
        name: String,
        /// The value, as JSON (see VALUES in --help).
        #[arg(
            allow_hyphen_values = true,
            required_unless_present = "stdin",
            conflicts_with = "stdin"
        )]
        value: Option<String>,
        /// Put one JSON value per line of standard input instead (blank lines are skipped),
        /// streamed without a round trip each; exits once every one is in the queue. A line
        /// that is not JSON stops it with status 1, naming the line; the lines before it are
        /// put.
        #[arg(long)]
        stdin: bool,
        /// Seconds to wait for room in a full queue; 0 = do not wait. Default: wait as long as
        /// it takes.
        #[arg(long, value_name = "SECS", value_parser = parse_secs)]
        timeout: Option<Duration>,
    },
    /// Take the oldest value from a queue and print it as JSON.
    ///
    /// Exits with status 1 and a message on stderr when the queue is empty (--timeout 0) or
    /// stays empty for the timeout.
    Get {
        /// The queue's name.
        name: String,
        /// Seconds to wait for an item; 0 = do not wait. Default: wait as long as it takes.
        /// With --count, the wait for each further batch.
        #[arg(long, value_name = "SECS", value_parser = parse_secs)]
        timeout: Option<Duration>,
        /// Take N values (fetched in batches), printing one JSON value per line as they come;
        /// exits with status 1 if the queue stays empty for the timeout before N came.
        #[arg(long, value_name = "N", default_value_t = 1)]
        count: u64,
    },
    /// Delete an object.
    ///
    /// Its contents are lost; calls blocked on it fail with NotFound. Exits with status 1 if
    /// there was no such object.
    Delete {
        /// The object's name.
        name: String,
    },
    /// List connected clients.
    ///
    /// Columns: connection id, pid, uid, client name, language, what each holds (locks,
    /// permits, pipe ends) and what it is blocked on.
    Clients,
    /// Read and write a dict.
    ///
    /// KEY arguments are JSON when they parse as JSON, else a plain string: `host` is the
    /// string "host", `42` the integer 42, `'"42"'` the string "42". Reading commands fail
    /// (status 1) on a dict that does not exist rather than create it.
    #[command(subcommand)]
    Dict(DictCommand),
    /// Send a JSON value on a pipe from END ("a" or "b").
    ///
    /// The end is held only while the command runs; releasing it at exit finishes the pipe
    /// (the receiver gets the message, then end of file).
    Send {
        /// The pipe's name.
        pipe: String,
        /// The end to send from.
        #[arg(value_parser = ["a", "b"])]
        end: String,
        /// The message, as JSON.
        #[arg(allow_hyphen_values = true)]
        value: String,
        /// Seconds to wait for room; 0 = do not wait. Default: as long as it takes.
        #[arg(long, value_name = "SECS", value_parser = parse_secs)]
        timeout: Option<Duration>,
    },
    /// Receive one message on a pipe at END and print it as JSON.
    ///
    /// The end is held only while the command runs; releasing it at exit finishes the pipe.
    Recv {
        /// The pipe's name.
        pipe: String,
        /// The end to receive at.
        #[arg(value_parser = ["a", "b"])]
        end: String,
        /// Seconds to wait for a message; 0 = do not wait. Default: as long as it takes.
        #[arg(long, value_name = "SECS", value_parser = parse_secs)]
        timeout: Option<Duration>,
    },
}

/// `xproc dict` subcommands.
#[derive(Debug, Subcommand)]
pub enum DictCommand {
    /// Print the value under KEY as JSON.
    Get {
        /// The dict's name.
        name: String,
        /// The key (JSON, or a bare word for a string).
        #[arg(allow_hyphen_values = true)]
        key: String,
    },
    /// Set KEY to a JSON value (the dict is created if missing).
    Set {
        /// The dict's name.
        name: String,
        /// The key (JSON, or a bare word for a string).
        #[arg(allow_hyphen_values = true)]
        key: String,
        /// The value, as JSON.
        #[arg(allow_hyphen_values = true)]
        value: String,
    },
    /// Remove KEY.
    Del {
        /// The dict's name.
        name: String,
        /// The key (JSON, or a bare word for a string).
        #[arg(allow_hyphen_values = true)]
        key: String,
    },
    /// Print every key, one JSON value per line, in insertion order.
    Keys {
        /// The dict's name.
        name: String,
    },
    /// Print every entry as a JSON [key, value] pair, one per line, in insertion order.
    Items {
        /// The dict's name.
        name: String,
    },
}

/// Parses a non-negative number of seconds (fractions allowed).
fn parse_secs(s: &str) -> Result<Duration, String> {
    let secs: f64 = s
        .parse()
        .map_err(|_| format!("{s:?} is not a number of seconds"))?;
    Duration::try_from_secs_f64(secs)
        .map_err(|_| format!("{s:?} is not a usable number of seconds"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn negative_numbers_are_values_not_flags() {
        let cli = Cli::try_parse_from(["xproc", "put", "q", "-7", "--timeout", "1"]).unwrap();
        assert!(
            matches!(cli.command, Command::Put { ref value, .. } if value.as_deref() == Some("-7"))
        );
        let cli = Cli::try_parse_from(["xproc", "dict", "get", "d", "-1"]).unwrap();
        assert!(
            matches!(cli.command, Command::Dict(DictCommand::Get { ref key, .. }) if key == "-1")
        );
    }

    #[test]
    fn timeouts_parse() {
        assert_eq!(parse_secs("0").unwrap(), Duration::ZERO);
        assert_eq!(parse_secs("1.5").unwrap(), Duration::from_millis(1500));
        assert!(parse_secs("-1").is_err());
        assert!(parse_secs("soon").is_err());
    }
}
