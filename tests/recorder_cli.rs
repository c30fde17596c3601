//! `--metrics-listen` on the long-running commands: `/metrics` serves telemit's own counters,
//! and for `telemit ws` the latest value of every mapped field as a gauge.

mod support;

use std::io::Write;
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures_util::SinkExt;

fn telemit(args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_telemit"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// Scrapes `/metrics` until every line of `expected` is in it (30 s at most); the last text.
fn scrape_until(port: u16, expected: &[&str]) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let text = if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            support::http(port, "GET", "/metrics", b"").1
        } else {
            String::new()
        };
        if expected.iter().all(|e| text.lines().any(|l| l == *e)) || Instant::now() > deadline {
            return text;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn stop(mut child: Child) {
    terminate(&child);
    let deadline = Instant::now() + Duration::from_secs(10);
    while child.try_wait().unwrap().is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}

fn terminate(child: &Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
}

#[test]
fn pipe_serves_its_sender_counters() {
    let port = support::free_port();
    let addr = format!("127.0.0.1:{port}");
    let mut pipe = telemit(&["pipe", "--to", "-", "--metrics-listen", &addr]);
    let mut stdin = pipe.stdin.take().unwrap();
    stdin.write_all(b"a v=1\na v=2\na v=3\n").unwrap();
    stdin.flush().unwrap();
    let expected = [
        "telemit_readings_in_total 3",
        "telemit_written_total 3",
        "telemit_dropped_total 0",
        "telemit_queue_depth 0",
    ];
    let text = scrape_until(port, &expected);
    for line in expected {
        assert!(text.lines().any(|l| l == line), "{line} not in\n{text}");
    }
    drop(stdin);
    assert!(pipe.wait().unwrap().success());
}

#[test]
fn listen_serves_what_it_received() {
    let (port, line_port) = (support::free_port(), support::free_port());
    let on = format!("tcp://127.0.0.1:{line_port}");
    let listen = telemit(&[
        "listen",
        "--on",
        &on,
        "--quiet",
        "--metrics-listen",
        &format!("127.0.0.1:{port}"),
    ]);
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut stream = loop {
        if let Ok(s) = std::net::TcpStream::connect(("127.0.0.1", line_port)) {
            break s;
        }
        assert!(Instant::now() < deadline, "listen did not start");
        std::thread::sleep(Duration::from_millis(50));
    };
    stream
        .write_all(b"m seq=0u\nm seq=1u\nm seq=3u\nnot line protocol\n")
        .unwrap();
    let expected = [
        "telemit_listen_readings_total 3",
        "telemit_listen_rejected_total 1",
        "telemit_listen_lost_total 1",
    ];
    let text = scrape_until(port, &expected);
    stop(listen);
    for line in expected {
        assert!(text.lines().any(|l| l == line), "{line} not in\n{text}");
    }
}

#[test]
fn ws_serves_the_latest_mapped_fields_as_gauges() {
    // A WebSocket server that sends two trades to whoever connects, then stays open.
    let server = TcpListener::bind("127.0.0.1:0").unwrap();
    server.set_nonblocking(true).unwrap();
    let ws_url = format!("ws://{}/ws", server.local_addr().unwrap());
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.spawn(async move {
        let server = tokio::net::TcpListener::from_std(server).unwrap();
        loop {
            let (stream, _) = server.accept().await.unwrap();
            tokio::spawn(async move {
                let mut ws = tokio_tungstenite::accept_async(stream).await.unwrap();
                for (price, maker) in [("611.5", "false"), ("612.25", "true")] {
                    let trade = format!(
                        r#"{{"e":"trade","E":1763769600008,"s":"BNBUSDT","t":4200000001,"p":"{price}","q":"2","T":1763769600005,"m":{maker},"M":true}}"#
                    );
                    ws.send(tokio_tungstenite::tungstenite::Message::text(trade))
                        .await
                        .unwrap();
                }
                tokio::time::sleep(Duration::from_secs(60)).await;
            });
        }
    });
    let port = support::free_port();
    let map = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/binance-trade.toml");
    let ws = telemit(&[
        "ws",
        &ws_url,
        "--map",
        map,
        "--to",
        "-",
        "--metrics-listen",
        &format!("127.0.0.1:{port}"),
    ]);
    let expected = [
        "binance_trade_price{symbol=\"BNBUSDT\",side=\"buy\"} 611.5",
        "binance_trade_price{symbol=\"BNBUSDT\",side=\"sell\"} 612.25",
        "binance_trade_notional{symbol=\"BNBUSDT\",side=\"sell\"} 1224.5",
        "telemit_ws_readings_total 2",
        "telemit_ws_connected 1",
    ];
    let text = scrape_until(port, &expected);
    stop(ws);
    for line in expected {
        assert!(text.lines().any(|l| l == line), "{line} not in\n{text}");
    }
}
