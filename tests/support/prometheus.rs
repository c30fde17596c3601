//! Prometheus and its Pushgateway, started on loopback ports in temporary directories.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{encode_query, free_port, http, server_binary};

/// A Prometheus or Pushgateway process, killed when dropped.
pub struct PromServer {
    child: Child,
    /// The HTTP port (API, `/metrics`).
    pub port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for PromServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(binary: &str, args: &[String], dir: &Path) -> Child {
    Command::new(binary)
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {binary}: {e}"))
}

fn wait_ready(what: &str, port: u16) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
            && http(port, "GET", "/-/ready", b"").0 == 200
        {
            return;
        }
        assert!(Instant::now() < deadline, "{what} not ready in 30 s");
        std::thread::sleep(Duration::from_millis(100));
    }
}

impl PromServer {
    /// Prometheus scraping `target` (`host:port`, path `/metrics`) every second as job
    /// `telemit`.
    pub fn prometheus(target: &str) -> Option<PromServer> {
        let binary = server_binary("prometheus")?;
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let config = format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n\
             scrape_configs:\n  - job_name: telemit\n    static_configs:\n      - targets: [\"{target}\"]\n"
        );
        let config_path = dir.path().join("prometheus.yml");
        std::fs::write(&config_path, config).unwrap();
        let args = [
            format!("--config.file={}", config_path.display()),
            format!("--storage.tsdb.path={}", dir.path().join("data").display()),
            format!("--web.listen-address=127.0.0.1:{port}"),
            "--log.level=error".to_owned(),
        ];
        let child = start(&binary, &args, dir.path());
        let server = PromServer {
            child,
            port,
            _dir: dir,
        };
        wait_ready("prometheus", port);
        Some(server)
    }

    /// A Pushgateway without persistence.
    pub fn pushgateway() -> Option<PromServer> {
        let binary = server_binary("prometheus-pushgateway")?;
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let args = [
            format!("--web.listen-address=127.0.0.1:{port}"),
            "--log.level=error".to_owned(),
        ];
        let child = start(&binary, &args, dir.path());
        let server = PromServer {
            child,
            port,
            _dir: dir,
        };
        wait_ready("prometheus-pushgateway", port);
        Some(server)
    }

    /// A PromQL instant query's `data.result`.
    pub fn query(&self, promql: &str) -> Vec<serde_json::Value> {
        let target = format!("/api/v1/query?query={}", encode_query(promql));
        let (status, body) = http(self.port, "GET", &target, b"");
        assert_eq!(status, 200, "{promql}: {body}");
        let answer: serde_json::Value = serde_json::from_str(&body).unwrap();
        answer["data"]["result"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// Waits up to 30 s for `promql` to return exactly one sample, and returns its value.
    pub fn wait_for_value(&self, promql: &str, expected: f64) -> f64 {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let result = self.query(promql);
            let value = result
                .first()
                .and_then(|r| r["value"][1].as_str())
                .and_then(|v| v.parse::<f64>().ok());
            if value == Some(expected) || Instant::now() > deadline {
                return value.unwrap_or(f64::NAN);
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// `GET path` on the server; the body (status 200 required).
    pub fn get(&self, path: &str) -> String {
        let (status, body) = http(self.port, "GET", path, b"");
        assert_eq!(status, 200, "{path}: {body}");
        body
    }
}

/// `promtool check metrics` on `text`: its exit status and what it printed.
pub fn promtool_check(text: &str) -> Option<(bool, String)> {
    use std::io::Write;
    let binary = server_binary("promtool")?;
    let mut child = Command::new(binary)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let said =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    Some((out.status.success(), said))
}
