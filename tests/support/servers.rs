//! Real servers (InfluxDB 1.x, VictoriaMetrics) started on loopback in temporary
//! directories, and the check that InfluxDB holds exactly what was sent.

use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::net::{encode_query, free_port, http};

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
    /// How to start it again: the binary, its arguments, and the path that answers when ready.
    command: (String, Vec<String>, &'static str),
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// Kills the server at once (SIGKILL, no shutdown), as a crash would.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts the server again on the same ports and data, and waits until it answers.
    pub fn restart(&mut self) {
        let (binary, args, ready) = &self.command;
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        self.child = spawn(binary, &args, self._dir.path());
        let port = self.http_port;
        wait_for(binary, || ping(port, ready));
    }

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
        let args = vec![
            "-config".to_owned(),
            config_path.to_string_lossy().into_owned(),
        ];
        let child = spawn(&binary, &["-config", &args[1]], dir.path());
        let server = Server {
            child,
            http_port,
            line_port: udp_port,
            _dir: dir,
            command: (binary, args, "/ping"),
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
        let arg_refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let child = spawn(&binary, &arg_refs, dir.path());
        let server = Server {
            child,
            http_port,
            line_port,
            _dir: dir,
            command: (binary, args.to_vec(), "/health"),
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
