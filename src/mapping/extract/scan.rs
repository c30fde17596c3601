//! The scanner: one walk over a message's bytes, checking the JSON grammar and filling the
//! slots the trie names.

use std::borrow::Cow;

use super::{Leaf, Node, NotJson};
use crate::text::JSON_STRING_SPECIAL;

/// serde_json's limit: objects and arrays nest at most 127 deep.
const MAX_DEPTH: usize = 127;

pub(super) struct Scan<'m, 's> {
    pub(super) text: &'m str,
    pub(super) bytes: &'m [u8],
    pub(super) pos: usize,
    pub(super) slots: &'s mut [Option<Leaf<'m>>],
}

impl<'m> Scan<'m, '_> {
    pub(super) fn fail<T>(&self, reason: &'static str) -> Result<T, NotJson> {
        Err(NotJson {
            offset: self.pos,
            reason,
        })
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    pub(super) fn skip_whitespace(&mut self) {
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
    pub(super) fn value(&mut self, node: Option<&Node>, depth: usize) -> Result<(), NotJson> {
        self.skip_whitespace();
        if let Some(node) = node {
            // A key given twice: as in serde_json, the last one wins, whole.
            node.clear_below(self.slots);
        }
        if let Some(node) = node
            && let Some(slot) = node.slot
        {
            let leaf = self.leaf(depth)?;
            if !node.children.is_empty() {
                node.fill(&leaf, self.slots);
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
            Some(b'[') => {
                let mut nodes = Vec::with_capacity(16);
                self.list(depth, &mut nodes)?;
                Ok(Leaf::List(nodes))
            }
            Some(b'{') => {
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

    /// An array that a pointer names (at its bracket), flattened into `nodes` (see
    /// [`Leaf::List`]): strings borrowed, numbers read once, nothing built through
    /// `serde_json` unless an element is an object.
    fn list(&mut self, depth: usize, nodes: &mut Vec<Leaf<'m>>) -> Result<(), NotJson> {
        if self.open(b']', depth + 1)? {
            return Ok(());
        }
        loop {
            self.skip_whitespace();
            if self.peek() == Some(b'[') {
                let at = nodes.len();
                nodes.push(Leaf::Nested(0));
                self.list(depth + 1, nodes)?;
                nodes[at] = Leaf::Nested(nodes.len() - at - 1);
            } else {
                nodes.push(self.leaf(depth + 1)?);
            }
            if self.next_or_close(b']', "expected ',' or ']'")? {
                return Ok(());
            }
        }
    }

    /// After a member or element: passes a `,` (false) or the closing bracket (true).
    fn next_or_close(&mut self, close: u8, expected: &'static str) -> Result<bool, NotJson> {
        self.skip_whitespace();
        match self.peek() {
            Some(b',') => {
                self.pos += 1;
                Ok(false)
            }
            Some(c) if c == close => {
                self.pos += 1;
                Ok(true)
            }
            _ => self.fail(expected),
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
            if self.next_or_close(b'}', "expected ',' or '}'")? {
                return Ok(());
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
            if self.next_or_close(b']', "expected ',' or ']'")? {
                return Ok(());
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
