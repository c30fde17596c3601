//! How each histogram is kept: cumulative `le` buckets or a summary, chosen per metric name.

use std::sync::Arc;

use metrics_util::storage::Summary;

use super::RecorderError;

/// Quantiles a summary reports unless told otherwise.
pub const DEFAULT_QUANTILES: [f64; 3] = [0.5, 0.9, 0.99];

/// Relative error of summary quantiles (0.1 %): DDSketch's accuracy guarantee.
const SKETCH_ALPHA: f64 = 0.001;
/// Sub-buckets a sketch may grow to; 8 bytes each, so at most 32 KiB per summary series.
const SKETCH_MAX_BUCKETS: u32 = 4096;
/// Values closer to zero than this count as zero in a sketch.
const SKETCH_MIN_VALUE: f64 = 1.0e-9;

/// Which metric names a rule applies to: `name` exactly, `prefix*` or `*suffix`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pattern {
    /// The whole name.
    Full(String),
    /// Names starting with this.
    Prefix(String),
    /// Names ending with this.
    Suffix(String),
}

impl Pattern {
    /// Parses `name`, `prefix*` or `*suffix`; a `*` anywhere else, or an empty name, is an
    /// error.
    pub fn parse(text: &str) -> Result<Self, RecorderError> {
        let bad = || RecorderError::Pattern(text.to_owned());
        let pattern = if let Some(prefix) = text.strip_suffix('*') {
            Pattern::Prefix(prefix.to_owned())
        } else if let Some(suffix) = text.strip_prefix('*') {
            Pattern::Suffix(suffix.to_owned())
        } else {
            Pattern::Full(text.to_owned())
        };
        match &pattern {
            Pattern::Full(s) if s.is_empty() => Err(bad()),
            Pattern::Full(s) | Pattern::Prefix(s) | Pattern::Suffix(s) if s.contains('*') => {
                Err(bad())
            }
            _ => Ok(pattern),
        }
    }

    /// Whether `name` matches.
    pub fn matches(&self, name: &str) -> bool {
        match self {
            Pattern::Full(full) => name == full,
            Pattern::Prefix(prefix) => name.starts_with(prefix.as_str()),
            Pattern::Suffix(suffix) => name.ends_with(suffix.as_str()),
        }
    }
}

/// How one histogram is exported.
#[derive(Debug, Clone, PartialEq)]
pub enum Layout {
    /// Cumulative buckets with these upper bounds (sorted, finite; `+Inf` is implied), as
    /// Prometheus histograms count them.
    Buckets(Arc<[f64]>),
    /// Count, sum, min, max and these quantiles (each in 0..=1) from a DDSketch.
    Summary(Arc<[f64]>),
}

impl Layout {
    /// Buckets with `bounds`, checked: at least one, all finite, strictly increasing.
    pub fn buckets(bounds: &[f64]) -> Result<Self, RecorderError> {
        if bounds.is_empty() {
            return Err(RecorderError::Buckets("no bucket bounds".into()));
        }
        for (i, bound) in bounds.iter().enumerate() {
            if !bound.is_finite() {
                return Err(RecorderError::Buckets(format!(
                    "bound {i} is {bound}; +Inf is always the last bucket and needs no bound"
                )));
            }
            if i > 0 && bounds[i - 1] >= *bound {
                return Err(RecorderError::Buckets(format!(
                    "bound {i} ({bound}) is not greater than bound {} ({})",
                    i - 1,
                    bounds[i - 1]
                )));
            }
        }
        Ok(Layout::Buckets(bounds.into()))
    }

    /// A summary reporting `quantiles`, checked: each in 0..=1.
    pub fn summary(quantiles: &[f64]) -> Result<Self, RecorderError> {
        if let Some(q) = quantiles.iter().find(|q| !(0.0..=1.0).contains(*q)) {
            return Err(RecorderError::Quantile(*q));
        }
        Ok(Layout::Summary(quantiles.into()))
    }
}

/// Rules in the order they were added; the first whose pattern matches a name decides, and a
/// name no rule matches gets the default layout.
#[derive(Debug, Clone)]
pub struct Distributions {
    rules: Vec<(Pattern, Layout)>,
    default: Layout,
}

impl Default for Distributions {
    fn default() -> Self {
        Distributions {
            rules: Vec::new(),
            default: Layout::Summary(DEFAULT_QUANTILES.as_slice().into()),
        }
    }
}

impl Distributions {
    /// Adds a rule after those already there.
    pub fn push(&mut self, pattern: Pattern, layout: Layout) {
        self.rules.push((pattern, layout));
    }

    /// Sets the layout of names no rule matches.
    pub fn set_default(&mut self, layout: Layout) {
        self.default = layout;
    }

    /// The layout for `name`.
    pub fn layout(&self, name: &str) -> &Layout {
        self.rules
            .iter()
            .find(|(pattern, _)| pattern.matches(name))
            .map_or(&self.default, |(_, layout)| layout)
    }
}

/// The values one histogram series has received since it was registered.
#[derive(Clone)]
pub(crate) enum Accumulated {
    Buckets {
        bounds: Arc<[f64]>,
        /// Per bound, values ≤ it and > the previous bound (not yet cumulative).
        counts: Vec<u64>,
        count: u64,
        sum: f64,
    },
    Summary {
        quantiles: Arc<[f64]>,
        sketch: Box<Summary>,
        count: u64,
        sum: f64,
    },
}

impl Accumulated {
    pub(crate) fn new(layout: &Layout) -> Self {
        match layout {
            Layout::Buckets(bounds) => Accumulated::Buckets {
                bounds: bounds.clone(),
                counts: vec![0; bounds.len()],
                count: 0,
                sum: 0.0,
            },
            Layout::Summary(quantiles) => Accumulated::Summary {
                quantiles: quantiles.clone(),
                sketch: Box::new(Summary::new(
                    SKETCH_ALPHA,
                    SKETCH_MAX_BUCKETS,
                    SKETCH_MIN_VALUE,
                )),
                count: 0,
                sum: 0.0,
            },
        }
    }

    /// Adds values; NaN is skipped (it has no place in a bucket or a quantile).
    pub(crate) fn add(&mut self, values: &[f64]) {
        for &value in values {
            if value.is_nan() {
                continue;
            }
            match self {
                Accumulated::Buckets {
                    bounds,
                    counts,
                    count,
                    sum,
                } => {
                    let slot = bounds.partition_point(|bound| *bound < value);
                    if let Some(c) = counts.get_mut(slot) {
                        *c += 1;
                    }
                    *count += 1;
                    *sum += value;
                }
                Accumulated::Summary {
                    sketch, count, sum, ..
                } => {
                    sketch.add(value);
                    *count += 1;
                    *sum += value;
                }
            }
        }
    }

    /// The exported value.
    pub(crate) fn value(&self) -> super::snapshot::SeriesValue {
        use super::snapshot::{HistogramValue, SeriesValue, SummaryValue};
        match self {
            Accumulated::Buckets {
                bounds,
                counts,
                count,
                sum,
            } => {
                let mut running = 0;
                let buckets = bounds
                    .iter()
                    .zip(counts)
                    .map(|(bound, c)| {
                        running += c;
                        (*bound, running)
                    })
                    .collect();
                SeriesValue::Histogram(HistogramValue {
                    buckets,
                    count: *count,
                    sum: *sum,
                })
            }
            Accumulated::Summary {
                quantiles,
                sketch,
                count,
                sum,
            } => {
                let empty = sketch.is_empty();
                SeriesValue::Summary(SummaryValue {
                    count: *count,
                    sum: *sum,
                    min: (!empty).then(|| sketch.min()),
                    max: (!empty).then(|| sketch.max()),
                    quantiles: quantiles
                        .iter()
                        .map(|q| (*q, sketch.quantile(*q)))
                        .collect(),
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::snapshot::SeriesValue;
    use super::*;

    #[test]
    fn patterns_match_full_prefix_and_suffix() {
        assert!(Pattern::parse("a_b").unwrap().matches("a_b"));
        assert!(!Pattern::parse("a_b").unwrap().matches("a_bc"));
        assert!(Pattern::parse("task_*").unwrap().matches("task_time"));
        assert!(Pattern::parse("*_seconds").unwrap().matches("wait_seconds"));
        assert!(!Pattern::parse("*_seconds").unwrap().matches("seconds_wait"));
        assert!(Pattern::parse("").is_err());
        assert!(Pattern::parse("a*b").is_err());
    }

    #[test]
    fn first_matching_rule_wins_and_summary_is_the_default() {
        let mut d = Distributions::default();
        d.push(
            Pattern::parse("task_*").unwrap(),
            Layout::buckets(&[1.0]).unwrap(),
        );
        d.push(
            Pattern::parse("task_time").unwrap(),
            Layout::buckets(&[2.0]).unwrap(),
        );
        assert_eq!(d.layout("task_time"), &Layout::buckets(&[1.0]).unwrap());
        assert_eq!(
            d.layout("other"),
            &Layout::summary(&DEFAULT_QUANTILES).unwrap()
        );
    }

    #[test]
    fn bad_bounds_and_quantiles_are_named() {
        assert_eq!(
            Layout::buckets(&[1.0, 1.0]).unwrap_err().to_string(),
            "histogram buckets: bound 1 (1) is not greater than bound 0 (1)"
        );
        assert!(Layout::buckets(&[f64::INFINITY]).is_err());
        assert!(Layout::buckets(&[]).is_err());
        assert_eq!(
            Layout::summary(&[1.5]).unwrap_err().to_string(),
            "summary quantile 1.5 is outside 0..=1"
        );
    }

    #[test]
    fn buckets_are_cumulative_with_le_semantics() {
        let mut a = Accumulated::new(&Layout::buckets(&[1.0, 2.0, 5.0]).unwrap());
        a.add(&[0.5, 1.0, 1.5, 2.0, 3.0, 9.0, f64::NAN]);
        let SeriesValue::Histogram(h) = a.value() else {
            panic!("a histogram")
        };
        assert_eq!(h.buckets, vec![(1.0, 2), (2.0, 4), (5.0, 5)]);
        assert_eq!(h.count, 6);
        assert_eq!(h.sum, 17.0);
    }

    #[test]
    fn summary_quantiles_are_within_the_sketch_error() {
        let mut a = Accumulated::new(&Layout::summary(&[0.5, 0.99]).unwrap());
        let values: Vec<f64> = (1..=1000).map(f64::from).collect();
        a.add(&values);
        let SeriesValue::Summary(s) = a.value() else {
            panic!("a summary")
        };
        assert_eq!(s.count, 1000);
        assert_eq!(s.sum, 500_500.0);
        assert_eq!(s.min, Some(1.0));
        assert_eq!(s.max, Some(1000.0));
        let median = s.quantiles[0].1.unwrap();
        assert!((median - 500.0).abs() <= 500.0 * 0.002 + 1.0, "{median}");
        let p99 = s.quantiles[1].1.unwrap();
        assert!((p99 - 990.0).abs() <= 990.0 * 0.002 + 1.0, "{p99}");
    }
}
