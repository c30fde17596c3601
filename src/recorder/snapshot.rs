//! A snapshot of every series at one moment: the pure input of the reading and exposition
//! encoders.

use std::collections::HashMap;

/// Every series at one moment, sorted by name then labels.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    /// The series.
    pub series: Vec<Series>,
    /// `# HELP` text per metric name as recorded (from `describe_counter!` and the like).
    pub descriptions: HashMap<String, String>,
}

/// One series: a metric name and label set with its value.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// The name as the program recorded it (not yet sanitized for Prometheus).
    pub name: String,
    /// Global tags first, then the series' own labels; a label of the series replaces a global
    /// tag of the same key.
    pub labels: Vec<(String, String)>,
    /// The value.
    pub value: SeriesValue,
}

/// The value of one series.
#[derive(Debug, Clone, PartialEq)]
pub enum SeriesValue {
    /// A counter: the total since the series was registered.
    Counter(u64),
    /// A gauge: the last value set.
    Gauge(f64),
    /// A histogram kept as cumulative buckets.
    Histogram(HistogramValue),
    /// A histogram kept as a summary.
    Summary(SummaryValue),
}

/// A histogram as Prometheus exposes it.
#[derive(Debug, Clone, PartialEq)]
pub struct HistogramValue {
    /// `(upper bound, values ≤ bound)`, bounds increasing; the `+Inf` bucket is `count`.
    pub buckets: Vec<(f64, u64)>,
    /// Values observed.
    pub count: u64,
    /// Their sum.
    pub sum: f64,
}

/// A summary: totals, extremes and estimated quantiles of every value observed.
#[derive(Debug, Clone, PartialEq)]
pub struct SummaryValue {
    /// Values observed.
    pub count: u64,
    /// Their sum.
    pub sum: f64,
    /// The smallest, if any.
    pub min: Option<f64>,
    /// The largest, if any.
    pub max: Option<f64>,
    /// `(quantile, estimate)`; the estimate is `None` before any value.
    pub quantiles: Vec<(f64, Option<f64>)>,
}

/// The Prometheus name of a metric: invalid characters become `_` (Prometheus's data model
/// allows `[a-zA-Z_:][a-zA-Z0-9_:]*`), and counters end in `_total` as Prometheus's naming
/// rules and `promtool check metrics` ask. The same name is used on Telegraf's side.
pub fn prometheus_name(name: &str, value: &SeriesValue) -> String {
    let mut name = metrics_exporter_prometheus::formatting::sanitize_metric_name(name);
    if name.is_empty() {
        name.push('_');
    }
    if matches!(value, SeriesValue::Counter(_)) && !name.ends_with("_total") {
        name.push_str("_total");
    }
    name
}

/// A label key as Prometheus allows it (`[a-zA-Z_][a-zA-Z0-9_]*`).
pub fn prometheus_label(key: &str) -> String {
    let key = metrics_exporter_prometheus::formatting::sanitize_label_key(key);
    if key.is_empty() { "_".to_owned() } else { key }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_sanitized_and_counters_end_in_total() {
        assert_eq!(
            prometheus_name("http.requests", &SeriesValue::Counter(1)),
            "http_requests_total"
        );
        assert_eq!(
            prometheus_name("api_called_total", &SeriesValue::Counter(1)),
            "api_called_total"
        );
        assert_eq!(
            prometheus_name("1cpu-use", &SeriesValue::Gauge(1.0)),
            "_cpu_use"
        );
        assert_eq!(prometheus_label("inner.ip"), "inner_ip");
    }
}
