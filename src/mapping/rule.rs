//! Compiled rules: what [`schema`](super::schema) makes of a mapping file.

use std::collections::HashMap;
use std::fmt;

use serde_json::Value;

use super::expr::Expr;
use super::extract::Leaf;
use crate::reading::Precision;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum FieldType {
    Float,
    Integer,
    Unsigned,
    Boolean,
    String,
}

/// A JSON Pointer, split into its unescaped tokens once, when the mapping is read; `slot` is
/// where [`extract`] puts the value it points to.
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

#[derive(Debug)]
pub(super) struct TagSpec {
    pub(super) key: String,
    pub(super) path: Pointer,
    pub(super) map: Option<HashMap<String, String>>,
}

#[derive(Debug)]
pub(super) struct Rule {
    pub(super) name: String,
    pub(super) when: Vec<(Pointer, Value)>,
    pub(super) measurement: String,
    pub(super) timestamp: Option<(Pointer, Precision)>,
    pub(super) tags: Vec<TagSpec>,
    pub(super) fields: Vec<(String, Pointer, FieldType)>,
    pub(super) derive: Vec<(String, Expr)>,
}
