//! Per-series state and the cardinality guard.
//!
//! A series is a rule and the values of its tags. Each has the previous values of its
//! `delta`/`rate` nodes and its open window. The table holds at most `max_series` series per
//! mapping and each rule's own `max_series`; a new series beyond either is refused and
//! counted for its rule. A series without a message for `series_idle` (arrival time) is
//! dropped, so a stream of ever-new tag values cannot grow memory without bound.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::hash::{BuildHasherDefault, Hasher};

use super::expr::SeriesState;
use super::window::Window;

/// One series' memory.
#[derive(Debug, Default)]
pub(super) struct Series {
    pub derive: SeriesState,
    pub window: Option<Window>,
    /// Start of the last window closed for being idle: later messages of it are late.
    pub closed: Option<i64>,
    /// Arrival time of its last message, in nanoseconds.
    pub seen: i64,
}

/// The table's hasher. A series key is already a hash of the tag values under the mapping's
/// random key, so the table only mixes in the rule (a multiply-rotate, as FxHash does) instead
/// of hashing the hash again with SipHash.
#[derive(Debug, Default)]
pub(super) struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.write_u64(u64::from(byte));
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(26) ^ n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }

    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }
}

#[derive(Debug)]
pub(super) struct SeriesTable {
    map: HashMap<(usize, u64), Series, BuildHasherDefault<KeyHasher>>,
    live: Vec<usize>,
    refused: Vec<u64>,
    max_series: usize,
    idle_ns: i64,
}

impl SeriesTable {
    pub(super) fn new(rules: usize, max_series: usize, idle_ns: i64) -> SeriesTable {
        SeriesTable {
            map: HashMap::default(),
            live: vec![0; rules],
            refused: vec![0; rules],
            max_series,
            idle_ns,
        }
    }

    /// The series `key` of rule `rule`, created if the caps allow; `None` when refused.
    pub(super) fn get(
        &mut self,
        rule: usize,
        rule_cap: usize,
        key: u64,
        now_ns: i64,
    ) -> Option<&mut Series> {
        let full = self.map.len() >= self.max_series;
        let series = match self.map.entry((rule, key)) {
            Entry::Occupied(entry) => entry.into_mut(),
            Entry::Vacant(_) if full || self.live[rule] >= rule_cap => {
                self.refused[rule] += 1;
                return None;
            }
            Entry::Vacant(entry) => {
                self.live[rule] += 1;
                entry.insert(Series::default())
            }
        };
        series.seen = now_ns;
        Some(series)
    }

    /// New series refused so far, per rule.
    pub(super) fn refused(&self, rule: usize) -> u64 {
        self.refused[rule]
    }

    /// The mapping's cap.
    pub(super) fn max_series(&self) -> usize {
        self.max_series
    }

    /// Series held now.
    pub(super) fn len(&self) -> usize {
        self.map.len()
    }

    /// The series of `rule` with an open window that starts before `before`, sorted by
    /// window start and tag values, taken out of their series.
    pub(super) fn take_windows_before(&mut self, rule: usize, before: i64) -> Vec<Window> {
        let mut windows: Vec<Window> = self
            .map
            .iter_mut()
            .filter(|((r, _), s)| *r == rule && s.window.as_ref().is_some_and(|w| w.start < before))
            .filter_map(|(_, s)| s.window.take())
            .collect();
        windows.sort_by(|a, b| (a.start, &a.tags).cmp(&(b.start, &b.tags)));
        windows
    }

    /// Takes every open window, sorted by rule, start and tags; the series stay.
    pub(super) fn take_all_windows(&mut self) -> Vec<(usize, Window)> {
        let mut windows: Vec<(usize, Window)> = self
            .map
            .iter_mut()
            .filter_map(|(&(rule, _), s)| Some((rule, s.window.take()?)))
            .collect();
        windows.sort_by(|(ra, a), (rb, b)| (ra, a.start, &a.tags).cmp(&(rb, b.start, &b.tags)));
        windows
    }

    /// Takes the open windows whose series is idle (`window_idle_ns(rule)` since its last
    /// message), and drops the series idle for `series_idle`.
    /// The windows come back with their rule, sorted by rule, start and tags.
    pub(super) fn sweep(
        &mut self,
        now_ns: i64,
        window_idle_ns: impl Fn(usize) -> i64,
    ) -> Vec<(usize, Window)> {
        let mut windows = Vec::new();
        for (&(rule, _), series) in &mut self.map {
            let idle = now_ns.saturating_sub(series.seen);
            if idle >= window_idle_ns(rule) || idle >= self.idle_ns {
                if let Some(window) = series.window.take() {
                    series.closed = Some(window.start);
                    windows.push((rule, window));
                }
            }
        }
        let (idle_ns, live) = (self.idle_ns, &mut self.live);
        self.map.retain(|&(rule, _), series| {
            let keep = now_ns.saturating_sub(series.seen) < idle_ns;
            if !keep {
                live[rule] -= 1;
            }
            keep
        });
        windows.sort_by(|(ra, a), (rb, b)| (ra, a.start, &a.tags).cmp(&(rb, b.start, &b.tags)));
        windows
    }
}
