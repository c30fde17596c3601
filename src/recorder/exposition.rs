//! A snapshot as Prometheus text exposition (format 0.0.4), pure.
//!
//! Lines are written by metrics-exporter-prometheus's `formatting` functions. Their escaping
//! reads a backslash followed by another as one already escaped, which would lose backslashes
//! of values that contain them; doubling every backslash first makes each one arrive as
//! written (see the test `escaping_is_exact`).

use indexmap::IndexMap;
use metrics::Key;
use metrics_exporter_prometheus::LabelSet;
use metrics_exporter_prometheus::formatting::{
    write_help_line, write_metric_line, write_type_line,
};

use super::snapshot::{Series, SeriesValue, Snapshot, prometheus_name};

/// The `Content-Type` of [`exposition`]'s output.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// `snapshot` as Prometheus text: one `# HELP` and `# TYPE` line per metric family, then its
/// samples. Every family gets a `# HELP` line (the description, or the name when none was
/// given) because `promtool check metrics` flags families without one. Quantiles of an empty
/// summary are `NaN`, as Prometheus's client libraries write them. A series whose Prometheus
/// name is already taken by a family of another kind is left out.
pub fn exposition(snapshot: &Snapshot) -> String {
    let mut out = String::with_capacity(snapshot.series.len() * 64);
    let no_globals = IndexMap::new();
    let mut family: Option<(String, &'static str)> = None;
    let mut taken = std::collections::HashSet::new();
    for series in &snapshot.series {
        let name = prometheus_name(&series.name, &series.value);
        let kind = kind(&series.value);
        if family
            .as_ref()
            .is_none_or(|(n, k)| *n != name || *k != kind)
        {
            if !taken.insert(name.clone()) {
                continue;
            }
            let help = snapshot
                .descriptions
                .get(&series.name)
                .map_or(name.as_str(), String::as_str);
            write_help_line(&mut out, &name, None, None, &double_backslashes(help));
            write_type_line(&mut out, &name, None, None, kind);
            family = Some((name.clone(), kind));
        }
        let labels = label_set(series, &no_globals);
        match &series.value {
            SeriesValue::Counter(total) => {
                write_metric_line::<&str, u64>(&mut out, &name, None, &labels, None, *total, None)
            }
            SeriesValue::Gauge(value) => {
                write_metric_line::<&str, f64>(&mut out, &name, None, &labels, None, *value, None)
            }
            SeriesValue::Histogram(h) => {
                for (bound, count) in &h.buckets {
                    let le = Some(("le", bound));
                    write_metric_line(&mut out, &name, Some("bucket"), &labels, le, count, None);
                }
                let inf = Some(("le", "+Inf"));
                write_metric_line(&mut out, &name, Some("bucket"), &labels, inf, h.count, None);
                write_metric_line::<&str, f64>(
                    &mut out,
                    &name,
                    Some("sum"),
                    &labels,
                    None,
                    h.sum,
                    None,
                );
                write_metric_line::<&str, u64>(
                    &mut out,
                    &name,
                    Some("count"),
                    &labels,
                    None,
                    h.count,
                    None,
                );
            }
            SeriesValue::Summary(s) => {
                for (quantile, estimate) in &s.quantiles {
                    let q = Some(("quantile", quantile));
                    let value = estimate.unwrap_or(f64::NAN);
                    write_metric_line(&mut out, &name, None, &labels, q, value, None);
                }
                write_metric_line::<&str, f64>(
                    &mut out,
                    &name,
                    Some("sum"),
                    &labels,
                    None,
                    s.sum,
                    None,
                );
                write_metric_line::<&str, u64>(
                    &mut out,
                    &name,
                    Some("count"),
                    &labels,
                    None,
                    s.count,
                    None,
                );
            }
        }
    }
    out
}

fn kind(value: &SeriesValue) -> &'static str {
    match value {
        SeriesValue::Counter(_) => "counter",
        SeriesValue::Gauge(_) => "gauge",
        SeriesValue::Histogram(_) => "histogram",
        SeriesValue::Summary(_) => "summary",
    }
}

fn double_backslashes(text: &str) -> String {
    text.replace('\\', "\\\\")
}

fn label_set(series: &Series, no_globals: &IndexMap<String, String>) -> LabelSet {
    let labels: Vec<metrics::Label> = series
        .labels
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| metrics::Label::new(k.clone(), double_backslashes(v)))
        .collect();
    let key = Key::from_parts(series.name.clone(), labels);
    LabelSet::from_key_and_global(&key, no_globals)
}

#[cfg(test)]
mod tests {
    use super::super::snapshot::{HistogramValue, SummaryValue};
    use super::*;

    fn series(name: &str, labels: &[(&str, &str)], value: SeriesValue) -> Series {
        Series {
            name: name.into(),
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            value,
        }
    }

    #[test]
    fn every_kind_as_text() {
        let mut snapshot = Snapshot {
            series: vec![
                series("api_called", &[("inner_ip", "a")], SeriesValue::Counter(3)),
                series("api_called", &[("inner_ip", "b")], SeriesValue::Counter(4)),
                series("cpu.usage", &[], SeriesValue::Gauge(0.25)),
                series(
                    "t",
                    &[("inner_ip", "a")],
                    SeriesValue::Histogram(HistogramValue {
                        buckets: vec![(1.0, 1), (2.5, 2)],
                        count: 3,
                        sum: 9.0,
                    }),
                ),
                series(
                    "s",
                    &[],
                    SeriesValue::Summary(SummaryValue {
                        count: 0,
                        sum: 0.0,
                        min: None,
                        max: None,
                        quantiles: vec![(0.5, None)],
                    }),
                ),
            ],
            ..Snapshot::default()
        };
        snapshot
            .descriptions
            .insert("api_called".into(), "Calls of the API.".into());
        let expected = "\
# HELP api_called_total Calls of the API.
# TYPE api_called_total counter
api_called_total{inner_ip=\"a\"} 3
api_called_total{inner_ip=\"b\"} 4
# HELP cpu_usage cpu_usage
# TYPE cpu_usage gauge
cpu_usage 0.25
# HELP t t
# TYPE t histogram
t_bucket{inner_ip=\"a\",le=\"1\"} 1
t_bucket{inner_ip=\"a\",le=\"2.5\"} 2
t_bucket{inner_ip=\"a\",le=\"+Inf\"} 3
t_sum{inner_ip=\"a\"} 9
t_count{inner_ip=\"a\"} 3
# HELP s s
# TYPE s summary
s{quantile=\"0.5\"} NaN
s_sum 0
s_count 0
";
        assert_eq!(exposition(&snapshot), expected);
    }

    #[test]
    fn escaping_is_exact() {
        let snapshot = Snapshot {
            series: vec![series(
                "g",
                &[("v", "a\\b\\\\c\"d\ne\\")],
                SeriesValue::Gauge(1.0),
            )],
            ..Snapshot::default()
        };
        let text = exposition(&snapshot);
        assert!(
            text.contains("g{v=\"a\\\\b\\\\\\\\c\\\"d\\ne\\\\\"} 1\n"),
            "{text}"
        );
    }

    #[test]
    fn a_name_taken_by_another_kind_is_left_out() {
        let snapshot = Snapshot {
            series: vec![
                series("x", &[], SeriesValue::Gauge(1.0)),
                series(
                    "x",
                    &[("a", "b")],
                    SeriesValue::Summary(SummaryValue {
                        count: 0,
                        sum: 0.0,
                        min: None,
                        max: None,
                        quantiles: vec![],
                    }),
                ),
            ],
            ..Snapshot::default()
        };
        let text = exposition(&snapshot);
        assert_eq!(text.matches("# TYPE").count(), 1, "{text}");
    }
}
