//! `telemit ws`: a WebSocket JSON stream, mapped to readings and sent.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use telemit::mapping::Mapping;
use telemit::ws::{WsConfig, WsEvent, WsStats};
use telemit::{DefaultTags, OnFull, SendError};

use super::log::count;
use super::output::OutputArgs;
use super::parse_duration;

#[derive(Debug, Args)]
pub struct WsArgs {
    /// The stream: ws://host:port/path or wss://…
    #[arg(value_name = "URL")]
    pub url: String,

    /// Mapping file (TOML) that turns messages into readings; see examples/binance-kline.toml
    #[arg(long, value_name = "FILE")]
    pub map: PathBuf,

    /// Request header NAME:VALUE (repeatable), e.g. for authentication
    #[arg(long = "header", value_name = "NAME:VALUE", value_parser = parse_header)]
    pub headers: Vec<(String, String)>,

    /// Text message sent after every (re)connect, e.g. '{"method":"SUBSCRIBE","params":["bnbusdt@kline_1m"],"id":1}' (repeatable)
    #[arg(long, value_name = "JSON")]
    pub subscribe: Vec<String>,

    /// How often to ping the server
    #[arg(long, default_value = "15s", value_parser = parse_duration, value_name = "DURATION")]
    pub ping_interval: Duration,

    /// Reconnect when nothing arrived for this long (pongs count)
    #[arg(long, default_value = "45s", value_parser = parse_duration, value_name = "DURATION")]
    pub silence_timeout: Duration,

    /// Largest message (and frame) accepted, in bytes
    #[arg(long, default_value_t = 1 << 20, value_parser = super::parse_bytes, value_name = "BYTES")]
    pub max_message_size: usize,

    /// Extra trusted CA certificates (PEM) for wss://, added to the bundled web roots
    #[arg(long, value_name = "FILE")]
    pub ca_file: Option<PathBuf>,

    /// Stop after this long (default: run until SIGINT or SIGTERM)
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    pub duration: Option<Duration>,

    /// Serve telemit's own counters, and the latest value of every mapped field as a gauge
    /// <measurement>_<field> labelled with the reading's tags, at http://ADDR/metrics
    #[arg(long, value_name = "ADDR")]
    pub metrics_listen: Option<std::net::SocketAddr>,

    #[command(flatten)]
    pub output: OutputArgs,
}

fn parse_header(text: &str) -> Result<(String, String), String> {
    match text.split_once(':') {
        Some((name, value)) if !name.trim().is_empty() => {
            Ok((name.trim().to_owned(), value.trim().to_owned()))
        }
        _ => Err(format!("{text:?} is not NAME:VALUE")),
    }
}

pub fn run(args: WsArgs) -> Result<i32, String> {
    let mut mapping = Mapping::from_file(&args.map).map_err(|e| e.to_string())?;
    if !args.url.starts_with("ws://") && !args.url.starts_with("wss://") {
        return Err(format!(
            "{:?}: the stream URL must start with ws:// or wss://",
            args.url
        ));
    }
    let mut config = WsConfig::new(&args.url);
    config.headers = args.headers.clone();
    config.subscribe = args.subscribe.clone();
    config.ping_interval = args.ping_interval;
    config.silence_timeout = args.silence_timeout;
    config.max_message_size = args.max_message_size;
    config.max_frame_size = args.max_message_size;
    config.ca_file = args.ca_file.clone();
    config.backoff = (args.output.backoff_min, args.output.backoff_max);

    // Mapped readings always carry a timestamp (the message's or the arrival time), so of
    // the output preparation only the default tags apply; the mapping adds them once.
    mapping.set_default_tags(args.output.default_tags()?);
    let stats = Arc::new(WsStats::default());
    // The sender's stats ticker sends the stream's counters too; the mapping, not the
    // sender, adds the default tags, once per series.
    let builder = {
        let stats = stats.clone();
        args.output
            .sender_builder(OnFull::Block)?
            .default_tags(DefaultTags::default())
            .stats_interval(args.output.stats_interval)
            .stats_source(move || stats.snapshot().to_reading())
    };
    let sender = Arc::new(args.output.start(builder)?);
    let served = {
        let (sender, stats) = (sender.clone(), stats.clone());
        super::metrics::serve(args.metrics_listen, move || {
            [sender.stats().to_reading(), stats.snapshot().to_reading()]
                .into_iter()
                .flatten()
                .collect()
        })?
    };

    // One runtime: its single worker thread reads the stream (telemit::ws's reader task),
    // while this thread maps and sends what it hands over.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("telemit-ws-reader")
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    let result = runtime.block_on(async {
        let shutdown = shutdown_signal(args.duration);
        telemit::ws::run(
            &config,
            &mut mapping,
            &stats,
            |reading| {
                if let Some(served) = &served {
                    served.latest(reading);
                }
                match sender.send(reading) {
                    Ok(()) | Err(SendError::QueueFull) | Err(SendError::Closed) => {}
                    Err(error) => tracing::error!(target: "telemit::input", "{error}"),
                }
            },
            |event| stream_event(&event),
            shutdown,
        )
        .await
    });
    let sent = sender.shutdown();
    let ws = stats.snapshot();
    let failed = sent.dropped_total() > 0;
    super::log::event_at!(
        super::log::summary_level(failed),
        target: "telemit::summary",
        messages = ws.messages,
        mapping_errors = ws.mapping_errors,
        readings = ws.readings,
        written = sent.written,
        dropped = sent.dropped_total(),
        "{} ({} ignored, {}, {} refused), {}, {}; sender: {}{}",
        count(ws.messages, "message", "messages"),
        ws.ignored,
        count(ws.mapping_errors, "mapping error", "mapping errors"),
        ws.refused,
        count(ws.readings, "reading", "readings"),
        count(ws.reconnects, "reconnect", "reconnects"),
        sent.summary(),
        if failed {
            super::log::last_failure()
        } else {
            String::new()
        }
    );
    let failing: Vec<String> = mapping
        .errors_by_rule()
        .filter(|(_, count)| *count > 0)
        .map(|(rule, count)| format!("{rule:?} {count}"))
        .collect();
    if !failing.is_empty() {
        tracing::error!(
            target: "telemit::summary",
            "mapping errors by rule: {}",
            failing.join(", ")
        );
    }
    let refused: Vec<String> = mapping
        .refused_series_by_rule()
        .filter(|(_, count)| *count > 0)
        .map(|(rule, count)| format!("{rule:?} {count}"))
        .collect();
    if !refused.is_empty() {
        tracing::error!(
            target: "telemit::summary",
            "new series refused by max_series, by rule: {}",
            refused.join(", ")
        );
    }
    result.map_err(|e| e.to_string())?;
    if ws.connects == 0 {
        tracing::error!(target: "telemit::summary", "never connected to {}", args.url);
        return Ok(1);
    }
    Ok(if sent.dropped_total() > 0 || sent.unconfirmed > 0 {
        1
    } else {
        0
    })
}

/// Logs one of the stream's events under target `telemit::ws`: a message a rule failed on, or
/// one refused, is an error (the data is lost); connection incidents are warnings.
fn stream_event(event: &WsEvent) {
    let level = match event {
        WsEvent::MappingError { .. } | WsEvent::Refused { .. } => tracing::Level::ERROR,
        WsEvent::Connected { .. } => tracing::Level::INFO,
        _ => tracing::Level::WARN,
    };
    super::log::event_at!(level, target: "telemit::ws", "{event}");
}

async fn shutdown_signal(duration: Option<Duration>) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut interrupt), Ok(mut terminate)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        return std::future::pending().await;
    };
    let limit = async {
        match duration {
            Some(d) => tokio::time::sleep(d).await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = interrupt.recv() => {}
        _ = terminate.recv() => {}
        () = limit => return,
    }
    // The clean stop has begun: a second signal ends the process at once (status 130).
    let stopping = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        let _ = signal_hook::flag::register_conditional_shutdown(signal, 130, stopping.clone());
    }
}
