//! The two examples as documented: run them, scrape them with a real Prometheus, push from
//! one to a real Pushgateway, and flush from one to `telemit listen`.

mod support;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use support::prometheus::PromServer;

/// Builds the example (cargo does not build examples for a filtered test run) and returns its
/// path.
fn example(name: &str) -> PathBuf {
    let mut dir = std::env::current_exe().unwrap();
    dir.pop();
    if dir.ends_with("deps") {
        dir.pop();
    }
    let mut build = Command::new(env!("CARGO"));
    build
        .args(["build", "--quiet", "--example", name])
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    if dir.ends_with("release") {
        build.arg("--release");
    }
    assert!(
        build.status().unwrap().success(),
        "cargo build --example {name}"
    );
    dir.join("examples").join(name)
}

fn terminate(child: &mut Child) -> i32 {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code().unwrap_or(-1);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("did not stop on SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn prometheus_sdk_is_scraped_pushed_and_flushed() {
    let binary = example("prometheus_sdk");
    let Some(gateway) = PromServer::pushgateway() else {
        return;
    };
    let (metrics_port, line_port) = (support::free_port(), support::free_port());
    // Prometheus first: it scrapes the example's address until the example serves it.
    let Some(prometheus) = PromServer::prometheus(&format!("127.0.0.1:{metrics_port}")) else {
        return;
    };
    let mut listen = Command::new(env!("CARGO_BIN_EXE_telemit"))
        .args(["listen", "--on", &format!("tcp://127.0.0.1:{line_port}")])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let mut sdk = Command::new(&binary)
        .args([
            "--to",
            &format!("tcp://127.0.0.1:{line_port}"),
            "--listen",
            &format!("127.0.0.1:{metrics_port}"),
            "--push",
            &format!("http://127.0.0.1:{}", gateway.port),
            "--job",
            "sdk",
            "--grouping",
            "instance=web-1",
            "--header",
            "X-Tenant: t1",
            "--rounds",
            "3",
            "--interval",
            "100ms",
            "--inner-ip",
            "10.0.0.7",
        ])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let labels = "{job=\"telemit\",inner_ip=\"10.0.0.7\"}";
    for (query, expected) in [
        (format!("api_called_total{labels}"), 3.0),
        (
            "task_time_histogram_bucket{le=\"3\",inner_ip=\"10.0.0.7\"}".to_owned(),
            3.0,
        ),
        (
            "task_time_histogram_bucket{le=\"2\",inner_ip=\"10.0.0.7\"}".to_owned(),
            0.0,
        ),
        (format!("task_time_summary_count{labels}"), 3.0),
    ] {
        assert_eq!(
            prometheus.wait_for_value(&query, expected),
            expected,
            "{query}"
        );
    }
    let cpu = prometheus.wait_for_value(&format!("cpu_usage{labels}"), -1.0);
    assert!((1.0..=100.0).contains(&cpu), "cpu_usage {cpu}");

    // The push after the rounds.
    let pushed = gateway.get("/metrics");
    let group = "inner_ip=\"10.0.0.7\",instance=\"web-1\",job=\"sdk\"";
    assert!(
        pushed
            .lines()
            .any(|l| l == format!("api_called_total{{{group}}} 3")),
        "{pushed}"
    );

    assert_eq!(terminate(&mut sdk), 0);
    // The Telegraf side: what telemit listen received.
    assert_eq!(terminate(&mut listen), 0);
    let mut out = String::new();
    std::io::Read::read_to_string(&mut listen.stdout.take().unwrap(), &mut out).unwrap();
    assert!(
        out.lines()
            .any(|l| l.starts_with("prometheus,inner_ip=10.0.0.7 api_called_total=3.0 ")),
        "{out}"
    );
}

#[test]
fn ws_connections_counts_open_connections() {
    let binary = example("ws_connections");
    let (ws_port, metrics_port) = (support::free_port(), support::free_port());
    let mut server = Command::new(&binary)
        .args([
            "--ws",
            &format!("127.0.0.1:{ws_port}"),
            "--metrics-listen",
            &format!("127.0.0.1:{metrics_port}"),
        ])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let scrape = |expected: &[&str]| {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let text = if std::net::TcpStream::connect(("127.0.0.1", metrics_port)).is_ok() {
                support::http(metrics_port, "GET", "/metrics", b"").1
            } else {
                String::new()
            };
            if expected.iter().all(|e| text.lines().any(|l| l == *e)) {
                return;
            }
            assert!(Instant::now() < deadline, "{expected:?} not in\n{text}");
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    scrape(&[
        "websocket_connections_open 0",
        "websocket_connections_total 0",
    ]);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let url = format!("ws://127.0.0.1:{ws_port}/");
    let (mut a, b) = runtime.block_on(async {
        let (a, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
        let (b, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
        (a, b)
    });
    scrape(&[
        "websocket_connections_open 2",
        "websocket_connections_total 2",
    ]);
    // One closes properly, the other just goes away.
    runtime.block_on(async { a.close(None).await.unwrap() });
    drop(b);
    scrape(&[
        "websocket_connections_open 0",
        "websocket_connections_total 2",
    ]);
    assert_eq!(terminate(&mut server), 0);
}
