//! From a JSON message (a WebSocket event) to zero or more readings, by rules in a TOML file.
//!
//! ```toml
//! [[rule]]
//! name = "kline"
//! when = { "/e" = "kline" }                 # JSON Pointer = value; all must hold
//! measurement = "binance_kline"
//! timestamp = { path = "/E", unit = "ms" }  # or omit it for the arrival time
//! tags = { symbol = "/s", interval = "/k/i" }
//! fields.high = { path = "/k/h", type = "float" }   # "612.37000000" is read as 612.37
//! fields.low = "/k/l"                               # a bare path is a float
//! derive = [
//!   { name = "spread", expr = "high - low" },
//!   { name = "delta", expr = "delta(spread)" },
//!   { name = "abs_delta", expr = "abs(delta(spread))" },
//! ]
//! ```
//!
//! Paths are JSON Pointers (RFC 6901, as `serde_json::Value::pointer` reads them). Derived
//! fields use the small arithmetic of [`expr`]; `delta` and `rate` keep their previous value per
//! series (the rule and its tag values), and have no value on a series' first message.
//!
//! For market data a rule can also iterate an array (`each = "/bids"`, element paths `./1`, the
//! index as a tag with `{ index = true }`, `cumulative(x)`), aggregate over one
//! (`{ path = "/bids/*/1", aggregate = "sum" }`), take a value from part of a string
//! (`{ path = "/stream", split = "@", part = 0, case = "upper" }`), use constants
//! (`{ value = "bid" }`) and defaults, and turn into tumbling windows of message time:
//!
//! ```toml
//! window = { every = "1m", pace = "1s" }   # sent at most once a second while open
//! aggregate = [
//!   { name = "open", expr = "first(price)" },
//!   { name = "trades", expr = "count()" },
//! ]
//! ```
//!
//! State is kept per series, for at most `max_series` series (per mapping, 10 000 by default,
//! and per rule); a new series beyond is refused and counted. A message time more than
//! `max_ahead` (per mapping, `"1h"` by default) ahead of both the latest message time and the
//! arrival time is refused and counted for its rule, so that one broken clock cannot move a
//! rule's windows on. See `examples/binance-market.toml`
//! and the README for the whole language.

mod apply;
mod error;
pub mod expr;
mod extract;
mod rule;
mod schema;
mod scratch;
mod series;
mod values;
mod window;

use crate::reading::{DefaultTags, Precision, Reading, Timestamp};
use apply::{Latest, RuleContext, apply_rule};
use rule::{Rule, Source};
use scratch::Scratch;
use series::SeriesTable;

pub use error::{MappingError, RuleError};

/// What one message turned into, when its readings went to a callback
/// ([`Mapping::apply_each`]).
#[derive(Debug, Default, PartialEq)]
pub struct Outcome {
    /// Readings handed to the callback.
    pub readings: usize,
    /// False when no rule applied (a subscription acknowledgement, another event type).
    pub matched: bool,
    /// Rules that applied but failed on this message.
    pub errors: Vec<RuleError>,
}

/// What one message turned into.
#[derive(Debug, Default, PartialEq)]
pub struct Mapped {
    /// The readings, in rule order.
    pub readings: Vec<Reading>,
    /// False when no rule applied (a subscription acknowledgement, another event type).
    pub matched: bool,
    /// Rules that applied but failed on this message.
    pub errors: Vec<RuleError>,
}

/// Compiled rules and the per-series state of their `delta`, `rate` and windows.
#[derive(Debug)]
pub struct Mapping {
    rules: Vec<Rule>,
    max_readings: usize,
    /// Per-series state, bounded by `max_series`.
    series: SeriesTable,
    /// Per rule: the latest window start its messages reached.
    latest: Vec<Latest>,
    /// Every pointer of every rule, merged: one pass over a message extracts them all.
    paths: extract::PathTrie,
    /// Failures so far, per rule (same order as `rules`).
    errors: Vec<u64>,
    /// Readings handed out so far, per rule.
    readings: Vec<u64>,
    /// Per rule (same order): its last readings and the buffers they are computed in.
    scratch: Vec<Scratch>,
    /// The rules that produced readings from the current message.
    produced: Vec<usize>,
    /// Tags every reading gets unless its rule sets the same key.
    defaults: DefaultTags,
    /// Arrival time of the last sweep for idle windows and series, in nanoseconds.
    swept: i64,
    /// Whether [`Mapping::apply_each`] sweeps by arrival time.
    sweeping: bool,
    /// The random key of series hashes.
    seed: std::collections::hash_map::RandomState,
    /// How far ahead of the arrival time a message time may be, in nanoseconds.
    max_ahead: i64,
    /// The latest message time a rule accepted.
    clock: Option<Timestamp>,
    /// Whether rules without a time path are stamped with `clock` rather than the arrival.
    stamp_by_message_time: bool,
}

impl Mapping {
    /// Reads a mapping from TOML text, checking every path, type and expression.
    pub fn from_toml(text: &str) -> Result<Mapping, MappingError> {
        let file: schema::MappingFile =
            toml::from_str(text).map_err(|e| MappingError::toml(&e, text))?;
        if file.rule.is_empty() {
            return Err(MappingError::file("the mapping has no [[rule]]"));
        }
        if file.max_series == 0 {
            return Err(MappingError::file("max_series must be at least 1"));
        }
        let series_idle = schema::parse_duration_ns(&file.series_idle)
            .map_err(|e| MappingError::file(format!("series_idle: {e}")))?;
        let max_ahead = schema::parse_duration_ns(&file.max_ahead)
            .map_err(|e| MappingError::file(format!("max_ahead: {e}")))?;
        let mut rules: Vec<Rule> = file
            .rule
            .into_iter()
            .map(|rule| schema::compile(rule, file.max_series))
            .collect::<Result<_, _>>()?;
        let mut paths = extract::PathTrie::default();
        for rule in &mut rules {
            let sources = rule.tags.iter_mut().map(|t| &mut t.source);
            let sources = sources.chain(rule.fields.iter_mut().map(|f| &mut f.source));
            let from_values = sources.filter_map(|source| match source {
                Source::Message(p) => Some(p),
                Source::Array { array, .. } => Some(array),
                _ => None,
            });
            let pointers = rule
                .when
                .iter_mut()
                .map(|(p, _)| p)
                .chain(rule.timestamp.iter_mut().map(|(p, _)| p))
                .chain(rule.each.iter_mut())
                .chain(from_values);
            for pointer in pointers {
                pointer.slot = paths.insert(&pointer.tokens);
            }
        }
        Ok(Mapping {
            errors: vec![0; rules.len()],
            readings: vec![0; rules.len()],
            scratch: rules.iter().map(|_| Scratch::default()).collect(),
            latest: vec![None; rules.len()],
            series: SeriesTable::new(rules.len(), file.max_series, series_idle),
            produced: Vec::new(),
            defaults: DefaultTags::default(),
            rules,
            max_readings: file.max_readings_per_message.max(1),
            paths,
            swept: i64::MIN,
            sweeping: true,
            seed: Default::default(),
            max_ahead,
            clock: None,
            stamp_by_message_time: false,
        })
    }

    /// Reads a mapping file.
    pub fn from_file(path: &std::path::Path) -> Result<Mapping, MappingError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| MappingError::file(e.to_string()).in_file(path))?;
        Mapping::from_toml(&text).map_err(|e| e.in_file(path))
    }

    /// How many messages each rule failed on so far, by rule name, in rule order.
    pub fn errors_by_rule(&self) -> impl Iterator<Item = (&str, u64)> {
        self.rules
            .iter()
            .map(|r| r.name.as_str())
            .zip(self.errors.iter().copied())
    }

    /// The names of the rules, in order.
    pub fn rule_names(&self) -> impl Iterator<Item = &str> {
        self.rules.iter().map(|r| r.name.as_str())
    }

    /// Adds `tags` to every reading whose rule does not set the same key (the CLI's `--tag`).
    pub fn set_default_tags(&mut self, tags: DefaultTags) {
        self.defaults = tags;
        for scratch in &mut self.scratch {
            scratch.slots.clear();
        }
    }

    /// Maps one message that arrived at `arrival`, collecting its readings.
    ///
    /// [`apply_each`](Mapping::apply_each) does the same without copying the readings.
    pub fn apply(&mut self, message: &str, arrival: Timestamp) -> Mapped {
        let mut readings = Vec::new();
        let outcome = self.apply_each(message, arrival, |r| readings.push(r.clone()));
        Mapped {
            readings,
            matched: outcome.matched,
            errors: outcome.errors,
        }
    }

    /// Maps one message that arrived at `arrival`, handing each reading to `each` in rule
    /// order. The readings are lent: each rule's reading is refilled in place by the next
    /// message, which is what keeps a busy stream from allocating.
    ///
    /// ```
    /// use telemit::mapping::Mapping;
    /// use telemit::{Precision, Timestamp};
    ///
    /// let mut mapping = Mapping::from_toml(r#"
    ///     [[rule]]
    ///     name = "trade"
    ///     when = { "/e" = "trade" }
    ///     measurement = "trade"
    ///     fields.price = "/p"
    /// "#)?;
    /// let mut prices = Vec::new();
    /// let arrival = Timestamp::now(Precision::Nanoseconds);
    /// let outcome = mapping.apply_each(r#"{"e":"trade","p":"612.5"}"#, arrival, |reading| {
    ///     prices.push(reading.field("price").cloned());
    /// });
    /// assert_eq!((outcome.readings, outcome.matched), (1, true));
    /// assert_eq!(prices, [Some(telemit::FieldValue::Float(612.5))]);
    /// # Ok::<(), telemit::mapping::MappingError>(())
    /// ```
    pub fn apply_each(
        &mut self,
        message: &str,
        arrival: Timestamp,
        mut each: impl FnMut(&Reading),
    ) -> Outcome {
        let mut outcome = Outcome::default();
        let now = arrival
            .to_precision(Precision::Nanoseconds)
            .unwrap_or(i64::MAX);
        if self.sweeping && now.saturating_sub(self.swept) >= SWEEP_NS {
            outcome.readings += self.sweep(arrival, &mut each);
        }
        let values = match self.paths.extract(message) {
            Ok(values) => values,
            Err(e) => {
                outcome.matched = true;
                outcome.errors.push(RuleError {
                    rule: "-".into(),
                    reason: format!("the message is not JSON: {e}"),
                });
                return outcome;
            }
        };
        self.produced.clear();
        for (index, rule) in self.rules.iter().enumerate() {
            if !rule
                .when
                .iter()
                .all(|(path, test)| path.get(&values).is_some_and(|leaf| test.holds(leaf)))
            {
                continue;
            }
            outcome.matched = true;
            let context = RuleContext {
                index,
                values: &values,
                arrival,
                defaults: &self.defaults,
                seed: &self.seed,
                max_ahead: self.max_ahead,
                clock: self.clock.filter(|_| self.stamp_by_message_time),
                latest: self.clock,
            };
            let refused = self.series.refused(index);
            let scratch = &mut self.scratch[index];
            scratch.emitted.clear();
            let result = apply_rule(
                rule,
                context,
                &mut self.series,
                &mut self.latest[index],
                scratch,
            );
            if let (Ok(()), Some(time)) = (&result, scratch.time) {
                let later = self.clock.is_none_or(|clock| {
                    clock.to_precision(Precision::Nanoseconds)
                        < time.to_precision(Precision::Nanoseconds)
                });
                if later {
                    self.clock = Some(time);
                }
            }
            if let Err(reason) = result {
                scratch.used = 0;
                self.errors[index] += 1;
                outcome.errors.push(RuleError {
                    rule: rule.name.clone(),
                    reason,
                });
            }
            if refused == 0 && self.series.refused(index) > 0 {
                outcome.errors.push(RuleError {
                    rule: rule.name.clone(),
                    reason: format!(
                        "a new series was refused: the rule's max_series is {} and the mapping's {}; \
                         further refusals are only counted",
                        rule.max_series,
                        self.series.max_series()
                    ),
                });
            }
            if scratch.count() > 0 {
                self.produced.push(index);
            }
        }
        let refilled: usize = self.produced.iter().map(|&i| self.scratch[i].used).sum();
        if refilled > self.max_readings {
            outcome.errors.push(RuleError {
                rule: "-".into(),
                reason: format!(
                    "the message maps to {refilled} readings, more than max_readings_per_message = {}",
                    self.max_readings
                ),
            });
            for &index in &self.produced {
                self.scratch[index].used = 0;
            }
        }
        for &index in &self.produced {
            for reading in self.scratch[index].readings() {
                each(reading);
                outcome.readings += 1;
                self.readings[index] += 1;
            }
        }
        outcome
    }

    /// Closes the open windows whose series has had no message for the window's `idle`
    /// time, and drops the state of series idle for `series_idle`, as of arrival time
    /// `now`; hands each closed window's reading to `each` and returns how many.
    ///
    /// [`apply_each`](Mapping::apply_each) sweeps once a second of arrival time; a caller
    /// whose stream may fall silent calls this on a timer.
    pub fn sweep(&mut self, now: Timestamp, mut each: impl FnMut(&Reading)) -> usize {
        let now = now.to_precision(Precision::Nanoseconds).unwrap_or(i64::MAX);
        self.swept = now;
        let rules = &self.rules;
        let idle = |rule: usize| rules[rule].window.as_ref().map_or(i64::MAX, |w| w.idle_ns);
        let windows = self.series.sweep(now, idle);
        self.emit_closed(windows, &mut each)
    }

    /// Stamps the readings of rules without a time path with the latest message time the
    /// other rules read (the recording's own clock) instead of the arrival time; the arrival
    /// time stays for messages before the first that has one. Off by default; `telemit map`
    /// turns it on, so that a recording maps to the same readings on every run.
    pub fn set_stamp_by_message_time(&mut self, on: bool) {
        self.stamp_by_message_time = on;
    }

    /// Turns the sweeps of [`apply_each`](Mapping::apply_each) on or off (on by default).
    /// An offline run over recorded messages turns them off: arrival time means nothing
    /// there, and windows close by message time and at [`finish`](Mapping::finish).
    pub fn set_idle_sweep(&mut self, on: bool) {
        self.sweeping = on;
    }

    /// Closes every open window (end of input, shutdown) and hands each reading to `each`;
    /// returns how many. Series state for `delta` and `rate` is kept.
    pub fn finish(&mut self, mut each: impl FnMut(&Reading)) -> usize {
        let windows = self.series.take_all_windows();
        self.emit_closed(windows, &mut each)
    }

    fn emit_closed(
        &mut self,
        windows: Vec<(usize, window::Window)>,
        each: &mut impl FnMut(&Reading),
    ) -> usize {
        let mut count = 0;
        for (index, window) in windows {
            match window.reading(&self.rules[index], true, &self.defaults) {
                Ok(reading) => {
                    each(&reading);
                    count += 1;
                    self.readings[index] += 1;
                }
                Err(_) => self.errors[index] += 1,
            }
        }
        count
    }

    /// Readings handed out so far, by rule name, in rule order.
    pub fn readings_by_rule(&self) -> impl Iterator<Item = (&str, u64)> {
        self.rules
            .iter()
            .map(|r| r.name.as_str())
            .zip(self.readings.iter().copied())
    }

    /// New series refused by the cardinality guard so far, by rule name, in rule order.
    pub fn refused_series_by_rule(&self) -> impl Iterator<Item = (&str, u64)> {
        self.rules
            .iter()
            .enumerate()
            .map(|(i, r)| (r.name.as_str(), self.series.refused(i)))
    }

    /// Series whose state the mapping holds now (at most `max_series`).
    pub fn series(&self) -> usize {
        self.series.len()
    }
}

/// How often (arrival time) [`Mapping::apply_each`] sweeps for idle windows and series.
const SWEEP_NS: i64 = 1_000_000_000;

#[cfg(test)]
mod tests;
