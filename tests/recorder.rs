//! The recorder end to end: `metrics` macros → flush → a telemit sender on a real loopback
//! socket (lines parsed back by an independent parser), `/metrics` over HTTP, and the series cap.

mod support;

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use influxdb_line_protocol::{FieldValue as Parsed, parse_lines};
use telemit::recorder::{CounterMode, RecorderBuilder};
use telemit::{Encoder, Format, Sender};

/// A TCP line receiver: every line it has read so far.
fn line_receiver() -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("tcp://{}", listener.local_addr().unwrap());
    let lines = Arc::new(Mutex::new(Vec::new()));
    let seen = lines.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let seen = seen.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream.unwrap()).lines() {
                    let Ok(line) = line else { return };
                    seen.lock().unwrap().push(line);
                }
            });
        }
    });
    (endpoint, lines)
}

fn sender(endpoint: &str) -> Sender {
    Sender::builder(endpoint.parse().unwrap(), Encoder::new(Format::Influx))
        .start()
        .unwrap()
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `(measurement, tags sorted, field, value)`.
type Field = (String, Vec<(String, String)>, String, f64);

/// Every field of every line.
fn parsed(lines: &[String]) -> Vec<Field> {
    let text = lines.join("\n");
    let mut out = Vec::new();
    for line in parse_lines(&text) {
        let line = line.unwrap();
        let mut tags: Vec<(String, String)> = line
            .series
            .tag_set
            .iter()
            .flatten()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        tags.sort();
        for (key, value) in &line.field_set {
            let Parsed::F64(value) = value else {
                panic!("every field is a float: {key}={value:?}")
            };
            out.push((
                line.series.measurement.to_string(),
                tags.clone(),
                key.to_string(),
                *value,
            ));
        }
    }
    out
}

fn value_of(fields: &[Field], field: &str, tag: Option<(&str, &str)>) -> Vec<f64> {
    fields
        .iter()
        .filter(|(m, tags, f, _)| {
            m == "prometheus"
                && f == field
                && tag.is_none_or(|(k, v)| tags.iter().any(|(tk, tv)| tk == k && tv == v))
        })
        .map(|(_, _, _, v)| *v)
        .collect()
}

#[test]
fn series_reach_the_sender_on_the_interval_and_at_shutdown() {
    let (endpoint, lines) = line_receiver();
    let (recorder, handle) = RecorderBuilder::new()
        .sender(sender(&endpoint))
        .flush_interval(Duration::from_millis(100))
        .global_tag("host", "web-1")
        .unwrap()
        .buckets("task_time_histogram", &[1.0, 2.0, 3.0, 4.0, 5.0])
        .unwrap()
        .build()
        .unwrap();
    let (counter, gauge, histogram, summary) = metrics::with_local_recorder(&recorder, || {
        (
            metrics::counter!("api_called_total", "inner_ip" => "10.0.0.1"),
            metrics::gauge!("cpu_usage", "inner_ip" => "10.0.0.1"),
            metrics::histogram!("task_time_histogram", "inner_ip" => "10.0.0.1"),
            metrics::histogram!("task_time_summary", "inner_ip" => "10.0.0.1"),
        )
    });
    counter.increment(2);
    gauge.set(40.0);
    histogram.record(3.0);
    summary.record(10.0);
    // The interval flush, before any shutdown.
    wait_until("an interval flush", || {
        let fields = parsed(&lines.lock().unwrap());
        value_of(&fields, "api_called_total", None).contains(&2.0)
    });

    counter.increment(1);
    gauge.decrement(10.0);
    histogram.record(0.5);
    histogram.record(7.0);
    summary.record(30.0);
    let stats = handle.shutdown();
    assert!(stats.flushes >= 2, "{stats:?}");
    assert_eq!(stats.send_errors, 0);
    let sent = stats.sender.unwrap();
    assert_eq!(sent.dropped_total(), 0, "{sent:?}");
    assert_eq!(sent.written, sent.readings_in);
    wait_until("the shutdown flush", || {
        let fields = parsed(&lines.lock().unwrap());
        value_of(&fields, "api_called_total", None).last() == Some(&3.0)
    });

    let fields = parsed(&lines.lock().unwrap());
    let last =
        |field: &str, tag: Option<(&str, &str)>| *value_of(&fields, field, tag).last().unwrap();
    assert_eq!(last("cpu_usage", None), 30.0);
    let buckets: Vec<f64> = ["1", "2", "3", "4", "5", "+Inf"]
        .iter()
        .map(|le| last("task_time_histogram_bucket", Some(("le", le))))
        .collect();
    assert_eq!(buckets, [1.0, 1.0, 2.0, 2.0, 2.0, 3.0]);
    assert_eq!(last("task_time_histogram_count", None), 3.0);
    assert_eq!(last("task_time_histogram_sum", None), 10.5);
    assert_eq!(last("task_time_summary_count", None), 2.0);
    assert_eq!(last("task_time_summary_sum", None), 40.0);
    assert_eq!(last("task_time_summary_min", None), 10.0);
    assert_eq!(last("task_time_summary_max", None), 30.0);
    let median = last("task_time_summary", Some(("quantile", "0.5")));
    assert!((median - 10.0).abs() < 0.1, "{median}");
    // Labels and global tags on every line.
    for (_, tags, field, _) in &fields {
        assert!(tags.contains(&("host".into(), "web-1".into())), "{field}");
        assert!(
            tags.contains(&("inner_ip".into(), "10.0.0.1".into())),
            "{field}"
        );
    }
}

#[test]
fn delta_counters_send_the_increase_per_flush() {
    let (endpoint, lines) = line_receiver();
    let (recorder, handle) = RecorderBuilder::new()
        .sender(sender(&endpoint))
        .flush_interval(Duration::from_secs(3600))
        .counters(CounterMode::Delta)
        .build()
        .unwrap();
    let counter = metrics::with_local_recorder(&recorder, || metrics::counter!("jobs"));
    counter.increment(5);
    handle.flush();
    counter.increment(2);
    handle.flush();
    handle.shutdown();
    wait_until("three flushes", || lines.lock().unwrap().len() >= 3);
    let fields = parsed(&lines.lock().unwrap());
    assert_eq!(value_of(&fields, "jobs_total", None), [5.0, 2.0, 0.0]);
    // /metrics stays cumulative.
    assert!(handle.render().contains("jobs_total 7\n"));
}

#[test]
fn metrics_are_served_over_http_and_other_paths_are_not_found() {
    let (recorder, handle) = RecorderBuilder::new()
        .listen("127.0.0.1:0".parse().unwrap())
        .build()
        .unwrap();
    metrics::with_local_recorder(&recorder, || {
        metrics::describe_counter!("requests_total", "Requests served.");
        metrics::counter!("requests_total", "code" => "200").increment(4);
    });
    let port = handle.local_addr().unwrap().port();
    let (status, body) = support::http(port, "GET", "/metrics", b"");
    assert_eq!(status, 200);
    assert_eq!(
        body,
        "# HELP requests_total Requests served.\n# TYPE requests_total counter\nrequests_total{code=\"200\"} 4\n"
    );
    assert_eq!(support::http(port, "GET", "/other", b"").0, 404);
    assert_eq!(support::http(port, "POST", "/metrics", b"").0, 405);
    let stats = handle.shutdown();
    assert_eq!(stats.scrapes, 1);
}

#[test]
fn the_series_cap_refuses_and_counts_new_series() {
    let (recorder, handle) = RecorderBuilder::new().max_series(10).build().unwrap();
    metrics::with_local_recorder(&recorder, || {
        for i in 0..25 {
            metrics::counter!("hits", "user" => i.to_string()).increment(1);
        }
    });
    let stats = handle.stats();
    assert_eq!((stats.series, stats.refused_series), (10, 15));
    assert_eq!(handle.snapshot().series.len(), 10);
}

#[test]
fn bad_settings_are_refused_with_the_reason() {
    let error = RecorderBuilder::new()
        .buckets("t", &[2.0, 1.0])
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "histogram buckets: bound 1 (1) is not greater than bound 0 (2)"
    );
    let error = RecorderBuilder::new().global_tag("", "x").unwrap_err();
    assert_eq!(
        error.to_string(),
        "global tag \"\"=\"x\": key and value must not be empty"
    );
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let error = RecorderBuilder::new()
        .listen(taken.local_addr().unwrap())
        .build()
        .unwrap_err();
    assert!(
        error.to_string().starts_with(&format!(
            "serving /metrics on {}: ",
            taken.local_addr().unwrap()
        )),
        "{error}"
    );
}

/// The Telegraf side's storage: readings from a flush land in a real InfluxDB (over its UDP
/// listener, as line protocol from a telemit sender) with the layout's measurement, tags and
/// fields.
#[test]
fn flushed_series_land_in_influxdb() {
    let Some(server) = support::Server::influxdb() else {
        return;
    };
    let endpoint = format!("udp://127.0.0.1:{}", server.line_port);
    let (recorder, handle) = RecorderBuilder::new()
        .sender(sender(&endpoint))
        .global_tag("service", "checkout")
        .unwrap()
        .buckets("task_time_histogram", &[1.0, 2.0, 3.0, 4.0, 5.0])
        .unwrap()
        .build()
        .unwrap();
    metrics::with_local_recorder(&recorder, || {
        for round in 1..=4 {
            metrics::counter!("api_called_total", "inner_ip" => "10.0.0.1").increment(1);
            metrics::gauge!("cpu_usage", "inner_ip" => "10.0.0.1").set(f64::from(round) * 10.0);
            metrics::histogram!("task_time_histogram", "inner_ip" => "10.0.0.1").record(3.0);
        }
    });
    let stats = handle.shutdown();
    assert_eq!(stats.sender.unwrap().dropped_total(), 0);
    let query = "SELECT last(\"api_called_total\"), last(\"cpu_usage\") FROM \"prometheus\" \
                 WHERE \"service\" = 'checkout' AND \"inner_ip\" = '10.0.0.1'";
    let deadline = Instant::now() + Duration::from_secs(20);
    let values = loop {
        let answer = server.influx_query("udp", query);
        if let Some(values) = answer["results"][0]["series"][0]["values"][0].as_array() {
            break values.clone();
        }
        assert!(Instant::now() < deadline, "nothing in InfluxDB: {answer}");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(values[1], 4.0);
    assert_eq!(values[2], 40.0);
    let answer = server.influx_query(
        "udp",
        "SELECT \"task_time_histogram_bucket\" FROM \"prometheus\" WHERE \"le\" = '3' OR \"le\" = '+Inf' OR \"le\" = '2'",
    );
    let mut buckets: Vec<f64> = answer["results"][0]["series"][0]["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v[1].as_f64().unwrap())
        .collect();
    buckets.sort_by(f64::total_cmp);
    assert_eq!(buckets, [0.0, 4.0, 4.0], "le=2, le=3, le=+Inf");
}

/// With the receiver away and the sender's queue full, shutdown still returns: the last flush
/// is cut short after FINAL_FLUSH_WAIT and what could not be queued is counted.
#[test]
fn shutdown_returns_when_the_receiver_is_away() {
    let port = support::free_port();
    let sender = Sender::builder(
        format!("tcp://127.0.0.1:{port}").parse().unwrap(),
        Encoder::new(Format::Influx),
    )
    .queue_size(10)
    .flush_timeout(Duration::from_millis(200))
    .start()
    .unwrap();
    let (recorder, handle) = RecorderBuilder::new()
        .sender(sender)
        .flush_interval(Duration::from_secs(3600))
        .build()
        .unwrap();
    metrics::with_local_recorder(&recorder, || {
        for i in 0..100 {
            metrics::counter!("c", "i" => i.to_string()).increment(1);
        }
    });
    let start = Instant::now();
    let stats = handle.shutdown();
    let took = start.elapsed();
    assert!(
        took < telemit::recorder::FINAL_FLUSH_WAIT + Duration::from_secs(3),
        "{took:?}"
    );
    assert!(stats.send_errors > 0, "{stats:?}");
    assert_eq!(stats.readings + stats.send_errors, 100, "{stats:?}");
}
