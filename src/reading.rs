//! The reading model: one measurement with its tags, typed fields and optional timestamp.
//!
//! A [`Reading`] is validated once, when it is built, against the rules every wire format shares
//! (names are non-empty, no control characters, floats are finite, at least one field, no
//! duplicate keys). Rules that only one format has, such as Influx's trailing backslash, are
//! checked by that format's encoder.

use std::fmt;

mod time;
pub use time::{Precision, Timestamp, UnknownPrecision};

/// The value of one field, with its type.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldValue {
    /// A 64-bit float; always finite in a built [`Reading`].
    Float(f64),
    /// A signed 64-bit integer (`3i` in line protocol).
    Integer(i64),
    /// An unsigned 64-bit integer (`3u` in line protocol).
    Unsigned(u64),
    /// A boolean.
    Boolean(bool),
    /// A string; never contains `\n` or `\r` in a built [`Reading`].
    String(String),
}

impl FieldValue {
    /// The name of the value's type, as error messages and docs say it.
    pub fn type_name(&self) -> &'static str {
        match self {
            FieldValue::Float(_) => "float",
            FieldValue::Integer(_) => "integer",
            FieldValue::Unsigned(_) => "unsigned",
            FieldValue::Boolean(_) => "boolean",
            FieldValue::String(_) => "string",
        }
    }
}

impl fmt::Display for FieldValue {
    /// Prints the value as line protocol writes it (strings quoted but not escaped).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FieldValue::Float(v) => write!(f, "{v}"),
            FieldValue::Integer(v) => write!(f, "{v}i"),
            FieldValue::Unsigned(v) => write!(f, "{v}u"),
            FieldValue::Boolean(v) => write!(f, "{v}"),
            FieldValue::String(v) => write!(f, "{v:?}"),
        }
    }
}

macro_rules! field_value_from {
    ($($t:ty => $variant:ident as $as:ty),* $(,)?) => {
        $(impl From<$t> for FieldValue {
            fn from(v: $t) -> Self {
                FieldValue::$variant(v as $as)
            }
        })*
    };
}

field_value_from!(
    f64 => Float as f64, f32 => Float as f64,
    i64 => Integer as i64, i32 => Integer as i64, i16 => Integer as i64, i8 => Integer as i64,
    u64 => Unsigned as u64, u32 => Unsigned as u64, u16 => Unsigned as u64, u8 => Unsigned as u64,
);

impl From<bool> for FieldValue {
    fn from(v: bool) -> Self {
        FieldValue::Boolean(v)
    }
}

impl From<String> for FieldValue {
    fn from(v: String) -> Self {
        FieldValue::String(v)
    }
}

impl From<&str> for FieldValue {
    fn from(v: &str) -> Self {
        FieldValue::String(v.to_owned())
    }
}

/// Which part of a reading an error is about.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Part {
    /// The measurement name.
    Measurement,
    /// A tag key.
    TagKey,
    /// The value of the tag with this key.
    TagValue(String),
    /// A field key.
    FieldKey,
    /// The value of the field with this key.
    FieldValue(String),
    /// The timestamp.
    Timestamp,
}

impl fmt::Display for Part {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Part::Measurement => f.write_str("measurement"),
            Part::TagKey => f.write_str("tag key"),
            Part::TagValue(key) => write!(f, "value of tag {key:?}"),
            Part::FieldKey => f.write_str("field key"),
            Part::FieldValue(key) => write!(f, "value of field {key:?}"),
            Part::Timestamp => f.write_str("timestamp"),
        }
    }
}

/// Why a reading could not be built.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ReadingError {
    /// The measurement, a tag key, a tag value or a field key is empty.
    #[error("{0} is empty")]
    Empty(Part),
    /// The reading has no field; Telegraf drops such metrics.
    #[error("reading {measurement:?} has no field; Telegraf drops readings without fields")]
    NoFields {
        /// The measurement of the reading.
        measurement: String,
    },
    /// A name or value contains a control character that no format can carry.
    #[error("{part} {value:?} contains control character {character:?} at byte {offset}")]
    ControlCharacter {
        /// Where the character is.
        part: Part,
        /// The whole offending text.
        value: String,
        /// The character.
        character: char,
        /// Its byte offset in `value`.
        offset: usize,
    },
    /// A float field is NaN or infinite, which Telegraf rejects.
    #[error(
        "value of field {key:?} is {value}, which Telegraf rejects: only finite floats can be sent"
    )]
    NonFinite {
        /// The field key.
        key: String,
        /// The value.
        value: f64,
    },
    /// Two tags have the same key.
    #[error("tag {0:?} is given twice")]
    DuplicateTag(String),
    /// Two fields have the same key.
    #[error("field {0:?} is given twice")]
    DuplicateField(String),
}

/// One measurement at one moment: the unit every input produces and every format encodes.
///
/// Tags keep the order they were given in. Build one with [`Reading::builder`]:
///
/// ```
/// use telemit::{FieldValue, Precision, Reading, Timestamp};
///
/// let reading = Reading::builder("weather")
///     .tag("city", "Oslo")
///     .field("temperature", 21.5)
///     .field("humidity", 63i64)
///     .field("raining", false)
///     .timestamp(Timestamp::new(1_700_000_000, Precision::Seconds))
///     .build()?;
/// assert_eq!(reading.measurement(), "weather");
/// assert_eq!(reading.fields()[1], ("humidity".to_string(), FieldValue::Integer(63)));
/// # Ok::<(), telemit::ReadingError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Reading {
    measurement: String,
    tags: Vec<(String, String)>,
    fields: Vec<(String, FieldValue)>,
    timestamp: Option<Timestamp>,
}

impl Reading {
    /// Starts a reading of `measurement`.
    pub fn builder(measurement: impl Into<String>) -> ReadingBuilder {
        ReadingBuilder {
            reading: Reading {
                measurement: measurement.into(),
                tags: Vec::new(),
                fields: Vec::new(),
                timestamp: None,
            },
        }
    }

    /// The measurement name.
    pub fn measurement(&self) -> &str {
        &self.measurement
    }

    /// The tags, in the order they were given.
    pub fn tags(&self) -> &[(String, String)] {
        &self.tags
    }

    /// The value of the tag `key`, if present.
    pub fn tag(&self, key: &str) -> Option<&str> {
        self.tags
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The fields, in the order they were given; never empty.
    pub fn fields(&self) -> &[(String, FieldValue)] {
        &self.fields
    }

    /// The value of the field `key`, if present.
    pub fn field(&self, key: &str) -> Option<&FieldValue> {
        self.fields.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// The timestamp, if the reading has one.
    pub fn timestamp(&self) -> Option<Timestamp> {
        self.timestamp
    }

    /// Sets or clears the timestamp.
    pub fn set_timestamp(&mut self, timestamp: Option<Timestamp>) {
        self.timestamp = timestamp;
    }

    /// Sets the timestamp if the reading has none.
    pub fn stamp_if_missing(&mut self, timestamp: Timestamp) {
        self.timestamp.get_or_insert(timestamp);
    }

    /// Adds the tags of `defaults` whose keys the reading does not have yet.
    ///
    /// The defaults come from another built reading or a [`DefaultTags`] set, so they are valid.
    pub fn add_default_tags(&mut self, defaults: &DefaultTags) {
        for (key, value) in &defaults.0 {
            if self.tag(key).is_none() {
                self.tags.push((key.clone(), value.clone()));
            }
        }
    }

    /// Adds a field, replacing the value of a field with the same key.
    ///
    /// Used to add a sequence number or a derived value; the value is validated like in
    /// [`ReadingBuilder::build`].
    /// Replacing an existing field's value allocates nothing (a sequence number per reading).
    pub fn set_field(
        &mut self,
        key: impl AsRef<str> + Into<String>,
        value: impl Into<FieldValue>,
    ) -> Result<(), ReadingError> {
        let value = value.into();
        validate_field_value(key.as_ref(), &value)?;
        if let Some((_, slot)) = self.fields.iter_mut().find(|(k, _)| k == key.as_ref()) {
            *slot = value;
            return Ok(());
        }
        let key = key.into();
        validate_name(&key, || Part::FieldKey)?;
        self.fields.push((key, value));
        Ok(())
    }
}

impl Reading {
    /// Overwrites the values of this reading in place, keeping its keys: the first
    /// `tag_values.len()` tags (in order), then the fields in order, then the timestamp.
    ///
    /// For inputs that produce the same shape of reading again and again (the WebSocket
    /// mapping): nothing is allocated. The tag values are swapped in, not copied: each string
    /// of `tag_values` takes the old value's buffer, for the caller to clear and reuse. Every
    /// value is checked as [`ReadingBuilder::build`] checks it; on an error the tags are left
    /// unchanged, but fields before the bad one may already hold their new values, so a
    /// caller should drop the reading.
    pub fn refill(
        &mut self,
        tag_values: &mut [String],
        field_values: impl IntoIterator<Item = FieldValue>,
        timestamp: Option<Timestamp>,
    ) -> Result<(), ReadingError> {
        for ((key, _), value) in self.tags.iter().zip(tag_values.iter()) {
            validate_name(value, || Part::TagValue(key.clone()))?;
        }
        for ((_, slot), value) in self.tags.iter_mut().zip(tag_values.iter_mut()) {
            std::mem::swap(slot, value);
        }
        for ((key, slot), value) in self.fields.iter_mut().zip(field_values) {
            validate_field_value(key, &value)?;
            *slot = value;
        }
        self.timestamp = timestamp;
        Ok(())
    }
}

/// Builds a [`Reading`]; nothing is checked until [`build`](ReadingBuilder::build).
#[derive(Debug, Clone)]
#[must_use]
pub struct ReadingBuilder {
    reading: Reading,
}

impl ReadingBuilder {
    /// Adds a tag.
    pub fn tag(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.reading.tags.push((key.into(), value.into()));
        self
    }

    /// Adds a field.
    pub fn field(mut self, key: impl Into<String>, value: impl Into<FieldValue>) -> Self {
        self.reading.fields.push((key.into(), value.into()));
        self
    }

    /// Sets the timestamp.
    pub fn timestamp(mut self, timestamp: Timestamp) -> Self {
        self.reading.timestamp = Some(timestamp);
        self
    }

    /// Sets or clears the timestamp.
    pub fn maybe_timestamp(mut self, timestamp: Option<Timestamp>) -> Self {
        self.reading.timestamp = timestamp;
        self
    }

    /// Checks the reading and returns it.
    pub fn build(self) -> Result<Reading, ReadingError> {
        let reading = self.reading;
        validate_name(&reading.measurement, || Part::Measurement)?;
        for (key, value) in &reading.tags {
            validate_name(key, || Part::TagKey)?;
            validate_name(value, || Part::TagValue(key.clone()))?;
        }
        if reading.fields.is_empty() {
            return Err(ReadingError::NoFields {
                measurement: reading.measurement,
            });
        }
        for (key, value) in &reading.fields {
            validate_name(key, || Part::FieldKey)?;
            validate_field_value(key, value)?;
        }
        if let Some(key) = first_duplicate(reading.tags.iter().map(|(k, _)| k.as_str())) {
            return Err(ReadingError::DuplicateTag(key.to_owned()));
        }
        if let Some(key) = first_duplicate(reading.fields.iter().map(|(k, _)| k.as_str())) {
            return Err(ReadingError::DuplicateField(key.to_owned()));
        }
        Ok(reading)
    }
}

/// Tags added to every reading that does not already have them (the CLI's `--tag`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DefaultTags(Vec<(String, String)>);

impl DefaultTags {
    /// Validates the tags as a reading's tags are validated.
    pub fn new(tags: Vec<(String, String)>) -> Result<Self, ReadingError> {
        for (key, value) in &tags {
            validate_name(key, || Part::TagKey)?;
            validate_name(value, || Part::TagValue(key.clone()))?;
        }
        if let Some(key) = first_duplicate(tags.iter().map(|(k, _)| k.as_str())) {
            return Err(ReadingError::DuplicateTag(key.to_owned()));
        }
        Ok(DefaultTags(tags))
    }

    /// True when there are no default tags.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// `part` names what is checked, for the error; it is only built when there is one.
fn validate_name(text: &str, part: impl FnOnce() -> Part) -> Result<(), ReadingError> {
    if text.is_empty() {
        return Err(ReadingError::Empty(part()));
    }
    if let Some((offset, character)) = text.char_indices().find(|(_, c)| c.is_ascii_control()) {
        return Err(ReadingError::ControlCharacter {
            part: part(),
            value: text.to_owned(),
            character,
            offset,
        });
    }
    Ok(())
}

fn validate_field_value(key: &str, value: &FieldValue) -> Result<(), ReadingError> {
    match value {
        FieldValue::Float(v) if !v.is_finite() => Err(ReadingError::NonFinite {
            key: key.to_owned(),
            value: *v,
        }),
        FieldValue::String(s) => match s
            .char_indices()
            .find(|(_, c)| matches!(c, '\n' | '\r' | '\u{c}'))
        {
            // A raw line break would split the line on a stream socket; a form feed is outside
            // Telegraf's string grammar (`fieldstringchar` in its influx parser).
            Some((offset, character)) => Err(ReadingError::ControlCharacter {
                part: Part::FieldValue(key.to_owned()),
                value: s.clone(),
                character,
                offset,
            }),
            None => Ok(()),
        },
        _ => Ok(()),
    }
}

fn first_duplicate<'a>(keys: impl ExactSizeIterator<Item = &'a str> + Clone) -> Option<&'a str> {
    const QUADRATIC_LIMIT: usize = 16;
    if keys.len() <= QUADRATIC_LIMIT {
        keys.clone()
            .enumerate()
            .find(|(i, key)| keys.clone().take(*i).any(|earlier| earlier == *key))
            .map(|(_, key)| key)
    } else {
        let mut sorted: Vec<&str> = keys.collect();
        sorted.sort_unstable();
        sorted.windows(2).find(|w| w[0] == w[1]).map(|w| w[0])
    }
}

#[cfg(test)]
#[path = "reading_tests.rs"]
mod tests;
