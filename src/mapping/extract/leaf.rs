//! The values extraction builds: scalars borrowed from the message where possible.

use std::borrow::Cow;
use std::fmt;

use serde_json::Value;

/// One extracted value. Strings are borrowed from the message unless they hold escapes;
/// objects and arrays (rarely pointed at) are built whole.
#[derive(Debug, Clone, PartialEq)]
pub(in crate::mapping) enum Leaf<'a> {
    Str(Cow<'a, str>),
    I64(i64),
    U64(u64),
    F64(f64),
    Bool(bool),
    Null,
    Other(Value),
}

impl Leaf<'_> {
    pub(super) fn from_value(value: Value) -> Leaf<'static> {
        match value {
            Value::String(s) => Leaf::Str(Cow::Owned(s)),
            Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
                (Some(i), _, _) => Leaf::I64(i),
                (None, Some(u), _) => Leaf::U64(u),
                (None, None, Some(f)) => Leaf::F64(f),
                _ => Leaf::Other(Value::Number(n)),
            },
            Value::Bool(b) => Leaf::Bool(b),
            Value::Null => Leaf::Null,
            other => Leaf::Other(other),
        }
    }

    /// Equal as JSON values (so `1` is not `1.0`, as in `serde_json::Value`).
    pub fn matches(&self, expected: &Value) -> bool {
        match (self, expected) {
            (Leaf::Str(a), Value::String(b)) => a == b,
            (Leaf::I64(a), Value::Number(b)) => b.as_i64() == Some(*a) && !b.is_f64(),
            (Leaf::U64(a), Value::Number(b)) => b.as_u64() == Some(*a) && !b.is_f64(),
            (Leaf::F64(a), Value::Number(b)) => b.is_f64() && b.as_f64() == Some(*a),
            (Leaf::Bool(a), Value::Bool(b)) => a == b,
            (Leaf::Null, Value::Null) => true,
            (Leaf::Other(a), b) => a == b,
            _ => false,
        }
    }

    /// A scalar as text (for tags); `None` for objects, arrays and null.
    pub fn text(&self) -> Option<String> {
        let mut text = String::new();
        self.write_text(&mut text).then_some(text)
    }

    /// Appends the scalar as text to `out`; false (and nothing appended) for objects, arrays
    /// and null.
    pub fn write_text(&self, out: &mut String) -> bool {
        use std::fmt::Write;
        let _ = match self {
            Leaf::Str(s) => out.write_str(s),
            Leaf::I64(v) => write!(out, "{v}"),
            Leaf::U64(v) => write!(out, "{v}"),
            Leaf::F64(v) => match serde_json::Number::from_f64(*v) {
                Some(n) => write!(out, "{n}"),
                None => return false,
            },
            Leaf::Bool(b) => write!(out, "{b}"),
            Leaf::Null | Leaf::Other(_) => return false,
        };
        true
    }
}

impl fmt::Display for Leaf<'_> {
    /// As JSON.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Leaf::Str(s) => f.write_str(&serde_json::to_string(s.as_ref()).unwrap_or_default()),
            Leaf::I64(v) => write!(f, "{v}"),
            Leaf::U64(v) => write!(f, "{v}"),
            Leaf::F64(v) => write!(
                f,
                "{}",
                serde_json::Number::from_f64(*v).map_or_else(|| v.to_string(), |n| n.to_string())
            ),
            Leaf::Bool(b) => write!(f, "{b}"),
            Leaf::Null => f.write_str("null"),
            Leaf::Other(v) => write!(f, "{v}"),
        }
    }
}

impl<'a> Leaf<'a> {
    /// A leaf for a value inside an extracted array, borrowing its string.
    pub(in crate::mapping) fn borrowed(value: &'a Value) -> Leaf<'a> {
        match value {
            Value::String(s) => Leaf::Str(Cow::Borrowed(s)),
            Value::Array(_) | Value::Object(_) => Leaf::Other(value.clone()),
            other => Leaf::from_value(other.clone()),
        }
    }

    /// The value as a number: JSON numbers, and strings that read as finite numbers.
    pub(in crate::mapping) fn number(&self) -> Option<f64> {
        match self {
            Leaf::F64(v) => Some(*v),
            Leaf::I64(v) => Some(*v as f64),
            Leaf::U64(v) => Some(*v as f64),
            Leaf::Str(s) => s.trim().parse::<f64>().ok().filter(|v| v.is_finite()),
            _ => None,
        }
    }
}

/// The value at `tokens` (unescaped JSON Pointer tokens) within `value`.
pub(in crate::mapping) fn walk<'v>(mut value: &'v Value, tokens: &[String]) -> Option<&'v Value> {
    for token in tokens {
        value = match value {
            Value::Object(map) => map.get(token)?,
            Value::Array(items) => {
                if token.len() > 1 && token.starts_with('0') || token.starts_with('+') {
                    return None;
                }
                items.get(token.parse::<usize>().ok()?)?
            }
            _ => return None,
        };
    }
    Some(value)
}
