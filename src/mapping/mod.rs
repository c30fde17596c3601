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

pub mod expr;
mod extract;

use std::collections::HashMap;
use std::fmt;

use serde::Deserialize;
use serde_json::Value;

use crate::reading::{
    DefaultTags, FieldValue, Precision, Reading, Timestamp, validate_field_value, validate_name,
};
use expr::{Expr, SeriesState};
use extract::Leaf;

/// A mapping file that cannot be used, with the rule and the part that is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct MappingError(String);

/// One rule's failure on one message: counted, reported, never fatal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleError {
    /// The rule's name.
    pub rule: String,
    /// What went wrong.
    pub reason: String,
}

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "rule {:?}: {}", self.rule, self.reason)
    }
}

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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MappingFile {
    #[serde(default = "default_max_readings")]
    max_readings_per_message: usize,
    rule: Vec<RuleFile>,
}

fn default_max_readings() -> usize {
    64
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    name: String,
    #[serde(default)]
    when: toml::Table,
    measurement: String,
    timestamp: Option<TimestampFile>,
    #[serde(default)]
    tags: toml::Table,
    #[serde(default)]
    fields: toml::Table,
    #[serde(default)]
    derive: Vec<DeriveFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TimestampFile {
    path: String,
    #[serde(default = "default_unit")]
    unit: String,
}

fn default_unit() -> String {
    "ms".to_owned()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DeriveFile {
    name: String,
    expr: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FieldType {
    Float,
    Integer,
    Unsigned,
    Boolean,
    String,
}

/// A JSON Pointer, split into its unescaped tokens once, when the mapping is read; `slot` is
/// where [`extract`] puts the value it points to.
#[derive(Debug, Clone)]
struct Pointer {
    text: String,
    tokens: Vec<String>,
    slot: usize,
}

impl Pointer {
    fn new(text: String) -> Pointer {
        let tokens = text
            .split('/')
            .skip(1)
            .map(|t| t.replace("~1", "/").replace("~0", "~"))
            .collect();
        Pointer {
            text,
            tokens,
            slot: 0,
        }
    }

    fn get<'a, 'm>(&self, values: &'a [Option<Leaf<'m>>]) -> Option<&'a Leaf<'m>> {
        values.get(self.slot)?.as_ref()
    }
}

impl fmt::Display for Pointer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[derive(Debug)]
struct TagSpec {
    key: String,
    path: Pointer,
    map: Option<HashMap<String, String>>,
}

#[derive(Debug)]
struct Rule {
    name: String,
    when: Vec<(Pointer, Value)>,
    measurement: String,
    timestamp: Option<(Pointer, Precision)>,
    tags: Vec<TagSpec>,
    fields: Vec<(String, Pointer, FieldType)>,
    derive: Vec<(String, Expr)>,
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
        let file: MappingFile = toml::from_str(text).map_err(|e| MappingError(e.to_string()))?;
        if file.rule.is_empty() {
            return Err(MappingError("the mapping has no [[rule]]".into()));
        }
        let mut rules: Vec<Rule> = file
            .rule
            .into_iter()
            .map(compile)
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
            .map_err(|e| MappingError(format!("{}: {e}", path.display())))?;
        Mapping::from_toml(&text).map_err(|e| MappingError(format!("{}: {e}", path.display())))
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

fn compile(file: RuleFile) -> Result<Rule, MappingError> {
    let name = file.name.clone();
    let error = |what: String| MappingError(format!("rule {name:?}: {what}"));
    let check_path = |path: &str, what: &str| {
        if path.is_empty() || path.starts_with('/') {
            Ok(())
        } else {
            Err(error(format!(
                "{what}: path {path:?} must be a JSON Pointer starting with '/'"
            )))
        }
    };

    let mut when = Vec::new();
    for (path, expected) in file.when {
        check_path(&path, "when")?;
        let expected =
            serde_json::to_value(&expected).map_err(|e| error(format!("when {path:?}: {e}")))?;
        when.push((Pointer::new(path), expected));
    }

    let timestamp = match file.timestamp {
        None => None,
        Some(t) => {
            check_path(&t.path, "timestamp")?;
            let unit = t
                .unit
                .parse::<Precision>()
                .map_err(|e| error(format!("timestamp: {e}")))?;
            Some((Pointer::new(t.path), unit))
        }
    };

    let mut tags = Vec::new();
    for (key, spec) in file.tags {
        let (path, map) = match spec {
            toml::Value::String(path) => (path, None),
            toml::Value::Table(mut table) => {
                let path = match table.remove("path") {
                    Some(toml::Value::String(p)) => p,
                    _ => return Err(error(format!("tag {key:?}: needs path = \"/…\""))),
                };
                let map = match table.remove("map") {
                    None => None,
                    Some(toml::Value::Table(m)) => Some(
                        m.into_iter()
                            .map(|(k, v)| match v {
                                toml::Value::String(s) => Ok((k, s)),
                                other => Err(error(format!(
                                    "tag {key:?}: map value {other} must be a string"
                                ))),
                            })
                            .collect::<Result<HashMap<_, _>, _>>()?,
                    ),
                    Some(_) => return Err(error(format!("tag {key:?}: map must be a table"))),
                };
                if let Some(extra) = table.keys().next() {
                    return Err(error(format!("tag {key:?}: unknown key {extra:?}")));
                }
                (path, map)
            }
            other => {
                return Err(error(format!(
                    "tag {key:?}: expected a path or {{ path, map }}, found {other}"
                )));
            }
        };
        check_path(&path, &format!("tag {key:?}"))?;
        tags.push(TagSpec {
            key,
            path: Pointer::new(path),
            map,
        });
    }

    let mut fields = Vec::new();
    for (key, spec) in file.fields {
        let (path, kind) = match spec {
            toml::Value::String(path) => (path, FieldType::Float),
            toml::Value::Table(mut table) => {
                let path = match table.remove("path") {
                    Some(toml::Value::String(p)) => p,
                    _ => return Err(error(format!("field {key:?}: needs path = \"/…\""))),
                };
                let kind = match table.remove("type").as_ref().and_then(toml::Value::as_str) {
                    None | Some("float") => FieldType::Float,
                    Some("integer") => FieldType::Integer,
                    Some("unsigned") => FieldType::Unsigned,
                    Some("boolean") => FieldType::Boolean,
                    Some("string") => FieldType::String,
                    Some(other) => {
                        return Err(error(format!(
                            "field {key:?}: unknown type {other:?}: use float, integer, unsigned, boolean or string"
                        )));
                    }
                };
                if let Some(extra) = table.keys().next() {
                    return Err(error(format!("field {key:?}: unknown key {extra:?}")));
                }
                (path, kind)
            }
            other => {
                return Err(error(format!(
                    "field {key:?}: expected a path or {{ path, type }}, found {other}"
                )));
            }
        };
        check_path(&path, &format!("field {key:?}"))?;
        fields.push((key, Pointer::new(path), kind));
    }

    let mut known: Vec<String> = fields
        .iter()
        .filter(|(_, _, kind)| {
            matches!(
                kind,
                FieldType::Float | FieldType::Integer | FieldType::Unsigned
            )
        })
        .map(|(key, _, _)| key.clone())
        .collect();
    let mut slots = 0;
    let mut derive = Vec::new();
    for d in file.derive {
        let parsed = Expr::parse(&d.expr, &mut slots)
            .map_err(|e| error(format!("derive {:?}: {:?} {e}", d.name, d.expr)))?;
        let mut names = Vec::new();
        parsed.names(&mut names);
        if let Some(unknown) = names.iter().find(|n| !known.contains(n)) {
            return Err(error(format!(
                "derive {:?}: {unknown:?} is not a numeric field or an earlier derived field",
                d.name
            )));
        }
        known.push(d.name.clone());
        derive.push((d.name, parsed));
    }
    if fields.is_empty() && derive.is_empty() {
        return Err(error("has no fields".into()));
    }
    Ok(Rule {
        name: file.name,
        when,
        measurement: file.measurement,
        timestamp,
        tags,
        fields,
        derive,
    })
}

fn at<'a, 'm>(values: &'a [Option<Leaf<'m>>], path: &Pointer) -> Result<&'a Leaf<'m>, String> {
    path.get(values).ok_or_else(|| format!("{path} is missing"))
}

fn field_value(value: &Leaf<'_>, kind: FieldType, path: &Pointer) -> Result<FieldValue, String> {
    let bad = |what: &str| format!("{path} = {} is not {what}", trimmed(&value.to_string()));
    match (kind, value) {
        (FieldType::Float, Leaf::F64(v)) => Ok(FieldValue::Float(*v)),
        (FieldType::Float, Leaf::I64(v)) => Ok(FieldValue::Float(*v as f64)),
        (FieldType::Float, Leaf::U64(v)) => Ok(FieldValue::Float(*v as f64)),
        (FieldType::Float, Leaf::Str(s)) => s
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite())
            .map(FieldValue::Float)
            .ok_or_else(|| bad("a number")),
        (FieldType::Float, _) => Err(bad("a number")),
        (FieldType::Integer, Leaf::I64(v)) => Ok(FieldValue::Integer(*v)),
        (FieldType::Integer, Leaf::Str(s)) => s
            .trim()
            .parse()
            .map(FieldValue::Integer)
            .map_err(|_| bad("an integer")),
        (FieldType::Integer, _) => Err(bad("an integer")),
        (FieldType::Unsigned, Leaf::I64(v)) => u64::try_from(*v)
            .map(FieldValue::Unsigned)
            .map_err(|_| bad("an unsigned integer")),
        (FieldType::Unsigned, Leaf::U64(v)) => Ok(FieldValue::Unsigned(*v)),
        (FieldType::Unsigned, Leaf::Str(s)) => s
            .trim()
            .parse()
            .map(FieldValue::Unsigned)
            .map_err(|_| bad("an unsigned integer")),
        (FieldType::Unsigned, _) => Err(bad("an unsigned integer")),
        (FieldType::Boolean, Leaf::Bool(b)) => Ok(FieldValue::Boolean(*b)),
        (FieldType::Boolean, Leaf::Str(s)) if s == "true" || s == "false" => {
            Ok(FieldValue::Boolean(s == "true"))
        }
        (FieldType::Boolean, _) => Err(bad("a boolean")),
        (FieldType::String, _) => value
            .text()
            .map(FieldValue::String)
            .ok_or_else(|| bad("a scalar")),
    }
}

/// What a rule is applied to.
struct RuleContext<'a, 'm> {
    /// The rule's index, which keys its series' state.
    index: usize,
    values: &'a [Option<Leaf<'m>>],
    arrival: Timestamp,
    defaults: &'a DefaultTags,
}

/// Computes the rule's reading for one message into `scratch.reading`.
fn apply_rule(
    rule: &Rule,
    context: RuleContext<'_, '_>,
    state: &mut HashMap<(usize, u64), SeriesState>,
    scratch: &mut Scratch,
) -> Result<(), String> {
    use std::hash::{Hash, Hasher};
    let values = context.values;
    // The series is the rule's measurement and its tag values: a hash of them keys the state.
    let mut series = std::collections::hash_map::DefaultHasher::new();
    scratch.tag_values.resize_with(rule.tags.len(), String::new);
    for (tag, text) in rule.tags.iter().zip(&mut scratch.tag_values) {
        let raw = at(values, &tag.path)?;
        text.clear();
        if !raw.write_text(text) {
            return Err(format!(
                "{} = {} is not a scalar",
                tag.path,
                trimmed(&raw.to_string())
            ));
        }
        if let Some(map) = &tag.map {
            let mapped = map.get(text.as_str()).ok_or_else(|| {
                format!(
                    "{} = {text:?} is not in the map of tag {:?}",
                    tag.path, tag.key
                )
            })?;
            text.clear();
            text.push_str(mapped);
        }
        validate_name(text, || crate::reading::Part::TagValue(tag.key.clone()))
            .map_err(|e| e.to_string())?;
        text.hash(&mut series);
    }
    let timestamp = match &rule.timestamp {
        None => context.arrival,
        Some((path, unit)) => {
            let raw = at(values, path)?;
            let number = match raw {
                Leaf::I64(n) => Some(*n),
                Leaf::Str(s) => s.trim().parse().ok(),
                _ => None,
            };
            let number = number.ok_or_else(|| {
                format!(
                    "{path} = {} is not an integer time",
                    trimmed(&raw.to_string())
                )
            })?;
            Timestamp::new(number, *unit)
        }
    };
    scratch.fields.clear();
    for (key, path, kind) in &rule.fields {
        let field = field_value(at(values, path)?, *kind, path)?;
        validate_field_value(key, &field).map_err(|e| e.to_string())?;
        scratch.fields.push(field);
    }
    let seconds = timestamp
        .to_precision(Precision::Nanoseconds)
        .unwrap_or(i64::MAX) as f64
        / 1e9;
    let series_state = state.entry((context.index, series.finish())).or_default();
    scratch.derived.clear();
    for (index, (name, expr)) in rule.derive.iter().enumerate() {
        let lookup = |n: &str| {
            let field = rule
                .fields
                .iter()
                .zip(&scratch.fields)
                .find(|((key, _, _), _)| key == n)
                .and_then(|(_, value)| match value {
                    FieldValue::Float(v) => Some(*v),
                    FieldValue::Integer(v) => Some(*v as f64),
                    FieldValue::Unsigned(v) => Some(*v as f64),
                    _ => None,
                });
            field.or_else(|| {
                scratch
                    .derived
                    .iter()
                    .find(|(i, _)| rule.derive[*i].0 == n)
                    .map(|(_, v)| *v)
            })
        };
        match expr.eval(&lookup, seconds, series_state) {
            Ok(Some(v)) => scratch.derived.push((index, v)),
            Ok(None) => {}
            Err(e) => return Err(format!("derive {name:?}: {e}")),
        }
    }
    let same_shape = scratch.reading.is_some()
        && scratch.shape.len() == scratch.derived.len()
        && scratch
            .shape
            .iter()
            .zip(&scratch.derived)
            .all(|(a, (b, _))| a == b);
    match &mut scratch.reading {
        Some(reading) if same_shape => {
            let derived = scratch.derived.iter().map(|(_, v)| FieldValue::Float(*v));
            let fields = scratch.fields.drain(..).chain(derived);
            refill(reading, &mut scratch.tag_values, fields, timestamp);
        }
        _ => {
            scratch.reading = None;
            let mut builder = Reading::builder(rule.measurement.as_str());
            for (tag, text) in rule.tags.iter().zip(&scratch.tag_values) {
                builder = builder.tag(tag.key.as_str(), text.as_str());
            }
            for ((key, _, _), value) in rule.fields.iter().zip(scratch.fields.drain(..)) {
                builder = builder.field(key.as_str(), value);
            }
            for &(index, v) in &scratch.derived {
                builder = builder.field(rule.derive[index].0.as_str(), v);
            }
            let mut reading = builder
                .timestamp(timestamp)
                .build()
                .map_err(|e| e.to_string())?;
            if !context.defaults.is_empty() {
                reading.add_default_tags(context.defaults);
            }
            scratch.shape.clear();
            scratch
                .shape
                .extend(scratch.derived.iter().map(|(i, _)| *i));
            scratch.reading = Some(reading);
        }
    }
    Ok(())
}

/// Overwrites the values of a reading of the same shape: the rule's tags first (default tags
/// after them keep their values), then its fields, then its derived fields.
/// The tag values are swapped in, not copied: the scratch strings take the old values' buffers
/// and are cleared before the next message is written into them.
fn refill(
    reading: &mut Reading,
    tag_values: &mut [String],
    field_values: impl Iterator<Item = FieldValue>,
    timestamp: Timestamp,
) {
    for (slot, text) in reading.tag_values_mut().zip(tag_values) {
        std::mem::swap(slot, text);
    }
    for (slot, value) in reading.field_values_mut().zip(field_values) {
        *slot = value;
    }
    reading.set_timestamp(Some(timestamp));
}

fn trimmed(text: &str) -> String {
    crate::text::excerpt(text, 80)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KLINE: &str = r#"
[[rule]]
name = "kline"
when = { "/e" = "kline" }
measurement = "binance_kline"
timestamp = { path = "/E", unit = "ms" }
tags = { symbol = "/s" }
fields.high = { path = "/k/h", type = "float" }
fields.low = "/k/l"
fields.trades = { path = "/k/n", type = "integer" }
derive = [
  { name = "spread", expr = "high - low" },
  { name = "delta", expr = "delta(spread)" },
  { name = "abs_delta", expr = "abs(delta(spread))" },
]
"#;

    fn kline(e: i64, high: &str, low: &str) -> String {
        format!(r#"{{"e":"kline","E":{e},"s":"BNBUSDT","k":{{"h":"{high}","l":"{low}","n":3}}}}"#)
    }

    #[test]
    fn maps_spread_and_delta_per_series() {
        let mut mapping = Mapping::from_toml(KLINE).unwrap();
        let arrival = Timestamp::new(0, Precision::Nanoseconds);
        let first = mapping.apply(&kline(1000, "612.37", "611.53"), arrival);
        assert!(first.errors.is_empty(), "{:?}", first.errors);
        let r = &first.readings[0];
        assert_eq!(
            r.timestamp(),
            Some(Timestamp::new(1000, Precision::Milliseconds))
        );
        assert_eq!(r.field("spread"), Some(&FieldValue::Float(612.37 - 611.53)));
        assert_eq!(r.field("delta"), None, "no previous message yet");
        let second = mapping.apply(&kline(2000, "612.37", "610.79"), arrival);
        let r = &second.readings[0];
        assert_eq!(
            r.field("delta"),
            Some(&FieldValue::Float((612.37 - 610.79) - (612.37 - 611.53)))
        );
        assert_eq!(r.field("trades"), Some(&FieldValue::Integer(3)));
        let ack = mapping.apply(r#"{"result":null,"id":1}"#, arrival);
        assert!(!ack.matched && ack.readings.is_empty() && ack.errors.is_empty());
    }

    #[test]
    fn message_errors_are_per_rule() {
        let mut mapping = Mapping::from_toml(KLINE).unwrap();
        let arrival = Timestamp::new(0, Precision::Nanoseconds);
        let bad = mapping.apply(&kline(1, "abc", "1"), arrival);
        assert_eq!(mapping.errors_by_rule().collect::<Vec<_>>(), [("kline", 1)]);
        assert_eq!(
            bad.errors[0].to_string(),
            "rule \"kline\": /k/h = \"abc\" is not a number"
        );
        let missing = mapping.apply(r#"{"e":"kline","E":1,"s":"X","k":{"h":"1"}}"#, arrival);
        assert_eq!(
            missing.errors[0].to_string(),
            "rule \"kline\": /k/l is missing"
        );
        let garbage = mapping.apply("{nope", arrival);
        assert_eq!(
            garbage.errors[0].reason,
            "the message is not JSON: expected a string key at byte 1"
        );
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert_eq!(
            mapping.apply(&deep, arrival).errors[0].reason,
            "the message is not JSON: objects and arrays nest deeper than 127 levels at byte 127"
        );
    }

    #[test]
    fn bad_files_say_which_rule_and_part() {
        let cases = [
            (
                "[[rule]]\nname = \"r\"\nmeasurement = \"m\"\nfields.x = \"k\"\n",
                "rule \"r\": field \"x\": path \"k\" must be a JSON Pointer starting with '/'",
            ),
            (
                "[[rule]]\nname = \"r\"\nmeasurement = \"m\"\nfields.x = { path = \"/k\", type = \"decimal\" }\n",
                "rule \"r\": field \"x\": unknown type \"decimal\": use float, integer, unsigned, boolean or string",
            ),
            (
                "[[rule]]\nname = \"r\"\nmeasurement = \"m\"\nfields.x = \"/x\"\nderive = [{ name = \"d\", expr = \"x - y\" }]\n",
                "rule \"r\": derive \"d\": \"y\" is not a numeric field or an earlier derived field",
            ),
            (
                "[[rule]]\nname = \"r\"\nmeasurement = \"m\"\nfields.x = \"/x\"\nderive = [{ name = \"d\", expr = \"x -\" }]\n",
                "rule \"r\": derive \"d\": \"x -\" at byte 3: the expression ends too soon",
            ),
            (
                "[[rule]]\nname = \"r\"\nmeasurement = \"m\"\n",
                "rule \"r\": has no fields",
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(Mapping::from_toml(text).unwrap_err().to_string(), expected);
        }
    }
}
