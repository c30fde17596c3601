//! One pass over a JSON message that keeps only the values the rules point at.
//!
//! Building a whole `serde_json::Value` allocates for every key and string of the message, and
//! even serde_json's skipping goes through its visitor machinery for every member. Here the
//! pointers of all rules are merged into a trie and a small scanner walks the bytes once:
//! it checks the whole message against the JSON grammar (RFC 8259, nesting limited to 127
//! levels as in serde_json), skips what the trie does not name, and builds only the
//! pointed-at values, borrowing strings from the message. A differential fuzz target checks
//! it against serde_json.

use std::borrow::Cow;
use std::fmt;

use serde_json::Value;

use crate::text::JSON_STRING_SPECIAL;

/// One extracted value. Strings are borrowed from the message unless they hold escapes;
/// objects and arrays (rarely pointed at) are built whole.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Leaf<'a> {
    Str(Cow<'a, str>),
    I64(i64),
    U64(u64),
    F64(f64),
    Bool(bool),
    Null,
    Other(Value),
}

impl Leaf<'_> {
    fn from_value(value: Value) -> Leaf<'static> {
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

/// The merged pointers; each distinct pointer has a slot.
#[derive(Debug, Default)]
pub(super) struct PathTrie {
    root: Node,
    slots: usize,
}

#[derive(Debug, Default)]
struct Node {
    children: Vec<(String, Node)>,
    slot: Option<usize>,
    /// The slots of this node's descendants, to empty when a key comes twice.
    below: Vec<usize>,
}

impl Node {
    fn child(&self, key: &[u8]) -> Option<&Node> {
        // Exchange messages have one-letter keys: comparing the length and first byte before
        // the bytes keeps this from calling memcmp for every key against every child.
        let first = key.first();
        self.children
            .iter()
            .find(|(k, _)| {
                let k = k.as_bytes();
                k.len() == key.len() && k.first() == first && (k.len() == 1 || k == key)
            })
            .map(|(_, n)| n)
    }

    /// Empties the slots below this node.
    fn clear_below(&self, slots: &mut [Option<Leaf<'_>>]) {
        // Almost always nothing is set yet: looking is cheaper than writing.
        if self.below.iter().any(|&slot| slots[slot].is_some()) {
            for &slot in &self.below {
                slots[slot] = None;
            }
        }
    }

    /// Fills the slots below this node from a value already built for it.
    fn fill(&self, value: &Value, slots: &mut [Option<Leaf<'_>>]) {
        for (key, child) in &self.children {
            let inner = match value {
                Value::Object(map) => map.get(key),
                // Only the canonical decimal names an element: "01" and "+1" do not, as in
                // JSON Pointer (and the scanner).
                Value::Array(items) => key
                    .parse::<usize>()
                    .ok()
                    .filter(|i| i.to_string() == *key)
                    .and_then(|i| items.get(i)),
                _ => None,
            };
            if let Some(inner) = inner {
                if let Some(slot) = child.slot {
                    slots[slot] = Some(Leaf::from_value(inner.clone()));
                }
                child.fill(inner, slots);
            }
        }
    }
}

impl PathTrie {
    /// Adds a pointer (its unescaped tokens); returns its slot.
    pub fn insert(&mut self, tokens: &[String]) -> usize {
        let mut route = Vec::with_capacity(tokens.len());
        let mut node = &mut self.root;
        for token in tokens {
            let index = match node.children.iter().position(|(k, _)| k == token) {
                Some(index) => index,
                None => {
                    node.children.push((token.clone(), Node::default()));
                    node.children.len() - 1
                }
            };
            route.push(index);
            node = &mut node.children[index].1;
        }
        if let Some(slot) = node.slot {
            return slot;
        }
        let slot = self.slots;
        self.slots += 1;
        node.slot = Some(slot);
        let mut node = &mut self.root;
        for index in route {
            node.below.push(slot);
            node = &mut node.children[index].1;
        }
        slot
    }

    /// The value at each slot's pointer in `message` (`None` where absent).
    pub fn extract<'m>(&self, message: &'m str) -> Result<Slots<'m>, NotJson> {
        let mut slots = Slots::new(self.slots);
        let mut scan = Scan {
            text: message,
            bytes: message.as_bytes(),
            pos: 0,
            slots: &mut slots,
        };
        scan.value(Some(&self.root), 0)?;
        scan.skip_whitespace();
        if scan.pos < scan.bytes.len() {
            return scan.fail("trailing characters after the JSON value");
        }
        Ok(slots)
    }
}

/// The extracted values, one per slot: on the stack for mappings of up to
/// [`Slots::INLINE`] distinct pointers, so that extraction does not allocate.
#[allow(clippy::large_enum_variant)] // on the stack is the point
pub(super) enum Slots<'m> {
    Inline([Option<Leaf<'m>>; Slots::INLINE], usize),
    Heap(Vec<Option<Leaf<'m>>>),
}

impl Slots<'_> {
    const INLINE: usize = 16;

    fn new(count: usize) -> Self {
        if count <= Self::INLINE {
            Slots::Inline([const { None }; Self::INLINE], count)
        } else {
            Slots::Heap(vec![None; count])
        }
    }
}

impl<'m> std::ops::Deref for Slots<'m> {
    type Target = [Option<Leaf<'m>>];

    fn deref(&self) -> &Self::Target {
        match self {
            Slots::Inline(slots, count) => &slots[..*count],
            Slots::Heap(slots) => slots,
        }
    }
}

impl std::ops::DerefMut for Slots<'_> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        match self {
            Slots::Inline(slots, count) => &mut slots[..*count],
            Slots::Heap(slots) => slots,
        }
    }
}

/// Why a message is not JSON, and the byte where that was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct NotJson {
    pub offset: usize,
    pub reason: &'static str,
}

impl fmt::Display for NotJson {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at byte {}", self.reason, self.offset)
    }
}

/// serde_json's limit: objects and arrays nest at most 127 deep.
const MAX_DEPTH: usize = 127;

struct Scan<'m, 's> {
    text: &'m str,
    bytes: &'m [u8],
    pos: usize,
    slots: &'s mut [Option<Leaf<'m>>],
}

impl<'m> Scan<'m, '_> {
    fn fail<T>(&self, reason: &'static str) -> Result<T, NotJson> {
        Err(NotJson {
            offset: self.pos,
            reason,
        })
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn skip_whitespace(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    fn expect(&mut self, byte: u8, reason: &'static str) -> Result<(), NotJson> {
        self.skip_whitespace();
        if self.peek() != Some(byte) {
            return self.fail(reason);
        }
        self.pos += 1;
        Ok(())
    }

    /// One value; `node` is where it sits in the trie (`None`: nothing below is wanted).
    fn value(&mut self, node: Option<&Node>, depth: usize) -> Result<(), NotJson> {
        self.skip_whitespace();
        if let Some(node) = node {
            // A key given twice: as in serde_json, the last one wins, whole.
            node.clear_below(self.slots);
        }
        if let Some(node) = node
            && let Some(slot) = node.slot
        {
            let leaf = self.leaf(depth)?;
            if let Leaf::Other(value) = &leaf {
                node.fill(value, self.slots);
            }
            self.slots[slot] = Some(leaf);
            return Ok(());
        }
        let node = node.filter(|n| !n.children.is_empty());
        match self.peek() {
            Some(b'{') => self.object(node, depth + 1),
            Some(b'[') => self.array(node, depth + 1),
            Some(b'"') => self.skip_string(),
            Some(b'-' | b'0'..=b'9') => self.number().map(|_| ()),
            Some(b't') => self.literal("true"),
            Some(b'f') => self.literal("false"),
            Some(b'n') => self.literal("null"),
            Some(_) => self.fail("expected a JSON value"),
            None => self.fail("the message ends where a value should be"),
        }
    }

    /// A value that a pointer names, built.
    fn leaf(&mut self, depth: usize) -> Result<Leaf<'m>, NotJson> {
        let start = self.pos;
        match self.peek() {
            Some(b'"') => self.string().map(Leaf::Str),
            Some(b'-' | b'0'..=b'9') => {
                let integer = self.number()?;
                let text = &self.text[start..self.pos];
                number_leaf(text, integer).ok_or(NotJson {
                    offset: start,
                    reason: "number out of range",
                })
            }
            Some(b't') => self.literal("true").map(|()| Leaf::Bool(true)),
            Some(b'f') => self.literal("false").map(|()| Leaf::Bool(false)),
            Some(b'n') => self.literal("null").map(|()| Leaf::Null),
            Some(b'{' | b'[') => {
                // Rarely pointed at: check it, then let serde_json build it.
                self.value(None, depth)?;
                serde_json::from_str(&self.text[start..self.pos])
                    .map(Leaf::Other)
                    .map_err(|_| NotJson {
                        offset: start,
                        reason: "invalid object or array",
                    })
            }
            _ => self.value(None, depth).map(|()| Leaf::Null),
        }
    }

    /// Steps into an object or array (at its bracket); true when it is empty (and passed).
    fn open(&mut self, close: u8, depth: usize) -> Result<bool, NotJson> {
        if depth > MAX_DEPTH {
            return self.fail("objects and arrays nest deeper than 127 levels");
        }
        self.pos += 1;
        self.skip_whitespace();
        let empty = self.peek() == Some(close);
        if empty {
            self.pos += 1;
        }
        Ok(empty)
    }

    fn object(&mut self, node: Option<&Node>, depth: usize) -> Result<(), NotJson> {
        if self.open(b'}', depth)? {
            return Ok(());
        }
        loop {
            self.skip_whitespace();
            if self.peek() != Some(b'"') {
                return self.fail("expected a string key");
            }
            let child = match node {
                Some(node) => self.key_child(node)?,
                None => {
                    self.skip_string()?;
                    None
                }
            };
            self.expect(b':', "expected ':' after the key")?;
            self.value(child, depth)?;
            self.skip_whitespace();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(());
                }
                _ => return self.fail("expected ',' or '}'"),
            }
        }
    }

    /// Reads a key (at its quote) and finds the trie child it names.
    fn key_child<'t>(&mut self, node: &'t Node) -> Result<Option<&'t Node>, NotJson> {
        let start = self.pos;
        self.pos += 1;
        self.plain_run();
        if self.peek() == Some(b'"') {
            self.pos += 1;
            return Ok(node.child(&self.bytes[start + 1..self.pos - 1]));
        }
        self.pos = start;
        let key = self.string()?;
        Ok(node.child(key.as_bytes()))
    }

    fn array(&mut self, node: Option<&Node>, depth: usize) -> Result<(), NotJson> {
        use std::fmt::Write;
        if self.open(b']', depth)? {
            return Ok(());
        }
        let mut key = String::new();
        let mut index = 0usize;
        loop {
            let child = node.and_then(|node| {
                key.clear();
                let _ = write!(key, "{index}");
                node.child(key.as_bytes())
            });
            self.value(child, depth)?;
            self.skip_whitespace();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(());
                }
                _ => return self.fail("expected ',' or ']'"),
            }
            index += 1;
        }
    }

    fn literal(&mut self, word: &'static str) -> Result<(), NotJson> {
        if self.bytes[self.pos..].starts_with(word.as_bytes()) {
            self.pos += word.len();
            Ok(())
        } else {
            self.fail("expected true, false or null")
        }
    }

    /// Checks a number against the grammar; true when it has no fraction or exponent.
    fn number(&mut self) -> Result<bool, NotJson> {
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => self.digits(),
            _ => return self.fail("expected a digit"),
        }
        let mut integer = true;
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return self.fail("expected a digit after the decimal point");
            }
            self.digits();
            integer = false;
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return self.fail("expected a digit in the exponent");
            }
            self.digits();
            integer = false;
        }
        Ok(integer)
    }

    fn digits(&mut self) {
        while let Some(b'0'..=b'9') = self.peek() {
            self.pos += 1;
        }
    }

    /// Runs over string content up to a quote, backslash or control character.
    fn plain_run(&mut self) {
        let rest = &self.bytes[self.pos..];
        self.pos += rest
            .iter()
            .position(|&b| JSON_STRING_SPECIAL[usize::from(b)])
            .unwrap_or(rest.len());
    }

    fn skip_string(&mut self) -> Result<(), NotJson> {
        self.pos += 1;
        loop {
            self.plain_run();
            match self.peek() {
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(());
                }
                // As serde_json when it skips: the escape is checked, not decoded.
                Some(b'\\') => {
                    self.escape()?;
                }
                Some(_) => return self.fail("control character in a string"),
                None => return self.fail("the message ends inside a string"),
            }
        }
    }

    /// A string, borrowed from the message unless it has escapes.
    fn string(&mut self) -> Result<Cow<'m, str>, NotJson> {
        self.pos += 1;
        let start = self.pos;
        self.plain_run();
        if self.peek() == Some(b'"') {
            self.pos += 1;
            return Ok(Cow::Borrowed(&self.text[start..self.pos - 1]));
        }
        let mut owned = String::from(&self.text[start..self.pos]);
        loop {
            match self.peek() {
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(Cow::Owned(owned));
                }
                Some(b'\\') => owned.push(self.escape()?),
                Some(_) => return self.fail("control character in a string"),
                None => return self.fail("the message ends inside a string"),
            }
            let run = self.pos;
            self.plain_run();
            owned.push_str(&self.text[run..self.pos]);
        }
    }

    /// One escape sequence (at the backslash), decoded; a lone surrogate is an error.
    fn escape(&mut self) -> Result<char, NotJson> {
        self.pos += 1;
        let Some(byte) = self.peek() else {
            return self.fail("the message ends inside a string");
        };
        self.pos += 1;
        Ok(match byte {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let first = self.hex4()?;
                match first {
                    0xD800..=0xDBFF => {
                        if !self.bytes[self.pos..].starts_with(b"\\u") {
                            return self.fail("lone leading surrogate in a \\u escape");
                        }
                        self.pos += 2;
                        let second = self.hex4()?;
                        if !(0xDC00..=0xDFFF).contains(&second) {
                            return self.fail("invalid trailing surrogate in a \\u escape");
                        }
                        let code = 0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00);
                        char::from_u32(code).unwrap_or('\u{FFFD}')
                    }
                    0xDC00..=0xDFFF => return self.fail("lone trailing surrogate in a \\u escape"),
                    code => char::from_u32(code).unwrap_or('\u{FFFD}'),
                }
            }
            _ => {
                self.pos -= 1;
                return self.fail("invalid escape");
            }
        })
    }

    fn hex4(&mut self) -> Result<u32, NotJson> {
        let mut code = 0;
        for _ in 0..4 {
            let digit = self
                .peek()
                .and_then(|b| char::from(b).to_digit(16))
                .map_or_else(|| self.fail("expected four hex digits in a \\u escape"), Ok)?;
            code = code * 16 + digit;
            self.pos += 1;
        }
        Ok(code)
    }
}

/// A number's value as serde_json reads it: an integer when it has neither fraction nor
/// exponent and fits 64 bits, a float otherwise; `None` for a float beyond f64's range.
fn number_leaf(text: &str, integer: bool) -> Option<Leaf<'static>> {
    // serde_json reads "-0" as the float -0.0, not the integer 0.
    if integer && text != "-0" {
        if let Ok(v) = text.parse::<i64>() {
            return Some(Leaf::I64(v));
        }
        if let Ok(v) = text.parse::<u64>() {
            return Some(Leaf::U64(v));
        }
    }
    text.parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
        .map(Leaf::F64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extracts_only_the_pointed_values() {
        let mut trie = PathTrie::default();
        let tokens = |p: &str| p.split('/').skip(1).map(str::to_owned).collect::<Vec<_>>();
        let h = trie.insert(&tokens("/k/h"));
        let k = trie.insert(&tokens("/k"));
        let first = trie.insert(&tokens("/list/0"));
        let missing = trie.insert(&tokens("/nope"));
        assert_eq!(trie.insert(&tokens("/k/h")), h, "a pointer keeps its slot");
        let slots = trie
            .extract(r#"{"a":[1,{"b":2}],"k":{"h":"612.3","x":[true]},"list":["first","second"]}"#)
            .unwrap();
        assert_eq!(slots[h], Some(Leaf::Str(Cow::Borrowed("612.3"))));
        assert!(matches!(&slots[k], Some(Leaf::Other(v)) if v["x"][0] == Value::Bool(true)));
        assert_eq!(slots[first], Some(Leaf::Str(Cow::Borrowed("first"))));
        assert_eq!(slots[missing], None);
        assert!(trie.extract(r#"{"k":"#).is_err());
        assert!(trie.extract(r#"{"k":1} trailing"#).is_err());
    }
}
