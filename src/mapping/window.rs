//! Tumbling windows of message time, per series: `count()`, `sum(x)`, `min(x)`, `max(x)`,
//! `first(x)` and `last(x)` of an expression over the messages that fall in the window.
//!
//! A window `[start, start + every)` is aligned to the Unix epoch in the rule's timestamp
//! unit. It closes when a message of the same rule arrives with a time in a later window
//! (whatever its series), when its series has had no message for the window's `idle` time,
//! and when the mapping is finished; it is then emitted once, stamped with its start. With
//! `pace`, it is also emitted while open, at most once per `pace` of message time, with a
//! boolean field `closed` that is false until the closing emission.

use super::expr::Expr;
use super::rule::{Accumulator, AggregateSpec, Rule};
use super::schema::check_names;
use crate::reading::{DefaultTags, Reading, Timestamp};

/// Parses `sum(price * quantity)`; an error is the byte offset and the reason.
pub(super) fn parse_aggregate(
    name: &str,
    text: &str,
    known: &[String],
) -> Result<AggregateSpec, (usize, String)> {
    let trimmed = text.trim_end();
    let open = trimmed
        .find('(')
        .filter(|_| trimmed.ends_with(')'))
        .ok_or_else(|| {
            (
                0,
                "expected count(), sum(x), min(x), max(x), first(x) or last(x)".to_owned(),
            )
        })?;
    let function = trimmed[..open].trim();
    let accumulator = match function {
        "count" => Accumulator::Count,
        "sum" => Accumulator::Sum,
        "min" => Accumulator::Min,
        "max" => Accumulator::Max,
        "first" => Accumulator::First,
        "last" => Accumulator::Last,
        other => {
            return Err((
                0,
                format!("unknown aggregate {other:?}: use count, sum, min, max, first or last"),
            ));
        }
    };
    let inner = &trimmed[open + 1..trimmed.len() - 1];
    let of = if inner.trim().is_empty() {
        if accumulator != Accumulator::Count {
            return Err((open + 1, format!("{function}() needs an expression")));
        }
        None
    } else {
        let mut slots = 0;
        let expr = Expr::parse(inner, &mut slots).map_err(|e| (open + 1 + e.offset, e.reason))?;
        if slots > 0 {
            return Err((
                open + 1,
                "delta, rate and cumulative are not available inside a window aggregate".into(),
            ));
        }
        check_names(&expr, known).map_err(|reason| (open + 1, reason))?;
        Some(expr)
    };
    Ok(AggregateSpec {
        name: name.to_owned(),
        accumulator,
        of,
    })
}

/// One series' open window.
#[derive(Debug)]
pub(super) struct Window {
    /// Start of the window, in the rule's timestamp unit.
    pub start: i64,
    /// Messages in the window.
    pub count: u64,
    /// Per aggregate (rule order): the value so far, `None` before the first value.
    pub values: Vec<Option<f64>>,
    /// Message time of the last emission while open.
    pub paced: Option<i64>,
    /// The series' tag values, for the reading.
    pub tags: Vec<String>,
}

impl Window {
    pub(super) fn new(start: i64, aggregates: usize, tags: &[String]) -> Window {
        Window {
            start,
            count: 0,
            values: vec![None; aggregates],
            paced: None,
            tags: tags.to_vec(),
        }
    }

    /// Adds one message: `inputs` holds each aggregate's expression value (rule order).
    pub(super) fn add(&mut self, aggregates: &[AggregateSpec], inputs: &[Option<f64>]) {
        self.count += 1;
        for ((spec, slot), input) in aggregates.iter().zip(&mut self.values).zip(inputs) {
            let Some(v) = *input else { continue };
            *slot = Some(match (spec.accumulator, *slot) {
                (_, None) => v,
                (Accumulator::Count, Some(_)) => 0.0,
                (Accumulator::Sum, Some(s)) => s + v,
                (Accumulator::Min, Some(s)) => s.min(v),
                (Accumulator::Max, Some(s)) => s.max(v),
                (Accumulator::First, Some(s)) => s,
                (Accumulator::Last, Some(_)) => v,
            });
        }
    }

    /// The window as a reading of `rule`: its tags, one field per aggregate (`count()` as an
    /// integer, the others as floats; an aggregate with no value is left out), `closed`
    /// when the window is paced, stamped with the window start.
    pub(super) fn reading(
        &self,
        rule: &Rule,
        closed: bool,
        defaults: &DefaultTags,
    ) -> Result<Reading, String> {
        let Some(window) = &rule.window else {
            return Err("the rule has no window".into());
        };
        let Some((_, unit)) = rule.timestamp else {
            return Err("the rule has no timestamp".into());
        };
        let mut builder = Reading::builder(rule.measurement.as_str());
        for (spec, value) in rule.tags.iter().zip(&self.tags) {
            builder = builder.tag(spec.key.as_str(), value.as_str());
        }
        for (spec, value) in window.aggregates.iter().zip(&self.values) {
            builder = match (spec.accumulator, value) {
                (Accumulator::Count, _) => {
                    builder.field(spec.name.as_str(), self.count.min(i64::MAX as u64) as i64)
                }
                (_, Some(v)) => builder.field(spec.name.as_str(), *v),
                (_, None) => builder,
            };
        }
        if window.pace.is_some() {
            builder = builder.field("closed", closed);
        }
        let mut reading = builder
            .timestamp(Timestamp::new(self.start, unit))
            .build()
            .map_err(|e| e.to_string())?;
        if !defaults.is_empty() {
            reading.add_default_tags(defaults);
        }
        Ok(reading)
    }
}

/// The start of the window of `every` units that holds `time`.
pub(super) fn window_start(time: i64, every: i64) -> i64 {
    time.div_euclid(every).saturating_mul(every)
}
