//! Tag and field values: how the file states them (a path, a constant, the element index, an
//! aggregate over an array; text operations; a default) and how they are read from a message.

use std::borrow::Cow;
use std::collections::HashMap;

use super::MappingError;
use super::extract::{Leaf, walk};
use super::rule::{ArrayAggregate, FieldSpec, FieldType, Pointer, Source, TagSpec, TextOps};
use crate::reading::FieldValue;

/// What compiling a tag or field needs to know about its rule.
pub(super) struct Spec<'a> {
    pub rule: &'a str,
    pub in_each: bool,
}

impl Spec<'_> {
    fn error(&self, part: &str, text: Option<&str>, reason: impl Into<String>) -> MappingError {
        MappingError::rule(self.rule, Some(part.to_owned()), text, reason)
    }

    /// A path as written: `/a/b` (message), `./1` or `.` (element), `/a/*/1` (array).
    fn source(
        &self,
        part: &str,
        path: &str,
        aggregate: Option<ArrayAggregate>,
    ) -> Result<Source, MappingError> {
        if path == "." || path.starts_with("./") {
            if !self.in_each {
                return Err(self.error(
                    part,
                    Some(path),
                    format!(
                        "{path:?} is relative to an array element: the rule needs each = \"/array\""
                    ),
                ));
            }
            if aggregate.is_some() {
                return Err(self.error(part, Some(path), "aggregate takes a path with /*/"));
            }
            return Ok(Source::Element(Pointer::new(path[1..].to_owned())));
        }
        if !(path.is_empty() || path.starts_with('/')) {
            return Err(self.error(
                part,
                Some(path),
                format!("path {path:?} must be a JSON Pointer starting with '/'"),
            ));
        }
        let star = path
            .find("/*/")
            .or_else(|| path.ends_with("/*").then(|| path.len() - 2));
        match (star, aggregate) {
            (Some(at), Some(aggregate)) => {
                let rest = Pointer::new(path[at + 2..].to_owned()).tokens;
                Ok(Source::Array {
                    array: Pointer::new(path[..at].to_owned()),
                    rest,
                    aggregate,
                })
            }
            (Some(_), None) => Err(self.error(
                part,
                Some(path),
                "a path with /*/ takes every element: give aggregate = \"sum\", \"min\", \"max\" or \"count\"",
            )),
            (None, Some(_)) => Err(self.error(
                part,
                Some(path),
                "aggregate needs a path with /*/ for the elements, e.g. \"/bids/*/1\"",
            )),
            (None, None) => Ok(Source::Message(Pointer::new(path.to_owned()))),
        }
    }
}

/// The parts of `{ path, value, index, aggregate, type, map, split, part, case, default }`.
struct Parsed {
    source: Source,
    text: TextOps,
    kind: Option<String>,
    default: Option<toml::Value>,
}

fn parse(spec: &Spec<'_>, part: &str, value: toml::Value) -> Result<Parsed, MappingError> {
    let mut table = match value {
        toml::Value::String(path) => {
            return Ok(Parsed {
                source: spec.source(part, &path, None)?,
                text: TextOps::default(),
                kind: None,
                default: None,
            });
        }
        toml::Value::Table(table) => table,
        other => {
            return Err(spec.error(
                part,
                None,
                format!("expected a path or a table such as {{ path = \"/…\" }}, found {other}"),
            ));
        }
    };
    let string = |table: &mut toml::Table, key: &str| match table.remove(key) {
        None => Ok(None),
        Some(toml::Value::String(s)) => Ok(Some(s)),
        Some(other) => {
            Err(spec.error(part, None, format!("{key} must be a string, found {other}")))
        }
    };
    let aggregate = match string(&mut table, "aggregate")?.as_deref() {
        None => None,
        Some("sum") => Some(ArrayAggregate::Sum),
        Some("min") => Some(ArrayAggregate::Min),
        Some("max") => Some(ArrayAggregate::Max),
        Some("count") => Some(ArrayAggregate::Count),
        Some(other) => {
            return Err(spec.error(
                part,
                Some(other),
                format!("unknown aggregate {other:?}: use sum, min, max or count"),
            ));
        }
    };
    let path = string(&mut table, "path")?;
    let constant = table.remove("value");
    let index = table.remove("index");
    let source = match (path, constant, index) {
        (Some(path), None, None) => spec.source(part, &path, aggregate)?,
        (None, Some(toml::Value::String(c)), None) => Source::Constant(c),
        (None, Some(other), None) => {
            return Err(spec.error(part, None, format!("value must be a string, found {other}")));
        }
        (None, None, Some(toml::Value::Boolean(true))) if spec.in_each => Source::Index,
        (None, None, Some(_)) => {
            return Err(spec.error(
                part,
                None,
                "index = true gives the element's index, in a rule with each = \"/array\"",
            ));
        }
        _ => {
            return Err(spec.error(
                part,
                None,
                "give exactly one of path = \"/…\", value = \"…\" or index = true",
            ));
        }
    };
    let map = match table.remove("map") {
        None => None,
        Some(toml::Value::Table(m)) => Some(
            m.into_iter()
                .map(|(k, v)| match v {
                    toml::Value::String(s) => Ok((k, s)),
                    other => {
                        Err(spec.error(part, None, format!("map value {other} must be a string")))
                    }
                })
                .collect::<Result<HashMap<_, _>, _>>()?,
        ),
        Some(_) => return Err(spec.error(part, None, "map must be a table")),
    };
    let split = match (string(&mut table, "split")?, table.remove("part")) {
        (None, None) => None,
        (Some(separator), part_number) if !separator.is_empty() => {
            let n = match part_number {
                None => 0,
                Some(toml::Value::Integer(n)) if n >= 0 => n as usize,
                Some(other) => {
                    return Err(spec.error(
                        part,
                        None,
                        format!("part must be a whole number from 0, found {other}"),
                    ));
                }
            };
            Some((separator, n))
        }
        (Some(_), _) => return Err(spec.error(part, None, "split must not be empty")),
        (None, Some(_)) => {
            return Err(spec.error(part, None, "part needs split = \"…\" (the separator)"));
        }
    };
    let upper = match string(&mut table, "case")?.as_deref() {
        None => None,
        Some("upper") => Some(true),
        Some("lower") => Some(false),
        Some(other) => {
            return Err(spec.error(
                part,
                Some(other),
                format!("unknown case {other:?}: use upper or lower"),
            ));
        }
    };
    let kind = string(&mut table, "type")?;
    let default = table.remove("default");
    if let Some(extra) = table.keys().next() {
        return Err(spec.error(part, Some(extra), format!("unknown key {extra:?}")));
    }
    Ok(Parsed {
        source,
        text: TextOps { split, map, upper },
        kind,
        default,
    })
}

pub(super) fn compile_tag(
    spec: &Spec<'_>,
    key: String,
    value: toml::Value,
) -> Result<TagSpec, MappingError> {
    let part = format!("tag {key:?}");
    let parsed = parse(spec, &part, value)?;
    if parsed.kind.is_some() {
        return Err(spec.error(&part, None, "tags are text: type applies to fields only"));
    }
    let default = match parsed.default {
        None => None,
        Some(toml::Value::String(s)) if !s.is_empty() => Some(s),
        Some(other) => {
            return Err(spec.error(
                &part,
                None,
                format!("default must be a non-empty string, found {other}"),
            ));
        }
    };
    Ok(TagSpec {
        key,
        source: parsed.source,
        text: parsed.text,
        default,
    })
}

pub(super) fn compile_field(
    spec: &Spec<'_>,
    key: String,
    value: toml::Value,
) -> Result<FieldSpec, MappingError> {
    let part = format!("field {key:?}");
    let parsed = parse(spec, &part, value)?;
    let counted = matches!(
        parsed.source,
        Source::Array {
            aggregate: ArrayAggregate::Count,
            ..
        } | Source::Index
    );
    let kind = match parsed.kind.as_deref() {
        None if counted => FieldType::Integer,
        None | Some("float") => FieldType::Float,
        Some("integer") => FieldType::Integer,
        Some("unsigned") => FieldType::Unsigned,
        Some("boolean") => FieldType::Boolean,
        Some("string") => FieldType::String,
        Some(other) => {
            return Err(spec.error(
                &part,
                Some(other),
                format!("unknown type {other:?}: use float, integer, unsigned, boolean or string"),
            ));
        }
    };
    let default = match parsed.default {
        None => None,
        Some(value) => {
            let leaf = match &value {
                toml::Value::String(s) => Leaf::Str(Cow::Borrowed(s.as_str())),
                toml::Value::Integer(i) => Leaf::I64(*i),
                toml::Value::Float(f) => Leaf::F64(*f),
                toml::Value::Boolean(b) => Leaf::Bool(*b),
                _ => Leaf::Null,
            };
            Some(
                field_value(&leaf, kind, &"default")
                    .map_err(|reason| spec.error(&part, None, reason))?,
            )
        }
    };
    Ok(FieldSpec {
        key,
        source: parsed.source,
        kind,
        text: parsed.text,
        default,
    })
}

impl FieldSpec {
    pub(super) fn is_numeric(&self) -> bool {
        matches!(
            self.kind,
            FieldType::Float | FieldType::Integer | FieldType::Unsigned
        )
    }
}

/// The current element of the array a rule iterates: its index and value.
pub(super) type Element<'a> = Option<(usize, &'a Leaf<'a>)>;

/// The value of `source` in this message (and element); `None` when absent or null.
pub(super) fn resolve<'a>(
    source: &'a Source,
    values: &'a [Option<Leaf<'a>>],
    element: Element<'a>,
) -> Option<Cow<'a, Leaf<'a>>> {
    let leaf = match source {
        Source::Message(p) => Cow::Borrowed(p.get(values)?),
        Source::Element(p) => walk(element?.1, &p.tokens)?,
        Source::Index => Cow::Owned(Leaf::I64(element?.0 as i64)),
        Source::Constant(c) => Cow::Owned(Leaf::Str(Cow::Borrowed(c.as_str()))),
        Source::Array {
            array,
            rest,
            aggregate,
        } => {
            let items = array.get(values)?.items()?;
            let numbers = items.filter_map(|item| walk(&item, rest)?.number());
            Cow::Owned(match aggregate {
                ArrayAggregate::Count => Leaf::I64(array.get(values)?.items()?.count() as i64),
                ArrayAggregate::Sum => Leaf::F64(numbers.sum()),
                ArrayAggregate::Min => Leaf::F64(numbers.reduce(f64::min)?),
                ArrayAggregate::Max => Leaf::F64(numbers.reduce(f64::max)?),
            })
        }
    };
    (!matches!(*leaf, Leaf::Null)).then_some(leaf)
}

/// Applies `ops` to `text` in place: the part after splitting, the map, the case.
pub(super) fn apply_text(ops: &TextOps, text: &mut String) -> Result<(), String> {
    if let Some((separator, n)) = &ops.split {
        // A one-byte separator ("@" in "bnbusdt@trade") is found byte by byte: building a
        // substring searcher costs more than the search.
        let piece = match separator.as_bytes() {
            &[byte] if byte.is_ascii() => text.split(char::from(byte)).nth(*n),
            _ => text.split(separator.as_str()).nth(*n),
        };
        let Some(piece) = piece else {
            return Err(format!(
                "{text:?} has no part {n} when split on {separator:?}"
            ));
        };
        let start = piece.as_ptr() as usize - text.as_ptr() as usize;
        let end = start + piece.len();
        text.truncate(end);
        text.drain(..start);
    }
    if let Some(map) = &ops.map {
        let mapped = map
            .get(text.as_str())
            .ok_or_else(|| format!("{text:?} is not in the map"))?;
        text.clear();
        text.push_str(mapped);
    }
    match ops.upper {
        Some(true) if text.is_ascii() => text.make_ascii_uppercase(),
        Some(false) if text.is_ascii() => text.make_ascii_lowercase(),
        Some(true) => *text = text.to_uppercase(),
        Some(false) => *text = text.to_lowercase(),
        None => {}
    }
    Ok(())
}

/// A value as a field of type `kind`; `what` names it in the error.
pub(super) fn field_value(
    value: &Leaf<'_>,
    kind: FieldType,
    what: &dyn std::fmt::Display,
) -> Result<FieldValue, String> {
    let bad = |wanted: &str| {
        format!(
            "{what} = {} is not {wanted}",
            crate::text::excerpt(&value.to_string(), 80)
        )
    };
    match (kind, value) {
        (FieldType::Float, v) => v
            .number()
            .map(FieldValue::Float)
            .ok_or_else(|| bad("a number")),
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
