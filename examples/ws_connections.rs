//! A WebSocket echo server that counts its connections: the gauge
//! `websocket_connections_open` goes up on accept and down when a connection ends, however it
//! ends (a close frame, a reset, a protocol error), and the counter
//! `websocket_connections_total` counts every accepted connection.
//!
//! ```text
//! cargo run --example ws_connections -- --ws 127.0.0.1:9001 --metrics-listen 127.0.0.1:9100 \
//!     --to tcp://127.0.0.1:8094
//! # another terminal: connect with any WebSocket client, then look
//! websocat ws://127.0.0.1:9001
//! curl -s 127.0.0.1:9100/metrics | grep websocket_connections
//! ```
//!
//! It runs until SIGINT or SIGTERM, then flushes once more and exits 0.

use std::net::SocketAddr;

use clap::Parser;
use futures_util::{SinkExt, StreamExt};
use telemit::recorder::RecorderBuilder;
use telemit::{Encoder, Endpoint, Format, Sender};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::Message;

#[derive(Parser)]
#[command(about = "A WebSocket echo server with connection metrics")]
struct Args {
    /// The WebSocket address to accept connections on.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:9001")]
    ws: SocketAddr,
    /// Serve /metrics on this address.
    #[arg(long, value_name = "ADDR")]
    metrics_listen: Option<SocketAddr>,
    /// Telegraf side: a telemit endpoint (tcp://…, udp://…, unix:///…).
    #[arg(long, value_name = "ENDPOINT")]
    to: Option<Endpoint>,
}

/// Holds one place in the open-connections gauge; giving it back on drop covers every way a
/// connection task can end.
struct Open(metrics::Gauge);

impl Open {
    fn new() -> Self {
        let gauge = metrics::gauge!("websocket_connections_open");
        gauge.increment(1.0);
        metrics::counter!("websocket_connections_total").increment(1);
        Open(gauge)
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        self.0.decrement(1.0);
    }
}

async fn echo(stream: TcpStream) {
    let Ok(mut socket) = tokio_tungstenite::accept_async(stream).await else {
        return;
    };
    let _open = Open::new();
    while let Some(Ok(message)) = socket.next().await {
        let reply = match message {
            Message::Text(_) | Message::Binary(_) => message,
            Message::Close(_) => break,
            _ => continue,
        };
        if socket.send(reply).await.is_err() {
            break;
        }
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let mut builder = RecorderBuilder::new();
    if let Some(endpoint) = args.to {
        let sender = Sender::builder(endpoint, Encoder::new(Format::Influx))
            .on_event(|event| eprintln!("telemit: {event}"))
            .start()?;
        builder = builder.sender(sender);
    }
    if let Some(addr) = args.metrics_listen {
        builder = builder.listen(addr);
    }
    let metrics = builder.install()?;
    metrics::describe_gauge!(
        "websocket_connections_open",
        "WebSocket connections open now."
    );
    metrics::describe_counter!(
        "websocket_connections_total",
        "WebSocket connections accepted."
    );
    // Both series exist from the start, at zero.
    metrics::gauge!("websocket_connections_open").set(0.0);
    metrics::counter!("websocket_connections_total").absolute(0);

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let listener = TcpListener::bind(args.ws).await?;
        eprintln!("echoing on ws://{}", listener.local_addr()?);
        if let Some(addr) = metrics.local_addr() {
            eprintln!("serving http://{addr}/metrics");
        }
        let mut terminate =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        loop {
            tokio::select! {
                accepted = listener.accept() => {
                    if let Ok((stream, _)) = accepted {
                        tokio::spawn(echo(stream));
                    }
                }
                _ = tokio::signal::ctrl_c() => break,
                _ = terminate.recv() => break,
            }
        }
        Ok::<(), std::io::Error>(())
    })?;
    runtime.shutdown_background();
    let stats = metrics.shutdown();
    eprintln!("flushes {}, scrapes {}", stats.flushes, stats.scrapes);
    Ok(())
}
