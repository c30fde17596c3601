//! Helpers the integration tests share: free ports, a tiny HTTP client, and real servers
//! (InfluxDB 1.x, VictoriaMetrics) started on loopback in temporary directories.
#![allow(dead_code)]

pub mod prometheus;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A free TCP port on 127.0.0.1 that is also free for UDP.
pub fn free_port() -> u16 {
    loop {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        if UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// `None` (and a note) when `binary` is missing, unless the test script requires servers, in
/// which case the test fails: under `scripts/test.sh` a missing server is a failure, not a skip.
pub fn server_binary(binary: &str) -> Option<String> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(binary))
            .find(|path| path.is_file())
    });
    match found {
        Some(path) => Some(path.to_string_lossy().into_owned()),
        None if std::env::var_os("TELEMIT_REQUIRE_SERVERS").is_some() => {
            panic!("{binary} is not installed; scripts/test.sh installs it (apt-get install)")
        }
        None => {
            eprintln!("skipping: {binary} is not installed (scripts/test.sh installs it)");
            None
        }
    }
}

/// One HTTP/1.0 request; the status and the body.
pub fn http(port: u16, method: &str, target: &str, body: &[u8]) -> (u16, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect to the server");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let head = format!(
        "{method} {target} HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// Percent-encodes a query-string value.
pub fn encode_query(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn wait_for(what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !ready() {
        assert!(
            Instant::now() < deadline,
            "{what} did not become ready in 30 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn ping(port: u16, path: &str) -> bool {
    TcpStream::connect(("127.0.0.1", port)).is_ok() && {
        let (status, _) = http(port, "GET", path, b"");
        (200..300).contains(&status)
    }
}

/// A server process, killed when dropped.
pub struct Server {
    child: Child,
    pub http_port: u16,
    /// InfluxDB's UDP listener, or VictoriaMetrics' Influx TCP/UDP port.
    pub line_port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// InfluxDB 1.x with its HTTP API and a UDP listener writing to database `udp`.
    pub fn influxdb() -> Option<Server> {
        let binary = server_binary("influxd")?;
        let dir = tempfile::tempdir().unwrap();
        let (http_port, udp_port, rpc_port) = (free_port(), free_port(), free_port());
        let d = dir.path().display();
        let config = format!(
            "reporting-disabled = true\nbind-address = \"127.0.0.1:{rpc_port}\"\n\
             [meta]\n  dir = \"{d}/meta\"\n\
             [data]\n  dir = \"{d}/data\"\n  wal-dir = \"{d}/wal\"\n  query-log-enabled = false\n\
             [http]\n  bind-address = \"127.0.0.1:{http_port}\"\n  log-enabled = false\n\
             [[udp]]\n  enabled = true\n  bind-address = \"127.0.0.1:{udp_port}\"\n  database = \"udp\"\n  batch-timeout = \"50ms\"\n  read-buffer = 8388608\n\
             [monitor]\n  store-enabled = false\n[continuous_queries]\n  enabled = false\n"
        );
        let config_path = dir.path().join("influxdb.conf");
        std::fs::write(&config_path, config).unwrap();
        let child = spawn(
            &binary,
            &["-config", &config_path.to_string_lossy()],
            dir.path(),
        );
        let server = Server {
            child,
            http_port,
            line_port: udp_port,
            _dir: dir,
        };
        wait_for("influxd", || ping(http_port, "/ping"));
        Some(server)
    }

    /// VictoriaMetrics with its Influx line-protocol listener on TCP and UDP.
    pub fn victoria_metrics() -> Option<Server> {
        let binary = server_binary("victoria-metrics")?;
        let dir = tempfile::tempdir().unwrap();
        let (http_port, line_port) = (free_port(), free_port());
        let args = [
            format!("-storageDataPath={}", dir.path().join("data").display()),
            format!("-httpListenAddr=127.0.0.1:{http_port}"),
            format!("-influxListenAddr=127.0.0.1:{line_port}"),
            "-loggerLevel=ERROR".to_owned(),
            "-search.latencyOffset=0s".to_owned(),
        ];
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let child = spawn(&binary, &args, dir.path());
        let server = Server {
            child,
            http_port,
            line_port,
            _dir: dir,
        };
        wait_for("victoria-metrics", || ping(http_port, "/health"));
        Some(server)
    }

    /// Runs an InfluxQL query; the JSON answer.
    pub fn influx_query(&self, db: &str, query: &str) -> serde_json::Value {
        let target = format!("/query?db={db}&epoch=ns&q={}", encode_query(query));
        let (status, body) = http(self.http_port, "GET", &target, b"");
        assert_eq!(status, 200, "{query}: {body}");
        serde_json::from_str(&body).unwrap()
    }
}

fn spawn(binary: &str, args: &[&str], dir: &Path) -> Child {
    Command::new(binary)
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {binary}: {e}"))
}

/// Readings heavy on everything that needs escaping, each with its own measurement so that a
/// server never sees a field change type. Only integers, floats, strings and booleans:
/// InfluxDB 1.x OSS does not accept unsigned integers.
pub fn escape_heavy_readings(count: usize) -> Vec<telemit::Reading> {
    use telemit::{Encoder, Format, Precision, Reading, Timestamp};
    const PIECES: &[&str] = &[
        "a", "Z", "0", " ", ",", "=", "\"", "\\x", "ü", "日本", "🔥", "-", "_", ".", "/", "#", "'",
        "{", "}",
    ];
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = move |n: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % n as u64) as usize
    };
    let text = |next: &mut dyn FnMut(usize) -> usize| {
        let len = 1 + next(6);
        (0..len)
            .map(|_| PIECES[next(PIECES.len())])
            .collect::<String>()
    };
    let fixed = vec![
        Reading::builder("we ird,m=x")
            .tag("t k=,", "C:\\dir\\x")
            .tag("p", "a\\ b")
            .field("f k", 1.5)
            .field("s", "q\"\\x")
            .field("i", -3i64)
            .field("b", true)
            .build()
            .unwrap(),
        Reading::builder("quotes\"in=measurement")
            .tag("q", "a\\\"b")
            .field("big", i64::MAX)
            .field("tiny", 5e-324)
            .field("huge", 1.7976931348623157e308)
            .build()
            .unwrap(),
    ];
    let mut readings = fixed;
    let encoder = Encoder::new(Format::Influx);
    let mut i = 0;
    while readings.len() < count {
        i += 1;
        let builder = Reading::builder(format!("m{i}{}", text(&mut next)))
            .tag(format!("k{}", text(&mut next)), text(&mut next))
            .tag(format!("j{}", text(&mut next)), text(&mut next))
            .field(format!("f{}", text(&mut next)), next(1000) as f64 / 7.0)
            .field(
                format!("i{}", text(&mut next)),
                next(1 << 20) as i64 - (1 << 19),
            )
            .field(format!("s{}", text(&mut next)), text(&mut next))
            .field(format!("b{}", text(&mut next)), next(2) == 1)
            .timestamp(Timestamp::new(
                1_700_000_000_000_000_000 + i as i64 * 1_000_003,
                Precision::Nanoseconds,
            ));
        let Ok(reading) = builder.build() else {
            continue;
        };
        // Readings the influx format refuses (e.g. a backslash before an escaped character in a
        // measurement) are covered by the refusal tests; here only sendable ones count.
        if encoder.encode(&reading, &mut Vec::new()).is_ok() {
            readings.push(reading);
        }
    }
    readings
}

/// Compares InfluxDB's `SELECT * FROM /.*/` answer with `readings`, reading by reading.
pub fn assert_influx_holds(answer: &serde_json::Value, readings: &[telemit::Reading]) {
    use telemit::FieldValue;
    let series = answer["results"][0]["series"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(series.len(), readings.len(), "one series per measurement");
    for reading in readings {
        let found = series
            .iter()
            .find(|s| s["name"] == reading.measurement())
            .unwrap_or_else(|| panic!("measurement {:?} is missing", reading.measurement()));
        let columns: Vec<&str> = found["columns"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap())
            .collect();
        let values = found["values"].as_array().unwrap();
        assert_eq!(values.len(), 1, "{}", reading.measurement());
        let row = values[0].as_array().unwrap();
        let column = |name: &str| {
            let index = columns.iter().position(|c| *c == name).unwrap_or_else(|| {
                panic!(
                    "{:?}: column {name:?} missing in {columns:?}",
                    reading.measurement()
                )
            });
            &row[index]
        };
        for (key, value) in reading.tags() {
            assert_eq!(column(key), value, "{}: tag {key:?}", reading.measurement());
        }
        for (key, value) in reading.fields() {
            let got = column(key);
            let same = match value {
                FieldValue::Float(v) => got.as_f64() == Some(*v),
                FieldValue::Integer(v) => got.as_i64() == Some(*v),
                FieldValue::String(v) => got.as_str() == Some(v.as_str()),
                FieldValue::Boolean(v) => got.as_bool() == Some(*v),
                FieldValue::Unsigned(v) => got.as_u64() == Some(*v),
            };
            assert!(
                same,
                "{}: field {key:?}: sent {value:?}, stored {got}",
                reading.measurement()
            );
        }
        if let Some(t) = reading.timestamp() {
            assert_eq!(
                column("time").as_i64(),
                t.to_precision(telemit::Precision::Nanoseconds)
            );
        }
        // A regular-expression query lists every column of every measurement: nothing but the
        // reading's own may hold a value.
        let filled = row.iter().filter(|v| !v.is_null()).count();
        assert_eq!(
            filled,
            1 + reading.tags().len() + reading.fields().len(),
            "{}",
            reading.measurement()
        );
    }
}

/// What a test receiver has seen.
#[derive(Default)]
pub struct Seen {
    pub readings: u64,
    pub rejected: Vec<String>,
    pub sequence: telemit::listen::SequenceTracker,
    pub kept: Vec<telemit::Reading>,
}

/// A `telemit::listen` receiver that counts what arrives (and keeps it when `keep`).
pub struct Receiver {
    pub endpoint: telemit::Endpoint,
    pub seen: std::sync::Arc<std::sync::Mutex<Seen>>,
    handle: Option<telemit::listen::ListenerHandle>,
    options: telemit::listen::ListenOptions,
    keep: bool,
}

impl Receiver {
    pub fn start(endpoint: &telemit::Endpoint, format: telemit::Format, keep: bool) -> Receiver {
        let options = telemit::listen::ListenOptions {
            format,
            ..Default::default()
        };
        Receiver::start_with(endpoint, options, keep)
    }

    pub fn start_with(
        endpoint: &telemit::Endpoint,
        options: telemit::listen::ListenOptions,
        keep: bool,
    ) -> Receiver {
        let mut receiver = Receiver {
            endpoint: endpoint.clone(),
            seen: Default::default(),
            handle: None,
            options,
            keep,
        };
        receiver.restart();
        receiver
    }

    /// Binds again at the same address (after [`Receiver::kill`]), keeping the counts.
    pub fn restart(&mut self) {
        let listener =
            telemit::listen::Listener::bind(&self.endpoint, self.options.clone()).unwrap();
        self.endpoint = listener.endpoint().unwrap();
        let (seen, keep) = (self.seen.clone(), self.keep);
        let sink: telemit::listen::Sink = std::sync::Arc::new(move |received| {
            let mut seen = seen.lock().unwrap();
            match received {
                telemit::listen::Received::Readings(readings) => {
                    seen.readings += readings.len() as u64;
                    for reading in readings {
                        if let Some(seq) =
                            telemit::listen::SequenceTracker::sequence_of(&reading, "seq")
                        {
                            seen.sequence.observe(seq);
                        }
                        if keep {
                            seen.kept.push(reading);
                        }
                    }
                }
                telemit::listen::Received::Rejected { text, error } => {
                    seen.rejected.push(format!("{error}: {text}"))
                }
            }
        });
        self.handle = Some(listener.spawn(sink).unwrap());
    }

    /// Closes the socket abruptly, like a killed Telegraf.
    pub fn kill(&mut self) {
        if let Some(handle) = self.handle.take() {
            handle.stop();
        }
    }

    /// Waits until `unique` distinct sequence numbers arrived or nothing new came for `quiet`.
    pub fn wait_for(&self, unique: u64, quiet: Duration) -> u64 {
        let mut last = (Instant::now(), u64::MAX);
        loop {
            let now = self.seen.lock().unwrap().sequence.unique();
            if now >= unique {
                return now;
            }
            if now != last.1 {
                last = (Instant::now(), now);
            } else if last.0.elapsed() > quiet {
                return now;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// Datagrams the kernel dropped on the UDP socket bound to `port` (from /proc/net/udp).
pub fn udp_drops(port: u16) -> u64 {
    let wanted = format!(":{port:04X}");
    std::fs::read_to_string("/proc/net/udp")
        .unwrap_or_default()
        .lines()
        .skip(1)
        .filter(|line| {
            line.split_whitespace()
                .nth(1)
                .is_some_and(|local| local.ends_with(&wanted))
        })
        .filter_map(|line| line.split_whitespace().last()?.parse::<u64>().ok())
        .sum()
}

/// A reading numbered `seq`, shaped like real traffic.
pub fn numbered(seq: u64) -> telemit::Reading {
    telemit::Reading::builder("load")
        .tag("host", "web-01")
        .tag("region", "eu west")
        .field("value", (seq % 1000) as f64 / 8.0)
        .field("seq", seq)
        .build()
        .unwrap()
}

/// Waits for the child; its exit status and the peak resident memory seen, in bytes.
///
/// The peak is the kernel's high-water mark (`VmHWM`), which only grows, read until the
/// process is gone. `wait4`'s `ru_maxrss` would be wrong here: it counts the test process's
/// own memory, shared with the child between fork and exec.
pub fn wait_with_peak_rss(mut child: std::process::Child) -> (i32, u64) {
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak_kib = 0;
    loop {
        if let Some(kib) = std::fs::read_to_string(&status_file)
            .ok()
            .and_then(|status| {
                let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
                line.split_whitespace().nth(1)?.parse::<u64>().ok()
            })
        {
            peak_kib = peak_kib.max(kib);
        }
        if let Some(status) = child.try_wait().unwrap() {
            return (status.code().unwrap_or(-1), peak_kib * 1024);
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// `telemit pipe --quiet --to endpoint`, its stdin and stderr piped, stdout discarded.
pub fn spawn_pipe(endpoint: &telemit::Endpoint) -> Child {
    Command::new(env!("CARGO_BIN_EXE_telemit"))
        .args(["pipe", "--quiet", "--to", &endpoint.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// A CA that signs leaf certificates into files in `dir`.
pub struct Authority {
    issuer: rcgen::CertifiedIssuer<'static, rcgen::KeyPair>,
    pub cert_file: std::path::PathBuf,
}

impl Authority {
    pub fn new(dir: &std::path::Path, name: &str) -> Authority {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, format!("{name} test CA"));
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let issuer =
            rcgen::CertifiedIssuer::self_signed(params, rcgen::KeyPair::generate().unwrap())
                .unwrap();
        let cert_file = dir.join(format!("{name}-ca.pem"));
        std::fs::write(&cert_file, issuer.pem()).unwrap();
        Authority { issuer, cert_file }
    }

    /// A certificate for `names`, valid now unless `expired`; its certificate and key files.
    pub fn sign(
        &self,
        dir: &std::path::Path,
        file: &str,
        names: &[&str],
        expired: bool,
    ) -> (std::path::PathBuf, std::path::PathBuf) {
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let mut params = rcgen::CertificateParams::new(names).unwrap();
        if expired {
            params.not_before = rcgen::date_time_ymd(2020, 1, 1);
            params.not_after = rcgen::date_time_ymd(2021, 1, 1);
        }
        let key = rcgen::KeyPair::generate().unwrap();
        let certificate = params.signed_by(&key, &self.issuer).unwrap();
        let (cert_file, key_file) = (
            dir.join(format!("{file}.pem")),
            dir.join(format!("{file}-key.pem")),
        );
        std::fs::write(&cert_file, certificate.pem()).unwrap();
        std::fs::write(&key_file, key.serialize_pem()).unwrap();
        (cert_file, key_file)
    }
}
