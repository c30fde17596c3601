//! The recorder against real Prometheus servers: its exposition passes `promtool check
//! metrics`, Prometheus scrapes `/metrics` and answers queries with the recorded values, and a
//! Pushgateway receives pushes with grouping keys and shows them back.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::time::Duration;

use support::prometheus::{PromServer, promtool_check};
use telemit::recorder::{PushConfig, RecorderBuilder, TelemitRecorder};

/// The series of the Prometheus SDK example: a counter, a gauge, a histogram with buckets
/// 1..5 and a summary, labelled `inner_ip`, after `rounds` rounds.
fn record_rounds(recorder: &TelemitRecorder, rounds: u32) {
    metrics::with_local_recorder(recorder, || {
        metrics::describe_counter!("api_called_total", "Calls of the API.");
        metrics::describe_gauge!("cpu_usage", "CPU use in percent.");
        for round in 1..=rounds {
            metrics::counter!("api_called_total", "inner_ip" => "10.0.0.1").increment(1);
            metrics::gauge!("cpu_usage", "inner_ip" => "10.0.0.1").set(f64::from(round * 10));
            metrics::histogram!("task_time_histogram", "inner_ip" => "10.0.0.1").record(3.0);
            metrics::histogram!("task_time_summary", "inner_ip" => "10.0.0.1")
                .record(f64::from(round));
        }
        // Everything that needs escaping in a label value.
        metrics::gauge!("odd_labels", "path" => "C:\\dir\\\"q\"\nnext").set(1.0);
    });
}

fn builder() -> RecorderBuilder {
    RecorderBuilder::new()
        .buckets("task_time_histogram", &[1.0, 2.0, 3.0, 4.0, 5.0])
        .unwrap()
        .global_tag("service", "checkout")
        .unwrap()
}

#[test]
fn exposition_passes_promtool() {
    let (recorder, handle) = builder()
        .buckets("*_seconds", &[0.005, 0.1, 1.0])
        .unwrap()
        .build()
        .unwrap();
    metrics::with_local_recorder(&recorder, || {
        metrics::describe_histogram!("request_duration_seconds", "Time to answer.");
        for (i, route) in ["/a", "/b"].iter().enumerate() {
            metrics::counter!("requests_total", "route" => *route).increment(3);
            metrics::counter!("bytes.sent", "route" => *route).increment(300);
            metrics::gauge!("queue_depth", "route" => *route).set(i as f64);
            metrics::histogram!("request_duration_seconds", "route" => *route).record(0.05);
            metrics::histogram!("response_size_bytes", "route" => *route).record(512.0);
        }
        let _ = metrics::histogram!("never_observed_bytes");
    });
    record_rounds(&recorder, 0);
    let text = handle.render();
    let Some((ok, said)) = promtool_check(&text) else {
        return;
    };
    assert!(ok, "promtool check metrics: {said}\n{text}");
    assert!(
        text.contains("bytes_sent_total{service=\"checkout\",route=\"/a\"} 300\n"),
        "{text}"
    );
}

/// The example's own names break only promtool's naming lint (a name should not contain its
/// type), never the format.
#[test]
fn the_example_names_parse_in_promtool() {
    let (recorder, handle) = builder().build().unwrap();
    record_rounds(&recorder, 4);
    let text = handle.render();
    let Some((_, said)) = promtool_check(&text) else {
        return;
    };
    let complaints: Vec<&str> = said.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(
        complaints,
        [
            "task_time_histogram metric name should not include type 'histogram'",
            "task_time_summary metric name should not include type 'summary'"
        ],
        "{text}"
    );
}

#[test]
fn prometheus_scrapes_the_recorded_values() {
    let (recorder, handle) = builder()
        .listen("127.0.0.1:0".parse().unwrap())
        .build()
        .unwrap();
    record_rounds(&recorder, 4);
    let target = handle.local_addr().unwrap().to_string();
    let Some(prometheus) = PromServer::prometheus(&target) else {
        return;
    };
    let labels = "{job=\"telemit\",inner_ip=\"10.0.0.1\",service=\"checkout\"}";
    let checks = [
        (format!("api_called_total{labels}"), 4.0),
        (format!("cpu_usage{labels}"), 40.0),
        (
            "task_time_histogram_bucket{job=\"telemit\",inner_ip=\"10.0.0.1\",le=\"3\"}".into(),
            4.0,
        ),
        (
            "task_time_histogram_bucket{job=\"telemit\",inner_ip=\"10.0.0.1\",le=\"2\"}".into(),
            0.0,
        ),
        (format!("task_time_histogram_count{labels}"), 4.0),
        (format!("task_time_summary_sum{labels}"), 10.0),
        (format!("task_time_summary_count{labels}"), 4.0),
        (
            "odd_labels{path=\"C:\\\\dir\\\\\\\"q\\\"\\nnext\"}".into(),
            1.0,
        ),
        ("up{job=\"telemit\"}".into(), 1.0),
    ];
    for (query, expected) in &checks {
        assert_eq!(
            prometheus.wait_for_value(query, *expected),
            *expected,
            "{query}"
        );
    }
    let median = prometheus.wait_for_value(
        "task_time_summary{quantile=\"0.5\",inner_ip=\"10.0.0.1\"}",
        2.0,
    );
    assert!((median - 2.0).abs() < 0.01, "median {median}");
    assert!(handle.stats().scrapes >= 1);
}

#[test]
fn pushes_reach_the_pushgateway_with_grouping_keys() {
    let Some(gateway) = PromServer::pushgateway() else {
        return;
    };
    let url = format!("http://127.0.0.1:{}", gateway.port);
    let push = PushConfig::new(&url, "sdk example")
        .unwrap()
        .grouping("instance", "web/1")
        .interval(Duration::from_secs(3600));
    let (recorder, handle) = builder().push(push).build().unwrap();
    record_rounds(&recorder, 2);
    handle.push().unwrap();
    record_rounds(&recorder, 1);
    // The push at shutdown carries the third round.
    let stats = handle.shutdown();
    assert_eq!((stats.pushes, stats.push_failures), (2, 0), "{stats:?}");

    let text = gateway.get("/metrics");
    let grouping =
        "inner_ip=\"10.0.0.1\",instance=\"web/1\",job=\"sdk example\",service=\"checkout\"";
    for line in [
        format!("api_called_total{{{grouping}}} 3"),
        format!("cpu_usage{{{grouping}}} 10"),
        format!("task_time_histogram_bucket{{{grouping},le=\"3\"}} 3"),
        format!("task_time_summary_count{{{grouping}}} 3"),
    ] {
        assert!(text.lines().any(|l| l == line), "{line} not in\n{text}");
    }
    // The group, as the Pushgateway's API lists it.
    let api: serde_json::Value = serde_json::from_str(&gateway.get("/api/v1/metrics")).unwrap();
    let groups = api["data"].as_array().unwrap();
    assert!(
        groups
            .iter()
            .any(|g| g["labels"]["job"] == "sdk example" && g["labels"]["instance"] == "web/1"),
        "{api}"
    );
}

#[test]
fn push_failures_are_retried_and_counted() {
    // A port that refuses connections.
    let port = support::free_port();
    let push = PushConfig::new(format!("http://127.0.0.1:{port}"), "j")
        .unwrap()
        .retry(3, Duration::from_millis(10))
        .interval(Duration::from_secs(3600));
    let (_recorder, handle) = RecorderBuilder::new().push(push).build().unwrap();
    let error = handle.push().unwrap_err();
    assert!(
        error.starts_with(&format!(
            "http://127.0.0.1:{port}/metrics/job@base64/ag==: "
        )),
        "{error}"
    );
    let stats = handle.stats();
    assert_eq!((stats.pushes, stats.push_failures), (0, 1));
    assert_eq!(stats.last_push_error.as_deref(), Some(error.as_str()));
}

#[test]
fn pushes_carry_extra_headers_and_basic_auth() {
    // A one-request HTTP server that records the request head and answers 202.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut head = Vec::new();
        let mut length = 0;
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            if line == "\r\n" {
                break;
            }
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = v.trim().parse().unwrap();
            }
            head.push(line.trim_end().to_owned());
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        let mut stream = stream;
        stream
            .write_all(b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            .unwrap();
        (head, String::from_utf8(body).unwrap())
    });
    let push = PushConfig::new(format!("http://{addr}"), "j")
        .unwrap()
        .grouping("instance", "a")
        .header("X-Scope-OrgID", "tenant-1")
        .basic_auth("alice", "s3cret")
        .interval(Duration::from_secs(3600));
    let (recorder, handle) = RecorderBuilder::new().push(push).build().unwrap();
    metrics::with_local_recorder(&recorder, || metrics::counter!("c_total").increment(1));
    handle.push().unwrap();
    let (head, body) = server.join().unwrap();
    assert_eq!(
        head[0],
        "PUT /metrics/job@base64/ag==/instance@base64/YQ== HTTP/1.1"
    );
    let has = |h: &str| head.iter().any(|l| l.eq_ignore_ascii_case(h));
    assert!(has("x-scope-orgid: tenant-1"), "{head:?}");
    // base64("alice:s3cret")
    assert!(has("authorization: Basic YWxpY2U6czNjcmV0"), "{head:?}");
    assert!(
        has("content-type: text/plain; version=0.0.4; charset=utf-8"),
        "{head:?}"
    );
    assert!(body.contains("c_total 1\n"), "{body}");
}
