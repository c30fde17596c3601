//! Applying one compiled rule to one message's extracted values.

use std::collections::HashMap;

use super::Scratch;
use super::expr::SeriesState;
use super::extract::Leaf;
use super::rule::{FieldType, Pointer, Rule};
use crate::reading::{DefaultTags, FieldValue, Precision, Reading, Timestamp};

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
pub(super) struct RuleContext<'a, 'm> {
    /// The rule's index, which keys its series' state.
    pub index: usize,
    pub values: &'a [Option<Leaf<'m>>],
    pub arrival: Timestamp,
    pub defaults: &'a DefaultTags,
}

/// Computes the rule's reading for one message into `scratch.reading`.
pub(super) fn apply_rule(
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
    for (_, path, kind) in &rule.fields {
        let field = field_value(at(values, path)?, *kind, path)?;
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
            if let Err(e) = reading.refill(&mut scratch.tag_values, fields, Some(timestamp)) {
                scratch.reading = None;
                return Err(e.to_string());
            }
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

fn trimmed(text: &str) -> String {
    crate::text::excerpt(text, 80)
}
