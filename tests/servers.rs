//! Through telemit's sender into real line-protocol servers, queried back: InfluxDB 1.x over
//! its UDP listener, VictoriaMetrics over its Influx TCP and UDP listener.

mod support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use support::{Server, assert_influx_holds, escape_heavy_readings, http};
use telemit::{Encoder, Endpoint, Format, Precision, Reading, Sender, Timestamp};

#[test]
fn influxdb_udp_listener_stores_what_the_sender_sends() {
    let Some(server) = Server::influxdb() else {
        return;
    };
    http(
        server.http_port,
        "POST",
        "/query?q=CREATE%20DATABASE%20udp",
        b"",
    );
    let readings = escape_heavy_readings(300);
    let endpoint: Endpoint = format!("udp://127.0.0.1:{}", server.line_port)
        .parse()
        .unwrap();
    let sender = Sender::builder(endpoint, Encoder::new(Format::Influx))
        .start()
        .unwrap();
    for reading in &readings {
        sender.send(reading).unwrap();
    }
    let stats = sender.shutdown();
    assert_eq!(stats.written, readings.len() as u64, "{}", stats.summary());

    let deadline = Instant::now() + Duration::from_secs(20);
    let answer = loop {
        let answer = server.influx_query("udp", "SELECT * FROM /.*/");
        let series = answer["results"][0]["series"]
            .as_array()
            .map_or(0, Vec::len);
        if series >= readings.len() || Instant::now() > deadline {
            break answer;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_influx_holds(&answer, &readings);
}

/// VictoriaMetrics refuses samples older than its retention (a month by default): recent times.
fn vm_base_ms() -> i64 {
    let now = Timestamp::now(Precision::Milliseconds).value;
    now - now % 1_000_000 - 1_000_000
}

fn vm_reading(base: i64, seq: u64) -> Reading {
    Reading::builder("load")
        .tag("host", format!("web-{}", seq % 3))
        .tag("region", "eu west")
        .field("value", seq as f64 / 4.0)
        .field("seq", seq as i64)
        .timestamp(Timestamp::new(base + seq as i64, Precision::Milliseconds))
        .build()
        .unwrap()
}

/// `(metric, host, timestamp ms) -> value` from VictoriaMetrics' export API.
fn vm_export(server: &Server) -> BTreeMap<(String, String, i64), f64> {
    http(server.http_port, "GET", "/internal/force_flush", b"");
    let (status, body) = http(
        server.http_port,
        "GET",
        &format!(
            "/api/v1/export?match[]={}",
            support::encode_query("{__name__=~\"load_.*\"}")
        ),
        b"",
    );
    assert_eq!(status, 200, "{body}");
    let mut points = BTreeMap::new();
    for line in body.lines().filter(|l| !l.is_empty()) {
        let series: serde_json::Value = serde_json::from_str(line).unwrap();
        let metric = &series["metric"];
        assert_eq!(metric["region"], "eu west", "tags arrive as labels");
        let name = metric["__name__"].as_str().unwrap().to_owned();
        let host = metric["host"].as_str().unwrap().to_owned();
        let values = series["values"].as_array().unwrap();
        let times = series["timestamps"].as_array().unwrap();
        for (value, time) in values.iter().zip(times) {
            points.insert(
                (name.clone(), host.clone(), time.as_i64().unwrap()),
                value.as_f64().unwrap(),
            );
        }
    }
    points
}

#[test]
fn victoria_metrics_stores_what_the_sender_sends_over_tcp_and_udp() {
    for scheme in ["tcp", "udp"] {
        let Some(server) = Server::victoria_metrics() else {
            return;
        };
        const COUNT: u64 = 3_000;
        let endpoint: Endpoint = format!("{scheme}://127.0.0.1:{}", server.line_port)
            .parse()
            .unwrap();
        let sender = Sender::builder(endpoint, Encoder::new(Format::Influx))
            .start()
            .unwrap();
        let base = vm_base_ms();
        let drops_before = support::udp_drops(server.line_port);
        for seq in 0..COUNT {
            sender.send(&vm_reading(base, seq)).unwrap();
            // UDP has no back-pressure: pace it as a live source would, so the server keeps up.
            if scheme == "udp" && seq % 50 == 49 {
                std::thread::sleep(Duration::from_millis(2));
            }
        }
        let stats = sender.shutdown();
        let kernel_drops = support::udp_drops(server.line_port) - drops_before;
        assert_eq!(
            kernel_drops, 0,
            "{scheme}: the server's kernel dropped datagrams"
        );
        assert_eq!(stats.written, COUNT, "{scheme}: {}", stats.summary());

        let deadline = Instant::now() + Duration::from_secs(30);
        let points = loop {
            let points = vm_export(&server);
            if points.len() as u64 >= 2 * COUNT || Instant::now() > deadline {
                break points;
            }
            std::thread::sleep(Duration::from_millis(200));
        };
        assert_eq!(
            points.len() as u64,
            2 * COUNT,
            "{scheme}: every field of every reading"
        );
        for seq in 0..COUNT {
            let host = format!("web-{}", seq % 3);
            let time = base + seq as i64;
            assert_eq!(
                points.get(&("load_value".into(), host.clone(), time)),
                Some(&(seq as f64 / 4.0)),
                "{scheme} {seq}"
            );
            assert_eq!(
                points.get(&("load_seq".into(), host, time)),
                Some(&(seq as f64)),
                "{scheme} {seq}"
            );
        }
    }
}
