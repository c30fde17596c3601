//! Compiled rules: what [`schema`](super::schema) makes of a mapping file.

use std::collections::HashMap;
use std::fmt;

use serde_json::Value;

use super::expr::Expr;
use super::extract::Leaf;
use crate::reading::{FieldValue, Precision};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum FieldType {
    Float,
    Integer,
    Unsigned,
    Boolean,
    String,
}

/// A JSON Pointer, split into its unescaped tokens once, when the mapping is read; `slot` is
/// where [`extract`](super::extract) puts the value it points to.
#[derive(Debug, Clone)]
pub(super) struct Pointer {
    pub(super) text: String,
    pub(super) tokens: Vec<String>,
    pub(super) slot: usize,
}

impl Pointer {
    pub(super) fn new(text: String) -> Pointer {
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

    pub(super) fn get<'a, 'm>(&self, values: &'a [Option<Leaf<'m>>]) -> Option<&'a Leaf<'m>> {
        values.get(self.slot)?.as_ref()
    }
}

impl fmt::Display for Pointer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// A test of `when`: the value at a path equals a JSON value, or is a string with a given
/// start or end.
#[derive(Debug)]
pub(super) enum Test {
    Equals(Value),
    StartsWith(String),
    EndsWith(String),
}

impl Test {
    pub(super) fn holds(&self, leaf: &Leaf<'_>) -> bool {
        match (self, leaf) {
            (Test::Equals(v), leaf) => leaf.matches(v),
            (Test::StartsWith(p), Leaf::Str(s)) => s.starts_with(p.as_str()),
            (Test::EndsWith(p), Leaf::Str(s)) => s.ends_with(p.as_str()),
            _ => false,
        }
    }
}

/// Over the elements of an array: `/bids/*/1` with `aggregate = "sum"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ArrayAggregate {
    Sum,
    Min,
    Max,
    Count,
}

/// Where a tag's or field's value comes from.
#[derive(Debug)]
pub(super) enum Source {
    /// A JSON Pointer into the message.
    Message(Pointer),
    /// A pointer into the current element of the rule's `each` array (`./1`).
    Element(Pointer),
    /// The current element's index in the rule's `each` array.
    Index,
    /// A constant.
    Constant(String),
    /// An aggregate over every element of the array at `array`, of the value at `rest`
    /// (unescaped tokens) within each element.
    Array {
        array: Pointer,
        rest: Vec<String>,
        aggregate: ArrayAggregate,
    },
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Message(p) => write!(f, "{p}"),
            Source::Element(p) => write!(f, ".{p}"),
            Source::Index => f.write_str("the element index"),
            Source::Constant(c) => write!(f, "{c:?}"),
            Source::Array { array, rest, .. } => write!(f, "{array}/*/{}", rest.join("/")),
        }
    }
}

/// Text operations on a tag or string field, in this order: `split` and `part`, then `map`,
/// then `case`.
#[derive(Debug, Default)]
pub(super) struct TextOps {
    pub(super) split: Option<(String, usize)>,
    pub(super) map: Option<HashMap<String, String>>,
    pub(super) upper: Option<bool>,
}

impl TextOps {
    pub(super) fn is_empty(&self) -> bool {
        self.split.is_none() && self.map.is_none() && self.upper.is_none()
    }
}

#[derive(Debug)]
pub(super) struct TagSpec {
    pub(super) key: String,
    pub(super) source: Source,
    pub(super) text: TextOps,
    pub(super) default: Option<String>,
}

#[derive(Debug)]
pub(super) struct FieldSpec {
    pub(super) key: String,
    pub(super) source: Source,
    pub(super) kind: FieldType,
    pub(super) text: TextOps,
    pub(super) default: Option<FieldValue>,
}

/// What a window keeps per series, of an expression over each message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Accumulator {
    Count,
    Sum,
    Min,
    Max,
    First,
    Last,
}

#[derive(Debug)]
pub(super) struct AggregateSpec {
    pub(super) name: String,
    pub(super) accumulator: Accumulator,
    /// `None` for `count()`.
    pub(super) of: Option<Expr>,
}

/// Tumbling windows of message time.
#[derive(Debug)]
pub(super) struct WindowSpec {
    /// Window length, in the rule's timestamp unit.
    pub(super) every: i64,
    /// Emit an open window at most this often (message time, the rule's unit), with a
    /// boolean field `closed`.
    pub(super) pace: Option<i64>,
    /// Close an open window when its series has had no message for this long (arrival time,
    /// nanoseconds).
    pub(super) idle_ns: i64,
    pub(super) aggregates: Vec<AggregateSpec>,
}

#[derive(Debug)]
pub(super) struct Rule {
    pub(super) name: String,
    pub(super) when: Vec<(Pointer, Test)>,
    pub(super) measurement: String,
    pub(super) timestamp: Option<(Pointer, Precision)>,
    /// The array whose elements each make a reading.
    pub(super) each: Option<Pointer>,
    pub(super) tags: Vec<TagSpec>,
    pub(super) fields: Vec<FieldSpec>,
    pub(super) derive: Vec<(String, Expr)>,
    pub(super) window: Option<WindowSpec>,
    /// At most this many series (tag value combinations) for this rule.
    pub(super) max_series: usize,
}
