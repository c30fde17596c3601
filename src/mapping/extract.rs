//! One pass over a JSON message that keeps only the values the rules point at.
//!
//! Building a whole `serde_json::Value` allocates for every key and string of the message, and
//! even serde_json's skipping goes through its visitor machinery for every member. Here the
//! pointers of all rules are merged into a trie and a small scanner walks the bytes once:
//! it checks the whole message against the JSON grammar (RFC 8259, nesting limited to 127
//! levels as in serde_json), skips what the trie does not name, and builds only the
//! pointed-at values, borrowing strings from the message. An array pointed at (an order book
//! side) is flattened into one vector, so its levels cost no allocation each. A differential
//! fuzz target checks it against serde_json.

use std::fmt;

use serde_json::Value;

mod leaf;
mod scan;

use leaf::{Child, children};
pub(super) use leaf::{Leaf, index_token, walk};
use scan::Scan;

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
    fn fill<'m>(&self, value: &Leaf<'m>, slots: &mut [Option<Leaf<'m>>]) {
        for (key, child) in &self.children {
            let inner = match value {
                Leaf::Other(Value::Object(map)) => {
                    map.get(key).map(|v| Leaf::from_value(v.clone()))
                }
                Leaf::List(nodes) => {
                    index_token(key).and_then(|i| match children(nodes).nth(i)? {
                        Child::One(leaf) => Some(leaf.clone()),
                        Child::Nested(inner) => Some(Leaf::List(inner.to_vec())),
                    })
                }
                _ => None,
            };
            if let Some(inner) = inner {
                child.fill(&inner, slots);
                if let Some(slot) = child.slot {
                    slots[slot] = Some(inner);
                }
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
#[cfg(test)]
mod tests {
    use std::borrow::Cow;

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
        assert!(
            matches!(&slots[k], Some(Leaf::Other(v)) if v["x"][0] == Value::Bool(true)),
            "an object pointed at is built whole"
        );
        assert_eq!(slots[first], Some(Leaf::Str(Cow::Borrowed("first"))));
        assert_eq!(slots[missing], None);
        assert!(trie.extract(r#"{"k":"#).is_err());
        assert!(trie.extract(r#"{"k":1} trailing"#).is_err());
    }
}
