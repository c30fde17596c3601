//! The `telemit` command line: argument types and dispatch.

mod bench;
mod config;
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

/// Send readings to Telegraf's socket_listener as Influx line protocol, JSON or Wavefront, or
/// to the InfluxDB write API over HTTP.
///
/// Readings go out byte-exact for Telegraf's parsers, over Unix stream or datagram sockets, TCP,
/// TLS, UDP or HTTP(S), through a batching sender that reconnects with backoff and counts every
/// reading it could not deliver.
#[derive(Debug, Parser)]
#[command(name = "telemit", version, about, long_about, propagate_version = true)]
#[command(after_help = "Examples:
  telemit demo                                   # see readings arrive, no Telegraf needed
  telemit send -m job -t name=import -f rows=1200i -f progress=0.75 --to unix:///tmp/telegraf.sock
  tail -f app.metrics | telemit pipe --to udp://127.0.0.1:8094
  telemit listen --on udp://127.0.0.1:8094       # check what a sender sends")]
pub struct Cli {
    /// Read options from this TOML file: one key per long flag, `-` written `_`
    /// (flush_timeout = "5s"). Flags and TELEMIT_* environment variables override it
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<std::path::PathBuf>,

    #[command(subcommand)]
    pub command: Command,

    #[command(flatten)]
    pub log: log::LogArgs,
}

pub use config::parse;

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
    /// Check a configuration file and show the settings it resolves to.
    #[command(subcommand)]
    Config(config::ConfigCommand),
}

impl Command {
    /// The checks that take more than one option at a time (a `--tag` against `--format`) or
    /// read the files the options name (the mapping, TLS certificates and keys), which
    /// `config check` runs after the options' own parsers.
    pub fn check_settings(&self) -> Result<(), String> {
        let map = match self {
            Command::Ws(args) => Some(&args.map),
            Command::Map(args) => Some(&args.map),
            _ => None,
        };
        // A file that is not here may be on the machine that runs the command: said, not fatal.
        let absent = |key: &str, path: &std::path::Path| {
            let absent = !path.exists();
            if absent {
                tracing::warn!(
                    "{key} = {:?} is not on this machine; not checked",
                    path.display()
                );
            }
            absent
        };
        if let Some(path) = map.filter(|path| !absent("map", path)) {
            telemit::mapping::Mapping::from_file(path)
                .map_err(|e| format!("map {}: {e}", path.display()))?;
        }
        let output = match self {
            Command::Send(args) => &args.output,
            Command::Pipe(args) => &args.output,
            Command::Ws(args) => &args.output,
            Command::Bench(args) => &args.output,
            _ => return Ok(()),
        };
        for (key, file) in [
            ("tls_ca", &output.tls_ca),
            ("tls_cert", &output.tls_cert),
            ("tls_key", &output.tls_key),
        ] {
            if let Some(path) = file.as_ref().filter(|path| !absent(key, path)) {
                std::fs::File::open(path)
                    .map_err(|e| format!("{key} = {:?}: cannot read it: {e}", path.display()))?;
            }
        }
        output.default_tags().map(|_| ())
    }
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
        Command::Config(command) => config::run(command),
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
            Command::Config(_) => ("telemit config", false),
        }
    }
}

/// Parses a duration as Telegraf and Go write them (`250ms`, `5s`, `1m30s`, `1h`; also `2 min`
/// and the other units `humantime` reads), or a bare number of seconds (`5`, `0.5`), as
/// Telegraf reads a number given for a duration.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let trimmed = text.trim();
    if !trimmed.is_empty() && trimmed.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        let seconds: f64 = trimmed
            .parse()
            .map_err(|_| format!("{text:?} is not a duration: expected e.g. 250ms, 5s, 1m30s"))?;
        return Duration::try_from_secs_f64(seconds).map_err(|e| format!("{text:?}: {e}"));
    }
    humantime::parse_duration(trimmed).map_err(|e| {
        format!("{text:?} is not a duration ({e}): expected e.g. 250ms, 5s, 1m30s, 1h")
    })
}

/// Parses a size in bytes as Telegraf writes sizes: a bare number of bytes, or a number with a
/// unit, decimal (`500MB` = 500 000 000, `kB`, `GB`) or binary (`64KiB` = 65 536, `MiB`,
/// `GiB`), the unit's case ignored.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let digits = text.trim();
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        // A plain count of bytes; the size parser reads it as a float and loses the reason.
        return digits
            .parse()
            .map_err(|_| format!("{text:?} is too large: at most {} bytes", u64::MAX - 1));
    }
    let size: bytesize::ByteSize = digits.parse().map_err(|e| {
        format!("{text:?} is not a size ({e}): expected e.g. 65536, 64KiB, 500MB, 1GiB")
    })?;
    if size.as_u64() == u64::MAX {
        return Err(format!("{text:?} is too large"));
    }
    Ok(size.as_u64())
}

/// [`parse_size`] for a size held in memory (a buffer or line length).
pub fn parse_bytes(text: &str) -> Result<usize, String> {
    let size = parse_size(text)?;
    usize::try_from(size).map_err(|_| format!("{text:?} is too large"))
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

/// SIGINT and SIGTERM, seen by a flag: the first asks for a clean stop (the queue is flushed
/// within `--flush-timeout`, then the summary); a second one ends the process at once with
/// status 130, as shells expect of a second Ctrl-C, whatever the flush timeout.
pub fn termination_flag() -> std::io::Result<std::sync::Arc<std::sync::atomic::AtomicBool>> {
    let flag = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        // Registered first, so it sees the flag as the previous signal left it.
        signal_hook::flag::register_conditional_shutdown(signal, 130, flag.clone())?;
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

    #[test]
    fn sizes_as_telegraf_writes_them() {
        for (text, bytes) in [
            ("65536", 65_536),
            ("64KiB", 65_536),
            ("500MB", 500_000_000),
            ("500mb", 500_000_000),
            ("1kB", 1_000),
            ("1GiB", 1 << 30),
            ("1.5KiB", 1_536),
            ("0", 0),
        ] {
            assert_eq!(super::parse_size(text), Ok(bytes), "{text}");
        }
        for bad in ["", "12XB", "MB", "-1", "64 KiBs"] {
            let error = super::parse_size(bad).unwrap_err();
            assert!(
                error.starts_with(&format!("{bad:?} is not a size")),
                "{error}"
            );
        }
        assert_eq!(super::parse_bytes("2MiB"), Ok(2 << 20));
        let error = super::parse_size("99999999999999999999").unwrap_err();
        assert!(error.contains("is too large"), "{error}");
    }

    #[test]
    fn durations_as_telegraf_writes_them() {
        use std::time::Duration;
        for (text, duration) in [
            ("250ms", Duration::from_millis(250)),
            ("5s", Duration::from_secs(5)),
            ("1m30s", Duration::from_secs(90)),
            ("1.5s", Duration::from_millis(1500)),
            ("1h", Duration::from_secs(3600)),
            ("100us", Duration::from_micros(100)),
            ("90", Duration::from_secs(90)),
            ("0.5", Duration::from_millis(500)),
        ] {
            assert_eq!(super::parse_duration(text), Ok(duration), "{text}");
        }
        for bad in ["", "5x", "s", "-1s", "1..5"] {
            let error = super::parse_duration(bad).unwrap_err();
            assert!(
                error.starts_with(&format!("{bad:?} is not a duration")),
                "{error}"
            );
        }
    }
}
