//! The market mapping (`examples/binance-market.toml`) over the recorded combined stream:
//! every reading `telemit map` and `telemit ws` produce is compared with readings computed
//! here, independently, from the fixture; and a flood of new symbols stays under `max_series`.

mod support;

use std::collections::{BTreeMap, HashMap};
use std::process::{Command, Stdio};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use support::Receiver;
use telemit::{Endpoint, Format, Precision, Reading, Timestamp};
use tokio_tungstenite::tungstenite::Message;

fn root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

fn fixture_path() -> std::path::PathBuf {
    root().join("../shared/fixtures/binance-bnbusdt-combined.jsonl")
}

fn fixture() -> Vec<String> {
    let text = std::fs::read_to_string(fixture_path()).unwrap();
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_owned)
        .collect()
}

fn number(value: &Value) -> f64 {
    value.as_str().unwrap().parse().unwrap()
}

fn ms(value: i64) -> Timestamp {
    Timestamp::new(value * 1_000_000, Precision::Nanoseconds)
}

/// One 1-second trade window or one 1-minute candle being built.
struct Open {
    start: i64,
    count: i64,
    volume: f64,
    notional: f64,
    first: f64,
    high: f64,
    low: f64,
    last: f64,
    paced: Option<i64>,
}

impl Open {
    fn new(start: i64, p: f64) -> Open {
        Open {
            start,
            count: 0,
            volume: 0.0,
            notional: 0.0,
            first: p,
            high: p,
            low: p,
            last: p,
            paced: None,
        }
    }

    fn add(&mut self, p: f64, q: f64) {
        if self.count > 0 {
            self.volume += q;
            self.notional += p * q;
        } else {
            self.volume = q;
            self.notional = p * q;
        }
        self.count += 1;
        self.high = self.high.max(p);
        self.low = self.low.min(p);
        self.last = p;
    }

    fn trades(&self, symbol: &str, side: &str) -> Reading {
        Reading::builder("binance_trades")
            .tag("symbol", symbol)
            .tag("side", side)
            .field("count", self.count)
            .field("volume", self.volume)
            .field("notional", self.notional)
            .field("last_price", self.last)
            .timestamp(ms(self.start))
            .build()
            .unwrap()
    }

    fn candle(&self, symbol: &str, closed: bool) -> Reading {
        Reading::builder("binance_candle")
            .tag("symbol", symbol)
            .tag("interval", "1m")
            .field("open", self.first)
            .field("high", self.high)
            .field("low", self.low)
            .field("close", self.last)
            .field("volume", self.volume)
            .field("trades", self.count)
            .field("closed", closed)
            .timestamp(ms(self.start))
            .build()
            .unwrap()
    }
}

/// What the example must produce from `messages`, in order. Depth snapshots have no event
/// time, so their readings carry no timestamp here (the mapping stamps them on arrival).
fn expected(messages: &[String]) -> Vec<Reading> {
    let mut out = Vec::new();
    // Trade windows per (symbol, side), closed when any trade reaches a later second.
    let mut seconds: BTreeMap<(String, String), Open> = BTreeMap::new();
    let mut second_reached = i64::MIN;
    let mut minutes: BTreeMap<String, Open> = BTreeMap::new();
    let mut minute_reached = i64::MIN;
    let mut previous_spread: HashMap<(String, String), f64> = HashMap::new();
    for message in messages {
        let m: Value = serde_json::from_str(message).unwrap();
        let Some(stream) = m["stream"].as_str() else {
            continue; // the subscription reply
        };
        let d = &m["data"];
        if stream.ends_with("@depth20@100ms") {
            let symbol = stream.split('@').next().unwrap().to_uppercase();
            let side = |key: &str| -> Vec<(f64, f64)> {
                d[key]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|l| (number(&l[0]), number(&l[1])))
                    .collect()
            };
            let (bids, asks) = (side("bids"), side("asks"));
            let depth = |levels: &[(f64, f64)]| {
                let mut total = 0.0;
                for (_, q) in levels {
                    total += q;
                }
                total
            };
            let (bid, ask) = (bids[0].0, asks[0].0);
            out.push(
                Reading::builder("binance_book")
                    .tag("symbol", symbol.clone())
                    .field("best_bid", bid)
                    .field("best_ask", ask)
                    .field("bid_depth", depth(&bids))
                    .field("ask_depth", depth(&asks))
                    .field("spread", ask - bid)
                    .field("mid", (bid + ask) / 2.0)
                    .build()
                    .unwrap(),
            );
            for (name, levels) in [("bid", &bids), ("ask", &asks)] {
                let mut cumulative = 0.0;
                for (level, (p, q)) in levels.iter().enumerate() {
                    cumulative += q;
                    out.push(
                        Reading::builder("binance_book_level")
                            .tag("symbol", symbol.clone())
                            .tag("side", name)
                            .tag("level", level.to_string())
                            .field("price", *p)
                            .field("quantity", *q)
                            .field("cumulative", cumulative)
                            .build()
                            .unwrap(),
                    );
                }
            }
            continue;
        }
        match d["e"].as_str().unwrap() {
            "trade" => {
                let symbol = d["s"].as_str().unwrap().to_owned();
                let side = if d["m"].as_bool().unwrap() {
                    "sell"
                } else {
                    "buy"
                };
                let (p, q, t) = (number(&d["p"]), number(&d["q"]), d["T"].as_i64().unwrap());
                let second = t.div_euclid(1000) * 1000;
                if second > second_reached {
                    for ((symbol, side), open) in std::mem::take(&mut seconds) {
                        out.push(open.trades(&symbol, &side));
                    }
                    second_reached = second;
                }
                seconds
                    .entry((symbol.clone(), side.to_owned()))
                    .or_insert_with(|| Open::new(second, p))
                    .add(p, q);
                let minute = t.div_euclid(60_000) * 60_000;
                if minute > minute_reached {
                    for (symbol, open) in std::mem::take(&mut minutes) {
                        out.push(open.candle(&symbol, true));
                    }
                    minute_reached = minute;
                }
                let candle = minutes
                    .entry(symbol.clone())
                    .or_insert_with(|| Open::new(minute, p));
                candle.add(p, q);
                if candle.paced.is_none_or(|then| t - then >= 1000) {
                    candle.paced = Some(t);
                    out.push(candle.candle(&symbol, false));
                }
            }
            "kline" => out.push(support::binance::kline_reading(d, &mut previous_spread)),
            other => panic!("unexpected event {other:?}"),
        }
    }
    // End of input: the trade windows first (rule order), then the candles.
    for ((symbol, side), open) in seconds {
        out.push(open.trades(&symbol, &side));
    }
    for (symbol, open) in minutes {
        out.push(open.candle(&symbol, true));
    }
    out
}

/// Every reading, in order: measurement, tags, fields and (where the message has a time)
/// timestamp. Depth readings are stamped on arrival; theirs must be present.
fn assert_same(got: &[Reading], want: &[Reading]) {
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert_eq!(
            (g.measurement(), g.tags(), g.fields()),
            (w.measurement(), w.tags(), w.fields()),
            "reading {i}"
        );
        match w.timestamp() {
            Some(t) => assert_eq!(
                g.timestamp()
                    .and_then(|g| g.to_precision(Precision::Nanoseconds)),
                t.to_precision(Precision::Nanoseconds),
                "timestamp of reading {i}"
            ),
            None => assert!(g.timestamp().is_some(), "reading {i} has no timestamp"),
        }
    }
    assert_eq!(got.len(), want.len(), "number of readings");
}

fn counts(readings: &[Reading]) -> BTreeMap<&str, usize> {
    let mut counts = BTreeMap::new();
    for r in readings {
        *counts.entry(r.measurement()).or_default() += 1;
    }
    counts
}

#[test]
fn telemit_map_produces_every_reading_of_the_fixture() {
    let want = expected(&fixture());
    let counts = counts(&want);
    assert_eq!(counts["binance_book"], 1844);
    assert_eq!(counts["binance_book_level"], 1844 * 40);
    assert!(counts["binance_trades"] > 0 && counts["binance_candle"] > 0);
    let output = Command::new(env!("CARGO_BIN_EXE_telemit"))
        .args(["map", "--map"])
        .arg(root().join("examples/binance-market.toml"))
        .arg(fixture_path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let got: Vec<Reading> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            telemit::input::line_protocol::parse_line(l, Precision::Nanoseconds)
                .unwrap()
                .unwrap()
        })
        .collect();
    assert_same(&got, &want);
    assert!(
        stderr.contains(&format!(
            "3997 messages (1 ignored, 0 rule errors), {} readings written, 0 not writable",
            want.len()
        )),
        "{stderr}"
    );
    for (rule, measurement) in [
        ("book", "binance_book"),
        ("trades", "binance_trades"),
        ("candle", "binance_candle"),
    ] {
        let summary = format!(
            "\"{rule}\" {} readings, 0 errors, 0 new series refused",
            counts[measurement]
        );
        assert!(stderr.contains(&summary), "{summary} in {stderr}");
    }
}

#[test]
fn telemit_map_counts_readings_a_format_cannot_write_and_stops_quietly_on_a_closed_pipe() {
    let map = |extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_telemit"))
            .args(["map", "--map"])
            .arg(root().join("examples/binance-market.toml"))
            .args(["--format", "wavefront"])
            .args(extra)
            .arg(fixture_path())
            .output()
            .unwrap()
    };
    // Wavefront has no booleans: the candles' `closed` field is refused, said once, counted.
    let refused = map(&[]);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(1), "{stderr}");
    assert_eq!(
        stderr.matches("cannot write in --format wavefront").count(),
        1,
        "{stderr}"
    );
    let candles = counts(&expected(&fixture()))["binance_candle"];
    assert!(
        stderr.contains(&format!("{candles} not writable in --format wavefront")),
        "{stderr}"
    );
    let numbered = map(&["--bool-as-number"]);
    let stderr = String::from_utf8_lossy(&numbered.stderr);
    assert!(numbered.status.success(), "{stderr}");
    assert!(stderr.contains(", 0 not writable"), "{stderr}");

    // `telemit map … | head`: the reader closing the pipe is not an error.
    let mut child = Command::new(env!("CARGO_BIN_EXE_telemit"))
        .args(["map", "--map"])
        .arg(root().join("examples/binance-market.toml"))
        .arg(fixture_path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 64];
    std::io::Read::read_exact(child.stdout.as_mut().unwrap(), &mut first).unwrap();
    drop(child.stdout.take());
    let closed = child.wait_with_output().unwrap();
    assert_eq!(
        closed.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&closed.stderr)
    );
}

#[test]
fn telemit_map_reads_stdin_and_reports_bad_lines_with_their_number() {
    let input = concat!(
        r#"{"stream":"bnbusdt@trade","data":{"e":"trade","s":"BNBUSDT","p":"1.5","q":"2","T":1000,"m":false}}"#,
        "\n",
        r#"{"stream":"bnbusdt@trade","data":{"e":"trade","s":"BNBUSDT","p":"oops","q":"2","T":1001,"m":false}}"#,
        "\n",
        "{nope\n",
    );
    let (code, lines, stderr) = map_json(input.as_bytes());
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains(r#"stdin: line 2: rule "trades": /data/p = "oops" is not a number"#),
        "{stderr}"
    );
    assert!(
        stderr.contains(
            "stdin: line 3: rule \"-\": the message is not JSON: expected a string key at byte 1"
        ),
        "{stderr}"
    );
    // The one good trade: a forming candle, then at end of input its second and its minute.
    let names: Vec<&str> = lines
        .iter()
        .map(|l| l["measurement"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["binance_candle", "binance_trades", "binance_candle"]
    );
    assert_eq!(lines[1]["count"], 1);
    assert_eq!(lines[1]["notional"], 3.0);
    assert_eq!(
        (lines[0]["closed"].clone(), lines[2]["closed"].clone()),
        (Value::Bool(false), Value::Bool(true))
    );
}

/// A WebSocket server on loopback that sends `messages` to its first client, then idles.
fn replay_server(messages: Vec<String>) -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            let (tcp, _) = listener.accept().await.unwrap();
            let mut ws = tokio_tungstenite::accept_async(tcp).await.unwrap();
            for message in messages {
                ws.send(Message::Text(message.into())).await.unwrap();
            }
            while let Some(Ok(_)) = ws.next().await {}
            std::future::pending::<()>().await;
        });
    });
    port
}

#[test]
fn telemit_ws_produces_every_reading_of_the_fixture() {
    let messages = fixture();
    let want = expected(&messages);
    let port = replay_server(messages);
    let dir = tempfile::tempdir().unwrap();
    let endpoint = Endpoint::Unix(dir.path().join("telegraf.sock"));
    let receiver = Receiver::start(&endpoint, Format::Influx, true);
    let output = Command::new(env!("CARGO_BIN_EXE_telemit"))
        .args([
            "ws",
            &format!(
                "ws://127.0.0.1:{port}/stream?streams=bnbusdt@trade/bnbusdt@depth20@100ms/bnbusdt@kline_1m"
            ),
            "--map",
        ])
        .arg(root().join("examples/binance-market.toml"))
        .args(["--to", &endpoint.to_string(), "--duration", "4s"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while receiver.seen.lock().unwrap().kept.len() < want.len()
        && std::time::Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(20));
    }
    let seen = receiver.seen.lock().unwrap();
    assert!(seen.rejections.is_empty(), "{:?}", seen.rejections);
    assert_same(&seen.kept, &want);
}

/// A trade of a symbol never seen before, all in the same second.
fn flood_trade(i: usize) -> String {
    format!(
        r#"{{"stream":"s{i}@trade","data":{{"e":"trade","s":"S{i}","p":"1.5","q":"2","T":1000,"m":false}}}}"#
    )
}

#[test]
fn a_flood_of_new_symbols_stays_under_max_series() {
    let text = std::fs::read_to_string(root().join("examples/binance-market.toml")).unwrap();
    let mut mapping = telemit::mapping::Mapping::from_toml(&text).unwrap();
    let arrival = Timestamp::new(0, Precision::Nanoseconds);
    let mut reported = Vec::new();
    for i in 0..30_000 {
        let outcome = mapping.apply_each(&flood_trade(i), arrival, |_| {});
        reported.extend(outcome.errors.into_iter().map(|e| e.to_string()));
    }
    // Each new symbol is one series of "trades" (buy) and one of "candle".
    assert_eq!(mapping.series(), 10_000, "the mapping's max_series");
    let refused: u64 = mapping.refused_series_by_rule().map(|(_, n)| n).sum();
    assert_eq!(refused, 2 * 30_000 - 10_000);
    assert_eq!(reported.len(), 2, "reported once per rule: {reported:?}");
    assert!(
        reported[0].starts_with("rule \"trades\": a new series was refused"),
        "{reported:?}"
    );
    assert!(
        reported[1].starts_with("rule \"candle\": a new series was refused"),
        "{reported:?}"
    );
    // The windows of the admitted series close at the end, each once.
    let mut closed = 0;
    mapping.finish(|_| closed += 1);
    assert_eq!(closed, 10_000);
}

/// Peak resident memory of `telemit map` over a flood of `count` new symbols, in bytes.
fn flood_peak_rss(count: usize, dir: &std::path::Path) -> u64 {
    let path = dir.join(format!("flood-{count}.jsonl"));
    let mut text = String::new();
    for i in 0..count {
        text.push_str(&flood_trade(i));
        text.push('\n');
    }
    std::fs::write(&path, text).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_telemit"))
        .args(["map", "--map"])
        .arg(root().join("examples/binance-market.toml"))
        .arg(&path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (_, peak) = support::wait_with_peak_rss(child);
    peak
}

#[test]
fn memory_stays_bounded_whatever_the_number_of_new_symbols() {
    let dir = tempfile::tempdir().unwrap();
    let small = flood_peak_rss(20_000, dir.path());
    let large = flood_peak_rss(400_000, dir.path());
    assert!(small > 0 && large > 0);
    assert!(
        (large as f64) < small as f64 * 1.5,
        "peak RSS {small} bytes for 20 000 symbols, {large} for 400 000"
    );
}

#[test]
fn prometheus_alert_rules_pass_promtool() {
    let Some(promtool) = support::server_binary("promtool") else {
        return;
    };
    let dir = root().join("examples/prometheus");
    for args in [
        ["check", "rules", "alerts.yml"],
        ["test", "rules", "alerts.test.yml"],
    ] {
        let output = Command::new(&promtool)
            .args(args)
            .current_dir(&dir)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "promtool {args:?}: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

/// The fixture through `telemit map` into a real InfluxDB 1.x; then every query of the
/// Grafana dashboard, with Grafana's variables substituted as Grafana would (the time range
/// of the panel's measurement, an interval of a hundredth of it), must return data.
#[test]
fn every_dashboard_panel_returns_data_from_influxdb() {
    let Some(server) = support::Server::influxdb() else {
        return;
    };
    let output = Command::new(env!("CARGO_BIN_EXE_telemit"))
        .args(["map", "--map"])
        .arg(root().join("examples/binance-market.toml"))
        .arg(fixture_path())
        .output()
        .unwrap();
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let (status, body) = support::http(
        server.http_port,
        "POST",
        "/query?q=CREATE%20DATABASE%20market",
        b"",
    );
    assert_eq!(status, 200, "{body}");
    for chunk in lines.chunks(5_000) {
        let body = chunk.join("\n");
        let (status, answer) = support::http(
            server.http_port,
            "POST",
            "/write?db=market&precision=ns",
            body.as_bytes(),
        );
        assert_eq!(status, 204, "{answer}");
    }
    // Each measurement's time range, in milliseconds.
    let mut ranges: HashMap<String, (i64, i64)> = HashMap::new();
    for line in &lines {
        let reading = telemit::input::line_protocol::parse_line(line, Precision::Nanoseconds)
            .unwrap()
            .unwrap();
        let ms = reading.timestamp().unwrap().value.div_euclid(1_000_000);
        let range = ranges
            .entry(reading.measurement().to_owned())
            .or_insert((ms, ms));
        *range = (range.0.min(ms), range.1.max(ms));
    }
    let dashboard: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("examples/grafana/trading.json")).unwrap(),
    )
    .unwrap();
    let mut queries = 0;
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().unwrap() {
            let query = target["query"].as_str().unwrap();
            let measurement = query
                .split("FROM \"")
                .nth(1)
                .and_then(|rest| rest.split('"').next())
                .unwrap();
            let (start, end) = ranges[measurement];
            let (start, end) = (start - 1_000, end + 1_000);
            let interval = ((end - start) / 100).max(1_000);
            let query = query
                .replace(
                    "$timeFilter",
                    &format!("time >= {start}ms and time <= {end}ms"),
                )
                .replace("$__interval", &format!("{interval}ms"))
                .replace("$symbol", "BNBUSDT");
            let answer = server.influx_query("market", &query);
            let result = &answer["results"][0];
            assert!(result.get("error").is_none(), "{query}: {answer}");
            let values: Vec<&Value> = result["series"]
                .as_array()
                .unwrap_or_else(|| panic!("{}: no series for {query}: {answer}", panel["title"]))
                .iter()
                .flat_map(|s| s["values"].as_array().unwrap())
                .flat_map(|row| row.as_array().unwrap()[1..].iter())
                .filter(|v| !v.is_null())
                .collect();
            assert!(!values.is_empty(), "{}: {query}: {answer}", panel["title"]);
            if query.contains("binance_book_level") {
                let series = result["series"].as_array().unwrap().len();
                assert_eq!(series, 40, "one per side and level: {answer}");
            }
            queries += 1;
        }
    }
    assert_eq!(queries, 9);
}

/// A stream that falls silent: `telemit ws` closes the open windows on its idle timer, long
/// before shutdown.
#[test]
fn telemit_ws_closes_idle_windows_while_running() {
    let trades: Vec<String> = fixture()
        .into_iter()
        .filter(|m| m.contains("@trade"))
        .take(5)
        .collect();
    let port = replay_server(trades);
    let dir = tempfile::tempdir().unwrap();
    let map = dir.path().join("trades.toml");
    std::fs::write(
        &map,
        r#"
[[rule]]
name = "trades"
when = { "/data/e" = "trade" }
measurement = "trades"
timestamp = { path = "/data/T", unit = "ms" }
tags.symbol = "/data/s"
fields.quantity = "/data/q"
window = { every = "1s", idle = "1s" }
aggregate = [{ name = "n", expr = "count()" }]
"#,
    )
    .unwrap();
    let endpoint = Endpoint::Unix(dir.path().join("telegraf.sock"));
    let receiver = Receiver::start(&endpoint, Format::Influx, true);
    let mut child = Command::new(env!("CARGO_BIN_EXE_telemit"))
        .args(["ws", &format!("ws://127.0.0.1:{port}/stream"), "--map"])
        .arg(&map)
        .args([
            "--to",
            &endpoint.to_string(),
            "--duration",
            "60s",
            "--quiet",
        ])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let counted = || -> i64 {
        let seen = receiver.seen.lock().unwrap();
        seen.kept
            .iter()
            .map(|r| match r.field("n") {
                Some(telemit::FieldValue::Integer(n)) => *n,
                other => panic!("n = {other:?}"),
            })
            .sum()
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while counted() < 5 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let running = child.try_wait().unwrap().is_none();
    let _ = child.kill();
    let _ = child.wait();
    assert!(running, "telemit ws ended before the windows closed");
    assert_eq!(counted(), 5, "every trade in a closed window");
}

/// The `expr` of every rule of a Prometheus rules file (plain, `>` or `|` blocks).
fn rule_exprs(yaml: &str) -> Vec<String> {
    let lines: Vec<&str> = yaml.lines().collect();
    let mut exprs = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let trimmed = line.trim_start();
        let key = trimmed.strip_prefix("- ").unwrap_or(trimmed);
        let Some(value) = key.strip_prefix("expr:") else {
            continue;
        };
        let value = value.trim();
        if !value.starts_with(['>', '|']) {
            exprs.push(value.to_owned());
            continue;
        }
        let indent = line.len() - trimmed.len();
        let block: Vec<&str> = lines[i + 1..]
            .iter()
            .take_while(|l| l.trim().is_empty() || l.len() - l.trim_start().len() > indent)
            .map(|l| l.trim())
            .collect();
        exprs.push(block.join(" "));
    }
    exprs
}

/// The metric names a PromQL expression selects: identifiers that are neither functions
/// (followed by `(`), keywords, label matchers, durations nor strings.
fn metric_names(expr: &str) -> Vec<String> {
    const KEYWORDS: [&str; 6] = ["and", "or", "unless", "bool", "offset", "atan2"];
    // Followed by a list of labels in parentheses.
    const GROUPING: [&str; 6] = [
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
    ];
    const AGGREGATIONS: [&str; 12] = [
        "sum",
        "avg",
        "min",
        "max",
        "count",
        "group",
        "stddev",
        "stdvar",
        "topk",
        "bottomk",
        "quantile",
        "count_values",
    ];
    let mut names = Vec::new();
    let chars: Vec<char> = expr.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let closing = match c {
            '"' => Some('"'),
            '{' => Some('}'),
            '[' => Some(']'),
            _ => None,
        };
        if let Some(closing) = closing {
            i += 1;
            while i < chars.len() && chars[i] != closing {
                i += 1;
            }
            i += 1;
            continue;
        }
        if c.is_ascii_alphabetic() || c == '_' || c == ':' {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || "_:".contains(chars[i])) {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let word = word.as_str();
            while i < chars.len() && chars[i].is_whitespace() {
                i += 1;
            }
            if GROUPING.contains(&word) && chars.get(i) == Some(&'(') {
                while i < chars.len() && chars[i] != ')' {
                    i += 1;
                }
                i += 1;
            } else if chars.get(i) != Some(&'(')
                && !KEYWORDS.contains(&word)
                && !AGGREGATIONS.contains(&word)
            {
                names.push(word.to_owned());
            }
            continue;
        }
        // A number (with a unit or an exponent) is not a name.
        if c.is_ascii_digit() {
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
                i += 1;
            }
            continue;
        }
        i += 1;
    }
    names
}

#[test]
fn metric_names_of_promql_leave_out_functions_keywords_and_matchers() {
    assert_eq!(
        metric_names(r#"sum by (symbol) (rate(a_b{x="y z"}[1m])) / c:d > 0.5e3 or absent(e)"#),
        ["a_b", "c:d", "e"]
    );
    let yaml =
        "rules:\n  - alert: A\n    expr: >\n      x\n      or y\n    for: 1m\n  - expr: z > 1\n";
    assert_eq!(rule_exprs(yaml), ["x or y", "z > 1"]);
}

/// The alert rules load in promtool, and every metric they select is a gauge that
/// `telemit ws --metrics-listen` really serves for the market mapping, with the `symbol`
/// label their annotations print.
#[test]
fn alert_rules_select_only_gauges_telemit_ws_serves() {
    let Some(promtool) = support::server_binary("promtool") else {
        return;
    };
    let rules = root().join("examples/prometheus/alerts.yml");
    let checked = Command::new(&promtool)
        .args(["check", "rules"])
        .arg(&rules)
        .output()
        .unwrap();
    assert!(
        checked.status.success(),
        "promtool check rules: {}{}",
        String::from_utf8_lossy(&checked.stdout),
        String::from_utf8_lossy(&checked.stderr)
    );
    let used: std::collections::BTreeSet<String> =
        rule_exprs(&std::fs::read_to_string(&rules).unwrap())
            .iter()
            .flat_map(|expr| metric_names(expr))
            .collect();
    assert!(used.len() >= 3, "the alerts select {used:?}");

    let port = replay_server(fixture());
    let metrics_port = support::free_port();
    let dir = tempfile::tempdir().unwrap();
    let endpoint = Endpoint::Unix(dir.path().join("telegraf.sock"));
    let _receiver = Receiver::start(&endpoint, Format::Influx, true);
    let mut child = Command::new(env!("CARGO_BIN_EXE_telemit"))
        .args(["ws", &format!("ws://127.0.0.1:{port}/stream"), "--map"])
        .arg(root().join("examples/binance-market.toml"))
        .args([
            "--to",
            &endpoint.to_string(),
            "--duration",
            "60s",
            "--quiet",
        ])
        .args(["--metrics-listen", &format!("127.0.0.1:{metrics_port}")])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let serves_all = |text: &str| {
        used.iter()
            .all(|name| text.contains(&format!("\n{name}{{")))
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let mut served = String::new();
    while std::time::Instant::now() < deadline {
        if std::net::TcpStream::connect(("127.0.0.1", metrics_port)).is_ok() {
            served = support::http(metrics_port, "GET", "/metrics", b"").1;
            if serves_all(&served) {
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
    let types: HashMap<&str, &str> = served
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split_once(' '))
        .collect();
    for name in &used {
        assert_eq!(
            types.get(name.as_str()),
            Some(&"gauge"),
            "{name} is not a gauge telemit ws serves:\n{served}"
        );
        let series = served
            .lines()
            .find(|l| l.starts_with(&format!("{name}{{")))
            .unwrap();
        assert!(series.contains("symbol=\"BNBUSDT\""), "{series}");
    }
}

/// `telemit map` over `input` with the market mapping: exit code, stdout as JSON lines, stderr.
fn map_json(input: &[u8]) -> (Option<i32>, Vec<Value>, String) {
    let mapping = root().join("examples/binance-market.toml");
    let output = support::processes::run_telemit(
        &[
            "map",
            "--map",
            mapping.to_str().unwrap(),
            "--format",
            "json",
        ],
        &[],
        input,
        Stdio::piped(),
    );
    let lines = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let stderr = String::from_utf8(output.stderr).unwrap();
    (output.status.code(), lines, stderr)
}

fn trade_at(t: i64, price: &str) -> String {
    format!(
        r#"{{"stream":"bnbusdt@trade","data":{{"e":"trade","s":"BNBUSDT","p":"{price}","q":"2","T":{t},"m":false}}}}"#
    )
}

#[test]
fn telemit_map_skips_and_counts_a_line_that_is_not_utf8_and_goes_on() {
    let mut input = Vec::new();
    input.extend_from_slice(trade_at(1000, "1.5").as_bytes());
    input.extend_from_slice(b"\n{\"stream\":\"x\xff\xfe\"}\n");
    input.extend_from_slice(trade_at(1500, "2.5").as_bytes());
    input.push(b'\n');
    let (code, lines, stderr) = map_json(&input);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("stdin: line 2, column 13: not UTF-8: skipped"),
        "{stderr}"
    );
    assert!(
        stderr.contains("2 messages (0 ignored, 0 rule errors), 3 readings written")
            && stderr.contains("2 series, 1 line skipped (not UTF-8 or too long)"),
        "{stderr}"
    );
    // Both trades, in the second's window closed at the end of input.
    let trades: Vec<&Value> = lines
        .iter()
        .filter(|l| l["measurement"] == "binance_trades")
        .collect();
    assert_eq!(trades.len(), 1, "{lines:?}");
    assert_eq!(trades[0]["count"], 2);
    assert_eq!(trades[0]["last_price"], 2.5);
}

#[test]
fn a_far_future_message_time_is_refused_and_does_not_shut_out_later_messages() {
    // A trade a thousand years ahead between two good ones of the same second.
    let far = 1000 * 365 * 24 * 3_600_000i64 + 32_000_000_000_000;
    let input = [
        trade_at(1000, "1.5"),
        trade_at(far, "9"),
        trade_at(1500, "2.5"),
    ]
    .join("\n");
    let (code, lines, stderr) = map_json(input.as_bytes());
    assert_eq!(code, Some(1), "{stderr}");
    for rule in ["trades", "candle"] {
        let said = format!(
            "stdin: line 2: rule \"{rule}\": /data/T = {far} is more than max_ahead (1h) ahead of both the latest message time and the arrival time: refused"
        );
        assert!(stderr.contains(&said), "{said} in {stderr}");
    }
    assert!(
        stderr.contains("\"trades\" 1 reading, 1 error,"),
        "{stderr}"
    );
    let trades: Vec<&Value> = lines
        .iter()
        .filter(|l| l["measurement"] == "binance_trades")
        .collect();
    assert_eq!(trades.len(), 1, "{lines:?}");
    assert_eq!(trades[0]["count"], 2, "the late good trade still counts");
    assert_eq!(trades[0]["last_price"], 2.5);
    assert_eq!(trades[0]["time"], "1000000000");
}

#[test]
fn telemit_map_stamps_book_snapshots_with_the_latest_message_time() {
    let messages = fixture();
    let first_depth = messages
        .iter()
        .position(|m| m.contains("@depth20"))
        .unwrap();
    let timed = messages
        .iter()
        .position(|m| m.contains("\"T\":") || m.contains("\"E\":"))
        .unwrap();
    let input = messages.join("\n");
    let (code, lines, stderr) = map_json(input.as_bytes());
    assert_eq!(code, Some(0), "{stderr}");
    // The latest event time (E of a kline, T of a trade) before each depth snapshot.
    let mut clock: Option<i64> = None;
    let mut want = Vec::new();
    for m in &messages {
        let v: Value = serde_json::from_str(m).unwrap();
        let d = &v["data"];
        if let Some(t) = d["T"].as_i64().or_else(|| d["E"].as_i64()) {
            clock = Some(clock.map_or(t, |c| c.max(t)));
        }
        if v["stream"]
            .as_str()
            .is_some_and(|s| s.ends_with("@depth20@100ms"))
        {
            want.push(clock);
        }
    }
    let got: Vec<i64> = lines
        .iter()
        .filter(|l| l["measurement"] == "binance_book")
        .map(|l| l["time"].as_str().unwrap().parse().unwrap())
        .collect();
    assert_eq!(got.len(), want.len());
    for (i, (got, want)) in got.iter().zip(&want).enumerate() {
        match want {
            Some(ms) => assert_eq!(*got, ms * 1_000_000, "snapshot {i}"),
            // Before any message time: the arrival time, today's.
            None => assert!(*got > 1_700_000_000_000_000_000, "snapshot {i}"),
        }
    }
    assert!(
        want.iter().filter(|w| w.is_some()).count() > 1000,
        "the fixture interleaves snapshots with timed messages ({first_depth}, {timed})"
    );
}
