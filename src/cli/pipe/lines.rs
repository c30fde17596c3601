//! The reading loop of `telemit pipe`: each line forwarded as it came when the encoder would
//! write back its very bytes, else parsed and sent; bad lines counted and reported.

use std::io::BufRead;
use std::sync::atomic::Ordering;

use telemit::input::line_protocol::CanonicalCheck;
use telemit::input::{InputPrecision, Line, LineReader};
use telemit::{Format, Precision, SendError, Sender, Timestamp};

use super::super::excerpt;
use super::{InputArg, InputCounts, PipeArgs, TimestampCheck};

/// When lines of line protocol may go out as they came in: nothing the sender would add, and
/// timestamps read and written in one unit. Each line is then checked
/// ([`CanonicalCheck`]) and, when the encoder would write back its very bytes, forwarded
/// without being read into a reading; every other line is parsed and encoded.
#[derive(Debug, Clone, Copy)]
pub(super) struct Passthrough {
    precision: Precision,
    /// `--add-timestamp`: only lines with a timestamp go through unchanged.
    needs_timestamp: bool,
}

impl Passthrough {
    pub(super) fn of(args: &PipeArgs) -> Option<Passthrough> {
        let output = &args.output;
        let InputPrecision::Fixed(precision) = args.input_precision.into() else {
            return None;
        };
        let same = args.input == InputArg::Influx
            && Format::from(output.format) == Format::Influx
            && precision == Precision::from(output.precision)
            && output.tags.is_empty()
            && !args.seq;
        same.then_some(Passthrough {
            precision,
            needs_timestamp: output.add_timestamp,
        })
    }
}

/// What the reading loop does after a send.
enum Next {
    Continue,
    Stop,
}

/// Counts and reports the outcome of sending line `number`, as one place for both paths.
fn after_send(
    result: Result<(), SendError>,
    number: u64,
    line: &[u8],
    strict: bool,
    counts: &InputCounts,
) -> Next {
    match result {
        Ok(()) | Err(SendError::QueueFull) => Next::Continue,
        Err(SendError::Closed) => Next::Stop,
        Err(error) => {
            InputCounts::add(&counts.refused);
            let text = String::from_utf8_lossy(line);
            tracing::error!(
                target: "telemit::input",
                line = number,
                "line {number}: {error}: {}",
                excerpt(&text)
            );
            if strict {
                counts.stopped_early.store(true, Ordering::Relaxed);
                return Next::Stop;
            }
            Next::Continue
        }
    }
}

#[allow(clippy::too_many_arguments)]
pub(super) fn read_all(
    mut lines: LineReader<impl BufRead>,
    sender: &Sender,
    parse: impl Fn(&str) -> Result<Option<telemit::input::Parsed>, telemit::ParseError>,
    precision: InputPrecision,
    passthrough: Option<Passthrough>,
    strict: bool,
    counts: &InputCounts,
) {
    let mut handler = Handler {
        sender,
        parse,
        precision,
        passthrough,
        strict,
        counts,
        timestamps: TimestampCheck::new("--input-precision"),
        check: CanonicalCheck::new(),
        record: Vec::new(),
        dropped_said: false,
    };
    let max_line = lines.max_line();
    let mut number = 0u64;
    loop {
        // Lines already in the input buffer are handled where they lie; the line that runs
        // past it, the first and any too long come one at a time.
        let (mut stop, mut seen) = (false, 0);
        lines.buffered_lines(|line| {
            seen += 1;
            stop = matches!(handler.line(line, number + seen), Next::Stop);
            !stop
        });
        number += seen;
        if stop {
            break;
        }
        number += 1;
        let line = match lines.next_line() {
            Ok(None) => break,
            Ok(Some(Line::TooLong(len))) => {
                InputCounts::add(&counts.read);
                InputCounts::add(&counts.bad_lines);
                tracing::error!(
                    target: "telemit::input",
                    line = number,
                    "line {number}: longer than {max_line} bytes ({len} bytes); skipped (raise --max-line)"
                );
                if strict {
                    counts.stopped_early.store(true, Ordering::Relaxed);
                    break;
                }
                continue;
            }
            Ok(Some(Line::Complete(line))) => line,
            Err(e) => {
                tracing::error!(
                    target: "telemit::input",
                    line = number,
                    "line {number}: cannot read standard input: {e}"
                );
                break;
            }
        };
        if let Next::Stop = handler.line(line, number) {
            break;
        }
    }
}

/// What reading one line needs, kept from line to line.
struct Handler<'a, P> {
    sender: &'a Sender,
    parse: P,
    precision: InputPrecision,
    passthrough: Option<Passthrough>,
    strict: bool,
    counts: &'a InputCounts,
    timestamps: TimestampCheck,
    check: CanonicalCheck,
    /// A forwarded line with its newline.
    record: Vec<u8>,
    dropped_said: bool,
}

impl<P> Handler<'_, P>
where
    P: Fn(&str) -> Result<Option<telemit::input::Parsed>, telemit::ParseError>,
{
    /// Sends line `number` (without its newline), or reports why not.
    fn line(&mut self, line: &[u8], number: u64) -> Next {
        let (strict, counts) = (self.strict, self.counts);
        let bad = || {
            InputCounts::add(&counts.read);
            InputCounts::add(&counts.bad_lines);
            if strict {
                counts.stopped_early.store(true, Ordering::Relaxed);
                return Next::Stop;
            }
            Next::Continue
        };
        if let Some(pass) = self.passthrough {
            let canonical = self
                .check
                .check(line, pass.precision)
                .filter(|c| !pass.needs_timestamp || c.timestamp.is_some());
            if let Some(canonical) = canonical {
                InputCounts::add(&counts.read);
                let timestamp = canonical
                    .timestamp
                    .map(|value| Timestamp::new(value, pass.precision));
                if let Some(warning) = self.timestamps.check(timestamp) {
                    tracing::warn!(target: "telemit::input", line = number, "line {number}: {warning}");
                }
                self.record.clear();
                self.record.extend_from_slice(line);
                self.record.push(b'\n');
                let sent = self.sender.send_encoded(&self.record);
                return after_send(sent, number, line, strict, counts);
            }
        }
        let text = match std::str::from_utf8(line) {
            Ok(text) => text,
            Err(e) => {
                tracing::error!(
                    target: "telemit::input",
                    line = number,
                    "line {number}, column {}: not UTF-8: {}",
                    e.valid_up_to() + 1,
                    excerpt(&String::from_utf8_lossy(line))
                );
                return bad();
            }
        };
        let parsed = match (self.parse)(text) {
            Ok(None) => return Next::Continue,
            Ok(Some(parsed)) => parsed,
            Err(error) => {
                tracing::error!(
                    target: "telemit::input",
                    line = number,
                    "{}: {}",
                    error.on_line(number),
                    excerpt(text)
                );
                return bad();
            }
        };
        InputCounts::add(&counts.read);
        if !parsed.duplicates.is_empty() {
            InputCounts::add(&counts.duplicates);
        }
        if !parsed.dropped.is_empty() && !std::mem::replace(&mut self.dropped_said, true) {
            tracing::warn!(
                target: "telemit::input",
                line = number,
                "line {number}: dropped {} (strings and booleans not matched by --tag-keys or --json-string-fields, as Telegraf's json parser drops them; said once)",
                parsed.dropped.join(", ")
            );
        }
        let mut reading = parsed.reading;
        if let Some(timestamp) = reading.timestamp() {
            let timestamp = self.precision.restamp(timestamp);
            reading.set_timestamp(Some(timestamp));
            if let Some(warning) = self.timestamps.check(Some(timestamp)) {
                tracing::warn!(target: "telemit::input", line = number, "line {number}: {warning}");
            }
        }
        after_send(self.sender.send(&reading), number, line, strict, counts)
    }
}
