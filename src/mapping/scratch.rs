//! Each rule's working space: its last readings, refilled in place message after message.

use crate::reading::{FieldValue, Reading, Timestamp};

/// One reading a rule refills message after message.
#[derive(Debug, Default)]
pub(super) struct Slot {
    pub(super) reading: Option<Reading>,
    /// The derived fields (indices into the rule's `derive`) `reading` ends with; a message
    /// whose derived fields differ (a series' first, without `delta`) builds a new reading.
    pub(super) shape: Vec<usize>,
}

/// One rule's working space. A stream sends the same shape of message again and again, so
/// the rule's last readings are refilled in place (keys kept, values overwritten) instead of
/// built anew: a steady stream allocates no strings per message.
#[derive(Debug, Default)]
pub(super) struct Scratch {
    /// One per reading of the message (one per element for `each`); `used` are current.
    pub(super) slots: Vec<Slot>,
    pub(super) used: usize,
    /// Window readings from this message (closed, or open at their pace).
    pub(super) emitted: Vec<Reading>,
    pub(super) tag_values: Vec<String>,
    pub(super) fields: Vec<FieldValue>,
    pub(super) derived: Vec<(usize, f64)>,
    /// Running sums of `cumulative` over the elements of this message's array.
    pub(super) running: Vec<f64>,
    /// The message time the rule read from this message, if it has a time path.
    pub(super) time: Option<Timestamp>,
}

impl Scratch {
    pub(super) fn readings(&self) -> impl Iterator<Item = &Reading> {
        self.slots[..self.used]
            .iter()
            .filter_map(|s| s.reading.as_ref())
            .chain(&self.emitted)
    }

    pub(super) fn count(&self) -> usize {
        self.used + self.emitted.len()
    }
}
