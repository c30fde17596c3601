//! A snapshot as readings, laid out as Telegraf's Prometheus parser writes them with
//! `metric_version = 2` (pure: no clock, no I/O).
//!
//! The layout, from Telegraf's `inputs.prometheus` documentation (metric_version 2):
//!
//! | series | reading (measurement `prometheus` by default) |
//! |---|---|
//! | counter `c` | tags = labels, field `c_total` |
//! | gauge `g` | tags = labels, field `g` |
//! | histogram `h` | one reading per bound with tag `le` and field `h_bucket` (cumulative, `+Inf` included); one with fields `h_count`, `h_sum` |
//! | summary `s` | one reading per quantile with tag `quantile` and field `s`; one with fields `s_count`, `s_sum`, `s_min`, `s_max` |
//!
//! Every field is a float, as Telegraf's Prometheus parser makes them, so one series keeps one
//! field type in InfluxDB whichever side wrote it. With this layout, Telegraf's
//! `outputs.prometheus_client` (`metric_version = 2`) exposes the same series names and labels as
//! a direct scrape of the recorder's `/metrics`. Names and label keys are sanitized as
//! [`prometheus_name`] and [`prometheus_label`] say; a label with an empty value is left out,
//! as Prometheus treats it as absent.

use crate::reading::{FieldValue, Reading, ReadingBuilder, ReadingError, Timestamp};

use super::snapshot::{Series, SeriesValue, Snapshot, prometheus_label, prometheus_name};

/// The measurement Telegraf's Prometheus parser gives every metric with `metric_version = 2`.
pub const DEFAULT_MEASUREMENT: &str = "prometheus";

/// The readings of `snapshot`, all stamped `timestamp`, and for each series that could not
/// become readings (a NaN or infinite gauge, a control character in a label) the error, which
/// the caller counts. Series keep the snapshot's order.
pub fn readings(
    snapshot: &Snapshot,
    measurement: &str,
    timestamp: Option<Timestamp>,
) -> (Vec<Reading>, Vec<ReadingError>) {
    let mut out = Vec::with_capacity(snapshot.series.len());
    let mut errors = Vec::new();
    let mut names = Names::default();
    for series in &snapshot.series {
        let start = out.len();
        if let Err(error) = series_readings(series, measurement, timestamp, &mut names, &mut out) {
            out.truncate(start);
            errors.push(error);
        }
    }
    (out, errors)
}

/// Sanitized names of the previous series and label keys seen: series come sorted by name,
/// and label keys repeat, so each is sanitized about once per flush.
#[derive(Default)]
struct Names {
    metric: Option<(String, bool, String)>,
    labels: Vec<(String, String)>,
}

impl Names {
    fn metric(&mut self, series: &Series) -> String {
        let counter = matches!(series.value, SeriesValue::Counter(_));
        match &self.metric {
            Some((raw, c, name)) if *raw == series.name && *c == counter => name.clone(),
            _ => {
                let name = prometheus_name(&series.name, &series.value);
                self.metric = Some((series.name.clone(), counter, name.clone()));
                name
            }
        }
    }

    fn label(&mut self, key: &str) -> String {
        if let Some((_, sanitized)) = self.labels.iter().find(|(raw, _)| raw == key) {
            return sanitized.clone();
        }
        let sanitized = prometheus_label(key);
        if self.labels.len() < 64 {
            self.labels.push((key.to_owned(), sanitized.clone()));
        }
        sanitized
    }
}

fn series_readings(
    series: &Series,
    measurement: &str,
    timestamp: Option<Timestamp>,
    names: &mut Names,
    out: &mut Vec<Reading>,
) -> Result<(), ReadingError> {
    let name = names.metric(series);
    let tags: Vec<(String, &str)> = series
        .labels
        .iter()
        .filter(|(_, value)| !value.is_empty())
        .map(|(key, value)| (names.label(key), value.as_str()))
        .collect();
    let base = || {
        let mut builder = Reading::builder(measurement).maybe_timestamp(timestamp);
        for (key, value) in &tags {
            builder = builder.tag(key.clone(), *value);
        }
        builder
    };
    let one = |builder: ReadingBuilder, field: String, value: f64| {
        builder.field(field, FieldValue::Float(value)).build()
    };
    match &series.value {
        SeriesValue::Counter(total) => out.push(one(base(), name, *total as f64)?),
        SeriesValue::Gauge(value) => out.push(one(base(), name, *value)?),
        SeriesValue::Histogram(h) => {
            let bucket = format!("{name}_bucket");
            for (bound, count) in &h.buckets {
                let le = base().tag("le", bound.to_string());
                out.push(one(le, bucket.clone(), *count as f64)?);
            }
            out.push(one(base().tag("le", "+Inf"), bucket, h.count as f64)?);
            out.push(
                base()
                    .field(format!("{name}_count"), h.count as f64)
                    .field(format!("{name}_sum"), h.sum)
                    .build()?,
            );
        }
        SeriesValue::Summary(s) => {
            for (quantile, estimate) in &s.quantiles {
                if let Some(estimate) = estimate {
                    let q = base().tag("quantile", quantile.to_string());
                    out.push(one(q, name.clone(), *estimate)?);
                }
            }
            let mut totals = base()
                .field(format!("{name}_count"), s.count as f64)
                .field(format!("{name}_sum"), s.sum);
            if let (Some(min), Some(max)) = (s.min, s.max) {
                totals = totals
                    .field(format!("{name}_min"), min)
                    .field(format!("{name}_max"), max);
            }
            out.push(totals.build()?);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::snapshot::{HistogramValue, SummaryValue};
    use super::*;
    use crate::{Encoder, Format, Precision};

    fn series(name: &str, value: SeriesValue) -> Series {
        Series {
            name: name.into(),
            labels: vec![
                ("host".into(), "a".into()),
                ("inner.ip".into(), "10.0.0.1".into()),
                ("empty".into(), String::new()),
            ],
            value,
        }
    }

    fn lines(snapshot: &Snapshot) -> String {
        let (readings, errors) = readings(
            snapshot,
            DEFAULT_MEASUREMENT,
            Some(Timestamp::new(7, Precision::Seconds)),
        );
        assert!(errors.is_empty(), "{errors:?}");
        let mut out = Vec::new();
        let encoder = Encoder::new(Format::Influx).with_precision(Precision::Seconds);
        for r in &readings {
            encoder.encode(r, &mut out).unwrap();
        }
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn every_kind_in_the_metric_version_2_layout() {
        let snapshot = Snapshot {
            series: vec![
                series("api.called", SeriesValue::Counter(3)),
                series("cpu_usage", SeriesValue::Gauge(0.5)),
                series(
                    "task_time_histogram",
                    SeriesValue::Histogram(HistogramValue {
                        buckets: vec![(1.0, 0), (2.5, 2)],
                        count: 3,
                        sum: 7.5,
                    }),
                ),
                series(
                    "task_time_summary",
                    SeriesValue::Summary(SummaryValue {
                        count: 2,
                        sum: 30.0,
                        min: Some(10.0),
                        max: Some(20.0),
                        quantiles: vec![(0.5, Some(10.0)), (0.99, Some(20.0))],
                    }),
                ),
            ],
            ..Snapshot::default()
        };
        let tags = "host=a,inner_ip=10.0.0.1";
        let expected = [
            format!("prometheus,{tags} api_called_total=3.0 7"),
            format!("prometheus,{tags} cpu_usage=0.5 7"),
            format!("prometheus,{tags},le=1 task_time_histogram_bucket=0.0 7"),
            format!("prometheus,{tags},le=2.5 task_time_histogram_bucket=2.0 7"),
            format!("prometheus,{tags},le=+Inf task_time_histogram_bucket=3.0 7"),
            format!(
                "prometheus,{tags} task_time_histogram_count=3.0,task_time_histogram_sum=7.5 7"
            ),
            format!("prometheus,{tags},quantile=0.5 task_time_summary=10.0 7"),
            format!("prometheus,{tags},quantile=0.99 task_time_summary=20.0 7"),
            format!(
                "prometheus,{tags} task_time_summary_count=2.0,task_time_summary_sum=30.0,task_time_summary_min=10.0,task_time_summary_max=20.0 7"
            ),
        ];
        assert_eq!(lines(&snapshot), expected.join("\n") + "\n");
    }

    #[test]
    fn an_unrepresentable_series_is_reported_and_the_rest_go_out() {
        let snapshot = Snapshot {
            series: vec![
                series("bad", SeriesValue::Gauge(f64::NAN)),
                series("good", SeriesValue::Gauge(1.0)),
            ],
            ..Snapshot::default()
        };
        let (readings, errors) = readings(&snapshot, DEFAULT_MEASUREMENT, None);
        assert_eq!(readings.len(), 1);
        assert_eq!(readings[0].fields()[0].0, "good");
        assert_eq!(errors.len(), 1);
        assert!(errors[0].to_string().contains("\"bad\""), "{}", errors[0]);
    }

    #[test]
    fn an_empty_summary_sends_its_count_only() {
        let snapshot = Snapshot {
            series: vec![series(
                "s",
                SeriesValue::Summary(SummaryValue {
                    count: 0,
                    sum: 0.0,
                    min: None,
                    max: None,
                    quantiles: vec![(0.5, None)],
                }),
            )],
            ..Snapshot::default()
        };
        assert_eq!(
            lines(&snapshot),
            "prometheus,host=a,inner_ip=10.0.0.1 s_count=0.0,s_sum=0.0 7\n"
        );
    }
}
