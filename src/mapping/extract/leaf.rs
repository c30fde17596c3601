//! The values extraction builds: scalars borrowed from the message where possible.

use std::borrow::Cow;
use std::fmt;

use serde_json::Value;

/// One element of a flattened array: a value, or an inner array's flattened contents.
pub(in crate::mapping) enum Child<'v, 'a> {
    One(&'v Leaf<'a>),
    Nested(&'v [Leaf<'a>]),
}

/// The elements of flattened array contents (see [`Leaf::List`]), in order.
pub(in crate::mapping) fn children<'v, 'a>(nodes: &'v [Leaf<'a>]) -> Children<'v, 'a> {
    Children { nodes, at: 0 }
}

pub(in crate::mapping) struct Children<'v, 'a> {
    nodes: &'v [Leaf<'a>],
    at: usize,
}

impl<'v, 'a> Iterator for Children<'v, 'a> {
    type Item = Child<'v, 'a>;

    fn next(&mut self) -> Option<Child<'v, 'a>> {
        let node = self.nodes.get(self.at)?;
        Some(match node {
            Leaf::Nested(span) => {
                let inner = self.nodes.get(self.at + 1..self.at + 1 + span)?;
                self.at += 1 + span;
                Child::Nested(inner)
            }
            one => {
                self.at += 1;
                Child::One(one)
            }
        })
    }
}

/// The elements of an array leaf, each a leaf (an inner array as [`Leaf::Sub`]).
pub(in crate::mapping) struct Items<'v>(Children<'v, 'v>);

impl<'v> Iterator for Items<'v> {
    type Item = Cow<'v, Leaf<'v>>;

    fn next(&mut self) -> Option<Self::Item> {
        Some(match self.0.next()? {
            Child::One(leaf) => Cow::Borrowed(leaf),
            Child::Nested(inner) => Cow::Owned(Leaf::Sub(inner)),
        })
    }
}

/// One extracted value. Strings are borrowed from the message unless they hold escapes;
/// an array the scanner meets (the order book's levels) stays as its checked text and is read
/// element by element where used; objects (rarely pointed at) are built whole as
/// `serde_json` values.
#[derive(Debug, Clone, PartialEq)]
pub(in crate::mapping) enum Leaf<'a> {
    Str(Cow<'a, str>),
    I64(i64),
    U64(u64),
    F64(f64),
    Bool(bool),
    Null,
    /// An array, flattened: its elements in order, an inner array as a [`Leaf::Nested`]
    /// marker followed by its own flattened contents. One vector holds a whole order book
    /// side, so reading one costs no allocation per level.
    List(Vec<Leaf<'a>>),
    /// Flattened contents borrowed from a list: an inner array met while reading one.
    Sub(&'a [Leaf<'a>]),
    /// Inside flattened contents only: an inner array of the next `usize` nodes.
    Nested(usize),
    /// An object.
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
            Value::Array(items) => {
                let mut nodes = Vec::with_capacity(items.len());
                flatten(items, &mut nodes);
                Leaf::List(nodes)
            }
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
            (Leaf::List(_) | Leaf::Sub(_), Value::Array(b)) => {
                let mut expected = b.iter();
                self.items().is_some_and(|mut items| {
                    items.all(|item| expected.next().is_some_and(|b| item.matches(b)))
                }) && expected.next().is_none()
            }
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
            Leaf::I64(v) => {
                out.push_str(itoa::Buffer::new().format(*v));
                Ok(())
            }
            Leaf::U64(v) => {
                out.push_str(itoa::Buffer::new().format(*v));
                Ok(())
            }
            Leaf::F64(v) => match serde_json::Number::from_f64(*v) {
                Some(n) => write!(out, "{n}"),
                None => return false,
            },
            Leaf::Bool(b) => write!(out, "{b}"),
            Leaf::Null | Leaf::List(_) | Leaf::Sub(_) | Leaf::Nested(_) | Leaf::Other(_) => {
                return false;
            }
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
            Leaf::List(_) | Leaf::Sub(_) | Leaf::Nested(_) => {
                f.write_str("[")?;
                for (i, item) in self.items().into_iter().flatten().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write!(f, "{item}")?;
                }
                f.write_str("]")
            }
            Leaf::Other(v) => write!(f, "{v}"),
        }
    }
}

impl<'a> Leaf<'a> {
    /// The elements of an array, in order; `None` for anything else.
    pub(in crate::mapping) fn items(&'a self) -> Option<Items<'a>> {
        let nodes: &'a [Leaf<'a>] = match self {
            Leaf::List(nodes) => nodes,
            Leaf::Sub(nodes) => nodes,
            _ => return None,
        };
        Some(Items(children(nodes)))
    }

    /// The value as a number: JSON numbers, and strings that read as finite numbers.
    pub(in crate::mapping) fn number(&self) -> Option<f64> {
        match self {
            Leaf::F64(v) => Some(*v),
            Leaf::I64(v) => Some(*v as f64),
            Leaf::U64(v) => Some(*v as f64),
            Leaf::Str(s) => parse_number(s),
            _ => None,
        }
    }
}

/// A string read as a finite number, as `str::parse::<f64>` reads it after trimming.
///
/// Exchanges send prices and quantities as strings such as `"612.36000000"`. Those with at
/// most 15 significant digits take Clinger's fast path: the digits as an integer (exact in an
/// f64 below 2^53) divided by a power of ten (exact up to 10^22), which IEEE division rounds
/// correctly, so the result is the one the full parser gives. Anything else goes to it.
pub(in crate::mapping) fn parse_number(text: &str) -> Option<f64> {
    const POWERS: [f64; 23] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
        1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
    ];
    let full = |text: &str| text.trim().parse::<f64>().ok().filter(|v| v.is_finite());
    let bytes = text.as_bytes();
    let (negative, digits) = match bytes {
        [b'-', rest @ ..] => (true, rest),
        _ => (false, bytes),
    };
    let mut mantissa: u64 = 0;
    let mut significant = 0usize;
    let mut fraction: Option<usize> = None;
    for (at, &byte) in digits.iter().enumerate() {
        match byte {
            b'0'..=b'9' => {
                mantissa = mantissa * 10 + u64::from(byte - b'0');
                if mantissa > 0 {
                    significant += 1;
                }
                if significant > 15 {
                    return full(text);
                }
                if let Some(count) = &mut fraction {
                    *count += 1;
                }
            }
            // One point, with digits on both sides.
            b'.' if fraction.is_none() && at > 0 && at + 1 < digits.len() => fraction = Some(0),
            _ => return full(text),
        }
    }
    let scale = fraction.unwrap_or(0);
    if digits.is_empty() || scale >= POWERS.len() {
        return full(text);
    }
    let value = mantissa as f64 / POWERS[scale];
    Some(if negative { -value } else { value })
}

/// The array index a JSON Pointer token names: only the canonical decimal ("01" and "+1"
/// name no element, as in RFC 6901).
pub(in crate::mapping) fn index_token(token: &str) -> Option<usize> {
    match token.as_bytes() {
        [digit @ b'0'..=b'9'] => Some(usize::from(digit - b'0')),
        [b'1'..=b'9', rest @ ..] if rest.iter().all(u8::is_ascii_digit) => token.parse().ok(),
        _ => None,
    }
}

/// Appends `items` to flattened contents.
fn flatten(items: Vec<Value>, nodes: &mut Vec<Leaf<'static>>) {
    for item in items {
        match item {
            Value::Array(inner) => {
                let at = nodes.len();
                nodes.push(Leaf::Nested(0));
                flatten(inner, nodes);
                nodes[at] = Leaf::Nested(nodes.len() - at - 1);
            }
            other => nodes.push(Leaf::from_value(other)),
        }
    }
}

/// The value at `tokens` (unescaped JSON Pointer tokens) within `leaf`: borrowed inside
/// lists, built from an object's `serde_json` value.
pub(in crate::mapping) fn walk<'v>(
    leaf: &'v Leaf<'v>,
    tokens: &[String],
) -> Option<Cow<'v, Leaf<'v>>> {
    let mut current = Cow::Borrowed(leaf);
    for (at, token) in tokens.iter().enumerate() {
        let nodes: &'v [Leaf<'v>] = match current {
            Cow::Borrowed(Leaf::List(nodes)) => nodes,
            Cow::Borrowed(Leaf::Sub(nodes)) => nodes,
            Cow::Owned(Leaf::Sub(nodes)) => nodes,
            Cow::Borrowed(Leaf::Other(value)) => {
                let mut value = value;
                for token in &tokens[at..] {
                    value = match value {
                        Value::Object(map) => map.get(token)?,
                        Value::Array(items) => items.get(index_token(token)?)?,
                        _ => return None,
                    };
                }
                return Some(Cow::Owned(Leaf::from_value(value.clone())));
            }
            _ => return None,
        };
        current = match children(nodes).nth(index_token(token)?)? {
            Child::One(leaf) => Cow::Borrowed(leaf),
            Child::Nested(inner) => Cow::Owned(Leaf::Sub(inner)),
        };
    }
    Some(current)
}
