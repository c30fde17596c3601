//! One pass over a JSON message that keeps only the values the rules point at.
//!
//! Building a whole `serde_json::Value` allocates for every key and string of the message;
//! here the pointers of all rules are merged into a trie, the parser skips every member the
//! trie does not name, and only the pointed-at values are built.

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

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
}

impl Node {
    fn child(&self, key: &str) -> Option<&Node> {
        self.children.iter().find(|(k, _)| k == key).map(|(_, n)| n)
    }

    /// Fills the slots below this node from a value already built for it.
    fn fill(&self, value: &Value, slots: &mut [Option<Value>]) {
        for (key, child) in &self.children {
            let inner = match value {
                Value::Object(map) => map.get(key),
                Value::Array(items) => key.parse::<usize>().ok().and_then(|i| items.get(i)),
                _ => None,
            };
            if let Some(inner) = inner {
                if let Some(slot) = child.slot {
                    slots[slot] = Some(inner.clone());
                }
                child.fill(inner, slots);
            }
        }
    }
}

impl PathTrie {
    /// Adds a pointer (its unescaped tokens); returns its slot.
    pub fn insert(&mut self, tokens: &[String]) -> usize {
        let mut node = &mut self.root;
        for token in tokens {
            let index = match node.children.iter().position(|(k, _)| k == token) {
                Some(index) => index,
                None => {
                    node.children.push((token.clone(), Node::default()));
                    node.children.len() - 1
                }
            };
            node = &mut node.children[index].1;
        }
        *node.slot.get_or_insert_with(|| {
            self.slots += 1;
            self.slots - 1
        })
    }

    /// The value at each slot's pointer in `message` (`None` where absent).
    pub fn extract(&self, message: &str) -> Result<Vec<Option<Value>>, serde_json::Error> {
        let mut slots = vec![None; self.slots];
        let mut parser = serde_json::Deserializer::from_str(message);
        Walk {
            node: &self.root,
            slots: &mut slots,
        }
        .deserialize(&mut parser)?;
        parser.end()?;
        Ok(slots)
    }
}

struct Walk<'t> {
    node: &'t Node,
    slots: &'t mut [Option<Value>],
}

impl<'de> DeserializeSeed<'de> for Walk<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        if let Some(slot) = self.node.slot {
            let value = Value::deserialize(deserializer)?;
            self.node.fill(&value, self.slots);
            self.slots[slot] = Some(value);
            return Ok(());
        }
        deserializer.deserialize_any(self)
    }
}

/// An object key, borrowed from the message unless it has escapes.
struct Key<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

impl<'de> Visitor<'de> for Walk<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
            match self.node.child(&key) {
                Some(child) => map.next_value_seed(Walk {
                    node: child,
                    slots: &mut *self.slots,
                })?,
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut index = 0usize;
        loop {
            let more = match self.node.child(&index.to_string()) {
                Some(child) => seq
                    .next_element_seed(Walk {
                        node: child,
                        slots: &mut *self.slots,
                    })?
                    .is_some(),
                None => seq.next_element::<IgnoredAny>()?.is_some(),
            };
            if !more {
                return Ok(());
            }
            index += 1;
        }
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
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
        assert_eq!(slots[h], Some(Value::from("612.3")));
        assert_eq!(slots[k].as_ref().unwrap()["x"][0], Value::Bool(true));
        assert_eq!(slots[first], Some(Value::from("first")));
        assert_eq!(slots[missing], None);
        assert!(trie.extract(r#"{"k":"#).is_err());
        assert!(trie.extract(r#"{"k":1} trailing"#).is_err());
    }
}
