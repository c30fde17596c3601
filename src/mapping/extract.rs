//! One pass over a JSON message that keeps only the values the rules point at.
//!
//! Building a whole `serde_json::Value` allocates for every key and string of the message;
//! here the pointers of all rules are merged into a trie, the parser skips every member the
//! trie does not name, and only the pointed-at values are built.

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde::de::value::{MapAccessDeserializer, SeqAccessDeserializer};
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

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
        match self {
            Leaf::Str(s) => Some(s.to_string()),
            Leaf::I64(v) => Some(v.to_string()),
            Leaf::U64(v) => Some(v.to_string()),
            Leaf::F64(v) => serde_json::Number::from_f64(*v).map(|n| n.to_string()),
            Leaf::Bool(b) => Some(b.to_string()),
            Leaf::Null | Leaf::Other(_) => None,
        }
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

impl<'de> Deserialize<'de> for Leaf<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct LeafVisitor;
        impl<'de> Visitor<'de> for LeafVisitor {
            type Value = Leaf<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Leaf<'de>, E> {
                Ok(Leaf::Str(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Leaf<'de>, E> {
                Ok(Leaf::Str(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<Leaf<'de>, E> {
                Ok(Leaf::Str(Cow::Owned(v)))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Leaf<'de>, E> {
                Ok(Leaf::I64(v))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Leaf<'de>, E> {
                match i64::try_from(v) {
                    Ok(i) => Ok(Leaf::I64(i)),
                    Err(_) => Ok(Leaf::U64(v)),
                }
            }
            fn visit_f64<E>(self, v: f64) -> Result<Leaf<'de>, E> {
                Ok(Leaf::F64(v))
            }
            fn visit_bool<E>(self, v: bool) -> Result<Leaf<'de>, E> {
                Ok(Leaf::Bool(v))
            }
            fn visit_unit<E>(self) -> Result<Leaf<'de>, E> {
                Ok(Leaf::Null)
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Leaf<'de>, A::Error> {
                Value::deserialize(MapAccessDeserializer::new(map)).map(Leaf::Other)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Leaf<'de>, A::Error> {
                Value::deserialize(SeqAccessDeserializer::new(seq)).map(Leaf::Other)
            }
        }
        deserializer.deserialize_any(LeafVisitor)
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
}

impl Node {
    fn child(&self, key: &str) -> Option<&Node> {
        self.children.iter().find(|(k, _)| k == key).map(|(_, n)| n)
    }

    /// Fills the slots below this node from a value already built for it.
    fn fill(&self, value: &Value, slots: &mut [Option<Leaf<'_>>]) {
        for (key, child) in &self.children {
            let inner = match value {
                Value::Object(map) => map.get(key),
                Value::Array(items) => key.parse::<usize>().ok().and_then(|i| items.get(i)),
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
    pub fn extract<'m>(
        &self,
        message: &'m str,
    ) -> Result<Vec<Option<Leaf<'m>>>, serde_json::Error> {
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

struct Walk<'t, 'de> {
    node: &'t Node,
    slots: &'t mut [Option<Leaf<'de>>],
}

impl<'de> DeserializeSeed<'de> for Walk<'_, 'de> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        if let Some(slot) = self.node.slot {
            let leaf = Leaf::deserialize(deserializer)?;
            if let Leaf::Other(value) = &leaf {
                self.node.fill(value, self.slots);
            }
            self.slots[slot] = Some(leaf);
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

impl<'de> Visitor<'de> for Walk<'_, 'de> {
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
        assert_eq!(slots[h], Some(Leaf::Str(Cow::Borrowed("612.3"))));
        assert!(matches!(&slots[k], Some(Leaf::Other(v)) if v["x"][0] == Value::Bool(true)));
        assert_eq!(slots[first], Some(Leaf::Str(Cow::Borrowed("first"))));
        assert_eq!(slots[missing], None);
        assert!(trie.extract(r#"{"k":"#).is_err());
        assert!(trie.extract(r#"{"k":1} trailing"#).is_err());
    }
}
