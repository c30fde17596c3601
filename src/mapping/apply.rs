//! Applying one compiled rule to one message's extracted values.

use std::collections::hash_map::{DefaultHasher, RandomState};
use std::hash::{BuildHasher, Hash, Hasher};

use super::Scratch;
use super::extract::Leaf;
use super::rule::{Rule, Source, TagSpec};
use super::series::SeriesTable;
use super::values::{Element, apply_text, field_value, resolve};
use super::window::{Window, window_start};
use crate::reading::{DefaultTags, FieldValue, Precision, Reading, Timestamp};

/// What a rule is applied to.
pub(super) struct RuleContext<'a, 'm> {
    /// The rule's index, which keys its series' state.
    pub index: usize,
    pub values: &'a [Option<Leaf<'m>>],
    pub arrival: Timestamp,
    pub defaults: &'a DefaultTags,
    /// The mapping's random key for series hashes, so that no stream can aim at collisions.
    pub seed: &'a RandomState,
    /// How far ahead of the arrival time a message time may be, in nanoseconds.
    pub max_ahead: i64,
    /// For rules without a time path: the latest message time, when stamping by it.
    pub clock: Option<Timestamp>,
    /// The latest message time any rule accepted.
    pub latest: Option<Timestamp>,
}

/// Window bookkeeping of one rule: the latest window start its messages reached.
pub(super) type Latest = Option<i64>;

/// Computes the rule's readings for one message: refilled in `scratch.slots[..scratch.used]`
/// and, for windows, built in `scratch.emitted`.
///
/// What does not depend on the element of an `each` array (the message time, tags from the
/// message or constants, their share of the series key) is computed once per message.
pub(super) fn apply_rule(
    rule: &Rule,
    context: RuleContext<'_, '_>,
    table: &mut SeriesTable,
    latest: &mut Latest,
    scratch: &mut Scratch,
) -> Result<(), String> {
    scratch.used = 0;
    scratch.time = None;
    let values: &[Option<Leaf<'_>>] = context.values;
    let mut items = match &rule.each {
        None => None,
        Some(each) => match each.get(values) {
            Some(leaf) => match leaf.items() {
                Some(items) => Some(items.peekable()),
                None => {
                    return Err(format!(
                        "{each} = {} is not an array",
                        crate::text::excerpt(&leaf.to_string(), 80)
                    ));
                }
            },
            None => return Err(format!("{each} is missing")),
        },
    };
    if let Some(items) = items.as_mut()
        && items.peek().is_none()
    {
        return Ok(());
    }
    // The series is the rule and its tag values: a hash of them keys the state.
    let mut series = context.seed.build_hasher();
    scratch.tag_values.resize_with(rule.tags.len(), String::new);
    for (tag, text) in rule.tags.iter().zip(&mut scratch.tag_values) {
        if !per_element(tag) {
            tag_text(tag, values, None, text)?;
            text.hash(&mut series);
        }
    }
    let timestamp = message_time(rule, values, &context)?;
    if rule.timestamp.is_some() {
        scratch.time = Some(timestamp);
    }
    let Some(items) = items else {
        return one(
            rule, &context, None, timestamp, series, table, latest, scratch,
        );
    };
    scratch.running.clear();
    for (index, item) in items.enumerate() {
        let element = Some((index, &*item));
        one(
            rule,
            &context,
            element,
            timestamp,
            series.clone(),
            table,
            latest,
            scratch,
        )?;
    }
    Ok(())
}

/// Whether a tag's value changes from one element of the `each` array to the next.
fn per_element(tag: &TagSpec) -> bool {
    matches!(tag.source, Source::Element(_) | Source::Index)
}

/// Writes a tag's value for this message (and element) into `text`.
fn tag_text(
    tag: &TagSpec,
    values: &[Option<Leaf<'_>>],
    element: Element<'_>,
    text: &mut String,
) -> Result<(), String> {
    text.clear();
    match resolve(&tag.source, values, element) {
        Some(raw) => {
            if !raw.write_text(text) {
                return Err(format!(
                    "{} = {} is not a scalar",
                    tag.source,
                    crate::text::excerpt(&raw.to_string(), 80)
                ));
            }
            apply_text(&tag.text, text)
                .map_err(|e| format!("tag {:?} from {}: {e}", tag.key, tag.source))
        }
        None => match &tag.default {
            Some(default) => {
                text.push_str(default);
                Ok(())
            }
            None => Err(format!("{} is missing", tag.source)),
        },
    }
}

/// The rule's time for this message: from its timestamp path, or the arrival time (or the
/// mapping's message clock, when it stamps by that). A time further than `max_ahead` ahead of
/// both the latest message time and the arrival is refused: it would move the rule's windows
/// on and shut out every later message. A genuine jump (a stream back after a long pause)
/// passes on the arrival time; a machine with a wrong clock passes on the message times.
fn message_time(
    rule: &Rule,
    values: &[Option<Leaf<'_>>],
    context: &RuleContext<'_, '_>,
) -> Result<Timestamp, String> {
    let Some((path, unit)) = &rule.timestamp else {
        return Ok(context.clock.unwrap_or(context.arrival));
    };
    let raw = path
        .get(values)
        .ok_or_else(|| format!("{path} is missing"))?;
    let number = match raw {
        Leaf::I64(n) => Some(*n),
        Leaf::Str(s) => s.trim().parse().ok(),
        _ => None,
    };
    let number = number.ok_or_else(|| {
        format!(
            "{path} = {} is not an integer time",
            crate::text::excerpt(&raw.to_string(), 80)
        )
    })?;
    let time = Timestamp::new(number, *unit);
    // The first time is taken as it comes: a machine whose own clock is wrong still maps.
    let Some(latest) = context.latest else {
        return Ok(time);
    };
    let reference = latest
        .to_precision(Precision::Nanoseconds)
        .max(context.arrival.to_precision(Precision::Nanoseconds));
    if let Some(reference) = reference {
        let nanos = time.to_precision(Precision::Nanoseconds);
        if nanos.is_none_or(|nanos| nanos > reference.saturating_add(context.max_ahead)) {
            return Err(format!(
                "{path} = {number} is more than max_ahead ({}) ahead of both the latest message time and the arrival time: refused",
                duration_text(context.max_ahead)
            ));
        }
    }
    Ok(time)
}

/// Nanoseconds as the mapping file writes durations: `1h`, `90s`, `250ms`.
fn duration_text(nanos: i64) -> String {
    const UNITS: [(i64, &str); 6] = [
        (3_600_000_000_000, "h"),
        (60_000_000_000, "m"),
        (1_000_000_000, "s"),
        (1_000_000, "ms"),
        (1_000, "us"),
        (1, "ns"),
    ];
    let (size, unit) = UNITS
        .iter()
        .find(|(size, _)| nanos % size == 0)
        .copied()
        .unwrap_or((1, "ns"));
    format!("{}{unit}", nanos / size)
}

/// One reading (or one window update) from the message, or from one element of its array;
/// `series` holds the hash of the tags that do not depend on the element.
#[allow(clippy::too_many_arguments)]
fn one<'a>(
    rule: &Rule,
    context: &RuleContext<'a, '_>,
    element: Element<'a>,
    timestamp: Timestamp,
    mut series: DefaultHasher,
    table: &mut SeriesTable,
    latest: &mut Latest,
    scratch: &mut Scratch,
) -> Result<(), String> {
    let values: &'a [Option<Leaf<'a>>] = context.values;
    if element.is_some() {
        for (tag, text) in rule.tags.iter().zip(&mut scratch.tag_values) {
            if per_element(tag) {
                tag_text(tag, values, element, text)?;
                text.hash(&mut series);
            }
        }
    }
    scratch.fields.clear();
    for spec in &rule.fields {
        let value = match resolve(&spec.source, values, element) {
            None => spec
                .default
                .clone()
                .ok_or_else(|| format!("{} is missing", spec.source))?,
            Some(raw) if spec.text.is_empty() => field_value(&raw, spec.kind, &spec.source)?,
            Some(raw) => {
                let mut text = raw
                    .text()
                    .ok_or_else(|| format!("{} is not a scalar", spec.source))?;
                apply_text(&spec.text, &mut text)
                    .map_err(|e| format!("field {:?} from {}: {e}", spec.key, spec.source))?;
                let leaf = Leaf::Str(text.into());
                field_value(&leaf, spec.kind, &spec.source)?
            }
        };
        scratch.fields.push(value);
    }
    let arrival_ns = context
        .arrival
        .to_precision(Precision::Nanoseconds)
        .unwrap_or(i64::MAX);
    if let Some(window) = &rule.window {
        let time = timestamp.value;
        let start = window_start(time, window.every);
        match *latest {
            Some(reached) if start < reached => {
                return Err(format!(
                    "message time {time} falls in a window that already closed (the rule reached {reached})"
                ));
            }
            Some(reached) if start > reached => {
                for closed in table.take_windows_before(context.index, start) {
                    scratch
                        .emitted
                        .push(closed.reading(rule, true, context.defaults)?);
                }
            }
            _ => {}
        }
        *latest = Some(start);
    }
    let Some(state) = table.get(context.index, rule.max_series, series.finish(), arrival_ns) else {
        return Ok(());
    };
    let seconds = timestamp
        .to_precision(Precision::Nanoseconds)
        .unwrap_or(i64::MAX) as f64
        / 1e9;
    scratch.derived.clear();
    for (index, (name, expr)) in rule.derive.iter().enumerate() {
        let lookup = |n: &str| lookup(rule, &scratch.fields, &scratch.derived, n);
        match expr.eval_running(&lookup, seconds, &mut state.derive, &mut scratch.running) {
            Ok(Some(v)) => scratch.derived.push((index, v)),
            Ok(None) => {}
            Err(e) => return Err(format!("derive {name:?}: {e}")),
        }
    }
    if let Some(window) = &rule.window {
        let lookup = |n: &str| lookup(rule, &scratch.fields, &scratch.derived, n);
        let mut inputs = [None; 16];
        let mut heap = Vec::new();
        let inputs: &mut [Option<f64>] = if window.aggregates.len() <= inputs.len() {
            &mut inputs[..window.aggregates.len()]
        } else {
            heap.resize(window.aggregates.len(), None);
            &mut heap
        };
        for (slot, spec) in inputs.iter_mut().zip(&window.aggregates) {
            if let Some(expr) = &spec.of {
                *slot = expr
                    .eval(&lookup, seconds, &mut Vec::new())
                    .map_err(|e| format!("aggregate {:?}: {e}", spec.name))?;
            }
        }
        let start = window_start(timestamp.value, window.every);
        if state.closed.is_some_and(|closed| start <= closed) {
            return Err(format!(
                "message time {} falls in a window closed for being idle",
                timestamp.value
            ));
        }
        let open = state.window.get_or_insert_with(|| {
            Window::new(start, window.aggregates.len(), &scratch.tag_values)
        });
        open.add(&window.aggregates, inputs);
        if let Some(pace) = window.pace {
            let time = timestamp.value;
            if open
                .paced
                .is_none_or(|then| time.saturating_sub(then) >= pace)
            {
                open.paced = Some(time);
                scratch
                    .emitted
                    .push(open.reading(rule, false, context.defaults)?);
            }
        }
        return Ok(());
    }
    fill_slot(rule, context, timestamp, scratch)
}

/// The value of a numeric field or an earlier derived field, for expressions.
fn lookup(rule: &Rule, fields: &[FieldValue], derived: &[(usize, f64)], name: &str) -> Option<f64> {
    let field = rule
        .fields
        .iter()
        .zip(fields)
        .find(|(spec, _)| spec.key == name)
        .and_then(|(_, value)| match value {
            FieldValue::Float(v) => Some(*v),
            FieldValue::Integer(v) => Some(*v as f64),
            FieldValue::Unsigned(v) => Some(*v as f64),
            _ => None,
        });
    field.or_else(|| {
        derived
            .iter()
            .find(|(i, _)| rule.derive[*i].0 == name)
            .map(|(_, v)| *v)
    })
}

/// Writes the reading into the next slot: refilled in place when the slot's reading has the
/// same derived fields, built anew otherwise.
fn fill_slot(
    rule: &Rule,
    context: &RuleContext<'_, '_>,
    timestamp: Timestamp,
    scratch: &mut Scratch,
) -> Result<(), String> {
    if scratch.slots.len() <= scratch.used {
        scratch.slots.push(Default::default());
    }
    let slot = &mut scratch.slots[scratch.used];
    let same_shape = slot.reading.is_some()
        && slot.shape.len() == scratch.derived.len()
        && slot
            .shape
            .iter()
            .zip(&scratch.derived)
            .all(|(a, (b, _))| a == b);
    match &mut slot.reading {
        Some(reading) if same_shape => {
            let derived = scratch.derived.iter().map(|(_, v)| FieldValue::Float(*v));
            let fields = scratch.fields.drain(..).chain(derived);
            // The same slot of the next message is mostly the same series (the same level of
            // the same book): its tags are then left as they are, checked already.
            let tags = reading.tags();
            let same_tags = tags.len() >= scratch.tag_values.len()
                && tags
                    .iter()
                    .zip(&scratch.tag_values)
                    .all(|((_, a), b)| a == b);
            let tag_values: &mut [String] = if same_tags {
                &mut []
            } else {
                &mut scratch.tag_values
            };
            if let Err(e) = reading.refill(tag_values, fields, Some(timestamp)) {
                slot.reading = None;
                return Err(e.to_string());
            }
        }
        _ => {
            slot.reading = None;
            let mut builder = Reading::builder(rule.measurement.as_str());
            for (tag, text) in rule.tags.iter().zip(&scratch.tag_values) {
                builder = builder.tag(tag.key.as_str(), text.as_str());
            }
            for (spec, value) in rule.fields.iter().zip(scratch.fields.drain(..)) {
                builder = builder.field(spec.key.as_str(), value);
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
            slot.shape.clear();
            slot.shape.extend(scratch.derived.iter().map(|(i, _)| *i));
            slot.reading = Some(reading);
        }
    }
    scratch.used += 1;
    Ok(())
}
