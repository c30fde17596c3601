//! `telemit ws` against a local WebSocket server that replays recorded Binance messages; every
//! mapped reading is compared with values computed here, independently, from the fixture.

mod support;

use std::collections::HashMap;
use std::process::{Command, Stdio};
use std::sync::atomic::Ordering;
use std::time::Duration;

use support::Receiver;
use support::replay::{Then, replay_server};
use support::samples::binance_messages as fixture;
use telemit::{Endpoint, FieldValue, Format, Precision, Reading};

fn mapping_file(dir: &std::path::Path) -> std::path::PathBuf {
    let examples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let kline = std::fs::read_to_string(examples.join("binance-kline.toml")).unwrap();
    let trade = std::fs::read_to_string(examples.join("binance-trade.toml")).unwrap();
    let path = dir.join("binance.toml");
    std::fs::write(&path, format!("{kline}\n{trade}")).unwrap();
    path
}

fn price(value: &serde_json::Value) -> f64 {
    value.as_str().unwrap().parse().unwrap()
}

/// The readings the two example mappings must produce, computed straight from the fixture.
fn expected(messages: &[String]) -> Vec<Reading> {
    let mut previous_spread: HashMap<(String, String), f64> = HashMap::new();
    let mut readings = Vec::new();
    for message in messages {
        let m: serde_json::Value = serde_json::from_str(message).unwrap();
        let symbol = m["s"].as_str().unwrap().to_owned();
        match m["e"].as_str() {
            Some("kline") => {
                readings.push(support::binance::kline_reading(&m, &mut previous_spread))
            }
            Some("trade") => {
                let (p, q) = (price(&m["p"]), price(&m["q"]));
                let side = if m["m"].as_bool().unwrap() {
                    "sell"
                } else {
                    "buy"
                };
                let ms = m["T"].as_i64().unwrap();
                readings.push(
                    Reading::builder("binance_trade")
                        .tag("symbol", symbol)
                        .tag("side", side)
                        .field("price", p)
                        .field("quantity", q)
                        .field("trade_id", m["t"].as_i64().unwrap())
                        .field("notional", p * q)
                        .timestamp(telemit::Timestamp::new(
                            ms * 1_000_000,
                            Precision::Nanoseconds,
                        ))
                        .build()
                        .unwrap(),
                );
            }
            other => panic!("unexpected event {other:?}"),
        }
    }
    readings
}

/// Runs `telemit ws` for `duration` against the server; what arrived, in order, and stderr.
fn run_ws(
    port: u16,
    extra: &[&str],
    duration: &str,
    expected_count: usize,
) -> (Vec<Reading>, String) {
    let (readings, stderr, _) = run_ws_measured(port, extra, duration, expected_count);
    (readings, stderr)
}

/// [`run_ws`], with the peak resident memory of the `telemit ws` process in bytes.
fn run_ws_measured(
    port: u16,
    extra: &[&str],
    duration: &str,
    expected_count: usize,
) -> (Vec<Reading>, String, u64) {
    let dir = tempfile::tempdir().unwrap();
    let endpoint = Endpoint::Unix(dir.path().join("telegraf.sock"));
    let receiver = Receiver::start(&endpoint, Format::Influx, true);
    let map = mapping_file(dir.path());
    let mut child = Command::new(env!("CARGO_BIN_EXE_telemit"))
        .args([
            "ws",
            &format!("ws://127.0.0.1:{port}/ws/bnbusdt@kline_1m"),
            "--map",
        ])
        .arg(&map)
        .args(["--to", &endpoint.to_string(), "--duration", duration])
        .args([
            "--subscribe",
            r#"{"method":"SUBSCRIBE","params":["bnbusdt@kline_1m","bnbusdt@trade"],"id":1}"#,
        ])
        .args(["--backoff-min", "50ms", "--backoff-max", "200ms"])
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut pipe = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut pipe, &mut text).unwrap();
        text
    });
    let (code, peak) = support::wait_with_peak_rss(child);
    let stderr = reader.join().unwrap();
    assert_eq!(code, 0, "{stderr}");
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while receiver.seen.lock().unwrap().kept.len() < expected_count
        && std::time::Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(10));
    }
    let seen = receiver.seen.lock().unwrap();
    assert!(seen.rejections.is_empty(), "{:?}", seen.rejections);
    (seen.kept.clone(), stderr, peak)
}

fn assert_same(got: &[Reading], want: &[Reading]) {
    assert_eq!(got.len(), want.len(), "number of readings");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert_eq!(g.measurement(), w.measurement(), "reading {i}");
        assert_eq!(g.tags(), w.tags(), "reading {i}");
        assert_eq!(g.timestamp(), w.timestamp(), "reading {i}");
        let mut got_fields = g.fields().to_vec();
        let mut want_fields = w.fields().to_vec();
        got_fields.sort_by(|a, b| a.0.cmp(&b.0));
        want_fields.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(got_fields, want_fields, "reading {i}");
    }
}

#[test]
fn replayed_stream_maps_to_exactly_the_expected_readings() {
    let messages = fixture();
    assert_eq!(messages.len(), 2000);
    let want = expected(&messages);
    let (port, subscriptions) =
        replay_server(messages.clone(), vec![Then::Stay(0..messages.len())]);
    let (got, stderr) = run_ws(port, &[], "3s", want.len());
    assert_same(&got, &want);
    assert_eq!(subscriptions.load(Ordering::SeqCst), 1);
    assert!(
        stderr.contains("2000 messages (0 ignored, 0 mapping errors, 0 refused)"),
        "{stderr}"
    );
    let deltas = got.iter().filter(|r| r.field("delta").is_some()).count();
    let klines = got
        .iter()
        .filter(|r| r.measurement() == "binance_kline")
        .count();
    assert_eq!(deltas, klines - 1, "every kline but the first has a delta");
    assert!(matches!(got[1].field("spread"), Some(FieldValue::Float(_))));
}

/// `--tag` adds to every mapped reading the tags its rule does not set itself, including
/// readings refilled in place from one message to the next.
#[test]
fn default_tags_join_every_mapped_reading_the_rules_tags_win() {
    let messages = fixture();
    let defaults = telemit::DefaultTags::new(vec![
        ("host".into(), "probe-1".into()),
        ("symbol".into(), "overridden?".into()),
    ])
    .unwrap();
    let mut want = expected(&messages[..300]);
    for reading in &mut want {
        reading.add_default_tags(&defaults);
    }
    let (port, _) = replay_server(messages.clone(), vec![Then::Stay(0..300)]);
    let (got, stderr) = run_ws(
        port,
        &["-t", "host=probe-1", "-t", "symbol=overridden?"],
        "2s",
        want.len(),
    );
    assert_same(&got, &want);
    assert!(
        got.iter().all(|r| r.tag("host") == Some("probe-1")),
        "{stderr}"
    );
    assert!(got.iter().all(|r| r.tag("symbol") == Some("BNBUSDT")));
}

#[test]
fn dropped_stream_reconnects_resubscribes_and_loses_nothing_after() {
    let messages = fixture();
    let want = expected(&messages);
    let plan = vec![Then::Drop(0..1000), Then::Stay(1000..messages.len())];
    let (port, subscriptions) = replay_server(messages.clone(), plan);
    let (got, stderr) = run_ws(port, &[], "3s", want.len());
    assert_eq!(
        subscriptions.load(Ordering::SeqCst),
        2,
        "subscribed again after the reconnect"
    );
    assert!(stderr.contains("stream lost"), "{stderr}");
    assert_same(&got, &want);
}

#[test]
fn silent_stream_is_detected_by_the_ping_timeout() {
    let messages = fixture();
    let want = expected(&messages);
    let plan = vec![Then::Silent(0..100), Then::Stay(100..messages.len())];
    let (port, subscriptions) = replay_server(messages.clone(), plan);
    let extra = ["--ping-interval", "100ms", "--silence-timeout", "500ms"];
    let (got, stderr) = run_ws(port, &extra, "4s", want.len());
    assert_eq!(subscriptions.load(Ordering::SeqCst), 2);
    assert!(
        stderr.contains("stream lost: nothing received for 500ms"),
        "{stderr}"
    );
    assert_same(&got, &want);
}

#[test]
fn hostile_messages_are_counted_not_fatal() {
    let messages = fixture();
    let want = expected(&messages[..50]);
    let plan = vec![Then::Hostile, Then::Stay(0..50)];
    let (port, subscriptions) = replay_server(messages.clone(), plan);
    let (got, stderr, peak) = run_ws_measured(port, &[], "3s", want.len());
    assert_eq!(
        subscriptions.load(Ordering::SeqCst),
        2,
        "the oversize message ends the first connection"
    );
    let mib = peak as f64 / (1024.0 * 1024.0);
    assert!(
        mib < 40.0,
        "a 100 MB message must be refused from its header, not buffered: peak RSS {mib:.1} MiB"
    );
    assert_same(&got, &want);
    assert!(
        stderr.contains("message refused: binary message of 3 bytes is not UTF-8 text"),
        "{stderr}"
    );
    assert!(
        stderr.contains("mapping: rule \"kline\": /k/h = \"x"),
        "{stderr}"
    );
    assert!(
        stderr.contains("nest deeper than 127 levels at byte 127"),
        "{stderr}"
    );
    assert!(
        stderr.contains("53 messages (1 ignored, 2 mapping errors, 2 refused)"),
        "{stderr}"
    );
}
