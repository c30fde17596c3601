//! The HTTP write transport: readings written to real InfluxDB 1.x and VictoriaMetrics come
//! back from their query APIs; what no real server can be told to do (answer 429, 503, 500 or
//! 400 on cue, show the headers it got) is checked against a small local HTTP server; and a
//! campaign kills and restarts a real InfluxDB mid-stream and finds every reading once.

mod support;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use support::{Authority, Server, assert_influx_holds, escape_heavy_readings, http};
use telemit::sender::{DropReason, Event, HttpOptions};
use telemit::tls::{TlsOptions, TlsServerOptions};
use telemit::{
    Encoder, Endpoint, Format, OnFull, Precision, Reading, Sender, SenderBuilder, Timestamp,
};

/// One request as the local server read it.
#[derive(Debug, Clone)]
struct Request {
    at: Instant,
    target: String,
    headers: BTreeMap<String, String>,
    /// The body, gunzipped when it came with `Content-Encoding: gzip`.
    body: String,
}

/// An answer the local server gives: status, extra headers, body.
type Answer = (u16, Vec<(&'static str, String)>, String);

/// A local HTTP/1.1 server (TLS when given a config) that records every request and answers
/// from a script, then 204 once the script is used up.
struct LocalServer {
    port: u16,
    requests: Arc<Mutex<Vec<Request>>>,
}

impl LocalServer {
    fn start(script: Vec<Answer>, tls: Option<Arc<rustls::ServerConfig>>) -> LocalServer {
        LocalServer::start_on(0, script, tls)
    }

    fn start_on(
        port: u16,
        script: Vec<Answer>,
        tls: Option<Arc<rustls::ServerConfig>>,
    ) -> LocalServer {
        let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let script = Arc::new(Mutex::new(script.into_iter()));
        let recorded = requests.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { return };
                let (recorded, script, tls) = (recorded.clone(), script.clone(), tls.clone());
                std::thread::spawn(move || match tls {
                    Some(config) => {
                        let connection = rustls::ServerConnection::new(config).unwrap();
                        serve(
                            rustls::StreamOwned::new(connection, stream),
                            &recorded,
                            &script,
                        );
                    }
                    None => serve(stream, &recorded, &script),
                });
            }
        });
        LocalServer { port, requests }
    }

    fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }

    fn wait_for_requests(&self, count: usize) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.requests.lock().unwrap().len() < count {
            assert!(Instant::now() < deadline, "{count} requests did not arrive");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// Serves requests on one keep-alive connection until the client closes it.
fn serve(
    stream: impl Read + Write,
    recorded: &Mutex<Vec<Request>>,
    script: &Mutex<std::vec::IntoIter<Answer>>,
) {
    let mut reader = BufReader::new(stream);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let target = line.split_whitespace().nth(1).unwrap_or("").to_owned();
        let mut headers = BTreeMap::new();
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap_or(0) == 0 {
                return;
            }
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            let (name, value) = header.split_once(':').unwrap();
            headers.insert(name.to_ascii_lowercase(), value.trim().to_owned());
        }
        let length: usize = headers
            .get("content-length")
            .expect("a body with its length")
            .parse()
            .unwrap();
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        if headers.get("content-encoding").map(String::as_str) == Some("gzip") {
            let mut plain = Vec::new();
            flate2::read::GzDecoder::new(&body[..])
                .read_to_end(&mut plain)
                .expect("a gzip body");
            body = plain;
        }
        recorded.lock().unwrap().push(Request {
            at: Instant::now(),
            target,
            headers,
            body: String::from_utf8(body).unwrap(),
        });
        let (status, extra, text) =
            script
                .lock()
                .unwrap()
                .next()
                .unwrap_or((204, Vec::new(), String::new()));
        let mut head = format!(
            "HTTP/1.1 {status} Answer\r\nContent-Length: {}\r\nContent-Type: application/json\r\n",
            text.len()
        );
        for (name, value) in extra {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        let stream = reader.get_mut();
        if stream.write_all(head.as_bytes()).is_err()
            || stream.write_all(text.as_bytes()).is_err()
            || stream.flush().is_err()
        {
            return;
        }
    }
}

/// A reading numbered `seq`, stamped `seq` ms after `base_ms`.
fn stamped(measurement: &str, seq: u64, base_ms: i64) -> Reading {
    Reading::builder(measurement)
        .tag("host", "web-01")
        .field("seq", seq as i64)
        .field("value", seq as f64 / 4.0)
        .timestamp(Timestamp::new(
            base_ms + seq as i64,
            Precision::Milliseconds,
        ))
        .build()
        .unwrap()
}

fn line(reading: &Reading, precision: Precision) -> String {
    let mut out = Vec::new();
    Encoder::new(Format::Influx)
        .with_precision(precision)
        .encode(reading, &mut out)
        .unwrap();
    String::from_utf8(out).unwrap()
}

fn builder(url: &str) -> SenderBuilder {
    let endpoint: Endpoint = url.parse().unwrap();
    Sender::builder(endpoint, Encoder::new(Format::Influx))
        .backoff(Duration::from_millis(50), Duration::from_millis(500))
        .flush_timeout(Duration::from_secs(30))
}

/// A builder whose connection events are collected.
fn recording(builder: SenderBuilder) -> (SenderBuilder, Arc<Mutex<Vec<Event>>>) {
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = events.clone();
    let builder = builder.on_event(move |e| sink.lock().unwrap().push(e.clone()));
    (builder, events)
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn create_database(server: &Server, db: &str) {
    let (status, body) = http(
        server.http_port,
        "POST",
        &format!("/query?q=CREATE%20DATABASE%20{db}"),
        b"",
    );
    assert_eq!(status, 200, "{body}");
}

fn influx_count(server: &Server, db: &str, query: &str) -> i64 {
    let answer = server.influx_query(db, query);
    answer["results"][0]["series"][0]["values"][0][1]
        .as_i64()
        .unwrap_or(0)
}

#[test]
fn influxdb_1x_holds_every_reading_sent_over_http_plain_and_gzip() {
    let Some(server) = Server::influxdb() else {
        return;
    };
    for (db, gzip) in [("plain", false), ("gzipped", true)] {
        create_database(&server, db);
        let readings = escape_heavy_readings(300);
        let url = format!("http://127.0.0.1:{}/write?db={db}", server.http_port);
        let sender = builder(&url).gzip(gzip).start().unwrap();
        for reading in &readings {
            sender.send(reading).unwrap();
        }
        let stats = sender.shutdown();
        assert_eq!(
            stats.written,
            readings.len() as u64,
            "{db}: {}",
            stats.summary()
        );
        assert_eq!(stats.dropped_total(), 0, "{db}");
        let answer = server.influx_query(db, "SELECT * FROM /.*/");
        assert_influx_holds(&answer, &readings);
    }
}

#[test]
fn victoria_metrics_holds_every_reading_sent_over_http() {
    let Some(server) = Server::victoria_metrics() else {
        return;
    };
    const COUNT: u64 = 2_000;
    let base = now_ms() - 60_000;
    let url = format!("http://127.0.0.1:{}/write", server.http_port);
    let sender = Sender::builder(
        url.parse().unwrap(),
        Encoder::new(Format::Influx).with_precision(Precision::Milliseconds),
    )
    .gzip(true)
    .start()
    .unwrap();
    for seq in 0..COUNT {
        sender.send(&stamped("vmhttp", seq, base)).unwrap();
    }
    let stats = sender.shutdown();
    assert_eq!(stats.written, COUNT, "{}", stats.summary());
    http(server.http_port, "GET", "/internal/force_flush", b"");
    let target = format!(
        "/api/v1/export?match[]={}",
        support::encode_query("{__name__=\"vmhttp_seq\"}")
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    let (mut values, mut timestamps) = (Vec::new(), Vec::new());
    while Instant::now() < deadline {
        let (status, body) = http(server.http_port, "GET", &target, b"");
        assert_eq!(status, 200, "{body}");
        (values, timestamps) = (Vec::new(), Vec::new());
        for series in body.lines().filter(|l| !l.is_empty()) {
            let series: serde_json::Value = serde_json::from_str(series).unwrap();
            values.extend(
                series["values"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_f64().unwrap() as u64),
            );
            timestamps.extend(
                series["timestamps"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|t| t.as_i64().unwrap()),
            );
        }
        if values.len() as u64 == COUNT {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    values.sort_unstable();
    assert_eq!(values, (0..COUNT).collect::<Vec<_>>());
    timestamps.sort_unstable();
    assert_eq!(
        timestamps,
        (0..COUNT as i64).map(|s| base + s).collect::<Vec<_>>()
    );
}

#[test]
fn token_basic_auth_headers_gzip_and_precision_reach_the_server() {
    let server = LocalServer::start(Vec::new(), None);
    let base = now_ms();
    let readings: Vec<Reading> = (0..50).map(|s| stamped("auth", s, base)).collect();

    let token = Sender::builder(
        format!(
            "http://127.0.0.1:{}/api/v2/write?org=o&bucket=b",
            server.port
        )
        .parse()
        .unwrap(),
        Encoder::new(Format::Influx).with_precision(Precision::Milliseconds),
    )
    .http(HttpOptions {
        token: Some("s3cr3t".into()),
        http_headers: vec![("X-Team".into(), "infra".into())],
        ..HttpOptions::default()
    })
    .gzip(true)
    .start()
    .unwrap();
    for reading in &readings {
        token.send(reading).unwrap();
    }
    assert_eq!(token.shutdown().written, 50);
    let requests = server.requests();
    assert!(!requests.is_empty());
    for request in &requests {
        assert_eq!(request.target, "/api/v2/write?org=o&bucket=b&precision=ms");
        assert_eq!(request.headers["authorization"], "Token s3cr3t");
        assert_eq!(request.headers["x-team"], "infra");
        assert_eq!(request.headers["content-encoding"], "gzip");
    }
    let sent: String = readings
        .iter()
        .map(|r| line(r, Precision::Milliseconds))
        .collect();
    let got: String = requests.iter().map(|r| r.body.as_str()).collect();
    assert_eq!(got, sent, "every reading once, whole lines, in order");

    // RFC 7617's example credentials.
    let basic = builder(&format!("http://127.0.0.1:{}/write?db=t", server.port))
        .http(HttpOptions {
            username: Some("Aladdin".into()),
            password: Some("open sesame".into()),
            ..HttpOptions::default()
        })
        .start()
        .unwrap();
    basic.send(&readings[0]).unwrap();
    assert_eq!(basic.shutdown().written, 1);
    let last = server.requests().pop().unwrap();
    assert_eq!(last.target, "/write?db=t&precision=ns");
    assert_eq!(
        last.headers["authorization"],
        "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
    );
    assert!(!last.headers.contains_key("content-encoding"));
    assert_eq!(last.body, line(&readings[0], Precision::Nanoseconds));
}

#[test]
fn retry_after_is_honoured_on_429_and_503() {
    // An HTTP date has whole seconds: 3 s from now is at least 2 s away, 1 s after the 429.
    let later = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(3));
    let server = LocalServer::start(
        vec![
            (
                429,
                vec![("Retry-After", "1".into())],
                "{\"message\":\"slow down\"}".into(),
            ),
            (503, vec![("Retry-After", later)], String::new()),
        ],
        None,
    );
    let (builder, events) = recording(builder(&format!(
        "http://127.0.0.1:{}/write?db=t",
        server.port
    )));
    let sender = builder.start().unwrap();
    let base = now_ms();
    for seq in 0..20 {
        sender.send(&stamped("throttled", seq, base)).unwrap();
    }
    let stats = sender.shutdown();
    assert_eq!(
        (stats.written, stats.dropped_total()),
        (20, 0),
        "{}",
        stats.summary()
    );

    let requests = server.requests();
    assert!(requests.len() >= 3);
    // The refused batch is sent again, whole, after the server's delay and not before.
    assert_eq!(requests[0].body, requests[1].body);
    assert_eq!(requests[1].body, requests[2].body);
    let first_wait = requests[1].at - requests[0].at;
    assert!(first_wait >= Duration::from_millis(950), "{first_wait:?}");
    let second_wait = requests[2].at - requests[1].at;
    assert!(
        second_wait >= Duration::from_millis(900),
        "HTTP date honoured: {second_wait:?}"
    );
    let delivered: String = requests[2..].iter().map(|r| r.body.as_str()).collect();
    let sent: String = (0..20)
        .map(|s| line(&stamped("throttled", s, base), Precision::Nanoseconds))
        .collect();
    assert_eq!(delivered, sent);

    let events = events.lock().unwrap();
    let throttled: Vec<&Event> = events
        .iter()
        .filter(|e| matches!(e, Event::Throttled { .. }))
        .collect();
    assert_eq!(throttled.len(), 1, "one event per incident: {events:?}");
    assert!(
        throttled[0]
            .to_string()
            .contains("HTTP 429 Too Many Requests: slow down"),
        "{}",
        throttled[0]
    );
}

#[test]
fn server_errors_and_dead_servers_are_retried_with_backoff() {
    let server = LocalServer::start(
        vec![
            (500, Vec::new(), "{\"error\":\"engine: disk full\"}".into()),
            (502, Vec::new(), String::new()),
        ],
        None,
    );
    let (retrying, events) = recording(builder(&format!(
        "http://127.0.0.1:{}/write?db=t",
        server.port
    )));
    let sender = retrying.start().unwrap();
    let reading = stamped("retried", 1, now_ms());
    sender.send(&reading).unwrap();
    let stats = sender.shutdown();
    assert_eq!((stats.written, stats.dropped_total()), (1, 0));
    let bodies: Vec<String> = server.requests().into_iter().map(|r| r.body).collect();
    assert_eq!(bodies, vec![line(&reading, Precision::Nanoseconds); 3]);
    let events = events.lock().unwrap();
    assert!(
        events[0]
            .to_string()
            .contains("HTTP 500 Internal Server Error: engine: disk full"),
        "{events:?}"
    );
    assert!(
        matches!(events.last(), Some(Event::Reconnected { .. })),
        "{events:?}"
    );

    // Nothing listening: retried until the flush timeout, then counted.
    let closed = support::free_port();
    let sender = builder(&format!("http://127.0.0.1:{closed}/write?db=t"))
        .flush_timeout(Duration::from_millis(500))
        .start()
        .unwrap();
    sender.send(&reading).unwrap();
    let stats = sender.shutdown();
    assert_eq!(
        (stats.written, stats.dropped(DropReason::SendError)),
        (0, 1)
    );
}

#[test]
fn rejected_batches_are_counted_with_the_server_message_reported_once() {
    let refusal = || -> Answer {
        (
            400,
            Vec::new(),
            "{\"error\":\"unable to parse 'x y': invalid field format\"}".into(),
        )
    };
    let server = LocalServer::start(vec![refusal(), refusal()], None);
    let (builder, events) = recording(builder(&format!(
        "http://127.0.0.1:{}/write?db=t",
        server.port
    )));
    let sender = builder.start().unwrap();
    let base = now_ms();
    for seq in 0..3 {
        sender.send(&stamped("rejected", seq, base)).unwrap();
        // One batch each: the next reading waits for the answer to this one.
        server.wait_for_requests(seq as usize + 1);
    }
    let stats = sender.shutdown();
    assert_eq!(stats.readings_in, 3);
    assert_eq!(
        stats.dropped(DropReason::Rejected),
        2,
        "{}",
        stats.summary()
    );
    assert_eq!(stats.written, 1);
    assert_eq!(
        server.requests().len(),
        3,
        "a rejected batch is not sent again"
    );
    let rejected = the_one_rejection(&events.lock().unwrap());
    assert!(
        rejected.contains(
            "rejected 1 reading (HTTP 400 Bad Request: unable to parse 'x y': invalid field format)"
        ),
        "{rejected}"
    );

    // The command line says so even with -q, and exits non-zero.
    let server = LocalServer::start(vec![refusal()], None);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_telemit"))
        .args([
            "pipe",
            "-q",
            "--to",
            &format!("http://127.0.0.1:{}/write?db=t", server.port),
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            child.stdin.take().unwrap().write_all(b"m v=1 1\n")?;
            child.wait_with_output()
        })
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(
        stderr.matches("invalid field format").count(),
        1,
        "{stderr}"
    );
}

#[test]
fn a_field_type_conflict_in_influxdb_is_counted_as_rejected_with_its_message() {
    let Some(server) = Server::influxdb() else {
        return;
    };
    create_database(&server, "conflict");
    let (builder, events) = recording(builder(&format!(
        "http://127.0.0.1:{}/write?db=conflict",
        server.http_port
    )));
    let sender = builder.start().unwrap();
    let base = now_ms();
    let at = |i: i64, value: telemit::FieldValue| {
        Reading::builder("conflict")
            .field("v", value)
            .timestamp(Timestamp::new(base + i, Precision::Milliseconds))
            .build()
            .unwrap()
    };
    sender.send(&at(0, 1.5.into())).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while sender.stats().written < 1 {
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(10));
    }
    // Strings where InfluxDB now holds floats, between floats it takes.
    for i in 1..=6 {
        let value = if i % 2 == 0 {
            "text".into()
        } else {
            (i as f64).into()
        };
        sender.send(&at(i, value)).unwrap();
    }
    let stats = sender.shutdown();
    assert_eq!(
        stats.dropped(DropReason::Rejected),
        3,
        "{}",
        stats.summary()
    );
    assert_eq!(
        stats.written,
        4,
        "a partial write stores the rest: {}",
        stats.summary()
    );
    assert_eq!(stats.written + stats.dropped_total(), stats.readings_in);
    assert_eq!(
        influx_count(&server, "conflict", "SELECT count(v) FROM conflict"),
        4
    );
    let rejected = the_one_rejection(&events.lock().unwrap());
    assert!(
        rejected.contains("HTTP 400 Bad Request: partial write: field type conflict"),
        "{rejected}"
    );
}

#[test]
fn https_uses_the_tls_settings_of_tls_endpoints() {
    let dir = tempfile::tempdir().unwrap();
    let authority = Authority::new(dir.path(), "http");
    let (cert_file, key_file) = authority.sign(dir.path(), "server", &["influx.test"], false);
    let config = TlsServerOptions {
        cert_file,
        key_file,
        client_ca_file: None,
    }
    .server_config()
    .unwrap();
    let server = LocalServer::start(Vec::new(), Some(config));
    let url = format!(
        "https://127.0.0.1:{}/api/v2/write?org=o&bucket=b",
        server.port
    );
    let reading = stamped("secure", 7, now_ms());

    let sender = builder(&url)
        .tls(TlsOptions {
            ca_file: Some(authority.cert_file.clone()),
            server_name: Some("influx.test".into()),
            ..TlsOptions::default()
        })
        .start()
        .unwrap();
    sender.send(&reading).unwrap();
    assert_eq!(sender.shutdown().written, 1);
    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].body, line(&reading, Precision::Nanoseconds));

    // Without the CA the server is not trusted, and the event says what to do.
    let (untrusting, events) = recording(builder(&url).flush_timeout(Duration::from_millis(500)));
    let sender = untrusting
        .tls(TlsOptions {
            server_name: Some("influx.test".into()),
            ..TlsOptions::default()
        })
        .start()
        .unwrap();
    sender.send(&reading).unwrap();
    assert_eq!(sender.shutdown().dropped(DropReason::SendError), 1);
    let first = events.lock().unwrap()[0].to_string();
    assert!(first.contains("not signed by a trusted CA"), "{first}");
    assert_eq!(server.requests().len(), 1);
}

#[test]
fn settings_that_cannot_work_are_refused_before_sending() {
    let error = |builder: SenderBuilder| builder.start().err().unwrap().to_string();
    assert_eq!(
        error(builder("http://127.0.0.1:1/write?db=t&precision=s")),
        "http: the address says precision=s but timestamps are written in ns: drop it from the \
         address or set --precision to match"
    );
    assert!(
        error(builder("http://127.0.0.1:1/write?db=a<b"))
            .starts_with("http: http://127.0.0.1:1/write?db=a<b&precision=ns: not a valid URL"),
    );
    assert_eq!(
        error(builder("http://127.0.0.1:1/write").http(HttpOptions {
            token: Some("t".into()),
            username: Some("u".into()),
            ..HttpOptions::default()
        })),
        "http: give a token or a username and password, not both"
    );
    assert_eq!(
        error(
            Sender::builder(
                "tcp://127.0.0.1:1".parse().unwrap(),
                Encoder::new(Format::Influx)
            )
            .http(HttpOptions {
                token: Some("t".into()),
                ..HttpOptions::default()
            })
        ),
        "HTTP settings (token, username, headers) are given but tcp://127.0.0.1:1 is not an \
         http:// or https:// endpoint"
    );
}

/// Under the block policy, a real InfluxDB killed (SIGKILL) and restarted five times while
/// readings stream in ends up holding every reading exactly once, and the sender's counts say
/// so: written = sent, nothing dropped.
#[test]
fn influxdb_killed_and_restarted_five_times_loses_nothing() {
    let Some(mut server) = Server::influxdb() else {
        return;
    };
    create_database(&server, "campaign");
    const COUNT: u64 = 8_000;
    let sender = Arc::new(
        builder(&format!(
            "http://127.0.0.1:{}/write?db=campaign",
            server.http_port
        ))
        .on_full(OnFull::Block)
        .queue_size(500)
        .max_datagram(Some(8 * 1024))
        .start()
        .unwrap(),
    );
    let base = now_ms() - 3_600_000;
    let producer = {
        let sender = sender.clone();
        std::thread::spawn(move || {
            for seq in 0..COUNT {
                sender.send(&stamped("campaign", seq, base)).unwrap();
                // About 1 000 readings a second, never catching up after a stall: the stream
                // goes on for as long as the outages last, so each of them falls mid-stream.
                std::thread::sleep(Duration::from_millis(1));
            }
        })
    };
    let mut written_at_kill = Vec::new();
    for _ in 0..5 {
        std::thread::sleep(Duration::from_millis(500));
        written_at_kill.push(sender.stats().written);
        server.kill();
        std::thread::sleep(Duration::from_millis(300));
        server.restart();
    }
    producer.join().unwrap();
    let stats = sender.shutdown();
    assert_eq!(stats.readings_in, COUNT);
    assert_eq!(
        (stats.written, stats.dropped_total()),
        (COUNT, 0),
        "{}",
        stats.summary()
    );
    assert!(
        written_at_kill.windows(2).all(|w| w[0] < w[1]) && written_at_kill[4] < COUNT,
        "each kill fell mid-stream: {written_at_kill:?}"
    );
    assert_eq!(
        influx_count(&server, "campaign", "SELECT count(seq) FROM campaign"),
        COUNT as i64
    );
    // Each number once: their sum is that of 0..COUNT.
    let answer = server.influx_query("campaign", "SELECT sum(seq) FROM campaign");
    assert_eq!(
        answer["results"][0]["series"][0]["values"][0][1].as_i64(),
        Some((COUNT * (COUNT - 1) / 2) as i64)
    );
}

/// A batch larger than one body goes out in several requests; when the server stops taking
/// them and the flush timeout passes, only the readings of the bodies it did not take are
/// counted as dropped: written + dropped = sent, exactly.
#[test]
fn giving_up_mid_batch_counts_only_what_was_not_taken() {
    let mut script: Vec<Answer> = vec![(204, Vec::new(), String::new()); 2];
    script.extend((0..10_000).map(|_| (500, Vec::new(), String::new())));
    let server = LocalServer::start(script, None);
    let sender = builder(&format!("http://127.0.0.1:{}/write?db=t", server.port))
        .max_datagram(Some(256))
        .flush_timeout(Duration::from_millis(700))
        .start()
        .unwrap();
    let base = now_ms();
    for seq in 0..100 {
        sender.send(&stamped("partial", seq, base)).unwrap();
    }
    let stats = sender.shutdown();
    let taken: usize = server.requests()[..2]
        .iter()
        .map(|r| r.body.lines().count())
        .sum();
    assert!(server.requests().len() > 2);
    assert_eq!(stats.written, taken as u64, "{}", stats.summary());
    assert_eq!(stats.dropped(DropReason::SendError), 100 - taken as u64);
    assert_eq!(stats.written + stats.dropped_total(), stats.readings_in);
}

/// With `--spool`, readings wait on disk while the server is away and arrive in order, once
/// each, when it is back.
#[test]
fn the_spool_keeps_readings_while_the_server_is_away() {
    let dir = tempfile::tempdir().unwrap();
    let port = support::free_port();
    let sender = builder(&format!("http://127.0.0.1:{port}/write?db=t"))
        .queue_size(100)
        .spool(dir.path(), 64 * 1024 * 1024)
        .start()
        .unwrap();
    let base = now_ms();
    const COUNT: u64 = 3_000;
    for seq in 0..COUNT {
        sender.send(&stamped("spooled", seq, base)).unwrap();
    }
    assert!(sender.stats().spooled > 0, "{}", sender.stats().summary());
    let server = LocalServer::start_on(port, Vec::new(), None);
    let stats = sender.shutdown();
    assert_eq!(
        (stats.written, stats.dropped_total()),
        (COUNT, 0),
        "{}",
        stats.summary()
    );
    let delivered: String = server.requests().iter().map(|r| r.body.as_str()).collect();
    let sent: String = (0..COUNT)
        .map(|s| line(&stamped("spooled", s, base), Precision::Nanoseconds))
        .collect();
    assert_eq!(delivered, sent, "every reading once, in order");
}

/// The text of the one `Rejected` event among `events`: a rejection is reported once.
fn the_one_rejection(events: &[Event]) -> String {
    let rejected: Vec<String> = events
        .iter()
        .filter(|e| matches!(e, Event::Rejected { .. }))
        .map(Event::to_string)
        .collect();
    assert_eq!(rejected.len(), 1, "{events:?}");
    rejected.into_iter().next().unwrap()
}

/// `telemit bench` numbers its readings with an integer `seq`, which InfluxDB 1.x takes (it
/// refuses unsigned fields), so the benchmark can load a real InfluxDB over HTTP.
#[test]
fn bench_loads_influxdb_1x_over_http() {
    let Some(server) = Server::influxdb() else {
        return;
    };
    create_database(&server, "bench");
    let url = format!("http://127.0.0.1:{}/write?db=bench", server.http_port);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_telemit"))
        .args(["bench", "--to", &url, "--count", "500", "--rate", "5000"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let n = influx_count(&server, "bench", "SELECT count(seq) FROM bench");
        if n == 500 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{n} of 500 readings: {stderr}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `Retry-After: 0` (or a date already past) answered to every request does not make the
/// sender retry at once in a loop: it waits out its backoff between the attempts.
#[test]
fn a_retry_after_of_now_still_waits_the_backoff() {
    let past = httpdate::fmt_http_date(SystemTime::UNIX_EPOCH);
    let server = LocalServer::start(
        vec![
            (429, vec![("Retry-After", "0".into())], String::new()),
            (503, vec![("Retry-After", past.clone())], String::new()),
            (429, vec![("Retry-After", "0".into())], String::new()),
            (503, vec![("Retry-After", past)], String::new()),
        ],
        None,
    );
    let sender = builder(&format!("http://127.0.0.1:{}/write?db=t", server.port))
        .start()
        .unwrap();
    let base = now_ms();
    sender.send(&stamped("now", 0, base)).unwrap();
    let stats = sender.shutdown();
    assert_eq!(stats.written, 1, "{}", stats.summary());
    let requests = server.requests();
    assert_eq!(requests.len(), 5, "four refusals, then the write");
    for pair in requests.windows(2) {
        let wait = pair[1].at - pair[0].at;
        // The backoff starts at 50 ms, with jitter.
        assert!(wait >= Duration::from_millis(20), "{wait:?}");
    }
}
