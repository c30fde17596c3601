//! The `telemit` command line: argument types and dispatch.

mod bench;
mod demo;
mod listen;
mod log;
mod map;
mod metrics;
mod output;
mod pipe;
mod send;
mod ws;

use std::time::Duration;

use clap::{Parser, Subcommand};

/// Send readings to Telegraf's socket_listener as Influx line protocol, JSON or Wavefront.
///
/// Readings go out byte-exact for Telegraf's parsers, over Unix stream or datagram sockets, TCP
/// or UDP, through a batching sender that reconnects with backoff and counts every reading it
/// could not deliver.
#[derive(Debug, Parser)]
#[command(name = "telemit", version, about, long_about, propagate_version = true)]
#[command(after_help = "Examples:
  telemit demo                                   # see readings arrive, no Telegraf needed
  telemit send -m job -t name=import -f rows=1200i -f progress=0.75 --to unix:///tmp/telegraf.sock
  tail -f app.metrics | telemit pipe --to udp://127.0.0.1:8094
  telemit listen --on udp://127.0.0.1:8094       # check what a sender sends")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,

    #[command(flatten)]
    pub log: log::LogArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Send one reading given as flags or as one line of line protocol.
    #[command(
        after_help = "Field values are typed as in line protocol: 1.5 or 2 (float), 3i (integer), \
7u (unsigned), true/false (boolean), \"text\" (string; quote it for the shell: -f 'msg=\"hi there\"').

Examples:
  telemit send -m weather -t city=Oslo -f temperature=21.5 -f humidity=63i
  telemit send 'weather,city=Oslo temperature=21.5' --to udp://127.0.0.1:8094"
    )]
    Send(send::SendArgs),
    /// Read readings from standard input, one per line, and send them.
    #[command(
        after_help = "Each bad line is reported on stderr with its line number, column and reason; \
the good lines around it still go out. The run ends with a summary and exits 1 if any reading was \
rejected or dropped; --strict stops at the first bad line.

Examples:
  printf 'cpu,host=a load=0.5\\n' | telemit pipe --format wavefront
  my-program | telemit pipe --input json --input-precision ms --to tcp://127.0.0.1:8094"
    )]
    Pipe(pipe::PipeArgs),
    /// Receive readings like Telegraf's socket_listener and print them, with rates and loss.
    #[command(after_help = "Examples:
  telemit listen --on unix:///tmp/telegraf.sock
  telemit listen --on udp://127.0.0.1:8094 --format json --quiet   # rates and loss only")]
    Listen(listen::ListenArgs),
    /// Map a WebSocket JSON stream to readings and send them.
    #[command(
        after_help = "The mapping file says which messages become which readings; see \
examples/binance-kline.toml and the README.

Example (Binance's public kline stream, spread and its change, to a local Telegraf):
  telemit ws wss://stream.binance.com:9443/ws/bnbusdt@kline_1m \\
      --map examples/binance-kline.toml --to unix:///tmp/telegraf.sock"
    )]
    Ws(ws::WsArgs),
    /// Run a mapping file over recorded JSON messages (a file or stdin) and print the readings.
    Map(map::MapArgs),
    /// Send sample readings to a built-in receiver and show what arrived (no Telegraf needed).
    #[command(after_help = "Examples:
  telemit demo
  telemit demo --format json --to udp://127.0.0.1:8125 --duration 10s")]
    Demo(demo::DemoArgs),
    /// Generate load: sequenced readings at a fixed rate, then a report of rate, drops, latency
    /// and cost.
    #[command(
        after_help = "Each reading carries an unsigned field seq counting from 0, so a \
`telemit listen` on the other end reports readings lost and duplicated per second. The report \
gives the achieved rate, writes and bytes, drops by reason, enqueue-to-write latency \
percentiles, CPU time and peak RSS; --json prints it as one object.

Examples:
  telemit bench --to unix:///tmp/telegraf.sock --rate 10000 --duration 30s
  telemit bench --to udp://127.0.0.1:8094 --rate max --count 1000000 --on-full drop-newest
  telemit listen --on udp://127.0.0.1:8094 --quiet   # in another terminal: loss per second"
    )]
    Bench(bench::BenchArgs),
}

/// Runs the command; the exit status.
pub fn run(cli: Cli) -> i32 {
    let (prefix, quiet) = cli.command.log_prefix();
    log::init(&cli.log, prefix, quiet);
    let result = match cli.command {
        Command::Send(args) => send::run(args),
        Command::Pipe(args) => pipe::run(args),
        Command::Listen(args) => listen::run(args),
        Command::Demo(args) => demo::run(args),
        Command::Ws(args) => ws::run(args),
        Command::Map(args) => map::run(args),
        Command::Bench(args) => bench::run(args),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            log::usage_error(&error);
            2
        }
    }
}

impl Command {
    /// How the command's messages start, and whether its `-q` asks for errors only (`listen
    /// -q` hides readings, not messages).
    fn log_prefix(&self) -> (&'static str, bool) {
        match self {
            Command::Send(args) => ("telemit", args.output.quiet),
            Command::Pipe(args) => ("telemit", args.output.quiet),
            Command::Bench(args) => ("telemit", args.output.quiet),
            Command::Ws(args) => ("telemit ws", args.output.quiet),
            Command::Listen(_) => ("telemit listen", false),
            Command::Map(_) => ("telemit map", false),
            Command::Demo(_) => ("telemit demo", false),
        }
    }
}

/// Parses `250ms`, `5s`, `2m`, `1h`, or a bare number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration: expected e.g. 250ms, 5s, 2m"))?;
    let seconds = match unit {
        "" | "s" => value,
        "ms" => value / 1e3,
        "us" | "µs" => value / 1e6,
        "m" => value * 60.0,
        "h" => value * 3600.0,
        other => {
            return Err(format!(
                "unknown unit {other:?} in {text:?}: use ms, s, m or h"
            ));
        }
    };
    Duration::try_from_secs_f64(seconds).map_err(|e| format!("{text:?}: {e}"))
}

/// Parses a size in bytes: `1048576`, `512KiB`, `64MiB`, `2GiB`.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number.parse().map_err(|_| {
        format!("{text:?} is not a size: expected e.g. 1048576, 512KiB, 64MiB, 2GiB")
    })?;
    let unit = match unit {
        "" | "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        other => {
            return Err(format!(
                "unknown unit {other:?} in {text:?}: use KiB, MiB or GiB"
            ));
        }
    };
    number
        .checked_mul(unit)
        .ok_or_else(|| format!("{text:?} is too large"))
}

/// Parses `key=value` for `--tag`.
pub fn parse_key_value(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.to_owned(), value.to_owned())),
        _ => Err(format!("{text:?} is not key=value")),
    }
}

/// Shows at most 120 bytes of an input line in a message, quoted.
pub fn excerpt(line: &str) -> String {
    telemit::text::quoted_excerpt(line, 120)
}

/// SIGINT and SIGTERM, seen by a flag.
pub fn termination_flag() -> std::io::Result<std::sync::Arc<std::sync::atomic::AtomicBool>> {
    let flag = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, flag.clone())?;
    }
    Ok(flag)
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn argument_definitions_are_consistent() {
        super::Cli::command().debug_assert();
    }
}
