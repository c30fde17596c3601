//! What the command tells its user on stderr, through `tracing`: incidents, warnings, progress,
//! rejected input and the final summary, each an event with a level.
//!
//! - Levels: `info` by default, `error` only with the command's `-q`, `debug` with `-v` and
//!   `trace` with `-vv`. `RUST_LOG`, when set, replaces all of that with its directives
//!   (`RUST_LOG=debug`, `RUST_LOG=warn,telemit::sender=info`).
//! - `--log-format text` (the default) prints `telemit: message`, `telemit ws: message`, …, one
//!   line an event, as the command always has; `--log-format json` prints one JSON object a
//!   line (`timestamp`, `level`, `target`, `message` and the event's fields) for log shippers.
//! - Writing to stderr never panics: a closed or full stderr loses the message, never the run or
//!   its exit status.
//!
//! Targets say where an incident comes from, for `RUST_LOG`: `telemit::sender` (the
//! connection), `telemit::ws` (the stream), `telemit::input` (a rejected line or message),
//! `telemit::summary` (the last word of a run), `telemit::usage` (a usage error, as JSON), and
//! the command's module for the rest.

use std::fmt;
use std::io::Write;
use std::sync::Mutex;

use clap::{Args, ValueEnum};
use telemit::sender::Event;
use tracing::{Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::{EnvFilter, Layer};

/// Options every command takes, before or after its name.
#[derive(Debug, Clone, Args)]
pub struct LogArgs {
    /// More log detail on stderr: -v debug, -vv trace (RUST_LOG, when set, decides instead)
    #[arg(short, long, action = clap::ArgAction::Count, global = true, help_heading = "Logging")]
    pub verbose: u8,

    /// How stderr messages are written: text lines for people, or one JSON object a line for
    /// log shippers (timestamp, level, target, message, fields)
    #[arg(
        long,
        value_enum,
        default_value = "text",
        global = true,
        value_name = "FORMAT",
        env = "TELEMIT_LOG_FORMAT",
        help_heading = "Logging"
    )]
    pub log_format: LogFormat,
}

/// `--log-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// `telemit: message`, one line an event
    Text,
    /// One JSON object a line: {"timestamp","level","target","message",…}
    Json,
}

/// Emits an event at a level chosen at run time (`tracing`'s macros take a constant one).
macro_rules! event_at {
    ($level:expr, $($rest:tt)+) => {
        match $level {
            ::tracing::Level::ERROR => ::tracing::error!($($rest)+),
            ::tracing::Level::WARN => ::tracing::warn!($($rest)+),
            ::tracing::Level::INFO => ::tracing::info!($($rest)+),
            ::tracing::Level::DEBUG => ::tracing::debug!($($rest)+),
            _ => ::tracing::trace!($($rest)+),
        }
    };
}
pub(crate) use event_at;

/// The level of a run's summary: shown even with `-q` when something was lost or rejected.
pub fn summary_level(failed: bool) -> Level {
    if failed { Level::ERROR } else { Level::INFO }
}

/// `1 line`, `2 lines`: counts in summaries.
pub fn count(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The level the flags ask for: `info`, `error` with `quiet`, `debug` and `trace` with `-v`.
fn level(quiet: bool, verbose: u8) -> tracing::level_filters::LevelFilter {
    use tracing::level_filters::LevelFilter;
    match (verbose, quiet) {
        (0, true) => LevelFilter::ERROR,
        (0, false) => LevelFilter::INFO,
        (1, _) => LevelFilter::DEBUG,
        _ => LevelFilter::TRACE,
    }
}

/// Installs the logger for a command whose messages start with `prefix` (`telemit`,
/// `telemit ws`, …). A `RUST_LOG` that does not parse is reported, and the flags' level used.
pub fn init(args: &LogArgs, prefix: &'static str, quiet: bool) {
    let _ = FORMAT.set(args.log_format);
    let default = level(quiet, args.verbose);
    let env = std::env::var(EnvFilter::DEFAULT_ENV).unwrap_or_default();
    let builder = EnvFilter::builder().with_default_directive(default.into());
    let (filter, bad_env) = match builder.parse(&env) {
        Ok(filter) => (filter, None),
        Err(error) => (builder.parse("").unwrap_or_default(), Some(error)),
    };
    let layer = match args.log_format {
        LogFormat::Text => tracing_subscriber::fmt::layer()
            .event_format(Plain { prefix })
            .with_writer(std::io::stderr)
            .log_internal_errors(false)
            .boxed(),
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .with_writer(std::io::stderr)
            .log_internal_errors(false)
            .boxed(),
    };
    let subscriber = tracing_subscriber::registry().with(layer.with_filter(filter));
    // Fails only when a logger is already installed (a second call): keep that one.
    let _ = tracing::subscriber::set_global_default(subscriber);
    if let Some(error) = bad_env {
        tracing::warn!("RUST_LOG={env:?} is not a filter ({error}); using the level of -v/-q");
    }
}

/// The text format: `prefix: message`, and `prefix: debug: message` below `info`. Fields
/// other than the message are left to the JSON format; every message says what it means.
struct Plain {
    prefix: &'static str,
}

impl<S, N> FormatEvent<S, N> for Plain
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> fmt::Result {
        write!(writer, "{}: ", self.prefix)?;
        let level = *event.metadata().level();
        if level > Level::INFO {
            write!(writer, "{}: ", level.as_str().to_ascii_lowercase())?;
        }
        let mut message = Message {
            writer: &mut writer,
            result: Ok(()),
        };
        event.record(&mut message);
        message.result?;
        writeln!(writer)
    }
}

/// Writes the `message` field of an event.
struct Message<'a, 'w> {
    writer: &'a mut Writer<'w>,
    result: fmt::Result,
}

impl tracing::field::Visit for Message<'_, '_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            // A format_args! message's Debug is its text, unquoted.
            self.result = write!(self.writer, "{value:?}");
        }
    }

    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        if field.name() == "message" {
            self.result = self.writer.write_str(value);
        }
    }
}

/// Writes `text` to stderr as it is (a live progress line, a report): never panics, and a
/// closed or full stderr only loses the text.
pub fn stderr_text(text: &str) {
    let mut stderr = std::io::stderr().lock();
    let _ = stderr.write_all(text.as_bytes());
    let _ = stderr.flush();
}

/// The `--log-format` in use, for [`usage_error`].
static FORMAT: std::sync::OnceLock<LogFormat> = std::sync::OnceLock::new();

/// A usage error (exit status 2), the command's one answer: `telemit: …` on stderr whatever
/// the filter, or an `error` event with `--log-format json`.
pub fn usage_error(error: &str) {
    match FORMAT.get() {
        Some(LogFormat::Json) => tracing::error!(target: "telemit::usage", "{error}"),
        _ => stderr_text(&format!("telemit: {error}\n")),
    }
}

/// The last connection or spool failure of this run, for the summary: with `-q` the incident
/// itself is not shown, and a summary that says "dropped" must still say why.
static LAST_FAILURE: Mutex<Option<String>> = Mutex::new(None);

/// `"; last delivery failure: …"` when the sender reported one during the run, else nothing.
pub fn last_failure() -> String {
    match &*LAST_FAILURE.lock().unwrap_or_else(|e| e.into_inner()) {
        Some(cause) => format!("; last delivery failure: {cause}"),
        None => String::new(),
    }
}

/// Logs one of the sender's events (each is one incident, reported once) at its level, under
/// target `telemit::sender`, and keeps failures for [`last_failure`].
pub fn sender_event(event: &Event) {
    let (level, kind, cause) = match event {
        Event::ConnectFailed {
            endpoint, error, ..
        } => (
            Level::WARN,
            "connect_failed",
            Some(format!("cannot connect to {endpoint}: {error}")),
        ),
        Event::ConnectionLost { endpoint, error } => (
            Level::WARN,
            "connection_lost",
            Some(format!("connection to {endpoint} lost: {error}")),
        ),
        Event::Reconnected { .. } => (Level::INFO, "reconnected", None),
        Event::GaveUp { .. } => (Level::ERROR, "gave_up", None),
        Event::CloseUnconfirmed { .. } => (Level::ERROR, "close_unconfirmed", None),
        Event::OutputClosed { .. } => (Level::ERROR, "output_closed", None),
        Event::Rejected { .. } => (Level::ERROR, "rejected", None),
        Event::Throttled { .. } => (Level::WARN, "throttled", None),
        Event::LeftInSpool { .. } => (Level::WARN, "left_in_spool", None),
        Event::SpoolError { error } => {
            (Level::ERROR, "spool_error", Some(format!("spool: {error}")))
        }
        _ => (Level::WARN, "other", None),
    };
    if let Some(cause) = cause {
        *LAST_FAILURE.lock().unwrap_or_else(|e| e.into_inner()) = Some(cause);
    }
    event_at!(level, target: "telemit::sender", event = kind, "{event}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quiet_keeps_errors_and_verbose_adds_debug_then_trace() {
        use tracing::level_filters::LevelFilter;
        assert_eq!(level(false, 0), LevelFilter::INFO);
        assert_eq!(level(true, 0), LevelFilter::ERROR);
        assert_eq!(level(false, 1), LevelFilter::DEBUG);
        assert_eq!(level(true, 2), LevelFilter::TRACE);
    }

    #[test]
    fn the_last_connection_failure_is_kept_for_the_summary() {
        sender_event(&Event::ConnectionLost {
            endpoint: "tcp://127.0.0.1:1".into(),
            error: "Connection reset by peer".into(),
        });
        assert_eq!(
            last_failure(),
            "; last delivery failure: connection to tcp://127.0.0.1:1 lost: Connection reset by peer"
        );
    }
}
