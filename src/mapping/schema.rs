//! The mapping file's TOML schema, and its compilation into [`Rule`]s.

use serde::Deserialize;

use super::MappingError;
use super::expr::Expr;
use super::rule::{Pointer, Rule, Test, WindowSpec};
use super::values::{Spec, compile_field, compile_tag};
use crate::reading::Precision;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct MappingFile {
    #[serde(default = "default_max_readings")]
    pub max_readings_per_message: usize,
    /// Series (rule, measurement and tag values) kept at most, over all rules.
    #[serde(default = "default_max_series")]
    pub max_series: usize,
    /// A series' state (for `delta`, `rate`, windows) is dropped after this long without a
    /// message, by arrival time.
    #[serde(default = "default_series_idle")]
    pub series_idle: String,
    /// A message time further than this ahead of both the latest message time and the
    /// arrival time is refused: one bad clock must not close every window and refuse the
    /// messages that follow.
    #[serde(default = "default_max_ahead")]
    pub max_ahead: String,
    pub rule: Vec<RuleFile>,
}

fn default_max_readings() -> usize {
    64
}

/// The default of `max_series`, per mapping.
pub(super) const DEFAULT_MAX_SERIES: usize = 10_000;

fn default_max_series() -> usize {
    DEFAULT_MAX_SERIES
}

fn default_max_ahead() -> String {
    "1h".to_owned()
}

fn default_series_idle() -> String {
    "10m".to_owned()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RuleFile {
    name: String,
    #[serde(default)]
    when: toml::Table,
    measurement: String,
    timestamp: Option<TimestampFile>,
    each: Option<String>,
    #[serde(default)]
    tags: toml::Table,
    #[serde(default)]
    fields: toml::Table,
    #[serde(default)]
    derive: Vec<DeriveFile>,
    window: Option<WindowFile>,
    #[serde(default)]
    aggregate: Vec<DeriveFile>,
    max_series: Option<usize>,
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WindowFile {
    every: String,
    pace: Option<String>,
    idle: Option<String>,
}

/// A window's default `idle`: its length plus this, so that a stream replayed or delayed a
/// little does not close windows while their messages still come.
const DEFAULT_IDLE_EXTRA_NS: i64 = 10_000_000_000;

/// `250ms`, `1s`, `2m`, `1h` (also `ns`, `us`) in nanoseconds.
pub(super) fn parse_duration_ns(text: &str) -> Result<i64, String> {
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: i64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration: expected e.g. 500ms, 1s, 1m"))?;
    let scale: i64 = match unit {
        "ns" => 1,
        "us" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "m" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        other => {
            return Err(format!(
                "unknown unit {other:?} in {text:?}: use ms, s, m or h"
            ));
        }
    };
    number
        .checked_mul(scale)
        .filter(|ns| *ns > 0)
        .ok_or_else(|| format!("{text:?} must be more than zero and at most a few centuries"))
}

pub(super) fn compile(file: RuleFile, max_series: usize) -> Result<Rule, MappingError> {
    let name = file.name.clone();
    let error = |part: &str, text: Option<&str>, reason: String| {
        MappingError::rule(&name, Some(part.to_owned()), text, reason)
    };
    let check_path = |path: &str, what: &str| {
        if path.is_empty() || path.starts_with('/') {
            Ok(())
        } else {
            Err(error(
                what,
                Some(path),
                format!("path {path:?} must be a JSON Pointer starting with '/'"),
            ))
        }
    };

    let mut when = Vec::new();
    for (path, expected) in file.when {
        check_path(&path, "when")?;
        let part = format!("when {path:?}");
        let test = match expected {
            toml::Value::Table(t) if t.len() == 1 && t.contains_key("starts_with") => {
                match t.get("starts_with") {
                    Some(toml::Value::String(s)) => Test::StartsWith(s.clone()),
                    _ => return Err(error(&part, None, "starts_with takes a string".into())),
                }
            }
            toml::Value::Table(t) if t.len() == 1 && t.contains_key("ends_with") => {
                match t.get("ends_with") {
                    Some(toml::Value::String(s)) => Test::EndsWith(s.clone()),
                    _ => return Err(error(&part, None, "ends_with takes a string".into())),
                }
            }
            other => Test::Equals(
                serde_json::to_value(&other).map_err(|e| error(&part, None, e.to_string()))?,
            ),
        };
        when.push((Pointer::new(path), test));
    }

    let timestamp = match &file.timestamp {
        None => None,
        Some(t) => {
            check_path(&t.path, "timestamp")?;
            let unit = t
                .unit
                .parse::<Precision>()
                .map_err(|e| error("timestamp", Some(&t.unit), e.to_string()))?;
            Some((Pointer::new(t.path.clone()), unit))
        }
    };

    let each = match file.each {
        None => None,
        Some(path) => {
            check_path(&path, "each")?;
            Some(Pointer::new(path))
        }
    };
    let spec = Spec {
        rule: &name,
        in_each: each.is_some(),
    };
    let tags = file
        .tags
        .into_iter()
        .map(|(key, value)| compile_tag(&spec, key, value))
        .collect::<Result<Vec<_>, _>>()?;
    let fields = file
        .fields
        .into_iter()
        .map(|(key, value)| compile_field(&spec, key, value))
        .collect::<Result<Vec<_>, _>>()?;

    let mut known: Vec<String> = fields
        .iter()
        .filter(|f| f.is_numeric())
        .map(|f| f.key.clone())
        .collect();
    let mut slots = 0;
    let mut derive = Vec::new();
    for d in file.derive {
        let part = format!("derive {:?}", d.name);
        let parsed = Expr::parse(&d.expr, &mut slots)
            .map_err(|e| error(&part, Some(&d.expr), e.reason).at_byte(e.offset))?;
        check_names(&parsed, &known).map_err(|reason| error(&part, Some(&d.expr), reason))?;
        if parsed.is_running() && each.is_none() {
            return Err(error(
                &part,
                Some(&d.expr),
                "cumulative() needs a rule with each = \"/array\"".into(),
            ));
        }
        known.push(d.name.clone());
        derive.push((d.name, parsed));
    }
    if fields.is_empty() && derive.is_empty() {
        return Err(MappingError::rule(&name, None, None, "has no fields"));
    }

    let window = match file.window {
        None if file.aggregate.is_empty() => None,
        None => {
            return Err(error(
                "aggregate",
                None,
                "aggregates need a window = { every = \"…\" }".into(),
            ));
        }
        Some(w) => {
            let Some((_, unit)) = timestamp else {
                return Err(error(
                    "window",
                    None,
                    "windows follow message time: the rule needs a timestamp".into(),
                ));
            };
            if each.is_some() {
                return Err(error(
                    "window",
                    None,
                    "a rule cannot have both each and window".into(),
                ));
            }
            let in_unit = |text: &str| -> Result<i64, MappingError> {
                let ns = parse_duration_ns(text).map_err(|r| error("window", Some(text), r))?;
                let per_unit = 1_000_000_000 / unit.per_second();
                if ns % per_unit != 0 {
                    return Err(error(
                        "window",
                        Some(text),
                        format!("{text:?} is not a whole number of the timestamp's unit {unit}"),
                    ));
                }
                Ok(ns / per_unit)
            };
            let every = in_unit(&w.every)?;
            let pace = w.pace.as_deref().map(in_unit).transpose()?;
            let idle_ns = match &w.idle {
                Some(text) => {
                    parse_duration_ns(text).map_err(|r| error("window", Some(text), r))?
                }
                None => parse_duration_ns(&w.every)
                    .unwrap_or(0)
                    .saturating_add(DEFAULT_IDLE_EXTRA_NS),
            };
            if file.aggregate.is_empty() {
                return Err(error(
                    "window",
                    None,
                    "a window needs aggregate = [{ name = \"…\", expr = \"sum(x)\" }, …]".into(),
                ));
            }
            let mut aggregates = Vec::new();
            for a in file.aggregate {
                let part = format!("aggregate {:?}", a.name);
                let aggregate = super::window::parse_aggregate(&a.name, &a.expr, &known).map_err(
                    |(offset, reason)| error(&part, Some(&a.expr), reason).at_byte(offset),
                )?;
                aggregates.push(aggregate);
            }
            Some(WindowSpec {
                every,
                pace,
                idle_ns,
                aggregates,
            })
        }
    };
    let max_series = match file.max_series {
        Some(0) => return Err(error("max_series", None, "must be at least 1".into())),
        Some(n) => n.min(max_series),
        None => max_series,
    };
    Ok(Rule {
        name: file.name,
        when,
        measurement: file.measurement,
        timestamp,
        each,
        tags,
        fields,
        derive,
        window,
        max_series,
    })
}

/// Every name `expr` reads must be in `known`.
pub(super) fn check_names(expr: &Expr, known: &[String]) -> Result<(), String> {
    let mut names = Vec::new();
    expr.names(&mut names);
    match names.iter().find(|n| !known.contains(n)) {
        Some(unknown) => Err(format!(
            "{unknown:?} is not a numeric field or an earlier derived field"
        )),
        None => Ok(()),
    }
}
