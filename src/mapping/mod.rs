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
//! series (measurement and tag values), and have no value on a series' first message.

mod apply;
mod error;
pub mod expr;
mod extract;
mod rule;
mod schema;

use std::collections::HashMap;

use crate::reading::{DefaultTags, FieldValue, Reading, Timestamp};
use apply::{RuleContext, apply_rule};
use expr::SeriesState;
use rule::Rule;

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

/// Compiled rules and the per-series state of their `delta` and `rate` functions.
#[derive(Debug)]
pub struct Mapping {
    rules: Vec<Rule>,
    max_readings: usize,
    state: HashMap<(usize, u64), SeriesState>,
    /// Every pointer of every rule, merged: one pass over a message extracts them all.
    paths: extract::PathTrie,
    /// Failures so far, per rule (same order as `rules`).
    errors: Vec<u64>,
    /// Per rule (same order): its last reading and the buffers it is computed in.
    scratch: Vec<Scratch>,
    /// The rules that produced a reading from the current message.
    produced: Vec<usize>,
    /// Tags every reading gets unless its rule sets the same key.
    defaults: DefaultTags,
}

/// One rule's working space. A stream sends the same shape of message again and again, so
/// the rule's last reading is refilled in place (keys kept, values overwritten) instead of
/// built anew: a steady stream allocates no strings per message.
#[derive(Debug, Default)]
struct Scratch {
    reading: Option<Reading>,
    /// The derived fields (indices into the rule's `derive`) `reading` ends with; a message
    /// whose derived fields differ (a series' first, without `delta`) builds a new reading.
    shape: Vec<usize>,
    tag_values: Vec<String>,
    fields: Vec<FieldValue>,
    derived: Vec<(usize, f64)>,
}

impl Mapping {
    /// Reads a mapping from TOML text, checking every path, type and expression.
    pub fn from_toml(text: &str) -> Result<Mapping, MappingError> {
        let file: schema::MappingFile =
            toml::from_str(text).map_err(|e| MappingError::toml(&e, text))?;
        if file.rule.is_empty() {
            return Err(MappingError::file("the mapping has no [[rule]]"));
        }
        let mut rules: Vec<Rule> = file
            .rule
            .into_iter()
            .map(schema::compile)
            .collect::<Result<_, _>>()?;
        let mut paths = extract::PathTrie::default();
        for rule in &mut rules {
            let pointers = rule
                .when
                .iter_mut()
                .map(|(p, _)| p)
                .chain(rule.timestamp.iter_mut().map(|(p, _)| p))
                .chain(rule.tags.iter_mut().map(|t| &mut t.path))
                .chain(rule.fields.iter_mut().map(|(_, p, _)| p));
            for pointer in pointers {
                pointer.slot = paths.insert(&pointer.tokens);
            }
        }
        Ok(Mapping {
            errors: vec![0; rules.len()],
            scratch: rules.iter().map(|_| Scratch::default()).collect(),
            produced: Vec::new(),
            defaults: DefaultTags::default(),
            rules,
            max_readings: file.max_readings_per_message.max(1),
            state: HashMap::new(),
            paths,
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
            scratch.reading = None;
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
            if !rule.when.iter().all(|(path, expected)| {
                path.get(&values).is_some_and(|leaf| leaf.matches(expected))
            }) {
                continue;
            }
            outcome.matched = true;
            let context = RuleContext {
                index,
                values: &values,
                arrival,
                defaults: &self.defaults,
            };
            match apply_rule(rule, context, &mut self.state, &mut self.scratch[index]) {
                Ok(()) => self.produced.push(index),
                Err(reason) => {
                    self.errors[index] += 1;
                    outcome.errors.push(RuleError {
                        rule: rule.name.clone(),
                        reason,
                    });
                }
            }
        }
        if self.produced.len() > self.max_readings {
            outcome.errors.push(RuleError {
                rule: "-".into(),
                reason: format!(
                    "the message maps to {} readings, more than max_readings_per_message = {}",
                    self.produced.len(),
                    self.max_readings
                ),
            });
            return outcome;
        }
        for &index in &self.produced {
            if let Some(reading) = &self.scratch[index].reading {
                each(reading);
                outcome.readings += 1;
            }
        }
        outcome
    }
}

#[cfg(test)]
mod tests;
