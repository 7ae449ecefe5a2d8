//! `xproc-bench`: the Rust half of the benchmark harness. Each subcommand runs one scenario
//! against a server that `run.py` started, and prints one JSON line ([`measure::Outcome`]).
//! It never asserts on speed; it measures.
//!
//! # Layout
//!
//! - [`measure`]: the bounded timing loop, percentiles, the JSON result line.
//! - [`echo`]: the raw Unix-socket echo server and client (the floor).
//! - [`resp`]: a minimal RESP client for Redis over its Unix socket.
//! - [`xp`]: the xproc scenarios (queues, dicts, pipes), through the `xproc` client crate.
//! - [`stream`]: streaming (`put_async` → `get_many`), many connections, a ping's latency
//!   while a producer streams, and filling a queue for the memory measurement.
//! - [`aio`]: `get_any` over 8 queues, tokio tasks, the sync pipelined rate (issue 15).
//! - [`child`]: helper processes for the two-process scenarios.
//! - [`error`]: the one error enum.
//!
//! The echo floor and Redis speak over Unix sockets: those subcommands exist on Unix only, and
//! the xproc ones everywhere (on Windows `--socket` names the broker's pipe).

mod aio;
mod child;
#[cfg(unix)]
mod echo;
mod error;
mod measure;
#[cfg(unix)]
mod resp;
mod stream;
mod xp;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::error::BenchError;
use crate::measure::{Bounds, Outcome};

/// Benchmark scenarios for xproc and the alternatives; each prints one JSON line.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

/// Bounds and message size shared by every measuring subcommand.
#[derive(Debug, Clone, Args)]
struct RunArgs {
    /// Unix socket of the server under test.
    #[arg(long)]
    socket: PathBuf,
    /// Upper bound on timed operations.
    #[arg(long, default_value_t = 100_000)]
    iters: u64,
    /// Wall-clock cap on the timed part, seconds.
    #[arg(long, default_value_t = 5.0)]
    secs: f64,
    /// Untimed calls before the clock starts.
    #[arg(long, default_value_t = 2_000)]
    warmup: u64,
    /// Payload bytes per value (Redis `-d`).
    #[arg(long, default_value_t = 64)]
    size: usize,
}

impl RunArgs {
    fn bounds(&self) -> Bounds {
        Bounds {
            iters: self.iters,
            secs: self.secs,
            warmup: self.warmup,
        }
    }
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Serve the raw echo protocol on --socket until killed.
    #[cfg(unix)]
    EchoServe {
        #[arg(long)]
        socket: PathBuf,
    },
    /// Raw echo round trips (one op = one round trip).
    #[cfg(unix)]
    Echo(RunArgs),
    /// Redis LPUSH/RPOP alternating, own RESP client (one op = one command).
    #[cfg(unix)]
    RedisList(RunArgs),
    /// Redis HSET/HGET alternating over 1000 fields, own RESP client (one op = one command).
    #[cfg(unix)]
    RedisHash(RunArgs),
    /// xproc queue put then get, unpipelined (one op = one put or one get).
    XprocPutget(RunArgs),
    /// xproc pipelined puts with put_many, then drained (one op = one put).
    XprocPutMany {
        #[command(flatten)]
        run: RunArgs,
        /// Puts per put_many call.
        #[arg(long, default_value_t = 1000)]
        batch: usize,
    },
    /// One producer process puts, one consumer process gets (one op = one item received).
    XprocProdcons(RunArgs),
    /// xproc-prodcons with put_async and a get_buf (zero-copy) consumer (one op = one item
    /// received).
    XprocProdconsStream(RunArgs),
    /// xproc dict set then get of the same key, over 1000 keys (one op = one set or one get).
    XprocDict(RunArgs),
    /// xproc pipe ping-pong between two processes (one op = one round trip).
    XprocPipe(RunArgs),
    /// memcpy bandwidth between two 256 MiB buffers (one op = one copy of --size bytes,
    /// cycling through the buffers): the DRAM yardstick for large values.
    Memcpy(RunArgs),
    /// A put_async producer process streams to a get_many consumer process (one op = one
    /// item received).
    XprocStream(RunArgs),
    /// Many connections at once, each unpipelined put then get (one op = one put or get,
    /// aggregated).
    XprocConns {
        #[command(flatten)]
        run: RunArgs,
        /// Connections (a thread each).
        #[arg(long, default_value_t = 50)]
        conns: usize,
    },
    /// Many connections driven by one poll(2) loop (as redis-benchmark drives its own), each
    /// unpipelined put then get (one op = one put or get, aggregated).
    XprocEvconns {
        #[command(flatten)]
        run: RunArgs,
        /// Connections.
        #[arg(long, default_value_t = 50)]
        conns: usize,
    },
    /// Ping latency idle, then while a producer streams (two JSON lines: idle, streaming).
    XprocPingStream(RunArgs),
    /// Fill a queue with --count values and leave them (memory per item; prints the count).
    FillQueue {
        #[arg(long)]
        socket: PathBuf,
        #[arg(long)]
        name: String,
        #[arg(long)]
        count: u64,
        #[arg(long, default_value_t = 64)]
        size: usize,
    },
    /// Fill a Redis list with --count values by pipelined RPUSH and leave them.
    RedisFill {
        #[arg(long)]
        socket: PathBuf,
        #[arg(long)]
        name: String,
        #[arg(long)]
        count: u64,
        #[arg(long, default_value_t = 64)]
        size: usize,
    },
    /// Internal: the get_many consumer of xproc-stream and xproc-ping-stream.
    #[command(hide = true)]
    StreamConsumer {
        #[arg(long)]
        socket: PathBuf,
        #[arg(long)]
        name: String,
    },
    /// Internal: the put_async producer of xproc-ping-stream (stops when stdin closes).
    #[command(hide = true)]
    StreamProducer {
        #[arg(long)]
        socket: PathBuf,
        #[arg(long)]
        name: String,
    },
    /// put then get on one queue (baseline for get-any8).
    XprocGetOne(RunArgs),
    /// put to 1 of 8 queues, then get_any over the 8.
    XprocGetAny8(RunArgs),
    /// blocking client, put_many 1000 + get_many 1000.
    XprocSyncPipelined(RunArgs),
    /// blocking client, put_many 1000 + 1000 single gets pipelined (event-loop API).
    XprocSyncPipelinedSingle(RunArgs),
    /// 1000 tokio tasks on one connection doing put+get.
    XprocTokio(RunArgs),
    /// Internal: the consumer process of xproc-prodcons-stream.
    #[command(hide = true)]
    ConsumePeerBuf {
        #[arg(long)]
        socket: PathBuf,
        #[arg(long)]
        name: String,
    },
    /// Internal: the consumer process of xproc-prodcons.
    #[command(hide = true)]
    ConsumePeer {
        #[arg(long)]
        socket: PathBuf,
        #[arg(long)]
        name: String,
    },
    /// Internal: the echoing end of xproc-pipe.
    #[command(hide = true)]
    PipePeer {
        #[arg(long)]
        socket: PathBuf,
        #[arg(long)]
        name: String,
    },
    /// A one-way pipe: a producer process sends 64 B messages, this process receives (one op
    /// = one message received).
    XprocPipeStream(RunArgs),
    /// Internal: the sending end of xproc-pipe-stream.
    #[command(hide = true)]
    PipeProducer {
        #[arg(long)]
        socket: PathBuf,
        #[arg(long)]
        name: String,
    },
}

fn run(cmd: Cmd) -> Result<Option<Outcome>, BenchError> {
    let outcome = match cmd {
        #[cfg(unix)]
        Cmd::EchoServe { socket } => {
            echo::serve(&socket)?;
            return Ok(None);
        }
        #[cfg(unix)]
        Cmd::Echo(a) => echo::client(&a.socket, a.size, &a.bounds())?,
        #[cfg(unix)]
        Cmd::RedisList(a) => resp::list(&a.socket, a.size, &a.bounds())?,
        #[cfg(unix)]
        Cmd::RedisHash(a) => resp::hash(&a.socket, a.size, &a.bounds())?,
        Cmd::XprocPutget(a) => xp::put_get(&a.socket, a.size, &a.bounds())?,
        Cmd::XprocPutMany { run, batch } => {
            xp::put_many(&run.socket, run.size, batch, &run.bounds())?
        }
        Cmd::XprocProdcons(a) => xp::producer_consumer(&a.socket, a.size, &a.bounds())?,
        Cmd::XprocProdconsStream(a) => {
            xp::producer_consumer_stream(&a.socket, a.size, &a.bounds())?
        }
        Cmd::XprocDict(a) => xp::dict(&a.socket, a.size, &a.bounds())?,
        Cmd::Memcpy(a) => measure::memcpy(a.size, &a.bounds())?,
        Cmd::XprocPipe(a) => xp::pipe_ping_pong(&a.socket, a.size, &a.bounds())?,
        Cmd::XprocStream(a) => stream::stream(&a.socket, a.size, &a.bounds())?,
        Cmd::XprocConns { run, conns } => {
            stream::many_connections(&run.socket, run.size, conns, &run.bounds())?
        }
        Cmd::XprocEvconns { run, conns } => {
            stream::many_connections_evloop(&run.socket, run.size, conns, &run.bounds())?
        }
        Cmd::XprocPingStream(a) => stream::ping_while_streaming(&a.socket, &a.bounds())?,
        Cmd::FillQueue {
            socket,
            name,
            count,
            size,
        } => {
            stream::fill_queue(&socket, &name, count, size)?;
            return Ok(None);
        }
        Cmd::RedisFill {
            socket,
            name,
            count,
            size,
        } => {
            resp::fill_list(&socket, &name, count, size)?;
            return Ok(None);
        }
        Cmd::StreamConsumer { socket, name } => {
            stream::stream_consumer(&socket, &name)?;
            return Ok(None);
        }
        Cmd::StreamProducer { socket, name } => {
            stream::stream_producer(&socket, &name)?;
            return Ok(None);
        }
        Cmd::XprocGetOne(a) => aio::get_one(&a.socket, a.size, &a.bounds())?,
        Cmd::XprocGetAny8(a) => aio::get_any8(&a.socket, a.size, &a.bounds())?,
        Cmd::XprocSyncPipelined(a) => aio::sync_pipelined(&a.socket, a.size, &a.bounds())?,
        Cmd::XprocSyncPipelinedSingle(a) => {
            aio::sync_pipelined_single(&a.socket, a.size, &a.bounds())?
        }
        Cmd::XprocTokio(a) => aio::tokio_tasks(&a.socket, a.size, &a.bounds())?,
        Cmd::ConsumePeer { socket, name } => {
            xp::consume_peer(&socket, &name)?;
            return Ok(None);
        }
        Cmd::ConsumePeerBuf { socket, name } => {
            xp::consume_peer_buf(&socket, &name)?;
            return Ok(None);
        }
        Cmd::PipePeer { socket, name } => {
            xp::pipe_peer(&socket, &name)?;
            return Ok(None);
        }
        Cmd::XprocPipeStream(a) => xp::pipe_stream(&a.socket, &a.bounds())?,
        Cmd::PipeProducer { socket, name } => {
            xp::pipe_producer(&socket, &name)?;
            return Ok(None);
        }
    };
    Ok(Some(outcome))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli.cmd).and_then(|o| o.map_or(Ok(()), |o| o.print())) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xproc-bench: {e}");
            ExitCode::FAILURE
        }
    }
}
