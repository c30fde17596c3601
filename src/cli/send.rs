//! `telemit send`: one reading from the command line.

use clap::Args;
use telemit::input::line_protocol::{parse_field_value, parse_line};
use telemit::{OnFull, Reading, Timestamp};

use super::output::OutputArgs;
use super::parse_key_value;
use super::pipe::TimestampCheck;

#[derive(Debug, Args)]
pub struct SendArgs {
    #[command(flatten)]
    pub output: OutputArgs,

    /// The reading as one line of line protocol (instead of -m and -f)
    #[arg(value_name = "LINE", conflicts_with_all = ["measurement", "fields"])]
    pub line: Option<String>,

    /// Measurement name
    #[arg(short, long, required_unless_present = "line")]
    pub measurement: Option<String>,

    /// Field as KEY=VALUE (repeatable): 1.5 float, 3i integer, 7u unsigned, true, "text"
    #[arg(short = 'f', long = "field", value_name = "KEY=VALUE", value_parser = parse_key_value, required_unless_present = "line")]
    pub fields: Vec<(String, String)>,

    /// Timestamp of the reading, in --precision units (default: none, or now with --add-timestamp)
    #[arg(long, allow_negative_numbers = true)]
    pub timestamp: Option<i64>,
}

pub fn run(args: SendArgs) -> Result<i32, String> {
    // Checks --tag against --format before the reading is parsed.
    args.output.default_tags()?;
    let precision = args.output.precision.into();
    let mut reading = match &args.line {
        Some(line) => parse_line(line, precision)
            .map_err(|e| format!("LINE: {e}"))?
            .ok_or("LINE is blank or a comment: nothing to send")?,
        None => {
            let measurement = args.measurement.clone().unwrap_or_default();
            let mut builder = Reading::builder(measurement);
            for (key, text) in &args.fields {
                let value = parse_field_value(text).map_err(|e| {
                    format!(
                        "--field {key}={text}: {}; quote strings, as in -f '{key}=\"{text}\"'",
                        e.reason
                    )
                })?;
                builder = builder.field(key.clone(), value);
            }
            builder.build().map_err(|e| e.to_string())?
        }
    };
    if let Some(value) = args.timestamp {
        reading.set_timestamp(Some(Timestamp::new(value, precision)));
    }
    if let Some(warning) = TimestampCheck::single("--precision").check(reading.timestamp()) {
        tracing::warn!(target: "telemit::input", "{warning}");
    }

    // Waiting cannot help a socket path that is missing, not a socket, or not writable.
    if let Err(error) = telemit::sender::check_reachable(&args.output.to) {
        tracing::error!(target: "telemit::summary", "the reading was not delivered: {error}");
        return Ok(1);
    }
    let sender = args.output.sender(OnFull::Block)?;
    let sent = sender.send(&reading);
    let stats = sender.shutdown();
    if let Err(error) = sent {
        return Err(error.to_string());
    }
    if stats.dropped_total() > 0 {
        tracing::error!(
            target: "telemit::summary",
            "the reading was not delivered to {}: {}{}",
            args.output.to,
            stats.summary(),
            super::log::last_failure()
        );
        return Ok(1);
    }
    if stats.unconfirmed > 0 {
        tracing::error!(
            target: "telemit::summary",
            "the reading was written to {}, but the receiver did not confirm it read it",
            args.output.to
        );
        return Ok(1);
    }
    Ok(0)
}
