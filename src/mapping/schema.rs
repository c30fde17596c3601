//! The mapping file's TOML schema, and its compilation into [`Rule`]s.

use std::collections::HashMap;

use serde::Deserialize;

use super::MappingError;
use super::expr::Expr;
use super::rule::{FieldType, Pointer, Rule, TagSpec};
use crate::reading::Precision;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct MappingFile {
    #[serde(default = "default_max_readings")]
    pub max_readings_per_message: usize,
    pub rule: Vec<RuleFile>,
}

fn default_max_readings() -> usize {
    64
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RuleFile {
    name: String,
    #[serde(default)]
    when: toml::Table,
    measurement: String,
    timestamp: Option<TimestampFile>,
    #[serde(default)]
    tags: toml::Table,
    #[serde(default)]
    fields: toml::Table,
    #[serde(default)]
    derive: Vec<DeriveFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TimestampFile {
    path: String,
    #[serde(default = "default_unit")]
    unit: String,
}

fn default_unit() -> String {
    "ms".to_owned()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DeriveFile {
    name: String,
    expr: String,
}

pub(super) fn compile(file: RuleFile) -> Result<Rule, MappingError> {
    let name = file.name.clone();
    let error = |part: String, text: Option<&str>, reason: String| {
        MappingError::rule(&name, Some(part), text, reason)
    };
    let check_path = |path: &str, what: &str| {
        if path.is_empty() || path.starts_with('/') {
            Ok(())
        } else {
            Err(error(
                what.to_owned(),
                Some(path),
                format!("path {path:?} must be a JSON Pointer starting with '/'"),
            ))
        }
    };

    let mut when = Vec::new();
    for (path, expected) in file.when {
        check_path(&path, "when")?;
        let expected = serde_json::to_value(&expected)
            .map_err(|e| error(format!("when {path:?}"), None, e.to_string()))?;
        when.push((Pointer::new(path), expected));
    }

    let timestamp = match file.timestamp {
        None => None,
        Some(t) => {
            check_path(&t.path, "timestamp")?;
            let unit = t
                .unit
                .parse::<Precision>()
                .map_err(|e| error("timestamp".into(), Some(&t.unit), e.to_string()))?;
            Some((Pointer::new(t.path), unit))
        }
    };

    let mut tags = Vec::new();
    for (key, spec) in file.tags {
        let (path, map) = match spec {
            toml::Value::String(path) => (path, None),
            toml::Value::Table(mut table) => {
                let path = match table.remove("path") {
                    Some(toml::Value::String(p)) => p,
                    _ => {
                        return Err(error(
                            format!("tag {key:?}"),
                            None,
                            "needs path = \"/…\"".into(),
                        ));
                    }
                };
                let map = match table.remove("map") {
                    None => None,
                    Some(toml::Value::Table(m)) => Some(
                        m.into_iter()
                            .map(|(k, v)| match v {
                                toml::Value::String(s) => Ok((k, s)),
                                other => Err(error(
                                    format!("tag {key:?}"),
                                    None,
                                    format!("map value {other} must be a string"),
                                )),
                            })
                            .collect::<Result<HashMap<_, _>, _>>()?,
                    ),
                    Some(_) => {
                        return Err(error(
                            format!("tag {key:?}"),
                            None,
                            "map must be a table".into(),
                        ));
                    }
                };
                if let Some(extra) = table.keys().next() {
                    return Err(error(
                        format!("tag {key:?}"),
                        Some(extra),
                        format!("unknown key {extra:?}"),
                    ));
                }
                (path, map)
            }
            other => {
                return Err(error(
                    format!("tag {key:?}"),
                    None,
                    format!("expected a path or {{ path, map }}, found {other}"),
                ));
            }
        };
        check_path(&path, &format!("tag {key:?}"))?;
        tags.push(TagSpec {
            key,
            path: Pointer::new(path),
            map,
        });
    }

    let mut fields = Vec::new();
    for (key, spec) in file.fields {
        let (path, kind) = match spec {
            toml::Value::String(path) => (path, FieldType::Float),
            toml::Value::Table(mut table) => {
                let path = match table.remove("path") {
                    Some(toml::Value::String(p)) => p,
                    _ => {
                        return Err(error(
                            format!("field {key:?}"),
                            None,
                            "needs path = \"/…\"".into(),
                        ));
                    }
                };
                let kind = match table.remove("type").as_ref().and_then(toml::Value::as_str) {
                    None | Some("float") => FieldType::Float,
                    Some("integer") => FieldType::Integer,
                    Some("unsigned") => FieldType::Unsigned,
                    Some("boolean") => FieldType::Boolean,
                    Some("string") => FieldType::String,
                    Some(other) => {
                        return Err(error(
                            format!("field {key:?}"),
                            Some(other),
                            format!(
                                "unknown type {other:?}: use float, integer, unsigned, boolean or string"
                            ),
                        ));
                    }
                };
                if let Some(extra) = table.keys().next() {
                    return Err(error(
                        format!("field {key:?}"),
                        Some(extra),
                        format!("unknown key {extra:?}"),
                    ));
                }
                (path, kind)
            }
            other => {
                return Err(error(
                    format!("field {key:?}"),
                    None,
                    format!("expected a path or {{ path, type }}, found {other}"),
                ));
            }
        };
        check_path(&path, &format!("field {key:?}"))?;
        fields.push((key, Pointer::new(path), kind));
    }

    let mut known: Vec<String> = fields
        .iter()
        .filter(|(_, _, kind)| {
            matches!(
                kind,
                FieldType::Float | FieldType::Integer | FieldType::Unsigned
            )
        })
        .map(|(key, _, _)| key.clone())
        .collect();
    let mut slots = 0;
    let mut derive = Vec::new();
    for d in file.derive {
        let parsed = Expr::parse(&d.expr, &mut slots).map_err(|e| {
            error(format!("derive {:?}", d.name), Some(&d.expr), e.reason).at_byte(e.offset)
        })?;
        let mut names = Vec::new();
        parsed.names(&mut names);
        if let Some(unknown) = names.iter().find(|n| !known.contains(n)) {
            return Err(error(
                format!("derive {:?}", d.name),
                Some(unknown),
                format!("{unknown:?} is not a numeric field or an earlier derived field"),
            ));
        }
        known.push(d.name.clone());
        derive.push((d.name, parsed));
    }
    if fields.is_empty() && derive.is_empty() {
        return Err(MappingError::rule(&name, None, None, "has no fields"));
    }
    Ok(Rule {
        name: file.name,
        when,
        measurement: file.measurement,
        timestamp,
        tags,
        fields,
        derive,
    })
}
