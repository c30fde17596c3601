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

use crate::reading::{FieldValue, Precision, Reading, Timestamp};
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

    /// Maps one message that arrived at `arrival`.
    pub fn apply(&mut self, message: &str, arrival: Timestamp) -> Mapped {
        let mut mapped = Mapped::default();
        let values = match self.paths.extract(message) {
            Ok(values) => values,
            Err(e) => {
                mapped.matched = true;
                mapped.errors.push(RuleError {
                    rule: "-".into(),
                    reason: format!("the message is not JSON: {e}"),
                });
                return mapped;
            }
        };
        for (index, rule) in self.rules.iter().enumerate() {
            if !rule.when.iter().all(|(path, expected)| {
                path.get(&values).is_some_and(|leaf| leaf.matches(expected))
            }) {
                continue;
            }
            mapped.matched = true;
            match apply_rule(rule, index, &values, arrival, &mut self.state) {
                Ok(reading) => mapped.readings.push(reading),
                Err(reason) => {
                    self.errors[index] += 1;
                    mapped.errors.push(RuleError {
                        rule: rule.name.clone(),
                        reason,
                    });
                }
            }
        }
        if mapped.readings.len() > self.max_readings {
            mapped.errors.push(RuleError {
                rule: "-".into(),
                reason: format!(
                    "the message maps to {} readings, more than max_readings_per_message = {}",
                    mapped.readings.len(),
                    self.max_readings
                ),
            });
            mapped.readings.clear();
        }
        mapped
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

fn apply_rule(
    rule: &Rule,
    index: usize,
    value: &[Option<Leaf<'_>>],
    arrival: Timestamp,
    state: &mut HashMap<(usize, u64), SeriesState>,
) -> Result<Reading, String> {
    use std::hash::{Hash, Hasher};
    let mut builder = Reading::builder(rule.measurement.clone());
    // The series is the rule's measurement and its tag values: a hash of them keys the state.
    let mut series = std::collections::hash_map::DefaultHasher::new();
    for tag in &rule.tags {
        let raw = at(value, &tag.path)?;
        let text = raw.text().ok_or_else(|| {
            format!(
                "{} = {} is not a scalar",
                tag.path,
                trimmed(&raw.to_string())
            )
        })?;
        let text = match &tag.map {
            None => text,
            Some(map) => map.get(&text).cloned().ok_or_else(|| {
                format!(
                    "{} = {text:?} is not in the map of tag {:?}",
                    tag.path, tag.key
                )
            })?,
        };
        text.hash(&mut series);
        builder = builder.tag(tag.key.clone(), text);
    }
    let timestamp = match &rule.timestamp {
        None => arrival,
        Some((path, unit)) => {
            let raw = at(value, path)?;
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
    let mut numbers: Vec<(&str, f64)> = Vec::new();
    for (key, path, kind) in &rule.fields {
        let field = field_value(at(value, path)?, *kind, path)?;
        match &field {
            FieldValue::Float(v) => numbers.push((key, *v)),
            FieldValue::Integer(v) => numbers.push((key, *v as f64)),
            FieldValue::Unsigned(v) => numbers.push((key, *v as f64)),
            _ => {}
        }
        builder = builder.field(key.clone(), field);
    }
    let seconds = timestamp
        .to_precision(Precision::Nanoseconds)
        .unwrap_or(i64::MAX) as f64
        / 1e9;
    let series_state = state.entry((index, series.finish())).or_default();
    let mut derived: Vec<(&str, f64)> = Vec::new();
    for (name, expr) in &rule.derive {
        let lookup = |n: &str| {
            numbers
                .iter()
                .chain(derived.iter())
                .find(|(k, _)| *k == n)
                .map(|(_, v)| *v)
        };
        match expr.eval(&lookup, seconds, series_state) {
            Ok(Some(v)) => derived.push((name, v)),
            Ok(None) => {}
            Err(e) => return Err(format!("derive {name:?}: {e}")),
        }
    }
    for (name, v) in derived {
        builder = builder.field(name, v);
    }
    builder
        .timestamp(timestamp)
        .build()
        .map_err(|e| e.to_string())
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
        assert!(
            garbage.errors[0]
                .reason
                .starts_with("the message is not JSON")
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
