//! The library without the command line: a WebSocket kline stream, mapped by
//! `examples/binance-kline.toml`, sent through a sender.
//!
//! ```text
//! cargo run --example binance_kline -- wss://stream.binance.com:9443/ws/bnbusdt@kline_1m -
//! ```

use std::time::Duration;

use telemit::mapping::Mapping;
use telemit::ws::{WsConfig, WsStats};
use telemit::{Encoder, Endpoint, Format, Sender};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let url = args
        .next()
        .unwrap_or_else(|| "wss://stream.binance.com:9443/ws/bnbusdt@kline_1m".to_owned());
    let endpoint: Endpoint = args.next().as_deref().unwrap_or("-").parse()?;

    let map = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/binance-kline.toml");
    let mut mapping = Mapping::from_file(map.as_ref())?;
    let sender = Sender::builder(endpoint, Encoder::new(Format::Influx)).start()?;
    let stats = WsStats::default();

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(telemit::ws::run(
        &WsConfig::new(url),
        &mut mapping,
        &stats,
        |reading| {
            let _ = sender.send(reading);
        },
        |event| eprintln!("{event}"),
        tokio::time::sleep(Duration::from_secs(30)),
    ))?;
    eprintln!("{:?}\n{}", stats.snapshot(), sender.shutdown().summary());
    Ok(())
}
